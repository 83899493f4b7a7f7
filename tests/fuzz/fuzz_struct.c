/* Structure-aware fuzzer of the .bp validator and the engine: valid seed
 * models built in-process get record *fields* mutated (dims, strides, pads,
 * groups, node wiring, tensor ids, dtypes, planes, scales, M, encodings,
 * metadata, counts), optionally shapes re-derived so the edit survives,
 * are re-sealed by the format writer, validated, and when accepted run on
 * every backend at batch 1 and 2 or 3 (backend_check.c). Also a libFuzzer target
 * (FZ_LIBFUZZER): the input bytes drive the same mutations.
 * Usage: fuzz_struct [--seconds S] [--iters N] [--seed N] [--only I [--save F]] */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "backend_check.h"
#include "bpf_internal.h"
#include "bpf_testmodel.h"
#include "fuzz_harness.h"
#include "model_builders.h"
#include "model_edit.h"

#define FS_N_SEEDS 6
#define FS_MAX_ARRAY (16u << 20) /* one edited array; larger edits are skipped */

typedef struct fs_ctx {
    void *seed_buf[FS_N_SEEDS];
    size_t seed_size[FS_N_SEEDS];
    const char *seed_name[FS_N_SEEDS];
    fz_check_stats cs;
    long writer_refused, too_big, raw_edits, accepted, engine_budget_skips;
    long verdicts[16];
    char log[2048]; /* the edits of the current iteration */
    size_t log_len;
    int verbose;
} fs_ctx;

static void fs_log(fs_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fs_log(fs_ctx *c, const char *fmt, ...)
{
    if (c->log_len + 2 >= sizeof c->log) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->log + c->log_len, sizeof c->log - c->log_len - 1, fmt, ap);
    va_end(ap);
    if (n > 0) c->log_len += (size_t)n < sizeof c->log - c->log_len - 1
                                 ? (size_t)n : sizeof c->log - c->log_len - 1;
    c->log[c->log_len++] = ';';
    c->log[c->log_len] = 0;
}

/* ---- seed models ---- */

static int fs_seed_tiny_conv(uint64_t seed, void **buf, size_t *size)
{
    bpt_builder *b = bpt_new(seed, (bpt_wspec){0.6, BPF_ENC_BINARY, 0});
    uint32_t d[4] = {1, 3, 9, 7};
    uint32_t x = bpt_input(b, "x", 4, d);
    uint32_t t = bpt_relu(b, bpt_conv_ex(b, "c1", x, 8, 3, 3, 2, 1, 1, 0, 1, 1, 1, 1, 1, 0));
    uint32_t dw = bpt_conv(b, "dw", t, 8, 3, 3, 1, 1, 1, 8, 1);
    uint32_t pw = bpt_conv(b, "pw", t, 8, 1, 1, 1, 0, 1, 1, 0);
    t = bpt_add(b, dw, pw);
    bpt_output(b, t);
    t = bpt_pool(b, t, 1, 2, 2, 0);
    t = bpt_flatten(b, bpt_gap(b, t));
    uint32_t y = bpt_linear(b, "fc", t, 5, 1);
    bpt_output(b, bpt_softmax(b, y));
    int st = bpt_calibrate(b, 2);
    if (!st) st = bpt_write(b, buf, size);
    bpt_free(b);
    return st;
}

static int fs_seed_mlp(uint64_t seed, void **buf, size_t *size)
{
    bpt_builder *b = bpt_new(seed, (bpt_wspec){0.4, BPF_ENC_CSD, 1});
    uint32_t d0[2] = {1, 20}, d1[2] = {1, 16};
    uint32_t x = bpt_input(b, "x", 2, d0);
    uint32_t side = bpt_input(b, "side", 2, d1);
    uint32_t h = bpt_gelu(b, bpt_linear(b, "fc1", x, 16, 1));
    h = bpt_layernorm(b, h, 1e-5f, NULL, NULL);
    uint32_t h2 = bpt_linear(b, "fc2", h, 16, 1);
    h = bpt_relu(b, bpt_add(b, h2, side));
    h = bpt_layerscale(b, h, NULL);
    bpt_output(b, bpt_linear(b, "fc3", h, 5, 0));
    int st = bpt_calibrate(b, 2);
    if (!st) st = bpt_write(b, buf, size);
    bpt_free(b);
    return st;
}

static int fs_seed_wide(uint64_t seed, void **buf, size_t *size)
{
    bpt_builder *b = bpt_new(seed, (bpt_wspec){0.9, BPF_ENC_CSD, 1});
    uint32_t d[4] = {1, 4, 8, 8};
    uint32_t x = bpt_input(b, "x", 4, d);
    uint32_t t = bpt_conv_ex(b, "g2", x, 6, 3, 2, 1, 2, 0, 1, 2, 0, 2, 1, 2, 1);
    t = bpt_batchnorm(b, t, NULL, NULL);
    t = bpt_pool(b, t, 0, 3, 1, 1);
    t = bpt_gelu(b, t);
    t = bpt_conv(b, "s2d", t, 8, 2, 2, 2, 0, 1, 1, 0);
    t = bpt_layerscale(b, t, NULL);
    bpt_output(b, bpt_softmax(b, t));
    int st = bpt_calibrate(b, 2);
    if (!st) st = bpt_write(b, buf, size);
    bpt_free(b);
    return st;
}

