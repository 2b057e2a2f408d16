/* Reductions along axes and their relatives, for one element type:
 * qcc_reduce_S (Reduce*), qcc_arg_extremum_S (ArgMax/ArgMin), qcc_softmax_S
 * (Softmax/LogSoftmax/Hardmax), qcc_cumulative_S (CumSum/CumProd) and
 * qcc_top_k_S (TopK), with the semantics of runtime/kernels/reduce.rs.
 *
 * `reduce` walks kept dims/strides and reduced dims/strides (ranks given);
 * the single-axis kernels take (outer, n, inner): element (o, j, i) is at
 * (o * n + j) * inner + i. Floats compute in QCC_C and round once when
 * stored; integers wrap (computed in QCC_U); Mean, L2 and LogSum of
 * integers go through double and truncate with saturation, LogSumExp of
 * integers runs in double.
 *
 * Included once per element type with the QCC_* macros of ops_num.h. */

#ifndef QCC_FLOAT
#define QCC_FLOAT 1
#define QCC_SIGNED 2
#define QCC_UNSIGNED 3
#endif

#ifndef QCC_KERNELS_REDUCE_ONCE
#define QCC_KERNELS_REDUCE_ONCE
#include <math.h>

#define QCC_REDUCE_SUM 0
#define QCC_REDUCE_MEAN 1
#define QCC_REDUCE_MAX 2
#define QCC_REDUCE_MIN 3
#define QCC_REDUCE_PROD 4
#define QCC_REDUCE_L1 5
#define QCC_REDUCE_L2 6
#define QCC_REDUCE_LOG_SUM 7
#define QCC_REDUCE_LOG_SUM_EXP 8
#define QCC_REDUCE_SUM_SQUARE 9
#define QCC_SOFTMAX 0
#define QCC_LOG_SOFTMAX 1
#define QCC_HARDMAX 2

#define QCC_RFN(name) QCC_CAT(qcc_##name, QCC_S)
/* f(x) in the compute type: the double function for double, else the
 * float one. */
#define QCC_RMATH(fn, x) (sizeof(QCC_C) == sizeof(double) ? (QCC_C)fn((double)(x)) : (QCC_C)fn##f((float)(x)))

static inline size_t qcc_reduce_count(size_t rank, const size_t *dims) {
    size_t n = 1;
    size_t k;
    for (k = 0; k < rank; k++) {
        n *= dims[k];
    }
    return n;
}

/* Runs STMT with `v` (QCC_C) bound to every element of the lane at `base`
 * (needs x, rr, red, rs, rows, last_n, last_s in scope). */
#define QCC_REDUCE_LANE(STMT) \
    do { \
        size_t r_, j_; \
        for (r_ = 0; r_ < rows; r_++) { \
            size_t start_ = base + qcc_strided_offset(r_, rr - 1, red, rs); \
            for (j_ = 0; j_ < last_n; j_++) { \
                QCC_C v = QCC_IN(x[start_ + j_ * last_s]); \
                STMT; \
            } \
        } \
    } while (0)
#endif

