/* Test model builders (see model_builders.h): random bit-pruning-like
 * weights and calibration on top of the public writer API (bp_builder), plus
 * the small ResNet- and ConvNeXt-like models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune.h"
#include "bitprune_builder.h"
#include "bp_kernels.h"
#include "model_builders.h"

/* The test's own record of a layer: what it asked for (the geometry, the
 * dense weights it drew, the digit positions and range they need). */
typedef struct bpt_layer_rec {
    bpf_layer L; /* w_scale and bias point at the arrays below; no planes */
    int16_t *dense;
    float *w_scale, *bias;
} bpt_layer_rec;

struct bpt_builder {
    uint64_t rng;
    bpt_wspec ws;
    bp_builder *b;
    bpt_layer_rec *layers;
    uint32_t n_layers, cap_layers;
    uint32_t n_inputs;
    uint32_t inputs[8];
    uint32_t **dims; /* per tensor id: ndim, dims[6] (filled on demand; blocks never move) */
    uint32_t cap_dims;
    int failed; /* first failure's status (sticky) */
};

uint64_t bpt_rand(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double bpt_unif(uint64_t *s)
{
    return (double)(bpt_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

void bpt_fill_uniform(uint64_t *state, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)bpt_unif(state);
}

uint64_t bpt_test_seed(const char *suite)
{
    const char *e = getenv("BP_TEST_SEED");
    uint64_t seed = e && *e ? strtoull(e, NULL, 0) : 0x5eed2026ull;
    printf("[ %s ] seed %llu (override with BP_TEST_SEED)\n", suite, (unsigned long long)seed);
    return seed;
}

/* Records the first failure (printed once) and returns an id that later
 * calls reject again, so a broken model fails at bpt_write. */
static uint32_t bpt_check(bpt_builder *b, bp_status st, uint32_t id)
{
    if (st == BP_OK) return id;
    if (!b->failed) {
        fprintf(stderr, "model_builders: %s\n", bp_last_error());
        b->failed = st;
    }
    return BP_BUILDER_NONE;
}

static uint32_t bpt_oom(bpt_builder *b)
{
    if (!b->failed) {
        fprintf(stderr, "model_builders: out of memory\n");
        b->failed = BP_ERR_NOMEM;
    }
    return BP_BUILDER_NONE;
}

bpt_builder *bpt_new(uint64_t seed, bpt_wspec ws)
{
    bpt_builder *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->rng = seed;
    b->ws = ws;
    if (bp_builder_create(&b->b) || bp_builder_set_meta(b->b, "producer",
                                                        "tests/engine model_builders") ||
        bp_builder_set_meta(b->b, "arch", "test")) {
        bp_builder_free(b->b);
        free(b);
        return NULL;
    }
    return b;
}

void bpt_set_wspec(bpt_builder *b, bpt_wspec ws)
{
    b->ws = ws;
}

void bpt_free(bpt_builder *b)
{
    if (!b) return;
    for (uint32_t l = 0; l < b->n_layers; l++) {
        free(b->layers[l].dense);
        free(b->layers[l].w_scale);
        free(b->layers[l].bias);
    }
    for (uint32_t t = 0; t < b->cap_dims; t++) free(b->dims[t]);
    free(b->dims);
    free(b->layers);
    bp_builder_free(b->b);
    free(b);
}

uint32_t bpt_input(bpt_builder *b, const char *name, uint32_t ndim, const uint32_t *dims)
{
    uint32_t t = BP_BUILDER_NONE;
    bp_status st = bp_builder_input(b->b, name, ndim, dims, &t);
    return bpt_check(b, st, t);
}

void bpt_output(bpt_builder *b, uint32_t t)
{
    bp_status st = bp_builder_output(b->b, t);
    bpt_check(b, st, t);
}

/* A bit-pruning-like weight: mostly powers of two and two-digit values,
 * with ±128 common, some arbitrary magnitudes to exercise every digit. */
static int16_t bpt_weight(bpt_builder *b)
{
    if (bpt_unif(&b->rng) >= b->ws.density) return 0;
    static const int16_t targets[] = {2, 4, 8, 16, 32, 48, 64, 96, 128, 128, 1, 3, 7};
    int mag;
    double u = bpt_unif(&b->rng);
    if (u < 0.6)
        mag = targets[bpt_rand(&b->rng) % (sizeof targets / sizeof targets[0])];
    else if (b->ws.wide)
        mag = 1 + (int)(bpt_rand(&b->rng) % 255);
    else
        mag = 1 + (int)(bpt_rand(&b->rng) % 128);
    return (int16_t)(bpt_rand(&b->rng) & 1 ? -mag : mag);
}

/* Draws (or copies) a layer's weights, scales and bias into the builder
 * weights wt; proto gets the test's record of it. Returns the dense weights
 * or NULL (the caller owns them and *ws_out, *bs_out). */
static int16_t *bpt_draw(bpt_builder *b, bpf_layer *proto, const int16_t *w_in,
                         const float *w_scale, const float *bias, bp_layer_weights *wt,
                         float **ws_out, float **bs_out)
{
    size_t n = (size_t)proto->c_out * proto->K;
    int16_t *w = malloc((n ? n : 1) * sizeof *w);
    float *ws = malloc((proto->c_out ? proto->c_out : 1) * sizeof(float));
    float *bs = malloc((proto->c_out ? proto->c_out : 1) * sizeof(float));
    *ws_out = ws;
    *bs_out = bs;
    if (!w || !ws || !bs) {
        free(w);
        return NULL;
    }
    int wmax = 0;
    for (size_t i = 0; i < n; i++) {
        w[i] = w_in ? w_in[i] : bpt_weight(b);
        int a = w[i] < 0 ? -w[i] : w[i];
        if (a > wmax) wmax = a;
    }
    double fan = (double)proto->K * (b->ws.density > 0 ? b->ws.density : 1.0);
    for (uint32_t j = 0; j < proto->c_out; j++) {
        ws[j] = w_scale ? w_scale[j]
                        : (float)((0.5 + bpt_unif(&b->rng)) / (64.0 * sqrt(fan + 1.0)));
        bs[j] = bias ? bias[j] : (float)(bpt_unif(&b->rng) * 0.2 - 0.1);
    }
    proto->w_max = (uint32_t)wmax;
    proto->M = bp_digits_positions(wmax ? wmax : 1, (bp_encoding)proto->encoding);
    bp_layer_weights_init(wt);
    wt->w = w;
    wt->w_scale = ws;
    wt->bias = bs;
    wt->encoding = proto->encoding;
    wt->act_dtype = proto->act_dtype;
    wt->act_scale = proto->act_scale;
    return w;
}

/* Adds the layer through op (conv2d or linear) and keeps the test's record. */
static uint32_t bpt_layer_add(bpt_builder *b, const char *name, uint32_t x, bpf_layer *proto,
                              const bp_conv2d_params *cp, const int16_t *w_in,
                              const float *w_scale, const float *bias)
{
    if (b->n_layers == b->cap_layers) {
        uint32_t cap = b->cap_layers ? b->cap_layers * 2 : 16;
        bpt_layer_rec *l = realloc(b->layers, cap * sizeof *l);
        if (!l) return bpt_oom(b);
        b->layers = l;
        b->cap_layers = cap;
    }
    float *ws, *bs;
    bp_layer_weights wt;
    int16_t *w = bpt_draw(b, proto, w_in, w_scale, bias, &wt, &ws, &bs);
    if (!w) {
        free(ws);
        free(bs);
        return bpt_oom(b);
    }
    uint32_t y = BP_BUILDER_NONE;
    bp_status st = cp ? bp_builder_conv2d(b->b, name, x, cp, &wt, &y)
                      : bp_builder_linear(b->b, name, x, proto->c_out, &wt, &y);
    if (st) {
        free(w);
        free(ws);
        free(bs);
        return bpt_check(b, st, y);
    }
    proto->w_scale = ws;
    proto->bias = bs;
    b->layers[b->n_layers].L = *proto;
    b->layers[b->n_layers].dense = w;
    b->layers[b->n_layers].w_scale = ws;
    b->layers[b->n_layers].bias = bs;
    b->n_layers++;
    return y;
}

uint32_t bpt_conv_w(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out,
                    uint32_t kh, uint32_t kw, uint32_t sh, uint32_t sw, uint32_t pt,
                    uint32_t pl, uint32_t pb, uint32_t pr, uint32_t dh, uint32_t dw,
                    uint32_t groups, int act_s8, float act_scale, const int16_t *w,
                    const float *w_scale, const float *bias)
{
    uint32_t nd;
    const uint32_t *X = bpt_dims(b, x, &nd);
    bpf_layer L;
    memset(&L, 0, sizeof L);
    L.kind = BPF_LAYER_CONV;
    L.c_out = c_out;
    L.c_in = X[1];
    L.kh = kh; L.kw = kw;
    L.stride_h = sh; L.stride_w = sw;
    L.pad_t = pt; L.pad_l = pl; L.pad_b = pb; L.pad_r = pr;
    L.dil_h = dh; L.dil_w = dw;
    L.groups = groups;
    L.K = groups ? L.c_in / groups * kh * kw : 0;
    L.encoding = b->ws.encoding;
    L.act_dtype = act_s8 ? BPF_DT_S8 : BPF_DT_U8;
    L.act_scale = act_scale;
    bp_conv2d_params cp = {sizeof(bp_conv2d_params), c_out, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups};
    return bpt_layer_add(b, name, x, &L, &cp, w, w_scale, bias);
}

uint32_t bpt_conv_ex(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out,
                     uint32_t kh, uint32_t kw, uint32_t sh, uint32_t sw, uint32_t pt,
                     uint32_t pl, uint32_t pb, uint32_t pr, uint32_t dh, uint32_t dw,
                     uint32_t groups, int act_s8)
{
    return bpt_conv_w(b, name, x, c_out, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups,
                      act_s8, 1.0f / 32.0f, NULL, NULL, NULL);
}

uint32_t bpt_conv(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out, uint32_t kh,
                  uint32_t kw, uint32_t stride, uint32_t pad, uint32_t dil, uint32_t groups,
                  int act_s8)
{
    return bpt_conv_ex(b, name, x, c_out, kh, kw, stride, stride, pad, pad, pad, pad, dil,
                       dil, groups, act_s8);
}

uint32_t bpt_linear_w(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out,
                      int act_s8, float act_scale, const int16_t *w, const float *w_scale,
                      const float *bias)
{
    uint32_t nd;
    const uint32_t *X = bpt_dims(b, x, &nd);
    bpf_layer L;
    memset(&L, 0, sizeof L);
    L.kind = BPF_LAYER_LINEAR;
    L.c_out = c_out;
    L.c_in = X[1];
    L.kh = L.kw = L.stride_h = L.stride_w = L.dil_h = L.dil_w = L.groups = 1;
    L.K = L.c_in;
    L.encoding = b->ws.encoding;
    L.act_dtype = act_s8 ? BPF_DT_S8 : BPF_DT_U8;
    L.act_scale = act_scale;
    return bpt_layer_add(b, name, x, &L, NULL, w, w_scale, bias);
}

uint32_t bpt_linear(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out, int act_s8)
{
    return bpt_linear_w(b, name, x, c_out, act_s8, 1.0f / 32.0f, NULL, NULL, NULL);
}

uint32_t bpt_op(bpt_builder *b, uint32_t op, uint32_t n_in, const uint32_t *in,
                const int32_t *ints, const float *floats, uint32_t ndim, const uint32_t *dims)
{
    bp_node_desc d;
    bp_node_desc_init(&d);
    d.op = op;
    d.n_in = n_in;
    if (n_in <= 4) memcpy(d.in, in, n_in * sizeof *in);
    if (ints) memcpy(d.ints, ints, sizeof d.ints);
    if (floats) memcpy(d.floats, floats, sizeof d.floats);
    d.out_ndim = ndim;
    if (ndim <= 6) memcpy(d.out_dims, dims, ndim * sizeof *dims);
    uint32_t y = BP_BUILDER_NONE;
    bp_status st = bp_builder_node(b->b, &d, &y);
    return bpt_check(b, st, y);
}

uint32_t bpt_relu(bpt_builder *b, uint32_t x)
{
    uint32_t y = BP_BUILDER_NONE;
    bp_status st = bp_builder_relu(b->b, NULL, x, &y);
    return bpt_check(b, st, y);
}

uint32_t bpt_gelu(bpt_builder *b, uint32_t x)
{
    uint32_t y = BP_BUILDER_NONE;
    bp_status st = bp_builder_gelu(b->b, NULL, x, &y);
    return bpt_check(b, st, y);
}

uint32_t bpt_softmax(bpt_builder *b, uint32_t x)
{
    uint32_t y = BP_BUILDER_NONE;
    bp_status st = bp_builder_softmax(b->b, NULL, x, &y);
    return bpt_check(b, st, y);
}

uint32_t bpt_gap(bpt_builder *b, uint32_t x)
{
    uint32_t y = BP_BUILDER_NONE;
    bp_status st = bp_builder_global_avgpool(b->b, NULL, x, &y);
    return bpt_check(b, st, y);
}

uint32_t bpt_flatten(bpt_builder *b, uint32_t x)
{
    uint32_t y = BP_BUILDER_NONE;
    bp_status st = bp_builder_flatten(b->b, NULL, x, &y);
    return bpt_check(b, st, y);
}

uint32_t bpt_add(bpt_builder *b, uint32_t x, uint32_t y)
{
    uint32_t o = BP_BUILDER_NONE;
    bp_status st = bp_builder_add(b->b, NULL, x, y, &o);
    return bpt_check(b, st, o);
}

uint32_t bpt_const(bpt_builder *b, const char *name, uint32_t ndim, const uint32_t *dims,
                   const float *data)
{
    size_t n = 1;
    for (uint32_t d = 0; d < ndim; d++) n *= dims[d];
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) return bpt_oom(b);
    if (data) memcpy(p, data, n * sizeof(float));
    else bpt_fill_uniform(&b->rng, p, n, -1.0f, 1.0f);
    uint32_t t = BP_BUILDER_NONE;
    bp_status st = bp_builder_constant(b->b, name, ndim, dims, p, &t);
    free(p);
    return bpt_check(b, st, t);
}

/* Per-channel parameters of x: v, or C random values in [lo, hi). */
static float *bpt_param(bpt_builder *b, uint32_t x, const float *v, float lo, float hi)
{
    uint32_t nd;
    uint32_t C = bpt_dims(b, x, &nd)[1];
    float *p = malloc((C ? C : 1) * sizeof(float));
    if (!p) return NULL;
    if (v) memcpy(p, v, C * sizeof(float));
    else bpt_fill_uniform(&b->rng, p, C, lo, hi);
    return p;
}

static uint32_t bpt_affine(bpt_builder *b, uint32_t op, uint32_t x, const float *p1,
                           const float *p2, float eps)
{
    float *g = bpt_param(b, x, p1, 0.5f, 1.5f);
    float *h = op == BPF_OP_LAYERSCALE ? NULL : bpt_param(b, x, p2, -0.2f, 0.2f);
    if (!g || (!h && op != BPF_OP_LAYERSCALE)) {
        free(g);
        free(h);
        return bpt_oom(b);
    }
    uint32_t y = BP_BUILDER_NONE;
    bp_status st = op == BPF_OP_LAYERNORM    ? bp_builder_layernorm(b->b, NULL, x, g, h, eps, &y)
             : op == BPF_OP_LAYERSCALE ? bp_builder_layerscale(b->b, NULL, x, g, &y)
                                       : bp_builder_batchnorm(b->b, NULL, x, g, h, &y);
    free(g);
    free(h);
    return bpt_check(b, st, y);
}

uint32_t bpt_layernorm(bpt_builder *b, uint32_t x, float eps, const float *gamma,
                       const float *beta)
{
    return bpt_affine(b, BPF_OP_LAYERNORM, x, gamma, beta, eps);
}

uint32_t bpt_layerscale(bpt_builder *b, uint32_t x, const float *gamma)
{
    return bpt_affine(b, BPF_OP_LAYERSCALE, x, gamma, NULL, 0.0f);
}

uint32_t bpt_batchnorm(bpt_builder *b, uint32_t x, const float *scale, const float *shift)
{
    return bpt_affine(b, BPF_OP_BATCHNORM, x, scale, shift, 0.0f);
}

uint32_t bpt_pool(bpt_builder *b, uint32_t x, int is_max, uint32_t k, uint32_t s,
                  uint32_t pad)
{
    bp_pool2d_params p = {sizeof(bp_pool2d_params), k, k, s, s, pad, pad, pad, pad};
    uint32_t y = BP_BUILDER_NONE;
    bp_status st = is_max ? bp_builder_maxpool(b->b, NULL, x, &p, &y)
                          : bp_builder_avgpool(b->b, NULL, x, &p, &y);
    return bpt_check(b, st, y);
}

uint32_t bpt_n_layers(const bpt_builder *b)
{
    return b->n_layers;
}

const uint32_t *bpt_dims(const bpt_builder *cb, uint32_t t, uint32_t *ndim)
{
    static const uint32_t none[7] = {0};
    bpt_builder *b = (bpt_builder *)cb; /* the cache is filled on demand */
    uint32_t nd, d[BP_MAX_DIMS];
    if (bp_builder_tensor_shape(b->b, t, &nd, d)) {
        if (ndim) *ndim = 0;
        return none;
    }
    if (t >= b->cap_dims) {
        uint32_t cap = b->cap_dims ? b->cap_dims : 64;
        while (cap <= t) cap *= 2;
        uint32_t **p = realloc(b->dims, cap * sizeof *p);
        if (!p) {
            if (ndim) *ndim = 0;
            return none;
        }
        memset(p + b->cap_dims, 0, (cap - b->cap_dims) * sizeof *p);
        b->dims = p;
        b->cap_dims = cap;
    }
    if (!b->dims[t]) {
        b->dims[t] = calloc(BP_MAX_DIMS, sizeof(uint32_t));
        if (!b->dims[t]) {
            if (ndim) *ndim = 0;
            return none;
        }
        memcpy(b->dims[t], d, nd * sizeof *d);
    }
    if (ndim) *ndim = nd;
    return b->dims[t];
}

const int16_t *bpt_layer_weights(const bpt_builder *b, uint32_t l)
{
    return b->layers[l].dense;
}

const bpf_layer *bpt_layer(const bpt_builder *b, uint32_t l)
{
    return &b->layers[l].L;
}

void bpt_set_act_scale(bpt_builder *b, uint32_t l, float scale)
{
    bpf_layer *L = &b->layers[l].L;
    bp_status st = bp_builder_set_layer_act(b->b, l, L->act_dtype, scale);
    if (bpt_check(b, st, 0) == 0) L->act_scale = scale;
}

int bpt_write(bpt_builder *b, void **buf, size_t *size)
{
    if (b->failed) return b->failed;
    bp_status st = bp_builder_write_memory(b->b, buf, size);
    if (st) fprintf(stderr, "bpt_write: %s\n", bp_last_error());
    return st;
}

int bpt_calibrate(bpt_builder *b, uint32_t batch)
{
    void *buf = NULL;
    size_t size = 0;
    int st = bpt_write(b, &buf, &size);
    if (st) return st;
    bp_model *m = NULL;
    st = bp_model_load_memory(buf, size, NULL, &m);
    if (st) {
        fprintf(stderr, "bpt_calibrate: %s\n", bp_last_error());
        free(buf);
        return st;
    }
    const bp_model_info *info = NULL;
    st = bp_model_info_get(m, &info);
    float *in[8] = {0};
    float *mn = calloc(b->n_layers + 1, sizeof(float));
    float *mx = calloc(b->n_layers + 1, sizeof(float));
    uint64_t rs = b->rng ^ 0xca11b4a7eull;
    for (uint32_t i = 0; !st && i < info->n_inputs; i++) {
        const bp_tensor_info *T = &info->inputs[i];
        size_t e = batch;
        for (uint32_t d = 1; d < T->ndim; d++) e *= T->dims[d];
        in[i] = malloc(e * sizeof(float));
        if (!in[i]) st = BP_ERR_NOMEM;
        else bpt_fill_uniform(&rs, in[i], e, -1.0f, 1.0f);
    }
    if (!mn || !mx) st = BP_ERR_NOMEM;
    if (!st) st = bp_model_calibrate(m, (const float *const *)in, batch, mn, mx);
    if (st) fprintf(stderr, "bpt_calibrate: %s\n", bp_last_error());
    for (uint32_t l = 0; l < b->n_layers && !st; l++) {
        bpf_layer *L = &b->layers[l].L;
        float r = L->act_dtype == BPF_DT_S8
                      ? (fabsf(mn[l]) > fabsf(mx[l]) ? fabsf(mn[l]) : fabsf(mx[l])) / 127.0f
                      : mx[l] / 255.0f;
        bpt_set_act_scale(b, l, r > 1e-6f ? r : 1.0f / 32.0f);
        st = b->failed;
    }
    for (uint32_t i = 0; i < 8; i++) free(in[i]);
    free(mn);
    free(mx);
    bp_model_free(m);
    free(buf);
    return st;
}

int bpt_build_resnet(uint64_t seed, double sparsity, uint32_t encoding, void **buf,
                     size_t *size)
{
    bpt_wspec ws = {1.0 - sparsity, encoding, 1};
    bpt_builder *b = bpt_new(seed, ws);
    if (!b) return BP_ERR_NOMEM;
    uint32_t d[4] = {1, 3, 20, 20};
    uint32_t x = bpt_input(b, "image", 4, d);
    /* stem: conv3x3 + batchnorm + relu (s8 input) */
    uint32_t t = bpt_conv(b, "stem.conv", x, 16, 3, 3, 1, 1, 1, 1, 1);
    t = bpt_relu(b, bpt_batchnorm(b, t, NULL, NULL));
    /* block 1: identity shortcut; conv+relu and conv+add+relu fuse */
    uint32_t c = bpt_relu(b, bpt_conv(b, "layer1.conv1", t, 16, 3, 3, 1, 1, 1, 1, 0));
    c = bpt_conv(b, "layer1.conv2", c, 16, 3, 3, 1, 1, 1, 1, 0);
    t = bpt_relu(b, bpt_add(b, c, t));
    /* block 2: stride 2, 1x1 shortcut computed first (conv2 fuses the add) */
    c = bpt_relu(b, bpt_conv(b, "layer2.conv1", t, 32, 3, 3, 2, 1, 1, 1, 0));
    uint32_t sc = bpt_conv(b, "layer2.down", t, 32, 1, 1, 2, 0, 1, 1, 0);
    c = bpt_conv(b, "layer2.conv2", c, 32, 3, 3, 1, 1, 1, 1, 0);
    t = bpt_relu(b, bpt_add(b, sc, c));
    bpt_output(b, t); /* a feature map as a second output: errors cannot hide */
    /* block 3: shortcut computed last (the shortcut conv fuses the add) */
    c = bpt_relu(b, bpt_conv(b, "layer3.conv1", t, 48, 3, 3, 2, 1, 1, 1, 0));
    c = bpt_conv(b, "layer3.conv2", c, 48, 3, 3, 1, 2, 2, 1, 0); /* dilation 2 */
    sc = bpt_conv(b, "layer3.down", t, 48, 1, 1, 2, 0, 1, 1, 0);
    t = bpt_relu(b, bpt_add(b, c, sc));
    t = bpt_pool(b, t, 1, 3, 1, 1);
    t = bpt_flatten(b, bpt_gap(b, t));
    uint32_t logits = bpt_linear(b, "fc", t, 10, 0);
    bpt_output(b, logits);
    bpt_output(b, bpt_softmax(b, logits));
    int st = bpt_calibrate(b, 2);
    if (!st) st = bpt_write(b, buf, size);
    bpt_free(b);
    return st;
}

int bpt_build_convnext(uint64_t seed, double sparsity, uint32_t encoding, void **buf,
                       size_t *size)
{
    bpt_wspec ws = {1.0 - sparsity, encoding, 0};
    bpt_builder *b = bpt_new(seed, ws);
    if (!b) return BP_ERR_NOMEM;
    uint32_t d[4] = {1, 3, 32, 32};
    uint32_t x = bpt_input(b, "image", 4, d);
    uint32_t t = bpt_conv(b, "stem", x, 24, 4, 4, 4, 0, 1, 1, 1); /* patchify 4x4/4 */
    t = bpt_layernorm(b, t, 1e-6f, NULL, NULL);
    static const uint32_t dims[2] = {24, 48};
    for (int s = 0; s < 2; s++) {
        uint32_t C = dims[s];
        char nm[64];
        if (s > 0) {
            t = bpt_layernorm(b, t, 1e-6f, NULL, NULL);
            snprintf(nm, sizeof nm, "stage%d.down", s);
            t = bpt_conv(b, nm, t, C, 2, 2, 2, 0, 1, 1, 1);
        }
        snprintf(nm, sizeof nm, "stage%d.dw", s);
        uint32_t y = bpt_conv(b, nm, t, C, 7, 7, 1, 3, 1, C, 1); /* depthwise 7x7 */
        y = bpt_layernorm(b, y, 1e-6f, NULL, NULL);
        snprintf(nm, sizeof nm, "stage%d.pw1", s);
        y = bpt_gelu(b, bpt_conv(b, nm, y, 4 * C, 1, 1, 1, 0, 1, 1, 1));
        snprintf(nm, sizeof nm, "stage%d.pw2", s);
        y = bpt_conv(b, nm, y, C, 1, 1, 1, 0, 1, 1, s == 0);
        y = bpt_layerscale(b, y, NULL);
        t = bpt_add(b, t, y);
        if (s == 0) bpt_output(b, t);
    }
    t = bpt_layernorm(b, bpt_gap(b, t), 1e-6f, NULL, NULL);
    t = bpt_flatten(b, t);
    bpt_output(b, bpt_linear(b, "head", t, 10, 1));
    int st = bpt_calibrate(b, 2);
    if (!st) st = bpt_write(b, buf, size);
    bpt_free(b);
    return st;
}

int bpt_build_many_live(uint32_t n_live, void **buf, size_t *size)
{
    bp_builder *b;
    bp_status st = bp_builder_create(&b);
    if (st) return st;
    const uint32_t d[4] = {1, 4096, 1024, 1024};
    uint32_t x = 0, prev = 0;
    st = bp_builder_input(b, "t0", 4, d, &x);
    uint32_t first = x + 1; /* relu outputs are first .. first + n_live - 1 */
    for (uint32_t i = 0; !st && i < n_live; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "n%u", i);
        st = bp_builder_relu(b, nm, x, &prev);
    }
    /* pairs of relu outputs; x completes an odd count */
    for (uint32_t i = 0; !st && i < (n_live + 1) / 2; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "n%u", n_live + i);
        uint32_t a = first + 2 * i;
        st = bp_builder_add(b, nm, a, 2 * i + 1 < n_live ? a + 1 : x, &prev);
    }
    if (!st) st = bp_builder_output(b, prev);
    if (!st) st = bp_builder_write_memory(b, buf, size);
    if (st) fprintf(stderr, "bpt_build_many_live: %s\n", bp_last_error());
    bp_builder_free(b);
    return st;
}
