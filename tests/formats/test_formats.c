/* tests/formats: .bp round trip, one hand-made bad file per SPEC.md rule,
 * truncation at every byte, and a check that every rule id has a test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "bp_kernels.h"
#include "bpf_internal.h"
#include "bpf_testmodel.h"
#include "rule_cases.h"

/* formats/ has no kernel knowledge, so the limits and encodings it shares
 * with kernels/ (SPEC.md §10, bpf.h) are pinned together here. */
_Static_assert(BPF_K_MAX == BP_K_MAX, "K limit of formats and kernels");
_Static_assert(BPF_W_MAX == BP_W_MAX, "|w| limit of formats and kernels");
_Static_assert(BPF_M_MAX == BP_M_MAX, "M limit of formats and kernels");
_Static_assert(BPF_ENC_BINARY == (unsigned)BP_ENC_BINARY && BPF_ENC_CSD == (unsigned)BP_ENC_CSD,
               "encoding ids of formats and kernels");

static uint32_t bpft_test_seed;

static void bpft_check_layer(const bpf_layer *a, const bpf_layer *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->c_out, b->c_out);
    assert_int_equal(a->c_in, b->c_in);
    assert_int_equal(a->kh, b->kh);
    assert_int_equal(a->kw, b->kw);
    assert_int_equal(a->stride_h, b->stride_h);
    assert_int_equal(a->stride_w, b->stride_w);
    assert_int_equal(a->pad_t, b->pad_t);
    assert_int_equal(a->pad_l, b->pad_l);
    assert_int_equal(a->pad_b, b->pad_b);
    assert_int_equal(a->pad_r, b->pad_r);
    assert_int_equal(a->dil_h, b->dil_h);
    assert_int_equal(a->dil_w, b->dil_w);
    assert_int_equal(a->groups, b->groups);
    assert_int_equal(a->K, b->K);
    assert_int_equal(a->M, b->M);
    assert_int_equal(a->encoding, b->encoding);
    assert_int_equal(a->w_max, b->w_max);
    assert_int_equal(a->act_dtype, b->act_dtype);
    assert_memory_equal(&a->act_scale, &b->act_scale, 4);
    assert_int_equal(a->idx_bytes, b->idx_bytes);
    assert_int_equal(a->n_digits, b->n_digits);
    assert_memory_equal(a->w_scale, b->w_scale, 4 * (size_t)a->c_out);
    assert_memory_equal(a->bias, b->bias, 4 * (size_t)a->c_out);
    assert_memory_equal(a->row_ptr, b->row_ptr, 4 * ((size_t)a->c_out * a->M * 2 + 1));
    if (a->n_digits)
        assert_memory_equal(a->col_idx, b->col_idx, (size_t)a->n_digits * a->idx_bytes);
    assert_int_equal((uintptr_t)a->w_scale % 64, 0);
    assert_int_equal((uintptr_t)a->bias % 64, 0);
    assert_int_equal((uintptr_t)a->row_ptr % 64, 0);
    assert_int_equal((uintptr_t)a->col_idx % 64, 0);
}

