//! Double-double reference values (about 2^-100 relative) for the f64
//! functions whose libm results are themselves off by more than an ulp
//! (glibc's sinh, cosh, tanh, asinh, acosh, atanh) or missing (erf, erfc).
//! exp is evaluated as 2^k (1 + u) with u from a Taylor series on r/1024
//! squared ten times; log1p by one Newton step on std's log1p, which
//! doubles its 53 correct bits.

use super::*;

/// hi + lo, |lo| <= ulp(hi)/2.
#[derive(Clone, Copy, Debug)]
pub(super) struct DD(pub f64, pub f64);

const LN2: DD = DD(core::f64::consts::LN_2, 2.3190468138462996e-17);

impl DD {
    pub(super) fn of(x: f64) -> DD {
        DD(x, 0.0)
    }
    pub(super) fn add(self, b: DD) -> DD {
        let (s, e) = two_sum64(self.0, b.0);
        let (s, e) = fast_two_sum64(s, e + (self.1 + b.1));
        DD(s, e)
    }
    pub(super) fn sub(self, b: DD) -> DD {
        self.add(DD(-b.0, -b.1))
    }
    pub(super) fn mul(self, b: DD) -> DD {
        let (p, e) = two_prod64(self.0, b.0);
        let (p, e) = fast_two_sum64(p, e + (self.0 * b.1 + self.1 * b.0));
        DD(p, e)
    }
    pub(super) fn scale(self, k: i32) -> DD {
        DD(ldexp64(self.0, k), ldexp64(self.1, k))
    }
    pub(super) fn div(self, b: DD) -> DD {
        let q1 = self.0 / b.0;
        let r = self.sub(b.mul(DD::of(q1)));
        let q2 = r.0 / b.0;
        let r = r.sub(b.mul(DD::of(q2)));
        let q3 = r.0 / b.0;
        DD::of(q1).add(DD::of(q2)).add(DD::of(q3))
    }
    pub(super) fn sqrt(self) -> DD {
        let s = self.0.sqrt();
        let r = self.sub(DD::of(s).mul(DD::of(s)));
        DD::of(s).add(DD::of(r.0 / (2.0 * s)))
    }
    pub(super) fn neg(self) -> DD {
        DD(-self.0, -self.1)
    }
}

/// e^x = 2^k (1 + u) for |x| <= 745: returns (k, u).
pub(super) fn exp_ref(x: f64) -> (i32, DD) {
    let k = (x / core::f64::consts::LN_2).round();
    let r = DD::of(x).sub(LN2.mul(DD::of(k)));
    let s = r.scale(-10);
    // expm1(s) by Taylor, |s| < 2^-11.
    let mut term = s;
    let mut u = s;
    for n in 2..=14 {
        term = term.mul(s).div(DD::of(n as f64));
        u = u.add(term);
    }
    for _ in 0..10 {
        u = u.add(u).add(u.mul(u));
    }
    (k as i32, u)
}

/// e^x - 1 for |x| <= 700.
pub(super) fn expm1_ref(x: f64) -> DD {
    let (k, u) = exp_ref(x);
    if k == 0 {
        return u;
    }
    let p = ldexp64(1.0, k);
    let (a, b) = two_sum64(p, -1.0);
    DD(a, b).add(u.scale(k))
}

/// log(1 + w) for |w| <= 1/2.
pub(super) fn log1p_ref(w: DD) -> DD {
    let y0 = w.0.ln_1p();
    if y0 == 0.0 {
        return w;
    }
    let u = expm1_ref(y0);
    DD::of(y0).add(w.sub(u).div(DD::of(1.0).add(u)))
}

/// log v for v > 0.
pub(super) fn log_ref(v: DD) -> DD {
    let k = v.0.log2().round() as i32;
    let m = v.scale(-k); // in [0.7, 1.42]
    log1p_ref(m.sub(DD::of(1.0))).add(LN2.mul(DD::of(k as f64)))
}

