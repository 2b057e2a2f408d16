//! Integer kernels of quantized models (NUMERICS.md): convolution (and the
//! matrix products lowered to it), transposed convolution, lookup tables,
//! average pooling, bilinear resize, mean, the product of two activations,
//! softmax and layer normalization on 8-bit codes and, except the
//! transposed convolution, on int16 codes (16x8). Sums run in the code's
//! accumulator (`Code::Acc`: int32 for 8-bit codes, int64 for int16; layer
//! normalization and softmax in int64), which the compiler has proven
//! never overflows.

use super::super::fixed_point::{layer_norm_factor, lut_at, output, requantize, round_shift_i64, softmax_exp, Acc, Code};

/// A 2-D convolution of codes `x` ([batch, c_in, in_h, in_w]) by int8
/// weights `w` ([c_out, c_in / group, k_h, k_w]), written to `y`
/// ([batch, c_out, out_h, out_w]). Each output starts from `bias[c]` (the
/// zero points already folded in), adds `x · w` over its window in the
/// code's accumulator, where padding reads the input zero point, and goes
/// through the requantization with `(mult[c], exp[c])` and the output stage.
///
/// `dims = [batch, c_in, in_h, in_w, c_out, out_h, out_w, group]`,
/// `geom = [k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left]`,
/// `params = [x_zero, y_zero, act_min, act_max, single_rounding]`.
#[allow(clippy::too_many_arguments)]
pub fn conv<T: Code>(
    x: &[T],
    w: &[i8],
    bias: &[T::Acc],
    mult: &[i32],
    exp: &[i32],
    y: &mut [T],
    dims: &[usize],
    geom: &[usize],
    params: &[i64],
) {
    let &[batch, c_in, in_h, in_w, c_out, out_h, out_w, group] = dims else { return };
    let &[k_h, k_w, s_h, s_w, d_h, d_w, p_t, p_l] = geom else { return };
    let &[x_zero, y_zero, lo, hi, single] = params else { return };
    let (x_zero, y_zero, lo, hi, single) = (x_zero as i32, y_zero as i32, lo as i32, hi as i32, single != 0);
    let (cig, cog) = (c_in / group, c_out / group);
    for n in 0..batch {
        for oc in 0..c_out {
            let g = oc / cog;
            let w_oc = &w[oc * cig * k_h * k_w..(oc + 1) * cig * k_h * k_w];
            for oh in 0..out_h {
                for ow in 0..out_w {
                    let mut acc = bias[oc];
                    for ic in 0..cig {
                        let plane = &x[((n * c_in) + g * cig + ic) * in_h * in_w..][..in_h * in_w];
                        let wk = &w_oc[ic * k_h * k_w..(ic + 1) * k_h * k_w];
                        for kh in 0..k_h {
                            let ih = (oh * s_h + kh * d_h) as isize - p_t as isize;
                            for kw in 0..k_w {
                                let iw = (ow * s_w + kw * d_w) as isize - p_l as isize;
                                let v = if ih >= 0 && (ih as usize) < in_h && iw >= 0 && (iw as usize) < in_w {
                                    plane[ih as usize * in_w + iw as usize].to_i32()
                                } else {
                                    x_zero
                                };
                                acc = acc.add(T::Acc::of(v * wk[kh * k_w + kw] as i32));
                            }
                        }
                    }
                    let r = acc.stage(mult[oc], exp[oc], single, y_zero, lo, hi);
                    y[((n * c_out + oc) * out_h + oh) * out_w + ow] = T::from_i32(r);
                }
            }
        }
    }
}

/// `y[i] = lut_at(table, x[i])` for the `dims[0]` elements: a unary
/// operator as a table.
pub fn lut<T: Code>(x: &[T], table: &[T], y: &mut [T], dims: &[usize]) {
    let len = dims.first().copied().unwrap_or(0);
    for (d, &s) in y[..len].iter_mut().zip(x) {
        *d = lut_at(table, s);
    }
}

