/* CPU feature detection (cpuid + xgetbv on x86, NEON on aarch64) and the ISA
 * mask: names, parsing, capping, and the BP_ISA environment override. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bp_kernels.h"

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

static unsigned bpk_cpu_mask_x86(void)
{
    unsigned mask = BP_ISA_BIT(BP_ISA_SCALAR);
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d) || a < 7)
        return mask;
    __get_cpuid_count(1, 0, &a, &b, &c, &d);
    const unsigned ecx1 = c;
    const int osxsave = (ecx1 >> 27) & 1, avx = (ecx1 >> 28) & 1, fma = (ecx1 >> 12) & 1;
    if (!osxsave || !avx)
        return mask;
    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    const unsigned ebx7 = b, ecx7 = c;
    const uint64_t xcr0 = bpk_xgetbv0();
    /* YMM: the OS must save SSE (bit 1) and AVX (bit 2) state. */
    if ((xcr0 & 0x6) != 0x6)
        return mask;
    const int avx2 = (ebx7 >> 5) & 1, bmi2 = (ebx7 >> 8) & 1;
    if (!(avx2 && fma && bmi2))
        return mask;
    mask |= BP_ISA_BIT(BP_ISA_AVX2);
    /* ZMM: also opmask (bit 5), ZMM_Hi256 (bit 6), Hi16_ZMM (bit 7). */
    if ((xcr0 & 0xe6) != 0xe6)
        return mask;
    const int f = (ebx7 >> 16) & 1, dq = (ebx7 >> 17) & 1;
    const int bw = (ebx7 >> 30) & 1, vl = (ebx7 >> 31) & 1;
    if (!(f && dq && bw && vl))
        return mask;
    mask |= BP_ISA_BIT(BP_ISA_AVX512);
    if ((ecx7 >> 11) & 1) /* AVX512_VNNI */
        mask |= BP_ISA_BIT(BP_ISA_AVX512VNNI);
    return mask;
}
#endif

unsigned bp_cpu_isa_mask(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return bpk_cpu_mask_x86();
#elif defined(__aarch64__)
    /* Advanced SIMD is mandatory in AArch64. */
    return BP_ISA_BIT(BP_ISA_SCALAR) | BP_ISA_BIT(BP_ISA_NEON);
#else
    return BP_ISA_BIT(BP_ISA_SCALAR);
#endif
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
unsigned bp_isa_mask_cap(bp_isa cap)
{
    const unsigned cpu = bp_cpu_isa_mask();
    if ((unsigned)cap >= BP_ISA_COUNT)
        return cpu;
    return cpu & ((BP_ISA_BIT(cap) << 1) - 1u);
}

/* BP_ISA unset or empty: the full CPU mask. A known name caps the mask at
 * that level. An unknown name is ignored (full CPU mask) with a one-line
 * warning on stderr, so a typo is visible but never changes results; this
 * writes at most one line per call. */
unsigned bp_isa_mask_from_env(void)
{
    const char *s = getenv("BP_ISA");
    if (!s || !*s)
        return bp_cpu_isa_mask();
    const int lvl = bp_isa_parse(s);
    if (lvl < 0) {
        fprintf(stderr, "bitprune: ignoring unknown BP_ISA='%.32s' "
                "(scalar|avx2|avx512|avx512vnni|neon)\n", s);
        return bp_cpu_isa_mask();
    }
    return bp_isa_mask_cap((bp_isa)lvl);
}
