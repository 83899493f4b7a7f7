/* Public API behaviour: status strings, bad use (null pointers, wrong shapes,
 * freed, foreign and wrong-kind handles, unknown names) gives a status and a
 * message, model info and metadata, profiling and fusion, ISA caps, model
 * lifetime, operation counts checked against an independent count, and
 * calibration. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bp_kernels.h"
#include "model_builders.h"
#include "test_helpers.h"
#include "test_suites.h"

static uint64_t g_seed;
static void *g_buf;
static size_t g_size;

static int setup_resnet(void **state)
{
    (void)state;
    return bpt_build_resnet(g_seed, 0.5, 1, &g_buf, &g_size);
}

static int teardown_resnet(void **state)
{
    (void)state;
    free(g_buf);
    g_buf = NULL;
    return 0;
}

static bp_model *load(void)
{
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(g_buf, g_size, NULL, &m), BP_OK);
    return m;
}

/* Points outs[i] into y for every model output at this batch. */
static void split_outputs(const bp_model *m, uint32_t batch, float *y, float **outs)
{
    const bp_model_info *mi;
    assert_int_equal(bp_model_info_get(m, &mi), BP_OK);
    size_t off = 0;
    for (uint32_t i = 0; i < mi->n_outputs; i++) {
        outs[i] = y + off;
        size_t e = batch;
        for (uint32_t d = 1; d < mi->outputs[i].ndim; d++) e *= mi->outputs[i].dims[d];
        off += e;
    }
}

static void expect_msg(const char *needle)
{
    const char *e = bp_last_error();
    assert_non_null(e);
    if (!strstr(e, needle)) {
        printf("  message '%s' lacks '%s'\n", e, needle);
        fail();
    }
}

static void test_status_strings(void **state)
{
    (void)state;
    for (int s = 0; s >= -16; s--) {
        const char *str = bp_status_string((bp_status)s);
        assert_non_null(str);
        assert_true(strncmp(str, "BP_", 3) == 0);
    }
    assert_non_null(bp_status_string((bp_status)-99));
    assert_string_equal(bp_version_string(), BP_VERSION_STRING);
}

static void test_load_errors(void **state)
{
    (void)state;
    bp_model *m = (bp_model *)0x1;
    assert_int_equal(bp_model_load_memory(NULL, 10, NULL, &m), BP_ERR_INVALID_ARG);
    assert_null(m);
    expect_msg("NULL");
    assert_int_equal(bp_model_load_file(NULL, NULL, &m), BP_ERR_INVALID_ARG);
    assert_int_equal(bp_model_load_file("/nonexistent/x.bp", NULL, &m), BP_ERR_IO);
    expect_msg("/nonexistent/x.bp");
    assert_int_equal(bp_model_load_memory(g_buf, g_size, NULL, NULL), BP_ERR_INVALID_ARG);
    /* truncated */
    bp_status st = bp_model_load_memory(g_buf, g_size / 2, NULL, &m);
    assert_true(st < 0);
    assert_null(m);
    assert_true(strlen(bp_last_error()) > 0);
    /* corrupted payload byte: checksum by default, accepted when trusted if the
     * byte is in a float (the last bytes of the file are layer data) */
    unsigned char *c = malloc(g_size);
    memcpy(c, g_buf, g_size);
    c[g_size - 70] ^= 0x01;
    st = bp_model_load_memory(c, g_size, NULL, &m);
    assert_int_equal(st, BP_ERR_CHECKSUM);
    free(c);
    bp_model_free(NULL);
}

