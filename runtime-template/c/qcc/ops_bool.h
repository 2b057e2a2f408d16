/* Scalar functions on bool. */
#ifndef QCC_OPS_BOOL_H
#define QCC_OPS_BOOL_H

#include "qcc.h"

static inline bool qcc_and_bool(bool a, bool b) { return a && b; }
static inline bool qcc_or_bool(bool a, bool b) { return a || b; }
static inline bool qcc_xor_bool(bool a, bool b) { return a != b; }
static inline bool qcc_not_bool(bool a) { return !a; }
static inline bool qcc_equal_bool(bool a, bool b) { return a == b; }
static inline bool qcc_select_bool(bool c, bool a, bool b) { return c ? a : b; }

#endif
