/* Runs one serialized model through the engine on every backend and checks
 * the properties both fuzzers rely on: a rejection is a status with a
 * message; the integer backends accept the same models; every session that
 * reports itself exact equals "reference" bit for bit (a NaN equals any NaN:
 * its sign and payload are not specified by IEEE 754); threads 1 and 2 give
 * identical outputs; image 0 of a batch of 2 (or 3) equals a batch of 1. */
#ifndef FZ_BACKEND_CHECK_H
#define FZ_BACKEND_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_harness.h"

enum {
    FZ_IN_UNIFORM = 0, /* [-1, 1) */
    FZ_IN_WIDE,        /* [-16, 16) */
    FZ_IN_TIES,        /* halves of small powers of two: quantization ties */
    FZ_IN_SPARSE,      /* mostly zeros */
    FZ_IN_EXTREME,     /* +-1e30, +-FLT_MAX, denormals, signed zeros */
    FZ_IN_NONFINITE,   /* uniform with some NaN and +-inf */
    FZ_IN_COUNT
};

typedef struct fz_check_cfg {
    int full;       /* every backend at threads 1 and 2 and every ISA level the
                       CPU has; else one random variant of each backend */
    int input_mode; /* FZ_IN_*, or -1 for a random one */
    int verbose;
} fz_check_cfg;

typedef struct fz_check_stats {
    long models;          /* handed to fz_check_model */
    long load_rejected;   /* rejected by bp_model_load_memory */
    long sessions;        /* sessions created */
    long session_rejected;/* bp_session_create refused (clean status) */
    long onednn_failed;   /* oneDNN refused or failed a layer (clean status) */
    long compared;        /* exact sessions compared bit for bit */
    long inexact;         /* sessions flagged inexact (onednn-int8 wide weights, f32) */
    long skipped_known;   /* comparisons skipped for a known, named engine issue */
} fz_check_stats;

/* 0 when every property holds; 1 after printing what failed. */
int fz_check_model(const void *buf, size_t size, const fz_check_cfg *cfg, fz_rng *rng,
                   fz_check_stats *st);

void fz_check_stats_print(const char *name, const fz_check_stats *st);

/* Fills n floats of the given input mode. */
void fz_fill_input(fz_rng *rng, int mode, float *x, size_t n);

#endif
