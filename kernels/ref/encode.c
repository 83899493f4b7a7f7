/* Weight encodings (binary sign-magnitude, CSD/NAF) and the conversions
 * dense <-> per-bit CSR planes and dense -> CSR of nonzeros. */
#include <stdlib.h>
#include <string.h>

#include "bp_kernels.h"

int bp_digits_encode(int32_t w, bp_encoding enc, int8_t d[BP_M_MAX])
{
    memset(d, 0, BP_M_MAX);
    if (w < -BP_W_MAX || w > BP_W_MAX)
        return -1;
    const int8_t sign = w < 0 ? -1 : 1;
    uint32_t n = (uint32_t)(w < 0 ? -w : w);
    int count = 0;
    if (enc == BP_ENC_CSD) {
        /* NAF: an odd n takes digit 2 - (n mod 4) in {+1,-1}, which leaves
         * n - digit divisible by 4, so the next digit is 0 (non-adjacent).
         * |w| <= 255 ends by position 8 (256 - 1 = 255 uses d[8]). */
        for (unsigned m = 0; n != 0; m++) {
            if (n & 1) {
                const int z = 2 - (int)(n & 3);
                d[m] = (int8_t)(z * sign);
                n = z > 0 ? n - 1 : n + 1;
                count++;
            }
            n >>= 1;
        }
    } else {
        for (unsigned m = 0; n != 0; m++, n >>= 1) {
            if (n & 1) {
                d[m] = sign;
                count++;
            }
        }
    }
    return count;
}

uint32_t bp_digits_positions(int32_t wmax, bp_encoding enc)
{
    const uint64_t v = wmax < 0 ? (uint64_t)(-(int64_t)wmax) : (uint64_t)wmax;
    uint32_t L = 0;
    if (enc == BP_ENC_CSD) {
        /* The largest value with an L-digit NAF is 1010...1 = floor(2^(L+1)/3). */
        while (((UINT64_C(1) << (L + 1)) - 1) / 3 < v)
            L++;
    } else {
        while ((UINT64_C(1) << L) - 1 < v)
            L++;
    }
    return L;
}

static void bpk_idx_store(void *idx, uint32_t bytes, uint64_t i, uint32_t k)
{
    if (bytes == 2)
        ((uint16_t *)idx)[i] = (uint16_t)k;
    else
        ((uint32_t *)idx)[i] = k;
}

static uint32_t bpk_idx_load(const void *idx, uint32_t bytes, uint64_t i)
{
    return bytes == 2 ? ((const uint16_t *)idx)[i] : ((const uint32_t *)idx)[i];
}

int bp_planes_from_dense(const int16_t *w, uint32_t rows, uint32_t K,
                         bp_encoding enc, uint32_t M, bp_planes_buf *out)
{
    memset(out, 0, sizeof(*out));
    if (!w && (uint64_t)rows * K != 0)
        return -1;
    if (M > BP_M_MAX)
        return -1;
    const uint64_t nptr = (uint64_t)rows * M * 2 + 1;
    if (nptr > SIZE_MAX / sizeof(uint32_t) || nptr - 1 > UINT32_MAX)
        return -1;
    /* Digits of every w in [-BP_W_MAX, BP_W_MAX], so pass 2 is a lookup. */
    int8_t tab[2 * BP_W_MAX + 1][BP_M_MAX];
    for (int32_t v = -BP_W_MAX; v <= BP_W_MAX; v++)
        bp_digits_encode(v, enc, tab[v + BP_W_MAX]);
    /* Pass 1: check every weight fits M positions and count the digits. */
    uint64_t total = 0;
    for (uint64_t i = 0; i < (uint64_t)rows * K; i++) {
        if (w[i] < -BP_W_MAX || w[i] > BP_W_MAX)
            return -1;
        const int8_t *d = tab[w[i] + BP_W_MAX];
        for (uint32_t m = 0; m < BP_M_MAX; m++) {
            if (d[m] && m >= M)
                return -1;
            total += d[m] != 0;
        }
    }
    if (total > UINT32_MAX)
        return -1;
    const uint32_t bytes = K <= 65535 ? 2 : 4;
    uint32_t *row_ptr = malloc(nptr * sizeof(uint32_t));
    void *idx = malloc(total ? total * bytes : 1);
    if (!row_ptr || !idx) {
        free(row_ptr);
        free(idx);
        return -1;
    }
    /* Pass 2: one (row, plane, sign) list at a time, so each list is sorted. */
    uint64_t pos = 0;
    row_ptr[0] = 0;
    for (uint32_t j = 0; j < rows; j++) {
        const int16_t *wr = w + (uint64_t)j * K;
        for (uint32_t m = 0; m < M; m++) {
            for (int s = 0; s < 2; s++) {
                const int8_t want = s == 0 ? 1 : -1;
                for (uint32_t k = 0; k < K; k++) {
                    if (tab[wr[k] + BP_W_MAX][m] == want)
                        bpk_idx_store(idx, bytes, pos++, k);
                }
                row_ptr[((uint64_t)j * M + m) * 2 + (uint64_t)s + 1] = (uint32_t)pos;
            }
        }
    }
    *out = (bp_planes_buf){
        .p = {.rows = rows, .K = K, .M = M, .idx_bytes = bytes, .row_ptr = row_ptr, .idx = idx},
        .row_ptr = row_ptr, .idx = idx, .ndigits = total};
    return 0;
}

