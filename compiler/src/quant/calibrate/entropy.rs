//! The entropy (KL divergence) clipping threshold, as TensorRT calibrates:
//! over a histogram of magnitudes, the threshold whose 8-bit quantization
//! of the histogram loses the least information. Each candidate's
//! divergence is computed from running sums, one step per output level.

/// The clipping threshold, as a fraction of the histogram's span, whose
/// quantization to `levels` levels keeps the most information of the
/// magnitude histogram `h`: for every candidate edge `i` (from `levels`
/// bins up, every `stride`-th), the reference distribution is `h[..i]` with
/// the clipped tail added to its last bin, the candidate is `h[..i]` merged
/// into `levels` groups and spread evenly back over each group's non-empty
/// bins, and the edge with the smallest KL divergence of candidate from
/// reference wins (the earliest on ties). Bin 0 counts like bin 1, so exact
/// zeros do not decide the threshold. The threshold is the middle of bin
/// `i - 1`'s upper half, as TensorRT takes it: `(i + 0.5) / bins`, capped
/// at 1.
pub fn threshold(h: &[f64], levels: usize, stride: usize) -> f64 {
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
    let candidates = (levels..bins).step_by(stride.max(1)).chain([bins]);
    for i in candidates {
        let tail = prefix.count[bins] - prefix.count[i];
        if prefix.count[i] + tail > 0.0 {
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
    count: Vec<f64>,
    nonzero: Vec<u64>,
    c_ln_c: Vec<f64>,
}

impl Prefix {
    fn of(h: &[f64]) -> Prefix {
        let mut p = Prefix { count: vec![0.0], nonzero: vec![0], c_ln_c: vec![0.0] };
        let (mut count, mut nonzero, mut c_ln_c) = (0.0, 0, 0.0);
        for &c in h {
            count += c;
            nonzero += u64::from(c > 0.0);
            c_ln_c += if c > 0.0 { c * c.ln() } else { 0.0 };
            p.count.push(count);
            p.nonzero.push(nonzero);
            p.c_ln_c.push(c_ln_c);
        }
        p
    }

    /// KL(P || Q): P is `h[..i]` with `tail` added to bin `i - 1`; Q is
    /// `h[..i]` merged into `levels` groups, each group's count spread
    /// evenly over its non-empty bins. A bin where P has mass and Q none
    /// (the last, holding only the tail) is charged as if Q held 1e-9.
    fn divergence(&self, h: &[f64], i: usize, tail: f64, levels: usize) -> f64 {
        let p_total = self.count[i] + tail;
        let q_total = self.count[i].max(1.0);
        let last = h[i - 1];
        // Σ p·ln p over the bins before the last, then − Σ p·ln q group by group.
        let before = self.count[i - 1];
        let mut kl = if before > 0.0 { (self.c_ln_c[i - 1] - before * p_total.ln()) / p_total } else { 0.0 };
        let mut q_last = 1e-9;
        for g in 0..levels {
            let (start, end) = (g * i / levels, (g + 1) * i / levels);
            let sum = self.count[end] - self.count[start];
            if sum <= 0.0 {
                continue;
            }
            let q = sum / (self.nonzero[end] - self.nonzero[start]) as f64 / q_total;
            let mass = if end == i { sum - last } else { sum };
            kl -= mass / p_total * q.ln();
            if end == i && last > 0.0 {
                q_last = q;
            }
        }
        let p_last = (last + tail) / p_total;
        if p_last > 0.0 {
            kl += p_last * (p_last / q_last).ln();
        }
        kl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINS: usize = 2048;

    /// The divergence of `Prefix::divergence`, bin by bin.
    fn divergence_by_bins(h: &[f64], i: usize, tail: f64, levels: usize) -> f64 {
        let kept = &h[..i];
        let p_total: f64 = kept.iter().sum::<f64>() + tail;
        let q_total: f64 = kept.iter().sum();
        let mut kl = 0.0;
        for g in 0..levels {
            let (start, end) = (g * i / levels, (g + 1) * i / levels);
            let group = &kept[start..end];
            let sum: f64 = group.iter().sum();
            let nonzero = group.iter().filter(|&&c| c > 0.0).count();
            for (k, &c) in group.iter().enumerate() {
                let p = c + if start + k == i - 1 { tail } else { 0.0 };
                if p > 0.0 {
                    let p = p / p_total;
                    let q = if c > 0.0 { sum / nonzero as f64 / q_total.max(1.0) } else { 1e-9 };
                    kl += p * (p / q).ln();
                }
            }
        }
        kl
    }

    #[test]
    fn running_sums_give_the_divergence_bin_by_bin() {
        let mut rng = crate::ops::testing::Rng(12345);
        for _ in 0..20 {
            let h: Vec<f64> = (0..BINS).map(|_| if rng.next() % 3 == 0 { 0.0 } else { (rng.next() % 1000) as f64 }).collect();
            let prefix = Prefix::of(&h);
            for i in [128, 129, 700, 1500, BINS] {
                let tail = h[i..].iter().sum();
                let (fast, slow) = (prefix.divergence(&h, i, tail, 128), divergence_by_bins(&h, i, tail, 128));
                assert!((fast - slow).abs() < 1e-9 * (1.0 + slow.abs()), "i {i}: {fast} vs {slow}");
            }
        }
    }

    #[test]
    fn a_dense_distribution_keeps_its_span_and_a_sparse_tail_is_clipped() {
        let bell: Vec<f64> = (0..BINS).map(|k| 1000.0 + (BINS - k) as f64 * 10.0).collect();
        assert!(threshold(&bell, 128, 1) > 0.95);
        let mut h = vec![0.0; BINS];
        for (k, c) in h.iter_mut().enumerate().take(200) {
            *c = 100_000.0 - 400.0 * k as f64;
        }
        h[BINS - 1] = 3.0;
        let t = threshold(&h, 128, 1);
        assert!(t > 0.05 && t < 0.3, "{t}");
        // A stride only skips candidates: the threshold stays close.
        assert!((threshold(&h, 128, 8) - t).abs() < 0.01, "{t}");
    }
}
