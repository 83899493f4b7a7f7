/* Size-versioned public structs: callers compiled with an older (smaller)
 * or newer (larger) struct than this library's, and sizes that are no
 * version at all, against every entry point that reads or writes one; and
 * the backend list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune.h"
#include "model_builders.h"

static void *g_buf;
static size_t g_size;

/* A struct as a newer caller would have it: this library's plus 24 bytes. */
#define BIG 24

static void expect_msg(const char *needle)
{
    const char *e = bp_last_error();
    if (!strstr(e, needle)) {
        printf("  message '%s' lacks '%s'\n", e, needle);
        fail();
    }
}

static bp_model *load(void)
{
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(g_buf, g_size, NULL, &m), BP_OK);
    return m;
}

static void test_session_opts(void **state)
{
    (void)state;
    bp_model *m = load();
    bp_session *s = NULL;
    bp_session_opts o;
    assert_int_equal(bp_session_opts_init(&o), BP_OK);
    assert_int_equal(o.size, sizeof o);
    assert_string_equal(o.backend, "bitplane");
    assert_int_equal(o.batch, 1);

    /* 0 and garbage sizes name the struct */
    o.size = 0;
    assert_int_equal(bp_session_create(m, &o, &s), BP_ERR_INVALID_ARG);
    expect_msg("bp_session_opts");
    assert_null(s);
    size_t bad[] = {1, sizeof(size_t), sizeof o + 3, BP_STRUCT_SIZE_MAX + sizeof(size_t),
                    (size_t)0xdeadbeefcafe};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.size = bad[i];
        assert_int_equal(bp_session_create(m, &o, &s), BP_ERR_INVALID_ARG);
        expect_msg("bp_session_opts");
    }
    assert_int_equal(bp_session_opts_init_sized(&o, 0), BP_ERR_INVALID_ARG);

    /* an older caller whose struct ends before isa: isa takes its default,
     * whatever lies beyond the caller's size */
    assert_int_equal(bp_session_opts_init(&o), BP_OK);
    o.isa = "no-such-isa";
    assert_int_equal(bp_session_create(m, &o, &s), BP_ERR_INVALID_ARG);
    expect_msg("no-such-isa");
    o.size = offsetof(bp_session_opts, isa);
    o.backend = "reference";
    o.batch = 2;
    assert_int_equal(bp_session_create(m, &o, &s), BP_OK);
    bp_session_info si;
    assert_int_equal(bp_session_info_get(s, &si), BP_OK);
    assert_string_equal(si.backend, "reference"); /* inside the prefix: read */
    assert_int_equal(si.batch, 2);
    bp_session_free(s);
    /* init of an older caller's struct writes only its bytes */
    unsigned char raw[sizeof(bp_session_opts)];
    memset(raw, 0xab, sizeof raw);
    size_t old = offsetof(bp_session_opts, isa);
    assert_int_equal(bp_session_opts_init_sized((bp_session_opts *)raw, old), BP_OK);
    for (size_t i = old; i < sizeof raw; i++) assert_int_equal(raw[i], 0xab);

    /* a newer caller: accepted when the unknown bytes are zero */
    unsigned char big[sizeof(bp_session_opts) + BIG];
    memset(big, 0xab, sizeof big);
    assert_int_equal(bp_session_opts_init_sized((bp_session_opts *)big, sizeof big), BP_OK);
    for (size_t i = sizeof(bp_session_opts); i < sizeof big; i++) assert_int_equal(big[i], 0);
    bp_session_opts *bo = (bp_session_opts *)big;
    assert_int_equal(bo->size, sizeof big);
    bo->backend = "csr";
    assert_int_equal(bp_session_create(m, bo, &s), BP_OK);
    assert_int_equal(bp_session_info_get(s, &si), BP_OK);
    assert_string_equal(si.backend, "csr");
    bp_session_free(s);
    big[sizeof(bp_session_opts) + 5] = 1; /* a field this library does not know */
    assert_int_equal(bp_session_create(m, bo, &s), BP_ERR_INVALID_ARG);
    expect_msg("bp_session_opts");
    expect_msg("newer");
    bp_model_free(m);
}

