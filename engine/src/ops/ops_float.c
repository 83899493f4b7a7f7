/* The float operators between conv/linear layers (NCHW, and NHWC twins for
 * channels-last sessions, plus the layout conversions), parallelised with
 * OpenMP over independent outputs (BP_PAR_FOR: small or one-thread loops run
 * without entering OpenMP). Each output is computed by one thread in a fixed
 * order, so results do not depend on the thread count. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "engine.h"
#include "quant.h"

uint32_t bp_conv_out_dim(uint32_t in, uint32_t k, uint32_t stride, uint32_t pad0,
                         uint32_t pad1, uint32_t dil)
{
    uint64_t span = (uint64_t)dil * (k - 1) + 1;
    uint64_t padded = (uint64_t)in + pad0 + pad1;
    if (k == 0 || stride == 0 || padded < span) return 0;
    return (uint32_t)((padded - span) / stride + 1);
}

int bp_threads_force = 0;

/* Parallel only when there is enough work to pay for the team. */
#define BP_PAR_MIN 16384

void bp_op_relu(const float *x, float *y, size_t n, int threads)
{
    BP_PAR_FOR(n >= BP_PAR_MIN, threads, i, n, { y[i] = bp_relu(x[i]); });
}

#define BP_GELU_BLOCK 4096

void bp_op_gelu(const bp_kernel_table *kt, const float *x, float *y, size_t n, int threads)
{
    size_t nb = (n + BP_GELU_BLOCK - 1) / BP_GELU_BLOCK;
    BP_PAR_FOR(n >= BP_PAR_MIN / 8, threads, b, nb, {
        size_t i0 = b * BP_GELU_BLOCK;
        kt->gelu_f32(x + i0, y + i0, n - i0 < BP_GELU_BLOCK ? n - i0 : BP_GELU_BLOCK);
    });
}

void bp_op_add(const float *a, const float *b, float *y, size_t n, int threads)
{
    BP_PAR_FOR(n >= BP_PAR_MIN, threads, i, n, { y[i] = a[i] + b[i]; });
}

/* ---- elementwise activations (formats/SPEC.md 7.2): one f32 result per
 * element from that element alone, so any layout and any split of the
 * range give the same bits. Sigmoid and softmax use the pinned exp of
 * bp_arith.h through the kernel table's row ops. ---- */

#define BP_ACT_BLOCK 4096

void bp_op_sigmoid(const bp_kernel_table *kt, const float *x, float *y, size_t n, int threads)
{
    size_t nb = (n + BP_ACT_BLOCK - 1) / BP_ACT_BLOCK;
    BP_PAR_FOR(n >= BP_PAR_MIN / 8, threads, b, nb, {
        size_t i0 = b * BP_ACT_BLOCK;
        kt->sigmoid_f32(x + i0, y + i0, n - i0 < BP_ACT_BLOCK ? n - i0 : BP_ACT_BLOCK);
    });
}

void bp_op_hardsigmoid(const float *x, float *y, size_t n, float alpha, float beta,
                       int threads)
{
    BP_PAR_FOR(n >= BP_PAR_MIN, threads, i, n, {
        float t = x[i] * alpha + beta;
        t = t > 0.0f ? t : 0.0f;
        y[i] = t < 1.0f ? t : 1.0f;
    });
}

void bp_op_hardswish(const float *x, float *y, size_t n, int threads)
{
    BP_PAR_FOR(n >= BP_PAR_MIN, threads, i, n, {
        float v = x[i];
        float t = v + 3.0f;
        t = t > 0.0f ? t : 0.0f;
        t = t < 6.0f ? t : 6.0f;
        y[i] = (v * t) / 6.0f;
    });
}

void bp_op_clip(const float *x, float *y, size_t n, float lo, float hi, int threads)
{
    BP_PAR_FOR(n >= BP_PAR_MIN, threads, i, n, {
        float v = x[i];
        v = v < lo ? lo : v;
        y[i] = v > hi ? hi : v;
    });
}

void bp_op_channel_affine(const float *x, const float *s, const float *t, float *y,
                          size_t N, size_t C, size_t HW, int threads)
{
    size_t rows = N * C;
    BP_PAR_FOR(rows * HW >= BP_PAR_MIN, threads, r, rows, {
        size_t c = r % C;
        float sc = s[c], sh = t ? t[c] : 0.0f;
        const float *xr = x + r * HW;
        float *yr = y + r * HW;
        if (t)
            for (size_t p = 0; p < HW; p++) yr[p] = xr[p] * sc + sh;
        else
            for (size_t p = 0; p < HW; p++) yr[p] = xr[p] * sc;
    });
}