/// Average pooling of codes, sums in the code's accumulator. Padding counts
/// as the zero point `x_zero` when `include_pad`, else not at all. Without
/// `requant`, the output keeps the input's parameters: the window's sum
/// divided by its count, rounded half away from zero. With it (every window
/// has the same count), the output is `stage(requantize(sum − count ·
/// x_zero, m, e))`.
///
/// `dims = [planes, in_h, in_w, out_h, out_w]`,
/// `geom = [k_h, k_w, stride_h, stride_w, pad_top, pad_left]`,
/// `params = [x_zero, include_pad, requant, m, e, y_zero, act_min, act_max, single_rounding]`.
pub fn avg_pool<T: Code>(x: &[T], y: &mut [T], dims: &[usize], geom: &[usize], params: &[i64]) {
    let &[planes, in_h, in_w, out_h, out_w] = dims else { return };
    let &[k_h, k_w, s_h, s_w, p_t, p_l] = geom else { return };
    let &[x_zero, include_pad, requant, m, e, y_zero, lo, hi, single] = params else { return };
    let (x_zero, include_pad, requant) = (x_zero as i32, include_pad != 0, requant != 0);
    for p in 0..planes {
        let plane = &x[p * in_h * in_w..][..in_h * in_w];
        for oh in 0..out_h {
            for ow in 0..out_w {
                let (mut sum, mut count) = (T::Acc::ZERO, 0i32);
                for kh in 0..k_h {
                    let ih = (oh * s_h + kh) as isize - p_t as isize;
                    for kw in 0..k_w {
                        let iw = (ow * s_w + kw) as isize - p_l as isize;
                        if ih >= 0 && (ih as usize) < in_h && iw >= 0 && (iw as usize) < in_w {
                            sum = sum.add(T::Acc::of(plane[ih as usize * in_w + iw as usize].to_i32()));
                            count += 1;
                        } else if include_pad {
                            sum = sum.add(T::Acc::of(x_zero));
                            count += 1;
                        }
                    }
                }
                y[(p * out_h + oh) * out_w + ow] = T::from_i32(if requant {
                    let centred = sum.add(T::Acc::of(count).mul(T::Acc::of(-x_zero)));
                    centred.stage(m as i32, e as i32, single != 0, y_zero as i32, lo as i32, hi as i32)
                } else {
                    sum.average(count).clamp(T::MIN, T::MAX)
                });
            }
        }
    }
}

