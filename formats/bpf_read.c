/* .bp reader: maps or adopts a buffer, checks header, section table and
 * records (SPEC.md), then hands off to the graph and plane
 * validators. Every array the model exposes points into the buffer. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "bpf_internal.h"

typedef struct bpf_store {
    void *map; /* mmap of a file, or NULL */
    size_t map_len;
    void *copy; /* aligned copy of an unaligned caller buffer, or NULL */
    bpf_kv *meta;
    bpf_tensor *tensors;
    bpf_node *nodes;
    bpf_layer *layers;
    uint32_t *io;
    bpf_model model;
} bpf_store;

typedef struct bpf_sec {
    uint64_t off, size;
} bpf_sec;

typedef struct bpf_ctx {
    const uint8_t *b;
    uint64_t size;
    bpf_sec sec[BPF_SEC_COUNT];
} bpf_ctx;

static const char *const bpf_section_names[BPF_SEC_COUNT] = {
    "?", "STRINGS", "META", "TENSORS", "NODES", "LAYERS", "GRAPH_IO", "DATA",
};

uint64_t bpf_table_hash(const uint8_t *file, uint32_t n_sections)
{
    uint64_t seed = XXH3_64bits(file, BPF_H_TABLE_HASH);
    return XXH3_64bits_withSeed(file + BPF_HEADER_SIZE,
                                (size_t)n_sections * BPF_SECTION_ENTRY_SIZE, seed);
}

uint32_t bpf_dtype_size(uint32_t dtype)
{
    switch (dtype) {
    case BPF_DT_F32: return 4;
    case BPF_DT_U8: return 1;
    case BPF_DT_S8: return 1;
    case BPF_DT_S32: return 4;
    default: return 0;
    }
}

int bpf_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i < len) return 0;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

/* A string by offset into STRINGS (R20-R22). STRINGS ends in NUL (R19), so
 * any in-range offset is terminated inside the section. */
static bpf_status bpf_get_string(const bpf_ctx *c, uint32_t off, const char **out,
                                 const char *what, uint32_t idx, const char *field)
{
    const bpf_sec *s = &c->sec[BPF_SEC_STRINGS];
    if (off >= s->size)
        return bpf_fail(BPF_ERR_BAD_META, "%s %u: %s offset %u out of STRINGS (size %llu)",
                        what, idx, field, off, (unsigned long long)s->size);
    const char *str = (const char *)c->b + s->off + off;
    size_t len = strnlen(str, BPF_MAX_STRING + 1);
    if (len > BPF_MAX_STRING)
        return bpf_fail(BPF_ERR_LIMIT, "%s %u: %s at STRINGS+%u longer than %u bytes",
                        what, idx, field, off, BPF_MAX_STRING);
    if (!bpf_utf8_valid(str, len))
        return bpf_fail(BPF_ERR_BAD_META, "%s %u: %s at STRINGS+%u is not valid UTF-8",
                        what, idx, field, off);
    *out = str;
    return BPF_OK;
}

/* An array inside DATA (R16-R17): 64-byte aligned offset, whole range inside
 * the section. Written without overflow: off <= end is checked first. */
static bpf_status bpf_get_array(const bpf_ctx *c, uint64_t off, uint64_t nbytes,
                                const void **out, const char *what, uint32_t idx,
                                const char *field)
{
    const bpf_sec *d = &c->sec[BPF_SEC_DATA];
    uint64_t end = d->off + d->size;
    if (off < d->off || off > end || nbytes > end - off)
        return bpf_fail(BPF_ERR_BAD_SECTION,
                        "%s %u: %s [%llu, +%llu) outside DATA [%llu, %llu)", what, idx,
                        field, (unsigned long long)off, (unsigned long long)nbytes,
                        (unsigned long long)d->off, (unsigned long long)end);
    if (off % BPF_ALIGN)
        return bpf_fail(BPF_ERR_BAD_SECTION, "%s %u: %s offset %llu not %u-byte aligned",
                        what, idx, field, (unsigned long long)off, BPF_ALIGN);
    *out = c->b + off;
    return BPF_OK;
}

