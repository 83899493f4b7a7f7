/* Kernel conformance (checkasm style): every kernel in the X-macro lists, at
 * every ISA level the host supports, against the ref oracles, bit-exact, with
 * canaried outputs and page-guarded inputs; plus encodings, CPU detection
 * (the host's, and made-up cpuid/XCR0 values), ISA capping and dispatch.
 * With BP_ISA set, kernels above that level are skipped, as on such a host.
 * Seed: printed; BP_TEST_SEED overrides; BP_TEST_VERBOSE=1 prints each case
 * before it runs (to name the case behind a crash). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bp_arith.h"
#include "kernel_list.h"
#if defined(__aarch64__)
#include "arm/probe_arm.h"
#endif

/* ------------------------------------------------------------------ RNG */

static uint64_t kt_seed;
static int kt_verbose; /* BP_TEST_VERBOSE=1: print every case before it runs */

typedef struct kt_rng { uint64_t s; } kt_rng;

static uint64_t kt_next(kt_rng *r) /* splitmix64 */
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static uint32_t kt_below(kt_rng *r, uint32_t n)
{
    return (uint32_t)((kt_next(r) >> 32) * n >> 32);
}

static int32_t kt_range(kt_rng *r, int32_t lo, int32_t hi)
{
    return lo + (int32_t)kt_below(r, (uint32_t)(hi - lo + 1));
}

/* ------------------------------------------------------ guarded buffers */

/* An mmap'd run with a PROT_NONE page on each side. The data sits flush
 * against the back guard (catches over-reads past the last run) or the front
 * guard (catches under-reads); any stray read faults. */
typedef struct kt_guarded {
    uint8_t *base;
    size_t len;
    void *p;
} kt_guarded;

static void *kt_guard_alloc(kt_guarded *g, size_t n, int flush_front)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t data = (n + page - 1) / page * page + (n == 0 ? page : 0);
    g->len = data + 2 * page;
    void *m = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    g->base = m;
    assert_int_equal(mprotect(g->base, page, PROT_NONE), 0);
    assert_int_equal(mprotect(g->base + page + data, page, PROT_NONE), 0);
    g->p = flush_front ? g->base + page : g->base + page + data - n;
    return g->p;
}

static void kt_guard_free(kt_guarded *g)
{
    munmap(g->base, g->len);
}

#define KT_CANARY ((int32_t)0x5ca1ab1e)
#define KT_PAD 64 /* int32 canaries before and after the output rows */

/* ------------------------------------------------------------ kernels */

typedef struct kt_kernel {
    const char *name;
    bp_isa isa;
    int csr;
    bp_bitplane_u8_fn bp_u8;
    bp_bitplane_s8_fn bp_s8;
    bp_csr_u8_fn csr_u8;
    bp_csr_s8_fn csr_s8;
    unsigned cases; /* cases run */
    int skipped; /* 1: host lacks the ISA, 2: above BP_ISA */
} kt_kernel;

#define KT_BP_ENTRY(at, fn, lv) { #fn, lv, 0, .bp_##at = fn },
#define KT_CSR_ENTRY(at, fn, lv) { #fn, lv, 1, .csr_##at = fn },
static kt_kernel kt_kernels[] = {
    BP_BITPLANE_KERNELS(KT_BP_ENTRY)
    BP_CSR_KERNELS(KT_CSR_ENTRY)
};
#define KT_NKERNELS (sizeof(kt_kernels) / sizeof(kt_kernels[0]))

/* --------------------------------------------------------------- cases */

enum { KT_X_UNIFORM, KT_X_EXTREME, KT_X_MAX, KT_X_MIN, KT_X_SPARSE, KT_X_MODES };

typedef struct kt_case {
    uint32_t rows, K, row0, nrows;
    size_t np, ldx, ldy;
    bp_encoding enc;
    int s8;
    int xmode;
    int mplus;      /* extra empty top planes: M = needed + mplus (<= BP_M_MAX) */
    int idx4;       /* force 32-bit indices */
    int flush_front;
    int16_t *w;     /* rows x K, owned */
} kt_case;

/* One weight row in one of several styles, so one matrix mixes rows with no
 * digits, single planes, every digit set, CSD-heavy values and sparse rows. */
static void kt_fill_row(kt_rng *r, int16_t *w, uint32_t K, int style)
{
    static const int16_t lam1[] = {2, 4, 8, 16, 32, 48, 64, 96, 128};
    static const int16_t csdheavy[] = {171, 85, 255, 127, 119, 187, 239, 63, 43};
    const int16_t pow2 = (int16_t)(1 << kt_below(r, 8));
    const int sign = kt_below(r, 2) ? 1 : -1;
    const uint32_t density = kt_below(r, 101); /* percent nonzero */
    for (uint32_t k = 0; k < K; k++) {
        const int s = kt_below(r, 2) ? 1 : -1;
        int v;
        switch (style) {
        case 0: v = kt_range(r, -255, 255); break;
        case 1: v = 0; break;                                 /* no digits */
        case 2: v = sign * 255; break;                        /* every digit set */
        case 3: v = s * (kt_below(r, 2) ? 128 : 255); break;  /* +-128 / +-255 */
        case 4: v = kt_below(r, 100) < density ? s * pow2 : 0; break; /* one plane */
        case 5: v = kt_below(r, 100) < density ? s * lam1[kt_below(r, 9)] : 0; break;
        case 6: v = s * csdheavy[kt_below(r, 9)]; break;
        default: v = kt_below(r, 10) == 0 ? kt_range(r, -255, 255) : 0; break;
        }
        w[k] = (int16_t)v;
    }
}
#define KT_ROW_STYLES 8

static void kt_fill_x(kt_rng *r, const kt_case *c, void *xv)
{
    const int lo = c->s8 ? -128 : 0, hi = c->s8 ? 127 : 255;
    for (uint32_t k = 0; k < c->K; k++) {
        for (size_t p = 0; p < c->ldx; p++) {
            /* Bytes between runs (p >= np) must never be used: make them
             * values that would change the result. */
            int v;
            switch (c->xmode) {
            case KT_X_UNIFORM: v = kt_range(r, lo, hi); break;
            case KT_X_EXTREME: v = kt_below(r, 2) ? lo : hi; break;
            case KT_X_MAX: v = c->s8 ? lo : hi; break; /* largest |x| */
            case KT_X_MIN: v = c->s8 ? hi : lo; break; /* the other end */
            default: v = kt_below(r, 8) == 0 ? kt_range(r, lo, hi) : 0; break;
            }
            if (p >= c->np)
                v = hi;
            const size_t o = (size_t)k * c->ldx + p;
            if (k == c->K - 1 && p >= c->np)
                break; /* the last run ends the buffer */
            if (c->s8)
                ((int8_t *)xv)[o] = (int8_t)v;
            else
                ((uint8_t *)xv)[o] = (uint8_t)v;
        }
    }
}

static void kt_free_case(kt_case *c)
{
    free(c->w);
    c->w = NULL;
}

/* Case i of the fixed list followed by random ones; every kernel of a family
 * sees the same sequence for a given seed. */
#define KT_NFIXED 112
#define KT_NRANDOM 80
#define KT_NCASES (KT_NFIXED + KT_NRANDOM)

static void kt_make_case(kt_case *c, kt_rng *r, unsigned i, int s8)
{
    memset(c, 0, sizeof(*c));
    c->s8 = s8;
    c->enc = kt_below(r, 2) ? BP_ENC_CSD : BP_ENC_BINARY;
    c->flush_front = kt_below(r, 4) == 0;
    c->idx4 = kt_below(r, 4) == 0;
    int style = -1; /* -1: per-row random styles */
    if (i < 70) {
        /* K = 1 and every np in 1..70: tile tails of every length. */
        c->rows = 3; c->K = 1 + (i % 3 == 0 ? 0 : kt_below(r, 3));
        c->np = i + 1;
        c->xmode = (int)kt_below(r, KT_X_MODES);
    } else if (i < 94) {
        /* K around the int16 limits: one plane (128 digits for u8, 255 for
         * s8) and runs of planes merged in int16 (sums doubling per plane),
         * every digit set or +-128/+-255, largest |x|. */
        static const uint32_t ks[] = {127, 128, 129, 255, 256, 257,
                                      33, 43, 64, 86, 100, 170};
        c->rows = 2; c->K = ks[(i - 70) % 12];
        c->np = 1 + kt_below(r, 100);
        c->xmode = KT_X_MAX;
        style = (i - 70) < 12 ? 2 : 3;
    } else if (i < 102) {
        /* K = BP_K_MAX with extreme values: |y| close to 2^31. */
        c->rows = 2; c->K = BP_K_MAX;
        c->np = 1 + kt_below(r, 24);
        c->xmode = (i & 1) ? KT_X_MAX : KT_X_EXTREME;
        style = (i - 94) < 4 ? 2 : 3;
        c->enc = (i & 2) ? BP_ENC_CSD : BP_ENC_BINARY;
    } else if (i < 106) {
        /* Degenerate: no output rows (102), no pixels (103), an all-zero
         * weight (104, 105: M = 0 planes unless mplus, CSR without nonzeros). */
        c->rows = 4; c->K = 1 + kt_below(r, 50);
        c->np = i == 103 ? 0 : 1 + kt_below(r, 40);
        c->row0 = kt_below(r, 4);
        c->nrows = i == 102 ? 0 : i == 103 ? 1 : c->rows - c->row0;
        c->xmode = KT_X_UNIFORM;
        if (i >= 104)
            style = 1;
    } else if (i < KT_NFIXED) {
        /* Larger pixel counts, several tiles plus a tail. */
        c->rows = 3; c->K = 1 + kt_below(r, 64);
        c->np = 129 + kt_below(r, 400);
        c->xmode = (int)kt_below(r, KT_X_MODES);
    } else {
        c->rows = 1 + kt_below(r, 9);
        c->K = 1 + kt_below(r, kt_below(r, 4) == 0 ? 2000 : 300);
        c->np = 1 + kt_below(r, kt_below(r, 3) == 0 ? 300 : 80);
        c->xmode = (int)kt_below(r, KT_X_MODES);
    }
    if (i < 102 || i >= 106) {
        c->row0 = kt_below(r, 3) == 0 ? kt_below(r, c->rows) : 0;
        c->nrows = c->rows - c->row0;
        if (c->nrows > 1 && kt_below(r, 3) == 0)
            c->nrows -= kt_below(r, c->nrows);
    }
    c->ldx = c->np + (kt_below(r, 2) ? 0 : kt_below(r, 3) == 0 ? 64 : kt_below(r, 9));
    if (c->ldx == 0)
        c->ldx = 1;
    c->ldy = c->np + (kt_below(r, 2) ? 0 : 1 + kt_below(r, 7));
    c->mplus = kt_below(r, 5) == 0;
    c->w = malloc((size_t)c->rows * c->K * sizeof(int16_t) + 1);
    assert_non_null(c->w);
    for (uint32_t j = 0; j < c->rows; j++) {
        int16_t *wr = c->w + (size_t)j * c->K;
        kt_fill_row(r, wr, c->K, style >= 0 ? style : (int)kt_below(r, KT_ROW_STYLES));
        /* Every digit set: row 0 all +255, row 1 all -255, so both signs meet
         * the largest |x| (for s8, -255 with x = -128 makes terms of +128). */
        if (style == 2)
            for (uint32_t k = 0; k < c->K; k++)
                wr[k] = (int16_t)((j & 1) ? -255 : 255);
    }
}

/* Copies 16-bit indices to 32-bit, so the u32 index path runs on small K. */
static void *kt_widen_idx(const void *idx, uint64_t n)
{
    uint32_t *o = malloc(n * sizeof(uint32_t) + 4);
    assert_non_null(o);
    for (uint64_t i = 0; i < n; i++)
        o[i] = ((const uint16_t *)idx)[i];
    return o;
}

static void *kt_aux_alloc(size_t n)
{
    void *a = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    assert_non_null(a);
    return a;
}

static void kt_print_case(const char *tag, const kt_kernel *k, unsigned i, const kt_case *c, const char *aux)
{
    printf("  %s %s case %u (seed %" PRIu64 "): rows=%u K=%u row0=%u nrows=%u np=%zu "
           "ldx=%zu ldy=%zu enc=%s act=%s xmode=%d idx4=%d mplus=%d aux=%s\n",
           tag, k->name, i, kt_seed, c->rows, c->K, c->row0, c->nrows, c->np, c->ldx, c->ldy,
           c->enc == BP_ENC_CSD ? "csd" : "binary", c->s8 ? "s8" : "u8", c->xmode,
           c->idx4, c->mplus, aux);
}

