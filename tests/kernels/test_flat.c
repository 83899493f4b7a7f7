/* Conformance of the bench-only flat-stream bitplane kernels (planes_flat.h,
 * kernels/x86/bitplane_flat_avx512.c) against bp_ref_bitplane_u8, bit-exact:
 * random and edge weights (full merge groups at the int16 bound, +-128 and
 * +-255, all-zero rows), u16 and u32 indices, page-guarded activations and
 * canaried outputs. Seed: printed; BP_TEST_SEED overrides. Skipped without
 * AVX-512 or with BP_ISA below avx512. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kernel_list.h"
#include "planes_flat.h"

static uint64_t ft_seed;

#ifdef BP_BITPLANE_FLAT_X86
static uint64_t ft_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint32_t ft_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)((ft_next(s) >> 32) * n >> 32);
}

typedef struct ft_kernel {
    const char *name;
    bp_bitplane_u8_fn fn;
    bpk_flat_mode mode;
} ft_kernel;

#define FT_ENTRY(at, fn, isa, mode) {#fn, fn, mode},
static const ft_kernel ft_kernels[] = {BP_BITPLANE_FLAT_X86(FT_ENTRY)};
#define FT_NKERNELS (sizeof(ft_kernels) / sizeof(ft_kernels[0]))

#define FT_PAD 16
#define FT_CANARY ((int32_t)0x5a5a5a5a)

/* Activations flush against a PROT_NONE page: any read past the last run
 * faults. Returns the mapping base (for munmap) in *base. */
static uint8_t *ft_guarded(size_t n, void **base, size_t *len)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t data = (n + page - 1) / page * page + page * (n == 0);
    *len = data + page;
    uint8_t *m = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(mprotect(m + data, page, PROT_NONE), 0);
    *base = m;
    return m + data - n;
}

/* Weight row styles: 0 random in [-255, 255], 1 zero, 2 all +-255, 3 +-128
 * or +-255, 4 lambda=1 values (2^k, 48, 96) at a random density, 5 one
 * power of two at a random density, 6 all +128 (one full plane), 7 one
 * +-128 and small values of the other sign (a group from plane m to m + 7:
 * coefficient +-2^7). */
static void ft_fill_row(uint64_t *s, int16_t *w, uint32_t K, int style)
{
    static const int16_t lam1[] = {2, 4, 8, 16, 32, 48, 64, 96, 128};
    const uint32_t dens = ft_below(s, 101);
    const int16_t p2 = (int16_t)(1 << ft_below(s, 8));
    const int sg = ft_below(s, 2) ? 1 : -1;
    for (uint32_t k = 0; k < K; k++) {
        const int r = ft_below(s, 2) ? 1 : -1;
        int v;
        switch (style) {
        case 0: v = (int)ft_below(s, 511) - 255; break;
        case 1: v = 0; break;
        case 2: v = sg * 255; break;
        case 3: v = r * (ft_below(s, 2) ? 128 : 255); break;
        case 4: v = ft_below(s, 100) < dens ? r * lam1[ft_below(s, 9)] : 0; break;
        case 5: v = ft_below(s, 100) < dens ? r * p2 : 0; break;
        case 6: v = 128; break;
        default: v = k == 0 ? sg * 128 : ft_below(s, 100) < dens ? -sg * (int)(1 + ft_below(s, 3)) : 0;
        }
        w[k] = (int16_t)v;
    }
}

typedef struct ft_case {
    uint32_t rows, K, row0, nrows;
    size_t np, ldx, ldy;
    bp_encoding enc;
    int style; /* -1: random per row */
    int xmax;  /* every x = 255 */
    int idx4;
} ft_case;

