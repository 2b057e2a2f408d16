//! `--quantize auto`: int8 wherever the model's outputs stay within a
//! target SQNR of float, 16x8 (int16 activations) where int8 costs too
//! much, float where even 16x8 does.
//!
//! The search starts from the all-int8 model. When its output SQNR against
//! float on the first [`SEARCHED`] calibration samples, then on the first
//! [`SCORED`], is below the target (plus [`MARGIN_DB`], since held-out
//! inputs see a little less), every
//! quantized value is ranked by the noise its own codes add: its measured
//! noise-to-signal ratio minus the largest of the values it is computed
//! from (so error that merely flows through is not blamed twice). Raising
//! a value's precision raises the nodes that compute it (back to the
//! quantized values they read: a fused activation or an elementwise chain
//! comes with its producer) and the nodes that read it: int8 to 16x8, and
//! 16x8 to float when the value ranks again. Search in rounds: rank the
//! current model's values, raise the top of them, as many as would bring
//! the outputs to the target if their noise were the sum of the noise the
//! values add ([`budgeted`]; at least [`GROWTH`] times the last round's
//! count), and measure; re-ranked in between, since error that was hidden
//! behind a worse value shows once that one is fixed. In the round that
//! reaches the target, the fewest of its values that still do are found
//! by bisection. The rounds run on the first [`SEARCHED`] samples; what they
//! find is measured on [`SCORED`] (then the larger sets of the bisection
//! that reached the target), and the search goes on from there on all of
//! them when that falls short. Every step is a real quantization run
//! through the integer oracle, so the figure printed is measured, not
//! estimated.

use super::report;
use super::params::QParams;
use super::rewrite::{clamp_consumer, Choices, Precision, Quantized};
use super::select::{Scored, SCORED};
use crate::dataset::Dataset;
use crate::ir::{Graph, NodeId, ValueId};
use crate::tensor::Tensor;
use crate::Result;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

/// The output SQNR (dB) `--quantize auto` aims for unless told otherwise.
pub const DEFAULT_MIN_SQNR: f64 = 30.0;
/// What the search adds to the target on its samples.
pub const MARGIN_DB: f64 = 1.0;

/// What the search found, for the summary.
#[derive(Debug, Clone, Copy)]
pub struct Mixed {
    pub target_db: f64,
    pub achieved_db: f64,
    pub all_int8_db: f64,
    /// Calibration samples the all-int8 figure is measured on.
    pub all_int8_samples: usize,
    pub samples: usize,
    /// Quantized values raised to 16x8, and kept in float.
    pub wide_values: usize,
    pub float_values: usize,
    pub int8_macs: u64,
    pub wide_macs: u64,
    pub float_macs: u64,
}

impl std::fmt::Display for Mixed {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let total = (self.int8_macs + self.wide_macs + self.float_macs).max(1) as f64;
        let share = |m: u64| 100.0 * m as f64 / total;
        write!(
            f,
            "auto: output SQNR {:.1} dB on {} calibration samples (target {:.1} dB; all int8 {:.1} dB on {}); {} values in 16x8, {} in float; MACs {:.1} % int8, {:.1} % 16x8, {:.1} % float",
            self.achieved_db,
            self.samples,
            self.target_db,
            self.all_int8_db,
            self.all_int8_samples,
            self.wide_values,
            self.float_values,
            share(self.int8_macs),
            share(self.wide_macs),
            share(self.float_macs)
        )
    }
}