/* Compares got (canaried, nrows x ldy) with want (nrows x np). */
static int kt_check_out(const int32_t *buf, const int32_t *want, const kt_case *c)
{
    const int32_t *got = buf + KT_PAD;
    for (size_t i = 0; i < KT_PAD; i++) {
        if (buf[i] != KT_CANARY) {
            printf("    canary before output clobbered at -%zu\n", KT_PAD - i);
            return 1;
        }
    }
    const size_t n = (size_t)c->nrows * c->ldy;
    for (size_t i = 0; i < KT_PAD; i++) {
        if (got[n + i] != KT_CANARY) {
            printf("    canary after output clobbered at +%zu\n", i);
            return 1;
        }
    }
    for (uint32_t r = 0; r < c->nrows; r++) {
        for (size_t p = 0; p < c->ldy; p++) {
            const int32_t g = got[(size_t)r * c->ldy + p];
            if (p >= c->np) {
                if (g != KT_CANARY) {
                    printf("    row %u: write at p=%zu between runs (np=%zu ldy=%zu)\n",
                           r, p, c->np, c->ldy);
                    return 1;
                }
            } else if (g != want[(size_t)r * c->np + p]) {
                printf("    row %u (j=%u) p=%zu: got %" PRId32 " want %" PRId32 "\n", r,
                       c->row0 + r, p, g, want[(size_t)r * c->np + p]);
                return 1;
            }
        }
    }
    return 0;
}

/* Runs one kernel on one case (aux NULL, then aux built); returns failures. */
static int kt_run_case(kt_kernel *k, unsigned ci, kt_case *c)
{
    kt_rng xr = {kt_seed ^ (0x1234567ull * (ci + 1))};
    const size_t xbytes = c->K ? (size_t)(c->K - 1) * c->ldx + c->np : 0;
    kt_guarded g;
    void *x = kt_guard_alloc(&g, xbytes, c->flush_front);
    kt_fill_x(&xr, c, x);

    const size_t nout = (size_t)c->nrows * c->np;
    int32_t *want = malloc(nout * sizeof(int32_t) + 4);
    int32_t *dense = malloc(nout * sizeof(int32_t) + 4);
    const size_t nbuf = (size_t)c->nrows * c->ldy + 2 * KT_PAD;
    int32_t *buf = malloc(nbuf * sizeof(int32_t));
    assert_true(want && dense && buf);

    /* The independent answer: dense product over the same rows. */
    const int16_t *wr0 = c->w + (size_t)c->row0 * c->K;
    if (c->s8)
        bp_ref_dense_s8(wr0, c->K, c->nrows, c->K, x, c->ldx, c->np, dense, c->np);
    else
        bp_ref_dense_u8(wr0, c->K, c->nrows, c->K, x, c->ldx, c->np, dense, c->np);

    int fails = 0;
    bp_planes_buf pb;
    bp_csr_buf cb;
    void *idx4 = NULL;
    bp_planes planes;
    bp_csr csr;
    if (!k->csr) {
        int16_t maxabs = 0;
        for (size_t i = 0; i < (size_t)c->rows * c->K; i++)
            maxabs = (int16_t)(abs(c->w[i]) > maxabs ? abs(c->w[i]) : maxabs);
        uint32_t M = bp_digits_positions(maxabs, c->enc) + (uint32_t)c->mplus;
        if (M > BP_M_MAX)
            M = BP_M_MAX;
        assert_int_equal(bp_planes_from_dense(c->w, c->rows, c->K, c->enc, M, &pb), 0);
        planes = pb.p;
        if (c->idx4 && planes.idx_bytes == 2) {
            idx4 = kt_widen_idx(planes.idx, pb.ndigits);
            planes.idx = idx4;
            planes.idx_bytes = 4;
        }
        if (c->s8)
            bp_ref_bitplane_s8(&planes, c->row0, c->nrows, x, c->ldx, c->np, want, c->np);
        else
            bp_ref_bitplane_u8(&planes, c->row0, c->nrows, x, c->ldx, c->np, want, c->np);
    } else {
        assert_int_equal(bp_csr_from_dense(c->w, c->rows, c->K, &cb), 0);
        csr = cb.c;
        if (c->idx4 && csr.idx_bytes == 2) {
            idx4 = kt_widen_idx(csr.idx, cb.nnz);
            csr.idx = idx4;
            csr.idx_bytes = 4;
        }
        if (c->s8)
            bp_ref_csr_s8(&csr, c->row0, c->nrows, x, c->ldx, c->np, want, c->np);
        else
            bp_ref_csr_u8(&csr, c->row0, c->nrows, x, c->ldx, c->np, want, c->np);
    }
    /* The oracles must agree with each other before they judge a kernel. */
    if (nout && memcmp(want, dense, nout * sizeof(int32_t)) != 0) {
        kt_print_case("FAIL", k, ci, c, "-");
        printf("    ref oracle %s disagrees with bp_ref_dense\n", k->csr ? "csr" : "bitplane");
        fails++;
    }

    for (int use_aux = 0; use_aux < 2 && !fails; use_aux++) {
        void *aux = NULL;
        if (use_aux) {
            if (!k->csr) {
                aux = kt_aux_alloc(bp_planes_aux_size(&planes));
                bp_planes_aux_build(&planes, aux);
            } else {
                aux = kt_aux_alloc(bp_csr_aux_size(&csr));
                bp_csr_aux_build(&csr, aux);
            }
        } else {
            planes.aux = NULL;
            csr.aux = NULL;
        }
        for (size_t i = 0; i < nbuf; i++)
            buf[i] = KT_CANARY;
        int32_t *y = buf + KT_PAD;
        if (!k->csr) {
            if (c->s8)
                k->bp_s8(&planes, c->row0, c->nrows, x, c->ldx, c->np, y, c->ldy);
            else
                k->bp_u8(&planes, c->row0, c->nrows, x, c->ldx, c->np, y, c->ldy);
        } else {
            if (c->s8)
                k->csr_s8(&csr, c->row0, c->nrows, x, c->ldx, c->np, y, c->ldy);
            else
                k->csr_u8(&csr, c->row0, c->nrows, x, c->ldx, c->np, y, c->ldy);
        }
        if (kt_check_out(buf, want, c)) {
            kt_print_case("FAIL", k, ci, c, use_aux ? "built" : "NULL");
            fails++;
        }
        free(aux);
    }

    free(idx4);
    if (!k->csr)
        bp_planes_buf_free(&pb);
    else
        bp_csr_buf_free(&cb);
    free(want);
    free(dense);
    free(buf);
    kt_guard_free(&g);
    return fails;
}

/* Why a kernel of `isa` cannot run here: 0 it can; 1 the host lacks the
 * ISA; 2 (when honour_env) BP_ISA caps below it, and the capped test setups
 * run as a host of that level would. Prints the reason. */
static int kt_isa_skip(const char *name, bp_isa isa, int honour_env)
{
    if (!(bp_cpu_isa_mask() & BP_ISA_BIT(isa))) {
        printf("  %s: host lacks %s, not run\n", name, bp_isa_name(isa));
        return 1;
    }
    if (honour_env && !(bp_isa_mask_from_env() & BP_ISA_BIT(isa))) {
        printf("  %s: above BP_ISA=%s, not run\n", name, getenv("BP_ISA"));
        return 2;
    }
    return 0;
}

/* The closing table's word for a kernel. */
static const char *kt_run_status(int skipped, unsigned cases)
{
    return skipped == 1 ? "skipped: host lacks ISA"
           : skipped == 2 ? "skipped: above BP_ISA"
           : cases ? "tested" : "not run";
}

static void test_conformance(void **state)
{
    kt_kernel *k = *state;
    if ((k->skipped = kt_isa_skip(k->name, k->isa, 1)))
        skip();
    const int s8 = k->bp_s8 || k->csr_s8;
    kt_rng r = {kt_seed};
    int fails = 0;
    for (unsigned i = 0; i < KT_NCASES && fails < 5; i++) {
        kt_case c;
        kt_make_case(&c, &r, i, s8);
        if (kt_verbose) /* names the case before a crash can hide it */
            kt_print_case("case", k, i, &c, "both");
        fails += kt_run_case(k, i, &c);
        kt_free_case(&c);
        k->cases++;
    }
    printf("  %-32s [%s] %u cases, %d failed\n", k->name, bp_isa_name(k->isa), k->cases, fails);
    assert_int_equal(fails, 0);
}

/* ------------------------------------------- quantize / epilogue kernels */

enum { KT_QU8, KT_QS8, KT_GELU, KT_EF32, KT_EU8, KT_ES8 };

typedef struct kt_epi_kernel {
    const char *name;
    bp_isa isa;
    int kind;
    bp_quantize_u8_fn_t *qu8;
    bp_quantize_s8_fn_t *qs8;
    bp_gelu_f32_fn_t *gelu;
    bp_epilogue_f32_fn_t *ef32;
    bp_epilogue_u8_fn_t *eu8;
    bp_epilogue_s8_fn_t *es8;
    unsigned cases;
    int skipped;
} kt_epi_kernel;

#define KT_K_quantize_u8 KT_QU8, .qu8
#define KT_K_quantize_s8 KT_QS8, .qs8
#define KT_K_gelu_f32 KT_GELU, .gelu
#define KT_K_epilogue_f32 KT_EF32, .ef32
#define KT_K_epilogue_u8 KT_EU8, .eu8
#define KT_K_epilogue_s8 KT_ES8, .es8
#define KT_EPI_ENTRY(kind, fn, lv) { #fn, lv, KT_K_##kind = fn },
static kt_epi_kernel kt_epi_kernels[] = {
    BP_EPILOGUE_KERNELS(KT_EPI_ENTRY)
};
#define KT_NEPI (sizeof(kt_epi_kernels) / sizeof(kt_epi_kernels[0]))

static float kt_f32_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t kt_bits_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Equal bits, or both NaN (a NaN's payload is not part of the arithmetic:
 * IEEE leaves it open which operand's payload an operation passes on). */
static int kt_same_f32(float a, float b)
{
    return kt_bits_f32(a) == kt_bits_f32(b) || (a != a && b != b);
}

/* Quantizer inputs: scale multiples at and around the ties and bounds,
 * specials (NaN, +-inf, +-0, subnormals, huge), and plain random values. */
static float kt_quant_input(kt_rng *r, float scale)
{
    static const float ties[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 126.5f, 127.5f, 128.5f,
                                 -127.5f, -128.5f, -129.5f, 254.5f, 255.5f, 256.5f, 255.0f,
                                 127.0f, -128.0f, 0.49999997f, -0.49999997f};
    switch (kt_below(r, 8)) {
    case 0: return ties[kt_below(r, sizeof ties / sizeof ties[0])] * scale;
    case 1: {
        static const uint32_t sp[] = {0x7fc00000u, 0xffc00000u, 0x7fa00001u, 0x7f800000u,
                                      0xff800000u, 0x00000000u, 0x80000000u, 0x00000001u,
                                      0x807fffffu, 0x7f7fffffu, 0xff7fffffu, 0x4b400000u};
        return kt_f32_bits(sp[kt_below(r, sizeof sp / sizeof sp[0])]);
    }
    case 2: /* one ulp either side of a tie */
        return nextafterf((float)kt_range(r, -300, 300) * 0.5f * scale,
                          kt_below(r, 2) ? INFINITY : -INFINITY);
    case 3: return (float)kt_range(r, -300, 300) * scale;
    default: return ((float)kt_range(r, -40000, 40000) / 100.0f) * scale;
    }
}

/* GELU inputs: around each interval edge (|x|/sqrt2 = 1..6), specials, a
 * wide random range. */
static float kt_gelu_input(kt_rng *r)
{
    switch (kt_below(r, 4)) {
    case 0: {
        float e = (float)(1 + kt_below(r, 6)) * 1.41421356f;
        float v = e;
        for (int k = kt_range(r, -3, 3); k != 0; k += k > 0 ? -1 : 1)
            v = nextafterf(v, k > 0 ? INFINITY : 0.0f);
        return kt_below(r, 2) ? -v : v;
    }
    case 1: return kt_quant_input(r, 1.0f);
    default: return (float)kt_range(r, -1200000, 1200000) / 100000.0f;
    }
}

/* The independent quantizer: round-half-even with nearbyintf, clamps after. */
static int kt_quant_indep(float x, float inv, int s8)
{
    float v = x * inv;
    if (v != v) return 0;
    float lo = s8 ? -128.0f : 0.0f, hi = s8 ? 127.0f : 255.0f;
    float q = nearbyintf(v);
    return (int)(q < lo ? lo : q > hi ? hi : q);
}

static int kt_check_bytes(const uint8_t *got, const uint8_t *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            printf("    %s: byte %zu: got %u want %u\n", what, i, got[i], want[i]);
            return 1;
        }
    return 0;
}

