/* cmd_info.c: the model-reading commands, `bptool info` (per-layer table and
 * a weight histogram coloured by add count, text or SVG) and `bptool verify`. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitprune.h"
#include "bptool.h"

static const char bp_tool_info_usage[] =
    "usage: bptool info FILE [options]\n"
    "\n"
    "Prints a per-layer table (shape, K, nonzero weights, digits in binary and\n"
    "CSD, sigma_mult = nonzeros/weights, sigma_add = binary digits/(M*weights),\n"
    "digits per weight) and a histogram of the integer weight values whose\n"
    "glyph (or colour, on a terminal) is the add count of the value in the\n"
    "stored encoding, like Figure 6 of the paper.\n"
    "\n"
    "options:\n"
    "  --layer N|NAME   histogram of one layer (index or node name; default all)\n"
    "  --svg FILE       also write the histogram as an SVG image\n"
    "  --log-y          log-scale count axis in the SVG (w=0 drawn, not clipped)\n"
    "  --no-hist        table only\n"
    "  --color WHEN     auto | always | never (default auto: only on a terminal)\n"
    "  -h, --help       this text\n";

static const char bp_tool_verify_usage[] =
    "usage: bptool verify FILE\n"
    "\n"
    "Fully validates a model file (structure, limits, digit planes, graph, and\n"
    "the xxh3 checksum of every section), then checks that the engine can run\n"
    "it: loads it and plans a session on the reference backend at batch 1 and 2.\n"
    "\n"
    "exit status:\n"
    "  0  valid, and the engine runs it (one line starting with OK)\n"
    "  1  not a valid .bp file, or unreadable (the status, what and where)\n"
    "  2  usage error\n"
    "  3  a valid .bp file the engine cannot run (\"valid .bp file, but the\n"
    "     engine cannot run it: \" and the reason)\n";

enum { OPT_LAYER = 256, OPT_SVG, OPT_NOHIST, OPT_COLOR, OPT_LOGY };

#define BP_TOOL_HVALS (2 * BP_W_MAX + 1) /* histogram over [-255, 255] */

typedef struct bp_tool_hist {
    uint64_t count[BP_TOOL_HVALS];
    int enc_csd; /* add count taken from this encoding */
    int wmax;    /* largest |w| declared by the layers histogrammed */
} bp_tool_hist;

static int bp_tool_adds(int v, int csd)
{
    uint32_t a = (uint32_t)(v < 0 ? -v : v);
    return csd ? bp_tool_cost_csd(a) : bp_tool_cost_binary(a);
}

/* ANSI colours per add count 1..9 (index 0 unused). */
static const char *const bp_tool_ansi[10] = {"",         "\033[32m", "\033[33m", "\033[35m",
                                             "\033[31m", "\033[36m", "\033[34m", "\033[91m",
                                             "\033[95m", "\033[90m"};
static const char *const bp_tool_svgcol[10] = {"#bbbbbb", "#1f9e3a", "#e0b000", "#b03bb0",
                                               "#d62728", "#17becf", "#1f4fd6", "#ff7f0e",
                                               "#8c564b", "#555555"};

