/* cmd_eval.c: `bptool eval MODEL.bp --data fashion-mnist`: top-1 accuracy on
 * the test set, the paper's operation counts and energy estimates. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitprune.h"
#include "bptool.h"
#include "eval_data.h"
#include "opcount.h"

static const char bp_tool_eval_usage[] =
    "usage: bptool eval MODEL.bp --data fashion-mnist [options]\n"
    "\n"
    "Runs the model over the 10k-image Fashion-MNIST test set (Debian package\n"
    "dataset-fashion-mnist; input 1x28x28, pixel/255) and prints its top-1\n"
    "accuracy, then the paper's operation counts per image (Table 2, summed over\n"
    "the conv/linear layers, from the engine's bp_session_count_ops) and their\n"
    "energy under Table 1's costs, for dense and sparse mult-add and for\n"
    "add-shift-add in binary and CSD digits.\n"
    "\n"
    "options:\n"
    "  --data NAME        test set: fashion-mnist (required)\n"
    "  --data-dir DIR     where its IDX files are (default " BP_TOOL_FMNIST_DIR ")\n"
    "  --limit N          the first N test images only (default all)\n"
    "  --count-limit N    images the operation counts average over (default 1000,\n"
    "                     at most the evaluated ones; 0: skip the counts)\n"
    "  --backend B        engine backend (default bitplane)\n"
    "  --batch N          images per run (default 100)\n"
    "  --threads N        threads (default 1)\n"
    "  --pred FILE        write the predicted class of each image, one byte each\n"
    "  --json             one JSON object on stdout instead of the text report\n"
    "  -h, --help         this text\n"
    "\n"
    "A progress bar goes to stderr when it is a terminal.\n";

enum { OPT_DATA = 256, OPT_DIR, OPT_LIMIT, OPT_CLIMIT, OPT_BACKEND, OPT_BATCH, OPT_THREADS,
       OPT_PRED, OPT_JSON };

static const struct option bp_tool_eval_longopts[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"data-dir", required_argument, NULL, OPT_DIR},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"count-limit", required_argument, NULL, OPT_CLIMIT},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"pred", required_argument, NULL, OPT_PRED},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

#define BP_EVAL_USAGE(...) bp_tool_usage_error("eval", bp_tool_eval_usage, __VA_ARGS__)

typedef struct bp_tool_eval_counts {
    double macs, mults_w, mults_wx, dig[4]; /* dig: binary w, wx, csd w, wx */
    double mw_bin, mw_csd;                  /* M * macs per encoding */
    bp_bench_ops tot[BP_BENCH_SCHEMES];     /* per image */
} bp_tool_eval_counts;

/* Counts the operations of images [0, n) with sessions of batch <= 100 and
 * folds them per image through the bench's Table 2 formulas. */
static int bp_tool_eval_count(const bp_model *m, const bp_model_info *mi, const bp_tool_dataset *ds,
                              uint32_t n, bp_tool_eval_counts *ec)
{
    memset(ec, 0, sizeof *ec);
    bp_layer_counts *sum = calloc(mi->n_layers, sizeof *sum), *c = calloc(mi->n_layers, sizeof *c);
    size_t px = (size_t)ds->h * ds->w;
    float *in = malloc(100 * px * sizeof *in);
    int rc = -1;
    if (!sum || !c || !in)
        goto done;
    for (uint32_t i0 = 0; i0 < n;) {
        uint32_t b = n - i0 < 100 ? n - i0 : 100;
        bp_session_opts so;
        bp_session_opts_init(&so);
        so.backend = "reference";
        so.threads = 1;
        so.batch = b;
        bp_session *s = NULL;
        if (bp_session_create(m, &so, &s) != BP_OK) {
            fprintf(stderr, "bptool eval: op counts: %s\n", bp_last_error());
            goto done;
        }
        for (size_t k = 0; k < (size_t)b * px; k++)
            in[k] = (float)ds->images[(size_t)i0 * px + k] / 255.0f;
        const float *ins[1] = {in};
        bp_status st = bp_session_count_ops(s, ins, c);
        bp_session_free(s);
        if (st != BP_OK) {
            fprintf(stderr, "bptool eval: op counts: %s\n", bp_last_error());
            goto done;
        }
        for (uint32_t l = 0; l < mi->n_layers; l++) {
            sum[l].dots += c[l].dots;
            sum[l].macs_dense += c[l].macs_dense;
            sum[l].mults_w += c[l].mults_w;
            sum[l].mults_wx += c[l].mults_wx;
            sum[l].adds_binary_w += c[l].adds_binary_w;
            sum[l].adds_binary_wx += c[l].adds_binary_wx;
            sum[l].adds_csd_w += c[l].adds_csd_w;
            sum[l].adds_csd_wx += c[l].adds_csd_wx;
        }
        i0 += b;
    }
    for (uint32_t l = 0; l < mi->n_layers; l++) {
        const bp_layer_info *li = &mi->layers[l];
        int32_t wm = (int32_t)(li->w_max ? li->w_max : 1);
        uint32_t Mb = bp_digits_positions(wm, BP_ENC_BINARY), Mc = bp_digits_positions(wm, BP_ENC_CSD);
        bp_bench_ops lo[BP_BENCH_SCHEMES];
        bp_bench_layer_ops(&sum[l], li->K, Mb, Mc, lo);
        for (int k = 0; k < BP_BENCH_SCHEMES; k++) {
            ec->tot[k].mults += lo[k].mults / n;
            ec->tot[k].adds += lo[k].adds / n;
            ec->tot[k].shifts += lo[k].shifts / n;
        }
        ec->macs += (double)sum[l].macs_dense / n;
        ec->mw_bin += (double)Mb * (double)sum[l].macs_dense / n;
        ec->mw_csd += (double)Mc * (double)sum[l].macs_dense / n;
        ec->mults_w += (double)sum[l].mults_w / n;
        ec->mults_wx += (double)sum[l].mults_wx / n;
        ec->dig[0] += (double)sum[l].adds_binary_w / n;
        ec->dig[1] += (double)sum[l].adds_binary_wx / n;
        ec->dig[2] += (double)sum[l].adds_csd_w / n;
        ec->dig[3] += (double)sum[l].adds_csd_wx / n;
    }
    rc = 0;
done:
    free(sum);
    free(c);
    free(in);
    return rc;
}

