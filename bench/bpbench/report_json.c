/* report_json.c: the bpbench report as JSON (bench/bpbench/json_schema.md
 * documents every key). Formats bp_bench_report; computes nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "out_file.h"
#include "report.h"

#define BP_BENCH_SCHEMA_VERSION 2

static void bp_bench_json_numarr(bp_json *j, const char *key, const double *v, uint32_t n)
{
    bp_json_arr(j, key);
    for (uint32_t i = 0; i < n; i++)
        bp_json_num(j, NULL, v[i]);
    bp_json_end(j, ']');
}

static void bp_bench_json_stat(bp_json *j, const char *key, const bp_bench_stat *s,
                               const double *samples)
{
    bp_json_obj(j, key);
    bp_bench_json_numarr(j, "samples", samples, s->n);
    bp_json_int(j, "n", s->n);
    bp_json_num(j, "median", s->median);
    bp_json_num(j, "ci_low", s->lo);
    bp_json_num(j, "ci_high", s->hi);
    bp_json_num(j, "ci_level", s->n >= 2 ? s->level : NAN);
    bp_json_num(j, "min", s->min);
    bp_json_num(j, "max", s->max);
    bp_json_end(j, '}');
}

static void bp_bench_json_ratio(bp_json *j, const char *key, const bp_bench_ratio *r)
{
    if (!isfinite(r->value)) {
        bp_json_null(j, key);
        return;
    }
    bp_json_obj(j, key);
    bp_json_num(j, "ratio", r->value);
    bp_json_num(j, "ci_low", r->lo);
    bp_json_num(j, "ci_high", r->hi);
    bp_json_end(j, '}');
}

static void bp_bench_json_counts(bp_json *j, const char *key, const char *item,
                                 const bp_bench_kcount *k, uint32_t n, const char *count_key)
{
    bp_json_arr(j, key);
    for (uint32_t i = 0; i < n; i++) {
        bp_json_obj(j, NULL);
        bp_json_str(j, item, k[i].name);
        bp_json_int(j, count_key, k[i].steps);
        bp_json_end(j, '}');
    }
    bp_json_end(j, ']');
}

static void bp_bench_json_machine(bp_json *j, const bp_bench_report *rep)
{
    const bp_bench_machine *mc = rep->mach;
    bp_json_obj(j, "machine");
    bp_json_str(j, "cpu", mc->cpu);
    bp_json_int(j, "logical_cpus", (uint64_t)(mc->logical_cpus > 0 ? mc->logical_cpus : 0));
    bp_json_arr(j, "cpu_flags");
    if (mc->flags) {
        const char *p = mc->flags;
        while (*p) {
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, " ");
            if (!n)
                break;
            char f[64];
            snprintf(f, sizeof f, "%.*s", (int)(n < sizeof f ? n : sizeof f - 1), p);
            bp_json_str(j, NULL, f);
            p += n;
        }
    }
    bp_json_end(j, ']');
    bp_json_arr(j, "engines");
    for (int i = 0; i < mc->n_engines; i++) {
        bp_json_obj(j, NULL);
        bp_json_str(j, "name", mc->engines[i].name);
        bp_json_str(j, "cpuinfo_flag", mc->engines[i].flag);
        bp_json_bool(j, "present", mc->engines[i].present);
        bp_json_end(j, '}');
    }
    bp_json_end(j, ']');
    bp_json_bool(j, "matrix_engine", mc->has_matrix_engine);
    bp_json_str(j, "onednn_version", *mc->onednn_version ? mc->onednn_version : NULL);
    bp_json_str(j, "onednn_isa", *mc->onednn_isa ? mc->onednn_isa : NULL);
    bp_json_str(j, "gomp_spincount", getenv("GOMP_SPINCOUNT"));
    bp_json_str(j, "omp_wait_policy", getenv("OMP_WAIT_POLICY"));
    bp_bench_json_numarr(j, "load_average_start", mc->load_start, 3);
    bp_bench_json_numarr(j, "load_average_end", mc->load_end, 3);
    bp_json_end(j, '}');
}

static void bp_bench_json_config(bp_json *j, const bp_bench_report *rep)
{
    const bp_bench_cfg *cfg = rep->cfg;
    const bp_bench_run *run = rep->run;
    bp_json_obj(j, "config");
    bp_json_str(j, "model", cfg->model);
    bp_json_int(j, "batch", cfg->batch);
    bp_json_int(j, "repeat", cfg->repeat);
    bp_json_int(j, "warmup", cfg->warmup);
    bp_json_bool(j, "interleaved", !cfg->sequential);
    bp_json_arr(j, "threads_requested");
    for (uint32_t i = 0; i < cfg->n_threads; i++)
        bp_json_int(j, NULL, (uint64_t)cfg->threads[i]);
    bp_json_end(j, ']');
    bp_json_int(j, "streams", cfg->streams);
    bp_json_int(j, "stream_runs_per_round", cfg->streams ? BP_BENCH_STREAM_RUNS : 0);
    bp_json_bool(j, "layers", cfg->layers);
    bp_json_bool(j, "counts", cfg->counts);
    bp_json_int(j, "seed", cfg->seed);
    bp_json_str(j, "input", cfg->input ? cfg->input : "random N(0,1)");
    bp_json_str(j, "isa_cap", cfg->isa);
    bp_json_obj(j, "onednn_cap");
    bp_json_str(j, "mode", cfg->cap_mode == BP_BENCH_CAP_FORCED ? "forced"
                           : cfg->cap_mode == BP_BENCH_CAP_NONE ? "none"
                                                                : "auto");
    bp_json_bool(j, "run", run->cap_run);
    bp_json_str(j, "isa", run->cap_run ? run->cap_isa : NULL);
    bp_json_str(j, "note", run->cap_note);
    bp_json_end(j, '}');
    bp_json_num(j, "noise_threshold_pct", cfg->noise_pct);
    bp_json_int(j, "bootstrap_resamples", BP_BENCH_BOOTSTRAP_RESAMPLES);
    bp_json_int(j, "bootstrap_seed", rep->boot_seed);
    bp_json_end(j, '}');
}

static void bp_bench_json_model(bp_json *j, const bp_bench_report *rep)
{
    const bp_model_info *mi = rep->run->mi;
    bp_json_obj(j, "model");
    bp_json_str(j, "arch", mi->arch);
    bp_json_int(j, "layers", mi->n_layers);
    bp_json_int(j, "weights", mi->weights);
    bp_json_int(j, "nonzeros", mi->nonzeros);
    bp_json_num(j, "sparsity", mi->sparsity);
    bp_json_int(j, "digits", mi->digits);
    bp_json_int(j, "digits_binary", mi->digits_binary);
    bp_json_int(j, "digits_csd", mi->digits_csd);
    bp_json_num(j, "digits_per_weight", rep->dpw);
    bp_json_num(j, "digits_per_weight_binary", rep->dpw_binary);
    bp_json_num(j, "digits_per_weight_csd", rep->dpw_csd);
    bp_json_int(j, "macs_per_image", mi->macs);
    bp_json_num(j, "reference_output_absmax", rep->run->ref_absmax);
    bp_json_end(j, '}');
}

static void bp_bench_json_backend(bp_json *j, const bp_bench_report *rep,
                                  const bp_bench_rset *rs, int b)
{
    const bp_bench_rrow *rr = &rs->rows[b];
    const bp_bench_row *r = rr->raw;
    bp_json_obj(j, NULL);
    bp_json_str(j, "name", r->name);
    bp_json_str(j, "status", rr->ok ? "ok" : r->state == BP_BENCH_SKIPPED ? "skipped" : "failed");
    bp_json_str(j, "reason", r->reason);
    if (rr->ok) {
        bp_json_str(j, "isa", r->isa);
        bp_json_str(j, "onednn_isa", *r->onednn_isa ? r->onednn_isa : NULL);
        bp_json_str(j, "engine", rr->engine_summary);
        bp_bench_json_counts(j, "engines", "engine", rr->engines, rr->n_engines, "layers");
        bp_bench_json_counts(j, "kernels", "kernel", rr->kernels, rr->n_kernels, "steps");
        bp_json_int(j, "threads", (uint64_t)r->threads);
        if (rep->cfg->streams && r->stream_threads)
            bp_json_int(j, "stream_threads", (uint64_t)r->stream_threads);
        else
            bp_json_null(j, "stream_threads");
        bp_json_bool(j, "exact", r->exact);
        bp_json_str(j, "inexact_reason", r->inexact_reason);
        bp_json_bool(j, "oracle_only", r->oracle_only);
        bp_json_obj(j, "agreement");
        bp_json_bool(j, "checked", r->agree_checked);
        if (r->agree_checked) {
            bp_json_bool(j, "bit_exact", r->bit_exact);
            bp_json_num(j, "max_abs_diff", r->max_abs_diff);
        } else {
            bp_json_null(j, "bit_exact");
            bp_json_null(j, "max_abs_diff");
        }
        bp_json_bool(j, "ok", !r->agree_fail);
        bp_json_end(j, '}');
        bp_bench_json_stat(j, "latency_ms", &rr->lat, r->lat);
        bp_json_num(j, "images_per_s", rr->ips);
        bp_json_num(j, "images_per_s_ci_low", rr->ips_lo);
        bp_json_num(j, "images_per_s_ci_high", rr->ips_hi);
        bp_json_bool(j, "noisy", rr->noisy);
        if (rr->tput.n)
            bp_bench_json_stat(j, "throughput_images_per_s", &rr->tput, r->tput);
        else
            bp_json_null(j, "throughput_images_per_s");
        bp_json_obj(j, "speedups");
        for (int k = 0; k < BP_BENCH_NBASE; k++)
            bp_bench_json_ratio(j, bp_bench_row_names[bp_bench_baselines[k]], &rr->speedup[k]);
        bp_json_end(j, '}');
        bp_bench_json_ratio(j, "scaling_vs_first_set", &rs->scaling[b]);
    }
    bp_json_end(j, '}');
}

static void bp_bench_json_layers(bp_json *j, const bp_bench_rset *rs)
{
    bp_json_num(j, "ceiling_lane_adds_per_s", rs->ceiling > 0 ? rs->ceiling : NAN);
    bp_json_arr(j, "layers");
    for (uint32_t li = 0; li < rs->n_layers; li++) {
        const bp_bench_rlayer *L = &rs->layers[li];
        const bp_layer_info *l = L->l;
        bp_json_obj(j, NULL);
        bp_json_str(j, "name", l->name);
        bp_json_str(j, "op", l->op);
        bp_json_str(j, "shape", L->shape);
        bp_json_int(j, "c_out", l->c_out);
        bp_json_int(j, "c_in", l->c_in);
        bp_json_int(j, "kh", l->kh);
        bp_json_int(j, "kw", l->kw);
        bp_json_int(j, "stride", l->stride);
        bp_json_int(j, "groups", l->groups);
        bp_json_int(j, "K", l->K);
        bp_json_int(j, "weights", l->weights);
        bp_json_int(j, "nonzeros", l->nonzeros);
        bp_json_int(j, "digits", l->digits);
        bp_json_num(j, "digits_per_weight", L->dpw);
        bp_json_int(j, "out_pixels", l->out_pixels);
        bp_json_obj(j, "backends");
        for (int b = 0; b < BP_BENCH_NROWS; b++) {
            if (!rs->profiled[b])
                continue;
            bp_json_obj(j, bp_bench_row_names[b]);
            bp_json_num(j, "ms", L->ms[b]);
            bp_json_str(j, "kernel", L->kernel[b] ? L->kernel[b] : "");
            if (b == BP_BENCH_BITPLANE)
                bp_json_num(j, "ceiling_pct", L->ceil_pct);
            bp_json_end(j, '}');
        }
        bp_json_end(j, '}');
        bp_json_end(j, '}');
    }
    bp_json_end(j, ']');
    bp_json_arr(j, "other_ops");
    for (uint32_t k = 0; k < rs->n_other; k++) {
        bp_json_obj(j, NULL);
        bp_json_str(j, "op", rs->other[k].op);
        bp_json_obj(j, "ms");
        for (int b = 0; b < BP_BENCH_NROWS; b++)
            if (rs->profiled[b])
                bp_json_num(j, bp_bench_row_names[b], rs->other[k].ms[b]);
        bp_json_end(j, '}');
        bp_json_end(j, '}');
    }
    bp_json_end(j, ']');
    bp_json_obj(j, "step_sum_ms");
    for (int b = 0; b < BP_BENCH_NROWS; b++)
        if (rs->profiled[b])
            bp_json_num(j, bp_bench_row_names[b], rs->rows[b].node_sum);
    bp_json_end(j, '}');
}

static void bp_bench_json_counts_energy(bp_json *j, const bp_bench_report *rep)
{
    bp_json_obj(j, "ops_per_image");
    for (int s = 0; s < BP_BENCH_SCHEMES; s++) {
        bp_json_obj(j, bp_bench_scheme_key[s]);
        bp_json_num(j, "mults", rep->tot[s].mults);
        bp_json_num(j, "adds", rep->tot[s].adds);
        bp_json_num(j, "shifts", rep->tot[s].shifts);
        bp_json_end(j, '}');
    }
    bp_json_end(j, '}');
    bp_json_obj(j, "sigma");
    bp_json_num(j, "mult_w", rep->sig_mult_w);
    bp_json_num(j, "mult_wx", rep->sig_mult_wx);
    bp_json_num(j, "add_binary_w", rep->sig_add[0]);
    bp_json_num(j, "add_binary_wx", rep->sig_add[1]);
    bp_json_num(j, "add_csd_w", rep->sig_add[2]);
    bp_json_num(j, "add_csd_wx", rep->sig_add[3]);
    bp_json_end(j, '}');
    bp_json_obj(j, "energy_uj_per_image");
    for (int e = 0; e < BP_BENCH_EMODELS; e++) {
        bp_json_obj(j, bp_bench_emodel[e].key);
        for (int s = 0; s < BP_BENCH_SCHEMES; s++)
            bp_json_num(j, bp_bench_scheme_key[s], rep->energy_uj[e][s]);
        bp_json_end(j, '}');
    }
    bp_json_end(j, '}');
    bp_json_obj(j, "eq9");
    for (int e = 0; e < BP_BENCH_EMODELS; e++) {
        bp_json_obj(j, bp_bench_emodel[e].key);
        for (int k = 0; k < 4; k++) {
            bp_json_obj(j, bp_bench_eq9_keys[k]);
            bp_json_num(j, "exact", rep->eq9_exact[e][k]);
            bp_json_num(j, "approx", rep->eq9_approx[e][k]);
            bp_json_end(j, '}');
        }
        bp_json_end(j, '}');
    }
    bp_json_end(j, '}');
}

int bp_bench_write_json(const bp_bench_report *rep, const char *path)
{
    bp_bench_out o;
    if (bp_bench_out_open(&o, path))
        return -1;
    const bp_bench_cfg *cfg = rep->cfg;
    const bp_bench_machine *mc = rep->mach;
    bp_json j;
    bp_json_init(&j, o.f);
    bp_json_obj(&j, NULL);
    bp_json_str(&j, "schema", "bpbench-report");
    bp_json_int(&j, "schema_version", BP_BENCH_SCHEMA_VERSION);
    bp_json_str(&j, "tool", "bpbench");
    bp_json_str(&j, "version", bp_version_string());
    bp_json_str(&j, "git_commit", mc->git_commit);
    bp_json_str(&j, "compiler", mc->compiler);
    bp_json_str(&j, "timestamp", rep->timestamp);
    bp_json_bool(&j, "ok", rep->exit_code == BP_BENCH_EXIT_OK);
    bp_json_int(&j, "exit_status", (uint64_t)rep->exit_code);
    bp_bench_json_machine(&j, rep);
    bp_bench_json_config(&j, rep);
    bp_bench_json_model(&j, rep);
    bp_json_arr(&j, "sets");
    for (uint32_t s = 0; s < rep->n_sets; s++) {
        const bp_bench_rset *rs = &rep->sets[s];
        bp_json_obj(&j, NULL);
        bp_json_int(&j, "threads_requested", (uint64_t)rs->raw->threads_req);
        bp_json_int(&j, "threads", (uint64_t)rs->threads);
        bp_json_arr(&j, "backends");
        for (int b = 0; b < BP_BENCH_NROWS; b++)
            if (rs->rows[b].reported)
                bp_bench_json_backend(&j, rep, rs, b);
        bp_json_end(&j, ']');
        if (cfg->layers && rs->layers)
            bp_bench_json_layers(&j, rs);
        bp_json_end(&j, '}');
    }
    bp_json_end(&j, ']');
    if (rep->have_counts)
        bp_bench_json_counts_energy(&j, rep);
    bp_json_arr(&j, "warnings");
    for (int i = 0; i < rep->n_warnings; i++)
        bp_json_str(&j, NULL, rep->warnings[i]);
    bp_json_end(&j, ']');
    bp_json_end(&j, '}');
    return bp_bench_out_commit(&o);
}