/* One quantize case of n elements; returns failures. */
static int kt_epi_quant_case(const kt_epi_kernel *k, kt_rng *r, size_t n)
{
    const int s8 = k->kind == KT_QS8;
    const float scale = kt_below(r, 3) == 0 ? 1.0f : (float)kt_range(r, 1, 1000) / 997.0f;
    const float inv = 1.0f / scale;
    kt_guarded gx, gq;
    float *x = kt_guard_alloc(&gx, n * sizeof(float), kt_below(r, 2));
    uint8_t *q = kt_guard_alloc(&gq, n, 0); /* writes past the end fault */
    uint8_t *want = malloc(n + 1), *indep = malloc(n + 1);
    assert_true(want && indep);
    for (size_t i = 0; i < n; i++) x[i] = kt_quant_input(r, scale);
    memset(q, 0xA5, n);
    if (s8) {
        bp_quantize_s8_scalar(x, (int8_t *)want, n, inv);
        k->qs8(x, (int8_t *)q, n, inv);
    } else {
        bp_quantize_u8_scalar(x, want, n, inv);
        k->qu8(x, q, n, inv);
    }
    for (size_t i = 0; i < n; i++) {
        int v = kt_quant_indep(x[i], inv, s8);
        indep[i] = s8 ? (uint8_t)(int8_t)v : (uint8_t)v;
    }
    int f = kt_check_bytes(want, indep, n, "scalar oracle vs nearbyintf quantizer");
    f += kt_check_bytes(q, want, n, k->name);
    if (f) printf("    n=%zu inv=%a (seed %" PRIu64 ")\n", n, (double)inv, kt_seed);
    free(want);
    free(indep);
    kt_guard_free(&gx);
    kt_guard_free(&gq);
    return f;
}

static int kt_check_f32(const float *got, const float *want, size_t n, const float *x,
                        const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!kt_same_f32(got[i], want[i])) {
            printf("    %s: element %zu (x=%a): got %a want %a\n", what, i,
                   x ? (double)x[i] : 0.0, (double)got[i], (double)want[i]);
            return 1;
        }
    return 0;
}

static int kt_epi_gelu_case(const kt_epi_kernel *k, kt_rng *r, size_t n)
{
    kt_guarded gx, gy;
    float *x = kt_guard_alloc(&gx, n * sizeof(float), kt_below(r, 2));
    float *y = kt_guard_alloc(&gy, n * sizeof(float), 0);
    float *want = malloc(n * sizeof(float) + 4), *xc = malloc(n * sizeof(float) + 4);
    assert_true(want && xc);
    for (size_t i = 0; i < n; i++) x[i] = kt_gelu_input(r);
    memcpy(xc, x, n * sizeof(float));
    for (size_t i = 0; i < n; i++) want[i] = bp_gelu(x[i]);
    int f = 0;
    /* the scalar definition: within 1 ulp of x/2 (1 + erf(x/sqrt2)) in long
     * double for x >= -6, absolutely tiny below (formats/SPEC.md 7.3) */
    for (size_t i = 0; i < n && !f; i++) {
        float v = x[i];
        if (v != v || isinf(v)) continue;
        long double e = 0.5L * v * (1.0L + erfl((long double)v / sqrtl(2.0L)));
        float ef = (float)e;
        if (v >= -6.0f ? fabsf(want[i] - ef) > fabsf(nextafterf(ef, INFINITY) - ef) * 1.01f
                       : fabsl((long double)want[i] - e) > 1e-15L) {
            printf("    bp_gelu(%a) = %a, erfl says %a\n", (double)v, (double)want[i],
                   (double)ef);
            f++;
        }
    }
    k->gelu(x, y, n);
    f += kt_check_f32(y, want, n, x, k->name);
    k->gelu(x, x, n); /* in place */
    f += kt_check_f32(x, want, n, xc, "in place");
    if (f) printf("    n=%zu (seed %" PRIu64 ")\n", n, kt_seed);
    free(want);
    free(xc);
    kt_guard_free(&gx);
    kt_guard_free(&gy);
    return f;
}

/* Accumulators: small, large (|acc| > 2^24 rounds when converted), extremes. */
static int32_t kt_acc_value(kt_rng *r)
{
    switch (kt_below(r, 6)) {
    case 0: return kt_below(r, 2) ? INT32_MAX : INT32_MIN;
    case 1: return (int32_t)(kt_next(r) >> 32);
    case 2: return kt_range(r, -(1 << 25), 1 << 25) | 1;
    case 3: return 0;
    default: return kt_range(r, -300000, 300000);
    }
}

/* One epilogue case: nrows rows of n with strides, optional residual (maybe
 * in place), each activation; returns failures. */
static int kt_epi_rows_case(const kt_epi_kernel *k, kt_rng *r, size_t nrows, size_t n)
{
    const int out = k->kind == KT_EF32 ? 0 : k->kind == KT_EU8 ? 1 : 2;
    const size_t esz = out == 0 ? sizeof(float) : 1;
    const size_t lda = n + (kt_below(r, 2) ? 0 : kt_below(r, 20));
    const size_t ldy = n + (kt_below(r, 2) ? 0 : 1 + kt_below(r, 9));
    const int has_res = kt_below(r, 2);
    const int inplace = out == 0 && has_res && kt_below(r, 2);
    const size_t ldr = inplace ? ldy : n + (kt_below(r, 2) ? 0 : kt_below(r, 5));
    const size_t na = nrows ? (nrows - 1) * lda + n : 0;
    const size_t ny = nrows ? (nrows - 1) * ldy + n : 0;
    const size_t nr = nrows ? (nrows - 1) * ldr + n : 0;
    kt_guarded ga, gy, gr;
    int32_t *acc = kt_guard_alloc(&ga, na * sizeof(int32_t), kt_below(r, 2));
    void *y = kt_guard_alloc(&gy, ny * esz, 0);
    float *res = inplace ? (float *)y : kt_guard_alloc(&gr, nr * sizeof(float), kt_below(r, 2));
    float *scale = malloc((nrows + 1) * sizeof(float)), *bias = malloc((nrows + 1) * sizeof(float));
    float *resc = malloc(nr * sizeof(float) + 4);
    uint8_t *want = malloc(ny * esz + 4);
    assert_true(scale && bias && resc && want);
    for (size_t i = 0; i < na; i++) acc[i] = kt_acc_value(r);
    for (size_t j = 0; j < nrows; j++) {
        scale[j] = kt_below(r, 8) == 0 ? -(float)kt_range(r, 1, 100) * 1e-4f
                                       : (float)kt_range(r, 1, 100000) * 1e-7f;
        bias[j] = kt_below(r, 8) == 0 ? kt_quant_input(r, 1.0f)
                                      : (float)kt_range(r, -1000, 1000) / 256.0f;
    }
    const float inv = (float)kt_range(r, 1, 4000) / 97.0f;
    for (int act = BP_EPI_NONE; act <= BP_EPI_GELU; act++) {
        /* fill y (and so an in-place residual) and the reference copy */
        memset(y, 0xA5, ny * esz);
        for (size_t i = 0; has_res && i < nr; i++) {
            float v = kt_below(r, 10) == 0 ? kt_quant_input(r, 1.0f)
                                            : (float)kt_range(r, -5000, 5000) / 1000.0f;
            if (inplace && i % ldy >= n) continue; /* gaps keep their canary */
            res[i] = v;
        }
        if (has_res) memcpy(resc, res, nr * sizeof(float));
        bp_epi_rows e = {acc, lda, scale, bias, has_res ? resc : NULL, ldr, (bp_epi_act)act, inv};
        /* the reference: bp_arith.h written out here, element by element */
        for (size_t j = 0; j < nrows; j++)
            for (size_t i = 0; i < n; i++) {
                float t = bp_epilogue(acc[j * lda + i], scale[j], bias[j]);
                if (has_res) t = t + resc[j * ldr + i];
                t = act == BP_EPI_RELU ? bp_relu(t) : act == BP_EPI_GELU ? bp_gelu(t) : t;
                if (out == 0) ((float *)want)[j * ldy + i] = t;
                else if (out == 1) want[j * ldy + i] = bp_quant_u8(t, inv);
                else want[j * ldy + i] = (uint8_t)bp_quant_s8(t, inv);
            }
        /* the scalar kernel is the oracle; it must match the written-out form */
        void *sy = malloc(ny * esz + 4);
        assert_non_null(sy);
        memcpy(sy, want, ny * esz);
        if (out == 0) bp_epilogue_f32_scalar(&e, nrows, n, sy, ldy);
        else if (out == 1) bp_epilogue_u8_scalar(&e, nrows, n, sy, ldy);
        else bp_epilogue_s8_scalar(&e, nrows, n, sy, ldy);
        e.res = has_res ? res : NULL;
        if (out == 0) k->ef32(&e, nrows, n, y, ldy);
        else if (out == 1) k->eu8(&e, nrows, n, y, ldy);
        else k->es8(&e, nrows, n, y, ldy);
        int f = 0;
        for (size_t j = 0; j < nrows && !f; j++) {
            size_t o = j * ldy;
            if (out == 0) {
                f += kt_check_f32((float *)sy + o, (float *)want + o, n, NULL, "scalar oracle");
                f += kt_check_f32((float *)y + o, (float *)want + o, n, NULL, k->name);
            } else {
                f += kt_check_bytes((uint8_t *)sy + o, want + o, n, "scalar oracle");
                f += kt_check_bytes((uint8_t *)y + o, want + o, n, k->name);
            }
            /* the gap after each row but the last is untouched */
            for (size_t b = n * esz; j + 1 < nrows && b < ldy * esz && !f; b++)
                if (((uint8_t *)y)[o * esz + b] != 0xA5) {
                    printf("    row %zu: write between rows at byte %zu\n", j, b);
                    f++;
                }
        }
        free(sy);
        if (f) {
            printf("    nrows=%zu n=%zu lda=%zu ldy=%zu ldr=%zu res=%d inplace=%d act=%d "
                   "(seed %" PRIu64 ")\n", nrows, n, lda, ldy, ldr, has_res, inplace, act,
                   kt_seed);
            free(scale); free(bias); free(resc); free(want);
            kt_guard_free(&ga); kt_guard_free(&gy);
            if (!inplace) kt_guard_free(&gr);
            return f;
        }
    }
    free(scale);
    free(bias);
    free(resc);
    free(want);
    kt_guard_free(&ga);
    kt_guard_free(&gy);
    if (!inplace) kt_guard_free(&gr);
    return 0;
}

/* Lengths: every tail 0..70, then a few long runs. */
#define KT_EPI_NLEN 86
static size_t kt_epi_len(kt_rng *r, unsigned i)
{
    return i <= 70 ? i : 71 + kt_below(r, i < 80 ? 200 : 3000);
}

static void test_epi_conformance(void **state)
{
    kt_epi_kernel *k = *state;
    if ((k->skipped = kt_isa_skip(k->name, k->isa, 0)))
        skip();
    kt_rng r = {kt_seed ^ 0xe7110ull};
    int fails = 0;
    for (unsigned i = 0; i < KT_EPI_NLEN && fails < 3; i++) {
        size_t n = kt_epi_len(&r, i);
        if (k->kind == KT_QU8 || k->kind == KT_QS8) fails += kt_epi_quant_case(k, &r, n);
        else if (k->kind == KT_GELU) fails += kt_epi_gelu_case(k, &r, n);
        else fails += kt_epi_rows_case(k, &r, i == 3 ? 0 : 1 + kt_below(&r, 4), n);
        k->cases++;
    }
    printf("  %-32s [%s] %u cases, %d failed\n", k->name, bp_isa_name(k->isa), k->cases, fails);
    assert_int_equal(fails, 0);
}

/* GELU over every 776th bit pattern (5.5 million floats, both signs, all
 * exponents, NaNs and infinities): each SIMD kernel equals bp_gelu bit for
 * bit. */
static void test_gelu_sweep(void **state)
{
    (void)state;
    enum { B = 4096 };
    static float x[B], want[B], got[B];
    const unsigned cpu = bp_cpu_isa_mask();
    size_t nk = 0;
    for (size_t i = 0; i < KT_NEPI; i++) {
        const kt_epi_kernel *k = &kt_epi_kernels[i];
        if (k->kind != KT_GELU || k->isa == BP_ISA_SCALAR || !(cpu & BP_ISA_BIT(k->isa)))
            continue;
        nk++;
        size_t fill = 0;
        for (uint64_t u = 0; u <= UINT32_MAX; u += 97 * 8) {
            x[fill++] = kt_f32_bits((uint32_t)u);
            if (fill == B || u + 97 * 8 > UINT32_MAX) {
                for (size_t j = 0; j < fill; j++) want[j] = bp_gelu(x[j]);
                k->gelu(x, got, fill);
                if (kt_check_f32(got, want, fill, x, k->name)) fail();
                fill = 0;
            }
        }
    }
    printf("  gelu sweep: %zu SIMD kernel(s) checked\n", nk);
}

/* ------------------------------------------------------------ row ops */

