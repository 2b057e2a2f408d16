//! End-to-end tests of the `qcc` command line on small models built in
//! Rust: `qcc run` on `.npy`, `.pb` and `.npz` data, `qcc inspect`, `--help`
//! and `--input-shape`.


use qcc_tests::cli::{expect_error, expect_success, qcc, TempDir};
use qcc_tests::model::*;
use qcc::tensor::{npy, Tensor};

const A: [f32; 6] = [1.0, 2.0, -3.0, 4.0, 0.5, -6.0];
const B: [f32; 6] = [0.5, -4.0, 1.0, 1.0, 2.5, 1.0];

fn f32_values(t: &Tensor) -> Vec<f32> {
    t.array::<f32>().expect("float32 output").iter().copied().collect()
}

/// Writes `m` as model.onnx in a new scratch directory.
fn setup(tag: &str, m: &ModelProto) -> (TempDir, String) {
    let dir = TempDir::new(tag);
    let model = dir.write("model.onnx", &bytes(m)).display().to_string();
    (dir, model)
}

fn save(dir: &TempDir, name: &str, t: &Tensor) -> String {
    let p = dir.path().join(name);
    npy::save_npy(&p, t).unwrap();
    p.display().to_string()
}

#[test]
fn run_on_npy_inputs_writes_outputs() {
    let (dir, model) = setup("npy", &add_mul_relu());
    let a = save(&dir, "a.npy", &Tensor::from_vec(&[2, 3], A.to_vec()).unwrap());
    let b = save(&dir, "b.npy", &Tensor::from_vec(&[2, 3], B.to_vec()).unwrap());
    let out = dir.path().join("out");
    expect_success(&qcc(["run", &model, "-i", &a, "-i", &b, "-o", &out.display().to_string()]));
    let y = npy::load_npy(&out.join("output_0.npy")).unwrap();
    assert_eq!(y.shape(), &[2, 3]);
    assert_eq!(f32_values(&y), add_mul_relu_expected(&A, &B));
}

#[test]
fn run_on_pb_inputs() {
    let (dir, model) = setup("pb", &add_mul_relu());
    // One input as raw_data, the other as float_data.
    let a = dir.write("a.pb", &tensor_f32("a", &[2, 3], &A).write_to_bytes().unwrap()).display().to_string();
    let b = dir.write("b.pb", &tensor_f32_typed("b", &[2, 3], &B).write_to_bytes().unwrap()).display().to_string();
    let out = dir.path().join("out");
    expect_success(&qcc(["run", &model, "-i", &a, "-i", &b, "-o", &out.display().to_string()]));
    let y = npy::load_npy(&out.join("output_0.npy")).unwrap();
    assert_eq!(f32_values(&y), add_mul_relu_expected(&A, &B));
}

#[test]
fn run_on_a_dataset_stacks_outputs_by_name() {
    let (dir, model) = setup("npz", &add_mul_relu());
    let samples = 5;
    let a: Vec<f32> = (0..samples * 6).map(|i| i as f32 * 0.25 - 3.0).collect();
    let b: Vec<f32> = (0..samples * 6).map(|i| 2.0 - i as f32 * 0.125).collect();
    let dataset = dir.path().join("data.npz");
    npy::save_npz(
        &dataset,
        &[
            // Archive order differs from input order: arrays are matched by name.
            ("b".to_string(), Tensor::from_vec(&[samples, 2, 3], b.clone()).unwrap()),
            ("a".to_string(), Tensor::from_vec(&[samples, 2, 3], a.clone()).unwrap()),
        ],
    )
    .unwrap();
    let out = dir.path().join("out");
    expect_success(&qcc(["run", &model, "--dataset", &dataset.display().to_string(), "-o", &out.display().to_string()]));
    let outputs = npy::load_npz(&out.join("outputs.npz")).unwrap();
    assert_eq!(outputs.len(), 1);
    let (name, y) = &outputs[0];
    assert_eq!(name, "y");
    assert_eq!(y.shape(), &[samples, 2, 3]);
    let expected: Vec<f32> = a.chunks(6).zip(b.chunks(6)).flat_map(|(a, b)| add_mul_relu_expected(a, b)).collect();
    assert_eq!(f32_values(y), expected);
}

#[test]
fn run_on_a_dataset_of_batch_rows() {
    // Input [N, 3] with a dynamic batch; the dataset has the same rank, so
    // each row is one sample of batch 1 and the outputs come back as rows.
    let (dir, model) = setup("rows", &dynamic_batch());
    let x: Vec<f32> = (0..12).map(|i| i as f32 - 5.5).collect();
    let dataset = dir.path().join("rows.npz");
    npy::save_npz(&dataset, &[("x".to_string(), Tensor::from_vec(&[4, 3], x.clone()).unwrap())]).unwrap();
    let out = dir.path().join("out");
    expect_success(&qcc(["run", &model, "--dataset", &dataset.display().to_string(), "-o", &out.display().to_string()]));
    let outputs = npy::load_npz(&out.join("outputs.npz")).unwrap();
    let (name, y) = &outputs[0];
    assert_eq!(name, "y");
    assert_eq!(y.shape(), &[4, 3]);
    assert_eq!(f32_values(y), x.iter().map(|v| v * 2.0).collect::<Vec<_>>());
}

