/* test_bpbench_stats.c: bpbench's statistics: the order-statistic interval
 * of the median against published rank tables and a normal approximation,
 * medians, and the bootstrap ratio interval (determinism, paired exactness,
 * coverage of the point estimate). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "stats.h"

/* Ranks [k, n+1-k] of the distribution-free 95% interval of the median as
 * tabulated in nonparametric statistics texts (e.g. Conover, Practical
 * Nonparametric Statistics, table A3), with their exact coverage. */
static void test_ci_rank_table(void **state)
{
    (void)state;
    static const struct {
        uint32_t n, k;
        double cov;
    } t[] = {{6, 1, 0.96875}, {10, 2, 0.978516}, {20, 6, 0.958611},
             {30, 10, 0.957226}, {100, 40, 0.9648}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        double cov = 0;
        assert_int_equal(bp_bench_median_ci_rank(t[i].n, 0.95, &cov), t[i].k);
        assert_true(fabs(cov - t[i].cov) < 5e-6);
    }
}

static void test_ci_rank_small_and_large(void **state)
{
    (void)state;
    double cov = -1;
    assert_int_equal(bp_bench_median_ci_rank(0, 0.95, &cov), 0);
    assert_int_equal(bp_bench_median_ci_rank(1, 0.95, &cov), 0);
    assert_true(cov == 0);
    /* n <= 5 cannot reach 95%: min..max with its true coverage */
    assert_int_equal(bp_bench_median_ci_rank(5, 0.95, &cov), 1);
    assert_true(fabs(cov - (1 - 2.0 / 32)) < 1e-12);
    assert_int_equal(bp_bench_median_ci_rank(2, 0.95, &cov), 1);
    assert_true(fabs(cov - 0.5) < 1e-12);
    /* large n: k ~ n/2 - 1.96 sqrt(n)/2 (normal approximation) */
    uint32_t n = 100000, k = bp_bench_median_ci_rank(n, 0.95, &cov);
    double approx = n / 2.0 - 1.959964 * sqrt((double)n) / 2.0;
    assert_true(fabs((double)k - approx) < 3.0);
    assert_true(cov >= 0.95 && cov < 0.951);
}

static void test_stat_compute(void **state)
{
    (void)state;
    double x[] = {5, 1, 3};
    bp_bench_stat s;
    bp_bench_stat_compute(x, 3, &s);
    assert_true(s.median == 3 && s.min == 1 && s.max == 5);
    assert_true(s.lo == 1 && s.hi == 5 && s.level < 0.95);
    assert_true(x[0] == 5 && x[1] == 1); /* input untouched */
    double y[] = {4, 2};
    bp_bench_stat_compute(y, 2, &s);
    assert_true(s.median == 3);
    bp_bench_stat_compute(y, 1, &s);
    assert_true(s.median == 4 && isnan(s.lo) && isnan(s.hi));
    bp_bench_stat_compute(NULL, 0, &s);
    assert_true(isnan(s.median) && s.n == 0);
    /* 20 samples 1..20 shuffled: the interval is ranks 6 and 15 */
    double z[20];
    for (int i = 0; i < 20; i++)
        z[i] = (double)((i * 7) % 20 + 1);
    bp_bench_stat_compute(z, 20, &s);
    assert_true(s.median == 10.5 && s.lo == 6 && s.hi == 15);
}

static void test_ratio(void **state)
{
    (void)state;
    uint64_t seed = 1;
    const char *env = getenv("BP_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    printf("# seed %llu (BP_TEST_SEED)\n", (unsigned long long)seed);
    double den[25], num[25];
    uint64_t s = seed | 1;
    for (int i = 0; i < 25; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        den[i] = 10.0 + (double)(s % 1000) / 100.0;
        num[i] = 2.0 * den[i];
    }
    bp_bench_ratio r, r2;
    /* paired: every resample has num = 2 den, so the interval is exactly 2 */
    bp_bench_ratio_ci(num, 25, den, 25, 1, 500, seed, &r);
    assert_true(r.value == 2.0 && r.lo == 2.0 && r.hi == 2.0);
    /* unpaired: the same seed gives the same interval, around the estimate */
    bp_bench_ratio_ci(num, 25, den, 25, 0, 500, seed, &r);
    bp_bench_ratio_ci(num, 25, den, 25, 0, 500, seed, &r2);
    assert_true(r.lo == r2.lo && r.hi == r2.hi);
    assert_true(r.lo <= r.value && r.value <= r.hi && r.lo < r.hi);
    assert_true(fabs(r.value - 2.0) < 1e-12);
    /* one sample on a side: the ratio without an interval */
    bp_bench_ratio_ci(num, 1, den, 25, 0, 500, seed, &r);
    assert_true(isfinite(r.value) && isnan(r.lo) && isnan(r.hi));
    bp_bench_ratio_ci(num, 0, den, 25, 0, 500, seed, &r);
    assert_true(isnan(r.value));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ci_rank_table),
        cmocka_unit_test(test_ci_rank_small_and_large),
        cmocka_unit_test(test_stat_compute),
        cmocka_unit_test(test_ratio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
