//! IntLayerNorm: ONNX LayerNormalization on codes, over rows of the trailing
//! axes, with no floating point at run time (NUMERICS.md,
//! "LayerNormalization"): the row's mean and variance from integer sums,
//! an exact integer square root and a fixed-point reciprocal give each
//! element's normalized value in Q16, and the per-element affine
//! `γ · norm + β` is applied with integer gains and biases at the output's
//! scale, rounded once. The quantizer proves every bound before building it
//! (for int16 codes with [`layer_norm_limits`] and [`epsilon_term`]).

use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{codes, int_values};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::quant::fixed_point::{layer_norm_factor, output_stage, round_shift_i64};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// Fraction bits of the normalized value: `norm · 2^16`.
pub const LAYER_NORM_FRAC_BITS: u32 = 16;
/// Fraction bits of the gains `G = γ / s_out · 2^15` and biases `B = β /
/// s_out · 2^15`; the affine sum is rounded once by `2^(16 + 15)`.
pub const LAYER_NORM_GAIN_BITS: u32 = 15;
/// The longest row qcc normalizes on codes: `|N · q − Σq| · inv < 2^62`
/// (with `|N · q − Σq| ≤ 255 · N` and `inv ≤ 2^32`), and `N · Σq²` and
/// `(Σq)²` below 2^60.
pub const LAYER_NORM_MAX_ROW: usize = 1 << 22;
/// The same for int16 codes (16x8): `|N · q − Σq| ≤ 65535 · N`, so `N ≤
/// 2^13` keeps `|N · q − Σq| · inv < 2^62`, and `N · Σq² ≤ N² · 2^30 <
/// 2^56`.
pub const LAYER_NORM_MAX_ROW_16: usize = 1 << 13;

/// The longest row and the widest span of codes (`max − min`) of codes of
/// `dtype`: the two figures every bound of NUMERICS.md's
/// "LayerNormalization" takes (255 for 8-bit codes, 65535 for int16).
pub fn layer_norm_limits(dtype: DType) -> Result<(usize, u128)> {
    Ok(if super::is_wide(dtype)? { (LAYER_NORM_MAX_ROW_16, 65535) } else { (LAYER_NORM_MAX_ROW, 255) })
}

/// The largest `j` of the epsilon term (`layer_norm_factor` needs `j ≤ 30`).
const MAX_EPS_SHIFT: u32 = 30;

/// The epsilon term `(round(4^j · N² · ε / s_x²), j)` for rows of `n`
/// codes spanning at most `span`, with the largest `j ≤ 30` such that
/// `V_max · 4^j + term < 2^62`, `V_max = ⌈N² · span² / 4⌉` (the variance
/// of values in an interval of width `span` is at most `span² / 4`). None
/// when even `j = 0` fails, or ε is negative or not finite.
pub fn epsilon_term(n: usize, epsilon: f64, scale: f64, span: u128) -> Option<(i64, u32)> {
    if !(epsilon.is_finite() && epsilon >= 0.0 && scale > 0.0) {
        return None;
    }
    let n2 = (n as u128) * (n as u128);
    let v_max = (n2 * span * span).div_ceil(4);
    let limit = 1u128 << 62;
    (0..=MAX_EPS_SHIFT).rev().find_map(|j| {
        let term = (4f64.powi(j as i32) * n2 as f64 * epsilon / (scale * scale)).round_ties_even();
        let fits = term.is_finite() && term < limit as f64 && v_max.checked_shl(2 * j).and_then(|v| v.checked_add(term as u128)).is_some_and(|d| d < limit);
        fits.then_some((term as i64, j))
    })
}

/// Inputs: codes `X`, the int32 gains `G` [len] and biases `B` [len] of
/// the normalized positions (row-major over the normalized axes); the output
/// has X's shape and type. Each of the `rows[0]` contiguous rows of
/// `rows[1]` codes is normalized on its own.
#[derive(Debug, Clone)]
pub struct IntLayerNorm {
    /// `[outer, len]`.
    pub rows: [usize; 2],
    /// The epsilon term `round(4^j · N² · ε / s_x²)`, `j = eps_shift`.
    pub eps: i64,
    pub eps_shift: u32,
    pub y_zero: i32,
    /// The clamp of the output codes (a fused Relu or Clip narrows it).
    pub min: i32,
    pub max: i32,
}