/* Every entry of BP_ROWOP_KERNELS against a reference written out here from
 * the bp_kernels.h contract (and so the scalar entry too), and every SIMD
 * entry against the scalar entry, bit for bit: odd lengths and every tail
 * 0..70, strides with gaps that must stay untouched, guarded inputs, and
 * NaN, infinities, signed zeros, subnormals and huge values for the float
 * ones. */

typedef struct kt_ro_kernel {
    const char *name;
    const char *kind;
    bp_isa isa;
    void (*any)(void);
    bp_tap_acc_u8_fn_t *tap_acc_u8;
    bp_tap_acc_s8_fn_t *tap_acc_s8;
    bp_s2d_u8_fn_t *s2d_u8;
    bp_ln_stats_fn_t *ln_stats;
    bp_ln_rows_fn_t *ln_rows;
    bp_softmax_f32_fn_t *softmax_f32;
    bp_sigmoid_f32_fn_t *sigmoid_f32;
    bp_quantize_s8u_fn_t *quantize_s8u;
    unsigned cases;
    int skipped; /* 1: host lacks the ISA, 2: above BP_ISA */
} kt_ro_kernel;

#define KT_RO_ENTRY(kind, fn, lv) { #fn, #kind, lv, (void (*)(void))fn, .kind = fn },
static kt_ro_kernel kt_ro_kernels[] = {
    BP_ROWOP_KERNELS(KT_RO_ENTRY)
};
#define KT_NRO (sizeof(kt_ro_kernels) / sizeof(kt_ro_kernels[0]))

/* Floats for the row ops: mostly plain values in [-8, 8], sometimes a
 * special (NaN, +-inf, +-0, subnormal, huge) or a large value. */
static float kt_ro_float(kt_rng *r, int specials)
{
    static const uint32_t sp[] = {0x7fc00000u, 0xffc00001u, 0x7f800000u, 0xff800000u,
                                  0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu,
                                  0x7f7fffffu, 0xff7fffffu, 0x42c80000u, 0xc2c80000u};
    unsigned u = kt_below(r, 40);
    if (specials && u == 0) return kt_f32_bits(sp[kt_below(r, sizeof sp / sizeof sp[0])]);
    if (u == 1) return (float)kt_range(r, -200000, 200000) / 1000.0f;
    return (float)kt_range(r, -800000, 800000) / 100000.0f;
}

static int kt_same_f64(double a, double b)
{
    uint64_t x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    return x == y || (a != a && b != b);
}

static int kt_check_f64(const double *got, const double *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!kt_same_f64(got[i], want[i])) {
            printf("    %s: element %zu: got %a want %a\n", what, i, got[i], want[i]);
            return 1;
        }
    return 0;
}

/* Bytes [0, n) of p outside the runs that must stay 0xA5: a run of len at
 * every multiple of ld below n is skipped. */
static int kt_check_gaps(const uint8_t *p, size_t n, size_t ld, size_t len, const char *what)
{
    for (size_t b = 0; b < n; b++)
        if ((ld == 0 || b % ld >= len) && p[b] != 0xA5) {
            printf("    %s: write outside the runs at byte %zu\n", what, b);
            return 1;
        }
    return 0;
}

static int kt_ro_tap_case(const kt_ro_kernel *k, kt_rng *r, size_t n)
{
    const int s8 = k->tap_acc_s8 != NULL;
    const size_t sx = kt_below(r, 2) ? 1 : 1 + kt_below(r, 4);
    const uint32_t nt = kt_below(r, 8) == 0 ? 0 : 1 + kt_below(r, 40);
    const int csr = (int)kt_below(r, 2);
    const uint32_t span = kt_below(r, 300);
    bp_tap *t = malloc((nt + 1) * sizeof *t);
    assert_non_null(t);
    for (uint32_t d = 0; d < nt; d++) {
        t[d].off = kt_below(r, span + 1);
        t[d].sh = csr ? 0 : (uint16_t)kt_below(r, BP_M_MAX);
        t[d].neg = csr ? 0 : (uint16_t)kt_below(r, 2);
        t[d].val = csr ? (kt_below(r, 8) == 0 ? (kt_below(r, 2) ? BP_W_MAX : -BP_W_MAX)
                                              : kt_range(r, -BP_W_MAX, BP_W_MAX))
                       : 0;
    }
    /* the input reaches exactly to the last element read: off <= span */
    const size_t nx = n ? span + (n - 1) * sx + 1 : span + 1;
    kt_guarded gx, ga;
    uint8_t *x = kt_guard_alloc(&gx, nx, 0);
    uint32_t *acc = kt_guard_alloc(&ga, n * sizeof(uint32_t), 0);
    uint32_t *want = malloc((n + 1) * sizeof *want), *sc = malloc((n + 1) * sizeof *sc);
    assert_true(want && sc);
    const int xmode = (int)kt_below(r, 3);
    for (size_t i = 0; i < nx; i++)
        x[i] = xmode == 0 ? (uint8_t)kt_below(r, 256) : xmode == 1 ? (s8 ? 0x80 : 0xFF)
                                                                    : (kt_below(r, 2) ? 0x7F : 0x80);
    /* int64 sums, wrapped to 32 bits */
    for (size_t i = 0; i < n; i++) {
        int64_t s = 0;
        for (uint32_t d = 0; d < nt; d++) {
            uint8_t b = x[t[d].off + i * sx];
            int64_t v = s8 ? (int64_t)(int8_t)b : (int64_t)b;
            if (csr) s += (int64_t)t[d].val * v;
            else s += (t[d].neg ? -1 : 1) * v * ((int64_t)1 << t[d].sh);
        }
        want[i] = (uint32_t)(uint64_t)s;
    }
    memset(acc, 0xA5, n * sizeof *acc);
    memset(sc, 0xA5, n * sizeof *sc);
    if (s8) {
        bp_tap_acc_s8_scalar(sc, (const int8_t *)x, n, sx, t, nt, csr);
        k->tap_acc_s8(acc, (const int8_t *)x, n, sx, t, nt, csr);
    } else {
        bp_tap_acc_u8_scalar(sc, x, n, sx, t, nt, csr);
        k->tap_acc_u8(acc, x, n, sx, t, nt, csr);
    }
    int f = kt_check_bytes((uint8_t *)sc, (uint8_t *)want, n * 4, "scalar vs int64 sums");
    f += kt_check_bytes((uint8_t *)acc, (uint8_t *)sc, n * 4, k->name);
    if (f)
        printf("    n=%zu sx=%zu nt=%u csr=%d span=%u (seed %" PRIu64 ")\n", n, sx, nt, csr,
               span, kt_seed);
    free(t);
    free(want);
    free(sc);
    kt_guard_free(&gx);
    kt_guard_free(&ga);
    return f;
}

static int kt_ro_s2d_case(const kt_ro_kernel *k, kt_rng *r, size_t len)
{
    const size_t kh = 1 + kt_below(r, 4), kw = 1 + kt_below(r, 5);
    const size_t OW = len % 41, OH = len <= 70 ? kt_below(r, 5) : 1 + kt_below(r, 12);
    const size_t W = OW * kw + kt_below(r, 3);
    const size_t P = OH * OW + (kt_below(r, 2) ? 0 : kt_below(r, 9));
    const size_t nsrc = OH ? (OH * kh - 1) * W + OW * kw : 0;
    const size_t ndst = (kh * kw - 1) * P + OH * OW;
    kt_guarded gs, gd;
    uint8_t *src = kt_guard_alloc(&gs, nsrc, kt_below(r, 2));
    uint8_t *dst = kt_guard_alloc(&gd, ndst, 0);
    uint8_t *want = malloc(ndst + 1), *sc = malloc(ndst + 1);
    assert_true(want && sc);
    for (size_t i = 0; i < nsrc; i++) src[i] = (uint8_t)kt_below(r, 256);
    memset(want, 0xA5, ndst);
    for (size_t oy = 0; oy < OH; oy++)
        for (size_t ox = 0; ox < OW; ox++)
            for (size_t dy = 0; dy < kh; dy++)
                for (size_t dx = 0; dx < kw; dx++)
                    want[(dy * kw + dx) * P + oy * OW + ox] = src[(oy * kh + dy) * W + ox * kw + dx];
    memset(sc, 0xA5, ndst);
    memset(dst, 0xA5, ndst);
    bp_s2d_u8_scalar(src, W, sc, P, OH, OW, kh, kw);
    k->s2d_u8(src, W, dst, P, OH, OW, kh, kw);
    int f = kt_check_bytes(sc, want, ndst, "scalar vs index formula");
    f += kt_check_bytes(dst, sc, ndst, k->name);
    f += kt_check_gaps(dst, ndst, P, OH * OW, k->name);
    if (f)
        printf("    OH=%zu OW=%zu kh=%zu kw=%zu W=%zu P=%zu (seed %" PRIu64 ")\n", OH, OW, kh, kw,
               W, P, kt_seed);
    free(want);
    free(sc);
    kt_guard_free(&gs);
    kt_guard_free(&gd);
    return f;
}

/* LayerNorm: np pixels over C rows of stride HW; stats, then rows c0..c1-1. */
static int kt_ro_ln_case(const kt_ro_kernel *k, kt_rng *r, size_t np)
{
    const size_t C = kt_below(r, 6) == 0 ? 1 + kt_below(r, 300) : 1 + kt_below(r, 24);
    const size_t HW = np + (kt_below(r, 2) ? 0 : 1 + kt_below(r, 7));
    static const float epss[] = {1e-5f, 1e-6f, 0.0f, 0.25f};
    const float eps = epss[kt_below(r, 4)];
    const int specials = kt_below(r, 3) == 0;
    const size_t nx = (C - 1) * HW + np;
    kt_guarded gx, gy;
    float *x = kt_guard_alloc(&gx, nx * sizeof(float), kt_below(r, 2));
    for (size_t i = 0; i < nx; i++) x[i] = kt_ro_float(r, specials);
    if (np && kt_below(r, 4) == 0) /* a constant pixel: variance 0 */
        for (size_t c = 0, p = kt_below(r, (uint32_t)np); c < C; c++) x[c * HW + p] = 1.5f;
    double *mean = malloc((np + 1) * sizeof(double)), *rs = malloc((np + 1) * sizeof(double));
    double *wm = malloc((np + 1) * sizeof(double)), *wr = malloc((np + 1) * sizeof(double));
    double *sm = malloc((np + 1) * sizeof(double)), *sr = malloc((np + 1) * sizeof(double));
    assert_true(mean && rs && wm && wr && sm && sr);
    /* formats/SPEC.md 7.1 LAYERNORM, pixel by pixel */
    for (size_t p = 0; p < np; p++) {
        double s = 0.0;
        for (size_t c = 0; c < C; c++) s += (double)x[c * HW + p];
        wm[p] = s / (double)C;
        double v = 0.0;
        for (size_t c = 0; c < C; c++) {
            double d = (double)x[c * HW + p] - wm[p];
            v += d * d;
        }
        wr[p] = 1.0 / sqrt(v / (double)C + (double)eps);
    }
    bp_ln_stats_scalar(x, eps, C, HW, np, sm, sr);
    int f = 0;
    if (k->ln_stats) {
        k->ln_stats(x, eps, C, HW, np, mean, rs);
        f += kt_check_f64(sm, wm, np, "scalar mean vs formula");
        f += kt_check_f64(sr, wr, np, "scalar 1/sd vs formula");
        f += kt_check_f64(mean, sm, np, k->name);
        f += kt_check_f64(rs, sr, np, k->name);
    } else {
        /* rows: statistics as computed, or made up (specials included) */
        if (kt_below(r, 3) == 0)
            for (size_t p = 0; p < np; p++) {
                sm[p] = (double)kt_ro_float(r, 1);
                sr[p] = (double)kt_ro_float(r, 1);
            }
        const size_t c0 = kt_below(r, (uint32_t)C), c1 = c0 + kt_below(r, (uint32_t)(C - c0 + 1));
        const size_t ys = np + (kt_below(r, 2) ? 0 : 1 + kt_below(r, 5));
        const size_t ny = c1 > c0 ? (c1 - c0 - 1) * ys + np : 0;
        float *g = malloc((C + 1) * sizeof(float)), *b = malloc((C + 1) * sizeof(float));
        float *want = malloc((ny + 1) * sizeof(float)), *sy = malloc((ny + 1) * sizeof(float));
        assert_true(g && b && want && sy);
        for (size_t c = 0; c < C; c++) {
            g[c] = kt_ro_float(r, specials);
            b[c] = kt_ro_float(r, specials);
        }
        float *y = kt_guard_alloc(&gy, ny * sizeof(float), 0);
        memset(y, 0xA5, ny * sizeof(float));
        memset(sy, 0xA5, ny * sizeof(float));
        memset(want, 0xA5, ny * sizeof(float));
        for (size_t c = c0; c < c1; c++)
            for (size_t p = 0; p < np; p++) {
                float t = (float)(((double)x[c * HW + p] - sm[p]) * sr[p]);
                t = t * g[c];
                want[(c - c0) * ys + p] = t + b[c];
            }
        bp_ln_rows_scalar(x, HW, sm, sr, g, b, c0, c1, sy, ys, np);
        k->ln_rows(x, HW, sm, sr, g, b, c0, c1, y, ys, np);
        f += kt_check_f32(sy, want, ny, NULL, "scalar rows vs formula");
        f += kt_check_f32(y, sy, ny, NULL, k->name);
        f += kt_check_gaps((const uint8_t *)y, ny * sizeof(float), ys * sizeof(float),
                           np * sizeof(float), k->name);
        /* in place: rows c0..c1-1 of x overwritten, the rest untouched */
        float *xi = malloc((nx + 1) * sizeof(float));
        assert_non_null(xi);
        memcpy(xi, x, nx * sizeof(float));
        k->ln_rows(xi, HW, sm, sr, g, b, c0, c1, xi + c0 * HW, HW, np);
        for (size_t i = 0; i < nx && !f; i++) {
            const size_t c = i / HW, p = i % HW;
            const float e = c >= c0 && c < c1 && p < np ? want[(c - c0) * ys + p] : x[i];
            if (!kt_same_f32(xi[i], e)) {
                printf("    in place: element %zu: got %a want %a\n", i, (double)xi[i],
                       (double)e);
                f++;
            }
        }
        free(xi);
        if (f) printf("    c0=%zu c1=%zu ys=%zu\n", c0, c1, ys);
        free(g);
        free(b);
        free(want);
        free(sy);
        kt_guard_free(&gy);
    }
    if (f)
        printf("    np=%zu C=%zu HW=%zu eps=%a (seed %" PRIu64 ")\n", np, C, HW, (double)eps,
               kt_seed);
    free(mean);
    free(rs);
    free(wm);
    free(wr);
    free(sm);
    free(sr);
    kt_guard_free(&gx);
    return f;
}

