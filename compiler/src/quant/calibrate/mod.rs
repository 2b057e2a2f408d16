//! Calibration: the float model runs once over the calibration samples
//! (`observe`, in parallel, streaming) and every float activation's range
//! is chosen from what was observed, by one of the methods of
//! `--calibrate`. Whatever the method, what the graph says comes first
//! (`roles`): a value its operator bounds on both sides (Sigmoid, Tanh,
//! Softmax, Clip, ...) gets its observed range inside those bounds, never
//! a statistically clipped one, and a value whose largest elements decide
//! a result (a graph output, the input of Softmax, ArgMax or TopK) keeps
//! its observed maximum. `auto` (the default) then picks each range by its
//! expected error as the value's readers see it (`auto`); the fixed methods
//! are in `fixed`. An additive attention mask is calibrated apart
//! (`mask`): its masked elements saturate the scores they are added to.

mod auto;
mod entropy;
mod fixed;
mod histogram;
mod mask;
pub mod moments;
pub mod observe;
mod roles;

use crate::ir::{Graph, ValueId};
use rayon::prelude::*;
use std::collections::HashMap;
pub use moments::Moments;
pub use observe::{observe, Observed, Wanted};
pub use roles::{mask_context, MASKED};

/// How a value's range is chosen from its calibration statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Per value, the candidate range with the least expected error as
    /// the value's readers see it (`auto.rs`).
    Auto,
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
            "auto" => Ok(Method::Auto),
            "minmax" => Ok(Method::MinMax),
            "mse" => Ok(Method::Mse),
            "entropy" => Ok(Method::Entropy),
            "percentile" => Ok(Method::Percentile(99.99)),
            _ => match s.strip_prefix("percentile=").map(str::parse::<f64>) {
                Some(Ok(p)) if p > 50.0 && p <= 100.0 => Ok(Method::Percentile(p)),
                Some(_) => Err(format!("'{s}': the percentile must be a number in (50, 100]")),
                None => Err(format!("'{s}' is not a calibration method (auto, minmax, percentile[=P], mse, entropy)")),
            },
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Method::Auto => write!(f, "auto"),
            Method::MinMax => write!(f, "minmax"),
            Method::Percentile(p) => write!(f, "percentile={p}"),
            Method::Mse => write!(f, "mse"),
            Method::Entropy => write!(f, "entropy"),
        }
    }
}

/// A real range `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub lo: f32,
    pub hi: f32,
}

/// What calibration chose: the range of every float value the model
/// computes (graph inputs included) for 8-bit codes, the range for int16
/// codes (16x8: the observed one, inside the value's bounds; with 65535
/// steps clipping an outlier costs more than it saves), and the
/// per-channel means asked for (bias correction).
#[derive(Debug, Default)]
pub struct Calibration {
    pub ranges: HashMap<ValueId, Range>,
    pub wide_ranges: HashMap<ValueId, Range>,
    pub channel_means: HashMap<ValueId, Vec<f64>>,
}

/// The calibration of `graph` by `method` from `obs`. For the equalized
/// model, `rescaled` holds the factor each channel of the rescaled values
/// was divided by (their statistics are `obs.rescaled`).
pub fn calibration(graph: &Graph, obs: &Observed, method: Method, rescaled: Option<&HashMap<ValueId, Vec<f64>>>) -> Calibration {
    let roles = roles::of(graph);
    let stats: HashMap<ValueId, &observe::ValueStats> = obs.values.iter().map(|(&v, s)| (v, rescaled.and(obs.rescaled.get(&v)).unwrap_or(s))).collect();
    let ranges_by = |method: Method| {
        let mut ranges = stats
            .par_iter()
            .filter_map(|(&v, s)| s.seen().then(|| (v, choose(graph, method, s, roles.get(&v).cloned().unwrap_or_default()))))
            .collect();
        mask::saturate(graph, &stats, &mut ranges);
        ranges
    };
    let (ranges, wide_ranges) = (ranges_by(method), ranges_by(Method::MinMax));
    let channel_means = obs
        .channel_means
        .iter()
        .map(|(&v, means)| {
            let factors = rescaled.and_then(|r| r.get(&v)).filter(|f| f.len() == means.len());
            (v, match factors {
                Some(f) => means.iter().zip(f).map(|(m, s)| m / s).collect(),
                None => means.clone(),
            })
        })
        .collect();
    Calibration { ranges, wide_ranges, channel_means }
}

/// The range of one value: its bounds' rule, else `method`'s choice with
/// the maximum kept where it must be.
fn choose(graph: &Graph, method: Method, s: &observe::ValueStats, role: roles::Role) -> Range {
    if let Some(bounds) = role.bounds {
        return bounded(s.lo, s.hi, bounds);
    }
    let (lo, hi) = match method {
        Method::Auto => auto::range(s, &role, graph),
        m => fixed::range(m, s),
    };
    let hi = if role.keep_max { s.hi } else { hi };
    Range { lo: lo as f32, hi: hi as f32 }
}

/// The observed `[lo, hi]` inside `bounds`, reaching a bound when it is
/// within one 8-bit step of it (a gate that opens to 0.998 gets exactly 1).
/// Never wider than observed otherwise: a Clip(0, 6) whose output never
/// passes 2 keeps the resolution of [0, 2].
fn bounded(lo: f64, hi: f64, (min, max): (f64, f64)) -> Range {
    let (lo, hi) = (lo.clamp(min, max), hi.clamp(min, max));
    let step = (hi.max(0.0) - lo.min(0.0)) / 255.0;
    let lo = if lo - min <= step { min } else { lo };
    let hi = if max - hi <= step { max } else { hi };
    Range { lo: lo as f32, hi: hi as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_value_keeps_its_observed_range_and_snaps_to_a_near_bound() {
        assert_eq!(bounded(0.0, 0.998, (0.0, 1.0)), Range { lo: 0.0, hi: 1.0 });
        assert_eq!(bounded(0.0, 2.0, (0.0, 6.0)), Range { lo: 0.0, hi: 2.0 });
        assert_eq!(bounded(-0.5, 0.25, (-1.0, 1.0)), Range { lo: -0.5, hi: 0.25 });
    }

    #[test]
    fn methods_parse() {
        assert_eq!("auto".parse::<Method>(), Ok(Method::Auto));
        assert_eq!("percentile=99.9".parse::<Method>(), Ok(Method::Percentile(99.9)));
        assert!("percentile=20".parse::<Method>().is_err());
        assert!("kl".parse::<Method>().is_err());
    }
}
