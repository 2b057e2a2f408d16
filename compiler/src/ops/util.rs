//! Helpers shared by operator files: axis normalisation, numpy broadcasting,
//! common inference rules.

use super::{Arg, Slots};
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::{checked_numel, Elem, Tensor};
use crate::{bail, Result};
use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

/// Maps a possibly negative axis into `0..rank`.
pub fn axis(axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    if axis < -r || axis >= r {
        bail!("axis {axis} is out of range for rank {rank}");
    }
    Ok(if axis < 0 { (axis + r) as usize } else { axis as usize })
}

/// Maps axes into `0..rank`, rejecting duplicates.
pub fn axes(list: &[i64], rank: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(list.len());
    for &a in list {
        let a = axis(a, rank)?;
        if out.contains(&a) {
            bail!("axis {a} appears twice in {list:?}");
        }
        out.push(a);
    }
    Ok(out)
}

/// Numpy broadcast of concrete shapes.
pub fn broadcast_shapes(shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        let offset = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[offset + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                bail!("shapes {shapes:?} cannot be broadcast together");
            }
        }
    }
    checked_numel(&out)?;
    Ok(out)
}

/// A read-only view of `a` broadcast to `shape`.
pub fn broadcast<'a, T>(a: &'a ArrayD<T>, shape: &[usize]) -> Result<ArrayViewD<'a, T>> {
    match a.broadcast(IxDyn(shape)) {
        Some(v) => Ok(v),
        None => bail!("cannot broadcast shape {:?} to {shape:?}", a.shape()),
    }
}

/// Elementwise `f(a, b)` with numpy broadcasting.
pub fn zip2<A: Clone, B: Clone, C>(a: &ArrayD<A>, b: &ArrayD<B>, f: impl Fn(A, B) -> C) -> Result<ArrayD<C>> {
    let shape = broadcast_shapes(&[a.shape(), b.shape()])?;
    let (va, vb) = (broadcast(a, &shape)?, broadcast(b, &shape)?);
    Ok(Zip::from(&va).and(&vb).map_collect(|x, y| f(x.clone(), y.clone())))
}

/// Elementwise `f(a, b, c)` with numpy broadcasting.
pub fn zip3<A: Clone, B: Clone, C: Clone, D>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    c: &ArrayD<C>,
    f: impl Fn(A, B, C) -> D,
) -> Result<ArrayD<D>> {
    let shape = broadcast_shapes(&[a.shape(), b.shape(), c.shape()])?;
    let (va, vb, vc) = (broadcast(a, &shape)?, broadcast(b, &shape)?, broadcast(c, &shape)?);
    Ok(Zip::from(&va).and(&vb).and(&vc).map_collect(|x, y, z| f(x.clone(), y.clone(), z.clone())))
}

/// Inference rule "one output with the type of input `i`".
pub fn same_as(inputs: &[Option<Arg>], i: usize) -> Result<Vec<TensorType>> {
    Ok(vec![inputs.req(i)?.ty.clone()])
}

/// Inference rule for broadcasting ops: the broadcast shape of all present
/// inputs, with element type `dtype`.
pub fn broadcast_type(inputs: &[Option<Arg>], dtype: crate::tensor::DType) -> Result<TensorType> {
    let shapes: Vec<&Shape> = inputs.iter().flatten().map(|a| &a.ty.shape).collect();
    Ok(TensorType::new(dtype, Shape::broadcast(&shapes)?))
}

/// The common value of two dimensions that must agree (`what` names them
/// in the error).
pub fn unify_dim(a: Dim, b: Dim, what: &str) -> Result<Dim> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => bail!("{what} differ ({x} vs {y})"),
        (Some(x), _) | (None, Some(x)) => Ok(Some(x)),
        (None, None) => Ok(None),
    }
}

/// `v` as a count, which must be positive (`name` names it in the error).
pub fn positive(v: i64, name: &str) -> Result<usize> {
    if v <= 0 {
        bail!("{name} must be positive, got {v}");
    }
    usize::try_from(v).map_err(|_| crate::Error::Op(format!("{name} {v} is too large")))
}

