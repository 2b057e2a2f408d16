//! Unit tests of Attention against hand-computed values.

use crate::front::onnx::Attr;
use crate::ir::{Shape, TensorType};
use crate::ops::testing::{f32s, i64s, node, run};
use crate::ops::{Arg, Op};
use crate::tensor::{DType, Tensor};

fn values(t: &Tensor) -> Vec<f32> {
    t.array::<f32>().unwrap().iter().copied().collect()
}

/// Evaluates Attention with inputs given by slot (`None` = absent).
fn eval_slots(attrs: Vec<(&str, Attr)>, inputs: &[Option<Tensor>]) -> crate::Result<Vec<Tensor>> {
    let mut n = node("Attention", 24, attrs, inputs.len(), 4);
    n.inputs = inputs.iter().map(Option::is_some).collect();
    let op = Op::from_onnx(&n)?;
    op.eval(&inputs.iter().map(Option::as_ref).collect::<Vec<_>>())
}

#[test]
fn single_head_matches_a_hand_computed_softmax() {
    // One query, two keys: scores 1*1/sqrt(1) and 1*2 -> softmax [e^1, e^2] / sum.
    let q = f32s(&[1, 1, 1, 1], &[1.0]);
    let k = f32s(&[1, 1, 2, 1], &[1.0, 2.0]);
    let v = f32s(&[1, 1, 2, 1], &[10.0, 20.0]);
    let y = run("Attention", 23, vec![], &[q, k, v]).unwrap();
    let (a, b) = (1f64.exp(), 2f64.exp());
    let want = (10.0 * a + 20.0 * b) / (a + b);
    assert!((values(&y[0])[0] as f64 - want).abs() < 1e-4);
}

#[test]
fn fully_masked_rows_are_zero() {
    let q = f32s(&[1, 1, 2, 1], &[1.0, 1.0]);
    let k = f32s(&[1, 1, 2, 1], &[1.0, 2.0]);
    let v = f32s(&[1, 1, 2, 1], &[10.0, 20.0]);
    let mask = Tensor::from_vec(&[2, 2], vec![false, false, true, false]).unwrap();
    let out = run("Attention", 23, vec![("qk_matmul_output_mode", Attr::Int(3))], &[q, k, v, mask]).unwrap();
    assert_eq!(values(&out[0]), vec![0.0, 10.0]);
    assert_eq!(values(&out[3]), vec![0.0, 0.0, 1.0, 0.0]);
}

