//! Quantization from calibration data: one float pass over the samples
//! (`calibrate::observe`) gathers everything, then candidate quantizations
//! are scored at the model's outputs against float on the first
//! [`SCORED`] samples and the best is kept. The candidates: with and
//! without cross-layer equalization (when it finds layers to rescale;
//! equalizing balances the weights' channel ranges but can unbalance the
//! activations'), and for `--calibrate auto` its ranges and minmax's, so
//! that auto never does worse than minmax where it counts.

use super::calibrate::{self, Calibration, Method, Wanted};
use super::equalize::{self, Equalized};
use super::rewrite::{self, Equalization, Options, Quantized, Source};
use super::{bias_correction, report};
use crate::dataset::Dataset;
use crate::ir::Graph;
use crate::tensor::Tensor;
use crate::Result;
use std::collections::HashMap;

/// Calibration samples the candidates are scored on (fewer if the data
/// has fewer).
pub const SCORED: usize = 16;

/// How auto's ranges did against minmax's at the outputs.
#[derive(Debug, Clone, Copy)]
pub struct RangeCheck {
    pub auto_db: f64,
    pub minmax_db: f64,
    pub samples: usize,
}

impl std::fmt::Display for RangeCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let kept = if self.auto_db > self.minmax_db { "auto" } else { "minmax" };
        write!(
            f,
            "calibration: {kept} ranges kept (output SQNR on {} calibration samples {:.1} dB auto, {:.1} dB minmax)",
            self.samples, self.auto_db, self.minmax_db
        )
    }
}

/// One candidate: its quantization, the graph and calibration it was
/// rewritten from, and its output SQNR (NaN when unscored).
struct Candidate {
    q: Quantized,
    calibration: Calibration,
    db: f64,
}

/// Calibrates the prepared float `graph` on `data` with `method` and
/// rewrites it into integer operators, keeping the best candidate: for
/// auto, its ranges or minmax's on the plain graph, then that method on
/// the equalized graph when equalization rescales any layers. Each
/// candidate is scored only when there is more than one.
pub fn quantize(graph: &Graph, data: &Dataset, method: Method, options: Options) -> Result<Quantized> {
    Ok(quantize_calibrated(graph, data, method, options, false)?.q)
}

/// `--quantize auto`: [`quantize`], then the nodes to keep in float for an
/// output SQNR of at least `min_db` against float (`mixed::search`),
/// starting from the kept candidate and its score.
pub fn quantize_auto(graph: &Graph, data: &Dataset, method: Method, options: Options, min_db: f64) -> Result<Quantized> {
    let kept = quantize_calibrated(graph, data, method, options, true)?;
    let (equalization, range_check, g) = (kept.q.equalization, kept.q.range_check, kept.q.float.clone());
    let source = Source::Calibrated(&kept.calibration);
    let start = Scored { q: kept.q, db: kept.db, references: kept.references };
    let (q, mixed) = super::mixed::search(&g, data, min_db, start, &|keep| rewrite::quantize_choosing(&g, &source, options, keep))?;
    Ok(Quantized { equalization, range_check, mixed: Some(mixed), ..q })
}

/// A quantization and its output SQNR against `references`, the float
/// outputs of the first calibration samples.
pub struct Scored {
    pub q: Quantized,
    pub db: f64,
    pub references: Vec<Vec<Tensor>>,
}

/// The candidate [`quantize_calibrated`] kept, with the float references it
/// was scored against (none when it was not scored).
struct Kept {
    q: Quantized,
    calibration: Calibration,
    db: f64,
    references: Vec<Vec<Tensor>>,
}

/// [`quantize`], with the calibration of the candidate it kept; `score`
/// scores it even when there is nothing to choose from.
fn quantize_calibrated(graph: &Graph, data: &Dataset, method: Method, options: Options, score: bool) -> Result<Kept> {
    let mut equalized_graph = graph.clone();
    let equalized = if options.equalize { equalize::run(&mut equalized_graph)? } else { Equalized::default() };
    let channel_axes = if options.bias_correction { bias_correction::channel_axes(graph) } else { HashMap::new() };
    let rescaled = (equalized.pairs > 0).then_some(&equalized.rescaled);
    let scored = score || method == Method::Auto || rescaled.is_some();
    let wanted = Wanted { channel_axes, rescaled, references: if scored { SCORED } else { 0 } };
    let obs = calibrate::observe(graph, data, &wanted)?;
    let build = |g: &Graph, rescaled, m: Method| -> Result<Candidate> {
        let calibration: Calibration = calibrate::calibration(g, &obs, m, rescaled);
        let q = rewrite::quantize(g, &Source::Calibrated(&calibration), options)?;
        let db = if scored { report::output_sqnr(&q, &obs.references, data)? } else { f64::NAN };
        Ok(Candidate { q, calibration, db })
    };
    let samples = obs.references.len();
    let mut best = build(graph, None, method)?;
    let mut range_check = None;
    let mut kept_method = method;
    if method == Method::Auto {
        let minmax = build(graph, None, Method::MinMax)?;
        range_check = Some(RangeCheck { auto_db: best.db, minmax_db: minmax.db, samples });
        // On a tie the unclipped ranges are the safer choice.
        if minmax.db >= best.db {
            (best, kept_method) = (minmax, Method::MinMax);
        }
    }
    let mut equalization = None;
    if let Some(factors) = rescaled {
        let with = build(&equalized_graph, Some(factors), kept_method)?;
        equalization = Some(Equalization { pairs: equalized.pairs, kept: with.db > best.db, sqnr_without: best.db, sqnr_with: with.db, samples });
        if with.db > best.db {
            best = with;
        }
    }
    Ok(Kept { q: Quantized { equalization, range_check, ..best.q }, calibration: best.calibration, db: best.db, references: obs.references })
}
