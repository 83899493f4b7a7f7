/* Test helpers for the .bp format: reference model, independent plane
 * encoder, section lookup and checksum re-fixing for corrupted files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "bpf_internal.h"
#include "bpf_testmodel.h"

uint32_t bpft_rng(uint32_t *s)
{
    /* xorshift32; never seeded with 0 */
    uint32_t x = *s ? *s : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

int bpft_digits(int32_t w, uint32_t enc, int8_t d[9])
{
    memset(d, 0, 9);
    int sign = w < 0 ? -1 : 1, n = w < 0 ? -w : w, cnt = 0;
    if (enc == BPF_ENC_BINARY) {
        for (int m = 0; m < 9; m++)
            if (n >> m & 1) { d[m] = (int8_t)sign; cnt++; }
        return cnt;
    }
    /* NAF by the textbook rule: while n > 0, if odd take z = 2 - (n mod 4). */
    for (int m = 0; n > 0 && m < 9; m++) {
        int z = 0;
        if (n & 1) { z = 2 - (n & 3); n -= z; cnt++; }
        d[m] = (int8_t)(z * sign);
        n /= 2;
    }
    return cnt;
}

uint32_t bpft_planes(const int16_t *w, uint32_t rows, uint32_t K, uint32_t M, uint32_t enc,
                     uint32_t *row_ptr, uint16_t *col_idx)
{
    uint32_t n = 0;
    row_ptr[0] = 0;
    for (uint32_t j = 0; j < rows; j++)
        for (uint32_t m = 0; m < M; m++)
            for (uint32_t s = 0; s < 2; s++) {
                for (uint32_t k = 0; k < K; k++) {
                    int8_t d[9];
                    bpft_digits(w[j * K + k], enc, d);
                    if (d[m] == (s ? -1 : 1)) col_idx[n++] = (uint16_t)k;
                }
                row_ptr[(j * M + m) * 2 + s + 1] = n;
            }
    return n;
}

static void bpft_tensor(bpft_model *m, uint32_t id, const char *name, uint32_t ndim, uint32_t d0,
                        uint32_t d1, uint32_t d2, uint32_t d3)
{
    bpf_tensor *t = &m->tensors[id];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = BPF_DT_F32;
    t->ndim = ndim;
    const uint32_t d[4] = {d0, d1, d2, d3};
    for (uint32_t k = 0; k < ndim; k++) t->dims[k] = d[k];
}

static void bpft_param(bpft_model *m, uint32_t id, const char *name, uint32_t p, uint32_t *seed)
{
    bpft_tensor(m, id, name, 1, 4, 0, 0, 0);
    for (uint32_t c = 0; c < 4; c++)
        m->params[p][c] = 0.5f + (float)(bpft_rng(seed) % 100) / 100.0f;
    m->tensors[id].data = m->params[p];
    m->tensors[id].nbytes = sizeof m->params[p];
}

static uint32_t bpft_node(bpft_model *m, uint32_t i, const char *name, uint32_t op, uint32_t n_in,
                          const uint32_t *in, uint32_t out, uint32_t layer)
{
    bpf_node *n = &m->nodes[i];
    memset(n, 0, sizeof *n);
    n->name = name;
    n->op = op;
    n->n_in = n_in;
    for (uint32_t k = 0; k < n_in; k++) n->in[k] = in[k];
    n->n_out = 1;
    n->out[0] = out;
    n->layer = layer;
    return i + 1;
}

