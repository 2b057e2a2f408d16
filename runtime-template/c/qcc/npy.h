/* Minimal .npy reading and writing for the harness of a generated model
 * (little-endian, C order). Uses stdio and malloc: for hosted targets only;
 * the model itself uses neither. */
#ifndef QCC_NPY_H
#define QCC_NPY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether the header's 'shape' tuple holds exactly the `rank` dims `shape`. */
static inline int qcc_npy_shape_is(const char *header, const size_t *shape, size_t rank) {
    const char *p = strstr(header, "'shape':");
    size_t i;
    if (p == NULL || (p = strchr(p, '(')) == NULL) {
        return 0;
    }
    p++;
    for (i = 0;; i++) {
        char *end;
        unsigned long d;
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (*p == ')') {
            return i == rank;
        }
        d = strtoul(p, &end, 10);
        if (end == p || i >= rank || d != (unsigned long)shape[i]) {
            return 0;
        }
        p = end;
    }
}

/* Reads `path` into `data` (`count` elements of `size` bytes with the
 * numpy descriptor `descr`, e.g. "<f4", and `rank` dims `shape`). Returns 0
 * on success, else prints the reason to stderr and returns -1. */
static inline int qcc_npy_read(const char *path, const char *descr, size_t size, const size_t *shape, size_t rank, void *data, size_t count) {
    unsigned char pre[10];
    char header[4096];
    size_t header_len, i;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "error: %s: cannot open\n", path);
        return -1;
    }
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] != 1) {
        fprintf(stderr, "error: %s: not a version-1 .npy file\n", path);
        fclose(f);
        return -1;
    }
    header_len = (size_t)pre[8] | ((size_t)pre[9] << 8);
    if (header_len >= sizeof header || fread(header, 1, header_len, f) != header_len) {
        fprintf(stderr, "error: %s: bad header\n", path);
        fclose(f);
        return -1;
    }
    header[header_len] = 0;
    if (strstr(header, descr + 1) == NULL || strstr(header, "'fortran_order': False") == NULL || !qcc_npy_shape_is(header, shape, rank)) {
        fprintf(stderr, "error: %s: expected dtype '%s' in C order with shape (", path, descr);
        for (i = 0; i < rank; i++) {
            fprintf(stderr, i + 1 < rank ? "%lu, " : "%lu", (unsigned long)shape[i]);
        }
        fprintf(stderr, "); header is %s\n", header);
        fclose(f);
        return -1;
    }
    if (fread(data, size, count, f) != count) {
        fprintf(stderr, "error: %s: too little data\n", path);
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

/* Writes `count` elements of `size` bytes to `path` as .npy. */
static inline int qcc_npy_write(const char *path, const char *descr, size_t size, const size_t *shape, size_t rank, const void *data, size_t count) {
    char header[512];
    size_t pos, i;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    FILE *f;
    pos = (size_t)snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (i = 0; i < rank; i++) {
        pos += (size_t)snprintf(header + pos, sizeof header - pos, "%lu,%s", (unsigned long)shape[i], i + 1 < rank ? " " : "");
    }
    pos += (size_t)snprintf(header + pos, sizeof header - pos, "), }");
    while ((10 + pos + 1) % 64 != 0) {
        header[pos++] = ' ';
    }
    header[pos++] = '\n';
    pre[8] = (unsigned char)(pos & 0xff);
    pre[9] = (unsigned char)(pos >> 8);
    f = fopen(path, "wb");
    if (!f || fwrite(pre, 1, 10, f) != 10 || fwrite(header, 1, pos, f) != pos || fwrite(data, size, count, f) != count) {
        fprintf(stderr, "error: %s: cannot write\n", path);
        if (f) {
            fclose(f);
        }
        return -1;
    }
    fclose(f);
    return 0;
}

#endif
