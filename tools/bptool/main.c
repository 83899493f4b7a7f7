/* main.c: bptool entry point, subcommand dispatch and shared CLI parsing. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune.h"
#include "bptool.h"
#include "onnx_import.h"

static const char bp_tool_usage[] =
    "usage: bptool COMMAND [options]\n"
    "\n"
    "Makes and inspects bitprune (.bp) models.\n"
    "\n"
    "commands:\n"
    "  gen ARCH -o FILE   write a model with a real architecture and synthetic\n"
    "                     weights (ARCH: resnet18-cifar, resnet18, convnext-t, convnext-b)\n"
    "  info FILE          per-layer table (shape, K, nonzeros, digits, sigma_mult,\n"
    "                     sigma_add) and a weight histogram coloured by add count\n"
    "  verify FILE        full validation with checksums; exit 0 or a clear error\n"
    "  prune IN -o OUT    re-project the weights of a model (--lambda, --sparsity,\n"
    "                     --encoding), keeping graph and scales\n"
    "  import M.onnx -o F convert an ONNX model (float or QDQ) into a .bp model\n"
    "\n"
    "'bptool COMMAND --help' describes each command. Exit status: 0 success,\n"
    "1 failure (bad file, I/O), 2 usage error.\n";

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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(bp_tool_usage, stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "-h") || !strcmp(c, "--help") || !strcmp(c, "help")) {
        fputs(bp_tool_usage, stdout);
        return 0;
    }
    if (!strcmp(c, "--version")) {
        printf("bptool (bitprune %s)\n", bp_version_string());
        return 0;
    }
    if (!strcmp(c, "gen"))
        return bp_tool_cmd_gen(argc - 1, argv + 1);
    if (!strcmp(c, "info"))
        return bp_tool_cmd_info(argc - 1, argv + 1);
    if (!strcmp(c, "verify"))
        return bp_tool_cmd_verify(argc - 1, argv + 1);
    if (!strcmp(c, "prune"))
        return bp_tool_cmd_prune(argc - 1, argv + 1);
    if (!strcmp(c, "import"))
        return bp_tool_cmd_import(argc - 1, argv + 1);
    fprintf(stderr, "bptool: unknown command '%s'\n\n", c);
    fputs(bp_tool_usage, stderr);
    return 2;
}
