//! Reductions along axes and their relatives: Reduce* (sum, mean, max, min,
//! prod, L1, L2, log-sum, log-sum-exp, sum of squares), ArgMax/ArgMin,
//! Softmax/LogSoftmax/Hardmax, CumSum/CumProd and TopK.
//!
//! Layout: `reduce` walks a general strided description (kept dims and
//! strides, reduced dims and strides, all compile-time literals); the
//! single-axis kernels take `(outer, n, inner)`: element `(o, j, i)` of the
//! row-major input is at `(o * n + j) * inner + i`.
//!
//! Floats compute in [`Reduce::A`] (f32 for f32, f16 and bf16; f64 for
//! f64) and round once when stored; integers use wrapping arithmetic in
//! their own type, as the interpreter does (Mean, L2 and LogSum of integers
//! go through f64 and truncate; LogSumExp of integers runs in f64).

use super::super::index::strided_offset;
use super::super::math;
use super::super::scalar::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16, Num, BF16, F16};

/// The arithmetic an element type accumulates in.
pub trait Acc: Num {
    /// Square root (integers: of the f64 value, truncated).
    fn sqrt(self) -> Self;
    /// Natural logarithm (integers: of the f64 value, truncated).
    fn ln(self) -> Self;
    fn exp(self) -> Self;
    /// `sum / n`; for integers through f64, 0 when `n` is 0.
    fn mean(sum: Self, n: usize) -> Self;
}

/// Element types that can be reduced, with their accumulation type.
pub trait Reduce: Num {
    type A: Acc;
    fn to_a(self) -> Self::A;
    fn from_a(a: Self::A) -> Self;
}

macro_rules! int_acc {
    ($($t:ty),*) => {$(
        impl Acc for $t {
            #[inline(always)]
            fn sqrt(self) -> Self { <$t as super::super::scalar::Convert>::from_f64(math::sqrt(self as f64)) }
            #[inline(always)]
            fn ln(self) -> Self { <$t as super::super::scalar::Convert>::from_f64(math::log(self as f64)) }
            #[inline(always)]
            fn exp(self) -> Self { <$t as super::super::scalar::Convert>::from_f64(math::exp(self as f64)) }
            #[inline(always)]
            fn mean(sum: Self, n: usize) -> Self {
                if n == 0 { 0 } else { <$t as super::super::scalar::Convert>::from_f64(sum as f64 / n as f64) }
            }
        }
        impl Reduce for $t {
            type A = $t;
            #[inline(always)]
            fn to_a(self) -> $t { self }
            #[inline(always)]
            fn from_a(a: $t) -> $t { a }
        }
    )*};
}
int_acc!(u8, i8, u16, i16, u32, i32, u64, i64);

impl Acc for f32 {
    #[inline(always)]
    fn sqrt(self) -> Self { math::sqrtf(self) }
    #[inline(always)]
    fn ln(self) -> Self { math::logf(self) }
    #[inline(always)]
    fn exp(self) -> Self { math::expf(self) }
    #[inline(always)]
    fn mean(sum: Self, n: usize) -> Self { sum / n as f32 }
}

impl Acc for f64 {
    #[inline(always)]
    fn sqrt(self) -> Self { math::sqrt(self) }
    #[inline(always)]
    fn ln(self) -> Self { math::log(self) }
    #[inline(always)]
    fn exp(self) -> Self { math::exp(self) }
    #[inline(always)]
    fn mean(sum: Self, n: usize) -> Self { sum / n as f64 }
}

macro_rules! float_reduce {
    ($t:ty, $a:ty, $to:expr, $from:expr) => {
        impl Reduce for $t {
            type A = $a;
            #[inline(always)]
            fn to_a(self) -> $a { $to(self) }
            #[inline(always)]
            fn from_a(a: $a) -> $t { $from(a) }
        }
    };
}
float_reduce!(f32, f32, |v| v, |v| v);
float_reduce!(f64, f64, |v| v, |v| v);
float_reduce!(F16, f32, f16_to_f32, f32_to_f16);
float_reduce!(BF16, f32, bf16_to_f32, f32_to_bf16);