static void test_info_meta(void **state)
{
    (void)state;
    bp_model *m = load();
    const bp_model_info *mi = NULL;
    assert_int_equal(bp_model_info_get(NULL, &mi), BP_ERR_INVALID_ARG);
    assert_int_equal(bp_model_info_get(m, NULL), BP_ERR_INVALID_ARG);
    assert_int_equal(bp_model_info_get(m, &mi), BP_OK);
    assert_int_equal(mi->n_inputs, 1);
    assert_int_equal(mi->n_outputs, 3);
    assert_int_equal(mi->inputs[0].ndim, 4);
    assert_int_equal(mi->inputs[0].dims[1], 3);
    assert_string_equal(mi->arch, "test");
    assert_string_equal(bp_model_meta(m, "producer"), "tests/engine model_builders");
    assert_null(bp_model_meta(m, "nope"));
    assert_null(bp_model_meta(NULL, "arch"));
    uint64_t w = 0, nz = 0, db = 0, dc = 0;
    for (uint32_t i = 0; i < mi->n_layers; i++) {
        const bp_layer_info *L = &mi->layers[i];
        assert_true(L->digits_csd <= L->digits_binary);
        assert_int_equal(L->digits, L->digits_csd); /* the model is CSD-encoded */
        assert_int_equal(L->weights, (uint64_t)L->c_out * L->K);
        assert_int_equal(L->macs, L->weights * L->out_pixels);
        assert_true(strlen(L->name) > 0);
        w += L->weights;
        nz += L->nonzeros;
        db += L->digits_binary;
        dc += L->digits_csd;
    }
    assert_int_equal(mi->layers[0].out_pixels, 20 * 20);
    assert_string_equal(mi->layers[0].op, "conv2d");
    assert_string_equal(mi->layers[mi->n_layers - 1].op, "linear");
    assert_int_equal(mi->weights, w);
    assert_int_equal(mi->nonzeros, nz);
    assert_int_equal(mi->digits_binary, db);
    assert_int_equal(mi->digits_csd, dc);
    assert_true(fabs(mi->sparsity - (1.0 - (double)nz / (double)w)) < 1e-12);
    bp_model_free(m);
}

static void test_session_bad_use(void **state)
{
    (void)state;
    bp_model *m = load();
    bp_session *s = (bp_session *)0x1;
    bp_session_opts o;
    bp_session_opts_init(&o);
    assert_string_equal(o.backend, "bitplane");
    assert_int_equal(o.batch, 1);
    assert_int_equal(bp_session_create(NULL, &o, &s), BP_ERR_INVALID_ARG);
    assert_null(s);
    expect_msg("model");
    assert_int_equal(bp_session_create(m, &o, NULL), BP_ERR_INVALID_ARG);
    o.backend = "tensorrt";
    assert_int_equal(bp_session_create(m, &o, &s), BP_ERR_INVALID_ARG);
    expect_msg("tensorrt");
    expect_msg("reference, bitplane, csr, onednn-int8, onednn-f32");
    o.backend = "csr";
    o.batch = 0;
    assert_int_equal(bp_session_create(m, &o, &s), BP_ERR_INVALID_ARG);
    expect_msg("batch");
    o.batch = 1;
    o.threads = -3;
    assert_int_equal(bp_session_create(m, &o, &s), BP_ERR_INVALID_ARG);
    expect_msg("threads");
    o.threads = 1;
    o.isa = "sse9";
    assert_int_equal(bp_session_create(m, &o, &s), BP_ERR_INVALID_ARG);
    expect_msg("sse9");
    /* A known ISA this CPU lacks (neon on x86, avx2 on aarch64) is an error,
     * not a silent fallback. */
    const char *missing = (bp_cpu_isa_mask() & BP_ISA_BIT(BP_ISA_NEON)) ? "avx2" : "neon";
    o.isa = missing;
    assert_int_equal(bp_session_create(m, &o, &s), BP_ERR_UNSUPPORTED);
    expect_msg(missing);
    expect_msg("scalar");
    o.isa = NULL;
    assert_int_equal(bp_session_create(m, NULL, &s), BP_OK); /* NULL opts: defaults */
    bp_session_free(s);
    assert_int_equal(bp_session_create(m, &o, &s), BP_OK);

    size_t ne = bpt_input_elems(m, 0, 1), no = bpt_output_elems(m, 1);
    float *x = calloc(ne, sizeof(float)), *y = calloc(no, sizeof(float));
    const bp_model_info *mi;
    bp_model_info_get(m, &mi);
    float *outs[3];
    split_outputs(m, 1, y, outs);
    const float *ins[1] = {x};
    assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
    assert_int_equal(bp_session_run(NULL, ins, outs), BP_ERR_INVALID_ARG);
    expect_msg("NULL");
    assert_int_equal(bp_session_run(s, NULL, outs), BP_ERR_INVALID_ARG);
    assert_int_equal(bp_session_run(s, ins, NULL), BP_ERR_INVALID_ARG);
    const float *bad_in[1] = {NULL};
    assert_int_equal(bp_session_run(s, bad_in, outs), BP_ERR_INVALID_ARG);
    expect_msg("inputs[0]");
    float *bad_out[3] = {y, NULL, y};
    assert_int_equal(bp_session_run(s, ins, bad_out), BP_ERR_INVALID_ARG);
    expect_msg("outputs[1]");

    /* shapes checked through the view API */
    bp_tensor_view vi = {sizeof(bp_tensor_view), x, 4, {1, 3, 20, 20}};
    bp_tensor_view vo[3];
    for (uint32_t i = 0; i < 3; i++) {
        bp_tensor_view_init(&vo[i]);
        vo[i].data = outs[i];
        vo[i].ndim = mi->outputs[i].ndim;
        memcpy(vo[i].dims, mi->outputs[i].dims, sizeof vo[i].dims);
    }
    assert_int_equal(bp_session_run_views(s, &vi, 1, vo, 3), BP_OK);
    bp_tensor_view wrong = {sizeof(bp_tensor_view), x, 4, {1, 3, 20, 21}};
    assert_int_equal(bp_session_run_views(s, &wrong, 1, vo, 3), BP_ERR_SHAPE);
    expect_msg("(1,3,20,21)");
    expect_msg("(1,3,20,20)");
    bp_tensor_view wrong_batch = {sizeof(bp_tensor_view), x, 4, {2, 3, 20, 20}};
    assert_int_equal(bp_session_run_views(s, &wrong_batch, 1, vo, 3), BP_ERR_SHAPE);
    assert_int_equal(bp_session_run_views(s, &vi, 1, vo, 2), BP_ERR_SHAPE);
    bp_tensor_view nodata = {sizeof(bp_tensor_view), NULL, 4, {1, 3, 20, 20}};
    assert_int_equal(bp_session_run_views(s, &nodata, 1, vo, 3), BP_ERR_INVALID_ARG);

    /* freed session: detected, never dereferenced */
    bp_session_free(s);
    assert_int_equal(bp_session_run(s, ins, outs), BP_ERR_STATE);
    expect_msg("not live");
    bp_session_info si;
    assert_int_equal(bp_session_info_get(s, &si), BP_ERR_STATE);
    assert_int_equal(bp_session_set_profiling(s, 1), BP_ERR_STATE);
    bp_session_free(s); /* double free: ignored, with a message */
    expect_msg("not live");
    bp_session_free(NULL);
    free(x);
    free(y);
    bp_model_free(m);
}

