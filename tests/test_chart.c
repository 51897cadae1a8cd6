/*
 * test_chart.c: the SVG line-chart writer (pronto/chart.h): every series
 * and marker drawn, text escaped, gaps, the axis kinds, the CSV loader's
 * errors (file:line:field), limits, and the atomic write. That the SVG
 * renders in a browser is tests/cli_plot.sh's job (headless Chromium).
 */
#include <sys/stat.h>

#include "pronto/chart.h"
#include "test.h"

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The d attribute of series i, copied into buf. */
static void series_d(const char *svg, unsigned i, char *buf, size_t cap) {
    char key[64];
    snprintf(key, sizeof key, "data-series=\"%u\"", i);
    const char *p = strstr(svg, key);
    if (!p) TEST_FAIL("no series %u", i);
    p = strstr(p, " d=\"");
    if (!p) TEST_FAIL("series %u has no d", i);
    p += 4;
    const char *e = strchr(p, '"');
    size_t n = (size_t)(e - p);
    if (n >= cap) n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
}

TEST(series_markers_and_escaping) {
    pr_err err;
    pr_chart *c;
    ASSERT_OK(pr_chart_new(&c, &err));
    ASSERT_OK(pr_chart_set_title(c, "loss <vs> \"Bayes\" & co", &err));
    ASSERT_OK(pr_chart_set_x_kind(c, PR_CHART_X_TIME, &err));
    ASSERT_OK(pr_chart_set_x_label(c, "time", &err));
    ASSERT_OK(pr_chart_set_y_label(c, "it's", &err));
    const char *names[3] = {"frozen", "a<b>&c", "bad\xff\x01utf8 \xc3\xa9"};
    uint32_t idx[3];
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(pr_chart_add_series(c, names[i], &idx[i], &err));
        ASSERT_EQ_INT(idx[i], i);
        for (int h = 0; h < 48; h++)
            ASSERT_OK(pr_chart_add_point(c, idx[i], 1704067200.0 + h * 3600, 0.1 * i + h * 0.001,
                                         &err));
    }
    ASSERT_OK(pr_chart_add_marker(c, 1704067200.0 + 5 * 3600, "ctr-shift <2x>", &err));
    ASSERT_OK(pr_chart_add_marker(c, 1704067200.0 + 30 * 3600, NULL, &err));
    ASSERT_EQ_INT(pr_chart_n_series(c), 3);
    ASSERT_EQ_INT(pr_chart_n_points(c, 1), 48);
    ASSERT_EQ_INT(pr_chart_n_points(c, 7), 0);
    char *svg;
    size_t len;
    ASSERT_OK(pr_chart_render_svg(c, &svg, &len, &err));
    ASSERT_EQ_INT(strlen(svg), len);
    ASSERT_TRUE(strncmp(svg, "<?xml", 5) == 0);
    ASSERT_TRUE(len > 7 && strcmp(svg + len - 7, "</svg>\n") == 0);
    ASSERT_EQ_INT(count(svg, "class=\"series\""), 3);
    for (unsigned i = 0; i < 3; i++) {
        char d[8192];
        series_d(svg, i, d, sizeof d);
        ASSERT_EQ_INT(count(d, "M"), 1);  /* one unbroken line */
        ASSERT_EQ_INT(count(d, " L"), 47);
    }
    /* three distinct colours */
    ASSERT_CONTAINS(svg, "stroke=\"#1f77b4\"");
    ASSERT_CONTAINS(svg, "stroke=\"#ff7f0e\"");
    ASSERT_CONTAINS(svg, "stroke=\"#2ca02c\"");
    ASSERT_EQ_INT(count(svg, "class=\"marker\""), 2);
    ASSERT_EQ_INT(count(svg, "class=\"marker-label\""), 1);
    /* escaped everywhere, raw nowhere */
    ASSERT_CONTAINS(svg, "loss &lt;vs&gt; &quot;Bayes&quot; &amp; co");
    ASSERT_CONTAINS(svg, ">a&lt;b&gt;&amp;c<");
    ASSERT_CONTAINS(svg, "ctr-shift &lt;2x&gt;");
    ASSERT_CONTAINS(svg, "it&#39;s");
    ASSERT_TRUE(strstr(svg, "a<b>") == NULL);
    ASSERT_TRUE(strstr(svg, "<2x>") == NULL);
    /* invalid UTF-8 and a control byte become '?', valid UTF-8 stays */
    ASSERT_CONTAINS(svg, "bad??utf8 \xc3\xa9");
    for (size_t i = 0; i < len; i++)
        ASSERT_TRUE((unsigned char)svg[i] >= 0x20 || svg[i] == '\n');
    /* a time axis: UTC dates on the ticks */
    ASSERT_CONTAINS(svg, "01-01 ");
    /* self-contained */
    ASSERT_TRUE(strstr(svg, "<script") == NULL);
    ASSERT_TRUE(strstr(svg, "href") == NULL);
    ASSERT_TRUE(strstr(svg, "@font-face") == NULL);
    free(svg);
    pr_chart_free(c);
}

