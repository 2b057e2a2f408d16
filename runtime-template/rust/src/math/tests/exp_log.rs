//! exp, exp2, expm1, log, log2, log10, log1p against std.

use super::*;

#[test]
fn exp_f32() {
    run32("expf", expf, f64::exp, inputs32(STRIDE, -104.0, 89.0, 127), 1.0);
    run32("exp2f", exp2f, f64::exp2, inputs32(STRIDE, -150.0, 128.0, 127), 1.0);
    run32("expm1f", expm1f, f64::exp_m1, inputs32(STRIDE, -18.0, 89.0, 127), 1.0);
}

#[test]
fn exp_f64() {
    let xs = inputs64(1, 200_000, -746.0, 710.0);
    run64("exp", exp, f64::exp, &xs, 1.0);
    let xs = inputs64(2, 200_000, -1076.0, 1024.0);
    run64("exp2", exp2, f64::exp2, &xs, 1.0);
    let mut xs = inputs64(3, 200_000, -40.0, 710.0);
    xs.extend(inputs64(4, 100_000, -0.5, 0.5));
    run64("expm1", expm1, f64::exp_m1, &xs, 1.0);
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
    run64("log", log, f64::ln, &xs, 1.0);
    run64("log2", log2, f64::log2, &xs, 1.0);
    // glibc's log10 itself is up to 2 ulp off.
    run64("log10", log10, f64::log10, &xs, 2.0);
    let mut xs = inputs64(3, 200_000, -1.0, 4.0);
    xs.extend(inputs64(4, 100_000, -1e-3, 1e-3));
    run64("log1p", log1p, f64::ln_1p, &xs, 1.0);
}

#[test]
#[ignore]
fn exhaustive_log_f32() {
    exhaustive32("logf", logf, f64::ln, 1.0);
    exhaustive32("log2f", log2f, f64::log2, 1.0);
    exhaustive32("log10f", log10f, f64::log10, 1.0);
    exhaustive32("log1pf", log1pf, f64::ln_1p, 1.0);
}
