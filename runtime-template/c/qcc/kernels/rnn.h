/* RNN, GRU and LSTM for one float element type: qcc_recurrent_S runs one
 * direction of a recurrent layer over a sequence (lens: the int32 steps of
 * each batch entry, clamped to 0..seq), with the semantics of
 * runtime/kernels/rnn.rs (the layout, dims, activation codes and params
 * are documented there): computed in QCC_C, rounded once when stored.
 *
 * Included once per element type with the QCC_* macros of ops_num.h. */

#ifndef QCC_FLOAT
#define QCC_FLOAT 1
#define QCC_SIGNED 2
#define QCC_UNSIGNED 3
#endif

#ifndef QCC_KERNELS_RNN_ONCE
#define QCC_KERNELS_RNN_ONCE
#include <math.h>

#define QCC_RFN(name) QCC_CAT(qcc_##name, QCC_S)
/* fn(x) in the compute type: the double function for double, else the float one. */
#define QCC_RMATH(fn, x) (sizeof(QCC_C) == sizeof(double) ? (QCC_C)fn((double)(x)) : (QCC_C)fn##f((float)(x)))
#define QCC_RMATH_D(fn, x) fn(x)

/* Defines `static C name(kind, alpha, beta, x)`: activation `kind` (codes
 * of rnn.rs `activate`) in type C, with MATH(fn, x) its math functions. */
#define QCC_RNN_DEFINE_ACTIVATE(name, C, MATH)                   \
    static inline C name(int64_t kind, C alpha, C beta, C x) {  \
        C one = (C)1, zero = (C)0, v;                           \
        switch (kind) {                                         \
        case 0:                                                 \
            return x > zero ? x : zero;                         \
        case 1:                                                 \
            return MATH(tanh, x);                               \
        case 2:                                                 \
            if (x >= zero) {                                    \
                return one / (one + MATH(exp, -x));             \
            }                                                   \
            v = MATH(exp, x);                                   \
            return v / (one + v);                               \
        case 3:                                                 \
            return alpha * x + beta;                            \
        case 4:                                                 \
            return x >= zero ? x : alpha * x;                   \
        case 5:                                                 \
            return x >= alpha ? x : zero;                       \
        case 6:                                                 \
            return alpha * MATH(tanh, beta * x);                \
        case 7:                                                 \
            v = alpha * x + beta;                               \
            return v < zero ? zero : (v > one ? one : v);       \
        case 8:                                                 \
            return x >= zero ? x : alpha * MATH(expm1, x);      \
        case 9:                                                 \
            return x / (one + (x < zero ? -x : x));             \
        default:                                                \
            return x > (C)30 ? x : MATH(log1p, MATH(exp, x));   \
        }                                                       \
    }

/* The activations in double, for the gates of the quantized LSTM
 * (rnn_quant.h), and function n (0 = f, 1 = g, 2 = h) of x in double, f
 * and g clipping their input first when clip > 0. */
QCC_RNN_DEFINE_ACTIVATE(qcc_rnn_activate_d, double, QCC_RMATH_D)

static inline double qcc_rnn_apply_d(const int64_t *acts, const double *params, size_t n, double x) {
    double clip = params[6];
    if (n < 2 && clip > 0.0) {
        x = x < -clip ? -clip : (x > clip ? clip : x);
    }
    return qcc_rnn_activate_d(acts[n], params[2 * n], params[2 * n + 1], x);
}
#endif

#if QCC_KIND == QCC_FLOAT
/* sum_k row[k] * v[k] over QCC_RNN_LANES interleaved partial sums added at
 * the end, then the remainder (as rnn.rs `dot`). */
