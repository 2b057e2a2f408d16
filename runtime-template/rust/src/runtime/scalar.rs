//! Element types of generated code and their arithmetic, with exactly the
//! semantics of qcc's interpreter: integer arithmetic wraps, integer
//! division by zero gives 0, conversions to integers truncate toward zero
//! and saturate (NaN gives 0), conversions between integers wrap.
//!
//! float16 and bfloat16 are stored as their bit patterns ([`F16`], [`BF16`])
//! and computed in f32.

/// Any element type a tensor of generated code can hold.
pub trait Elem: Copy + PartialEq + 'static {}

/// Element types that convert to and from f64 and i64 (numbers and bool):
/// the basis of [`cast`].
pub trait Convert: Elem {
    const IS_FLOAT: bool;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn to_i64(self) -> i64;
    fn from_i64(v: i64) -> Self;
}

/// Integer and float element types.
pub trait Num: Convert + PartialOrd {
    const ZERO: Self;
    const ONE: Self;
    /// The lowest value (-inf for floats).
    const LOWEST: Self;
    /// The highest value (+inf for floats).
    const HIGHEST: Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
}

/// float16 as its bit pattern.
#[derive(Clone, Copy, PartialEq, Default, Debug)]
#[repr(transparent)]
pub struct F16(pub u16);

/// bfloat16 as its bit pattern.
#[derive(Clone, Copy, PartialEq, Default, Debug)]
#[repr(transparent)]
pub struct BF16(pub u16);

impl Elem for bool {}

impl Convert for bool {
    const IS_FLOAT: bool = false;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
}

macro_rules! int {
    ($($t:ty),*) => {$(
        impl Elem for $t {}
        impl Convert for $t {
            const IS_FLOAT: bool = false;
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)]
            fn from_f64(v: f64) -> Self { v as $t }
            #[inline(always)]
            fn to_i64(self) -> i64 { self as i64 }
            #[inline(always)]
            fn from_i64(v: i64) -> Self { v as $t }
        }
        impl Num for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            const LOWEST: Self = <$t>::MIN;
            const HIGHEST: Self = <$t>::MAX;
            #[inline(always)]
            fn add(self, o: Self) -> Self { self.wrapping_add(o) }
            #[inline(always)]
            fn sub(self, o: Self) -> Self { self.wrapping_sub(o) }
            #[inline(always)]
            fn mul(self, o: Self) -> Self { self.wrapping_mul(o) }
            #[inline(always)]
            fn div(self, o: Self) -> Self { if o == 0 { 0 } else { self.wrapping_div(o) } }
        }
    )*};
}
int!(u8, i8, u16, i16, u32, i32, u64, i64);

macro_rules! float {
    ($($t:ty),*) => {$(
        impl Elem for $t {}
        impl Convert for $t {
            const IS_FLOAT: bool = true;
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)]
            fn from_f64(v: f64) -> Self { v as $t }
            #[inline(always)]
            fn to_i64(self) -> i64 { self as i64 }
            #[inline(always)]
            fn from_i64(v: i64) -> Self { v as f64 as $t }
        }
        impl Num for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const LOWEST: Self = <$t>::NEG_INFINITY;
            const HIGHEST: Self = <$t>::INFINITY;
            #[inline(always)]
            fn add(self, o: Self) -> Self { self + o }
            #[inline(always)]
            fn sub(self, o: Self) -> Self { self - o }
            #[inline(always)]
            fn mul(self, o: Self) -> Self { self * o }
            #[inline(always)]
            fn div(self, o: Self) -> Self { self / o }
        }
    )*};
}
float!(f32, f64);

macro_rules! half {
    ($t:ident, $to:ident, $from:ident) => {
        impl Elem for $t {}
        impl Convert for $t {
            const IS_FLOAT: bool = true;
            #[inline(always)]
            fn to_f64(self) -> f64 { $to(self) as f64 }
            #[inline(always)]
            fn from_f64(v: f64) -> Self { $from(f64_to_f32_for_half(v)) }
            #[inline(always)]
            fn to_i64(self) -> i64 { $to(self) as i64 }
            #[inline(always)]
            fn from_i64(v: i64) -> Self { Self::from_f64(v as f64) }
        }
        impl Num for $t {
            const ZERO: Self = $t(0);
            const ONE: Self = $from(1.0);
            const LOWEST: Self = $from(f32::NEG_INFINITY);
            const HIGHEST: Self = $from(f32::INFINITY);
            #[inline(always)]
            fn add(self, o: Self) -> Self { $from($to(self) + $to(o)) }
            #[inline(always)]
            fn sub(self, o: Self) -> Self { $from($to(self) - $to(o)) }
            #[inline(always)]
            fn mul(self, o: Self) -> Self { $from($to(self) * $to(o)) }
            #[inline(always)]
            fn div(self, o: Self) -> Self { $from($to(self) / $to(o)) }
        }
        impl PartialOrd for $t {
            #[inline(always)]
            fn partial_cmp(&self, o: &Self) -> Option<core::cmp::Ordering> {
                $to(*self).partial_cmp(&$to(*o))
            }
        }
    };
}
half!(F16, f16_to_f32, f32_to_f16);
half!(BF16, bf16_to_f32, f32_to_bf16);

