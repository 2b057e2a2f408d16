/* Float scalar functions that need <math.h>, for one float element type,
 * with the interpreter's semantics. Computed in QCC_C (float for f32, f16
 * and bf16, double for f64) and rounded once when stored; parameters
 * (alpha, ...) are given in QCC_C.
 *
 * Instantiate like ops_num.h (after it, with the same QCC_* macros).
 * No include guard for the functions: included once per float type. */

#ifndef QCC_OPS_FLOAT_ONCE
#define QCC_OPS_FLOAT_ONCE
#include <math.h>
/* QCC_M(exp) is the libm function of the compute type: expf or exp. */
#define QCC_MATH_f32(fn) fn##f
#define QCC_MATH_f16(fn) fn##f
#define QCC_MATH_bf16(fn) fn##f
#define QCC_MATH_f64(fn) fn
#define QCC_MATH_SEL2(s) QCC_MATH_##s
#define QCC_MATH_SEL(s) QCC_MATH_SEL2(s)
#define QCC_M(f) QCC_MATH_SEL(QCC_S)(f)

static inline double qcc_sigmoid_d(double x) {
    double e;
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    e = exp(x);
    return e / (1.0 + e);
}
#endif

#define QCC_FN(name) QCC_CAT(qcc_##name, QCC_S)
#define QCC_UNARY(name, expr) \
    static inline QCC_T QCC_FN(name)(QCC_T a) { QCC_C x = QCC_IN(a); return QCC_OUT(expr); }

QCC_UNARY(exp, QCC_M(exp)(x))
QCC_UNARY(log, QCC_M(log)(x))
QCC_UNARY(sqrt, QCC_M(sqrt)(x))
QCC_UNARY(tanh, QCC_M(tanh)(x))
QCC_UNARY(erf, QCC_M(erf)(x))
QCC_UNARY(sin, QCC_M(sin)(x))
QCC_UNARY(cos, QCC_M(cos)(x))
QCC_UNARY(tan, QCC_M(tan)(x))
QCC_UNARY(asin, QCC_M(asin)(x))
QCC_UNARY(acos, QCC_M(acos)(x))
QCC_UNARY(atan, QCC_M(atan)(x))
QCC_UNARY(sinh, QCC_M(sinh)(x))
QCC_UNARY(cosh, QCC_M(cosh)(x))
QCC_UNARY(asinh, QCC_M(asinh)(x))
QCC_UNARY(acosh, QCC_M(acosh)(x))
QCC_UNARY(atanh, QCC_M(atanh)(x))
QCC_UNARY(floor, QCC_M(floor)(x))
QCC_UNARY(ceil, QCC_M(ceil)(x))
/* Half to even (the default rounding mode). */
QCC_UNARY(round, QCC_M(nearbyint)(x))
QCC_UNARY(reciprocal, (QCC_C)1 / x)

/* The logistic function in double, rounded once to QCC_C (as ops.rs
 * `sigmoid_of`: an ulp of float arithmetic would change the codes of a
 * DynamicQuantizeLinear downstream at its rounding boundaries). */
static inline QCC_C QCC_FN(sigmoid_of)(QCC_C x) { return (QCC_C)qcc_sigmoid_d((double)x); }
static inline QCC_C QCC_FN(softplus_of)(QCC_C x) { return x > (QCC_C)30 ? x : QCC_M(log1p)(QCC_M(exp)(x)); }
/* x clamped to [0, 1]; NaN stays NaN. */
static inline QCC_C QCC_FN(unit_clamp)(QCC_C x) { return x < (QCC_C)0 ? (QCC_C)0 : (x > (QCC_C)1 ? (QCC_C)1 : x); }