#ifndef QCC_RNN_LANES
#define QCC_RNN_LANES 8
#endif
static inline QCC_C QCC_RFN(rnn_dot)(const QCC_T *row, const QCC_T *vt, const QCC_C *vc, size_t n) {
    QCC_C acc[QCC_RNN_LANES], s = (QCC_C)0;
    size_t k, l, full = n - n % QCC_RNN_LANES;
    for (l = 0; l < QCC_RNN_LANES; l++) {
        acc[l] = (QCC_C)0;
    }
    for (k = 0; k < full; k += QCC_RNN_LANES) {
        for (l = 0; l < QCC_RNN_LANES; l++) {
            acc[l] += QCC_IN(row[k + l]) * (vt ? QCC_IN(vt[k + l]) : vc[k + l]);
        }
    }
    for (l = 0; l < QCC_RNN_LANES; l++) {
        s += acc[l];
    }
    for (k = full; k < n; k++) {
        s += QCC_IN(row[k]) * (vt ? QCC_IN(vt[k]) : vc[k]);
    }
    return s;
}

/* Activation `kind` (codes of rnn.rs `activate`) with alpha and beta, in
 * QCC_C. */
QCC_RNN_DEFINE_ACTIVATE(QCC_RFN(rnn_activate), QCC_C, QCC_RMATH)

/* Function n (0 = f, 1 = g, 2 = h) of x; f and g clip their input first
 * when clip > 0. */
static inline QCC_C QCC_RFN(rnn_apply)(const int64_t *acts, const double *params, size_t n, QCC_C x) {
    QCC_C clip = (QCC_C)params[6];
    if (n < 2 && clip > (QCC_C)0) {
        x = x < -clip ? -clip : (x > clip ? clip : x);
    }
    return QCC_RFN(rnn_activate)(acts[n], (QCC_C)params[2 * n], (QCC_C)params[2 * n + 1], x);
}

/* One LSTM step from the gate pre-activations pre[4 * hs] (i, o, f, c):
 * updates h and c; p holds the peepholes (i, o, f) in the compute type. */
static inline void QCC_RFN(lstm_gates)(const QCC_C *pre, const QCC_C *p, const int64_t *acts, const double *params,
                                       bool input_forget, size_t hs, QCC_C *h, QCC_C *c) {
    size_t j;
    for (j = 0; j < hs; j++) {
        QCC_C i = QCC_RFN(rnn_apply)(acts, params, 0, pre[j] + p[j] * c[j]);
        QCC_C f = input_forget ? (QCC_C)1 - i : QCC_RFN(rnn_apply)(acts, params, 0, pre[2 * hs + j] + p[2 * hs + j] * c[j]);
        QCC_C g = QCC_RFN(rnn_apply)(acts, params, 1, pre[3 * hs + j]);
        QCC_C nc = f * c[j] + i * g;
        QCC_C o = QCC_RFN(rnn_apply)(acts, params, 0, pre[hs + j] + p[hs + j] * nc);
        c[j] = nc;
        h[j] = o * QCC_RFN(rnn_apply)(acts, params, 2, nc);
    }
}

/* One direction of a recurrent layer (see rnn.rs `recurrent`): dims =
 * {seq, batch, input, hidden, x_ts, x_bs, y_off, y_ts, y_bs, s_off, s_bs,
 * cell, reverse, has_y, has_y_h, has_y_c}; scratch holds 3 * gates * hidden
 * + 2 * hidden elements of QCC_C. */
