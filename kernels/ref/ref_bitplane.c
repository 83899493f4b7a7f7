/* ref oracle: add-shift-add over per-bit CSR planes, done literally: one
 * int64 sum per (row, plane) (adds minus subtracts), then a Horner merge from
 * the top plane down, acc = acc * 2^gap + s_m, skipping empty planes. It never
 * looks at a dense weight, so it checks the planes independently. */
#include "bp_kernels.h"

static uint32_t bpk_ref_plane_idx(const bp_planes *w, uint32_t i)
{
    return w->idx_bytes == 2 ? ((const uint16_t *)w->idx)[i]
                             : ((const uint32_t *)w->idx)[i];
}

#define BPK_REF_BITPLANE(at, xt)                                                  \
void bp_ref_bitplane_##at(const bp_planes *w, uint32_t row0, uint32_t nrows,      \
                          const xt *x, size_t ldx, size_t np, int32_t *y, size_t ldy) \
{                                                                                 \
    const uint32_t M = w->M;                                                      \
    for (uint32_t j = row0; j < row0 + nrows; j++) {                              \
        for (size_t p = 0; p < np; p++) {                                         \
            int64_t acc = 0;                                                      \
            int last = -1; /* position of the last merged plane */                \
            for (int m = (int)M - 1; m >= 0; m--) {                               \
                const uint32_t *rp = w->row_ptr + ((size_t)j * M + (uint32_t)m) * 2; \
                if (rp[0] == rp[2])                                               \
                    continue; /* empty plane: no add, folded into the next gap */ \
                int64_t s = 0;                                                    \
                for (uint32_t i = rp[0]; i < rp[1]; i++)                          \
                    s += x[bpk_ref_plane_idx(w, i) * ldx + p];                    \
                for (uint32_t i = rp[1]; i < rp[2]; i++)                          \
                    s -= x[bpk_ref_plane_idx(w, i) * ldx + p];                    \
                acc = last < 0 ? s : acc * ((int64_t)1 << (last - m)) + s;        \
                last = m;                                                         \
            }                                                                     \
            if (last > 0)                                                         \
                acc *= (int64_t)1 << last;                                        \
            y[(j - row0) * ldy + p] = (int32_t)acc;                               \
        }                                                                         \
    }                                                                             \
}

BPK_REF_BITPLANE(u8, uint8_t)
BPK_REF_BITPLANE(s8, int8_t)