/* Every field of the loaded model equals the desc it was written from. */
static void bpft_check_model(const bpf_model *m, const bpft_model *t)
{
    const bpf_model_desc *d = &t->d;
    assert_int_equal(m->version, 1);
    assert_int_equal(m->flags, 0);
    assert_int_equal(m->n_meta, d->n_meta);
    for (uint32_t i = 0; i < d->n_meta; i++) {
        assert_string_equal(m->meta[i].key, d->meta[i].key);
        assert_string_equal(m->meta[i].value, d->meta[i].value);
        assert_string_equal(bpf_meta_get(m, d->meta[i].key), d->meta[i].value);
    }
    assert_null(bpf_meta_get(m, "no.such.key"));
    assert_null(bpf_meta_get(m, NULL));
    assert_null(bpf_meta_get(NULL, "arch"));
    assert_int_equal(m->n_tensors, d->n_tensors);
    for (uint32_t i = 0; i < d->n_tensors; i++) {
        const bpf_tensor *a = &m->tensors[i], *b = &d->tensors[i];
        assert_string_equal(a->name, b->name ? b->name : "");
        assert_int_equal(a->dtype, b->dtype);
        assert_int_equal(a->ndim, b->ndim);
        assert_memory_equal(a->dims, b->dims, sizeof a->dims);
        assert_memory_equal(&a->scale, &b->scale, 4);
        if (b->data) {
            assert_non_null(a->data);
            assert_int_equal(a->nbytes, b->nbytes);
            assert_memory_equal(a->data, b->data, (size_t)b->nbytes);
            assert_int_equal((uintptr_t)a->data % 64, 0);
        } else {
            assert_null(a->data);
            assert_int_equal(a->nbytes, 0);
        }
    }
    assert_int_equal(m->n_nodes, d->n_nodes);
    for (uint32_t i = 0; i < d->n_nodes; i++) {
        const bpf_node *a = &m->nodes[i], *b = &d->nodes[i];
        assert_string_equal(a->name, b->name);
        assert_int_equal(a->op, b->op);
        assert_int_equal(a->n_in, b->n_in);
        assert_int_equal(a->n_out, b->n_out);
        assert_memory_equal(a->in, b->in, sizeof a->in);
        assert_memory_equal(a->out, b->out, sizeof a->out);
        assert_int_equal(a->layer, b->layer);
        assert_memory_equal(a->ints, b->ints, sizeof a->ints);
        assert_memory_equal(a->floats, b->floats, sizeof a->floats);
    }
    assert_int_equal(m->n_layers, d->n_layers);
    for (uint32_t i = 0; i < d->n_layers; i++) bpft_check_layer(&m->layers[i], &d->layers[i]);
    assert_int_equal(m->n_inputs, d->n_inputs);
    assert_int_equal(m->n_outputs, d->n_outputs);
    assert_memory_equal(m->inputs, d->inputs, 4 * (size_t)d->n_inputs);
    assert_memory_equal(m->outputs, d->outputs, 4 * (size_t)d->n_outputs);
}

static void test_round_trip_memory(void **state)
{
    (void)state;
    bpft_model *t = malloc(sizeof *t);
    bpft_build(t, bpft_test_seed);
    size_t size;
    uint8_t *buf = bpft_write(t, &size);
    assert_int_equal(size, bpf_rd64(buf + BPF_H_FILE_SIZE));

    /* Aligned buffer: used in place, arrays point into it. */
    bpf_model *m = NULL;
    assert_int_equal(bpf_load_memory(buf, size, 0, &m), BPF_OK);
    bpft_check_model(m, t);
    assert_ptr_equal(m->layers[0].row_ptr,
                     buf + bpf_rd64(bpft_record(buf, BPF_SEC_LAYERS, BPF_LAYER_REC, 0) +
                                    BPF_L_ROW_PTR_OFF));

    /* Re-writing the loaded model gives the same bytes. */
    bpf_model_desc d2;
    bpf_model_as_desc(m, &d2);
    void *buf2;
    size_t size2;
    assert_int_equal(bpf_write_memory(&d2, &buf2, &size2), BPF_OK);
    assert_int_equal(size2, size);
    assert_memory_equal(buf2, buf, size);
    free(buf2);
    bpf_model_free(m);

    /* Unaligned buffer: copied, same content. */
    uint8_t *odd = malloc(size + 1);
    memcpy(odd + 1, buf, size);
    assert_int_equal(bpf_load_memory(odd + 1, size, 0, &m), BPF_OK);
    free(odd); /* the model must not depend on the caller's unaligned buffer */
    bpft_check_model(m, t);
    bpf_model_free(m);

    /* Trusted load skips per-section hashes but gives the same model. */
    assert_int_equal(bpf_load_memory(buf, size, BPF_LOAD_NO_CHECKSUM, &m), BPF_OK);
    bpft_check_model(m, t);
    bpf_model_free(m);
    free(buf);
    free(t);
}

