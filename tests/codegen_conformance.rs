//! Conformance of generated code: every ONNX node test case and light
//! model (the three over 128 MB only with `QCC_CODEGEN_LIGHT=all`) on the
//! interpreter's expected-pass lists is compiled by qcc to Rust and to C, the
//! generated code is built and run on the case's inputs, and the outputs are
//! compared with the expected ones (the tolerances of `conformance`).
//!
//! Builds are batched: all Rust cases go into a few crates and all C cases
//! into one program (built with `-fsanitize=address,undefined` and
//! `-Werror`), each dispatching on the case name. Prints pass / fail /
//! unsupported counts per language and fails if any case on
//! `tests/conformance/expected/codegen-{rust,c}.txt` stops passing
//! (`QCC_BLESS=1` adds new passes). A filter argument runs only matching
//! cases; the report goes to `target/codegen-report.txt`. Cases whose output
//! shapes depend on input values run with inputs 1 onward frozen (see
//! [`prepare`]); the counts say how many.

use qcc::back::{self, Emit, Options};
use qcc::target::Target;
use qcc::tensor::{npy, Tensor};
use qcc_tests::batch::{build_c, build_rust_crate, Built, Generated};
use qcc_tests::{compare, conformance_dir, read_list, read_numbered, tolerance, workspace};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Cases per Rust crate: a crate's compile time grows with its size, and
/// separate crates build in parallel.
const RUST_CHUNK: usize = 200;

/// Light models run only with `QCC_CODEGEN_LIGHT=all`: 244 to 575 MB of
/// weights each, whose builds take up to 11 GB of compiler memory.
const LARGE_LIGHT: [&str; 3] = ["light_bvlc_alexnet", "light_vgg19", "light_zfnet512"];

#[derive(Debug, Clone)]
#[allow(dead_code)] // The messages are read through Debug, in the report.
enum Outcome {
    Pass,
    Fail(String),
    Unsupported(String),
}

/// A case compiled for one language, with its data sets.
struct Prepared {
    case: String,
    /// The ONNX test case's directory.
    source: PathBuf,
    ident: String,
    dir: PathBuf,
    /// Per data set: the input .npy paths and the expected outputs' .pb directory.
    sets: Vec<(Vec<PathBuf>, PathBuf)>,
    /// Inputs 1 onward were frozen as initializers.
    frozen: bool,
}

fn main() -> ExitCode {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let root = conformance_dir();
    if !root.join("STAMP").exists() {
        eprintln!("no ONNX test data in {}: run the README's test command", root.display());
        return ExitCode::FAILURE;
    }
    let expected_dir = workspace().join("tests/conformance/expected");
    // Node tests and the light models, as far as the interpreter passes them.
    let mut cases: Vec<(String, PathBuf)> = Vec::new();
    let all_light = std::env::var("QCC_CODEGEN_LIGHT").is_ok_and(|v| v == "all");
    for set in ["node", "light"] {
        for c in read_list(&expected_dir.join(format!("{set}.txt"))) {
            if filter.as_ref().is_none_or(|f| c.contains(f.as_str())) && (all_light || !LARGE_LIGHT.contains(&c.as_str())) {
                cases.push((c.clone(), root.join(set).join(c)));
            }
        }
    }
    let work = workspace().join("target/codegen");
    let _ = std::fs::remove_dir_all(&work);
    let bless = std::env::var_os("QCC_BLESS").is_some() && filter.is_none();
    let mut report = String::new();
    let mut regressions = Vec::new();
    println!("{:<20} {:>6} {:>6} {:>12} {:>7}", "language", "pass", "fail", "unsupported", "total");
    for (lang, emit) in [("rust", Emit::Rust), ("c", Emit::C)] {
        let dir = work.join(lang);
        let (results, frozen) = run_language(&cases, emit, &dir);
        let count = |f: fn(&Outcome) -> bool| results.values().filter(|o| f(o)).count();
        let pass = count(|o| matches!(o, Outcome::Pass));
        let fail = count(|o| matches!(o, Outcome::Fail(_)));
        let unsup = count(|o| matches!(o, Outcome::Unsupported(_)));
        println!("{lang:<20} {pass:>6} {fail:>6} {unsup:>12} {:>7}", results.len());
        let frozen_passes = results.iter().filter(|(n, o)| matches!(o, Outcome::Pass) && frozen.contains(*n)).count();
        println!("  {frozen_passes} of the passes with inputs 1 onward frozen as initializers");
        for (name, o) in &results {
            let note = if frozen.contains(name) { " (inputs 1 onward frozen)" } else { "" };
            let _ = writeln!(report, "{lang}/{name}: {o:?}{note}");
        }
        let list_path = expected_dir.join(format!("codegen-{lang}.txt"));
        let expected = read_list(&list_path);
        let passing: BTreeSet<&String> = results.iter().filter(|(_, o)| matches!(o, Outcome::Pass)).map(|(n, _)| n).collect();
        for name in expected.iter().filter(|n| results.contains_key(*n) && !passing.contains(n)) {
            regressions.push(format!("{lang}/{name}: {:?}", results[name]));
        }
        let new: Vec<&String> = passing.iter().copied().filter(|n| !expected.contains(*n)).collect();
        if !new.is_empty() {
            if bless {
                let all: BTreeSet<&String> = expected.iter().chain(new.iter().copied()).collect();
                let text: String = all.iter().map(|n| format!("{n}\n")).collect();
                std::fs::write(&list_path, text).expect("write expected-pass list");
                println!("  added {} newly passing case(s) to {}", new.len(), list_path.display());
            } else {
                println!("  {} passing case(s) not on the expected list (QCC_BLESS=1 adds them)", new.len());
            }
        }
    }
    let report_path = workspace().join("target/codegen-report.txt");
    let _ = std::fs::write(&report_path, &report);
    println!("report: {}", report_path.display());
    if regressions.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!("{} case(s) on the expected-pass lists no longer pass:", regressions.len());
    for r in &regressions {
        eprintln!("  {r}");
    }
    ExitCode::FAILURE
}

