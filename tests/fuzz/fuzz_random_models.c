/* Random valid models: random graphs of every op the engine runs (conv with
 * random kernel/stride/padding/dilation/groups incl. depthwise and
 * space-to-depth, linear, relu, gelu, layernorm, batchnorm, layer scale,
 * residual add, max/avg pool, global pool, flatten, softmax; several
 * inputs/outputs), random digit patterns (binary and CSD, M up to 9,
 * all-zero rows and layers, sparse and dense, |w| up to 255), u8 and s8
 * activations, small shapes. Each model runs on every backend, every ISA
 * level and threads 1 and 2 at batch 1 and 2 or 3 (backend_check.c): every exact
 * session must equal "reference" bit for bit.
 * Usage: fuzz_random_models [--seconds S] [--iters N] [--seed N] [--only I [--save F]] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_check.h"
#include "bitprune.h"
#include "fuzz_harness.h"
#include "model_builders.h"
#include "model_edit.h"

#define RG_MAX_POOL 64
#define RG_MAX_HW 28u
#define RG_WORK_BUDGET (3u << 20) /* weight x pixel operations per image */

typedef struct rg_ctx {
    fz_check_stats cs;
    long models, layers, m_raised, depthwise, grouped, s8, big, s8_fit, extreme, odd_rank;
    int verbose;
} rg_ctx;

typedef struct rg {
    bpt_builder *b;
    fz_rng *r;
    rg_ctx *c;
    uint32_t pool[RG_MAX_POOL]; /* activations so far (residual candidates) */
    uint32_t npool;
    uint32_t outputs[4], nout;
    uint64_t work;
    int layer_no;
    int s8_fit; /* every |w| <= 127: onednn-int8 is exact (with VNNI) and compared */
} rg;

static const uint32_t *rg_dims(const rg *g, uint32_t t, uint32_t *nd)
{
    return bpt_dims(g->b, t, nd);
}

static void rg_keep(rg *g, uint32_t t)
{
    if (g->npool < RG_MAX_POOL) g->pool[g->npool++] = t;
}

static float rg_special_scale(fz_rng *r, float normal)
{
    static const float sv[] = {0.0f, -0.01f, 1e-40f, 1e-20f, 1e10f, -3.0f};
    return fz_chance(r, 6) ? sv[fz_below(r, sizeof sv / sizeof sv[0])] : normal;
}

/* Weights, scales and biases of one layer; encoding per layer. */
static void rg_params(rg *g, uint32_t c_out, uint32_t K, int16_t **w, float **ws, float **bs)
{
    fz_rng *r = g->r;
    *w = malloc((size_t)c_out * K * sizeof **w);
    *ws = malloc(c_out * sizeof **ws);
    *bs = malloc(c_out * sizeof **bs);
    if (!*w || !*ws || !*bs) return;
    me_random_weights(r, *w, c_out, K);
    if (g->s8_fit)
        for (size_t i = 0; i < (size_t)c_out * K; i++)
            (*w)[i] = (int16_t)((*w)[i] > 127 ? 127 : (*w)[i] < -127 ? -127 : (*w)[i]);
    double fan = sqrt((double)K + 1.0);
    for (uint32_t j = 0; j < c_out; j++) {
        (*ws)[j] = rg_special_scale(r, (float)((0.3 + fz_unif(r)) / (32.0 * fan)));
        (*bs)[j] = fz_chance(r, 5) ? 0.0f : (float)(fz_unif(r) * 0.4 - 0.2);
    }
    bpt_set_wspec(g->b, (bpt_wspec){0.5, fz_below(r, 2), 1});
}

