//! Quantization from calibration data: one float pass over the samples
//! (`calibrate::observe`) gathers everything, then candidate quantizations
//! are scored at the model's outputs against float on the first
//! [`SCORED`] samples (for `--quantize auto`, whose search measures its
//! pick again, on the first `mixed::SEARCHED`) and the best is kept. The candidates: with and
//! without cross-layer equalization (when it finds layers to rescale;
//! equalizing balances the weights' channel ranges but can unbalance the
//! activations'), and for `--calibrate auto` its ranges and minmax's, so
//! that auto never does worse than minmax where it counts.

use super::calibrate::{self, Calibration, Method, Wanted};
use super::equalize::{self, Equalized};
use super::rewrite::{self, Equalization, Options, Quantized, Source};
use super::{bias_correction, correct, report};
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

/// What the layer-by-layer output correction (`correct`) did at the
/// outputs: it is kept when it raises their SQNR.
#[derive(Debug, Clone, Copy)]
pub struct CorrectionCheck {
    pub layers: usize,
    pub with_db: f64,
    pub without_db: f64,
    pub samples: usize,
}

impl std::fmt::Display for CorrectionCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let kept = if self.with_db > self.without_db { "applied" } else { "not applied" };
        write!(
            f,
            "output correction {kept} ({} layers matched to float; output SQNR on {} calibration samples {:.1} dB with, {:.1} dB without)",
            self.layers, self.samples, self.with_db, self.without_db
        )
    }
}

/// One candidate: its quantization, the graph and calibration it was
/// rewritten from, and its output SQNR (NaN when unscored).
struct Candidate {
    q: Quantized,
    calibration: Calibration,
    db: f64,
    /// The corrections `q` was rewritten with.
    memo: rewrite::WeightMemo,
}

/// Calibrates the prepared float `graph` on `data` with `method` and
/// rewrites it into integer operators, keeping the best candidate: for
/// auto, its ranges or minmax's on the plain graph, then that method on
/// the equalized graph when equalization rescales any layers. Each
/// candidate is scored only when there is more than one.
pub fn quantize(graph: &Graph, data: &Dataset, method: Method, options: Options) -> Result<Quantized> {
    Ok(quantize_calibrated(graph, data, method, options, None)?.scored.q)
}

/// `--quantize auto`: [`quantize`] with the candidates scored on the
/// samples the search ranks on, then the nodes to raise to 16x8 or keep in
/// float for an output SQNR of at least `min_db` against float
/// (`mixed::search`), starting from the kept candidate and its score.
pub fn quantize_auto(graph: &Graph, data: &Dataset, method: Method, options: Options, min_db: f64) -> Result<Quantized> {
    let Kept { scored, calibration, memo } = quantize_calibrated(graph, data, method, options, Some(super::mixed::SEARCHED))?;
    let (equalization, range_check, correction, g) = (scored.q.equalization, scored.q.range_check, scored.q.correction, scored.q.float.clone());
    let source = Source::Calibrated(&calibration);
    let (q, mixed) = super::mixed::search(&g, data, min_db, scored, &|keep| rewrite::quantize_choosing(&g, &source, options, keep, &memo))?;
    Ok(Quantized { equalization, range_check, correction, mixed: Some(mixed), ..q })
}

/// A quantization and its output SQNR against the first `samples` of
/// `references`, the float outputs of the first [`SCORED`] calibration
/// samples.
pub struct Scored {
    pub q: Quantized,
    pub db: f64,
    pub samples: usize,
    pub references: Vec<Vec<Tensor>>,
}

/// The candidate [`quantize_calibrated`] kept, scored against the float
/// references (none, and a NaN score, when it was not scored), and the
/// calibration it was rewritten from.
struct Kept {
    scored: Scored,
    calibration: Calibration,
    /// The corrections of the kept quantization, for its rewrites.
    memo: rewrite::WeightMemo,
}

/// [`quantize`], with the calibration of the candidate it kept. With
/// `score_on`, the candidates are scored on that many samples, even when
/// there is nothing to choose from; without, on [`SCORED`] when there is.
fn quantize_calibrated(graph: &Graph, data: &Dataset, method: Method, options: Options, score_on: Option<usize>) -> Result<Kept> {
    let mut equalized_graph = graph.clone();
    let equalized = if options.equalize { equalize::run(&mut equalized_graph)? } else { Equalized::default() };
    let channel_axes = if options.bias_correction { bias_correction::channel_axes(graph) } else { HashMap::new() };
    let rescaled = (equalized.pairs > 0).then_some(&equalized.rescaled);
    let scored = score_on.is_some() || method == Method::Auto || rescaled.is_some() || options.correct_layers;
    let wanted = Wanted { channel_axes, rescaled, references: if scored { SCORED } else { 0 } };
    let obs = calibrate::observe(graph, data, &wanted)?;
    let samples = score_on.unwrap_or(SCORED).min(obs.references.len());
    let build = |g: &Graph, rescaled, m: Method| -> Result<Candidate> {
        let calibration: Calibration = calibrate::calibration(g, &obs, m, rescaled);
        let q = rewrite::quantize(g, &Source::Calibrated(&calibration), options)?;
        let db = if scored { report::output_sqnr(&q, &obs.references[..samples], data)? } else { f64::NAN };
        let (q, db, memo) = corrected(q, db, &calibration, data, options, &obs.references[..samples])?;
        Ok(Candidate { q, calibration, db, memo })
    };
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
    let q = Quantized { equalization, range_check, ..best.q };
    Ok(Kept { scored: Scored { q, db: best.db, samples, references: obs.references }, calibration: best.calibration, memo: best.memo })
}

/// `q`, rewritten from `calibration` with options `options`, with its
/// layers corrected (`correct`) when that raises its output SQNR on the
/// first `samples` of `references` (the corrections measured on
/// [`SCORED`] samples), and that SQNR; `db` is the SQNR without.
fn corrected(q: Quantized, db: f64, calibration: &Calibration, data: &Dataset, options: Options, references: &[Vec<Tensor>]) -> Result<(Quantized, f64, rewrite::WeightMemo)> {
    if !options.correct_layers || q.correctable.is_empty() {
        return Ok((q, db, rewrite::WeightMemo::default()));
    }
    let (corrections, outputs) = correct::correct(&q, data, SCORED)?;
    let with = report::outputs_sqnr(&q, references, &outputs);
    let check = Some(CorrectionCheck { layers: corrections.len(), with_db: with, without_db: db, samples: references.len() });
    if with <= db {
        return Ok((Quantized { correction: check, ..q }, db, rewrite::WeightMemo::default()));
    }
    let memo = rewrite::WeightMemo::with_corrections(corrections);
    let q = rewrite::quantize_choosing(&q.float.clone(), &Source::Calibrated(calibration), options, &rewrite::Choices::new(), &memo)?;
    Ok((Quantized { correction: check, ..q }, with, memo))
}
