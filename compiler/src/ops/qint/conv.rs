//! IntConv: the integer convolution of NUMERICS.md, which also carries
//! Gemm and MatMul with constant weights (as 1x1 convolutions over no
//! spatial axes). int8 weights per output channel, an int32 bias with the
//! input zero point folded in, per-channel requantization and the output
//! stage with a fused activation.

use super::super::conv::lower::{self as conv_lower, Channels};
use super::super::spatial::{Axis, Traversal};
use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{codes, int_values, Stage};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::quant::fixed_point::Multiplier;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// Inputs: codes `X` [N, C_in, spatial...], int8 weights `W` [C_out,
/// C_in / group, kernel...], the folded int32 bias [C_out] (`b_q − z_x ·
/// Σ W`), and the int32 multipliers and exponents [C_out].
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

impl OpDef for IntConv {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntConv is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, w) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        let (Some(xs), Some(ws)) = (x.shape.as_fixed(), w.shape.as_fixed()) else { bail!("IntConv needs fixed shapes") };
        Ok(vec![TensorType::fixed(x.dtype, &self.out_shape(&xs, &ws)?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, w) = (inputs.req(0)?, inputs.req(1)?);
        let (bias, mult, exp) = (int_values(inputs.req(2)?)?, int_values(inputs.req(3)?)?, int_values(inputs.req(4)?)?);
        let out = self.out_shape(x.shape(), w.shape())?;
        let c_out = w.shape()[0];
        let ws = int_values(w)?;
        let per_channel = ws.len() / c_out.max(1);
        // Σ (q_x − z_x) · w + b_q over zero-padded centred inputs equals the
        // kernel's Σ q_x · w + folded bias with padding read as z_x.
        let xs: Vec<i32> = int_values(x)?.into_iter().map(|v| v - self.x_zero).collect();
        let unfolded: Vec<i32> = (0..c_out)
            .map(|c| {
                let sum: i32 = ws[c * per_channel..(c + 1) * per_channel].iter().fold(0i32, |a, &v| a.wrapping_add(v));
                bias[c].wrapping_add(self.x_zero.wrapping_mul(sum))
            })
            .collect();
        let acc = if self.axes.is_empty() {
            let rows = xs.len() / per_channel.max(1);
            let mut acc = Vec::with_capacity(rows * c_out);
            for r in 0..rows {
                let x_row = &xs[r * per_channel..(r + 1) * per_channel];
                for c in 0..c_out {
                    let w_row = &ws[c * per_channel..(c + 1) * per_channel];
                    acc.push(x_row.iter().zip(w_row).fold(unfolded[c], |a, (&p, &q)| a.wrapping_add(p.wrapping_mul(q))));
                }
            }
            acc
        } else {
            let ch = Channels { batch: out[0], c_in: x.shape()[1], c_out, group: self.group };
            conv_lower::conv(&xs, &ws, Some(&unfolded), ch, &Traversal::forward(&self.axes)?)?
        };
        let plane: usize = if self.axes.is_empty() { 1 } else { out[2..].iter().product() };
        let y = acc
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let c = (i / plane.max(1)) % c_out;
                self.stage.apply(a, Multiplier { m: mult[c], exponent: exp[c] })
            })
            .collect();
        Ok(vec![codes(x.dtype(), &out, y)?])
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
