//! Reading and writing NumPy `.npy` and `.npz` files.
//!
//! Supported element types: bool, (u)int8..64, float16, float32, float64, in
//! either byte order and C or Fortran order. `.npz` archives may be stored or
//! deflate-compressed; qcc writes them deflated.

use super::{DType, Elem, Tensor};
use crate::{Error, Result};
use half::f16;
use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use npyz::{NpyFile, Order, TypeChar, WriterBuilder};
use std::io::{Read, Seek, Write};
use std::path::Path;

/// Reads one array from `.npy` bytes.
pub fn read_npy(bytes: &[u8]) -> Result<Tensor> {
    check_header_shape(bytes)?;
    let npy = NpyFile::new(bytes).map_err(|e| Error::Usage(format!("not a valid .npy file: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    super::checked_numel(&shape)?;
    let fortran = npy.order() == Order::Fortran;
    let dtype = match npy.dtype() {
        npyz::DType::Plain(ts) => match (ts.type_char(), ts.size_field()) {
            (TypeChar::Bool, 1) => DType::Bool,
            (TypeChar::Int, 1) => DType::I8,
            (TypeChar::Int, 2) => DType::I16,
            (TypeChar::Int, 4) => DType::I32,
            (TypeChar::Int, 8) => DType::I64,
            (TypeChar::Uint, 1) => DType::U8,
            (TypeChar::Uint, 2) => DType::U16,
            (TypeChar::Uint, 4) => DType::U32,
            (TypeChar::Uint, 8) => DType::U64,
            (TypeChar::Float, 2) => DType::F16,
            (TypeChar::Float, 4) => DType::F32,
            (TypeChar::Float, 8) => DType::F64,
            _ => return Err(Error::Usage(format!(".npy element type '{ts}' is not supported"))),
        },
        other => return Err(Error::Usage(format!(".npy element type {other:?} is not supported"))),
    };
    let bad = |e: std::io::Error| Error::Usage(format!("cannot read .npy data: {e}"));
    match dtype {
        DType::Bool => build(&shape, fortran, npy.into_vec::<bool>().map_err(bad)?),
        DType::I8 => build(&shape, fortran, npy.into_vec::<i8>().map_err(bad)?),
        DType::I16 => build(&shape, fortran, npy.into_vec::<i16>().map_err(bad)?),
        DType::I32 => build(&shape, fortran, npy.into_vec::<i32>().map_err(bad)?),
        DType::I64 => build(&shape, fortran, npy.into_vec::<i64>().map_err(bad)?),
        DType::U8 => build(&shape, fortran, npy.into_vec::<u8>().map_err(bad)?),
        DType::U16 => build(&shape, fortran, npy.into_vec::<u16>().map_err(bad)?),
        DType::U32 => build(&shape, fortran, npy.into_vec::<u32>().map_err(bad)?),
        DType::U64 => build(&shape, fortran, npy.into_vec::<u64>().map_err(bad)?),
        DType::F16 => build(&shape, fortran, npy.into_vec::<f16>().map_err(bad)?),
        DType::F32 => build(&shape, fortran, npy.into_vec::<f32>().map_err(bad)?),
        _ => build(&shape, fortran, npy.into_vec::<f64>().map_err(bad)?),
    }
}

/// Rejects a header whose shape multiplies past `u64` (zero dimensions
/// aside) before npyz sees it: npyz multiplies the dimensions unchecked.
/// Headers this cannot read are left to npyz to reject.
fn check_header_shape(bytes: &[u8]) -> Result<()> {
    let header = match (bytes.get(..6), bytes.get(6)) {
        (Some(b"\x93NUMPY"), Some(1)) => bytes.get(8..10).map(|l| (10usize, u16::from_le_bytes([l[0], l[1]]) as usize)),
        (Some(b"\x93NUMPY"), Some(_)) => bytes.get(8..12).map(|l| (12, u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize)),
        _ => None,
    };
    let Some(text) = header.and_then(|(start, len)| bytes.get(start..start.checked_add(len)?)) else { return Ok(()) };
    let text = String::from_utf8_lossy(text);
    let Some(after) = text.split_once("'shape'").map(|(_, rest)| rest) else { return Ok(()) };
    let Some(tuple) = after.split_once('(').and_then(|(_, rest)| rest.split_once(')')).map(|(t, _)| t) else {
        return Ok(());
    };
    let mut product: u64 = 1;
    for dim in tuple.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let Ok(d) = dim.parse::<u64>() else { return Ok(()) };
        product = match product.checked_mul(d.max(1)) {
            Some(p) => p,
            None => return Err(Error::Usage(format!(".npy shape ({tuple}) has more elements than fit in memory"))),
        };
    }
    Ok(())
}

fn build<T: Elem>(shape: &[usize], fortran: bool, data: Vec<T>) -> Result<Tensor> {
    let array = if fortran {
        ArrayD::from_shape_vec(IxDyn(shape).f(), data)
    } else {
        ArrayD::from_shape_vec(IxDyn(shape), data)
    }
    .map_err(|e| Error::Usage(format!(".npy data does not match its shape {shape:?}: {e}")))?;
    // Normalise to row-major storage.
    Ok(T::wrap(array.as_standard_layout().into_owned()))
}

/// Writes one tensor as `.npy` bytes.
pub fn write_npy(t: &Tensor, out: &mut impl Write) -> Result<()> {
    let io = |e: std::io::Error| Error::Op(format!("cannot write .npy data: {e}"));
    macro_rules! write {
        ($a:expr) => {{
            let shape: Vec<u64> = $a.shape().iter().map(|&d| d as u64).collect();
            let mut w = npyz::WriteOptions::new().default_dtype().shape(&shape).writer(&mut *out).begin_nd().map_err(io)?;
            w.extend($a.iter().cloned()).map_err(io)?;
            w.finish().map_err(io)
        }};
    }
    match t {
        Tensor::Bool(a) => write!(a),
        Tensor::U8(a) => write!(a),
        Tensor::I8(a) => write!(a),
        Tensor::U16(a) => write!(a),
        Tensor::I16(a) => write!(a),
        Tensor::U32(a) => write!(a),
        Tensor::I32(a) => write!(a),
        Tensor::U64(a) => write!(a),
        Tensor::I64(a) => write!(a),
        Tensor::F16(a) => write!(a),
        Tensor::F32(a) => write!(a),
        Tensor::F64(a) => write!(a),
        other => Err(Error::Unsupported(format!("writing {} tensors to .npy", other.dtype()))),
    }
}

/// Reads `path` as `.npy`.
pub fn load_npy(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    read_npy(&bytes).map_err(|e| e.in_file(path))
}

/// Writes `t` to `path` as `.npy`.
pub fn save_npy(path: &Path, t: &Tensor) -> Result<()> {
    let mut bytes = Vec::new();
    write_npy(t, &mut bytes).map_err(|e| e.in_file(path))?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Reads every array of an `.npz` archive, in archive order, keyed by name
/// (the member name without its `.npy` suffix).
pub fn load_npz(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_npz(file).map_err(|e| e.in_file(path))
}

fn read_npz(reader: impl Read + Seek) -> Result<Vec<(String, Tensor)>> {
    let bad = |e: zip::result::ZipError| Error::Usage(format!("not a valid .npz archive: {e}"));
    let mut archive = zip::ZipArchive::new(reader).map_err(bad)?;
    let mut arrays = Vec::new();
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).map_err(bad)?;
        let name = member.name().map_err(bad)?.trim_end_matches(".npy").to_string();
        let mut bytes = Vec::new();
        member
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Usage(format!("cannot read array '{name}': {e}")))?;
        let t = read_npy(&bytes).map_err(|e| Error::Usage(format!("array '{name}': {e}")))?;
        arrays.push((name, t));
    }
    Ok(arrays)
}

