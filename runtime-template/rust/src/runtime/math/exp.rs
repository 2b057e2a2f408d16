//! Exponentials: `exp`, `exp2`, `expm1` for f32 and f64.
//!
//! x = k ln2/32 + r with |r| <= ln2/64 (Cody–Waite, exact first step),
//! exp(x) = 2^(k/32 div) * T[k mod 32] * (1 + p(r)) with T = 2^(j/32) as a
//! hi + lo pair and p a minimax polynomial for e^r - 1; one rounding at the
//! end (plus one more for subnormal results). expm1 uses a minimax
//! polynomial for |x| < ln2/2 and the exp kernel with an exact subtraction
//! of 1 elsewhere. The f32 functions use only f32 arithmetic.

use super::{fast_two_sum32, fast_two_sum64, ldexp32, ldexp64, two_prod32, two_prod64, two_sum32, two_sum64};

/// 2^(j/32) = hi + lo, j = 0..32.
#[allow(clippy::approx_constant)]
const T64: [(f64, f64); 32] = [
    (1.0, 0.0),
    (1.0218971486541166, 5.109225028973444e-17),
    (1.0442737824274138, 8.551889705537965e-17),
    (1.0671404006768237, -7.899853966841582e-17),
    (1.0905077326652577, -3.046782079812471e-17),
    (1.1143867425958924, 1.0410278456845571e-16),
    (1.1387886347566916, 8.912812676025408e-17),
    (1.1637248587775775, 3.8292048369240935e-17),
    (1.189207115002721, 3.982015231465646e-17),
    (1.215247359980469, -7.712630692681488e-17),
    (1.241857812073484, 4.658027591836937e-17),
    (1.2690509571917332, 2.667932131342186e-18),
    (1.2968395546510096, 2.5382502794888315e-17),
    (1.3252366431597413, -2.8587312100388614e-17),
    (1.3542555469368927, 7.70094837980299e-17),
    (1.383909881963832, -6.770511658794786e-17),
    (1.4142135623730951, -9.667293313452913e-17),
    (1.4451808069770467, -3.0237581349939873e-17),
    (1.4768261459394993, -3.483994556892796e-17),
    (1.5091644275934228, -1.016455327754295e-16),
    (1.5422108254079407, 7.949834809697621e-17),
    (1.5759808451078865, -1.0136916471278304e-17),
    (1.6104903319492543, 2.4707192569797888e-17),
    (1.645755478153965, -1.0125679913674773e-16),
    (1.681792830507429, 8.199010020581497e-17),
    (1.718619298122478, -1.851380418263111e-17),
    (1.7562521603732995, 2.960140695448873e-17),
    (1.7947090750031072, 1.8227458427912087e-17),
    (1.8340080864093424, 3.283107224245627e-17),
    (1.8741676341103, -6.122763413004143e-17),
    (1.9152065613971474, -1.0619946056195963e-16),
    (1.9571441241754002, 8.960767791036668e-17),
];

/// 2^(j/32) = hi + lo, j = 0..32.
#[allow(clippy::approx_constant)]
const T32: [(f32, f32); 32] = [
    (1.0, 0.0),
    (1.0218972, -4.81156e-08),
    (1.0442737, 4.83347e-08),
    (1.0671405, -5.933752e-08),
    (1.0905077, -1.307754e-08),
    (1.1143868, -5.43554e-08),
    (1.1387886, 5.3862223e-08),
    (1.1637249, -4.0514415e-08),
    (1.1892071, 3.7976353e-08),
    (1.2152474, -3.267395e-08),
    (1.2418578, 4.496838e-08),
    (1.269051, 1.4193333e-09),
    (1.2968396, -4.0189995e-08),
    (1.3252367, -3.4963733e-08),
    (1.3542556, -1.0123349e-08),
    (1.38391, -5.8755774e-08),
    (1.4142135, 2.4203235e-08),
    (1.4451808, 3.3242e-08),
    (1.4768262, -4.500899e-08),
    (1.5091645, -2.4959373e-08),
    (1.5422108, 8.070905e-09),
    (1.5759809, -5.6610254e-08),
    (1.6104903, 9.836217e-09),
    (1.6457555, -5.124972e-08),
    (1.6817929, -2.4755327e-08),
    (1.7186193, -4.8496176e-08),
    (1.7562522, -9.23577e-09),
    (1.7947091, -1.1415045e-08),
    (1.8340081, -1.1239278e-08),
    (1.8741677, -4.6630056e-08),
    (1.9152066, 9.845328e-09),
    (1.9571441, -1.7021804e-08),
];

