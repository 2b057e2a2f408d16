//! IntConv: the integer convolution of NUMERICS.md, which also carries
//! Gemm and MatMul with constant weights (as 1x1 convolutions over no
//! spatial axes). int8 weights per output channel, a bias with the input
//! zero point folded in (int32 for 8-bit codes, int64 for int16: 16x8),
//! per-channel requantization and the output stage with a fused activation.
//! The oracle computes the sums with `exact`'s blocked products.

use super::super::conv::lower::{self as conv_lower, Channels};
use super::super::spatial::{Axis, Traversal};
use super::super::{Arg, LowerCx, OpDef, Slots};
use super::exact::{self, ConvGeom};
use super::{acc_dtype, codes, int_values, is_wide, Stage, Wide};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::quant::fixed_point::Multiplier;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// Inputs: codes `X` [N, C_in, spatial...], int8 weights `W` [C_out,
/// C_in / group, kernel...], the folded bias [C_out] (`b_q − z_x · Σ W`;
/// int32, or int64 for int16 codes), and the int32 multipliers and
/// exponents [C_out].
#[derive(Debug, Clone)]
pub struct IntConv {
    pub axes: Vec<Axis>,
    pub group: usize,
    pub x_zero: i32,
    pub stage: Stage,
}

impl IntConv {
    fn out_shape(&self, x: &[usize], w: &[usize]) -> Result<Vec<usize>> {
        if self.axes.is_empty() {
            // A matrix product: X [..., K] by W [N, K].
            let (Some((&k, lead)), [n, kw]) = (x.split_last(), w) else { bail!("IntConv: X {x:?} and W {w:?} are not [..., K] and [N, K]") };
            if k != *kw {
                bail!("IntConv: X {x:?} and W {w:?} disagree on K");
            }
            return Ok([lead, &[*n]].concat());
        }
        if x.len() != self.axes.len() + 2 || w.len() != x.len() {
            bail!("IntConv: X {x:?} and W {w:?} do not match {} spatial axes", self.axes.len());
        }
        if x[1] != w[1] * self.group || w[0] % self.group != 0 {
            bail!("IntConv: X {x:?} and W {w:?} do not match group {}", self.group);
        }
        let mut out = vec![x[0], w[0]];
        out.extend(self.axes.iter().map(|a| a.output));
        Ok(out)
    }
}

/// The constants of an IntConv: the folded bias (int32, or int64 for
/// int16 codes), the multipliers and exponents per output channel, and
/// whether every accumulator also fits in int32 (then a kernel may sum an
/// int16 layer in int32 with the same result).
#[derive(Debug, Clone)]
pub struct ConvConstants {
    pub bias: Tensor,
    pub mult: Vec<i32>,
    pub exp: Vec<i32>,
    pub fits_int32: bool,
}

/// Where a convolution's input zero point goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroPoint {
    /// Folded into the bias (`b_q − z_x · Σ w`): the kernel multiplies the
    /// codes as they are (IntConv, every output sums the same products).
    Folded,
    /// Subtracted from each code in the kernel (`(q_x − z_x) · w`): for
    /// IntConvTranspose, whose number of products varies by position.
    Centred,
}

