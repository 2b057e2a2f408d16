//! Conv: N-D convolution with groups (depthwise included), strides,
//! dilations, explicit pads or auto_pad, and an optional bias, on
//! float16/bfloat16/float32/float64 (the half types computed in float32).
//! <https://onnx.ai/onnx/operators/onnx__Conv.html>
//!
//! The integer forms (ConvInteger, QLinearConv) live in `integer.rs`,
//! ConvTranspose in `transpose.rs`; all lower to the GEMM of `lower.rs`.

mod integer;
pub(super) mod lower;
mod transpose;

pub use integer::{ConvInteger, QLinearConv};
pub use transpose::ConvTranspose;

use super::dense::{array, compute_type, demote, promote, row_major};
use super::spatial::{Traversal, Window};
use super::matmul::lower::{self as gemm_lower, ConvGeometry, Matrices, Side};
use super::int8_rule::{Needs, Plan, QuantCx, Rule, Weighted};
use super::{util, Arg, LowerCx, OpDef, Slots};
use crate::back::lower::Loc;
use crate::front::onnx::OnnxNode;
use crate::interp::gemm::Dot;
use crate::ir::{Dim, Shape, TensorType, ValueId};
use crate::tensor::{DType, Elem, Tensor};
use crate::{bail, Result};
use std::ops::RangeInclusive;
use std::sync::Arc;
use lower::Channels;

#[derive(Debug, Clone)]
pub struct Conv {
    pub(crate) window: Window,
    pub(crate) group: usize,
}

/// Reads the `group` attribute (a positive count).
fn group_attr(node: &OnnxNode) -> Result<usize> {
    util::positive(node.int("group", 1)?, "group")
}

/// Output shape [N, C_out, out...] of a convolution of X by W (weights
/// [C_out, C_in/group, k...]) from partly known shapes; checks ranks,
/// channels, groups and the bias `b` ([C_out]).
fn conv_shape(window: &Window, group: usize, x: &Shape, w: &Shape, b: Option<&Shape>) -> Result<Shape> {
    let (xd, wd) = match (x.dims(), w.dims()) {
        (Some(x), Some(w)) => (x, w),
        (Some(x), None) => return Ok(Shape::of_rank(x.len())),
        (None, Some(w)) => return Ok(Shape::of_rank(w.len())),
        (None, None) => return Ok(Shape::unknown()),
    };
    if xd.len() < 3 {
        bail!("X must have rank 3 or more ([N, C, spatial...]), got {x}");
    }
    if wd.len() != xd.len() {
        bail!("W {w} must have the rank of X {x}");
    }
    if let (Some(c), Some(cw)) = (xd[1], wd[1]) {
        if Some(c) != cw.checked_mul(group) {
            bail!("X has {c} channels but W {w} expects {cw} per group x {group} group(s)");
        }
    }
    if let Some(m) = wd[0] {
        if m % group != 0 {
            bail!("{m} output channels are not divisible by group {group}");
        }
    }
    if let Some(bd) = b.and_then(|b| b.dims()) {
        if bd.len() != 1 || (bd[0].is_some() && wd[0].is_some() && bd[0] != wd[0]) {
            bail!("bias {} must be 1-D with one value per output channel ({})", b.map_or(String::new(), |b| b.to_string()), w);
        }
    }
    let kernel = window.kernel(Some(&wd[2..]))?;
    let mut dims: Vec<Dim> = vec![xd[0], wd[0]];
    dims.extend(window.output_dims(&xd[2..], &kernel)?);
    Ok(Shape::from_dims(dims))
}

