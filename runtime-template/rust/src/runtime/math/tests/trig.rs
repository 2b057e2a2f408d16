//! sin, cos, tan, atan, atan2, asin, acos: f32 against std, f64 against the
//! double-double references of trigref.rs.

use super::ddref::{err_dd, run_dd};
use super::trigref::{acos_ref, asin_ref, atan2_ref, atan_ref, cos_ref, sin_ref, tan_ref};
use super::*;

#[test]
fn trig_f32() {
    run32("sinf", sinf, f64::sin, inputs32(STRIDE, -10.0, 10.0, 61), 1.0);
    run32("cosf", cosf, f64::cos, inputs32(STRIDE, -10.0, 10.0, 61), 1.0);
    run32("tanf", tanf, f64::tan, inputs32(STRIDE, -10.0, 10.0, 61), 1.0);
}

#[test]
fn trig_f64() {
    let mut xs = inputs64(1, 150_000, -10.0, 10.0);
    xs.extend(inputs64(2, 100_000, -1e9, 1e9));
    // Near multiples of pi/2.
    let mut g = Rng::new(9);
    for _ in 0..50_000 {
        let k = (g.next() % 2_000_000) as f64 - 1e6;
        let x = k * core::f64::consts::FRAC_PI_2;
        let d = (g.next() % 64) as i64 - 32;
        xs.push(f64::from_bits((x.to_bits() as i64 + d) as u64));
    }
    // The references reduce |x| <= 2^40 themselves; beyond, they are glibc's.
    let (near, far): (Vec<f64>, Vec<f64>) = xs.iter().partition(|x| x.abs() <= 1.099511627776e12);
    run_dd("sin", sin, sin_ref, &near, 1.0);
    run_dd("cos", cos, cos_ref, &near, 1.0);
    run_dd("tan", tan, tan_ref, &near, 1.0);
    run_dd("sin (glibc)", sin, sin_ref, &far, 1.0);
    run_dd("cos (glibc)", cos, cos_ref, &far, 1.0);
    run_dd("tan (glibc)", tan, tan_ref, &far, 1.0);
}

#[test]
#[ignore]
fn exhaustive_trig_f32() {
    exhaustive32("sinf", sinf, f64::sin, 1.0);
    exhaustive32("cosf", cosf, f64::cos, 1.0);
    exhaustive32("tanf", tanf, f64::tan, 1.0);
}

#[test]
fn atrig_f32() {
    run32("atanf", atanf, f64::atan, inputs32(STRIDE, -4.0, 4.0, 61), 1.0);
    run32("asinf", asinf, f64::asin, inputs32(STRIDE, -1.0, 1.0, 61), 1.0);
    run32("acosf", acosf, f64::acos, inputs32(STRIDE, -1.0, 1.0, 61), 1.0);
}

#[test]
fn atan2_f32() {
    let mut g = Rng::new(21);
    let mut w = Worst::new();
    let sp: Vec<f32> = specials32().collect();
    for &a in &sp {
        for &b in &sp {
            let z = (a as f64).atan2(b as f64);
            w.add(err32(atan2f(a, b), z), a as f64, b as f64);
        }
    }
    for i in 0..4_000_000u32 {
        let (a, b) = if i % 2 == 0 {
            (f32::from_bits(g.next() as u32), f32::from_bits(g.next() as u32))
        } else {
            (g.uniform(-2.0, 2.0) as f32, g.uniform(-2.0, 2.0) as f32)
        };
        let z = (a as f64).atan2(b as f64);
        w.add(err32(atan2f(a, b), z), a as f64, b as f64);
    }
    w.report("atan2f", 1.0);
}

#[test]
fn atrig_f64() {
    let xs = inputs64(1, 200_000, -4.0, 4.0);
    run_dd("atan", atan, atan_ref, &xs, 1.0);
    let xs = inputs64(2, 200_000, -1.0, 1.0);
    run_dd("asin", asin, asin_ref, &xs, 1.0);
    run_dd("acos", acos, acos_ref, &xs, 1.0);
    let mut g = Rng::new(22);
    let mut w = Worst::new();
    let sp = specials64();
    for &a in &sp {
        for &b in &sp {
            w.add(err_dd(atan2(a, b), atan2_ref(a, b)), a, b);
        }
    }
    for i in 0..200_000 {
        let (a, b) = if i % 2 == 0 { (g.bits64(), g.bits64()) } else { (g.uniform(-2.0, 2.0), g.uniform(-2.0, 2.0)) };
        w.add(err_dd(atan2(a, b), atan2_ref(a, b)), a, b);
    }
    w.report("atan2", 1.0);
}

#[test]
#[ignore]
fn exhaustive_atrig_f32() {
    exhaustive32("atanf", atanf, f64::atan, 1.0);
    exhaustive32("asinf", asinf, f64::asin, 1.0);
    exhaustive32("acosf", acosf, f64::acos, 1.0);
}
