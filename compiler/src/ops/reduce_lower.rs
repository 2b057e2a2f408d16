//! Code generation for the reduction family: calls of the runtime's
//! `reduce` kernels (runtime-template kernels/reduce.rs and reduce.h).
//! Reduce* walk a general strided description of kept and reduced axes;
//! ArgMax/ArgMin, Softmax & co, CumSum/CumProd and TopK run along one axis
//! described as `(outer, n, inner)`. Every dimension is a literal.

use crate::back::lower::{row_major_strides, Loc, LowerCx};
use crate::back::program::{Arg, Lit};
use crate::tensor::DType;
use crate::Result;

/// The kernel module of this family.
const MODULE: &str = "reduce";

/// Element types the kernels are instantiated for.
pub fn check_dtype(what: &str, d: DType) -> Result<()> {
    if !(d.is_float() || d.is_int()) || d.is_small() {
        crate::unsupported!("code generation for {what} on {d} is not implemented yet");
    }
    Ok(())
}

/// `(outer, n, inner)` of `shape` around `axis`.
pub fn around(shape: &[usize], axis: usize) -> [usize; 3] {
    let outer = shape[..axis].iter().product();
    let n = shape.get(axis).copied().unwrap_or(1);
    let inner = shape.get(axis + 1..).map_or(1, |s| s.iter().product());
    [outer, n, inner]
}

/// Dims and strides of the listed axes, unit dims dropped and neighbours
/// that walk memory contiguously merged.
fn merged(shape: &[usize], strides: &[isize], axes: impl Iterator<Item = usize>) -> (Vec<usize>, Vec<usize>) {
    let (mut dims, mut st): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    for a in axes {
        let (d, s) = (shape[a], strides[a] as usize);
        if d == 1 {
            continue;
        }
        if let (Some(ld), Some(ls)) = (dims.last_mut(), st.last_mut()) {
            if *ls == s * d {
                *ld *= d;
                *ls = s;
                continue;
            }
        }
        dims.push(d);
        st.push(s);
    }
    (dims, st)
}

/// The strided description of lanes over `axes` (normalised, distinct) of
/// a row-major `shape`: `[kr, rr, kept dims (kr), their strides, reduced
/// dims (rr), their strides]`.
pub fn strided_dims(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    let strides = row_major_strides(shape);
    let rank = shape.len();
    let (kept, kept_strides) = merged(shape, &strides, (0..rank).filter(|a| !axes.contains(a)));
    let (red, red_strides) = merged(shape, &strides, (0..rank).filter(|a| axes.contains(a)));
    let mut dims = vec![kept.len(), red.len()];
    dims.extend(kept);
    dims.extend(kept_strides);
    dims.extend(red);
    dims.extend(red_strides);
    dims
}

/// `y = reduce(x)` over `axes` (normalised, distinct) with the kernel's
/// `kind` code; `y` holds the kept elements in row-major order.
pub fn reduce(cx: &mut LowerCx, x: &Loc, y: &Loc, axes: &[usize], kind: i64) -> Result<()> {
    check_dtype("a reduction", x.dtype)?;
    if y.is_empty() {
        return Ok(());
    }
    let dims = strided_dims(&x.shape, axes);
    cx.call(MODULE, "reduce", vec![x.dtype], vec![x.arg_in(), y.arg_out(), Arg::Lit(Lit::Int(kind)), Arg::Dims(dims)]);
    Ok(())
}

/// ArgMax (`max`) or ArgMin along `axis` into int64 `y`.
pub fn arg_extremum(cx: &mut LowerCx, x: &Loc, y: &Loc, axis: usize, max: bool, last: bool) -> Result<()> {
    check_dtype("ArgMax/ArgMin", x.dtype)?;
    let dims = around(&x.shape, axis);
    if y.is_empty() || dims[1] == 0 {
        return Ok(());
    }
    let args = vec![x.arg_in(), y.arg_out(), Arg::Dims(dims.to_vec()), Arg::Lit(Lit::Bool(max)), Arg::Lit(Lit::Bool(last))];
    cx.call(MODULE, "arg_extremum", vec![x.dtype], args);
    Ok(())
}

/// Softmax (`kind` 0), LogSoftmax (1) or Hardmax (2) along the middle of
/// `dims` = `(outer, n, inner)`.
pub fn softmax(cx: &mut LowerCx, x: &Loc, y: &Loc, dims: [usize; 3], kind: i64) -> Result<()> {
    check_dtype("Softmax", x.dtype)?;
    if y.is_empty() {
        return Ok(());
    }
    cx.call(MODULE, "softmax", vec![x.dtype], vec![x.arg_in(), y.arg_out(), Arg::Lit(Lit::Int(kind)), Arg::Dims(dims.to_vec())]);
    Ok(())
}

/// Running sums or products along `axis`.
pub fn cumulative(cx: &mut LowerCx, x: &Loc, y: &Loc, axis: usize, flags: [bool; 3]) -> Result<()> {
    check_dtype("CumSum", x.dtype)?;
    if y.is_empty() {
        return Ok(());
    }
    let [product, exclusive, reverse] = flags;
    let args = vec![
        x.arg_in(),
        y.arg_out(),
        Arg::Dims(around(&x.shape, axis).to_vec()),
        Arg::Lit(Lit::Bool(product)),
        Arg::Lit(Lit::Bool(exclusive)),
        Arg::Lit(Lit::Bool(reverse)),
    ];
    cx.call(MODULE, "cumulative", vec![x.dtype], args);
    Ok(())
}

/// Running sums or products along the axis held by the int32/int64
/// tensor `axis`, read at run time.
pub fn cumulative_runtime_axis(cx: &mut LowerCx, x: &Loc, axis: &Loc, y: &Loc, flags: [bool; 3]) -> Result<()> {
    check_dtype("CumSum", x.dtype)?;
    let name = match axis.dtype {
        DType::I64 => "cumulative_axis_i64",
        DType::I32 => "cumulative_axis_i32",
        d => crate::bail!("the axis must be int32 or int64, got {d}"),
    };
    if axis.len() != 1 {
        crate::bail!("the axis must hold one value, got shape {:?}", axis.shape);
    }
    if y.is_empty() {
        return Ok(());
    }
    let [product, exclusive, reverse] = flags;
    let mut dims = vec![x.shape.len()];
    dims.extend(&x.shape);
    let args = vec![
        x.arg_in(),
        axis.arg_in(),
        y.arg_out(),
        Arg::Dims(dims),
        Arg::Lit(Lit::Bool(product)),
        Arg::Lit(Lit::Bool(exclusive)),
        Arg::Lit(Lit::Bool(reverse)),
    ];
    cx.call(MODULE, name, vec![x.dtype], args);
    Ok(())
}

/// TopK along `axis`: `values` and int64 `indices`, sorted.
pub fn top_k(cx: &mut LowerCx, x: &Loc, values: &Loc, indices: &Loc, axis: usize, k: usize, largest: bool) -> Result<()> {
    check_dtype("TopK", x.dtype)?;
    if values.is_empty() {
        return Ok(());
    }
    let mut dims = around(&x.shape, axis).to_vec();
    dims.push(k);
    let args = vec![x.arg_in(), values.arg_out(), indices.arg_out(), Arg::Dims(dims), Arg::Lit(Lit::Bool(largest))];
    cx.call(MODULE, "top_k", vec![x.dtype], args);
    Ok(())
}
