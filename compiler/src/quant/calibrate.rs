//! Calibration: the float model runs on the calibration samples (in
//! parallel, streaming) and every float activation's range is chosen by
//! one of the methods of `--calibrate`. Nothing but per-value statistics is
//! kept: running min/max, then (for the histogram methods) a fixed-size
//! histogram per value (of magnitudes, for `entropy`) in a second pass.

use crate::dataset::Dataset;
use crate::interp::Interpreter;
use crate::ir::{Graph, ValueId};
use crate::tensor::{DType, Tensor};
use crate::{progress, Error, Result};
use rayon::prelude::*;
use std::collections::HashMap;

/// How a value's range is chosen from its calibration statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// The observed minimum and maximum.
    MinMax,
    /// Each tail cut at the given percentile of the observed values.
    Percentile(f64),
    /// The clipping range that minimises the expected squared error of
    /// 8-bit quantization over the observed distribution.
    Mse,
    /// The symmetric clipping threshold whose 8-bit quantization of the
    /// histogram of magnitudes loses the least information (smallest
    /// Kullback-Leibler divergence), as TensorRT calibrates.
    Entropy,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Method, String> {
        match s {
            "minmax" => Ok(Method::MinMax),
            "mse" => Ok(Method::Mse),
            "entropy" => Ok(Method::Entropy),
            "percentile" => Ok(Method::Percentile(99.99)),
            _ => match s.strip_prefix("percentile=").map(str::parse::<f64>) {
                Some(Ok(p)) if p > 50.0 && p <= 100.0 => Ok(Method::Percentile(p)),
                Some(_) => Err(format!("'{s}': the percentile must be a number in (50, 100]")),
                None => Err(format!("'{s}' is not a calibration method (entropy, minmax, percentile[=P], mse)")),
            },
        }
    }
}

/// A real range `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub lo: f32,
    pub hi: f32,
}

/// Bins of the per-value histograms.
const BINS: usize = 2048;

/// What calibration measured: the chosen range of every float value the
/// model computes (graph inputs included), and the per-channel means asked
/// for (bias correction).
#[derive(Debug, Default)]
pub struct Calibration {
    pub ranges: HashMap<ValueId, Range>,
    pub channel_means: HashMap<ValueId, Vec<f64>>,
}

/// Running statistics of the first pass: extremes of every value, and the
/// per-channel sums and element counts of the values in `channel_axes`.
#[derive(Default)]
struct FirstPass {
    extremes: HashMap<ValueId, Range>,
    sums: HashMap<ValueId, (Vec<f64>, u64)>,
}

impl FirstPass {
    fn observe(&mut self, v: ValueId, t: &Tensor, axis: Option<usize>) {
        if let Some((lo, hi)) = extremes(t) {
            self.widen(v, Range { lo, hi });
            if let Some(axis) = axis.filter(|&a| a < t.rank()) {
                let values = t.to_f64_vec().unwrap_or_default();
                let (channels, inner) = (t.shape()[axis], t.shape()[axis + 1..].iter().product::<usize>());
                let (sums, count) = self.sums.entry(v).or_insert_with(|| (vec![0.0; channels], 0));
                if sums.len() == channels {
                    values.iter().enumerate().for_each(|(i, x)| sums[(i / inner.max(1)) % channels] += x);
                    *count += (values.len() / channels.max(1)) as u64;
                }
            }
        }
    }

    fn widen(&mut self, v: ValueId, r: Range) {
        let e = self.extremes.entry(v).or_insert(r);
        e.lo = e.lo.min(r.lo);
        e.hi = e.hi.max(r.hi);
    }

    fn merge(mut self, other: FirstPass) -> FirstPass {
        for (v, r) in other.extremes {
            self.widen(v, r);
        }
        for (v, (s, n)) in other.sums {
            match self.sums.get_mut(&v) {
                Some((t, m)) if t.len() == s.len() => {
                    t.iter_mut().zip(s).for_each(|(a, b)| *a += b);
                    *m += n;
                }
                _ => {
                    self.sums.insert(v, (s, n));
                }
            }
        }
        self
    }
}

