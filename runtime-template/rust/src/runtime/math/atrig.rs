//! Inverse trigonometric functions: atan, atan2, asin, acos for f32 and f64.
//!
//! atan: |x| is mapped to [0, 7/16] with atan(t) = atan(c) + atan((t - c) /
//! (1 + t c)) for c in {1/2, 1, 3/2} or atan(t) = pi/2 - atan(1/t); the
//! reduced argument is carried as a hi + lo pair (compensated division) and
//! fed to a minimax polynomial (fitted for this file). atan2 forms y/x as a
//! pair so the quotient's rounding does not count. asin/acos use a minimax
//! polynomial on [0, 1/2] and asin(x) = pi/2 - 2 asin(sqrt((1 - x)/2)) with
//! the square root as a pair beyond. The f32 functions use f32 arithmetic.

use super::{div_pair32, div_pair64, pow2_32, pow2_64, sqrt, sqrtf, two_prod32, two_prod64, two_sum32, two_sum64};

use core::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

// Constants as (hi, lo) pairs.
const ATAN_HALF64: (f64, f64) = (0.4636476090008061, 2.2698777452961687e-17);
const ATAN_3HALF64: (f64, f64) = (0.982793723247329, 1.3903311031230998e-17);
const PIO4_64: (f64, f64) = (FRAC_PI_4, 3.061616997868383e-17);
const PIO2_64: (f64, f64) = (FRAC_PI_2, 6.123233995736766e-17);
const PI_64: (f64, f64) = (PI, 1.2246467991473532e-16);
const P3IO4_64: (f64, f64) = (2.356194490192345, 9.184850993605148e-17);
const ATAN_HALF32: (f32, f32) = (0.4636476, 5.0121587e-09);
const ATAN_3HALF32: (f32, f32) = (0.98279375, -2.5131424e-08);
const PIO4_32: (f32, f32) = (core::f32::consts::FRAC_PI_4, -2.1855694e-08);
const PIO2_32: (f32, f32) = (core::f32::consts::FRAC_PI_2, -4.371139e-08);
const PI_32: (f32, f32) = (core::f32::consts::PI, -8.742278e-08);
const P3IO4_32: (f32, f32) = (2.3561945, -5.9624403e-09);

/// atan(rh + rl) - rh for |rh| <= 7/16, |rl| <= 2^-50 |rh|.
#[inline]
fn atan_tail64(rh: f64, rl: f64) -> f64 {
    let z = rh * rh;
    rh * z * (-0.33333333333332915
            + z * (0.199999999998723
                + z * (-0.1428571427213354
                    + z * (0.1111111038915072
                        + z * (-0.09090886718840684
                            + z * (0.07691869677244946
                                + z * (-0.06661007388884554
                                    + z * (0.05833145860252775
                                        + z * (-0.049751812693108334 + z * (0.03649328486024338 + z * -0.016248555519097665)))))))))) + rl * (1.0 - z)
}

/// atan(th + tl) = hi + lo for th >= 0 (th + tl is the exact argument).
#[inline]
fn atan_pair64(th: f64, tl: f64) -> (f64, f64) {
    let ((bh, bl), (rh, rl)) = if th < 0.4375 {
        ((0.0, 0.0), (th, tl))
    } else if th < 0.6875 {
        // (t - 1/2) / (1 + t/2): th - 1/2 and th/2 are exact.
        let (dh, dl) = two_sum64(1.0, 0.5 * th);
        (ATAN_HALF64, div_pair64(th - 0.5, tl, dh, dl + 0.5 * tl))
    } else if th < 1.1875 {
        let (dh, dl) = two_sum64(1.0, th);
        (PIO4_64, div_pair64(th - 1.0, tl, dh, dl + tl))
    } else if th < 2.4375 {
        let (p, pe) = two_prod64(1.5, th);
        let (dh, dl) = two_sum64(1.0, p);
        (ATAN_3HALF64, div_pair64(th - 1.5, tl, dh, dl + (pe + 1.5 * tl)))
    } else {
        // atan(t) = pi/2 - atan(1/t).
        let (qh, ql) = div_pair64(1.0, 0.0, th, tl);
        (PIO2_64, (-qh, -ql))
    };
    let tail = atan_tail64(rh, rl);
    let (s, e) = two_sum64(bh, rh);
    (s, e + (tail + bl))
}

