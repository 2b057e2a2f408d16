//! Calibration: the float model runs on the calibration samples (in
//! parallel, streaming) and every float activation's range is chosen by
//! one of the methods of `--calibrate`. Nothing but per-value statistics is
//! kept: running min/max, then (for the histogram methods) a fixed-size
//! histogram per value in a second pass.

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
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Method, String> {
        match s {
            "minmax" => Ok(Method::MinMax),
            "mse" => Ok(Method::Mse),
            "percentile" => Ok(Method::Percentile(99.99)),
            _ => match s.strip_prefix("percentile=").map(str::parse::<f64>) {
                Some(Ok(p)) if p > 50.0 && p <= 100.0 => Ok(Method::Percentile(p)),
                Some(_) => Err(format!("'{s}': the percentile must be a number in (50, 100]")),
                None => Err(format!("'{s}' is not a calibration method (minmax, percentile[=P], mse)")),
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

/// Chosen ranges of every float value the model computes (graph inputs
/// included) on `data`.
pub fn calibrate(graph: &Graph, data: &Dataset, method: Method) -> Result<HashMap<ValueId, Range>> {
    let interp = Interpreter::new(graph)?;
    let extremes = over_samples(&interp, data, "calibrating", HashMap::new, |acc: &mut HashMap<ValueId, Range>, v, t| {
        if let Some((lo, hi)) = extremes(t) {
            let r = acc.entry(v).or_insert(Range { lo, hi });
            r.lo = r.lo.min(lo);
            r.hi = r.hi.max(hi);
        }
    }, |mut a, b| {
        for (v, r) in b {
            let e = a.entry(v).or_insert(r);
            e.lo = e.lo.min(r.lo);
            e.hi = e.hi.max(r.hi);
        }
        a
    })?;
    if method == Method::MinMax {
        return Ok(extremes);
    }
    let hists = over_samples(&interp, data, "histograms", HashMap::new, |acc: &mut HashMap<ValueId, Vec<u64>>, v, t| {
        if let Some(r) = extremes.get(&v) {
            add_to_histogram(acc.entry(v).or_insert_with(|| vec![0; BINS]), *r, t);
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
        .iter()
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

fn add_to_histogram(h: &mut [u64], r: Range, t: &Tensor) {
    let Ok(values) = t.to_f64_vec() else { return };
    let width = (r.hi as f64 - r.lo as f64) / BINS as f64;
    for v in values.into_iter().filter(|v| v.is_finite()) {
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
    let width = (full.hi as f64 - full.lo as f64) / h.len() as f64;
    let edge = |k: usize| (full.lo as f64 + k as f64 * width) as f32;
    match method {
        Method::MinMax => full,
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
    fn methods_parse() {
        assert_eq!("percentile=99.9".parse::<Method>(), Ok(Method::Percentile(99.9)));
        assert!("percentile=20".parse::<Method>().is_err());
        assert!("kl".parse::<Method>().is_err());
    }
}
