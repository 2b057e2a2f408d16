//! Convolutions lowered to matrix products on flat row-major buffers:
//! im2col plus one blocked GEMM per image and group (1x1, stride-1,
//! unpadded convolutions read the input in place), a direct loop for
//! depthwise convolutions (one input channel per group), and GEMM plus
//! col2im for the transposed convolution.

use super::super::spatial::{Run, Traversal};
use crate::interp::gemm::{gemm, Dot};
use crate::tensor::checked_numel;
use crate::{bail, Error, Result};
use ndarray::{s, ArrayView2, ArrayViewMut2};

/// Elements of one im2col buffer (per chunk of output positions).
const COL_BUDGET: usize = 1 << 22;

/// Batch, channel and group counts of a convolution.
#[derive(Debug, Clone, Copy)]
pub struct Channels {
    pub batch: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub group: usize,
}

impl Channels {
    /// Input and output channels per group, once `group` is known to
    /// divide both channel counts.
    fn per_group(self) -> Result<(usize, usize)> {
        let Channels { c_in, c_out, group, .. } = self;
        if group == 0 || c_in % group != 0 || c_out % group != 0 {
            bail!("group {group} does not divide the {c_in} input and {c_out} output channels");
        }
        Ok((c_in / group, c_out / group))
    }

    /// The output buffer of `batch` × `c_out` planes of `out_len`, each
    /// plane holding its channel's bias (or zero), once `x` is known to hold
    /// `batch` × `c_in` planes of `in_len` and `w` to hold `w_dims` elements;
    /// `what` names the convolution in the error.
    fn biased_output<T: Dot>(self, x: &[T], w: &[T], bias: Option<&[T]>, (in_len, out_len): (usize, usize), w_dims: [usize; 2], what: &str) -> Result<Vec<T>> {
        let Channels { batch, c_in, c_out, .. } = self;
        if x.len() != checked_numel(&[batch, c_in, in_len])? || w.len() != checked_numel(&w_dims)? {
            bail!("input or weight sizes do not match the {what}'s shape");
        }
        let mut y = vec![T::zero(); checked_numel(&[batch, c_out, out_len])?];
        if let Some(b) = bias {
            if b.len() != c_out {
                bail!("bias has {} elements, expected {c_out}", b.len());
            }
            for (plane, &bv) in y.chunks_mut(out_len.max(1)).zip(b.iter().cycle()) {
                plane.fill(bv);
            }
        }
        Ok(y)
    }
}

fn shape_err(e: ndarray::ShapeError) -> Error {
    Error::Op(format!("internal shape error: {e}"))
}

/// A mutable chunk `[start, start + len)` of `v`, or an error.
fn chunk_mut<T>(v: &mut [T], start: usize, len: usize) -> Result<&mut [T]> {
    let end = start.checked_add(len).ok_or_else(|| Error::Op("buffer range overflows".into()))?;
    let total = v.len();
    v.get_mut(start..end).ok_or_else(|| Error::Op(format!("buffer range {start}..{end} exceeds {total}")))
}

fn chunk<T>(v: &[T], start: usize, len: usize) -> Result<&[T]> {
    let end = start.checked_add(len).ok_or_else(|| Error::Op("buffer range overflows".into()))?;
    v.get(start..end).ok_or_else(|| Error::Op(format!("buffer range {start}..{end} exceeds {}", v.len())))
}

/// `dst[lo..hi] = src[a_start], src[a_start + step], ...`, padding elsewhere.
fn gather<T: Copy>(dst: &mut [T], src: &[T], r: &Run, pad: T) {
    let (lo, hi) = (r.lo.min(dst.len()), r.hi.min(dst.len()));
    let (head, rest) = dst.split_at_mut(lo);
    let (mid, tail) = rest.split_at_mut(hi.max(lo) - lo);
    head.fill(pad);
    tail.fill(pad);
    let src = src.get(r.a_start..).unwrap_or(&[]);
    if r.a_step == 1 {
        for (d, &v) in mid.iter_mut().zip(src) {
            *d = v;
        }
    } else {
        for (d, &v) in mid.iter_mut().zip(src.iter().step_by(r.a_step)) {
            *d = v;
        }
    }
}

/// Output channels per group up to which a single-input-channel group is
/// computed by the direct loop rather than im2col and GEMM.
const DIRECT_MAX_OUTPUTS: usize = 4;

/// `y = conv(x, w) (+ bias)` for `x` [N, C_in, in...] and `w`
/// [C_out, C_in/group, k...], flat; `t` maps output to input positions.
pub fn conv<T: Dot>(x: &[T], w: &[T], bias: Option<&[T]>, ch: Channels, t: &Traversal) -> Result<Vec<T>> {
    conv_in_chunks(x, w, bias, ch, t, COL_BUDGET)
}

