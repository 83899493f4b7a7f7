/* .bp writer: lays out sections and 64-byte aligned arrays from a
 * bpf_model_desc, fills checksums, and validates the result before
 * returning it (a writer never hands out a file the reader rejects);
 * and the atomic file replacement every file-writing tool uses. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "bpf_internal.h"

/* Largest file and tensor the writer lays out (far above any valid model:
 * a tensor holds at most 2^32 elements of 4 bytes). */
#define BPF_WRITE_MAX (1ull << 56)
#define BPF_WRITE_MAX_TENSOR (1ull << 40)

static uint64_t bpf_align_up(uint64_t v)
{
    return (v + BPF_ALIGN - 1) / BPF_ALIGN * BPF_ALIGN;
}

/* Sizes of one layer's arrays, from fields the writer bounds first. */
typedef struct bpf_layer_sizes {
    uint64_t scale, row_ptr, col_idx;
    uint32_t idx_bytes;
} bpf_layer_sizes;

static bpf_status bpf_layer_sizes_of(const bpf_layer *L, uint32_t i, bpf_layer_sizes *s)
{
    if (L->c_out > BPF_MAX_CHANNELS || L->M > BPF_M_MAX)
        return bpf_fail(BPF_ERR_LIMIT, "writer: layer %u: c_out %u / M %u above %u / %u", i,
                        L->c_out, L->M, BPF_MAX_CHANNELS, BPF_M_MAX);
    s->idx_bytes = L->idx_bytes ? L->idx_bytes : (L->K <= 65535u ? 2u : 4u);
    if (s->idx_bytes != 2 && s->idx_bytes != 4)
        return bpf_fail(BPF_ERR_INVALID_ARG, "writer: layer %u: idx_bytes %u (2 or 4)", i,
                        L->idx_bytes);
    if (L->n_digits > (1ull << 40))
        return bpf_fail(BPF_ERR_LIMIT, "writer: layer %u: n_digits %llu", i,
                        (unsigned long long)L->n_digits);
    s->scale = (uint64_t)L->c_out * 4;
    s->row_ptr = ((uint64_t)L->c_out * L->M * 2 + 1) * 4;
    s->col_idx = L->n_digits * s->idx_bytes;
    if (L->c_out && (!L->w_scale || !L->bias))
        return bpf_fail(BPF_ERR_INVALID_ARG, "writer: layer %u: null w_scale or bias", i);
    if (!L->row_ptr || (L->n_digits && !L->col_idx))
        return bpf_fail(BPF_ERR_INVALID_ARG, "writer: layer %u: null row_ptr or col_idx", i);
    return BPF_OK;
}

static const char *bpf_str_or_empty(const char *s)
{
    return s ? s : "";
}

/* String pool: offset 0 is the empty string; others are appended in order. */
typedef struct bpf_pool {
    uint8_t *p;
    uint64_t len;
} bpf_pool;

static uint32_t bpf_pool_add(bpf_pool *pool, const char *s)
{
    size_t n = strlen(s);
    if (!n) return 0;
    uint32_t off = (uint32_t)pool->len;
    memcpy(pool->p + pool->len, s, n + 1);
    pool->len += n + 1;
    return off;
}

