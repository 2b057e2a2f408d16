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

use super::params::QParams;
use crate::ir::{Graph, NodeId, ValueId};
use crate::ops::Op;
use crate::tensor::{DType, Tensor};
use crate::Result;
use std::collections::HashMap;

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
