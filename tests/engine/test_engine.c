/* Entry point of the engine suite: runs every cmocka group (a group can be
 * picked with the first argument: models, ops, conv, api, fusion, threads). */
#include <stdio.h>
#include <string.h>

#include "model_builders.h"
#include "test_suites.h"

int main(int argc, char **argv)
{
    uint64_t seed = bpt_test_seed("engine");
    const char *only = argc > 1 ? argv[1] : NULL;
    int fails = 0;
    if (!only || !strcmp(only, "ops")) fails += bpt_suite_ops(seed);
    if (!only || !strcmp(only, "conv")) fails += bpt_suite_conv(seed);
    if (!only || !strcmp(only, "models")) fails += bpt_suite_models(seed);
    if (!only || !strcmp(only, "api")) fails += bpt_suite_api(seed);
    if (!only || !strcmp(only, "fusion")) fails += bpt_suite_fusion(seed);
    if (!only || !strcmp(only, "threads")) fails += bpt_suite_threads(seed);
    return fails ? 1 : 0;
}
