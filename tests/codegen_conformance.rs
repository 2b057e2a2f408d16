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
        Emit::C => build_c(dir, &built),
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

fn classify(e: qcc::Error) -> Outcome {
    match e.root() {
        qcc::Error::Unsupported(_) => Outcome::Unsupported(e.to_string()),
        _ => Outcome::Fail(e.to_string()),
    }
}

/// A built program that runs a case: `program CASE INPUTS... -o DIR`.
type Built = Result<PathBuf, String>;

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
                    .map(|p| (p.case.clone(), build_rust_crate(&dir.join("single").join(&p.case), &[p])))
                    .collect();
                out.extend(singles);
            }
        }
    }
    out
}

/// One crate whose `main` runs the case named by its first argument.
fn build_rust_crate(dir: &Path, cases: &[&Prepared]) -> Built {
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let npy = qcc::target::runtime_files().iter().find(|(p, _)| *p == "rust/harness/npy.rs").map(|(_, t)| *t).unwrap_or_default();
    std::fs::write(dir.join("src/npy.rs"), npy).map_err(|e| e.to_string())?;
    let mut main = String::from("#![allow(unused_attributes, dead_code)]\nmod npy;\n\n");
    let mut arms = String::new();
    for p in cases {
        let src = p.dir.join("src");
        let _ = write!(
            main,
            "mod {id} {{\n    #[path = {lib:?}]\n    pub mod model;\n    use crate::npy;\n    #[path = {run:?}]\n    pub mod run;\n}}\n",
            id = p.ident,
            lib = src.join("lib.rs"),
            run = src.join("bin/harness/run.rs")
        );
        let _ = writeln!(arms, "        {:?} => {}::run::run(&args[1..]),", p.case, p.ident);
    }
    let _ = write!(
        main,
        "\nfn main() -> std::process::ExitCode {{\n    let args: Vec<String> = std::env::args().skip(1).collect();\n    \
         let result = match args.first().map(String::as_str).unwrap_or(\"\") {{\n{arms}        other => Err(format!(\"no case {{other}}\")),\n    }};\n    \
         match result {{\n        Ok(()) => std::process::ExitCode::SUCCESS,\n        Err(e) => {{\n            eprintln!(\"error: {{e}}\");\n            std::process::ExitCode::FAILURE\n        }}\n    }}\n}}\n"
    );
    std::fs::write(dir.join("src/main.rs"), main).map_err(|e| e.to_string())?;
    // Overflow checks and debug assertions stay on: generated code must not trip them.
    let manifest = "[package]\nname = \"batch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n\n\
                    [profile.dev]\nopt-level = 1\ndebug = false\noverflow-checks = true\ndebug-assertions = true\n";
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .map_err(|e| format!("cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("the generated Rust does not build: {}", first_error(&String::from_utf8_lossy(&out.stderr))));
    }
    Ok(dir.join("target/debug/batch"))
}

/// Builds every C case into one program with sanitizers and `-Werror`; on
/// failure, each case is compiled alone to find the culprits. Each source
/// must also pass the second compiler (`QCC_CC2`, default clang) with
/// `-Werror`, so the generated C is warning-free under gcc and clang.
fn build_c(dir: &Path, cases: &[Prepared]) -> BTreeMap<String, Built> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let cc2 = std::env::var("QCC_CC2").unwrap_or_else(|_| "clang".into());
    let flags = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"];
    // Compile each case's sources to objects (in parallel), renaming the harness's main.
    let objects: Vec<(String, Result<Vec<PathBuf>, String>)> = cases
        .par_iter()
        .map(|p| {
            let mut objs = Vec::new();
            let mut sources: Vec<PathBuf> = std::fs::read_dir(&p.dir)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|f| f.extension().is_some_and(|x| x == "c")).collect())
                .unwrap_or_default();
            sources.sort();
            for src in sources {
                let obj = src.with_extension("o");
                let mut cmd = Command::new(&cc);
                // Weight files are constant data only: no code to sanitize or debug.
                let weights = src.file_name().is_some_and(|f| f.to_string_lossy().ends_with("_weights.c"));
                let own_flags: &[&str] = if weights { &flags[..5] } else { &flags };
                cmd.args(own_flags).arg("-c").arg(&src).arg("-o").arg(&obj).current_dir(&p.dir);
                if src.file_name().is_some_and(|f| f == "harness.c") {
                    cmd.arg(format!("-Dmain=main_{}", p.ident));
                }
                match cmd.output() {
                    Ok(o) if o.status.success() => objs.push(obj),
                    Ok(o) => return (p.case.clone(), Err(format!("the generated C does not compile: {}", first_error(&String::from_utf8_lossy(&o.stderr))))),
                    Err(e) => return (p.case.clone(), Err(format!("{cc}: {e}"))),
                }
                let check = Command::new(&cc2).args(&flags[..5]).arg("-fsyntax-only").arg(&src).current_dir(&p.dir).output();
                match check {
                    Ok(o) if o.status.success() => {}
                    Ok(o) => return (p.case.clone(), Err(format!("{cc2} rejects the generated C: {}", first_error(&String::from_utf8_lossy(&o.stderr))))),
                    Err(e) => return (p.case.clone(), Err(format!("{cc2} (set QCC_CC2 to another C compiler): {e}"))),
                }
            }
            (p.case.clone(), Ok(objs))
        })
        .collect();
    let mut out = BTreeMap::new();
    let mut linked: Vec<(&Prepared, Vec<PathBuf>)> = Vec::new();
    for ((case, objs), p) in objects.into_iter().zip(cases) {
        match objs {
            Ok(o) => linked.push((p, o)),
            Err(e) => {
                out.insert(case, Err(e));
            }
        }
    }
    let mut main = String::from("/* Dispatches to the harness of the case named by argv[1]. */\n#include <stdio.h>\n#include <string.h>\n\n");
    for (p, _) in &linked {
        let _ = writeln!(main, "int main_{}(int argc, char **argv);", p.ident);
    }
    main.push_str("\nint main(int argc, char **argv) {\n    if (argc < 2) {\n        return 2;\n    }\n");
    for (p, _) in &linked {
        let _ = writeln!(main, "    if (strcmp(argv[1], \"{}\") == 0) {{\n        return main_{}(argc - 1, argv + 1);\n    }}", p.case, p.ident);
    }
    main.push_str("    fprintf(stderr, \"no case %s\\n\", argv[1]);\n    return 2;\n}\n");
    let _ = std::fs::create_dir_all(dir);
    let main_c = dir.join("main.c");
    let bin = dir.join("batch");
    let result = std::fs::write(&main_c, main).map_err(|e| e.to_string()).and_then(|()| {
        let o = Command::new(&cc)
            .args(flags)
            .arg(&main_c)
            .args(linked.iter().flat_map(|(_, o)| o.iter()))
            .arg("-lm")
            .arg("-o")
            .arg(&bin)
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(bin.clone())
        } else {
            Err(format!("linking the C cases failed: {}", first_error(&String::from_utf8_lossy(&o.stderr))))
        }
    });
    for (p, _) in &linked {
        out.insert(p.case.clone(), result.clone());
    }
    out
}

/// The first error line of a compiler's output (and the lines after it).
fn first_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines.iter().position(|l| l.contains("error")).unwrap_or(0);
    lines[at..].iter().take(6).copied().collect::<Vec<_>>().join(" | ")
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