/// Searches the precision of the nodes of the prepared float graph `g` so
/// that `rewrite` (the quantizing rewrite of `g` with the given choices;
/// `start` is its result without any, scored against the float outputs of
/// the first [`SCORED`] samples of `data` or fewer) reaches `min_db` at the
/// outputs: first on [`SEARCHED`] samples, then checked on [`SCORED`]; when
/// the check falls short, the larger candidates of the last round are
/// checked, and when they do too, the search goes on from there on all
/// [`SCORED`].
pub fn search(g: &Graph, data: &Dataset, min_db: f64, start: Scored, rewrite: &dyn Fn(&Choices) -> Result<Quantized>) -> Result<(Quantized, Mixed)> {
    let goal = min_db + MARGIN_DB;
    let Scored { q, db: all_int8_db, samples: all_int8_samples, references } = start;
    let scoring = Scoring { g, data, rewrite, references: &references[..SCORED.min(references.len())], floats: None };
    let start = Step { raised: Vec::new(), q, db: all_int8_db };
    let found = match (all_int8_db >= goal, all_int8_samples >= scoring.references.len()) {
        (true, true) => start,
        (reached, _) => {
            let floats = RefCell::new(Vec::new());
            let searched = Scoring { references: &scoring.references[..SEARCHED.min(scoring.references.len())], floats: Some(&floats), ..scoring };
            // All int8 may have reached the goal on the searched samples only.
            let coarse = if reached { Climbed { best: start, larger: Vec::new() } } else { climb(&searched, goal, start)? };
            let mut checked = Step { db: scoring.score(&coarse.best.q)?, ..coarse.best };
            // Close to the goal on fewer samples may fall short on all: the
            // round's larger candidates that reached it come next.
            for raised in coarse.larger {
                if checked.db >= goal {
                    break;
                }
                checked = scoring.step(raised)?;
            }
            if checked.db >= goal || searched.references.len() >= scoring.references.len() {
                checked
            } else {
                climb(&scoring, goal, checked)?.best
            }
        }
    };
    let (int8_macs, wide_macs, float_macs) = macs(&found.q)?;
    let wide_values = found.raised.iter().filter(|r| r.level == Level::Wide).count();
    let float_values = found.raised.len() - wide_values;
    let mixed = Mixed { target_db: min_db, achieved_db: found.db, all_int8_db, all_int8_samples, samples: scoring.references.len(), wide_values, float_values, int8_macs, wide_macs, float_macs };
    Ok((found.q, mixed))
}

/// How candidates are built and measured: the float graph, the data, the
/// quantizing rewrite, the float outputs of the samples measured on, and
/// the float runs on those samples when they are kept between
/// measurements (see [`report::measure`]).
#[derive(Clone, Copy)]
struct Scoring<'a> {
    g: &'a Graph,
    data: &'a Dataset,
    rewrite: &'a dyn Fn(&Choices) -> Result<Quantized>,
    references: &'a [Vec<Tensor>],
    floats: Option<&'a RefCell<Vec<report::FloatRun>>>,
}

impl Scoring<'_> {
    /// The output SQNR of `q` on the samples of `references`.
    fn score(&self, q: &Quantized) -> Result<f64> {
        report::output_sqnr(q, self.references, self.data)
    }

    /// The model with the values of `raised` raised, and its score.
    fn step(&self, raised: Vec<Raised>) -> Result<Step> {
        let q = (self.rewrite)(&choices(self.g, &raised))?;
        Ok(Step { db: self.score(&q)?, raised, q })
    }

    /// `q` measured whole: its outputs and every quantized value.
    fn measure(&self, q: &Quantized) -> Result<report::Measured> {
        report::measure(self.g, q, self.data, self.references.len(), self.floats.map(|f| f.borrow_mut()).as_deref_mut())
    }
}

/// Each round raises at least this many times more values than the last.
pub const GROWTH: usize = 2;

/// Calibration samples the rounds rank and bisect on (fewer if there are
/// fewer); what they find is measured again on [`SCORED`].
pub const SEARCHED: usize = 4;

/// A model of the search: the values raised and the output SQNR reached.
struct Step {
    raised: Vec<Raised>,
    q: Quantized,
    db: f64,
}

/// What [`climb`] found: the model with the fewest raised values that
/// reached the goal (or the last one tried), and the larger sets of its
/// last round that reached it too, fewest first.
struct Climbed {
    best: Step,
    larger: Vec<Vec<Raised>>,
}

