/* onednn-int8 / onednn-f32 backends driven directly through the backend
 * vtable: a conv/linear sweep against an oracle computed here (naive integer
 * conv + the canonical epilogue of quant.h; naive double conv for f32). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "backend.h"
#include "quant.h"

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int32_t rng_int(int32_t lo, int32_t hi) /* inclusive */
{
    return lo + (int32_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static float rng_float(float lo, float hi)
{
    return lo + (hi - lo) * (float)((rng_next() >> 40) * (1.0 / 16777216.0));
}

typedef struct layer_case {
    const char *tag;
    int linear;
    uint32_t N, c_in, c_out, H, W, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups;
    int s8;        /* s8 activations */
    int residual, relu;
    int wmax;      /* weights in [-wmax, wmax] */
    int in_range;  /* inputs inside the quantized range (no saturation) */
    int even;      /* even weights only (with wmax <= 62: see int16_pairs_safe) */
} layer_case;

/* One built layer: the descriptor plus everything it points to. */
typedef struct built_layer {
    bpf_layer L;
    bp_layer_desc d;
    int16_t *w;
    float *w_scale, *bias, *out_scale;
    float *x, *res;
    size_t nx, ny;
} built_layer;

static void build_layer(const layer_case *c, built_layer *b)
{
    memset(b, 0, sizeof *b);
    bpf_layer *L = &b->L;
    L->kind = c->linear ? BPF_LAYER_LINEAR : BPF_LAYER_CONV;
    L->c_out = c->c_out;
    L->c_in = c->c_in;
    L->kh = c->linear ? 1 : c->kh;
    L->kw = c->linear ? 1 : c->kw;
    L->stride_h = c->linear ? 1 : c->sh;
    L->stride_w = c->linear ? 1 : c->sw;
    L->pad_t = c->pt; L->pad_l = c->pl; L->pad_b = c->pb; L->pad_r = c->pr;
    L->dil_h = c->linear ? 1 : c->dh;
    L->dil_w = c->linear ? 1 : c->dw;
    L->groups = c->linear ? 1 : c->groups;
    L->K = c->c_in / L->groups * L->kh * L->kw;
    L->M = 8;
    L->w_max = (uint32_t)c->wmax;
    L->act_dtype = c->s8 ? BPF_DT_S8 : BPF_DT_U8;
    L->act_scale = 0.05f;
    uint32_t H = c->linear ? 1 : c->H, W = c->linear ? 1 : c->W;
    uint32_t OH = 1, OW = 1;
    if (!c->linear) {
        OH = (H + c->pt + c->pb - ((c->kh - 1) * c->dh + 1)) / c->sh + 1;
        OW = (W + c->pl + c->pr - ((c->kw - 1) * c->dw + 1)) / c->sw + 1;
    }
    size_t nw = (size_t)c->c_out * L->K;
    b->w = malloc(nw * sizeof *b->w);
    b->w_scale = malloc(c->c_out * sizeof(float));
    b->bias = malloc(c->c_out * sizeof(float));
    b->out_scale = malloc(c->c_out * sizeof(float));
    assert_non_null(b->w);
    for (size_t i = 0; i < nw; i++) {
        /* ~40% zeros; a few extremes so +-wmax always occurs in big layers */
        uint32_t r = (uint32_t)(rng_next() % 100);
        b->w[i] = r < 40 ? 0 : r < 45 ? (int16_t)(r & 1 ? c->wmax : -c->wmax)
                                     : (int16_t)rng_int(-c->wmax, c->wmax);
        if (c->even) b->w[i] = (int16_t)(b->w[i] / 2 * 2);
    }
    for (uint32_t j = 0; j < c->c_out; j++) {
        b->w_scale[j] = rng_float(0.5f, 2.0f) / 128.0f;
        b->bias[j] = rng_float(-2.0f, 2.0f);
        b->out_scale[j] = bp_out_scale(b->w_scale[j], L->act_scale);
    }
    L->w_scale = b->w_scale;
    L->bias = b->bias;

    b->nx = (size_t)c->N * c->c_in * H * W;
    b->ny = (size_t)c->N * c->c_out * OH * OW;
    b->x = malloc(b->nx * sizeof(float));
    b->res = malloc(b->ny * sizeof(float));
    float top = (c->s8 ? 127.0f : 255.0f) * L->act_scale;
    float lo = c->in_range ? (c->s8 ? -top : 0.0f) : -1.3f * top;
    float hi = c->in_range ? top : 1.3f * top;
    for (size_t i = 0; i < b->nx; i++) b->x[i] = rng_float(lo, hi);
    for (size_t i = 0; i < b->ny; i++) b->res[i] = rng_float(-4.0f, 4.0f);

    bp_layer_desc *d = &b->d;
    d->name = c->tag;
    d->L = L;
    d->N = c->N;
    d->H = H; d->W = W; d->OH = OH; d->OW = OW;
    d->w_dense = b->w;
    d->out_scale = b->out_scale;
    d->bias = b->bias;
    d->act_inv_scale = 1.0f / L->act_scale;
    d->fuse_residual = c->residual;
    d->act = c->relu ? BP_EPI_RELU : BP_EPI_NONE;
}

static void free_layer(built_layer *b)
{
    free(b->w); free(b->w_scale); free(b->bias); free(b->out_scale);
    free(b->x); free(b->res);
}

/* Integer oracle: quantize, naive grouped conv with int64 accumulators, then
 * the canonical epilogue. clamp8: use weights clamped to s8 (what the int8
 * backend states it does with wider weights). */
static void oracle_int(const built_layer *b, int clamp8, float *y)
{
    const bp_layer_desc *d = &b->d;
    const bpf_layer *L = d->L;
    uint32_t G = L->groups, cig = L->c_in / G, cog = L->c_out / G;
    for (uint32_t n = 0; n < d->N; n++)
        for (uint32_t co = 0; co < L->c_out; co++) {
            uint32_t g = co / cog;
            for (uint32_t oy = 0; oy < d->OH; oy++)
                for (uint32_t ox = 0; ox < d->OW; ox++) {
                    int64_t acc = 0;
                    for (uint32_t ci = 0; ci < cig; ci++)
                        for (uint32_t ky = 0; ky < L->kh; ky++)
                            for (uint32_t kx = 0; kx < L->kw; kx++) {
                                int64_t iy = (int64_t)oy * L->stride_h - L->pad_t + (int64_t)ky * L->dil_h;
                                int64_t ix = (int64_t)ox * L->stride_w - L->pad_l + (int64_t)kx * L->dil_w;
                                if (iy < 0 || ix < 0 || iy >= d->H || ix >= d->W) continue;
                                float xv = b->x[(((size_t)n * L->c_in + g * cig + ci) * d->H + (size_t)iy) * d->W + (size_t)ix];
                                int32_t q = L->act_dtype == BPF_DT_S8 ? bp_quant_s8(xv, d->act_inv_scale)
                                                                      : bp_quant_u8(xv, d->act_inv_scale);
                                int32_t w = b->w[(size_t)co * L->K + (ci * L->kh + ky) * L->kw + kx];
                                if (clamp8) w = w > 127 ? 127 : w < -128 ? -128 : w;
                                acc += (int64_t)w * q;
                            }
                    assert_true(acc >= INT32_MIN && acc <= INT32_MAX);
                    size_t o = (((size_t)n * L->c_out + co) * d->OH + oy) * d->OW + ox;
                    float t = bp_epilogue((int32_t)acc, d->out_scale[co], d->bias[co]);
                    if (d->fuse_residual) t = t + b->res[o];
                    if (d->act == BP_EPI_RELU) t = bp_relu(t);
                    y[o] = t;
                }
        }
}

/* Float oracle in double on unquantized inputs and dequantized weights; also
 * returns per output the magnitude sum_k |w x| + |bias| + |res| (mag) and the
 * activation-quantization bound sum_k |w| * w_scale * act_scale / 2 (qb). */
static void oracle_f32(const built_layer *b, double *y, double *mag, double *qb)
{
    const bp_layer_desc *d = &b->d;
    const bpf_layer *L = d->L;
    uint32_t G = L->groups, cig = L->c_in / G, cog = L->c_out / G;
    for (uint32_t n = 0; n < d->N; n++)
        for (uint32_t co = 0; co < L->c_out; co++) {
            uint32_t g = co / cog;
            double ws = L->w_scale[co];
            for (uint32_t oy = 0; oy < d->OH; oy++)
                for (uint32_t ox = 0; ox < d->OW; ox++) {
                    double acc = 0, m = 0, q = 0;
                    for (uint32_t ci = 0; ci < cig; ci++)
                        for (uint32_t ky = 0; ky < L->kh; ky++)
                            for (uint32_t kx = 0; kx < L->kw; kx++) {
                                int64_t iy = (int64_t)oy * L->stride_h - L->pad_t + (int64_t)ky * L->dil_h;
                                int64_t ix = (int64_t)ox * L->stride_w - L->pad_l + (int64_t)kx * L->dil_w;
                                if (iy < 0 || ix < 0 || iy >= d->H || ix >= d->W) continue;
                                double xv = b->x[(((size_t)n * L->c_in + g * cig + ci) * d->H + (size_t)iy) * d->W + (size_t)ix];
                                double w = (float)((float)b->w[(size_t)co * L->K + (ci * L->kh + ky) * L->kw + kx] * L->w_scale[co]);
                                acc += w * xv;
                                m += fabs(w * xv);
                                q += fabs(w) * L->act_scale * 0.5;
                            }
                    (void)ws;
                    size_t o = (((size_t)n * L->c_out + co) * d->OH + oy) * d->OW + ox;
                    double t = acc + d->bias[co];
                    m += fabs(d->bias[co]);
                    if (d->fuse_residual) {
                        t += b->res[o];
                        m += fabs(b->res[o]);
                    }
                    if (d->act == BP_EPI_RELU && t < 0) t = 0;
                    y[o] = t;
                    mag[o] = m;
                    qb[o] = q;
                }
        }
}

/* Layout the sweeps hand the backend (d.layout): the *_nhwc tests run the
 * same cases with the engine's activations channels-last; inputs and
 * outputs are converted here, so the NCHW oracles apply unchanged. */
static int g_layout = BP_LAYOUT_NCHW;

/* [N, C, HW] <-> [N, HW, C] by plain index loops. */
static float *to_layout(const float *x, uint32_t N, uint32_t C, size_t HW, int to_nhwc)
{
    float *y = malloc((size_t)N * C * HW * sizeof(float) + 1);
    assert_non_null(y);
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++)
            for (size_t p = 0; p < HW; p++) {
                size_t nchw = (n * C + c) * HW + p, nhwc = (n * HW + p) * C + c;
                if (to_nhwc) y[nhwc] = x[nchw];
                else y[nchw] = x[nhwc];
            }
    return y;
}

static bp_status run_backend(const bp_backend *be, const built_layer *b, int threads, float *y,
                             const char **impl_out, int *exact, const char **why, char *impl_buf,
                             size_t impl_len)
{
    bp_backend_env env = {threads, ~0u, NULL};
    void *st = NULL;
    bp_layer_desc d = b->d;
    const int nhwc = g_layout == BP_LAYOUT_NHWC && b->L.kind == BPF_LAYER_CONV;
    d.layout = g_layout;
    bp_status s = be->layer_create(&d, &env, &st);
    if (s != BP_OK) {
        print_message("layer_create(%s, %s) failed: %d\n", be->name, b->d.name, s);
        return s;
    }
    if (nhwc) {
        const size_t ihw = (size_t)d.H * d.W, ohw = (size_t)d.OH * d.OW;
        float *xl = to_layout(b->x, d.N, b->L.c_in, ihw, 1);
        float *rl = to_layout(b->res, d.N, b->L.c_out, ohw, 1);
        float *yl = malloc(b->ny * sizeof(float) + 1);
        assert_non_null(yl);
        s = be->layer_run(st, xl, b->d.fuse_residual ? rl : NULL, yl);
        float *yb = to_layout(yl, d.N, b->L.c_out, ohw, 0);
        memcpy(y, yb, b->ny * sizeof(float));
        free(xl); free(rl); free(yl); free(yb);
    } else {
        s = be->layer_run(st, b->x, b->d.fuse_residual ? b->res : NULL, y);
    }
    snprintf(impl_buf, impl_len, "%s", be->layer_kernel(st));
    *impl_out = impl_buf;
    *exact = be->layer_exact(st, why);
    be->layer_destroy(st);
    return s;
}

/* What oneDNN may use: its effective ISA, i.e. the CPU capped by
 * ONEDNN_MAX_CPU_ISA (as the backend decides exactness), not cpuid. */
static int eff_isa_has(dnnl_cpu_isa_t want)
{
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)want) == (unsigned)want;
}