/// Error of `r` against the reference `z` in ulps of z (fractional).
pub(super) fn err_dd(r: f64, z: DD) -> f64 {
    if z.0.is_nan() || r.is_nan() {
        return if z.0.is_nan() && r.is_nan() { 0.0 } else { f64::INFINITY };
    }
    if z.0.is_infinite() || r.is_infinite() {
        return if z.0 == r { 0.0 } else { f64::INFINITY };
    }
    if z.0 == 0.0 {
        if r == 0.0 {
            return if r.is_sign_negative() == z.0.is_sign_negative() { 0.0 } else { f64::INFINITY };
        }
        return r.abs() / f64::from_bits(1);
    }
    let e = ((z.0.to_bits() >> 52) & 0x7ff).max(1); // biased exponent
    let ulp = if e > 52 { f64::from_bits((e - 52) << 52) } else { f64::from_bits(1 << (e - 1)) };
    ((r - z.0) - z.1).abs() / ulp
}

/// An f64 check against a double-double reference.
pub(super) fn run_dd(name: &str, f: fn(f64) -> f64, r: fn(f64) -> DD, xs: &[f64], bound: f64) {
    let mut w = Worst::new();
    for &x in xs.iter().chain(specials64().iter()) {
        let z = r(x);
        w.add(err_dd(f(x), z), x, z.0);
    }
    w.report(name, bound);
}

/// A reference value z 2^k, kept unscaled so that results near and below
/// the underflow threshold are still known to 2^-100.
#[derive(Clone, Copy)]
pub(super) struct Scaled(pub DD, pub i32);

impl Scaled {
    pub(super) fn of(z: DD) -> Self {
        Scaled(z, 0)
    }
    pub(super) fn neg(self) -> Self {
        Scaled(self.0.neg(), self.1)
    }
    /// c - self for c = 1 or 2 (self.1 <= 0).
    pub(super) fn from(self, c: f64) -> Self {
        Scaled(DD::of(c).sub(self.0.scale(self.1)), 0)
    }
    pub(super) fn hi(self) -> f64 {
        ldexp64(self.0 .0, self.1)
    }
}

/// Error of `r` against z 2^k in ulps of the (unscaled) true value.
pub(super) fn err_scaled(r: f64, z: Scaled) -> f64 {
    let Scaled(z, k) = z;
    if z.0.is_nan() || r.is_nan() {
        return if z.0.is_nan() && r.is_nan() { 0.0 } else { f64::INFINITY };
    }
    if r.is_infinite() || z.0.is_infinite() {
        return if r == ldexp64(z.0, k) { 0.0 } else { f64::INFINITY };
    }
    if z.0 == 0.0 {
        return if r == 0.0 && r.is_sign_negative() == z.0.is_sign_negative() { 0.0 } else { f64::INFINITY };
    }
    let e = ((z.0.to_bits() >> 52) & 0x7ff) as i32 - 1023 + k; // exponent of the true value
    let ulp_exp = e.max(-1022) - 52;
    let rs = ldexp64(r, -k); // exact: r is scaled towards the normal range
    ((rs - z.0) - z.1).abs() / ldexp64(1.0, ulp_exp - k)
}

pub(super) fn run_scaled(name: &str, f: fn(f64) -> f64, r: fn(f64) -> Scaled, xs: &[f64], bound: f64) {
    let mut w = Worst::new();
    for &x in xs.iter().chain(specials64().iter()) {
        let z = r(x);
        w.add(err_scaled(f(x), z), x, z.hi());
    }
    w.report(name, bound);
}


/// Checks the reference itself against std where std is accurate.
#[test]
fn reference_self_check() {
    let mut w = Worst::new();
    let mut g = Rng::new(77);
    for _ in 0..20_000 {
        let x = g.uniform(-700.0, 700.0);
        let (k, u) = exp_ref(x);
        let z = DD::of(1.0).add(u).scale(k);
        w.add(err_dd(x.exp(), z), x, z.0);
        let y = f64::exp2(g.uniform(-1000.0, 1000.0));
        let z = log_ref(DD::of(y));
        w.add(err_dd(y.ln(), z), y, z.0);
        let t = g.uniform(-0.5, 0.5) * f64::powi(2.0, -((g.next() % 60) as i32));
        let z = expm1_ref(t);
        w.add(err_dd(t.exp_m1(), z), t, z.0);
        let z = log1p_ref(DD::of(t));
        w.add(err_dd(t.ln_1p(), z), t, z.0);
    }
    // glibc's exp, log, expm1 and log1p are within an ulp.
    w.report("dd reference", 1.0);
}