/// Calibrates `graph` on `data`: ranges chosen by `method`, and the means
/// over every axis but the given one of the values in `channel_axes`.
pub fn calibrate(graph: &Graph, data: &Dataset, method: Method, channel_axes: &HashMap<ValueId, usize>) -> Result<Calibration> {
    let interp = Interpreter::new(graph)?;
    let first = over_samples(&interp, data, "calibrating", FirstPass::default, |acc: &mut FirstPass, v, t| {
        acc.observe(v, t, channel_axes.get(&v).copied())
    }, FirstPass::merge)?;
    let channel_means = first.sums.into_iter().map(|(v, (s, n))| (v, s.into_iter().map(|x| x / n.max(1) as f64).collect())).collect();
    let ranges = choose_ranges(&interp, data, method, first.extremes)?;
    Ok(Calibration { ranges, channel_means })
}

/// The ranges `method` chooses from the observed `extremes` (a second pass
/// over the data for the histogram methods).
fn choose_ranges(interp: &Interpreter, data: &Dataset, method: Method, extremes: HashMap<ValueId, Range>) -> Result<HashMap<ValueId, Range>> {
    if method == Method::MinMax {
        return Ok(extremes);
    }
    let magnitudes = method == Method::Entropy;
    let hists = over_samples(interp, data, "histograms", HashMap::new, |acc: &mut HashMap<ValueId, Vec<u64>>, v, t| {
        if let Some(&r) = extremes.get(&v) {
            add_to_histogram(acc.entry(v).or_insert_with(|| vec![0; BINS]), histogram_span(r, magnitudes), t, magnitudes);
        }
    }, |mut a, b| {
        for (v, h) in b {
            match a.get_mut(&v) {
                Some(e) => e.iter_mut().zip(h).for_each(|(x, y)| *x += y),
                None => {
                    a.insert(v, h);
                }
            }
        }
        a
    })?;
    Ok(extremes
        .par_iter()
        .map(|(&v, &r)| {
            let chosen = match hists.get(&v) {
                Some(h) => choose(method, r, h),
                None => r,
            };
            (v, chosen)
        })
        .collect())
}

/// Runs every sample through `interp` in parallel, folding each computed
/// float value into per-thread state with `observe`, merged with `merge`.
fn over_samples<S: Send>(
    interp: &Interpreter,
    data: &Dataset,
    what: &str,
    init: impl Fn() -> S + Sync + Send,
    observe: impl Fn(&mut S, ValueId, &Tensor) + Sync + Send,
    merge: impl Fn(S, S) -> S + Sync + Send,
) -> Result<S> {
    let bar = progress::bar(data.len() as u64, what);
    let state = (0..data.len())
        .into_par_iter()
        .try_fold(&init, |mut state, i| {
            let inputs = data.sample(i)?;
            interp
                .run_observed(inputs, &mut |v, t| observe(&mut state, v, t))
                .map_err(|e| Error::Usage(format!("calibration sample {i}: {e}")))?;
            bar.inc(1);
            Ok::<S, Error>(state)
        })
        .try_reduce(&init, |a, b| Ok(merge(a, b)))?;
    bar.finish_and_clear();
    Ok(state)
}

/// The finite minimum and maximum of a float tensor (None for other types
/// or when nothing is finite).
fn extremes(t: &Tensor) -> Option<(f32, f32)> {
    if !matches!(t.dtype(), DType::F32 | DType::F16 | DType::BF16 | DType::F64) {
        return None;
    }
    let values = t.to_f64_vec().ok()?;
    let (lo, hi) = values.iter().filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    (lo <= hi).then_some((lo as f32, hi as f32))
}

/// What a value's histogram covers: its range, or `[0, max |x|]` for a
/// histogram of magnitudes.
fn histogram_span(r: Range, magnitudes: bool) -> Range {
    if magnitudes {
        Range { lo: 0.0, hi: r.lo.abs().max(r.hi.abs()) }
    } else {
        r
    }
}

