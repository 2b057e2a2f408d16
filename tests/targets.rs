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
use qcc_tests::cli::{expect_error, expect_success, qcc, TempDir};
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

/// A libgcc / Arm RTABI floating-point routine: what a build links when it
/// computes in float on a core without the FPU for it (`__addsf3`,
/// `__floatsisf`, `__aeabi_dmul`, `__aeabi_i2f`).
fn is_soft_float(symbol: &str) -> bool {
    if let Some(rt) = symbol.strip_prefix("__aeabi_") {
        return rt.starts_with(['f', 'd']) || rt.contains("2f") || rt.contains("2d");
    }
    let Some(body) = symbol.strip_prefix("__") else { return false };
    let ops = ["add", "sub", "mul", "div", "neg", "cmp", "eq", "ne", "lt", "le", "gt", "ge", "unord", "float", "fix", "extend", "trunc", "pow"];
    ops.iter().any(|op| body.starts_with(op)) && (body.contains("sf") || body.contains("df"))
}

/// The soft-float routines an ELF defines (that is, linked in), by the
/// target toolchain's `nm`.
fn soft_float_in(elf: &Path, nm: &str) -> Vec<String> {
    let out = std::process::Command::new(nm).arg("--defined-only").arg(elf).output().unwrap_or_else(|e| panic!("{nm}: {e}"));
    assert!(out.status.success(), "{nm} {}: {}", elf.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().last()).filter(|s| is_soft_float(s)).map(String::from).collect()
}

/// The value of `NAME = ...` or `NAME ?= ...` in a generated Makefile.
fn make_variable(makefile: &str, name: &str) -> String {
    makefile.lines().find_map(|l| l.trim().strip_prefix(name)?.trim_start().strip_prefix(['=', '?']).map(|v| v.trim_start_matches('=').trim().to_string())).unwrap_or_else(|| panic!("no {name} in the Makefile"))
}

#[test]
fn int8_code_for_microcontrollers_links_no_soft_float() {
    let tmp = TempDir::new("softfloat");
    let ws = workspace();
    let calib = ws.join("tests/quant/digits_calib.npz");
    for model in ["digits_mbv2", "digits_transformer"] {
        let onnx = ws.join(format!("tests/quant/{model}.onnx"));
        let base = ["--input-shape", "image=1,1,8,8", "--quantize", "int8", "--calibration", calib.to_str().unwrap(), "--io", "int8"];
        for target in ["cortex-m0plus", "cortex-m4", "riscv32imac"] {
            // C: the model library linked into a program that only runs it.
            let dir = tmp.path().join(format!("{model}-{target}-c"));
            let mut args = vec![onnx.to_str().unwrap(), "--target", target, "--emit", "c", "-o", dir.to_str().unwrap()];
            args.extend(base);
            expect_success(&qcc(&args));
            let makefile = std::fs::read_to_string(dir.join("Makefile")).unwrap();
            let (cc, cflags) = (make_variable(&makefile, "CC"), make_variable(&makefile, "CFLAGS"));
            std::fs::write(dir.join("main.c"), format!("#include \"{model}.h\"\nstatic int8_t in[64], out[10];\nint main(void) {{\n    {model}_run(in, out);\n    return out[0];\n}}\n")).unwrap();
            let elf = dir.join("program.elf");
            let mut cmd = std::process::Command::new(&cc);
            cmd.args(cflags.split_whitespace()).args(["-std=c99", "-ffunction-sections", "-fdata-sections", "main.c", &format!("{model}.c"), &format!("{model}_weights.c")]);
            cmd.args(["-nostartfiles", "-Wl,--entry=main", "-Wl,--gc-sections", "-o", "program.elf"]).current_dir(&dir);
            if target == "riscv32imac" {
                // picolibc's default memory is smaller than a model's arena.
                cmd.args(["-Wl,--defsym=__flash=0x80000000", "-Wl,--defsym=__flash_size=16M", "-Wl,--defsym=__ram=0x81000000", "-Wl,--defsym=__ram_size=16M"]);
            } else {
                cmd.arg("--specs=nosys.specs");
            }
            qcc_tests::harness::run(&mut cmd);
            let nm = cc.replace("gcc", "nm");
            let linked = soft_float_in(&elf, &nm);
            assert!(linked.is_empty(), "{model} int8 in C for {target} links soft-float routines: {linked:?}");
            eprintln!("{model} int8 (--io int8), C, {target}: linked with no soft-float routine");
        }
        // Rust: the whole bare-metal harness firmware.
        for target in ["cortex-m4", "riscv32imac"] {
            let dir = tmp.path().join(format!("{model}-{target}-rust"));
            let mut args = vec![onnx.to_str().unwrap(), "--target", target, "--harness", "-o", dir.to_str().unwrap()];
            args.extend(base);
            expect_success(&qcc(&args));
            let cargo_target = dir.join("target");
            qcc_tests::harness::run(std::process::Command::new("cargo").args(["build", "--release", "--quiet", "--bin", "harness"]).current_dir(&dir).env("CARGO_TARGET_DIR", &cargo_target).env_remove("RUSTFLAGS"));
            let triple = if target == "cortex-m4" { "thumbv7em-none-eabihf" } else { "riscv32imac-unknown-none-elf" };
            let nm = if target == "cortex-m4" { "arm-none-eabi-nm" } else { "riscv64-unknown-elf-nm" };
            let linked = soft_float_in(&cargo_target.join(triple).join("release/harness"), nm);
            assert!(linked.is_empty(), "{model} int8 in Rust for {target} links soft-float routines: {linked:?}");
            eprintln!("{model} int8 (--io int8), Rust harness, {target}: linked with no soft-float routine");
        }
    }
}

