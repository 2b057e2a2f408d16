//! sinh, cosh, tanh, asinh, acosh, atanh against std.

use super::ddref::{exp_ref, expm1_ref, log1p_ref, log_ref, run_dd, DD};
use super::*;

/// e^a / 2 (e^-a is below 2^-115 of it), inf past overflow.
fn half_exp_ref(a: f64) -> DD {
    if a > 711.0 {
        return DD::of(f64::INFINITY);
    }
    let (k, u) = exp_ref(a);
    DD::of(1.0).add(u).scale(k - 1)
}

fn sinh_ref(x: f64) -> DD {
    let a = x.abs();
    if a < 1e-20 {
        return DD(x, x * x * x / 6.0);
    }
    if a.is_nan() {
        return DD::of(x);
    }
    let v = if a > 40.0 {
        half_exp_ref(a)
    } else {
        let u = expm1_ref(a);
        u.add(u.div(DD::of(1.0).add(u))).scale(-1)
    };
    if x < 0.0 { v.neg() } else { v }
}

fn cosh_ref(x: f64) -> DD {
    let a = x.abs();
    if a < 1e-20 {
        return DD(1.0, 0.5 * x * x);
    }
    if a > 40.0 || a.is_nan() {
        return if a.is_nan() { DD::of(x) } else { half_exp_ref(a) };
    }
    let (k, u) = exp_ref(a);
    let e = DD::of(1.0).add(u).scale(k);
    e.add(DD::of(1.0).div(e)).scale(-1)
}

fn tanh_ref(x: f64) -> DD {
    let a = x.abs();
    if a < 1e-20 {
        return DD(x, -x * x * x / 3.0);
    }
    if a > 40.0 || a.is_nan() {
        return DD::of(x.tanh());
    }
    let u = expm1_ref(2.0 * a);
    let v = u.div(u.add(DD::of(2.0)));
    if x < 0.0 { v.neg() } else { v }
}

/// log(1 + w) for w >= 0 of any size.
fn log1p_any(w: DD) -> DD {
    if w.0 <= 0.5 { log1p_ref(w) } else { log_ref(DD::of(1.0).add(w)) }
}

/// log(2a): 1/(4a^2) is negligible for a > 1e150.
fn log_twice_ref(a: f64) -> DD {
    log_ref(DD::of(a)).add(log_ref(DD::of(2.0)))
}

fn asinh_ref(x: f64) -> DD {
    let a = x.abs();
    if a < 1e-20 {
        return DD(x, -x * x * x / 6.0);
    }
    if !a.is_finite() || a == 0.0 {
        return DD::of(x);
    }
    let v = if a > 1e150 {
        log_twice_ref(a)
    } else {
        // a + a^2 / (1 + sqrt(1 + a^2))
        let a2 = DD::of(a).mul(DD::of(a));
        let s = DD::of(1.0).add(a2).sqrt();
        log1p_any(DD::of(a).add(a2.div(DD::of(1.0).add(s))))
    };
    if x < 0.0 { v.neg() } else { v }
}

fn acosh_ref(x: f64) -> DD {
    if x <= 1.0 || x == f64::INFINITY || x.is_nan() {
        return DD::of(x.acosh());
    }
    if x > 1e150 {
        return log_twice_ref(x);
    }
    let d = DD::of(x).sub(DD::of(1.0));
    log1p_any(d.add(d.mul(d.add(DD::of(2.0))).sqrt()))
}

fn atanh_ref(x: f64) -> DD {
    let a = x.abs();
    if a < 1e-20 {
        return DD(x, x * x * x / 3.0);
    }
    if a >= 1.0 || a.is_nan() || a == 0.0 {
        return DD::of(x.atanh());
    }
    let q = DD::of(2.0 * a).div(DD::of(1.0).sub(DD::of(a)));
    let v = log1p_any(q).scale(-1);
    if x < 0.0 { v.neg() } else { v }
}

#[test]
fn hyper_f32() {
    run32("sinhf", sinhf, f64::sinh, inputs32(STRIDE, -12.0, 12.0, 61), 1.0);
    run32("coshf", coshf, f64::cosh, inputs32(STRIDE, -12.0, 12.0, 61), 1.0);
    run32("tanhf", tanhf, f64::tanh, inputs32(STRIDE, -10.0, 10.0, 61), 1.0);
}

#[test]
fn hyper_f64() {
    let mut xs = inputs64(1, 200_000, -45.0, 45.0);
    xs.extend(inputs64(2, 50_000, -712.0, 712.0));
    xs.extend(inputs64(3, 50_000, -1e-3, 1e-3));
    run_dd("sinh", sinh, sinh_ref, &xs, 1.0);
    run_dd("cosh", cosh, cosh_ref, &xs, 1.0);
    run_dd("tanh", tanh, tanh_ref, &xs, 1.0);
}

#[test]
fn ahyper_f32() {
    run32("asinhf", asinhf, f64::asinh, inputs32(STRIDE, -4.0, 4.0, 61), 1.0);
    run32("acoshf", acoshf, f64::acosh, inputs32(STRIDE, 1.0, 4.0, 31), 1.0);
    run32("atanhf", atanhf, f64::atanh, inputs32(STRIDE, -1.0, 1.0, 61), 1.0);
}

#[test]
fn ahyper_f64() {
    let mut xs = inputs64(4, 200_000, -4.0, 4.0);
    xs.extend(inputs64(5, 50_000, -1e-3, 1e-3));
    let mut g = Rng::new(6);
    xs.extend((0..50_000).map(|_| 1.0 + g.uniform(0.0, 1.0) * f64::powi(2.0, -((g.next() % 50) as i32))));
    xs.extend((0..50_000).map(|_| 1.0 - g.uniform(0.0, 1.0) * f64::powi(2.0, -((g.next() % 50) as i32))));
    run_dd("asinh", asinh, asinh_ref, &xs, 1.0);
    run_dd("acosh", acosh, acosh_ref, &xs, 1.0);
    run_dd("atanh", atanh, atanh_ref, &xs, 1.0);
}

#[test]
#[ignore]
fn exhaustive_hyper_f32() {
    exhaustive32("sinhf", sinhf, f64::sinh, 1.0);
    exhaustive32("coshf", coshf, f64::cosh, 1.0);
    exhaustive32("tanhf", tanhf, f64::tanh, 1.0);
    exhaustive32("asinhf", asinhf, f64::asinh, 1.0);
    exhaustive32("acoshf", acoshf, f64::acosh, 1.0);
    exhaustive32("atanhf", atanhf, f64::atanh, 1.0);
}
