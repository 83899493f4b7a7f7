/* bpmicro: kernel microbenchmarks on real layer shapes (bench/shapes) with
 * synthetic Bit-Pruning weights; bitplane vs csr on the same weights, each
 * bitplane case also as % of the ceiling probe measured in this process. */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpmicro_build.h"
#include "gbench_shim.h"
#include "kernel_list.h"
#include "planes_aux.h"
#include "planes_flat.h"

#ifndef BPM_SHAPES_DIR
#define BPM_SHAPES_DIR "bench/shapes"
#endif

/* ------------------------------------------------------------ shapes */

typedef struct bpm_layer {
    char net[32];
    char name[32];
    uint32_t K, Co, P, groups; /* K per group; Co total */
} bpm_layer;

static bpm_layer *bpm_layers;
static size_t bpm_nlayers;

static int bpm_load_shapes(const char *dir, const char *net)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.txt", dir, net);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bpmicro: cannot open %s (set --shapes=DIR)\n", path);
        return -1;
    }
    char line[256];
    int ln = 0;
    while (fgets(line, sizeof(line), f)) {
        ln++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#' || *s == '\n' || *s == 0)
            continue;
        bpm_layer L;
        memset(&L, 0, sizeof(L));
        snprintf(L.net, sizeof(L.net), "%s", net);
        if (sscanf(s, "%31s %u %u %u %u", L.name, &L.K, &L.Co, &L.P, &L.groups) != 5 || L.K == 0 ||
            L.K > BP_K_MAX || L.Co == 0 || L.P == 0 || L.groups == 0 || L.Co % L.groups) {
            fprintf(stderr, "bpmicro: %s:%d: expected 'name K C_o P groups' (K <= %u, groups | C_o)\n",
                    path, ln, BP_K_MAX);
            fclose(f);
            return -1;
        }
        bpm_layer *nl = realloc(bpm_layers, (bpm_nlayers + 1) * sizeof(*nl));
        if (!nl) {
            fclose(f);
            return -1;
        }
        bpm_layers = nl;
        bpm_layers[bpm_nlayers++] = L;
    }
    fclose(f);
    return 0;
}

/* --------------------------------------------------- synthetic weights */

