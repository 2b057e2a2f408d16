//! Code generation for the windowed and global pools: calls of the
//! runtime's `kernels/pool` with the window geometry normalised to three
//! spatial axes (the global pools are one window over the whole plane).

use super::super::matmul::lower::three;
use super::super::spatial::Axis;
use crate::back::lower::{LowerCx, Loc};
use crate::back::program::{Arg, ElemLit, Lit};
use crate::tensor::{DType, Tensor};
use crate::{unsupported, Result};
use std::sync::Arc;

/// What a pool computes per window.
#[derive(Debug, Clone, Copy)]
pub enum PoolKind {
    Max { column_major: bool },
    Average { count_include_pad: bool },
    Lp { p: i32 },
}

/// `dims` of the runtime pools: [planes, input×3, output×3, kernel×3,
/// stride×3, dilation×3, pad_begin×3, pad_end×3].
pub fn pool_dims(planes: usize, axes: &[Axis]) -> Result<Vec<usize>> {
    let mut d = vec![planes];
    let pick = |f: fn(&Axis) -> usize| axes.iter().map(f).collect::<Vec<_>>();
    for (v, fill) in [
        (pick(|a| a.input), 1),
        (pick(|a| a.output), 1),
        (pick(|a| a.kernel), 1),
        (pick(|a| a.stride), 1),
        (pick(|a| a.dilation), 1),
        (pick(|a| a.pad_begin), 0),
        (pick(|a| a.pad_end), 0),
    ] {
        d.extend(three(&v, fill)?);
    }
    Ok(d)
}

/// The lowest value of an element type (MaxPool's empty windows).
fn lowest(d: DType) -> Result<Lit> {
    let t = match d {
        DType::F32 => Tensor::scalar(f32::NEG_INFINITY),
        DType::F64 => Tensor::scalar(f64::NEG_INFINITY),
        DType::U8 => Tensor::scalar(0u8),
        DType::I8 => Tensor::scalar(i8::MIN),
        DType::I16 => Tensor::scalar(i16::MIN),
        d => unsupported!("code generation for MaxPool on {d} is not implemented yet"),
    };
    Ok(Lit::Elem(ElemLit { dtype: d, value: Arc::new(t) }))
}

/// Emits the pool of `x` with geometry `dims` into output 0 (and the
/// indices into output 1 for MaxPool, when used).
pub fn lower_pool(cx: &mut LowerCx, x: &Loc, kind: PoolKind, dims: Vec<usize>) -> Result<()> {
    let dtype = x.dtype;
    let float = matches!(dtype, DType::F32 | DType::F64);
    let small_int_max = matches!(kind, PoolKind::Max { .. }) && matches!(dtype, DType::U8 | DType::I8 | DType::I16);
    if !float && !small_int_max {
        unsupported!("code generation for {kind:?} pooling on {dtype} is not implemented yet");
    }
    let y = if cx.has_output(0) {
        cx.output(0)?
    } else {
        let (_, shape) = cx.output_type(1)?;
        let len = shape.iter().product();
        cx.scratch(dtype, len)
    };
    if y.is_empty() {
        if cx.has_output(1) {
            cx.output(1)?;
        }
        return Ok(());
    }
    let dims = Arg::Dims(dims);
    match kind {
        PoolKind::Max { column_major } => {
            let low = Arg::Lit(lowest(dtype)?);
            if cx.has_output(1) {
                let idx = cx.output(1)?;
                let args = vec![x.arg_in(), y.arg_out(), idx.arg_out(), dims, low, Arg::Lit(Lit::Bool(column_major))];
                cx.call("pool", "max_pool_indices", vec![dtype], args);
            } else {
                cx.call("pool", "max_pool", vec![dtype], vec![x.arg_in(), y.arg_out(), dims, low]);
            }
        }
        PoolKind::Average { count_include_pad } => {
            cx.call("pool", "average_pool", vec![dtype], vec![x.arg_in(), y.arg_out(), dims, Arg::Lit(Lit::Bool(count_include_pad))]);
        }
        PoolKind::Lp { p } => {
            cx.call("pool", "lp_pool", vec![dtype], vec![x.arg_in(), y.arg_out(), dims, Arg::Lit(Lit::Int(p as i64))]);
        }
    }
    Ok(())
}
