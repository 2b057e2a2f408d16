//! Import of onnxruntime's com.microsoft QOperator-form int8 ops
//! ([`crate::ops::ms_qlinear`]: QLinearAdd, QLinearMul, QLinearConcat,
//! QLinearGlobalAveragePool, QLinearAveragePool, QLinearSigmoid,
//! QLinearLeakyRelu, QLinearSoftmax, QGemm) with the model's own scales.
//!
//! [`expand`] writes each such node out in QDQ form: a DequantizeLinear per
//! quantized activation input (each with its own scale and zero point), the
//! float operator, and a QuantizeLinear with the output's parameters. The
//! QDQ import ([`super::qdq::strip`] and the rewrite) then turns the whole
//! into integer operators, as for QLinearConv/QLinearMatMul
//! ([`super::qdq::expand_qlinear`]).
//!
//! Contract: every scale and zero point must be a constant, activations
//! quantized per tensor; QGemm's B must be a constant int8 tensor with zero
//! zero points (per-tensor or per-column scales), its C a constant int32.
//! A node that breaks this is an error naming the node, its op type and the
//! reason: its integer semantics cannot be reproduced with given scales.

use super::qdq::WeightScales;
use crate::error::NodeRef;
use crate::ir::{Graph, Node, NodeId, TensorType, Value, ValueId};
use crate::ops::ms_qlinear::{gemm_bias, gemm_column_axis, per_column, MsQLinear};
use crate::ops::quantize::{DequantizeLinear, QuantizeLinear};
use crate::ops::{Op, OpDef};
use crate::tensor::{DType, Tensor};
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;

/// Rewrites every com.microsoft QLinear node of `g` into DequantizeLinear →
/// float op → QuantizeLinear; returns the weight scales of QGemm's new float
/// weights (the per-column scales of B, along B's N axis).
pub fn expand(g: &mut Graph) -> Result<HashMap<ValueId, WeightScales>> {
    let mut weights = HashMap::new();
    let mut any = false;
    for n in g.nodes() {
        let Op::MsQLinear(m) = &g.node(n).op else { continue };
        let m = m.clone();
        let node = g.node(n).clone();
        let at = NodeRef { name: node.name.clone(), op_type: node.op_type.clone(), opset: Some(node.opset) };
        expand_node(g, n, &m, &mut weights).map_err(|e| e.at_node(&at))?;
        any = true;
    }
    if any {
        crate::passes::infer_shapes::run(g)?;
    }
    Ok(weights)
}

fn constant(g: &Graph, v: Option<ValueId>) -> Option<Arc<Tensor>> {
    v.and_then(|v| g.value(v).constant.clone())
}

/// A constant per-tensor scale (and zero point, when given) at `scale`
/// and `zero_point`, or the reason it is not one.
fn check_per_tensor(g: &Graph, ins: &[Option<ValueId>], scale: usize, zero_point: Option<usize>, what: &str) -> Result<()> {
    let at = |i: usize| ins.get(i).copied().flatten();
    let Some(s) = constant(g, at(scale)) else {
        crate::unsupported!("the {what} scale is not a constant; only constant scales and zero points can be imported");
    };
    if s.len() != 1 {
        crate::unsupported!("the {what} scale has {} elements; activations must be quantized per tensor", s.len());
    }
    if let Some(z) = zero_point.and_then(at) {
        match constant(g, Some(z)) {
            None => crate::unsupported!("the {what} zero point is not a constant; only constant scales and zero points can be imported"),
            Some(t) if t.len() != 1 => crate::unsupported!("the {what} zero point has {} elements; activations must be quantized per tensor", t.len()),
            Some(_) => {}
        }
    }
    Ok(())
}