#if QCC_KIND == QCC_FLOAT
static inline QCC_C QCC_RFN(racc_add)(QCC_C a, QCC_C b) { return a + b; }
static inline QCC_C QCC_RFN(racc_sub)(QCC_C a, QCC_C b) { return a - b; }
static inline QCC_C QCC_RFN(racc_mul)(QCC_C a, QCC_C b) { return a * b; }
static inline QCC_C QCC_RFN(racc_sqrt)(QCC_C a) { return QCC_RMATH(sqrt, a); }
static inline QCC_C QCC_RFN(racc_ln)(QCC_C a) { return QCC_RMATH(log, a); }
static inline QCC_C QCC_RFN(racc_exp)(QCC_C a) { return QCC_RMATH(exp, a); }
static inline QCC_C QCC_RFN(racc_mean)(QCC_C sum, size_t n) { return sum / (QCC_C)n; }
static inline QCC_C QCC_RFN(racc_lowest)(void) { return (QCC_C)(-HUGE_VAL); }
static inline QCC_C QCC_RFN(racc_highest)(void) { return (QCC_C)HUGE_VAL; }
static inline int QCC_RFN(racc_isnan)(QCC_C a) { return a != a; }
static inline QCC_C QCC_RFN(racc_abs)(QCC_C a) { return a < (QCC_C)0 ? -a : a; }
#else
static inline QCC_C QCC_RFN(racc_add)(QCC_C a, QCC_C b) { return (QCC_C)((QCC_U)a + (QCC_U)b); }
static inline QCC_C QCC_RFN(racc_sub)(QCC_C a, QCC_C b) { return (QCC_C)((QCC_U)a - (QCC_U)b); }
static inline QCC_C QCC_RFN(racc_mul)(QCC_C a, QCC_C b) { return (QCC_C)((QCC_U)a * (QCC_U)b); }
#if QCC_KIND == QCC_SIGNED
static inline QCC_C QCC_RFN(racc_highest)(void) { return (QCC_C)(((uint64_t)1 << (8 * sizeof(QCC_C) - 1)) - 1); }
static inline QCC_C QCC_RFN(racc_lowest)(void) { return (QCC_C)(-QCC_RFN(racc_highest)() - 1); }
static inline QCC_C QCC_RFN(racc_abs)(QCC_C a) { return a < 0 ? QCC_RFN(racc_sub)(0, a) : a; }
#else
static inline QCC_C QCC_RFN(racc_highest)(void) { return (QCC_C)~(uint64_t)0; }
static inline QCC_C QCC_RFN(racc_lowest)(void) { return (QCC_C)0; }
static inline QCC_C QCC_RFN(racc_abs)(QCC_C a) { return a; }
#endif
static inline int QCC_RFN(racc_isnan)(QCC_C a) { (void)a; return 0; }
/* double to the integer type: truncation, saturating, NaN gives 0. */
static inline QCC_C QCC_RFN(racc_from_f64)(double v) {
    double hi = (double)QCC_RFN(racc_highest)();
    double lo = (double)QCC_RFN(racc_lowest)();
    if (v != v) {
        return (QCC_C)0;
    }
    if (v <= lo) {
        return QCC_RFN(racc_lowest)();
    }
    if (v >= hi) {
        return QCC_RFN(racc_highest)();
    }
    return (QCC_C)v;
}
static inline QCC_C QCC_RFN(racc_sqrt)(QCC_C a) { return QCC_RFN(racc_from_f64)(sqrt((double)a)); }
static inline QCC_C QCC_RFN(racc_ln)(QCC_C a) { return QCC_RFN(racc_from_f64)(log((double)a)); }
static inline QCC_C QCC_RFN(racc_exp)(QCC_C a) { return QCC_RFN(racc_from_f64)(exp((double)a)); }
static inline QCC_C QCC_RFN(racc_mean)(QCC_C sum, size_t n) {
    return n == 0 ? (QCC_C)0 : QCC_RFN(racc_from_f64)((double)sum / (double)n);
}
#endif

/* Max (is_max) or min so far; a NaN wins. */
static inline QCC_C QCC_RFN(racc_extremum)(QCC_C m, QCC_C v, int is_max) {
    if (QCC_RFN(racc_isnan)(m)) {
        return m;
    }
    if (QCC_RFN(racc_isnan)(v)) {
        return v;
    }
    return (is_max ? v > m : v < m) ? v : m;
}

/* y[k] = reduction of the lane of output k; dims = {kr, rr, kept[kr],
 * kept strides[kr], reduced[rr], reduced strides[rr]}. An empty lane gives
 * the identity. */
