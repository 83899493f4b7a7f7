/* bpbench.c: whole-model benchmark. Times every backend on the same input,
 * checks each against the reference on the first batch, and reports the
 * paper's operation counts (Table 2) and energy estimates (Table 1, eq. 9). */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <oneapi/dnnl/dnnl.h>

#include "bitprune.h"
#include "bp_kernels.h"
#include "bpf.h"
#include "input_file.h"
#include "json_out.h"
#include "opcount.h"

static const char bp_bench_usage[] =
    "usage: bpbench --model FILE [options]\n"
    "\n"
    "Runs a .bp model on every backend, checks each against 'reference' on the\n"
    "first batch (bit-exact, or max |diff| for backends that declare themselves\n"
    "inexact), then times it. Also reports the paper's operation counts (Table 2),\n"
    "sigma_mult, sigma_add, digits per weight and energy estimates (Table 1, eq. 9).\n"
    "\n"
    "options:\n"
    "  --model FILE       model to run (required)\n"
    "  --backend LIST     comma-separated: reference, bitplane, csr, onednn-int8,\n"
    "                     onednn-f32, or all (default all). Under 'all' the\n"
    "                     reference runs once (the agreement run) and that run is\n"
    "                     its reported latency; name it to time it fully.\n"
    "  --threads N        threads per backend (default 0: all cores)\n"
    "  --batch N          images per run (default 1)\n"
    "  --iters N          timed runs per backend (default 20), interleaved: one\n"
    "                     round after another, each backend in turn doing an\n"
    "                     untimed cache re-warm run then a timed run, so load\n"
    "                     changes on a shared machine hit all backends alike\n"
    "  --sequential       time each backend's runs back to back instead\n"
    "  --warmup N         untimed runs before timing (default 3)\n"
    "  --layers           per-layer time per backend, kernel / oneDNN\n"
    "                     implementation, digits and % of the kernel ceiling\n"
    "  --isa ISA          cap the kernel ISA: scalar, avx2, avx512, avx512vnni, neon\n"
    "  --json FILE|-      also write the results as JSON ('-': stdout; the human\n"
    "                     tables then go to stderr); FILE is replaced atomically\n"
    "                     and must not be a device, FIFO or directory\n"
    "  --seed N           seed of the random N(0,1) input (default 1)\n"
    "  --input FILE       input instead: raw float32 NCHW or .npy ('<f4', C order),\n"
    "                     one image or the whole batch; a regular file of exactly\n"
    "                     that size\n"
    "  --no-counts        skip the operation counts and energy estimates\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 success, 1 error (model, input, backend failure), 2 usage,\n"
    "3 an exact backend disagreed with the reference.\n";

#define BP_BENCH_NBACK 5
static const char *const bp_bench_backends[BP_BENCH_NBACK] = {
    "reference", "bitplane", "csr", "onednn-int8", "onednn-f32"};

typedef struct bp_bench_prof {
    char *name, *kernel, *op;
    double ms; /* per run */
} bp_bench_prof;

typedef struct bp_bench_result {
    const char *name;
    int requested;  /* named explicitly (not via all) */
    int status;     /* 0 not run, 1 ok, -1 skipped, -2 failed */
    char reason[512];
    char isa[32];
    int threads;
    int exact;
    char inexact_reason[256];
    int agree_checked, bit_exact, agree_fail;
    double max_abs_diff;
    double *times;
    uint32_t n_times;
    double med, min, max, ips;
    bp_bench_prof *prof;
    uint32_t n_prof;
    double *prof_runs; /* [iters][n_prof_nodes]: per-node ms of each timed run */
    uint32_t n_prof_nodes;
    bp_session *s;  /* open between bp_bench_open and bp_bench_close */
    uint32_t iters; /* timed runs planned */
} bp_bench_result;

typedef struct bp_bench_cfg {
    const char *model, *json, *input, *isa;
    int threads, layers, counts, sequential;
    uint32_t batch, iters, warmup;
    uint64_t seed;
    int want[BP_BENCH_NBACK];
    int all;
} bp_bench_cfg;

static int bp_bench_progress; /* stderr is a terminal */
static double bp_bench_ref_absmax; /* max |reference output|, for scale */
static FILE *bp_bench_out;    /* human tables */

static double bp_bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int bp_bench_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bp_bench_usage_err(const char *fmt, ...)
{
    va_list ap;
    fputs("bpbench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", bp_bench_usage);
    return 2;
}

static int bp_bench_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *v)
{
    char *end;
    if (!*s || *s == '-')
        return -1;
    unsigned long long u = strtoull(s, &end, 10);
    if (*end || u < lo || u > hi)
        return -1;
    *v = (uint32_t)u;
    return 0;
}

static void bp_bench_cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

static const char *bp_bench_dnnl_isa(dnnl_cpu_isa_t i)
{
    switch (i) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    default: return "all";
    }
}

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

static void bp_bench_status(const char *fmt, ...)
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

