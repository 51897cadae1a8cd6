/*
 * test_profile.c: the monitoring sketches, the reference profile and the
 * drift statistics (pronto/profile.h).
 *
 * Hand-computed values: a two-bin numeric case (PSI, JS, KS, Wasserstein,
 * mean shift, missing delta) and a categorical chi-square whose p-value is
 * exp(-12) exactly (df = 2). Properties: a live window drawn from the
 * reference's own distribution shows PSI ~ 0 and JS ~ 0, a shifted one
 * large values; empty windows give no value (never NaN); NaN, inf and huge
 * numbers are counted, not propagated. The encoded profile round-trips
 * byte for byte, every truncation of it is refused cleanly, and it rides
 * in a real model file (and an old file without it loads with no profile).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor_int.h"
#include "pronto/feature.h"
#include "pronto/model.h"
#include "pronto/profile.h"
#include "test.h"

static const char *SPEC =
    "version: 1\n"
    "hash_bits: 10\n"
    "input: {format: csv, label: click, timestamp: ts}\n"
    "fields:\n"
    "  - {name: c, type: categorical}\n"
    "  - {name: x, type: numeric, transform: log_bucket}\n";

static pr_spec *spec_new(void) {
    pr_err err;
    pr_spec *s = NULL;
    ASSERT_OK(pr_spec_parse(SPEC, strlen(SPEC), "spec", &s, &err));
    return s;
}

static void live_row(pr_live *l, const char *c, const char *x) {
    pr_bytes cols[2] = {{c ? c : "", c ? strlen(c) : 0}, {x ? x : "", x ? strlen(x) : 0}};
    pr_record r;
    memset(&r, 0, sizeof r);
    r.n_cols = 2;
    r.cols = cols;
    pr_live_add_record(l, &r);
}

static uint64_t rng_state = 42;
static double unif(void) { return (double)(pr_splitmix64(&rng_state) >> 11) * 0x1.0p-53; }
static double normal(void) {
    double u = unif(), v = unif();
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}
/* category 0..9 with weights 2^-k */
static int cat_draw(void) {
    double u = unif();
    int k = 0;
    while (k < 9 && u < 0.5) u *= 2, k++;
    return k;
}

static void all_finite(const pr_drift *d) {
    const char *names[PR_DRIFT_N_STATS];
    double v[PR_DRIFT_N_STATS];
    int k = pr_drift_samples(d, names, v);
    for (int i = 0; i < k; i++)
        if (!isfinite(v[i])) TEST_FAIL("%s is not finite", names[i]);
}

/* ---------------------------------------------------------------- sketch */

