/* input_file.c: raw float32 and .npy input reader with strict header checks. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input_file.h"

static int bp_bench_fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Finds 'key' (quoted with ' or ") in the header dict; returns a pointer just
 * after the following ':' (spaces skipped), or NULL. */
static const char *bp_bench_npy_key(const char *h, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = h; (p = strpbrk(p, "'\"")) != NULL; p++) {
        char q = *p;
        if (!strncmp(p + 1, key, kl) && p[1 + kl] == q) {
            const char *v = p + 2 + kl;
            while (isspace((unsigned char)*v))
                v++;
            if (*v != ':')
                return NULL;
            v++;
            while (isspace((unsigned char)*v))
                v++;
            return v;
        }
    }
    return NULL;
}

int bp_bench_npy_header(const unsigned char *buf, size_t len, uint64_t *shape, uint32_t *ndim,
                        uint32_t max_dims, size_t *data_off, char *err, size_t errlen)
{
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6))
        return bp_bench_fail(err, errlen, "not a .npy file (no \\x93NUMPY magic)");
    unsigned major = buf[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return bp_bench_fail(err, errlen, ".npy header truncated");
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
               (size_t)buf[11] << 24;
        hoff = 12;
    } else {
        return bp_bench_fail(err, errlen, ".npy format version %u.%u is not supported (1-3)",
                             major, buf[7]);
    }
    if (hlen > len - hoff || hlen > 65536)
        return bp_bench_fail(err, errlen, ".npy header length %zu exceeds the file", hlen);
    char *h = malloc(hlen + 1);
    if (!h)
        return bp_bench_fail(err, errlen, "out of memory");
    memcpy(h, buf + hoff, hlen);
    h[hlen] = 0;
    int rc = -1;
    const char *v = bp_bench_npy_key(h, "descr");
    if (!v || (*v != '\'' && *v != '"')) {
        bp_bench_fail(err, errlen, ".npy header has no 'descr'");
        goto out;
    }
    char q = *v++;
    const char *e = strchr(v, q);
    if (!e) {
        bp_bench_fail(err, errlen, ".npy header: unterminated 'descr'");
        goto out;
    }
    if (e - v != 3 || strncmp(v, "<f4", 3)) {
        bp_bench_fail(err, errlen, ".npy dtype '%.*s' is not '<f4' (little-endian float32)",
                      (int)(e - v) > 32 ? 32 : (int)(e - v), v);
        goto out;
    }
    v = bp_bench_npy_key(h, "fortran_order");
    if (!v || (strncmp(v, "False", 5) && strncmp(v, "True", 4))) {
        bp_bench_fail(err, errlen, ".npy header has no valid 'fortran_order'");
        goto out;
    }
    if (!strncmp(v, "True", 4)) {
        bp_bench_fail(err, errlen, ".npy array is in Fortran order; C order is required");
        goto out;
    }
    v = bp_bench_npy_key(h, "shape");
    if (!v || *v != '(') {
        bp_bench_fail(err, errlen, ".npy header has no 'shape' tuple");
        goto out;
    }
    v++;
    uint32_t n = 0;
    for (;;) {
        while (isspace((unsigned char)*v))
            v++;
        if (*v == ')')
            break;
        if (!isdigit((unsigned char)*v)) {
            bp_bench_fail(err, errlen, ".npy 'shape' is malformed near '%.10s'", v);
            goto out;
        }
        char *end;
        errno = 0;
        unsigned long long d = strtoull(v, &end, 10);
        if (errno || d > (1ull << 40)) {
            bp_bench_fail(err, errlen, ".npy 'shape' has an out-of-range dimension");
            goto out;
        }
        if (n >= max_dims) {
            bp_bench_fail(err, errlen, ".npy array has more than %u dimensions", max_dims);
            goto out;
        }
        shape[n++] = d;
        v = end;
        while (isspace((unsigned char)*v))
            v++;
        if (*v == ',')
            v++;
        else if (*v != ')') {
            bp_bench_fail(err, errlen, ".npy 'shape' is malformed near '%.10s'", v);
            goto out;
        }
    }
    *ndim = n;
    *data_off = hoff + hlen;
    rc = 0;
