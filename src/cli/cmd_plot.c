/*
 * cmd_plot.c: `pronto plot`: a line chart (self-contained SVG) of CSV
 * columns, through pronto/chart.h. One x column, one or more y columns
 * (one series each, named after the column), vertical markers with labels,
 * a title and axis labels.
 *
 * --mark is repeatable, which the shared flag parser is not: the marks are
 * taken out of argv first, and the rest goes to pr_flags_parse (where
 * --mark is listed for --help only). A mark is T:LABEL, split at the
 * longest prefix that reads as a position on the x axis, so ISO times with
 * colons in them work ("2024-01-06T12:00:00Z:deploy").
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "data/reader_int.h"
#include "pronto/chart.h"

#define MAX_ARGS 4096

static const char *const plot_usage =
    "--x COL --y COL[,COL...] [--mark T:LABEL]... [--title TEXT] -o OUT.svg FILE.csv\n\n"
    "Draws a line chart of CSV columns as a self-contained SVG (no scripts,\n"
    "no external fonts): the --x column against each --y column, one series\n"
    "each, named after its column. An empty y cell (or nan) is a gap in its\n"
    "line; every x must be a number. With --x-time auto (the default) the x\n"
    "column is time when its values look like it: all >= 1e11 are Unix\n"
    "milliseconds, all >= 1e8 Unix seconds; the axis then shows UTC dates.\n"
    "A mark's T is, on a time axis, ISO-8601 (2024-01-06, 2024-01-06T12:00:00Z),\n"
    "Unix seconds, or Unix milliseconds written with 'ms' (1704499200000ms);\n"
    "on a number axis, a number. See docs/plot.md.";

/* Position of a mark on the axis, from text[0..n). 0 on success. */
static int parse_pos(const char *text, size_t n, int time_axis, double *out) {
    char tmp[64];
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, text, n);
    tmp[n] = 0;
    if (time_axis) {
        if (n > 2 && !strcmp(tmp + n - 2, "ms")) {
            int64_t ms;
            if (pr__parse_int64(tmp, n - 2, &ms) != 0) return -1;
            *out = (double)ms / 1000;
            return 0;
        }
        int64_t s;
        if (pr__parse_ts(tmp, n, &s) != 0) return -1;
        *out = (double)s;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    double d = strtod(tmp, &end);
    if (end == tmp || *end || !isfinite(d)) return -1;
    *out = d;
    return 0;
}

/* "T" or "T:LABEL" -> x and label (a pointer into mark, or NULL). */
static int parse_mark(const char *mark, int time_axis, double *x, const char **label) {
    size_t n = strlen(mark);
    if (parse_pos(mark, n, time_axis, x) == 0) {
        *label = NULL;
        return 0;
    }
    for (size_t i = n; i-- > 0;)
        if (mark[i] == ':' && parse_pos(mark, i, time_axis, x) == 0) {
            *label = mark + i + 1;
            return 0;
        }
    return -1;
}

