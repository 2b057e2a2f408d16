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
        for (m, name) in [(add_mul_relu(), "elementwise"), (movement(), "movement")] {
            let first = generate(&m, name, emit);
            for _ in 0..3 {
                assert!(generate(&m, name, emit) == first, "{name} ({emit:?}) differs between runs");
            }
        }
    }
}
