/* report.c: builds the bpbench report from the raw measurement; every
 * derived number of the text and JSON output is computed here, once. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_kernels.h"
#include "report.h"

const bp_bench_row_id bp_bench_baselines[BP_BENCH_NBASE] = {BP_BENCH_INT8, BP_BENCH_INT8_CAPPED,
                                                            BP_BENCH_CSR};
const char *const bp_bench_eq9_keys[4] = {"binary_w", "binary_wx", "csd_w", "csd_wx"};
const char *const bp_bench_scheme_label[BP_BENCH_SCHEMES] = {
    "dense mult-add", "sparse mult-add (w)", "sparse mult-add (w,x)",
    "add-shift-add binary (w)", "add-shift-add binary (w,x)", "add-shift-add CSD (w)",
    "add-shift-add CSD (w,x)"};

static int bp_bench_is_layer_op(const char *op)
{
    return !strncmp(op, "conv2d", 6) || !strncmp(op, "linear", 6);
}

static void bp_bench_layer_shape(const bp_layer_info *l, char *buf, size_t n)
{
    if (!strcmp(l->op, "linear"))
        snprintf(buf, n, "fc %ux%u", l->c_out, l->c_in);
    else if (l->groups > 1 && l->groups == l->c_in)
        snprintf(buf, n, "dw%ux%u/%u %u", l->kh, l->kw, l->stride, l->c_out);
    else
        snprintf(buf, n, "%ux%u/%u %u>%u", l->kh, l->kw, l->stride, l->c_in, l->c_out);
}

/* Adds one occurrence of name to a distinct-name count list. */
static int bp_bench_kcount_add(bp_bench_kcount **list, uint32_t *n, const char *name)
{
    for (uint32_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i].name, name)) {
            (*list)[i].steps++;
            return 0;
        }
    bp_bench_kcount *g = realloc(*list, (*n + 1) * sizeof **list);
    if (!g)
        return -1;
    *list = g;
    g[*n].name = name;
    g[*n].steps = 1;
    (*n)++;
    return 0;
}

static int bp_bench_row_kernels(bp_bench_rrow *rr)
{
    const bp_bench_row *r = rr->raw;
    /* for steps whose kernel names no ISA: the process's oneDNN ISA, or the
     * session's kernel ISA */
    const char *fallback = bp_bench_engine_of(*r->onednn_isa ? r->onednn_isa : r->isa);
    for (uint32_t i = 0; i < r->n_steps; i++) {
        const bp_bench_step *s = &r->steps[i];
        if (*s->kernel && bp_bench_kcount_add(&rr->kernels, &rr->n_kernels, s->kernel))
            return -1;
        if (!bp_bench_is_layer_op(s->op))
            continue;
        const char *e = bp_bench_engine_of(s->kernel);
        if (!e)
            e = fallback ? fallback : "unknown";
        if (bp_bench_kcount_add(&rr->engines, &rr->n_engines, e))
            return -1;
    }
    char *p = rr->engine_summary;
    size_t left = sizeof rr->engine_summary;
    p[0] = 0;
    for (uint32_t i = 0; i < rr->n_engines && left > 1; i++) {
        int w = rr->n_engines == 1
                    ? snprintf(p, left, "%s", rr->engines[i].name)
                    : snprintf(p, left, "%s%s (%u)", i ? ", " : "", rr->engines[i].name,
                               rr->engines[i].steps);
        if (w < 0 || (size_t)w >= left)
            break;
        p += w;
        left -= (size_t)w;
    }
    if (!rr->n_engines && fallback)
        snprintf(rr->engine_summary, sizeof rr->engine_summary, "%s", fallback);
    return 0;
}

static int bp_bench_row_steps(bp_bench_rrow *rr)
{
    const bp_bench_row *r = rr->raw;
    if (!r->step_ms || !r->n_lat || !r->n_steps)
        return 0;
    rr->step_median = calloc(r->n_steps, sizeof *rr->step_median);
    double *col = malloc(r->n_lat * sizeof *col);
    if (!rr->step_median || !col) {
        free(col);
        return -1;
    }
    /* the median over the timed runs, like the end-to-end figure (a mean
     * would be dragged by a few disturbed runs) */
    for (uint32_t k = 0; k < r->n_steps; k++) {
        for (uint32_t t = 0; t < r->n_lat; t++)
            col[t] = r->step_ms[(size_t)t * r->n_steps + k];
        rr->step_median[k] = bp_bench_median(col, r->n_lat);
        rr->node_sum += rr->step_median[k];
    }
    free(col);
    return 0;
}

