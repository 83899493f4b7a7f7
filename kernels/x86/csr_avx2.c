/* AVX2 CSR kernels, the sparse mult-add baseline: nonzeros in pairs; both
 * activation rows (32 pixels per vector, 64-pixel tile) split into even/odd
 * int16 pixels, interleaved pairwise and multiplied by the broadcast weight
 * pair with vpmaddwd into int32. Tails: the last vector of a run is loaded
 * at np-32 (overlapping, same values stored twice); 16 <= np < 32 uses
 * 16-pixel vectors, np < 16 is scalar. */
#include <immintrin.h>

#include "csr_x86.h"
#include "kernel_list.h"

#define BPK_NV 2

/* Lane layout of A0..A3 (dword 4L+t of 128-bit lane L): pixels 16L+2t,
 * 16L+8+2t, 16L+2t+1, 16L+9+2t. */
BPK_INLINE void bpk_tile(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *xt,
                         size_t ldx, int32_t *yt, size_t ldy, int nv, ptrdiff_t lastoff, int s8,
                         int idx4)
{
    const __m256i lo8 = _mm256_set1_epi16(0x00FF);
    const uint16_t *ix2 = (const uint16_t *)w->idx;
    const uint32_t *ix4 = (const uint32_t *)w->idx;
    ptrdiff_t off[BPK_NV];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        off[v] = v == nv - 1 ? lastoff : 32 * v;
    for (uint32_t r = 0; r < nrows; r++) {
        const uint32_t j = row0 + r;
        __m256i A[BPK_NV][4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            A[v][0] = A[v][1] = A[v][2] = A[v][3] = _mm256_setzero_si256();
        const uint32_t b = w->row_ptr[j], e = w->row_ptr[j + 1];
        for (uint32_t i = b; i < e; i += 2) {
            uint32_t k1, k2;
            const __m256i wp = _mm256_set1_epi32(bpk_csr_pair(w, ix2, ix4, idx4, i, e, &k1, &k2));
            const uint8_t *p1 = xt + (size_t)k1 * ldx, *p2 = xt + (size_t)k2 * ldx;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) {
                const __m256i a = _mm256_loadu_si256((const __m256i *)(p1 + off[v]));
                const __m256i c = _mm256_loadu_si256((const __m256i *)(p2 + off[v]));
                BPK_CSR_PAIR_VEC(__m256i, _mm256, si256, BPK_CSR_MADD, A[v], a, c, wp, s8, lo8);
            }
        }
        int32_t *yr = yt + (size_t)r * ldy;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            /* q_t, lane L: pixels 16L+4t .. 16L+4t+3. */
            const __m256i q0 = _mm256_unpacklo_epi32(A[v][0], A[v][2]);
            const __m256i q1 = _mm256_unpackhi_epi32(A[v][0], A[v][2]);
            const __m256i q2 = _mm256_unpacklo_epi32(A[v][1], A[v][3]);
            const __m256i q3 = _mm256_unpackhi_epi32(A[v][1], A[v][3]);
            int32_t *yv = yr + off[v];
            _mm256_storeu_si256((__m256i *)(yv + 0), _mm256_permute2x128_si256(q0, q1, 0x20));
            _mm256_storeu_si256((__m256i *)(yv + 8), _mm256_permute2x128_si256(q2, q3, 0x20));
            _mm256_storeu_si256((__m256i *)(yv + 16), _mm256_permute2x128_si256(q0, q1, 0x31));
            _mm256_storeu_si256((__m256i *)(yv + 24), _mm256_permute2x128_si256(q2, q3, 0x31));
        }
    }
}

/* 16 <= np < 32: 16-pixel (128-bit) vectors, the second at np-16.
 * A0..A3: pixels 2t, 8+2t, 2t+1, 9+2t (t = 0..3). */
