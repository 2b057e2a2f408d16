//! Double-double references for the f64 trigonometric functions: Taylor
//! series after reduction by a 159-bit pi/2 (|x| <= 2^40), inverse functions
//! by one Newton step from std's value on those. Outside their ranges the
//! references fall back to std (glibc), so the error there is a distance to
//! glibc in whole ulps.

use super::ddref::DD;
use super::ldexp64;
use core::f64::consts::FRAC_PI_2;

/// pi/2 in three doubles.
const PIO2: [f64; 3] = [FRAC_PI_2, 6.123233995736766e-17, -1.4973849048591698e-33];
const PIO2_DD: DD = DD(FRAC_PI_2, 6.123233995736766e-17);
const PI_DD: DD = DD(core::f64::consts::PI, 1.2246467991473532e-16);

/// x = k pi/2 + r: (k mod 4, r) for |x| <= 2^40.
fn reduce(x: f64) -> (i64, DD) {
    let k = (x / FRAC_PI_2).round();
    let mut r = DD::of(x);
    for p in PIO2 {
        r = r.sub(DD::of(p).mul(DD::of(k)));
    }
    ((k as i64).rem_euclid(4), r)
}

/// sin r and cos r by Taylor series, |r| <= 0.8.
fn sin_cos_taylor(r: DD) -> (DD, DD) {
    let r2 = r.mul(r);
    let (mut s, mut st) = (r, r);
    let (mut c, mut ct) = (DD::of(1.0), DD::of(1.0));
    for n in 1..20 {
        let n = n as f64;
        st = st.mul(r2).div(DD::of(-(2.0 * n) * (2.0 * n + 1.0)));
        ct = ct.mul(r2).div(DD::of(-(2.0 * n - 1.0) * (2.0 * n)));
        s = s.add(st);
        c = c.add(ct);
    }
    (s, c)
}

/// (sin x, cos x) for |x| <= 2^40.
pub(super) fn sin_cos_dd(x: f64) -> (DD, DD) {
    let (q, r) = reduce(x);
    let (s, c) = sin_cos_taylor(r);
    match q {
        0 => (s, c),
        1 => (c, s.neg()),
        2 => (s.neg(), c.neg()),
        _ => (c.neg(), s),
    }
}

fn in_range(x: f64) -> bool {
    x.abs() <= 1.099511627776e12 && x != 0.0
}

pub(super) fn sin_ref(x: f64) -> DD {
    if in_range(x) { sin_cos_dd(x).0 } else { DD::of(x.sin()) }
}

pub(super) fn cos_ref(x: f64) -> DD {
    if in_range(x) { sin_cos_dd(x).1 } else { DD::of(x.cos()) }
}

pub(super) fn tan_ref(x: f64) -> DD {
    if in_range(x) {
        let (s, c) = sin_cos_dd(x);
        s.div(c)
    } else {
        DD::of(x.tan())
    }
}

/// atan t for |t| <= 1: one Newton step y + (t cos y - sin y) cos y.
fn atan_small(t: DD) -> DD {
    let y = t.0.atan();
    let (s, c) = sin_cos_dd(y);
    DD::of(y).add(t.mul(c).sub(s).mul(c))
}

/// atan t for any finite DD t with |t| in [2^-900, 2^900].
fn atan_dd(t: DD) -> DD {
    if t.0.abs() <= 1.0 {
        return atan_small(t);
    }
    let a = PIO2_DD.sub(atan_small(DD::of(1.0).div(t.abs_dd())));
    if t.0 < 0.0 { a.neg() } else { a }
}

trait AbsDD {
    fn abs_dd(self) -> DD;
}

impl AbsDD for DD {
    fn abs_dd(self) -> DD {
        if self.0 < 0.0 { self.neg() } else { self }
    }
}

fn moderate(x: f64) -> bool {
    let a = x.abs();
    (1e-270..=1e270).contains(&a)
}

pub(super) fn atan_ref(x: f64) -> DD {
    if moderate(x) { atan_dd(DD::of(x)) } else { DD::of(x.atan()) }
}

/// asin s for 0 <= s <= 1/2 (DD): one Newton step y - (sin y - s) / cos y.
fn asin_small(s: DD) -> DD {
    let y = s.0.asin();
    let (sy, cy) = sin_cos_dd(y);
    DD::of(y).sub(sy.sub(s).div(cy))
}

/// sqrt((1 - a)/2) for 1/2 <= a <= 1, 1 - a exact.
fn half_angle(a: f64) -> DD {
    DD::of((1.0 - a) * 0.5).sqrt()
}

pub(super) fn asin_ref(x: f64) -> DD {
    let a = x.abs();
    if !moderate(x) || a > 1.0 {
        return DD::of(x.asin());
    }
    let v = if a <= 0.5 {
        asin_small(DD::of(a))
    } else if a == 1.0 {
        PIO2_DD
    } else {
        PIO2_DD.sub(asin_small(half_angle(a)).scale(1))
    };
    if x < 0.0 { v.neg() } else { v }
}

pub(super) fn acos_ref(x: f64) -> DD {
    let a = x.abs();
    if a > 1.0 || x.is_nan() || a == 1.0 {
        return DD::of(x.acos());
    }
    if a <= 0.5 {
        return if a < 1e-270 { PIO2_DD } else { PIO2_DD.sub(asin_ref(x)) };
    }
    let h = asin_small(half_angle(a)).scale(1);
    if x > 0.0 { h } else { PI_DD.sub(h) }
}

pub(super) fn atan2_ref(y: f64, x: f64) -> DD {
    if !x.is_finite() || !y.is_finite() || x == 0.0 || y == 0.0 || !moderate(y / x) {
        return DD::of(y.atan2(x));
    }
    // Scale both by the same power of two (exact) into the DD-safe range.
    let e = x.abs().max(y.abs()).log2().floor() as i32;
    let a = atan_dd(DD::of(ldexp64(y, -e)).div(DD::of(ldexp64(x, -e))));
    if x > 0.0 {
        a
    } else if y > 0.0 {
        a.add(PI_DD)
    } else {
        a.sub(PI_DD)
    }
}