static void test_model_opts(void **state)
{
    (void)state;
    bp_model *m = NULL;
    bp_model_opts o;
    assert_int_equal(bp_model_opts_init(&o), BP_OK);
    assert_int_equal(o.verify_checksums, 1);
    assert_int_equal(bp_model_load_memory(g_buf, g_size, &o, &m), BP_OK);
    bp_model_free(m);
    o.size = 0;
    assert_int_equal(bp_model_load_memory(g_buf, g_size, &o, &m), BP_ERR_INVALID_ARG);
    expect_msg("bp_model_opts");
    assert_null(m);
    assert_int_equal(bp_model_load_file("/nonexistent.bp", &o, &m), BP_ERR_INVALID_ARG);
    expect_msg("bp_model_opts");
    unsigned char big[sizeof(bp_model_opts) + BIG];
    assert_int_equal(bp_model_opts_init_sized((bp_model_opts *)big, sizeof big), BP_OK);
    assert_int_equal(bp_model_load_memory(g_buf, g_size, (bp_model_opts *)big, &m), BP_OK);
    bp_model_free(m);
    big[sizeof big - 1] = 7;
    assert_int_equal(bp_model_load_memory(g_buf, g_size, (bp_model_opts *)big, &m),
                     BP_ERR_INVALID_ARG);
    expect_msg("bp_model_opts");
}

/* The model info at other struct sizes: the same values at the caller's
 * strides, only the fields that fit, zeros beyond this library's. */
static void test_model_info_sizes(void **state)
{
    (void)state;
    bp_model *m = load();
    const bp_model_info *I, *V, *V2;
    assert_int_equal(bp_model_info_get(m, &I), BP_OK);
    assert_int_equal(I->size, sizeof *I);
    assert_true(I->n_layers > 2);
    size_t ls = sizeof(bp_layer_info) + BIG, ts = sizeof(bp_tensor_info) + BIG;
    size_t is = sizeof(bp_model_info) + BIG;
    assert_int_equal(bp_model_info_get_sized(m, &V, is, ls, ts), BP_OK);
    assert_int_equal(bp_model_info_get_sized(m, &V2, is, ls, ts), BP_OK);
    assert_ptr_equal(V, V2); /* made once */
    assert_int_equal(V->size, sizeof *V);
    assert_int_equal(V->n_layers, I->n_layers);
    assert_true(V->sparsity == I->sparsity);
    assert_string_equal(V->arch, I->arch);
    for (size_t b = sizeof *V; b < is; b++) assert_int_equal(((const unsigned char *)V)[b], 0);
    for (uint32_t i = 0; i < I->n_layers; i++) {
        const unsigned char *e = (const unsigned char *)V->layers + i * ls;
        const bp_layer_info *L = (const bp_layer_info *)e;
        assert_int_equal(L->size, sizeof *L);
        assert_string_equal(L->name, I->layers[i].name);
        assert_int_equal(L->digits, I->layers[i].digits);
        assert_int_equal(L->w_max, I->layers[i].w_max);
        for (size_t b = sizeof *L; b < ls; b++) assert_int_equal(e[b], 0);
    }
    const bp_tensor_info *T = (const bp_tensor_info *)((const unsigned char *)V->inputs);
    assert_string_equal(T->name, I->inputs[0].name);
    assert_int_equal(T->dims[1], I->inputs[0].dims[1]);
    const bp_tensor_info *To = (const bp_tensor_info *)((const unsigned char *)V->outputs +
                                                        (I->n_outputs - 1) * ts);
    assert_string_equal(To->name, I->outputs[I->n_outputs - 1].name);

    /* an older caller's layer info, ending before act_scale */
    size_t old = offsetof(bp_layer_info, act_scale);
    assert_int_equal(bp_model_info_get_sized(m, &V, sizeof *I, old, sizeof(bp_tensor_info)),
                     BP_OK);
    for (uint32_t i = 0; i < I->n_layers; i++) {
        const bp_layer_info *L =
            (const bp_layer_info *)((const unsigned char *)V->layers + i * old);
        assert_int_equal(L->size, old);
        assert_int_equal(L->macs, I->layers[i].macs);
        assert_string_equal(L->act_dtype, I->layers[i].act_dtype);
    }

    assert_int_equal(bp_model_info_get_sized(m, &V, 0, ls, ts), BP_ERR_INVALID_ARG);
    expect_msg("bp_model_info");
    assert_null(V);
    assert_int_equal(bp_model_info_get_sized(m, &V, is, 5, ts), BP_ERR_INVALID_ARG);
    expect_msg("bp_layer_info");
    assert_int_equal(bp_model_info_get_sized(m, &V, is, ls, 1u << 20), BP_ERR_INVALID_ARG);
    expect_msg("bp_tensor_info");
    bp_model_free(m);
}