/* The model may be freed while sessions still use it. */
static void test_model_lifetime(void **state)
{
    (void)state;
    bp_model *m = load();
    bp_session *s = NULL;
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.threads = 1;
    assert_int_equal(bp_session_create(m, &o, &s), BP_OK);
    size_t ne = bpt_input_elems(m, 0, 1), no = bpt_output_elems(m, 1);
    float *x = malloc(ne * sizeof(float)), *y1 = malloc(no * sizeof(float)),
          *y2 = malloc(no * sizeof(float));
    uint64_t r = g_seed;
    bpt_fill_uniform(&r, x, ne, -1, 1);
    const float *ins[1] = {x};
    float *o1[3], *o2[3];
    split_outputs(m, 1, y1, o1);
    split_outputs(m, 1, y2, o2);
    assert_int_equal(bp_session_run(s, ins, o1), BP_OK);
    bp_model_free(m);
    assert_int_equal(bp_session_run(s, ins, o2), BP_OK);
    assert_memory_equal(y1, y2, no * sizeof(float));
    /* the user's handle is dead even while the session keeps the model */
    const bp_model_info *mi;
    assert_int_equal(bp_model_info_get(m, &mi), BP_ERR_STATE);
    expect_msg("not live");
    bp_session_free(s);
    /* freed for good: detected, never dereferenced */
    assert_int_equal(bp_model_info_get(m, &mi), BP_ERR_STATE);
    assert_null(bp_model_meta(m, "arch"));
    assert_int_equal(bp_session_create(m, NULL, &s), BP_ERR_STATE);
    bp_model_free(m); /* double free: ignored with a message */
    expect_msg("not live");
    free(x); free(y1); free(y2);
}

/* A model passed as a session and the reverse: refused with BP_ERR_STATE
 * before any field is read (ASan sees a read of the wrong object), and both
 * handles stay intact. */
