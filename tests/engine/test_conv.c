/* Conv/linear parameter sweep: kernel size, stride, padding (asymmetric),
 * dilation, groups (incl. depthwise 7x7 and channel multipliers), odd sizes,
 * K above the int16 partial-sum limit, pixel counts over one tile, u8/s8,
 * both encodings, several densities. Each case is checked two ways against
 * what the test computes itself from the generated int weights:
 *  - exactly: int64 naive conv of the test's own quantized input, then the
 *    canonical epilogue, must equal every backend bit for bit;
 *  - approximately: a double conv of dequantized weights and dequantized
 *    quantized inputs. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_builders.h"
#include "engine.h"
#include "quant.h"
#include "test_helpers.h"
#include "test_suites.h"

static uint64_t g_seed;

typedef struct conv_case {
    uint32_t c_in, c_out, H, W, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups;
    int s8;
    int linear;
} conv_case;

/* The spec formula (quant.h), restated: round half even, saturate. */
static int tq(float x, float scale, int s8)
{
    float q = nearbyintf(x * (1.0f / scale));
    if (q != q) return 0;
    if (s8) return q < -128.0f ? -128 : q > 127.0f ? 127 : (int)q;
    return q < 0.0f ? 0 : q > 255.0f ? 255 : (int)q;
}

/* The conv step's kernel name (with its activation path) in a session of
 * backend be, profiled over one run. */
static void check_path(const bp_model *m, const char *be, uint32_t N, const float *const *in,
                       size_t yout, const char *want, int idx)
{
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.backend = be;
    o.threads = 1;
    o.batch = N;
    bp_session *s = NULL;
    assert_int_equal(bp_session_create(m, &o, &s), BP_OK);
    float *y = malloc(yout * sizeof(float));
    float *outs[1] = {y};
    assert_int_equal(bp_session_set_profiling(s, 1), BP_OK);
    assert_int_equal(bp_session_run(s, in, outs), BP_OK);
    const bp_layer_profile *p;
    uint32_t n;
    assert_int_equal(bp_session_profile(s, &p, &n), BP_OK);
    assert_true(n >= 1);
    if (!strstr(p[0].kernel, want)) {
        printf("  case %d %s: kernel '%s', expected the %s path\n", idx, be, p[0].kernel, want);
        fail();
    }
    free(y);
    bp_session_free(s);
}

