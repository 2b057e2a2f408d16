/* Integer kernels of quantized models, with the semantics of
 * runtime/kernels/qint.rs: convolution (and the matrix products lowered to
 * it), transposed convolution, lookup tables, average pooling, bilinear
 * resize, mean, the product of two activations, softmax and layer
 * normalization on 8-bit codes and (but the transposed convolution) int16
 * codes, summing in the code type's accumulator (fixed_point.h's
 * qcc_acc_<s>: int32 for 8-bit codes, int64 for int16).
 *
 * Included once per code type (QCC_T, QCC_S) after fixed_point.h. */

/* Helpers independent of the code type, defined once. */
#ifndef QCC_QINT_HELPERS
#define QCC_QINT_HELPERS
/* The input position that kernel offset k maps to output o along one axis
 * of a transposed convolution, or -1. */
static inline ptrdiff_t qcc_qint_transposed_source(size_t o, size_t k, int64_t pad, size_t stride, size_t dilation, size_t len) {
    int64_t t = (int64_t)o + pad - (int64_t)(k * dilation);
    if (t < 0 || t % (int64_t)stride != 0 || (size_t)(t / (int64_t)stride) >= len) {
        return -1;
    }
    return (ptrdiff_t)(t / (int64_t)stride);
}

/* i split over the n groups {extent, stride} (last fastest), each digit times its stride. */
static inline size_t qcc_qint_group_offset(size_t i, const size_t *groups, size_t n) {
    size_t off = 0;
    while (n > 0) {
        n--;
        off += (i % groups[2 * n]) * groups[2 * n + 1];
        i /= groups[2 * n];
    }
    return off;
}

/* exp(-s_x * d) in Q0.30 from a softmax table of n entries (qint.rs's
 * softmax_exp): table[d] when n is 256, else the product of the low-byte
 * and high-byte tables. */
static inline int64_t qcc_qint_softmax_exp(const int32_t *table, size_t n, size_t d) {
    if (n == 256u) {
        return table[d];
    }
    return ((int64_t)table[256u + (d >> 8)] * (int64_t)table[d & 255u] + (INT64_C(1) << 29)) >> 30;
}
#endif

#define QCC_QFN(name) QCC_CAT(qcc_##name, QCC_S)
/* The code range, from the size and signedness of QCC_T. */
#define QCC_QMIN (sizeof(QCC_T) == 2 ? -32768 : (QCC_T)-1 < 0 ? -128 : 0)
#define QCC_QMAX (sizeof(QCC_T) == 2 ? 32767 : (QCC_T)-1 < 0 ? 127 : 255)
/* The accumulator, its unsigned twin and its functions (fixed_point.h). */
#define QCC_QACC QCC_CAT(qcc_acc, QCC_S)
#define QCC_QUACC QCC_CAT(qcc_uacc, QCC_S)
#define QCC_QSTAGE QCC_CAT(qcc_acc_stage, QCC_S)

/* dims = {batch, c_in, in_h, in_w, c_out, out_h, out_w, group},
 * geom = {k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left},
 * params = {x_zero, y_zero, act_min, act_max, single_rounding}. */