static void test_round_trip_file(void **state)
{
    (void)state;
    bpft_model *t = malloc(sizeof *t);
    bpft_build(t, bpft_test_seed ^ 0x5555u);
    char path[] = "/tmp/bpf_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(bpf_write_file(&t->d, path), BPF_OK);
    bpf_model *m = NULL;
    assert_int_equal(bpf_load_file(path, 0, &m), BPF_OK);
    bpft_check_model(m, t);
    bpf_model_free(m);
    unlink(path);
    assert_int_equal(bpf_load_file(path, 0, &m), BPF_ERR_IO);
    assert_null(m);
    assert_non_null(strstr(bpf_last_error(), path));
    /* A destination that is not a regular file (here a device) is refused
     * before anything is written, and left in place; write failures of the
     * atomic replacement are tested in tests/tools. */
    if (access("/dev/full", W_OK) == 0) {
        /* x -> relu -> y: a file smaller than the stdio buffer */
        const bpf_tensor ts[2] = {{.name = "x", .dtype = BPF_DT_F32, .ndim = 2, .dims = {1, 4}},
                                  {.name = "y", .dtype = BPF_DT_F32, .ndim = 2, .dims = {1, 4}}};
        const bpf_node relu = {.name = "relu", .op = BPF_OP_RELU, .n_in = 1, .n_out = 1,
                               .in = {0}, .out = {1}, .layer = UINT32_MAX};
        const uint32_t in = 0, out = 1;
        const bpf_model_desc tiny = {.n_tensors = 2, .tensors = ts, .n_nodes = 1, .nodes = &relu,
                                     .n_inputs = 1, .n_outputs = 1, .inputs = &in, .outputs = &out};
        const bpf_model_desc *ds[2] = {&tiny, &t->d};
        for (int i = 0; i < 2; i++) {
            assert_int_equal(bpf_write_file(ds[i], "/dev/full"), BPF_ERR_IO);
            if (!strstr(bpf_last_error(), "character device"))
                fail_msg("message '%s' lacks 'character device'", bpf_last_error());
            struct stat sb;
            assert_int_equal(stat("/dev/full", &sb), 0);
            assert_true(S_ISCHR(sb.st_mode));
        }
    }
    free(t);
}

/* The planes rebuild to the exact dense weights through the kernels' own
 * decoder (the engine rebuilds them this way at load). */
static void test_planes_rebuild_dense(void **state)
{
    (void)state;
    bpft_model *t = malloc(sizeof *t);
    bpft_build(t, bpft_test_seed + 7);
    size_t size;
    void *buf = bpft_write(t, &size);
    bpf_model *m = NULL;
    assert_int_equal(bpf_load_memory(buf, size, 0, &m), BPF_OK);
    for (uint32_t l = 0; l < m->n_layers; l++) {
        const bpf_layer *L = &m->layers[l];
        bp_planes p = {.rows = L->c_out, .K = L->K, .M = L->M, .idx_bytes = L->idx_bytes,
                       .row_ptr = L->row_ptr, .idx = L->col_idx};
        int16_t *w = calloc((size_t)L->c_out * L->K, sizeof *w);
        bp_planes_to_dense(&p, w);
        assert_memory_equal(w, t->ls[l].w, sizeof *w * L->c_out * L->K);
        /* and the kernels' encoder produces the very planes in the file */
        bp_planes_buf pb;
        assert_int_equal(bp_planes_from_dense(t->ls[l].w, L->c_out, L->K,
                                              (bp_encoding)L->encoding, L->M, &pb), 0);
        assert_int_equal(pb.ndigits, L->n_digits);
        assert_memory_equal(pb.row_ptr, L->row_ptr, 4 * ((size_t)L->c_out * L->M * 2 + 1));
        assert_memory_equal(pb.idx, L->col_idx, (size_t)L->n_digits * L->idx_bytes);
        bp_planes_buf_free(&pb);
        free(w);
    }
    bpf_model_free(m);
    free(buf);
    free(t);
}

static void test_bad_args(void **state)
{
    (void)state;
    bpf_model *m = (bpf_model *)&m;
    assert_int_equal(bpf_load_memory(NULL, 100, 0, &m), BPF_ERR_INVALID_ARG);
    assert_null(m);
    assert_int_equal(bpf_load_memory("x", 1, 0, NULL), BPF_ERR_INVALID_ARG);
    assert_int_equal(bpf_load_file(NULL, 0, &m), BPF_ERR_INVALID_ARG);
    assert_int_equal(bpf_load_memory("x", 1, 0x80, &m), BPF_ERR_INVALID_ARG);
    assert_int_equal(bpf_load_memory("", 0, 0, &m), BPF_ERR_TRUNCATED);
    void *buf;
    size_t size;
    assert_int_equal(bpf_write_memory(NULL, &buf, &size), BPF_ERR_INVALID_ARG);
    bpf_model_desc d = {.n_tensors = 3};
    assert_int_equal(bpf_write_memory(&d, &buf, &size), BPF_ERR_INVALID_ARG);
    assert_null(buf);
    bpf_model_free(NULL);
    bpf_model_as_desc(NULL, &d);
    assert_int_equal(d.n_tensors, 0);
}

/* ---- SPEC.md byte layout, read with literal offsets typed from SPEC.md's
 * tables (not the bpf_internal.h constants the reader and writer share), and
 * the hashes recomputed as SPEC.md §2-§3 define them. ---- */
