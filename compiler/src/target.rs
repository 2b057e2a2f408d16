//! Compilation targets: data read from `targets/<name>/target.toml`
//! (embedded in the compiler). Code generation reads a target's
//! capabilities (FPU, SIMD features, hosted or bare metal), never its name.

use crate::{Error, Result};
use serde::Deserialize;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Floating-point hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fpu {
    None,
    Single,
    Double,
}

/// A target as `targets/<name>/target.toml` describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(skip)]
    pub name: String,
    pub description: String,
    /// Rust target triple.
    pub rust_triple: String,
    /// Whether programs run under an OS (files, stdout): the harness needs it.
    pub hosted: bool,
    pub pointer_bits: u32,
    pub fpu: Fpu,
    /// SIMD extensions kernels may use.
    pub simd: Vec<String>,
    /// The C compiler and its flags.
    pub cc: String,
    pub cflags: Vec<String>,
    /// Command prefix that runs the target's binaries on the build machine
    /// (empty: run directly).
    pub runner: Vec<String>,
}

impl Target {
    /// The target called `name`.
    pub fn named(name: &str) -> Result<Target> {
        let path = format!("{name}/target.toml");
        let Some((_, text)) = embedded::TARGETS.iter().find(|(p, _)| *p == path) else {
            return Err(Error::Usage(format!("unknown target '{name}'; the targets are {}", Target::names().join(", "))));
        };
        let mut t: Target = toml::from_str(text).map_err(|e| Error::Op(format!("targets/{path}: {e}")))?;
        t.name = name.to_string();
        Ok(t)
    }

    /// The names of all targets, sorted.
    pub fn names() -> Vec<&'static str> {
        embedded::TARGETS.iter().filter_map(|(p, _)| p.strip_suffix("/target.toml")).collect()
    }

    /// The target qcc itself runs on.
    pub fn host() -> Result<Target> {
        Target::named(match std::env::consts::ARCH {
            "aarch64" => "aarch64",
            "riscv64" => "riscv64",
            _ => "x86_64",
        })
    }

    /// The target whose Rust triple is `triple` (for build scripts).
    pub fn for_triple(triple: &str) -> Result<Target> {
        for name in Target::names() {
            let t = Target::named(name)?;
            if t.rust_triple == triple {
                return Ok(t);
            }
        }
        Err(Error::Usage(format!("no qcc target has the Rust triple '{triple}'")))
    }
}

/// The runtime template files (path under `runtime-template/`, contents).
pub fn runtime_files() -> &'static [(&'static str, &'static str)] {
    embedded::RUNTIME
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_parses() {
        assert!(Target::names().len() >= 6);
        for name in Target::names() {
            let t = Target::named(name).unwrap();
            assert!(!t.rust_triple.is_empty(), "{name}");
        }
        assert!(Target::named("pdp11").is_err());
        assert_eq!(Target::for_triple("thumbv7em-none-eabihf").unwrap().name, "cortex-m4");
    }
}
