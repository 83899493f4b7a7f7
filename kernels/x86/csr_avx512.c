/* AVX-512 (F/BW) CSR kernels, the sparse mult-add baseline: nonzeros taken
 * in pairs; both activation rows (64 pixels per vector, 128-pixel tile) are
 * split into even/odd int16 pixels, interleaved pairwise and multiplied by
 * the broadcast weight pair with vpmaddwd into int32. */
#include <immintrin.h>

#include "csr_x86_store.h"
#include "kernel_list.h"

#define BPK_INLINE static inline __attribute__((always_inline))
#define BPK_NV 2

BPK_INLINE __m512i bpk_load(const uint8_t *p, int masked, __mmask64 m)
{
    return masked ? _mm512_maskz_loadu_epi8(m, p) : _mm512_loadu_si512((const void *)p);
}

/* Lane layout of A0..A3 (dword 4L+t of lane L): pixels 16L+2t, 16L+8+2t,
 * 16L+2t+1, 16L+9+2t; |products| <= 255*255*2 per vpmaddwd, sums exact in
 * int32 for K <= BP_K_MAX. */
BPK_INLINE void bpk_tile(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *xt,
                         size_t ldx, int32_t *yt, size_t ldy, int nv, int masked, uint32_t lastw,
                         int s8, int idx4)
{
    const __mmask64 lm = masked ? (lastw >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << lastw) - 1))
                                : ~(__mmask64)0;
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
            const uint32_t k1 = idx4 ? ix4[i] : ix2[i];
            const int two = i + 1 < e;
            const uint32_t k2 = two ? (idx4 ? ix4[i + 1] : ix2[i + 1]) : k1;
            const uint32_t w2 = two ? (uint16_t)w->val[i + 1] : 0;
            const __m512i wp = _mm512_set1_epi32((int32_t)((uint16_t)w->val[i] | (w2 << 16)));
            const uint8_t *p1 = xt + (size_t)k1 * ldx, *p2 = xt + (size_t)k2 * ldx;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) {
                const int mv = masked && v == nv - 1;
                const __m512i a = bpk_load(p1 + 64 * v, mv, lm);
                const __m512i c = bpk_load(p2 + 64 * v, mv, lm);
                __m512i ea, oa, ec, oc;
                if (s8) {
                    ea = _mm512_srai_epi16(_mm512_slli_epi16(a, 8), 8);
                    ec = _mm512_srai_epi16(_mm512_slli_epi16(c, 8), 8);
                    oa = _mm512_srai_epi16(a, 8);
                    oc = _mm512_srai_epi16(c, 8);
                } else {
                    ea = _mm512_and_si512(a, lo8);
                    ec = _mm512_and_si512(c, lo8);
                    oa = _mm512_srli_epi16(a, 8);
                    oc = _mm512_srli_epi16(c, 8);
                }
                A[v][0] = _mm512_add_epi32(A[v][0], _mm512_madd_epi16(_mm512_unpacklo_epi16(ea, ec), wp));
                A[v][1] = _mm512_add_epi32(A[v][1], _mm512_madd_epi16(_mm512_unpackhi_epi16(ea, ec), wp));
                A[v][2] = _mm512_add_epi32(A[v][2], _mm512_madd_epi16(_mm512_unpacklo_epi16(oa, oc), wp));
                A[v][3] = _mm512_add_epi32(A[v][3], _mm512_madd_epi16(_mm512_unpackhi_epi16(oa, oc), wp));
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

BPK_INLINE void bpk_csr(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *x,
                        size_t ldx, size_t np, int32_t *y, size_t ldy, int s8, int idx4)
{
    size_t p0 = 0;
    for (; p0 + 64 * BPK_NV <= np; p0 += 64 * BPK_NV)
        bpk_tile(w, row0, nrows, x + p0, ldx, y + p0, ldy, BPK_NV, 0, 64, s8, idx4);
    const size_t rem = np - p0;
    if (rem > 64)
        bpk_tile(w, row0, nrows, x + p0, ldx, y + p0, ldy, 2, 1, (uint32_t)(rem - 64), s8, idx4);
    else if (rem > 0)
        bpk_tile(w, row0, nrows, x + p0, ldx, y + p0, ldy, 1, 1, (uint32_t)rem, s8, idx4);
}

void bp_csr_u8_128x1_avx512(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *x,
                            size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    if (w->idx_bytes == 2)
        bpk_csr(w, row0, nrows, x, ldx, np, y, ldy, 0, 0);
    else
        bpk_csr(w, row0, nrows, x, ldx, np, y, ldy, 0, 1);
}

void bp_csr_s8_128x1_avx512(const bp_csr *w, uint32_t row0, uint32_t nrows, const int8_t *x,
                            size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    const uint8_t *xu = (const uint8_t *)x;
    if (w->idx_bytes == 2)
        bpk_csr(w, row0, nrows, xu, ldx, np, y, ldy, 1, 0);
    else
        bpk_csr(w, row0, nrows, xu, ldx, np, y, ldy, 1, 1);
}
