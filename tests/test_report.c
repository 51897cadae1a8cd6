/*
 * test_report.c: the drift report's library side (pronto/report.h) and the
 * bar-chart additions of pronto/chart.h: a shifted column comes first and
 * drifted, the others pass; reliability groups and time buckets keep every
 * row (time slots coarsened over a year, rows out of order); the HTML and
 * JSON escape a category value that is markup; bars, horizontal lines and
 * id prefixes in the SVG. That the page renders is
 * tests/cli_monitor_report.sh's job (headless Chromium).
 */
#include "pronto/chart.h"
#include "pronto/report.h"
#include "report/report_int.h"
#include "test.h"

static const char SPEC[] =
    "version: 1\n"
    "hash_bits: 10\n"
    "input: {format: csv, label: click, timestamp: ts}\n"
    "fields:\n"
    "  - {name: c, type: categorical}\n"
    "  - {name: x, type: numeric, transform: log_bucket}\n"
    "  - {name: y, type: numeric, transform: log_bucket}\n";

static uint64_t rng = 88172645463325252ull;
static double unif(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void row(pr_record *r, pr_bytes *cols, char *x, char *y, char *c, double shift,
                const char *cat, int64_t ts) {
    snprintf(x, 32, "%.5f", 10 + 3 * unif() + shift);
    snprintf(y, 32, "%.5f", 5 + unif());
    if (cat) snprintf(c, 48, "%s", cat);
    else snprintf(c, 48, "v%d", (int)(unif() * unif() * 8));
    cols[0] = (pr_bytes){c, strlen(c)};
    cols[1] = (pr_bytes){x, strlen(x)};
    cols[2] = (pr_bytes){y, strlen(y)};
    memset(r, 0, sizeof *r);
    r->label = unif() < 0.3;
    r->has_label = 1;
    r->ts = ts;
    r->n_cols = 3;
    r->cols = cols;
}

static const char *const names[3] = {"c", "x", "y"};

static pr_profile *reference(pr_spec *spec, const char *evil) {
    pr_err err;
    pr_profile_builder *b = NULL;
    ASSERT_OK(pr_profile_builder_new(spec, &b, &err));
    ASSERT_OK(pr_profile_builder_bind(b, names, 3));
    pr_scores sc;
    memset(&sc, 0, sizeof sc);
    for (int i = 0; i < 20000; i++) {
        char x[32], y[32], c[48];
        pr_bytes cols[3];
        pr_record r;
        row(&r, cols, x, y, c, 0, evil && i % 5 == 0 ? evil : NULL, 1700000000 + i);
        pr_profile_builder_add(b, &r);
        pr_scores_add(&sc, 0.2 + 0.2 * unif());
    }
    pr_profile_builder_set_scores(b, &sc, "test");
    pr_profile *p = NULL;
    ASSERT_OK(pr_profile_builder_finish(b, &p, &err));
    pr_profile_builder_free(b);
    return p;
}

TEST(shifted_column_first) {
    pr_err err;
    pr_spec *spec = NULL;
    ASSERT_OK(pr_spec_parse(SPEC, strlen(SPEC), "spec", &spec, &err));
    pr_profile *ref = reference(spec, NULL);
    pr_report_acc *a = NULL;
    ASSERT_OK(pr_report_acc_new(ref, &a, &err));
    ASSERT_OK(pr_report_acc_bind(a, names, 3, &err));
    /* a year of rows, out of order: the slots coarsen (1 min -> 1 d) */
    int n = 30000;
    for (int i = 0; i < n; i++) {
        char x[32], y[32], c[48];
        pr_bytes cols[3];
        pr_record r;
        int64_t ts = 1700000000 + (int64_t)((i * 7919) % n) * 1051;
        row(&r, cols, x, y, c, 2.0, NULL, ts);
        pr_report_acc_add(a, &r, 0.2 + 0.2 * unif());
    }
    ASSERT_EQ_INT(pr_report_acc_rows(a), n);
    pr_report rep;
    pr_report_init(&rep, ref, a);
    pr_report_field *f = NULL;
    uint32_t nf = 0;
    ASSERT_OK(pr_report_fields(&rep, &f, &nf, &err));
    ASSERT_EQ_INT(nf, 4); /* c, x, y, prediction */
    ASSERT_TRUE(!strcmp(f[0].name, "x"));
    ASSERT_TRUE(f[0].drifted && f[0].score >= 1);
    for (uint32_t i = 1; i < nf; i++) {
        ASSERT_TRUE(!f[i].drifted);
        ASSERT_TRUE(f[i].score <= f[i - 1].score);
    }
    free(f);
    /* a rules file judges instead: only psi, 1000 for every field but y
     * (1e-9): y leads with psi / 1e-9, the rest score psi / 1000 */
    const char *yaml = "rules:\n"
                       "  - {name: a, metric: psi, window: 5m, op: \">=\", threshold: 1000}\n"
                       "  - {name: b, metric: psi, field: y, window: 5m, op: \">=\", "
                       "threshold: 1e-9}\n";
    pr_alert_rules *rules = NULL;
    ASSERT_OK(pr_alert_rules_parse(yaml, strlen(yaml), "m.yaml", &rules, &err));
    pr_report_set_rules(&rep, rules);
    ASSERT_NEAR(rep.th.psi, 1000, 0);
    ASSERT_TRUE(isnan(rep.th.js) && isnan(rep.th.missing_delta));
    ASSERT_OK(pr_report_fields(&rep, &f, &nf, &err));
    ASSERT_TRUE(!strcmp(f[0].name, "y") && f[0].drifted);
    ASSERT_NEAR(f[0].score, f[0].d.psi / 1e-9, 1e-9 * f[0].score);
    for (uint32_t i = 1; i < nf; i++) {
        ASSERT_TRUE(!f[i].drifted);
        ASSERT_NEAR(f[i].score, (f[i].d.has & PR_DRIFT_PSI) ? f[i].d.psi / 1000 : 0, 1e-15);
    }
    free(f);
    pr_report_set_rules(&rep, NULL);
    ASSERT_NEAR(rep.th.js, 0.1, 0);
    pr_alert_rules_free(rules);
    pr__rel_point rel[PR_REPORT_REL_BINS];
    uint32_t nr = pr__report_reliability(a, rel);
    ASSERT_TRUE(nr >= 3 && nr <= PR_REPORT_REL_BINS);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < nr; i++) sum += rel[i].n;
    ASSERT_EQ_INT(sum, n);
    pr__bucket bk[PR_REPORT_BUCKETS];
    int64_t step = 0;
    uint32_t nb = pr__report_buckets(a, bk, &step);
    ASSERT_TRUE(nb > 10 && nb <= PR_REPORT_BUCKETS);
    ASSERT_TRUE(step >= 86400);
    sum = 0;
    for (uint32_t i = 0; i < nb; i++) {
        sum += bk[i].s.n;
        if (i) ASSERT_TRUE(bk[i].start > bk[i - 1].start);
        ASSERT_TRUE(bk[i].start % step == 0);
    }
    ASSERT_EQ_INT(sum, n);
    pr_report_acc_free(a);
    pr_profile_free(ref);
    pr_spec_free(spec);
}

