//! Float precisions for operators that compute in `f64` but must round
//! intermediate results where the ONNX reference (numpy) does: each step of
//! a float16 computation is rounded to float16, and so on.
//!
//! Rounding goes through float32 first, as numpy's float16 and bfloat16
//! arithmetic computes in float32 and rounds the result.

use crate::tensor::DType;
use crate::{bail, Result};
use half::{bf16, f16};

/// One of the four float element types, as a rounding rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prec {
    F16,
    BF16,
    F32,
    F64,
}

impl Prec {
    /// The precision of a float element type; other types are an error.
    pub fn of(dtype: DType) -> Result<Prec> {
        Ok(match dtype {
            DType::F16 => Prec::F16,
            DType::BF16 => Prec::BF16,
            DType::F32 => Prec::F32,
            DType::F64 => Prec::F64,
            d => bail!("element type {d} is not a float type (float16, bfloat16, float32, float64)"),
        })
    }

    /// `x` rounded to this precision (round half to even), back in `f64`.
    pub fn round(self, x: f64) -> f64 {
        match self {
            Prec::F64 => x,
            Prec::F32 => x as f32 as f64,
            Prec::F16 => f16::from_f32(x as f32).to_f64(),
            Prec::BF16 => bf16::from_f32(x as f32).to_f64(),
        }
    }

    /// Sum of `values` as numpy's `sum` computes it for this type: float16,
    /// float32 and float64 accumulate in a wider type and round once;
    /// bfloat16 (ml_dtypes) rounds after every addition.
    pub fn sum(self, values: impl Iterator<Item = f64>) -> f64 {
        match self {
            Prec::BF16 => values.fold(0.0, |acc, v| self.round(acc + v)),
            _ => self.round(values.sum()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_each_type() {
        let x = 1.0 + 1.0 / 3.0;
        assert_eq!(Prec::F64.round(x), x);
        assert_eq!(Prec::F32.round(x), (x as f32) as f64);
        assert_eq!(Prec::F16.round(x), f16::from_f64(x).to_f64());
        assert_eq!(Prec::BF16.round(x), 1.3359375);
        assert!(Prec::of(DType::I32).is_err());
    }

    #[test]
    fn bfloat16_sums_round_each_step() {
        // 256 + 1 is not representable in bfloat16 (8 significant bits).
        let v = [256.0, 1.0, 1.0];
        assert_eq!(Prec::BF16.sum(v.iter().copied()), 256.0);
        assert_eq!(Prec::F32.sum(v.iter().copied()), 258.0);
    }
}
