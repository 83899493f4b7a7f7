/* ref oracle: CSR mult-add over the nonzero weights, int64 accumulation. */
#include "bp_kernels.h"

static uint32_t bpk_ref_csr_idx(const bp_csr *w, uint32_t i)
{
    return w->idx_bytes == 2 ? ((const uint16_t *)w->idx)[i]
                             : ((const uint32_t *)w->idx)[i];
}

#define BPK_REF_CSR(at, xt)                                                       \
void bp_ref_csr_##at(const bp_csr *w, uint32_t row0, uint32_t nrows,              \
                     const xt *x, size_t ldx, size_t np, int32_t *y, size_t ldy)  \
{                                                                                 \
    for (uint32_t j = row0; j < row0 + nrows; j++) {                              \
        for (size_t p = 0; p < np; p++) {                                         \
            int64_t acc = 0;                                                      \
            for (uint32_t i = w->row_ptr[j]; i < w->row_ptr[j + 1]; i++)          \
                acc += (int64_t)w->val[i] * (int64_t)x[bpk_ref_csr_idx(w, i) * ldx + p]; \
            y[(j - row0) * ldy + p] = (int32_t)acc;                               \
        }                                                                         \
    }                                                                             \
}

BPK_REF_CSR(u8, uint8_t)
BPK_REF_CSR(s8, int8_t)
