/* The integer arithmetic of quantized models (NUMERICS.md), bit for bit
 * the Rust runtime's fixed_point.rs: the two requantization modes, the
 * output stage and the integer layer normalization's square root and
 * reciprocal. Included once (guarded). */
#ifndef QCC_FIXED_POINT_H
#define QCC_FIXED_POINT_H

/* round(a * b / 2^31), ties toward +inf, saturating the one overflow. */
static inline int32_t qcc_high_mul(int32_t a, int32_t b) {
    int64_t p;
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    p = (int64_t)a * (int64_t)b;
    return (int32_t)((p + (p >= 0 ? (INT64_C(1) << 30) : 1 - (INT64_C(1) << 30))) / (INT64_C(1) << 31));
}

/* round(x / 2^n), ties away from zero (">>" of a negative int32_t is
 * arithmetic on every supported compiler). */
static inline int32_t qcc_round_div_pow2(int32_t x, uint32_t n) {
    int32_t mask = (int32_t)((INT64_C(1) << n) - 1);
    int32_t rem = x & mask;
    int32_t limit = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> n) + (rem > limit ? 1 : 0);
}

/* acc scaled by m * 2^(e - 31): double rounding (single == false) or one
 * 64-bit product and one shift, ties toward +inf (single == true). */
static inline int32_t qcc_requantize(int32_t acc, int32_t m, int32_t e, bool single) {
    if (single) {
        uint32_t shift = (uint32_t)(31 - e);
        return (int32_t)(((int64_t)acc * (int64_t)m + (INT64_C(1) << (shift - 1))) >> shift);
    } else {
        uint32_t left = e > 0 ? (uint32_t)e : 0u;
        uint32_t right = e < 0 ? (uint32_t)-e : 0u;
        return qcc_round_div_pow2(qcc_high_mul((int32_t)((uint32_t)acc << left), m), right);
    }
}

/* The output stage: clamp(y + zero, lo, hi). */
static inline int32_t qcc_output_stage(int32_t y, int32_t zero, int32_t lo, int32_t hi) {
    int64_t v = (int64_t)y + zero;
    return v < lo ? lo : (v > hi ? hi : (int32_t)v);
}

/* sum / count rounded half away from zero (0 when count is 0). */
static inline int32_t qcc_rounded_average(int32_t sum, int32_t count) {
    if (count == 0) {
        return 0;
    }
    return sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

/* round(x / 2^n) of an int64, ties toward +inf, for n in 1..62. */
static inline int64_t qcc_round_shift_i64(int64_t x, uint32_t n) {
    return (x + (INT64_C(1) << (n - 1))) >> n;
}

/* floor(sqrt(x)), exact, two bits of x per step. */
static inline uint64_t qcc_isqrt(uint64_t x) {
    uint64_t rest = x, root = 0, bit = UINT64_C(1) << 62;
    while (bit > rest) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (rest >= root + bit) {
            rest -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

/* The per-row factor of the integer layer normalization (fixed_point.rs's
 * layer_norm_factor): *inv and *k such that qcc_round_shift_i64(d * inv, k)
 * is d / sqrt(v + eps / 4^j) with frac fraction bits. The compiler has
 * proven v * 4^j + eps < 2^62, j <= 30 and frac <= 31. */
static inline void qcc_layer_norm_factor(int64_t v, int64_t eps, uint32_t j, uint32_t frac, int64_t *inv, uint32_t *k) {
    uint64_t least = UINT64_C(1) << (2 * j);
    uint64_t d = ((uint64_t)v << (2 * j)) + (uint64_t)eps;
    uint64_t x = d < least ? least : d;
    uint32_t h = 0;
    while (x < (UINT64_C(1) << 60)) {
        x <<= 2;
        h++;
    }
    *inv = (int64_t)((UINT64_C(1) << 62) / qcc_isqrt(x));
    *k = 62 - frac - j - h;
}

#endif
