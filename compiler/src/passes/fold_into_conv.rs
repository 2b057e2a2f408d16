//! Folds a per-channel affine map into the Conv before it (the quantizer
//! runs this first, so the folded weights are what gets quantized): an
//! inference BatchNormalization, or an Add, Sub, Mul or Div by a constant
//! that holds one value per output channel (a bias or a scale written out,
//! as exporters leave the biases of squeeze-and-excitation layers). With
//! the map `y = k · x + β` per channel (BatchNormalization: `k = scale /
//! sqrt(var + epsilon)`, `β = B − mean · k`), the Conv's weights become
//! `W · k` and its bias `b · k + β`. Only a Conv with constant weights (and
//! bias) whose output feeds nothing but the map is folded; anything else
//! is left as it is. Folding a bias into the Conv spares the quantized
//! model one requantization.

use crate::ir::{Graph, Node, NodeId, TensorType, Value, ValueId};
use crate::ops::binary::Kind as BinaryKind;
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::Result;
use std::sync::Arc;

/// Folds every foldable pair, again on the result until none is left
/// (a Mul then an Add fold one after the other); returns how many were
/// folded.
pub fn run(graph: &mut Graph) -> Result<usize> {
    let mut folded = 0;
    loop {
        let before = folded;
        for n in graph.nodes() {
            if graph.contains_node(n) && fold(graph, n)? {
                folded += 1;
            }
        }
        if folded == before {
            return Ok(folded);
        }
    }
}

fn constant(g: &Graph, v: Option<ValueId>) -> Option<Arc<Tensor>> {
    v.and_then(|v| g.value(v).constant.clone())
}

