//! onnxruntime's com.microsoft QOperator-form int8 operators (QLinearAdd,
//! QLinearMul, QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat,
//! QLinearSigmoid, QLinearLeakyRelu, QLinearSoftmax, QGemm), as written by
//! `quantize_static(..., quant_format=QuantFormat.QOperator)`.
//!
//! Each is defined as its float operator between dequantization and
//! quantization: every quantized input is dequantized with its own scale and
//! zero point, the float operator runs, and the result is quantized with the
//! output's scale and zero point (QGemm without `y_scale` returns the float
//! result). [`MsQLinear`] records that decomposition — the float operator
//! and which input slots hold each (tensor, scale, zero point) — so the
//! interpreter evaluates it directly and the int8 import
//! (`quant::qoperator`) writes it out as DequantizeLinear → float op →
//! QuantizeLinear. Code generation refuses it (like QLinearConv): compile
//! such a model with `--quantize int8`.
//! <https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md>

use super::{Arg, Op, OpDef, Slots};
use crate::front::onnx::{Attr, OnnxNode};
use crate::ir::TensorType;
use crate::ops::quantize::{DequantizeLinear, QuantizeLinear};
use crate::tensor::{DType, Tensor};
use crate::{bail, Result};

/// The com.microsoft op types this module implements.
pub const OP_TYPES: &[&str] = &[
    "QLinearAdd",
    "QLinearMul",
    "QLinearGlobalAveragePool",
    "QLinearAveragePool",
    "QLinearConcat",
    "QLinearSigmoid",
    "QLinearLeakyRelu",
    "QLinearSoftmax",
    "QGemm",
];

/// One quantized input: the slots of the tensor, its scale and its
/// (optional) zero point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantized {
    pub x: usize,
    pub scale: usize,
    pub zero_point: Option<usize>,
}

/// A com.microsoft QLinear op as "dequantize `inputs` → `float` →
/// quantize with `output`". `bias` is QGemm's optional int32 C (scale
/// `alpha · a_scale · b_scale`, zero point 0), added by the float Gemm
/// after conversion; `output` is None for a QGemm with a float result.
#[derive(Debug, Clone)]
pub struct MsQLinear {
    pub op_type: String,
    pub float: Box<Op>,
    /// The float operator's ONNX op type and default-domain opset.
    pub float_type: String,
    pub float_opset: i64,
    pub inputs: Vec<Quantized>,
    pub bias: Option<usize>,
    /// Slots of the output scale and zero point.
    pub output: Option<(usize, Option<usize>)>,
    /// QGemm's alpha (1 for the others): C's scale includes it.
    pub alpha: f32,
}

const fn q(x: usize, scale: usize, zero_point: usize) -> Quantized {
    Quantized { x, scale, zero_point: Some(zero_point) }
}

impl MsQLinear {
    /// The float operator of type `op_type` with `attrs`, built as the
    /// default-domain node of `opset` would be.
    fn float_op(node: &OnnxNode, op_type: &str, opset: i64, attrs: Vec<(String, Attr)>, inputs: usize) -> Result<Op> {
        let n = OnnxNode {
            name: node.name.clone(),
            op_type: op_type.into(),
            domain: String::new(),
            opset,
            attrs,
            inputs: vec![true; inputs],
            outputs: vec![true],
        };
        Op::from_onnx(&n)
    }

    /// The element type of the quantized output: the output zero point's,
    /// else input 0's (com.microsoft ops keep the input's type).
    fn out_dtype(&self, dtype_of: impl Fn(usize) -> Option<DType>) -> Result<DType> {
        let Some((_, zp)) = self.output else { return Ok(DType::F32) };
        let d = zp.and_then(&dtype_of).or_else(|| dtype_of(self.inputs[0].x));
        match d {
            Some(d @ (DType::I8 | DType::U8)) => Ok(d),
            Some(d) => bail!("{}: the output type must be int8 or uint8, got {d}", self.op_type),
            None => bail!("{}: the output type is unknown", self.op_type),
        }
    }

    /// The float operator's input slots in order: each dequantized input,
    /// then QGemm's bias.
    pub fn float_arity(&self) -> usize {
        self.inputs.len() + usize::from(self.bias.is_some())
    }
}

