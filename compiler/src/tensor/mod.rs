//! Dense tensors of every ONNX element type, the values the interpreter and
//! constant folding compute with.
//!
//! A [`Tensor`] is an `ndarray` array tagged with its element type. Generic
//! code is written once over [`Elem`] or [`Num`] and dispatched with the
//! `for_each_array!`, `map_array!`, `map_num!`, `map_float!` and `map_int!`
//! macros. Every allocation whose size comes from data goes through
//! [`checked_numel`], so absurd shapes are errors, not aborts.

mod cast;
mod dtype;
mod elem;
pub mod npy;
pub mod small;

pub use dtype::DType;
pub use elem::{Elem, Num};

use crate::{bail, Result};
use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};

/// The largest tensor qcc will create: 2^31 - 1 elements.
pub const MAX_ELEMENTS: usize = (1 << 31) - 1;

/// A dense, row-major tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum Tensor {
    Bool(ArrayD<bool>),
    U8(ArrayD<u8>),
    I8(ArrayD<i8>),
    U16(ArrayD<u16>),
    I16(ArrayD<i16>),
    U32(ArrayD<u32>),
    I32(ArrayD<i32>),
    U64(ArrayD<u64>),
    I64(ArrayD<i64>),
    F16(ArrayD<f16>),
    BF16(ArrayD<bf16>),
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    Str(ArrayD<String>),
    /// float8, float4, 4-bit and 2-bit integers: one bit pattern per byte.
    Small(DType, ArrayD<u8>),
}

/// Runs `$body` with `$a` bound to the tensor's array (any element type) and
/// returns its value. `$body` must have the same type for every element type.
#[macro_export]
macro_rules! for_each_array {
    ($t:expr, $a:ident => $body:expr) => {{
        use $crate::tensor::Tensor as T;
        match $t {
            T::Bool($a) => $body,
            T::U8($a) => $body,
            T::I8($a) => $body,
            T::U16($a) => $body,
            T::I16($a) => $body,
            T::U32($a) => $body,
            T::I32($a) => $body,
            T::U64($a) => $body,
            T::I64($a) => $body,
            T::F16($a) => $body,
            T::BF16($a) => $body,
            T::F32($a) => $body,
            T::F64($a) => $body,
            T::Str($a) => $body,
            T::Small(_, $a) => $body,
        }
    }};
}

/// Runs `$body` with `$a` bound to the array of a numeric (integer or float)
/// tensor and returns `Ok` of its value; other element types give an error.
/// `$body` must have the same type for every element type.
#[macro_export]
macro_rules! for_each_num {
    ($t:expr, $a:ident => $body:expr) => {{
        use $crate::tensor::Tensor as T;
        match $t {
            T::U8($a) => Ok($body),
            T::I8($a) => Ok($body),
            T::U16($a) => Ok($body),
            T::I16($a) => Ok($body),
            T::U32($a) => Ok($body),
            T::I32($a) => Ok($body),
            T::U64($a) => Ok($body),
            T::I64($a) => Ok($body),
            T::F16($a) => Ok($body),
            T::BF16($a) => Ok($body),
            T::F32($a) => Ok($body),
            T::F64($a) => Ok($body),
            other => Err($crate::Error::Op(format!(
                "element type {} is not supported here (numeric types only)",
                other.dtype()
            ))),
        }
    }};
}

/// Maps the tensor's array (any element type) through `$body`, which
/// returns an array of the same element type; the result keeps the dtype.
#[macro_export]
macro_rules! map_array {
    ($t:expr, $a:ident => $body:expr) => {{
        use $crate::tensor::Tensor as T;
        match $t {
            T::Bool($a) => T::Bool($body),
            T::U8($a) => T::U8($body),
            T::I8($a) => T::I8($body),
            T::U16($a) => T::U16($body),
            T::I16($a) => T::I16($body),
            T::U32($a) => T::U32($body),
            T::I32($a) => T::I32($body),
            T::U64($a) => T::U64($body),
            T::I64($a) => T::I64($body),
            T::F16($a) => T::F16($body),
            T::BF16($a) => T::BF16($body),
            T::F32($a) => T::F32($body),
            T::F64($a) => T::F64($body),
            T::Str($a) => T::Str($body),
            T::Small(d, $a) => T::Small(*d, $body),
        }
    }};
}

