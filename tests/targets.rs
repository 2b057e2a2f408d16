//! Generated code on every target: `qcc run --target T --emit rust|c` builds
//! the generated harness with the target's toolchain and runs it natively
//! or under the target's emulator (qemu-user for the hosted targets,
//! qemu-system with semihosting for the bare-metal boards: Cortex-M4 on
//! mps2-an386, RV32IMAC on virt). On
//! every test model, float and int8, the outputs must equal the integer
//! oracle's (`qcc run` without `--target`, the same quantization) bit for
//! bit in int8, and the interpreter's within rtol 1e-4, atol 1e-5 in float
//! (other libm, other summation order of float GEMMs).
//!
//! Test models: the bundled example, the trained digits models
//! (tests/quant/), and the exported models of tests/models/ (reference
//! inputs from `tests/models/make_references.py`, in target/models-ref or
//! `QCC_MODELS_REF`), calibrated on their own inputs.
//!
//! Tiers: by default each model runs once per target, the language and the
//! precision rotating over models and targets so that every target runs
//! both languages and both precisions, and every model runs every
//! combination on some target. `QCC_TARGETS=full` runs every model in both
//! languages and both precisions on every target.

use qcc::tensor::{npy, Tensor};
use qcc_tests::cli::{expect_success, qcc, TempDir};
use qcc_tests::{compare, workspace};
use std::path::{Path, PathBuf};

/// Float outputs of generated code against the interpreter.
const RTOL: f64 = 1e-4;
const ATOL: f64 = 1e-5;

/// A test model with its inputs.
struct Model {
    name: String,
    path: PathBuf,
    /// `--input-shape` values.
    shapes: Vec<String>,
    /// The inputs run (a .npz or .npy dataset), also the calibration data.
    data: PathBuf,
    /// Calibration data for int8 (the inputs themselves when none is kept).
    calibration: PathBuf,
    /// Already quantized: runs as it is in both precisions.
    prequantized: bool,
}

fn models() -> Vec<Model> {
    let ws = workspace();
    let mut list = vec![Model {
        name: "digits_example".into(),
        path: ws.join("examples/digits/model.onnx"),
        shapes: vec!["image=1,1,8,8".into()],
        data: ws.join("tests/quant/digits_test.npz"),
        calibration: ws.join("examples/digits/samples.npz"),
        prequantized: false,
    }];
    for m in ["digits_cnn", "digits_mbv2", "digits_transformer", "digits_mbv1_skewed"] {
        list.push(Model {
            name: m.into(),
            path: ws.join(format!("tests/quant/{m}.onnx")),
            shapes: vec!["image=1,1,8,8".into()],
            data: ws.join("tests/quant/digits_test.npz"),
            calibration: ws.join("tests/quant/digits_calib.npz"),
            prequantized: false,
        });
    }
    let refs = std::env::var_os("QCC_MODELS_REF").map(PathBuf::from).unwrap_or_else(|| ws.join("target/models-ref"));
    let mut exported: Vec<String> = std::fs::read_dir(ws.join("tests/models"))
        .expect("tests/models")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".onnx").map(String::from))
        .collect();
    exported.sort();
    for m in exported {
        let dir = refs.join(&m);
        let shapes = std::fs::read_to_string(dir.join("shapes.txt")).unwrap_or_else(|e| {
            panic!("no reference data for '{m}' in {} ({e}): run `python tests/models/make_references.py {}`", dir.display(), refs.display())
        });
        // The references hold two samples: run them one at a time.
        let shapes = shapes.split_whitespace().map(|s| s.replacen("=2,", "=1,", 1)).collect();
        let data = dir.join("input_0.npy");
        list.push(Model { prequantized: m.ends_with("_dq"), path: ws.join(format!("tests/models/{m}.onnx")), name: m, shapes, calibration: data.clone(), data });
    }
    list
}

