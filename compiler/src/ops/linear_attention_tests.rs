//! Unit tests of LinearAttention: the four update rules on hand-computed
//! values, grouped-query heads, and the checks on inputs and attributes.

use crate::front::onnx::Attr;
use crate::ops::testing::{f32s, infer, run};
use crate::tensor::{DType, Tensor};

fn attrs(rule: &str, q_heads: i64, kv_heads: i64) -> Vec<(&'static str, Attr)> {
    vec![
        ("update_rule", Attr::String(rule.into())),
        ("q_num_heads", Attr::Int(q_heads)),
        ("kv_num_heads", Attr::Int(kv_heads)),
        ("scale", Attr::Float(1.0)),
    ]
}

/// Runs with the optional inputs at their ONNX positions.
fn eval(rule: &str, q_heads: i64, kv_heads: i64, inputs: Vec<Option<Tensor>>) -> crate::Result<Vec<Tensor>> {
    let node = crate::ops::testing::node("LinearAttention", 27, attrs(rule, q_heads, kv_heads), inputs.len(), 2);
    let op = crate::ops::Op::from_onnx(&node)?;
    let types: Vec<Option<crate::ir::TensorType>> = inputs.iter().map(|t| t.as_ref().map(crate::ir::TensorType::of)).collect();
    let args: Vec<Option<crate::ops::Arg>> =
        types.iter().map(|ty| ty.as_ref().map(|ty| crate::ops::Arg { ty, value: None })).collect();
    let inferred = op.infer(&args)?;
    let out = op.eval(&inputs.iter().map(Option::as_ref).collect::<Vec<_>>())?;
    for (t, ty) in out.iter().zip(&inferred) {
        assert!(ty.admits(t), "inferred {ty}, got {}{:?}", t.dtype(), t.shape());
    }
    Ok(out)
}

fn qkv() -> Vec<Option<Tensor>> {
    // B=1, T=2, one head, d_k = d_v = 1.
    vec![Some(f32s(&[1, 2, 1], &[1.0, 2.0])), Some(f32s(&[1, 2, 1], &[3.0, 4.0])), Some(f32s(&[1, 2, 1], &[5.0, 6.0]))]
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec().unwrap()
}

#[test]
fn linear_rule_accumulates_outer_products() {
    let y = run("LinearAttention", 27, attrs("linear", 1, 1), &[f32s(&[1, 2, 1], &[1.0, 2.0]), f32s(&[1, 2, 1], &[3.0, 4.0]), f32s(&[1, 2, 1], &[5.0, 6.0])]).unwrap();
    assert_eq!(values(&y[0]), vec![15.0, 78.0]);
    assert_eq!(values(&y[1]), vec![39.0]);
}

#[test]
fn gated_rule_decays_the_state() {
    let mut inputs = qkv();
    inputs.extend([None, Some(f32s(&[1, 2, 1], &[0.5f32.ln(), 0.5f32.ln()]))]);
    let y = eval("gated", 1, 1, inputs).unwrap();
    let got = values(&y[0]);
    assert!((got[0] - 15.0).abs() < 1e-5 && (got[1] - 63.0).abs() < 1e-5, "{got:?}");
}

#[test]
fn delta_rule_corrects_by_the_retrieved_value() {
    let mut inputs = qkv();
    inputs.extend([None, None, Some(f32s(&[1, 2, 1], &[1.0, 0.5]))]);
    let y = eval("delta", 1, 1, inputs).unwrap();
    assert_eq!(values(&y[0]), vec![15.0, -186.0]);
    assert_eq!(values(&y[1]), vec![-93.0]);
}

#[test]
fn query_heads_share_their_group_state() {
    // Two query heads read the one KV head.
    let inputs = vec![Some(f32s(&[1, 1, 2], &[1.0, 2.0])), Some(f32s(&[1, 1, 1], &[3.0])), Some(f32s(&[1, 1, 1], &[5.0]))];
    let y = eval("linear", 2, 1, inputs).unwrap();
    assert_eq!(values(&y[0]), vec![15.0, 30.0]);
    assert_eq!(y[1].shape(), &[1, 1, 1, 1]);
}

#[test]
fn present_state_takes_the_past_state_type() {
    let mut inputs = qkv();
    inputs.push(Some(Tensor::zeros(DType::F16, &[1, 1, 1, 1]).unwrap()));
    let y = eval("linear", 1, 1, inputs).unwrap();
    assert_eq!((y[0].dtype(), y[1].dtype()), (DType::F32, DType::F16));
}

#[test]
fn missing_or_forbidden_inputs_and_bad_shapes_are_errors() {
    let gate = Some(f32s(&[1, 2, 1], &[0.0, 0.0]));
    // Gated without decay; linear with a decay; delta without beta.
    assert!(eval("gated", 1, 1, qkv()).is_err());
    let mut with_decay = qkv();
    with_decay.extend([None, gate.clone()]);
    assert!(eval("linear", 1, 1, with_decay).is_err());
    assert!(eval("delta", 1, 1, qkv()).is_err());
    // A decay of the wrong width, a past state of the wrong shape.
    let mut wide = qkv();
    wide.extend([None, Some(f32s(&[1, 2, 3], &[0.0; 6]))]);
    assert!(eval("gated", 1, 1, wide).is_err());
    let mut past = qkv();
    past.push(Some(f32s(&[1, 1, 2, 1], &[0.0; 2])));
    assert!(eval("linear", 1, 1, past).is_err());
    // Heads that do not divide, or divide the packed dimension.
    assert!(eval("linear", 3, 2, qkv()).is_err());
    assert!(eval("linear", 2, 2, qkv()).is_err());
    assert!(eval("linear", 0, 1, qkv()).is_err());
    assert!(eval("causal", 1, 1, qkv()).is_err());
}

#[test]
fn infers_exact_shapes() {
    let q = Tensor::zeros(DType::F32, &[2, 3, 8]).unwrap();
    let k = Tensor::zeros(DType::F32, &[2, 3, 4]).unwrap();
    let v = Tensor::zeros(DType::F32, &[2, 3, 6]).unwrap();
    let ty = infer("LinearAttention", 27, attrs("linear", 2, 1), &[q, k, v], &[]).unwrap();
    assert_eq!(ty[0], crate::ir::TensorType::fixed(DType::F32, &[2, 3, 12]));
    assert_eq!(ty[1], crate::ir::TensorType::fixed(DType::F32, &[2, 1, 4, 6]));
}