/// Concrete shapes of a convolution: channels and the output-to-input traversal.
fn conv_plan(window: &Window, group: usize, x: &[usize], w: &[usize], b: Option<&[usize]>) -> Result<(Channels, Traversal, Vec<usize>)> {
    let fixed = |d: &[usize]| Shape::fixed(d);
    let out = conv_shape(window, group, &fixed(x), &fixed(w), b.map(fixed).as_ref())?;
    let Some(out) = out.as_fixed() else { bail!("cannot resolve the output shape") };
    let axes = window.resolve(&x[2..], &w[2..])?;
    let ch = Channels { batch: x[0], c_in: x[1], c_out: w[0], group };
    Ok((ch, Traversal::forward(&axes)?, out))
}

/// Multiply-accumulates of a convolution: output elements x (C_in/group x kernel volume).
fn conv_macs(w: Option<&TensorType>, y: Option<&&TensorType>) -> u64 {
    let per_output = w.and_then(|w| w.shape.as_fixed()).map(|d| d.iter().skip(1).map(|&v| v as u64).product::<u64>());
    let outputs = y.and_then(|y| y.shape.numel()).map(|n| n as u64);
    per_output.zip(outputs).map_or(0, |(a, b)| a.saturating_mul(b))
}

/// Which GEMM lowering of `lower.rs` a float convolution runs.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Forward,
    Transposed,
}

/// `Y` of shape `out` for float `X`, `W` and optional `B`: computed in
/// float32 or float64 (see [`compute_type`]) by the `direction` lowering,
/// returned in X's element type.
fn eval_float(x: &Tensor, w: &Tensor, b: Option<&Tensor>, ch: Channels, t: &Traversal, out: &[usize], direction: Direction) -> Result<Tensor> {
    let (xp, wp, bp) = (promote(x)?, promote(w)?, b.map(promote).transpose()?);
    let y = match compute_type(x.dtype())? {
        DType::F64 => typed::<f64>(&xp, &wp, bp.as_deref(), ch, t, out, direction)?,
        _ => typed::<f32>(&xp, &wp, bp.as_deref(), ch, t, out, direction)?,
    };
    demote(y, x.dtype())
}

fn typed<T: Dot + Elem>(x: &Tensor, w: &Tensor, b: Option<&Tensor>, ch: Channels, t: &Traversal, out: &[usize], direction: Direction) -> Result<Tensor> {
    let xs = row_major(x.array::<T>()?);
    let ws = row_major(w.array::<T>()?);
    let bs = b.map(|b| b.array::<T>().map(row_major)).transpose()?;
    let y = match direction {
        Direction::Forward => lower::conv(&xs, &ws, bs.as_deref(), ch, t)?,
        Direction::Transposed => lower::conv_transpose(&xs, &ws, bs.as_deref(), ch, t)?,
    };
    Ok(T::wrap(array(out, y)?))
}

impl OpDef for Conv {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        Ok(Conv { window: Window::from_onnx(node, false)?, group: group_attr(node)? })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let (x, w) = (inputs.req(0)?.ty, inputs.req(1)?.ty);
        let b = inputs.opt(2).map(|a| a.ty);
        check_float_types(x.dtype, w.dtype, b.map(|b| b.dtype))?;
        let shape = conv_shape(&self.window, self.group, &x.shape, &w.shape, b.map(|b| &b.shape))?;
        Ok(vec![TensorType::new(x.dtype, shape)])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let (x, w, b) = (inputs.req(0)?, inputs.req(1)?, inputs.opt(2));
        check_float_types(x.dtype(), w.dtype(), b.map(|b| b.dtype()))?;
        let (ch, t, out) = conv_plan(&self.window, self.group, x.shape(), w.shape(), b.map(|b| b.shape()))?;
        Ok(vec![eval_float(x, w, b, ch, &t, &out, Direction::Forward)?])
    }

    fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        conv_macs(inputs.opt(1), outputs.first())
    }

    /// im2col into a scratch buffer (in chunks of output positions) and
    /// the runtime GEMM per image and group; the weights are packed once
    /// (at compile time when constant) and the bias is stored in Y first.
    fn lower(&self, cx: &mut LowerCx) -> Result<()> {
        let (x, w, b) = (cx.input(0)?.clone(), cx.input(1)?.clone(), cx.opt_input(2).cloned());
        if !matches!(x.dtype, DType::F32 | DType::F64) {
            crate::unsupported!("code generation for Conv on {} is not implemented yet", x.dtype);
        }
        lower_conv(cx, &self.window, self.group, &x, &w, b.as_ref())
    }

    /// int8: IntConv when the weights and the bias are constants and the
    /// window is 1-D or 2-D (with the model's weight scales along axis 0
    /// when it carries them).
    fn quantize(&self, rule: Rule) -> Result<Plan> {
        rule.on_codes(Needs::Output, |cx| {
            let l = match constant_layer(cx, 0..=4, "integer convolutions cover 1-D and 2-D", 0)? {
                Ok(l) => l,
                Err(float) => return Ok(float),
            };
            let Some(spatial) = l.xs.get(2..) else { return Ok(Plan::float("input shape known only at run time")) };
            let axes = self.window.resolve(spatial, l.w.shape().get(2..).unwrap_or_default())?;
            cx.weighted(Weighted { x: l.x, w: &l.w, bias: l.bias.as_deref(), axes, group: self.group, scales: l.scales })
        })
    }
}

