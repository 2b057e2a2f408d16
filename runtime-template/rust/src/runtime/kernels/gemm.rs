//! Dense products: operand packing, a register-blocked GEMM (MR x NR
//! accumulator tiles, k innermost over packed panels), and the
//! convolutions built on it (im2col + GEMM, GEMM + col2im).
//!
//! Packed layout: a matrix of `lanes` x `depth` elements is stored as
//! `ceil(lanes / W)` panels of `depth` rows of `W` lanes (lanes past the
//! end are zero); A operands use W = [`MR`] (lanes = rows of A), B
//! operands W = [`NR`] (lanes = columns of B). Sizes arrive as `dims`
//! slices; every access is checked, so a wrong size skips work instead of
//! panicking.

use super::super::scalar::Num;

/// Rows of A per register tile.
pub const MR: usize = 4;
/// Columns of B per register tile.
pub const NR: usize = 8;
/// Rows of A per cache block (a multiple of `MR`).
const MC: usize = 64;

/// Packs `batch` matrices for [`gemm`]: element (lane l, depth p) of matrix
/// b is `src[b·bs + l·ls + p·ps]`; `dims` = [batch, lanes, depth, ls, ps,
/// bs]; `W` is [`MR`] for A operands, [`NR`] for B operands.
#[inline(always)]
fn pack<T: Num, const W: usize>(src: &[T], dst: &mut [T], dims: &[usize]) {
    let &[batch, lanes, depth, ls, ps, bs] = dims else { return };
    let panels = lanes.div_ceil(W);
    let per = panels * W * depth;
    for b in 0..batch {
        for pi in 0..panels {
            let Some(out) = dst.get_mut(b * per + pi * W * depth..b * per + (pi + 1) * W * depth) else { return };
            for (p, row) in out.chunks_exact_mut(W).enumerate() {
                for (r, d) in row.iter_mut().enumerate() {
                    let l = pi * W + r;
                    *d = if l < lanes { src.get(b * bs + l * ls + p * ps).copied().unwrap_or(T::ZERO) } else { T::ZERO };
                }
            }
        }
    }
}

/// Packs A operands (lanes = rows); see [`pack`] for `dims`.
pub fn pack_a<T: Num>(src: &[T], dst: &mut [T], dims: &[usize]) {
    pack::<T, MR>(src, dst, dims);
}

/// Packs B operands (lanes = columns); see [`pack`] for `dims`.
pub fn pack_b<T: Num>(src: &[T], dst: &mut [T], dims: &[usize]) {
    pack::<T, NR>(src, dst, dims);
}

/// One MR x NR tile: `acc[r][c] = Σ_p a[p][r] · b[p][c]` over packed panels.
#[inline(always)]
fn tile<T: Num>(a: &[T], b: &[T]) -> [[T; NR]; MR] {
    let mut acc = [[T::ZERO; NR]; MR];
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        for r in 0..MR {
            let x = ap[r];
            for c in 0..NR {
                acc[r][c] = acc[r][c].add(x.mul(bp[c]));
            }
        }
    }
    acc
}

/// `y[i·ldy + j] = alpha · Σ_p A[i][p] · B[p][j] + beta · y[i·ldy + j]`
/// for i < m, j < n, with A packed by [`pack_a`] (m x k) and B by
/// [`pack_b`] (k x n); `beta` = 0 ignores y's contents. `dims` = [m, n, k, ldy].
pub fn gemm<T: Num>(a: &[T], b: &[T], y: &mut [T], dims: &[usize], alpha: f64, beta: f64) {
    let &[m, n, k, ldy] = dims else { return };
    gemm_raw(a, b, y, m, n, k, ldy, alpha, beta);
}

#[allow(clippy::too_many_arguments)]
fn gemm_raw<T: Num>(a: &[T], b: &[T], y: &mut [T], m: usize, n: usize, k: usize, ldy: usize, alpha: f64, beta: f64) {
    let (scale, alpha) = (alpha != 1.0, T::from_f64(alpha));
    let (keep, beta) = (beta != 0.0, T::from_f64(beta));
    let (a_panel, b_panel) = (MR * k, NR * k);
    for i0 in (0..m).step_by(MC) {
        let i1 = (i0 + MC).min(m);
        for j in (0..n).step_by(NR) {
            let Some(bp) = b.get(j / NR * b_panel..(j / NR + 1) * b_panel) else { return };
            let cols = (n - j).min(NR);
            for i in (i0..i1).step_by(MR) {
                let Some(ap) = a.get(i / MR * a_panel..(i / MR + 1) * a_panel) else { return };
                let acc = tile(ap, bp);
                for (r, acc_row) in acc.iter().enumerate().take(i1.min(m) - i) {
                    let start = (i + r) * ldy + j;
                    let Some(out) = y.get_mut(start..start + cols) else { return };
                    for (o, &v) in out.iter_mut().zip(acc_row) {
                        let v = if scale { v.mul(alpha) } else { v };
                        *o = if keep { v.add(beta.mul(*o)) } else { v };
                    }
                }
            }
        }
    }
}