static int fs_seed_testmodel(uint64_t seed, void **buf, size_t *size)
{
    bpft_model *t = malloc(sizeof *t);
    if (!t) return BPF_ERR_NOMEM;
    bpft_build(t, (uint32_t)seed | 1u);
    int st = bpf_write_memory(&t->d, buf, size);
    free(t);
    return st;
}

static int fs_build_seeds(fs_ctx *c, uint64_t seed)
{
    c->seed_name[0] = "formats-testmodel";
    c->seed_name[1] = "tiny-conv";
    c->seed_name[2] = "mlp";
    c->seed_name[3] = "wide-weights";
    c->seed_name[4] = "resnet";
    c->seed_name[5] = "convnext";
    int st = fs_seed_testmodel(seed, &c->seed_buf[0], &c->seed_size[0]);
    if (!st) st = fs_seed_tiny_conv(seed + 1, &c->seed_buf[1], &c->seed_size[1]);
    if (!st) st = fs_seed_mlp(seed + 2, &c->seed_buf[2], &c->seed_size[2]);
    if (!st) st = fs_seed_wide(seed + 3, &c->seed_buf[3], &c->seed_size[3]);
    if (!st) st = bpt_build_resnet(seed + 4, 0.5, BPF_ENC_BINARY, &c->seed_buf[4], &c->seed_size[4]);
    if (!st) st = bpt_build_convnext(seed + 5, 0.7, BPF_ENC_CSD, &c->seed_buf[5], &c->seed_size[5]);
    if (st) fprintf(stderr, "fuzz_struct: building the seed models failed: %d\n", st);
    return st;
}

/* ---- values worth trying ---- */

static uint32_t fs_u32(fz_rng *r, uint32_t cur)
{
    static const uint32_t v[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 31, 32, 63, 64, 65, 127,
                                 128, 255, 256, 1023, 4096, 32767, 32768, 32769, 65535, 65536,
                                 65537, 1u << 20, (1u << 20) + 1, 0x7FFFFFFFu, 0x80000000u,
                                 0xFFFFFFFEu, 0xFFFFFFFFu};
    switch (fz_below(r, 4)) {
    case 0: return v[fz_below(r, sizeof v / sizeof v[0])];
    case 1: return cur + fz_range(r, 1, 3);
    case 2: return cur - fz_range(r, 1, 3);
    default: return fz_below(r, 10);
    }
}

static float fs_f32(fz_rng *r, float cur)
{
    static const float v[] = {0.0f, -0.0f, -1.0f, 1.0f, 0.5f, 2.0f, 1e-40f, -1e-40f, FLT_MIN,
                              FLT_MAX, -FLT_MAX, 1e-30f, 1e30f, 3e38f, 1e-7f, 65504.0f};
    switch (fz_below(r, 6)) {
    case 0: return NAN;
    case 1: return fz_chance(r, 50) ? INFINITY : -INFINITY;
    case 2: return cur * (float)fz_range(r, 2, 1000);
    case 3: return -cur;
    default: return v[fz_below(r, sizeof v / sizeof v[0])];
    }
}

static uint32_t fs_tensor_id(fz_rng *r, const me_model *e)
{
    return fz_chance(r, 90) ? fz_below(r, e->n_tensors + 1) : fs_u32(r, e->n_tensors);
}

/* ---- mutations ---- */

static void fs_mut_tensor(fs_ctx *c, me_model *e, fz_rng *r)
{
    if (!e->n_tensors) return;
    uint32_t i = fz_below(r, e->n_tensors);
    bpf_tensor *t = &e->tensors[i];
    switch (fz_below(r, 9)) {
    case 0: case 1: { /* a dimension (the batch one too) */
        uint32_t k = fz_below(r, BPF_MAX_DIMS);
        t->dims[k] = fz_chance(r, 60) ? fz_range(r, 1, 12) : fs_u32(r, t->dims[k]);
        fs_log(c, "tensor %u dims[%u]=%u", i, k, t->dims[k]);
        break;
    }
    case 2: {
        uint32_t nd = fz_below(r, 8);
        for (uint32_t k = t->ndim; k < nd && k < BPF_MAX_DIMS; k++) t->dims[k] = fz_range(r, 1, 3);
        for (uint32_t k = nd; k < BPF_MAX_DIMS; k++) if (fz_chance(r, 80)) t->dims[k] = 0;
        t->ndim = nd;
        fs_log(c, "tensor %u ndim=%u", i, nd);
        break;
    }
    case 3: t->dtype = fz_below(r, 6); fs_log(c, "tensor %u dtype=%u", i, t->dtype); break;
    case 4: t->scale = fs_f32(r, t->scale); fs_log(c, "tensor %u scale=%g", i, (double)t->scale); break;
    case 5: /* constant <-> activation */
        if (t->data) {
            t->data = NULL;
            if (fz_chance(r, 70)) t->nbytes = 0;
            fs_log(c, "tensor %u no data (nbytes %llu)", i, (unsigned long long)t->nbytes);
        } else {
            uint64_t el = 1;
            for (uint32_t k = 0; k < t->ndim && k < BPF_MAX_DIMS; k++) el *= t->dims[k];
            size_t bytes = el * 4 <= FS_MAX_ARRAY ? (size_t)el * 4 : 64;
            if (fz_chance(r, 20)) bytes += fz_range(r, 1, 8);
            me_set_data(e, i, NULL, bytes, r);
            fs_log(c, "tensor %u data %zu bytes", i, bytes);
        }
        break;
    case 6:
        if (t->data) {
            t->nbytes = fz_chance(r, 50) ? t->nbytes + fz_range(r, 1, 8) : t->nbytes - fz_range(r, 0, 4);
            if (t->nbytes > FS_MAX_ARRAY) t->nbytes = 0;
            fs_log(c, "tensor %u nbytes=%llu", i, (unsigned long long)t->nbytes);
        }
        break;
    case 7: { /* a constant's values */
        if (t->data && t->nbytes >= 4 && e->tcap[i] >= t->nbytes) {
            float *p = (float *)t->data;
            size_t k = fz_below(r, (uint32_t)(t->nbytes / 4));
            p[k] = fs_f32(r, p[k]);
            fs_log(c, "tensor %u value[%zu]=%g", i, k, (double)p[k]);
        }
        break;
    }
    default: { /* names: long, bad UTF-8, empty */
        static const char *const bad[] = {"", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                          "ok \xce\xbb", "\xff"};
        if (fz_chance(r, 20)) {
            char *s = me_alloc(e, 4098);
            if (s) memset(s, 'a', 4096 + fz_below(r, 2));
            t->name = s;
        } else {
            t->name = bad[fz_below(r, sizeof bad / sizeof bad[0])];
        }
        fs_log(c, "tensor %u name", i);
        break;
    }
    }
}