/* Softmax (strided rows, also in place) and sigmoid (also in place). */
static int kt_ro_exp_case(const kt_ro_kernel *k, kt_rng *r, size_t n)
{
    const int soft = k->softmax_f32 != NULL;
    const size_t st = soft && kt_below(r, 2) ? 1 + kt_below(r, 5) : 1;
    const size_t nx = n ? (n - 1) * st + 1 : 0;
    const int specials = kt_below(r, 3) == 0;
    const int shift = soft && kt_below(r, 4) == 0; /* values near +-100: exp clamps */
    kt_guarded gx, gy;
    float *x = kt_guard_alloc(&gx, nx * sizeof(float), kt_below(r, 2));
    float *y = kt_guard_alloc(&gy, nx * sizeof(float), 0);
    float *want = malloc((nx + 1) * sizeof(float)), *sy = malloc((nx + 1) * sizeof(float));
    float *xc = malloc((nx + 1) * sizeof(float));
    assert_true(want && sy && xc);
    for (size_t i = 0; i < nx; i++)
        x[i] = kt_ro_float(r, specials) * (shift ? 15.0f : 1.0f) + (shift ? 90.0f : 0.0f);
    memcpy(xc, x, nx * sizeof(float));
    memset(want, 0xA5, nx * sizeof(float));
    if (soft) { /* formats/SPEC.md 7.2 */
        float mx = -INFINITY;
        for (size_t i = 0; i < n; i++)
            if (x[i * st] > mx) mx = x[i * st];
        double s = 0.0;
        for (size_t i = 0; i < n; i++) {
            want[i * st] = bp_exp1((double)x[i * st] - (double)mx);
            s += (double)want[i * st];
        }
        for (size_t i = 0; i < n; i++) want[i * st] = (float)((double)want[i * st] / s);
    } else {
        for (size_t i = 0; i < n; i++) {
            double e = (double)bp_exp1(-(double)x[i]);
            want[i] = (float)(1.0 / (1.0 + e));
        }
    }
    memset(sy, 0xA5, nx * sizeof(float));
    memset(y, 0xA5, nx * sizeof(float));
    if (soft) {
        bp_softmax_f32_scalar(x, sy, n, st);
        k->softmax_f32(x, y, n, st);
    } else {
        bp_sigmoid_f32_scalar(x, sy, n);
        k->sigmoid_f32(x, y, n);
    }
    int f = kt_check_f32(sy, want, nx, xc, "scalar vs formula");
    f += kt_check_f32(y, sy, nx, xc, k->name);
    f += kt_check_gaps((const uint8_t *)y, nx * sizeof(float), st * sizeof(float), sizeof(float),
                       k->name);
    /* in place: the gaps keep the input */
    if (soft) k->softmax_f32(x, x, n, st);
    else k->sigmoid_f32(x, x, n);
    for (size_t i = 0; i < nx; i++)
        if (i % st) sy[i] = xc[i];
    f += kt_check_f32(x, sy, nx, xc, "in place");
    if (f) printf("    n=%zu st=%zu (seed %" PRIu64 ")\n", n, st, kt_seed);
    free(want);
    free(sy);
    free(xc);
    kt_guard_free(&gx);
    kt_guard_free(&gy);
    return f;
}

static int kt_ro_quant_case(const kt_ro_kernel *k, kt_rng *r, size_t n)
{
    const float scale = kt_below(r, 3) == 0 ? 1.0f : (float)kt_range(r, 1, 1000) / 997.0f;
    const float inv = 1.0f / scale;
    kt_guarded gx, gq;
    float *x = kt_guard_alloc(&gx, n * sizeof(float), kt_below(r, 2));
    uint8_t *q = kt_guard_alloc(&gq, n, 0);
    uint8_t *want = malloc(n + 1), *sq = malloc(n + 1);
    assert_true(want && sq);
    for (size_t i = 0; i < n; i++) x[i] = kt_quant_input(r, scale);
    for (size_t i = 0; i < n; i++) want[i] = (uint8_t)(kt_quant_indep(x[i], inv, 1) + 128);
    memset(q, 0xA5, n);
    bp_quantize_s8u_scalar(x, sq, n, inv);
    k->quantize_s8u(x, q, n, inv);
    int f = kt_check_bytes(sq, want, n, "scalar vs nearbyintf quantizer + 128");
    f += kt_check_bytes(q, sq, n, k->name);
    if (f) printf("    n=%zu inv=%a (seed %" PRIu64 ")\n", n, (double)inv, kt_seed);
    free(want);
    free(sq);
    kt_guard_free(&gx);
    kt_guard_free(&gq);
    return f;
}

static void test_ro_conformance(void **state)
{
    kt_ro_kernel *k = *state;
    if ((k->skipped = kt_isa_skip(k->name, k->isa, 1)))
        skip();
    kt_rng r = {kt_seed ^ 0x70305ull};
    int fails = 0;
    for (unsigned i = 0; i < KT_EPI_NLEN && fails < 3; i++) {
        size_t n = kt_epi_len(&r, i);
        for (int rep = 0; rep < 2 && !fails; rep++) {
            if (k->tap_acc_u8 || k->tap_acc_s8) fails += kt_ro_tap_case(k, &r, n);
            else if (k->s2d_u8) fails += kt_ro_s2d_case(k, &r, n);
            else if (k->ln_stats || k->ln_rows) fails += kt_ro_ln_case(k, &r, n % 300);
            else if (k->softmax_f32 || k->sigmoid_f32) fails += kt_ro_exp_case(k, &r, n);
            else fails += kt_ro_quant_case(k, &r, n);
            k->cases++;
        }
    }
    printf("  %-32s [%s] %u cases, %d failed\n", k->name, bp_isa_name(k->isa), k->cases, fails);
    assert_int_equal(fails, 0);
}

/* ------------------------------------------------------------- encodings */

