//! Unit tests of DFT and its FFT plans against direct sums.

use super::{Complex, Plan};
use crate::front::onnx::Attr;
use crate::ops::testing::{f32s, i64s, node, run};
use crate::ops::Op;
use crate::tensor::Tensor;

fn naive(x: &[Complex], n: usize, sign: f64) -> Vec<Complex> {
    (0..n)
        .map(|k| {
            x.iter().enumerate().take(n).fold((0.0, 0.0), |acc, (j, &(re, im))| {
                let a = sign * 2.0 * std::f64::consts::PI * (j * k) as f64 / n as f64;
                (acc.0 + re * a.cos() - im * a.sin(), acc.1 + re * a.sin() + im * a.cos())
            })
        })
        .collect()
}

fn signal(n: usize) -> Vec<Complex> {
    (0..n).map(|i| ((i as f64 * 0.37).sin() + 0.1 * i as f64, (i as f64 * 1.3).cos())).collect()
}

#[test]
fn every_algorithm_matches_the_definition() {
    // Direct sum, radix 2, and Bluestein lengths; padding and truncation.
    for (len, n) in [(5, 5), (8, 8), (100, 100), (97, 128), (70, 67), (3, 130)] {
        let x = signal(len);
        let got = Plan::new(n, false).unwrap().run(&x);
        let want = naive(&x, n, -1.0);
        for (g, w) in got.iter().zip(&want) {
            assert!((g.0 - w.0).abs() < 1e-9 && (g.1 - w.1).abs() < 1e-9, "n={n}: {g:?} vs {w:?}");
        }
        let back = Plan::new(n, true).unwrap().run(&got);
        if len == n {
            for (b, v) in back.iter().zip(&x) {
                assert!((b.0 - v.0).abs() < 1e-9 && (b.1 - v.1).abs() < 1e-9);
            }
        }
    }
}

fn dft(attrs: Vec<(&str, Attr)>, inputs: &[Option<Tensor>]) -> crate::Result<Tensor> {
    let mut n = node("DFT", 20, attrs, inputs.len(), 1);
    n.inputs = inputs.iter().map(Option::is_some).collect();
    let op = Op::from_onnx(&n)?;
    Ok(op.eval(&inputs.iter().map(Option::as_ref).collect::<Vec<_>>())?.remove(0))
}

#[test]
fn rfft_then_irfft_restores_the_signal() {
    for n in [6usize, 7] {
        let values: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
        let x = f32s(&[1, n, 1], &values);
        let half = dft(vec![("onesided", Attr::Int(1))], &[Some(x), None, Some(i64s(&[], &[1]))]).unwrap();
        assert_eq!(half.shape(), &[1, n / 2 + 1, 2]);
        let attrs = vec![("onesided", Attr::Int(1)), ("inverse", Attr::Int(1))];
        let back = dft(attrs, &[Some(half), Some(i64s(&[], &[n as i64])), Some(i64s(&[], &[1]))]).unwrap();
        assert_eq!(back.shape(), &[1, n, 1]);
        for (b, v) in back.array::<f32>().unwrap().iter().zip(&values) {
            assert!((b - v).abs() < 1e-5, "{b} vs {v}");
        }
    }
}

#[test]
fn bad_axes_lengths_and_components_are_errors() {
    let x = f32s(&[2, 3, 1], &[0.0; 6]);
    // The last axis holds the complex parts.
    assert!(run("DFT", 20, vec![], &[x.clone(), i64s(&[], &[3]), i64s(&[], &[2])]).is_err());
    assert!(run("DFT", 20, vec![], &[x.clone(), i64s(&[], &[0]), i64s(&[], &[1])]).is_err());
    assert!(run("DFT", 20, vec![], &[x.clone(), i64s(&[2], &[3, 3]), i64s(&[], &[1])]).is_err());
    assert!(run("DFT", 17, vec![("axis", Attr::Int(5))], &[x]).is_err());
    let three = f32s(&[2, 3], &[0.0; 6]);
    assert!(run("DFT", 17, vec![("axis", Attr::Int(0))], &[three]).is_err());
}

#[test]
fn inference_uses_constant_lengths_and_axes() {
    use crate::ir::{Shape, TensorType};
    use crate::ops::Arg;
    use crate::tensor::DType;
    let n = node("DFT", 20, vec![("onesided", Attr::Int(1))], 3, 1);
    let op = Op::from_onnx(&n).unwrap();
    let x = TensorType::fixed(DType::F32, &[2, 10, 7, 1]);
    let scalar = TensorType::fixed(DType::I64, &[]);
    let (len, axis) = (i64s(&[], &[16]), i64s(&[], &[1]));
    let args = [Some(Arg { ty: &x, value: None }), Some(Arg { ty: &scalar, value: Some(&len) }), Some(Arg { ty: &scalar, value: Some(&axis) })];
    assert_eq!(op.infer(&args).unwrap()[0].shape, Shape::fixed(&[2, 9, 7, 2]));
    let args = [Some(Arg { ty: &x, value: None }), Some(Arg { ty: &scalar, value: Some(&len) }), Some(Arg { ty: &scalar, value: None })];
    assert_eq!(op.infer(&args).unwrap()[0].shape, Shape::from_dims(vec![None, None, None, Some(2)]));
}