/* path: if not NULL, part of the bitplane and csr kernel names */
static void run_case(const conv_case *c, double density, uint32_t enc, int wide, int idx,
                     const char *path)
{
    const uint32_t N = 2;
    bpt_wspec ws = {density, enc, wide};
    uint64_t seed = g_seed + (uint64_t)idx * 7919u;
    bpt_builder *b = bpt_new(seed, ws);
    assert_non_null(b);
    uint32_t x, y;
    float act_scale = c->s8 ? 1.0f / 40.0f : 1.0f / 36.0f;
    if (c->linear) {
        uint32_t d[2] = {1, c->c_in};
        x = bpt_input(b, "x", 2, d);
        y = bpt_linear_w(b, "fc", x, c->c_out, c->s8, act_scale, NULL, NULL, NULL);
    } else {
        uint32_t d[4] = {1, c->c_in, c->H, c->W};
        x = bpt_input(b, "x", 4, d);
        y = bpt_conv_w(b, "conv", x, c->c_out, c->kh, c->kw, c->sh, c->sw, c->pt, c->pl,
                       c->pb, c->pr, c->dh, c->dw, c->groups, c->s8, act_scale, NULL, NULL,
                       NULL);
    }
    bpt_output(b, y);
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bpt_write(b, &buf, &size), 0);
    const bpf_layer *L = bpt_layer(b, 0);
    const int16_t *w = bpt_layer_weights(b, 0);
    uint32_t H = c->linear ? 1 : c->H, W = c->linear ? 1 : c->W;
    uint32_t OH = 1, OW = 1;
    if (!c->linear) {
        uint32_t ndim;
        const uint32_t *od = bpt_dims(b, y, &ndim);
        OH = od[2];
        OW = od[3];
    }
    size_t xin = (size_t)N * c->c_in * H * W, yout = (size_t)N * c->c_out * OH * OW;
    float *xf = malloc(xin * sizeof(float));
    uint64_t rs = seed ^ 0xabcdefull;
    /* ranges reach saturation and (u8) negatives clamped to 0 */
    bpt_fill_uniform(&rs, xf, xin, c->s8 ? -3.6f : -1.0f, c->s8 ? 3.6f : 7.5f);

    /* the test's own results */
    float *yexp = malloc(yout * sizeof(float));
    double *yapx = malloc(yout * sizeof(double));
    double *ymag = malloc(yout * sizeof(double));
    uint32_t cig = c->c_in / c->groups, cog = c->c_out / c->groups;
    uint32_t K = L->K;
    for (uint32_t n = 0; n < N; n++)
        for (uint32_t j = 0; j < c->c_out; j++) {
            uint32_t g = j / cog;
            float os = L->w_scale[j] * L->act_scale;
            for (uint32_t oy = 0; oy < OH; oy++)
                for (uint32_t ox = 0; ox < OW; ox++) {
                    int64_t acc = 0;
                    double ap = 0.0, mag = 0.0;
                    for (uint32_t ci = 0; ci < cig; ci++)
                        for (uint32_t dy = 0; dy < (c->linear ? 1 : c->kh); dy++)
                            for (uint32_t dx = 0; dx < (c->linear ? 1 : c->kw); dx++) {
                                long iy = (long)oy * c->sh - (long)c->pt + (long)dy * c->dh;
                                long ix = (long)ox * c->sw - (long)c->pl + (long)dx * c->dw;
                                if (c->linear) iy = ix = 0;
                                if (iy < 0 || iy >= (long)H || ix < 0 || ix >= (long)W)
                                    continue;
                                uint32_t k = c->linear ? ci : (ci * c->kh + dy) * c->kw + dx;
                                size_t xi = (((size_t)n * c->c_in + g * cig + ci) * H + iy) * W +
                                            ix;
                                int q = tq(xf[xi], L->act_scale, c->s8);
                                int wv = w[(size_t)j * K + k];
                                acc += (int64_t)wv * q;
                                double term = ((double)wv * L->w_scale[j]) *
                                              ((double)q * L->act_scale);
                                ap += term;
                                mag += fabs(term);
                            }
                    assert_true(acc >= INT32_MIN && acc <= INT32_MAX);
                    size_t yi = (((size_t)n * c->c_out + j) * OH + oy) * OW + ox;
                    float t = (float)(int32_t)acc * os;
                    yexp[yi] = t + L->bias[j];
                    yapx[yi] = ap + L->bias[j];
                    ymag[yi] = mag + fabs(L->bias[j]);
                }
        }

    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    const float *in[1] = {xf};
    static const char *const backends[] = {"reference", "bitplane", "csr"};
    for (int bi = 0; bi < 3; bi++)
        for (int th = 1; th <= 2; th++) {
            bp_status st;
            size_t n = 0;
            float *yo = bpt_run(m, backends[bi], th, N, in, &n, &st);
            assert_non_null(yo);
            assert_int_equal(n, yout);
            long d = bpt_first_diff(yexp, yo, yout);
            if (d >= 0)
                printf("  case %d %s threads %d: output %ld = %.9g, expected %.9g\n", idx,
                       backends[bi], th, d, (double)yo[d], (double)yexp[d]);
            assert_true(d < 0);
            for (size_t i = 0; i < yout; i++) {
                double tol = 1e-5 * ymag[i] + 1e-6;
                if (fabs(yo[i] - yapx[i]) > tol) {
                    printf("  case %d: output %zu = %.9g, float conv %.9g\n", idx, i,
                           (double)yo[i], yapx[i]);
                    fail();
                }
            }
            free(yo);
        }
    if (path) {
        check_path(m, "bitplane", N, in, yout, path, idx);
        check_path(m, "csr", N, in, yout, path, idx);
    }
    bp_model_free(m);
    free(xf);
    free(yexp);
    free(yapx);
    free(ymag);
    free(buf);
    bpt_free(b);
}