static int kt_popcount(unsigned v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* Fewest nonzero digits of v over all signed-digit strings of BP_M_MAX
 * positions, by brute force over all 3^9 strings. */
static void kt_min_digits(int best[1023])
{
    for (int v = 0; v < 1023; v++)
        best[v] = 99;
    int d[BP_M_MAX];
    for (unsigned m = 0; m < BP_M_MAX; m++)
        d[m] = -1;
    for (;;) {
        int v = 0, n = 0;
        for (unsigned m = 0; m < BP_M_MAX; m++) {
            v += d[m] * (1 << m);
            n += d[m] != 0;
        }
        if (n < best[v + 511])
            best[v + 511] = n;
        unsigned m = 0;
        while (m < BP_M_MAX && d[m] == 1)
            d[m++] = -1;
        if (m == BP_M_MAX)
            break;
        d[m]++;
    }
}

static void test_digits_encode(void **state)
{
    (void)state;
    static int best[1023];
    kt_min_digits(best);
    for (int32_t w = -BP_W_MAX; w <= BP_W_MAX; w++) {
        int8_t db[BP_M_MAX], dc[BP_M_MAX];
        const int nb = bp_digits_encode(w, BP_ENC_BINARY, db);
        const int nc = bp_digits_encode(w, BP_ENC_CSD, dc);
        int vb = 0, vc = 0, cb = 0, cc = 0;
        for (unsigned m = 0; m < BP_M_MAX; m++) {
            assert_true(db[m] >= -1 && db[m] <= 1);
            assert_true(dc[m] >= -1 && dc[m] <= 1);
            vb += db[m] * (1 << m);
            vc += dc[m] * (1 << m);
            cb += db[m] != 0;
            cc += dc[m] != 0;
            /* binary: every digit carries the sign of w */
            if (db[m])
                assert_int_equal(db[m], w < 0 ? -1 : 1);
            /* NAF: no two adjacent nonzero digits */
            if (m + 1 < BP_M_MAX)
                assert_int_equal(dc[m] * dc[m + 1], 0);
        }
        assert_int_equal(vb, w);
        assert_int_equal(vc, w);
        assert_int_equal(nb, cb);
        assert_int_equal(nc, cc);
        assert_int_equal(nb, kt_popcount((unsigned)abs(w)));
        assert_true(nc <= nb);
        assert_int_equal(nc, best[w + 511]);
        if (w >= 0 && w < 256) /* binary never uses position 8 */
            assert_int_equal(db[8], 0);
    }
    int8_t d[BP_M_MAX];
    assert_int_equal(bp_digits_encode(256, BP_ENC_BINARY, d), -1);
    assert_int_equal(bp_digits_encode(-256, BP_ENC_CSD, d), -1);
    assert_int_equal(bp_digits_encode(INT32_MIN, BP_ENC_CSD, d), -1);
    /* spot values */
    assert_int_equal(bp_digits_encode(7, BP_ENC_CSD, d), 2);
    assert_int_equal(d[3], 1);
    assert_int_equal(d[0], -1);
    assert_int_equal(bp_digits_encode(-128, BP_ENC_BINARY, d), 1);
    assert_int_equal(d[7], -1);
}

static void test_digits_positions(void **state)
{
    (void)state;
    for (int enc = 0; enc < 2; enc++) {
        uint32_t need = 0;
        for (int32_t wmax = 0; wmax <= BP_W_MAX; wmax++) {
            int8_t d[BP_M_MAX];
            bp_digits_encode(wmax, (bp_encoding)enc, d);
            bp_digits_encode(-wmax, (bp_encoding)enc, d);
            for (unsigned m = 0; m < BP_M_MAX; m++)
                if (d[m] && m + 1 > need)
                    need = m + 1;
            assert_int_equal(bp_digits_positions(wmax, (bp_encoding)enc), need);
            assert_int_equal(bp_digits_positions(-wmax, (bp_encoding)enc), need);
        }
    }
    assert_int_equal(bp_digits_positions(255, BP_ENC_BINARY), 8);
    assert_int_equal(bp_digits_positions(255, BP_ENC_CSD), 9);
    assert_int_equal(bp_digits_positions(170, BP_ENC_CSD), 8);
    assert_int_equal(bp_digits_positions(171, BP_ENC_CSD), 9);
    assert_int_equal(bp_digits_positions(128, BP_ENC_BINARY), 8);
    assert_int_equal(bp_digits_positions(0, BP_ENC_BINARY), 0);
}

/* Structural checks on planes: row_ptr monotone from 0 to ndigits, each list
 * strictly increasing and < K. */
static void kt_check_planes(const bp_planes_buf *b)
{
    const bp_planes *p = &b->p;
    const uint64_t n = (uint64_t)p->rows * p->M * 2;
    assert_int_equal(p->row_ptr[0], 0);
    assert_int_equal(p->row_ptr[n], b->ndigits);
    assert_int_equal(p->idx_bytes, p->K <= 65535 ? 2 : 4);
    for (uint64_t e = 0; e < n; e++) {
        assert_true(p->row_ptr[e] <= p->row_ptr[e + 1]);
        for (uint32_t i = p->row_ptr[e]; i < p->row_ptr[e + 1]; i++) {
            const uint32_t k = p->idx_bytes == 2 ? ((const uint16_t *)p->idx)[i]
                                                 : ((const uint32_t *)p->idx)[i];
            assert_true(k < p->K);
            if (i > p->row_ptr[e]) {
                const uint32_t prev = p->idx_bytes == 2 ? ((const uint16_t *)p->idx)[i - 1]
                                                        : ((const uint32_t *)p->idx)[i - 1];
                assert_true(prev < k);
            }
        }
    }
}

static void test_planes_roundtrip(void **state)
{
    (void)state;
    kt_rng r = {kt_seed ^ 0xabcdefull};
    for (int t = 0; t < 40; t++) {
        const uint32_t rows = 1 + kt_below(&r, 6), K = 1 + kt_below(&r, 700);
        int16_t *w = malloc((size_t)rows * K * 2), *w2 = malloc((size_t)rows * K * 2);
        assert_true(w && w2);
        int16_t maxabs = 0;
        for (uint32_t j = 0; j < rows; j++)
            kt_fill_row(&r, w + (size_t)j * K, K, (int)kt_below(&r, KT_ROW_STYLES));
        for (size_t i = 0; i < (size_t)rows * K; i++)
            maxabs = (int16_t)(abs(w[i]) > maxabs ? abs(w[i]) : maxabs);
        for (int enc = 0; enc < 2; enc++) {
            const uint32_t M = bp_digits_positions(maxabs, (bp_encoding)enc);
            bp_planes_buf b;
            assert_int_equal(bp_planes_from_dense(w, rows, K, (bp_encoding)enc, M, &b), 0);
            kt_check_planes(&b);
            uint64_t digits = 0;
            for (size_t i = 0; i < (size_t)rows * K; i++) {
                int8_t d[BP_M_MAX];
                digits += (uint64_t)bp_digits_encode(w[i], (bp_encoding)enc, d);
            }
            assert_int_equal(b.ndigits, digits);
            bp_planes_to_dense(&b.p, w2);
            assert_memory_equal(w, w2, (size_t)rows * K * 2);
            bp_planes_buf_free(&b);
            /* One position fewer than needed must be refused. */
            if (M > 0) {
                assert_int_equal(bp_planes_from_dense(w, rows, K, (bp_encoding)enc, M - 1, &b), -1);
                assert_null(b.row_ptr);
            }
        }
        bp_csr_buf cb;
        assert_int_equal(bp_csr_from_dense(w, rows, K, &cb), 0);
        memset(w2, 0, (size_t)rows * K * 2);
        assert_int_equal(cb.c.row_ptr[0], 0);
        assert_int_equal(cb.c.row_ptr[rows], cb.nnz);
        for (uint32_t j = 0; j < rows; j++) {
            for (uint32_t i = cb.c.row_ptr[j]; i < cb.c.row_ptr[j + 1]; i++) {
                const uint32_t k = ((const uint16_t *)cb.c.idx)[i];
                assert_true(k < K);
                assert_true(cb.c.val[i] != 0);
                if (i > cb.c.row_ptr[j])
                    assert_true(((const uint16_t *)cb.c.idx)[i - 1] < k);
                w2[(size_t)j * K + k] = cb.c.val[i];
            }
        }
        assert_memory_equal(w, w2, (size_t)rows * K * 2);
        bp_csr_buf_free(&cb);
        free(w);
        free(w2);
    }
    /* Every weight in [-255, 255], one row, both encodings. */
    int16_t all[511], back[511];
    for (int i = 0; i < 511; i++)
        all[i] = (int16_t)(i - 255);
    for (int enc = 0; enc < 2; enc++) {
        bp_planes_buf b;
        assert_int_equal(bp_planes_from_dense(all, 1, 511, (bp_encoding)enc,
                                              enc ? 9 : 8, &b), 0);
        kt_check_planes(&b);
        bp_planes_to_dense(&b.p, back);
        assert_memory_equal(all, back, sizeof(all));
        bp_planes_buf_free(&b);
    }
    /* Bad input: weight beyond BP_W_MAX, M beyond BP_M_MAX. */
    int16_t bad[3] = {1, 256, 0};
    bp_planes_buf b;
    bp_csr_buf cb;
    assert_int_equal(bp_planes_from_dense(bad, 1, 3, BP_ENC_CSD, 9, &b), -1);
    assert_int_equal(bp_csr_from_dense(bad, 1, 3, &cb), -1);
    assert_int_equal(bp_planes_from_dense(all, 1, 511, BP_ENC_CSD, BP_M_MAX + 1, &b), -1);
    /* K > 65535: 32-bit indices. */
    const uint32_t K = 70000;
    int16_t *w = calloc(K, 2), *w2 = malloc(K * 2);
    assert_true(w && w2);
    w[0] = 3; w[65535] = -128; w[65536] = 255; w[K - 1] = 171;
    assert_int_equal(bp_planes_from_dense(w, 1, K, BP_ENC_CSD, 9, &b), 0);
    assert_int_equal(b.p.idx_bytes, 4);
    kt_check_planes(&b);
    bp_planes_to_dense(&b.p, w2);
    assert_memory_equal(w, w2, K * 2);
    bp_planes_buf_free(&b);
    assert_int_equal(bp_csr_from_dense(w, 1, K, &cb), 0);
    assert_int_equal(cb.c.idx_bytes, 4);
    assert_int_equal(cb.nnz, 4);
    assert_int_equal(((const uint32_t *)cb.c.idx)[2], 65536);
    bp_csr_buf_free(&cb);
    free(w);
    free(w2);
}

/* ------------------------------------------------------- cpu and dispatch */

static void test_cpu_mask(void **state)
{
    (void)state;
    const unsigned cpu = bp_cpu_isa_mask();
    bp_cpu_features f;
    bp_cpu_features_get(&f);
    assert_int_equal(f.isa_mask, cpu);
    printf("  cpu mask 0x%x:", cpu);
    for (int i = 0; i < BP_ISA_COUNT; i++)
        if (cpu & BP_ISA_BIT(i))
            printf(" %s", bp_isa_name((bp_isa)i));
    printf("; AMX-INT8 %s, AMX-BF16 %s\n", f.amx_int8 ? "yes" : "no", f.amx_bf16 ? "yes" : "no");
    assert_true(cpu & BP_ISA_BIT(BP_ISA_SCALAR));
    assert_int_equal(cpu & ~((1u << BP_ISA_COUNT) - 1), 0);
    if (cpu & BP_ISA_BIT(BP_ISA_AVX512VNNI))
        assert_true(cpu & BP_ISA_BIT(BP_ISA_AVX512));
    if (cpu & BP_ISA_BIT(BP_ISA_AVX512))
        assert_true(cpu & BP_ISA_BIT(BP_ISA_AVX2));
#if defined(__x86_64__)
    assert_false(cpu & BP_ISA_BIT(BP_ISA_NEON));
    /* libgcc's detector (cpuid + xgetbv) is an independent opinion. */
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                     __builtin_cpu_supports("bmi2");
    const int avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                       __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    assert_int_equal(!!(cpu & BP_ISA_BIT(BP_ISA_AVX2)), avx2);
    assert_int_equal(!!(cpu & BP_ISA_BIT(BP_ISA_AVX512)), avx512);
    assert_int_equal(!!(cpu & BP_ISA_BIT(BP_ISA_AVX512VNNI)),
                     avx512 && __builtin_cpu_supports("avx512vnni"));
#elif defined(__aarch64__)
    assert_int_equal(cpu, BP_ISA_BIT(BP_ISA_SCALAR) | BP_ISA_BIT(BP_ISA_NEON));
    assert_false(f.amx_int8 || f.amx_bf16);
#endif
}

/* Register values of made-up CPUs (bit positions from the Intel SDM:
 * leaf 1 ECX, leaf 7 subleaf 0 EBX/ECX/EDX, XCR0). */
#define KT_FMA (1u << 12)
#define KT_OSXSAVE (1u << 27)
#define KT_AVX (1u << 28)
#define KT_AVX2 (1u << 5)
#define KT_BMI2 (1u << 8)
#define KT_512F (1u << 16)
#define KT_512DQ (1u << 17)
#define KT_512BW (1u << 30)
#define KT_512VL (1u << 31)
#define KT_512ALL (KT_512F | KT_512DQ | KT_512BW | KT_512VL)
#define KT_VNNI (1u << 11)
#define KT_AMX_BF16 (1u << 22)
#define KT_AMX_TILE (1u << 24)
#define KT_AMX_INT8 (1u << 25)
#define KT_AMX_ALL (KT_AMX_BF16 | KT_AMX_TILE | KT_AMX_INT8)
#define KT_X_YMM 0x7ull      /* x87, SSE, AVX */
#define KT_X_ZMM 0xe7ull     /* + opmask, ZMM_Hi256, Hi16_ZMM */
#define KT_X_TILE 0x60000ull /* TILECFG, TILEDATA */
#define KT_M(...) kt_mask_of((const int[]){__VA_ARGS__, -1})

static unsigned kt_mask_of(const int *lv)
{
    unsigned m = 0;
    for (; *lv >= 0; lv++)
        m |= BP_ISA_BIT(*lv);
    return m;
}

static void test_cpu_decode(void **state)
{
    (void)state;
    const uint32_t l1 = KT_FMA | KT_OSXSAVE | KT_AVX, b2 = KT_AVX2 | KT_BMI2;
    const unsigned S = BP_ISA_SCALAR, A2 = BP_ISA_AVX2, A5 = BP_ISA_AVX512, VN = BP_ISA_AVX512VNNI;
    static const char *const what[] = {
        "AVX2 only", "AVX-512 without VNNI", "AVX-512 VNNI", "AMX (Sapphire Rapids)",
        "AMX, OS without tile state", "AMX-TILE + BF16 only", "AMX cpuid, no AVX-512 state",
        "OS saves YMM only: no AVX-512", "ZMM state without Hi16_ZMM", "OS saves no YMM",
        "OSXSAVE off", "AVX off", "no FMA", "no BMI2", "no AVX512BW", "no AVX512VL",
        "no AVX512DQ", "VNNI bit without AVX512F", "max leaf 6", "nothing",
    };
    const struct {
        bp_cpuid_regs r;
        unsigned mask;
        int amx_int8, amx_bf16;
    } cases[] = {
        {{13, l1, b2, 0, 0, KT_X_YMM}, KT_M(S, A2), 0, 0},
        {{13, l1, b2 | KT_512ALL, 0, 0, KT_X_ZMM}, KT_M(S, A2, A5), 0, 0},
        {{13, l1, b2 | KT_512ALL, KT_VNNI, 0, KT_X_ZMM}, KT_M(S, A2, A5, VN), 0, 0},
        {{13, l1, b2 | KT_512ALL, KT_VNNI, KT_AMX_ALL, KT_X_ZMM | KT_X_TILE},
         KT_M(S, A2, A5, VN), 1, 1},
        {{13, l1, b2 | KT_512ALL, KT_VNNI, KT_AMX_ALL, KT_X_ZMM | 0x20000}, KT_M(S, A2, A5, VN), 0, 0},
        {{13, l1, b2 | KT_512ALL, KT_VNNI, KT_AMX_TILE | KT_AMX_BF16, KT_X_ZMM | KT_X_TILE},
         KT_M(S, A2, A5, VN), 0, 1},
        {{13, l1, b2 | KT_512ALL, KT_VNNI, KT_AMX_ALL, KT_X_YMM | KT_X_TILE}, KT_M(S, A2), 1, 1},
        {{13, l1, b2 | KT_512ALL, KT_VNNI, 0, KT_X_YMM}, KT_M(S, A2), 0, 0},
        {{13, l1, b2 | KT_512ALL, KT_VNNI, 0, 0x67}, KT_M(S, A2), 0, 0},
        {{13, l1, b2 | KT_512ALL, KT_VNNI, 0, 0x3}, KT_M(S), 0, 0},
        {{13, l1 & ~KT_OSXSAVE, b2 | KT_512ALL, KT_VNNI, KT_AMX_ALL, KT_X_ZMM | KT_X_TILE},
         KT_M(S), 0, 0},
        {{13, l1 & ~KT_AVX, b2 | KT_512ALL, KT_VNNI, 0, KT_X_ZMM}, KT_M(S), 0, 0},
        {{13, l1 & ~KT_FMA, b2 | KT_512ALL, KT_VNNI, 0, KT_X_ZMM}, KT_M(S), 0, 0},
        {{13, l1, KT_AVX2 | KT_512ALL, KT_VNNI, 0, KT_X_ZMM}, KT_M(S), 0, 0},
        {{13, l1, b2 | (KT_512ALL & ~KT_512BW), KT_VNNI, 0, KT_X_ZMM}, KT_M(S, A2), 0, 0},
        {{13, l1, b2 | (KT_512ALL & ~KT_512VL), KT_VNNI, 0, KT_X_ZMM}, KT_M(S, A2), 0, 0},
        {{13, l1, b2 | (KT_512ALL & ~KT_512DQ), KT_VNNI, 0, KT_X_ZMM}, KT_M(S, A2), 0, 0},
        {{13, l1, b2 | (KT_512ALL & ~KT_512F), KT_VNNI, 0, KT_X_ZMM}, KT_M(S, A2), 0, 0},
        {{6, l1, b2 | KT_512ALL, KT_VNNI, KT_AMX_ALL, KT_X_ZMM | KT_X_TILE}, KT_M(S), 0, 0},
        {{0, 0, 0, 0, 0, 0}, KT_M(S), 0, 0},
    };
    assert_int_equal(sizeof(cases) / sizeof(cases[0]), sizeof(what) / sizeof(what[0]));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bp_cpu_features f;
        memset(&f, 0xa5, sizeof(f));
        bp_cpu_features_from_regs(&cases[i].r, &f);
        if (f.isa_mask != cases[i].mask || f.amx_int8 != cases[i].amx_int8 ||
            f.amx_bf16 != cases[i].amx_bf16) {
            printf("  %s: mask 0x%x amx_int8 %d amx_bf16 %d, expected 0x%x %d %d\n", what[i],
                   f.isa_mask, f.amx_int8, f.amx_bf16, cases[i].mask, cases[i].amx_int8,
                   cases[i].amx_bf16);
            fail();
        }
    }
}