static inline void QCC_QFN(conv)(const QCC_T *x, const int8_t *w, const QCC_QACC *bias, const int32_t *mult, const int32_t *exp,
                                 QCC_T *y, const size_t *dims, const size_t *geom, const int64_t *params) {
    size_t batch = dims[0], c_in = dims[1], in_h = dims[2], in_w = dims[3], c_out = dims[4], out_h = dims[5], out_w = dims[6];
    size_t group = dims[7], k_h = geom[0], k_w = geom[1], s_h = geom[2], s_w = geom[3], d_h = geom[4], d_w = geom[5];
    ptrdiff_t p_t = (ptrdiff_t)geom[6], p_l = (ptrdiff_t)geom[7];
    int32_t x_zero = (int32_t)params[0], y_zero = (int32_t)params[1], lo = (int32_t)params[2], hi = (int32_t)params[3];
    bool single = params[4] != 0;
    size_t cig = c_in / group, cog = c_out / group, n, oc, oh, ow, ic, kh, kw;
    for (n = 0; n < batch; n++) {
        for (oc = 0; oc < c_out; oc++) {
            size_t g = oc / cog;
            const int8_t *w_oc = w + oc * cig * k_h * k_w;
            for (oh = 0; oh < out_h; oh++) {
                for (ow = 0; ow < out_w; ow++) {
                    QCC_QUACC acc = (QCC_QUACC)bias[oc];
                    for (ic = 0; ic < cig; ic++) {
                        const QCC_T *plane = x + ((n * c_in) + g * cig + ic) * in_h * in_w;
                        const int8_t *wk = w_oc + ic * k_h * k_w;
                        for (kh = 0; kh < k_h; kh++) {
                            ptrdiff_t ih = (ptrdiff_t)(oh * s_h + kh * d_h) - p_t;
                            for (kw = 0; kw < k_w; kw++) {
                                ptrdiff_t iw = (ptrdiff_t)(ow * s_w + kw * d_w) - p_l;
                                int32_t v = (ih >= 0 && (size_t)ih < in_h && iw >= 0 && (size_t)iw < in_w)
                                                ? (int32_t)plane[(size_t)ih * in_w + (size_t)iw]
                                                : x_zero;
                                acc += (QCC_QUACC)(QCC_QACC)(v * (int32_t)wk[kh * k_w + kw]);
                            }
                        }
                    }
                    y[((n * c_out + oc) * out_h + oh) * out_w + ow] =
                        (QCC_T)QCC_QSTAGE((QCC_QACC)acc, mult[oc], exp[oc], single, y_zero, lo, hi);
                }
            }
        }
    }
}

/* y[i] = the table at x[i] for the dims[0] elements (qint.rs's lut_at): the
 * 256-entry table at x - QCC_QMIN for 8-bit codes, the 513-entry table
 * interpolated over segments of 128 codes for int16. */
static inline void QCC_QFN(lut)(const QCC_T *x, const QCC_T *table, QCC_T *y, const size_t *dims) {
    size_t i, len = dims[0];
    for (i = 0; i < len; i++) {
        uint32_t u = (uint32_t)((int32_t)x[i] - QCC_QMIN);
        if (QCC_QMAX - QCC_QMIN < 256) {
            y[i] = table[u];
        } else {
            int32_t t0 = (int32_t)table[u >> 7], t1 = (int32_t)table[(u >> 7) + 1u];
            y[i] = (QCC_T)(t0 + (((t1 - t0) * (int32_t)(u & 127u) + 64) >> 7));
        }
    }
}

/* dims = {planes, in_h, in_w, out_h, out_w},
 * geom = {k_h, k_w, stride_h, stride_w, pad_top, pad_left},
 * params = {x_zero, include_pad, requant, m, e, y_zero, act_min, act_max, single_rounding}. */
static inline void QCC_QFN(avg_pool)(const QCC_T *x, QCC_T *y, const size_t *dims, const size_t *geom, const int64_t *params) {
    int32_t x_zero = (int32_t)params[0];
    bool include_pad = params[1] != 0, requant = params[2] != 0, single = params[8] != 0;
    size_t planes = dims[0], in_h = dims[1], in_w = dims[2], out_h = dims[3], out_w = dims[4];
    size_t k_h = geom[0], k_w = geom[1], s_h = geom[2], s_w = geom[3], p, oh, ow, kh, kw;
    ptrdiff_t p_t = (ptrdiff_t)geom[4], p_l = (ptrdiff_t)geom[5];
    for (p = 0; p < planes; p++) {
        const QCC_T *plane = x + p * in_h * in_w;
        for (oh = 0; oh < out_h; oh++) {
            for (ow = 0; ow < out_w; ow++) {
                QCC_QUACC sum = 0;
                int32_t count = 0, r;
                for (kh = 0; kh < k_h; kh++) {
                    ptrdiff_t ih = (ptrdiff_t)(oh * s_h + kh) - p_t;
                    for (kw = 0; kw < k_w; kw++) {
                        ptrdiff_t iw = (ptrdiff_t)(ow * s_w + kw) - p_l;
                        if (ih >= 0 && (size_t)ih < in_h && iw >= 0 && (size_t)iw < in_w) {
                            sum += (QCC_QUACC)(QCC_QACC)plane[(size_t)ih * in_w + (size_t)iw];
                            count++;
                        } else if (include_pad) {
                            sum += (QCC_QUACC)(QCC_QACC)x_zero;
                            count++;
                        }
                    }
                }
                if (requant) {
                    sum += (QCC_QUACC)count * (QCC_QUACC)(QCC_QACC)-x_zero;
                    r = QCC_QSTAGE((QCC_QACC)sum, (int32_t)params[3], (int32_t)params[4], single, (int32_t)params[5],
                                   (int32_t)params[6], (int32_t)params[7]);
                } else {
                    r = QCC_CAT(qcc_acc_average, QCC_S)((QCC_QACC)sum, count);
                    r = r < QCC_QMIN ? QCC_QMIN : r > QCC_QMAX ? QCC_QMAX : r;
                }
                y[(p * out_h + oh) * out_w + ow] = (QCC_T)r;
            }
        }
    }
}