static const char *const bp_tool_scheme_label[BP_BENCH_SCHEMES] = {
    "dense mult-add", "sparse mult-add (w)", "sparse mult-add (w,x)",
    "add-shift-add binary (w)", "add-shift-add binary (w,x)", "add-shift-add CSD (w)",
    "add-shift-add CSD (w,x)"};

static void bp_tool_eval_print(const char *path, const char *backend, uint32_t n, uint32_t correct,
                               uint32_t cn, const bp_tool_eval_counts *ec, int json)
{
    double top1 = n ? (double)correct / n : 0;
    if (json) {
        printf("{\"model\": \"%s\", \"backend\": \"%s\", \"images\": %u, \"correct\": %u, "
               "\"top1\": %.6f, \"count_images\": %u", path, backend, n, correct, top1, cn);
        if (cn) {
            printf(", \"macs\": %.1f, \"sigma_mult_w\": %.6f, \"sigma_mult_wx\": %.6f, "
                   "\"sigma_add_binary_w\": %.6f, \"sigma_add_binary_wx\": %.6f, "
                   "\"sigma_add_csd_w\": %.6f, \"sigma_add_csd_wx\": %.6f, \"ops\": {",
                   ec->macs, ec->mults_w / ec->macs, ec->mults_wx / ec->macs,
                   ec->dig[0] / ec->mw_bin, ec->dig[1] / ec->mw_bin, ec->dig[2] / ec->mw_csd,
                   ec->dig[3] / ec->mw_csd);
            for (int k = 0; k < BP_BENCH_SCHEMES; k++) {
                printf("%s\"%s\": {\"mults\": %.1f, \"adds\": %.1f, \"shifts\": %.1f, "
                       "\"energy_uj\": {", k ? ", " : "", bp_bench_scheme_key[k], ec->tot[k].mults,
                       ec->tot[k].adds, ec->tot[k].shifts);
                for (int e = 0; e < BP_BENCH_EMODELS; e++)
                    printf("%s\"%s\": %.6g", e ? ", " : "", bp_bench_emodel[e].key,
                           bp_bench_energy_pj(&ec->tot[k], &bp_bench_emodel[e]) * 1e-6);
                printf("}}");
            }
            printf("}");
        }
        printf("}\n");
        return;
    }
    printf("%s on fashion-mnist test (%u images, backend %s)\n", path, n, backend);
    printf("top-1 accuracy: %.2f%% (%u/%u)\n", 100.0 * top1, correct, n);
    if (!cn)
        return;
    printf("\nper image, averaged over the first %u images; (w): weight sparsity only,\n"
           "(w,x): zero activations skipped too. Energy in uJ (paper Table 1 costs).\n\n", cn);
    printf("%-28s %12s %12s %10s %10s %10s\n", "scheme", "mults", "adds", "shifts",
           "ASIC FIX8", "ASIC FIX32");
    for (int k = 0; k < BP_BENCH_SCHEMES; k++)
        printf("%-28s %12.0f %12.0f %10.0f %10.4f %10.4f\n", bp_tool_scheme_label[k],
               ec->tot[k].mults, ec->tot[k].adds, ec->tot[k].shifts,
               bp_bench_energy_pj(&ec->tot[k], &bp_bench_emodel[0]) * 1e-6,
               bp_bench_energy_pj(&ec->tot[k], &bp_bench_emodel[1]) * 1e-6);
    printf("\ndense MACs %.0f; sigma_mult %.4f (w) %.4f (w,x); sigma_add binary %.4f (w) "
           "%.4f (w,x), CSD %.4f (w) %.4f (w,x)\n", ec->macs, ec->mults_w / ec->macs,
           ec->mults_wx / ec->macs, ec->dig[0] / ec->mw_bin, ec->dig[1] / ec->mw_bin,
           ec->dig[2] / ec->mw_csd, ec->dig[3] / ec->mw_csd);
}

