/* Scalar functions applied elementwise, for one numeric element type, with
 * the interpreter's semantics: integer arithmetic wraps (computed in an
 * unsigned type, never overflowing a signed one), integer division by zero
 * gives 0, comparisons with NaN are false and NaN wins in min/max.
 *
 * Instantiate by defining, then including this file:
 *   QCC_T   the storage type        (float, int8_t, qcc_f16, ...)
 *   QCC_S   its suffix              (f32, i8, f16, ...)
 *   QCC_C   the compute type        (float for f16/bf16, else QCC_T)
 *   QCC_IN(x), QCC_OUT(x)  storage <-> compute conversions
 *   QCC_U   for integers: the unsigned type for wrapping arithmetic
 *           (uint32_t for types up to 32 bits, uint64_t above)
 *   QCC_KIND  QCC_FLOAT, QCC_SIGNED or QCC_UNSIGNED
 * No include guard: included once per type. */

#define QCC_FLOAT 1
#define QCC_SIGNED 2
#define QCC_UNSIGNED 3
#define QCC_FN(name) QCC_CAT(qcc_##name, QCC_S)

#if QCC_KIND == QCC_FLOAT
static inline QCC_T QCC_FN(add)(QCC_T a, QCC_T b) { return QCC_OUT(QCC_IN(a) + QCC_IN(b)); }
static inline QCC_T QCC_FN(sub)(QCC_T a, QCC_T b) { return QCC_OUT(QCC_IN(a) - QCC_IN(b)); }
static inline QCC_T QCC_FN(mul)(QCC_T a, QCC_T b) { return QCC_OUT(QCC_IN(a) * QCC_IN(b)); }
static inline QCC_T QCC_FN(div)(QCC_T a, QCC_T b) { return QCC_OUT(QCC_IN(a) / QCC_IN(b)); }
static inline QCC_T QCC_FN(neg)(QCC_T a) { return QCC_OUT(-QCC_IN(a)); }
static inline QCC_T QCC_FN(abs)(QCC_T a) { QCC_C v = QCC_IN(a); return v < (QCC_C)0 ? QCC_OUT(-v) : a; }
static inline QCC_T QCC_FN(sign)(QCC_T a) {
    QCC_C v = QCC_IN(a);
    return v > (QCC_C)0 ? QCC_OUT((QCC_C)1) : (v < (QCC_C)0 ? QCC_OUT((QCC_C)-1) : a);
}
/* max(a, 0); NaN stays NaN. */
static inline QCC_T QCC_FN(relu)(QCC_T a) { QCC_C v = QCC_IN(a); return (v > (QCC_C)0 || v != v) ? a : QCC_OUT((QCC_C)0); }
static inline QCC_T QCC_FN(leaky_relu)(QCC_T a, QCC_T alpha) { return QCC_IN(a) >= (QCC_C)0 ? a : QCC_FN(mul)(a, alpha); }
static inline QCC_T QCC_FN(prelu)(QCC_T a, QCC_T slope) { return QCC_IN(a) < (QCC_C)0 ? QCC_FN(mul)(a, slope) : a; }
/* The smaller value; a NaN operand wins, the first on ties. */
static inline QCC_T QCC_FN(min)(QCC_T a, QCC_T b) {
    QCC_C x = QCC_IN(a), y = QCC_IN(b);
    return (x != x || (y == y && y >= x)) ? a : b;
}
/* The larger value; a NaN operand wins, the first on ties. */
static inline QCC_T QCC_FN(max)(QCC_T a, QCC_T b) {
    QCC_C x = QCC_IN(a), y = QCC_IN(b);
    return (x != x || (y == y && y <= x)) ? a : b;
}
#else
static inline QCC_T QCC_FN(add)(QCC_T a, QCC_T b) { return (QCC_T)((QCC_U)a + (QCC_U)b); }
static inline QCC_T QCC_FN(sub)(QCC_T a, QCC_T b) { return (QCC_T)((QCC_U)a - (QCC_U)b); }
static inline QCC_T QCC_FN(mul)(QCC_T a, QCC_T b) { return (QCC_T)((QCC_U)a * (QCC_U)b); }
static inline QCC_T QCC_FN(neg)(QCC_T a) { return (QCC_T)((QCC_U)0 - (QCC_U)a); }
static inline QCC_T QCC_FN(min)(QCC_T a, QCC_T b) { return b < a ? b : a; }
static inline QCC_T QCC_FN(max)(QCC_T a, QCC_T b) { return b > a ? b : a; }
#if QCC_KIND == QCC_SIGNED
static inline QCC_T QCC_FN(div)(QCC_T a, QCC_T b) {
    if (b == 0) {
        return 0;
    }
    if (b == -1) {
        /* Wraps at the minimum instead of overflowing. */
        return QCC_FN(neg)(a);
    }
    return (QCC_T)(a / b);
}
static inline QCC_T QCC_FN(abs)(QCC_T a) { return a < 0 ? QCC_FN(neg)(a) : a; }
static inline QCC_T QCC_FN(sign)(QCC_T a) { return (QCC_T)(a > 0 ? 1 : (a < 0 ? -1 : 0)); }
static inline QCC_T QCC_FN(relu)(QCC_T a) { return a > 0 ? a : 0; }
static inline QCC_T QCC_FN(leaky_relu)(QCC_T a, QCC_T alpha) { return a >= 0 ? a : QCC_FN(mul)(a, alpha); }
static inline QCC_T QCC_FN(prelu)(QCC_T a, QCC_T slope) { return a < 0 ? QCC_FN(mul)(a, slope) : a; }
#else
static inline QCC_T QCC_FN(div)(QCC_T a, QCC_T b) { return b == 0 ? (QCC_T)0 : (QCC_T)(a / b); }
static inline QCC_T QCC_FN(abs)(QCC_T a) { return a; }
static inline QCC_T QCC_FN(sign)(QCC_T a) { return (QCC_T)(a != 0); }
static inline QCC_T QCC_FN(relu)(QCC_T a) { return a; }
static inline QCC_T QCC_FN(leaky_relu)(QCC_T a, QCC_T alpha) { (void)alpha; return a; }
static inline QCC_T QCC_FN(prelu)(QCC_T a, QCC_T slope) { (void)slope; return a; }
#endif
static inline QCC_T QCC_FN(bit_and)(QCC_T a, QCC_T b) { return (QCC_T)((QCC_U)a & (QCC_U)b); }
static inline QCC_T QCC_FN(bit_or)(QCC_T a, QCC_T b) { return (QCC_T)((QCC_U)a | (QCC_U)b); }
static inline QCC_T QCC_FN(bit_xor)(QCC_T a, QCC_T b) { return (QCC_T)((QCC_U)a ^ (QCC_U)b); }
static inline QCC_T QCC_FN(bit_not)(QCC_T a) { return (QCC_T)~(QCC_U)a; }
/* The remainder of a / b computed on the values as int64_t (u64 values
 * wrap, as in the interpreter); 0 for b == 0. Python's modulo (the
 * result has the divisor's sign) unless `trunc`, which keeps C's. */
