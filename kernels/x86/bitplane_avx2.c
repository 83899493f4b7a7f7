/* AVX2 bitplane kernels: per digit, one contiguous 32-byte load of an
 * activation row per vector over a 128-pixel tile, added into int16 partial
 * sums; groups of planes merged by int16 Horner and widened to int32 once per
 * group (plan in ../planes_aux.h). Tails: the last vector of a row run is
 * loaded at np-32 (overlapping, same values stored twice), so nothing
 * outside the runs is read or written; 16 <= np < 32 uses 16-pixel
 * vectors, np < 16 a scalar path. */
#include <immintrin.h>

#include "kernel_list.h"
#include "bitplane_x86.h"
#include "planes_aux.h"

#ifndef BPK_NV
#define BPK_NV 4 /* 32-pixel vectors per tile: 128 pixels */
#endif

/* Pixel layout inside one 32-pixel vector: int16 word i holds pixels 2i
 * (low byte) and 2i+1 (high byte). R sums the raw words, O the high bytes
 * (v >> 8); the even sums are R - (O << 8). All modulo 2^16, exact when the
 * plan's group bound holds. A flush interleaves even/odd back into pixel
 * order, sign-extends to int32 and adds << m into P[v][q], which holds
 * pixels 8q .. 8q+7 of vector v, ready to store. */

/* One 32- or 16-pixel vector of an activation row, loaded once: keeps GCC
 * from folding the load into both the add and the shift. */
BPK_INLINE __m256i bpk_load(const uint8_t *p)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)p);
    __asm__("" : "+x"(a));
    return a;
}

BPK_INLINE __m128i bpk_load16(const uint8_t *p)
{
    __m128i a = _mm_loadu_si128((const __m128i *)p);
    __asm__("" : "+x"(a));
    return a;
}

#define BPK_LOAD(px, v) bpk_load((px) + off[v])
#define BPK_LOAD16(px, v) bpk_load16((px) + off[v])
#define BPK_FLUSH(m) bpk_flush(R, O, P, nv, m, nflush++ == 0)
#define BPK_FLUSH16(m) bpk_flush16(R, O, P, nv, m)

/* first: the row's first group, so P is assigned, not accumulated (saves
 * zeroing and adding P for the common one-group row). */
BPK_INLINE void bpk_flush(__m256i *R, __m256i *O, __m256i P[][4], int nv, int m, int first)
{
    const __m128i c = _mm_cvtsi32_si128(m);
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        const __m256i e = _mm256_sub_epi16(R[v], _mm256_slli_epi16(O[v], 8));
        const __m256i zl = _mm256_unpacklo_epi16(e, O[v]); /* pixels 0..7 | 16..23 */
        const __m256i zh = _mm256_unpackhi_epi16(e, O[v]); /* pixels 8..15 | 24..31 */
        const __m256i w0 = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(zl));
        const __m256i w1 = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(zh));
        const __m256i w2 = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(zl, 1));
        const __m256i w3 = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(zh, 1));
        /* |group value| < 2^15 and m <= 8: the shifted value fits int32. */
        const __m256i s0 = _mm256_sll_epi32(w0, c);
        P[v][0] = first ? s0 : _mm256_add_epi32(P[v][0], s0);
        const __m256i s1 = _mm256_sll_epi32(w1, c);
        P[v][1] = first ? s1 : _mm256_add_epi32(P[v][1], s1);
        const __m256i s2 = _mm256_sll_epi32(w2, c);
        P[v][2] = first ? s2 : _mm256_add_epi32(P[v][2], s2);
        const __m256i s3 = _mm256_sll_epi32(w3, c);
        P[v][3] = first ? s3 : _mm256_add_epi32(P[v][3], s3);
        R[v] = _mm256_setzero_si256();
        O[v] = _mm256_setzero_si256();
    }
}

BPK_INLINE void bpk_store(int32_t *y, __m256i P[4])
{
    _mm256_storeu_si256((__m256i *)(y + 0), P[0]);
    _mm256_storeu_si256((__m256i *)(y + 8), P[1]);
    _mm256_storeu_si256((__m256i *)(y + 16), P[2]);
    _mm256_storeu_si256((__m256i *)(y + 24), P[3]);
}

/* One pixel tile for every row: vector v at pixel 32*v, the last one at
 * lastoff (may overlap its neighbour, or start before the tile). */
