/* Dense products: operand packing, a register-blocked GEMM (4 x 8
 * accumulator tiles, k innermost over packed panels), and the
 * convolutions built on it (im2col + GEMM, GEMM + col2im). The same
 * contracts as the Rust runtime's kernels/gemm.rs.
 *
 * Packed layout: a matrix of `lanes` x `depth` elements is stored as
 * ceil(lanes / W) panels of `depth` rows of W lanes (lanes past the end
 * zero); A operands use W = 4 (lanes = rows), B operands W = 8 (lanes =
 * columns). Float types accumulate in QCC_C; integers wrap (QCC_U).
 *
 * Instantiated per element type (see ops_num.h for the QCC_* macros);
 * defines qcc_{pack_a,pack_b,gemm,conv,conv_transpose}_<suffix>. */

#ifndef QCC_FLOAT
#define QCC_FLOAT 1
#define QCC_SIGNED 2
#define QCC_UNSIGNED 3
#endif

#ifndef QCC_GEMM_COMMON
#define QCC_GEMM_COMMON
#define QCC_GEMM_MR 4
#define QCC_GEMM_NR 8
#define QCC_GEMM_MC 64

/* Source position of window position o at kernel offset k along an axis,
 * or -1 when outside the input. */
static inline int64_t qcc_gemm_source(size_t o, size_t k, size_t stride, size_t dilation, int64_t pad, size_t size) {
    int64_t a = (int64_t)(o * stride + k * dilation) - pad;
    return (a >= 0 && a < (int64_t)size) ? a : -1;
}
#endif

#define QCC_GEMM_FN(name) QCC_CAT(qcc_##name, QCC_S)
#if QCC_KIND == QCC_FLOAT
#define QCC_GEMM_ACC QCC_C
#define QCC_GEMM_LOAD(x) QCC_IN(x)
#define QCC_GEMM_STORE(x) QCC_OUT(x)
#else
#define QCC_GEMM_ACC QCC_U
#define QCC_GEMM_LOAD(x) ((QCC_U)(x))
#define QCC_GEMM_STORE(x) ((QCC_T)(x))
#endif

/* Packs `batch` matrices: element (lane l, depth p) of matrix b is
 * src[b*bs + l*ls + p*ps]; dims = {batch, lanes, depth, ls, ps, bs}. */
static inline void QCC_GEMM_FN(gemm_pack)(const QCC_T *src, QCC_T *dst, const size_t *dims, size_t w) {
    size_t batch = dims[0], lanes = dims[1], depth = dims[2], ls = dims[3], ps = dims[4], bs = dims[5];
    size_t panels = (lanes + w - 1) / w, per = panels * w * depth, b, pi, p, r;
    for (b = 0; b < batch; b++) {
        for (pi = 0; pi < panels; pi++) {
            QCC_T *out = dst + b * per + pi * w * depth;
            for (p = 0; p < depth; p++) {
                for (r = 0; r < w; r++) {
                    size_t l = pi * w + r;
                    out[p * w + r] = l < lanes ? src[b * bs + l * ls + p * ps] : (QCC_T)0;
                }
            }
        }
    }
}

static inline void QCC_GEMM_FN(pack_a)(const QCC_T *src, QCC_T *dst, const size_t *dims) {
    QCC_GEMM_FN(gemm_pack)(src, dst, dims, QCC_GEMM_MR);
}

static inline void QCC_GEMM_FN(pack_b)(const QCC_T *src, QCC_T *dst, const size_t *dims) {
    QCC_GEMM_FN(gemm_pack)(src, dst, dims, QCC_GEMM_NR);
}

/* y[i*ldy + j] = alpha * sum_p A[i][p] B[p][j] + beta * y[i*ldy + j] for
 * i < m, j < n over packed A (m x k) and B (k x n); beta 0 ignores y. */
