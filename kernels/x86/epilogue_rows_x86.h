/* The epilogue row driver shared by the x86 epilogue kernels
 * (epilogue_avx2.c, epilogue_avx512.c): per row, its accumulators, residual,
 * scale and bias go to the including file's bpk_epi_row with the activation
 * as a constant, so each (act, residual, out) combination is its own loop.
 * Include only from those files, after their bpk_epi_row. */
#ifndef BPK_EPILOGUE_ROWS_X86_H
#define BPK_EPILOGUE_ROWS_X86_H

#include <stddef.h>

#include "bp_kernels.h"
#include "kernel_x86.h"

/* out: 0 float, 1 u8, 2 s8 (a constant at each call site). */
BPK_INLINE void bpk_epi_rows(const bp_epi_rows *e, size_t nrows, size_t n, void *y, size_t ldy,
                             int out)
{
    const size_t esz = out == 0 ? sizeof(float) : 1;
    for (size_t r = 0; r < nrows; r++) {
        const int32_t *a = e->acc + r * e->lda;
        const float *res = e->res ? e->res + r * e->ldr : NULL;
        void *yr = (char *)y + r * ldy * esz;
        const float s = e->scale[r], b = e->bias[r];
        switch (e->act) {
        case BP_EPI_RELU:
            if (res) bpk_epi_row(a, res, s, b, BP_EPI_RELU, out, e->inv, yr, n);
            else bpk_epi_row(a, NULL, s, b, BP_EPI_RELU, out, e->inv, yr, n);
            break;
        case BP_EPI_GELU:
            if (res) bpk_epi_row(a, res, s, b, BP_EPI_GELU, out, e->inv, yr, n);
            else bpk_epi_row(a, NULL, s, b, BP_EPI_GELU, out, e->inv, yr, n);
            break;
        default:
            if (res) bpk_epi_row(a, res, s, b, BP_EPI_NONE, out, e->inv, yr, n);
            else bpk_epi_row(a, NULL, s, b, BP_EPI_NONE, out, e->inv, yr, n);
            break;
        }
    }
}

#endif
