/* A small C API over Google Benchmark (C++): C code registers C functions
 * with arguments, ranges and custom counters, and gets every run's result
 * back through a callback (for summaries the console report cannot make). */
#ifndef BPM_GBENCH_SHIM_H
#define BPM_GBENCH_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bpm_state bpm_state; /* a benchmark::State */
typedef struct bpm_bench bpm_bench; /* a benchmark::internal::Benchmark */
typedef void (*bpm_fn)(bpm_state *st, void *ctx);

/* Registers fn(st, ctx) under name; ctx must outlive the run. */
bpm_bench *bpm_register(const char *name, bpm_fn fn, void *ctx);
/* Builders (return b): one argument set, a range of one argument, the
 * minimum time per run, microsecond display. */
bpm_bench *bpm_bench_args(bpm_bench *b, const int64_t *args, int n);
bpm_bench *bpm_bench_range(bpm_bench *b, int64_t lo, int64_t hi);
bpm_bench *bpm_bench_min_time(bpm_bench *b, double seconds);
bpm_bench *bpm_bench_unit_us(bpm_bench *b);

/* Inside fn: while (bpm_keep_running(st)) { ...timed... } */
int bpm_keep_running(bpm_state *st);
int64_t bpm_arg(const bpm_state *st, int i);
int64_t bpm_iterations(const bpm_state *st);
void bpm_pause(bpm_state *st);
void bpm_resume(bpm_state *st);
void bpm_label(bpm_state *st, const char *label);
void bpm_skip_error(bpm_state *st, const char *msg);

enum {
    BPM_COUNTER_PLAIN = 0,
    BPM_COUNTER_RATE = 1,     /* value / elapsed seconds */
    BPM_COUNTER_AVG_ITER = 2, /* value / iterations */
};
void bpm_counter(bpm_state *st, const char *name, double value, unsigned flags);

/* One reported run or aggregate (e.g. "median"), after the console line. */
typedef struct bpm_result {
    const char *name;           /* benchmark name without aggregate suffix */
    const char *aggregate_name; /* "" for a plain run, else "mean", "median", ... */
    int error;
    int64_t iterations;
    double real_ns;             /* real time per iteration, ns */
    double cpu_ns;              /* CPU time per iteration, ns (what rates use) */
    const void *run_;           /* private */
} bpm_result;
/* Value of a counter of r (as displayed), or NaN if absent. */
double bpm_result_counter(const bpm_result *r, const char *name);
typedef void (*bpm_result_fn)(const bpm_result *r, void *ctx);

/* Initializes Google Benchmark from argv (consumes its --benchmark_* flags),
 * runs the benchmarks selected by --benchmark_filter or, without one, by
 * default_filter, and calls cb for each result. Returns 0, or 1 on an
 * unrecognized argument. */
int bpm_run(int *argc, char **argv, const char *default_filter, bpm_result_fn cb, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