/// Counts the finite values of `t` (their magnitudes, if `magnitudes`)
/// into `h`, whose bins split `r` evenly.
fn add_to_histogram(h: &mut [u64], r: Range, t: &Tensor, magnitudes: bool) {
    let Ok(values) = t.to_f64_vec() else { return };
    let width = (r.hi as f64 - r.lo as f64) / BINS as f64;
    for v in values.into_iter().filter(|v| v.is_finite()) {
        let v = if magnitudes { v.abs() } else { v };
        let bin = if width > 0.0 { ((v - r.lo as f64) / width) as usize } else { 0 };
        h[bin.min(BINS - 1)] += 1;
    }
}

/// The range `method` chooses from the histogram `h` over `full`.
fn choose(method: Method, full: Range, h: &[u64]) -> Range {
    let total: u64 = h.iter().sum();
    if total == 0 || full.hi <= full.lo {
        return full;
    }
    if method == Method::Entropy {
        let amax = full.lo.abs().max(full.hi.abs()) as f64;
        let levels = if full.lo >= 0.0 { 256 } else { 128 };
        let t = (entropy_threshold(h, levels) * amax) as f32;
        return Range { lo: full.lo.max(-t), hi: full.hi.min(t) };
    }
    let width = (full.hi as f64 - full.lo as f64) / h.len() as f64;
    let edge = |k: usize| (full.lo as f64 + k as f64 * width) as f32;
    match method {
        Method::MinMax | Method::Entropy => full,
        Method::Percentile(p) => {
            let cut = ((1.0 - p / 100.0) * total as f64).floor() as u64;
            let (mut below, mut lo_bin) = (0u64, 0usize);
            while lo_bin < h.len() && below + h[lo_bin] <= cut {
                below += h[lo_bin];
                lo_bin += 1;
            }
            let (mut above, mut hi_bin) = (0u64, h.len());
            while hi_bin > lo_bin + 1 && above + h[hi_bin - 1] <= cut {
                above += h[hi_bin - 1];
                hi_bin -= 1;
            }
            Range { lo: if lo_bin == 0 { full.lo } else { edge(lo_bin) }, hi: if hi_bin == h.len() { full.hi } else { edge(hi_bin) } }
        }
        Method::Mse => {
            let centre = |k: usize| full.lo as f64 + (k as f64 + 0.5) * width;
            let error = |lo: f64, hi: f64| {
                let (lo, hi) = (lo.min(0.0), hi.max(0.0));
                let step = (hi - lo) / 255.0;
                h.iter()
                    .enumerate()
                    .map(|(k, &n)| {
                        let x = centre(k);
                        let e = if x < lo {
                            (lo - x) * (lo - x)
                        } else if x > hi {
                            (x - hi) * (x - hi)
                        } else {
                            step * step / 12.0
                        };
                        n as f64 * e
                    })
                    .sum::<f64>()
            };
            let mut best = (error(full.lo as f64, full.hi as f64), 1.0);
            for k in 1..80 {
                let f = 1.0 - k as f64 / 100.0;
                let e = error(full.lo as f64 * f, full.hi as f64 * f);
                if e < best.0 {
                    best = (e, f);
                }
            }
            Range { lo: (full.lo as f64 * best.1) as f32, hi: (full.hi as f64 * best.1) as f32 }
        }
    }
}

