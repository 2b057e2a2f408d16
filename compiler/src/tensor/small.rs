//! Float8, float4, float8e8m0, 4-bit and 2-bit element types: decoding bit
//! patterns to f32 and encoding f32 with round-to-nearest-even, as ONNX's
//! Cast, QuantizeLinear and DequantizeLinear define them.

use super::DType;

/// Layout of a small float format.
struct MiniFloat {
    exp_bits: u32,
    man_bits: u32,
    bias: i32,
    /// Largest finite value.
    max: f64,
    /// Code of +inf, if the format has infinities.
    inf: Option<u8>,
    /// Code of the positive NaN (or the unsigned-zero NaN), if any.
    nan: Option<u8>,
    /// "UZ" formats have no negative zero; its code is NaN.
    unsigned_zero: bool,
}

fn format(dtype: DType) -> Option<MiniFloat> {
    Some(match dtype {
        DType::F8E4M3FN => MiniFloat { exp_bits: 4, man_bits: 3, bias: 7, max: 448.0, inf: None, nan: Some(0x7f), unsigned_zero: false },
        DType::F8E4M3FNUZ => MiniFloat { exp_bits: 4, man_bits: 3, bias: 8, max: 240.0, inf: None, nan: Some(0x80), unsigned_zero: true },
        DType::F8E5M2 => MiniFloat { exp_bits: 5, man_bits: 2, bias: 15, max: 57344.0, inf: Some(0x7c), nan: Some(0x7f), unsigned_zero: false },
        DType::F8E5M2FNUZ => MiniFloat { exp_bits: 5, man_bits: 2, bias: 16, max: 57344.0, inf: None, nan: Some(0x80), unsigned_zero: true },
        DType::F4E2M1 => MiniFloat { exp_bits: 2, man_bits: 1, bias: 1, max: 6.0, inf: None, nan: None, unsigned_zero: false },
        _ => return None,
    })
}

/// Integer range of the 4-bit and 2-bit integer types.
pub fn int_range(dtype: DType) -> Option<(i64, i64)> {
    match dtype {
        DType::U4 => Some((0, 15)),
        DType::I4 => Some((-8, 7)),
        DType::U2 => Some((0, 3)),
        DType::I2 => Some((-2, 1)),
        _ => None,
    }
}

/// The value of one element given its bit pattern.
pub fn to_f32(dtype: DType, code: u8) -> f32 {
    if let Some((lo, _)) = int_range(dtype) {
        let bits = dtype.bits() as u32;
        let v = (code as i64) & ((1 << bits) - 1);
        // Sign-extend signed types.
        return if lo < 0 && v >= (1 << (bits - 1)) { (v - (1 << bits)) as f32 } else { v as f32 };
    }
    if dtype == DType::F8E8M0 {
        return if code == 0xff { f32::NAN } else { (2f64.powi(code as i32 - 127)) as f32 };
    }
    let Some(f) = format(dtype) else { return f32::NAN };
    let width = 1 + f.exp_bits + f.man_bits;
    let code = code & ((1u16 << width) - 1) as u8;
    if Some(code) == f.nan || (f.nan.is_some() && !f.unsigned_zero && f.inf.is_none() && code & 0x7f == 0x7f) {
        return f32::NAN;
    }
    let sign_bit = 1u8 << (width - 1);
    let negative = code & sign_bit != 0;
    let magnitude = code & !sign_bit;
    if let Some(inf) = f.inf {
        if magnitude == inf {
            return if negative { f32::NEG_INFINITY } else { f32::INFINITY };
        }
        if magnitude > inf {
            return f32::NAN;
        }
    }
    let exp = (magnitude >> f.man_bits) as i32;
    let man = (magnitude & ((1 << f.man_bits) - 1)) as f64;
    let value = if exp == 0 {
        man * 2f64.powi(1 - f.bias - f.man_bits as i32)
    } else {
        (1.0 + man / (1u32 << f.man_bits) as f64) * 2f64.powi(exp - f.bias)
    };
    (if negative { -value } else { value }) as f32
}

