//! The fixed-point requantization of NUMERICS.md, as the compiler and the
//! integer oracle compute it: a real multiplier split into a Q0.31 integer
//! and an exponent at compile time, and the two run-time rounding modes.
//! The run-time half is the Rust runtime's `fixed_point.rs` itself; the C
//! runtime's `fixed_point.h` is compared with it bit for bit by the tests.

/// A positive real multiplier `M ≈ m · 2^(exponent − 31)`, `m` in
/// [2^30, 2^31) (or 0 for multipliers too small to represent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Multiplier {
    pub m: i32,
    pub exponent: i32,
}

/// How the run-time step rounds (`--rounding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Rounding high multiply (ties toward +∞) then rounding shift (ties
    /// away from zero): gemmlowp's, bit-exact with TFLite reference kernels
    /// and CMSIS-NN.
    Double,
    /// One 64-bit multiply and one shift, ties toward +∞.
    Single,
}

/// Splits `real` (finite, >= 0) into a [`Multiplier`]; `None` when it is
/// negative, not finite, or so large that the exponent would pass 30.
pub fn quantize_multiplier(real: f64) -> Option<Multiplier> {
    if !(real.is_finite() && real >= 0.0) {
        return None;
    }
    if real == 0.0 {
        return Some(Multiplier { m: 0, exponent: 0 });
    }
    let (fraction, mut exponent) = frexp(real);
    // fraction in [0.5, 1): the product is in [2^30, 2^31], exact in f64.
    let mut m = (fraction * (1u64 << 31) as f64).round() as i64;
    if m == 1 << 31 {
        m /= 2;
        exponent += 1;
    }
    if exponent < -31 {
        return Some(Multiplier { m: 0, exponent: 0 });
    }
    if exponent > 30 {
        return None;
    }
    Some(Multiplier { m: m as i32, exponent })
}

/// `x = fraction · 2^exponent` with `fraction` in [0.5, 1), for finite `x > 0`.
fn frexp(x: f64) -> (f64, i32) {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: scale into the normal range first.
        let (f, e) = frexp(x * (1u64 << 54) as f64);
        return (f, e - 54);
    }
    let fraction = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (fraction, biased - 1022)
}

/// The run-time arithmetic is the generated code's own file, compiled into
/// qcc as well, so the oracle and the Rust runtime share one definition.
#[allow(dead_code)]
#[path = "../../../runtime-template/rust/src/runtime/fixed_point.rs"]
mod runtime;

pub use runtime::{
    high_mul, high_mul_i64, isqrt, layer_norm_factor, lut_at, output_stage, output_stage_i64, round_div_pow2, round_div_pow2_i64,
    round_shift_i64, rounded_average, rounded_average_i64, softmax_exp, Acc, Code, LUT_SEGMENT_BITS,
};

/// The accumulator `acc` scaled by `mul` under `rounding`. With
/// [`Rounding::Double`] and a positive exponent, `acc · 2^exponent` must fit
/// in i32 (the compiler proves it from the weights).
#[inline]
pub fn requantize(acc: i32, mul: Multiplier, rounding: Rounding) -> i32 {
    runtime::requantize(acc, mul.m, mul.exponent, rounding == Rounding::Single)
}

/// The int64 accumulator `acc` (16x8) scaled by `mul` under `rounding`;
/// the compiler proves `|acc| · 2^max(exponent, 0) < 2^62`.
#[inline]
pub fn requantize_i64(acc: i64, mul: Multiplier, rounding: Rounding) -> i64 {
    runtime::requantize_i64(acc, mul.m, mul.exponent, rounding == Rounding::Single)
}

