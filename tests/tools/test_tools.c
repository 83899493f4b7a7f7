/* test_tools.c: unit tests of bptool's weight recipe (proximal map, quantization,
 * magnitude pruning, the weight range), the Table 2 / Table 1 formulas of
 * bpbench, the engine's op counts on a hand-checked one-layer model, the
 * energy-model sanity check on a dense ResNet-18/CIFAR (MAC count from an
 * independent layer list), atomic file output, the input-file rules, and the
 * verify / prune / info commands on edge-case files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bitprune.h"
#include "bptool.h"
#include "input_file.h"
#include "model_builders.h"
#include "opcount.h"

static uint64_t test_seed;

/* ---- proximal map ---- */

/* Independent restatement of eq. 8 (p = 1/2) for one candidate. */
static double test_prox_cost(int w, int v, double lambda, int csd)
{
    double sw = (w < 0 ? -1 : 1) * sqrt(fabs((double)w));
    double sv = (v < 0 ? -1 : 1) * sqrt(fabs((double)v));
    unsigned a = (unsigned)abs(w);
    int c = 0;
    if (csd) {
        int8_t d[BP_M_MAX];
        c = bp_digits_encode((int32_t)a, BP_ENC_CSD, d);
    } else {
        for (; a; a &= a - 1)
            c++;
    }
    return fabs(sw - sv) + lambda * c;
}

static void test_prox_optimal(double lambda, int csd, int qmax)
{
    int16_t lut[2 * 255 + 1];
    bp_tool_prox_lut(lambda, csd, qmax, lut);
    for (int v = -qmax; v <= qmax; v++) {
        int w0 = lut[v + qmax];
        assert_true(w0 >= -qmax && w0 <= qmax);
        double got = test_prox_cost(w0, v, lambda, csd);
        for (int w = -qmax; w <= qmax; w++)
            assert_true(got <= test_prox_cost(w, v, lambda, csd) + 1e-12);
        assert_int_equal(lut[qmax - v], -lut[qmax + v]);
        /* a projection: optimal at v implies optimal at its own image (the
         * triangle inequality), so re-pruning at the same lambda is a no-op */
        assert_int_equal(lut[qmax + w0], w0);
    }
}

static void test_prox_is_argmin(void **state)
{
    (void)state;
    static const double lambdas[] = {0.1, 0.5, 1.0, 1.5, 2.0, 4.0};
    static const int qmaxes[] = {127, 128, 255};
    for (unsigned q = 0; q < 3; q++)
        for (unsigned i = 0; i < sizeof lambdas / sizeof *lambdas; i++) {
            test_prox_optimal(lambdas[i], 0, qmaxes[q]);
            test_prox_optimal(lambdas[i], 1, qmaxes[q]);
        }
}

/* The proximal map (eq. 8 of the paper): its targets and zero band at lambda 1 and 2. */
static void test_prox_design_targets(void **state)
{
    (void)state;
    static const int t1[] = {2, 4, 8, 16, 32, 48, 64, 96, 128};
    static const int t2[] = {8, 16, 32, 64, 128};
    struct {
        double lambda;
        const int *t;
        int n, zero_upto;
    } cases[] = {{1.0, t1, 9, 1}, {2.0, t2, 5, 5}};
    for (int csd = 0; csd < 2; csd++) {
        for (int c = 0; c < 2; c++) {
            int16_t lut[257];
            bp_tool_prox_lut(cases[c].lambda, csd, 128, lut);
            int seen[129] = {0};
            for (int v = 0; v <= 128; v++) {
                seen[lut[128 + v]] = 1;
                if (v <= cases[c].zero_upto)
                    assert_int_equal(lut[128 + v], 0);
            }
            assert_int_not_equal(lut[128 + cases[c].zero_upto + 1], 0);
            int n = 0;
            for (int a = 1; a <= 128; a++)
                n += seen[a];
            assert_int_equal(n, cases[c].n);
            for (int i = 0; i < cases[c].n; i++)
                assert_true(seen[cases[c].t[i]]);
        }
    }
}

static void test_cost_csd_matches_kernels(void **state)
{
    (void)state;
    for (int a = 0; a <= 255; a++) {
        int8_t d[BP_M_MAX];
        assert_int_equal(bp_tool_cost_csd((uint32_t)a), bp_digits_encode(a, BP_ENC_CSD, d));
        assert_int_equal(bp_tool_cost_binary((uint32_t)a), bp_digits_encode(a, BP_ENC_BINARY, d));
    }
}

/* ---- quantization and pruning ---- */

static void test_quantize_rows(void **state)
{
    (void)state;
    static const int qmaxes[] = {127, 128, 255};
    for (int q = 0; q < 3; q++) {
        const int qmax = qmaxes[q];
        bp_tool_rng r;
        bp_tool_rng_seed(&r, test_seed, 7);
        enum { R = 5, K = 37 };
        float wf[R * K];
        int16_t w[R * K];
        float s[R];
        for (int i = 0; i < R * K; i++)
            wf[i] = (float)bp_tool_rng_normal(&r);
        for (int k = 0; k < K; k++)
            wf[3 * K + k] = 0; /* a zero row */
        bp_tool_quantize_rows(wf, R, K, qmax, w, s);
        for (int j = 0; j < R; j++) {
            int amax = 0;
            for (int k = 0; k < K; k++) {
                int a = abs(w[j * K + k]);
                assert_true(a <= qmax);
                amax = a > amax ? a : amax;
                /* rounding error at most half a step */
                assert_true(fabsf(w[j * K + k] * s[j] - wf[j * K + k]) <=
                            0.5f * s[j] * 1.0001f);
            }
            assert_int_equal(amax, j == 3 ? 0 : qmax);
        }
        assert_true(s[3] == 1.0f);
    }
}