/* c_in c_out H W kh kw sh sw pt pl pb pr dh dw groups s8 linear */
static const conv_case g_cases[] = {
    {3, 5, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},     /* odd sizes, s8 input */
    {8, 8, 10, 10, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0},   /* stride 2 */
    {6, 4, 9, 11, 5, 3, 2, 1, 2, 1, 0, 1, 1, 2, 2, 0, 0},    /* rect, asym pad, dil, groups */
    {16, 16, 14, 14, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 16, 1, 0},/* depthwise 7x7 */
    {12, 24, 11, 9, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 12, 0, 0}, /* depthwise, multiplier 2 */
    {64, 48, 21, 21, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, /* several tiles, remainder */
    {32, 24, 13, 13, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0}, /* direct 1x1 */
    {16, 12, 41, 39, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0}, /* direct, > 1 pixel tile */
    {32, 16, 9, 9, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0, 0},   /* 1x1 stride 2 */
    {8, 8, 6, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 0},     /* 1x1 padded, grouped */
    {3, 4, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},     /* window beyond input */
    {3, 8, 16, 16, 4, 4, 4, 4, 0, 0, 0, 0, 1, 1, 1, 1, 0},   /* patchify 4x4/4 */
    {5, 6, 12, 12, 3, 3, 1, 1, 3, 3, 3, 3, 3, 3, 1, 0, 0},   /* dilation 3 */
    {200, 10, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0},  /* K > 128 (int16 limit) */
    {256, 8, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},   /* K = 2304 */
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0},     /* trivial */
    {24, 24, 8, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 0},   /* downsample 2x2/2 */
    {300, 17, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1},  /* linear u8 */
    {96, 200, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1},  /* linear s8, many rows */
    {1, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1},     /* linear K=1 */
    /* one input channel per group: the implicit path (bitplane/csr) */
    {8, 8, 13, 11, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 8, 1, 0},   /* dw 7x7 stride 2 */
    {6, 6, 12, 10, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 6, 0, 0},   /* dw dilation 2 */
    {5, 10, 9, 13, 5, 3, 2, 3, 0, 2, 4, 1, 1, 2, 5, 1, 0},   /* asym pad/stride/dil, x2 */
    {4, 4, 5, 5, 3, 3, 1, 2, 1, 0, 1, 2, 1, 1, 4, 0, 0},     /* stride 1x2 */
    {4, 8, 6, 7, 3, 5, 2, 1, 1, 2, 0, 2, 1, 1, 4, 1, 0},     /* stride 2x1, x2 */
    {6, 6, 9, 9, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 6, 0, 0},     /* dw 1x1 stride 2 */
    {2, 2, 100, 100, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 0}, /* dw, several row tiles */
    {3, 3, 20, 20, 13, 13, 1, 1, 6, 6, 6, 6, 1, 1, 3, 0, 0}, /* dw K = 169 */
    {4, 4, 3, 2, 5, 5, 1, 1, 4, 4, 4, 4, 1, 1, 4, 1, 0},     /* dw pad beyond input */
    /* kernel == stride, no pad: space-to-depth, runs as direct */
    {8, 6, 9, 11, 3, 3, 3, 3, 0, 0, 0, 0, 1, 1, 2, 0, 0},    /* 3x3/3 grouped, rest rows */
    {6, 4, 7, 9, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 2, 1, 0},     /* 2x2/2 grouped, odd sizes */
    {4, 8, 80, 80, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0, 0},   /* 2x2/2, > 1 pixel tile */
    {3, 5, 17, 18, 4, 4, 4, 4, 0, 0, 0, 0, 1, 1, 1, 1, 0},   /* 4x4/4, rest rows/cols */
    {5, 7, 9, 10, 3, 2, 3, 2, 0, 0, 0, 0, 1, 1, 1, 0, 0},    /* 3x2/3x2 */
};

/* Stride 1, k > 1: bitplane and csr read the padded planes in place (per
 * image of the batch of 2): its edges. */
