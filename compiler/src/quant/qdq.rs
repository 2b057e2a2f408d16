//! Import of models that are already quantized in QDQ form (as written by
//! onnxruntime's quantize_static or by QAT exports): the model's own scales
//! replace calibration.
//!
//! Before preparation, [`scan_weights`] records the scales of every
//! DequantizeLinear of a constant int8 tensor (weights), because
//! preparation folds those nodes into float constants. After preparation,
//! [`strip`] removes each QuantizeLinear → DequantizeLinear pair on an
//! activation and records the pair's scale and zero point for the float
//! value it wrapped. The rewrite then quantizes exactly those values with
//! those parameters, and weights with their recorded scales.
//!
//! QLinearConv and QLinearMatMul with constant parameters and weights (and
//! zero weight zero points) are first written out in the same QDQ form by
//! [`expand_qlinear`]: DequantizeLinear, the float Conv or MatMul on the
//! dequantized weights, QuantizeLinear.

use super::params::QParams;
use crate::ir::{Graph, Node, NodeId, TensorType, Value, ValueId};
use crate::ops::conv::Conv;
use crate::ops::matmul::MatMul;
use crate::ops::pool::Kind as PoolKind;
use crate::ops::quantize::{DequantizeLinear, QuantizeLinear};
use crate::ops::Op;
use crate::tensor::{DType, Tensor};
use crate::Result;
use std::collections::HashMap;
use std::sync::Arc;

/// Per-channel (or one) scales of a weight, along `axis` of the weight.
#[derive(Debug, Clone)]
pub struct WeightScales {
    pub scales: Vec<f32>,
    pub axis: usize,
}

/// Parameters a QDQ model carries.
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub activations: HashMap<ValueId, QParams>,
    pub weights: HashMap<ValueId, WeightScales>,
}

fn constant(g: &Graph, v: Option<ValueId>) -> Option<&Tensor> {
    v.and_then(|v| g.value(v).constant.as_deref())
}

/// The weight scales of every DequantizeLinear of a constant int8 tensor
/// with zero zero points, by the node's output value.
pub fn scan_weights(g: &Graph) -> HashMap<ValueId, WeightScales> {
    let mut out = HashMap::new();
    for n in g.nodes() {
        let node = g.node(n);
        if !matches!(node.op, Op::DequantizeLinear(_)) {
            continue;
        }
        let ins = g.node_inputs(n);
        let (Some(x), Some(s)) = (constant(g, ins[0]), constant(g, ins.get(1).copied().flatten())) else { continue };
        let zero_ok = constant(g, ins.get(2).copied().flatten()).is_none_or(|z| z.to_i64_vec().is_ok_and(|v| v.iter().all(|&q| q == 0)));
        let Ok(scales) = s.to_f64_vec() else { continue };
        if x.dtype() != DType::I8 || !zero_ok || x.rank() == 0 {
            continue;
        }
        let axis = match node.op {
            Op::DequantizeLinear(ref d) if scales.len() > 1 => d.axis(x.rank()),
            _ => Some(0),
        };
        let (Some(axis), Some(Some(out_v))) = (axis, g.node_outputs(n).first().copied()) else { continue };
        out.insert(out_v, WeightScales { scales: scales.into_iter().map(|v| v as f32).collect(), axis });
    }
    out
}

/// The per-tensor scale and zero point of a Quantize/DequantizeLinear node
/// (constant, 8-bit), with the code type.
fn pair_params(g: &Graph, n: NodeId) -> Option<QParams> {
    let ins = g.node_inputs(n);
    let s = constant(g, ins.get(1).copied().flatten())?;
    let z = constant(g, ins.get(2).copied().flatten())?;
    if s.len() != 1 || z.len() != 1 || !matches!(z.dtype(), DType::I8 | DType::U8) {
        return None;
    }
    Some(QParams { scale: s.scalar_f64().ok()? as f32, zero: z.scalar_i64().ok()? as i32, dtype: z.dtype() })
}

