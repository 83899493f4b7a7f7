/* AVX2 quantize, GELU and epilogue kernels: the operations of bp_arith.h in
 * the same order on 8 floats (GELU: 2 x 4 doubles) at a time. maxps(v, c) is
 * exactly "v > c ? v : c" and minps(v, c) "v < c ? v : c" (NaN gives c);
 * conversions round to nearest even like the C casts. Tails use masked
 * loads and a partial byte copy: nothing outside the runs is read or
 * written. */
#include <immintrin.h>
#include <string.h>

#include "bp_arith.h"
#include "kernel_list.h"
#include "kernel_x86.h"

/* Lanes 0..left-1 of 8 (all when left >= 8). */
BPK_INLINE __m256i bpk_mask8(size_t left)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int l = left >= 8 ? 8 : (int)left;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(l), lane);
}

/* Coefficient k of each lane's interval: the table row read as 8 dwords,
 * permuted by the lanes' dword pairs (intervals 0..3 from the low half,
 * 4..5 from the high half). */
BPK_INLINE __m256d bpk_coef4(int k, __m256i idx, __m256d hi_sel)
{
    __m256 lo = _mm256_permutevar8x32_ps(_mm256_loadu_ps((const float *)bp_gelu_coef[k]), idx);
    __m256 hi = _mm256_permutevar8x32_ps(_mm256_loadu_ps((const float *)bp_gelu_coef[k] + 8), idx);
    return _mm256_blendv_pd(_mm256_castps_pd(lo), _mm256_castps_pd(hi), hi_sel);
}

/* bp_gelu on 4 floats, in double. */
BPK_INLINE __m128 bpk_gelu4(__m128 xf)
{
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
    __m256d xd = _mm256_cvtps_pd(xf);
    __m256d a = _mm256_mul_pd(xd, _mm256_set1_pd(0x1.6a09e667f3bcdp-1));
    __m256d m = _mm256_andnot_pd(_mm256_set1_pd(-0.0), a);
    __m256d g1 = _mm256_cmp_pd(m, one, _CMP_GE_OQ);
    __m256d g2 = _mm256_cmp_pd(m, _mm256_set1_pd(2.0), _CMP_GE_OQ);
    __m256d g3 = _mm256_cmp_pd(m, _mm256_set1_pd(3.0), _CMP_GE_OQ);
    __m256d g4 = _mm256_cmp_pd(m, _mm256_set1_pd(4.0), _CMP_GE_OQ);
    __m256d g5 = _mm256_cmp_pd(m, _mm256_set1_pd(5.0), _CMP_GE_OQ);
    __m256d g6 = _mm256_cmp_pd(m, _mm256_set1_pd(6.0), _CMP_GE_OQ);
    __m256d pos = _mm256_cmp_pd(a, zero, _CMP_GT_OQ);
    __m256d ord = _mm256_cmp_pd(a, a, _CMP_ORD_Q);
    /* iv = (m >= 1) + ... + (m >= 5): each mask is -1 as an int64 */
    __m256i iv = _mm256_sub_epi64(_mm256_setzero_si256(), _mm256_castpd_si256(g1));
    iv = _mm256_sub_epi64(iv, _mm256_castpd_si256(g2));
    iv = _mm256_sub_epi64(iv, _mm256_castpd_si256(g3));
    iv = _mm256_sub_epi64(iv, _mm256_castpd_si256(g4));
    iv = _mm256_sub_epi64(iv, _mm256_castpd_si256(g5));
    /* (double)iv, exact: the ones are added in order 0 + 1 + 1 ... */
    __m256d ivd = _mm256_and_pd(g1, one);
    ivd = _mm256_add_pd(ivd, _mm256_and_pd(g2, one));
    ivd = _mm256_add_pd(ivd, _mm256_and_pd(g3, one));
    ivd = _mm256_add_pd(ivd, _mm256_and_pd(g4, one));
    ivd = _mm256_add_pd(ivd, _mm256_and_pd(g5, one));
    /* dword pair (2*(iv & 3), 2*(iv & 3) + 1) per lane */
    __m256i lo2 = _mm256_slli_epi64(_mm256_and_si256(iv, _mm256_set1_epi64x(3)), 1);
    __m256i idx = _mm256_or_si256(lo2, _mm256_slli_epi64(_mm256_add_epi64(lo2,
                                                                        _mm256_set1_epi64x(1)),
                                                       32));
    __m256d zq = _mm256_sub_pd(m, _mm256_add_pd(ivd, _mm256_set1_pd(0.5)));
    __m256d z = _mm256_blendv_pd(_mm256_mul_pd(m, m), zq, g1);
    __m256d p = bpk_coef4(14, idx, g4);
    for (int k = 13; k >= 0; k--) p = _mm256_add_pd(_mm256_mul_pd(p, z), bpk_coef4(k, idx, g4));
    __m256d hq = _mm256_blendv_pd(p, _mm256_sub_pd(_mm256_set1_pd(2.0), p), pos);
    __m256d h = _mm256_blendv_pd(_mm256_add_pd(one, _mm256_mul_pd(a, p)), hq, g1);
    __m128 r = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(0.5), xd), h));
    /* double masks narrowed to float lanes: the low dword of each is all set or clear */
    const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
#define BPK_NARROW(msk) \
    _mm256_castps256_ps128(_mm256_permutevar8x32_ps(_mm256_castpd_ps(msk), pick))
    __m128 big = _mm_blendv_ps(_mm_set1_ps(-0.0f), xf, BPK_NARROW(pos));
    r = _mm_blendv_ps(r, big, BPK_NARROW(g6));
    return _mm_blendv_ps(xf, r, BPK_NARROW(ord));
#undef BPK_NARROW
}

