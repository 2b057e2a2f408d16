//! BitCast (opset 26): reinterprets each element's bit pattern as the `to`
//! element type of the same width; the shape is unchanged.
//! <https://onnx.ai/onnx/operators/onnx__BitCast.html>
//!
//! Every non-string element type qcc holds (complex types are not held).
//! Bool is one byte; bytes other than 0 and 1 have no bool value in qcc, so
//! casting them to bool is unsupported (an error naming the byte).

use super::{Arg, OpDef, Slots};
use crate::front::onnx::OnnxNode;
use crate::ir::TensorType;
use crate::tensor::{DType, Tensor};
use crate::{bail, unsupported, Result};
use half::{bf16, f16};
use ndarray::ArrayD;

#[derive(Debug, Clone)]
pub struct BitCast {
    to: DType,
}

impl OpDef for BitCast {
    fn from_onnx(node: &OnnxNode) -> Result<Self> {
        let code = node.int_req("to")?;
        let to = match i32::try_from(code).ok().and_then(DType::from_onnx) {
            Some(DType::Str) => bail!("BitCast to string is not allowed"),
            Some(d) => d,
            None => unsupported!("BitCast to element type code {code}"),
        };
        Ok(BitCast { to })
    }

    fn infer(&self, inputs: &[Option<Arg>]) -> Result<Vec<TensorType>> {
        let x = inputs.req(0)?.ty;
        self.check(x.dtype)?;
        Ok(vec![TensorType::new(self.to, x.shape.clone())])
    }

    fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
        let x = inputs.req(0)?;
        self.check(x.dtype())?;
        if x.dtype() == self.to {
            return Ok(vec![x.clone()]);
        }
        let bits = patterns(x)?;
        Ok(vec![from_patterns(self.to, bits)?])
    }

    /// int8: float only.
    fn quantize(&self, rule: super::Rule) -> Result<super::Plan> {
        Ok(rule.float_only(super::NO_INTEGER_KERNEL))
    }
}

impl BitCast {
    fn check(&self, from: DType) -> Result<()> {
        if from == DType::Str {
            bail!("BitCast from string is not allowed");
        }
        if from.bits() != self.to.bits() {
            bail!("BitCast from {from} ({} bits) to {} ({} bits): the widths differ", from.bits(), self.to, self.to.bits());
        }
        Ok(())
    }
}

/// The bit pattern of every element, zero-extended to 64 bits.
fn patterns(x: &Tensor) -> Result<ArrayD<u64>> {
    Ok(match x {
        Tensor::Bool(a) => a.mapv(u64::from),
        Tensor::U8(a) => a.mapv(u64::from),
        Tensor::I8(a) => a.mapv(|v| u64::from(v as u8)),
        Tensor::U16(a) => a.mapv(u64::from),
        Tensor::I16(a) => a.mapv(|v| u64::from(v as u16)),
        Tensor::U32(a) => a.mapv(u64::from),
        Tensor::I32(a) => a.mapv(|v| u64::from(v as u32)),
        Tensor::U64(a) => a.clone(),
        Tensor::I64(a) => a.mapv(|v| v as u64),
        Tensor::F16(a) => a.mapv(|v| u64::from(v.to_bits())),
        Tensor::BF16(a) => a.mapv(|v| u64::from(v.to_bits())),
        Tensor::F32(a) => a.mapv(|v| u64::from(v.to_bits())),
        Tensor::F64(a) => a.mapv(f64::to_bits),
        Tensor::Small(_, a) => a.mapv(u64::from),
        Tensor::Str(_) => bail!("BitCast from string is not allowed"),
    })
}