/* Capping and BP_ISA values against made-up CPU masks. */
static void test_isa_cap_values(void **state)
{
    (void)state;
    const unsigned S = BP_ISA_SCALAR, A2 = BP_ISA_AVX2, A5 = BP_ISA_AVX512, VN = BP_ISA_AVX512VNNI;
    const unsigned vnni = KT_M(S, A2, A5, VN), avx2 = KT_M(S, A2), arm = KT_M(S, BP_ISA_NEON);
    assert_int_equal(bp_isa_mask_cap_of(vnni, BP_ISA_SCALAR), KT_M(S));
    assert_int_equal(bp_isa_mask_cap_of(vnni, BP_ISA_AVX2), KT_M(S, A2));
    assert_int_equal(bp_isa_mask_cap_of(vnni, BP_ISA_AVX512), KT_M(S, A2, A5));
    assert_int_equal(bp_isa_mask_cap_of(vnni, BP_ISA_AVX512VNNI), vnni);
    assert_int_equal(bp_isa_mask_cap_of(vnni, BP_ISA_NEON), vnni);
    assert_int_equal(bp_isa_mask_cap_of(vnni, BP_ISA_COUNT), vnni);
    assert_int_equal(bp_isa_mask_cap_of(avx2, BP_ISA_AVX512VNNI), avx2); /* never raises */
    assert_int_equal(bp_isa_mask_cap_of(arm, BP_ISA_AVX2), KT_M(S));
    assert_int_equal(bp_isa_mask_cap_of(arm, BP_ISA_NEON), arm);

    unsigned m = 0;
    assert_int_equal(bp_isa_mask_from_value(vnni, NULL, &m), 0);
    assert_int_equal(m, vnni);
    assert_int_equal(bp_isa_mask_from_value(vnni, "", &m), 0);
    assert_int_equal(m, vnni);
    assert_int_equal(bp_isa_mask_from_value(vnni, "avx2", &m), 0);
    assert_int_equal(m, KT_M(S, A2));
    assert_int_equal(bp_isa_mask_from_value(vnni, "AVX512", &m), 0);
    assert_int_equal(m, KT_M(S, A2, A5));
    assert_int_equal(bp_isa_mask_from_value(avx2, "avx512vnni", &m), 0);
    assert_int_equal(m, avx2);
    assert_int_equal(bp_isa_mask_from_value(arm, "scalar", &m), 0);
    assert_int_equal(m, KT_M(S));
    static const char *const bad[] = {"bogus", "avx2 ", "avx-512", "amx", "avx512_core"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = 0;
        assert_int_equal(bp_isa_mask_from_value(vnni, bad[i], &m), -1);
        assert_int_equal(m, vnni);
    }
}

static void test_isa_names(void **state)
{
    (void)state;
    for (int i = 0; i < BP_ISA_COUNT; i++)
        assert_int_equal(bp_isa_parse(bp_isa_name((bp_isa)i)), i);
    assert_int_equal(bp_isa_parse("scalar"), BP_ISA_SCALAR);
    assert_int_equal(bp_isa_parse("avx2"), BP_ISA_AVX2);
    assert_int_equal(bp_isa_parse("avx512"), BP_ISA_AVX512);
    assert_int_equal(bp_isa_parse("avx512vnni"), BP_ISA_AVX512VNNI);
    assert_int_equal(bp_isa_parse("neon"), BP_ISA_NEON);
    assert_int_equal(bp_isa_parse("sse9"), -1);
    assert_int_equal(bp_isa_parse(""), -1);
    assert_int_equal(bp_isa_parse(NULL), -1);
    assert_string_equal(bp_isa_name(BP_ISA_COUNT), "unknown");
    assert_int_equal(bp_isa_best(0), BP_ISA_SCALAR);
    assert_int_equal(bp_isa_best(BP_ISA_BIT(0)), BP_ISA_SCALAR);
    assert_int_equal(bp_isa_best(BP_ISA_BIT(0) | BP_ISA_BIT(1) | BP_ISA_BIT(2)), BP_ISA_AVX512);
    assert_int_equal(bp_isa_best(BP_ISA_BIT(0) | BP_ISA_BIT(BP_ISA_NEON)), BP_ISA_NEON);
    assert_int_equal(bp_isa_best(BP_ISA_BIT(BP_ISA_AVX2)), BP_ISA_AVX2);

    const unsigned cpu = bp_cpu_isa_mask();
    for (int cap = 0; cap < BP_ISA_COUNT; cap++) {
        const unsigned m = bp_isa_mask_cap((bp_isa)cap);
        assert_int_equal(m & ~cpu, 0);
        assert_true(m & BP_ISA_BIT(BP_ISA_SCALAR));
        for (int i = 0; i < BP_ISA_COUNT; i++)
            assert_int_equal(!!(m & BP_ISA_BIT(i)), i <= cap && (cpu & BP_ISA_BIT(i)));
    }
    assert_int_equal(bp_isa_mask_cap(BP_ISA_SCALAR), BP_ISA_BIT(BP_ISA_SCALAR));
}

/* The kernel the table should hold: the last list entry of the family and
 * activation type whose level is in mask. */
