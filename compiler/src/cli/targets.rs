//! `qcc targets`: every target with its triple, features, CPUs, toolchain
//! and runner, and what this machine has installed of them.

use qcc::target::Target;
use qcc::Result;
use std::io::Write;

pub fn list() -> Result<()> {
    let mut out = std::io::stdout().lock();
    for name in Target::names() {
        let t = Target::named(name)?;
        let _ = writeln!(out, "{name}: {} ({}, {}-bit, FPU {:?})", t.description, t.rust_triple, t.pointer_bits, t.fpu);
        let _ = writeln!(out, "  default: {}", super::describe(&t));
        for (f, spec) in &t.known_features {
            let _ = writeln!(out, "  feature {f:<12} {}", spec.about);
        }
        for (c, cpu) in &t.cpus {
            let _ = writeln!(out, "  cpu {c:<16} {}", if cpu.features.is_empty() { "(baseline)".to_string() } else { cpu.features.join(", ") });
        }
        let _ = writeln!(out, "  C compiler: {} {}  [{}]", t.cc, t.c_flags().join(" "), installed(&t.cc));
        match t.runner.first() {
            Some(r) => {
                let _ = writeln!(out, "  runner: {}  [{}]", t.runner.join(" "), installed(r));
            }
            None => {
                let _ = writeln!(out, "  runner: {}", if t.hosted { "none needed on this host" } else { "none (no emulator is set up for it)" });
            }
        }
        if let Some(tc) = &t.toolchain {
            let _ = writeln!(out, "  install: {tc}");
        }
    }
    Ok(())
}

/// `installed` or `not installed`: whether `program` is on the PATH.
fn installed(program: &str) -> &'static str {
    if qcc::toolchain::on_path(program) {
        "installed"
    } else {
        "not installed"
    }
}