fn expand_node(g: &mut Graph, n: NodeId, m: &MsQLinear, weights: &mut HashMap<ValueId, WeightScales>) -> Result<()> {
    let ins = g.node_inputs(n);
    let at = |i: usize| ins.get(i).copied().flatten();
    let Some(Some(y)) = g.node_outputs(n).first().copied() else { return Ok(()) };
    let (name, opset) = (g.node(n).name.clone(), g.node(n).opset);
    let is_gemm = matches!(*m.float, Op::Gemm(_));
    if let Some((scale, zp)) = m.output {
        check_per_tensor(g, &ins, scale, zp, "output")?;
    }
    let new_const = |g: &mut Graph, what: &str, t: Tensor| {
        g.add_value(Value { name: format!("{name}_{what}"), ty: Some(TensorType::of(&t)), constant: Some(Arc::new(t)) })
    };
    // Float inputs of the float op, and the DequantizeLinear nodes to add.
    let mut float_ins = Vec::with_capacity(m.float_arity());
    let mut dequantize = Vec::new();
    for (k, qi) in m.inputs.iter().enumerate() {
        let x = at(qi.x).ok_or_else(|| Error::Op(format!("required input {} is missing", qi.x)))?;
        let zp = qi.zero_point.and_then(at);
        if is_gemm && k == 1 {
            // QGemm's B: a constant int8 weight with zero zero points.
            let (Some(b), Some(bs)) = (constant(g, Some(x)), constant(g, at(qi.scale))) else {
                crate::unsupported!("B and b_scale must be constants (weights)");
            };
            let zero = constant(g, zp).is_none_or(|z| z.to_i64_vec().is_ok_and(|v| v.iter().all(|&q| q == 0)));
            if b.dtype() != DType::I8 || !zero || zp.is_some_and(|z| g.value(z).constant.is_none()) {
                crate::unsupported!("B must be int8 with zero zero points, got {} B", b.dtype());
            }
            let axis = gemm_column_axis(&m.float)?;
            let wf = if bs.len() == 1 {
                DequantizeLinear::per_tensor().eval(&[Some(&b), Some(&bs), None])?.remove(0)
            } else {
                per_column(&b, &bs, None, &m.float)?
            };
            let scales = bs.to_f64_vec()?.iter().map(|&s| s as f32).collect();
            let wv = new_const(g, "float_weights", wf);
            weights.insert(wv, WeightScales { scales, axis });
            float_ins.push(Some(wv));
            continue;
        }
        let what = format!("input {}", qi.x);
        check_per_tensor(g, &ins, qi.scale, qi.zero_point, &what)?;
        if let Some(c) = constant(g, Some(x)) {
            // A constant operand: dequantized now, a float constant for the rewrite.
            let (s, z) = (constant(g, at(qi.scale)), constant(g, zp));
            let f = DequantizeLinear::per_tensor().eval(&[Some(&c), s.as_deref(), z.as_deref()])?.remove(0);
            float_ins.push(Some(new_const(g, &format!("float_input{k}"), f)));
            continue;
        }
        let dtype = g.value(x).ty.as_ref().map(|t| t.dtype).unwrap_or(DType::U8);
        let zp = match zp {
            Some(z) => z,
            None => new_const(g, &format!("zero_point{k}"), Tensor::zeros(dtype, &[])?),
        };
        let xf = g.add_value(Value { name: format!("{name}_input{k}_float"), ty: None, constant: None });
        dequantize.push((k, [Some(x), at(qi.scale), Some(zp)], xf));
        float_ins.push(Some(xf));
    }
    if let Some(b) = m.bias {
        if let Some(cv) = at(b) {
            let (Some(c), Some(a_s), Some(b_s)) = (constant(g, Some(cv)), constant(g, at(m.inputs[0].scale)), constant(g, at(m.inputs[1].scale))) else {
                crate::unsupported!("C (the int32 bias) must be a constant");
            };
            let cf = gemm_bias(&c, &a_s, &b_s, m.alpha)?;
            float_ins.push(Some(new_const(g, "float_bias", cf)));
        }
    }
    let out_dtype = m.output.map(|_| g.value(y).ty.as_ref().map(|t| t.dtype).unwrap_or(DType::U8));
    g.remove_node(n);
    let node = |op_type: &str, op: Op, suffix: &str| Node { name: format!("{name}{suffix}"), op_type: op_type.into(), opset, op };
    for (k, dq_ins, xf) in dequantize {
        g.add_node(node("DequantizeLinear", Op::DequantizeLinear(DequantizeLinear::per_tensor()), &format!("_dequantize{k}")), &dq_ins, &[Some(xf)])?;
    }
    let float_node = Node { name: name.clone(), op_type: m.float_type.clone(), opset: m.float_opset, op: (*m.float).clone() };
    let Some((scale, zp)) = m.output else {
        // QGemm without y_scale: the float result is the output.
        g.add_node(float_node, &float_ins, &[Some(y)])?;
        return Ok(());
    };
    let yf = g.add_value(Value { name: format!("{name}_output_float"), ty: None, constant: None });
    g.add_node(float_node, &float_ins, &[Some(yf)])?;
    let zp = match zp.and_then(at) {
        Some(z) => z,
        None => new_const(g, "output_zero_point", Tensor::zeros(out_dtype.unwrap_or(DType::U8), &[])?),
    };
    g.add_node(node("QuantizeLinear", Op::QuantizeLinear(QuantizeLinear::per_tensor()), "_quantize"), &[Some(yf), at(scale), Some(zp)], &[Some(y)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::expand;
    use crate::front::onnx::OnnxNode;
    use crate::ir::{Graph, Node, Shape, TensorType, Value, ValueId};
    use crate::ops::Op;
    use crate::tensor::{DType, Tensor};
    use std::sync::Arc;

    fn input(g: &mut Graph, name: &str) -> ValueId {
        let v = g.add_value(Value { name: name.into(), ty: Some(TensorType::new(DType::U8, Shape::fixed(&[1, 4]))), constant: None });
        g.inputs.push(v);
        v
    }

    fn constant(g: &mut Graph, name: &str, t: Tensor) -> ValueId {
        g.add_value(Value { name: name.into(), ty: Some(TensorType::of(&t)), constant: Some(Arc::new(t)) })
    }

    /// A QLinearAdd of two activations; `b_scale` is a constant or not.
    fn qlinear_add(constant_scale: bool) -> Graph {
        let mut g = Graph::new("t");
        let (a, b) = (input(&mut g, "a"), input(&mut g, "b"));
        let s = constant(&mut g, "s", Tensor::scalar(0.5f32));
        let z = constant(&mut g, "z", Tensor::scalar(3u8));
        let bs = if constant_scale {
            constant(&mut g, "bs", Tensor::scalar(0.25f32))
        } else {
            let v = g.add_value(Value { name: "bs".into(), ty: Some(TensorType::new(DType::F32, Shape::fixed(&[]))), constant: None });
            g.inputs.push(v);
            v
        };
        let y = g.add_value(Value { name: "y".into(), ty: None, constant: None });
        g.outputs.push(y);
        let node = OnnxNode {
            name: "add".into(),
            op_type: "QLinearAdd".into(),
            domain: "com.microsoft".into(),
            opset: 1,
            attrs: vec![],
            inputs: vec![true; 8],
            outputs: vec![true],
        };
        let op = Op::from_onnx(&node).unwrap();
        let n = Node { name: "add".into(), op_type: "QLinearAdd".into(), opset: 1, op };
        g.add_node(n, &[Some(a), Some(s), Some(z), Some(b), Some(bs), Some(z), Some(s), Some(z)], &[Some(y)]).unwrap();
        crate::passes::infer_shapes::run(&mut g).unwrap();
        g
    }

    #[test]
    fn qlinear_add_becomes_dequantize_add_quantize() {
        let mut g = qlinear_add(true);
        assert!(expand(&mut g).unwrap().is_empty());
        let mut ops: Vec<String> = g.nodes().into_iter().map(|n| g.node(n).op_type.clone()).collect();
        ops.sort();
        assert_eq!(ops, ["Add", "DequantizeLinear", "DequantizeLinear", "QuantizeLinear"]);
        let y = g.outputs[0];
        assert_eq!(g.value(y).ty.as_ref().unwrap().dtype, DType::U8);
    }

    #[test]
    fn a_non_constant_scale_is_an_error_naming_the_node() {
        let mut g = qlinear_add(false);
        let e = expand(&mut g).unwrap_err().to_string();
        assert!(e.contains("'add'") && e.contains("QLinearAdd") && e.contains("scale is not a constant"), "{e}");
    }
}