static void test_handle_kind_confusion(void **state)
{
    (void)state;
    bp_model *m = load();
    bp_session *s = NULL;
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.threads = 1;
    assert_int_equal(bp_session_create(m, &o, &s), BP_OK);
    size_t ne = bpt_input_elems(m, 0, 1), no = bpt_output_elems(m, 1);
    float *x = calloc(ne, sizeof(float)), *y = calloc(no, sizeof(float));
    const float *ins[1] = {x};
    float *outs[3];
    split_outputs(m, 1, y, outs);
    bp_session *ms = (bp_session *)m;
    bp_model *sm = (bp_model *)s;

    bp_session_free(ms);
    expect_msg("bp_session_free");
    expect_msg("is a live model handle, not a session");
    bp_model_free(sm);
    expect_msg("bp_model_free");
    expect_msg("is a live session handle, not a model");

    bp_session_info si;
    const bp_layer_profile *p;
    uint32_t n;
    bp_layer_counts counts[16];
    assert_int_equal(bp_session_run(ms, ins, outs), BP_ERR_STATE);
    expect_msg("not a session");
    assert_int_equal(bp_session_run_views(ms, NULL, 0, NULL, 0), BP_ERR_STATE);
    assert_int_equal(bp_session_info_get(ms, &si), BP_ERR_STATE);
    assert_int_equal(bp_session_set_profiling(ms, 1), BP_ERR_STATE);
    assert_int_equal(bp_session_profile(ms, &p, &n), BP_ERR_STATE);
    assert_int_equal(bp_session_profile_reset(ms), BP_ERR_STATE);
    assert_int_equal(bp_session_count_ops(ms, ins, counts), BP_ERR_STATE);
    expect_msg("not a session");

    const bp_model_info *mi;
    bp_session *s2 = NULL;
    float mn[16], mx[16];
    assert_int_equal(bp_model_info_get(sm, &mi), BP_ERR_STATE);
    expect_msg("not a model");
    assert_null(bp_model_meta(sm, "arch"));
    expect_msg("not a model");
    assert_int_equal(bp_session_create(sm, &o, &s2), BP_ERR_STATE);
    assert_null(s2);
    expect_msg("not a model");
    assert_int_equal(bp_model_calibrate(sm, ins, 1, mn, mx), BP_ERR_STATE);
    expect_msg("not a model");

    /* both handles still work and free normally (ASan: nothing leaked) */
    assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
    assert_int_equal(bp_model_info_get(m, &mi), BP_OK);
    assert_int_equal(bp_session_create(m, &o, &s2), BP_OK);
    bp_session_free(s2);
    bp_session_free(s);
    bp_model_free(m);
    free(x);
    free(y);
}

/* Pointers the library never returned: refused without being read. The
 * 1-byte heap block makes any read of a handle field an ASan error. */
static void test_handle_foreign(void **state)
{
    (void)state;
    bp_model *m = load();
    bp_session *s = NULL;
    assert_int_equal(bp_session_create(m, NULL, &s), BP_OK);
    unsigned char *tiny = malloc(1);
    int local = 0;
    void *foreign[3] = {tiny, &local, (char *)s + 8};
    const bp_model_info *mi;
    bp_session_info si;
    float x[1] = {0}, *outs[1] = {x};
    const float *ins[1] = {x};
    for (int i = 0; i < 3; i++) {
        bp_session_free((bp_session *)foreign[i]);
        expect_msg("not live");
        bp_model_free((bp_model *)foreign[i]);
        expect_msg("not live");
        assert_int_equal(bp_session_run((bp_session *)foreign[i], ins, outs), BP_ERR_STATE);
        expect_msg("bp_session_run: session");
        assert_int_equal(bp_session_info_get((bp_session *)foreign[i], &si), BP_ERR_STATE);
        assert_int_equal(bp_model_info_get((bp_model *)foreign[i], &mi), BP_ERR_STATE);
        expect_msg("bp_model_info_get: model");
        expect_msg("not live");
    }
    assert_int_equal(bp_session_info_get(s, &si), BP_OK);
    bp_session_free(s);
    bp_model_free(m);
    free(tiny);
}

/* A valid file whose activations cannot fit at batch 65536: 16383 live
 * (N,4096,1024,1024) relu outputs plus one add output are 2^14 buffers of
 * 2^50 bytes, 2^64 in all (an unchecked sum wraps to 0 and the run writes
 * past a 64-byte arena). Session creation fails cleanly instead. */
static void test_arena_overflow(void **state)
{
    (void)state;
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bpt_build_many_live(16383, &buf, &size), 0);
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    static const char *const backends[] = {"reference", "bitplane", "onednn-f32"};
    for (int i = 0; i < 3; i++) {
        bp_session_opts o;
        bp_session_opts_init(&o);
        o.backend = backends[i];
        o.threads = 1;
        o.batch = 65536;
        bp_session *s = (bp_session *)0x1;
        bp_status st = bp_session_create(m, &o, &s);
        assert_null(s);
        if (st == BP_ERR_UNSUPPORTED) continue; /* oneDNN not built */
        printf("  %s: %s\n", backends[i], bp_last_error());
        assert_int_equal(st, BP_ERR_NOMEM);
        expect_msg("batch 65536");
        expect_msg("more memory than can exist");
    }
    bp_model_free(m);
    free(buf);
}