int cmd_plot(int argc, char **argv) {
    const char *x_col = NULL, *y_cols_s = NULL, *out = NULL, *title = NULL;
    const char *x_label = NULL, *y_label = NULL, *x_time = "auto", *mark_help = NULL;
    unsigned long long width = 960, height = 540;
    pr_flag flags[] = {
        {"--x", NULL, PR_FLAG_STRING, &x_col, "COL the x column (time or numbers)", 0},
        {"--y", NULL, PR_FLAG_STRING, &y_cols_s, "COL[,COL...] the y columns, one series each", 0},
        {"--mark", NULL, PR_FLAG_STRING, &mark_help, "T[:LABEL] a vertical marker at T (repeatable)", 0},
        {"--title", NULL, PR_FLAG_STRING, &title, "TEXT the chart's title", 0},
        {"--x-label", NULL, PR_FLAG_STRING, &x_label, "TEXT under the x axis (default: the x column, \"(UTC)\" for time)", 0},
        {"--y-label", NULL, PR_FLAG_STRING, &y_label, "TEXT along the y axis", 0},
        {"--x-time", NULL, PR_FLAG_STRING, &x_time, "auto|ms|s|no: the x column is Unix ms, Unix seconds, or numbers (default auto)", 0},
        {"--width", NULL, PR_FLAG_UINT, &width, "PX 200..10000 (default 960)", 0},
        {"--height", NULL, PR_FLAG_UINT, &height, "PX 150..10000 (default 540)", 0},
        {"--out", "-o", PR_FLAG_STRING, &out, "FILE.svg written atomically", 0},
    };
    if (argc > MAX_ARGS) return cli_usage_error("plot", "too many arguments");
    /* take the marks out */
    char *rest[MAX_ARGS];
    const char *marks[PR_CHART_MAX_MARKERS];
    int n_rest = 0, n_marks = 0;
    for (int i = 0; i < argc; i++) {
        const char *m = NULL;
        if (i > 0 && !strcmp(argv[i], "--mark")) {
            if (i + 1 >= argc) return cli_usage_error("plot", "--mark needs a value");
            m = argv[++i];
        } else if (i > 0 && !strncmp(argv[i], "--mark=", 7)) {
            m = argv[i] + 7;
        } else {
            rest[n_rest++] = argv[i];
            continue;
        }
        if (n_marks >= PR_CHART_MAX_MARKERS) return cli_usage_error("plot", "--mark: too many marks (256 at most)");
        marks[n_marks++] = m;
    }
    char *pos[4];
    int n_pos = 0;
    int rc = pr_flags_parse("plot", plot_usage, flags, (int)(sizeof flags / sizeof flags[0]), n_rest,
                            rest, pos, 4, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos != 1) return cli_usage_error("plot", "expected one CSV file (- for stdin)");
    if (!x_col) return cli_usage_error("plot", "--x is required");
    if (!y_cols_s || !*y_cols_s) return cli_usage_error("plot", "--y is required");
    if (!out) return cli_usage_error("plot", "-o is required");
    pr_chart_csv_opts o = {0};
    o.x_col = x_col;
    if (!strcmp(x_time, "auto")) o.x_kind = PR_CHART_CSV_X_AUTO;
    else if (!strcmp(x_time, "ms")) o.x_kind = PR_CHART_CSV_X_MS;
    else if (!strcmp(x_time, "s")) o.x_kind = PR_CHART_CSV_X_SECONDS;
    else if (!strcmp(x_time, "no")) o.x_kind = PR_CHART_CSV_X_NUMBER;
    else return cli_usage_error("plot", "--x-time: expected auto, ms, s or no");

    /* split --y on commas (a copy: argv stays intact) */
    char *ys = strdup(y_cols_s);
    if (!ys) return PR_EXIT_FAIL;
    const char *y_cols[PR_CHART_MAX_SERIES];
    uint32_t n_y = 0;
    for (char *p = ys;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        if (!*p) {
            free(ys);
            return cli_usage_error("plot", "--y: an empty column name");
        }
        if (n_y >= PR_CHART_MAX_SERIES) {
            free(ys);
            return cli_usage_error("plot", "--y: at most 32 columns");
        }
        y_cols[n_y++] = p;
        if (!comma) break;
        p = comma + 1;
    }
    o.y_cols = y_cols;
    o.n_y = n_y;

    pr_err err;
    pr_err_clear(&err);
    pr_chart *c = NULL;
    int exit_code = PR_EXIT_FAIL;
    if (pr_chart_new(&c, &err) != PR_OK) goto fail;
    if (pr_chart_set_size(c, (unsigned)(width > 100000 ? 100000 : width),
                          (unsigned)(height > 100000 ? 100000 : height), &err) != PR_OK) {
        fprintf(stderr, "pronto plot: --width/--height: %s\n", err.msg);
        exit_code = PR_EXIT_USAGE;
        goto done;
    }
    if (pr_chart_set_title(c, title, &err) != PR_OK || pr_chart_set_y_label(c, y_label, &err) != PR_OK)
        goto fail;
    if (pr_chart_load_csv(c, pos[0], &o, &err) != PR_OK) goto fail;
    /* the loader decided the axis kind: the default label and the marks follow it */
    int time_axis = pr_chart_get_x_kind(c) == PR_CHART_X_TIME;
    char xl[PR_CHART_MAX_TEXT + 16];
    if (!x_label) {
        snprintf(xl, sizeof xl, "%s%s", x_col, time_axis ? " (UTC)" : "");
        x_label = xl;
    }
    for (int i = 0; i < n_marks; i++) {
        double x;
        const char *label;
        if (parse_mark(marks[i], time_axis, &x, &label) != 0) {
            if (time_axis)
                fprintf(stderr, "pronto plot: --mark: expected T or T:LABEL with T an ISO-8601 time, "
                                "Unix seconds or Unix ms written with 'ms', got '%s'\n", marks[i]);
            else
                fprintf(stderr, "pronto plot: --mark: expected T or T:LABEL with T a number "
                                "(the x axis is not time), got '%s'\n", marks[i]);
            exit_code = PR_EXIT_USAGE;
            goto done;
        }
        if (pr_chart_add_marker(c, x, label, &err) != PR_OK) goto fail;
    }
    if (pr_chart_set_x_label(c, x_label, &err) != PR_OK) goto fail;
    if (pr_chart_write_svg(c, out, &err) != PR_OK) goto fail;
    exit_code = PR_EXIT_OK;
    goto done;
fail:
    fprintf(stderr, "pronto plot: %s\n", err.msg);
done:
    pr_chart_free(c);
    free(ys);
    return exit_code;
}
