//! Code generation for the normalisations: calls of the runtime's `norm`
//! kernels (runtime-template kernels/norm.rs and norm.h). Every dimension
//! is a literal; parameters that broadcast are expanded into a contiguous
//! scratch copy first.

use crate::back::lower::{Loc, LowerCx};
use crate::back::program::{Arg, Lit, Step};
use crate::tensor::DType;
use crate::Result;

const MODULE: &str = "norm";

/// The float element types the kernels are instantiated for.
pub fn check_dtype(what: &str, d: DType) -> Result<()> {
    if !d.is_float() || d.is_small() {
        crate::unsupported!("code generation for {what} on {d} is not implemented yet");
    }
    Ok(())
}

/// `p` as a contiguous array of `shape` (which it broadcasts to), copied
/// into scratch unless it already is one.
pub fn contiguous_param(cx: &mut LowerCx, p: &Loc, shape: &[usize], dtype: DType) -> Result<Loc> {
    if p.dtype != dtype {
        crate::unsupported!("code generation for a {} parameter of a {dtype} normalisation is not implemented yet", p.dtype);
    }
    let len: usize = shape.iter().product();
    // Leading unit dims beyond `shape`'s rank are dropped.
    let extra = p.shape.len().saturating_sub(shape.len());
    if p.shape[..extra].iter().any(|&d| d != 1) {
        crate::unsupported!("code generation for parameters of shape {:?} over blocks {shape:?} is not implemented yet", p.shape);
    }
    let p = p.reshaped(&p.shape[extra..]);
    let ones = shape.len() - p.shape.len();
    if p.len() == len && p.shape.iter().zip(&shape[ones..]).all(|(a, b)| a == b) {
        return Ok(p.reshaped(shape));
    }
    let view = p.broadcast_view(shape)?;
    let dst = cx.scratch(dtype, len).reshaped(shape);
    cx.push(Step::Copy { src: view, dst: dst.view(), shape: shape.to_vec(), dtype });
    Ok(dst)
}

/// Where a statistics output goes: the output itself when it has the
/// element type of X, else scratch that is then cast into it.
struct Stat {
    buf: Loc,
    cast_to: Option<Loc>,
}

fn stat(cx: &mut LowerCx, slot: usize, dtype: DType, count: usize) -> Result<Stat> {
    if !cx.has_output(slot) {
        return Ok(Stat { buf: cx.scratch(dtype, count), cast_to: None });
    }
    let out = cx.output(slot)?;
    if out.dtype == dtype {
        return Ok(Stat { buf: out, cast_to: None });
    }
    check_dtype("statistics", out.dtype)?;
    Ok(Stat { buf: cx.scratch(dtype, count).reshaped(&out.shape), cast_to: Some(out) })
}

/// How [`group_norm`] normalises a block.
#[derive(Clone, Copy)]
pub struct NormKind {
    /// One scale and bias per group rather than per channel.
    pub by_group: bool,
    /// Outputs 1 and 2 receive each block's mean and inverse deviation.
    pub stats: bool,
    /// Subtract the mean (false for RMSNormalization).
    pub centered: bool,
}

/// Block normalisation (see the kernel): `dims = [count, groups,
/// per_channel, spatial]`, `scale` and `bias` contiguous.
pub fn group_norm(cx: &mut LowerCx, x: &Loc, scale: &Loc, bias: Option<&Loc>, dims: [usize; 4], epsilon: f64, kind: NormKind) -> Result<()> {
    let NormKind { by_group, stats, centered } = kind;
    check_dtype("a normalisation", x.dtype)?;
    let y = cx.output(0)?;
    let count = dims[0];
    let (mean, inv) = if stats {
        (stat(cx, 1, x.dtype, count)?, stat(cx, 2, x.dtype, count)?)
    } else {
        (Stat { buf: cx.scratch(x.dtype, count), cast_to: None }, Stat { buf: cx.scratch(x.dtype, count), cast_to: None })
    };
    if count == 0 {
        return Ok(());
    }
    let args = vec![
        x.arg_in(),
        scale.arg_in(),
        bias.unwrap_or(scale).arg_in(),
        y.arg_out(),
        mean.buf.arg_out(),
        inv.buf.arg_out(),
        Arg::Dims(dims.to_vec()),
        Arg::Lit(Lit::Float(epsilon, DType::F64)),
        Arg::Lit(Lit::Bool(by_group)),
        Arg::Lit(Lit::Bool(bias.is_some())),
        Arg::Lit(Lit::Bool(centered)),
    ];
    cx.call(MODULE, "group_norm", vec![x.dtype], args);
    for s in [mean, inv] {
        if let Some(out) = s.cast_to {
            cx.map(crate::ops::cast::cast_fn(s.buf.dtype, out.dtype), &[&s.buf], &out)?;
        }
    }
    Ok(())
}

/// LpNormalization along the middle of `dims` = `(outer, n, inner)`.
pub fn lp_norm(cx: &mut LowerCx, x: &Loc, dims: [usize; 3], p: i64) -> Result<()> {
    check_dtype("LpNormalization", x.dtype)?;
    let y = cx.output(0)?;
    if !y.is_empty() {
        cx.call(MODULE, "lp_norm", vec![x.dtype], vec![x.arg_in(), y.arg_out(), Arg::Dims(dims.to_vec()), Arg::Lit(Lit::Int(p))]);
    }
    Ok(())
}

/// LRN over `dims` = `[n, c, inner, size]`.
pub fn lrn(cx: &mut LowerCx, x: &Loc, dims: [usize; 4], alpha: f64, beta: f64, bias: f64) -> Result<()> {
    check_dtype("LRN", x.dtype)?;
    let y = cx.output(0)?;
    if !y.is_empty() {
        let f = |v: f64| Arg::Lit(Lit::Float(v, DType::F64));
        cx.call(MODULE, "lrn", vec![x.dtype], vec![x.arg_in(), y.arg_out(), Arg::Dims(dims.to_vec()), f(alpha), f(beta), f(bias)]);
    }
    Ok(())
}

/// MeanVarianceNormalization over `axes` (normalised, distinct).
pub fn mvn(cx: &mut LowerCx, x: &Loc, axes: &[usize], epsilon: f64) -> Result<()> {
    check_dtype("MeanVarianceNormalization", x.dtype)?;
    let y = cx.output(0)?;
    if !y.is_empty() {
        let dims = crate::ops::reduce_lower::strided_dims(&x.shape, axes);
        cx.call(MODULE, "mvn", vec![x.dtype], vec![x.arg_in(), y.arg_out(), Arg::Dims(dims), Arg::Lit(Lit::Float(epsilon, DType::F64))]);
    }
    Ok(())
}