#[inline]
fn t64(j: i32) -> (f64, f64) {
    match T64.get((j & 31) as usize) {
        Some(&v) => v,
        None => (1.0, 0.0),
    }
}

#[inline]
fn t32(j: i32) -> (f32, f32) {
    match T32.get((j & 31) as usize) {
        Some(&v) => v,
        None => (1.0, 0.0),
    }
}

const INV_L64: f64 = 46.16624130844683; // 32/ln2
const L1_64: f64 = 0.021660849392446835; // ln2/32, 37 bits: k*L1 exact
const L2_64: f64 = 5.145609244655338e-14; // ln2/32 - L1
const SHIFT64: f64 = 6755399441055744.0; // 1.5 * 2^52: adding it rounds to an integer

const INV_L32: f32 = 46.16624; // 32/ln2
const L1_32: f32 = 0.02166748; // ln2/32, 11 bits: k*L1 exact
const L2_32: f32 = -6.6310763e-06; // ln2/32 - L1
const SHIFT32: f32 = 12582912.0; // 1.5 * 2^23

const LN2_64: f64 = core::f64::consts::LN_2;
const LN2_32: f32 = core::f32::consts::LN_2;

/// e^r - 1 for |r| <= ln2/64 (relative error 2^-56).
#[inline]
fn poly64(r: f64) -> f64 {
    let q = 0.5 + r * (0.16666666666549076 + r * (0.041666666666626925 + r * (0.008333365735842512 + r * 0.0013888919954046948)));
    r + r * r * q
}

/// e^r - 1 for |r| <= ln2/64 (absolute error 2^-33).
#[inline]
fn poly32(r: f32) -> f32 {
    r + r * r * (0.50000405 + r * 0.16666764)
}

/// The table entry and 2^(k/32) * (1 + p) = 2^e * (hi + lo): returns (e, hi, lo).
#[inline]
fn kernel64(k: i32, r: f64) -> (i32, f64, f64) {
    let (th, tl) = t64(k);
    let p = poly64(r);
    (k >> 5, th, tl + th * p)
}

#[inline]
fn kernel32(k: i32, r: f32) -> (i32, f32, f32) {
    let (th, tl) = t32(k);
    let p = poly32(r);
    (k >> 5, th, tl + th * p)
}

/// e^x.
#[inline]
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    if x > 710.0 {
        return f64::INFINITY;
    }
    if x < -746.0 {
        return 0.0;
    }
    let kf = (x * INV_L64 + SHIFT64) - SHIFT64;
    let r = (x - kf * L1_64) - kf * L2_64;
    let (e, h, l) = kernel64(kf as i32, r);
    ldexp64(h + l, e)
}

/// e^x.
#[inline]
pub fn expf(x: f32) -> f32 {
    if x.is_nan() {
        return x + x;
    }
    if x > 89.0 {
        return f32::INFINITY;
    }
    if x < -104.0 {
        return 0.0;
    }
    let kf = (x * INV_L32 + SHIFT32) - SHIFT32;
    let r = (x - kf * L1_32) - kf * L2_32;
    let (e, h, l) = kernel32(kf as i32, r);
    ldexp32(h + l, e)
}

/// 2^x.
#[inline]
pub fn exp2(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    if x >= 1024.0 {
        return f64::INFINITY;
    }
    if x <= -1075.0 {
        return 0.0;
    }
    let kf = (x * 32.0 + SHIFT64) - SHIFT64;
    let f = x - kf * (1.0 / 32.0); // exact
    let (e, h, l) = kernel64(kf as i32, f * LN2_64);
    ldexp64(h + l, e)
}

/// 2^x.
#[inline]
pub fn exp2f(x: f32) -> f32 {
    if x.is_nan() {
        return x + x;
    }
    if x >= 128.0 {
        return f32::INFINITY;
    }
    if x <= -150.0 {
        return 0.0;
    }
    let kf = (x * 32.0 + SHIFT32) - SHIFT32;
    let f = x - kf * (1.0 / 32.0); // exact
    let (e, h, l) = kernel32(kf as i32, f * LN2_32);
    ldexp32(h + l, e)
}

