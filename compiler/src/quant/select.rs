//! Quantization from calibration data: one float pass over the samples
//! (`calibrate::observe`) gathers everything, then candidate quantizations
//! are scored at the model's outputs against float on the first
//! [`SCORED`] samples (for `--quantize auto`, whose search measures its
//! pick again, on the first `mixed::SEARCHED`) and the best is kept. The
//! candidates: with and without cross-layer equalization (when it finds
//! layers to rescale; equalizing balances the weights' channel ranges but
//! can unbalance the activations'), and for `--calibrate auto` its ranges
//! and minmax's, so that auto never does worse than minmax where it
//! counts. With the layer-by-layer output correction on (`correct`), the
//! candidates are compared corrected, and the kept one's correction must
//! also win on samples it was not fitted on; when it does not, the
//! candidates are compared again without it.

use super::calibrate::{self, Calibration, Method, Observed, Wanted};
use super::equalize::{self, Equalized};
use super::rewrite::{self, Correction, Equalization, Options, Quantized, Source};
use super::report::{self, Energy};
use super::gptq::Gram;
use super::{bias_correction, correct};
use crate::dataset::Dataset;
use crate::ir::{Graph, NodeId, ValueId};
use crate::tensor::Tensor;
use crate::Result;
use std::collections::HashMap;
use std::sync::Arc;

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
/// outputs: fitted on some calibration samples and checked on others; when
/// it raises their SQNR, the correction fitted on all scored samples is
/// kept.
#[derive(Debug, Clone, Copy)]
pub struct CorrectionCheck {
    pub layers: usize,
    pub with_db: f64,
    pub without_db: f64,
    pub fitted: usize,
    pub checked: usize,
}

impl CorrectionCheck {
    pub fn kept(&self) -> bool {
        self.with_db > self.without_db
    }
}

impl std::fmt::Display for CorrectionCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let kept = if self.kept() { "applied" } else { "not applied" };
        write!(
            f,
            "output correction {kept} ({} layers matched to float; fitted on {} calibration samples, output SQNR on {} others {:.1} dB with, {:.1} dB without)",
            self.layers, self.fitted, self.checked, self.with_db, self.without_db
        )
    }
}

/// One candidate: its quantization and the calibration it was rewritten
/// from, its ranges' method, whether its graph is the equalized one, and
/// its output SQNR on the scored samples without and with the output
/// correction fitted on them (with its corrections), each measured when
/// first asked for.
struct Candidate {
    q: Quantized,
    /// The weight codes and Gram matrices its rewrites share.
    memo: rewrite::WeightMemo,
    calibration: Calibration,
    method: Method,
    equalized: bool,
    plain: Option<f64>,
    fitted: Option<(HashMap<NodeId, Correction>, f64)>,
}

/// How candidates are compared: their output SQNR without, or with, the
/// output correction fitted on the scored samples.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Score {
    Plain,
    Corrected,
}

/// The candidates of one calibration, built and scored as the choice
/// needs them.
struct Pool<'a> {
    graph: &'a Graph,
    equalized_graph: &'a Graph,
    rescaled: Option<&'a HashMap<ValueId, Vec<f64>>>,
    pairs: usize,
    obs: &'a Observed,
    data: &'a Dataset,
    options: Options,
    samples: usize,
    built: Vec<Candidate>,
}

