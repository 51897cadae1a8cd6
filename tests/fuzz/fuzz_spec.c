/*
 * fuzz_spec.c: libFuzzer target for the feature spec parser and everything
 * a parsed spec drives.
 *
 * For any input: pr_spec_parse must return a status (never crash or leak).
 * For an input that parses, the canonical YAML must be a fixed point
 * (parse(to_yaml(s)) prints the same text), and a featurizer built from it
 * must bind to the spec's own columns, fit (if it has quantile fields) and
 * featurize a few rows of awkward values without crashing. A broken
 * invariant aborts, which the fuzzer reports as a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/feature.h"

#define MAX_COLS 4096

static const char *const values[] = {"",    "1",           "0",   "-3",
                                     "2.5", "1e308",       "nan", "-inf",
                                     "abc", "99999999999", " 7 "};
#define N_VALUES (sizeof values / sizeof values[0])

static void check_round_trip(const pr_spec *s) {
    pr_err err;
    char *y1 = NULL, *y2 = NULL;
    size_t l1 = 0, l2 = 0;
    pr_spec *s2 = NULL;
    if (pr_spec_to_yaml(s, &y1, &l1, &err) != PR_OK) abort();
    if (pr_spec_parse(y1, l1, "canonical", &s2, &err) != PR_OK) {
        fprintf(stderr, "canonical YAML does not parse: %s\n%s", err.msg, y1);
        abort();
    }
    if (pr_spec_to_yaml(s2, &y2, &l2, &err) != PR_OK) abort();
    if (l1 != l2 || memcmp(y1, y2, l1) != 0) {
        fprintf(stderr, "canonical YAML is not a fixed point:\n%s\n---\n%s", y1,
                y2);
        abort();
    }
    free(y1);
    free(y2);
    pr_spec_free(s2);
}

static void featurize_some_rows(const pr_spec *s, const uint8_t *data,
                                size_t size) {
    pr_err err;
    pr_featurizer *f = NULL;
    if (pr_featurizer_new(s, &f, &err) != PR_OK) abort();
    uint32_t n = pr_spec_n_input_columns(s);
    if (n > MAX_COLS) n = MAX_COLS;
    static const char *names[MAX_COLS];
    static pr_bytes cols[MAX_COLS];
    for (uint32_t i = 0; i < n; i++) names[i] = pr_spec_input_column(s, i);
    if (pr_featurizer_bind(f, names, n, &err) != PR_OK) abort();

    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    pr_record rec;
    memset(&rec, 0, sizeof rec);
    rec.weight = 1;
    rec.n_cols = n;
    rec.cols = cols;
    rec.file = "fuzz";
    for (int row = 0; row < 4; row++) {
        for (uint32_t i = 0; i < n; i++) {
            uint8_t b = size ? data[(i * 7 + (uint32_t)row) % size] : 0;
            const char *v = values[(b + (uint32_t)row) % N_VALUES];
            cols[i] = pr_bytes_of(v, strlen(v));
        }
        rec.line = (uint64_t)row + 1;
        if (pr_featurizer_needs_fit(f))
            (void)pr_featurizer_fit_add(f, &rec, &err);
    }
    if (pr_featurizer_needs_fit(f)) (void)pr_featurizer_fit_finish(f, &err);
    uint32_t bits = pr_featurizer_hash_bits(f);
    for (int row = 0; row < 4 && !pr_featurizer_needs_fit(f); row++) {
        for (uint32_t i = 0; i < n; i++) {
            uint8_t b = size ? data[(i * 13 + (uint32_t)row) % size] : 0;
            const char *v = values[(b + 3u * (uint32_t)row) % N_VALUES];
            cols[i] = pr_bytes_of(v, strlen(v));
        }
        pr_example ex;
        pr_arena_reset(&arena);
        if (pr_featurizer_apply(f, &rec, &arena, &ex, &err) != PR_OK) continue;
        /* Every field in id order, at least once (set-valued fields and
         * their crosses give one feature per token). */
        uint32_t next = 0;
        for (uint32_t k = 0; k < ex.n; k++) {
            if (ex.f[k].field == next) next++;
            else if (next == 0 || ex.f[k].field != next - 1) abort();
            if (ex.f[k].index >> bits || !(ex.f[k].value == ex.f[k].value) ||
                ex.f[k].value - ex.f[k].value != 0)
                abort(); /* out-of-range index, or NaN/inf value */
        }
        if (next != pr_featurizer_n_fields(f)) abort();
    }
    pr_arena_free(&arena);
    pr_featurizer_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pr_err err;
    pr_spec *s = NULL;
    if (pr_spec_parse((const char *)data, size, "fuzz.yaml", &s, &err) !=
        PR_OK) {
        if (strlen(err.msg) == 0) abort(); /* every failure explains itself */
        return 0;
    }
    check_round_trip(s);
    featurize_some_rows(s, data, size);
    pr_spec_free(s);
    return 0;
}
