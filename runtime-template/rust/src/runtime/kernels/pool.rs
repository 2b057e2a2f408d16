//! Windowed pools over planes of [N·C, spatial...] data, normalised to
//! three spatial axes (leading unit axes for 1-D and 2-D): max (with
//! optional int64 indices), average and Lp. The global pools are the
//! same kernels with one window over the whole plane.
//!
//! `dims` = [planes, input×3, output×3, kernel×3, stride×3, dilation×3,
//! pad_begin×3, pad_end×3]; window position o at kernel offset k reads
//! input position `o·stride + k·dilation − pad_begin` when inside.

use super::super::math;
use super::super::scalar::Num;

/// Pool geometry, see the module documentation.
#[derive(Clone, Copy)]
struct Geometry {
    planes: usize,
    input: [usize; 3],
    output: [usize; 3],
    kernel: [usize; 3],
    stride: [usize; 3],
    dilation: [usize; 3],
    pad_begin: [usize; 3],
    pad_end: [usize; 3],
}

impl Geometry {
    fn new(dims: &[usize]) -> Option<Geometry> {
        if dims.len() != 22 {
            return None;
        }
        let three = |i: usize| [dims[i], dims[i + 1], dims[i + 2]];
        Some(Geometry {
            planes: dims[0],
            input: three(1),
            output: three(4),
            kernel: three(7),
            stride: three(10),
            dilation: three(13),
            pad_begin: three(16),
            pad_end: three(19),
        })
    }

    fn in_len(&self) -> usize {
        self.input[0] * self.input[1] * self.input[2]
    }

    fn out_len(&self) -> usize {
        self.output[0] * self.output[1] * self.output[2]
    }

    /// Input position along `axis` of window position `o`, offset `k`.
    #[inline(always)]
    fn source(&self, axis: usize, o: usize, k: usize) -> Option<usize> {
        let a = (o * self.stride[axis] + k * self.dilation[axis]) as i64 - self.pad_begin[axis] as i64;
        (a >= 0 && (a as usize) < self.input[axis]).then_some(a as usize)
    }

    /// Calls `f(flat output index, flat input index within the plane)`
    /// for every window element inside the input, windows in row-major
    /// order and each window's elements in row-major order.
    #[inline(always)]
    fn for_each(&self, mut f: impl FnMut(usize, usize)) {
        let [od, oh, ow] = self.output;
        let [kd, kh, kw] = self.kernel;
        let [_, ih, iw] = self.input;
        for (o, (z, yy, xx)) in (0..od).flat_map(|z| (0..oh).flat_map(move |y| (0..ow).map(move |x| (z, y, x)))).enumerate() {
            for a in 0..kd {
                let Some(sa) = self.source(0, z, a) else { continue };
                for b in 0..kh {
                    let Some(sb) = self.source(1, yy, b) else { continue };
                    for c in 0..kw {
                        let Some(sc) = self.source(2, xx, c) else { continue };
                        f(o, (sa * ih + sb) * iw + sc);
                    }
                }
            }
        }
    }

    /// Per axis, the number of offsets of window position `o` that count:
    /// inside the input, or inside the padded input with `include_pad`.
    fn count(&self, axis: usize, o: usize, include_pad: bool) -> usize {
        let (pb, pe, n) = (self.pad_begin[axis], self.pad_end[axis], self.input[axis]);
        let (lo, hi) = if include_pad { (0, n + pb + pe) } else { (pb, n + pb) };
        (0..self.kernel[axis]).filter(|&k| (lo..hi).contains(&(o * self.stride[axis] + k * self.dilation[axis]))).count()
    }
}

/// Max over each window (`lowest` where a window is all padding); the
/// first element, then any larger one, and a NaN maximum gives way.
#[allow(clippy::eq_op)]
pub fn max_pool<T: Num>(x: &[T], y: &mut [T], dims: &[usize], lowest: T) {
    let Some(g) = Geometry::new(dims) else { return };
    let (in_len, out_len) = (g.in_len(), g.out_len());
    for p in 0..g.planes {
        let (Some(xp), Some(yp)) = (x.get(p * in_len..(p + 1) * in_len), y.get_mut(p * out_len..(p + 1) * out_len)) else { return };
        let mut last = usize::MAX;
        g.for_each(|o, i| {
            let (Some(d), Some(&v)) = (yp.get_mut(o), xp.get(i)) else { return };
            if o != last || v > *d || *d != *d {
                *d = v;
            }
            last = o;
        });
        // Windows entirely in the padding.
        fill_empty(&g, yp, lowest);
    }
}

/// Sets the outputs whose windows hold no input element to `value`.
fn fill_empty<T: Copy>(g: &Geometry, yp: &mut [T], value: T) {
    let [od, oh, ow] = g.output;
    for (o, (z, yy, xx)) in (0..od).flat_map(|z| (0..oh).flat_map(move |y| (0..ow).map(move |x| (z, y, x)))).enumerate() {
        let empty = [(0, z), (1, yy), (2, xx)].iter().any(|&(axis, pos)| (0..g.kernel[axis]).all(|k| g.source(axis, pos, k).is_none()));
        if empty {
            if let Some(d) = yp.get_mut(o) {
                *d = value;
            }
        }
    }
}