/// Geometry of a convolution normalised to three spatial axes (leading
/// unit axes for 1-D and 2-D).
#[derive(Clone, Copy)]
struct Geometry {
    batch: usize,
    c_in: usize,
    c_out: usize,
    group: usize,
    input: [usize; 3],
    output: [usize; 3],
    kernel: [usize; 3],
    stride: [usize; 3],
    dilation: [usize; 3],
    chunk: usize,
}

impl Geometry {
    /// From `dims` = [batch, c_in, c_out, group, input×3, output×3,
    /// kernel×3, stride×3, dilation×3, chunk].
    fn new(dims: &[usize]) -> Option<Geometry> {
        if dims.len() != 20 {
            return None;
        }
        let three = |i: usize| [dims[i], dims[i + 1], dims[i + 2]];
        let g = Geometry {
            batch: dims[0],
            c_in: dims[1],
            c_out: dims[2],
            group: dims[3],
            input: three(4),
            output: three(7),
            kernel: three(10),
            stride: three(13),
            dilation: three(16),
            chunk: dims[19],
        };
        let ok = g.group > 0 && g.c_in.is_multiple_of(g.group) && g.c_out.is_multiple_of(g.group) && g.chunk > 0 && g.chunk.is_multiple_of(NR);
        ok.then_some(g)
    }

    fn kvol(&self) -> usize {
        self.kernel[0] * self.kernel[1] * self.kernel[2]
    }

    fn in_len(&self) -> usize {
        self.input[0] * self.input[1] * self.input[2]
    }

    fn out_len(&self) -> usize {
        self.output[0] * self.output[1] * self.output[2]
    }
}

/// Source position of window position `o` at kernel offset `k` along an
/// axis, if inside the input.
#[inline(always)]
fn source(o: usize, k: usize, stride: usize, dilation: usize, pad: i64, size: usize) -> Option<usize> {
    let a = (o * stride + k * dilation) as i64 - pad;
    (a >= 0 && (a as usize) < size).then_some(a as usize)
}

/// Writes the columns `p0 .. p0 + width` of the im2col matrix of one
/// group's input `x` ([cg, input]) as a packed B operand (k = cg·kvol).
fn im2col<T: Num>(x: &[T], col: &mut [T], g: &Geometry, pads: &[i64; 3], cg: usize, p0: usize, width: usize) {
    let kvol = g.kvol();
    let k = cg * kvol;
    let [oh, ow] = [g.output[1], g.output[2]];
    let [ih, iw] = [g.input[1], g.input[2]];
    for ci in 0..cg {
        let plane = ci * g.in_len();
        for kidx in 0..kvol {
            let (ka, kb, kc) = (kidx / (g.kernel[1] * g.kernel[2]), kidx / g.kernel[2] % g.kernel[1], kidx % g.kernel[2]);
            let row = ci * kvol + kidx;
            let (mut z, mut yy, mut xx) = (p0 / (oh * ow), p0 / ow % oh, p0 % ow);
            for l in 0..width {
                let v = match (
                    source(z, ka, g.stride[0], g.dilation[0], pads[0], g.input[0]),
                    source(yy, kb, g.stride[1], g.dilation[1], pads[1], ih),
                    source(xx, kc, g.stride[2], g.dilation[2], pads[2], iw),
                ) {
                    (Some(a), Some(b), Some(c)) => x.get(plane + (a * ih + b) * iw + c).copied().unwrap_or(T::ZERO),
                    _ => T::ZERO,
                };
                if let Some(d) = col.get_mut(l / NR * k * NR + row * NR + l % NR) {
                    *d = v;
                }
                xx += 1;
                if xx == ow {
                    xx = 0;
                    yy += 1;
                    if yy == oh {
                        yy = 0;
                        z += 1;
                    }
                }
            }
        }
    }
}

