/* Gather and GatherElements with indices known only at run time, with the
 * semantics of runtime/kernels/gather.rs: int64 indices, negatives count
 * from the end, an index outside [-len, len) selects zeros.
 *
 * Included once per element type (QCC_T, QCC_S); defines
 * qcc_{gather,gather_elements,gather_nd}_<suffix>. */

#define QCC_GFN(name) QCC_CAT(qcc_##name, QCC_S)

/* dims = {outer, axis_len, inner, count}: row k of block o of y is row
 * idx[k] of block o of x. */
static inline void QCC_GFN(gather)(const QCC_T *x, const int64_t *idx, QCC_T *y, const size_t *dims) {
    size_t outer = dims[0], axis_len = dims[1], inner = dims[2], count = dims[3], o, k, j;
    for (o = 0; o < outer; o++) {
        for (k = 0; k < count; k++) {
            QCC_T *dst = y + (o * count + k) * inner;
            if (qcc_wrap_index(idx[k], axis_len, &j)) {
                memcpy(dst, x + (o * axis_len + j) * inner, inner * sizeof(QCC_T));
            } else {
                memset(dst, 0, inner * sizeof(QCC_T));
            }
        }
    }
}

/* dims = {rank, axis, idx dims (rank), x dims (rank)}: y has idx's shape;
 * element e is x at e's coordinates with the one on axis replaced by idx[e]. */
static inline void QCC_GFN(gather_elements)(const QCC_T *x, const int64_t *idx, QCC_T *y, const size_t *dims) {
    size_t rank = dims[0], axis = dims[1], count = qcc_product(dims + 2, rank), e;
    const size_t *idx_dims = dims + 2, *x_dims = dims + 2 + rank;
    for (e = 0; e < count; e++) {
        size_t at;
        if (qcc_element_offset(e, rank, idx_dims, x_dims, axis, idx[e], &at)) {
            y[e] = x[at];
        } else {
            memset(&y[e], 0, sizeof(QCC_T));
        }
    }
}

/* dims = {batch, count, slice, k, d_1..d_k}: per batch entry b, x holds a
 * [d_1, .., d_k, slice] block and idx count tuples of k indices; tuple c
 * selects the slice at (i_1, .., i_k), which becomes slice b * count + c of y. */
static inline void QCC_GFN(gather_nd)(const QCC_T *x, const int64_t *idx, QCC_T *y, const size_t *dims) {
    size_t batch = dims[0], count = dims[1], slice = dims[2], k = dims[3], t;
    const size_t *axes = dims + 4;
    size_t block = slice * qcc_product(axes, k);
    for (t = 0; t < batch * count; t++) {
        size_t offset;
        if (qcc_tuple_offset(idx + t * k, k, axes, &offset)) {
            memcpy(y + t * slice, x + (t / count) * block + offset * slice, slice * sizeof(QCC_T));
        } else {
            memset(y + t * slice, 0, slice * sizeof(QCC_T));
        }
    }
}
