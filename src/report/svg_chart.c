/*
 * svg_chart.c: line charts as self-contained SVG (pronto/chart.h).
 *
 * The chart owns copies of every string and one growing array of points
 * per series. Rendering computes the data range once (finite points and
 * markers), picks "nice" ticks (1, 2, 5 x 10^k for numbers; round
 * durations from a second to a month for time), and writes the document
 * into a growing buffer capped at SVG_MAX_BYTES.
 *
 * Layout, top to bottom: the title, the plot area (grid, markers, series
 * lines), the x tick labels and x label, then the legend in rows. The y
 * label is rotated along the left edge. Elements carry classes the tests
 * and style sheets can select: path.series (data-series = the index),
 * line.marker, text.marker-label, g.legend.
 *
 * A bar chart (categories set) keeps the same layout: the x axis has one
 * slot per category, labelled (rotated when they do not fit side by side),
 * each series a rect.bar per point in its own column of the slot; the y
 * axis includes 0. Horizontal lines (line.hline, text.hline-label) are
 * drawn on both kinds. Ids (the clip path) carry the chart's id prefix.
 *
 * Text goes through put_text(): XML-escaped (& < > " '), valid UTF-8
 * copied, any other byte and C0 controls written as '?', so the document
 * is well-formed whatever the input.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pronto/chart.h"
#include "base/utf8.h"

#define SVG_MAX_BYTES ((size_t)512 << 20)

typedef struct series {
    char *name;
    double *x, *y;
    uint64_t n, cap;
} series;

typedef struct marker {
    double x;
    char *label;
} marker;

struct pr_chart {
    char *title, *x_label, *y_label;
    char id[PR_CHART_MAX_ID + 1];
    char **cats;                  /* bar chart: n_cats labels, else NULL */
    uint32_t n_cats;
    marker h[PR_CHART_MAX_MARKERS]; /* horizontal lines: x holds the y */
    uint32_t n_hlines;
    pr_chart_x_kind x_kind;
    unsigned width, height;
    series s[PR_CHART_MAX_SERIES];
    uint32_t n_series;
    uint64_t n_points;
    marker m[PR_CHART_MAX_MARKERS];
    uint32_t n_markers;
};

/* Tableau 10: distinguishable, and readable on white. */
static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                      "#bcbd22", "#17becf"};
#define N_PALETTE (sizeof palette / sizeof palette[0])

static pr_status copy_text(const char *what, const char *in, char **out, pr_err *err) {
    char *s = NULL;
    if (in) {
        size_t n = strlen(in);
        if (n > PR_CHART_MAX_TEXT)
            return pr_err_set(err, PR_ERR_LIMIT, "chart: %s is %zu bytes, more than %d", what,
                              n, PR_CHART_MAX_TEXT);
        s = strdup(in);
        if (!s) return pr_err_set(err, PR_ERR_NOMEM, "chart: out of memory");
    }
    free(*out);
    *out = s;
    return PR_OK;
}

pr_status pr_chart_new(pr_chart **out, pr_err *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return pr_err_set(err, PR_ERR_NOMEM, "chart: out of memory");
    (*out)->width = 960;
    (*out)->height = 540;
    memcpy((*out)->id, "pr", 3);
    return PR_OK;
}

void pr_chart_free(pr_chart *c) {
    if (!c) return;
    free(c->title);
    free(c->x_label);
    free(c->y_label);
    for (uint32_t i = 0; i < c->n_series; i++) {
        free(c->s[i].name);
        free(c->s[i].x);
        free(c->s[i].y);
    }
    for (uint32_t i = 0; i < c->n_markers; i++) free(c->m[i].label);
    for (uint32_t i = 0; i < c->n_hlines; i++) free(c->h[i].label);
    for (uint32_t i = 0; i < c->n_cats; i++) free(c->cats[i]);
    free(c->cats);
    free(c);
}

pr_status pr_chart_set_title(pr_chart *c, const char *title, pr_err *err) {
    return copy_text("the title", title, &c->title, err);
}

pr_status pr_chart_set_x_kind(pr_chart *c, pr_chart_x_kind kind, pr_err *err) {
    if (kind != PR_CHART_X_NUMBER && kind != PR_CHART_X_TIME)
        return pr_err_set(err, PR_ERR_INVALID, "chart: unknown x axis kind %d", (int)kind);
    c->x_kind = kind;
    return PR_OK;
}