static const conv_case g_inplace[] = {
    {6, 8, 9, 7, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 2, 1, 0},   /* dil 2, groups of 3 ch */
    {4, 6, 5, 9, 3, 5, 1, 1, 0, 3, 2, 1, 1, 1, 2, 0, 0},   /* asym pad, 3x5, odd W */
    {4, 4, 7, 7, 1, 3, 1, 1, 0, 2, 0, 0, 1, 3, 1, 1, 0},   /* 1x3 dil 3, left pad */
    {6, 5, 6, 5, 2, 2, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0},   /* 2x2, pad bottom/right */
    {4, 5, 8, 9, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0},   /* no padding */
    {3, 4, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},   /* 1x1 map */
    {5, 3, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},   /* 2x3 map */
    {20, 4, 60, 61, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},/* offsets > 16 bits, row tiles */
    {2, 3, 3, 1100, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},/* padded row > one pixel tile */
};

static void test_conv_sweep(void **state)
{
    (void)state;
    static const double dens[] = {1.0, 0.5, 0.1};
    int n = (int)(sizeof g_cases / sizeof g_cases[0]);
    for (int i = 0; i < n; i++)
        run_case(&g_cases[i], dens[i % 3], (uint32_t)(i & 1), i % 4 == 3, i, NULL);
}

static void test_conv_inplace(void **state)
{
    (void)state;
    static const double dens[] = {0.4, 1.0, 0.1};
    int n = (int)(sizeof g_inplace / sizeof g_inplace[0]);
    for (int i = 0; i < n; i++)
        run_case(&g_inplace[i], dens[i % 3], (uint32_t)(i & 1), i % 4 == 1, 200 + i,
                 "planes in place");
}

/* Weights with every magnitude and sign, incl. ±128 and ±255 (M = 9 in CSD). */
static void test_conv_extreme_weights(void **state)
{
    (void)state;
    conv_case c = {9, 20, 6, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    run_case(&c, 1.0, 1, 1, 100, NULL);
    c.s8 = 0;
    run_case(&c, 0.3, 0, 1, 101, NULL);
}

/* The engine's quantizers against the plain nearbyintf formula: halves,
 * saturation edges, huge values, infinities, NaN, denormals, random. */
static void test_quantizers(void **state)
{
    (void)state;
    static const float scales[] = {1.0f, 0.5f, 1.0f / 3.0f, 1.0f / 36.0f, 0.0071f, 17.0f};
    static const float edges[] = {0.0f, -0.0f, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, 126.5f,
                                  127.5f, -127.5f, -128.5f, -129.0f, 254.5f, 255.5f, 256.0f,
                                  1e30f, -1e30f, 1e-40f, -1e-40f, 4194304.5f, 8388609.0f,
                                  INFINITY, -INFINITY, NAN};
    uint64_t r = g_seed;
    for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
        float sc = scales[si], inv = 1.0f / sc;
        for (int i = 0; i < 20000; i++) {
            float x;
            if (i < (int)(sizeof edges / sizeof edges[0])) x = edges[i] * sc;
            else if (i < 2000) x = ((float)(int)(bpt_rand(&r) % 1200) - 600.0f) * 0.5f * sc;
            else bpt_fill_uniform(&r, &x, 1, -400.0f * sc, 400.0f * sc);
            int u = bp_quant_u8(x, inv), s = bp_quant_s8(x, inv);
            if (u != tq(x, sc, 0) || s != tq(x, sc, 1)) {
                printf("  x=%a scale=%a: u8 %d vs %d, s8 %d vs %d\n", (double)x, (double)sc, u,
                       tq(x, sc, 0), s, tq(x, sc, 1));
                fail();
            }
        }
    }
}

/* The quantize kernels the engine dispatches at each ISA cap (every length up
 * to 100, so all tails) against the scalar quant.h functions on edges, ties,
 * NaN, infinities. */
