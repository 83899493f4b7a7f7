/* stats.h: the statistics of bpbench: medians, a distribution-free 95%
 * confidence interval of the median from order statistics, and a seeded
 * bootstrap interval for the ratio of two medians (speedups). */
#ifndef BP_BENCH_STATS_H
#define BP_BENCH_STATS_H

#include <stdint.h>

/* Summary of n samples. With n == 0 every field is NaN; the interval needs
 * n >= 2 (else lo, hi are NaN and level 0). */
typedef struct bp_bench_stat {
    uint32_t n;
    double median, min, max;
    double lo, hi; /* confidence interval of the median */
    double level;  /* its exact coverage, >= 0.95 when n >= 6 */
} bp_bench_stat;

/* Median of x[0..n) (mean of the two middle values for even n); x is not
 * changed. NaN for n == 0. */
double bp_bench_median(const double *x, uint32_t n);

/* The order-statistic interval [x_(k), x_(n+1-k)] (1-based ranks of the
 * sorted samples) with the largest k whose coverage
 * 1 - 2 P(Binomial(n, 1/2) <= k - 1) is at least `level`; k = 1 (min, max)
 * when no k reaches it (n <= 5 at 0.95). Returns k, or 0 for n < 2;
 * *coverage gets the exact coverage of that k. */
uint32_t bp_bench_median_ci_rank(uint32_t n, double level, double *coverage);

/* Fills s from x[0..n) with the 95% order-statistic interval. */
void bp_bench_stat_compute(const double *x, uint32_t n, bp_bench_stat *s);

/* Ratio of medians median(num) / median(den) with a 95% percentile
 * bootstrap interval from `resamples` resamples drawn with a seeded
 * xorshift generator (same seed, same interval). paired != 0 (and equal n)
 * resamples round indices jointly, keeping the two samples of one round
 * together; otherwise each side is resampled on its own. lo/hi are NaN when
 * either side has fewer than 2 samples. */
typedef struct bp_bench_ratio {
    double value, lo, hi;
} bp_bench_ratio;
void bp_bench_ratio_ci(const double *num, uint32_t n_num, const double *den, uint32_t n_den,
                       int paired, uint32_t resamples, uint64_t seed, bp_bench_ratio *r);

#endif