static void test_prune_magnitude(void **state)
{
    (void)state;
    bp_tool_rng r;
    bp_tool_rng_seed(&r, test_seed, 11);
    enum { R = 4, K = 100 };
    int16_t w[R * K], orig[R * K];
    float s[R] = {1.0f, 0.5f, 2.0f, 0.25f}, tie[R * K];
    for (int i = 0; i < R * K; i++) {
        w[i] = (int16_t)((int)(bp_tool_rng_u64(&r) % 257) - 128);
        tie[i] = (float)bp_tool_rng_uniform(&r);
    }
    memcpy(orig, w, sizeof w);
    assert_int_equal(bp_tool_prune_magnitude(w, R, K, s, tie, 0.73), 0);
    int zeros = 0;
    float kept_min = INFINITY, pruned_max = 0;
    for (int i = 0; i < R * K; i++) {
        zeros += w[i] == 0;
        assert_true(w[i] == 0 || w[i] == orig[i]);
        float mag = fabsf((float)orig[i] * s[i / K]);
        if (w[i])
            kept_min = fminf(kept_min, mag);
        else if (orig[i])
            pruned_max = fmaxf(pruned_max, mag);
    }
    assert_int_equal(zeros, (int)lround(0.73 * R * K));
    assert_true(pruned_max <= kept_min);
    /* sparsity below the existing zeros changes nothing */
    memcpy(orig, w, sizeof w);
    assert_int_equal(bp_tool_prune_magnitude(w, R, K, s, NULL, 0.5), 0);
    assert_memory_equal(w, orig, sizeof w);
}

/* ---- Table 2 formulas on a hand-checked dot product ----
 * w = [3, 0, -128, 5], x = [1, 5, 0, 3], K = 4, one dot, M = 8 (|w| <= 128).
 * nonzero w: 3 -> mults_w 3; with x != 0: w0, w3 -> mults_wx 2.
 * binary digits: pop(3)+pop(128)+pop(5) = 2+1+2 = 5; effectual 2+2 = 4.
 * CSD digits: 3 = 4-1 (2), 128 (1), 5 = 4+1 (2) -> 5; effectual 4. */
static const bp_layer_counts test_hand = {sizeof(bp_layer_counts), 1, 4, 3, 2, 5, 4, 5, 4, 8};

static void test_table2_formulas(void **state)
{
    (void)state;
    bp_bench_ops o[BP_BENCH_SCHEMES];
    bp_bench_layer_ops(&test_hand, 4, 8, 8, o);
    /* dense: K mults, K-1 adds */
    assert_true(o[BP_BENCH_DENSE].mults == 4 && o[BP_BENCH_DENSE].adds == 3 &&
                o[BP_BENCH_DENSE].shifts == 0);
    /* sparse: s_mult K mults, s_mult (K-1) adds; s_mult = 3/4 and 2/4 */
    assert_true(o[BP_BENCH_SPARSE_W].mults == 3 && o[BP_BENCH_SPARSE_W].adds == 0.75 * 3);
    assert_true(o[BP_BENCH_SPARSE_WX].mults == 2 && o[BP_BENCH_SPARSE_WX].adds == 0.5 * 3);
    /* add-shift-add: digits + M - 1 adds, M - 1 shifts */
    assert_true(o[BP_BENCH_ASA_BIN_W].mults == 0 && o[BP_BENCH_ASA_BIN_W].adds == 5 + 7 &&
                o[BP_BENCH_ASA_BIN_W].shifts == 7);
    assert_true(o[BP_BENCH_ASA_BIN_WX].adds == 4 + 7 && o[BP_BENCH_ASA_BIN_WX].shifts == 7);
    assert_true(o[BP_BENCH_ASA_CSD_W].adds == 5 + 7 && o[BP_BENCH_ASA_CSD_WX].adds == 4 + 7);
    /* Table 1, ASIC FIX8: dense = 4*0.2 + 3*0.03 pJ */
    assert_true(fabs(bp_bench_energy_pj(&o[BP_BENCH_DENSE], &bp_bench_emodel[0]) - 0.89) < 1e-12);
    /* FPGA FIX32: add-shift-add binary (w) = 12*0.1 + 7*0.1 */
    assert_string_equal(bp_bench_emodel[3].key, "fpga_fix32");
    assert_true(fabs(bp_bench_energy_pj(&o[BP_BENCH_ASA_BIN_W], &bp_bench_emodel[3]) - 1.9) <
                1e-12);
    /* eq. 9 approx: (E_add/E_mult)*digits/mults = (0.03/0.2)*5/3 */
    assert_true(fabs(bp_bench_eq9_approx(5, 3, &bp_bench_emodel[0]) - 0.15 * 5 / 3) < 1e-12);
}

/* The same dot product through the engine: a one-layer linear model whose
 * input quantizes exactly to x (u8, scale 1). */
