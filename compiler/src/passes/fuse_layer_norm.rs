//! Fuses a layer normalization written out in elementary operators, as
//! exporters write it for opsets before 17 (`d = x − ReduceMean(x)`,
//! `d / Sqrt(ReduceMean(Pow(d, 2)) + ε)`, then optionally `· scale` and
//! `+ bias` by constants), into one LayerNormalization node over the same
//! trailing axes. The quantizer runs this first: a LayerNormalization is
//! computed on codes with its mean and variance summed in integers
//! (IntLayerNorm), where the written-out form rounds the deviations, their
//! squares, the variance and the quotient each to a grid of their own.
//! Only a chain whose intermediate values feed nothing outside it, and are
//! not graph outputs, is fused; anything else is left as it is.

use crate::front::onnx::{Attr, OnnxNode};
use crate::ir::{Graph, Node, NodeId, TensorType, Value, ValueId};
use crate::ops::Op;
use crate::tensor::{DType, Tensor};
use crate::Result;
use std::sync::Arc;

/// Fuses every chain that matches; returns how many were fused.
/// The chains share no node (each intermediate value has one reader), so
/// all are found before any is fused.
pub fn run(graph: &mut Graph) -> Result<usize> {
    let chains: Vec<Chain> = graph.nodes().into_iter().filter_map(|n| Chain::at(graph, n)).collect();
    let fused = chains.len();
    for chain in chains {
        chain.fuse(graph)?;
    }
    Ok(fused)
}

/// One written-out layer normalization: its input and that input's shape,
/// the first normalized axis, ε, the scale and bias constants (None where
/// absent), its nodes, the values between them and the value it ends in.
struct Chain {
    x: ValueId,
    shape: Vec<usize>,
    axis: usize,
    epsilon: f32,
    scale: Option<ValueId>,
    bias: Option<ValueId>,
    nodes: Vec<NodeId>,
    inner: Vec<ValueId>,
    output: ValueId,
}

impl Chain {
    /// The chain whose Sub node is `sub`, if it is one.
    fn at(g: &Graph, sub: NodeId) -> Option<Chain> {
        if g.node(sub).op_type != "Sub" {
            return None;
        }
        let (x, mean) = two_inputs(g, sub)?;
        let (mean_node, 0) = g.producer(mean)? else { return None };
        let axes = mean_axes(g, mean_node, x)?;
        let d = only_output(g, sub)?;
        let readers = g.consumers(d);
        let pow = readers.iter().find(|&&(n, slot)| slot == 0 && g.node(n).op_type == "Pow")?.0;
        let div = readers.iter().find(|&&(n, slot)| slot == 0 && g.node(n).op_type == "Div")?.0;
        if readers.len() != 2 || scalar(g, g.node_inputs(pow).get(1).copied().flatten()?) != Some(2.0) {
            return None;
        }
        let variance_node = sole_reader(g, only_output(g, pow)?, "ReduceMean")?;
        if mean_axes(g, variance_node, only_output(g, pow)?)? != axes {
            return None;
        }
        let add_eps = sole_reader(g, only_output(g, variance_node)?, "Add")?;
        let epsilon = two_inputs(g, add_eps).and_then(|(a, b)| {
            let variance = only_output(g, variance_node)?;
            let other = if a == variance { b } else { a };
            scalar(g, other)
        })?;
        let sqrt = sole_reader(g, only_output(g, add_eps)?, "Sqrt")?;
        let s = only_output(g, sqrt)?;
        if g.consumers(s) != [(div, 1)] || g.consumers(mean) != [(sub, 1)] || epsilon.is_nan() || epsilon < 0.0 {
            return None;
        }
        let mut nodes = vec![mean_node, sub, pow, variance_node, add_eps, sqrt, div];
        let mut output = only_output(g, div)?;
        let rank = axes.last()? + 1;
        let mut affine = |op_type: &str, output: &mut ValueId| -> Option<ValueId> {
            let reader = sole_reader(g, *output, op_type)?;
            let (a, b) = two_inputs(g, reader)?;
            let constant = if a == *output { b } else { a };
            if !over_axes(g, constant, axes[0], rank) {
                return None;
            }
            nodes.push(reader);
            *output = only_output(g, reader)?;
            Some(constant)
        };
        let scale = affine("Mul", &mut output);
        let bias = scale.and_then(|_| affine("Add", &mut output));
        let float = |v: ValueId| g.value(v).ty.as_ref().is_some_and(|t| t.dtype == DType::F32);
        let inner: Vec<ValueId> = nodes.iter().filter_map(|&n| only_output(g, n)).filter(|&v| v != output).collect();
        if !float(x) || !float(output) || inner.iter().any(|v| g.outputs.contains(v)) {
            return None;
        }
        let shape = g.value(x).ty.as_ref()?.shape.as_fixed()?;
        Some(Chain { x, shape, axis: axes[0], epsilon, scale, bias, nodes, inner, output })
    }