/// A transposed 2-D convolution of codes `x` ([batch, c_in, in_h, in_w]) by
/// int8 weights `w` ([c_in, c_out / group, k_h, k_w]), written to `y`
/// ([batch, c_out, out_h, out_w]). Input position `i` and kernel offset `k`
/// reach output `i · stride + k · dilation − pad` along each axis; each
/// output starts from `bias[c]`, adds `(x − x_zero) · w` over every pair
/// that reaches it, and goes through `requantize` with `(mult[c], exp[c])`
/// and the output stage.
///
/// `dims = [batch, c_in, in_h, in_w, c_out, out_h, out_w, group]`,
/// `geom = [k_h, k_w, stride_h, stride_w, dilation_h, dilation_w]`,
/// `params = [pad_top, pad_left, x_zero, y_zero, act_min, act_max, single_rounding]`
/// (the pads may be negative: the output then extends beyond the full one).
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose<T: Code>(
    x: &[T],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    exp: &[i32],
    y: &mut [T],
    dims: &[usize],
    geom: &[usize],
    params: &[i64],
) {
    let &[batch, c_in, in_h, in_w, c_out, out_h, out_w, group] = dims else { return };
    let &[k_h, k_w, s_h, s_w, d_h, d_w] = geom else { return };
    let &[p_t, p_l, x_zero, y_zero, lo, hi, single] = params else { return };
    let (x_zero, y_zero, lo, hi, single) = (x_zero as i32, y_zero as i32, lo as i32, hi as i32, single != 0);
    let (cig, cog) = (c_in / group, c_out / group);
    // The input position that kernel offset `k` maps to output `o`, if any.
    let source = |o: usize, k: usize, pad: i64, stride: usize, dilation: usize, len: usize| -> Option<usize> {
        let t = o as i64 + pad - (k * dilation) as i64;
        (t >= 0 && t % stride as i64 == 0 && ((t / stride as i64) as usize) < len).then_some((t / stride as i64) as usize)
    };
    for n in 0..batch {
        for oc in 0..c_out {
            let (g, o) = (oc / cog, oc % cog);
            for oh in 0..out_h {
                for ow in 0..out_w {
                    let mut acc = bias[oc];
                    for ic in 0..cig {
                        let c = g * cig + ic;
                        let plane = &x[(n * c_in + c) * in_h * in_w..][..in_h * in_w];
                        let wk = &w[(c * cog + o) * k_h * k_w..][..k_h * k_w];
                        for kh in 0..k_h {
                            let Some(ih) = source(oh, kh, p_t, s_h, d_h, in_h) else { continue };
                            for kw in 0..k_w {
                                let Some(iw) = source(ow, kw, p_l, s_w, d_w, in_w) else { continue };
                                let v = plane[ih * in_w + iw].to_i32() - x_zero;
                                acc = acc.wrapping_add(v * wk[kh * k_w + kw] as i32);
                            }
                        }
                    }
                    let r = requantize(acc, mult[oc], exp[oc], single);
                    y[((n * c_out + oc) * out_h + oh) * out_w + ow] = output(r, y_zero, lo, hi);
                }
            }
        }
    }
}

/// Bilinear resampling of the last two axes of codes `x` ([planes, in_h,
/// in_w]) into `y` ([planes, out_h, out_w]). `taps_h` and `taps_w` hold
/// `[lo, hi, w]` per output row and column, `w` in Q11: the output is
/// `round_div_pow2(Σ weight products · x, 22)` over the four corners, which
/// stays within the codes read (the weights sum to 2^22). Each row's sum
/// fits in int32; the total is formed in the code's accumulator.
///
/// `dims = [planes, in_h, in_w, out_h, out_w]`.
pub fn resize_bilinear<T: Code>(x: &[T], taps_h: &[i32], taps_w: &[i32], y: &mut [T], dims: &[usize]) {
    let &[planes, in_h, in_w, out_h, out_w] = dims else { return };
    let one = 1i32 << 11;
    for p in 0..planes {
        let plane = &x[p * in_h * in_w..][..in_h * in_w];
        for oh in 0..out_h {
            let h = &taps_h[3 * oh..3 * oh + 3];
            let (r0, r1) = (&plane[h[0] as usize * in_w..][..in_w], &plane[h[1] as usize * in_w..][..in_w]);
            for ow in 0..out_w {
                let w = &taps_w[3 * ow..3 * ow + 3];
                let (c0, c1) = (w[0] as usize, w[1] as usize);
                let top = (one - w[2]) * r0[c0].to_i32() + w[2] * r0[c1].to_i32();
                let bottom = (one - w[2]) * r1[c0].to_i32() + w[2] * r1[c1].to_i32();
                let acc = T::Acc::of(one - h[2]).mul(T::Acc::of(top)).add(T::Acc::of(h[2]).mul(T::Acc::of(bottom)));
                y[(p * out_h + oh) * out_w + ow] = T::from_i32(acc.div_pow2(22));
            }
        }
    }
}

/// `offset(i, groups)`: `i` split over the extents of `groups` (`[extent,
/// stride]` pairs, last fastest), each digit times its stride.
fn group_offset(mut i: usize, groups: &[usize]) -> usize {
    let mut off = 0;
    for g in groups.chunks(2).rev() {
        off += (i % g[0]) * g[1];
        i /= g[0];
    }
    off
}