#[test]
fn inputs_sharing_a_dimension_name_share_its_size() {
    // x: [N, 3] and y: [N, 3] share the symbolic batch N; fixing x fixes y.
    let m = model(
        vec![node("Add", "add", &["x", "y"], &["z"])],
        vec![value_info("x", FLOAT, &[D::P("N"), D::N(3)]), value_info("y", FLOAT, &[D::P("N"), D::N(3)])],
        vec![value_info("z", FLOAT, &[D::P("N"), D::N(3)])],
        vec![],
    );
    let (_dir, model) = setup("shared", &m);
    let err = expect_error(&qcc(["inspect", &model]), &["input 'x'", "[N, 3]", "--input-shape x=1,3"]);
    assert!(!err.contains('?'), "{err}");
    let out = expect_success(&qcc(["inspect", &model, "--input-shape", "x=4,3"]));
    assert!(out.contains("float32[4, 3]"), "{out}");
    assert!(!out.contains("(unknown)"), "{out}");
}

#[test]
fn run_a_model_without_inputs() {
    let m = model(
        vec![node("Relu", "relu", &["c"], &["y"])],
        vec![],
        vec![f32_info("y", &[2, 3])],
        vec![tensor_f32("c", &[2, 3], &A)],
    );
    let (dir, model) = setup("noinputs", &m);
    let out = dir.path().join("out");
    expect_success(&qcc(["run", &model, "-o", &out.display().to_string()]));
    let y = npy::load_npy(&out.join("output_0.npy")).unwrap();
    assert_eq!(f32_values(&y), A.iter().map(|v| v.max(0.0)).collect::<Vec<_>>());
}

#[test]
fn inspect_summarises_the_model() {
    let mut m = add_mul_relu();
    // An operator qcc does not know, fed by the supported part.
    graph(&mut m).node.push(node("MysteryOp", "mystery", &["y"], &["z"]));
    graph(&mut m).output.push(f32_info("z", &[2, 3]));
    let (_dir, model) = setup("inspect", &m);
    let text = expect_success(&qcc(["inspect", &model]));
    for needle in [
        "inputs:",
        "a                        float32[2, 3]",
        "b                        float32[2, 3]",
        "outputs:",
        "y                        float32[2, 3]",
        "operators (4 nodes in the model):",
        "Add                      1",
        "Mul                      1",
        "Relu                     1",
        "MysteryOp                1",
        "parameters: 6 (24 B)",
        "MACs",
        "unsupported operators (1 nodes):",
        "mystery (MysteryOp): op type 'MysteryOp' is not supported by qcc",
    ] {
        assert!(text.contains(needle), "inspect output lacks {needle:?}:\n{text}");
    }
}

#[test]
fn inspect_of_a_fully_supported_model() {
    let (_dir, model) = setup("inspectok", &add_mul_relu());
    let text = expect_success(&qcc(["inspect", &model]));
    assert!(text.contains("unsupported operators: none"), "{text}");
    assert!(text.contains("total: 0 MACs"), "{text}");
}

#[test]
fn help_works() {
    for args in [vec!["--help"], vec!["run", "--help"], vec!["inspect", "--help"], vec!["help"]] {
        let text = expect_success(&qcc(&args));
        assert!(text.contains("Usage:"), "{args:?}:\n{text}");
    }
    let text = expect_success(&qcc(["run", "--help"]));
    for flag in ["--input", "--dataset", "--output", "--input-shape"] {
        assert!(text.contains(flag), "run --help lacks {flag}:\n{text}");
    }
    expect_success(&qcc(["--version"]));
}

#[test]
fn input_shape_fixes_a_dynamic_dim() {
    let (dir, model) = setup("dynamic", &dynamic_batch());
    let text = expect_success(&qcc(["inspect", &model, "--input-shape", "x=4,3"]));
    assert!(text.contains("x                        float32[4, 3]"), "{text}");
    assert!(text.contains("y                        float32[4, 3]"), "{text}");

    let x: Vec<f32> = (0..15).map(|i| i as f32).collect();
    let input = save(&dir, "x.npy", &Tensor::from_vec(&[5, 3], x.clone()).unwrap());
    let out = dir.path().join("out");
    let out_s = out.display().to_string();
    // From the flag, and from the data's shape alone.
    expect_success(&qcc(["run", &model, "-i", &input, "-o", &out_s, "--input-shape", "x=5,3"]));
    assert_eq!(f32_values(&npy::load_npy(&out.join("output_0.npy")).unwrap()), x.iter().map(|v| v * 2.0).collect::<Vec<_>>());
    std::fs::remove_dir_all(&out).unwrap();
    expect_success(&qcc(["run", &model, "-i", &input, "-o", &out_s]));
    let y = npy::load_npy(&out.join("output_0.npy")).unwrap();
    assert_eq!(y.shape(), &[5, 3]);
}