static inline void QCC_RFN(reduce)(const QCC_T *x, QCC_T *y, int64_t kind, const size_t *dims) {
    size_t kr = dims[0], rr = dims[1];
    const size_t *kept = dims + 2, *ks = dims + 2 + kr, *red = dims + 2 + 2 * kr, *rs = dims + 2 + 2 * kr + rr;
    size_t count = qcc_reduce_count(kr, kept);
    size_t n = qcc_reduce_count(rr, red);
    size_t last_n = rr > 0 ? red[rr - 1] : 1;
    size_t last_s = rr > 0 ? rs[rr - 1] : 0;
    size_t rows = rr > 0 ? qcc_reduce_count(rr - 1, red) : 1;
    size_t k;
    if (rr == 0) {
        /* One element per lane: walk it as a lane of one. */
        static const size_t one = 1, zero = 0;
        red = &one;
        rs = &zero;
        rr = 1;
    }
    for (k = 0; k < count; k++) {
        size_t base = qcc_strided_offset(k, kr, kept, ks);
        QCC_C acc = (QCC_C)0;
        switch (kind) {
        case QCC_REDUCE_SUM:
        case QCC_REDUCE_MEAN:
        case QCC_REDUCE_LOG_SUM:
            QCC_REDUCE_LANE(acc = QCC_RFN(racc_add)(acc, v));
            if (kind == QCC_REDUCE_MEAN) {
                acc = QCC_RFN(racc_mean)(acc, n);
            } else if (kind == QCC_REDUCE_LOG_SUM) {
                acc = QCC_RFN(racc_ln)(acc);
            }
            break;
        case QCC_REDUCE_MAX:
            acc = QCC_RFN(racc_lowest)();
            QCC_REDUCE_LANE(acc = QCC_RFN(racc_extremum)(acc, v, 1));
            break;
        case QCC_REDUCE_MIN:
            acc = QCC_RFN(racc_highest)();
            QCC_REDUCE_LANE(acc = QCC_RFN(racc_extremum)(acc, v, 0));
            break;
        case QCC_REDUCE_PROD:
            acc = (QCC_C)1;
            QCC_REDUCE_LANE(acc = QCC_RFN(racc_mul)(acc, v));
            break;
        case QCC_REDUCE_L1:
            QCC_REDUCE_LANE(acc = QCC_RFN(racc_add)(acc, QCC_RFN(racc_abs)(v)));
            break;
        case QCC_REDUCE_L2:
        case QCC_REDUCE_SUM_SQUARE:
            QCC_REDUCE_LANE(acc = QCC_RFN(racc_add)(acc, QCC_RFN(racc_mul)(v, v)));
            if (kind == QCC_REDUCE_L2) {
                acc = QCC_RFN(racc_sqrt)(acc);
            }
            break;
        default: {
            /* Log-sum-exp, shifted by the largest finite value; in double for integers. */
#if QCC_KIND == QCC_FLOAT
            QCC_C shift = QCC_RFN(racc_lowest)(), sum = (QCC_C)0;
            QCC_REDUCE_LANE(if (v - v == (QCC_C)0 && v > shift) shift = v);
            if (!(shift - shift == (QCC_C)0)) {
                shift = (QCC_C)0;
            }
            QCC_REDUCE_LANE(sum += QCC_RMATH(exp, v - shift));
            acc = shift + QCC_RMATH(log, sum);
#else
            double shift = -HUGE_VAL, sum = 0.0;
            QCC_REDUCE_LANE(if ((double)v > shift) shift = (double)v);
            if (!(shift - shift == 0.0)) {
                shift = 0.0;
            }
            QCC_REDUCE_LANE(sum += exp((double)v - shift));
            acc = QCC_RFN(racc_from_f64)(shift + log(sum));
#endif
            break;
        }
        }
        y[k] = QCC_OUT(acc);
    }
}