static int rg_conv(rg *g, uint32_t *x)
{
    fz_rng *r = g->r;
    uint32_t nd;
    const uint32_t *d = rg_dims(g, *x, &nd);
    uint32_t C = d[1], H = d[2], W = d[3];
    uint32_t kh = fz_range(r, 1, 5), kw = fz_chance(r, 70) ? kh : fz_range(r, 1, 5);
    uint32_t sh = fz_range(r, 1, 3), sw = fz_chance(r, 80) ? sh : fz_range(r, 1, 3);
    if (fz_chance(r, 15)) { sh = kh; sw = kw; } /* non-overlapping windows */
    uint32_t dh = fz_chance(r, 20) ? fz_range(r, 2, 3) : 1, dw = fz_chance(r, 70) ? dh : 1;
    uint32_t pt = fz_below(r, kh), pb = fz_chance(r, 70) ? pt : fz_below(r, kh);
    uint32_t pl = fz_below(r, kw), pr = fz_chance(r, 70) ? pl : fz_below(r, kw);
    if (fz_chance(r, 25)) pt = pb = pl = pr = 0;
    /* make the window fit: drop dilation, then pad */
    if (H + pt + pb < dh * (kh - 1) + 1) dh = 1;
    if (W + pl + pr < dw * (kw - 1) + 1) dw = 1;
    while (H + pt + pb < kh) pb++;
    while (W + pl + pr < kw) pr++;
    if (pt > 64 || pb > 64 || pl > 64 || pr > 64) return 0;
    uint32_t OH = (H + pt + pb - dh * (kh - 1) - 1) / sh + 1;
    uint32_t OW = (W + pl + pr - dw * (kw - 1) - 1) / sw + 1;
    if (OH > RG_MAX_HW || OW > RG_MAX_HW) return 0;
    uint32_t groups = 1, c_out;
    uint32_t p = fz_below(r, 100);
    if (p < 25 && C > 1) {
        groups = C;
        c_out = C * fz_range(r, 1, 2);
        g->c->depthwise++;
    } else if (p < 40 && C > 1) {
        uint32_t divs[16], nd2 = 0;
        for (uint32_t q = 2; q <= C && nd2 < 16; q++)
            if (C % q == 0) divs[nd2++] = q;
        groups = divs[fz_below(r, nd2)];
        c_out = groups * fz_range(r, 1, 4);
        g->c->grouped++;
    } else {
        c_out = fz_range(r, 1, 24);
    }
    uint32_t K = C / groups * kh * kw;
    uint64_t work = (uint64_t)c_out * K * OH * OW;
    if (g->work + work > RG_WORK_BUDGET) return 0;
    int s8 = fz_chance(r, 50);
    int16_t *w;
    float *ws, *bs;
    rg_params(g, c_out, K, &w, &ws, &bs);
    char name[32];
    snprintf(name, sizeof name, "conv%d", g->layer_no++);
    if (w && ws && bs)
        *x = bpt_conv_w(g->b, name, *x, c_out, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups,
                        s8, 1.0f / 32.0f, w, ws, bs);
    free(w);
    free(ws);
    free(bs);
    g->work += work;
    g->c->layers++;
    g->c->s8 += s8;
    return 1;
}

static int rg_linear(rg *g, uint32_t *x)
{
    fz_rng *r = g->r;
    uint32_t nd;
    const uint32_t *d = rg_dims(g, *x, &nd);
    if (!(nd == 2 || (nd == 4 && d[2] == 1 && d[3] == 1))) return 0;
    uint32_t K = d[1], c_out = fz_range(r, 1, 48);
    if (K > 4096 || g->work + (uint64_t)c_out * K > RG_WORK_BUDGET) return 0;
    int s8 = fz_chance(r, 50);
    int16_t *w;
    float *ws, *bs;
    rg_params(g, c_out, K, &w, &ws, &bs);
    char name[32];
    snprintf(name, sizeof name, "fc%d", g->layer_no++);
    if (w && ws && bs) *x = bpt_linear_w(g->b, name, *x, c_out, s8, 1.0f / 32.0f, w, ws, bs);
    free(w);
    free(ws);
    free(bs);
    g->work += (uint64_t)c_out * K;
    g->c->layers++;
    g->c->s8 += s8;
    return 1;
}