/// Raises values of `start` in rounds until the outputs reach `goal` on
/// the samples of `scoring`, or nothing is left to raise. Each round's
/// candidate is measured whole (its outputs and every quantized value in
/// one pass), so the next round ranks without running it again; the
/// bisection only needs the outputs.
fn climb(scoring: &Scoring, goal: f64, start: Step) -> Result<Climbed> {
    let g = scoring.g;
    let first = scoring.measure(&start.q)?;
    let (mut current, mut values, mut batch) = (Step { db: first.output_db, ..start }, first.values, 1);
    while current.db < goal {
        let ranked: Vec<Raised> = rank(g, &current.q, &values)
            .into_iter()
            .filter_map(|r| match current.raised.iter().find(|k| k.ranked.value == r.value).map(|k| k.level) {
                None => Some(Raised { ranked: r, level: Level::Wide }),
                Some(Level::Wide) => Some(Raised { ranked: r, level: Level::Float }),
                Some(Level::Float) => None,
            })
            .collect();
        if ranked.is_empty() {
            break;
        }
        let take = batch.max(budgeted(&ranked, current.db, goal)).min(ranked.len());
        let next = raise(&current.raised, &ranked[..take]);
        let q = (scoring.rewrite)(&choices(g, &next))?;
        let measured = scoring.measure(&q)?;
        if measured.output_db >= goal {
            // The fewest of this round's values that still reach the goal.
            let (mut lo, mut hi, mut best, mut larger) = (0, take, Step { raised: next, q, db: measured.output_db }, Vec::new());
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                let step = scoring.step(raise(&current.raised, &ranked[..mid]))?;
                if step.db >= goal {
                    larger.insert(0, std::mem::replace(&mut best, step).raised);
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return Ok(Climbed { best, larger });
        }
        (current, values, batch) = (Step { raised: next, q, db: measured.output_db }, measured.values, take * GROWTH);
    }
    Ok(Climbed { best: current, larger: Vec::new() })
}

/// The fewest of the top `ranked` values whose raising would bring the
/// outputs from `db` to `goal` if the output noise were the sum of the
/// noise the values add (each with the same weight): the rest of their
/// added noise must be at most the goal's share of the whole.
fn budgeted(ranked: &[Raised], db: f64, goal: f64) -> usize {
    let share = 10f64.powf((db - goal) / 10.0);
    let total: f64 = ranked.iter().map(|r| r.ranked.added).sum();
    let mut rest = total;
    for (i, r) in ranked.iter().enumerate() {
        if rest <= share * total {
            return i;
        }
        rest -= r.ranked.added;
    }
    ranked.len()
}

/// A precision above int8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Wide,
    Float,
}

/// A value raised to `level`, as last ranked.
#[derive(Debug, Clone)]
struct Raised {
    ranked: Ranked,
    level: Level,
}

/// `raised` with the values of `more` at their new levels.
fn raise(raised: &[Raised], more: &[Raised]) -> Vec<Raised> {
    let mut next: Vec<Raised> = raised.iter().filter(|k| !more.iter().any(|m| m.ranked.value == k.ranked.value)).cloned().collect();
    next.extend_from_slice(more);
    next
}

/// A quantized value of `g` and the noise its own codes add.
#[derive(Debug, Clone)]
struct Ranked {
    value: ValueId,
    /// The nodes computing it from quantized values ([`region`]).
    computes: Vec<NodeId>,
    /// The nodes computing the quantized values it reads ([`feeders`]).
    feeders: Vec<NodeId>,
    /// Its noise-to-signal ratio minus its inputs' (linear).
    added: f64,
    sqnr_db: f64,
}

/// Quantized values of `q` (from `g`) in decreasing order of added noise,
/// those that add none left out; `by_dst` is the SQNR of each of its
/// quantized values ([`report::measure`]).
fn rank(g: &Graph, q: &Quantized, by_dst: &HashMap<ValueId, f64>) -> Vec<Ranked> {
    let nsr: HashMap<ValueId, f64> = q.int_values.iter().filter_map(|&(s, d, _)| by_dst.get(&d).map(|&db| (s, 10f64.powf(-db / 10.0)))).collect();
    let params: HashMap<ValueId, QParams> = q.int_values.iter().map(|&(s, _, p)| (s, p)).collect();
    let mut ranked: Vec<Ranked> = nsr
        .iter()
        .map(|(&v, &n)| {
            let (computes, inputs) = region(g, v, &nsr);
            let upstream = inputs.iter().map(|u| nsr[u]).fold(0.0, f64::max);
            let feeders = feeders(g, &inputs, &params, &nsr);
            Ranked { value: v, computes, feeders, added: n - upstream, sqnr_db: -10.0 * n.log10() }
        })
        .filter(|r| r.added > 0.0)
        .collect();
    ranked.sort_by(|a, b| b.added.total_cmp(&a.added).then(a.value.cmp(&b.value)));
    ranked
}

