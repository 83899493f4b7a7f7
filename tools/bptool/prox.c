/* prox.c: the synthetic-weight recipe: seeded RNG, per-channel quantization,
 * the paper's proximal weight (eq. 8, p = 1/2) and magnitude pruning. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bptool.h"

static uint64_t bp_tool_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void bp_tool_rng_seed(bp_tool_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = bp_tool_splitmix(&x);
    r->has_spare = 0;
    r->spare = 0;
}

static uint64_t bp_tool_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t bp_tool_rng_u64(bp_tool_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = bp_tool_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = bp_tool_rotl(s[3], 45);
    return res;
}

double bp_tool_rng_uniform(bp_tool_rng *r)
{
    return (double)(bp_tool_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

double bp_tool_rng_normal(bp_tool_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = bp_tool_rng_uniform(r), u2 = bp_tool_rng_uniform(r);
    double rad = sqrt(-2.0 * log(1.0 - u1)); /* 1 - u1 in (0, 1]: no log(0) */
    double th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

int bp_tool_cost_binary(uint32_t a) { return __builtin_popcount(a); }

int bp_tool_cost_csd(uint32_t a)
{
    int n = 0;
    while (a) {
        if (a & 1) {
            /* NAF digit: +1 if a = 1 mod 4, -1 if a = 3 mod 4 */
            if ((a & 3) == 3)
                a += 1;
            else
                a -= 1;
            n++;
        }
        a >>= 1;
    }
    return n;
}

void bp_tool_prox_lut(double lambda, int cost_csd, int qmax, int16_t *lut)
{
    for (int v = 0; v <= qmax; v++) {
        double sv = sqrt((double)v);
        int best = 0;
        double best_c = sv; /* w = 0: |0 - s(v)| + lambda * 0 */
        /* Only w with the sign of v can win: the mirror has the same C_add and
         * a larger |s(w) - s(v)|. Ascending |w| keeps the smaller on ties. */
        for (int a = 1; a <= qmax; a++) {
            int c_add = cost_csd ? bp_tool_cost_csd((uint32_t)a) : bp_tool_cost_binary((uint32_t)a);
            double c = fabs(sqrt((double)a) - sv) + lambda * c_add;
            if (c < best_c - 1e-12) {
                best_c = c;
                best = a;
            }
        }
        lut[qmax + v] = (int16_t)best;
        lut[qmax - v] = (int16_t)-best;
    }
}

void bp_tool_quantize_rows(const float *wf, uint32_t rows, uint32_t K, int qmax,
                           int16_t *w, float *scale)
{
    for (uint32_t j = 0; j < rows; j++) {
        const float *r = wf + (size_t)j * K;
        float amax = 0;
        for (uint32_t k = 0; k < K; k++)
            amax = fmaxf(amax, fabsf(r[k]));
        float s = amax > 0 ? amax / (float)qmax : 1.0f;
        scale[j] = s;
        for (uint32_t k = 0; k < K; k++) {
            long q = lroundf(r[k] / s);
            if (q > qmax)
                q = qmax;
            if (q < -qmax)
                q = -qmax;
            w[(size_t)j * K + k] = (int16_t)q;
        }
    }
}

typedef struct bp_tool_mag {
    float key, tie;
    uint32_t idx;
} bp_tool_mag;

static int bp_tool_mag_cmp(const void *pa, const void *pb)
{
    const bp_tool_mag *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->tie != b->tie)
        return a->tie < b->tie ? -1 : 1;
    return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

int bp_tool_prune_magnitude(int16_t *w, uint32_t rows, uint32_t K, const float *scale,
                            const float *tiebreak, double sparsity)
{
    size_t n = (size_t)rows * K;
    if (sparsity <= 0 || n == 0)
        return 0;
    size_t target = (size_t)llround(sparsity * (double)n);
    if (target > n)
        target = n;
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++)
        zeros += w[i] == 0;
    if (zeros >= target)
        return 0;
    /* Sort only the nonzeros; the (target - zeros) smallest get zeroed. */
    size_t nz = n - zeros;
    bp_tool_mag *v = malloc(nz * sizeof *v);
    if (!v)
        return -1;
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (!w[i])
            continue;
        v[c].key = (float)abs(w[i]) * scale[i / K];
        v[c].tie = tiebreak ? fabsf(tiebreak[i]) : 0.0f;
        v[c].idx = (uint32_t)i;
        c++;
    }
    qsort(v, nz, sizeof *v, bp_tool_mag_cmp);
    for (size_t i = 0; i < target - zeros; i++)
        w[v[i].idx] = 0;
    free(v);
    return 0;
}