/* Normalises over C at every (n, pixel) with the kernel table's row ops
 * (ln_stats, ln_rows); statistics in double, channels summed in order c =
 * 0..C-1 for each pixel whatever the blocking, so results do not depend on
 * threads. Pixel blocks keep the channel loops contiguous in memory (NCHW
 * strides channels by H*W). */
#define BP_LN_BLOCK 256

/* Pixel blocks per image: at most BP_LN_BLOCK pixels each, of near-equal
 * size, and (when there is work for a team) enough blocks over the batch for
 * every thread to get the same number (7x7 and 14x14 maps are one block of
 * 256 otherwise, which one thread would run alone). */
static size_t bp_ln_nblk(size_t N, size_t HW, int threads)
{
    size_t nblk = (HW + BP_LN_BLOCK - 1) / BP_LN_BLOCK;
    if (threads > 1)
        while (nblk < HW && (N * nblk) % (size_t)threads) nblk++;
    return nblk ? nblk : 1;
}

void bp_op_layernorm(const bp_kernel_table *kt, const float *x, const float *gamma,
                     const float *beta, float eps, float *y, size_t N, size_t C, size_t HW,
                     int threads)
{
    size_t nblk = bp_ln_nblk(N, HW, threads);
    size_t blk = (HW + nblk - 1) / nblk;
    nblk = (HW + blk - 1) / blk;
    size_t items = N * nblk;
    BP_PAR_FOR(items > 1 && N * C * HW >= BP_PAR_MIN, threads, it, items, {
        size_t n = it / nblk, p0 = (it % nblk) * blk;
        size_t np = HW - p0 < blk ? HW - p0 : blk;
        const float *xb = x + n * C * HW + p0;
        double mean[BP_LN_BLOCK], r[BP_LN_BLOCK];
        kt->ln_stats(xb, eps, C, HW, np, mean, r);
        kt->ln_rows(xb, HW, mean, r, gamma, beta, 0, C, y + n * C * HW + p0, HW, np);
    });
}

/* Channels per quantized chunk: the float rows of one chunk stay in L1. */
#define BP_LN_QCH 16

typedef struct bp_ln_job {
    const bp_kernel_table *kt;
    const float *x, *gamma, *beta;
    float eps;
    float *y;
    const bp_qdest *q;
    uint32_t nq;
    size_t C, HW, W, nblk, blk;
} bp_ln_job;

/* Item it: pixel block it % nblk of image it / nblk. */
static void bp_ln_q_item(const bp_ln_job *j, size_t it)
{
    const size_t C = j->C, HW = j->HW;
    size_t n = it / j->nblk, p0 = (it % j->nblk) * j->blk;
    size_t np = HW - p0 < j->blk ? HW - p0 : j->blk;
    const float *xb = j->x + n * C * HW + p0;
    double mean[BP_LN_BLOCK], r[BP_LN_BLOCK];
    float tmp[BP_LN_QCH * BP_LN_BLOCK];
    j->kt->ln_stats(xb, j->eps, C, HW, np, mean, r);
    for (size_t c0 = 0; c0 < C; c0 += BP_LN_QCH) {
        size_t c1 = C - c0 < BP_LN_QCH ? C : c0 + BP_LN_QCH;
        float *rows = j->y ? j->y + (n * C + c0) * HW + p0 : tmp;
        size_t ys = j->y ? HW : np;
        j->kt->ln_rows(xb, HW, mean, r, j->gamma, j->beta, c0, c1, rows, ys, np);
        for (uint32_t k = 0; k < j->nq; k++)
            bp_qdest_put_f32(j->kt, &j->q[k], (uint32_t)n, (uint32_t)c0, (uint32_t)(c1 - c0),
                             p0, np, j->W, rows, ys);
    }
}

static void bp_ln_q_team_item(void *ctx, size_t it, unsigned slot)
{
    (void)slot;
    bp_ln_q_item(ctx, it);
}