/// f64 to f32 rounding to odd, so that a later rounding to a 16-bit float
/// gives the same result as rounding the f64 once.
#[inline]
fn f64_to_f32_for_half(v: f64) -> f32 {
    let f = v as f32;
    if !f.is_finite() || f as f64 == v {
        return f;
    }
    let mut bits = f.to_bits();
    if (f as f64).abs() > v.abs() {
        // Step toward zero: the truncated value.
        bits -= 1;
    }
    f32::from_bits(bits | 1)
}

/// float16 bits to f32 (exact).
#[inline]
pub const fn f16_to_f32(h: F16) -> f32 {
    let h = h.0 as u32;
    let sign = (h & 0x8000) << 16;
    let exp = (h >> 10) & 0x1f;
    let man = h & 0x3ff;
    let bits = if exp == 0 {
        if man == 0 {
            sign
        } else {
            // Subnormal: normalise.
            let shift = man.leading_zeros() - 21;
            let man = (man << shift) & 0x3ff;
            sign | ((113 - shift) << 23) | (man << 13)
        }
    } else if exp == 0x1f {
        sign | 0x7f80_0000 | (man << 13)
    } else {
        sign | ((exp + 112) << 23) | (man << 13)
    };
    f32::from_bits(bits)
}

/// f32 to float16 bits, rounding to nearest even; NaN stays NaN.
#[inline]
pub const fn f32_to_f16(f: f32) -> F16 {
    let x = f.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let man = x & 0x7f_ffff;
    if exp == 0xff {
        let nan = if man != 0 { 0x200 | (man >> 13) as u16 } else { 0 };
        return F16(sign | 0x7c00 | nan);
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return F16(sign | 0x7c00);
    }
    if e <= 0 {
        if e < -10 {
            return F16(sign);
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1u32 << shift) - 1);
        let mut out = m >> shift;
        if rest > half || (rest == half && out & 1 == 1) {
            out += 1;
        }
        return F16(sign | out as u16);
    }
    let rest = man & 0x1fff;
    let mut out = ((e as u32) << 10) | (man >> 13);
    if rest > 0x1000 || (rest == 0x1000 && out & 1 == 1) {
        out += 1;
    }
    F16(sign | out as u16)
}

/// bfloat16 bits to f32 (exact).
#[inline]
pub const fn bf16_to_f32(h: BF16) -> f32 {
    f32::from_bits((h.0 as u32) << 16)
}

/// f32 to bfloat16 bits, rounding to nearest even; NaN stays NaN.
#[inline]
pub const fn f32_to_bf16(f: f32) -> BF16 {
    let x = f.to_bits();
    if f.is_nan() {
        return BF16(((x >> 16) | 0x40) as u16);
    }
    let round = 0x7fff + ((x >> 16) & 1);
    BF16((x.wrapping_add(round) >> 16) as u16)
}

/// Conversion between element types with the interpreter's Cast semantics.
#[inline(always)]
pub fn cast<S: Convert, D: Convert>(v: S) -> D {
    if S::IS_FLOAT || D::IS_FLOAT {
        D::from_f64(v.to_f64())
    } else {
        D::from_i64(v.to_i64())
    }
}

/// The float types generated code computes in (f32 and f64), with the
/// elementary functions of [`super::math`].
pub trait Real:
    Copy
    + PartialOrd
    + core::ops::Add<Output = Self>
    + core::ops::Sub<Output = Self>
    + core::ops::Mul<Output = Self>
    + core::ops::Div<Output = Self>
    + core::ops::Neg<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    /// A constant (rounded to this type).
    fn lit(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn abs(self) -> Self;
    fn is_nan(self) -> bool;
    fn is_infinite(self) -> bool;
    fn exp(self) -> Self;
    fn expm1(self) -> Self;
    fn ln(self) -> Self;
    fn ln1p(self) -> Self;
    fn sqrt(self) -> Self;
    fn powf(self, e: Self) -> Self;
    fn fmod(self, d: Self) -> Self;
    fn erf(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tan(self) -> Self;
    fn asin(self) -> Self;
    fn acos(self) -> Self;
    fn atan(self) -> Self;
    fn sinh(self) -> Self;
    fn cosh(self) -> Self;
    fn tanh(self) -> Self;
    fn asinh(self) -> Self;
    fn acosh(self) -> Self;
    fn atanh(self) -> Self;
    fn floor(self) -> Self;
    fn ceil(self) -> Self;
    /// Rounds half to even.
    fn round_even(self) -> Self;
}

macro_rules! real {
    ($t:ty, $($name:ident = $f:ident),*; pow = $pow:ident, fmod = $fmod:ident) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn lit(v: f64) -> Self { v as $t }
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)]
            fn abs(self) -> Self { <$t>::from_bits(self.to_bits() & (!0 >> 1)) }
            #[inline(always)]
            #[allow(clippy::eq_op)]
            fn is_nan(self) -> bool { self != self }
            #[inline(always)]
            fn is_infinite(self) -> bool { self == <$t>::INFINITY || self == <$t>::NEG_INFINITY }
            #[inline(always)]
            fn powf(self, e: Self) -> Self { super::math::$pow(self, e) }
            #[inline(always)]
            fn fmod(self, d: Self) -> Self { super::math::$fmod(self, d) }
            $(
                #[inline(always)]
                fn $name(self) -> Self { super::math::$f(self) }
            )*
        }
    };
}
real!(f32, exp = expf, expm1 = expm1f, ln = logf, ln1p = log1pf, sqrt = sqrtf, erf = erff, sin = sinf, cos = cosf,
    tan = tanf, asin = asinf, acos = acosf, atan = atanf, sinh = sinhf, cosh = coshf, tanh = tanhf, asinh = asinhf,
    acosh = acoshf, atanh = atanhf, floor = floorf, ceil = ceilf, round_even = roundevenf; pow = powf, fmod = fmodf);
