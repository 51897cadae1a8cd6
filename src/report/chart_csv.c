/*
 * chart_csv.c: CSV columns as chart series (pr_chart_load_csv,
 * pronto/chart.h), for `pronto plot`.
 *
 * The file is read with pronto's csv reader (pronto/reader.h: header, RFC
 * 4180 quoting, zstd, line limits), opened with every header column as an
 * output column and no label column, so a record's column i is header
 * field i + 1 and errors can name file:line:field. Only the cells of the
 * chosen columns are parsed here: a number (strtod, whole cell, at most 63
 * bytes), where an empty or non-finite y is a gap and an x must be finite.
 *
 * The rows are kept in local arrays until the end of the file, because
 * whether x is time, and in which unit, is decided on all its values
 * (PR_CHART_CSV_X_AUTO); only then are the series added to the chart.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/chart.h"
#include "pronto/reader.h"

/* A label column name no header has: the reader then takes none. */
#define NO_LABEL "\x01pronto-chart: no label column"

typedef struct rows {
    double *x, *y; /* n rows; y is n * n_y */
    uint64_t n, cap;
    uint32_t n_y;
} rows;

static pr_status rows_push(rows *r, double x, const double *y, pr_err *err) {
    if (r->n == r->cap) {
        uint64_t cap = r->cap ? r->cap * 2 : 1024;
        if (cap * r->n_y > PR_CHART_MAX_POINTS * 2ull) cap = r->cap + 1;
        double *nx = realloc(r->x, cap * sizeof *nx);
        if (!nx) return pr_err_set(err, PR_ERR_NOMEM, "chart: out of memory");
        r->x = nx;
        double *ny = realloc(r->y, cap * r->n_y * sizeof *ny);
        if (!ny) return pr_err_set(err, PR_ERR_NOMEM, "chart: out of memory");
        r->y = ny;
        r->cap = cap;
    }
    r->x[r->n] = x;
    memcpy(r->y + r->n * r->n_y, y, r->n_y * sizeof *y);
    r->n++;
    return PR_OK;
}

/* 0 and *out on success (an empty cell: NAN), -1 if v is not a number. */
static int parse_cell(pr_bytes v, double *out) {
    char tmp[64];
    if (v.len == 0) {
        *out = NAN;
        return 0;
    }
    if (v.len >= sizeof tmp) return -1;
    memcpy(tmp, v.ptr, v.len);
    tmp[v.len] = 0;
    char *end = NULL;
    errno = 0;
    double d = strtod(tmp, &end);
    if (end == tmp || *end != 0) return -1;
    if (errno == ERANGE && isfinite(d) && d != 0) errno = 0; /* tiny: fine */
    *out = d;
    return 0;
}