void bp_op_layernorm_q(const bp_kernel_table *kt, const float *x, const float *gamma,
                       const float *beta, float eps, float *y, const bp_qdest *q, uint32_t nq,
                       size_t N, size_t C, size_t HW, size_t W, int threads, bp_team *team)
{
    size_t nblk = bp_ln_nblk(N, HW, threads);
    size_t blk = (HW + nblk - 1) / nblk;
    nblk = (HW + blk - 1) / blk;
    size_t items = N * nblk;
    bp_ln_job j = {kt, x, gamma, beta, eps, y, q, nq, C, HW, W, nblk, blk};
    int par = items > 1 && (N * C * HW >= BP_PAR_MIN || bp_threads_force);
    if (team && par) {
        bp_team_run(team, items, bp_ln_q_team_item, &j);
        return;
    }
    BP_PAR_FOR(par, threads, it, items, { bp_ln_q_item(&j, it); });
}

/* One (n, c) plane of a max (is_max) or average pool; is_max is a constant
 * at each call site so the inner loops carry no op test. */
static inline void bp_pool_plane(const float *xr, float *yr, uint32_t H, uint32_t W,
                                 uint32_t OH, uint32_t OW, const int32_t *a, int is_max)
{
    int kh = a[0], kw = a[1], sh = a[2], sw = a[3], pt = a[4], pl = a[5];
    for (uint32_t oy = 0; oy < OH; oy++) {
        int y0 = (int)oy * sh - pt;
        int ya = y0 < 0 ? 0 : y0, yb = y0 + kh > (int)H ? (int)H : y0 + kh;
        for (uint32_t ox = 0; ox < OW; ox++) {
            int x0 = (int)ox * sw - pl;
            int xa = x0 < 0 ? 0 : x0, xb = x0 + kw > (int)W ? (int)W : x0 + kw;
            float acc = is_max ? -INFINITY : 0.0f;
            for (int iy = ya; iy < yb; iy++) {
                const float *row = xr + (size_t)iy * W;
                for (int ix = xa; ix < xb; ix++) {
                    float v = row[ix];
                    if (is_max) acc = v > acc ? v : acc;
                    else acc += v;
                }
            }
            int cnt = (yb - ya) * (xb - xa);
            if (!is_max) acc = cnt > 0 ? acc / (float)cnt : 0.0f;
            else if (cnt <= 0) acc = 0.0f;
            yr[(size_t)oy * OW + ox] = acc;
        }
    }
}

void bp_op_pool(const float *x, float *y, size_t N, size_t C, uint32_t H, uint32_t W,
                uint32_t OH, uint32_t OW, const int32_t *ints, int is_max, int threads)
{
    size_t rows = N * C;
    BP_PAR_FOR(rows * OH * OW >= BP_PAR_MIN / 4, threads, r, rows, {
        const float *xr = x + r * (size_t)H * W;
        float *yr = y + r * (size_t)OH * OW;
        if (is_max) bp_pool_plane(xr, yr, H, W, OH, OW, ints, 1);
        else bp_pool_plane(xr, yr, H, W, OH, OW, ints, 0);
    });
}

void bp_op_global_avgpool(const float *x, float *y, size_t N, size_t C, size_t HW,
                          int threads)
{
    size_t rows = N * C;
    BP_PAR_FOR(rows * HW >= BP_PAR_MIN, threads, r, rows, {
        const float *xr = x + r * HW;
        double s = 0.0;
        for (size_t p = 0; p < HW; p++) s += xr[p];
        y[r] = (float)(s / (double)HW);
    });
}

void bp_op_softmax(const bp_kernel_table *kt, const float *x, float *y, size_t rows, size_t len,
                   int threads)
{
    BP_PAR_FOR(rows * len >= BP_PAR_MIN, threads, r, rows,
               { kt->softmax_f32(x + r * len, y + r * len, len, 1); });
}

/* ---- channels-last (NHWC) variants and layout conversions ----
 * Each computes every output with the same per-element formula and the same
 * summation order as its NCHW twin above, so both layouts give bit-identical
 * results (tests/engine/test_ops_nhwc.c). */

#define BP_TR_TILE 16

