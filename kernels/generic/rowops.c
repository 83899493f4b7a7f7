/* The row ops (tap accumulation, space-to-depth, LayerNorm, softmax,
 * sigmoid, shifted s8 quantization) in portable C. Built once per ISA level:
 * here for the baseline (suffix _scalar), and #included by
 * x86/rowops_<isa>.c with BP_ROWOP_SFX set, so the compiler vectorizes the
 * same source for each ISA. No contraction (-ffp-contract=off) and no
 * intrinsics beyond the x86 widening loads of the tap sums: every level does
 * the same IEEE operations in the same order, so the results are
 * bit-identical. */
#include <math.h>
#include <string.h>

#include "bp_arith.h"
#include "kernel_list.h"

#ifndef BP_ROWOP_SFX
#define BP_ROWOP_SFX scalar
#endif
#define BPK_RO_CAT2(a, b) a##_##b
#define BPK_RO_CAT(a, b) BPK_RO_CAT2(a, b)
#define BPK_RO(name) BPK_RO_CAT(name, BP_ROWOP_SFX)

/* Tap accumulation. Unit stride (every depthwise layer of stride 1): blocks
 * of 4 vectors, then of 1, keep their sums in registers over all taps (one
 * store per block, not a load and a store per tap), through GCC/Clang vector
 * types of the build's own register width (BPK_VL uint32 lanes). Bitplane
 * taps are shift-adds, the sign applied branch-free as (v ^ m) - m with
 * m = 0 or ~0; csr taps multiply. All uint32: sums wrap instead of UB, and
 * modular sums do not depend on the order, so every blocking gives the same
 * bits. Loads stay inside x[off, off + n): a block is taken only when it is
 * whole. */
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(__AVX512F__)
#define BPK_VL 16
#elif defined(__AVX2__)
#define BPK_VL 8
#else
#define BPK_VL 4
#endif
typedef uint32_t bpk_vu __attribute__((vector_size(4 * BPK_VL)));
typedef int32_t bpk_vi __attribute__((vector_size(4 * BPK_VL)));

/* BPK_VL bytes widened to uint32 lanes (s8 sign-extended). GCC 12 lowers a
 * 4x __builtin_convertvector to scalar inserts, so the x86 builds use their
 * widening loads, and others go through 16-bit lanes. */
#if defined(__AVX512F__) || defined(__AVX2__)
#if defined(__AVX512F__)
#define BPK_WIDEN(cvt, p) _mm512_##cvt##_epi32(_mm_loadu_si128((const __m128i *)(p)))
#else
#define BPK_WIDEN(cvt, p) _mm256_##cvt##_epi32(_mm_loadl_epi64((const __m128i *)(p)))
#endif
static inline __attribute__((always_inline)) void bpk_ldv_u8(bpk_vu *o, const uint8_t *p)
{
    *o = (bpk_vu)BPK_WIDEN(cvtepu8, p);
}
static inline __attribute__((always_inline)) void bpk_ldv_s8(bpk_vu *o, const int8_t *p)
{
    *o = (bpk_vu)BPK_WIDEN(cvtepi8, p);
}
#undef BPK_WIDEN
#else
typedef uint8_t bpk_vub __attribute__((vector_size(BPK_VL)));
typedef int8_t bpk_vsb __attribute__((vector_size(BPK_VL)));
typedef uint16_t bpk_vuh __attribute__((vector_size(2 * BPK_VL)));
typedef int16_t bpk_vsh __attribute__((vector_size(2 * BPK_VL)));
static inline __attribute__((always_inline)) void bpk_ldv_u8(bpk_vu *o, const uint8_t *p)
{
    bpk_vub b;
    memcpy(&b, p, sizeof b);
    *o = __builtin_convertvector(__builtin_convertvector(b, bpk_vuh), bpk_vu);
}
static inline __attribute__((always_inline)) void bpk_ldv_s8(bpk_vu *o, const int8_t *p)
{
    bpk_vsb b;
    memcpy(&b, p, sizeof b);
    *o = (bpk_vu)__builtin_convertvector(__builtin_convertvector(b, bpk_vsh), bpk_vi);
}
#endif

/* Outputs [i, i + BPK_VL*NV) of the unit-stride tap sum, while whole blocks
 * fit. */
#define BPK_TAP_BLOCKS(NV, LD)                                                      \
    for (; i + BPK_VL * (NV) <= n; i += BPK_VL * (NV)) {                            \
        bpk_vu a[NV];                                                               \
        for (int q = 0; q < (NV); q++) a[q] = (bpk_vu){0};                          \
        for (uint32_t d = 0; d < nt; d++) {                                         \
            const __typeof__(x) xs = x + t[d].off + i;                              \
            if (csr) {                                                              \
                const uint32_t v = (uint32_t)t[d].val;                              \
                for (int q = 0; q < (NV); q++) {                                    \
                    bpk_vu u;                                                       \
                    LD(&u, xs + BPK_VL * q);                                        \
                    a[q] += u * v;                                                  \
                }                                                                   \
            } else {                                                                \
                const unsigned sh = t[d].sh;                                        \
                const uint32_t m = t[d].neg ? ~0u : 0u;                             \
                for (int q = 0; q < (NV); q++) {                                    \
                    bpk_vu u;                                                       \
                    LD(&u, xs + BPK_VL * q);                                        \
                    a[q] += ((u << sh) ^ m) - m;                                    \
                }                                                                   \
            }                                                                       \
        }                                                                           \
        memcpy(acc + i, a, sizeof a);                                               \
    }

