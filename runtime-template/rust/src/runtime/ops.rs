//! Scalar functions that generated code applies elementwise, one per
//! elementwise ONNX operator, with the interpreter's semantics (see
//! `scalar`). Parameters such as LeakyRelu's alpha follow the elements.

#[allow(unused_imports)]
pub use super::scalar::cast;
use super::fixed_point::{self, Code};
use super::scalar::{Float, Num, Real};

#[inline(always)]
pub fn add<T: Num>(a: T, b: T) -> T {
    a.add(b)
}

#[inline(always)]
pub fn sub<T: Num>(a: T, b: T) -> T {
    a.sub(b)
}

#[inline(always)]
pub fn mul<T: Num>(a: T, b: T) -> T {
    a.mul(b)
}

#[inline(always)]
pub fn div<T: Num>(a: T, b: T) -> T {
    a.div(b)
}

#[inline(always)]
pub fn neg<T: Num>(a: T) -> T {
    T::ZERO.sub(a)
}

#[inline(always)]
pub fn abs<T: Num>(a: T) -> T {
    if a < T::ZERO {
        T::ZERO.sub(a)
    } else {
        a
    }
}

/// 1, -1 or 0 (NaN stays NaN).
#[inline(always)]
pub fn sign<T: Num>(a: T) -> T {
    if a > T::ZERO {
        T::ONE
    } else if a < T::ZERO {
        T::ZERO.sub(T::ONE)
    } else {
        a
    }
}

/// max(a, 0); NaN stays NaN.
#[inline(always)]
#[allow(clippy::eq_op)]
pub fn relu<T: Num>(a: T) -> T {
    if a > T::ZERO || a != a {
        a
    } else {
        T::ZERO
    }
}

#[inline(always)]
pub fn leaky_relu<T: Num>(a: T, alpha: T) -> T {
    if a >= T::ZERO {
        a
    } else {
        a.mul(alpha)
    }
}

#[inline(always)]
pub fn prelu<T: Num>(a: T, slope: T) -> T {
    if a < T::ZERO {
        a.mul(slope)
    } else {
        a
    }
}

/// The smaller value; a NaN operand wins, the first on ties (numpy's minimum).
#[inline(always)]
#[allow(clippy::eq_op)]
pub fn min<T: Num>(a: T, b: T) -> T {
    if a != a || (b == b && b >= a) {
        a
    } else {
        b
    }
}

/// The larger value; a NaN operand wins, the first on ties (numpy's maximum).
#[inline(always)]
#[allow(clippy::eq_op)]
pub fn max<T: Num>(a: T, b: T) -> T {
    if a != a || (b == b && b <= a) {
        a
    } else {
        b
    }
}

/// `min(max(x, lo), hi)`: `x` clamped to `[lo, hi]`, `hi` when `lo > hi`;
/// NaN stays NaN.
#[inline(always)]
pub fn clip<T: Num>(x: T, lo: T, hi: T) -> T {
    let v = if x < lo { lo } else { x };
    if v > hi {
        hi
    } else {
        v
    }
}

#[inline(always)]
pub fn equal<T: PartialEq>(a: T, b: T) -> bool {
    a == b
}

#[inline(always)]
pub fn less<T: Num>(a: T, b: T) -> bool {
    a < b
}

#[inline(always)]
pub fn less_equal<T: Num>(a: T, b: T) -> bool {
    a <= b
}

#[inline(always)]
pub fn greater<T: Num>(a: T, b: T) -> bool {
    a > b
}

#[inline(always)]
pub fn greater_equal<T: Num>(a: T, b: T) -> bool {
    a >= b
}

#[inline(always)]
pub fn equal_bool(a: bool, b: bool) -> bool {
    a == b
}

#[inline(always)]
pub fn and(a: bool, b: bool) -> bool {
    a & b
}

#[inline(always)]
pub fn or(a: bool, b: bool) -> bool {
    a | b
}

#[inline(always)]
pub fn xor(a: bool, b: bool) -> bool {
    a ^ b
}

#[inline(always)]
pub fn not(a: bool) -> bool {
    !a
}

/// `Where`: `a` where `c` is true, else `b`.
#[inline(always)]
pub fn select<T: Copy>(c: bool, a: T, b: T) -> T {
    if c {
        a
    } else {
        b
    }
}

/// Python's modulo for integers (the result has the divisor's sign); 0 for
/// a zero divisor.
#[inline(always)]
pub fn modulo<T: Num>(a: T, b: T) -> T {
    let (x, y) = (a.to_i64(), b.to_i64());
    if y == 0 {
        return T::ZERO;
    }
    let r = x.wrapping_rem(y);
    T::from_i64(if r != 0 && (r < 0) != (y < 0) { r + y } else { r })
}