TEST(escaped_markup) {
    pr_err err;
    pr_spec *spec = NULL;
    ASSERT_OK(pr_spec_parse(SPEC, strlen(SPEC), "spec", &spec, &err));
    const char *evil = "<script>x\"&'</script>";
    pr_profile *ref = reference(spec, evil);
    pr_report_acc *a = NULL;
    ASSERT_OK(pr_report_acc_new(ref, &a, &err));
    ASSERT_OK(pr_report_acc_bind(a, names, 3, &err));
    for (int i = 0; i < 2000; i++) {
        char x[32], y[32], c[48];
        pr_bytes cols[3];
        pr_record r;
        row(&r, cols, x, y, c, 0, i % 5 == 0 ? evil : NULL, 1700000000 + i);
        pr_report_acc_add(a, &r, NAN);
    }
    pr_report rep;
    pr_report_init(&rep, ref, a);
    rep.title = "t<i>";
    char *html = NULL, *json = NULL;
    size_t len = 0;
    ASSERT_OK(pr_report_render(&rep, PR_REPORT_HTML, &html, &len, &err));
    ASSERT_EQ_INT(strlen(html), len);
    ASSERT_TRUE(strstr(html, "<script") == NULL);
    ASSERT_TRUE(strstr(html, "&lt;script&gt;x&quot;&amp;&#39;&lt;/script&gt;") != NULL);
    ASSERT_TRUE(strstr(html, "<title>t&lt;i&gt;</title>") != NULL);
    ASSERT_TRUE(strstr(html, "id=\"verdict\">No drift") != NULL);
    ASSERT_OK(pr_report_render(&rep, PR_REPORT_JSON, &json, &len, &err));
    ASSERT_TRUE(strstr(json, "\"<script>x\\\"&'</script>\"") != NULL);
    ASSERT_TRUE(strstr(json, "\"quality\":null") != NULL);
    free(html);
    free(json);
    pr_report_acc_free(a);
    pr_profile_free(ref);
    pr_spec_free(spec);
}

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

