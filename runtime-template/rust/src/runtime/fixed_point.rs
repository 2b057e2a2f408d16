//! The integer arithmetic of quantized models (NUMERICS.md): 8-bit and
//! 16-bit codes, the two requantization modes of int32 and int64
//! accumulators, the output stage, the rounded average and the integer
//! layer normalization's square root and reciprocal.
//! qcc compiles this same file into its integer oracle
//! (`quant::fixed_point`).

/// A quantized code: int8 or uint8, or int16 (the activations of 16x8).
pub trait Code: Copy {
    /// The lowest and highest value of the type.
    const MIN: i32;
    const MAX: i32;
    /// The accumulator (and bias) type of sums of codes and of products of
    /// codes with int8 weights: i32 for 8-bit codes, i64 for int16.
    type Acc: Acc;
    /// The headroom shift of quantized Add: `|q − z| · 2^ADD_SHIFT` stays
    /// below 2^30 (20 for 8-bit codes, 15 for int16).
    const ADD_SHIFT: u32;
    fn to_i32(self) -> i32;
    /// `v` must already lie in `MIN..=MAX`.
    fn from_i32(v: i32) -> Self;
}

impl Code for i8 {
    const MIN: i32 = -128;
    const MAX: i32 = 127;
    type Acc = i32;
    const ADD_SHIFT: u32 = 20;
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
    type Acc = i32;
    const ADD_SHIFT: u32 = 20;
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[inline(always)]
    fn from_i32(v: i32) -> u8 {
        v as u8
    }
}

impl Code for i16 {
    const MIN: i32 = -32768;
    const MAX: i32 = 32767;
    type Acc = i64;
    const ADD_SHIFT: u32 = 15;
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[inline(always)]
    fn from_i32(v: i32) -> i16 {
        v as i16
    }
}

