//! Square and cube roots. `sqrtf`, `sqrt` and `cbrtf` are correctly rounded:
//! a floating-point estimate is corrected with exact integer arithmetic on
//! the significands. `cbrt` is within 1 ulp (one Newton step with an exact
//! residual).

use super::two_prod64;

/// Correctly rounded square root. NaN for x < 0, -0 for -0.
#[inline]
pub fn sqrtf(x: f32) -> f32 {
    let b = x.to_bits();
    if b == 0 || b == 0x8000_0000 || b == 0x7f80_0000 {
        return x;
    }
    if b > 0x7f80_0000 {
        // NaN or negative.
        return f32::NAN;
    }
    // x = m * 2^e with m in [2^23, 2^24).
    let (m, e) = if b >= 0x0080_0000 {
        ((b & 0x007f_ffff) | 0x0080_0000, (b >> 23) as i32 - 150)
    } else {
        let lz = b.leading_zeros() - 8;
        (b << lz, -149 - lz as i32)
    };
    // mm = m * 2^j in [2^46, 2^48) with e - j even; sqrt(mm) in [2^23, 2^24).
    let j = if e & 1 == 0 { 24 } else { 23 };
    let mm = (m as u64) << j;
    let f = mm as f32;
    let mut y = f32::from_bits((f.to_bits() >> 1) + 0x1fc0_0000);
    y = 0.5 * (y + f / y);
    y = 0.5 * (y + f / y);
    y = 0.5 * (y + f / y);
    let mut q = y as u64;
    while q * q > mm {
        q -= 1;
    }
    while (q + 1) * (q + 1) <= mm {
        q += 1;
    }
    // Round to nearest: (q + 1/2)^2 = q^2 + q + 1/4 is never equal to mm.
    if mm - q * q > q {
        q += 1;
    }
    let s = (e - j) / 2;
    f32::from_bits((((s + 149) as u32) << 23) + q as u32)
}

/// Correctly rounded square root. NaN for x < 0, -0 for -0.
#[inline]
pub fn sqrt(x: f64) -> f64 {
    let b = x.to_bits();
    if b == 0 || b == 0x8000_0000_0000_0000 || b == 0x7ff0_0000_0000_0000 {
        return x;
    }
    if b > 0x7ff0_0000_0000_0000 {
        return f64::NAN;
    }
    let (m, e) = if b >= 0x0010_0000_0000_0000 {
        ((b & 0x000f_ffff_ffff_ffff) | 0x0010_0000_0000_0000, (b >> 52) as i32 - 1075)
    } else {
        let lz = b.leading_zeros() - 11;
        (b << lz, -1074 - lz as i32)
    };
    // mm = m * 2^j in [2^104, 2^106); sqrt(mm) in [2^52, 2^53).
    let j = if e & 1 == 0 { 52 } else { 53 };
    let mm = (m as u128) << j;
    let f = mm as f64;
    let mut y = f64::from_bits((f.to_bits() >> 1) + 0x1ff8_0000_0000_0000);
    y = 0.5 * (y + f / y);
    y = 0.5 * (y + f / y);
    y = 0.5 * (y + f / y);
    y = 0.5 * (y + f / y);
    let mut q = y as u128;
    while q * q > mm {
        q -= 1;
    }
    while (q + 1) * (q + 1) <= mm {
        q += 1;
    }
    if mm - q * q > q {
        q += 1;
    }
    let s = (e - j) / 2;
    f64::from_bits((((s + 1074) as u64) << 52) + q as u64)
}

/// Correctly rounded cube root; cbrt(-x) = -cbrt(x).
#[inline]
pub fn cbrtf(x: f32) -> f32 {
    let b = x.to_bits();
    let a = b & 0x7fff_ffff;
    let sign = b & 0x8000_0000;
    if a == 0 || a >= 0x7f80_0000 {
        return x + x;
    }
    let (m, e) = if a >= 0x0080_0000 {
        ((a & 0x007f_ffff) | 0x0080_0000, (a >> 23) as i32 - 150)
    } else {
        let lz = a.leading_zeros() - 8;
        (a << lz, -149 - lz as i32)
    };
    // mm = m * 2^j in [2^69, 2^72) with e - j divisible by 3.
    let j = 46 + (e - 46).rem_euclid(3);
    let mm = (m as u128) << j;
    let f = mm as f32;
    let mut y = f32::from_bits(f.to_bits() / 3 + 0x2a55_5555);
    y = (2.0 * y + f / (y * y)) * (1.0 / 3.0);
    y = (2.0 * y + f / (y * y)) * (1.0 / 3.0);
    y = (2.0 * y + f / (y * y)) * (1.0 / 3.0);
    y = (2.0 * y + f / (y * y)) * (1.0 / 3.0);
    let mut q = y as u128;
    while q * q * q > mm {
        q -= 1;
    }
    while (q + 1) * (q + 1) * (q + 1) <= mm {
        q += 1;
    }
    // Round to nearest: compare mm with (q + 1/2)^3 = (2q + 1)^3 / 8.
    let t = 2 * q + 1;
    if 8 * mm > t * t * t {
        q += 1;
    }
    let s = (e - j) / 3;
    f32::from_bits(sign | ((((s + 149) as u32) << 23) + q as u32))
}

/// Cube root within 1 ulp; cbrt(-x) = -cbrt(x).
#[inline]
pub fn cbrt(x: f64) -> f64 {
    let b = x.to_bits();
    let a = b & 0x7fff_ffff_ffff_ffff;
    let sign = b & 0x8000_0000_0000_0000;
    if a == 0 || a >= 0x7ff0_0000_0000_0000 {
        return x + x;
    }
    // |x| = m * 2^(3k) with m in [1, 8).
    let (mb, e) = if a >= 0x0010_0000_0000_0000 {
        (a & 0x000f_ffff_ffff_ffff, (a >> 52) as i32 - 1023)
    } else {
        let lz = a.leading_zeros() - 11;
        ((a << lz) & 0x000f_ffff_ffff_ffff, -1022 - lz as i32)
    };
    let k = e.div_euclid(3);
    let r = e - 3 * k;
    let m = f64::from_bits(mb | (((1023 + r) as u64) << 52));
    // Initial estimate for cbrt(m) in [1, 2), then Newton steps.
    let mut y = f64::from_bits(m.to_bits() / 3 + 0x2aa0_0000_0000_0000);
    y = (2.0 * y + m / (y * y)) * (1.0 / 3.0);
    y = (2.0 * y + m / (y * y)) * (1.0 / 3.0);
    y = (2.0 * y + m / (y * y)) * (1.0 / 3.0);
    y = (2.0 * y + m / (y * y)) * (1.0 / 3.0);
    // Last step with the exact residual m - y^3.
    let (p, pe) = two_prod64(y, y);
    let (t, te) = two_prod64(y, p);
    let te = te + y * pe;
    let res = (m - t) - te;
    let y = y + res / (3.0 * p);
    f64::from_bits(sign | y.to_bits().wrapping_add((k as i64 as u64) << 52))
}