#define KT_EXPECT(family, at)                                                     \
static const char *kt_expect_##family##_##at(unsigned mask)                       \
{                                                                                 \
    const char *name = NULL;                                                      \
    for (size_t i = 0; i < KT_NKERNELS; i++) {                                    \
        const kt_kernel *k = &kt_kernels[i];                                      \
        if (k->family##_##at && (mask & BP_ISA_BIT(k->isa)))                      \
            name = k->name;                                                       \
    }                                                                             \
    return name;                                                                  \
}
KT_EXPECT(bp, u8)
KT_EXPECT(bp, s8)
KT_EXPECT(csr, u8)
KT_EXPECT(csr, s8)

static void kt_check_ro_entry(const char *kind, const char *name, void (*fn)(void),
                              unsigned eff)
{
    const char *want = NULL;
    void (*wfn)(void) = NULL;
    for (size_t i = 0; i < KT_NRO; i++)
        if (!strcmp(kt_ro_kernels[i].kind, kind) && (eff & BP_ISA_BIT(kt_ro_kernels[i].isa))) {
            want = kt_ro_kernels[i].name;
            wfn = kt_ro_kernels[i].any;
        }
    assert_non_null(name);
    assert_string_equal(name, want);
    assert_true(fn == wfn);
}

static void kt_check_table(const bp_kernel_table *t, unsigned mask)
{
    const unsigned eff = (mask & bp_cpu_isa_mask()) | BP_ISA_BIT(BP_ISA_SCALAR);
    assert_string_equal(t->bitplane_u8_name, kt_expect_bp_u8(eff));
    assert_string_equal(t->bitplane_s8_name, kt_expect_bp_s8(eff));
    assert_string_equal(t->csr_u8_name, kt_expect_csr_u8(eff));
    assert_string_equal(t->csr_s8_name, kt_expect_csr_s8(eff));
    assert_true(eff & BP_ISA_BIT(t->isa));
    /* quantize/epilogue family: the last entry of each kind within the mask */
#define KT_EXPECT_EPI(kind, fn, lv)                                          \
    if (eff & BP_ISA_BIT(lv)) {                                              \
        kt_want_##kind = #fn;                                                \
        kt_ptr_##kind = (void (*)(void))fn;                                  \
    }
    const char *kt_want_quantize_u8 = NULL, *kt_want_quantize_s8 = NULL, *kt_want_gelu_f32 = NULL,
               *kt_want_epilogue_f32 = NULL, *kt_want_epilogue_u8 = NULL,
               *kt_want_epilogue_s8 = NULL;
    void (*kt_ptr_quantize_u8)(void) = NULL, (*kt_ptr_quantize_s8)(void) = NULL,
         (*kt_ptr_gelu_f32)(void) = NULL, (*kt_ptr_epilogue_f32)(void) = NULL,
         (*kt_ptr_epilogue_u8)(void) = NULL, (*kt_ptr_epilogue_s8)(void) = NULL;
    BP_EPILOGUE_KERNELS(KT_EXPECT_EPI)
#undef KT_EXPECT_EPI
#define KT_CHECK_EPI(kind, fn, lv)                                           \
    assert_string_equal(t->kind##_name, kt_want_##kind);                     \
    assert_true((void (*)(void))t->kind == kt_ptr_##kind);
    BP_EPILOGUE_KERNELS(KT_CHECK_EPI)
#undef KT_CHECK_EPI
    /* row ops: the last entry of each kind within the mask */
#define KT_CHECK_RO(kind, fn, lv) \
    kt_check_ro_entry(#kind, t->kind##_name, (void (*)(void))t->kind, eff);
    BP_ROWOP_KERNELS(KT_CHECK_RO)
#undef KT_CHECK_RO
    /* the pointer matches the name */
    for (size_t i = 0; i < KT_NKERNELS; i++) {
        const kt_kernel *k = &kt_kernels[i];
        if (k->bp_u8 && t->bitplane_u8 == k->bp_u8)
            assert_string_equal(t->bitplane_u8_name, k->name);
        if (k->bp_s8 && t->bitplane_s8 == k->bp_s8)
            assert_string_equal(t->bitplane_s8_name, k->name);
        if (k->csr_u8 && t->csr_u8 == k->csr_u8)
            assert_string_equal(t->csr_u8_name, k->name);
        if (k->csr_s8 && t->csr_s8 == k->csr_s8)
            assert_string_equal(t->csr_s8_name, k->name);
    }
}

static void test_dispatch(void **state)
{
    (void)state;
    bp_kernel_table t;
    const unsigned cpu = bp_cpu_isa_mask();
    for (int cap = 0; cap < BP_ISA_COUNT; cap++) {
        const unsigned m = bp_isa_mask_cap((bp_isa)cap);
        bp_kernels_init(&t, m);
        kt_check_table(&t, m);
        assert_true((int)t.isa <= cap);
        printf("  cap %-10s -> %s %s %s %s [%s]\n", bp_isa_name((bp_isa)cap),
               t.bitplane_u8_name, t.bitplane_s8_name, t.csr_u8_name, t.csr_s8_name,
               bp_isa_name(t.isa));
    }
    /* Scalar only, whatever the CPU. */
    bp_kernels_init(&t, BP_ISA_BIT(BP_ISA_SCALAR));
    assert_true(t.bitplane_u8 == bp_bitplane_u8_32x1_scalar);
    assert_true(t.csr_s8 == bp_csr_s8_32x1_scalar);
    assert_int_equal(t.isa, BP_ISA_SCALAR);
    /* Levels the CPU lacks are never used, even if asked for. */
    bp_kernels_init(&t, ~0u);
    kt_check_table(&t, ~0u);
    assert_true(cpu & BP_ISA_BIT(t.isa));
    bp_kernels_init(&t, 0);
    assert_true(t.bitplane_s8 == bp_bitplane_s8_32x1_scalar);
}

static void test_isa_env(void **state)
{
    (void)state;
    const char *old = getenv("BP_ISA");
    char *saved = old ? strdup(old) : NULL;
    const unsigned cpu = bp_cpu_isa_mask();
    unsetenv("BP_ISA");
    assert_int_equal(bp_isa_mask_from_env(), cpu);
    setenv("BP_ISA", "", 1);
    assert_int_equal(bp_isa_mask_from_env(), cpu);
    for (int cap = 0; cap < BP_ISA_COUNT; cap++) {
        setenv("BP_ISA", bp_isa_name((bp_isa)cap), 1);
        const unsigned m = bp_isa_mask_from_env();
        assert_int_equal(m, bp_isa_mask_cap((bp_isa)cap));
        bp_kernel_table t;
        bp_kernels_init(&t, m);
        assert_true((int)t.isa <= cap);
    }
    setenv("BP_ISA", "scalar", 1);
    bp_kernel_table t;
    bp_kernels_init(&t, bp_isa_mask_from_env());
    assert_string_equal(t.bitplane_u8_name, "bp_bitplane_u8_32x1_scalar");
    assert_string_equal(t.csr_s8_name, "bp_csr_s8_32x1_scalar");
    /* Unknown value: ignored (documented in cpu.c), with a warning line. */
    setenv("BP_ISA", "bogus", 1);
    assert_int_equal(bp_isa_mask_from_env(), cpu);
    if (saved) {
        setenv("BP_ISA", saved, 1);
        free(saved);
    } else {
        unsetenv("BP_ISA");
    }
}

#if defined(__x86_64__)
/* ------------------------------------- bench-only AVX-512 variants */

/* The bench-only kernels of bench/micro on the conformance cases, against
 * the ref bitplane oracle (itself checked against bp_ref_dense), bit-exact,
 * with canaried outputs and page-guarded inputs: the int16-activation kernel
 * on u8 and s8 values widened to int16 (aux NULL and built), and the
 * K-blocked u8 kernel at a random K-block and row-block size. */
static int kt_run_variants(unsigned ci, kt_case *c, kt_rng *r)
{
    kt_rng xr = {kt_seed ^ (0x7654321ull * (ci + 1))};
    const size_t xn = c->K ? (size_t)(c->K - 1) * c->ldx + c->np : 0;
    kt_guarded g8, g16;
    void *x = kt_guard_alloc(&g8, xn, c->flush_front);
    kt_fill_x(&xr, c, x);
    int16_t *x16 = kt_guard_alloc(&g16, xn * sizeof(int16_t), c->flush_front);
    for (size_t i = 0; i < xn; i++) /* independent widening */
        x16[i] = c->s8 ? (int16_t)((const int8_t *)x)[i] : (int16_t)((const uint8_t *)x)[i];

    const size_t nout = (size_t)c->nrows * c->np;
    int32_t *want = malloc(nout * sizeof(int32_t) + 4);
    int32_t *dense = malloc(nout * sizeof(int32_t) + 4);
    const size_t nbuf = (size_t)c->nrows * c->ldy + 2 * KT_PAD;
    int32_t *buf = malloc(nbuf * sizeof(int32_t));
    assert_true(want && dense && buf);
    const int16_t *wr0 = c->w + (size_t)c->row0 * c->K;
    if (c->s8)
        bp_ref_dense_s8(wr0, c->K, c->nrows, c->K, x, c->ldx, c->np, dense, c->np);
    else
        bp_ref_dense_u8(wr0, c->K, c->nrows, c->K, x, c->ldx, c->np, dense, c->np);

    int16_t maxabs = 0;
    for (size_t i = 0; i < (size_t)c->rows * c->K; i++)
        maxabs = (int16_t)(abs(c->w[i]) > maxabs ? abs(c->w[i]) : maxabs);
    uint32_t M = bp_digits_positions(maxabs, c->enc) + (uint32_t)c->mplus;
    if (M > BP_M_MAX)
        M = BP_M_MAX;
    bp_planes_buf pb;
    assert_int_equal(bp_planes_from_dense(c->w, c->rows, c->K, c->enc, M, &pb), 0);
    bp_planes planes = pb.p;
    void *idx4 = NULL;
    if (c->idx4 && planes.idx_bytes == 2) {
        idx4 = kt_widen_idx(planes.idx, pb.ndigits);
        planes.idx = idx4;
        planes.idx_bytes = 4;
    }
    if (c->s8)
        bp_ref_bitplane_s8(&planes, c->row0, c->nrows, x, c->ldx, c->np, want, c->np);
    else
        bp_ref_bitplane_u8(&planes, c->row0, c->nrows, x, c->ldx, c->np, want, c->np);
    int fails = 0;
    if (nout && memcmp(want, dense, nout * sizeof(int32_t)) != 0) {
        printf("  FAIL case %u (seed %" PRIu64 "): ref bitplane disagrees with bp_ref_dense\n",
               ci, kt_seed);
        fails++;
    }
    const kt_kernel i16k = {"bpk_bitplane_i16_256x1_avx512", BP_ISA_AVX512, 0, NULL, NULL,
                            NULL, NULL, 0, 0};
    const kt_kernel kbk = {"bpk_bitplane_u8_kblock_256x1_avx512", BP_ISA_AVX512, 0, NULL, NULL,
                           NULL, NULL, 0, 0};
    void *aux = NULL;
    for (int use_aux = 0; use_aux < 2 && !fails; use_aux++) {
        if (use_aux) {
            aux = kt_aux_alloc(bp_planes_aux_size(&planes));
            bp_planes_aux_build(&planes, aux);
        } else {
            planes.aux = NULL;
        }
        for (size_t i = 0; i < nbuf; i++)
            buf[i] = KT_CANARY;
        bpk_bitplane_i16_256x1_avx512(&planes, c->row0, c->nrows, x16, c->ldx, c->np,
                                      buf + KT_PAD, c->ldy);
        if (kt_check_out(buf, want, c)) {
            kt_print_case("FAIL", &i16k, ci, c, use_aux ? "built" : "NULL");
            fails++;
        }
    }
    if (!c->s8 && !fails) {
        /* K blocks of 1..K rows (K/1..K/8 for large K), all rows or a row
         * block of 1..nrows; aux is built (the split table needs it). */
        const uint32_t kb = c->K > 1024 ? c->K / (1 + kt_below(r, 8))
                                        : 1 + kt_below(r, c->K ? c->K : 1);
        const uint32_t rb = kt_below(r, 2) ? 0 : 1 + kt_below(r, c->nrows ? c->nrows : 1);
        bpk_kblock *kbl = bpk_kblock_new(&planes, kb, rb);
        assert_non_null(kbl);
        for (size_t i = 0; i < nbuf; i++)
            buf[i] = KT_CANARY;
        bpk_bitplane_u8_kblock_256x1_avx512(kbl, &planes, c->row0, c->nrows, x, c->ldx, c->np,
                                            buf + KT_PAD, c->ldy);
        if (kt_check_out(buf, want, c)) {
            char tag[64];
            snprintf(tag, sizeof(tag), "built, kb=%u rb=%u", kb, rb);
            kt_print_case("FAIL", &kbk, ci, c, tag);
            fails++;
        }
        bpk_kblock_free(kbl);
    }
    free(aux);
    free(idx4);
    bp_planes_buf_free(&pb);
    free(want);
    free(dense);
    free(buf);
    kt_guard_free(&g8);
    kt_guard_free(&g16);
    return fails;
}

static void test_bench_variants(void **state)
{
    (void)state;
    if (kt_isa_skip("bench-only variants", BP_ISA_AVX512, 1))
        skip();
    int fails = 0;
    unsigned n = 0;
    for (int s8 = 0; s8 < 2; s8++) {
        kt_rng r = {kt_seed};
        kt_rng vr = {kt_seed ^ 0xb10cull};
        for (unsigned i = 0; i < KT_NCASES && fails < 5; i++) {
            kt_case c;
            kt_make_case(&c, &r, i, s8);
            if (kt_verbose)
                printf("  variants case %u s8=%d: K=%u np=%zu\n", i, s8, c.K, c.np);
            fails += kt_run_variants(i, &c, &vr);
            kt_free_case(&c);
            n++;
        }
    }
    /* The widening, every length 0..200 and at the guard pages. */
    for (size_t len = 0; len <= 200 && !fails; len++) {
        kt_rng r = {kt_seed + len};
        kt_guarded gi, go;
        uint8_t *in = kt_guard_alloc(&gi, len, (int)(len & 1));
        int16_t *out = kt_guard_alloc(&go, len * sizeof(int16_t), (int)(len & 2));
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)kt_next(&r);
        bpk_widen_u8_i16_avx512(in, len, out);
        for (size_t i = 0; i < len; i++)
            if (out[i] != (int16_t)in[i]) {
                printf("  FAIL bpk_widen_u8_i16_avx512 n=%zu [%zu]: %d want %d\n", len, i,
                       out[i], in[i]);
                fails++;
                break;
            }
        kt_guard_free(&gi);
        kt_guard_free(&go);
    }
    printf("  bench-only avx512 variants: %u cases, %d failed\n", n, fails);
    assert_int_equal(fails, 0);
}
#endif

#if defined(__aarch64__)
/* The NEON ceiling probe runs and returns a plausible positive rate. */
static void test_probe_neon(void **state)
{
    (void)state;
    const double r = bpk_probe_neon(0.02);
    printf("  bpk_probe_neon: %.3g int16 lane-adds/s (meaningless under qemu)\n", r);
    assert_true(r > 1e6);
}
#endif

/* ----------------------------------------------------------------- main */

int main(void)
{
    const char *s = getenv("BP_TEST_SEED");
    kt_seed = s && *s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    kt_verbose = getenv("BP_TEST_VERBOSE") && atoi(getenv("BP_TEST_VERBOSE")) > 0;
    printf("kernels: seed %" PRIu64 " (set BP_TEST_SEED=%" PRIu64 " to repeat)\n", kt_seed, kt_seed);

    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_digits_encode),
        cmocka_unit_test(test_digits_positions),
        cmocka_unit_test(test_planes_roundtrip),
        cmocka_unit_test(test_cpu_mask),
        cmocka_unit_test(test_cpu_decode),
        cmocka_unit_test(test_isa_cap_values),
        cmocka_unit_test(test_isa_names),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_isa_env),
        cmocka_unit_test(test_gelu_sweep),
#if defined(__x86_64__)
        cmocka_unit_test(test_bench_variants),
#endif
#if defined(__aarch64__)
        cmocka_unit_test(test_probe_neon),
#endif
    };
    const size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
    const size_t ntests = nfixed + KT_NKERNELS + KT_NEPI + KT_NRO;
    struct CMUnitTest *tests = calloc(ntests, sizeof(*tests));
    char (*names)[96] = calloc(KT_NKERNELS + KT_NEPI + KT_NRO, sizeof(*names));
    if (!tests || !names)
        return 1;
    memcpy(tests, fixed, sizeof(fixed));
    for (size_t i = 0; i < KT_NKERNELS; i++) {
        snprintf(names[i], sizeof(names[i]), "conform %s [%s]", kt_kernels[i].name,
                 bp_isa_name(kt_kernels[i].isa));
        tests[nfixed + i].name = names[i];
        tests[nfixed + i].test_func = test_conformance;
        tests[nfixed + i].initial_state = &kt_kernels[i];
    }
    for (size_t i = 0; i < KT_NEPI; i++) {
        char *nm = names[KT_NKERNELS + i];
        snprintf(nm, 96, "conform %s [%s]", kt_epi_kernels[i].name,
                 bp_isa_name(kt_epi_kernels[i].isa));
        tests[nfixed + KT_NKERNELS + i].name = nm;
        tests[nfixed + KT_NKERNELS + i].test_func = test_epi_conformance;
        tests[nfixed + KT_NKERNELS + i].initial_state = &kt_epi_kernels[i];
    }
    for (size_t i = 0; i < KT_NRO; i++) {
        const size_t j = KT_NKERNELS + KT_NEPI + i;
        snprintf(names[j], 96, "conform %s [%s]", kt_ro_kernels[i].name,
                 bp_isa_name(kt_ro_kernels[i].isa));
        tests[nfixed + j].name = names[j];
        tests[nfixed + j].test_func = test_ro_conformance;
        tests[nfixed + j].initial_state = &kt_ro_kernels[i];
    }
    const int rc = _cmocka_run_group_tests("kernels", tests, ntests, NULL, NULL);

    printf("kernels tested (seed %" PRIu64 "):\n", kt_seed);
    for (size_t i = 0; i < KT_NKERNELS; i++)
        printf("  %-32s %-10s %s\n", kt_kernels[i].name, bp_isa_name(kt_kernels[i].isa),
               kt_run_status(kt_kernels[i].skipped, kt_kernels[i].cases));
    for (size_t i = 0; i < KT_NEPI; i++)
        printf("  %-32s %-10s %s\n", kt_epi_kernels[i].name, bp_isa_name(kt_epi_kernels[i].isa),
               kt_run_status(kt_epi_kernels[i].skipped, kt_epi_kernels[i].cases));
    for (size_t i = 0; i < KT_NRO; i++)
        printf("  %-32s %-10s %s\n", kt_ro_kernels[i].name, bp_isa_name(kt_ro_kernels[i].isa),
               kt_run_status(kt_ro_kernels[i].skipped, kt_ro_kernels[i].cases));
    free(tests);
    free(names);
    return rc;
}
