//! Rounding to integers and the exact remainder `fmod`, by bit manipulation.
//! All results are exact; NaN in gives NaN out, infinities and signed zeros
//! pass through (the sign of a zero result is the sign of the argument).

const SIGN32: u32 = 0x8000_0000;
const SIGN64: u64 = 0x8000_0000_0000_0000;

/// Unbiased exponent of an f32 bit pattern (-127 for zeros and subnormals).
#[inline]
const fn exp32(b: u32) -> i32 {
    ((b >> 23) & 0xff) as i32 - 127
}

/// Unbiased exponent of an f64 bit pattern (-1023 for zeros and subnormals).
#[inline]
const fn exp64(b: u64) -> i32 {
    ((b >> 52) & 0x7ff) as i32 - 1023
}

/// Rounds toward zero.
#[inline]
pub const fn truncf(x: f32) -> f32 {
    let b = x.to_bits();
    let e = exp32(b);
    if e >= 23 {
        return x;
    }
    if e < 0 {
        return f32::from_bits(b & SIGN32);
    }
    f32::from_bits(b & !(0x007f_ffff >> e))
}

/// Rounds toward zero.
#[inline]
pub const fn trunc(x: f64) -> f64 {
    let b = x.to_bits();
    let e = exp64(b);
    if e >= 52 {
        return x;
    }
    if e < 0 {
        return f64::from_bits(b & SIGN64);
    }
    f64::from_bits(b & !(0x000f_ffff_ffff_ffff >> e))
}

/// Rounds toward negative infinity.
#[inline]
pub const fn floorf(x: f32) -> f32 {
    let b = x.to_bits();
    let e = exp32(b);
    if e >= 23 {
        return x;
    }
    if e < 0 {
        // |x| < 1: +0 for [+0, 1), -0 stays, -1 for (-1, -0).
        if b & SIGN32 == 0 || b == SIGN32 {
            return f32::from_bits(b & SIGN32);
        }
        return -1.0;
    }
    let m = 0x007f_ffff >> e;
    if b & m == 0 {
        return x;
    }
    let b = if b & SIGN32 != 0 { b + m } else { b };
    f32::from_bits(b & !m)
}

/// Rounds toward negative infinity.
#[inline]
pub const fn floor(x: f64) -> f64 {
    let b = x.to_bits();
    let e = exp64(b);
    if e >= 52 {
        return x;
    }
    if e < 0 {
        if b & SIGN64 == 0 || b == SIGN64 {
            return f64::from_bits(b & SIGN64);
        }
        return -1.0;
    }
    let m = 0x000f_ffff_ffff_ffff >> e;
    if b & m == 0 {
        return x;
    }
    let b = if b & SIGN64 != 0 { b + m } else { b };
    f64::from_bits(b & !m)
}

/// Rounds toward positive infinity.
#[inline]
pub const fn ceilf(x: f32) -> f32 {
    let b = x.to_bits();
    let e = exp32(b);
    if e >= 23 {
        return x;
    }
    if e < 0 {
        // |x| < 1: -0 for (-1, -0], +0 stays, 1 for (+0, 1).
        if b & SIGN32 != 0 || b == 0 {
            return f32::from_bits(b & SIGN32);
        }
        return 1.0;
    }
    let m = 0x007f_ffff >> e;
    if b & m == 0 {
        return x;
    }
    let b = if b & SIGN32 == 0 { b + m } else { b };
    f32::from_bits(b & !m)
}

/// Rounds toward positive infinity.
#[inline]
pub const fn ceil(x: f64) -> f64 {
    let b = x.to_bits();
    let e = exp64(b);
    if e >= 52 {
        return x;
    }
    if e < 0 {
        if b & SIGN64 != 0 || b == 0 {
            return f64::from_bits(b & SIGN64);
        }
        return 1.0;
    }
    let m = 0x000f_ffff_ffff_ffff >> e;
    if b & m == 0 {
        return x;
    }
    let b = if b & SIGN64 == 0 { b + m } else { b };
    f64::from_bits(b & !m)
}

/// Rounds to the nearest integer, halfway cases away from zero (C `roundf`).
#[inline]
pub const fn roundf(x: f32) -> f32 {
    let b = x.to_bits();
    let e = exp32(b);
    if e >= 23 {
        return x;
    }
    if e < 0 {
        let s = b & SIGN32;
        return if e == -1 { f32::from_bits(s | 0x3f80_0000) } else { f32::from_bits(s) };
    }
    let m = 0x007f_ffff >> e;
    let b = b + (0x0040_0000 >> e);
    f32::from_bits(b & !m)
}

/// Rounds to the nearest integer, halfway cases away from zero (C `round`).
#[inline]
pub const fn round(x: f64) -> f64 {
    let b = x.to_bits();
    let e = exp64(b);
    if e >= 52 {
        return x;
    }
    if e < 0 {
        let s = b & SIGN64;
        return if e == -1 { f64::from_bits(s | 0x3ff0_0000_0000_0000) } else { f64::from_bits(s) };
    }
    let m = 0x000f_ffff_ffff_ffff >> e;
    let b = b + (0x0008_0000_0000_0000 >> e);
    f64::from_bits(b & !m)
}

