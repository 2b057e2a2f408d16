//! The fixed range methods of `--calibrate` (minmax, percentile, mse,
//! entropy): each chooses a value's range from its own statistics, on a
//! histogram of 2,048 equal bins across the observed range (for entropy:
//! of magnitudes across `[0, max |x|]`).

use super::entropy;
use super::observe::ValueStats;
use super::Method;

/// Bins of the histograms the methods read.
pub const BINS: usize = 2048;

/// A value's finite elements over [`BINS`] equal bins across `[lo, hi]`;
/// the exact zeros apart.
#[derive(Debug, Clone)]
pub struct Dense {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<f64>,
    pub zeros: f64,
}

impl Dense {
    /// The elements of `s` across their observed range.
    pub fn of(s: &ValueStats) -> Dense {
        Dense { lo: s.lo, hi: s.hi, counts: s.hist.resample(s.lo, s.hi, BINS, false), zeros: s.zeros as f64 }
    }

    /// The magnitudes of the elements of `s` across `[0, max |x|]`.
    fn magnitudes(s: &ValueStats) -> Dense {
        let hi = s.lo.abs().max(s.hi.abs());
        Dense { lo: 0.0, hi, counts: s.hist.resample(0.0, hi, BINS, true), zeros: s.zeros as f64 }
    }

    pub fn width(&self) -> f64 {
        (self.hi - self.lo) / self.counts.len() as f64
    }

    /// The counts with the zeros added to the bin holding 0.
    pub fn with_zeros(&self) -> Vec<f64> {
        let mut h = self.counts.clone();
        if self.zeros > 0.0 && self.lo <= 0.0 && self.hi >= 0.0 {
            let k = if self.width() > 0.0 { (-self.lo / self.width()) as usize } else { 0 };
            let last = h.len() - 1;
            h[k.min(last)] += self.zeros;
        }
        h
    }
}

/// The range `method` (not auto) chooses for a value with statistics `s`.
pub fn range(method: Method, s: &ValueStats) -> (f64, f64) {
    let full = (s.lo, s.hi);
    if s.hi <= s.lo {
        return full;
    }
    match method {
        Method::MinMax | Method::Auto => full,
        Method::Percentile(p) => percentile(&Dense::of(s), p),
        Method::Mse => mse(&Dense::of(s)),
        Method::Entropy => entropy(s, 1),
    }
}

/// TensorRT's entropy threshold on the magnitudes (every `stride`-th
/// candidate), applied to both sides.
pub fn entropy(s: &ValueStats, stride: usize) -> (f64, f64) {
    let levels = if s.lo >= 0.0 { 256 } else { 128 };
    let m = Dense::magnitudes(s);
    let t = entropy::threshold(&m.with_zeros(), levels, stride) * m.hi;
    (s.lo.max(-t), s.hi.min(t))
}

/// Each tail cut at percentile `p` of all the elements (zeros included),
/// at a bin edge.
pub fn percentile(d: &Dense, p: f64) -> (f64, f64) {
    let h = d.with_zeros();
    let total: f64 = h.iter().sum();
    let cut = ((1.0 - p / 100.0) * total).floor();
    let edge = |k: usize| d.lo + k as f64 * d.width();
    let (mut below, mut lo_bin) = (0.0, 0usize);
    while lo_bin < h.len() && below + h[lo_bin] <= cut {
        below += h[lo_bin];
        lo_bin += 1;
    }
    let (mut above, mut hi_bin) = (0.0, h.len());
    while hi_bin > lo_bin + 1 && above + h[hi_bin - 1] <= cut {
        above += h[hi_bin - 1];
        hi_bin -= 1;
    }
    (if lo_bin == 0 { d.lo } else { edge(lo_bin) }, if hi_bin == h.len() { d.hi } else { edge(hi_bin) })
}

/// The range, the observed one shrunk by a common factor in 1, 0.99, ...,
/// 0.21, whose 8-bit quantization has the least expected squared error:
/// clipping charged by distance, rounding as `step²/12` per element.
fn mse(d: &Dense) -> (f64, f64) {
    let h = d.with_zeros();
    let centre = |k: usize| d.lo + (k as f64 + 0.5) * d.width();
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
                n * e
            })
            .sum::<f64>()
    };
    let mut best = (error(d.lo, d.hi), 1.0);
    for k in 1..80 {
        let f = 1.0 - k as f64 / 100.0;
        let e = error(d.lo * f, d.hi * f);
        if e < best.0 {
            best = (e, f);
        }
    }
    (d.lo * best.1, d.hi * best.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_cuts_a_lone_outlier() {
        let mut counts = vec![0.0; BINS];
        counts[10] = 1_000_000.0;
        counts[BINS - 1] = 1.0;
        let d = Dense { lo: 0.0, hi: 2048.0, counts, zeros: 1_000_000.0 };
        assert_eq!(percentile(&d, 99.99), (0.0, 11.0));
    }

    #[test]
    fn entropy_clips_a_sparse_tail_on_both_sides_of_a_signed_range() {
        let mut values: Vec<f32> = (0..200_000).map(|i| ((i % 2000) as f32 / 1000.0 - 1.0) * 0.5).collect();
        values.extend([10.0, -8.0, 10.0]);
        let s = ValueStats::of(&[&values]);
        let (lo, hi) = range(Method::Entropy, &s);
        assert!(hi > 0.4 && hi < 3.0 && lo == -hi, "{lo} {hi}");
        assert_eq!(range(Method::MinMax, &s), (-8.0, 10.0));
    }
}