/// Arctangent, in [-pi/2, pi/2].
#[inline]
pub fn atan(x: f64) -> f64 {
    let a = x.abs();
    if a < 1.4901161193847656e-8 {
        return x;
    }
    if x.is_nan() {
        return x + x;
    }
    if a > 7.378697629483821e19 {
        return f64::copysign(PIO2_64.0, x);
    }
    let (h, l) = atan_pair64(a, 0.0);
    f64::copysign(h + l, x)
}

/// Arctangent of y/x in (-pi, pi], using the signs of both arguments to
/// pick the quadrant (C99 Annex F special cases).
pub fn atan2(y: f64, x: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        return x + y;
    }
    let (ax, ay) = (x.abs(), y.abs());
    let xneg = x.is_sign_negative();
    if ay == 0.0 {
        return if xneg { f64::copysign(PI_64.0, y) } else { y };
    }
    if ax == 0.0 {
        return f64::copysign(PIO2_64.0, y);
    }
    if ax == f64::INFINITY {
        let v = if ay == f64::INFINITY {
            if xneg { P3IO4_64.0 } else { PIO4_64.0 }
        } else if xneg {
            PI_64.0
        } else {
            0.0
        };
        return f64::copysign(v, y);
    }
    if ay == f64::INFINITY {
        return f64::copysign(PIO2_64.0, y);
    }
    // Both finite and nonzero: scale so that the quotient and its error term
    // stay in range; a power-of-two scaling does not change the ratio.
    let ex = (ax.to_bits() >> 52) as i32;
    let ey = (ay.to_bits() >> 52) as i32;
    if ey - ex > 60 {
        // |y/x| > 2^60: pi/2 - tiny (or + tiny for x < 0).
        let v = if xneg { PIO2_64.0 + PIO2_64.1 } else { PIO2_64.0 - PIO2_64.1 };
        return f64::copysign(v, y);
    }
    if ex - ey > 60 && !xneg {
        return f64::copysign(ay / ax, y);
    }
    let (ax, ay) = (scale64(ax, ex), scale64(ay, ex));
    let th = ay / ax;
    let (p, pe) = two_prod64(th, ax);
    let tl = ((ay - p) - pe) / ax;
    let (h, l) = atan_pair64(th, tl);
    let v = if xneg {
        let (s, e) = two_sum64(PI_64.0, -h);
        s + (e + (PI_64.1 - l))
    } else {
        h + l
    };
    f64::copysign(v, y)
}

/// a * 2^(1023 - e) for the biased exponent field e of a (subnormals: e = 0):
/// brings the larger operand of atan2 near 1.
#[inline]
fn scale64(a: f64, e: i32) -> f64 {
    let e = if e == 0 { 1 } else { e };
    // Two steps so that each factor is a normal power of two.
    let k = 1023 - e;
    let k1 = k / 2;
    a * pow2_64(k1) * pow2_64(k - k1)
}

/// asin(s) = s + s^3 P(s^2) for |s| <= 1/2, returned as the tail s^3 P(s^2).
#[inline]
fn asin_tail64(s: f64, z: f64) -> f64 {
    s * z * (0.16666666666666763 + z * (0.07499999999970182 + z * (0.04464285717518539 + z * (0.03038194268044862 + z * (0.022372215760670548 + z * (0.01735159799944694 + z * (0.013980990625039188 + z * (0.011397500882583204 + z * (0.010788284417608717 + z * (0.003675586585328039 + z * (0.021783666338774217 + z * (-0.02110870656799898 + z * (0.032698326814814875)))))))))))))
}

/// For 1/2 <= |x| <= 1: s = sqrt((1 - |x|)/2) as sh + sl and z = s^2, so that
/// asin(|x|) = pi/2 - 2 asin(s).
#[inline]
fn half_angle64(a: f64) -> (f64, f64, f64) {
    let z = 0.5 * (1.0 - a); // exact
    let sh = sqrt(z);
    let (p, pe) = two_prod64(sh, sh);
    // z = 0 (|x| = 1) gives s = 0 exactly.
    let sl = if z == 0.0 { 0.0 } else { ((z - p) - pe) / (2.0 * sh) };
    (sh, sl, z)
}