static void test_session_outputs(void **state)
{
    (void)state;
    bp_model *m = load();
    const bp_model_info *I;
    assert_int_equal(bp_model_info_get(m, &I), BP_OK);
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.backend = "bitplane";
    o.threads = 1;
    bp_session *s;
    assert_int_equal(bp_session_create(m, &o, &s), BP_OK);

    /* session info: older caller (only the bytes it has are written), newer
     * caller (zeros beyond), garbage */
    bp_session_info si;
    assert_int_equal(bp_session_info_get(s, &si), BP_OK);
    unsigned char raw[sizeof(bp_session_info) + BIG];
    size_t old = offsetof(bp_session_info, arena_bytes);
    memset(raw, 0xab, sizeof raw);
    assert_int_equal(bp_session_info_get_sized(s, (bp_session_info *)raw, old), BP_OK);
    const bp_session_info *r = (const bp_session_info *)raw;
    assert_int_equal(r->size, old);
    assert_int_equal(r->exact, si.exact);
    for (size_t b = old; b < sizeof raw; b++) assert_int_equal(raw[b], 0xab);
    memset(raw, 0xab, sizeof raw);
    assert_int_equal(bp_session_info_get_sized(s, (bp_session_info *)raw, sizeof raw), BP_OK);
    assert_int_equal(r->size, sizeof si);
    assert_int_equal(r->n_steps, si.n_steps);
    for (size_t b = sizeof si; b < sizeof raw; b++) assert_int_equal(raw[b], 0);
    assert_int_equal(bp_session_info_get_sized(s, (bp_session_info *)raw, 3),
                     BP_ERR_INVALID_ARG);
    expect_msg("bp_session_info");

    /* run, then the profile at a newer caller's entry size */
    size_t ne = 1, no = 0;
    for (uint32_t d = 1; d < I->inputs[0].ndim; d++) ne *= I->inputs[0].dims[d];
    for (uint32_t k = 0; k < I->n_outputs; k++) {
        size_t e = 1;
        for (uint32_t d = 1; d < I->outputs[k].ndim; d++) e *= I->outputs[k].dims[d];
        no += e;
    }
    float *x = calloc(ne, sizeof *x), *y = calloc(no, sizeof *y);
    float *outs[8];
    size_t off = 0;
    for (uint32_t k = 0; k < I->n_outputs && k < 8; k++) {
        outs[k] = y + off;
        size_t e = 1;
        for (uint32_t d = 1; d < I->outputs[k].ndim; d++) e *= I->outputs[k].dims[d];
        off += e;
    }
    for (size_t i = 0; i < ne; i++) x[i] = (float)(i % 13) * 0.1f - 0.5f;
    const float *ins[1] = {x};
    assert_int_equal(bp_session_set_profiling(s, 1), BP_OK);
    assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
    const bp_layer_profile *p, *pb;
    uint32_t n, nb;
    assert_int_equal(bp_session_profile(s, &p, &n), BP_OK);
    size_t es = sizeof(bp_layer_profile) + BIG;
    assert_int_equal(bp_session_profile_sized(s, &pb, &nb, es), BP_OK);
    assert_int_equal(nb, n);
    for (uint32_t i = 0; i < n; i++) {
        const bp_layer_profile *q = (const bp_layer_profile *)((const unsigned char *)pb + i * es);
        assert_int_equal(q->size, sizeof *q);
        assert_string_equal(q->name, p[i].name);
        assert_string_equal(q->kernel, p[i].kernel);
        assert_int_equal(q->runs, 1);
        assert_true(q->ms == p[i].ms);
    }
    assert_int_equal(bp_session_profile_sized(s, &pb, &nb, 0), BP_ERR_INVALID_ARG);
    expect_msg("bp_layer_profile");

    /* operation counts at a newer caller's stride equal the native ones */
    bp_layer_counts *c = calloc(I->n_layers, sizeof *c);
    size_t cs = sizeof(bp_layer_counts) + BIG;
    unsigned char *cb = malloc(I->n_layers * cs);
    memset(cb, 0xab, I->n_layers * cs);
    assert_int_equal(bp_session_count_ops(s, ins, c), BP_OK);
    assert_int_equal(bp_session_count_ops_sized(s, ins, (bp_layer_counts *)cb, cs), BP_OK);
    for (uint32_t i = 0; i < I->n_layers; i++) {
        const bp_layer_counts *q = (const bp_layer_counts *)(cb + i * cs);
        assert_int_equal(c[i].size, sizeof *c);
        assert_memory_equal(q, &c[i], sizeof *c);
        for (size_t b = sizeof *c; b < cs; b++) assert_int_equal(cb[i * cs + b], 0);
    }
    assert_int_equal(bp_session_count_ops_sized(s, ins, c, 7), BP_ERR_INVALID_ARG);
    expect_msg("bp_layer_counts");

    /* views: the stride is the first element's size, all must agree */
    bp_tensor_view vi[2], vo[8];
    bp_tensor_view_init(&vi[0]);
    vi[0].data = x;
    vi[0].ndim = I->inputs[0].ndim;
    memcpy(vi[0].dims, I->inputs[0].dims, sizeof vi[0].dims);
    for (uint32_t k = 0; k < I->n_outputs && k < 8; k++) {
        bp_tensor_view_init(&vo[k]);
        vo[k].data = outs[k];
        vo[k].ndim = I->outputs[k].ndim;
        memcpy(vo[k].dims, I->outputs[k].dims, sizeof vo[k].dims);
    }
    assert_int_equal(bp_session_run_views(s, vi, 1, vo, I->n_outputs), BP_OK);
    vi[0].size = 0;
    assert_int_equal(bp_session_run_views(s, vi, 1, vo, I->n_outputs), BP_ERR_INVALID_ARG);
    expect_msg("inputs[0]");
    expect_msg("bp_tensor_view");
    vi[0].size = sizeof vi[0];
    if (I->n_outputs > 1) {
        vo[1].size = sizeof vo[1] - 8;
        assert_int_equal(bp_session_run_views(s, vi, 1, vo, I->n_outputs), BP_ERR_INVALID_ARG);
        expect_msg("outputs[1]");
    }
    free(x);
    free(y);
    free(c);
    free(cb);
    bp_session_free(s);
    bp_model_free(m);
}