static bpf_status bpf_check_header(bpf_ctx *c)
{
    const uint8_t *b = c->b;
    if (c->size < BPF_HEADER_SIZE)
        return bpf_fail(BPF_ERR_TRUNCATED, "file is %llu bytes, shorter than the %u-byte header",
                        (unsigned long long)c->size, BPF_HEADER_SIZE);
    if (memcmp(b + BPF_H_MAGIC, BPF_MAGIC, 8) != 0)
        return bpf_fail(BPF_ERR_BAD_MAGIC, "bad magic (not a .bp file)");
    uint32_t endian = bpf_rd32(b + BPF_H_ENDIAN);
    if (endian != BPF_ENDIAN_MARK)
        return bpf_fail(BPF_ERR_VERSION, "header: endianness marker 0x%08x, expected 0x%08x "
                        "(little-endian)", endian, BPF_ENDIAN_MARK);
    uint32_t version = bpf_rd32(b + BPF_H_VERSION);
    if (version != BPF_VERSION)
        return bpf_fail(BPF_ERR_VERSION, "header: version %u not supported (this reader: %u)",
                        version, BPF_VERSION);
    uint32_t hs = bpf_rd32(b + BPF_H_HEADER_SIZE), es = bpf_rd32(b + BPF_H_ENTRY_SIZE);
    if (hs != BPF_HEADER_SIZE || es != BPF_SECTION_ENTRY_SIZE)
        return bpf_fail(BPF_ERR_VERSION, "header: header size %u / entry size %u, expected %u / %u",
                        hs, es, BPF_HEADER_SIZE, BPF_SECTION_ENTRY_SIZE);
    uint32_t flags = bpf_rd32(b + BPF_H_FLAGS);
    if (flags != 0)
        return bpf_fail(BPF_ERR_VERSION, "header: unknown flags 0x%08x", flags);
    if (bpf_rd64(b + BPF_H_RESERVED0) || bpf_rd64(b + BPF_H_RESERVED1))
        return bpf_fail(BPF_ERR_VERSION, "header: reserved bytes 40..55 not zero");
    uint32_t ns = bpf_rd32(b + BPF_H_N_SECTIONS);
    if (ns != BPF_N_SECTIONS)
        return bpf_fail(BPF_ERR_BAD_SECTION, "header: %u sections, version 1 has %u", ns,
                        BPF_N_SECTIONS);
    uint64_t table_end = BPF_HEADER_SIZE + (uint64_t)ns * BPF_SECTION_ENTRY_SIZE;
    if (c->size < table_end)
        return bpf_fail(BPF_ERR_TRUNCATED, "file is %llu bytes, section table ends at %llu",
                        (unsigned long long)c->size, (unsigned long long)table_end);
    uint64_t want = bpf_rd64(b + BPF_H_TABLE_HASH), got = bpf_table_hash(b, ns);
    if (want != got)
        return bpf_fail(BPF_ERR_CHECKSUM, "header/table hash 0x%016llx, computed 0x%016llx",
                        (unsigned long long)want, (unsigned long long)got);
    uint64_t fsize = bpf_rd64(b + BPF_H_FILE_SIZE);
    if (c->size < fsize)
        return bpf_fail(BPF_ERR_TRUNCATED, "file is %llu bytes, header says %llu",
                        (unsigned long long)c->size, (unsigned long long)fsize);
    if (c->size > fsize)
        return bpf_fail(BPF_ERR_BAD_SECTION, "file is %llu bytes, header says %llu (trailing bytes)",
                        (unsigned long long)c->size, (unsigned long long)fsize);
    return BPF_OK;
}