static void fs_mut_node(fs_ctx *c, me_model *e, fz_rng *r)
{
    if (!e->n_nodes) return;
    uint32_t i = fz_below(r, e->n_nodes);
    bpf_node *n = &e->nodes[i];
    switch (fz_below(r, 9)) {
    case 0: n->op = fz_below(r, BPF_OP_COUNT + 2); fs_log(c, "node %u op=%u", i, n->op); break;
    case 1: n->n_in = fz_below(r, 6); fs_log(c, "node %u n_in=%u", i, n->n_in); break;
    case 2: n->n_out = fz_below(r, 6); fs_log(c, "node %u n_out=%u", i, n->n_out); break;
    case 3: case 4: {
        uint32_t k = fz_below(r, BPF_MAX_IO);
        n->in[k] = fs_tensor_id(r, e);
        fs_log(c, "node %u in[%u]=%u", i, k, n->in[k]);
        break;
    }
    case 5: n->out[0] = fs_tensor_id(r, e); fs_log(c, "node %u out[0]=%u", i, n->out[0]); break;
    case 6:
        n->layer = fz_chance(r, 70) ? fz_below(r, e->n_layers + 1) : fs_u32(r, n->layer);
        fs_log(c, "node %u layer=%u", i, n->layer);
        break;
    case 7: { /* attributes: pool window/stride/padding mostly */
        uint32_t k = fz_below(r, 8);
        n->ints[k] = fz_chance(r, 70) ? (int32_t)fz_below(r, 6) : (int32_t)fs_u32(r, (uint32_t)n->ints[k]);
        fs_log(c, "node %u ints[%u]=%d", i, k, n->ints[k]);
        break;
    }
    default: {
        uint32_t k = fz_chance(r, 70) ? 0 : fz_below(r, 4);
        n->floats[k] = fz_chance(r, 40) ? (float)(1e-6 * fz_range(r, 1, 100000)) : fs_f32(r, n->floats[k]);
        fs_log(c, "node %u floats[%u]=%g", i, k, (double)n->floats[k]);
        break;
    }
    }
}