bpf_status bpf_write_memory_unchecked(const bpf_model_desc *d, void **buf, size_t *size)
{
    if (buf) *buf = NULL;
    if (size) *size = 0;
    if (!d || !buf || !size)
        return bpf_fail(BPF_ERR_INVALID_ARG, "writer: null argument");
    if ((d->n_meta && !d->meta) || (d->n_tensors && !d->tensors) || (d->n_nodes && !d->nodes) ||
        (d->n_layers && !d->layers) || (d->n_inputs && !d->inputs) ||
        (d->n_outputs && !d->outputs))
        return bpf_fail(BPF_ERR_INVALID_ARG, "writer: null array with a nonzero count");
    /* Counts are u32 and records at most 128 bytes, so section sizes fit
     * in 64 bits; limits are the validator's job (checked writes). */

    /* Strings: every length is added in 64 bits; the pool is bounded by the
     * caller's own strings (at most ~200k of them). */
    uint64_t str_len = 1;
    for (uint32_t i = 0; i < d->n_meta; i++)
        str_len += strlen(bpf_str_or_empty(d->meta[i].key)) + 1 +
                   strlen(bpf_str_or_empty(d->meta[i].value)) + 1;
    for (uint32_t i = 0; i < d->n_tensors; i++)
        str_len += strlen(bpf_str_or_empty(d->tensors[i].name)) + 1;
    for (uint32_t i = 0; i < d->n_nodes; i++)
        str_len += strlen(bpf_str_or_empty(d->nodes[i].name)) + 1;
    if (str_len > UINT32_MAX)
        return bpf_fail(BPF_ERR_LIMIT, "writer: strings total %llu bytes",
                        (unsigned long long)str_len);

    uint64_t sec_size[BPF_SEC_COUNT] = {0}, sec_off[BPF_SEC_COUNT] = {0};
    sec_size[BPF_SEC_STRINGS] = str_len;
    sec_size[BPF_SEC_META] = (uint64_t)d->n_meta * BPF_META_REC;
    sec_size[BPF_SEC_TENSORS] = (uint64_t)d->n_tensors * BPF_TENSOR_REC;
    sec_size[BPF_SEC_NODES] = (uint64_t)d->n_nodes * BPF_NODE_REC;
    sec_size[BPF_SEC_LAYERS] = (uint64_t)d->n_layers * BPF_LAYER_REC;
    sec_size[BPF_SEC_GRAPH_IO] = 8 + 4ull * ((uint64_t)d->n_inputs + d->n_outputs);
    uint64_t off = BPF_HEADER_SIZE + (uint64_t)BPF_N_SECTIONS * BPF_SECTION_ENTRY_SIZE;
    for (uint32_t k = 1; k < BPF_SEC_DATA; k++) {
        sec_off[k] = off = bpf_align_up(off);
        off += sec_size[k];
    }

    /* DATA: tensor data, then per layer w_scale, bias, row_ptr, col_idx. */
    bpf_status e;
    const uint64_t data_start = bpf_align_up(off);
    uint64_t dpos = data_start;
    /* Counts are not limited here (tests write over-limit files), so the
     * running size is capped instead: dpos <= BPF_WRITE_MAX before each step
     * and each step adds < 2^44 (a tensor is at most 2^40 bytes, a layer's
     * arrays 2*2^18 + 2^23 + 2^42 + 4*63), so no sum wraps 2^64. */
    for (uint32_t i = 0; i < d->n_tensors; i++) {
        const bpf_tensor *t = &d->tensors[i];
        if (!t->data) continue;
        if (t->nbytes > BPF_WRITE_MAX_TENSOR)
            return bpf_fail(BPF_ERR_LIMIT, "writer: tensor %u: %llu bytes", i,
                            (unsigned long long)t->nbytes);
        dpos = bpf_align_up(dpos) + t->nbytes;
        if (dpos > BPF_WRITE_MAX)
            return bpf_fail(BPF_ERR_LIMIT, "writer: tensor %u: file would exceed %llu bytes", i,
                            (unsigned long long)BPF_WRITE_MAX);
    }
    for (uint32_t i = 0; i < d->n_layers; i++) {
        bpf_layer_sizes ls;
        if ((e = bpf_layer_sizes_of(&d->layers[i], i, &ls))) return e;
        dpos = bpf_align_up(bpf_align_up(bpf_align_up(bpf_align_up(dpos) + ls.scale) + ls.scale) +
                            ls.row_ptr) + ls.col_idx;
        if (dpos > BPF_WRITE_MAX)
            return bpf_fail(BPF_ERR_LIMIT, "writer: layer %u: file would exceed %llu bytes", i,
                            (unsigned long long)BPF_WRITE_MAX);
    }
    sec_off[BPF_SEC_DATA] = data_start;
    sec_size[BPF_SEC_DATA] = dpos - data_start;
    const uint64_t file_size = dpos;
    if (file_size > SIZE_MAX - BPF_ALIGN)
        return bpf_fail(BPF_ERR_LIMIT, "writer: file of %llu bytes", (unsigned long long)file_size);

    uint8_t *b = aligned_alloc(BPF_ALIGN, (size_t)bpf_align_up(file_size));
    if (!b)
        return bpf_fail(BPF_ERR_NOMEM, "writer: no memory for %llu bytes",
                        (unsigned long long)file_size);
    memset(b, 0, (size_t)bpf_align_up(file_size));

    bpf_pool pool = {b + sec_off[BPF_SEC_STRINGS], 1};
    for (uint32_t i = 0; i < d->n_meta; i++) {
        uint8_t *r = b + sec_off[BPF_SEC_META] + (size_t)i * BPF_META_REC;
        bpf_wr32(r + BPF_M_KEY, bpf_pool_add(&pool, bpf_str_or_empty(d->meta[i].key)));
        bpf_wr32(r + BPF_M_VALUE, bpf_pool_add(&pool, bpf_str_or_empty(d->meta[i].value)));
    }
    dpos = data_start;
    for (uint32_t i = 0; i < d->n_tensors; i++) {
        const bpf_tensor *t = &d->tensors[i];
        uint8_t *r = b + sec_off[BPF_SEC_TENSORS] + (size_t)i * BPF_TENSOR_REC;
        bpf_wr32(r + BPF_T_NAME, bpf_pool_add(&pool, bpf_str_or_empty(t->name)));
        bpf_wr32(r + BPF_T_DTYPE, t->dtype);
        bpf_wr32(r + BPF_T_NDIM, t->ndim);
        for (uint32_t k = 0; k < BPF_MAX_DIMS && k < t->ndim; k++)
            bpf_wr32(r + BPF_T_DIMS + 4 * k, t->dims[k]);
        bpf_wrf32(r + BPF_T_SCALE, t->scale);
        if (t->data) {
            dpos = bpf_align_up(dpos);
            bpf_wr64(r + BPF_T_DATA_OFF, dpos);
            bpf_wr64(r + BPF_T_NBYTES, t->nbytes);
            memcpy(b + dpos, t->data, (size_t)t->nbytes);
            dpos += t->nbytes;
        }
    }
    for (uint32_t i = 0; i < d->n_nodes; i++) {
        const bpf_node *nd = &d->nodes[i];
        uint8_t *r = b + sec_off[BPF_SEC_NODES] + (size_t)i * BPF_NODE_REC;
        bpf_wr32(r + BPF_N_NAME, bpf_pool_add(&pool, bpf_str_or_empty(nd->name)));
        bpf_wr32(r + BPF_N_OP, nd->op);
        bpf_wr32(r + BPF_N_N_IN, nd->n_in);
        bpf_wr32(r + BPF_N_N_OUT, nd->n_out);
        for (uint32_t k = 0; k < BPF_MAX_IO && k < nd->n_in; k++)
            bpf_wr32(r + BPF_N_IN + 4 * k, nd->in[k]);
        for (uint32_t k = 0; k < BPF_MAX_IO && k < nd->n_out; k++)
            bpf_wr32(r + BPF_N_OUT + 4 * k, nd->out[k]);
        bpf_wr32(r + BPF_N_LAYER, nd->layer);
        for (uint32_t k = 0; k < 8; k++) bpf_wr32(r + BPF_N_INTS + 4 * k, (uint32_t)nd->ints[k]);
        for (uint32_t k = 0; k < 4; k++) bpf_wrf32(r + BPF_N_FLOATS + 4 * k, nd->floats[k]);
    }
    for (uint32_t i = 0; i < d->n_layers; i++) {
        const bpf_layer *L = &d->layers[i];
        uint8_t *r = b + sec_off[BPF_SEC_LAYERS] + (size_t)i * BPF_LAYER_REC;
        bpf_layer_sizes ls;
        bpf_layer_sizes_of(L, i, &ls); /* succeeded above */
        const uint32_t f[] = {L->kind, L->c_out, L->c_in, L->kh, L->kw, L->stride_h, L->stride_w,
                              L->pad_t, L->pad_l, L->pad_b, L->pad_r, L->dil_h, L->dil_w,
                              L->groups, L->K, L->M, L->encoding, L->w_max, L->act_dtype};
        for (uint32_t k = 0; k < sizeof f / sizeof f[0]; k++) bpf_wr32(r + 4 * k, f[k]);
        bpf_wrf32(r + BPF_L_ACT_SCALE, L->act_scale);
        bpf_wr32(r + BPF_L_IDX_BYTES, ls.idx_bytes);
        bpf_wr64(r + BPF_L_N_DIGITS, L->n_digits);
        const void *src[4] = {L->w_scale, L->bias, L->row_ptr, L->col_idx};
        const uint64_t n[4] = {ls.scale, ls.scale, ls.row_ptr, ls.col_idx};
        const uint32_t fo[4] = {BPF_L_W_SCALE_OFF, BPF_L_BIAS_OFF, BPF_L_ROW_PTR_OFF,
                                BPF_L_COL_IDX_OFF};
        for (uint32_t k = 0; k < 4; k++) {
            dpos = bpf_align_up(dpos);
            bpf_wr64(r + fo[k], dpos);
            if (n[k]) memcpy(b + dpos, src[k], (size_t)n[k]);
            dpos += n[k];
        }
    }
    uint8_t *io = b + sec_off[BPF_SEC_GRAPH_IO];
    bpf_wr32(io, d->n_inputs);
    bpf_wr32(io + 4, d->n_outputs);
    for (uint32_t k = 0; k < d->n_inputs; k++) bpf_wr32(io + 8 + 4 * k, d->inputs[k]);
    for (uint32_t k = 0; k < d->n_outputs; k++)
        bpf_wr32(io + 8 + 4ull * (d->n_inputs + k), d->outputs[k]);

    memcpy(b + BPF_H_MAGIC, BPF_MAGIC, 8);
    bpf_wr32(b + BPF_H_VERSION, BPF_VERSION);
    bpf_wr32(b + BPF_H_ENDIAN, BPF_ENDIAN_MARK);
    bpf_wr32(b + BPF_H_FLAGS, 0);
    bpf_wr32(b + BPF_H_HEADER_SIZE, BPF_HEADER_SIZE);
    bpf_wr32(b + BPF_H_N_SECTIONS, BPF_N_SECTIONS);
    bpf_wr32(b + BPF_H_ENTRY_SIZE, BPF_SECTION_ENTRY_SIZE);
    bpf_wr64(b + BPF_H_FILE_SIZE, file_size);
    for (uint32_t k = 1; k < BPF_SEC_COUNT; k++) {
        uint8_t *ent = b + BPF_HEADER_SIZE + (size_t)(k - 1) * BPF_SECTION_ENTRY_SIZE;
        bpf_wr32(ent + BPF_S_KIND, k);
        bpf_wr64(ent + BPF_S_OFFSET, sec_off[k]);
        bpf_wr64(ent + BPF_S_SIZE, sec_size[k]);
        bpf_wr64(ent + BPF_S_HASH, XXH3_64bits(b + sec_off[k], (size_t)sec_size[k]));
    }
    bpf_wr64(b + BPF_H_TABLE_HASH, bpf_table_hash(b, BPF_N_SECTIONS));
    *buf = b;
    *size = (size_t)file_size;
    return BPF_OK;
}

