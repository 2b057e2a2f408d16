//! exp, exp2, expm1, log, log2, log10, log1p: f32 against std, f64 against
//! the double-double reference.

use super::ddref::{exp_ref, expm1_ref, log1p_ref, log_ref, run_scaled, Scaled, DD};
use super::*;

const LN2: DD = DD(core::f64::consts::LN_2, 2.3190468138462996e-17);
const INV_LN2: DD = DD(core::f64::consts::LOG2_E, 2.0355273740931033e-17);
const INV_LN10: DD = DD(core::f64::consts::LOG10_E, 1.098319650216765e-17);

/// std's value where the reference does not apply (specials, overflow,
/// underflow to zero, |x| < 1e-300 where expm1 and log1p are x).
fn plain(v: f64) -> Scaled {
    Scaled::of(DD::of(v))
}

/// e^(z.0 + z.1), |z.1| <= 2^-40 |z.0|.
fn exp_dd(z: DD) -> Scaled {
    let (k, u) = exp_ref(z.0);
    let low = DD::of(1.0).add(DD::of(z.1)).add(DD::of(0.5 * z.1 * z.1));
    Scaled(DD::of(1.0).add(u).mul(low), k)
}

fn exp_r(x: f64) -> Scaled {
    if x.abs() <= 745.0 { exp_dd(DD::of(x)) } else { plain(x.exp()) }
}

fn exp2_r(x: f64) -> Scaled {
    if x.abs() <= 1075.0 { exp_dd(LN2.mul(DD::of(x))) } else { plain(x.exp2()) }
}

fn expm1_r(x: f64) -> Scaled {
    if x > 700.0 {
        return exp_r(x); // e^x - 1 = e^x to 2^-1000
    }
    if x.abs() < 1e-300 || x.is_nan() || x < -700.0 { plain(x.exp_m1()) } else { Scaled::of(expm1_ref(x)) }
}

fn ln_r(x: f64) -> DD {
    log_ref(DD::of(x))
}

fn log_r(x: f64) -> Scaled {
    if x > 0.0 && x.is_finite() && x != 1.0 { Scaled::of(ln_r(x)) } else { plain(x.ln()) }
}

fn log2_r(x: f64) -> Scaled {
    if x > 0.0 && x.is_finite() && x != 1.0 { Scaled::of(ln_r(x).mul(INV_LN2)) } else { plain(x.log2()) }
}

fn log10_r(x: f64) -> Scaled {
    if x > 0.0 && x.is_finite() && x != 1.0 { Scaled::of(ln_r(x).mul(INV_LN10)) } else { plain(x.log10()) }
}

fn log1p_r(x: f64) -> Scaled {
    if x <= -1.0 || !x.is_finite() || x.abs() < 1e-300 {
        plain(x.ln_1p())
    } else if x.abs() <= 0.5 {
        Scaled::of(log1p_ref(DD::of(x)))
    } else {
        Scaled::of(log_ref(DD::of(1.0).add(DD::of(x))))
    }
}

#[test]
fn exp_f32() {
    run32("expf", expf, f64::exp, inputs32(STRIDE, -104.0, 89.0, 127), 1.0);
    run32("exp2f", exp2f, f64::exp2, inputs32(STRIDE, -150.0, 128.0, 127), 1.0);
    run32("expm1f", expm1f, f64::exp_m1, inputs32(STRIDE, -18.0, 89.0, 127), 1.0);
}

#[test]
fn exp_f64() {
    let xs = inputs64(1, 200_000, -746.0, 710.0);
    run_scaled("exp", exp, exp_r, &xs, 1.0);
    let xs = inputs64(2, 200_000, -1076.0, 1024.0);
    run_scaled("exp2", exp2, exp2_r, &xs, 1.0);
    let mut xs = inputs64(3, 200_000, -40.0, 710.0);
    xs.extend(inputs64(4, 100_000, -0.5, 0.5));
    run_scaled("expm1", expm1, expm1_r, &xs, 1.0);
}

#[test]
#[ignore]
fn exhaustive_exp_f32() {
    exhaustive32("expf", expf, f64::exp, 1.0);
    exhaustive32("exp2f", exp2f, f64::exp2, 1.0);
    exhaustive32("expm1f", expm1f, f64::exp_m1, 1.0);
}

#[test]
fn log_f32() {
    run32("logf", logf, f64::ln, inputs32(STRIDE, 0.5, 2.0, 3), 1.0);
    run32("log2f", log2f, f64::log2, inputs32(STRIDE, 0.5, 2.0, 3), 1.0);
    run32("log10f", log10f, f64::log10, inputs32(STRIDE, 0.5, 2.0, 3), 1.0);
    run32("log1pf", log1pf, f64::ln_1p, inputs32(STRIDE, -1.0, 1.0, 127), 1.0);
}

#[test]
fn log_f64() {
    let mut xs = inputs64(1, 200_000, 0.0, 4.0);
    xs.extend(inputs64(2, 100_000, 0.7, 1.5));
    run_scaled("log", log, log_r, &xs, 1.0);
    run_scaled("log2", log2, log2_r, &xs, 1.0);
    run_scaled("log10", log10, log10_r, &xs, 1.0);
    let mut xs = inputs64(3, 200_000, -1.0, 4.0);
    xs.extend(inputs64(4, 100_000, -1e-3, 1e-3));
    run_scaled("log1p", log1p, log1p_r, &xs, 1.0);
}

#[test]
#[ignore]
fn exhaustive_log_f32() {
    exhaustive32("logf", logf, f64::ln, 1.0);
    exhaustive32("log2f", log2f, f64::log2, 1.0);
    exhaustive32("log10f", log10f, f64::log10, 1.0);
    exhaustive32("log1pf", log1pf, f64::ln_1p, 1.0);
}
