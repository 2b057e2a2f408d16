//! qcc: an ahead-of-time compiler from ONNX to dependency-free Rust and C.
//!
//! ```text
//!  ONNX file --front--> IR graph --passes--> prepared graph --interp--> outputs
//!  (front::onnx)        (ir)      (passes::pipeline)         (interp)
//! ```
//!
//! The frontend imports any ONNX model into the [`ir::Graph`]; the passes fix
//! input shapes, infer types, fold constants and drop dead code; the
//! reference interpreter evaluates the result with each operator's one
//! definition of its semantics ([`ops`]). Code generation builds on the same
//! graph.

pub mod back;
mod compile;
pub mod dataset;
pub mod error;
pub mod front;
pub mod interp;
pub mod ir;
pub mod ops;
pub mod passes;
pub mod progress;
pub mod quant;
pub mod target;
pub mod tensor;
pub mod toolchain;

pub use compile::Builder;
pub use error::{Error, Result};

use std::path::Path;

/// Loads an ONNX model and prepares it for evaluation: input shapes fixed
/// from `input_shapes` (name, dims), types inferred, constants folded.
/// Errors name the file and, where one is at fault, the node.
pub fn load_model(path: &Path, input_shapes: &[(String, Vec<usize>)]) -> Result<ir::Graph> {
    let mut graph = front::onnx::load(path)?;
    passes::pipeline::prepare(&mut graph, input_shapes).map_err(|e| e.in_file(path))?;
    Ok(graph)
}