static int cpu_has_vnni(void)
{
    return eff_isa_has(dnnl_cpu_isa_avx512_core_vnni) || eff_isa_has(dnnl_cpu_isa_avx2_vnni);
}

/* The duplicate run under ONEDNN_MAX_CPU_ISA (meson: onednn_layers_novnni)
 * only needs the int8 flag checks: keep it short. */
static int capped_run(void)
{
    return getenv("ONEDNN_MAX_CPU_ISA") != NULL;
}

static int cpu_has_avx512(void)
{
    return eff_isa_has(dnnl_cpu_isa_avx512_core);
}

/* The sweep: kernel 1/3/7, stride 1/2, asymmetric pads, dilation, groups
 * (incl. depthwise and channel multiplier), odd sizes, linear, s8 inputs,
 * fused residual/relu, batch 1 and 3. wmax 127 fits s8; 128 and 255 do not. */
#define CONV(tag, N, ci, co, H, W, k, s, p, dil, g) \
    {tag, 0, N, ci, co, H, W, k, k, s, s, p, p, p, p, dil, dil, g, 0, 0, 0, 127, 0, 0}
/* Padding on the bottom/right only: pt, pl, pb, pr. */
#define CONV_BR(tag, N, ci, co, H, W, k, s, pb, pr, g) \
    {tag, 0, N, ci, co, H, W, k, k, s, s, 0, 0, pb, pr, 1, 1, g, 0, 0, 0, 127, 0, 0}
