/* run.c: bpbench's measurement: sessions per backend row, the agreement
 * check, interleaved latency rounds and concurrent-stream throughput rounds
 * per thread count, the kernel ceiling probe. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bp_kernels.h"
#include "input_file.h"
#include "onednn_child.h"
#include "run.h"

const char *const bp_bench_row_names[BP_BENCH_NROWS] = {
    "reference", "bitplane", "csr", "onednn-int8", "onednn-int8-capped", "onednn-f32"};
static const char *const bp_bench_row_backend[BP_BENCH_NROWS] = {
    "reference", "bitplane", "csr", "onednn-int8", "onednn-int8", "onednn-f32"};
/* engine backend index (options.h order) of each row */
static const int bp_bench_row_engine[BP_BENCH_NROWS] = {0, 1, 2, 3, 3, 4};

static int bp_bench_progress;

void bp_bench_progress_enable(int on) { bp_bench_progress = on; }

double bp_bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

void bp_bench_status(const char *fmt, ...)
{
    if (!bp_bench_progress)
        return;
    va_list ap;
    fputs("\r\033[K", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

void bp_bench_status_clear(void)
{
    if (bp_bench_progress) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

char *bp_bench_strdup_clean(const char *s)
{
    char *d = strdup(s ? s : "");
    for (char *p = d; p && *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
    return d;
}

/* ------------------------------------------------------------------ io */

/* Fills the random input: N(0, 1), xorshift64* + Box-Muller. */
static void bp_bench_random(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    if (!s)
        s = 1;
    for (size_t i = 0; i < n; i += 2) {
        double u[2];
        for (int k = 0; k < 2; k++) {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            u[k] = (double)((s * 0x2545f4914f6cdd1dull) >> 11) * (1.0 / 9007199254740992.0);
        }
        double r = sqrt(-2.0 * log(1.0 - u[0])), t = 6.283185307179586 * u[1];
        x[i] = (float)(r * cos(t));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(t));
    }
}

int bp_bench_io_init(bp_bench_io *io, const bp_model_info *mi, const bp_bench_cfg *cfg,
                     char *err, size_t errlen)
{
    memset(io, 0, sizeof *io);
    io->n_in = mi->n_inputs;
    io->n_out = mi->n_outputs;
    io->in = calloc(io->n_in ? io->n_in : 1, sizeof *io->in);
    io->in_n = calloc(io->n_in ? io->n_in : 1, sizeof *io->in_n);
    io->out = calloc(io->n_out ? io->n_out : 1, sizeof *io->out);
    io->ref_out = calloc(io->n_out ? io->n_out : 1, sizeof *io->ref_out);
    io->out_n = calloc(io->n_out ? io->n_out : 1, sizeof *io->out_n);
    if (!io->in || !io->in_n || !io->out || !io->ref_out || !io->out_n)
        goto oom;
    if (cfg->input && io->n_in != 1) {
        snprintf(err, errlen, "--input needs a model with one input (this has %u)", io->n_in);
        return -1;
    }
    for (uint32_t i = 0; i < io->n_in; i++) {
        size_t per = 1;
        for (uint32_t d = 1; d < mi->inputs[i].ndim; d++)
            per *= mi->inputs[i].dims[d];
        io->in_n[i] = per * cfg->batch;
        if (!(io->in[i] = malloc(io->in_n[i] * sizeof(float))))
            goto oom;
        if (cfg->input) {
            if (bp_bench_read_input(cfg->input, mi->inputs[i].dims, mi->inputs[i].ndim,
                                    cfg->batch, io->in[i], err, errlen))
                return -1;
        } else {
            bp_bench_random(io->in[i], io->in_n[i], cfg->seed + i);
        }
    }
    for (uint32_t i = 0; i < io->n_out; i++) {
        size_t per = 1;
        for (uint32_t d = 1; d < mi->outputs[i].ndim; d++)
            per *= mi->outputs[i].dims[d];
        io->out_n[i] = per * cfg->batch;
        io->out_total += io->out_n[i];
        io->out[i] = malloc(io->out_n[i] * sizeof(float));
        io->ref_out[i] = malloc(io->out_n[i] * sizeof(float));
        if (!io->out[i] || !io->ref_out[i])
            goto oom;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

void bp_bench_io_free(bp_bench_io *io)
{
    for (uint32_t i = 0; io->in && i < io->n_in; i++)
        free(io->in[i]);
    for (uint32_t i = 0; io->out && i < io->n_out; i++)
        free(io->out[i]);
    for (uint32_t i = 0; io->ref_out && i < io->n_out; i++)
        free(io->ref_out[i]);
    free(io->in);
    free(io->in_n);
    free(io->out);
    free(io->ref_out);
    free(io->out_n);
    memset(io, 0, sizeof *io);
}

/* ------------------------------------------------------- local sessions */

typedef struct bp_bench_stream {
    bp_session *s;
    float **out;
    pthread_t th;
    bp_status st;
    char err[256];
    struct bp_bench_local *owner;
} bp_bench_stream;

struct bp_bench_local {
    bp_session *s;
    const bp_bench_io *io;
    uint32_t n_streams, n_started;
    bp_bench_stream *streams;
    pthread_barrier_t go, warm, done;
    int barriers;
    int quit;
};

static void bp_bench_fail_reason(bp_bench_row *r, const char *what, bp_status st)
{
    snprintf(r->reason, sizeof r->reason, "%s%s%s: %s", what, *what ? ": " : "",
             bp_status_string(st), bp_last_error());
}

/* A stream worker: waits at `go`, runs once untimed, meets at `warm`, runs
 * BP_BENCH_STREAM_RUNS times, meets at `done`; until quit. */
static void *bp_bench_stream_main(void *arg)
{
    bp_bench_stream *w = arg;
    bp_bench_local *L = w->owner;
    for (;;) {
        pthread_barrier_wait(&L->go);
        if (L->quit)
            break;
        bp_status st = bp_session_run(w->s, (const float *const *)L->io->in, w->out);
        pthread_barrier_wait(&L->warm);
        for (int k = 0; k < BP_BENCH_STREAM_RUNS && st == BP_OK; k++)
            st = bp_session_run(w->s, (const float *const *)L->io->in, w->out);
        if (st != BP_OK && w->st == BP_OK) {
            w->st = st;
            snprintf(w->err, sizeof w->err, "%s", bp_last_error());
        }
        pthread_barrier_wait(&L->done);
    }
    return NULL;
}

static int bp_bench_session_new(const bp_model *m, const bp_bench_cfg *cfg, const char *backend,
                                int threads, bp_session **s)
{
    bp_session_opts so;
    bp_session_opts_init(&so);
    so.backend = backend;
    so.threads = threads;
    so.batch = cfg->batch;
    so.isa = cfg->isa;
    return bp_session_create(m, &so, s);
}

static int bp_bench_streams_open(bp_bench_row *r, const bp_model *m, const bp_bench_cfg *cfg,
                                 int threads)
{
    bp_bench_local *L = r->local;
    uint32_t S = cfg->streams;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int st_threads = threads ? threads : (int)(cores / (long)S > 0 ? cores / (long)S : 1);
    r->stream_threads = st_threads;
    L->streams = calloc(S, sizeof *L->streams);
    if (!L->streams) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        return -1;
    }
    L->n_streams = S;
    for (uint32_t i = 0; i < S; i++) {
        bp_bench_stream *w = &L->streams[i];
        w->owner = L;
        bp_status st = bp_bench_session_new(m, cfg, r->backend, st_threads, &w->s);
        if (st != BP_OK) {
            bp_bench_fail_reason(r, "stream session", st);
            return -1;
        }
        w->out = calloc(L->io->n_out ? L->io->n_out : 1, sizeof *w->out);
        if (!w->out)
            goto oom;
        for (uint32_t o = 0; o < L->io->n_out; o++)
            if (!(w->out[o] = malloc(L->io->out_n[o] * sizeof(float))))
                goto oom;
    }
    if (pthread_barrier_init(&L->go, NULL, S + 1) || pthread_barrier_init(&L->warm, NULL, S + 1) ||
        pthread_barrier_init(&L->done, NULL, S + 1)) {
        snprintf(r->reason, sizeof r->reason, "pthread_barrier_init failed");
        return -1;
    }
    L->barriers = 1;
    for (uint32_t i = 0; i < S; i++) {
        if (pthread_create(&L->streams[i].th, NULL, bp_bench_stream_main, &L->streams[i])) {
            snprintf(r->reason, sizeof r->reason, "pthread_create failed for stream %u", i);
            return -1;
        }
        L->n_started++;
    }
    return 0;
oom:
    snprintf(r->reason, sizeof r->reason, "out of memory");
    return -1;
}

void bp_bench_local_close(bp_bench_row *r)
{
    bp_bench_local *L = r->local;
    if (!L)
        return;
    if (L->n_started && L->n_started < L->n_streams) {
        /* pthread_create failed midway: the started workers wait at `go`
         * for a count that can no longer be reached. Leave them, their
         * sessions and the barriers alone (a leak, never a use after free). */
        r->local = NULL;
        return;
    }
    if (L->n_started) {
        L->quit = 1;
        pthread_barrier_wait(&L->go);
        for (uint32_t i = 0; i < L->n_started; i++)
            pthread_join(L->streams[i].th, NULL);
    }
    if (L->barriers) {
        pthread_barrier_destroy(&L->go);
        pthread_barrier_destroy(&L->warm);
        pthread_barrier_destroy(&L->done);
    }
    for (uint32_t i = 0; L->streams && i < L->n_streams; i++) {
        bp_session_free(L->streams[i].s);
        for (uint32_t o = 0; L->streams[i].out && o < L->io->n_out; o++)
            free(L->streams[i].out[o]);
        free(L->streams[i].out);
    }
    free(L->streams);
    bp_session_free(L->s);
    free(L);
    r->local = NULL;
}

int bp_bench_local_open(bp_bench_row *r, const bp_model *m, const bp_bench_cfg *cfg, int threads,
                        const bp_bench_io *io, float **outs, double *agree_ms,
                        bp_layer_counts *counts)
{
    bp_bench_local *L = calloc(1, sizeof *L);
    if (!L) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        r->state = BP_BENCH_FAILED;
        return -1;
    }
    r->local = L;
    L->io = io;
    bp_status st = bp_bench_session_new(m, cfg, r->backend, threads, &L->s);
    if (st != BP_OK) {
        bp_bench_fail_reason(r, "", st);
        r->state = (st == BP_ERR_UNSUPPORTED && !r->requested) ? BP_BENCH_SKIPPED : BP_BENCH_FAILED;
        bp_bench_local_close(r);
        return r->state == BP_BENCH_SKIPPED ? 1 : -1;
    }
#ifdef BP_HAVE_ONEDNN
    if (!strncmp(r->backend, "onednn", 6)) /* the ISA oneDNN runs at in this process */
        snprintf(r->onednn_isa, sizeof r->onednn_isa, "%s",
                 bp_bench_dnnl_isa_name(dnnl_get_effective_cpu_isa()));
#endif
    bp_session_info si;
    if (bp_session_info_get(L->s, &si) == BP_OK) {
        snprintf(r->isa, sizeof r->isa, "%s", si.isa ? si.isa : "");
        r->threads = si.threads;
        r->exact = si.exact;
        snprintf(r->inexact_reason, sizeof r->inexact_reason, "%s",
                 si.inexact_reason ? si.inexact_reason : "");
    }
    /* The agreement run is profiled: that names every step's kernel. */
    bp_session_set_profiling(L->s, 1);
    bp_session_profile_reset(L->s);
    bp_bench_status("%s: agreement run", r->name);
    double t0 = bp_bench_now_ms();
    st = bp_session_run(L->s, (const float *const *)io->in, outs);
    double t1 = bp_bench_now_ms();
    if (st != BP_OK) {
        bp_bench_fail_reason(r, "run", st);
        goto fail;
    }
    *agree_ms = t1 - t0;
    const bp_layer_profile *lp = NULL;
    uint32_t n = 0;
    if (bp_session_profile(L->s, &lp, &n) == BP_OK && n) {
        r->steps = calloc(n, sizeof *r->steps);
        if (!r->steps)
            goto oom;
        for (uint32_t i = 0; i < n; i++) {
            r->steps[i].name = bp_bench_strdup_clean(lp[i].name);
            r->steps[i].op = bp_bench_strdup_clean(lp[i].op);
            r->steps[i].kernel = bp_bench_strdup_clean(lp[i].kernel);
            r->n_steps = i + 1;
            if (!r->steps[i].name || !r->steps[i].op || !r->steps[i].kernel)
                goto oom;
        }
    }
    bp_session_set_profiling(L->s, cfg->layers);
    if (counts) {
        bp_bench_status("%s: counting operations", r->name);
        st = bp_session_count_ops(L->s, (const float *const *)io->in, counts);
        if (st != BP_OK) {
            bp_bench_fail_reason(r, "count_ops", st);
            goto fail;
        }
    }
    if (r->iters) {
        for (uint32_t i = 0; i < cfg->warmup; i++) {
            bp_bench_status("%s: warmup %u/%u", r->name, i + 1, cfg->warmup);
            if ((st = bp_session_run(L->s, (const float *const *)io->in, io->out)) != BP_OK) {
                bp_bench_fail_reason(r, "warmup run", st);
                goto fail;
            }
        }
        if (cfg->streams && bp_bench_streams_open(r, m, cfg, threads))
            goto fail;
    }
    bp_bench_status_clear();
    r->state = BP_BENCH_RAN;
    return 0;
oom:
    snprintf(r->reason, sizeof r->reason, "out of memory");
fail:
    bp_bench_status_clear();
    bp_bench_local_close(r);
    r->state = BP_BENCH_FAILED;
    return -1;
}

int bp_bench_local_latency(bp_bench_row *r, const bp_bench_io *io, int rewarm, int layers,
                           double *ms, double *step_ms)
{
    bp_session *s = r->local->s;
    bp_status st;
    /* Interleaved rounds: an untimed run first puts this backend's weights
     * and buffers back in cache after the other backends evicted them. */
    if (rewarm && (st = bp_session_run(s, (const float *const *)io->in, io->out)) != BP_OK)
        goto fail;
    if (layers)
        bp_session_profile_reset(s);
    double t0 = bp_bench_now_ms();
    st = bp_session_run(s, (const float *const *)io->in, io->out);
    double t1 = bp_bench_now_ms();
    if (st != BP_OK)
        goto fail;
    *ms = t1 - t0;
    if (layers && step_ms) {
        const bp_layer_profile *lp = NULL;
        uint32_t n = 0;
        if (bp_session_profile(s, &lp, &n) == BP_OK)
            for (uint32_t k = 0; k < r->n_steps; k++)
                step_ms[k] = k < n ? lp[k].ms : NAN;
    }
    return 0;
fail:
    snprintf(r->reason, sizeof r->reason, "run %u: %s: %s", r->n_lat + 1, bp_status_string(st),
             bp_last_error());
    return -1;
}

int bp_bench_local_tput(bp_bench_row *r, uint32_t batch, double *ips)
{
    bp_bench_local *L = r->local;
    if (!L || !L->n_streams || L->n_started != L->n_streams) {
        snprintf(r->reason, sizeof r->reason, "no streams");
        return -1;
    }
    pthread_barrier_wait(&L->go);
    pthread_barrier_wait(&L->warm);
    double t0 = bp_bench_now_ms();
    pthread_barrier_wait(&L->done);
    double t1 = bp_bench_now_ms();
    for (uint32_t i = 0; i < L->n_streams; i++)
        if (L->streams[i].st != BP_OK) {
            snprintf(r->reason, sizeof r->reason, "stream %u: %s: %s", i,
                     bp_status_string(L->streams[i].st), L->streams[i].err);
            return -1;
        }
    *ips = t1 > t0 ? (double)L->n_streams * BP_BENCH_STREAM_RUNS * batch * 1e3 / (t1 - t0) : NAN;
    return 0;
}

void bp_bench_row_free(bp_bench_row *r)
{
    bp_bench_local_close(r);
    bp_bench_child_close(r);
    free(r->lat);
    free(r->tput);
    free(r->step_ms);
    for (uint32_t i = 0; r->steps && i < r->n_steps; i++) {
        free(r->steps[i].name);
        free(r->steps[i].op);
        free(r->steps[i].kernel);
    }
    free(r->steps);
    r->lat = r->tput = r->step_ms = NULL;
    r->steps = NULL;
    r->n_steps = r->n_lat = r->n_tput = 0;
}

/* -------------------------------------------------------------- a set */

static void bp_bench_agreement(bp_bench_row *r, const bp_bench_io *io)
{
    r->agree_checked = 1;
    r->bit_exact = 1;
    r->max_abs_diff = 0;
    for (uint32_t o = 0; o < io->n_out; o++) {
        if (memcmp(io->out[o], io->ref_out[o], io->out_n[o] * sizeof(float)))
            r->bit_exact = 0;
        for (size_t i = 0; i < io->out_n[o]; i++) {
            double d = fabs((double)io->out[o][i] - (double)io->ref_out[o][i]);
            if (!(d <= r->max_abs_diff)) /* NaN counts as a difference */
                r->max_abs_diff = isnan(d) ? INFINITY : d;
        }
    }
    r->agree_fail = r->exact && !r->bit_exact;
}

/* Allocates the sample arrays of an opened row. */
static int bp_bench_row_alloc(bp_bench_row *r, const bp_bench_cfg *cfg)
{
    uint32_t n = r->iters ? r->iters : 1;
    r->lat = calloc(n, sizeof *r->lat);
    r->tput = cfg->streams ? calloc(n, sizeof *r->tput) : NULL;
    r->step_ms = cfg->layers && r->n_steps && r->iters
                     ? calloc((size_t)r->iters * r->n_steps, sizeof *r->step_ms)
                     : NULL;
    if (!r->lat || (cfg->streams && !r->tput) ||
        (cfg->layers && r->n_steps && r->iters && !r->step_ms)) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        return -1;
    }
    return 0;
}

static void bp_bench_row_close(bp_bench_row *r)
{
    bp_bench_local_close(r);
    bp_bench_child_close(r);
}

static void bp_bench_row_failed(bp_bench_run *run, bp_bench_row *r)
{
    bp_bench_status_clear();
    fprintf(stderr, "bpbench: %s: %s\n", r->name, r->reason);
    r->state = BP_BENCH_FAILED;
    run->exit_code = BP_BENCH_EXIT_ERROR;
    bp_bench_row_close(r);
}

static int bp_bench_row_latency(bp_bench_run *run, bp_bench_row *r)
{
    const bp_bench_cfg *cfg = run->cfg;
    double ms = NAN;
    double *steps = r->step_ms ? r->step_ms + (size_t)r->n_lat * r->n_steps : NULL;
    int rc = r->remote ? bp_bench_child_latency(r, !cfg->sequential, cfg->layers, &ms, steps)
                       : bp_bench_local_latency(r, &run->io, !cfg->sequential, cfg->layers, &ms,
                                                steps);
    if (rc)
        return -1;
    r->lat[r->n_lat++] = ms;
    return 0;
}

static int bp_bench_row_tput(bp_bench_run *run, bp_bench_row *r)
{
    double ips = NAN;
    int rc = r->remote ? bp_bench_child_tput(r, &ips)
                       : bp_bench_local_tput(r, run->cfg->batch, &ips);
    if (rc)
        return -1;
    r->tput[r->n_tput++] = ips;
    return 0;
}

/* Opens the rows of one set, runs its rounds, closes it. */
static void bp_bench_measure_set(bp_bench_run *run, bp_bench_set *set, int first)
{
    const bp_bench_cfg *cfg = run->cfg;
    int threads = set->threads_req;
    for (int b = 0; b < BP_BENCH_NROWS; b++) {
        bp_bench_row *r = &set->rows[b];
        r->id = (bp_bench_row_id)b;
        r->name = bp_bench_row_names[b];
        r->backend = bp_bench_row_backend[b];
        r->wanted = cfg->want[bp_bench_row_engine[b]];
        r->requested = !cfg->all && r->wanted;
        r->remote = b == BP_BENCH_INT8_CAPPED;
        if (b == BP_BENCH_INT8_CAPPED && !run->cap_run)
            r->wanted = 0;
    }
    /* The reference runs first, in the first set: it is the agreement oracle
     * and counts the operations. Under 'all' its agreement run is its one
     * sample; later sets time it only when it was named. */
    bp_bench_row *ref = &set->rows[BP_BENCH_REF];
    if (first || ref->requested) {
        ref->oracle_only = !ref->requested;
        ref->iters = ref->oracle_only ? 0 : cfg->repeat;
        double ms = 0;
        bp_layer_counts *cnt = first && cfg->counts ? run->counts : NULL;
        if (bp_bench_local_open(ref, run->m, cfg, threads, &run->io,
                                first ? run->io.ref_out : run->io.out, &ms, cnt)) {
            fprintf(stderr, "bpbench: reference: %s\n", ref->reason);
            run->exit_code = BP_BENCH_EXIT_ERROR;
            return;
        }
        if (first) {
            run->have_counts = cnt != NULL;
            for (uint32_t o = 0; o < run->io.n_out; o++)
                for (size_t i = 0; i < run->io.out_n[o]; i++)
                    if (fabs((double)run->io.ref_out[o][i]) > run->ref_absmax)
                        run->ref_absmax = fabs((double)run->io.ref_out[o][i]);
        } else {
            bp_bench_agreement(ref, &run->io);
        }
        if (bp_bench_row_alloc(ref, cfg)) {
            bp_bench_row_failed(run, ref);
            return;
        }
        if (ref->oracle_only) {
            ref->lat[ref->n_lat++] = ms;
            bp_bench_row_close(ref); /* oracle only: free it before the others */
        }
    }
    for (int b = 1; b < BP_BENCH_NROWS; b++) {
        bp_bench_row *r = &set->rows[b];
        if (!r->wanted)
            continue;
        r->iters = cfg->repeat;
        double ms;
        int rc = r->remote ? bp_bench_child_open(r, cfg, threads, run->cap_isa, &run->io)
                           : bp_bench_local_open(r, run->m, cfg, threads, &run->io, run->io.out,
                                                 &ms, NULL);
        if (rc > 0 || r->state == BP_BENCH_SKIPPED)
            continue;
        if (rc < 0) {
            fprintf(stderr, "bpbench: %s: %s\n", r->name, r->reason);
            run->exit_code = BP_BENCH_EXIT_ERROR;
            continue;
        }
        bp_bench_agreement(r, &run->io);
        if (bp_bench_row_alloc(r, cfg))
            bp_bench_row_failed(run, r);
    }
    /* Rounds: interleaved, k = i*NROWS + b (every backend once per round);
     * --sequential, k = b*repeat + i (each backend's rounds back to back).
     * Throughput rounds follow the latency run of the same round. */
    const uint32_t R = cfg->repeat;
    for (uint64_t k = 0; k < (uint64_t)R * BP_BENCH_NROWS; k++) {
        uint32_t i = cfg->sequential ? (uint32_t)(k % R) : (uint32_t)(k / BP_BENCH_NROWS);
        int b = cfg->sequential ? (int)(k / R) : (int)(k % BP_BENCH_NROWS);
        bp_bench_row *r = &set->rows[b];
        if (r->state != BP_BENCH_RAN || (!r->local && !r->child) || i >= r->iters)
            continue;
        bp_bench_status("threads %d: %s: round %u/%u", threads, r->name, i + 1, r->iters);
        if (bp_bench_row_latency(run, r) || (cfg->streams && bp_bench_row_tput(run, r)))
            bp_bench_row_failed(run, r);
    }
    bp_bench_status_clear();
    for (int b = 0; b < BP_BENCH_NROWS; b++) {
        bp_bench_row *r = &set->rows[b];
        bp_bench_row_close(r);
        if (r->state == BP_BENCH_RAN && r->agree_fail) {
            fprintf(stderr,
                    "bpbench: %s disagrees with reference (max |diff| %g) but declares itself "
                    "exact\n",
                    r->name, r->max_abs_diff);
            run->exit_code = BP_BENCH_EXIT_DISAGREE;
        }
    }
}

/* Whether and where to cap the second onednn-int8 run. */
static void bp_bench_cap_decide(bp_bench_run *run, const bp_bench_machine *mach)
{
    run->cap_run = 0;
#ifndef BP_HAVE_ONEDNN
    /* no oneDNN rows, so no capped child either */
    (void)mach;
    snprintf(run->cap_note, sizeof run->cap_note,
             "not built (this bpbench was built without oneDNN): the onednn-int8 and "
             "onednn-f32 rows are skipped");
    return;
#else
    const bp_bench_cfg *cfg = run->cfg;
    dnnl_cpu_isa_t best = dnnl_get_effective_cpu_isa();
    int amx = (best & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx;
    int avx512 = (best & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
    if (!cfg->want[3])
        return;
    if (cfg->cap_mode == BP_BENCH_CAP_NONE) {
        snprintf(run->cap_note, sizeof run->cap_note,
                 "best ISA %s; the capped onednn-int8 run is off (--onednn-cap none)",
                 mach->onednn_isa);
        return;
    }
    if (cfg->cap_mode == BP_BENCH_CAP_FORCED) {
        run->cap_run = 1;
        snprintf(run->cap_isa, sizeof run->cap_isa, "%s", cfg->cap_isa);
        snprintf(run->cap_note, sizeof run->cap_note,
                 "best ISA %s; onednn-int8-capped runs in a child process with "
                 "ONEDNN_MAX_CPU_ISA=%s (--onednn-cap)",
                 mach->onednn_isa, run->cap_isa);
        return;
    }
    if (amx) {
        run->cap_run = 1;
        snprintf(run->cap_isa, sizeof run->cap_isa, "%s",
                 avx512 ? "AVX512_CORE_VNNI" : "AVX2");
        snprintf(run->cap_note, sizeof run->cap_note,
                 "best ISA %s has AMX; onednn-int8-capped runs in a child process with "
                 "ONEDNN_MAX_CPU_ISA=%s (no matrix engine)",
                 mach->onednn_isa, run->cap_isa);
    } else {
        snprintf(run->cap_note, sizeof run->cap_note,
                 "best ISA %s has no matrix engine (no AMX), so it is also the capped "
                 "baseline: onednn-int8 runs once",
                 mach->onednn_isa);
    }
#endif
}

int bp_bench_run_all(bp_bench_run *run, const bp_bench_cfg *cfg, const bp_bench_machine *mach)
{
    memset(run, 0, sizeof *run);
    run->cfg = cfg;
    bp_status st = bp_model_load_file(cfg->model, NULL, &run->m);
    if (st != BP_OK) {
        fprintf(stderr, "bpbench: %s: %s: %s\n", cfg->model, bp_status_string(st), bp_last_error());
        return run->exit_code = BP_BENCH_EXIT_ERROR;
    }
    if (bp_model_info_get(run->m, &run->mi) != BP_OK) {
        fprintf(stderr, "bpbench: %s: %s\n", cfg->model, bp_last_error());
        return run->exit_code = BP_BENCH_EXIT_ERROR;
    }
    char err[512];
    if (bp_bench_io_init(&run->io, run->mi, cfg, err, sizeof err)) {
        fprintf(stderr, "bpbench: %s\n", err);
        return run->exit_code = BP_BENCH_EXIT_ERROR;
    }
    run->counts = calloc(run->mi->n_layers ? run->mi->n_layers : 1, sizeof *run->counts);
    run->sets = calloc(cfg->n_threads, sizeof *run->sets);
    if (!run->counts || !run->sets) {
        fprintf(stderr, "bpbench: out of memory\n");
        return run->exit_code = BP_BENCH_EXIT_ERROR;
    }
    bp_bench_cap_decide(run, mach);
    for (uint32_t t = 0; t < cfg->n_threads; t++) {
        run->sets[t].threads_req = cfg->threads[t];
        run->n_sets = t + 1;
        bp_bench_measure_set(run, &run->sets[t], t == 0);
        if (run->sets[0].rows[BP_BENCH_REF].state != BP_BENCH_RAN)
            return run->exit_code; /* no oracle, nothing to compare with */
    }
    /* The kernel ceiling, for % of ceiling per layer: one thread, scaled by
     * the bitplane session's threads in the report. */
    const bp_bench_row *bpr = &run->sets[0].rows[BP_BENCH_BITPLANE];
    if (cfg->layers && bpr->state == BP_BENCH_RAN && bp_isa_parse(bpr->isa) >= 0) {
        int isa = bp_isa_parse(bpr->isa);
        bp_bench_status("probing the kernel ceiling (%s)", bpr->isa);
        run->ceiling_1t = bp_ceiling_probe((bp_isa)isa, 0.3);
        snprintf(run->ceil_isa, sizeof run->ceil_isa, "%s", bp_isa_name((bp_isa)isa));
        bp_bench_status_clear();
    }
    return run->exit_code;
}

void bp_bench_run_free(bp_bench_run *run)
{
    for (uint32_t t = 0; run->sets && t < run->n_sets; t++)
        for (int b = 0; b < BP_BENCH_NROWS; b++)
            bp_bench_row_free(&run->sets[t].rows[b]);
    free(run->sets);
    free(run->counts);
    bp_bench_io_free(&run->io);
    bp_model_free(run->m);
    memset(run, 0, sizeof *run);
}