static void bpft_layer(bpft_model *m, uint32_t li, uint32_t kind, uint32_t c_out, uint32_t c_in,
                       uint32_t k, uint32_t stride, uint32_t pad, uint32_t groups, uint32_t M,
                       uint32_t enc, uint32_t w_max, uint32_t act, uint32_t *seed)
{
    bpf_layer *L = &m->layers[li];
    bpft_layer_store *s = &m->ls[li];
    memset(L, 0, sizeof *L);
    L->kind = kind;
    L->c_out = c_out;
    L->c_in = c_in;
    L->kh = L->kw = k;
    L->stride_h = L->stride_w = stride;
    L->pad_t = L->pad_l = pad;
    L->pad_b = L->pad_r = pad ? pad - 1 : 0; /* asymmetric when padded */
    L->dil_h = L->dil_w = 1;
    L->groups = groups;
    L->K = c_in / groups * k * k;
    L->M = M;
    L->encoding = enc;
    L->w_max = w_max;
    L->act_dtype = act;
    L->act_scale = 0.05f + (float)li;
    L->idx_bytes = 2;
    for (uint32_t j = 0; j < c_out; j++) {
        s->w_scale[j] = 0.001f * (float)(j + 1);
        s->bias[j] = -0.25f + 0.125f * (float)j;
        for (uint32_t q = 0; q < L->K; q++) {
            uint32_t r = bpft_rng(seed);
            int32_t v = (int32_t)(r % (2 * w_max + 1)) - (int32_t)w_max;
            if (r >> 28 < 5) v = 0; /* ~30% zeros, and some rows' planes empty */
            s->w[j * L->K + q] = (int16_t)v;
        }
    }
    /* Edge magnitudes: +-w_max and (for w_max >= 128) 128. */
    s->w[0] = (int16_t)w_max;
    s->w[1] = (int16_t)-(int32_t)w_max;
    if (w_max >= 128 && L->K > 2) s->w[2] = 128;
    if (L->K > 3) s->w[3] = (int16_t)w_max; /* a (row, plane, sign) list with two digits */
    L->n_digits = bpft_planes(s->w, c_out, L->K, M, enc, s->row_ptr, s->col_idx);
    L->w_scale = s->w_scale;
    L->bias = s->bias;
    L->row_ptr = s->row_ptr;
    L->col_idx = s->col_idx;
}