static void test_engine_counts_hand(void **state)
{
    (void)state;
    bp_tool_graph g;
    bp_tool_graph_init(&g);
    uint32_t x = bp_tool_input(&g, "input", 4, 1, 1);
    x = bp_tool_flatten(&g, "flatten", x);
    x = bp_tool_linear(&g, "fc", x, 1);
    bp_tool_set_output(&g, x);
    assert_false(g.failed);
    static const int16_t wv[4] = {3, 0, -128, 5};
    memcpy(g.lsrc[0].w, wv, sizeof wv);
    g.lsrc[0].w_scale[0] = 1.0f;
    g.lsrc[0].bias[0] = 0.0f;
    g.layers[0].w_max = 128;
    assert_int_equal(bp_tool_project_layer(&g.lsrc[0], &g.layers[0], BP_TOOL_PRUNE_NONE, 0, 0,
                                           BP_ENC_BINARY, NULL),
                     0);
    g.layers[0].act_dtype = BPF_DT_U8;
    g.layers[0].act_scale = 1.0f;
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bp_tool_graph_write(&g, 0, NULL, &buf, &size), BP_OK);
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    bp_session_opts so;
    bp_session_opts_init(&so);
    so.backend = "reference";
    so.threads = 1;
    bp_session *s = NULL;
    assert_int_equal(bp_session_create(m, &so, &s), BP_OK);
    const float xin[4] = {1, 5, 0, 3};
    const float *ins[1] = {xin};
    bp_layer_counts c;
    assert_int_equal(bp_session_count_ops(s, ins, &c), BP_OK);
    assert_int_equal(c.dots, test_hand.dots);
    assert_int_equal(c.macs_dense, test_hand.macs_dense);
    assert_int_equal(c.mults_w, test_hand.mults_w);
    assert_int_equal(c.mults_wx, test_hand.mults_wx);
    assert_int_equal(c.adds_binary_w, test_hand.adds_binary_w);
    assert_int_equal(c.adds_binary_wx, test_hand.adds_binary_wx);
    assert_int_equal(c.adds_csd_w, test_hand.adds_csd_w);
    assert_int_equal(c.adds_csd_wx, test_hand.adds_csd_wx);
    assert_int_equal(c.M, 8);
    /* and the output is the dot product 3*1 + 5*3 = 18 */
    float y = 0;
    float *outs[1] = {&y};
    assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
    assert_true(y == 18.0f);
    bp_session_free(s);
    bp_model_free(m);
    free(buf);
    bp_tool_graph_free(&g);
}

/* ---- energy-model sanity: dense ResNet-18 / CIFAR-10 at 32x32 ----
 * Independent layer list: (c_in, c_out, k, stride, output side). */
static void test_energy_resnet18_cifar(void **state)
{
    (void)state;
    static const struct {
        int cin, cout, k, side, n;
    } L[] = {
        {3, 64, 3, 32, 1},                        /* conv1 */
        {64, 64, 3, 32, 4},                       /* layer1: 2 blocks x 2 convs */
        {64, 128, 3, 16, 1},  {128, 128, 3, 16, 3}, {64, 128, 1, 16, 1},  /* layer2 */
        {128, 256, 3, 8, 1},  {256, 256, 3, 8, 3},  {128, 256, 1, 8, 1},   /* layer3 */
        {256, 512, 3, 4, 1},  {512, 512, 3, 4, 3},  {256, 512, 1, 4, 1},   /* layer4 */
        {512, 10, 1, 1, 1},                       /* fc */
    };
    double macs = 0, adds = 0;
    for (unsigned i = 0; i < sizeof L / sizeof *L; i++) {
        double K = (double)L[i].cin * L[i].k * L[i].k;
        double dots = (double)L[i].cout * L[i].side * L[i].side * L[i].n;
        macs += dots * K;
        adds += dots * (K - 1);
    }
    /* the paper: "about 0.55 x 10^6" (sic; G) MACs for the dense network */
    assert_true(macs > 0.55e9 && macs < 0.56e9);

    bp_tool_gen_opts o;
    bp_tool_gen_opts_default(&o);
    o.arch = "resnet18-cifar";
    o.prune = BP_TOOL_PRUNE_NONE;
    o.calib = 1;
    o.seed = test_seed;
    void *buf = NULL;
    size_t size = 0;
    char err[256];
    int rc = bp_tool_gen_memory(&o, &buf, &size, err, sizeof err);
    if (rc)
        print_error("gen: %s\n", err);
    assert_int_equal(rc, 0);
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    const bp_model_info *mi;
    assert_int_equal(bp_model_info_get(m, &mi), BP_OK);
    assert_true((double)mi->macs == macs);
    assert_int_equal(mi->n_layers, 21);

    bp_session_opts so;
    bp_session_opts_init(&so);
    so.backend = "reference";
    bp_session *s = NULL;
    assert_int_equal(bp_session_create(m, &so, &s), BP_OK);
    float *x = malloc(3 * 32 * 32 * sizeof *x);
    assert_non_null(x);
    bp_tool_rng r;
    bp_tool_rng_seed(&r, test_seed, 3);
    for (int i = 0; i < 3 * 32 * 32; i++)
        x[i] = (float)bp_tool_rng_normal(&r);
    const float *ins[1] = {x};
    bp_layer_counts *c = calloc(mi->n_layers, sizeof *c);
    assert_non_null(c);
    assert_int_equal(bp_session_count_ops(s, ins, c), BP_OK);
    bp_bench_ops tot[BP_BENCH_SCHEMES];
    memset(tot, 0, sizeof tot);
    for (uint32_t li = 0; li < mi->n_layers; li++) {
        bp_bench_ops lo[BP_BENCH_SCHEMES];
        bp_bench_layer_ops(&c[li], mi->layers[li].K, 8, 8, lo);
        for (int k = 0; k < BP_BENCH_SCHEMES; k++) {
            tot[k].mults += lo[k].mults;
            tot[k].adds += lo[k].adds;
            tot[k].shifts += lo[k].shifts;
        }
    }
    assert_true(tot[BP_BENCH_DENSE].mults == macs);
    assert_true(tot[BP_BENCH_DENSE].adds == adds);
    /* Table 1 per-op numbers, restated here: E = mults*E_mult + adds*E_add */
    static const double Em[4] = {0.2, 3.1, 0.2, 19.6}, Ea[4] = {0.03, 0.1, 0.1, 0.1};
    for (int e = 0; e < 4; e++) {
        double want = macs * Em[e] + adds * Ea[e];
        double got = bp_bench_energy_pj(&tot[BP_BENCH_DENSE], &bp_bench_emodel[e]);
        assert_true(fabs(got - want) <= 1e-9 * want);
    }
    /* The paper's 1721 uJ (32-bit) is mults-only at 3.1 pJ on this MAC count. */
    assert_true(fabs(macs * 3.1e-6 - 1721) / 1721 < 0.01);
    /* A dense model still has a few weights that round to zero. */
    assert_true(tot[BP_BENCH_SPARSE_W].mults <= macs && tot[BP_BENCH_SPARSE_W].mults > 0.95 * macs);
    free(c);
    free(x);
    bp_session_free(s);
    bp_model_free(m);
    free(buf);
}

