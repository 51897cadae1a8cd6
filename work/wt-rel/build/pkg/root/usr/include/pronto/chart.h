/*
 * pronto/chart.h: line charts written as self-contained SVG.
 *
 * A chart is named series of (x, y) points, an x axis that is either plain
 * numbers or time (Unix seconds, UTC, ticks at round times), a y-axis
 * label, a title, and vertical markers with labels (a drift, a deploy).
 * The SVG has no scripts, no external fonts or images (generic
 * "sans-serif"), and every text is escaped for XML, with invalid UTF-8 and
 * control bytes replaced by '?'. Used by `pronto plot` (a chart from CSV
 * columns) and by anything that wants to draw a metric over time.
 *
 *     pr_chart *c;
 *     uint32_t s;
 *     if (pr_chart_new(&c, &err) != PR_OK) ...;
 *     pr_chart_set_x_kind(c, PR_CHART_X_TIME, &err);
 *     pr_chart_set_x_label(c, "simulated time (UTC)", &err);
 *     pr_chart_set_y_label(c, "log loss - Bayes", &err);
 *     pr_chart_add_series(c, "hourly retrain", &s, &err);
 *     pr_chart_add_point(c, s, 1704067200, 0.012, &err);     // ...
 *     pr_chart_add_marker(c, 1704499200, "ctr-shift", &err);
 *     pr_chart_write_svg(c, "loss.svg", &err);
 *     pr_chart_free(c);
 *
 * Strings passed in are copied. A point whose y is not finite is a gap: the
 * series' line stops there and starts again at the next finite point. Lines
 * join points in the order they were added.
 *
 * Bar charts: pr_chart_set_categories() turns the x axis into labelled
 * slots 0..n-1; each series then draws one bar per point (x = the slot),
 * the series side by side in a slot, the y axis from 0. Horizontal lines
 * (pr_chart_add_hline: a threshold) work on either kind. Several charts
 * on one HTML page need distinct ids (pr_chart_set_id) as the SVG's clip
 * path is referenced by id.
 */
#ifndef PRONTO_CHART_H
#define PRONTO_CHART_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits (PR_ERR_LIMIT past them). */
#define PR_CHART_MAX_SERIES 32
#define PR_CHART_MAX_MARKERS 256
#define PR_CHART_MAX_POINTS 10000000u /* over all series */
#define PR_CHART_MAX_TEXT 1024        /* bytes in a title, label or name */
#define PR_CHART_MAX_ABS 1e100        /* |x| beyond: refused; |y| beyond: a gap */
#define PR_CHART_MAX_CATEGORIES 1024  /* slots of a bar chart */
#define PR_CHART_MAX_ID 32            /* bytes of an id prefix */

typedef enum {
    PR_CHART_X_NUMBER = 0, /* plain numbers */
    PR_CHART_X_TIME = 1,   /* Unix seconds (UTC) */
} pr_chart_x_kind;

/* Opaque; owned by caller, free with pr_chart_free. Not thread-safe. */
typedef struct pr_chart pr_chart;

pr_status pr_chart_new(pr_chart **out, pr_err *err);
void pr_chart_free(pr_chart *c);

/* Setters: text copied; NULL clears. Defaults: no title, numeric x axis
 * without a label, no y label, 960 x 540 pixels. */
pr_status pr_chart_set_title(pr_chart *c, const char *title, pr_err *err);
pr_status pr_chart_set_x_kind(pr_chart *c, pr_chart_x_kind kind, pr_err *err);
pr_status pr_chart_set_x_label(pr_chart *c, const char *label, pr_err *err);
pr_status pr_chart_set_y_label(pr_chart *c, const char *label, pr_err *err);
/* width 200..10000, height 150..10000 (PR_ERR_INVALID otherwise). */
pr_status pr_chart_set_size(pr_chart *c, unsigned width, unsigned height, pr_err *err);

/* A new empty series named name (copied); its index goes to *index (OUT),
 * 0, 1, 2... in the order added; colours follow the same order. */
