/* eval_data.c: the IDX reader (through zlib, so .gz or plain files) for the
 * Fashion-MNIST test set and the batched evaluation loop of `bptool eval`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef BP_HAVE_ZLIB
#include <zlib.h>
#else
/* Built without zlib: plain (gunzipped) IDX files only, through stdio. */
typedef FILE *gzFile;
static gzFile gzopen(const char *path, const char *mode) { return fopen(path, mode); }
static int gzread(gzFile f, void *buf, unsigned n) { return (int)fread(buf, 1, n, f); }
static int gzclose(gzFile f) { return fclose(f); }
#endif

#include "eval_data.h"

static const char *const bp_tool_fmnist_files[2] = {"t10k-images-idx3-ubyte.gz",
                                                    "t10k-labels-idx1-ubyte.gz"};

static void bp_tool_path(char *buf, size_t sz, const char *dir, const char *file)
{
    snprintf(buf, sz, "%s/%s", dir ? dir : BP_TOOL_FMNIST_DIR, file);
}

int bp_tool_fmnist_available(const char *dir)
{
    for (int i = 0; i < 2; i++) {
        char p[4096];
        struct stat st;
        bp_tool_path(p, sizeof p, dir, bp_tool_fmnist_files[i]);
        if (stat(p, &st) || !S_ISREG(st.st_mode))
            return 0;
    }
    return 1;
}

/* Reads an IDX file of unsigned bytes with ndim dimensions (magic 0x0800 +
 * ndim). dims receives them; *data holds their product in bytes. */
static int bp_tool_idx_read(const char *path, int ndim, uint32_t *dims, uint8_t **data,
                            char *err, size_t errsz)
{
    *data = NULL;
    struct stat st;
    if (stat(path, &st) || !S_ISREG(st.st_mode)) {
        snprintf(err, errsz, "%s: not a regular file (install dataset-fashion-mnist)", path);
        return -1;
    }
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, errsz, "%s: cannot open", path);
        return -1;
    }
    unsigned char hdr[16];
    unsigned hlen = 4u + 4u * (unsigned)ndim;
    if (gzread(f, hdr, hlen) != (int)hlen) {
        snprintf(err, errsz, "%s: shorter than its %u-byte IDX header", path, hlen);
        gzclose(f);
        return -1;
    }
    uint32_t magic = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (magic != 0x800u + (uint32_t)ndim) {
        snprintf(err, errsz, "%s: IDX magic 0x%08x, expected 0x%08x (unsigned bytes, %d dims)%s",
                 path, magic, 0x800u + (uint32_t)ndim, ndim,
#ifdef BP_HAVE_ZLIB
                 "");
#else
                 (magic >> 16) == 0x1f8b ? "; gzip data, and bptool was built without zlib: "
                                           "gunzip it first" : "");
#endif
        gzclose(f);
        return -1;
    }
    uint64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        const unsigned char *d = hdr + 4 + 4 * i;
        dims[i] = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
        total *= dims[i];
    }
    if (total == 0 || total > (1u << 30)) {
        snprintf(err, errsz, "%s: %llu elements (1 to 2^30 accepted)", path,
                 (unsigned long long)total);
        gzclose(f);
        return -1;
    }
    uint8_t *buf = malloc((size_t)total);
    if (!buf) {
        snprintf(err, errsz, "%s: out of memory for %llu bytes", path, (unsigned long long)total);
        gzclose(f);
        return -1;
    }
    size_t got = 0;
    while (got < total) {
        size_t want = total - got > (1u << 24) ? (1u << 24) : total - got;
        int r = gzread(f, buf + got, (unsigned)want);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    unsigned char extra;
    int more = got == total ? gzread(f, &extra, 1) : 0;
    gzclose(f);
    if (got != total || more != 0) {
        snprintf(err, errsz, "%s: %s data (header says %llu bytes)", path,
                 got != total ? "truncated" : "trailing", (unsigned long long)total);
        free(buf);
        return -1;
    }
    *data = buf;
    return 0;
}

int bp_tool_fmnist_test_load(const char *dir, bp_tool_dataset *ds, char *err, size_t errsz)
{
    memset(ds, 0, sizeof *ds);
    char pi[4096], pl[4096];
    bp_tool_path(pi, sizeof pi, dir, bp_tool_fmnist_files[0]);
    bp_tool_path(pl, sizeof pl, dir, bp_tool_fmnist_files[1]);
    uint32_t di[3], dl[1];
    if (bp_tool_idx_read(pi, 3, di, &ds->images, err, errsz))
        return -1;
    if (bp_tool_idx_read(pl, 1, dl, &ds->labels, err, errsz)) {
        bp_tool_dataset_free(ds);
        return -1;
    }
    if (di[0] != dl[0]) {
        snprintf(err, errsz, "%s has %u images but %s %u labels", pi, di[0], pl, dl[0]);
        bp_tool_dataset_free(ds);
        return -1;
    }
    for (uint32_t i = 0; i < dl[0]; i++)
        if (ds->labels[i] > 9) {
            snprintf(err, errsz, "%s: label %u of image %u is not a class 0..9", pl,
                     ds->labels[i], i);
            bp_tool_dataset_free(ds);
            return -1;
        }
    ds->n = di[0];
    ds->h = di[1];
    ds->w = di[2];
    return 0;
}

void bp_tool_dataset_free(bp_tool_dataset *ds)
{
    free(ds->images);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

static void bp_tool_progress(uint32_t done, uint32_t n)
{
    int w = 40, k = n ? (int)((uint64_t)done * (uint64_t)w / n) : w;
    fprintf(stderr, "\r[%.*s%*s] %u/%u", k, "########################################", w - k, "",
            done, n);
    if (done == n)
        fputc('\n', stderr);
    fflush(stderr);
}

bp_status bp_tool_eval_images(bp_session *s, uint32_t batch, const bp_tool_dataset *ds, uint32_t n,
                              uint32_t classes, int progress, uint8_t *pred, float *logits)
{
    size_t px = (size_t)ds->h * ds->w;
    float *in = malloc((size_t)batch * px * sizeof *in);
    float *out = malloc((size_t)batch * classes * sizeof *out);
    if (!in || !out) {
        free(in);
        free(out);
        return BP_ERR_NOMEM;
    }
    bp_status st = BP_OK;
    for (uint32_t i0 = 0; i0 < n && st == BP_OK; i0 += batch) {
        uint32_t nb = n - i0 < batch ? n - i0 : batch;
        /* a short last batch is padded with copies of its first image */
        for (uint32_t b = 0; b < batch; b++) {
            const uint8_t *src = ds->images + (size_t)(i0 + (b < nb ? b : 0)) * px;
            for (size_t p = 0; p < px; p++)
                in[(size_t)b * px + p] = (float)src[p] / 255.0f;
        }
        const float *ins[1] = {in};
        float *outs[1] = {out};
        st = bp_session_run(s, ins, outs);
        for (uint32_t b = 0; b < nb && st == BP_OK; b++) {
            const float *row = out + (size_t)b * classes;
            uint32_t best = 0;
            for (uint32_t c = 1; c < classes; c++)
                if (row[c] > row[best])
                    best = c;
            pred[i0 + b] = (uint8_t)best;
            if (logits)
                memcpy(logits + (size_t)(i0 + b) * classes, row, classes * sizeof *row);
        }
        if (progress)
            bp_tool_progress(i0 + nb, n);
    }
    free(in);
    free(out);
    return st;
}