/* Constant add operands (one image in the file) are broadcast over the
 * batch: conv + const (+ relu), const + relu(x) (constant first), linear +
 * const. Each image of a batch-3 run equals a batch-1 run of that image bit
 * for bit (the batch-1 session fuses the conv/linear adds, the batch-3 one
 * cannot), and the const + relu(x) output equals the sum computed here. */
static void test_const_add_broadcast(void **state)
{
    (void)state;
    bpt_wspec ws = {0.5, 0, 0};
    bpt_builder *b = bpt_new(g_seed + 11, ws);
    uint64_t r = g_seed ^ 0xadd;
    uint32_t xd[4] = {1, 3, 5, 4}, kd[4] = {1, 4, 5, 4}, ld[2] = {1, 6};
    int16_t w1[4 * 27], w2[6 * 60]; /* |w| <= 100: onednn-int8 stays exact */
    for (size_t i = 0; i < sizeof w1 / sizeof w1[0]; i++)
        w1[i] = (int16_t)(bpt_rand(&r) % 3 ? (int)(bpt_rand(&r) % 201) - 100 : 0);
    for (size_t i = 0; i < sizeof w2 / sizeof w2[0]; i++)
        w2[i] = (int16_t)(bpt_rand(&r) % 3 ? (int)(bpt_rand(&r) % 201) - 100 : 0);
    uint32_t x = bpt_input(b, "x", 4, xd);
    uint32_t c = bpt_conv_w(b, "conv", x, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1.0f / 32,
                            w1, NULL, NULL);
    bpt_output(b, bpt_relu(b, bpt_add(b, c, bpt_const(b, "k1", 4, kd, NULL))));
    float k2v[60];
    bpt_fill_uniform(&r, k2v, 60, -1, 1);
    bpt_output(b, bpt_add(b, bpt_const(b, "k2", 4, xd, k2v), bpt_relu(b, x)));
    uint32_t l = bpt_linear_w(b, "fc", bpt_flatten(b, x), 6, 1, 1.0f / 32, w2, NULL, NULL);
    bpt_output(b, bpt_add(b, l, bpt_const(b, "k3", 2, ld, NULL)));
    void *buf;
    size_t size;
    assert_int_equal(bpt_write(b, &buf, &size), 0);
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    const size_t pe_in = 60, pe_out[3] = {80, 60, 6};
    float xs[3 * 60];
    bpt_fill_uniform(&r, xs, 3 * 60, -1, 1);
    static const char *const backends[] = {"reference", "bitplane", "csr", "onednn-int8",
                                           "onednn-f32"};
    for (int bi = 0; bi < 5; bi++) {
        const float *in3[1] = {xs};
        bp_status st;
        float *y3 = bpt_run(m, backends[bi], 2, 3, in3, NULL, &st);
        if (st == BP_ERR_UNSUPPORTED) continue;
        assert_int_equal(st, BP_OK);
        int exact = strcmp(backends[bi], "onednn-f32") != 0;
        for (uint32_t n = 0; n < 3; n++) {
            const float *in1[1] = {xs + n * pe_in};
            float *y1 = bpt_run(m, backends[bi], 2, 1, in1, NULL, &st);
            assert_int_equal(st, BP_OK);
            size_t off1 = 0, off3 = 0;
            for (int o = 0; o < 3; o++) {
                const float *a = y1 + off1, *c3 = y3 + off3 + n * pe_out[o];
                long d = bpt_first_diff(a, c3, pe_out[o]);
                if (exact && d >= 0)
                    fail_msg("%s output %d image %u element %ld: batch 1 %a, batch 3 %a",
                             backends[bi], o, n, d, (double)a[d], (double)c3[d]);
                for (size_t i = 0; !exact && i < pe_out[o]; i++)
                    assert_true(fabsf(a[i] - c3[i]) <= 1e-4f * (1.0f + fabsf(a[i])));
                off1 += pe_out[o];
                off3 += 3 * pe_out[o];
            }
            /* output 1 = k2 + relu(x), exactly */
            for (size_t i = 0; i < pe_in; i++) {
                float v = xs[n * pe_in + i] > 0 ? xs[n * pe_in + i] : 0.0f;
                float want = k2v[i] + v;
                assert_memory_equal(&y3[3 * pe_out[0] + n * pe_in + i], &want, sizeof want);
            }
            free(y1);
        }
        printf("  %s: batch 3 = 3 x batch 1 (%s)\n", backends[bi],
               exact ? "bit-identical" : "within 1e-4");
        free(y3);
    }
    bp_model_free(m);
    free(buf);
    bpt_free(b);
}

