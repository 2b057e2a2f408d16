//! Builds generated models in batches: every Rust case as a module of one
//! crate and every C case linked into one program (sanitizers, `-Werror`,
//! and a second compiler's warnings), each dispatching on the case name
//! given as its first argument, then running the case's harness.

use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A case whose code `back::generate` wrote (with `--harness`) into
/// `dir()`, with the identifier it was generated under.
pub trait Generated {
    fn case(&self) -> &str;
    fn ident(&self) -> &str;
    fn dir(&self) -> &Path;
}

/// A generated case and no more.
#[derive(Debug, Clone)]
pub struct Emitted {
    pub case: String,
    pub ident: String,
    pub dir: PathBuf,
}

impl Generated for Emitted {
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

/// A built program that runs a case: `program CASE INPUTS... -o DIR`.
pub type Built = Result<PathBuf, String>;

/// One crate whose `main` runs the case named by its first argument.
pub fn build_rust_crate<G: Generated>(dir: &Path, cases: &[&G]) -> Built {
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let npy = qcc::target::runtime_files().iter().find(|(p, _)| *p == "rust/harness/npy.rs").map(|(_, t)| *t).unwrap_or_default();
    std::fs::write(dir.join("src/npy.rs"), npy).map_err(|e| e.to_string())?;
    let mut main = String::from("#![allow(unused_attributes, dead_code)]\nmod npy;\n\n");
    let mut arms = String::new();
    for p in cases {
        let src = p.dir().join("src");
        let _ = write!(
            main,
            "mod {id} {{\n    #[path = {lib:?}]\n    pub mod model;\n    use crate::npy;\n    #[path = {run:?}]\n    pub mod run;\n}}\n",
            id = p.ident(),
            lib = src.join("lib.rs"),
            run = src.join("bin/harness/run.rs")
        );
        let _ = writeln!(arms, "        {:?} => {}::run::run(&args[1..]),", p.case(), p.ident());
    }
    let _ = write!(
        main,
        "\nfn main() -> std::process::ExitCode {{\n    let args: Vec<String> = std::env::args().skip(1).collect();\n    \
         let result = match args.first().map(String::as_str).unwrap_or(\"\") {{\n{arms}        other => Err(format!(\"no case {{other}}\")),\n    }};\n    \
         match result {{\n        Ok(()) => std::process::ExitCode::SUCCESS,\n        Err(e) => {{\n            eprintln!(\"error: {{e}}\");\n            std::process::ExitCode::FAILURE\n        }}\n    }}\n}}\n"
    );
    std::fs::write(dir.join("src/main.rs"), main).map_err(|e| e.to_string())?;
    // Overflow checks and debug assertions stay on: generated code must not trip them.
    // Each batch is built once, so no incremental state (gigabytes per batch) is kept.
    let manifest = "[package]\nname = \"batch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n\n\
                    [profile.dev]\nopt-level = 1\ndebug = false\nincremental = false\noverflow-checks = true\ndebug-assertions = true\n";
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
pub fn build_c<G: Generated + Sync>(dir: &Path, cases: &[&G]) -> BTreeMap<String, Built> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let cc2 = std::env::var("QCC_CC2").unwrap_or_else(|_| "clang".into());
    let flags = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"];
    // Compile each case's sources to objects (in parallel), renaming the harness's main.
    let objects: Vec<(String, Result<Vec<PathBuf>, String>)> = cases
        .par_iter()
        .map(|p| {
            let mut objs = Vec::new();
            let mut sources: Vec<PathBuf> = std::fs::read_dir(p.dir())
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|f| f.extension().is_some_and(|x| x == "c")).collect())
                .unwrap_or_default();
            sources.sort();
            for src in sources {
                let obj = src.with_extension("o");
                let mut cmd = Command::new(&cc);
                // Weight files are constant data only: no code to sanitize or debug.
                let weights = src.file_name().is_some_and(|f| f.to_string_lossy().ends_with("_weights.c"));
                let own_flags: &[&str] = if weights { &flags[..5] } else { &flags };
                cmd.args(own_flags).arg("-c").arg(&src).arg("-o").arg(&obj).current_dir(p.dir());
                if src.file_name().is_some_and(|f| f == "harness.c") {
                    cmd.arg(format!("-Dmain=main_{}", p.ident()));
                }
                match cmd.output() {
                    Ok(o) if o.status.success() => objs.push(obj),
                    Ok(o) => return (p.case().to_string(), Err(format!("the generated C does not compile: {}", first_error(&String::from_utf8_lossy(&o.stderr))))),
                    Err(e) => return (p.case().to_string(), Err(format!("{cc}: {e}"))),
                }
                let check = Command::new(&cc2).args(&flags[..5]).arg("-fsyntax-only").arg(&src).current_dir(p.dir()).output();
                match check {
                    Ok(o) if o.status.success() => {}
                    Ok(o) => return (p.case().to_string(), Err(format!("{cc2} rejects the generated C: {}", first_error(&String::from_utf8_lossy(&o.stderr))))),
                    Err(e) => return (p.case().to_string(), Err(format!("{cc2} (set QCC_CC2 to another C compiler): {e}"))),
                }
            }
            (p.case().to_string(), Ok(objs))
        })
        .collect();
    let mut out = BTreeMap::new();
    let mut linked: Vec<(&G, Vec<PathBuf>)> = Vec::new();
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
        let _ = writeln!(main, "int main_{}(int argc, char **argv);", p.ident());
    }
    main.push_str("\nint main(int argc, char **argv) {\n    if (argc < 2) {\n        return 2;\n    }\n");
    for (p, _) in &linked {
        let _ = writeln!(main, "    if (strcmp(argv[1], \"{}\") == 0) {{\n        return main_{}(argc - 1, argv + 1);\n    }}", p.case(), p.ident());
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
        out.insert(p.case().to_string(), result.clone());
    }
    out
}

/// The first error line of a compiler's output (and the lines after it).
pub fn first_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines.iter().position(|l| l.contains("error")).unwrap_or(0);
    lines[at..].iter().take(6).copied().collect::<Vec<_>>().join(" | ")
}
