/* Per-operator golden tests: one-op models run through the engine (batch 2,
 * threads 2), compared with float references this file computes itself
 * (exact where the op is exact in float, a stated tolerance otherwise). */
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
#include "test_helpers.h"
#include "test_suites.h"

static uint64_t g_seed;
#define NB 2u

typedef uint32_t (*op_fn)(bpt_builder *b, uint32_t x, uint32_t x2, void *arg);

/* Builds input(s) -> op -> output, runs it, returns the output (malloc'd). */
static float *run_op(op_fn fn, void *arg, uint32_t ndim, const uint32_t *dims, int two_inputs,
                     const float *x, const float *x2, size_t *n_out)
{
    bpt_wspec ws = {1.0, 0, 0};
    bpt_builder *b = bpt_new(g_seed, ws);
    uint32_t a = bpt_input(b, "a", ndim, dims);
    uint32_t c = two_inputs ? bpt_input(b, "b", ndim, dims) : 0;
    uint32_t y = fn(b, a, c, arg);
    bpt_output(b, y);
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bpt_write(b, &buf, &size), 0);
    bpt_free(b);
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    const float *in[2] = {x, x2};
    bp_status st;
    float *out = bpt_run(m, "bitplane", 2, NB, in, n_out, &st);
    assert_non_null(out);
    bp_model_free(m);
    free(buf);
    return out;
}

static float *rand_input(size_t n, float lo, float hi, uint64_t salt)
{
    float *x = malloc(n * sizeof(float));
    uint64_t s = g_seed ^ salt;
    bpt_fill_uniform(&s, x, n, lo, hi);
    return x;
}

static void expect_close(const float *got, const double *want, size_t n, double rel, double abs_)
{
    for (size_t i = 0; i < n; i++) {
        double tol = abs_ + rel * fabs(want[i]);
        if (!(fabs(got[i] - want[i]) <= tol)) {
            printf("  element %zu: got %.9g, want %.9g (tol %.3g)\n", i, (double)got[i],
                   want[i], tol);
            fail();
        }
    }
}

static uint32_t op_relu(bpt_builder *b, uint32_t x, uint32_t x2, void *arg)
{
    (void)x2; (void)arg;
    return bpt_relu(b, x);
}
static uint32_t op_gelu(bpt_builder *b, uint32_t x, uint32_t x2, void *arg)
{
    (void)x2; (void)arg;
    return bpt_gelu(b, x);
}
static uint32_t op_add(bpt_builder *b, uint32_t x, uint32_t x2, void *arg)
{
    (void)arg;
    return bpt_add(b, x, x2);
}
static uint32_t op_softmax(bpt_builder *b, uint32_t x, uint32_t x2, void *arg)
{
    (void)x2; (void)arg;
    return bpt_softmax(b, x);
}
static uint32_t op_gap(bpt_builder *b, uint32_t x, uint32_t x2, void *arg)
{
    (void)x2; (void)arg;
    return bpt_gap(b, x);
}
static uint32_t op_flatten(bpt_builder *b, uint32_t x, uint32_t x2, void *arg)
{
    (void)x2; (void)arg;
    return bpt_flatten(b, x);
}

typedef struct param_arg {
    const float *p1, *p2;
    float eps;
    int which; /* 0 layernorm, 1 layerscale, 2 batchnorm */
} param_arg;

static uint32_t op_param(bpt_builder *b, uint32_t x, uint32_t x2, void *arg)
{
    (void)x2;
    param_arg *a = arg;
    if (a->which == 0) return bpt_layernorm(b, x, a->eps, a->p1, a->p2);
    if (a->which == 1) return bpt_layerscale(b, x, a->p1);
    return bpt_batchnorm(b, x, a->p1, a->p2);
}

typedef struct pool_arg {
    int is_max;
    uint32_t k, s, p;
} pool_arg;

static uint32_t op_pool(bpt_builder *b, uint32_t x, uint32_t x2, void *arg)
{
    (void)x2;
    pool_arg *a = arg;
    return bpt_pool(b, x, a->is_max, a->k, a->s, a->p);
}

static const uint32_t g_dims[4] = {1, 5, 7, 6};
#define NEL (NB * 5 * 7 * 6)

static void test_relu(void **state)
{
    (void)state;
    float *x = rand_input(NEL, -2, 2, 1);
    x[0] = -0.0f;
    x[1] = 0.0f;
    size_t n;
    float *y = run_op(op_relu, NULL, 4, g_dims, 0, x, NULL, &n);
    assert_int_equal(n, NEL);
    for (size_t i = 0; i < n; i++) assert_true(y[i] == (x[i] > 0 ? x[i] : 0.0f));
    free(x);
    free(y);
}

