//! int8 quantization end to end, through the real `qcc` binary: accuracy of
//! the trained models against float, generated Rust and C against the
//! integer oracle bit for bit (trained models and one random case per
//! kernel), and no floating-point operation with `--io int8`.
//!
//! The kernel cases come from `tests/quant/make_kernel_cases.py`
//! (`target/quant-cases`, or `QCC_QUANT_CASES`), the models quantized by
//! onnxruntime with its outputs from `tests/quant/make_qdq_references.py`
//! (`target/quant-qdq`, or `QCC_QUANT_QDQ`).

use qcc::tensor::{npy, Tensor};
use qcc_tests::cli::{expect_success, qcc, TempDir};
use qcc_tests::harness::{self, run, Built};
use qcc_tests::{float_users, workspace};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The trained test models (tests/quant/train.py).
const TRAINED: [&str; 4] = ["digits_cnn.onnx", "digits_mbv2.onnx", "digits_transformer.onnx", "digits_mbv1_skewed.onnx"];

fn models_dir() -> PathBuf {
    workspace().join("tests/quant")
}

fn qdq_dir() -> PathBuf {
    std::env::var_os("QCC_QUANT_QDQ").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/quant-qdq"))
}

fn cases_dir() -> PathBuf {
    std::env::var_os("QCC_QUANT_CASES").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/quant-cases"))
}

/// `qcc ARGS`, asserting success; returns stdout.
#[track_caller]
fn qcc_ok(args: &[&str]) -> String {
    expect_success(&qcc(args))
}

fn top1(logits: &Tensor, labels: &Tensor) -> f64 {
    let l = logits.to_f64_vec().unwrap();
    let y = labels.to_i64_vec().unwrap();
    let classes = l.len() / y.len();
    let hits = y
        .iter()
        .enumerate()
        .filter(|&(i, &label)| {
            let row = &l[i * classes..(i + 1) * classes];
            let best = (0..classes).fold(0, |b, k| if row[k] > row[b] { k } else { b });
            best as i64 == label
        })
        .count();
    100.0 * hits as f64 / y.len() as f64
}

fn array(path: &Path, name: &str) -> Tensor {
    npy::load_npz(path).unwrap().into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} in {}", path.display())).1
}

/// The logits of `model` on the digits test set, float or int8 with
/// `extra` options, and what `qcc run` printed on stderr (the summary).
fn logits(model: &str, extra: &[&str]) -> (Tensor, String) {
    logits_at(model, "int8", extra)
}