static void bp_bench_status_clear(void)
{
    if (bp_bench_progress) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

typedef struct bp_bench_io {
    uint32_t n_in, n_out;
    float **in, **out, **ref_out;
    size_t *in_n, *out_n;
} bp_bench_io;

/* Opens one backend: create, agreement run (and op counts for the reference),
 * warmup. The session stays open in r->s for the interleaved timed runs. */
static int bp_bench_open(const bp_model *m, const bp_bench_cfg *cfg, bp_bench_io *io,
                         bp_bench_result *r, int is_ref, bp_layer_counts *counts)
{
    bp_session_opts so;
    bp_session_opts_default(&so);
    so.backend = r->name;
    so.threads = cfg->threads;
    so.batch = cfg->batch;
    so.isa = cfg->isa;
    bp_session *s = NULL;
    bp_status st = bp_session_create(m, &so, &s);
    if (st != BP_OK) {
        snprintf(r->reason, sizeof r->reason, "%s: %s", bp_status_string(st), bp_last_error());
        r->status = (st == BP_ERR_UNSUPPORTED && !r->requested) ? -1 : -2;
        return r->status == -1 ? 0 : -1;
    }
    bp_session_info si;
    if (bp_session_info_get(s, &si) == BP_OK) {
        snprintf(r->isa, sizeof r->isa, "%s", si.isa ? si.isa : "");
        r->threads = si.threads;
        r->exact = si.exact;
        snprintf(r->inexact_reason, sizeof r->inexact_reason, "%s",
                 si.inexact_reason ? si.inexact_reason : "");
    }
    float **outs = is_ref ? io->ref_out : io->out;
    bp_bench_status("%s: agreement run", r->name);
    double t0 = bp_bench_now_ms();
    st = bp_session_run(s, (const float *const *)io->in, outs);
    double t1 = bp_bench_now_ms();
    if (st != BP_OK) {
        snprintf(r->reason, sizeof r->reason, "run: %s: %s", bp_status_string(st),
                 bp_last_error());
        goto fail;
    }
    if (is_ref) {
        for (uint32_t o = 0; o < io->n_out; o++)
            for (size_t i = 0; i < io->out_n[o]; i++)
                if (fabs((double)io->ref_out[o][i]) > bp_bench_ref_absmax)
                    bp_bench_ref_absmax = fabs((double)io->ref_out[o][i]);
    } else {
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
    if (is_ref && counts && cfg->counts) {
        bp_bench_status("%s: counting operations", r->name);
        st = bp_session_count_ops(s, (const float *const *)io->in, counts);
        if (st != BP_OK) {
            snprintf(r->reason, sizeof r->reason, "count_ops: %s: %s", bp_status_string(st),
                     bp_last_error());
            goto fail;
        }
    }
    /* Under 'all' the reference is the oracle: its one agreement run is its latency. */
    r->iters = (is_ref && !r->requested) ? 0 : cfg->iters;
    uint32_t warm = r->iters ? cfg->warmup : 0;
    r->times = malloc((r->iters ? r->iters : 1) * sizeof *r->times);
    if (!r->times) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        goto fail;
    }
    if (!r->iters) {
        r->times[0] = t1 - t0;
        r->n_times = 1;
    }
    for (uint32_t i = 0; i < warm; i++) {
        bp_bench_status("%s: warmup %u/%u", r->name, i + 1, warm);
        bp_session_run(s, (const float *const *)io->in, io->out);
    }
    if (cfg->layers && r->iters) {
        bp_session_set_profiling(s, 1);
        bp_session_profile_reset(s);
    }
    bp_bench_status_clear();
    r->s = s;
    r->status = 1;
    return 0;
fail:
    bp_bench_status_clear();
    bp_session_free(s);
    r->status = -2;
    return -1;
}

/* One timed run of an open backend. */
static int bp_bench_time_one(bp_bench_result *r, bp_bench_io *io, int layers)
{
    if (layers)
        bp_session_profile_reset(r->s);
    double t0 = bp_bench_now_ms();
    bp_status st = bp_session_run(r->s, (const float *const *)io->in, io->out);
    double t1 = bp_bench_now_ms();
    if (st != BP_OK) {
        snprintf(r->reason, sizeof r->reason, "run %u: %s: %s", r->n_times,
                 bp_status_string(st), bp_last_error());
        return -1;
    }
    if (layers) {
        /* Per-run node times, so the per-layer figure is a median like the
         * end-to-end one (a mean would be dragged by a few disturbed runs). */
        const bp_layer_profile *lp = NULL;
        uint32_t n = 0;
        if (bp_session_profile(r->s, &lp, &n) == BP_OK && n) {
            if (!r->prof_runs) {
                r->prof_runs = calloc((size_t)r->iters * n, sizeof *r->prof_runs);
                r->n_prof_nodes = n;
            }
            for (uint32_t k = 0; r->prof_runs && k < n && k < r->n_prof_nodes; k++)
                r->prof_runs[(size_t)r->n_times * r->n_prof_nodes + k] = lp[k].ms;
        }
    }
    r->times[r->n_times++] = t1 - t0;
    return 0;
}

/* Collects the profile and the statistics, frees the session. */
static void bp_bench_close(const bp_bench_cfg *cfg, bp_bench_result *r)
{
    if (cfg->layers && r->iters && r->s) {
        const bp_layer_profile *lp = NULL;
        uint32_t n = 0;
        if (bp_session_profile(r->s, &lp, &n) == BP_OK && n) {
            r->prof = calloc(n, sizeof *r->prof);
            for (uint32_t i = 0; r->prof && i < n; i++) {
                r->prof[i].name = strdup(lp[i].name ? lp[i].name : "");
                r->prof[i].kernel = strdup(lp[i].kernel ? lp[i].kernel : "");
                r->prof[i].op = strdup(lp[i].op ? lp[i].op : "");
                r->prof[i].ms = lp[i].runs ? lp[i].ms / (double)lp[i].runs : 0;
                r->n_prof = i + 1;
            }
        }
        /* median over the timed runs where recorded */
        double *col = r->n_times ? malloc(r->n_times * sizeof *col) : NULL;
        for (uint32_t i = 0; col && r->prof_runs && i < r->n_prof && i < r->n_prof_nodes; i++) {
            for (uint32_t t = 0; t < r->n_times; t++)
                col[t] = r->prof_runs[(size_t)t * r->n_prof_nodes + i];
            qsort(col, r->n_times, sizeof *col, bp_bench_cmp_d);
            r->prof[i].ms = r->n_times % 2 ? col[r->n_times / 2]
                                           : 0.5 * (col[r->n_times / 2 - 1] + col[r->n_times / 2]);
        }
        free(col);
    }
    bp_session_free(r->s);
    r->s = NULL;
    double *t = r->n_times ? malloc(r->n_times * sizeof *t) : NULL;
    if (t) {
        memcpy(t, r->times, r->n_times * sizeof *t);
        qsort(t, r->n_times, sizeof *t, bp_bench_cmp_d);
        r->min = t[0];
        r->max = t[r->n_times - 1];
        r->med = r->n_times % 2 ? t[r->n_times / 2]
                                : 0.5 * (t[r->n_times / 2 - 1] + t[r->n_times / 2]);
        r->ips = r->med > 0 ? cfg->batch * 1e3 / r->med : 0;
        free(t);
    }
}

static bp_bench_result *bp_bench_find(bp_bench_result *res, const char *name)
{
    for (int i = 0; i < BP_BENCH_NBACK; i++)
        if (res[i].status == 1 && !strcmp(res[i].name, name))
            return &res[i];
    return NULL;
}

static const char *bp_bench_layer_shape(const bp_layer_info *l, char *buf, size_t n)
{
    if (!strcmp(l->op, "linear"))
        snprintf(buf, n, "fc %ux%u", l->c_out, l->c_in);
    else if (l->groups > 1 && l->groups == l->c_in)
        snprintf(buf, n, "dw%ux%u/%u %u", l->kh, l->kw, l->stride, l->c_out);
    else
        snprintf(buf, n, "%ux%u/%u %u>%u", l->kh, l->kw, l->stride, l->c_in, l->c_out);
    return buf;
}

/* A profiled node is a layer row when it carries a conv/linear layer's name
 * (fused nodes such as "conv2d+relu" keep the conv's name). */
static int bp_bench_is_layer(const bp_model_info *mi, const char *name)
{
    for (uint32_t li = 0; li < mi->n_layers; li++)
        if (!strcmp(mi->layers[li].name, name))
            return 1;
    return 0;
}

static double bp_bench_prof_ms(const bp_bench_result *r, const char *name, const char **kernel)
{
    for (uint32_t i = 0; i < r->n_prof; i++)
        if (!strcmp(r->prof[i].name, name)) {
            if (kernel)
                *kernel = r->prof[i].kernel;
            return r->prof[i].ms;
        }
    return NAN;
}

int main(int argc, char **argv)
{
    enum { O_MODEL = 256, O_BACKEND, O_THREADS, O_BATCH, O_ITERS, O_WARMUP, O_LAYERS, O_ISA,
           O_JSON, O_SEED, O_INPUT, O_NOCOUNTS, O_SEQ };
    static const struct option lo[] = {
        {"model", required_argument, NULL, O_MODEL},   {"backend", required_argument, NULL, O_BACKEND},
        {"threads", required_argument, NULL, O_THREADS}, {"batch", required_argument, NULL, O_BATCH},
        {"iters", required_argument, NULL, O_ITERS},   {"warmup", required_argument, NULL, O_WARMUP},
        {"layers", no_argument, NULL, O_LAYERS},       {"isa", required_argument, NULL, O_ISA},
        {"json", required_argument, NULL, O_JSON},     {"seed", required_argument, NULL, O_SEED},
        {"input", required_argument, NULL, O_INPUT},   {"no-counts", no_argument, NULL, O_NOCOUNTS},
        {"sequential", no_argument, NULL, O_SEQ},
        {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0}};
    bp_bench_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.batch = 1;
    cfg.iters = 20;
    cfg.warmup = 3;
    cfg.seed = 1;
    cfg.counts = 1;
    cfg.all = 1;
    const char *backend_arg = "all";
    uint32_t u;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_MODEL: cfg.model = optarg; break;
        case O_BACKEND: backend_arg = optarg; break;
        case O_THREADS:
            if (bp_bench_parse_u32(optarg, 0, 1024, &u))
                return bp_bench_usage_err("--threads: '%s' is not in 0..1024", optarg);
            cfg.threads = (int)u;
            break;
        case O_BATCH:
            if (bp_bench_parse_u32(optarg, 1, 4096, &cfg.batch))
                return bp_bench_usage_err("--batch: '%s' is not in 1..4096", optarg);
            break;
        case O_ITERS:
            if (bp_bench_parse_u32(optarg, 1, 1000000, &cfg.iters))
                return bp_bench_usage_err("--iters: '%s' is not in 1..1000000", optarg);
            break;
        case O_WARMUP:
            if (bp_bench_parse_u32(optarg, 0, 1000000, &cfg.warmup))
                return bp_bench_usage_err("--warmup: '%s' is not in 0..1000000", optarg);
            break;
        case O_LAYERS: cfg.layers = 1; break;
        case O_ISA:
            if (bp_isa_parse(optarg) < 0)
                return bp_bench_usage_err("--isa: '%s' is not scalar, avx2, avx512, "
                                          "avx512vnni or neon", optarg);
            cfg.isa = optarg;
            break;
        case O_JSON: cfg.json = optarg; break;
        case O_SEED: {
            char *end;
            if (!*optarg || *optarg == '-')
                return bp_bench_usage_err("--seed: '%s' is not an unsigned integer", optarg);
            cfg.seed = strtoull(optarg, &end, 0);
            if (*end)
                return bp_bench_usage_err("--seed: '%s' is not an unsigned integer", optarg);
            break;
        }
        case O_INPUT: cfg.input = optarg; break;
        case O_NOCOUNTS: cfg.counts = 0; break;
        case O_SEQ: cfg.sequential = 1; break;
        case 'h': fputs(bp_bench_usage, stdout); return 0;
        default:
            return bp_bench_usage_err("option '%s' is unknown or needs a value",
                                      argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bp_bench_usage_err("unexpected argument '%s'", argv[optind]);
    if (!cfg.model)
        return bp_bench_usage_err("missing --model FILE");
    if (strcmp(backend_arg, "all")) {
        cfg.all = 0;
        char *list = strdup(backend_arg);
        if (!list)
            return 1;
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            int k = -1;
            for (int i = 0; i < BP_BENCH_NBACK; i++)
                if (!strcmp(tok, bp_bench_backends[i]))
                    k = i;
            if (k < 0) {
                int rc = bp_bench_usage_err("--backend: unknown backend '%s'", tok);
                free(list);
                return rc;
            }
            cfg.want[k] = 1;
        }
        free(list);
    } else {
        for (int i = 0; i < BP_BENCH_NBACK; i++)
            cfg.want[i] = 1;
    }
    FILE *jf = NULL;
    bp_bench_out = stdout;
    if (cfg.json && !strcmp(cfg.json, "-")) {
        jf = stdout;
        bp_bench_out = stderr;
    } else if (cfg.json && bpf_check_output(cfg.json) != BPF_OK) {
        fprintf(stderr, "bpbench: --json %s\n", bpf_last_error()); /* before any run */
        return 1;
    }
    char *jbuf = NULL; /* JSON for a file: built in memory, then replaces it atomically */
    size_t jsize = 0;
    bp_bench_progress = isatty(STDERR_FILENO) && bp_bench_out != stderr;

    bp_model *m = NULL;
    bp_status st = bp_model_load_file(cfg.model, NULL, &m);
    if (st != BP_OK) {
        fprintf(stderr, "bpbench: %s: %s: %s\n", cfg.model, bp_status_string(st),
                bp_last_error());
        return 1;
    }
    const bp_model_info *mi = NULL;
    if (bp_model_info_get(m, &mi) != BP_OK) {
        fprintf(stderr, "bpbench: %s: %s\n", cfg.model, bp_last_error());
        bp_model_free(m);
        return 1;
    }
    int exit_code = 0;
    bp_bench_io io;
    memset(&io, 0, sizeof io);
    io.n_in = mi->n_inputs;
    io.n_out = mi->n_outputs;
    io.in = calloc(io.n_in, sizeof *io.in);
    io.in_n = calloc(io.n_in, sizeof *io.in_n);
    io.out = calloc(io.n_out, sizeof *io.out);
    io.ref_out = calloc(io.n_out, sizeof *io.ref_out);
    io.out_n = calloc(io.n_out, sizeof *io.out_n);
    bp_layer_counts *counts = calloc(mi->n_layers ? mi->n_layers : 1, sizeof *counts);
    bp_bench_result res[BP_BENCH_NBACK];
    memset(res, 0, sizeof res);
    if (!io.in || !io.in_n || !io.out || !io.ref_out || !io.out_n || !counts)
        goto oom;
    for (uint32_t i = 0; i < io.n_in; i++) {
        size_t per = 1;
        for (uint32_t d = 1; d < mi->inputs[i].ndim; d++)
            per *= mi->inputs[i].dims[d];
        io.in_n[i] = per * cfg.batch;
        if (!(io.in[i] = malloc(io.in_n[i] * sizeof(float))))
            goto oom;
        if (cfg.input) {
            char err[512];
            if (io.n_in != 1) {
                fprintf(stderr, "bpbench: --input needs a model with one input (this has %u)\n",
                        io.n_in);
                exit_code = 1;
                goto out;
            }
            if (bp_bench_read_input(cfg.input, mi->inputs[i].dims, mi->inputs[i].ndim, cfg.batch,
                                    io.in[i], err, sizeof err)) {
                fprintf(stderr, "bpbench: %s\n", err);
                exit_code = 1;
                goto out;
            }
        } else {
            bp_bench_random(io.in[i], io.in_n[i], cfg.seed + i);
        }
    }
    for (uint32_t i = 0; i < io.n_out; i++) {
        size_t per = 1;
        for (uint32_t d = 1; d < mi->outputs[i].ndim; d++)
            per *= mi->outputs[i].dims[d];
        io.out_n[i] = per * cfg.batch;
        io.out[i] = malloc(io.out_n[i] * sizeof(float));
        io.ref_out[i] = malloc(io.out_n[i] * sizeof(float));
        if (!io.out[i] || !io.ref_out[i])
            goto oom;
    }

    /* The reference always runs first: it is the agreement oracle and counts ops. */
    for (int b = 0; b < BP_BENCH_NBACK; b++) {
        res[b].name = bp_bench_backends[b];
        res[b].requested = !cfg.all && cfg.want[b];
    }
    if (bp_bench_open(m, &cfg, &io, &res[0], 1, counts)) {
        fprintf(stderr, "bpbench: reference: %s\n", res[0].reason);
        exit_code = 1;
        goto out;
    }
    if (!res[0].iters)
        bp_bench_close(&cfg, &res[0]); /* oracle only: free it before the others */
    for (int b = 1; b < BP_BENCH_NBACK; b++) {
        if (!cfg.want[b])
            continue;
        if (bp_bench_open(m, &cfg, &io, &res[b], 0, NULL)) {
            fprintf(stderr, "bpbench: %s: %s\n", res[b].name, res[b].reason);
            exit_code = 1;
        }
    }
    /* Timed runs interleaved across backends (one run of each in turn), so a
     * load change on a shared machine hits every backend alike. */
    for (uint32_t k = 0; k < cfg.iters * BP_BENCH_NBACK; k++) {
        /* interleaved: k = i*NBACK + b; --sequential: k = b*iters + i */
        uint32_t i = cfg.sequential ? k % cfg.iters : k / BP_BENCH_NBACK;
        int b = cfg.sequential ? (int)(k / cfg.iters) : (int)(k % BP_BENCH_NBACK);
        {
            if (!res[b].s || i >= res[b].iters)
                continue;
            bp_bench_status("%s: timed run %u/%u", res[b].name, i + 1, res[b].iters);
            /* Interleaved: an untimed run first puts this backend's weights and
             * buffers back in cache after the other backends evicted them. */
            if (!cfg.sequential)
                bp_session_run(res[b].s, (const float *const *)io.in, io.out);
            if (bp_bench_time_one(&res[b], &io, cfg.layers)) {
                fprintf(stderr, "bpbench: %s: %s\n", res[b].name, res[b].reason);
                res[b].status = -2;
                exit_code = 1;
                bp_bench_close(&cfg, &res[b]);
            }
        }
    }
    bp_bench_status_clear();
    for (int b = 0; b < BP_BENCH_NBACK; b++) {
        if (res[b].s)
            bp_bench_close(&cfg, &res[b]);
        if (res[b].agree_fail) {
            fprintf(stderr,
                    "bpbench: %s disagrees with reference (max |diff| %g) but declares itself "
                    "exact\n",
                    res[b].name, res[b].max_abs_diff);
            exit_code = 3;
        }
    }
    if (!cfg.want[0])
        res[0].status = res[0].status == 1 ? 2 : res[0].status; /* ran, not reported */

    /* ---- machine ---- */
    char cpu[256];
    bp_bench_cpu_model(cpu, sizeof cpu);
    const dnnl_version_t *dv = dnnl_version();
    char dver[64];
    snprintf(dver, sizeof dver, "%d.%d.%d", dv->major, dv->minor, dv->patch);
    const char *disa = bp_bench_dnnl_isa(dnnl_get_effective_cpu_isa());
    const char *kisa = "";
    int kthreads = 0;
    for (int b = 1; b < BP_BENCH_NBACK; b++)
        if (res[b].status == 1 && !strcmp(res[b].name, "bitplane")) {
            kisa = res[b].isa;
            kthreads = res[b].threads;
        }
    if (!kthreads)
        kthreads = res[0].threads;
    FILE *o = bp_bench_out;
    fprintf(o, "bpbench %s  model %s (%s)\n", bp_version_string(), cfg.model,
            *mi->arch ? mi->arch : "?");
    fprintf(o, "machine: %s, %ld logical CPUs; kernel ISA %s; threads %d; oneDNN %s (ISA %s)\n",
            cpu, sysconf(_SC_NPROCESSORS_ONLN), *kisa ? kisa : res[0].isa, kthreads, dver, disa);
    fprintf(o, "model: %u layers, %.2fM weights, sparsity %.4f, digits/weight %.4f (binary %.4f, "
               "csd %.4f), %.3f GMAC/image\n",
            mi->n_layers, mi->weights / 1e6, mi->sparsity, mi->digits_per_weight,
            mi->weights ? (double)mi->digits_binary / mi->weights : 0,
            mi->weights ? (double)mi->digits_csd / mi->weights : 0, mi->macs / 1e9);
    fprintf(o, "input: %s; batch %u; %u warmup + %u timed runs per backend (%s)\n",
            cfg.input ? cfg.input : "random N(0,1)", cfg.batch, cfg.warmup, cfg.iters,
            cfg.sequential ? "sequential" : "interleaved");

    /* ---- latency ---- */
    bp_bench_result *ref_int8 = bp_bench_find(res, "onednn-int8");
    bp_bench_result *ref_csr = bp_bench_find(res, "csr");
    fprintf(o, "\n%-12s %5s %10s %10s %10s %9s %8s %8s  %s\n", "backend", "runs", "median ms",
            "min ms", "max ms", "images/s", "vs int8", "vs csr", "agreement with reference");
    for (int b = 0; b < BP_BENCH_NBACK; b++) {
        bp_bench_result *r = &res[b];
        if (!cfg.want[b])
            continue;
        if (r->status != 1) {
            fprintf(o, "%-12s %s: %s\n", r->name, r->status == -1 ? "skipped" : "FAILED",
                    r->reason);
            continue;
        }
        char v1[16] = "-", v2[16] = "-", agree[320];
        if (ref_int8 && ref_int8->med > 0)
            snprintf(v1, sizeof v1, "%.2fx", ref_int8->med / r->med);
        if (ref_csr && ref_csr->med > 0)
            snprintf(v2, sizeof v2, "%.2fx", ref_csr->med / r->med);
        if (b == 0)
            snprintf(agree, sizeof agree, "(the reference; max |output| %.4g)",
                     bp_bench_ref_absmax);
        else if (r->bit_exact)
            snprintf(agree, sizeof agree, "bit-exact");
        else
            snprintf(agree, sizeof agree, "max |diff| %.4g%s%s%s", r->max_abs_diff,
                     r->exact ? " DISAGREES (declared exact)" : " (inexact: ",
                     r->exact ? "" : r->inexact_reason, r->exact ? "" : ")");
        fprintf(o, "%-12s %5u %10.3f %10.3f %10.3f %9.2f %8s %8s  %s\n", r->name, r->n_times,
                r->med, r->min, r->max, r->ips, v1, v2, agree);
    }

    /* ---- operation counts and energy ---- */
    bp_bench_ops tot[BP_BENCH_SCHEMES];
    memset(tot, 0, sizeof tot);
    double macs = 0, mw_bin = 0, mw_csd = 0;
    if (cfg.counts) {
        for (uint32_t li = 0; li < mi->n_layers; li++) {
            const bp_layer_info *l = &mi->layers[li];
            uint32_t Mb = bp_digits_positions((int32_t)(l->w_max ? l->w_max : 1), BP_ENC_BINARY);
            uint32_t Mc = bp_digits_positions((int32_t)(l->w_max ? l->w_max : 1), BP_ENC_CSD);
            bp_bench_ops lo_[BP_BENCH_SCHEMES];
            bp_bench_layer_ops(&counts[li], l->K, Mb, Mc, lo_);
            for (int s = 0; s < BP_BENCH_SCHEMES; s++) {
                tot[s].mults += lo_[s].mults / cfg.batch;
                tot[s].adds += lo_[s].adds / cfg.batch;
                tot[s].shifts += lo_[s].shifts / cfg.batch;
            }
            macs += (double)counts[li].macs_dense / cfg.batch;
            mw_bin += (double)Mb * counts[li].macs_dense / cfg.batch;
            mw_csd += (double)Mc * counts[li].macs_dense / cfg.batch;
        }
    }
    /* digit totals per image, for sigma_add and eq. 9 */
    double dig[4] = {0}; /* bin_w, bin_wx, csd_w, csd_wx */
    double mul_w = 0, mul_wx = 0;
    for (uint32_t li = 0; cfg.counts && li < mi->n_layers; li++) {
        dig[0] += (double)counts[li].adds_binary_w / cfg.batch;
        dig[1] += (double)counts[li].adds_binary_wx / cfg.batch;
        dig[2] += (double)counts[li].adds_csd_w / cfg.batch;
        dig[3] += (double)counts[li].adds_csd_wx / cfg.batch;
        mul_w += (double)counts[li].mults_w / cfg.batch;
        mul_wx += (double)counts[li].mults_wx / cfg.batch;
    }
    static const char *const scheme_label[BP_BENCH_SCHEMES] = {
        "dense mult-add", "sparse mult-add (w)", "sparse mult-add (w,x)",
        "add-shift-add binary (w)", "add-shift-add binary (w,x)", "add-shift-add CSD (w)",
        "add-shift-add CSD (w,x)"};
    double sig_mult_w = macs ? mul_w / macs : 0, sig_mult_wx = macs ? mul_wx / macs : 0;
    double sig_add[4] = {mw_bin ? dig[0] / mw_bin : 0, mw_bin ? dig[1] / mw_bin : 0,
                         mw_csd ? dig[2] / mw_csd : 0, mw_csd ? dig[3] / mw_csd : 0};
    if (cfg.counts) {
        fprintf(o, "\noperations per image (paper Table 2; (w): weight-only, (w,x): zero "
                   "activations skipped)\n");
        fprintf(o, "%-28s %14s %14s %14s\n", "scheme", "mults", "adds", "shifts");
        for (int s = 0; s < BP_BENCH_SCHEMES; s++)
            fprintf(o, "%-28s %14.4g %14.4g %14.4g\n", scheme_label[s], tot[s].mults, tot[s].adds,
                    tot[s].shifts);
        fprintf(o, "sigma_mult: %.4f (w), %.4f (w,x)   sigma_add binary: %.4f (w), %.4f (w,x)   "
                   "sigma_add CSD: %.4f (w), %.4f (w,x)\n",
                sig_mult_w, sig_mult_wx, sig_add[0], sig_add[1], sig_add[2], sig_add[3]);
        fprintf(o, "digits per weight: binary %.4f, CSD %.4f (stored %.4f)\n",
                mi->weights ? (double)mi->digits_binary / mi->weights : 0,
                mi->weights ? (double)mi->digits_csd / mi->weights : 0, mi->digits_per_weight);
        fprintf(o, "\nestimated energy per image [uJ] (paper Table 1: E = mults*E_mult + "
                   "adds*E_add + shifts*E_shift)\n");
        fprintf(o, "%-28s", "scheme");
        for (int e = 0; e < BP_BENCH_EMODELS; e++)
            fprintf(o, " %15s", bp_bench_emodel[e].label);
        fputc('\n', o);
        for (int s = 0; s < BP_BENCH_SCHEMES; s++) {
            fprintf(o, "%-28s", scheme_label[s]);
            for (int e = 0; e < BP_BENCH_EMODELS; e++)
                fprintf(o, " %15.4g", bp_bench_energy_pj(&tot[s], &bp_bench_emodel[e]) * 1e-6);
            fputc('\n', o);
        }
        fprintf(o, "%-28s", "E_asa/E_sparse bin (w,x)");
        for (int e = 0; e < BP_BENCH_EMODELS; e++) {
            double d = bp_bench_energy_pj(&tot[BP_BENCH_SPARSE_WX], &bp_bench_emodel[e]);
            fprintf(o, " %15.4g",
                    d > 0 ? bp_bench_energy_pj(&tot[BP_BENCH_ASA_BIN_WX], &bp_bench_emodel[e]) / d
                          : NAN);
        }
        fprintf(o, "\n%-28s", "  eq.9 approx bin (w,x)");
        for (int e = 0; e < BP_BENCH_EMODELS; e++)
            fprintf(o, " %15.4g", bp_bench_eq9_approx(dig[1], mul_wx, &bp_bench_emodel[e]));
        fprintf(o, "\n%-28s", "E_asa/E_sparse CSD (w,x)");
        for (int e = 0; e < BP_BENCH_EMODELS; e++) {
            double d = bp_bench_energy_pj(&tot[BP_BENCH_SPARSE_WX], &bp_bench_emodel[e]);
            fprintf(o, " %15.4g",
                    d > 0 ? bp_bench_energy_pj(&tot[BP_BENCH_ASA_CSD_WX], &bp_bench_emodel[e]) / d
                          : NAN);
        }
        fprintf(o, "\n%-28s", "  eq.9 approx CSD (w,x)");
        for (int e = 0; e < BP_BENCH_EMODELS; e++)
            fprintf(o, " %15.4g", bp_bench_eq9_approx(dig[3], mul_wx, &bp_bench_emodel[e]));
        fputc('\n', o);
    }

    /* ---- per layer ---- */
    double ceiling = 0; /* int16 lane-adds/s for all threads */
    int ceil_isa = -1;
    if (cfg.layers) {
        bp_bench_result *bpr = bp_bench_find(res, "bitplane");
        if (bpr && bp_isa_parse(bpr->isa) >= 0) {
            ceil_isa = bp_isa_parse(bpr->isa);
            bp_bench_status("probing the kernel ceiling (%s)", bpr->isa);
            ceiling = bp_ceiling_probe((bp_isa)ceil_isa, 0.3) * bpr->threads;
            bp_bench_status_clear();
        }
        fprintf(o, "\nper layer, ms per run (%% ceil: bitplane int16 lane-adds/s over the "
                   "probe's %s x %d threads)\n",
                ceiling > 0 ? bp_isa_name((bp_isa)ceil_isa) : "n/a", kthreads);
        fprintf(o, "%-30.30s %-14s %7s", "layer", "shape", "dig/w");
        for (int b = 0; b < BP_BENCH_NBACK; b++)
            if (res[b].status == 1 && res[b].n_prof)
                fprintf(o, " %11.11s", res[b].name);
        fprintf(o, " %7s\n", "% ceil");
        for (uint32_t li = 0; li < mi->n_layers; li++) {
            const bp_layer_info *l = &mi->layers[li];
            char shp[48];
            fprintf(o, "%-30.30s %-14s %7.4f", l->name, bp_bench_layer_shape(l, shp, sizeof shp),
                    l->weights ? (double)l->digits / l->weights : 0);
            double bp_ms = NAN;
            for (int b = 0; b < BP_BENCH_NBACK; b++) {
                if (res[b].status != 1 || !res[b].n_prof)
                    continue;
                double ms = bp_bench_prof_ms(&res[b], l->name, NULL);
                fprintf(o, " %11.4f", ms);
                if (!strcmp(res[b].name, "bitplane"))
                    bp_ms = ms;
            }
            double lane_adds = (double)l->digits * l->out_pixels * cfg.batch;
            if (ceiling > 0 && bp_ms > 0)
                fprintf(o, " %6.1f%%\n", 100.0 * lane_adds / (bp_ms * 1e-3) / ceiling);
            else
                fprintf(o, " %7s\n", "-");
        }
        /* non-layer nodes, summed per op type */
        const bp_bench_result *pr = NULL;
        for (int b = 0; b < BP_BENCH_NBACK && !pr; b++)
            if (res[b].status == 1 && res[b].n_prof)
                pr = &res[b];
        for (uint32_t i = 0; pr && i < pr->n_prof; i++) {
            const char *op = pr->prof[i].op;
            int seen = bp_bench_is_layer(mi, pr->prof[i].name);
            for (uint32_t k = 0; k < i && !seen; k++)
                seen = !strcmp(pr->prof[k].op, op) && !bp_bench_is_layer(mi, pr->prof[k].name);
            if (seen)
                continue;
            char lbl[64];
            snprintf(lbl, sizeof lbl, "(other: %s)", op);
            fprintf(o, "%-30.30s %-14s %7s", lbl, "", "");
            for (int b = 0; b < BP_BENCH_NBACK; b++) {
                if (res[b].status != 1 || !res[b].n_prof)
                    continue;
                double sum = 0;
                for (uint32_t k = 0; k < res[b].n_prof; k++)
                    if (!strcmp(res[b].prof[k].op, op) &&
                        !bp_bench_is_layer(mi, res[b].prof[k].name))
                        sum += res[b].prof[k].ms;
                fprintf(o, " %11.4f", sum);
            }
            fputc('\n', o);
        }
        fprintf(o, "%-30.30s %-14s %7s", "(sum of all nodes)", "", "");
        for (int b = 0; b < BP_BENCH_NBACK; b++) {
            if (res[b].status != 1 || !res[b].n_prof)
                continue;
            double sum = 0;
            for (uint32_t k = 0; k < res[b].n_prof; k++)
                sum += res[b].prof[k].ms;
            fprintf(o, " %11.4f", sum);
        }
        fputc('\n', o);
        fprintf(o, "\nkernels per backend (layers using each):\n");
        for (int b = 0; b < BP_BENCH_NBACK; b++) {
            if (res[b].status != 1 || !res[b].n_prof)
                continue;
            fprintf(o, "  %s:\n", res[b].name);
            for (uint32_t i = 0; i < res[b].n_prof; i++) {
                const char *k = res[b].prof[i].kernel;
                int seen = 0, count = 0;
                for (uint32_t j = 0; j < i && !seen; j++)
                    seen = !strcmp(res[b].prof[j].kernel, k);
                if (seen || !*k)
                    continue;
                for (uint32_t j = i; j < res[b].n_prof; j++)
                    count += !strcmp(res[b].prof[j].kernel, k);
                fprintf(o, "    %4d  %s\n", count, k);
            }
        }
    }

    /* ---- JSON ---- */
    if (cfg.json) {
        if (!jf && !(jf = open_memstream(&jbuf, &jsize)))
            goto oom;
        bp_json j;
        bp_json_init(&j, jf);
        bp_json_obj(&j, NULL);
        bp_json_str(&j, "tool", "bpbench");
        bp_json_str(&j, "version", bp_version_string());
        bp_json_obj(&j, "machine");
        bp_json_str(&j, "cpu", cpu);
        bp_json_int(&j, "logical_cpus", (uint64_t)sysconf(_SC_NPROCESSORS_ONLN));
        bp_json_str(&j, "kernel_isa", *kisa ? kisa : res[0].isa);
        bp_json_int(&j, "threads", (uint64_t)kthreads);
        bp_json_str(&j, "onednn_version", dver);
        bp_json_str(&j, "onednn_isa", disa);
        bp_json_end(&j, '}');
        bp_json_obj(&j, "config");
        bp_json_str(&j, "model", cfg.model);
        bp_json_int(&j, "batch", cfg.batch);
        bp_json_int(&j, "iters", cfg.iters);
        bp_json_int(&j, "warmup", cfg.warmup);
        bp_json_bool(&j, "interleaved", !cfg.sequential);
        bp_json_int(&j, "threads_requested", (uint64_t)cfg.threads);
        bp_json_int(&j, "seed", cfg.seed);
        bp_json_str(&j, "input", cfg.input ? cfg.input : "random N(0,1)");
        bp_json_str(&j, "isa_cap", cfg.isa);
        bp_json_end(&j, '}');
        bp_json_obj(&j, "model");
        bp_json_str(&j, "arch", mi->arch);
        bp_json_int(&j, "layers", mi->n_layers);
        bp_json_int(&j, "weights", mi->weights);
        bp_json_int(&j, "nonzeros", mi->nonzeros);
        bp_json_num(&j, "sparsity", mi->sparsity);
        bp_json_int(&j, "digits", mi->digits);
        bp_json_int(&j, "digits_binary", mi->digits_binary);
        bp_json_int(&j, "digits_csd", mi->digits_csd);
        bp_json_num(&j, "digits_per_weight", mi->digits_per_weight);
        bp_json_num(&j, "digits_per_weight_binary",
                    mi->weights ? (double)mi->digits_binary / mi->weights : 0);
        bp_json_num(&j, "digits_per_weight_csd",
                    mi->weights ? (double)mi->digits_csd / mi->weights : 0);
        bp_json_int(&j, "macs_per_image", mi->macs);
        bp_json_num(&j, "reference_output_absmax", bp_bench_ref_absmax);
        bp_json_end(&j, '}');
        bp_json_arr(&j, "backends");
        for (int b = 0; b < BP_BENCH_NBACK; b++) {
            bp_bench_result *r = &res[b];
            if (!cfg.want[b])
                continue;
            bp_json_obj(&j, NULL);
            bp_json_str(&j, "name", r->name);
            bp_json_str(&j, "status", r->status == 1 ? "ok" : r->status == -1 ? "skipped" : "failed");
            bp_json_str(&j, "reason", r->reason);
            if (r->status == 1) {
                bp_json_str(&j, "isa", r->isa);
                bp_json_int(&j, "threads", (uint64_t)r->threads);
                bp_json_bool(&j, "exact", r->exact);
                bp_json_str(&j, "inexact_reason", r->inexact_reason);
                if (b) {
                    bp_json_bool(&j, "bit_exact", r->bit_exact);
                    bp_json_num(&j, "max_abs_diff", r->max_abs_diff);
                    bp_json_bool(&j, "agreement_ok", !r->agree_fail);
                }
                bp_json_int(&j, "runs", r->n_times);
                bp_json_num(&j, "median_ms", r->med);
                bp_json_num(&j, "min_ms", r->min);
                bp_json_num(&j, "max_ms", r->max);
                bp_json_num(&j, "images_per_s", r->ips);
                if (ref_int8)
                    bp_json_num(&j, "speedup_vs_onednn_int8", ref_int8->med / r->med);
                else
                    bp_json_null(&j, "speedup_vs_onednn_int8");
                if (ref_csr)
                    bp_json_num(&j, "speedup_vs_csr", ref_csr->med / r->med);
                else
                    bp_json_null(&j, "speedup_vs_csr");
            }
            bp_json_end(&j, '}');
        }
        bp_json_end(&j, ']');
        if (cfg.counts) {
            bp_json_obj(&j, "ops_per_image");
            for (int s = 0; s < BP_BENCH_SCHEMES; s++) {
                bp_json_obj(&j, bp_bench_scheme_key[s]);
                bp_json_num(&j, "mults", tot[s].mults);
                bp_json_num(&j, "adds", tot[s].adds);
                bp_json_num(&j, "shifts", tot[s].shifts);
                bp_json_end(&j, '}');
            }
            bp_json_end(&j, '}');
            bp_json_obj(&j, "sigma");
            bp_json_num(&j, "mult_w", sig_mult_w);
            bp_json_num(&j, "mult_wx", sig_mult_wx);
            bp_json_num(&j, "add_binary_w", sig_add[0]);
            bp_json_num(&j, "add_binary_wx", sig_add[1]);
            bp_json_num(&j, "add_csd_w", sig_add[2]);
            bp_json_num(&j, "add_csd_wx", sig_add[3]);
            bp_json_end(&j, '}');
            bp_json_obj(&j, "energy_uj_per_image");
            for (int e = 0; e < BP_BENCH_EMODELS; e++) {
                bp_json_obj(&j, bp_bench_emodel[e].key);
                for (int s = 0; s < BP_BENCH_SCHEMES; s++)
                    bp_json_num(&j, bp_bench_scheme_key[s],
                                bp_bench_energy_pj(&tot[s], &bp_bench_emodel[e]) * 1e-6);
                bp_json_end(&j, '}');
            }
            bp_json_end(&j, '}');
            bp_json_obj(&j, "eq9");
            static const char *const eqk[4] = {"binary_w", "binary_wx", "csd_w", "csd_wx"};
            static const int asa_s[4] = {BP_BENCH_ASA_BIN_W, BP_BENCH_ASA_BIN_WX,
                                         BP_BENCH_ASA_CSD_W, BP_BENCH_ASA_CSD_WX};
            for (int e = 0; e < BP_BENCH_EMODELS; e++) {
                bp_json_obj(&j, bp_bench_emodel[e].key);
                for (int k = 0; k < 4; k++) {
                    int wx = k & 1;
                    const bp_bench_ops *sp = &tot[wx ? BP_BENCH_SPARSE_WX : BP_BENCH_SPARSE_W];
                    double d = bp_bench_energy_pj(sp, &bp_bench_emodel[e]);
                    bp_json_obj(&j, eqk[k]);
                    bp_json_num(&j, "exact",
                                d > 0 ? bp_bench_energy_pj(&tot[asa_s[k]], &bp_bench_emodel[e]) / d
                                      : NAN);
                    bp_json_num(&j, "approx",
                                bp_bench_eq9_approx(dig[k], wx ? mul_wx : mul_w,
                                                    &bp_bench_emodel[e]));
                    bp_json_end(&j, '}');
                }
                bp_json_end(&j, '}');
            }
            bp_json_end(&j, '}');
        }
        if (cfg.layers) {
            bp_json_num(&j, "ceiling_lane_adds_per_s", ceiling > 0 ? ceiling : NAN);
            bp_json_arr(&j, "layers");
            for (uint32_t li = 0; li < mi->n_layers; li++) {
                const bp_layer_info *l = &mi->layers[li];
                bp_json_obj(&j, NULL);
                bp_json_str(&j, "name", l->name);
                bp_json_str(&j, "op", l->op);
                bp_json_int(&j, "c_out", l->c_out);
                bp_json_int(&j, "c_in", l->c_in);
                bp_json_int(&j, "kh", l->kh);
                bp_json_int(&j, "kw", l->kw);
                bp_json_int(&j, "stride", l->stride);
                bp_json_int(&j, "groups", l->groups);
                bp_json_int(&j, "K", l->K);
                bp_json_int(&j, "weights", l->weights);
                bp_json_int(&j, "nonzeros", l->nonzeros);
                bp_json_int(&j, "digits", l->digits);
                bp_json_int(&j, "out_pixels", l->out_pixels);
                bp_json_obj(&j, "backends");
                for (int b = 0; b < BP_BENCH_NBACK; b++) {
                    if (res[b].status != 1 || !res[b].n_prof)
                        continue;
                    const char *k = "";
                    double ms = bp_bench_prof_ms(&res[b], l->name, &k);
                    bp_json_obj(&j, res[b].name);
                    bp_json_num(&j, "ms", ms);
                    bp_json_str(&j, "kernel", k);
                    if (!strcmp(res[b].name, "bitplane") && ceiling > 0 && ms > 0)
                        bp_json_num(&j, "ceiling_pct",
                                    100.0 * (double)l->digits * l->out_pixels * cfg.batch /
                                        (ms * 1e-3) / ceiling);
                    bp_json_end(&j, '}');
                }
                bp_json_end(&j, '}');
                bp_json_end(&j, '}');
            }
            bp_json_end(&j, ']');
        }
        bp_json_bool(&j, "ok", exit_code == 0);
        bp_json_end(&j, '}');
        if (jf != stdout) {
            int bad = ferror(jf);
            if (fclose(jf) || bad)
                goto oom;
            if (bpf_replace_file(cfg.json, jbuf, jsize) != BPF_OK) {
                fprintf(stderr, "bpbench: --json %s\n", bpf_last_error());
                exit_code = exit_code ? exit_code : 1;
            }
        }
    }
    goto out;
oom:
    fprintf(stderr, "bpbench: out of memory\n");
    exit_code = 1;
out:
    for (int b = 0; b < BP_BENCH_NBACK; b++) {
        bp_session_free(res[b].s);
        free(res[b].times);
        free(res[b].prof_runs);
        for (uint32_t i = 0; i < res[b].n_prof; i++) {
            free(res[b].prof[i].name);
            free(res[b].prof[i].kernel);
            free(res[b].prof[i].op);
        }
        free(res[b].prof);
    }
    for (uint32_t i = 0; io.in && i < io.n_in; i++)
        free(io.in[i]);
    for (uint32_t i = 0; io.out && i < io.n_out; i++) {
        free(io.out[i]);
        free(io.ref_out[i]);
    }
    free(io.in);
    free(io.in_n);
    free(io.out);
    free(io.ref_out);
    free(io.out_n);
    free(counts);
    free(jbuf);
    bp_model_free(m);
    return exit_code;
}