static uint32_t bpft_lit32(const uint8_t *p, uint32_t off) { uint32_t v; memcpy(&v, p + off, 4); return v; }
static uint64_t bpft_lit64(const uint8_t *p, uint32_t off) { uint64_t v; memcpy(&v, p + off, 8); return v; }
static float bpft_litf(const uint8_t *p, uint32_t off) { float v; memcpy(&v, p + off, 4); return v; }

static void test_spec_byte_layout(void **state)
{
    (void)state;
    bpft_model *t = malloc(sizeof *t);
    bpft_build(t, bpft_test_seed ^ 0x77u);
    const bpf_model_desc *d = &t->d;
    size_t size;
    uint8_t *b = bpft_write(t, &size);
    uint8_t *cov = calloc(size, 1); /* bytes some field or array accounts for */
    assert_non_null(cov);
    memset(cov, 1, 64 + 7 * 32);
    /* §2 header */
    assert_memory_equal(b, "\x89\x42\x50\x46\x0d\x0a\x1a\x0a", 8);
    assert_int_equal(bpft_lit32(b, 8), 1);
    assert_memory_equal(b + 12, "\x0d\x0c\x0b\x0a", 4);
    assert_int_equal(bpft_lit32(b, 16), 0);
    assert_int_equal(bpft_lit32(b, 20), 64);
    assert_int_equal(bpft_lit32(b, 24), 7);
    assert_int_equal(bpft_lit32(b, 28), 32);
    assert_int_equal(bpft_lit64(b, 32), size);
    assert_int_equal(bpft_lit64(b, 40), 0);
    assert_int_equal(bpft_lit64(b, 48), 0);
    assert_int_equal(bpft_lit64(b, 56), XXH3_64bits_withSeed(b + 64, 7 * 32, XXH3_64bits(b, 56)));
    /* §3 section table; the writer puts kinds in order, DATA last */
    uint64_t off[8] = {0}, sz[8] = {0};
    for (uint32_t i = 0; i < 7; i++) {
        const uint8_t *e = b + 64 + 32 * i;
        uint32_t kind = bpft_lit32(e, 0);
        assert_int_equal(kind, i + 1);
        assert_int_equal(bpft_lit32(e, 4), 0);
        off[kind] = bpft_lit64(e, 8);
        sz[kind] = bpft_lit64(e, 16);
        assert_int_equal(off[kind] % 64, 0);
        assert_true(off[kind] >= 64 + 7 * 32 && off[kind] + sz[kind] <= size);
        assert_int_equal(bpft_lit64(e, 24), XXH3_64bits(b + off[kind], sz[kind]));
        if (kind > 1) assert_true(off[kind] >= off[kind - 1] + sz[kind - 1]);
        if (kind != 7) memset(cov + off[kind], 1, sz[kind]); /* DATA: per array below */
    }
    assert_int_equal(off[7] + sz[7], size);
    /* §4 STRINGS */
    const char *str = (const char *)b + off[1];
    assert_int_equal(str[0], 0);
    assert_int_equal(str[sz[1] - 1], 0);
#define SPEC_STR(rec, o) (str + bpft_lit32(rec, o))
    /* §5 META */
    assert_int_equal(sz[2], 8 * d->n_meta);
    for (uint32_t i = 0; i < d->n_meta; i++) {
        const uint8_t *r = b + off[2] + 8 * i;
        assert_string_equal(SPEC_STR(r, 0), d->meta[i].key);
        assert_string_equal(SPEC_STR(r, 4), d->meta[i].value);
    }
    /* §6 TENSORS */
    assert_int_equal(sz[3], 64 * d->n_tensors);
    for (uint32_t i = 0; i < d->n_tensors; i++) {
        const uint8_t *r = b + off[3] + 64 * i;
        const bpf_tensor *x = &d->tensors[i];
        assert_string_equal(SPEC_STR(r, 0), x->name ? x->name : "");
        assert_int_equal(bpft_lit32(r, 4), x->dtype);
        assert_int_equal(bpft_lit32(r, 8), x->ndim);
        assert_int_equal(bpft_lit32(r, 12), 0);
        for (uint32_t k = 0; k < 6; k++) assert_int_equal(bpft_lit32(r, 16 + 4 * k), x->dims[k]);
        assert_memory_equal(r + 40, &x->scale, 4);
        assert_int_equal(bpft_lit32(r, 44), 0);
        if (x->data) {
            uint64_t o = bpft_lit64(r, 48);
            assert_int_equal(o % 64, 0);
            assert_true(o >= off[7] && o + x->nbytes <= off[7] + sz[7]);
            assert_int_equal(bpft_lit64(r, 56), x->nbytes);
            assert_memory_equal(b + o, x->data, x->nbytes);
            memset(cov + o, 1, x->nbytes);
        } else {
            assert_int_equal(bpft_lit64(r, 48), 0);
            assert_int_equal(bpft_lit64(r, 56), 0);
        }
    }
    /* §7 NODES */
    assert_int_equal(sz[4], 104 * d->n_nodes);
    for (uint32_t i = 0; i < d->n_nodes; i++) {
        const uint8_t *r = b + off[4] + 104 * i;
        const bpf_node *n = &d->nodes[i];
        assert_string_equal(SPEC_STR(r, 0), n->name);
        assert_int_equal(bpft_lit32(r, 4), n->op);
        assert_int_equal(bpft_lit32(r, 8), n->n_in);
        assert_int_equal(bpft_lit32(r, 12), n->n_out);
        for (uint32_t k = 0; k < 4; k++) {
            assert_int_equal(bpft_lit32(r, 16 + 4 * k), k < n->n_in ? n->in[k] : 0);
            assert_int_equal(bpft_lit32(r, 32 + 4 * k), k < n->n_out ? n->out[k] : 0);
        }
        assert_int_equal(bpft_lit32(r, 48), n->layer);
        assert_int_equal(bpft_lit32(r, 52), 0);
        for (uint32_t k = 0; k < 8; k++) assert_int_equal((int32_t)bpft_lit32(r, 56 + 4 * k), n->ints[k]);
        for (uint32_t k = 0; k < 4; k++) assert_memory_equal(r + 88 + 4 * k, &n->floats[k], 4);
    }
    /* §8 LAYERS */
    assert_int_equal(sz[5], 128 * d->n_layers);
    for (uint32_t i = 0; i < d->n_layers; i++) {
        const uint8_t *r = b + off[5] + 128 * i;
        const bpf_layer *L = &d->layers[i];
        const uint32_t want[] = {L->kind, L->c_out, L->c_in, L->kh, L->kw, L->stride_h,
                                 L->stride_w, L->pad_t, L->pad_l, L->pad_b, L->pad_r, L->dil_h,
                                 L->dil_w, L->groups, L->K, L->M, L->encoding, L->w_max,
                                 L->act_dtype};
        for (uint32_t k = 0; k < 19; k++) assert_int_equal(bpft_lit32(r, 4 * k), want[k]);
        assert_true(bpft_litf(r, 76) == L->act_scale);
        assert_int_equal(bpft_lit32(r, 80), L->K <= 65535 ? 2 : 4);
        assert_int_equal(bpft_lit32(r, 84), 0);
        assert_int_equal(bpft_lit64(r, 88), L->n_digits);
        const uint64_t n_rp = (uint64_t)L->c_out * L->M * 2 + 1;
        const void *arr[4] = {L->w_scale, L->bias, L->row_ptr, L->col_idx};
        const uint64_t len[4] = {4ull * L->c_out, 4ull * L->c_out, 4 * n_rp, 2 * L->n_digits};
        for (uint32_t k = 0; k < 4; k++) {
            uint64_t o = bpft_lit64(r, 96 + 8 * k);
            assert_int_equal(o % 64, 0);
            assert_true(o >= off[7] && o + len[k] <= off[7] + sz[7]);
            if (len[k]) assert_memory_equal(b + o, arr[k], len[k]);
            memset(cov + o, 1, len[k]);
        }
    }
    /* §9 GRAPH_IO */
    const uint8_t *io = b + off[6];
    assert_int_equal(sz[6], 8 + 4 * (d->n_inputs + d->n_outputs));
    assert_int_equal(bpft_lit32(io, 0), d->n_inputs);
    assert_int_equal(bpft_lit32(io, 4), d->n_outputs);
    for (uint32_t k = 0; k < d->n_inputs; k++) assert_int_equal(bpft_lit32(io, 8 + 4 * k), d->inputs[k]);
    for (uint32_t k = 0; k < d->n_outputs; k++)
        assert_int_equal(bpft_lit32(io, 8 + 4 * (d->n_inputs + k)), d->outputs[k]);
#undef SPEC_STR
    /* §1: padding between sections and arrays is zero */
    for (size_t i = 0; i < size; i++)
        if (!cov[i] && b[i]) fail_msg("padding byte %zu is 0x%02x, not 0", i, b[i]);
    free(cov);
    free(b);
    free(t);
}

