/* opcount.c: Table 2 operation counts and the Table 1 energy model. */
#include "opcount.h"

const char *const bp_bench_scheme_key[BP_BENCH_SCHEMES] = {
    "dense_mult_add",    "sparse_mult_add_w",   "sparse_mult_add_wx", "add_shift_add_binary_w",
    "add_shift_add_binary_wx", "add_shift_add_csd_w", "add_shift_add_csd_wx"};

/* Paper Table 1 (You et al. 2020; Horowitz 2014), pJ per operation. */
const bp_bench_energy_model bp_bench_emodel[BP_BENCH_EMODELS] = {
    {"asic45_fix8", "ASIC 45nm FIX8", 0.2, 0.03, 0.024},
    {"asic45_fix32", "ASIC 45nm FIX32", 3.1, 0.1, 0.13},
    {"fpga_fix8", "FPGA FIX8", 0.2, 0.1, 0.025},
    {"fpga_fix32", "FPGA FIX32", 19.6, 0.1, 0.1},
};

static bp_bench_ops bp_bench_sparse(double mults, uint32_t K)
{
    bp_bench_ops o = {mults, K ? mults * (double)(K - 1) / (double)K : 0, 0};
    return o;
}

static bp_bench_ops bp_bench_asa(double digits, double dots, uint32_t M)
{
    double merge = M ? dots * (double)(M - 1) : 0;
    bp_bench_ops o = {0, digits + merge, merge};
    return o;
}

void bp_bench_layer_ops(const bp_layer_counts *c, uint32_t K, uint32_t M_bin, uint32_t M_csd,
                        bp_bench_ops out[BP_BENCH_SCHEMES])
{
    double dots = (double)c->dots;
    out[BP_BENCH_DENSE].mults = (double)c->macs_dense;
    out[BP_BENCH_DENSE].adds = K ? dots * (double)(K - 1) : 0;
    out[BP_BENCH_DENSE].shifts = 0;
    out[BP_BENCH_SPARSE_W] = bp_bench_sparse((double)c->mults_w, K);
    out[BP_BENCH_SPARSE_WX] = bp_bench_sparse((double)c->mults_wx, K);
    out[BP_BENCH_ASA_BIN_W] = bp_bench_asa((double)c->adds_binary_w, dots, M_bin);
    out[BP_BENCH_ASA_BIN_WX] = bp_bench_asa((double)c->adds_binary_wx, dots, M_bin);
    out[BP_BENCH_ASA_CSD_W] = bp_bench_asa((double)c->adds_csd_w, dots, M_csd);
    out[BP_BENCH_ASA_CSD_WX] = bp_bench_asa((double)c->adds_csd_wx, dots, M_csd);
}

double bp_bench_energy_pj(const bp_bench_ops *o, const bp_bench_energy_model *e)
{
    return o->mults * e->mult + o->adds * e->add + o->shifts * e->shift;
}

double bp_bench_eq9_approx(double digits, double mults, const bp_bench_energy_model *e)
{
    return mults > 0 ? (e->add / e->mult) * digits / mults : 0;
}
