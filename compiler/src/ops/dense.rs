//! Helpers of the compute-heavy operators: flat row-major access to
//! arrays, and the element type float16/bfloat16 inputs are computed in.

use crate::tensor::{DType, Elem, Tensor};
use crate::{bail, Result};
use ndarray::{ArrayD, IxDyn};
use std::borrow::Cow;

/// The elements of `a` in row-major order, borrowed when already contiguous.
pub fn row_major<T: Clone>(a: &ArrayD<T>) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().cloned().collect()),
    }
}

/// An array of `shape` from row-major data (the length is checked).
pub fn array<T: Elem>(shape: &[usize], data: Vec<T>) -> Result<ArrayD<T>> {
    let n = crate::tensor::checked_numel(shape)?;
    if n != data.len() {
        bail!("internal error: {} elements computed for shape {shape:?}", data.len());
    }
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| crate::Error::Op(format!("internal shape error: {e}")))
}

/// The type a float tensor is computed in: float32 and float64 as they
/// are, float16 and bfloat16 in float32.
pub fn compute_type(d: DType) -> Result<DType> {
    match d {
        DType::F32 | DType::F16 | DType::BF16 => Ok(DType::F32),
        DType::F64 => Ok(DType::F64),
        d => bail!("element type {d} is not supported here (float types only)"),
    }
}

/// `t` converted to its compute type (borrowed when it already is).
pub fn promote(t: &Tensor) -> Result<Cow<'_, Tensor>> {
    let to = compute_type(t.dtype())?;
    if t.dtype() == to {
        Ok(Cow::Borrowed(t))
    } else {
        Ok(Cow::Owned(t.cast(to)?))
    }
}

/// `t` converted back to `to` from its compute type (moved when it already is).
pub fn demote(t: Tensor, to: DType) -> Result<Tensor> {
    if t.dtype() == to {
        Ok(t)
    } else {
        t.cast(to)
    }
}
