//! ConvTranspose: N-D transposed convolution with groups, strides,
//! dilations, pads, output_padding, output_shape and auto_pad, on float
//! types (the half types computed in float32).
//! <https://onnx.ai/onnx/operators/onnx__ConvTranspose.html>
//!
//! Per axis the full output is `stride·(in − 1) + output_padding +
//! (kernel − 1)·dilation + 1`; pads crop it. With `output_shape` (or
//! SAME auto_pad, where the output is `in·stride`) the crop is the
//! difference, split as the spec says: SAME_UPPER puts the smaller half at
//! the beginning, anything else at the end. A negative crop extends the
//! output with zeros (plus bias).

use super::super::spatial::{AutoPad, Traversal, TraversalAxis, Window};
use super::super::matmul::lower::{self as gemm_lower, ConvGeometry, Matrices, Side};
use super::super::int8_rule::{Needs, Plan, Rule, Weighted};
use super::super::{Arg, LowerCx, OpDef, Slots};
use crate::back::program::Arg as KArg;
use super::lower::Channels;
use crate::tensor::DType;
use super::{check_float_types, eval_float, group_attr, Direction};
use crate::front::onnx::OnnxNode;
use crate::ir::{Dim, Shape, TensorType};
use crate::tensor::Tensor;
use crate::{bail, unsupported, Result};

#[derive(Debug, Clone)]
pub struct ConvTranspose {
    window: Window,
    group: usize,
    output_padding: Vec<i64>,
    output_shape: Option<Vec<i64>>,
}

/// One resolved axis: output size and the (possibly negative) begin crop.
#[derive(Debug, Clone, Copy)]
struct AxisOut {
    output: usize,
    pad_begin: i64,
}

impl ConvTranspose {
    /// Output size and begin crop of spatial axis `i` of `spatial`.
    fn axis(&self, i: usize, spatial: usize, input: usize, kernel: usize) -> Result<AxisOut> {
        let (s, d) = (self.window.stride(i) as i128, self.window.dilation(i) as i128);
        if kernel == 0 {
            bail!("kernel size 0 along spatial axis {i}");
        }
        let op = self.output_padding.get(i).copied().unwrap_or(0) as i128;
        let extent = (kernel as i128 - 1) * d + 1;
        let full = s * (input as i128 - 1) + op + extent;
        let split = |total: i128| -> i128 {
            if self.window.auto_pad == AutoPad::SameUpper {
                total.div_euclid(2)
            } else {
                total - total.div_euclid(2)
            }
        };
        let (output, pad_begin) = if let Some(shape) = &self.output_shape {
            let Some(&out) = shape.get(shape.len().saturating_sub(spatial) + i) else {
                bail!("output_shape {shape:?} has no value for spatial axis {i}");
            };
            let out = out as i128;
            (out, split(full - out))
        } else if self.window.auto_pad.is_same() {
            let out = input as i128 * s;
            (out, split(full - out))
        } else {
            let (pb, pe) = if self.window.auto_pad == AutoPad::Valid { (0, 0) } else { self.window.explicit_pads(i, spatial) };
            (full - pb as i128 - pe as i128, pb as i128)
        };
        if output < 0 {
            bail!("output size {output} along spatial axis {i} is negative");
        }
        let (Ok(output), Ok(pad_begin)) = (usize::try_from(output), i64::try_from(pad_begin)) else {
            unsupported!("output size {output} along spatial axis {i} exceeds qcc's limits");
        };
        if output > crate::tensor::MAX_ELEMENTS {
            bail!("output size {output} along spatial axis {i} is too large");
        }
        Ok(AxisOut { output, pad_begin })
    }

    /// Per spatial axis of X [N, C_in, in...] and W [C_in, C_out/group,
    /// k...]: input position `b` and kernel offset `k` add into output
    /// position `b·stride + k·dilation − offset` when it lies in `0..a_dim`.
    pub fn traversal_axes(&self, xs: &[usize], ws: &[usize]) -> Result<Vec<TraversalAxis>> {
        if xs.len() < 3 || ws.len() != xs.len() {
            bail!("X {xs:?} must have rank 3 or more and W {ws:?} the same rank");
        }
        let spatial = xs.len() - 2;
        (0..spatial)
            .map(|i| {
                let a = self.axis(i, spatial, xs[i + 2], ws[i + 2])?;
                Ok(TraversalAxis {
                    b_dim: xs[i + 2],
                    a_dim: a.output,
                    stride: self.window.stride(i),
                    dilation: self.window.dilation(i),
                    offset: a.pad_begin,
                })
            })
            .collect()
    }