/// Encodes a value, rounding to nearest even. Out-of-range values become the
/// largest finite value when `saturate` is set, else infinity or NaN (as the
/// format allows); NaN becomes the format's NaN (float4e2m1, which has none:
/// negative zero). float8e8m0 rounds up (see [`e8m0_from_f32`]). 4-bit and
/// 2-bit integers round half to even and clamp (QuantizeLinear's rule; Cast
/// truncates and wraps instead, see `Tensor::cast_with`).
pub fn from_f32(dtype: DType, v: f32, saturate: bool) -> u8 {
    if let Some((lo, hi)) = int_range(dtype) {
        let r = if v.is_nan() { 0.0 } else { (v as f64).round_ties_even().clamp(lo as f64, hi as f64) };
        let mask = (1i64 << dtype.bits()) - 1;
        return ((r as i64) & mask) as u8;
    }
    if dtype == DType::F8E8M0 {
        return e8m0_from_f32(v, saturate, E8m0Rounding::Up);
    }
    let Some(f) = format(dtype) else { return 0 };
    let width = 1 + f.exp_bits + f.man_bits;
    let sign = if v.is_sign_negative() { 1u8 << (width - 1) } else { 0 };
    let max_code = encode_magnitude(&f, f.max);
    if v.is_nan() {
        // float4e2m1 has no NaN; like ml_dtypes (the ONNX reference), encode
        // it as negative zero.
        return f.nan.unwrap_or(1u8 << (width - 1));
    }
    let a = (v as f64).abs();
    let overflow = |sign: u8| -> u8 {
        if saturate {
            sign | max_code
        } else if let Some(inf) = f.inf {
            sign | inf
        } else {
            f.nan.map(|n| if f.unsigned_zero { n } else { sign | n }).unwrap_or(sign | max_code)
        }
    };
    if a.is_infinite() {
        return overflow(sign);
    }
    let min_exp = 1 - f.bias;
    let exp = if a == 0.0 { min_exp } else { (a.log2().floor() as i32).max(min_exp) };
    let quantum = 2f64.powi(exp - f.man_bits as i32);
    let rounded = (a / quantum).round_ties_even() * quantum;
    if rounded > f.max {
        return overflow(sign);
    }
    if rounded == 0.0 {
        return if f.unsigned_zero { 0 } else { sign };
    }
    sign | encode_magnitude(&f, rounded)
}

/// Bit pattern (without sign) of a representable positive value.
fn encode_magnitude(f: &MiniFloat, value: f64) -> u8 {
    let min_exp = 1 - f.bias;
    if value < 2f64.powi(min_exp) {
        return (value / 2f64.powi(min_exp - f.man_bits as i32)) as u8;
    }
    let exp = value.log2().floor() as i32;
    let man = value / 2f64.powi(exp - f.man_bits as i32) - (1u32 << f.man_bits) as f64;
    (((exp + f.bias) as u8) << f.man_bits) | man as u8
}

/// How a value between two powers of two rounds when encoded as float8e8m0
/// (Cast's `round_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum E8m0Rounding {
    /// Any fraction rounds up to the next power of two.
    Up,
    /// The fraction is dropped.
    Down,
    /// To the nearest power, as the ONNX reference decides it from the
    /// float32 guard, round and sticky bits.
    Nearest,
}

/// Encodes a value as float8e8m0 (a biased power of two, no sign) from its
/// float32 exponent bits, as ONNX's reference does: the sign is ignored,
/// zero and float32 subnormals have exponent code 0, NaN and infinities
/// become NaN (0xff). With `saturate`, rounding never carries into 0xff.
pub fn e8m0_from_f32(v: f32, saturate: bool, mode: E8m0Rounding) -> u8 {
    let bits = v.to_bits();
    let exponent = (bits >> 23) & 0xff;
    if exponent == 0xff {
        return 0xff;
    }
    let round_up = match mode {
        E8m0Rounding::Up => bits & 0x7f_ffff != 0,
        E8m0Rounding::Down => false,
        E8m0Rounding::Nearest => {
            let guard = bits & 0x40_0000 != 0;
            let round = bits & 0x20_0000 != 0;
            let sticky = bits & 0x1f_ffff != 0;
            guard && (round || sticky || exponent > 0)
        }
    };
    let carry = round_up && !(saturate && exponent == 0xfe);
    (exponent + carry as u32) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float8_round_trips_every_code() {
        for dtype in [DType::F8E4M3FN, DType::F8E4M3FNUZ, DType::F8E5M2, DType::F8E5M2FNUZ] {
            for code in 0..=255u8 {
                let v = to_f32(dtype, code);
                if v.is_nan() || v.is_infinite() {
                    continue;
                }
                let back = from_f32(dtype, v, false);
                assert_eq!(to_f32(dtype, back), v, "{dtype} code {code:#x} value {v}");
            }
        }
    }

    #[test]
    fn float8_extremes() {
        assert_eq!(to_f32(DType::F8E4M3FN, 0x7e), 448.0);
        assert!(to_f32(DType::F8E4M3FN, 0x7f).is_nan());
        assert_eq!(from_f32(DType::F8E4M3FN, 1000.0, true), 0x7e);
        assert!(to_f32(DType::F8E4M3FN, from_f32(DType::F8E4M3FN, 1000.0, false)).is_nan());
        assert_eq!(to_f32(DType::F8E5M2, 0x7c), f32::INFINITY);
        assert_eq!(from_f32(DType::F8E5M2, 1e6, false), 0x7c);
        assert_eq!(to_f32(DType::F4E2M1, 0x7), 6.0);
        assert_eq!(to_f32(DType::F4E2M1, 0xf), -6.0);
        assert_eq!(to_f32(DType::I4, 0xf), -1.0);
        assert_eq!(from_f32(DType::I4, -9.0, true), 0x8);
        assert_eq!(from_f32(DType::U4, 2.5, true), 2);
    }
}
