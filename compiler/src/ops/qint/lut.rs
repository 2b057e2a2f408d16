//! IntLut: a unary operator on codes as a table built at compile time by
//! the quantizer (NUMERICS.md, "Lookup tables"): 256 entries indexed by `q
//! − min_code` for 8-bit codes; for int16 codes 513 entries, one every 128
//! codes, linearly interpolated in integers (`fixed_point::lut_at`), as
//! TFLite's int16 tables. Every backend runs the same integer lookup, so
//! each is exact by construction.

use super::super::dense::row_major;
use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{code_range, codes, int_values, is_wide};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::quant::fixed_point::{lut_at, LUT_SEGMENT_BITS};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// Inputs: codes `X` and the table (codes of X's type: 256 for 8-bit
/// codes, [`LUT16_LEN`] for int16).
#[derive(Debug, Clone)]
pub struct IntLut;

/// Entries of an int16 table: 512 segments of 128 codes and the end point.
pub const LUT16_LEN: usize = (1 << (16 - LUT_SEGMENT_BITS)) + 1;

/// The table length for codes of `d`.
pub fn lut_len(d: DType) -> Result<usize> {
    Ok(if is_wide(d)? { LUT16_LEN } else { 256 })
}

/// The int16 table of the real function `f` from input codes `(s_in, z_in)`
/// to output codes `(s_out, z_out)` clamped to `[lo, hi]`: entry `i` is
/// `f` at input code `c_i = −32768 + 128 · i` (`c_512 = 32768` lies one
/// past the codes: it only shapes the last segment), quantized with round
/// half to even and saturation. Interpolating between these entries
/// differs from quantizing `f` directly by at most `1 + (128 · s_in)² ·
/// max|f''| / (8 · s_out)` output steps (½ from the entries' rounding, ½
/// from the interpolation's, and the chord's distance from `f`);
/// [`lut16_error`] measures it over all 65536 codes.
pub fn lut16_table(f: impl Fn(f64) -> f64, (s_in, z_in): (f64, i32), (s_out, z_out): (f64, i32), (lo, hi): (i32, i32)) -> Vec<i16> {
    lut16_inputs()
        .map(|c| {
            let y = f(s_in * (c - z_in) as f64) / s_out;
            let q = if y.is_nan() { z_out as f64 } else { y.round_ties_even() + z_out as f64 };
            q.clamp(lo as f64, hi as f64) as i16
        })
        .collect()
}

/// The input codes of the int16 table's entries: `c_i = −32768 + 128 · i`
/// for `i` in `0..LUT16_LEN` (the last, 32768, one past the codes).
pub fn lut16_inputs() -> impl Iterator<Item = i32> {
    (0..LUT16_LEN as i32).map(|i| -32768 + (i << LUT_SEGMENT_BITS))
}

/// The largest distance, in output steps, between the interpolated table
/// and `f` quantized without rounding (`f(x) / s_out + z_out` clamped to
/// `[lo, hi]`) over every int16 input code.
pub fn lut16_error(table: &[i16], f: impl Fn(f64) -> f64, (s_in, z_in): (f64, i32), (s_out, z_out): (f64, i32), (lo, hi): (i32, i32)) -> f64 {
    (-32768..=32767)
        .map(|q: i32| {
            let want = (f(s_in * (q - z_in) as f64) / s_out + z_out as f64).clamp(lo as f64, hi as f64);
            (lut_at(table, q as i16) as f64 - want).abs()
        })
        .fold(0.0, f64::max)
}

impl OpDef for IntLut {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntLut is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, t) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        let len = lut_len(x.dtype)?;
        if t.dtype != x.dtype || t.shape.numel() != Some(len) {
            bail!("IntLut needs a table of {len} {} codes, got {t}", x.dtype);
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, t) = (inputs.req(0)?, inputs.req(1)?);
        if t.dtype() != x.dtype() || t.len() != lut_len(x.dtype())? {
            bail!("IntLut needs a table of {} {} codes", lut_len(x.dtype())?, x.dtype());
        }
        let y = match (x, t) {
            (Tensor::I16(xa), Tensor::I16(ta)) => {
                let ta = row_major(ta);
                row_major(xa).iter().map(|&q| lut_at(&ta, q) as i32).collect()
            }
            _ => {
                let ((min, _), table) = (code_range(x.dtype())?, int_values(t)?);
                int_values(x)?.into_iter().map(|q| table[(q - min) as usize]).collect()
            }
        };
        Ok(vec![codes(x.dtype(), x.shape(), y)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (x, table) = (cx.input(0)?.clone(), cx.input(1)?.clone());
        let y = cx.output(0)?;
        cx.call("qint", "lut", vec![x.dtype], vec![x.arg_in(), table.arg_in(), y.arg_out(), KArg::Dims(vec![y.len()])]);
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

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn interpolated_tables_stay_within_their_stated_bound() {
        // (name, f, input range, output scale, max |f''|)
        let gelu = |x: f64| 0.5 * x * (1.0 + libm::erf(x / 2f64.sqrt()));
        let cases: Vec<(&str, Box<dyn Fn(f64) -> f64>, f64, f64, f64)> = vec![
            ("sigmoid", Box::new(sigmoid), 8.0, 1.0 / 32767.0, 0.097),
            ("tanh", Box::new(f64::tanh), 4.0, 1.0 / 32767.0, 0.77),
            ("gelu", Box::new(gelu), 6.0, 6.0 / 32767.0, 0.8),
            ("exp", Box::new(f64::exp), 3.0, 20.1 / 32767.0, 20.1),
        ];
        for (name, f, range, s_out, f2) in cases {
            let s_in = range / 32767.0;
            let table = lut16_table(&f, (s_in, 0), (s_out, 0), (-32767, 32767));
            let error = lut16_error(&table, &f, (s_in, 0), (s_out, 0), (-32767, 32767));
            let bound = 1.0 + (128.0 * s_in).powi(2) * f2 / (8.0 * s_out);
            eprintln!("{name}: at most {error:.3} output steps from f (bound {bound:.3})");
            assert!(error <= bound, "{name}: {error} > {bound}");
        }
    }

    #[test]
    fn lookups_interpolate_and_eight_bit_tables_index() {
        // Identity over a table of f(x) = x: every code maps to itself but
        // in the last segment, whose end point (code 32768) saturates.
        let table = lut16_table(|x| x, (1.0, 0), (1.0, 0), (-32768, 32767));
        let x = Tensor::from_vec(&[6], vec![-32768i16, -1, 0, 77, 32639, 32767]).unwrap();
        let t = Tensor::from_vec(&[LUT16_LEN], table).unwrap();
        let want = Tensor::from_vec(&[6], vec![-32768i16, -1, 0, 77, 32639, 32766]).unwrap();
        assert_eq!(IntLut.eval(&[Some(&x), Some(&t)]).unwrap()[0], want);
        let t8 = Tensor::from_vec(&[256], (0..256).map(|i| (255 - i) as u8).collect()).unwrap();
        let x8 = Tensor::from_vec(&[2], vec![0u8, 200]).unwrap();
        assert_eq!(IntLut.eval(&[Some(&x8), Some(&t8)]).unwrap()[0], Tensor::from_vec(&[2], vec![255u8, 55]).unwrap());
    }
}