static uint64_t bpm_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static double bpm_uniform(uint64_t *s)
{
    *s = bpm_mix(*s);
    return ((double)(*s >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double bpm_normal(uint64_t *s)
{
    const double u = bpm_uniform(s), v = bpm_uniform(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* The paper's proximal map (eq. 8) at lambda = 1 on |q| in [0, 128],
 * tabulated on a 1/64 grid: argmin over integers w in [0, 128] of
 * |sqrt(w) - sqrt(|q|)| + lambda * popcount(w) (ties to the smaller w). */
#define BPM_PROX_RES 64
static int16_t bpm_prox[128 * BPM_PROX_RES + 1];

static void bpm_prox_init(double lambda)
{
    for (int i = 0; i <= 128 * BPM_PROX_RES; i++) {
        const double sq = sqrt((double)i / BPM_PROX_RES);
        double best = 1e30;
        int bw = 0;
        for (int w = 0; w <= 128; w++) {
            const double c = fabs(sqrt((double)w) - sq) + lambda * __builtin_popcount((unsigned)w);
            if (c < best) {
                best = c;
                bw = w;
            }
        }
        bpm_prox[i] = (int16_t)bw;
    }
}

static int bpm_cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Kaiming-normal weights (std sqrt(2/K)), magnitude-pruned to sp percent
 * over the layer, quantized per row at absmax/128 and mapped by the
 * proximal map: the statistics of a Bit-Pruning layer at lambda = 1. */
static void bpm_make_weights(const bpm_layer *L, int sp, int16_t *w)
{
    const size_t n = (size_t)L->Co * L->K;
    uint64_t seed = 1469598103934665603ull;
    for (const char *c = L->net; *c; c++)
        seed = (seed ^ (uint8_t)*c) * 1099511628211ull;
    for (const char *c = L->name; *c; c++)
        seed = (seed ^ (uint8_t)*c) * 1099511628211ull;
    seed ^= (uint64_t)sp * 0x100000001b3ull;
    float *f = malloc(n * sizeof(float));
    float *a = malloc(n * sizeof(float));
    if (!f || !a) {
        fprintf(stderr, "bpmicro: out of memory\n");
        exit(1);
    }
    const double sd = sqrt(2.0 / L->K);
    for (size_t i = 0; i < n; i++) {
        f[i] = (float)(sd * bpm_normal(&seed));
        a[i] = fabsf(f[i]);
    }
    float thr = -1.0f;
    if (sp > 0) {
        qsort(a, n, sizeof(float), bpm_cmp_float);
        const size_t cut = (size_t)((double)n * sp / 100.0);
        thr = cut > 0 ? a[cut - 1] : -1.0f;
    }
    for (size_t i = 0; i < n; i++)
        if (fabsf(f[i]) <= thr)
            f[i] = 0.0f;
    for (uint32_t j = 0; j < L->Co; j++) {
        float amax = 0.0f;
        for (uint32_t k = 0; k < L->K; k++)
            amax = fmaxf(amax, fabsf(f[(size_t)j * L->K + k]));
        for (uint32_t k = 0; k < L->K; k++) {
            const float v = f[(size_t)j * L->K + k];
            int16_t q = 0;
            if (amax > 0.0f && v != 0.0f) {
                const double m = fabs(v) / amax * 128.0;
                long g = lround(m * BPM_PROX_RES);
                if (g > 128 * BPM_PROX_RES)
                    g = 128 * BPM_PROX_RES;
                q = bpm_prox[g];
                if (v < 0)
                    q = (int16_t)-q;
            }
            w[(size_t)j * L->K + k] = q;
        }
    }
    free(f);
    free(a);
}

/* ------------------------------------------------------------- cases */

static const int bpm_sparsities[] = {0, 50, 70, 90, 95};
#define BPM_NSP (sizeof(bpm_sparsities) / sizeof(bpm_sparsities[0]))

typedef struct bpm_case {
    const bpm_layer *L;
    int sp;
    bp_encoding enc;
    int built;
    bp_planes_buf planes;
    bp_csr_buf csr;
    void *paux, *caux;
    uint8_t *x;  /* groups x K x P */
    int32_t *y;  /* Co x P */
    uint64_t ndigits, nnz; /* kept after the buffers are freed */
    void *faux[4];         /* flat digit streams per bpk_flat_mode (1..3) */
    bp_planes fplanes[4];  /* planes with faux[mode] as aux */
    uint64_t nsteps, ngroups; /* plan steps, merge groups (all rows) */
} bpm_case;

static void *bpm_aligned(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (!p) {
        fprintf(stderr, "bpmicro: out of memory\n");
        exit(1);
    }
    return p;
}

static void bpm_case_free(bpm_case *c)
{
    if (!c->built)
        return;
    bp_planes_buf_free(&c->planes);
    bp_csr_buf_free(&c->csr);
    free(c->paux);
    free(c->caux);
    for (int m = 0; m < 4; m++)
        free(c->faux[m]);
    memset(c->faux, 0, sizeof(c->faux));
    free(c->x);
    free(c->y);
    c->built = 0;
}

/* Benchmarks of one case run back to back: keep only one case's buffers. */
static bpm_case *bpm_current;

static void bpm_case_build(bpm_case *c)
{
    if (c->built)
        return;
    if (bpm_current)
        bpm_case_free(bpm_current);
    bpm_current = c;
    const bpm_layer *L = c->L;
    int16_t *w = malloc((size_t)L->Co * L->K * sizeof(int16_t));
    if (!w) {
        fprintf(stderr, "bpmicro: out of memory\n");
        exit(1);
    }
    bpm_make_weights(L, c->sp, w);
    const uint32_t M = bp_digits_positions(128, c->enc);
    if (bp_planes_from_dense(w, L->Co, L->K, c->enc, M, &c->planes) ||
        bp_csr_from_dense(w, L->Co, L->K, &c->csr)) {
        fprintf(stderr, "bpmicro: cannot build planes/csr for %s/%s\n", L->net, L->name);
        exit(1);
    }
    free(w);
    c->ndigits = c->planes.ndigits;
    c->nnz = c->csr.nnz;
    c->paux = bpm_aligned(bp_planes_aux_size(&c->planes.p));
    bp_planes_aux_build(&c->planes.p, c->paux);
    c->nsteps = ((const bpk_planes_aux *)c->paux)->nsteps;
    for (int m = BPK_FLAT_MUL; m <= BPK_FLAT_MADD; m++) {
        c->fplanes[m] = c->planes.p;
        c->faux[m] = bpm_aligned(bpk_planes_flat_size(&c->planes.p, (bpk_flat_mode)m));
        c->fplanes[m].aux = bpk_planes_flat_build(&c->planes.p, (bpk_flat_mode)m, c->faux[m]);
        if (!c->fplanes[m].aux) {
            fprintf(stderr, "bpmicro: cannot build flat streams for %s/%s\n", L->net, L->name);
            exit(1);
        }
        c->ngroups = ((const bpk_planes_flat *)c->fplanes[m].aux)->ngroups;
    }
    c->caux = bpm_aligned(bp_csr_aux_size(&c->csr.c));
    bp_csr_aux_build(&c->csr.c, c->caux);
    const size_t nx = (size_t)L->groups * L->K * L->P;
    c->x = bpm_aligned(nx);
    uint64_t s = 12345;
    for (size_t i = 0; i < nx; i++) {
        s = bpm_mix(s);
        c->x[i] = (uint8_t)s;
    }
    c->y = bpm_aligned((size_t)L->Co * L->P * sizeof(int32_t));
    c->built = 1;
}

/* ----------------------------------------------------- kernels, probes */

/* Flat-stream kernels: kind BPM_FLAT0 + their bpk_flat_mode (1..3). */
enum { BPM_BITPLANE, BPM_GATHER, BPM_CSR, BPM_FLAT0 };

typedef struct bpm_kernel {
    const char *at;
    const char *name;
    int kind;
    bp_isa isa;
    bp_bitplane_u8_fn bp;
    bp_csr_u8_fn csr;
    const char *full; /* gather: the full kernel's name */
} bpm_kernel;

static const bpm_kernel bpm_kernels[] = {
#define BPM_BP(at, fn, isa) {#at, #fn, BPM_BITPLANE, isa, (bp_bitplane_u8_fn)fn, NULL, NULL},
#define BPM_CSR(at, fn, isa) {#at, #fn, BPM_CSR, isa, NULL, (bp_csr_u8_fn)fn, NULL},
    BP_BITPLANE_KERNELS(BPM_BP)
    BP_CSR_KERNELS(BPM_CSR)
#ifdef BP_BITPLANE_GATHER_X86
#define BPM_GA(at, fn, isa, full) {#at, #fn, BPM_GATHER, isa, (bp_bitplane_u8_fn)fn, NULL, #full},
    BP_BITPLANE_GATHER_X86(BPM_GA)
#endif
#ifdef BP_BITPLANE_FLAT_X86
#define BPM_FL(at, fn, isa, mode) {#at, #fn, BPM_FLAT0 + mode, isa, (bp_bitplane_u8_fn)fn, NULL, NULL},
    BP_BITPLANE_FLAT_X86(BPM_FL)
#endif
};
#define BPM_NKERNELS (sizeof(bpm_kernels) / sizeof(bpm_kernels[0]))

static double bpm_probe[BP_ISA_COUNT]; /* pixel lane-adds/s per ISA */

typedef struct bpm_job {
    bpm_case *c;
    const bpm_kernel *k;
    int is_s8;
} bpm_job;

static void bpm_run_layer(const bpm_job *j)
{
    const bpm_case *c = j->c;
    const bpm_layer *L = c->L;
    const uint32_t rpg = L->Co / L->groups;
    for (uint32_t g = 0; g < L->groups; g++) {
        const uint8_t *x = c->x + (size_t)g * L->K * L->P;
        int32_t *y = c->y + (size_t)g * rpg * L->P;
        if (j->k->kind == BPM_CSR)
            j->k->csr(&c->csr.c, g * rpg, rpg, x, L->P, L->P, y, L->P);
        else if (j->k->kind > BPM_FLAT0)
            j->k->bp(&c->fplanes[j->k->kind - BPM_FLAT0], g * rpg, rpg, x, L->P, L->P, y, L->P);
        else
            j->k->bp(&c->planes.p, g * rpg, rpg, x, L->P, L->P, y, L->P);
    }
}

static double bpm_cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double bpm_min_time = 0.05;
static double bpm_local_probe_s = 0.01;

static void bpm_bench_fn(bpm_state *st, void *ctx)
{
    bpm_job *j = ctx;
    bpm_case *c = j->c;
    bpm_case_build(c);
    const bpm_layer *L = c->L;
    const double t0 = bpm_cpu_now();
    while (bpm_keep_running(st))
        bpm_run_layer(j);
    /* The machine is shared: re-probe right after a full-length run, so the
     * % of ceiling compares two measurements taken under the same load. */
    double probe = bpm_probe[j->k->isa];
    if (j->k->kind != BPM_CSR && bpm_local_probe_s > 0 && bpm_cpu_now() - t0 >= 0.8 * bpm_min_time) {
        const double lp = bp_ceiling_probe(j->k->isa, bpm_local_probe_s);
        if (lp > 0)
            probe = lp;
    }
    const double dense = (double)L->Co * L->K * L->P;
    const double useful = (double)(j->k->kind == BPM_CSR ? c->nnz : c->ndigits) * L->P;
    const double it = (double)bpm_iterations(st);
    bpm_counter(st, "dig/w", (double)c->ndigits / ((double)L->Co * L->K), BPM_COUNTER_PLAIN);
    bpm_counter(st, "nnz/w", (double)c->nnz / ((double)L->Co * L->K), BPM_COUNTER_PLAIN);
    bpm_counter(st, "useful/s", useful * it, BPM_COUNTER_RATE);
    bpm_counter(st, "denseMAC/s", dense * it, BPM_COUNTER_RATE);
    if (j->k->kind != BPM_CSR && probe > 0.0)
        bpm_counter(st, "%ceil", 100.0 * useful * it / probe, BPM_COUNTER_RATE);
}


/* ------------------------------------------------ A/B of kernel variants */

#ifdef BP_BITPLANE_GATHER_X86
/* --ab=REGEX: the AVX-512 u8 bitplane kernel against two bench-only
 * variants on the cases "<net>/<layer>/sp<NN>/<enc>" the regex matches:
 * int16 activations (bpk_bitplane_i16_256x1_avx512, x widened before the
 * timing; the widening is timed on its own) and K blocking
 * (bpk_bitplane_u8_kblock_256x1_avx512, split table built before the
 * timing). Rounds interleave every variant (start rotated per round), each
 * re-warmed by one untimed call and timed for --min_time of thread CPU
 * time, with both probes re-measured in every round; medians over rounds. */
static int bpm_ab_rounds = 7;
static uint32_t bpm_ab_kb, bpm_ab_rb; /* 0: auto K block, all rows */

static volatile uint32_t bpm_probe_sink;

static double bpm_probe_i16(double seconds)
{
    enum { ROWS = 32 }; /* 32 rows x 256 int16 = 16 KiB: L1-resident */
    int16_t *buf = bpm_aligned(ROWS * 256 * sizeof(int16_t));
    for (size_t i = 0; i < ROWS * 256; i++)
        buf[i] = (int16_t)(i * 131u + 7u);
    uint32_t iters = 64;
    double best = 0.0;
    const double end = bpm_cpu_now() + seconds;
    do {
        const double t0 = bpm_cpu_now();
        bpm_probe_sink = bpk_probe_run_i16_avx512(buf, ROWS, iters);
        const double t = bpm_cpu_now() - t0;
        if (t < 1e-3 && iters < (1u << 28)) {
            iters *= 2;
            continue;
        }
        const double rate = (double)ROWS * 256.0 * iters / t;
        if (rate > best)
            best = rate;
    } while (bpm_cpu_now() < end || best == 0.0);
    free(buf);
    return best;
}

enum { AB_U8, AB_U8G, AB_I16, AB_I16G, AB_KB, AB_KBG, AB_WIDEN, AB_NV };
static const char *const bpm_ab_names[AB_NV] = {"u8", "u8 gather", "i16", "i16 gather",
                                                "kblock", "kblock gather", "widen"};

typedef struct bpm_ab_ctx {
    const bpm_case *c;
    const int16_t *x16;
    const bpk_kblock *kb;
} bpm_ab_ctx;

static void bpm_ab_call(const bpm_ab_ctx *a, int v, int16_t *x16w)
{
    const bpm_case *c = a->c;
    const bpm_layer *L = c->L;
    const uint32_t rpg = L->Co / L->groups;
    if (v == AB_WIDEN) {
        bpk_widen_u8_i16_avx512(c->x, (size_t)L->groups * L->K * L->P, x16w);
        return;
    }
    for (uint32_t g = 0; g < L->groups; g++) {
        const size_t xo = (size_t)g * L->K * L->P;
        int32_t *y = c->y + (size_t)g * rpg * L->P;
        const bp_planes *w = &c->planes.p;
        switch (v) {
        case AB_U8: bp_bitplane_u8_256x1_avx512(w, g * rpg, rpg, c->x + xo, L->P, L->P, y, L->P); break;
        case AB_U8G:
            bpk_bitplane_u8_gather_256x1_avx512(w, g * rpg, rpg, c->x + xo, L->P, L->P, y, L->P);
            break;
        case AB_I16:
            bpk_bitplane_i16_256x1_avx512(w, g * rpg, rpg, a->x16 + xo, L->P, L->P, y, L->P);
            break;
        case AB_I16G:
            bpk_bitplane_i16_gather_256x1_avx512(w, g * rpg, rpg, a->x16 + xo, L->P, L->P, y, L->P);
            break;
        case AB_KB:
            bpk_bitplane_u8_kblock_256x1_avx512(a->kb, w, g * rpg, rpg, c->x + xo, L->P, L->P, y,
                                                L->P);
            break;
        default:
            bpk_bitplane_u8_kblock_gather_256x1_avx512(a->kb, w, g * rpg, rpg, c->x + xo, L->P,
                                                       L->P, y, L->P);
            break;
        }
    }
}

static int bpm_cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double bpm_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), bpm_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void bpm_ab_case(bpm_case *c)
{
    bpm_case_build(c);
    const bpm_layer *L = c->L;
    const size_t nx = (size_t)L->groups * L->K * L->P, ny = (size_t)L->Co * L->P;
    int16_t *x16 = bpm_aligned(nx * sizeof(int16_t));
    int16_t *x16w = bpm_aligned(nx * sizeof(int16_t)); /* the timed widening's output */
    for (size_t i = 0; i < nx; i++)
        x16[i] = c->x[i];
    /* Auto K block: 32 KiB of the tile's activation lines (L1d is 32-48 KiB). */
    const uint32_t lines = (uint32_t)((L->P < 256 ? L->P : 256) + 63) / 64;
    const uint32_t kb = bpm_ab_kb ? bpm_ab_kb : 32768u / (64u * lines);
    bpk_kblock *kbl = bpk_kblock_new(&c->planes.p, kb, bpm_ab_rb);
    int32_t *want = bpm_aligned(ny * sizeof(int32_t));
    if (!kbl) {
        fprintf(stderr, "bpmicro: cannot build the K-block table\n");
        exit(1);
    }
    bpm_ab_ctx a = {c, x16, kbl};
    bpm_ab_call(&a, AB_U8, x16w);
    memcpy(want, c->y, ny * sizeof(int32_t));
    static const int checked[] = {AB_I16, AB_KB};
    for (int i = 0; i < 2; i++) {
        memset(c->y, 0xA5, ny * sizeof(int32_t));
        bpm_ab_call(&a, checked[i], x16w);
        if (memcmp(c->y, want, ny * sizeof(int32_t)) != 0) {
            fprintf(stderr, "bpmicro: %s/%s: %s differs from the u8 kernel\n", L->net, L->name,
                    bpm_ab_names[checked[i]]);
            exit(1);
        }
    }
    double t[AB_NV][64], pu8[64], pi16[64], r_i16[64], r_kb[64], r_i16w[64];
    const int nr = bpm_ab_rounds;
    for (int r = 0; r < nr; r++) {
        for (int k = 0; k < AB_NV; k++) {
            const int v = (k + r) % AB_NV;
            bpm_ab_call(&a, v, x16w); /* re-warm after the other variants */
            uint64_t n = 0;
            const double t0 = bpm_cpu_now();
            double el;
            do {
                bpm_ab_call(&a, v, x16w);
                n++;
                el = bpm_cpu_now() - t0;
            } while (el < bpm_min_time);
            t[v][r] = el / (double)n;
        }
        pu8[r] = bp_ceiling_probe(BP_ISA_AVX512, bpm_local_probe_s > 0 ? bpm_local_probe_s : 0.01);
        pi16[r] = bpm_probe_i16(bpm_local_probe_s > 0 ? bpm_local_probe_s : 0.01);
        r_i16[r] = t[AB_I16][r] / t[AB_U8][r];
        r_kb[r] = t[AB_KB][r] / t[AB_U8][r];
        r_i16w[r] = (t[AB_I16][r] + t[AB_WIDEN][r]) / t[AB_U8][r];
    }
    double med[AB_NV];
    for (int v = 0; v < AB_NV; v++)
        med[v] = bpm_median(t[v], nr);
    const double mp8 = bpm_median(pu8, nr), mp16 = bpm_median(pi16, nr);
    const double useful = (double)c->ndigits * L->P;
    /* 16 <= P < 32: u8 and K-block kernels both take the AVX2 16-pixel path */
    char kbs[32];
    if (L->P >= 16 && L->P < 32)
        snprintf(kbs, sizeof(kbs), "avx2, none");
    else
        snprintf(kbs, sizeof(kbs), "%u/%u", kbl->kb, kbl->nb);
    printf("| %s | %s | %u | %u | %u | %d | %.3f | %.1f | %.0f | %.0f | %.1f | %.0f | %.0f | "
           "%.2f | %.1f | %.2f | %s | %.1f | %.0f | %.2f | %.0f | %.0f |\n",
           L->net, L->name, L->K, L->Co, L->P, c->sp, (double)c->ndigits / ((double)L->Co * L->K),
           med[AB_U8] * 1e6, 100.0 * useful / med[AB_U8] / mp8,
           100.0 * useful / med[AB_U8G] / mp8, med[AB_I16] * 1e6,
           100.0 * useful / med[AB_I16] / mp16, 100.0 * useful / med[AB_I16G] / mp16,
           bpm_median(r_i16, nr), med[AB_WIDEN] * 1e6, bpm_median(r_i16w, nr), kbs,
           med[AB_KB] * 1e6, 100.0 * useful / med[AB_KBG] / mp8, bpm_median(r_kb, nr),
           mp8 * 1e-9, mp16 * 1e-9);
    fflush(stdout);
    bpk_kblock_free(kbl);
    free(x16);
    free(x16w);
    free(want);
}

static int bpm_ab_run(bpm_case *cases, size_t nc, const char *re_src)
{
    regex_t re;
    if (regcomp(&re, re_src, REG_EXTENDED | REG_NOSUB) != 0) {
        fprintf(stderr, "bpmicro: --ab: bad regex '%s'\n", re_src);
        return 2;
    }
    if (!(bp_cpu_isa_mask() & BP_ISA_BIT(BP_ISA_AVX512))) {
        fprintf(stderr, "bpmicro: --ab needs AVX-512\n");
        regfree(&re);
        return 2;
    }
    /* Select first: a regex that matches nothing is a usage error, before any work. */
    char (*names)[160] = calloc(nc, sizeof(*names));
    if (!names) {
        regfree(&re);
        return 1;
    }
    int n = 0;
    for (size_t i = 0; i < nc; i++) {
        const bpm_case *c = &cases[i];
        snprintf(names[i], sizeof(names[i]), "%s/%s/sp%d/%s", c->L->net, c->L->name, c->sp,
                 c->enc == BP_ENC_CSD ? "csd" : "bin");
        if (regexec(&re, names[i], 0, NULL, 0) == 0)
            n++;
        else
            names[i][0] = 0;
    }
    regfree(&re);
    if (!n) {
        fprintf(stderr, "bpmicro: --ab: no case matches '%s'\n", re_src);
        free(names);
        return 2;
    }
    const double p8 = bp_ceiling_probe(BP_ISA_AVX512, 0.5), p16 = bpm_probe_i16(0.5);
    printf("bpmicro --ab: probes (0.5 s, pixel lane-adds/s): u8 (load, add, shift, add per 64 "
           "pixels) %.1fG, i16 (load, add per 32 pixels) %.1fG\n",
           p8 * 1e-9, p16 * 1e-9);
    printf("rounds %d, %.3f s per variant and round (thread CPU time); times: medians, us per "
           "layer; ratios: median over rounds of variant / u8 (< 1: faster)\n\n",
           bpm_ab_rounds, bpm_min_time);
    printf("| net | layer | K | C_o | P | sp%% | dig/w | u8 us | u8 %%ceil | u8 gather %%ceil | "
           "i16 us | i16 %%ceil16 | i16 gather %%ceil16 | i16/u8 | widen us | (i16+widen)/u8 | "
           "kb/blocks | kblock us | kblock gather %%ceil | kblock/u8 | probe u8 G | probe i16 G |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < nc; i++)
        if (names[i][0])
            bpm_ab_case(&cases[i]);
    free(names);
    return 0;
}
#endif

/* ------------------------------------------- quantize/epilogue kernels */

/* One row block of a 1x1 layer's epilogue: 64 output rows of 3136 pixels
 * (ConvNeXt-T stage 1), the accumulator tile the integer backends hand to
 * the epilogue; quantize and GELU run on the same number of floats. */
#define BPM_EPI_ROWS 64u
#define BPM_EPI_N 3136u

enum { BPM_QU8, BPM_QS8, BPM_GELU, BPM_EF32, BPM_EU8, BPM_ES8 };

typedef struct bpm_epi_kernel {
    const char *name;
    bp_isa isa;
    int kind;
    void (*fn)(void);
} bpm_epi_kernel;

#define BPM_K_quantize_u8 BPM_QU8
#define BPM_K_quantize_s8 BPM_QS8
#define BPM_K_gelu_f32 BPM_GELU
#define BPM_K_epilogue_f32 BPM_EF32
#define BPM_K_epilogue_u8 BPM_EU8
#define BPM_K_epilogue_s8 BPM_ES8
#define BPM_EPI(kind, fn, isa) {#fn, isa, BPM_K_##kind, (void (*)(void))fn},
static const bpm_epi_kernel bpm_epi_kernels[] = {
    BP_EPILOGUE_KERNELS(BPM_EPI)
};
#define BPM_NEPI (sizeof(bpm_epi_kernels) / sizeof(bpm_epi_kernels[0]))

typedef struct bpm_epi_job {
    const bpm_epi_kernel *k;
    bp_epi_act act;
    int res;
} bpm_epi_job;

static struct {
    int32_t *acc;
    float *f, *res, *y, *scale, *bias;
    uint8_t *q;
} bpm_epi_buf;

static void bpm_epi_buffers(void)
{
    const size_t n = (size_t)BPM_EPI_ROWS * BPM_EPI_N;
    if (bpm_epi_buf.acc)
        return;
    bpm_epi_buf.acc = bpm_aligned(n * sizeof(int32_t));
    bpm_epi_buf.f = bpm_aligned(n * sizeof(float));
    bpm_epi_buf.res = bpm_aligned(n * sizeof(float));
    bpm_epi_buf.y = bpm_aligned(n * sizeof(float));
    bpm_epi_buf.q = bpm_aligned(n);
    bpm_epi_buf.scale = bpm_aligned(BPM_EPI_ROWS * sizeof(float));
    bpm_epi_buf.bias = bpm_aligned(BPM_EPI_ROWS * sizeof(float));
    uint64_t s = 777;
    for (size_t i = 0; i < n; i++) {
        s = bpm_mix(s);
        bpm_epi_buf.acc[i] = (int32_t)(s % 200001) - 100000;
        bpm_epi_buf.f[i] = (float)((int32_t)(s >> 40) % 4000) / 1000.0f;
        bpm_epi_buf.res[i] = (float)((int32_t)(s >> 20) % 2000) / 1000.0f;
    }
    for (uint32_t j = 0; j < BPM_EPI_ROWS; j++) {
        bpm_epi_buf.scale[j] = 1e-5f * (float)(j + 1);
        bpm_epi_buf.bias[j] = 0.01f * (float)j - 0.3f;
    }
}

static void bpm_epi_fn(bpm_state *st, void *ctx)
{
    const bpm_epi_job *j = ctx;
    bpm_epi_buffers();
    const size_t n = (size_t)BPM_EPI_ROWS * BPM_EPI_N;
    const bp_epi_rows e = {bpm_epi_buf.acc, BPM_EPI_N, bpm_epi_buf.scale, bpm_epi_buf.bias,
                           j->res ? bpm_epi_buf.res : NULL, BPM_EPI_N, j->act, 23.0f};
    while (bpm_keep_running(st)) {
        switch (j->k->kind) {
        case BPM_QU8: ((bp_quantize_u8_fn_t *)j->k->fn)(bpm_epi_buf.f, bpm_epi_buf.q, n, 23.0f); break;
        case BPM_QS8:
            ((bp_quantize_s8_fn_t *)j->k->fn)(bpm_epi_buf.f, (int8_t *)bpm_epi_buf.q, n, 23.0f);
            break;
        case BPM_GELU: ((bp_gelu_f32_fn_t *)j->k->fn)(bpm_epi_buf.f, bpm_epi_buf.y, n); break;
        case BPM_EF32:
            ((bp_epilogue_f32_fn_t *)j->k->fn)(&e, BPM_EPI_ROWS, BPM_EPI_N, bpm_epi_buf.y,
                                               BPM_EPI_N);
            break;
        case BPM_EU8:
            ((bp_epilogue_u8_fn_t *)j->k->fn)(&e, BPM_EPI_ROWS, BPM_EPI_N, bpm_epi_buf.q,
                                              BPM_EPI_N);
            break;
        default:
            ((bp_epilogue_s8_fn_t *)j->k->fn)(&e, BPM_EPI_ROWS, BPM_EPI_N,
                                              (int8_t *)bpm_epi_buf.q, BPM_EPI_N);
            break;
        }
    }
    bpm_counter(st, "elem/s", (double)n * (double)bpm_iterations(st), BPM_COUNTER_RATE);
}

/* Registers every listed quantize/epilogue kernel the CPU runs: quantize and
 * GELU once, the epilogues per activation, with and without a residual. */
static bpm_epi_job *bpm_epi_register(unsigned mask)
{
    bpm_epi_job *jobs = calloc(BPM_NEPI * 6, sizeof(*jobs));
    if (!jobs)
        return NULL;
    static const char *const act_names[] = {"none", "relu", "gelu"};
    size_t nj = 0;
    for (size_t i = 0; i < BPM_NEPI; i++) {
        const bpm_epi_kernel *k = &bpm_epi_kernels[i];
        if (!(mask & BP_ISA_BIT(k->isa)))
            continue;
        const int rows = k->kind == BPM_EF32 || k->kind == BPM_EU8 || k->kind == BPM_ES8;
        for (int act = 0; act < (rows ? 3 : 1); act++)
            for (int res = 0; res < (rows ? 2 : 1); res++) {
                bpm_epi_job *j = &jobs[nj++];
                j->k = k;
                j->act = (bp_epi_act)act;
                j->res = res;
                char name[160];
                if (rows)
                    snprintf(name, sizeof(name), "%s/%s%s/%ux%u", k->name, act_names[act],
                             res ? "+res" : "", BPM_EPI_ROWS, BPM_EPI_N);
                else
                    snprintf(name, sizeof(name), "%s/%u", k->name, BPM_EPI_ROWS * BPM_EPI_N);
                bpm_bench_unit_us(bpm_bench_min_time(bpm_register(name, bpm_epi_fn, j),
                                                     bpm_min_time));
            }
    }
    return jobs;
}

/* --------------------------------------------------------------- row ops */

/* Each row op on the epilogue's 64 x 3136 floats (or bytes): taps of a
 * depthwise 3x3 (two digits each) over 56 padded rows of 58, space-to-depth
 * of a 224 x 224 plane by 4 x 4, LayerNorm of 64 channels in 256-pixel
 * blocks, 64 softmax rows of 3136, sigmoid and shifted quantization of all
 * the floats. */
typedef struct bpm_ro_kernel {
    const char *name;
    const char *kind;
    bp_isa isa;
    void (*fn)(void);
} bpm_ro_kernel;

#define BPM_RO(kind, fn, isa) {#fn, #kind, isa, (void (*)(void))fn},
static const bpm_ro_kernel bpm_ro_kernels[] = {
    BP_ROWOP_KERNELS(BPM_RO)
};
#define BPM_NRO (sizeof(bpm_ro_kernels) / sizeof(bpm_ro_kernels[0]))

static void bpm_ro_fn(bpm_state *st, void *ctx)
{
    const bpm_ro_kernel *k = ctx;
    bpm_epi_buffers();
    const size_t n = (size_t)BPM_EPI_ROWS * BPM_EPI_N;
    const char *kd = k->kind;
    bp_tap taps[18];
    for (uint32_t d = 0; d < 18; d++) {
        taps[d].off = (d / 2 / 3) * 58 + (d / 2 % 3);
        taps[d].sh = (uint16_t)(d % 2 ? 5 : 1);
        taps[d].neg = (uint16_t)(d % 3 == 0);
        taps[d].val = 0;
    }
    const size_t nt = 55 * 58 + 56; /* virtual pixels of 56 rows of 58 */
    static double mean[256], rs[256];
    double elems = (double)n;
    if (!strncmp(kd, "tap_acc", 7)) elems = (double)nt * 18;
    else if (!strcmp(kd, "s2d_u8")) elems = 224.0 * 224.0;
    while (bpm_keep_running(st)) {
        uint8_t *q = bpm_epi_buf.q;
        float *f = bpm_epi_buf.f, *y = bpm_epi_buf.y;
        if (!strcmp(kd, "tap_acc_u8"))
            ((bp_tap_acc_u8_fn_t *)k->fn)((uint32_t *)bpm_epi_buf.acc, q, nt, 1, taps, 18, 0);
        else if (!strcmp(kd, "tap_acc_s8"))
            ((bp_tap_acc_s8_fn_t *)k->fn)((uint32_t *)bpm_epi_buf.acc, (const int8_t *)q, nt, 1,
                                          taps, 18, 0);
        else if (!strcmp(kd, "s2d_u8"))
            ((bp_s2d_u8_fn_t *)k->fn)(q, 224, (uint8_t *)y, 56 * 56, 56, 56, 4, 4);
        else if (!strcmp(kd, "ln_stats") || !strcmp(kd, "ln_rows"))
            for (size_t p0 = 0; p0 < BPM_EPI_N; p0 += 256) {
                size_t np = BPM_EPI_N - p0 < 256 ? BPM_EPI_N - p0 : 256;
                if (kd[3] == 's')
                    ((bp_ln_stats_fn_t *)k->fn)(f + p0, 1e-5f, BPM_EPI_ROWS, BPM_EPI_N, np, mean,
                                                rs);
                else
                    ((bp_ln_rows_fn_t *)k->fn)(f + p0, BPM_EPI_N, mean, rs, bpm_epi_buf.scale,
                                               bpm_epi_buf.bias, 0, BPM_EPI_ROWS, y + p0,
                                               BPM_EPI_N, np);
            }
        else if (!strcmp(kd, "softmax_f32"))
            for (size_t r = 0; r < BPM_EPI_ROWS; r++)
                ((bp_softmax_f32_fn_t *)k->fn)(f + r * BPM_EPI_N, y + r * BPM_EPI_N, BPM_EPI_N, 1);
        else if (!strcmp(kd, "sigmoid_f32"))
            ((bp_sigmoid_f32_fn_t *)k->fn)(f, y, n);
        else
            ((bp_quantize_s8u_fn_t *)k->fn)(f, q, n, 23.0f);
    }
    bpm_counter(st, "elem/s", elems * (double)bpm_iterations(st), BPM_COUNTER_RATE);
}

/* Registers every listed row op the CPU runs. */
static void bpm_ro_register(unsigned mask)
{
    for (size_t i = 0; i < BPM_NRO; i++) {
        const bpm_ro_kernel *k = &bpm_ro_kernels[i];
        if (!(mask & BP_ISA_BIT(k->isa)))
            continue;
        char name[160];
        const char *shape = !strncmp(k->kind, "tap_acc", 7) ? "dw3x3/56x58"
                            : !strcmp(k->kind, "s2d_u8")   ? "224x224/4x4"
                                                           : "64x3136";
        snprintf(name, sizeof(name), "%s/%s", k->name, shape);
        bpm_bench_unit_us(bpm_bench_min_time(bpm_register(name, bpm_ro_fn, (void *)k),
                                             bpm_min_time));
    }
}

/* ------------------------------------------------------------ summary */

typedef struct bpm_row {
    const bpm_case *c;
    double t[BPM_NKERNELS]; /* ns per layer (median if repeated), 0 = not run */
    double pct[BPM_NKERNELS];
    int agg[BPM_NKERNELS];
} bpm_row;

static bpm_row *bpm_rows;
static size_t bpm_nrows;

typedef struct bpm_reg {
    char name[160];
    size_t row, kernel;
} bpm_reg;
static bpm_reg *bpm_regs;
static size_t bpm_nregs;

static void bpm_on_result(const bpm_result *r, void *ctx)
{
    (void)ctx;
    if (r->error)
        return;
    const int is_median = strcmp(r->aggregate_name, "median") == 0;
    if (r->aggregate_name[0] && !is_median)
        return;
    for (size_t i = 0; i < bpm_nregs; i++) {
        /* Google Benchmark appends "/min_time:..." etc. to the name. */
        const size_t n = strlen(bpm_regs[i].name);
        if (strncmp(bpm_regs[i].name, r->name, n) != 0 || (r->name[n] && r->name[n] != '/'))
            continue;
        bpm_row *row = &bpm_rows[bpm_regs[i].row];
        const size_t k = bpm_regs[i].kernel;
        if (row->agg[k] && !is_median)
            return; /* a median already stands */
        row->t[k] = r->cpu_ns;
        row->pct[k] = bpm_result_counter(r, "%ceil");
        row->agg[k] = is_median;
        return;
    }
}

static int bpm_find_kernel(const char *name)
{
    for (size_t k = 0; k < BPM_NKERNELS; k++)
        if (strcmp(bpm_kernels[k].name, name) == 0)
            return (int)k;
    return -1;
}

/* The fastest csr kernel of the row at or below isa level cap. */
static int bpm_best_csr(const bpm_row *row, bp_isa cap)
{
    int best = -1;
    for (size_t k = 0; k < BPM_NKERNELS; k++)
        if (bpm_kernels[k].kind == BPM_CSR && bpm_kernels[k].isa <= cap && row->t[k] > 0 &&
            (best < 0 || row->t[k] < row->t[best]))
            best = (int)k;
    return best;
}

static void bpm_print_summary(void)
{
    const int bp512 = bpm_find_kernel("bp_bitplane_u8_256x1_avx512");
    const int ga512 = bpm_find_kernel("bpk_bitplane_u8_gather_256x1_avx512");
    const int bp2 = bpm_find_kernel("bp_bitplane_u8_128x1_avx2");
    const int csr512 = bpm_find_kernel("bp_csr_u8_128x1_avx512");
    const int vnni = bpm_find_kernel("bp_csr_u8_128x1_avx512vnni");
    if (bp512 < 0)
        return;
    int any = 0;
    for (size_t i = 0; i < bpm_nrows; i++)
        any |= bpm_rows[i].t[bp512] > 0;
    if (!any)
        return;
    printf("\nSummary (u8 activations, AVX-512 unless noted; times per layer, "
           "medians when repeated):\n");
    printf("| net | layer | K | C_o | P | sp%% | enc | dig/w | bitplane us | %%ceil | "
           "gather %%ceil | csr avx512 us | csr vnni us | bp/csr512 | bp/vnni | avx2/avx512 |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < bpm_nrows; i++) {
        const bpm_row *r = &bpm_rows[i];
        if (r->t[bp512] <= 0)
            continue;
        const bpm_layer *L = r->c->L;
        const double tb = r->t[bp512];
        const double tg = ga512 >= 0 ? r->pct[ga512] : NAN;
        const double tc = csr512 >= 0 ? r->t[csr512] : 0, tv = vnni >= 0 ? r->t[vnni] : 0;
        const double t2 = bp2 >= 0 ? r->t[bp2] : 0;
        printf("| %s | %s | %u | %u | %u | %d | %s | %.3f | %.1f | %.0f | %.0f | %.1f | %.1f | "
               "%.2fx | %.2fx | %.2f |\n",
               L->net, L->name, L->K, L->Co, L->P, r->c->sp, r->c->enc == BP_ENC_CSD ? "csd" : "bin",
               (double)r->c->ndigits / ((double)L->Co * L->K), tb * 1e-3,
               r->pct[bp512], tg, tc * 1e-3, tv * 1e-3, tc > 0 ? tc / tb : NAN,
               tv > 0 ? tv / tb : NAN, t2 > 0 ? t2 / tb : NAN);
    }
    (void)bpm_best_csr;
}

/* The flat-stream kernels against the dispatched AVX-512 bitplane kernel on
 * the same weights: loops per row (plan steps x 2 signs vs merge groups). */
static void bpm_print_flat_summary(void)
{
    const int bp512 = bpm_find_kernel("bp_bitplane_u8_256x1_avx512");
    int fl[3] = {-1, -1, -1};
    for (size_t k = 0; k < BPM_NKERNELS; k++)
        if (bpm_kernels[k].kind > BPM_FLAT0 && bpm_kernels[k].kind <= BPM_FLAT0 + 3)
            fl[bpm_kernels[k].kind - BPM_FLAT0 - 1] = (int)k;
    int any = 0;
    for (size_t i = 0; i < bpm_nrows && bp512 >= 0; i++)
        for (int m = 0; m < 3; m++)
            any |= fl[m] >= 0 && bpm_rows[i].t[fl[m]] > 0 && bpm_rows[i].t[bp512] > 0;
    if (!any)
        return;
    printf("\nFlat digit streams vs bitplane (u8, AVX-512; us per layer, medians when "
           "repeated; ratio = bitplane / flat, > 1: flat faster):\n");
    printf("| net | layer | K | C_o | P | sp%% | enc | dig/row | steps/row | groups/row | "
           "bitplane us | mul us | shift us | madd us | mul | shift | madd | best csr us |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < bpm_nrows; i++) {
        const bpm_row *r = &bpm_rows[i];
        if (r->t[bp512] <= 0)
            continue;
        const bpm_layer *L = r->c->L;
        double t[3];
        for (int m = 0; m < 3; m++)
            t[m] = fl[m] >= 0 && r->t[fl[m]] > 0 ? r->t[fl[m]] : NAN;
        const int bc = bpm_best_csr(r, BP_ISA_AVX512VNNI);
        printf("| %s | %s | %u | %u | %u | %d | %s | %.1f | %.2f | %.2f | %.1f | %.1f | %.1f | "
               "%.1f | %.2f | %.2f | %.2f | %.1f |\n",
               L->net, L->name, L->K, L->Co, L->P, r->c->sp, r->c->enc == BP_ENC_CSD ? "csd" : "bin",
               (double)r->c->ndigits / L->Co, (double)r->c->nsteps / L->Co,
               (double)r->c->ngroups / L->Co, r->t[bp512] * 1e-3, t[0] * 1e-3, t[1] * 1e-3,
               t[2] * 1e-3, r->t[bp512] / t[0], r->t[bp512] / t[1], r->t[bp512] / t[2],
               bc >= 0 ? r->t[bc] * 1e-3 : NAN);
    }
}

/* ------------------------------------------------------------- main */

/* Default: every bitplane/csr x86 kernel on all of resnet18-cifar at every
 * sparsity, and every net at 90%, CSD digits; no scalar, no P=1 heads; and
 * every quantize/epilogue kernel and row op of those ISAs. --isa replaces the ISA
 * alternatives with that one ISA. */
#define BPM_DEFAULT_ISAS "avx2|avx512|avx512vnni"
#define BPM_DEFAULT_CASES                                                         \
    "/(resnet18-cifar/(conv1|layer[^/]*)/sp[0-9]+|"                               \
    "(resnet18|convnext-t)/(conv1|stem|ds[0-9]|layer[^/]*|stage[^/]*)/sp90)/csd"

static const char bpm_usage[] =
    "usage: bpmicro [options] [Google Benchmark options]\n"
    "\n"
    "Times every bitplane and csr kernel (u8 activations) on the real layer shapes\n"
    "of bench/shapes with synthetic Bit-Pruning weights, reports each bitplane case\n"
    "as % of the ceiling probe, and closes with a summary table; then every\n"
    "quantize, GELU and epilogue kernel on one 64 x 3136 accumulator tile, and\n"
    "every row op (taps, space-to-depth, LayerNorm, softmax, sigmoid) on as many.\n"
    "The bench-only flat-stream bitplane kernels (bpk_bitplane_u8_flat*) run\n"
    "with the other AVX-512 kernels and get a second summary table; net \"synth\"\n"
    "(a K = 768, C_o = 3072 layer at P = 49, 64, 196, 256) runs only when a\n"
    "--benchmark_filter names it.\n"
    "\n"
    "options:\n"
    "  --shapes=DIR                 layer shape files (default: the source tree's\n"
    "                               bench/shapes, or $BP_SHAPES_DIR)\n"
    "  --isa=ISA                    only this ISA's kernels: scalar, avx2, avx512,\n"
    "                               avx512vnni, neon; one this CPU lacks is an error\n"
    "  --probe_seconds=S            ceiling probe per ISA at start (default 0.5)\n"
    "  --local_probe_seconds=S      re-probe after each bitplane run (default 0.01;\n"
    "                               0: use the start-up probe)\n"
    "  --min_time=S                 minimum time per benchmark (default 0.05)\n"
    "  --ab=REGEX                   instead of the benchmarks: A/B of the AVX-512 u8\n"
    "                               bitplane kernel, its int16-activation and\n"
    "                               K-blocked variants on the cases\n"
    "                               <net>/<layer>/sp<NN>/<enc> matching REGEX\n"
    "  --ab_rounds=N                interleaved rounds per case (default 7, <= 64),\n"
    "                               each variant --min_time per round\n"
    "  --kblock=KB                  K-block rows (default: 32 KiB of the tile)\n"
    "  --kblock_rows=RB             output rows per row block (default 0: all)\n"
    "  --version                    version and git commit\n"
    "  -h, --help                   this text\n"
    "\n"
    "Google Benchmark's own --benchmark_* options pass through, e.g.\n"
    "--benchmark_filter=REGEX (default: resnet18-cifar at every sparsity and every\n"
    "net at 90%, CSD, AVX2/AVX-512 kernels, and the quantize/epilogue kernels),\n"
    "--benchmark_repetitions=N,\n"
    "--benchmark_report_aggregates_only=true, --benchmark_list_tests=true.\n"
    "\n"
    "Exit status: 0 success, 1 error (shape files, memory), 2 usage.\n";

static int bpm_usage_err(const char *fmt, const char *arg)
{
    fputs("bpmicro: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (try --help)\n", stderr);
    return 2;
}

/* Parses "S" of --flag=S: a finite number in [lo, hi]. */
static int bpm_parse_seconds(const char *s, double lo, double hi, double *v)
{
    char *end;
    if (!*s)
        return -1;
    double d = strtod(s, &end);
    if (*end || !(d >= lo && d <= hi))
        return -1;
    *v = d;
    return 0;
}

int main(int argc, char **argv)
{
    const char *shapes = getenv("BP_SHAPES_DIR") ? getenv("BP_SHAPES_DIR") : BPM_SHAPES_DIR;
    double probe_s = 0.5;
    int only_isa = -1;
    const char *ab_re = NULL;
    int ab_rounds = 7;
    uint32_t ab_kb = 0, ab_rb = 0;
    /* --help and --version first, before any work */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(bpm_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("bpmicro %s (commit %s)\n", BPM_VERSION, BP_BENCH_GIT_COMMIT);
            return 0;
        }
    }
    /* Own flags first; Google Benchmark sees its --benchmark_* (and --v). */
    int o = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--shapes=", 9) == 0) {
            shapes = a + 9;
        } else if (strncmp(a, "--probe_seconds=", 16) == 0) {
            if (bpm_parse_seconds(a + 16, 0.001, 60, &probe_s))
                return bpm_usage_err("--probe_seconds: '%s' is not in 0.001..60", a + 16);
        } else if (strncmp(a, "--local_probe_seconds=", 22) == 0) {
            if (bpm_parse_seconds(a + 22, 0, 60, &bpm_local_probe_s))
                return bpm_usage_err("--local_probe_seconds: '%s' is not in 0..60", a + 22);
        } else if (strncmp(a, "--min_time=", 11) == 0) {
            if (bpm_parse_seconds(a + 11, 0.001, 3600, &bpm_min_time))
                return bpm_usage_err("--min_time: '%s' is not in 0.001..3600", a + 11);
        } else if (strncmp(a, "--ab=", 5) == 0) {
            ab_re = a + 5;
        } else if (strncmp(a, "--ab_rounds=", 12) == 0 || strncmp(a, "--kblock=", 9) == 0 ||
                   strncmp(a, "--kblock_rows=", 14) == 0) {
            const char *v = strchr(a, '=') + 1;
            char *end;
            const long n = strtol(v, &end, 10);
            const int rounds = a[2] == 'a';
            if (!*v || *end || n < (rounds ? 1 : 0) || n > (rounds ? 64 : (long)BP_K_MAX))
                return bpm_usage_err("bad value in '%s'", a);
            if (rounds)
                ab_rounds = (int)n;
            else if (strncmp(a, "--kblock=", 9) == 0)
                ab_kb = (uint32_t)n;
            else
                ab_rb = (uint32_t)n;
        } else if (strncmp(a, "--isa=", 6) == 0) {
            only_isa = bp_isa_parse(a + 6);
            if (only_isa < 0)
                return bpm_usage_err("--isa: '%s' is not scalar, avx2, avx512, avx512vnni or "
                                     "neon", a + 6);
            if (!(bp_cpu_isa_mask() & BP_ISA_BIT(only_isa)))
                return bpm_usage_err("--isa: this CPU has no %s", a + 6);
        } else if (strncmp(a, "--benchmark_", 12) == 0 || strncmp(a, "--v=", 4) == 0) {
            argv[o++] = argv[i];
        } else {
            return bpm_usage_err(strchr(a, '=') || strncmp(a, "--", 2)
                                     ? "unknown option or argument '%s'"
                                     : "unknown option '%s' (own options take --flag=VALUE)",
                                 a);
        }
    }
    argc = o;
    argv[argc] = NULL;
    char default_filter[512];
    const char *isas = only_isa >= 0 ? bp_isa_name((bp_isa)only_isa) : BPM_DEFAULT_ISAS;
    snprintf(default_filter, sizeof default_filter,
             "_(%s)%s|^bp_(quantize|gelu|epilogue)_(u8|s8|f32)_(%s)/|"
             "^bp_(tap_acc_u8|tap_acc_s8|s2d_u8|ln_stats|ln_rows|softmax_f32|sigmoid_f32|"
             "quantize_s8u)_(%s)/",
             isas, BPM_DEFAULT_CASES, isas, isas);

    static const char *nets[] = {"resnet18-cifar", "resnet18", "convnext-t"};
    for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
        if (bpm_load_shapes(shapes, nets[i]))
            return 1;
    /* "synth": one K = 768, C_o = 3072 layer (ConvNeXt-T stage4.pw1) at
     * small pixel counts, where per-loop costs dominate. */
    static const uint32_t synth_p[] = {49, 64, 196, 256};
    for (size_t i = 0; i < sizeof(synth_p) / sizeof(synth_p[0]); i++) {
        bpm_layer *nl = realloc(bpm_layers, (bpm_nlayers + 1) * sizeof(*nl));
        if (!nl)
            return 1;
        bpm_layers = nl;
        bpm_layer *L = &bpm_layers[bpm_nlayers++];
        memset(L, 0, sizeof(*L));
        snprintf(L->net, sizeof(L->net), "synth");
        snprintf(L->name, sizeof(L->name), "k768x3072.p%u", synth_p[i]);
        L->K = 768;
        L->Co = 3072;
        L->P = synth_p[i];
        L->groups = 1;
    }
    bpm_prox_init(1.0);
    {
        /* At lambda ~ 1 the proximal map's targets are these, |w| <= 1 -> 0. */
        static const int want[] = {0, 2, 4, 8, 16, 32, 48, 64, 96, 128};
        int seen[129] = {0}, ok = 1;
        for (int i = 0; i <= 128 * BPM_PROX_RES; i++)
            seen[bpm_prox[i]] = 1;
        int n = 0;
        for (int v = 0; v <= 128; v++)
            n += seen[v];
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
            ok &= seen[want[i]];
        if (!ok || n != (int)(sizeof(want) / sizeof(want[0]))) {
            fprintf(stderr, "bpmicro: proximal map at lambda=1 has unexpected targets\n");
            return 1;
        }
        printf("bpmicro: proximal map (lambda=1) targets: 0 2 4 8 16 32 48 64 96 128\n");
    }

    if (ab_re) {
#ifdef BP_BITPLANE_GATHER_X86
        bpm_ab_rounds = ab_rounds;
        bpm_ab_kb = ab_kb;
        bpm_ab_rb = ab_rb;
        const size_t nab = bpm_nlayers * BPM_NSP * 2;
        bpm_case *abc = calloc(nab, sizeof(*abc));
        if (!abc)
            return 1;
        for (size_t l = 0, n = 0; l < bpm_nlayers; l++)
            for (size_t sp = 0; sp < BPM_NSP; sp++)
                for (int e = 0; e < 2; e++, n++)
                    abc[n] = (bpm_case){.L = &bpm_layers[l], .sp = bpm_sparsities[sp],
                                        .enc = e ? BP_ENC_BINARY : BP_ENC_CSD};
        const int rc = bpm_ab_run(abc, nab, ab_re);
        if (bpm_current)
            bpm_case_free(bpm_current);
        free(abc);
        free(bpm_layers);
        return rc;
#else
        (void)ab_rounds;
        (void)ab_kb;
        (void)ab_rb;
        fprintf(stderr, "bpmicro: --ab needs an x86-64 build\n");
        return 2;
#endif
    }
    const unsigned mask = only_isa >= 0 ? BP_ISA_BIT(only_isa) : bp_cpu_isa_mask();
    printf("bpmicro: ceiling probe (%.2f s per ISA, pixel int16 lane-adds/s):", probe_s);
    for (int isa = 0; isa < BP_ISA_COUNT; isa++) {
        if (!(mask & BP_ISA_BIT(isa)))
            continue;
        if (isa == BP_ISA_AVX512VNNI && bpm_probe[BP_ISA_AVX512] > 0) {
            bpm_probe[isa] = bpm_probe[BP_ISA_AVX512]; /* same loop */
            continue;
        }
        bpm_probe[isa] = bp_ceiling_probe((bp_isa)isa, probe_s);
        printf(" %s %.1fG", bp_isa_name((bp_isa)isa), bpm_probe[isa] * 1e-9);
    }
    printf("\n");

    const size_t ncases = bpm_nlayers * BPM_NSP * 2;
    bpm_case *cases = calloc(ncases, sizeof(*cases));
    bpm_rows = calloc(ncases, sizeof(*bpm_rows));
    bpm_job *jobs = calloc(ncases * BPM_NKERNELS, sizeof(*jobs));
    bpm_regs = calloc(ncases * BPM_NKERNELS, sizeof(*bpm_regs));
    if (!cases || !bpm_rows || !jobs || !bpm_regs)
        return 1;
    size_t nc = 0;
    for (size_t l = 0; l < bpm_nlayers; l++)
        for (size_t s = 0; s < BPM_NSP; s++)
            for (int e = 0; e < 2; e++) {
                bpm_case *c = &cases[nc];
                c->L = &bpm_layers[l];
                c->sp = bpm_sparsities[s];
                c->enc = e ? BP_ENC_BINARY : BP_ENC_CSD;
                bpm_rows[nc].c = c;
                for (size_t k = 0; k < BPM_NKERNELS; k++) {
                    const bpm_kernel *kk = &bpm_kernels[k];
                    if (!(mask & BP_ISA_BIT(kk->isa)) || strcmp(kk->at, "u8") != 0)
                        continue;
                    bpm_job *j = &jobs[bpm_nregs];
                    j->c = c;
                    j->k = kk;
                    bpm_reg *rg = &bpm_regs[bpm_nregs++];
                    snprintf(rg->name, sizeof(rg->name), "%s/%s/%s/sp%d/%s", kk->name, c->L->net,
                             c->L->name, c->sp, e ? "bin" : "csd");
                    rg->row = nc;
                    rg->kernel = k;
                    bpm_bench_unit_us(bpm_bench_min_time(bpm_register(rg->name, bpm_bench_fn, j), bpm_min_time));
                }
                nc++;
            }
    bpm_nrows = nc;
    bpm_epi_job *epi_jobs = bpm_epi_register(mask);
    if (!epi_jobs)
        return 1;
    bpm_ro_register(mask);

    const int rc = bpm_run(&argc, argv, default_filter, bpm_on_result, NULL);
    if (rc == 0) {
        bpm_print_summary();
        bpm_print_flat_summary();
    }
    if (bpm_current)
        bpm_case_free(bpm_current);
    free(cases);
    free(jobs);
    free(epi_jobs);
    free(bpm_epi_buf.acc);
    free(bpm_epi_buf.f);
    free(bpm_epi_buf.res);
    free(bpm_epi_buf.y);
    free(bpm_epi_buf.q);
    free(bpm_epi_buf.scale);
    free(bpm_epi_buf.bias);
    free(bpm_regs);
    free(bpm_rows);
    free(bpm_layers);
    return rc;
}