/// Elements of type `to` from their bit patterns (the low `to.bits()` bits;
/// the caller checked the widths agree).
fn from_patterns(to: DType, bits: ArrayD<u64>) -> Result<Tensor> {
    Ok(match to {
        DType::Bool => {
            if let Some(b) = bits.iter().find(|&&b| b > 1) {
                unsupported!("BitCast of the byte {b} to bool: qcc holds bools as 0 or 1 only");
            }
            Tensor::Bool(bits.mapv(|b| b == 1))
        }
        DType::U8 => Tensor::U8(bits.mapv(|b| b as u8)),
        DType::I8 => Tensor::I8(bits.mapv(|b| b as u8 as i8)),
        DType::U16 => Tensor::U16(bits.mapv(|b| b as u16)),
        DType::I16 => Tensor::I16(bits.mapv(|b| b as u16 as i16)),
        DType::U32 => Tensor::U32(bits.mapv(|b| b as u32)),
        DType::I32 => Tensor::I32(bits.mapv(|b| b as u32 as i32)),
        DType::U64 => Tensor::U64(bits),
        DType::I64 => Tensor::I64(bits.mapv(|b| b as i64)),
        DType::F16 => Tensor::F16(bits.mapv(|b| f16::from_bits(b as u16))),
        DType::BF16 => Tensor::BF16(bits.mapv(|b| bf16::from_bits(b as u16))),
        DType::F32 => Tensor::F32(bits.mapv(|b| f32::from_bits(b as u32))),
        DType::F64 => Tensor::F64(bits.mapv(f64::from_bits)),
        DType::Str => bail!("BitCast to string is not allowed"),
        small => {
            let mask = (1u64 << small.bits()) - 1;
            Tensor::Small(small, bits.mapv(|b| (b & mask) as u8))
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::front::onnx::Attr;
    use crate::ops::testing::{f32s, run};
    use crate::tensor::{DType, Tensor};

    fn to(d: DType) -> Vec<(&'static str, Attr)> {
        vec![("to", Attr::Int(d.onnx_code() as i64))]
    }

    #[test]
    fn reinterprets_bits_both_ways() {
        let x = f32s(&[2, 1], &[1.0, -2.5]);
        let y = run("BitCast", 26, to(DType::I32), std::slice::from_ref(&x)).unwrap();
        assert_eq!(y[0], Tensor::from_vec(&[2, 1], vec![0x3f80_0000i32, 0xc020_0000u32 as i32]).unwrap());
        let back = run("BitCast", 26, to(DType::F32), &y).unwrap();
        assert_eq!(back[0], x);
        let i4 = Tensor::from_small(DType::I4, &[2], vec![0x0f, 0x08]).unwrap();
        let u4 = run("BitCast", 26, to(DType::U4), &[i4]).unwrap();
        assert_eq!(u4[0], Tensor::from_small(DType::U4, &[2], vec![0x0f, 0x08]).unwrap());
    }

    #[test]
    fn widths_must_agree_and_strings_are_rejected() {
        let x = f32s(&[1], &[1.0]);
        assert!(run("BitCast", 26, to(DType::I64), std::slice::from_ref(&x)).is_err());
        assert!(run("BitCast", 26, to(DType::F16), &[x]).is_err());
        assert!(run("BitCast", 26, to(DType::Str), &[Tensor::from_vec(&[1], vec![1i64]).unwrap()]).is_err());
        let s = Tensor::from_vec(&[1], vec!["a".to_string()]).unwrap();
        assert!(run("BitCast", 26, to(DType::I64), &[s]).is_err());
        assert!(run("BitCast", 26, vec![("to", Attr::Int(14))], &[Tensor::from_vec(&[1], vec![1i64]).unwrap()]).is_err());
    }

    #[test]
    fn bytes_that_are_not_bools_are_unsupported() {
        let ok = run("BitCast", 26, to(DType::Bool), &[Tensor::from_vec(&[2], vec![0u8, 1]).unwrap()]).unwrap();
        assert_eq!(ok[0], Tensor::from_vec(&[2], vec![false, true]).unwrap());
        let err = run("BitCast", 26, to(DType::Bool), &[Tensor::from_vec(&[1], vec![2i8]).unwrap()]).unwrap_err();
        assert!(matches!(err, crate::Error::Unsupported(_)), "{err}");
    }
}
