/* Shared by the x86 CSR kernels (csr_avx2.c, csr_avx512.c, csr_avx512vnni.c):
 * a row's nonzeros taken in pairs. Plain C; each file compiles it with its
 * own flags. */
#ifndef BPK_CSR_X86_H
#define BPK_CSR_X86_H

#include <stdint.h>

#include "bp_kernels.h"

#include "kernel_x86.h"

/* Nonzeros i and i+1 (i < e, the row's end) as a pair: their activation rows
 * in *k1, *k2 and their weights as two int16 in one int32, the operand that
 * vpmaddwd / vpdpwssd take broadcast. An odd last nonzero pairs with its own
 * row at weight 0, so nothing outside the row's runs is read. */
BPK_INLINE int32_t bpk_csr_pair(const bp_csr *w, const uint16_t *ix2, const uint32_t *ix4,
                                int idx4, uint32_t i, uint32_t e, uint32_t *k1, uint32_t *k2)
{
    *k1 = idx4 ? ix4[i] : ix2[i];
    const int two = i + 1 < e;
    *k2 = two ? (idx4 ? ix4[i + 1] : ix2[i + 1]) : *k1;
    const uint32_t w2 = two ? (uint16_t)w->val[i + 1] : 0;
    return (int32_t)((uint16_t)w->val[i] | (w2 << 16));
}

/* One vector of a weight pair, as a macro over the vector type V (intrinsic
 * prefix P, suffix S) so each file expands it with its own flags: the rows'
 * bytes a, c split into even/odd int16 pixels (u8 zero-, s8 sign-extended;
 * lo8 = 0x00FF words), interleaved pairwise and multiplied by the pair wp
 * into A[0..3] with MAC(P, acc, pixels, wp). Lane layout of A[0..3] (dword
 * 4L+t of 128-bit lane L): pixels 16L+2t, 16L+8+2t, 16L+2t+1, 16L+9+2t. */
#define BPK_CSR_PAIR_VEC(V, P, S, MAC, A, a, c, wp, s8, lo8)                    \
    do {                                                                        \
        V ea_, oa_, ec_, oc_;                                                   \
        if (s8) {                                                               \
            ea_ = P##_srai_epi16(P##_slli_epi16(a, 8), 8);                      \
            ec_ = P##_srai_epi16(P##_slli_epi16(c, 8), 8);                      \
            oa_ = P##_srai_epi16(a, 8);                                         \
            oc_ = P##_srai_epi16(c, 8);                                         \
        } else {                                                                \
            ea_ = P##_and_##S(a, lo8);                                          \
            ec_ = P##_and_##S(c, lo8);                                          \
            oa_ = P##_srli_epi16(a, 8);                                         \
            oc_ = P##_srli_epi16(c, 8);                                         \
        }                                                                       \
        A[0] = MAC(P, A[0], P##_unpacklo_epi16(ea_, ec_), wp);                  \
        A[1] = MAC(P, A[1], P##_unpackhi_epi16(ea_, ec_), wp);                  \
        A[2] = MAC(P, A[2], P##_unpacklo_epi16(oa_, oc_), wp);                  \
        A[3] = MAC(P, A[3], P##_unpackhi_epi16(oa_, oc_), wp);                  \
    } while (0)

/* The plain MAC: vpmaddwd, then an int32 add. */
#define BPK_CSR_MADD(P, acc, x, wp) P##_add_epi32(acc, P##_madd_epi16(x, wp))

#endif
