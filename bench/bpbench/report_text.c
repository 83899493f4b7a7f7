/* report_text.c: the human-readable bpbench report (tables on stdout, or
 * stderr under --json -). Formats bp_bench_report; computes nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* Column headers of the per-layer and sweep tables. */
static const char *const bp_bench_short[BP_BENCH_NROWS] = {
    "reference", "bitplane", "csr", "int8", "int8-capped", "f32"};

static const char *bp_bench_row_isa(const bp_bench_row *r)
{
    if (r->id == BP_BENCH_REF)
        return "-"; /* the oracle's plain C loops use no kernel table */
    return *r->onednn_isa ? r->onednn_isa : r->isa;
}

static const char *bp_bench_s(int n) { return n == 1 ? "" : "s"; }

/* "1.55x [1.50, 1.61]" or "1.55x" or "-". */
static void bp_bench_fmt_ratio(char *buf, size_t n, const bp_bench_ratio *r)
{
    if (!isfinite(r->value))
        snprintf(buf, n, "-");
    else if (isfinite(r->lo) && isfinite(r->hi))
        snprintf(buf, n, "%.2fx [%.2f, %.2f]", r->value, r->lo, r->hi);
    else
        snprintf(buf, n, "%.2fx", r->value);
}

/* "11.372 [11.20, 11.51]" with an asterisk when the interval covers less
 * than 95% (fewer than 6 samples). */
static void bp_bench_fmt_stat(char *buf, size_t n, const bp_bench_stat *s, const char *fmt)
{
    char m[32], lo[32], hi[32];
    snprintf(m, sizeof m, fmt, s->median);
    if (!isfinite(s->lo)) {
        snprintf(buf, n, "%s", m);
        return;
    }
    snprintf(lo, sizeof lo, fmt, s->lo);
    snprintf(hi, sizeof hi, fmt, s->hi);
    snprintf(buf, n, "%s [%s, %s]%s", m, lo, hi, s->level < 0.95 ? "*" : "");
}

static void bp_bench_text_header(const bp_bench_report *rep, FILE *o)
{
    const bp_bench_cfg *cfg = rep->cfg;
    const bp_bench_machine *mc = rep->mach;
    const bp_model_info *mi = rep->run->mi;
    fprintf(o, "bpbench %s (commit %s, %s)  %s\n", bp_version_string(), mc->git_commit,
            mc->compiler, rep->timestamp);
    fprintf(o, "model: %s (%s): %u layers, %.2fM weights, sparsity %.4f, digits/weight %.4f "
               "(binary %.4f, CSD %.4f), %.3f GMAC/image\n",
            cfg->model, *mi->arch ? mi->arch : "?", mi->n_layers, mi->weights / 1e6,
            mi->sparsity, rep->dpw, rep->dpw_binary, rep->dpw_csd, mi->macs / 1e9);
    fprintf(o, "machine: %s, %ld logical CPUs, load average %.2f at start, %.2f at end\n",
            mc->cpu, mc->logical_cpus, mc->load_start[0], mc->load_end[0]);
    fprintf(o, "openmp: GOMP_SPINCOUNT=%s, OMP_WAIT_POLICY=%s\n",
            getenv("GOMP_SPINCOUNT") ? getenv("GOMP_SPINCOUNT") : "(unset)",
            getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "(unset)");
    fprintf(o, "engines:");
    for (int i = 0; i < mc->n_engines; i++)
        fprintf(o, "%s %s %s", i ? "," : "", mc->engines[i].name,
                mc->engines[i].present ? "yes" : "no");
    fprintf(o, " (/proc/cpuinfo)\n");
    if (rep->n_sets) {
        fprintf(o, "used:");
        int first = 1;
        for (int b = 0; b < BP_BENCH_NROWS; b++) {
            const bp_bench_rrow *rr = &rep->sets[0].rows[b];
            if (!rr->reported || rr->raw->state != BP_BENCH_RAN || b == BP_BENCH_REF)
                continue;
            fprintf(o, "%s %s %s (%s)", first ? "" : ";", rr->raw->name,
                    *rr->engine_summary ? rr->engine_summary : "?", bp_bench_row_isa(rr->raw));
            first = 0;
        }
        fputc('\n', o);
    }
    if (!*mc->onednn_version)
        fprintf(o, "oneDNN: %s\n", rep->run->cap_note);
    else if (*rep->run->cap_note)
        fprintf(o, "oneDNN %s: %s\n", mc->onednn_version, rep->run->cap_note);
    else
        fprintf(o, "oneDNN %s: best ISA %s\n", mc->onednn_version, mc->onednn_isa);
    fprintf(o, "input: %s; batch %u; %u warmup runs, then %u rounds per backend (%s)%s\n",
            cfg->input ? cfg->input : "random N(0,1)", cfg->batch, cfg->warmup, cfg->repeat,
            cfg->sequential ? "sequential" : "interleaved",
            cfg->streams ? "; each round also a throughput round" : "");
}

