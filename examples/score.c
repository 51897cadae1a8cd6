/*
 * examples/score.c: score rows with a pronto model from a program of your
 * own, linked to the installed libpronto.so.
 *
 *     cc score.c $(pkg-config --cflags --libs pronto) -o score
 *     ./score ctr.pm rows.tsv          # or: ./score ctr.pm < rows.tsv
 *
 * rows.tsv is tab-separated text whose first line names the columns; the
 * model's input columns (pr_predictor_column) must be among them, others
 * are ignored, an empty value is a missing one. Prints one probability per
 * row with six decimals, as `pronto predict` does. pr_predictor
 * (pronto/predictor.h) is the whole API used: it rebuilds the featurizer the
 * model file embeds and applies the model's rare-feature filter, so these
 * are the numbers `pronto predict` prints. tests/install_tree.sh builds this
 * file against an installed tree, with pkg-config and with CMake's
 * find_package(pronto), and compares its output with `pronto predict`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pronto/predictor.h>

#define MAX_COLS 1024

/* Splits line (NUL-terminated, no newline) at tabs, NUL-terminating each
 * cell; returns the number of cells, or 0 when there are more than max. */
static uint32_t split_tabs(char *line, pr_bytes *cells, uint32_t max) {
    uint32_t n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return 0;
        char *tab = strchr(p, '\t');
        size_t len = tab ? (size_t)(tab - p) : strlen(p);
        cells[n++] = pr_bytes_of(p, len);
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
        fprintf(stderr, "usage: %s MODEL [ROWS.tsv]   (built with pronto %s, running %s)\n",
                argv[0], PR_VERSION_STRING, pr_version());
        return 2;
    }
    const char *rows_name = argc == 3 ? argv[2] : "stdin";
    FILE *in = argc == 3 ? fopen(argv[2], "r") : stdin;
    if (!in) {
        perror(argv[2]);
        return 1;
    }
    static pr_bytes cells[MAX_COLS];
    static uint32_t from[MAX_COLS];   /* model column i = header column from[i] */
    pr_bytes *row = NULL;
    char *header = NULL, *line = NULL;
    size_t header_cap = 0, line_cap = 0;
    pr_predictor *p = NULL;
    pr_err err;
    int rc = 1;

    if (pr_predictor_open(argv[1], &p, &err) != PR_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], err.msg);
        goto out;
    }
    ssize_t len = getline(&header, &header_cap, in);
    if (len < 0) {
        fprintf(stderr, "%s: no header line\n", rows_name);
        goto out;
    }
    chomp(header, &len);
    uint32_t n_header = split_tabs(header, cells, MAX_COLS);
    uint32_t n_cols = pr_predictor_n_columns(p);
    if (n_header == 0 || n_cols > MAX_COLS) {
        fprintf(stderr, "%s: more than %d columns\n", rows_name, MAX_COLS);
        goto out;
    }
    for (uint32_t i = 0; i < n_cols; i++) {
        const char *want = pr_predictor_column(p, i);
        uint32_t j = 0;
        while (j < n_header && strcmp(cells[j].ptr, want) != 0) j++;
        if (j == n_header) {
            fprintf(stderr, "%s: no column '%s' in the header\n", rows_name, want);
            goto out;
        }
        from[i] = j;
    }
    row = calloc(n_cols ? n_cols : 1, sizeof *row);
    if (!row) goto out;
    for (unsigned long r = 1; (len = getline(&line, &line_cap, in)) >= 0; r++) {
        chomp(line, &len);
        if (split_tabs(line, cells, MAX_COLS) != n_header) {
            fprintf(stderr, "%s: row %lu: not %u columns\n", rows_name, r, n_header);
            goto out;
        }
        for (uint32_t i = 0; i < n_cols; i++) row[i] = cells[from[i]];
        double prob;
        if (pr_predictor_score(p, row, 1, &prob, &err) != PR_OK) {
            fprintf(stderr, "%s: line %lu: %s\n", rows_name, r + 1, err.msg);
            goto out;
        }
        printf("%.6f\n", prob);
    }
    rc = 0;
out:
    free(row);
    free(header);
    free(line);
    pr_predictor_close(p);
    if (in != stdin) fclose(in);
    return rc;
}
