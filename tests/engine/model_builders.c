/* Test model builders (see model_builders.h): random bit-pruning-like
 * weights -> planes (kernels' bp_planes_from_dense) -> .bp via the format
 * writer, plus the small ResNet- and ConvNeXt-like models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune.h"
#include "bp_kernels.h"
#include "model_builders.h"

#define BPT_MAX_OWNED 4096

struct bpt_builder {
    uint64_t rng;
    bpt_wspec ws;
    bpf_tensor *tensors;
    uint32_t n_tensors, cap_tensors;
    bpf_node *nodes;
    uint32_t n_nodes, cap_nodes;
    bpf_layer *layers;
    int16_t **dense; /* per layer */
    bp_planes_buf *planes;
    uint32_t n_layers, cap_layers;
    uint32_t inputs[8], n_inputs;
    uint32_t outputs[8], n_outputs;
    void *owned[BPT_MAX_OWNED];
    uint32_t n_owned;
    int failed;
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

static void *bpt_own(bpt_builder *b, size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p || b->n_owned >= BPT_MAX_OWNED) {
        free(p);
        b->failed = 1;
        return NULL;
    }
    b->owned[b->n_owned++] = p;
    return p;
}

static char *bpt_strdup(bpt_builder *b, const char *s)
{
    char *p = bpt_own(b, strlen(s) + 1);
    if (p) strcpy(p, s);
    return p;
}

bpt_builder *bpt_new(uint64_t seed, bpt_wspec ws)
{
    bpt_builder *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->rng = seed;
    b->ws = ws;
    return b;
}

void bpt_set_wspec(bpt_builder *b, bpt_wspec ws)
{
    b->ws = ws;
}

void bpt_free(bpt_builder *b)
{
    if (!b) return;
    for (uint32_t i = 0; i < b->n_owned; i++) free(b->owned[i]);
    for (uint32_t l = 0; l < b->n_layers; l++) {
        free(b->dense[l]);
        bp_planes_buf_free(&b->planes[l]);
    }
    free(b->dense);
    free(b->planes);
    free(b->tensors);
    free(b->nodes);
    free(b->layers);
    free(b);
}

/* Returns arr with room for one more element (n used, *cap allocated),
 * doubling as needed; NULL (arr untouched, builder failed) when out of memory. */
static void *bpt_grow(bpt_builder *b, void *arr, size_t elem, uint32_t n, uint32_t *cap)
{
    if (n < *cap)
        return arr;
    uint32_t c = *cap ? *cap * 2 : 32;
    void *a = realloc(arr, (size_t)c * elem);
    if (!a) {
        b->failed = 1;
        return NULL;
    }
    *cap = c;
    return a;
}

static uint32_t bpt_tensor(bpt_builder *b, const char *name, uint32_t ndim,
                           const uint32_t *dims, const void *data, uint64_t nbytes)
{
    bpf_tensor *ts = bpt_grow(b, b->tensors, sizeof *ts, b->n_tensors, &b->cap_tensors);
    if (!ts)
        return 0;
    b->tensors = ts;
    bpf_tensor *t = &b->tensors[b->n_tensors];
    memset(t, 0, sizeof *t);
    char nb[64];
    if (!name) {
        snprintf(nb, sizeof nb, "t%u", b->n_tensors);
        name = nb;
    }
    t->name = bpt_strdup(b, name);
    t->dtype = BPF_DT_F32;
    t->ndim = ndim;
    memcpy(t->dims, dims, ndim * sizeof(uint32_t));
    t->data = data;
    t->nbytes = nbytes;
    return b->n_tensors++;
}

static bpf_node *bpt_node(bpt_builder *b, uint32_t op, const char *name)
{
    bpf_node *ns = bpt_grow(b, b->nodes, sizeof *ns, b->n_nodes, &b->cap_nodes);
    if (!ns)
        return NULL;
    b->nodes = ns;
    bpf_node *n = &b->nodes[b->n_nodes];
    memset(n, 0, sizeof *n);
    char nb[64];
    if (!name) {
        snprintf(nb, sizeof nb, "n%u", b->n_nodes);
        name = nb;
    }
    n->name = bpt_strdup(b, name);
    n->op = op;
    n->layer = UINT32_MAX;
    n->n_out = 1;
    b->n_nodes++;
    return n;
}