/// The mean of codes over the reduced axes: output `o` is
/// `stage(requantize(Σ_r (x[offset(o, kept) + offset(r, reduced)] − x_zero), m, e))`,
/// the sum in the code's accumulator.
///
/// `kept` and `reduced` are `[extent, stride]` pairs of merged axes (the
/// first `n_kept` and `n_reduced` pairs count),
/// `params = [x_zero, m, e, y_zero, act_min, act_max, single_rounding, n_kept, n_reduced]`.
pub fn reduce_mean<T: Code>(x: &[T], y: &mut [T], kept: &[usize], reduced: &[usize], params: &[i64]) {
    let &[x_zero, m, e, y_zero, lo, hi, single, n_kept, n_reduced] = params else { return };
    let (x_zero, m, e, single) = (x_zero as i32, m as i32, e as i32, single != 0);
    let (kept, reduced) = (&kept[..2 * n_kept as usize], &reduced[..2 * n_reduced as usize]);
    let outs: usize = kept.chunks(2).map(|g| g[0]).product();
    let count: usize = reduced.chunks(2).map(|g| g[0]).product();
    for (o, d) in y[..outs].iter_mut().enumerate() {
        let base = group_offset(o, kept);
        let mut sum = T::Acc::ZERO;
        for r in 0..count {
            sum = sum.add(T::Acc::of(x[base + group_offset(r, reduced)].to_i32() - x_zero));
        }
        *d = T::from_i32(sum.stage(m, e, single, y_zero as i32, lo as i32, hi as i32));
    }
}

/// The matrix product of two code tensors, ONNX MatMul with broadcast
/// batch axes: `y = stage(requantize(Σ_k (a − z_a)(b − z_b), m, e))` for
/// each of the `Π batch` products `[M, K] · [K, N]`, summed in the code's
/// accumulator. The compiler has proven `K · max|a − z_a| · max|b − z_b| ·
/// 2^max(e, 0)` below 2^31 (8-bit codes) or 2^62 (int16).
///
/// `dims = [M, K, N, rank, batch[rank], a_step[rank], b_step[rank]]`: the
/// broadcast batch shape and each operand's stride in whole matrices along
/// it (0 where broadcast); `params = [z_a, z_b, m, e, y_zero, act_min,
/// act_max, single_rounding]`.
pub fn int_matmul<T: Code>(a: &[T], b: &[T], y: &mut [T], dims: &[usize], params: &[i64]) {
    let &[m, k, n, rank, ..] = dims else { return };
    let (batch, a_step, b_step) = (&dims[4..4 + rank], &dims[4 + rank..4 + 2 * rank], &dims[4 + 2 * rank..4 + 3 * rank]);
    let &[za, zb, mult, e, y_zero, lo, hi, single] = params else { return };
    let (za, zb, mult, e, single) = (za as i32, zb as i32, mult as i32, e as i32, single != 0);
    let count: usize = batch.iter().product();
    for t in 0..count {
        let (mut rest, mut ao, mut bo) = (t, 0, 0);
        for i in (0..rank).rev() {
            let idx = rest % batch[i];
            rest /= batch[i];
            ao += idx * a_step[i];
            bo += idx * b_step[i];
        }
        let (am, bm) = (&a[ao * m * k..][..m * k], &b[bo * k * n..][..k * n]);
        let ym = &mut y[t * m * n..][..m * n];
        for r in 0..m {
            for c in 0..n {
                let mut acc = T::Acc::ZERO;
                for j in 0..k {
                    acc = acc.add(T::Acc::of(am[r * k + j].to_i32() - za).mul(T::Acc::of(bm[j * n + c].to_i32() - zb)));
                }
                ym[r * n + c] = T::from_i32(acc.stage(mult, e, single, y_zero as i32, lo as i32, hi as i32));
            }
        }
    }
}

