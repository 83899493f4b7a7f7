/* AVX-512 quantize, GELU and epilogue kernels: the operations of bp_arith.h
 * in the same order on 16 floats (GELU: 2 x 8 doubles) at a time. maxps(v, c)
 * is exactly "v > c ? v : c" and minps(v, c) "v < c ? v : c" (NaN gives c);
 * int32 -> float and double -> float conversions round to nearest even like
 * the C casts. Tails use masked loads and stores: nothing outside the runs
 * is read or written. */
#include <immintrin.h>

#include "bp_arith.h"
#include "kernel_list.h"
#include "kernel_x86.h"

BPK_INLINE __mmask16 bpk_mask16(size_t left)
{
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

/* bp_gelu on 4 x 8 floats, in double. The Horner chains of the four
 * vectors are interleaved: one chain alone is latency-bound. */
#define BPK_GV 4
BPK_INLINE void bpk_gelu8x4(__m256 xf[BPK_GV])
{
    const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
    const __m512i i1 = _mm512_set1_epi64(1);
    __m512d xd[BPK_GV], a[BPK_GV], z[BPK_GV], p[BPK_GV];
    __m512i iv[BPK_GV];
    __mmask8 g1[BPK_GV];
    for (int v = 0; v < BPK_GV; v++) {
        xd[v] = _mm512_cvtps_pd(xf[v]);
        a[v] = _mm512_mul_pd(xd[v], _mm512_set1_pd(0x1.6a09e667f3bcdp-1));
        __m512d m = _mm512_abs_pd(a[v]);
        /* interval index iv = (m >= 1) + ... + (m >= 5), as int64 and double */
        g1[v] = _mm512_cmp_pd_mask(m, one, _CMP_GE_OQ);
        iv[v] = _mm512_maskz_mov_epi64(g1[v], i1);
        for (int e = 2; e <= 5; e++)
            iv[v] = _mm512_mask_add_epi64(iv[v],
                                          _mm512_cmp_pd_mask(m, _mm512_set1_pd(e), _CMP_GE_OQ),
                                          iv[v], i1);
        __m512d ivd = _mm512_cvtepi64_pd(iv[v]); /* exact: 0..5 */
        __m512d zq = _mm512_sub_pd(m, _mm512_add_pd(ivd, _mm512_set1_pd(0.5)));
        z[v] = _mm512_mask_mov_pd(_mm512_mul_pd(m, m), g1[v], zq);
        p[v] = _mm512_permutexvar_pd(iv[v], _mm512_loadu_pd(bp_gelu_coef[14]));
    }
    for (int k = 13; k >= 0; k--) {
        const __m512d c = _mm512_loadu_pd(bp_gelu_coef[k]);
        for (int v = 0; v < BPK_GV; v++)
            p[v] = _mm512_add_pd(_mm512_mul_pd(p[v], z[v]), _mm512_permutexvar_pd(iv[v], c));
    }
    for (int v = 0; v < BPK_GV; v++) {
        __mmask8 pos = _mm512_cmp_pd_mask(a[v], zero, _CMP_GT_OQ);
        __mmask8 ord = _mm512_cmp_pd_mask(a[v], a[v], _CMP_ORD_Q);
        __mmask8 g6 = _mm512_cmp_pd_mask(_mm512_abs_pd(a[v]), _mm512_set1_pd(6.0), _CMP_GE_OQ);
        __m512d hq = _mm512_mask_sub_pd(p[v], pos, _mm512_set1_pd(2.0), p[v]);
        __m512d h = _mm512_mask_mov_pd(hq, (__mmask8)~g1[v],
                                       _mm512_add_pd(one, _mm512_mul_pd(a[v], p[v])));
        __m256 r = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(0.5), xd[v]), h));
        __m256 big = _mm256_mask_mov_ps(_mm256_set1_ps(-0.0f), pos, xf[v]);
        r = _mm256_mask_mov_ps(r, g6, big);
        xf[v] = _mm256_mask_mov_ps(xf[v], ord, r);
    }
}

/* bp_gelu on 2 x 16 floats. Out of line: inlined into the epilogue loops the
 * compiler spills the coefficient vectors and runs the chains one by one. */
static __attribute__((noinline)) void bpk_gelu32(__m512 *x0, __m512 *x1)
{
    __m256 h[BPK_GV] = {
        _mm512_castps512_ps256(*x0),
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(*x0), 1)),
        _mm512_castps512_ps256(*x1),
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(*x1), 1)),
    };
    bpk_gelu8x4(h);
    *x0 = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(h[0])),
                                              _mm256_castps_pd(h[1]), 1));
    *x1 = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(h[2])),
                                              _mm256_castps_pd(h[3]), 1));
}

/* Quantize 16 floats to 16 int32 in [lo, hi] (s8: NaN to 0 first). */
BPK_INLINE __m512i bpk_quant16(__m512 x, __m512 inv, int s8)
{
    const __m512 rc = _mm512_set1_ps(12582912.0f);
    __m512 v = _mm512_mul_ps(x, inv);
    if (s8) {
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
        v = _mm512_max_ps(v, _mm512_set1_ps(-128.0f));
        v = _mm512_min_ps(v, _mm512_set1_ps(127.0f));
    } else {
        v = _mm512_max_ps(v, _mm512_setzero_ps());
        v = _mm512_min_ps(v, _mm512_set1_ps(255.0f));
    }
    return _mm512_cvttps_epi32(_mm512_sub_ps(_mm512_add_ps(v, rc), rc));
}

/* 64 quantized values (q[0..3], 16 each, in range) as 64 bytes in order:
 * the packs interleave 128-bit lanes, the dword permute restores the order. */
