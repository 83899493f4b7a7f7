/* Binary float ops with broadcasting (ADD, MUL: b read through strides, 0 on
 * broadcast axes) and CONCAT; each output element is one f32 operation or a
 * copy, so layouts and thread splits give the same bits. */
#include <string.h>

#include "engine.h"

#define BP_BC_PAR_MIN 16384

void bp_op_mul(const float *a, const float *b, float *y, size_t n, int threads)
{
    BP_PAR_FOR(n >= BP_BC_PAR_MIN, threads, i, n, { y[i] = a[i] * b[i]; });
}

/* One innermost row of L elements; b at stride bs (0: one value). */
static inline void bp_bc_row(int mul, const float *a, const float *b, size_t bs, float *y,
                             size_t L)
{
    if (bs == 0) {
        float v = b[0];
        if (mul)
            for (size_t i = 0; i < L; i++) y[i] = a[i] * v;
        else
            for (size_t i = 0; i < L; i++) y[i] = a[i] + v;
    } else if (bs == 1) {
        if (mul)
            for (size_t i = 0; i < L; i++) y[i] = a[i] * b[i];
        else
            for (size_t i = 0; i < L; i++) y[i] = a[i] + b[i];
    } else {
        if (mul)
            for (size_t i = 0; i < L; i++) y[i] = a[i] * b[i * bs];
        else
            for (size_t i = 0; i < L; i++) y[i] = a[i] + b[i * bs];
    }
}

void bp_op_binary_bcast(int mul, const float *a, const float *b, float *y, uint32_t rank,
                        const size_t *dims, const size_t *bstr, int threads)
{
    if (rank == 0) return;
    size_t L = dims[rank - 1], rows = 1;
    for (uint32_t d = 0; d + 1 < rank; d++) rows *= dims[d];
    BP_PAR_FOR(rows * L >= BP_BC_PAR_MIN, threads, r, rows, {
        size_t rem = r, boff = 0;
        for (uint32_t d = rank - 1; d-- > 0;) {
            boff += (rem % dims[d]) * bstr[d];
            rem /= dims[d];
        }
        bp_bc_row(mul, a + r * L, b + boff, bstr[rank - 1], y + r * L, L);
    });
}

void bp_op_concat(const float *const *in, const size_t *len, uint32_t n, float *y,
                  size_t outer, int threads)
{
    size_t row = 0;
    for (uint32_t k = 0; k < n; k++) row += len[k];
    BP_PAR_FOR(outer * row >= BP_BC_PAR_MIN, threads, r, outer, {
        float *yr = y + r * row;
        for (uint32_t k = 0; k < n; k++) {
            memcpy(yr, in[k] + r * len[k], len[k] * sizeof(float));
            yr += len[k];
        }
    });
}
