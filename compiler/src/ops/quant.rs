//! Integer helpers shared by ConvInteger, QLinearConv, MatMulInteger and
//! QLinearMatMul: zero-point subtraction into int32, scale reading, and
//! requantization `clamp(round_half_even(acc · multiplier) + zero_point)`.

use super::dense::row_major;
use crate::back::lower::{Loc, LowerCx};
use crate::back::program::ScalarFn;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// Checks that `d` is one of the 8-bit integer types.
pub fn check_8bit(d: DType, what: &str) -> Result<()> {
    if !matches!(d, DType::U8 | DType::I8) {
        bail!("{what} must be uint8 or int8, got {d}");
    }
    Ok(())
}

/// The elements of an 8-bit, int16 or int32 tensor as i32.
pub fn ints(t: &Tensor) -> Result<Vec<i32>> {
    Ok(match t {
        Tensor::U8(a) => row_major(a).iter().map(|&v| v as i32).collect(),
        Tensor::I8(a) => row_major(a).iter().map(|&v| v as i32).collect(),
        Tensor::I16(a) => row_major(a).iter().map(|&v| v as i32).collect(),
        Tensor::I32(a) => row_major(a).into_owned(),
        t => bail!("expected an int8, uint8, int16 or int32 tensor, got {}", t.dtype()),
    })
}

/// A zero-point tensor's values (zero when absent); it must have the
/// element type of the data it belongs to.
pub fn zero_points(t: Option<&Tensor>, data: DType, what: &str) -> Result<Vec<i32>> {
    match t {
        None => Ok(vec![0]),
        Some(t) => {
            if t.dtype() != data {
                bail!("{what} is {} but its data is {data}", t.dtype());
            }
            if t.is_empty() {
                bail!("{what} is empty");
            }
            ints(t)
        }
    }
}

/// Positive finite scales as f32.
pub fn scales(t: &Tensor, what: &str) -> Result<Vec<f32>> {
    if !t.dtype().is_float() {
        bail!("{what} must be a float tensor, got {}", t.dtype());
    }
    let v: Vec<f32> = t.to_f64_vec()?.into_iter().map(|v| v as f32).collect();
    if v.is_empty() {
        bail!("{what} is empty");
    }
    Ok(v)
}

/// Checks that a per-tensor or per-`axis` parameter (zero point or scale)
/// has 1 or `dim` elements.
pub fn check_count(count: usize, dim: usize, what: &str) -> Result<()> {
    if count != 1 && count != dim {
        bail!("{what} has {count} elements; expected 1 or {dim}");
    }
    Ok(())
}

/// `x − zp` as i32 for `x` of `shape`; `zp` has one element or one per
/// index along `axis`.
pub fn centered(x: &Tensor, shape: &[usize], zp: &[i32], axis: usize, what: &str) -> Result<Vec<i32>> {
    let mut v = ints(x)?;
    match zp {
        [z] => v.iter_mut().for_each(|e| *e -= z),
        _ => {
            let Some(&dim) = shape.get(axis) else { bail!("{what}: axis {axis} out of range") };
            check_count(zp.len(), dim, what)?;
            let inner: usize = shape[axis + 1..].iter().product();
            for (i, e) in v.iter_mut().enumerate() {
                if let Some(z) = zp.get((i / inner.max(1)) % dim.max(1)) {
                    *e -= z;
                }
            }
        }
    }
    Ok(v)
}

/// `x − zero` as int32 in generated code, for the integer products:
/// computed at compile time when both are constants, else by the
/// runtime's `centered` into a scratch buffer. `zero` is absent (0), one
/// value, or one per index along `axis` of `x`; `what` names it in errors.
pub fn lower_centered(cx: &mut LowerCx, x: &Loc, zero: Option<&Loc>, axis: usize, what: &str) -> Result<Loc> {
    let count = zero.map_or(1, Loc::len);
    if count != 1 {
        check_count(count, x.shape.get(axis).copied().unwrap_or(0), what)?;
    }
    if let (Some(xc), Some(zc)) = (&x.constant, zero.map_or(Some(None), |z| z.constant.as_ref().map(Some))) {
        let zps = zero_points(zc.map(|z| &**z), x.dtype, what)?;
        let values = centered(xc, &x.shape, &zps, axis, what)?;
        return Ok(cx.constant(&format!("{what}_centered"), Tensor::from_vec(&x.shape, values)?));
    }
    // The zero point shaped to broadcast against x along `axis`.
    let mut shape = vec![1; x.shape.len()];
    if count != 1 {
        shape[axis] = count;
    }
    let zero = match zero {
        Some(z) => z.reshaped(&shape),
        None => {
            let t = match x.dtype {
                DType::U8 => Tensor::scalar(0u8),
                _ => Tensor::scalar(0i8),
            };
            cx.constant(what, t).reshaped(&shape)
        }
    };
    let out = cx.scratch(DType::I32, x.len()).reshaped(&x.shape);
    cx.map(ScalarFn::new("centered", vec![x.dtype, x.dtype], DType::I32), &[x, &zero], &out)?;
    Ok(out)
}

/// Requantizes int32 accumulators to `out` (uint8 or int8): element `i`
/// uses `multiplier(i)`; ties round to even, then the zero point is added
/// and the result saturates.
pub fn requantize(acc: &[i32], shape: &[usize], multiplier: impl Fn(usize) -> f64, zp: i32, out: DType) -> Result<Tensor> {
    let (lo, hi) = match out {
        DType::U8 => (0.0, 255.0),
        DType::I8 => (-128.0, 127.0),
        d => bail!("quantized output type {d} is not uint8 or int8"),
    };
    let q = |i: usize, a: i32| ((a as f64 * multiplier(i)).round_ties_even() + zp as f64).clamp(lo, hi);
    match out {
        DType::U8 => Tensor::from_vec(shape, acc.iter().enumerate().map(|(i, &a)| q(i, a) as u8).collect()),
        _ => Tensor::from_vec(shape, acc.iter().enumerate().map(|(i, &a)| q(i, a) as i8).collect()),
    }
}