/// [`conv`] with im2col buffers of at most about `budget` elements.
fn conv_in_chunks<T: Dot>(x: &[T], w: &[T], bias: Option<&[T]>, ch: Channels, t: &Traversal, budget: usize) -> Result<Vec<T>> {
    let Channels { batch, c_in, c_out, group } = ch;
    let (cg, og) = ch.per_group()?;
    let (in_len, out_len) = (t.a_len(), t.b_len());
    let offsets = t.kernel_offsets();
    let kvol = offsets.len();
    let k_rows = checked_numel(&[cg, kvol])?;
    let mut y = ch.biased_output(x, w, bias, (in_len, out_len), [c_out, k_rows], "convolution")?;
    let beta = if bias.is_some() { T::one() } else { T::zero() };
    let in_place = kvol == 1 && t.is_identity();
    let chunk_len = (budget / k_rows.max(1)).clamp(1, out_len.max(1));
    // Allocated zeroed (lazily mapped) on first use, then reused.
    let mut col = Vec::new();
    for img in 0..batch {
        let x_img = chunk(x, img * c_in * in_len, c_in * in_len)?;
        let y_img = chunk_mut(&mut y, img * c_out * out_len, c_out * out_len)?;
        for g in 0..group {
            let w_g = ArrayView2::from_shape((og, k_rows), chunk(w, g * og * k_rows, og * k_rows)?).map_err(shape_err)?;
            let y_g = chunk_mut(y_img, g * og * out_len, og * out_len)?;
            if cg == 1 && og <= DIRECT_MAX_OUTPUTS {
                let x_plane = chunk(x_img, g * in_len, in_len)?;
                depthwise(x_plane, w_g, y_g, t, &offsets)?;
                continue;
            }
            let mut y_g = ArrayViewMut2::from_shape((og, out_len), y_g).map_err(shape_err)?;
            if in_place {
                let x_g = ArrayView2::from_shape((cg, in_len), chunk(x_img, g * cg * in_len, cg * in_len)?).map_err(shape_err)?;
                gemm(T::one(), w_g, x_g, beta, y_g.view_mut())?;
                continue;
            }
            for p0 in (0..out_len).step_by(chunk_len) {
                let p1 = (p0 + chunk_len).min(out_len);
                let width = p1 - p0;
                if col.is_empty() {
                    col = vec![T::zero(); k_rows * chunk_len];
                }
                for ci in 0..cg {
                    let x_plane = chunk(x_img, (g * cg + ci) * in_len, in_len)?;
                    for (ki, k) in offsets.iter().enumerate() {
                        let row = chunk_mut(&mut col, (ci * kvol + ki) * width, width)?;
                        t.for_each_run(k, p0..p1, |r| {
                            let start = r.pos - p0;
                            if let Some(dst) = row.get_mut(start..start + r.len) {
                                gather(dst, x_plane, &r, T::zero());
                            }
                        });
                    }
                }
                let b = ArrayView2::from_shape((k_rows, width), &col[..k_rows * width]).map_err(shape_err)?;
                gemm(T::one(), w_g, b, beta, y_g.slice_mut(s![.., p0..p1]))?;
            }
        }
    }
    Ok(y)
}

/// `y[oc] += Σ_k w[oc, k] · x[shifted by k]` for one input channel and
/// `w` [og, kvol] output channels.
fn depthwise<T: Dot>(x: &[T], w: ArrayView2<T>, y: &mut [T], t: &Traversal, offsets: &[Vec<usize>]) -> Result<()> {
    let out_len = t.b_len();
    for (oc, wrow) in w.rows().into_iter().enumerate() {
        let y_plane = chunk_mut(y, oc * out_len, out_len)?;
        for (k, &wv) in offsets.iter().zip(wrow.iter()) {
            t.for_each_run(k, 0..out_len, |r| {
                let Some(dst) = y_plane.get_mut(r.pos + r.lo..r.pos + r.hi.max(r.lo)) else { return };
                let src = x.get(r.a_start..).unwrap_or(&[]);
                if r.a_step == 1 {
                    for (d, &v) in dst.iter_mut().zip(src) {
                        *d = d.add(wv.mul(v));
                    }
                } else {
                    for (d, &v) in dst.iter_mut().zip(src.iter().step_by(r.a_step)) {
                        *d = d.add(wv.mul(v));
                    }
                }
            });
        }
    }
    Ok(())
}

