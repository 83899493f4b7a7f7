/* cli.c: command-line parsing helpers shared by the bptool subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bptool.h"

int bp_tool_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "bptool %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

int bp_tool_parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (!*s || *end || errno)
        return -1;
    *v = d;
    return 0;
}

int bp_tool_parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long long u = strtoull(s, &end, 0);
    if (*end || errno)
        return -1;
    *v = u;
    return 0;
}

int bp_tool_parse_hw(const char *s, uint32_t *h, uint32_t *w)
{
    unsigned a, b;
    char tail;
    if (sscanf(s, "%ux%u%c", &a, &b, &tail) == 2 && a && b && a <= 8192 && b <= 8192) {
        *h = a;
        *w = b;
        return 0;
    }
    if (sscanf(s, "%u%c", &a, &tail) == 1 && a && a <= 8192) {
        *h = *w = a;
        return 0;
    }
    return -1;
}