static inline void QCC_GEMM_FN(gemm_raw)(const QCC_T *a, const QCC_T *b, QCC_T *y, size_t m, size_t n, size_t k, size_t ldy,
                                         double alpha, double beta) {
    size_t i0, i, j, p, r, c;
    int scale = alpha != 1.0, keep = beta != 0.0;
    QCC_GEMM_ACC alpha_c = (QCC_GEMM_ACC)alpha, beta_c = (QCC_GEMM_ACC)beta;
    for (i0 = 0; i0 < m; i0 += QCC_GEMM_MC) {
        size_t i1 = i0 + QCC_GEMM_MC < m ? i0 + QCC_GEMM_MC : m;
        for (j = 0; j < n; j += QCC_GEMM_NR) {
            const QCC_T *bp = b + j / QCC_GEMM_NR * QCC_GEMM_NR * k;
            size_t cols = n - j < QCC_GEMM_NR ? n - j : QCC_GEMM_NR;
            for (i = i0; i < i1; i += QCC_GEMM_MR) {
                const QCC_T *ap = a + i / QCC_GEMM_MR * QCC_GEMM_MR * k;
                size_t rows = i1 - i < QCC_GEMM_MR ? i1 - i : QCC_GEMM_MR;
                QCC_GEMM_ACC acc[QCC_GEMM_MR][QCC_GEMM_NR];
                for (r = 0; r < QCC_GEMM_MR; r++) {
                    for (c = 0; c < QCC_GEMM_NR; c++) {
                        acc[r][c] = (QCC_GEMM_ACC)0;
                    }
                }
                for (p = 0; p < k; p++) {
                    const QCC_T *ar = ap + p * QCC_GEMM_MR, *br = bp + p * QCC_GEMM_NR;
                    for (r = 0; r < QCC_GEMM_MR; r++) {
                        QCC_GEMM_ACC x = QCC_GEMM_LOAD(ar[r]);
                        for (c = 0; c < QCC_GEMM_NR; c++) {
                            acc[r][c] += x * QCC_GEMM_LOAD(br[c]);
                        }
                    }
                }
                for (r = 0; r < rows; r++) {
                    QCC_T *out = y + (i + r) * ldy + j;
                    for (c = 0; c < cols; c++) {
                        QCC_GEMM_ACC v = scale ? acc[r][c] * alpha_c : acc[r][c];
                        out[c] = QCC_GEMM_STORE(keep ? v + beta_c * QCC_GEMM_LOAD(out[c]) : v);
                    }
                }
            }
        }
    }
}

/* dims = {m, n, k, ldy}. */
static inline void QCC_GEMM_FN(gemm)(const QCC_T *a, const QCC_T *b, QCC_T *y, const size_t *dims, double alpha, double beta) {
    QCC_GEMM_FN(gemm_raw)(a, b, y, dims[0], dims[1], dims[2], dims[3], alpha, beta);
}

/* Columns p0 .. p0 + width of one group's im2col matrix, packed as B.
 * g = {batch, c_in, c_out, group, input x3, output x3, kernel x3,
 * stride x3, dilation x3, chunk}. */
static inline void QCC_GEMM_FN(im2col)(const QCC_T *x, QCC_T *col, const size_t *g, const int64_t *pads, size_t cg, size_t p0,
                                       size_t width) {
    const size_t *in = g + 4, *out = g + 7, *ker = g + 10, *st = g + 13, *dil = g + 16;
    size_t kvol = ker[0] * ker[1] * ker[2], k = cg * kvol, in_len = in[0] * in[1] * in[2], ci, kidx, l;
    for (ci = 0; ci < cg; ci++) {
        for (kidx = 0; kidx < kvol; kidx++) {
            size_t ka = kidx / (ker[1] * ker[2]), kb = kidx / ker[2] % ker[1], kc = kidx % ker[2], row = ci * kvol + kidx;
            size_t z = p0 / (out[1] * out[2]), yy = p0 / out[2] % out[1], xx = p0 % out[2];
            for (l = 0; l < width; l++) {
                int64_t a = qcc_gemm_source(z, ka, st[0], dil[0], pads[0], in[0]);
                int64_t b = qcc_gemm_source(yy, kb, st[1], dil[1], pads[1], in[1]);
                int64_t c = qcc_gemm_source(xx, kc, st[2], dil[2], pads[2], in[2]);
                QCC_T v = (QCC_T)0;
                if (a >= 0 && b >= 0 && c >= 0) {
                    v = x[ci * in_len + ((size_t)a * in[1] + (size_t)b) * in[2] + (size_t)c];
                }
                col[l / QCC_GEMM_NR * k * QCC_GEMM_NR + row * QCC_GEMM_NR + l % QCC_GEMM_NR] = v;
                if (++xx == out[2]) {
                    xx = 0;
                    if (++yy == out[1]) {
                        yy = 0;
                        z++;
                    }
                }
            }
        }
    }
}

/* y = conv(x, w) (+ beta * y, the bias stored in y); w holds each group's
 * weights packed as A, col room for k * chunk elements. */
