/* onnx_geom.h: window geometry (kernel, stride, dilation, padding, output
 * size) of ONNX Conv, MaxPool and AveragePool nodes on NCHW inputs. */
#ifndef BP_ONNX_GEOM_H
#define BP_ONNX_GEOM_H

#include <stdint.h>

#include "onnx_ir.h"

typedef struct bp_onnx_geom {
    int64_t kh, kw, sh, sw, dh, dw;
    int64_t pt, pl, pb, pr; /* top, left, bottom, right */
    int64_t oh, ow;         /* output size by the node's own rounding */
    int ceil_differs;       /* ceil_mode gives a larger output than floor */
} bp_onnx_geom;

/* xd: input dims (N,C,H,W); wd: weight dims (Co,Ci/g,kh,kw). */
int bp_onnx_conv_geom(bp_onnx_graph *g, const bp_onnx_node *n, const int64_t *xd,
                      const int64_t *wd, bp_onnx_geom *o);
int bp_onnx_pool_geom(bp_onnx_graph *g, const bp_onnx_node *n, const int64_t *xd,
                      bp_onnx_geom *o);

#endif
