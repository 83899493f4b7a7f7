/* options.h: bpbench's command line: the configuration it fills, the exit
 * statuses, the usage text and the parser. */
#ifndef BP_BENCH_OPTIONS_H
#define BP_BENCH_OPTIONS_H

#include <stdint.h>

/* Exit statuses of bpbench (also listed in --help). */
typedef enum bp_bench_exit {
    BP_BENCH_EXIT_OK = 0,       /* every requested backend ran and agreed */
    BP_BENCH_EXIT_ERROR = 1,    /* model, input, backend or output-file failure */
    BP_BENCH_EXIT_USAGE = 2,    /* bad command line */
    BP_BENCH_EXIT_DISAGREE = 3  /* a backend that declares itself exact differs
                                   from the reference */
} bp_bench_exit;

/* The five engine backends a user can name, in report order. */
#define BP_BENCH_NENGINE 5
extern const char *const bp_bench_engine_backends[BP_BENCH_NENGINE];

#define BP_BENCH_MAX_THREAD_COUNTS 16

typedef enum bp_bench_cap_mode {
    BP_BENCH_CAP_AUTO = 0, /* capped oneDNN run only when the best ISA has AMX */
    BP_BENCH_CAP_NONE,     /* never */
    BP_BENCH_CAP_FORCED    /* always, at cap_isa */
} bp_bench_cap_mode;

typedef struct bp_bench_cfg {
    const char *model, *json, *input, *isa, *plot;
    int threads[BP_BENCH_MAX_THREAD_COUNTS]; /* 0: all cores */
    uint32_t n_threads;
    uint32_t streams; /* 0: no throughput mode */
    uint32_t batch, repeat, warmup;
    uint64_t seed;
    double noise_pct; /* warn when a median's 95% CI is wider than this % of it */
    int layers, counts, sequential;
    int want[BP_BENCH_NENGINE];
    int all;
    bp_bench_cap_mode cap_mode;
    char cap_isa[32]; /* ONEDNN_MAX_CPU_ISA value when forced */
    int child;        /* internal: serve the capped oneDNN measurement on stdin/stdout */
} bp_bench_cfg;

/* Parses argv into cfg. Returns -1 to go on, or the exit status to return
 * now (0 after --help / --version, BP_BENCH_EXIT_USAGE after a one-line
 * message on stderr). Does no work beyond parsing. */
int bp_bench_parse_args(int argc, char **argv, bp_bench_cfg *cfg);

/* The oneDNN ISA names accepted by --onednn-cap (ONEDNN_MAX_CPU_ISA values,
 * lower case); NULL-terminated. */
extern const char *const bp_bench_onednn_isas[];

#endif