static void bp_tool_hist_text(const bp_tool_hist *h, int color)
{
    int wmax = h->wmax;
    uint64_t total = 0, nonzero = 0;
    int distinct = 0;
    for (int v = -wmax; v <= wmax; v++) {
        uint64_t c = h->count[v + BP_W_MAX];
        total += c;
        if (v && c) {
            nonzero += c;
            distinct++;
        }
    }
    printf("\nweight histogram (%s add count per value: glyph digit%s)\n",
           h->enc_csd ? "CSD" : "binary", color ? " and colour" : "");
    printf("  value 0: %llu of %llu weights (%.2f%%), not drawn\n",
           (unsigned long long)h->count[BP_W_MAX], (unsigned long long)total,
           total ? 100.0 * h->count[BP_W_MAX] / total : 0.0);
    if (!nonzero)
        return;
    /* One row per value when few are used, else bins of `bw` values, each row
     * stacked by add count. */
    int bw = 1;
    while (distinct > 48 && (2 * wmax + 1 + bw - 1) / bw > 40)
        bw *= 2;
    const int width = 56;
    uint64_t rowmax = 0;
    for (int lo = -wmax; lo <= wmax; lo += bw) {
        uint64_t s = 0;
        for (int v = lo; v < lo + bw && v <= wmax; v++)
            s += v ? h->count[v + BP_W_MAX] : 0;
        if (s > rowmax)
            rowmax = s;
    }
    for (int lo = -wmax; lo <= wmax; lo += bw) {
        int hi = lo + bw - 1 > wmax ? wmax : lo + bw - 1;
        uint64_t by_add[10] = {0}, s = 0;
        for (int v = lo; v <= hi; v++) {
            if (!v)
                continue;
            by_add[bp_tool_adds(v, h->enc_csd)] += h->count[v + BP_W_MAX];
            s += h->count[v + BP_W_MAX];
        }
        if (bw == 1 && !s)
            continue;
        if (bw == 1)
            printf("  %9d %10llu ", lo, (unsigned long long)s);
        else
            printf("  [%4d,%4d] %10llu ", lo, hi, (unsigned long long)s);
        /* segment lengths: cumulative rounding so the bar length is exact */
        uint64_t cum = 0;
        int drawn = 0;
        for (int a = 1; a < 10; a++) {
            cum += by_add[a];
            int upto = (int)((cum * (uint64_t)width + rowmax / 2) / rowmax);
            if (by_add[a] && upto == drawn && drawn < width)
                upto = drawn + 1; /* a nonzero class is always visible */
            if (color && upto > drawn)
                fputs(bp_tool_ansi[a], stdout);
            for (; drawn < upto; drawn++)
                putchar('0' + a);
            if (color && by_add[a])
                fputs("\033[0m", stdout);
        }
        putchar('\n');
    }
}

/* y position of count c on the plot (y0 top, plot_h tall). Log scale: the
 * axis starts at 0.5, so a count of 1 still has a visible bar; zero counts
 * have no bar on either scale. */
static double bp_tool_svg_y(double c, double ymax, int log_y, double y0, double plot_h)
{
    double f = log_y ? log10(c / 0.5) / log10(ymax / 0.5) : c / ymax;
    if (f > 1)
        f = 1;
    return y0 + plot_h * (1 - f);
}

/* A tick label: 500, 20k, 1.5M, 10G. */
static const char *bp_tool_count_label(char b[16], double t)
{
    static const char *const sfx[] = {"", "k", "M", "G", "T"};
    int i = 0;
    while (t >= 1000 && i < 4) {
        t /= 1000;
        i++;
    }
    snprintf(b, 16, "%.3g%s", t, sfx[i]);
    return b;
}