/// Rounds to the nearest integer, halfway cases to even (C23 `roundevenf`,
/// Rust's `round_ties_even`).
#[inline]
pub const fn roundevenf(x: f32) -> f32 {
    let b = x.to_bits();
    let e = exp32(b);
    if e >= 23 {
        return x;
    }
    if e < -1 {
        return f32::from_bits(b & SIGN32);
    }
    // e in -1..=22: the bit of weight 1 is bit 23-e of the significand
    // (bit 23 is the implicit one, present because x is normal).
    let sig = (b & 0x007f_ffff) | 0x0080_0000;
    let shift = (23 - e) as u32;
    let frac = sig & ((1u32 << shift) - 1);
    let half = 1u32 << (shift - 1);
    let int = sig >> shift;
    let up = frac > half || (frac == half && int & 1 == 1);
    let int = if up { int + 1 } else { int };
    let r = int as f32;
    if b & SIGN32 != 0 { -r } else { r }
}

/// Rounds to the nearest integer, halfway cases to even (C23 `roundeven`,
/// Rust's `round_ties_even`).
#[inline]
pub const fn roundeven(x: f64) -> f64 {
    let b = x.to_bits();
    let e = exp64(b);
    if e >= 52 {
        return x;
    }
    if e < -1 {
        return f64::from_bits(b & SIGN64);
    }
    let sig = (b & 0x000f_ffff_ffff_ffff) | 0x0010_0000_0000_0000;
    let shift = (52 - e) as u32;
    let frac = sig & ((1u64 << shift) - 1);
    let half = 1u64 << (shift - 1);
    let int = sig >> shift;
    let up = frac > half || (frac == half && int & 1 == 1);
    let int = if up { int + 1 } else { int };
    let r = int as f64;
    if b & SIGN64 != 0 { -r } else { r }
}

/// Significand (as an integer) and exponent of its last bit, for finite
/// nonzero magnitude bits `a` of an f32: value = m * 2^e, m < 2^24.
#[inline]
const fn parts32(a: u32) -> (u32, i32) {
    let ex = (a >> 23) as i32;
    if ex == 0 {
        (a, -149)
    } else {
        ((a & 0x007f_ffff) | 0x0080_0000, ex - 150)
    }
}

#[inline]
const fn parts64(a: u64) -> (u64, i32) {
    let ex = (a >> 52) as i32;
    if ex == 0 {
        (a, -1074)
    } else {
        ((a & 0x000f_ffff_ffff_ffff) | 0x0010_0000_0000_0000, ex - 1075)
    }
}

/// Magnitude bits of m * 2^e for m < 2^24, e >= -149, when that value is an
/// f32 (no rounding happens).
#[inline]
const fn join32(m: u32, e: i32) -> u32 {
    if m == 0 {
        return 0;
    }
    // Normalise so that bit 23 is set, unless that would go below 2^-149.
    let lz = m.leading_zeros() as i32 - 8;
    let room = e + 149;
    let s = if lz < room { lz } else { room };
    let m = m << s;
    let e = e - s;
    if m >= 0x0080_0000 {
        (((e + 149) as u32) << 23) + m
    } else {
        m
    }
}

#[inline]
const fn join64(m: u64, e: i32) -> u64 {
    if m == 0 {
        return 0;
    }
    let lz = m.leading_zeros() as i32 - 11;
    let room = e + 1074;
    let s = if lz < room { lz } else { room };
    let m = m << s;
    let e = e - s;
    if m >= 0x0010_0000_0000_0000 {
        (((e + 1074) as u64) << 52) + m
    } else {
        m
    }
}

/// C `fmodf`: x - n*y with n = trunc(x/y), computed exactly. The result has
/// the sign of x. NaN if x is infinite, y is zero or either is NaN; x if y is
/// infinite and x finite.
pub const fn fmodf(x: f32, y: f32) -> f32 {
    let bx = x.to_bits();
    let by = y.to_bits();
    let sx = bx & SIGN32;
    let ax = bx & !SIGN32;
    let ay = by & !SIGN32;
    if ax >= 0x7f80_0000 || ay > 0x7f80_0000 || ay == 0 {
        return f32::NAN;
    }
    if ax < ay {
        return x;
    }
    let (mut mx, ex) = parts32(ax);
    let (my, ey) = parts32(ay);
    // |x| >= |y| implies ex >= ey; reduce mx * 2^(ex-ey) modulo my.
    let mut d = ex - ey;
    let my = my as u64;
    while d > 0 {
        let s = if d > 40 { 40 } else { d };
        mx = (((mx as u64) << s) % my) as u32;
        d -= s;
    }
    mx = ((mx as u64) % my) as u32;
    f32::from_bits(sx | join32(mx, ey))
}

/// C `fmod`: x - n*y with n = trunc(x/y), computed exactly. The result has
/// the sign of x. NaN if x is infinite, y is zero or either is NaN; x if y is
/// infinite and x finite.
pub const fn fmod(x: f64, y: f64) -> f64 {
    let bx = x.to_bits();
    let by = y.to_bits();
    let sx = bx & SIGN64;
    let ax = bx & !SIGN64;
    let ay = by & !SIGN64;
    if ax >= 0x7ff0_0000_0000_0000 || ay > 0x7ff0_0000_0000_0000 || ay == 0 {
        return f64::NAN;
    }
    if ax < ay {
        return x;
    }
    let (mut mx, ex) = parts64(ax);
    let (my, ey) = parts64(ay);
    let mut d = ex - ey;
    while d > 0 {
        let s = if d > 11 { 11 } else { d };
        mx = (mx << s) % my;
        d -= s;
    }
    mx %= my;
    f64::from_bits(sx | join64(mx, ey))
}
