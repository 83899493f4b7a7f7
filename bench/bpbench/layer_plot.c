/* layer_plot.c: the --plot-layers SVG: one horizontal bar per backend (and
 * thread count), made of its graph steps in execution order, each segment
 * as long as the step's median time and coloured by its kind; a time axis
 * with ticks and units, and a legend. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layer_plot.h"
#include "out_file.h"

enum { K_CONV, K_POINTWISE, K_DEPTHWISE, K_LINEAR, K_OTHER, K_COUNT };
static const char *const bp_plot_kind_label[K_COUNT] = {
    "conv k x k", "conv 1 x 1 (pointwise)", "depthwise conv", "linear", "other ops (float)"};
/* Okabe-Ito colours (distinguishable with colour-vision deficiencies), a
 * darker and a lighter tone per kind so neighbouring steps stay apart. */
static const char *const bp_plot_colour[K_COUNT][2] = {
    {"#0072B2", "#3C9AD6"}, {"#E69F00", "#F5C04A"}, {"#009E73", "#3FC49D"},
    {"#CC79A7", "#E2A5C8"}, {"#8C8C8C", "#B5B5B5"}};

#define W 1000.0
#define LEFT 210.0 /* bar labels */
#define RIGHT 70.0 /* room for the totals */
#define TOP 58.0
#define BAR_H 26.0
#define BAR_GAP 14.0

static int bp_plot_kind(const bp_model_info *mi, const char *step)
{
    for (uint32_t i = 0; i < mi->n_layers; i++) {
        const bp_layer_info *l = &mi->layers[i];
        if (strcmp(l->name, step))
            continue;
        if (!strcmp(l->op, "linear"))
            return K_LINEAR;
        if (l->groups > 1)
            return K_DEPTHWISE;
        return l->kh == 1 && l->kw == 1 ? K_POINTWISE : K_CONV;
    }
    return K_OTHER;
}

static void bp_plot_escaped(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A tick step of 1, 2 or 5 times a power of ten giving about `want` ticks. */
static double bp_plot_tick(double max, int want)
{
    double raw = max / want, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

int bp_bench_write_plot(const bp_bench_report *rep, const char *path)
{
    const bp_model_info *mi = rep->run->mi;
    int nbars = 0;
    double tmax = 0;
    for (uint32_t s = 0; s < rep->n_sets; s++)
        for (int b = 0; b < BP_BENCH_NROWS; b++)
            if (rep->sets[s].profiled[b]) {
                nbars++;
                if (rep->sets[s].rows[b].node_sum > tmax)
                    tmax = rep->sets[s].rows[b].node_sum;
            }
    if (!nbars || !(tmax > 0)) {
        fprintf(stderr, "bpbench: --plot-layers %s: no backend has a per-layer profile\n", path);
        return -1;
    }
    bp_bench_out o;
    if (bp_bench_out_open(&o, path))
        return -1;
    FILE *f = o.f;
    const double tick = bp_plot_tick(tmax, 8), axis_max = ceil(tmax / tick - 1e-9) * tick;
    const double pw = W - LEFT - RIGHT, x_of = pw / axis_max;
    const double plot_h = nbars * (BAR_H + BAR_GAP) + BAR_GAP;
    const double axis_y = TOP + plot_h, legend_y = axis_y + 62;
    const double H = legend_y + 22.0 * ((K_COUNT + 2) / 3) + 16;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Arial, sans-serif\" "
               "font-size=\"12\">\n",
               W, H, W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.1f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Time per graph "
               "step, by backend: ",
            LEFT);
    bp_plot_escaped(f, *mi->arch ? mi->arch : rep->cfg->model);
    fprintf(f, ", batch %u</text>\n", rep->cfg->batch);
    fprintf(f, "<text x=\"%.1f\" y=\"40\" fill=\"#444\">median per step over %u rounds; "
               "segments in execution order; bar end: sum of the steps</text>\n",
            LEFT, rep->cfg->repeat);
    /* grid and ticks */
    for (double t = 0; t <= axis_max + tick * 1e-6; t += tick) {
        double x = LEFT + t * x_of;
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>\n",
                x, TOP, x, axis_y);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#000\"/>\n", x,
                axis_y, x, axis_y + 5);
        fprintf(f, "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", x,
                axis_y + 18, t);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n", LEFT,
            axis_y, LEFT + pw, axis_y);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n", LEFT,
            TOP, LEFT, axis_y);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">time per run (ms)</text>\n",
            LEFT + pw / 2, axis_y + 38);
    /* bars */
    int bar = 0;
    for (uint32_t s = 0; s < rep->n_sets; s++) {
        const bp_bench_rset *rs = &rep->sets[s];
        for (int b = 0; b < BP_BENCH_NROWS; b++) {
            if (!rs->profiled[b])
                continue;
            const bp_bench_rrow *rr = &rs->rows[b];
            const bp_bench_row *r = rr->raw;
            double y = TOP + BAR_GAP + bar * (BAR_H + BAR_GAP);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", LEFT - 8,
                    y + BAR_H / 2 - 2);
            bp_plot_escaped(f, r->name);
            fprintf(f, "</text>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\" "
                       "font-size=\"10\">%d thread%s, %s</text>\n",
                    LEFT - 8, y + BAR_H / 2 + 11, r->threads, r->threads == 1 ? "" : "s",
                    *r->onednn_isa ? r->onednn_isa : r->isa);
            double x = LEFT;
            int last_kind = -1, tone = 0;
            for (uint32_t k = 0; k < r->n_steps; k++) {
                double ms = rr->step_median[k];
                if (!(ms > 0))
                    continue;
                int kind = bp_plot_kind(mi, r->steps[k].name);
                tone = kind == last_kind ? !tone : 0;
                last_kind = kind;
                double w = ms * x_of;
                fprintf(f, "<rect x=\"%.3f\" y=\"%.1f\" width=\"%.3f\" height=\"%.1f\" "
                           "fill=\"%s\" stroke=\"white\" stroke-width=\"0.4\"><title>",
                        x, y, w, BAR_H, bp_plot_colour[kind][tone]);
                bp_plot_escaped(f, r->steps[k].name);
                fputs(" (", f);
                bp_plot_escaped(f, r->steps[k].op);
                fputs(", ", f);
                bp_plot_escaped(f, r->steps[k].kernel);
                fprintf(f, "): %.4f ms</title></rect>\n", ms);
                x += w;
            }
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%.2f ms</text>\n", x + 5, y + BAR_H / 2 + 4,
                    rr->node_sum);
            bar++;
        }
    }
    /* legend */
    for (int k = 0; k < K_COUNT; k++) {
        double lx = LEFT + (k % 3) * 250.0, ly = legend_y + (k / 3) * 22.0;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                   "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n",
                lx, ly - 10, bp_plot_colour[k][0], lx + 12, ly - 10, bp_plot_colour[k][1]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", lx + 30, ly, bp_plot_kind_label[k]);
    }
    fputs("</svg>\n", f);
    return bp_bench_out_commit(&o);
}
