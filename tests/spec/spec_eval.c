/* The spec's model semantics (formats/SPEC.md 7.1-7.3, 8.1-8.2), implemented from
 * the text with plain loops; see spec_eval.h. Built with -ffp-contract=off. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_eval.h"

/* ---- 7.3: EXP and GELU ---- */

/* Coefficients of SPEC.md 7.3, lowest degree first. */
static const double bps_p0[11] = {
    0x1.20dd750429b6bp+0, -0x1.812746b037352p-2, 0x1.ce2f21a000d30p-4,
    -0x1.b82ce3026aae0p-6, 0x1.565bcb082cca2p-8, -0x1.c02d67e37081ep-11,
    0x1.f99c295886f05p-14, -0x1.f4684782919e8p-17, 0x1.b5d3ea9fd0b5ap-20,
    -0x1.462a758d4591dp-23, 0x1.43f6d0dee7032p-27,
};
static const double bps_q1[15] = {
    0x1.15aaa8ec85205p-5, -0x1.e723726b82977p-4, 0x1.6d5a95d0a1033p-3,
    -0x1.1c2a02bea0196p-3, 0x1.6d5a95d2478f7p-5, 0x1.e723722d9d842p-7,
    -0x1.3ca3d7bad185dp-6, 0x1.36d743d8bf133p-8, 0x1.35aea33e8b25dp-9,
    -0x1.c0398f5c57c39p-10, 0x1.854dad90b9591p-14, 0x1.0af1263cafbeep-12,
    -0x1.43b58e78f948ap-14, -0x1.33d18cb6fdf40p-16, 0x1.aa7ad19c475dbp-17,
};
static const double bps_q2[15] = {
    0x1.aab859b20ac9ep-12, -0x1.1d83170fabdd7p-9, 0x1.64e3dcd3acd13p-8,
    -0x1.119da0c747a0bp-7, 0x1.1a89b97da4031p-7, -0x1.90e8118d2e2b4p-8,
    0x1.6ecdbeea74fe7p-9, -0x1.1c619ed98bfaep-11, -0x1.1154d308febc5p-12,
    0x1.067cb9746d206p-12, -0x1.4a8fcf49dbfabp-14, -0x1.6783801fa8777p-18,
    0x1.da5b65bc5137ep-17, -0x1.1329cd34ff320p-18, -0x1.6a007e8cf4d8dp-22,
};
static const double bps_q3[15] = {
    0x1.8ef2a9a18d857p-21, -0x1.6a59721988900p-18, 0x1.3d0e43d697c5ap-16,
    -0x1.62ccea6634dedp-15, 0x1.1c077215944cbp-14, -0x1.586baf93f8efap-14,
    0x1.4615409a02cc7p-14, -0x1.e8280368d09f2p-15, 0x1.1f62e387be727p-15,
    -0x1.013472c4e7294p-16, 0x1.377e3a8b3538ap-18, -0x1.de8b6074b820ap-22,
    -0x1.dfcce85fed3f9p-22, 0x1.477004e4292d7p-22, -0x1.69bd312f4343dp-24,
};
static const double bps_q4[15] = {
    0x1.b05cfe2e99435p-33, -0x1.f1e352a4e4f05p-30, 0x1.180fde408da57p-27,
    -0x1.99b8627b3a9b7p-26, 0x1.b598cb62f3216p-25, -0x1.6b1bd90006eedp-24,
    0x1.e650e0e0bea36p-24, -0x1.0d66007cae779p-23, 0x1.f5f34775e5d5fp-24,
    -0x1.8d4d143a5cba0p-24, 0x1.0c38acf72d4c3p-24, -0x1.33a927297fabdp-25,
    0x1.2cf36c42c442cp-26, -0x1.0026f2d427296p-27, 0x1.2fc19cb202f34p-29,
};
static const double bps_q5[15] = {
    0x1.09182b326b229p-47, -0x1.7258a0606ecafp-44, 0x1.fd398c7cbe329p-42,
    -0x1.cb10948ce0b3ap-40, 0x1.3100dcd496e28p-38, -0x1.3e568a871845bp-37,
    0x1.0f714e68764c3p-36, -0x1.842f3935000dep-36, 0x1.dc0438f2ec5cdp-36,
    -0x1.feeef2c355f52p-36, 0x1.da751857b96d5p-36, -0x1.6ea05ffa8fd6fp-36,
    0x1.133ae27a985d9p-36, -0x1.ebcd6a3bf0597p-37, 0x1.0f9b0610c3f52p-37,
};