/// `y = conv(x, w)` (+ `beta` · y: the bias the caller stored in y) for x
/// [N, C_in, input] and y [N, C_out, output]; `w` holds each group's
/// [C_out/group, C_in/group · kvol] weights packed by [`pack_a`] (groups
/// one after the other), `col` room for `k · chunk` elements. `dims`: see
/// [`Geometry::new`]; `pads`: the three begin pads.
pub fn conv<T: Num>(x: &[T], w: &[T], col: &mut [T], y: &mut [T], dims: &[usize], pads: &[i64], beta: f64) {
    let (Some(g), &[pd, ph, pw]) = (Geometry::new(dims), pads) else { return };
    let (cg, og) = (g.c_in / g.group, g.c_out / g.group);
    let k = cg * g.kvol();
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let w_size = og.div_ceil(MR) * MR * k;
    for img in 0..g.batch {
        for gi in 0..g.group {
            let x_off = (img * g.c_in + gi * cg) * in_len;
            let (Some(xg), Some(wg)) = (x.get(x_off..x_off + cg * in_len), w.get(gi * w_size..(gi + 1) * w_size)) else { return };
            let y_off = (img * g.c_out + gi * og) * out_len;
            for p0 in (0..out_len).step_by(g.chunk) {
                let width = g.chunk.min(out_len - p0);
                im2col(xg, col, &g, &[pd, ph, pw], cg, p0, width);
                let Some(yg) = y.get_mut(y_off + p0..y_off + og * out_len) else { return };
                gemm_raw(wg, col, yg, og, width, k, out_len, 1.0, beta);
            }
        }
    }
}

