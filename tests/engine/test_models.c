/* Whole-model agreement: small ResNet- and ConvNeXt-like models at several
 * sparsities and both encodings; reference, bitplane and csr must be
 * bit-identical at threads 1/2 and batch 1/3, and a batch of 3 must equal
 * three runs of batch 1. */
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

typedef int (*bpt_model_fn)(uint64_t, double, uint32_t, void **, size_t *);

static void bpt_check_model(bpt_model_fn build, const char *what, double sparsity,
                            uint32_t enc)
{
    void *buf = NULL;
    size_t size = 0;
    uint64_t seed = g_seed ^ (uint64_t)(sparsity * 1000) ^ ((uint64_t)enc << 20);
    assert_int_equal(build(seed, sparsity, enc, &buf, &size), 0);
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    const bp_model_info *mi;
    assert_int_equal(bp_model_info_get(m, &mi), BP_OK);
    assert_int_equal(mi->n_inputs, 1);
    double sp = mi->sparsity;
    printf("  %s sparsity %.2f (%s): %u layers, measured sparsity %.3f, digits/weight %.3f\n",
           what, sparsity, enc ? "csd" : "binary", mi->n_layers, sp, mi->digits_per_weight);
    assert_true(fabs(sp - sparsity) < 0.1);

    const uint32_t B = 3;
    size_t ne = bpt_input_elems(m, 0, B), ne1 = ne / B;
    float *x = malloc(ne * sizeof(float));
    uint64_t rs = seed + 17;
    bpt_fill_uniform(&rs, x, ne, -1.0f, 1.0f);
    const float *in3[1] = {x};
    bp_status st;
    size_t nout3 = 0;
    float *ref = bpt_run(m, "reference", 1, B, in3, &nout3, &st);
    assert_non_null(ref);
    /* non-degenerate: finite and not constant */
    int varied = 0;
    for (size_t i = 0; i < nout3; i++) {
        assert_true(isfinite(ref[i]));
        varied |= ref[i] != ref[0];
    }
    assert_true(varied);

    /* outputs per image, per output tensor */
    uint32_t no = mi->n_outputs;
    size_t per_img[8], tot1 = 0;
    for (uint32_t o = 0; o < no; o++) {
        per_img[o] = 1;
        for (uint32_t d = 1; d < mi->outputs[o].ndim; d++) per_img[o] *= mi->outputs[o].dims[d];
        tot1 += per_img[o];
    }
    static const char *const backends[] = {"reference", "bitplane", "csr"};
    for (int bi = 0; bi < 3; bi++)
        for (int threads = 1; threads <= 2; threads++) {
            size_t n = 0;
            float *y = bpt_run(m, backends[bi], threads, B, in3, &n, &st);
            assert_non_null(y);
            assert_int_equal(n, nout3);
            long d = bpt_first_diff(ref, y, n);
            if (d >= 0)
                printf("  MISMATCH %s threads %d batch 3 at %ld: %.9g vs %.9g\n",
                       backends[bi], threads, d, (double)ref[d], (double)y[d]);
            assert_true(d < 0);
            free(y);
            /* batch 1, each image separately */
            for (uint32_t img = 0; img < B; img++) {
                const float *in1[1] = {x + img * ne1};
                float *y1 = bpt_run(m, backends[bi], threads, 1, in1, &n, &st);
                assert_non_null(y1);
                assert_int_equal(n, tot1);
                size_t off3 = 0, off1 = 0;
                for (uint32_t o = 0; o < no; o++) {
                    long e = bpt_first_diff(ref + off3 + img * per_img[o], y1 + off1, per_img[o]);
                    if (e >= 0)
                        printf("  MISMATCH %s threads %d batch 1 image %u output %u at %ld\n",
                               backends[bi], threads, img, o, e);
                    assert_true(e < 0);
                    off3 += B * per_img[o];
                    off1 += per_img[o];
                }
                free(y1);
                if (bi > 0 || threads > 1) break; /* all images once is enough */
            }
        }
    free(ref);
    free(x);
    bp_model_free(m);
    free(buf);
}

static void test_resnet_dense_binary(void **state)
{
    (void)state;
    bpt_check_model(bpt_build_resnet, "resnet", 0.0, 0);
}
static void test_resnet_60_csd(void **state)
{
    (void)state;
    bpt_check_model(bpt_build_resnet, "resnet", 0.6, 1);
}
static void test_resnet_90_binary(void **state)
{
    (void)state;
    bpt_check_model(bpt_build_resnet, "resnet", 0.9, 0);
}
static void test_convnext_dense_csd(void **state)
{
    (void)state;
    bpt_check_model(bpt_build_convnext, "convnext", 0.0, 1);
}
static void test_convnext_70_binary(void **state)
{
    (void)state;
    bpt_check_model(bpt_build_convnext, "convnext", 0.7, 0);
}
static void test_convnext_95_csd(void **state)
{
    (void)state;
    bpt_check_model(bpt_build_convnext, "convnext", 0.95, 1);
}

/* Random graphs: random conv geometry (kernel, stride, asymmetric padding,
 * dilation, groups, u8/s8), float ops and residual adds to earlier tensors
 * of the same shape, then a linear head. reference/bitplane/csr must agree
 * bit for bit at threads 1/2, batch 1/2. */
static uint32_t rnd(uint64_t *r, uint32_t n)
{
    return (uint32_t)(bpt_rand(r) % n);
}