/// [`logits`] quantized at `precision` (`--quantize`) when `extra` is not
/// empty.
fn logits_at(model: &str, precision: &str, extra: &[&str]) -> (Tensor, String) {
    let dir = models_dir();
    let tmp = TempDir::new("acc");
    let (m, test, calib) = (dir.join(model), dir.join("digits_test.npz"), dir.join("digits_calib.npz"));
    let mut args = vec!["run", m.to_str().unwrap(), "--dataset", test.to_str().unwrap(), "-o", tmp.path().to_str().unwrap()];
    if !extra.is_empty() {
        args.extend(["--quantize", precision, "--calibration", calib.to_str().unwrap()]);
        args.extend(extra);
    }
    let out = qcc(&args);
    expect_success(&out);
    (array(&tmp.path().join("outputs.npz"), "logits"), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The number after `after` in a summary line.
fn number(line: &str, after: &str) -> f64 {
    line.split(after).nth(1).and_then(|r| r.trim_start().split([' ', ';', ')', '%']).next()).and_then(|x| x.parse().ok()).unwrap_or_else(|| panic!("no '{after}' in {line}"))
}

/// Top-1 of `model` on the digits test set, float or quantized with `extra` options.
fn accuracy(model: &str, extra: &[&str]) -> f64 {
    top1(&logits(model, extra).0, &array(&models_dir().join("digits_test.npz"), "label"))
}

/// SQNR in dB of `got` against `reference`.
fn sqnr(reference: &Tensor, got: &Tensor) -> f64 {
    let (r, g) = (reference.to_f64_vec().unwrap(), got.to_f64_vec().unwrap());
    let signal: f64 = r.iter().map(|x| x * x).sum();
    let noise: f64 = r.iter().zip(&g).map(|(x, y)| (x - y) * (x - y)).sum();
    10.0 * (signal / noise).log10()
}

#[test]
fn cross_layer_equalization_rescues_a_depthwise_net_with_skewed_channels() {
    let model = "digits_mbv1_skewed.onnx";
    let float = accuracy(model, &[]);
    let without = accuracy(model, &["--per-tensor", "--no-equalize"]);
    let tmp = TempDir::new("cle");
    // A directory that does not exist yet: the report creates it.
    let report = tmp.path().join("reports/report.md");
    let (with, summary) = logits(model, &["--per-tensor", "--report", report.to_str().unwrap()]);
    let with = top1(&with, &array(&models_dir().join("digits_test.npz"), "label"));
    let (md, json) = (std::fs::read_to_string(&report).unwrap(), std::fs::read_to_string(report.with_extension("json")).unwrap());
    assert!(md.contains("- cross-layer equalization applied (7 pairs of layers"), "{md}");
    assert!(json.contains("\"equalization\":{\"pairs\":7,\"applied\":true,"), "{json}");
    // Per-layer SQNR is measured against the equalized float model, whose
    // activations between the pairs are rescaled per channel.
    for row in md.lines().filter(|l| l.contains("| IntConv |")) {
        let sqnr: f64 = row.split('|').map(str::trim).nth(9).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no SQNR in {row}"));
        assert!(sqnr > 20.0, "{row}");
    }
    let html = std::fs::read_to_string(report.with_extension("html")).unwrap();
    assert!(html.contains("<h2>SQNR against float (dB)</h2>") && html.matches("<rect").count() >= 7, "{html}");
    eprintln!("{model}: float {float:.2}%, per-tensor int8 {with:.2}% with equalization, {without:.2}% without");
    assert!(without < float - 20.0, "the skewed channels should break per-tensor int8 without equalization: {without:.2}% vs float {float:.2}%");
    assert!(with >= float - 1.5, "equalized per-tensor int8 {with:.2}% vs float {float:.2}%");
    assert!(summary.contains("cross-layer equalization applied (7 pairs of layers"), "{summary}");
}

/// `--quantize auto` on the transformer, whose all-int8 outputs miss 38 dB
/// (plus the search's 1 dB margin) on the calibration samples: the summary's
/// measured SQNR meets the target with some values raised (16x8 or float)
/// and some MACs still int8, and the held-out outputs keep the SQNR
/// (within 2 dB) and float's accuracy.
#[test]
fn quantize_auto_raises_the_costliest_values_until_the_target_sqnr() {
    let model = "digits_transformer.onnx";
    let (float, _) = logits(model, &[]);
    let dir = models_dir();
    let tmp = TempDir::new("auto");
    let (m, test, calib) = (dir.join(model), dir.join("digits_test.npz"), dir.join("digits_calib.npz"));
    let out = qcc(&[
        "run", m.to_str().unwrap(), "--dataset", test.to_str().unwrap(), "-o", tmp.path().to_str().unwrap(),
        "--quantize", "auto", "--min-sqnr", "38", "--calibration", calib.to_str().unwrap(),
    ]);
    expect_success(&out);
    let summary = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = summary.lines().find(|l| l.trim_start().starts_with("auto: output SQNR")).unwrap_or_else(|| panic!("no auto line in\n{summary}"));
    let (reached, all_int8, wide, int8_macs) = (number(line, "output SQNR"), number(line, "all int8"), number(line, "); "), number(line, "MACs"));
    let auto = array(&tmp.path().join("outputs.npz"), "logits");
    let labels = array(&dir.join("digits_test.npz"), "label");
    let held_out = sqnr(&float, &auto);
    eprintln!("{summary}held-out logits SQNR {held_out:.1} dB; top-1 float {:.2}%, auto {:.2}%", top1(&float, &labels), top1(&auto, &labels));
    assert!(all_int8 < 39.0, "all-int8 should miss the goal here: {line}");
    assert!(reached >= 39.0 && wide >= 1.0 && int8_macs > 0.0, "{line}");
    assert!(held_out >= 36.0, "held-out SQNR {held_out:.1} dB ({line})");
    assert!(top1(&auto, &labels) >= top1(&float, &labels) - 0.5);
    assert!(summary.contains("16x8 by --quantize auto"), "{summary}");
}

/// Models that `--quantize auto` computes partly in int8, partly in 16x8
/// (int16 activations, IntConvert where int8 and int16 layers meet), with
/// no float operator between them (float ones may round a code apart,
/// NUMERICS.md): the generated Rust and C reproduce the oracle exactly.
#[test]
fn mixed_int8_16x8_models_match_the_oracle_bit_for_bit_in_rust_and_c() {
    let dir = models_dir();
    let (test, calib) = (dir.join("digits_test.npz"), dir.join("digits_calib.npz"));
    for (model, min_sqnr) in [("digits_cnn.onnx", "40.5"), ("digits_mbv2.onnx", "36")] {
        let flags = ["--input-shape", "image=1,1,8,8", "--quantize", "auto", "--min-sqnr", min_sqnr, "--calibration", calib.to_str().unwrap()];
        let tmp = TempDir::new("mixed");
        let m = dir.join(model);
        let mut args = vec!["run", m.to_str().unwrap(), "--dataset", test.to_str().unwrap(), "-o", tmp.path().to_str().unwrap()];
        args.extend(flags);
        let out = qcc(&args);
        expect_success(&out);
        let summary = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(summary.contains("  16x8: ") && !summary.contains("  float: "), "{model}: not int8 and 16x8 alone\n{summary}");
        check_bit_exact(&m, &test, &flags, 12, "mixed");
    }
}

#[test]
fn min_sqnr_needs_quantize_auto() {
    let m = models_dir().join("digits_mbv2.onnx");
    let tmp = TempDir::new("min-sqnr");
    let out = qcc(&[m.to_str().unwrap(), "-o", tmp.path().to_str().unwrap(), "--quantize", "int8", "--min-sqnr", "30"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--min-sqnr applies to --quantize auto"), "{out:?}");
}

#[test]
fn correct_layers_needs_calibration_data() {
    let m = models_dir().join("digits_mbv2.onnx");
    let tmp = TempDir::new("correct-layers");
    let out = qcc(&[m.to_str().unwrap(), "-o", tmp.path().to_str().unwrap(), "--quantize", "int8", "--correct-layers"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--correct-layers measures the layers against float on calibration data"), "{out:?}");
}

/// The layer-by-layer output correction (on by default) on per-tensor
/// int8, where rounding activations to one grid per tensor shifts the
/// narrow channels most: the summary reports what it did, it is kept only
/// when, fitted on half the calibration samples, it raises the output SQNR
/// on the other half, `--no-correct-layers` turns it off, and the
/// generated Rust and C compute what the oracle does with the corrected
/// constants.
#[test]
fn layer_correction_is_reported_and_bit_exact_in_rust_and_c() {
    let dir = models_dir();
    let model = "digits_mbv1_skewed.onnx";
    let float = logits(model, &[]).0;
    let (plain, plain_summary) = logits(model, &["--per-tensor", "--no-correct-layers"]);
    assert!(!plain_summary.contains("output correction"), "{plain_summary}");
    let (corrected, summary) = logits(model, &["--per-tensor"]);
    let line = summary.lines().find(|l| l.contains("output correction")).unwrap_or_else(|| panic!("no correction line:\n{summary}"));
    let (with, without) = (number(line, "others "), number(line, "with, "));
    eprintln!("{model}: {line}; held-out logit SQNR {:.1} dB corrected, {:.1} dB plain", sqnr(&float, &corrected), sqnr(&float, &plain));
    assert_eq!(line.contains("output correction applied"), with > without, "{line}");
    assert!(line.contains(" layers matched to float; fitted on 8 calibration samples, output SQNR on 8 others"), "{line}");
    let calib = dir.join("digits_calib.npz");
    let flags = ["--input-shape", "image=1,1,8,8", "--quantize", "int8", "--per-tensor", "--calibration", calib.to_str().unwrap()];
    check_bit_exact(&dir.join(model), &dir.join("digits_test.npz"), &flags, 12, "corrected");
}

/// With `--quantize auto` the layer correction runs only when asked for
/// (`--correct-layers`): the search changes layers' precision, which a
/// correction fitted with every layer int8 does not follow.
#[test]
fn layer_correction_is_opt_in_for_quantize_auto() {
    let summary = |extra: &[&str]| logits_at("digits_mbv1_skewed.onnx", "auto", extra).1;
    let plain = summary(&["--per-tensor"]);
    assert!(!plain.contains("output correction"), "{plain}");
    let asked = summary(&["--per-tensor", "--correct-layers"]);
    let line = asked.lines().find(|l| l.contains("output correction")).unwrap_or_else(|| panic!("no correction line:\n{asked}"));
    assert!(line.contains("layers matched to float; fitted on 2 calibration samples, output SQNR on 2 others"), "{line}");
}

#[test]
fn bias_correction_raises_the_output_sqnr() {
    for model in ["digits_mbv2.onnx", "digits_mbv1_skewed.onnx"] {
        let float = logits(model, &[]).0;
        // Without the layer correction, which would mend the same shifts.
        let with = sqnr(&float, &logits(model, &["--per-tensor", "--no-correct-layers"]).0);
        let without = sqnr(&float, &logits(model, &["--per-tensor", "--no-bias-correction", "--no-correct-layers"]).0);
        eprintln!("{model}: per-tensor logit SQNR {with:.1} dB with bias correction, {without:.1} dB without");
        assert!(with > without + 0.5, "{model}: {with:.1} dB with bias correction, {without:.1} dB without");
    }
}

#[test]
fn int8_accuracy_is_within_half_a_point_of_float_per_channel_and_one_and_a_half_per_tensor() {
    for model in TRAINED {
        let float = accuracy(model, &[]);
        for method in ["minmax", "percentile", "mse", "entropy"] {
            let per_channel = accuracy(model, &["--calibrate", method]);
            let per_tensor = accuracy(model, &["--calibrate", method, "--per-tensor"]);
            eprintln!("{model} {method}: float {float:.2}%, int8 per-channel {per_channel:.2}%, per-tensor {per_tensor:.2}%");
            assert!(per_channel >= float - 0.5, "{model} {method}: per-channel int8 {per_channel:.2}% vs float {float:.2}%");
            assert!(per_tensor >= float - 1.5, "{model} {method}: per-tensor int8 {per_tensor:.2}% vs float {float:.2}%");
        }
    }
}

/// Compiles `model` to Rust and C with `flags`, builds both harnesses (the
/// C under AddressSanitizer and UBSan).
fn build(model: &Path, flags: &[&str], dir: &Path, tag: &str) -> Built {
    // One target directory per test: parallel tests build harnesses of the same name.
    let target = workspace().join("target/quant-builds").join(tag);
    let cflags = "CFLAGS=-O1 -g -Werror -fsanitize=address,undefined -fno-sanitize-recover=all";
    harness::build(model, flags, dir, &target, &[cflags, "LDFLAGS=-fsanitize=address,undefined"])
}

/// Runs a harness on the inputs, returns output 0.
fn run_harness(harness: &Path, inputs: &[PathBuf], dir: &Path) -> Tensor {
    harness::run_harness(harness, inputs, dir).swap_remove(0)
}

/// Row `i` of a stacked array.
fn row(t: &Tensor, i: usize) -> Tensor {
    let per = t.len() / t.shape()[0];
    let v = t.to_f64_vec().unwrap()[i * per..(i + 1) * per].to_vec();
    let shape = &t.shape()[1..];
    match t.dtype() {
        qcc::tensor::DType::I8 => Tensor::from_vec(shape, v.into_iter().map(|x| x as i8).collect()).unwrap(),
        _ => Tensor::from_vec(shape, v.into_iter().map(|x| x as f32).collect()).unwrap(),
    }
}

/// Compiles `model` with `flags` and checks that the Rust and C harnesses
/// reproduce `qcc run` (the oracle) exactly on every sample of `data`.
fn check_bit_exact(model: &Path, data: &Path, flags: &[&str], samples: usize, tag: &str) {
    check_generated(model, data, flags, samples, tag, 0.0);
}

/// Like [`check_bit_exact`], with outputs within `tolerance` of the
/// interpreter's (0: identical).
fn check_generated(model: &Path, data: &Path, flags: &[&str], samples: usize, tag: &str, tolerance: f64) {
    let tmp = TempDir::new("exact");
    let built = build(model, flags, tmp.path(), tag);
    let oracle_dir = tmp.path().join("oracle");
    let mut args = vec!["run", model.to_str().unwrap(), "--dataset", data.to_str().unwrap(), "-o", oracle_dir.to_str().unwrap()];
    args.extend(flags);
    qcc_ok(&args);
    let oracle = npy::load_npz(&oracle_dir.join("outputs.npz")).unwrap().remove(0).1;
    let arrays = npy::load_npz(data).unwrap();
    let graph_inputs = qcc::front::onnx::load(model).unwrap();
    let n = samples.min(oracle.shape()[0]);
    for i in 0..n {
        let mut files = Vec::new();
        for &id in &graph_inputs.inputs {
            let name = &graph_inputs.value(id).name;
            let t = &arrays.iter().find(|(a, _)| a == name).unwrap().1;
            let mut sample = row(t, i);
            if t.rank() == graph_inputs.ty(id).unwrap().shape.rank().unwrap_or(0) {
                let mut shape = vec![1];
                shape.extend(sample.shape());
                sample = sample.reshape(&shape).unwrap();
            }
            let path = tmp.path().join(format!("{name}_{i}.npy"));
            npy::save_npy(&path, &sample).unwrap();
            files.push(path);
        }
        let want = row(&oracle, i);
        for (lang, h) in [("Rust", &built.rust), ("C", &built.c)] {
            let got = run_harness(h, &files, tmp.path());
            let got = got.reshape(want.shape()).unwrap();
            if tolerance == 0.0 {
                assert_eq!(got, want, "{}: {lang} differs from the oracle on sample {i}", model.display());
            } else {
                let worst = got.to_f64_vec().unwrap().iter().zip(want.to_f64_vec().unwrap()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                assert!(worst <= tolerance, "{}: {lang} is {worst} from the interpreter on sample {i}", model.display());
            }
        }
    }
}

#[test]
fn every_kernel_case_matches_the_oracle_bit_for_bit_in_rust_and_c() {
    let dir = cases_dir();
    let list = std::fs::read_to_string(dir.join("CASES")).unwrap_or_else(|e| panic!("{}: {e}; run tests/quant/make_kernel_cases.py", dir.display()));
    let mut count = 0;
    for case in list.lines().filter(|l| !l.is_empty()) {
        let calib = dir.join(format!("{case}_calib.npz"));
        let flags = ["--quantize", "int8", "--calibration", calib.to_str().unwrap(), "--io", "int8"];
        // Every kernel case is integer from input to output.
        let tmp = TempDir::new("whole");
        let (model, codes) = (dir.join(format!("{case}.onnx")), dir.join(format!("{case}_codes.npz")));
        let mut args = vec!["run", model.to_str().unwrap(), "--dataset", codes.to_str().unwrap(), "-o", tmp.path().to_str().unwrap()];
        args.extend(flags);
        let out = qcc(&args);
        expect_success(&out);
        let summary = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(summary.contains(", 0 left in float"), "{case}: {summary}");
        // An elementwise chain on one input is one table.
        if case.starts_with("chain_") {
            assert!(summary.starts_with("quantized: 1 integer operators"), "{case}: {summary}");
        }
        check_bit_exact(&dir.join(format!("{case}.onnx")), &dir.join(format!("{case}_codes.npz")), &flags, 8, "kernels");
        count += 1;
    }
    eprintln!("{count} kernel cases bit-exact in Rust and C");
    assert!(count >= 49, "only {count} kernel cases");
}

#[test]
fn trained_models_match_the_oracle_bit_for_bit_in_rust_and_c() {
    let dir = models_dir();
    let (test, calib) = (dir.join("digits_test.npz"), dir.join("digits_calib.npz"));
    for model in TRAINED {
        for rounding in ["double", "single"] {
            let flags = ["--input-shape", "image=1,1,8,8", "--quantize", "int8", "--calibration", calib.to_str().unwrap(), "--rounding", rounding];
            check_bit_exact(&dir.join(model), &test, &flags, 12, "trained");
        }
    }
}

/// Compiles the trained `model` quantized on the digits calibration set,
/// with `extra` options, into `out`; returns stdout.
fn compile_trained(model: &str, extra: &[&str], out: &Path) -> String {
    let dir = models_dir();
    let (m, calib) = (dir.join(model), dir.join("digits_calib.npz"));
    let mut args = vec![m.to_str().unwrap(), "--input-shape", "image=1,1,8,8", "--quantize", "int8", "--calibration", calib.to_str().unwrap()];
    args.extend(extra);
    args.extend(["-o", out.to_str().unwrap()]);
    qcc_ok(&args)
}

#[test]
fn int8_io_compiles_to_code_without_floating_point() {
    // The transformer too: attention, softmax and layer normalization on codes.
    for (model, io, float_free) in [("digits_mbv2", "int8", true), ("digits_mbv2", "float", false), ("digits_transformer", "int8", true)] {
        let tmp = TempDir::new("nofloat");
        let out = tmp.path().join("c");
        let stdout = compile_trained(&format!("{model}.onnx"), &["--io", io, "--emit", "c"], &out);
        // gcc refuses any float or vector register use under -mgeneral-regs-only.
        let status = Command::new("cc")
            .args(["-O2", "-std=c99", "-mgeneral-regs-only", "-c", &format!("{model}.c"), "-o", "model.o"])
            .current_dir(&out)
            .output()
            .unwrap();
        assert_eq!(status.status.success(), float_free, "{model} --io {io}: {}\n{stdout}", String::from_utf8_lossy(&status.stderr));
        // With int8 I/O the caller gets the scale and zero point of each.
        let header = std::fs::read_to_string(out.join(format!("{model}.h"))).unwrap();
        for name in ["IMAGE_SCALE", "IMAGE_ZERO_POINT", "LOGITS_SCALE", "LOGITS_ZERO_POINT"] {
            let name = format!("{}_{name}", model.to_uppercase());
            assert_eq!(header.contains(&format!("#define {name} ")), float_free, "{name} in the header of --io {io}");
        }
    }
}

#[test]
fn int8_io_rust_for_a_core_without_fpu_uses_no_floating_point() {
    for (model, io, float_free) in [("digits_mbv2", "int8", true), ("digits_mbv2", "float", false), ("digits_transformer", "int8", true)] {
        let tmp = TempDir::new("nofpu");
        let out = tmp.path().join("rust");
        compile_trained(&format!("{model}.onnx"), &["--io", io, "--target", "cortex-m0plus"], &out);
        let target = tmp.path().join("target");
        run(Command::new("cargo")
            .args(["rustc", "--release", "--quiet", "--lib", "--target", "thumbv6m-none-eabi", "--", "--emit=llvm-ir"])
            .current_dir(&out)
            .env("CARGO_TARGET_DIR", &target));
        let deps = target.join("thumbv6m-none-eabi/release/deps");
        let ll = std::fs::read_dir(&deps).unwrap().filter_map(|e| e.ok().map(|e| e.path())).find(|p| p.extension().is_some_and(|x| x == "ll")).unwrap();
        let (reached, users) = float_users(&std::fs::read_to_string(&ll).unwrap(), "5Model3run");
        eprintln!("{model} --io {io}: {reached} functions reachable from Model::run, {} touch floats", users.len());
        assert_eq!(users.is_empty(), float_free, "{model} --io {io}: float in {users:?}");
    }
}

#[test]
fn the_report_lists_every_layer_with_its_parameters_and_sqnr() {
    let tmp = TempDir::new("report");
    let report = tmp.path().join("report.md");
    compile_trained("digits_transformer.onnx", &["--report", report.to_str().unwrap()], &tmp.path().join("out"));
    let md = std::fs::read_to_string(&report).unwrap();
    let json = std::fs::read_to_string(tmp.path().join("report.json")).unwrap();
    assert!(md.contains("RAM (arena)") && md.contains("over 200 calibration samples"), "{md}");
    // Every integer matrix product has a scale, a zero point and an SQNR well above noise.
    let rows: Vec<&str> = md.lines().filter(|l| l.contains("| IntConv |")).collect();
    assert_eq!(rows.len(), 8, "{md}");
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let sqnr: f64 = cells[9].parse().unwrap_or_else(|_| panic!("no SQNR in {row}"));
        assert!(sqnr > 20.0, "{row}");
        assert!(cells[7].parse::<f64>().is_ok() && cells[8].parse::<i32>().is_ok(), "{row}");
    }
    // Nothing of the transformer is left in float: both LayerNormalizations are integer.
    assert_eq!(md.lines().filter(|l| l.contains("| IntLayerNorm |")).count(), 2, "{md}");
    assert!(md.contains("- operators: ") && md.contains(", 0 left in float)") && !md.contains("## Left in float"), "{md}");
    assert!(json.starts_with("{\"flash_bytes\":") && json.contains("\"sqnr_db\":") && json.trim_end().ends_with('}'), "{json}");
    assert!(json.contains("\"float_nodes\":[]"), "{json}");
    // A model with a node left in float lists it with the reason:
    // onnxruntime's QDQ CNN leaves its input scaling (/Div) unquantized.
    let qdq = qdq_dir().join("digits_cnn_qdq_s8.onnx");
    let report = tmp.path().join("qdq.md");
    qcc_ok(&[qdq.to_str().unwrap(), "--quantize", "int8", "--report", report.to_str().unwrap(), "-o", tmp.path().join("qdq").to_str().unwrap()]);
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains(", 1 left in float)") && md.contains("## Left in float\n\n- `/Div` (Div): not quantized in the model"), "{md}");
}

#[test]
fn onnxruntime_qdq_models_compile_with_their_own_scales_and_agree_within_one_lsb() {
    let dir = qdq_dir();
    let list = std::fs::read_to_string(dir.join("CASES")).unwrap_or_else(|e| panic!("{}: {e}; run tests/quant/make_qdq_references.py", dir.display()));
    let test = models_dir().join("digits_test.npz");
    let mut count = 0;
    for case in list.lines().filter(|l| !l.is_empty()) {
        let model = dir.join(format!("{case}.onnx"));
        let reference = dir.join(format!("{case}_ref.npz"));
        let tmp = TempDir::new("qdq");
        // No calibration data: the model's QDQ pairs give the scales.
        let out = qcc(&["run", model.to_str().unwrap(), "--dataset", test.to_str().unwrap(), "--quantize", "int8", "-o", tmp.path().to_str().unwrap()]);
        let stdout = expect_success(&out);
        let summary = String::from_utf8_lossy(&out.stderr).into_owned();
        let ours = array(&tmp.path().join("outputs.npz"), "logits").to_f64_vec().unwrap();
        let theirs = array(&reference, "logits").to_f64_vec().unwrap();
        let lsb = array(&reference, "scale").to_f64_vec().unwrap()[0];
        assert_eq!(ours.len(), theirs.len(), "{case}\n{stdout}");
        let within = ours.iter().zip(&theirs).filter(|(a, b)| (*a - *b).abs() <= lsb * 1.001).count();
        let share = 100.0 * within as f64 / ours.len() as f64;
        eprintln!("{case}: {share:.2}% of {} outputs within 1 LSB of onnxruntime", ours.len());
        assert!(share >= 99.0, "{case}: only {share:.2}% of outputs within 1 LSB ({lsb}) of onnxruntime");
        if case.contains("_qop_") {
            // QOperator form (QLinearConv, com.microsoft QGemm, QLinearAdd,
            // QLinearGlobalAveragePool): integer throughout but for the
            // input scaling, which onnxruntime leaves in float.
            assert!(summary.contains(", 1 left in float") && summary.contains("float: '/Div' (Div): not quantized in the model"), "{case}: {summary}");
        }
        // The generated code reproduces the oracle on these models too.
        check_bit_exact(&model, &test, &["--quantize", "int8"], 6, "qdq");
        count += 1;
    }
    assert!(count >= 9, "only {count} QDQ/QOperator models");
}

#[test]
fn onnxruntime_dynamically_quantized_models_compile_and_agree_with_onnxruntime() {
    let dir = qdq_dir();
    let list = std::fs::read_to_string(dir.join("DYNAMIC")).unwrap_or_else(|e| panic!("{}: {e}; run tests/quant/make_qdq_references.py", dir.display()));
    let test = models_dir().join("digits_test.npz");
    let mut count = 0;
    for case in list.lines().filter(|l| !l.is_empty()) {
        let model = dir.join(format!("{case}.onnx"));
        let tmp = TempDir::new("dynamic");
        // DynamicQuantizeLinear, ConvInteger and MatMulInteger run as they are.
        qcc_ok(&["run", model.to_str().unwrap(), "--dataset", test.to_str().unwrap(), "-o", tmp.path().to_str().unwrap()]);
        let ours = array(&tmp.path().join("outputs.npz"), "logits");
        let theirs = array(&dir.join(format!("{case}_ref.npz")), "logits");
        let (a, b) = (ours.to_f64_vec().unwrap(), theirs.to_f64_vec().unwrap());
        assert_eq!(a.len(), b.len(), "{case}");
        let close = a.iter().zip(&b).filter(|(x, y)| (*x - *y).abs() <= 1e-4).count();
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        let share = 100.0 * close as f64 / a.len() as f64;
        eprintln!("{case}: {share:.2}% of {} logits within 1e-4 of onnxruntime, worst {worst:.2e}", a.len());
        // Float rounding before a DynamicQuantizeLinear can move a code by one.
        assert!(share >= 99.0 && worst <= 0.1, "{case}: {share:.2}% within 1e-4 of onnxruntime, worst {worst}");
        let labels = array(&test, "label");
        assert_eq!(top1(&ours, &labels), top1(&theirs, &labels), "{case}: top-1 differs from onnxruntime's");
        check_generated(&model, &test, &[], 6, "dynamic", 1e-4);
        // It has no static scales to quantize with: one clear error.
        let out = qcc(&["run", model.to_str().unwrap(), "--dataset", test.to_str().unwrap(), "--quantize", "int8", "-o", tmp.path().to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("dynamically quantized"), "{case}: {stderr}");
        count += 1;
    }
    assert!(count >= 2, "only {count} dynamically quantized models");
}

/// A float32 tensor with `n` values from a fixed linear congruential
/// sequence, uniform in `[-range, range)`.
fn pseudo_random(n: usize, seed: u64, range: f32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * range
        })
        .collect()
}

/// A Sigmoid feeding com.microsoft DynamicQuantizeLSTM (bidirectional,
/// 12 steps, batch 2, input 8, hidden 16), which quantizes its input and,
/// before every step, its hidden state at run time: the generated code
/// must give the interpreter's float values bit for bit, or an ulp can
/// move a code across a rounding boundary and grow from there (as it did
/// in ddddocr's common_old.onnx). Both the Sigmoid and the LSTM gates are
/// computed in f64 and rounded once; float32 arithmetic differs from that
/// by an ulp on a good share of these values.
#[test]
fn float_operators_around_dynamic_quantization_match_the_interpreter_bit_for_bit_in_rust_and_c() {
    use qcc_tests::model::{attr_int, attr_string, bytes, f32_info, model, node, opset, tensor_f32, tensor_i8, with};
    let (seq, batch, input, hidden) = (12i64, 2i64, 8i64, 16i64);
    let gates = 4 * hidden;
    let codes = |n: i64, seed: u64| -> Vec<i8> { pseudo_random(n as usize, seed, 127.0).iter().map(|&v| v as i8).collect() };
    let mut lstm = node(
        "DynamicQuantizeLSTM",
        "lstm",
        &["s", "w", "r", "b", "", "", "", "", "w_scale", "w_zero", "r_scale", "r_zero"],
        &["y"],
    );
    lstm.domain = "com.microsoft".to_string();
    let lstm = with(with(lstm, attr_string("direction", "bidirectional")), attr_int("hidden_size", hidden));
    let mut m = model(
        vec![node("Sigmoid", "sigmoid", &["x"], &["s"]), lstm],
        vec![f32_info("x", &[seq, batch, input])],
        vec![f32_info("s", &[seq, batch, input]), f32_info("y", &[seq, 2, batch, hidden])],
        vec![
            tensor_i8("w", &[2, input, gates], &codes(2 * input * gates, 1)),
            tensor_i8("r", &[2, hidden, gates], &codes(2 * hidden * gates, 2)),
            tensor_f32("b", &[2, 2 * gates], &pseudo_random((4 * gates) as usize, 3, 0.5)),
            tensor_f32("w_scale", &[2], &[0.011, 0.013]),
            tensor_i8("w_zero", &[2], &[0, 0]),
            tensor_f32("r_scale", &[2], &[0.009, 0.012]),
            tensor_i8("r_zero", &[2], &[0, 0]),
        ],
    );
    m.opset_import.push(opset("com.microsoft", 1));
    let tmp = TempDir::new("dynamic-float");
    let model_path = tmp.path().join("sigmoid_dynamic_lstm.onnx");
    std::fs::write(&model_path, bytes(&m)).unwrap();
    let x = Tensor::from_vec(&[seq as usize, batch as usize, input as usize], pseudo_random((seq * batch * input) as usize, 4, 6.0)).unwrap();
    let x_path = tmp.path().join("x.npy");
    npy::save_npy(&x_path, &x).unwrap();
    let oracle = tmp.path().join("oracle");
    qcc_ok(&["run", model_path.to_str().unwrap(), "-i", x_path.to_str().unwrap(), "-o", oracle.to_str().unwrap()]);
    let want: Vec<Tensor> = (0..2).map(|k| npy::load_npy(&oracle.join(format!("output_{k}.npy"))).unwrap()).collect();
    let built = build(&model_path, &[], &tmp.path().join("code"), "dynamic-float");
    let mut failures = Vec::new();
    for (lang, h) in [("Rust", &built.rust), ("C", &built.c)] {
        let got = harness::run_harness(h, std::slice::from_ref(&x_path), tmp.path());
        assert_eq!(got.len(), 2, "{lang}: the harness wrote {} outputs", got.len());
        for ((g, w), output) in got.iter().zip(&want).zip(["s (Sigmoid)", "y (DynamicQuantizeLSTM)"]) {
            let (a, b) = (g.to_f64_vec().unwrap(), w.to_f64_vec().unwrap());
            let differ = a.iter().zip(&b).filter(|(p, q)| p != q).count();
            if differ > 0 {
                failures.push(format!("{lang}: {differ} of {} values of {output}", b.len()));
            }
        }
    }
    assert!(failures.is_empty(), "differ from the interpreter: {}", failures.join("; "));
}