/* The writer's size arithmetic cannot wrap: sizes whose sum passes 2^64 (or
 * the writer's cap) are refused before any allocation or copy. Only the
 * sizes are huge; the data pointers are never read. */
static bpf_tensor bpft_huge_tensors[65537];
static void test_writer_size_overflow(void **state)
{
    (void)state;
    static const float one = 1.0f;
    bpf_model_desc d = {.n_tensors = 16384, .tensors = bpft_huge_tensors};
    /* 2^14 tensors of 2^50 bytes: the sum is 2^64 + data_start. */
    for (uint32_t i = 0; i < 16384; i++)
        bpft_huge_tensors[i] = (bpf_tensor){.name = "t", .dtype = BPF_DT_F32, .ndim = 1,
                                       .dims = {1}, .data = &one, .nbytes = 1ull << 50};
    void *buf = (void *)&buf;
    size_t size = 1;
    assert_int_equal(bpf_write_memory_unchecked(&d, &buf, &size), BPF_ERR_LIMIT);
    assert_null(buf);
    assert_int_equal(size, 0);
    assert_non_null(strstr(bpf_last_error(), "tensor 0"));
    /* 65537 tensors of 2^40 bytes: each allowed, the sum is not. */
    for (uint32_t i = 0; i < 65537; i++)
        bpft_huge_tensors[i] = (bpf_tensor){.name = "t", .dtype = BPF_DT_F32, .ndim = 1,
                                       .dims = {1}, .data = &one, .nbytes = 1ull << 40};
    d.n_tensors = 65537;
    assert_int_equal(bpf_write_memory(&d, &buf, &size), BPF_ERR_LIMIT);
    assert_null(buf);
    assert_non_null(strstr(bpf_last_error(), "file would exceed"));
}