QCC_UNARY(sigmoid, QCC_FN(sigmoid_of)(x))
QCC_UNARY(softplus, QCC_FN(softplus_of)(x))
QCC_UNARY(softsign, x / ((QCC_C)1 + QCC_M(fabs)(x)))
QCC_UNARY(mish, x * QCC_M(tanh)(QCC_FN(softplus_of)(x)))
QCC_UNARY(gelu, (QCC_C)0.5 * x * ((QCC_C)1 + QCC_M(erf)(x * (QCC_C)0.70710678118654752440)))
QCC_UNARY(gelu_tanh,
          (QCC_C)0.5 * x * ((QCC_C)1 + QCC_M(tanh)((QCC_C)0.79788456080286535588 * (x + (QCC_C)0.044715 * x * x * x))))
QCC_UNARY(hard_swish, x * QCC_FN(unit_clamp)(x / (QCC_C)6 + (QCC_C)0.5))

static inline QCC_T QCC_FN(elu)(QCC_T a, QCC_C alpha) {
    QCC_C x = QCC_IN(a);
    return QCC_OUT(x > (QCC_C)0 ? x : alpha * QCC_M(expm1)(x));
}
static inline QCC_T QCC_FN(selu)(QCC_T a, QCC_C alpha, QCC_C gamma) {
    QCC_C x = QCC_IN(a);
    return QCC_OUT(x > (QCC_C)0 ? gamma * x : gamma * alpha * QCC_M(expm1)(x));
}
/* max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) with NaN-ignoring max
 * and min (NaN gives 0, as in the interpreter). */
static inline QCC_T QCC_FN(celu)(QCC_T a, QCC_C alpha) {
    QCC_C x = QCC_IN(a);
    QCC_C e = alpha * QCC_M(expm1)(x / alpha);
    return QCC_OUT((x > (QCC_C)0 ? x : (QCC_C)0) + (e < (QCC_C)0 ? e : (QCC_C)0));
}
static inline QCC_T QCC_FN(hard_sigmoid)(QCC_T a, QCC_C alpha, QCC_C beta) {
    return QCC_OUT(QCC_FN(unit_clamp)(alpha * QCC_IN(a) + beta));
}
static inline QCC_T QCC_FN(thresholded_relu)(QCC_T a, QCC_C alpha) {
    QCC_C x = QCC_IN(a);
    return QCC_OUT(x > alpha ? x : (QCC_C)0);
}
static inline QCC_T QCC_FN(shrink)(QCC_T a, QCC_C bias, QCC_C lambd) {
    QCC_C x = QCC_IN(a);
    return QCC_OUT(x < -lambd ? x + bias : (x > lambd ? x - bias : (QCC_C)0));
}
static inline QCC_T QCC_FN(swish)(QCC_T a, QCC_C alpha) {
    QCC_C x = QCC_IN(a);
    return QCC_OUT(x * QCC_FN(sigmoid_of)(alpha * x));
}

static inline bool QCC_FN(isnan)(QCC_T a) { QCC_C x = QCC_IN(a); return x != x; }
/* Whether a is an infinity of a detected sign. */
static inline bool QCC_FN(isinf)(QCC_T a, bool negative, bool positive) {
    QCC_C x = QCC_IN(a);
    return isinf(x) && ((x > (QCC_C)0 && positive) || (x < (QCC_C)0 && negative));
}

static inline QCC_T QCC_FN(pow)(QCC_T a, QCC_T b) { return QCC_OUT(QCC_M(pow)(QCC_IN(a), QCC_IN(b))); }
/* C's fmod: the result has the dividend's sign. */
static inline QCC_T QCC_FN(fmod)(QCC_T a, QCC_T b) { return QCC_OUT(QCC_M(fmod)(QCC_IN(a), QCC_IN(b))); }
/* Python's modulo: the result has the divisor's sign. */
static inline QCC_T QCC_FN(modulo_float)(QCC_T a, QCC_T b) {
    QCC_C y = QCC_IN(b);
    QCC_C r = QCC_M(fmod)(QCC_IN(a), y);
    return QCC_OUT((r != (QCC_C)0 && (r < (QCC_C)0) != (y < (QCC_C)0)) ? r + y : r);
}

#undef QCC_UNARY
#undef QCC_FN
