/* cmd_import.c: `bptool import MODEL.onnx -o MODEL.bp`: the command line of
 * the ONNX importer (options, file I/O without partial outputs, summary). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bitprune.h"
#include "onnx_import.h"

static const char bp_tool_import_usage[] =
    "usage: bptool import MODEL.onnx -o MODEL.bp [options]\n"
    "\n"
    "Converts an ONNX model (opset 9 and newer, one float input, one output) into a\n"
    "bit-pruned .bp model. Constant subgraphs are folded, BatchNormalization and\n"
    "per-channel affines are folded into the conv/dense layer before them, the erf\n"
    "form of GELU and decomposed LayerNorm are recognised. QDQ models keep their\n"
    "integer weights, per-channel weight scales and activation scales; float\n"
    "weights are quantized per output channel to [-WMAX, WMAX] and activation\n"
    "scales calibrated. An op the engine lacks fails naming the node and the op.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE       output model (required; not written on failure)\n"
    "  --calib FILE...         calibration inputs: raw float32 NCHW (whole inputs)\n"
    "                          or .npy (float32); more files may follow MODEL\n"
    "  --calib-method M        absmax | percentile (default absmax)\n"
    "  --percentile P          percentile of |x| for --calib-method percentile\n"
    "                          (default 99.99)\n"
    "  --calib-random N        without --calib: N random N(0,1) inputs (default 8;\n"
    "                          scales from noise are for speed tests only)\n"
    "  --wmax N                float weights per output channel to [-N, N], 1..255\n"
    "                          (default 127: beyond 127 onednn-int8 is inexact)\n"
    "  --prune MODE            bit | weight | none (default none), as bptool gen\n"
    "  --lambda L              proximal-map strength for --prune bit (default 1)\n"
    "  --sparsity S            magnitude-prune each layer to weight sparsity S\n"
    "  --encoding ENC          binary | csd digit planes (default binary)\n"
    "  --input HxW             spatial size of a 4-D input with symbolic dims\n"
    "  --seed N                seed of the random calibration inputs (default 1)\n"
    "  --no-report             skip the comparison with the float reference\n"
    "  -q, --quiet             no summary\n"
    "  -h, --help              this text\n"
    "\n"
    "The summary compares the written model (bitplane backend) with a float\n"
    "reference (weights at +-255 per channel, no pruning, float activations) on the\n"
    "calibration inputs: max and mean |difference| and top-1 agreement.\n";

enum { OPT_CALIB = 256, OPT_METHOD, OPT_PCT, OPT_RANDOM, OPT_WMAX, OPT_PRUNE, OPT_LAMBDA,
       OPT_SPARSITY, OPT_ENCODING, OPT_INPUT, OPT_SEED, OPT_NO_REPORT };

static const struct option bp_tool_import_longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"calib", required_argument, NULL, OPT_CALIB},
    {"calib-method", required_argument, NULL, OPT_METHOD},
    {"percentile", required_argument, NULL, OPT_PCT},
    {"calib-random", required_argument, NULL, OPT_RANDOM},
    {"wmax", required_argument, NULL, OPT_WMAX},
    {"prune", required_argument, NULL, OPT_PRUNE},
    {"lambda", required_argument, NULL, OPT_LAMBDA},
    {"sparsity", required_argument, NULL, OPT_SPARSITY},
    {"encoding", required_argument, NULL, OPT_ENCODING},
    {"input", required_argument, NULL, OPT_INPUT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"no-report", no_argument, NULL, OPT_NO_REPORT},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

#define BP_IMPORT_USAGE(...) bp_tool_usage_error("import", bp_tool_import_usage, __VA_ARGS__)

/* Writes buf to path through a temporary file in the same directory, so a
 * failure leaves no partial output. */
