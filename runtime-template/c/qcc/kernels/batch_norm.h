/* BatchNormalization in inference form: a per-channel affine map
 * y = x * mul[c] + add[c] over [outer, channels, inner] data, with the
 * coefficients precomputed or computed here in double from the running
 * statistics; the same contracts as the Rust runtime's kernels/batch_norm.rs.
 *
 * Instantiated per float element type (see ops_num.h for the QCC_*
 * macros); defines qcc_{channel_affine,batch_norm}_<suffix>. */

#include <math.h>

#define QCC_BN_FN(name) QCC_CAT(qcc_##name, QCC_S)

/* dims = {outer, channels, inner}. */
static inline void QCC_BN_FN(channel_affine)(const QCC_T *x, const QCC_T *mul, const QCC_T *add, QCC_T *y, const size_t *dims) {
    size_t outer = dims[0], channels = dims[1], inner = dims[2], o, c, i;
    for (o = 0; o < outer; o++) {
        for (c = 0; c < channels; c++) {
            QCC_C m = QCC_IN(mul[c]), a = QCC_IN(add[c]);
            size_t start = (o * channels + c) * inner;
            for (i = 0; i < inner; i++) {
                y[start + i] = QCC_OUT(QCC_IN(x[start + i]) * m + a);
            }
        }
    }
}

static inline void QCC_BN_FN(batch_norm)(const QCC_T *x, const QCC_T *scale, const QCC_T *b, const QCC_T *mean, const QCC_T *var,
                                         QCC_T *y, const size_t *dims, double epsilon) {
    size_t outer = dims[0], channels = dims[1], inner = dims[2], o, c, i;
    for (c = 0; c < channels; c++) {
        double mul_d = (double)QCC_IN(scale[c]) / sqrt((double)QCC_IN(var[c]) + epsilon);
        double add_d = (double)QCC_IN(b[c]) - (double)QCC_IN(mean[c]) * mul_d;
        QCC_C m = (QCC_C)mul_d, a = (QCC_C)add_d;
        for (o = 0; o < outer; o++) {
            size_t start = (o * channels + c) * inner;
            for (i = 0; i < inner; i++) {
                y[start + i] = QCC_OUT(QCC_IN(x[start + i]) * m + a);
            }
        }
    }
}

#undef QCC_BN_FN
