/* Shared by the AVX-512 kernel files (bitplane_avx512.c, csr_avx512.h): the
 * tail mask of a 64-byte activation load and the store of 64 int32 results.
 * Include only from files built with AVX-512 flags. */
#ifndef BPK_STORE_AVX512_H
#define BPK_STORE_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#include "kernel_x86.h"

/* Bytes 0..lastw-1 of a 64-byte vector (all when not masked). */
BPK_INLINE __mmask64 bpk_tail_mask64(int masked, uint32_t lastw)
{
    return masked ? (lastw >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << lastw) - 1))
                  : ~(__mmask64)0;
}

/* Pixels 0..63 from out[0..3] (16 int32 each, in order) to y; when masked,
 * only the first `valid` of them (nothing past the run is written). */
BPK_INLINE void bpk_store64(int32_t *y, const __m512i out[4], int masked, uint32_t valid)
{
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        if (!masked) {
            _mm512_storeu_si512((void *)(y + 16 * q), out[q]);
        } else {
            const int n = (int)valid - 16 * q;
            if (n <= 0)
                break;
            const __mmask16 mk = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
            _mm512_mask_storeu_epi32(y + 16 * q, mk, out[q]);
        }
    }
}

#endif
