//! Real exported models: the `qcc` command on the models under
//! `tests/models/`, written by PyTorch's TorchScript and dynamo exporters and
//! by paddle2onnx (see tests/models/README.md), all with dynamic dimensions.
//!
//! For each model:
//! - `qcc inspect` without `--input-shape` fails with one error that names
//!   the dynamic input and shows the `--input-shape` flag to fix it;
//! - `qcc inspect --input-shape ...` succeeds, lists no unsupported operator
//!   and counts a non-zero number of MACs;
//! - `qcc run --input-shape ...` on the reference inputs gives onnxruntime's
//!   outputs within rtol 1e-3, atol 1e-5 (|actual - expected| <=
//!   atol + rtol * |expected|, element by element).
//!
//! The recurrent models (GRU, LSTM, and the LSTM as onnxruntime's
//! dynamically quantized com.microsoft DynamicQuantizeLSTM) are also
//! compiled to Rust and C (`--harness`; C with `-Werror` and the address and
//! undefined-behaviour sanitizers), and the generated code must give
//! onnxruntime's outputs within the same tolerance.
//!
//! The reference inputs and outputs come from `tests/models/make_references.py
//! DIR` (onnx, onnxruntime and numpy only), read from `target/models-ref` or
//! from `QCC_MODELS_REF`. The tests run the `qcc` binary built beside this
//! test executable (`cargo build [--release] --bin qcc`).

use qcc::tensor::npy;
use qcc_tests::{compare, workspace};
use std::path::PathBuf;
use std::process::Output;

/// Tolerance of `qcc run` against onnxruntime: float32 arithmetic summed in
/// a different order, over networks a few dozen layers deep.
const RTOL: f64 = 1e-3;
const ATOL: f64 = 1e-5;

macro_rules! models {
    ($($name:ident),+ $(,)?) => {
        /// Every model under tests/models/ (checked by `every_model_is_tested`).
        const MODELS: &[&str] = &[$(stringify!($name)),+];
        $(
            mod $name {
                #[test]
                fn inspect_without_input_shape_names_the_dynamic_input() {
                    super::inspect_without_input_shape(stringify!($name));
                }

                #[test]
                fn inspect_with_input_shape() {
                    super::inspect_with_input_shape(stringify!($name));
                }

                #[test]
                fn run_matches_onnxruntime() {
                    super::run_matches_onnxruntime(stringify!($name));
                }
            }
        )+
    };
}

models! {
    mobilenetv3_ts_op13,
    mobilenetv3_ts_op11,
    mobilenetv3_ts_op15_fn,
    mobilenetv3_p2o1_op11,
    mobilenetv3_p2o2_op11,
    resnet_dynamo,
    transformer_ts_op17,
    transformer_dynamo,
    kws_gru_ts_op13,
    kws_lstm_ts_op13,
    kws_lstm_ts_op13_dq,
}

/// Models whose generated code is checked too.
const GENERATED: &[&str] = &["kws_gru_ts_op13", "kws_lstm_ts_op13", "kws_lstm_ts_op13_dq"];

#[test]
fn recurrent_models_in_generated_code_match_onnxruntime() {
    for name in GENERATED {
        let refs = References::load(name);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real_models_generated").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        for lang in ["rust", "c"] {
            let src = dir.join(lang);
            let mut args = vec![model_path(name).into_os_string(), "--emit".into(), lang.into(), "--harness".into(), "-o".into(), src.clone().into_os_string()];
            args.extend(refs.shape_flags());
            let out = qcc(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
            assert!(out.status.success(), "{name}: qcc --emit {lang} failed; stderr:\n{}", String::from_utf8_lossy(&out.stderr));
            let harness = if lang == "rust" {
                let target = workspace().join("target/real-models-builds").join(name);
                run(std::process::Command::new("cargo").args(["build", "--release", "--quiet", "--bin", "harness"]).current_dir(&src).env("CARGO_TARGET_DIR", &target));
                target.join("release/harness")
            } else {
                let cflags = "CFLAGS=-O1 -g -Werror -fsanitize=address,undefined -fno-sanitize-recover=all";
                run(std::process::Command::new("make").args(["-s", cflags, "LDFLAGS=-fsanitize=address,undefined"]).current_dir(&src));
                src.join("harness")
            };
            let outputs = dir.join(format!("{lang}-out"));
            run(std::process::Command::new(&harness).args(&refs.inputs).arg("-o").arg(&outputs));
            for (k, expected_path) in refs.expected.iter().enumerate() {
                let actual = npy::load_npy(&outputs.join(format!("output_{k}.npy"))).unwrap_or_else(|e| panic!("{name} {lang} output {k}: {e}"));
                let expected = npy::load_npy(expected_path).unwrap_or_else(|e| panic!("{e}"));
                let expected = expected.reshape(actual.shape()).unwrap_or(expected);
                if let Err(msg) = compare(&actual, &expected, RTOL, ATOL) {
                    panic!("{name}: {lang} output {k} differs from onnxruntime's (rtol {RTOL}, atol {ATOL}): {msg}");
                }
            }
        }
    }
}

/// Runs a command, failing the test with its output if it fails.
fn run(cmd: &mut std::process::Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn every_model_is_tested() {
    let dir = models_dir();
    let mut untested = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "onnx") {
            let stem = path.file_stem().expect("file name").to_string_lossy().into_owned();
            if !MODELS.contains(&stem.as_str()) {
                untested.push(stem);
            }
        }
    }
    assert!(untested.is_empty(), "models without tests (add them to `models!` in {}): {untested:?}", file!());
}

