//! The integer arithmetic of quantized models (NUMERICS.md): 8-bit codes,
//! the two requantization modes, the output stage, the rounded average and
//! the integer layer normalization's square root and reciprocal.
//! qcc compiles this same file into its integer oracle
//! (`quant::fixed_point`).

/// An 8-bit quantized code: int8 or uint8.
pub trait Code: Copy {
    const MIN: i32;
    const MAX: i32;
    fn to_i32(self) -> i32;
    /// `v` must already lie in `MIN..=MAX`.
    fn from_i32(v: i32) -> Self;
}

impl Code for i8 {
    const MIN: i32 = -128;
    const MAX: i32 = 127;
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[inline(always)]
    fn from_i32(v: i32) -> i8 {
        v as i8
    }
}

impl Code for u8 {
    const MIN: i32 = 0;
    const MAX: i32 = 255;
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[inline(always)]
    fn from_i32(v: i32) -> u8 {
        v as u8
    }
}

/// `round(a · b / 2^31)`, ties toward +∞, saturating the one overflow.
#[inline(always)]
pub fn high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let p = a as i64 * b as i64;
    let nudge = if p >= 0 { 1i64 << 30 } else { 1 - (1i64 << 30) };
    ((p + nudge) / (1i64 << 31)) as i32
}

/// `round(x / 2^n)`, ties away from zero.
#[inline(always)]
pub fn round_div_pow2(x: i32, n: u32) -> i32 {
    let mask = ((1i64 << n) - 1) as i32;
    let rem = x & mask;
    let limit = (mask >> 1) + (x < 0) as i32;
    (x >> n) + (rem > limit) as i32
}

/// `acc` scaled by the multiplier `m · 2^(e − 31)`: rounding high multiply
/// then rounding shift (`single == false`), or one 64-bit product and one
/// shift rounding ties toward +∞ (`single == true`).
#[inline(always)]
pub fn requantize(acc: i32, m: i32, e: i32, single: bool) -> i32 {
    if single {
        let shift = (31 - e) as u32;
        ((acc as i64 * m as i64 + (1i64 << (shift - 1))) >> shift) as i32
    } else {
        let left = if e > 0 { e as u32 } else { 0 };
        let right = if e < 0 { (-e) as u32 } else { 0 };
        round_div_pow2(high_mul(acc.wrapping_shl(left), m), right)
    }
}

/// The output stage: `clamp(y + zero, lo, hi)`.
#[inline(always)]
pub fn output_stage(y: i32, zero: i32, lo: i32, hi: i32) -> i32 {
    let v = y as i64 + zero as i64;
    if v < lo as i64 {
        lo
    } else if v > hi as i64 {
        hi
    } else {
        v as i32
    }
}

/// The output stage as a code (`lo..=hi` within the code's range).
#[inline(always)]
pub fn output<T: Code>(y: i32, zero: i32, lo: i32, hi: i32) -> T {
    T::from_i32(output_stage(y, zero, lo, hi))
}

/// `sum / count` rounded half away from zero (0 when `count` is 0): the
/// integer average pool.
#[inline(always)]
pub fn rounded_average(sum: i32, count: i32) -> i32 {
    if count == 0 {
        0
    } else if sum >= 0 {
        (sum + count / 2) / count
    } else {
        (sum - count / 2) / count
    }
}

/// `round(x / 2^n)` of an int64, ties toward +∞ (an arithmetic shift),
/// for `n` in 1..=62; `x + 2^(n − 1)` must not overflow.
#[inline(always)]
pub fn round_shift_i64(x: i64, n: u32) -> i64 {
    (x + (1i64 << (n - 1))) >> n
}

/// `floor(sqrt(x))`, exact: the bit-by-bit square root, two bits of `x`
/// per step.
pub fn isqrt(x: u64) -> u64 {
    let (mut rest, mut root, mut bit) = (x, 0u64, 1u64 << 62);
    while bit > rest {
        bit >>= 2;
    }
    while bit != 0 {
        if rest >= root + bit {
            rest -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}

/// The per-row factor of the integer layer normalization (NUMERICS.md,
/// "LayerNormalization"): `(inv, k)` such that `round_shift_i64(d · inv, k)`
/// is `d / sqrt(v + eps / 4^j)` in Q`frac` (`frac` fraction bits).
///
/// `v = N · Σq² − (Σq)²` of the row's `N` codes (≥ 0), `eps` the epsilon
/// term already scaled by `4^j`. The compiler has proven `v · 4^j + eps <
/// 2^62`, `j ≤ 30` and `frac ≤ 31`. `D = max(v · 4^j + eps, 4^j)` (the floor
/// only matters for a constant row, where every `d` is 0) is scaled by
/// `4^h` into [2^60, 2^62); `r = isqrt(D · 4^h)` lies in [2^30, 2^31), `inv
/// = floor(2^62 / r)` in (2^31, 2^32], and `k = 62 − frac − j − h ≥ 32 −
/// frac` (as `4^(j + h) < 2^62`).
pub fn layer_norm_factor(v: i64, eps: i64, j: u32, frac: u32) -> (i64, u32) {
    let least = 1u64 << (2 * j);
    let d = ((v as u64) << (2 * j)) + eps as u64;
    let mut x = if d < least { least } else { d };
    let mut h = 0u32;
    while x < 1u64 << 60 {
        x <<= 2;
        h += 1;
    }
    (((1u64 << 62) / isqrt(x)) as i64, 62 - frac - j - h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_modes_and_output_stage() {
        // 0.5 as m = 2^30, e = 0.
        assert_eq!(requantize(3, 1 << 30, 0, false), 2);
        assert_eq!(requantize(-3, 1 << 30, 0, false), -1);
        assert_eq!(requantize(-3, 1 << 30, 0, true), -1);
        assert_eq!(round_div_pow2(-5, 1), -3);
        assert_eq!(high_mul(i32::MIN, i32::MIN), i32::MAX);
        assert_eq!(output::<i8>(200, 0, -128, 127), 127);
        assert_eq!(output::<u8>(-7, 3, 0, 255), 0);
    }
}
