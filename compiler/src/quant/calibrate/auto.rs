//! `--calibrate auto`: each value's range is, among candidates, the one
//! with the least expected error where the value's error matters.
//!
//! The error of a range is computed on the value's histogram as its
//! readers see it. A linear reader (a convolution, an Add, data movement)
//! sees the value's own error: a clipped element costs its squared distance
//! to the range's end, an element inside costs its squared distance to the
//! nearest code (computed per code, so a peak at zero costs what it
//! really does), and exact zeros cost nothing. A reader that applies an
//! elementwise function `g` to the value alone (HardSigmoid, Sigmoid, Clip,
//! an activation table) sees `g(x) − g(x̂)`: clipping where `g` is flat is
//! free, and rounding counts with the slope of `g`. The costs of all
//! readers add up.
//!
//! A value with fewer than a thousand elements per sample that a linear
//! reader sees keeps its observed range: each of its elements is a whole
//! sample's feature (a squeeze-excitation block's pooled channels), so its
//! tail is not noise. Otherwise the candidates: the observed range, the 99.99th and 99.999th percentiles,
//! TensorRT's entropy threshold where it is sound (no bounds, mostly
//! non-zero, at least a thousand elements per sample), then a search from
//! the best of them over 64 clipping points on each side (the observed
//! extreme times 0.937^k, down to 1/60 of it), one side at a time, twice.

use super::fixed::{self, Dense};
use super::observe::ValueStats;
use super::roles::{self, Role};
use super::Range;
use crate::ir::{Graph, NodeId};
use crate::quant::params::QParams;

/// Clipping points on each side, and the ratio between neighbours.
const GRID: i32 = 64;
const RATIO: f64 = 0.937;

/// Elements per sample below which a value is never clipped for a linear
/// reader (and entropy is not a candidate).
const FEW: f64 = 1000.0;

/// The range auto chooses for a value with statistics `s` and `role`, in
/// `g` (where its readers' functions are).
pub fn range(s: &ValueStats, role: &Role, g: &Graph) -> (f64, f64) {
    let (lo, hi) = (s.lo, s.hi);
    // With few elements per sample (the pooled [1, C, 1, 1] features of a
    // squeeze-excitation block) an element in the tail is a whole sample's
    // feature, not a rare outlier: a linear reader keeps the observed range.
    if s.per_sample() < FEW && (role.linear || role.functions.is_empty()) {
        return (lo, hi);
    }
    let d = Dense::of(s);
    let model = ErrorModel::new(&d, role, g);
    let top = |b: f64| if role.keep_max { hi } else { b };
    let mut candidates = vec![(lo, hi), fixed::percentile(&d, 99.99), fixed::percentile(&d, 99.999)];
    if role.bounds.is_none() && s.zeros * 2 < s.zeros + s.nonzero && s.per_sample() >= FEW {
        candidates.push(fixed::entropy(s, 8));
    }
    let mut best = Best { error: f64::INFINITY, lo, hi };
    for (a, b) in candidates {
        best.offer(&model, a, top(b));
    }
    for _ in 0..2 {
        if hi > 0.0 && !role.keep_max {
            for k in 0..GRID {
                best.offer(&model, best.lo, hi * RATIO.powi(k));
            }
        }
        if lo < 0.0 {
            for k in 0..GRID {
                best.offer(&model, lo * RATIO.powi(k), best.hi);
            }
        }
    }
    (best.lo, best.hi)
}

/// The best range so far and its error.
struct Best {
    error: f64,
    lo: f64,
    hi: f64,
}

impl Best {
    fn offer(&mut self, model: &ErrorModel, lo: f64, hi: f64) {
        let e = model.error(lo, hi);
        if e < self.error {
            *self = Best { error: e, lo, hi };
        }
    }
}

/// Running sums of `weight · count · {1, a, a²}` over a value's bins, up
/// to any point: bin k's count is taken as spread evenly over the bin, and
/// `a` is either the element itself (exact moments of that spread) or a
/// quantity tabulated per bin (`g(x)` at the bin's centre).
struct Sums {
    lo: f64,
    width: f64,
    /// Per bin: the weighted count and its sums of `a` and `a²` (for the
    /// element itself, those of the whole bin).
    bins: Vec<[f64; 3]>,
    /// The sums over the bins before each edge (`bins.len() + 1` of them).
    edges: Vec<[f64; 3]>,
    /// `a` is the element itself.
    exact: bool,
}

