/* version_print.c: prints the version bitprune.h declares (BP_VERSION_*
 * macros and BP_VERSION_STRING) and the one of the library that is loaded. */
#include <stdio.h>

#include "bitprune.h"

int main(void)
{
    printf("header %d.%d.%d\n", BP_VERSION_MAJOR, BP_VERSION_MINOR, BP_VERSION_PATCH);
    printf("header-string %s\n", BP_VERSION_STRING);
    printf("library %s\n", bp_version_string());
    return 0;
}
