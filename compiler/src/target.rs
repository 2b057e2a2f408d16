//! Compilation targets: data read from `targets/<name>/target.toml`
//! (embedded in the compiler), narrowed by `--cpu` and `--features` to the
//! ISA features code generation may use. Code generation reads a target's
//! capabilities (FPU, features, hosted or bare metal), never its name.

use crate::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

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

/// One ISA feature a target may have (`[feature.NAME]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    /// What it offers, in a few words.
    pub about: String,
    /// Appended to the C compiler's `-march=` value (`+dotprod`, `v`).
    #[serde(default)]
    pub march: String,
    /// Further C compiler flags (`-mavx2`).
    #[serde(default)]
    pub cflags: Vec<String>,
    /// rustc's name for it (`-C target-feature=+NAME`); empty: none, the
    /// feature is for C only. Default: the feature's own name.
    pub rust: Option<String>,
    /// Features it includes.
    #[serde(default)]
    pub implies: Vec<String>,
}

/// What a bare-metal harness needs beyond the generated code (`[harness]`):
/// startup code, a linker script for the emulated board, and the flags that
/// route the C library's files through semihosting. The files are copied
/// from `targets/<name>/` into the generated code's `board/` directory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarnessSpec {
    /// C sources compiled into the C harness.
    #[serde(default)]
    pub c_files: Vec<String>,
    /// The C harness's linker script.
    pub c_linker_script: String,
    /// Flags for compiling the C harness, and for linking it.
    #[serde(default)]
    pub c_cflags: Vec<String>,
    #[serde(default)]
    pub c_ldflags: Vec<String>,
    /// The Rust harness's startup code (becomes `src/bin/harness/rt.rs`)
    /// and linker script (the crate's `link.x`); none: no Rust harness.
    pub rust_startup: Option<String>,
    pub rust_linker_script: Option<String>,
}

impl HarnessSpec {
    /// Whether the target has a bare-metal harness in `emit`'s language.
    pub fn supports(&self, emit: crate::back::Emit) -> bool {
        emit == crate::back::Emit::C || (self.rust_startup.is_some() && self.rust_linker_script.is_some())
    }
}

/// A named CPU: the features it has (`[cpu.NAME]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cpu {
    pub features: Vec<String>,
}

/// A target as `targets/<name>/target.toml` describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub description: String,
    /// Rust target triple.
    pub rust_triple: String,
    /// Whether programs run under an OS (files, stdout).
    pub hosted: bool,
    pub pointer_bits: u32,
    pub fpu: Fpu,
    /// The features of the target without `--cpu` or `--features`.
    pub features: Vec<String>,
    /// The C compiler and its flags (without the feature flags).
    pub cc: String,
    pub cflags: Vec<String>,
    /// The base of `-march=` that the features extend (none: no `-march`).
    pub march: Option<String>,
    /// The command that runs the target's programs on the build machine:
    /// a prefix of the program and its arguments, or, when it holds
    /// `{program}`, a template where `{program}` is the program and
    /// `{args}` its arguments as QEMU semihosting `,arg=` items (empty: run
    /// directly, or no runner known).
    pub runner: Vec<String>,
    /// What to install for the cross toolchain and the emulator.
    pub toolchain: Option<String>,
    /// How a bare-metal harness program is built (files of the target's
    /// directory, flags); none for hosted targets.
    pub harness: Option<HarnessSpec>,
    #[serde(default, rename = "feature")]
    pub known_features: BTreeMap<String, Feature>,
    #[serde(default, rename = "cpu")]
    pub cpus: BTreeMap<String, Cpu>,
}

/// A target with the features code generation may use.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The directory name under `targets/`.
    pub name: String,
    pub spec: Spec,
    /// The CPU the features come from: a `[cpu]` name, `native` (detected
    /// on this machine) or `default` (the target's `features`).
    pub cpu: String,
    /// The enabled features, closed under `implies`.
    pub features: BTreeSet<String>,
}

impl std::ops::Deref for Target {
    type Target = Spec;
    fn deref(&self) -> &Spec {
        &self.spec
    }
}

impl Target {
    /// The target called `name` (a directory under `targets/`) or with the
    /// Rust triple `name`, with its default features: the host's detected
    /// features for a target of the host's architecture that has them.
    pub fn named(name: &str) -> Result<Target> {
        Target::configured(name, None, &[])
    }

