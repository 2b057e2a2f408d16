//! sin, cos, tan for f32 and f64.
//!
//! Arguments with |x| > pi/4 are reduced to x = q pi/2 + r, |r| <= pi/4,
//! by exact integer arithmetic (Payne–Hanek) with 1280 bits of 2/pi: the
//! reduced argument is correct to 2^-67 relative for every finite f64 and
//! f32, so there is no accuracy limit for large arguments. r is returned as
//! a hi + lo pair and fed to minimax polynomials (fitted for this file) on
//! [-pi/4, pi/4]; tan is sin/cos with a compensated division. The f32
//! functions use f32 arithmetic and integer (u64/u128) arithmetic.

use super::{fast_two_sum32, fast_two_sum64, ldexp32, pow2_64, two_prod32, two_prod64};

/// Bits of 2/pi after the binary point, most significant first.
const TWO_OVER_PI: [u64; 20] = [
    0xa2f9836e4e441529,
    0xfc2757d1f534ddc0,
    0xdb6295993c439041,
    0xfe5163abdebbc561,
    0xb7246e3a424dd2e0,
    0x06492eea09d1921c,
    0xfe1deb1cb129a73e,
    0xe88235f52ebb4484,
    0xe99c7026b45f7e41,
    0x3991d639835339f4,
    0x9c845f8bbdf9283b,
    0x1ff897ffde05980f,
    0xef2f118b5a0a6d1f,
    0x6d367ecf27cb09b7,
    0x4f463f669e5fea2d,
    0x7527bac7ebe5f17b,
    0x3d0739f78a5292ea,
    0x6bfb5fb11f8d5d08,
    0x56033046fc7b6bab,
    0xf0cfbc209af4361d
];

/// floor(pi/2 * 2^126).
const PIO2_FIXED: u128 = 0x6487_ed51_10b4_611a_6263_3145_c06e_0e68;

#[inline]
fn word(i: usize) -> u64 {
    match TWO_OVER_PI.get(i) {
        Some(&w) => w,
        None => 0,
    }
}

/// 64 bits of 2/pi starting at bit `i` (bit 1 is the first after the point).
#[inline]
fn window(i: usize) -> u64 {
    let w = (i - 1) / 64;
    let o = (i - 1) % 64;
    let pair = ((word(w) as u128) << 64) | word(w + 1) as u128;
    (pair >> (64 - o)) as u64
}

/// High 128 bits of the 256-bit product a * b.
#[inline]
fn mul_hi128(a: u128, b: u128) -> u128 {
    let (a1, a0) = (a >> 64, a & 0xffff_ffff_ffff_ffff);
    let (b1, b0) = (b >> 64, b & 0xffff_ffff_ffff_ffff);
    let mid = ((a1 * b0) & 0xffff_ffff_ffff_ffff) + ((a0 * b1) & 0xffff_ffff_ffff_ffff) + ((a0 * b0) >> 64);
    a1 * b1 + ((a1 * b0) >> 64) + ((a0 * b1) >> 64) + (mid >> 64)
}

/// For x = m * 2^e > 0 (m < 2^53, e >= -53): the quadrant q (mod 4), whether
/// r is negative, and |r| * 2^126 as an integer, where x = q pi/2 + r,
/// |r| <= pi/4. The integer is exact to within 2 units.
fn reduce_fixed(m: u64, e: i32) -> (u32, bool, u128) {
    // y = x * 2/pi = m * sum b_i 2^(e - i); bits with i <= e - 2 only add
    // multiples of 4, so start at i0 = max(1, e - 1) and take 192 bits.
    let i0 = if e - 1 > 1 { (e - 1) as usize } else { 1 };
    let (w2, w1, w0) = (window(i0), window(i0 + 64), window(i0 + 128));
    let m = m as u128;
    let (a, b, c) = (m * w0 as u128, m * w1 as u128, m * w2 as u128);
    // P = a + b 2^64 + c 2^128 as (hi, lo).
    let (lo, carry) = a.overflowing_add(b << 64);
    let hi = c + (b >> 64) + carry as u128;
    // y = P / 2^s.
    let s = (i0 as i32 + 191 - e) as u32; // 190..=245
    let t = s - 128;
    let mut q = ((hi >> t) & 3) as u32;
    let mut frac = (lo >> t) | (hi << (128 - t));
    let neg = frac >> 127 == 1;
    if neg {
        q = (q + 1) & 3;
        frac = frac.wrapping_neg();
    }
    (q, neg, mul_hi128(frac, PIO2_FIXED))
}