/* op is want, up to "->" (how the step passes its output on). */
static int op_is(const char *op, const char *want)
{
    size_t n = strcspn(op, "-");
    return n == strlen(want) && !strncmp(op, want, n);
}

static void test_profile_fusion_info(void **state)
{
    (void)state;
    bp_model *m = load();
    bp_session *s = NULL;
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.threads = 2;
    o.batch = 2;
    assert_int_equal(bp_session_create(m, &o, &s), BP_OK);
    bp_session_info si;
    assert_int_equal(bp_session_info_get(s, &si), BP_OK);
    assert_string_equal(si.backend, "bitplane");
    assert_int_equal(si.threads, 2);
    assert_int_equal(si.batch, 2);
    assert_int_equal(si.exact, 1);
    assert_true(si.arena_bytes > 0);
    size_t ne = bpt_input_elems(m, 0, 2), no = bpt_output_elems(m, 2);
    float *x = calloc(ne, sizeof(float)), *y = malloc(no * sizeof(float));
    const float *ins[1] = {x};
    float *outs[3];
    split_outputs(m, 2, y, outs);
    const bp_layer_profile *p;
    uint32_t n;
    assert_int_equal(bp_session_set_profiling(s, 1), BP_OK);
    assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
    assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
    assert_int_equal(bp_session_profile(s, &p, &n), BP_OK);
    assert_int_equal(n, si.n_steps);
    int fused_relu = 0, fused_add_relu = 0, fused_bn_relu = 0, layers = 0;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(p[i].runs, 2);
        assert_true(p[i].ms >= 0.0);
        assert_non_null(p[i].kernel);
        if (op_is(p[i].op, "conv2d+relu")) fused_relu++;
        if (op_is(p[i].op, "conv2d+add+relu")) fused_add_relu++;
        if (op_is(p[i].op, "conv2d+batchnorm+relu")) fused_bn_relu++;
        if (!strncmp(p[i].op, "conv2d", 6) || !strncmp(p[i].op, "linear", 6)) {
            layers++;
            assert_non_null(strstr(p[i].kernel, "bitplane"));
        }
    }
    /* resnet: 3 conv+relu (layerN.conv1), 3 conv+add+relu (two blocks fuse the
     * second conv, one the shortcut); the stem's batchnorm folds into its
     * conv (formats/SPEC.md 8.2), which then takes the relu too */
    assert_int_equal(fused_relu, 3);
    assert_int_equal(fused_add_relu, 3);
    assert_int_equal(fused_bn_relu, 1);
    assert_int_equal(layers, 10);
    assert_int_equal(n, 10 + 4); /* + pool, gap, flatten, softmax */
    assert_int_equal(bp_session_profile_reset(s), BP_OK);
    assert_int_equal(bp_session_profile(s, &p, &n), BP_OK);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(p[i].runs, 0);
    assert_int_equal(bp_session_profile(s, NULL, &n), BP_ERR_INVALID_ARG);
    bp_session_free(s);
    free(x); free(y);
    bp_model_free(m);
}

/* Every ISA cap gives the same bits. */
static void test_isa_caps(void **state)
{
    (void)state;
    bp_model *m = load();
    size_t ne = bpt_input_elems(m, 0, 1);
    float *x = malloc(ne * sizeof(float));
    uint64_t r = g_seed + 5;
    bpt_fill_uniform(&r, x, ne, -1, 1);
    const float *ins[1] = {x};
    bp_status st;
    size_t n;
    float *ref = bpt_run(m, "reference", 1, 1, ins, &n, &st);
    assert_non_null(ref);
    unsigned cpu = bp_cpu_isa_mask();
    static const char *const isas[] = {"scalar", "avx2", "avx512", "avx512vnni", "neon"};
    for (int i = 0; i < 5; i++) {
        if (!(cpu & BP_ISA_BIT(bp_isa_parse(isas[i])))) continue;
        for (int k = 0; k < 2; k++) {
            bp_session_opts o;
            bp_session_opts_init(&o);
            o.backend = k ? "csr" : "bitplane";
            o.isa = isas[i];
            o.threads = 2;
            bp_session *s = NULL;
            assert_int_equal(bp_session_create(m, &o, &s), BP_OK);
            bp_session_info si;
            bp_session_info_get(s, &si);
            printf("  %s capped at %s: kernels at %s\n", o.backend, isas[i], si.isa);
            float *y = malloc(n * sizeof(float));
            float *outs[3];
    split_outputs(m, 1, y, outs);
            assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
            assert_true(bpt_first_diff(ref, y, n) < 0);
            if (i == 0) {
                const bp_layer_profile *p;
                uint32_t np;
                bp_session_profile(s, &p, &np);
                assert_non_null(strstr(p[0].kernel, "scalar"));
            }
            free(y);
            bp_session_free(s);
        }
    }
    free(ref);
    free(x);
    bp_model_free(m);
}