/* dims = {batch, c_in, in_h, in_w, c_out, out_h, out_w, group},
 * geom = {k_h, k_w, stride_h, stride_w, dilation_h, dilation_w},
 * params = {pad_top, pad_left, x_zero, y_zero, act_min, act_max, single_rounding};
 * w is [c_in, c_out / group, k_h, k_w]. */
static inline void QCC_QFN(conv_transpose)(const QCC_T *x, const int8_t *w, const int32_t *bias, const int32_t *mult,
                                           const int32_t *exp, QCC_T *y, const size_t *dims, const size_t *geom,
                                           const int64_t *params) {
    size_t batch = dims[0], c_in = dims[1], in_h = dims[2], in_w = dims[3], c_out = dims[4], out_h = dims[5], out_w = dims[6];
    size_t group = dims[7], k_h = geom[0], k_w = geom[1], s_h = geom[2], s_w = geom[3], d_h = geom[4], d_w = geom[5];
    int64_t p_t = params[0], p_l = params[1];
    int32_t x_zero = (int32_t)params[2], y_zero = (int32_t)params[3], lo = (int32_t)params[4], hi = (int32_t)params[5];
    bool single = params[6] != 0;
    size_t cig = c_in / group, cog = c_out / group, n, oc, oh, ow, ic, kh, kw;
    for (n = 0; n < batch; n++) {
        for (oc = 0; oc < c_out; oc++) {
            size_t g = oc / cog, o = oc % cog;
            for (oh = 0; oh < out_h; oh++) {
                for (ow = 0; ow < out_w; ow++) {
                    uint32_t acc = (uint32_t)bias[oc];
                    for (ic = 0; ic < cig; ic++) {
                        size_t c = g * cig + ic;
                        const QCC_T *plane = x + (n * c_in + c) * in_h * in_w;
                        const int8_t *wk = w + (c * cog + o) * k_h * k_w;
                        for (kh = 0; kh < k_h; kh++) {
                            ptrdiff_t ih = qcc_qint_transposed_source(oh, kh, p_t, s_h, d_h, in_h);
                            if (ih < 0) {
                                continue;
                            }
                            for (kw = 0; kw < k_w; kw++) {
                                ptrdiff_t iw = qcc_qint_transposed_source(ow, kw, p_l, s_w, d_w, in_w);
                                if (iw < 0) {
                                    continue;
                                }
                                int32_t v = (int32_t)plane[(size_t)ih * in_w + (size_t)iw] - x_zero;
                                acc += (uint32_t)(v * (int32_t)wk[kh * k_w + kw]);
                            }
                        }
                    }
                    y[((n * c_out + oc) * out_h + oh) * out_w + ow] =
                        (QCC_T)qcc_output_stage(qcc_requantize((int32_t)acc, mult[oc], exp[oc], single), y_zero, lo, hi);
                }
            }
        }
    }
}

/* Bilinear resampling of the last two axes; taps_h and taps_w hold {lo, hi, w}
 * per output row and column, w in Q11. dims = {planes, in_h, in_w, out_h, out_w}. */