static void bp_bench_text_latency(const bp_bench_report *rep, const bp_bench_rset *rs, FILE *o)
{
    fprintf(o, "\nlatency at %d thread%s, ms: median of the rounds [95%% interval of the "
               "median], min, max\n",
            rs->threads, bp_bench_s(rs->threads));
    fprintf(o, "%-19s %-17s %-14s %5s %-27s %9s %9s %9s  %s\n", "backend", "ISA", "engine",
            "runs", "median [95% interval]", "min", "max", "images/s", "agreement with reference");
    for (int b = 0; b < BP_BENCH_NROWS; b++) {
        const bp_bench_rrow *rr = &rs->rows[b];
        const bp_bench_row *r = rr->raw;
        if (!rr->reported)
            continue;
        if (!rr->ok) {
            fprintf(o, "%-19s %s: %s\n", r->name,
                    r->state == BP_BENCH_SKIPPED ? "skipped" : "FAILED", r->reason);
            continue;
        }
        char med[128], agree[400];
        bp_bench_fmt_stat(med, sizeof med, &rr->lat, "%.3f");
        if (b == BP_BENCH_REF && r->oracle_only)
            snprintf(agree, sizeof agree, "(the reference; max |output| %.4g)",
                     rep->run->ref_absmax);
        else if (!r->agree_checked)
            snprintf(agree, sizeof agree, "(the reference)");
        else if (r->bit_exact)
            snprintf(agree, sizeof agree, "bit-exact");
        else
            snprintf(agree, sizeof agree, "max |diff| %.4g%s%s%s", r->max_abs_diff,
                     r->exact ? " DISAGREES (declared exact)" : " (inexact: ",
                     r->exact ? "" : r->inexact_reason, r->exact ? "" : ")");
        fprintf(o, "%-19s %-17s %-14.14s %5u %-27s %9.3f %9.3f %9.2f  %s\n", r->name,
                bp_bench_row_isa(r), b == BP_BENCH_REF ? "scalar" : rr->engine_summary,
                rr->lat.n, med, rr->lat.min, rr->lat.max, rr->ips, agree);
    }
    int any_star = 0;
    for (int b = 0; b < BP_BENCH_NROWS; b++)
        any_star |= rs->rows[b].ok && rs->rows[b].lat.n >= 2 && rs->rows[b].lat.level < 0.95;
    if (any_star)
        fprintf(o, "* fewer than 6 runs: the interval is min..max and covers less than 95%%\n");

    int any_base = 0;
    for (int k = 0; k < BP_BENCH_NBASE; k++)
        any_base |= rs->rows[bp_bench_baselines[k]].ok;
    if (!any_base)
        return;
    fprintf(o, "\nspeedup at %d thread%s: median(baseline) / median(backend) [95%% bootstrap "
               "interval]; > 1: faster\n",
            rs->threads, bp_bench_s(rs->threads));
    fprintf(o, "%-19s", "backend");
    for (int k = 0; k < BP_BENCH_NBASE; k++)
        if (rs->rows[bp_bench_baselines[k]].ok)
            fprintf(o, " %-24s", bp_bench_row_names[bp_bench_baselines[k]]);
    fputc('\n', o);
    for (int b = 0; b < BP_BENCH_NROWS; b++) {
        const bp_bench_rrow *rr = &rs->rows[b];
        if (!rr->ok || !rr->reported)
            continue;
        fprintf(o, "%-19s", rr->raw->name);
        for (int k = 0; k < BP_BENCH_NBASE; k++) {
            if (!rs->rows[bp_bench_baselines[k]].ok)
                continue;
            char v[64];
            bp_bench_fmt_ratio(v, sizeof v, &rr->speedup[k]);
            fprintf(o, " %-24s", (int)bp_bench_baselines[k] == b ? "(baseline)" : v);
        }
        fputc('\n', o);
    }
}