    /// Output shape [N, C_out, out...] from partly known X [N, C_in, in...]
    /// and W [C_in, C_out/group, k...].
    fn shape(&self, x: &Shape, w: &Shape, b: Option<&Shape>) -> Result<Shape> {
        let (xd, wd) = match (x.dims(), w.dims()) {
            (Some(x), Some(w)) => (x, w),
            (Some(x), None) => return Ok(Shape::of_rank(x.len())),
            (None, Some(w)) => return Ok(Shape::of_rank(w.len())),
            (None, None) => return Ok(Shape::unknown()),
        };
        if xd.len() < 3 || wd.len() != xd.len() {
            bail!("X {x} must have rank 3 or more and W {w} the same rank");
        }
        let spatial = xd.len() - 2;
        self.window.check_rank(spatial)?;
        if !self.output_padding.is_empty() && self.output_padding.len() != spatial {
            bail!("output_padding {:?} needs {spatial} values", self.output_padding);
        }
        if let Some(s) = &self.output_shape {
            if s.len() != spatial && s.len() != spatial + 2 {
                bail!("output_shape {s:?} needs {spatial} values");
            }
        }
        if let (Some(c), Some(cw)) = (xd[1], wd[0]) {
            if c != cw {
                bail!("X has {c} channels but W {w} expects {cw}");
            }
        }
        if let Some(c) = wd[0] {
            if c % self.group != 0 {
                bail!("{c} input channels are not divisible by group {}", self.group);
            }
        }
        let c_out = wd[1].and_then(|m| m.checked_mul(self.group));
        if let Some(bd) = b.and_then(|b| b.dims()) {
            if bd.len() != 1 || (bd[0].is_some() && c_out.is_some() && bd[0] != c_out) {
                bail!("bias must be 1-D with one value per output channel");
            }
        }
        let kernel = self.window.kernel(Some(&wd[2..]))?;
        let mut dims: Vec<Dim> = vec![xd[0], c_out];
        for (i, (&xin, &k)) in xd[2..].iter().zip(&kernel).enumerate() {
            dims.push(match (xin, k) {
                (Some(xin), Some(k)) => Some(self.axis(i, spatial, xin, k)?.output),
                _ => None,
            });
        }
        Ok(Shape::from_dims(dims))
    }
}

