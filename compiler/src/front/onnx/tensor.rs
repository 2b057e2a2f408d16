//! Decoding `TensorProto` and `SparseTensorProto` in every encoding ONNX
//! allows: `raw_data`, the typed `*_data` fields, and external data files
//! beside the model. Every size is checked against the declared shape.

use crate::tensor::{shape_from_i64, DType, Tensor};
use crate::{Error, Result};
use half::{bf16, f16};
use onnx_protobuf::{tensor_proto::DataLocation, SparseTensorProto, TensorProto};
use std::path::Path;

/// Where external data files are looked up: the model's directory.
pub struct DataDir<'a>(pub Option<&'a Path>);

/// Decodes one tensor. `what` names it in messages ("initializer 'w'").
pub fn decode(t: &TensorProto, dir: &DataDir, what: &str) -> Result<Tensor> {
    decode_inner(t, dir).map_err(|e| Error::InvalidModel(format!("{what}: {}", strip(e))))
}

fn strip(e: Error) -> String {
    match e {
        Error::InvalidModel(m) | Error::Op(m) => m,
        e => e.to_string(),
    }
}

fn decode_inner(t: &TensorProto, dir: &DataDir) -> Result<Tensor> {
    let Some(dtype) = DType::from_onnx(t.data_type) else {
        return Err(Error::Unsupported(match t.data_type {
            0 => "tensor has no element type (UNDEFINED)".into(),
            14 | 15 => "complex tensors".into(),
            c => format!("unknown tensor element type code {c}"),
        }));
    };
    let shape = shape_from_i64(&t.dims)?;
    let n: usize = shape.iter().product();
    let external = t.data_location.enum_value() == Ok(DataLocation::EXTERNAL);
    if external {
        let bytes = read_external(t, dir)?;
        return from_raw(dtype, &shape, n, &bytes);
    }
    if !t.raw_data.is_empty() {
        return from_raw(dtype, &shape, n, &t.raw_data);
    }
    from_fields(t, dtype, &shape, n)
}

fn size_error(dtype: DType, shape: &[usize], n: usize, got: usize, unit: &str) -> Error {
    Error::InvalidModel(format!("shape {shape:?} of {dtype} needs {n} {unit}, but the data holds {got}"))
}

