/* Portable bitplane kernels (add-shift-add) in the tiled form the SIMD
 * versions take: a pixel tile per row, int16 partial sums per plane in
 * bounded chunks, widened into an int32 plane sum, then a Horner merge. */
#include "kernel_list.h"

/* Pixels per tile: the lanes of one "vector" in this portable form. */
#define BPK_TILE 32

/* int16 partial-sum bounds: a chunk of n digits adds n terms +-x.
 * u8: x in [0,255], term in [-255,255]: 128 * 255 = 32640 <= 32767, while
 *     129 * 255 = 32895 is not, so at most 128 digits per int16 partial sum.
 * s8: x in [-128,127], term (+x or -x) in [-128,128]: 255 * 128 = 32640 fits
 *     [-32768,32767], while 256 * 128 = 32768 (256 subtracts of x = -128) does
 *     not, so at most 255 digits. */
#define BPK_CHUNK_U8 128u
#define BPK_CHUNK_S8 255u

/* The Horner merge runs in uint32 (wrapping, so well defined in C): the
 * result is exact mod 2^32 whatever the digit pattern, hence exact whenever
 * the true y fits int32, which |w| <= 255, |x| <= 255, K <= BP_K_MAX ensure.
 * (For NAF or binary digits the intermediates fit int32 anyway: at most
 * K * 255 * 256.) */

static inline uint32_t bpk_idx(const void *idx, uint32_t bytes, uint32_t i)
{
    return bytes == 2 ? ((const uint16_t *)idx)[i] : ((const uint32_t *)idx)[i];
}

#define BPK_BITPLANE_SCALAR(at, xt, CHUNK)                                        \
static inline void bpk_bitplane_##at##_tile(const bp_planes *w, uint32_t j,       \
        const xt *x, size_t ldx, size_t n, int32_t *yr, uint32_t bytes)          \
{                                                                                 \
    const uint32_t M = w->M;                                                      \
    uint32_t acc[BPK_TILE];                                                       \
    int32_t s32[BPK_TILE];                                                        \
    int16_t s16[BPK_TILE];                                                        \
    int last = -1;                                                                \
    for (int m = (int)M - 1; m >= 0; m--) {                                       \
        const uint32_t *rp = w->row_ptr + ((size_t)j * M + (uint32_t)m) * 2;      \
        const uint32_t b = rp[0], mid = rp[1], e = rp[2];                         \
        if (b == e)                                                               \
            continue; /* empty plane: folded into the next shift */               \
        for (size_t p = 0; p < n; p++)                                            \
            s32[p] = 0;                                                           \
        for (uint32_t c0 = b; c0 < e; c0 += CHUNK) {                              \
            const uint32_t c1 = e - c0 > CHUNK ? c0 + CHUNK : e;                  \
            for (size_t p = 0; p < n; p++)                                        \
                s16[p] = 0;                                                       \
            for (uint32_t i = c0; i < c1 && i < mid; i++) {                       \
                const xt *xr = x + (size_t)bpk_idx(w->idx, bytes, i) * ldx;       \
                for (size_t p = 0; p < n; p++)                                    \
                    s16[p] = (int16_t)(s16[p] + xr[p]);                           \
            }                                                                     \
            for (uint32_t i = c0 > mid ? c0 : mid; i < c1; i++) {                 \
                const xt *xr = x + (size_t)bpk_idx(w->idx, bytes, i) * ldx;       \
                for (size_t p = 0; p < n; p++)                                    \
                    s16[p] = (int16_t)(s16[p] - xr[p]);                           \
            }                                                                     \
            for (size_t p = 0; p < n; p++)                                        \
                s32[p] += s16[p];                                                 \
        }                                                                         \
        if (last < 0) {                                                           \
            for (size_t p = 0; p < n; p++)                                        \
                acc[p] = (uint32_t)s32[p];                                        \
        } else {                                                                  \
            const int gap = last - m;                                             \
            for (size_t p = 0; p < n; p++)                                        \
                acc[p] = (acc[p] << gap) + (uint32_t)s32[p];                      \
        }                                                                         \
        last = m;                                                                 \
    }                                                                             \
    if (last < 0) {                                                               \
        for (size_t p = 0; p < n; p++)                                            \
            yr[p] = 0;                                                            \
    } else {                                                                      \
        for (size_t p = 0; p < n; p++)                                            \
            yr[p] = (int32_t)(acc[p] << last);                                    \
    }                                                                             \
}                                                                                 \
                                                                                  \
static void bpk_bitplane_##at##_rows(const bp_planes *w, uint32_t row0,           \
        uint32_t nrows, const xt *x, size_t ldx, size_t np, int32_t *y,           \
        size_t ldy, uint32_t bytes)                                               \
{                                                                                 \
    for (uint32_t r = 0; r < nrows; r++) {                                        \
        for (size_t p0 = 0; p0 < np; p0 += BPK_TILE) {                            \
            const size_t n = np - p0 < BPK_TILE ? np - p0 : BPK_TILE;             \
            bpk_bitplane_##at##_tile(w, row0 + r, x + p0, ldx, n,                 \
                                     y + (size_t)r * ldy + p0, bytes);            \
        }                                                                         \
    }                                                                             \
}                                                                                 \
                                                                                  \
void bp_bitplane_##at##_32x1_scalar(const bp_planes *w, uint32_t row0, uint32_t nrows, \
        const xt *x, size_t ldx, size_t np, int32_t *y, size_t ldy)               \
{                                                                                 \
    /* Two instantiations so the index width is a constant in the loops. */       \
    if (w->idx_bytes == 2)                                                        \
        bpk_bitplane_##at##_rows(w, row0, nrows, x, ldx, np, y, ldy, 2);          \
    else                                                                          \
        bpk_bitplane_##at##_rows(w, row0, nrows, x, ldx, np, y, ldy, 4);          \
}

BPK_BITPLANE_SCALAR(u8, uint8_t, BPK_CHUNK_U8)
BPK_BITPLANE_SCALAR(s8, int8_t, BPK_CHUNK_S8)