void bpft_build(bpft_model *m, uint32_t seed)
{
    memset(m, 0, sizeof *m);
    uint32_t s = seed ? seed : 1;
    static const char *const kv[BPFT_N_META][2] = {
        {"producer", "bitprune tests/formats"}, {"arch", "tiny-mixed"},
        {"pruning.lambda", "1.0"},             {"pruning.target_sparsity", "0.7"},
        {"pruning.encoding", "mixed"},         {"synthetic", "1 \xce\xbb=1"},
    };
    for (uint32_t i = 0; i < BPFT_N_META; i++) {
        m->meta[i].key = kv[i][0];
        m->meta[i].value = kv[i][1];
    }
    /* Layers: 0 conv 3->4 3x3 pad 1 binary M=8; 1 depthwise 3x3 s2 csd M=9;
     * 2 linear 4->5 csd M=5; 3 linear 4->5 (on a 4-d input) binary M=4. */
    bpft_layer(m, 0, BPF_LAYER_CONV, 4, 3, 3, 1, 1, 1, 8, BPF_ENC_BINARY, 255, BPF_DT_U8, &s);
    bpft_layer(m, 1, BPF_LAYER_CONV, 4, 4, 3, 2, 1, 4, 9, BPF_ENC_CSD, 255, BPF_DT_S8, &s);
    bpft_layer(m, 2, BPF_LAYER_LINEAR, 5, 4, 1, 1, 0, 1, 5, BPF_ENC_CSD, 21, BPF_DT_S8, &s);
    bpft_layer(m, 3, BPF_LAYER_LINEAR, 5, 4, 1, 1, 0, 1, 4, BPF_ENC_BINARY, 15, BPF_DT_U8, &s);

    bpft_tensor(m, 0, "input", 4, 1, 3, 8, 8);
    bpft_tensor(m, 1, "conv1.out", 4, 1, 4, 8, 8);
    bpft_tensor(m, 2, "relu1.out", 4, 1, 4, 8, 8);
    bpft_tensor(m, 3, "pool1.out", 4, 1, 4, 4, 4);
    bpft_tensor(m, 4, "dw.out", 4, 1, 4, 2, 2);
    bpft_param(m, 5, "bn.scale", 0, &s);
    bpft_param(m, 6, "bn.shift", 1, &s);
    bpft_tensor(m, 7, "bn.out", 4, 1, 4, 2, 2);
    bpft_param(m, 8, "ln.gamma", 2, &s);
    bpft_param(m, 9, "ln.beta", 3, &s);
    bpft_tensor(m, 10, "ln.out", 4, 1, 4, 2, 2);
    bpft_param(m, 11, "ls.gamma", 4, &s);
    bpft_tensor(m, 12, "ls.out", 4, 1, 4, 2, 2);
    bpft_tensor(m, 13, "add1.out", 4, 1, 4, 2, 2);
    bpft_tensor(m, 14, "gelu.out", 4, 1, 4, 2, 2);
    bpft_tensor(m, 15, "avgpool.out", 4, 1, 4, 1, 1);
    bpft_tensor(m, 16, "gap.out", 4, 1, 4, 1, 1);
    bpft_tensor(m, 17, "add2.out", 4, 1, 4, 1, 1);
    bpft_tensor(m, 18, "flatten.out", 2, 1, 4, 0, 0);
    bpft_tensor(m, 19, "fc1.out", 2, 1, 5, 0, 0);
    bpft_tensor(m, 20, "fc2.out", 2, 1, 5, 0, 0);
    bpft_tensor(m, 21, "add3.out", 2, 1, 5, 0, 0);
    bpft_tensor(m, 22, "softmax.out", 2, 1, 5, 0, 0);
    bpft_tensor(m, 23, "unused.activation", 2, 1, 7, 0, 0);
    bpft_tensor(m, 24, "", 1, 1, 0, 0, 0); /* unnamed orphan */
    bpft_tensor(m, 25, "maxpool.in.s8", 4, 1, 4, 8, 8);
    m->tensors[25].dtype = BPF_DT_S8;
    m->tensors[25].scale = 0.5f;
    m->tensors[0].scale = 1.0f / 255.0f;

    /* conv1 keeps 8x8 with symmetric padding 1. */
    m->layers[0].pad_b = m->layers[0].pad_r = 1;

    uint32_t n = 0;
    n = bpft_node(m, n, "conv1", BPF_OP_CONV2D, 1, (uint32_t[]){0}, 1, 0);
    n = bpft_node(m, n, "relu1", BPF_OP_RELU, 1, (uint32_t[]){1}, 2, UINT32_MAX);
    n = bpft_node(m, n, "pool1", BPF_OP_MAXPOOL, 1, (uint32_t[]){2}, 3, UINT32_MAX);
    memcpy(m->nodes[n - 1].ints, (int32_t[]){2, 2, 2, 2, 0, 0, 0, 0}, sizeof(int32_t) * 8);
    n = bpft_node(m, n, "stage1.dw", BPF_OP_CONV2D, 1, (uint32_t[]){3}, 4, 1); /* (4+1+0-3)/2+1 = 2 */
    n = bpft_node(m, n, "bn", BPF_OP_BATCHNORM, 3, (uint32_t[]){4, 5, 6}, 7, UINT32_MAX);
    n = bpft_node(m, n, "ln", BPF_OP_LAYERNORM, 3, (uint32_t[]){7, 8, 9}, 10, UINT32_MAX);
    m->nodes[n - 1].floats[0] = 1e-6f;
    n = bpft_node(m, n, "ls", BPF_OP_LAYERSCALE, 2, (uint32_t[]){10, 11}, 12, UINT32_MAX);
    n = bpft_node(m, n, "add1", BPF_OP_ADD, 2, (uint32_t[]){7, 12}, 13, UINT32_MAX);
    n = bpft_node(m, n, "gelu", BPF_OP_GELU, 1, (uint32_t[]){13}, 14, UINT32_MAX);
    n = bpft_node(m, n, "avgpool", BPF_OP_AVGPOOL, 1, (uint32_t[]){14}, 15, UINT32_MAX);
    memcpy(m->nodes[n - 1].ints, (int32_t[]){3, 3, 2, 2, 1, 1, 0, 0}, sizeof(int32_t) * 8);
    n = bpft_node(m, n, "gap", BPF_OP_GLOBALAVGPOOL, 1, (uint32_t[]){14}, 16, UINT32_MAX);
    n = bpft_node(m, n, "add2", BPF_OP_ADD, 2, (uint32_t[]){15, 16}, 17, UINT32_MAX);
    n = bpft_node(m, n, "flatten", BPF_OP_FLATTEN, 1, (uint32_t[]){17}, 18, UINT32_MAX);
    n = bpft_node(m, n, "fc1", BPF_OP_LINEAR, 1, (uint32_t[]){18}, 19, 2);
    n = bpft_node(m, n, "fc2", BPF_OP_LINEAR, 1, (uint32_t[]){17}, 20, 3);
    n = bpft_node(m, n, "add3", BPF_OP_ADD, 2, (uint32_t[]){19, 20}, 21, UINT32_MAX);
    n = bpft_node(m, n, "softmax", BPF_OP_SOFTMAX, 1, (uint32_t[]){21}, 22, UINT32_MAX);
    assert_int_equal(n, BPFT_N_NODES);

    m->inputs[0] = 0;
    m->outputs[0] = 22;
    m->d.n_meta = BPFT_N_META;
    m->d.meta = m->meta;
    m->d.n_tensors = BPFT_N_TENSORS;
    m->d.tensors = m->tensors;
    m->d.n_nodes = BPFT_N_NODES;
    m->d.nodes = m->nodes;
    m->d.n_layers = BPFT_N_LAYERS;
    m->d.layers = m->layers;
    m->d.n_inputs = 1;
    m->d.n_outputs = 1;
    m->d.inputs = m->inputs;
    m->d.outputs = m->outputs;
}