/// `y = conv_transpose(x, w) (+ bias)` for `x` [N, C_in, in...] and `w`
/// [C_in, C_out/group, k...], flat; `t` maps input positions (window
/// positions) to output positions (sources), so `c_out` planes of
/// `t.a_len()` elements come out.
pub fn conv_transpose<T: Dot>(x: &[T], w: &[T], bias: Option<&[T]>, ch: Channels, t: &Traversal) -> Result<Vec<T>> {
    conv_transpose_in_chunks(x, w, bias, ch, t, COL_BUDGET)
}

/// [`conv_transpose`] with column buffers of at most about `budget` elements.
fn conv_transpose_in_chunks<T: Dot>(x: &[T], w: &[T], bias: Option<&[T]>, ch: Channels, t: &Traversal, budget: usize) -> Result<Vec<T>> {
    let Channels { batch, c_in, c_out, group } = ch;
    let (cg, og) = ch.per_group()?;
    let (in_len, out_len) = (t.b_len(), t.a_len());
    let offsets = t.kernel_offsets();
    let kvol = offsets.len();
    let rows = checked_numel(&[og, kvol])?;
    let mut y = ch.biased_output(x, w, bias, (in_len, out_len), [c_in, rows], "transposed convolution")?;
    let chunk_len = (budget / rows.max(1)).clamp(1, in_len.max(1));
    let mut col = Vec::new();
    for img in 0..batch {
        let x_img = chunk(x, img * c_in * in_len, c_in * in_len)?;
        let y_img = chunk_mut(&mut y, img * c_out * out_len, c_out * out_len)?;
        for g in 0..group {
            let w_g = ArrayView2::from_shape((cg, rows), chunk(w, g * cg * rows, cg * rows)?).map_err(shape_err)?;
            let x_g = ArrayView2::from_shape((cg, in_len), chunk(x_img, g * cg * in_len, cg * in_len)?).map_err(shape_err)?;
            let y_g = chunk_mut(y_img, g * og * out_len, og * out_len)?;
            for p0 in (0..in_len).step_by(chunk_len) {
                let p1 = (p0 + chunk_len).min(in_len);
                let width = p1 - p0;
                if col.is_empty() {
                    col = vec![T::zero(); rows * chunk_len];
                }
                let c = ArrayViewMut2::from_shape((rows, width), &mut col[..rows * width]).map_err(shape_err)?;
                gemm(T::one(), w_g.t(), x_g.slice(s![.., p0..p1]), T::zero(), c)?;
                for oc in 0..og {
                    let y_plane = chunk_mut(y_g, oc * out_len, out_len)?;
                    for (ki, k) in offsets.iter().enumerate() {
                        let row = chunk(&col, (oc * kvol + ki) * width, width)?;
                        t.for_each_run(k, p0..p1, |r| {
                            let start = r.pos - p0 + r.lo;
                            let src = row.get(start..start + (r.hi.max(r.lo) - r.lo)).unwrap_or(&[]);
                            let dst = y_plane.get_mut(r.a_start..).unwrap_or(&mut []);
                            for (d, &v) in dst.iter_mut().step_by(r.a_step).zip(src) {
                                *d = d.add(v);
                            }
                        });
                    }
                }
            }
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::super::super::spatial::{Traversal, TraversalAxis};
    use super::*;

    /// A small deterministic generator of test values and shapes.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((self.0 >> 33) % n as u64) as usize
        }

        fn values(&mut self, n: usize) -> Vec<f64> {
            (0..n).map(|_| self.next(17) as f64 - 8.0).collect()
        }
    }

    /// Flat row-major index of `idx` in `dims`.
    fn flat(idx: &[usize], dims: &[usize]) -> usize {
        idx.iter().zip(dims).fold(0, |acc, (&i, &d)| acc * d + i)
    }

    /// Every multi-index of `dims` in row-major order.
    fn indices(dims: &[usize]) -> Vec<Vec<usize>> {
        let mut out = vec![vec![]];
        for &d in dims {
            out = out.into_iter().flat_map(|p| (0..d).map(move |i| [p.clone(), vec![i]].concat())).collect();
        }
        out
    }

    struct Case {
        ch: Channels,
        axes: Vec<TraversalAxis>,
        kernel: Vec<usize>,
    }

    fn random_case(r: &mut Lcg, transpose: bool) -> Case {
        let spatial = 1 + r.next(3);
        let group = 1 + r.next(3);
        let (cg, og) = (1 + r.next(3), 1 + r.next(6));
        let ch = Channels { batch: 1 + r.next(2), c_in: cg * group, c_out: og * group, group };
        let mut axes = Vec::new();
        let mut kernel = Vec::new();
        for _ in 0..spatial {
            let (k, s, d) = (1 + r.next(3), 1 + r.next(3), 1 + r.next(2));
            let b_dim = 1 + r.next(6);
            let a_dim = 1 + r.next(9);
            let offset = r.next(3) as i64 - if transpose { 1 } else { 0 };
            kernel.push(k);
            axes.push(TraversalAxis { b_dim, a_dim, stride: s, dilation: d, offset });
        }
        Case { ch, axes, kernel }
    }

    /// The direct sums: window position b reads source a = b*s + k*d - offset.
    fn naive(c: &Case, x: &[f64], w: &[f64], bias: &[f64], transpose: bool) -> Vec<f64> {
        let Channels { batch, c_in, c_out, group } = c.ch;
        let b_dims: Vec<usize> = c.axes.iter().map(|a| a.b_dim).collect();
        let a_dims: Vec<usize> = c.axes.iter().map(|a| a.a_dim).collect();
        let (cg, og) = (c_in / group, c_out / group);
        let (x_dims, y_dims) = if transpose { (&b_dims, &a_dims) } else { (&a_dims, &b_dims) };
        let (x_len, y_len): (usize, usize) = (x_dims.iter().product(), y_dims.iter().product());
        let kvol: usize = c.kernel.iter().product();
        let mut y = vec![0.0; batch * c_out * y_len];
        for (i, v) in y.iter_mut().enumerate() {
            *v = bias[(i / y_len) % c_out];
        }
        for n in 0..batch {
            for g in 0..group {
                for (oc, ic) in (0..og).flat_map(|o| (0..cg).map(move |i| (o, i))) {
                    for b in indices(&b_dims) {
                        for k in indices(&c.kernel) {
                            let a: Vec<i64> = c.axes.iter().zip(&b).zip(&k).map(|((ax, &b), &k)| (b * ax.stride + k * ax.dilation) as i64 - ax.offset).collect();
                            if a.iter().zip(&a_dims).any(|(&a, &d)| a < 0 || a >= d as i64) {
                                continue;
                            }
                            let a: Vec<usize> = a.iter().map(|&v| v as usize).collect();
                            let (xi, yi) = if transpose { (flat(&b, &b_dims), flat(&a, &a_dims)) } else { (flat(&a, &a_dims), flat(&b, &b_dims)) };
                            let (cx, cy) = (g * cg + ic, g * og + oc);
                            let wv = if transpose { w[(cx * og + oc) * kvol + flat(&k, &c.kernel)] } else { w[(cy * cg + ic) * kvol + flat(&k, &c.kernel)] };
                            y[(n * c_out + cy) * y_len + yi] += wv * x[(n * c_in + cx) * x_len + xi];
                        }
                    }
                }
            }
        }
        y
    }

    #[test]
    fn lowered_convolutions_match_direct_sums() {
        let mut r = Lcg(7);
        for round in 0..300 {
            let transpose = round % 2 == 1;
            let c = random_case(&mut r, transpose);
            let t = Traversal::new(c.axes.clone(), &c.kernel).unwrap();
            let kvol: usize = c.kernel.iter().product();
            let (x_len, w_len) = if transpose {
                (t.b_len() * c.ch.c_in, c.ch.c_in * (c.ch.c_out / c.ch.group) * kvol)
            } else {
                (t.a_len() * c.ch.c_in, c.ch.c_out * (c.ch.c_in / c.ch.group) * kvol)
            };
            let x = r.values(c.ch.batch * x_len);
            let w = r.values(w_len);
            let bias = r.values(c.ch.c_out);
            let budget = [1, 7, 1 << 22][r.next(3)];
            let got = if transpose {
                conv_transpose_in_chunks(&x, &w, Some(&bias), c.ch, &t, budget).unwrap()
            } else {
                conv_in_chunks(&x, &w, Some(&bias), c.ch, &t, budget).unwrap()
            };
            assert_eq!(got, naive(&c, &x, &w, &bias, transpose), "round {round}: {:?} {:?} {:?}", c.ch, c.axes, c.kernel);
        }
    }

    #[test]
    fn size_mismatches_are_errors() {
        let ax = TraversalAxis { b_dim: 2, a_dim: 2, stride: 1, dilation: 1, offset: 0 };
        let t = Traversal::new(vec![ax], &[1]).unwrap();
        let ch = Channels { batch: 1, c_in: 2, c_out: 2, group: 1 };
        assert!(conv(&[0.0f32; 3], &[0.0; 4], None, ch, &t).is_err());
        assert!(conv(&[0.0f32; 4], &[0.0; 4], Some(&[0.0]), ch, &t).is_err());
        assert!(conv(&[0.0f32; 4], &[0.0; 4], None, Channels { group: 3, ..ch }, &t).is_err());
        assert!(conv_transpose(&[0.0f32; 4], &[0.0; 3], None, ch, &t).is_err());
    }
}