pr_status pr_chart_set_x_label(pr_chart *c, const char *label, pr_err *err) {
    return copy_text("the x label", label, &c->x_label, err);
}

pr_status pr_chart_set_y_label(pr_chart *c, const char *label, pr_err *err) {
    return copy_text("the y label", label, &c->y_label, err);
}

pr_status pr_chart_set_size(pr_chart *c, unsigned width, unsigned height, pr_err *err) {
    if (width < 200 || width > 10000 || height < 150 || height > 10000)
        return pr_err_set(err, PR_ERR_INVALID,
                          "chart: size must be 200..10000 x 150..10000 pixels, got %u x %u",
                          width, height);
    c->width = width;
    c->height = height;
    return PR_OK;
}

pr_status pr_chart_add_series(pr_chart *c, const char *name, uint32_t *index, pr_err *err) {
    if (c->n_series >= PR_CHART_MAX_SERIES)
        return pr_err_set(err, PR_ERR_LIMIT, "chart: more than %d series",
                          PR_CHART_MAX_SERIES);
    series *s = &c->s[c->n_series];
    memset(s, 0, sizeof *s);
    pr_status st = copy_text("a series name", name ? name : "", &s->name, err);
    if (st != PR_OK) return st;
    *index = c->n_series++;
    return PR_OK;
}

pr_status pr_chart_add_point(pr_chart *c, uint32_t i, double x, double y, pr_err *err) {
    if (i >= c->n_series)
        return pr_err_set(err, PR_ERR_INVALID, "chart: no series %u", i);
    if (!(fabs(x) <= PR_CHART_MAX_ABS))
        return pr_err_set(err, PR_ERR_INVALID, "chart: x must be finite and within +-1e100");
    if (c->n_points >= PR_CHART_MAX_POINTS)
        return pr_err_set(err, PR_ERR_LIMIT, "chart: more than %u points",
                          PR_CHART_MAX_POINTS);
    series *s = &c->s[i];
    if (s->n == s->cap) {
        uint64_t cap = s->cap ? s->cap * 2 : 256;
        double *nx = realloc(s->x, cap * sizeof *nx);
        if (!nx) return pr_err_set(err, PR_ERR_NOMEM, "chart: out of memory");
        s->x = nx;
        double *ny = realloc(s->y, cap * sizeof *ny);
        if (!ny) return pr_err_set(err, PR_ERR_NOMEM, "chart: out of memory");
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = fabs(y) <= PR_CHART_MAX_ABS ? y : NAN;
    s->n++;
    c->n_points++;
    return PR_OK;
}

pr_status pr_chart_add_marker(pr_chart *c, double x, const char *label, pr_err *err) {
    if (!(fabs(x) <= PR_CHART_MAX_ABS))
        return pr_err_set(err, PR_ERR_INVALID,
                          "chart: a marker's x must be finite and within +-1e100");
    if (c->n_markers >= PR_CHART_MAX_MARKERS)
        return pr_err_set(err, PR_ERR_LIMIT, "chart: more than %d markers",
                          PR_CHART_MAX_MARKERS);
    marker *m = &c->m[c->n_markers];
    m->label = NULL;
    pr_status st = copy_text("a marker label", label, &m->label, err);
    if (st != PR_OK) return st;
    m->x = x;
    c->n_markers++;
    return PR_OK;
}

pr_status pr_chart_add_hline(pr_chart *c, double y, const char *label, pr_err *err) {
    if (!(fabs(y) <= PR_CHART_MAX_ABS))
        return pr_err_set(err, PR_ERR_INVALID,
                          "chart: a horizontal line's y must be finite and within +-1e100");
    if (c->n_hlines >= PR_CHART_MAX_MARKERS)
        return pr_err_set(err, PR_ERR_LIMIT, "chart: more than %d horizontal lines",
                          PR_CHART_MAX_MARKERS);
    marker *m = &c->h[c->n_hlines];
    m->label = NULL;
    pr_status st = copy_text("a line label", label, &m->label, err);
    if (st != PR_OK) return st;
    m->x = y;
    c->n_hlines++;
    return PR_OK;
}

pr_status pr_chart_set_categories(pr_chart *c, const char *const *labels, uint32_t n,
                                  pr_err *err) {
    if (n == 0 || n > PR_CHART_MAX_CATEGORIES)
        return pr_err_set(err, PR_ERR_INVALID, "chart: %u categories, expected 1..%d", n,
                          PR_CHART_MAX_CATEGORIES);
    char **cats = calloc(n, sizeof *cats);
    if (!cats) return pr_err_set(err, PR_ERR_NOMEM, "chart: out of memory");
    for (uint32_t i = 0; i < n; i++) {
        pr_status st = copy_text("a category", labels[i] ? labels[i] : "", &cats[i], err);
        if (st != PR_OK) {
            for (uint32_t k = 0; k < i; k++) free(cats[k]);
            free(cats);
            return st;
        }
    }
    for (uint32_t i = 0; i < c->n_cats; i++) free(c->cats[i]);
    free(c->cats);
    c->cats = cats;
    c->n_cats = n;
    return PR_OK;
}

pr_status pr_chart_set_id(pr_chart *c, const char *id, pr_err *err) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > PR_CHART_MAX_ID)
        return pr_err_set(err, PR_ERR_INVALID, "chart: an id is 1..%d bytes", PR_CHART_MAX_ID);
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return pr_err_set(err, PR_ERR_INVALID, "chart: an id is made of [A-Za-z0-9_-]");
    }
    memcpy(c->id, id, n + 1);
    return PR_OK;
}

