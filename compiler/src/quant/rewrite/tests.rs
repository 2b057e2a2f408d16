//! The rewrite on small graphs with given ranges: what stays float and why.

use super::{quantize, Options, Quantized, Source};
use crate::front::onnx::Attr;
use crate::interp::Interpreter;
use crate::ir::{Graph, TensorType, Value, ValueId};
use crate::ops::testing::add_op;
use crate::quant::calibrate::{Calibration, Range};
use crate::quant::fixed_point::Rounding;
use crate::tensor::{DType, Tensor};
use crate::Result;

const OPTIONS: Options = Options { per_tensor: false, rounding: Rounding::Double, int8_io: false, equalize: false, bias_correction: false, correct_layers: false, gptq: false };

fn input(g: &mut Graph, name: &str, shape: &[usize]) -> ValueId {
    let v = g.add_value(Value { name: name.into(), ty: Some(TensorType::fixed(DType::F32, shape)), constant: None });
    g.inputs.push(v);
    v
}

/// `op_type` on `inputs` (Concat along axis 0).
fn op(g: &mut Graph, op_type: &str, inputs: &[ValueId]) -> ValueId {
    let attrs = if op_type == "Concat" { vec![("axis", Attr::Int(0))] } else { vec![] };
    add_op(g, op_type, attrs, inputs)
}

/// Quantizes `g` (its output `y`) with the ranges `ranges`.
fn rewrite(mut g: Graph, y: ValueId, ranges: &[(ValueId, f32, f32)]) -> Result<Quantized> {
    g.outputs.push(y);
    crate::passes::infer_shapes::run(&mut g)?;
    let ranges = ranges.iter().map(|&(v, lo, hi)| (v, Range { lo, hi })).collect();
    quantize(&g, &Source::Calibrated(&Calibration { ranges, ..Calibration::default() }), OPTIONS)
}

#[test]
fn clip_bounds_known_only_at_run_time_keep_it_float() {
    let mut g = Graph::new("clip");
    let (x, lo, hi) = (input(&mut g, "x", &[4]), input(&mut g, "lo", &[]), input(&mut g, "hi", &[]));
    let y = op(&mut g, "Clip", &[x, lo, hi]);
    let q = rewrite(g, y, &[(x, -2.0, 2.0), (lo, -1.0, 0.0), (hi, 0.0, 1.0), (y, -1.0, 1.0)]).unwrap();
    assert_eq!(q.float_nodes, [("Clip".to_string(), "Clip".to_string(), "min or max known only at run time".to_string())]);
    // Bounds other than the calibrated ones apply.
    let x = Tensor::from_vec(&[4], vec![-2f32, -0.25, 0.25, 2.0]).unwrap();
    let out = Interpreter::new(&q.graph).unwrap().run(vec![x, Tensor::scalar(-0.5f32), Tensor::scalar(0.5f32)]).unwrap();
    assert_eq!(out[0].to_f64_vec().unwrap(), [-0.5, -0.25, 0.25, 0.5]);
}

#[test]
fn a_relu_after_a_node_that_stays_float_is_not_fused_away() {
    // Two values up to 1e6 summed into [0, 1e-6]: the output multiplier is
    // past IntBinary's bound, so Add stays float, and so does the Relu that
    // reads its float sum (quantized after it, not fused into nothing).
    let mut g = Graph::new("add");
    let (a, b) = (input(&mut g, "a", &[4]), input(&mut g, "b", &[4]));
    let s = op(&mut g, "Add", &[a, b]);
    let y = op(&mut g, "Relu", &[s]);
    let q = rewrite(g, y, &[(a, -1e6, 1e6), (b, -1e6, 1e6), (s, -1e-6, 1e-6), (y, 0.0, 1e-6)]).unwrap();
    let float = |name: &str, why: &str| (name.to_string(), name.to_string(), why.to_string());
    assert_eq!(q.float_nodes, [float("Add", "scales too far apart"), float("Relu", super::FED_BY_FLOAT)]);
    let a = Tensor::from_vec(&[4], vec![1e6f32, -1e6, 5.0, 0.0]).unwrap();
    let b = Tensor::from_vec(&[4], vec![-1e6f32, 1e6, -6.0, 0.0]).unwrap();
    let out = Interpreter::new(&q.graph).unwrap().run(vec![a, b]).unwrap();
    assert_eq!(out[0].to_f64_vec().unwrap(), [0.0; 4], "the Relu applies");
}

#[test]
fn a_concat_that_stays_float_quantizes_nothing() {
    // The first input's scale is 10^9 times the output's: no rescale.
    let mut g = Graph::new("concat");
    let (a, b) = (input(&mut g, "a", &[4]), input(&mut g, "b", &[4]));
    let y = op(&mut g, "Concat", &[a, b]);
    let q = rewrite(g, y, &[(a, -1e6, 1e6), (b, -1e-3, 1e-3), (y, -1e-3, 1e-3)]).unwrap();
    assert_eq!(q.float_nodes, [("Concat".to_string(), "Concat".to_string(), "scales too far apart".to_string())]);
    let types: Vec<&str> = q.graph.nodes().into_iter().map(|n| q.graph.node(n).op_type.as_str()).collect();
    assert_eq!(types, ["Concat"]);
}

#[test]
fn a_channel_whose_weights_are_tiny_beside_its_bias_still_fits_the_accumulator() {
    // Channel 1's weights are 1e-7 and its bias 5: on the weights' own
    // scale its bias would be 5 / (0.01 · 1e-7 / 127) ≈ 6e11 units of the
    // accumulator. Its weight scale is raised until the bias fits, and the
    // output is its bias; channel 0 keeps the precision of its own scale.
    let mut g = Graph::new("tiny");
    let x = input(&mut g, "x", &[1, 2, 1, 1]);
    let w = crate::ops::testing::add_constant(&mut g, "w", &[2, 2, 1, 1], vec![0.5, -0.25, 1e-7, -1e-7]);
    let b = crate::ops::testing::add_constant(&mut g, "b", &[2], vec![0.125, 5.0]);
    let y = add_op(&mut g, "Conv", vec![], &[x, w, b]);
    let q = rewrite(g, y, &[(x, -1.28, 1.27), (y, -1.0, 6.0)]).unwrap();
    assert!(q.float_nodes.is_empty(), "{:?}", q.float_nodes);
    let input = Tensor::from_vec(&[1, 2, 1, 1], vec![1.0f32, -1.0]).unwrap();
    let out = Interpreter::new(&q.graph).unwrap().run(vec![input]).unwrap()[0].to_f64_vec().unwrap();
    let step = 7.0 / 255.0;
    assert!((out[0] - 0.875).abs() <= step && (out[1] - 5.0).abs() <= step, "{out:?}");
}
