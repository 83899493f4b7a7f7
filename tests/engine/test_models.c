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
    };
    return cmocka_run_group_tests_name("engine_models", tests, NULL, NULL);
}
