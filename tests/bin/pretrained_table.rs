//! The pretrained-model table: a measurement, not a test. For every model of
//! the suite (or those named on the command line) and every quantization
//! variant — float, int8 with the default calibration, each fixed method
//! (minmax, percentile, mse, entropy) and `--quantize auto` when qcc has
//! it — prints one Markdown row: the model's quality metric against
//! onnxruntime's float outputs on the held-out set, the output SQNR against
//! them, the MACs that run in int8, in 16x8 and in float (from `--report`'s
//! JSON; `qcc inspect` for the float model), the flash bytes and the
//! compile time of `qcc MODEL -o DIR`. A variant qcc cannot run shows its
//! error instead.
//!
//!     scripts/pretrained-table [--ci] [MODEL ...]
//!
//! uses every test sample (the CI tier's subsets with `--ci`) and the data
//! of target/pretrained (or `QCC_PRETRAINED_DIR`), as the test suite does.

use qcc_tests::cli::{qcc, TempDir};
use qcc_tests::pretrained::{quality, sqnr, Suite, Tier, METHODS, MODELS};
use std::path::Path;
use std::time::Instant;

/// One variant: its name and the flags after `--calibration DATA` (None: float).
fn variants() -> Vec<(String, Option<Vec<&'static str>>)> {
    let mut v = vec![("float".to_string(), None), ("int8 (default)".to_string(), Some(vec!["--quantize", "int8"]))];
    for m in METHODS {
        v.push((format!("int8 {m}"), Some(vec!["--quantize", "int8", "--calibrate", m])));
    }
    v.push(("auto".to_string(), Some(vec!["--quantize", "auto"])));
    v
}

/// MACs in int8, 16x8 and float from a `--report` JSON: integer operators
/// (`Int*`) by the element type of their output, everything else float.
fn report_macs(json: &str) -> (u64, u64, u64) {
    let (mut int8, mut i16, mut float) = (0, 0, 0);
    for layer in json.split("{\"name\":").skip(1) {
        let field = |key: &str| layer.split(&format!("\"{key}\":")).nth(1).map(|r| r.trim_start_matches('"').split(['"', ',']).next().unwrap_or("").to_string());
        let macs: u64 = field("macs").and_then(|m| m.parse().ok()).unwrap_or(0);
        let (op, dtype) = (field("op").unwrap_or_default(), field("dtype").unwrap_or_default());
        match (op.starts_with("Int"), dtype.as_str()) {
            (true, "int16" | "uint16") => i16 += macs,
            (true, _) => int8 += macs,
            (false, _) => float += macs,
        }
    }
    (int8, i16, float)
}

/// The number after `label` on a line of `text` (digits with commas).
fn number_after(text: &str, label: &str) -> Option<u64> {
    let rest = text.lines().find_map(|l| l.trim().strip_prefix(label))?;
    rest.split_whitespace().next()?.replace(',', "").parse().ok()
}

fn first_error(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().find(|l| l.starts_with("error")).unwrap_or_else(|| text.lines().last().unwrap_or("failed"));
    line.chars().take(110).collect::<String>().replace('|', "/")
}

fn row(s: &Suite, variant: &str, flags: Option<&[&str]>, dir: &Path) -> String {
    let name = s.spec.name;
    let mut args: Vec<&str> = Vec::new();
    let calib = s.calib.to_str().expect("UTF-8 path");
    if let Some(f) = flags {
        args.extend(&f[..2]);
        args.extend(["--calibration", calib]);
        args.extend(&f[2..]);
    }
    // Quality and SQNR from the interpreter (the float model or the integer oracle).
    let out_dir = dir.join("run");
    let out = s.qcc_run(&args, &out_dir);
    if !out.status.success() {
        return format!("| {name} | {variant} | {} | | | | | | |", first_error(&out.stderr));
    }
    let arrays = qcc::tensor::npy::load_npz(&out_dir.join("outputs.npz")).expect("outputs.npz");
    let got = &arrays.iter().find(|(n, _)| *n == s.reference[0].0).expect("output 0").1;
    let reference = &s.reference[0].1;
    let q = quality(s.spec.metric, reference, got);
    let db = sqnr(reference, got);
    // Compile to Rust, timed; the report's MACs.
    let model = s.model.to_str().expect("UTF-8 path");
    let (report, rust_dir) = (dir.join("report.md"), dir.join("rust"));
    let mut compile = vec![model, "-o", rust_dir.to_str().expect("UTF-8 path")];
    compile.extend(s.shape_args());
    compile.extend(&args);
    if flags.is_some() {
        compile.extend(["--report", report.to_str().expect("UTF-8 path")]);
    }
    let start = Instant::now();
    let built = qcc(&compile);
    let seconds = start.elapsed().as_secs_f64();
    let (macs, flash, time) = if built.status.success() {
        let stdout = String::from_utf8_lossy(&built.stdout);
        let macs = if flags.is_some() {
            report_macs(&std::fs::read_to_string(report.with_extension("json")).unwrap_or_default())
        } else {
            let mut inspect = vec!["inspect", model];
            inspect.extend(s.shape_args());
            (0, 0, number_after(&String::from_utf8_lossy(&qcc(&inspect).stdout), "total:").unwrap_or(0))
        };
        let flash = number_after(&stdout, "flash (weights, tables)").map_or(String::new(), |b| b.to_string());
        (format!("{} | {} | {}", macs.0, macs.1, macs.2), flash, format!("{seconds:.1}"))
    } else {
        (format!("code generation fails: {} | | ", first_error(&built.stderr)), String::new(), String::new())
    };
    format!("| {name} | {variant} | {} | {db:.2} | {macs} | {flash} | {time} |", q.text)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tier = if args.iter().any(|a| a == "--ci") { Tier::Ci } else { Tier::Full };
    let wanted: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    for w in &wanted {
        assert!(MODELS.iter().any(|m| m.name == w.as_str()), "no suite model {w}; the models: {:?}", MODELS.iter().map(|m| m.name).collect::<Vec<_>>());
    }
    println!("| model | variant | quality against onnxruntime float | output SQNR (dB) | int8 MACs | 16x8 MACs | float MACs | flash (bytes) | compile (s) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for spec in MODELS.iter().filter(|m| wanted.is_empty() || wanted.iter().any(|w| *w == m.name)) {
        let tmp = TempDir::new(&format!("table-{}", spec.name));
        let s = Suite::load_tier(spec.name, tmp.path(), tier);
        for (k, (variant, flags)) in variants().into_iter().enumerate() {
            let dir = tmp.path().join(format!("v{k}"));
            println!("{}", row(&s, &variant, flags.as_deref(), &dir));
        }
    }
}
