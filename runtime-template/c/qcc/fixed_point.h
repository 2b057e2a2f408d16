/* The integer arithmetic of quantized models (NUMERICS.md), bit for bit
 * the Rust runtime's fixed_point.rs: the two requantization modes of int32
 * and int64 accumulators, the output stage, the accumulator of each code
 * type and the integer layer normalization's square root and reciprocal.
 * Included once (guarded). */
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

/* round(a * m / 2^31), ties toward +inf, for |a| < 2^62 and m in [0, 2^31),
 * exactly: a = hi * 2^31 + lo with lo in [0, 2^31). */
static inline int64_t qcc_high_mul_i64(int64_t a, int32_t m) {
    int64_t hi = a >> 31, lo = a & INT64_C(0x7fffffff);
    return (int64_t)((uint64_t)(hi * m) + (uint64_t)((lo * m + (INT64_C(1) << 30)) >> 31));
}

/* round(x / 2^n) of an int64, ties away from zero, n in 0..62. */
static inline int64_t qcc_round_div_pow2_i64(int64_t x, uint32_t n) {
    int64_t mask = (INT64_C(1) << n) - 1;
    int64_t rem = x & mask;
    int64_t limit = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> n) + (rem > limit ? 1 : 0);
}

/* An int64 accumulator scaled by m * 2^(e - 31), both modes, exact for
 * |acc| * 2^max(e, 0) < 2^62 (fixed_point.rs's requantize_i64). */
static inline int64_t qcc_requantize_i64(int64_t acc, int32_t m, int32_t e, bool single) {
    if (single) {
        uint32_t shift = (uint32_t)(31 - e);
        int64_t hi = acc >> 31, lo = acc & INT64_C(0x7fffffff);
        int64_t low = lo * m + (INT64_C(1) << (shift - 1));
        int64_t h = (int64_t)((uint64_t)(hi * m) + (uint64_t)(low >> 31)), rem = low & INT64_C(0x7fffffff);
        if (shift >= 31) {
            return h >> (shift - 31);
        }
        return (int64_t)(((uint64_t)h << (31 - shift)) + (uint64_t)(rem >> shift));
    } else {
        uint32_t left = e > 0 ? (uint32_t)e : 0u;
        uint32_t right = e < 0 ? (uint32_t)-e : 0u;
        return qcc_round_div_pow2_i64(qcc_high_mul_i64((int64_t)((uint64_t)acc << left), m), right);
    }
}

/* The output stage of an int64 value (|y| < 2^62): clamp(y + zero, lo, hi). */
static inline int32_t qcc_output_stage_i64(int64_t y, int32_t zero, int32_t lo, int32_t hi) {
    int64_t v = (int64_t)((uint64_t)y + (uint64_t)(int64_t)zero);
    return v < lo ? lo : (v > hi ? hi : (int32_t)v);
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

/* sum / count of an int64 rounded half away from zero (0 when count is 0). */
static inline int64_t qcc_rounded_average_i64(int64_t sum, int64_t count) {
    if (count == 0) {
        return 0;
    }
    return sum >= 0 ? (int64_t)((uint64_t)sum + (uint64_t)(count / 2)) / count
                    : (int64_t)((uint64_t)sum - (uint64_t)(count / 2)) / count;
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

/* The accumulator of each code type (fixed_point.rs's Code::Acc and Acc):
 * int32 for 8-bit codes, int64 for int16 (16x8); the unsigned twin for
 * sums that wrap like Rust's wrapping arithmetic (the compiler proves they
 * never do). qcc_acc_stage_<s> is the output stage of a requantized
 * accumulator, qcc_acc_average_<s> the rounded average and
 * qcc_acc_div_pow2_<s> the rounding shift, each as an int32 code. */
typedef int32_t qcc_acc_i8;
typedef int32_t qcc_acc_u8;
typedef int64_t qcc_acc_i16;
typedef uint32_t qcc_uacc_i8;
typedef uint32_t qcc_uacc_u8;
typedef uint64_t qcc_uacc_i16;
#define QCC_ACC8_FNS(s)                                                                                                     \
    static inline int32_t qcc_acc_stage_##s(int32_t acc, int32_t m, int32_t e, bool single, int32_t zero, int32_t lo,      \
                                            int32_t hi) {                                                                   \
        return qcc_output_stage(qcc_requantize(acc, m, e, single), zero, lo, hi);                                            \
    }                                                                                                                       \
    static inline int32_t qcc_acc_average_##s(int32_t sum, int32_t count) { return qcc_rounded_average(sum, count); }      \
    static inline int32_t qcc_acc_div_pow2_##s(int32_t x, uint32_t n) { return qcc_round_div_pow2(x, n); }
QCC_ACC8_FNS(i8)
QCC_ACC8_FNS(u8)
#undef QCC_ACC8_FNS
static inline int32_t qcc_acc_stage_i16(int64_t acc, int32_t m, int32_t e, bool single, int32_t zero, int32_t lo, int32_t hi) {
    return qcc_output_stage_i64(qcc_requantize_i64(acc, m, e, single), zero, lo, hi);
}
static inline int32_t qcc_acc_average_i16(int64_t sum, int32_t count) {
    return (int32_t)qcc_rounded_average_i64(sum, count);
}
static inline int32_t qcc_acc_div_pow2_i16(int64_t x, uint32_t n) {
    return (int32_t)qcc_round_div_pow2_i64(x, n);
}

#endif
