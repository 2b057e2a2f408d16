//! Normalisations: LayerNormalization, InstanceNormalization and
//! GroupNormalization (`group_norm`), LpNormalization (`lp_norm`), LRN
//! (`lrn`) and MeanVarianceNormalization (`mvn`). Float element types,
//! computed in [`Norm::A`] (f32 for f32, f16 and bf16; f64 for f64) with
//! two-pass mean and variance, rounded once when stored.

use super::super::index::strided_offset;
use super::super::math;
use super::super::scalar::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16, Convert, Num, BF16, F16};

/// The arithmetic normalisations compute in.
pub trait NormAcc: Num {
    fn sqrt(self) -> Self;
    fn powf(self, e: Self) -> Self;
}

impl NormAcc for f32 {
    #[inline(always)]
    fn sqrt(self) -> Self {
        math::sqrtf(self)
    }
    #[inline(always)]
    fn powf(self, e: Self) -> Self {
        math::powf(self, e)
    }
}

impl NormAcc for f64 {
    #[inline(always)]
    fn sqrt(self) -> Self {
        math::sqrt(self)
    }
    #[inline(always)]
    fn powf(self, e: Self) -> Self {
        math::pow(self, e)
    }
}

/// Float element types and the type they compute in.
pub trait Norm: Num {
    type A: NormAcc;
    fn to_a(self) -> Self::A;
    fn from_a(a: Self::A) -> Self;
}

macro_rules! norm {
    ($t:ty, $a:ty, $to:expr, $from:expr) => {
        impl Norm for $t {
            type A = $a;
            #[inline(always)]
            fn to_a(self) -> $a {
                $to(self)
            }
            #[inline(always)]
            fn from_a(a: $a) -> $t {
                $from(a)
            }
        }
    };
}
norm!(f32, f32, |v| v, |v| v);
norm!(f64, f64, |v| v, |v| v);
norm!(F16, f32, f16_to_f32, f32_to_f16);
norm!(BF16, f32, bf16_to_f32, f32_to_bf16);

#[inline(always)]
fn at(dims: &[usize], i: usize) -> usize {
    dims.get(i).copied().unwrap_or(0)
}

/// Mean and population variance of `len` elements `x[start + j * step]`;
/// uncentred, the mean is taken as 0 and the variance is the mean square.
#[inline(always)]
fn mean_var<T: Norm>(x: &[T], start: usize, len: usize, step: usize, centered: bool) -> (T::A, T::A) {
    let n = T::A::from_f64(len as f64);
    let mut sum = T::A::ZERO;
    if centered {
        for j in 0..len {
            sum = sum.add(x[start + j * step].to_a());
        }
    }
    let mean = sum.div(n);
    let mut sq = T::A::ZERO;
    for j in 0..len {
        let d = x[start + j * step].to_a().sub(mean);
        sq = sq.add(d.mul(d));
    }
    (mean, sq.div(n))
}

/// Normalises blocks of `per_channel * spatial` contiguous elements:
/// `y = (x - mean) * inv_std * scale[p] + bias[p]` with `dims = [count,
/// groups, per_channel, spatial]`; block `b` is group `g = b % groups`,
/// its element `i` takes parameter `p = g` (`by_group`) or
/// `g * per_channel + i / spatial`. `mean` and `inv_std` receive each
/// block's statistics; `bias` is read only with `has_bias`. Uncentred
/// (RMSNormalization), the mean is 0 and the variance the mean square.
#[allow(clippy::too_many_arguments)]
pub fn group_norm<T: Norm>(
    x: &[T],
    scale: &[T],
    bias: &[T],
    y: &mut [T],
    mean: &mut [T],
    inv_std: &mut [T],
    dims: &[usize],
    epsilon: f64,
    by_group: bool,
    has_bias: bool,
    centered: bool,
) {
    let (count, groups, per_channel, spatial) = (at(dims, 0), at(dims, 1).max(1), at(dims, 2), at(dims, 3).max(1));
    let len = per_channel * spatial;
    let eps = T::A::from_f64(epsilon);
    for b in 0..count {
        let start = b * len;
        let (m, var) = mean_var(x, start, len, 1, centered);
        let inv = T::A::ONE.div(var.add(eps).sqrt());
        mean[b] = T::from_a(m);
        inv_std[b] = T::from_a(inv);
        let g = b % groups;
        for i in 0..len {
            let p = if by_group { g } else { g * per_channel + i / spatial };
            let mut v = x[start + i].to_a().sub(m).mul(inv).mul(scale[p].to_a());
            if has_bias {
                v = v.add(bias[p].to_a());
            }
            y[start + i] = T::from_a(v);
        }
    }
}