/// Per output channel `c` (row `c` of the weight codes `qw`, scale
/// `sw[c]`) of a convolution from codes `x = (scale, zero point, type)` to
/// output scale `s_out`: `b_q = round_half_even(b / (s_x · s_w[c]))`, with
/// the zero point folded in or not (`zero`), and the multiplier of `s_x ·
/// s_w[c] / s_out`, once `(|b_q| + max|x| · Σ|w|) · 2^max(e, 0)` is proven
/// below the accumulator's limit, `x` being the code (folded) or the code
/// minus the zero point (centred): 2^31 for 8-bit codes, 2^62 for int16
/// (NUMERICS.md, "16x8").
pub fn conv_constants((s_x, z_x, dtype): (f64, i32, DType), qw: &[i8], sw: &[f32], bias_f: &[f64], s_out: f64, zero: ZeroPoint) -> Result<ConvConstants> {
    let wide = is_wide(dtype)?;
    let (lo, hi) = super::code_range(dtype)?;
    let x_bound = match zero {
        ZeroPoint::Folded => lo.unsigned_abs().max(hi.unsigned_abs()),
        ZeroPoint::Centred => z_x.abs_diff(lo).max(hi.abs_diff(z_x)),
    } as i128;
    let limit = super::acc_limit(dtype)?;
    let c_out = sw.len();
    let per_channel = qw.len() / c_out.max(1);
    let (mut folded, mut mult, mut exp, mut fits_int32) = (Vec::new(), Vec::new(), Vec::new(), true);
    for c in 0..c_out {
        let s_acc = s_x * sw[c] as f64;
        let b = (bias_f[c] / s_acc).round_ties_even();
        let row = &qw[c * per_channel..(c + 1) * per_channel];
        let sum: i128 = row.iter().map(|&v| v as i128).sum();
        let abs: i128 = row.iter().map(|&v| (v as i128).abs()).sum();
        let m = crate::quant::fixed_point::quantize_multiplier(s_acc / s_out)
            .ok_or_else(|| crate::Error::Op(format!("the requantization multiplier of output channel {c} is out of range")))?;
        if !b.is_finite() || b.abs() >= limit as f64 {
            bail!("the bias of output channel {c} is too large for the input scale");
        }
        let f = match zero {
            ZeroPoint::Folded => b as i128 - z_x as i128 * sum,
            ZeroPoint::Centred => b as i128,
        };
        let bound = (f.abs() + x_bound * abs) << m.exponent.max(0);
        if bound >= limit {
            bail!("the accumulator of output channel {c} could overflow (bound {bound}); the bias or the weights are too large for the input scale");
        }
        fits_int32 &= bound < 1 << 31;
        folded.push(f as i64);
        mult.push(m.m);
        exp.push(m.exponent);
    }
    let bias = if wide { Tensor::from_vec(&[c_out], folded)? } else { Tensor::from_vec(&[c_out], folded.into_iter().map(|v| v as i32).collect())? };
    Ok(ConvConstants { bias, mult, exp, fits_int32 })
}

impl IntConv {
    /// The oracle with accumulators `A` (i32 for 8-bit codes, i64 for int16).
    fn run<A: Wide>(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (acc, out) = self.accumulate::<A>(inputs)?;
        let (mult, exp) = (int_values(inputs.req(3)?)?, int_values(inputs.req(4)?)?);
        let c_out = inputs.req(1)?.shape()[0];
        if mult.len() != c_out || exp.len() != c_out {
            bail!("IntConv: the multipliers need {c_out} values");
        }
        Ok(vec![codes(inputs.req(0)?.dtype(), &out, self.requantize(&acc, &mult, &exp, &out))?])
    }

    /// The accumulators (bias included) before requantization, in the
    /// order of the output (channel-major planes, or rows of `C_out` for a
    /// matrix product), and the output shape: what the requantization
    /// scales, for measurements of the layer's pre-activation output.
    pub fn accumulators(&self, inputs: &[Option<&Tensor>]) -> Result<(Vec<i64>, Vec<usize>)> {
        if is_wide(inputs.req(0)?.dtype())? {
            return self.accumulate::<i64>(inputs);
        }
        let (acc, out) = self.accumulate::<i32>(inputs)?;
        Ok((acc.into_iter().map(i64::from).collect(), out))
    }

    /// The output `run` computes from `inputs`, given its accumulators
    /// `acc` and output shape `out` under another folded bias `old` (what
    /// [`IntConv::accumulators`] gave for the same input and weights with
    /// that bias): the sums are moved to the bias of `inputs` first.
    pub fn output_from(&self, inputs: &[Option<&Tensor>], acc: &[i64], old: &[i64], out: &[usize]) -> Result<Tensor> {
        let x = inputs.req(0)?;
        if is_wide(x.dtype())? {
            return self.rebiased::<i64>(inputs, acc, old, out);
        }
        self.rebiased::<i32>(inputs, acc, old, out)
    }

