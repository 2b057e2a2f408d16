//! erf and erfc: f64 against a double-double reference (a positive series
//! for |x| <= 3, the Laplace continued fraction beyond), f32 against the
//! f64 functions once those have passed.

use super::ddref::{exp_ref, run_scaled, Scaled, DD};
use super::*;

const TWO_OVER_SQRT_PI: DD = DD(core::f64::consts::FRAC_2_SQRT_PI, 1.533545961316588e-17);
const ONE_OVER_SQRT_PI: DD = DD(0.5641895835477563, 7.66772980658294e-18);

/// exp(-x^2) = z 2^k with x^2 exact as a pair.
fn exp_minus_sq(x: f64) -> Scaled {
    let (s, sl) = two_prod64(x, x);
    let (k, u) = exp_ref(-s);
    let low = DD::of(1.0).sub(DD::of(sl)).add(DD::of(0.5 * sl * sl)); // exp(-sl)
    Scaled(DD::of(1.0).add(u).mul(low), k)
}

/// erf(a) for 0 <= a <= 3: 2/sqrt(pi) exp(-a^2) sum 2^n a^(2n+1) / (2n+1)!!.
fn erf_series(a: f64) -> DD {
    let two_a2 = DD::of(a).mul(DD::of(a)).scale(1);
    let mut term = DD::of(a);
    let mut sum = term;
    let mut n = 0.0;
    while term.0 > sum.0 * 1e-34 {
        term = term.mul(two_a2).div(DD::of(2.0 * n + 3.0));
        sum = sum.add(term);
        n += 1.0;
    }
    let e = exp_minus_sq(a);
    TWO_OVER_SQRT_PI.mul(e.0).mul(sum).scale(e.1)
}

/// erf(a) for |a| < 2^-900, scaled: (2/sqrt(pi)) (a 2^200) 2^-200.
fn erf_tiny(a: f64) -> Scaled {
    Scaled(TWO_OVER_SQRT_PI.mul(DD::of(ldexp64(a, 200))), -200)
}

/// erfc(a) for a >= 3: exp(-a^2)/sqrt(pi) / (a + (1/2)/(a + 1/(a + (3/2)/(a + ...)))).
fn erfc_fraction(a: f64) -> Scaled {
    let mut f = DD::of(a);
    for n in (1..=400).rev() {
        f = DD::of(a).add(DD::of(n as f64 * 0.5).div(f));
    }
    let e = exp_minus_sq(a);
    Scaled(ONE_OVER_SQRT_PI.mul(e.0).div(f), e.1)
}

fn erf_ref(x: f64) -> Scaled {
    let a = x.abs();
    if a == 0.0 || a.is_nan() {
        return Scaled::of(DD::of(x));
    }
    let v = if a < 1e-270 {
        erf_tiny(a)
    } else if a <= 3.0 {
        Scaled::of(erf_series(a))
    } else if a < 27.0 {
        erfc_fraction(a).from(1.0)
    } else {
        Scaled::of(DD::of(1.0))
    };
    if x < 0.0 { v.neg() } else { v }
}

fn erfc_ref(x: f64) -> Scaled {
    let a = x.abs();
    if a.is_nan() {
        return Scaled::of(DD::of(x));
    }
    if x < 0.0 {
        return erf_ref(a).neg().from(1.0);
    }
    if a <= 3.0 {
        erf_ref(a).from(1.0)
    } else if a < 27.5 {
        erfc_fraction(a)
    } else {
        Scaled::of(DD::of(0.0))
    }
}

#[test]
fn erf_reference_agrees_at_3() {
    // The series and the continued fraction meet at 3.
    for &a in &[2.5, 3.0, 3.5] {
        let s = DD::of(1.0).sub(erf_series(a));
        let f = erfc_fraction(a);
        let f = f.0.scale(f.1);
        let rel = (s.sub(f).0 / f.0).abs();
        assert!(rel < 1e-25, "{a}: {rel:e}");
    }
}

fn inputs() -> Vec<f64> {
    let mut xs = inputs64(41, 200_000, -7.0, 7.0);
    xs.extend(inputs64(42, 100_000, -1.0, 30.0));
    let mut g = Rng::new(43);
    xs.extend((0..20_000).map(|_| g.uniform(-1.0, 1.0) * f64::powi(2.0, -((g.next() % 1000) as i32))));
    xs
}

#[test]
fn erf_f64() {
    let xs = inputs();
    run_scaled("erf", erf, erf_ref, &xs, 1.0);
    run_scaled("erfc", erfc, erfc_ref, &xs, 1.0);
}

#[test]
fn erf_f32() {
    // The f64 functions (within an ulp, checked above) are the reference.
    run32("erff", erff, erf, inputs32(STRIDE, -4.5, 4.5, 61), 1.0);
    run32("erfcf", erfcf, erfc, inputs32(STRIDE, -4.5, 11.0, 61), 1.0);
}

#[test]
#[ignore]
fn exhaustive_erf_f32() {
    exhaustive32("erff", erff, erf, 1.0);
    exhaustive32("erfcf", erfcf, erfc, 1.0);
}
