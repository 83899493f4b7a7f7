/* Header self-containment: bitprune.h compiles alone, first, with nothing
 * before it (built as C here and as C++ from header_selfcontained.cpp). */
#include "bitprune.h"

int main(void)
{
    bp_session_opts o = {0};
    bp_tensor_view v = {0};
    bp_layer_counts c = {0};
    (void)o; (void)v; (void)c;
    return BP_OK + (int)sizeof(bp_model_info) * 0;
}
