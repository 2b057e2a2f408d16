//! Integer operators of quantized models (NUMERICS.md). The quantizer
//! (`crate::quant`) builds them; they are never read from ONNX. Their
//! `eval` is the integer oracle the interpreter runs, their `lower` emits
//! the `qint` kernels and the `ops_quant` scalar functions of the
//! runtimes, which compute exactly the same integers.
//!
//! Codes are int8 or uint8, or int16 (16x8: NUMERICS.md, "16x8"); the
//! operator's input type, which is also its output type but for
//! IntRescale, the conversion between code types. Weights are int8. Sums
//! run in the code's accumulator: int32 for 8-bit codes, int64 for int16
//! (`fixed_point::Code::Acc`), wrapping like the kernels.

mod avg_pool;
mod conv;
mod conv_transpose;
mod elementwise;
pub mod exact;
mod layer_norm;
mod lut;
mod matmul;
mod reduce_mean;
mod resize;
mod softmax;

pub use avg_pool::IntAvgPool;
pub use conv::{conv_constants, ConvConstants, IntConv, ZeroPoint};
pub use elementwise::{add_shift, BinaryKind, IntBinary, IntConvert, IntRescale, ADD_SHIFT, ADD_SHIFT_16};
pub use layer_norm::{epsilon_term, layer_norm_limits, IntLayerNorm, LAYER_NORM_FRAC_BITS, LAYER_NORM_GAIN_BITS, LAYER_NORM_MAX_ROW, LAYER_NORM_MAX_ROW_16};
pub use lut::{lut16_error, lut16_inputs, lut16_table, lut_len, IntLut, LUT16_LEN};
pub use conv_transpose::IntConvTranspose;
pub use matmul::IntMatMul;
pub use reduce_mean::{reduce_groups, IntReduceMean};
pub use resize::{q11_taps, IntResize, Sampling, RESIZE_SHIFT};
/// Code and accumulator tensors (int8, uint8, int32) as i32.
pub use super::quant::ints as int_values;
pub use softmax::{softmax_output, softmax_table, IntSoftmax, SOFTMAX_MAX_ROW, SOFTMAX_RECIP, SOFTMAX_RECIP_16, SOFTMAX_TABLE_BITS};

use crate::back::program::Lit;
use crate::quant::fixed_point::{output_stage, output_stage_i64, requantize, requantize_i64, Multiplier, Rounding};
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
    #[inline]
    pub fn apply(&self, acc: i32, mul: Multiplier) -> i32 {
        output_stage(requantize(acc, mul, self.rounding), self.zero, self.min, self.max)
    }

    /// The code of an int64 accumulator (int16 codes) scaled by `mul`.
    #[inline]
    pub fn apply_i64(&self, acc: i64, mul: Multiplier) -> i32 {
        output_stage_i64(requantize_i64(acc, mul, self.rounding), self.zero, self.min, self.max)
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

/// An accumulator of the oracle (i32 for 8-bit codes, i64 for int16),
/// with the wrapping arithmetic of the kernels' `fixed_point::Acc`.
pub trait Wide: crate::quant::fixed_point::Acc + Default + Send + Sync + 'static {
    const BITS: u32;
    /// The accumulator of `stage`'s output scaled by `mul`.
    fn staged(self, stage: &Stage, mul: Multiplier) -> i32;
    /// The values of an int32 (or, for i64, int64) bias tensor.
    fn values(t: &Tensor) -> Result<Vec<Self>>;
    /// An exact sum as the accumulator: modulo 2^32 for int32 (what a
    /// wrapping int32 sum of the same terms gives).
    fn wrap(v: i64) -> Self;
}

impl Wide for i32 {
    const BITS: u32 = 32;
    #[inline]
    fn staged(self, stage: &Stage, mul: Multiplier) -> i32 {
        stage.apply(self, mul)
    }
    fn values(t: &Tensor) -> Result<Vec<i32>> {
        int_values(t)
    }
    #[inline]
    fn wrap(v: i64) -> i32 {
        v as i32
    }
}

impl Wide for i64 {
    const BITS: u32 = 64;
    #[inline]
    fn staged(self, stage: &Stage, mul: Multiplier) -> i32 {
        stage.apply_i64(self, mul)
    }
    fn values(t: &Tensor) -> Result<Vec<i64>> {
        match t.dtype() {
            DType::I64 | DType::I32 => t.to_i64_vec(),
            d => bail!("expected an int64 or int32 tensor, got {d}"),
        }
    }
    #[inline]
    fn wrap(v: i64) -> i64 {
        v
    }
}

/// Whether codes of `d` are 16-bit (int16: int64 accumulators, NUMERICS.md
/// "16x8") rather than 8-bit; an error for other types.
pub fn is_wide(d: DType) -> Result<bool> {
    code_range(d).map(|(lo, hi)| hi - lo > 255)
}

/// The bound every accumulator of codes of `d` stays below in magnitude
/// (NUMERICS.md): 2^31 for 8-bit codes, `WIDE_ACC_LIMIT` (2^62) for int16.
pub fn acc_limit(d: DType) -> Result<i128> {
    Ok(if is_wide(d)? { crate::quant::fixed_point::WIDE_ACC_LIMIT } else { 1 << 31 })
}

/// The type of the accumulators and biases of codes of `d`: int32 for
/// 8-bit codes, int64 for int16.
pub fn acc_dtype(d: DType) -> Result<DType> {
    Ok(if is_wide(d)? { DType::I64 } else { DType::I32 })
}

/// The range of codes of a code type (int8, uint8 or int16).
pub fn code_range(d: DType) -> Result<(i32, i32)> {
    match d {
        DType::I8 => Ok((-128, 127)),
        DType::U8 => Ok((0, 255)),
        DType::I16 => Ok((-32768, 32767)),
        d => bail!("quantized codes must be int8, uint8 or int16, got {d}"),
    }
}

/// Codes (already in range) as a tensor of `dtype` (int8, uint8 or int16).
pub fn codes(dtype: DType, shape: &[usize], values: Vec<i32>) -> Result<Tensor> {
    match dtype {
        DType::I8 => Tensor::from_vec(shape, values.into_iter().map(|v| v as i8).collect()),
        DType::U8 => Tensor::from_vec(shape, values.into_iter().map(|v| v as u8).collect()),
        DType::I16 => Tensor::from_vec(shape, values.into_iter().map(|v| v as i16).collect()),
        d => bail!("quantized codes must be int8, uint8 or int16, got {d}"),
    }
}

/// The multiplier's `(m, e)` as integer literals.
fn mul_lits(m: Multiplier) -> [Lit; 2] {
    [Lit::Int(m.m as i64), Lit::Int(m.exponent as i64)]
}