#[test]
fn grouped_query_heads_share_key_heads() {
    // Two query heads over one key head equal two independent single-head runs.
    let q = f32s(&[1, 2, 1, 2], &[1.0, 0.5, -1.0, 2.0]);
    let k = f32s(&[1, 1, 3, 2], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let v = f32s(&[1, 1, 3, 1], &[1.0, 2.0, 3.0]);
    let gqa = run("Attention", 23, vec![], &[q.clone(), k.clone(), v.clone()]).unwrap();
    let q0 = f32s(&[1, 1, 1, 2], &[1.0, 0.5]);
    let q1 = f32s(&[1, 1, 1, 2], &[-1.0, 2.0]);
    let y0 = run("Attention", 23, vec![], &[q0, k.clone(), v.clone()]).unwrap();
    let y1 = run("Attention", 23, vec![], &[q1, k, v]).unwrap();
    assert_eq!(values(&gqa[0]), vec![values(&y0[0])[0], values(&y1[0])[0]]);
}

#[test]
fn three_d_inputs_need_head_counts() {
    let x = f32s(&[1, 2, 4], &[0.0; 8]);
    let err = run("Attention", 23, vec![], &[x.clone(), x.clone(), x.clone()]).unwrap_err();
    assert!(err.to_string().contains("q_num_heads"), "{err}");
    let attrs = || vec![("q_num_heads", Attr::Int(3)), ("kv_num_heads", Attr::Int(3))];
    let err = run("Attention", 23, attrs(), &[x.clone(), x.clone(), x]).unwrap_err();
    assert!(err.to_string().contains("multiple"), "{err}");
}

#[test]
fn query_heads_must_be_a_multiple_of_key_heads() {
    let q = f32s(&[1, 3, 1, 1], &[0.0; 3]);
    let k = f32s(&[1, 2, 1, 1], &[0.0; 2]);
    let err = run("Attention", 23, vec![], &[q, k.clone(), k]).unwrap_err();
    assert!(err.to_string().contains("multiple"), "{err}");
}

#[test]
fn bad_masks_and_attributes_are_errors() {
    let x = f32s(&[1, 1, 2, 1], &[0.0; 2]);
    let wide = f32s(&[1, 3], &[0.0; 3]);
    assert!(run("Attention", 23, vec![], &[x.clone(), x.clone(), x.clone(), wide]).is_err());
    let rows = f32s(&[3, 2], &[0.0; 6]);
    assert!(run("Attention", 23, vec![], &[x.clone(), x.clone(), x.clone(), rows]).is_err());
    let scalar = Tensor::scalar(0.0f32);
    assert!(run("Attention", 23, vec![], &[x.clone(), x.clone(), x.clone(), scalar]).is_err());
    for (name, v) in [("qk_matmul_output_mode", 4), ("is_causal", 2), ("left_window_size", -2), ("softmax_precision", 7)] {
        assert!(run("Attention", 25, vec![(name, Attr::Int(v))], &[x.clone(), x.clone(), x.clone()]).is_err(), "{name}");
    }
    assert!(run("Attention", 23, vec![("softcap", Attr::Float(-1.0))], &[x.clone(), x.clone(), x.clone()]).is_err());
    let ints = i64s(&[1, 1, 2, 1], &[0, 0]);
    assert!(run("Attention", 23, vec![], &[ints.clone(), ints.clone(), ints]).is_err());
}

#[test]
fn nonpad_lengths_mask_keys_and_must_match_the_batch() {
    let q = f32s(&[1, 1, 1, 1], &[1.0]);
    let k = f32s(&[1, 1, 3, 1], &[1.0, 1.0, 1.0]);
    let v = f32s(&[1, 1, 3, 1], &[1.0, 2.0, 100.0]);
    let out = eval_slots(vec![], &[Some(q.clone()), Some(k.clone()), Some(v.clone()), None, None, None, Some(i64s(&[1], &[2]))]).unwrap();
    assert_eq!(values(&out[0]), vec![1.5]);
    // No valid key at all: a zero row.
    let out = eval_slots(vec![], &[Some(q.clone()), Some(k.clone()), Some(v.clone()), None, None, None, Some(i64s(&[1], &[-5]))]).unwrap();
    assert_eq!(values(&out[0]), vec![0.0]);
    let err = eval_slots(vec![], &[Some(q), Some(k), Some(v), None, None, None, Some(i64s(&[2], &[1, 1]))]).unwrap_err();
    assert!(err.to_string().contains("nonpad"), "{err}");
}

#[test]
fn past_and_nonpad_together_are_rejected() {
    let mut n = node("Attention", 24, vec![], 7, 1);
    n.inputs = vec![true, true, true, false, true, true, true];
    assert!(Op::from_onnx(&n).is_err());
    n.inputs = vec![true, true, true, false, true, false];
    assert!(Op::from_onnx(&n).is_err());
}

#[test]
fn cache_is_concatenated_before_the_new_keys() {
    let q = f32s(&[1, 1, 1, 1], &[0.0]);
    let k = f32s(&[1, 1, 1, 1], &[5.0]);
    let past = f32s(&[1, 1, 2, 1], &[1.0, 2.0]);
    let out = eval_slots(vec![], &[Some(q), Some(k.clone()), Some(k), None, Some(past.clone()), Some(past)]).unwrap();
    assert_eq!(values(&out[1]), vec![1.0, 2.0, 5.0]);
    // Equal scores: the mean of the values.
    assert!((values(&out[0])[0] - 8.0 / 3.0).abs() < 1e-6);
}

#[test]
fn inference_keeps_unknown_dims_unknown() {
    let n = node("Attention", 23, vec![("q_num_heads", Attr::Int(4)), ("kv_num_heads", Attr::Int(2))], 3, 4);
    let op = Op::from_onnx(&n).unwrap();
    let q = TensorType::new(DType::F32, Shape::from_dims(vec![None, Some(5), Some(32)]));
    let k = TensorType::new(DType::F32, Shape::from_dims(vec![Some(2), None, Some(16)]));
    let v = TensorType::new(DType::F32, Shape::from_dims(vec![None, Some(7), Some(12)]));
    let args = [q, k, v].map(|ty| ty);
    let args: Vec<Option<Arg>> = args.iter().map(|ty| Some(Arg { ty, value: None })).collect();
    let out = op.infer(&args).unwrap();
    assert_eq!(out[0].shape, Shape::fixed(&[2, 5, 24]));
    assert_eq!(out[1].shape, Shape::fixed(&[2, 2, 7, 8]));
    assert_eq!(out[2].shape, Shape::fixed(&[2, 2, 7, 6]));
    assert_eq!(out[3].shape, Shape::fixed(&[2, 4, 5, 7]));
    let unknown = TensorType::new(DType::F32, Shape::unknown());
    let args: Vec<Option<Arg>> = (0..3).map(|_| Some(Arg { ty: &unknown, value: None })).collect();
    assert_eq!(op.infer(&args).unwrap()[0].shape, Shape::unknown());
}

#[test]
fn causal_window_limits_keys() {
    // Keys 0..4 with values 0..4, all scores equal: the output is the mean of
    // the visible keys. Query 3 with left window 1 and causal sees keys 2, 3.
    let q = f32s(&[1, 1, 4, 1], &[0.0; 4]);
    let k = f32s(&[1, 1, 4, 1], &[0.0; 4]);
    let v = f32s(&[1, 1, 4, 1], &[0.0, 1.0, 2.0, 3.0]);
    let out = run("Attention", 25, vec![("is_causal", Attr::Int(1)), ("left_window_size", Attr::Int(1))], &[q, k, v]).unwrap();
    assert_eq!(values(&out[0]), vec![0.0, 0.5, 1.5, 2.5]);
}