static void bp_bench_text_tput(const bp_bench_report *rep, const bp_bench_rset *rs, FILE *o)
{
    const bp_bench_cfg *cfg = rep->cfg;
    int st = 0;
    for (int b = 0; b < BP_BENCH_NROWS && !st; b++)
        if (rs->rows[b].ok && rs->rows[b].tput.n)
            st = rs->rows[b].raw->stream_threads;
    if (!st)
        return;
    fprintf(o, "\nthroughput: %u concurrent sessions of %d thread%s on one model, %d timed runs "
               "each per round; images/s\n",
            cfg->streams, st, bp_bench_s(st), BP_BENCH_STREAM_RUNS);
    fprintf(o, "%-19s %5s %-30s %10s %10s  %s\n", "backend", "runs", "median [95% interval]",
            "min", "max", "latency mode images/s");
    for (int b = 0; b < BP_BENCH_NROWS; b++) {
        const bp_bench_rrow *rr = &rs->rows[b];
        if (!rr->ok || !rr->reported || !rr->tput.n)
            continue;
        char med[128];
        bp_bench_fmt_stat(med, sizeof med, &rr->tput, "%.2f");
        fprintf(o, "%-19s %5u %-30s %10.2f %10.2f  %.2f\n", rr->raw->name, rr->tput.n, med,
                rr->tput.min, rr->tput.max, rr->ips);
    }
}

static void bp_bench_text_sweep(const bp_bench_report *rep, FILE *o)
{
    if (rep->n_sets < 2)
        return;
    fprintf(o, "\nthread sweep: median ms [95%% interval]; scaling = median at %d thread%s / "
               "median here [95%% bootstrap]\n",
            rep->sets[0].threads, bp_bench_s(rep->sets[0].threads));
    fprintf(o, "%-19s", "backend");
    for (uint32_t s = 0; s < rep->n_sets; s++) {
        char h[32];
        snprintf(h, sizeof h, "%d thread%s", rep->sets[s].threads,
                 bp_bench_s(rep->sets[s].threads));
        fprintf(o, " %-50s", h);
    }
    fputc('\n', o);
    for (int b = 0; b < BP_BENCH_NROWS; b++) {
        int any = 0;
        for (uint32_t s = 0; s < rep->n_sets; s++)
            any |= rep->sets[s].rows[b].ok && rep->sets[s].rows[b].lat.n > 1;
        if (!any)
            continue;
        fprintf(o, "%-19s", bp_bench_row_names[b]);
        for (uint32_t s = 0; s < rep->n_sets; s++) {
            const bp_bench_rrow *rr = &rep->sets[s].rows[b];
            char cell[192] = "-", med[128], sc[48];
            if (rr->ok) {
                bp_bench_fmt_stat(med, sizeof med, &rr->lat, "%.3f");
                bp_bench_fmt_ratio(sc, sizeof sc, &rep->sets[s].scaling[b]);
                snprintf(cell, sizeof cell, "%s%s%s", med, s ? " " : "", s ? sc : "");
            }
            fprintf(o, " %-50s", cell);
        }
        fputc('\n', o);
    }
}

static void bp_bench_text_counts(const bp_bench_report *rep, FILE *o)
{
    if (!rep->have_counts)
        return;
    fprintf(o, "\noperations per image (paper Table 2; (w): weight-only, (w,x): zero "
               "activations skipped)\n");
    fprintf(o, "%-28s %14s %14s %14s\n", "scheme", "mults", "adds", "shifts");
    for (int s = 0; s < BP_BENCH_SCHEMES; s++)
        fprintf(o, "%-28s %14.4g %14.4g %14.4g\n", bp_bench_scheme_label[s], rep->tot[s].mults,
                rep->tot[s].adds, rep->tot[s].shifts);
    fprintf(o, "sigma_mult: %.4f (w), %.4f (w,x)   sigma_add binary: %.4f (w), %.4f (w,x)   "
               "sigma_add CSD: %.4f (w), %.4f (w,x)\n",
            rep->sig_mult_w, rep->sig_mult_wx, rep->sig_add[0], rep->sig_add[1], rep->sig_add[2],
            rep->sig_add[3]);
    fprintf(o, "\nestimated energy per image [uJ] (paper Table 1: E = mults*E_mult + "
               "adds*E_add + shifts*E_shift)\n");
    fprintf(o, "%-28s", "scheme");
    for (int e = 0; e < BP_BENCH_EMODELS; e++)
        fprintf(o, " %15s", bp_bench_emodel[e].label);
    fputc('\n', o);
    for (int s = 0; s < BP_BENCH_SCHEMES; s++) {
        fprintf(o, "%-28s", bp_bench_scheme_label[s]);
        for (int e = 0; e < BP_BENCH_EMODELS; e++)
            fprintf(o, " %15.4g", rep->energy_uj[e][s]);
        fputc('\n', o);
    }
    static const char *const lbl[2][2] = {{"E_asa/E_sparse bin (w,x)", "  eq.9 approx bin (w,x)"},
                                          {"E_asa/E_sparse CSD (w,x)", "  eq.9 approx CSD (w,x)"}};
    for (int c = 0; c < 2; c++) {
        int k = c ? 3 : 1; /* binary_wx, csd_wx */
        fprintf(o, "%-28s", lbl[c][0]);
        for (int e = 0; e < BP_BENCH_EMODELS; e++)
            fprintf(o, " %15.4g", rep->eq9_exact[e][k]);
        fprintf(o, "\n%-28s", lbl[c][1]);
        for (int e = 0; e < BP_BENCH_EMODELS; e++)
            fprintf(o, " %15.4g", rep->eq9_approx[e][k]);
        fputc('\n', o);
    }
}

