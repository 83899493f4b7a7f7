/* Driver loop shared by the fuzzers: command line (seed, iteration count,
 * time bound, single-iteration replay), per-iteration seeding, a watchdog
 * and crash hooks that print the command reproducing the failing input, and
 * the random stream (seeded, or read from a libFuzzer input). */
#ifndef FZ_HARNESS_H
#define FZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct fz_opts {
    const char *prog;   /* argv[0] */
    const char *name;   /* tool name in messages */
    uint64_t seed;      /* run seed: --seed, else $BP_TEST_SEED, else random */
    long iters;         /* upper bound on iterations */
    int iters_given;
    double seconds;     /* wall-time bound of the whole run */
    long only;          /* >= 0: run just this iteration */
    double hang_s;      /* one iteration longer than this is a hang */
    int verbose;
    const char *save;   /* with --only: write the iteration's model here */
} fz_opts;

/* Parses argv; prints usage and returns -1 on a bad argument (exit 2). */
int fz_parse_args(int argc, char **argv, const char *name, fz_opts *o);

/* One iteration: 0 when every property held, 1 on a failure (after printing
 * what failed). it_seed is derived from the run seed and the index only, so
 * --only reproduces an iteration without running the ones before it. */
typedef int (*fz_iter_fn)(const fz_opts *o, long it, uint64_t it_seed, void *ctx);

/* Runs iterations until the count or the time bound is reached or one fails;
 * returns the process exit code (0 or 1). Prints the seed first and, on a
 * failure, hang, crash or sanitizer report, the command that reproduces it. */
int fz_loop(const fz_opts *o, fz_iter_fn fn, void *ctx);

/* Seconds since an arbitrary fixed point (monotonic wall clock). */
double fz_now(void);

/* Random stream: splitmix64 from a seed, or (data != NULL) the bytes of a
 * libFuzzer input, zeros once they run out. */
typedef struct fz_rng {
    uint64_t s;
    const uint8_t *data;
    size_t n, pos;
} fz_rng;

void fz_rng_seed(fz_rng *r, uint64_t seed);
void fz_rng_bytes(fz_rng *r, const uint8_t *data, size_t n);
uint64_t fz_next(fz_rng *r);
uint32_t fz_below(fz_rng *r, uint32_t n); /* [0, n), 0 when n == 0 */
int fz_chance(fz_rng *r, uint32_t percent);
double fz_unif(fz_rng *r);                /* [0, 1) */
uint32_t fz_range(fz_rng *r, uint32_t lo, uint32_t hi); /* [lo, hi] */

/* splitmix64 finalizer (mixes a seed with an index). */
uint64_t fz_mix(uint64_t x);

#endif