/* bpf_last_error() is per thread: a failure on one thread leaves another
 * thread's message alone. */
static void *bpft_fail_on_thread(void *arg)
{
    bpf_model *m;
    bpf_load_memory("short", 5, 0, &m);
    *(int *)arg = strstr(bpf_last_error(), "5 bytes") != NULL;
    return NULL;
}

static void test_error_thread_local(void **state)
{
    (void)state;
#ifdef BPFT_NO_THREADS
    skip();
#endif
    bpf_model *m;
    assert_int_equal(bpf_load_memory("0123456789", 10, 0, &m), BPF_ERR_TRUNCATED);
    char before[256];
    snprintf(before, sizeof before, "%s", bpf_last_error());
    assert_non_null(strstr(before, "10 bytes"));
    int ok = 0;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bpft_fail_on_thread, &ok), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(ok);
    assert_string_equal(bpf_last_error(), before);
}

/* ---- bad files, one per rule ---- */

static void test_bad_case(void **state)
{
    const bpft_case *c = *state;
    bpft_model *t = malloc(sizeof *t);
    bpft_build(t, bpft_test_seed);
    if (c->pre) c->pre(t);
    void *raw;
    size_t size;
    assert_int_equal(bpf_write_memory_unchecked(&t->d, &raw, &size), BPF_OK);
    bpft_bad f = {aligned_alloc(64, (size + 256 + 63) / 64 * 64), size};
    memset(f.b, 0, size + 256);
    memcpy(f.b, raw, size);
    free(raw);
    if (c->post) c->post(&f);
    if (c->refix) bpft_refix(f.b, f.size);
    /* An exact-size copy: sanitizers flag any read past the end. */
    void *b = NULL;
    assert_int_equal(posix_memalign(&b, 64, f.size ? f.size : 1), 0);
    memcpy(b, f.b, f.size);
    bpf_model *m = (bpf_model *)&m;
    bpf_status st = bpf_load_memory(b, f.size, 0, &m);
    printf("  %s -> %d: %s\n", c->name, st, bpf_last_error());
    assert_int_equal(st, c->status);
    assert_null(m);
    if (!strstr(bpf_last_error(), c->msg))
        fail_msg("message '%s' lacks '%s'", bpf_last_error(), c->msg);
    /* Trusted loads skip only the per-section hashes (R18). */
    st = bpf_load_memory(b, f.size, BPF_LOAD_NO_CHECKSUM, &m);
    if (strncmp(c->name, "R18 ", 4) == 0) {
        assert_int_equal(st, BPF_OK);
        bpf_model_free(m);
    } else {
        assert_int_equal(st, c->status);
    }
    /* The checked writer refuses every bad desc with the same verdict. */
    if (c->pre && !c->post) {
        void *wb = (void *)&wb;
        size_t ws = 1;
        assert_int_equal(bpf_write_memory(&t->d, &wb, &ws), c->status);
        assert_null(wb);
        assert_int_equal(ws, 0);
    }
    free(b);
    free(f.b);
    free(t);
}

