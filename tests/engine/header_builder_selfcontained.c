/* Header self-containment: bitprune_builder.h compiles alone, first, with
 * nothing before it (built as C here and as C++ from the .cpp twin). */
#include "bitprune_builder.h"

int main(void)
{
    bp_conv2d_params p;
    bp_conv2d_params_init(&p);
    bp_layer_weights w;
    bp_layer_weights_init(&w);
    bp_pool2d_params q;
    bp_pool2d_params_init(&q);
    bp_node_desc d;
    bp_node_desc_init(&d);
    (void)p; (void)w; (void)q; (void)d;
    return BP_OK + (int)sizeof(bp_builder *) * 0 + BP_OP_RELU * 0;
}