static void fs_mut_layer(fs_ctx *c, me_model *e, fz_rng *r)
{
    if (!e->n_layers) return;
    uint32_t i = fz_below(r, e->n_layers);
    bpf_layer *L = &e->layers[i];
    uint32_t *geo[] = {&L->kind, &L->c_out, &L->c_in, &L->kh, &L->kw, &L->stride_h,
                       &L->stride_w, &L->pad_t, &L->pad_l, &L->pad_b, &L->pad_r, &L->dil_h,
                       &L->dil_w, &L->groups, &L->K, &L->M, &L->encoding, &L->w_max,
                       &L->act_dtype, &L->idx_bytes};
    static const char *const names[] = {"kind", "c_out", "c_in", "kh", "kw", "stride_h",
                                        "stride_w", "pad_t", "pad_l", "pad_b", "pad_r", "dil_h",
                                        "dil_w", "groups", "K", "M", "encoding", "w_max",
                                        "act_dtype", "idx_bytes"};
    switch (fz_below(r, 8)) {
    case 0: case 1: case 2: { /* a record field; small values mostly */
        uint32_t k = fz_below(r, sizeof geo / sizeof geo[0]);
        *geo[k] = fz_chance(r, 60) ? fz_range(r, k >= 7 && k <= 10 ? 0 : 1, 5)
                                   : fs_u32(r, *geo[k]);
        fs_log(c, "layer %u %s=%u", i, names[k], *geo[k]);
        break;
    }
    case 3:
        L->act_scale = fz_chance(r, 30) ? L->act_scale * (float)fz_range(r, 2, 64)
                                        : fs_f32(r, L->act_scale);
        fs_log(c, "layer %u act_scale=%g", i, (double)L->act_scale);
        break;
    case 4: { /* a w_scale or bias entry */
        if (!L->c_out || e->ls[i].ws_cap < L->c_out || e->ls[i].bias_cap < L->c_out) break;
        uint32_t j = fz_below(r, L->c_out);
        float *ws = (float *)L->w_scale, *bs = (float *)L->bias;
        if (fz_chance(r, 50)) ws[j] = fs_f32(r, ws[j]);
        else bs[j] = fs_f32(r, bs[j]);
        fs_log(c, "layer %u w_scale/bias[%u]=%g/%g", i, j, (double)ws[j], (double)bs[j]);
        break;
    }
    case 5: { /* a row pointer */
        size_t n = (size_t)L->c_out * L->M * 2 + 1;
        if (n > e->ls[i].rp_cap || L->M > BPF_M_MAX) break;
        size_t k = fz_below(r, (uint32_t)n);
        uint32_t *rp = (uint32_t *)L->row_ptr;
        rp[k] = fz_chance(r, 70) ? rp[k] + (fz_chance(r, 50) ? 1u : -1u) : fs_u32(r, rp[k]);
        fs_log(c, "layer %u row_ptr[%zu]=%u", i, k, rp[k]);
        break;
    }
    case 6: { /* a column index */
        uint32_t ib = L->idx_bytes == 4 ? 4 : 2;
        if (!L->n_digits || L->n_digits * ib > e->ls[i].ci_cap) break;
        size_t k = (size_t)(fz_next(r) % L->n_digits);
        uint32_t v;
        switch (fz_below(r, 4)) {
        case 0: v = L->K; break;
        case 1: v = L->K ? L->K - 1 : 0; break;
        case 2: v = k ? (ib == 2 ? ((uint16_t *)L->col_idx)[k - 1] : ((uint32_t *)L->col_idx)[k - 1]) : 0; break;
        default: v = fs_u32(r, 0); break;
        }
        if (ib == 2) ((uint16_t *)L->col_idx)[k] = (uint16_t)v;
        else ((uint32_t *)L->col_idx)[k] = v;
        fs_log(c, "layer %u col_idx[%zu]=%u", i, k, v);
        break;
    }
    default:
        L->n_digits = fz_chance(r, 50) ? L->n_digits + fz_range(r, 1, 3)
                                       : (L->n_digits ? L->n_digits - 1 : 0);
        fs_log(c, "layer %u n_digits=%llu", i, (unsigned long long)L->n_digits);
        break;
    }
}

/* Valid edits of the weights: another encoding, more digit positions than
 * needed, special values; the planes are re-encoded, so the model stays
 * valid and the engine runs it. */
static void fs_mut_weights(fs_ctx *c, me_model *e, fz_rng *r)
{
    if (!e->n_layers) return;
    uint32_t i = fz_below(r, e->n_layers);
    bpf_layer *L = &e->layers[i];
    me_layer_store *s = &e->ls[i];
    if (!s->dense || s->dense_rows != L->c_out || s->dense_K != L->K) return;
    size_t n = (size_t)L->c_out * L->K;
    int16_t *w = malloc(n * sizeof *w);
    if (!w) return;
    memcpy(w, s->dense, n * sizeof *w);
    const char *what = "re-encode";
    switch (fz_below(r, 4)) {
    case 0: me_random_weights(r, w, L->c_out, L->K); what = "new weights"; break;
    case 1: { /* a few special values */
        static const int16_t sv[] = {255, -255, 128, -128, 127, -127, 170, -171, 0, 1, -1};
        for (uint32_t q = fz_range(r, 1, 8); q > 0 && n; q--)
            w[fz_next(r) % n] = sv[fz_below(r, sizeof sv / sizeof sv[0])];
        what = "special values";
        break;
    }
    case 2: memset(w, 0, n * sizeof *w); what = "all zero"; break;
    default: break;
    }
    uint32_t enc = fz_below(r, 2), M = fz_chance(r, 50) ? 0 : fz_range(r, 1, BPF_M_MAX);
    if (me_encode_layer(e, i, w, L->c_out, L->K, enc, M, r) != 0)
        me_encode_layer(e, i, w, L->c_out, L->K, enc, 0, r);
    if (fz_chance(r, 20) && L->w_max < 255) L->w_max += fz_range(r, 0, 255 - L->w_max);
    fs_log(c, "layer %u %s enc %u M %u (asked %u) w_max %u", i, what, enc, L->M, M, L->w_max);
    free(w);
}

