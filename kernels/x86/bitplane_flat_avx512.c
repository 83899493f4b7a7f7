/* AVX-512 bitplane kernels over flat digit streams (planes_flat.h), bench
 * only: one loop per merge group instead of one per plane and sign; each
 * digit scaled by +-2^s in int16 (vpmullw, vpsllvw or vpmaddubsw by mode). */
#include <immintrin.h>

#include "kernel_list.h"
#include "planes_flat.h"
#include "store_avx512.h"

#define BPF_NV 4 /* 64-pixel vectors per tile: 256 pixels */

BPK_INLINE __m512i bpf_load(const uint8_t *p, int masked, __mmask64 m)
{
    __m512i a = masked ? _mm512_maskz_loadu_epi8(m, p) : _mm512_loadu_si512((const void *)p);
    __asm__("" : "+v"(a)); /* one load per vector, not folded twice */
    return a;
}

/* Group sums to int32: lanes hold even pixels in E (word i: pixel 2i of the
 * vector) and odd ones in O, or, for MUL/SHIFT, raw byte-pair words R with
 * O their high bytes (even = R - (O << 8), all modulo 2^16). The group's
 * true value lies in int16 (bound of planes_aux.h), so the int16 lanes are
 * exact; interleaved to pixel order, widened, added << m into P. */
BPK_INLINE void bpf_flush(__m512i *R, __m512i *O, __m512i P[][4], int nv, uint32_t m, int first,
                          int rstyle)
{
    const __m128i c = _mm_cvtsi32_si128((int)m);
    const __m512i ilo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8,
                                         39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    const __m512i ihi = _mm512_set_epi16(63, 31, 62, 30, 61, 29, 60, 28, 59, 27, 58, 26, 57, 25, 56, 24,
                                         55, 23, 54, 22, 53, 21, 52, 20, 51, 19, 50, 18, 49, 17, 48, 16);
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        const __m512i e = rstyle ? _mm512_sub_epi16(R[v], _mm512_slli_epi16(O[v], 8)) : R[v];
        const __m512i z0 = _mm512_permutex2var_epi16(e, ilo, O[v]);
        const __m512i z1 = _mm512_permutex2var_epi16(e, ihi, O[v]);
        __m512i w[4] = {_mm512_cvtepi16_epi32(_mm512_castsi512_si256(z0)),
                        _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(z0, 1)),
                        _mm512_cvtepi16_epi32(_mm512_castsi512_si256(z1)),
                        _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(z1, 1))};
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) {
            /* |group value| < 2^15 and m <= 8: fits int32. */
            const __m512i s = _mm512_sll_epi32(w[q], c);
            P[v][q] = first ? s : _mm512_add_epi32(P[v][q], s);
        }
        R[v] = _mm512_setzero_si512();
        O[v] = _mm512_setzero_si512();
    }
}

/* Entries [b, e) of a group, scaled and added (OP add) or subtracted. */
#define BPF_LOOP(OP, b, e)                                                          \
    for (uint32_t i = (b); i < (e); i++) {                                          \
        const uint8_t *px = xt + (size_t)en[i].idx * ldx;                           \
        const __m512i c = _mm512_set1_epi32((int)en[i].c2);                         \
        const __m512i co = mode == BPK_FLAT_MADD ? _mm512_slli_epi16(c, 8) : c;     \
        _Pragma("GCC unroll 8") for (int v = 0; v < nv; v++)                        \
        {                                                                           \
            const __m512i a = bpf_load(px + 64 * v, masked && v == nv - 1, lm);     \
            __m512i t, u;                                                           \
            if (mode == BPK_FLAT_MADD) {                                            \
                t = _mm512_maddubs_epi16(a, c);                                     \
                u = _mm512_maddubs_epi16(a, co);                                    \
            } else if (mode == BPK_FLAT_SHIFT) {                                    \
                t = _mm512_sllv_epi16(a, c);                                        \
                u = _mm512_sllv_epi16(_mm512_srli_epi16(a, 8), c);                  \
            } else {                                                                \
                t = _mm512_mullo_epi16(a, c);                                       \
                u = _mm512_mullo_epi16(_mm512_srli_epi16(a, 8), c);                 \
            }                                                                       \
            R[v] = _mm512_##OP##_epi16(R[v], t);                                    \
            O[v] = _mm512_##OP##_epi16(O[v], u);                                    \
        }                                                                           \
    }

