/* onnx_geom.c: resolves the window attributes of Conv and pooling nodes
 * (kernel_shape, strides, dilations, pads, auto_pad, ceil_mode) into one
 * explicit geometry with the output size. */
#include <string.h>

#include "onnx_geom.h"

static int bp_onnx_pair(bp_onnx_graph *g, const bp_onnx_node *n, const char *name,
                        int64_t def, int64_t *a, int64_t *b)
{
    int64_t v[4];
    int k = bp_onnx_attr_ints(n, name, v, 4);
    if (k < 0) {
        if (bp_onnx_attr(n, name))
            return bp_onnx_node_fail(g, n, "%s has more than 2 entries (only 2-D windows)", name);
        *a = *b = def;
        return 0;
    }
    if (k != 2)
        return bp_onnx_node_fail(g, n, "%s has %d entries; only 2-D windows are supported",
                                 name, k);
    *a = v[0];
    *b = v[1];
    return 0;
}

static int bp_onnx_out_dim(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1,
                           int ceil_mode, int64_t *out, int *differs)
{
    int64_t span = (k - 1) * d + 1, num = in + p0 + p1 - span;
    if (num < 0)
        return -1;
    int64_t fl = num / s + 1, ce = (num + s - 1) / s + 1;
    if (ceil_mode && ce > fl && (ce - 1) * s >= in + p0)
        ce--; /* the last window must start inside the input or the leading pad */
    *out = ceil_mode ? ce : fl;
    if (ceil_mode && ce != fl)
        *differs = 1;
    return 0;
}

static int bp_onnx_window(bp_onnx_graph *g, const bp_onnx_node *n, const int64_t *xd,
                          bp_onnx_geom *o, int ceil_mode)
{
    if (bp_onnx_pair(g, n, "strides", 1, &o->sh, &o->sw) ||
        bp_onnx_pair(g, n, "dilations", 1, &o->dh, &o->dw))
        return -1;
    if (o->kh < 1 || o->kw < 1 || o->sh < 1 || o->sw < 1 || o->dh < 1 || o->dw < 1 ||
        o->kh > 1024 || o->kw > 1024 || o->sh > 1024 || o->sw > 1024 || o->dh > 1024 ||
        o->dw > 1024)
        return bp_onnx_node_fail(g, n, "kernel, strides and dilations must be 1..1024");
    const Onnx__AttributeProto *ap = bp_onnx_attr(n, "auto_pad");
    char mode[16] = "NOTSET";
    if (ap && ap->has_s && ap->s.len < sizeof mode && ap->s.data) {
        memcpy(mode, ap->s.data, ap->s.len);
        mode[ap->s.len] = 0;
    }
    if (!strcmp(mode, "SAME_UPPER") || !strcmp(mode, "SAME_LOWER")) {
        int64_t k[2] = {o->kh, o->kw}, s[2] = {o->sh, o->sw}, d[2] = {o->dh, o->dw};
        int64_t *b[2] = {&o->pt, &o->pl}, *e[2] = {&o->pb, &o->pr};
        for (int i = 0; i < 2; i++) {
            int64_t in = xd[2 + i], out = (in + s[i] - 1) / s[i];
            int64_t tot = (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in;
            if (tot < 0)
                tot = 0;
            *b[i] = mode[5] == 'U' ? tot / 2 : tot - tot / 2;
            *e[i] = tot - *b[i];
        }
    } else if (!strcmp(mode, "VALID")) {
        o->pt = o->pl = o->pb = o->pr = 0;
    } else if (!strcmp(mode, "NOTSET")) {
        int64_t p[4] = {0, 0, 0, 0};
        int k = bp_onnx_attr_ints(n, "pads", p, 4);
        if (k != -1 && k != 4)
            return bp_onnx_node_fail(g, n, "pads has %d entries; only 2-D windows are "
                                     "supported", k);
        if (k < 0 && bp_onnx_attr(n, "pads"))
            return bp_onnx_node_fail(g, n, "pads has more than 4 entries");
        o->pt = p[0];
        o->pl = p[1];
        o->pb = p[2];
        o->pr = p[3];
    } else {
        return bp_onnx_node_fail(g, n, "auto_pad '%s' is not known", mode);
    }
    if (o->pt < 0 || o->pl < 0 || o->pb < 0 || o->pr < 0 || o->pt > 1024 || o->pl > 1024 ||
        o->pb > 1024 || o->pr > 1024)
        return bp_onnx_node_fail(g, n, "pads must be 0..1024");
    o->ceil_differs = 0;
    if (bp_onnx_out_dim(xd[2], o->kh, o->sh, o->dh, o->pt, o->pb, ceil_mode, &o->oh,
                        &o->ceil_differs) ||
        bp_onnx_out_dim(xd[3], o->kw, o->sw, o->dw, o->pl, o->pr, ceil_mode, &o->ow,
                        &o->ceil_differs))
        return bp_onnx_node_fail(g, n, "the window is larger than the padded %lldx%lld input",
                                 (long long)xd[2], (long long)xd[3]);
    return 0;
}

int bp_onnx_conv_geom(bp_onnx_graph *g, const bp_onnx_node *n, const int64_t *xd,
                      const int64_t *wd, bp_onnx_geom *o)
{
    memset(o, 0, sizeof *o);
    o->kh = wd[2];
    o->kw = wd[3];
    int64_t a = 0, b = 0;
    if (bp_onnx_attr(n, "kernel_shape")) {
        if (bp_onnx_pair(g, n, "kernel_shape", 1, &a, &b))
            return -1;
        if (a != o->kh || b != o->kw)
            return bp_onnx_node_fail(g, n, "kernel_shape %lldx%lld differs from the weight's "
                                     "%lldx%lld", (long long)a, (long long)b,
                                     (long long)o->kh, (long long)o->kw);
    }
    return bp_onnx_window(g, n, xd, o, 0);
}

int bp_onnx_pool_geom(bp_onnx_graph *g, const bp_onnx_node *n, const int64_t *xd,
                      bp_onnx_geom *o)
{
    memset(o, 0, sizeof *o);
    if (!bp_onnx_attr(n, "kernel_shape"))
        return bp_onnx_node_fail(g, n, "kernel_shape is missing");
    if (bp_onnx_pair(g, n, "kernel_shape", 1, &o->kh, &o->kw))
        return -1;
    return bp_onnx_window(g, n, xd, o, (int)bp_onnx_attr_int(n, "ceil_mode", 0));
}