/// Softmax of codes along rows of `len` codes `inner` apart (`dims =
/// [outer, len, inner]`). Per row: `e_j = softmax_exp(table, max − x_j)`
/// (Q0.30, 2^30 at the maximum), `sum = Σ e_j` in i64, and `y_j =
/// clamp(floor((2 · e_j · recip + sum) / (2 · sum)) + y_zero, act_min,
/// act_max)`.
///
/// `params = [y_zero, act_min, act_max, recip]`.
pub fn int_softmax<T: Code>(x: &[T], table: &[i32], y: &mut [T], dims: &[usize], params: &[i64]) {
    let &[outer, len, inner] = dims else { return };
    let &[y_zero, lo, hi, recip] = params else { return };
    for o in 0..outer {
        for i in 0..inner {
            let base = o * len * inner + i;
            let mut max = T::MIN;
            for j in 0..len {
                max = max.max(x[base + j * inner].to_i32());
            }
            let mut sum = 0i64;
            for j in 0..len {
                sum += softmax_exp(table, (max - x[base + j * inner].to_i32()) as usize);
            }
            for j in 0..len {
                let e = softmax_exp(table, (max - x[base + j * inner].to_i32()) as usize);
                let q = (2 * e * recip + sum) / (2 * sum) + y_zero;
                y[base + j * inner] = T::from_i32(q.clamp(lo, hi) as i32);
            }
        }
    }
}