/* [N, C, HW] -> [N, HW, C] (to_nhwc) or back, by 16x16 tiles. */
static void bp_transpose(const float *x, float *y, size_t N, size_t C, size_t HW, int to_nhwc,
                         int threads)
{
    size_t pt = (HW + BP_TR_TILE - 1) / BP_TR_TILE;
    size_t items = N * pt;
    BP_PAR_FOR(N * C * HW >= BP_PAR_MIN * 4, threads, it, items, {
        size_t n = it / pt, p0 = (it % pt) * BP_TR_TILE;
        size_t p1 = HW - p0 < BP_TR_TILE ? HW : p0 + BP_TR_TILE;
        const float *xn = x + n * C * HW;
        float *yn = y + n * C * HW;
        for (size_t c0 = 0; c0 < C; c0 += BP_TR_TILE) {
            size_t c1 = C - c0 < BP_TR_TILE ? C : c0 + BP_TR_TILE;
            if (to_nhwc) {
                for (size_t p = p0; p < p1; p++)
                    for (size_t c = c0; c < c1; c++) yn[p * C + c] = xn[c * HW + p];
            } else {
                for (size_t c = c0; c < c1; c++)
                    for (size_t p = p0; p < p1; p++) yn[c * HW + p] = xn[p * C + c];
            }
        }
    });
}

void bp_op_nchw_to_nhwc(const float *x, float *y, size_t N, size_t C, size_t HW, int threads)
{
    bp_transpose(x, y, N, C, HW, 1, threads);
}

void bp_op_nhwc_to_nchw(const float *x, float *y, size_t N, size_t C, size_t HW, int threads)
{
    bp_transpose(x, y, N, C, HW, 0, threads);
}

void bp_op_channel_affine_nhwc(const float *x, const float *s, const float *t, float *y,
                               size_t N, size_t C, size_t HW, int threads)
{
    size_t rows = N * HW;
    BP_PAR_FOR(rows * C >= BP_PAR_MIN, threads, r, rows, {
        const float *xr = x + r * C;
        float *yr = y + r * C;
        if (t)
            for (size_t c = 0; c < C; c++) yr[c] = xr[c] * s[c] + t[c];
        else
            for (size_t c = 0; c < C; c++) yr[c] = xr[c] * s[c];
    });
}

/* Per pixel, channels are contiguous; BP_LN_PIX pixels at a time give that
 * many independent double accumulation chains (each still sums its pixel's
 * channels in order c = 0..C-1, like the NCHW version). */
#define BP_LN_PIX 8

/* Mean and 1/sqrt(var + eps) of np pixels (np constant at the full-block
 * call, so the pixel loops unroll and the accumulators stay in registers). */
static inline __attribute__((always_inline)) void
bp_ln_stats_nhwc(const float *xb, size_t C, double *mean, double *acc, float eps, size_t np)
{
    for (size_t p = 0; p < np; p++) acc[p] = 0.0;
    for (size_t c = 0; c < C; c++)
        for (size_t p = 0; p < np; p++) acc[p] += xb[p * C + c];
    for (size_t p = 0; p < np; p++) {
        mean[p] = acc[p] / (double)C;
        acc[p] = 0.0;
    }
    for (size_t c = 0; c < C; c++)
        for (size_t p = 0; p < np; p++) {
            double d = xb[p * C + c] - mean[p];
            acc[p] += d * d;
        }
    for (size_t p = 0; p < np; p++) acc[p] = 1.0 / sqrt(acc[p] / (double)C + (double)eps);
}

void bp_op_layernorm_nhwc(const float *x, const float *gamma, const float *beta, float eps,
                          float *y, size_t N, size_t C, size_t HW, int threads)
{
    size_t P = N * HW;
    size_t items = (P + BP_LN_PIX - 1) / BP_LN_PIX;
    BP_PAR_FOR(items > 1 && P * C >= BP_PAR_MIN, threads, it, items, {
        size_t p0 = it * BP_LN_PIX;
        size_t np = P - p0 < BP_LN_PIX ? P - p0 : BP_LN_PIX;
        const float *xb = x + p0 * C;
        float *yb = y + p0 * C;
        double mean[BP_LN_PIX], acc[BP_LN_PIX];
        if (np == BP_LN_PIX) {
            bp_ln_stats_nhwc(xb, C, mean, acc, eps, BP_LN_PIX);
        } else {
            bp_ln_stats_nhwc(xb, C, mean, acc, eps, np);
        }
        for (size_t p = 0; p < np; p++) {
            const float *xp = xb + p * C;
            float *yp = yb + p * C;
            double m = mean[p], r = acc[p];
            for (size_t c = 0; c < C; c++)
                yp[c] = (float)((xp[c] - m) * r) * gamma[c] + beta[c];
        }
    });
}