pr_chart_x_kind pr_chart_get_x_kind(const pr_chart *c) { return c->x_kind; }

uint32_t pr_chart_n_series(const pr_chart *c) { return c->n_series; }

uint64_t pr_chart_n_points(const pr_chart *c, uint32_t i) {
    return i < c->n_series ? c->s[i].n : 0;
}

/* ---------------------------------------------------------------- output buffer */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int failed; /* sticky: PR_ERR_NOMEM or PR_ERR_LIMIT */
    pr_status status;
} sbuf;

static void sb_reserve(sbuf *b, size_t more) {
    if (b->failed) return;
    if (b->n + more + 1 <= b->cap) return;
    if (b->n + more + 1 > SVG_MAX_BYTES) {
        b->failed = 1;
        b->status = PR_ERR_LIMIT;
        return;
    }
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->n + more + 1) cap *= 2;
    if (cap > SVG_MAX_BYTES) cap = SVG_MAX_BYTES;
    char *np = realloc(b->p, cap);
    if (!np) {
        b->failed = 1;
        b->status = PR_ERR_NOMEM;
        return;
    }
    b->p = np;
    b->cap = cap;
}

static void sb_put(sbuf *b, const char *s, size_t n) {
    sb_reserve(b, n);
    if (b->failed) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof tmp) n = (int)sizeof tmp - 1; /* only numbers and fixed words */
    sb_put(b, tmp, (size_t)n);
}

/* Text content or attribute value, escaped. */
static void put_text(sbuf *b, const char *text) {
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t n = strlen((const char *)s);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        switch (c) {
        case '&': sb_put(b, "&amp;", 5); i++; continue;
        case '<': sb_put(b, "&lt;", 4); i++; continue;
        case '>': sb_put(b, "&gt;", 4); i++; continue;
        case '"': sb_put(b, "&quot;", 6); i++; continue;
        case '\'': sb_put(b, "&#39;", 5); i++; continue;
        default: break;
        }
        if (c < 0x20) {
            sb_put(b, "?", 1);
            i++;
            continue;
        }
        size_t len = pr__utf8_xml_len(s + i, n - i);
        if (len == 0) {
            sb_put(b, "?", 1);
            i++;
        } else {
            sb_put(b, (const char *)s + i, len);
            i += len;
        }
    }
}

/* ---------------------------------------------------------------- ticks */

/* 1, 2 or 5 x 10^k, the smallest not below raw. */
static double nice_step(double raw) {
    if (!(raw > 0)) return 1;
    double p = pow(10, floor(log10(raw)));
    double f = raw / p;
    double m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return m * p;
}