#define BPK_TAP_ACC(name, T, LD)                                                    \
    void name(uint32_t *restrict acc, const T *restrict x, size_t n, size_t sx,     \
              const bp_tap *t, uint32_t nt, int csr)                                \
    {                                                                               \
        size_t i = 0;                                                               \
        if (sx == 1) {                                                              \
            BPK_TAP_BLOCKS(4, LD)                                                   \
            BPK_TAP_BLOCKS(1, LD)                                                   \
        }                                                                           \
        const size_t i0 = i;                                                        \
        memset(acc + i0, 0, (n - i0) * sizeof *acc);                                \
        for (uint32_t d = 0; d < nt; d++) {                                         \
            const T *xs = x + t[d].off;                                             \
            const unsigned sh = t[d].sh;                                            \
            const uint32_t v = (uint32_t)t[d].val;                                  \
            for (i = i0; i < n; i++) {                                              \
                const uint32_t xv = (uint32_t)(int32_t)xs[i * sx];                  \
                if (csr) acc[i] += v * xv;                                          \
                else if (t[d].neg) acc[i] -= xv << sh;                              \
                else acc[i] += xv << sh;                                            \
            }                                                                       \
        }                                                                           \
    }
BPK_TAP_ACC(BPK_RO(bp_tap_acc_u8), uint8_t, bpk_ldv_u8)
BPK_TAP_ACC(BPK_RO(bp_tap_acc_s8), int8_t, bpk_ldv_s8)
#undef BPK_TAP_ACC
#undef BPK_TAP_BLOCKS
#undef BPK_VL

/* Constant 2 and 4 wide windows get their own loops (vectorized as
 * interleaved loads). */
void BPK_RO(bp_s2d_u8)(const uint8_t *restrict src, size_t W, uint8_t *restrict dst, size_t P,
                       size_t OH, size_t OW, size_t kh, size_t kw)
{
    for (size_t oy = 0; oy < OH; oy++)
        for (size_t dy = 0; dy < kh; dy++) {
            const uint8_t *s = src + (oy * kh + dy) * W;
            uint8_t *d = dst + dy * kw * P + oy * OW;
            if (kw == 2) {
                for (size_t ox = 0; ox < OW; ox++) {
                    d[ox] = s[2 * ox];
                    d[P + ox] = s[2 * ox + 1];
                }
            } else if (kw == 4) {
                for (size_t ox = 0; ox < OW; ox++) {
                    d[ox] = s[4 * ox];
                    d[P + ox] = s[4 * ox + 1];
                    d[2 * P + ox] = s[4 * ox + 2];
                    d[3 * P + ox] = s[4 * ox + 3];
                }
            } else {
                for (size_t dx = 0; dx < kw; dx++)
                    for (size_t ox = 0; ox < OW; ox++) d[dx * P + ox] = s[ox * kw + dx];
            }
        }
}

/* Eight pixels' double statistics in one vector (GCC/Clang vector
 * extensions: one zmm with AVX-512, split into narrower registers
 * elsewhere). Each lane is one pixel and does exactly the scalar ops. */
typedef double bpk_v8d __attribute__((vector_size(64)));
typedef float bpk_v8f __attribute__((vector_size(32)));
typedef float bpk_v16f __attribute__((vector_size(64)));
typedef double bpk_v16d __attribute__((vector_size(128)));

/* Loads 8 floats widened to double (out by pointer: no vector-typed
 * argument or return, whose ABI depends on the ISA). GCC 12 splits an 8 ->
 * 8 widening into two halves and shuffles; the low half of a 16-lane one
 * (upper lanes undefined, never used) is a single conversion. */
static inline __attribute__((always_inline)) void bpk_ld8(bpk_v8d *o, const float *p)
{
    bpk_v8f f;
    memcpy(&f, p, sizeof f);
#if defined(__clang__) || __GNUC__ >= 12
    bpk_v16f w = __builtin_shufflevector(f, f, 0, 1, 2, 3, 4, 5, 6, 7, -1, -1, -1, -1, -1, -1,
                                         -1, -1);
    bpk_v16d d = __builtin_convertvector(w, bpk_v16d);
    *o = __builtin_shufflevector(d, d, 0, 1, 2, 3, 4, 5, 6, 7);
#else
    *o = __builtin_convertvector(f, bpk_v8d);
#endif
}

/* Sums of nv*8 pixels (nv <= 4) starting at xb, over C rows strided by HW:
 * the nv accumulators stay in registers for the whole channel loop (the
 * per-pixel chains are latency bound otherwise). */
