//! `--quantize auto`: integer wherever the model's outputs stay within a
//! target SQNR of float, float where int8 costs too much.
//!
//! The search starts from the all-int8 model. When its output SQNR against
//! float on the first [`SCORED`] calibration samples is below the target
//! (plus [`MARGIN_DB`], since held-out inputs see a little less), every
//! quantized value is ranked by the noise its own codes add: its measured
//! noise-to-signal ratio minus the largest of the values it is computed
//! from (so error that merely flows through is not blamed twice). Keeping
//! a value in float means keeping the nodes that compute it (back to the
//! quantized values they read: a fused activation or an elementwise chain
//! comes with its producer) and the nodes that read it in float. Search
//! in rounds: rank the current model's values, keep the top `batch` of
//! them in float (1, 2, 4, ... doubling every round, since error that was
//! hidden behind a worse value shows once that one is float), and
//! measure; in the round that reaches the target, the fewest of its
//! values that still do are found by bisection. Every step is a real
//! quantization run through the integer oracle, so the figure printed is
//! measured, not estimated.

use super::report;
use super::rewrite::Quantized;
use crate::dataset::Dataset;
use crate::ir::{Graph, NodeId, ValueId};
use crate::Result;
use std::collections::{HashMap, HashSet};

/// The output SQNR (dB) `--quantize auto` aims for unless told otherwise.
pub const DEFAULT_MIN_SQNR: f64 = 30.0;
/// Calibration samples the search measures on (fewer if there are fewer).
pub const SCORED: usize = 16;
/// What the search adds to the target on its samples.
pub const MARGIN_DB: f64 = 1.0;

/// What the search found, for the summary.
#[derive(Debug, Clone, Copy)]
pub struct Mixed {
    pub target_db: f64,
    pub achieved_db: f64,
    pub all_int8_db: f64,
    pub samples: usize,
    /// Quantized values kept in float.
    pub float_values: usize,
    pub integer_macs: u64,
    pub float_macs: u64,
}

impl std::fmt::Display for Mixed {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let total = (self.integer_macs + self.float_macs).max(1) as f64;
        write!(
            f,
            "auto: output SQNR {:.1} dB on {} calibration samples (target {:.1} dB; all int8 {:.1} dB); {} values kept in float; MACs {:.1} % integer, {:.1} % float",
            self.achieved_db,
            self.samples,
            self.target_db,
            self.all_int8_db,
            self.float_values,
            100.0 * self.integer_macs as f64 / total,
            100.0 * self.float_macs as f64 / total
        )
    }
}

/// Nodes to keep in float, with the reason shown in the summary and report.
pub type Keep = HashMap<NodeId, String>;

