//! Data layout helpers of [`super::attention::Attention`]: heads split
//! from and merged into 3-D inputs, the KV cache concatenation, and matrix
//! views of one head. Values are `f64` in `[batch, heads, seq, head]` order.

use crate::tensor::{checked_numel, Tensor};
use crate::{bail, Error, Result};
use ndarray::ArrayView2;

/// The `[rows, cols]` matrix number `index` of a row-major stack of them.
pub fn block(data: &[f64], index: usize, rows: usize, cols: usize) -> Result<ArrayView2<'_, f64>> {
    let size = rows * cols;
    let Some(part) = data.get(index * size..(index + 1) * size) else { bail!("internal error: block {index} is out of range") };
    ArrayView2::from_shape((rows, cols), part).map_err(|e| Error::Op(format!("internal error: {e}")))
}

/// The values of Q, K or V in `[batch, heads, seq, head]` order; 3-D inputs
/// `[batch, seq, heads * head]` are split into heads.
pub fn split_heads(x: &Tensor, rank3: bool, batch: usize, heads: usize, seq: usize, head: usize) -> Result<Vec<f64>> {
    let flat = x.to_f64_vec()?;
    if Some(flat.len()) != checked_numel(&[batch, heads, seq, head]).ok() {
        bail!("internal error: input of shape {:?} does not hold {batch}x{heads}x{seq}x{head} values", x.shape());
    }
    if !rank3 {
        return Ok(flat);
    }
    Ok(swap_middle_axes(&flat, batch, seq, heads, head))
}

/// `[batch, heads, seq, head]` back to `[batch, seq, heads * head]`.
pub fn merge_heads(x: &[f64], batch: usize, heads: usize, seq: usize, head: usize) -> Vec<f64> {
    swap_middle_axes(x, batch, heads, seq, head)
}

/// `x` of shape `[batch, outer, inner, row]` rearranged to
/// `[batch, inner, outer, row]`.
fn swap_middle_axes(x: &[f64], batch: usize, outer: usize, inner: usize, row: usize) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    for b in 0..batch {
        for o in 0..outer {
            for i in 0..inner {
                let src = ((b * outer + o) * inner + i) * row;
                let dst = ((b * inner + i) * outer + o) * row;
                out[dst..dst + row].copy_from_slice(&x[src..src + row]);
            }
        }
    }
    out
}

/// The cache `past` (`[groups, past_len, head]`) followed by the new
/// entries (`[groups, new_len, head]`) along the sequence axis.
pub fn concat_past(past: Option<&Tensor>, new: Vec<f64>, groups: usize, past_len: usize, new_len: usize, head: usize) -> Result<Vec<f64>> {
    let Some(past) = past else { return Ok(new) };
    let past = past.to_f64_vec()?;
    let mut out = Vec::with_capacity(past.len() + new.len());
    for g in 0..groups {
        let (p, n) = (g * past_len * head, g * new_len * head);
        match (past.get(p..p + past_len * head), new.get(n..n + new_len * head)) {
            (Some(a), Some(b)) => {
                out.extend_from_slice(a);
                out.extend_from_slice(b);
            }
            _ => bail!("internal error: cache sizes do not match"),
        }
    }
    Ok(out)
}