static void bp_bench_text_layers(const bp_bench_report *rep, const bp_bench_rset *rs, FILE *o)
{
    if (!rs->layers)
        return;
    fprintf(o, "\nper layer at %d thread%s, ms per run, median over the rounds (%% ceil: bitplane "
               "int16 lane-adds/s over the probe's %s x %d thread(s))\n",
            rs->threads, bp_bench_s(rs->threads), rs->ceiling > 0 ? rep->run->ceil_isa : "n/a",
            rs->rows[BP_BENCH_BITPLANE].ok ? rs->rows[BP_BENCH_BITPLANE].raw->threads : 0);
    fprintf(o, "%-30s %-14s %7s", "layer", "shape", "dig/w");
    for (int b = 0; b < BP_BENCH_NROWS; b++)
        if (rs->profiled[b])
            fprintf(o, " %11.11s", bp_bench_short[b]);
    fprintf(o, " %7s\n", "% ceil");
    for (uint32_t li = 0; li < rs->n_layers; li++) {
        const bp_bench_rlayer *L = &rs->layers[li];
        fprintf(o, "%-30.30s %-14s %7.4f", L->l->name, L->shape, L->dpw);
        for (int b = 0; b < BP_BENCH_NROWS; b++)
            if (rs->profiled[b])
                fprintf(o, " %11.4f", L->ms[b]);
        if (isfinite(L->ceil_pct))
            fprintf(o, " %6.1f%%\n", L->ceil_pct);
        else
            fprintf(o, " %7s\n", "-");
    }
    for (uint32_t k = 0; k < rs->n_other; k++) {
        char lbl[64];
        snprintf(lbl, sizeof lbl, "(other: %s)", rs->other[k].op);
        fprintf(o, "%-30.30s %-14s %7s", lbl, "", "");
        for (int b = 0; b < BP_BENCH_NROWS; b++)
            if (rs->profiled[b])
                fprintf(o, " %11.4f", rs->other[k].ms[b]);
        fputc('\n', o);
    }
    fprintf(o, "%-30.30s %-14s %7s", "(sum of all steps)", "", "");
    for (int b = 0; b < BP_BENCH_NROWS; b++)
        if (rs->profiled[b])
            fprintf(o, " %11.4f", rs->rows[b].node_sum);
    fputc('\n', o);
    fprintf(o, "\nkernels per backend (steps using each):\n");
    for (int b = 0; b < BP_BENCH_NROWS; b++) {
        const bp_bench_rrow *rr = &rs->rows[b];
        if (!rs->profiled[b])
            continue;
        fprintf(o, "  %s:\n", rr->raw->name);
        for (uint32_t i = 0; i < rr->n_kernels; i++)
            fprintf(o, "    %4u  %s\n", rr->kernels[i].steps, rr->kernels[i].name);
    }
}

void bp_bench_write_text(const bp_bench_report *rep, FILE *o)
{
    if (!rep->run->mi)
        return;
    bp_bench_text_header(rep, o);
    for (uint32_t s = 0; s < rep->n_sets; s++) {
        bp_bench_text_latency(rep, &rep->sets[s], o);
        bp_bench_text_tput(rep, &rep->sets[s], o);
    }
    bp_bench_text_sweep(rep, o);
    bp_bench_text_counts(rep, o);
    for (uint32_t s = 0; s < rep->n_sets; s++)
        bp_bench_text_layers(rep, &rep->sets[s], o);
    if (rep->n_warnings)
        fputc('\n', o);
    for (int i = 0; i < rep->n_warnings; i++)
        fprintf(o, "warning: %s\n", rep->warnings[i]);
}