static const layer_case sweep[] = {
    CONV("1x1 s1", 1, 16, 32, 8, 8, 1, 1, 0, 1, 1),
    CONV("1x1 96->384", 1, 96, 384, 14, 14, 1, 1, 0, 1, 1),
    CONV("1x1 s2 odd", 3, 17, 9, 11, 13, 1, 2, 0, 1, 1),
    CONV("3x3 s1 p1", 1, 16, 16, 9, 9, 3, 1, 1, 1, 1),
    CONV("3x3 s2 p1", 3, 32, 64, 15, 15, 3, 2, 1, 1, 1),
    CONV("3x3 stem c3", 1, 3, 16, 17, 17, 3, 1, 1, 1, 1),
    CONV("3x3 dil2", 1, 8, 8, 12, 12, 3, 1, 2, 2, 1),
    CONV("3x3 p0 odd", 1, 5, 7, 7, 9, 3, 1, 0, 1, 1),
    CONV("7x7 s1 p3", 1, 8, 16, 13, 13, 7, 1, 3, 1, 1),
    CONV("7x7 s2 p3", 3, 3, 8, 21, 21, 7, 2, 3, 1, 1),
    CONV("3x3 groups2", 1, 16, 32, 8, 8, 3, 1, 1, 1, 2),
    CONV("1x1 groups4", 1, 32, 16, 6, 6, 1, 1, 0, 1, 4),
    CONV("dw 7x7 p3", 1, 32, 32, 14, 14, 7, 1, 3, 1, 32),
    CONV("dw 7x7 odd c", 3, 24, 24, 9, 9, 7, 1, 3, 1, 24),
    CONV("dw 3x3 s2", 1, 16, 16, 11, 11, 3, 2, 1, 1, 16),
    CONV("dw mult2", 1, 8, 16, 8, 8, 3, 1, 1, 1, 8),
    CONV("4x4 s4 patchify", 1, 3, 16, 16, 16, 4, 4, 0, 1, 1),
    CONV("2x2 s2 downsample", 1, 16, 32, 8, 8, 2, 2, 0, 1, 1),
    {"asym pads", 0, 1, 6, 10, 9, 10, 3, 5, 1, 2, 0, 2, 1, 3, 1, 1, 1, 0, 0, 0, 127, 0, 0},
    {"linear", 1, 1, 64, 10, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 127, 0, 0},
    {"linear N3 odd", 1, 3, 37, 29, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 127, 0, 0},
    {"linear 768->3072", 1, 2, 768, 3072, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 127, 0, 0},
    /* Bottom/right-only padding, strided: 1x1 convs whose last output
     * row/column reads padding only (the backend pads those explicitly), and
     * 3x3 ones whose last window overhangs the edge. */
    CONV_BR("1x1 s2 pad b1", 1, 16, 16, 10, 9, 1, 2, 1, 0, 1),
    CONV_BR("1x1 s2 pad br", 3, 16, 24, 8, 8, 1, 2, 1, 1, 1),
    CONV_BR("1x1 s1 pad r1", 1, 8, 16, 6, 7, 1, 1, 0, 1, 1),
    CONV_BR("3x3 s2 pad br", 1, 16, 24, 8, 8, 3, 2, 1, 1, 1),
    CONV_BR("3x3 s2 pad b1 odd", 3, 8, 8, 9, 10, 3, 2, 1, 0, 1),
    CONV_BR("dw 3x3 s2 pad br", 1, 16, 16, 8, 8, 3, 2, 1, 1, 16),
    /* Grouped convs oneDNN runs gemm-based (gemm_x8s8s32x for int8), whose
     * per-channel binary operand (our bias) lands on the wrong channels from
     * 17 channels per group on: the backend then does the epilogue itself. */
    CONV("groups2 17/group", 1, 4, 34, 8, 8, 3, 1, 0, 1, 2),
    CONV("groups3 33/group", 1, 6, 99, 7, 7, 3, 1, 1, 1, 3),
    {"groups2 dil asym", 0, 1, 4, 34, 8, 8, 3, 2, 1, 2, 0, 1, 2, 0, 2, 1, 2, 0, 0, 0, 7, 0, 0},
};

