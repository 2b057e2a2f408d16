//! IntSoftmax: softmax of codes along one axis with a compile-time table of
//! `exp(−s_x · d)` in Q0.30 and one rounded integer division per output
//! (NUMERICS.md, "Softmax" and "16x8"). The output parameters are fixed:
//! scale `1 / recip` (1/255), zero point −128 for int8, 0 for uint8; for
//! int16 scale 1/32767 and zero point 0, from a 512-entry table (the
//! exponential of the low and of the high byte of `d`, multiplied).

use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{code_range, codes, int_values, is_wide};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::quant::fixed_point::softmax_exp;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// Fraction bits of the exponential table: `table[0] = 2^30`.
pub const SOFTMAX_TABLE_BITS: u32 = 30;
/// The reciprocal of the output scale: probabilities [0, 1] onto the 256
/// codes, as calibration would place a value known to lie in [0, 1].
pub const SOFTMAX_RECIP: i64 = 255;
/// The reciprocal of the int16 output scale: probabilities [0, 1] onto the
/// codes 0..=32767.
pub const SOFTMAX_RECIP_16: i64 = 32767;
/// The longest row whose sum of table entries provably fits in i64 (and
/// whose numerators and denominators below stay far from 2^63).
pub const SOFTMAX_MAX_ROW: usize = 1 << 24;

/// The table of `exp(−s_x · d)` in Q0.30 for codes of `dtype` with input
/// scale `s_x`: `round_half_even(2^30 · exp(−s_x · d))` for `d = 0..255`
/// (8-bit codes); for int16 that low-byte table followed by the high-byte
/// table `round_half_even(2^30 · exp(−s_x · 256 · h))`, `h = 0..255`, whose
/// product `(hi[d >> 8] · lo[d & 255] + 2^29) >> 30` is `exp(−s_x · d)`
/// within 1.5 · 2^−30 (`fixed_point::softmax_exp`).
pub fn softmax_table(dtype: DType, s_x: f64) -> Result<Vec<i32>> {
    let entry = |d: f64| ((1u64 << SOFTMAX_TABLE_BITS) as f64 * (-s_x * d).exp()).round_ties_even() as i32;
    let mut t: Vec<i32> = (0..256).map(|d| entry(d as f64)).collect();
    if is_wide(dtype)? {
        t.extend((0..256).map(|h| entry(256.0 * h as f64)));
    }
    Ok(t)
}

/// The table length and output `(recip, zero point)` of codes of `dtype`.
pub fn softmax_output(dtype: DType) -> Result<(usize, i64, i32)> {
    Ok(match dtype {
        DType::I8 => (256, SOFTMAX_RECIP, -128),
        DType::U8 => (256, SOFTMAX_RECIP, 0),
        DType::I16 => (512, SOFTMAX_RECIP_16, 0),
        d => bail!("softmax of {d} codes"),
    })
}

/// Inputs: codes `X` and the int32 table of [`softmax_table`] (256 entries,
/// 512 for int16); the output has X's shape and type. `rows` = `[outer,
/// len, inner]`: each row is `len` codes `inner` apart.
#[derive(Debug, Clone)]
pub struct IntSoftmax {
    pub rows: [usize; 3],
    pub y_zero: i32,
    /// The reciprocal of the output scale (an integer).
    pub recip: i64,
}

/// The code of `e / sum` at scale `1 / recip`: `floor((2 · e · recip + sum)
/// / (2 · sum))` (round half up; all terms non-negative), plus `zero`,
/// clamped to `[lo, hi]`.
pub fn softmax_code(e: i64, sum: i64, recip: i64, zero: i32, lo: i32, hi: i32) -> i32 {
    let q = (2 * e * recip + sum) / (2 * sum);
    (q + zero as i64).clamp(lo as i64, hi as i64) as i32
}

impl IntSoftmax {
    /// `[y_zero, act_min, act_max, recip]` for codes with range `(lo, hi)`.
    fn params(&self, lo: i32, hi: i32) -> Vec<i64> {
        vec![self.y_zero as i64, lo as i64, hi as i64, self.recip]
    }
}

impl OpDef for IntSoftmax {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntSoftmax is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, t) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        let (len, _, _) = softmax_output(x.dtype)?;
        if t.dtype != DType::I32 || t.shape.numel() != Some(len) {
            bail!("IntSoftmax needs a table of {len} int32, got {t}");
        }
        if x.shape.numel() != Some(self.rows.iter().product()) {
            bail!("IntSoftmax: {x} does not hold rows {:?}", self.rows);
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, table) = (inputs.req(0)?, int_values(inputs.req(1)?)?);
        let (lo, hi) = code_range(x.dtype())?;
        if table.len() != softmax_output(x.dtype())?.0 {
            bail!("IntSoftmax: a table of {} entries for {} codes", table.len(), x.dtype());
        }
        let [outer, len, inner] = self.rows;
        let xs = int_values(x)?;
        let mut y = vec![0; xs.len()];
        for o in 0..outer {
            for i in 0..inner {
                let at = |j: usize| (o * len + j) * inner + i;
                let max = (0..len).map(|j| xs[at(j)]).max().unwrap_or(0);
                let sum: i64 = (0..len).map(|j| softmax_exp(&table, (max - xs[at(j)]) as usize)).sum();
                for j in 0..len {
                    let e = softmax_exp(&table, (max - xs[at(j)]) as usize);
                    y[at(j)] = softmax_code(e, sum, self.recip, self.y_zero, lo, hi);
                }
            }
        }
        Ok(vec![codes(x.dtype(), x.shape(), y)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (x, table) = (cx.input(0)?.clone(), cx.input(1)?.clone());
        let y = cx.output(0)?;
        let (lo, hi) = code_range(x.dtype)?;
        let args = vec![x.arg_in(), table.arg_in(), y.arg_out(), KArg::Dims(self.rows.to_vec()), KArg::Ints(self.params(lo, hi))];
        cx.call("qint", "int_softmax", vec![x.dtype], args);
        Ok(())
    }

    /// int8: an integer operator rules produce; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_along_a_middle_axis_sum_to_about_one() {
        // x [2, 3, 2], softmax along axis 1: rows of 3 codes 2 apart.
        let table: Vec<i32> = (0..256).map(|d| ((1u64 << 30) as f64 * (-0.1 * d as f64).exp()).round() as i32).collect();
        let x = Tensor::from_vec(&[2, 3, 2], vec![0i8, 5, 10, 5, 20, 5, -7, 1, 3, 1, 9, 1]).unwrap();
        let t = Tensor::from_vec(&[256], table).unwrap();
        let op = IntSoftmax { rows: [2, 3, 2], y_zero: -128, recip: SOFTMAX_RECIP };
        let y = int_values(&op.eval(&[Some(&x), Some(&t)]).unwrap()[0]).unwrap();
        let xs = int_values(&x).unwrap();
        for (o, i) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let at = |j: usize| (o * 3 + j) * 2 + i;
            let e: Vec<f64> = (0..3).map(|j| (0.1 * xs[at(j)] as f64).exp()).collect();
            let total: f64 = e.iter().sum();
            for j in 0..3 {
                let want = (e[j] / total * 255.0).round() as i32 - 128;
                assert!((y[at(j)] - want).abs() <= 1, "row ({o}, {i}): {} vs {want}", y[at(j)]);
            }
        }
        // Equal codes: 255 / 3 = 85 each.
        assert_eq!(softmax_code(1 << 30, 3 << 30, 255, -128, -128, 127), -43);
    }
}
