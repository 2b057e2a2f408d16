//! A streaming histogram on a power-of-two grid: bin `j` covers
//! `[j·2^e, (j+1)·2^e)` and the histogram keeps [`BINS`] consecutive bins.
//! When data falls outside, the bins are merged pairwise (the width doubles)
//! until the window fits, so one pass over the data needs no range known in
//! advance. Because the bins always lie on the same grid, the result is
//! the same whatever the order the tensors arrive in: the counts at width
//! `2^e` of the smallest `e` that fits all the data.

/// Bins of the window: the data always covers at least half of them.
pub const BINS: usize = 4096;

/// Elements from which [`Histogram::bin`] counts into four histograms
/// and adds them (adding costs four windows' worth of work).
const SPLIT_FROM: usize = 16 * BINS;

/// The smallest exponent (float32's smallest magnitudes are around 2^−149).
const MIN_EXP: i32 = -160;

/// Counts of the finite, non-zero elements of one value (zeros are counted
/// by the caller, at their exact position).
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// log2 of the bin width.
    exp: i32,
    /// The grid index of `counts[0]`.
    first: i64,
    /// Empty until the first element arrives.
    counts: Vec<u64>,
}

/// `2^e` as f64 (exact for the exponents used).
fn pow2(e: i32) -> f64 {
    f64::from(2.0f32).powi(e)
}

/// The grid index of `x` at width `2^e`.
fn index(x: f64, e: i32) -> i64 {
    (x * pow2(-e)).floor() as i64
}

/// The position of `x` in the window `(exp, first)`: floor(x · 2^−e) −
/// first, without a libm call (truncate, then step down for negative
/// fractions).
fn grid_index(exp: i32, first: i64) -> impl Fn(f32) -> usize {
    let scale = pow2(-exp);
    move |x| {
        let y = x as f64 * scale;
        let t = y as i64;
        (t - i64::from(t as f64 > y) - first) as usize
    }
}

/// The smallest exponent (at least `floor`) at which `[lo, hi]` spans fewer
/// than [`BINS`] bins.
pub fn fitting_exp(lo: f64, hi: f64, floor: i32) -> i32 {
    let span = hi - lo;
    let mut e = if span > 0.0 { (span / (BINS - 2) as f64).log2().floor() as i32 } else { MIN_EXP };
    e = e.max(floor).max(MIN_EXP);
    while index(hi, e) - index(lo, e) >= BINS as i64 {
        e += 1;
    }
    e
}