bpf_status bpf_write_memory(const bpf_model_desc *d, void **buf, size_t *size)
{
    bpf_error_clear();
    bpf_status e = bpf_write_memory_unchecked(d, buf, size);
    if (e) return e;
    bpf_model *m = NULL;
    e = bpf_load_memory(*buf, *size, 0, &m);
    if (e) {
        free(*buf);
        *buf = NULL;
        *size = 0;
        return e; /* the validator's message names what is wrong in the desc */
    }
    bpf_model_free(m);
    return BPF_OK;
}

/* What a non-regular file is, for messages. */
static const char *bpf_file_kind(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

/* The file an output path names: path itself, or the final target of a
 * symbolic link (the link is kept, its target replaced). *target is
 * malloc'd; *exists and *sb describe the current file. */
static bpf_status bpf_output_target(const char *path, char **target, int *exists,
                                    struct stat *sb)
{
    *target = NULL;
    *exists = 0;
    if (!path || !*path) return bpf_fail(BPF_ERR_INVALID_ARG, "writer: empty output path");
    if (lstat(path, sb) != 0) {
        if (errno != ENOENT)
            return bpf_fail(BPF_ERR_IO, "%s: %s", path, strerror(errno));
        *target = strdup(path);
        return *target ? BPF_OK : bpf_fail(BPF_ERR_NOMEM, "out of memory");
    }
    if (S_ISLNK(sb->st_mode)) {
        *target = realpath(path, NULL);
        if (!*target)
            return bpf_fail(BPF_ERR_IO, "%s: symbolic link does not resolve to a file: %s",
                            path, strerror(errno));
        if (stat(*target, sb) != 0) {
            int err = errno;
            free(*target);
            *target = NULL;
            return bpf_fail(BPF_ERR_IO, "%s: %s", path, strerror(err));
        }
    } else {
        *target = strdup(path);
        if (!*target) return bpf_fail(BPF_ERR_NOMEM, "out of memory");
    }
    if (!S_ISREG(sb->st_mode)) {
        free(*target);
        *target = NULL;
        return bpf_fail(BPF_ERR_IO,
                        "%s: refusing to write: it is %s, not a regular file (nothing was "
                        "written)", path, bpf_file_kind(sb->st_mode));
    }
    *exists = 1;
    return BPF_OK;
}

bpf_status bpf_check_output(const char *path)
{
    bpf_error_clear();
    char *target;
    int exists;
    struct stat sb;
    bpf_status e = bpf_output_target(path, &target, &exists, &sb);
    free(target);
    return e;
}

/* The process umask, read without changing it where Linux reports it. */
static mode_t bpf_umask(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f) {
        char line[128];
        unsigned m;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "Umask: %o", &m) == 1) {
                fclose(f);
                return (mode_t)m;
            }
        fclose(f);
    }
    mode_t m = umask(022);
    umask(m);
    return m;
}

