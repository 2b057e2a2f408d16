//! Fast exact integer products of the oracle: IntConv's convolutions (1x1,
//! depthwise, KxK, grouped, strided, dilated, padded) and matrix products
//! on codes held as i16, int8 weights widened to i16, and IntMatMul's
//! products of two activations.
//!
//! The kernels' accumulators wrap (int32 for 8-bit codes, int64 for int16),
//! and a wrapping sum is exact modulo 2^32 (2^64) whatever the order of its
//! terms: so the order of the depthwise loop, the split of a long sum into
//! int32 chunks that provably cannot wrap (for int64 accumulators) and the
//! threads here give the kernels' integers exactly, with no bound assumed.
//! Convolutions that read several input channels per group (or long int16
//! depthwise windows), and products with constant weights over many rows,
//! run as a float GEMM instead: every partial sum is an integer below 2^24
//! in f32 (checked per call from the codes and the weights' row sums,
//! [`exact_in_f32`]) or below 2^53 in f64 (see [`F64_MAX_DEPTH`]), so it
//! is exact too, and its value modulo 2^32 is the wrapping int32 sum.

use super::super::dense::row_major;
use super::Wide;
use crate::{bail, Result};
use rayon::prelude::*;

crate::ops::host_simd::host_simd_fn! {
    /// `Σ a[k] · b[k]` wrapping in i32, compiled for the host's vector unit
    /// (`ops::host_simd`).
    pub fn dot<B: IntoI32>(a: &[i16], b: &[B]) -> i32 = dot_lanes
}

/// Weights and codes that widen to i32.
pub trait IntoI32: Copy + Into<i32> {}
impl<T: Copy + Into<i32>> IntoI32 for T {}

/// [`dot`]'s loop. Sixteen lanes per step is the shape the compiler turns
/// into full-width `pmaddwd`; release builds check overflow, so every
/// operation is an explicit wrapping one.
#[inline(always)]
fn dot_lanes<B: IntoI32>(a: &[i16], b: &[B]) -> i32 {
    let mut lanes = [0i32; 16];
    let (ac, bc) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail = ac.remainder().iter().zip(bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..16 {
            lanes[l] = lanes[l].wrapping_add((x[l] as i32).wrapping_mul(y[l].into()));
        }
    }
    let head = lanes.iter().fold(0i32, |s, &v| s.wrapping_add(v));
    tail.fold(head, |s, (&x, &y)| s.wrapping_add((x as i32).wrapping_mul(y.into())))
}

/// Terms per int32 chunk of a sum in an int64 accumulator: each product of
/// a code and a weight is at most 2^15 · 2^7 = 2^22 in magnitude, so 256
/// of them stay below 2^31.
pub const CHUNK: usize = 256;

/// `Σ a[k] · b[k]` in the accumulator `A`, where every `|a[k] · b[k]| ≤
/// 2^22` (a code times a weight): one wrapping int32 dot for int32
/// accumulators, exact int32 chunks summed in int64 otherwise.
#[inline]
pub fn dot_acc<A: Wide, B: IntoI32>(a: &[i16], b: &[B]) -> A {
    if A::BITS == 32 {
        return A::of(dot(a, b));
    }
    a.chunks(CHUNK).zip(b.chunks(CHUNK)).fold(A::ZERO, |s, (x, y)| s.add(A::of(dot(x, y))))
}

/// Codes as i16 in row-major order (int8, uint8 and int16 all fit).
pub fn as_i16(t: &crate::tensor::Tensor) -> Result<Vec<i16>> {
    use crate::tensor::Tensor;
    Ok(match t {
        Tensor::I8(a) => row_major(a).iter().map(|&v| v as i16).collect(),
        Tensor::U8(a) => row_major(a).iter().map(|&v| v as i16).collect(),
        Tensor::I16(a) => row_major(a).into_owned(),
        t => bail!("expected int8, uint8 or int16 codes, got {}", t.dtype()),
    })
}

/// The geometry of a 2-D integer convolution (missing leading spatial axes
/// have size 1): input [batch, c_in, in_h, in_w], weights [c_out, c_in /
/// group, k_h, k_w], output [batch, c_out, out_h, out_w].
#[derive(Debug, Clone, Copy)]
pub struct ConvGeom {
    pub batch: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub group: usize,
    pub in_hw: [usize; 2],
    pub out_hw: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Padding before each axis (top, left).
    pub pad: [usize; 2],
}