/// The dimensions of `shape`, which must have rank `rank` when known
/// (unknown dimensions when the rank is unknown).
pub fn dims_of_rank(shape: &Shape, rank: usize, what: &str) -> Result<Vec<Dim>> {
    match shape.dims() {
        Some(d) if d.len() == rank => Ok(d.to_vec()),
        Some(d) => bail!("{what} must have rank {rank}, got {} ({shape})", d.len()),
        None => Ok(vec![None; rank]),
    }
}

/// The integer values of input `i` when it is a compile-time constant.
pub fn const_ints(inputs: &[Option<Arg>], i: usize) -> Result<Option<Vec<i64>>> {
    match inputs.opt(i).and_then(|a| a.value) {
        Some(t) => Ok(Some(t.to_i64_vec()?)),
        None => Ok(None),
    }
}

/// Checks that two inputs have the same element type.
pub fn same_dtype(a: &TensorType, b: &TensorType, what: &str) -> Result<()> {
    if a.dtype != b.dtype {
        bail!("{what}: element types differ ({} vs {})", a.dtype, b.dtype);
    }
    Ok(())
}

/// The array of `t` with element type `T`, where the small types (float8,
/// 4-bit, ...) count as their `u8` bit patterns. Lets generic data-movement
/// code read further inputs of the type it was dispatched on; callers check
/// that the inputs' dtypes agree first.
pub fn elem_array<T: Elem>(t: &Tensor) -> Result<&ArrayD<T>> {
    if let Tensor::Small(_, a) = t {
        if let Some(a) = (a as &dyn std::any::Any).downcast_ref::<ArrayD<T>>() {
            return Ok(a);
        }
    }
    t.array::<T>()
}

/// Checks that all tensors share one element type and returns it.
pub fn common_dtype(what: &str, tensors: &[&Tensor]) -> Result<crate::tensor::DType> {
    let Some(first) = tensors.first() else { bail!("{what}: no inputs") };
    let d = first.dtype();
    if let Some(other) = tensors.iter().find(|t| t.dtype() != d) {
        bail!("{what}: element types differ ({d} vs {})", other.dtype());
    }
    Ok(d)
}

/// Writes `values` (flat, same dtype) at the flat positions `idx` of `dense`.
pub fn scatter_flat(dense: &mut Tensor, idx: &[usize], values: &Tensor) -> Result<()> {
    fn set<T: Elem>(dense: &mut ArrayD<T>, idx: &[usize], values: &ArrayD<T>) -> Result<()> {
        let Some(flat) = dense.as_slice_mut() else { bail!("tensor is not contiguous") };
        for (&i, v) in idx.iter().zip(values.iter()) {
            match flat.get_mut(i) {
                Some(slot) => *slot = v.clone(),
                None => bail!("index {i} is out of range"),
            }
        }
        Ok(())
    }
    if dense.dtype() != values.dtype() {
        bail!("cannot store {} values into a {} tensor", values.dtype(), dense.dtype());
    }
    match (dense, values) {
        (Tensor::Bool(d), Tensor::Bool(v)) => set(d, idx, v),
        (Tensor::U8(d), Tensor::U8(v)) => set(d, idx, v),
        (Tensor::I8(d), Tensor::I8(v)) => set(d, idx, v),
        (Tensor::U16(d), Tensor::U16(v)) => set(d, idx, v),
        (Tensor::I16(d), Tensor::I16(v)) => set(d, idx, v),
        (Tensor::U32(d), Tensor::U32(v)) => set(d, idx, v),
        (Tensor::I32(d), Tensor::I32(v)) => set(d, idx, v),
        (Tensor::U64(d), Tensor::U64(v)) => set(d, idx, v),
        (Tensor::I64(d), Tensor::I64(v)) => set(d, idx, v),
        (Tensor::F16(d), Tensor::F16(v)) => set(d, idx, v),
        (Tensor::BF16(d), Tensor::BF16(v)) => set(d, idx, v),
        (Tensor::F32(d), Tensor::F32(v)) => set(d, idx, v),
        (Tensor::F64(d), Tensor::F64(v)) => set(d, idx, v),
        (Tensor::Str(d), Tensor::Str(v)) => set(d, idx, v),
        (Tensor::Small(_, d), Tensor::Small(_, v)) => set(d, idx, v),
        _ => bail!("element types differ"),
    }
}
