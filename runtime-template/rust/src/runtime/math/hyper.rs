//! Hyperbolic functions: `sinh`, `cosh`, `tanh` for f32 and f64.
//!
//! All go through e^|x| or e^|x| - 1 as an unevaluated pair (the exp
//! kernel), combined in pair arithmetic so that only the last rounding
//! counts: sinh = (E + E/(E + 1))/2 and tanh = E'/(E' + 2) with E = e^|x| - 1,
//! E' = e^(2|x|) - 1 (no cancellation near 0), cosh = (e^|x| + e^-|x|)/2.
//! Past the point where e^-|x| no longer matters, sinh and cosh are
//! e^|x|/2 scaled in the exponent (no spurious overflow), and tanh is +-1.
//! The f32 functions use only f32 arithmetic.

use super::exp::{expm1_pair32, expm1_pair64, exp_parts32, exp_parts64};
use super::{div_pair32, div_pair64, fast_two_sum32, fast_two_sum64, ldexp32, ldexp64, pow2_32, pow2_64, two_sum32, two_sum64};

/// e^a / 2 for 0 <= a <= 711 (inf past the overflow threshold).
#[inline]
fn half_exp64(a: f64) -> f64 {
    let (e, h, l) = exp_parts64(a, 0.0);
    ldexp64(h + l, e - 1)
}

#[inline]
fn half_exp32(a: f32) -> f32 {
    let (e, h, l) = exp_parts32(a, 0.0);
    ldexp32(h + l, e - 1)
}

/// Hyperbolic sine.
#[inline]
pub fn sinh(x: f64) -> f64 {
    let a = x.abs();
    if a < 1.4901161193847656e-8 || a.is_nan() {
        return x; // |x| < 2^-26 (x^3/6 is below half an ulp), or NaN
    }
    if a > 711.0 {
        return f64::copysign(f64::INFINITY, x);
    }
    let v = if a > 40.0 {
        half_exp64(a)
    } else {
        let (eh, el) = expm1_pair64(a);
        let (dh, dl) = two_sum64(eh, 1.0);
        let (qh, ql) = div_pair64(eh, el, dh, dl + el);
        let (sh, sl) = two_sum64(eh, qh);
        0.5 * (sh + (sl + (el + ql)))
    };
    f64::copysign(v, x)
}

/// Hyperbolic cosine.
#[inline]
pub fn cosh(x: f64) -> f64 {
    let a = x.abs();
    if a.is_nan() {
        return x + x;
    }
    if a < 1.4901161193847656e-8 {
        return 1.0; // x^2/2 is at most half an ulp of 1
    }
    if a > 711.0 {
        return f64::INFINITY;
    }
    if a > 40.0 {
        return half_exp64(a);
    }
    let (k, h, l) = exp_parts64(a, 0.0);
    let s = pow2_64(k);
    let (eh, el) = fast_two_sum64(h * s, l * s);
    let (ih, il) = div_pair64(1.0, 0.0, eh, el);
    let (sh, sl) = two_sum64(eh, ih);
    0.5 * (sh + (sl + (el + il)))
}

/// Hyperbolic tangent.
#[inline]
pub fn tanh(x: f64) -> f64 {
    let a = x.abs();
    if a < 7.450580596923828e-9 || a.is_nan() {
        return x; // |x| < 2^-27 (x^3/3 is below half an ulp), or NaN
    }
    if a > 22.0 {
        return f64::copysign(1.0, x); // 1 - tanh(22) < 2^-62
    }
    let (eh, el) = expm1_pair64(2.0 * a);
    let (dh, dl) = two_sum64(eh, 2.0);
    let (qh, ql) = div_pair64(eh, el, dh, dl + el);
    f64::copysign(qh + ql, x)
}

/// Hyperbolic sine.
#[inline]
pub fn sinhf(x: f32) -> f32 {
    let a = x.abs();
    if a < 2.4414062e-4 || a.is_nan() {
        return x; // |x| < 2^-12, or NaN
    }
    if a > 90.0 {
        return f32::copysign(f32::INFINITY, x);
    }
    let v = if a > 12.0 {
        half_exp32(a)
    } else {
        let (eh, el) = expm1_pair32(a);
        let (dh, dl) = two_sum32(eh, 1.0);
        let (qh, ql) = div_pair32(eh, el, dh, dl + el);
        let (sh, sl) = two_sum32(eh, qh);
        0.5 * (sh + (sl + (el + ql)))
    };
    f32::copysign(v, x)
}

/// Hyperbolic cosine.
#[inline]
pub fn coshf(x: f32) -> f32 {
    let a = x.abs();
    if a.is_nan() {
        return x + x;
    }
    if a < 2.4414062e-4 {
        return 1.0;
    }
    if a > 90.0 {
        return f32::INFINITY;
    }
    if a > 12.0 {
        return half_exp32(a);
    }
    let (k, h, l) = exp_parts32(a, 0.0);
    let s = pow2_32(k);
    let (eh, el) = fast_two_sum32(h * s, l * s);
    let (ih, il) = div_pair32(1.0, 0.0, eh, el);
    let (sh, sl) = two_sum32(eh, ih);
    0.5 * (sh + (sl + (el + il)))
}

/// Hyperbolic tangent.
#[inline]
pub fn tanhf(x: f32) -> f32 {
    let a = x.abs();
    if a < 2.4414062e-4 || a.is_nan() {
        return x; // |x| < 2^-12, or NaN
    }
    if a > 10.0 {
        return f32::copysign(1.0, x); // 1 - tanh(10) < 2^-27
    }
    let (eh, el) = expm1_pair32(2.0 * a);
    let (dh, dl) = two_sum32(eh, 2.0);
    let (qh, ql) = div_pair32(eh, el, dh, dl + el);
    f32::copysign(qh + ql, x)
}