/// Arcsine, in [-pi/2, pi/2]; NaN outside [-1, 1].
#[inline]
pub fn asin(x: f64) -> f64 {
    let a = x.abs();
    if a < 1.4901161193847656e-8 {
        return x;
    }
    if a <= 0.5 {
        return x + asin_tail64(x, x * x);
    }
    if a > 1.0 || x.is_nan() {
        return f64::NAN;
    }
    let (sh, sl, z) = half_angle64(a);
    // pi/2 - 2 (sh + sl + tail)
    let t = asin_tail64(sh, z) + sl;
    let (s, e) = two_sum64(PIO2_64.0, -2.0 * sh);
    f64::copysign(s + (e + (PIO2_64.1 - 2.0 * t)), x)
}

/// Arccosine, in [0, pi]; NaN outside [-1, 1].
#[inline]
pub fn acos(x: f64) -> f64 {
    let a = x.abs();
    if a <= 0.5 {
        // pi/2 - asin(x)
        let t = asin_tail64(x, x * x);
        let (s, e) = two_sum64(PIO2_64.0, -x);
        return s + (e + (PIO2_64.1 - t));
    }
    if a > 1.0 || x.is_nan() {
        return f64::NAN;
    }
    let (sh, sl, z) = half_angle64(a);
    let t = asin_tail64(sh, z) + sl;
    if x > 0.0 {
        // 2 asin(s)
        2.0 * sh + 2.0 * t
    } else {
        // pi - 2 asin(s)
        let (s, e) = two_sum64(PI_64.0, -2.0 * sh);
        s + (e + (PI_64.1 - 2.0 * t))
    }
}

/// atan(rh + rl) - rh for |rh| <= 7/16, |rl| <= 2^-20 |rh|.
#[inline]
fn atan_tail32(rh: f32, rl: f32) -> f32 {
    let z = rh * rh;
    rh * z * (-0.3333333 + z * (0.19999816 + z * (-0.14279702 + z * (0.11017952 + z * (-0.08334364 + z * 0.044629935))))) + rl * (1.0 - z)
}

/// atan(th + tl) = hi + lo for th >= 0 (th + tl is the exact argument).
#[inline]
fn atan_pair32(th: f32, tl: f32) -> (f32, f32) {
    let ((bh, bl), (rh, rl)) = if th < 0.4375 {
        ((0.0, 0.0), (th, tl))
    } else if th < 0.6875 {
        // (t - 1/2) / (1 + t/2): th - 1/2 and th/2 are exact.
        let (dh, dl) = two_sum32(1.0, 0.5 * th);
        (ATAN_HALF32, div_pair32(th - 0.5, tl, dh, dl + 0.5 * tl))
    } else if th < 1.1875 {
        let (dh, dl) = two_sum32(1.0, th);
        (PIO4_32, div_pair32(th - 1.0, tl, dh, dl + tl))
    } else if th < 2.4375 {
        let (p, pe) = two_prod32(1.5, th);
        let (dh, dl) = two_sum32(1.0, p);
        (ATAN_3HALF32, div_pair32(th - 1.5, tl, dh, dl + (pe + 1.5 * tl)))
    } else {
        // atan(t) = pi/2 - atan(1/t).
        let (qh, ql) = div_pair32(1.0, 0.0, th, tl);
        (PIO2_32, (-qh, -ql))
    };
    let tail = atan_tail32(rh, rl);
    let (s, e) = two_sum32(bh, rh);
    (s, e + (tail + bl))
}

/// Arctangent, in [-pi/2, pi/2].
#[inline]
pub fn atanf(x: f32) -> f32 {
    let a = x.abs();
    if a < 1.0 / 4096.0 {
        return x;
    }
    if x.is_nan() {
        return x + x;
    }
    if a > 3.3554432e7 {
        return f32::copysign(PIO2_32.0, x);
    }
    let (h, l) = atan_pair32(a, 0.0);
    f32::copysign(h + l, x)
}