static void test_quantize_runs(void **state)
{
    (void)state;
    static const float edges[] = {0.0f, -0.0f, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, 126.5f,
                                  127.5f, -127.5f, -128.5f, -129.0f, 254.5f, 255.5f, 256.0f,
                                  1e30f, -1e30f, 1e-40f, -1e-40f, 4194304.5f, 8388609.0f,
                                  INFINITY, -INFINITY, NAN, -NAN};
    static const float scales[] = {1.0f, 1.0f / 36.0f, 0.0071f, 3.0f};
    enum { NE = sizeof edges / sizeof edges[0] };
    uint64_t r = g_seed ^ 0x5151u;
    float x[100];
    uint8_t qu[101];
    int8_t qs[101];
    for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
        float sc = scales[si], inv = 1.0f / sc;
        for (size_t n = 1; n <= 100; n++) {
            for (size_t i = 0; i < n; i++) {
                uint64_t k = bpt_rand(&r) % (NE + 8);
                if (k < NE) x[i] = edges[k] * sc;
                else x[i] = ((float)(int)(bpt_rand(&r) % 1200) - 600.0f) * 0.5f * sc;
            }
            for (int cap = 0; cap < BP_ISA_COUNT; cap++) {
                bp_kernel_table kt;
                bp_kernels_init(&kt, bp_isa_mask_cap((bp_isa)cap));
                qu[n] = 0xa5;
                qs[n] = 0x5a;
                kt.quantize_u8(x, qu, n, inv);
                kt.quantize_s8(x, qs, n, inv);
                assert_int_equal(qu[n], 0xa5); /* nothing written past n */
                assert_int_equal(qs[n], 0x5a);
                for (size_t i = 0; i < n; i++)
                    if (qu[i] != bp_quant_u8(x[i], inv) || qs[i] != bp_quant_s8(x[i], inv)) {
                        printf("  %s n=%zu i=%zu x=%a: u8 %d vs %d, s8 %d vs %d\n",
                               kt.quantize_u8_name, n, i, (double)x[i], qu[i],
                               bp_quant_u8(x[i], inv), qs[i], bp_quant_s8(x[i], inv));
                        fail();
                    }
            }
        }
    }
}

static uint64_t cost_of(const void *ctx, uint32_t j)
{
    return ((const uint64_t *)ctx)[j];
}

/* Thread work split: blocks balance the summed digit cost, not row counts. */
static void test_split_by_cost(void **state)
{
    (void)state;
    uint64_t cost[256];
    uint64_t r = g_seed;
    for (int trial = 0; trial < 50; trial++) {
        uint32_t n = 1 + (uint32_t)(bpt_rand(&r) % 256), R = 1 + (uint32_t)(bpt_rand(&r) % 9);
        uint64_t total = 0, mx = 0;
        for (uint32_t j = 0; j < n; j++) {
            /* very uneven rows: many empty, a few heavy */
            uint64_t u = bpt_rand(&r) % 100;
            cost[j] = u < 50 ? 1 : u < 90 ? 10 + u : 2000 + bpt_rand(&r) % 3000;
            total += cost[j];
            mx = cost[j] > mx ? cost[j] : mx;
        }
        uint32_t b[10];
        bp_split_rows_by_cost(cost_of, cost, 0, n, R, b);
        assert_int_equal(b[0], 0);
        assert_int_equal(b[R], n);
        for (uint32_t k = 0; k < R; k++) {
            assert_true(b[k] <= b[k + 1]);
            uint64_t c = 0;
            for (uint32_t j = b[k]; j < b[k + 1]; j++) c += cost[j];
            /* each block within one heaviest row of the ideal share */
            assert_true(c <= total / R + mx);
        }
    }
    /* equal-cost rows: equal row counts */
    for (int j = 0; j < 64; j++) cost[j] = 7;
    uint32_t b[5];
    bp_split_rows_by_cost(cost_of, cost, 0, 64, 4, b);
    for (int k = 0; k < 4; k++) assert_int_equal(b[k + 1] - b[k], 16);
    /* one heavy row: it gets a block of its own */
    for (int j = 0; j < 64; j++) cost[j] = j == 40 ? 10000 : 1;
    bp_split_rows_by_cost(cost_of, cost, 0, 64, 2, b);
    assert_true(b[1] == 40 || b[1] == 41);
}

int bpt_suite_conv(uint64_t seed)
{
    g_seed = seed;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantizers),
        cmocka_unit_test(test_quantize_runs),
        cmocka_unit_test(test_split_by_cost),
        cmocka_unit_test(test_conv_sweep),
        cmocka_unit_test(test_conv_inplace),
        cmocka_unit_test(test_conv_extreme_weights),
    };
    return cmocka_run_group_tests_name("engine_conv", tests, NULL, NULL);
}
