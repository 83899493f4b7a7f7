/* run.h: bpbench's measurement: the backend rows, one set of rows per
 * thread count, agreement with the reference, interleaved latency rounds,
 * throughput rounds over concurrent sessions, and the raw samples they
 * leave. Nothing here computes a statistic (see report.h). */
#ifndef BP_BENCH_RUN_H
#define BP_BENCH_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "bitprune.h"
#include "machine.h"
#include "options.h"

/* Rows of the report. The capped oneDNN row runs the engine backend
 * "onednn-int8" in a child process whose oneDNN ISA is capped. */
typedef enum bp_bench_row_id {
    BP_BENCH_REF = 0,
    BP_BENCH_BITPLANE,
    BP_BENCH_CSR,
    BP_BENCH_INT8,
    BP_BENCH_INT8_CAPPED,
    BP_BENCH_F32,
    BP_BENCH_NROWS
} bp_bench_row_id;
extern const char *const bp_bench_row_names[BP_BENCH_NROWS];

/* Timed runs per stream in one throughput round (after one untimed run). */
#define BP_BENCH_STREAM_RUNS 3

typedef enum bp_bench_state {
    BP_BENCH_NOT_RUN = 0,
    BP_BENCH_RAN,     /* opened and timed (the samples may still be few) */
    BP_BENCH_SKIPPED, /* not available here and not named explicitly */
    BP_BENCH_FAILED
} bp_bench_state;

/* One graph step as the session's profile names it. */
typedef struct bp_bench_step {
    char *name, *op, *kernel;
} bp_bench_step;

typedef struct bp_bench_local bp_bench_local; /* in-process sessions (run.c) */
typedef struct bp_bench_child bp_bench_child; /* the capped child (onednn_child.c) */

typedef struct bp_bench_row {
    bp_bench_row_id id;
    const char *name;    /* row name, e.g. "onednn-int8-capped" */
    const char *backend; /* engine backend, e.g. "onednn-int8" */
    int wanted, requested, remote;
    int oracle_only; /* the reference under 'all': its agreement run is its one sample */
    bp_bench_state state;
    char reason[512];
    char isa[32];        /* kernel ISA of the session */
    char onednn_isa[32]; /* oneDNN's effective ISA in the process that ran it */
    int threads, stream_threads;
    int exact;
    char inexact_reason[256];
    int agree_checked, bit_exact, agree_fail;
    double max_abs_diff;
    uint32_t iters;     /* latency samples planned */
    double *lat;        /* latency samples, ms, in round order */
    uint32_t n_lat;
    double *tput;       /* throughput samples, images/s, in round order */
    uint32_t n_tput;
    bp_bench_step *steps;
    uint32_t n_steps;
    double *step_ms;    /* [n_lat][n_steps] with --layers */
    bp_bench_local *local;
    bp_bench_child *child;
} bp_bench_row;

/* One measurement at one --threads value. */
typedef struct bp_bench_set {
    int threads_req;
    bp_bench_row rows[BP_BENCH_NROWS];
} bp_bench_set;

typedef struct bp_bench_io {
    uint32_t n_in, n_out;
    float **in, **out, **ref_out;
    size_t *in_n, *out_n;
    size_t out_total; /* floats over all outputs */
} bp_bench_io;

typedef struct bp_bench_run {
    const bp_bench_cfg *cfg;
    bp_model *m;
    const bp_model_info *mi;
    bp_bench_io io;
    double ref_absmax;          /* max |reference output| */
    bp_layer_counts *counts;    /* [n_layers] when have_counts */
    int have_counts;
    bp_bench_set *sets;
    uint32_t n_sets;
    int cap_run;                /* the capped oneDNN row is measured */
    char cap_isa[32];           /* its ONEDNN_MAX_CPU_ISA value */
    char cap_note[320];         /* why it runs or not */
    double ceiling_1t;          /* kernel ceiling probe, lane-adds/s, one thread */
    char ceil_isa[16];
    int exit_code;              /* bp_bench_exit */
} bp_bench_run;

/* Progress lines on stderr (a terminal only). */
void bp_bench_progress_enable(int on);
void bp_bench_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bp_bench_status_clear(void);
double bp_bench_now_ms(void);

/* Loads the model and measures every set. Fills r even on failure (free it
 * with bp_bench_run_free) and returns r->exit_code; errors are printed. */
int bp_bench_run_all(bp_bench_run *r, const bp_bench_cfg *cfg, const bp_bench_machine *mach);
void bp_bench_run_free(bp_bench_run *r);

/* Inputs (random or --input) and output buffers for the model. 0, or -1
 * with err set. */
int bp_bench_io_init(bp_bench_io *io, const bp_model_info *mi, const bp_bench_cfg *cfg,
                     char *err, size_t errlen);
void bp_bench_io_free(bp_bench_io *io);

/* In-process rows (also what the capped child runs). open: creates the
 * session(s) with `threads` threads, does the agreement run into `outs`
 * (its time in *agree_ms), records the steps and kernels, counts
 * operations when counts != NULL, warms up. Returns 0, 1 when skipped
 * (backend unavailable and not requested), -1 on failure (r->reason). */
int bp_bench_local_open(bp_bench_row *r, const bp_model *m, const bp_bench_cfg *cfg, int threads,
                        const bp_bench_io *io, float **outs, double *agree_ms,
                        bp_layer_counts *counts);
/* One timed run (after an untimed one when rewarm); step_ms gets the
 * per-step times when layers. 0 or -1 (r->reason). */
int bp_bench_local_latency(bp_bench_row *r, const bp_bench_io *io, int rewarm, int layers,
                           double *ms, double *step_ms);
/* One throughput round: every stream one untimed run, then
 * BP_BENCH_STREAM_RUNS timed runs concurrently; images/s over the wall time. */
int bp_bench_local_tput(bp_bench_row *r, uint32_t batch, double *ips);
void bp_bench_local_close(bp_bench_row *r);

/* Frees a row's samples and steps. */
void bp_bench_row_free(bp_bench_row *r);
/* Copies s with tabs and newlines made spaces (the child protocol is
 * tab-separated lines). */
char *bp_bench_strdup_clean(const char *s);

#endif
