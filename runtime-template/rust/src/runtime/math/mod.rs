//! Scalar math for `no_std` code: f32 and f64 elementary functions, the math
//! of qcc's generated Rust code (which cannot call std's `f32::exp` & co.).
//!
//! Each function comes as `name` (f64) and `namef` (f32). The f32 versions
//! compute in f32 arithmetic only (extra precision is carried as unevaluated
//! hi + lo pairs), so they run on a single-precision FPU such as the
//! Cortex-M4's. Tables are small (a few KB in all); no allocation, no
//! panics. Special values follow C99 Annex F: signed zeros are kept where
//! the function is odd, infinities and NaN map as in C (`pow` included:
//! `pow(x, +-0) = 1` and `pow(1, y) = 1` even for NaN, negative bases with
//! integer exponents, `pow(-1, +-inf) = 1`); signalling NaNs are treated as
//! quiet ones.
//!
//! Accuracy contract: the maximum error in ulps of the exact result, as
//! measured by the tests (`tests/`). f32 functions are checked against
//! std's f64 function of the widened argument (exact to 2^-28 f32 ulp), or
//! against our f64 function where std has none (erf, erfc), on every 251st
//! bit pattern plus dense sweeps of the interesting ranges;
//! `cargo test --release -- --ignored` runs every f32 input. f64 functions
//! are checked on 2-6 * 10^5 random and bit-pattern inputs (subnormals,
//! huge, near 1 and near the underflow and overflow thresholds) against a
//! double-double reference (about 2^-100; `tests/ddref.rs`, `trigref.rs`);
//! sin, cos and tan of |x| > 2^40 and cbrt are checked against glibc
//! (distance in whole ulps). Results that underflow to subnormals may carry
//! one extra rounding; those are inside the bounds below.
//!
//! | function                          | f32 max ulp | f64 max ulp |
//! |-----------------------------------|-------------|-------------|
//! | floor, ceil, trunc, round, roundeven, fmod | 0 (exact) | 0 (exact) |
//! | sqrt                              | 0.5         | 0.5         |
//! | cbrt                              | 0.5         | 0 vs glibc  |
//! | exp, exp2                         | 0.75, 0.75  | 0.73, 0.73  |
//! | expm1                             | 0.56        | 0.56        |
//! | log, log2, log10                  | 0.84, 0.84, 0.73 | 0.79, 0.74, 0.68 |
//! | log1p                             | 0.83        | 0.79        |
//! | sin, cos, tan                     | 0.77, 0.75, 0.94 | 0.68, 0.74, 0.80 (1 vs glibc past 2^40) |
//! | asin, acos, atan, atan2           | 0.63, 0.59, 0.62, 0.64 | 0.62, 0.59, 0.62, 0.64 |
//! | sinh, cosh, tanh                  | 0.56, 0.53, 0.57 (all f32) | 0.54, 0.52, 0.51 |
//! | asinh, acosh, atanh               | 0.50, 0.50, 0.50 | 0.50, 0.50, 0.50 |
//! | erf, erfc                         | 0.74, 0.88 (all f32) | 0.75, 0.79 |
//! | pow                               | 0.75        | 0.70        |
//!
//! f32 figures are the strided sweeps' maxima ("all f32": the exhaustive
//! run's). The tests assert a bound of 1 ulp for every non-exact function
//! (sqrtf, cbrtf and sqrt: correctly rounded). Every polynomial was fitted
//! for this crate by the scripts in scripts/mathgen (sollya for minimax
//! fits, mpmath for tables).

mod ahyper;
mod atrig;
mod erf;
mod exp;
mod hyper;
mod log;
mod logpair;
mod pow;
mod round;
mod sqrt;
mod trig;

pub use ahyper::{acosh, acoshf, asinh, asinhf, atanh, atanhf};
pub use atrig::{acos, acosf, asin, asinf, atan, atan2, atan2f, atanf};
pub use erf::{erf, erfc, erfcf, erff};
pub use exp::{exp, exp2, exp2f, expf, expm1, expm1f};
pub use pow::{pow, powf};
pub use hyper::{cosh, coshf, sinh, sinhf, tanh, tanhf};
pub use log::{log, log10, log10f, log1p, log1pf, log2, log2f, logf};
pub use round::{ceil, ceilf, floor, floorf, fmod, fmodf, round, roundeven, roundevenf, roundf, trunc, truncf};
pub use sqrt::{cbrt, cbrtf, sqrt, sqrtf};
pub use trig::{cos, cosf, sin, sinf, tan, tanf};

#[cfg(test)]
mod tests;

/// Splits `a` into `hi + lo` with `hi` holding the top 26 bits, so products
/// of halves are exact. Requires |a| < 2^996.
#[inline]
pub(crate) fn split64(a: f64) -> (f64, f64) {
    let c = a * 134_217_729.0; // 2^27 + 1
    let hi = c - (c - a);
    (hi, a - hi)
}