/// The nodes computing `v` back to quantized values (those in `quantized`),
/// and those values: a value's producer, and the producers of its inputs
/// that are neither quantized, constants nor graph inputs, transitively.
fn region(g: &Graph, v: ValueId, quantized: &HashMap<ValueId, f64>) -> (Vec<NodeId>, Vec<ValueId>) {
    let (mut nodes, mut boundary, mut todo, mut seen) = (Vec::new(), Vec::new(), vec![v], HashSet::new());
    while let Some(u) = todo.pop() {
        if !seen.insert(u) {
            continue;
        }
        if u != v && quantized.contains_key(&u) {
            boundary.push(u);
            continue;
        }
        let Some((p, _)) = g.producer(u) else { continue };
        if g.value(u).constant.is_some() {
            continue;
        }
        nodes.push(p);
        todo.extend(g.node_inputs(p).into_iter().flatten());
    }
    (nodes, boundary)
}

/// The nodes computing the quantized values `reads` (see [`region`]),
/// followed back through data movement (a value with the parameters of
/// the one value it is computed from) to the operators that compute them:
/// raised with a value, they let its inputs arrive with 16-bit precision
/// instead of converted int8 codes, whose error an operator such as
/// Softmax amplifies.
fn feeders(g: &Graph, reads: &[ValueId], params: &HashMap<ValueId, QParams>, quantized: &HashMap<ValueId, f64>) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    for &read in reads {
        let mut u = read;
        loop {
            let (computes, from) = region(g, u, quantized);
            nodes.extend(computes);
            match from[..] {
                [x] if params.get(&u).is_some_and(|p| params.get(&x) == Some(p)) => u = x,
                _ => break,
            }
        }
    }
    nodes
}

/// The precision of the nodes around each raised value: those computing it
/// (see [`region`]) and those reading it; float wins over 16x8 where two
/// values share a node.
fn choices(g: &Graph, raised: &[Raised]) -> Choices {
    let mut choices = Choices::new();
    for r in raised {
        let measured = format!("the int8 codes of '{}' measured {:.1} dB", g.value(r.ranked.value).name, r.ranked.sqnr_db);
        let precision = match r.level {
            Level::Wide => Precision::Wide(format!("16x8 by --quantize auto: {measured}")),
            Level::Float => Precision::Float(format!("kept float by --quantize auto: {measured} and its 16x8 codes still added the most noise")),
        };
        let nodes = r.ranked.computes.iter().copied().chain(g.consumers(r.ranked.value).into_iter().map(|(c, _)| c));
        let feeding = Precision::Wide(format!("16x8 by --quantize auto: computes an input of '{}'", g.value(r.ranked.value).name));
        for (n, p) in nodes.map(|n| (n, &precision)).chain(r.ranked.feeders.iter().map(|&n| (n, &feeding))) {
            // A Relu or Clip goes with its producer (as the rewrite fuses them).
            let activation = g.node_outputs(n).first().copied().flatten().and_then(|y| clamp_consumer(g, y)).map(|(c, _)| c);
            for m in std::iter::once(n).chain(activation) {
                // The first reason stays, unless float replaces 16x8.
                let replaces = match choices.get(&m) {
                    None => true,
                    Some(old) => matches!((old, p), (Precision::Wide(_), Precision::Float(_))),
                };
                if replaces {
                    choices.insert(m, p.clone());
                }
            }
        }
    }
    choices
}

/// MACs of the int8, 16x8 and float operators of `q`.
fn macs(q: &Quantized) -> Result<(u64, u64, u64)> {
    let layers = report::build(q, None)?.layers;
    let sum = |keep: &dyn Fn(&report::Layer) -> bool| layers.iter().filter(|l| keep(l)).map(|l| l.macs).sum::<u64>();
    let int = |l: &report::Layer| l.op.starts_with("Int");
    let wide = |l: &report::Layer| int(l) && l.dtype == crate::tensor::DType::I16;
    Ok((sum(&|l| int(l) && !wide(l)), sum(&wide), sum(&|l| !int(l))))
}