impl IntLayerNorm {
    /// `[eps, j, frac_bits, out_shift, y_zero, act_min, act_max]`.
    fn params(&self) -> Vec<i64> {
        let shift = LAYER_NORM_FRAC_BITS + LAYER_NORM_GAIN_BITS;
        vec![self.eps, self.eps_shift as i64, LAYER_NORM_FRAC_BITS as i64, shift as i64, self.y_zero as i64, self.min as i64, self.max as i64]
    }

    /// The Q16 normalized values of one row of codes: `round_shift((N · q_i
    /// − Σq) · inv, k)` with `(inv, k)` from `layer_norm_factor`.
    pub fn normalized(&self, row: &[i32]) -> Vec<i64> {
        let n = row.len() as i64;
        let sum: i64 = row.iter().map(|&q| q as i64).sum();
        let sum_sq: i64 = row.iter().map(|&q| q as i64 * q as i64).sum();
        let (inv, k) = layer_norm_factor(n * sum_sq - sum * sum, self.eps, self.eps_shift, LAYER_NORM_FRAC_BITS);
        row.iter().map(|&q| round_shift_i64((n * q as i64 - sum) * inv, k)).collect()
    }

    /// The output codes of one row: `clamp(round_shift(norm_i · G_i + B_i ·
    /// 2^16, 31) + y_zero, min, max)`.
    pub fn row(&self, row: &[i32], gain: &[i32], bias: &[i32]) -> Vec<i32> {
        let shift = LAYER_NORM_FRAC_BITS + LAYER_NORM_GAIN_BITS;
        let norm = self.normalized(row);
        norm.iter()
            .zip(gain.iter().zip(bias))
            .map(|(&v, (&g, &b))| {
                let acc = v * g as i64 + ((b as i64) << LAYER_NORM_FRAC_BITS);
                output_stage(round_shift_i64(acc, shift) as i32, self.y_zero, self.min, self.max)
            })
            .collect()
    }
}