TEST(bar_chart) {
    pr_err err;
    pr_chart *c = NULL;
    ASSERT_OK(pr_chart_new(&c, &err));
    const char *labels[3] = {"a<b>", "a very long category label indeed", "z"};
    ASSERT_OK(pr_chart_set_categories(c, labels, 3, &err));
    ASSERT_OK(pr_chart_set_id(c, "f7", &err));
    ASSERT_TRUE(pr_chart_set_id(c, "bad id", &err) == PR_ERR_INVALID);
    ASSERT_TRUE(pr_chart_set_categories(c, labels, 0, &err) == PR_ERR_INVALID);
    uint32_t s0, s1;
    ASSERT_OK(pr_chart_add_series(c, "reference", &s0, &err));
    ASSERT_OK(pr_chart_add_series(c, "current", &s1, &err));
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(pr_chart_add_point(c, s0, i, 0.1 * (i + 1), &err));
        ASSERT_OK(pr_chart_add_point(c, s1, i, i == 1 ? NAN : 0.2, &err));
    }
    ASSERT_OK(pr_chart_add_point(c, s1, 7, 0.2, &err)); /* no such slot: not drawn */
    ASSERT_OK(pr_chart_add_hline(c, 0.25, "threshold <x>", &err));
    ASSERT_TRUE(pr_chart_add_hline(c, INFINITY, NULL, &err) == PR_ERR_INVALID);
    char *svg = NULL;
    size_t len = 0;
    ASSERT_OK(pr_chart_render_svg(c, &svg, &len, &err));
    ASSERT_EQ_INT(count(svg, "class=\"bar\""), 5);
    ASSERT_EQ_INT(count(svg, "class=\"hline\""), 1);
    ASSERT_TRUE(strstr(svg, ">threshold &lt;x&gt;<") != NULL);
    ASSERT_TRUE(strstr(svg, ">a&lt;b&gt;<") != NULL);
    ASSERT_TRUE(strstr(svg, ">a very long category...<") != NULL);
    ASSERT_TRUE(strstr(svg, "id=\"f7-plot\"") != NULL);
    ASSERT_TRUE(strstr(svg, "class=\"marker\"") == NULL);
    free(svg);
    pr_chart_free(c);
}

int main(void) {
    RUN(shifted_column_first);
    RUN(escaped_markup);
    RUN(bar_chart);
    TEST_MAIN_END();
}