/* v: 0 plain, 1 residual, 2 relu, 3 residual+relu, 4 s8 input + relu,
 * 5 s8 input + residual with the s8 shift disabled (oneDNN's own s8 path). */
#define N_VARIANTS 6
static void apply_variant(layer_case *c, int v)
{
    c->residual = v == 1 || v == 3 || v == 5;
    c->relu = v == 2 || v == 3 || v == 4;
    c->s8 = v >= 4;
    if (v == 5) setenv("BP_ONEDNN_NO_S8_SHIFT", "1", 1);
    else unsetenv("BP_ONEDNN_NO_S8_SHIFT");
}

static size_t first_bit_mismatch(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) return i;
    return n;
}

/* The family oneDNN should pick at AVX-512 (int8: with VNNI or better):
 * brgconv for dense convs, a depthwise kernel for depthwise, brgemm for inner
 * products; grouped convs may take jit_int8 or the s8u8s32 gemm path (channel
 * multiplier). s8 sources of padded convs run shifted to u8 (same kernels as
 * u8); with the shift disabled oneDNN 2.6 takes jit_int8 for a padded s8
 * source, or brgconv when the backend pads the source itself (1x1 kernels)
 * or with AMX. Alternatives are separated by '|'. */
static const char *expected_family(const layer_case *c, int int8)
{
    if (c->linear) return "brg";
    const int dw = c->groups == c->c_in && c->c_in == c->c_out;
    if (c->groups != 1 && !dw) return NULL;
    if (int8 && c->s8 && getenv("BP_ONEDNN_NO_S8_SHIFT") && (c->pt || c->pl || c->pb || c->pr))
        return "jit_int8|brgconv";
    if (c->groups == 1) return "brgconv";
    return "dw";
}

static int family_matches(const char *impl, const char *fam)
{
    char alt[64];
    for (const char *p = fam; *p;) {
        size_t n = strcspn(p, "|");
        snprintf(alt, sizeof alt, "%.*s", (int)n, p);
        if (strstr(impl, alt)) return 1;
        p += n + (p[n] == '|');
    }
    return 0;
}

/* The ISA an implementation string names after its ':' (oneDNN's
 * "brgconv:avx512_core_vnni", "jit_uni_int8_1x1:avx2"), as dnnl_cpu_isa_t
 * bits; 0 if it names none of them ("gemm:jit", "ref:any"). */
static unsigned impl_isa(const char *impl)
{
    static const struct { const char *name; dnnl_cpu_isa_t isa; } isas[] = {
        {"sse41", dnnl_cpu_isa_sse41}, {"avx", dnnl_cpu_isa_avx}, {"avx2", dnnl_cpu_isa_avx2},
        {"avx2_vnni", dnnl_cpu_isa_avx2_vnni}, {"avx512_core", dnnl_cpu_isa_avx512_core},
        {"avx512_core_vnni", dnnl_cpu_isa_avx512_core_vnni},
        {"avx512_core_bf16", dnnl_cpu_isa_avx512_core_bf16},
        {"avx512_core_amx", dnnl_cpu_isa_avx512_core_amx},
        {"avx512_core_amx_int8", dnnl_cpu_isa_avx512_core_amx},
        {"avx512_core_amx_bf16", dnnl_cpu_isa_avx512_core_amx},
    };
    const char *colon = strrchr(impl, ':');
    if (!colon) return 0;
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
        if (strcmp(colon + 1, isas[i].name) == 0) return (unsigned)isas[i].isa;
    return 0;
}

/* The ISA level an implementation should reach at the effective ISA: int8
 * needs VNNI (or better: AMX) for exact sums, f32 AVX-512; below that the
 * best oneDNN has. */
static unsigned wanted_isa(int int8)
{
    static const dnnl_cpu_isa_t int8_levels[] = {dnnl_cpu_isa_avx512_core_vnni,
        dnnl_cpu_isa_avx512_core, dnnl_cpu_isa_avx2_vnni, dnnl_cpu_isa_avx2};
    static const dnnl_cpu_isa_t f32_levels[] = {dnnl_cpu_isa_avx512_core, dnnl_cpu_isa_avx2};
    const dnnl_cpu_isa_t *lv = int8 ? int8_levels : f32_levels;
    const size_t n = int8 ? 4 : 2;
    for (size_t i = 0; i < n; i++)
        if (eff_isa_has(lv[i])) return (unsigned)lv[i];
    return 0;
}

/* Properties, not names: never a reference fallback (except where oneDNN 2.6
 * has no kernel below AVX-512: int8 grouped convs with a channel multiplier);
 * a jit/brgemm kernel names an ISA at the wanted level and within the
 * effective ISA (a gemm-based one names none); at AVX-512 (int8: VNNI or
 * better) it is of the expected family. */