    /// The target `name` (a target name or Rust triple) with the features of
    /// `cpu` (default: the host's when detectable, else the target's own),
    /// then adjusted by `features` (`+a`, `-b`, or a bare `a` to add), as
    /// rustc's `-C target-cpu` and `-C target-feature` do.
    pub fn configured(name: &str, cpu: Option<&str>, features: &[String]) -> Result<Target> {
        let dir = Target::dir_of(name)?;
        let spec = Target::spec(&dir)?;
        let (cpu, base): (String, Vec<String>) = match cpu {
            Some("native") => ("native".into(), host_features(&dir).ok_or_else(|| not_native(&dir))?),
            Some(c) => match spec.cpus.get(c) {
                Some(found) => (c.to_string(), found.features.clone()),
                None => return Err(Error::Usage(format!("target '{dir}' has no CPU '{c}'; its CPUs are {}, and native on a machine of its architecture", list(spec.cpus.keys())))),
            },
            None => match host_features(&dir) {
                Some(host) => ("native".into(), host),
                None => ("default".into(), spec.features.clone()),
            },
        };
        let mut t = Target { name: dir, spec, cpu, features: BTreeSet::new() };
        for f in &base {
            t.enable(f)?;
        }
        for f in features.iter().flat_map(|f| f.split(',')).map(str::trim).filter(|f| !f.is_empty()) {
            match f.strip_prefix('-') {
                Some(off) => t.disable(off)?,
                None => t.enable(f.strip_prefix('+').unwrap_or(f))?,
            }
        }
        Ok(t)
    }

    /// The target of a build script: Cargo's `TARGET` triple, with the
    /// features of `CARGO_CFG_TARGET_FEATURE` that the target knows.
    pub fn for_cargo(triple: &str, cfg_features: Option<&str>) -> Result<Target> {
        let mut t = Target::configured(triple, None, &[])?;
        if let Some(list) = cfg_features {
            let on: BTreeSet<&str> = list.split(',').collect();
            let names: Vec<String> = t.known_features.keys().cloned().collect();
            let mut picked = Target { features: BTreeSet::new(), cpu: "cargo".into(), ..t.clone() };
            // Features rustc has no name for come with the triple (Cortex-M4's
            // DSP): the target's defaults.
            let without_name = t.spec.features.iter().filter(|f| t.rust_name(f).is_none());
            for f in names.iter().filter(|f| t.rust_name(f).is_some_and(|r| on.contains(r))).chain(without_name) {
                picked.enable(f)?;
            }
            t = picked;
        }
        Ok(t)
    }

    /// Whether code generation may use `feature`.
    pub fn has(&self, feature: &str) -> bool {
        self.features.contains(feature)
    }

    /// The C compiler flags: the target's own, then `-march=` with the
    /// features' suffixes, then the features' flags.
    pub fn c_flags(&self) -> Vec<String> {
        let mut flags = self.spec.cflags.clone();
        if let Some(base) = &self.spec.march {
            let suffixes: String = self.features.iter().map(|f| self.known_features[f].march.as_str()).collect();
            flags.push(format!("-march={base}{suffixes}"));
        }
        for f in &self.features {
            flags.extend(self.known_features[f].cflags.iter().cloned());
        }
        flags
    }

    /// rustc's `-C target-feature` value for the enabled features (empty
    /// when none has a rustc name).
    pub fn rust_target_features(&self) -> String {
        self.features.iter().filter_map(|f| self.rust_name(f)).map(|r| format!("+{r}")).collect::<Vec<_>>().join(",")
    }

