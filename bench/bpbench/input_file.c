/* input_file.c: raw float32 and .npy input reader: regular files only, of
 * exactly the size the model input needs, with strict header checks. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Reads exactly n bytes at the current offset; -1 with err set on a read
 * error or an early end of file. */
static int bp_bench_read_exact(int fd, const char *path, unsigned char *dst, size_t n,
                               char *err, size_t errlen)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, dst + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return bp_bench_fail(err, errlen, "%s: read: %s", path, strerror(errno));
        if (r == 0)
            return bp_bench_fail(err, errlen, "%s: ended after %zu of %zu bytes (changed while "
                                 "reading?)", path, got, n);
        got += (size_t)r;
    }
    return 0;
}

static const char *bp_bench_kind(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

int bp_bench_read_input(const char *path, const uint32_t *dims, uint32_t ndim, uint32_t batch,
                        float *dst, char *err, size_t errlen)
{
    size_t per = 1;
    for (uint32_t i = 1; i < ndim; i++)
        per *= dims[i];
    char want[96];
    int wl = snprintf(want, sizeof want, "(%u", batch);
    for (uint32_t i = 1; i < ndim && wl < (int)sizeof want - 12; i++)
        wl += snprintf(want + wl, sizeof want - wl, ", %u", dims[i]);
    snprintf(want + wl, sizeof want - wl, ")");

    /* O_NONBLOCK: opening a FIFO must not wait for a writer (refused below). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return bp_bench_fail(err, errlen, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return bp_bench_fail(err, errlen, "%s: stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return bp_bench_fail(err, errlen, "%s: %s; the input must be a regular file", path,
                             bp_bench_kind(sb.st_mode));
    }
    const uint64_t fsize = (uint64_t)sb.st_size;
    const size_t one = per * 4, all = (size_t)batch * per * 4;
    unsigned char *buf = NULL;
    size_t off = 0, images = 0, len = 0;
    int rc = -1;
    unsigned char head[12];
    size_t hn = fsize < sizeof head ? (size_t)fsize : sizeof head;
    if (bp_bench_read_exact(fd, path, head, hn, err, errlen))
        goto out;
    if (hn >= 6 && !memcmp(head, "\x93NUMPY", 6)) {
        /* The header (at most 12 + 65536 bytes), then the size the shape needs. */
        size_t hmax = fsize < 12 + 65536 ? (size_t)fsize : 12 + 65536;
        buf = malloc(hmax);
        if (!buf) {
            bp_bench_fail(err, errlen, "%s: out of memory", path);
            goto out;
        }
        memcpy(buf, head, hn);
        if (bp_bench_read_exact(fd, path, buf + hn, hmax - hn, err, errlen))
            goto out;
        uint64_t shape[8];
        uint32_t n = 0;
        char e2[200];
        if (bp_bench_npy_header(buf, hmax, shape, &n, 8, &off, e2, sizeof e2)) {
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
        len = off + images * one;
        if (fsize != len) {
            bp_bench_fail(err, errlen, "%s: %llu bytes, but its header and shape need exactly "
                          "%zu (%zu header + %zu data)", path, (unsigned long long)fsize, len,
                          off, images * one);
            goto out;
        }
    } else {
        if (fsize == all)
            images = batch;
        else if (fsize == one)
            images = 1;
        else {
            if (batch == 1)
                bp_bench_fail(err, errlen,
                              "%s: %llu bytes, but one float32 image %s is %zu bytes", path,
                              (unsigned long long)fsize, want, one);
            else
                bp_bench_fail(err, errlen,
                              "%s: %llu bytes is neither one image nor the batch %s of "
                              "float32 (expected %zu or %zu bytes)",
                              path, (unsigned long long)fsize, want, one, all);
            goto out;
        }
        len = (size_t)fsize;
    }
    /* The file has exactly len bytes (checked above): read what is left. */
    unsigned char *nb = realloc(buf, len);
    if (!nb) {
        bp_bench_fail(err, errlen, "%s: out of memory", path);
        goto out;
    }
    buf = nb;
    if (!off)
        memcpy(buf, head, hn);
    size_t have = off ? (fsize < 12 + 65536 ? (size_t)fsize : 12 + 65536) : hn;
    if (bp_bench_read_exact(fd, path, buf + have, len - have, err, errlen))
        goto out;
    for (uint32_t b = 0; b < batch; b++)
        memcpy(dst + (size_t)b * per, buf + off + (images == 1 ? 0 : (size_t)b * one), one);
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}
