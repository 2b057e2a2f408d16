//! Scalar functions that generated code applies elementwise, one per
//! elementwise ONNX operator, with the interpreter's semantics (see
//! `scalar`). Parameters such as LeakyRelu's alpha follow the elements.

#[allow(unused_imports)]
pub use super::scalar::cast;
use super::scalar::Num;

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

/// `x` clamped to `[lo, hi]` (NaN stays NaN).
#[inline(always)]
pub fn clip<T: Num>(x: T, lo: T, hi: T) -> T {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

#[inline(always)]
pub fn equal<T: Num>(a: T, b: T) -> bool {
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