    /// The names of all targets, sorted.
    pub fn names() -> Vec<&'static str> {
        embedded::TARGETS.iter().filter_map(|(p, _)| p.strip_suffix("/target.toml")).collect()
    }

    /// The target qcc itself runs on, with its detected features.
    pub fn host() -> Result<Target> {
        Target::named(host_target_name())
    }

    fn rust_name<'a>(&'a self, feature: &'a str) -> Option<&'a str> {
        match &self.known_features[feature].rust {
            Some(r) if r.is_empty() => None,
            Some(r) => Some(r),
            None => Some(feature),
        }
    }

    fn enable(&mut self, feature: &str) -> Result<()> {
        let Some(implies) = self.spec.known_features.get(feature).map(|f| f.implies.clone()) else {
            return Err(self.unknown_feature(feature));
        };
        if self.features.insert(feature.to_string()) {
            for i in implies {
                self.enable(&i)?;
            }
        }
        Ok(())
    }

    /// Removes `feature` and every enabled feature that implies it.
    fn disable(&mut self, feature: &str) -> Result<()> {
        if !self.known_features.contains_key(feature) {
            return Err(self.unknown_feature(feature));
        }
        self.features.remove(feature);
        let dependents: Vec<String> = self.features.iter().filter(|f| self.known_features[*f].implies.iter().any(|i| i == feature)).cloned().collect();
        for d in dependents {
            self.disable(&d)?;
        }
        Ok(())
    }

    fn unknown_feature(&self, feature: &str) -> Error {
        let known = if self.known_features.is_empty() { "none".to_string() } else { list(self.known_features.keys()) };
        Error::Usage(format!("target '{}' has no feature '{feature}'; its features are {known}", self.name))
    }

    /// The directory name of a target name or Rust triple.
    fn dir_of(name: &str) -> Result<String> {
        if Target::names().contains(&name) {
            return Ok(name.to_string());
        }
        for dir in Target::names() {
            if Target::spec(dir)?.rust_triple == name {
                return Ok(dir.to_string());
            }
        }
        // Hosted triples of a known architecture on another OS or ABI
        // (x86_64-apple-darwin, aarch64-unknown-linux-musl): the generated
        // code is the same.
        let arch = name.split('-').next().unwrap_or_default();
        for dir in Target::names() {
            let spec = Target::spec(dir)?;
            if spec.hosted && spec.rust_triple.split('-').next() == Some(arch) && name.contains('-') && !name.contains("-none") {
                return Ok(dir.to_string());
            }
        }
        let triples: Vec<String> = Target::names().iter().filter_map(|d| Target::spec(d).ok()).map(|s| s.rust_triple).collect();
        Err(Error::Usage(format!(
            "unknown target '{name}': the targets are {} (Rust triples {}, and hosted triples of their architectures); `qcc targets` lists them",
            Target::names().join(", "),
            triples.join(", ")
        )))
    }

    fn spec(dir: &str) -> Result<Spec> {
        let path = format!("{dir}/target.toml");
        let (_, text) = embedded::TARGETS.iter().find(|(p, _)| *p == path).ok_or_else(|| Error::Usage(format!("unknown target '{dir}'")))?;
        let spec: Spec = toml::from_str(text).map_err(|e| Error::Op(format!("targets/{path}: {e}")))?;
        for f in spec.features.iter().chain(spec.known_features.values().flat_map(|f| &f.implies)).chain(spec.cpus.values().flat_map(|c| &c.features)) {
            if !spec.known_features.contains_key(f) {
                return Err(Error::Op(format!("targets/{path}: feature '{f}' has no [feature.\"{f}\"] table")));
            }
        }
        Ok(spec)
    }
}

/// `a, b, c` of names.
fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names.map(String::as_str).collect::<Vec<_>>().join(", ")
}

fn not_native(dir: &str) -> Error {
    Error::Usage(format!("--cpu native: qcc runs on {} and cannot detect the features of a '{dir}' CPU; name a CPU (`qcc targets`)", std::env::consts::ARCH))
}

/// The target directory of the machine qcc runs on.
fn host_target_name() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "aarch64",
        "riscv64" => "riscv64",
        _ => "x86_64",
    }
}

/// The features of target `dir` this machine has, when `dir` is the host's
/// architecture and its features can be detected here (x86-64).
fn host_features(dir: &str) -> Option<Vec<String>> {
    if dir != host_target_name() {
        return None;
    }
    detected_x86_features()
}

#[cfg(target_arch = "x86_64")]
fn detected_x86_features() -> Option<Vec<String>> {
    let mut found = Vec::new();
    macro_rules! probe {
        ($($f:tt),+) => { $( if std::arch::is_x86_feature_detected!($f) { found.push($f.to_string()); } )+ };
    }
    probe!("ssse3", "sse4.1", "sse4.2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "avxvnni");
    Some(found)
}

#[cfg(not(target_arch = "x86_64"))]
fn detected_x86_features() -> Option<Vec<String>> {
    None
}

/// The runtime template files (path under `runtime-template/`, contents).
pub fn runtime_files() -> &'static [(&'static str, &'static str)] {
    embedded::RUNTIME
}