BPK_INLINE __m256 bpk_gelu8(__m256 x)
{
    __m128 lo = bpk_gelu4(_mm256_castps256_ps128(x));
    __m128 hi = bpk_gelu4(_mm256_extractf128_ps(x, 1));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

/* Quantize 8 floats to 8 int32 in the type's range (s8: NaN to 0 first). */
BPK_INLINE __m256i bpk_quant8(__m256 x, __m256 inv, int s8)
{
    const __m256 rc = _mm256_set1_ps(12582912.0f);
    __m256 v = _mm256_mul_ps(x, inv);
    if (s8) {
        v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
        v = _mm256_max_ps(v, _mm256_set1_ps(-128.0f));
        v = _mm256_min_ps(v, _mm256_set1_ps(127.0f));
    } else {
        v = _mm256_max_ps(v, _mm256_setzero_ps());
        v = _mm256_min_ps(v, _mm256_set1_ps(255.0f));
    }
    return _mm256_cvttps_epi32(_mm256_sub_ps(_mm256_add_ps(v, rc), rc));
}

/* 8 int32 (in range) to 8 bytes in the low half of the result. */
BPK_INLINE __m128i bpk_bytes8(__m256i v, int s8)
{
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return s8 ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
}

/* Stores the first n <= 8 bytes of b. */
BPK_INLINE void bpk_store_bytes(uint8_t *q, __m128i b, size_t n)
{
    if (n >= 8) {
        _mm_storel_epi64((__m128i *)q, b);
    } else {
        uint8_t t[16];
        _mm_storeu_si128((__m128i *)t, b);
        memcpy(q, t, n);
    }
}

BPK_INLINE void bpk_quantize(const float *x, uint8_t *q, size_t n, float inv, int s8)
{
    const __m256 vi = _mm256_set1_ps(inv);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storel_epi64((__m128i *)(q + i),
                         bpk_bytes8(bpk_quant8(_mm256_loadu_ps(x + i), vi, s8), s8));
    if (i < n) {
        __m256 v = _mm256_maskload_ps(x + i, bpk_mask8(n - i));
        bpk_store_bytes(q + i, bpk_bytes8(bpk_quant8(v, vi, s8), s8), n - i);
    }
}

void bp_quantize_u8_avx2(const float *x, uint8_t *q, size_t n, float inv)
{
    bpk_quantize(x, q, n, inv, 0);
}

void bp_quantize_s8_avx2(const float *x, int8_t *q, size_t n, float inv)
{
    bpk_quantize(x, (uint8_t *)q, n, inv, 1);
}

void bp_gelu_f32_avx2(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        __m256i k = bpk_mask8(n - i);
        _mm256_maskstore_ps(y + i, k, bpk_gelu8(_mm256_maskload_ps(x + i, k)));
    }
}

/* Epilogue outputs i..i+7 of one row, before quantization; tail: only the
 * first left < 8 are read (the others are 0). */
BPK_INLINE __m256 bpk_epi8(const int32_t *a, const float *res, size_t i, __m256 s, __m256 b,
                           bp_epi_act act, int tail, size_t left)
{
    __m256i k = bpk_mask8(left);
    __m256i ai = tail ? _mm256_maskload_epi32((const int *)(a + i), k)
                      : _mm256_loadu_si256((const __m256i *)(a + i));
    __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(ai), s);
    t = _mm256_add_ps(t, b);
    if (res) t = _mm256_add_ps(t, tail ? _mm256_maskload_ps(res + i, k) : _mm256_loadu_ps(res + i));
    if (act == BP_EPI_RELU) t = _mm256_max_ps(t, _mm256_setzero_ps());
    else if (act == BP_EPI_GELU) t = bpk_gelu8(t);
    return t;
}

/* Stores 8 outputs (tail: the first left); out: 0 float, 1 u8, 2 s8. */
BPK_INLINE void bpk_epi_store(void *y, size_t i, __m256 t, int out, __m256 vi, int tail,
                              size_t left)
{
    if (out == 0) {
        if (tail) _mm256_maskstore_ps((float *)y + i, bpk_mask8(left), t);
        else _mm256_storeu_ps((float *)y + i, t);
    } else {
        bpk_store_bytes((uint8_t *)y + i, bpk_bytes8(bpk_quant8(t, vi, out == 2), out == 2),
                        tail ? left : 8);
    }
}

/* One row (act and out are constants at each call site). */
BPK_INLINE void bpk_epi_row(const int32_t *a, const float *res, float s_, float b_,
                            bp_epi_act act, int out, float inv, void *y, size_t n)
{
    const __m256 s = _mm256_set1_ps(s_), b = _mm256_set1_ps(b_), vi = _mm256_set1_ps(inv);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        bpk_epi_store(y, i, bpk_epi8(a, res, i, s, b, act, 0, 8), out, vi, 0, 8);
    if (i < n)
        bpk_epi_store(y, i, bpk_epi8(a, res, i, s, b, act, 1, n - i), out, vi, 1, n - i);
}

#include "epilogue_rows_x86.h"

void bp_epilogue_f32_avx2(const bp_epi_rows *e, size_t nrows, size_t n, float *y, size_t ldy)
{
    bpk_epi_rows(e, nrows, n, y, ldy, 0);
}

void bp_epilogue_u8_avx2(const bp_epi_rows *e, size_t nrows, size_t n, uint8_t *q, size_t ldq)
{
    bpk_epi_rows(e, nrows, n, q, ldq, 1);
}

void bp_epilogue_s8_avx2(const bp_epi_rows *e, size_t nrows, size_t n, int8_t *q, size_t ldq)
{
    bpk_epi_rows(e, nrows, n, q, ldq, 2);
}
