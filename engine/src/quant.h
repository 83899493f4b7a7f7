/* The engine's canonical scalar arithmetic between float and integer domains.
 * Every backend quantizes and dequantizes through these, so that backends that
 * compute the same int32 accumulators give bit-identical float outputs.
 * Compiled with -ffp-contract=off: no FMA may fuse the epilogue. */
#ifndef BP_QUANT_H
#define BP_QUANT_H

#include <math.h>
#include <stdint.h>

/* x_int = saturate(round_half_even(x * inv_scale)); inv_scale = 1.0f / scale. */
static inline uint8_t bp_quant_u8(float x, float inv_scale)
{
    float q = nearbyintf(x * inv_scale);
    if (!(q > 0.0f)) return 0; /* also maps NaN to 0 */
    if (q > 255.0f) return 255;
    return (uint8_t)q;
}

static inline int8_t bp_quant_s8(float x, float inv_scale)
{
    float q = nearbyintf(x * inv_scale);
    if (q != q) return 0;
    if (q < -128.0f) return -128;
    if (q > 127.0f) return 127;
    return (int8_t)q;
}

/* Per-channel output scale, computed once per layer: w_scale[j] * act_scale. */
static inline float bp_out_scale(float w_scale, float act_scale)
{
    return w_scale * act_scale;
}

/* Canonical epilogue for one output:
 *   t = (float)acc * out_scale;  t = t + bias;  [t = t + residual;]  [relu]
 * each step rounded to float in this order. */
static inline float bp_epilogue(int32_t acc, float out_scale, float bias)
{
    float t = (float)acc * out_scale;
    return t + bias;
}

static inline float bp_relu(float t)
{
    return t > 0.0f ? t : 0.0f;
}

#endif