/* Whether v beats the best so far b: a NaN wins, ties go to the last index when `last`. */
static inline int QCC_RFN(rarg_better)(QCC_C v, QCC_C b, int is_max, int last) {
    if (QCC_RFN(racc_isnan)(b)) {
        return last && QCC_RFN(racc_isnan)(v);
    }
    if (QCC_RFN(racc_isnan)(v)) {
        return 1;
    }
    if (is_max) {
        return v > b || (last && v == b);
    }
    return v < b || (last && v == b);
}

/* ArgMax (is_max) or ArgMin along the middle axis (n >= 1). */
static inline void QCC_RFN(arg_extremum)(const QCC_T *x, int64_t *y, const size_t *dims, bool is_max, bool last) {
    size_t outer = dims[0], n = dims[1], inner = dims[2];
    size_t o, i, j;
    for (o = 0; o < outer; o++) {
        for (i = 0; i < inner; i++) {
            size_t base = o * n * inner + i;
            size_t best = 0;
            QCC_C value = QCC_IN(x[base]);
            for (j = 1; j < n; j++) {
                QCC_C v = QCC_IN(x[base + j * inner]);
                if (QCC_RFN(rarg_better)(v, value, is_max, last)) {
                    best = j;
                    value = v;
                }
            }
            y[o * inner + i] = (int64_t)best;
        }
    }
}

/* Softmax, LogSoftmax or Hardmax of every lane along the middle axis. */
static inline void QCC_RFN(softmax)(const QCC_T *x, QCC_T *y, int64_t kind, const size_t *dims) {
    size_t outer = dims[0], n = dims[1], inner = dims[2];
    size_t o, i, j;
    for (o = 0; o < outer; o++) {
        for (i = 0; i < inner; i++) {
            size_t base = o * n * inner + i;
            QCC_C max = QCC_RFN(racc_lowest)(), sum = (QCC_C)0;
            if (kind == QCC_HARDMAX) {
                size_t best = 0;
                QCC_C value = (QCC_C)0;
                for (j = 0; j < n; j++) {
                    QCC_C v = QCC_IN(x[base + j * inner]);
                    if (j == 0 || QCC_RFN(rarg_better)(v, value, 1, 0)) {
                        best = j;
                        value = v;
                    }
                }
                for (j = 0; j < n; j++) {
                    y[base + j * inner] = QCC_OUT(j == best ? (QCC_C)1 : (QCC_C)0);
                }
                continue;
            }
            for (j = 0; j < n; j++) {
                QCC_C v = QCC_IN(x[base + j * inner]);
                if (v > max) {
                    max = v;
                }
            }
            for (j = 0; j < n; j++) {
                sum = QCC_RFN(racc_add)(sum, QCC_RFN(racc_exp)(QCC_RFN(racc_sub)(QCC_IN(x[base + j * inner]), max)));
            }
            if (kind == QCC_LOG_SOFTMAX) {
                QCC_C log_sum = QCC_RFN(racc_ln)(sum);
                for (j = 0; j < n; j++) {
                    size_t at = base + j * inner;
                    y[at] = QCC_OUT(QCC_IN(x[at]) - max - log_sum);
                }
            } else {
                for (j = 0; j < n; j++) {
                    size_t at = base + j * inner;
                    y[at] = QCC_OUT(QCC_RFN(racc_exp)(QCC_IN(x[at]) - max) / sum);
                }
            }
        }
    }
}

/* Running sums (products) along the middle axis; `exclusive` leaves out
 * each element itself, `reverse` runs from the end. */
static inline void QCC_RFN(cumulative)(const QCC_T *x, QCC_T *y, const size_t *dims, bool product, bool exclusive, bool reverse) {
    size_t outer = dims[0], n = dims[1], inner = dims[2];
    size_t o, i, step;
    for (o = 0; o < outer; o++) {
        for (i = 0; i < inner; i++) {
            size_t base = o * n * inner + i;
            QCC_C acc = product ? (QCC_C)1 : (QCC_C)0;
            for (step = 0; step < n; step++) {
                size_t at = base + (reverse ? n - 1 - step : step) * inner;
                QCC_C own = QCC_IN(x[at]);
                if (exclusive) {
                    y[at] = QCC_OUT(acc);
                }
                acc = product ? QCC_RFN(racc_mul)(acc, own) : QCC_RFN(racc_add)(acc, own);
                if (!exclusive) {
                    y[at] = QCC_OUT(acc);
                }
            }
        }
    }
}