/// x = q pi/2 + (rh + rl) for finite |x| > pi/4.
pub(crate) fn rem_pio2(x: f64) -> (u32, f64, f64) {
    let b = x.to_bits() & 0x7fff_ffff_ffff_ffff;
    let m = (b & 0x000f_ffff_ffff_ffff) | 0x0010_0000_0000_0000;
    let e = (b >> 52) as i32 - 1075;
    let (q, neg, r) = reduce_fixed(m, e);
    let lz = r.leading_zeros() as i32;
    let n = r << lz;
    let top = (n >> 75) as u64;
    let rest = ((n << 53) >> 64) as u64;
    let rh = top as f64 * pow2_64(-51 - lz);
    let rl = rest as f64 * pow2_64(-115 - lz);
    let (rh, rl) = if neg { (-rh, -rl) } else { (rh, rl) };
    let q = if x < 0.0 { (4 - q) & 3 } else { q };
    if x < 0.0 {
        (q, -rh, -rl)
    } else {
        (q, rh, rl)
    }
}

/// x = q pi/2 + (rh + rl) for finite |x| > pi/4.
pub(crate) fn rem_pio2f(x: f32) -> (u32, f32, f32) {
    let b = x.to_bits() & 0x7fff_ffff;
    let m = ((b & 0x007f_ffff) | 0x0080_0000) as u64;
    let e = (b >> 23) as i32 - 150;
    let (q, neg, r) = reduce_fixed(m, e);
    let lz = r.leading_zeros() as i32;
    let n = r << lz;
    let top = (n >> 104) as u32;
    let rest = ((n << 24) >> 96) as u32;
    let rh = ldexp32(top as f32, -22 - lz);
    let rl = ldexp32(rest as f32, -54 - lz);
    let (rh, rl) = if neg { (-rh, -rl) } else { (rh, rl) };
    let q = if x < 0.0 { (4 - q) & 3 } else { q };
    if x < 0.0 {
        (q, -rh, -rl)
    } else {
        (q, rh, rl)
    }
}

/// sin(rh + rl) = hi + lo for |rh| <= pi/4, |rl| <= 2^-52 |rh|.
#[inline]
fn sin_k64(rh: f64, rl: f64) -> (f64, f64) {
    let z = rh * rh;
    let s = -0.1666666666666663
        + z * (0.008333333333321924
            + z * (-0.0001984126982946497 + z * (2.7557313585030056e-06 + z * (-2.5050742814224338e-08 + z * 1.589597502982743e-10))));
    (rh, rh * z * s + rl * (1.0 - 0.5 * z))
}

/// cos(rh + rl) = hi + lo for |rh| <= pi/4, |rl| <= 2^-52 |rh|.
#[inline]
fn cos_k64(rh: f64, rl: f64) -> (f64, f64) {
    let (z, ze) = two_prod64(rh, rh);
    let c = 0.041666666666666595
        + z * (-0.0013888888888873348
            + z * (2.4801587289008097e-05 + z * (-2.7557314219059267e-07 + z * (2.0875705689505815e-09 + z * -1.1358764866516342e-11))));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    (w, (((1.0 - w) - hz) - 0.5 * ze) + (z * z * c - rh * rl))
}

#[inline]
fn sin_k32(rh: f32, rl: f32) -> (f32, f32) {
    let z = rh * rh;
    let s = -0.16666667 + z * (0.008333372 + z * (-0.00019849911 + z * 2.800547e-06));
    (rh, rh * z * s + rl * (1.0 - 0.5 * z))
}

#[inline]
fn cos_k32(rh: f32, rl: f32) -> (f32, f32) {
    let (z, ze) = two_prod32(rh, rh);
    let c = 0.041666646 + z * (-0.0013887311 + z * 2.4432567e-05);
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    (w, (((1.0 - w) - hz) - 0.5 * ze) + (z * z * c - rh * rl))
}

/// (nh + nl) / (dh + dl) (|nl| < |nh|, |dl| < |dh|) with one final rounding of a compensated quotient.
#[inline]
fn div64(nh: f64, nl: f64, dh: f64, dl: f64) -> f64 {
    let (nh, nl) = fast_two_sum64(nh, nl);
    let (dh, dl) = fast_two_sum64(dh, dl);
    let q = nh / dh;
    let (p, pe) = two_prod64(q, dh);
    q + (((nh - p) - pe) + nl - q * dl) / dh
}

