//! Code generation for Gather, GatherElements and GatherND whose indices are known
//! only at run time: a call of the `gather` kernels (an index outside its
//! axis selects zeros there). Constant indices are data movement instead
//! (`back::movement`), resolved at compile time.

use super::cast::cast_fn;
use crate::back::lower::{Loc, LowerCx};
use crate::back::program::Arg;
use crate::tensor::DType;
use crate::Result;

const MODULE: &str = "gather";

/// The indices as int64, converted into a scratch buffer when int32.
fn indices_i64(cx: &mut LowerCx, idx: &Loc) -> Result<Loc> {
    if idx.dtype == DType::I64 {
        return Ok(idx.clone());
    }
    let out = cx.scratch(DType::I64, idx.len()).reshaped(&idx.shape);
    cx.map(cast_fn(idx.dtype, DType::I64), &[idx], &out)?;
    Ok(out)
}

/// Gather of `data` (input 0) along `axis` (normalised) at runtime indices.
pub fn gather(cx: &mut LowerCx, axis: usize) -> Result<()> {
    let (x, idx) = (cx.input(0)?.clone(), cx.input(1)?.clone());
    let y = cx.output(0)?;
    if y.is_empty() {
        return Ok(());
    }
    let idx = indices_i64(cx, &idx)?;
    let dims = vec![x.shape[..axis].iter().product(), x.shape[axis], x.shape[axis + 1..].iter().product(), idx.len()];
    cx.call(MODULE, "gather", vec![x.dtype], vec![x.arg_in(), idx.arg_in(), y.arg_out(), Arg::Dims(dims)]);
    Ok(())
}

/// GatherElements of `data` (input 0) along `axis` (normalised) at runtime indices.
pub fn gather_elements(cx: &mut LowerCx, axis: usize) -> Result<()> {
    let (x, idx) = (cx.input(0)?.clone(), cx.input(1)?.clone());
    let y = cx.output(0)?;
    if y.is_empty() {
        return Ok(());
    }
    let idx = indices_i64(cx, &idx)?;
    let mut dims = vec![x.shape.len(), axis];
    dims.extend(&idx.shape);
    dims.extend(&x.shape);
    cx.call(MODULE, "gather_elements", vec![x.dtype], vec![x.arg_in(), idx.arg_in(), y.arg_out(), Arg::Dims(dims)]);
    Ok(())
}

/// GatherND of `data` (input 0) with `batch_dims` at runtime indices.
pub fn gather_nd(cx: &mut LowerCx, batch_dims: usize) -> Result<()> {
    let (x, idx) = (cx.input(0)?.clone(), cx.input(1)?.clone());
    let y = cx.output(0)?;
    if y.is_empty() {
        return Ok(());
    }
    let idx = indices_i64(cx, &idx)?;
    let k = idx.shape.last().copied().unwrap_or(0);
    let batch: usize = x.shape[..batch_dims].iter().product();
    let count = idx.len() / (batch * k).max(1);
    let axes = &x.shape[batch_dims..batch_dims + k];
    let slice: usize = x.shape[batch_dims + k..].iter().product();
    let mut dims = vec![batch, count, slice, k];
    dims.extend(axes);
    cx.call(MODULE, "gather_nd", vec![x.dtype], vec![x.arg_in(), idx.arg_in(), y.arg_out(), Arg::Dims(dims)]);
    Ok(())
}