static int ft_run(const ft_kernel *k, const ft_case *c, uint64_t *s, unsigned ci)
{
    int16_t *w = malloc((size_t)c->rows * c->K * sizeof(int16_t) + 2);
    assert_non_null(w);
    for (uint32_t j = 0; j < c->rows; j++)
        ft_fill_row(s, w + (size_t)j * c->K, c->K, c->style >= 0 ? c->style : (int)ft_below(s, 8));
    bp_planes_buf pb;
    const uint32_t M = bp_digits_positions(255, c->enc);
    assert_int_equal(bp_planes_from_dense(w, c->rows, c->K, c->enc, M, &pb), 0);
    bp_planes p = pb.p;
    uint32_t *wide = NULL;
    if (c->idx4 && p.idx_bytes == 2) {
        wide = malloc(pb.ndigits * sizeof(uint32_t) + 4);
        assert_non_null(wide);
        for (uint64_t i = 0; i < pb.ndigits; i++)
            wide[i] = ((const uint16_t *)p.idx)[i];
        p.idx = wide;
        p.idx_bytes = 4;
    }
    const size_t fsz = bpk_planes_flat_size(&p, k->mode);
    assert_true(fsz > 0);
    void *fmem = aligned_alloc(64, (fsz + 63) / 64 * 64);
    assert_non_null(fmem);
    const bpk_planes_flat *f = bpk_planes_flat_build(&p, k->mode, fmem);
    assert_non_null(f);
    /* MUL and SHIFT hold one entry per digit; MADD one or two. */
    if (k->mode == BPK_FLAT_MADD)
        assert_true(f->nents >= pb.ndigits && f->nents <= 2 * pb.ndigits);
    else
        assert_int_equal(f->nents, pb.ndigits);
    p.aux = f;
    assert_ptr_equal(bpk_planes_flat_get(&p, k->mode), f); /* not the fallback */

    const size_t nx = c->K ? (size_t)(c->K - 1) * c->ldx + c->np : 0;
    void *xbase;
    size_t xlen;
    uint8_t *x = ft_guarded(nx, &xbase, &xlen);
    for (size_t i = 0; i < nx; i++)
        x[i] = c->xmax || i % c->ldx >= c->np ? 255 : (uint8_t)ft_next(s);
    const size_t ny = c->nrows ? (size_t)(c->nrows - 1) * c->ldy + c->np : 0;
    int32_t *want = calloc(ny + 1, sizeof(int32_t));
    int32_t *got = malloc((ny + 2 * FT_PAD) * sizeof(int32_t));
    assert_non_null(want);
    assert_non_null(got);
    for (size_t i = 0; i < ny + 2 * FT_PAD; i++)
        got[i] = FT_CANARY;
    bp_ref_bitplane_u8(&pb.p, c->row0, c->nrows, x, c->ldx, c->np, want, c->ldy);
    k->fn(&p, c->row0, c->nrows, x, c->ldx, c->np, got + FT_PAD, c->ldy);
    int bad = 0;
    for (size_t i = 0; i < FT_PAD && !bad; i++)
        bad = got[i] != FT_CANARY || got[FT_PAD + ny + i] != FT_CANARY;
    for (uint32_t r = 0; r < c->nrows && !bad; r++)
        for (size_t q = 0; q < c->ldy && !bad; q++) {
            const size_t o = (size_t)r * c->ldy + q;
            if (o >= ny)
                break;
            const int32_t g = got[FT_PAD + o];
            if (q < c->np ? g != want[o] : g != FT_CANARY) {
                printf("    row %u pixel %zu: got %" PRId32 ", want %" PRId32 "\n", c->row0 + r,
                       q, g, q < c->np ? want[o] : FT_CANARY);
                bad = 1;
            }
        }
    if (bad)
        printf("  %s case %u (seed %" PRIu64 "): rows=%u K=%u row0=%u nrows=%u np=%zu ldx=%zu "
               "ldy=%zu enc=%s style=%d xmax=%d idx4=%d\n",
               k->name, ci, ft_seed, c->rows, c->K, c->row0, c->nrows, c->np, c->ldx, c->ldy,
               c->enc == BP_ENC_CSD ? "csd" : "binary", c->style, c->xmax, c->idx4);
    munmap(xbase, xlen);
    free(want);
    free(got);
    free(fmem);
    free(wide);
    bp_planes_buf_free(&pb);
    free(w);
    return bad;
}