/// The clipping threshold, as a fraction of the histogram's span, whose
/// quantization to `levels` levels keeps the most information of the
/// magnitude histogram `h`: for every candidate edge `i` (from `levels`
/// bins up), the reference distribution is `h[..i]` with the clipped tail
/// added to its last bin, the candidate is `h[..i]` merged into `levels`
/// groups and spread evenly back over each group's non-empty bins, and the
/// edge with the smallest KL divergence of candidate from reference wins
/// (the earliest on ties). Bin 0 counts like bin 1, so exact zeros do
/// not decide the threshold. The threshold is the middle of bin `i - 1`'s
/// upper half, as TensorRT takes it: `(i + 0.5) / bins`, capped at 1.
fn entropy_threshold(h: &[u64], levels: usize) -> f64 {
    let bins = h.len();
    if bins <= levels {
        return 1.0;
    }
    // The exact zeros of a Relu or of padding pile up in bin 0 and would
    // dominate the divergence of every candidate; that bin is counted like
    // its neighbour instead.
    let mut h = h.to_vec();
    h[0] = h[1];
    let prefix = Prefix::of(&h);
    let mut best = (f64::INFINITY, bins);
    for i in levels..=bins {
        let tail = prefix.count[bins] - prefix.count[i];
        if prefix.count[i] + tail > 0 {
            let kl = prefix.divergence(&h, i, tail, levels);
            if kl < best.0 {
                best = (kl, i);
            }
        }
    }
    ((best.1 as f64 + 0.5) / bins as f64).min(1.0)
}

/// Running sums over a histogram's first `k` bins (index `k`): counts,
/// non-empty bins and `c·ln c`, so that each candidate's divergence costs
/// one step per group instead of one per bin.
struct Prefix {
    count: Vec<u64>,
    nonzero: Vec<u64>,
    c_ln_c: Vec<f64>,
}

impl Prefix {
    fn of(h: &[u64]) -> Prefix {
        let mut p = Prefix { count: vec![0], nonzero: vec![0], c_ln_c: vec![0.0] };
        for &c in h {
            p.count.push(p.count.last().unwrap() + c);
            p.nonzero.push(p.nonzero.last().unwrap() + (c > 0) as u64);
            p.c_ln_c.push(p.c_ln_c.last().unwrap() + if c > 0 { c as f64 * (c as f64).ln() } else { 0.0 });
        }
        p
    }

