/* AVX-512 VNNI CSR kernels, the sparse mult-add baseline at its strongest:
 * with aux, nonzeros come in quads of s8 weights (planes_aux.h); the four
 * activation rows (64 pixels per vector, 128-pixel tile) are byte-transposed
 * so each dword holds one pixel of all four, and vpdpbusd does 4 u8*s8 MACs
 * per int32 lane. s8 activations are biased by +128 into u8 and corrected
 * by 128*sum(w). Without aux: weight pairs with vpdpwssd (any |w| <= 255). */
#include <immintrin.h>

#include "kernel_list.h"
#include "planes_aux.h"

#define BPK_NV 2
/* Pairs (no aux): the AVX-512 pair tile with vpdpwssd. */
#define BPK_CSR_PAIR_MAC(P, acc, x, wp) P##_dpwssd_epi32(acc, x, wp)
#include "csr_avx512.h"

/* Quads: acc t, dword 4L+i of lane L = pixel 16L+4t+i. vpdpbusd sums
 * 4 products of at most 255*127 into int32 without saturation. */
BPK_INLINE void bpk_tile_quads(const bpk_csr_aux *aux, uint32_t row0, uint32_t nrows,
                               const uint8_t *xt, size_t ldx, int32_t *yt, size_t ldy, int nv,
                               int masked, uint32_t lastw, int s8)
{
    const __mmask64 lm = bpk_tail_mask64(masked, lastw);
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    for (uint32_t r = 0; r < nrows; r++) {
        const uint32_t j = row0 + r;
        __m512i A[BPK_NV][4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            A[v][0] = A[v][1] = A[v][2] = A[v][3] = _mm512_setzero_si512();
        const bpk_csr_quad *q = aux->quads + aux->quad_ptr[j];
        const bpk_csr_quad *qe = aux->quads + aux->quad_ptr[j + 1];
        for (; q < qe; q++) {
            const __m512i wq = _mm512_set1_epi32(q->w4);
            const uint8_t *p1 = xt + (size_t)q->k[0] * ldx, *p2 = xt + (size_t)q->k[1] * ldx;
            const uint8_t *p3 = xt + (size_t)q->k[2] * ldx, *p4 = xt + (size_t)q->k[3] * ldx;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) {
                const int mv = masked && v == nv - 1;
                __m512i a1 = bpk_load(p1 + 64 * v, mv, lm), a2 = bpk_load(p2 + 64 * v, mv, lm);
                __m512i a3 = bpk_load(p3 + 64 * v, mv, lm), a4 = bpk_load(p4 + 64 * v, mv, lm);
                if (s8) {
                    a1 = _mm512_xor_si512(a1, bias);
                    a2 = _mm512_xor_si512(a2, bias);
                    a3 = _mm512_xor_si512(a3, bias);
                    a4 = _mm512_xor_si512(a4, bias);
                }
                const __m512i t0 = _mm512_unpacklo_epi8(a1, a2), t1 = _mm512_unpackhi_epi8(a1, a2);
                const __m512i t2 = _mm512_unpacklo_epi8(a3, a4), t3 = _mm512_unpackhi_epi8(a3, a4);
                A[v][0] = _mm512_dpbusd_epi32(A[v][0], _mm512_unpacklo_epi16(t0, t2), wq);
                A[v][1] = _mm512_dpbusd_epi32(A[v][1], _mm512_unpackhi_epi16(t0, t2), wq);
                A[v][2] = _mm512_dpbusd_epi32(A[v][2], _mm512_unpacklo_epi16(t1, t3), wq);
                A[v][3] = _mm512_dpbusd_epi32(A[v][3], _mm512_unpackhi_epi16(t1, t3), wq);
            }
        }
        if (s8) {
            const __m512i corr = _mm512_set1_epi32(aux->row_sum[j] * 128);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                for (int t = 0; t < 4; t++)
                    A[v][t] = _mm512_sub_epi32(A[v][t], corr);
        }
        int32_t *yr = yt + (size_t)r * ldy;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            const int lastv = masked && v == nv - 1;
            bpk_csr_store512(yr + 64 * v, A[v][0], A[v][1], A[v][2], A[v][3], lastv,
                             lastv ? lastw : 64);
        }
    }
}

BPK_INLINE void bpk_tile(const bp_csr *w, const bpk_csr_aux *aux, uint32_t row0, uint32_t nrows,
                         const uint8_t *xt, size_t ldx, int32_t *yt, size_t ldy, int nv,
                         int masked, uint32_t lastw, int s8, int idx4)
{
    if (aux)
        bpk_tile_quads(aux, row0, nrows, xt, ldx, yt, ldy, nv, masked, lastw, s8);
    else
        bpk_tile_pairs(w, row0, nrows, xt, ldx, yt, ldy, nv, masked, lastw, s8, idx4);
}

BPK_INLINE void bpk_csr(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *x,
                        size_t ldx, size_t np, int32_t *y, size_t ldy, int s8, int idx4)
{
    const bpk_csr_aux *aux = bpk_csr_aux_get(w);
    size_t p0 = 0;
    for (; p0 + 64 * BPK_NV <= np; p0 += 64 * BPK_NV)
        bpk_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, BPK_NV, 0, 64, s8, idx4);
    const size_t rem = np - p0;
    if (rem > 64)
        bpk_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, 2, 1, (uint32_t)(rem - 64), s8, idx4);
    else if (rem > 0)
        bpk_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, 1, 1, (uint32_t)rem, s8, idx4);
}

void bp_csr_u8_128x1_avx512vnni(const bp_csr *w, uint32_t row0, uint32_t nrows,
                                const uint8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    BPK_BY_IDX_WIDTH(w, bpk_csr, w, row0, nrows, x, ldx, np, y, ldy, 0);
}

void bp_csr_s8_128x1_avx512vnni(const bp_csr *w, uint32_t row0, uint32_t nrows,
                                const int8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    BPK_BY_IDX_WIDTH(w, bpk_csr, w, row0, nrows, (const uint8_t *)x, ldx, np, y, ldy, 1);
}
