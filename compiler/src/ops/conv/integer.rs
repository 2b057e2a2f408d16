//! ConvInteger and QLinearConv: convolutions of uint8/int8 data and
//! weights with zero points (per tensor for X, per tensor or per output
//! channel for W), accumulated exactly in int32 (wrapping).
//! ConvInteger returns the int32 accumulators; QLinearConv adds the int32
//! bias and requantizes with `x_scale · w_scale[c] / y_scale` (per tensor
//! or per output channel), rounding ties to even and saturating.
//! <https://onnx.ai/onnx/operators/onnx__ConvInteger.html>
//! <https://onnx.ai/onnx/operators/onnx__QLinearConv.html>

use super::super::dense::array;
use super::super::quant::{centered, check_8bit, check_count, lower_centered, requantize, scales, zero_points};
use super::super::spatial::Window;
use super::super::{Arg, LowerCx, OpDef, Slots};
use super::{conv_macs, conv_plan, conv_shape, group_attr, lower};
use crate::front::onnx::OnnxNode;
use crate::ir::{Shape, TensorType};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

#[derive(Debug, Clone)]
pub struct ConvInteger {
    window: Window,
    group: usize,
}

#[derive(Debug, Clone)]
pub struct QLinearConv {
    pub(crate) window: Window,
    pub(crate) group: usize,
}

/// The int32 convolution of `x − x_zp` by `w − w_zp` (+ bias), and the
/// output shape.
fn int_conv(
    window: &Window,
    group: usize,
    x: &Tensor,
    x_zp: Option<&Tensor>,
    w: &Tensor,
    w_zp: Option<&Tensor>,
    bias: Option<&Tensor>,
) -> Result<(Vec<i32>, Vec<usize>)> {
    check_8bit(x.dtype(), "X")?;
    check_8bit(w.dtype(), "W")?;
    let (ch, t, out) = conv_plan(window, group, x.shape(), w.shape(), bias.map(|b| b.shape()))?;
    let x_zp = zero_points(x_zp, x.dtype(), "x_zero_point")?;
    if x_zp.len() != 1 {
        bail!("x_zero_point must be a scalar, got {} elements", x_zp.len());
    }
    let w_zp = zero_points(w_zp, w.dtype(), "w_zero_point")?;
    let xs = centered(x, x.shape(), &x_zp, 0, "x_zero_point")?;
    let ws = centered(w, w.shape(), &w_zp, 0, "w_zero_point")?;
    let bs = match bias {
        Some(Tensor::I32(b)) => Some(b.iter().copied().collect::<Vec<i32>>()),
        Some(b) => bail!("B must be int32, got {}", b.dtype()),
        None => None,
    };
    Ok((lower::conv(&xs, &ws, bs.as_deref(), ch, &t)?, out))
}

impl OpDef for ConvInteger {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(ConvInteger { window: Window::from_onnx(node, false)?, group: group_attr(node)? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, w) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        check_8bit(x.dtype, "X")?;
        check_8bit(w.dtype, "W")?;
        Ok(vec![TensorType::new(DType::I32, conv_shape(&self.window, self.group, &x.shape, &w.shape, None)?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, w) = (inputs.req(0)?, inputs.req(1)?);
        let (y, out) = int_conv(&self.window, self.group, x, inputs.opt(2), w, inputs.opt(3), None)?;
        Ok(vec![Tensor::I32(array(&out, y)?)])
    }

    fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        conv_macs(inputs.opt(1), outputs.first())
    }

    /// X and W minus their zero points as int32 (W's at compile time when
    /// constant), then the int32 convolution: padding reads as 0, which
    /// is X's zero point once centred.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (x, w) = (cx.input(0)?.clone(), cx.input(1)?.clone());
        check_8bit(x.dtype, "X")?;
        check_8bit(w.dtype, "W")?;
        let (x_zp, w_zp) = (cx.opt_input(2).cloned(), cx.opt_input(3).cloned());
        if x_zp.as_ref().is_some_and(|z| z.len() != 1) {
            bail!("x_zero_point must be a scalar, got {} elements", x_zp.map_or(0, |z| z.len()));
        }
        let xc = lower_centered(cx, &x, x_zp.as_ref(), 0, "x_zero_point")?;
        let wc = lower_centered(cx, &w, w_zp.as_ref(), 0, "w_zero_point")?;
        super::lower_conv(cx, &self.window, self.group, &xc, &wc, None)
    }

