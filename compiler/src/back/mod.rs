//! Code generation: a prepared graph is lowered to a [`Program`]
//! (`lower.rs`), its buffers are placed in the arena (`plan.rs`), and a
//! backend renders it as a Rust crate (`rust/`) or C sources (`c/`).
//! Backends contain no operator-specific code.

pub mod c;
mod harness;
pub mod lower;
pub mod movement;
pub mod plan;
pub mod program;
pub mod rust;
mod weights;

use crate::ir::Graph;
use crate::target::Target;
use crate::tensor::DType;
use crate::{Error, Result};
use program::{Lit, Program, Step, View};
use std::collections::BTreeSet;
use std::path::Path;

/// The language of the generated code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// A standalone `no_std` crate (`Cargo.toml`, `src/`).
    Rust,
    /// One file `<name>.rs` defining `pub mod <name>` (plus its weight
    /// blob), for `include!` from a build script's `OUT_DIR`.
    RustModule,
    /// C99 header, source and Makefile.
    C,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub emit: Emit,
    /// Base of generated names (crate, functions, C symbols).
    pub name: String,
    pub target: Target,
    /// Add a program that runs the model on `.npy` files.
    pub harness: bool,
    /// The model file, for the generated header comment.
    pub source: String,
}

/// One generated file, by path relative to the output directory.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFile {
    pub path: String,
    pub contents: Vec<u8>,
}

impl OutputFile {
    pub fn text(path: &str, text: String) -> OutputFile {
        OutputFile { path: path.to_string(), contents: text.into_bytes() }
    }

    pub fn bytes(path: &str, bytes: Vec<u8>) -> OutputFile {
        OutputFile { path: path.to_string(), contents: bytes }
    }
}

/// Memory figures of a generated model, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Weights and tables in read-only memory.
    pub flash: usize,
    /// The working-memory arena.
    pub arena: usize,
    /// The smallest arena any placement could reach for this step order.
    pub arena_lower_bound: usize,
    /// Inputs and outputs (the caller's arrays).
    pub io: usize,
}

/// The generated files and their memory figures.
#[derive(Debug, Clone)]
pub struct Output {
    pub files: Vec<OutputFile>,
    pub stats: Stats,
}

/// Generates code for a prepared graph.
pub fn generate(graph: &Graph, opts: &Options) -> Result<Output> {
    let name = check_name(&opts.name)?;
    let opts = &Options { name, ..opts.clone() };
    let program = lower::lower(graph, &opts.name)?;
    let plan = plan::plan(&program);
    let files = match opts.emit {
        Emit::Rust => rust::emit(&program, &plan, &opts.name, &opts.source, opts.harness, &opts.target)?,
        Emit::RustModule => rust::emit_module(&program, &plan, &opts.name, &opts.source)?,
        Emit::C => c::emit(&program, &plan, &opts.name, &opts.source, opts.harness, &opts.target)?,
    };
    let io_bytes = |list: &[program::Io]| -> usize { list.iter().map(|io| io.shape.iter().product::<usize>() * program::elem_bytes(io.dtype)).sum() };
    let stats = Stats {
        flash: weights::layout(&program).bytes.len(),
        arena: plan.arena_bytes,
        arena_lower_bound: plan.lower_bound_bytes,
        io: io_bytes(&program.inputs) + io_bytes(&program.outputs),
    };
    Ok(Output { files, stats })
}

/// The base of generated names made from `name` (see
/// [`lower::identifier_base`]); an error when nothing usable remains or it
/// starts with a digit.
pub fn check_name(name: &str) -> Result<String> {
    let ident = lower::identifier_base(name);
    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(Error::Usage(format!(
            "'{name}' cannot name generated code: give --name with a letter first, then letters, digits or '_'"
        )));
    }
    Ok(ident)
}

/// Renders the template at `path` under `runtime-template/`.
fn render(path: &str, ctx: &tera::Context) -> Result<String> {
    let text = crate::target::runtime_files()
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, t)| *t)
        .ok_or_else(|| Error::Op(format!("internal error: template {path} is missing")))?;
    let mut tera = tera::Tera::new();
    tera.add_raw_template(path, text).map_err(|e| Error::Op(format!("internal error in template {path}: {e}")))?;
    tera.render(path, ctx).map_err(|e| Error::Op(format!("internal error rendering {path}: {e}")))
}

/// A file of `targets/<target>/` named in its `[harness]` table.
fn target_file(target: &Target, file: &str) -> Result<&'static str> {
    crate::target::target_files(&target.name)
        .into_iter()
        .find(|(p, _)| *p == file)
        .map(|(_, text)| text)
        .ok_or_else(|| Error::Op(format!("targets/{}/{file}, named in its [harness] table, is missing", target.name)))
}