/// C's fmod for integers (the result has the dividend's sign); 0 for a
/// zero divisor.
#[inline(always)]
pub fn fmod_int<T: Num>(a: T, b: T) -> T {
    let (x, y) = (a.to_i64(), b.to_i64());
    if y == 0 {
        T::ZERO
    } else {
        T::from_i64(x.wrapping_rem(y))
    }
}

/// `a ** b` for integers, exact with wrapping; negative exponents give
/// 1 / a^|b| truncated (0 unless |a| == 1).
#[inline]
pub fn pow_int<T: Num>(a: T, b: i64) -> T {
    if b < 0 {
        return match a.to_i64() {
            1 => T::ONE,
            -1 if b % 2 != 0 => a,
            -1 => T::ONE,
            _ => T::ZERO,
        };
    }
    let (mut result, mut base, mut e) = (T::ONE, a, b as u64);
    while e > 0 {
        if e & 1 == 1 {
            result = result.mul(base);
        }
        base = base.mul(base);
        e >>= 1;
    }
    result
}

#[inline(always)]
pub fn bit_and<T: Num>(a: T, b: T) -> T {
    T::from_i64(a.to_i64() & b.to_i64())
}

#[inline(always)]
pub fn bit_or<T: Num>(a: T, b: T) -> T {
    T::from_i64(a.to_i64() | b.to_i64())
}

#[inline(always)]
pub fn bit_xor<T: Num>(a: T, b: T) -> T {
    T::from_i64(a.to_i64() ^ b.to_i64())
}

#[inline(always)]
pub fn bit_not<T: Num>(a: T) -> T {
    T::from_i64(!a.to_i64())
}

// Float functions: computed in the type's `Real` compute type (f16/bf16 in
// f32), parameters given in that type, rounded once when stored.

#[inline(always)]
fn unary<T: Float>(a: T, f: impl Fn(T::C) -> T::C) -> T {
    T::from_c(f(a.to_c()))
}

macro_rules! real_unary {
    ($($name:ident = $method:ident),*) => {$(
        #[inline(always)]
        pub fn $name<T: Float>(a: T) -> T {
            unary(a, Real::$method)
        }
    )*};
}
real_unary!(exp = exp, log = ln, sqrt = sqrt, tanh = tanh, erf = erf, sin = sin, cos = cos, tan = tan, asin = asin,
    acos = acos, atan = atan, sinh = sinh, cosh = cosh, asinh = asinh, acosh = acosh, atanh = atanh, floor = floor,
    ceil = ceil, round = round_even);

#[inline(always)]
pub fn reciprocal<T: Float>(a: T) -> T {
    unary(a, |x| T::C::ONE / x)
}

/// The logistic function, computed in f64 and rounded once to `R` (like
/// the interpreter): for float32 the correctly rounded value in all but
/// vanishingly rare cases. float32 arithmetic would be off by an ulp now
/// and then, and a Sigmoid feeding a DynamicQuantizeLinear turns such an
/// ulp into a different code whenever it crosses a rounding boundary.
#[inline(always)]
fn sigmoid_of<R: Real>(x: R) -> R {
    let x = x.to_f64();
    R::lit(if x >= 0.0 {
        1.0 / (1.0 + Real::exp(-x))
    } else {
        let e = Real::exp(x);
        e / (1.0 + e)
    })
}

#[inline(always)]
fn softplus_of<R: Real>(x: R) -> R {
    if x > R::lit(30.0) {
        x
    } else {
        x.exp().ln1p()
    }
}

/// `x` clamped to `[0, 1]` (NaN stays NaN).
#[inline(always)]
fn unit_clamp<R: Real>(x: R) -> R {
    if x < R::ZERO {
        R::ZERO
    } else if x > R::ONE {
        R::ONE
    } else {
        x
    }
}

#[inline(always)]
pub fn sigmoid<T: Float>(a: T) -> T {
    unary(a, sigmoid_of)
}

#[inline(always)]
pub fn softplus<T: Float>(a: T) -> T {
    unary(a, softplus_of)
}

#[inline(always)]
pub fn softsign<T: Float>(a: T) -> T {
    unary(a, |x| x / (T::C::ONE + x.abs()))
}

#[inline(always)]
pub fn mish<T: Float>(a: T) -> T {
    unary(a, |x| x * softplus_of(x).tanh())
}

/// `x * Φ(x)` with the exact normal CDF.
#[inline(always)]
pub fn gelu<T: Float>(a: T) -> T {
    unary(a, |x| {
        let half = T::C::lit(0.5);
        half * x * (T::C::ONE + (x * T::C::lit(core::f64::consts::FRAC_1_SQRT_2)).erf())
    })
}

/// `x * Φ(x)` with the tanh approximation.
#[inline(always)]
pub fn gelu_tanh<T: Float>(a: T) -> T {
    unary(a, |x| {
        let c = T::C::lit(0.797_884_560_802_865_4); // sqrt(2 / pi)
        let inner = c * (x + T::C::lit(0.044715) * x * x * x);
        T::C::lit(0.5) * x * (T::C::ONE + inner.tanh())
    })
}