static const double time_steps[] = {1,     2,     5,     10,     15,     30,     60,
                                     120,   300,   600,    900,    1800,   3600,   7200,
                                     10800, 21600, 43200,  86400,  172800, 604800, 1209600,
                                     2592000};
#define N_TIME_STEPS (sizeof time_steps / sizeof time_steps[0])

static double time_step(double range, int max_ticks) {
    for (size_t i = 0; i < N_TIME_STEPS; i++)
        if (range / time_steps[i] <= max_ticks) return time_steps[i];
    return nice_step(range / max_ticks / 86400) * 86400;
}

static void fmt_time(double t, double step, char *buf, size_t n) {
    if (!(fabs(t) < 1e14)) { /* beyond any calendar gmtime knows */
        snprintf(buf, n, "%.4g", t);
        return;
    }
    time_t tt = (time_t)floor(t);
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, n, "%.0f", t);
        return;
    }
    const char *f = step >= 86400 ? "%Y-%m-%d" : step >= 60 ? "%m-%d %H:%M" : "%H:%M:%S";
    if (strftime(buf, n, f, &tm) == 0) snprintf(buf, n, "%.0f", t);
}

static void fmt_number(double v, double step, char *buf, size_t n) {
    if (fabs(v) < step * 1e-9) v = 0;
    double a = fabs(v);
    if (a != 0 && (a >= 1e7 || a < 1e-4)) {
        snprintf(buf, n, "%.3g", v);
        return;
    }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 10) dec = 10;
    snprintf(buf, n, "%.*f", dec, v);
}

/* ---------------------------------------------------------------- render */

typedef struct frame {
    double x0, x1, y0, y1;        /* data range */
    double left, right, top, bottom; /* plot area in pixels */
} frame;

static double px(const frame *f, double x) {
    return f->left + (x - f->x0) / (f->x1 - f->x0) * (f->right - f->left);
}
static double py(const frame *f, double y) {
    return f->bottom - (y - f->y0) / (f->y1 - f->y0) * (f->bottom - f->top);
}

/* Widen a degenerate or empty range so it has positive width. */
static void fix_range(double *lo, double *hi) {
    if (!(*lo <= *hi)) {
        *lo = 0;
        *hi = 1;
    } else if (*hi - *lo <= fabs(*hi) * 1e-12 || *hi == *lo) {
        double d = *lo == 0 ? 1 : fabs(*lo) * 0.1;
        *lo -= d;
        *hi += d;
    }
}

#define CAT_CHARS 20 /* category label characters shown */

/* label cut to CAT_CHARS characters (UTF-8 aware) plus "..." */
static void cut_label(const char *s, char *out, size_t cap) {
    size_t i = 0, chars = 0, n = strlen(s);
    while (i < n && chars < CAT_CHARS) {
        size_t len = pr__utf8_xml_len((const unsigned char *)s + i, n - i);
        if (len == 0) len = 1;
        i += len;
        chars++;
    }
    if (i > cap - 4) i = cap - 4;
    memcpy(out, s, i);
    if (i < n) memcpy(out + i, "...", 4);
    else out[i] = 0;
}

static double text_width(const char *s, double font) {
    return s ? (double)strlen(s) * font * 0.6 : 0;
}