void *bpft_write(const bpft_model *m, size_t *size)
{
    void *buf = NULL;
    bpf_status st = bpf_write_memory(&m->d, &buf, size);
    if (st != BPF_OK) fprintf(stderr, "bpft_write: %d: %s\n", st, bpf_last_error());
    assert_int_equal(st, BPF_OK);
    assert_non_null(buf);
    return buf;
}

static const uint8_t *bpft_entry(const uint8_t *b, uint32_t kind)
{
    for (uint32_t i = 0; i < BPF_N_SECTIONS; i++) {
        const uint8_t *e = b + BPF_HEADER_SIZE + i * BPF_SECTION_ENTRY_SIZE;
        if (bpf_rd32(e + BPF_S_KIND) == kind) return e;
    }
    fail_msg("section kind %u not found", kind);
    return NULL;
}

uint64_t bpft_section_off(const uint8_t *b, uint32_t kind)
{
    return bpf_rd64(bpft_entry(b, kind) + BPF_S_OFFSET);
}

uint64_t bpft_section_size(const uint8_t *b, uint32_t kind)
{
    return bpf_rd64(bpft_entry(b, kind) + BPF_S_SIZE);
}

uint8_t *bpft_record(uint8_t *b, uint32_t kind, uint32_t rec_size, uint32_t i)
{
    return b + bpft_section_off(b, kind) + (uint64_t)rec_size * i;
}

void bpft_refix(uint8_t *b, size_t size)
{
    if (size < BPF_HEADER_SIZE) return;
    uint32_t ns = bpf_rd32(b + BPF_H_N_SECTIONS);
    if (ns > 64 || BPF_HEADER_SIZE + (uint64_t)ns * BPF_SECTION_ENTRY_SIZE > size) return;
    for (uint32_t i = 0; i < ns; i++) {
        uint8_t *e = b + BPF_HEADER_SIZE + i * BPF_SECTION_ENTRY_SIZE;
        uint64_t off = bpf_rd64(e + BPF_S_OFFSET), sz = bpf_rd64(e + BPF_S_SIZE);
        if (off <= size && sz <= size - off)
            bpf_wr64(e + BPF_S_HASH, XXH3_64bits(b + off, (size_t)sz));
    }
    bpf_wr64(b + BPF_H_TABLE_HASH, bpf_table_hash(b, ns));
}

