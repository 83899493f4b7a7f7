/* NEON bitplane kernels (add-shift-add): 32/16/8-pixel tiles, one contiguous
 * vector load per digit, int16 partial sums (vaddw/vsubw), Horner merge in
 * int16 while a digit-count bound allows and in int32 beyond, empty planes
 * skipped; the last <8 pixels go scalar. */
#include <arm_neon.h>

#include "kernel_list.h"

/* int16 bounds (see the merge comment below for how they are used):
 * u8: terms +-x in [-255,255], XMAX = 255; a plane alone fits int16 up to
 *     32767 / 255 = 128 digits (128 * 255 = 32640). Sums run in uint16 lanes
 *     (vaddw_u8 / vsubw_u8 / vshlq_u16), i.e. mod 2^16; the true value is
 *     within [-32767, 32767], so reading the lanes as int16 is exact.
 * s8: terms +-x in [-128,128], XMAX = 128; 32767 / 128 = 255 digits
 *     (256 * 128 = 32768 does not fit).
 * The int32 merge wraps mod 2^32 at worst, so y is exact whenever the true y
 * fits int32 (|w| <= 255, |x| <= 255, K <= BP_K_MAX). */

#define BPK_INLINE static inline __attribute__((always_inline))

BPK_INLINE uint32_t bpk_neon_idx(const void *idx, uint32_t bytes, uint32_t i)
{
    return bytes == 2 ? ((const uint16_t *)idx)[i] : ((const uint32_t *)idx)[i];
}

/* s[G] holds G groups of 8 int16 lanes; add (sub = 0) or subtract (sub = 1)
 * the G*8 activations at xr. G is a compile-time 1, 2 or 4. */
BPK_INLINE void bpk_gather_u8(uint16x8_t *s, const uint8_t *xr, int G, int sub)
{
    if (G == 1) {
        const uint8x8_t v = vld1_u8(xr);
        s[0] = sub ? vsubw_u8(s[0], v) : vaddw_u8(s[0], v);
        return;
    }
    for (int h = 0; h < G / 2; h++) {
        const uint8x16_t v = vld1q_u8(xr + 16 * h);
        if (sub) {
            s[2 * h] = vsubw_u8(s[2 * h], vget_low_u8(v));
            s[2 * h + 1] = vsubw_high_u8(s[2 * h + 1], v);
        } else {
            s[2 * h] = vaddw_u8(s[2 * h], vget_low_u8(v));
            s[2 * h + 1] = vaddw_high_u8(s[2 * h + 1], v);
        }
    }
}

BPK_INLINE void bpk_gather_s8(int16x8_t *s, const int8_t *xr, int G, int sub)
{
    if (G == 1) {
        const int8x8_t v = vld1_s8(xr);
        s[0] = sub ? vsubw_s8(s[0], v) : vaddw_s8(s[0], v);
        return;
    }
    for (int h = 0; h < G / 2; h++) {
        const int8x16_t v = vld1q_s8(xr + 16 * h);
        if (sub) {
            s[2 * h] = vsubw_s8(s[2 * h], vget_low_s8(v));
            s[2 * h + 1] = vsubw_high_s8(s[2 * h + 1], v);
        } else {
            s[2 * h] = vaddw_s8(s[2 * h], vget_low_s8(v));
            s[2 * h + 1] = vaddw_high_s8(s[2 * h + 1], v);
        }
    }
}

BPK_INLINE int16x8_t bpk_as_s16_u8(uint16x8_t v) { return vreinterpretq_s16_u16(v); }
BPK_INLINE int16x8_t bpk_as_s16_s8(int16x8_t v) { return v; }
BPK_INLINE uint16x8_t bpk_zero_u8(void) { return vdupq_n_u16(0); }
BPK_INLINE int16x8_t bpk_zero_s8(void) { return vdupq_n_s16(0); }
BPK_INLINE void bpk_shl_u8(uint16x8_t *t, int n, int G)
{
    const int16x8_t sh = vdupq_n_s16((int16_t)n);
    for (int g = 0; g < G; g++)
        t[g] = vshlq_u16(t[g], sh);
}
BPK_INLINE void bpk_shl_s8(int16x8_t *t, int n, int G)
{
    const int16x8_t sh = vdupq_n_s16((int16_t)n);
    for (int g = 0; g < G; g++)
        t[g] = vshlq_s16(t[g], sh);
}