/* Operation counts against a count this test makes from the weights and its
 * own quantized input: a padded 3x3 conv and a depthwise conv, batch 2. */
static void test_count_ops(void **state)
{
    (void)state;
    bpt_wspec ws = {0.4, 0, 1};
    bpt_builder *b = bpt_new(g_seed + 77, ws);
    uint32_t d[4] = {1, 6, 7, 5};
    uint32_t x = bpt_input(b, "x", 4, d);
    uint32_t y = bpt_conv_w(b, "c1", x, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0.05f, NULL,
                            NULL, NULL);
    y = bpt_conv_w(b, "dw", y, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6, 1, 0.04f, NULL, NULL, NULL);
    bpt_output(b, y);
    void *buf;
    size_t size;
    assert_int_equal(bpt_write(b, &buf, &size), 0);
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    const uint32_t N = 2;
    size_t ne = bpt_input_elems(m, 0, N);
    float *xf = malloc(ne * sizeof(float));
    uint64_t r = g_seed + 9;
    bpt_fill_uniform(&r, xf, ne, -0.5f, 8.0f); /* many zeros after u8 quantization */
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.batch = N;
    o.backend = "csr";
    bp_session *s;
    assert_int_equal(bp_session_create(m, &o, &s), BP_OK);
    bp_layer_counts cnt[2];
    const float *ins[1] = {xf};
    assert_int_equal(bp_session_count_ops(s, ins, cnt), BP_OK);
    assert_int_equal(bp_session_count_ops(NULL, ins, cnt), BP_ERR_INVALID_ARG);

    /* layer 0, counted here: u8 quantization of the input, padding is zero */
    const bpf_layer *L = bpt_layer(b, 0);
    const int16_t *w = bpt_layer_weights(b, 0);
    uint64_t dots = 0, mw = 0, mwx = 0, abw = 0, abwx = 0, acw = 0, acwx = 0;
    int8_t dg[BP_M_MAX];
    for (uint32_t n = 0; n < N; n++)
        for (uint32_t j = 0; j < 6; j++)
            for (uint32_t oy = 0; oy < 7; oy++)
                for (uint32_t ox = 0; ox < 5; ox++) {
                    dots++;
                    for (uint32_t ci = 0; ci < 6; ci++)
                        for (uint32_t dy = 0; dy < 3; dy++)
                            for (uint32_t dx = 0; dx < 3; dx++) {
                                int wv = w[j * L->K + (ci * 3 + dy) * 3 + dx];
                                if (!wv) continue;
                                int pb = 0, a = wv < 0 ? -wv : wv;
                                for (; a; a >>= 1) pb += a & 1;
                                int pc = bp_digits_encode(wv, BP_ENC_CSD, dg);
                                long iy = (long)oy - 1 + dy, ix = (long)ox - 1 + dx;
                                int nz = 0;
                                if (iy >= 0 && iy < 7 && ix >= 0 && ix < 5) {
                                    float v = xf[((n * 6 + ci) * 7 + iy) * 5 + ix];
                                    nz = nearbyintf(v * (1.0f / 0.05f)) >= 1.0f;
                                }
                                mw++;
                                abw += (uint64_t)pb;
                                acw += (uint64_t)pc;
                                if (nz) {
                                    mwx++;
                                    abwx += (uint64_t)pb;
                                    acwx += (uint64_t)pc;
                                }
                            }
                }
    assert_int_equal(cnt[0].dots, dots);
    assert_int_equal(cnt[0].macs_dense, dots * 54);
    assert_int_equal(cnt[0].mults_w, mw);
    assert_int_equal(cnt[0].mults_wx, mwx);
    assert_int_equal(cnt[0].adds_binary_w, abw);
    assert_int_equal(cnt[0].adds_binary_wx, abwx);
    assert_int_equal(cnt[0].adds_csd_w, acw);
    assert_int_equal(cnt[0].adds_csd_wx, acwx);
    assert_true(mwx < mw); /* zero activations were seen */
    /* depthwise: per group, K = 9, output 4x3 */
    assert_int_equal(cnt[1].dots, (uint64_t)N * 6 * 4 * 3);
    assert_int_equal(cnt[1].macs_dense, (uint64_t)N * 6 * 4 * 3 * 9);
    const int16_t *w1 = bpt_layer_weights(b, 1);
    uint64_t nzw = 0;
    for (int i = 0; i < 6 * 9; i++) nzw += w1[i] != 0;
    assert_int_equal(cnt[1].mults_w, nzw * N * 4 * 3);
    assert_true(cnt[1].mults_wx <= cnt[1].mults_w);
    assert_int_equal(cnt[1].M, bpt_layer(b, 1)->M);
    bp_session_free(s);
    bp_model_free(m);
    free(xf);
    free(buf);
    bpt_free(b);
}