/* ---- .npy header parser ---- */
static int test_npy(const char *hdr, uint64_t *shape, uint32_t *nd, char *err)
{
    unsigned char b[256];
    size_t hl = strlen(hdr);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hl & 255);
    b[9] = (unsigned char)(hl >> 8);
    memcpy(b + 10, hdr, hl);
    size_t off;
    return bp_bench_npy_header(b, 10 + hl, shape, nd, 8, &off, err, 200);
}

static void test_npy_header(void **state)
{
    (void)state;
    uint64_t sh[8];
    uint32_t nd = 0;
    char err[200];
    assert_int_equal(test_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 16, 16), }",
                              sh, &nd, err), 0);
    assert_int_equal(nd, 4);
    assert_true(sh[0] == 1 && sh[1] == 3 && sh[2] == 16 && sh[3] == 16);
    assert_int_equal(test_npy("{\"shape\":(7,),\"fortran_order\":False,\"descr\":\"<f4\"}", sh,
                              &nd, err), 0);
    assert_true(nd == 1 && sh[0] == 7);
    assert_int_equal(test_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", sh,
                              &nd, err), -1);
    assert_non_null(strstr(err, "<f8"));
    assert_int_equal(test_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", sh,
                              &nd, err), -1);
    assert_non_null(strstr(err, "Fortran"));
    assert_int_equal(test_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, x), }", sh,
                              &nd, err), -1);
    assert_int_equal(test_npy("{'descr': '<f4', 'fortran_order': False}", sh, &nd, err), -1);
    unsigned char bad[16] = "\x93NUMPY\x01\x00\xff\x7f";
    size_t off;
    assert_int_equal(bp_bench_npy_header(bad, 16, sh, &nd, 8, &off, err, 200), -1);
}

/* ---- generated models: the weight range and exactness on every backend ---- */

/* Default gen (bit-pruned): every layer declares w_max 127, every weight is
 * in [-127, 127], the metadata says so, and every integer backend that
 * exists here (onednn-int8 included) reports itself exact and gives the
 * reference's output bit for bit. */
static void test_gen_default_range_exact(void **state)
{
    (void)state;
    bp_tool_gen_opts o;
    bp_tool_gen_opts_default(&o);
    o.arch = "resnet18-cifar";
    o.arch_opts.h = o.arch_opts.w = 16;
    o.prune = BP_TOOL_PRUNE_BIT;
    o.lambda = 1.0;
    o.sparsity = 0.5;
    o.calib = 1;
    o.seed = test_seed;
    void *buf = NULL;
    size_t size = 0;
    char err[256];
    int rc = bp_tool_gen_memory(&o, &buf, &size, err, sizeof err);
    if (rc)
        print_error("gen: %s\n", err);
    assert_int_equal(rc, 0);
    bpf_model *fm = NULL;
    assert_int_equal(bpf_load_memory(buf, size, 0, &fm), BPF_OK);
    const char *init = bpf_meta_get(fm, "weights.init");
    const char *prox = bpf_meta_get(fm, "weights.prox");
    assert_non_null(init);
    assert_non_null(prox);
    assert_non_null(strstr(init, "[-127,127]"));
    assert_non_null(strstr(prox, "[-127,127]"));
    int wmax_seen = 0;
    for (uint32_t li = 0; li < fm->n_layers; li++) {
        const bpf_layer *l = &fm->layers[li];
        assert_int_equal(l->w_max, 127);
        size_t n = (size_t)l->c_out * l->K;
        int16_t *w = malloc(n * sizeof *w);
        assert_non_null(w);
        bp_planes p = {l->c_out, l->K, l->M, l->idx_bytes, l->row_ptr, l->col_idx, NULL};
        bp_planes_to_dense(&p, w);
        for (size_t i = 0; i < n; i++) {
            int a = abs(w[i]);
            assert_true(a <= 127);
            wmax_seen = a > wmax_seen ? a : wmax_seen;
        }
        free(w);
    }
    /* at lambda 1 the largest proximal target within [-127, 127] is 96 */
    assert_int_equal(wmax_seen, 96);
    bpf_model_free(fm);

    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    enum { N = 3 * 16 * 16, NO = 10 };
    float x[N], yref[NO], y[NO];
    bp_tool_rng r;
    bp_tool_rng_seed(&r, test_seed, 5);
    for (int i = 0; i < N; i++)
        x[i] = (float)bp_tool_rng_normal(&r);
    const float *ins[1] = {x};
    static const char *const backends[] = {"reference", "bitplane", "csr", "onednn-int8"};
    for (int b = 0; b < 4; b++) {
        bp_session_opts so;
        bp_session_opts_init(&so);
        so.backend = backends[b];
        so.threads = 1;
        bp_session *s = NULL;
        bp_status st = bp_session_create(m, &so, &s);
        if (st == BP_ERR_UNSUPPORTED && b) {
            printf("# %s: not available here (%s)\n", backends[b], bp_last_error());
            continue;
        }
        assert_int_equal(st, BP_OK);
        bp_session_info si;
        assert_int_equal(bp_session_info_get(s, &si), BP_OK);
        if (!si.exact)
            fail_msg("%s reports itself inexact: %s", backends[b], si.inexact_reason);
        float *outs[1] = {b ? y : yref};
        assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
        if (b)
            assert_memory_equal(y, yref, sizeof y);
        bp_session_free(s);
    }
    bp_model_free(m);
    free(buf);
}

