//! Snapshots of generated Rust and C for tiny models, one per operator
//! family (`tests/snapshots/`, reviewed like code: `INSTA_UPDATE=always`
//! rewrites them after an intended change), and the determinism of
//! generation: the same model gives byte-identical files every time.

use qcc::back::{self, Emit, Options, OutputFile};
use qcc::target::Target;
use qcc_tests::cli::TempDir;
use qcc_tests::model::*;

/// The generated files for a model.
fn generate(m: &ModelProto, name: &str, emit: Emit) -> Vec<OutputFile> {
    let dir = TempDir::new(name);
    let path = dir.write("model.onnx", &bytes(m));
    let graph = qcc::load_model(&path, &[]).unwrap();
    let opts = Options { emit, name: name.into(), target: Target::named("x86_64").unwrap(), harness: false, source: "model.onnx".into() };
    back::generate(&graph, &opts).unwrap().files
}

fn file(files: &[OutputFile], path: &str) -> String {
    let f = files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("no {path} among the generated files"));
    String::from_utf8(f.contents.clone()).unwrap()
}

/// Both languages' model source for `m`, as snapshots `<name>_rust` and `<name>_c`.
fn snapshot(m: &ModelProto, name: &str) {
    insta::assert_snapshot!(format!("{name}_rust"), file(&generate(m, name, Emit::Rust), "src/lib.rs"));
    let c = generate(m, name, Emit::C);
    insta::assert_snapshot!(format!("{name}_c"), file(&c, &format!("{name}.c")));
}

/// Transpose, Slice, Pad and Concat: copies, fills and an alias.
fn movement() -> ModelProto {
    model(
        vec![
            with(node("Transpose", "nhwc", &["x"], &["t"]), attr_ints("perm", &[0, 2, 3, 1])),
            node("Slice", "crop", &["t", "starts", "ends", "axes"], &["s"]),
            node("Pad", "pad", &["s", "pads"], &["p"]),
            with(node("Concat", "join", &["p", "p"], &["y"]), attr_int("axis", 3)),
        ],
        vec![f32_info("x", &[1, 2, 3, 3])],
        vec![f32_info("y", &[1, 4, 2, 4])],
        vec![
            tensor_i64("starts", &[1], &[1]),
            tensor_i64("ends", &[1], &[3]),
            tensor_i64("axes", &[1], &[1]),
            tensor_i64("pads", &[8], &[0, 1, 0, 0, 0, 1, 0, 0]),
        ],
    )
}

/// `n` deterministic weights in [-1, 1).
fn weights(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 37 % 101) as f32 / 50.5) - 1.0).collect()
}

/// Conv, Relu, MaxPool, Flatten, Gemm and Softmax: the kernel calls of a CNN.
fn kernels() -> ModelProto {
    model(
        vec![
            with(node("Conv", "conv", &["x", "w", "b"], &["c"]), attr_ints("pads", &[1, 1, 1, 1])),
            node("Relu", "relu", &["c"], &["r"]),
            with(with(node("MaxPool", "pool", &["r"], &["p"]), attr_ints("kernel_shape", &[2, 2])), attr_ints("strides", &[2, 2])),
            node("Flatten", "flat", &["p"], &["f"]),
            with(node("Gemm", "fc", &["f", "fw", "fb"], &["g"]), attr_int("transB", 1)),
            node("Softmax", "softmax", &["g"], &["y"]),
        ],
        vec![f32_info("x", &[1, 2, 6, 6])],
        vec![f32_info("y", &[1, 4])],
        vec![
            tensor_f32("w", &[3, 2, 3, 3], &weights(54)),
            tensor_f32("b", &[3], &weights(3)),
            tensor_f32("fw", &[4, 27], &weights(108)),
            tensor_f32("fb", &[4], &weights(4)),
        ],
    )
}

/// Gather at runtime indices, LayerNormalization and ReduceMean: the
/// gather, norm and reduce kernels.
fn indexed() -> ModelProto {
    model(
        vec![
            with(node("Gather", "lookup", &["table", "ids"], &["e"]), attr_int("axis", 0)),
            node("LayerNormalization", "norm", &["e", "scale", "bias"], &["n"]),
            with(node("ReduceMean", "mean", &["n"], &["y"]), attr_ints("axes", &[1])),
        ],
        vec![value_info("ids", INT64, &[D::N(3)])],
        vec![f32_info("y", &[3, 1])],
        vec![tensor_f32("table", &[5, 4], &weights(20)), tensor_f32("scale", &[4], &weights(4)), tensor_f32("bias", &[4], &weights(4))],
    )
}

#[test]
fn kernel_snapshots() {
    snapshot(&kernels(), "kernels");
}

#[test]
fn indexed_snapshots() {
    snapshot(&indexed(), "indexed");
}

#[test]
fn elementwise_snapshots() {
    snapshot(&add_mul_relu(), "elementwise");
}

#[test]
fn movement_snapshots() {
    snapshot(&movement(), "movement");
}

#[test]
fn generation_is_deterministic() {
    for emit in [Emit::Rust, Emit::C, Emit::RustModule] {
        for (m, name) in [(add_mul_relu(), "elementwise"), (movement(), "movement"), (kernels(), "kernels"), (indexed(), "indexed")] {
            let first = generate(&m, name, emit);
            for _ in 0..3 {
                assert!(generate(&m, name, emit) == first, "{name} ({emit:?}) differs between runs");
            }
        }
    }
}