static void test_gelu(void **state)
{
    (void)state;
    float *x = rand_input(NEL, -6, 6, 2);
    size_t n;
    float *y = run_op(op_gelu, NULL, 4, g_dims, 0, x, NULL, &n);
    double *w = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) w[i] = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
    expect_close(y, w, n, 1e-6, 1e-7);
    free(x); free(y); free(w);
}

static void test_add(void **state)
{
    (void)state;
    float *a = rand_input(NEL, -2, 2, 3), *b = rand_input(NEL, -2, 2, 4);
    size_t n;
    float *y = run_op(op_add, NULL, 4, g_dims, 1, a, b, &n);
    for (size_t i = 0; i < n; i++) assert_true(y[i] == a[i] + b[i]);
    free(a); free(b); free(y);
}

static void test_layernorm_channels(void **state)
{
    (void)state;
    const uint32_t C = 5, HW = 42;
    float g[5] = {1.0f, 0.5f, 2.0f, -1.0f, 0.25f}, be[5] = {0.1f, -0.2f, 0.0f, 0.3f, 1.0f};
    param_arg a = {g, be, 1e-5f, 0};
    float *x = rand_input(NEL, -3, 5, 5);
    size_t n;
    float *y = run_op(op_param, &a, 4, g_dims, 0, x, NULL, &n);
    double *w = malloc(n * sizeof(double));
    for (uint32_t b = 0; b < NB; b++)
        for (uint32_t p = 0; p < HW; p++) {
            double mean = 0, var = 0;
            for (uint32_t c = 0; c < C; c++) mean += x[(b * C + c) * HW + p];
            mean /= C;
            for (uint32_t c = 0; c < C; c++) {
                double d = x[(b * C + c) * HW + p] - mean;
                var += d * d;
            }
            var /= C;
            for (uint32_t c = 0; c < C; c++)
                w[(b * C + c) * HW + p] =
                    (x[(b * C + c) * HW + p] - mean) / sqrt(var + 1e-5) * g[c] + be[c];
        }
    expect_close(y, w, n, 1e-5, 1e-5);
    free(x); free(y); free(w);
}

/* Channels-last use: layer norm of an (N, C) tensor (e.g. after a linear). */
static void test_layernorm_2d(void **state)
{
    (void)state;
    const uint32_t C = 37;
    uint32_t d[2] = {1, C};
    param_arg a = {NULL, NULL, 1e-6f, 0};
    float g[37], be[37];
    for (uint32_t c = 0; c < C; c++) {
        g[c] = 0.5f + 0.03f * (float)c;
        be[c] = 0.01f * (float)c - 0.1f;
    }
    a.p1 = g;
    a.p2 = be;
    float *x = rand_input(NB * C, -1, 3, 6);
    size_t n;
    float *y = run_op(op_param, &a, 2, d, 0, x, NULL, &n);
    double *w = malloc(n * sizeof(double));
    for (uint32_t b = 0; b < NB; b++) {
        double mean = 0, var = 0;
        for (uint32_t c = 0; c < C; c++) mean += x[b * C + c];
        mean /= C;
        for (uint32_t c = 0; c < C; c++) var += (x[b * C + c] - mean) * (x[b * C + c] - mean);
        var /= C;
        for (uint32_t c = 0; c < C; c++)
            w[b * C + c] = (x[b * C + c] - mean) / sqrt(var + 1e-6) * g[c] + be[c];
    }
    expect_close(y, w, n, 1e-5, 1e-5);
    free(x); free(y); free(w);
}

static void test_layerscale_batchnorm(void **state)
{
    (void)state;
    float g[5] = {1e-6f, 0.5f, -2.0f, 3.0f, 0.0f}, t[5] = {0.5f, -1.0f, 0.0f, 2.0f, 7.0f};
    float *x = rand_input(NEL, -3, 3, 7);
    size_t n;
    param_arg a = {g, NULL, 0.0f, 1};
    float *y = run_op(op_param, &a, 4, g_dims, 0, x, NULL, &n);
    for (size_t i = 0; i < n; i++) assert_true(y[i] == x[i] * g[(i / 42) % 5]);
    free(y);
    param_arg bn = {g, t, 0.0f, 2};
    y = run_op(op_param, &bn, 4, g_dims, 0, x, NULL, &n);
    for (size_t i = 0; i < n; i++) {
        float v = x[i] * g[(i / 42) % 5];
        v = v + t[(i / 42) % 5];
        assert_true(y[i] == v);
    }
    free(x); free(y);
}

