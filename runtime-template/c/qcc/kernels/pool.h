/* Windowed pools over planes of [N*C, spatial...] data, normalised to
 * three spatial axes: max (with optional int64 indices), average and Lp;
 * the same contracts as the Rust runtime's kernels/pool.rs.
 * dims = {planes, input x3, output x3, kernel x3, stride x3, dilation x3,
 * pad_begin x3, pad_end x3}.
 *
 * Instantiated per element type (see ops_num.h for the QCC_* macros);
 * defines qcc_{max_pool,max_pool_indices,average_pool,lp_pool}_<suffix>. */

#include <math.h>

#ifndef QCC_FLOAT
#define QCC_FLOAT 1
#define QCC_SIGNED 2
#define QCC_UNSIGNED 3
#endif

#ifndef QCC_POOL_COMMON
#define QCC_POOL_COMMON
/* Input position along axis `ax` of window position o at offset k, or -1. */
static inline int64_t qcc_pool_source(const size_t *g, size_t ax, size_t o, size_t k) {
    int64_t a = (int64_t)(o * g[10 + ax] + k * g[13 + ax]) - (int64_t)g[16 + ax];
    return (a >= 0 && a < (int64_t)g[1 + ax]) ? a : -1;
}

/* Offsets of window position o along axis `ax` that count. */
static inline size_t qcc_pool_count(const size_t *g, size_t ax, size_t o, bool include_pad) {
    size_t pb = g[16 + ax], pe = g[19 + ax], n = g[1 + ax], lo = include_pad ? 0 : pb, hi = include_pad ? n + pb + pe : n + pb;
    size_t k, count = 0;
    for (k = 0; k < g[7 + ax]; k++) {
        size_t q = o * g[10 + ax] + k * g[13 + ax];
        count += (q >= lo && q < hi) ? 1u : 0u;
    }
    return count;
}
#endif

#define QCC_POOL_FN(name) QCC_CAT(qcc_##name, QCC_S)
#if QCC_KIND == QCC_FLOAT
#define QCC_POOL_NAN(d) (QCC_IN(d) != QCC_IN(d))
#define QCC_POOL_GT(a, b) (QCC_IN(a) > QCC_IN(b))
#else
#define QCC_POOL_NAN(d) 0
#define QCC_POOL_GT(a, b) ((a) > (b))
#endif

/* Max over each window with the flat input index of the maximum (-1 and
 * `lowest` for a window entirely in the padding); `indices` may be NULL. */
static inline void QCC_POOL_FN(max_pool_any)(const QCC_T *x, QCC_T *y, int64_t *indices, const size_t *g, QCC_T lowest,
                                             bool column_major) {
    size_t in_len = g[1] * g[2] * g[3], out_len = g[4] * g[5] * g[6], p, z, yy, xx, a, b, c;
    for (p = 0; p < g[0]; p++) {
        const QCC_T *xp = x + p * in_len;
        size_t o = 0;
        for (z = 0; z < g[4]; z++) {
            for (yy = 0; yy < g[5]; yy++) {
                for (xx = 0; xx < g[6]; xx++, o++) {
                    QCC_T best = lowest;
                    int64_t arg = -1;
                    for (a = 0; a < g[7]; a++) {
                        int64_t sa = qcc_pool_source(g, 0, z, a);
                        if (sa < 0) {
                            continue;
                        }
                        for (b = 0; b < g[8]; b++) {
                            int64_t sb = qcc_pool_source(g, 1, yy, b);
                            if (sb < 0) {
                                continue;
                            }
                            for (c = 0; c < g[9]; c++) {
                                int64_t sc = qcc_pool_source(g, 2, xx, c);
                                size_t i;
                                QCC_T v;
                                if (sc < 0) {
                                    continue;
                                }
                                i = ((size_t)sa * g[2] + (size_t)sb) * g[3] + (size_t)sc;
                                v = xp[i];
                                if (arg < 0 || QCC_POOL_GT(v, best) || QCC_POOL_NAN(best)) {
                                    size_t pos = column_major ? (size_t)sa + (size_t)sb * g[1] + (size_t)sc * g[1] * g[2] : i;
                                    best = v;
                                    arg = (int64_t)(p * in_len + pos);
                                }
                            }
                        }
                    }
                    y[p * out_len + o] = arg < 0 ? lowest : best;
                    if (indices) {
                        indices[p * out_len + o] = arg;
                    }
                }
            }
        }
    }
}