BPK_INLINE void bpk_tile(const bp_planes *w, const bpk_planes_aux *aux, uint32_t row0,
                         uint32_t nrows, const uint8_t *xt, size_t ldx, int32_t *yt, size_t ldy,
                         int nv, ptrdiff_t lastoff, int s8, int idx4, int gonly)
{
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    const uint16_t *ix2 = (const uint16_t *)w->idx;
    const uint32_t *ix4 = (const uint32_t *)w->idx;
    ptrdiff_t off[BPK_NV];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        off[v] = v == nv - 1 ? lastoff : 32 * v;
    for (uint32_t r = 0; r < nrows; r++) {
        const uint32_t j = row0 + r;
        __m256i R[BPK_NV], O[BPK_NV], P[BPK_NV][4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            R[v] = O[v] = _mm256_setzero_si256();
        int nflush = 0;
        bpk_plan_walk wk;
        BPK_PLAN_ROW(&wk, __m256i, _mm256, si256, 4, BPK_LOAD, BPK_FLUSH);
        const int last_gm = bpk_plan_walk_last_gm(&wk, aux, j);
        if (gonly) {
            /* Keep the sums observable: raw int16 sums into y (bench only). */
            int32_t *yr = yt + (size_t)r * ldy;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) {
                _mm256_storeu_si256((__m256i *)(yr + off[v]), R[v]);
                _mm256_storeu_si256((__m256i *)(yr + off[v] + 8), O[v]);
            }
            continue;
        }
        if (last_gm >= 0) {
            bpk_flush(R, O, P, nv, last_gm, nflush == 0);
        } else {
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) /* no digits: y = 0 */
                P[v][0] = P[v][1] = P[v][2] = P[v][3] = _mm256_setzero_si256();
        }
        if (s8)
            BPK_S8_CORRECT(__m256i, _mm256, 4, P);
        int32_t *yr = yt + (size_t)r * ldy;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            bpk_store(yr + off[v], P[v]);
    }
}

/* 16 <= np < 32: the same scheme on 16-pixel (128-bit) vectors, the second
 * one at np-16 (overlapping); P[v][q] holds pixels 4q .. 4q+3. */
BPK_INLINE void bpk_flush16(__m128i *R, __m128i *O, __m128i P[][4], int nv, int m)
{
    const __m128i c = _mm_cvtsi32_si128(m);
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) {
        const __m128i e = _mm_sub_epi16(R[v], _mm_slli_epi16(O[v], 8));
        const __m128i zl = _mm_unpacklo_epi16(e, O[v]); /* pixels 0..7 */
        const __m128i zh = _mm_unpackhi_epi16(e, O[v]); /* pixels 8..15 */
        P[v][0] = _mm_add_epi32(P[v][0], _mm_sll_epi32(_mm_cvtepi16_epi32(zl), c));
        P[v][1] = _mm_add_epi32(P[v][1], _mm_sll_epi32(_mm_cvtepi16_epi32(_mm_srli_si128(zl, 8)), c));
        P[v][2] = _mm_add_epi32(P[v][2], _mm_sll_epi32(_mm_cvtepi16_epi32(zh), c));
        P[v][3] = _mm_add_epi32(P[v][3], _mm_sll_epi32(_mm_cvtepi16_epi32(_mm_srli_si128(zh, 8)), c));
        R[v] = _mm_setzero_si128();
        O[v] = _mm_setzero_si128();
    }
}

BPK_INLINE void bpk_tile16(const bp_planes *w, const bpk_planes_aux *aux, uint32_t row0,
                           uint32_t nrows, const uint8_t *xt, size_t ldx, int32_t *yt, size_t ldy,
                           int nv, ptrdiff_t lastoff, int s8, int idx4, int gonly)
{
    const __m128i bias = _mm_set1_epi8((char)0x80);
    const uint16_t *ix2 = (const uint16_t *)w->idx;
    const uint32_t *ix4 = (const uint32_t *)w->idx;
    const ptrdiff_t off[2] = {nv == 1 ? lastoff : 0, lastoff};
    for (uint32_t r = 0; r < nrows; r++) {
        const uint32_t j = row0 + r;
        __m128i R[2], O[2], P[2][4];
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            R[v] = O[v] = _mm_setzero_si128();
            P[v][0] = P[v][1] = P[v][2] = P[v][3] = _mm_setzero_si128();
        }
        bpk_plan_walk wk;
        BPK_PLAN_ROW(&wk, __m128i, _mm, si128, 2, BPK_LOAD16, BPK_FLUSH16);
        const int last_gm = bpk_plan_walk_last_gm(&wk, aux, j);
        int32_t *yr = yt + (size_t)r * ldy;
        if (gonly) {
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++) {
                _mm_storeu_si128((__m128i *)(yr + off[v]), R[v]);
                _mm_storeu_si128((__m128i *)(yr + off[v] + 4), O[v]);
            }
            continue;
        }
        if (last_gm >= 0)
            bpk_flush16(R, O, P, nv, last_gm);
        if (s8)
            BPK_S8_CORRECT(__m128i, _mm, 2, P);
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++)
            for (int q = 0; q < 4; q++)
                _mm_storeu_si128((__m128i *)(yr + off[v] + 4 * q), P[v][q]);
    }
}