TEST(gaps_and_dots) {
    pr_err err;
    pr_chart *c;
    uint32_t s;
    ASSERT_OK(pr_chart_new(&c, &err));
    ASSERT_OK(pr_chart_add_series(c, "g", &s, &err));
    double ys[] = {1, 2, NAN, 3, NAN, 4, 5, INFINITY};
    for (int i = 0; i < 8; i++) ASSERT_OK(pr_chart_add_point(c, s, i, ys[i], &err));
    ASSERT_STATUS(pr_chart_add_point(c, s, NAN, 1, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_chart_add_point(c, 9, 1, 1, &err), PR_ERR_INVALID);
    char *svg;
    size_t len;
    ASSERT_OK(pr_chart_render_svg(c, &svg, &len, &err));
    char d[1024];
    series_d(svg, 0, d, sizeof d);
    ASSERT_EQ_INT(count(d, "M"), 3);   /* 1-2, the lone 3, 4-5 */
    ASSERT_EQ_INT(count(d, " L"), 2);
    ASSERT_EQ_INT(count(d, " h0"), 1); /* the lone point is a dot */
    ASSERT_TRUE(strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL);
    free(svg);
    pr_chart_free(c);
}

TEST(empty_and_flat) {
    pr_err err;
    pr_chart *c;
    uint32_t s;
    ASSERT_OK(pr_chart_new(&c, &err));
    char *svg;
    size_t len;
    ASSERT_OK(pr_chart_render_svg(c, &svg, &len, &err)); /* nothing at all */
    ASSERT_TRUE(strstr(svg, "nan") == NULL);
    free(svg);
    ASSERT_OK(pr_chart_add_series(c, "flat", &s, &err));
    ASSERT_OK(pr_chart_add_point(c, s, 5, 0.25, &err));
    ASSERT_OK(pr_chart_add_point(c, s, 5, 0.25, &err));
    ASSERT_OK(pr_chart_render_svg(c, &svg, &len, &err));
    ASSERT_TRUE(strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL);
    ASSERT_EQ_INT(count(svg, "class=\"series\""), 1);
    free(svg);
    pr_chart_free(c);
}

TEST(limits) {
    pr_err err;
    pr_chart *c;
    uint32_t s;
    ASSERT_OK(pr_chart_new(&c, &err));
    for (int i = 0; i < PR_CHART_MAX_SERIES; i++) ASSERT_OK(pr_chart_add_series(c, "s", &s, &err));
    ASSERT_STATUS(pr_chart_add_series(c, "one too many", &s, &err), PR_ERR_LIMIT);
    ASSERT_STATUS(pr_chart_set_size(c, 100, 100, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_chart_set_x_kind(c, (pr_chart_x_kind)7, &err), PR_ERR_INVALID);
    char big[PR_CHART_MAX_TEXT + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ASSERT_STATUS(pr_chart_set_title(c, big, &err), PR_ERR_LIMIT);
    ASSERT_STATUS(pr_chart_add_marker(c, INFINITY, "x", &err), PR_ERR_INVALID);
    for (int i = 0; i < PR_CHART_MAX_MARKERS; i++) ASSERT_OK(pr_chart_add_marker(c, i, "m", &err));
    ASSERT_STATUS(pr_chart_add_marker(c, 1, "m", &err), PR_ERR_LIMIT);
    pr_chart_free(c);
    pr_chart_free(NULL);
}

static pr_status load(pr_chart **c, const char *csv, const char *x, const char *ys,
                      pr_chart_csv_x kind, pr_err *err) {
    const char *cols[4];
    char buf[256];
    snprintf(buf, sizeof buf, "%s", ys);
    uint32_t n = 0;
    for (char *p = buf; p && n < 4;) {
        char *comma = strchr(p, ',');
        if (comma) *comma++ = 0;
        cols[n++] = p;
        p = comma;
    }
    pr_chart_csv_opts o = {x, cols, n, kind};
    pr_status s = pr_chart_new(c, err);
    if (s == PR_OK) s = pr_chart_load_csv_mem(*c, csv, strlen(csv), "h.csv", &o, err);
    return s;
}

TEST(csv_load) {
    pr_err err;
    pr_chart *c;
    const char *ok = "hour_ms,label,a,\"b,2\"\n"
                     "1704067200000,1,0.1,0.2\n"
                     "1704070800000,0,,0.3\n"
                     "1704074400000,1,nan,0.4\n";
    ASSERT_STATUS(load(&c, ok, "hour_ms", "a,b", PR_CHART_CSV_X_AUTO, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "no column 'b'");
    pr_chart_free(c);
    /* quoted header names with the delimiter: "b,2" is one column */
    const char *cols[2] = {"a", "b,2"};
    pr_chart_csv_opts o = {"hour_ms", cols, 2, PR_CHART_CSV_X_AUTO};
    ASSERT_OK(pr_chart_new(&c, &err));
    ASSERT_OK(pr_chart_load_csv_mem(c, ok, strlen(ok), "h.csv", &o, &err));
    ASSERT_EQ_INT(pr_chart_n_series(c), 2);
    ASSERT_EQ_INT(pr_chart_n_points(c, 0), 3);
    ASSERT_EQ_INT(pr_chart_get_x_kind(c), PR_CHART_X_TIME);
    char *svg;
    size_t len;
    ASSERT_OK(pr_chart_render_svg(c, &svg, &len, &err));
    char d[1024];
    series_d(svg, 0, d, sizeof d);
    ASSERT_EQ_INT(count(d, "M"), 1); /* only the first a is a number */
    ASSERT_EQ_INT(count(d, " h0"), 1);
    series_d(svg, 1, d, sizeof d);
    ASSERT_EQ_INT(count(d, " L"), 2);
    ASSERT_CONTAINS(svg, ">01-01 01:00<"); /* ms read as time, not year 55970 */
    free(svg);
    pr_chart_free(c);
    /* a column called label is data like any other */
    ASSERT_OK(load(&c, ok, "label", "a", PR_CHART_CSV_X_AUTO, &err));
    ASSERT_EQ_INT(pr_chart_get_x_kind(c), PR_CHART_X_NUMBER);
    pr_chart_free(c);
    /* seconds */
    ASSERT_OK(load(&c, "t,y\n1704067200,1\n1704153600,2\n", "t", "y", PR_CHART_CSV_X_AUTO, &err));
    ASSERT_EQ_INT(pr_chart_get_x_kind(c), PR_CHART_X_TIME);
    pr_chart_free(c);
    ASSERT_OK(load(&c, "t,y\n1704067200,1\n", "t", "y", PR_CHART_CSV_X_NUMBER, &err));
    ASSERT_EQ_INT(pr_chart_get_x_kind(c), PR_CHART_X_NUMBER);
    pr_chart_free(c);
}

TEST(csv_errors) {
    pr_err err;
    pr_chart *c;
    ASSERT_STATUS(load(&c, "t,a,b\n1,2,3\n2,x3,4\n", "t", "a,b", PR_CHART_CSV_X_AUTO, &err),
                  PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "h.csv:3:2: column 'a': expected a number");
    ASSERT_CONTAINS(err.msg, "'x3'");
    pr_chart_free(c);
    ASSERT_STATUS(load(&c, "t,a,b\n1,2,3\n,2,4\n", "t", "a", PR_CHART_CSV_X_AUTO, &err),
                  PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "h.csv:3:1: column 't': expected a finite number, got ''");
    pr_chart_free(c);
    ASSERT_STATUS(load(&c, "t,a\n1,2\n2,3,4\n", "t", "a", PR_CHART_CSV_X_AUTO, &err),
                  PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "h.csv:3");
    pr_chart_free(c);
    ASSERT_STATUS(load(&c, "t,a\n1,2\n", "t", "zz", PR_CHART_CSV_X_AUTO, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "h.csv: no column 'zz'");
    pr_chart_free(c);
    ASSERT_STATUS(load(&c, "t,a\n1,2\n", "time", "a", PR_CHART_CSV_X_AUTO, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "no column 'time'");
    pr_chart_free(c);
    ASSERT_STATUS(load(&c, "t,a\n1e999,2\n", "t", "a", PR_CHART_CSV_X_AUTO, &err), PR_ERR_PARSE);
    pr_chart_free(c);
    ASSERT_STATUS(load(&c, "t,a\n1,\"2\n", "t", "a", PR_CHART_CSV_X_AUTO, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "h.csv:2");
    pr_chart_free(c);
    ASSERT_STATUS(load(&c, "t,a\n1,2\n", "t", "", PR_CHART_CSV_X_AUTO, &err), PR_ERR_INVALID);
    pr_chart_free(c);
}

TEST(write_atomic) {
    pr_err err;
    pr_chart *c;
    uint32_t s;
    const char *dir = test_tmpdir();
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/c.svg", dir);
    snprintf(bad, sizeof bad, "%s/missing/c.svg", dir);
    ASSERT_OK(pr_chart_new(&c, &err));
    ASSERT_OK(pr_chart_add_series(c, "x", &s, &err));
    ASSERT_OK(pr_chart_add_point(c, s, 1, 1, &err));
    ASSERT_OK(pr_chart_write_svg(c, path, &err));
    struct stat st;
    ASSERT_TRUE(stat(path, &st) == 0 && st.st_size > 500);
    ASSERT_TRUE(pr_chart_write_svg(c, bad, &err) != PR_OK);
    ASSERT_CONTAINS(err.msg, "missing");
    pr_chart_free(c);
}

int main(void) {
    RUN(series_markers_and_escaping);
    RUN(gaps_and_dots);
    RUN(empty_and_flat);
    RUN(limits);
    RUN(csv_load);
    RUN(csv_errors);
    RUN(write_atomic);
    TEST_MAIN_END();
}