impl Sums {
    /// Sums of the elements (`tabulated` None) or of a tabulated `a`.
    fn new(d: &Dense, weights: Option<&[f64]>, tabulated: Option<&[f64]>) -> Sums {
        let w = d.width();
        let bins: Vec<[f64; 3]> = (0..d.counts.len())
            .map(|k| {
                let c = d.counts[k] * weights.map_or(1.0, |ws| ws[k]);
                let a = tabulated.map_or(d.lo + (k as f64 + 0.5) * w, |t| t[k]);
                let a2 = if tabulated.is_some() { a * a } else { a * a + w * w / 12.0 };
                [c, c * a, c * a2]
            })
            .collect();
        let mut edges = vec![[0.0; 3]];
        for b in &bins {
            let e = edges[edges.len() - 1];
            edges.push([e[0] + b[0], e[1] + b[1], e[2] + b[2]]);
        }
        Sums { lo: d.lo, width: w, bins, edges, exact: tabulated.is_none() }
    }

    /// The sums over the elements below `t`.
    fn below(&self, t: f64) -> [f64; 3] {
        let n = self.bins.len();
        if self.width <= 0.0 || t >= self.lo + n as f64 * self.width {
            return self.edges[n];
        }
        if t <= self.lo {
            return [0.0; 3];
        }
        let k = (((t - self.lo) / self.width) as usize).min(n - 1);
        let x0 = self.lo + k as f64 * self.width;
        let (e, b) = (self.edges[k], self.bins[k]);
        if !self.exact {
            let f = (t - x0) / self.width;
            return [e[0] + f * b[0], e[1] + f * b[1], e[2] + f * b[2]];
        }
        let density = b[0] / self.width;
        [e[0] + density * (t - x0), e[1] + density * (t * t - x0 * x0) / 2.0, e[2] + density * (t.powi(3) - x0.powi(3)) / 3.0]
    }

    /// `Σ (a − y)²` over the elements in `[u, v]`.
    fn squared_distance(&self, u: f64, v: f64, y: f64) -> f64 {
        if v <= u {
            return 0.0;
        }
        let (a, b) = (self.below(u), self.below(v));
        let (n, s, s2) = (b[0] - a[0], b[1] - a[1], b[2] - a[2]);
        (s2 - 2.0 * y * s + y * y * n).max(0.0)
    }
}

/// A reader applying `g`: the squared slope of `g` per bin weights the
/// rounding error, and `g` at the bin centres prices clipping.
struct Function {
    node: NodeId,
    rounding: Sums,
    clipping: Sums,
}

/// The expected squared error of a candidate range, summed over the
/// value's readers.
struct ErrorModel<'a> {
    lo: f64,
    hi: f64,
    /// The value's own error, when a linear reader sees it.
    linear: Option<Sums>,
    functions: Vec<Function>,
    g: &'a Graph,
}