void *bpft_write_identity_chain(uint32_t n_layers, uint32_t width, size_t *size)
{
    assert_true(n_layers >= 1 && n_layers <= 64 && width >= 1 && width <= BPF_K_MAX);
    static char names[2 * 64 + 1][16];
    float *w_scale = malloc(sizeof(float) * width), *bias = malloc(sizeof(float) * width);
    uint32_t *row_ptr = malloc(sizeof(uint32_t) * (2 * (size_t)width + 1));
    uint16_t *col_idx = malloc(sizeof(uint16_t) * width);
    bpf_tensor *ts = calloc(n_layers + 1, sizeof *ts);
    bpf_node *ns = calloc(n_layers, sizeof *ns);
    bpf_layer *ls = calloc(n_layers, sizeof *ls);
    assert_true(w_scale && bias && row_ptr && col_idx && ts && ns && ls);
    row_ptr[0] = 0;
    for (uint32_t j = 0; j < width; j++) {
        w_scale[j] = 0.5f + 0.25f * (float)(j % 3);
        bias[j] = 0.125f * (float)(j % 7) - 0.25f;
        row_ptr[2 * j + 1] = j + 1; /* plane 0, sign +: column j */
        row_ptr[2 * j + 2] = j + 1; /* plane 0, sign -: nothing */
        col_idx[j] = (uint16_t)j;
    }
    for (uint32_t t = 0; t <= n_layers; t++) {
        snprintf(names[t], sizeof names[t], t ? "y%u" : "x", t);
        ts[t] = (bpf_tensor){.name = names[t], .dtype = BPF_DT_F32, .ndim = 2, .dims = {1, width}};
    }
    for (uint32_t l = 0; l < n_layers; l++) {
        snprintf(names[65 + l], sizeof names[65 + l], "fc%u", l);
        ns[l] = (bpf_node){.name = names[65 + l], .op = BPF_OP_LINEAR, .n_in = 1, .n_out = 1,
                           .in = {l}, .out = {l + 1}, .layer = l};
        ls[l] = (bpf_layer){.kind = BPF_LAYER_LINEAR, .c_out = width, .c_in = width, .kh = 1,
                            .kw = 1, .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1,
                            .groups = 1, .K = width, .M = 1, .encoding = BPF_ENC_BINARY,
                            .w_max = 1, .act_dtype = BPF_DT_U8, .act_scale = 1.0f / 16,
                            .w_scale = w_scale, .bias = bias, .idx_bytes = 2,
                            .n_digits = width, .row_ptr = row_ptr, .col_idx = col_idx};
    }
    const uint32_t in = 0, out = n_layers;
    const bpf_model_desc d = {.n_tensors = n_layers + 1, .tensors = ts, .n_nodes = n_layers,
                              .nodes = ns, .n_layers = n_layers, .layers = ls, .n_inputs = 1,
                              .n_outputs = 1, .inputs = &in, .outputs = &out};
    void *buf = NULL;
    bpf_status st = bpf_write_memory(&d, &buf, size);
    if (st != BPF_OK) fprintf(stderr, "bpft_write_identity_chain: %d: %s\n", st, bpf_last_error());
    assert_int_equal(st, BPF_OK);
    free(w_scale);
    free(bias);
    free(row_ptr);
    free(col_idx);
    free(ts);
    free(ns);
    free(ls);
    return buf;
}

void bpft_share_layer_arrays(uint8_t *b, size_t *size)
{
    static const uint32_t fields[4] = {BPF_L_W_SCALE_OFF, BPF_L_BIAS_OFF, BPF_L_ROW_PTR_OFF,
                                       BPF_L_COL_IDX_OFF};
    uint32_t nl = (uint32_t)(bpft_section_size(b, BPF_SEC_LAYERS) / BPF_LAYER_REC);
    uint64_t data_off = bpft_section_off(b, BPF_SEC_DATA);
    assert_int_equal(data_off + bpft_section_size(b, BPF_SEC_DATA), *size);
    if (nl < 2) return;
    const uint8_t *r0 = bpft_record(b, BPF_SEC_LAYERS, BPF_LAYER_REC, 0);
    /* The writer stores the arrays layer after layer (after any tensor data),
     * so layer 0's end where layer 1's begin. */
    uint64_t end = bpf_rd64(bpft_record(b, BPF_SEC_LAYERS, BPF_LAYER_REC, 1) + BPF_L_W_SCALE_OFF);
    for (uint32_t f = 0; f < 4; f++) assert_true(bpf_rd64(r0 + fields[f]) < end);
    for (uint32_t l = 1; l < nl; l++) {
        uint8_t *r = bpft_record(b, BPF_SEC_LAYERS, BPF_LAYER_REC, l);
        for (uint32_t f = 0; f < 4; f++) bpf_wr64(r + fields[f], bpf_rd64(r0 + fields[f]));
    }
    uint8_t *e = NULL;
    for (uint32_t i = 0; i < BPF_N_SECTIONS; i++) {
        uint8_t *x = b + BPF_HEADER_SIZE + i * BPF_SECTION_ENTRY_SIZE;
        if (bpf_rd32(x + BPF_S_KIND) == BPF_SEC_DATA) e = x;
    }
    bpf_wr64(e + BPF_S_SIZE, end - data_off);
    bpf_wr64(b + BPF_H_FILE_SIZE, end);
    *size = (size_t)end;
    bpft_refix(b, *size);
}
