/* onnxruntime's com.microsoft DynamicQuantizeLSTM for float32 (the
 * semantics of runtime/kernels/rnn_quant.rs, where dims and the layouts are
 * documented): qcc_lstm_dynamic_quant_f32_i8 and _u8 run one direction
 * with int8 or uint8 weights. They use qcc_dynamic_quantize_u8
 * (dynamic_quant.h) and qcc_rnn_apply_d (rnn.h), included before this
 * header (kernel headers come in module-name order).
 *
 * Included once per element type with the QCC_* macros of ops_num.h; only
 * the float32 instance defines kernels. */

#if QCC_KIND == QCC_FLOAT && !defined(QCC_KERNELS_RNN_QUANT_F32)
#define QCC_KERNELS_RNN_QUANT_F32

/* Code k of a weight matrix of int8 (is_signed) or uint8 codes. */
static inline int32_t qcc_rnn_quant_code(const void *m, size_t k, bool is_signed) {
    return is_signed ? (int32_t)((const int8_t *)m)[k] : (int32_t)((const uint8_t *)m)[k];
}

/* acc[g] = sum_k (a[k] - za) * (m[k * cols + g] - zm), wrapping int32. */
static inline void qcc_rnn_quant_products(const uint8_t *a, size_t depth, int32_t za, const void *m, bool is_signed,
                                          int32_t zm, size_t cols, int32_t *acc) {
    size_t k, g;
    for (g = 0; g < cols; g++) {
        acc[g] = 0;
    }
    for (k = 0; k < depth; k++) {
        int32_t v = (int32_t)a[k] - za;
        if (v != 0) {
            for (g = 0; g < cols; g++) {
                int32_t q = qcc_rnn_quant_code(m, k * cols + g, is_signed) - zm;
                acc[g] = (int32_t)((uint32_t)acc[g] + (uint32_t)v * (uint32_t)q);
            }
        }
    }
}

/* One LSTM unit (as rnn.rs `lstm_unit`): its gate pre-activations at
 * pre[0], pre[hs], pre[2 * hs], pre[3 * hs] (i, o, f, c), its peepholes at
 * p[0], p[hs], p[2 * hs] (i, o, f); updates *h and *c, computed in double
 * and rounded once (see rnn_quant.rs). */
static inline void qcc_lstm_unit_d(const float *pre, size_t hs, const float *p, const int64_t *acts,
                                   const double *params, bool input_forget, float *h, float *c) {
    double c0 = (double)*c, nc, i, f, g, o;
    i = qcc_rnn_apply_d(acts, params, 0, (double)pre[0] + (double)p[0] * c0);
    f = input_forget ? 1.0 - i : qcc_rnn_apply_d(acts, params, 0, (double)pre[2 * hs] + (double)p[2 * hs] * c0);
    g = qcc_rnn_apply_d(acts, params, 1, (double)pre[3 * hs]);
    nc = f * c0 + i * g;
    o = qcc_rnn_apply_d(acts, params, 0, (double)pre[hs] + (double)p[hs] * nc);
    *c = (float)nc;
    *h = (float)(o * qcc_rnn_apply_d(acts, params, 2, nc));
}

