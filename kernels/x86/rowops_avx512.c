/* The row ops (generic/rowops.c) compiled with this library's AVX512 flags. */
#define BP_ROWOP_SFX avx512
#include "generic/rowops.c"