static bpf_status bpf_check_table(bpf_ctx *c, uint32_t flags)
{
    const uint64_t table_end = BPF_HEADER_SIZE + (uint64_t)BPF_N_SECTIONS * BPF_SECTION_ENTRY_SIZE;
    int seen[BPF_SEC_COUNT] = {0};
    for (uint32_t i = 0; i < BPF_N_SECTIONS; i++) {
        const uint8_t *e = c->b + BPF_HEADER_SIZE + (size_t)i * BPF_SECTION_ENTRY_SIZE;
        uint32_t kind = bpf_rd32(e + BPF_S_KIND);
        uint64_t off = bpf_rd64(e + BPF_S_OFFSET), size = bpf_rd64(e + BPF_S_SIZE);
        if (kind == 0 || kind >= BPF_SEC_COUNT)
            return bpf_fail(BPF_ERR_BAD_SECTION, "section %u: unknown kind %u", i, kind);
        if (seen[kind])
            return bpf_fail(BPF_ERR_BAD_SECTION, "section %u: second %s section", i,
                            bpf_section_names[kind]);
        seen[kind] = 1;
        if (bpf_rd32(e + BPF_S_RESERVED))
            return bpf_fail(BPF_ERR_BAD_SECTION, "section %u (%s): reserved field not zero", i,
                            bpf_section_names[kind]);
        if (off % BPF_ALIGN)
            return bpf_fail(BPF_ERR_BAD_SECTION, "section %u (%s): offset %llu not %u-byte aligned",
                            i, bpf_section_names[kind], (unsigned long long)off, BPF_ALIGN);
        if (off < table_end || off > c->size || size > c->size - off)
            return bpf_fail(BPF_ERR_BAD_SECTION,
                            "section %u (%s): [%llu, +%llu) outside the file body [%llu, %llu)",
                            i, bpf_section_names[kind], (unsigned long long)off,
                            (unsigned long long)size, (unsigned long long)table_end,
                            (unsigned long long)c->size);
        c->sec[kind].off = off;
        c->sec[kind].size = size;
    }
    /* Pairwise overlap (7 sections). Empty sections overlap nothing. */
    for (uint32_t i = 1; i < BPF_SEC_COUNT; i++)
        for (uint32_t j = i + 1; j < BPF_SEC_COUNT; j++) {
            const bpf_sec *a = &c->sec[i], *d = &c->sec[j];
            if (a->size && d->size && a->off < d->off + d->size && d->off < a->off + a->size)
                return bpf_fail(BPF_ERR_BAD_SECTION, "sections %s and %s overlap",
                                bpf_section_names[i], bpf_section_names[j]);
        }
    if (!(flags & BPF_LOAD_NO_CHECKSUM)) {
        for (uint32_t i = 0; i < BPF_N_SECTIONS; i++) {
            const uint8_t *e = c->b + BPF_HEADER_SIZE + (size_t)i * BPF_SECTION_ENTRY_SIZE;
            uint32_t kind = bpf_rd32(e + BPF_S_KIND);
            uint64_t want = bpf_rd64(e + BPF_S_HASH);
            uint64_t got = XXH3_64bits(c->b + c->sec[kind].off, (size_t)c->sec[kind].size);
            if (want != got)
                return bpf_fail(BPF_ERR_CHECKSUM,
                                "section %u (%s): xxh3 0x%016llx, computed 0x%016llx", i,
                                bpf_section_names[kind], (unsigned long long)want,
                                (unsigned long long)got);
        }
    }
    return BPF_OK;
}

/* The record count of a section of fixed-size records (R23, R24) and a
 * zeroed array of that many elem-byte entries (at least one). The count is
 * bounded by the section size, which lies inside the file, and by limit. */
static bpf_status bpf_records(const bpf_ctx *c, uint32_t kind, uint32_t rec, uint32_t limit,
                              const char *what, size_t elem, void **arr, uint32_t *n)
{
    const bpf_sec *s = &c->sec[kind];
    const char *sn = bpf_section_names[kind];
    *arr = NULL;
    *n = 0;
    if (s->size % rec)
        return bpf_fail(BPF_ERR_BAD_SECTION, "%s: size %llu not a multiple of %u", sn,
                        (unsigned long long)s->size, rec);
    uint64_t cnt = s->size / rec;
    if (cnt > limit)
        return bpf_fail(BPF_ERR_LIMIT, "%s: %llu %s, limit %u", sn, (unsigned long long)cnt,
                        what, limit);
    *arr = calloc(cnt ? cnt : 1, elem);
    if (!*arr) return bpf_fail(BPF_ERR_NOMEM, "%s: out of memory", sn);
    *n = (uint32_t)cnt;
    return BPF_OK;
}