static void bp_tool_hist_svg(const bp_tool_hist *h, FILE *f, const char *title, int log_y)
{
    int wmax = h->wmax, n = 2 * wmax + 1;
    const double plot_h = 260, x0 = 80, y0 = 40;
    double bar = n <= 64 ? 10.0 : n <= 300 ? 3.0 : 1.6;
    double W = x0 + n * bar + 200, H = y0 + plot_h + 55;
    uint64_t ymax = 0, zero = h->count[BP_W_MAX];
    int used[10] = {0};
    for (int v = -wmax; v <= wmax; v++) {
        uint64_t c = h->count[v + BP_W_MAX];
        if (c)
            used[bp_tool_adds(v, h->enc_csd)] = 1;
        if (v && c > ymax)
            ymax = c;
    }
    /* Linear: w=0 is clipped at the top (it dwarfs the rest); log: drawn. */
    if (log_y && zero > ymax)
        ymax = zero;
    if (!ymax)
        ymax = 1;
    /* Axis top: linear rounds up to a 1-2-5 step (about 5 ticks); log to a decade. */
    double step = 1, top;
    if (log_y) {
        top = pow(10, ceil(log10((double)ymax)));
        if (top < 10)
            top = 10;
    } else {
        double raw = (double)ymax / 5, p10 = pow(10, floor(log10(raw > 1 ? raw : 1)));
        step = raw <= p10 ? p10 : raw <= 2 * p10 ? 2 * p10 : raw <= 5 * p10 ? 5 * p10 : 10 * p10;
        if (step < 1)
            step = 1;
        top = step * ceil((double)ymax / step);
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "font-family=\"sans-serif\" font-size=\"11\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%.0f\" y=\"20\" font-size=\"13\">%s</text>\n",
            W, H, x0, title);
    /* y ticks and grid */
    char lb[16];
    if (log_y) {
        for (double t = 1; t <= top * 1.0001; t *= 10) {
            double y = bp_tool_svg_y(t, top, 1, y0, plot_h);
            fprintf(f,
                    "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                    "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                    x0, y, x0 + n * bar, y, x0 - 5, y + 4, bp_tool_count_label(lb, t));
        }
    } else {
        for (double t = 0; t <= top * 1.0001; t += step) {
            double y = bp_tool_svg_y(t, top, 0, y0, plot_h);
            fprintf(f,
                    "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                    "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                    x0, y, x0 + n * bar, y, x0 - 5, y + 4, bp_tool_count_label(lb, t));
        }
    }
    for (int v = -wmax; v <= wmax; v++) {
        uint64_t c = h->count[v + BP_W_MAX];
        if (!c)
            continue;
        double y = bp_tool_svg_y((double)c, top, log_y, y0, plot_h);
        double bh = y0 + plot_h - y;
        if (bh < 2)
            bh = 2; /* a nonzero count is always visible */
        int a = bp_tool_adds(v, h->enc_csd);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                "<title>w=%d: %llu (adds %d)</title></rect>\n",
                x0 + (v + wmax) * bar, y0 + plot_h - bh, bar, bh, bp_tool_svgcol[a], v,
                (unsigned long long)c, a);
    }
    if (!log_y && zero > ymax)
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">w=0: %llu (clipped)"
                   "</text>\n",
                x0 + (wmax + 0.5) * bar, y0 - 4, (unsigned long long)zero);
    fprintf(f,
            "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"black\"/>\n"
            "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
            x0, y0 + plot_h, x0 + n * bar, y0 + plot_h, x0, y0, x0, y0 + plot_h);
    int xs = wmax >= 8 ? wmax / 4 : 1;
    if (wmax >= 100)
        xs = wmax >= 200 ? 64 : 32;
    for (int t = 0; t <= wmax; t += xs)
        for (int sgn = (t ? -1 : 1); sgn <= 1; sgn += 2)
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"black\"/>"
                    "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%d</text>\n",
                    x0 + (sgn * t + wmax + 0.5) * bar, y0 + plot_h,
                    x0 + (sgn * t + wmax + 0.5) * bar, y0 + plot_h + 4,
                    x0 + (sgn * t + wmax + 0.5) * bar, y0 + plot_h + 16, sgn * t);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">weight value (integer)</text>\n",
            x0 + n * bar / 2, y0 + plot_h + 36);
    fprintf(f,
            "<text transform=\"translate(%.0f,%.0f) rotate(-90)\" text-anchor=\"middle\">"
            "weights with this value%s</text>\n",
            x0 - 45, y0 + plot_h / 2, log_y ? " (log scale)" : "");
    double lx = x0 + n * bar + 20;
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">adds per weight (%s)</text>\n", lx, y0 + 8,
            h->enc_csd ? "CSD" : "binary");
    int row = 0;
    for (int a = 0; a < 10; a++) {
        if (!used[a])
            continue;
        fprintf(f,
                "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%.0f\" y=\"%.0f\">%d%s</text>\n",
                lx, y0 + 16 + row * 18.0, bp_tool_svgcol[a], lx + 18, y0 + 26 + row * 18.0, a,
                a ? "" : " (w=0)");
        row++;
    }
    fputs("</svg>\n", f);
}

/* Renders the SVG in memory and replaces path with it atomically. */
static int bp_tool_write_svg(const bp_tool_hist *h, const char *path, const char *title,
                             int log_y)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        fprintf(stderr, "bptool info: out of memory for the SVG\n");
        return -1;
    }
    bp_tool_hist_svg(h, f, title, log_y);
    int bad = ferror(f);
    if (fclose(f) || bad) {
        free(buf);
        fprintf(stderr, "bptool info: out of memory for the SVG\n");
        return -1;
    }
    bpf_status fs = bpf_replace_file(path, buf, size);
    free(buf);
    if (fs != BPF_OK) {
        fprintf(stderr, "bptool info: %s\n", bpf_last_error());
        return -1;
    }
    return 0;
}

