/* test_train.c: the trained Fashion-MNIST fixtures of tests/train/data (made
 * by tools/train: train.py -> QDQ ONNX -> bptool import) judged by the engine
 * against what torch computed for the same quantized models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "bitprune.h"
#include "eval_data.h"

#define CLASSES 10
#define MAX_IMAGES 10000
#define MAX_LOGITS 64

static bp_tool_dataset g_ds;

typedef struct expect {
    uint32_t images, torch_correct, n_logits;
    uint8_t pred[MAX_IMAGES];
    float logits[MAX_LOGITS][CLASSES];
} expect;

/* Reads NAME.expect (format in tools/train/make_fixture.py). */
static void read_expect(const char *name, expect *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.expect", BP_TRAIN_TEST_DATA, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, " images %u torch_correct %u pred", &e->images, &e->torch_correct),
                     2);
    assert_true(e->images > 0 && e->images <= MAX_IMAGES);
    for (uint32_t i = 0; i < e->images; i++) {
        unsigned p;
        assert_int_equal(fscanf(f, "%u", &p), 1);
        assert_true(p < CLASSES);
        e->pred[i] = (uint8_t)p;
    }
    assert_int_equal(fscanf(f, " logits %u", &e->n_logits), 1);
    assert_true(e->n_logits <= MAX_LOGITS && e->n_logits <= e->images);
    for (uint32_t i = 0; i < e->n_logits; i++)
        for (int c = 0; c < CLASSES; c++)
            assert_int_equal(fscanf(f, "%f", &e->logits[i][c]), 1);
    fclose(f);
}

static void eval_backend(bp_model *m, const char *backend, uint32_t n, uint8_t *pred, float *logits)
{
    bp_session_opts so;
    bp_session_opts_init(&so);
    so.backend = backend;
    so.threads = 1;
    so.batch = 100;
    bp_session *s = NULL;
    assert_int_equal(bp_session_create(m, &so, &s), BP_OK);
    assert_int_equal(bp_tool_eval_images(s, so.batch, &g_ds, n, CLASSES, 0, pred, logits), BP_OK);
    bp_session_free(s);
}

static void check_fixture(const char *name)
{
    expect *e = calloc(1, sizeof *e);
    assert_non_null(e);
    read_expect(name, e);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.bp", BP_TRAIN_TEST_DATA, name);
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_file(path, NULL, &m), BP_OK);
    uint32_t n = e->images;
    static const char *const backends[3] = {"reference", "bitplane", "csr"};
    uint8_t *pred[3];
    float *logits[3];
    for (int b = 0; b < 3; b++) {
        pred[b] = malloc(n);
        logits[b] = malloc((size_t)n * CLASSES * sizeof(float));
        assert_true(pred[b] && logits[b]);
        eval_backend(m, backends[b], n, pred[b], logits[b]);
    }
    /* exact backends: the same outputs bit for bit */
    for (int b = 1; b < 3; b++)
        assert_memory_equal(logits[b], logits[0], (size_t)n * CLASSES * sizeof(float));
    /* the engine predicts what torch predicted for the same quantized model */
    uint32_t diff = 0, correct = 0;
    for (uint32_t i = 0; i < n; i++) {
        correct += pred[0][i] == g_ds.labels[i];
        if (pred[0][i] != e->pred[i]) {
            printf("# %s: image %u: engine class %u, torch class %u\n", name, i, pred[0][i],
                   e->pred[i]);
            diff++;
        }
    }
    printf("# %s: %u images, engine top-1 %u, torch %u, %u predictions differ\n", name, n,
           correct, e->torch_correct, diff);
    assert_int_equal(diff, 0);
    /* accuracy floor: torch's count on the same images */
    assert_true(correct >= e->torch_correct);
    /* the outputs themselves agree to float rounding (the global average pool
     * sums in another order than torch) */
    for (uint32_t i = 0; i < e->n_logits; i++) {
        float mx = 0;
        for (int c = 0; c < CLASSES; c++)
            mx = fmaxf(mx, fabsf(e->logits[i][c]));
        for (int c = 0; c < CLASSES; c++) {
            float d = fabsf(logits[0][(size_t)i * CLASSES + c] - e->logits[i][c]);
            if (d > 1e-4f * (mx + 1.0f))
                fail_msg("%s: image %u class %d: engine %.9g, torch %.9g", name, i, c,
                         (double)logits[0][(size_t)i * CLASSES + c], (double)e->logits[i][c]);
        }
    }
    for (int b = 0; b < 3; b++) {
        free(pred[b]);
        free(logits[b]);
    }
    bp_model_free(m);
    free(e);
}

static void test_resnet8_bp(void **state)
{
    (void)state;
    check_fixture("resnet8-bp");
}

static void test_resnet8_wp(void **state)
{
    (void)state;
    check_fixture("resnet8-wp");
}

static void test_convnext_s(void **state)
{
    (void)state;
    check_fixture("convnext-s");
}

int main(void)
{
    const char *dir = getenv("BP_FASHION_MNIST_DIR");
    if (!bp_tool_fmnist_available(dir)) {
        printf("# skipped: Fashion-MNIST test set not found in %s (install "
               "dataset-fashion-mnist: tools/setup.sh)\n", dir ? dir : BP_TOOL_FMNIST_DIR);
        return 77;
    }
    char err[8192];
    if (bp_tool_fmnist_test_load(dir, &g_ds, err, sizeof err)) {
        printf("# %s\n", err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resnet8_bp),
        cmocka_unit_test(test_resnet8_wp),
        cmocka_unit_test(test_convnext_s),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    bp_tool_dataset_free(&g_ds);
    return rc;
}