/// Compiles, builds and runs every case in one language.
/// Also returns the cases compiled with frozen inputs.
fn run_language(cases: &[(String, PathBuf)], emit: Emit, dir: &Path) -> (BTreeMap<String, Outcome>, BTreeSet<String>) {
    let generated: Vec<(String, Result<Prepared, Outcome>)> =
        cases.par_iter().map(|(c, path)| (c.clone(), prepare(path, c, emit, &dir.join("cases").join(c)))).collect();
    let mut results = BTreeMap::new();
    let mut built = Vec::new();
    for (case, r) in generated {
        match r {
            Ok(p) => built.push(p),
            Err(o) => {
                results.insert(case, o);
            }
        }
    }
    let programs = match emit {
        Emit::C => build_c(dir, &built.iter().collect::<Vec<_>>()),
        _ => build_rust(dir, &built),
    };
    let runs: Vec<(String, Outcome)> = built
        .par_iter()
        .map(|p| {
            let outcome = match programs.get(&p.case) {
                Some(Ok(program)) => run_case(program, p),
                Some(Err(msg)) => Outcome::Fail(msg.clone()),
                None => Outcome::Fail("not built".into()),
            };
            (p.case.clone(), outcome)
        })
        .collect();
    results.extend(runs);
    let frozen = built.iter().filter(|p| p.frozen).map(|p| p.case.clone()).collect();
    (results, frozen)
}

/// Generates a case's code and its .npy inputs. A case whose output shapes
/// depend on input values (Slice's starts, Reshape's shape, Resize's scales,
/// the axes of the opset-18 reductions ...) is compiled again with inputs 1
/// onward frozen to the test's values as initializers, as they are in real
/// models; generated code needs static shapes. Input 0 stays an input, so
/// the case still runs the kernel on runtime data.
fn prepare(case_dir: &Path, case: &str, emit: Emit, out: &Path) -> Result<Prepared, Outcome> {
    let mut data_dirs: Vec<PathBuf> = std::fs::read_dir(case_dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    data_dirs.sort();
    let inputs: Vec<Vec<Tensor>> = data_dirs.iter().map(|d| read_numbered(d, "input").map_err(Outcome::Fail)).collect::<Result<_, _>>()?;
    match prepare_with(case_dir, case, emit, out, &data_dirs, &inputs, false) {
        Err(Outcome::Unsupported(why)) if why.contains("depends on input data") => {
            prepare_with(case_dir, case, emit, out, &data_dirs, &inputs, true).map_err(|o| match o {
                Outcome::Unsupported(_) => Outcome::Unsupported(why),
                other => other,
            })
        }
        other => other,
    }
}

fn prepare_with(
    case_dir: &Path,
    case: &str,
    emit: Emit,
    out: &Path,
    data_dirs: &[PathBuf],
    inputs: &[Vec<Tensor>],
    freeze: bool,
) -> Result<Prepared, Outcome> {
    let mut graph = qcc::front::onnx::load(&case_dir.join("model.onnx")).map_err(classify)?;
    let kept = if freeze { 1 } else { usize::MAX };
    if freeze {
        let first = inputs.first().ok_or_else(|| Outcome::Unsupported("no data set".into()))?;
        if inputs.iter().any(|set| set.get(1..) != first.get(1..)) || graph.inputs.len() != first.len() {
            return Err(Outcome::Unsupported("data sets differ in the inputs that decide shapes".into()));
        }
        for (v, t) in graph.inputs.clone().into_iter().zip(first).skip(1) {
            graph.value_mut(v).constant = Some(std::sync::Arc::new(t.clone()));
        }
        graph.inputs.truncate(1);
    }
    let mut sets = Vec::new();
    let mut shapes = Vec::new();
    for (k, (data, set)) in data_dirs.iter().zip(inputs).enumerate() {
        let mut paths = Vec::new();
        for (i, t) in set.iter().take(kept).enumerate() {
            let path = out.join(format!("data_{k}/input_{i}.npy"));
            std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| Outcome::Fail(e.to_string()))?;
            npy::save_npy(&path, t).map_err(|e| Outcome::Unsupported(format!("input as .npy: {e}")))?;
            paths.push(path);
        }
        let this: Vec<Vec<usize>> = set.iter().take(kept).map(|t| t.shape().to_vec()).collect();
        if k > 0 && this != shapes {
            return Err(Outcome::Unsupported("data sets of different shapes need one compilation each".into()));
        }
        shapes = this;
        sets.push((paths, data.clone()));
    }
    let named: Vec<(String, Vec<usize>)> = graph.inputs.iter().zip(&shapes).map(|(&i, s)| (graph.value(i).name.clone(), s.clone())).collect();
    qcc::passes::pipeline::prepare(&mut graph, &named).map_err(classify)?;
    let ident = back::check_name(case).map_err(classify)?;
    let target = Target::host().map_err(classify)?;
    let opts = Options { emit, name: ident.clone(), target, harness: true, source: "model.onnx".into() };
    let output = std::panic::catch_unwind(|| back::generate(&graph, &opts))
        .map_err(|_| Outcome::Fail("PANIC in code generation".into()))?
        .map_err(classify)?;
    back::write(out, &output.files).map_err(|e| Outcome::Fail(e.to_string()))?;
    Ok(Prepared { case: case.to_string(), source: case_dir.to_path_buf(), ident, dir: out.to_path_buf(), sets, frozen: freeze })
}