/// `y += conv_transpose(x, w)` for x [N, C_in, input] and y [N, C_out,
/// output] (the caller fills y with the bias or zero first); `w` holds
/// each group's transposed weights ([C_out/group · kvol, C_in/group])
/// packed by [`pack_a`], `xcol` room for `C_in/group · chunk` elements,
/// `col` for `C_out/group · kvol · chunk`. Input position b at kernel
/// offset k adds to output position `b·stride + k·dilation − pads`.
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose<T: Num>(x: &[T], w: &[T], xcol: &mut [T], col: &mut [T], y: &mut [T], dims: &[usize], pads: &[i64]) {
    let (Some(g), &[pd, ph, pw]) = (Geometry::new(dims), pads) else { return };
    let (cg, og, kvol) = (g.c_in / g.group, g.c_out / g.group, g.kvol());
    let rows = og * kvol;
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let w_size = rows.div_ceil(MR) * MR * cg;
    let [ih, iw] = [g.input[1], g.input[2]];
    let [oh, ow] = [g.output[1], g.output[2]];
    for img in 0..g.batch {
        for gi in 0..g.group {
            let x_off = (img * g.c_in + gi * cg) * in_len;
            let Some(wg) = w.get(gi * w_size..(gi + 1) * w_size) else { return };
            let y_off = (img * g.c_out + gi * og) * out_len;
            for p0 in (0..in_len).step_by(g.chunk) {
                let width = g.chunk.min(in_len - p0);
                let Some(xs) = x.get(x_off + p0..) else { return };
                pack_b(xs, xcol, &[1, width, cg, 1, in_len, 0]);
                gemm_raw(wg, xcol, col, rows, width, cg, width, 1.0, 0.0);
                for oc in 0..og {
                    let Some(plane) = y.get_mut(y_off + oc * out_len..y_off + (oc + 1) * out_len) else { return };
                    for kidx in 0..kvol {
                        let (ka, kb, kc) = (kidx / (g.kernel[1] * g.kernel[2]), kidx / g.kernel[2] % g.kernel[1], kidx % g.kernel[2]);
                        let Some(src) = col.get((oc * kvol + kidx) * width..(oc * kvol + kidx + 1) * width) else { return };
                        let (mut z, mut yy, mut xx) = (p0 / (ih * iw), p0 / iw % ih, p0 % iw);
                        for &v in src {
                            if let (Some(a), Some(b), Some(c)) = (
                                source(z, ka, g.stride[0], g.dilation[0], pd, g.output[0]),
                                source(yy, kb, g.stride[1], g.dilation[1], ph, oh),
                                source(xx, kc, g.stride[2], g.dilation[2], pw, ow),
                            ) {
                                if let Some(d) = plane.get_mut((a * oh + b) * ow + c) {
                                    *d = d.add(v);
                                }
                            }
                            xx += 1;
                            if xx == iw {
                                xx = 0;
                                yy += 1;
                                if yy == ih {
                                    yy = 0;
                                    z += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn naive(a: &[f64], b: &[f64], m: usize, n: usize, k: usize) -> Vec<f64> {
        let mut y = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                y[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        y
    }

    fn values(n: usize, seed: usize) -> Vec<f64> {
        (0..n).map(|i| ((i * 7 + seed * 13) % 11) as f64 - 5.0).collect()
    }

    #[test]
    fn gemm_matches_naive_on_ragged_sizes() {
        for &(m, n, k) in &[(1, 1, 1), (3, 5, 7), (4, 8, 2), (9, 17, 3), (70, 10, 5), (5, 3, 0)] {
            let (a, b) = (values(m * k, 1), values(k * n, 2));
            let mut ap = vec![0.0; m.div_ceil(MR) * MR * k];
            let mut bp = vec![0.0; n.div_ceil(NR) * NR * k];
            pack_a(&a, &mut ap, &[1, m, k, k, 1, 0]);
            pack_b(&b, &mut bp, &[1, n, k, 1, n, 0]);
            let mut y = vec![1.0; m * n];
            gemm(&ap, &bp, &mut y, &[m, n, k, n], 2.0, 0.5);
            let want: Vec<f64> = naive(&a, &b, m, n, k).iter().map(|v| 2.0 * v + 0.5).collect();
            assert_eq!(y, want, "{m}x{n}x{k}");
        }
    }

    #[test]
    fn integer_gemm_wraps() {
        let a = [100i8, 100];
        let b = [2i8, 1];
        let (mut ap, mut bp) = ([0i8; 8], [0i8; 16]);
        pack_a(&a, &mut ap, &[1, 1, 2, 2, 1, 0]);
        pack_b(&b, &mut bp, &[1, 1, 2, 1, 1, 0]);
        let mut y = [0i8];
        gemm(&ap, &bp, &mut y, &[1, 1, 2, 1], 1.0, 0.0);
        assert_eq!(y[0], 44);
    }

    #[test]
    fn conv_matches_a_direct_sum() {
        // 1 image, 4 input channels, 2 groups, 3 outputs per group, 5x6 input,
        // 3x2 kernel, stride (2, 1), dilation (1, 2), pads (1, 1).
        let (c_in, c_out, group, ih, iw, kh, kw) = (4, 6, 2, 5, 6, 3, 2);
        let (s, d, p) = ([2, 1], [1, 2], [1i64, 1]);
        let oh = (ih + 2 - ((kh - 1) * d[0] + 1)) / s[0] + 1;
        let ow = (iw + 2 - ((kw - 1) * d[1] + 1)) / s[1] + 1;
        let (cg, og) = (c_in / group, c_out / group);
        let k = cg * kh * kw;
        let x = values(c_in * ih * iw, 3);
        let w = values(c_out * k, 4);
        let mut wp = vec![0.0; group * og.div_ceil(MR) * MR * k];
        pack_a(&w, &mut wp, &[group, og, k, k, 1, og * k]);
        let chunk = NR;
        let mut col = vec![0.0; k * chunk];
        let mut y = vec![0.0; c_out * oh * ow];
        let dims = [1, c_in, c_out, group, 1, ih, iw, 1, oh, ow, 1, kh, kw, 1, s[0], s[1], 1, d[0], d[1], chunk];
        conv(&x, &wp, &mut col, &mut y, &dims, &[0, p[0], p[1]], 0.0);
        for oc in 0..c_out {
            let gi = oc / og;
            for (oy, ox) in (0..oh).flat_map(|a| (0..ow).map(move |b| (a, b))) {
                let mut sum = 0.0;
                for ci in 0..cg {
                    for (a, b) in (0..kh).flat_map(|a| (0..kw).map(move |b| (a, b))) {
                        let iy = (oy * s[0] + a * d[0]) as i64 - p[0];
                        let ix = (ox * s[1] + b * d[1]) as i64 - p[1];
                        if iy >= 0 && ix >= 0 && (iy as usize) < ih && (ix as usize) < iw {
                            let xv = x[((gi * cg + ci) * ih + iy as usize) * iw + ix as usize];
                            sum += w[(oc * cg + ci) * kh * kw + a * kw + b] * xv;
                        }
                    }
                }
                assert_eq!(y[(oc * oh + oy) * ow + ox], sum, "oc {oc} at ({oy}, {ox})");
            }
        }
    }

    #[test]
    fn conv_transpose_scatters_and_crops() {
        // x [1, 1, 2], w [1, 1, 3], stride 2, pads (1, 1): full [1, 10, 102, 20, 200] cropped to 3.
        let x = [1.0, 2.0];
        let w = [1.0, 10.0, 100.0];
        let mut wp = vec![0.0; MR * 3];
        pack_a(&w, &mut wp, &[1, 3, 1, 1, 3, 0]);
        let (mut xcol, mut col) = (vec![0.0; NR], vec![0.0; 3 * NR]);
        let mut y = vec![0.0; 3];
        let dims = [1, 1, 1, 1, 1, 1, 2, 1, 1, 3, 1, 1, 3, 1, 1, 2, 1, 1, 1, NR];
        conv_transpose(&x, &wp, &mut xcol, &mut col, &mut y, &dims, &[0, 0, 1]);
        assert_eq!(y, vec![10.0, 102.0, 20.0]);
    }
}