impl Pool<'_> {
    /// The candidate with ranges by `method` on the plain or equalized
    /// graph, built on first use.
    fn get(&mut self, method: Method, equalized: bool) -> Result<usize> {
        if let Some(i) = self.built.iter().position(|c| c.method == method && c.equalized == equalized) {
            return Ok(i);
        }
        let (g, rescaled) = if equalized { (self.equalized_graph, self.rescaled) } else { (self.graph, None) };
        let calibration: Calibration = calibrate::calibration(g, self.obs, method, rescaled);
        let memo = rewrite::WeightMemo::with_grams(self.grams(equalized));
        let q = rewrite::quantize_choosing(g, &Source::Calibrated(&calibration), self.options, &rewrite::Choices::new(), &memo)?;
        self.built.push(Candidate { q, memo, calibration, method, equalized, plain: None, fitted: None });
        Ok(self.built.len() - 1)
    }

    /// The input Gram matrices of the weighted layers of the plain or the
    /// equalized graph (where equalization rescales a layer's input, its
    /// matrix rescaled alike; dropped where that cannot be done).
    fn grams(&self, equalized: bool) -> Arc<HashMap<NodeId, Gram>> {
        let plain = self.obs.grams.clone();
        let Some(rescaled) = self.rescaled.filter(|_| equalized) else { return plain };
        let input = |n: NodeId| self.graph.node_inputs(n).first().copied().flatten();
        let grams = plain.iter().filter_map(|(&n, gram)| match input(n).and_then(|x| rescaled.get(&x)) {
            Some(factors) => Some((n, gram.rescaled(factors)?)),
            None => Some((n, gram.clone())),
        });
        Arc::new(grams.collect())
    }

    /// Candidate `i`'s output SQNR under `score` (plain where it has no
    /// layer to correct).
    fn score(&mut self, i: usize, score: Score) -> Result<f64> {
        let (obs, data, samples) = (self.obs, self.data, self.samples);
        let c = &mut self.built[i];
        if score == Score::Corrected && !c.q.correctable.is_empty() {
            if c.fitted.is_none() {
                let all: Vec<usize> = (0..samples).collect();
                let (corrections, outputs) = correct::correct(&c.q, data, &all, samples, &correct::float_moments(obs, c.equalized, &all))?;
                c.fitted = Some((corrections, Energy::total_db(&energies_of(&c.q, obs, &all, &outputs))));
            }
            return Ok(c.fitted.as_ref().map_or(f64::NAN, |f| f.1));
        }
        if c.plain.is_none() {
            c.plain = Some(report::output_sqnr(&c.q, &obs.references[..samples], data)?);
        }
        Ok(c.plain.unwrap_or(f64::NAN))
    }

    /// The best candidate under `score` for `method`: for auto, its ranges
    /// or minmax's on the plain graph, then that method on the equalized
    /// graph when equalization rescales any layers; with what the
    /// comparisons measured.
    fn choose(&mut self, method: Method, score: Score) -> Result<(usize, Option<RangeCheck>, Option<Equalization>)> {
        let mut best = self.get(method, false)?;
        let mut range_check = None;
        if method == Method::Auto {
            let minmax = self.get(Method::MinMax, false)?;
            let (auto_db, minmax_db) = (self.score(best, score)?, self.score(minmax, score)?);
            range_check = Some(RangeCheck { auto_db, minmax_db, samples: self.samples });
            // On a tie the unclipped ranges are the safer choice.
            if minmax_db >= auto_db {
                best = minmax;
            }
        }
        let mut equalization = None;
        if self.rescaled.is_some() {
            let with = self.get(self.built[best].method, true)?;
            let (sqnr_without, sqnr_with) = (self.score(best, score)?, self.score(with, score)?);
            equalization = Some(Equalization { pairs: self.pairs, kept: sqnr_with > sqnr_without, sqnr_without, sqnr_with, samples: self.samples });
            if sqnr_with > sqnr_without {
                best = with;
            }
        }
        Ok((best, range_check, equalization))
    }
}

/// Calibrates the prepared float `graph` on `data` with `method` and
/// rewrites it into integer operators, keeping the best candidate: for
/// auto, its ranges or minmax's on the plain graph, then that method on
/// the equalized graph when equalization rescales any layers. Each
/// candidate is scored only when there is more than one.
pub fn quantize(graph: &Graph, data: &Dataset, method: Method, options: Options) -> Result<Quantized> {
    Ok(quantize_calibrated(graph, data, method, options, None, false)?.scored.q)
}