/// An accumulator of integer kernels: i32 or i64. Sums and products wrap
/// like the generated C's unsigned arithmetic; the compiler has proven
/// that they never actually do (NUMERICS.md).
pub trait Acc: Copy {
    const ZERO: Self;
    fn of(v: i32) -> Self;
    fn add(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    /// The output stage of the accumulator scaled by `m · 2^(e − 31)`:
    /// `clamp(requantize(self) + zero, lo, hi)`.
    fn stage(self, m: i32, e: i32, single: bool, zero: i32, lo: i32, hi: i32) -> i32;
    /// `self / count` rounded half away from zero (0 when `count` is 0).
    fn average(self, count: i32) -> i32;
    /// `self / 2^n` rounded half away from zero, as a code (in range by
    /// construction).
    fn div_pow2(self, n: u32) -> i32;
}

impl Acc for i32 {
    const ZERO: i32 = 0;
    #[inline(always)]
    fn of(v: i32) -> i32 {
        v
    }
    #[inline(always)]
    fn add(self, o: i32) -> i32 {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn mul(self, o: i32) -> i32 {
        self.wrapping_mul(o)
    }
    #[inline(always)]
    fn stage(self, m: i32, e: i32, single: bool, zero: i32, lo: i32, hi: i32) -> i32 {
        output_stage(requantize(self, m, e, single), zero, lo, hi)
    }
    #[inline(always)]
    fn average(self, count: i32) -> i32 {
        rounded_average(self, count)
    }
    #[inline(always)]
    fn div_pow2(self, n: u32) -> i32 {
        round_div_pow2(self, n)
    }
}

impl Acc for i64 {
    const ZERO: i64 = 0;
    #[inline(always)]
    fn of(v: i32) -> i64 {
        v as i64
    }
    #[inline(always)]
    fn add(self, o: i64) -> i64 {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn mul(self, o: i64) -> i64 {
        self.wrapping_mul(o)
    }
    #[inline(always)]
    fn stage(self, m: i32, e: i32, single: bool, zero: i32, lo: i32, hi: i32) -> i32 {
        output_stage_i64(requantize_i64(self, m, e, single), zero, lo, hi)
    }
    #[inline(always)]
    fn average(self, count: i32) -> i32 {
        rounded_average_i64(self, count as i64) as i32
    }
    #[inline(always)]
    fn div_pow2(self, n: u32) -> i32 {
        round_div_pow2_i64(self, n) as i32
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

/// `round(a · m / 2^31)`, ties toward +∞, for an int64 `a` with `|a| <
/// 2^62` and a multiplier `m` in [0, 2^31), exactly: with `a = hi · 2^31 +
/// lo` (`lo` in [0, 2^31)), `a · m / 2^31 = hi · m + lo · m / 2^31`, and
/// both products fit in int64. Equal to [`high_mul`] on int32 operands.
#[inline(always)]
pub fn high_mul_i64(a: i64, m: i32) -> i64 {
    let (hi, lo, m) = (a >> 31, a & 0x7fff_ffff, m as i64);
    hi.wrapping_mul(m).wrapping_add((lo * m + (1i64 << 30)) >> 31)
}

/// `round(x / 2^n)` of an int64, ties away from zero, for `n` in 0..=62.
#[inline(always)]
pub fn round_div_pow2_i64(x: i64, n: u32) -> i64 {
    let mask = (1i64 << n) - 1;
    let rem = x & mask;
    let limit = (mask >> 1) + (x < 0) as i64;
    (x >> n) + (rem > limit) as i64
}

/// An int64 accumulator scaled by `m · 2^(e − 31)` (16x8): the two modes
/// of [`requantize`], computed exactly in 64-bit arithmetic for `|acc| ·
/// 2^max(e, 0) < 2^62` (the compiler's bound), and equal to it whenever
/// `acc · 2^max(e, 0)` fits in int32. `single`: `round(acc · m / 2^(31 −
/// e))`, ties toward +∞, with `acc · m` formed as `hi · m · 2^31 + lo · m`
/// as in [`high_mul_i64`].
#[inline(always)]
pub fn requantize_i64(acc: i64, m: i32, e: i32, single: bool) -> i64 {
    if single {
        let shift = (31 - e) as u32;
        let (hi, lo, m) = (acc >> 31, acc & 0x7fff_ffff, m as i64);
        // acc · m + 2^(shift − 1) = h · 2^31 + rem, rem in [0, 2^31).
        let low = lo * m + (1i64 << (shift - 1));
        let (h, rem) = (hi.wrapping_mul(m).wrapping_add(low >> 31), low & 0x7fff_ffff);
        if shift >= 31 {
            h >> (shift - 31)
        } else {
            (h << (31 - shift)).wrapping_add(rem >> shift)
        }
    } else {
        let left = if e > 0 { e as u32 } else { 0 };
        let right = if e < 0 { (-e) as u32 } else { 0 };
        round_div_pow2_i64(high_mul_i64(acc.wrapping_shl(left), m), right)
    }
}

/// The output stage of an int64 value: `clamp(y + zero, lo, hi)` (`|y| <
/// 2^62`, so the sum does not wrap).
#[inline(always)]
pub fn output_stage_i64(y: i64, zero: i32, lo: i32, hi: i32) -> i32 {
    let v = y.wrapping_add(zero as i64);
    if v < lo as i64 {
        lo
    } else if v > hi as i64 {
        hi
    } else {
        v as i32
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

/// [`rounded_average`] of an int64 sum.
#[inline(always)]
pub fn rounded_average_i64(sum: i64, count: i64) -> i64 {
    if count == 0 {
        0
    } else if sum >= 0 {
        sum.wrapping_add(count / 2) / count
    } else {
        sum.wrapping_sub(count / 2) / count
    }
}

/// `round(x / 2^n)` of an int64, ties toward +∞ (an arithmetic shift),
/// for `n` in 1..=62; `x + 2^(n − 1)` must not overflow.
#[inline(always)]
pub fn round_shift_i64(x: i64, n: u32) -> i64 {
    (x + (1i64 << (n - 1))) >> n
}

/// Codes per segment of an interpolated (int16) table: 513 entries cover
/// the 65536 codes in 512 segments.
pub const LUT_SEGMENT_BITS: u32 = 7;

/// A unary operator on one code through its table: for 8-bit codes the
/// 256-entry table at `q − T::MIN`; for int16 the 513-entry table at `u = q
/// + 32768` interpolated linearly between entries `u >> 7` and `(u >> 7) +
/// 1`, the step rounded half up: `t0 + (((t1 − t0) · (u & 127) + 64) >> 7)`,
/// which lies between `t0` and `t1`.
#[inline(always)]
pub fn lut_at<T: Code>(table: &[T], q: T) -> T {
    let u = (q.to_i32() - T::MIN) as usize;
    if T::MAX - T::MIN < 256 {
        return table[u];
    }
    let (i, f) = (u >> LUT_SEGMENT_BITS, (u & ((1 << LUT_SEGMENT_BITS) - 1)) as i32);
    let (t0, t1) = (table[i].to_i32(), table[i + 1].to_i32());
    T::from_i32(t0 + (((t1 - t0) * f + (1 << (LUT_SEGMENT_BITS - 1))) >> LUT_SEGMENT_BITS))
}

/// `exp(−s_x · d)` in Q0.30 from the softmax table: `table[d]` for a
/// 256-entry table (8-bit codes); for int16 codes (`d` up to 65535) the
/// product of the low-byte table `table[..256]` and the high-byte table
/// `table[256..]`: `(table[256 + (d >> 8)] · table[d & 255] + 2^29) >> 30`.
#[inline(always)]
pub fn softmax_exp(table: &[i32], d: usize) -> i64 {
    if table.len() == 256 {
        table[d] as i64
    } else {
        (table[256 + (d >> 8)] as i64 * table[d & 255] as i64 + (1 << 29)) >> 30
    }
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
