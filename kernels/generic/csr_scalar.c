/* Portable CSR mult-add kernels (the Weight-Pruning baseline) in tiled form:
 * per nonzero, broadcast the weight and multiply-accumulate a pixel tile. */
#include "kernel_list.h"

#define BPK_TILE 32

/* |w * x| <= 255 * 255 fits int32; the sum is kept in uint32 (wrapping, well
 * defined) and is exact whenever the true y fits int32, which |w| <= 255 and
 * K <= BP_K_MAX ensure. */

static inline uint32_t bpk_csr_idx(const void *idx, uint32_t bytes, uint32_t i)
{
    return bytes == 2 ? ((const uint16_t *)idx)[i] : ((const uint32_t *)idx)[i];
}

#define BPK_CSR_SCALAR(at, xt)                                                    \
static void bpk_csr_##at##_rows(const bp_csr *w, uint32_t row0, uint32_t nrows,   \
        const xt *x, size_t ldx, size_t np, int32_t *y, size_t ldy, uint32_t bytes) \
{                                                                                 \
    uint32_t acc[BPK_TILE];                                                       \
    for (uint32_t r = 0; r < nrows; r++) {                                        \
        const uint32_t j = row0 + r;                                              \
        const uint32_t b = w->row_ptr[j], e = w->row_ptr[j + 1];                  \
        for (size_t p0 = 0; p0 < np; p0 += BPK_TILE) {                            \
            const size_t n = np - p0 < BPK_TILE ? np - p0 : BPK_TILE;             \
            for (size_t p = 0; p < n; p++)                                        \
                acc[p] = 0;                                                       \
            for (uint32_t i = b; i < e; i++) {                                    \
                const int32_t wv = w->val[i];                                     \
                const xt *xr = x + (size_t)bpk_csr_idx(w->idx, bytes, i) * ldx + p0; \
                for (size_t p = 0; p < n; p++)                                    \
                    acc[p] += (uint32_t)(wv * (int32_t)xr[p]);                    \
            }                                                                     \
            int32_t *yr = y + (size_t)r * ldy + p0;                               \
            for (size_t p = 0; p < n; p++)                                        \
                yr[p] = (int32_t)acc[p];                                          \
        }                                                                         \
    }                                                                             \
}                                                                                 \
                                                                                  \
void bp_csr_##at##_32x1_scalar(const bp_csr *w, uint32_t row0, uint32_t nrows,    \
        const xt *x, size_t ldx, size_t np, int32_t *y, size_t ldy)               \
{                                                                                 \
    if (w->idx_bytes == 2)                                                        \
        bpk_csr_##at##_rows(w, row0, nrows, x, ldx, np, y, ldy, 2);               \
    else                                                                          \
        bpk_csr_##at##_rows(w, row0, nrows, x, ldx, np, y, ldy, 4);               \
}

BPK_CSR_SCALAR(u8, uint8_t)
BPK_CSR_SCALAR(s8, int8_t)