/// `--quantize auto`: [`quantize`] with the candidates scored on the
/// samples the search ranks on, then the nodes to raise to 16x8 or keep in
/// float for an output SQNR of at least `min_db` against float
/// (`mixed::search`), starting from the kept candidate and its score.
pub fn quantize_auto(graph: &Graph, data: &Dataset, method: Method, options: Options, min_db: f64) -> Result<Quantized> {
    let Kept { scored, calibration, memo } = quantize_calibrated(graph, data, method, options, Some(super::mixed::SEARCHED), true)?;
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
/// With the output correction on, each candidate is compared with the
/// correction fitted on the scored samples; the one kept keeps its
/// correction only if the correction, fitted on half the samples, raises
/// the output SQNR on the other half. `wide_layers`: the caller raises
/// layers to 16x8 (`--quantize auto`), whose weights are rounded against
/// the input Gram matrices the calibration pass then gathers.
fn quantize_calibrated(graph: &Graph, data: &Dataset, method: Method, options: Options, score_on: Option<usize>, wide_layers: bool) -> Result<Kept> {
    // Where per-channel weight scales make it free, the channels between a
    // layer and a depthwise one are equalized by their activation ranges,
    // in every candidate (equalize.rs). Not under `--quantize auto`, whose
    // search ranks and raises the layers of the graph as it is (measured
    // there: PP-OCRv4's detector 31.9 → 29.5 dB held out, below the
    // target, and the recognizer's search 10 → 17 s).
    let activation = options.equalize && !options.per_tensor && !wide_layers;
    let (mut prepared, mut depthwise_equalized) = (None, 0);
    if activation {
        let mut g = graph.clone();
        depthwise_equalized = equalize::depthwise_by_activation(&mut g, SCORED.min(data.len()), &|i| data.sample(i))?;
        prepared = Some(g);
    }
    let graph = prepared.as_ref().unwrap_or(graph);
    let mut equalized_graph = graph.clone();
    let equalized = if options.equalize { equalize::run(&mut equalized_graph, !activation)? } else { Equalized::default() };
    let channel_axes = if options.bias_correction { bias_correction::channel_axes(graph) } else { HashMap::new() };
    let rescaled = (equalized.pairs > 0).then_some(&equalized.rescaled);
    let scored = score_on.is_some() || method == Method::Auto || rescaled.is_some() || options.correct_layers;
    let moments = if options.correct_layers { correct::layer_outputs(graph) } else { HashMap::new() };
    let grams = options.gptq && wide_layers;
    let wanted = Wanted { channel_axes, rescaled, references: if scored { SCORED } else { 0 }, moments, grams };
    let obs = calibrate::observe(graph, data, &wanted)?;
    let samples = score_on.unwrap_or(SCORED).min(obs.references.len());
    let mut pool = Pool { graph, equalized_graph: &equalized_graph, rescaled, pairs: equalized.pairs, obs: &obs, data, options, samples, built: Vec::new() };
    let split = if options.correct_layers { validation_split(samples) } else { None };
    let (mut best, mut range_check, mut equalization) = pool.choose(method, if split.is_some() { Score::Corrected } else { Score::Plain })?;
    let mut check = None;
    if split.is_some() {
        // Fits the correction of a candidate the choice did not compare.
        pool.score(best, Score::Corrected)?;
    }
    if let Some((fit, checked)) = split.filter(|_| pool.built[best].fitted.is_some()) {
        let c = &pool.built[best];
        let validation = validated(&c.q, data, &obs, c.equalized, &fit, &checked)?;
        check = Some(validation);
        if !validation.kept() {
            (best, range_check, equalization) = pool.choose(method, Score::Plain)?;
        }
    }
    let kept = check.is_some_and(|c| c.kept());
    let db = if score_on.is_some() && !kept { pool.score(best, Score::Plain)? } else { f64::NAN };
    let Candidate { q, memo, calibration, fitted, .. } = pool.built.swap_remove(best);
    let (q, db) = match fitted {
        Some((corrections, fitted_db)) if kept => {
            memo.set_corrections(corrections);
            let q = rewrite::quantize_choosing(&q.float.clone(), &Source::Calibrated(&calibration), options, &rewrite::Choices::new(), &memo)?;
            (q, fitted_db)
        }
        _ => (q, db),
    };
    let q = Quantized { equalization, depthwise_equalized, range_check, correction: check, ..q };
    Ok(Kept { scored: Scored { q, db, samples, references: obs.references }, calibration, memo })
}

/// The scored samples split to check the output correction: fitted on
/// the even ones, checked on the odd ones (None with fewer than two, when
/// the correction is not used).
fn validation_split(samples: usize) -> Option<(Vec<usize>, Vec<usize>)> {
    (samples >= 2).then(|| (0..samples).partition(|i| i % 2 == 0))
}

/// The per-sample output errors of `outputs`, the outputs of `q.graph` on
/// the samples `samples`.
fn energies_of(q: &Quantized, obs: &Observed, samples: &[usize], outputs: &[Vec<Tensor>]) -> Vec<Energy> {
    samples.iter().zip(outputs).map(|(&i, got)| report::output_energy(q, &obs.references[i], got)).collect()
}

/// The output correction of `q` fitted on the samples `fit` and checked on
/// `check` against `q` without it.
fn validated(q: &Quantized, data: &Dataset, obs: &Observed, equalized: bool, fit: &[usize], check: &[usize]) -> Result<CorrectionCheck> {
    let order: Vec<usize> = fit.iter().chain(check).copied().collect();
    let (corrections, outputs) = correct::correct(q, data, &order, fit.len(), &correct::float_moments(obs, equalized, fit))?;
    let with = energies_of(q, obs, check, &outputs[fit.len()..]);
    let without = report::output_energies(q, &obs.references, data, check)?;
    Ok(CorrectionCheck { layers: corrections.len(), with_db: Energy::total_db(&with), without_db: Energy::total_db(&without), fitted: fit.len(), checked: check.len() })
}
