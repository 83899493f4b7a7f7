/* AVX2 ceiling probe: the bitplane gather-add loop of bitplane_avx2.c (four
 * 32-byte vectors per 128-pixel row, one load each) without the index
 * indirection and merge. */
#include <immintrin.h>

#include "probe_x86.h"

uint32_t bpk_probe_run_avx2(const uint8_t *buf, size_t rows, uint32_t iters)
{
    __m256i r0 = _mm256_setzero_si256(), o0 = r0, r1 = r0, o1 = r0;
    __m256i r2 = r0, o2 = r0, r3 = r0, o3 = r0;
    for (uint32_t it = 0; it < iters; it++) {
        for (size_t k = 0; k < rows; k++) {
            const uint8_t *p = buf + k * 128;
            __m256i a = _mm256_load_si256((const __m256i *)p);
            __m256i b = _mm256_load_si256((const __m256i *)(p + 32));
            __m256i c = _mm256_load_si256((const __m256i *)(p + 64));
            __m256i d = _mm256_load_si256((const __m256i *)(p + 96));
            /* One load per vector, as in the kernel. */
            __asm__("" : "+x"(a), "+x"(b), "+x"(c), "+x"(d));
            r0 = _mm256_add_epi16(r0, a);
            o0 = _mm256_add_epi16(o0, _mm256_srli_epi16(a, 8));
            r1 = _mm256_add_epi16(r1, b);
            o1 = _mm256_add_epi16(o1, _mm256_srli_epi16(b, 8));
            r2 = _mm256_add_epi16(r2, c);
            o2 = _mm256_add_epi16(o2, _mm256_srli_epi16(c, 8));
            r3 = _mm256_add_epi16(r3, d);
            o3 = _mm256_add_epi16(o3, _mm256_srli_epi16(d, 8));
        }
    }
    const __m256i s = _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(r0, o0), _mm256_add_epi16(r1, o1)),
                                       _mm256_add_epi16(_mm256_add_epi16(r2, o2), _mm256_add_epi16(r3, o3)));
    uint32_t lane[8], sum = 0;
    _mm256_storeu_si256((__m256i *)lane, s);
    for (int i = 0; i < 8; i++)
        sum += lane[i];
    return sum;
}