/* Fixed edge cases, then random ones. */
#define FT_NFIXED 40
#define FT_NCASES (FT_NFIXED + 120)

static void ft_make(ft_case *c, uint64_t *s, unsigned i)
{
    memset(c, 0, sizeof(*c));
    c->enc = ft_below(s, 2) ? BP_ENC_CSD : BP_ENC_BINARY;
    c->idx4 = ft_below(s, 4) == 0;
    c->style = -1;
    static const uint32_t ks[] = {127, 128, 129, 255, 256, 257, 64, 86, 43, 170};
    static const size_t nps[] = {1, 15, 16, 31, 32, 33, 49, 64, 65, 196, 255, 256, 257, 300};
    if (i < 30) {
        /* Groups at the int16 bound with x = 255: all +-255 or all +128
         * (weighted counts of exactly 128 per sign), +-128/+-255. */
        c->rows = 2;
        c->K = ks[i % 10];
        c->style = i < 10 ? 2 : i < 20 ? 6 : i < 25 ? 3 : 7;
        c->xmax = 1;
        c->np = nps[ft_below(s, 14)];
    } else if (i < FT_NFIXED) {
        /* Largest K: |y| near 2^31. */
        c->rows = 2;
        c->K = BP_K_MAX;
        c->style = i & 1 ? 2 : 3;
        c->xmax = 1;
        c->np = 1 + ft_below(s, 70);
    } else {
        c->rows = 1 + ft_below(s, 9);
        c->K = 1 + ft_below(s, ft_below(s, 4) == 0 ? 1500 : 300);
        c->np = ft_below(s, 3) == 0 ? nps[ft_below(s, 14)] : 1 + ft_below(s, 300);
        c->xmax = ft_below(s, 8) == 0;
    }
    c->row0 = ft_below(s, 3) == 0 ? ft_below(s, c->rows) : 0;
    c->nrows = c->rows - c->row0;
    c->ldx = c->np + (ft_below(s, 2) ? 0 : ft_below(s, 70));
    c->ldy = c->np + (ft_below(s, 2) ? 0 : 1 + ft_below(s, 7));
}

static void test_flat_conformance(void **state)
{
    const ft_kernel *k = *state;
    if (!(bp_isa_mask_from_env() & BP_ISA_BIT(BP_ISA_AVX512))) {
        printf("  %s: no AVX-512 (or BP_ISA below it), not run\n", k->name);
        skip();
    }
    uint64_t s = ft_seed;
    int bad = 0;
    for (unsigned i = 0; i < FT_NCASES && bad < 3; i++) {
        ft_case c;
        ft_make(&c, &s, i);
        bad += ft_run(k, &c, &s, i);
    }
    assert_int_equal(bad, 0);
}
#endif

int main(void)
{
    const char *e = getenv("BP_TEST_SEED");
    ft_seed = e && *e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    printf("flat kernels: seed %" PRIu64 " (set BP_TEST_SEED=%" PRIu64 " to repeat)\n", ft_seed,
           ft_seed);
#ifdef BP_BITPLANE_FLAT_X86
    struct CMUnitTest tests[FT_NKERNELS];
    for (size_t i = 0; i < FT_NKERNELS; i++)
        tests[i] = (struct CMUnitTest){ft_kernels[i].name, test_flat_conformance, NULL, NULL,
                                       (void *)&ft_kernels[i]};
    return _cmocka_run_group_tests("flat", tests, FT_NKERNELS, NULL, NULL);
#else
    printf("flat kernels: x86 only, not run\n");
    return 0;
#endif
}