/* Geometry edits that keep the model valid once shapes are re-derived. */
static void fs_mut_geometry(fs_ctx *c, me_model *e, fz_rng *r)
{
    if (fz_chance(r, 30) && e->n_inputs && e->inputs[0] < e->n_tensors) {
        bpf_tensor *t = &e->tensors[e->inputs[0]];
        if (t->ndim >= 2 && !t->data) {
            uint32_t k = 1 + fz_below(r, t->ndim - 1);
            t->dims[k] = fz_chance(r, 15) ? fz_range(r, 25, 160) : fz_range(r, 1, k == 1 ? 12 : 24);
            fs_log(c, "input dims[%u]=%u", k, t->dims[k]);
        }
        return;
    }
    if (fz_chance(r, 25) && e->n_nodes) { /* pool window */
        uint32_t ni = fz_below(r, e->n_nodes);
        bpf_node *n = &e->nodes[ni];
        if (n->op == BPF_OP_MAXPOOL || n->op == BPF_OP_AVGPOOL) {
            int32_t k0 = (int32_t)fz_range(r, 1, 5), k1 = (int32_t)fz_range(r, 1, 5);
            int32_t a[8] = {k0, k1, (int32_t)fz_range(r, 1, 4), (int32_t)fz_range(r, 1, 4),
                            (int32_t)fz_below(r, (uint32_t)k0), (int32_t)fz_below(r, (uint32_t)k1),
                            (int32_t)fz_below(r, (uint32_t)k0), (int32_t)fz_below(r, (uint32_t)k1)};
            memcpy(n->ints, a, sizeof a);
            fs_log(c, "node %u pool %dx%d s%dx%d p%d,%d,%d,%d", ni, a[0], a[1], a[2], a[3], a[4],
                   a[5], a[6], a[7]);
            return;
        }
    }
    if (!e->n_layers) return;
    uint32_t i = fz_below(r, e->n_layers);
    bpf_layer *L = &e->layers[i];
    if (L->kind != BPF_LAYER_CONV) {
        L->c_out = fz_range(r, 1, 40);
        fs_log(c, "layer %u c_out=%u", i, L->c_out);
        return;
    }
    static const uint32_t big[] = {6, 7, 9, 16, 31, 63, 64};
    if (fz_chance(r, 15)) { /* towards the format's limits (64) */
        uint32_t *f[] = {&L->kh, &L->kw, &L->stride_h, &L->stride_w, &L->pad_t, &L->pad_l,
                         &L->pad_b, &L->pad_r, &L->dil_h, &L->dil_w};
        uint32_t k = fz_below(r, 10);
        *f[k] = big[fz_below(r, sizeof big / sizeof big[0])];
        fs_log(c, "layer %u large geometry field %u = %u", i, k, *f[k]);
        return;
    }
    switch (fz_below(r, 6)) {
    case 0: L->kh = fz_range(r, 1, 5); L->kw = fz_chance(r, 70) ? L->kh : fz_range(r, 1, 5); break;
    case 1: L->stride_h = fz_range(r, 1, 4); L->stride_w = fz_chance(r, 70) ? L->stride_h : fz_range(r, 1, 4); break;
    case 2: L->pad_t = fz_below(r, 4); L->pad_l = fz_below(r, 4); L->pad_b = fz_below(r, 4); L->pad_r = fz_below(r, 4); break;
    case 3: L->dil_h = fz_range(r, 1, 3); L->dil_w = fz_chance(r, 70) ? L->dil_h : fz_range(r, 1, 3); break;
    case 4: L->c_out = fz_range(r, 1, 40); if (L->c_out % L->groups) L->groups = 1; break;
    default: /* groups: depthwise, or a divisor */
        if (fz_chance(r, 50) && L->c_in) {
            L->groups = L->c_in;
            L->c_out = L->c_in * fz_range(r, 1, 2);
        } else {
            L->groups = fz_range(r, 1, 4);
        }
        break;
    }
    L->act_dtype = fz_chance(r, 80) ? L->act_dtype : (fz_chance(r, 50) ? BPF_DT_U8 : BPF_DT_S8);
    fs_log(c, "layer %u geometry k%ux%u s%ux%u p%u,%u,%u,%u d%ux%u g%u c_out %u act %u", i, L->kh,
           L->kw, L->stride_h, L->stride_w, L->pad_t, L->pad_l, L->pad_b, L->pad_r, L->dil_h,
           L->dil_w, L->groups, L->c_out, L->act_dtype);
}

static void fs_mut_io(fs_ctx *c, me_model *e, fz_rng *r)
{
    switch (fz_below(r, 4)) {
    case 0: e->n_inputs = fz_below(r, 6); fs_log(c, "n_inputs=%u", e->n_inputs); break;
    case 1: e->n_outputs = fz_below(r, 6); fs_log(c, "n_outputs=%u", e->n_outputs); break;
    case 2: {
        uint32_t k = fz_below(r, ME_MAX_IO);
        e->inputs[k] = fs_tensor_id(r, e);
        fs_log(c, "inputs[%u]=%u", k, e->inputs[k]);
        break;
    }
    default: { /* another tensor as an output: an intermediate, a constant, an input */
        uint32_t k = fz_below(r, ME_MAX_IO);
        e->outputs[k] = fs_tensor_id(r, e);
        if (k >= e->n_outputs && e->n_outputs < 4 && fz_chance(r, 50)) e->n_outputs = k + 1;
        fs_log(c, "outputs[%u]=%u (n %u)", k, e->outputs[k], e->n_outputs);
        break;
    }
    }
}

