/* options.c: bpbench's usage text and command-line parser. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bitprune.h"
#include "bp_kernels.h"
#include "bpbench_build.h"
#include "machine.h"
#include "options.h"

const char *const bp_bench_engine_backends[BP_BENCH_NENGINE] = {
    "reference", "bitplane", "csr", "onednn-int8", "onednn-f32"};

const char *const bp_bench_onednn_isas[] = {
    "sse41", "avx", "avx2", "avx2_vnni", "avx512_core", "avx512_core_vnni",
    "avx512_core_bf16", "avx512_core_amx", NULL};

static const char bp_bench_usage[] =
    "usage: bpbench --model FILE [options]\n"
    "\n"
    "Runs a .bp model on every backend, checks each against 'reference' on the\n"
    "first batch (bit-exact, or max |diff| for backends that declare themselves\n"
    "inexact), then times it: R interleaved rounds, the median with its 95%\n"
    "confidence interval, min and max, and speedups with bootstrap intervals.\n"
    "Also reports the paper's operation counts (Table 2), sigma_mult, sigma_add,\n"
    "digits per weight and energy estimates (Table 1, eq. 9), and the CPU's\n"
    "vector and matrix engines next to the ones each backend used.\n"
    "\n"
    "onednn-int8 runs twice when oneDNN's best ISA has a matrix engine (AMX):\n"
    "at that ISA and, in a child process with ONEDNN_MAX_CPU_ISA set, capped\n"
    "at AVX-512 VNNI (AVX2 without AVX-512): the row 'onednn-int8-capped'.\n"
    "\n"
    "options:\n"
    "  --model FILE         model to run (required)\n"
    "  --backend LIST       comma-separated: reference, bitplane, csr, onednn-int8,\n"
    "                       onednn-f32, or all (default all). Under 'all' the\n"
    "                       reference runs once (the agreement run) and that run is\n"
    "                       its reported latency; name it to time it fully.\n"
    "  --threads N[,N..]    threads per session (default 0: all cores); a list\n"
    "                       (e.g. 1,2) repeats the measurement per count and adds\n"
    "                       a thread-sweep table\n"
    "  --streams S          also measure throughput: S sessions on the one shared\n"
    "                       model run concurrently (pthreads); images/s. Each\n"
    "                       session gets the --threads count, or cores/S for 0\n"
    "  --batch N            images per run (default 1)\n"
    "  --repeat R           timed rounds (default 30). A round gives every backend,\n"
    "                       in turn, an untimed cache re-warm run and a timed run,\n"
    "                       so load changes on a shared machine hit all alike\n"
    "  --iters R            the same as --repeat\n"
    "  --sequential         time each backend's rounds back to back instead\n"
    "  --warmup N           untimed runs before timing (default 3)\n"
    "  --layers             per-layer time per backend, kernel / oneDNN\n"
    "                       implementation, digits and % of the kernel ceiling\n"
    "  --plot-layers FILE   also draw the per-layer times as an SVG of stacked\n"
    "                       bars per backend (implies --layers)\n"
    "  --isa ISA            cap the kernel ISA: scalar, avx2, avx512, avx512vnni,\n"
    "                       neon; one this CPU lacks is an error\n"
    "  --onednn-cap ISA     the capped onednn-int8 run: auto (default), none, or a\n"
    "                       oneDNN ISA (avx2, avx512_core_vnni, ...) to force it\n"
    "  --noise-threshold P  warn when a median's 95% interval is wider than P %\n"
    "                       of it (default 5)\n"
    "  --json FILE|-        also write the results as JSON ('-': stdout; the human\n"
    "                       tables then go to stderr); bench/bpbench/json_schema.md;\n"
    "                       FILE is replaced atomically and must not be a device,\n"
    "                       FIFO or directory (likewise --plot-layers)\n"
    "  --seed N             seed of the random N(0,1) input and of the bootstrap\n"
    "                       (default 1)\n"
    "  --input FILE         input instead: raw float32 NCHW or .npy ('<f4', C order),\n"
    "                       one image or the whole batch; a regular file of exactly\n"
    "                       that size\n"
    "  --no-counts          skip the operation counts and energy estimates\n"
    "  --version            version, git commit and compiler\n"
    "  -h, --help           this text\n"
    "\n"
    "Exit status: 0 success; 1 error (model, input, backend or output file);\n"
    "2 usage; 3 a backend that declares itself exact disagreed with the reference.\n";

static int bp_bench_usage_err(const char *fmt, ...)
{
    va_list ap;
    fputs("bpbench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (try --help)\n", stderr);
    return BP_BENCH_EXIT_USAGE;
}

static int bp_bench_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *v)
{
    char *end;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    unsigned long long u = strtoull(s, &end, 10);
    if (*end || u < lo || u > hi)
        return -1;
    *v = (uint32_t)u;
    return 0;
}

static int bp_bench_parse_threads(const char *arg, bp_bench_cfg *cfg)
{
    char buf[256];
    if (strlen(arg) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", arg);
    cfg->n_threads = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint32_t u;
        if (cfg->n_threads == BP_BENCH_MAX_THREAD_COUNTS || bp_bench_parse_u32(t, 0, 1024, &u))
            return -1;
        cfg->threads[cfg->n_threads++] = (int)u;
    }
    /* a trailing or doubled comma is a typo, not an empty entry */
    if (!cfg->n_threads || arg[strlen(arg) - 1] == ',' || strstr(arg, ",,") || arg[0] == ',')
        return -1;
    return 0;
}

