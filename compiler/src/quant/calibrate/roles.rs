//! What the graph says about a value's range, beyond its statistics: the
//! bounds of the operator that computes it (`OpDef::output_bounds`),
//! whether its largest values decide a result (a graph output, or the
//! input of Softmax, ArgMax, TopK), and which of its readers apply an
//! elementwise function to it alone (its error matters through that
//! function). Readers are followed through the operators whose integer
//! form keeps its input's parameters (data movement, pooling, Pad, Resize),
//! since those share the value's range. It also finds additive attention
//! masks: the values on the way of an Add into a Softmax, whose "masked"
//! elements (at or below [`MASKED`]) calibration sets apart.

use crate::ir::{Graph, NodeId, ValueId};
use crate::ops::binary::Kind as BinaryKind;
use crate::ops::unary::Kind as UnaryKind;
use crate::ops::{Arg, Op};
use crate::tensor::Tensor;
use std::collections::{HashMap, HashSet};

/// An element at or below this, on the way of an Add into a Softmax, is a
/// masked position of an additive attention mask (−10000 in older BERT
/// exports, float32's lowest in newer ones), not a score: its weight after
/// the Softmax is 0 whatever the exact value.
pub const MASKED: f64 = -1e4;

/// The facts about one float value.
#[derive(Debug, Clone, Default)]
pub struct Role {
    /// The producer's output interval, when bounded on both sides.
    pub bounds: Option<(f64, f64)>,
    /// The observed maximum must stay representable.
    pub keep_max: bool,
    /// Readers computing an elementwise function of this value alone.
    pub functions: Vec<NodeId>,
    /// Some reader is anything else (its error is the value's own).
    pub linear: bool,
}

/// The role of every non-constant value of `g`.
pub fn of(g: &Graph) -> HashMap<ValueId, Role> {
    let mut roles = HashMap::new();
    for v in g.values() {
        if g.value(v).constant.is_some() {
            continue;
        }
        let mut role = Role { bounds: bounds(g, v), ..Role::default() };
        let mut frontier = vec![v];
        while let Some(x) = frontier.pop() {
            role.keep_max |= g.outputs.contains(&x);
            for (c, slot) in g.consumers(x) {
                let op = &g.node(c).op;
                if slot == 0 && keeps_parameters(op) {
                    frontier.extend(g.node_outputs(c).into_iter().flatten().take(1));
                } else if matches!(op, Op::Softmax(_) | Op::ArgExtremum(_) | Op::TopK(_)) {
                    role.keep_max = true;
                    role.linear = true;
                } else if slot == 0 && elementwise_of_one(g, c) {
                    role.functions.push(c);
                } else {
                    role.linear = true;
                }
            }
        }
        roles.insert(v, role);
    }
    roles
}

/// The values of `g` an additive mask passes on its way into a Softmax:
/// each Softmax input and, where that is an Add's output, the Add's two
/// operands, each followed back through the operators that keep their
/// input's parameters (a Reshape or Expand of the mask shares its range).
/// Their masked elements are set apart by calibration (`observe`).
pub fn mask_context(g: &Graph) -> HashSet<ValueId> {
    let mut context = HashSet::new();
    for s in softmax_inputs(g) {
        context.extend(back_through_kept(g, s));
        if let Some(add) = adding(g, s) {
            for x in g.node_inputs(add).into_iter().flatten() {
                context.extend(back_through_kept(g, x));
            }
        }
    }
    context
}

/// The Adds that read `v` (directly or through operators keeping its
/// parameters) and whose sum is a Softmax input there: each Add's other
/// operand and its output. A mask read this way is added to scores.
pub fn masked_sums(g: &Graph, v: ValueId) -> Vec<(ValueId, ValueId)> {
    let inputs: HashSet<ValueId> = softmax_inputs(g).into_iter().flat_map(|s| back_through_kept(g, s)).collect();
    let mut sums = Vec::new();
    let mut frontier = vec![v];
    while let Some(x) = frontier.pop() {
        for (c, slot) in g.consumers(x) {
            let op = &g.node(c).op;
            if slot == 0 && keeps_parameters(op) {
                frontier.extend(g.node_outputs(c).into_iter().flatten().take(1));
            } else if matches!(op, Op::Binary(b) if b.kind == BinaryKind::Add) {
                let (ins, out) = (g.node_inputs(c), g.node_outputs(c));
                let (Some(Some(other)), Some(Some(sum))) = (ins.get(1 - slot.min(1)), out.first()) else { continue };
                if inputs.contains(sum) {
                    sums.push((*other, *sum));
                }
            }
        }
    }
    sums
}