static void check_pool(const pool_arg *pa)
{
    const uint32_t C = 5, H = 7, W = 6;
    float *x = rand_input(NEL, -4, 4, 8 + pa->k);
    size_t n;
    float *y = run_op(op_pool, (void *)pa, 4, g_dims, 0, x, NULL, &n);
    uint32_t OH = (H + 2 * pa->p - pa->k) / pa->s + 1, OW = (W + 2 * pa->p - pa->k) / pa->s + 1;
    assert_int_equal(n, NB * C * OH * OW);
    double *w = malloc(n * sizeof(double));
    for (uint32_t r = 0; r < NB * C; r++)
        for (uint32_t oy = 0; oy < OH; oy++)
            for (uint32_t ox = 0; ox < OW; ox++) {
                double mx = -INFINITY, s = 0;
                int cnt = 0;
                for (uint32_t ky = 0; ky < pa->k; ky++)
                    for (uint32_t kx = 0; kx < pa->k; kx++) {
                        long iy = (long)(oy * pa->s + ky) - pa->p, ix = (long)(ox * pa->s + kx) - pa->p;
                        if (iy < 0 || ix < 0 || iy >= (long)H || ix >= (long)W) continue;
                        double v = x[(r * H + iy) * W + ix];
                        mx = v > mx ? v : mx;
                        s += v;
                        cnt++;
                    }
                w[(r * OH + oy) * OW + ox] = pa->is_max ? mx : s / cnt;
            }
    if (pa->is_max)
        for (size_t i = 0; i < n; i++) assert_true(y[i] == (float)w[i]);
    else
        expect_close(y, w, n, 1e-6, 1e-6);
    free(x); free(y); free(w);
}

static void test_maxpool(void **state)
{
    (void)state;
    pool_arg a = {1, 3, 2, 1};
    check_pool(&a);
    pool_arg b = {1, 2, 2, 0};
    check_pool(&b);
}

static void test_avgpool(void **state)
{
    (void)state;
    pool_arg a = {0, 3, 2, 1}; /* padding excluded from the count */
    check_pool(&a);
    pool_arg b = {0, 3, 1, 0};
    check_pool(&b);
}

static void test_gap_flatten(void **state)
{
    (void)state;
    float *x = rand_input(NEL, -1, 1, 9);
    size_t n;
    float *y = run_op(op_gap, NULL, 4, g_dims, 0, x, NULL, &n);
    assert_int_equal(n, NB * 5);
    double w[NB * 5];
    for (uint32_t r = 0; r < NB * 5; r++) {
        double s = 0;
        for (uint32_t p = 0; p < 42; p++) s += x[r * 42 + p];
        w[r] = s / 42;
    }
    expect_close(y, w, n, 1e-6, 1e-7);
    free(y);
    y = run_op(op_flatten, NULL, 4, g_dims, 0, x, NULL, &n);
    assert_int_equal(n, NEL);
    assert_memory_equal(x, y, NEL * sizeof(float));
    free(x); free(y);
}

static void test_softmax(void **state)
{
    (void)state;
    uint32_t d[2] = {1, 10};
    float *x = rand_input(NB * 10, -20, 20, 10);
    x[3] = 80.0f; /* large value: must not overflow */
    size_t n;
    float *y = run_op(op_softmax, NULL, 2, d, 0, x, NULL, &n);
    double w[NB * 10];
    for (uint32_t b = 0; b < NB; b++) {
        double mx = -INFINITY, s = 0;
        for (int i = 0; i < 10; i++) mx = x[b * 10 + i] > mx ? x[b * 10 + i] : mx;
        for (int i = 0; i < 10; i++) s += exp(x[b * 10 + i] - mx);
        for (int i = 0; i < 10; i++) w[b * 10 + i] = exp(x[b * 10 + i] - mx) / s;
    }
    expect_close(y, w, n, 1e-5, 1e-7);
    free(x); free(y);
    /* 4-d: over the last dimension */
    float *x4 = rand_input(NEL, -5, 5, 11);
    y = run_op(op_softmax, NULL, 4, g_dims, 0, x4, NULL, &n);
    double *w4 = malloc(n * sizeof(double));
    for (size_t r = 0; r < NEL / 6; r++) {
        double mx = -INFINITY, s = 0;
        for (int i = 0; i < 6; i++) mx = x4[r * 6 + i] > mx ? x4[r * 6 + i] : mx;
        for (int i = 0; i < 6; i++) s += exp(x4[r * 6 + i] - mx);
        for (int i = 0; i < 6; i++) w4[r * 6 + i] = exp(x4[r * 6 + i] - mx) / s;
    }
    expect_close(y, w4, n, 1e-5, 1e-7);
    free(x4); free(y); free(w4);
}

int bpt_suite_ops(uint64_t seed)
{
    g_seed = seed;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_layernorm_channels),
        cmocka_unit_test(test_layernorm_2d),
        cmocka_unit_test(test_layerscale_batchnorm),
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_avgpool),
        cmocka_unit_test(test_gap_flatten),
        cmocka_unit_test(test_softmax),
    };
    return cmocka_run_group_tests_name("engine_ops", tests, NULL, NULL);
}