/// Arctangent of y/x in (-pi, pi], using the signs of both arguments to
/// pick the quadrant (C99 Annex F special cases).
pub fn atan2f(y: f32, x: f32) -> f32 {
    if x.is_nan() || y.is_nan() {
        return x + y;
    }
    let (ax, ay) = (x.abs(), y.abs());
    let xneg = x.is_sign_negative();
    if ay == 0.0 {
        return if xneg { f32::copysign(PI_32.0, y) } else { y };
    }
    if ax == 0.0 {
        return f32::copysign(PIO2_32.0, y);
    }
    if ax == f32::INFINITY {
        let v = if ay == f32::INFINITY {
            if xneg { P3IO4_32.0 } else { PIO4_32.0 }
        } else if xneg {
            PI_32.0
        } else {
            0.0
        };
        return f32::copysign(v, y);
    }
    if ay == f32::INFINITY {
        return f32::copysign(PIO2_32.0, y);
    }
    // Both finite and nonzero: scale so that the quotient and its error term
    // stay in range; a power-of-two scaling does not change the ratio.
    let ex = (ax.to_bits() >> 23) as i32;
    let ey = (ay.to_bits() >> 23) as i32;
    if ey - ex > 30 {
        // |y/x| > 2^30: pi/2 - tiny (or + tiny for x < 0).
        let v = if xneg { PIO2_32.0 + PIO2_32.1 } else { PIO2_32.0 - PIO2_32.1 };
        return f32::copysign(v, y);
    }
    if ex - ey > 30 && !xneg {
        return f32::copysign(ay / ax, y);
    }
    let (ax, ay) = (scale32(ax, ex), scale32(ay, ex));
    let th = ay / ax;
    let (p, pe) = two_prod32(th, ax);
    let tl = ((ay - p) - pe) / ax;
    let (h, l) = atan_pair32(th, tl);
    let v = if xneg {
        let (s, e) = two_sum32(PI_32.0, -h);
        s + (e + (PI_32.1 - l))
    } else {
        h + l
    };
    f32::copysign(v, y)
}

/// a * 2^(127 - e) for the biased exponent field e of a (subnormals: e = 0):
/// brings the larger operand of atan2 near 1.
#[inline]
fn scale32(a: f32, e: i32) -> f32 {
    let e = if e == 0 { 1 } else { e };
    // Two steps so that each factor is a normal power of two.
    let k = 127 - e;
    let k1 = k / 2;
    a * pow2_32(k1) * pow2_32(k - k1)
}

/// asin(s) = s + s^3 P(s^2) for |s| <= 1/2, returned as the tail s^3 P(s^2).
#[inline]
fn asin_tail32(s: f32, z: f32) -> f32 {
    s * z * (0.1666666 + z * (0.07500517 + z * (0.044514753 + z * (0.03182449 + z * (0.01437914 + z * 0.037596155)))))
}

/// For 1/2 <= |x| <= 1: s = sqrt((1 - |x|)/2) as sh + sl and z = s^2, so that
/// asin(|x|) = pi/2 - 2 asin(s).
#[inline]
fn half_angle32(a: f32) -> (f32, f32, f32) {
    let z = 0.5 * (1.0 - a); // exact
    let sh = sqrtf(z);
    let (p, pe) = two_prod32(sh, sh);
    // z = 0 (|x| = 1) gives s = 0 exactly.
    let sl = if z == 0.0 { 0.0 } else { ((z - p) - pe) / (2.0 * sh) };
    (sh, sl, z)
}

/// Arcsine, in [-pi/2, pi/2]; NaN outside [-1, 1].
#[inline]
pub fn asinf(x: f32) -> f32 {
    let a = x.abs();
    if a < 1.0 / 4096.0 {
        return x;
    }
    if a <= 0.5 {
        return x + asin_tail32(x, x * x);
    }
    if a > 1.0 || x.is_nan() {
        return f32::NAN;
    }
    let (sh, sl, z) = half_angle32(a);
    // pi/2 - 2 (sh + sl + tail)
    let t = asin_tail32(sh, z) + sl;
    let (s, e) = two_sum32(PIO2_32.0, -2.0 * sh);
    f32::copysign(s + (e + (PIO2_32.1 - 2.0 * t)), x)
}

/// Arccosine, in [0, pi]; NaN outside [-1, 1].
#[inline]
pub fn acosf(x: f32) -> f32 {
    let a = x.abs();
    if a <= 0.5 {
        // pi/2 - asin(x)
        let t = asin_tail32(x, x * x);
        let (s, e) = two_sum32(PIO2_32.0, -x);
        return s + (e + (PIO2_32.1 - t));
    }
    if a > 1.0 || x.is_nan() {
        return f32::NAN;
    }
    let (sh, sl, z) = half_angle32(a);
    let t = asin_tail32(sh, z) + sl;
    if x > 0.0 {
        // 2 asin(s)
        2.0 * sh + 2.0 * t
    } else {
        // pi - 2 asin(s)
        let (s, e) = two_sum32(PI_32.0, -2.0 * sh);
        s + (e + (PI_32.1 - 2.0 * t))
    }
}
