/* AVX-512 (F/BW) CSR kernels, the sparse mult-add baseline: nonzeros taken
 * in pairs; both activation rows (64 pixels per vector, 128-pixel tile) are
 * split into even/odd int16 pixels, interleaved pairwise and multiplied by
 * the broadcast weight pair with vpmaddwd into int32 (the tile is
 * bpk_tile_pairs in csr_avx512.h, shared with the VNNI kernel). */
#include <immintrin.h>

#include "kernel_list.h"

#define BPK_NV 2
#define BPK_CSR_PAIR_MAC BPK_CSR_MADD
#include "csr_avx512.h"

BPK_INLINE void bpk_csr(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *x,
                        size_t ldx, size_t np, int32_t *y, size_t ldy, int s8, int idx4)
{
    size_t p0 = 0;
    for (; p0 + 64 * BPK_NV <= np; p0 += 64 * BPK_NV)
        bpk_tile_pairs(w, row0, nrows, x + p0, ldx, y + p0, ldy, BPK_NV, 0, 64, s8, idx4);
    const size_t rem = np - p0;
    if (rem > 64)
        bpk_tile_pairs(w, row0, nrows, x + p0, ldx, y + p0, ldy, 2, 1, (uint32_t)(rem - 64), s8, idx4);
    else if (rem > 0)
        bpk_tile_pairs(w, row0, nrows, x + p0, ldx, y + p0, ldy, 1, 1, (uint32_t)rem, s8, idx4);
}

void bp_csr_u8_128x1_avx512(const bp_csr *w, uint32_t row0, uint32_t nrows, const uint8_t *x,
                            size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    BPK_BY_IDX_WIDTH(w, bpk_csr, w, row0, nrows, x, ldx, np, y, ldy, 0);
}

void bp_csr_s8_128x1_avx512(const bp_csr *w, uint32_t row0, uint32_t nrows, const int8_t *x,
                            size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    BPK_BY_IDX_WIDTH(w, bpk_csr, w, row0, nrows, (const uint8_t *)x, ldx, np, y, ldy, 1);
}
