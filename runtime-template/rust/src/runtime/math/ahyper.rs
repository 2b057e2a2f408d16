//! Inverse hyperbolic functions: `asinh`, `acosh`, `atanh` for f32 and f64.
//!
//! asinh a = log(a + sqrt(a^2 + 1)), acosh x = log(x + sqrt(x^2 - 1)) and
//! atanh a = log((1 + a)/(1 - a))/2, with the argument of the log formed as
//! an exact-enough pair (x^2 - 1 as d^2 + 2d with d = x - 1 exact) and the
//! log taken as a pair ([`log_pair64`]), so that the result near 0 (or near
//! x = 1 for acosh) keeps its relative accuracy. Past 2^28 (2^14 for f32),
//! asinh and acosh are log(2|x|). The f32 functions use only f32 arithmetic.

use super::logpair::{log_pair32, log_pair64};
use super::{div_pair32, div_pair64, fast_two_sum32, fast_two_sum64, sqrt, sqrtf, two_prod32, two_prod64, two_sum32, two_sum64};

/// ln 2 = hi + lo.
const LN2_64: (f64, f64) = (core::f64::consts::LN_2, 2.3190468138462996e-17);
const LN2_32: (f32, f32) = (core::f32::consts::LN_2, -1.9046542e-09);

/// sqrt(wh + wl) = hi + lo for wh > 0, |wl| <= ulp(wh).
#[inline]
fn sqrt_pair64(wh: f64, wl: f64) -> (f64, f64) {
    let sh = sqrt(wh);
    let (p, pe) = two_prod64(sh, sh);
    (sh, (((wh - p) - pe) + wl) / (2.0 * sh))
}

#[inline]
fn sqrt_pair32(wh: f32, wl: f32) -> (f32, f32) {
    let sh = sqrtf(wh);
    let (p, pe) = two_prod32(sh, sh);
    (sh, (((wh - p) - pe) + wl) / (2.0 * sh))
}

/// log(a + (sh + sl)) rounded, for a >= 0 and a + sh >= 1.
#[inline]
fn log_sum64(a: f64, sh: f64, sl: f64) -> f64 {
    let (vh, vl) = two_sum64(a, sh);
    let (vh, vl) = fast_two_sum64(vh, vl + sl);
    let (lh, ll) = log_pair64(vh, vl);
    lh + ll
}

#[inline]
fn log_sum32(a: f32, sh: f32, sl: f32) -> f32 {
    let (vh, vl) = two_sum32(a, sh);
    let (vh, vl) = fast_two_sum32(vh, vl + sl);
    let (lh, ll) = log_pair32(vh, vl);
    lh + ll
}

/// log(2a) rounded, for finite a > 0.
#[inline]
fn log_twice64(a: f64) -> f64 {
    let (lh, ll) = log_pair64(a, 0.0);
    let (s, e) = two_sum64(lh, LN2_64.0);
    s + (e + (ll + LN2_64.1))
}

#[inline]
fn log_twice32(a: f32) -> f32 {
    let (lh, ll) = log_pair32(a, 0.0);
    let (s, e) = two_sum32(lh, LN2_32.0);
    s + (e + (ll + LN2_32.1))
}

/// Inverse hyperbolic sine.
#[inline]
pub fn asinh(x: f64) -> f64 {
    let a = x.abs();
    if a < 1.4901161193847656e-8 || a.is_nan() || a == f64::INFINITY {
        return x; // |x| < 2^-26 (x^3/6 below half an ulp), NaN or inf
    }
    let v = if a > 268435456.0 {
        log_twice64(a) // 1/(4a^2) < 2^-58
    } else {
        let (p, pe) = two_prod64(a, a);
        let (wh, wl) = two_sum64(1.0, p);
        let (sh, sl) = sqrt_pair64(wh, wl + pe);
        log_sum64(a, sh, sl)
    };
    f64::copysign(v, x)
}

/// Inverse hyperbolic cosine; NaN for x < 1.
#[inline]
pub fn acosh(x: f64) -> f64 {
    if x < 1.0 || x.is_nan() {
        return if x.is_nan() { x + x } else { f64::NAN };
    }
    if x == f64::INFINITY {
        return x;
    }
    if x > 268435456.0 {
        return log_twice64(x);
    }
    // x^2 - 1 = d^2 + 2d with d = x - 1 exact.
    let d = x - 1.0;
    let (p, pe) = two_prod64(d, d);
    let (wh, wl) = two_sum64(2.0 * d, p);
    if wh == 0.0 {
        return 0.0;
    }
    let (sh, sl) = sqrt_pair64(wh, wl + pe);
    log_sum64(x, sh, sl)
}

/// Inverse hyperbolic tangent; +-inf at +-1, NaN for |x| > 1.
#[inline]
pub fn atanh(x: f64) -> f64 {
    let a = x.abs();
    if a < 7.450580596923828e-9 || a.is_nan() {
        return x; // |x| < 2^-27 (x^3/3 below half an ulp), or NaN
    }
    if a >= 1.0 {
        return if a == 1.0 { f64::copysign(f64::INFINITY, x) } else { f64::NAN };
    }
    let (nh, nl) = two_sum64(1.0, a);
    let (dh, dl) = two_sum64(1.0, -a);
    let (qh, ql) = div_pair64(nh, nl, dh, dl);
    let (qh, ql) = fast_two_sum64(qh, ql);
    let (lh, ll) = log_pair64(qh, ql);
    f64::copysign(0.5 * (lh + ll), x)
}

/// Inverse hyperbolic sine.
#[inline]
pub fn asinhf(x: f32) -> f32 {
    let a = x.abs();
    if a < 2.4414062e-4 || a.is_nan() || a == f32::INFINITY {
        return x; // |x| < 2^-12, NaN or inf
    }
    let v = if a > 16384.0 {
        log_twice32(a) // 1/(4a^2) < 2^-30
    } else {
        let (p, pe) = two_prod32(a, a);
        let (wh, wl) = two_sum32(1.0, p);
        let (sh, sl) = sqrt_pair32(wh, wl + pe);
        log_sum32(a, sh, sl)
    };
    f32::copysign(v, x)
}

/// Inverse hyperbolic cosine; NaN for x < 1.
#[inline]
pub fn acoshf(x: f32) -> f32 {
    if x < 1.0 || x.is_nan() {
        return if x.is_nan() { x + x } else { f32::NAN };
    }
    if x == f32::INFINITY {
        return x;
    }
    if x > 16384.0 {
        return log_twice32(x);
    }
    let d = x - 1.0;
    let (p, pe) = two_prod32(d, d);
    let (wh, wl) = two_sum32(2.0 * d, p);
    if wh == 0.0 {
        return 0.0;
    }
    let (sh, sl) = sqrt_pair32(wh, wl + pe);
    log_sum32(x, sh, sl)
}

/// Inverse hyperbolic tangent; +-inf at +-1, NaN for |x| > 1.
#[inline]
pub fn atanhf(x: f32) -> f32 {
    let a = x.abs();
    if a < 2.4414062e-4 || a.is_nan() {
        return x; // |x| < 2^-12, or NaN
    }
    if a >= 1.0 {
        return if a == 1.0 { f32::copysign(f32::INFINITY, x) } else { f32::NAN };
    }
    let (nh, nl) = two_sum32(1.0, a);
    let (dh, dl) = two_sum32(1.0, -a);
    let (qh, ql) = div_pair32(nh, nl, dh, dl);
    let (qh, ql) = fast_two_sum32(qh, ql);
    let (lh, ll) = log_pair32(qh, ql);
    f32::copysign(0.5 * (lh + ll), x)
}
