/* cmd_gen.c: the model-writing commands, `bptool gen` and `bptool prune`. */
#include <getopt.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune.h"
#include "bptool.h"

static const char bp_tool_gen_usage[] =
    "usage: bptool gen ARCH -o FILE [options]\n"
    "\n"
    "Writes a model with the real layer shapes and op graph of ARCH and synthetic\n"
    "weights (they measure speed and operation counts, never accuracy).\n"
    "ARCH: resnet18-cifar (32x32, 10 classes), resnet18, convnext-t, convnext-b\n"
    "(224x224, 1000 classes).\n"
    "\n"
    "Weights: Kaiming-normal (std sqrt(2/K)), quantized per output channel at\n"
    "absmax/W to the integers in [-W, W] (W = --wmax); then --prune bit applies\n"
    "the paper's proximal map (eq. 8, p = 1/2, argmin over [-W, W]) at --lambda,\n"
    "then magnitude pruning to --sparsity. Activation scales come from a float\n"
    "calibration pass on random inputs (u8 max/255 or s8 absmax/127 per layer).\n"
    "\n"
    "options:\n"
    "  -o, --output FILE     output model (required)\n"
    "  --prune MODE          bit | weight | none (default none)\n"
    "  --lambda L            proximal-map strength for --prune bit (default 1)\n"
    "  --sparsity S          magnitude-prune each layer to weight sparsity S in\n"
    "                        [0, 1] after the bit mode (--prune bit|weight; default 0)\n"
    "  --encoding ENC        binary | csd digit planes (default binary); with csd,\n"
    "                        the proximal map's add cost is the CSD digit count\n"
    "  --seed N              RNG seed for weights and calibration (default 1)\n"
    "  --input HxW           input size (default per ARCH)\n"
    "  --classes N           classifier outputs (default per ARCH)\n"
    "  --act relu|gelu       ConvNeXt MLP activation (default relu, the paper's variant)\n"
    "  --calib N             calibration images (default 4)\n"
    "  --wmax W              weight range [-W, W] (default 127):\n"
    "                          127  signed 8-bit symmetric; every backend, onednn-int8\n"
    "                               included, is bit-exact\n"
    "                          128  the paper's grid [-128, 128] (8 binary digit\n"
    "                               positions); onednn-int8 clamps +-128: inexact\n"
    "                          255  8-bit magnitude and a sign (sign-magnitude);\n"
    "                               onednn-int8 inexact\n"
    "  -q, --quiet           no summary line\n"
    "  -h, --help            this text\n";

static const char bp_tool_prune_usage[] =
    "usage: bptool prune IN -o OUT [options]\n"
    "\n"
    "Re-projects the weights of an existing model and re-encodes its digit\n"
    "planes; graph, weight scales, biases, activation scales and each layer's\n"
    "weight range [-w_max, w_max] are kept (the proximal map's argmin runs over\n"
    "that range).\n"
    "\n"
    "options:\n"
    "  -o, --output FILE     output model (required)\n"
    "  --prune MODE          bit | weight (default bit)\n"
    "  --lambda L            proximal-map strength for --prune bit (default 1)\n"
    "  --sparsity S          magnitude-prune each layer to weight sparsity S\n"
    "                        (by |w| * channel scale; default 0: none)\n"
    "  --encoding ENC        binary | csd (default: that of IN)\n"
    "  -q, --quiet           no summary line\n"
    "  -h, --help            this text\n";

enum { OPT_PRUNE = 256, OPT_LAMBDA, OPT_SPARSITY, OPT_ENCODING, OPT_SEED, OPT_INPUT,
       OPT_CLASSES, OPT_ACT, OPT_CALIB, OPT_WMAX };