BPK_INLINE void bpf_tile(const bpk_planes_flat *f, uint32_t row0, uint32_t nrows, const uint8_t *xt,
                         size_t ldx, int32_t *yt, size_t ldy, int nv, int masked, uint32_t lastw,
                         bpk_flat_mode mode)
{
    const __mmask64 lm = bpk_tail_mask64(masked, lastw);
    const bpk_flat_ent *en = f->ents;
    for (uint32_t r = 0; r < nrows; r++) {
        const uint32_t j = row0 + r;
        __m512i R[BPF_NV], O[BPF_NV], P[BPF_NV][4];
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            R[v] = O[v] = _mm512_setzero_si512();
            P[v][0] = P[v][1] = P[v][2] = P[v][3] = _mm512_setzero_si512();
        }
        const uint32_t g0 = f->grp_ptr[j], g1 = f->grp_ptr[j + 1];
        for (uint32_t g = g0; g < g1; g++) {
            const bpk_flat_group gr = f->groups[g];
            if (mode == BPK_FLAT_SHIFT) {
                BPF_LOOP(add, gr.begin, gr.mid)
                BPF_LOOP(sub, gr.mid, gr.end)
            } else {
                BPF_LOOP(add, gr.begin, gr.end) /* sign is in the coefficient */
            }
            bpf_flush(R, O, P, nv, gr.m_lo, g == g0, mode != BPK_FLAT_MADD);
        }
        int32_t *yr = yt + (size_t)r * ldy;
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            const int lastv = masked && v == nv - 1;
            bpk_store64(yr + 64 * v, P[v], lastv, lastv ? lastw : 64);
        }
    }
}

BPK_INLINE void bpf_bitplane(const bpk_planes_flat *f, uint32_t row0, uint32_t nrows,
                             const uint8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy,
                             bpk_flat_mode mode)
{
    size_t p0 = 0;
    for (; p0 + 64 * BPF_NV <= np; p0 += 64 * BPF_NV)
        bpf_tile(f, row0, nrows, x + p0, ldx, y + p0, ldy, BPF_NV, 0, 64, mode);
    const size_t rem = np - p0;
    const uint32_t lw = (uint32_t)(rem - (rem - 1) / 64 * 64); /* pixels in the last vector */
    switch ((rem + 63) / 64) {
    case 1: bpf_tile(f, row0, nrows, x + p0, ldx, y + p0, ldy, 1, 1, lw, mode); break;
    case 2: bpf_tile(f, row0, nrows, x + p0, ldx, y + p0, ldy, 2, 1, lw, mode); break;
    case 3: bpf_tile(f, row0, nrows, x + p0, ldx, y + p0, ldy, 3, 1, lw, mode); break;
    case 4: bpf_tile(f, row0, nrows, x + p0, ldx, y + p0, ldy, 4, 1, lw, mode); break;
    default: break; /* 0, or unreachable: rem < 256 */
    }
}

/* w->aux must hold streams from bpk_planes_flat_build in the kernel's mode;
 * otherwise the call goes to the dispatched AVX-512 kernel, so results are
 * always correct. Unlike that kernel, 16 <= np < 32 stays here (one masked
 * vector) so that the A/B measures the flat streams at every P. */
#define BPF_ENTRY(name, mode)                                                              \
    void name(const bp_planes *w, uint32_t row0, uint32_t nrows, const uint8_t *x,         \
              size_t ldx, size_t np, int32_t *y, size_t ldy)                               \
    {                                                                                      \
        const bpk_planes_flat *f = bpk_planes_flat_get(w, mode);                           \
        if (!f) {                                                 \
            bp_bitplane_u8_256x1_avx512(w, row0, nrows, x, ldx, np, y, ldy);               \
            return;                                                                        \
        }                                                                                  \
        bpf_bitplane(f, row0, nrows, x, ldx, np, y, ldy, mode);                            \
    }

BPF_ENTRY(bpk_bitplane_u8_flatmul_256x1_avx512, BPK_FLAT_MUL)
BPF_ENTRY(bpk_bitplane_u8_flatshift_256x1_avx512, BPK_FLAT_SHIFT)
BPF_ENTRY(bpk_bitplane_u8_flatmadd_256x1_avx512, BPK_FLAT_MADD)
