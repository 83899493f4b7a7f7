/* Header self-containment: bitprune_builder.h compiles alone, first, with
 * nothing before it (built as C here and as C++ from the .cpp twin). */
#include "bitprune_builder.h"

int main(void)
{
    bp_conv2d_params p = {0};
    bp_layer_weights w = {0};
    bp_pool2d_params q = {0};
    bp_node_desc d = {0};
    (void)p; (void)w; (void)q; (void)d;
    return BP_OK + (int)sizeof(bp_builder *) * 0 + BP_OP_RELU * 0;
}
