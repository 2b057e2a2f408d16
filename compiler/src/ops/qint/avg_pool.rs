//! IntAvgPool: average pooling of codes over up to two spatial axes.
//! Padding counts as the zero point when `include_pad`, else not at all.
//! Either the input's scale and zero point are kept (each window's sum
//! divided by its count, rounded half away from zero), or, when every
//! window has the same count, the sum is requantized to the output's own
//! parameters in one step (`requant`). Global average pooling is the window
//! that covers the whole plane. Sums run in the code's accumulator (int32,
//! int64 for int16 codes).

use super::super::spatial::Axis;
use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{codes, int_values, is_wide, Stage, Wide};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::quant::fixed_point::{Multiplier, Rounding};
use crate::tensor::Tensor;
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct IntAvgPool {
    /// The spatial axes (one or two; no dilation).
    pub axes: Vec<Axis>,
    pub include_pad: bool,
    pub x_zero: i32,
    /// `(s_in / (count · s_out))` and the output stage.
    pub requant: Option<(Multiplier, Stage)>,
}

/// `[H, W]` of one or two axes.
fn hw(axes: &[Axis]) -> Result<(Axis, Axis)> {
    match super::plane_axes(axes) {
        Some(hw) if !axes.is_empty() => Ok(hw),
        _ => bail!("integer average pooling over {} spatial axes", axes.len()),
    }
}

impl IntAvgPool {
    fn out_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        if x.len() != self.axes.len() + 2 {
            bail!("IntAvgPool: X {x:?} does not have {} spatial axes", self.axes.len());
        }
        let mut out = x[..2].to_vec();
        out.extend(self.axes.iter().map(|a| a.output));
        Ok(out)
    }
}

impl IntAvgPool {
    /// The kernel's `params`.
    fn params(&self) -> Vec<i64> {
        let (requant, m, stage) = match self.requant {
            Some((m, s)) => (1, m, s),
            None => (0, Multiplier { m: 0, exponent: 0 }, Stage { zero: 0, min: 0, max: 0, rounding: Rounding::Double }),
        };
        let single = (stage.rounding == Rounding::Single) as i64;
        vec![self.x_zero as i64, self.include_pad as i64, requant, m.m as i64, m.exponent as i64, stage.zero as i64, stage.min as i64, stage.max as i64, single]
    }
}

impl IntAvgPool {
    /// The output codes of codes `xs` into `out`, summing in `A`.
    fn pool<A: Wide>(&self, xs: &[i32], out: &[usize]) -> Result<Vec<i32>> {
        let (h, w) = hw(&self.axes)?;
        let planes = out[0] * out[1];
        let mut y = Vec::with_capacity(planes * h.output * w.output);
        for p in 0..planes {
            let plane = &xs[p * h.input * w.input..][..h.input * w.input];
            for oh in 0..h.output {
                for ow in 0..w.output {
                    let (mut sum, mut count) = (A::ZERO, 0i32);
                    for kh in 0..h.kernel {
                        let ih = (oh * h.stride + kh).wrapping_sub(h.pad_begin);
                        for kw in 0..w.kernel {
                            let iw = (ow * w.stride + kw).wrapping_sub(w.pad_begin);
                            if ih < h.input && iw < w.input {
                                sum = sum.add(A::of(plane[ih * w.input + iw]));
                                count += 1;
                            } else if self.include_pad {
                                sum = sum.add(A::of(self.x_zero));
                                count += 1;
                            }
                        }
                    }
                    y.push(match self.requant {
                        Some((m, stage)) => sum.add(A::of(count).mul(A::of(-self.x_zero))).staged(&stage, m),
                        None => sum.average(count),
                    });
                }
            }
        }
        Ok(y)
    }
}

impl OpDef for IntAvgPool {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntAvgPool is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        let Some(xs) = x.shape.as_fixed() else { bail!("IntAvgPool needs a fixed shape") };
        Ok(vec![TensorType::fixed(x.dtype, &self.out_shape(&xs)?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        let out = self.out_shape(x.shape())?;
        let y = if is_wide(x.dtype())? { self.pool::<i64>(&int_values(x)?, &out)? } else { self.pool::<i32>(&int_values(x)?, &out)? };
        Ok(vec![codes(x.dtype(), &out, y)?])
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let x = cx.input(0)?.clone();
        let y = cx.output(0)?;
        let (h, w) = hw(&self.axes)?;
        let dims = vec![x.shape[0] * x.shape[1], h.input, w.input, h.output, w.output];
        let geom = vec![h.kernel, w.kernel, h.stride, w.stride, h.pad_begin, w.pad_begin];
        let args = vec![
            x.arg_in(),
            y.arg_out(),
            KArg::Dims(dims),
            KArg::Dims(geom),
            KArg::Ints(self.params()),
        ];
        cx.call("qint", "avg_pool", vec![x.dtype], args);
        Ok(())
    }

    /// int8: an integer operator rules produce; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}
