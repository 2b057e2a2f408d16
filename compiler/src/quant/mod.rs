//! Quantization: the fixed-point arithmetic of the numerics contract
//! (NUMERICS.md), quantization parameters, calibration of activation
//! ranges, and the rewrite of a float graph into integer operators.

pub mod calibrate;
pub mod fixed_point;
pub mod params;
pub mod rewrite;

use crate::dataset::Dataset;
use crate::ir::Graph;
use crate::Result;
use std::path::PathBuf;
pub use calibrate::Method;
pub use rewrite::{Options, Quantized};

/// Calibrates the prepared float `graph` on `data` with `method` and
/// rewrites it into integer operators.
pub fn quantize(graph: &Graph, data: &Dataset, method: Method, options: Options) -> Result<Quantized> {
    let ranges = calibrate::calibrate(graph, data, method)?;
    rewrite::quantize(graph, &ranges, options)
}

/// A quantization request: the calibration data, the method and the options.
#[derive(Debug, Clone)]
pub struct Quantization {
    pub calibration: PathBuf,
    pub method: Method,
    pub options: Options,
}

impl Quantization {
    /// Calibrates and rewrites the prepared float `graph`.
    pub fn apply(&self, graph: &Graph) -> Result<Quantized> {
        let data = Dataset::load(&self.calibration, graph)?;
        quantize(graph, &data, self.method, self.options)
    }
}