/// Multiply-accumulates below which a convolution runs on one thread (a
/// thread per sample already runs in calibration and scoring).
const PARALLEL_MACS: usize = 1 << 22;

impl ConvGeom {
    fn per_group(&self) -> Result<(usize, usize)> {
        let (c_in, c_out, group) = (self.c_in, self.c_out, self.group);
        if group == 0 || c_in % group != 0 || c_out % group != 0 {
            bail!("group {group} does not divide the {c_in} input and {c_out} output channels");
        }
        Ok((c_in / group, c_out / group))
    }

    fn plane(&self) -> (usize, usize) {
        (self.in_hw[0] * self.in_hw[1], self.out_hw[0] * self.out_hw[1])
    }
}

/// The accumulators [batch, c_out, out_h, out_w] of a convolution: `bias[c]
/// + Σ x · w` over each window, where padding reads `x_zero` (the kernel's
/// `conv` with the zero point folded into the bias).
pub fn conv<A: Wide>(x: &[i16], x_zero: i16, w: &[i8], bias: &[A], g: &ConvGeom) -> Result<Vec<A>> {
    let (cg, og) = g.per_group()?;
    let (in_len, out_len) = g.plane();
    let kvol = g.kernel[0] * g.kernel[1];
    let k = cg * kvol;
    if x.len() != g.batch * g.c_in * in_len || w.len() != g.c_out * k || bias.len() != g.c_out {
        bail!("IntConv: input, weight or bias sizes do not match the convolution's shape");
    }
    if k > F64_MAX_DEPTH {
        crate::unsupported!("integer convolutions summing more than 2^30 products per output");
    }
    // Several input channels per output, or int64 sums of more taps than
    // one int32 chunk holds: a float GEMM ([`exact_gemm`]); else the depthwise loop.
    if cg > 1 || (A::BITS == 64 && kvol > CHUNK) {
        return exact_gemm(x, x_zero, w, k, || conv_float::<f32, A>(x, x_zero, w, bias, g, k), || conv_float::<f64, A>(x, x_zero, w, bias, g, k));
    }
    let w: Vec<i16> = w.iter().map(|&v| v as i16).collect();
    let mut y = vec![A::ZERO; g.batch * g.c_out * out_len];
    let macs = y.len() * k;
    // Output channels `bias.len()` of one group reading `x_g`.
    let channels = |x_g: &[i16], w_c: &[i16], b_c: &[A], y_c: &mut [A]| depthwise(x_g, x_zero, w_c, b_c, y_c, g);
    // One job per (image, group): its output planes are contiguous.
    let job = |(ng, y_g): (usize, &mut [A])| {
        let (n, gi) = (ng / g.group, ng % g.group);
        let x_g = &x[(n * g.c_in + gi * cg) * in_len..][..cg * in_len];
        channels(x_g, &w[gi * og * k..][..og * k], &bias[gi * og..][..og], y_g);
    };
    let jobs = y.chunks_mut(og * out_len).enumerate();
    if macs >= PARALLEL_MACS && g.batch * g.group > 1 {
        jobs.collect::<Vec<_>>().into_par_iter().for_each(job);
    } else if macs >= PARALLEL_MACS {
        // One image, one group: split its output channels instead.
        let per = og.div_ceil(rayon::current_num_threads().max(1) * 4).max(1);
        y.par_chunks_mut(per * out_len)
            .zip(w.par_chunks(per * k))
            .zip(bias.par_chunks(per))
            .for_each(|((y_c, w_c), b_c)| channels(&x[..cg * in_len], w_c, b_c, y_c));
    } else {
        jobs.for_each(job);
    }
    Ok(y)
}

/// Sums of at most this many terms run as an f64 GEMM: each term is a
/// code minus the zero point (below 2^16 in magnitude) times a weight (at
/// most 2^7), so every partial sum stays below 2^(30 + 23) = 2^53, where
/// f64 holds integers exactly in any order of summation.
const F64_MAX_DEPTH: usize = 1 << 30;

