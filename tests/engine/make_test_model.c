/* Writes a small test model (.bp) for the install/classify test:
 * make_test_model out.bp [resnet|convnext] [sparsity]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_builders.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: make_test_model out.bp [resnet|convnext] [sparsity]\n");
        return 2;
    }
    int convnext = argc > 2 && !strcmp(argv[2], "convnext");
    double sp = argc > 3 ? atof(argv[3]) : 0.7;
    void *buf = NULL;
    size_t size = 0;
    int st = convnext ? bpt_build_convnext(42, sp, 1, &buf, &size)
                      : bpt_build_resnet(42, sp, 1, &buf, &size);
    if (st) {
        fprintf(stderr, "make_test_model: build failed (%d)\n", st);
        return 1;
    }
    FILE *f = fopen(argv[1], "wb");
    if (!f || fwrite(buf, 1, size, f) != size || fclose(f)) {
        fprintf(stderr, "make_test_model: cannot write %s\n", argv[1]);
        free(buf);
        return 1;
    }
    free(buf);
    return 0;
}