/// Slots of QLinearConcat's (tensor, scale, zero point) triples after
/// Y_scale and Y_zero_point.
fn concat_inputs(node: &OnnxNode) -> Result<Vec<Quantized>> {
    let n = node.inputs.len();
    if n < 5 || (n - 2) % 3 != 0 {
        bail!("QLinearConcat takes Y_scale, Y_zero_point, then (tensor, scale, zero point) triples; got {n} inputs");
    }
    Ok((2..n).step_by(3).map(|i| q(i, i + 1, i + 2)).collect())
}

fn no_channels_last(node: &OnnxNode) -> Result<()> {
    if node.int("channels_last", 0)? != 0 {
        crate::unsupported!("{} with channels_last=1 (NHWC) is not supported; only NCHW", node.op_type);
    }
    Ok(())
}

/// The attributes of `node` named in `keep`, as given.
fn copy_attrs(node: &OnnxNode, keep: &[&str]) -> Vec<(String, Attr)> {
    node.attrs.iter().filter(|(k, _)| keep.contains(&k.as_str())).cloned().collect()
}

impl OpDef for MsQLinear {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let unary = |x: usize| vec![q(x, x + 1, x + 2)];
        let binary = vec![q(0, 1, 2), q(3, 4, 5)];
        let (float_type, float_opset): (&str, i64) = match node.op_type.as_str() {
            "QLinearAdd" => ("Add", 14),
            "QLinearMul" => ("Mul", 14),
            "QLinearSigmoid" => ("Sigmoid", 13),
            "QLinearLeakyRelu" => ("LeakyRelu", 16),
            // `opset` selects the Softmax semantics (coerced to 2-D before 13).
            "QLinearSoftmax" => ("Softmax", node.int_req("opset")?),
            "QLinearGlobalAveragePool" => ("GlobalAveragePool", 13),
            "QLinearAveragePool" => ("AveragePool", 19),
            "QLinearConcat" => ("Concat", 13),
            "QGemm" => ("Gemm", 13),
            other => bail!("'{other}' is not a com.microsoft QLinear operator qcc knows"),
        };
        let (attrs, inputs, bias, output, alpha) = match node.op_type.as_str() {
            "QLinearAdd" | "QLinearMul" => (vec![], binary, None, Some((6, Some(7))), 1.0),
            "QLinearSigmoid" => (vec![], unary(0), None, Some((3, Some(4))), 1.0),
            "QLinearLeakyRelu" => (copy_attrs(node, &["alpha"]), unary(0), None, Some((3, Some(4))), 1.0),
            "QLinearSoftmax" => (vec![("axis".to_string(), Attr::Int(node.int("axis", -1)?))], unary(0), None, Some((3, Some(4))), 1.0),
            "QLinearGlobalAveragePool" => {
                no_channels_last(node)?;
                (vec![], unary(0), None, Some((3, Some(4))), 1.0)
            }
            "QLinearAveragePool" => {
                no_channels_last(node)?;
                let attrs = copy_attrs(node, &["auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"]);
                (attrs, unary(0), None, Some((3, Some(4))), 1.0)
            }
            "QLinearConcat" => (vec![("axis".to_string(), Attr::Int(node.int_req("axis")?))], concat_inputs(node)?, None, Some((0, Some(1))), 1.0),
            _ => {
                // QGemm: A, a_scale, a_zero_point, B, b_scale, b_zero_point, C?, y_scale?, y_zero_point?
                let at = |i: usize| node.inputs.get(i).copied().unwrap_or(false);
                if !at(7) && at(8) {
                    bail!("QGemm has y_zero_point without y_scale");
                }
                let output = at(7).then_some((7, at(8).then_some(8)));
                (copy_attrs(node, &["alpha", "transA", "transB"]), binary, at(6).then_some(6), output, node.float("alpha", 1.0)?)
            }
        };
        let float = Self::float_op(node, float_type, float_opset, attrs, inputs.len() + usize::from(bias.is_some()))?;
        Ok(MsQLinear {
            op_type: node.op_type.clone(),
            float: Box::new(float),
            float_type: float_type.into(),
            float_opset,
            inputs,
            bias,
            output,
            alpha,
        })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let mut float_types = Vec::with_capacity(self.float_arity());
        for qi in &self.inputs {
            let x = inputs.req(qi.x)?.ty;
            if !matches!(x.dtype, DType::I8 | DType::U8) {
                bail!("{}: quantized inputs must be int8 or uint8, got {}", self.op_type, x.dtype);
            }
            float_types.push(TensorType::new(DType::F32, x.shape.clone()));
        }
        if let Some(b) = self.bias {
            let c = inputs.req(b)?.ty;
            if c.dtype != DType::I32 {
                bail!("QGemm's C must be int32, got {}", c.dtype);
            }
            float_types.push(TensorType::new(DType::F32, c.shape.clone()));
        }
        let args: Vec<Option<Arg>> = float_types.iter().map(|ty| Some(Arg { ty, value: None })).collect();
        let mut out = self.float.infer(&args)?;
        let dtype = self.out_dtype(|i| inputs.opt(i).map(|a| a.ty.dtype))?;
        out.truncate(1);
        out[0].dtype = dtype;
        Ok(out)
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let dq = DequantizeLinear::per_tensor();
        let mut float_in = Vec::with_capacity(self.float_arity());
        for (k, qi) in self.inputs.iter().enumerate() {
            let (x, scale) = (inputs.req(qi.x)?, inputs.req(qi.scale)?);
            let zp = qi.zero_point.and_then(|z| inputs.opt(z));
            // QGemm's b_scale (input 1) may be per column of B: the axis of
            // N in B, 1 without transB and 0 with it.
            let y = if k == 1 && self.op_type == "QGemm" && scale.len() > 1 {
                per_column(x, scale, zp, &self.float)?
            } else {
                dq.eval(&[Some(x), Some(scale), zp])?.remove(0)
            };
            float_in.push(y);
        }
        if let Some(b) = self.bias {
            let c = inputs.req(b)?;
            let (a_scale, b_scale) = (inputs.req(self.inputs[0].scale)?, inputs.req(self.inputs[1].scale)?);
            float_in.push(gemm_bias(c, a_scale, b_scale, self.alpha)?);
        }
        let refs: Vec<Option<&Tensor>> = float_in.iter().map(Some).collect();
        let y = self.float.eval(&refs)?.remove(0);
        let Some((scale, zp)) = self.output else { return Ok(vec![y]) };
        let dtype = self.out_dtype(|i| inputs.opt(i).map(|t| t.dtype()))?;
        let zero = Tensor::zeros(dtype, &[])?;
        let zp = zp.and_then(|z| inputs.opt(z)).unwrap_or(&zero);
        QuantizeLinear::per_tensor().eval(&[Some(&y), Some(inputs.req(scale)?), Some(zp)])
    }

    /// Refused: these ops compile to integer code only through the int8
    /// import, which needs `--quantize int8`.
    fn lower(&self, _cx: &mut super::LowerCx) -> Result<()> {
        crate::unsupported!("code generation of com.microsoft {} is done by the int8 import: compile with --quantize int8", self.op_type)
    }

    /// The float operator's multiply-accumulates on the same shapes.
    fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        let xs: Vec<Option<&TensorType>> = self.inputs.iter().map(|q| inputs.opt(q.x)).collect();
        self.float.macs(&xs, outputs)
    }

    /// int8: integer in the model already; copied as it is.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.as_is())
    }
}