/* Calibration: per-layer float input ranges of conv -> relu -> conv. */
static void test_calibrate(void **state)
{
    (void)state;
    bpt_wspec ws = {0.7, 1, 0};
    bpt_builder *b = bpt_new(g_seed + 3, ws);
    uint32_t d[4] = {1, 2, 4, 4};
    uint32_t x = bpt_input(b, "x", 4, d);
    uint32_t y = bpt_relu(b, bpt_conv_w(b, "c1", x, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1,
                                        0.1f, NULL, NULL, NULL));
    y = bpt_conv_w(b, "c2", y, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0.1f, NULL, NULL, NULL);
    bpt_output(b, y);
    void *buf;
    size_t size;
    assert_int_equal(bpt_write(b, &buf, &size), 0);
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    float xf[2 * 2 * 16];
    uint64_t r = g_seed;
    bpt_fill_uniform(&r, xf, 64, -2, 3);
    const float *ins[1] = {xf};
    float mn[2], mx[2];
    assert_int_equal(bp_model_calibrate(m, ins, 2, mn, mx), BP_OK);
    assert_int_equal(bp_model_calibrate(m, ins, 0, mn, mx), BP_ERR_INVALID_ARG);
    assert_int_equal(bp_model_calibrate(NULL, ins, 2, mn, mx), BP_ERR_INVALID_ARG);
    float lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < 64; i++) {
        lo = fminf(lo, xf[i]);
        hi = fmaxf(hi, xf[i]);
    }
    assert_true(mn[0] == lo && mx[0] == hi);
    /* layer 1 input: relu(float conv with dequantized weights) */
    const bpf_layer *L = bpt_layer(b, 0);
    const int16_t *w = bpt_layer_weights(b, 0);
    double l1 = INFINITY, h1 = -INFINITY;
    for (int n = 0; n < 2; n++)
        for (int j = 0; j < 3; j++)
            for (int p = 0; p < 16; p++) {
                double a = L->bias[j];
                for (int c = 0; c < 2; c++)
                    a += (double)w[j * 2 + c] * L->w_scale[j] * xf[(n * 2 + c) * 16 + p];
                a = a > 0 ? a : 0;
                l1 = fmin(l1, a);
                h1 = fmax(h1, a);
            }
    assert_true(fabs(mn[1] - l1) < 1e-5 && fabs(mx[1] - h1) < 1e-5 * (1 + h1));
    bp_model_free(m);
    free(buf);
    bpt_free(b);
}

static void test_load_file_roundtrip(void **state)
{
    (void)state;
    char path[] = "/tmp/bp_engine_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, g_buf, g_size), (ssize_t)g_size);
    close(fd);
    bp_model *m = NULL;
    bp_model_opts mo;
    bp_model_opts_init(&mo);
    assert_int_equal(mo.verify_checksums, 1);
    mo.verify_checksums = 0;
    assert_int_equal(bp_model_load_file(path, &mo, &m), BP_OK);
    const bp_model_info *mi;
    bp_model_info_get(m, &mi);
    assert_int_equal(mi->n_layers, 10);
    bp_model_free(m);
    unlink(path);
}

int bpt_suite_api(uint64_t seed)
{
    g_seed = seed;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_info_meta),
        cmocka_unit_test(test_session_bad_use),
        cmocka_unit_test(test_model_lifetime),
        cmocka_unit_test(test_handle_kind_confusion),
        cmocka_unit_test(test_handle_foreign),
        cmocka_unit_test(test_arena_overflow),
        cmocka_unit_test(test_const_add_broadcast),
        cmocka_unit_test(test_profile_fusion_info),
        cmocka_unit_test(test_isa_caps),
        cmocka_unit_test(test_count_ops),
        cmocka_unit_test(test_calibrate),
        cmocka_unit_test(test_load_file_roundtrip),
    };
    return cmocka_run_group_tests_name("engine_api", tests, setup_resnet, teardown_resnet);
}