/* ---- atomic file output (formats: bpf_replace_file) ---- */

static void test_tmpdir(char *dir, size_t n)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, n, "%s/bptool_test_XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(dir));
}

/* Entries of dir other than . and .. */
static int test_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Removes the entries of dir (not recursive) and dir. */
static void test_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    closedir(d);
    rmdir(dir);
}

static void test_put(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Asserts that path holds exactly b[0..n). */
static void test_same(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *g = malloc(n + 1);
    assert_non_null(g);
    size_t got = fread(g, 1, n + 1, f);
    fclose(f);
    assert_int_equal(got, n);
    assert_memory_equal(g, b, n);
    free(g);
}

static void test_replace_file(void **state)
{
    (void)state;
    char d[256], p[300], l[300];
    test_tmpdir(d, sizeof d);
    snprintf(p, sizeof p, "%s/m.bin", d);
    mode_t old_umask = umask(027);
    assert_int_equal(bpf_check_output(p), BPF_OK);
    assert_int_equal(bpf_replace_file(p, "hello", 5), BPF_OK);
    umask(old_umask);
    test_same(p, "hello", 5);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0640); /* 0666 & ~umask, like a plain create */
    assert_int_equal(chmod(p, 0604), 0);
    assert_int_equal(bpf_replace_file(p, "world!!", 7), BPF_OK);
    test_same(p, "world!!", 7);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0604); /* the replaced file's mode */
    assert_int_equal(test_entries(d), 1);      /* no temporary file left */
    /* through a symbolic link: the target is replaced, the link stays */
    snprintf(l, sizeof l, "%s/link", d);
    assert_int_equal(symlink("m.bin", l), 0);
    assert_int_equal(bpf_replace_file(l, "via link", 8), BPF_OK);
    assert_int_equal(lstat(l, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
    test_same(p, "via link", 8);
    assert_int_equal(test_entries(d), 2);
    /* an empty file is a file */
    assert_int_equal(bpf_replace_file(p, NULL, 0), BPF_OK);
    test_same(p, "", 0);
    test_rmtree(d);
}

static void test_expect_refused(const char *path, const char *kind)
{
    assert_int_equal(bpf_check_output(path), BPF_ERR_IO);
    assert_int_equal(bpf_replace_file(path, "data", 4), BPF_ERR_IO);
    if (!strstr(bpf_last_error(), kind))
        fail_msg("%s: message '%s' lacks '%s'", path, bpf_last_error(), kind);
}

static void test_replace_refuses_special(void **state)
{
    (void)state;
    char d[256], p[300];
    test_tmpdir(d, sizeof d);
    struct stat before, after;
    /* a device: refused, and still the same device afterwards */
    if (stat("/dev/null", &before) == 0 && S_ISCHR(before.st_mode)) {
        test_expect_refused("/dev/null", "character device");
        assert_int_equal(stat("/dev/null", &after), 0);
        assert_true(S_ISCHR(after.st_mode) && after.st_rdev == before.st_rdev);
        snprintf(p, sizeof p, "%s/to-null", d); /* a link to it: the same */
        assert_int_equal(symlink("/dev/null", p), 0);
        test_expect_refused(p, "character device");
        assert_int_equal(lstat(p, &after), 0);
        assert_true(S_ISLNK(after.st_mode));
        assert_int_equal(unlink(p), 0);
    }
    /* a FIFO: refused without opening it (no reader needed, no hang) */
    snprintf(p, sizeof p, "%s/fifo", d);
    assert_int_equal(mkfifo(p, 0644), 0);
    test_expect_refused(p, "FIFO");
    assert_int_equal(lstat(p, &after), 0);
    assert_true(S_ISFIFO(after.st_mode));
    /* a directory */
    snprintf(p, sizeof p, "%s/sub", d);
    assert_int_equal(mkdir(p, 0755), 0);
    test_expect_refused(p, "directory");
    assert_int_equal(lstat(p, &after), 0);
    assert_true(S_ISDIR(after.st_mode));
    /* a dangling symbolic link */
    snprintf(p, sizeof p, "%s/dangling", d);
    assert_int_equal(symlink("nowhere/x", p), 0);
    assert_int_equal(bpf_replace_file(p, "data", 4), BPF_ERR_IO);
    assert_int_equal(test_entries(d), 3); /* fifo, sub, dangling: nothing added */
    test_rmtree(d);
}

/* Disk full (here the file size limit, EFBIG): the old file is intact byte
 * for byte and no temporary file is left. */
static void test_replace_file_too_large(void **state)
{
    (void)state;
    char d[256], p[300];
    test_tmpdir(d, sizeof d);
    snprintf(p, sizeof p, "%s/m.bin", d);
    enum { OLD = 4000, NEW = 200000 };
    unsigned char *old = malloc(OLD), *nw = malloc(NEW);
    assert_non_null(old);
    assert_non_null(nw);
    bp_tool_rng r;
    bp_tool_rng_seed(&r, test_seed, 17);
    for (int i = 0; i < OLD; i++)
        old[i] = (unsigned char)bp_tool_rng_u64(&r);
    memset(nw, 0x5a, NEW);
    test_put(p, old, OLD);
    struct rlimit saved, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    lim = saved;
    lim.rlim_cur = 65536;
    void (*sig)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    bpf_status st = bpf_replace_file(p, nw, NEW);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, sig);
    assert_int_equal(st, BPF_ERR_IO);
    if (!strstr(bpf_last_error(), strerror(EFBIG)))
        fail_msg("message '%s' lacks '%s'", bpf_last_error(), strerror(EFBIG));
    test_same(p, old, OLD);
    assert_int_equal(test_entries(d), 1);
    free(old);
    free(nw);
    test_rmtree(d);
}