TEST(numeric_bins_and_moments) {
    pr_sketch_shape sh;
    memset(&sh, 0, sizeof sh);
    double v[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    pr__shape_numeric_from_sorted(&sh, v, 10);
    /* 10 values, 32 quantiles: every value is an edge, plus one just above 10 */
    ASSERT_EQ_INT(sh.n_edges, 11);
    ASSERT_EQ_INT(pr_sketch_bin(&sh, 0.5), 0);   /* underflow */
    ASSERT_EQ_INT(pr_sketch_bin(&sh, 1), 1);
    ASSERT_EQ_INT(pr_sketch_bin(&sh, 1.5), 1);
    ASSERT_EQ_INT(pr_sketch_bin(&sh, 10), 10);   /* the max stays inside */
    ASSERT_EQ_INT(pr_sketch_bin(&sh, 10.5), 11); /* overflow */
    pr_sketch s;
    pr_sketch_init(&s, &sh);
    pr_sketch_add_text(&s, "2", 1);
    pr_sketch_add_text(&s, "4", 1);
    pr_sketch_add_text(&s, "", 0);
    pr_sketch_add_text(&s, " ", 1);
    pr_sketch_add_text(&s, "nan", 3);
    pr_sketch_add_text(&s, "inf", 3);
    pr_sketch_add_text(&s, "abc", 3);
    pr_sketch_add_number(&s, 1e300);
    ASSERT_EQ_INT(s.n, 8);
    ASSERT_EQ_INT(s.n_missing, 2);
    ASSERT_EQ_INT(s.n_nonfinite, 3);
    ASSERT_EQ_INT(s.n_finite, 3);
    ASSERT_EQ_INT(s.counts[2], 1);
    ASSERT_EQ_INT(s.counts[4], 1);
    ASSERT_EQ_INT(s.counts[11], 1);
    ASSERT_TRUE(isfinite(s.mean) && isfinite(s.m2));
    /* merge == adding both */
    pr_sketch a, b, ab;
    pr_sketch_init(&a, &sh);
    pr_sketch_init(&b, &sh);
    pr_sketch_init(&ab, &sh);
    for (int i = 0; i < 100; i++) {
        double x = 1 + (i * 37 % 101) / 10.0;
        pr_sketch_add_number(i % 3 ? &a : &b, x);
        pr_sketch_add_number(&ab, x);
    }
    ASSERT_EQ_INT(pr_sketch_merge(&a, &b), 0);
    ASSERT_EQ_INT(a.n, ab.n);
    for (uint32_t i = 0; i < sh.n_bins; i++) ASSERT_EQ_INT(a.counts[i], ab.counts[i]);
    ASSERT_NEAR(a.mean, ab.mean, 1e-12);
    ASSERT_NEAR(a.m2, ab.m2, 1e-9);
    ASSERT_NEAR(a.min, ab.min, 0);
    ASSERT_NEAR(a.max, ab.max, 0);
    pr_sketch_reset(&a);
    ASSERT_EQ_INT(a.n, 0);
    ASSERT_TRUE(a.shape == &sh);
}

/* ---------------------------------------------------------------- drift */

TEST(drift_hand_computed_numeric) {
    pr_err err;
    pr_sketch_shape sh;
    memset(&sh, 0, sizeof sh);
    sh.kind = PR_SKETCH_NUMERIC;
    sh.n_edges = 3;
    sh.edges[0] = 0, sh.edges[1] = 1, sh.edges[2] = 2;
    sh.n_bins = 4;
    pr_sketch ref, live;
    pr_sketch_init(&ref, &sh);
    pr_sketch_init(&live, &sh);
    for (int i = 0; i < 50; i++) pr_sketch_add_number(&ref, 0.5), pr_sketch_add_number(&ref, 1.5);
    for (int i = 0; i < 25; i++) pr_sketch_add_number(&live, 0.5);
    for (int i = 0; i < 75; i++) pr_sketch_add_number(&live, 1.5);
    for (int i = 0; i < 25; i++) pr_sketch_add_missing(&live);
    pr_drift d;
    ASSERT_OK(pr_drift_compute(&ref, &live, &d, &err));
    /* PSI = (.25-.5) ln(.25/.5) + (.75-.5) ln(.75/.5); empty bins add 0 */
    ASSERT_NEAR(d.psi, 0.2746530721670274, 1e-12);
    ASSERT_NEAR(d.js, 0.22089576884901735, 1e-12);
    ASSERT_NEAR(d.ks, 0.25, 1e-12);
    /* W1 = 0.25 (a quarter of the mass moves by 1), over the ref sd 0.5 */
    ASSERT_NEAR(d.wasserstein, 0.5, 1e-12);
    ASSERT_NEAR(d.mean_shift, 0.25, 1e-12);
    ASSERT_NEAR(d.missing_delta, 20.0, 1e-9);   /* 25 of 125 missing, points */
    ASSERT_EQ_INT(d.n, 125);
    ASSERT_EQ_INT(d.n_present, 100);
    ASSERT_TRUE(!(d.has & PR_DRIFT_CHI2_P) && !(d.has & PR_DRIFT_UNSEEN_SHARE));
    const char *names[PR_DRIFT_N_STATS];
    double v[PR_DRIFT_N_STATS];
    int k = pr_drift_samples(&d, names, v);
    ASSERT_EQ_INT(k, 6);
    ASSERT_EQ_STR(names[0], "psi");
    ASSERT_EQ_STR(names[3], "wasserstein");
    ASSERT_EQ_STR(names[4], "missing_delta");
    ASSERT_EQ_STR(names[5], "mean_shift");

    /* identical: all zero */
    ASSERT_OK(pr_drift_compute(&ref, &ref, &d, &err));
    ASSERT_NEAR(d.psi, 0, 1e-15);
    ASSERT_NEAR(d.js, 0, 1e-15);
    ASSERT_NEAR(d.ks, 0, 1e-15);
    ASSERT_NEAR(d.wasserstein, 0, 1e-15);

    /* empty window: nothing set, and no NaN anywhere */
    pr_sketch empty;
    pr_sketch_init(&empty, &sh);
    ASSERT_OK(pr_drift_compute(&ref, &empty, &d, &err));
    ASSERT_EQ_INT(d.has, 0);
    ASSERT_EQ_INT(pr_drift_samples(&d, names, v), 0);
    /* only missing values: just missing_delta (100 points) */
    pr_sketch_add_missing(&empty);
    ASSERT_OK(pr_drift_compute(&ref, &empty, &d, &err));
    ASSERT_EQ_INT(d.has, PR_DRIFT_MISSING_DELTA);
    ASSERT_NEAR(d.missing_delta, 100, 1e-12);
    /* NaN and huge values */
    pr_sketch wild;
    pr_sketch_init(&wild, &sh);
    pr_sketch_add_number(&wild, NAN);
    pr_sketch_add_number(&wild, INFINITY);
    pr_sketch_add_number(&wild, 1e308);
    pr_sketch_add_number(&wild, -1e308);
    pr_sketch_add_text(&wild, "1e999", 5);
    ASSERT_OK(pr_drift_compute(&ref, &wild, &d, &err));
    ASSERT_TRUE(d.has & PR_DRIFT_WASSERSTEIN);
    ASSERT_TRUE(d.wasserstein > 1e100);
    all_finite(&d);
    /* a sketch of another shape is refused */
    pr_sketch_shape other = sh;
    pr_sketch o;
    pr_sketch_init(&o, &other);
    ASSERT_STATUS(pr_drift_compute(&ref, &o, &d, &err), PR_ERR_INVALID);
}

TEST(drift_hand_computed_chi2) {
    pr_err err;
    ASSERT_NEAR(pr_chi2_sf(3.841458820694124, 1), 0.05, 1e-9);
    ASSERT_NEAR(pr_chi2_sf(24, 2), 6.14421235332821e-06, 1e-15);
    ASSERT_NEAR(pr_chi2_sf(0, 3), 1, 0);
    ASSERT_NEAR(pr_chi2_sf(INFINITY, 3), 0, 0);
    /* even df: exp(-x/2) sum_{i<df/2} (x/2)^i / i! */
    ASSERT_NEAR(pr_chi2_sf(100, 50), 3.454931382984864e-05, 1e-15);

    pr_sketch_shape sh;
    memset(&sh, 0, sizeof sh);
    sh.kind = PR_SKETCH_CATEGORICAL;
    sh.n_top = 2;
    sh.n_bins = 4;
    sh.top_hash[0] = pr_sketch_hash("a", 1);
    sh.top_hash[1] = pr_sketch_hash("b", 1);
    ASSERT_EQ_INT(pr__shape_index_top(&sh), 0);
    pr_sketch ref, live;
    pr_sketch_init(&ref, &sh);
    pr_sketch_init(&live, &sh);
    ref.counts[0] = 60, ref.counts[1] = 40, ref.n = 100;
    live.counts[0] = 40, live.counts[1] = 40, live.counts[3] = 20, live.n = 100;
    pr_drift d;
    ASSERT_OK(pr_drift_compute(&ref, &live, &d, &err));
    /* 2x3 table (a, b, unseen): chi2 = 2 + 2 + 0 + 0 + 10 + 10 = 24, df 2 */
    ASSERT_NEAR(d.chi2_p, 6.14421235332821e-06, 1e-15);
    ASSERT_TRUE(!(d.has & PR_DRIFT_KS) && !(d.has & PR_DRIFT_WASSERSTEIN));
    ASSERT_TRUE(!(d.has & PR_DRIFT_UNSEEN_SHARE));   /* no filter */
    /* the same values: p = 1 */
    ASSERT_OK(pr_drift_compute(&ref, &ref, &d, &err));
    ASSERT_NEAR(d.chi2_p, 1, 1e-12);
    /* lookups on the hot path */
    pr_sketch s;
    pr_sketch_init(&s, &sh);
    pr_sketch_add_text(&s, "a", 1);
    pr_sketch_add_text(&s, "b", 1);
    pr_sketch_add_text(&s, "b", 1);
    pr_sketch_add_text(&s, "zz", 2);
    pr_sketch_add_text(&s, "", 0);
    ASSERT_EQ_INT(s.counts[0], 1);
    ASSERT_EQ_INT(s.counts[1], 2);
    ASSERT_EQ_INT(s.counts[2], 1);   /* no filter: rest */
    ASSERT_EQ_INT(s.n_missing, 1);
}

/* ---------------------------------------------------------------- profile */

static pr_profile *build_reference(int rows, double shift, int with_scores) {
    pr_err err;
    pr_spec *spec = spec_new();
    pr_profile_builder *b = NULL;
    ASSERT_OK(pr_profile_builder_new(spec, &b, &err));
    const char *names[3] = {"x", "other", "c"};   /* reader order differs */
    ASSERT_OK(pr_profile_builder_bind(b, names, 3));
    pr_scores *sc = calloc(1, sizeof *sc);
    for (int i = 0; i < rows; i++) {
        char x[32], c[16];
        snprintf(x, sizeof x, "%.6f", normal() + shift);
        snprintf(c, sizeof c, "v%d", cat_draw());
        pr_bytes cols[3] = {{x, strlen(x)}, {"?", 1}, {c, strlen(c)}};
        if (i % 10 == 0) cols[0].len = 0;   /* 10% missing */
        pr_record r;
        memset(&r, 0, sizeof r);
        r.label = i % 4 == 0;
        r.has_label = 1;
        r.ts = 1700000000 + i;
        r.n_cols = 3;
        r.cols = cols;
        pr_profile_builder_add(b, &r);
        if (with_scores) pr_scores_add(sc, 0.1 + 0.05 * unif());
    }
    if (with_scores) pr_profile_builder_set_scores(b, sc, "test");
    free(sc);
    pr_profile *p = NULL;
    ASSERT_OK(pr_profile_builder_finish(b, &p, &err));
    pr_profile_builder_free(b);
    pr_spec_free(spec);
    return p;
}

TEST(builder_profile) {
    pr_err err;
    pr_profile *p = build_reference(20000, 0, 1);
    ASSERT_EQ_INT(pr_profile_n_columns(p), 2);
    ASSERT_EQ_STR(pr_profile_column_name(p, 0), "c");
    ASSERT_EQ_STR(pr_profile_column_name(p, 1), "x");
    ASSERT_EQ_INT(pr_profile_find_column(p, "x"), 1);
    ASSERT_EQ_INT(pr_profile_find_column(p, "nope"), -1);
    pr_profile_summary s;
    pr_profile_summary_get(p, &s);
    ASSERT_EQ_INT(s.rows, 20000);
    ASSERT_EQ_INT(s.clicks, 5000);
    ASSERT_NEAR(s.base_rate, 0.25, 1e-12);
    ASSERT_EQ_INT(s.ts_min, 1700000000);
    ASSERT_EQ_INT(s.ts_max, 1700019999);
    const pr_sketch *c = pr_profile_column(p, 0), *x = pr_profile_column(p, 1);
    ASSERT_TRUE(c->shape->kind == PR_SKETCH_CATEGORICAL);
    ASSERT_TRUE(x->shape->kind == PR_SKETCH_NUMERIC);
    ASSERT_EQ_INT(c->shape->n_top, 10);
    ASSERT_EQ_STR(c->shape->top_value[0], "v0");
    /* the sample may be thinned: shares, not counts */
    double share0 = (double)c->counts[0] / (double)(c->n - c->n_missing);
    ASSERT_NEAR(share0, 0.5, 0.02);
    ASSERT_NEAR((double)x->n_missing / (double)x->n, 0.1, 0.01);
    ASSERT_NEAR(x->mean, 0, 0.05);
    ASSERT_NEAR(sqrt(x->m2 / (double)x->n_finite), 1, 0.05);
    ASSERT_TRUE(x->shape->n_edges >= 30);
    const pr_sketch *pred = pr_profile_prediction(p);
    ASSERT_EQ_INT(pred->n, 20000);
    ASSERT_NEAR(pred->mean, 0.125, 0.002);
    ASSERT_TRUE(pred->min >= 0.1 && pred->max <= 0.15);
    ASSERT_EQ_STR(pr_profile_score_source(p), "test");
    /* a live window of the same distribution: no drift */
    pr_live *l = NULL, *l2 = NULL;
    ASSERT_OK(pr_live_new(p, &l, &err));
    ASSERT_OK(pr_live_new(p, &l2, &err));
    const char *names[2] = {"c", "x"};
    ASSERT_OK(pr_live_bind(l, names, 2, &err));
    ASSERT_OK(pr_live_bind(l2, names, 2, &err));
    for (int i = 0; i < 20000; i++) {
        char xs[32], cs[16];
        snprintf(xs, sizeof xs, "%.6f", normal());
        snprintf(cs, sizeof cs, "v%d", cat_draw());
        live_row(i % 2 ? l : l2, cs, i % 10 == 0 ? NULL : xs);
        pr_live_add_score(i % 2 ? l : l2, 0.1 + 0.05 * unif());
    }
    ASSERT_OK(pr_live_merge(l, l2, &err));   /* two workers, one window */
    ASSERT_EQ_INT(pr_live_rows(l), 20000);
    pr_drift d;
    ASSERT_OK(pr_drift_compute(x, pr_live_column(l, 1), &d, &err));
    ASSERT_TRUE(d.psi < 0.01 && d.js < 0.05 && d.ks < 0.03 && d.wasserstein < 0.05);
    ASSERT_NEAR(d.missing_delta, 0, 1.0);
    ASSERT_OK(pr_drift_compute(c, pr_live_column(l, 0), &d, &err));
    ASSERT_TRUE(d.psi < 0.01 && d.js < 0.05);
    ASSERT_TRUE(d.has & PR_DRIFT_UNSEEN_SHARE);
    ASSERT_NEAR(d.unseen_share, 0, 1e-12);
    ASSERT_OK(pr_drift_compute(pred, pr_live_prediction(l), &d, &err));
    ASSERT_TRUE(d.psi < 0.02 && d.js < 0.05 && fabs(d.mean_shift) < 0.01);

    /* shifted by one sd, a new category on a fifth of the rows, the
     * missing rate up 30 points, predictions up 40% */
    pr_live_reset(l);
    ASSERT_EQ_INT(pr_live_rows(l), 0);
    for (int i = 0; i < 20000; i++) {
        char xs[32], cs[16];
        snprintf(xs, sizeof xs, "%.6f", normal() + 1);
        snprintf(cs, sizeof cs, i % 5 == 0 ? "new%d" : "v%d", cat_draw());
        live_row(l, cs, i % 10 < 4 ? NULL : xs);
        pr_live_add_score(l, 0.14 + 0.07 * unif());
    }
    ASSERT_OK(pr_drift_compute(x, pr_live_column(l, 1), &d, &err));
    ASSERT_TRUE(d.psi > 0.2 && d.js > 0.2 && d.ks > 0.3);
    ASSERT_NEAR(d.wasserstein, 1, 0.15);
    ASSERT_NEAR(d.missing_delta, 30, 1.5);
    ASSERT_OK(pr_drift_compute(c, pr_live_column(l, 0), &d, &err));
    ASSERT_NEAR(d.unseen_share, 0.2, 0.01);
    ASSERT_TRUE(d.chi2_p < 1e-6 && d.psi > 0.2);
    ASSERT_OK(pr_drift_compute(pred, pr_live_prediction(l), &d, &err));
    ASSERT_NEAR(d.mean_shift, 0.4, 0.02);
    ASSERT_TRUE(d.psi > 1);
    all_finite(&d);
    /* a column the live records lack stays empty: no values */
    pr_live *l3 = NULL;
    ASSERT_OK(pr_live_new(p, &l3, &err));
    const char *only_c[1] = {"c"};
    ASSERT_OK(pr_live_bind(l3, only_c, 1, &err));
    live_row(l3, "v1", "3");
    ASSERT_OK(pr_drift_compute(x, pr_live_column(l3, 1), &d, &err));
    ASSERT_EQ_INT(d.has, 0);
    /* sets of another profile are refused */
    pr_profile *q = build_reference(100, 0, 0);
    pr_live *lq = NULL;
    ASSERT_OK(pr_live_new(q, &lq, &err));
    ASSERT_STATUS(pr_live_merge(l, lq, &err), PR_ERR_INVALID);
    pr_live_free(lq);
    pr_profile_free(q);
    pr_live_free(l3);
    pr_live_free(l2);
    pr_live_free(l);
    pr_profile_free(p);
}

/* A categorical column of n rows: "a" every 8th row, "b" every 8th from
 * the 4th (each 1/8 of the rows), the others distinct ("u<i>"). */
static pr_profile *build_tail(int n) {
    pr_err err;
    pr_spec *spec = spec_new();
    pr_profile_builder *b = NULL;
    ASSERT_OK(pr_profile_builder_new(spec, &b, &err));
    const char *names[2] = {"c", "x"};
    ASSERT_OK(pr_profile_builder_bind(b, names, 2));
    for (int i = 0; i < n; i++) {
        char c[16];
        if (i % 8 == 0) snprintf(c, sizeof c, "a");
        else if (i % 8 == 4) snprintf(c, sizeof c, "b");
        else snprintf(c, sizeof c, "u%d", i);
        pr_bytes cols[2] = {{c, strlen(c)}, {"1", 1}};
        pr_record r;
        memset(&r, 0, sizeof r);
        r.n_cols = 2;
        r.cols = cols;
        pr_profile_builder_add(b, &r);
    }
    pr_profile *p = NULL;
    ASSERT_OK(pr_profile_builder_finish(b, &p, &err));
    pr_profile_builder_free(b);
    pr_spec_free(spec);
    return p;
}

TEST(top_counts_are_exact) {
    /* 8000 rows (no thinning), 6000 distinct values in the tail: Misra-
     * Gries with 512 counters would have counted "a" and "b" up to
     * 8000/513 = 15 low each and moved that to "rest" (a bias the JS
     * distance of every window then carries); exact counters: 1000, 1000,
     * and 62 singletons of the tail, rest = 8000 - 2000 - 62 */
    pr_profile *p = build_tail(8000);
    const pr_sketch *c = pr_profile_column(p, 0);
    ASSERT_EQ_INT(c->n, 8000);
    ASSERT_EQ_INT(c->shape->n_top, 64);
    ASSERT_TRUE(!strcmp(c->shape->top_value[0], "a") || !strcmp(c->shape->top_value[0], "b"));
    ASSERT_EQ_INT(c->counts[0], 1000);
    ASSERT_EQ_INT(c->counts[1], 1000);
    for (int t = 2; t < 64; t++) ASSERT_EQ_INT(c->counts[t], 1);
    ASSERT_EQ_INT(c->counts[64], 8000 - 2000 - 62);
    ASSERT_EQ_INT(c->counts[65], 0);
    /* a live window of the same stream: JS exactly 0 on the folded bins */
    pr_err err;
    pr_live *l = NULL;
    ASSERT_OK(pr_live_new(p, &l, &err));
    const char *names[2] = {"c", "x"};
    ASSERT_OK(pr_live_bind(l, names, 2, &err));
    for (int i = 0; i < 8000; i++) {
        char v[16];
        if (i % 8 == 0) snprintf(v, sizeof v, "a");
        else if (i % 8 == 4) snprintf(v, sizeof v, "b");
        else snprintf(v, sizeof v, "w%d", i); /* other tail values: rest */
        live_row(l, v, "1");
    }
    pr_drift d;
    ASSERT_OK(pr_drift_compute(c, pr_live_column(l, 0), &d, &err));
    /* live: a 1/8, b 1/8, the reference's 62 singletons 0, rest 3/4; the
     * reference: a 1/8, b 1/8, 62 of 1/8000, rest 5938/8000 */
    double e1 = 1.0 / 8000, er = 5938.0 / 8000, ar = 0.75, mr = (er + ar) / 2, js2 = 0;
    js2 += 0.5 * 62 * e1 * log2(e1 / (e1 / 2));
    js2 += 0.5 * ar * log2(ar / mr) + 0.5 * er * log2(er / mr);
    ASSERT_NEAR(d.js, sqrt(js2), 1e-9);
    pr_live_free(l);
    pr_profile_free(p);
    /* 40000 rows: thinned four times; the counts stay a consistent sample
     * (top + rest = present) and the shares right */
    p = build_tail(40000);
    c = pr_profile_column(p, 0);
    uint64_t sum = 0;
    for (uint32_t t = 0; t < c->shape->n_bins; t++) sum += c->counts[t];
    ASSERT_EQ_INT(sum, c->n - c->n_missing);
    ASSERT_TRUE(c->n < 8200);
    ASSERT_NEAR((double)c->counts[0] / (double)c->n, 0.125, 0.015);
    ASSERT_NEAR((double)c->counts[1] / (double)c->n, 0.125, 0.015);
    pr_profile_free(p);
}

TEST(sampling_keeps_shares) {
    /* 300k rows: the builder thins several times; shares stay right and
     * the counts stay consistent (the decoder checks that) */
    pr_err err;
    pr_profile *p = build_reference(300000, 2, 0);
    const pr_sketch *c = pr_profile_column(p, 0), *x = pr_profile_column(p, 1);
    ASSERT_TRUE(c->n < 100000);   /* sampled */
    ASSERT_NEAR((double)c->counts[0] / (double)(c->n - c->n_missing), 0.5, 0.01);
    ASSERT_NEAR((double)c->counts[1] / (double)(c->n - c->n_missing), 0.25, 0.01);
    ASSERT_NEAR(x->mean, 2, 0.02);
    ASSERT_NEAR(sqrt(x->m2 / (double)x->n_finite), 1, 0.03);
    ASSERT_NEAR((double)x->n_missing / (double)x->n, 0.1, 0.01);
    pr_profile_summary s;
    pr_profile_summary_get(p, &s);
    ASSERT_EQ_INT(s.rows, 300000);
    uint8_t *bytes = NULL;
    size_t len = 0;
    ASSERT_OK(pr_profile_encode(p, &bytes, &len, &err));
    pr_profile *q = NULL;
    ASSERT_OK(pr_profile_decode(bytes, len, "t", &q, &err));
    free(bytes);
    pr_profile_free(q);
    pr_profile_free(p);
}

TEST(hourly_rows_and_expected_traffic) {
    /* build_reference: ts 1700000000 + i s, i < 5000: 1700000000 is 22:13:20
     * UTC, so 2800 rows in hour 22 (2800 s of the span) and 2200 in hour 23
     * (2200 s): one row per second each */
    pr_err err;
    pr_profile *p = build_reference(5000, 0, 0);
    pr_profile_summary s;
    pr_profile_summary_get(p, &s);
    for (int k = 0; k < 24; k++)
        ASSERT_EQ_INT(s.hour_rows[k], k == 22 ? 2800 : k == 23 ? 2200 : 0);
    ASSERT_NEAR(pr_profile_expected_rows(p, 1700003000000LL, 1700003060000LL), 60, 1e-9);
    ASSERT_NEAR(pr_profile_expected_rows(p, 1700002700000LL, 1700002900000LL), 200, 1e-9);
    /* 2 days later, same hours: the same rate */
    ASSERT_NEAR(pr_profile_expected_rows(p, 1700175800000LL, 1700176100000LL), 300, 1e-9);
    /* an hour of the day the reference never saw: not known */
    ASSERT_TRUE(isnan(pr_profile_expected_rows(p, 1700010000000LL, 1700010060000LL)));
    /* round trip; a layout-1 profile (no hourly rows) still decodes */
    uint8_t *bytes = NULL;
    size_t len = 0;
    ASSERT_OK(pr_profile_encode(p, &bytes, &len, &err));
    pr_profile *q = NULL;
    ASSERT_OK(pr_profile_decode(bytes, len, "t", &q, &err));
    pr_profile_summary_get(q, &s);
    ASSERT_EQ_INT(s.hour_rows[23], 2200);
    pr_profile_free(q);
    bytes[4] = 1;
    ASSERT_OK(pr_profile_decode(bytes, len - 192, "t", &q, &err));
    pr_profile_summary_get(q, &s);
    ASSERT_EQ_INT(s.hour_rows[22], 0);
    ASSERT_TRUE(isnan(pr_profile_expected_rows(q, 1700003000000LL, 1700003060000LL)));
    pr_profile_free(q);
    /* hourly rows adding up to more than rows: refused */
    bytes[4] = 2;
    bytes[len - 192] = 0xff;
    ASSERT_STATUS(pr_profile_decode(bytes, len, "t", &q, &err), PR_ERR_FORMAT);
    free(bytes);
    pr_profile_free(p);
}

TEST(time_columns_not_profiled) {
    /* hour_of_day comes from the request's timestamp: a window of minutes
     * always sees one hour of the day, so it is not profiled */
    const char *y = "version: 1\nhash_bits: 10\nrequest:\n  timestamp: ts\n"
                    "  columns: [c]\n  time: [hour_of_day]\nfields:\n"
                    "  - {name: c, type: categorical}\n"
                    "  - {name: hour, column: hour_of_day, type: categorical}\n";
    pr_err err;
    pr_spec *spec = NULL;
    ASSERT_OK(pr_spec_parse(y, strlen(y), "spec", &spec, &err));
    ASSERT_EQ_INT(pr_spec_n_input_columns(spec), 2);
    pr_profile_builder *b = NULL;
    ASSERT_OK(pr_profile_builder_new(spec, &b, &err));
    const char *names[2] = {"c", "hour_of_day"};
    ASSERT_OK(pr_profile_builder_bind(b, names, 2));
    pr_bytes cols[2] = {{"x", 1}, {"7", 1}};
    pr_record r;
    memset(&r, 0, sizeof r);
    r.n_cols = 2;
    r.cols = cols;
    pr_profile_builder_add(b, &r);
    pr_profile *p = NULL;
    ASSERT_OK(pr_profile_builder_finish(b, &p, &err));
    ASSERT_EQ_INT(pr_profile_n_columns(p), 1);
    ASSERT_EQ_STR(pr_profile_column_name(p, 0), "c");
    ASSERT_EQ_INT(pr_profile_find_column(p, "hour_of_day"), -1);
    pr_profile_free(p);
    pr_profile_builder_free(b);
    pr_spec_free(spec);
}

TEST(codec_round_trip_and_damage) {
    pr_err err;
    pr_profile *p = build_reference(5000, 0, 1);
    uint8_t *bytes = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    ASSERT_OK(pr_profile_encode(p, &bytes, &len, &err));
    ASSERT_TRUE(len < 16384);   /* small: KBs */
    pr_profile *q = NULL;
    ASSERT_OK(pr_profile_decode(bytes, len, "t", &q, &err));
    ASSERT_OK(pr_profile_encode(q, &again, &len2, &err));
    ASSERT_EQ_INT(len2, len);
    ASSERT_TRUE(memcmp(bytes, again, len) == 0);
    char *t1 = NULL, *t2 = NULL;
    ASSERT_OK(pr_profile_render(p, 1, &t1, &err));
    ASSERT_OK(pr_profile_render(q, 1, &t2, &err));
    ASSERT_EQ_STR(t1, t2);
    ASSERT_CONTAINS(t1, "\"base_rate\": 0.25");
    free(t1);
    free(t2);
    ASSERT_OK(pr_profile_render(q, 0, &t1, &err));
    ASSERT_CONTAINS(t1, "5000 rows");
    ASSERT_CONTAINS(t1, "\"v0\"");
    free(t1);
    /* every truncation is refused, never read past */
    for (size_t n = 0; n < len; n++) {
        pr_profile *r = NULL;
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, bytes, n);
        if (pr_profile_decode(cut, n, "cut", &r, &err) == PR_OK) TEST_FAIL("cut at %zu accepted", n);
        ASSERT_TRUE(r == NULL && err.msg[0]);
        free(cut);
    }
    pr_profile_free(q);
    q = NULL;
    /* a newer layout: a version error, naming the layout */
    again[4] = 3;
    ASSERT_STATUS(pr_profile_decode(again, len, "t", &q, &err), PR_ERR_VERSION);
    ASSERT_CONTAINS(err.msg, "layout 3");
    again[4] = 2;
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, bytes, len);
    longer[len] = 0;
    ASSERT_STATUS(pr_profile_decode(longer, len + 1, "t", &q, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "unexpected bytes");
    free(longer);
    free(again);
    pr_profile_free(q);

    /* in a model file; an old file (no section) loads with no profile */
    pr_model_params mp;
    pr_model_params_default(&mp, PR_MODEL_KIND_LR);
    mp.hash_bits = 8;
    pr_model *m = NULL, *m2 = NULL;
    ASSERT_OK(pr_model_new(&mp, &m, &err));
    const char *path = test_path("old.pm");
    ASSERT_OK(pr_model_save(m, path, &err));
    ASSERT_OK(pr_model_load(path, &m2, &err));
    pr_profile *none = (pr_profile *)1;
    ASSERT_OK(pr_profile_of_model(m2, &none, &err));
    ASSERT_TRUE(none == NULL);
    pr_model_free(m2);
    ASSERT_OK(pr_profile_attach(m, p, &err));
    path = test_path("new.pm");
    ASSERT_OK(pr_model_save(m, path, &err));
    ASSERT_OK(pr_model_load(path, &m2, &err));
    size_t blen = 0;
    const void *b2 = pr_model_profile_bytes(m2, &blen);
    ASSERT_EQ_INT(blen, len);
    ASSERT_TRUE(memcmp(b2, bytes, len) == 0);
    pr_profile *back = NULL;
    ASSERT_OK(pr_profile_of_model(m2, &back, &err));
    ASSERT_TRUE(back != NULL);
    ASSERT_EQ_INT(pr_profile_n_columns(back), 2);
    /* a profile this reader cannot decode: the model still loads */
    uint8_t junk[8] = {'P', 'R', 'P', 'F', 9, 0, 0, 0};
    ASSERT_OK(pr_model_set_profile_bytes(m, junk, sizeof junk, &err));
    ASSERT_OK(pr_model_save(m, path, &err));
    pr_model *m3 = NULL;
    ASSERT_OK(pr_model_load(path, &m3, &err));
    pr_profile *bad = NULL;
    ASSERT_STATUS(pr_profile_of_model(m3, &bad, &err), PR_ERR_VERSION);
    pr_model_free(m3);
    pr_profile_free(back);
    pr_model_free(m2);
    pr_model_free(m);
    free(bytes);
    pr_profile_free(p);
}

int main(void) {
    RUN(numeric_bins_and_moments);
    RUN(drift_hand_computed_numeric);
    RUN(drift_hand_computed_chi2);
    RUN(builder_profile);
    RUN(sampling_keeps_shares);
    RUN(top_counts_are_exact);
    RUN(hourly_rows_and_expected_traffic);
    RUN(time_columns_not_profiled);
    RUN(codec_round_trip_and_damage);
    TEST_MAIN_END();
}
