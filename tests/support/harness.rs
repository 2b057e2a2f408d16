//! Generated code in the tests: compiling a model to Rust and C with
//! `--harness`, building both harness programs (cargo, the generated
//! Makefile), and running them on `.npy` inputs.

use crate::cli::{expect_success, qcc};
use qcc::tensor::{npy, Tensor};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The harness programs of one model, compiled both ways.
pub struct Built {
    pub rust: PathBuf,
    pub c: PathBuf,
}

/// Runs a command, panicking with its output when it fails.
#[track_caller]
pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Compiles `model` with `flags` to Rust and to C with `--harness` under
/// `dir`, and builds both: the crate with `cargo build --release` into
/// `cargo_target` (one per concurrent build: parallel tests build harnesses
/// of the same name), the C with its Makefile and `make_args` (e.g.
/// sanitizer flags; none: the target's defaults).
pub fn build(model: &Path, flags: &[&str], dir: &Path, cargo_target: &Path, make_args: &[&str]) -> Built {
    let m = model.to_str().expect("UTF-8 path");
    let (rust_dir, c_dir) = (dir.join("rust"), dir.join("c"));
    for (emit, out) in [("rust", &rust_dir), ("c", &c_dir)] {
        let mut args = vec![m, "--emit", emit, "--harness", "-o", out.to_str().expect("UTF-8 path")];
        args.extend(flags);
        expect_success(&qcc(&args));
    }
    run(Command::new("cargo").args(["build", "--release", "--quiet", "--bin", "harness"]).current_dir(&rust_dir).env("CARGO_TARGET_DIR", cargo_target));
    run(Command::new("make").arg("-s").args(make_args).current_dir(&c_dir));
    Built { rust: cargo_target.join("release/harness"), c: c_dir.join("harness") }
}

/// Runs a harness on the inputs (graph-input order); returns every output.
pub fn run_harness(harness: &Path, inputs: &[PathBuf], dir: &Path) -> Vec<Tensor> {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = Command::new(harness);
    cmd.args(inputs).arg("-o").arg(&out);
    run(&mut cmd);
    (0..)
        .map(|k| out.join(format!("output_{k}.npy")))
        .take_while(|p| p.exists())
        .map(|p| npy::load_npy(&p).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}