    fn rebiased<A: Wide>(&self, inputs: &[Option<&Tensor>], acc: &[i64], old: &[i64], out: &[usize]) -> Result<Tensor> {
        let new = <i64 as Wide>::values(inputs.req(2)?)?;
        let (mult, exp) = (int_values(inputs.req(3)?)?, int_values(inputs.req(4)?)?);
        let c_out = new.len();
        if old.len() != c_out || mult.len() != c_out || exp.len() != c_out {
            bail!("IntConv: the bias and multipliers need {c_out} values");
        }
        let plane: usize = if self.axes.is_empty() { 1 } else { out[2..].iter().product() };
        let moved: Vec<A> = acc.iter().enumerate().map(|(i, &a)| {
            let c = (i / plane.max(1)) % c_out.max(1);
            A::wrap(a - old[c] + new[c])
        }).collect();
        codes(inputs.req(0)?.dtype(), out, self.requantize(&moved, &mult, &exp, out))
    }

    /// The exact sums with the folded bias, and the output shape.
    fn accumulate<A: Wide>(&self, inputs: &[Option<&Tensor>]) -> Result<(Vec<A>, Vec<usize>)> {
        let (x, w) = (inputs.req(0)?, inputs.req(1)?);
        let bias = A::values(inputs.req(2)?)?;
        let out = self.out_shape(x.shape(), w.shape())?;
        let c_out = w.shape()[0];
        if bias.len() != c_out {
            bail!("IntConv: the bias needs {c_out} values");
        }
        let Tensor::I8(wa) = w else { bail!("IntConv weights must be int8, got {}", w.dtype()) };
        let ws = super::super::dense::row_major(wa);
        let xs = exact::as_i16(x)?;
        let acc = match super::plane_axes(&self.axes) {
            _ if self.axes.is_empty() => exact::matmul(&xs, &ws, &bias, w.shape()[1])?,
            Some((h, wd)) => {
                let geom = ConvGeom {
                    batch: out[0],
                    c_in: x.shape()[1],
                    c_out,
                    group: self.group,
                    in_hw: [h.input, wd.input],
                    out_hw: [h.output, wd.output],
                    kernel: [h.kernel, wd.kernel],
                    stride: [h.stride, wd.stride],
                    dilation: [h.dilation, wd.dilation],
                    pad: [h.pad_begin, wd.pad_begin],
                };
                exact::conv(&xs, self.x_zero as i16, &ws, &bias, &geom)?
            }
            None if A::BITS == 32 => self.nd(&xs, &ws, &int_values(inputs.req(2)?)?, &out)?.into_iter().map(A::of).collect(),
            None => crate::unsupported!("int16 convolutions over {} spatial axes", self.axes.len()),
        };
        Ok((acc, out))
    }

    /// The output codes of accumulators `acc` (as [`Self::accumulators`]
    /// orders them).
    fn requantize<A: Wide>(&self, acc: &[A], mult: &[i32], exp: &[i32], out: &[usize]) -> Vec<i32> {
        let c_out = mult.len();
        let muls: Vec<Multiplier> = mult.iter().zip(exp).map(|(&m, &e)| Multiplier { m, exponent: e }).collect();
        let stage = &self.stage;
        // Channel-major planes, or rows of `c_out` for a matrix product.
        let mut y = Vec::with_capacity(acc.len());
        if self.axes.is_empty() {
            for row in acc.chunks(c_out.max(1)) {
                y.extend(row.iter().zip(&muls).map(|(&a, &m)| a.staged(stage, m)));
            }
        } else {
            let plane: usize = out[2..].iter().product();
            for (p, &m) in acc.chunks(plane.max(1)).zip(muls.iter().cycle()) {
                y.extend(p.iter().map(|&a| a.staged(stage, m)));
            }
        }
        y
    }

