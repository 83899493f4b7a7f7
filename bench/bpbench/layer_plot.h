/* layer_plot.h: --plot-layers: an SVG of the per-layer time per backend as
 * stacked horizontal bars, one per backend and thread count, drawn by hand
 * (no plotting library). */
#ifndef BP_BENCH_LAYER_PLOT_H
#define BP_BENCH_LAYER_PLOT_H

#include "report.h"

/* Writes the SVG to path. 0, or -1 after a message on stderr. */
int bp_bench_write_plot(const bp_bench_report *rep, const char *path);

#endif