#[inline]
fn div32(nh: f32, nl: f32, dh: f32, dl: f32) -> f32 {
    let (nh, nl) = fast_two_sum32(nh, nl);
    let (dh, dl) = fast_two_sum32(dh, dl);
    let q = nh / dh;
    let (p, pe) = two_prod32(q, dh);
    q + (((nh - p) - pe) + nl - q * dl) / dh
}

/// The quadrant and reduced argument of finite x (q = 0, r = x for |x| <= pi/4).
#[inline]
fn reduce64(x: f64) -> (u32, f64, f64) {
    if x.abs() <= core::f64::consts::FRAC_PI_4 {
        (0, x, 0.0)
    } else {
        rem_pio2(x)
    }
}

#[inline]
fn reduce32(x: f32) -> (u32, f32, f32) {
    if x.abs() <= core::f32::consts::FRAC_PI_4 {
        (0, x, 0.0)
    } else {
        rem_pio2f(x)
    }
}

/// Sine (argument in radians).
#[inline]
pub fn sin(x: f64) -> f64 {
    if x.abs() < 1.4901161193847656e-8 {
        return x; // 2^-26: also keeps the sign of zero
    }
    if !x.is_finite() {
        return f64::NAN;
    }
    let (q, rh, rl) = reduce64(x);
    let (h, l) = if q & 1 == 0 { sin_k64(rh, rl) } else { cos_k64(rh, rl) };
    let v = h + l;
    if q & 2 == 0 { v } else { -v }
}

/// Cosine (argument in radians).
#[inline]
pub fn cos(x: f64) -> f64 {
    if x.abs() < 7.450580596923828e-9 {
        return 1.0; // 2^-27
    }
    if !x.is_finite() {
        return f64::NAN;
    }
    let (q, rh, rl) = reduce64(x);
    let (h, l) = if q & 1 == 0 { cos_k64(rh, rl) } else { sin_k64(rh, rl) };
    let v = h + l;
    if (q + 1) & 2 == 0 { v } else { -v }
}

/// Tangent (argument in radians).
#[inline]
pub fn tan(x: f64) -> f64 {
    if x.abs() < 1.4901161193847656e-8 {
        return x;
    }
    if !x.is_finite() {
        return f64::NAN;
    }
    let (q, rh, rl) = reduce64(x);
    let (sh, sl) = sin_k64(rh, rl);
    let (ch, cl) = cos_k64(rh, rl);
    if q & 1 == 0 {
        div64(sh, sl, ch, cl)
    } else {
        -div64(ch, cl, sh, sl)
    }
}

/// Sine (argument in radians).
#[inline]
pub fn sinf(x: f32) -> f32 {
    if x.abs() < 1.0 / 4096.0 {
        return x; // 2^-12
    }
    if !x.is_finite() {
        return f32::NAN;
    }
    let (q, rh, rl) = reduce32(x);
    let (h, l) = if q & 1 == 0 { sin_k32(rh, rl) } else { cos_k32(rh, rl) };
    let v = h + l;
    if q & 2 == 0 { v } else { -v }
}

/// Cosine (argument in radians).
#[inline]
pub fn cosf(x: f32) -> f32 {
    if x.abs() < 1.0 / 8192.0 {
        return 1.0; // 2^-13
    }
    if !x.is_finite() {
        return f32::NAN;
    }
    let (q, rh, rl) = reduce32(x);
    let (h, l) = if q & 1 == 0 { cos_k32(rh, rl) } else { sin_k32(rh, rl) };
    let v = h + l;
    if (q + 1) & 2 == 0 { v } else { -v }
}

/// Tangent (argument in radians).
#[inline]
pub fn tanf(x: f32) -> f32 {
    if x.abs() < 1.0 / 4096.0 {
        return x;
    }
    if !x.is_finite() {
        return f32::NAN;
    }
    let (q, rh, rl) = reduce32(x);
    let (sh, sl) = sin_k32(rh, rl);
    let (ch, cl) = cos_k32(rh, rl);
    if q & 1 == 0 {
        div32(sh, sl, ch, cl)
    } else {
        -div32(ch, cl, sh, sl)
    }
}
