/* The row ops (generic/rowops.c) compiled with this library's AVX2 flags. */
#define BP_ROWOP_SFX avx2
#include "generic/rowops.c"