/// Removes every QuantizeLinear → DequantizeLinear pair on a (non-constant)
/// activation of the prepared `g`, returning the parameters per wrapped
/// value. A graph output that was a pair's result keeps its name.
pub fn strip(g: &mut Graph) -> Result<HashMap<ValueId, QParams>> {
    hoist_dequantize(g)?;
    let mut params = HashMap::new();
    let quantizers: Vec<NodeId> = g.nodes().into_iter().filter(|&n| matches!(g.node(n).op, Op::QuantizeLinear(_))).collect();
    for q in quantizers {
        let Some(p) = pair_params(g, q) else { continue };
        let (Some(Some(x)), Some(Some(y))) = (g.node_inputs(q).first().copied(), g.node_outputs(q).first().copied()) else { continue };
        let readers = g.consumers(y);
        let all_dq = readers.iter().all(|&(d, slot)| slot == 0 && matches!(g.node(d).op, Op::DequantizeLinear(_)) && pair_params(g, d) == Some(p));
        if readers.is_empty() || !all_dq || g.outputs.contains(&y) || params.get(&x).is_some_and(|&old| old != p) {
            continue;
        }
        for (d, _) in readers {
            let Some(Some(out)) = g.node_outputs(d).first().copied() else { continue };
            if g.outputs.contains(&out) {
                g.value_mut(x).name = g.value(out).name.clone();
            }
            g.replace_uses(out, x);
            g.remove_node(d);
            g.remove_value(out);
        }
        g.remove_node(q);
        g.remove_value(y);
        params.insert(x, p);
    }
    Ok(params)
}

/// Rewrites every QLinearConv and QLinearMatMul whose parameters, weights
/// and bias are constants (weight zero points 0, per-tensor activations)
/// into DequantizeLinear → Conv/MatMul → QuantizeLinear on float weights;
/// returns the weight scales of the new float weights.
pub fn expand_qlinear(g: &mut Graph) -> Result<HashMap<ValueId, WeightScales>> {
    let mut weights = HashMap::new();
    for n in g.nodes() {
        let (float_op, w_slot, scale_slot, zero_slot, y_slots, bias_slot) = match &g.node(n).op {
            Op::QLinearConv(q) => (Op::Conv(Conv { window: q.window.clone(), group: q.group }), 3, 4, 5, (6, 7), Some(8)),
            Op::QLinearMatMul(_) => (Op::MatMul(MatMul), 3, 4, 5, (6, 7), None),
            _ => continue,
        };
        let ins = g.node_inputs(n);
        let at = |i: usize| ins.get(i).copied().flatten();
        let c = |i: usize| constant(g, at(i)).cloned();
        let (Some(x), Some(w), Some(ws), Some(Some(y))) = (at(0), c(w_slot), c(scale_slot), g.node_outputs(n).first().copied()) else { continue };
        let (Some(xs), Some(_), Some(ys), Some(_)) = (c(1), c(2), c(y_slots.0), c(y_slots.1)) else { continue };
        let zero_w = c(zero_slot).is_none_or(|z| z.to_i64_vec().is_ok_and(|v| v.iter().all(|&q| q == 0)));
        let bias_const = bias_slot.and_then(c);
        if !zero_w || w.dtype() != DType::I8 || xs.len() != 1 || ys.len() != 1 || (bias_slot.and_then(at).is_some() && bias_const.is_none()) {
            continue;
        }
        // Weights per output channel: axis 0 of a Conv's W, the last axis of a MatMul's B.
        let axis = if matches!(float_op, Op::Conv(_)) { 0 } else { w.rank().saturating_sub(1) };
        let scales: Vec<f64> = ws.to_f64_vec()?;
        let codes = w.to_f64_vec()?;
        let shape = w.shape().to_vec();
        let (inner, dim): (usize, usize) = (shape[axis + 1..].iter().product(), shape[axis]);
        let per = |i: usize| scales[if scales.len() == 1 { 0 } else { (i / inner.max(1)) % dim.max(1) }];
        let wf: Vec<f32> = codes.iter().enumerate().map(|(i, &q)| (q * per(i)) as f32).collect();
        let name = g.node(n).name.clone();
        let opset = g.node(n).opset;
        let new_const = |g: &mut Graph, what: &str, t: Tensor| {
            g.add_value(Value { name: format!("{name}_{what}"), ty: Some(TensorType::of(&t)), constant: Some(Arc::new(t)) })
        };
        let wv = new_const(g, "float_weights", Tensor::from_vec(&shape, wf)?);
        weights.insert(wv, WeightScales { scales: scales.iter().map(|&v| v as f32).collect(), axis });
        let bv = match bias_const {
            Some(b) => {
                let x_scale = xs.scalar_f64()?;
                let bf: Vec<f32> = b.to_f64_vec()?.iter().enumerate().map(|(i, &q)| (q * x_scale * scales[if scales.len() == 1 { 0 } else { i }]) as f32).collect();
                Some(new_const(g, "float_bias", Tensor::from_vec(b.shape(), bf)?))
            }
            None => None,
        };
        let (xs_v, xz_v, ys_v, yz_v) = (at(1), at(2), at(y_slots.0), at(y_slots.1));
        let fresh = |g: &mut Graph, what: &str| g.add_value(Value { name: format!("{name}_{what}"), ty: None, constant: None });
        let (xf, yf) = (fresh(g, "input_float"), fresh(g, "output_float"));
        g.remove_node(n);
        let node = |op_type: &str, op: Op, suffix: &str| Node { name: format!("{name}{suffix}"), op_type: op_type.into(), opset, op };
        g.add_node(node("DequantizeLinear", Op::DequantizeLinear(DequantizeLinear::per_tensor()), "_dequantize"), &[Some(x), xs_v, xz_v], &[Some(xf)])?;
        let mut float_ins = vec![Some(xf), Some(wv)];
        if let Some(b) = bv {
            float_ins.push(Some(b));
        }
        let op_type = if matches!(float_op, Op::Conv(_)) { "Conv" } else { "MatMul" };
        g.add_node(node(op_type, float_op, ""), &float_ins, &[Some(yf)])?;
        g.add_node(node("QuantizeLinear", Op::QuantizeLinear(QuantizeLinear::per_tensor()), "_quantize"), &[Some(yf), ys_v, yz_v], &[Some(y)])?;
    }
    if !weights.is_empty() {
        crate::passes::infer_shapes::run(g)?;
    }
    Ok(weights)
}