/* Every length short of the full file is rejected as truncated, both from
 * memory (exact-size buffers) and, for a few lengths, from a file. */
static void test_truncation_every_byte(void **state)
{
    (void)state;
    bpft_model *t = malloc(sizeof *t);
    bpft_build(t, bpft_test_seed);
    size_t size;
    uint8_t *full = bpft_write(t, &size);
    for (size_t len = 0; len < size; len++) {
        void *b = NULL;
        assert_int_equal(posix_memalign(&b, 64, len ? len : 1), 0);
        memcpy(b, full, len);
        bpf_model *m = NULL;
        bpf_status st = bpf_load_memory(b, len, 0, &m);
        if (st != BPF_ERR_TRUNCATED)
            fail_msg("length %zu of %zu: status %d (%s)", len, size, st, bpf_last_error());
        assert_null(m);
        free(b);
    }
    char path[] = "/tmp/bpf_trunc_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const size_t lens[] = {0, 1, 63, 64, 287, 288, size / 2, size - 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        assert_int_equal(ftruncate(fd, 0), 0);
        assert_int_equal(pwrite(fd, full, lens[i], 0), (ssize_t)lens[i]);
        bpf_model *m = NULL;
        assert_int_equal(bpf_load_file(path, 0, &m), BPF_ERR_TRUNCATED);
        assert_null(m);
    }
    assert_int_equal(pwrite(fd, full, size, 0), (ssize_t)size);
    bpf_model *m = NULL;
    assert_int_equal(bpf_load_file(path, 0, &m), BPF_OK);
    bpf_model_free(m);
    close(fd);
    unlink(path);
    free(full);
    free(t);
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct { const char *s; int ok; } v[] = {
        {"", 1}, {"ascii", 1}, {"\xc3\xa9", 1}, {"\xe2\x82\xac", 1}, {"\xf0\x9f\x98\x80", 1},
        {"\xf4\x8f\xbf\xbf", 1}, {"\x80", 0}, {"\xc3", 0}, {"\xc1\xbf", 0}, {"\xe0\x80\x80", 0},
        {"\xed\xa0\x80", 0}, {"\xf4\x90\x80\x80", 0}, {"\xf8\x88\x80\x80\x80", 0}, {"\xc3\x28", 0},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_int_equal(bpf_utf8_valid(v[i].s, strlen(v[i].s)), v[i].ok);
}

static void test_max_magnitude(void **state)
{
    (void)state;
    /* Independently: the largest |w| whose digits fit in M positions. */
    for (uint32_t M = 1; M <= 9; M++)
        for (uint32_t enc = 0; enc < 2; enc++) {
            uint32_t best = 0;
            for (int32_t w = 1; w < 1024 && w <= 511; w++) {
                int8_t d[9];
                if (w > 255) break;
                bpft_digits(w, enc, d);
                int fits = 1;
                for (uint32_t m = M; m < 9; m++) fits &= d[m] == 0;
                if (fits) best = (uint32_t)w;
            }
            uint32_t want = bpf_max_magnitude(M, enc);
            assert_int_equal(want > 255 ? 255 : want, best);
        }
}

/* SPEC.md and the case table agree: every rule id R1..Rn defined in SPEC.md
 * has at least one case, every case cites a defined rule, and each case
 * expects exactly the status SPEC.md gives for its rule. */
static bpf_status bpft_status_by_name(const char *s, size_t n)
{
    static const struct { const char *name; bpf_status st; } tab[] = {
        {"BPF_ERR_INVALID_ARG", BPF_ERR_INVALID_ARG}, {"BPF_ERR_NOMEM", BPF_ERR_NOMEM},
        {"BPF_ERR_IO", BPF_ERR_IO}, {"BPF_ERR_TRUNCATED", BPF_ERR_TRUNCATED},
        {"BPF_ERR_BAD_MAGIC", BPF_ERR_BAD_MAGIC}, {"BPF_ERR_VERSION", BPF_ERR_VERSION},
        {"BPF_ERR_CHECKSUM", BPF_ERR_CHECKSUM}, {"BPF_ERR_BAD_SECTION", BPF_ERR_BAD_SECTION},
        {"BPF_ERR_BAD_PLANES", BPF_ERR_BAD_PLANES}, {"BPF_ERR_BAD_GRAPH", BPF_ERR_BAD_GRAPH},
        {"BPF_ERR_LIMIT", BPF_ERR_LIMIT}, {"BPF_ERR_BAD_META", BPF_ERR_BAD_META},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strlen(tab[i].name) == n && memcmp(tab[i].name, s, n) == 0) return tab[i].st;
    return BPF_OK;
}

