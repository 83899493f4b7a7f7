/* The engine's canonical scalar arithmetic between float and integer domains
 * (formats/SPEC.md section 8.1 is its definition). Every backend quantizes and
 * dequantizes through these, so that backends that compute the same int32
 * accumulators give bit-identical float outputs. Compiled with
 * -ffp-contract=off: no FMA may fuse the epilogue. */
#ifndef BP_QUANT_H
#define BP_QUANT_H

#include <math.h>
#include <stdint.h>

/* Round half to even for |v| <= 2^22 in the default rounding mode, without
 * a libm call, so quantization loops vectorize: adding and subtracting
 * 1.5 * 2^23 leaves v rounded to an integer (not folded by the compiler:
 * no -ffast-math). Equal to nearbyintf(v) on that range. */
static inline float bp_round_even(float v)
{
    return (v + 12582912.0f) - 12582912.0f;
}

/* x_int = saturate(round_half_even(x * inv_scale)) with inv_scale = 1.0f /
 * act_scale, one float division per layer: a product by the reciprocal, not
 * a division per element (the two differ in the last bit for some x; SIMD
 * quantize loops and every backend use the product). Clamping before
 * rounding is the same as after (the bounds are integers, rounding is
 * monotone); NaN maps to 0, +-inf saturate. */
static inline uint8_t bp_quant_u8(float x, float inv_scale)
{
    float v = x * inv_scale;
    v = v > 0.0f ? v : 0.0f; /* also maps NaN to 0 */
    v = v < 255.0f ? v : 255.0f;
    return (uint8_t)(int32_t)bp_round_even(v);
}

static inline int8_t bp_quant_s8(float x, float inv_scale)
{
    float v = x * inv_scale;
    v = v == v ? v : 0.0f;
    v = v > -128.0f ? v : -128.0f;
    v = v < 127.0f ? v : 127.0f;
    return (int8_t)(int32_t)bp_round_even(v);
}

/* Per-channel output scale, computed once per layer: w_scale[j] * act_scale
 * rounded to float. */
static inline float bp_out_scale(float w_scale, float act_scale)
{
    return w_scale * act_scale;
}

/* Canonical epilogue for one output:
 *   t = (float)acc * out_scale;  t = t + bias;  [t = t + residual;]  [relu]
 * each step rounded to float in this order ((float)acc rounds to nearest
 * even when |acc| > 2^24). */
static inline float bp_epilogue(int32_t acc, float out_scale, float bias)
{
    float t = (float)acc * out_scale;
    return t + bias;
}

/* t > 0 ? t : +0, so -0 and NaN give +0. */
static inline float bp_relu(float t)
{
    return t > 0.0f ? t : 0.0f;
}

#endif
