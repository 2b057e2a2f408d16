//! Element type conversion with ONNX Cast semantics.
//!
//! Integer to integer wraps (numpy's astype); float to integer truncates
//! toward zero and saturates; anything to bool is `!= 0`; float to the small
//! float types rounds to nearest even (saturating when asked); strings parse
//! and print numbers.

use super::small::{self, E8m0Rounding};
use super::{DType, Num, Tensor};
use crate::{bail, Result};
use half::{bf16, f16};
use ndarray::ArrayD;

impl Tensor {
    /// Converts to `to`; float8 overflow saturates (Cast's default).
    pub fn cast(&self, to: DType) -> Result<Tensor> {
        self.cast_with(to, true)
    }

    /// Converts to `to`; `saturate` selects float8 overflow behaviour.
    pub fn cast_with(&self, to: DType, saturate: bool) -> Result<Tensor> {
        self.cast_rounding(to, saturate, E8m0Rounding::Up)
    }

    /// Converts to `to` with Cast's full set of options: `saturate` for
    /// float8 (and float8e8m0) overflow, `e8m0` for how values round to
    /// float8e8m0.
    ///
    /// To the 4-bit and 2-bit integer types, floats truncate toward zero
    /// and every value wraps to the low bits (numpy's `astype`, which the
    /// ONNX reference uses); non-finite floats become 0.
    pub fn cast_rounding(&self, to: DType, saturate: bool, e8m0: E8m0Rounding) -> Result<Tensor> {
        if self.dtype() == to {
            return Ok(self.clone());
        }
        if small::int_range(to).is_some() {
            let from = self.dtype();
            let ints = if from.is_float() || from.is_small_float() {
                let f = self.cast(DType::F64)?;
                f.array::<f64>()?.mapv(|v| if v.is_finite() { v.trunc() as i64 } else { 0 })
            } else {
                self.cast(DType::I64)?.into_array::<i64>()?
            };
            let mask = (1i64 << to.bits()) - 1;
            return Ok(Tensor::Small(to, ints.mapv(|v| (v & mask) as u8)));
        }
        if to == DType::F8E8M0 {
            let values = self.cast(DType::F32)?;
            let bits = values.array::<f32>()?.mapv(|v| small::e8m0_from_f32(v, saturate, e8m0));
            return Ok(Tensor::Small(to, bits));
        }
        if to.is_small() {
            let values = self.cast(DType::F32)?;
            let bits = values.array::<f32>()?.mapv(|v| small::from_f32(to, v, saturate));
            return Ok(Tensor::Small(to, bits));
        }
        Ok(match self {
            Tensor::Small(d, a) => {
                let d = *d;
                Tensor::F32(a.mapv(|c| small::to_f32(d, c))).cast_with(to, saturate)?
            }
            Tensor::Str(a) => from_strings(a, to)?,
            Tensor::Bool(a) => {
                let ints = a.mapv(|b| b as u8);
                Tensor::U8(ints).cast_with(to, saturate)?
            }
            Tensor::U8(a) => convert(a, to)?,
            Tensor::I8(a) => convert(a, to)?,
            Tensor::U16(a) => convert(a, to)?,
            Tensor::I16(a) => convert(a, to)?,
            Tensor::U32(a) => convert(a, to)?,
            Tensor::I32(a) => convert(a, to)?,
            Tensor::U64(a) => convert(a, to)?,
            Tensor::I64(a) => convert(a, to)?,
            Tensor::F16(a) => convert(a, to)?,
            Tensor::BF16(a) => convert(a, to)?,
            Tensor::F32(a) => convert(a, to)?,
            Tensor::F64(a) => convert(a, to)?,
        })
    }
}

fn convert<S: Num + ToText>(a: &ArrayD<S>, to: DType) -> Result<Tensor> {
    Ok(match to {
        DType::Bool => Tensor::Bool(a.mapv(|v| v != S::zero())),
        DType::U8 => Tensor::U8(a.mapv(num_to)),
        DType::I8 => Tensor::I8(a.mapv(num_to)),
        DType::U16 => Tensor::U16(a.mapv(num_to)),
        DType::I16 => Tensor::I16(a.mapv(num_to)),
        DType::U32 => Tensor::U32(a.mapv(num_to)),
        DType::I32 => Tensor::I32(a.mapv(num_to)),
        DType::U64 => Tensor::U64(a.mapv(num_to)),
        DType::I64 => Tensor::I64(a.mapv(num_to)),
        DType::F16 => Tensor::F16(a.mapv(num_to)),
        DType::BF16 => Tensor::BF16(a.mapv(num_to)),
        DType::F32 => Tensor::F32(a.mapv(num_to)),
        DType::F64 => Tensor::F64(a.mapv(num_to)),
        DType::Str => Tensor::Str(a.map(|v| v.to_text())),
        d => bail!("cannot cast to {d}"),
    })
}

/// One numeric conversion: through f64 when either side is a float, else
/// wrapping through i64 (which keeps every u64 bit pattern).
fn num_to<S: Num, D: Num>(v: S) -> D {
    if D::IS_FLOAT || S::IS_FLOAT {
        D::from_f64(v.to_f64())
    } else {
        D::from_i64(v.to_i64())
    }
}

/// How numbers print when cast to string (numpy's shortest round-trip form).
trait ToText {
    fn to_text(&self) -> String;
}

macro_rules! int_text {
    ($($t:ty),*) => {$(impl ToText for $t { fn to_text(&self) -> String { self.to_string() } })*};
}
int_text!(u8, i8, u16, i16, u32, i32, u64, i64);

macro_rules! float_text {
    ($($t:ty),*) => {$(impl ToText for $t {
        fn to_text(&self) -> String { float_to_text(self.to_string(), self.to_f64()) }
    })*};
}
float_text!(f16, bf16, f32, f64);

/// numpy spells special values `nan`, `inf`, `-inf`.
fn float_to_text(shortest: String, v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        shortest
    }
}

fn from_strings(a: &ArrayD<String>, to: DType) -> Result<Tensor> {
    let mut bad = None;
    let values = a.map(|s| {
        let t = s.trim();
        let v = match t.to_ascii_lowercase().as_str() {
            "nan" | "+nan" | "-nan" => Some(f64::NAN),
            "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
            "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
            _ => t.parse::<f64>().ok(),
        };
        v.unwrap_or_else(|| {
            bad.get_or_insert_with(|| s.clone());
            0.0
        })
    });
    if let Some(s) = bad {
        bail!("cannot cast string '{s}' to {to}");
    }
    if to.is_int() {
        // Parse integers exactly where they are written as integers.
        let ints: ArrayD<i64> = a.map(|s| s.trim().parse::<i64>().unwrap_or(0));
        let exact = a.iter().all(|s| s.trim().parse::<i64>().is_ok());
        if exact {
            return Tensor::I64(ints).cast(to);
        }
    }
    Tensor::F64(values).cast(to)
}