real!(f64, exp = exp, expm1 = expm1, ln = log, ln1p = log1p, sqrt = sqrt, erf = erf, sin = sin, cos = cos,
    tan = tan, asin = asin, acos = acos, atan = atan, sinh = sinh, cosh = cosh, tanh = tanh, asinh = asinh,
    acosh = acosh, atanh = atanh, floor = floor, ceil = ceil, round_even = roundeven; pow = pow, fmod = fmod);

/// Float element types and the [`Real`] type they compute in (float16 and
/// bfloat16 compute in f32 and round once when stored).
pub trait Float: Num {
    type C: Real;
    fn to_c(self) -> Self::C;
    fn from_c(v: Self::C) -> Self;
}

impl Float for f32 {
    type C = f32;
    #[inline(always)]
    fn to_c(self) -> f32 { self }
    #[inline(always)]
    fn from_c(v: f32) -> Self { v }
}

impl Float for f64 {
    type C = f64;
    #[inline(always)]
    fn to_c(self) -> f64 { self }
    #[inline(always)]
    fn from_c(v: f64) -> Self { v }
}

impl Float for F16 {
    type C = f32;
    #[inline(always)]
    fn to_c(self) -> f32 { f16_to_f32(self) }
    #[inline(always)]
    fn from_c(v: f32) -> Self { f32_to_f16(v) }
}

impl Float for BF16 {
    type C = f32;
    #[inline(always)]
    fn to_c(self) -> f32 { bf16_to_f32(self) }
    #[inline(always)]
    fn from_c(v: f32) -> Self { f32_to_bf16(v) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_round_trips_every_value() {
        for bits in 0..=u16::MAX {
            let h = F16(bits);
            let f = f16_to_f32(h);
            if f.is_nan() {
                assert!(f16_to_f32(f32_to_f16(f)).is_nan());
            } else {
                assert_eq!(f32_to_f16(f).0, bits, "{bits:#x} -> {f}");
            }
        }
    }

    #[test]
    fn f16_rounds_to_nearest_even() {
        // 1 + 2^-11 is halfway between 1 and the next float16: ties to even (1).
        assert_eq!(f32_to_f16(1.0 + 1.0 / 2048.0).0, 0x3c00);
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0).0, 0x3c02);
        assert_eq!(f32_to_f16(65520.0).0, 0x7c00);
        assert_eq!(f32_to_f16(5.960_464_5e-8).0, 0x0001);
    }

    #[test]
    fn f64_rounds_once_to_f16() {
        // Halfway between 1 and 1 + 2^-10 plus a little: rounds up once,
        // though rounding to f32 first would land on the tie and go down.
        let v = 1.0 + 1.0 / 2048.0 + 1.0 / (1u64 << 40) as f64;
        assert_eq!(F16::from_f64(v).0, 0x3c01);
        assert_eq!(F16::from_f64(1.0 + 1.0 / 2048.0).0, 0x3c00);
    }

    #[test]
    fn bf16_conversion() {
        assert_eq!(f32_to_bf16(1.0).0, 0x3f80);
        assert_eq!(bf16_to_f32(BF16(0x3f80)), 1.0);
        assert_eq!(f32_to_bf16(1.0 + 1.0 / 256.0).0, 0x3f80);
        assert!(bf16_to_f32(f32_to_bf16(f32::NAN)).is_nan());
    }

    #[test]
    fn casts_match_the_interpreter() {
        assert_eq!(cast::<f32, i8>(300.7), 127);
        assert_eq!(cast::<f32, i32>(-2.9), -2);
        assert_eq!(cast::<f32, u8>(f32::NAN), 0);
        assert_eq!(cast::<i32, i8>(300), 44);
        assert_eq!(cast::<u64, i64>(u64::MAX), -1);
        assert_eq!(cast::<i64, u64>(-1), u64::MAX);
    }
}