pr_status pr_chart_render_svg(const pr_chart *c, char **svg, size_t *len, pr_err *err) {
    *svg = NULL;
    *len = 0;
    frame f;
    f.x0 = INFINITY, f.x1 = -INFINITY, f.y0 = INFINITY, f.y1 = -INFINITY;
    for (uint32_t i = 0; i < c->n_series; i++)
        for (uint64_t j = 0; j < c->s[i].n; j++) {
            double x = c->s[i].x[j], y = c->s[i].y[j];
            if (!isfinite(y)) continue;
            if (x < f.x0) f.x0 = x;
            if (x > f.x1) f.x1 = x;
            if (y < f.y0) f.y0 = y;
            if (y > f.y1) f.y1 = y;
        }
    int bars = c->n_cats > 0;
    for (uint32_t i = 0; i < c->n_markers && !bars; i++) {
        if (c->m[i].x < f.x0) f.x0 = c->m[i].x;
        if (c->m[i].x > f.x1) f.x1 = c->m[i].x;
    }
    for (uint32_t i = 0; i < c->n_hlines; i++) {
        if (c->h[i].x < f.y0) f.y0 = c->h[i].x;
        if (c->h[i].x > f.y1) f.y1 = c->h[i].x;
    }
    if (bars) {
        f.x0 = -0.5;
        f.x1 = (double)c->n_cats - 0.5;
        if (!(f.y0 <= 0)) f.y0 = 0;
        if (!(f.y1 >= 0)) f.y1 = 0;
    }
    fix_range(&f.x0, &f.x1);
    fix_range(&f.y0, &f.y1);
    /* y: extend to whole ticks */
    double ystep = nice_step((f.y1 - f.y0) / 6);
    f.y0 = floor(f.y0 / ystep) * ystep;
    f.y1 = ceil(f.y1 / ystep) * ystep;
    if (f.y1 <= f.y0) f.y1 = f.y0 + ystep;

    double W = c->width, H = c->height;
    double font = 12;
    /* legend rows: items laid left to right, wrapped */
    double legend_x0 = 70, legend_w = W - legend_x0 - 20;
    int legend_rows = c->n_series ? 1 : 0;
    double lx = 0;
    for (uint32_t i = 0; i < c->n_series; i++) {
        double w = 28 + text_width(c->s[i].name, font) + 18;
        if (lx > 0 && lx + w > legend_w) {
            legend_rows++;
            lx = 0;
        }
        lx += w;
    }
    /* bar chart: category labels (cut at CAT_CHARS) rotated when they do
     * not fit side by side */
    double cat_w = 0, cat_extra = 0;
    int rotate = 0;
    for (uint32_t i = 0; i < c->n_cats; i++) {
        size_t n = strlen(c->cats[i]);
        double w = (double)(n > CAT_CHARS ? CAT_CHARS + 1 : n) * 11 * 0.6;
        if (w > cat_w) cat_w = w;
    }
    if (bars && cat_w + 4 > (W - 110) / c->n_cats) {
        rotate = 1;
        cat_extra = cat_w * 0.71;
    }
    f.left = 70;
    f.right = W - 40;
    f.top = c->title ? 56 : 28;
    f.bottom = H - 46 - (c->x_label ? 16 : 0) - legend_rows * 20 - cat_extra;
    if (f.bottom - f.top < 40) f.bottom = f.top + 40;

    sbuf b = {0};
    sb_printf(&b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
              "viewBox=\"0 0 %u %u\" font-family=\"sans-serif\" font-size=\"%.0f\">\n",
              c->width, c->height, c->width, c->height, font);
    if (c->title) {
        sb_put(&b, "<title>", 7);
        put_text(&b, c->title);
        sb_put(&b, "</title>\n", 9);
    }
    sb_printf(&b, "<rect width=\"%u\" height=\"%u\" fill=\"#ffffff\"/>\n", c->width, c->height);
    if (c->title) {
        sb_printf(&b, "<text class=\"title\" x=\"%.1f\" y=\"24\" text-anchor=\"middle\" "
                      "font-size=\"16\" font-weight=\"bold\">", W / 2);
        put_text(&b, c->title);
        sb_put(&b, "</text>\n", 8);
    }

    /* grid and y ticks */
    sb_put(&b, "<g class=\"grid\" stroke=\"#e0e0e0\" stroke-width=\"1\">\n", 51);
    int ny = (int)llround((f.y1 - f.y0) / ystep);
    for (int k = 0; k <= ny && k <= 100; k++) {
        double y = py(&f, f.y0 + k * ystep);
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", f.left, y,
                  f.right, y);
    }
    double xstep;
    if (c->x_kind == PR_CHART_X_TIME) xstep = time_step(f.x1 - f.x0, 8);
    else xstep = nice_step((f.x1 - f.x0) / 8);
    double xfirst = ceil(f.x0 / xstep) * xstep;
    for (int k = 0; k <= 200 && !bars; k++) {
        double x = xfirst + k * xstep;
        if (x > f.x1 + xstep * 1e-9) break;
        double p = px(&f, x);
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", p, f.top, p,
                  f.bottom);
    }
    sb_put(&b, "</g>\n", 5);

    /* axes */
    sb_printf(&b,
              "<g class=\"axes\" stroke=\"#333333\" stroke-width=\"1\">"
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n",
              f.left, f.bottom, f.right, f.bottom, f.left, f.top, f.left, f.bottom);

    /* tick labels */
    sb_put(&b, "<g class=\"ticks\" fill=\"#333333\">\n", 33);
    char num[64];
    for (int k = 0; k <= ny && k <= 100; k++) {
        double v = f.y0 + k * ystep;
        fmt_number(v, ystep, num, sizeof num);
        sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", f.left - 6,
                  py(&f, v) + 4, num);
    }
    for (uint32_t k = 0; k < c->n_cats; k++) {
        double x = px(&f, k), y = f.bottom + 14;
        char cut[CAT_CHARS * 4 + 8];
        cut_label(c->cats[k], cut, sizeof cut);
        if (rotate)
            sb_printf(&b,
                      "<text class=\"category\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                      "font-size=\"11\" transform=\"rotate(-45 %.1f %.1f)\">",
                      x + 3, y, x + 3, y);
        else
            sb_printf(&b,
                      "<text class=\"category\" x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"middle\" font-size=\"11\">",
                      x, y);
        put_text(&b, cut);
        sb_put(&b, "</text>\n", 8);
    }
    for (int k = 0; k <= 200 && !bars; k++) {
        double x = xfirst + k * xstep;
        if (x > f.x1 + xstep * 1e-9) break;
        if (c->x_kind == PR_CHART_X_TIME) fmt_time(x, xstep, num, sizeof num);
        else fmt_number(x, xstep, num, sizeof num);
        sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                  px(&f, x), f.bottom + 16, num);
    }
    sb_put(&b, "</g>\n", 5);
    if (c->x_label) {
        sb_printf(&b, "<text class=\"x-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                  (f.left + f.right) / 2, f.bottom + 34 + cat_extra);
        put_text(&b, c->x_label);
        sb_put(&b, "</text>\n", 8);
    }
    if (c->y_label) {
        double cy = (f.top + f.bottom) / 2;
        sb_printf(&b,
                  "<text class=\"y-label\" x=\"16\" y=\"%.1f\" text-anchor=\"middle\" "
                  "transform=\"rotate(-90 16 %.1f)\">",
                  cy, cy);
        put_text(&b, c->y_label);
        sb_put(&b, "</text>\n", 8);
    }

    /* markers: dashed lines, labels staggered on three heights */
    for (uint32_t i = 0; i < c->n_markers && !bars; i++) {
        double x = px(&f, c->m[i].x);
        sb_printf(&b,
                  "<line class=\"marker\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"#555555\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
                  x, f.top, x, f.bottom);
        if (c->m[i].label) {
            int right = x > (f.left + f.right) / 2;
            sb_printf(&b,
                      "<text class=\"marker-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
                      "fill=\"#333333\">",
                      right ? x - 4 : x + 4, f.top + 14 + (i % 3) * 14, right ? "end" : "start");
            put_text(&b, c->m[i].label);
            sb_put(&b, "</text>\n", 8);
        }
    }

    /* series, clipped to the plot area */
    sb_printf(&b,
              "<clipPath id=\"%s-plot\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
              "height=\"%.1f\"/></clipPath>\n",
              c->id, f.left, f.top - 2, f.right - f.left, f.bottom - f.top + 4);
    double slot = (f.right - f.left) / (f.x1 - f.x0);
    double bar_w = c->n_series ? slot * 0.8 / c->n_series : 0;
    for (uint32_t i = 0; i < c->n_series && bars; i++) {
        const series *s = &c->s[i];
        sb_printf(&b, "<g class=\"bars\" data-series=\"%u\" fill=\"%s\">\n", i,
                  palette[i % N_PALETTE]);
        for (uint64_t j = 0; j < s->n; j++) {
            double k = round(s->x[j]);
            if (!isfinite(s->y[j]) || k < 0 || k >= c->n_cats) continue;
            double x = px(&f, k) - slot * 0.4 + bar_w * i;
            double y0 = py(&f, 0), y1 = py(&f, s->y[j]);
            double top = y1 < y0 ? y1 : y0, h = fabs(y0 - y1);
            sb_printf(&b,
                      "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                      "height=\"%.1f\"><title>",
                      x, top, bar_w > 1 ? bar_w - 0.5 : bar_w, h);
            put_text(&b, s->name);
            sb_put(&b, " ", 1);
            put_text(&b, c->cats[(uint32_t)k]);
            sb_printf(&b, ": %.4g</title></rect>\n", s->y[j]);
        }
        sb_put(&b, "</g>\n", 5);
    }
    for (uint32_t i = 0; i < c->n_series && !bars; i++) {
        const series *s = &c->s[i];
        sb_printf(&b,
                  "<path class=\"series\" data-series=\"%u\" clip-path=\"url(#%s-plot)\" "
                  "fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" "
                  "stroke-linejoin=\"round\" stroke-linecap=\"round\" d=\"",
                  i, c->id, palette[i % N_PALETTE]);
        int pen_down = 0;
        for (uint64_t j = 0; j < s->n; j++) {
            if (!isfinite(s->y[j])) {
                pen_down = 0;
                continue;
            }
            sb_printf(&b, "%s%.1f %.1f", pen_down ? " L" : (j ? " M" : "M"),
                      px(&f, s->x[j]), py(&f, s->y[j]));
            /* a point alone between gaps: a dot (round cap on a zero-length line) */
            if (!pen_down && (j + 1 == s->n || !isfinite(s->y[j + 1]))) sb_put(&b, " h0", 3);
            pen_down = 1;
        }
        sb_put(&b, "\"><title>", 9);
        put_text(&b, s->name);
        sb_put(&b, "</title></path>\n", 16);
    }

    /* horizontal lines: dashed, labelled at the right end (staggered in
     * thirds of the width, as lines may be close) */
    for (uint32_t i = 0; i < c->n_hlines; i++) {
        double y = py(&f, c->h[i].x);
        sb_printf(&b,
                  "<line class=\"hline\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"#d62728\" stroke-width=\"1.2\" stroke-dasharray=\"5 3\"/>\n",
                  f.left, y, f.right, y);
        if (c->h[i].label) {
            sb_printf(&b,
                      "<text class=\"hline-label\" x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"end\" fill=\"#d62728\">",
                      f.right - 2 - (i % 3) * (f.right - f.left) / 3, y - 4);
            put_text(&b, c->h[i].label);
            sb_put(&b, "</text>\n", 8);
        }
    }

    /* legend */
    if (c->n_series) {
        sb_put(&b, "<g class=\"legend\">\n", 19);
        double x = 0, y = H - 12 - (legend_rows - 1) * 20;
        for (uint32_t i = 0; i < c->n_series; i++) {
            double w = 28 + text_width(c->s[i].name, font) + 18;
            if (x > 0 && x + w > legend_w) {
                x = 0;
                y += 20;
            }
            double x0 = legend_x0 + x;
            sb_printf(&b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-width=\"3\"/>",
                      x0, y - 4, x0 + 22, y - 4, palette[i % N_PALETTE]);
            sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\">", x0 + 28, y);
            put_text(&b, c->s[i].name);
            sb_put(&b, "</text>\n", 8);
            x += w;
        }
        sb_put(&b, "</g>\n", 5);
    }
    sb_put(&b, "</svg>\n", 7);
    if (b.failed) {
        free(b.p);
        return b.status == PR_ERR_LIMIT
                   ? pr_err_set(err, PR_ERR_LIMIT, "chart: the SVG would exceed %zu MiB",
                                SVG_MAX_BYTES >> 20)
                   : pr_err_set(err, PR_ERR_NOMEM, "chart: out of memory");
    }
    *svg = b.p;
    *len = b.n;
    return PR_OK;
}

pr_status pr_chart_write_svg(const pr_chart *c, const char *path, pr_err *err) {
    char *svg;
    size_t len;
    pr_status s = pr_chart_render_svg(c, &svg, &len, err);
    if (s != PR_OK) return s;
    pr_atomic_file *f = NULL;
    s = pr_atomic_open(path, &f, err);
    if (s == PR_OK) s = pr_atomic_write(f, svg, len, err);
    if (s == PR_OK) s = pr_atomic_commit(f, err);
    else pr_atomic_abort(f);
    free(svg);
    return s;
}
