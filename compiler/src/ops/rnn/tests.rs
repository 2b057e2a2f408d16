//! Unit tests of RNN, GRU and LSTM: behaviour the ONNX node tests do not cover.

use crate::front::onnx::Attr;
use crate::ops::testing::{f32s, run};
use crate::tensor::Tensor;

fn close(t: &Tensor, want: &[f64]) {
    let v = t.to_f64_vec().unwrap();
    assert_eq!(v.len(), want.len(), "{v:?} vs {want:?}");
    for (a, b) in v.iter().zip(want) {
        assert!((a - b).abs() < 1e-5, "{v:?} vs {want:?}");
    }
}

/// A one-unit RNN with W = 1, R = 0.5 and Relu: h' = relu(x + 0.5 h).
fn relu_rnn(attrs: Vec<(&str, Attr)>, x: Tensor, extra: Vec<Tensor>) -> Vec<Tensor> {
    let mut inputs = vec![x, f32s(&[1, 1, 1], &[1.0]), f32s(&[1, 1, 1], &[0.5])];
    inputs.extend(extra);
    let mut attrs = attrs;
    attrs.push(("hidden_size", Attr::Int(1)));
    attrs.push(("activations", Attr::Strings(vec!["Relu".into()])));
    run("RNN", 22, attrs, &inputs).unwrap()
}

#[test]
fn forward_and_reverse_rnn() {
    let x = f32s(&[3, 1, 1], &[1.0, 2.0, 4.0]);
    let fwd = relu_rnn(vec![], x.clone(), vec![]);
    close(&fwd[0], &[1.0, 2.5, 5.25]);
    close(&fwd[1], &[5.25]);
    let rev = relu_rnn(vec![("direction", Attr::String("reverse".into()))], x, vec![]);
    close(&rev[0], &[3.0, 4.0, 4.0]);
    close(&rev[1], &[3.0]);
}

#[test]
fn sequence_lens_stop_early_and_zero_the_tail() {
    // Two batch entries, lengths 3 and 1, with an initial state of 2.
    let x = f32s(&[3, 2, 1], &[1.0, 10.0, 2.0, 20.0, 4.0, 40.0]);
    let b = f32s(&[1, 2], &[0.0, 0.0]);
    let lens = Tensor::from_vec(&[2], vec![3i32, 1]).unwrap();
    let h0 = f32s(&[1, 2, 1], &[2.0, 2.0]);
    let out = relu_rnn(vec![], x, vec![b, lens, h0]);
    close(&out[0], &[2.0, 11.0, 3.0, 0.0, 5.5, 0.0]);
    close(&out[1], &[5.5, 11.0]);
}

#[test]
fn batch_first_layout_transposes_inputs_and_outputs() {
    let x = f32s(&[2, 2, 1], &[1.0, 2.0, 10.0, 20.0]);
    let out = relu_rnn(vec![("layout", Attr::Int(1))], x, vec![]);
    assert_eq!(out[0].shape(), &[2, 2, 1, 1]);
    close(&out[0], &[1.0, 2.5, 10.0, 25.0]);
    close(&out[1], &[2.5, 25.0]);
}

#[test]
fn lstm_clips_gate_inputs() {
    // One unit, zero weights: every gate input is the bias.
    let zeros = |n: usize| f32s(&[1, n, 1], &vec![0.0; n]);
    let bias = f32s(&[1, 8], &[100.0, 100.0, -100.0, 3.0, 0.0, 0.0, 0.0, 0.0]);
    let attrs = vec![("hidden_size", Attr::Int(1)), ("clip", Attr::Float(1.0))];
    let out = run("LSTM", 22, attrs, &[f32s(&[1, 1, 1], &[0.0]), zeros(4), zeros(4), bias]).unwrap();
    // Clipped to 1: i = o = f = sigmoid(1) (f from -1: sigmoid(-1)), c = tanh(1) * i.
    let s = |v: f64| 1.0 / (1.0 + (-v).exp());
    let c = s(1.0) * 1f64.tanh();
    close(&out[2], &[c]);
    close(&out[1], &[s(1.0) * c.tanh()]);
}

#[test]
fn gru_linear_before_reset_differs_only_through_the_reset_gate() {
    let w = f32s(&[1, 3, 1], &[0.0, 0.0, 1.0]);
    let r = f32s(&[1, 3, 1], &[0.0, 0.0, 1.0]);
    let b = f32s(&[1, 6], &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    let h0 = f32s(&[1, 1, 1], &[1.0]);
    let x = f32s(&[1, 1, 1], &[0.5]);
    let lens = Tensor::from_vec(&[1], vec![1i32]).unwrap();
    let inputs = [x, w, r, b, lens, h0];
    let plain = run("GRU", 22, vec![], &inputs).unwrap();
    let linear = run("GRU", 22, vec![("linear_before_reset", Attr::Int(1))], &inputs).unwrap();
    // z = r = 0.5; plain: tanh(0.5 + 0.5 * 1 + 1); linear: tanh(0.5 + 0.5 * (1 + 1)).
    close(&plain[1], &[0.5 * 2f64.tanh() + 0.5]);
    close(&linear[1], &[0.5 * 1.5f64.tanh() + 0.5]);
}

#[test]
fn bad_attributes_and_shapes_are_errors() {
    let x = f32s(&[1, 1, 1], &[1.0]);
    let w = f32s(&[1, 1, 1], &[1.0]);
    let base = [x.clone(), w.clone(), w.clone()];
    assert!(run("RNN", 22, vec![("direction", Attr::String("sideways".into()))], &base).is_err());
    assert!(run("RNN", 22, vec![("activations", Attr::Strings(vec!["Tanh".into(), "Tanh".into()]))], &base).is_err());
    assert!(run("RNN", 22, vec![("hidden_size", Attr::Int(2))], &base).is_err());
    assert!(run("RNN", 22, vec![("layout", Attr::Int(2))], &base).is_err());
    assert!(run("LSTM", 22, vec![], &base).is_err());
    let lens = Tensor::from_vec(&[1], vec![2i32]).unwrap();
    assert!(run("RNN", 22, vec![], &[x, w.clone(), w, f32s(&[1, 2], &[0.0, 0.0]), lens]).is_err());
}
