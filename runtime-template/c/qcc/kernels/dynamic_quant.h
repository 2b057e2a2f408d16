/* ONNX DynamicQuantizeLinear with the semantics of the Rust runtime's
 * kernels/dynamic_quant.rs.
 *
 * Included once per code type (QCC_T, QCC_S: uint8); defines
 * qcc_dynamic_quantize_<suffix>. */

#define QCC_DQFN(name) QCC_CAT(qcc_##name, QCC_S)

/* v rounded half to even, plus zero, clamped to 0..255 (NaN counts as 0).
 * Clamped first, so adding and removing 1.5 * 2^23 rounds half to even. */
static inline int32_t QCC_DQFN(dynamic_quantize_round)(float v, int32_t zero) {
    volatile float magic = 12582912.0f;
    int32_t r;
    v = v > 1024.0f ? 1024.0f : (v < -1024.0f ? -1024.0f : (v != v ? 0.0f : v));
    r = (int32_t)((v + magic) - magic) + zero;
    return r < 0 ? 0 : (r > 255 ? 255 : r);
}

/* x (dims[0] floats) quantized into y over [min(0, min x), max(0, max x)]:
 * scale = (max - min) / 255 (1/255 for an empty range), zero =
 * round(-min / scale); NaN inputs do not move the range. */
static inline void QCC_DQFN(dynamic_quantize)(const float *x, QCC_T *y, float *scale, QCC_T *zero, const size_t *dims) {
    float lo = 0.0f, hi = 0.0f, s;
    int32_t z;
    size_t i, n = dims[0];
    for (i = 0; i < n; i++) {
        if (x[i] > hi) hi = x[i];
        if (x[i] < lo) lo = x[i];
    }
    s = (hi == lo ? 1.0f : hi - lo) / 255.0f;
    z = QCC_DQFN(dynamic_quantize_round)(0.0f - lo / s, 0);
    for (i = 0; i < n; i++) y[i] = (QCC_T)QCC_DQFN(dynamic_quantize_round)(x[i] / s, z);
    scale[0] = s;
    zero[0] = (QCC_T)z;
}

#undef QCC_DQFN
