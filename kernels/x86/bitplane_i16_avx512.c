/* Bench-only AVX-512 bitplane kernel on int16 activations (u8 or s8 values
 * already widened, pixels in order), its gather-add phase alone, the
 * u8 -> int16 widening it needs and its ceiling probe loop. Not dispatched:
 * bench/micro compares it with the u8 kernel of bitplane_avx512.c. */
#include <immintrin.h>

#include "kernel_list.h"
#include "planes_aux.h"

#ifndef BPK_I16_NV
#define BPK_I16_NV 8 /* 32-pixel vectors per tile: 256 pixels */
#endif

/* Per digit and vector: one 64-byte load of 32 int16 pixels and one int16
 * add (R += x), no byte-pair split. The plan's group bound (planes_aux.h)
 * covers x in 0..255 and in -128..127 alike (|group value| <= 128 * 255),
 * so s8 values need no +128 bias here. A flush sign-extends R to int32 and
 * adds << m into P[v][h], pixels 32v + 16h .. 32v + 16h + 15. */

/* Elements 0..lastw-1 of a 32-element vector (all when not masked). */
static inline __mmask32 bpk_i16_mask(int masked, uint32_t lastw)
{
    return masked && lastw < 32 ? (__mmask32)((1u << lastw) - 1) : (__mmask32)~0u;
}

static inline __attribute__((always_inline)) void
bpk_i16_flush(__m512i *R, __m512i P[][2], int nv, int m, int first)
{
    const __m128i c = _mm_cvtsi32_si128(m);
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        const __m512i w0 = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(R[v]));
        const __m512i w1 = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(R[v], 1));
        /* |group value| < 2^15 and m <= 8: the shifted value fits int32. */
        const __m512i s0 = _mm512_sll_epi32(w0, c), s1 = _mm512_sll_epi32(w1, c);
        P[v][0] = first ? s0 : _mm512_add_epi32(P[v][0], s0);
        P[v][1] = first ? s1 : _mm512_add_epi32(P[v][1], s1);
        R[v] = _mm512_setzero_si512();
    }
}

/* Digits idx[b..e) of one sign, added (OP = add) or subtracted (sub). */
#define BPK_I16_GATHER(OP, b, e)                                                 \
    for (uint32_t i = (b); i < (e); i++) {                                      \
        const int16_t *px = xt + (size_t)(idx4 ? ix4[i] : ix2[i]) * ldx;        \
        _Pragma("GCC unroll 8")                                                 \
        for (int v = 0; v < nv; v++) {                                          \
            const __m512i a = masked && v == nv - 1                             \
                                  ? _mm512_maskz_loadu_epi16(lm, px + 32 * v)   \
                                  : _mm512_loadu_si512((const void *)(px + 32 * v)); \
            R[v] = _mm512_##OP##_epi16(R[v], a);                                \
        }                                                                       \
    }

static inline __attribute__((always_inline)) void
bpk_i16_tile(const bp_planes *w, const bpk_planes_aux *aux, uint32_t row0, uint32_t nrows,
             const int16_t *xt, size_t ldx, int32_t *yt, size_t ldy, int nv, int masked,
             uint32_t lastw, int idx4, int gonly)
{
    const __mmask32 lm = bpk_i16_mask(masked, lastw);
    const uint16_t *ix2 = (const uint16_t *)w->idx;
    const uint32_t *ix4 = (const uint32_t *)w->idx;
    for (uint32_t r = 0; r < nrows; r++) {
        const uint32_t j = row0 + r;
        __m512i R[BPK_I16_NV], P[BPK_I16_NV][2];
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            R[v] = _mm512_setzero_si512();
        int nflush = 0;
        bpk_plan_walk wk;
        bpk_plan_walk_init(&wk, w, aux, j);
        bpk_plan_step st;
        while (bpk_plan_walk_next(&wk, aux, &st)) {
            if (gonly) {
            } else if (st.flush) {
                bpk_i16_flush(R, P, nv, st.fm, nflush++ == 0);
            } else if (st.shl) {
                const __m128i c = _mm_cvtsi32_si128(st.shl);
#pragma GCC unroll 8
                for (int v = 0; v < nv; v++)
                    R[v] = _mm512_sll_epi16(R[v], c);
            }
            BPK_I16_GATHER(add, st.pos_begin, st.pos_end);
            BPK_I16_GATHER(sub, st.neg_begin, st.neg_end);
        }
        const int last_gm = bpk_plan_walk_last_gm(&wk, aux, j);
        int32_t *yr = yt + (size_t)r * ldy;
        if (gonly) {
            /* Keep the sums observable: the raw int16 sums as 16 int32 per
             * vector into y (bench only). */
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++) {
                const uint32_t n = masked && v == nv - 1 ? (lastw < 16 ? lastw : 16) : 16;
                _mm512_mask_storeu_epi32(yr + 32 * v, (__mmask16)((1u << n) - 1), R[v]);
            }
            continue;
        }
        if (last_gm >= 0) {
            bpk_i16_flush(R, P, nv, last_gm, nflush == 0);
        } else {
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++) /* no digits: y = 0 */
                P[v][0] = P[v][1] = _mm512_setzero_si512();
        }
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            if (!(masked && v == nv - 1)) {
                _mm512_storeu_si512((void *)(yr + 32 * v), P[v][0]);
                _mm512_storeu_si512((void *)(yr + 32 * v + 16), P[v][1]);
            } else {
                const uint32_t n0 = lastw < 16 ? lastw : 16, n1 = lastw - n0;
                _mm512_mask_storeu_epi32(yr + 32 * v, (__mmask16)((1u << n0) - 1), P[v][0]);
                if (n1)
                    _mm512_mask_storeu_epi32(yr + 32 * v + 16, (__mmask16)((1u << n1) - 1),
                                             P[v][1]);
            }
        }
    }
}