/// The reduction a [`reduce`] call computes (the `kind` literal).
pub const SUM: i64 = 0;
pub const MEAN: i64 = 1;
pub const MAX: i64 = 2;
pub const MIN: i64 = 3;
pub const PROD: i64 = 4;
pub const L1: i64 = 5;
pub const L2: i64 = 6;
pub const LOG_SUM: i64 = 7;
pub const LOG_SUM_EXP: i64 = 8;
pub const SUM_SQUARE: i64 = 9;

#[inline(always)]
#[allow(clippy::eq_op)]
fn is_nan<A: Acc>(v: A) -> bool {
    v != v
}

#[inline(always)]
fn is_finite<A: Acc>(v: A) -> bool {
    let d = v.sub(v);
    !is_nan(d)
}

/// Calls `f` with the offset of every element of a lane (row-major over
/// `dims`, from `base`).
#[inline(always)]
fn for_lane(base: usize, dims: &[usize], strides: &[usize], mut f: impl FnMut(usize)) {
    let (Some((&n, head)), Some((&s, head_strides))) = (dims.split_last(), strides.split_last()) else {
        f(base);
        return;
    };
    let rows: usize = head.iter().product();
    for r in 0..rows {
        let start = base + strided_offset(r, head, head_strides);
        for j in 0..n {
            f(start + j * s);
        }
    }
}

fn fold<T: Reduce>(x: &[T], base: usize, dims: &[usize], strides: &[usize], init: T::A, mut f: impl FnMut(T::A, T::A) -> T::A) -> T::A {
    let mut acc = init;
    for_lane(base, dims, strides, |o| acc = f(acc, x[o].to_a()));
    acc
}

/// Max (`max`) or min of a lane; a NaN wins.
fn extremum<A: Acc>(m: A, v: A, max: bool) -> A {
    if is_nan(m) || is_nan(v) {
        if is_nan(m) { m } else { v }
    } else if (max && v > m) || (!max && v < m) {
        v
    } else {
        m
    }
}

/// `shift + ln Σ exp(v - shift)`, shifted by the largest finite value.
fn log_sum_exp<A: Acc>(lane: impl Fn(&mut dyn FnMut(A))) -> A {
    let mut shift = A::LOWEST;
    lane(&mut |v| {
        if is_finite(v) && v > shift {
            shift = v;
        }
    });
    if !is_finite(shift) {
        shift = A::ZERO;
    }
    let mut sum = A::ZERO;
    lane(&mut |v| sum = sum.add(v.sub(shift).exp()));
    shift.add(sum.ln())
}

/// `y[k] = reduce(x over the lane of output k)`. `dims` is `[kr, rr,
/// kept (kr), kept strides (kr), reduced (rr), reduced strides (rr)]`:
/// output `k` (row-major over the kept dims) starts at
/// `strided_offset(k, kept, kept_strides)`, its lane walks the reduced dims.
/// An empty lane gives the identity.
pub fn reduce<T: Reduce>(x: &[T], y: &mut [T], kind: i64, dims: &[usize]) {
    let (kr, rr) = (dims.first().copied().unwrap_or(0), dims.get(1).copied().unwrap_or(0));
    let part = |k: usize, len: usize| dims.get(2 + k..2 + k + len).unwrap_or(&[]);
    let (kept, kept_strides, red, red_strides) = (part(0, kr), part(kr, kr), part(2 * kr, rr), part(2 * kr + rr, rr));
    let n: usize = red.iter().product();
    for (k, out) in y.iter_mut().enumerate() {
        let base = strided_offset(k, kept, kept_strides);
        let sum = |f: &dyn Fn(T::A) -> T::A| fold(x, base, red, red_strides, T::A::ZERO, |s, v| s.add(f(v)));
        let abs = |v: T::A| if v < T::A::ZERO { T::A::ZERO.sub(v) } else { v };
        let r = match kind {
            SUM => sum(&|v| v),
            MEAN => T::A::mean(sum(&|v| v), n),
            MAX => fold(x, base, red, red_strides, T::A::LOWEST, |m, v| extremum(m, v, true)),
            MIN => fold(x, base, red, red_strides, T::A::HIGHEST, |m, v| extremum(m, v, false)),
            PROD => fold(x, base, red, red_strides, T::A::ONE, |p, v| p.mul(v)),
            L1 => sum(&abs),
            L2 => sum(&|v| v.mul(v)).sqrt(),
            LOG_SUM => sum(&|v| v).ln(),
            LOG_SUM_EXP => {
                if T::IS_FLOAT {
                    log_sum_exp::<T::A>(|f| for_lane(base, red, red_strides, |o| f(x[o].to_a())))
                } else {
                    let v = log_sum_exp::<f64>(|f| for_lane(base, red, red_strides, |o| f(x[o].to_f64())));
                    *out = T::from_f64(v);
                    continue;
                }
            }
            _ => sum(&|v| v.mul(v)),
        };
        *out = T::from_a(r);
    }
}