static inline void QCC_QFN(resize_bilinear)(const QCC_T *x, const int32_t *taps_h, const int32_t *taps_w, QCC_T *y,
                                            const size_t *dims) {
    size_t planes = dims[0], in_h = dims[1], in_w = dims[2], out_h = dims[3], out_w = dims[4], p, oh, ow;
    const int32_t one = 1 << 11;
    for (p = 0; p < planes; p++) {
        const QCC_T *plane = x + p * in_h * in_w;
        for (oh = 0; oh < out_h; oh++) {
            const int32_t *h = taps_h + 3 * oh;
            const QCC_T *r0 = plane + (size_t)h[0] * in_w, *r1 = plane + (size_t)h[1] * in_w;
            for (ow = 0; ow < out_w; ow++) {
                const int32_t *wt = taps_w + 3 * ow;
                size_t c0 = (size_t)wt[0], c1 = (size_t)wt[1];
                int32_t top = (one - wt[2]) * (int32_t)r0[c0] + wt[2] * (int32_t)r0[c1];
                int32_t bottom = (one - wt[2]) * (int32_t)r1[c0] + wt[2] * (int32_t)r1[c1];
                QCC_QUACC acc = (QCC_QUACC)(QCC_QACC)(one - h[2]) * (QCC_QUACC)(QCC_QACC)top +
                                (QCC_QUACC)(QCC_QACC)h[2] * (QCC_QUACC)(QCC_QACC)bottom;
                y[(p * out_h + oh) * out_w + ow] = (QCC_T)QCC_CAT(qcc_acc_div_pow2, QCC_S)((QCC_QACC)acc, 22);
            }
        }
    }
}

/* kept and reduced are {extent, stride} pairs of merged axes,
 * params = {x_zero, m, e, y_zero, act_min, act_max, single_rounding, n_kept, n_reduced}. */
static inline void QCC_QFN(reduce_mean)(const QCC_T *x, QCC_T *y, const size_t *kept, const size_t *reduced,
                                        const int64_t *params) {
    int32_t x_zero = (int32_t)params[0], m = (int32_t)params[1], e = (int32_t)params[2];
    int32_t y_zero = (int32_t)params[3], lo = (int32_t)params[4], hi = (int32_t)params[5];
    bool single = params[6] != 0;
    size_t n_kept = (size_t)params[7], n_reduced = (size_t)params[8], outs = 1, count = 1, o, r, i;
    for (i = 0; i < n_kept; i++) {
        outs *= kept[2 * i];
    }
    for (i = 0; i < n_reduced; i++) {
        count *= reduced[2 * i];
    }
    for (o = 0; o < outs; o++) {
        size_t base = qcc_qint_group_offset(o, kept, n_kept);
        QCC_QUACC sum = 0;
        for (r = 0; r < count; r++) {
            sum += (QCC_QUACC)(QCC_QACC)((int32_t)x[base + qcc_qint_group_offset(r, reduced, n_reduced)] - x_zero);
        }
        y[o] = (QCC_T)QCC_QSTAGE((QCC_QACC)sum, m, e, single, y_zero, lo, hi);
    }
}

/* The product of two code tensors with broadcast batch axes (qint.rs's int_matmul).
 * dims = {M, K, N, rank, batch[rank], a_step[rank], b_step[rank]},
 * params = {z_a, z_b, m, e, y_zero, act_min, act_max, single_rounding}.
 * The compiler has proven K * max|a - z_a| * max|b - z_b| * 2^max(e, 0) below
 * 2^31 (8-bit codes) or 2^62 (int16). */
static inline void QCC_QFN(int_matmul)(const QCC_T *a, const QCC_T *b, QCC_T *y, const size_t *dims, const int64_t *params) {
    size_t m = dims[0], k = dims[1], n = dims[2], rank = dims[3], count = 1, t, i, r, c, j;
    const size_t *batch = dims + 4, *a_step = dims + 4 + rank, *b_step = dims + 4 + 2 * rank;
    int32_t za = (int32_t)params[0], zb = (int32_t)params[1], mult = (int32_t)params[2], e = (int32_t)params[3];
    int32_t y_zero = (int32_t)params[4], lo = (int32_t)params[5], hi = (int32_t)params[6];
    bool single = params[7] != 0;
    for (i = 0; i < rank; i++) {
        count *= batch[i];
    }
    for (t = 0; t < count; t++) {
        size_t rest = t, ao = 0, bo = 0;
        const QCC_T *am, *bm;
        QCC_T *ym = y + t * m * n;
        for (i = rank; i-- > 0;) {
            size_t idx = rest % batch[i];
            rest /= batch[i];
            ao += idx * a_step[i];
            bo += idx * b_step[i];
        }
        am = a + ao * m * k;
        bm = b + bo * k * n;
        for (r = 0; r < m; r++) {
            for (c = 0; c < n; c++) {
                QCC_QUACC acc = 0;
                for (j = 0; j < k; j++) {
                    acc += (QCC_QUACC)(QCC_QACC)((int32_t)am[r * k + j] - za) * (QCC_QUACC)(QCC_QACC)((int32_t)bm[j * n + c] - zb);
                }
                ym[r * n + c] = (QCC_T)QCC_QSTAGE((QCC_QACC)acc, mult, e, single, y_zero, lo, hi);
            }
        }
    }
}