/* Turns the effective file-permission override capabilities of a
 * privileged process off (0) or back on (1), so a read-only directory is
 * read-only for it too. Does nothing for an unprivileged process. */
static void test_dac_override(int on)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct c[2];
    if (syscall(SYS_capget, &h, c) != 0)
        return;
    uint32_t bits = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH);
    c[0].effective = on ? c[0].effective | (bits & c[0].permitted) : c[0].effective & ~bits;
    (void)syscall(SYS_capset, &h, c);
}

static void test_replace_readonly_dir(void **state)
{
    (void)state;
    char d[256], ro[300], p[320], probe[320];
    test_tmpdir(d, sizeof d);
    snprintf(ro, sizeof ro, "%s/ro", d);
    snprintf(p, sizeof p, "%s/m.bin", ro);
    snprintf(probe, sizeof probe, "%s/probe", ro);
    assert_int_equal(mkdir(ro, 0755), 0);
    test_put(p, "old", 3);
    assert_int_equal(chmod(ro, 0555), 0);
    test_dac_override(0);
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    bpf_status st = fd < 0 ? bpf_replace_file(p, "new", 3) : BPF_OK;
    test_dac_override(1);
    if (fd >= 0) { /* permissions do not apply to this process */
        close(fd);
        chmod(ro, 0755);
        test_rmtree(ro);
        test_rmtree(d);
        skip();
    }
    assert_int_equal(st, BPF_ERR_IO);
    if (!strstr(bpf_last_error(), strerror(EACCES)))
        fail_msg("message '%s' lacks '%s'", bpf_last_error(), strerror(EACCES));
    test_same(p, "old", 3);
    assert_int_equal(test_entries(ro), 1);
    assert_int_equal(chmod(ro, 0755), 0);
    test_rmtree(ro);
    test_rmtree(d);
}

/* ---- bpbench input files: regular files of exactly the needed size ---- */

/* A .npy file of a (1,3,4,4) '<f4' array with `extra` trailing bytes;
 * returns the header size. */
static size_t test_put_npy(const char *path, const float *v, size_t extra)
{
    char hdr[128];
    int hl = snprintf(hdr, sizeof hdr,
                      "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 4, 4), }");
    while ((10 + hl + 1) % 64)
        hdr[hl++] = ' ';
    hdr[hl++] = '\n';
    unsigned char b[128 + 48 * 4 + 8];
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)hl;
    b[9] = 0;
    memcpy(b + 10, hdr, (size_t)hl);
    memcpy(b + 10 + hl, v, 48 * 4);
    memset(b + 10 + hl + 48 * 4, 0, extra);
    test_put(path, b, 10 + (size_t)hl + 48 * 4 + extra);
    return 10 + (size_t)hl;
}

