//! Logarithms: `log` (natural), `log2`, `log10`, `log1p` for f32 and f64.
//!
//! x = 2^k (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)); s = f / (2 + f) and
//! log(1 + f) = 2 atanh(s) = f - f^2/2 + s (f^2/2 + R(s)) where R is a
//! minimax polynomial in s^2 (fitted for this file). k ln2 is added with
//! ln2 split in a short head (exact product) and a tail. log2 and log10
//! multiply a head/tail split of log(1 + f) by a head/tail split of 1/ln2 or
//! 1/ln10 so that the final rounding dominates. log1p adds the rounding
//! error c of u = 1 + x as c/u. The f32 functions use only f32 arithmetic.

use super::{two_sum32, two_sum64};

pub(super) const LN2_HI64: f64 = 0.6931471805598903; // 42 bits: k * LN2_HI64 exact
pub(super) const LN2_LO64: f64 = 5.497923018708371e-14;
pub(super) const LN2_HI32: f32 = 0.69314575; // 16 bits
pub(super) const LN2_LO32: f32 = 1.4286068e-06;

const IL2_HI64: f64 = 1.4426956176757812; // 1/ln2, 20 bits
const IL2_LO64: f64 = -5.767868178426401e-07;
const IL10_HI64: f64 = 0.4342944818781689; // 1/ln10, 33 bits
const IL10_LO64: f64 = 2.5082946711645275e-11;
const LG2_HI64: f64 = 0.3010299956658855; // log10(2), 33 bits
const LG2_LO64: f64 = -1.9043128467164274e-12;

const IL2_HI32: f32 = 1.4428711; // 12 bits
const IL2_LO32: f32 = -0.00017605285;
const IL10_HI32: f32 = 0.43432617; // 12 bits
const IL10_LO32: f32 = -3.168997e-05;
const LG2_HI32: f32 = 0.3010254; // 12 bits
const LG2_LO32: f32 = 4.605039e-06;

/// Splits positive finite x into k and f with x = 2^k (1 + f),
/// 1 + f in [sqrt(1/2), sqrt(2)).
#[inline]
pub(super) fn reduce64(x: f64) -> (i32, f64) {
    let (mut ix, mut k) = (x.to_bits(), 0);
    if ix < 0x0010_0000_0000_0000 {
        ix = (x * 18014398509481984.0).to_bits(); // 2^54
        k = -54;
    }
    let ix = ix.wrapping_add(0x3ff0_0000_0000_0000 - 0x3fe6_a09e_667f_3bcd);
    k += (ix >> 52) as i32 - 1023;
    let m = f64::from_bits((ix & 0x000f_ffff_ffff_ffff) + 0x3fe6_a09e_667f_3bcd);
    (k, m - 1.0)
}

#[inline]
pub(super) fn reduce32(x: f32) -> (i32, f32) {
    let (mut ix, mut k) = (x.to_bits(), 0);
    if ix < 0x0080_0000 {
        ix = (x * 16777216.0).to_bits(); // 2^24
        k = -24;
    }
    let ix = ix.wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    k += (ix >> 23) as i32 - 127;
    let m = f32::from_bits((ix & 0x007f_ffff) + 0x3f35_04f3);
    (k, m - 1.0)
}

/// For f in [sqrt(1/2) - 1, sqrt(2) - 1): (f^2/2, s (f^2/2 + R(s))) with
/// log(1 + f) = f - f^2/2 + s (f^2/2 + R(s)).
#[inline]
fn core64(f: f64) -> (f64, f64) {
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z
        * (0.6666666666666737
            + z * (0.39999999999393465
                + z * (0.28571428747494704
                    + z * (0.22222198010297176 + z * (0.181835955195674 + z * (0.15313204863440874 + z * 0.14804868807557423))))));
    let hfsq = 0.5 * f * f;
    (hfsq, s * (hfsq + r))
}

#[inline]
fn core32(f: f32) -> (f32, f32) {
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * (0.6666666 + z * (0.40000847 + z * (0.2851042 + z * 0.24023001)));
    let hfsq = 0.5 * f * f;
    (hfsq, s * (hfsq + r))
}

/// The special cases shared by the logarithms of x: NaN for x < 0 or NaN,
/// -inf for +-0, +inf for +inf.
#[inline]
fn special64(x: f64) -> Option<f64> {
    if x.is_nan() {
        Some(x + x)
    } else if x == 0.0 {
        Some(f64::NEG_INFINITY)
    } else if x < 0.0 {
        Some(f64::NAN)
    } else if x == f64::INFINITY {
        Some(x)
    } else {
        None
    }
}

#[inline]
fn special32(x: f32) -> Option<f32> {
    if x.is_nan() {
        Some(x + x)
    } else if x == 0.0 {
        Some(f32::NEG_INFINITY)
    } else if x < 0.0 {
        Some(f32::NAN)
    } else if x == f32::INFINITY {
        Some(x)
    } else {
        None
    }
}

