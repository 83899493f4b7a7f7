/* main.c: bptool entry point and subcommand dispatch. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune.h"
#include "bptool.h"
#include "eval_data.h"
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
    "  verify FILE        full validation with checksums, then whether the engine\n"
    "                     can run the file\n"
    "  prune IN -o OUT    re-project the weights of a model (--lambda, --sparsity,\n"
    "                     --encoding), keeping graph and scales\n"
    "  import M.onnx -o F convert an ONNX model (float or QDQ) into a .bp model\n"
    "  eval FILE --data fashion-mnist\n"
    "                     top-1 accuracy on a test set, operation counts, energy\n"
    "\n"
    "Files are written atomically (a temporary file in the same directory,\n"
    "renamed over the destination); a destination that is not a regular file\n"
    "is refused.\n"
    "\n"
    "'bptool COMMAND --help' describes each command. Exit status: 0 success,\n"
    "1 failure (bad file, I/O), 2 usage error, 3 (verify) a valid file the\n"
    "engine cannot run.\n";

int main(int argc, char **argv)
{
    /* A write beyond the file size limit fails with EFBIG instead of killing
     * the process, so the temporary file of an atomic write is cleaned up. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        fputs("bptool: missing COMMAND (gen, info, verify, prune, import, eval)\n"
              "try 'bptool --help'\n", stderr);
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
    if (!strcmp(c, "eval"))
        return bp_tool_cmd_eval(argc - 1, argv + 1);
    fprintf(stderr, "bptool: unknown command '%s' (gen, info, verify, prune, import, eval)\n"
                    "try 'bptool --help'\n", c);
    return 2;
}