    /// Replaces the chain's nodes by one LayerNormalization, named after
    /// its Sub node; a missing scale is ones over the normalized axes.
    fn fuse(self, g: &mut Graph) -> Result<()> {
        let name = g.node(self.nodes[1]).name.clone();
        let scale = match self.scale {
            Some(s) => s,
            None => {
                let dims = &self.shape[self.axis..];
                let ones = Tensor::from_vec(dims, vec![1.0f32; dims.iter().product()])?;
                g.add_value(Value { name: format!("{name}_layer_norm_scale"), ty: Some(TensorType::of(&ones)), constant: Some(Arc::new(ones)) })
            }
        };
        let axis = Attr::Int(self.axis as i64 - self.shape.len() as i64);
        let onnx = OnnxNode {
            name: name.clone(),
            op_type: "LayerNormalization".into(),
            domain: String::new(),
            opset: 17,
            attrs: vec![("axis".into(), axis), ("epsilon".into(), Attr::Float(self.epsilon))],
            inputs: vec![true, true, self.bias.is_some()],
            outputs: vec![true, false, false],
        };
        let node = Node { name, op_type: "LayerNormalization".into(), opset: 17, op: Op::from_onnx(&onnx)? };
        for n in &self.nodes {
            g.remove_node(*n);
        }
        for v in self.inner {
            g.remove_value(v);
        }
        g.add_node(node, &[Some(self.x), Some(scale), self.bias], &[Some(self.output)])?;
        Ok(())
    }
}

/// The two inputs of a binary node.
fn two_inputs(g: &Graph, n: NodeId) -> Option<(ValueId, ValueId)> {
    match g.node_inputs(n)[..] {
        [Some(a), Some(b)] => Some((a, b)),
        _ => None,
    }
}

/// A node's one output.
fn only_output(g: &Graph, n: NodeId) -> Option<ValueId> {
    match g.node_outputs(n)[..] {
        [Some(v)] => Some(v),
        _ => None,
    }
}

/// The one node reading `v`, at its first input, when it is `op_type`.
fn sole_reader(g: &Graph, v: ValueId, op_type: &str) -> Option<NodeId> {
    match g.consumers(v)[..] {
        [(n, _)] if g.node(n).op_type == op_type && g.node_inputs(n).iter().filter(|&&i| i == Some(v)).count() == 1 => Some(n),
        _ => None,
    }
}

/// The axes a ReduceMean node `n` of `x` averages, when they are the
/// trailing axes of `x` and kept (its output has `x`'s rank).
fn mean_axes(g: &Graph, n: NodeId, x: ValueId) -> Option<Vec<usize>> {
    let Op::Reduce(r) = &g.node(n).op else { return None };
    let ins = g.node_inputs(n);
    if g.node(n).op_type != "ReduceMean" || ins.first().copied().flatten() != Some(x) {
        return None;
    }
    let rank_of = |v: ValueId| g.value(v).ty.as_ref()?.shape.rank();
    let rank = rank_of(x)?;
    if rank_of(only_output(g, n)?)? != rank {
        return None;
    }
    // Axes given as an input must be a constant.
    let given = match ins.get(1).copied().flatten() {
        Some(a) => Some(g.value(a).constant.clone()?),
        None => None,
    };
    let axes = r.resolved_axes(given.as_deref(), rank).ok()?;
    (!axes.is_empty() && axes.iter().enumerate().all(|(i, &a)| a == rank - axes.len() + i)).then_some(axes)
}

