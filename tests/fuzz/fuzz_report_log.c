/*
 * fuzz_report_log.c: the drift report's reader of logged prediction and
 * features records (pr_report_log_rows_feed) on arbitrary payloads, one
 * per line: the first byte picks rows from features records or not, each
 * line's first byte its type (odd: prediction, even: features). Checked:
 * no crash or leak; a record either parses (its rows reach the sink, each
 * after a bind whose column count matches the row's, p NaN or in [0, 1])
 * or is counted malformed; the sink saw exactly the rows counted.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sink_state {
    uint32_t bound_n;
    uint64_t rows, scores;
} sink_state;

static pr_status on_bind(void *ctx, const char *const *names, uint32_t n, pr_err *err) {
    (void)err;
    sink_state *s = ctx;
    if (n == 0) abort();
    for (uint32_t i = 0; i < n; i++)
        if (!names[i]) abort();
    s->bound_n = n;
    return PR_OK;
}

static void on_row(void *ctx, const pr_record *rec, double p) {
    sink_state *s = ctx;
    if (rec->n_cols != s->bound_n || rec->n_cols == 0) abort();
    for (uint32_t i = 0; i < rec->n_cols; i++)
        if (rec->cols[i].len && !rec->cols[i].ptr) abort();
    if (!isnan(p) && !(p >= 0 && p <= 1)) abort();
    s->rows++;
}

static void on_score(void *ctx, double p) {
    sink_state *s = ctx;
    if (!isnan(p) && !(p >= 0 && p <= 1)) abort();
    s->scores++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    sink_state st = {0, 0, 0};
    pr_report_log_sink sink = {on_bind, on_row, on_score, &st};
    pr_report_log_rows *lr;
    pr_err err;
    int from_features = data[0] & 1;
    if (pr_report_log_rows_new(&sink, from_features, &lr, &err) != PR_OK) return 0;
    uint64_t fed = 0, failed = 0;
    size_t i = 1;
    while (i < size) {
        size_t j = i;
        while (j < size && data[j] != '\n') j++;
        if (j > i) {
            uint32_t type = data[i] & 1 ? 2 : 3; /* prediction, features */
            fed++;
            if (pr_report_log_rows_feed(lr, type, (const char *)data + i + 1, j - i - 1,
                                        (int64_t)(i * 1000003u) - 500000000, &err) != PR_OK)
                failed++;
        }
        i = j + 1;
    }
    pr_report_log_stats s;
    pr_report_log_rows_stats_get(lr, &s);
    if (s.rows != st.rows || s.malformed != failed || s.predictions + s.features > fed) abort();
    if (!from_features && (st.scores || s.features)) abort();
    pr_report_log_rows_free(lr);
    return 0;
}