/* num/den right-aligned in width with prec decimals, or "-" when den is 0. */
static const char *bp_tool_ratio(char b[16], int width, int prec, double num, double den)
{
    if (den > 0)
        snprintf(b, 16, "%*.*f", width, prec, num / den);
    else
        snprintf(b, 16, "%*s", width, "-");
    return b;
}

static const char *bp_tool_layer_name(const bpf_model *m, uint32_t li)
{
    for (uint32_t i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].layer == li &&
            (m->nodes[i].op == BPF_OP_CONV2D || m->nodes[i].op == BPF_OP_LINEAR))
            return m->nodes[i].name;
    return "?";
}

int bp_tool_cmd_info(int argc, char **argv)
{
    static const struct option lo[] = {{"layer", required_argument, NULL, OPT_LAYER},
                                       {"svg", required_argument, NULL, OPT_SVG},
                                       {"no-hist", no_argument, NULL, OPT_NOHIST},
                                       {"color", required_argument, NULL, OPT_COLOR},
                                       {"log-y", no_argument, NULL, OPT_LOGY},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *layer_sel = NULL, *svg = NULL;
    int no_hist = 0, log_y = 0, color = isatty(STDOUT_FILENO), c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case OPT_LAYER: layer_sel = optarg; break;
        case OPT_SVG: svg = optarg; break;
        case OPT_NOHIST: no_hist = 1; break;
        case OPT_LOGY: log_y = 1; break;
        case OPT_COLOR:
            if (!strcmp(optarg, "always"))
                color = 1;
            else if (!strcmp(optarg, "never"))
                color = 0;
            else if (strcmp(optarg, "auto"))
                return bp_tool_usage_error("info", bp_tool_info_usage,
                                           "--color: '%s' is not auto, always or never", optarg);
            break;
        case 'h': fputs(bp_tool_info_usage, stdout); return 0;
        default:
            return bp_tool_usage_error("info", bp_tool_info_usage,
                                       "option '%s' is unknown or needs a value",
                                       argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return bp_tool_usage_error("info", bp_tool_info_usage,
                                   optind >= argc ? "missing FILE" : "unexpected argument '%s'",
                                   optind >= argc ? "" : argv[optind + 1]);
    const char *path = argv[optind];
    if (log_y && !svg)
        return bp_tool_usage_error("info", bp_tool_info_usage, "--log-y needs --svg FILE");
    if (svg && bpf_check_output(svg) != BPF_OK) {
        fprintf(stderr, "bptool info: --svg %s\n", bpf_last_error());
        return 1;
    }
    bpf_model *m = NULL;
    bpf_status fs = bpf_load_file(path, 0, &m);
    if (fs != BPF_OK) {
        bp_tool_file_error("info", path, bpf_last_error());
        return 1;
    }
    long sel = -1;
    if (layer_sel) {
        char *end;
        long v = strtol(layer_sel, &end, 10);
        if (*layer_sel && !*end && v >= 0 && (uint64_t)v < m->n_layers)
            sel = v;
        for (uint32_t li = 0; sel < 0 && li < m->n_layers; li++)
            if (!strcmp(bp_tool_layer_name(m, li), layer_sel))
                sel = li;
        if (sel < 0) {
            fprintf(stderr, "bptool info: %s: no layer '%s' (0..%u or a node name)\n", path,
                    layer_sel, m->n_layers ? m->n_layers - 1 : 0);
            bpf_model_free(m);
            return 1;
        }
    }
    const char *arch = bpf_meta_get(m, "arch");
    const char *syn = bpf_meta_get(m, "synthetic");
    printf("%s: arch %s, %u layers, %u nodes, %u tensors%s\n", path, arch ? arch : "?",
           m->n_layers, m->n_nodes, m->n_tensors,
           syn && !strcmp(syn, "true") ? ", synthetic weights" : "");
    for (uint32_t i = 0; i < m->n_meta; i++)
        if (*m->meta[i].value)
            printf("  %-20s %s\n", m->meta[i].key, m->meta[i].value);
    printf("\n%3s %-32s %-13s %6s %6s %9s %9s %7s %9s %9s %7s %6s %6s %3s %s\n", "#", "layer",
           "shape", "K", "M", "weights", "nonzero", "s_mult", "dig_bin", "dig_csd", "s_add",
           "d/w_b", "d/w_c", "act", "scale");
    bp_tool_hist *h = calloc(1, sizeof *h);
    int16_t *w = NULL;
    size_t wcap = 0;
    uint64_t T_w = 0, T_nz = 0, T_db = 0, T_dc = 0, T_mw = 0;
    int rc = 1;
    if (!h)
        goto oom;
    for (uint32_t li = 0; li < m->n_layers; li++) {
        const bpf_layer *l = &m->layers[li];
        size_t n = (size_t)l->c_out * l->K;
        if (n > wcap) {
            int16_t *nw = realloc(w, n * sizeof *w);
            if (!nw)
                goto oom;
            w = nw;
            wcap = n;
        }
        bp_planes p = {l->c_out, l->K, l->M, l->idx_bytes, l->row_ptr, l->col_idx, NULL};
        bp_planes_to_dense(&p, w);
        uint64_t nz = 0, db = 0, dc = 0;
        int in_hist = sel < 0 || (uint32_t)sel == li;
        for (size_t i = 0; i < n; i++) {
            int v = w[i];
            uint32_t a = (uint32_t)(v < 0 ? -v : v);
            nz += v != 0;
            db += (uint64_t)bp_tool_cost_binary(a);
            dc += (uint64_t)bp_tool_cost_csd(a);
            if (in_hist && a <= BP_W_MAX)
                h->count[v + BP_W_MAX]++;
        }
        if (in_hist) {
            h->enc_csd = l->encoding == BPF_ENC_CSD;
            if ((int)l->w_max > h->wmax)
                h->wmax = (int)l->w_max;
        }
        /* sigma_add per the paper: nonzero bits of B (M x K per row) over M*K,
         * M the binary positions of w_max; a layer has at least one position
         * (SPEC.md R44), also when w_max is 0 (all weights zero). */
        uint32_t Mb = bp_digits_positions((int32_t)l->w_max, BP_ENC_BINARY);
        if (Mb < 1)
            Mb = 1;
        char shape[48];
        if (l->kind == BPF_LAYER_LINEAR)
            snprintf(shape, sizeof shape, "fc %ux%u", l->c_out, l->c_in);
        else if (l->groups == l->c_in && l->groups > 1)
            snprintf(shape, sizeof shape, "dw%ux%u/%u %u", l->kh, l->kw, l->stride_h, l->c_out);
        else
            snprintf(shape, sizeof shape, "%ux%u/%u %u>%u", l->kh, l->kw, l->stride_h, l->c_in,
                     l->c_out);
        char r[4][16];
        printf("%3u %-32.32s %-13s %6u %6u %9zu %9llu %s %9llu %9llu %s %s %s %3s %.3g\n", li,
               bp_tool_layer_name(m, li), shape, l->K, l->M, n, (unsigned long long)nz,
               bp_tool_ratio(r[0], 7, 4, (double)nz, (double)n), (unsigned long long)db,
               (unsigned long long)dc,
               bp_tool_ratio(r[1], 7, 4, (double)db, (double)Mb * (double)n),
               bp_tool_ratio(r[2], 6, 3, (double)db, (double)n),
               bp_tool_ratio(r[3], 6, 3, (double)dc, (double)n),
               l->act_dtype == BPF_DT_U8 ? "u8" : "s8", l->act_scale);
        T_w += n;
        T_nz += nz;
        T_db += db;
        T_dc += dc;
        T_mw += (uint64_t)Mb * n;
    }
    char r[4][16];
    printf("%3s %-32s %-13s %6s %6s %9llu %9llu %s %9llu %9llu %s %s %s\n", "", "total", "", "",
           "", (unsigned long long)T_w, (unsigned long long)T_nz,
           bp_tool_ratio(r[0], 7, 4, (double)T_nz, (double)T_w), (unsigned long long)T_db,
           (unsigned long long)T_dc, bp_tool_ratio(r[1], 7, 4, (double)T_db, (double)T_mw),
           bp_tool_ratio(r[2], 6, 3, (double)T_db, (double)T_w),
           bp_tool_ratio(r[3], 6, 3, (double)T_dc, (double)T_w));
    if (!no_hist)
        bp_tool_hist_text(h, color);
    if (svg) {
        char title[320];
        const char *lam = bpf_meta_get(m, "weights.lambda");
        uint64_t tot = 0;
        for (int v = -BP_W_MAX; v <= BP_W_MAX; v++)
            tot += h->count[v + BP_W_MAX];
        char lamb[64] = "no bit pruning";
        if (lam && *lam)
            snprintf(lamb, sizeof lamb, "\u03bb=%.40s", lam);
        snprintf(title, sizeof title, "%s, %s%s: %s, sparsity %.3f, %s encoding",
                 arch ? arch : path, sel < 0 ? "all layers" : "layer ",
                 sel < 0 ? "" : bp_tool_layer_name(m, (uint32_t)sel), lamb, tot ? (double)h->count[BP_W_MAX] / (double)tot : 0.0,
                 h->enc_csd ? "CSD" : "binary");
        for (char *q = title; *q; q++)
            if (*q == '<' || *q == '>' || *q == '&')
                *q = '_';
        if (bp_tool_write_svg(h, svg, title, log_y))
            goto out;
        printf("\nwrote %s\n", svg);
    }
    rc = 0;
    goto out;
oom:
    fprintf(stderr, "bptool info: out of memory\n");
out:
    free(w);
    free(h);
    bpf_model_free(m);
    return rc;
}

/* Prints "bptool verify: [PATH: ]STATUS: message" (the path only when the
 * message does not start with it already). */
static void bp_tool_verify_error(const char *path, bp_status st, const char *msg)
{
    size_t pl = strlen(path);
    int named = !strncmp(msg, path, pl) && msg[pl] == ':';
    fprintf(stderr, "bptool verify: %s%s%s: %s\n", named ? "" : path, named ? "" : ": ",
            bp_status_string(st), msg);
}

int bp_tool_cmd_verify(int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (c == 'h') {
            fputs(bp_tool_verify_usage, stdout);
            return 0;
        }
        return bp_tool_usage_error("verify", bp_tool_verify_usage,
                                   "option '%s' is unknown", argv[optind - 1]);
    }
    if (optind != argc - 1)
        return bp_tool_usage_error("verify", bp_tool_verify_usage,
                                   optind >= argc ? "missing FILE" : "unexpected argument '%s'",
                                   optind >= argc ? "" : argv[optind + 1]);
    const char *path = argv[optind];
    /* 1. The file format alone (SPEC.md rules, every checksum). */
    bpf_model *fm = NULL;
    bpf_status fs = bpf_load_file(path, 0, &fm);
    if (fs != BPF_OK) {
        bp_tool_verify_error(path, (bp_status)fs, bpf_last_error());
        return 1;
    }
    bpf_model_free(fm);
    /* 2. The engine: load, then plan a session at batch 1 and 2 on the
     * reference backend (what every backend needs of the graph). */
    bp_model_opts mo;
    bp_model_opts_init(&mo);
    mo.verify_checksums = 0; /* verified above */
    bp_model *m = NULL;
    bp_status st = bp_model_load_file(path, &mo, &m);
    const char *stage = "loading";
    uint32_t batch = 0;
    for (uint32_t b = 1; st == BP_OK && b <= 2; b++) {
        bp_session_opts so;
        bp_session_opts_init(&so);
        so.backend = "reference";
        so.threads = 1;
        so.batch = b;
        bp_session *s = NULL;
        st = bp_session_create(m, &so, &s);
        bp_session_free(s);
        stage = "creating a session";
        batch = b;
    }
    const bp_model_info *mi = NULL;
    if (st == BP_OK)
        st = bp_model_info_get(m, &mi);
    if (st != BP_OK) {
        char where[64] = "";
        if (!strcmp(stage, "creating a session"))
            snprintf(where, sizeof where, " (reference backend, batch %u)", batch);
        fprintf(stderr,
                "bptool verify: %s: valid .bp file, but the engine cannot run it: %s%s: %s: "
                "%s\n",
                path, stage, where, bp_status_string(st), bp_last_error());
        bp_model_free(m);
        return 3;
    }
    printf("OK %s: %s, %u layers, %u nodes, %llu weights, sparsity %.4f, digits/weight %.4f, "
           "checksums verified, runs on the engine\n",
           path, *mi->arch ? mi->arch : "?", mi->n_layers, mi->n_nodes,
           (unsigned long long)mi->weights, mi->sparsity, mi->digits_per_weight);
    bp_model_free(m);
    return 0;
}
