/* placeholder, filled below */
#include <stdint.h>
#include "test_suites.h"
int bpt_suite_ops(uint64_t seed) { (void)seed; return 0; }
