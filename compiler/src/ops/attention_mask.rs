//! The additive bias of [`super::attention::Attention`]: `attn_mask`, the
//! causal and sliding-window masks and `nonpad_kv_seqlen`, combined for one
//! query row at a time. Masked positions are `-inf`, allowed ones 0 (plus
//! the value of an additive mask).

use super::precision::Prec;
use crate::ir::{Dim, Shape};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// `attn_mask` broadcast to `[batch, q_heads, q_seq, total_seq]`.
pub struct Mask {
    values: Values,
    /// Element strides of the mask for the batch, head and query axes (0
    /// where the mask broadcasts).
    strides: [usize; 3],
    /// Length of the mask's key axis; keys at or beyond it are masked.
    keys: usize,
}

enum Values {
    /// True: the key takes part in attention.
    Bool(Vec<bool>),
    /// Added to the scores.
    Add(Vec<f64>),
}

impl Mask {
    /// Checks a mask shape against `target` = `[batch, q_heads, q_seq,
    /// total_seq]`, as far as the dimensions are known.
    pub fn check_shape(shape: &Shape, target: [Dim; 4]) -> Result<()> {
        let Some(dims) = shape.dims() else { return Ok(()) };
        if dims.is_empty() || dims.len() > 4 {
            bail!("attn_mask must have rank 1 to 4, got {shape}");
        }
        let offset = 4 - dims.len();
        for (i, &d) in dims.iter().enumerate() {
            let axis = offset + i;
            match (d, target[axis]) {
                (Some(m), Some(t)) if axis == 3 && m > t => {
                    bail!("attn_mask {shape} has more keys than the total sequence length {t}")
                }
                (Some(m), Some(t)) if axis < 3 && m != 1 && m != t => {
                    bail!("attn_mask {shape} does not broadcast to {}", Shape::from_dims(target.to_vec()))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The mask `m` for scores of shape `target`; additive masks are rounded
    /// to the score type `t`.
    pub fn new(m: &Tensor, t: Prec, target: [usize; 4]) -> Result<Mask> {
        Mask::check_shape(&Shape::fixed(m.shape()), target.map(Some))?;
        let mut dims = [1usize; 4];
        dims[4 - m.rank()..].copy_from_slice(m.shape());
        let mut strides = [0usize; 3];
        let mut stride = dims[3];
        for axis in (0..3).rev() {
            if dims[axis] != 1 {
                strides[axis] = stride;
            }
            stride *= dims[axis];
        }
        let values = match m.dtype() {
            DType::Bool => Values::Bool(m.array::<bool>()?.iter().copied().collect()),
            d if d.is_float() || d.is_int() => Values::Add(m.to_f64_vec()?.into_iter().map(|v| t.round(v)).collect()),
            d => bail!("attn_mask must be bool or numeric, got {d}"),
        };
        Ok(Mask { values, strides, keys: dims[3] })
    }

    /// The mask's contribution at (batch `b`, head `h`, query `i`, key `j`).
    fn at(&self, b: usize, h: usize, i: usize, j: usize) -> f64 {
        if j >= self.keys {
            return f64::NEG_INFINITY;
        }
        let at = b * self.strides[0] + h * self.strides[1] + i * self.strides[2] + j;
        match &self.values {
            Values::Bool(v) => match v.get(at) {
                Some(true) => 0.0,
                _ => f64::NEG_INFINITY,
            },
            Values::Add(v) => v.get(at).copied().unwrap_or(f64::NEG_INFINITY),
        }
    }
}

/// Everything that decides which keys a query row may attend.
pub struct Bias<'a> {
    pub mask: Option<&'a Mask>,
    pub causal: bool,
    pub left_window: Option<u64>,
    pub right_window: Option<u64>,
    /// Length of the internal cache (`past_key`).
    pub past: usize,
    pub q_seq: usize,
    /// Valid keys per batch of an external cache.
    pub nonpad: Option<&'a [i64]>,
}

impl Bias<'_> {
    /// The bias of query `i` of head `h` in batch `b` over all keys.
    pub fn row(&self, b: usize, h: usize, i: usize, out: &mut [f64]) {
        let valid = self.nonpad.and_then(|n| n.get(b)).map(|&n| n as i128);
        // Keys that precede the query block: the cache length.
        let offset = match valid {
            Some(n) => n - self.q_seq as i128,
            None => self.past as i128,
        };
        let position = offset + i as i128;
        for (j, slot) in out.iter_mut().enumerate() {
            let mut x = self.mask.map_or(0.0, |m| m.at(b, h, i, j));
            let j = j as i128;
            let diff = position - j;
            let allowed = !(self.causal && diff < 0)
                && self.left_window.is_none_or(|l| diff <= l as i128)
                && self.right_window.is_none_or(|r| -diff <= r as i128)
                && valid.is_none_or(|n| j < n);
            if !allowed {
                x += f64::NEG_INFINITY;
            }
            *slot = x;
        }
    }
}