/// The axis of B holding Gemm's N (output columns).
pub fn gemm_column_axis(float: &Op) -> Result<usize> {
    match float {
        Op::Gemm(g) => Ok(if g.trans_b { 0 } else { 1 }),
        _ => bail!("per-column scales belong to QGemm's B"),
    }
}

/// B dequantized with one scale (and zero point) per column.
pub fn per_column(b: &Tensor, scale: &Tensor, zp: Option<&Tensor>, float: &Op) -> Result<Tensor> {
    let axis = gemm_column_axis(float)?;
    let (shape, codes, scales) = (b.shape().to_vec(), b.to_f64_vec()?, scale.to_f64_vec()?);
    if shape.len() != 2 || scales.len() != shape[axis] {
        bail!("QGemm's b_scale has {} elements for B of shape {shape:?}", scales.len());
    }
    let zps = match zp {
        Some(z) if z.len() == scales.len() => z.to_f64_vec()?,
        Some(z) if z.len() == 1 => vec![z.to_f64_vec()?[0]; scales.len()],
        Some(z) => bail!("QGemm's b_zero_point has {} elements for {} scales", z.len(), scales.len()),
        None => vec![0.0; scales.len()],
    };
    let col = |i: usize| if axis == 1 { i % shape[1] } else { i / shape[1] };
    let v: Vec<f32> = codes.iter().enumerate().map(|(i, &c)| ((c - zps[col(i)]) * scales[col(i)]) as f32).collect();
    Tensor::from_vec(&shape, v)
}