static void check_impl(const char *impl, const layer_case *c, int int8)
{
    assert_true(impl[0] != '\0');
    const int grouped = !c->linear && c->groups != 1 &&
                        !(c->groups == c->c_in && c->c_in == c->c_out);
    if (strncmp(impl, "ref", 3) == 0 || strstr(impl, ":ref")) {
        if (int8 && grouped && !cpu_has_avx512()) return;
        print_message("layer %s: oneDNN fell back to the reference impl '%s'\n", c->tag, impl);
        fail();
    }
    const unsigned eff = (unsigned)dnnl_get_effective_cpu_isa(), want = wanted_isa(int8);
    const unsigned got = impl_isa(impl);
    const int gemm = strstr(impl, "gemm") && !strstr(impl, "brg");
    if (!gemm && (got == 0 || (got & want) != want || (got & ~eff) != 0)) {
        print_message("layer %s: impl '%s' does not name an ISA between 0x%x and the effective "
                      "0x%x\n", c->tag, impl, want, eff);
        fail();
    }
    const int at_family_level = int8 ? eff_isa_has(dnnl_cpu_isa_avx512_core_vnni) : cpu_has_avx512();
    const char *fam = expected_family(c, int8);
    if (at_family_level && fam && !family_matches(impl, fam)) {
        print_message("layer %s: impl '%s' is not of the expected family %s\n", c->tag, impl, fam);
        fail();
    }
}

/* Without VNNI oneDNN sums u8*s8 pairs in int16 (saturating) or halves the
 * weights first. With even weights of magnitude <= 62 neither loses anything
 * (2 * 255 * 62 < 32768, halving is exact), so the flagged-inexact layer
 * must still equal the oracle bit for bit: this checks everything but the
 * VNNI sums (layouts, padding, bias, residual, relu) on such CPUs. */
static void int16_pairs_safe(const layer_case *c0, int threads)
{
    layer_case c = *c0;
    c.wmax = 62;
    c.even = 1;
    built_layer b;
    build_layer(&c, &b);
    float *want = malloc(b.ny * sizeof(float)), *got = malloc(b.ny * sizeof(float));
    oracle_int(&b, 0, want);
    const char *impl, *why;
    char ib[128];
    int exact;
    assert_int_equal(run_backend(&bp_backend_onednn_int8, &b, threads, got, &impl, &exact, &why,
                                 ib, sizeof ib), BP_OK);
    size_t bad = first_bit_mismatch(want, got, b.ny);
    if (bad != b.ny) {
        print_message("layer '%s' (even weights <= 62, threads %d, %s): y[%zu] = %a, "
                      "reference %a\n", c.tag, threads, impl, bad, got[bad], want[bad]);
        fail();
    }
    free(want); free(got);
    free_layer(&b);
}

static void test_int8_sweep_exact(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < sizeof sweep / sizeof sweep[0]; i++)
        for (int v = 0; v < N_VARIANTS; v++)
            for (int threads = 1; threads <= 2; threads++) {
                if (threads == 2 && v != 3) continue;
                if (capped_run() && v != 0 && v != 3) continue;
                layer_case c = sweep[i];
                apply_variant(&c, v);
                built_layer b;
                build_layer(&c, &b);
                float *want = malloc(b.ny * sizeof(float)), *got = malloc(b.ny * sizeof(float));
                oracle_int(&b, 0, want);
                const char *impl, *why;
                char ib[128];
                int exact;
                assert_int_equal(run_backend(&bp_backend_onednn_int8, &b, threads, got, &impl, &exact,
                                             &why, ib, sizeof ib), BP_OK);
                if (threads == 1)
                    print_message("int8 %-18s v%d %s\n", c.tag, v, impl);
                check_impl(impl, &c, 1);
                assert_int_equal(exact, cpu_has_vnni());
                size_t bad = first_bit_mismatch(want, got, b.ny);
                if (!cpu_has_vnni()) {
                    /* oneDNN's u8*s8 pairs saturate at 16 bits: inexact, as flagged */
                    assert_non_null(strstr(why, "VNNI"));
                    size_t differ = 0;
                    for (size_t k = 0; k < b.ny; k++) differ += want[k] != got[k];
                    if (v == 0 && threads == 1)
                        print_message("  no VNNI: %zu/%zu outputs differ from reference\n", differ,
                                      b.ny);
                    int16_pairs_safe(&c, threads);
                } else if (bad != b.ny) {
                    print_message("layer '%s' variant %d threads %d (%s): y[%zu] = %a, reference %a\n",
                                  c.tag, v, threads, impl, bad, got[bad], want[bad]);
                    fail();
                }
                free(want); free(got);
                free_layer(&b);
            }
}

/* Weights of +-128 (Bit-Pruning) and up to +-255 do not fit s8: the backend
 * clamps them, says so, and is then exactly the clamped-weight product. */
static void test_int8_wide_weights_inexact(void **unused)
{
    (void)unused;
    const int wmaxes[2] = {128, 255};
    const size_t picks[4] = {1, 4, 12, 21}; /* 1x1, 3x3 s2, dw 7x7, linear */
    for (int wi = 0; wi < 2; wi++)
        for (int p = 0; p < 4; p++) {
            layer_case c = sweep[picks[p]];
            apply_variant(&c, 3);
            c.wmax = wmaxes[wi];
            built_layer b;
            build_layer(&c, &b);
            float *want = malloc(b.ny * sizeof(float)), *clamped = malloc(b.ny * sizeof(float));
            float *got = malloc(b.ny * sizeof(float));
            oracle_int(&b, 0, want);
            oracle_int(&b, 1, clamped);
            const char *impl, *why;
            char ib[128];
            int exact;
            assert_int_equal(run_backend(&bp_backend_onednn_int8, &b, 1, got, &impl, &exact, &why,
                                         ib, sizeof ib), BP_OK);
            assert_int_equal(exact, 0);
            assert_non_null(strstr(why, "s8"));
            size_t bad = first_bit_mismatch(clamped, got, b.ny);
            if (bad != b.ny && cpu_has_vnni()) {
                print_message("'%s' wmax %d: y[%zu] = %a, clamped oracle %a\n", c.tag, c.wmax, bad,
                              got[bad], clamped[bad]);
                fail();
            }
            size_t differ = 0;
            for (size_t k = 0; k < b.ny; k++) differ += want[k] != got[k];
            print_message("wmax %d %-16s: %zu/%zu outputs differ from reference (%s)\n", c.wmax, c.tag,
                          differ, b.ny, why);
            free(want); free(clamped); free(got);
            free_layer(&b);
        }
}

