// Header self-containment from C++: bitprune.h alone, first, extern "C".
#include "bitprune.h"

int main()
{
    bp_session_opts o = {};
    bp_status (*fn)(bp_session *, const float *const *, float *const *) = bp_session_run;
    (void)o; (void)fn;
    return BP_OK;
}
