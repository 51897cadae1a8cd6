/*
 * fuzz_report_log.c: the drift report's reader of logged prediction
 * records (pr_report_log_rows_feed) on arbitrary payloads, one per line.
 * Checked: no crash or leak; a record either parses (its rows reach the
 * sink, each with at least the candidate key column, p NaN or in [0, 1],
 * after a bind whose column count matches the row's) or is counted
 * malformed; rows + malformed records account for what was fed.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sink_state {
    uint32_t bound_n;
    uint64_t rows;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sink_state st = {0, 0};
    pr_report_log_sink sink = {on_bind, on_row, &st};
    pr_report_log_rows *lr;
    pr_err err;
    if (pr_report_log_rows_new(&sink, &lr, &err) != PR_OK) return 0;
    uint64_t fed = 0, failed = 0;
    size_t i = 0;
    while (i < size) {
        size_t j = i;
        while (j < size && data[j] != '\n') j++;
        fed++;
        if (pr_report_log_rows_feed(lr, (const char *)data + i, j - i,
                                    (int64_t)(i * 1000003u) - 500000000, &err) != PR_OK)
            failed++;
        i = j + 1;
    }
    pr_report_log_stats s;
    pr_report_log_rows_stats_get(lr, &s);
    if (s.rows != st.rows || s.malformed != failed || s.predictions > fed) abort();
    pr_report_log_rows_free(lr);
    return 0;
}