/// The input of every Softmax of `g`.
fn softmax_inputs(g: &Graph) -> Vec<ValueId> {
    g.nodes().into_iter().filter(|&n| matches!(g.node(n).op, Op::Softmax(_))).filter_map(|n| g.node_inputs(n).first().copied().flatten()).collect()
}

/// `v` and the values it is computed from through operators that keep
/// their input's parameters (input 0 of each).
fn back_through_kept(g: &Graph, v: ValueId) -> Vec<ValueId> {
    let mut chain = vec![v];
    let mut x = v;
    while let Some((p, 0)) = g.producer(x) {
        match g.node_inputs(p).first() {
            Some(&Some(i)) if keeps_parameters(&g.node(p).op) => {
                chain.push(i);
                x = i;
            }
            _ => break,
        }
    }
    chain
}

/// The Add node computing `v`, if any, back through operators that keep
/// their input's parameters.
fn adding(g: &Graph, v: ValueId) -> Option<NodeId> {
    let last = *back_through_kept(g, v).last()?;
    let (p, 0) = g.producer(last)? else { return None };
    matches!(g.node(p).op, Op::Binary(ref b) if b.kind == BinaryKind::Add).then_some(p)
}

/// The bounds output 0 of `v`'s producer declares, when both are finite.
fn bounds(g: &Graph, v: ValueId) -> Option<(f64, f64)> {
    let (n, 0) = g.producer(v)? else { return None };
    let inputs = g.node_inputs(n);
    let args: Vec<Option<Arg>> = inputs
        .iter()
        .map(|i| i.and_then(|i| g.value(i).ty.as_ref().map(|ty| Arg { ty, value: g.value(i).constant.as_deref() })))
        .collect();
    let (lo, hi) = g.node(n).op.output_bounds(&args)?;
    (lo.is_finite() && hi.is_finite() && lo <= hi).then_some((lo, hi))
}

/// Operators whose integer form gives the output the input's parameters
/// (the rewrite's data movement, max and average pooling, Pad, Resize).
fn keeps_parameters(op: &Op) -> bool {
    matches!(
        op,
        Op::Pool(_) | Op::GlobalPool(_) | Op::Reshape(_) | Op::Flatten(_) | Op::Transpose(_) | Op::Squeeze(_) | Op::Slice(_)
            | Op::Split(_) | Op::Identity(_) | Op::DepthSpace(_) | Op::Expand(_) | Op::Tile(_) | Op::Pad(_) | Op::Resize(_)
    )
}

/// Whether node `n` computes an elementwise function of its input 0 and
/// constants only: a unary activation, or Clip with constant bounds.
fn elementwise_of_one(g: &Graph, n: NodeId) -> bool {
    let constants = || g.node_inputs(n).iter().skip(1).flatten().all(|&b| g.value(b).constant.is_some());
    match &g.node(n).op {
        Op::Unary(u) => !matches!(u.kind, UnaryKind::IsInf { .. } | UnaryKind::IsNaN | UnaryKind::BitwiseNot),
        Op::Clip(_) => constants(),
        _ => false,
    }
}