static void test_input_rules(void **state)
{
    (void)state;
    static const uint32_t dims[4] = {1, 3, 4, 4}; /* 48 floats, 192 bytes */
    float v[48], dst[96];
    for (int i = 0; i < 48; i++)
        v[i] = (float)i - 7.5f;
    char d[256], p[300], err[256];
    test_tmpdir(d, sizeof d);
    /* not regular: refused before any read (a FIFO without a writer would block) */
    snprintf(p, sizeof p, "%s/fifo", d);
    assert_int_equal(mkfifo(p, 0644), 0);
    assert_int_equal(bp_bench_read_input(p, dims, 4, 1, dst, err, sizeof err), -1);
    assert_non_null(strstr(err, "FIFO"));
    unlink(p);
    assert_int_equal(bp_bench_read_input("/dev/zero", dims, 4, 1, dst, err, sizeof err), -1);
    assert_non_null(strstr(err, "regular file"));
    assert_int_equal(bp_bench_read_input(d, dims, 4, 1, dst, err, sizeof err), -1);
    assert_non_null(strstr(err, "directory"));
    /* raw: exactly one image or the batch */
    snprintf(p, sizeof p, "%s/in.raw", d);
    test_put(p, v, sizeof v);
    assert_int_equal(bp_bench_read_input(p, dims, 4, 2, dst, err, sizeof err), 0);
    assert_memory_equal(dst, v, sizeof v);
    assert_memory_equal(dst + 48, v, sizeof v); /* one image fills every slot */
    unsigned char big[193] = {0};
    test_put(p, big, sizeof big);
    assert_int_equal(bp_bench_read_input(p, dims, 4, 1, dst, err, sizeof err), -1);
    if (!strstr(err, "193") || !strstr(err, "192"))
        fail_msg("message '%s' does not name the actual (193) and expected (192) sizes", err);
    test_put(p, big, 191);
    assert_int_equal(bp_bench_read_input(p, dims, 4, 1, dst, err, sizeof err), -1);
    assert_true(strstr(err, "191") && strstr(err, "192"));
    /* .npy: header + exactly the data its shape needs */
    snprintf(p, sizeof p, "%s/in.npy", d);
    test_put_npy(p, v, 0);
    memset(dst, 0, sizeof dst);
    assert_int_equal(bp_bench_read_input(p, dims, 4, 1, dst, err, sizeof err), 0);
    assert_memory_equal(dst, v, sizeof v);
    size_t h = test_put_npy(p, v, 4);
    assert_int_equal(bp_bench_read_input(p, dims, 4, 1, dst, err, sizeof err), -1);
    char want[32], got[32];
    snprintf(want, sizeof want, "%zu", h + 192);
    snprintf(got, sizeof got, "%zu", h + 196);
    if (!strstr(err, got) || !strstr(err, want))
        fail_msg("message '%s' does not name the actual (%s) and expected (%s) sizes", err, got,
                 want);
    test_rmtree(d);
}

/* ---- bptool commands on edge-case files ---- */

/* Runs fn(argc, argv) with stdout and stderr captured into out/err
 * (NUL-terminated, truncated to n - 1). Returns fn's exit code. */
static int test_run(int (*fn)(int, char **), char **argv, char *out, char *err, size_t n)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char d[256], po[300], pe[300];
    test_tmpdir(d, sizeof d);
    snprintf(po, sizeof po, "%s/out", d);
    snprintf(pe, sizeof pe, "%s/err", d);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(so >= 0 && se >= 0 && fo >= 0 && fe >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fo);
    close(fe);
    const char *paths[2] = {po, pe};
    char *bufs[2] = {out, err};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(paths[i], "rb");
        assert_non_null(f);
        size_t got = fread(bufs[i], 1, n - 1, f);
        bufs[i][got] = 0;
        fclose(f);
    }
    test_rmtree(d);
    return rc;
}

/* input (4) -> flatten -> fc (2) -> relu -> output, every tensor f32 */
static void test_tiny_model(bp_tool_graph *g, uint32_t *relu_out)
{
    bp_tool_graph_init(g);
    uint32_t x = bp_tool_input(g, "input", 4, 1, 1);
    x = bp_tool_flatten(g, "flatten", x);
    x = bp_tool_linear(g, "fc", x, 2);
    x = bp_tool_relu(g, "relu", x);
    bp_tool_set_output(g, x);
    assert_false(g->failed);
    *relu_out = x;
    static const int16_t wv[8] = {3, 0, -127, 5, 1, 2, 3, 4};
    memcpy(g->lsrc[0].w, wv, sizeof wv);
    for (int j = 0; j < 2; j++) {
        g->lsrc[0].w_scale[j] = 0.5f;
        g->lsrc[0].bias[j] = 0.25f;
    }
    g->layers[0].w_max = 127;
    assert_int_equal(bp_tool_project_layer(&g->lsrc[0], &g->layers[0], BP_TOOL_PRUNE_NONE, 0,
                                           0, BP_ENC_BINARY, NULL),
                     0);
    g->layers[0].act_dtype = BPF_DT_S8;
    g->layers[0].act_scale = 0.1f;
}

static void test_save_graph(bp_tool_graph *g, const char *path)
{
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bp_tool_graph_write(g, 0, NULL, &buf, &size), BP_OK);
    assert_int_equal(bpf_replace_file(path, buf, size), BPF_OK);
    free(buf);
}

/* A valid model the engine refuses at batch 2: softmax over a rank-1
 * activation, whose only axis is the batch (images would mix). */
static void test_save_rank1_softmax(const char *path)
{
    bpt_builder *b = bpt_new(1, (bpt_wspec){1.0, 0, 0});
    assert_non_null(b);
    const uint32_t dims[1] = {1};
    bpt_output(b, bpt_softmax(b, bpt_input(b, "x", 1, dims)));
    void *buf;
    size_t size;
    assert_int_equal(bpt_write(b, &buf, &size), 0);
    test_put(path, buf, size);
    free(buf);
    bpt_free(b);
}

/* verify: 0 for a file the engine runs, 1 for an invalid file, 3 (and the
 * documented message) for a valid file the engine refuses. */