static void fs_mut_meta(fs_ctx *c, me_model *e, fz_rng *r)
{
    switch (fz_below(r, 4)) {
    case 0: if (e->n_meta) { e->meta[fz_below(r, e->n_meta)].key = ""; fs_log(c, "meta empty key"); } break;
    case 1: if (e->n_meta) { me_add_meta(e, e->meta[fz_below(r, e->n_meta)].key, "dup"); fs_log(c, "meta dup key"); } break;
    case 2: if (e->n_meta) { e->n_meta--; fs_log(c, "meta drop last"); } break;
    default: {
        char k[32];
        snprintf(k, sizeof k, "k%u", fz_below(r, 100000));
        me_add_meta(e, k, fz_chance(r, 50) ? "\xe2\x82\xac" : "\xe2\x82");
        fs_log(c, "meta add %s", k);
        break;
    }
    }
}

static void fs_mut_counts(fs_ctx *c, me_model *e, fz_rng *r)
{
    switch (fz_below(r, 7)) {
    case 0: if (e->n_tensors) { uint32_t i = fz_below(r, e->n_tensors); me_remove_tensor(e, i); fs_log(c, "remove tensor %u", i); } break;
    case 1: if (e->n_nodes) { uint32_t i = fz_below(r, e->n_nodes); me_remove_node(e, i); fs_log(c, "remove node %u", i); } break;
    case 2: if (e->n_layers) { uint32_t i = fz_below(r, e->n_layers); me_remove_layer(e, i); fs_log(c, "remove layer %u", i); } break;
    case 3: if (e->n_tensors) { /* duplicate: shares the data buffer */
        uint32_t i = fz_below(r, e->n_tensors);
        bpf_tensor t = e->tensors[i];
        t.data = NULL;
        uint32_t j = me_add_tensor(e, &t);
        if (j != UINT32_MAX) { e->tensors[j].data = e->tensors[i].data; e->tcap[j] = e->tcap[i]; }
        fs_log(c, "dup tensor %u", i);
    } break;
    case 4: if (e->n_nodes) { uint32_t i = fz_below(r, e->n_nodes); bpf_node n = e->nodes[i]; me_add_node(e, &n); fs_log(c, "dup node %u", i); } break;
    case 5: if (e->n_nodes > 1) { /* swap two nodes: order */
        uint32_t a = fz_below(r, e->n_nodes), b = fz_below(r, e->n_nodes);
        bpf_node t = e->nodes[a];
        e->nodes[a] = e->nodes[b];
        e->nodes[b] = t;
        fs_log(c, "swap nodes %u %u", a, b);
    } break;
    default: if (e->n_layers) { /* duplicate a layer record, sharing arrays */
        uint32_t i = fz_below(r, e->n_layers);
        bpf_layer L = e->layers[i];
        me_layer_store s = e->ls[i];
        uint32_t j = me_add_layer(e, &(bpf_layer){0});
        if (j != UINT32_MAX) { e->layers[j] = L; e->ls[j] = s; }
        fs_log(c, "dup layer %u", i);
    } break;
    }
}

/* Rewires one node input to another activation of the same shape (a new
 * residual or a skip): valid, and exercises fusion and memory planning. */
static void fs_mut_rewire(fs_ctx *c, me_model *e, fz_rng *r)
{
    if (!e->n_nodes) return;
    uint32_t ni = fz_below(r, e->n_nodes);
    bpf_node *n = &e->nodes[ni];
    if (n->n_in < 1 || n->n_in > BPF_MAX_IO || n->in[0] >= e->n_tensors) return;
    if (n->op == BPF_OP_ADD && fz_chance(r, 30)) {
        /* one operand a constant f32 tensor of the same shape */
        uint32_t k = fz_below(r, 2);
        bpf_tensor t = e->tensors[n->in[1 - k]];
        uint64_t el = 1;
        for (uint32_t d = 0; d < t.ndim && d < BPF_MAX_DIMS; d++) el *= t.dims[d];
        if (t.data || el * 4 > FS_MAX_ARRAY) return;
        t.name = "const.operand";
        t.data = NULL;
        uint32_t id = me_add_tensor(e, &t);
        if (id == UINT32_MAX) return;
        float *v = malloc((size_t)el * 4);
        if (!v) return;
        for (uint64_t q = 0; q < el; q++) v[q] = (float)(fz_unif(r) * 2.0 - 1.0);
        me_set_data(e, id, v, (size_t)el * 4, NULL);
        free(v);
        e->tensors[id].dtype = BPF_DT_F32;
        n->in[k] = id;
        fs_log(c, "node %u in[%u] = constant tensor %u", ni, k, id);
        return;
    }
    uint32_t k = n->op == BPF_OP_ADD ? fz_below(r, 2) : 0;
    const bpf_tensor *x = &e->tensors[n->in[k]];
    /* candidates: graph inputs and outputs of earlier nodes with x's shape */
    uint32_t cand[64], nc = 0;
    for (uint32_t j = 0; j < ni && nc < 64; j++) {
        uint32_t t = e->nodes[j].out[0];
        if (t < e->n_tensors && e->tensors[t].ndim == x->ndim &&
            !memcmp(e->tensors[t].dims, x->dims, sizeof x->dims))
            cand[nc++] = t;
    }
    for (uint32_t j = 0; j < e->n_inputs && nc < 64; j++)
        if (e->inputs[j] < e->n_tensors && e->tensors[e->inputs[j]].ndim == x->ndim &&
            !memcmp(e->tensors[e->inputs[j]].dims, x->dims, sizeof x->dims))
            cand[nc++] = e->inputs[j];
    if (!nc) return;
    n->in[k] = cand[fz_below(r, nc)];
    fs_log(c, "node %u in[%u] rewired to %u", ni, k, n->in[k]);
}