#[inline(always)]
pub fn elu<T: Float>(a: T, alpha: T::C) -> T {
    unary(a, |x| if x > T::C::ZERO { x } else { alpha * x.expm1() })
}

#[inline(always)]
pub fn selu<T: Float>(a: T, alpha: T::C, gamma: T::C) -> T {
    unary(a, |x| if x > T::C::ZERO { gamma * x } else { gamma * alpha * x.expm1() })
}

/// `max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`, where max and min
/// ignore NaN (so NaN gives 0, as in the interpreter).
#[inline(always)]
pub fn celu<T: Float>(a: T, alpha: T::C) -> T {
    unary(a, |x| {
        let pos = if x > T::C::ZERO { x } else { T::C::ZERO };
        let e = alpha * (x / alpha).expm1();
        let neg = if e < T::C::ZERO { e } else { T::C::ZERO };
        pos + neg
    })
}

#[inline(always)]
pub fn hard_sigmoid<T: Float>(a: T, alpha: T::C, beta: T::C) -> T {
    unary(a, |x| unit_clamp(alpha * x + beta))
}

#[inline(always)]
pub fn hard_swish<T: Float>(a: T) -> T {
    unary(a, |x| x * unit_clamp(x / T::C::lit(6.0) + T::C::lit(0.5)))
}

#[inline(always)]
pub fn thresholded_relu<T: Float>(a: T, alpha: T::C) -> T {
    unary(a, |x| if x > alpha { x } else { T::C::ZERO })
}

#[inline(always)]
pub fn shrink<T: Float>(a: T, bias: T::C, lambd: T::C) -> T {
    unary(a, |x| {
        if x < -lambd {
            x + bias
        } else if x > lambd {
            x - bias
        } else {
            T::C::ZERO
        }
    })
}

#[inline(always)]
pub fn swish<T: Float>(a: T, alpha: T::C) -> T {
    unary(a, |x| x * sigmoid_of(alpha * x))
}

#[inline(always)]
pub fn isnan<T: Float>(a: T) -> bool {
    a.to_c().is_nan()
}

/// Whether `a` is an infinity of a detected sign.
#[inline(always)]
pub fn isinf<T: Float>(a: T, negative: bool, positive: bool) -> bool {
    let x = a.to_c();
    x.is_infinite() && ((x > T::C::ZERO && positive) || (x < T::C::ZERO && negative))
}

/// `a ** b` for floats of one type.
#[inline(always)]
pub fn pow<T: Float>(a: T, b: T) -> T {
    T::from_c(a.to_c().powf(b.to_c()))
}

/// C's fmod for floats (the result has the dividend's sign).
#[inline(always)]
pub fn fmod<T: Float>(a: T, b: T) -> T {
    T::from_c(a.to_c().fmod(b.to_c()))
}

/// Python's modulo for floats (the result has the divisor's sign).
#[inline(always)]
pub fn modulo_float<T: Float>(a: T, b: T) -> T {
    let (x, y) = (a.to_c(), b.to_c());
    let r = x.fmod(y);
    let r = if r != T::C::ZERO && (r < T::C::ZERO) != (y < T::C::ZERO) { r + y } else { r };
    T::from_c(r)
}

/// Shifts an integer by `b` bits: left if `left`, else right (arithmetic
/// for signed types). Negative amounts and amounts of the width or more
/// leave only the sign fill: -1 for a right shift of a negative value,
/// else 0.
#[inline(always)]
fn shift<T: Num>(a: T, b: T, left: bool) -> T {
    let width = (core::mem::size_of::<T>() * 8) as u64;
    let signed = T::LOWEST < T::ZERO;
    let amount = if signed && b < T::ZERO { width } else { b.to_i64() as u64 };
    if amount < width {
        if left {
            T::from_i64(a.to_i64().wrapping_shl(amount as u32))
        } else if signed {
            T::from_i64(a.to_i64() >> amount)
        } else {
            T::from_i64(((a.to_i64() as u64) >> amount) as i64)
        }
    } else if signed && !left && a < T::ZERO {
        T::ZERO.sub(T::ONE)
    } else {
        T::ZERO
    }
}

#[inline(always)]
pub fn shift_left<T: Num>(a: T, b: T) -> T {
    shift(a, b, true)
}

#[inline(always)]
pub fn shift_right<T: Num>(a: T, b: T) -> T {
    shift(a, b, false)
}

