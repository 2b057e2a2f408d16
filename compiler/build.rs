//! Embeds the runtime templates (`../runtime-template`) and the target
//! descriptions (`../targets`) into the compiler, so the `qcc` binary is
//! self-contained: `$OUT_DIR/embedded.rs` lists every file with its text.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = String::new();
    for (name, dir) in [("RUNTIME", "runtime-template"), ("TARGETS", "targets")] {
        let base = root.join(dir);
        println!("cargo:rerun-if-changed={}", base.display());
        let mut files = Vec::new();
        collect(&base, &mut files);
        files.sort();
        writeln!(out, "/// Files under `{dir}/`: (path relative to it, contents).").unwrap();
        writeln!(out, "pub const {name}: &[(&str, &str)] = &[").unwrap();
        for f in &files {
            let rel = f.strip_prefix(&base).unwrap().to_string_lossy().replace('\\', "/");
            println!("cargo:rerun-if-changed={}", f.display());
            writeln!(out, "    ({rel:?}, include_str!({:?})),", f.canonicalize().unwrap().display().to_string()).unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(dest, out).unwrap();
}

/// Source files below `dir`, skipping build output.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                collect(&p, files);
            }
        } else if ["rs", "h", "c", "toml", "tera", "md", "mk", "x", "ld"].iter().any(|x| name.ends_with(&format!(".{x}"))) || name == "Makefile" {
            files.push(p);
        }
    }
}
