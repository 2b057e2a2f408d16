//! The library entry point for code generation, in the style of prost-build
//! and cc: a [`Builder`] takes the model, target, options and output
//! directory, and writes the generated Rust crate or C sources. The `qcc`
//! command and build scripts both go through it.
//!
//! ```no_run
//! // build.rs
//! fn main() {
//!     qcc::Builder::new("model.onnx").name("digits").input_shape("image", &[1, 1, 8, 8]).compile().unwrap();
//! }
//! // src/lib.rs: pub mod digits { include!(concat!(env!("OUT_DIR"), "/digits.rs")); }
//! ```

use crate::back::{self, Emit, Options, Stats};
use crate::quant::Quantization;
use crate::target::Target;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Configures and runs one compilation.
#[derive(Debug, Clone)]
pub struct Builder {
    model: PathBuf,
    emit: Emit,
    target: Option<String>,
    cpu: Option<String>,
    features: Vec<String>,
    name: Option<String>,
    input_shapes: Vec<(String, Vec<usize>)>,
    harness: bool,
    out_dir: Option<PathBuf>,
    quantization: Option<Quantization>,
}

impl Builder {
    /// Compiles the ONNX model at `model`. By default: Rust, the target of
    /// the build script's `TARGET` (else the host), the name from the file
    /// stem, and the output in `OUT_DIR`.
    pub fn new(model: impl AsRef<Path>) -> Builder {
        Builder {
            model: model.as_ref().to_path_buf(),
            emit: Emit::Rust,
            target: None,
            cpu: None,
            features: Vec::new(),
            name: None,
            input_shapes: Vec::new(),
            harness: false,
            out_dir: None,
            quantization: None,
        }
    }

    /// The language: [`Emit::Rust`] (a crate, or a module file in a build
    /// script), [`Emit::RustModule`] or [`Emit::C`].
    pub fn emit(mut self, emit: Emit) -> Builder {
        self.emit = emit;
        self
    }

    /// A qcc target name or Rust triple (`qcc targets` lists them).
    pub fn target(mut self, name: &str) -> Builder {
        self.target = Some(name.to_string());
        self
    }

    /// The CPU whose features code generation may use, as rustc's
    /// `-C target-cpu` (`x86-64-v3`, `cortex-a76`, `native`).
    pub fn cpu(mut self, cpu: &str) -> Builder {
        self.cpu = Some(cpu.to_string());
        self
    }

    /// Features added or removed after the CPU's, as rustc's
    /// `-C target-feature` (`+dotprod,-fp16`).
    pub fn features(mut self, features: &str) -> Builder {
        self.features.push(features.to_string());
        self
    }

    /// The target this builder compiles for: the one named, else the build
    /// script's (Cargo's `TARGET` and `CARGO_CFG_TARGET_FEATURE`), else the
    /// host with its detected features.
    pub fn resolve_target(&self) -> Result<Target> {
        match (&self.target, std::env::var("TARGET")) {
            (Some(name), _) => Target::configured(name, self.cpu.as_deref(), &self.features),
            (None, Ok(triple)) if self.cpu.is_none() && self.features.is_empty() => Target::for_cargo(&triple, std::env::var("CARGO_CFG_TARGET_FEATURE").ok().as_deref()),
            (None, Ok(triple)) => Target::configured(&triple, self.cpu.as_deref(), &self.features),
            (None, Err(_)) => Target::configured(Target::host()?.name.as_str(), self.cpu.as_deref(), &self.features),
        }
    }

    /// The base of generated names (crate, module file, C symbols).
    pub fn name(mut self, name: &str) -> Builder {
        self.name = Some(name.to_string());
        self
    }

    /// Fixes a dynamic input shape.
    pub fn input_shape(mut self, input: &str, dims: &[usize]) -> Builder {
        self.input_shapes.push((input.to_string(), dims.to_vec()));
        self
    }

    /// Adds the program that runs the model on `.npy` files (hosted targets).
    pub fn harness(mut self, yes: bool) -> Builder {
        self.harness = yes;
        self
    }

    /// Quantizes the model (calibrated on the given data) before generating code.
    pub fn quantize(mut self, q: Quantization) -> Builder {
        self.quantization = Some(q);
        self
    }

    /// Where the files go (default: `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Builder {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Generates the code and writes it; returns the memory figures.
    pub fn compile(&self) -> Result<Stats> {
        Ok(self.compile_quantized()?.0)
    }

    /// [`Builder::compile`], with the quantized model when it quantized
    /// (for the summary of what runs in int8, 16x8 and float).
    pub fn compile_quantized(&self) -> Result<(Stats, Option<crate::quant::Quantized>)> {
        let in_build_script = std::env::var_os("OUT_DIR").is_some() && std::env::var_os("TARGET").is_some();
        if in_build_script {
            println!("cargo:rerun-if-changed={}", self.model.display());
            if let Some(path) = self.quantization.as_ref().and_then(|q| q.calibration.as_ref()) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        let out_dir = match (&self.out_dir, std::env::var_os("OUT_DIR")) {
            (Some(d), _) => d.clone(),
            (None, Some(d)) => PathBuf::from(d),
            (None, None) => return Err(Error::Usage("no output directory: call out_dir() or run from a build script".into())),
        };
        let target = self.resolve_target()?;
        let emit = match self.emit {
            Emit::Rust if in_build_script && self.out_dir.is_none() => Emit::RustModule,
            e => e,
        };
        let name = match &self.name {
            Some(n) => n.clone(),
            None => default_name(&self.model),
        };
        let name = back::check_name(&name)?;
        if self.harness && !target.hosted && !target.harness.as_ref().is_some_and(|h| h.supports(emit)) {
            return Err(Error::Usage(format!("--harness needs a hosted target or a bare-metal one with an emulated board; '{}' has none in this language", target.name)));
        }
        let mut graph = crate::front::onnx::load(&self.model)?;
        let weights = crate::quant::qdq::scan_weights(&graph);
        crate::passes::pipeline::prepare(&mut graph, &self.input_shapes).map_err(|e| e.in_file(&self.model))?;
        let mut quantized = None;
        if let Some(q) = &self.quantization {
            let result = q.apply(&graph, &weights).map_err(|e| e.in_file(&self.model))?;
            graph = result.graph.clone();
            quantized = Some(result);
        }
        let source = self.model.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let opts = Options { emit, name, target, harness: self.harness, source };
        let output = back::generate(&graph, &opts).map_err(|e| e.in_file(&self.model))?;
        back::write(&out_dir, &output.files)?;
        if let (Some(q), Some(result)) = (&self.quantization, &quantized) {
            q.write_report(result, Some(output.stats.arena)).map_err(|e| e.in_file(&self.model))?;
        }
        Ok((output.stats, quantized))
    }
}

/// A generated-name base from a model path: its file stem.
fn default_name(model: &Path) -> String {
    model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into())
}
