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
#endif

static inline QCC_T QCC_FN(clip)(QCC_T x, QCC_T lo, QCC_T hi) {
    QCC_C v = QCC_IN(x);
    return v < QCC_IN(lo) ? lo : (v > QCC_IN(hi) ? hi : x);
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