    /// Three or more spatial axes (8-bit codes; code generation refuses
    /// them): the float path's im2col on centred int32 codes, `bias` the
    /// folded int32 bias.
    fn nd(&self, xs: &[i16], ws: &[i8], bias: &[i32], out: &[usize]) -> Result<Vec<i32>> {
        let c_out = bias.len();
        let per_channel = ws.len() / c_out.max(1);
        let ws: Vec<i32> = ws.iter().map(|&v| v as i32).collect();
        let xs: Vec<i32> = xs.iter().map(|&v| v as i32 - self.x_zero).collect();
        // Σ (q_x − z_x) · w + b_q over zero-padded centred inputs equals the
        // kernel's Σ q_x · w + folded bias with padding read as z_x.
        let unfolded: Vec<i32> = (0..c_out)
            .map(|c| {
                let sum = ws[c * per_channel..(c + 1) * per_channel].iter().fold(0i32, |a, &v| a.wrapping_add(v));
                bias[c].wrapping_add(self.x_zero.wrapping_mul(sum))
            })
            .collect();
        let plane: usize = self.axes.iter().map(|a| a.input).product();
        let ch = Channels { batch: out[0], c_in: xs.len() / (out[0] * plane).max(1), c_out, group: self.group };
        conv_lower::conv(&xs, &ws, Some(&unfolded), ch, &Traversal::forward(&self.axes)?)
    }
}

impl OpDef for IntConv {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntConv is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, w) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        let (Some(xs), Some(ws)) = (x.shape.as_fixed(), w.shape.as_fixed()) else { bail!("IntConv needs fixed shapes") };
        let bias = inputs.req(2)?.ty;
        if bias.dtype != acc_dtype(x.dtype)? {
            bail!("IntConv on {} codes needs a {} bias, got {}", x.dtype, acc_dtype(x.dtype)?, bias.dtype);
        }
        Ok(vec![TensorType::fixed(x.dtype, &self.out_shape(&xs, &ws)?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        if is_wide(x.dtype())? {
            self.run::<i64>(inputs)
        } else {
            self.run::<i32>(inputs)
        }
    }

    fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        let per_output = inputs.opt(1).and_then(|w| w.shape.as_fixed()).map(|d| d.iter().skip(1).product::<usize>() as u64);
        let outs = outputs.first().and_then(|y| y.shape.numel()).map(|n| n as u64);
        per_output.zip(outs).map_or(0, |(a, b)| a.saturating_mul(b))
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (x, w) = (cx.input(0)?.clone(), cx.input(1)?.clone());
        let (bias, mult, exp) = (cx.input(2)?.clone(), cx.input(3)?.clone(), cx.input(4)?.clone());
        let y = cx.output(0)?;
        if w.dtype != DType::I8 {
            bail!("IntConv weights must be int8, got {}", w.dtype);
        }
        // Up to two spatial axes, as [H, W]; fewer are size-1 axes.
        let Some((h, wd)) = super::plane_axes(&self.axes) else {
            crate::unsupported!("integer convolutions over {} spatial axes", self.axes.len())
        };
        let (batch, c_in) = match self.axes.len() {
            0 => (x.len() / w.shape[1].max(1), w.shape[1]),
            _ => (x.shape[0], x.shape[1]),
        };
        let dims = vec![batch, c_in, h.input, wd.input, w.shape[0], h.output, wd.output, self.group];
        let geom = vec![h.kernel, wd.kernel, h.stride, wd.stride, h.dilation, wd.dilation, h.pad_begin, wd.pad_begin];
        let s = self.stage;
        let params = vec![self.x_zero as i64, s.zero as i64, s.min as i64, s.max as i64, s.single() as i64];
        let args = vec![
            x.arg_in(),
            w.arg_in(),
            bias.arg_in(),
            mult.arg_in(),
            exp.arg_in(),
            y.arg_out(),
            KArg::Dims(dims),
            KArg::Dims(geom),
            KArg::Ints(params),
        ];
        cx.call("qint", "conv", vec![x.dtype], args);
        Ok(())
    }

    /// int8: an integer operator rules produce; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}