/// The largest accumulator magnitude the int64 requantization accepts:
/// `|acc| · 2^max(e, 0)` stays below this (NUMERICS.md, "16x8").
pub const WIDE_ACC_LIMIT: i128 = 1 << 62;

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ops::testing::Rng;

    /// `num / 2^shift` rounded to the nearest integer, ties by `ties_up`
    /// (toward +∞) or away from zero, in exact integer arithmetic.
    fn exact_round(num: i128, shift: u32, ties_up: bool) -> i128 {
        let d = 1i128 << shift;
        let floor = num.div_euclid(d);
        let rem2 = 2 * num.rem_euclid(d);
        if rem2 > d || (rem2 == d && (ties_up || num > 0)) {
            floor + 1
        } else {
            floor
        }
    }

    #[test]
    fn multipliers_are_normalised_and_close() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..100_000 {
            let real = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * 2f64.powi((rng.next() % 60) as i32 - 40);
            let Some(mul) = quantize_multiplier(real) else { continue };
            if mul.m == 0 {
                assert!(real < 2f64.powi(-32), "{real}");
                continue;
            }
            assert!((1 << 30..=i32::MAX).contains(&mul.m), "{real}: {mul:?}");
            let back = mul.m as f64 * 2f64.powi(mul.exponent - 31);
            assert!((back - real).abs() <= real * 2f64.powi(-31), "{real}: {back}");
        }
        assert_eq!(quantize_multiplier(0.5), Some(Multiplier { m: 1 << 30, exponent: 0 }));
        assert_eq!(quantize_multiplier(1.0), Some(Multiplier { m: 1 << 30, exponent: 1 }));
        // Rounds up to 2^31: halved, exponent raised.
        assert_eq!(quantize_multiplier(1.0 - 2f64.powi(-40)), Some(Multiplier { m: 1 << 30, exponent: 1 }));
        assert_eq!(quantize_multiplier(2f64.powi(-40)), Some(Multiplier { m: 0, exponent: 0 }));
        assert_eq!(quantize_multiplier(2f64.powi(31)), None);
        assert_eq!(quantize_multiplier(-1.0), None);
        assert_eq!(quantize_multiplier(f64::NAN), None);
        assert_eq!(quantize_multiplier(f64::MIN_POSITIVE / 4.0), Some(Multiplier { m: 0, exponent: 0 }));
    }

    #[test]
    fn high_mul_rounds_ties_up_and_the_shift_away_from_zero() {
        let mut rng = Rng(42);
        for _ in 0..200_000 {
            let (a, b) = (rng.next() as i32, rng.next() as i32);
            if a == i32::MIN && b == i32::MIN {
                continue;
            }
            let p = a as i128 * b as i128;
            assert_eq!(high_mul(a, b) as i128, exact_round(p, 31, true), "{a} * {b}");
            let n = (rng.next() % 32) as u32;
            let x = rng.next() as i32;
            let away = if x >= 0 { exact_round(x as i128, n, false) } else { -exact_round(-(x as i128), n, false) };
            assert_eq!(round_div_pow2(x, n) as i128, away, "{x} / 2^{n}");
        }
        assert_eq!(high_mul(i32::MIN, i32::MIN), i32::MAX);
        assert_eq!(high_mul(-5, 1 << 30), -2);
        assert_eq!(high_mul(5, 1 << 30), 3);
        assert_eq!(round_div_pow2(-3, 1), -2);
        assert_eq!(round_div_pow2(3, 1), 2);
        assert_eq!(round_div_pow2(-5, 2), -1);
    }

    #[test]
    fn requantization_modes_match_exact_arithmetic() {
        let mut rng = Rng(7);
        for _ in 0..200_000 {
            let mul = Multiplier { m: (1 << 30) + (rng.next() % (1 << 30)) as i32, exponent: -((rng.next() % 20) as i32) };
            let acc = (rng.next() % (1 << 24)) as i32 - (1 << 23);
            let exact = acc as i128 * mul.m as i128;
            let shift = (31 - mul.exponent) as u32;
            // Single: one rounding of the exact product, ties toward +∞.
            assert_eq!(requantize(acc, mul, Rounding::Single) as i128, exact_round(exact, shift, true), "{acc} {mul:?}");
            // Double: at most one unit from the exact result, and equal to
            // the two roundings composed.
            let double = requantize(acc, mul, Rounding::Double) as i128;
            let once = exact_round(exact, shift, true);
            assert!((double - once).abs() <= 1, "{acc} {mul:?}: {double} vs {once}");
        }
        // Positive exponents scale up before the high multiply.
        let two = quantize_multiplier(2.0).unwrap();
        assert_eq!(requantize(1000, two, Rounding::Double), 2000);
        assert_eq!(requantize(1000, two, Rounding::Single), 2000);
        // Ties in the high multiply go up in both modes; a tie in the final
        // shift goes away from zero with double rounding: -1.5 gives -2
        // there and -1 with single rounding.
        let half = quantize_multiplier(0.5).unwrap();
        assert_eq!(requantize(-5, half, Rounding::Double), -2);
        assert_eq!(requantize(-5, half, Rounding::Single), -2);
        assert_eq!(requantize(5, half, Rounding::Double), 3);
        let quarter = quantize_multiplier(0.25).unwrap();
        assert_eq!(requantize(-6, quarter, Rounding::Double), -2);
        assert_eq!(requantize(-6, quarter, Rounding::Single), -1);
    }

    /// `round(acc · m / 2^31)` ties up, then `round(/ 2^right)` ties away
    /// from zero (double), or `round(acc · m / 2^(31 − e))` ties up (single),
    /// in i128: the definition `requantize_i64` implements in 64 bits.
    fn wide_reference(acc: i64, mul: Multiplier, rounding: Rounding) -> i128 {
        let e = mul.exponent;
        match rounding {
            Rounding::Single => exact_round(acc as i128 * mul.m as i128, (31 - e) as u32, true),
            Rounding::Double => {
                let scaled = (acc as i128) << e.max(0);
                let high = exact_round(scaled * mul.m as i128, 31, true);
                let right = (-e).max(0) as u32;
                if high >= 0 {
                    exact_round(high, right, false)
                } else {
                    -exact_round(-high, right, false)
                }
            }
        }
    }

    #[test]
    fn int64_requantization_matches_wide_integer_arithmetic() {
        let mut rng = Rng(0x16_08);
        let mut cases = Vec::new();
        for _ in 0..400_000 {
            let e = (rng.next() % 62) as i32 - 31;
            let m = match rng.next() % 8 {
                0 => 0,
                1 => i32::MAX,
                2 => 1 << 30,
                _ => (1 << 30) + (rng.next() % (1 << 30)) as i32,
            };
            // |acc| · 2^max(e, 0) < 2^62, magnitudes spread over every scale.
            let bits = 62 - e.max(0) as u32;
            let limit = 1i64 << (rng.next() % bits as u64);
            let acc = (rng.next() as i64).rem_euclid(2 * limit) - limit;
            cases.push((acc, Multiplier { m, exponent: e }));
        }
        // Edges: the bound's extremes, ties, zero, the int32 boundaries.
        for e in [-31, -20, -1, 0, 1, 7, 15, 30] {
            let top = (1i64 << (62 - e.max(0))) - 1;
            for acc in [0, 1, -1, top, -top, i32::MAX as i64, i32::MIN as i64, 1 << 30, -(1 << 30), 3 << 20, -(3 << 20)] {
                for m in [0, 1, 1 << 30, i32::MAX] {
                    cases.push((acc, Multiplier { m, exponent: e }));
                }
            }
        }
        for (acc, mul) in cases {
            for rounding in [Rounding::Single, Rounding::Double] {
                let got = requantize_i64(acc, mul, rounding);
                assert_eq!(got as i128, wide_reference(acc, mul, rounding), "{acc} {mul:?} {rounding:?}");
                // On int32 accumulators that the int32 path accepts, the two agree.
                let fits = (acc as i128) << mul.exponent.max(0);
                if i32::try_from(fits).is_ok() {
                    assert_eq!(got, requantize(acc as i32, mul, rounding) as i64, "{acc} {mul:?} {rounding:?}");
                }
            }
        }
        assert_eq!(high_mul_i64(-5, 1 << 30), -2);
        assert_eq!(high_mul_i64(5, 1 << 30), 3);
        assert_eq!(round_div_pow2_i64(-5, 1), -3);
        assert_eq!(round_div_pow2_i64(5, 1), 3);
        assert_eq!(output_stage_i64(1 << 40, 0, -32767, 32767), 32767);
        assert_eq!(output_stage_i64(-(1 << 40), 0, -32767, 32767), -32767);
        assert_eq!(rounded_average_i64(-7, 2), -4);
        assert_eq!(rounded_average_i64(1 << 40, 3), ((1i64 << 40) + 1) / 3);
    }

    #[test]
    fn isqrt_is_the_exact_floor() {
        for x in 0..100_000u64 {
            let r = isqrt(x) as u128;
            assert!(r * r <= x as u128 && (r + 1) * (r + 1) > x as u128, "{x}");
        }
        let mut rng = Rng(3);
        for _ in 0..200_000 {
            let x = rng.next() >> (rng.next() % 64);
            let r = isqrt(x) as u128;
            assert!(r * r <= x as u128 && (r + 1) * (r + 1) > x as u128, "{x}");
        }
        assert_eq!(isqrt(u64::MAX), u32::MAX as u64);
        assert_eq!(isqrt(1 << 62), 1 << 31);
    }

    #[test]
    fn the_layer_norm_factor_is_an_inverse_square_root_to_thirty_bits() {
        let mut rng = Rng(11);
        for _ in 0..200_000 {
            let j = (rng.next() % 20) as u32;
            let v = (rng.next() >> (rng.next() % 64)) >> (2 * j + 2);
            let eps = (rng.next() >> (rng.next() % 64)) >> 2;
            if (v << (2 * j)) as u128 + eps as u128 >= 1 << 62 {
                continue;
            }
            let (inv, k) = layer_norm_factor(v as i64, eps as i64, j, 16);
            assert!(k >= 16 && (inv as u64) > 1 << 31 && (inv as u64) <= 1 << 32, "{v} {eps} {j}: {inv} {k}");
            let d = v as f64 + eps as f64 / 4f64.powi(j as i32);
            if d < 1.0 {
                // Only a constant row (v = 0) gets here, where every d is 0.
                continue;
            }
            let got = inv as f64 * 2f64.powi(-(k as i32));
            let want = 65536.0 / d.sqrt();
            assert!((got - want).abs() <= want * 2f64.powi(-28), "{v} {eps} {j}: {got} vs {want}");
        }
        // d = 4 (v = 4, no epsilon): 2^16 / 2 = 2^15 exactly.
        let (inv, k) = layer_norm_factor(4, 0, 0, 16);
        assert_eq!(inv as f64 * 2f64.powi(-(k as i32)), 32768.0);
        assert_eq!(round_shift_i64(-3, 1), -1);
        assert_eq!(round_shift_i64(3, 1), 2);
        assert_eq!(round_shift_i64(-5, 2), -1);
    }
}