/* onednn-f32 vs a double oracle (1e-5 of sum |w x|) and vs the integer
 * reference (the activation-quantization bound plus the same slack). */
static void test_f32_sweep_tolerance(void **unused)
{
    (void)unused;
    if (capped_run()) skip(); /* the f32 path is covered by the uncapped run */
    double worst_rel_ref = 0, worst_rel_f = 0;
    for (size_t i = 0; i < sizeof sweep / sizeof sweep[0]; i++)
        for (int v = 0; v < N_VARIANTS; v++) {
            if (v == 1 || v == 2) continue; /* covered by 3 (residual + relu) */
            layer_case c = sweep[i];
            apply_variant(&c, v);
            c.in_range = 1;
            c.wmax = v == 4 ? 255 : 127; /* f32 holds any weight */
            built_layer b;
            build_layer(&c, &b);
            float *ref = malloc(b.ny * sizeof(float)), *got = malloc(b.ny * sizeof(float));
            double *yf = malloc(b.ny * sizeof(double)), *mag = malloc(b.ny * sizeof(double));
            double *qb = malloc(b.ny * sizeof(double));
            oracle_int(&b, 0, ref);
            oracle_f32(&b, yf, mag, qb);
            const char *impl, *why;
            char ib[128];
            int exact;
            assert_int_equal(run_backend(&bp_backend_onednn_f32, &b, 1 + (v == 3), got, &impl, &exact,
                                         &why, ib, sizeof ib), BP_OK);
            if (v == 0) print_message("f32  %-18s %s\n", c.tag, impl);
            check_impl(impl, &c, 0);
            assert_int_equal(exact, 0);
            assert_non_null(strstr(why, "float reference"));
            double maxref = 0, maxd_ref = 0, maxd_f = 0;
            for (size_t k = 0; k < b.ny; k++) {
                double slack = 1e-5 * mag[k] + 1e-30;
                double df = fabs((double)got[k] - yf[k]);
                double dr = fabs((double)got[k] - (double)ref[k]);
                if (df > slack || dr > qb[k] + 2 * slack) {
                    print_message("'%s' v%d y[%zu] = %.9g: f64 %.9g (|d| %.3g, tol %.3g), "
                                  "reference %.9g (|d| %.3g, tol %.3g)\n", c.tag, v, k, got[k], yf[k],
                                  df, slack, ref[k], dr, qb[k] + 2 * slack);
                    fail();
                }
                if (fabs(ref[k]) > maxref) maxref = fabs(ref[k]);
                if (dr > maxd_ref) maxd_ref = dr;
                if (mag[k] > 0 && df / mag[k] > maxd_f) maxd_f = df / mag[k];
            }
            if (maxref > 0 && maxd_ref / maxref > worst_rel_ref) worst_rel_ref = maxd_ref / maxref;
            if (maxd_f > worst_rel_f) worst_rel_f = maxd_f;
            free(ref); free(got); free(yf); free(mag); free(qb);
            free_layer(&b);
        }
    print_message("onednn-f32: max |y - reference| / max |reference| = %.3g over the sweep; "
                  "max |y - f64 oracle| / sum|w x| = %.3g\n", worst_rel_ref, worst_rel_f);
}

/* Residual may alias the output (in-place add) on both layout paths: equal
 * to a run with separate buffers (and to the oracle with VNNI), twice. */
static void test_residual_in_place(void **unused)
{
    (void)unused;
    const size_t picks[3] = {0, 19, 28}; /* 28: the epilogue after oneDNN */
    for (int p = 0; p < 3; p++) {
        layer_case c = sweep[picks[p]];
        apply_variant(&c, 3);
        built_layer b;
        build_layer(&c, &b);
        float *want = malloc(b.ny * sizeof(float)), *sep = malloc(b.ny * sizeof(float));
        float *y = malloc(b.ny * sizeof(float));
        oracle_int(&b, 0, want);
        bp_backend_env env = {1, ~0u, NULL};
        void *st = NULL;
        assert_int_equal(bp_backend_onednn_int8.layer_create(&b.d, &env, &st), BP_OK);
        assert_int_equal(bp_backend_onednn_int8.layer_run(st, b.x, b.res, sep), BP_OK);
        if (cpu_has_vnni()) assert_int_equal(first_bit_mismatch(want, sep, b.ny), b.ny);
        for (int rep = 0; rep < 2; rep++) { /* second run: state is reusable */
            memcpy(y, b.res, b.ny * sizeof(float));
            assert_int_equal(bp_backend_onednn_int8.layer_run(st, b.x, y, y), BP_OK);
            assert_int_equal(first_bit_mismatch(sep, y, b.ny), b.ny);
        }
        bp_backend_onednn_int8.layer_destroy(st);
        free(want); free(sep); free(y);
        free_layer(&b);
    }
}

/* Quantized outputs (layer_set_qout): the layer writes its reader's u8/s8
 * bytes, from oneDNN's own conversion (dst u8/s8, "dst" in the kernel name)
 * or by the quantize kernels after an f32 output. Bytes must be
 * bp_quant_u8/s8 of the oracle's float output, in a dense nhwc reader and
 * in the interior of a bordered one (borders untouched); ties (outputs at
 * k + 1/2 steps), saturation, and NaN/+-inf residuals included. */