static double bp_bench_step_ms(const bp_bench_rrow *rr, const char *name, const char **kernel)
{
    const bp_bench_row *r = rr->raw;
    for (uint32_t i = 0; rr->step_median && i < r->n_steps; i++)
        if (!strcmp(r->steps[i].name, name)) {
            if (kernel)
                *kernel = r->steps[i].kernel;
            return rr->step_median[i];
        }
    return NAN;
}

static int bp_bench_is_model_layer(const bp_model_info *mi, const char *name)
{
    for (uint32_t li = 0; li < mi->n_layers; li++)
        if (!strcmp(mi->layers[li].name, name))
            return 1;
    return 0;
}

static int bp_bench_set_layers(bp_bench_rset *rs, const bp_bench_run *run, uint32_t batch)
{
    const bp_model_info *mi = run->mi;
    rs->layers = calloc(mi->n_layers ? mi->n_layers : 1, sizeof *rs->layers);
    if (!rs->layers)
        return -1;
    rs->n_layers = mi->n_layers;
    for (uint32_t li = 0; li < mi->n_layers; li++) {
        bp_bench_rlayer *L = &rs->layers[li];
        L->l = &mi->layers[li];
        bp_bench_layer_shape(L->l, L->shape, sizeof L->shape);
        L->dpw = L->l->weights ? (double)L->l->digits / (double)L->l->weights : 0;
        L->ceil_pct = NAN;
        for (int b = 0; b < BP_BENCH_NROWS; b++) {
            L->ms[b] = NAN;
            if (rs->profiled[b])
                L->ms[b] = bp_bench_step_ms(&rs->rows[b], L->l->name, &L->kernel[b]);
        }
        /* the kernel adds every digit's activation row once per output pixel */
        double lane_adds = (double)L->l->digits * (double)L->l->out_pixels * batch;
        double ms = L->ms[BP_BENCH_BITPLANE];
        if (rs->ceiling > 0 && ms > 0)
            L->ceil_pct = 100.0 * lane_adds / (ms * 1e-3) / rs->ceiling;
    }
    /* non-layer steps, summed per op, in order of first appearance */
    const bp_bench_row *pr = NULL;
    for (int b = 0; b < BP_BENCH_NROWS && !pr; b++)
        if (rs->profiled[b])
            pr = rs->rows[b].raw;
    for (uint32_t i = 0; pr && i < pr->n_steps; i++) {
        const char *op = pr->steps[i].op;
        if (bp_bench_is_model_layer(mi, pr->steps[i].name))
            continue;
        uint32_t k = 0;
        while (k < rs->n_other && strcmp(rs->other[k].op, op))
            k++;
        if (k == rs->n_other) {
            bp_bench_rother *g = realloc(rs->other, (k + 1) * sizeof *g);
            if (!g)
                return -1;
            rs->other = g;
            g[k].op = op;
            rs->n_other = k + 1;
            for (int b = 0; b < BP_BENCH_NROWS; b++) {
                g[k].ms[b] = rs->profiled[b] ? 0 : NAN;
                const bp_bench_rrow *rr = &rs->rows[b];
                for (uint32_t j = 0; rs->profiled[b] && j < rr->raw->n_steps; j++)
                    if (!strcmp(rr->raw->steps[j].op, op) &&
                        !bp_bench_is_model_layer(mi, rr->raw->steps[j].name))
                        g[k].ms[b] += rr->step_median[j];
            }
        }
    }
    return 0;
}

