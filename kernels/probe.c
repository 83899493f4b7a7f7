/* Ceiling probe dispatcher: times the per-ISA probe loops (x86/probe_*.c,
 * arm/probe_neon.c) on an L1-resident buffer and returns pixel (int16 lane)
 * adds per second of thread CPU time; the scalar probe is the same shape in
 * plain C. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bp_kernels.h"
#if defined(__x86_64__)
#include "x86/probe_x86.h"
#endif
#if defined(__aarch64__)
#include "arm/probe_arm.h"
#endif

#define BPK_PROBE_ROWS 128u /* 128 rows x 128 bytes = 16 KiB: L1-resident */

/* Thread CPU time: on a shared machine, time slices given to other
 * processes would otherwise count against the probe. */
static double bpk_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Scalar shape: one byte load and one int16 add per pixel. */
static uint32_t bpk_probe_run_scalar(const uint8_t *buf, size_t rows, uint32_t iters)
{
    uint16_t acc[128] = {0};
    for (uint32_t it = 0; it < iters; it++)
        for (size_t k = 0; k < rows; k++)
            for (size_t p = 0; p < 128; p++)
                acc[p] = (uint16_t)(acc[p] + buf[k * 128 + p]);
    uint32_t s = 0;
    for (size_t p = 0; p < 128; p++)
        s += acc[p];
    return s;
}

typedef uint32_t (*bpk_probe_fn)(const uint8_t *, size_t, uint32_t);

static volatile uint32_t bpk_probe_sink;

/* Best rate over repeated slices of ~seconds/8: the ceiling is the fastest
 * the shape ran, so noise from other processes only lowers a slice. */
static double bpk_probe_time(bpk_probe_fn fn, double seconds)
{
    uint8_t *buf = aligned_alloc(64, BPK_PROBE_ROWS * 128);
    if (!buf)
        return 0.0;
    for (size_t i = 0; i < BPK_PROBE_ROWS * 128; i++)
        buf[i] = (uint8_t)(i * 131u + 7u);
    const double lanes_per_iter = (double)BPK_PROBE_ROWS * 128.0;
    uint32_t iters = 16;
    double t;
    for (;;) { /* calibrate a slice of >= 2 ms */
        t = bpk_now();
        bpk_probe_sink = fn(buf, BPK_PROBE_ROWS, iters);
        t = bpk_now() - t;
        if (t >= 2e-3 || iters >= (1u << 30))
            break;
        iters *= 2;
    }
    const double slice = seconds > 0.0 ? seconds / 8.0 : 0.0;
    uint32_t per = iters;
    if (slice > t && t > 0.0) {
        const double f = slice / t * (double)iters;
        per = f > (double)(1u << 30) ? (1u << 30) : (uint32_t)f;
    }
    double best = lanes_per_iter * iters / (t > 0.0 ? t : 1e-9);
    const double end = bpk_now() + seconds;
    do {
        t = bpk_now();
        bpk_probe_sink = fn(buf, BPK_PROBE_ROWS, per);
        t = bpk_now() - t;
        const double rate = lanes_per_iter * per / (t > 0.0 ? t : 1e-9);
        if (rate > best)
            best = rate;
    } while (bpk_now() < end);
    free(buf);
    return best;
}

double bp_ceiling_probe(bp_isa isa, double seconds)
{
    if ((unsigned)isa >= BP_ISA_COUNT || !(bp_cpu_isa_mask() & BP_ISA_BIT(isa)))
        return 0.0;
    switch (isa) {
    case BP_ISA_SCALAR:
        return bpk_probe_time(bpk_probe_run_scalar, seconds);
#if defined(__x86_64__)
    case BP_ISA_AVX2:
        return bpk_probe_time(bpk_probe_run_avx2, seconds);
    case BP_ISA_AVX512:
    case BP_ISA_AVX512VNNI: /* the bitplane kernels use no VNNI */
        return bpk_probe_time(bpk_probe_run_avx512, seconds);
#endif
#if defined(__aarch64__)
    case BP_ISA_NEON:
        return bpk_probe_neon(seconds);
#endif
    default:
        return 0.0;
    }
}
