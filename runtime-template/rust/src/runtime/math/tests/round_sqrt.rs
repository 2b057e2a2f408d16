//! Rounding, fmod, sqrt and cbrt: exact or correctly rounded results.

use super::*;

fn check_exact32(name: &str, f: fn(f32) -> f32, r: fn(f32) -> f32) {
    // Every f32 with |x| < 2^24 in a stride, and all patterns in another.
    let mut w = Worst::new();
    for i in 0..=(u32::MAX / 97) {
        let x = f32::from_bits(i.wrapping_mul(97));
        let (a, b) = (f(x), r(x));
        let ok = (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits();
        w.add(if ok { 0.0 } else { f64::INFINITY }, x as f64, b as f64);
    }
    w.report(name, 0.0);
}

fn check_exact64(name: &str, f: fn(f64) -> f64, r: fn(f64) -> f64) {
    let mut g = Rng::new(7);
    let mut w = Worst::new();
    let mut xs = specials64();
    for _ in 0..400_000 {
        xs.push(g.bits64());
        let k = g.next() % 60;
        xs.push(g.uniform(-1.0, 1.0) * f64::powi(2.0, k as i32));
        xs.push(roundeven(g.uniform(-1e6, 1e6)) + 0.5);
    }
    for x in xs {
        let (a, b) = (f(x), r(x));
        let ok = (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits();
        w.add(if ok { 0.0 } else { f64::INFINITY }, x, b);
    }
    w.report(name, 0.0);
}

#[test]
fn rounding_f32() {
    check_exact32("floorf", floorf, |x| x.floor());
    check_exact32("ceilf", ceilf, |x| x.ceil());
    check_exact32("truncf", truncf, |x| x.trunc());
    check_exact32("roundf", roundf, |x| x.round());
    check_exact32("roundevenf", roundevenf, |x| x.round_ties_even());
}

#[test]
fn rounding_f64() {
    check_exact64("floor", floor, |x| x.floor());
    check_exact64("ceil", ceil, |x| x.ceil());
    check_exact64("trunc", trunc, |x| x.trunc());
    check_exact64("round", round, |x| x.round());
    check_exact64("roundeven", roundeven, |x| x.round_ties_even());
}

#[test]
fn const_rounding() {
    const A: f32 = floorf(-1.5);
    const B: f64 = roundeven(2.5);
    const C: f64 = fmod(7.5, 2.0);
    assert_eq!((A, B, C), (-2.0, 2.0, 1.5));
}

#[test]
fn fmod_exact() {
    let mut g = Rng::new(11);
    let mut w32 = Worst::new();
    let mut w64 = Worst::new();
    let sp32: Vec<f32> = specials32().collect();
    let sp64 = specials64();
    for &a in &sp32 {
        for &b in &sp32 {
            let (r, z) = (fmodf(a, b), a % b);
            let ok = (r.is_nan() && z.is_nan()) || r.to_bits() == z.to_bits();
            w32.add(if ok { 0.0 } else { f64::INFINITY }, a as f64, b as f64);
        }
    }
    for &a in &sp64 {
        for &b in &sp64 {
            let (r, z) = (fmod(a, b), a % b);
            let ok = (r.is_nan() && z.is_nan()) || r.to_bits() == z.to_bits();
            w64.add(if ok { 0.0 } else { f64::INFINITY }, a, b);
        }
    }
    for _ in 0..1_000_000 {
        let (a, b) = (f32::from_bits(g.next() as u32), f32::from_bits(g.next() as u32));
        let (r, z) = (fmodf(a, b), a % b);
        let ok = (r.is_nan() && z.is_nan()) || r.to_bits() == z.to_bits();
        w32.add(if ok { 0.0 } else { f64::INFINITY }, a as f64, b as f64);
        let (a, b) = (g.uniform(-100.0, 100.0) as f32, g.uniform(-10.0, 10.0) as f32);
        let (r, z) = (fmodf(a, b), a % b);
        let ok = r.to_bits() == z.to_bits();
        w32.add(if ok { 0.0 } else { f64::INFINITY }, a as f64, b as f64);
    }
    for _ in 0..300_000 {
        let (a, b) = (g.bits64(), g.bits64());
        let (r, z) = (fmod(a, b), a % b);
        let ok = (r.is_nan() && z.is_nan()) || r.to_bits() == z.to_bits();
        w64.add(if ok { 0.0 } else { f64::INFINITY }, a, b);
        let (a, b) = (g.uniform(-1e3, 1e3), g.uniform(-10.0, 10.0));
        let (r, z) = (fmod(a, b), a % b);
        let ok = r.to_bits() == z.to_bits();
        w64.add(if ok { 0.0 } else { f64::INFINITY }, a, b);
    }
    w32.report("fmodf", 0.0);
    w64.report("fmod", 0.0);
}

#[test]
fn sqrt_f32() {
    // Correct rounding: compare with the correctly rounded f64 sqrt.
    run32("sqrtf", sqrtf, f64::sqrt, inputs32(61, 1.0, 4.0, 1), 0.5001);
    run32("cbrtf", cbrtf, f64::cbrt, inputs32(STRIDE, 1.0, 8.0, 3), 0.5001);
}

#[test]
fn sqrt_f64() {
    let mut xs = inputs64(5, 400_000, 0.0, 4.0);
    let mut g = Rng::new(3);
    xs.extend((0..100_000).map(|_| f64::from_bits(g.next() >> 12))); // subnormals
    run64("sqrt", sqrt, f64::sqrt, &xs, 0.0);
    run64("cbrt", cbrt, f64::cbrt, &xs, 1.0);
}

#[test]
#[ignore]
fn exhaustive_sqrt_f32() {
    exhaustive32("sqrtf", sqrtf, f64::sqrt, 0.5001);
    exhaustive32("cbrtf", cbrtf, f64::cbrt, 0.5001);
}
