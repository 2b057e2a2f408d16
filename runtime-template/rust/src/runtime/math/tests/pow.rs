//! pow and powf against std, including every C99 Annex F special case over
//! a grid of special arguments.

use super::ddref::{err_scaled, exp_ref, log_ref, Scaled, DD};
use super::*;
use crate::runtime::math::logpair::log_pair32;

/// x^y = exp(y log x) in double-double for finite x > 0 (unscaled).
fn pow_ref(x: f64, y: f64) -> Scaled {
    let z = log_ref(DD::of(x)).mul(DD::of(y));
    if z.0 > 710.0 {
        return Scaled::of(DD::of(f64::INFINITY));
    }
    if z.0 < -760.0 {
        return Scaled::of(DD::of(0.0));
    }
    let (k, u) = exp_ref(z.0);
    let low = DD::of(1.0).add(DD::of(z.1)); // exp(z.1), z.1^2 below 2^-100
    Scaled(DD::of(1.0).add(u).mul(low), k)
}

/// Arguments where pow's special cases live. Signalling NaNs are left out:
/// Rust does not distinguish them (glibc answers pow(sNaN, 0) with NaN).
fn special_args() -> Vec<f64> {
    let mut v: Vec<f64> = specials64().into_iter().filter(|x| !x.is_nan() || x.to_bits() & (1 << 51) != 0).collect();
    v.extend([3.0, -3.0, 0.25, -0.25, 2.5, -2.5, 1e300, -1e300, 1e-300, 9007199254740993.0, 9007199254740992.0]);
    v.extend([4503599627370497.0, -4503599627370497.0, 1.0 - f64::EPSILON, 1.0 + f64::EPSILON, 1e10, -1e10]);
    v
}

/// (x, y) pairs: uniform, arbitrary bits, negative bases with integer
/// exponents, bases near 1 with large exponents, results near overflow and
/// underflow (subnormal results included).
fn pairs(seed: u64, n: usize, ymax: f64, emax: f64) -> Vec<(f64, f64)> {
    let mut g = Rng::new(seed);
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let p = match i % 7 {
            6 => {
                // Near 1 but outside the cell of 1: the log's cancellation.
                let x = g.uniform(0.7, 1.42);
                (x, g.uniform(-emax, emax) / x.ln())
            }
            0 => (g.uniform(0.0, 4.0), g.uniform(-ymax, ymax)),
            1 => (g.bits64(), g.bits64()),
            2 => (g.uniform(-10.0, 10.0), roundeven(g.uniform(-60.0, 60.0))),
            3 => (1.0 + g.uniform(-1e-6, 1e-6), g.uniform(-1e8, 1e8)),
            4 => {
                let x = f64::exp2(g.uniform(-1074.0, 1024.0));
                (x, g.uniform(-emax, emax) / x.ln())
            }
            _ => (g.uniform(0.0, 1e6), g.uniform(-1.0, 1.0) * f64::powi(2.0, (g.next() % 40) as i32 - 20)),
        };
        v.push(p);
    }
    v
}

#[test]
fn pow_f64() {
    let mut w = Worst::new();
    let sp = special_args();
    for &x in &sp {
        for &y in &sp {
            w.add(err64(pow(x, y), x.powf(y)), x, y);
        }
    }
    w.report("pow special", 1.0);
    // Against a double-double reference where x > 0 and the result is finite
    // and nonzero (std elsewhere).
    let mut w = Worst::new();
    for (x, y) in pairs(31, 600_000, 300.0, 760.0) {
        let (ax, v) = (x.abs(), pow(x, y));
        let z = x.powf(y);
        if ax > 0.0 && ax.is_finite() && y.is_finite() && z != 0.0 && z.is_finite() && (x > 0.0 || v.is_finite()) {
            let r = pow_ref(ax, y);
            let r = if z < 0.0 { r.neg() } else { r };
            w.add(err_scaled(v, r), x, y);
        } else {
            w.add(err64(v, z), x, y);
        }
    }
    w.report("pow", 1.0);
}

#[test]
fn pow_f32() {
    let mut w = Worst::new();
    let sp: Vec<f32> = specials32()
        .filter(|x| !x.is_nan() || x.to_bits() & (1 << 22) != 0)
        .chain([3.0, -3.0, 0.25, -2.5, 1e30, -1e30, 16777216.0, 8388609.0, -8388609.0])
        .collect();
    for &x in &sp {
        for &y in &sp {
            w.add(err32(powf(x, y), (x as f64).powf(y as f64)), x as f64, y as f64);
        }
    }
    w.report("powf special", 1.0);
    let mut w = Worst::new();
    for (x, y) in pairs(32, 4_000_000, 40.0, 110.0) {
        let (x, y) = (x as f32, y as f32);
        let z = (x as f64).powf(y as f64);
        w.add(err32(powf(x, y), z), x as f64, y as f64);
    }
    w.report("powf", 1.0);
}

#[test]
fn log_pair_f32() {
    // The f32 pair is checked against the f64 log (2^-53 relative).
    let mut w = Worst::new();
    for x in inputs32(STRIDE, 0.5, 2.0, 7) {
        if !(x > 0.0 && x.is_finite()) {
            continue;
        }
        let (h, l) = log_pair32(x, 0.0);
        let z = (x as f64).ln();
        let rel = if z == 0.0 { (h as f64 + l as f64).abs() } else { ((h as f64 + l as f64) - z).abs() / z.abs() };
        w.add(rel * f64::powi(2.0, 40), x as f64, z);
    }
    w.report("log_pair32 (2^-40)", 1.0);
}