static bpf_status bpf_read_strings_meta(const bpf_ctx *c, bpf_store *st)
{
    const bpf_sec *s = &c->sec[BPF_SEC_STRINGS];
    if (s->size == 0 || c->b[s->off] != 0 || c->b[s->off + s->size - 1] != 0)
        return bpf_fail(BPF_ERR_BAD_META, "STRINGS: must start and end with a NUL byte");
    const bpf_sec *ms = &c->sec[BPF_SEC_META];
    uint32_t n;
    void *arr;
    bpf_status e = bpf_records(c, BPF_SEC_META, BPF_META_REC, BPF_MAX_META, "entries",
                               sizeof *st->meta, &arr, &n);
    if (e) return e;
    st->meta = arr;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = c->b + ms->off + (size_t)i * BPF_META_REC;
        if ((e = bpf_get_string(c, bpf_rd32(r + BPF_M_KEY), &st->meta[i].key, "meta", i, "key")) ||
            (e = bpf_get_string(c, bpf_rd32(r + BPF_M_VALUE), &st->meta[i].value, "meta", i,
                                "value")))
            return e;
        if (!st->meta[i].key[0])
            return bpf_fail(BPF_ERR_BAD_META, "meta %u: empty key", i);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(st->meta[j].key, st->meta[i].key) == 0)
                return bpf_fail(BPF_ERR_BAD_META, "meta %u: duplicate key '%s' (also entry %u)",
                                i, st->meta[i].key, j);
    }
    st->model.n_meta = n;
    st->model.meta = st->meta;
    return BPF_OK;
}

static bpf_status bpf_read_tensors(const bpf_ctx *c, bpf_store *st)
{
    const bpf_sec *s = &c->sec[BPF_SEC_TENSORS];
    uint32_t n;
    void *arr;
    bpf_status e = bpf_records(c, BPF_SEC_TENSORS, BPF_TENSOR_REC, BPF_MAX_TENSORS, "tensors",
                               sizeof *st->tensors, &arr, &n);
    if (e) return e;
    st->tensors = arr;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = c->b + s->off + (size_t)i * BPF_TENSOR_REC;
        bpf_tensor *t = &st->tensors[i];
        if ((e = bpf_get_string(c, bpf_rd32(r + BPF_T_NAME), &t->name, "tensor", i, "name")))
            return e;
        t->dtype = bpf_rd32(r + BPF_T_DTYPE);
        t->ndim = bpf_rd32(r + BPF_T_NDIM);
        t->scale = bpf_rdf32(r + BPF_T_SCALE);
        uint64_t off = bpf_rd64(r + BPF_T_DATA_OFF);
        t->nbytes = bpf_rd64(r + BPF_T_NBYTES);
        uint32_t dsz = bpf_dtype_size(t->dtype);
        if (!dsz)
            return bpf_fail(BPF_ERR_BAD_GRAPH, "tensor %u '%s': unknown dtype %u", i, t->name,
                            t->dtype);
        if (bpf_rd32(r + BPF_T_RESERVED0) || bpf_rd32(r + BPF_T_RESERVED1))
            return bpf_fail(BPF_ERR_BAD_SECTION, "tensor %u '%s': reserved field not zero", i,
                            t->name);
        if (t->ndim < 1 || t->ndim > BPF_MAX_DIMS)
            return bpf_fail(BPF_ERR_LIMIT, "tensor %u '%s': ndim %u outside 1..%u", i, t->name,
                            t->ndim, BPF_MAX_DIMS);
        uint64_t elems = 1;
        for (uint32_t d = 0; d < BPF_MAX_DIMS; d++) {
            uint32_t v = bpf_rd32(r + BPF_T_DIMS + 4 * d);
            if (d >= t->ndim) {
                if (v)
                    return bpf_fail(BPF_ERR_BAD_GRAPH, "tensor %u '%s': dims[%u] = %u beyond ndim %u "
                                    "(must be 0)", i, t->name, d, v, t->ndim);
                continue;
            }
            if (v < 1 || v > BPF_MAX_DIM)
                return bpf_fail(BPF_ERR_LIMIT, "tensor %u '%s': dims[%u] = %u outside 1..%u", i,
                                t->name, d, v, BPF_MAX_DIM);
            t->dims[d] = v;
            elems *= v; /* <= 2^32 before each multiply by <= 2^20: no overflow */
            if (elems > BPF_MAX_ELEMS)
                return bpf_fail(BPF_ERR_LIMIT, "tensor %u '%s': more than %llu elements", i,
                                t->name, (unsigned long long)BPF_MAX_ELEMS);
        }
        if (!isfinite(t->scale) || t->scale < 0.0f)
            return bpf_fail(BPF_ERR_BAD_GRAPH, "tensor %u '%s': scale %g not finite and >= 0", i,
                            t->name, (double)t->scale);
        if (off == 0 && t->nbytes == 0) {
            t->data = NULL;
        } else {
            if (t->nbytes != elems * dsz)
                return bpf_fail(BPF_ERR_BAD_SECTION, "tensor %u '%s': %llu data bytes, shape "
                                "and dtype need %llu", i, t->name,
                                (unsigned long long)t->nbytes, (unsigned long long)(elems * dsz));
            if ((e = bpf_get_array(c, off, t->nbytes, &t->data, "tensor", i, "data")))
                return e;
        }
    }
    st->model.n_tensors = n;
    st->model.tensors = st->tensors;
    return BPF_OK;
}

