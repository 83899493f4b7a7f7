/* .bp layer validation: geometry and limits of a layer record, and the
 * per-bit CSR planes (row pointers, indices, signs, canonical digits). */
#include <math.h>
#include <stdlib.h>

#include "bpf_internal.h"

uint32_t bpf_max_magnitude(uint32_t M, uint32_t encoding)
{
    if (M == 0 || M > BPF_M_MAX) return 0;
    if (encoding == BPF_ENC_BINARY) return (1u << M) - 1u;
    /* NAF with M positions: 2^(M-1) + 2^(M-3) + ... = floor(2^(M+1) / 3). */
    return (1u << (M + 1)) / 3u;
}

static const char *bpf_layer_kind_name(uint32_t kind)
{
    return kind == BPF_LAYER_CONV ? "conv" : "linear";
}

bpf_status bpf_layer_check(const bpf_layer *L, uint32_t li)
{
    if (L->kind != BPF_LAYER_CONV && L->kind != BPF_LAYER_LINEAR)
        return bpf_fail(BPF_ERR_BAD_GRAPH, "layer %u: unknown kind %u", li, L->kind);
    const char *kn = bpf_layer_kind_name(L->kind);
    if (L->c_out < 1 || L->c_out > BPF_MAX_CHANNELS || L->c_in < 1 || L->c_in > BPF_MAX_CHANNELS)
        return bpf_fail(BPF_ERR_LIMIT, "layer %u (%s): c_out %u / c_in %u outside 1..%u", li, kn,
                        L->c_out, L->c_in, BPF_MAX_CHANNELS);
    if (L->kh < 1 || L->kh > BPF_MAX_KERNEL || L->kw < 1 || L->kw > BPF_MAX_KERNEL)
        return bpf_fail(BPF_ERR_LIMIT, "layer %u (%s): kernel %ux%u outside 1..%u", li, kn, L->kh,
                        L->kw, BPF_MAX_KERNEL);
    if (L->stride_h < 1 || L->stride_h > BPF_MAX_STRIDE || L->stride_w < 1 ||
        L->stride_w > BPF_MAX_STRIDE)
        return bpf_fail(BPF_ERR_LIMIT, "layer %u (%s): stride %ux%u outside 1..%u", li, kn,
                        L->stride_h, L->stride_w, BPF_MAX_STRIDE);
    if (L->dil_h < 1 || L->dil_h > BPF_MAX_DILATION || L->dil_w < 1 || L->dil_w > BPF_MAX_DILATION)
        return bpf_fail(BPF_ERR_LIMIT, "layer %u (%s): dilation %ux%u outside 1..%u", li, kn,
                        L->dil_h, L->dil_w, BPF_MAX_DILATION);
    if (L->pad_t > BPF_MAX_PAD || L->pad_l > BPF_MAX_PAD || L->pad_b > BPF_MAX_PAD ||
        L->pad_r > BPF_MAX_PAD)
        return bpf_fail(BPF_ERR_LIMIT, "layer %u (%s): padding t%u l%u b%u r%u above %u", li, kn,
                        L->pad_t, L->pad_l, L->pad_b, L->pad_r, BPF_MAX_PAD);
    if (L->groups < 1 || L->c_in % L->groups || L->c_out % L->groups)
        return bpf_fail(BPF_ERR_BAD_GRAPH, "layer %u (%s): groups %u must divide c_in %u and "
                        "c_out %u", li, kn, L->groups, L->c_in, L->c_out);
    if (L->kind == BPF_LAYER_LINEAR &&
        (L->kh != 1 || L->kw != 1 || L->stride_h != 1 || L->stride_w != 1 || L->dil_h != 1 ||
         L->dil_w != 1 || L->pad_t || L->pad_l || L->pad_b || L->pad_r || L->groups != 1))
        return bpf_fail(BPF_ERR_BAD_GRAPH, "layer %u (linear): needs kernel 1x1, stride 1, "
                        "dilation 1, no padding, groups 1", li);
    uint64_t K = (uint64_t)(L->c_in / L->groups) * L->kh * L->kw; /* < 2^16 * 2^12 */
    if (L->K != K)
        return bpf_fail(BPF_ERR_BAD_GRAPH, "layer %u (%s): K = %u, but c_in/groups*kh*kw = %llu",
                        li, kn, L->K, (unsigned long long)K);
    if (L->K > BPF_K_MAX)
        return bpf_fail(BPF_ERR_LIMIT, "layer %u (%s): K = %u above %u (int32 accumulation bound)",
                        li, kn, L->K, BPF_K_MAX);
    if (L->M < 1 || L->M > BPF_M_MAX)
        return bpf_fail(BPF_ERR_LIMIT, "layer %u (%s): M = %u outside 1..%u", li, kn, L->M,
                        BPF_M_MAX);
    if (L->encoding != BPF_ENC_BINARY && L->encoding != BPF_ENC_CSD)
        return bpf_fail(BPF_ERR_BAD_PLANES, "layer %u (%s): unknown encoding %u", li, kn,
                        L->encoding);
    if (L->w_max > BPF_W_MAX)
        return bpf_fail(BPF_ERR_LIMIT, "layer %u (%s): w_max %u above %u", li, kn, L->w_max,
                        BPF_W_MAX);
    uint32_t mm = bpf_max_magnitude(L->M, L->encoding);
    if (L->w_max > mm)
        return bpf_fail(BPF_ERR_BAD_PLANES, "layer %u (%s): w_max %u needs more than M = %u %s "
                        "digits (max %u)", li, kn, L->w_max, L->M,
                        L->encoding == BPF_ENC_CSD ? "csd" : "binary", mm);
    uint32_t ib = L->K <= 65535u ? 2u : 4u;
    if (L->idx_bytes != ib)
        return bpf_fail(BPF_ERR_BAD_PLANES, "layer %u (%s): idx_bytes %u, K = %u needs %u", li, kn,
                        L->idx_bytes, L->K, ib);
    if (L->act_dtype != BPF_DT_U8 && L->act_dtype != BPF_DT_S8)
        return bpf_fail(BPF_ERR_BAD_GRAPH, "layer %u (%s): act_dtype %u is not u8 (%u) or s8 (%u)",
                        li, kn, L->act_dtype, BPF_DT_U8, BPF_DT_S8);
    if (!isfinite(L->act_scale) || !(L->act_scale > 0.0f))
        return bpf_fail(BPF_ERR_BAD_GRAPH, "layer %u (%s): act_scale %g must be finite and > 0", li,
                        kn, (double)L->act_scale);
    uint64_t max_digits = (uint64_t)L->c_out * L->M * L->K; /* < 2^16 * 2^4 * 2^15 */
    if (L->n_digits > max_digits)
        return bpf_fail(BPF_ERR_BAD_PLANES, "layer %u (%s): n_digits %llu above c_out*M*K = %llu",
                        li, kn, (unsigned long long)L->n_digits, (unsigned long long)max_digits);
    return BPF_OK;
}

