//! `.npy` reading and writing for the bare-metal harness of a generated
//! model: no_std, no heap, streamed through small stack buffers.
//! Little-endian, C order, the element types qcc generates code for; the
//! same checks and messages as the hosted harness's npy.rs. Copied next to
//! the generated harness as `npy.rs`; the I/O goes through the two traits
//! below (implemented for semihosting::File in the harness).

#![allow(dead_code)]

use core::fmt;

/// A byte source: `read` returns how many bytes it put in `buf`, 0 at the end.
pub trait Read {
    type Error: fmt::Display;
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;
}

/// A byte sink.
pub trait Write {
    type Error: fmt::Display;
    fn write_all(&mut self, data: &[u8]) -> Result<(), Self::Error>;
}

/// An element type with its `.npy` descriptor.
pub trait Element: Copy {
    const DESCR: &'static str;
    const SIZE: usize;
    fn from_le(b: &[u8]) -> Self;
    fn to_le(self, out: &mut [u8]);
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
            fn to_le(self, out: &mut [u8]) {
                out[..Self::SIZE].copy_from_slice(&self.to_le_bytes());
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
    fn to_le(self, out: &mut [u8]) {
        out[0] = self as u8;
    }
}

/// The most dimensions a header may give.
pub const MAX_DIMS: usize = 16;
/// The longest header read (numpy writes ~118 bytes for up to 8 dims).
const MAX_HEADER: usize = 1024;
/// Bytes moved per read or write call.
const CHUNK: usize = 512;

/// A shape as read from a header, printed like `[1, 1, 8, 8]`.
#[derive(Clone, Copy)]
pub struct Dims {
    dims: [usize; MAX_DIMS],
    len: usize,
}

impl Dims {
    fn as_slice(&self) -> &[usize] {
        &self.dims[..self.len]
    }
}

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.as_slice().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// What went wrong; shown after the file's name, as `path: message`.
pub enum Error<E> {
    Io(E),
    NotNpy,
    Version(u8),
    HeaderTooLong(usize),
    Truncated,
    NoDescr,
    /// The header's descriptor (up to 16 bytes of it) and the wanted one.
    ElementType([u8; 16], usize, &'static str),
    Fortran,
    NoShape,
    Shape(Dims, &'static [usize]),
    DataBytes(usize, usize),
    /// Writing: the header does not fit the buffer.
    ShapeTooLong,
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::NotNpy => f.write_str("not a .npy file"),
            Error::Version(v) => write!(f, "unsupported .npy version {v}"),
            Error::HeaderTooLong(n) => write!(f, "header of {n} bytes, at most {MAX_HEADER} supported"),
            Error::Truncated => f.write_str("truncated header"),
            Error::NoDescr => f.write_str("no descr in header"),
            Error::ElementType(d, n, want) => {
                write!(f, "element type {}, expected '{want}'", core::str::from_utf8(&d[..*n]).unwrap_or("?"))
            }
            Error::Fortran => f.write_str("Fortran-order arrays are not supported"),
            Error::NoShape => f.write_str("no shape in header"),
            Error::Shape(found, want) => {
                write!(f, "shape {found}, expected ")?;
                let want = Dims { dims: dims_array(want), len: want.len().min(MAX_DIMS) };
                write!(f, "{want}")
            }
            Error::DataBytes(n, want) => write!(f, "{n} data bytes, expected {want}"),
            Error::ShapeTooLong => f.write_str("shape too long for the .npy header buffer"),
        }
    }
}

fn dims_array(s: &[usize]) -> [usize; MAX_DIMS] {
    let mut d = [0; MAX_DIMS];
    for (a, b) in d.iter_mut().zip(s) {
        *a = *b;
    }
    d
}

/// Reads until `buf` is full or the source ends; returns the bytes read.
fn read_full<R: Read>(src: &mut R, buf: &mut [u8]) -> Result<usize, Error<R::Error>> {
    let mut n = 0;
    while n < buf.len() {
        let k = src.read(&mut buf[n..]).map_err(Error::Io)?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

/// Reads a `.npy` file from `src` into `out`: it must hold `shape`
/// (`out.len()` elements) of `T`, little-endian (any byte order marker for
/// 1-byte types), in C order, and nothing more.
pub fn read<T: Element, R: Read>(src: &mut R, shape: &'static [usize], out: &mut [T]) -> Result<(), Error<R::Error>> {
    let mut pre = [0u8; 12];
    if read_full(src, &mut pre[..10])? < 10 || &pre[..6] != b"\x93NUMPY" {
        return Err(Error::NotNpy);
    }
    let header_len = match pre[6] {
        1 => u16::from_le_bytes([pre[8], pre[9]]) as usize,
        2 | 3 => {
            if read_full(src, &mut pre[10..12])? < 2 {
                return Err(Error::Truncated);
            }
            u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as usize
        }
        v => return Err(Error::Version(v)),
    };
    if header_len > MAX_HEADER {
        return Err(Error::HeaderTooLong(header_len));
    }
    let mut hbuf = [0u8; MAX_HEADER];
    if read_full(src, &mut hbuf[..header_len])? < header_len {
        return Err(Error::Truncated);
    }
    let header = core::str::from_utf8(&hbuf[..header_len]).map_err(|_| Error::NotNpy)?;

    let descr = field(header, "descr").ok_or(Error::NoDescr)?;
    let want = T::DESCR.trim_start_matches(['<', '|']);
    if descr.trim_matches(['\'', '"']).trim_start_matches(['<', '|', '=']) != want {
        let mut d = [0u8; 16];
        let n = descr.len().min(16);
        d[..n].copy_from_slice(&descr.as_bytes()[..n]);
        return Err(Error::ElementType(d, n, T::DESCR));
    }
    if field(header, "fortran_order").is_some_and(|f| f.starts_with('T')) {
        return Err(Error::Fortran);
    }
    let dims = parse_shape(header).ok_or(Error::NoShape)?;
    if dims.as_slice() != shape {
        return Err(Error::Shape(dims, shape));
    }

    // The data, converted chunk by chunk.
    let want_bytes = out.len() * T::SIZE;
    let mut chunk = [0u8; CHUNK];
    let per_chunk = CHUNK / T::SIZE;
    let mut got = 0;
    for part in out.chunks_mut(per_chunk) {
        let bytes = part.len() * T::SIZE;
        let n = read_full(src, &mut chunk[..bytes])?;
        got += n;
        if n < bytes {
            return Err(Error::DataBytes(got, want_bytes));
        }
        for (v, b) in part.iter_mut().zip(chunk.chunks_exact(T::SIZE)) {
            *v = T::from_le(b);
        }
    }
    // Nothing may follow.
    loop {
        let n = src.read(&mut chunk).map_err(Error::Io)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    if got != want_bytes {
        return Err(Error::DataBytes(got, want_bytes));
    }
    Ok(())
}

fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    // "'key':" without allocating: find the key, then its colon.
    let mut rest = header;
    loop {
        let i = rest.find(key)?;
        let before = &rest[..i];
        let after = &rest[i + key.len()..];
        if before.ends_with(['\'', '"']) && after.starts_with(['\'', '"']) {
            let value = after[1..].trim_start().strip_prefix(':')?;
            return Some(value.trim_start().split([',', '}']).next()?.trim());
        }
        rest = after;
    }
}

fn parse_shape(header: &str) -> Option<Dims> {
    let i = header.find("'shape'").or_else(|| header.find("\"shape\""))?;
    let rest = &header[i + 7..];
    let open = rest.find('(')?;
    let close = rest[open..].find(')')? + open;
    let mut dims = Dims { dims: [0; MAX_DIMS], len: 0 };
    for part in rest[open + 1..close].split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if dims.len == MAX_DIMS {
            return None;
        }
        dims.dims[dims.len] = part.trim_end_matches('L').parse().ok()?;
        dims.len += 1;
    }
    Some(dims)
}

/// A fixed buffer written through core::fmt.
struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> fmt::Write for Text<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `data` of `shape` to `dst` as a version 1.0 `.npy` file (the
/// header padded with spaces and a newline to a multiple of 64 bytes).
pub fn write<T: Element, W: Write>(dst: &mut W, shape: &[usize], data: &[T]) -> Result<(), Error<W::Error>> {
    let mut h = Text::<512> { buf: [0; 512], len: 10 };
    h.buf[..8].copy_from_slice(b"\x93NUMPY\x01\x00");
    let r = header_text(&mut h, T::DESCR, shape);
    if r.is_err() || h.len - 10 > u16::MAX as usize {
        return Err(Error::ShapeTooLong);
    }
    let header_len = (h.len - 10) as u16;
    h.buf[8..10].copy_from_slice(&header_len.to_le_bytes());
    dst.write_all(&h.buf[..h.len]).map_err(Error::Io)?;

    let mut chunk = [0u8; CHUNK];
    for part in data.chunks(CHUNK / T::SIZE) {
        for (v, b) in part.iter().zip(chunk.chunks_exact_mut(T::SIZE)) {
            v.to_le(b);
        }
        dst.write_all(&chunk[..part.len() * T::SIZE]).map_err(Error::Io)?;
    }
    Ok(())
}

/// The header dict after the 10 bytes of magic, version and length.
fn header_text<const N: usize>(h: &mut Text<N>, descr: &str, shape: &[usize]) -> fmt::Result {
    use fmt::Write as _;
    write!(h, "{{'descr': '{descr}', 'fortran_order': False, 'shape': (")?;
    for (i, d) in shape.iter().enumerate() {
        if i > 0 {
            h.write_str(", ")?;
        }
        write!(h, "{d}")?;
    }
    h.write_str(if shape.len() == 1 { ",), }" } else { "), }" })?;
    while !(h.len + 1).is_multiple_of(64) {
        h.write_str(" ")?;
    }
    h.write_str("\n")
}