static pr_status bad_cell(pr_err *err, const pr_record *rec, uint32_t col, const char *name,
                          pr_bytes v, const char *what) {
    int n = v.len > 40 ? 40 : (int)v.len;
    char shown[41];
    for (int i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v.ptr[i];
        shown[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
    }
    shown[n] = 0;
    return pr_err_set(err, PR_ERR_PARSE, "%s:%llu:%u: column '%s': expected %s, got '%s%s'",
                      rec->file, (unsigned long long)rec->line, col + 1, name, what, shown,
                      v.len > 40 ? "..." : "");
}

static pr_status load(pr_chart *c, pr_reader *r, const char *name, const pr_chart_csv_opts *o,
                      pr_err *err) {
    uint32_t n_cols = pr_reader_n_columns(r);
    uint32_t xi = UINT32_MAX, yi[PR_CHART_MAX_SERIES];
    for (uint32_t i = 0; i < n_cols; i++)
        if (!strcmp(pr_reader_column_name(r, i), o->x_col)) {
            xi = i;
            break;
        }
    if (xi == UINT32_MAX)
        return pr_err_set(err, PR_ERR_PARSE, "%s: no column '%s' in the header", name, o->x_col);
    for (uint32_t k = 0; k < o->n_y; k++) {
        yi[k] = UINT32_MAX;
        for (uint32_t i = 0; i < n_cols; i++)
            if (!strcmp(pr_reader_column_name(r, i), o->y_cols[k])) {
                yi[k] = i;
                break;
            }
        if (yi[k] == UINT32_MAX)
            return pr_err_set(err, PR_ERR_PARSE, "%s: no column '%s' in the header", name,
                              o->y_cols[k]);
    }

    rows rs = {0};
    rs.n_y = o->n_y;
    double y[PR_CHART_MAX_SERIES];
    pr_record rec;
    pr_status s;
    while ((s = pr_reader_next(r, &rec, err)) == PR_OK) {
        double x;
        pr_bytes xv = rec.cols[xi];
        if (xv.len == 0 || parse_cell(xv, &x) != 0 || !(fabs(x) <= PR_CHART_MAX_ABS)) {
            s = bad_cell(err, &rec, xi, o->x_col, xv, "a finite number");
            break;
        }
        for (uint32_t k = 0; k < o->n_y; k++)
            if (parse_cell(rec.cols[yi[k]], &y[k]) != 0) {
                s = bad_cell(err, &rec, yi[k], o->y_cols[k], rec.cols[yi[k]],
                             "a number (or an empty cell)");
                goto done;
            }
        if ((rs.n + 1) * o->n_y > PR_CHART_MAX_POINTS) {
            s = pr_err_set(err, PR_ERR_LIMIT, "%s:%llu: more than %u points", name,
                           (unsigned long long)rec.line, PR_CHART_MAX_POINTS);
            break;
        }
        if ((s = rows_push(&rs, x, y, err)) != PR_OK) break;
    }
done:
    if (s == PR_EOF) {
        s = PR_OK;
        pr_chart_csv_x kind = o->x_kind;
        if (kind == PR_CHART_CSV_X_AUTO) {
            int all_ms = rs.n > 0, all_s = rs.n > 0;
            for (uint64_t i = 0; i < rs.n; i++) {
                if (fabs(rs.x[i]) < 1e11) all_ms = 0;
                if (rs.x[i] < 1e8) all_s = 0;
            }
            kind = all_ms ? PR_CHART_CSV_X_MS : all_s ? PR_CHART_CSV_X_SECONDS
                                                      : PR_CHART_CSV_X_NUMBER;
        }
        double scale = kind == PR_CHART_CSV_X_MS ? 1e-3 : 1;
        s = pr_chart_set_x_kind(c, kind == PR_CHART_CSV_X_NUMBER ? PR_CHART_X_NUMBER
                                                                 : PR_CHART_X_TIME,
                                err);
        for (uint32_t k = 0; s == PR_OK && k < o->n_y; k++) {
            uint32_t idx;
            s = pr_chart_add_series(c, o->y_cols[k], &idx, err);
            for (uint64_t i = 0; s == PR_OK && i < rs.n; i++)
                s = pr_chart_add_point(c, idx, rs.x[i] * scale, rs.y[i * o->n_y + k], err);
        }
    }
    free(rs.x);
    free(rs.y);
    return s;
}

static pr_status check_opts(const pr_chart_csv_opts *o, pr_err *err) {
    if (!o->x_col || !*o->x_col)
        return pr_err_set(err, PR_ERR_INVALID, "chart: no x column given");
    if (o->n_y == 0 || o->n_y > PR_CHART_MAX_SERIES)
        return pr_err_set(err, PR_ERR_INVALID, "chart: 1..%d y columns, got %u",
                          PR_CHART_MAX_SERIES, o->n_y);
    for (uint32_t k = 0; k < o->n_y; k++)
        if (!o->y_cols[k] || !*o->y_cols[k])
            return pr_err_set(err, PR_ERR_INVALID, "chart: an empty y column name");
    return PR_OK;
}

static void reader_opts(pr_reader_opts *ro) {
    pr_reader_opts_init(ro, PR_FORMAT_CSV);
    ro->label_col = NO_LABEL;
    ro->label_optional = 1;
}

pr_status pr_chart_load_csv(pr_chart *c, const char *path, const pr_chart_csv_opts *o,
                            pr_err *err) {
    pr_status s = check_opts(o, err);
    if (s != PR_OK) return s;
    pr_reader_opts ro;
    reader_opts(&ro);
    pr_reader *r = NULL;
    s = pr_reader_open(path, &ro, &r, err);
    if (s != PR_OK) return s;
    s = load(c, r, path, o, err);
    pr_reader_free(r);
    return s;
}

pr_status pr_chart_load_csv_mem(pr_chart *c, const void *data, size_t len, const char *name,
                                const pr_chart_csv_opts *o, pr_err *err) {
    pr_status s = check_opts(o, err);
    if (s != PR_OK) return s;
    pr_reader_opts ro;
    reader_opts(&ro);
    pr_reader *r = NULL;
    s = pr_reader_open_mem(data, len, name, &ro, &r, err);
    if (s != PR_OK) return s;
    s = load(c, r, name, o, err);
    pr_reader_free(r);
    return s;
}
