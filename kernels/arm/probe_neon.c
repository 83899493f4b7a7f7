/* NEON ceiling probe: the bitplane gather-add instruction shape with the
 * weights taken away (see probe_arm.h). */
#include <arm_neon.h>
#include <stdint.h>
#include <time.h>

#include "probe_arm.h"

#define BPK_PROBE_BYTES 16384 /* well inside any L1D */

static double bpk_probe_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bpk_probe_neon(double seconds)
{
    static uint8_t buf[BPK_PROBE_BYTES] __attribute__((aligned(64)));
    for (int i = 0; i < BPK_PROBE_BYTES; i++)
        buf[i] = (uint8_t)(i * 7);
    /* 8 independent int16x8 accumulators: 4 loads in flight per step, no
     * add depends on the previous one's result in the same step. */
    uint16x8_t a0 = vdupq_n_u16(0), a1 = a0, a2 = a0, a3 = a0;
    uint16x8_t a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    uint64_t passes = 0;
    const double t0 = bpk_probe_now();
    double t = t0;
    do {
        for (int r = 0; r < 16; r++) {
            for (int i = 0; i < BPK_PROBE_BYTES; i += 64) {
                /* The address depends on nothing computed, like a digit's row. */
                const uint8x16_t v0 = vld1q_u8(buf + i);
                const uint8x16_t v1 = vld1q_u8(buf + i + 16);
                const uint8x16_t v2 = vld1q_u8(buf + i + 32);
                const uint8x16_t v3 = vld1q_u8(buf + i + 48);
                a0 = vaddw_u8(a0, vget_low_u8(v0));
                a1 = vaddw_high_u8(a1, v0);
                a2 = vaddw_u8(a2, vget_low_u8(v1));
                a3 = vaddw_high_u8(a3, v1);
                a4 = vaddw_u8(a4, vget_low_u8(v2));
                a5 = vaddw_high_u8(a5, v2);
                a6 = vaddw_u8(a6, vget_low_u8(v3));
                a7 = vaddw_high_u8(a7, v3);
            }
            /* Keep the compiler from hoisting the loads out of the r loop. */
            __asm__ volatile("" : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3),
                                  "+w"(a4), "+w"(a5), "+w"(a6), "+w"(a7));
        }
        passes += 16;
        t = bpk_probe_now();
    } while (t - t0 < seconds);
    /* Sink the result so nothing is dead. */
    uint16x8_t s = vaddq_u16(vaddq_u16(vaddq_u16(a0, a1), vaddq_u16(a2, a3)),
                             vaddq_u16(vaddq_u16(a4, a5), vaddq_u16(a6, a7)));
    volatile uint16_t sink = vaddvq_u16(s);
    (void)sink;
    const double lane_adds = (double)passes * BPK_PROBE_BYTES; /* 1 per byte */
    return t > t0 ? lane_adds / (t - t0) : 0.0;
}