static const double *const bps_q[5] = {bps_q1, bps_q2, bps_q3, bps_q4, bps_q5};

/* 1/k!, k = 0..11 */
static const double bps_exp_c[12] = {
    1.0, 1.0, 0x1p-1, 0x1.5555555555555p-3, 0x1.5555555555555p-5,
    0x1.1111111111111p-7, 0x1.6c16c16c16c17p-10, 0x1.a01a01a01a01ap-13,
    0x1.a01a01a01a01ap-16, 0x1.71de3a556c734p-19, 0x1.27e4fb7789f5cp-22,
    0x1.ae64567f544e4p-26,
};

/* H(c, n, z): r = c[n-1]; r = r*z + c[k] for k = n-2 .. 0. */
static double bps_horner(const double *c, int n, double z)
{
    double r = c[n - 1];
    for (int k = n - 2; k >= 0; k--) {
        double p = r * z;
        r = p + c[k];
    }
    return r;
}

float bps_exp(double t)
{
    if (isnan(t)) return NAN;
    if (t < -110.0) return 0.0f;
    if (t > 89.0) return INFINITY;
    double n = nearbyint(t * 0x1.71547652b82fep+0); /* default mode: ties to even */
    double r1 = t - n * 0x1.62e42fefa4p-1;
    double r = r1 - n * -0x1.8432a1b0e2634p-43;
    double p = bps_horner(bps_exp_c, 12, r);
    return (float)ldexp(p, (int)n); /* exact: p * 2^n is a normal double */
}

float bps_gelu(float x)
{
    double xd = (double)x;
    double a = xd * 0x1.6a09e667f3bcdp-1;
    if (isnan(a)) return x;
    if (a <= -6.0) return -0.0f;
    if (a >= 6.0) return x;
    double h;
    if (fabs(a) < 1.0) {
        h = 1.0 + a * bps_horner(bps_p0, 11, a * a);
    } else {
        double m = fabs(a);
        int i = (int)floor(m);
        double q = bps_horner(bps_q[i - 1], 15, m - (i + 0.5));
        h = a > 0.0 ? 2.0 - q : q;
    }
    return (float)((0.5 * xd) * h);
}

/* ---- 8.1 step 2: quantization ---- */

int32_t bps_quantize(float x, float inv, int s8)
{
    float v = x * inv;
    if (s8) {
        if (isnan(v)) v = 0.0f;
        v = v > -128.0f ? v : -128.0f;
        v = v < 127.0f ? v : 127.0f;
    } else {
        v = v > 0.0f ? v : 0.0f;
        v = v < 255.0f ? v : 255.0f;
    }
    return (int32_t)nearbyintf(v);
}

/* ---- the graph ---- */

typedef struct bps_ctx {
    const bpf_model *m;
    uint32_t N;
    float **val;     /* [n_tensors] values of activations (owned) */
    uint8_t *folded; /* [n_nodes] 1: folded into a layer (8.2), not run */
    size_t *elems;   /* [n_tensors] elements at batch N */
    char *err;
    size_t errlen;
} bps_ctx;

