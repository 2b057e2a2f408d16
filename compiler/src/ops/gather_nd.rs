//! GatherND: the last axis of `indices` addresses slices of `data` (after
//! `batch_dims` leading axes shared by both). Negative indices count from
//! the end; out-of-range ones are errors. Every element type.
//! <https://onnx.ai/onnx/operators/onnx__GatherND.html>

use super::take;
use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct GatherND {
    batch_dims: usize,
}

impl OpDef for GatherND {
    /// Data movement (see `back::movement`) with constant indices, else the
    /// `gather` kernel.
    fn lower(&self, cx: &mut super::LowerCx) -> Result<()> {
        if cx.input(1)?.constant.is_some() {
            return crate::back::movement::lower(cx, &[0], |inputs| self.eval(inputs));
        }
        super::runtime_index::gather_nd(cx, self.batch_dims)
    }

    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let b = node.int("batch_dims", 0)?;
        let Ok(batch_dims) = usize::try_from(b) else { bail!("batch_dims {b} is negative") };
        Ok(GatherND { batch_dims })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, idx) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        take::check_index_type(idx.dtype, "indices")?;
        let shape = match (x.shape.dims(), idx.shape.dims()) {
            (Some(d), Some(i)) => match i.last() {
                Some(Some(k)) => {
                    let b = self.check_ranks(d.len(), i.len(), *k)?;
                    let mut out: Vec<Dim> = i[..i.len() - 1].to_vec();
                    out.extend_from_slice(&d[b + k..]);
                    Shape::from_dims(out)
                }
                Some(None) => Shape::unknown(),
                None => bail!("indices must have rank 1 or more"),
            },
            _ => Shape::unknown(),
        };
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, idx) = (inputs.req(0)?, inputs.req(1)?);
        take::check_index_type(idx.dtype(), "indices")?;
        let (starts, slice, out_shape) = slice_starts(x.shape(), idx, self.batch_dims)?;
        let offsets: Vec<Vec<Option<usize>>> = vec![starts.into_iter().map(Some).collect(), (0..slice).map(Some).collect()];
        let src = take::separable(&[offsets[0].len(), slice], &offsets)?;
        Ok(vec![take::take(x, &out_shape, &src)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl GatherND {
    /// Checks data rank `r`, indices rank `q` and tuple length `k`; returns `batch_dims`.
    fn check_ranks(&self, r: usize, q: usize, k: usize) -> Result<usize> {
        check_ranks(self.batch_dims, r, q, k)
    }
}

fn check_ranks(b: usize, r: usize, q: usize, k: usize) -> Result<usize> {
    if q == 0 {
        bail!("indices must have rank 1 or more");
    }
    if b >= q || b >= r {
        bail!("batch_dims {b} must be smaller than the ranks of data ({r}) and indices ({q})");
    }
    if k < 1 || k > r - b {
        bail!("index tuples have {k} entries; data of rank {r} with batch_dims {b} needs 1 to {}", r - b);
    }
    Ok(b)
}

/// For data of `shape` addressed by `indices` (last axis = index tuples)
/// after `b` batch axes (shared with ScatterND, which uses `b = 0`): the flat
/// start of every addressed slice, the slice length, and the gathered shape
/// `indices.shape[..-1] + shape[b + k..]`.
pub fn slice_starts(shape: &[usize], indices: &Tensor, b: usize) -> Result<(Vec<usize>, usize, Vec<usize>)> {
    let ishape = indices.shape();
    let Some(&k) = ishape.last() else { bail!("indices must have rank 1 or more") };
    check_ranks(b, shape.len(), ishape.len(), k)?;
    if ishape[..b] != shape[..b] {
        bail!("the first {b} (batch) dimensions of indices {ishape:?} and data {shape:?} differ");
    }
    let strides = take::strides(shape);
    let batch = checked_numel(&shape[..b])?;
    let batch_block = checked_numel(&shape[b..])?;
    let per_batch = checked_numel(&ishape[b..ishape.len() - 1])?;
    let slice = checked_numel(&shape[b + k..])?;
    let values = indices.to_i64_vec()?;
    let mut starts = Vec::with_capacity(batch.saturating_mul(per_batch));
    for (t, tuple) in values.chunks_exact(k).enumerate() {
        let mut pos = (t / per_batch.max(1)) * batch_block;
        for (j, &v) in tuple.iter().enumerate() {
            pos += take::index(v, shape[b + j], "index")? * strides[b + j];
        }
        starts.push(pos);
    }
    let mut out_shape = ishape[..ishape.len() - 1].to_vec();
    out_shape.extend_from_slice(&shape[b + k..]);
    Ok((starts, slice, out_shape))
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, i64s, run};

    #[test]
    fn gathers_slices_and_elements() {
        let x = f32s(&[2, 2], &[1., 2., 3., 4.]);
        let y = run("GatherND", 13, vec![], &[x.clone(), i64s(&[2, 1], &[1, -2])]).unwrap();
        assert_eq!(y[0], f32s(&[2, 2], &[3., 4., 1., 2.]));
        let y = run("GatherND", 13, vec![], &[x.clone(), i64s(&[2], &[1, 0])]).unwrap();
        assert_eq!(y[0], f32s(&[], &[3.]));
        let y = run("GatherND", 13, vec![("batch_dims", Attr::Int(1))], &[x, i64s(&[2, 1], &[1, 0])]).unwrap();
        assert_eq!(y[0], f32s(&[2], &[2., 3.]));
    }

    #[test]
    fn bad_indices_are_errors() {
        let x = f32s(&[2, 2], &[1., 2., 3., 4.]);
        assert!(run("GatherND", 13, vec![], &[x.clone(), i64s(&[1, 2], &[2, 0])]).is_err());
        assert!(run("GatherND", 13, vec![], &[x.clone(), i64s(&[1, 3], &[0, 0, 0])]).is_err());
        assert!(run("GatherND", 13, vec![], &[x.clone(), i64s(&[1, 0], &[])]).is_err());
        assert!(run("GatherND", 13, vec![("batch_dims", Attr::Int(2))], &[x.clone(), i64s(&[2, 2, 1], &[0; 4])]).is_err());
        assert!(run("GatherND", 13, vec![("batch_dims", Attr::Int(1))], &[x, i64s(&[3, 1], &[0; 3])]).is_err());
    }
}