    /// KL(P || Q): P is `h[..i]` with `tail` added to bin `i - 1`; Q is
    /// `h[..i]` merged into `levels` groups, each group's count spread
    /// evenly over its non-empty bins. A bin where P has mass and Q none
    /// (the last, holding only the tail) is charged as if Q held 1e-9.
    fn divergence(&self, h: &[u64], i: usize, tail: u64, levels: usize) -> f64 {
        let p_total = (self.count[i] + tail) as f64;
        let q_total = self.count[i].max(1) as f64;
        let last = h[i - 1];
        // Σ p·ln p over the bins before the last, then − Σ p·ln q group by group.
        let before = self.count[i - 1] as f64;
        let mut kl = if before > 0.0 { (self.c_ln_c[i - 1] - before * p_total.ln()) / p_total } else { 0.0 };
        let mut q_last = 1e-9;
        for g in 0..levels {
            let (start, end) = (g * i / levels, (g + 1) * i / levels);
            let sum = self.count[end] - self.count[start];
            if sum == 0 {
                continue;
            }
            let q = sum as f64 / (self.nonzero[end] - self.nonzero[start]) as f64 / q_total;
            let mass = if end == i { sum - last } else { sum };
            kl -= mass as f64 / p_total * q.ln();
            if end == i && last > 0 {
                q_last = q;
            }
        }
        let p_last = (last + tail) as f64 / p_total;
        if p_last > 0.0 {
            kl += p_last * (p_last / q_last).ln();
        }
        kl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_cuts_a_lone_outlier() {
        let mut h = vec![0u64; BINS];
        h[0] = 1_000_000;
        h[10] = 1_000_000;
        h[BINS - 1] = 1;
        let r = choose(Method::Percentile(99.99), Range { lo: 0.0, hi: 2048.0 }, &h);
        assert_eq!(r.lo, 0.0);
        assert_eq!(r.hi, 11.0);
        assert_eq!(choose(Method::MinMax, Range { lo: 0.0, hi: 2048.0 }, &h).hi, 2048.0);
    }

    #[test]
    fn entropy_keeps_a_dense_distribution_and_clips_a_sparse_tail() {
        // A dense bell over the whole span: nothing worth clipping.
        let bell: Vec<u64> = (0..BINS).map(|k| 1000 + (BINS - k) as u64 * 10).collect();
        let r = choose(Method::Entropy, Range { lo: 0.0, hi: 1.0 }, &bell);
        assert!(r.hi > 0.95, "{r:?}");
        // Mass near zero and a few far outliers: the threshold falls well
        // inside the span, and a signed range is clipped on both sides.
        let mut h = vec![0u64; BINS];
        for (k, c) in h.iter_mut().enumerate().take(200) {
            *c = 100_000 - 400 * k as u64;
        }
        h[BINS - 1] = 3;
        let r = choose(Method::Entropy, Range { lo: -8.0, hi: 10.0 }, &h);
        assert!(r.hi > 0.5 && r.hi < 3.0 && r.lo == -r.hi, "{r:?}");
    }

    /// The divergence of `Prefix::divergence`, bin by bin.
    fn divergence_by_bins(h: &[u64], i: usize, tail: u64, levels: usize) -> f64 {
        let kept = &h[..i];
        let p_total: u64 = kept.iter().sum::<u64>() + tail;
        let q_total: u64 = kept.iter().sum();
        let mut kl = 0.0;
        for g in 0..levels {
            let (start, end) = (g * i / levels, (g + 1) * i / levels);
            let group = &kept[start..end];
            let sum: u64 = group.iter().sum();
            let nonzero = group.iter().filter(|&&c| c > 0).count();
            for (k, &c) in group.iter().enumerate() {
                let p = c + if start + k == i - 1 { tail } else { 0 };
                if p > 0 {
                    let p = p as f64 / p_total as f64;
                    let q = if c > 0 { sum as f64 / nonzero as f64 / q_total.max(1) as f64 } else { 1e-9 };
                    kl += p * (p / q).ln();
                }
            }
        }
        kl
    }

    #[test]
    fn running_sums_give_the_divergence_bin_by_bin() {
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        for _ in 0..20 {
            let h: Vec<u64> = (0..BINS).map(|_| if next() % 3 == 0 { 0 } else { next() % 1000 }).collect();
            let prefix = Prefix::of(&h);
            for i in [128, 129, 700, 1500, BINS] {
                let tail = h[i..].iter().sum();
                let (fast, slow) = (prefix.divergence(&h, i, tail, 128), divergence_by_bins(&h, i, tail, 128));
                assert!((fast - slow).abs() < 1e-9 * (1.0 + slow.abs()), "i {i}: {fast} vs {slow}");
            }
        }
    }

    #[test]
    fn channel_means_average_every_axis_but_the_channel_axis_over_all_samples() {
        let v = Graph::new("g").add_value(crate::ir::Value { name: "x".into(), ty: None, constant: None });
        let (mut a, mut b) = (FirstPass::default(), FirstPass::default());
        // [1, 2, 2]: channel 0 holds 1, 3; channel 1 holds 2, 6.
        a.observe(v, &Tensor::from_vec(&[1, 2, 2], vec![1f32, 3.0, 2.0, 6.0]).unwrap(), Some(1));
        b.observe(v, &Tensor::from_vec(&[1, 2, 2], vec![5f32, 7.0, 0.0, 0.0]).unwrap(), Some(1));
        let merged = a.merge(b);
        let (sums, n) = &merged.sums[&v];
        assert_eq!((sums.as_slice(), *n), (&[16.0, 8.0][..], 4));
        assert_eq!(merged.extremes[&v], Range { lo: 0.0, hi: 7.0 });
    }

    #[test]
    fn methods_parse() {
        assert_eq!("percentile=99.9".parse::<Method>(), Ok(Method::Percentile(99.9)));
        assert!("percentile=20".parse::<Method>().is_err());
        assert!("kl".parse::<Method>().is_err());
    }
}