/// A float type whose GEMM sums integers exactly while every partial sum
/// stays below `2^MANTISSA` in magnitude.
trait ExactFloat: crate::interp::gemm::Dot + Copy + Into<f64> {
    const MANTISSA: i32;
    fn from_i32(v: i32) -> Self;
    /// The integer an exact sum holds.
    fn integer(self) -> i64 {
        let v: f64 = self.into();
        v as i64
    }
}

impl ExactFloat for f32 {
    const MANTISSA: i32 = 24;
    fn from_i32(v: i32) -> f32 {
        v as f32
    }
}

impl ExactFloat for f64 {
    const MANTISSA: i32 = 53;
    fn from_i32(v: i32) -> f64 {
        f64::from(v)
    }
}

/// Whether every partial sum of the products of terms of magnitude at
/// most `x_max` with a `k`-weight row of `w` (in any order) stays within
/// f32's exact integers: `x_max · max_row Σ |w|` below 2^24. Products of
/// 8-bit codes usually do; those of 16-bit codes take f64. Summing the
/// weights costs what converting them for the GEMM does, once per call.
fn exact_in_f32(x_max: u32, w: &[i8], k: usize) -> bool {
    let l1 = w.chunks(k.max(1)).map(|row| row.iter().map(|&v| u64::from(v.unsigned_abs())).sum::<u64>()).max().unwrap_or(0);
    (u64::from(x_max) * l1) < 1 << f32::MANTISSA
}

/// The result of a float GEMM of the codes `x − x_zero` by the weight rows
/// of length `k` in `w`: `in_f32` where [`exact_in_f32`] holds, else
/// `in_f64` (exact up to [`F64_MAX_DEPTH`] terms).
fn exact_gemm<R>(x: &[i16], x_zero: i16, w: &[i8], k: usize, in_f32: impl FnOnce() -> R, in_f64: impl FnOnce() -> R) -> R {
    let x_max = x.iter().map(|&v| (i32::from(v) - i32::from(x_zero)).unsigned_abs()).max().unwrap_or(0);
    if exact_in_f32(x_max, w, k) {
        in_f32()
    } else {
        in_f64()
    }
}

/// [`conv`] as the float interpreter's im2col GEMM in `T` over `x − x_zero`
/// (padding then reads 0, as the kernels' padding reads `x_zero`), plus
/// `x_zero · Σ w` per output channel; exact when every partial sum is
/// below `2^T::MANTISSA` (the caller's bound).
fn conv_float<T: ExactFloat, A: Wide>(x: &[i16], x_zero: i16, w: &[i8], bias: &[A], g: &ConvGeom, k: usize) -> Result<Vec<A>> {
    use crate::ops::conv::lower::{self, Channels};
    use crate::ops::spatial::{Traversal, TraversalAxis};
    let xs: Vec<T> = x.iter().map(|&v| T::from_i32(i32::from(v) - i32::from(x_zero))).collect();
    let ws: Vec<T> = w.iter().map(|&v| T::from_i32(i32::from(v))).collect();
    let zero_terms: Vec<i64> = w.chunks(k).map(|row| i64::from(x_zero) * row.iter().map(|&v| i64::from(v)).sum::<i64>()).collect();
    let axes = (0..2)
        .map(|i| TraversalAxis { b_dim: g.out_hw[i], a_dim: g.in_hw[i], stride: g.stride[i], dilation: g.dilation[i], offset: g.pad[i] as i64 })
        .collect();
    let t = Traversal::new(axes, &g.kernel)?;
    let ch = Channels { batch: g.batch, c_in: g.c_in, c_out: g.c_out, group: g.group };
    let sums = lower::conv(&xs, &ws, None, ch, &t)?;
    let out_len = g.plane().1.max(1);
    let mut y = Vec::with_capacity(sums.len());
    for (plane, sums) in sums.chunks(out_len).enumerate() {
        let (b, z) = (bias[plane % g.c_out], zero_terms[plane % g.c_out]);
        y.extend(sums.iter().map(|&s| b.add(A::wrap(s.integer() + z))));
    }
    Ok(y)
}

