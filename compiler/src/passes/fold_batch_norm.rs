//! Folds an inference BatchNormalization into the Conv before it (the
//! quantizer runs this first, so the folded weights are what gets
//! quantized): with `k = scale / sqrt(var + epsilon)` per channel,
//! `W' = W · k` and `b' = (b − mean) · k + B`. Only a Conv with constant
//! weights (and bias) whose output feeds nothing but the BatchNormalization
//! is folded; anything else is left as it is.

use crate::ir::{Graph, Node, NodeId, TensorType, Value};
use crate::ops::Op;
use crate::tensor::Tensor;
use crate::Result;
use std::sync::Arc;

/// Folds every foldable pair; returns how many were folded.
pub fn run(graph: &mut Graph) -> Result<usize> {
    let mut folded = 0;
    for bn in graph.nodes() {
        if fold(graph, bn)? {
            folded += 1;
        }
    }
    Ok(folded)
}

fn constant(g: &Graph, v: Option<crate::ir::ValueId>) -> Option<Arc<Tensor>> {
    v.and_then(|v| g.value(v).constant.clone())
}

fn fold(g: &mut Graph, bn: NodeId) -> Result<bool> {
    let Op::BatchNormalization(b) = &g.node(bn).op else { return Ok(false) };
    let (epsilon, spatial) = (b.epsilon, b.spatial);
    let ins = g.node_inputs(bn);
    let (Some(x), Some(Some(y))) = (ins[0], g.node_outputs(bn).first().copied()) else { return Ok(false) };
    let stats: Option<Vec<Arc<Tensor>>> = (1..5).map(|i| constant(g, ins.get(i).copied().flatten())).collect();
    let (Some(stats), Some((conv, 0))) = (stats, g.producer(x)) else { return Ok(false) };
    if !spatial || !matches!(g.node(conv).op, Op::Conv(_)) || g.consumers(x).len() != 1 || g.outputs.contains(&x) {
        return Ok(false);
    }
    let cins = g.node_inputs(conv);
    let Some(w) = constant(g, cins.get(1).copied().flatten()) else { return Ok(false) };
    let bias = cins.get(2).copied().flatten();
    if bias.is_some() && constant(g, bias).is_none() {
        return Ok(false);
    }
    let c_out = w.shape()[0];
    let [scale, beta, mean, var] = [0, 1, 2, 3].map(|i| stats[i].to_f64_vec().unwrap_or_default());
    if [&scale, &beta, &mean, &var].iter().any(|v| v.len() != c_out) {
        return Ok(false);
    }
    let b0 = match constant(g, bias) {
        Some(b) => b.to_f64_vec()?,
        None => vec![0.0; c_out],
    };
    let k: Vec<f64> = (0..c_out).map(|c| scale[c] / (var[c] + epsilon).sqrt()).collect();
    let per = w.len() / c_out.max(1);
    let wd = w.dtype();
    let w2: Vec<f64> = w.to_f64_vec()?.iter().enumerate().map(|(i, &v)| v * k[i / per]).collect();
    let b2: Vec<f64> = (0..c_out).map(|c| (b0[c] - mean[c]) * k[c] + beta[c]).collect();
    let as_type = |v: Vec<f64>, shape: &[usize]| Tensor::from_vec(shape, v).and_then(|t| t.cast(wd));
    let (w2, b2) = (as_type(w2, w.shape())?, as_type(b2, &[c_out])?);
    let conv_node = g.node(conv).clone();
    let name = conv_node.name.clone();
    let wv = g.add_value(Value { name: format!("{name}_folded_weights"), ty: Some(TensorType::of(&w2)), constant: Some(Arc::new(w2)) });
    let bv = g.add_value(Value { name: format!("{name}_folded_bias"), ty: Some(TensorType::of(&b2)), constant: Some(Arc::new(b2)) });
    let input = cins[0];
    g.remove_node(bn);
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
        crate::passes::infer_shapes::run(&mut g).unwrap();
        let input = Tensor::from_vec(&[1, 2, 5, 5], (0..50).map(|i| (i as f32 * 0.11).cos()).collect()).unwrap();
        let before = Interpreter::new(&g).unwrap().run(vec![input.clone()]).unwrap();
        assert_eq!(run(&mut g).unwrap(), 1);
        assert_eq!(g.node_count(), 1);
        let after = Interpreter::new(&g).unwrap().run(vec![input]).unwrap();
        let (a, b) = (before[0].to_f64_vec().unwrap(), after[0].to_f64_vec().unwrap());
        assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-5), "{a:?} vs {b:?}");
    }
}
