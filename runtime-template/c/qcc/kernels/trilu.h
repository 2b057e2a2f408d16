/* Trilu with the diagonal offset k known only at run time, with the
 * semantics of runtime/kernels/trilu.rs.
 *
 * Included once per element type (QCC_T, QCC_S); defines qcc_trilu_<suffix>. */

#define QCC_TFN(name) QCC_CAT(qcc_##name, QCC_S)

/* dims = {matrices, rows, cols}: element (i, j) of each matrix is kept when
 * j - i >= k (upper) or j - i <= k, else zero. */
static inline void QCC_TFN(trilu)(const QCC_T *x, const int64_t *k, QCC_T *y, const size_t *dims, bool upper) {
    size_t matrices = dims[0], rows = dims[1], cols = dims[2], m, i, j;
    for (m = 0; m < matrices; m++) {
        for (i = 0; i < rows; i++) {
            for (j = 0; j < cols; j++) {
                size_t at = (m * rows + i) * cols + j;
                int64_t diagonal = (int64_t)j - (int64_t)i;
                if (upper ? diagonal >= *k : diagonal <= *k) {
                    y[at] = x[at];
                } else {
                    memset(&y[at], 0, sizeof(QCC_T));
                }
            }
        }
    }
}