    /// int8: integer in the model already; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}

impl OpDef for QLinearConv {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(QLinearConv { window: Window::from_onnx(node, false)?, group: group_attr(node)? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, w) = (inputs.req(0)?.ty, inputs.req(3)?.ty);
        let y_zp = inputs.req(7)?.ty;
        check_8bit(x.dtype, "x")?;
        check_8bit(w.dtype, "w")?;
        check_8bit(y_zp.dtype, "y_zero_point")?;
        let b: Option<&Shape> = inputs.opt(8).map(|b| &b.ty.shape);
        Ok(vec![TensorType::new(y_zp.dtype, conv_shape(&self.window, self.group, &x.shape, &w.shape, b)?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, x_scale, x_zp) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
        let (w, w_scale, w_zp) = (inputs.req(3)?, inputs.req(4)?, inputs.req(5)?);
        let (y_scale, y_zp) = (inputs.req(6)?, inputs.req(7)?);
        let (acc, out) = int_conv(&self.window, self.group, x, Some(x_zp), w, Some(w_zp), inputs.opt(8))?;
        let xs = one(&scales(x_scale, "x_scale")?, "x_scale")?;
        let ys = one(&scales(y_scale, "y_scale")?, "y_scale")?;
        let ws = scales(w_scale, "w_scale")?;
        check_8bit(y_zp.dtype(), "y_zero_point")?;
        let yz = one(&zero_points(Some(y_zp), y_zp.dtype(), "y_zero_point")?, "y_zero_point")?;
        let c_out = out[1];
        check_count(ws.len(), c_out, "w_scale")?;
        let multipliers: Vec<f64> = ws.iter().map(|&s| (xs * s / ys) as f64).collect();
        let plane: usize = out[2..].iter().product();
        let m = |i: usize| multipliers.get(if multipliers.len() == 1 { 0 } else { (i / plane.max(1)) % c_out.max(1) }).copied().unwrap_or(0.0);
        Ok(vec![requantize(&acc, &out, m, yz, y_zp.dtype())?])
    }

    fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        conv_macs(inputs.opt(3), outputs.first())
    }

    /// int8: integer in the model already; copied as it is.
    fn quantize(&self, rule: crate::ops::Rule) -> Result<crate::ops::Plan> {
        Ok(rule.as_is())
    }
}

/// The single value of a per-tensor parameter.
fn one<T: Copy>(v: &[T], what: &str) -> Result<T> {
    match v {
        [x] => Ok(*x),
        _ => bail!("{what} must be a scalar, got {} elements", v.len()),
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{run, u8s};
    use crate::tensor::Tensor;

    #[test]
    fn zero_points_and_per_channel_requantization() {
        let x = u8s(&[1, 1, 2, 2], &[10, 11, 12, 13]);
        let w = Tensor::from_vec(&[2, 1, 1, 1], vec![1i8, -2]).unwrap();
        let acc = run("ConvInteger", 10, vec![], &[x.clone(), w.clone(), u8s(&[], &[10])]).unwrap();
        assert_eq!(acc[0], Tensor::from_vec(&[1, 2, 2, 2], vec![0i32, 1, 2, 3, 0, -2, -4, -6]).unwrap());
        let inputs = [
            x,
            Tensor::scalar(0.5f32),
            u8s(&[], &[10]),
            w,
            Tensor::from_vec(&[2], vec![1.0f32, 0.5]).unwrap(),
            Tensor::from_vec(&[2], vec![0i8, 0]).unwrap(),
            Tensor::scalar(0.25f32),
            u8s(&[], &[100]),
            Tensor::from_vec(&[2], vec![1i32, 0]).unwrap(),
        ];
        let y = run("QLinearConv", 10, vec![("group", Attr::Int(1))], &inputs).unwrap();
        // Channel 0: (acc + 1) * 2 + 100; channel 1: acc * 1 + 100.
        assert_eq!(y[0], u8s(&[1, 2, 2, 2], &[102, 104, 106, 108, 100, 98, 96, 94]));
    }

    #[test]
    fn mismatched_zero_point_type_is_an_error() {
        let x = u8s(&[1, 1, 1, 1], &[1]);
        let w = u8s(&[1, 1, 1, 1], &[1]);
        let zp = Tensor::scalar(0i8);
        assert!(run("ConvInteger", 10, vec![], &[x, w, zp]).is_err());
    }
}