/* Softmax of codes along rows of len codes inner apart (qint.rs's int_softmax).
 * dims = {outer, len, inner}, params = {y_zero, act_min, act_max, recip};
 * the table has 256 entries round(2^30 * exp(-s_x * d)) for 8-bit codes, 512
 * (the low-byte and the high-byte tables) for int16. */
static inline void QCC_QFN(int_softmax)(const QCC_T *x, const int32_t *table, QCC_T *y, const size_t *dims, const int64_t *params) {
    size_t outer = dims[0], len = dims[1], inner = dims[2], o, i, j, n = QCC_QMAX - QCC_QMIN < 256 ? 256u : 512u;
    int64_t y_zero = params[0], lo = params[1], hi = params[2], recip = params[3];
    for (o = 0; o < outer; o++) {
        for (i = 0; i < inner; i++) {
            size_t base = o * len * inner + i;
            int32_t max = QCC_QMIN;
            int64_t sum = 0;
            for (j = 0; j < len; j++) {
                int32_t v = (int32_t)x[base + j * inner];
                max = v > max ? v : max;
            }
            for (j = 0; j < len; j++) {
                sum += qcc_qint_softmax_exp(table, n, (size_t)(max - (int32_t)x[base + j * inner]));
            }
            for (j = 0; j < len; j++) {
                int64_t e = qcc_qint_softmax_exp(table, n, (size_t)(max - (int32_t)x[base + j * inner]));
                int64_t q = (2 * e * recip + sum) / (2 * sum) + y_zero;
                y[base + j * inner] = (QCC_T)(q < lo ? lo : q > hi ? hi : q);
            }
        }
    }
}

/* Layer normalization over dims = {outer, len} contiguous rows (qint.rs's
 * int_layer_norm), params = {eps, j, frac, shift, y_zero, act_min, act_max}.
 * The compiler has proven every product below 2^62 and y within int32. */
static inline void QCC_QFN(int_layer_norm)(const QCC_T *x, const int32_t *gain, const int32_t *bias, QCC_T *y, const size_t *dims,
                                           const int64_t *params) {
    size_t outer = dims[0], len = dims[1], o, i;
    int64_t eps = params[0], n = (int64_t)len;
    uint32_t j = (uint32_t)params[1], frac = (uint32_t)params[2], shift = (uint32_t)params[3];
    int32_t y_zero = (int32_t)params[4], lo = (int32_t)params[5], hi = (int32_t)params[6];
    for (o = 0; o < outer; o++) {
        const QCC_T *row = x + o * len;
        QCC_T *out = y + o * len;
        int64_t sum = 0, sum_sq = 0, inv;
        uint32_t k;
        for (i = 0; i < len; i++) {
            int64_t q = (int64_t)row[i];
            sum += q;
            sum_sq += q * q;
        }
        qcc_layer_norm_factor(n * sum_sq - sum * sum, eps, j, frac, &inv, &k);
        for (i = 0; i < len; i++) {
            int64_t v = qcc_round_shift_i64((n * (int64_t)row[i] - sum) * inv, k);
            int64_t acc = v * gain[i] + (int64_t)bias[i] * (INT64_C(1) << frac);
            out[i] = (QCC_T)qcc_output_stage((int32_t)qcc_round_shift_i64(acc, shift), y_zero, lo, hi);
        }
    }
}

#undef QCC_QMIN
#undef QCC_QMAX
#undef QCC_QACC
#undef QCC_QUACC
#undef QCC_QSTAGE
#undef QCC_QFN