static const struct option bp_tool_gen_longopts[] = {
    {"output", required_argument, NULL, 'o'},   {"prune", required_argument, NULL, OPT_PRUNE},
    {"lambda", required_argument, NULL, OPT_LAMBDA},
    {"sparsity", required_argument, NULL, OPT_SPARSITY},
    {"encoding", required_argument, NULL, OPT_ENCODING},
    {"seed", required_argument, NULL, OPT_SEED}, {"input", required_argument, NULL, OPT_INPUT},
    {"classes", required_argument, NULL, OPT_CLASSES},
    {"act", required_argument, NULL, OPT_ACT},   {"calib", required_argument, NULL, OPT_CALIB},
    {"wmax", required_argument, NULL, OPT_WMAX},
    {"quiet", no_argument, NULL, 'q'},           {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Prints the one-line summary of a written model (loaded back as a check). */
static int bp_tool_summary(const char *path, int quiet)
{
    bp_model *m = NULL;
    bp_status st = bp_model_load_file(path, NULL, &m);
    if (st != BP_OK) {
        fprintf(stderr, "bptool: %s does not load back: %s: %s\n", path, bp_status_string(st),
                bp_last_error());
        return 1;
    }
    const bp_model_info *mi;
    if (!quiet && bp_model_info_get(m, &mi) == BP_OK)
        printf("wrote %s: %s, %u layers, %.2fM weights, sparsity %.3f, digits/weight %.3f "
               "(binary %.3f, csd %.3f), %.2f GMAC/image\n",
               path, mi->arch, mi->n_layers, mi->weights / 1e6, mi->sparsity,
               mi->digits_per_weight, mi->weights ? (double)mi->digits_binary / mi->weights : 0,
               mi->weights ? (double)mi->digits_csd / mi->weights : 0, mi->macs / 1e9);
    bp_model_free(m);
    return 0;
}

/* Parses the options gen and prune share; returns 0 or the exit code. */
typedef struct bp_tool_cli {
    const char *output;
    int prune, enc; /* -1: not given */
    double lambda, sparsity;
    int lambda_set, sparsity_set, quiet;
} bp_tool_cli;

static int bp_tool_parse_prune(const char *s)
{
    return !strcmp(s, "bit")      ? BP_TOOL_PRUNE_BIT
           : !strcmp(s, "weight") ? BP_TOOL_PRUNE_WEIGHT
           : !strcmp(s, "none")   ? BP_TOOL_PRUNE_NONE
                                  : -1;
}

static int bp_tool_parse_enc(const char *s)
{
    return !strcmp(s, "binary") ? BP_ENC_BINARY : !strcmp(s, "csd") ? BP_ENC_CSD : -1;
}

/* Options common to gen and prune; returns 1 if handled, 0 if not ours, or
 * the usage exit code (2) as -2. */
static int bp_tool_common_opt(int c, const char *cmd, const char *usage, bp_tool_cli *cli)
{
    switch (c) {
    case 'o': cli->output = optarg; return 1;
    case 'q': cli->quiet = 1; return 1;
    case OPT_PRUNE:
        cli->prune = bp_tool_parse_prune(optarg);
        if (cli->prune < 0) {
            bp_tool_usage_error(cmd, usage, "--prune: '%s' is not bit, weight or none", optarg);
            return -2;
        }
        return 1;
    case OPT_LAMBDA:
        if (bp_tool_parse_double(optarg, &cli->lambda) || !isfinite(cli->lambda) ||
            cli->lambda < 0 || cli->lambda > 1e6) {
            bp_tool_usage_error(cmd, usage, "--lambda: '%s' is not a number >= 0", optarg);
            return -2;
        }
        cli->lambda_set = 1;
        return 1;
    case OPT_SPARSITY:
        if (bp_tool_parse_double(optarg, &cli->sparsity) || !(cli->sparsity >= 0) ||
            cli->sparsity > 1) {
            bp_tool_usage_error(cmd, usage, "--sparsity: '%s' is not a number in [0, 1]",
                                optarg);
            return -2;
        }
        cli->sparsity_set = 1;
        return 1;
    case OPT_ENCODING:
        cli->enc = bp_tool_parse_enc(optarg);
        if (cli->enc < 0) {
            bp_tool_usage_error(cmd, usage, "--encoding: '%s' is not binary or csd", optarg);
            return -2;
        }
        return 1;
    }
    return 0;
}

static int bp_tool_bad_opt(const char *cmd, const char *usage, char **argv)
{
    if (optopt && optopt < 256 && optopt != '?')
        return bp_tool_usage_error(cmd, usage, "option '-%c' is unknown or needs a value",
                                   optopt);
    return bp_tool_usage_error(cmd, usage, "option '%s' is unknown or needs a value",
                               argv[optind - 1]);
}

/* Builds only the graph (no weights) to see whether the input size chains
 * through the architecture: 0, or bp_tool_build_arch's code. */
static int bp_tool_arch_fits(const char *arch, const bp_tool_arch_opts *ao)
{
    bp_tool_graph g;
    bp_tool_graph_init(&g);
    int rc = bp_tool_build_arch(&g, arch, ao);
    bp_tool_graph_free(&g);
    return rc;
}

/* The smallest square input the architecture accepts (0 if none <= 8192). */
static uint32_t bp_tool_arch_min_input(const char *arch, const bp_tool_arch_opts *ao)
{
    bp_tool_arch_opts t = *ao;
    for (uint32_t s = 1; s <= 8192; s = s < 64 ? s + 1 : s * 2) {
        t.h = t.w = s;
        if (bp_tool_arch_fits(arch, &t) == 0)
            return s;
    }
    return 0;
}

int bp_tool_cmd_gen(int argc, char **argv)
{
    bp_tool_gen_opts o;
    bp_tool_gen_opts_default(&o);
    bp_tool_cli cli = {NULL, -1, -1, 1.0, 0.0, 0, 0, 0};
    uint64_t u;
    int c, act_set = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:qh", bp_tool_gen_longopts, NULL)) != -1) {
        int r = bp_tool_common_opt(c, "gen", bp_tool_gen_usage, &cli);
        if (r == -2)
            return 2;
        if (r)
            continue;
        switch (c) {
        case 'h': fputs(bp_tool_gen_usage, stdout); return 0;
        case OPT_SEED:
            if (bp_tool_parse_u64(optarg, &o.seed))
                return bp_tool_usage_error("gen", bp_tool_gen_usage,
                                           "--seed: '%s' is not an unsigned integer", optarg);
            break;
        case OPT_INPUT:
            if (bp_tool_parse_hw(optarg, &o.arch_opts.h, &o.arch_opts.w))
                return bp_tool_usage_error("gen", bp_tool_gen_usage,
                                           "--input: '%s' is not HxW (1..8192)", optarg);
            break;
        case OPT_CLASSES:
            if (bp_tool_parse_u64(optarg, &u) || u < 1 || u > 65536)
                return bp_tool_usage_error("gen", bp_tool_gen_usage,
                                           "--classes: '%s' is not in 1..65536", optarg);
            o.arch_opts.classes = (uint32_t)u;
            break;
        case OPT_ACT:
            if (strcmp(optarg, "relu") && strcmp(optarg, "gelu"))
                return bp_tool_usage_error("gen", bp_tool_gen_usage,
                                           "--act: '%s' is not relu or gelu", optarg);
            o.arch_opts.gelu = !strcmp(optarg, "gelu");
            act_set = 1;
            break;
        case OPT_CALIB:
            if (bp_tool_parse_u64(optarg, &u) || u < 1 || u > 256)
                return bp_tool_usage_error("gen", bp_tool_gen_usage,
                                           "--calib: '%s' is not in 1..256", optarg);
            o.calib = (uint32_t)u;
            break;
        case OPT_WMAX:
            if (bp_tool_parse_u64(optarg, &u) || u > 255 || !bp_tool_wmax_valid((int)u))
                return bp_tool_usage_error("gen", bp_tool_gen_usage,
                                           "--wmax: '%s' is not 127, 128 or 255", optarg);
            o.wmax = (int)u;
            break;
        default: return bp_tool_bad_opt("gen", bp_tool_gen_usage, argv);
        }
    }
    if (optind != argc - 1)
        return bp_tool_usage_error("gen", bp_tool_gen_usage,
                                   optind >= argc ? "missing ARCH" : "unexpected argument '%s'",
                                   optind >= argc ? "" : argv[optind + 1]);
    o.arch = argv[optind];
    int known = 0;
    for (const char *const *a = bp_tool_arch_names(); *a; a++)
        known |= !strcmp(*a, o.arch);
    if (!known)
        return bp_tool_usage_error("gen", bp_tool_gen_usage, "unknown ARCH '%s'", o.arch);
    if (act_set && strncmp(o.arch, "convnext", 8))
        return bp_tool_usage_error("gen", bp_tool_gen_usage,
                                   "--act applies to convnext-t and convnext-b, not %s", o.arch);
    if (!cli.output)
        return bp_tool_usage_error("gen", bp_tool_gen_usage, "missing -o FILE");
    if (bpf_check_output(cli.output) != BPF_OK) {
        fprintf(stderr, "bptool gen: %s\n", bpf_last_error());
        return 1;
    }
    if (bp_tool_arch_fits(o.arch, &o.arch_opts) == -2) {
        uint32_t m = bp_tool_arch_min_input(o.arch, &o.arch_opts);
        return bp_tool_usage_error("gen", bp_tool_gen_usage,
                                   "--input: %ux%u is too small for %s (smallest square: %ux%u)",
                                   o.arch_opts.h, o.arch_opts.w, o.arch, m, m);
    }
    if (cli.prune >= 0)
        o.prune = (bp_tool_prune)cli.prune;
    if (cli.sparsity_set && cli.sparsity > 0 && o.prune == BP_TOOL_PRUNE_NONE)
        return bp_tool_usage_error("gen", bp_tool_gen_usage,
                                   "--sparsity needs --prune bit or --prune weight");
    if (cli.lambda_set && o.prune != BP_TOOL_PRUNE_BIT)
        return bp_tool_usage_error("gen", bp_tool_gen_usage, "--lambda needs --prune bit");
    o.lambda = cli.lambda;
    o.sparsity = cli.sparsity;
    if (cli.enc >= 0)
        o.encoding = (bp_encoding)cli.enc;

    void *buf = NULL;
    size_t size = 0;
    char err[512];
    o.progress = isatty(STDERR_FILENO) ? stderr : NULL;
    if (bp_tool_gen_memory(&o, &buf, &size, err, sizeof err)) {
        fprintf(stderr, "bptool gen: %s\n", err);
        return 1;
    }
    bpf_status fs = bpf_replace_file(cli.output, buf, size);
    free(buf);
    if (fs != BPF_OK) {
        fprintf(stderr, "bptool gen: %s\n", bpf_last_error());
        return 1;
    }
    return bp_tool_summary(cli.output, cli.quiet);
}

/* prune's re-projected layers and metadata over a loaded model. */
typedef struct bp_tool_relayout {
    bpf_layer *layers;
    bp_tool_layer *lsrc;
    uint32_t n_layers;
    bpf_kv *meta; /* the model's entries, then up to 8 added */
    uint32_t n_meta;
    char *own[16]; /* values copied by bp_tool_kv_set */
    uint32_t n_own;
    int failed;
} bp_tool_relayout;

static void bp_tool_kv_set(bp_tool_relayout *g, const char *key, const char *value)
{
    char *v = g->n_own < 16 ? strdup(value) : NULL;
    if (!v) {
        g->failed = 1;
        return;
    }
    g->own[g->n_own++] = v;
    uint32_t i = 0;
    while (i < g->n_meta && strcmp(g->meta[i].key, key))
        i++;
    if (i == g->n_meta)
        g->meta[g->n_meta++].key = key; /* room for the 6 keys prune sets */
    g->meta[i].value = v;
}

static void bp_tool_relayout_free(bp_tool_relayout *g)
{
    for (uint32_t i = 0; i < g->n_layers; i++) {
        free(g->lsrc[i].w);
        free(g->lsrc[i].w_scale);
        free(g->lsrc[i].bias);
        bp_planes_buf_free(&g->lsrc[i].planes);
    }
    for (uint32_t i = 0; i < g->n_own; i++)
        free(g->own[i]);
    free(g->layers);
    free(g->lsrc);
    free(g->meta);
}

int bp_tool_cmd_prune(int argc, char **argv)
{
    bp_tool_cli cli = {NULL, -1, -1, 1.0, 0.0, 0, 0, 0};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:qh", bp_tool_gen_longopts, NULL)) != -1) {
        int r = bp_tool_common_opt(c, "prune", bp_tool_prune_usage, &cli);
        if (r == -2)
            return 2;
        if (r)
            continue;
        if (c == 'h') {
            fputs(bp_tool_prune_usage, stdout);
            return 0;
        }
        if (c == '?' || c == ':')
            return bp_tool_bad_opt("prune", bp_tool_prune_usage, argv);
        return bp_tool_usage_error("prune", bp_tool_prune_usage, "option '%s' is not for prune",
                                   argv[optind - 1]);
    }
    if (optind != argc - 1)
        return bp_tool_usage_error("prune", bp_tool_prune_usage,
                                   optind >= argc ? "missing IN" : "unexpected argument '%s'",
                                   optind >= argc ? "" : argv[optind + 1]);
    if (!cli.output)
        return bp_tool_usage_error("prune", bp_tool_prune_usage, "missing -o OUT");
    bp_tool_prune mode = cli.prune < 0 ? BP_TOOL_PRUNE_BIT : (bp_tool_prune)cli.prune;
    if (mode == BP_TOOL_PRUNE_NONE)
        return bp_tool_usage_error("prune", bp_tool_prune_usage,
                                   "--prune none: nothing to do (use bit or weight)");
    if (cli.lambda_set && mode != BP_TOOL_PRUNE_BIT)
        return bp_tool_usage_error("prune", bp_tool_prune_usage, "--lambda needs --prune bit");
    const char *in = argv[optind];
    if (bpf_check_output(cli.output) != BPF_OK) {
        fprintf(stderr, "bptool prune: %s\n", bpf_last_error());
        return 1;
    }

    bpf_model *m = NULL;
    bpf_status fs = bpf_load_file(in, 0, &m);
    if (fs != BPF_OK) {
        bp_tool_file_error("prune", in, bpf_last_error());
        return 1;
    }
    bpf_model_desc d;
    bpf_model_as_desc(m, &d);
    bp_tool_relayout g; /* the new layers and metadata; the rest is the loaded model's */
    memset(&g, 0, sizeof g);
    int rc = 1;
    g.layers = calloc(d.n_layers ? d.n_layers : 1, sizeof *g.layers);
    g.lsrc = calloc(d.n_layers ? d.n_layers : 1, sizeof *g.lsrc);
    g.meta = calloc(d.n_meta + 8, sizeof *g.meta);
    if (!g.layers || !g.lsrc || !g.meta)
        goto oom;
    memcpy(g.meta, d.meta, d.n_meta * sizeof *g.meta);
    g.n_meta = d.n_meta;
    for (uint32_t li = 0; li < d.n_layers; li++) {
        const bpf_layer *src = &d.layers[li];
        bpf_layer *l = &g.layers[li];
        bp_tool_layer *L = &g.lsrc[li];
        *l = *src;
        g.n_layers = li + 1;
        size_t n = (size_t)src->c_out * src->K;
        L->w = malloc((n ? n : 1) * sizeof *L->w);
        L->w_scale = malloc(src->c_out * sizeof *L->w_scale);
        L->bias = malloc(src->c_out * sizeof *L->bias);
        if (!L->w || !L->w_scale || !L->bias)
            goto oom;
        memcpy(L->w_scale, src->w_scale, src->c_out * sizeof *L->w_scale);
        memcpy(L->bias, src->bias, src->c_out * sizeof *L->bias);
        bp_planes p = {src->c_out, src->K, src->M, src->idx_bytes, src->row_ptr,
                       src->col_idx, NULL};
        bp_planes_to_dense(&p, L->w);
        bp_encoding enc = cli.enc >= 0 ? (bp_encoding)cli.enc : (bp_encoding)src->encoding;
        int prc = bp_tool_project_layer(L, l, mode, cli.lambda, cli.sparsity, enc, NULL);
        if (prc == -1) {
            fprintf(stderr, "bptool prune: layer %u: a weight exceeds w_max %u\n", li,
                    src->w_max);
            goto out;
        }
        if (prc)
            goto oom;
    }
    char v[64];
    bp_tool_kv_set(&g, "weights.prune", mode == BP_TOOL_PRUNE_BIT ? "bit" : "weight");
    snprintf(v, sizeof v, "%g", cli.lambda);
    bp_tool_kv_set(&g, "weights.lambda", mode == BP_TOOL_PRUNE_BIT ? v : "");
    bp_tool_kv_set(&g, "weights.prox",
                     mode != BP_TOOL_PRUNE_BIT ? ""
                     : d.n_layers && g.layers[0].encoding
                         ? "eq.8 p=1/2, argmin over the integers in each layer's "
                           "[-w_max,w_max], C_add=CSD digit count"
                         : "eq.8 p=1/2, argmin over the integers in each layer's "
                           "[-w_max,w_max], C_add=popcount");
    snprintf(v, sizeof v, "%g", cli.sparsity);
    bp_tool_kv_set(&g, "weights.sparsity", v);
    if (d.n_layers)
        bp_tool_kv_set(&g, "weights.encoding", g.layers[0].encoding ? "csd" : "binary");
    bp_tool_kv_set(&g, "weights.reprojected", "bptool prune (on the stored integer weights)");
    if (g.failed)
        goto oom;
    d.layers = g.layers;
    d.meta = g.meta;
    d.n_meta = g.n_meta;
    void *buf = NULL;
    size_t size = 0;
    fs = bpf_write_memory(&d, &buf, &size);
    if (fs != BPF_OK) {
        fprintf(stderr, "bptool prune: the re-projected model is not valid: %s\n",
                bpf_last_error());
        goto out;
    }
    fs = bpf_replace_file(cli.output, buf, size);
    free(buf);
    if (fs != BPF_OK) {
        fprintf(stderr, "bptool prune: %s\n", bpf_last_error());
        goto out;
    }
    rc = bp_tool_summary(cli.output, cli.quiet);
    goto out;
oom:
    fprintf(stderr, "bptool prune: out of memory\n");
out:
    bp_tool_relayout_free(&g);
    bpf_model_free(m);
    return rc;
}