/* A residual: an earlier activation of the same shape, else a conv/linear
 * branch that keeps the shape. */
static int rg_residual(rg *g, uint32_t *x)
{
    fz_rng *r = g->r;
    uint32_t nd, nd2;
    const uint32_t *d = rg_dims(g, *x, &nd);
    uint32_t cand[RG_MAX_POOL], nc = 0;
    for (uint32_t i = 0; i < g->npool; i++) {
        if (g->pool[i] == *x && !fz_chance(r, 10)) continue; /* x + x rarely */
        const uint32_t *e = rg_dims(g, g->pool[i], &nd2);
        if (nd2 == nd && !memcmp(e, d, nd * sizeof *d)) cand[nc++] = g->pool[i];
    }
    if (nc && fz_chance(r, 60)) {
        uint32_t o = cand[fz_below(r, nc)];
        *x = fz_chance(r, 50) ? bpt_add(g->b, *x, o) : bpt_add(g->b, o, *x);
        return 1;
    }
    uint32_t in = *x, y = *x;
    if (nd == 4) {
        uint32_t C = d[1], k = fz_chance(r, 50) ? 1 : 3;
        uint32_t K = (fz_chance(r, 30) ? 1 : C) * k * k;
        uint32_t groups = K < C * k * k ? C : 1;
        uint64_t work = (uint64_t)C * K * d[2] * d[3];
        if (g->work + work > RG_WORK_BUDGET) return 0;
        int16_t *w;
        float *ws, *bs;
        rg_params(g, C, K, &w, &ws, &bs);
        char name[32];
        snprintf(name, sizeof name, "branch%d", g->layer_no++);
        int s8 = fz_chance(r, 50);
        if (w && ws && bs)
            y = bpt_conv_w(g->b, name, in, C, k, k, 1, 1, k / 2, k / 2, k / 2, k / 2, 1, 1, groups,
                           s8, 1.0f / 32.0f, w, ws, bs);
        free(w);
        free(ws);
        free(bs);
        g->work += work;
        g->c->layers++;
        if (fz_chance(r, 30)) y = bpt_gelu(g->b, y);
    } else if (nd == 2) {
        uint32_t F = d[1];
        if (F > 4096 || g->work + (uint64_t)F * F > RG_WORK_BUDGET) return 0;
        int16_t *w;
        float *ws, *bs;
        rg_params(g, F, F, &w, &ws, &bs);
        char name[32];
        snprintf(name, sizeof name, "branch%d", g->layer_no++);
        if (w && ws && bs) y = bpt_linear_w(g->b, name, in, F, fz_chance(r, 50), 1.0f / 32.0f, w, ws, bs);
        free(w);
        free(ws);
        free(bs);
        g->work += (uint64_t)F * F;
        g->c->layers++;
    } else {
        return 0;
    }
    /* the conv output feeding the add first or second (fusion picks either) */
    *x = fz_chance(r, 50) ? bpt_add(g->b, y, in) : bpt_add(g->b, in, y);
    if (fz_chance(r, 40)) *x = bpt_relu(g->b, *x);
    return 1;
}

static float *rg_channel_params(fz_rng *r, uint32_t C, int allow_special)
{
    float *p = malloc(C * sizeof *p);
    if (!p) return NULL;
    for (uint32_t c = 0; c < C; c++) {
        p[c] = (float)(0.5 + fz_unif(r));
        if (allow_special && fz_chance(r, 5)) p[c] = fz_chance(r, 50) ? 0.0f : -p[c];
    }
    return p;
}

