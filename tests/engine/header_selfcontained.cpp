// Header self-containment from C++: bitprune.h alone, first, extern "C".
#include "bitprune.h"

int main()
{
    bp_session_opts o = {};
    // volatile: the reference survives optimization, so the link proves the
    // header gives C linkage at every build type.
    bp_status (*volatile fn)(bp_session *, const float *const *, float *const *) = bp_session_run;
    (void)o;
    return fn ? BP_OK : 1;
}