/// [`matmul`] as a GEMM in `T`, exact under the caller's bound.
fn matmul_float<T: ExactFloat, A: Wide>(x: &[i16], w: &[i8], bias: &[A], (rows, k, n): (usize, usize, usize)) -> Result<Vec<A>> {
    use ndarray::{Array2, ArrayView2};
    let xs: Vec<T> = x.iter().map(|&v| T::from_i32(i32::from(v))).collect();
    let ws: Vec<T> = w.iter().map(|&v| T::from_i32(i32::from(v))).collect();
    let shape_err = |e: ndarray::ShapeError| crate::Error::Op(format!("IntConv: {e}"));
    let (xa, wa) = (ArrayView2::from_shape((rows, k), &xs).map_err(shape_err)?, ArrayView2::from_shape((n, k), &ws).map_err(shape_err)?);
    let mut sums = Array2::<T>::from_elem((rows, n), T::zero());
    crate::interp::gemm::gemm(T::one(), xa, wa.t(), T::zero(), sums.view_mut())?;
    let mut y = Vec::with_capacity(rows * n);
    for row in sums.rows() {
        y.extend(row.iter().zip(bias).map(|(&s, &b)| b.add(A::wrap(s.integer()))));
    }
    Ok(y)
}

/// One input channel read by `bias.len()` output channels (depthwise, or a
/// channel multiplier): the plane is padded once with `x_zero`, then every
/// kernel tap adds a strided row with no bounds test. Sums of at most
/// [`CHUNK`] taps run in int32 (exact) and join `A` once.
fn depthwise<A: Wide>(x: &[i16], x_zero: i16, w: &[i16], bias: &[A], y: &mut [A], g: &ConvGeom) {
    let ([in_h, in_w], [out_h, out_w]) = (g.in_hw, g.out_hw);
    let ([k_h, k_w], [s_h, s_w], [d_h, d_w], [p_t, p_l]) = (g.kernel, g.stride, g.dilation, g.pad);
    // The padded extent every window reads: rows (out_h − 1)·s_h + (k_h − 1)·d_h + 1.
    let ph = (out_h.max(1) - 1) * s_h + (k_h - 1) * d_h + 1;
    let pw = (out_w.max(1) - 1) * s_w + (k_w - 1) * d_w + 1;
    let mut padded = vec![x_zero; ph * pw];
    for r in 0..in_h.min(ph.saturating_sub(p_t)) {
        let cols = in_w.min(pw.saturating_sub(p_l));
        padded[(r + p_t) * pw + p_l..][..cols].copy_from_slice(&x[r * in_w..][..cols]);
    }
    let kvol = k_h * k_w;
    let mut row = vec![0i32; out_w];
    for (oc, y_c) in y.chunks_mut((out_h * out_w).max(1)).enumerate() {
        let wk = &w[oc * kvol..][..kvol];
        for oh in 0..out_h {
            row.fill(0);
            for kh in 0..k_h {
                let src = &padded[(oh * s_h + kh * d_h) * pw..][..pw];
                for kw in 0..k_w {
                    let wv = wk[kh * k_w + kw] as i32;
                    let src = &src[kw * d_w..];
                    if s_w == 1 {
                        for (a, &v) in row.iter_mut().zip(src) {
                            *a = a.wrapping_add(wv.wrapping_mul(v as i32));
                        }
                    } else {
                        for (a, &v) in row.iter_mut().zip(src.iter().step_by(s_w)) {
                            *a = a.wrapping_add(wv.wrapping_mul(v as i32));
                        }
                    }
                }
            }
            for (d, &a) in y_c[oh * out_w..][..out_w].iter_mut().zip(&row) {
                *d = bias[oc].add(A::of(a));
            }
        }
    }
}

/// Rows of `x` from which a product with constant weights runs as a float
/// GEMM: below, converting the weights costs more than the GEMM saves.
const GEMM_ROWS: usize = 32;

