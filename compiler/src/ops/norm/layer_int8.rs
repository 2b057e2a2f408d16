//! LayerNormalization's int8 rule: IntLayerNorm with its epsilon term,
//! int32 gains and biases at the output's scale, once every int64 bound of
//! the kernel is proven (NUMERICS.md, "LayerNormalization"). Otherwise the
//! node stays float with the reason.

use super::LayerNorm;
use crate::ops::int8_rule::{isqrt, Plan, QuantCx};
use crate::ops::qint::{epsilon_term, layer_norm_limits, IntLayerNorm, LAYER_NORM_FRAC_BITS, LAYER_NORM_GAIN_BITS};
use crate::ops::{Op, Slots};
use crate::tensor::Tensor;
use crate::Result;

/// LayerNormalization (not RMSNormalization) as IntLayerNorm, when the
/// shape is fixed, Scale and B are constants that vary only along the
/// normalized axes, the Mean and InvStdDev outputs are unused, input and
/// output codes have one type, and the bounds of NUMERICS.md hold.
pub(super) fn on_codes(ln: &LayerNorm, cx: &mut dyn QuantCx) -> Result<Plan> {
    let (ins, outs) = (cx.inputs(), cx.outputs());
    let x = ins.req(0)?;
    let y = cx.first_output()?;
    if outs.iter().skip(1).flatten().any(|&v| cx.is_used(v)) {
        return Ok(Plan::float("its Mean or InvStdDev output is used"));
    }
    let Some(xs) = cx.ty(x)?.shape.as_fixed() else { return Ok(Plan::float("shape known only at run time")) };
    let axis = ln.first_axis(xs.len())?;
    let (block, outer) = (&xs[axis..], xs[..axis].iter().product::<usize>());
    let len: usize = block.iter().product();
    // None: absent; Some(None): present but not a constant.
    let constant = |i: usize| ins.opt(i).map(|v| cx.constant(v));
    let Some(Some(gamma)) = constant(1) else { return Ok(Plan::float("Scale is not constant")) };
    let beta = match constant(2) {
        None => None,
        Some(None) => return Ok(Plan::float("B is not constant")),
        Some(Some(b)) => Some(b),
    };
    let Some(gamma) = over_block(&gamma, block)? else { return Ok(Plan::float("Scale varies outside the normalized axes")) };
    let beta = match beta {
        None => vec![0.0; len],
        Some(b) => match over_block(&b, block)? {
            Some(v) => v,
            None => return Ok(Plan::float("B varies outside the normalized axes")),
        },
    };
    let (px, po) = (cx.code_params(x)?, cx.stage_params(y)?);
    if px.dtype != po.dtype {
        return Ok(Plan::float("input and output codes differ in type"));
    }
    let (max_row, span) = layer_norm_limits(px.dtype)?;
    if len > max_row {
        return Ok(Plan::float(format!("rows of {len} exceed the integer layer normalization's {max_row}")));
    }
    let Some((eps, eps_shift)) = epsilon_term(len, ln.epsilon(), px.scale as f64, span) else {
        return Ok(Plan::float(format!("the epsilon term N² · ε / s_x² (ε = {}, s_x = {}) is not below 2^62", ln.epsilon(), px.scale)));
    };
    // γ / s_out and β / s_out in Q15 int32 (output steps per unit).
    let q15 = |v: f64| {
        let r = (v / po.scale as f64 * (1u64 << LAYER_NORM_GAIN_BITS) as f64).round_ties_even();
        (r.is_finite() && r.abs() < i32::MAX as f64).then_some(r as i32)
    };
    let (Some(gains), Some(biases)) = (gamma.iter().map(|&v| q15(v)).collect::<Option<Vec<i32>>>(), beta.iter().map(|&v| q15(v)).collect::<Option<Vec<i32>>>())
    else {
        return Ok(Plan::float("Scale or B is 2^16 output steps or more"));
    };
    let bound = affine_bound(len, &gains, &biases);
    if bound >= 1 << 62 {
        return Ok(Plan::float(format!("the int64 affine sum could overflow (bound {bound} ≥ 2^62)")));
    }
    let (xq, _) = cx.as_int(x)?;
    let (target, po, lo, hi) = cx.output_stage(y)?;
    let name = cx.name(y);
    let g = cx.add_constant(format!("{name}_gain"), Tensor::from_vec(&[len], gains)?);
    let b = cx.add_constant(format!("{name}_bias"), Tensor::from_vec(&[len], biases)?);
    let op = IntLayerNorm { rows: [outer, len], eps, eps_shift, y_zero: po.zero, min: lo, max: hi };
    cx.emit(target, po, "IntLayerNorm", Op::IntLayerNorm(op), &[Some(xq), Some(g), Some(b)])
}