/// The per-channel map `(k, β)` node `n` applies to its non-constant input
/// `x`, for `c_out` channels on axis 1 of values of rank `rank`.
fn affine(g: &Graph, n: NodeId, x: ValueId, c_out: usize, rank: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let ins = g.node_inputs(n);
    match &g.node(n).op {
        Op::BatchNormalization(b) => {
            let stats: Option<Vec<Vec<f64>>> = (1..5).map(|i| constant(g, ins.get(i).copied().flatten())?.to_f64_vec().ok()).collect();
            let [scale, beta, mean, var] = <[Vec<f64>; 4]>::try_from(stats?).ok()?;
            if !b.spatial || ins.first().copied().flatten() != Some(x) || [&scale, &beta, &mean, &var].iter().any(|v| v.len() != c_out) {
                return None;
            }
            let k: Vec<f64> = (0..c_out).map(|c| scale[c] / (var[c] + b.epsilon).sqrt()).collect();
            let beta = (0..c_out).map(|c| beta[c] - mean[c] * k[c]).collect();
            Some((k, beta))
        }
        Op::Binary(b) => {
            let [Some(a), Some(c)] = ins[..] else { return None };
            let (other, swapped) = if a == x { (c, false) } else if c == x { (a, true) } else { return None };
            let t = g.value(other).constant.clone()?;
            let values = per_channel(&t, c_out, rank)?;
            let ones = vec![1.0; c_out];
            match (b.kind, swapped) {
                (BinaryKind::Add, _) => Some((ones, values)),
                (BinaryKind::Sub, false) => Some((ones, values.iter().map(|v| -v).collect())),
                (BinaryKind::Mul, _) => Some((values, vec![0.0; c_out])),
                (BinaryKind::Div, false) if values.iter().all(|&v| v != 0.0) => Some((values.iter().map(|v| 1.0 / v).collect(), vec![0.0; c_out])),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A float constant's values when it holds one value per channel of axis 1
/// of values of rank `rank` (right-aligned, every other dimension 1). A
/// scalar is left where it is: a lookup table after the Conv takes it in
/// for free, and it keeps the Conv's output as the model has it.
fn per_channel(t: &Tensor, c_out: usize, rank: usize) -> Option<Vec<f64>> {
    if !t.dtype().is_float() || t.rank() > rank {
        return None;
    }
    let values = t.to_f64_vec().ok()?;
    let aligned = t.rank() + 1 >= rank && t.shape().iter().enumerate().all(|(i, &d)| if rank - t.rank() + i == 1 { d == c_out } else { d == 1 });
    aligned.then_some(values)
}

fn fold(g: &mut Graph, n: NodeId) -> Result<bool> {
    let ins = g.node_inputs(n);
    let Some(Some(y)) = g.node_outputs(n).first().copied() else { return Ok(false) };
    let Some(x) = ins.iter().flatten().copied().find(|&v| g.value(v).constant.is_none()) else { return Ok(false) };
    let Some((conv, 0)) = g.producer(x) else { return Ok(false) };
    if !matches!(g.node(conv).op, Op::Conv(_)) || g.consumers(x).len() != 1 || g.outputs.contains(&x) {
        return Ok(false);
    }
    let cins = g.node_inputs(conv);
    let Some(w) = constant(g, cins.get(1).copied().flatten()) else { return Ok(false) };
    let bias = cins.get(2).copied().flatten();
    if bias.is_some() && constant(g, bias).is_none() {
        return Ok(false);
    }
    let c_out = w.shape()[0];
    let Some((k, beta)) = affine(g, n, x, c_out, w.rank()) else { return Ok(false) };
    let b0 = match constant(g, bias) {
        Some(b) => b.to_f64_vec()?,
        None => vec![0.0; c_out],
    };
    if b0.len() != c_out {
        return Ok(false);
    }
    let per = w.len() / c_out.max(1);
    let wd = w.dtype();
    let w2: Vec<f64> = w.to_f64_vec()?.iter().enumerate().map(|(i, &v)| v * k[i / per]).collect();
    let b2: Vec<f64> = (0..c_out).map(|c| b0[c] * k[c] + beta[c]).collect();
    let as_type = |v: Vec<f64>, shape: &[usize]| Tensor::from_vec(shape, v).and_then(|t| t.cast(wd));
    let (w2, b2) = (as_type(w2, w.shape())?, as_type(b2, &[c_out])?);
    let conv_node = g.node(conv).clone();
    let name = conv_node.name.clone();
    let wv = g.add_value(Value { name: format!("{name}_folded_weights"), ty: Some(TensorType::of(&w2)), constant: Some(Arc::new(w2)) });
    let bv = g.add_value(Value { name: format!("{name}_folded_bias"), ty: Some(TensorType::of(&b2)), constant: Some(Arc::new(b2)) });
    let input = cins[0];
    g.remove_node(n);
    g.remove_node(conv);
    g.remove_value(x);
    g.add_node(Node { ..conv_node }, &[input, Some(wv), Some(bv)], &[Some(y)])?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::add_constant as constant;
    use crate::interp::Interpreter;
    use crate::ir::Graph;


    fn op_node(g: &mut Graph, op_type: &str, inputs: &[crate::ir::ValueId], output: crate::ir::ValueId) {
        let onnx = crate::ops::testing::node(op_type, 17, vec![], inputs.len(), 1);
        let node = Node { name: op_type.into(), op_type: op_type.into(), opset: 17, op: Op::from_onnx(&onnx).unwrap() };
        let ins: Vec<_> = inputs.iter().map(|&v| Some(v)).collect();
        g.add_node(node, &ins, &[Some(output)]).unwrap();
    }

    /// Infers `g`'s types and runs it on a fixed [1, 2, 5, 5] input: the
    /// input and the output before folding.
    fn typed_and_run(g: &mut Graph) -> (Tensor, Vec<Tensor>) {
        crate::passes::infer_shapes::run(g).unwrap();
        let input = Tensor::from_vec(&[1, 2, 5, 5], (0..50).map(|i| (i as f32 * 0.11).cos()).collect()).unwrap();
        let before = Interpreter::new(g).unwrap().run(vec![input.clone()]).unwrap();
        (input, before)
    }

    /// Whether `g` still computes `before` from `input`, within 1e-5.
    fn assert_computes(g: &Graph, input: Tensor, before: &[Tensor]) {
        let after = Interpreter::new(g).unwrap().run(vec![input]).unwrap();
        let (a, b) = (before[0].to_f64_vec().unwrap(), after[0].to_f64_vec().unwrap());
        assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-5), "{a:?} vs {b:?}");
    }

    #[test]
    fn folded_conv_computes_the_same() {
        let mut g = Graph::new("conv_bn");
        let x = g.add_value(Value { name: "x".into(), ty: Some(TensorType::fixed(crate::tensor::DType::F32, &[1, 2, 5, 5])), constant: None });
        let w = constant(&mut g, "w", &[3, 2, 3, 3], (0..54).map(|i| (i as f32 * 0.37).sin()).collect());
        let b = constant(&mut g, "b", &[3], vec![0.1, -0.2, 0.3]);
        let stats = [vec![1.5, 0.5, -2.0], vec![0.25, 0.0, -1.0], vec![0.1, 0.2, -0.3], vec![0.5, 2.0, 1.0]].map(|v| constant(&mut g, "stat", &[3], v));
        let (h, y) = (g.add_value(Value { name: "h".into(), ty: None, constant: None }), g.add_value(Value { name: "y".into(), ty: None, constant: None }));
        op_node(&mut g, "Conv", &[x, w, b], h);
        op_node(&mut g, "BatchNormalization", &[h, stats[0], stats[1], stats[2], stats[3]], y);
        g.inputs.push(x);
        g.outputs.push(y);
        let (input, before) = typed_and_run(&mut g);
        assert_eq!(run(&mut g).unwrap(), 1);
        assert_eq!(g.node_count(), 1);
        assert_computes(&g, input, &before);
    }

    #[test]
    fn per_channel_constants_fold_and_scalars_stay() {
        // Conv, then Mul by [3, 1, 1] (the constant first), Sub of
        // [1, 3, 1, 1], Add of a scalar, Div by [3, 1, 1]: the Mul and the
        // Sub fold into the Conv; the scalar Add stays, and so does the Div,
        // which reads the Add rather than the Conv.
        let mut g = Graph::new("conv_affine");
        let x = g.add_value(Value { name: "x".into(), ty: Some(TensorType::fixed(crate::tensor::DType::F32, &[1, 2, 5, 5])), constant: None });
        let w = constant(&mut g, "w", &[3, 2, 3, 3], (0..54).map(|i| (i as f32 * 0.37).sin()).collect());
        let scale = constant(&mut g, "scale", &[3, 1, 1], vec![2.0, -0.5, 0.25]);
        let shift = constant(&mut g, "shift", &[1, 3, 1, 1], vec![0.5, 1.0, -3.0]);
        let one = constant(&mut g, "one", &[], vec![1.0]);
        let div = constant(&mut g, "div", &[3, 1, 1], vec![4.0, 2.0, 0.5]);
        let v = |g: &mut Graph, name: &str| g.add_value(Value { name: name.into(), ty: None, constant: None });
        let (h, m, s, a, y) = (v(&mut g, "h"), v(&mut g, "m"), v(&mut g, "s"), v(&mut g, "a"), v(&mut g, "y"));
        op_node(&mut g, "Conv", &[x, w], h);
        op_node(&mut g, "Mul", &[scale, h], m);
        op_node(&mut g, "Sub", &[m, shift], s);
        op_node(&mut g, "Add", &[s, one], a);
        op_node(&mut g, "Div", &[a, div], y);
        g.inputs.push(x);
        g.outputs.push(y);
        let (input, before) = typed_and_run(&mut g);
        assert_eq!(run(&mut g).unwrap(), 2);
        let ops: Vec<String> = g.topo_order().unwrap().into_iter().map(|n| g.node(n).op_type.clone()).collect();
        assert_eq!(ops, ["Conv", "Add", "Div"]);
        assert_computes(&g, input, &before);
    }
}