uint32_t bpt_input(bpt_builder *b, const char *name, uint32_t ndim, const uint32_t *dims)
{
    uint32_t t = bpt_tensor(b, name, ndim, dims, NULL, 0);
    if (b->n_inputs < 8) b->inputs[b->n_inputs++] = t;
    return t;
}

void bpt_output(bpt_builder *b, uint32_t t)
{
    if (b->n_outputs < 8) b->outputs[b->n_outputs++] = t;
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

static uint32_t bpt_layer_add(bpt_builder *b, const bpf_layer *proto, const int16_t *w_in,
                              const float *w_scale, const float *bias)
{
    if (b->n_layers == b->cap_layers) {
        uint32_t cap = b->cap_layers ? b->cap_layers * 2 : 16;
        bpf_layer *l = realloc(b->layers, cap * sizeof *l);
        int16_t **d = realloc(b->dense, cap * sizeof *d);
        bp_planes_buf *p = realloc(b->planes, cap * sizeof *p);
        if (l) b->layers = l;
        if (d) b->dense = d;
        if (p) b->planes = p;
        if (!l || !d || !p) {
            b->failed = 1;
            return 0;
        }
        b->cap_layers = cap;
    }
    uint32_t li = b->n_layers;
    bpf_layer *L = &b->layers[li];
    *L = *proto;
    size_t n = (size_t)L->c_out * L->K;
    int16_t *w = malloc(n * sizeof *w);
    float *ws = bpt_own(b, L->c_out * sizeof(float));
    float *bs = bpt_own(b, L->c_out * sizeof(float));
    memset(&b->planes[li], 0, sizeof b->planes[li]);
    b->dense[li] = w;
    b->n_layers++;
    if (!w || !ws || !bs) {
        b->failed = 1;
        return li;
    }
    int wmax = 0;
    for (size_t i = 0; i < n; i++) {
        w[i] = w_in ? w_in[i] : bpt_weight(b);
        int a = w[i] < 0 ? -w[i] : w[i];
        if (a > wmax) wmax = a;
    }
    double fan = (double)L->K * (b->ws.density > 0 ? b->ws.density : 1.0);
    for (uint32_t j = 0; j < L->c_out; j++) {
        ws[j] = w_scale ? w_scale[j]
                        : (float)((0.5 + bpt_unif(&b->rng)) / (64.0 * sqrt(fan + 1.0)));
        bs[j] = bias ? bias[j] : (float)(bpt_unif(&b->rng) * 0.2 - 0.1);
    }
    uint32_t M = bp_digits_positions(wmax ? wmax : 1, (bp_encoding)L->encoding);
    if (bp_planes_from_dense(w, L->c_out, L->K, (bp_encoding)L->encoding, M,
                             &b->planes[li]) != 0) {
        b->failed = 1;
        return li;
    }
    L->M = M;
    L->w_max = (uint32_t)wmax;
    L->w_scale = ws;
    L->bias = bs;
    L->idx_bytes = b->planes[li].p.idx_bytes;
    L->n_digits = b->planes[li].ndigits;
    L->row_ptr = b->planes[li].row_ptr;
    L->col_idx = b->planes[li].idx;
    return li;
}

uint32_t bpt_conv_w(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out,
                    uint32_t kh, uint32_t kw, uint32_t sh, uint32_t sw, uint32_t pt,
                    uint32_t pl, uint32_t pb, uint32_t pr, uint32_t dh, uint32_t dw,
                    uint32_t groups, int act_s8, float act_scale, const int16_t *w,
                    const float *w_scale, const float *bias)
{
    const bpf_tensor *X = &b->tensors[x];
    bpf_layer L;
    memset(&L, 0, sizeof L);
    L.kind = BPF_LAYER_CONV;
    L.c_out = c_out;
    L.c_in = X->dims[1];
    L.kh = kh; L.kw = kw;
    L.stride_h = sh; L.stride_w = sw;
    L.pad_t = pt; L.pad_l = pl; L.pad_b = pb; L.pad_r = pr;
    L.dil_h = dh; L.dil_w = dw;
    L.groups = groups;
    L.K = L.c_in / groups * kh * kw;
    L.encoding = b->ws.encoding;
    L.act_dtype = act_s8 ? BPF_DT_S8 : BPF_DT_U8;
    L.act_scale = act_scale;
    uint32_t li = bpt_layer_add(b, &L, w, w_scale, bias);
    uint32_t H = X->dims[2], W = X->dims[3];
    uint32_t OH = (H + pt + pb - (dh * (kh - 1) + 1)) / sh + 1;
    uint32_t OW = (W + pl + pr - (dw * (kw - 1) + 1)) / sw + 1;
    uint32_t od[4] = {1, c_out, OH, OW};
    char tn[96];
    snprintf(tn, sizeof tn, "%s.out", name ? name : "conv");
    uint32_t y = bpt_tensor(b, tn, 4, od, NULL, 0);
    bpf_node *n = bpt_node(b, BPF_OP_CONV2D, name);
    if (!n) return y;
    n->n_in = 1;
    n->in[0] = x;
    n->out[0] = y;
    n->layer = li;
    return y;
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
    const bpf_tensor *X = &b->tensors[x];
    bpf_layer L;
    memset(&L, 0, sizeof L);
    L.kind = BPF_LAYER_LINEAR;
    L.c_out = c_out;
    L.c_in = X->dims[1];
    L.kh = L.kw = L.stride_h = L.stride_w = L.dil_h = L.dil_w = L.groups = 1;
    L.K = L.c_in;
    L.encoding = b->ws.encoding;
    L.act_dtype = act_s8 ? BPF_DT_S8 : BPF_DT_U8;
    L.act_scale = act_scale;
    uint32_t li = bpt_layer_add(b, &L, w, w_scale, bias);
    uint32_t od[2] = {1, c_out};
    char tn[96];
    snprintf(tn, sizeof tn, "%s.out", name ? name : "linear");
    uint32_t y = bpt_tensor(b, tn, 2, od, NULL, 0);
    bpf_node *n = bpt_node(b, BPF_OP_LINEAR, name);
    if (!n) return y;
    n->n_in = 1;
    n->in[0] = x;
    n->out[0] = y;
    n->layer = li;
    return y;
}

uint32_t bpt_linear(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out, int act_s8)
{
    return bpt_linear_w(b, name, x, c_out, act_s8, 1.0f / 32.0f, NULL, NULL, NULL);
}

static uint32_t bpt_unary(bpt_builder *b, uint32_t op, uint32_t x, uint32_t ndim,
                          const uint32_t *dims)
{
    uint32_t y = bpt_tensor(b, NULL, ndim, dims, NULL, 0);
    bpf_node *n = bpt_node(b, op, NULL);
    if (!n) return y;
    n->n_in = 1;
    n->in[0] = x;
    n->out[0] = y;
    return y;
}

uint32_t bpt_op(bpt_builder *b, uint32_t op, uint32_t n_in, const uint32_t *in,
                const int32_t *ints, const float *floats, uint32_t ndim, const uint32_t *dims)
{
    uint32_t y = bpt_tensor(b, NULL, ndim, dims, NULL, 0);
    bpf_node *n = bpt_node(b, op, NULL);
    if (!n) return y;
    n->n_in = n_in;
    memcpy(n->in, in, n_in * sizeof *in);
    if (ints) memcpy(n->ints, ints, sizeof n->ints);
    if (floats) memcpy(n->floats, floats, sizeof n->floats);
    n->out[0] = y;
    return y;
}

uint32_t bpt_relu(bpt_builder *b, uint32_t x)
{
    return bpt_unary(b, BPF_OP_RELU, x, b->tensors[x].ndim, b->tensors[x].dims);
}

uint32_t bpt_gelu(bpt_builder *b, uint32_t x)
{
    return bpt_unary(b, BPF_OP_GELU, x, b->tensors[x].ndim, b->tensors[x].dims);
}

uint32_t bpt_softmax(bpt_builder *b, uint32_t x)
{
    return bpt_unary(b, BPF_OP_SOFTMAX, x, b->tensors[x].ndim, b->tensors[x].dims);
}

uint32_t bpt_gap(bpt_builder *b, uint32_t x)
{
    uint32_t d[4] = {1, b->tensors[x].dims[1], 1, 1};
    return bpt_unary(b, BPF_OP_GLOBALAVGPOOL, x, 4, d);
}

uint32_t bpt_flatten(bpt_builder *b, uint32_t x)
{
    const bpf_tensor *X = &b->tensors[x];
    uint32_t p = 1;
    for (uint32_t i = 1; i < X->ndim; i++) p *= X->dims[i];
    uint32_t d[2] = {1, p};
    return bpt_unary(b, BPF_OP_FLATTEN, x, 2, d);
}

uint32_t bpt_add(bpt_builder *b, uint32_t x, uint32_t y)
{
    uint32_t dims[BPF_MAX_DIMS];
    uint32_t nd = b->tensors[x].ndim;
    memcpy(dims, b->tensors[x].dims, sizeof dims);
    uint32_t o = bpt_tensor(b, NULL, nd, dims, NULL, 0);
    bpf_node *n = bpt_node(b, BPF_OP_ADD, NULL);
    if (!n) return o;
    n->n_in = 2;
    n->in[0] = x;
    n->in[1] = y;
    n->out[0] = o;
    return o;
}

static uint32_t bpt_param(bpt_builder *b, uint32_t C, const float *v, float lo, float hi)
{
    float *p = bpt_own(b, C * sizeof(float));
    if (!p) return 0;
    if (v) memcpy(p, v, C * sizeof(float));
    else bpt_fill_uniform(&b->rng, p, C, lo, hi);
    uint32_t d[1] = {C};
    return bpt_tensor(b, NULL, 1, d, p, C * sizeof(float));
}

uint32_t bpt_const(bpt_builder *b, const char *name, uint32_t ndim, const uint32_t *dims,
                   const float *data)
{
    size_t n = 1;
    for (uint32_t d = 0; d < ndim; d++) n *= dims[d];
    float *p = bpt_own(b, n * sizeof(float));
    if (!p) return 0;
    if (data) memcpy(p, data, n * sizeof(float));
    else bpt_fill_uniform(&b->rng, p, n, -1.0f, 1.0f);
    return bpt_tensor(b, name, ndim, dims, p, n * sizeof(float));
}

static uint32_t bpt_affine(bpt_builder *b, uint32_t op, uint32_t x, const float *p1,
                           const float *p2, float eps)
{
    uint32_t C = b->tensors[x].dims[1];
    uint32_t g = bpt_param(b, C, p1, 0.5f, 1.5f);
    uint32_t h = op == BPF_OP_LAYERSCALE ? 0 : bpt_param(b, C, p2, -0.2f, 0.2f);
    uint32_t dims[BPF_MAX_DIMS];
    uint32_t nd = b->tensors[x].ndim;
    memcpy(dims, b->tensors[x].dims, sizeof dims);
    uint32_t y = bpt_tensor(b, NULL, nd, dims, NULL, 0);
    bpf_node *n = bpt_node(b, op, NULL);
    if (!n) return y;
    n->n_in = op == BPF_OP_LAYERSCALE ? 2 : 3;
    n->in[0] = x;
    n->in[1] = g;
    n->in[2] = h;
    n->out[0] = y;
    if (op == BPF_OP_LAYERNORM) n->floats[0] = eps;
    return y;
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
    const bpf_tensor *X = &b->tensors[x];
    uint32_t OH = (X->dims[2] + 2 * pad - k) / s + 1;
    uint32_t OW = (X->dims[3] + 2 * pad - k) / s + 1;
    uint32_t d[4] = {1, X->dims[1], OH, OW};
    uint32_t y = bpt_unary(b, is_max ? BPF_OP_MAXPOOL : BPF_OP_AVGPOOL, x, 4, d);
    bpf_node *n = &b->nodes[b->n_nodes - 1];
    int32_t a[8] = {(int32_t)k, (int32_t)k, (int32_t)s, (int32_t)s,
                    (int32_t)pad, (int32_t)pad, (int32_t)pad, (int32_t)pad};
    memcpy(n->ints, a, sizeof a);
    return y;
}

uint32_t bpt_n_layers(const bpt_builder *b)
{
    return b->n_layers;
}

const uint32_t *bpt_dims(const bpt_builder *b, uint32_t t, uint32_t *ndim)
{
    if (ndim) *ndim = b->tensors[t].ndim;
    return b->tensors[t].dims;
}

const int16_t *bpt_layer_weights(const bpt_builder *b, uint32_t l)
{
    return b->dense[l];
}

const bpf_layer *bpt_layer(const bpt_builder *b, uint32_t l)
{
    return &b->layers[l];
}

void bpt_set_act_scale(bpt_builder *b, uint32_t l, float scale)
{
    b->layers[l].act_scale = scale;
}

int bpt_write(bpt_builder *b, void **buf, size_t *size)
{
    if (b->failed) return BPF_ERR_NOMEM;
    static const bpf_kv meta[] = {{"producer", "tests/engine model_builders"},
                                  {"arch", "test"}};
    bpf_model_desc d;
    memset(&d, 0, sizeof d);
    d.n_meta = 2;
    d.meta = meta;
    d.n_tensors = b->n_tensors;
    d.tensors = b->tensors;
    d.n_nodes = b->n_nodes;
    d.nodes = b->nodes;
    d.n_layers = b->n_layers;
    d.layers = b->layers;
    d.n_inputs = b->n_inputs;
    d.inputs = b->inputs;
    d.n_outputs = b->n_outputs;
    d.outputs = b->outputs;
    int st = bpf_write_memory(&d, buf, size);
    if (st) fprintf(stderr, "bpt_write: %s\n", bpf_last_error());
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
    float *in[8] = {0};
    float *mn = calloc(b->n_layers + 1, sizeof(float));
    float *mx = calloc(b->n_layers + 1, sizeof(float));
    uint64_t rs = b->rng ^ 0xca11b4a7eull;
    for (uint32_t i = 0; i < b->n_inputs && !st; i++) {
        const bpf_tensor *T = &b->tensors[b->inputs[i]];
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
        bpf_layer *L = &b->layers[l];
        float r = L->act_dtype == BPF_DT_S8
                      ? (fabsf(mn[l]) > fabsf(mx[l]) ? fabsf(mn[l]) : fabsf(mx[l])) / 127.0f
                      : mx[l] / 255.0f;
        L->act_scale = r > 1e-6f ? r : 1.0f / 32.0f;
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
    uint32_t n_add = (n_live + 1) / 2;
    uint32_t nt = 1 + n_live + n_add, nn = n_live + n_add;
    bpf_tensor *ts = calloc(nt, sizeof *ts);
    bpf_node *ns = calloc(nn, sizeof *ns);
    char (*names)[16] = calloc(nt + nn, sizeof *names);
    int st = BPF_ERR_NOMEM;
    if (!ts || !ns || !names) goto done;
    for (uint32_t t = 0; t < nt; t++) {
        snprintf(names[t], sizeof names[t], "t%u", t);
        ts[t].name = names[t];
        ts[t].dtype = BPF_DT_F32;
        ts[t].ndim = 4;
        ts[t].dims[0] = 1;
        ts[t].dims[1] = 4096;
        ts[t].dims[2] = 1024;
        ts[t].dims[3] = 1024;
    }
    for (uint32_t i = 0; i < nn; i++) {
        bpf_node *n = &ns[i];
        snprintf(names[nt + i], sizeof names[nt + i], "n%u", i);
        n->name = names[nt + i];
        n->layer = UINT32_MAX;
        n->n_out = 1;
        n->out[0] = 1 + i;
        if (i < n_live) { /* t(1+i) = relu(x) */
            n->op = BPF_OP_RELU;
            n->n_in = 1;
            n->in[0] = 0;
        } else { /* pairs of relu outputs; x completes an odd count */
            uint32_t a = 1 + 2 * (i - n_live);
            n->op = BPF_OP_ADD;
            n->n_in = 2;
            n->in[0] = a;
            n->in[1] = a + 1 <= n_live ? a + 1 : 0;
        }
    }
    uint32_t in = 0, out = nt - 1;
    bpf_model_desc d;
    memset(&d, 0, sizeof d);
    d.n_tensors = nt;
    d.tensors = ts;
    d.n_nodes = nn;
    d.nodes = ns;
    d.n_inputs = 1;
    d.inputs = &in;
    d.n_outputs = 1;
    d.outputs = &out;
    st = bpf_write_memory(&d, buf, size);
    if (st) fprintf(stderr, "bpt_build_many_live: %s\n", bpf_last_error());
done:
    free(ts);
    free(ns);
    free(names);
    return st;
}
