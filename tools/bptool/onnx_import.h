/* onnx_import.h: `bptool import`: ONNX model -> .bp model (options, result,
 * and the stages shared by the importer's files and its tests). */
#ifndef BP_ONNX_IMPORT_H
#define BP_ONNX_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "bptool.h"

typedef enum bp_tool_calib_method {
    BP_TOOL_CALIB_ABSMAX,     /* min/max over the calibration inputs */
    BP_TOOL_CALIB_PERCENTILE, /* the p-th percentile of |x| (or x when x >= 0) */
} bp_tool_calib_method;

typedef struct bp_tool_import_opts {
    uint32_t in_h, in_w;   /* spatial size of a 4-D input with symbolic dims; 0: none */
    int wmax;              /* float weights quantized per output channel to +-wmax */
    bp_tool_prune prune;
    double lambda, sparsity;
    bp_encoding encoding;
    const char *const *calib; /* calibration files: raw float32 NCHW or .npy */
    uint32_t n_calib;
    bp_tool_calib_method method;
    double percentile;     /* for BP_TOOL_CALIB_PERCENTILE, in (0, 100] */
    uint32_t random_calib; /* images of N(0,1) noise when no files are given */
    uint64_t seed;
    const char *source;    /* file name for the metadata */
    int report;            /* compare with the float reference (default 1) */
} bp_tool_import_opts;
void bp_tool_import_opts_default(bp_tool_import_opts *o);

typedef struct bp_tool_import_result {
    uint32_t n_layers, n_qdq_layers, n_calibrated;
    uint32_t n_images;   /* calibration / comparison inputs */
    int calib_random;    /* they were random N(0,1) */
    int have_report;
    double max_diff, mean_diff, ref_max; /* imported vs float reference outputs */
    uint32_t top1_agree;
    int n_dropped_q, n_requant, n_folded_bn, n_gelu, n_layernorm, n_affine_folded;
    int n_hardswish; /* decomposed x * Clip(x + 3, 0, 6) / 6 patterns */
} bp_tool_import_result;

/* Imports an ONNX model held in memory into a malloc'd .bp buffer (free with
 * free()). On failure returns nonzero with a message in err naming the node,
 * op, tensor or file. */
int bp_tool_onnx_import(const bp_tool_import_opts *o, const void *onnx, size_t size,
                        void **buf, size_t *bsize, bp_tool_import_result *res, char *err,
                        size_t errlen);

int bp_tool_cmd_import(int argc, char **argv);

/* onnx_map.c (internal): maps the normalised graph; layer_node[li] is the
 * ONNX node of .bp layer li (malloc'd, caller frees). */
struct bp_onnx_graph;
int bp_onnx_map(struct bp_onnx_graph *g, bp_tool_graph *bg, int **layer_node);

#endif