/// Writes named arrays to an `.npz` archive (deflate-compressed).
pub fn save_npz(path: &Path, arrays: &[(String, Tensor)]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let zip_err = |e: zip::result::ZipError| Error::Op(format!("cannot write .npz: {e}")).in_file(path);
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, t) in arrays {
        zip.start_file(format!("{name}.npy"), options).map_err(zip_err)?;
        write_npy(t, &mut zip).map_err(|e| e.in_file(path))?;
    }
    zip.finish().map_err(zip_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip_keeps_type_and_shape() {
        let t = Tensor::from_vec(&[2, 3], vec![1.5f32, -2.0, 3.25, 0.0, 7.0, 8.0]).unwrap();
        let mut bytes = Vec::new();
        write_npy(&t, &mut bytes).unwrap();
        assert_eq!(read_npy(&bytes).unwrap(), t);
        let b = Tensor::from_vec(&[3], vec![true, false, true]).unwrap();
        let mut bytes = Vec::new();
        write_npy(&b, &mut bytes).unwrap();
        assert_eq!(read_npy(&bytes).unwrap(), b);
    }

    #[test]
    fn npy_header_shapes_that_overflow_are_errors() {
        for shape in ["(4294967296, 4294967296, 4294967296)", "(0, 18446744073709551615, 18446744073709551615)"] {
            let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}\n");
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
            bytes.extend_from_slice(dict.as_bytes());
            assert!(read_npy(&bytes).is_err(), "{shape}");
        }
    }

    #[test]
    fn npy_garbage_is_an_error() {
        assert!(read_npy(b"not numpy").is_err());
        assert!(read_npy(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'").is_err());
    }
}
