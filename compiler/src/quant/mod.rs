//! Quantization: the fixed-point arithmetic of the numerics contract
//! (NUMERICS.md), quantization parameters, calibration of activation
//! ranges, and the rewrite of a float graph into integer operators.

pub mod bias_correction;
pub mod calibrate;
pub mod correct;
pub mod equalize;
pub mod fixed_point;
pub mod gptq;
pub mod mixed;
pub mod params;
pub mod qdq;
pub mod qoperator;
pub mod report;
pub mod rewrite;
mod select;

use crate::dataset::Dataset;
use crate::ir::{Graph, ValueId};
use crate::{Error, Result};
use qdq::{Given, WeightScales};
use rewrite::Source;
use std::collections::HashMap;
use std::path::PathBuf;
pub use calibrate::{Calibration, Method};
pub use rewrite::{Equalization, Options, Quantized};
pub use select::{quantize, quantize_auto, CorrectionCheck, RangeCheck};

/// A quantization request: the calibration data (none for a model that
/// carries its own scales in QDQ form), the method and the options.
#[derive(Debug, Clone)]
pub struct Quantization {
    pub calibration: Option<PathBuf>,
    pub method: Method,
    pub options: Options,
    /// `--quantize auto`: the output SQNR (dB) to keep against float, with
    /// float where int8 costs too much (`mixed`); `None`: all int8.
    pub min_sqnr: Option<f64>,
    /// Where to write the report (Markdown, and JSON next to it).
    pub report: Option<PathBuf>,
}

impl Quantization {
    /// Rewrites the prepared `graph` into integer operators, after folding
    /// BatchNormalization and per-channel scales and biases into Conv
    /// (`passes::fold_into_conv`) and fusing written-out layer
    /// normalizations: calibrated on the data, or with the
    /// scales of its QDQ pairs and of the weights `weights` (from
    /// [`qdq::scan_weights`] before preparation).
    pub fn apply(&self, graph: &Graph, weights: &HashMap<ValueId, WeightScales>) -> Result<Quantized> {
        let mut g = graph.clone();
        crate::passes::fold_into_conv::run(&mut g)?;
        crate::passes::fuse_layer_norm::run(&mut g)?;
        crate::passes::commute_constants::run(&mut g)?;
        let mut weights = weights.clone();
        if self.calibration.is_none() {
            weights.extend(qoperator::expand(&mut g)?);
            weights.extend(qdq::expand_qlinear(&mut g)?);
        }
        if let Some(path) = &self.calibration {
            let data = Dataset::load(path, &g)?;
            data.check_samples(&g)?;
            return match self.min_sqnr {
                Some(db) => quantize_auto(&g, &data, self.method, self.options, db),
                None => quantize(&g, &data, self.method, self.options),
            };
        }
        if self.min_sqnr.is_some() {
            return Err(Error::Usage("--quantize auto measures the model against float on calibration data: give --calibration DATA".into()));
        }
        let activations = qdq::strip(&mut g)?;
        if activations.is_empty() && g.nodes().into_iter().any(|n| g.node(n).op_type == "DynamicQuantizeLinear") {
            return Err(Error::Usage(
                "the model is dynamically quantized (DynamicQuantizeLinear before ConvInteger/MatMulInteger): compile it without --quantize to run it as it is, or give --calibration DATA to quantize it statically".into(),
            ));
        }
        if activations.is_empty() {
            return Err(Error::Usage(
                "the model carries no QuantizeLinear/DequantizeLinear pairs (or QLinearConv/QLinearMatMul/com.microsoft QLinear ops with constant parameters); give calibration data with --calibration DATA".into(),
            ));
        }
        let given = Given { activations, weights };
        rewrite::quantize(&g, &Source::Given(&given), self.options)
    }

    /// Writes the report of `q`, if one was asked for; `arena` is the
    /// generated code's, when compiled.
    pub fn write_report(&self, q: &Quantized, arena: Option<usize>) -> Result<()> {
        let Some(path) = &self.report else { return Ok(()) };
        let data = self.calibration.as_ref().map(|p| Dataset::load(p, &q.float)).transpose()?;
        let mut r = report::build(q, data.as_ref())?;
        r.arena = arena;
        r.write(path)
    }
}