/* np < 16: plain scalar digit sums (int32, no bound needed). */
static void bpk_bitplane_narrow(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                const uint8_t *x, size_t ldx, size_t np, int32_t *y,
                                size_t ldy, int s8)
{
    for (uint32_t r = 0; r < nrows; r++) {
        const uint32_t *rp = w->row_ptr + (size_t)(row0 + r) * w->M * 2;
        /* uint32: one plane's term may pass 2^31 (K*255*256); the sum fits. */
        uint32_t acc[16] = {0};
        for (uint32_t m = w->M; m-- > 0;) {
            for (int s = 0; s < 2; s++) {
                uint32_t t[16] = {0};
                for (uint32_t i = rp[2 * m + s]; i < rp[2 * m + s + 1]; i++) {
                    const size_t k = w->idx_bytes == 2 ? ((const uint16_t *)w->idx)[i]
                                                       : ((const uint32_t *)w->idx)[i];
                    const uint8_t *px = x + k * ldx;
                    for (size_t p = 0; p < np; p++)
                        t[p] += s8 ? (uint32_t)(int32_t)(int8_t)px[p] : (uint32_t)px[p];
                }
                for (size_t p = 0; p < np; p++)
                    acc[p] += s ? 0u - (t[p] << m) : t[p] << m;
            }
        }
        for (size_t p = 0; p < np; p++)
            y[(size_t)r * ldy + p] = (int32_t)acc[p];
    }
}

BPK_INLINE void bpk_bitplane(const bp_planes *w, uint32_t row0, uint32_t nrows, const uint8_t *x,
                             size_t ldx, size_t np, int32_t *y, size_t ldy, int s8, int gonly,
                             int idx4)
{
    if (np < 16) {
        bpk_bitplane_narrow(w, row0, nrows, x, ldx, np, y, ldy, s8);
        return;
    }
    const bpk_planes_aux *aux = bpk_planes_aux_get(w);
    if (np < 32) {
        if (np == 16)
            bpk_tile16(w, aux, row0, nrows, x, ldx, y, ldy, 1, 0, s8, idx4, gonly);
        else
            bpk_tile16(w, aux, row0, nrows, x, ldx, y, ldy, 2, (ptrdiff_t)np - 16, s8, idx4, gonly);
        return;
    }
    size_t p0 = 0;
    for (; p0 + 32 * BPK_NV <= np; p0 += 32 * BPK_NV)
        bpk_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, BPK_NV, 32 * (BPK_NV - 1), s8, idx4, gonly);
    const size_t rem = np - p0;
    if (rem == 0)
        return;
    /* np >= 32, so x + p0 + lastoff = x + np - 32 stays inside the run. */
    const ptrdiff_t lastoff = (ptrdiff_t)rem - 32;
    switch ((rem + 31) / 32) {
    case 1: bpk_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, 1, lastoff, s8, idx4, gonly); break;
    case 2: bpk_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, 2, lastoff, s8, idx4, gonly); break;
    case 3: bpk_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, 3, lastoff, s8, idx4, gonly); break;
    default: bpk_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, 4, lastoff, s8, idx4, gonly); break;
    }
}

void bp_bitplane_u8_128x1_avx2(const bp_planes *w, uint32_t row0, uint32_t nrows,
                               const uint8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    BPK_BY_IDX_WIDTH(w, bpk_bitplane, w, row0, nrows, x, ldx, np, y, ldy, 0, 0);
}

void bp_bitplane_s8_128x1_avx2(const bp_planes *w, uint32_t row0, uint32_t nrows,
                               const int8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    BPK_BY_IDX_WIDTH(w, bpk_bitplane, w, row0, nrows, (const uint8_t *)x, ldx, np, y, ldy, 1, 0);
}

/* Bench only (not dispatched): the gather-add phase of the u8 kernel alone,
 * same loads and adds, no merge; y receives raw int16 sums, not results. */
void bpk_bitplane_u8_gather_128x1_avx2(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                     const uint8_t *x, size_t ldx, size_t np, int32_t *y,
                                     size_t ldy)
{
    BPK_BY_IDX_WIDTH(w, bpk_bitplane, w, row0, nrows, x, ldx, np, y, ldy, 0, 1);
}
