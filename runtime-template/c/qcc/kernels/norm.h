/* Normalisations for one float element type: qcc_group_norm_S (Layer-,
 * Instance- and GroupNormalization), qcc_lp_norm_S, qcc_lrn_S and qcc_mvn_S
 * (MeanVarianceNormalization), with the semantics of
 * runtime/kernels/norm.rs: computed in QCC_C with two-pass mean and
 * variance, rounded once when stored.
 *
 * Included once per element type with the QCC_* macros of ops_num.h. */

#ifndef QCC_FLOAT
#define QCC_FLOAT 1
#define QCC_SIGNED 2
#define QCC_UNSIGNED 3
#endif

#ifndef QCC_KERNELS_NORM_ONCE
#define QCC_KERNELS_NORM_ONCE
#include <math.h>

#define QCC_NFN(name) QCC_CAT(qcc_##name, QCC_S)
/* fn(x) in the compute type: the double function for double, else the float one. */
#define QCC_NMATH(fn, x) (sizeof(QCC_C) == sizeof(double) ? (QCC_C)fn((double)(x)) : (QCC_C)fn##f((float)(x)))
#define QCC_NMATH2(fn, x, y) \
    (sizeof(QCC_C) == sizeof(double) ? (QCC_C)fn((double)(x), (double)(y)) : (QCC_C)fn##f((float)(x), (float)(y)))

#endif

#if QCC_KIND == QCC_FLOAT
/* Blocks of per_channel * spatial elements, dims = {count, groups,
 * per_channel, spatial}: y = (x - mean) * inv_std * scale[p] + bias[p],
 * p = g (by_group) or g * per_channel + i / spatial with g = block % groups.
 * Uncentred (RMSNormalization), the mean is 0 and the variance the mean square. */
static inline void QCC_NFN(group_norm)(const QCC_T *x, const QCC_T *scale, const QCC_T *bias, QCC_T *y, QCC_T *mean,
                                       QCC_T *inv_std, const size_t *dims, double epsilon, bool by_group, bool has_bias,
                                       bool centered) {
    size_t count = dims[0], groups = dims[1] ? dims[1] : 1, per_channel = dims[2], spatial = dims[3] ? dims[3] : 1;
    size_t len = per_channel * spatial, b, i;
    QCC_C n = (QCC_C)len, eps = (QCC_C)epsilon;
    for (b = 0; b < count; b++) {
        const QCC_T *xb = x + b * len;
        QCC_C sum = (QCC_C)0, sq = (QCC_C)0, m, inv;
        size_t g = b % groups;
        for (i = 0; i < len && centered; i++) {
            sum += QCC_IN(xb[i]);
        }
        m = sum / n;
        for (i = 0; i < len; i++) {
            QCC_C d = QCC_IN(xb[i]) - m;
            sq += d * d;
        }
        inv = (QCC_C)1 / QCC_NMATH(sqrt, sq / n + eps);
        mean[b] = QCC_OUT(m);
        inv_std[b] = QCC_OUT(inv);
        for (i = 0; i < len; i++) {
            size_t p = by_group ? g : g * per_channel + i / spatial;
            QCC_C v = (QCC_IN(xb[i]) - m) * inv * QCC_IN(scale[p]);
            if (has_bias) {
                v += QCC_IN(bias[p]);
            }
            y[b * len + i] = QCC_OUT(v);
        }
    }
}

/* y = x / ||x||_p (p = 1 or 2) along the middle of dims = {outer, n, inner};
 * a zero norm gives 0. */
static inline void QCC_NFN(lp_norm)(const QCC_T *x, QCC_T *y, const size_t *dims, int64_t p) {
    size_t outer = dims[0], n = dims[1], inner = dims[2], o, i, j;
    for (o = 0; o < outer; o++) {
        for (i = 0; i < inner; i++) {
            size_t base = o * n * inner + i;
            QCC_C sum = (QCC_C)0, norm;
            for (j = 0; j < n; j++) {
                QCC_C v = QCC_IN(x[base + j * inner]);
                sum += p == 1 ? (v < (QCC_C)0 ? -v : v) : v * v;
            }
            norm = p == 1 ? sum : QCC_NMATH(sqrt, sum);
            for (j = 0; j < n; j++) {
                size_t at = base + j * inner;
                y[at] = QCC_OUT(norm == (QCC_C)0 ? (QCC_C)0 : QCC_IN(x[at]) / norm);
            }
        }
    }
}

/* LRN across the channels of dims = {n, c, inner, size}. */
static inline void QCC_NFN(lrn)(const QCC_T *x, QCC_T *y, const size_t *dims, double alpha, double beta, double bias) {
    size_t images = dims[0], c = dims[1], inner = dims[2], size = dims[3], img, ch, i, k;
    size_t before = (size > 0 ? size - 1 : 0) / 2, after = size / 2;
    QCC_C scale = (QCC_C)(alpha / (double)(size > 0 ? size : 1)), b = (QCC_C)bias, e = (QCC_C)beta;
    for (img = 0; img < images; img++) {
        size_t base = img * c * inner;
        for (ch = 0; ch < c; ch++) {
            size_t lo = ch > before ? ch - before : 0;
            size_t hi = ch + after + 1 < c ? ch + after + 1 : c;
            for (i = 0; i < inner; i++) {
                QCC_C sum = (QCC_C)0;
                size_t at = base + ch * inner + i;
                for (k = lo; k < hi; k++) {
                    QCC_C v = QCC_IN(x[base + k * inner + i]);
                    sum += v * v;
                }
                y[at] = QCC_OUT(QCC_IN(x[at]) / QCC_NMATH2(pow, b + scale * sum, e));
            }
        }
    }
}

/* y = (x - mean) / (sqrt(var) + epsilon) over lanes described as in
 * qcc_reduce (dims = {kr, rr, kept, kept strides, reduced, reduced strides}). */
static inline void QCC_NFN(mvn)(const QCC_T *x, QCC_T *y, const size_t *dims, double epsilon) {
    size_t kr = dims[0], rr = dims[1];
    const size_t *kept = dims + 2, *ks = dims + 2 + kr, *red = dims + 2 + 2 * kr, *rs = dims + 2 + 2 * kr + rr;
    size_t count = 1, len = 1, k, j;
    QCC_C eps = (QCC_C)epsilon;
    for (k = 0; k < kr; k++) {
        count *= kept[k];
    }
    for (k = 0; k < rr; k++) {
        len *= red[k];
    }
    for (k = 0; k < count; k++) {
        size_t base = qcc_strided_offset(k, kr, kept, ks);
        QCC_C sum = (QCC_C)0, sq = (QCC_C)0, m, var, sd;
        for (j = 0; j < len; j++) {
            sum += QCC_IN(x[base + qcc_strided_offset(j, rr, red, rs)]);
        }
        m = sum / (QCC_C)len;
        for (j = 0; j < len; j++) {
            QCC_C d = QCC_IN(x[base + qcc_strided_offset(j, rr, red, rs)]) - m;
            sq += d * d;
        }
        var = sq / (QCC_C)len;
        sd = QCC_NMATH(sqrt, var > (QCC_C)0 ? var : (QCC_C)0) + eps;
        for (j = 0; j < len; j++) {
            size_t at = base + qcc_strided_offset(j, rr, red, rs);
            y[at] = QCC_OUT((QCC_IN(x[at]) - m) / sd);
        }
    }
}
#endif