static bpf_status bpf_read_layers(const bpf_ctx *c, bpf_store *st)
{
    const bpf_sec *s = &c->sec[BPF_SEC_LAYERS];
    uint32_t n;
    void *arr;
    bpf_status e = bpf_records(c, BPF_SEC_LAYERS, BPF_LAYER_REC, BPF_MAX_LAYERS, "layers",
                               sizeof *st->layers, &arr, &n);
    if (e) return e;
    st->layers = arr;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = c->b + s->off + (size_t)i * BPF_LAYER_REC;
        bpf_layer *L = &st->layers[i];
        L->kind = bpf_rd32(r + BPF_L_KIND);
        L->c_out = bpf_rd32(r + BPF_L_C_OUT);
        L->c_in = bpf_rd32(r + BPF_L_C_IN);
        L->kh = bpf_rd32(r + BPF_L_KH);
        L->kw = bpf_rd32(r + BPF_L_KW);
        L->stride_h = bpf_rd32(r + BPF_L_STRIDE_H);
        L->stride_w = bpf_rd32(r + BPF_L_STRIDE_W);
        L->pad_t = bpf_rd32(r + BPF_L_PAD_T);
        L->pad_l = bpf_rd32(r + BPF_L_PAD_L);
        L->pad_b = bpf_rd32(r + BPF_L_PAD_B);
        L->pad_r = bpf_rd32(r + BPF_L_PAD_R);
        L->dil_h = bpf_rd32(r + BPF_L_DIL_H);
        L->dil_w = bpf_rd32(r + BPF_L_DIL_W);
        L->groups = bpf_rd32(r + BPF_L_GROUPS);
        L->K = bpf_rd32(r + BPF_L_K);
        L->M = bpf_rd32(r + BPF_L_M);
        L->encoding = bpf_rd32(r + BPF_L_ENCODING);
        L->w_max = bpf_rd32(r + BPF_L_W_MAX);
        L->act_dtype = bpf_rd32(r + BPF_L_ACT_DTYPE);
        L->act_scale = bpf_rdf32(r + BPF_L_ACT_SCALE);
        L->idx_bytes = bpf_rd32(r + BPF_L_IDX_BYTES);
        L->n_digits = bpf_rd64(r + BPF_L_N_DIGITS);
        if (bpf_rd32(r + BPF_L_RESERVED))
            return bpf_fail(BPF_ERR_BAD_SECTION, "layer %u: reserved field not zero", i);
        if ((e = bpf_layer_check(L, i))) return e;
        /* Bounded by the layer limits checked above: c_out*M*2+1 < 2^21,
         * n_digits <= c_out*M*K < 2^35, so no product below overflows. */
        uint64_t rows = L->c_out;
        uint64_t n_rp = rows * L->M * 2 + 1;
        const void *p = NULL;
        if ((e = bpf_get_array(c, bpf_rd64(r + BPF_L_W_SCALE_OFF), rows * 4, &p, "layer", i,
                               "w_scale")))
            return e;
        L->w_scale = p;
        if ((e = bpf_get_array(c, bpf_rd64(r + BPF_L_BIAS_OFF), rows * 4, &p, "layer", i, "bias")))
            return e;
        L->bias = p;
        if ((e = bpf_get_array(c, bpf_rd64(r + BPF_L_ROW_PTR_OFF), n_rp * 4, &p, "layer", i,
                               "row_ptr")))
            return e;
        L->row_ptr = p;
        if ((e = bpf_get_array(c, bpf_rd64(r + BPF_L_COL_IDX_OFF), L->n_digits * L->idx_bytes,
                               &L->col_idx, "layer", i, "col_idx")))
            return e;
        for (uint32_t j = 0; j < L->c_out; j++) {
            if (!isfinite(L->w_scale[j]))
                return bpf_fail(BPF_ERR_BAD_GRAPH, "layer %u: w_scale[%u] = %g not finite", i, j,
                                (double)L->w_scale[j]);
            if (!isfinite(L->bias[j]))
                return bpf_fail(BPF_ERR_BAD_GRAPH, "layer %u: bias[%u] = %g not finite", i, j,
                                (double)L->bias[j]);
        }
    }
    st->model.n_layers = n;
    st->model.layers = st->layers;
    return BPF_OK;
}

