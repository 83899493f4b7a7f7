/* report.h: the bpbench report: every metric computed once from the raw
 * measurement (run.h): statistics and speedups with intervals, digits per
 * weight, per-layer medians and % of the kernel ceiling, operation counts,
 * sigmas, energy, eq. 9, engines used, noise warnings. The text and JSON
 * writers only format this struct. */
#ifndef BP_BENCH_REPORT_H
#define BP_BENCH_REPORT_H

#include <stdio.h>
#include <time.h>

#include "machine.h"
#include "opcount.h"
#include "options.h"
#include "run.h"
#include "stats.h"

/* Speedup baselines, in column order. */
#define BP_BENCH_NBASE 3
extern const bp_bench_row_id bp_bench_baselines[BP_BENCH_NBASE];

#define BP_BENCH_BOOTSTRAP_RESAMPLES 2000

typedef struct bp_bench_kcount {
    const char *name; /* kernel / implementation, or engine */
    uint32_t steps;
} bp_bench_kcount;

typedef struct bp_bench_rrow {
    const bp_bench_row *raw;
    int reported; /* a row of the tables (the backend was selected) */
    int ok;       /* ran; the statistics below are set */
    bp_bench_stat lat;               /* ms */
    double ips, ips_lo, ips_hi;      /* batch / latency (median, interval) */
    bp_bench_stat tput;              /* images/s over --streams sessions */
    bp_bench_ratio speedup[BP_BENCH_NBASE]; /* median(baseline) / median(this) */
    double rel_ci_pct;               /* (hi - lo) / median, % */
    int noisy;
    bp_bench_kcount *kernels;        /* distinct kernels over all steps */
    uint32_t n_kernels;
    bp_bench_kcount *engines;        /* engines of the conv/linear steps */
    uint32_t n_engines;
    char engine_summary[160];        /* "AVX-512 VNNI" or "AMX (52), AVX-512 VNNI (7)" */
    double *step_median;             /* [raw->n_steps] ms, with --layers */
    double node_sum;                 /* sum of step medians */
} bp_bench_rrow;

typedef struct bp_bench_rlayer {
    const bp_layer_info *l;
    char shape[48];
    double dpw;                              /* digits per weight */
    double ms[BP_BENCH_NROWS];               /* step median, NaN if not profiled */
    const char *kernel[BP_BENCH_NROWS];
    double ceil_pct;                         /* bitplane % of ceiling, NaN if n/a */
} bp_bench_rlayer;

typedef struct bp_bench_rother {
    const char *op;
    double ms[BP_BENCH_NROWS]; /* non-layer steps of this op, summed */
} bp_bench_rother;

typedef struct bp_bench_rset {
    const bp_bench_set *raw;
    int threads; /* threads of the sessions (as the engine resolved 0) */
    bp_bench_rrow rows[BP_BENCH_NROWS];
    int profiled[BP_BENCH_NROWS], any_profiled;
    bp_bench_rlayer *layers;
    uint32_t n_layers;
    bp_bench_rother *other;
    uint32_t n_other;
    double ceiling; /* lane-adds/s: probe x bitplane threads, 0 if n/a */
    bp_bench_ratio scaling[BP_BENCH_NROWS]; /* median(first set) / median(this) */
} bp_bench_rset;

#define BP_BENCH_MAX_WARNINGS 24

typedef struct bp_bench_report {
    const bp_bench_cfg *cfg;
    const bp_bench_run *run;
    const bp_bench_machine *mach;
    char timestamp[32]; /* ISO 8601 UTC, the start of the run */
    uint64_t boot_seed;
    bp_bench_rset *sets;
    uint32_t n_sets;
    double dpw, dpw_binary, dpw_csd; /* digits per weight, whole model */
    int have_counts;
    bp_bench_ops tot[BP_BENCH_SCHEMES]; /* per image */
    double sig_mult_w, sig_mult_wx;
    double sig_add[4]; /* binary w, binary wx, csd w, csd wx */
    double energy_uj[BP_BENCH_EMODELS][BP_BENCH_SCHEMES];
    double eq9_exact[BP_BENCH_EMODELS][4], eq9_approx[BP_BENCH_EMODELS][4];
    int threads_in_use; /* the most threads any measurement ran at once */
    char warnings[BP_BENCH_MAX_WARNINGS][320];
    int n_warnings;
    int exit_code;
} bp_bench_report;

extern const char *const bp_bench_eq9_keys[4];      /* binary_w, binary_wx, csd_w, csd_wx */
extern const char *const bp_bench_scheme_label[BP_BENCH_SCHEMES];

/* Computes the report. 0, or -1 when out of memory. */
int bp_bench_report_build(bp_bench_report *rep, const bp_bench_run *run,
                          const bp_bench_cfg *cfg, const bp_bench_machine *mach, time_t started);
void bp_bench_report_free(bp_bench_report *rep);

/* Writers. The text one goes to f; the JSON one to path ('-': stdout) and
 * returns 0 or -1 after a message on stderr. */
void bp_bench_write_text(const bp_bench_report *rep, FILE *f);
int bp_bench_write_json(const bp_bench_report *rep, const char *path);

#endif
