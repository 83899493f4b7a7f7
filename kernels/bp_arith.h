/* The canonical scalar arithmetic between the integer and float domains
 * (formats/SPEC.md sections 7 and 8 define it): quantization, the layer
 * epilogue, ReLU, GELU and exp, one element at a time. The quantize/epilogue
 * kernels (generic/epilogue_scalar.c and their SIMD twins), the row ops
 * (generic/rowops.c) and the engine's float operators are all written in
 * these terms. Files using these must be
 * compiled with -ffp-contract=off: no product may be fused into an FMA. */
#ifndef BP_ARITH_H
#define BP_ARITH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

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

/* Canonical epilogue for one output:
 *   t = (float)acc * out_scale;  t = t + bias;  [t = t + residual;]  [act]
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

/* GELU coefficients (formats/SPEC.md 7.3): bp_gelu_coef[k][i] is coefficient
 * k (degree k, Horner from k = 14 down) of interval i. Interval 0 (|a| < 1):
 * 1 + erf(a) = 1 + a * P0(a^2), P0 of degree 10 (k = 11..14 are 0); interval
 * i = 1..5 (i <= |a| < i + 1): erfc(|a|) = Q_i(|a| - (i + 0.5)). Columns 6
 * and 7 are 0 (padding for 8-wide table lookups). */
extern const double bp_gelu_coef[15][8];

/* GELU(x) = x/2 * (1 + erf(x/sqrt 2)) in double, rounded once to float
 * (formats/SPEC.md 7.3). Written branch-free (the interval selects the
 * coefficients; special cases are selected at the end) so that loops over it
 * vectorize, and the SIMD kernels do the same double operations per lane. */
static inline float bp_gelu(float xf)
{
    double xd = xf, a = xd * 0x1.6a09e667f3bcdp-1;
    double m = fabs(a);
    int iv = (m >= 1.0) + (m >= 2.0) + (m >= 3.0) + (m >= 4.0) + (m >= 5.0);
    double z = iv == 0 ? m * m : m - ((double)iv + 0.5);
    double p = 0.0;
    for (int k = 14; k >= 0; k--) {
        double ck = bp_gelu_coef[k][iv];
        p = k == 14 ? ck : p * z + ck;
    }
    double hq = a > 0.0 ? 2.0 - p : p;
    double h = iv == 0 ? 1.0 + a * p : hq; /* 1 + erf(a) */
    float r = (float)((0.5 * xd) * h);
    float big = a > 0.0 ? xf : -0.0f;
    r = m >= 6.0 ? big : r;
    return a == a ? r : xf;
}

/* 1/k!, k = 0..11: Taylor coefficients of exp (bp_exp1). */
static const double bp_exp_coef[12] = {
    0x1p+0, 0x1p+0, 0x1p-1, 0x1.5555555555555p-3, 0x1.5555555555555p-5,
    0x1.1111111111111p-7, 0x1.6c16c16c16c17p-10, 0x1.a01a01a01a01ap-13,
    0x1.a01a01a01a01ap-16, 0x1.71de3a556c734p-19, 0x1.27e4fb7789f5cp-22,
    0x1.ae64567f544e4p-26,
};

/* exp(t) rounded once to float (formats/SPEC.md 7.3), so results do not
 * depend on the C library's expf: t = n*ln2 + r with n =
 * round-half-even(t/ln2) (adding and subtracting 1.5 * 2^52, exact for |n| <
 * 2^51), ln2 split in two so n*ln2hi is exact, exp(r) by its degree-11
 * Taylor polynomial (Horner, r = r*x + c[k], each op rounded), times 2^n
 * (exact: t is clamped to [-110, 89], so n is in [-159, 129]). Branch-free
 * so loops vectorize. */
static inline float bp_exp1(double t)
{
    double tc = t < -110.0 ? -110.0 : t;
    tc = tc > 89.0 ? 89.0 : tc;
    tc = tc == tc ? tc : 0.0;
    double kd = tc * 0x1.71547652b82fep+0 + 0x1.8p52;
    double n = kd - 0x1.8p52;
    double r = (tc - n * 0x1.62e42fefa4p-1) - n * -0x1.8432a1b0e2634p-43;
    double p = bp_exp_coef[11];
    for (int k = 10; k >= 0; k--) p = p * r + bp_exp_coef[k];
    uint64_t kb;
    memcpy(&kb, &kd, sizeof kb);
    uint64_t sb = (kb + 1023u) << 52; /* the low bits of kd hold n: 2^n */
    double sc;
    memcpy(&sc, &sb, sizeof sc);
    float v = (float)(p * sc);
    v = t < -110.0 ? 0.0f : v;
    v = t > 89.0 ? INFINITY : v;
    return t == t ? v : (float)t;
}

#endif