static void test_random_graphs(void **state)
{
    (void)state;
    uint64_t r = g_seed ^ 0x7a11d0u;
    for (int trial = 0; trial < 12; trial++) {
        static const double dens[] = {1.0, 0.5, 0.1};
        bpt_wspec ws = {dens[rnd(&r, 3)], rnd(&r, 2), (int)rnd(&r, 2)};
        bpt_builder *b = bpt_new(bpt_rand(&r), ws);
        uint32_t d[4] = {1, 1 + rnd(&r, 6), 3 + rnd(&r, 10), 3 + rnd(&r, 10)};
        uint32_t t = bpt_input(b, "x", 4, d);
        uint32_t hist[32], nh = 0;
        hist[nh++] = t;
        int steps = 4 + (int)rnd(&r, 6);
        for (int st = 0; st < steps; st++) {
            uint32_t nd;
            const uint32_t *td = bpt_dims(b, t, &nd);
            uint32_t C = td[1], H = td[2], W = td[3];
            uint32_t op = rnd(&r, 10);
            if (op < 5) { /* conv */
                uint32_t kh = 1 + rnd(&r, 4), kw = 1 + rnd(&r, 4);
                uint32_t sh = 1 + rnd(&r, 2), sw = 1 + rnd(&r, 2);
                uint32_t dh = 1 + rnd(&r, 2), dw = 1 + rnd(&r, 2);
                uint32_t p[4] = {rnd(&r, kh), rnd(&r, kw), rnd(&r, kh), rnd(&r, kw)};
                if (H + p[0] + p[2] < dh * (kh - 1) + 1) { kh = 1; dh = 1; }
                if (W + p[1] + p[3] < dw * (kw - 1) + 1) { kw = 1; dw = 1; }
                uint32_t groups = 1;
                if (rnd(&r, 3) == 0) groups = C; /* depthwise-like */
                else if (C % 2 == 0 && rnd(&r, 2)) groups = 2;
                uint32_t c_out = groups * (1 + rnd(&r, groups > 2 ? 2 : 8));
                char nm[32];
                snprintf(nm, sizeof nm, "conv%d", st);
                t = bpt_conv_ex(b, nm, t, c_out, kh, kw, sh, sw, p[0], p[1], p[2], p[3], dh, dw,
                                groups, (int)rnd(&r, 2));
                if (rnd(&r, 2)) t = bpt_relu(b, t);
            } else if (op == 5) {
                t = rnd(&r, 2) ? bpt_gelu(b, t) : bpt_relu(b, t);
            } else if (op == 6) {
                uint32_t k = rnd(&r, 3);
                t = k == 0 ? bpt_layernorm(b, t, 1e-5f, NULL, NULL)
                  : k == 1 ? bpt_layerscale(b, t, NULL) : bpt_batchnorm(b, t, NULL, NULL);
            } else if (op == 7 && H >= 3 && W >= 3) {
                t = bpt_pool(b, t, (int)rnd(&r, 2), 2 + rnd(&r, 2), 1 + rnd(&r, 2), rnd(&r, 2));
            } else { /* residual add with an earlier tensor of the same shape */
                for (uint32_t k = 0; k + 1 < nh; k++) {
                    uint32_t n2;
                    const uint32_t *hd = bpt_dims(b, hist[k], &n2);
                    if (n2 == 4 && hd[1] == C && hd[2] == H && hd[3] == W) {
                        t = bpt_add(b, rnd(&r, 2) ? t : hist[k], rnd(&r, 2) ? hist[k] : t);
                        if (rnd(&r, 2)) t = bpt_relu(b, t);
                        break;
                    }
                }
            }
            if (nh < 32) hist[nh++] = t;
        }
        bpt_output(b, t);
        uint32_t h = bpt_linear(b, "head", bpt_flatten(b, bpt_gap(b, t)), 1 + rnd(&r, 7),
                                (int)rnd(&r, 2));
        bpt_output(b, h);
        assert_int_equal(bpt_calibrate(b, 2), 0);
        void *buf;
        size_t size;
        assert_int_equal(bpt_write(b, &buf, &size), 0);
        bpt_free(b);
        bp_model *m;
        assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
        for (uint32_t batch = 1; batch <= 2; batch++) {
            size_t ne = bpt_input_elems(m, 0, batch);
            float *x = malloc(ne * sizeof(float));
            bpt_fill_uniform(&r, x, ne, -1.0f, 1.0f);
            const float *in[1] = {x};
            bp_status st;
            size_t n = 0;
            float *ref = bpt_run(m, "reference", 1, batch, in, &n, &st);
            assert_non_null(ref);
            static const char *const be[] = {"bitplane", "csr", "reference"};
            for (int bi = 0; bi < 3; bi++)
                for (int th = 1; th <= 2; th++) {
                    if (bi == 2 && th == 1) continue;
                    size_t n2;
                    float *y = bpt_run(m, be[bi], th, batch, in, &n2, &st);
                    assert_non_null(y);
                    long dd = bpt_first_diff(ref, y, n);
                    if (dd >= 0)
                        printf("  graph %d %s threads %d batch %u: output %ld differs\n",
                               trial, be[bi], th, batch, dd);
                    assert_true(dd < 0);
                    free(y);
                }
            free(ref);
            free(x);
        }
        bp_model_free(m);
        free(buf);
    }
}

int bpt_suite_models(uint64_t seed)
{
    g_seed = seed;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resnet_dense_binary),
        cmocka_unit_test(test_resnet_60_csd),
        cmocka_unit_test(test_resnet_90_binary),
        cmocka_unit_test(test_convnext_dense_csd),
        cmocka_unit_test(test_convnext_70_binary),
        cmocka_unit_test(test_convnext_95_csd),
        cmocka_unit_test(test_random_graphs),
    };
    return cmocka_run_group_tests_name("engine_models", tests, NULL, NULL);
}
