/* opcount.h: the paper's operation counts (Table 2) per conv/linear layer from
 * bp_session_count_ops, and the energy model of its Table 1 and eq. 9. */
#ifndef BP_BENCH_OPCOUNT_H
#define BP_BENCH_OPCOUNT_H

#include <stdint.h>

#include "bitprune.h"

/* The dot-product schemes of Table 2, each weight-only ("_w": zero activations
 * are still computed) and effectual ("_wx": zero activations skipped). */
typedef enum bp_bench_scheme {
    BP_BENCH_DENSE = 0,     /* dense mult-add */
    BP_BENCH_SPARSE_W,      /* sparse mult-add (Weight-Pruning) */
    BP_BENCH_SPARSE_WX,
    BP_BENCH_ASA_BIN_W,     /* add-shift-add, binary digits (the paper's) */
    BP_BENCH_ASA_BIN_WX,
    BP_BENCH_ASA_CSD_W,     /* add-shift-add, CSD digits (ours) */
    BP_BENCH_ASA_CSD_WX,
    BP_BENCH_SCHEMES
} bp_bench_scheme;

extern const char *const bp_bench_scheme_key[BP_BENCH_SCHEMES]; /* JSON keys */

typedef struct bp_bench_ops {
    double mults, adds, shifts;
} bp_bench_ops;

/* Table 2, summed over the dots of one layer:
 *   dense:          mults = K,          adds = K - 1,              shifts = 0
 *   sparse:         mults = s_mult K,   adds = s_mult (K - 1),     shifts = 0
 *   add-shift-add:  mults = 0,          adds = M s_add K + M - 1,  shifts = M - 1
 * per dot product, where s_mult K is the count of nonzero weights (effectual:
 * with a nonzero activation) and M s_add K the count of nonzero digits. Over a
 * layer: sparse adds = mults * (K-1)/K, add-shift-add adds = digits +
 * dots*(M-1). M_bin/M_csd: digit positions of the layer's |w| range in each
 * encoding. */
void bp_bench_layer_ops(const bp_layer_counts *c, uint32_t K, uint32_t M_bin, uint32_t M_csd,
                        bp_bench_ops out[BP_BENCH_SCHEMES]);

/* Table 1: pJ per operation. */
typedef struct bp_bench_energy_model {
    const char *key; /* "asic45_fix8", ... */
    const char *label;
    double mult, add, shift;
} bp_bench_energy_model;
#define BP_BENCH_EMODELS 4
extern const bp_bench_energy_model bp_bench_emodel[BP_BENCH_EMODELS];

/* E = mults*E_mult + adds*E_add + shifts*E_shift, in pJ. */
double bp_bench_energy_pj(const bp_bench_ops *o, const bp_bench_energy_model *e);

/* Eq. 9 approximation of E_add-shift-add / E_sparse-mult-add for K >> M:
 * (M E_add / E_mult) (s_add / s_mult) = (E_add / E_mult) * digits / mults,
 * since M s_add K = digits and s_mult K = mults per dot. */
double bp_bench_eq9_approx(double digits, double mults, const bp_bench_energy_model *e);

#endif
