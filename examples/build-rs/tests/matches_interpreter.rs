//! The model compiled by build.rs gives the interpreter's logits (within
//! float rounding) and its class on every bundled sample.

use qcc::interp::Interpreter;
use qcc::tensor::{npy, Tensor};
use qcc_example_build_rs::{classify, digits};
use std::path::Path;

#[test]
fn generated_model_matches_the_interpreter() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../digits");
    let graph = qcc::load_model(&dir.join("model.onnx"), &[("image".into(), vec![1, 1, 8, 8])]).unwrap();
    let interp = Interpreter::new(&graph).unwrap();
    let samples = npy::load_npz(&dir.join("samples.npz")).unwrap();
    let images = &samples.iter().find(|(n, _)| n == "image").unwrap().1;
    let images = images.to_f64_vec().unwrap();
    let mut model = digits::Model::new();
    let count = images.len() / 64;
    assert!(count >= 100, "too few samples: {count}");
    for k in 0..count {
        let pixels: Vec<f32> = images[k * 64..(k + 1) * 64].iter().map(|&v| v as f32).collect();
        let image: &[f32; 64] = pixels.as_slice().try_into().unwrap();
        let mut logits = [0.0f32; 10];
        model.run(image, &mut logits);
        let input = Tensor::from_vec(&[1, 1, 8, 8], pixels.clone()).unwrap();
        let expected = interp.run(vec![input]).unwrap()[0].to_f64_vec().unwrap();
        for (a, e) in logits.iter().zip(&expected) {
            assert!((*a as f64 - e).abs() <= 1e-4 + 1e-4 * e.abs(), "sample {k}: {logits:?} vs {expected:?}");
        }
        let class = expected.iter().enumerate().fold(0, |b, (i, v)| if *v > expected[b] { i } else { b });
        assert_eq!(classify(&mut model, image), class, "sample {k}");
    }
}
