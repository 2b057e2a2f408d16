//! Resize over up to [`MAX_RANK`] axes from per-axis sampling tables that
//! qcc computes at compile time (`ops/resize_sample.rs`): nearest mode
//! copies (`resize_nearest`, any element type), linear and cubic modes
//! interpolate (`resize_filter`, float types, computed in [`Float::C`] and
//! rounded once when stored). A position of -1 marks an output position
//! outside the input (`tf_crop_and_resize`): the output there is `fill`.
//!
//! `dims` = [rank, input shape, output shape] (nearest), plus the taps per
//! output position of each axis (filter). Tables hold, axis after axis, one
//! entry per output position (nearest) or `taps` entries per output
//! position (filter: positions, and weights in the compute type).

use super::super::scalar::{Elem, Float, Real};

/// Most axes the kernels handle.
pub const MAX_RANK: usize = 8;

/// Shapes, input strides and table offsets of one call.
struct Geometry {
    rank: usize,
    input: [usize; MAX_RANK],
    output: [usize; MAX_RANK],
    taps: [usize; MAX_RANK],
    stride: [usize; MAX_RANK],
    /// Where each axis's entries start in the tables.
    table: [usize; MAX_RANK],
    table_len: usize,
}

impl Geometry {
    fn new(dims: &[usize], filter: bool) -> Option<Geometry> {
        let rank = *dims.first()?;
        if rank == 0 || rank > MAX_RANK || dims.len() != 1 + rank * if filter { 3 } else { 2 } {
            return None;
        }
        let mut g = Geometry {
            rank,
            input: [0; MAX_RANK],
            output: [0; MAX_RANK],
            taps: [1; MAX_RANK],
            stride: [0; MAX_RANK],
            table: [0; MAX_RANK],
            table_len: 0,
        };
        for a in 0..rank {
            g.input[a] = dims[1 + a];
            g.output[a] = dims[1 + rank + a];
            if filter {
                g.taps[a] = dims[1 + 2 * rank + a];
                if g.taps[a] == 0 {
                    return None;
                }
            }
        }
        let mut s = 1;
        for a in (0..rank).rev() {
            g.stride[a] = s;
            s *= g.input[a];
        }
        for a in 0..rank {
            g.table[a] = g.table_len;
            g.table_len += g.output[a] * g.taps[a];
        }
        Some(g)
    }

    fn in_len(&self) -> usize {
        self.input[..self.rank].iter().product()
    }

    fn out_len(&self) -> usize {
        self.output[..self.rank].iter().product()
    }

    /// Whether every position of `pos` is -1 or inside its axis.
    fn positions_fit(&self, pos: &[i32]) -> bool {
        (0..self.rank).all(|a| {
            pos[self.table[a]..self.table[a] + self.output[a] * self.taps[a]].iter().all(|&p| p >= -1 && (p as i64) < self.input[a] as i64)
        })
    }

    /// Steps the output multi-index `j` over the first `axes` axes in
    /// row-major order.
    #[inline(always)]
    fn next(&self, j: &mut [usize; MAX_RANK], axes: usize) {
        let mut a = axes;
        while a > 0 {
            a -= 1;
            j[a] += 1;
            if j[a] < self.output[a] {
                return;
            }
            j[a] = 0;
        }
    }
}

/// Nearest mode: `y[j] = x[picks(j)]`, or `fill` where a pick is -1.
pub fn resize_nearest<T: Elem>(x: &[T], y: &mut [T], picks: &[i32], dims: &[usize], fill: T) {
    let Some(g) = Geometry::new(dims, false) else { return };
    if x.len() < g.in_len() || y.len() < g.out_len() || picks.len() < g.table_len || !g.positions_fit(picks) {
        return;
    }
    let last = g.rank - 1;
    let row = g.output[last];
    let inner = &picks[g.table[last]..g.table[last] + row];
    if row == 0 {
        return;
    }
    let mut j = [0usize; MAX_RANK];
    for out in y[..g.out_len()].chunks_exact_mut(row) {
        let (mut base, mut outside) = (0usize, false);
        for a in 0..last {
            let p = picks[g.table[a] + j[a]];
            if p < 0 {
                outside = true;
            } else {
                base += p as usize * g.stride[a];
            }
        }
        for (o, &p) in out.iter_mut().zip(inner) {
            *o = if outside || p < 0 { fill } else { x[base + p as usize] };
        }
        g.next(&mut j, last);
    }
}

/// Linear and cubic modes: `y[j] = Σ Π_a w_a · x[positions]` over every
/// combination of the axes' taps, or `fill` where a position is -1.
pub fn resize_filter<T: Float>(x: &[T], y: &mut [T], pos: &[i32], w: &[T::C], dims: &[usize], fill: T) {
    let Some(g) = Geometry::new(dims, true) else { return };
    if x.len() < g.in_len() || y.len() < g.out_len() || pos.len() < g.table_len || w.len() < g.table_len || !g.positions_fit(pos) {
        return;
    }
    let combos: usize = g.taps[..g.rank].iter().product();
    let mut j = [0usize; MAX_RANK];
    for o in y[..g.out_len()].iter_mut() {
        let outside = (0..g.rank).any(|a| pos[g.table[a] + j[a] * g.taps[a]] < 0);
        *o = if outside {
            fill
        } else {
            let mut acc = T::C::ZERO;
            for c in 0..combos {
                // Tap t_a of each axis: the digits of c, the last axis fastest.
                let (mut rest, mut weight, mut at) = (c, T::C::ONE, 0usize);
                for a in (0..g.rank).rev() {
                    let e = g.table[a] + j[a] * g.taps[a] + rest % g.taps[a];
                    rest /= g.taps[a];
                    weight = weight * w[e];
                    at += pos[e] as usize * g.stride[a];
                }
                acc = acc + weight * x[at].to_c();
            }
            T::from_c(acc)
        };
        g.next(&mut j, g.rank);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_upsamples_and_fills() {
        // [2, 2] -> [3, 4]: rows 0, 1, outside; columns 0, 0, 1, 1.
        let x = [1i8, 2, 3, 4];
        let mut y = [0i8; 12];
        resize_nearest(&x, &mut y, &[0, 1, -1, 0, 0, 1, 1], &[2, 2, 2, 3, 4], 9);
        assert_eq!(y, [1, 1, 2, 2, 3, 3, 4, 4, 9, 9, 9, 9]);
        // A pick past the input is refused (nothing written).
        let mut z = [0i8; 2];
        resize_nearest(&x[..2], &mut z, &[0, 2], &[1, 2, 2], 0);
        assert_eq!(z, [0, 0]);
    }

    #[test]
    fn bilinear_is_the_product_of_the_axes_weights() {
        // [2, 2] -> [1, 1] at the centre: the mean; axis 0 one tap for a
        // second output position outside the input.
        let x = [0.0f32, 1.0, 2.0, 3.0];
        let mut y = [0.0f32; 2];
        let pos = [0, 1, -1, -1, 0, 1];
        let w = [0.5f32, 0.5, 0.0, 0.0, 0.5, 0.5];
        resize_filter(&x, &mut y, &pos, &w, &[2, 2, 2, 2, 1, 2, 2], -1.0);
        assert_eq!(y, [1.5, -1.0]);
    }
}
