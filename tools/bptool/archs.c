/* archs.c: the real layer shapes and op graphs of ResNet-18 (CIFAR and
 * ImageNet variants) and ConvNeXt-T/B, built with the graph builder. */
#include <stdio.h>
#include <string.h>

#include "bptool.h"

static const char *const bp_tool_archs[] = {"resnet18-cifar", "resnet18", "convnext-t",
                                            "convnext-b", NULL};

const char *const *bp_tool_arch_names(void) { return bp_tool_archs; }

void bp_tool_arch_default_input(const char *arch, uint32_t *h, uint32_t *w, uint32_t *classes)
{
    int cifar = !strcmp(arch, "resnet18-cifar");
    *h = *w = cifar ? 32 : 224;
    *classes = cifar ? 10 : 1000;
}

/* torchvision naming: conv1, layer1.0.conv1, layer2.0.downsample.0, fc */
static int bp_tool_resnet18(bp_tool_graph *g, int cifar, uint32_t h, uint32_t w,
                            uint32_t classes)
{
    char nm[128], nm2[128];
    uint32_t x = bp_tool_input(g, "input", 3, h, w);
    if (cifar) {
        x = bp_tool_conv(g, "conv1", x, 64, 3, 1, 1, 1, 1);
        x = bp_tool_relu(g, "relu", x);
    } else {
        x = bp_tool_conv(g, "conv1", x, 64, 7, 2, 3, 1, 1);
        x = bp_tool_relu(g, "relu", x);
        x = bp_tool_maxpool(g, "maxpool", x, 3, 2, 1);
    }
    uint32_t c_in = 64;
    for (int s = 0; s < 4; s++) {
        uint32_t c = 64u << s;
        for (int b = 0; b < 2; b++) {
            uint32_t stride = (s > 0 && b == 0) ? 2 : 1;
            uint32_t id = x;
            snprintf(nm, sizeof nm, "layer%d.%d.conv1", s + 1, b);
            uint32_t y = bp_tool_conv(g, nm, x, c, 3, stride, 1, 1, 1);
            snprintf(nm, sizeof nm, "layer%d.%d.relu1", s + 1, b);
            y = bp_tool_relu(g, nm, y);
            snprintf(nm, sizeof nm, "layer%d.%d.conv2", s + 1, b);
            y = bp_tool_conv(g, nm, y, c, 3, 1, 1, 1, 1);
            if (stride != 1 || c_in != c) {
                snprintf(nm, sizeof nm, "layer%d.%d.downsample.0", s + 1, b);
                id = bp_tool_conv(g, nm, x, c, 1, stride, 0, 1, 1);
            }
            snprintf(nm, sizeof nm, "layer%d.%d.add", s + 1, b);
            snprintf(nm2, sizeof nm2, "layer%d.%d.relu2", s + 1, b);
            x = bp_tool_relu(g, nm2, bp_tool_add(g, nm, y, id));
            c_in = c;
        }
    }
    x = bp_tool_gap(g, "avgpool", x);
    x = bp_tool_flatten(g, "flatten", x);
    x = bp_tool_linear(g, "fc", x, classes);
    bp_tool_set_output(g, x);
    return 0;
}

/* timm/torchvision-like naming: stem.0, stages.1.downsample.1, stages.2.blocks.3.dwconv */
static int bp_tool_convnext(bp_tool_graph *g, const uint32_t depths[4], const uint32_t dims[4],
                            uint32_t h, uint32_t w, uint32_t classes, int gelu)
{
    char nm[160], pre[96];
    const float eps = 1e-6f;
    /* LayerScale: a trained-like magnitude (0.5), not the 1e-6 init, so every
     * block changes the output and its weights matter. */
    const float ls_gamma = 0.5f;
    uint32_t x = bp_tool_input(g, "input", 3, h, w);
    x = bp_tool_conv(g, "stem.0", x, dims[0], 4, 4, 0, 1, 0);
    x = bp_tool_layernorm(g, "stem.1", x, eps);
    for (int s = 0; s < 4; s++) {
        if (s > 0) {
            snprintf(nm, sizeof nm, "stages.%d.downsample.0", s);
            x = bp_tool_layernorm(g, nm, x, eps);
            snprintf(nm, sizeof nm, "stages.%d.downsample.1", s);
            x = bp_tool_conv(g, nm, x, dims[s], 2, 2, 0, 1, 0);
        }
        for (uint32_t b = 0; b < depths[s]; b++) {
            uint32_t c = dims[s];
            snprintf(pre, sizeof pre, "stages.%d.blocks.%u", s, b);
            snprintf(nm, sizeof nm, "%s.dwconv", pre);
            uint32_t y = bp_tool_conv(g, nm, x, c, 7, 1, 3, c, 0);
            snprintf(nm, sizeof nm, "%s.norm", pre);
            y = bp_tool_layernorm(g, nm, y, eps);
            snprintf(nm, sizeof nm, "%s.pwconv1", pre);
            y = bp_tool_conv(g, nm, y, 4 * c, 1, 1, 0, 1, 0);
            snprintf(nm, sizeof nm, "%s.act", pre);
            y = gelu ? bp_tool_gelu(g, nm, y) : bp_tool_relu(g, nm, y);
            snprintf(nm, sizeof nm, "%s.pwconv2", pre);
            y = bp_tool_conv(g, nm, y, c, 1, 1, 0, 1, 0);
            snprintf(nm, sizeof nm, "%s.gamma", pre);
            y = bp_tool_layerscale(g, nm, y, ls_gamma);
            snprintf(nm, sizeof nm, "%s.add", pre);
            x = bp_tool_add(g, nm, x, y);
        }
    }
    x = bp_tool_gap(g, "head.global_pool", x);
    x = bp_tool_layernorm(g, "head.norm", x, eps);
    x = bp_tool_flatten(g, "head.flatten", x);
    x = bp_tool_linear(g, "head.fc", x, classes);
    bp_tool_set_output(g, x);
    return 0;
}

int bp_tool_build_arch(bp_tool_graph *g, const char *arch, const bp_tool_arch_opts *o)
{
    uint32_t h, w, classes;
    bp_tool_arch_default_input(arch, &h, &w, &classes);
    if (o->h)
        h = o->h;
    if (o->w)
        w = o->w;
    if (o->classes)
        classes = o->classes;
    static const uint32_t t_depths[4] = {3, 3, 9, 3}, t_dims[4] = {96, 192, 384, 768};
    static const uint32_t b_depths[4] = {3, 3, 27, 3}, b_dims[4] = {128, 256, 512, 1024};
    if (!strcmp(arch, "resnet18-cifar"))
        bp_tool_resnet18(g, 1, h, w, classes);
    else if (!strcmp(arch, "resnet18"))
        bp_tool_resnet18(g, 0, h, w, classes);
    else if (!strcmp(arch, "convnext-t"))
        bp_tool_convnext(g, t_depths, t_dims, h, w, classes, o->gelu);
    else if (!strcmp(arch, "convnext-b"))
        bp_tool_convnext(g, b_depths, b_dims, h, w, classes, o->gelu);
    else
        return -1;
    if (g->failed == 2)
        return -2;
    if (g->failed)
        return -3;
    return 0;
}
