/* Conversions between element types with the interpreter's Cast semantics:
 * through double when either side is a float, else through int64_t
 * (integers wrap); float to integer truncates toward zero and saturates,
 * NaN gives 0; anything to bool is "!= 0". Float conversions follow IEEE
 * (C99 Annex F). */
#ifndef QCC_CONVERT_H
#define QCC_CONVERT_H

#include "qcc.h"

#define QCC_INT_CONVERT(S, T, MIN, MAX) \
    static inline double qcc_to_f64_##S(T v) { return (double)v; } \
    static inline T qcc_from_f64_##S(double v) { \
        return v != v ? (T)0 : (v <= (double)(MIN) ? (T)(MIN) : (v >= (double)(MAX) ? (T)(MAX) : (T)v)); \
    } \
    static inline int64_t qcc_to_i64_##S(T v) { return (int64_t)v; } \
    static inline T qcc_from_i64_##S(int64_t v) { return (T)v; }

QCC_INT_CONVERT(i8, int8_t, INT8_MIN, INT8_MAX)
QCC_INT_CONVERT(i16, int16_t, INT16_MIN, INT16_MAX)
QCC_INT_CONVERT(i32, int32_t, INT32_MIN, INT32_MAX)
QCC_INT_CONVERT(i64, int64_t, INT64_MIN, INT64_MAX)
QCC_INT_CONVERT(u8, uint8_t, 0, UINT8_MAX)
QCC_INT_CONVERT(u16, uint16_t, 0, UINT16_MAX)
QCC_INT_CONVERT(u32, uint32_t, 0, UINT32_MAX)
QCC_INT_CONVERT(u64, uint64_t, 0, UINT64_MAX)

static inline double qcc_to_f64_f32(float v) { return (double)v; }
static inline float qcc_from_f64_f32(double v) { return (float)v; }
static inline int64_t qcc_to_i64_f32(float v) { return qcc_from_f64_i64((double)v); }
static inline float qcc_from_i64_f32(int64_t v) { return (float)(double)v; }

static inline double qcc_to_f64_f64(double v) { return v; }
static inline double qcc_from_f64_f64(double v) { return v; }
static inline int64_t qcc_to_i64_f64(double v) { return qcc_from_f64_i64(v); }
static inline double qcc_from_i64_f64(int64_t v) { return (double)v; }

static inline double qcc_to_f64_f16(qcc_f16 v) { return (double)qcc_f16_to_f32(v); }
static inline qcc_f16 qcc_from_f64_f16(double v) { return qcc_f32_to_f16(qcc_f64_to_f32_odd(v)); }
static inline int64_t qcc_to_i64_f16(qcc_f16 v) { return qcc_from_f64_i64(qcc_to_f64_f16(v)); }
static inline qcc_f16 qcc_from_i64_f16(int64_t v) { return qcc_from_f64_f16((double)v); }

static inline double qcc_to_f64_bf16(qcc_bf16 v) { return (double)qcc_bf16_to_f32(v); }
static inline qcc_bf16 qcc_from_f64_bf16(double v) { return qcc_f32_to_bf16(qcc_f64_to_f32_odd(v)); }
static inline int64_t qcc_to_i64_bf16(qcc_bf16 v) { return qcc_from_f64_i64(qcc_to_f64_bf16(v)); }
static inline qcc_bf16 qcc_from_i64_bf16(int64_t v) { return qcc_from_f64_bf16((double)v); }

static inline double qcc_to_f64_bool(bool v) { return v ? 1.0 : 0.0; }
static inline bool qcc_from_f64_bool(double v) { return v != 0.0; }
static inline int64_t qcc_to_i64_bool(bool v) { return v ? 1 : 0; }
static inline bool qcc_from_i64_bool(int64_t v) { return v != 0; }

/* Defines qcc_cast_SF_ST: from type TF (suffix SF) to TT (suffix ST);
 * VIA_FLOAT is 1 when either type is a float type. */
#define QCC_DEFINE_CAST(SF, TF, ST, TT, VIA_FLOAT) \
    static inline TT qcc_cast_##SF##_##ST(TF v) { \
        return (VIA_FLOAT) ? qcc_from_f64_##ST(qcc_to_f64_##SF(v)) : qcc_from_i64_##ST(qcc_to_i64_##SF(v)); \
    }

#endif