/// What the int8 rule of a convolution reads: X, its shape (empty when not
/// fixed), the constant weights and bias, and the weight scales the model
/// carries.
struct ConstantLayer {
    x: ValueId,
    xs: Vec<usize>,
    w: Arc<Tensor>,
    bias: Option<Arc<Tensor>>,
    scales: Option<Vec<f32>>,
}

/// The operands of a convolution whose weights and bias are constants and
/// whose input rank lies in `ranks` (else `Err`: the reason it stays float,
/// `why` for the rank), with the model's weight scales along `scale_axis`.
fn constant_layer(cx: &dyn QuantCx, ranks: RangeInclusive<usize>, why: &str, scale_axis: usize) -> Result<std::result::Result<ConstantLayer, Plan>> {
    let ins = cx.inputs();
    let x = ins.req(0)?;
    let Some(w) = cx.input_constant(1) else { return Ok(Err(Plan::float("weights are not constant"))) };
    let xs = cx.ty(x)?.shape.as_fixed().unwrap_or_default();
    if !ranks.contains(&xs.len()) {
        return Ok(Err(Plan::float(why)));
    }
    let bias = cx.input_constant(2);
    if ins.opt(2).is_some() && bias.is_none() {
        return Ok(Err(Plan::float("the bias is not constant")));
    }
    let scales = cx.given_weight_scales(ins.opt(1), scale_axis);
    Ok(Ok(ConstantLayer { x, xs, w, bias, scales }))
}

/// Output 0 of the node as the convolution of `x` by `w` (+ `b`), all of
/// one element type the runtime GEMM supports; padding reads as zero.
pub(crate) fn lower_conv(cx: &mut LowerCx, window: &Window, group: usize, x: &Loc, w: &Loc, b: Option<&Loc>) -> Result<()> {
    let dtype = x.dtype;
    gemm_lower::check_dtype(dtype)?;
    let y = cx.output(0)?;
    if y.is_empty() || x.shape.len() < 3 {
        return Ok(());
    }
    let axes = window.resolve(&x.shape[2..], &w.shape[2..])?;
    let (c_in, c_out, group) = (x.shape[1], w.shape[0], group);
    let (cg, og) = (c_in / group, c_out / group);
    let k = cg * w.shape[2..].iter().product::<usize>();
    let mw = Matrices { batch: group, lanes: og, depth: k, lane_stride: k, depth_stride: 1, batch_stride: og * k };
    let wp = gemm_lower::packed(cx, w, mw, Side::A, "w_packed")?;
    let chunk = gemm_lower::chunk_len(k, y.shape[2..].iter().product());
    let col = cx.scratch(dtype, k * chunk);
    let beta = match b {
        Some(b) => {
            let mut shape = vec![c_out];
            shape.resize(y.shape.len() - 1, 1);
            gemm_lower::fill_broadcast(cx, &b.reshaped(&shape), &y)?;
            1.0
        }
        None => 0.0,
    };
    let geometry = ConvGeometry {
        input: &x.shape[2..],
        output: &y.shape[2..],
        kernel: &w.shape[2..],
        stride: axes.iter().map(|a| a.stride).collect(),
        dilation: axes.iter().map(|a| a.dilation).collect(),
    };
    let dims = gemm_lower::conv_dims(x.shape[0], c_in, c_out, group, &geometry, chunk)?;
    let pads = gemm_lower::three(&axes.iter().map(|a| a.pad_begin as i64).collect::<Vec<_>>(), 0)?;
    cx.call(
        "gemm",
        "conv",
        vec![dtype],
        vec![
            x.arg_in(),
            wp.arg_in(),
            col.arg_out(),
            y.arg_out(),
            crate::back::program::Arg::Dims(dims),
            crate::back::program::Arg::Ints(pads),
            crate::back::program::Arg::Lit(crate::back::program::Lit::Float(beta, DType::F64)),
        ],
    );
    Ok(())
}