/// Whether `v` beats the best so far `b` for ArgMax (`max`) / ArgMin: a NaN
/// wins, ties go to the last index when `last` is set.
#[inline(always)]
fn arg_better<A: Acc>(v: A, b: A, max: bool, last: bool) -> bool {
    if is_nan(b) {
        last && is_nan(v)
    } else if is_nan(v) {
        true
    } else if max {
        v > b || (last && v == b)
    } else {
        v < b || (last && v == b)
    }
}

/// ArgMax (`max`) or ArgMin along the middle axis of `(outer, n, inner)`:
/// `y[o * inner + i]` is the index of the extreme element (`n` >= 1).
pub fn arg_extremum<T: Reduce>(x: &[T], y: &mut [i64], dims: &[usize], max: bool, last: bool) {
    let [outer, n, inner] = three(dims);
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            let mut best = 0usize;
            let mut value = x[base].to_a();
            for j in 1..n {
                let v = x[base + j * inner].to_a();
                if arg_better(v, value, max, last) {
                    best = j;
                    value = v;
                }
            }
            y[o * inner + i] = best as i64;
        }
    }
}

/// `[outer, n, inner]` from the start of `dims` (missing entries are 0).
#[inline(always)]
fn three(dims: &[usize]) -> [usize; 3] {
    let at = |i: usize| dims.get(i).copied().unwrap_or(0);
    [at(0), at(1), at(2)]
}

/// The normalisation a [`softmax`] call computes.
pub const SOFTMAX: i64 = 0;
pub const LOG_SOFTMAX: i64 = 1;
pub const HARDMAX: i64 = 2;

/// Softmax, LogSoftmax or Hardmax of every lane along the middle axis of
/// `(outer, n, inner)`.
pub fn softmax<T: Reduce>(x: &[T], y: &mut [T], kind: i64, dims: &[usize]) {
    let [outer, n, inner] = three(dims);
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            if kind == HARDMAX {
                let mut best = 0usize;
                let mut value = T::A::ZERO;
                for j in 0..n {
                    let v = x[base + j * inner].to_a();
                    if j == 0 || arg_better(v, value, true, false) {
                        best = j;
                        value = v;
                    }
                }
                for j in 0..n {
                    y[base + j * inner] = if j == best { T::ONE } else { T::ZERO };
                }
                continue;
            }
            // The largest value, NaN ignored (a NaN makes every output NaN anyway).
            let mut max = T::A::LOWEST;
            for j in 0..n {
                let v = x[base + j * inner].to_a();
                if v > max {
                    max = v;
                }
            }
            let mut sum = T::A::ZERO;
            for j in 0..n {
                sum = sum.add(x[base + j * inner].to_a().sub(max).exp());
            }
            if kind == LOG_SOFTMAX {
                let log_sum = sum.ln();
                for j in 0..n {
                    let at = base + j * inner;
                    y[at] = T::from_a(x[at].to_a().sub(max).sub(log_sum));
                }
            } else {
                for j in 0..n {
                    let at = base + j * inner;
                    y[at] = T::from_a(x[at].to_a().sub(max).exp().div(sum));
                }
            }
        }
    }
}