/// Natural logarithm.
#[inline]
pub fn log(x: f64) -> f64 {
    if let Some(v) = special64(x) {
        return v;
    }
    let (k, f) = reduce64(x);
    let (hfsq, t) = core64(f);
    let kf = k as f64;
    kf * LN2_HI64 + (f - (hfsq - (t + kf * LN2_LO64)))
}

/// Natural logarithm.
#[inline]
pub fn logf(x: f32) -> f32 {
    if let Some(v) = special32(x) {
        return v;
    }
    let (k, f) = reduce32(x);
    let (hfsq, t) = core32(f);
    let kf = k as f32;
    kf * LN2_HI32 + (f - (hfsq - (t + kf * LN2_LO32)))
}

/// log(1 + f) = hi + lo with hi holding few bits (20 for f64).
#[inline]
fn split_log64(f: f64) -> (f64, f64) {
    let (hfsq, t) = core64(f);
    let hi = f - hfsq;
    let hi = f64::from_bits(hi.to_bits() & 0xffff_fffe_0000_0000);
    let lo = ((f - hi) - hfsq) + t;
    (hi, lo)
}

#[inline]
fn split_log32(f: f32) -> (f32, f32) {
    let (hfsq, t) = core32(f);
    let hi = f - hfsq;
    let hi = f32::from_bits(hi.to_bits() & 0xffff_f000);
    let lo = ((f - hi) - hfsq) + t;
    (hi, lo)
}

/// Base-2 logarithm; exact for powers of two.
#[inline]
pub fn log2(x: f64) -> f64 {
    if let Some(v) = special64(x) {
        return v;
    }
    let (k, f) = reduce64(x);
    let (hi, lo) = split_log64(f);
    let vh = hi * IL2_HI64;
    let vl = (lo + hi) * IL2_LO64 + lo * IL2_HI64;
    let kf = k as f64;
    let w = kf + vh;
    let vl = vl + ((kf - w) + vh);
    vl + w
}

/// Base-2 logarithm; exact for powers of two.
#[inline]
pub fn log2f(x: f32) -> f32 {
    if let Some(v) = special32(x) {
        return v;
    }
    let (k, f) = reduce32(x);
    let (hi, lo) = split_log32(f);
    let vh = hi * IL2_HI32;
    let vl = (lo + hi) * IL2_LO32 + lo * IL2_HI32;
    let kf = k as f32;
    let w = kf + vh;
    let vl = vl + ((kf - w) + vh);
    vl + w
}

/// Base-10 logarithm.
#[inline]
pub fn log10(x: f64) -> f64 {
    if let Some(v) = special64(x) {
        return v;
    }
    let (k, f) = reduce64(x);
    let (hi, lo) = split_log64(f);
    let vh = hi * IL10_HI64;
    let kf = k as f64;
    let vl = (lo + hi) * IL10_LO64 + lo * IL10_HI64 + kf * LG2_LO64;
    let y = kf * LG2_HI64;
    let w = y + vh;
    let vl = vl + ((y - w) + vh);
    vl + w
}

/// Base-10 logarithm.
#[inline]
pub fn log10f(x: f32) -> f32 {
    if let Some(v) = special32(x) {
        return v;
    }
    let (k, f) = reduce32(x);
    let (hi, lo) = split_log32(f);
    let vh = hi * IL10_HI32;
    let kf = k as f32;
    let vl = (lo + hi) * IL10_LO32 + lo * IL10_HI32 + kf * LG2_LO32;
    let y = kf * LG2_HI32;
    let w = y + vh;
    let vl = vl + ((y - w) + vh);
    vl + w
}

/// log(1 + x), accurate near 0.
#[inline]
pub fn log1p(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY || x == 0.0 {
        return x + x;
    }
    if x <= -1.0 {
        return if x == -1.0 { f64::NEG_INFINITY } else { f64::NAN };
    }
    if x > -0.2928932188134524 && x < 0.41421356237309503 {
        let (hfsq, t) = core64(x);
        return x - (hfsq - t);
    }
    let (u, c) = two_sum64(1.0, x);
    let (k, f) = reduce64(u);
    let (hfsq, t) = core64(f);
    let kf = k as f64;
    kf * LN2_HI64 + (f - (hfsq - (t + (kf * LN2_LO64 + c / u))))
}

/// log(1 + x), accurate near 0.
#[inline]
pub fn log1pf(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY || x == 0.0 {
        return x + x;
    }
    if x <= -1.0 {
        return if x == -1.0 { f32::NEG_INFINITY } else { f32::NAN };
    }
    if x > -0.29289323 && x < 0.41421357 {
        let (hfsq, t) = core32(x);
        return x - (hfsq - t);
    }
    let (u, c) = two_sum32(1.0, x);
    let (k, f) = reduce32(u);
    let (hfsq, t) = core32(f);
    let kf = k as f32;
    kf * LN2_HI32 + (f - (hfsq - (t + (kf * LN2_LO32 + c / u))))
}