static int bps_fail(bps_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bps_fail(bps_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int bps_is_const(const bps_ctx *c, uint32_t t)
{
    return c->m->tensors[t].data != NULL;
}

/* dims of tensor t at batch N (activations) */
static uint32_t bps_dim(const bps_ctx *c, uint32_t t, uint32_t d)
{
    const bpf_tensor *T = &c->m->tensors[t];
    if (d == 0 && !T->data) return c->N;
    return T->dims[d];
}

static const float *bps_get(bps_ctx *c, uint32_t t)
{
    const bpf_tensor *T = &c->m->tensors[t];
    if (T->data) return T->dtype == BPF_DT_F32 ? (const float *)T->data : NULL;
    return c->val[t];
}

/* f32 constant with exactly n elements, or NULL */
static const float *bps_param(bps_ctx *c, uint32_t t, size_t n)
{
    const bpf_tensor *T = &c->m->tensors[t];
    if (!T->data || T->dtype != BPF_DT_F32 || T->nbytes != n * sizeof(float)) return NULL;
    return (const float *)T->data;
}

/* Dense weights w[j*K + k] rebuilt from the planes (SPEC.md 8, Planes). */
static int32_t *bps_weights(const bpf_layer *L)
{
    int32_t *w = calloc((size_t)L->c_out * L->K, sizeof(int32_t));
    if (!w) return NULL;
    for (uint32_t j = 0; j < L->c_out; j++)
        for (uint32_t m = 0; m < L->M; m++)
            for (uint32_t s = 0; s < 2; s++) {
                size_t e = ((size_t)j * L->M + m) * 2 + s;
                for (uint32_t i = L->row_ptr[e]; i < L->row_ptr[e + 1]; i++) {
                    uint32_t k = L->idx_bytes == 2 ? ((const uint16_t *)L->col_idx)[i]
                                                   : ((const uint32_t *)L->col_idx)[i];
                    int32_t d = (int32_t)1 << m;
                    w[(size_t)j * L->K + k] += s ? -d : d;
                }
            }
    return w;
}

/* Number of input slots, over all nodes, that read tensor t. */
static uint32_t bps_readers(const bpf_model *m, uint32_t t, uint32_t *last)
{
    uint32_t r = 0;
    for (uint32_t i = 0; i < m->n_nodes; i++)
        for (uint32_t k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] == t) {
                r++;
                *last = i;
            }
    return r;
}

static int bps_is_output(const bpf_model *m, uint32_t t)
{
    for (uint32_t i = 0; i < m->n_outputs; i++)
        if (m->outputs[i] == t) return 1;
    return 0;
}

/* 8.2: the node that folds into a layer of c_out channels writing t, or
 * UINT32_MAX. */
static uint32_t bps_fold_next(bps_ctx *c, uint32_t t, uint32_t c_out)
{
    const bpf_model *m = c->m;
    uint32_t f = UINT32_MAX;
    if (bps_is_output(m, t) || bps_readers(m, t, &f) != 1) return UINT32_MAX;
    const bpf_node *F = &m->nodes[f];
    uint32_t need = F->op == BPF_OP_LAYERSCALE ? 2 : F->op == BPF_OP_BATCHNORM ? 3 : 0;
    if (!need || F->n_in != need || F->in[0] != t || c->elems[F->out[0]] != c->elems[t])
        return UINT32_MAX;
    for (uint32_t k = 1; k < need; k++)
        if (!bps_param(c, F->in[k], c_out)) return UINT32_MAX;
    return f;
}

/* 8.1 step 4 scales and biases after the folds of 8.2; marks the folded
 * nodes and returns the tensor the layer writes. */
static uint32_t bps_folds(bps_ctx *c, const bpf_node *nd, const bpf_layer *L, float *s,
                          float *b)
{
    for (uint32_t j = 0; j < L->c_out; j++) {
        s[j] = L->w_scale[j] * L->act_scale;
        b[j] = L->bias[j];
    }
    uint32_t t = nd->out[0], f;
    while ((f = bps_fold_next(c, t, L->c_out)) != UINT32_MAX) {
        const bpf_node *F = &c->m->nodes[f];
        const float *g = bps_param(c, F->in[1], L->c_out);
        const float *tt = F->op == BPF_OP_BATCHNORM ? bps_param(c, F->in[2], L->c_out) : NULL;
        for (uint32_t j = 0; j < L->c_out; j++) {
            s[j] = s[j] * g[j];
            float bg = b[j] * g[j];
            b[j] = tt ? bg + tt[j] : bg;
        }
        c->folded[f] = 1;
        t = F->out[0];
    }
    return t;
}

static int bps_layer_run(bps_ctx *c, const bpf_node *nd, const bpf_layer *L, const float *x,
                         float *y, const float *s, const float *b);

/* 8.1: CONV2D and LINEAR (with the folds of 8.2). */
static int bps_layer(bps_ctx *c, const bpf_node *nd, const float *x)
{
    const bpf_model *m = c->m;
    if (nd->layer >= m->n_layers) return bps_fail(c, "node '%s': bad layer", nd->name);
    const bpf_layer *L = &m->layers[nd->layer];
    float *sj = malloc(2 * (size_t)L->c_out * sizeof(float));
    if (!sj) return bps_fail(c, "out of memory");
    float *bj = sj + L->c_out;
    float *y = c->val[bps_folds(c, nd, L, sj, bj)];
    int st = bps_layer_run(c, nd, L, x, y, sj, bj);
    free(sj);
    return st;
}
/* The layer with per-channel scales s and biases b, into y. */
static int bps_layer_run(bps_ctx *c, const bpf_node *nd, const bpf_layer *L, const float *x,
                         float *y, const float *s, const float *b)
{
    int s8 = L->act_dtype == BPF_DT_S8;
    float inv = 1.0f / L->act_scale;
    int32_t *w = bps_weights(L);
    if (!w) return bps_fail(c, "out of memory");
    uint32_t N = c->N, K = L->K;
    uint32_t x_id = nd->in[0];
    if (L->kind == BPF_LAYER_LINEAR) {
        if (c->elems[x_id] != (size_t)N * L->c_in) {
            free(w);
            return bps_fail(c, "node '%s': linear input size", nd->name);
        }
        for (uint32_t n = 0; n < N; n++)
            for (uint32_t j = 0; j < L->c_out; j++) {
                int64_t acc = 0;
                for (uint32_t k = 0; k < K; k++)
                    acc += (int64_t)w[(size_t)j * K + k] *
                           bps_quantize(x[(size_t)n * K + k], inv, s8);
                float t = (float)(int32_t)acc * s[j];
                y[(size_t)n * L->c_out + j] = t + b[j];
            }
        free(w);
        return 0;
    }
    uint32_t H = bps_dim(c, x_id, 2), W = bps_dim(c, x_id, 3);
    uint32_t OH = bps_dim(c, nd->out[0], 2), OW = bps_dim(c, nd->out[0], 3);
    uint32_t cig = L->c_in / L->groups, cog = L->c_out / L->groups;
    /* quantize the whole input once (the same value wherever it is read) */
    size_t xe = c->elems[x_id];
    int32_t *q = malloc((xe ? xe : 1) * sizeof(int32_t));
    if (!q) {
        free(w);
        return bps_fail(c, "out of memory");
    }
    for (size_t i = 0; i < xe; i++) q[i] = bps_quantize(x[i], inv, s8);
    /* The sum is exact in integers, so its order is free: add each nonzero
     * weight's contribution to the whole output plane. */
    int64_t *acc = malloc((size_t)OH * OW * sizeof(int64_t));
    if (!acc) {
        free(q);
        free(w);
        return bps_fail(c, "out of memory");
    }
    for (uint32_t n = 0; n < N; n++)
        for (uint32_t j = 0; j < L->c_out; j++) {
            uint32_t cg = (j / cog) * cig;
            memset(acc, 0, (size_t)OH * OW * sizeof(int64_t));
            for (uint32_t ci = 0; ci < cig; ci++)
                for (uint32_t dy = 0; dy < L->kh; dy++)
                    for (uint32_t dx = 0; dx < L->kw; dx++) {
                        int32_t wk = w[(size_t)j * K + ((size_t)ci * L->kh + dy) * L->kw + dx];
                        if (wk == 0) continue;
                        const int32_t *qc = q + ((size_t)n * L->c_in + cg + ci) * H * W;
                        for (uint32_t oy = 0; oy < OH; oy++) {
                            int64_t iy = (int64_t)oy * L->stride_h - L->pad_t +
                                         (int64_t)dy * L->dil_h;
                            if (iy < 0 || iy >= H) continue; /* padding: q = 0 */
                            for (uint32_t ox = 0; ox < OW; ox++) {
                                int64_t ix = (int64_t)ox * L->stride_w - L->pad_l +
                                             (int64_t)dx * L->dil_w;
                                if (ix < 0 || ix >= W) continue;
                                acc[(size_t)oy * OW + ox] +=
                                    (int64_t)wk * qc[(size_t)iy * W + (size_t)ix];
                            }
                        }
                    }
            for (size_t p = 0; p < (size_t)OH * OW; p++) {
                float t = (float)(int32_t)acc[p] * s[j];
                y[((size_t)n * L->c_out + j) * OH * OW + p] = t + b[j];
            }
        }
    free(acc);
    free(q);
    free(w);
    return 0;
}

/* 7.2 MAXPOOL / AVGPOOL */
static void bps_pool(bps_ctx *c, const bpf_node *nd, const float *x, float *y)
{
    uint32_t xi = nd->in[0], yi = nd->out[0];
    uint32_t N = c->N, C = bps_dim(c, xi, 1), H = bps_dim(c, xi, 2), W = bps_dim(c, xi, 3);
    uint32_t OH = bps_dim(c, yi, 2), OW = bps_dim(c, yi, 3);
    const int32_t *a = nd->ints;
    int32_t kh = a[0], kw = a[1], sh = a[2], sw = a[3], pt = a[4], pl = a[5];
    for (uint32_t n = 0; n < N; n++)
        for (uint32_t ch = 0; ch < C; ch++) {
            const float *xp = x + ((size_t)n * C + ch) * H * W;
            float *yp = y + ((size_t)n * C + ch) * OH * OW;
            for (uint32_t oy = 0; oy < OH; oy++)
                for (uint32_t ox = 0; ox < OW; ox++) {
                    float mx = -INFINITY, s = 0.0f;
                    uint32_t cnt = 0;
                    for (int32_t dy = 0; dy < kh; dy++)
                        for (int32_t dx = 0; dx < kw; dx++) {
                            int64_t iy = (int64_t)oy * sh - pt + dy;
                            int64_t ix = (int64_t)ox * sw - pl + dx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            float v = xp[(size_t)iy * W + (size_t)ix];
                            mx = v > mx ? v : mx;
                            s = s + v;
                            cnt++;
                        }
                    yp[(size_t)oy * OW + ox] = nd->op == BPF_OP_MAXPOOL ? mx : s / (float)cnt;
                }
        }
}

/* ADD / MUL: b's element for output index k of a (dims of a at batch N),
 * numpy broadcasting with b's dims right-aligned (SPEC.md 7.2). */
static size_t bps_bcast_index(bps_ctx *c, uint32_t ai, uint32_t bi, size_t k)
{
    const bpf_model *m = c->m;
    uint32_t an = m->tensors[ai].ndim, bn = m->tensors[bi].ndim;
    size_t idx[BPF_MAX_DIMS];
    for (uint32_t d = an; d-- > 0;) {
        idx[d] = k % bps_dim(c, ai, d);
        k /= bps_dim(c, ai, d);
    }
    size_t off = 0;
    for (uint32_t d = 0; d < bn; d++) {
        uint32_t bd = bps_dim(c, bi, d);
        off = off * bd + (bd == 1 ? 0 : idx[an - bn + d]);
    }
    return off;
}

/* RESIZE source coordinate of output index o (SPEC.md 7.2). */
static double bps_resize_coord(int ct, uint32_t o, uint32_t in, uint32_t out, float scale)
{
    double s = (double)scale, od = (double)o;
    if (ct == BPF_RESIZE_ASYMMETRIC) return od / s;
    if (ct == BPF_RESIZE_HALF_PIXEL) return (od + 0.5) / s - 0.5;
    if (ct == BPF_RESIZE_PYTORCH_HALF_PIXEL) return out == 1 ? 0.0 : (od + 0.5) / s - 0.5;
    if (out == 1) return 0.0; /* align_corners */
    return (od * (double)(in - 1)) / (double)(out - 1);
}

static double bps_clampd(double v, uint32_t in)
{
    if (v < 0.0) v = 0.0;
    if (v > (double)in - 1.0) v = (double)in - 1.0;
    return v;
}

static void bps_resize(bps_ctx *c, const bpf_node *nd, const float *x, float *y)
{
    uint32_t xi = nd->in[0], yi = nd->out[0];
    uint32_t N = c->N, C = bps_dim(c, xi, 1), H = bps_dim(c, xi, 2), W = bps_dim(c, xi, 3);
    uint32_t OH = bps_dim(c, yi, 2), OW = bps_dim(c, yi, 3);
    int mode = nd->ints[0], ct = nd->ints[1], rnd = nd->ints[2];
    for (uint32_t n = 0; n < N; n++)
        for (uint32_t ch = 0; ch < C; ch++) {
            const float *xp = x + ((size_t)n * C + ch) * H * W;
            float *yp = y + ((size_t)n * C + ch) * OH * OW;
            for (uint32_t oy = 0; oy < OH; oy++)
                for (uint32_t ox = 0; ox < OW; ox++) {
                    double u = bps_resize_coord(ct, oy, H, OH, nd->floats[0]);
                    double v = bps_resize_coord(ct, ox, W, OW, nd->floats[1]);
                    float r;
                    if (mode == BPF_RESIZE_NEAREST) {
                        double iu, iv;
                        if (rnd == BPF_RESIZE_FLOOR) { iu = floor(u); iv = floor(v); }
                        else if (rnd == BPF_RESIZE_CEIL) { iu = ceil(u); iv = ceil(v); }
                        else if (rnd == BPF_RESIZE_ROUND_PREFER_FLOOR) {
                            iu = ceil(u - 0.5);
                            iv = ceil(v - 0.5);
                        } else {
                            iu = floor(u + 0.5);
                            iv = floor(v + 0.5);
                        }
                        r = xp[(size_t)bps_clampd(iu, H) * W + (size_t)bps_clampd(iv, W)];
                    } else {
                        u = bps_clampd(u, H);
                        v = bps_clampd(v, W);
                        uint32_t y0 = (uint32_t)floor(u), x0 = (uint32_t)floor(v);
                        uint32_t y1 = y0 + 1 < H ? y0 + 1 : H - 1;
                        uint32_t x1 = x0 + 1 < W ? x0 + 1 : W - 1;
                        float ly = (float)(u - floor(u)), lx = (float)(v - floor(v));
                        float a00 = xp[(size_t)y0 * W + x0], a01 = xp[(size_t)y0 * W + x1];
                        float a10 = xp[(size_t)y1 * W + x0], a11 = xp[(size_t)y1 * W + x1];
                        float p = a00 * (1.0f - lx), q = a01 * lx;
                        float top = p + q;
                        p = a10 * (1.0f - lx);
                        q = a11 * lx;
                        float bot = p + q;
                        p = top * (1.0f - ly);
                        q = bot * ly;
                        r = p + q;
                    }
                    yp[(size_t)oy * OW + ox] = r;
                }
        }
}

/* CONVTRANSPOSE by gathering each output's terms (SPEC.md 7.2). */
static int bps_convtranspose(bps_ctx *c, const bpf_node *nd, const float *x, float *y)
{
    const bpf_model *m = c->m;
    uint32_t xi = nd->in[0], yi = nd->out[0];
    const bpf_tensor *wt = &m->tensors[nd->in[1]];
    uint32_t C = bps_dim(c, xi, 1), H = bps_dim(c, xi, 2), W = bps_dim(c, xi, 3);
    uint32_t CO = wt->dims[1], kh = wt->dims[2], kw = wt->dims[3];
    uint32_t OH = bps_dim(c, yi, 2), OW = bps_dim(c, yi, 3);
    const float *w = bps_param(c, nd->in[1], (size_t)C * CO * kh * kw);
    const float *bias = nd->n_in == 3 ? bps_param(c, nd->in[2], CO) : NULL;
    if (!w || (nd->n_in == 3 && !bias)) return bps_fail(c, "node '%s': weights", nd->name);
    int32_t sh = nd->ints[0], sw = nd->ints[1], pt = nd->ints[2], pl = nd->ints[3];
    for (uint32_t n = 0; n < c->N; n++)
        for (uint32_t co = 0; co < CO; co++)
            for (uint32_t oy = 0; oy < OH; oy++)
                for (uint32_t ox = 0; ox < OW; ox++) {
                    float acc = 0.0f;
                    for (uint32_t ci = 0; ci < C; ci++)
                        for (uint32_t ky = 0; ky < kh; ky++)
                            for (uint32_t kx = 0; kx < kw; kx++) {
                                int64_t ty = (int64_t)oy + pt - ky, tx = (int64_t)ox + pl - kx;
                                if (ty < 0 || tx < 0 || ty % sh || tx % sw) continue;
                                int64_t iy = ty / sh, ix = tx / sw;
                                if (iy >= H || ix >= W) continue;
                                float prod = x[(((size_t)n * C + ci) * H + iy) * W + ix] *
                                             w[(((size_t)ci * CO + co) * kh + ky) * kw + kx];
                                acc = acc + prod;
                            }
                    if (bias) acc = acc + bias[co];
                    y[(((size_t)n * CO + co) * OH + oy) * OW + ox] = acc;
                }
    return 0;
}

static int bps_node(bps_ctx *c, uint32_t ni)
{
    const bpf_model *m = c->m;
    const bpf_node *nd = &m->nodes[ni];
    uint32_t xi = nd->in[0], yi = nd->out[0];
    const float *x = bps_get(c, xi);
    float *y = c->val[yi];
    size_t n_el = c->elems[yi];
    if (!x || bps_is_const(c, xi)) return bps_fail(c, "node '%s': input 0", nd->name);
    uint32_t N = c->N;
    switch (nd->op) {
    case BPF_OP_CONV2D:
    case BPF_OP_LINEAR:
        return bps_layer(c, nd, x);
    case BPF_OP_RELU:
        for (size_t i = 0; i < n_el; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return 0;
    case BPF_OP_GELU:
        for (size_t i = 0; i < n_el; i++) y[i] = bps_gelu(x[i]);
        return 0;
    case BPF_OP_ADD:
    case BPF_OP_MUL: {
        const float *b = bps_get(c, nd->in[1]);
        if (!b || c->elems[xi] != n_el)
            return bps_fail(c, "node '%s': add/mul operands", nd->name);
        for (size_t i = 0; i < n_el; i++) {
            float bv = b[bps_bcast_index(c, xi, nd->in[1], i)];
            y[i] = nd->op == BPF_OP_ADD ? x[i] + bv : x[i] * bv;
        }
        return 0;
    }
    case BPF_OP_SIGMOID:
        for (size_t i = 0; i < n_el; i++) {
            double e = (double)bps_exp(-(double)x[i]);
            y[i] = (float)(1.0 / (1.0 + e));
        }
        return 0;
    case BPF_OP_HARDSIGMOID:
    case BPF_OP_HARDSWISH:
        for (size_t i = 0; i < n_el; i++) {
            float t;
            if (nd->op == BPF_OP_HARDSIGMOID) {
                t = x[i] * nd->floats[0];
                t = t + nd->floats[1];
                t = t > 0.0f ? t : 0.0f;
                y[i] = t < 1.0f ? t : 1.0f;
            } else {
                t = x[i] + 3.0f;
                t = t > 0.0f ? t : 0.0f;
                t = t < 6.0f ? t : 6.0f;
                t = x[i] * t;
                y[i] = t / 6.0f;
            }
        }
        return 0;
    case BPF_OP_CLIP:
        for (size_t i = 0; i < n_el; i++) {
            float v = x[i] < nd->floats[0] ? nd->floats[0] : x[i];
            y[i] = v > nd->floats[1] ? nd->floats[1] : v;
        }
        return 0;
    case BPF_OP_CONCAT: {
        uint32_t nd_ = m->tensors[yi].ndim, ax = (uint32_t)nd->ints[0];
        size_t outer = 1, inner = 1;
        for (uint32_t d = 0; d < ax; d++) outer *= bps_dim(c, yi, d);
        for (uint32_t d = ax + 1; d < nd_; d++) inner *= bps_dim(c, yi, d);
        size_t at = 0;
        for (size_t o = 0; o < outer; o++)
            for (uint32_t k = 0; k < nd->n_in; k++) {
                const float *src = bps_get(c, nd->in[k]);
                size_t len = (size_t)bps_dim(c, nd->in[k], ax) * inner;
                if (!src || bps_is_const(c, nd->in[k]))
                    return bps_fail(c, "node '%s': concat input %u", nd->name, k);
                for (size_t i = 0; i < len; i++) y[at++] = src[o * len + i];
            }
        return 0;
    }
    case BPF_OP_RESIZE:
        bps_resize(c, nd, x, y);
        return 0;
    case BPF_OP_CONVTRANSPOSE:
        return bps_convtranspose(c, nd, x, y);
    case BPF_OP_LAYERSCALE:
    case BPF_OP_BATCHNORM:
    case BPF_OP_LAYERNORM: {
        uint32_t C = bps_dim(c, xi, 1);
        size_t P = 1;
        for (uint32_t d = 2; d < m->tensors[xi].ndim; d++) P *= bps_dim(c, xi, d);
        const float *p1 = bps_param(c, nd->in[1], C);
        const float *p2 = nd->op == BPF_OP_LAYERSCALE ? p1 : bps_param(c, nd->in[2], C);
        if (!p1 || !p2) return bps_fail(c, "node '%s': channel parameters", nd->name);
        for (uint32_t n = 0; n < N; n++)
            for (size_t p = 0; p < P; p++) {
#define BPS_AT(ch) (((size_t)n * C + (ch)) * P + p)
                if (nd->op == BPF_OP_LAYERSCALE) {
                    for (uint32_t ch = 0; ch < C; ch++) y[BPS_AT(ch)] = x[BPS_AT(ch)] * p1[ch];
                } else if (nd->op == BPF_OP_BATCHNORM) {
                    for (uint32_t ch = 0; ch < C; ch++) {
                        float t = x[BPS_AT(ch)] * p1[ch];
                        y[BPS_AT(ch)] = t + p2[ch];
                    }
                } else {
                    double S = 0.0;
                    for (uint32_t ch = 0; ch < C; ch++) S += (double)x[BPS_AT(ch)];
                    double mu = S / (double)C;
                    double V = 0.0;
                    for (uint32_t ch = 0; ch < C; ch++) {
                        double d = (double)x[BPS_AT(ch)] - mu;
                        double dd = d * d;
                        V += dd;
                    }
                    double var = V / (double)C;
                    double r = 1.0 / sqrt(var + (double)nd->floats[0]);
                    for (uint32_t ch = 0; ch < C; ch++) {
                        float z = (float)(((double)x[BPS_AT(ch)] - mu) * r);
                        float g = z * p1[ch];
                        y[BPS_AT(ch)] = g + p2[ch];
                    }
                }
#undef BPS_AT
            }
        return 0;
    }
    case BPF_OP_MAXPOOL:
    case BPF_OP_AVGPOOL:
        bps_pool(c, nd, x, y);
        return 0;
    case BPF_OP_GLOBALAVGPOOL: {
        uint32_t C = bps_dim(c, xi, 1);
        size_t HW = (size_t)bps_dim(c, xi, 2) * bps_dim(c, xi, 3);
        for (size_t r = 0; r < (size_t)N * C; r++) {
            double S = 0.0;
            for (size_t p = 0; p < HW; p++) S += (double)x[r * HW + p];
            y[r] = (float)(S / (double)HW);
        }
        return 0;
    }
    case BPF_OP_FLATTEN:
        memcpy(y, x, n_el * sizeof(float));
        return 0;
    case BPF_OP_SOFTMAX: {
        size_t len = bps_dim(c, xi, m->tensors[xi].ndim - 1);
        for (size_t r = 0; r < n_el / len; r++) {
            const float *xr = x + r * len;
            float *yr = y + r * len;
            float mx = -INFINITY;
            for (size_t i = 0; i < len; i++) mx = xr[i] > mx ? xr[i] : mx;
            double S = 0.0;
            for (size_t i = 0; i < len; i++) {
                yr[i] = bps_exp((double)xr[i] - (double)mx);
                S += (double)yr[i];
            }
            for (size_t i = 0; i < len; i++) yr[i] = (float)((double)yr[i] / S);
        }
        return 0;
    }
    default:
        return bps_fail(c, "node '%s': op %u is not in the spec", nd->name, nd->op);
    }
}

int bps_run(const bpf_model *m, uint32_t N, const float *const *inputs, float **outputs,
            size_t *out_elems, char *err, size_t errlen)
{
    bps_ctx c = {m, N, NULL, NULL, NULL, err, errlen};
    int st = 0;
    for (uint32_t i = 0; i < m->n_outputs; i++) outputs[i] = NULL;
    c.val = calloc(m->n_tensors, sizeof *c.val);
    c.elems = calloc(m->n_tensors, sizeof *c.elems);
    c.folded = calloc(m->n_nodes ? m->n_nodes : 1, 1);
    if (!c.val || !c.elems || !c.folded) st = bps_fail(&c, "out of memory");
    for (uint32_t t = 0; t < m->n_tensors && !st; t++) {
        const bpf_tensor *T = &m->tensors[t];
        size_t e = 1;
        for (uint32_t d = 0; d < T->ndim; d++) e *= bps_dim(&c, t, d);
        c.elems[t] = e;
        if (T->data) continue;
        if (T->dtype != BPF_DT_F32) st = bps_fail(&c, "tensor '%s': activation not f32", T->name);
        else if (!(c.val[t] = malloc(e * sizeof(float)))) st = bps_fail(&c, "out of memory");
    }
    for (uint32_t i = 0; i < m->n_inputs && !st; i++) {
        uint32_t t = m->inputs[i];
        memcpy(c.val[t], inputs[i], c.elems[t] * sizeof(float));
    }
    for (uint32_t ni = 0; ni < m->n_nodes && !st; ni++)
        if (!c.folded[ni]) st = bps_node(&c, ni);
    for (uint32_t i = 0; i < m->n_outputs && !st; i++) {
        uint32_t t = m->outputs[i];
        out_elems[i] = c.elems[t];
        outputs[i] = malloc(c.elems[t] * sizeof(float));
        if (!outputs[i]) st = bps_fail(&c, "out of memory");
        else memcpy(outputs[i], c.val[t], c.elems[t] * sizeof(float));
    }
    if (st)
        for (uint32_t i = 0; i < m->n_outputs; i++) {
            free(outputs[i]);
            outputs[i] = NULL;
        }
    if (c.val)
        for (uint32_t t = 0; t < m->n_tensors; t++) free(c.val[t]);
    free(c.val);
    free(c.elems);
    free(c.folded);
    return st;
}