/// Like [`map_array!`] for the integer and float types ([`Num`]); other
/// types give an error. Evaluates to `Result<Tensor>`.
#[macro_export]
macro_rules! map_num {
    ($t:expr, $a:ident => $body:expr) => {{
        use $crate::tensor::Tensor as T;
        match $t {
            T::U8($a) => Ok(T::U8($body)),
            T::I8($a) => Ok(T::I8($body)),
            T::U16($a) => Ok(T::U16($body)),
            T::I16($a) => Ok(T::I16($body)),
            T::U32($a) => Ok(T::U32($body)),
            T::I32($a) => Ok(T::I32($body)),
            T::U64($a) => Ok(T::U64($body)),
            T::I64($a) => Ok(T::I64($body)),
            T::F16($a) => Ok(T::F16($body)),
            T::BF16($a) => Ok(T::BF16($body)),
            T::F32($a) => Ok(T::F32($body)),
            T::F64($a) => Ok(T::F64($body)),
            other => Err($crate::Error::Op(format!(
                "element type {} is not supported here (numeric types only)",
                other.dtype()
            ))),
        }
    }};
}

/// Like [`map_array!`] for float16, bfloat16, float32 and float64 (all
/// implement `num_traits::Float`). Evaluates to `Result<Tensor>`.
#[macro_export]
macro_rules! map_float {
    ($t:expr, $a:ident => $body:expr) => {{
        use $crate::tensor::Tensor as T;
        match $t {
            T::F16($a) => Ok(T::F16($body)),
            T::BF16($a) => Ok(T::BF16($body)),
            T::F32($a) => Ok(T::F32($body)),
            T::F64($a) => Ok(T::F64($body)),
            other => Err($crate::Error::Op(format!(
                "element type {} is not supported here (float types only)",
                other.dtype()
            ))),
        }
    }};
}

/// Like [`map_array!`] for the integer types. Evaluates to `Result<Tensor>`.
#[macro_export]
macro_rules! map_int {
    ($t:expr, $a:ident => $body:expr) => {{
        use $crate::tensor::Tensor as T;
        match $t {
            T::U8($a) => Ok(T::U8($body)),
            T::I8($a) => Ok(T::I8($body)),
            T::U16($a) => Ok(T::U16($body)),
            T::I16($a) => Ok(T::I16($body)),
            T::U32($a) => Ok(T::U32($body)),
            T::I32($a) => Ok(T::I32($body)),
            T::U64($a) => Ok(T::U64($body)),
            T::I64($a) => Ok(T::I64($body)),
            other => Err($crate::Error::Op(format!(
                "element type {} is not supported here (integer types only)",
                other.dtype()
            ))),
        }
    }};
}

/// Runs `$body` with `$x` and `$y` bound to the arrays of two tensors of the
/// same numeric element type; `$body` returns an array of that type. A
/// dtype mismatch or a non-numeric type is an error. Evaluates to
/// `Result<Tensor>`.
#[macro_export]
macro_rules! map2_num {
    ($a:expr, $b:expr, ($x:ident, $y:ident) => $body:expr) => {{
        use $crate::tensor::Tensor as T;
        match ($a, $b) {
            (T::U8($x), T::U8($y)) => Ok(T::U8($body)),
            (T::I8($x), T::I8($y)) => Ok(T::I8($body)),
            (T::U16($x), T::U16($y)) => Ok(T::U16($body)),
            (T::I16($x), T::I16($y)) => Ok(T::I16($body)),
            (T::U32($x), T::U32($y)) => Ok(T::U32($body)),
            (T::I32($x), T::I32($y)) => Ok(T::I32($body)),
            (T::U64($x), T::U64($y)) => Ok(T::U64($body)),
            (T::I64($x), T::I64($y)) => Ok(T::I64($body)),
            (T::F16($x), T::F16($y)) => Ok(T::F16($body)),
            (T::BF16($x), T::BF16($y)) => Ok(T::BF16($body)),
            (T::F32($x), T::F32($y)) => Ok(T::F32($body)),
            (T::F64($x), T::F64($y)) => Ok(T::F64($body)),
            (a, b) => Err($crate::Error::Op(format!(
                "inputs must have the same numeric element type, got {} and {}",
                a.dtype(),
                b.dtype()
            ))),
        }
    }};
}