/// Quantizes a float with ONNX QuantizeLinear semantics: `x / scale`
/// rounded half to even, plus `zero`, saturated (NaN gives `zero`).
#[inline(always)]
pub fn quantize_linear<Q: Code>(x: f32, scale: f32, zero: i64) -> Q {
    let v = x / scale;
    // Clamped first (to 2^17, beyond every code range), so the rounding
    // below works on small magnitudes only.
    let v = if v > 131_072.0 { 131_072.0 } else if v < -131_072.0 { -131_072.0 } else if v != v { 0.0 } else { v };
    let r = round_half_even_small(v) as i32;
    fixed_point::output(r, zero as i32, Q::MIN, Q::MAX)
}

/// `scale · (q − zero)` in f32.
#[inline(always)]
pub fn dequantize_linear<Q: Code>(q: Q, scale: f32, zero: i64) -> f32 {
    (q.to_i32() - zero as i32) as f32 * scale
}

/// A code minus its zero point, as the int32 operand of ConvInteger and
/// MatMulInteger.
#[inline(always)]
pub fn centered<Q: Code>(q: Q, zero: Q) -> i32 {
    q.to_i32() - zero.to_i32()
}

/// Rounds half to even for `|v| <= 2^22` (adding and removing 1.5 · 2^23
/// leaves the rounded value under round-to-nearest-even arithmetic).
#[inline(always)]
fn round_half_even_small(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (v + MAGIC) - MAGIC
}

/// A code moved to other quantization parameters, possibly of another code
/// type (int8, uint8, int16): `(a − za)` scaled by `(m, e)`, then the
/// output stage with `[lo, hi]` within the output type.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn q_rescale<Q: Code, R: Code>(a: Q, za: i64, m: i64, e: i64, zo: i64, lo: i64, hi: i64, single: bool) -> R {
    let y = fixed_point::requantize(a.to_i32() - za as i32, m as i32, e as i32, single);
    fixed_point::output(y, zo as i32, lo as i32, hi as i32)
}

/// Quantized Add (or Sub): both operands brought to a common scale with
/// `Q::ADD_SHIFT` bits of headroom, summed, and requantized to the output.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn q_add<Q: Code>(
    a: Q, b: Q, za: i64, zb: i64, ma: i64, ea: i64, mb: i64, eb: i64, mo: i64, eo: i64, zo: i64, lo: i64, hi: i64,
    single: bool, subtract: bool,
) -> Q {
    let x = fixed_point::requantize((a.to_i32() - za as i32) << Q::ADD_SHIFT, ma as i32, ea as i32, single);
    let y = fixed_point::requantize((b.to_i32() - zb as i32) << Q::ADD_SHIFT, mb as i32, eb as i32, single);
    let s = if subtract { x - y } else { x + y };
    let r = fixed_point::requantize(s, mo as i32, eo as i32, single);
    fixed_point::output(r, zo as i32, lo as i32, hi as i32)
}

/// Quantized Mul: the product of the centred codes, requantized.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn q_mul<Q: Code>(a: Q, b: Q, za: i64, zb: i64, mo: i64, eo: i64, zo: i64, lo: i64, hi: i64, single: bool) -> Q {
    let p = (a.to_i32() - za as i32) * (b.to_i32() - zb as i32);
    let r = fixed_point::requantize(p, mo as i32, eo as i32, single);
    fixed_point::output(r, zo as i32, lo as i32, hi as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::scalar::{Convert, F16};

    #[test]
    fn shifts_match_the_interpreter() {
        assert_eq!(shift_right(-16i8, 2), -4);
        assert_eq!(shift_left(64i8, 1), -128);
        assert_eq!(shift_right(-1i8, 8), -1);
        assert_eq!(shift_left(5i8, -1), 0);
        assert_eq!(shift_right(u64::MAX, 63), 1);
        assert_eq!(shift_right(1u64, u64::MAX), 0);
    }

    #[test]
    fn float_modulo_takes_the_divisor_sign() {
        assert_eq!(modulo_float(-7.0f32, 3.0), 2.0);
        assert_eq!(fmod(-7.0f64, 3.0), -1.0);
        assert_eq!(modulo_float(7.5f64, -2.0), -0.5);
    }

    #[test]
    fn clip_with_crossed_bounds_gives_the_upper() {
        assert_eq!(clip(5i32, 3, 1), 1);
        assert_eq!(clip(-5i32, 3, 1), 1);
        assert!(clip(f32::NAN, 0.0, 1.0).is_nan());
    }

    #[test]
    fn float_functions_on_halves() {
        let x = F16::from_f64(0.5);
        assert!((exp(x).to_f64() - 0.5f64.exp()).abs() < 1e-3);
        assert_eq!(round(2.5f32), 2.0);
        assert_eq!(round(-3.5f64), -4.0);
        assert_eq!(celu(f32::NAN, 1.0), 0.0);
        assert!(isinf(f64::NEG_INFINITY, true, false) && !isinf(f64::INFINITY, true, false));
        assert_eq!(pow_int(3i8, 5), -13);
    }
}