fn inspect_without_input_shape(name: &str) {
    let refs = References::load(name);
    let out = qcc(&["inspect".as_ref(), model_path(name).as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "qcc inspect without --input-shape should fail with status 1; stderr:\n{stderr}");
    // qcc reports the first input (in graph order) whose shape is not fixed.
    let input = refs.input_names()[0];
    assert!(
        stderr.contains(&format!("input '{input}'")) && stderr.contains(&format!("--input-shape {input}=")),
        "the error should name input '{input}' and show `--input-shape {input}=...`; stderr:\n{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "expected a one-line error; stderr:\n{stderr}");
}

fn inspect_with_input_shape(name: &str) {
    let refs = References::load(name);
    let mut args = vec!["inspect".into(), model_path(name).into_os_string()];
    args.extend(refs.shape_flags());
    let out = qcc(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "qcc inspect failed; stderr:\n{stderr}");
    let unsupported: Vec<&str> = stdout.lines().skip_while(|l| !l.starts_with("unsupported operators")).collect();
    assert_eq!(unsupported.first().copied(), Some("unsupported operators: none"), "{}", unsupported.join("\n"));
    let failed: Vec<&str> = stdout.lines().skip_while(|l| !l.starts_with("shape inference failed")).collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    let macs = total_macs(&stdout).unwrap_or_else(|| panic!("no `total: N MACs` line in:\n{stdout}"));
    assert!(macs > 0, "qcc inspect counts 0 MACs:\n{stdout}");
}

fn run_matches_onnxruntime(name: &str) {
    let refs = References::load(name);
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real_models").join(name);
    let _ = std::fs::remove_dir_all(&out_dir);
    let mut args = vec!["run".into(), model_path(name).into_os_string()];
    for input in &refs.inputs {
        args.extend(["-i".into(), input.clone().into_os_string()]);
    }
    args.extend(["-o".into(), out_dir.clone().into_os_string()]);
    args.extend(refs.shape_flags());
    let out = qcc(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    assert!(out.status.success(), "qcc run failed; stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    for (k, expected_path) in refs.expected.iter().enumerate() {
        let actual_path = out_dir.join(format!("output_{k}.npy"));
        let actual = npy::load_npy(&actual_path).unwrap_or_else(|e| panic!("output {k}: {e}"));
        let expected = npy::load_npy(expected_path).unwrap_or_else(|e| panic!("{e}"));
        if let Err(msg) = compare(&actual, &expected, RTOL, ATOL) {
            panic!("output {k} differs from onnxruntime's (rtol {RTOL}, atol {ATOL}): {msg}");
        }
    }
    let extra = out_dir.join(format!("output_{}.npy", refs.expected.len()));
    assert!(!extra.exists(), "qcc wrote more outputs than onnxruntime ({})", extra.display());
}

/// The reference data of one model, as written by make_references.py.
struct References {
    /// `NAME=d0,d1,...` per graph input, in graph-input order.
    shapes: Vec<String>,
    inputs: Vec<PathBuf>,
    expected: Vec<PathBuf>,
}

impl References {
    fn load(name: &str) -> References {
        let root = std::env::var_os("QCC_MODELS_REF").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/models-ref"));
        let dir = root.join(name);
        let shapes_file = dir.join("shapes.txt");
        let text = std::fs::read_to_string(&shapes_file).unwrap_or_else(|e| {
            panic!(
                "no reference data for model '{name}' ({}: {e}): run `python tests/models/make_references.py {}` \
                 with onnx, onnxruntime and numpy installed (scripts/test does; QCC_MODELS_REF overrides the directory)",
                shapes_file.display(),
                root.display()
            )
        });
        let shapes: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        assert!(!shapes.is_empty(), "{} lists no input", shapes_file.display());
        let inputs: Vec<PathBuf> = (0..shapes.len()).map(|k| dir.join(format!("input_{k}.npy"))).collect();
        for p in &inputs {
            assert!(p.exists(), "{} is missing: rerun make_references.py", p.display());
        }
        let expected: Vec<PathBuf> = (0..).map(|k| dir.join(format!("expected_{k}.npy"))).take_while(|p| p.exists()).collect();
        assert!(!expected.is_empty(), "no expected_0.npy in {}: rerun make_references.py", dir.display());
        References { shapes, inputs, expected }
    }

    fn input_names(&self) -> Vec<&str> {
        self.shapes.iter().map(|s| s.rsplit_once('=').map_or(s.as_str(), |(n, _)| n)).collect()
    }

    fn shape_flags(&self) -> Vec<std::ffi::OsString> {
        self.shapes.iter().flat_map(|s| ["--input-shape".into(), s.into()]).collect()
    }
}

fn models_dir() -> PathBuf {
    workspace().join("tests/models")
}

fn model_path(name: &str) -> PathBuf {
    models_dir().join(format!("{name}.onnx"))
}

fn qcc(args: &[&std::ffi::OsStr]) -> Output {
    let out = qcc_tests::cli::qcc(args);
    // Exit status 101 is a Rust panic: never acceptable, whatever the input.
    assert_ne!(out.status.code(), Some(101), "qcc panicked; stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The MAC total from `qcc inspect`'s `total: 1,234 MACs (...)` line.
fn total_macs(report: &str) -> Option<u64> {
    let line = report.lines().find_map(|l| l.trim().strip_prefix("total:"))?;
    let number = line.split_whitespace().next()?;
    number.replace(',', "").parse().ok()
}
