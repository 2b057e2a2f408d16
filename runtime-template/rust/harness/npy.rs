//! Minimal `.npy` reading and writing for the harness of a generated model
//! (little-endian, C order, the element types qcc generates code for).
//! Copied next to the generated harness; uses std.

use std::io::Write;

/// An element type with its `.npy` descriptor.
pub trait Element: Copy + Default {
    const DESCR: &'static str;
    const SIZE: usize;
    fn from_le(b: &[u8]) -> Self;
    fn to_le(self, out: &mut Vec<u8>);
}

macro_rules! element {
    ($($t:ty => $d:expr),*) => {$(
        impl Element for $t {
            const DESCR: &'static str = $d;
            const SIZE: usize = core::mem::size_of::<$t>();
            fn from_le(b: &[u8]) -> Self {
                let mut a = [0u8; core::mem::size_of::<$t>()];
                a.copy_from_slice(&b[..Self::SIZE]);
                <$t>::from_le_bytes(a)
            }
            fn to_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
element!(f32 => "<f4", f64 => "<f8", i8 => "|i1", i16 => "<i2", i32 => "<i4", i64 => "<i8",
         u8 => "|u1", u16 => "<u2", u32 => "<u4", u64 => "<u8");

impl Element for bool {
    const DESCR: &'static str = "|b1";
    const SIZE: usize = 1;
    fn from_le(b: &[u8]) -> Self {
        b[0] != 0
    }
    fn to_le(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
}

/// Reads `path`, which must hold `shape` elements of `T` (any byte order
/// marker for 1-byte types), in C order.
pub fn read<T: Element>(path: &str, shape: &[usize]) -> Result<Vec<T>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let bad = |m: &str| format!("{path}: {m}");
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        _ => return Err(bad("unsupported .npy version")),
    };
    let header = bytes.get(start..start + header_len).ok_or_else(|| bad("truncated header"))?;
    let header = String::from_utf8_lossy(header);
    let descr = field(&header, "descr").ok_or_else(|| bad("no descr in header"))?;
    let want = T::DESCR.trim_start_matches(['<', '|']);
    if descr.trim_matches(['\'', '"']).trim_start_matches(['<', '|', '=']) != want {
        return Err(bad(&format!("element type {descr}, expected '{}'", T::DESCR)));
    }
    if field(&header, "fortran_order").is_some_and(|f| f.starts_with('T')) {
        return Err(bad("Fortran-order arrays are not supported"));
    }
    let dims: Vec<usize> = header
        .split("'shape':")
        .nth(1)
        .and_then(|r| r.split('(').nth(1))
        .and_then(|r| r.split(')').next())
        .map(|s| s.split(',').filter_map(|d| d.trim().parse().ok()).collect())
        .ok_or_else(|| bad("no shape in header"))?;
    if dims != shape {
        return Err(bad(&format!("shape {dims:?}, expected {shape:?}")));
    }
    let n: usize = shape.iter().product();
    let data = &bytes[start + header_len..];
    if data.len() != n * T::SIZE {
        return Err(bad(&format!("{} data bytes, expected {}", data.len(), n * T::SIZE)));
    }
    Ok(data.chunks_exact(T::SIZE).map(T::from_le).collect())
}

fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let rest = header.split(&format!("'{key}':")).nth(1)?;
    Some(rest.trim_start().split([',', '}']).next()?.trim())
}

/// Writes `data` of `shape` to `path`.
pub fn write<T: Element>(path: &str, shape: &[usize], data: &[T]) -> Result<(), String> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {shape_text}, }}", T::DESCR);
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * T::SIZE);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for &v in data {
        v.to_le(&mut out);
    }
    let mut f = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
    f.write_all(&out).map_err(|e| format!("{path}: {e}"))
}