static void rg_op(rg *g, uint32_t *x)
{
    fz_rng *r = g->r;
    uint32_t nd;
    const uint32_t *d = rg_dims(g, *x, &nd);
    uint32_t C = d[1];
    uint32_t p = fz_below(r, 100);
    if (nd < 2) { /* rank 1: no channel dimension */
        *x = p < 40 ? bpt_relu(g->b, *x) : p < 70 ? bpt_gelu(g->b, *x) : bpt_softmax(g->b, *x);
        return;
    }
    if (nd == 4) {
        if (p < 32 && rg_conv(g, x)) return;
        if (p < 42 && rg_residual(g, x)) return;
        if (p < 52) {
            uint32_t k = fz_range(r, 1, 3), s = fz_range(r, 1, 2), pad = fz_below(r, k);
            if (d[2] + 2 * pad >= k && d[3] + 2 * pad >= k) {
                *x = bpt_pool(g->b, *x, fz_chance(r, 50), k, s, pad);
                return;
            }
        }
        if (p < 56) { *x = bpt_gap(g->b, *x); return; }
        if (p < 60 && (uint64_t)d[1] * d[2] * d[3] <= 4096) { *x = bpt_flatten(g->b, *x); return; }
        if (p < 62) { *x = bpt_softmax(g->b, *x); return; }
    } else {
        if (p < 40 && rg_linear(g, x)) return;
        if (p < 55 && rg_residual(g, x)) return;
        if (p < 60) { *x = bpt_softmax(g->b, *x); return; }
    }
    p = fz_below(r, 100);
    float *a = NULL, *b = NULL;
    if (p < 25) {
        *x = bpt_relu(g->b, *x);
    } else if (p < 45) {
        *x = bpt_gelu(g->b, *x);
    } else if (p < 65) {
        a = rg_channel_params(r, C, 0);
        b = rg_channel_params(r, C, 1);
        float eps = fz_chance(r, 20) ? 1e-2f : fz_chance(r, 50) ? 1e-6f : 1e-5f;
        if (a && b) *x = bpt_layernorm(g->b, *x, eps, a, b);
    } else if (p < 82) {
        a = rg_channel_params(r, C, 1);
        b = rg_channel_params(r, C, 1);
        if (a && b) *x = bpt_batchnorm(g->b, *x, a, b);
    } else {
        a = rg_channel_params(r, C, 1);
        if (a) *x = bpt_layerscale(g->b, *x, a);
    }
    free(a);
    free(b);
}

/* One wide conv over a 16x16 map: enough work that the integer backends
 * really split it across 2 threads (small layers run on one). */
static void rg_big_conv(rg *g, uint32_t *x)
{
    uint32_t nd;
    const uint32_t *d = rg_dims(g, *x, &nd);
    if (nd != 4 || d[2] < 8 || d[3] < 8) return;
    uint32_t C = d[1], c_out = fz_range(g->r, 32, 64);
    uint32_t K = C * 9;
    int16_t *w;
    float *ws, *bs;
    rg_params(g, c_out, K, &w, &ws, &bs);
    int s8 = fz_chance(g->r, 50);
    if (w && ws && bs)
        *x = bpt_conv_w(g->b, "big", *x, c_out, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, s8, 1.0f / 32.0f,
                        w, ws, bs);
    free(w);
    free(ws);
    free(bs);
    g->work += (uint64_t)c_out * K * d[2] * d[3];
    g->c->layers++;
    g->c->big++;
}

static void rg_output(rg *g, uint32_t t);

/* Accumulators at the int32 bound: K up to 32768 (the format's limit),
 * weights +-255 (or +-128) with one sign per row, and an activation scale
 * so small that every input saturates (u8 255, s8 -128/127):
 * |acc| reaches K * 255 * 255 = 2130739200 < 2^31. Linear, or a conv whose
 * window covers its whole input (kernel up to 64x64) or a depthwise one. */