static bpf_status bpf_read_nodes_io(const bpf_ctx *c, bpf_store *st)
{
    const bpf_sec *s = &c->sec[BPF_SEC_NODES];
    uint32_t n;
    void *arr;
    bpf_status e = bpf_records(c, BPF_SEC_NODES, BPF_NODE_REC, BPF_MAX_NODES, "nodes",
                               sizeof *st->nodes, &arr, &n);
    if (e) return e;
    st->nodes = arr;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = c->b + s->off + (size_t)i * BPF_NODE_REC;
        bpf_node *nd = &st->nodes[i];
        if ((e = bpf_get_string(c, bpf_rd32(r + BPF_N_NAME), &nd->name, "node", i, "name")))
            return e;
        nd->op = bpf_rd32(r + BPF_N_OP);
        nd->n_in = bpf_rd32(r + BPF_N_N_IN);
        nd->n_out = bpf_rd32(r + BPF_N_N_OUT);
        nd->layer = bpf_rd32(r + BPF_N_LAYER);
        if (bpf_rd32(r + BPF_N_RESERVED))
            return bpf_fail(BPF_ERR_BAD_SECTION, "node %u '%s': reserved field not zero", i,
                            nd->name);
        if (nd->n_in > BPF_MAX_IO || nd->n_out > BPF_MAX_IO)
            return bpf_fail(BPF_ERR_LIMIT, "node %u '%s': %u inputs / %u outputs, limit %u", i,
                            nd->name, nd->n_in, nd->n_out, BPF_MAX_IO);
        for (uint32_t k = 0; k < BPF_MAX_IO; k++) {
            uint32_t vi = bpf_rd32(r + BPF_N_IN + 4 * k), vo = bpf_rd32(r + BPF_N_OUT + 4 * k);
            if ((k >= nd->n_in && vi) || (k >= nd->n_out && vo))
                return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s': unused in/out slot %u not zero",
                                i, nd->name, k);
            nd->in[k] = vi;
            nd->out[k] = vo;
        }
        for (uint32_t k = 0; k < 8; k++) nd->ints[k] = (int32_t)bpf_rd32(r + BPF_N_INTS + 4 * k);
        for (uint32_t k = 0; k < 4; k++) nd->floats[k] = bpf_rdf32(r + BPF_N_FLOATS + 4 * k);
    }
    st->model.n_nodes = n;
    st->model.nodes = st->nodes;

    const bpf_sec *io = &c->sec[BPF_SEC_GRAPH_IO];
    if (io->size < 8)
        return bpf_fail(BPF_ERR_BAD_SECTION, "GRAPH_IO: %llu bytes, needs at least 8",
                        (unsigned long long)io->size);
    uint32_t ni = bpf_rd32(c->b + io->off), no = bpf_rd32(c->b + io->off + 4);
    if (ni < 1 || no < 1 || ni > BPF_MAX_IO || no > BPF_MAX_IO)
        return bpf_fail(BPF_ERR_BAD_GRAPH, "GRAPH_IO: %u inputs / %u outputs, each must be 1..%u",
                        ni, no, BPF_MAX_IO);
    if (io->size != 8 + 4ull * (ni + no))
        return bpf_fail(BPF_ERR_BAD_SECTION, "GRAPH_IO: size %llu, %u inputs + %u outputs need %llu",
                        (unsigned long long)io->size, ni, no, 8 + 4ull * (ni + no));
    st->io = calloc(ni + no, sizeof *st->io);
    if (!st->io) return bpf_fail(BPF_ERR_NOMEM, "GRAPH_IO: out of memory");
    for (uint32_t k = 0; k < ni + no; k++) st->io[k] = bpf_rd32(c->b + io->off + 8 + 4 * k);
    st->model.n_inputs = ni;
    st->model.n_outputs = no;
    st->model.inputs = st->io;
    st->model.outputs = st->io + ni;
    return BPF_OK;
}

