/* The float operators between conv/linear layers (NCHW), parallelised with
 * OpenMP over independent outputs. Each output is computed by one thread in a
 * fixed order, so results do not depend on the thread count. */
#include <float.h>
#include <math.h>

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

/* Parallel only when there is enough work to pay for the team. */
#define BP_PAR_MIN 16384

void bp_op_relu(const float *x, float *y, size_t n, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= BP_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = bp_relu(x[i]);
}

void bp_op_gelu(const float *x, float *y, size_t n, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= BP_PAR_MIN / 8)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
}

void bp_op_add(const float *a, const float *b, float *y, size_t n, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= BP_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void bp_op_channel_affine(const float *x, const float *s, const float *t, float *y,
                          size_t N, size_t C, size_t HW, int threads)
{
    size_t rows = N * C;
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * HW >= BP_PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        size_t c = r % C;
        float sc = s[c], sh = t ? t[c] : 0.0f;
        const float *xr = x + r * HW;
        float *yr = y + r * HW;
        if (t)
            for (size_t p = 0; p < HW; p++) yr[p] = xr[p] * sc + sh;
        else
            for (size_t p = 0; p < HW; p++) yr[p] = xr[p] * sc;
    }
}

/* Normalises over C at every (n, pixel); statistics in double, channels
 * summed in order c = 0..C-1 for each pixel whatever the blocking, so
 * results do not depend on threads. Pixel blocks keep the channel loops
 * contiguous in memory (NCHW strides channels by H*W). */
#define BP_LN_BLOCK 256

void bp_op_layernorm(const float *x, const float *gamma, const float *beta, float eps,
                     float *y, size_t N, size_t C, size_t HW, int threads)
{
    size_t nblk = (HW + BP_LN_BLOCK - 1) / BP_LN_BLOCK;
    size_t items = N * nblk;
#pragma omp parallel for num_threads(threads) schedule(static) if (items > 1 && N * C * HW >= BP_PAR_MIN)
    for (size_t it = 0; it < items; it++) {
        size_t n = it / nblk, p0 = (it % nblk) * BP_LN_BLOCK;
        size_t np = HW - p0 < BP_LN_BLOCK ? HW - p0 : BP_LN_BLOCK;
        const float *xb = x + n * C * HW + p0;
        float *yb = y + n * C * HW + p0;
        double mean[BP_LN_BLOCK], acc[BP_LN_BLOCK];
        for (size_t p = 0; p < np; p++) acc[p] = 0.0;
        for (size_t c = 0; c < C; c++)
            for (size_t p = 0; p < np; p++) acc[p] += xb[c * HW + p];
        for (size_t p = 0; p < np; p++) {
            mean[p] = acc[p] / (double)C;
            acc[p] = 0.0;
        }
        for (size_t c = 0; c < C; c++)
            for (size_t p = 0; p < np; p++) {
                double d = xb[c * HW + p] - mean[p];
                acc[p] += d * d;
            }
        for (size_t p = 0; p < np; p++) acc[p] = 1.0 / sqrt(acc[p] / (double)C + (double)eps);
        for (size_t c = 0; c < C; c++) {
            float g = gamma[c], b = beta[c];
            for (size_t p = 0; p < np; p++)
                yb[c * HW + p] = (float)((xb[c * HW + p] - mean[p]) * acc[p]) * g + b;
        }
    }
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
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * OH * OW >= BP_PAR_MIN / 4)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * (size_t)H * W;
        float *yr = y + r * (size_t)OH * OW;
        if (is_max) bp_pool_plane(xr, yr, H, W, OH, OW, ints, 1);
        else bp_pool_plane(xr, yr, H, W, OH, OW, ints, 0);
    }
}

void bp_op_global_avgpool(const float *x, float *y, size_t N, size_t C, size_t HW,
                          int threads)
{
    size_t rows = N * C;
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * HW >= BP_PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * HW;
        double s = 0.0;
        for (size_t p = 0; p < HW; p++) s += xr[p];
        y[r] = (float)(s / (double)HW);
    }
}

void bp_op_softmax(const float *x, float *y, size_t rows, size_t len, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * len >= BP_PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * len;
        float *yr = y + r * len;
        float mx = -INFINITY;
        for (size_t i = 0; i < len; i++) mx = xr[i] > mx ? xr[i] : mx;
        double s = 0.0;
        for (size_t i = 0; i < len; i++) {
            float e = expf(xr[i] - mx);
            yr[i] = e;
            s += e;
        }
        float inv = (float)(1.0 / s);
        for (size_t i = 0; i < len; i++) yr[i] *= inv;
    }
}
