//! The weight blob: every constant of a program, little-endian, each at an
//! offset aligned to 16 bytes, in program order. Both backends embed the
//! same bytes, so flash figures agree.

use super::program::{elem_bytes, Program};
use crate::tensor::Tensor;
use half::{bf16, f16};

/// Alignment of every constant in the blob.
pub const ALIGN: usize = 16;

pub struct Blob {
    pub bytes: Vec<u8>,
    /// Byte offset of each constant.
    pub offsets: Vec<usize>,
}

pub fn layout(p: &Program) -> Blob {
    let mut bytes = Vec::new();
    let mut offsets = Vec::with_capacity(p.constants.len());
    for c in &p.constants {
        let at = bytes.len().next_multiple_of(ALIGN);
        bytes.resize(at, 0);
        offsets.push(at);
        bytes.extend(le_bytes(&c.value));
    }
    Blob { bytes, offsets }
}

/// The elements of a tensor as generated code stores them.
pub fn le_bytes(t: &Tensor) -> Vec<u8> {
    let mut out = Vec::with_capacity(t.len() * elem_bytes(t.dtype()));
    match t {
        Tensor::Bool(a) => out.extend(a.iter().map(|&b| b as u8)),
        Tensor::U8(a) => out.extend(a.iter().copied()),
        Tensor::I8(a) => out.extend(a.iter().map(|&v| v as u8)),
        Tensor::U16(a) => a.iter().for_each(|v| out.extend(v.to_le_bytes())),
        Tensor::I16(a) => a.iter().for_each(|v| out.extend(v.to_le_bytes())),
        Tensor::U32(a) => a.iter().for_each(|v| out.extend(v.to_le_bytes())),
        Tensor::I32(a) => a.iter().for_each(|v| out.extend(v.to_le_bytes())),
        Tensor::U64(a) => a.iter().for_each(|v| out.extend(v.to_le_bytes())),
        Tensor::I64(a) => a.iter().for_each(|v| out.extend(v.to_le_bytes())),
        Tensor::F16(a) => a.iter().for_each(|v: &f16| out.extend(v.to_bits().to_le_bytes())),
        Tensor::BF16(a) => a.iter().for_each(|v: &bf16| out.extend(v.to_bits().to_le_bytes())),
        Tensor::F32(a) => a.iter().for_each(|v| out.extend(v.to_le_bytes())),
        Tensor::F64(a) => a.iter().for_each(|v| out.extend(v.to_le_bytes())),
        Tensor::Small(_, a) => out.extend(a.iter().copied()),
        // Lowering refuses string tensors before this point.
        Tensor::Str(_) => {}
    }
    out
}