static void test_backend_list(void **state)
{
    (void)state;
    uint32_t n = bp_backend_count();
    assert_true(n >= 3);
    assert_null(bp_backend_name(n));
    int ref = 0, bit = 0, csr = 0;
    bp_model *m = load();
    for (uint32_t i = 0; i < n; i++) {
        const char *name = bp_backend_name(i);
        assert_non_null(name);
        ref |= !strcmp(name, "reference");
        bit |= !strcmp(name, "bitplane");
        csr |= !strcmp(name, "csr");
        for (uint32_t k = 0; k < i; k++) assert_string_not_equal(name, bp_backend_name(k));
        /* every listed backend is known to bp_session_create */
        bp_session_opts o;
        bp_session_opts_init(&o);
        o.backend = name;
        o.threads = 1;
        bp_session *s = NULL;
        bp_status st = bp_session_create(m, &o, &s);
        if (st != BP_OK) printf("  backend %s: %s\n", name, bp_last_error());
        assert_true(st == BP_OK || st == BP_ERR_UNSUPPORTED);
        bp_session_free(s);
    }
    assert_true(ref && bit && csr);
    bp_model_free(m);
}

int main(void)
{
    uint64_t seed = bpt_test_seed("abi_structs");
    if (bpt_build_resnet(seed, 0.5, 1, &g_buf, &g_size)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_opts),
        cmocka_unit_test(test_model_opts),
        cmocka_unit_test(test_model_info_sizes),
        cmocka_unit_test(test_session_outputs),
        cmocka_unit_test(test_backend_list),
    };
    int r = cmocka_run_group_tests_name("abi_structs", tests, NULL, NULL);
    free(g_buf);
    return r ? 1 : 0;
}