pr_status pr_chart_add_series(pr_chart *c, const char *name, uint32_t *index, pr_err *err);
/* x must be finite, |x| <= PR_CHART_MAX_ABS (PR_ERR_INVALID); a
 * non-finite y, or |y| > PR_CHART_MAX_ABS, is a gap. */
pr_status pr_chart_add_point(pr_chart *c, uint32_t series, double x, double y, pr_err *err);
/* A vertical line at x (as a point's x) labelled label (copied, may be NULL). */
pr_status pr_chart_add_marker(pr_chart *c, double x, const char *label, pr_err *err);

/* A horizontal line at y (finite, |y| <= PR_CHART_MAX_ABS) labelled label
 * (copied, may be NULL); counts against PR_CHART_MAX_MARKERS. */
pr_status pr_chart_add_hline(pr_chart *c, double y, const char *label, pr_err *err);
/* Makes c a bar chart of n slots labelled labels[0..n) (copied; n 1..
 * PR_CHART_MAX_CATEGORIES). A point's x must then be a slot index: x
 * rounded is the slot, points outside 0..n-1 are not drawn. Vertical
 * markers are not drawn on a bar chart. */
pr_status pr_chart_set_categories(pr_chart *c, const char *const *labels, uint32_t n,
                                  pr_err *err);
/* The prefix of the ids inside the SVG (default "pr"): 1..PR_CHART_MAX_ID
 * bytes of [A-Za-z0-9_-] (PR_ERR_INVALID otherwise). */
pr_status pr_chart_set_id(pr_chart *c, const char *id, pr_err *err);

pr_chart_x_kind pr_chart_get_x_kind(const pr_chart *c);
uint32_t pr_chart_n_series(const pr_chart *c);
/* Points added to series i (gaps included); 0 for i out of range. */
uint64_t pr_chart_n_points(const pr_chart *c, uint32_t i);

/* The SVG document. svg: OUT: malloc'd, NUL-terminated, owned by caller
 * (free()); *len its length. A chart without any finite point still
 * renders (axes, title, legend, markers). */
pr_status pr_chart_render_svg(const pr_chart *c, char **svg, size_t *len, pr_err *err);
/* Renders and writes path atomically (temporary, fsync, rename). */
pr_status pr_chart_write_svg(const pr_chart *c, const char *path, pr_err *err);

/* ---------------------------------------------------------------- CSV input
 * Columns of a CSV file (a header line, then rows; RFC 4180 quoting, the
 * csv reader of pronto/reader.h) as series: the x column against each y
 * column, the series named after the columns. Every x and y cell must be a
 * number (x also within +-1e100); an empty y cell (or nan) is a gap; an empty x cell, or anything
 * that is not a number, fails with "FILE:LINE: column 'NAME': expected a
 * number, got '...'". */
typedef enum {
    PR_CHART_CSV_X_AUTO = 0,    /* time if the x column's values look like Unix
                                   time: every |x| >= 1e11 is ms, else every
                                   x >= 1e8 is seconds; else numbers */
    PR_CHART_CSV_X_NUMBER = 1,
    PR_CHART_CSV_X_SECONDS = 2, /* Unix seconds */
    PR_CHART_CSV_X_MS = 3,      /* Unix milliseconds (drawn as seconds) */
} pr_chart_csv_x;

typedef struct pr_chart_csv_opts {
    const char *x_col;               /* borrowed during the call */
    const char *const *y_cols;       /* n_y names, borrowed during the call */
    uint32_t n_y;                    /* 1..PR_CHART_MAX_SERIES */
    pr_chart_csv_x x_kind;
} pr_chart_csv_opts;

/* Adds one series per y column to c (which may already hold others) and
 * sets its x axis kind (the label is left alone). On failure c is left
 * with whatever series were added before the bad row: discard it. */
pr_status pr_chart_load_csv(pr_chart *c, const char *path, const pr_chart_csv_opts *o,
                            pr_err *err);
/* The same from memory: data borrowed during the call, name (for
 * messages) borrowed. */
pr_status pr_chart_load_csv_mem(pr_chart *c, const void *data, size_t len, const char *name,
                                const pr_chart_csv_opts *o, pr_err *err);

#ifdef __cplusplus
}
#endif
#endif
