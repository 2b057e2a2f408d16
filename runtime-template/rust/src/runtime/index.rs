//! Index arithmetic shared by the kernels.

/// Offset of element `flat` (row-major over `dims`) under `strides`; a
/// zero-sized dimension contributes nothing.
#[inline(always)]
pub fn strided_offset(mut flat: usize, dims: &[usize], strides: &[usize]) -> usize {
    let mut off = 0;
    for (&d, &s) in dims.iter().zip(strides).rev() {
        if d != 0 {
            off += (flat % d) * s;
            flat /= d;
        }
    }
    off
}

/// `i` as a position on an axis of `len` elements, negatives counting from
/// the end; `None` outside `[-len, len)`.
#[inline(always)]
pub fn wrap_index(i: i64, len: usize) -> Option<usize> {
    let n = len as i64;
    let j = if i < 0 { i.wrapping_add(n) } else { i };
    (0..n).contains(&j).then_some(j as usize)
}

/// The row-major offset in a tensor of `dims` of element `e` of a tensor of
/// `idx_dims` (same rank), its coordinate on `axis` replaced by index `i`
/// (GatherElements, ScatterElements); `None` when `i` is out of range.
#[inline(always)]
pub fn element_offset(e: usize, idx_dims: &[usize], dims: &[usize], axis: usize, i: i64) -> Option<usize> {
    let (mut rest, mut offset, mut stride) = (e, 0usize, 1usize);
    for (d, (&n, &len)) in idx_dims.iter().zip(dims).enumerate().rev() {
        let c = if d == axis { wrap_index(i, len)? } else { rest % n.max(1) };
        rest /= n.max(1);
        offset += c * stride;
        stride *= len;
    }
    Some(offset)
}

/// The row-major position of the index tuple `tuple` in `axes` (GatherND,
/// ScatterND); `None` when an index is out of range.
#[inline(always)]
pub fn tuple_offset(tuple: &[i64], axes: &[usize]) -> Option<usize> {
    let mut offset = 0usize;
    for (&i, &d) in tuple.iter().zip(axes) {
        offset = offset * d + wrap_index(i, d)?;
    }
    Some(offset)
}