/// `a * b = p + e` exactly (Dekker), barring overflow and underflow.
#[inline]
pub(crate) fn two_prod64(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let (ah, al) = split64(a);
    let (bh, bl) = split64(b);
    let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    (p, e)
}

/// `a + b = s + e` exactly (Knuth), barring overflow.
#[inline]
pub(crate) fn two_sum64(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// `a + b = s + e` exactly for |a| >= |b| (Dekker), barring overflow.
#[inline]
pub(crate) fn fast_two_sum64(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `a + b = s + e` exactly for |a| >= |b| (Dekker), barring overflow.
#[inline]
pub(crate) fn fast_two_sum32(a: f32, b: f32) -> (f32, f32) {
    let s = a + b;
    (s, b - (s - a))
}

/// (nh + nl) / (dh + dl) as a pair q + r with |r| about ulp(q), relative
/// error about 2^-100, for |nl| < |nh| and |dl| < |dh| (dh != 0).
#[inline]
pub(crate) fn div_pair64(nh: f64, nl: f64, dh: f64, dl: f64) -> (f64, f64) {
    let (dh, dl) = fast_two_sum64(dh, dl);
    let q = nh / dh;
    let (p, pe) = two_prod64(q, dh);
    (q, (((nh - p) - pe) + nl - q * dl) / dh)
}

/// f32 counterpart of [`div_pair64`] (relative error about 2^-44).
#[inline]
pub(crate) fn div_pair32(nh: f32, nl: f32, dh: f32, dl: f32) -> (f32, f32) {
    let (dh, dl) = fast_two_sum32(dh, dl);
    let q = nh / dh;
    let (p, pe) = two_prod32(q, dh);
    (q, (((nh - p) - pe) + nl - q * dl) / dh)
}

/// Splits `a` into `hi + lo` with `hi` holding the top 12 bits.
#[inline]
pub(crate) fn split32(a: f32) -> (f32, f32) {
    let c = a * 4097.0; // 2^12 + 1
    let hi = c - (c - a);
    (hi, a - hi)
}

/// `a * b = p + e` exactly (Dekker), barring overflow and underflow.
#[inline]
pub(crate) fn two_prod32(a: f32, b: f32) -> (f32, f32) {
    let p = a * b;
    let (ah, al) = split32(a);
    let (bh, bl) = split32(b);
    let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    (p, e)
}

/// `a + b = s + e` exactly (Knuth), barring overflow.
#[inline]
pub(crate) fn two_sum32(a: f32, b: f32) -> (f32, f32) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// 2^k for k in -1022..=1023.
#[inline]
pub(crate) const fn pow2_64(k: i32) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// 2^k for k in -126..=127.
#[inline]
pub(crate) const fn pow2_32(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// x * 2^k with a single rounding (only when the result is subnormal).
#[inline]
pub(crate) fn ldexp64(x: f64, k: i32) -> f64 {
    if k > 1023 {
        let k = if k > 3 * 1023 { 3 * 1023 } else { k };
        let y = x * pow2_64(1023);
        if k - 1023 > 1023 {
            y * pow2_64(1023) * pow2_64(k - 2046)
        } else {
            y * pow2_64(k - 1023)
        }
    } else if k < -1022 {
        let k = if k < -3 * 1022 { -3 * 1022 } else { k };
        // Scale within the normal range first so that only the last step rounds.
        let y = x * pow2_64(-1022 + 53);
        let k = k + 1022 - 53;
        if k < -1022 {
            let y = y * pow2_64(-1022 + 53);
            let k = k + 1022 - 53;
            y * pow2_64(if k < -1022 { -1022 } else { k })
        } else {
            y * pow2_64(k)
        }
    } else {
        x * pow2_64(k)
    }
}

/// x * 2^k with a single rounding (only when the result is subnormal).
#[inline]
pub(crate) fn ldexp32(x: f32, k: i32) -> f32 {
    if k > 127 {
        let k = if k > 3 * 127 { 3 * 127 } else { k };
        let y = x * pow2_32(127);
        if k - 127 > 127 {
            y * pow2_32(127) * pow2_32(k - 254)
        } else {
            y * pow2_32(k - 127)
        }
    } else if k < -126 {
        let k = if k < -3 * 126 { -3 * 126 } else { k };
        let y = x * pow2_32(-126 + 24);
        let k = k + 126 - 24;
        if k < -126 {
            let y = y * pow2_32(-126 + 24);
            let k = k + 126 - 24;
            y * pow2_32(if k < -126 { -126 } else { k })
        } else {
            y * pow2_32(k)
        }
    } else {
        x * pow2_32(k)
    }
}