/// Searches the nodes of the prepared float graph `g` to keep in float so
/// that `rewrite` (the quantizing rewrite of `g` keeping the given nodes
/// in float) reaches `min_db` at the outputs on `data`.
pub fn search(g: &Graph, data: &Dataset, min_db: f64, rewrite: &dyn Fn(&Keep) -> Result<Quantized>) -> Result<(Quantized, Mixed)> {
    let reference = report::float_outputs(g, data, SCORED)?;
    let score = |q: &Quantized| report::output_sqnr(q, &reference, data);
    let goal = min_db + MARGIN_DB;
    let all_int8 = rewrite(&Keep::new())?;
    let all_int8_db = score(&all_int8)?;
    let summary = |q: &Quantized, achieved_db: f64, float_values: usize| {
        let (integer_macs, float_macs) = macs(q)?;
        Ok::<_, crate::Error>(Mixed { target_db: min_db, achieved_db, all_int8_db, samples: reference.len(), float_values, integer_macs, float_macs })
    };
    if all_int8_db >= goal {
        let mixed = summary(&all_int8, all_int8_db, 0)?;
        return Ok((all_int8, mixed));
    }
    // Rounds: rank what the current model's codes add, keep the next
    // `batch` values in float, measure; the batch doubles every round.
    let (mut kept, mut current, mut batch) = (Vec::<Ranked>::new(), all_int8, 1);
    loop {
        let ranked: Vec<Ranked> = rank(g, &current, data)?.into_iter().filter(|r| !kept.iter().any(|k| k.value == r.value)).collect();
        if ranked.is_empty() {
            let db = score(&current)?;
            let mixed = summary(&current, db, kept.len())?;
            return Ok((current, mixed));
        }
        let take = batch.min(ranked.len());
        let with = |k: usize| -> Result<(Quantized, f64)> {
            let keep: Vec<Ranked> = kept.iter().chain(&ranked[..k]).cloned().collect();
            let q = rewrite(&keep_all(g, &keep))?;
            let db = score(&q)?;
            Ok((q, db))
        };
        let (q, db) = with(take)?;
        if db >= goal {
            // The fewest of this round's values that still reach the goal.
            let (mut lo, mut hi, mut best) = (0, take, (q, db));
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                let (qm, dbm) = with(mid)?;
                if dbm >= goal {
                    (hi, best) = (mid, (qm, dbm));
                } else {
                    lo = mid;
                }
            }
            kept.extend_from_slice(&ranked[..hi]);
            let mixed = summary(&best.0, best.1, kept.len())?;
            return Ok((best.0, mixed));
        }
        kept.extend_from_slice(&ranked[..take]);
        (current, batch) = (q, batch * 2);
    }
}

/// A quantized value of `g` and the noise its own codes add.
#[derive(Debug, Clone)]
struct Ranked {
    value: ValueId,
    /// The nodes computing it from quantized values ([`region`]).
    computes: Vec<NodeId>,
    /// Its noise-to-signal ratio minus its inputs' (linear).
    added: f64,
    sqnr_db: f64,
}

/// Quantized values of `q` (from `g`) in decreasing order of added noise,
/// those that add none left out.
fn rank(g: &Graph, q: &Quantized, data: &Dataset) -> Result<Vec<Ranked>> {
    let by_dst = report::value_sqnr(g, q, data, SCORED)?;
    let nsr: HashMap<ValueId, f64> = q.int_values.iter().filter_map(|&(s, d, _)| by_dst.get(&d).map(|&db| (s, 10f64.powf(-db / 10.0)))).collect();
    let mut ranked: Vec<Ranked> = nsr
        .iter()
        .map(|(&v, &n)| {
            let (computes, inputs) = region(g, v, &nsr);
            let upstream = inputs.iter().map(|u| nsr[u]).fold(0.0, f64::max);
            Ranked { value: v, computes, added: n - upstream, sqnr_db: -10.0 * n.log10() }
        })
        .filter(|r| r.added > 0.0)
        .collect();
    ranked.sort_by(|a, b| b.added.total_cmp(&a.added).then(a.value.cmp(&b.value)));
    Ok(ranked)
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

/// The nodes that keep the values `top` in float: those computing each
/// (see [`region`]) and those reading it.
fn keep_all(g: &Graph, top: &[Ranked]) -> Keep {
    let mut keep = Keep::new();
    for r in top {
        let why = format!("kept float by --quantize auto: the int8 codes of '{}' measured {:.1} dB", g.value(r.value).name, r.sqnr_db);
        for n in r.computes.iter().copied().chain(g.consumers(r.value).into_iter().map(|(c, _)| c)) {
            keep.entry(n).or_insert_with(|| why.clone());
        }
    }
    keep
}

/// MACs of the integer operators of `q` and of its float ones.
fn macs(q: &Quantized) -> Result<(u64, u64)> {
    let layers = report::build(q, None)?.layers;
    let integer = layers.iter().filter(|l| l.op.starts_with("Int")).map(|l| l.macs).sum();
    let float = layers.iter().filter(|l| !l.op.starts_with("Int")).map(|l| l.macs).sum();
    Ok((integer, float))
}