static bpf_status bpf_parse(const uint8_t *b, uint64_t size, uint32_t flags, bpf_store *st)
{
    bpf_ctx c;
    memset(&c, 0, sizeof c);
    c.b = b;
    c.size = size;
    bpf_status e;
    if ((e = bpf_check_header(&c)) || (e = bpf_check_table(&c, flags)) ||
        (e = bpf_read_strings_meta(&c, st)) || (e = bpf_read_tensors(&c, st)) ||
        (e = bpf_read_layers(&c, st)) || (e = bpf_read_nodes_io(&c, st)))
        return e;
    st->model.version = bpf_rd32(b + BPF_H_VERSION);
    st->model.flags = bpf_rd32(b + BPF_H_FLAGS);

    uint32_t nl = st->model.n_layers;
    uint32_t *layer_node = malloc(sizeof(uint32_t) * (nl ? nl : 1));
    if (!layer_node) return bpf_fail(BPF_ERR_NOMEM, "out of memory");
    e = bpf_graph_validate(&st->model, layer_node);
    for (uint32_t l = 0; !e && l < nl; l++)
        e = bpf_planes_validate(&st->layers[l], l, st->nodes[layer_node[l]].name);
    free(layer_node);
    return e;
}

static void bpf_store_free(bpf_store *st)
{
    if (!st) return;
    if (st->map) munmap(st->map, st->map_len);
    free(st->copy);
    free(st->meta);
    free(st->tensors);
    free(st->nodes);
    free(st->layers);
    free(st->io);
    free(st);
}

void bpf_model_free(bpf_model *m)
{
    if (m) bpf_store_free((bpf_store *)m->priv_);
}

static bpf_status bpf_finish(bpf_store *st, const uint8_t *b, uint64_t size, uint32_t flags,
                             bpf_model **out)
{
    bpf_status e = bpf_parse(b, size, flags, st);
    if (e) {
        bpf_store_free(st);
        return e;
    }
    st->model.priv_ = st;
    *out = &st->model;
    return BPF_OK;
}