static inline void qcc_lstm_dynamic_quant_impl(const uint8_t *xq, const float *x_scale, const uint8_t *x_zero, const void *w,
                                               const float *w_scale, const void *r, const float *r_scale, bool is_signed,
                                               const float *b, const float *h0, const float *c0, const float *p, float *y,
                                               float *y_h, float *y_c, float *scratch, uint8_t *codes, int32_t *acc,
                                               const size_t *dims, const int64_t *zeros, const int64_t *acts,
                                               const double *params) {
    size_t seq = dims[0], batch = dims[1], input = dims[2], hs = dims[3], wc = dims[4], rc = dims[5], off = dims[6];
    size_t y_ts = dims[7];
    bool reverse = dims[8] != 0, has_y = dims[9] != 0, has_y_h = dims[10] != 0, has_y_c = dims[11] != 0;
    bool input_forget = dims[12] != 0;
    size_t gh = 4 * hs, n = batch * hs, k, g, step, bi;
    float *h = scratch, *c = h + n, *pre = c + n, *wm = pre + gh, *rm = wm + gh, *bias = rm + gh, *peep = bias + gh;
    float *h_scale = peep + 3 * hs;
    uint8_t *hq = codes, *h_zero = codes + n;
    int32_t *ax = acc, *ah = acc + gh;
    int32_t zx = (int32_t)x_zero[0], zw = (int32_t)zeros[0], zr = (int32_t)zeros[1];
    size_t count = n;
    for (k = 0; k < n; k++) {
        h[k] = h0[k];
        c[k] = c0[k];
    }
    for (g = 0; g < gh; g++) {
        bias[g] = b[g] + b[gh + g];
        wm[g] = x_scale[0] * w_scale[wc == 1 ? 0 : g];
    }
    for (k = 0; k < 3 * hs; k++) {
        peep[k] = p[k];
    }
    for (step = 0; step < seq; step++) {
        size_t t = reverse ? seq - 1 - step : step;
        int32_t zh;
        qcc_dynamic_quantize_u8(h, hq, h_scale, h_zero, &count);
        for (g = 0; g < gh; g++) {
            rm[g] = h_scale[0] * r_scale[rc == 1 ? 0 : g];
        }
        zh = (int32_t)h_zero[0];
        for (bi = 0; bi < batch; bi++) {
            qcc_rnn_quant_products(xq + (t * batch + bi) * input, input, zx, w, is_signed, zw, gh, ax);
            qcc_rnn_quant_products(hq + bi * hs, hs, zh, r, is_signed, zr, gh, ah);
            for (g = 0; g < gh; g++) {
                pre[g] = ((float)ax[g] * wm[g] + (float)ah[g] * rm[g]) + bias[g];
            }
            for (k = 0; k < hs; k++) {
                qcc_lstm_unit_d(pre + k, hs, peep + k, acts, params, input_forget, h + bi * hs + k, c + bi * hs + k);
            }
            if (has_y) {
                for (k = 0; k < hs; k++) {
                    y[off + t * y_ts + bi * hs + k] = h[bi * hs + k];
                }
            }
        }
    }
    for (k = 0; k < n; k++) {
        if (has_y_h) {
            y_h[off + k] = h[k];
        }
        if (has_y_c) {
            y_c[off + k] = c[k];
        }
    }
}

static inline void qcc_lstm_dynamic_quant_f32_i8(const uint8_t *xq, const float *x_scale, const uint8_t *x_zero,
                                                 const int8_t *w, const float *w_scale, const int8_t *r,
                                                 const float *r_scale, const float *b, const float *h0, const float *c0,
                                                 const float *p, float *y, float *y_h, float *y_c, float *scratch,
                                                 uint8_t *codes, int32_t *acc, const size_t *dims, const int64_t *zeros,
                                                 const int64_t *acts, const double *params) {
    qcc_lstm_dynamic_quant_impl(xq, x_scale, x_zero, w, w_scale, r, r_scale, true, b, h0, c0, p, y, y_h, y_c, scratch, codes,
                                acc, dims, zeros, acts, params);
}

static inline void qcc_lstm_dynamic_quant_f32_u8(const uint8_t *xq, const float *x_scale, const uint8_t *x_zero,
                                                 const uint8_t *w, const float *w_scale, const uint8_t *r,
                                                 const float *r_scale, const float *b, const float *h0, const float *c0,
                                                 const float *p, float *y, float *y_h, float *y_c, float *scratch,
                                                 uint8_t *codes, int32_t *acc, const size_t *dims, const int64_t *zeros,
                                                 const int64_t *acts, const double *params) {
    qcc_lstm_dynamic_quant_impl(xq, x_scale, x_zero, w, w_scale, r, r_scale, false, b, h0, c0, p, y, y_h, y_c, scratch, codes,
                                acc, dims, zeros, acts, params);
}
#endif