static inline void QCC_POOL_FN(max_pool)(const QCC_T *x, QCC_T *y, const size_t *g, QCC_T lowest) {
    QCC_POOL_FN(max_pool_any)(x, y, NULL, g, lowest, false);
}

static inline void QCC_POOL_FN(max_pool_indices)(const QCC_T *x, QCC_T *y, int64_t *indices, const size_t *g, QCC_T lowest,
                                                 bool column_major) {
    QCC_POOL_FN(max_pool_any)(x, y, indices, g, lowest, column_major);
}

#if QCC_KIND == QCC_FLOAT
/* Window sums of x (p = 0) or of |x|^p rounded to the element type. */
static inline void QCC_POOL_FN(pool_sum)(const QCC_T *x, QCC_T *y, const size_t *g, int64_t p_exp) {
    size_t in_len = g[1] * g[2] * g[3], out_len = g[4] * g[5] * g[6], p, z, yy, xx, a, b, c;
    for (p = 0; p < g[0]; p++) {
        const QCC_T *xp = x + p * in_len;
        size_t o = 0;
        for (z = 0; z < g[4]; z++) {
            for (yy = 0; yy < g[5]; yy++) {
                for (xx = 0; xx < g[6]; xx++, o++) {
                    QCC_C sum = (QCC_C)0;
                    for (a = 0; a < g[7]; a++) {
                        int64_t sa = qcc_pool_source(g, 0, z, a);
                        for (b = 0; sa >= 0 && b < g[8]; b++) {
                            int64_t sb = qcc_pool_source(g, 1, yy, b);
                            for (c = 0; sb >= 0 && c < g[9]; c++) {
                                int64_t sc = qcc_pool_source(g, 2, xx, c);
                                QCC_C v;
                                if (sc < 0) {
                                    continue;
                                }
                                v = QCC_IN(xp[((size_t)sa * g[2] + (size_t)sb) * g[3] + (size_t)sc]);
                                if (p_exp > 0) {
                                    double m = fabs((double)v), power = 1.0;
                                    int64_t e;
                                    for (e = 0; e < p_exp; e++) {
                                        power *= m;
                                    }
                                    v = (QCC_C)power;
                                }
                                sum += v;
                            }
                        }
                    }
                    y[p * out_len + o] = QCC_OUT(sum);
                }
            }
        }
    }
}

static inline void QCC_POOL_FN(average_pool)(const QCC_T *x, QCC_T *y, const size_t *g, bool count_include_pad) {
    size_t out_len = g[4] * g[5] * g[6], p, o;
    QCC_POOL_FN(pool_sum)(x, y, g, 0);
    for (p = 0; p < g[0]; p++) {
        for (o = 0; o < out_len; o++) {
            size_t z = o / (g[5] * g[6]), yy = o / g[6] % g[5], xx = o % g[6];
            size_t n = qcc_pool_count(g, 0, z, count_include_pad) * qcc_pool_count(g, 1, yy, count_include_pad) *
                       qcc_pool_count(g, 2, xx, count_include_pad);
            QCC_T *d = y + p * out_len + o;
            *d = QCC_OUT(QCC_IN(*d) / (QCC_C)n);
        }
    }
}

static inline void QCC_POOL_FN(lp_pool)(const QCC_T *x, QCC_T *y, const size_t *g, int64_t p_exp) {
    size_t n = g[0] * g[4] * g[5] * g[6], i;
    QCC_POOL_FN(pool_sum)(x, y, g, p_exp);
    for (i = 0; i < n; i++) {
        y[i] = QCC_OUT((QCC_C)pow((double)QCC_IN(y[i]), 1.0 / (double)p_exp));
    }
}
#endif

#undef QCC_POOL_FN
#undef QCC_POOL_NAN
#undef QCC_POOL_GT