static inline uint32_t bpf_idx_at(const bpf_layer *L, uint64_t i)
{
    if (L->idx_bytes == 2) return ((const uint16_t *)L->col_idx)[i];
    return ((const uint32_t *)L->col_idx)[i];
}

/* Needs bpf_layer_check to have passed and the arrays to lie in the buffer:
 * row_ptr has rows*M*2+1 entries, col_idx n_digits. Every col_idx read is at
 * an index below row_ptr[last] == n_digits, enforced before the digit pass. */
bpf_status bpf_planes_validate(const bpf_layer *L, uint32_t li, const char *name)
{
    const uint32_t *rp = L->row_ptr;
    const uint32_t M = L->M, K = L->K;
    const uint64_t n_rp = (uint64_t)L->c_out * M * 2 + 1;
    if (rp[0] != 0)
        return bpf_fail(BPF_ERR_BAD_PLANES, "layer %u '%s': plane row_ptr[0] = %u, must be 0", li,
                        name, rp[0]);
    for (uint64_t e = 1; e < n_rp; e++)
        if (rp[e] < rp[e - 1])
            return bpf_fail(BPF_ERR_BAD_PLANES, "layer %u '%s': plane row_ptr[%llu] = %u < "
                            "row_ptr[%llu] = %u (not monotone)", li, name, (unsigned long long)e,
                            rp[e], (unsigned long long)(e - 1), rp[e - 1]);
    if (rp[n_rp - 1] != L->n_digits)
        return bpf_fail(BPF_ERR_BAD_PLANES, "layer %u '%s': plane row_ptr[%llu] = %u, expected "
                        "n_digits = %llu", li, name, (unsigned long long)(n_rp - 1), rp[n_rp - 1],
                        (unsigned long long)L->n_digits);

    /* pos[k] / neg[k]: bit m set when digit m of w[j][k] is +1 / -1. M <= 9. */
    uint16_t *pos = calloc((size_t)K * 2, sizeof *pos);
    if (!pos) return bpf_fail(BPF_ERR_NOMEM, "layer %u '%s': out of memory", li, name);
    uint16_t *neg = pos + K;
    bpf_status st = BPF_OK;
    for (uint32_t j = 0; j < L->c_out && !st; j++) {
        for (uint32_t m = 0; m < M && !st; m++) {
            for (uint32_t s = 0; s < 2 && !st; s++) {
                uint64_t e = ((uint64_t)j * M + m) * 2 + s;
                uint16_t *own = s ? neg : pos, *other = s ? pos : neg;
                const uint16_t bit = (uint16_t)(1u << m);
                uint32_t prev = 0;
                for (uint64_t i = rp[e]; i < rp[e + 1]; i++) {
                    uint32_t k = bpf_idx_at(L, i);
                    if (k >= K) {
                        st = bpf_fail(BPF_ERR_BAD_PLANES, "layer %u '%s': row %u plane %u %s: "
                                      "column index %u out of range (K=%u)", li, name, j, m,
                                      s ? "-" : "+", k, K);
                        break;
                    }
                    if (i > rp[e] && k <= prev) {
                        st = bpf_fail(BPF_ERR_BAD_PLANES, "layer %u '%s': row %u plane %u %s: "
                                      "column index %u at digit %llu after %u (%s)", li, name, j,
                                      m, s ? "-" : "+", k, (unsigned long long)i, prev,
                                      k == prev ? "duplicate" : "unsorted");
                        break;
                    }
                    if (other[k] & bit) {
                        st = bpf_fail(BPF_ERR_BAD_PLANES, "layer %u '%s': row %u plane %u: "
                                      "column %u has both a + and a - digit", li, name, j, m, k);
                        break;
                    }
                    own[k] |= bit;
                    prev = k;
                }
            }
        }
        /* Second pass over the same digits: judge each weight, then clear it.
         * A weight seen again after clearing has p = n = 0 and passes, so the
         * loop needs no data-dependent branch except the (rare) failure. */
        if (st) break;
        uint64_t r0 = rp[(uint64_t)j * M * 2], r1 = rp[((uint64_t)j + 1) * M * 2];
        const uint32_t csd = L->encoding == BPF_ENC_CSD, w_max = L->w_max;
        for (uint64_t i = r0; i < r1; i++) {
            uint32_t k = bpf_idx_at(L, i);
            uint32_t p = pos[k], n = neg[k], all = p | n;
            int32_t w = (int32_t)p - (int32_t)n;
            uint32_t mag = (uint32_t)(w < 0 ? -w : w);
            uint32_t bad = (csd ? (all & (all >> 1)) != 0 : (p != 0) & (n != 0)) | (mag > w_max);
            if (bad) {
                if (!csd && p && n)
                    st = bpf_fail(BPF_ERR_BAD_PLANES, "layer %u '%s': row %u column %u: binary "
                                  "digits with mixed signs (+0x%x -0x%x)", li, name, j, k, p, n);
                else if (csd && (all & (all >> 1)))
                    st = bpf_fail(BPF_ERR_BAD_PLANES, "layer %u '%s': row %u column %u: adjacent "
                                  "nonzero csd digits (mask 0x%x, not NAF)", li, name, j, k, all);
                else
                    st = bpf_fail(BPF_ERR_BAD_PLANES, "layer %u '%s': row %u column %u: |w| = %u "
                                  "above w_max %u", li, name, j, k, mag, w_max);
                break;
            }
            pos[k] = neg[k] = 0;
        }
    }
    free(pos);
    return st;
}
