/* Shared by the AVX-512 CSR kernels (csr_avx512.c, csr_avx512vnni.c): the
 * masked load, the transposing 64-pixel store, and the weight-pair tile. Include only
 * from files built with AVX-512 flags; the pair tile needs BPK_CSR_PAIR_MAC
 * defined first (the one instruction in which the two files differ). */
#ifndef BPK_CSR_AVX512_H
#define BPK_CSR_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#include "csr_x86.h"
#include "store_avx512.h"
#include "kernel_list.h"

BPK_INLINE __m512i bpk_load(const uint8_t *p, int masked, __mmask64 m)
{
    return masked ? _mm512_maskz_loadu_epi8(m, p) : _mm512_loadu_si512((const void *)p);
}

/* Q0..Q3 hold, in 128-bit lane L, pixels 16L+4t .. 16L+4t+3 (t = 0..3); a
 * 4x4 transpose of 128-bit lanes writes pixels 0..63 in order (masked to
 * `valid` when masked). */
BPK_INLINE void bpk_csr_store512(int32_t *y, __m512i q0, __m512i q1, __m512i q2, __m512i q3,
                                 int masked, uint32_t valid)
{
    const __m512i t0 = _mm512_shuffle_i64x2(q0, q1, _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i t1 = _mm512_shuffle_i64x2(q2, q3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i t2 = _mm512_shuffle_i64x2(q0, q1, _MM_SHUFFLE(3, 2, 3, 2));
    const __m512i t3 = _mm512_shuffle_i64x2(q2, q3, _MM_SHUFFLE(3, 2, 3, 2));
    __m512i out[4];
    out[0] = _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
    out[1] = _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
    out[2] = _mm512_shuffle_i64x2(t2, t3, _MM_SHUFFLE(2, 0, 2, 0));
    out[3] = _mm512_shuffle_i64x2(t2, t3, _MM_SHUFFLE(3, 1, 3, 1));
    bpk_store64(y, out, masked, valid);
}

#ifdef BPK_CSR_PAIR_MAC
/* Weight pairs: both activation rows (64 pixels per vector; nv vectors, the
 * last masked to lastw pixels if masked) split into even/odd int16 pixels,
 * interleaved pairwise and multiplied by the broadcast weight pair into int32
 * with BPK_CSR_PAIR_MAC(P, acc, pixels, pair) (layout: BPK_CSR_PAIR_VEC);
 * |products| <= 255*255*2 per pair, sums exact in int32 for K <= BP_K_MAX. */
BPK_INLINE void bpk_tile_pairs(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *xt,
                               size_t ldx, int32_t *yt, size_t ldy, int nv, int masked,
                               uint32_t lastw, int s8, int idx4)
{
    const __mmask64 lm = bpk_tail_mask64(masked, lastw);
    const __m512i lo8 = _mm512_set1_epi16(0x00FF);
    const uint16_t *ix2 = (const uint16_t *)w->idx;
    const uint32_t *ix4 = (const uint32_t *)w->idx;
    for (uint32_t r = 0; r < nrows; r++) {
        const uint32_t j = row0 + r;
        __m512i A[BPK_NV][4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            A[v][0] = A[v][1] = A[v][2] = A[v][3] = _mm512_setzero_si512();
        const uint32_t b = w->row_ptr[j], e = w->row_ptr[j + 1];
        for (uint32_t i = b; i < e; i += 2) {
            uint32_t k1, k2;
            const __m512i wp = _mm512_set1_epi32(bpk_csr_pair(w, ix2, ix4, idx4, i, e, &k1, &k2));
            const uint8_t *p1 = xt + (size_t)k1 * ldx, *p2 = xt + (size_t)k2 * ldx;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) {
                const int mv = masked && v == nv - 1;
                const __m512i a = bpk_load(p1 + 64 * v, mv, lm);
                const __m512i c = bpk_load(p2 + 64 * v, mv, lm);
                BPK_CSR_PAIR_VEC(__m512i, _mm512, si512, BPK_CSR_PAIR_MAC, A[v], a, c, wp, s8, lo8);
            }
        }
        int32_t *yr = yt + (size_t)r * ldy;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            const __m512i q0 = _mm512_unpacklo_epi32(A[v][0], A[v][2]);
            const __m512i q1 = _mm512_unpackhi_epi32(A[v][0], A[v][2]);
            const __m512i q2 = _mm512_unpacklo_epi32(A[v][1], A[v][3]);
            const __m512i q3 = _mm512_unpackhi_epi32(A[v][1], A[v][3]);
            const int lastv = masked && v == nv - 1;
            bpk_csr_store512(yr + 64 * v, q0, q1, q2, q3, lastv, lastv ? lastw : 64);
        }
    }
}
#endif

#endif
