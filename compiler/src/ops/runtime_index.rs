//! Code generation for the Gather and Scatter families when their indices
//! are known only at run time: calls of the `gather` and `scatter` kernels
//! (an index outside its axis selects zeros, or skips its update).
//! Constant indices are data movement instead (`back::movement`), resolved
//! at compile time.

use super::cast::cast_fn;
use super::scatter_nd::Reduction;
use crate::back::lower::{copy_step, Loc, LowerCx};
use crate::back::program::{Arg, Lit};
use crate::tensor::DType;
use crate::Result;

const MODULE: &str = "gather";
const SCATTER: &str = "scatter";

/// The indices as int64, converted into a scratch buffer when int32.
fn indices_i64(cx: &mut LowerCx, idx: &Loc) -> Result<Loc> {
    if idx.dtype == DType::I64 {
        return Ok(idx.clone());
    }
    let out = cx.scratch(DType::I64, idx.len()).reshaped(&idx.shape);
    cx.map(cast_fn(idx.dtype, DType::I64), &[idx], &out)?;
    Ok(out)
}

/// Data (input 0), the indices (input 1) as int64 and the output of a
/// gather; `None` when the output is empty.
fn gather_start(cx: &mut LowerCx) -> Result<Option<(Loc, Loc, Loc)>> {
    let (x, idx) = (cx.input(0)?.clone(), cx.input(1)?.clone());
    let y = cx.output(0)?;
    if y.is_empty() {
        return Ok(None);
    }
    Ok(Some((x, indices_i64(cx, &idx)?, y)))
}

/// Gather of `data` (input 0) along `axis` (normalised) at runtime indices.
pub fn gather(cx: &mut LowerCx, axis: usize) -> Result<()> {
    let Some((x, idx, y)) = gather_start(cx)? else { return Ok(()) };
    let dims = vec![x.shape[..axis].iter().product(), x.shape[axis], x.shape[axis + 1..].iter().product(), idx.len()];
    cx.call(MODULE, "gather", vec![x.dtype], vec![x.arg_in(), idx.arg_in(), y.arg_out(), Arg::Dims(dims)]);
    Ok(())
}

/// GatherElements of `data` (input 0) along `axis` (normalised) at runtime indices.
pub fn gather_elements(cx: &mut LowerCx, axis: usize) -> Result<()> {
    let Some((x, idx, y)) = gather_start(cx)? else { return Ok(()) };
    let mut dims = vec![x.shape.len(), axis];
    dims.extend(&idx.shape);
    dims.extend(&x.shape);
    cx.call(MODULE, "gather_elements", vec![x.dtype], vec![x.arg_in(), idx.arg_in(), y.arg_out(), Arg::Dims(dims)]);
    Ok(())
}

/// GatherND of `data` (input 0) with `batch_dims` at runtime indices.
pub fn gather_nd(cx: &mut LowerCx, batch_dims: usize) -> Result<()> {
    let Some((x, idx, y)) = gather_start(cx)? else { return Ok(()) };
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

/// The output as a copy of `data` (input 0) for a scatter to update, with
/// the indices as int64; `None` when the output is empty.
fn scatter_start(cx: &mut LowerCx) -> Result<Option<(Loc, Loc, Loc)>> {
    let (x, idx, upd) = (cx.input(0)?.clone(), cx.input(1)?.clone(), cx.input(2)?.clone());
    if x.dtype == DType::Bool || x.dtype.is_small() || x.dtype == DType::Str {
        crate::unsupported!("code generation for a scatter of {} data with runtime indices is not implemented", x.dtype);
    }
    let y = cx.output(0)?;
    if y.is_empty() {
        return Ok(None);
    }
    cx.push(copy_step(&x, &y));
    Ok(Some((y, indices_i64(cx, &idx)?, upd)))
}

/// ScatterElements along `axis` (normalised) at runtime indices.
pub fn scatter_elements(cx: &mut LowerCx, axis: usize, reduction: Reduction) -> Result<()> {
    let Some((y, idx, upd)) = scatter_start(cx)? else { return Ok(()) };
    let mut dims = vec![y.shape.len(), axis];
    dims.extend(&idx.shape);
    dims.extend(&y.shape);
    let args = vec![y.arg_out(), idx.arg_in(), upd.arg_in(), Arg::Dims(dims), Arg::Lit(Lit::Int(reduction.code()))];
    cx.call(SCATTER, "scatter_elements", vec![y.dtype], args);
    Ok(())
}

/// ScatterND at runtime indices.
pub fn scatter_nd(cx: &mut LowerCx, reduction: Reduction) -> Result<()> {
    let Some((y, idx, upd)) = scatter_start(cx)? else { return Ok(()) };
    let k = idx.shape.last().copied().unwrap_or(0);
    let count = idx.len() / k.max(1);
    let slice: usize = y.shape[k..].iter().product();
    let mut dims = vec![count, slice, k];
    dims.extend(&y.shape[..k]);
    let args = vec![y.arg_out(), idx.arg_in(), upd.arg_in(), Arg::Dims(dims), Arg::Lit(Lit::Int(reduction.code()))];
    cx.call(SCATTER, "scatter_nd", vec![y.dtype], args);
    Ok(())
}