/// Moves each per-tensor DequantizeLinear above the data movement (or
/// MaxPool) that feeds it (Q → Reshape → DQ becomes Q → DQ → Reshape), so that every
/// quantized tensor of a QOperator-form model sits in a Q → DQ pair.
/// Dequantization is elementwise with one scale, so the order does not
/// change the values.
fn hoist_dequantize(g: &mut Graph) -> Result<()> {
    loop {
        let mut changed = false;
        for d in g.nodes() {
            let Some(params) = pair_params(g, d).filter(|_| matches!(g.node(d).op, Op::DequantizeLinear(_))) else { continue };
            let ins = g.node_inputs(d);
            let (Some(v), Some(Some(out))) = (ins[0], g.node_outputs(d).first().copied()) else { continue };
            let Some((m, 0)) = g.producer(v) else { continue };
            // MaxPool commutes with a dequantization of positive scale (an
            // increasing map), when only its values are used.
            let max_pool = matches!(&g.node(m).op, Op::Pool(p) if matches!(p.kind, PoolKind::Max { .. }))
                && params.scale > 0.0
                && g.node_outputs(m).iter().skip(1).all(Option::is_none);
            let movement = max_pool || matches!(g.node(m).op, Op::Reshape(_) | Op::Flatten(_) | Op::Squeeze(_) | Op::Transpose(_));
            let m_ins = g.node_inputs(m);
            if !movement || g.consumers(v).len() != 1 || g.outputs.contains(&v) || m_ins.iter().skip(1).flatten().any(|&s| g.value(s).constant.is_none()) {
                continue;
            }
            let (dq_node, m_node) = (g.node(d).clone(), g.node(m).clone());
            let name = g.value(out).name.clone();
            let hoisted = g.add_value(Value { name: format!("{name}_before_{}", m_node.name), ty: None, constant: None });
            g.remove_node(d);
            g.remove_node(m);
            g.remove_value(v);
            let mut dq_ins = vec![m_ins[0]];
            dq_ins.extend(ins[1..].iter().copied());
            g.add_node(dq_node, &dq_ins, &[Some(hoisted)])?;
            let mut moved_ins = vec![Some(hoisted)];
            moved_ins.extend(m_ins[1..].iter().copied());
            g.add_node(m_node, &moved_ins, &[Some(out)])?;
            changed = true;
        }
        if !changed {
            break;
        }
    }
    crate::passes::infer_shapes::run(g)
}