/* Points a layer or tensor array at another aligned place of DATA in the
 * written file and re-seals every hash: overlapping arrays are legal, so
 * only the plane/value rules stand between such a file and the engine. */
static void fs_raw_edit(fs_ctx *c, uint8_t *b, size_t size, fz_rng *r)
{
    uint64_t doff = 0, dsz = 0, loff = 0, lsz = 0, toff = 0, tsz = 0;
    for (uint32_t s = 0; s < BPF_N_SECTIONS; s++) {
        const uint8_t *ent = b + BPF_HEADER_SIZE + s * BPF_SECTION_ENTRY_SIZE;
        uint32_t kind = bpf_rd32(ent + BPF_S_KIND);
        uint64_t off = bpf_rd64(ent + BPF_S_OFFSET), sz = bpf_rd64(ent + BPF_S_SIZE);
        if (kind == BPF_SEC_DATA) { doff = off; dsz = sz; }
        if (kind == BPF_SEC_LAYERS) { loff = off; lsz = sz; }
        if (kind == BPF_SEC_TENSORS) { toff = off; tsz = sz; }
    }
    if (!dsz || doff + dsz > size) return;
    uint64_t target = doff + (fz_next(r) % (dsz / BPF_ALIGN + 1)) * BPF_ALIGN;
    if (lsz >= BPF_LAYER_REC && (fz_chance(r, 70) || tsz < BPF_TENSOR_REC)) {
        uint32_t l = fz_below(r, (uint32_t)(lsz / BPF_LAYER_REC));
        static const uint32_t fo[4] = {BPF_L_W_SCALE_OFF, BPF_L_BIAS_OFF, BPF_L_ROW_PTR_OFF,
                                       BPF_L_COL_IDX_OFF};
        uint32_t f = fo[fz_below(r, 4)];
        if (loff + (uint64_t)(l + 1) * BPF_LAYER_REC > size) return;
        bpf_wr64(b + loff + (uint64_t)l * BPF_LAYER_REC + f, target);
        fs_log(c, "raw layer %u field %u -> %llu", l, f, (unsigned long long)target);
    } else if (tsz >= BPF_TENSOR_REC) {
        uint32_t t = fz_below(r, (uint32_t)(tsz / BPF_TENSOR_REC));
        uint8_t *rec = b + toff + (uint64_t)t * BPF_TENSOR_REC;
        if (toff + (uint64_t)(t + 1) * BPF_TENSOR_REC > size || !bpf_rd64(rec + BPF_T_NBYTES)) return;
        bpf_wr64(rec + BPF_T_DATA_OFF, target);
        fs_log(c, "raw tensor %u data -> %llu", t, (unsigned long long)target);
    } else {
        return;
    }
    c->raw_edits++;
    for (uint32_t s = 0; s < BPF_N_SECTIONS; s++) {
        uint8_t *ent = b + BPF_HEADER_SIZE + s * BPF_SECTION_ENTRY_SIZE;
        uint64_t off = bpf_rd64(ent + BPF_S_OFFSET), sz = bpf_rd64(ent + BPF_S_SIZE);
        if (off <= size && sz <= size - off) bpf_wr64(ent + BPF_S_HASH, XXH3_64bits(b + off, (size_t)sz));
    }
    bpf_wr64(b + BPF_H_TABLE_HASH, bpf_table_hash(b, BPF_N_SECTIONS));
}

/* Work the engine would do on a validated model (per image); models beyond
 * the budget are only validated, not run (kept fast under sanitizers). */
static int fs_within_budget(const bpf_model *m)
{
    uint64_t act = 0, weights = 0, work = 0;
    for (uint32_t t = 0; t < m->n_tensors; t++) {
        const bpf_tensor *T = &m->tensors[t];
        if (T->data) continue;
        uint64_t e = 1;
        for (uint32_t d = 0; d < T->ndim; d++) e *= T->dims[d];
        act += e;
    }
    for (uint32_t l = 0; l < m->n_layers; l++) weights += (uint64_t)m->layers[l].c_out * m->layers[l].K;
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const bpf_node *n = &m->nodes[i];
        const bpf_tensor *y = &m->tensors[n->out[0]];
        uint64_t ye = 1;
        for (uint32_t d = 0; d < y->ndim; d++) ye *= y->dims[d];
        if (n->op == BPF_OP_CONV2D || n->op == BPF_OP_LINEAR)
            work += ye * m->layers[n->layer].K; /* output elements x K */
        else if (n->op == BPF_OP_MAXPOOL || n->op == BPF_OP_AVGPOOL)
            work += ye * (uint64_t)n->ints[0] * (uint64_t)n->ints[1];
        else
            work += ye * 4;
    }
    return act <= (1u << 20) && weights <= (1u << 20) && work <= (12u << 20);
}