/// Running sums (or products, `product`) along the middle axis of
/// `(outer, n, inner)`; `exclusive` leaves out each element itself,
/// `reverse` runs from the end.
pub fn cumulative<T: Reduce>(x: &[T], y: &mut [T], dims: &[usize], product: bool, exclusive: bool, reverse: bool) {
    let [outer, n, inner] = three(dims);
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            let mut acc = if product { T::A::ONE } else { T::A::ZERO };
            for step in 0..n {
                let j = if reverse { n - 1 - step } else { step };
                let at = base + j * inner;
                let own = x[at].to_a();
                if exclusive {
                    y[at] = T::from_a(acc);
                }
                acc = if product { acc.mul(own) } else { acc.add(own) };
                if !exclusive {
                    y[at] = T::from_a(acc);
                }
            }
        }
    }
}

/// [`cumulative`] along an axis known at run time (`axis[0]`, negative
/// from the end) of the shape `dims = [rank, d0, d1, ...]`; an axis out of
/// range copies `x`.
fn cumulative_at<T: Reduce>(x: &[T], y: &mut [T], dims: &[usize], axis: i64, flags: [bool; 3]) {
    let rank = dims.first().copied().unwrap_or(0);
    let shape = dims.get(1..1 + rank).unwrap_or(&[]);
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a >= rank as i64 {
        for (o, &i) in y.iter_mut().zip(x) {
            *o = i;
        }
        return;
    }
    let a = a as usize;
    let outer = shape[..a].iter().product();
    let inner = shape[a + 1..].iter().product();
    let [product, exclusive, reverse] = flags;
    cumulative(x, y, &[outer, shape[a], inner], product, exclusive, reverse);
}

/// [`cumulative`] along the int64 axis `axis[0]` (see `cumulative_at`).
pub fn cumulative_axis_i64<T: Reduce>(x: &[T], axis: &[i64], y: &mut [T], dims: &[usize], product: bool, exclusive: bool, reverse: bool) {
    cumulative_at(x, y, dims, axis.first().copied().unwrap_or(0), [product, exclusive, reverse]);
}

/// [`cumulative`] along the int32 axis `axis[0]` (see `cumulative_at`).
pub fn cumulative_axis_i32<T: Reduce>(x: &[T], axis: &[i32], y: &mut [T], dims: &[usize], product: bool, exclusive: bool, reverse: bool) {
    cumulative_at(x, y, dims, axis.first().copied().unwrap_or(0) as i64, [product, exclusive, reverse]);
}

/// Whether `a` ranks strictly before `b` in TopK order: NaN above every
/// number, all NaNs equal.
#[inline(always)]
fn ranks_before<A: Acc>(a: A, b: A, largest: bool) -> bool {
    let (an, bn) = (is_nan(a), is_nan(b));
    if an || bn {
        return if largest { an && !bn } else { bn && !an };
    }
    if largest {
        a > b
    } else {
        a < b
    }
}