BPK_INLINE void bpk_tile16(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *x,
                           size_t ldx, size_t np, int32_t *y, size_t ldy, int s8, int idx4)
{
    const __m128i lo8 = _mm_set1_epi16(0x00FF);
    const uint16_t *ix2 = (const uint16_t *)w->idx;
    const uint32_t *ix4 = (const uint32_t *)w->idx;
    const ptrdiff_t off[2] = {0, (ptrdiff_t)np - 16};
    for (uint32_t r = 0; r < nrows; r++) {
        const uint32_t j = row0 + r;
        __m128i A[2][4];
        for (int v = 0; v < 2; v++)
            A[v][0] = A[v][1] = A[v][2] = A[v][3] = _mm_setzero_si128();
        const uint32_t b = w->row_ptr[j], e = w->row_ptr[j + 1];
        for (uint32_t i = b; i < e; i += 2) {
            uint32_t k1, k2;
            const __m128i wp = _mm_set1_epi32(bpk_csr_pair(w, ix2, ix4, idx4, i, e, &k1, &k2));
            const uint8_t *p1 = x + (size_t)k1 * ldx, *p2 = x + (size_t)k2 * ldx;
#pragma GCC unroll 2
            for (int v = 0; v < 2; v++) {
                const __m128i a = _mm_loadu_si128((const __m128i *)(p1 + off[v]));
                const __m128i c = _mm_loadu_si128((const __m128i *)(p2 + off[v]));
                BPK_CSR_PAIR_VEC(__m128i, _mm, si128, BPK_CSR_MADD, A[v], a, c, wp, s8, lo8);
            }
        }
        int32_t *yr = y + (size_t)r * ldy;
        for (int v = 0; v < 2; v++) {
            int32_t *yv = yr + off[v];
            _mm_storeu_si128((__m128i *)(yv + 0), _mm_unpacklo_epi32(A[v][0], A[v][2]));
            _mm_storeu_si128((__m128i *)(yv + 4), _mm_unpackhi_epi32(A[v][0], A[v][2]));
            _mm_storeu_si128((__m128i *)(yv + 8), _mm_unpacklo_epi32(A[v][1], A[v][3]));
            _mm_storeu_si128((__m128i *)(yv + 12), _mm_unpackhi_epi32(A[v][1], A[v][3]));
        }
    }
}

static void bpk_csr_narrow(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *x,
                           size_t ldx, size_t np, int32_t *y, size_t ldy, int s8)
{
    for (uint32_t r = 0; r < nrows; r++) {
        const uint32_t j = row0 + r;
        int32_t acc[16] = {0};
        for (uint32_t i = w->row_ptr[j]; i < w->row_ptr[j + 1]; i++) {
            const size_t k = w->idx_bytes == 2 ? ((const uint16_t *)w->idx)[i]
                                               : ((const uint32_t *)w->idx)[i];
            const int32_t wv = w->val[i];
            const uint8_t *px = x + k * ldx;
            for (size_t p = 0; p < np; p++)
                acc[p] += wv * (s8 ? (int32_t)(int8_t)px[p] : (int32_t)px[p]);
        }
        for (size_t p = 0; p < np; p++)
            y[(size_t)r * ldy + p] = acc[p];
    }
}

BPK_INLINE void bpk_csr(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *x,
                        size_t ldx, size_t np, int32_t *y, size_t ldy, int s8, int idx4)
{
    if (np < 16) {
        bpk_csr_narrow(w, row0, nrows, x, ldx, np, y, ldy, s8);
        return;
    }
    if (np < 32) {
        bpk_tile16(w, row0, nrows, x, ldx, np, y, ldy, s8, idx4);
        return;
    }
    size_t p0 = 0;
    for (; p0 + 32 * BPK_NV <= np; p0 += 32 * BPK_NV)
        bpk_tile(w, row0, nrows, x + p0, ldx, y + p0, ldy, BPK_NV, 32 * (BPK_NV - 1), s8, idx4);
    const size_t rem = np - p0;
    /* np >= 32, so x + p0 + lastoff = x + np - 32 stays inside the run. */
    if (rem > 32)
        bpk_tile(w, row0, nrows, x + p0, ldx, y + p0, ldy, 2, (ptrdiff_t)rem - 32, s8, idx4);
    else if (rem > 0)
        bpk_tile(w, row0, nrows, x + p0, ldx, y + p0, ldy, 1, (ptrdiff_t)rem - 32, s8, idx4);
}

void bp_csr_u8_64x1_avx2(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *x,
                         size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    BPK_BY_IDX_WIDTH(w, bpk_csr, w, row0, nrows, x, ldx, np, y, ldy, 0);
}

void bp_csr_s8_64x1_avx2(const bp_csr *w, uint32_t row0, uint32_t nrows, const int8_t *x,
                         size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    BPK_BY_IDX_WIDTH(w, bpk_csr, w, row0, nrows, (const uint8_t *)x, ldx, np, y, ldy, 1);
}