/// e^x - 1 for |x| <= 0.347 as hi + lo, relative error 2^-61.
#[inline]
fn expm1_small64(x: f64) -> (f64, f64) {
    let q = 0.16666666666666677
        + x * (0.04166666666666658
            + x * (0.008333333333321383
                + x * (0.0013888888888939916
                    + x * (0.00019841269886833045
                        + x * (2.480158720531814e-05
                            + x * (2.7557243425637493e-06
                                + x * (2.7557379756167113e-07 + x * (2.5109333328922716e-08 + x * 2.0881503263564064e-09))))))));
    let hx = 0.5 * x;
    let (h2, l2) = two_prod64(x, hx);
    let (s, e) = two_sum64(x, h2);
    fast_two_sum64(s, e + (l2 + x * x * x * q))
}

#[inline]
fn expm1_small32(x: f32) -> (f32, f32) {
    let q = 0.16666666 + x * (0.04166648 + x * (0.008333569 + x * (0.0013933403 + x * 0.00019741131)));
    let hx = 0.5 * x;
    let (h2, l2) = two_prod32(x, hx);
    let (s, e) = two_sum32(x, h2);
    fast_two_sum32(s, e + (l2 + x * x * x * q))
}

/// e^x - 1, accurate near 0.
#[inline]
pub fn expm1(x: f64) -> f64 {
    if x.is_nan() {
        return x + x;
    }
    let ax = x.abs();
    if ax < 1e-300 {
        return x; // x^2/2 would underflow in the splitting
    }
    if x > 710.0 {
        return f64::INFINITY;
    }
    if x < -40.0 {
        return -1.0;
    }
    if x > 700.0 {
        let (e, h, l) = exp_parts64(x, 0.0);
        return ldexp64(h + l, e);
    }
    let (h, l) = expm1_pair64(x);
    h + l
}

/// e^x - 1 = hi + lo for |x| <= 700, relative error about 2^-58.
#[inline]
pub(crate) fn expm1_pair64(x: f64) -> (f64, f64) {
    if x.abs() < 0.3465 {
        return expm1_small64(x);
    }
    let kf = (x * INV_L64 + SHIFT64) - SHIFT64;
    let r = (x - kf * L1_64) - kf * L2_64;
    let (e, h, l) = kernel64(kf as i32, r);
    // 2^e * (h + l) - 1 with 2^e * h - 1 computed exactly.
    let s = super::pow2_64(e);
    let (a, b) = two_sum64(h * s, -1.0);
    fast_two_sum64(a, b + l * s)
}

/// e^x - 1, accurate near 0.
#[inline]
pub fn expm1f(x: f32) -> f32 {
    if x.is_nan() {
        return x + x;
    }
    let ax = x.abs();
    if ax < 1e-30 {
        return x;
    }
    if x > 89.0 {
        return f32::INFINITY;
    }
    if x < -18.0 {
        return -1.0;
    }
    if x > 83.0 {
        let (e, h, l) = exp_parts32(x, 0.0);
        return ldexp32(h + l, e);
    }
    let (h, l) = expm1_pair32(x);
    h + l
}

/// e^x - 1 = hi + lo for |x| <= 83, relative error about 2^-30.
#[inline]
pub(crate) fn expm1_pair32(x: f32) -> (f32, f32) {
    if x.abs() < 0.3465 {
        return expm1_small32(x);
    }
    let kf = (x * INV_L32 + SHIFT32) - SHIFT32;
    let r = (x - kf * L1_32) - kf * L2_32;
    let (e, h, l) = kernel32(kf as i32, r);
    let s = super::pow2_32(e);
    let (a, b) = two_sum32(h * s, -1.0);
    fast_two_sum32(a, b + l * s)
}

/// e^(hi + lo) for |hi| <= 746 and |lo| <= 2^-40 |hi|, relative error about
/// 2^-60 before the final rounding; returns 2^e * (h + l) as (e, h, l).
#[inline]
pub(crate) fn exp_parts64(hi: f64, lo: f64) -> (i32, f64, f64) {
    let kf = (hi * INV_L64 + SHIFT64) - SHIFT64;
    let r = ((hi - kf * L1_64) - kf * L2_64) + lo;
    kernel64(kf as i32, r)
}

/// f32 counterpart of [`exp_parts64`] (|hi| <= 104).
#[inline]
pub(crate) fn exp_parts32(hi: f32, lo: f32) -> (i32, f32, f32) {
    let kf = (hi * INV_L32 + SHIFT32) - SHIFT32;
    let r = ((hi - kf * L1_32) - kf * L2_32) + lo;
    kernel32(kf as i32, r)
}