bpf_status bpf_load_memory(const void *buf, size_t size, uint32_t flags, bpf_model **out)
{
    if (out) *out = NULL;
    bpf_error_clear();
    if (!out || (!buf && size))
        return bpf_fail(BPF_ERR_INVALID_ARG, "bpf_load_memory: null %s", out ? "buffer" : "out");
    if (flags & ~(uint32_t)BPF_LOAD_NO_CHECKSUM)
        return bpf_fail(BPF_ERR_INVALID_ARG, "bpf_load_memory: unknown flags 0x%x", flags);
    if (size < BPF_HEADER_SIZE)
        return bpf_fail(BPF_ERR_TRUNCATED, "buffer is %zu bytes, shorter than the %u-byte header",
                        size, BPF_HEADER_SIZE);
    bpf_store *st = calloc(1, sizeof *st);
    if (!st) return bpf_fail(BPF_ERR_NOMEM, "out of memory");
    const uint8_t *b = buf;
    if ((uintptr_t)buf % BPF_ALIGN) {
        /* Arrays are used in place, so they need the buffer's 64-byte alignment. */
        /* posix_memalign takes the exact size, so sanitizers see over-reads. */
        if (posix_memalign(&st->copy, BPF_ALIGN, size) != 0) {
            st->copy = NULL;
            free(st);
            return bpf_fail(BPF_ERR_NOMEM, "no memory for an aligned copy of %zu bytes", size);
        }
        memcpy(st->copy, buf, size);
        b = st->copy;
    }
    return bpf_finish(st, b, size, flags, out);
}

bpf_status bpf_load_file(const char *path, uint32_t flags, bpf_model **out)
{
    if (out) *out = NULL;
    bpf_error_clear();
    if (!path || !out)
        return bpf_fail(BPF_ERR_INVALID_ARG, "bpf_load_file: null %s", path ? "out" : "path");
    if (flags & ~(uint32_t)BPF_LOAD_NO_CHECKSUM)
        return bpf_fail(BPF_ERR_INVALID_ARG, "bpf_load_file: unknown flags 0x%x", flags);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return bpf_fail(BPF_ERR_IO, "%s: open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return bpf_fail(BPF_ERR_IO, "%s: stat: %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return bpf_fail(BPF_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size < BPF_HEADER_SIZE) {
        close(fd);
        return bpf_fail(BPF_ERR_TRUNCATED, "%s: %lld bytes, shorter than the %u-byte header",
                        path, (long long)sb.st_size, BPF_HEADER_SIZE);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return bpf_fail(BPF_ERR_LIMIT, "%s: too large to map", path);
    }
    size_t size = (size_t)sb.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) return bpf_fail(BPF_ERR_IO, "%s: mmap: %s", path, strerror(err));
    bpf_store *st = calloc(1, sizeof *st);
    if (!st) {
        munmap(map, size);
        return bpf_fail(BPF_ERR_NOMEM, "out of memory");
    }
    st->map = map;
    st->map_len = size;
    return bpf_finish(st, map, size, flags, out);
}

const char *bpf_meta_get(const bpf_model *m, const char *key)
{
    if (!m || !key) return NULL;
    for (uint32_t i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta[i].key, key) == 0) return m->meta[i].value;
    return NULL;
}

void bpf_model_as_desc(const bpf_model *m, bpf_model_desc *d)
{
    if (!d) return;
    memset(d, 0, sizeof *d);
    if (!m) return;
    d->n_meta = m->n_meta;
    d->meta = m->meta;
    d->n_tensors = m->n_tensors;
    d->tensors = m->tensors;
    d->n_nodes = m->n_nodes;
    d->nodes = m->nodes;
    d->n_layers = m->n_layers;
    d->layers = m->layers;
    d->n_inputs = m->n_inputs;
    d->n_outputs = m->n_outputs;
    d->inputs = m->inputs;
    d->outputs = m->outputs;
}