static void test_verify_exit_codes(void **state)
{
    (void)state;
    static char out[8192], err[8192];
    char d[256], ok[300], r1[300], bad[300];
    test_tmpdir(d, sizeof d);
    snprintf(ok, sizeof ok, "%s/ok.bp", d);
    snprintf(r1, sizeof r1, "%s/softmax_rank1.bp", d);
    snprintf(bad, sizeof bad, "%s/trunc.bp", d);
    bp_tool_graph g;
    uint32_t relu_out;
    test_tiny_model(&g, &relu_out);
    test_save_graph(&g, ok);
    bp_tool_graph_free(&g);
    test_save_rank1_softmax(r1);
    test_put(bad, "\x89" "BPF", 4);

    char *a_ok[] = {"verify", ok, NULL}, *a_r1[] = {"verify", r1, NULL},
         *a_bad[] = {"verify", bad, NULL};
    int rc = test_run(bp_tool_cmd_verify, a_ok, out, err, sizeof out);
    if (rc)
        fail_msg("verify ok.bp: exit %d: %s", rc, err);
    assert_non_null(strstr(out, "OK "));
    assert_int_equal(test_run(bp_tool_cmd_verify, a_bad, out, err, sizeof out), 1);
    assert_non_null(strstr(err, "BP_ERR_TRUNCATED"));
    rc = test_run(bp_tool_cmd_verify, a_r1, out, err, sizeof out);
    assert_int_equal(rc, 3);
    if (!strstr(err, "valid .bp file, but the engine cannot run it: ") || !strstr(err, "softmax"))
        fail_msg("verify softmax_rank1.bp: message '%s'", err);
    assert_string_equal(out, "");
    test_rmtree(d);
}

#ifndef BP_TOOL_TEST_DATA
#error "BP_TOOL_TEST_DATA (the tests/tools/data directory) must be defined"
#endif

/* A valid model whose only layer is all zero (w_max 0): prune keeps it valid
 * (at least one digit position), info prints no NaN. */
static void test_all_zero_layer(void **state)
{
    (void)state;
    static char out[16384], err[8192];
    const char *in = BP_TOOL_TEST_DATA "/prune_wmax0.bp";
    bpf_model *m = NULL;
    assert_int_equal(bpf_load_file(in, 0, &m), BPF_OK);
    assert_int_equal(m->n_layers, 1);
    assert_int_equal(m->layers[0].w_max, 0);
    assert_int_equal(m->layers[0].n_digits, 0);
    bpf_model_free(m);

    char *a_info[] = {"info", (char *)in, "--color", "never", NULL};
    int rc = test_run(bp_tool_cmd_info, a_info, out, err, sizeof out);
    if (rc)
        fail_msg("info: exit %d: %s", rc, err);
    for (char *q = out; *q; q++)
        *q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
    if (strstr(out, "nan") || strstr(out, "inf"))
        fail_msg("info prints a NaN or infinity:\n%s", out);

    char d[256], o[300];
    test_tmpdir(d, sizeof d);
    snprintf(o, sizeof o, "%s/pruned.bp", d);
    static const char *const modes[2][6] = {
        {"prune", NULL, "-q", "-o", NULL, NULL},
        {"prune", NULL, "-q", "--prune", "weight", "--sparsity"}};
    for (int k = 0; k < 2; k++) {
        char *a[10];
        int n = 0;
        for (int i = 0; i < 6 && (i < 2 || modes[k][i] || i == 4); i++)
            a[n++] = (char *)(i == 1 ? in : modes[k][i]);
        if (k == 0) {
            a[4] = o;
            n = 5;
        } else {
            a[n++] = "0.5";
            a[n++] = "-o";
            a[n++] = o;
        }
        a[n] = NULL;
        rc = test_run(bp_tool_cmd_prune, a, out, err, sizeof out);
        if (rc)
            fail_msg("prune (%s): exit %d: %s", k ? "weight" : "bit", rc, err);
        assert_int_equal(bpf_load_file(o, 0, &m), BPF_OK);
        assert_true(m->layers[0].M >= 1);
        assert_int_equal(m->layers[0].n_digits, 0);
        bpf_model_free(m);
        char *a_v[] = {"verify", o, NULL};
        assert_int_equal(test_run(bp_tool_cmd_verify, a_v, out, err, sizeof out), 0);
    }
    test_rmtree(d);
}

int main(void)
{
    const char *e = getenv("BP_TEST_SEED");
    test_seed = e ? strtoull(e, NULL, 0) : 20261127u;
    printf("# test_tools seed %llu (override with BP_TEST_SEED)\n", (unsigned long long)test_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prox_is_argmin),
        cmocka_unit_test(test_prox_design_targets),
        cmocka_unit_test(test_cost_csd_matches_kernels),
        cmocka_unit_test(test_quantize_rows),
        cmocka_unit_test(test_prune_magnitude),
        cmocka_unit_test(test_table2_formulas),
        cmocka_unit_test(test_engine_counts_hand),
        cmocka_unit_test(test_energy_resnet18_cifar),
        cmocka_unit_test(test_npy_header),
        cmocka_unit_test(test_gen_default_range_exact),
        cmocka_unit_test(test_replace_file),
        cmocka_unit_test(test_replace_refuses_special),
        cmocka_unit_test(test_replace_file_too_large),
        cmocka_unit_test(test_replace_readonly_dir),
        cmocka_unit_test(test_input_rules),
        cmocka_unit_test(test_verify_exit_codes),
        cmocka_unit_test(test_all_zero_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