static inline void QCC_RFN(recurrent)(const QCC_T *x, const QCC_T *w, const QCC_T *r, const QCC_T *b, const QCC_T *h0,
                                      const QCC_T *c0, const QCC_T *p, QCC_T *y, QCC_T *y_h, QCC_T *y_c, QCC_C *scratch,
                                      const size_t *dims, const int32_t *lens, const int64_t *acts, const double *params) {
    size_t seq = dims[0], batch = dims[1], input = dims[2], hs = dims[3];
    size_t x_ts = dims[4], x_bs = dims[5], y_off = dims[6], y_ts = dims[7], y_bs = dims[8], s_off = dims[9], s_bs = dims[10];
    size_t cell = dims[11];
    bool reverse = dims[12] != 0, has_y = dims[13] != 0, has_y_h = dims[14] != 0, has_y_c = dims[15] != 0;
    bool lstm = cell >= 3;
    size_t gates = cell == 0 ? 1 : (cell <= 2 ? 3 : 4), gh = gates * hs;
    QCC_C *pre = scratch, *rec = scratch + gh, *peep = scratch + 2 * gh, *h = scratch + 3 * gh, *c = h + hs;
    const QCC_T *wb = b, *rb = b + gh;
    size_t bi, k, j, step, t;
    for (k = 0; k < 3 * hs && k < gh; k++) {
        peep[k] = lstm ? QCC_IN(p[k]) : (QCC_C)0;
    }
    for (bi = 0; bi < batch; bi++) {
        size_t len = lens[bi] <= 0 ? 0 : ((size_t)lens[bi] < seq ? (size_t)lens[bi] : seq), s = s_off + bi * s_bs;
        for (k = 0; k < hs; k++) {
            h[k] = QCC_IN(h0[s + k]);
            c[k] = lstm ? QCC_IN(c0[s + k]) : (QCC_C)0;
        }
        for (step = 0; step < len; step++) {
            const QCC_T *xt;
            t = reverse ? len - 1 - step : step;
            xt = x + t * x_ts + bi * x_bs;
            for (j = 0; j < gh; j++) {
                pre[j] = QCC_IN(wb[j]) + QCC_RFN(rnn_dot)(w + j * input, xt, NULL, input);
                rec[j] = QCC_IN(rb[j]) + QCC_RFN(rnn_dot)(r + j * hs, NULL, h, hs);
            }
            if (cell == 0) {
                for (j = 0; j < hs; j++) {
                    h[j] = QCC_RFN(rnn_apply)(acts, params, 0, pre[j] + rec[j]);
                }
            } else if (cell <= 2) {
                /* GRU: z, r into pre[0 .. 2 hs); the candidate into c. */
                for (j = 0; j < 2 * hs; j++) {
                    pre[j] = QCC_RFN(rnn_apply)(acts, params, 0, pre[j] + rec[j]);
                }
                if (cell == 2) {
                    for (j = 0; j < hs; j++) {
                        c[j] = QCC_RFN(rnn_apply)(acts, params, 1, pre[2 * hs + j] + pre[hs + j] * rec[2 * hs + j]);
                    }
                } else {
                    for (j = 0; j < hs; j++) {
                        c[j] = pre[hs + j] * h[j];
                    }
                    for (j = 0; j < hs; j++) {
                        pre[hs + j] = QCC_IN(rb[2 * hs + j]) + QCC_RFN(rnn_dot)(r + (2 * hs + j) * hs, NULL, c, hs);
                    }
                    for (j = 0; j < hs; j++) {
                        c[j] = QCC_RFN(rnn_apply)(acts, params, 1, pre[2 * hs + j] + pre[hs + j]);
                    }
                }
                for (j = 0; j < hs; j++) {
                    h[j] = ((QCC_C)1 - pre[j]) * c[j] + pre[j] * h[j];
                }
            } else {
                for (j = 0; j < gh; j++) {
                    pre[j] += rec[j];
                }
                QCC_RFN(lstm_gates)(pre, peep, acts, params, cell == 4, hs, h, c);
            }
            if (has_y) {
                QCC_T *yt = y + y_off + t * y_ts + bi * y_bs;
                for (k = 0; k < hs; k++) {
                    yt[k] = QCC_OUT(h[k]);
                }
            }
        }
        if (has_y) {
            for (t = len; t < seq; t++) {
                QCC_T *yt = y + y_off + t * y_ts + bi * y_bs;
                for (k = 0; k < hs; k++) {
                    yt[k] = QCC_OUT((QCC_C)0);
                }
            }
        }
        for (k = 0; k < hs; k++) {
            if (has_y_h) {
                y_h[s + k] = QCC_OUT(h[k]);
            }
            if (has_y_c) {
                y_c[s + k] = QCC_OUT(c[k]);
            }
        }
    }
}
#endif