static int rg_extreme(rg *g, uint32_t *x, uint32_t *layer)
{
    fz_rng *r = g->r;
    uint32_t nd;
    const uint32_t *d = rg_dims(g, *x, &nd);
    uint32_t c_out, K, kh = 1, kw = 1, groups = 1, P = 1;
    if (nd == 2) {
        K = d[1];
        c_out = fz_range(r, 1, 8);
    } else {
        kh = d[2];
        kw = d[3];
        groups = fz_chance(r, 50) ? d[1] : 1;
        c_out = groups * fz_range(r, 1, 2);
        K = d[1] / groups * kh * kw;
        P = 1;
    }
    if (K > 32768) return 0;
    int16_t *w;
    float *ws, *bs;
    int fit = g->s8_fit;
    g->s8_fit = 0;
    rg_params(g, c_out, K, &w, &ws, &bs);
    g->s8_fit = fit;
    if (!w || !ws || !bs) {
        free(w);
        free(ws);
        free(bs);
        return 0;
    }
    int16_t mag = fz_chance(r, 70) ? 255 : fz_chance(r, 50) ? 128 : 127;
    if (fit) mag = 127;
    for (uint32_t j = 0; j < c_out; j++) {
        int sign = fz_chance(r, 50) ? 1 : -1;
        int mixed = fz_chance(r, 20);
        for (uint32_t k = 0; k < K; k++)
            w[(size_t)j * K + k] = (int16_t)((mixed && fz_chance(r, 50) ? -sign : sign) * mag);
    }
    int s8 = fz_chance(r, 50);
    *layer = bpt_n_layers(g->b);
    if (nd == 2)
        *x = bpt_linear_w(g->b, "extreme", *x, c_out, s8, 1.0f / 32.0f, w, ws, bs);
    else
        *x = bpt_conv_w(g->b, "extreme", *x, c_out, kh, kw, 1, 1, 0, 0, 0, 0, 1, 1, groups, s8,
                        1.0f / 32.0f, w, ws, bs);
    free(w);
    free(ws);
    free(bs);
    g->work += (uint64_t)c_out * K * P;
    g->c->layers++;
    g->c->extreme++;
    return 1;
}

/* Activations of rank 1, 3, 5 or 6 through the ops that take any rank
 * (relu, gelu, softmax, add; layernorm/batchnorm/layer scale from rank 2),
 * then flattened into a linear layer. */
static uint32_t rg_odd_rank(rg *g)
{
    fz_rng *r = g->r;
    static const uint32_t ranks[] = {1, 3, 5, 6};
    uint32_t nd = ranks[fz_below(r, 4)], d[6] = {1, 1, 1, 1, 1, 1};
    for (uint32_t k = 1; k < nd; k++) d[k] = fz_range(r, 1, nd > 4 ? 3 : 6);
    uint32_t x = bpt_input(g->b, "x", nd, d);
    rg_keep(g, x);
    for (uint32_t i = fz_range(r, 1, 4); i > 0; i--) {
        uint32_t p = fz_below(r, 6);
        if (p == 0) x = bpt_relu(g->b, x);
        else if (p == 1) x = bpt_gelu(g->b, x);
        else if (p == 2) x = bpt_softmax(g->b, x);
        else if (p == 3) x = bpt_add(g->b, x, g->pool[fz_below(r, g->npool)]);
        else if (nd >= 2) {
            float *a = rg_channel_params(r, d[1], 1), *b = rg_channel_params(r, d[1], 1);
            if (a && b)
                x = p == 4 ? bpt_layernorm(g->b, x, 1e-5f, a, b) : bpt_batchnorm(g->b, x, a, b);
            free(a);
            free(b);
        }
        rg_keep(g, x);
        if (fz_chance(r, 20)) rg_output(g, x);
    }
    if (nd >= 2) {
        x = bpt_flatten(g->b, x);
        rg_keep(g, x);
    }
    return x;
}

static void rg_output(rg *g, uint32_t t)
{
    for (uint32_t i = 0; i < g->nout; i++)
        if (g->outputs[i] == t) return;
    if (g->nout < 4) {
        g->outputs[g->nout++] = t;
        bpt_output(g->b, t);
    }
}