bpf_status bpf_replace_file(const char *path, const void *buf, size_t size)
{
    bpf_error_clear();
    if (size && !buf) return bpf_fail(BPF_ERR_INVALID_ARG, "writer: null buffer");
    char *target;
    int exists;
    struct stat sb;
    bpf_status e = bpf_output_target(path, &target, &exists, &sb);
    if (e) return e;
    /* Temporary file next to the target: "<dir>/.<name>.XXXXXX" (the name
     * shortened so the whole stays within NAME_MAX). */
    const char *slash = strrchr(target, '/');
    size_t dlen = slash ? (size_t)(slash - target) : 0; /* "/x": dlen 0, dir "/" */
    const char *base = slash ? slash + 1 : target;
    size_t blen = strlen(base);
    if (blen > 200) blen = 200;
    char *dir = slash ? strndup(target, dlen ? dlen : 1) : strdup(".");
    char *tmp = malloc(strlen(dir ? dir : "") + blen + 16);
    if (!dir || !tmp) {
        free(dir);
        free(tmp);
        free(target);
        return bpf_fail(BPF_ERR_NOMEM, "out of memory");
    }
    sprintf(tmp, "%s/.%.*s.XXXXXX", dir, (int)blen, base);
    int fd = mkostemp(tmp, O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    const char *step = "creating a temporary file";
    for (size_t off = 0; off < size && !err;) {
        ssize_t w = write(fd, (const char *)buf + off, size - off);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EINTR)
            err = errno, step = "writing the temporary file";
        else if (w == 0)
            err = EIO, step = "writing the temporary file";
    }
    /* The mode a plain create would give, or that of the file replaced. */
    mode_t mode = exists ? (sb.st_mode & 07777) : (0666 & ~bpf_umask());
    if (!err && exists && (sb.st_uid != geteuid() || sb.st_gid != getegid()))
        (void)!fchown(fd, sb.st_uid, sb.st_gid); /* best effort */
    if (!err && fchmod(fd, mode) != 0)
        err = errno, step = "setting the temporary file's mode";
    if (!err && fsync(fd) != 0)
        err = errno, step = "syncing the temporary file";
    if (fd >= 0 && close(fd) != 0 && !err)
        err = errno, step = "closing the temporary file";
    if (!err && rename(tmp, target) != 0)
        err = errno, step = "renaming the temporary file over it";
    if (err) {
        if (fd >= 0)
            unlink(tmp); /* only our own temporary file; the target is untouched */
        e = bpf_fail(BPF_ERR_IO, "%s: %s failed: %s (directory %s; %s)", path, step,
                     strerror(err), dir,
                     exists ? "the file was not changed" : "nothing was created");
    } else {
        /* Make the rename durable; some file systems cannot sync a directory (EINVAL). */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        err = dfd < 0 ? errno : (fsync(dfd) != 0 && errno != EINVAL ? errno : 0);
        if (dfd >= 0) close(dfd);
        if (err)
            e = bpf_fail(BPF_ERR_IO, "%s: written, but syncing %s failed: %s", path, dir,
                         strerror(err));
    }
    free(tmp);
    free(dir);
    free(target);
    return e;
}

bpf_status bpf_write_file(const bpf_model_desc *d, const char *path)
{
    if (!path) return bpf_fail(BPF_ERR_INVALID_ARG, "writer: null path");
    bpf_status e = bpf_check_output(path); /* before the work of serializing */
    if (e) return e;
    void *buf;
    size_t size;
    e = bpf_write_memory(d, &buf, &size);
    if (e) return e;
    e = bpf_replace_file(path, buf, size);
    free(buf);
    return e;
}