/// Like [`map2_num!`] for every element type (same type on both sides).
#[macro_export]
macro_rules! map2_array {
    ($a:expr, $b:expr, ($x:ident, $y:ident) => $body:expr) => {{
        use $crate::tensor::Tensor as T;
        match ($a, $b) {
            (T::Bool($x), T::Bool($y)) => Ok(T::Bool($body)),
            (T::U8($x), T::U8($y)) => Ok(T::U8($body)),
            (T::I8($x), T::I8($y)) => Ok(T::I8($body)),
            (T::U16($x), T::U16($y)) => Ok(T::U16($body)),
            (T::I16($x), T::I16($y)) => Ok(T::I16($body)),
            (T::U32($x), T::U32($y)) => Ok(T::U32($body)),
            (T::I32($x), T::I32($y)) => Ok(T::I32($body)),
            (T::U64($x), T::U64($y)) => Ok(T::U64($body)),
            (T::I64($x), T::I64($y)) => Ok(T::I64($body)),
            (T::F16($x), T::F16($y)) => Ok(T::F16($body)),
            (T::BF16($x), T::BF16($y)) => Ok(T::BF16($body)),
            (T::F32($x), T::F32($y)) => Ok(T::F32($body)),
            (T::F64($x), T::F64($y)) => Ok(T::F64($body)),
            (T::Str($x), T::Str($y)) => Ok(T::Str($body)),
            (T::Small(d, $x), T::Small(e, $y)) if d == e => Ok(T::Small(*d, $body)),
            (a, b) => Err($crate::Error::Op(format!(
                "inputs must have the same element type, got {} and {}",
                a.dtype(),
                b.dtype()
            ))),
        }
    }};
}

/// Number of elements of a shape, or an error if it overflows or exceeds
/// [`MAX_ELEMENTS`]. The non-zero dimensions of an empty shape must keep
/// within the same limit (ndarray requires their product to fit in memory).
pub fn checked_numel(shape: &[usize]) -> Result<usize> {
    let empty = shape.contains(&0);
    let mut n: usize = 1;
    for &d in shape {
        n = match n.checked_mul(d.max(1)) {
            Some(n) => n,
            None if empty => bail!("shape {shape:?} has 0 elements, but its other dimensions multiply past what fits in memory"),
            None => bail!("shape {shape:?} has more elements than fit in memory"),
        };
    }
    if n > MAX_ELEMENTS {
        if empty {
            bail!("shape {shape:?} has 0 elements, but its other dimensions multiply to {n}, more than the limit of {MAX_ELEMENTS}");
        }
        bail!("shape {shape:?} has {n} elements, more than the limit of {MAX_ELEMENTS}");
    }
    Ok(if empty { 0 } else { n })
}

/// Copies `a` in row-major order into an array of `shape` (same element count).
pub fn reshape_array<T: Clone>(a: &ArrayD<T>, shape: &[usize]) -> Result<ArrayD<T>> {
    if checked_numel(shape)? != a.len() {
        bail!("cannot reshape {:?} ({} elements) to {shape:?}", a.shape(), a.len());
    }
    let data: Vec<T> = a.iter().cloned().collect();
    Ok(ArrayD::from_shape_vec(IxDyn(shape), data).expect("element count checked above"))
}

/// Converts ONNX dims (int64) to a checked shape.
pub fn shape_from_i64(dims: &[i64]) -> Result<Vec<usize>> {
    let mut shape = Vec::with_capacity(dims.len());
    for &d in dims {
        if d < 0 {
            bail!("negative dimension {d} in shape {dims:?}");
        }
        shape.push(usize::try_from(d).map_err(|_| crate::Error::Op(format!("dimension {d} too large")))?);
    }
    checked_numel(&shape)?;
    Ok(shape)
}

