/*
 * bench_featurize.c: rows per second of pr_featurizer_apply alone, on
 * synthetic Criteo-shaped rows built in memory (13 integer columns with a
 * heavy-tailed distribution and ~8% missing, 26 hex tokens, ~4% missing).
 *
 *   bench_featurize [rows] [passes] [crosses]
 *
 * With crosses = 1 the spec adds three crosses (C1xC2, C3xC4, I1xC1).
 * One thread, one arena reset per row: the same loop a trainer runs.
 *
 * The default, 1000 rows (~1 MB of row data) replayed many times, keeps the
 * rows in cache as they are when a reader has just produced one: it
 * measures the featurizer. Hundreds of thousands of rows instead measure
 * streaming the synthetic rows from memory as well.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/feature.h"

#define N_COLS 39

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int main(int argc, char **argv) {
    uint32_t rows = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000;
    int passes = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 1000;
    int with_crosses = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 0;
    if (rows == 0 || passes <= 0) {
        fprintf(stderr,
                "usage: bench_featurize [rows] [passes] [crosses 0|1]\n");
        return 2;
    }

    /* Column text lives in one buffer: at most 20 bytes per value. */
    char *text = malloc((size_t)rows * N_COLS * 20);
    pr_bytes *cols = malloc((size_t)rows * N_COLS * sizeof *cols);
    pr_record *recs = calloc(rows, sizeof *recs);
    if (!text || !cols || !recs) return 1;
    uint64_t s = 88172645463325252ull;
    char *p = text;
    for (uint32_t r = 0; r < rows; r++) {
        for (int c = 0; c < N_COLS; c++) {
            uint64_t x = rng_next(&s);
            int n = 0;
            if (c < 13) {
                if (x % 100 >= 8) /* integers: mostly small, some large */
                    n = snprintf(
                        p, 20, "%llu",
                        (unsigned long long)((x >> 8) % ((x >> 40) % 4 == 0
                                                             ? 100000
                                                             : 30)));
            } else if (x % 100 >= 4) {
                n = snprintf(
                    p, 20, "%08llx",
                    (unsigned long long)((x >> 8) % (1u << (10 + c % 14))));
            }
            cols[(size_t)r * N_COLS + c] = pr_bytes_of(p, (size_t)n);
            p += n;
        }
        recs[r].weight = 1;
        recs[r].label = (float)(rng_next(&s) % 4 == 0);
        recs[r].n_cols = N_COLS;
        recs[r].cols = cols + (size_t)r * N_COLS;
        recs[r].file = "synthetic";
        recs[r].line = r + 1;
    }

    const char *names[N_COLS];
    char name_buf[N_COLS][8];
    for (int i = 0; i < N_COLS; i++) {
        snprintf(name_buf[i], sizeof name_buf[i], "%c%d", i < 13 ? 'I' : 'C',
                 i < 13 ? i + 1 : i - 12);
        names[i] = name_buf[i];
    }

    pr_err err;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    size_t spec_len = strlen(pr_spec_default_criteo());
    char *spec_text = malloc(spec_len + 64);
    memcpy(spec_text, pr_spec_default_criteo(), spec_len);
    if (with_crosses) {
        const char *extra = "crosses: [[C1, C2], [C3, C4], [I1, C1]]\n";
        memcpy(spec_text + spec_len, extra, strlen(extra));
        spec_len += strlen(extra);
    }
    if (pr_spec_parse(spec_text, spec_len, "criteo", &spec, &err) != PR_OK ||
        pr_featurizer_new(spec, &fz, &err) != PR_OK ||
        pr_featurizer_bind(fz, names, N_COLS, &err) != PR_OK) {
        fprintf(stderr, "bench_featurize: %s\n", err.msg);
        return 1;
    }

    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    pr_example ex;
    uint64_t checksum = 0;
    double best = 1e30;
    for (int pass = 0; pass < passes; pass++) {
        double t0 = pr_now();
        for (uint32_t r = 0; r < rows; r++) {
            pr_arena_reset(&arena);
            if (pr_featurizer_apply(fz, &recs[r], &arena, &ex, &err) != PR_OK) {
                fprintf(stderr, "bench_featurize: %s\n", err.msg);
                return 1;
            }
            checksum += ex.f[ex.n - 1].index;
        }
        double dt = pr_now() - t0;
        if (dt < best) best = dt;
    }
    printf("featurize: %u rows x %u fields, best of %d passes: %.3f ms, "
           "%.2f M rows/s, %.0f ns/row (checksum %llu)\n",
           rows, pr_featurizer_n_fields(fz), passes, best * 1e3,
           rows / best / 1e6, best / rows * 1e9, (unsigned long long)checksum);

    pr_arena_free(&arena);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    free(spec_text);
    free(recs);
    free(cols);
    free(text);
    return 0;
}