/* Builds a random model into *buf; 0 or a builder/writer status. */
static int rg_build(rg_ctx *c, fz_rng *r, uint64_t seed, void **buf, size_t *size)
{
    rg g;
    memset(&g, 0, sizeof g);
    g.r = r;
    g.c = c;
    g.b = bpt_new(seed, (bpt_wspec){0.5, BPF_ENC_BINARY, 1});
    if (!g.b) return -1;
    g.s8_fit = fz_chance(r, 50);
    c->s8_fit += g.s8_fit;
    uint32_t x, extreme_layer = UINT32_MAX;
    uint32_t kind = fz_below(r, 100);
    int big = kind < 12, extreme = kind >= 12 && kind < 22, odd = kind >= 22 && kind < 30;
    if (odd) {
        x = rg_odd_rank(&g);
        c->odd_rank++;
    } else if (extreme) {
        uint32_t d[4] = {1, 1, 1, 1};
        uint32_t nd = 4;
        switch (fz_below(r, 3)) {
        case 0: nd = 2; d[1] = fz_chance(r, 50) ? 32768 : fz_range(r, 1024, 32768); break;
        case 1: d[1] = fz_range(r, 1, 8); d[2] = fz_range(r, 32, 64); d[3] = fz_range(r, 1, 64); break;
        default: d[1] = fz_range(r, 1, 64); d[2] = d[3] = fz_range(r, 3, 22); break;
        }
        x = bpt_input(g.b, "x", nd, d);
        rg_keep(&g, x);
        rg_extreme(&g, &x, &extreme_layer);
        rg_keep(&g, x);
    } else if (big || fz_chance(r, 75)) {
        uint32_t d[4] = {1, fz_range(r, 1, big ? 16 : 8), big ? 16 : fz_range(r, 1, 14),
                         big ? 16 : fz_range(r, 1, 14)};
        if (fz_chance(r, 20)) d[3] = d[2];
        x = bpt_input(g.b, "x", 4, d);
    } else {
        uint32_t d[2] = {1, fz_range(r, 1, 48)};
        x = bpt_input(g.b, "x", 2, d);
    }
    if (!odd && !extreme) rg_keep(&g, x);
    if (!odd && !extreme && fz_chance(r, 15)) { /* a second input of the same shape, joined by an add */
        uint32_t nd;
        uint32_t dd[4];
        const uint32_t *d = rg_dims(&g, x, &nd);
        memcpy(dd, d, nd * sizeof *d);
        uint32_t x2 = bpt_input(g.b, "x2", nd, dd);
        rg_keep(&g, x2);
        if (fz_chance(r, 80)) x = bpt_add(g.b, x, x2);
    }
    if (big) rg_big_conv(&g, &x);
    uint32_t n_ops = extreme ? fz_below(r, 3) : fz_range(r, 1, 10);
    for (uint32_t i = 0; i < n_ops; i++) {
        rg_op(&g, &x);
        rg_keep(&g, x);
        if (fz_chance(r, 12)) rg_output(&g, x);
    }
    if (fz_chance(r, 3)) rg_output(&g, g.pool[0]); /* a graph input as an output */
    rg_output(&g, x);
    /* a rank-1 softmax runs at batch 1 only (its axis is the batch) */
    int st = fz_chance(r, 85) ? bpt_calibrate(g.b, odd ? 1 : 2) : 0;
    /* then some activation scales off: saturation, or mostly zeros */
    static const float f[] = {1e-3f, 0.1f, 0.5f, 2.0f, 10.0f, 1e3f};
    for (uint32_t l = 0; !st && l < bpt_n_layers(g.b); l++)
        if (fz_chance(r, 20))
            bpt_set_act_scale(g.b, l, bpt_layer(g.b, l)->act_scale * f[fz_below(r, 6)]);
    if (!st && extreme_layer != UINT32_MAX) /* saturate every input of that layer */
        bpt_set_act_scale(g.b, extreme_layer, fz_chance(r, 50) ? 1e-6f : 1e-30f);
    if (!st) st = bpt_write(g.b, buf, size);
    bpt_free(g.b);
    return st;
}

