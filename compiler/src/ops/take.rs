//! Shared machinery of the data-movement operators (Pad, Gather*, Scatter*,
//! DepthToSpace, Resize in nearest mode, ...): an output is described by the
//! row-major flat position in the input of each output element, or
//! [`FILL`] for elements that take a fill value instead.

use super::dense::row_major;
use crate::tensor::{checked_numel, DType, Elem, Tensor};
use crate::{bail, map2_array, map_array, Result};
use ndarray::{ArrayD, IxDyn};

/// Marks an output element that takes the fill value.
pub const FILL: usize = usize::MAX;

/// Row-major strides of `shape` (in elements).
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        // Cannot overflow: the product of the dims is a checked tensor size.
        s[i] = s[i + 1].saturating_mul(shape[i + 1]);
    }
    s
}

/// Flat source positions of an output of `out_shape` whose source is a sum
/// of per-axis offsets: element `(i0, i1, ...)` comes from
/// `offsets[0][i0] + offsets[1][i1] + ...`, or is [`FILL`] when any term is
/// `None`. `offsets[a]` must have `out_shape[a]` entries.
pub fn separable(out_shape: &[usize], offsets: &[Vec<Option<usize>>]) -> Result<Vec<usize>> {
    let n = checked_numel(out_shape)?;
    if offsets.len() != out_shape.len() || offsets.iter().zip(out_shape).any(|(o, &d)| o.len() != d) {
        bail!("internal: per-axis offsets do not match the output shape {out_shape:?}");
    }
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return Ok(out);
    }
    let rank = out_shape.len();
    let mut idx = vec![0usize; rank];
    for _ in 0..n {
        let mut src = Some(0usize);
        for (a, &i) in idx.iter().enumerate() {
            src = match (src, offsets[a][i]) {
                (Some(s), Some(o)) => s.checked_add(o),
                _ => None,
            };
        }
        out.push(src.unwrap_or(FILL));
        for a in (0..rank).rev() {
            idx[a] += 1;
            if idx[a] < out_shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    Ok(out)
}

fn take_typed<T: Elem>(a: &ArrayD<T>, shape: &[usize], src: &[usize], fill: Option<&T>) -> Result<ArrayD<T>> {
    let data = row_major(a);
    let mut out = Vec::with_capacity(src.len());
    for &i in src {
        let v = match (data.get(i), fill) {
            (Some(v), _) => v,
            (None, Some(f)) if i == FILL => f,
            _ => bail!("internal: source position {i} is outside an input of {} elements", data.len()),
        };
        out.push(v.clone());
    }
    if checked_numel(shape)? != out.len() {
        bail!("internal: {} source positions for an output of shape {shape:?}", out.len());
    }
    Ok(ArrayD::from_shape_vec(IxDyn(shape), out).expect("element count checked above"))
}

/// A tensor of `shape` whose elements are `x`'s at the flat positions `src`
/// ([`FILL`] is an error here).
pub fn take(x: &Tensor, shape: &[usize], src: &[usize]) -> Result<Tensor> {
    Ok(map_array!(x, a => take_typed(a, shape, src, None)?))
}

/// Like [`take`], with [`FILL`] positions taking the single element of
/// `fill` (same element type as `x`).
pub fn take_or_fill(x: &Tensor, shape: &[usize], src: &[usize], fill: &Tensor) -> Result<Tensor> {
    if fill.len() != 1 {
        bail!("the fill value must have one element, got shape {:?}", fill.shape());
    }
    map2_array!(x, fill, (a, f) => take_typed(a, shape, src, f.iter().next())?)
}

/// The tensor with every element at flat position `dst[i]` replaced by
/// `combine(old, updates[i])`, in order (a later update sees earlier ones).
/// `updates` must have the element type of `data`; positions are checked.
pub fn scatter<T: Elem>(
    data: &ArrayD<T>,
    dst: &[usize],
    updates: &ArrayD<T>,
    combine: impl Fn(&T, &T) -> T,
) -> Result<ArrayD<T>> {
    let mut out: Vec<T> = row_major(data).into_owned();
    if dst.len() != updates.len() {
        bail!("internal: {} destinations for {} updates", dst.len(), updates.len());
    }
    for (&i, u) in dst.iter().zip(row_major(updates).iter()) {
        let n = out.len();
        match out.get_mut(i) {
            Some(slot) => *slot = combine(slot, u),
            None => bail!("internal: destination {i} is outside an output of {n} elements"),
        }
    }
    Ok(ArrayD::from_shape_vec(IxDyn(data.shape()), out).expect("same element count as data"))
}

/// Calls `f` with the row-major multi-index of every element of `shape`,
/// in order, stopping at the first error.
pub fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize]) -> Result<()>) -> Result<()> {
    let n = checked_numel(shape)?;
    let rank = shape.len();
    let mut idx = vec![0usize; rank];
    for _ in 0..n {
        f(&idx)?;
        for a in (0..rank).rev() {
            idx[a] += 1;
            if idx[a] < shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    Ok(())
}

/// Maps a possibly negative index into `0..len`, or explains why it cannot.
pub fn index(i: i64, len: usize, what: &str) -> Result<usize> {
    let n = len as i64;
    if i < -n || i >= n {
        bail!("{what} {i} is out of range for a dimension of size {len}");
    }
    Ok(if i < 0 { (i + n) as usize } else { i as usize })
}

/// Checks that an index input is int32 or int64.
pub fn check_index_type(d: DType, what: &str) -> Result<()> {
    if d != DType::I32 && d != DType::I64 {
        bail!("{what} must be int32 or int64, got {d}");
    }
    Ok(())
}

/// Test helper: infers the output types of `op_type` with the inputs whose
/// flag in `constant` is true passed as compile-time constants.
#[cfg(test)]
pub fn infer_with_constants(
    op_type: &str,
    opset: i64,
    attrs: Vec<(&str, crate::front::onnx::Attr)>,
    inputs: &[Tensor],
    constant: &[bool],
) -> Result<Vec<crate::ir::TensorType>> {
    let node = super::testing::node(op_type, opset, attrs, inputs.len(), 1);
    let op = super::Op::from_onnx(&node)?;
    let types: Vec<crate::ir::TensorType> = inputs.iter().map(crate::ir::TensorType::of).collect();
    let args: Vec<Option<super::Arg>> = types
        .iter()
        .zip(inputs)
        .enumerate()
        .map(|(i, (ty, t))| Some(super::Arg { ty, value: constant.get(i).copied().unwrap_or(false).then_some(t) }))
        .collect();
    op.infer(&args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_sums_offsets_and_propagates_fill() {
        let src = separable(&[2, 2], &[vec![Some(0), Some(10)], vec![Some(1), None]]).unwrap();
        assert_eq!(src, vec![1, FILL, 11, FILL]);
    }

    #[test]
    fn take_rejects_out_of_range_positions() {
        let x = Tensor::from_vec(&[2], vec![1.0f32, 2.0]).unwrap();
        assert!(take(&x, &[1], &[2]).is_err());
        assert!(take(&x, &[1], &[FILL]).is_err());
        let y = take_or_fill(&x, &[3], &[1, FILL, 0], &Tensor::scalar(9.0f32)).unwrap();
        assert_eq!(y, Tensor::from_vec(&[3], vec![2.0f32, 9.0, 1.0]).unwrap());
    }

    #[test]
    fn index_wraps_negative_and_rejects_out_of_range() {
        assert_eq!(index(-1, 3, "index").unwrap(), 2);
        assert!(index(3, 3, "index").is_err());
        assert!(index(-4, 3, "index").is_err());
        assert!(index(0, 0, "index").is_err());
    }
}
