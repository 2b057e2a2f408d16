//! Code generation for Resize (and Upsample): the per-axis sampling tables
//! `Resize::tables` computes (from `resize_sample.rs`) become constants,
//! read by the runtime's `resize` kernels (runtime-template kernels/resize.rs
//! and resize.h). Nearest mode copies elements of any type; linear and cubic
//! modes interpolate float tensors in the kernel's compute type (f32, f64
//! for float64) over all axes at once (the product of the axes' weights).
//! roi, scales and sizes must be compile-time constants.

use super::resize_sample::Taps;
use crate::back::lower::{Loc, LowerCx};
use crate::back::program::{Arg, ElemLit, Lit};
use crate::tensor::{DType, Tensor};
use crate::{bail, unsupported, Result};
use std::sync::Arc;

/// Most axes the kernels handle.
pub const MAX_RANK: usize = 8;

/// How every axis is sampled: per output position, the input position
/// nearest mode copies, or the filter's (position, weight) taps; `None`
/// where `tf_crop_and_resize` extrapolates.
pub enum Tables {
    Nearest(Vec<Vec<Option<usize>>>),
    Filter(Vec<Vec<Option<Taps>>>),
}

/// An input position as the kernels read it (-1: extrapolate).
fn position(p: Option<usize>) -> Result<i32> {
    match p {
        None => Ok(-1),
        Some(p) => i32::try_from(p).or_else(|_| bail!("a resized axis is too long for the kernel")),
    }
}

/// Emits the kernel call for output 0; `tables(shape, inputs)` gives the
/// sampling of input 0's shape from the constant inputs.
pub fn lower(cx: &mut LowerCx, tables: impl Fn(&[usize], &[Option<&Tensor>]) -> Result<Tables>, extrapolation: f64) -> Result<()> {
    let x = cx.input(0)?.clone();
    let mut params: Vec<Option<Arc<Tensor>>> = vec![None];
    for i in 1..cx.num_inputs() {
        params.push(match cx.opt_input(i) {
            None => None,
            Some(Loc { constant: Some(c), .. }) => Some(c.clone()),
            Some(_) => unsupported!("code generation needs Resize's roi, scales and sizes known at compile time (input {i} is computed at run time)"),
        });
    }
    let refs: Vec<Option<&Tensor>> = params.iter().map(|p| p.as_deref()).collect();
    let rank = x.shape.len();
    if rank == 0 || rank > MAX_RANK {
        unsupported!("code generation for Resize of rank {rank} (1 to {MAX_RANK} supported)");
    }
    let y = cx.output(0)?;
    let dtype = x.dtype;
    if dtype.is_small() || dtype == DType::Str {
        unsupported!("code generation for Resize of {dtype} tensors is not implemented yet");
    }
    let fill_value = |d: DType| -> Result<ElemLit> {
        let v = if d.is_int() { extrapolation.round_ties_even() } else { extrapolation };
        Ok(ElemLit { dtype: d, value: Arc::new(Tensor::scalar(v).cast(d)?) })
    };
    let mut dims = vec![rank];
    dims.extend(&x.shape);
    dims.extend(&y.shape);
    match tables(&x.shape, &refs)? {
        Tables::Nearest(picks) => {
            let mut flat = Vec::new();
            for axis in &picks {
                for &p in axis {
                    flat.push(position(p)?);
                }
            }
            let picks = cx.constant("picks", Tensor::from_vec(&[flat.len()], flat)?);
            let args = vec![x.arg_in(), y.arg_out(), picks.arg_in(), Arg::Dims(dims), Arg::Lit(Lit::Elem(fill_value(dtype)?))];
            cx.call("resize", "resize_nearest", vec![dtype], args);
        }
        Tables::Filter(taps) => {
            if !dtype.is_float() {
                unsupported!("code generation for linear and cubic Resize of {dtype} tensors is not implemented yet (float only)");
            }
            let compute = if dtype == DType::F64 { DType::F64 } else { DType::F32 };
            let (mut pos, mut weights) = (Vec::new(), Vec::new());
            for axis in &taps {
                let n = axis.iter().flatten().map(Vec::len).max().unwrap_or(1);
                dims.push(n);
                for t in axis {
                    match t {
                        Some(t) if t.len() == n => {
                            for &(p, w) in t {
                                pos.push(position(Some(p))?);
                                weights.push(w);
                            }
                        }
                        Some(_) => bail!("internal error: taps of unequal length along one axis"),
                        None => {
                            pos.extend(std::iter::repeat_n(-1, n));
                            weights.extend(std::iter::repeat_n(0.0, n));
                        }
                    }
                }
            }
            let pos = cx.constant("taps", Tensor::from_vec(&[pos.len()], pos)?);
            let weights = cx.constant("weights", Tensor::from_vec(&[weights.len()], weights)?.cast(compute)?);
            let args = vec![x.arg_in(), y.arg_out(), pos.arg_in(), weights.arg_in(), Arg::Dims(dims), Arg::Lit(Lit::Elem(fill_value(dtype)?))];
            cx.call("resize", "resize_filter", vec![dtype], args);
        }
    }
    Ok(())
}