/// Little-endian fixed-width elements (sub-byte types packed, low bits first).
fn from_raw(dtype: DType, shape: &[usize], n: usize, bytes: &[u8]) -> Result<Tensor> {
    if dtype == DType::Str {
        return Err(Error::InvalidModel("string tensors cannot use raw_data".into()));
    }
    let bits = dtype.bits();
    let needed = (n * bits).div_ceil(8);
    if bytes.len() != needed {
        return Err(size_error(dtype, shape, needed, bytes.len(), "bytes"));
    }
    if dtype.is_small() {
        return Tensor::from_small(dtype, shape, unpack(bytes, bits, n));
    }
    macro_rules! le {
        ($t:ty, $w:expr) => {
            Tensor::from_vec(shape, bytes.chunks_exact($w).map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk width"))).collect())
        };
    }
    match dtype {
        DType::Bool => Tensor::from_vec(shape, bytes.iter().map(|&b| b != 0).collect()),
        DType::U8 => Tensor::from_vec(shape, bytes.to_vec()),
        DType::I8 => Tensor::from_vec(shape, bytes.iter().map(|&b| b as i8).collect()),
        DType::U16 => le!(u16, 2),
        DType::I16 => le!(i16, 2),
        DType::U32 => le!(u32, 4),
        DType::I32 => le!(i32, 4),
        DType::U64 => le!(u64, 8),
        DType::I64 => le!(i64, 8),
        DType::F16 => le!(f16, 2),
        DType::BF16 => le!(bf16, 2),
        DType::F32 => le!(f32, 4),
        DType::F64 => le!(f64, 8),
        other => Err(Error::Unsupported(format!("raw data of type {other}"))),
    }
}

/// Unpacks `n` elements of `bits` bits each, lowest bits first.
fn unpack(bytes: &[u8], bits: usize, n: usize) -> Vec<u8> {
    let per_byte = 8 / bits;
    let mask = ((1u16 << bits) - 1) as u8;
    (0..n).map(|i| (bytes[i / per_byte] >> ((i % per_byte) * bits)) & mask).collect()
}

fn from_fields(t: &TensorProto, dtype: DType, shape: &[usize], n: usize) -> Result<Tensor> {
    let check = |got: usize| if got == n { Ok(()) } else { Err(size_error(dtype, shape, n, got, "elements")) };
    match dtype {
        DType::F32 => {
            check(t.float_data.len())?;
            Tensor::from_vec(shape, t.float_data.clone())
        }
        DType::F64 => {
            check(t.double_data.len())?;
            Tensor::from_vec(shape, t.double_data.clone())
        }
        DType::I64 => {
            check(t.int64_data.len())?;
            Tensor::from_vec(shape, t.int64_data.clone())
        }
        DType::U64 => {
            check(t.uint64_data.len())?;
            Tensor::from_vec(shape, t.uint64_data.clone())
        }
        DType::U32 => {
            check(t.uint64_data.len())?;
            Tensor::from_vec(shape, t.uint64_data.iter().map(|&v| v as u32).collect())
        }
        DType::Str => {
            check(t.string_data.len())?;
            Tensor::from_vec(shape, t.string_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
        }
        DType::I32 => int32_field(t, check, shape, |v| v),
        DType::I16 => int32_field(t, check, shape, |v| v as i16),
        DType::I8 => int32_field(t, check, shape, |v| v as i8),
        DType::U16 => int32_field(t, check, shape, |v| v as u16),
        DType::U8 => int32_field(t, check, shape, |v| v as u8),
        DType::Bool => int32_field(t, check, shape, |v| v != 0),
        DType::F16 => int32_field(t, check, shape, |v| f16::from_bits(v as u16)),
        DType::BF16 => int32_field(t, check, shape, |v| bf16::from_bits(v as u16)),
        d if d.bits() == 8 => {
            check(t.int32_data.len())?;
            Tensor::from_small(d, shape, t.int32_data.iter().map(|&v| v as u8).collect())
        }
        d => {
            // 4-bit and 2-bit types: packed into the low byte of each int32.
            let bytes: Vec<u8> = t.int32_data.iter().map(|&v| v as u8).collect();
            let needed = (n * d.bits()).div_ceil(8);
            if bytes.len() != needed {
                return Err(size_error(d, shape, needed, bytes.len(), "packed int32 entries"));
            }
            Tensor::from_small(d, shape, unpack(&bytes, d.bits(), n))
        }
    }
}

fn int32_field<T: crate::tensor::Elem>(
    t: &TensorProto,
    check: impl Fn(usize) -> Result<()>,
    shape: &[usize],
    f: impl Fn(i32) -> T,
) -> Result<Tensor> {
    check(t.int32_data.len())?;
    Tensor::from_vec(shape, t.int32_data.iter().map(|&v| f(v)).collect())
}

fn read_external(t: &TensorProto, dir: &DataDir) -> Result<Vec<u8>> {
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for kv in &t.external_data {
        let number = || kv.value.parse::<u64>().map_err(|_| Error::InvalidModel(format!("external data {} '{}' is not a number", kv.key, kv.value)));
        match kv.key.as_str() {
            "location" => location = Some(kv.value.clone()),
            "offset" => offset = number()?,
            "length" => length = Some(number()?),
            _ => {}
        }
    }
    let location = location.ok_or_else(|| Error::InvalidModel("external data without a location".into()))?;
    let rel = Path::new(&location);
    if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(Error::InvalidModel(format!("external data location '{location}' must be a relative path inside the model's directory")));
    }
    let Some(dir) = dir.0 else {
        return Err(Error::InvalidModel(format!("external data '{location}' but the model was not loaded from a file")));
    };
    let path = dir.join(rel);
    let bytes = std::fs::read(&path).map_err(|e| Error::InvalidModel(format!("cannot read external data {}: {e}", path.display())))?;
    let start = usize::try_from(offset).ok().filter(|&s| s <= bytes.len());
    let Some(start) = start else {
        return Err(Error::InvalidModel(format!("external data offset {offset} is past the end of {} ({} bytes)", path.display(), bytes.len())));
    };
    let end = match length {
        None => bytes.len(),
        Some(len) => match usize::try_from(len).ok().and_then(|l| start.checked_add(l)).filter(|&e| e <= bytes.len()) {
            Some(e) => e,
            None => return Err(Error::InvalidModel(format!("external data [{offset}, +{len}) runs past the end of {} ({} bytes)", path.display(), bytes.len()))),
        },
    };
    Ok(bytes[start..end].to_vec())
}

/// Decodes a sparse tensor into its dense equivalent.
pub fn decode_sparse(s: &SparseTensorProto, dir: &DataDir, what: &str) -> Result<Tensor> {
    let err = |m: String| Error::InvalidModel(format!("{what}: {m}"));
    let values = s.values.as_ref().ok_or_else(|| err("sparse tensor without values".into()))?;
    let indices = s.indices.as_ref().ok_or_else(|| err("sparse tensor without indices".into()))?;
    let values = decode(values, dir, what)?;
    let indices = decode(indices, dir, what)?.to_i64_vec().map_err(|e| err(strip(e)))?;
    let shape = shape_from_i64(&s.dims).map_err(|e| err(strip(e)))?;
    let total: usize = shape.iter().product();
    let nnz = values.len();
    let outside = |i: &[i64]| err(format!("index {i:?} is outside shape {shape:?}"));
    let mut linear: Vec<usize> = Vec::with_capacity(nnz);
    if indices.len() == nnz {
        for &i in &indices {
            linear.push(usize::try_from(i).ok().filter(|&i| i < total).ok_or_else(|| outside(&[i]))?);
        }
    } else if shape.len() > 1 && Some(indices.len()) == nnz.checked_mul(shape.len()) {
        for idx in indices.chunks(shape.len()) {
            let mut flat = 0usize;
            for (&i, &d) in idx.iter().zip(&shape) {
                let i = usize::try_from(i).ok().filter(|&i| i < d).ok_or_else(|| outside(idx))?;
                // In bounds per dimension, so below `total`: no overflow.
                flat = flat * d + i;
            }
            linear.push(flat);
        }
    } else {
        return Err(err(format!("{} indices do not match {nnz} values", indices.len())));
    }
    let flat = values.reshape(&[nnz]).map_err(|e| err(strip(e)))?;
    let mut dense = Tensor::zeros(values.dtype(), &shape).map_err(|e| err(strip(e)))?;
    crate::ops::util::scatter_flat(&mut dense, &linear, &flat).map_err(|e| err(strip(e)))?;
    Ok(dense)
}