/* Cumulative along an axis known at run time (negative from the end) of
 * the shape dims = {rank, d0, d1, ...}; an axis out of range copies x. */
static inline void QCC_RFN(cumulative_at)(const QCC_T *x, QCC_T *y, const size_t *dims, int64_t axis, bool product,
                                          bool exclusive, bool reverse) {
    size_t rank = dims[0], outer = 1, inner = 1, k, a;
    size_t d[3];
    if (axis < 0) {
        axis += (int64_t)rank;
    }
    if (axis < 0 || axis >= (int64_t)rank) {
        size_t len = 1;
        for (k = 0; k < rank; k++) {
            len *= dims[1 + k];
        }
        for (k = 0; k < len; k++) {
            y[k] = x[k];
        }
        return;
    }
    a = (size_t)axis;
    for (k = 0; k < a; k++) {
        outer *= dims[1 + k];
    }
    for (k = a + 1; k < rank; k++) {
        inner *= dims[1 + k];
    }
    d[0] = outer;
    d[1] = dims[1 + a];
    d[2] = inner;
    QCC_RFN(cumulative)(x, y, d, product, exclusive, reverse);
}

static inline void QCC_RFN(cumulative_axis_i64)(const QCC_T *x, const int64_t *axis, QCC_T *y, const size_t *dims, bool product,
                                                bool exclusive, bool reverse) {
    QCC_RFN(cumulative_at)(x, y, dims, axis[0], product, exclusive, reverse);
}

static inline void QCC_RFN(cumulative_axis_i32)(const QCC_T *x, const int32_t *axis, QCC_T *y, const size_t *dims, bool product,
                                                bool exclusive, bool reverse) {
    QCC_RFN(cumulative_at)(x, y, dims, (int64_t)axis[0], product, exclusive, reverse);
}

/* Whether a ranks strictly before b in TopK order (NaN above every number). */
static inline int QCC_RFN(rtop_before)(QCC_C a, QCC_C b, bool largest) {
    int an = QCC_RFN(racc_isnan)(a), bn = QCC_RFN(racc_isnan)(b);
    if (an || bn) {
        return largest ? (an && !bn) : (bn && !an);
    }
    return largest ? a > b : a < b;
}

/* The k largest (smallest) elements of every lane along the middle axis,
 * sorted, equal values in index order; outputs are (outer, k, inner). */
static inline void QCC_RFN(top_k)(const QCC_T *x, QCC_T *values, int64_t *indices, const size_t *dims, bool largest) {
    size_t outer = dims[0], n = dims[1], inner = dims[2], k = dims[3];
    size_t o, i, j;
    if (k == 0) {
        return;
    }
    for (o = 0; o < outer; o++) {
        for (i = 0; i < inner; i++) {
            size_t base = o * n * inner + i;
            size_t out = o * k * inner + i;
            size_t len = 0;
            for (j = 0; j < n; j++) {
                QCC_T v = x[base + j * inner];
                QCC_C va = QCC_IN(v);
                size_t p = len, q;
                while (p > 0 && QCC_RFN(rtop_before)(va, QCC_IN(values[out + (p - 1) * inner]), largest)) {
                    p--;
                }
                if (p >= k) {
                    continue;
                }
                q = len < k ? len : k - 1;
                while (q > p) {
                    values[out + q * inner] = values[out + (q - 1) * inner];
                    indices[out + q * inner] = indices[out + (q - 1) * inner];
                    q--;
                }
                values[out + p * inner] = v;
                indices[out + p * inner] = (int64_t)j;
                if (len < k) {
                    len++;
                }
            }
        }
    }
}
