/* The cmocka groups of the engine suite; each returns its failure count. */
#ifndef BPT_TEST_SUITES_H
#define BPT_TEST_SUITES_H

#include <stdint.h>

int bpt_suite_models(uint64_t seed);
int bpt_suite_ops(uint64_t seed);
int bpt_suite_conv(uint64_t seed);
int bpt_suite_api(uint64_t seed);
int bpt_suite_fusion(uint64_t seed);
int bpt_suite_threads(uint64_t seed);

#endif
