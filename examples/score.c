/*
 * examples/score.c: score rows with a pronto model from a program of your
 * own, linked to the installed libpronto.so.
 *
 *     cc score.c $(pkg-config --cflags --libs pronto) -o score
 *     ./score ctr.pm rows.tsv          # or: ./score ctr.pm < rows.tsv
 *
 * rows.tsv is tab-separated text whose first line names the columns; the
 * columns the model's spec reads must be among them (others are ignored, an
 * empty value is a missing one). Prints one probability per row with six
 * decimals, as `pronto predict` does. The model file embeds its feature
 * spec, so loading it rebuilds the featurizer it was trained with; the
 * rare-feature filter is applied as in training (docs/architecture.md, "The
 * one rule"). tests/install_tree.sh builds this file against an installed
 * tree, with pkg-config and with CMake's find_package(pronto), and checks
 * its output against `pronto predict`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pronto/pronto.h>
#include <pronto/version.h>

#define MAX_COLS 1024

/* Splits line (NUL-terminated, no newline) at tabs into cols; returns the
 * number of columns, or 0 when there are more than MAX_COLS. */
static uint32_t split_tabs(char *line, pr_bytes *cols) {
    uint32_t n = 0;
    char *p = line;
    for (;;) {
        if (n == MAX_COLS) return 0;
        char *tab = strchr(p, '\t');
        size_t len = tab ? (size_t)(tab - p) : strlen(p);
        cols[n++] = pr_bytes_of(p, len);
        if (!tab) return n;
        *tab = '\0';
        p = tab + 1;
    }
}

static void chomp(char *line, ssize_t *len) {
    while (*len > 0 && (line[*len - 1] == '\n' || line[*len - 1] == '\r'))
        line[--*len] = '\0';
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODEL [ROWS.tsv]   (libpronto %s)\n", argv[0],
                PR_VERSION_STRING);
        return 2;
    }
    FILE *in = argc == 3 ? fopen(argv[2], "r") : stdin;
    if (!in) {
        perror(argv[2]);
        return 1;
    }
    pr_err err;
    pr_err_clear(&err);
    pr_model *model = NULL;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    static pr_bytes cols[MAX_COLS];
    static const char *names[MAX_COLS];
    char *header = NULL, *line = NULL;
    size_t header_cap = 0, line_cap = 0;
    int rc = 1;
    unsigned long row = 0;

    if (pr_model_load(argv[1], &model, &err) != PR_OK) goto fail;
    const char *yaml = pr_model_spec(model);
    if (pr_spec_parse(yaml, strlen(yaml), argv[1], &spec, &err) != PR_OK) goto fail;
    if (pr_featurizer_new(spec, &fz, &err) != PR_OK) goto fail;

    ssize_t len = getline(&header, &header_cap, in);
    if (len < 0) {
        fprintf(stderr, "%s: no header line\n", argc == 3 ? argv[2] : "stdin");
        goto out;
    }
    chomp(header, &len);
    uint32_t n_names = split_tabs(header, cols);
    for (uint32_t i = 0; i < n_names; i++) names[i] = cols[i].ptr;  /* NUL-split */
    if (pr_featurizer_bind(fz, names, n_names, &err) != PR_OK) goto fail;

    while ((len = getline(&line, &line_cap, in)) >= 0) {
        row++;
        chomp(line, &len);
        uint32_t n = split_tabs(line, cols);
        if (n != n_names) {
            fprintf(stderr, "row %lu: %u columns, the header has %u\n", row, n, n_names);
            goto out;
        }
        pr_record rec = {.weight = 1, .n_cols = n, .cols = cols, .file = "rows",
                         .line = row + 1};
        pr_example x;
        pr_arena_reset(&arena);
        if (pr_featurizer_apply(fz, &rec, &arena, &x, &err) != PR_OK) goto fail;
        pr_featurizer_apply_filter(fz, pr_model_filter(model), &x);
        printf("%.6f\n", pr_model_predict(model, &x));
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "%s: %s\n", argv[0], err.msg);
out:
    free(header);
    free(line);
    pr_arena_free(&arena);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    pr_model_free(model);
    if (in != stdin) fclose(in);
    return rc;
}
