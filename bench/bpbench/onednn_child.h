/* onednn_child.h: the capped onednn-int8 measurement in a child process.
 * oneDNN reads its ISA cap (ONEDNN_MAX_CPU_ISA) once per process, so bpbench
 * re-executes itself with the cap in the environment and --onednn-child; the
 * child opens one onednn-int8 session and then times runs on request, one
 * command per line on its stdin, one result per line on its stdout, so the
 * parent interleaves it with its own backends round by round. */
#ifndef BP_BENCH_ONEDNN_CHILD_H
#define BP_BENCH_ONEDNN_CHILD_H

#include "options.h"
#include "run.h"

/* Parent side: starts the child with ONEDNN_MAX_CPU_ISA=cap_isa, reads its
 * session facts, steps and agreement outputs (into io->out). 0, or -1 with
 * r->reason set (r->state FAILED or SKIPPED). */
int bp_bench_child_open(bp_bench_row *r, const bp_bench_cfg *cfg, int threads,
                        const char *cap_isa, bp_bench_io *io);
int bp_bench_child_latency(bp_bench_row *r, int rewarm, int layers, double *ms, double *step_ms);
int bp_bench_child_tput(bp_bench_row *r, double *ips);
/* Asks the child to quit and reaps it. */
void bp_bench_child_close(bp_bench_row *r);

/* Child side (--onednn-child): serves until stdin closes or "Q". Returns the
 * process exit status. */
int bp_bench_child_serve(const bp_bench_cfg *cfg);

#endif