/// [`max_pool`] with the flat input index of each maximum (-1 for an
/// empty window): row-major over the whole tensor, or with
/// `column_major` the plane offset plus the column-major spatial position.
#[allow(clippy::eq_op)]
pub fn max_pool_indices<T: Num>(x: &[T], y: &mut [T], indices: &mut [i64], dims: &[usize], lowest: T, column_major: bool) {
    let Some(g) = Geometry::new(dims) else { return };
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let [id, ih, iw] = g.input;
    for p in 0..g.planes {
        let range = p * out_len..(p + 1) * out_len;
        let (Some(xp), Some(yp), Some(ip)) = (x.get(p * in_len..(p + 1) * in_len), y.get_mut(range.clone()), indices.get_mut(range)) else {
            return;
        };
        ip.fill(-1);
        g.for_each(|o, i| {
            let (Some(d), Some(di), Some(&v)) = (yp.get_mut(o), ip.get_mut(o), xp.get(i)) else { return };
            if *di < 0 || v > *d || *d != *d {
                *d = v;
                let pos = if column_major { i / (ih * iw) + (i / iw % ih) * id + (i % iw) * id * ih } else { i };
                *di = (p * in_len + pos) as i64;
            }
        });
        for (d, &di) in yp.iter_mut().zip(ip.iter()) {
            if di < 0 {
                *d = lowest;
            }
        }
    }
}

/// Mean over each window: the sum divided by the number of elements
/// inside the input, or inside the padded input with `count_include_pad`
/// (0/0 when none counts).
pub fn average_pool<T: Num>(x: &[T], y: &mut [T], dims: &[usize], count_include_pad: bool) {
    let Some(g) = Geometry::new(dims) else { return };
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let [_, oh, ow] = g.output;
    for p in 0..g.planes {
        let (Some(xp), Some(yp)) = (x.get(p * in_len..(p + 1) * in_len), y.get_mut(p * out_len..(p + 1) * out_len)) else { return };
        yp.fill(T::ZERO);
        g.for_each(|o, i| {
            if let (Some(d), Some(&v)) = (yp.get_mut(o), xp.get(i)) {
                *d = d.add(v);
            }
        });
        for (o, d) in yp.iter_mut().enumerate() {
            let (z, yy, xx) = (o / (oh * ow), o / ow % oh, o % ow);
            let n = g.count(0, z, count_include_pad) * g.count(1, yy, count_include_pad) * g.count(2, xx, count_include_pad);
            *d = d.div(T::from_i64(n as i64));
        }
    }
}

/// `(Σ |x|^p)^(1/p)` over each window, `|x|^p` rounded to T first.
pub fn lp_pool<T: Num>(x: &[T], y: &mut [T], dims: &[usize], p: i64) {
    let Some(g) = Geometry::new(dims) else { return };
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let inv = 1.0 / p as f64;
    for plane in 0..g.planes {
        let range = plane * out_len..(plane + 1) * out_len;
        let (Some(xp), Some(yp)) = (x.get(plane * in_len..(plane + 1) * in_len), y.get_mut(range)) else { return };
        yp.fill(T::ZERO);
        g.for_each(|o, i| {
            if let (Some(d), Some(&v)) = (yp.get_mut(o), xp.get(i)) {
                let a = v.to_f64().abs();
                let mut power = 1.0;
                for _ in 0..p {
                    power *= a;
                }
                *d = d.add(T::from_f64(power));
            }
        });
        for d in yp.iter_mut() {
            *d = T::from_f64(math::pow(d.to_f64(), inv));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_average_and_lp_pools() {
        // One 1-D plane [1, 9, 3, 4], kernel 2, stride 1, pads (1, 0).
        let full = [1, 1, 1, 4, 1, 1, 4, 1, 1, 2, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0];
        let x = [1.0f32, 9.0, 3.0, 4.0];
        let mut y = [0.0f32; 4];
        max_pool(&x, &mut y, &full, f32::NEG_INFINITY);
        assert_eq!(y, [1.0, 9.0, 9.0, 4.0]);
        let mut idx = [0i64; 4];
        max_pool_indices(&x, &mut y, &mut idx, &full, f32::NEG_INFINITY, false);
        assert_eq!(idx, [0, 1, 1, 3]);
        average_pool(&x, &mut y, &full, false);
        assert_eq!(y, [1.0, 5.0, 6.0, 3.5]);
        average_pool(&x, &mut y, &full, true);
        assert_eq!(y, [0.5, 5.0, 6.0, 3.5]);
        lp_pool(&[3.0f32, -4.0], &mut y[..1], &[1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0], 2);
        assert_eq!(y[0], 5.0);
    }
}