impl OpDef for ConvTranspose {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let output_padding = node.ints("output_padding")?;
        if output_padding.iter().any(|&p| !(0..=1 << 40).contains(&p)) {
            bail!("output_padding {output_padding:?} must hold non-negative values");
        }
        let output_shape = node.ints_opt("output_shape")?;
        if output_shape.as_ref().is_some_and(|s| s.iter().any(|&v| v < 0)) {
            bail!("output_shape {output_shape:?} must hold non-negative values");
        }
        Ok(ConvTranspose { window: Window::from_onnx(node, false)?, group: group_attr(node)?, output_padding, output_shape })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, w) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        let b = inputs.opt(2).map(|a| a.ty);
        check_float_types(x.dtype, w.dtype, b.map(|b| b.dtype))?;
        Ok(vec![TensorType::new(x.dtype, self.shape(&x.shape, &w.shape, b.map(|b| &b.shape))?)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, w, b) = (inputs.req(0)?, inputs.req(1)?, inputs.opt(2));
        check_float_types(x.dtype(), w.dtype(), b.map(|b| b.dtype()))?;
        let out = self.shape(&Shape::fixed(x.shape()), &Shape::fixed(w.shape()), b.map(|b| Shape::fixed(b.shape())).as_ref())?;
        let Some(out) = out.as_fixed() else { bail!("cannot resolve the output shape") };
        crate::tensor::checked_numel(&out)?;
        let (xs, ws) = (x.shape(), w.shape());
        let t = Traversal::new(self.traversal_axes(xs, ws)?, &ws[2..])?;
        let ch = Channels { batch: xs[0], c_in: xs[1], c_out: out[1], group: self.group };
        Ok(vec![eval_float(x, w, b, ch, &t, &out, Direction::Transposed)?])
    }

    /// Every input element meets (C_out/group x kernel volume) weights.
    fn macs(&self, inputs: &[Option<&TensorType>], _outputs: &[&TensorType]) -> u64 {
        let x = inputs.opt(0).and_then(|x| x.shape.numel()).map(|n| n as u64);
        let per = inputs.opt(1).and_then(|w| w.shape.as_fixed()).map(|d| d.iter().skip(1).map(|&v| v as u64).product::<u64>());
        x.zip(per).map_or(0, |(a, b)| a.saturating_mul(b))
    }

    /// Y filled with the bias (or zero), then per image, group and chunk of
    /// input positions: the runtime GEMM of the transposed weights (packed
    /// once, at compile time when constant) with X, scattered into Y.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (x, w, b) = (cx.input(0)?.clone(), cx.input(1)?.clone(), cx.opt_input(2).cloned());
        let dtype = x.dtype;
        if !matches!(dtype, DType::F32 | DType::F64) {
            unsupported!("code generation for ConvTranspose on {dtype} is not implemented yet");
        }
        let y = cx.output(0)?;
        if y.is_empty() || x.shape.len() < 3 {
            return Ok(());
        }
        let (xs, ws) = (x.shape.clone(), w.shape.clone());
        let spatial = xs.len() - 2;
        let mut pads = Vec::with_capacity(spatial);
        for i in 0..spatial {
            pads.push(self.axis(i, spatial, xs[i + 2], ws[i + 2])?.pad_begin);
        }
        let (c_in, og, group) = (xs[1], ws[1], self.group);
        let (cg, c_out) = (c_in / group, og * group);
        let rows = og * ws[2..].iter().product::<usize>();
        let mw = Matrices { batch: group, lanes: rows, depth: cg, lane_stride: 1, depth_stride: rows, batch_stride: cg * rows };
        let wp = gemm_lower::packed(cx, &w, mw, Side::A, "w_packed")?;
        let chunk = gemm_lower::chunk_len(rows.max(cg), xs[2..].iter().product());
        let xcol = cx.scratch(dtype, cg * chunk);
        let col = cx.scratch(dtype, rows * chunk);
        match &b {
            Some(b) => {
                let mut shape = vec![c_out];
                shape.resize(y.shape.len() - 1, 1);
                gemm_lower::fill_broadcast(cx, &b.reshaped(&shape), &y)?;
            }
            None => gemm_lower::fill_zero(cx, &y)?,
        }
        let geometry = ConvGeometry {
            input: &xs[2..],
            output: &y.shape[2..],
            kernel: &ws[2..],
            stride: (0..spatial).map(|i| self.window.stride(i)).collect(),
            dilation: (0..spatial).map(|i| self.window.dilation(i)).collect(),
        };
        let dims = gemm_lower::conv_dims(xs[0], c_in, c_out, group, &geometry, chunk)?;
        let pads = gemm_lower::three(&pads, 0)?;
        cx.call(
            "gemm",
            "conv_transpose",
            vec![dtype],
            vec![x.arg_in(), wp.arg_in(), xcol.arg_out(), col.arg_out(), y.arg_out(), KArg::Dims(dims), KArg::Ints(pads)],
        );
        Ok(())
    }

    /// int8: IntConvTranspose when the weights and the bias are constants
    /// and the input is 1-D or 2-D (with the model's weight scales along
    /// axis 1 when it carries them).
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        rule.on_codes(Needs::Output, |cx| {
            let l = match super::constant_layer(cx, 3..=4, "integer transposed convolutions cover 1-D and 2-D", 1)? {
                Ok(l) => l,
                Err(float) => return Ok(float),
            };
            let axes = self.traversal_axes(&l.xs, l.w.shape())?;
            cx.weighted_transpose(Weighted { x: l.x, w: &l.w, bias: l.bias.as_deref(), axes, group: self.group, scales: l.scales })
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};

    #[test]
    fn stride_two_scatters_and_crops() {
        let x = f32s(&[1, 1, 2], &[1.0, 2.0]);
        let w = f32s(&[1, 1, 3], &[1.0, 10.0, 100.0]);
        // Full output: stride 2 -> length 5: [1, 10, 100 + 2, 20, 200].
        let y = run("ConvTranspose", 17, vec![("strides", Attr::Ints(vec![2]))], &[x.clone(), w.clone()]).unwrap();
        assert_eq!(y[0], f32s(&[1, 1, 5], &[1.0, 10.0, 102.0, 20.0, 200.0]));
        let y = run("ConvTranspose", 17, vec![("strides", Attr::Ints(vec![2])), ("pads", Attr::Ints(vec![1, 1]))], &[x.clone(), w.clone()]).unwrap();
        assert_eq!(y[0], f32s(&[1, 1, 3], &[10.0, 102.0, 20.0]));
        // A larger output_shape extends with zeros at the end.
        let y = run("ConvTranspose", 17, vec![("strides", Attr::Ints(vec![2])), ("output_shape", Attr::Ints(vec![6]))], &[x, w]).unwrap();
        assert_eq!(y[0], f32s(&[1, 1, 6], &[1.0, 10.0, 102.0, 20.0, 200.0, 0.0]));
    }

    #[test]
    fn bad_shapes_are_errors() {
        let x = f32s(&[1, 2, 2], &[1.0; 4]);
        assert!(run("ConvTranspose", 17, vec![], &[x.clone(), f32s(&[3, 1, 1], &[1.0; 3])]).is_err());
        assert!(run("ConvTranspose", 17, vec![("group", Attr::Int(3))], &[x.clone(), f32s(&[2, 1, 1], &[1.0; 2])]).is_err());
        assert!(run("ConvTranspose", 17, vec![("pads", Attr::Ints(vec![3, 3]))], &[x, f32s(&[2, 1, 1], &[1.0; 2])]).is_err());
    }
}