impl Histogram {
    /// The exponent a tensor whose elements span `[lo, hi]` (0 included)
    /// asks for on its own. Every tensor's range holds 0, so the exponent of
    /// all the data is the largest of these, whatever the order.
    pub fn own_exp(lo: f64, hi: f64) -> i32 {
        fitting_exp(lo, hi, MIN_EXP)
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The bin width.
    pub fn width(&self) -> f64 {
        pow2(self.exp)
    }

    /// Moves the window to exponent `e` (≥ the current one) starting at
    /// grid index `first`, merging bins; every counted element must fall
    /// inside the new window.
    fn regrid(&mut self, e: i32, first: i64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BINS];
        } else if (e, first) != (self.exp, self.first) {
            let mut counts = vec![0; BINS];
            for (j, &c) in self.counts.iter().enumerate().filter(|(_, &c)| c > 0) {
                counts[(((self.first + j as i64) >> (e - self.exp)) - first) as usize] += c;
            }
            self.counts = counts;
        }
        self.exp = e;
        self.first = first;
    }

    /// Widens the window so that it holds `[lo, hi]` (the range of all
    /// the data counted so far and to come, 0 included) at an exponent of
    /// at least `exp`; returns the window `(exp, first)`.
    pub fn cover(&mut self, lo: f64, hi: f64, exp: i32) -> (i32, i64) {
        let floor = if self.counts.is_empty() { exp } else { exp.max(self.exp) };
        let e = fitting_exp(lo, hi, floor);
        self.regrid(e, index(lo, e));
        (self.exp, self.first)
    }

    /// Adds counts binned on the window `(exp, first)` (the exponent at most
    /// this histogram's; every bin inside its window).
    pub fn add(&mut self, counts: &[u32], exp: i32, first: i64) {
        let shift = self.exp - exp;
        for (j, &c) in counts.iter().enumerate().filter(|(_, &c)| c > 0) {
            self.counts[(((first + j as i64) >> shift) - self.first) as usize] += u64::from(c);
        }
    }

    /// Counts the finite non-zero `values` into `counts`, a window
    /// `(exp, first)` that holds them all; `zeros` of them are exactly 0
    /// and `finite` says that none is NaN or infinite.
    pub fn bin(values: &[f32], exp: i32, first: i64, counts: &mut [u32], zeros: u64, finite: bool) {
        let at = grid_index(exp, first);
        if !finite {
            values.iter().filter(|x| **x != 0.0 && x.is_finite()).for_each(|&x| counts[at(x)] += 1);
            return;
        }
        if values.len() >= SPLIT_FROM {
            // Four histograms taking every fourth element: runs of equal
            // bins no longer wait on the last increment of the same count.
            let n = counts.len();
            let mut split = vec![0u32; 4 * n];
            let quads = values.chunks_exact(4);
            for &x in quads.remainder() {
                split[at(x)] += 1;
            }
            for q in quads {
                split[at(q[0])] += 1;
                split[n + at(q[1])] += 1;
                split[2 * n + at(q[2])] += 1;
                split[3 * n + at(q[3])] += 1;
            }
            for (i, c) in counts.iter_mut().enumerate() {
                *c += split[i] + split[n + i] + split[2 * n + i] + split[3 * n + i];
            }
        } else {
            values.iter().for_each(|&x| counts[at(x)] += 1);
        }
        // Zeros land in the bin of 0 (the window always holds it) and are
        // taken out again, which keeps the loops free of branches.
        counts[(-first) as usize] -= zeros as u32;
    }

    /// [`Histogram::bin`] straight into this histogram's window.
    pub fn count(&mut self, values: &[f32]) {
        let at = grid_index(self.exp, self.first);
        values.iter().filter(|x| **x != 0.0 && x.is_finite()).for_each(|&x| self.counts[at(x)] += 1);
    }

    /// The counts spread over `n` equal bins across `[lo, hi]`, each grid
    /// bin's count shared in proportion to its overlap (the elements are
    /// taken as evenly spread inside a grid bin), of the magnitudes when
    /// `magnitudes`. Elements outside `[lo, hi]` go to the nearest end bin.
    pub fn resample(&self, lo: f64, hi: f64, n: usize, magnitudes: bool) -> Vec<f64> {
        let mut out = vec![0.0; n];
        let width = (hi - lo) / n as f64;
        let w = self.width();
        for (j, &c) in self.counts.iter().enumerate().filter(|(_, &c)| c > 0) {
            let mut start = (self.first + j as i64) as f64 * w;
            if magnitudes && start < 0.0 {
                start = -(start + w);
            }
            let (a, b) = (start.max(lo).min(hi), (start + w).max(lo).min(hi));
            if width <= 0.0 || b <= a {
                let k = if width <= 0.0 || start + w <= lo { 0 } else { n - 1 };
                out[k] += c as f64;
                continue;
            }
            let scale = c as f64 / (b - a);
            let (ka, kb) = (((a - lo) / width) as usize, (((b - lo) / width) as usize).min(n - 1));
            for (k, slot) in out.iter_mut().enumerate().take(kb + 1).skip(ka) {
                let (s, e) = (lo + k as f64 * width, lo + (k + 1) as f64 * width);
                *slot += (e.min(b) - s.max(a)).max(0.0) * scale;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram_of(parts: &[&[f32]]) -> Histogram {
        let mut h = Histogram::default();
        let (mut lo, mut hi) = (0f64, 0f64);
        for p in parts {
            let (plo, phi) = p.iter().fold((0f64, 0f64), |(a, b), &x| (a.min(x as f64), b.max(x as f64)));
            lo = lo.min(plo);
            hi = hi.max(phi);
            let (e, first) = h.cover(lo, hi, Histogram::own_exp(plo, phi));
            let mut counts = vec![0u32; BINS];
            let zeros = p.iter().filter(|&&x| x == 0.0).count() as u64;
            Histogram::bin(p, e, first, &mut counts, zeros, p.iter().all(|x| x.is_finite()));
            h.add(&counts, e, first);
        }
        h
    }

    #[test]
    fn the_order_does_not_change_the_counts() {
        let a: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 0.01).collect();
        let b: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.11).cos() * 3.0 - 1.0).collect();
        let c: Vec<f32> = vec![250.0, -0.5, 1e-3];
        let one = histogram_of(&[&a, &b, &c]);
        let two = histogram_of(&[&c, &a, &b]);
        let three = histogram_of(&[&b, &c, &a]);
        for h in [&two, &three] {
            assert_eq!((h.exp, h.first), (one.exp, one.first));
            assert_eq!(h.counts, one.counts);
        }
        assert_eq!(one.counts.iter().sum::<u64>(), 2003 - a.iter().filter(|&&x| x == 0.0).count() as u64);
        // The window is as fine as the data allows: at least half used.
        assert!(254.0 / one.width() >= BINS as f64 / 2.0, "{}", one.width());
    }

    #[test]
    fn large_tensors_counted_in_four_histograms_count_the_same() {
        // Runs of zeros and of equal values, an odd tail: the split path.
        let values: Vec<f32> = (0..SPLIT_FROM + 7).map(|i| if i % 5 < 2 { 0.0 } else if i % 97 < 40 { 1.5 } else { (i as f32 * 0.013).sin() * 2.0 }).collect();
        let (exp, first) = (fitting_exp(-2.0, 2.0, MIN_EXP), index(-2.0, fitting_exp(-2.0, 2.0, MIN_EXP)));
        let zeros = values.iter().filter(|&&x| x == 0.0).count() as u64;
        let mut split = vec![0u32; BINS];
        Histogram::bin(&values, exp, first, &mut split, zeros, true);
        let mut one_by_one = vec![0u32; BINS];
        for chunk in values.chunks(SPLIT_FROM - 1) {
            let zeros = chunk.iter().filter(|&&x| x == 0.0).count() as u64;
            Histogram::bin(chunk, exp, first, &mut one_by_one, zeros, true);
        }
        assert_eq!(split, one_by_one);
        assert_eq!(split.iter().map(|&c| u64::from(c)).sum::<u64>(), values.len() as u64 - zeros);
    }

    #[test]
    fn resampling_keeps_the_mass_and_its_place() {
        let values: Vec<f32> = (1..=400).map(|i| i as f32 / 100.0).collect();
        let h = histogram_of(&[&values]);
        let r = h.resample(0.0, 4.0, 4, false);
        assert!((r.iter().sum::<f64>() - 400.0).abs() < 1e-9, "{r:?}");
        for (k, &c) in r.iter().enumerate() {
            assert!((c - 100.0).abs() < 2.0, "bin {k}: {r:?}");
        }
        let negative: Vec<f32> = values.iter().map(|x| -x).collect();
        // Magnitudes of negative elements: the same up to the elements on
        // bin edges, which fall on the other side of them.
        let m = histogram_of(&[&negative]).resample(0.0, 4.0, 4, true);
        assert!(m.iter().zip(&r).all(|(a, b)| (a - b).abs() <= 1.5), "{m:?} vs {r:?}");
    }
}