/* One row j, G*8 pixels at x (already offset to the tile), into yr.
 *
 * Merge design: the Horner merge runs in int16 as long as a bound allows,
 * and widens to int32 only when it must. t (int16 lanes) holds the value of
 * a run of planes scaled by 2^t_low; B bounds |t| from the digit counts:
 * entering plane m, B' = B * 2^(t_low - m) + XMAX * count(m), with XMAX the
 * largest |term| (u8: 255, s8: 128). Every partial value while adding plane
 * m's digits is within B'. While B' <= 32767, t <<= gap and the digits add
 * straight into t (no per-plane widening); otherwise t is flushed into the
 * int32 accumulator (acc = (acc << gap) + widen(t)) and a new run starts.
 * A plane whose own bound exceeds int16 (u8: > 128 digits, s8: > 255) is
 * added to the int32 accumulator in chunks that each fit int16. */
#define BPK_NEON_TILE(at, xt, st, XMAX)                                           \
BPK_INLINE void bpk_flush_##at(int32x4_t *acc, int *acc_low, const st *t,         \
                               int t_low, int G)                                  \
{                                                                                 \
    if (*acc_low >= 0) {                                                          \
        const int32x4_t sh = vdupq_n_s32(*acc_low - t_low);                       \
        for (int g = 0; g < 2 * G; g++)                                           \
            acc[g] = vshlq_s32(acc[g], sh);                                       \
    }                                                                             \
    for (int g = 0; g < G; g++) {                                                 \
        const int16x8_t v = bpk_as_s16_##at(t[g]);                                \
        acc[2 * g] = vaddw_s16(acc[2 * g], vget_low_s16(v));                      \
        acc[2 * g + 1] = vaddw_high_s16(acc[2 * g + 1], v);                       \
    }                                                                             \
    *acc_low = t_low;                                                             \
}                                                                                 \
                                                                                  \
BPK_INLINE void bpk_bitplane_##at##_neon_tile(const bp_planes *w, uint32_t j,     \
        const xt *x, size_t ldx, int32_t *yr, uint32_t bytes, int G)              \
{                                                                                 \
    const uint32_t M = w->M;                                                      \
    const uint32_t lim = 32767, chunk = lim / (XMAX);                             \
    int32x4_t acc[8];                                                             \
    st t[4];                                                                      \
    for (int g = 0; g < 2 * G; g++)                                               \
        acc[g] = vdupq_n_s32(0);                                                  \
    int acc_low = -1, t_low = -1; /* -1: nothing held yet */                      \
    uint64_t B = 0; /* 64-bit: no wrap even for absurd digit counts */            \
    const uint32_t *rp = w->row_ptr + (size_t)j * M * 2;                          \
    for (int m = (int)M - 1; m >= 0; m--) {                                       \
        const uint32_t b = rp[2 * m], mid = rp[2 * m + 1], e = rp[2 * m + 2];     \
        if (b == e)                                                               \
            continue; /* empty plane: folded into the next shift */               \
        const uint64_t cm = (uint64_t)(XMAX) * (e - b);                           \
        uint64_t Bn = t_low < 0 ? cm : (B << (t_low - m)) + cm;                   \
        if (Bn > lim && t_low >= 0) {                                             \
            bpk_flush_##at(acc, &acc_low, t, t_low, G);                           \
            t_low = -1;                                                           \
            Bn = cm;                                                              \
        }                                                                         \
        if (Bn > lim) {                                                           \
            /* This plane alone overflows int16: int32, in int16 chunks. */       \
            if (acc_low >= 0) {                                                   \
                const int32x4_t sh = vdupq_n_s32(acc_low - m);                    \
                for (int g = 0; g < 2 * G; g++)                                   \
                    acc[g] = vshlq_s32(acc[g], sh);                               \
            }                                                                     \
            acc_low = m;                                                          \
            for (uint32_t c0 = b; c0 < e; c0 += chunk) {                          \
                const uint32_t c1 = e - c0 > chunk ? c0 + chunk : e;              \
                st s[4];                                                          \
                for (int g = 0; g < G; g++)                                       \
                    s[g] = bpk_zero_##at();                                       \
                const uint32_t a1 = c1 < mid ? c1 : mid;                          \
                for (uint32_t i = c0; i < a1; i++)                                \
                    bpk_gather_##at(s, x + (size_t)bpk_neon_idx(w->idx, bytes, i) * ldx, G, 0); \
                for (uint32_t i = c0 > mid ? c0 : mid; i < c1; i++)               \
                    bpk_gather_##at(s, x + (size_t)bpk_neon_idx(w->idx, bytes, i) * ldx, G, 1); \
                for (int g = 0; g < G; g++) {                                     \
                    const int16x8_t v = bpk_as_s16_##at(s[g]);                    \
                    acc[2 * g] = vaddw_s16(acc[2 * g], vget_low_s16(v));          \
                    acc[2 * g + 1] = vaddw_high_s16(acc[2 * g + 1], v);           \
                }                                                                 \
            }                                                                     \
            continue;                                                             \
        }                                                                         \
        if (t_low < 0) {                                                          \
            for (int g = 0; g < G; g++)                                           \
                t[g] = bpk_zero_##at();                                           \
        } else {                                                                  \
            bpk_shl_##at(t, t_low - m, G);                                        \
        }                                                                         \
        t_low = m;                                                                \
        B = Bn;                                                                   \
        for (uint32_t i = b; i < mid; i++)                                        \
            bpk_gather_##at(t, x + (size_t)bpk_neon_idx(w->idx, bytes, i) * ldx, G, 0); \
        for (uint32_t i = mid; i < e; i++)                                        \
            bpk_gather_##at(t, x + (size_t)bpk_neon_idx(w->idx, bytes, i) * ldx, G, 1); \
    }                                                                             \
    if (t_low >= 0)                                                               \
        bpk_flush_##at(acc, &acc_low, t, t_low, G);                               \
    const int32x4_t sh = vdupq_n_s32(acc_low < 0 ? 0 : acc_low);                  \
    for (int g = 0; g < 2 * G; g++)                                               \
        vst1q_s32(yr + 4 * g, vshlq_s32(acc[g], sh));                             \
}                                                                                 \
                                                                                  \
