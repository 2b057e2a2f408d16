//! Gather and GatherElements with indices known only at run time (token
//! ids, argmax results). Indices are int64; a negative index counts from
//! the end of its axis, and an index outside `[-len, len)` selects zeros
//! (ONNX leaves it undefined; generated code neither panics nor reads
//! outside the data).

use super::super::index::{element_offset, tuple_offset, wrap_index};

/// Gather along the middle axis of `x` = `[outer, axis_len, inner]` with
/// `dims = [outer, axis_len, inner, count]`: row `k` of block `o` of `y`
/// (`[outer, count, inner]`) is row `idx[k]` of block `o` of `x`.
pub fn gather<T: Copy + Default>(x: &[T], idx: &[i64], y: &mut [T], dims: &[usize]) {
    let &[outer, axis_len, inner, count] = dims else { return };
    for o in 0..outer {
        for (k, &i) in idx.iter().enumerate().take(count) {
            let at = (o * count + k) * inner;
            let Some(dst) = y.get_mut(at..at + inner) else { return };
            let from = wrap_index(i, axis_len).map(|j| (o * axis_len + j) * inner);
            match from.and_then(|f| x.get(f..f + inner)) {
                Some(src) => dst.copy_from_slice(src),
                None => dst.fill(T::default()),
            }
        }
    }
}

/// GatherElements: `dims = [rank, axis, idx dims (rank), x dims (rank)]`;
/// `y` has the shape of `idx`, and element `e` of it is the element of `x`
/// at `e`'s coordinates with the one on `axis` replaced by `idx[e]`.
pub fn gather_elements<T: Copy + Default>(x: &[T], idx: &[i64], y: &mut [T], dims: &[usize]) {
    let (rank, axis) = (dims.first().copied().unwrap_or(0), dims.get(1).copied().unwrap_or(0));
    let (Some(idx_dims), Some(x_dims)) = (dims.get(2..2 + rank), dims.get(2 + rank..2 + 2 * rank)) else { return };
    for (e, (out, &i)) in y.iter_mut().zip(idx).enumerate() {
        *out = element_offset(e, idx_dims, x_dims, axis, i).and_then(|o| x.get(o)).copied().unwrap_or_default();
    }
}

/// GatherND: `dims = [batch, count, slice, k, d_1..d_k]`. Per batch entry
/// `b`, `x` holds a `[d_1, .., d_k, slice]` block and `idx` `count` tuples
/// of `k` indices; tuple `c` selects the slice at `(i_1, .., i_k)`, which
/// becomes slice `b·count + c` of `y`.
pub fn gather_nd<T: Copy + Default>(x: &[T], idx: &[i64], y: &mut [T], dims: &[usize]) {
    let (Some(&batch), Some(&count), Some(&slice), Some(&k)) = (dims.first(), dims.get(1), dims.get(2), dims.get(3)) else { return };
    let axes = dims.get(4..4 + k).unwrap_or(&[]);
    let block = axes.iter().product::<usize>() * slice;
    for t in 0..batch * count {
        let Some(tuple) = idx.get(t * k..t * k + k) else { return };
        let from = tuple_offset(tuple, axes).map(|o| (t / count.max(1)) * block + o * slice);
        let Some(dst) = y.get_mut(t * slice..t * slice + slice) else { return };
        match from.and_then(|f| x.get(f..f + slice)) {
            Some(src) => dst.copy_from_slice(src),
            None => dst.fill(T::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_rows_with_negative_and_invalid_indices() {
        let x = [1, 2, 3, 4, 5, 6];
        let mut y = [9; 8];
        gather(&x, &[2, -3, 7, 1], &mut y, &[1, 3, 2, 4]);
        assert_eq!(y, [5, 6, 1, 2, 0, 0, 3, 4]);
    }

    #[test]
    fn gather_elements_along_the_last_axis() {
        let x = [1, 2, 3, 4];
        let mut y = [0; 4];
        gather_elements(&x, &[0, 0, 1, -2], &mut y, &[2, 1, 2, 2, 2, 2]);
        assert_eq!(y, [1, 1, 4, 3]);
        gather_elements(&x, &[1, 0], &mut y[..2], &[2, 0, 1, 2, 2, 2]);
        assert_eq!(y[..2], [3, 2]);
    }

    #[test]
    fn gather_nd_slices_and_batches() {
        // x = [[1, 2], [3, 4]]: tuples (1) and (0) pick rows; (1, 0) an element.
        let x = [1, 2, 3, 4];
        let mut y = [0; 4];
        gather_nd(&x, &[1, 0], &mut y, &[1, 2, 2, 1, 2]);
        assert_eq!(y, [3, 4, 1, 2]);
        gather_nd(&x, &[1, 0, 5, 0], &mut y[..2], &[1, 2, 1, 2, 2, 2]);
        assert_eq!(y[..2], [3, 0]);
        // batch_dims = 1: row b picks its own element.
        gather_nd(&x, &[1, 0], &mut y[..2], &[2, 1, 1, 1, 2]);
        assert_eq!(y[..2], [2, 3]);
    }
}