#[test]
fn soft_float_routines_are_recognised() {
    for s in ["__addsf3", "__floatsisf", "__fixdfsi", "__extendsfdf2", "__aeabi_dmul", "__aeabi_i2f", "__aeabi_fcmplt", "__ltsf2"] {
        assert!(is_soft_float(s), "{s}");
    }
    for s in ["__aeabi_lmul", "__aeabi_uidiv", "__aeabi_llsl", "__mulsi3", "__divdi3", "main", "__bss_start__"] {
        assert!(!is_soft_float(s), "{s}");
    }
}

/// Runs `qcc` with `args` and the given `PATH`.
fn qcc_with_path(args: &[&str], path: &Path) -> std::process::Output {
    std::process::Command::new(qcc_tests::cli::qcc_bin()).args(args).env("PATH", path).output().expect("qcc runs")
}

#[test]
fn bad_targets_features_and_missing_toolchains_get_one_clear_error() {
    let tmp = TempDir::new("target-errors");
    let ws = workspace();
    let model = ws.join("examples/digits/model.onnx");
    let (m, sample) = (model.to_str().unwrap(), ws.join("examples/digits/sample.npy"));
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    let compile = |extra: &[&str]| {
        let mut args = vec![m, "--input-shape", "image=1,1,8,8", "-o", o];
        args.extend(extra);
        qcc(&args)
    };
    expect_error(&compile(&["--target", "mips-unknown-linux-gnu"]), &["unknown target 'mips-unknown-linux-gnu'", "cortex-m4", "thumbv7em-none-eabihf", "qcc targets"]);
    expect_error(&compile(&["--target", "aarch64", "--features", "+avx2"]), &["target 'aarch64' has no feature 'avx2'", "dotprod"]);
    expect_error(&compile(&["--target", "riscv64", "--cpu", "sifive-x280"]), &["target 'riscv64' has no CPU 'sifive-x280'", "rv64gcv"]);
    expect_error(&compile(&["--target", "cortex-m0plus", "--harness"]), &["--harness needs a hosted target or a bare-metal one with an emulated board", "cortex-m0plus"]);
    // A toolchain that is not installed: what is missing and what to install.
    let empty = tmp.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let run = ["run", m, "-i", sample.to_str().unwrap(), "-o", o, "--target", "aarch64", "--emit", "c"];
    expect_error(&qcc_with_path(&run, &empty), &["running code for target 'aarch64' needs aarch64-linux-gnu-gcc", "qemu-aarch64", "install gcc-aarch64-linux-gnu"]);
    // A failing program on an emulated board: its own error, one line.
    let wrong = tmp.path().join("wrong.npy");
    npy::save_npy(&wrong, &Tensor::zeros(qcc::tensor::DType::F32, &[1, 1, 4, 4]).unwrap()).unwrap();
    let run = ["run", m, "--input-shape", "image=1,1,8,8", "-i", wrong.to_str().unwrap(), "-o", o, "--target", "cortex-m4", "--emit", "c"];
    expect_error(&qcc(&run), &["qemu-system-arm", "failed", "wrong.npy", "shape (1, 1, 8, 8)"]);
    // The generated code is not what --emit c asks for without --target.
    expect_error(&qcc(&["run", m, "-i", sample.to_str().unwrap(), "-o", o, "--emit", "c"]), &["--target"]);
}

/// The bare-metal examples: `examples/firmware/run.sh BOARD` builds the
/// firmware (the int8 digits model, weights in flash, and main.c) and runs
/// it under QEMU, which shows the digit it prints.
#[test]
fn the_firmware_examples_run_and_print_the_digit() {
    let script = workspace().join("examples/firmware/run.sh");
    for target in ["cortex-m4", "riscv32imac"] {
        let out = std::process::Command::new(&script).arg(target).env("QCC", qcc_tests::cli::qcc_bin()).output().expect("run.sh runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{target}: run.sh failed ({}):\n{text}", out.status);
        assert!(text.contains("digit 7 (int8 model:"), "{target}: the firmware printed\n{text}");
        eprintln!("{target}: {}", text.trim());
    }
}