void bp_planes_buf_free(bp_planes_buf *b)
{
    if (!b)
        return;
    free(b->row_ptr);
    free(b->idx);
    memset(b, 0, sizeof(*b));
}

void bp_planes_to_dense(const bp_planes *p, int16_t *w)
{
    memset(w, 0, (size_t)p->rows * p->K * sizeof(*w));
    for (uint32_t j = 0; j < p->rows; j++) {
        int16_t *wr = w + (uint64_t)j * p->K;
        for (uint32_t m = 0; m < p->M; m++) {
            for (int s = 0; s < 2; s++) {
                const uint64_t e = ((uint64_t)j * p->M + m) * 2 + (uint64_t)s;
                const int32_t v = (s == 0 ? 1 : -1) * (int32_t)(1u << m);
                for (uint64_t i = p->row_ptr[e]; i < p->row_ptr[e + 1]; i++)
                    wr[bpk_idx_load(p->idx, p->idx_bytes, i)] += (int16_t)v;
            }
        }
    }
}

int bp_csr_from_dense(const int16_t *w, uint32_t rows, uint32_t K, bp_csr_buf *out)
{
    memset(out, 0, sizeof(*out));
    if (!w && (uint64_t)rows * K != 0)
        return -1;
    if ((uint64_t)rows + 1 > SIZE_MAX / sizeof(uint32_t))
        return -1;
    uint64_t nnz = 0;
    for (uint64_t i = 0; i < (uint64_t)rows * K; i++) {
        if (w[i] < -BP_W_MAX || w[i] > BP_W_MAX)
            return -1;
        nnz += w[i] != 0;
    }
    if (nnz > UINT32_MAX)
        return -1;
    const uint32_t bytes = K <= 65535 ? 2 : 4;
    uint32_t *row_ptr = malloc(((size_t)rows + 1) * sizeof(uint32_t));
    void *idx = malloc(nnz ? nnz * bytes : 1);
    int16_t *val = malloc(nnz ? nnz * sizeof(int16_t) : 1);
    if (!row_ptr || !idx || !val) {
        free(row_ptr);
        free(idx);
        free(val);
        return -1;
    }
    uint64_t pos = 0;
    row_ptr[0] = 0;
    for (uint32_t j = 0; j < rows; j++) {
        const int16_t *wr = w + (uint64_t)j * K;
        for (uint32_t k = 0; k < K; k++) {
            if (wr[k]) {
                bpk_idx_store(idx, bytes, pos, k);
                val[pos++] = wr[k];
            }
        }
        row_ptr[j + 1] = (uint32_t)pos;
    }
    *out = (bp_csr_buf){
        .c = {.rows = rows, .K = K, .idx_bytes = bytes, .row_ptr = row_ptr, .idx = idx, .val = val},
        .row_ptr = row_ptr, .idx = idx, .val = val, .nnz = nnz};
    return 0;
}

void bp_csr_buf_free(bp_csr_buf *b)
{
    if (!b)
        return;
    free(b->row_ptr);
    free(b->idx);
    free(b->val);
    memset(b, 0, sizeof(*b));
}
