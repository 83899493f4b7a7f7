/* Minimised cases the fuzzers found, kept as fixed regression tests (each a
 * small builder function; the comment says what was wrong). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune.h"
#include "model_builders.h"
#include "model_edit.h"

static const char *const g_backends[] = {"reference", "bitplane", "csr", "onednn-int8",
                                         "onednn-f32"};

static bp_model *load(void *buf, size_t size)
{
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    return m;
}

static bp_status run(const bp_model *m, const char *backend, uint32_t batch, const float *x,
                     float *y)
{
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.backend = backend;
    o.threads = 1;
    o.batch = batch;
    bp_session *s = NULL;
    bp_status st = bp_session_create(m, &o, &s);
    if (st == BP_OK) {
        const float *in[1] = {x};
        float *out[1] = {y};
        st = bp_session_run(s, in, out);
    }
    bp_session_free(s);
    return st;
}

/* Softmax over the last axis of a rank-1 activation (N): that axis is the
 * batch, so at batch 2 each image's output depended on the other image
 * (fuzz_random_models: image 0 of batch 2 != batch 1). Now it runs at
 * batch 1 only; batch 2 is refused with a message. */
static int build_softmax_rank1(void **buf, size_t *size)
{
    bpt_builder *b = bpt_new(1, (bpt_wspec){0.5, 0, 0});
    uint32_t d[1] = {1};
    uint32_t x = bpt_input(b, "x", 1, d);
    bpt_output(b, bpt_softmax(b, bpt_gelu(b, x)));
    int st = bpt_write(b, buf, size);
    bpt_free(b);
    return st;
}

static void test_softmax_rank1_batch(void **state)
{
    (void)state;
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(build_softmax_rank1(&buf, &size), 0);
    bp_model *m = load(buf, size);
    const float x[2] = {0.3f, -5.0f};
    for (int k = 0; k < 5; k++) {
        float y[2] = {0, 0};
        assert_int_equal(run(m, g_backends[k], 1, x, y), BP_OK);
        assert_true(y[0] == 1.0f); /* softmax of one element */
        bp_status st = run(m, g_backends[k], 2, x, y);
        assert_int_equal(st, BP_ERR_UNSUPPORTED);
        assert_non_null(strstr(bp_last_error(), "softmax"));
    }
    bp_model_free(m);
    free(buf);
}

/* Global average pool over a channel holding +inf, -inf and NaN: the NCHW
 * (reference) and NHWC (oneDNN) loops add the same values in the same order
 * but may propagate a NaN of another sign (IEEE 754 leaves it open; the
 * vectorised add takes its first NaN operand). Both must give NaN there and
 * identical bits everywhere else; the fuzzers compare NaN to any NaN. */
static int build_gap_nonfinite(void **buf, size_t *size)
{
    bpt_builder *b = bpt_new(2, (bpt_wspec){0.5, 0, 0});
    uint32_t d[4] = {1, 3, 2, 3};
    uint32_t x = bpt_input(b, "x", 4, d);
    int16_t w[3 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1}; /* identity 1x1, fits s8 */
    float ws[3] = {1, 1, 1}, bs[3] = {0, 0, 0};
    uint32_t c = bpt_conv_w(b, "id", x, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1.0f / 64, w, ws,
                            bs);
    bpt_output(b, bpt_gap(b, bpt_add(b, c, x)));
    int st = bpt_write(b, buf, size);
    bpt_free(b);
    return st;
}

static void test_gap_nonfinite_nan_sign(void **state)
{
    (void)state;
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(build_gap_nonfinite(&buf, &size), 0);
    bp_model *m = load(buf, size);
    float x[18];
    for (int i = 0; i < 18; i++) x[i] = 0.25f * (float)(i % 5) - 0.5f;
    x[0] = INFINITY;  /* channel 0: inf + -inf + NaN */
    x[2] = -INFINITY;
    x[4] = NAN;
    x[7] = INFINITY;  /* channel 1: +inf only */
    float ref[3], y[3];
    assert_int_equal(run(m, "reference", 1, x, ref), BP_OK);
    assert_true(isnan(ref[0]));
    assert_true(isinf(ref[1]) && ref[1] > 0);
    assert_true(isfinite(ref[2]));
    for (int k = 1; k < 5; k++) {
        bp_status st = run(m, g_backends[k], 1, x, y);
        if (k >= 3 && st != BP_OK) continue; /* oneDNN may be unusable here */
        assert_int_equal(st, BP_OK);
        assert_true(isnan(y[0]));
        if (k == 4) continue; /* onednn-f32 does not quantize: values differ */
        assert_memory_equal(&y[1], &ref[1], 2 * sizeof(float));
    }
    bp_model_free(m);
    free(buf);
}

/* Activation dtypes are advisory (SPEC.md §6), but sessions refused any
 * model with a non-f32 activation, even an unused one ("activations must be
 * f32"; fuzz_struct: every accepted variant of the formats test model was
 * refused). Now such a model runs and equals its all-f32 twin bit for bit. */
static int build_small_net(void **buf, size_t *size)
{
    bpt_builder *b = bpt_new(3, (bpt_wspec){0.5, 1, 0});
    uint32_t d[4] = {1, 2, 5, 5};
    uint32_t x = bpt_input(b, "x", 4, d);
    uint32_t t = bpt_relu(b, bpt_conv(b, "c", x, 4, 3, 3, 1, 1, 1, 1, 0));
    t = bpt_flatten(b, bpt_gap(b, t));
    bpt_output(b, bpt_linear(b, "fc", t, 3, 1));
    int st = bpt_write(b, buf, size);
    bpt_free(b);
    return st;
}

static void test_advisory_activation_dtype(void **state)
{
    (void)state;
    void *buf = NULL, *buf2 = NULL;
    size_t size = 0, size2 = 0;
    assert_int_equal(build_small_net(&buf, &size), 0);
    me_model *e = me_from_buffer(buf, size);
    assert_non_null(e);
    uint32_t changed = 0;
    for (uint32_t t = 0; t < e->n_tensors; t++) {
        if (e->tensors[t].data) continue;
        e->tensors[t].dtype = changed % 2 ? BPF_DT_S8 : BPF_DT_U8; /* the input: u8 */
        changed++;
    }
    bpf_tensor unused = {"unused.s32", BPF_DT_S32, 2, {1, 7, 0, 0, 0, 0}, 0.0f, NULL, 0};
    assert_int_not_equal(me_add_tensor(e, &unused), UINT32_MAX);
    assert_int_equal(me_write(e, 1u << 20, NULL, &buf2, &size2), BPF_OK);
    me_free(e);
    assert_true(changed >= 4);
    bp_model *m = load(buf, size), *m2 = load(buf2, size2);
    float x[2 * 25];
    for (int i = 0; i < 50; i++) x[i] = 0.1f * (float)((i * 7) % 11) - 0.4f;
    for (int k = 0; k < 5; k++) {
        float y[3], y2[3];
        bp_status st = run(m, g_backends[k], 1, x, y);
        if (k >= 3 && st != BP_OK) continue; /* oneDNN may be unusable here */
        assert_int_equal(st, BP_OK);
        assert_int_equal(run(m2, g_backends[k], 1, x, y2), BP_OK);
        assert_memory_equal(y, y2, sizeof y);
    }
    bp_model_free(m);
    bp_model_free(m2);
    free(buf);
    free(buf2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_rank1_batch),
        cmocka_unit_test(test_gap_nonfinite_nan_sign),
        cmocka_unit_test(test_advisory_activation_dtype),
    };
    return cmocka_run_group_tests_name("fuzz regressions", tests, NULL, NULL);
}