static inline void QCC_GEMM_FN(conv)(const QCC_T *x, const QCC_T *w, QCC_T *col, QCC_T *y, const size_t *g, const int64_t *pads,
                                     double beta) {
    size_t batch = g[0], c_in = g[1], c_out = g[2], group = g[3], chunk = g[19];
    size_t cg = c_in / group, og = c_out / group, kvol = g[10] * g[11] * g[12], k = cg * kvol;
    size_t in_len = g[4] * g[5] * g[6], out_len = g[7] * g[8] * g[9];
    size_t w_size = (og + QCC_GEMM_MR - 1) / QCC_GEMM_MR * QCC_GEMM_MR * k, img, gi, p0;
    for (img = 0; img < batch; img++) {
        for (gi = 0; gi < group; gi++) {
            const QCC_T *xg = x + (img * c_in + gi * cg) * in_len;
            QCC_T *yg = y + (img * c_out + gi * og) * out_len;
            for (p0 = 0; p0 < out_len; p0 += chunk) {
                size_t width = out_len - p0 < chunk ? out_len - p0 : chunk;
                QCC_GEMM_FN(im2col)(xg, col, g, pads, cg, p0, width);
                QCC_GEMM_FN(gemm_raw)(w + gi * w_size, col, yg + p0, og, width, k, out_len, 1.0, beta);
            }
        }
    }
}

/* y += conv_transpose(x, w); w holds each group's transposed weights
 * ([og * kvol, cg]) packed as A; xcol room for cg * chunk elements, col
 * for og * kvol * chunk. Input position b at kernel offset k adds to
 * output position b * stride + k * dilation - pads. */
static inline void QCC_GEMM_FN(conv_transpose)(const QCC_T *x, const QCC_T *w, QCC_T *xcol, QCC_T *col, QCC_T *y, const size_t *g,
                                               const int64_t *pads) {
    size_t batch = g[0], c_in = g[1], c_out = g[2], group = g[3], chunk = g[19];
    const size_t *in = g + 4, *out = g + 7, *ker = g + 10, *st = g + 13, *dil = g + 16;
    size_t cg = c_in / group, og = c_out / group, kvol = ker[0] * ker[1] * ker[2], rows = og * kvol;
    size_t in_len = in[0] * in[1] * in[2], out_len = out[0] * out[1] * out[2];
    size_t w_size = (rows + QCC_GEMM_MR - 1) / QCC_GEMM_MR * QCC_GEMM_MR * cg, img, gi, p0, oc, kidx, l;
    for (img = 0; img < batch; img++) {
        for (gi = 0; gi < group; gi++) {
            const QCC_T *xg = x + (img * c_in + gi * cg) * in_len;
            QCC_T *yg = y + (img * c_out + gi * og) * out_len;
            for (p0 = 0; p0 < in_len; p0 += chunk) {
                size_t width = in_len - p0 < chunk ? in_len - p0 : chunk;
                size_t pdims[6];
                pdims[0] = 1;
                pdims[1] = width;
                pdims[2] = cg;
                pdims[3] = 1;
                pdims[4] = in_len;
                pdims[5] = 0;
                QCC_GEMM_FN(pack_b)(xg + p0, xcol, pdims);
                QCC_GEMM_FN(gemm_raw)(w + gi * w_size, xcol, col, rows, width, cg, width, 1.0, 0.0);
                for (oc = 0; oc < og; oc++) {
                    QCC_T *plane = yg + oc * out_len;
                    for (kidx = 0; kidx < kvol; kidx++) {
                        size_t ka = kidx / (ker[1] * ker[2]), kb = kidx / ker[2] % ker[1], kc = kidx % ker[2];
                        const QCC_T *src = col + (oc * kvol + kidx) * width;
                        size_t z = p0 / (in[1] * in[2]), yy = p0 / in[2] % in[1], xx = p0 % in[2];
                        for (l = 0; l < width; l++) {
                            int64_t a = qcc_gemm_source(z, ka, st[0], dil[0], pads[0], out[0]);
                            int64_t b = qcc_gemm_source(yy, kb, st[1], dil[1], pads[1], out[1]);
                            int64_t c = qcc_gemm_source(xx, kc, st[2], dil[2], pads[2], out[2]);
                            if (a >= 0 && b >= 0 && c >= 0) {
                                QCC_T *d = plane + ((size_t)a * out[1] + (size_t)b) * out[2] + (size_t)c;
                                *d = QCC_GEMM_STORE(QCC_GEMM_LOAD(*d) + QCC_GEMM_LOAD(src[l]));
                            }
                            if (++xx == in[2]) {
                                xx = 0;
                                if (++yy == in[1]) {
                                    yy = 0;
                                    z++;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#undef QCC_GEMM_FN
#undef QCC_GEMM_ACC
#undef QCC_GEMM_LOAD
#undef QCC_GEMM_STORE