/// The values of a Scale or B tensor `t` at each position of the normalized
/// `block` (row-major), broadcasting as ONNX does; None when `t` varies
/// along an axis outside the block (not one row's parameters).
fn over_block(t: &Tensor, block: &[usize]) -> Result<Option<Vec<f64>>> {
    let shape = t.shape();
    let extra = shape.len().saturating_sub(block.len());
    if shape[..extra].iter().any(|&d| d != 1) {
        return Ok(None);
    }
    let own = &shape[extra..];
    let lead = block.len() - own.len();
    if own.iter().zip(&block[lead..]).any(|(&a, &b)| a != 1 && a != b) {
        return Ok(None);
    }
    // Strides of `own` aligned to the block's trailing axes, 0 where broadcast.
    let mut strides = vec![0; block.len()];
    let mut stride = 1;
    for (i, &d) in own.iter().enumerate().rev() {
        strides[lead + i] = if d == 1 { 0 } else { stride };
        stride *= d;
    }
    let v = t.to_f64_vec()?;
    let len: usize = block.iter().product();
    let values = (0..len)
        .map(|i| {
            let (mut rest, mut at) = (i, 0);
            for (a, &d) in block.iter().enumerate().rev() {
                at += (rest % d) * strides[a];
                rest /= d;
            }
            v[at]
        })
        .collect();
    Ok(Some(values))
}

/// A bound on `|v · G_i + B_i · 2^16| + 2^30` (the affine sum and the
/// final rounding's addend) over every normalized value `v`, which IntLayerNorm's
/// kernel computes in int64; below 2^62 it also bounds the rounded `y`
/// within int32 (`2^62 / 2^31`).
///
/// `|v| ≤ √(N − 1) · 2^16 / (1 − 2^−30) + 1/2`: in a row `d_i = N · q_i −
/// Σq` sums to 0, so `d_i² ≤ (N − 1)/N · Σ d² = (N − 1) · V ≤ (N − 1) · D`;
/// the square root `r = isqrt(D · 4^h) ≥ 2^30` is within one unit (a factor
/// `1 − 2^−30`) of the real one and `inv = floor(2^62 / r)` only rounds
/// down. For `N ≤ 2^22` the factor adds less than 1/8, so `isqrt((N − 1)
/// · 2^32) + 3` bounds `|v|`.
fn affine_bound(n: usize, gains: &[i32], biases: &[i32]) -> u128 {
    let v_max = isqrt((n.saturating_sub(1) as u64) << (2 * LAYER_NORM_FRAC_BITS)) as u128 + 3;
    let g_max = gains.iter().map(|g| g.unsigned_abs()).max().unwrap_or(0) as u128;
    let b_max = biases.iter().map(|b| b.unsigned_abs()).max().unwrap_or(0) as u128;
    let half = 1u128 << (LAYER_NORM_FRAC_BITS + LAYER_NORM_GAIN_BITS - 1);
    v_max * g_max + (b_max << LAYER_NORM_FRAC_BITS) + half
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_and_bias_broadcast_over_the_normalized_block() {
        let t = Tensor::from_vec(&[3], vec![1f32, 2.0, 3.0]).unwrap();
        assert_eq!(over_block(&t, &[2, 3]).unwrap(), Some(vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]));
        let t = Tensor::from_vec(&[1, 1, 2, 1], vec![1f32, 2.0]).unwrap();
        assert_eq!(over_block(&t, &[2, 3]).unwrap(), Some(vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]));
        // Varies along an axis before the block: not one row's parameters.
        let t = Tensor::from_vec(&[2, 3], vec![0f32; 6]).unwrap();
        assert_eq!(over_block(&t, &[3]).unwrap(), None);
    }

    #[test]
    fn the_epsilon_term_takes_the_finest_scale_that_fits() {
        // N = 32: V_max = 1024 · 65025 / 4 ≈ 0.992 · 2^24, so V_max · 4^19
        // and the term (≈ 2^40) stay below 2^62, and 4^20 would not.
        let (term, j) = epsilon_term(32, 1e-5, 0.05, 255).unwrap();
        assert_eq!(j, 19);
        assert_eq!(term, (4f64.powi(19) * 1024.0 * 1e-5 / 0.0025).round() as i64);
        // ε = 0 is fine; N = 1: V_max = 16,257 < 2^14, so j = 24.
        assert_eq!(epsilon_term(1, 0.0, 0.1, 255), Some((0, 24)));
        // A term past 2^62 even at j = 0, or a negative ε: stays float.
        assert_eq!(epsilon_term(32, 1e10, 1e-6, 255), None);
        assert_eq!(epsilon_term(32, -1.0, 0.1, 255), None);
    }

    #[test]
    fn the_affine_bound_covers_the_largest_normalized_value() {
        // N = 2: |v| ≤ 1 · 2^16 (+3 of slack).
        assert_eq!(affine_bound(2, &[-4], &[1]), (65539 * 4 + 65536 + (1 << 30)) as u128);
        // The largest rows with int32 gains and biases still fit.
        let worst = affine_bound(crate::ops::qint::LAYER_NORM_MAX_ROW, &[i32::MIN], &[i32::MIN]);
        assert!(worst < 1 << 62, "{worst}");
    }
}