/// Layer normalization of codes over `dims = [outer, len]` contiguous rows
/// of `len` codes (NUMERICS.md, "LayerNormalization"). Per row: `S = Σ q`
/// and `S2 = Σ q²` in i64 and `(inv, k) = layer_norm_factor(len · S2 − S²,
/// eps, j, frac)`; per element `i`: the normalized value `v = round((len ·
/// q_i − S) · inv / 2^k)` (Q`frac`), then `y = round((v · gain[i] + bias[i]
/// · 2^frac) / 2^shift)` (both roundings ties toward +∞) and the output
/// stage.
///
/// `params = [eps, j, frac, shift, y_zero, act_min, act_max]`. The compiler
/// has proven that every product stays below 2^62 in magnitude and that `y`
/// fits in i32.
pub fn int_layer_norm<T: Code>(x: &[T], gain: &[i32], bias: &[i32], y: &mut [T], dims: &[usize], params: &[i64]) {
    let &[outer, len] = dims else { return };
    let &[eps, j, frac, shift, y_zero, lo, hi] = params else { return };
    let (j, frac, shift, n) = (j as u32, frac as u32, shift as u32, len as i64);
    for o in 0..outer {
        let (row, out) = (&x[o * len..][..len], &mut y[o * len..][..len]);
        let (mut sum, mut sum_sq) = (0i64, 0i64);
        for q in row {
            let q = q.to_i32() as i64;
            sum += q;
            sum_sq += q * q;
        }
        let (inv, k) = layer_norm_factor(n * sum_sq - sum * sum, eps, j, frac);
        for i in 0..len {
            let v = round_shift_i64((n * row[i].to_i32() as i64 - sum) * inv, k);
            let acc = v * gain[i] as i64 + ((bias[i] as i64) << frac);
            out[i] = output(round_shift_i64(acc, shift) as i32, y_zero as i32, lo as i32, hi as i32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::fixed_point::rounded_average;

    #[test]
    fn padded_convolution_reads_the_zero_point() {
        // One 1x1 input (code 5, zero point 3), a 3x3 all-ones kernel, pad 1:
        // acc = bias + 5 + 8 · 3; multiplier 0.5.
        let mut y = [0i8; 1];
        conv(&[5i8], &[1; 9], &[1], &[1 << 30], &[0], &mut y, &[1, 1, 1, 1, 1, 1, 1, 1], &[3, 3, 1, 1, 1, 1, 1, 1], &[3, 0, -128, 127, 0]);
        assert_eq!(y, [15]);
    }

    #[test]
    fn transposed_convolution_scatters_centred_codes_and_crops() {
        // Codes [3, 4] at zero point 2 (centred [1, 2]), kernel [1, 2, 3],
        // stride 2, multiplier 1 (m = 2^30, e = 1): full output
        // [1, 2, 3 + 2, 4, 6]; pads 1 and 1 keep [2, 5, 4]; zero point 10.
        let mut y = [0i8; 3];
        let dims = [1, 1, 1, 2, 1, 1, 3, 1];
        conv_transpose(&[3i8, 4], &[1, 2, 3], &[0], &[1 << 30], &[1], &mut y, &dims, &[1, 3, 1, 2, 1, 1], &[0, 1, 2, 10, -128, 127, 0]);
        assert_eq!(y, [12, 15, 14]);
    }

    #[test]
    fn mean_over_strided_groups() {
        // [2, 3] over axis 0: kept (3, 1), reduced (2, 3); sums of centred
        // codes (zero point 1) times 1/2 (m = 2^30, e = 0), no output zero point.
        let mut y = [0i8; 3];
        reduce_mean(&[1i8, 3, 5, 3, 5, 7], &mut y, &[3, 1], &[2, 3], &[1, 1 << 30, 0, 0, -128, 127, 0, 1, 1]);
        assert_eq!(y, [1, 3, 5]);
    }

    #[test]
    fn average_rounds_half_away_from_zero() {
        assert_eq!(rounded_average(5, 2), 3);
        assert_eq!(rounded_average(-5, 2), -3);
        let mut y = [0u8; 1];
        avg_pool(&[1u8, 2, 3, 4], &mut y, &[1, 2, 2, 1, 1], &[2, 2, 1, 1, 0, 0], &[0, 0, 0, 0, 0, 0, 0, 255, 0]);
        assert_eq!(y, [3]);
        // Requantized: sum 10 at 1/4 · 2 (m = 2^30, e = 0): 5 + zero point 1.
        avg_pool(&[1u8, 2, 3, 4], &mut y, &[1, 2, 2, 1, 1], &[2, 2, 1, 1, 0, 0], &[0, 0, 1, 1 << 30, 0, 1, 0, 255, 0]);
        assert_eq!(y, [6]);
    }

    #[test]
    fn broadcast_batches_multiply_their_own_matrices() {
        // A [2, 1, 2] (zero point 1) by B [1, 2, 1] (zero point 0), multiplier 1 (m = 2^30, e = 1).
        let mut y = [0i8; 2];
        int_matmul(&[2i8, 3, 1, 1], &[1i8, 2], &mut y, &[1, 2, 1, 1, 2, 1, 0], &[1, 0, 1 << 30, 1, 0, -128, 127, 0]);
        assert_eq!(y, [5, 0]);
    }

    #[test]
    fn softmax_of_equal_codes_is_uniform() {
        let mut table = [0i32; 256];
        table[0] = 1 << 30;
        let mut y = [0i8; 4];
        int_softmax(&[7i8, 7, 7, 7], &table, &mut y, &[1, 4, 1], &[-128, -128, 127, 256]);
        assert_eq!(y, [-64; 4]);
        int_softmax(&[7i8, 0, 0, 0], &table, &mut y, &[1, 4, 1], &[-128, -128, 127, 256]);
        assert_eq!(y, [127, -128, -128, -128]);
    }

    #[test]
    fn layer_norm_of_two_codes_is_minus_and_plus_one() {
        // Rows [3, 5] and [4, 4] (constant: normalized to 0), ε = 0, gains 1
        // and 2 output steps per unit (Q15), biases 0 and 0.5 steps, zero point 1.
        let mut y = [0i8; 4];
        let params = [0, 0, 16, 31, 1, -128, 127];
        int_layer_norm(&[3i8, 5, 4, 4], &[1 << 15, 2 << 15], &[0, 1 << 14], &mut y, &[2, 2], &params);
        assert_eq!(y, [0, 4, 1, 2]);
    }
}
