//! Powers: `pow` (f64) and `powf` (f32, f32 arithmetic only), with the
//! special cases of C99 Annex F.9.4.4.
//!
//! |x|^y = exp(y log|x|): log|x| is a pair accurate to about 2^-70
//! ([`log_pair64`]), y log|x| is formed as a pair (Dekker product) and fed
//! to the exp kernel with its low part, so the result has one final rounding
//! (two for subnormal results). A negative x is allowed for integer y; the
//! sign is negative for odd y.

use super::exp::{exp_parts32, exp_parts64};
use super::logpair::{log_pair32, log_pair64};
use super::{ldexp32, ldexp64, trunc, truncf, two_prod32, two_prod64};

/// Whether y (finite) is an integer, and whether it is an odd one.
#[inline]
fn int_odd64(y: f64) -> (bool, bool) {
    if trunc(y) != y {
        return (false, false);
    }
    // |y| >= 2^53 is even; below, y/2 is exact.
    let h = 0.5 * y;
    (true, y.abs() < 9007199254740992.0 && trunc(h) != h)
}

#[inline]
fn int_odd32(y: f32) -> (bool, bool) {
    if truncf(y) != y {
        return (false, false);
    }
    let h = 0.5 * y;
    (true, y.abs() < 16777216.0 && truncf(h) != h)
}

/// x^y.
pub fn pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if x.is_nan() || y.is_nan() {
        return x + y;
    }
    let ax = x.abs();
    if y.is_infinite() {
        // |x| = 1 here means x = -1.
        return if ax == 1.0 {
            1.0
        } else if (ax > 1.0) == (y > 0.0) {
            f64::INFINITY
        } else {
            0.0
        };
    }
    let (int, odd) = int_odd64(y);
    let neg = x.is_sign_negative() && odd;
    if ax == 0.0 || ax == f64::INFINITY {
        // x = +-0 or +-inf: the magnitude is 0 or inf, the sign that of x for odd y.
        let big = (ax == 0.0) == (y < 0.0);
        let v = if big { f64::INFINITY } else { 0.0 };
        return if neg { -v } else { v };
    }
    if x < 0.0 && !int {
        return f64::NAN;
    }
    let v = pow_pos64(ax, y);
    if neg { -v } else { v }
}

/// x^y for finite x > 0 and finite y != 0.
#[inline]
fn pow_pos64(x: f64, y: f64) -> f64 {
    if x == 1.0 {
        return 1.0; // x = -1 with an integer y
    }
    // |log x| >= 2^-53 for x != 1, so |y| > 2^64 overflows or underflows.
    if y.abs() > 1.8446744073709552e19 {
        return if (x > 1.0) == (y > 0.0) { f64::INFINITY } else { 0.0 };
    }
    let (lh, ll) = log_pair64(x, 0.0);
    let (zh, ze) = two_prod64(y, lh);
    let zl = ze + y * ll;
    if zh > 710.0 {
        return f64::INFINITY;
    }
    if zh < -746.0 {
        return 0.0;
    }
    let (e, h, l) = exp_parts64(zh, zl);
    ldexp64(h + l, e)
}

/// x^y.
pub fn powf(x: f32, y: f32) -> f32 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if x.is_nan() || y.is_nan() {
        return x + y;
    }
    let ax = x.abs();
    if y.is_infinite() {
        return if ax == 1.0 {
            1.0
        } else if (ax > 1.0) == (y > 0.0) {
            f32::INFINITY
        } else {
            0.0
        };
    }
    let (int, odd) = int_odd32(y);
    let neg = x.is_sign_negative() && odd;
    if ax == 0.0 || ax == f32::INFINITY {
        let big = (ax == 0.0) == (y < 0.0);
        let v = if big { f32::INFINITY } else { 0.0 };
        return if neg { -v } else { v };
    }
    if x < 0.0 && !int {
        return f32::NAN;
    }
    let v = pow_pos32(ax, y);
    if neg { -v } else { v }
}

#[inline]
fn pow_pos32(x: f32, y: f32) -> f32 {
    if x == 1.0 {
        return 1.0; // x = -1 with an integer y
    }
    // |log x| >= 2^-24 for x != 1, so |y| > 2^32 overflows or underflows.
    if y.abs() > 4294967296.0 {
        return if (x > 1.0) == (y > 0.0) { f32::INFINITY } else { 0.0 };
    }
    let (lh, ll) = log_pair32(x, 0.0);
    let (zh, ze) = two_prod32(y, lh);
    let zl = ze + y * ll;
    if zh > 89.0 {
        return f32::INFINITY;
    }
    if zh < -104.0 {
        return 0.0;
    }
    let (e, h, l) = exp_parts32(zh, zl);
    ldexp32(h + l, e)
}