static inline __attribute__((always_inline)) void
bpk_ln_stats_v(const float *xb, size_t C, size_t HW, double Cd, int nv, double *mean, double *r)
{
    bpk_v8d s[4], m[4];
    for (int v = 0; v < nv; v++) s[v] = (bpk_v8d){0};
    for (size_t c = 0; c < C; c++)
        for (int v = 0; v < nv; v++) {
            bpk_v8d a;
            bpk_ld8(&a, xb + c * HW + 8 * v);
            s[v] += a;
        }
    for (int v = 0; v < nv; v++) {
        m[v] = s[v] / Cd;
        s[v] = (bpk_v8d){0};
    }
    for (size_t c = 0; c < C; c++)
        for (int v = 0; v < nv; v++) {
            bpk_v8d d;
            bpk_ld8(&d, xb + c * HW + 8 * v);
            d -= m[v];
            s[v] += d * d;
        }
    for (int v = 0; v < nv; v++) {
        memcpy(mean + 8 * v, &m[v], sizeof m[v]);
        memcpy(r + 8 * v, &s[v], sizeof s[v]);
    }
}

/* 32 pixels at a time in registers, then 16, then 8; a last partial group
 * of 8 is done as the group ending at np, overlapping pixels already done
 * (they get the same sums again); fewer than 8 pixels one by one. The same
 * double ops per pixel in the same order whatever the blocking. */
void BPK_RO(bp_ln_stats)(const float *xb, float eps, size_t C, size_t HW, size_t np,
                         double *mean, double *r)
{
    const double Cd = (double)C;
    size_t p = 0;
    for (; p + 32 <= np; p += 32) bpk_ln_stats_v(xb + p, C, HW, Cd, 4, mean + p, r + p);
    for (; p + 16 <= np; p += 16) bpk_ln_stats_v(xb + p, C, HW, Cd, 2, mean + p, r + p);
    for (; p + 8 <= np; p += 8) bpk_ln_stats_v(xb + p, C, HW, Cd, 1, mean + p, r + p);
    if (p < np && np >= 8) {
        bpk_ln_stats_v(xb + np - 8, C, HW, Cd, 1, mean + np - 8, r + np - 8);
        p = np;
    }
    for (size_t q = p; q < np; q++) {
        double s = 0.0;
        for (size_t c = 0; c < C; c++) s += xb[c * HW + q];
        mean[q] = s / Cd;
        s = 0.0;
        for (size_t c = 0; c < C; c++) {
            double d = xb[c * HW + q] - mean[q];
            s += d * d;
        }
        r[q] = s;
    }
    for (size_t q = 0; q < np; q++) r[q] = 1.0 / sqrt(r[q] / Cd + (double)eps);
}

void BPK_RO(bp_ln_rows)(const float *xb, size_t HW, const double *mean, const double *r,
                        const float *gamma, const float *beta, size_t c0, size_t c1, float *yb,
                        size_t ys, size_t np)
{
    for (size_t c = c0; c < c1; c++) {
        float g = gamma[c], b = beta[c];
        const float *xr = xb + c * HW;
        float *yr = yb + (c - c0) * ys;
        size_t p = 0;
        for (; p + 8 <= np; p += 8) {
            bpk_v8d x, m, rr;
            bpk_ld8(&x, xr + p);
            memcpy(&m, mean + p, sizeof m);
            memcpy(&rr, r + p, sizeof rr);
            bpk_v8f v = __builtin_convertvector((x - m) * rr, bpk_v8f);
            v = v * g;
            v = v + b;
            memcpy(yr + p, &v, sizeof v);
        }
        for (; p < np; p++) yr[p] = (float)((xr[p] - mean[p]) * r[p]) * g + b;
    }
}

/* The exp and division loops of contiguous rows vectorize; the max and the
 * sum run in order. */
void BPK_RO(bp_softmax_f32)(const float *x, float *y, size_t n, size_t st)
{
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++) mx = x[i * st] > mx ? x[i * st] : mx;
    if (st == 1)
        for (size_t i = 0; i < n; i++) y[i] = bp_exp1((double)x[i] - (double)mx);
    else
        for (size_t i = 0; i < n; i++) y[i * st] = bp_exp1((double)x[i * st] - (double)mx);
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += y[i * st];
    if (st == 1)
        for (size_t i = 0; i < n; i++) y[i] = (float)((double)y[i] / s);
    else
        for (size_t i = 0; i < n; i++) y[i * st] = (float)((double)y[i * st] / s);
}

void BPK_RO(bp_sigmoid_f32)(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = (float)(1.0 / (1.0 + (double)bp_exp1(-(double)x[i])));
}

void BPK_RO(bp_quantize_s8u)(const float *x, uint8_t *q, size_t n, float inv)
{
    for (size_t i = 0; i < n; i++) q[i] = (uint8_t)(bp_quant_s8(x[i], inv) + 128);
}