/// `y = x / ‖x‖_p` (p = 1 or 2) along the middle axis of
/// `dims = [outer, n, inner]`; a zero norm gives 0.
pub fn lp_norm<T: Norm>(x: &[T], y: &mut [T], dims: &[usize], p: i64) {
    let (outer, n, inner) = (at(dims, 0), at(dims, 1), at(dims, 2));
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            let mut sum = T::A::ZERO;
            for j in 0..n {
                let v = x[base + j * inner].to_a();
                sum = sum.add(if p == 1 { if v < T::A::ZERO { T::A::ZERO.sub(v) } else { v } } else { v.mul(v) });
            }
            let norm = if p == 1 { sum } else { sum.sqrt() };
            for j in 0..n {
                let at = base + j * inner;
                y[at] = T::from_a(if norm == T::A::ZERO { T::A::ZERO } else { x[at].to_a().div(norm) });
            }
        }
    }
}

/// LRN across channels of `dims = [n, c, inner, size]`: `y = x / (bias +
/// alpha / size * Σ x²)^beta` over channels `c - (size-1)/2 ..= c + size/2`.
pub fn lrn<T: Norm>(x: &[T], y: &mut [T], dims: &[usize], alpha: f64, beta: f64, bias: f64) {
    let (images, c, inner, size) = (at(dims, 0), at(dims, 1), at(dims, 2), at(dims, 3));
    let (before, after) = (size.saturating_sub(1) / 2, size / 2);
    let scale = T::A::from_f64(alpha / size.max(1) as f64);
    let (beta, bias) = (T::A::from_f64(beta), T::A::from_f64(bias));
    for img in 0..images {
        let base = img * c * inner;
        for ch in 0..c {
            let (lo, hi) = (ch.saturating_sub(before), if ch + after + 1 < c { ch + after + 1 } else { c });
            for i in 0..inner {
                let mut sum = T::A::ZERO;
                for k in lo..hi {
                    let v = x[base + k * inner + i].to_a();
                    sum = sum.add(v.mul(v));
                }
                let at = base + ch * inner + i;
                y[at] = T::from_a(x[at].to_a().div(bias.add(scale.mul(sum)).powf(beta)));
            }
        }
    }
}

/// MeanVarianceNormalization: `y = (x - mean) / (sqrt(var) + epsilon)`
/// over lanes described as in `reduce` (`dims = [kr, rr, kept, kept
/// strides, reduced, reduced strides]`); `y` has the layout of `x`.
pub fn mvn<T: Norm>(x: &[T], y: &mut [T], dims: &[usize], epsilon: f64) {
    let (kr, rr) = (at(dims, 0), at(dims, 1));
    let part = |k: usize, len: usize| dims.get(2 + k..2 + k + len).unwrap_or(&[]);
    let (kept, kept_strides, red, red_strides) = (part(0, kr), part(kr, kr), part(2 * kr, rr), part(2 * kr + rr, rr));
    let count: usize = kept.iter().product();
    let len: usize = red.iter().product();
    let n = T::A::from_f64(len as f64);
    let eps = T::A::from_f64(epsilon);
    for k in 0..count {
        let base = strided_offset(k, kept, kept_strides);
        let mut sum = T::A::ZERO;
        for j in 0..len {
            sum = sum.add(x[base + strided_offset(j, red, red_strides)].to_a());
        }
        let mean = sum.div(n);
        let mut sq = T::A::ZERO;
        for j in 0..len {
            let d = x[base + strided_offset(j, red, red_strides)].to_a().sub(mean);
            sq = sq.add(d.mul(d));
        }
        let var = sq.div(n);
        let var = if var > T::A::ZERO { var } else { T::A::ZERO };
        let std = var.sqrt().add(eps);
        for j in 0..len {
            let at = base + strided_offset(j, red, red_strides);
            y[at] = T::from_a(x[at].to_a().sub(mean).div(std));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_norm_rows_with_stats() {
        let x = [1.0f32, 3.0, -2.0, 2.0];
        let (mut y, mut m, mut inv) = ([0.0f32; 4], [0.0f32; 2], [0.0f32; 2]);
        group_norm(&x, &[1.0, 2.0], &[0.5, 0.5], &mut y, &mut m, &mut inv, &[2, 1, 2, 1], 0.0, false, true, true);
        assert_eq!(y, [-0.5, 2.5, -0.5, 2.5]);
        assert_eq!((m, inv), ([2.0, 0.0], [1.0, 0.5]));
    }

    #[test]
    fn lp_lrn_and_mvn() {
        let x = [3.0f64, 4.0, 0.0, 0.0];
        let mut y = [0.0f64; 4];
        lp_norm(&x, &mut y, &[2, 2, 1], 2);
        assert_eq!(y, [0.6, 0.8, 0.0, 0.0]);
        lrn(&x, &mut y, &[1, 2, 2, 1], 1.0, 1.0, 0.0);
        assert_eq!(y[0], 1.0 / 3.0);
        // Normalise each column of a [2, 2] matrix (axis 0).
        let x = [1.0f32, 5.0, 3.0, 5.0];
        let mut y = [0.0f32; 4];
        mvn(&x, &mut y, &[1, 1, 2, 1, 2, 2], 0.0);
        assert_eq!(y[0], -1.0);
        assert!(y[1].is_nan());
    }
}