impl Generated for Prepared {
    fn case(&self) -> &str {
        &self.case
    }
    fn ident(&self) -> &str {
        &self.ident
    }
    fn dir(&self) -> &Path {
        &self.dir
    }
}

fn classify(e: qcc::Error) -> Outcome {
    match e.root() {
        qcc::Error::Unsupported(_) => Outcome::Unsupported(e.to_string()),
        _ => Outcome::Fail(e.to_string()),
    }
}


/// Builds the Rust cases in crates of [`RUST_CHUNK`]; a crate that fails
/// to build is rebuilt case by case to find the culprits.
fn build_rust(dir: &Path, cases: &[Prepared]) -> BTreeMap<String, Built> {
    let chunks: Vec<&[Prepared]> = cases.chunks(RUST_CHUNK).collect();
    let mut out = BTreeMap::new();
    let results: Vec<(Vec<&Prepared>, Built)> = chunks
        .par_iter()
        .enumerate()
        .map(|(k, chunk)| {
            let list: Vec<&Prepared> = chunk.iter().collect();
            let built = build_rust_crate(&dir.join(format!("batch_{k}")), &list);
            (list, built)
        })
        .collect();
    for (list, built) in results {
        match built {
            Ok(bin) => out.extend(list.iter().map(|p| (p.case.clone(), Ok(bin.clone())))),
            Err(_) => {
                let singles: Vec<(String, Built)> = list
                    .par_iter()
                    .map(|p| (p.case.clone(), build_rust_crate(&dir.join("single").join(&p.case), &[*p])))
                    .collect();
                out.extend(singles);
            }
        }
    }
    out
}

/// Runs a built case on each of its data sets and compares the outputs.
fn run_case(program: &Path, p: &Prepared) -> Outcome {
    let (rtol, atol) = tolerance(&p.source);
    for (k, (inputs, data)) in p.sets.iter().enumerate() {
        let out_dir = p.dir.join(format!("out_{k}"));
        let run = Command::new(program).arg(&p.case).args(inputs).arg("-o").arg(&out_dir).env("ASAN_OPTIONS", "detect_leaks=0").output();
        let run = match run {
            Ok(r) => r,
            Err(e) => return Outcome::Fail(format!("{}: {e}", program.display())),
        };
        if !run.status.success() {
            return Outcome::Fail(format!("the generated code failed ({}): {}", run.status, first_lines(&String::from_utf8_lossy(&run.stderr))));
        }
        let expected = match read_numbered(data, "output") {
            Ok(e) => e,
            Err(e) => return Outcome::Fail(e),
        };
        for (i, e) in expected.iter().enumerate() {
            let actual = match npy::load_npy(&out_dir.join(format!("output_{i}.npy"))) {
                Ok(a) => a,
                Err(err) => return Outcome::Fail(format!("output {i}: {err}")),
            };
            if let Err(msg) = compare(&actual, e, rtol, atol) {
                return Outcome::Fail(format!("data set {k}, output {i}: {msg}"));
            }
        }
    }
    Outcome::Pass
}

fn first_lines(text: &str) -> String {
    text.lines().take(8).collect::<Vec<_>>().join(" | ")
}
