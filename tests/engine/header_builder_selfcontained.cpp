// Header self-containment from C++: bitprune_builder.h alone, first, extern "C".
#include "bitprune_builder.h"

int main()
{
    bp_node_desc d;
    bp_node_desc_init(&d);
    // volatile: the reference survives optimization, so the link proves the
    // header gives C linkage at every build type.
    bp_status (*volatile fn)(bp_builder *, const bp_node_desc *, uint32_t *) = bp_builder_node;
    (void)d;
    return fn ? BP_OK : 1;
}