static inline __attribute__((always_inline)) void
bpk_i16_bitplane(const bp_planes *w, uint32_t row0, uint32_t nrows, const int16_t *x, size_t ldx,
                 size_t np, int32_t *y, size_t ldy, int gonly, int idx4)
{
    const bpk_planes_aux *aux = bpk_planes_aux_get(w);
    size_t p0 = 0;
    for (; p0 + 32 * BPK_I16_NV <= np; p0 += 32 * BPK_I16_NV)
        bpk_i16_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, BPK_I16_NV, 0, 32, idx4,
                     gonly);
    const size_t rem = np - p0;
    const uint32_t lw = (uint32_t)(rem - (rem - 1) / 32 * 32); /* pixels in the last vector */
#define BPK_I16_TAIL(n)                                                                    \
    case n:                                                                                \
        bpk_i16_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, n, 1, lw, idx4, gonly); \
        break;
    switch ((rem + 31) / 32) {
    case 0: break;
    BPK_I16_TAIL(1)
    BPK_I16_TAIL(2)
#if BPK_I16_NV > 2
    BPK_I16_TAIL(3)
    BPK_I16_TAIL(4)
#endif
#if BPK_I16_NV > 4
    BPK_I16_TAIL(5)
    BPK_I16_TAIL(6)
    BPK_I16_TAIL(7)
    BPK_I16_TAIL(8)
#endif
    default: break; /* unreachable: rem < 32 * BPK_I16_NV */
    }
#undef BPK_I16_TAIL
}

void bpk_bitplane_i16_256x1_avx512(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                   const int16_t *x, size_t ldx, size_t np, int32_t *y,
                                   size_t ldy)
{
    if (w->idx_bytes == 2)
        bpk_i16_bitplane(w, row0, nrows, x, ldx, np, y, ldy, 0, 0);
    else
        bpk_i16_bitplane(w, row0, nrows, x, ldx, np, y, ldy, 0, 1);
}

void bpk_bitplane_i16_gather_256x1_avx512(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                          const int16_t *x, size_t ldx, size_t np, int32_t *y,
                                          size_t ldy)
{
    if (w->idx_bytes == 2)
        bpk_i16_bitplane(w, row0, nrows, x, ldx, np, y, ldy, 1, 0);
    else
        bpk_i16_bitplane(w, row0, nrows, x, ldx, np, y, ldy, 1, 1);
}

void bpk_widen_u8_i16_avx512(const uint8_t *x, size_t n, int16_t *y)
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        _mm512_storeu_si512((void *)(y + i),
                            _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(x + i))));
    if (i < n) {
        const __mmask32 m = (__mmask32)((1u << (n - i)) - 1);
        _mm512_mask_storeu_epi16(y + i, m, _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, x + i)));
    }
}

uint32_t bpk_probe_run_i16_avx512(const int16_t *buf, size_t rows, uint32_t iters)
{
    __m512i r[8];
    for (int v = 0; v < 8; v++)
        r[v] = _mm512_setzero_si512();
    for (uint32_t it = 0; it < iters; it++) {
        for (size_t k = 0; k < rows; k++) {
            const int16_t *p = buf + k * 256;
#pragma GCC unroll 8
            for (int v = 0; v < 8; v++)
                r[v] = _mm512_add_epi16(r[v], _mm512_load_si512((const void *)(p + 32 * v)));
        }
    }
    __m512i s = r[0];
    for (int v = 1; v < 8; v++)
        s = _mm512_add_epi16(s, r[v]);
    uint32_t lane[16], sum = 0;
    _mm512_storeu_si512((void *)lane, s);
    for (int i = 0; i < 16; i++)
        sum += lane[i];
    return sum;
}