static void bp_bench_warn(bp_bench_report *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bp_bench_warn(bp_bench_report *rep, const char *fmt, ...)
{
    if (rep->n_warnings >= BP_BENCH_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->warnings[rep->n_warnings++], sizeof rep->warnings[0], fmt, ap);
    va_end(ap);
}

static void bp_bench_counts(bp_bench_report *rep)
{
    const bp_bench_run *run = rep->run;
    const bp_model_info *mi = run->mi;
    const double batch = rep->cfg->batch;
    double macs = 0, mw_bin = 0, mw_csd = 0, dig[4] = {0}, mul_w = 0, mul_wx = 0;
    for (uint32_t li = 0; li < mi->n_layers; li++) {
        const bp_layer_info *l = &mi->layers[li];
        const bp_layer_counts *c = &run->counts[li];
        uint32_t Mb = bp_digits_positions((int32_t)(l->w_max ? l->w_max : 1), BP_ENC_BINARY);
        uint32_t Mc = bp_digits_positions((int32_t)(l->w_max ? l->w_max : 1), BP_ENC_CSD);
        bp_bench_ops lo[BP_BENCH_SCHEMES];
        bp_bench_layer_ops(c, l->K, Mb, Mc, lo);
        for (int s = 0; s < BP_BENCH_SCHEMES; s++) {
            rep->tot[s].mults += lo[s].mults / batch;
            rep->tot[s].adds += lo[s].adds / batch;
            rep->tot[s].shifts += lo[s].shifts / batch;
        }
        macs += (double)c->macs_dense / batch;
        mw_bin += (double)Mb * (double)c->macs_dense / batch;
        mw_csd += (double)Mc * (double)c->macs_dense / batch;
        dig[0] += (double)c->adds_binary_w / batch;
        dig[1] += (double)c->adds_binary_wx / batch;
        dig[2] += (double)c->adds_csd_w / batch;
        dig[3] += (double)c->adds_csd_wx / batch;
        mul_w += (double)c->mults_w / batch;
        mul_wx += (double)c->mults_wx / batch;
    }
    rep->sig_mult_w = macs ? mul_w / macs : 0;
    rep->sig_mult_wx = macs ? mul_wx / macs : 0;
    rep->sig_add[0] = mw_bin ? dig[0] / mw_bin : 0;
    rep->sig_add[1] = mw_bin ? dig[1] / mw_bin : 0;
    rep->sig_add[2] = mw_csd ? dig[2] / mw_csd : 0;
    rep->sig_add[3] = mw_csd ? dig[3] / mw_csd : 0;
    static const int asa[4] = {BP_BENCH_ASA_BIN_W, BP_BENCH_ASA_BIN_WX, BP_BENCH_ASA_CSD_W,
                               BP_BENCH_ASA_CSD_WX};
    for (int e = 0; e < BP_BENCH_EMODELS; e++) {
        const bp_bench_energy_model *em = &bp_bench_emodel[e];
        for (int s = 0; s < BP_BENCH_SCHEMES; s++)
            rep->energy_uj[e][s] = bp_bench_energy_pj(&rep->tot[s], em) * 1e-6;
        for (int k = 0; k < 4; k++) {
            int wx = k & 1;
            double d = bp_bench_energy_pj(&rep->tot[wx ? BP_BENCH_SPARSE_WX : BP_BENCH_SPARSE_W], em);
            rep->eq9_exact[e][k] = d > 0 ? bp_bench_energy_pj(&rep->tot[asa[k]], em) / d : NAN;
            rep->eq9_approx[e][k] = bp_bench_eq9_approx(dig[k], wx ? mul_wx : mul_w, em);
        }
    }
}

static uint64_t bp_bench_boot_seed(uint64_t seed, int set, int row, int base)
{
    return seed ^ ((uint64_t)(set + 1) << 40) ^ ((uint64_t)(row + 1) << 20) ^ (uint64_t)(base + 1);
}

static int bp_bench_set_build(bp_bench_report *rep, uint32_t si)
{
    const bp_bench_cfg *cfg = rep->cfg;
    const bp_bench_set *set = &rep->run->sets[si];
    bp_bench_rset *rs = &rep->sets[si];
    rs->raw = set;
    for (int b = 0; b < BP_BENCH_NROWS; b++) {
        bp_bench_rrow *rr = &rs->rows[b];
        const bp_bench_row *r = &set->rows[b];
        rr->raw = r;
        rr->reported = r->wanted && r->state != BP_BENCH_NOT_RUN;
        rr->ok = r->state == BP_BENCH_RAN && r->n_lat > 0;
        rr->rel_ci_pct = NAN;
        rr->ips = rr->ips_lo = rr->ips_hi = NAN;
        bp_bench_stat_compute(NULL, 0, &rr->tput);
        bp_bench_stat_compute(NULL, 0, &rr->lat);
        for (int k = 0; k < BP_BENCH_NBASE; k++)
            rr->speedup[k].value = rr->speedup[k].lo = rr->speedup[k].hi = NAN;
        rs->scaling[b].value = rs->scaling[b].lo = rs->scaling[b].hi = NAN;
        if (r->state == BP_BENCH_RAN && bp_bench_row_kernels(rr))
            return -1;
        if (!rr->ok)
            continue;
        if (!rs->threads || b == BP_BENCH_BITPLANE)
            rs->threads = r->threads;
        if (r->threads > rep->threads_in_use)
            rep->threads_in_use = r->threads;
        if (cfg->streams && r->stream_threads * (int)cfg->streams > rep->threads_in_use)
            rep->threads_in_use = r->stream_threads * (int)cfg->streams;
        bp_bench_stat_compute(r->lat, r->n_lat, &rr->lat);
        bp_bench_stat_compute(r->tput, r->n_tput, &rr->tput);
        rr->ips = cfg->batch * 1e3 / rr->lat.median;
        rr->ips_lo = cfg->batch * 1e3 / rr->lat.hi;
        rr->ips_hi = cfg->batch * 1e3 / rr->lat.lo;
        if (rr->lat.n >= 2) {
            rr->rel_ci_pct = 100.0 * (rr->lat.hi - rr->lat.lo) / rr->lat.median;
            rr->noisy = rr->rel_ci_pct > cfg->noise_pct;
        }
        if (bp_bench_row_steps(rr))
            return -1;
        rs->profiled[b] = rr->step_median != NULL;
        rs->any_profiled |= rs->profiled[b];
    }
    for (int b = 0; b < BP_BENCH_NROWS; b++) {
        bp_bench_rrow *rr = &rs->rows[b];
        if (!rr->ok)
            continue;
        for (int k = 0; k < BP_BENCH_NBASE; k++) {
            const bp_bench_rrow *base = &rs->rows[bp_bench_baselines[k]];
            if (!base->ok || (int)bp_bench_baselines[k] == b)
                continue;
            /* interleaved rounds pair the samples of one round */
            bp_bench_ratio_ci(base->raw->lat, base->raw->n_lat, rr->raw->lat, rr->raw->n_lat,
                              !cfg->sequential, BP_BENCH_BOOTSTRAP_RESAMPLES,
                              bp_bench_boot_seed(rep->boot_seed, (int)si, b, k), &rr->speedup[k]);
        }
        const bp_bench_rrow *first = &rep->sets[0].rows[b];
        if (si > 0 && first->ok)
            bp_bench_ratio_ci(first->raw->lat, first->raw->n_lat, rr->raw->lat, rr->raw->n_lat, 0,
                              BP_BENCH_BOOTSTRAP_RESAMPLES,
                              bp_bench_boot_seed(rep->boot_seed, (int)si, b, 99), &rs->scaling[b]);
        if (rr->noisy)
            bp_bench_warn(rep,
                          "noisy: %s at %d thread(s): the 95%% interval of the median spans %.1f%% "
                          "of it (threshold %g%%)",
                          rr->raw->name, rr->raw->threads, rr->rel_ci_pct, cfg->noise_pct);
    }
    const bp_bench_rrow *bpr = &rs->rows[BP_BENCH_BITPLANE];
    rs->ceiling = rep->run->ceiling_1t > 0 && bpr->ok ? rep->run->ceiling_1t * bpr->raw->threads
                                                      : 0;
    if (cfg->layers && rs->any_profiled && bp_bench_set_layers(rs, rep->run, cfg->batch))
        return -1;
    return 0;
}

int bp_bench_report_build(bp_bench_report *rep, const bp_bench_run *run,
                          const bp_bench_cfg *cfg, const bp_bench_machine *mach, time_t started)
{
    memset(rep, 0, sizeof *rep);
    rep->cfg = cfg;
    rep->run = run;
    rep->mach = mach;
    rep->exit_code = run->exit_code;
    rep->boot_seed = cfg->seed;
    struct tm tm;
    gmtime_r(&started, &tm);
    strftime(rep->timestamp, sizeof rep->timestamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const bp_model_info *mi = run->mi;
    if (!mi)
        return 0;
    rep->dpw = mi->digits_per_weight;
    rep->dpw_binary = mi->weights ? (double)mi->digits_binary / (double)mi->weights : 0;
    rep->dpw_csd = mi->weights ? (double)mi->digits_csd / (double)mi->weights : 0;
    rep->have_counts = run->have_counts;
    if (rep->have_counts)
        bp_bench_counts(rep);
    rep->sets = calloc(run->n_sets ? run->n_sets : 1, sizeof *rep->sets);
    if (!rep->sets)
        return -1;
    rep->n_sets = run->n_sets;
    for (uint32_t si = 0; si < run->n_sets; si++)
        if (bp_bench_set_build(rep, si))
            return -1;
    double load = fmax(mach->load_start[0], mach->load_end[0]);
    if (rep->threads_in_use > 0 && load > rep->threads_in_use)
        bp_bench_warn(rep,
                      "busy machine: load average %.2f (1 min) exceeds the %d thread(s) this "
                      "benchmark runs at once: other processes share the CPUs",
                      load, rep->threads_in_use);
    return 0;
}

void bp_bench_report_free(bp_bench_report *rep)
{
    for (uint32_t si = 0; rep->sets && si < rep->n_sets; si++) {
        bp_bench_rset *rs = &rep->sets[si];
        for (int b = 0; b < BP_BENCH_NROWS; b++) {
            free(rs->rows[b].kernels);
            free(rs->rows[b].engines);
            free(rs->rows[b].step_median);
        }
        free(rs->layers);
        free(rs->other);
    }
    free(rep->sets);
    memset(rep, 0, sizeof *rep);
}
