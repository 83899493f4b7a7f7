/* AVX-512 ceiling probe: the gather-add loop of bitplane_avx512.c (four
 * 64-byte vectors per 256-pixel row, one load each, raw add + high-byte add)
 * without the index indirection and merge. */
#include <immintrin.h>

#include "probe_x86.h"

uint32_t bpk_probe_run_avx512(const uint8_t *buf, size_t rows, uint32_t iters)
{
    __m512i r0 = _mm512_setzero_si512(), o0 = r0, r1 = r0, o1 = r0;
    __m512i r2 = r0, o2 = r0, r3 = r0, o3 = r0;
    const size_t n = rows / 2; /* rows of 128 bytes -> rows/2 of 256 */
    for (uint32_t it = 0; it < iters; it++) {
        for (size_t k = 0; k < n; k++) {
            const uint8_t *p = buf + k * 256;
            __m512i a = _mm512_load_si512((const void *)p);
            __m512i b = _mm512_load_si512((const void *)(p + 64));
            __m512i c = _mm512_load_si512((const void *)(p + 128));
            __m512i d = _mm512_load_si512((const void *)(p + 192));
            /* One load per vector, as in the kernel (GCC would otherwise fold
             * each load into both the add and the shift). */
            __asm__("" : "+v"(a), "+v"(b), "+v"(c), "+v"(d));
            r0 = _mm512_add_epi16(r0, a);
            o0 = _mm512_add_epi16(o0, _mm512_srli_epi16(a, 8));
            r1 = _mm512_add_epi16(r1, b);
            o1 = _mm512_add_epi16(o1, _mm512_srli_epi16(b, 8));
            r2 = _mm512_add_epi16(r2, c);
            o2 = _mm512_add_epi16(o2, _mm512_srli_epi16(c, 8));
            r3 = _mm512_add_epi16(r3, d);
            o3 = _mm512_add_epi16(o3, _mm512_srli_epi16(d, 8));
        }
    }
    const __m512i s = _mm512_add_epi16(_mm512_add_epi16(_mm512_add_epi16(r0, o0), _mm512_add_epi16(r1, o1)),
                                       _mm512_add_epi16(_mm512_add_epi16(r2, o2), _mm512_add_epi16(r3, o3)));
    uint32_t lane[16], sum = 0;
    _mm512_storeu_si512((void *)lane, s);
    for (int i = 0; i < 16; i++)
        sum += lane[i];
    return sum;
}