/// QGemm's int32 C as float: `C · alpha · a_scale · b_scale[n]`, with the
/// per-column scale along C's last axis (which must then be N).
pub fn gemm_bias(c: &Tensor, a_scale: &Tensor, b_scale: &Tensor, alpha: f32) -> Result<Tensor> {
    if c.dtype() != DType::I32 {
        bail!("QGemm's C must be int32, got {}", c.dtype());
    }
    let a = a_scale.scalar_f64()?;
    let bs = b_scale.to_f64_vec()?;
    let last = c.shape().last().copied().unwrap_or(1);
    if bs.len() > 1 && last != bs.len() {
        crate::unsupported!("QGemm's C of shape {:?} with {} per-column scales (C's last axis must be N)", c.shape(), bs.len());
    }
    let v: Vec<f32> =
        c.to_f64_vec()?.iter().enumerate().map(|(i, &q)| (q * alpha as f64 * a * bs[if bs.len() == 1 { 0 } else { i % last }]) as f32).collect();
    Tensor::from_vec(c.shape(), v)
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::{Attr, OnnxNode};
    use crate::ops::Op;
    use crate::tensor::Tensor;

    fn node(op_type: &str, inputs: usize, attrs: Vec<(&str, Attr)>) -> OnnxNode {
        OnnxNode {
            name: "n".into(),
            op_type: op_type.into(),
            domain: "com.microsoft".into(),
            opset: 1,
            attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            inputs: vec![true; inputs],
            outputs: vec![true],
        }
    }

    fn run(n: &OnnxNode, inputs: &[Tensor]) -> Tensor {
        let op = Op::from_onnx(n).unwrap();
        assert!(matches!(op, Op::MsQLinear(_)), "{op:?}");
        op.eval(&inputs.iter().map(Some).collect::<Vec<_>>()).unwrap().remove(0)
    }

    #[test]
    fn add_with_different_scales_and_broadcasting() {
        let a = Tensor::from_vec(&[2, 2], vec![10u8, 20, 30, 40]).unwrap();
        let b = Tensor::from_vec(&[2], vec![4u8, 6]).unwrap();
        // (10-0)*0.5 + (4-2)*0.25 = 5.5 → 5.5/0.5 + 1 = 12.
        let y = run(
            &node("QLinearAdd", 8, vec![]),
            &[a, Tensor::scalar(0.5f32), Tensor::scalar(0u8), b, Tensor::scalar(0.25f32), Tensor::scalar(2u8), Tensor::scalar(0.5f32), Tensor::scalar(1u8)],
        );
        assert_eq!(y, Tensor::from_vec(&[2, 2], vec![12u8, 23, 32, 43]).unwrap());
    }

    #[test]
    fn qgemm_per_column_scales_bias_and_float_output() {
        // A = [[2, 4]] (scale 0.5); B (N × K, transB) = [[1, 2], [3, −1]], scales 0.1 and 0.2 per column of the product.
        let a = Tensor::from_vec(&[1, 2], vec![2i8, 4]).unwrap();
        let b = Tensor::from_vec(&[2, 2], vec![1i8, 2, 3, -1]).unwrap();
        let c = Tensor::from_vec(&[2], vec![10i32, -10]).unwrap();
        let n = node("QGemm", 7, vec![("transB", Attr::Int(1))]);
        let y = run(&n, &[a, Tensor::scalar(0.5f32), Tensor::scalar(0i8), b, Tensor::from_vec(&[2], vec![0.1f32, 0.2]).unwrap(), Tensor::from_vec(&[2], vec![0i8, 0]).unwrap(), c]);
        // Column 0: (2·1 + 4·2)·0.5·0.1 + 10·0.5·0.1 = 1.0; column 1: (2·3 + 4·−1)·0.5·0.2 − 10·0.5·0.2 = −0.8.
        let v = y.to_f64_vec().unwrap();
        assert!((v[0] - 1.0).abs() < 1e-6 && (v[1] + 0.8).abs() < 1e-6, "{v:?}");
    }

    #[test]
    fn channels_last_is_refused_with_the_reason() {
        let e = Op::from_onnx(&node("QLinearGlobalAveragePool", 5, vec![("channels_last", Attr::Int(1))])).unwrap_err();
        assert!(e.to_string().contains("channels_last"), "{e}");
    }
}