impl OpDef for IntLayerNorm {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntLayerNorm is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, g, b) = (inputs.req(0)?.ty, inputs.req(1)?.ty, inputs.req(2)?.ty);
        let len = self.rows[1];
        for (t, what) in [(g, "gains"), (b, "biases")] {
            if t.dtype != DType::I32 || t.shape.numel() != Some(len) {
                bail!("IntLayerNorm needs {len} int32 {what}, got {t}");
            }
        }
        if x.shape.numel() != Some(self.rows[0] * len) {
            bail!("IntLayerNorm: {x} does not hold rows {:?}", self.rows);
        }
        Ok(vec![x.clone()])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let (gain, bias) = (int_values(inputs.req(1)?)?, int_values(inputs.req(2)?)?);
        let xs = int_values(x)?;
        let y: Vec<i32> = xs.chunks(self.rows[1].max(1)).flat_map(|row| self.row(row, &gain, &bias)).collect();
        Ok(vec![codes(x.dtype(), x.shape(), y)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (x, g, b) = (cx.input(0)?.clone(), cx.input(1)?.clone(), cx.input(2)?.clone());
        let y = cx.output(0)?;
        let args = vec![x.arg_in(), g.arg_in(), b.arg_in(), y.arg_out(), KArg::Dims(self.rows.to_vec()), KArg::Ints(self.params())];
        cx.call("qint", "int_layer_norm", vec![x.dtype], args);
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

    use crate::ops::testing::Rng;

    fn op(eps: i64, eps_shift: u32) -> IntLayerNorm {
        IntLayerNorm { rows: [1, 0], eps, eps_shift, y_zero: 0, min: -128, max: 127 }
    }

    /// `(q_i − mean) / sqrt(var + e)` in float64, `e` in code units².
    fn exact(row: &[i32], e: f64) -> Vec<f64> {
        let n = row.len() as f64;
        let mean = row.iter().map(|&q| q as f64).sum::<f64>() / n;
        let var = row.iter().map(|&q| (q as f64 - mean).powi(2)).sum::<f64>() / n;
        row.iter().map(|&q| (q as f64 - mean) / (var + e).sqrt()).collect()
    }

    #[test]
    fn normalized_values_carry_sixteen_fraction_bits() {
        let mut rng = Rng(0x5eed);
        for case in 0..2000 {
            let n = 1 + (rng.next() % 300) as usize;
            // Rows of narrow and of full spread, int8 and uint8 codes.
            let spread = [2, 5, 40, 256][case % 4];
            let base = if case % 3 == 0 { 0 } else { -128 };
            let row: Vec<i32> = (0..n).map(|_| (base + (rng.next() % spread) as i64).clamp(base, base + 255) as i32).collect();
            // ε / s_x² in code units² between 0 and 10, exact in the term for j = 8.
            let j = 8;
            let e_codes = (rng.next() % 10_000) as f64 / 1000.0;
            let eps = (e_codes * (n * n) as f64 * 4f64.powi(j)).round() as i64;
            let e = eps as f64 / (4f64.powi(j) * (n * n) as f64);
            let got = op(eps, j as u32).normalized(&row);
            for (g, w) in got.iter().zip(exact(&row, e)) {
                let want = w * 65536.0;
                assert!((*g as f64 - want).abs() <= 0.51, "n {n}, e {e}: {g} vs {want}");
            }
        }
    }

    #[test]
    fn constant_rows_normalize_to_zero_even_without_epsilon() {
        for j in [0, 5, 30] {
            assert_eq!(op(0, j).normalized(&[7, 7, 7]), [0, 0, 0]);
            assert_eq!(op(0, j).normalized(&[-128]), [0]);
        }
        // One element away from a constant row of 4: ±√3 and ∓1/√3.
        let v = op(0, 0).normalized(&[0, 0, 0, 4]);
        let r3 = 3f64.sqrt() * 65536.0;
        assert_eq!(v, [-(r3 / 3.0).round() as i64, -(r3 / 3.0).round() as i64, -(r3 / 3.0).round() as i64, r3.round() as i64]);
    }

    #[test]
    fn the_affine_stage_rounds_once_to_the_output_codes() {
        // Row [−1, 1] normalizes to [−1, 1] (ε = 0); γ = [2, −0.5] and β =
        // [0.25, 3] at s_out = 0.5, z = 10: y = [−1.75, 2.5], so y / s_out =
        // [−3.5, 5]; the tie rounds toward +∞.
        let g = [(2.0f64 / 0.5 * 32768.0) as i32, (-0.5f64 / 0.5 * 32768.0) as i32];
        let b = [(0.25f64 / 0.5 * 32768.0) as i32, (3.0f64 / 0.5 * 32768.0) as i32];
        let mut o = op(0, 0);
        o.y_zero = 10;
        assert_eq!(o.row(&[-1, 1], &g, &b), [7, 15]);
        // A fused Relu's clamp applies after the zero point.
        o.min = 10;
        assert_eq!(o.row(&[-1, 1], &g, &b), [10, 15]);
    }

    #[test]
    fn codes_match_float_layer_normalization_within_one_step() {
        let mut rng = Rng(99);
        let (n, rows) = (32, 40);
        let gamma: Vec<f64> = (0..n).map(|_| 0.5 + (rng.next() % 1000) as f64 / 1000.0).collect();
        let beta: Vec<f64> = (0..n).map(|_| (rng.next() % 1000) as f64 / 2000.0 - 0.25).collect();
        let (s_x, s_out, z_out, eps) = (0.05f64, 0.03f64, -3, 1e-5f64);
        let scale = (1u64 << LAYER_NORM_GAIN_BITS) as f64;
        let g: Vec<i32> = gamma.iter().map(|v| (v / s_out * scale).round() as i32).collect();
        let b: Vec<i32> = beta.iter().map(|v| (v / s_out * scale).round() as i32).collect();
        let j = 10;
        let e = ((n * n) as f64 * eps / (s_x * s_x) * 4f64.powi(j)).round() as i64;
        let o = IntLayerNorm { rows: [rows, n], eps: e, eps_shift: j as u32, y_zero: z_out, min: -128, max: 127 };
        let (mut differ, mut total) = (0, 0);
        for _ in 0..rows {
            let row: Vec<i32> = (0..n).map(|_| (rng.next() % 256) as i32 - 128).collect();
            let got = o.row(&row, &g, &b);
            let real: Vec<f64> = row.iter().map(|&q| q as f64 * s_x).collect();
            let mean = real.iter().sum::<f64>() / n as f64;
            let var = real.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            for i in 0..n {
                let y = (real[i] - mean) / (var + eps).sqrt() * gamma[i] + beta[i];
                let want = ((y / s_out).round() as i32 + z_out).clamp(-128, 127);
                assert!((got[i] - want).abs() <= 1, "{i}: {} vs {want}", got[i]);
                differ += (got[i] != want) as usize;
                total += 1;
            }
        }
        // Off by one only where float sits within a hair of a rounding tie.
        assert!(differ * 100 <= total, "{differ} of {total} codes differ");
    }
}
