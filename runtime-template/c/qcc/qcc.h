/* qcc runtime for generated C: element types, float16/bfloat16
 * conversions, and the conventions every kernel follows. C99, no malloc,
 * no libm unless a model uses float math (ops_float.h). */
#ifndef QCC_H
#define QCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Weights are stored little-endian, as every supported target is. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "qcc: the generated weights are little-endian and this target is big-endian"
#endif

/* float16 and bfloat16 are stored as their bit patterns. */
typedef uint16_t qcc_f16;
typedef uint16_t qcc_bf16;

#define QCC_CAT2(a, b) a##_##b
#define QCC_CAT(a, b) QCC_CAT2(a, b)
#define QCC_CAT3(a, b, c) QCC_CAT(QCC_CAT(a, b), c)

/* Offset of element `flat` (row-major over the `rank` dims) under strides;
 * a zero-sized dimension contributes nothing. */
static inline size_t qcc_strided_offset(size_t flat, size_t rank, const size_t *dims, const size_t *strides) {
    size_t off = 0;
    while (rank > 0) {
        rank--;
        if (dims[rank] != 0) {
            off += (flat % dims[rank]) * strides[rank];
            flat /= dims[rank];
        }
    }
    return off;
}

/* The product of the n sizes in dims (1 for none). */
static inline size_t qcc_product(const size_t *dims, size_t n) {
    size_t p = 1;
    while (n > 0) {
        p *= dims[--n];
    }
    return p;
}

/* Whether i is a position on an axis of len elements (negatives count from
 * the end); the position in *at. */
static inline bool qcc_wrap_index(int64_t i, size_t len, size_t *at) {
    int64_t n = (int64_t)len;
    if (i < 0) {
        i += n;
    }
    if (i < 0 || i >= n) {
        return false;
    }
    *at = (size_t)i;
    return true;
}

/* The row-major offset in a tensor of dims of element e of a tensor of
 * idx_dims (same rank), its coordinate on axis replaced by index i
 * (GatherElements, ScatterElements); false when i is out of range. */
static inline bool qcc_element_offset(size_t e, size_t rank, const size_t *idx_dims, const size_t *dims, size_t axis, int64_t i,
                                      size_t *at) {
    size_t offset = 0, stride = 1, c, d;
    for (d = rank; d-- > 0;) {
        c = idx_dims[d] ? e % idx_dims[d] : 0;
        e = idx_dims[d] ? e / idx_dims[d] : e;
        if (d == axis && !qcc_wrap_index(i, dims[d], &c)) {
            return false;
        }
        offset += c * stride;
        stride *= dims[d];
    }
    *at = offset;
    return true;
}

/* The row-major position of the k-index tuple in axes (GatherND,
 * ScatterND); false when an index is out of range. */
static inline bool qcc_tuple_offset(const int64_t *tuple, size_t k, const size_t *axes, size_t *at) {
    size_t offset = 0, j, a;
    for (a = 0; a < k; a++) {
        if (!qcc_wrap_index(tuple[a], axes[a], &j)) {
            return false;
        }
        offset = offset * axes[a] + j;
    }
    *at = offset;
    return true;
}

static inline float qcc_f32_from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline uint32_t qcc_bits_from_f32(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* float16 bits to float (exact). */
static inline float qcc_f16_to_f32(qcc_f16 h) {
    uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
    uint32_t exp = ((uint32_t)h >> 10) & 0x1fu;
    uint32_t man = (uint32_t)h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            uint32_t e = 113;
            while ((man & 0x400u) == 0) {
                man <<= 1;
                e--;
            }
            bits = sign | (e << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    }
    return qcc_f32_from_bits(bits);
}

/* float to float16 bits, rounding to nearest even. */
static inline qcc_f16 qcc_f32_to_f16(float f) {
    uint32_t x = qcc_bits_from_f32(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    int32_t exp = (int32_t)((x >> 23) & 0xffu);
    uint32_t man = x & 0x7fffffu;
    int32_t e;
    uint32_t out, rest;
    if (exp == 0xff) {
        return (qcc_f16)(sign | 0x7c00u | (man ? (0x200u | (man >> 13)) : 0u));
    }
    e = exp - 127 + 15;
    if (e >= 0x1f) {
        return (qcc_f16)(sign | 0x7c00u);
    }
    if (e <= 0) {
        uint32_t m, shift, half;
        if (e < -10) {
            return (qcc_f16)sign;
        }
        m = man | 0x800000u;
        shift = (uint32_t)(14 - e);
        half = 1u << (shift - 1);
        rest = m & ((1u << shift) - 1);
        out = m >> shift;
        if (rest > half || (rest == half && (out & 1u))) {
            out++;
        }
        return (qcc_f16)(sign | out);
    }
    rest = man & 0x1fffu;
    out = ((uint32_t)e << 10) | (man >> 13);
    if (rest > 0x1000u || (rest == 0x1000u && (out & 1u))) {
        out++;
    }
    return (qcc_f16)(sign | out);
}

static inline float qcc_bf16_to_f32(qcc_bf16 h) {
    return qcc_f32_from_bits((uint32_t)h << 16);
}

/* float to bfloat16 bits, rounding to nearest even. */
static inline qcc_bf16 qcc_f32_to_bf16(float f) {
    uint32_t x = qcc_bits_from_f32(f);
    if (f != f) {
        return (qcc_bf16)((x >> 16) | 0x40u);
    }
    return (qcc_bf16)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/* double to float rounding to odd, so that a later rounding to a 16-bit
 * float equals rounding the double once. */
static inline float qcc_f64_to_f32_odd(double v) {
    float f = (float)v;
    uint32_t bits;
    if (f - f != 0.0f || (double)f == v) {
        return f;
    }
    bits = qcc_bits_from_f32(f);
    if (((double)f < 0 ? -(double)f : (double)f) > (v < 0 ? -v : v)) {
        bits -= 1;
    }
    return qcc_f32_from_bits(bits | 1u);
}

#endif
