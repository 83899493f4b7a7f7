/* Shared AVX-512 store of the CSR kernels: Q0..Q3 hold, in 128-bit lane L,
 * pixels 16L+4t .. 16L+4t+3 (t = 0..3); a 4x4 transpose of 128-bit lanes
 * writes pixels 0..63 in order (masked to `valid` when masked). Include only
 * from files built with AVX-512 flags. */
#ifndef BPK_CSR_X86_STORE_H
#define BPK_CSR_X86_STORE_H

#include <immintrin.h>
#include <stdint.h>

static inline __attribute__((always_inline)) void
bpk_csr_store512(int32_t *y, __m512i q0, __m512i q1, __m512i q2, __m512i q3, int masked,
                 uint32_t valid)
{
    const __m512i t0 = _mm512_shuffle_i64x2(q0, q1, _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i t1 = _mm512_shuffle_i64x2(q2, q3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i t2 = _mm512_shuffle_i64x2(q0, q1, _MM_SHUFFLE(3, 2, 3, 2));
    const __m512i t3 = _mm512_shuffle_i64x2(q2, q3, _MM_SHUFFLE(3, 2, 3, 2));
    __m512i out[4];
    out[0] = _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
    out[1] = _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
    out[2] = _mm512_shuffle_i64x2(t2, t3, _MM_SHUFFLE(2, 0, 2, 0));
    out[3] = _mm512_shuffle_i64x2(t2, t3, _MM_SHUFFLE(3, 1, 3, 1));
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
