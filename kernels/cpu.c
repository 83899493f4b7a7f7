/* CPU feature detection and the ISA mask: the x86 decoder (a pure function of
 * cpuid/xgetbv register values), the host's registers, NEON on aarch64,
 * level names, parsing, capping, and the BP_ISA environment override. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bp_kernels.h"

/* Bits of the registers in bp_cpuid_regs that detection reads. */
#define BPK_L1C_FMA (1u << 12)
#define BPK_L1C_OSXSAVE (1u << 27)
#define BPK_L1C_AVX (1u << 28)
#define BPK_L7B_AVX2 (1u << 5)
#define BPK_L7B_BMI2 (1u << 8)
#define BPK_L7B_AVX512F (1u << 16)
#define BPK_L7B_AVX512DQ (1u << 17)
#define BPK_L7B_AVX512BW (1u << 30)
#define BPK_L7B_AVX512VL (1u << 31)
#define BPK_L7C_AVX512VNNI (1u << 11)
#define BPK_L7D_AMX_BF16 (1u << 22)
#define BPK_L7D_AMX_TILE (1u << 24)
#define BPK_L7D_AMX_INT8 (1u << 25)
/* XCR0: SSE (1) and AVX (2) state; opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7);
 * TILECFG (17) and TILEDATA (18). */
#define BPK_XCR0_YMM 0x6ull
#define BPK_XCR0_ZMM 0xe6ull
#define BPK_XCR0_TILE 0x60000ull

void bp_cpu_features_from_regs(const bp_cpuid_regs *r, bp_cpu_features *f)
{
    memset(f, 0, sizeof(*f));
    f->isa_mask = BP_ISA_BIT(BP_ISA_SCALAR);
    if (r->max_leaf < 7)
        return;
    /* xcr0 is meaningful only when the OS has enabled xgetbv (OSXSAVE). */
    if (!(r->l1_ecx & BPK_L1C_OSXSAVE))
        return;
    const uint64_t xcr0 = r->xcr0;
    const uint32_t amx = BPK_L7D_AMX_TILE;
    if ((r->l7_edx & amx) && (xcr0 & BPK_XCR0_TILE) == BPK_XCR0_TILE) {
        f->amx_int8 = (r->l7_edx & BPK_L7D_AMX_INT8) != 0;
        f->amx_bf16 = (r->l7_edx & BPK_L7D_AMX_BF16) != 0;
    }
    if (!(r->l1_ecx & BPK_L1C_AVX) || (xcr0 & BPK_XCR0_YMM) != BPK_XCR0_YMM)
        return;
    const uint32_t avx2 = BPK_L7B_AVX2 | BPK_L7B_BMI2;
    if ((r->l7_ebx & avx2) != avx2 || !(r->l1_ecx & BPK_L1C_FMA))
        return;
    f->isa_mask |= BP_ISA_BIT(BP_ISA_AVX2);
    const uint32_t avx512 = BPK_L7B_AVX512F | BPK_L7B_AVX512DQ | BPK_L7B_AVX512BW | BPK_L7B_AVX512VL;
    if ((xcr0 & BPK_XCR0_ZMM) != BPK_XCR0_ZMM || (r->l7_ebx & avx512) != avx512)
        return;
    f->isa_mask |= BP_ISA_BIT(BP_ISA_AVX512);
    if (r->l7_ecx & BPK_L7C_AVX512VNNI)
        f->isa_mask |= BP_ISA_BIT(BP_ISA_AVX512VNNI);
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0 via xgetbv, in inline asm so this file needs no -mxsave. Only valid
 * once cpuid says OSXSAVE. */
static uint64_t bpk_xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void bpk_cpuid_regs_read(bp_cpuid_regs *r)
{
    unsigned a, b, c, d;
    memset(r, 0, sizeof(*r));
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return;
    r->max_leaf = a;
    if (a < 7)
        return;
    __get_cpuid_count(1, 0, &a, &b, &c, &d);
    r->l1_ecx = c;
    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    r->l7_ebx = b;
    r->l7_ecx = c;
    r->l7_edx = d;
    if (r->l1_ecx & BPK_L1C_OSXSAVE)
        r->xcr0 = bpk_xgetbv0();
}
#endif

void bp_cpu_features_get(bp_cpu_features *f)
{
#if defined(__x86_64__) || defined(__i386__)
    bp_cpuid_regs r;
    bpk_cpuid_regs_read(&r);
    bp_cpu_features_from_regs(&r, f);
#else
    memset(f, 0, sizeof(*f));
    f->isa_mask = BP_ISA_BIT(BP_ISA_SCALAR);
#if defined(__aarch64__)
    /* Advanced SIMD is mandatory in AArch64. */
    f->isa_mask |= BP_ISA_BIT(BP_ISA_NEON);
#endif
#endif
}

unsigned bp_cpu_isa_mask(void)
{
    bp_cpu_features f;
    bp_cpu_features_get(&f);
    return f.isa_mask;
}

bp_isa bp_isa_best(unsigned mask)
{
    for (int i = BP_ISA_COUNT - 1; i > 0; i--)
        if (mask & BP_ISA_BIT(i))
            return (bp_isa)i;
    return BP_ISA_SCALAR;
}

static const char *const bpk_isa_names[BP_ISA_COUNT] = {
    [BP_ISA_SCALAR] = "scalar",
    [BP_ISA_AVX2] = "avx2",
    [BP_ISA_AVX512] = "avx512",
    [BP_ISA_AVX512VNNI] = "avx512vnni",
    [BP_ISA_NEON] = "neon",
};

const char *bp_isa_name(bp_isa isa)
{
    return (unsigned)isa < BP_ISA_COUNT ? bpk_isa_names[isa] : "unknown";
}

int bp_isa_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < BP_ISA_COUNT; i++)
        if (strcasecmp(s, bpk_isa_names[i]) == 0)
            return i;
    return -1;
}

/* Levels are ordered by value; on one host only its own arch's levels are
 * ever in the CPU mask, so "at or below" is a plain numeric compare (neon on
 * x86 caps nothing, avx2 on aarch64 leaves scalar). */
unsigned bp_isa_mask_cap_of(unsigned cpu, bp_isa cap)
{
    if ((unsigned)cap >= BP_ISA_COUNT)
        return cpu;
    return cpu & ((BP_ISA_BIT(cap) << 1) - 1u);
}

unsigned bp_isa_mask_cap(bp_isa cap)
{
    return bp_isa_mask_cap_of(bp_cpu_isa_mask(), cap);
}

int bp_isa_mask_from_value(unsigned cpu, const char *value, unsigned *mask)
{
    *mask = cpu;
    if (!value || !*value)
        return 0;
    const int lvl = bp_isa_parse(value);
    if (lvl < 0)
        return -1;
    *mask = bp_isa_mask_cap_of(cpu, (bp_isa)lvl);
    return 0;
}

/* BP_ISA unset or empty: the full CPU mask. A known name caps the mask at
 * that level. An unknown name is ignored (full CPU mask) with a one-line
 * warning on stderr, so a typo is visible but never changes results; this
 * writes at most one line per call. */
unsigned bp_isa_mask_from_env(void)
{
    const char *s = getenv("BP_ISA");
    unsigned mask;
    if (bp_isa_mask_from_value(bp_cpu_isa_mask(), s, &mask) < 0)
        fprintf(stderr, "bitprune: ignoring unknown BP_ISA='%.32s' "
                "(scalar|avx2|avx512|avx512vnni|neon)\n", s);
    return mask;
}
