/* ScatterElements and ScatterND with indices known only at run time, with
 * the semantics of runtime/kernels/scatter.rs: y already holds the data;
 * updates are combined in order (reduction 0 replace, 1 add, 2 mul, 3 max,
 * 4 min); an update whose index is outside [-len, len) is skipped.
 *
 * Included once per element type after ops_num.h (QCC_T, QCC_S); defines
 * qcc_{scatter_elements,scatter_nd}_<suffix>. */

#define QCC_SFN(name) QCC_CAT(qcc_##name, QCC_S)

static inline QCC_T QCC_SFN(scatter_combine)(QCC_T old, QCC_T update, int64_t reduction) {
    switch (reduction) {
    case 1:
        return QCC_SFN(add)(old, update);
    case 2:
        return QCC_SFN(mul)(old, update);
    case 3:
        return QCC_SFN(max)(old, update);
    case 4:
        return QCC_SFN(min)(old, update);
    default:
        return update;
    }
}

/* dims = {rank, axis, idx dims (rank), y dims (rank)}: update e goes to e's
 * coordinates in y with the one on axis replaced by idx[e]. */
static inline void QCC_SFN(scatter_elements)(QCC_T *y, const int64_t *idx, const QCC_T *upd, const size_t *dims, int64_t reduction) {
    size_t rank = dims[0], axis = dims[1], count = qcc_product(dims + 2, rank), e;
    const size_t *idx_dims = dims + 2, *y_dims = dims + 2 + rank;
    for (e = 0; e < count; e++) {
        size_t at;
        if (qcc_element_offset(e, rank, idx_dims, y_dims, axis, idx[e], &at)) {
            y[at] = QCC_SFN(scatter_combine)(y[at], upd[e], reduction);
        }
    }
}

/* dims = {count, slice, k, d_1..d_k}: y is [d_1, .., d_k, slice]; update
 * slice t goes to the slice at tuple t of idx. */
static inline void QCC_SFN(scatter_nd)(QCC_T *y, const int64_t *idx, const QCC_T *upd, const size_t *dims, int64_t reduction) {
    size_t count = dims[0], slice = dims[1], k = dims[2], t, i, offset;
    const size_t *axes = dims + 3;
    for (t = 0; t < count; t++) {
        bool inside = qcc_tuple_offset(idx + t * k, k, axes, &offset);
        for (i = 0; i < slice && inside; i++) {
            y[offset * slice + i] = QCC_SFN(scatter_combine)(y[offset * slice + i], upd[t * slice + i], reduction);
        }
    }
}
