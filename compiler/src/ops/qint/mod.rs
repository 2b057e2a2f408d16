//! Integer operators of quantized models (NUMERICS.md). The quantizer
//! (`crate::quant`) builds them; they are never read from ONNX. Their
//! `eval` is the integer oracle the interpreter runs, their `lower` emits
//! the `qint` kernels and the `ops_quant` scalar functions of the
//! runtimes, which compute exactly the same integers.
//!
//! Codes are int8 or uint8 (the operator's input type); weights are int8.

mod avg_pool;
mod conv;
mod conv_transpose;
mod elementwise;
mod layer_norm;
mod lut;
mod matmul;
mod reduce_mean;
mod resize;
mod softmax;

pub use avg_pool::IntAvgPool;
pub use conv::IntConv;
pub use elementwise::{BinaryKind, IntBinary, IntRescale, ADD_SHIFT};
pub use layer_norm::{IntLayerNorm, LAYER_NORM_FRAC_BITS, LAYER_NORM_GAIN_BITS, LAYER_NORM_MAX_ROW};
pub use lut::IntLut;
pub use conv_transpose::IntConvTranspose;
pub use matmul::IntMatMul;
pub use reduce_mean::{reduce_groups, IntReduceMean};
pub use resize::{q11_taps, IntResize, Sampling, RESIZE_SHIFT};
/// Code and accumulator tensors (int8, uint8, int32) as i32.
pub use super::quant::ints as int_values;
pub use softmax::{IntSoftmax, SOFTMAX_MAX_ROW, SOFTMAX_RECIP, SOFTMAX_TABLE_BITS};

use crate::back::program::Lit;
use crate::quant::fixed_point::{output_stage, requantize, Multiplier, Rounding};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// The output stage of an integer operator: requantization, the output
/// zero point and the clamp of a fused activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    pub zero: i32,
    pub min: i32,
    pub max: i32,
    pub rounding: Rounding,
}

impl Stage {
    /// The code of accumulator `acc` scaled by `mul`.
    pub fn apply(&self, acc: i32, mul: Multiplier) -> i32 {
        output_stage(requantize(acc, mul, self.rounding), self.zero, self.min, self.max)
    }

    /// `[zero, min, max, single]` as the literal parameters of a kernel.
    fn lits(&self) -> Vec<Lit> {
        vec![Lit::Int(self.zero as i64), Lit::Int(self.min as i64), Lit::Int(self.max as i64), Lit::Bool(self.single())]
    }

    fn single(&self) -> bool {
        self.rounding == Rounding::Single
    }
}

/// Up to two spatial axes as `[H, W]` for the 2-D kernels; missing
/// leading axes have size 1. None for three or more.
pub fn plane_axes(axes: &[super::spatial::Axis]) -> Option<(super::spatial::Axis, super::spatial::Axis)> {
    let unit = super::spatial::Axis { input: 1, kernel: 1, stride: 1, dilation: 1, pad_begin: 0, pad_end: 0, output: 1 };
    match axes {
        [] => Some((unit, unit)),
        [a] => Some((unit, *a)),
        [a, b] => Some((*a, *b)),
        _ => None,
    }
}

/// The range of codes of an 8-bit type.
pub fn code_range(d: DType) -> Result<(i32, i32)> {
    match d {
        DType::I8 => Ok((-128, 127)),
        DType::U8 => Ok((0, 255)),
        d => bail!("quantized codes must be int8 or uint8, got {d}"),
    }
}

/// Codes (already in range) as a tensor of `dtype` (int8 or uint8).
pub fn codes(dtype: DType, shape: &[usize], values: Vec<i32>) -> Result<Tensor> {
    match dtype {
        DType::I8 => Tensor::from_vec(shape, values.into_iter().map(|v| v as i8).collect()),
        DType::U8 => Tensor::from_vec(shape, values.into_iter().map(|v| v as u8).collect()),
        d => bail!("quantized codes must be int8 or uint8, got {d}"),
    }
}

/// The multiplier's `(m, e)` as integer literals.
fn mul_lits(m: Multiplier) -> [Lit; 2] {
    [Lit::Int(m.m as i64), Lit::Int(m.exponent as i64)]
}