BPK_INLINE void bpk_bitplane_##at##_neon_rows(const bp_planes *w, uint32_t row0,  \
        uint32_t nrows, const xt *x, size_t ldx, size_t np, int32_t *y,           \
        size_t ldy, uint32_t bytes)                                               \
{                                                                                 \
    for (uint32_t r = 0; r < nrows; r++) {                                        \
        int32_t *yr = y + (size_t)r * ldy;                                        \
        size_t p = 0;                                                             \
        for (; p + 32 <= np; p += 32)                                             \
            bpk_bitplane_##at##_neon_tile(w, row0 + r, x + p, ldx, yr + p, bytes, 4); \
        if (p + 16 <= np) {                                                       \
            bpk_bitplane_##at##_neon_tile(w, row0 + r, x + p, ldx, yr + p, bytes, 2); \
            p += 16;                                                              \
        }                                                                         \
        if (p + 8 <= np) {                                                        \
            bpk_bitplane_##at##_neon_tile(w, row0 + r, x + p, ldx, yr + p, bytes, 1); \
            p += 8;                                                               \
        }                                                                         \
    }                                                                             \
    /* Fewer than 8 pixels left: a vector load would read past the run. */       \
    const size_t done = np / 8 * 8;                                               \
    if (done < np)                                                                \
        bp_bitplane_##at##_32x1_scalar(w, row0, nrows, x + done, ldx, np - done,  \
                                  y + done, ldy);                                 \
}                                                                                 \
                                                                                  \
void bp_bitplane_##at##_32x1_neon(const bp_planes *w, uint32_t row0, uint32_t nrows, \
        const xt *x, size_t ldx, size_t np, int32_t *y, size_t ldy)               \
{                                                                                 \
    if (w->idx_bytes == 2)                                                        \
        bpk_bitplane_##at##_neon_rows(w, row0, nrows, x, ldx, np, y, ldy, 2);     \
    else                                                                          \
        bpk_bitplane_##at##_neon_rows(w, row0, nrows, x, ldx, np, y, ldy, 4);     \
}

BPK_NEON_TILE(u8, uint8_t, uint16x8_t, 255u)
BPK_NEON_TILE(s8, int8_t, int16x8_t, 128u)