/// The files of `targets/<name>/` (path relative to it, contents).
pub fn target_files(name: &str) -> Vec<(&'static str, &'static str)> {
    let prefix = format!("{name}/");
    embedded::TARGETS.iter().filter_map(|(p, text)| p.strip_prefix(prefix.as_str()).map(|rel| (rel, *text))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_parses_with_every_cpu() {
        assert!(Target::names().len() >= 7);
        for name in Target::names() {
            let t = Target::named(name).unwrap();
            assert!(!t.rust_triple.is_empty(), "{name}");
            for cpu in t.cpus.keys() {
                Target::configured(name, Some(cpu), &[]).unwrap();
            }
        }
        assert!(Target::named("pdp11").is_err());
    }

    #[test]
    fn triples_name_targets() {
        assert_eq!(Target::named("thumbv7em-none-eabihf").unwrap().name, "cortex-m4");
        assert_eq!(Target::named("aarch64-unknown-linux-musl").unwrap().name, "aarch64");
        assert_eq!(Target::named("x86_64-apple-darwin").unwrap().name, "x86_64");
        let e = Target::named("mips-unknown-linux-gnu").unwrap_err().to_string();
        assert!(e.contains("unknown target 'mips-unknown-linux-gnu'") && e.contains("thumbv7em-none-eabihf"), "{e}");
    }

    #[test]
    fn cpus_and_features_adjust_like_rustc() {
        let v3 = Target::configured("x86_64", Some("x86-64-v3"), &[]).unwrap();
        assert!(v3.has("avx2") && v3.has("fma") && v3.has("sse4.1") && !v3.has("avx512f"));
        let no_avx2 = Target::configured("x86_64", Some("x86-64-v4"), &["-avx2".into()]).unwrap();
        assert!(!no_avx2.has("avx2") && !no_avx2.has("avx512f") && !no_avx2.has("avx512vnni") && no_avx2.has("avx"), "{:?}", no_avx2.features);
        let a = Target::configured("aarch64", None, &["+dotprod,i8mm".into()]).unwrap();
        assert_eq!(a.features.iter().map(String::as_str).collect::<Vec<_>>(), ["dotprod", "i8mm", "neon"]);
        assert_eq!(a.c_flags(), ["-O2", "-march=armv8-a+dotprod+i8mm+simd"]);
        assert_eq!(a.rust_target_features(), "+dotprod,+i8mm,+neon");
        let m55 = Target::configured("cortex-m55", None, &["-mve".into()]).unwrap();
        assert!(m55.has("dsp") && !m55.has("mve") && !m55.has("mve.fp"));
        let e = Target::configured("aarch64", None, &["+avx2".into()]).unwrap_err().to_string();
        assert!(e.contains("target 'aarch64' has no feature 'avx2'; its features are dotprod, fp16, i8mm, neon"), "{e}");
        let e = Target::configured("riscv64", Some("sifive-x280"), &[]).unwrap_err().to_string();
        assert!(e.contains("target 'riscv64' has no CPU 'sifive-x280'"), "{e}");
    }

    #[test]
    fn cargo_features_pick_the_known_ones() {
        let t = Target::for_cargo("aarch64-unknown-linux-gnu", Some("neon,dotprod,fp-armv8,lse")).unwrap();
        assert_eq!(t.features.iter().map(String::as_str).collect::<Vec<_>>(), ["dotprod", "neon"]);
        let m4 = Target::for_cargo("thumbv7em-none-eabihf", Some("dsp,mclass,thumb2")).unwrap();
        assert!(m4.has("dsp"));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_host_default_is_its_detected_features() {
        let t = Target::named("x86_64").unwrap();
        assert_eq!(t.cpu, "native");
        assert_eq!(t.has("avx2"), std::arch::is_x86_feature_detected!("avx2"));
        let baseline = Target::configured("x86_64", Some("x86-64"), &[]).unwrap();
        assert!(baseline.features.is_empty());
    }
}