impl Tensor {
    pub fn dtype(&self) -> DType {
        match self {
            Tensor::Small(d, _) => *d,
            t => for_each_array!(t, a => elem_dtype(a)),
        }
    }

    pub fn shape(&self) -> &[usize] {
        for_each_array!(self, a => a.shape())
    }

    pub fn rank(&self) -> usize {
        self.shape().len()
    }

    pub fn len(&self) -> usize {
        for_each_array!(self, a => a.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Builds a tensor from row-major data; checks the element count.
    pub fn from_vec<T: Elem>(shape: &[usize], data: Vec<T>) -> Result<Tensor> {
        let n = checked_numel(shape)?;
        if n != data.len() {
            bail!("shape {shape:?} needs {n} elements, got {}", data.len());
        }
        Ok(T::wrap(ArrayD::from_shape_vec(IxDyn(shape), data).expect("length checked above")))
    }

    /// A tensor of a small type from bit patterns, one per byte.
    pub fn from_small(dtype: DType, shape: &[usize], bits: Vec<u8>) -> Result<Tensor> {
        let n = checked_numel(shape)?;
        if n != bits.len() {
            bail!("shape {shape:?} needs {n} elements, got {}", bits.len());
        }
        Ok(Tensor::Small(dtype, ArrayD::from_shape_vec(IxDyn(shape), bits).expect("length checked above")))
    }

    pub fn scalar<T: Elem>(v: T) -> Tensor {
        T::wrap(ArrayD::from_elem(IxDyn(&[]), v))
    }

    /// A tensor of zeros (false, empty strings, +0.0 bit patterns).
    pub fn zeros(dtype: DType, shape: &[usize]) -> Result<Tensor> {
        checked_numel(shape)?;
        let s = IxDyn(shape);
        Ok(match dtype {
            DType::Bool => Tensor::Bool(ArrayD::default(s)),
            DType::U8 => Tensor::U8(ArrayD::default(s)),
            DType::I8 => Tensor::I8(ArrayD::default(s)),
            DType::U16 => Tensor::U16(ArrayD::default(s)),
            DType::I16 => Tensor::I16(ArrayD::default(s)),
            DType::U32 => Tensor::U32(ArrayD::default(s)),
            DType::I32 => Tensor::I32(ArrayD::default(s)),
            DType::U64 => Tensor::U64(ArrayD::default(s)),
            DType::I64 => Tensor::I64(ArrayD::default(s)),
            DType::F16 => Tensor::F16(ArrayD::default(s)),
            DType::BF16 => Tensor::BF16(ArrayD::default(s)),
            DType::F32 => Tensor::F32(ArrayD::default(s)),
            DType::F64 => Tensor::F64(ArrayD::default(s)),
            DType::Str => Tensor::Str(ArrayD::default(s)),
            d => Tensor::Small(d, ArrayD::default(s)),
        })
    }

    /// The array of element type `T`, or an error naming both types.
    pub fn array<T: Elem>(&self) -> Result<&ArrayD<T>> {
        match T::unwrap(self) {
            Some(a) => Ok(a),
            None => bail!("expected a {} tensor, got {}", T::DTYPE, self.dtype()),
        }
    }

    /// Takes the array of element type `T` out of the tensor.
    pub fn into_array<T: Elem>(self) -> Result<ArrayD<T>> {
        let dtype = self.dtype();
        match T::into_array(self) {
            Some(a) => Ok(a),
            None => bail!("expected a {} tensor, got {dtype}", T::DTYPE),
        }
    }

    /// The same elements under a new shape with the same element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        Ok(map_array!(self, a => reshape_array(a, shape)?))
    }

    /// Elements of an integer tensor as i64 (for shapes, axes, indices).
    pub fn to_i64_vec(&self) -> Result<Vec<i64>> {
        Ok(match self {
            Tensor::I64(a) => a.iter().copied().collect(),
            Tensor::I32(a) => a.iter().map(|&v| v as i64).collect(),
            Tensor::I16(a) => a.iter().map(|&v| v as i64).collect(),
            Tensor::I8(a) => a.iter().map(|&v| v as i64).collect(),
            Tensor::U8(a) => a.iter().map(|&v| v as i64).collect(),
            Tensor::U16(a) => a.iter().map(|&v| v as i64).collect(),
            Tensor::U32(a) => a.iter().map(|&v| v as i64).collect(),
            Tensor::U64(a) => a.iter().map(|&v| v as i64).collect(),
            t => bail!("expected an integer tensor, got {}", t.dtype()),
        })
    }

    /// Elements of a numeric or bool tensor as f64.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        Ok(match self {
            Tensor::F64(a) => a.iter().copied().collect(),
            Tensor::F32(a) => a.iter().map(|&v| v as f64).collect(),
            t => t.cast(DType::F64)?.array::<f64>()?.iter().copied().collect(),
        })
    }

    /// Elements of a numeric or bool tensor as f32 (cast as `cast` does),
    /// borrowed when they are contiguous f32 already.
    pub fn to_f32(&self) -> Result<std::borrow::Cow<'_, [f32]>> {
        use std::borrow::Cow;
        Ok(match self {
            Tensor::F32(a) => match a.as_slice() {
                Some(s) => Cow::Borrowed(s),
                None => Cow::Owned(a.iter().copied().collect()),
            },
            t => Cow::Owned(t.cast(DType::F32)?.into_array::<f32>()?.into_iter().collect()),
        })
    }

    /// The single element of a one-element tensor as i64.
    pub fn scalar_i64(&self) -> Result<i64> {
        match self.to_i64_vec()?.as_slice() {
            [v] => Ok(*v),
            _ => bail!("expected a single integer, got a tensor of shape {:?}", self.shape()),
        }
    }

    /// The single element of a one-element tensor as f64.
    pub fn scalar_f64(&self) -> Result<f64> {
        match self.to_f64_vec()?.as_slice() {
            [v] => Ok(*v),
            _ => bail!("expected a single number, got a tensor of shape {:?}", self.shape()),
        }
    }

    /// Stacks tensors of one element type and shape along a new first axis.
    pub fn stack(parts: &[&Tensor]) -> Result<Tensor> {
        fn typed<T: Elem>(_: &ArrayD<T>, parts: &[&Tensor]) -> Result<ArrayD<T>> {
            let views = parts.iter().map(|p| p.array::<T>().map(|a| a.view())).collect::<Result<Vec<_>>>()?;
            ndarray::stack(ndarray::Axis(0), &views).map_err(|e| crate::Error::Op(format!("cannot stack: {e}")))
        }
        let Some(first) = parts.first() else { bail!("nothing to stack") };
        if first.dtype().is_small() {
            bail!("cannot stack {} tensors", first.dtype());
        }
        Ok(map_array!(*first, a => typed(a, parts)?))
    }

    /// Size in bytes of the data as ONNX stores it (sub-byte types packed).
    pub fn byte_size(&self) -> usize {
        (self.len() * self.dtype().bits()).div_ceil(8)
    }
}

fn elem_dtype<T: Elem>(_: &ArrayD<T>) -> DType {
    T::DTYPE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_numel_limits_every_shape() {
        assert_eq!(checked_numel(&[]).unwrap(), 1);
        assert_eq!(checked_numel(&[2, 0, 3]).unwrap(), 0);
        assert_eq!(checked_numel(&[MAX_ELEMENTS]).unwrap(), MAX_ELEMENTS);
        assert!(checked_numel(&[MAX_ELEMENTS + 1]).is_err());
        assert!(checked_numel(&[1 << 40, 1 << 40]).is_err());
        // Empty, but ndarray could not represent the other dimensions.
        assert!(checked_numel(&[0, 1 << 40, 1 << 40]).is_err());
        assert!(checked_numel(&[1 << 32, 0]).is_err());
        assert!(Tensor::from_vec::<u16>(&[0, 1 << 40, 1 << 40], vec![]).is_err());
        assert!(Tensor::zeros(DType::F32, &[1 << 33, 0]).is_err());
    }
}
