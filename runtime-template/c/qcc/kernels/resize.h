/* Resize over up to QCC_RESIZE_MAX_RANK axes from per-axis sampling tables
 * computed at compile time, with the semantics of runtime/kernels/resize.rs
 * (dims and table layout are documented there): qcc_resize_nearest_S copies
 * (every element type), qcc_resize_filter_S interpolates (float types, in
 * QCC_C, rounded once when stored). A position of -1 gives `fill`.
 *
 * Included once per element type with the QCC_* macros of ops_num.h. */

#ifndef QCC_FLOAT
#define QCC_FLOAT 1
#define QCC_SIGNED 2
#define QCC_UNSIGNED 3
#endif

#ifndef QCC_KERNELS_RESIZE_ONCE
#define QCC_KERNELS_RESIZE_ONCE
#define QCC_RESIZE_MAX_RANK 8
#define QCC_ZFN(name) QCC_CAT(qcc_##name, QCC_S)

/* Shapes, input strides and table offsets of one call. */
typedef struct {
    size_t rank, input[QCC_RESIZE_MAX_RANK], output[QCC_RESIZE_MAX_RANK], taps[QCC_RESIZE_MAX_RANK];
    size_t stride[QCC_RESIZE_MAX_RANK], table[QCC_RESIZE_MAX_RANK], out_len;
} qcc_resize_geometry;

/* Reads dims (with the taps per axis when filter); false when they do not
 * describe a resize of 1 to QCC_RESIZE_MAX_RANK axes. */
static inline bool qcc_resize_geometry_init(qcc_resize_geometry *g, const size_t *dims, bool filter) {
    size_t a, s = 1, t = 0;
    g->rank = dims[0];
    if (g->rank == 0 || g->rank > QCC_RESIZE_MAX_RANK) {
        return false;
    }
    g->out_len = 1;
    for (a = 0; a < g->rank; a++) {
        g->input[a] = dims[1 + a];
        g->output[a] = dims[1 + g->rank + a];
        g->taps[a] = filter ? dims[1 + 2 * g->rank + a] : 1;
        if (g->taps[a] == 0) {
            return false;
        }
        g->out_len *= g->output[a];
    }
    for (a = g->rank; a-- > 0;) {
        g->stride[a] = s;
        s *= g->input[a];
    }
    for (a = 0; a < g->rank; a++) {
        g->table[a] = t;
        t += g->output[a] * g->taps[a];
    }
    return true;
}

/* Steps the multi-index j over the first `axes` axes in row-major order. */
static inline void qcc_resize_next(const qcc_resize_geometry *g, size_t *j, size_t axes) {
    while (axes > 0) {
        axes--;
        if (++j[axes] < g->output[axes]) {
            return;
        }
        j[axes] = 0;
    }
}
#endif

/* Nearest mode: y[j] = x[picks(j)], or fill where a pick is -1. */
static inline void QCC_ZFN(resize_nearest)(const QCC_T *x, QCC_T *y, const int32_t *picks, const size_t *dims, QCC_T fill) {
    qcc_resize_geometry g;
    size_t j[QCC_RESIZE_MAX_RANK] = {0}, last, row, r, rows, k, a;
    const int32_t *inner;
    if (!qcc_resize_geometry_init(&g, dims, false)) {
        return;
    }
    last = g.rank - 1;
    row = g.output[last];
    if (row == 0) {
        return;
    }
    inner = picks + g.table[last];
    rows = g.out_len / row;
    for (r = 0; r < rows; r++) {
        size_t base = 0;
        bool outside = false;
        QCC_T *out = y + r * row;
        for (a = 0; a < last; a++) {
            int32_t p = picks[g.table[a] + j[a]];
            if (p < 0) {
                outside = true;
            } else {
                base += (size_t)p * g.stride[a];
            }
        }
        for (k = 0; k < row; k++) {
            out[k] = (outside || inner[k] < 0) ? fill : x[base + (size_t)inner[k]];
        }
        qcc_resize_next(&g, j, last);
    }
}

#if QCC_KIND == QCC_FLOAT
/* Linear and cubic modes: y[j] = sum over every combination of the axes'
 * taps of the product of their weights times x, or fill where a position is -1. */
static inline void QCC_ZFN(resize_filter)(const QCC_T *x, QCC_T *y, const int32_t *pos, const QCC_C *w, const size_t *dims,
                                          QCC_T fill) {
    qcc_resize_geometry g;
    size_t j[QCC_RESIZE_MAX_RANK] = {0}, combos = 1, i, a, c;
    if (!qcc_resize_geometry_init(&g, dims, true)) {
        return;
    }
    for (a = 0; a < g.rank; a++) {
        combos *= g.taps[a];
    }
    for (i = 0; i < g.out_len; i++) {
        bool outside = false;
        for (a = 0; a < g.rank; a++) {
            outside = outside || pos[g.table[a] + j[a] * g.taps[a]] < 0;
        }
        if (outside) {
            y[i] = fill;
        } else {
            QCC_C acc = (QCC_C)0;
            for (c = 0; c < combos; c++) {
                size_t rest = c, at = 0;
                QCC_C weight = (QCC_C)1;
                for (a = g.rank; a-- > 0;) {
                    size_t e = g.table[a] + j[a] * g.taps[a] + rest % g.taps[a];
                    rest /= g.taps[a];
                    weight *= w[e];
                    at += (size_t)pos[e] * g.stride[a];
                }
                acc += weight * QCC_IN(x[at]);
            }
            y[i] = QCC_OUT(acc);
        }
        qcc_resize_next(&g, j, g.rank);
    }
}
#endif
