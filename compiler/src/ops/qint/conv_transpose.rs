//! IntConvTranspose: the integer transposed convolution (NUMERICS.md,
//! "Transposed convolution"). int8 weights per output channel, an int32
//! bias, the centred input `q_x − z_x` accumulated in int32 (how many
//! products reach an output depends on its position, so the zero point
//! cannot be folded into the bias), per-channel requantization and the
//! output stage.

use super::super::conv::lower::{self as conv_lower, Channels};
use super::super::spatial::{Traversal, TraversalAxis};
use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{codes, int_values, Stage};
use crate::back::program::Arg as KArg;
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::quant::fixed_point::Multiplier;
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// Inputs: codes `X` [N, C_in, in...], int8 weights `W` [C_in, C_out /
/// group, k...] (ConvTranspose's layout; scales per output channel, that
/// is along axis 1 within each group), the int32 bias [C_out] (`b_q`,
/// nothing folded), and the int32 multipliers and exponents [C_out].
#[derive(Debug, Clone)]
pub struct IntConvTranspose {
    /// Per spatial axis (one or two): input position `b` and kernel offset
    /// `k` add into output `b·stride + k·dilation − offset`.
    pub axes: Vec<TraversalAxis>,
    pub group: usize,
    pub x_zero: i32,
    pub stage: Stage,
}

impl IntConvTranspose {
    fn out_shape(&self, x: &[usize], w: &[usize]) -> Result<Vec<usize>> {
        if x.len() != self.axes.len() + 2 || w.len() != x.len() || !(1..=2).contains(&self.axes.len()) {
            bail!("IntConvTranspose: X {x:?} and W {w:?} do not match {} spatial axes", self.axes.len());
        }
        if x[1] != w[0] || self.group == 0 || w[0] % self.group != 0 {
            bail!("IntConvTranspose: X {x:?} and W {w:?} do not match group {}", self.group);
        }
        let mut out = vec![x[0], w[1] * self.group];
        out.extend(self.axes.iter().map(|a| a.a_dim));
        Ok(out)
    }

    /// The axes as `[H, W]`: a 1-D convolution has a unit H axis.
    fn hw(&self) -> (TraversalAxis, TraversalAxis) {
        let unit = TraversalAxis { b_dim: 1, a_dim: 1, stride: 1, dilation: 1, offset: 0 };
        match self.axes[..] {
            [a] => (unit, a),
            [a, b] => (a, b),
            _ => (unit, unit),
        }
    }
}

impl OpDef for IntConvTranspose {
    fn from_onnx(_: &OnnxNode) -> Result<Self> {
        bail!("IntConvTranspose is internal to qcc")
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, w) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        let (Some(xs), Some(ws)) = (x.shape.as_fixed(), w.shape.as_fixed()) else { bail!("IntConvTranspose needs fixed shapes") };
        Ok(vec![TensorType::fixed(x.dtype, &self.out_shape(&xs, &ws)?)])
    }

    /// The float operator's own scatter (`conv::lower::conv_transpose`) on
    /// int32: an implementation independent of the kernels' gather loops.
    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, w) = (inputs.req(0)?, inputs.req(1)?);
        let (bias, mult, exp) = (int_values(inputs.req(2)?)?, int_values(inputs.req(3)?)?, int_values(inputs.req(4)?)?);
        let out = self.out_shape(x.shape(), w.shape())?;
        let xs: Vec<i32> = int_values(x)?.into_iter().map(|v| v - self.x_zero).collect();
        let ws = int_values(w)?;
        let ch = Channels { batch: out[0], c_in: x.shape()[1], c_out: out[1], group: self.group };
        let t = Traversal::new(self.axes.clone(), &w.shape()[2..])?;
        let acc = conv_lower::conv_transpose(&xs, &ws, Some(&bias), ch, &t)?;
        let plane: usize = out[2..].iter().product();
        let y = acc
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let c = (i / plane.max(1)) % out[1];
                self.stage.apply(a, Multiplier { m: mult[c], exponent: exp[c] })
            })
            .collect();
        Ok(vec![codes(x.dtype(), &out, y)?])
    }

    fn macs(&self, inputs: &[Option<&TensorType>], _outputs: &[&TensorType]) -> u64 {
        let x = inputs.opt(0).and_then(|x| x.shape.numel()).map(|n| n as u64);
        let per = inputs.opt(1).and_then(|w| w.shape.as_fixed()).map(|d| d.iter().skip(1).map(|&v| v as u64).product::<u64>());
        x.zip(per).map_or(0, |(a, b)| a.saturating_mul(b))
    }

    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (x, w) = (cx.input(0)?.clone(), cx.input(1)?.clone());
        let (bias, mult, exp) = (cx.input(2)?.clone(), cx.input(3)?.clone(), cx.input(4)?.clone());
        let y = cx.output(0)?;
        if w.dtype != DType::I8 {
            bail!("IntConvTranspose weights must be int8, got {}", w.dtype);
        }
        let (h, wd) = self.hw();
        let dims = vec![x.shape[0], x.shape[1], h.b_dim, wd.b_dim, y.shape[1], h.a_dim, wd.a_dim, self.group];
        let (kh, kw) = match w.shape[2..] {
            [k] => (1, k),
            [a, b] => (a, b),
            _ => bail!("IntConvTranspose over {} spatial axes", w.shape.len() - 2),
        };
        let geom = vec![kh, kw, h.stride, wd.stride, h.dilation, wd.dilation];
        let s = self.stage;
        let params = vec![h.offset, wd.offset, self.x_zero as i64, s.zero as i64, s.min as i64, s.max as i64, s.single() as i64];
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
        cx.call("qint", "conv_transpose", vec![x.dtype], args);
        Ok(())
    }

    /// int8: an integer operator rules produce; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}