/// The accumulators [rows, n] of a matrix product with constant weights:
/// `bias[c] + Σ_k x[r, k] · w[c, k]` (IntConv over no spatial axes). With
/// few rows, each weight row, the large operand, is read once in place as
/// int8 against every row of `x` (which stays in the cache); with many, the
/// product is a float GEMM ([`exact_gemm`]), exact for `k` ≤
/// [`F64_MAX_DEPTH`].
pub fn matmul<A: Wide>(x: &[i16], w: &[i8], bias: &[A], k: usize) -> Result<Vec<A>> {
    let n = bias.len();
    if k == 0 || x.len() % k != 0 || w.len() != n * k {
        bail!("IntConv: X of {} codes and W of {} weights do not share K = {k}", x.len(), w.len());
    }
    let rows = x.len() / k;
    if rows >= GEMM_ROWS && k <= F64_MAX_DEPTH {
        let dims = (rows, k, n);
        return exact_gemm(x, 0, w, k, || matmul_float::<f32, A>(x, w, bias, dims), || matmul_float::<f64, A>(x, w, bias, dims));
    }
    // The result transposed, [n, rows]: one output channel per chunk.
    let mut columns = vec![A::ZERO; n * rows];
    let column = |((y_c, w_row), &b): ((&mut [A], &[i8]), &A)| {
        for (d, x_row) in y_c.iter_mut().zip(x.chunks(k)) {
            *d = b.add(dot_acc::<A, i8>(x_row, w_row));
        }
    };
    if rows * n * k >= PARALLEL_MACS {
        columns.par_chunks_mut(rows.max(1)).zip(w.par_chunks(k)).zip(bias.par_iter()).for_each(column);
    } else {
        columns.chunks_mut(rows.max(1)).zip(w.chunks(k)).zip(bias).for_each(column);
    }
    Ok((0..rows * n).map(|i| columns[(i % n) * rows + i / n]).collect())
}

