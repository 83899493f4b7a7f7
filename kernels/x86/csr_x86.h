/* Shared by the x86 CSR kernels (csr_avx2.c, csr_avx512.c, csr_avx512vnni.c):
 * a row's nonzeros taken in pairs. Plain C; each file compiles it with its
 * own flags. */
#ifndef BPK_CSR_X86_H
#define BPK_CSR_X86_H

#include <stdint.h>

#include "bp_kernels.h"

#define BPK_INLINE static inline __attribute__((always_inline))

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

#endif