/// The value of a constant with one element.
fn scalar(g: &Graph, v: ValueId) -> Option<f32> {
    g.value(v).constant.as_ref()?.scalar_f64().ok().map(|x| x as f32)
}

/// Whether `v` is a float constant whose shape varies only along the axes
/// `axis..rank` of the tensor it is broadcast against.
fn over_axes(g: &Graph, v: ValueId, axis: usize, rank: usize) -> bool {
    let Some(t) = g.value(v).constant.as_ref() else { return false };
    let shape = t.shape();
    t.dtype() == DType::F32 && shape.len() <= rank && shape.iter().rev().skip(rank - axis).all(|&d| d == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::add_constant as constant;
    use crate::interp::Interpreter;
    use crate::ops::testing::add_op;


    /// x [2, 3, 4] normalized over its last axis as exporters write it,
    /// with the scale and bias when `affine`, the exponent `power`; also
    /// returns the deviation `x − mean`.
    fn written_out(affine: bool, power: f32) -> (Graph, ValueId) {
        let mut g = Graph::new("layer_norm");
        let x = g.add_value(Value { name: "x".into(), ty: Some(TensorType::fixed(DType::F32, &[2, 3, 4])), constant: None });
        g.inputs.push(x);
        let axes = || vec![("axes", Attr::Ints(vec![-1]))];
        let mean = add_op(&mut g, "ReduceMean", axes(), &[x]);
        let d = add_op(&mut g, "Sub", vec![], &[x, mean]);
        let two = constant(&mut g, "two", &[], vec![power]);
        let squares = add_op(&mut g, "Pow", vec![], &[d, two]);
        let variance = add_op(&mut g, "ReduceMean", axes(), &[squares]);
        let eps = constant(&mut g, "eps", &[1], vec![1e-5]);
        let shifted = add_op(&mut g, "Add", vec![], &[variance, eps]);
        let root = add_op(&mut g, "Sqrt", vec![], &[shifted]);
        let mut y = add_op(&mut g, "Div", vec![], &[d, root]);
        if affine {
            let gamma = constant(&mut g, "gamma", &[4], vec![0.5, 2.0, -1.0, 1.5]);
            let beta = constant(&mut g, "beta", &[4], vec![0.1, -0.2, 0.0, 3.0]);
            y = add_op(&mut g, "Mul", vec![], &[y, gamma]);
            y = add_op(&mut g, "Add", vec![], &[beta, y]);
        }
        g.outputs.push(y);
        crate::passes::infer_shapes::run(&mut g).unwrap();
        (g, d)
    }

    fn outputs(g: &Graph) -> Vec<f64> {
        let x = Tensor::from_vec(&[2, 3, 4], (0..24).map(|i| (i as f32 * 0.7).sin() * (1.0 + i as f32)).collect()).unwrap();
        Interpreter::new(g).unwrap().run(vec![x]).unwrap().iter().flat_map(|t| t.to_f64_vec().unwrap()).collect()
    }

    #[test]
    fn a_written_out_layer_norm_becomes_one_node_that_computes_the_same() {
        for affine in [true, false] {
            let (mut g, _) = written_out(affine, 2.0);
            let before = outputs(&g);
            assert_eq!(run(&mut g).unwrap(), 1);
            let ops: Vec<String> = g.nodes().into_iter().map(|n| g.node(n).op_type.clone()).collect();
            assert_eq!(ops, ["LayerNormalization"], "affine {affine}");
            let after = outputs(&g);
            assert!(before.iter().zip(&after).all(|(a, b)| (a - b).abs() < 1e-5), "affine {affine}: {before:?} vs {after:?}");
        }
    }

    #[test]
    fn a_chain_that_is_not_a_layer_norm_is_left_alone() {
        // A cube is not a variance.
        let (mut g, _) = written_out(true, 3.0);
        assert_eq!(run(&mut g).unwrap(), 0);
        // The deviation is also read outside the chain.
        let (mut g, d) = written_out(true, 2.0);
        g.outputs.push(d);
        let count = g.node_count();
        assert_eq!(run(&mut g).unwrap(), 0);
        assert_eq!(g.node_count(), count);
    }
}