#define MAX_RULES 200
static void test_spec_rules_covered(void **state)
{
    (void)state;
    FILE *fp = fopen(BPFT_SPEC_PATH, "rb");
    if (!fp) fail_msg("cannot open %s", BPFT_SPEC_PATH);
    static char spec[1 << 17];
    size_t n = fread(spec, 1, sizeof spec - 1, fp);
    fclose(fp);
    spec[n] = 0;
    bpf_status rule_status[MAX_RULES + 1];
    int defined[MAX_RULES + 1] = {0};
    int max_id = 0;
    /* A rule is "- **R<n>** text ... → `BPF_ERR_X`" (possibly over lines). */
    for (const char *p = strstr(spec, "- **R"); p; p = strstr(p + 1, "- **R")) {
        char *end;
        long id = strtol(p + 5, &end, 10);
        assert_true(id >= 1 && id <= MAX_RULES);
        assert_memory_equal(end, "**", 2);
        if (defined[id]) fail_msg("SPEC.md defines R%ld twice", id);
        const char *next = strstr(p + 1, "- **R");
        const char *arrow = strstr(p, "\xe2\x86\x92 `");
        if (!arrow || (next && arrow > next)) fail_msg("R%ld has no status in SPEC.md", id);
        const char *st = arrow + 5, *q = strchr(st, '`');
        assert_non_null(q);
        rule_status[id] = bpft_status_by_name(st, (size_t)(q - st));
        if (rule_status[id] == BPF_OK) fail_msg("R%ld: unknown status '%.*s'", id, (int)(q - st), st);
        defined[id] = 1;
        if (id > max_id) max_id = (int)id;
    }
    assert_true(max_id >= 80);
    int covered[MAX_RULES + 1] = {0};
    for (size_t i = 0; i < bpft_n_cases; i++) {
        const char *name = bpft_cases[i].name;
        char *end;
        assert_int_equal(name[0], 'R');
        long id = strtol(name + 1, &end, 10);
        assert_int_equal(*end, ' ');
        if (id < 1 || id > max_id || !defined[id]) fail_msg("case '%s' cites no SPEC.md rule", name);
        if (bpft_cases[i].status != rule_status[id])
            fail_msg("case '%s' expects %d, SPEC.md says %d", name, bpft_cases[i].status,
                     rule_status[id]);
        covered[id] = 1;
    }
    for (int id = 1; id <= max_id; id++) {
        if (!defined[id]) fail_msg("SPEC.md skips rule id R%d", id);
        if (!covered[id]) fail_msg("SPEC.md rule R%d has no bad-file test", id);
    }
    printf("  SPEC.md: R1..R%d, %zu cases\n", max_id, bpft_n_cases);
}

int main(void)
{
    const char *env = getenv("BP_TEST_SEED");
    bpft_test_seed = env ? (uint32_t)strtoul(env, NULL, 0) : (uint32_t)time(NULL);
    printf("tests/formats: seed %u (override with BP_TEST_SEED)\n", bpft_test_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_memory),
        cmocka_unit_test(test_round_trip_file),
        cmocka_unit_test(test_spec_byte_layout),
        cmocka_unit_test(test_planes_rebuild_dense),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_writer_size_overflow),
        cmocka_unit_test(test_truncation_every_byte),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_error_thread_local),
        cmocka_unit_test(test_max_magnitude),
        cmocka_unit_test(test_spec_rules_covered),
    };
    size_t n_fixed = sizeof tests / sizeof tests[0];
    struct CMUnitTest *all = calloc(n_fixed + bpft_n_cases, sizeof *all);
    memcpy(all, tests, sizeof tests);
    for (size_t i = 0; i < bpft_n_cases; i++)
        all[n_fixed + i] = (struct CMUnitTest){.name = bpft_cases[i].name,
                                               .test_func = test_bad_case,
                                               .initial_state = (void *)&bpft_cases[i]};
    int rc = _cmocka_run_group_tests("formats", all, n_fixed + bpft_n_cases, NULL, NULL);
    free(all);
    return rc;
}