/// X, W and B share one float element type.
fn check_float_types(x: DType, w: DType, b: Option<DType>) -> Result<()> {
    if !x.is_float() || w != x || b.is_some_and(|b| b != x) {
        bail!("X, W and B must share one float element type, got {x}, {w}{}", b.map_or(String::new(), |b| format!(", {b}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};
    use crate::tensor::Tensor;

    fn ramp(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        f32s(shape, &(0..n).map(|v| v as f32).collect::<Vec<_>>())
    }

    #[test]
    fn padded_3x3_matches_a_direct_sum() {
        let x = ramp(&[1, 1, 3, 3]);
        let w = f32s(&[1, 1, 3, 3], &[1.0; 9]);
        let y = run("Conv", 17, vec![("pads", Attr::Ints(vec![1, 1, 1, 1]))], &[x, w]).unwrap();
        assert_eq!(y[0], f32s(&[1, 1, 3, 3], &[8.0, 15.0, 12.0, 21.0, 36.0, 27.0, 20.0, 33.0, 24.0]));
    }

    #[test]
    fn depthwise_with_bias_and_stride() {
        let x = ramp(&[1, 2, 4]);
        let w = f32s(&[2, 1, 2], &[1.0, 1.0, 1.0, -1.0]);
        let b = f32s(&[2], &[0.5, 0.0]);
        let y = run("Conv", 17, vec![("group", Attr::Int(2)), ("strides", Attr::Ints(vec![2]))], &[x, w, b]).unwrap();
        assert_eq!(y[0], f32s(&[1, 2, 2], &[1.5, 5.5, -1.0, -1.0]));
    }

    #[test]
    fn pointwise_and_general_paths_agree_on_groups() {
        // Two groups of two channels; a 1x1 kernel reads the input in place.
        let x = ramp(&[2, 4, 2, 2]);
        let w = f32s(&[2, 2, 1, 1], &[1.0, 2.0, 3.0, 4.0]);
        let y = run("Conv", 17, vec![("group", Attr::Int(2))], &[x.clone(), w.clone()]).unwrap();
        // The same with a dilation that cannot matter and a stride-1 VALID pad.
        let y2 = run("Conv", 17, vec![("group", Attr::Int(2)), ("auto_pad", Attr::String("VALID".into()))], &[x, w]).unwrap();
        assert_eq!(y[0], y2[0]);
        let Tensor::F32(a) = &y[0] else { panic!() };
        assert_eq!(a[[0, 0, 0, 0]], 0.0 + 2.0 * 4.0);
        assert_eq!(a[[1, 1, 1, 1]], 3.0 * 27.0 + 4.0 * 31.0);
    }

    #[test]
    fn macs_count_every_multiply_accumulate() {
        use crate::ir::TensorType;
        use crate::ops::testing::node;
        use crate::ops::Op;
        use crate::tensor::DType;
        let ty = |d: &[usize]| TensorType::fixed(DType::F32, d);
        let conv = Op::from_onnx(&node("Conv", 17, vec![("group", Attr::Int(2))], 2, 1)).unwrap();
        // N=1, C_out=8, 4x4 outputs, C_in/group=3, 3x3 kernel.
        let (x, w, y) = (ty(&[1, 6, 6, 6]), ty(&[8, 3, 3, 3]), ty(&[1, 8, 4, 4]));
        assert_eq!(conv.macs(&[Some(&x), Some(&w)], &[&y]), 8 * 16 * 3 * 9);
        let ct = Op::from_onnx(&node("ConvTranspose", 17, vec![], 2, 1)).unwrap();
        assert_eq!(ct.macs(&[Some(&ty(&[1, 2, 3])), Some(&ty(&[2, 4, 5]))], &[&ty(&[1, 4, 7])]), 2 * 3 * 4 * 5);
        let mm = Op::from_onnx(&node("MatMul", 13, vec![], 2, 1)).unwrap();
        assert_eq!(mm.macs(&[Some(&ty(&[2, 3, 4])), Some(&ty(&[4, 5]))], &[&ty(&[2, 3, 5])]), 2 * 3 * 4 * 5);
        let gemm = Op::from_onnx(&node("Gemm", 13, vec![("transA", Attr::Int(1))], 2, 1)).unwrap();
        assert_eq!(gemm.macs(&[Some(&ty(&[4, 3])), Some(&ty(&[4, 5]))], &[&ty(&[3, 5])]), 3 * 4 * 5);
        let es = Op::from_onnx(&node("Einsum", 12, vec![("equation", Attr::String("bij,bjk->bik".into()))], 2, 1)).unwrap();
        assert_eq!(es.macs(&[Some(&ty(&[2, 3, 4])), Some(&ty(&[2, 4, 5]))], &[&ty(&[2, 3, 5])]), 2 * 3 * 4 * 5);
        assert_eq!(conv.macs(&[Some(&TensorType::new(DType::F32, crate::ir::Shape::unknown())), Some(&w)], &[&y]), 8 * 16 * 3 * 9);
        assert_eq!(conv.macs(&[Some(&x), None], &[&y]), 0);
    }

    #[test]
    fn shape_errors_are_reported() {
        let x = ramp(&[1, 3, 4, 4]);
        let channel = run("Conv", 17, vec![], &[x.clone(), ramp(&[2, 2, 3, 3])]).unwrap_err().to_string();
        assert!(channel.contains("channels"), "{channel}");
        let groups = run("Conv", 17, vec![("group", Attr::Int(2))], &[ramp(&[1, 4, 4, 4]), ramp(&[3, 2, 3, 3])]).unwrap_err();
        assert!(groups.to_string().contains("divisible"), "{groups}");
        let big = run("Conv", 17, vec![], &[x.clone(), ramp(&[1, 3, 5, 5])]).unwrap_err().to_string();
        assert!(big.contains("larger than the padded input"), "{big}");
        assert!(run("Conv", 17, vec![("group", Attr::Int(0))], &[x.clone(), ramp(&[1, 3, 1, 1])]).is_err());
        assert!(run("Conv", 17, vec![("kernel_shape", Attr::Ints(vec![2, 2]))], &[x.clone(), ramp(&[1, 3, 3, 3])]).is_err());
        assert!(run("Conv", 17, vec![], &[ramp(&[1, 3]), ramp(&[1, 3])]).is_err());
        assert!(run("Conv", 17, vec![], &[x.clone(), ramp(&[1, 3, 1, 1]), ramp(&[2])]).is_err());
        assert!(run("Conv", 17, vec![("pads", Attr::Ints(vec![1, 1]))], &[x, ramp(&[1, 3, 1, 1])]).is_err());
    }
}