static int fs_one(fs_ctx *c, fz_rng *r, const char *save)
{
    c->log_len = 0;
    c->log[0] = 0;
    uint32_t si = fz_below(r, 100) < 80 ? fz_below(r, 4) : 4 + fz_below(r, 2);
    me_model *e = me_from_buffer(c->seed_buf[si], c->seed_size[si]);
    if (!e) {
        printf("FAIL: seed model %s does not load back\n", c->seed_name[si]);
        return 1;
    }
    fs_log(c, "seed %s", c->seed_name[si]);
    int semantic = 0;
    uint32_t nm = fz_range(r, 1, 4);
    for (uint32_t k = 0; k < nm; k++) {
        uint32_t p = fz_below(r, 100);
        if (p < 14) fs_mut_tensor(c, e, r);
        else if (p < 26) fs_mut_node(c, e, r);
        else if (p < 42) fs_mut_layer(c, e, r);
        else if (p < 60) { fs_mut_weights(c, e, r); semantic = 1; }
        else if (p < 80) { fs_mut_geometry(c, e, r); semantic = 1; }
        else if (p < 86) { fs_mut_rewire(c, e, r); semantic = 1; }
        else if (p < 90) fs_mut_io(c, e, r);
        else if (p < 93) fs_mut_meta(c, e, r);
        else fs_mut_counts(c, e, r);
    }
    if (semantic ? fz_chance(r, 90) : fz_chance(r, 30)) {
        me_repair(e, r);
        fs_log(c, "repair");
    }
    void *buf = NULL;
    size_t size = 0;
    bpf_status ws = me_write(e, FS_MAX_ARRAY, r, &buf, &size);
    me_free(e);
    if (ws != BPF_OK) {
        if (ws == BPF_ERR_NOMEM) c->too_big++;
        else c->writer_refused++;
        return 0;
    }
    if (fz_chance(r, 8)) fs_raw_edit(c, buf, size, r);
    if (save) {
        FILE *f = fopen(save, "wb");
        if (f) {
            fwrite(buf, 1, size, f);
            fclose(f);
            printf("saved the model to %s\n", save);
        }
    }
    if (c->verbose) printf("  edits: %s\n", c->log);

    int fail = 0;
    bpf_model *fm = NULL, *fm2 = NULL;
    bpf_status vs = bpf_load_memory(buf, size, 0, &fm);
    bpf_status vs2 = bpf_load_memory(buf, size, BPF_LOAD_NO_CHECKSUM, &fm2);
    bpf_model_free(fm2);
    if (vs <= 0 && vs > -16) c->verdicts[-vs]++;
    if (vs != vs2) {
        printf("FAIL: the validator's verdict depends on checksum checking on a sealed file: "
               "%d vs %d (%s)\n", vs, vs2, bpf_last_error());
        fail = 1;
    } else if (vs != BPF_OK) {
        if (fm || !bpf_last_error()[0]) {
            printf("FAIL: rejection %d without a message or with a model\n", vs);
            fail = 1;
        } else if (c->verbose) {
            printf("  validator: %s\n", bpf_last_error());
        }
    } else {
        c->accepted++;
        if (!fs_within_budget(fm)) {
            c->engine_budget_skips++;
        } else {
            fz_check_cfg cfg = {0, -1, c->verbose};
            fail = fz_check_model(buf, size, &cfg, r, &c->cs);
        }
    }
    bpf_model_free(fm);
    free(buf);
    if (fail) printf("  edits of this input: %s\n", c->log);
    return fail;
}

#ifdef FZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fs_ctx *c;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c || fs_build_seeds(c, 1)) abort();
    }
    fz_rng r;
    fz_rng_bytes(&r, data, size);
    if (fs_one(c, &r, NULL)) abort();
    return 0;
}
#else
static void fs_free_seeds(fs_ctx *c)
{
    for (int i = 0; i < FS_N_SEEDS; i++) free(c->seed_buf[i]);
}

static int fs_iter(const fz_opts *o, long it, uint64_t it_seed, void *ctx)
{
    (void)it;
    fz_rng r;
    fz_rng_seed(&r, it_seed);
    return fs_one((fs_ctx *)ctx, &r, o->only >= 0 ? o->save : NULL);
}

int main(int argc, char **argv)
{
    fz_opts o;
    if (fz_parse_args(argc, argv, "fuzz_struct", &o)) return 2;
    fs_ctx *c = calloc(1, sizeof *c);
    if (!c) return 1;
    c->verbose = o.verbose;
    if (fs_build_seeds(c, o.seed)) {
        free(c);
        return 1;
    }
    int rc = fz_loop(&o, fs_iter, c);
    printf("fuzz_struct: validator verdicts:");
    for (int i = 0; i < 16; i++)
        if (c->verdicts[i]) printf(" %d:%ld", -i, c->verdicts[i]);
    printf(" (0 accepted); %ld accepted, %ld over the run budget, %ld refused by the writer, "
           "%ld too large to write, %ld raw offset edits\n",
           c->accepted, c->engine_budget_skips, c->writer_refused, c->too_big, c->raw_edits);
    fz_check_stats_print("fuzz_struct", &c->cs);
    fs_free_seeds(c);
    free(c);
    return rc;
}
#endif