out:
    free(h);
    return rc;
}

static int bp_bench_slurp(const char *path, unsigned char **buf, size_t *len, char *err,
                          size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return bp_bench_fail(err, errlen, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    for (;;) {
        if (!b) {
            fclose(f);
            return bp_bench_fail(err, errlen, "%s: out of memory", path);
        }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        unsigned char *nb = realloc(b, cap * 2);
        if (!nb)
            free(b);
        b = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return bp_bench_fail(err, errlen, "%s: read error", path);
    }
    *buf = b;
    *len = n;
    return 0;
}

int bp_bench_read_input(const char *path, const uint32_t *dims, uint32_t ndim, uint32_t batch,
                        float *dst, char *err, size_t errlen)
{
    size_t per = 1;
    for (uint32_t i = 1; i < ndim; i++)
        per *= dims[i];
    unsigned char *buf = NULL;
    size_t len = 0;
    if (bp_bench_slurp(path, &buf, &len, err, errlen))
        return -1;
    char want[96];
    int wl = snprintf(want, sizeof want, "(%u", batch);
    for (uint32_t i = 1; i < ndim && wl < (int)sizeof want - 12; i++)
        wl += snprintf(want + wl, sizeof want - wl, ", %u", dims[i]);
    snprintf(want + wl, sizeof want - wl, ")");

    size_t off = 0, images = 0;
    int rc = -1;
    if (len >= 6 && !memcmp(buf, "\x93NUMPY", 6)) {
        uint64_t shape[8];
        uint32_t n = 0;
        char e2[200];
        if (bp_bench_npy_header(buf, len, shape, &n, 8, &off, e2, sizeof e2)) {
            bp_bench_fail(err, errlen, "%s: %s", path, e2);
            goto out;
        }
        int ok = 0;
        if (n == ndim && (shape[0] == 1 || shape[0] == batch)) {
            ok = 1;
            for (uint32_t i = 1; i < ndim; i++)
                ok &= shape[i] == dims[i];
            images = (size_t)shape[0];
        } else if (n + 1 == ndim) {
            ok = 1;
            for (uint32_t i = 1; i < ndim; i++)
                ok &= shape[i - 1] == dims[i];
            images = 1;
        }
        if (!ok) {
            char got[96];
            int gl = snprintf(got, sizeof got, "(");
            for (uint32_t i = 0; i < n && gl < (int)sizeof got - 24; i++)
                gl += snprintf(got + gl, sizeof got - gl, "%s%llu", i ? ", " : "",
                               (unsigned long long)shape[i]);
            snprintf(got + gl, sizeof got - gl, ")");
            bp_bench_fail(err, errlen, "%s: shape %s does not match the model input %s "
                          "(or one image)", path, got, want);
            goto out;
        }
        if (len - off != images * per * 4) {
            bp_bench_fail(err, errlen, "%s: %zu data bytes, but shape needs %zu", path,
                          len - off, images * per * 4);
            goto out;
        }
    } else {
        if (len == (size_t)batch * per * 4)
            images = batch;
        else if (len == per * 4)
            images = 1;
        else {
            bp_bench_fail(err, errlen,
                          "%s: %zu bytes is neither one image nor the batch %s of float32 "
                          "(%zu or %zu bytes)",
                          path, len, want, per * 4, (size_t)batch * per * 4);
            goto out;
        }
    }
    for (uint32_t b = 0; b < batch; b++)
        memcpy(dst + (size_t)b * per, buf + off + (images == 1 ? 0 : (size_t)b * per * 4),
               per * 4);
    rc = 0;
out:
    free(buf);
    return rc;
}