BPK_INLINE void bpk_store_bytes64(uint8_t *y, const __m512i q[4], int s8)
{
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512i ab = _mm512_packs_epi32(q[0], q[1]), cd = _mm512_packs_epi32(q[2], q[3]);
    __m512i b = s8 ? _mm512_packs_epi16(ab, cd) : _mm512_packus_epi16(ab, cd);
    _mm512_storeu_si512((void *)y, _mm512_permutexvar_epi32(order, b));
}

BPK_INLINE void bpk_quantize(const float *x, uint8_t *qo, size_t n, float inv, int s8)
{
    const __m512 vi = _mm512_set1_ps(inv);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i q[4];
        for (int h = 0; h < 4; h++) q[h] = bpk_quant16(_mm512_loadu_ps(x + i + 16 * h), vi, s8);
        bpk_store_bytes64(qo + i, q, s8);
    }
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(qo + i),
                         _mm512_cvtepi32_epi8(bpk_quant16(_mm512_loadu_ps(x + i), vi, s8)));
    if (i < n) {
        __mmask16 k = bpk_mask16(n - i);
        _mm512_mask_cvtepi32_storeu_epi8(qo + i, k,
                                         bpk_quant16(_mm512_maskz_loadu_ps(k, x + i), vi, s8));
    }
}

void bp_quantize_u8_avx512(const float *x, uint8_t *q, size_t n, float inv)
{
    bpk_quantize(x, q, n, inv, 0);
}

void bp_quantize_s8_avx512(const float *x, int8_t *q, size_t n, float inv)
{
    bpk_quantize(x, (uint8_t *)q, n, inv, 1);
}

void bp_gelu_f32_avx512(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i += 32) {
        __mmask16 k0 = bpk_mask16(n - i), k1 = n - i > 16 ? bpk_mask16(n - i - 16) : 0;
        __m512 v0 = _mm512_maskz_loadu_ps(k0, x + i), v1 = _mm512_maskz_loadu_ps(k1, x + i + 16);
        bpk_gelu32(&v0, &v1);
        _mm512_mask_storeu_ps(y + i, k0, v0);
        _mm512_mask_storeu_ps(y + i + 16, k1, v1);
    }
}

/* Epilogue outputs i..i+15 (lanes in k) of one row, before the activation. */
BPK_INLINE __m512 bpk_epi16(const int32_t *a, const float *res, size_t i, __m512 s, __m512 b,
                            __mmask16 k)
{
    __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, a + i)), s);
    t = _mm512_add_ps(t, b);
    if (res) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(k, res + i));
    return t;
}

BPK_INLINE void bpk_epi_store16(void *y, size_t i, __m512 t, int out, __m512 vi, __mmask16 k)
{
    if (out == 0)
        _mm512_mask_storeu_ps((float *)y + i, k, t);
    else
        _mm512_mask_cvtepi32_storeu_epi8((uint8_t *)y + i, k, bpk_quant16(t, vi, out == 2));
}

/* Activation of 32 outputs in t[0], t[1]. */
BPK_INLINE void bpk_act32(__m512 *t0, __m512 *t1, bp_epi_act act)
{
    if (act == BP_EPI_RELU) {
        *t0 = _mm512_max_ps(*t0, _mm512_setzero_ps());
        *t1 = _mm512_max_ps(*t1, _mm512_setzero_ps());
    } else if (act == BP_EPI_GELU) {
        bpk_gelu32(t0, t1);
    }
}

/* One row, 64 outputs per step then a masked tail of 32 at a time; out: 0
 * float, 1 u8, 2 s8. act and out are constants at each call site below, so
 * every variant is its own loop. */
BPK_INLINE void bpk_epi_row(const int32_t *a, const float *res, float s_, float b_,
                            bp_epi_act act, int out, float inv, void *y, size_t n)
{
    const __m512 s = _mm512_set1_ps(s_), b = _mm512_set1_ps(b_), vi = _mm512_set1_ps(inv);
    const __mmask16 all = 0xFFFF;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 t[4];
        for (int h = 0; h < 4; h++) t[h] = bpk_epi16(a, res, i + 16 * (size_t)h, s, b, all);
        bpk_act32(&t[0], &t[1], act);
        bpk_act32(&t[2], &t[3], act);
        if (out == 0) {
            for (int h = 0; h < 4; h++) _mm512_storeu_ps((float *)y + i + 16 * h, t[h]);
        } else {
            __m512i q[4];
            for (int h = 0; h < 4; h++) q[h] = bpk_quant16(t[h], vi, out == 2);
            bpk_store_bytes64((uint8_t *)y + i, q, out == 2);
        }
    }
    for (; i < n; i += 32) {
        __mmask16 k0 = bpk_mask16(n - i), k1 = n - i > 16 ? bpk_mask16(n - i - 16) : 0;
        __m512 t0 = bpk_epi16(a, res, i, s, b, k0), t1 = bpk_epi16(a, res, i + 16, s, b, k1);
        bpk_act32(&t0, &t1, act);
        bpk_epi_store16(y, i, t0, out, vi, k0);
        bpk_epi_store16(y, i + 16, t1, out, vi, k1);
    }
}

#include "epilogue_rows_x86.h"

void bp_epilogue_f32_avx512(const bp_epi_rows *e, size_t nrows, size_t n, float *y, size_t ldy)
{
    bpk_epi_rows(e, nrows, n, y, ldy, 0);
}

void bp_epilogue_u8_avx512(const bp_epi_rows *e, size_t nrows, size_t n, uint8_t *q,
                           size_t ldq)
{
    bpk_epi_rows(e, nrows, n, q, ldq, 1);
}

void bp_epilogue_s8_avx512(const bp_epi_rows *e, size_t nrows, size_t n, int8_t *q,
                           size_t ldq)
{
    bpk_epi_rows(e, nrows, n, q, ldq, 2);
}