/// The function of reader `n` (see [`Role::functions`]) at `xs`.
pub fn apply(g: &Graph, n: NodeId, xs: &[f64]) -> Option<Vec<f64>> {
    let x = Tensor::from_vec(&[xs.len()], xs.iter().map(|&x| x as f32).collect::<Vec<f32>>()).ok()?;
    let held: Vec<Option<std::sync::Arc<Tensor>>> = g.node_inputs(n).iter().skip(1).map(|v| v.and_then(|v| g.value(v).constant.clone())).collect();
    let mut args = vec![Some(&x)];
    args.extend(held.iter().map(|t| t.as_deref()));
    g.node(n).op.eval(&args).ok()?.first()?.to_f64_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::onnx::Attr;
    use crate::ir::{Node, TensorType, Value};
    use crate::tensor::DType;

    fn op(g: &mut Graph, op_type: &str, attrs: Vec<(&str, Attr)>, inputs: &[ValueId]) -> ValueId {
        let onnx = crate::ops::testing::node(op_type, 17, attrs, inputs.len(), 1);
        let node = Node { name: op_type.into(), op_type: op_type.into(), opset: 17, op: Op::from_onnx(&onnx).unwrap() };
        let out = g.add_value(Value { name: format!("{op_type}_out"), ty: None, constant: None });
        let ins: Vec<_> = inputs.iter().map(|&v| Some(v)).collect();
        g.add_node(node, &ins, &[Some(out)]).unwrap();
        out
    }

    #[test]
    fn bounds_readers_and_the_kept_maximum() {
        let mut g = Graph::new("roles");
        let x = g.add_value(Value { name: "x".into(), ty: Some(TensorType::fixed(DType::F32, &[1, 4, 2, 2])), constant: None });
        let six = g.add_value(Value { name: "six".into(), ty: Some(TensorType::fixed(DType::F32, &[])), constant: Some(Tensor::scalar(6f32).into()) });
        let zero = g.add_value(Value { name: "zero".into(), ty: Some(TensorType::fixed(DType::F32, &[])), constant: Some(Tensor::scalar(0f32).into()) });
        let gate = op(&mut g, "HardSigmoid", vec![], &[x]);
        let relu6 = op(&mut g, "Clip", vec![], &[x, zero, six]);
        let flat = op(&mut g, "Flatten", vec![], &[relu6]);
        let probs = op(&mut g, "Softmax", vec![], &[flat]);
        let y = op(&mut g, "Mul", vec![], &[gate, x]);
        g.inputs.push(x);
        g.outputs.extend([probs, y]);
        crate::passes::infer_shapes::run(&mut g).unwrap();
        let roles = of(&g);
        assert_eq!(roles[&gate].bounds, Some((0.0, 1.0)));
        assert_eq!(roles[&relu6].bounds, Some((0.0, 6.0)));
        assert_eq!(roles[&probs].bounds, Some((0.0, 1.0)));
        assert_eq!(roles[&y].bounds, None);
        // x feeds HardSigmoid and Clip (functions of it alone) and a Mul.
        assert_eq!(roles[&x].functions.len(), 2);
        assert!(roles[&x].linear && !roles[&x].keep_max);
        // The Softmax reads relu6 through a Flatten; graph outputs keep their maximum.
        assert!(roles[&relu6].keep_max && roles[&probs].keep_max && roles[&y].keep_max);
        let hs = g.consumers(x).into_iter().find(|&(c, _)| g.node(c).op_type == "HardSigmoid").unwrap().0;
        assert_eq!(apply(&g, hs, &[-10.0, 0.0, 1.0]), Some(vec![0.0, 0.5, f64::from(0.7_f32)]));
    }

    #[test]
    fn an_additive_mask_is_found_on_its_way_into_a_softmax() {
        // Softmax(scores + Reshape(mask)), and an Add that feeds no Softmax.
        let mut g = Graph::new("mask");
        let scores = g.add_value(Value { name: "scores".into(), ty: Some(TensorType::fixed(DType::F32, &[1, 2, 4, 4])), constant: None });
        let mask = g.add_value(Value { name: "mask".into(), ty: Some(TensorType::fixed(DType::F32, &[1, 4])), constant: None });
        let shape = g.add_value(Value { name: "shape".into(), ty: Some(TensorType::fixed(DType::I64, &[4])), constant: Some(Tensor::from_vec(&[4], vec![1i64, 1, 1, 4]).unwrap().into()) });
        let wide = op(&mut g, "Reshape", vec![], &[mask, shape]);
        let sum = op(&mut g, "Add", vec![], &[scores, wide]);
        let probs = op(&mut g, "Softmax", vec![], &[sum]);
        let other = op(&mut g, "Mul", vec![], &[scores, scores]);
        g.inputs.extend([scores, mask]);
        g.outputs.extend([probs, other]);
        crate::passes::infer_shapes::run(&mut g).unwrap();
        let context = mask_context(&g);
        assert_eq!(context, HashSet::from([sum, scores, wide, mask]));
        assert_eq!(masked_sums(&g, mask), vec![(scores, sum)]);
        assert_eq!(masked_sums(&g, wide), vec![(scores, sum)]);
        assert!(masked_sums(&g, other).is_empty());
    }
}
