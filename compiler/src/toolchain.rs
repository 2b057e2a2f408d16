//! Building generated code with a target's toolchain and running it on
//! this machine: natively for the host, under the target's emulator (its
//! `runner`) otherwise. A missing compiler or emulator is one error that
//! says what to install.

use crate::back::Emit;
use crate::target::Target;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `program` is a path to a file or found on the `PATH`.
pub fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// The programs building `emit` for `target` and running the result need.
fn needed(target: &Target, emit: Emit) -> Vec<&str> {
    let mut tools = match emit {
        Emit::C => vec![target.cc.as_str(), "make"],
        _ => vec!["cargo"],
    };
    let host = Target::host().map(|h| h.rust_triple == target.rust_triple).unwrap_or(false);
    if emit != Emit::C && target.hosted && !host {
        tools.push(target.cc.as_str());
    }
    if let Some(runner) = target.runner.first() {
        tools.push(runner);
    }
    tools
}

/// An error naming what is missing to build and run code for `target`,
/// and what to install, or `Ok` when everything is there.
pub fn check(target: &Target, emit: Emit) -> Result<()> {
    let missing: Vec<&str> = needed(target, emit).into_iter().filter(|t| !on_path(t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let install = target.toolchain.as_deref().map(|t| format!("; install {t}")).unwrap_or_default();
    Err(Error::Usage(format!("running code for target '{}' needs {}, not found on the PATH{install}", target.name, missing.join(" and "))))
}

/// Builds the harness program of the generated code in `dir` (a crate or
/// C sources with their Makefile); returns its path. Cargo builds into
/// `cargo_target` when given (else the crate's own `target/`).
pub fn build(dir: &Path, target: &Target, emit: Emit, cargo_target: Option<&Path>) -> Result<PathBuf> {
    check(target, emit)?;
    match emit {
        Emit::C => {
            let mut cmd = Command::new("make");
            cmd.arg("-s").current_dir(dir);
            run_step(&mut cmd, "make")?;
            Ok(dir.join("harness"))
        }
        _ => {
            let out = cargo_target.map(Path::to_path_buf).unwrap_or_else(|| dir.join("target"));
            let mut cmd = Command::new("cargo");
            cmd.args(["build", "--release", "--quiet", "--bin", "harness"]).current_dir(dir).env("CARGO_TARGET_DIR", &out);
            // The crate's .cargo/config.toml decides target and flags, not ours.
            cmd.env_remove("RUSTFLAGS").env_remove("CARGO_BUILD_TARGET");
            run_step(&mut cmd, "cargo build")?;
            let host = Target::host()?.rust_triple == target.rust_triple;
            Ok(if host { out.join("release/harness") } else { out.join(&target.rust_triple).join("release/harness") })
        }
    }
}

/// What one run of a program gave.
#[derive(Debug)]
pub struct Ran {
    /// Wall time of the whole process (the emulator's, under one).
    pub elapsed: Duration,
}

/// Runs `program` with `args` on this machine (under the target's runner
/// when it has one), stopping it after `limit`; an error with its output
/// when it fails.
pub fn run(target: &Target, program: &Path, args: &[String], limit: Duration) -> Result<Ran> {
    let mut cmd = match target.runner.split_first() {
        Some((runner, rest)) if rest.iter().any(|a| a.contains("{program}")) => {
            // Semihosting hands the program one line split at spaces.
            if let Some(a) = args.iter().find(|a| a.is_empty() || a.contains(char::is_whitespace)) {
                return Err(Error::Usage(format!("'{a}': a program on an emulated board gets its arguments through semihosting as one line split at spaces, so none can be empty or hold a space; use paths without spaces")));
            }
            // QEMU option syntax: a comma inside a value is written twice.
            let items: String = args.iter().map(|a| format!(",arg={}", a.replace(',', ",,"))).collect();
            let mut c = Command::new(runner);
            c.args(rest.iter().map(|a| a.replace("{program}", &program.to_string_lossy()).replace("{args}", &items)));
            c
        }
        Some((runner, pre)) => {
            let mut c = Command::new(runner);
            c.args(pre).arg(program).args(args);
            c
        }
        None => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| Error::Usage(format!("cannot start {}: {e}", shown(&cmd))))?;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| Error::Usage(format!("{}: {e}", shown(&cmd))))? {
            let out = child.wait_with_output().map_err(|e| Error::Usage(format!("{}: {e}", shown(&cmd))))?;
            if !status.success() {
                return Err(Error::Usage(format!("{} failed ({status}): {}", shown(&cmd), last_lines(&out.stdout, &out.stderr))));
            }
            return Ok(Ran { elapsed: start.elapsed() });
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Usage(format!("{} did not finish within {} s; stopped", shown(&cmd), limit.as_secs())));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs a build step; an error with the tail of its output when it fails.
fn run_step(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().map_err(|e| Error::Usage(format!("cannot run {what}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Usage(format!("{what} of the generated code failed in {}: {}", cmd.get_current_dir().unwrap_or(Path::new(".")).display(), last_lines(&out.stdout, &out.stderr))))
}

/// The command line, for messages.
fn shown(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
}

/// The last lines a failed program printed, joined on one line.
fn last_lines(stdout: &[u8], stderr: &[u8]) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(stdout), String::from_utf8_lossy(stderr));
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(6)..];
    if tail.is_empty() {
        "no output".into()
    } else {
        tail.join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_board_refuses_arguments_with_spaces_before_starting_qemu() {
        let target = Target::named("cortex-m4").unwrap();
        let e = run(&target, Path::new("harness"), &["in put.npy".into(), "-o".into(), "out".into()], Duration::from_secs(1)).unwrap_err().to_string();
        assert!(e.contains("'in put.npy'") && e.contains("semihosting"), "{e}");
    }
}
