/* eval_data.h: image-classification test sets for `bptool eval` (IDX files,
 * gzip-compressed or not, as Fashion-MNIST ships them) and the evaluation
 * loop that runs a model over them. Shared by bptool and tests/train. */
#ifndef BPTOOL_EVAL_DATA_H
#define BPTOOL_EVAL_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "bitprune.h"

#define BP_TOOL_FMNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct bp_tool_dataset {
    uint32_t n, h, w;  /* n images of h x w uint8 pixels */
    uint8_t *images;   /* [n*h*w] */
    uint8_t *labels;   /* [n] */
} bp_tool_dataset;

/* Loads the 10k-image Fashion-MNIST test set from dir (NULL: the directory
 * of Debian's dataset-fashion-mnist package): t10k-images-idx3-ubyte.gz and
 * t10k-labels-idx1-ubyte.gz. Returns 0, or -1 with a message naming the file
 * and what is wrong in err. */
int bp_tool_fmnist_test_load(const char *dir, bp_tool_dataset *ds, char *err, size_t errsz);
/* 1 if both test files exist in dir (NULL: the default directory). */
int bp_tool_fmnist_available(const char *dir);
void bp_tool_dataset_free(bp_tool_dataset *ds);

/* Runs images [0, n) through session s (batch b = its batch) with the model
 * input 1 x h x w, pixels as pixel / 255.0f. pred[i] = argmax of output row
 * i (the first maximum); logits (optional) receives n * classes floats.
 * progress: print a bar to stderr. Returns BP_OK or the run's status. */
bp_status bp_tool_eval_images(bp_session *s, uint32_t batch, const bp_tool_dataset *ds, uint32_t n,
                              uint32_t classes, int progress, uint8_t *pred, float *logits);

int bp_tool_cmd_eval(int argc, char **argv);

#endif
