/* stats.c: medians, order-statistic median intervals, bootstrap ratios. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static int bp_bench_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double bp_bench_median_sorted(const double *s, uint32_t n)
{
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

double bp_bench_median(const double *x, uint32_t n)
{
    if (!n)
        return NAN;
    double *s = malloc(n * sizeof *s);
    if (!s)
        return NAN;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, bp_bench_cmp_d);
    double m = bp_bench_median_sorted(s, n);
    free(s);
    return m;
}

uint32_t bp_bench_median_ci_rank(uint32_t n, double level, double *coverage)
{
    if (coverage)
        *coverage = 0;
    if (n < 2)
        return 0;
    /* cdf = P(B <= j) for B ~ Binomial(n, 1/2), pmf in log space so large n
     * neither overflows nor underflows to a wrong zero too early. */
    const double ln2n = n * log(2.0), lgn = lgamma(n + 1.0);
    double cdf = 0;
    uint32_t best = 1;
    double best_cov = 1.0 - 2.0 * exp(-ln2n); /* k = 1: 1 - 2 P(B = 0) */
    for (uint32_t k = 1; k <= n / 2; k++) {
        uint32_t j = k - 1;
        cdf += exp(lgn - lgamma(j + 1.0) - lgamma((double)(n - j) + 1.0) - ln2n);
        double cov = 1.0 - 2.0 * cdf;
        if (cov < level)
            break;
        best = k;
        best_cov = cov;
    }
    if (coverage)
        *coverage = best_cov;
    return best;
}

void bp_bench_stat_compute(const double *x, uint32_t n, bp_bench_stat *st)
{
    st->n = n;
    st->median = st->min = st->max = st->lo = st->hi = NAN;
    st->level = 0;
    if (!n)
        return;
    double *s = malloc(n * sizeof *s);
    if (!s)
        return;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, bp_bench_cmp_d);
    st->median = bp_bench_median_sorted(s, n);
    st->min = s[0];
    st->max = s[n - 1];
    uint32_t k = bp_bench_median_ci_rank(n, 0.95, &st->level);
    if (k) {
        st->lo = s[k - 1];
        st->hi = s[n - k];
    }
    free(s);
}

static uint64_t bp_bench_rng(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static uint32_t bp_bench_rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((bp_bench_rng(s) >> 32) * (uint64_t)n) >> 32);
}

void bp_bench_ratio_ci(const double *num, uint32_t n_num, const double *den, uint32_t n_den,
                       int paired, uint32_t resamples, uint64_t seed, bp_bench_ratio *r)
{
    r->value = r->lo = r->hi = NAN;
    if (!n_num || !n_den)
        return;
    double mn = bp_bench_median(num, n_num), md = bp_bench_median(den, n_den);
    r->value = md != 0 ? mn / md : NAN;
    if (n_num < 2 || n_den < 2 || resamples < 2)
        return;
    paired = paired && n_num == n_den;
    double *a = malloc(n_num * sizeof *a), *b = malloc(n_den * sizeof *b);
    double *ratio = malloc(resamples * sizeof *ratio);
    if (!a || !b || !ratio)
        goto out;
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    if (!s)
        s = 1;
    uint32_t nr = 0;
    for (uint32_t it = 0; it < resamples; it++) {
        for (uint32_t i = 0; i < n_num; i++) {
            uint32_t k = bp_bench_rng_below(&s, n_num);
            a[i] = num[k];
            if (paired)
                b[i] = den[k];
        }
        if (!paired)
            for (uint32_t i = 0; i < n_den; i++)
                b[i] = den[bp_bench_rng_below(&s, n_den)];
        qsort(a, n_num, sizeof *a, bp_bench_cmp_d);
        qsort(b, n_den, sizeof *b, bp_bench_cmp_d);
        double d = bp_bench_median_sorted(b, n_den);
        if (d != 0)
            ratio[nr++] = bp_bench_median_sorted(a, n_num) / d;
    }
    if (nr >= 2) {
        qsort(ratio, nr, sizeof *ratio, bp_bench_cmp_d);
        /* percentile interval: the 2.5% and 97.5% points, nearest rank */
        uint32_t lo = (uint32_t)floor(0.025 * (nr - 1) + 0.5);
        uint32_t hi = (uint32_t)floor(0.975 * (nr - 1) + 0.5);
        r->lo = ratio[lo];
        r->hi = ratio[hi];
    }
out:
    free(a);
    free(b);
    free(ratio);
}