static inline QCC_T QCC_FN(rem_i64)(QCC_T a, QCC_T b, bool trunc) {
    int64_t x = (int64_t)a, y = (int64_t)b, r;
    if (y == 0 || y == -1) {
        return 0;
    }
    r = x % y;
    if (!trunc && r != 0 && (r < 0) != (y < 0)) {
        r += y;
    }
    return (QCC_T)r;
}
static inline QCC_T QCC_FN(modulo)(QCC_T a, QCC_T b) { return QCC_FN(rem_i64)(a, b, false); }
static inline QCC_T QCC_FN(fmod_int)(QCC_T a, QCC_T b) { return QCC_FN(rem_i64)(a, b, true); }
/* a ** b, exact with wrapping; negative exponents give 1 / a^|b|
 * truncated (0 unless a is 1 or -1). */
static inline QCC_T QCC_FN(pow_int)(QCC_T a, int64_t b) {
    QCC_U result = 1, base = (QCC_U)a;
    uint64_t e;
    if (b < 0) {
        int64_t v = (int64_t)a;
        if (v == 1 || (v == -1 && b % 2 == 0)) {
            return (QCC_T)1;
        }
        return v == -1 ? a : (QCC_T)0;
    }
    for (e = (uint64_t)b; e > 0; e >>= 1) {
        if (e & 1u) {
            result *= base;
        }
        base *= base;
    }
    return (QCC_T)result;
}
/* Shifts by b bits (right shifts of signed types are arithmetic); negative
 * amounts and amounts of the width or more leave only the sign fill. */
static inline QCC_T QCC_FN(shift)(QCC_T a, QCC_T b, bool left) {
    const uint64_t width = sizeof(QCC_T) * 8u;
#if QCC_KIND == QCC_SIGNED
    uint64_t amount = b < 0 ? width : (uint64_t)b;
    bool negative = a < 0;
#else
    uint64_t amount = (uint64_t)b;
    bool negative = false;
#endif
    if (amount >= width) {
        return (!left && negative) ? (QCC_T)~(QCC_U)0 : (QCC_T)0;
    }
    if (left) {
        return (QCC_T)((QCC_U)a << amount);
    }
#if QCC_KIND == QCC_SIGNED
    if (negative) {
        /* ~(~a >> n): an arithmetic shift without relying on >> of negatives. */
        return (QCC_T)~(QCC_T)((QCC_U)~(QCC_U)a >> amount);
    }
#endif
    return (QCC_T)((QCC_U)a >> amount);
}
static inline QCC_T QCC_FN(shift_left)(QCC_T a, QCC_T b) { return QCC_FN(shift)(a, b, true); }
static inline QCC_T QCC_FN(shift_right)(QCC_T a, QCC_T b) { return QCC_FN(shift)(a, b, false); }
#endif

/* min(max(x, lo), hi): hi when lo > hi; NaN stays NaN. */
static inline QCC_T QCC_FN(clip)(QCC_T x, QCC_T lo, QCC_T hi) {
    QCC_T v = QCC_IN(x) < QCC_IN(lo) ? lo : x;
    return QCC_IN(v) > QCC_IN(hi) ? hi : v;
}

static inline bool QCC_FN(equal)(QCC_T a, QCC_T b) { return QCC_IN(a) == QCC_IN(b); }
static inline bool QCC_FN(less)(QCC_T a, QCC_T b) { return QCC_IN(a) < QCC_IN(b); }
static inline bool QCC_FN(less_equal)(QCC_T a, QCC_T b) { return QCC_IN(a) <= QCC_IN(b); }
static inline bool QCC_FN(greater)(QCC_T a, QCC_T b) { return QCC_IN(a) > QCC_IN(b); }
static inline bool QCC_FN(greater_equal)(QCC_T a, QCC_T b) { return QCC_IN(a) >= QCC_IN(b); }
static inline QCC_T QCC_FN(select)(bool c, QCC_T a, QCC_T b) { return c ? a : b; }

#undef QCC_FN
#undef QCC_FLOAT
#undef QCC_SIGNED
#undef QCC_UNSIGNED