/* More digit positions than the weights need (up to 9), sometimes the
 * other encoding: planes above the top digit are empty. */
static int rg_raise_m(rg_ctx *c, fz_rng *r, void **buf, size_t *size)
{
    me_model *e = me_from_buffer(*buf, *size);
    if (!e) return -1;
    for (uint32_t l = 0; l < e->n_layers; l++) {
        if (!fz_chance(r, 50)) continue;
        const bpf_layer *L = &e->layers[l];
        uint32_t enc = fz_chance(r, 20) ? 1 - L->encoding : L->encoding;
        uint32_t M = fz_range(r, L->M, BPF_M_MAX);
        if (me_encode_layer(e, l, e->ls[l].dense, L->c_out, L->K, enc, M, r) != 0)
            me_encode_layer(e, l, e->ls[l].dense, L->c_out, L->K, enc, 0, r);
        c->m_raised++;
    }
    void *nb = NULL;
    size_t ns = 0;
    bpf_model_desc d;
    int st = me_fit(e, 1u << 30, NULL);
    me_desc(e, &d);
    if (!st) st = bpf_write_memory(&d, &nb, &ns);
    me_free(e);
    if (st) return st;
    free(*buf);
    *buf = nb;
    *size = ns;
    return 0;
}

static int rg_iter(const fz_opts *o, long it, uint64_t it_seed, void *ctx)
{
    (void)it;
    rg_ctx *c = ctx;
    fz_rng r;
    fz_rng_seed(&r, it_seed);
    void *buf = NULL;
    size_t size = 0;
    int st = rg_build(c, &r, it_seed, &buf, &size);
    if (!st && fz_chance(&r, 35)) st = rg_raise_m(c, &r, &buf, &size);
    if (st) {
        printf("FAIL: the generator built an invalid model (status %d: %s / %s)\n", st,
               bpf_last_error(), bp_last_error());
        free(buf);
        return 1;
    }
    c->models++;
    if (o->only >= 0 && o->save) {
        FILE *f = fopen(o->save, "wb");
        if (f) {
            fwrite(buf, 1, size, f);
            fclose(f);
            printf("saved the model to %s\n", o->save);
        }
    }
    fz_check_cfg cfg = {1, -1, o->verbose};
    long loaded_before = c->cs.load_rejected;
    int fail = fz_check_model(buf, size, &cfg, &r, &c->cs);
    if (!fail && c->cs.load_rejected != loaded_before) {
        printf("FAIL: a valid generated model is rejected at load: %s\n", bp_last_error());
        fail = 1;
    }
    free(buf);
    return fail;
}

int main(int argc, char **argv)
{
    fz_opts o;
    if (fz_parse_args(argc, argv, "fuzz_random_models", &o)) return 2;
    rg_ctx *c = calloc(1, sizeof *c);
    if (!c) return 1;
    c->verbose = o.verbose;
    int rc = fz_loop(&o, rg_iter, c);
    printf("fuzz_random_models: %ld models (%ld with all |w| <= 127), %ld layers (%ld depthwise, "
           "%ld grouped, %ld s8 inputs, %ld multi-threaded), %ld layers re-encoded with more "
           "digit positions, %ld accumulator-bound layers, %ld rank-1/3/5/6 models\n", c->models,
           c->s8_fit, c->layers, c->depthwise, c->grouped, c->s8, c->big, c->m_raised, c->extreme,
           c->odd_rank);
    fz_check_stats_print("fuzz_random_models", &c->cs);
    free(c);
    return rc;
}