int bp_tool_cmd_eval(int argc, char **argv)
{
    const char *data = NULL, *dir = NULL, *backend = "bitplane", *pred_path = NULL;
    uint64_t limit = 0, climit = 1000, batch = 100, threads = 1;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", bp_tool_eval_longopts, NULL)) != -1) {
        switch (c) {
        case OPT_DATA: data = optarg; break;
        case OPT_DIR: dir = optarg; break;
        case OPT_LIMIT:
            if (bp_tool_parse_u64(optarg, &limit) || limit == 0)
                return BP_EVAL_USAGE("--limit wants a positive integer, got '%s'", optarg);
            break;
        case OPT_CLIMIT:
            if (bp_tool_parse_u64(optarg, &climit))
                return BP_EVAL_USAGE("--count-limit wants an integer >= 0, got '%s'", optarg);
            break;
        case OPT_BACKEND: backend = optarg; break;
        case OPT_BATCH:
            if (bp_tool_parse_u64(optarg, &batch) || batch == 0 || batch > 65536)
                return BP_EVAL_USAGE("--batch wants 1..65536, got '%s'", optarg);
            break;
        case OPT_THREADS:
            if (bp_tool_parse_u64(optarg, &threads) || threads == 0 || threads > 1024)
                return BP_EVAL_USAGE("--threads wants 1..1024, got '%s'", optarg);
            break;
        case OPT_PRED: pred_path = optarg; break;
        case OPT_JSON: json = 1; break;
        case 'h': fputs(bp_tool_eval_usage, stdout); return 0;
        case ':': return BP_EVAL_USAGE("option '%s' needs a value", argv[optind - 1]);
        default: return BP_EVAL_USAGE("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return BP_EVAL_USAGE(optind >= argc ? "missing MODEL.bp" : "one model expected");
    if (!data)
        return BP_EVAL_USAGE("missing --data (fashion-mnist)");
    if (strcmp(data, "fashion-mnist"))
        return BP_EVAL_USAGE("unknown data set '%s' (fashion-mnist)", data);
    const char *path = argv[optind];

    char err[8192];
    bp_tool_dataset ds;
    if (bp_tool_fmnist_test_load(dir, &ds, err, sizeof err)) {
        fprintf(stderr, "bptool eval: %s\n", err);
        return 1;
    }
    bp_model *m = NULL;
    bp_session *s = NULL;
    uint8_t *pred = NULL;
    int rc = 1;
    if (bp_model_load_file(path, NULL, &m) != BP_OK) {
        bp_tool_file_error("eval", path, bp_last_error());
        goto out;
    }
    const bp_model_info *mi;
    bp_model_info_get(m, &mi);
    const bp_tensor_info *ti = &mi->inputs[0], *to = &mi->outputs[0];
    if (mi->n_inputs != 1 || mi->n_outputs != 1 || ti->ndim != 4 || ti->dims[1] != 1 ||
        ti->dims[2] != ds.h || ti->dims[3] != ds.w || to->ndim != 2 || to->dims[1] < 10) {
        fprintf(stderr, "bptool eval: %s: the model takes input '%s' of %u dims (1x%ux%u "
                "wanted) and gives '%s' of %u dims ((N, >= 10) wanted)\n", path, ti->name,
                ti->ndim, ds.h, ds.w, to->name, to->ndim);
        goto out;
    }
    uint32_t n = limit && limit < ds.n ? (uint32_t)limit : ds.n;
    uint32_t cn = climit < n ? (uint32_t)climit : n;
    bp_session_opts so;
    bp_session_opts_init(&so);
    so.backend = backend;
    so.threads = (int)threads;
    so.batch = (uint32_t)(batch < n ? batch : n);
    if (bp_session_create(m, &so, &s) != BP_OK) {
        fprintf(stderr, "bptool eval: %s: backend %s: %s\n", path, backend, bp_last_error());
        goto out;
    }
    pred = malloc(n);
    if (!pred) {
        fprintf(stderr, "bptool eval: out of memory\n");
        goto out;
    }
    bp_status st = bp_tool_eval_images(s, so.batch, &ds, n, to->dims[1], isatty(2), pred, NULL);
    if (st != BP_OK) {
        fprintf(stderr, "bptool eval: %s: run failed: %s: %s\n", path, bp_status_string(st),
                bp_last_error());
        goto out;
    }
    uint32_t correct = 0;
    for (uint32_t i = 0; i < n; i++)
        correct += pred[i] == ds.labels[i];
    bp_tool_eval_counts ec;
    if (cn && bp_tool_eval_count(m, mi, &ds, cn, &ec))
        goto out;
    if (pred_path) {
        FILE *f = fopen(pred_path, "wb");
        int bad = !f || fwrite(pred, 1, n, f) != n;
        if ((f && fclose(f)) || bad) {
            fprintf(stderr, "bptool eval: %s: cannot write the predictions\n", pred_path);
            goto out;
        }
    }
    bp_tool_eval_print(path, backend, n, correct, cn, &ec, json);
    rc = 0;
out:
    free(pred);
    bp_session_free(s);
    bp_model_free(m);
    bp_tool_dataset_free(&ds);
    return rc;
}