/* One output row (n, oy) of a channels-last pool: the window is visited in
 * the NCHW order (iy outer, ix inner) for all channels at once, y row as the
 * accumulator. */
static inline void bp_pool_row_nhwc(const float *xn, float *yr, size_t C, uint32_t H,
                                    uint32_t W, uint32_t OW, uint32_t oy, const int32_t *a,
                                    int is_max)
{
    int kh = a[0], kw = a[1], sh = a[2], sw = a[3], pt = a[4], pl = a[5];
    int y0 = (int)oy * sh - pt;
    int ya = y0 < 0 ? 0 : y0, yb = y0 + kh > (int)H ? (int)H : y0 + kh;
    for (uint32_t ox = 0; ox < OW; ox++) {
        int x0 = (int)ox * sw - pl;
        int xa = x0 < 0 ? 0 : x0, xb = x0 + kw > (int)W ? (int)W : x0 + kw;
        float *yo = yr + (size_t)ox * C;
        for (size_t c = 0; c < C; c++) yo[c] = is_max ? -INFINITY : 0.0f;
        for (int iy = ya; iy < yb; iy++)
            for (int ix = xa; ix < xb; ix++) {
                const float *xp = xn + ((size_t)iy * W + (size_t)ix) * C;
                if (is_max)
                    for (size_t c = 0; c < C; c++) yo[c] = xp[c] > yo[c] ? xp[c] : yo[c];
                else
                    for (size_t c = 0; c < C; c++) yo[c] += xp[c];
            }
        int cnt = (yb - ya) * (xb - xa);
        if (!is_max) {
            if (cnt > 0)
                for (size_t c = 0; c < C; c++) yo[c] = yo[c] / (float)cnt;
            else
                for (size_t c = 0; c < C; c++) yo[c] = 0.0f;
        } else if (cnt <= 0) {
            for (size_t c = 0; c < C; c++) yo[c] = 0.0f;
        }
    }
}

void bp_op_pool_nhwc(const float *x, float *y, size_t N, size_t C, uint32_t H, uint32_t W,
                     uint32_t OH, uint32_t OW, const int32_t *ints, int is_max, int threads)
{
    size_t rows = N * OH;
    BP_PAR_FOR(rows * OW * C >= BP_PAR_MIN / 4, threads, r, rows, {
        size_t n = r / OH;
        uint32_t oy = (uint32_t)(r % OH);
        const float *xn = x + n * (size_t)H * W * C;
        float *yr = y + r * (size_t)OW * C;
        if (is_max) bp_pool_row_nhwc(xn, yr, C, H, W, OW, oy, ints, 1);
        else bp_pool_row_nhwc(xn, yr, C, H, W, OW, oy, ints, 0);
    });
}

/* Channel blocks of sums kept in double, pixels added in order p = 0..HW-1. */
#define BP_GAP_CB 256

void bp_op_global_avgpool_nhwc(const float *x, float *y, size_t N, size_t C, size_t HW,
                               int threads)
{
    size_t nb = (C + BP_GAP_CB - 1) / BP_GAP_CB;
    size_t items = N * nb;
    BP_PAR_FOR(items > 1 && N * C * HW >= BP_PAR_MIN, threads, it, items, {
        size_t n = it / nb, c0 = (it % nb) * BP_GAP_CB;
        size_t nc = C - c0 < BP_GAP_CB ? C - c0 : BP_GAP_CB;
        const float *xn = x + n * HW * C + c0;
        double s[BP_GAP_CB];
        for (size_t c = 0; c < nc; c++) s[c] = 0.0;
        for (size_t p = 0; p < HW; p++)
            for (size_t c = 0; c < nc; c++) s[c] += xn[p * C + c];
        for (size_t c = 0; c < nc; c++) y[n * C + c0 + c] = (float)(s[c] / (double)HW);
    });
}

/* Softmax over the last NCHW axis (W) of a channels-last [N, H, W, C]
 * tensor: rows (n, h, c), elements w at stride C. */
void bp_op_softmax_nhwc(const bp_kernel_table *kt, const float *x, float *y, size_t N, size_t C,
                        size_t H, size_t W, int threads)
{
    size_t rows = N * H * C;
    BP_PAR_FOR(rows * W >= BP_PAR_MIN, threads, r, rows, {
        size_t nh = r / C, c = r % C;
        kt->softmax_f32(x + nh * W * C + c, y + nh * W * C + c, W, C);
    });
}