static void test_quantized_output(void **unused)
{
    (void)unused;
    const size_t picks[] = {0, 3, 4, 12, 17, 20, 23, 28};
    int direct = 0, total = 0;
    g_layout = BP_LAYOUT_NHWC;
    for (size_t pi = 0; pi < sizeof picks / sizeof picks[0]; pi++)
        for (int v = 0; v < 4; v++)
            for (int qt = 0; qt < 2; qt++)
                for (int border = 0; border < 2; border++) {
                    layer_case c = sweep[picks[pi]];
                    apply_variant(&c, v);
                    if (c.linear && border) continue;
                    built_layer b;
                    build_layer(&c, &b);
                    /* ties: t = acc / 2 (+ an integer bias), read at inv 1/8 */
                    const int ties = (v & 1) == 0;
                    const float inv = ties ? 0.125f : 1.0f / 0.07f;
                    if (ties)
                        for (uint32_t j = 0; j < c.c_out; j++) {
                            b.out_scale[j] = 0.5f;
                            b.bias[j] = (float)rng_int(-3, 3);
                        }
                    if (c.residual) /* non-finite residuals */
                        for (size_t i = 0; i < b.ny; i += 7)
                            b.res[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
                    float *want = malloc(b.ny * sizeof(float));
                    assert_non_null(want);
                    oracle_int(&b, 0, want);
                    const uint32_t N = b.d.N, Co = c.c_out, OH = b.d.OH, OW = b.d.OW;
                    const size_t bw = border ? 1 : 0, ld = (OW + 2 * bw) * Co;
                    const size_t img = (OH + 2 * bw) * ld, nb = N * img;
                    uint8_t *qb = malloc(nb), *exp = malloc(nb);
                    assert_non_null(qb);
                    assert_non_null(exp);
                    memset(qb, 0xA5, nb);
                    memset(exp, 0xA5, nb);
                    bp_qdest q = {qb, img, 1, ld, bw * ld + bw * Co, Co,
                                  qt ? BP_ACT_S8 : BP_ACT_U8, inv};
                    if (c.linear) q = (bp_qdest){qb, Co, 1, 1, 0, 1, q.type, inv};
                    for (uint32_t n = 0; n < N; n++)
                        for (uint32_t co = 0; co < Co; co++)
                            for (uint32_t oy = 0; oy < OH; oy++)
                                for (uint32_t ox = 0; ox < OW; ox++) {
                                    float t = want[(((size_t)n * Co + co) * OH + oy) * OW + ox];
                                    uint8_t *e = exp + n * q.nstride + co + q.off + oy * q.ldrow +
                                                 ox * q.xstride;
                                    if (qt) *(int8_t *)e = bp_quant_s8(t, inv);
                                    else *e = bp_quant_u8(t, inv);
                                }
                    bp_backend_env env = {1, ~0u, NULL};
                    void *st = NULL;
                    bp_layer_desc d = b.d;
                    d.layout = BP_LAYOUT_NHWC;
                    assert_int_equal(bp_backend_onednn_int8.layer_create(&d, &env, &st), BP_OK);
                    bp_backend_onednn_int8.layer_set_qout(st, &q, 1);
                    const char *impl = bp_backend_onednn_int8.layer_kernel(st);
                    direct += strstr(impl, "(->q8: dst ") != NULL;
                    total++;
                    const size_t hw = c.linear ? 1 : (size_t)b.d.H * b.d.W, ohw = (size_t)OH * OW;
                    float *xl = c.linear ? b.x : to_layout(b.x, N, c.c_in, hw, 1);
                    float *rl = c.linear ? b.res : to_layout(b.res, N, Co, ohw, 1);
                    float *yl = malloc(b.ny * sizeof(float) + 1);
                    assert_non_null(yl);
                    for (int withy = 0; withy < 2; withy++) {
                        memset(qb, 0xA5, nb);
                        assert_int_equal(bp_backend_onednn_int8.layer_run(
                                             st, xl, c.residual ? rl : NULL, withy ? yl : NULL),
                                         BP_OK);
                        if (!cpu_has_vnni()) continue;
                        for (size_t i = 0; i < nb; i++)
                            if (qb[i] != exp[i]) {
                                print_message("%s v%d %s border %zu y %d (%s): byte %zu = %d, "
                                              "want %d\n", c.tag, v, qt ? "s8" : "u8", bw, withy,
                                              impl, i, qt ? (int)(int8_t)qb[i] : qb[i],
                                              qt ? (int)(int8_t)exp[i] : exp[i]);
                                fail();
                            }
                    }
                    bp_backend_onednn_int8.layer_destroy(st);
                    if (!c.linear) {
                        free(xl);
                        free(rl);
                    }
                    free(yl); free(want); free(qb); free(exp);
                    free_layer(&b);
                }
    unsetenv("BP_ONEDNN_NO_S8_SHIFT");
    g_layout = BP_LAYOUT_NCHW;
    print_message("quantized outputs: %d of %d layers written by oneDNN (dst u8/s8)\n", direct,
                  total);
    if (eff_isa_has(dnnl_cpu_isa_avx512_core_vnni)) assert_true(direct > 0);
}

/* The sweeps with the engine's activations channels-last (d.layout NHWC:
 * oneDNN reads the nhwc source and writes the nhwc output in place). */
static void test_int8_sweep_exact_nhwc(void **unused)
{
    g_layout = BP_LAYOUT_NHWC;
    test_int8_sweep_exact(unused);
    g_layout = BP_LAYOUT_NCHW;
}

static void test_int8_wide_weights_inexact_nhwc(void **unused)
{
    g_layout = BP_LAYOUT_NHWC;
    test_int8_wide_weights_inexact(unused);
    g_layout = BP_LAYOUT_NCHW;
}

static void test_f32_sweep_tolerance_nhwc(void **unused)
{
    g_layout = BP_LAYOUT_NHWC;
    test_f32_sweep_tolerance(unused);
    g_layout = BP_LAYOUT_NCHW;
}

/* In-place residual (y == residual) with NHWC activations, int8 and f32:
 * equal to separate buffers, twice, and (int8, VNNI) to the oracle. */
static void test_residual_in_place_nhwc(void **unused)
{
    (void)unused;
    const size_t picks[4] = {0, 4, 12, 28}; /* 1x1, 3x3 s2 batch 3, dw 7x7, gemm grouped */
    const bp_backend *bes[2] = {&bp_backend_onednn_int8, &bp_backend_onednn_f32};
    for (int p = 0; p < 4; p++)
        for (int bi = 0; bi < 2; bi++) {
            if (bi == 1 && capped_run()) continue;
            layer_case c = sweep[picks[p]];
            apply_variant(&c, 3);
            built_layer b;
            build_layer(&c, &b);
            bp_layer_desc d = b.d;
            d.layout = BP_LAYOUT_NHWC;
            const size_t ihw = (size_t)d.H * d.W, ohw = (size_t)d.OH * d.OW;
            float *want = malloc(b.ny * sizeof(float)), *sep = malloc(b.ny * sizeof(float));
            float *y = malloc(b.ny * sizeof(float));
            float *xl = to_layout(b.x, d.N, c.c_in, ihw, 1);
            float *rl = to_layout(b.res, d.N, c.c_out, ohw, 1);
            oracle_int(&b, 0, want);
            bp_backend_env env = {1 + p % 2, ~0u, NULL};
            void *st = NULL;
            assert_int_equal(bes[bi]->layer_create(&d, &env, &st), BP_OK);
            assert_int_equal(bes[bi]->layer_run(st, xl, rl, sep), BP_OK);
            if (bi == 0 && cpu_has_vnni()) {
                float *back = to_layout(sep, d.N, c.c_out, ohw, 0);
                assert_int_equal(first_bit_mismatch(want, back, b.ny), b.ny);
                free(back);
            }
            for (int r = 0; r < 2; r++) {
                memcpy(y, rl, b.ny * sizeof(float));
                assert_int_equal(bes[bi]->layer_run(st, xl, y, y), BP_OK);
                assert_int_equal(first_bit_mismatch(sep, y, b.ny), b.ny);
            }
            bes[bi]->layer_destroy(st);
            free(want); free(sep); free(y); free(xl); free(rl);
            free_layer(&b);
        }
}

static void test_bad_use(void **unused)
{
    (void)unused;
    layer_case c = sweep[0];
    apply_variant(&c, 1);
    built_layer b;
    build_layer(&c, &b);
    bp_backend_env env = {1, ~0u, NULL};
    void *st = (void *)1;
    assert_int_equal(bp_backend_onednn_int8.layer_create(NULL, &env, &st), BP_ERR_INVALID_ARG);
    assert_null(st);
    assert_int_equal(bp_backend_onednn_int8.layer_create(&b.d, NULL, &st), BP_ERR_INVALID_ARG);
    bp_layer_desc bad = b.d;
    bad.w_dense = NULL;
    assert_int_equal(bp_backend_onednn_f32.layer_create(&bad, &env, &st), BP_ERR_INVALID_ARG);
    bad = b.d;
    bad.OH = b.d.OH + 1;
    assert_int_equal(bp_backend_onednn_int8.layer_create(&bad, &env, &st), BP_ERR_SHAPE);
    /* the message names the backend and the layer */
    assert_non_null(strstr(bp_last_error(), "onednn layer '1x1 s1'"));
    bpf_layer L2 = b.L;
    L2.groups = 3; /* does not divide 16 */
    bad = b.d;
    bad.L = &L2;
    assert_int_equal(bp_backend_onednn_int8.layer_create(&bad, &env, &st), BP_ERR_SHAPE);
    assert_null(st);
    assert_int_equal(bp_backend_onednn_int8.layer_create(&b.d, &env, &st), BP_OK);
    float *y = malloc(b.ny * sizeof(float));
    /* residual missing although the layer fuses one */
    assert_int_equal(bp_backend_onednn_int8.layer_run(st, b.x, NULL, y), BP_ERR_INVALID_ARG);
    assert_int_equal(bp_backend_onednn_int8.layer_run(st, NULL, b.res, y), BP_ERR_INVALID_ARG);
    assert_int_equal(bp_backend_onednn_int8.layer_run(NULL, b.x, b.res, y), BP_ERR_INVALID_ARG);
    bp_backend_onednn_int8.layer_destroy(st);
    bp_backend_onednn_int8.layer_destroy(NULL);
    const char *why = NULL;
    assert_int_equal(bp_backend_onednn_int8.layer_exact(NULL, &why), 0);
    assert_non_null(why);
    free(y);
    free_layer(&b);
}

int main(void)
{
    const char *env_seed = getenv("BP_TEST_SEED");
    uint64_t seed = env_seed ? strtoull(env_seed, NULL, 0) : 0x0d11;
    rng_state = seed;
    printf("test_onednn_layers: seed %llu (override with BP_TEST_SEED); VNNI %s\n",
           (unsigned long long)seed, cpu_has_vnni() ? "yes" : "no");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int8_sweep_exact),
        cmocka_unit_test(test_int8_wide_weights_inexact),
        cmocka_unit_test(test_f32_sweep_tolerance),
        cmocka_unit_test(test_residual_in_place),
        cmocka_unit_test(test_int8_sweep_exact_nhwc),
        cmocka_unit_test(test_int8_wide_weights_inexact_nhwc),
        cmocka_unit_test(test_quantized_output),
        cmocka_unit_test(test_f32_sweep_tolerance_nhwc),
        cmocka_unit_test(test_residual_in_place_nhwc),
        cmocka_unit_test(test_bad_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
