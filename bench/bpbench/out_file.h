/* out_file.h: bpbench's output files (--json, --plot-layers): checked before
 * any run, built in memory, then atomically replace the destination. */
#ifndef BP_BENCH_OUT_FILE_H
#define BP_BENCH_OUT_FILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct bp_bench_out {
    FILE *f;      /* where to write: a memory stream, or stdout for "-" */
    char *buf;    /* the memory stream's buffer */
    size_t size;
    const char *path;
} bp_bench_out;

/* 0 if path may be written ("-" or a regular file or a new name), else -1
 * after a message naming the option and why (a device, FIFO, directory). */
int bp_bench_out_check(const char *opt, const char *path);
/* Starts an output; -1 after a message on failure. */
int bp_bench_out_open(bp_bench_out *o, const char *path);
/* Finishes it: stdout is flushed, a file replaces the destination atomically
 * (nothing is left behind on failure). 0, or -1 after a message. Frees o. */
int bp_bench_out_commit(bp_bench_out *o);

#endif