static int bp_tool_write_atomic(const char *path, const void *buf, size_t size)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        fprintf(stderr, "bptool import: out of memory\n");
        return -1;
    }
    snprintf(tmp, n + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "bptool import: %s: cannot create: %s\n", path, strerror(errno));
        free(tmp);
        return -1;
    }
    mode_t um = umask(0); /* mkstemp makes 0600; give the file the usual mode */
    umask(um);
    if (fchmod(fd, 0666 & ~um)) {
        fprintf(stderr, "bptool import: %s: %s\n", tmp, strerror(errno));
        close(fd);
        remove(tmp);
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "wb");
    int bad = !f;
    if (f) {
        bad = fwrite(buf, 1, size, f) != size;
        bad |= fclose(f) != 0;
    } else {
        close(fd);
    }
    if (bad || rename(tmp, path)) {
        fprintf(stderr, "bptool import: writing %s failed: %s\n", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static void *bp_tool_slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bptool import: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, len = 0;
    char *b = malloc(cap);
    while (b) {
        if (len == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + len, 1, cap - len, f);
        len += r;
        if (!r)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (!b || err) {
        fprintf(stderr, "bptool import: %s: %s\n", path, b ? "read error" : "out of memory");
        free(b);
        return NULL;
    }
    *size = len;
    return b;
}

static void bp_tool_import_summary(const char *path, const void *buf, size_t size,
                                   const bp_tool_import_result *r)
{
    bp_model *m = NULL;
    const bp_model_info *mi;
    if (bp_model_load_memory(buf, size, NULL, &m) == BP_OK && bp_model_info_get(m, &mi) == BP_OK)
        printf("wrote %s: %u layers (%u with QDQ integer weights), %.3fM weights, sparsity "
               "%.3f, digits/weight %.3f, %.3f GMAC/image\n",
               path, mi->n_layers, r->n_qdq_layers, mi->weights / 1e6, mi->sparsity,
               mi->digits_per_weight, mi->macs / 1e9);
    bp_model_free(m);
    printf("normalised: %d batch norms folded into layers, %d other affines folded, %d GELU, "
           "%d LayerNorm, %d HardSwish recognised\n", r->n_folded_bn, r->n_affine_folded,
           r->n_gelu, r->n_layernorm, r->n_hardswish);
    if (r->n_qdq_layers || r->n_dropped_q)
        printf("QDQ: %u layer inputs take their QuantizeLinear scale (%d approximated); %d "
               "QuantizeLinear/DequantizeLinear pairs elsewhere are kept in float\n",
               r->n_layers - r->n_calibrated, r->n_requant, r->n_dropped_q);
    if (r->n_calibrated)
        printf("calibrated %u layer inputs on %u %s\n", r->n_calibrated, r->n_images,
               r->calib_random ? "random N(0,1) inputs (no --calib: scales are not meant for "
                                 "accuracy)"
                               : "calibration inputs");
    if (r->have_report)
        printf("vs float reference on %u %sinputs: max |diff| %.4g (%.2f%% of max |ref| %.4g), "
               "mean |diff| %.4g, top-1 agreement %u/%u\n",
               r->n_images, r->calib_random ? "random N(0,1) " : "", r->max_diff, r->ref_max > 0 ? 100.0 * r->max_diff / r->ref_max : 0.0,
               r->ref_max, r->mean_diff, r->top1_agree, r->n_images);
}

int bp_tool_cmd_import(int argc, char **argv)
{
    bp_tool_import_opts o;
    bp_tool_import_opts_default(&o);
    const char *out = NULL;
    int quiet = 0, lambda_set = 0, calib_given = 0;
    const char **calib = calloc((size_t)argc + 1, sizeof *calib);
    uint32_t n_calib = 0;
    int c, rc = 2;
    double d;
    uint64_t u;
    if (!calib) {
        fprintf(stderr, "bptool import: out of memory\n");
        return 1;
    }
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:qh", bp_tool_import_longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case 'h':
            fputs(bp_tool_import_usage, stdout);
            free(calib);
            return 0;
        case OPT_CALIB:
            calib[n_calib++] = optarg;
            calib_given = 1;
            break;
        case OPT_METHOD:
            if (!strcmp(optarg, "absmax"))
                o.method = BP_TOOL_CALIB_ABSMAX;
            else if (!strcmp(optarg, "percentile"))
                o.method = BP_TOOL_CALIB_PERCENTILE;
            else {
                BP_IMPORT_USAGE("--calib-method: '%s' is not absmax or percentile", optarg);
                goto out;
            }
            break;
        case OPT_PCT:
            if (bp_tool_parse_double(optarg, &d) || !(d > 0) || d > 100) {
                BP_IMPORT_USAGE("--percentile: '%s' is not a number in (0, 100]", optarg);
                goto out;
            }
            o.percentile = d;
            break;
        case OPT_RANDOM:
            if (bp_tool_parse_u64(optarg, &u) || u < 1 || u > 256) {
                BP_IMPORT_USAGE("--calib-random: '%s' is not in 1..256", optarg);
                goto out;
            }
            o.random_calib = (uint32_t)u;
            break;
        case OPT_WMAX:
            if (bp_tool_parse_u64(optarg, &u) || u < 1 || u > 255) {
                BP_IMPORT_USAGE("--wmax: '%s' is not in 1..255", optarg);
                goto out;
            }
            o.wmax = (int)u;
            break;
        case OPT_PRUNE:
            if (!strcmp(optarg, "bit"))
                o.prune = BP_TOOL_PRUNE_BIT;
            else if (!strcmp(optarg, "weight"))
                o.prune = BP_TOOL_PRUNE_WEIGHT;
            else if (!strcmp(optarg, "none"))
                o.prune = BP_TOOL_PRUNE_NONE;
            else {
                BP_IMPORT_USAGE("--prune: '%s' is not bit, weight or none", optarg);
                goto out;
            }
            break;
        case OPT_LAMBDA:
            if (bp_tool_parse_double(optarg, &d) || !isfinite(d) || d < 0 || d > 1e6) {
                BP_IMPORT_USAGE("--lambda: '%s' is not a number >= 0", optarg);
                goto out;
            }
            o.lambda = d;
            lambda_set = 1;
            break;
        case OPT_SPARSITY:
            if (bp_tool_parse_double(optarg, &d) || !(d >= 0) || d > 1) {
                BP_IMPORT_USAGE("--sparsity: '%s' is not a number in [0, 1]", optarg);
                goto out;
            }
            o.sparsity = d;
            break;
        case OPT_ENCODING:
            if (!strcmp(optarg, "binary"))
                o.encoding = BP_ENC_BINARY;
            else if (!strcmp(optarg, "csd"))
                o.encoding = BP_ENC_CSD;
            else {
                BP_IMPORT_USAGE("--encoding: '%s' is not binary or csd", optarg);
                goto out;
            }
            break;
        case OPT_INPUT:
            if (bp_tool_parse_hw(optarg, &o.in_h, &o.in_w)) {
                BP_IMPORT_USAGE("--input: '%s' is not HxW (1..8192)", optarg);
                goto out;
            }
            break;
        case OPT_NO_REPORT: o.report = 0; break;
        case OPT_SEED:
            if (bp_tool_parse_u64(optarg, &o.seed)) {
                BP_IMPORT_USAGE("--seed: '%s' is not an unsigned integer", optarg);
                goto out;
            }
            break;
        default:
            if (optopt && optopt < 256 && optopt != '?')
                BP_IMPORT_USAGE("option '-%c' is unknown or needs a value", optopt);
            else
                BP_IMPORT_USAGE("option '%s' is unknown or needs a value", argv[optind - 1]);
            goto out;
        }
    }
    if (optind >= argc) {
        BP_IMPORT_USAGE("missing MODEL.onnx");
        goto out;
    }
    const char *model = argv[optind];
    for (int i = optind + 1; i < argc; i++) {
        if (!calib_given) {
            BP_IMPORT_USAGE("unexpected argument '%s'", argv[i]);
            goto out;
        }
        calib[n_calib++] = argv[i];
    }
    if (!out) {
        BP_IMPORT_USAGE("missing -o FILE");
        goto out;
    }
    if (o.sparsity > 0 && o.prune == BP_TOOL_PRUNE_NONE) {
        BP_IMPORT_USAGE("--sparsity needs --prune bit or --prune weight");
        goto out;
    }
    if (lambda_set && o.prune != BP_TOOL_PRUNE_BIT) {
        BP_IMPORT_USAGE("--lambda needs --prune bit");
        goto out;
    }
    o.calib = calib;
    o.n_calib = n_calib;
    o.source = model;
    rc = 1;
    size_t size = 0;
    void *onnx = bp_tool_slurp(model, &size);
    if (!onnx)
        goto out;
    void *buf = NULL;
    size_t bsize = 0;
    char err[1024];
    bp_tool_import_result res;
    if (bp_tool_onnx_import(&o, onnx, size, &buf, &bsize, &res, err, sizeof err)) {
        fprintf(stderr, "bptool import: %s: %s\n", model, err);
        free(onnx);
        goto out;
    }
    free(onnx);
    if (bp_tool_write_atomic(out, buf, bsize) == 0) {
        rc = 0;
        if (!quiet)
            bp_tool_import_summary(out, buf, bsize, &res);
    }
    free(buf);
out:
    free(calib);
    return rc;
}
