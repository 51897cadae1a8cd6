/*
 * fuzz_model_file.c: pr_model_load_mem on arbitrary bytes must return an
 * error or a usable model, never crash or leak.
 *
 * Random bytes almost never pass the checksums, which would leave the
 * section parsing unfuzzed. So each input is tried twice: as given, and
 * (when it starts with the magic) with both checksums recomputed, which
 * sends mutated params, directories and section sizes through the full
 * validation. A model that loads is then used once (predict, update,
 * inspect) to catch weights that would break the hot paths.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/model.h"

static void get32(const uint8_t *p, uint32_t *v) {
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void try_load(const uint8_t *data, size_t size) {
    pr_model *m = NULL;
    pr_err err;
    if (pr_model_load_mem(data, size, "fuzz.pm", &m, &err) != PR_OK) {
        if (m || err.msg[0] == '\0') abort();  /* failures must explain */
        return;
    }
    pr_feature f[4] = {{0, 0, 1.0f}, {1, 1, 1.0f}, {7, 2, 0.5f}, {3, 0, 2.0f}};
    pr_example x = {1.0f, 1.0f, 0, 4, f};
    (void)pr_model_predict(m, &x);
    (void)pr_model_update(m, &x);
    (void)pr_model_weight_norm(m, 3);
    (void)pr_model_n_nonzero(m);
    (void)pr_model_spec(m);
    (void)pr_model_info(m);
    pr_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_load(data, size);
    if (size < 48 || memcmp(data, "PRONTOMD", 8) != 0) return 0;
    uint32_t n;
    get32(data + 16, &n);
    size_t h = 32 + 24 * (size_t)n;
    if (n < 1 || n > 16 || size < h + 16) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    put64(copy + h, pr_hash64(copy, h, 0));
    pr_checksum *ck = pr_checksum_new();
    if (ck) {
        pr_checksum_update(ck, copy, size - 8);
        put64(copy + size - 8, pr_checksum_digest(ck));
        pr_checksum_free(ck);
        try_load(copy, size);
    }
    free(copy);
    return 0;
}
