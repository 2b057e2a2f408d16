//! Trilu with the diagonal offset `k` known only at run time: the upper or
//! lower triangle of each matrix is kept, the rest becomes zero.

/// `dims = [matrices, rows, cols]`: element `(i, j)` of each matrix is kept
/// when `j - i >= k` (`upper`) or `j - i <= k`, else zero.
pub fn trilu<T: Copy + Default>(x: &[T], k: &[i64], y: &mut [T], dims: &[usize], upper: bool) {
    let (&[matrices, rows, cols], Some(&k)) = (dims, k.first()) else { return };
    for m in 0..matrices {
        for i in 0..rows {
            for j in 0..cols {
                let at = (m * rows + i) * cols + j;
                let diagonal = j as i64 - i as i64;
                let keep = if upper { diagonal >= k } else { diagonal <= k };
                if let (Some(d), Some(&s)) = (y.get_mut(at), x.get(at)) {
                    *d = if keep { s } else { T::default() };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_and_lower_triangles() {
        let x = [1, 2, 3, 4, 5, 6];
        let mut y = [9; 6];
        trilu(&x, &[0], &mut y, &[1, 2, 3], true);
        assert_eq!(y, [1, 2, 3, 0, 5, 6]);
        trilu(&x, &[-1], &mut y, &[1, 2, 3], false);
        assert_eq!(y, [0, 0, 0, 4, 0, 0]);
    }
}
