//! ScatterElements and ScatterND with indices known only at run time. The
//! output already holds a copy of the data; each update is combined into
//! it in order (`reduction` 0 replace, 1 add, 2 mul, 3 max, 4 min, NaN
//! winning max and min). A negative index counts from the end of its axis;
//! an update whose index is outside `[-len, len)` is skipped.

use super::super::index::{element_offset, tuple_offset};
use super::super::scalar::Num;

/// `old` combined with `new` under `reduction`.
#[inline(always)]
#[allow(clippy::eq_op)]
fn combine<T: Num>(old: T, new: T, reduction: i64) -> T {
    let pick = |take_new: bool| if old != old { old } else if new != new || take_new { new } else { old };
    match reduction {
        1 => old.add(new),
        2 => old.mul(new),
        3 => pick(new > old),
        4 => pick(new < old),
        _ => new,
    }
}

/// ScatterElements: `dims = [rank, axis, idx dims (rank), y dims (rank)]`;
/// `upd` has the shape of `idx`, and update `e` goes to `e`'s coordinates
/// in `y` with the one on `axis` replaced by `idx[e]`.
pub fn scatter_elements<T: Num>(y: &mut [T], idx: &[i64], upd: &[T], dims: &[usize], reduction: i64) {
    let (rank, axis) = (dims.first().copied().unwrap_or(0), dims.get(1).copied().unwrap_or(0));
    let (Some(idx_dims), Some(y_dims)) = (dims.get(2..2 + rank), dims.get(2 + rank..2 + 2 * rank)) else { return };
    for (e, (&i, &u)) in idx.iter().zip(upd).enumerate() {
        if let Some(v) = element_offset(e, idx_dims, y_dims, axis, i).and_then(|o| y.get_mut(o)) {
            *v = combine(*v, u, reduction);
        }
    }
}

/// ScatterND: `dims = [count, slice, k, d_1..d_k]`; `y` is `[d_1, .., d_k,
/// slice]`, and update slice `t` goes to the slice at tuple `t` of `idx`.
pub fn scatter_nd<T: Num>(y: &mut [T], idx: &[i64], upd: &[T], dims: &[usize], reduction: i64) {
    let (Some(&count), Some(&slice), Some(&k)) = (dims.first(), dims.get(1), dims.get(2)) else { return };
    let axes = dims.get(3..3 + k).unwrap_or(&[]);
    for t in 0..count {
        let Some(tuple) = idx.get(t * k..t * k + k) else { return };
        let (Some(o), Some(src)) = (tuple_offset(tuple, axes), upd.get(t * slice..t * slice + slice)) else { continue };
        let Some(dst) = y.get_mut(o * slice..o * slice + slice) else { continue };
        for (d, &u) in dst.iter_mut().zip(src) {
            *d = combine(*d, u, reduction);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_elements_replace_and_add() {
        let mut y = [1.0f32, 2.0, 3.0, 4.0];
        scatter_elements(&mut y, &[1, -1, 9], &[10.0, 20.0, 30.0], &[1, 0, 3, 4], 0);
        assert_eq!(y, [1.0, 10.0, 3.0, 20.0]);
        scatter_elements(&mut y, &[0, 0], &[1.0, 2.0], &[1, 0, 2, 4], 1);
        assert_eq!(y, [4.0, 10.0, 3.0, 20.0]);
    }

    #[test]
    fn scatter_nd_slices_with_max() {
        let mut y = [1, 2, 3, 4];
        scatter_nd(&mut y, &[1, 0], &[5, 1, 0, 9], &[2, 2, 1, 2], 3);
        assert_eq!(y, [1, 9, 5, 4]);
    }
}
