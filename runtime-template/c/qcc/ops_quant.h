/* Scalar functions of quantized models for one code type (int8, uint8 or
 * int16), with the semantics of the Rust runtime's ops.rs (quantize_linear,
 * q_add, ...).
 *
 * Included once per code type (QCC_T, QCC_S) after fixed_point.h. */

#define QCC_QF(name) QCC_CAT(qcc_##name, QCC_S)
/* The code range, from the size and signedness of QCC_T (ops_num.h's
 * QCC_KIND constants are gone by the time this file is included). */
#define QCC_QMIN (sizeof(QCC_T) == 2 ? -32768 : (QCC_T)-1 < 0 ? -128 : 0)
#define QCC_QMAX (sizeof(QCC_T) == 2 ? 32767 : (QCC_T)-1 < 0 ? 127 : 255)
/* The headroom shift of Add: 20 bits for 8-bit codes, 15 for int16. */
#define QCC_QADD_SHIFT (sizeof(QCC_T) == 2 ? 15 : 20)

/* ONNX QuantizeLinear: x / scale rounded half to even, plus zero,
 * saturated; NaN gives zero. Adding and removing 1.5 * 2^23 rounds half
 * to even for magnitudes up to 2^22 (the value is clamped to 2^17 first,
 * beyond every code range). */
static inline QCC_T QCC_QF(quantize_linear)(float x, float scale, int64_t zero) {
    volatile float magic = 12582912.0f;
    float v = x / scale;
    v = v > 131072.0f ? 131072.0f : (v < -131072.0f ? -131072.0f : (v != v ? 0.0f : v));
    v = (v + magic) - magic;
    return (QCC_T)qcc_output_stage((int32_t)v, (int32_t)zero, QCC_QMIN, QCC_QMAX);
}

/* scale * (q - zero) in float. */
static inline float QCC_QF(dequantize_linear)(QCC_T q, float scale, int64_t zero) {
    return (float)((int32_t)q - (int32_t)zero) * scale;
}

/* A code minus its zero point, as the int32 operand of ConvInteger and
 * MatMulInteger. */
static inline int32_t QCC_QF(centered)(QCC_T q, QCC_T zero) {
    return (int32_t)q - (int32_t)zero;
}

/* A code moved to other quantization parameters, possibly of another code
 * type: the result is a code of the output's type in [lo, hi], returned as
 * int32 and narrowed by the caller's assignment. */
static inline int32_t QCC_QF(q_rescale)(QCC_T a, int64_t za, int64_t m, int64_t e, int64_t zo, int64_t lo, int64_t hi, bool single) {
    int32_t y = qcc_requantize((int32_t)a - (int32_t)za, (int32_t)m, (int32_t)e, single);
    return qcc_output_stage(y, (int32_t)zo, (int32_t)lo, (int32_t)hi);
}

/* Quantized Add (or Sub): both operands at a common scale with
 * QCC_QADD_SHIFT bits of headroom, summed, requantized. */
static inline QCC_T QCC_QF(q_add)(QCC_T a, QCC_T b, int64_t za, int64_t zb, int64_t ma, int64_t ea, int64_t mb, int64_t eb,
                                  int64_t mo, int64_t eo, int64_t zo, int64_t lo, int64_t hi, bool single, bool subtract) {
    int32_t x = qcc_requantize(((int32_t)a - (int32_t)za) * (1 << QCC_QADD_SHIFT), (int32_t)ma, (int32_t)ea, single);
    int32_t y = qcc_requantize(((int32_t)b - (int32_t)zb) * (1 << QCC_QADD_SHIFT), (int32_t)mb, (int32_t)eb, single);
    int32_t r = qcc_requantize(subtract ? x - y : x + y, (int32_t)mo, (int32_t)eo, single);
    return (QCC_T)qcc_output_stage(r, (int32_t)zo, (int32_t)lo, (int32_t)hi);
}

/* Quantized Mul: the product of the centred codes, requantized. */
static inline QCC_T QCC_QF(q_mul)(QCC_T a, QCC_T b, int64_t za, int64_t zb, int64_t mo, int64_t eo, int64_t zo, int64_t lo, int64_t hi, bool single) {
    int32_t p = ((int32_t)a - (int32_t)za) * ((int32_t)b - (int32_t)zb);
    int32_t r = qcc_requantize(p, (int32_t)mo, (int32_t)eo, single);
    return (QCC_T)qcc_output_stage(r, (int32_t)zo, (int32_t)lo, (int32_t)hi);
}

#undef QCC_QMIN
#undef QCC_QMAX
#undef QCC_QADD_SHIFT
#undef QCC_QF