/// The accumulators [m, n] of `a` [m, k] times `b` [k, n], both centred
/// codes that fit in i16 (IntMatMul's operands): `Σ_j a[r, j] · b[j, c]`.
/// int32 sums wrap; int64 sums of int16 codes split each `b` into `256 ·
/// hi + lo` (`lo` in [0, 255]) so that every int32 chunk of products stays
/// below 2^31 (`|a · hi| ≤ 2^22`, `|a · lo| < 2^23`, chunks of 128).
pub fn product<A: Wide>(a: &[i16], b: &[i16], (m, k, n): (usize, usize, usize)) -> Vec<A> {
    let mut bt = vec![0i16; k * n];
    for (j, row) in b.chunks(n.max(1)).enumerate().take(k) {
        for (c, &v) in row.iter().enumerate() {
            bt[c * k + j] = v;
        }
    }
    let mut y = Vec::with_capacity(m * n);
    if A::BITS == 32 {
        for a_row in a.chunks(k.max(1)).take(m) {
            y.extend(bt.chunks(k.max(1)).take(n).map(|b_col| A::of(dot(a_row, b_col))));
        }
        return y;
    }
    let hi: Vec<i16> = bt.iter().map(|&v| v >> 8).collect();
    let lo: Vec<i16> = bt.iter().map(|&v| v & 0xff).collect();
    for a_row in a.chunks(k.max(1)).take(m) {
        for (h, l) in hi.chunks(k.max(1)).zip(lo.chunks(k.max(1))).take(n) {
            let sum = a_row.chunks(128).zip(h.chunks(128).zip(l.chunks(128))).fold(A::ZERO, |s, (x, (h, l))| {
                s.add(A::of(dot(x, h)).mul(A::of(256))).add(A::of(dot(x, l)))
            });
            y.push(sum);
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::Rng;

    /// The kernels' loop: every tap in order, padding as `x_zero`.
    fn direct<A: Wide>(x: &[i16], x_zero: i16, w: &[i8], bias: &[A], g: &ConvGeom) -> Vec<A> {
        let (cg, og) = g.per_group().unwrap();
        let ([in_h, in_w], [out_h, out_w]) = (g.in_hw, g.out_hw);
        let mut y = Vec::new();
        for n in 0..g.batch {
            for oc in 0..g.c_out {
                for oh in 0..out_h {
                    for ow in 0..out_w {
                        let mut acc = bias[oc];
                        for ic in 0..cg {
                            let c = (oc / og) * cg + ic;
                            for kh in 0..g.kernel[0] {
                                for kw in 0..g.kernel[1] {
                                    let ih = (oh * g.stride[0] + kh * g.dilation[0]) as isize - g.pad[0] as isize;
                                    let iw = (ow * g.stride[1] + kw * g.dilation[1]) as isize - g.pad[1] as isize;
                                    let inside = ih >= 0 && (ih as usize) < in_h && iw >= 0 && (iw as usize) < in_w;
                                    let v = if inside { x[((n * g.c_in + c) * in_h + ih as usize) * in_w + iw as usize] } else { x_zero };
                                    let wv = w[((oc * cg + ic) * g.kernel[0] + kh) * g.kernel[1] + kw];
                                    acc = acc.add(A::of(v as i32 * wv as i32));
                                }
                            }
                        }
                        y.push(acc);
                    }
                }
            }
        }
        y
    }

    fn random_geom(r: &mut Rng) -> ConvGeom {
        let group = [1, 1, 2, 3][(r.next() % 4) as usize];
        let depthwise = r.next() % 3 == 0;
        let (cg, og) = if depthwise { (1, 1 + (r.next() % 2) as usize) } else { (1 + (r.next() % 5) as usize, 1 + (r.next() % 6) as usize) };
        let kernel = [1 + (r.next() % 3) as usize, 1 + (r.next() % 4) as usize];
        let stride = [1 + (r.next() % 2) as usize, 1 + (r.next() % 3) as usize];
        let dilation = [1 + (r.next() % 2) as usize, 1 + (r.next() % 2) as usize];
        let pad = [(r.next() % 3) as usize, (r.next() % 2) as usize];
        let in_hw = [1 + (r.next() % 9) as usize, 1 + (r.next() % 12) as usize];
        let out = |i: usize| {
            let span = (kernel[i] - 1) * dilation[i] + 1;
            (in_hw[i] + 2 * pad[i]).saturating_sub(span) / stride[i] + 1
        };
        ConvGeom { batch: 1 + (r.next() % 2) as usize, c_in: cg * group, c_out: og * group, group, in_hw, out_hw: [out(0), out(1)], kernel, stride, dilation, pad }
    }

    #[test]
    fn blocked_convolutions_equal_the_kernels_loop_bit_for_bit() {
        let mut r = Rng(0xc0de);
        for case in 0..400 {
            let g = random_geom(&mut r);
            let wide = case % 2 == 1;
            let (lo, span) = if wide { (-32768i64, 65536u64) } else { (-128, 256) };
            let x: Vec<i16> = (0..g.batch * g.c_in * g.in_hw[0] * g.in_hw[1]).map(|_| (lo + (r.next() % span) as i64) as i16).collect();
            let w: Vec<i8> = (0..g.c_out * g.c_in / g.group * g.kernel[0] * g.kernel[1]).map(|_| r.next() as i8).collect();
            let x_zero = (lo + (r.next() % span) as i64) as i16;
            if wide {
                let bias: Vec<i64> = (0..g.c_out).map(|_| r.next() as i64 >> 20).collect();
                assert_eq!(conv(&x, x_zero, &w, &bias, &g).unwrap(), direct(&x, x_zero, &w, &bias, &g), "{g:?}");
            } else {
                // Large biases make the int32 sums wrap: still identical.
                let bias: Vec<i32> = (0..g.c_out).map(|_| r.next() as i32).collect();
                assert_eq!(conv(&x, x_zero, &w, &bias, &g).unwrap(), direct(&x, x_zero, &w, &bias, &g), "{g:?}");
            }
        }
    }

    #[test]
    fn int16_depthwise_windows_longer_than_a_chunk_are_exact() {
        // 2 channels of 17x17 taps (289 > CHUNK): the f64 GEMM, extreme codes.
        let g = ConvGeom { batch: 1, c_in: 2, c_out: 2, group: 2, in_hw: [18, 20], out_hw: [4, 4], kernel: [17, 17], stride: [1, 1], dilation: [1, 1], pad: [1, 0] };
        assert!(17 * 17 > CHUNK);
        let mut r = Rng(0x1617);
        let x: Vec<i16> = (0..2 * 18 * 20).map(|i| if i % 3 == 0 { -32768 } else { r.next() as i16 }).collect();
        let w: Vec<i8> = (0..2 * 289).map(|i| if i % 2 == 0 { -128 } else { r.next() as i8 }).collect();
        let bias = vec![i64::MAX >> 2, -(i64::MAX >> 3)];
        assert_eq!(conv(&x, 32767, &w, &bias, &g).unwrap(), direct(&x, 32767, &w, &bias, &g));
    }

    #[test]
    fn f32_sums_only_below_its_exact_integers() {
        let w = vec![-127i8; 128];
        // 1032 · 127 · 128 < 2^24 ≤ 1033 · 127 · 128.
        assert!(exact_in_f32(1032, &w, 128));
        assert!(!exact_in_f32(1033, &w, 128));
        // Odd products: sums past 2^24 would lose their low bits in f32.
        for x_max in [1032i16, 1033, 32767] {
            let x: Vec<i16> = (0..GEMM_ROWS * 128).map(|i| x_max - (i % 7) as i16).collect();
            let want: Vec<i64> = x.chunks(128).map(|row| row.iter().map(|&v| -127 * i64::from(v)).sum()).collect();
            assert_eq!(matmul(&x, &w, &[0i64], 128).unwrap(), want, "{x_max}");
        }
    }

    #[test]
    fn products_with_constant_weights_equal_the_direct_sums_bit_for_bit() {
        let mut r = Rng(0x5eed);
        for case in 0..200 {
            // Rows on both sides of GEMM_ROWS: the direct loop and the float GEMM.
            let (rows, k, n) = (1 + (r.next() % 40) as usize, 1 + (r.next() % 900) as usize, 1 + (r.next() % 7) as usize);
            let wide = case % 2 == 1;
            let x: Vec<i16> = (0..rows * k).map(|_| if wide { r.next() as i16 } else { r.next() as i8 as i16 }).collect();
            let w: Vec<i8> = (0..n * k).map(|_| r.next() as i8).collect();
            let direct = |row: usize, c: usize| (0..k).map(|j| i64::from(x[row * k + j]) * i64::from(w[c * k + j])).sum::<i64>();
            if wide {
                let bias: Vec<i64> = (0..n).map(|_| r.next() as i64 >> 20).collect();
                let want: Vec<i64> = (0..rows * n).map(|i| bias[i % n] + direct(i / n, i % n)).collect();
                assert_eq!(matmul(&x, &w, &bias, k).unwrap(), want);
            } else {
                // Large biases make the int32 sums wrap: still identical.
                let bias: Vec<i32> = (0..n).map(|_| r.next() as i32).collect();
                let want: Vec<i32> = (0..rows * n).map(|i| bias[i % n].wrapping_add(direct(i / n, i % n) as i32)).collect();
                assert_eq!(matmul(&x, &w, &bias, k).unwrap(), want);
            }
        }
    }

    #[test]
    fn products_of_two_activations_equal_the_direct_sums() {
        let mut r = Rng(0xab);
        for case in 0..200 {
            let (m, k, n) = (1 + (r.next() % 5) as usize, 1 + (r.next() % 700) as usize, 1 + (r.next() % 6) as usize);
            let wide = case % 2 == 0;
            let code = |r: &mut Rng| if wide { r.next() as i16 } else { (r.next() % 511) as i16 - 255 };
            let a: Vec<i16> = (0..m * k).map(|_| code(&mut r)).collect();
            let b: Vec<i16> = (0..k * n).map(|_| code(&mut r)).collect();
            let direct = |row: usize, col: usize| (0..k).map(|j| a[row * k + j] as i64 * b[j * n + col] as i64).sum::<i64>();
            if wide {
                let got = product::<i64>(&a, &b, (m, k, n));
                assert_eq!(got, (0..m * n).map(|i| direct(i / n, i % n)).collect::<Vec<_>>());
            } else {
                let got = product::<i32>(&a, &b, (m, k, n));
                assert_eq!(got, (0..m * n).map(|i| direct(i / n, i % n) as i32).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn int64_sums_longer_than_a_chunk_are_exact() {
        // 3 · 256 + 5 products of −32768 · −128 = 2^22: 2^22 · 773 overflows int32.
        let (x, w) = (vec![-32768i16; 773], vec![-128i8; 773]);
        let y = matmul::<i64>(&x, &w, &[7], 773).unwrap();
        assert_eq!(y, vec![7 + 773 * (1i64 << 22)]);
        let y = matmul::<i32>(&x, &w, &[7], 773).unwrap();
        assert_eq!(y, vec![7i32.wrapping_add((773i64 << 22) as i32)]);
    }
}