static void bp_bench_cpu_isas(char *buf, size_t n)
{
    unsigned mask = bp_cpu_isa_mask();
    buf[0] = 0;
    for (int i = 0; i < BP_ISA_COUNT; i++)
        if (mask & BP_ISA_BIT(i)) {
            size_t l = strlen(buf);
            snprintf(buf + l, n - l, "%s%s", l ? ", " : "", bp_isa_name((bp_isa)i));
        }
}

int bp_bench_parse_args(int argc, char **argv, bp_bench_cfg *cfg)
{
    enum { O_MODEL = 256, O_BACKEND, O_THREADS, O_BATCH, O_REPEAT, O_WARMUP, O_LAYERS, O_ISA,
           O_JSON, O_SEED, O_INPUT, O_NOCOUNTS, O_SEQ, O_STREAMS, O_PLOT, O_CAP, O_NOISE,
           O_VERSION, O_CHILD };
    static const struct option lo[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"backend", required_argument, NULL, O_BACKEND},
        {"threads", required_argument, NULL, O_THREADS},
        {"streams", required_argument, NULL, O_STREAMS},
        {"batch", required_argument, NULL, O_BATCH},
        {"repeat", required_argument, NULL, O_REPEAT},
        {"iters", required_argument, NULL, O_REPEAT},
        {"warmup", required_argument, NULL, O_WARMUP},
        {"layers", no_argument, NULL, O_LAYERS},
        {"plot-layers", required_argument, NULL, O_PLOT},
        {"isa", required_argument, NULL, O_ISA},
        {"onednn-cap", required_argument, NULL, O_CAP},
        {"noise-threshold", required_argument, NULL, O_NOISE},
        {"json", required_argument, NULL, O_JSON},
        {"seed", required_argument, NULL, O_SEED},
        {"input", required_argument, NULL, O_INPUT},
        {"no-counts", no_argument, NULL, O_NOCOUNTS},
        {"sequential", no_argument, NULL, O_SEQ},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, 'h'},
        /* internal: the capped oneDNN child (bpbench re-executes itself) */
        {"onednn-child", no_argument, NULL, O_CHILD},
        {NULL, 0, NULL, 0}};
    memset(cfg, 0, sizeof *cfg);
    cfg->batch = 1;
    cfg->repeat = 30;
    cfg->warmup = 3;
    cfg->seed = 1;
    cfg->counts = 1;
    cfg->all = 1;
    cfg->noise_pct = 5;
    cfg->n_threads = 1;
    const char *backend_arg = "all";
    /* --help and --version win over everything else and do no work */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(bp_bench_usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("bpbench %s (commit %s, %s)\n", bp_version_string(), BP_BENCH_GIT_COMMIT,
                   bp_bench_compiler());
            return 0;
        }
    }
    int c, li = 0;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", lo, &li)) != -1) {
        switch (c) {
        case O_MODEL: cfg->model = optarg; break;
        case O_BACKEND: backend_arg = optarg; break;
        case O_THREADS:
            if (bp_bench_parse_threads(optarg, cfg))
                return bp_bench_usage_err("--threads: '%s' is not a list of up to %d counts "
                                          "in 0..1024", optarg, BP_BENCH_MAX_THREAD_COUNTS);
            break;
        case O_STREAMS:
            if (bp_bench_parse_u32(optarg, 1, 256, &cfg->streams))
                return bp_bench_usage_err("--streams: '%s' is not in 1..256", optarg);
            break;
        case O_BATCH:
            if (bp_bench_parse_u32(optarg, 1, 4096, &cfg->batch))
                return bp_bench_usage_err("--batch: '%s' is not in 1..4096", optarg);
            break;
        case O_REPEAT:
            if (bp_bench_parse_u32(optarg, 1, 1000000, &cfg->repeat))
                return bp_bench_usage_err("--%s: '%s' is not in 1..1000000", lo[li].name,
                                          optarg);
            break;
        case O_WARMUP:
            if (bp_bench_parse_u32(optarg, 0, 1000000, &cfg->warmup))
                return bp_bench_usage_err("--warmup: '%s' is not in 0..1000000", optarg);
            break;
        case O_LAYERS: cfg->layers = 1; break;
        case O_PLOT:
            cfg->plot = optarg;
            cfg->layers = 1;
            break;
        case O_ISA: {
            int lv = bp_isa_parse(optarg);
            if (lv < 0)
                return bp_bench_usage_err("--isa: '%s' is not scalar, avx2, avx512, avx512vnni "
                                          "or neon", optarg);
            if (!(bp_cpu_isa_mask() & BP_ISA_BIT(lv))) {
                char have[128];
                bp_bench_cpu_isas(have, sizeof have);
                return bp_bench_usage_err("--isa: this CPU has no %s (it has %s)", optarg, have);
            }
            cfg->isa = optarg;
            break;
        }
        case O_CAP: {
            if (!strcmp(optarg, "auto")) {
                cfg->cap_mode = BP_BENCH_CAP_AUTO;
                break;
            }
            if (!strcmp(optarg, "none")) {
                cfg->cap_mode = BP_BENCH_CAP_NONE;
                break;
            }
            int k = -1;
            for (int i = 0; bp_bench_onednn_isas[i]; i++)
                if (!strcasecmp(optarg, bp_bench_onednn_isas[i]))
                    k = i;
            if (k < 0)
                return bp_bench_usage_err("--onednn-cap: '%s' is not auto, none or a oneDNN ISA "
                                          "(avx2, avx2_vnni, avx512_core, avx512_core_vnni, ...)",
                                          optarg);
            cfg->cap_mode = BP_BENCH_CAP_FORCED;
            size_t i = 0;
            for (const char *p = bp_bench_onednn_isas[k]; *p && i + 1 < sizeof cfg->cap_isa; p++)
                cfg->cap_isa[i++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
            cfg->cap_isa[i] = 0;
            break;
        }
        case O_NOISE: {
            char *end;
            double v = strtod(optarg, &end);
            if (!*optarg || *end || !(v > 0 && v <= 1000))
                return bp_bench_usage_err("--noise-threshold: '%s' is not a percentage in "
                                          "(0, 1000]", optarg);
            cfg->noise_pct = v;
            break;
        }
        case O_JSON: cfg->json = optarg; break;
        case O_SEED: {
            char *end;
            if (!*optarg || *optarg == '-' || *optarg == '+' || *optarg == ' ')
                return bp_bench_usage_err("--seed: '%s' is not an unsigned integer", optarg);
            cfg->seed = strtoull(optarg, &end, 0);
            if (*end)
                return bp_bench_usage_err("--seed: '%s' is not an unsigned integer", optarg);
            break;
        }
        case O_INPUT: cfg->input = optarg; break;
        case O_NOCOUNTS: cfg->counts = 0; break;
        case O_SEQ: cfg->sequential = 1; break;
        case O_CHILD: cfg->child = 1; break;
        case ':':
            return bp_bench_usage_err("option '%s' needs a value", argv[optind - 1]);
        default:
            return bp_bench_usage_err("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bp_bench_usage_err("unexpected argument '%s'", argv[optind]);
    if (!cfg->model) {
        fputs("usage: bpbench --model FILE [options] (try --help)\n", stderr);
        return BP_BENCH_EXIT_USAGE;
    }
    if (strcmp(backend_arg, "all")) {
        cfg->all = 0;
        char buf[256];
        if (strlen(backend_arg) >= sizeof buf || !*backend_arg)
            return bp_bench_usage_err("--backend: '%s' is not a backend list", backend_arg);
        snprintf(buf, sizeof buf, "%s", backend_arg);
        char *save = NULL;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int k = -1;
            for (int i = 0; i < BP_BENCH_NENGINE; i++)
                if (!strcmp(tok, bp_bench_engine_backends[i]))
                    k = i;
            if (k < 0)
                return bp_bench_usage_err("--backend: unknown backend '%s'", tok);
            cfg->want[k] = 1;
        }
    } else {
        for (int i = 0; i < BP_BENCH_NENGINE; i++)
            cfg->want[i] = 1;
    }
    return -1;
}