/// One run: a model in one language and precision on one target.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Combo {
    lang: &'static str,
    int8: bool,
}

const COMBOS: [Combo; 4] = [
    Combo { lang: "rust", int8: true },
    Combo { lang: "c", int8: false },
    Combo { lang: "c", int8: true },
    Combo { lang: "rust", int8: false },
];

/// The combinations `model` (the `m`-th) runs on the `t`-th target.
fn combos(m: usize, t: usize) -> Vec<Combo> {
    if std::env::var("QCC_TARGETS").is_ok_and(|v| v == "full") {
        COMBOS.to_vec()
    } else {
        vec![COMBOS[(m + t) % COMBOS.len()]]
    }
}

/// `qcc run` of `model` on its data with `extra` flags into `out`; the
/// outputs by name.
fn run(model: &Model, extra: &[&str], out: &Path) -> Vec<(String, Tensor)> {
    let mut args: Vec<String> = vec!["run".into(), model.path.to_string_lossy().into_owned(), "--dataset".into(), model.data.to_string_lossy().into_owned()];
    for s in &model.shapes {
        args.extend(["--input-shape".into(), s.clone()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["-o".into(), out.to_string_lossy().into_owned()]);
    expect_success(&qcc(&args));
    npy::load_npz(&out.join("outputs.npz")).unwrap_or_else(|e| panic!("{}: {e}", out.display())).into_iter().map(|(n, t)| (n.to_string(), t)).collect()
}

/// Runs every test model on `target` (the `t`-th) and compares it with the
/// interpreter.
fn every_model_on(target: &str, t: usize) {
    let tmp = TempDir::new(&format!("target-{target}"));
    let mut ran = 0;
    for (m, model) in models().iter().enumerate() {
        for combo in combos(m, t) {
            let calibration = model.calibration.to_string_lossy().into_owned();
            let quant: Vec<&str> = if combo.int8 && !model.prequantized { vec!["--quantize", "int8", "--calibration", &calibration] } else { vec![] };
            let dir = tmp.path().join(format!("{}-{}-{}", model.name, combo.lang, if combo.int8 { "int8" } else { "float" }));
            let want = run(model, &quant, &dir.join("oracle"));
            let mut flags = quant.clone();
            flags.extend(["--target", target, "--emit", combo.lang]);
            let got = run(model, &flags, &dir.join("generated"));
            assert_eq!(got.len(), want.len(), "{target} {}: output count", model.name);
            for ((name, g), (_, w)) in got.iter().zip(&want) {
                let what = format!("{target}, {} in {} ({}), output '{name}'", model.name, combo.lang, if combo.int8 { "int8" } else { "float" });
                if combo.int8 || model.prequantized {
                    assert!(g == w, "{what}: differs from the integer oracle: {}", compare(g, w, 0.0, 0.0).err().unwrap_or_default());
                } else if let Err(e) = compare(g, w, RTOL, ATOL) {
                    panic!("{what}: differs from the interpreter beyond rtol {RTOL}, atol {ATOL}: {e}");
                }
            }
            eprintln!("{target}: {} {} {} matches the {}", model.name, combo.lang, if combo.int8 { "int8" } else { "float" }, if combo.int8 { "oracle bit for bit" } else { "interpreter" });
            ran += 1;
        }
    }
    assert!(ran >= 16, "{target}: only {ran} runs");
}

/// Every target of the suite, with its place in the rotation of combinations.
macro_rules! targets {
    ($($name:ident = $index:literal $target:literal),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                every_model_on($target, $index);
            }
        )+
    };
}

targets! {
    every_test_model_on_x86_64 = 0 "x86_64",
    every_test_model_on_aarch64 = 1 "aarch64",
    every_test_model_on_riscv64 = 2 "riscv64",
    every_test_model_on_cortex_m4 = 3 "cortex-m4",
    every_test_model_on_riscv32imac = 4 "riscv32imac",
}