impl<'a> ErrorModel<'a> {
    fn new(d: &Dense, role: &Role, g: &'a Graph) -> ErrorModel<'a> {
        let w = d.width();
        let centres: Vec<f64> = (0..d.counts.len()).map(|k| d.lo + (k as f64 + 0.5) * w).collect();
        let shifted = |by: f64| centres.iter().map(|x| x + by).collect::<Vec<f64>>();
        let functions: Vec<Function> = role
            .functions
            .iter()
            .filter_map(|&node| {
                let at = roles::apply(g, node, &centres)?;
                let (left, right) = (roles::apply(g, node, &shifted(-w / 2.0))?, roles::apply(g, node, &shifted(w / 2.0))?);
                let slope2: Vec<f64> = left.iter().zip(&right).map(|(l, r)| if w > 0.0 { ((r - l) / w).powi(2) } else { 0.0 }).collect();
                Some(Function { node, rounding: Sums::new(d, Some(&slope2), None), clipping: Sums::new(d, None, Some(&at)) })
            })
            .collect();
        // A reader whose function could not be tabulated counts as linear,
        // and so does the value itself when nothing reads it.
        let linear = role.linear || functions.len() < role.functions.len() || role.functions.is_empty();
        ErrorModel { lo: d.lo, hi: d.hi, linear: linear.then(|| Sums::new(d, None, None)), functions, g }
    }

    /// The error of quantizing to the range `[a, b]` (0 included): each
    /// element inside costs its squared distance to its code, each one
    /// outside its squared distance to the end it is clipped to (through
    /// each function reader's `g`). Exact zeros are not in the histogram:
    /// they cost nothing.
    fn error(&self, a: f64, b: f64) -> f64 {
        let p = QParams::for_range(Range { lo: a as f32, hi: b as f32 });
        let (qa, qb) = (p.real(-128), p.real(127));
        let rounding = |sums: &Sums| self.rounding(sums, &p, qa, qb);
        let mut e = 0.0;
        if let Some(sums) = &self.linear {
            e += rounding(sums) + sums.squared_distance(self.lo, qa, qa) + sums.squared_distance(qb, self.hi, qb);
        }
        for f in &self.functions {
            let Some(ends) = roles::apply(self.g, f.node, &[qa, qb]) else { continue };
            e += rounding(&f.rounding) + f.clipping.squared_distance(self.lo, qa, ends[0]) + f.clipping.squared_distance(qb, self.hi, ends[1]);
        }
        e
    }

    /// The rounding error inside `[qa, qb]`, code by code: the elements
    /// nearer to code `q` than to any other, by their squared distance.
    fn rounding(&self, sums: &Sums, p: &QParams, qa: f64, qb: f64) -> f64 {
        let s = p.scale as f64;
        let (from, to) = (self.lo.max(qa), self.hi.min(qb));
        let mut e = 0.0;
        for q in p.quantize(from)..=p.quantize(to) {
            let t = p.real(q);
            e += sums.squared_distance((t - s / 2.0).max(from), (t + s / 2.0).min(to), t);
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(linear: bool) -> Role {
        Role { linear, ..Role::default() }
    }

    #[test]
    fn an_outlier_is_clipped_where_its_distance_balances_the_resolution() {
        let g = Graph::new("none");
        let dense = |n: usize| (0..n).map(|i| ((i % 1000) as f32 / 1000.0) * 2.0 - 1.0).collect::<Vec<f32>>();
        let (a, b) = range(&ValueStats::of(&[&dense(100_000)]), &role(true), &g);
        assert!(a <= -0.98 && b >= 0.98, "{a} {b}");
        // n elements in [-1, 1] and one at 40: clipping at b costs
        // (40 − b)², rounding n · ((b + 1)/255)²/12, least at
        // b = (40 − k) / (1 + k) with k = n / (12 · 255²).
        for n in [100_000, 1_000_000] {
            let mut values = dense(n);
            values.push(40.0);
            let s = ValueStats::of(&[&values]);
            let k = n as f64 / (12.0 * 255.0 * 255.0);
            let best = (40.0 - k) / (1.0 + k);
            let (a, b) = range(&s, &role(true), &g);
            // (a is where the zero point puts the lowest code)
            let lowest = QParams::for_range(Range { lo: a as f32, hi: b as f32 }).real(-128);
            assert!(lowest <= -0.95 && (b / best - 1.0).abs() < 0.1, "n {n}: {a} ({lowest}) {b}, expected {best}");
            // Unless its maximum must stay.
            let keep = Role { keep_max: true, ..role(true) };
            assert_eq!(range(&s, &keep, &g).1, 40.0);
        }
    }

    #[test]
    fn zeros_are_free_so_a_sparse_gate_keeps_its_top() {
        // 90 % exact zeros and a spread of small and large values: the
        // zeros must not pull the range in.
        let mut values = vec![0f32; 9000];
        values.extend((0..1000).map(|i| (i as f32 / 1000.0).powi(3)));
        let s = ValueStats::of(&[&values]);
        let (_, b) = range(&s, &role(true), &g_empty());
        assert!(b > 0.8, "{b}");
    }

    fn g_empty() -> Graph {
        Graph::new("none")
    }

    #[test]
    fn the_error_model_counts_rounding_code_by_code() {
        // Elements spread evenly: the rounding error per element is step²/12.
        let values: Vec<f32> = (0..200_000).map(|i| (i as f32 + 0.5) / 200_000.0 * 2.55).collect();
        let s = ValueStats::of(&[&values]);
        let d = Dense::of(&s);
        let g = g_empty();
        let model = ErrorModel::new(&d, &role(true), &g);
        let per_element = model.error(0.0, 2.55) / 200_000.0;
        let step = 2.55f64 / 255.0;
        assert!((per_element / (step * step / 12.0) - 1.0).abs() < 0.05, "{per_element}");
        // Clipping the top tenth costs the clipped elements' squared distance.
        let clipped = model.error(0.0, 2.295) / 200_000.0;
        let expected = 0.1 * (0.255f64 * 0.255) / 3.0;
        assert!((clipped / expected - 1.0).abs() < 0.1, "{clipped} vs {expected}");
    }
}