/// Writes generated files under `dir`, creating folders as needed.
pub fn write(dir: &Path, files: &[OutputFile]) -> Result<()> {
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, &f.contents).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// The short name of an element type in generated names (`f32`, `i8`, ...).
pub fn type_suffix(d: DType) -> &'static str {
    match d {
        DType::F32 => "f32",
        DType::F64 => "f64",
        DType::F16 => "f16",
        DType::BF16 => "bf16",
        DType::I8 => "i8",
        DType::I16 => "i16",
        DType::I32 => "i32",
        DType::I64 => "i64",
        DType::U8 => "u8",
        DType::U16 => "u16",
        DType::U32 => "u32",
        DType::U64 => "u64",
        DType::Bool => "bool",
        // Unpacked small types are bytes.
        _ => "u8",
    }
}

/// A literal reduced to what both backends print.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LitValue {
    Bool(bool),
    Int(i64, DType),
    Float(f64, DType),
}

/// The printable value of a literal.
pub fn lit_value(l: &Lit) -> LitValue {
    match l {
        Lit::Bool(b) => LitValue::Bool(*b),
        Lit::Int(v) => LitValue::Int(*v, DType::I64),
        Lit::Float(v, d) => LitValue::Float(*v, *d),
        Lit::Elem(e) => {
            let t = &e.value;
            match e.dtype {
                DType::Bool => LitValue::Bool(t.to_f64_vec().ok().and_then(|v| v.first().copied()).unwrap_or(0.0) != 0.0),
                d if d.is_float() => LitValue::Float(t.to_f64_vec().ok().and_then(|v| v.first().copied()).unwrap_or(0.0), d),
                d if d.is_small() => {
                    let bits = match &**t {
                        crate::tensor::Tensor::Small(_, a) => a.iter().next().copied().unwrap_or(0),
                        _ => 0,
                    };
                    LitValue::Int(bits as i64, DType::U8)
                }
                d => LitValue::Int(t.to_i64_vec().ok().and_then(|v| v.first().copied()).unwrap_or(0), d),
            }
        }
    }
}

/// Drops unit dimensions and merges dimensions that every view walks
/// contiguously, so loop nests stay shallow.
pub fn collapse(shape: &[usize], views: &[&View]) -> (Vec<usize>, Vec<View>) {
    let mut dims: Vec<usize> = Vec::new();
    let mut strides: Vec<Vec<isize>> = vec![Vec::new(); views.len()];
    for (k, &d) in shape.iter().enumerate() {
        if d == 1 {
            continue;
        }
        let mergeable = !dims.is_empty()
            && views.iter().zip(&strides).all(|(v, s)| s.last().is_some_and(|&prev| prev == v.strides[k] * d as isize));
        if mergeable {
            let last = dims.len() - 1;
            dims[last] *= d;
            for (s, v) in strides.iter_mut().zip(views) {
                let l = s.len() - 1;
                s[l] = v.strides[k];
            }
        } else {
            dims.push(d);
            for (s, v) in strides.iter_mut().zip(views) {
                s.push(v.strides[k]);
            }
        }
    }
    let views = views.iter().zip(strides).map(|(v, strides)| View { operand: v.operand, offset: v.offset, strides }).collect();
    (dims, views)
}

/// Runtime modules a program uses.
pub struct RuntimeModules {
    /// Top-level modules (`scalar`, `ops`, `math`, `index`).
    pub base: BTreeSet<&'static str>,
    /// Kernel modules.
    pub kernels: BTreeSet<&'static str>,
}

pub fn runtime_modules(p: &Program) -> RuntimeModules {
    let mut base: BTreeSet<&'static str> = ["scalar", "ops", "math", "index", "fixed_point"].into_iter().collect();
    let mut kernels = BTreeSet::new();
    for a in &p.steps {
        if let Step::Call(c) = &a.step {
            kernels.insert(c.module);
        }
    }
    kernels.extend(p.modules.iter().map(|(m, _)| *m));
    base.insert("scalar");
    RuntimeModules { base, kernels }
}

#[cfg(test)]
mod tests {
    use super::program::Operand;
    use super::*;

    #[test]
    fn collapse_merges_contiguous_dims_and_drops_units() {
        let a = View { operand: Operand::Buf(0), offset: 0, strides: vec![12, 4, 1, 0] };
        let b = View { operand: Operand::Buf(1), offset: 0, strides: vec![12, 4, 1, 0] };
        let (shape, views) = collapse(&[2, 3, 4, 1], &[&a, &b]);
        assert_eq!(shape, vec![24]);
        assert_eq!(views[0].strides, vec![1]);
        // A broadcast input stops the merge.
        let c = View { operand: Operand::Buf(2), offset: 0, strides: vec![0, 1, 0] };
        let d = View { operand: Operand::Buf(3), offset: 0, strides: vec![6, 2, 1] };
        let (shape, views) = collapse(&[4, 3, 2], &[&d, &c]);
        assert_eq!(shape, vec![4, 3, 2]);
        assert_eq!(views[1].strides, vec![0, 1, 0]);
    }
}