/// The `k` largest (`largest`) or smallest elements of every lane along the
/// middle axis of `(outer, n, inner)`, sorted, equal values in index order:
/// `values` and `indices` are `(outer, k, inner)`; `dims` is `[outer, n, inner, k]`.
pub fn top_k<T: Reduce>(x: &[T], values: &mut [T], indices: &mut [i64], dims: &[usize], largest: bool) {
    let [outer, n, inner] = three(dims);
    let k = dims.get(3).copied().unwrap_or(0);
    if k == 0 {
        return;
    }
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            let out = o * k * inner + i;
            // Insertion into the sorted list of the best `len` so far.
            let mut len = 0usize;
            for j in 0..n {
                let v = x[base + j * inner];
                let va = v.to_a();
                let mut p = len;
                while p > 0 && ranks_before(va, values[out + (p - 1) * inner].to_a(), largest) {
                    p -= 1;
                }
                if p >= k {
                    continue;
                }
                let end = if len < k { len } else { k - 1 };
                let mut q = end;
                while q > p {
                    values[out + q * inner] = values[out + (q - 1) * inner];
                    indices[out + q * inner] = indices[out + (q - 1) * inner];
                    q -= 1;
                }
                values[out + p * inner] = v;
                indices[out + p * inner] = j as i64;
                if len < k {
                    len += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_over_strided_axes() {
        // x: [2, 3], reduce axis 0 -> [3]
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut y = [0.0f32; 3];
        reduce(&x, &mut y, SUM, &[1, 1, 3, 1, 2, 3]);
        assert_eq!(y, [5.0, 7.0, 9.0]);
        reduce(&x, &mut y, MAX, &[1, 1, 3, 1, 2, 3]);
        assert_eq!(y, [4.0, 5.0, 6.0]);
        let mut all = [0.0f32; 1];
        reduce(&x, &mut all, MEAN, &[0, 2, 2, 3, 3, 1]);
        assert_eq!(all, [3.5]);
        reduce(&x, &mut all, LOG_SUM_EXP, &[0, 1, 6, 1]);
        assert!((all[0] - 6.456_193).abs() < 1e-5);
        // Empty lanes give the identity.
        let mut e = [0.0f32; 2];
        reduce(&x, &mut e, MIN, &[1, 1, 2, 0, 0, 1]);
        assert_eq!(e, [f32::INFINITY; 2]);
        let xi = [i32::MAX, 1, -3, 4];
        let mut yi = [0i32; 2];
        reduce(&xi, &mut yi, SUM, &[1, 1, 2, 2, 2, 1]);
        assert_eq!(yi, [i32::MIN, 1]);
        reduce(&xi, &mut yi, L2, &[1, 1, 2, 2, 2, 1]);
        assert_eq!(yi[1], 5);
    }

    #[test]
    fn nan_wins_in_max_and_argmax() {
        let x = [1.0f32, f32::NAN, 3.0];
        let mut y = [0.0f32; 1];
        reduce(&x, &mut y, MAX, &[0, 1, 3, 1]);
        assert!(y[0].is_nan());
        let mut i = [0i64; 1];
        arg_extremum(&x, &mut i, &[1, 3, 1], false, false);
        assert_eq!(i, [1]);
        let t = [2i8, 5, 5, 1];
        arg_extremum(&t, &mut i, &[1, 4, 1], true, true);
        assert_eq!(i, [2]);
    }

    #[test]
    fn softmax_rows() {
        let x = [1.0f32, 2.0, 3.0, 1.0, 1.0, 1.0];
        let mut y = [0.0f32; 6];
        softmax(&x, &mut y, SOFTMAX, &[2, 3, 1]);
        assert!((y[2] - 0.665_240_9).abs() < 1e-6 && (y[4] - 1.0 / 3.0).abs() < 1e-6);
        softmax(&x, &mut y, HARDMAX, &[2, 3, 1]);
        assert_eq!(y, [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn cumsum_and_top_k() {
        let x = [1i32, 2, 3, 4];
        let mut y = [0i32; 4];
        cumulative(&x, &mut y, &[1, 4, 1], false, true, true);
        assert_eq!(y, [9, 7, 4, 0]);
        let mut z = [0i32; 4];
        cumulative_axis_i64(&x, &[-2], &mut z, &[2, 2, 2], false, false, false);
        assert_eq!(z, [1, 2, 4, 6]);
        cumulative_axis_i32(&x, &[5], &mut z, &[2, 2, 2], false, false, false);
        assert_eq!(z, x);
        let x = [3.0f32, 1.0, 3.0, f32::NAN, 2.0];
        let (mut v, mut i) = ([0.0f32; 3], [0i64; 3]);
        top_k(&x, &mut v, &mut i, &[1, 5, 1, 3], true);
        assert_eq!(i, [3, 0, 2]);
        top_k(&x, &mut v, &mut i, &[1, 5, 1, 3], false);
        assert_eq!(i, [1, 4, 0]);
        assert_eq!(v, [1.0, 2.0, 3.0]);
    }
}
