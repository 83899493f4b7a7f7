/* NEON CSR mult-add kernels (Weight-Pruning baseline): per nonzero, broadcast
 * the int16 weight and multiply-accumulate widened activations into int32
 * (smlal / vmlal_n_s16) over a 32/16/8-pixel tile; the last <8 go scalar. */
#include <arm_neon.h>

#include "kernel_list.h"

/* |w| <= 255 and x widened to int16 exactly, so each smlal product fits;
 * int32 lanes wrap mod 2^32 at worst, exact whenever the true y fits int32. */

#define BPK_INLINE static inline __attribute__((always_inline))

BPK_INLINE uint32_t bpk_neon_cidx(const void *idx, uint32_t bytes, uint32_t i)
{
    return bytes == 2 ? ((const uint16_t *)idx)[i] : ((const uint32_t *)idx)[i];
}

BPK_INLINE void bpk_mac_u8(int32x4_t *acc, const uint8_t *xr, int16_t wv, int G)
{
    if (G == 1) {
        const int16x8_t v = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(xr)));
        acc[0] = vmlal_n_s16(acc[0], vget_low_s16(v), wv);
        acc[1] = vmlal_high_n_s16(acc[1], v, wv);
        return;
    }
    for (int h = 0; h < G / 2; h++) {
        const uint8x16_t q = vld1q_u8(xr + 16 * h);
        const int16x8_t lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(q)));
        const int16x8_t hi = vreinterpretq_s16_u16(vmovl_high_u8(q));
        acc[4 * h + 0] = vmlal_n_s16(acc[4 * h + 0], vget_low_s16(lo), wv);
        acc[4 * h + 1] = vmlal_high_n_s16(acc[4 * h + 1], lo, wv);
        acc[4 * h + 2] = vmlal_n_s16(acc[4 * h + 2], vget_low_s16(hi), wv);
        acc[4 * h + 3] = vmlal_high_n_s16(acc[4 * h + 3], hi, wv);
    }
}

BPK_INLINE void bpk_mac_s8(int32x4_t *acc, const int8_t *xr, int16_t wv, int G)
{
    if (G == 1) {
        const int16x8_t v = vmovl_s8(vld1_s8(xr));
        acc[0] = vmlal_n_s16(acc[0], vget_low_s16(v), wv);
        acc[1] = vmlal_high_n_s16(acc[1], v, wv);
        return;
    }
    for (int h = 0; h < G / 2; h++) {
        const int8x16_t q = vld1q_s8(xr + 16 * h);
        const int16x8_t lo = vmovl_s8(vget_low_s8(q));
        const int16x8_t hi = vmovl_high_s8(q);
        acc[4 * h + 0] = vmlal_n_s16(acc[4 * h + 0], vget_low_s16(lo), wv);
        acc[4 * h + 1] = vmlal_high_n_s16(acc[4 * h + 1], lo, wv);
        acc[4 * h + 2] = vmlal_n_s16(acc[4 * h + 2], vget_low_s16(hi), wv);
        acc[4 * h + 3] = vmlal_high_n_s16(acc[4 * h + 3], hi, wv);
    }
}

#define BPK_NEON_CSR(at, xt)                                                      \
BPK_INLINE void bpk_csr_##at##_neon_tile(const bp_csr *w, uint32_t b, uint32_t e, \
        const xt *x, size_t ldx, int32_t *yr, uint32_t bytes, int G)              \
{                                                                                 \
    int32x4_t acc[8];                                                             \
    for (int g = 0; g < 2 * G; g++)                                               \
        acc[g] = vdupq_n_s32(0);                                                  \
    for (uint32_t i = b; i < e; i++)                                              \
        bpk_mac_##at(acc, x + (size_t)bpk_neon_cidx(w->idx, bytes, i) * ldx,      \
                     w->val[i], G);                                               \
    for (int g = 0; g < 2 * G; g++)                                               \
        vst1q_s32(yr + 4 * g, acc[g]);                                            \
}                                                                                 \
                                                                                  \
BPK_INLINE void bpk_csr_##at##_neon_rows(const bp_csr *w, uint32_t row0,          \
        uint32_t nrows, const xt *x, size_t ldx, size_t np, int32_t *y,           \
        size_t ldy, uint32_t bytes)                                               \
{                                                                                 \
    for (uint32_t r = 0; r < nrows; r++) {                                        \
        const uint32_t b = w->row_ptr[row0 + r], e = w->row_ptr[row0 + r + 1];   \
        int32_t *yr = y + (size_t)r * ldy;                                        \
        size_t p = 0;                                                             \
        for (; p + 32 <= np; p += 32)                                             \
            bpk_csr_##at##_neon_tile(w, b, e, x + p, ldx, yr + p, bytes, 4);      \
        if (p + 16 <= np) {                                                       \
            bpk_csr_##at##_neon_tile(w, b, e, x + p, ldx, yr + p, bytes, 2);      \
            p += 16;                                                              \
        }                                                                         \
        if (p + 8 <= np) {                                                        \
            bpk_csr_##at##_neon_tile(w, b, e, x + p, ldx, yr + p, bytes, 1);      \
            p += 8;                                                               \
        }                                                                         \
    }                                                                             \
    const size_t done = np / 8 * 8;                                               \
    if (done < np) /* a vector load would read past the run */                   \
        bp_csr_##at##_32x1_scalar(w, row0, nrows, x + done, ldx, np - done, y + done, ldy); \
}                                                                                 \
                                                                                  \
void bp_csr_##at##_32x1_neon(const bp_csr *w, uint32_t row0, uint32_t nrows,      \
        const xt *x, size_t ldx, size_t np, int32_t *y, size_t ldy)               \
{                                                                                 \
    if (w->idx_bytes == 2)                                                        \
        bpk_csr_##at##_neon_rows(w, row0, nrows, x, ldx, np, y, ldy, 2);          \
    else                                                                          \
        bpk_csr_##at##_neon_rows(w, row0, nrows, x, ldx, np, y, ldy, 4);          \
}

BPK_NEON_CSR(u8, uint8_t)
BPK_NEON_CSR(s8, int8_t)
