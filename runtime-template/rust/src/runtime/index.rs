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
