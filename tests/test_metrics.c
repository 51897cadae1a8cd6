/*
 * test_metrics.c: evaluation metrics against cases worked out by hand (the
 * arithmetic is in the comments) and against O(n^2) definitions on random
 * data with ties and weights.
 */
#include <jansson.h>
#include <stdint.h>

#include "pronto/metrics.h"
#include "test.h"

static pr_metrics *metrics_of(const double *p, const float *y, const float *w, int n) {
    pr_err err;
    pr_metrics *m;
    ASSERT_OK(pr_metrics_new(&m, &err));
    for (int i = 0; i < n; i++) ASSERT_OK(pr_metrics_add(m, p[i], y[i], w ? w[i] : 1.0f));
    return m;
}

static pr_metrics_report report_of(const double *p, const float *y, const float *w, int n) {
    pr_err err;
    pr_metrics_report r;
    pr_metrics *m = metrics_of(p, y, w, n);
    ASSERT_OK(pr_metrics_compute(m, &r, &err));
    pr_metrics_free(m);
    return r;
}

/* Renders r with pr_metrics_print (json = 0) or _print_json into a string. */
static char *render(const pr_metrics_report *r, int json) {
    pr_err err;
    const char *path = test_path(json ? "report.json" : "report.txt");
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    if (json) ASSERT_OK(pr_metrics_print_json(r, f, &err));
    else pr_metrics_print(r, f);
    fclose(f);
    char *text;
    size_t len;
    ASSERT_OK(pr_read_file(path, &text, &len, &err));
    return text;
}

TEST(no_ties) {
    /* p:  0.1  0.4  0.35 0.8
     * y:  0    0    1    1
     * AUC: pairs (pos, neg): (.35,.1) win, (.35,.4) loss, (.8,.1) win,
     *      (.8,.4) win -> 3/4.
     * AP: descending .8(+) precision 1, recall +1/2; .4(-); .35(+) precision
     *     2/3, recall +1/2 -> 1/2 + 1/3 = 0.8333.
     * log loss: -(ln .9 + ln .6 + ln .35 + ln .8)/4
     *         = (0.1053605 + 0.5108256 + 1.0498221 + 0.2231436)/4 = 0.4722880
     * NE: base rate 1/2, H = ln 2 -> 0.4722880/0.6931472 = 0.6813675
     * mean p = 1.65/4 = 0.4125, calibration = 0.4125/0.5 = 0.825 */
    double p[] = {0.1, 0.4, 0.35, 0.8};
    float y[] = {0, 0, 1, 1};
    pr_metrics_report r = report_of(p, y, NULL, 4);
    ASSERT_EQ_INT(r.rows, 4);
    ASSERT_NEAR(r.weight_sum, 4, 1e-12);
    ASSERT_NEAR(r.positives, 2, 1e-12);
    ASSERT_NEAR(r.base_rate, 0.5, 1e-12);
    ASSERT_NEAR(r.auc, 0.75, 1e-12);
    ASSERT_NEAR(r.pr_auc, 0.5 + 1.0 / 3.0, 1e-12);
    ASSERT_NEAR(r.log_loss, 0.47228795380917615, 1e-12);
    ASSERT_NEAR(r.ne, 0.6813674888320943, 1e-12);
    ASSERT_NEAR(r.mean_p, 0.4125, 1e-12);
    ASSERT_NEAR(r.calibration, 0.825, 1e-12);
}

TEST(ties_count_half) {
    /* p:  0.5  0.5  0.5  0.2
     * y:  1    0    0    0
     * AUC: the positive ties two negatives (1/2 each) and beats one:
     *      (0.5 + 0.5 + 1)/3 = 2/3.
     * AP: one threshold at 0.5 holding tp=1, fp=2: precision 1/3 times
     *     recall 1 = 1/3. */
    double p[] = {0.5, 0.5, 0.5, 0.2};
    float y[] = {1, 0, 0, 0};
    pr_metrics_report r = report_of(p, y, NULL, 4);
    ASSERT_NEAR(r.auc, 2.0 / 3.0, 1e-12);
    ASSERT_NEAR(r.pr_auc, 1.0 / 3.0, 1e-12);
    /* All scores equal: AUC is exactly 1/2. -0.0 and 0.0 are one tie. */
    double q[] = {0.0, -0.0, 0.0, -0.0};
    float z[] = {1, 0, 0, 1};
    r = report_of(q, z, NULL, 4);
    ASSERT_NEAR(r.auc, 0.5, 1e-12);
}

TEST(weighted_rows) {
    /* p:  0.2  0.6  0.7
     * y:  0    1    0
     * w:  2    1    3      P = 1, N = 5, W = 6
     * AUC: the positive beats the 0.2 negative (weight 2), loses to the 0.7
     *      one (weight 3): 2/(1*5) = 0.4.
     * AP: descending .7(-) fp=3; .6(+) tp=1: precision 1/4, recall +1 -> 0.25
     * log loss: (2(-ln .8) + 1(-ln .6) + 3(-ln .3))/6
     *         = (0.4462871 + 0.5108256 + 3.6119184)/6 = 0.7615052
     * base rate 1/6, H(1/6) = 0.4505612 -> NE = 1.6901259
     * mean p = (0.4 + 0.6 + 2.1)/6 = 0.5166667, calibration = 3.1 */
    double p[] = {0.2, 0.6, 0.7};
    float y[] = {0, 1, 0};
    float w[] = {2, 1, 3};
    pr_metrics_report r = report_of(p, y, w, 3);
    ASSERT_NEAR(r.weight_sum, 6, 1e-12);
    ASSERT_NEAR(r.positives, 1, 1e-12);
    ASSERT_NEAR(r.auc, 0.4, 1e-12);
    ASSERT_NEAR(r.pr_auc, 0.25, 1e-12);
    ASSERT_NEAR(r.log_loss, 0.7615051898953697, 1e-12);
    ASSERT_NEAR(r.ne, 1.6901259471747638, 1e-12);
    ASSERT_NEAR(r.mean_p, 3.1 / 6, 1e-12);
    ASSERT_NEAR(r.calibration, 3.1, 1e-12);

    /* A weight of k is the same as k copies of the row. */
    double pd[] = {0.2, 0.2, 0.6, 0.7, 0.7, 0.7};
    float yd[] = {0, 0, 1, 0, 0, 0};
    pr_metrics_report d = report_of(pd, yd, NULL, 6);
    ASSERT_NEAR(d.auc, r.auc, 1e-12);
    ASSERT_NEAR(d.pr_auc, r.pr_auc, 1e-12);
    ASSERT_NEAR(d.log_loss, r.log_loss, 1e-12);
    ASSERT_NEAR(d.ne, r.ne, 1e-12);
}

TEST(clamping_and_soft_labels) {
    /* p = 0 for a positive: clamped to 1e-15, loss -ln(1e-15) = 34.5387764.
     * p = 1 for a positive: loss -ln(1 - 1e-15) ~ 1e-15. Mean: 17.2693882. */
    double p[] = {0.0, 1.0};
    float y[] = {1, 1};
    pr_metrics_report r = report_of(p, y, NULL, 2);
    ASSERT_NEAR(r.log_loss, 34.538776394910684 / 2, 1e-9);
    /* A soft label 0.25 at p = 0.25: -(0.25 ln .25 + 0.75 ln .75) = 0.5623351 */
    double q[] = {0.25};
    float z[] = {0.25f};
    r = report_of(q, z, NULL, 1);
    ASSERT_NEAR(r.log_loss, 0.5623351446188083, 1e-12);
    ASSERT_NEAR(r.positives, 0.25, 1e-12);

    pr_logloss_acc acc = {0};
    ASSERT_TRUE(isnan(pr_logloss_value(&acc)));
    pr_logloss_add(&acc, 0.9, 0, 1);   /* -ln 0.1 = 2.3025851 */
    pr_logloss_add(&acc, 0.9, 1, 3);   /* -ln 0.9 = 0.1053605, x3 */
    ASSERT_NEAR(pr_logloss_value(&acc), (2.302585092994046 + 3 * 0.10536051565782628) / 4, 1e-12);
}

TEST(one_class_is_not_a_crash) {
    double p[] = {0.3, 0.6, 0.9};
    float ones[] = {1, 1, 1};
    pr_metrics_report r = report_of(p, ones, NULL, 3);
    ASSERT_TRUE(isnan(r.auc));
    ASSERT_TRUE(isnan(r.ne));           /* base rate 1: entropy 0 */
    ASSERT_NEAR(r.pr_auc, 1.0, 1e-12);  /* every threshold has precision 1 */
    ASSERT_NEAR(r.calibration, 0.6, 1e-12);
    char *text = render(&r, 0);
    ASSERT_CONTAINS(text, "AUC           n/a");
    ASSERT_CONTAINS(text, "NE            n/a");
    free(text);
    text = render(&r, 1);
    ASSERT_CONTAINS(text, "\"auc\":null");
    free(text);

    float zeros[] = {0, 0, 0};
    r = report_of(p, zeros, NULL, 3);
    ASSERT_TRUE(isnan(r.auc) && isnan(r.pr_auc) && isnan(r.ne) && isnan(r.calibration));
    ASSERT_NEAR(r.base_rate, 0, 1e-12);

    /* No rows at all. */
    pr_err err;
    pr_metrics *m;
    ASSERT_OK(pr_metrics_new(&m, &err));
    ASSERT_OK(pr_metrics_compute(m, &r, &err));
    ASSERT_EQ_INT(r.rows, 0);
    ASSERT_TRUE(isnan(r.log_loss) && isnan(r.auc) && isnan(r.base_rate));
    text = render(&r, 0);
    ASSERT_CONTAINS(text, "log loss      n/a");
    free(text);
    pr_metrics_free(m);
    pr_metrics_free(NULL);
}

TEST(bins_and_renderings) {
    /* p: 0.05(0) 0.15(1) 0.95(1) 1.0(1)
     * bin [0,.1): 1 row, mean p .05, observed 0
     * bin [.1,.2): 1 row, mean p .15, observed 1
     * bin [.9,1]: 2 rows (1.0 belongs to the last bin), mean p .975, observed 1
     * mean p = 2.15/4 = 0.5375, base rate 0.75, calibration 0.7166667 */
    double p[] = {0.05, 0.15, 0.95, 1.0};
    float y[] = {0, 1, 1, 1};
    pr_metrics_report r = report_of(p, y, NULL, 4);
    ASSERT_EQ_INT(r.bins[0].rows, 1);
    ASSERT_NEAR(r.bins[0].mean_p, 0.05, 1e-12);
    ASSERT_NEAR(r.bins[0].observed, 0, 1e-12);
    ASSERT_EQ_INT(r.bins[1].rows, 1);
    ASSERT_NEAR(r.bins[1].observed, 1, 1e-12);
    ASSERT_EQ_INT(r.bins[9].rows, 2);
    ASSERT_NEAR(r.bins[9].mean_p, 0.975, 1e-12);
    ASSERT_NEAR(r.bins[9].lo, 0.9, 1e-12);
    ASSERT_NEAR(r.bins[9].hi, 1.0, 1e-12);
    ASSERT_EQ_INT(r.bins[5].rows, 0);
    ASSERT_TRUE(isnan(r.bins[5].mean_p));
    ASSERT_NEAR(r.calibration, 0.5375 / 0.75, 1e-12);

    char *text = render(&r, 0);
    ASSERT_CONTAINS(text, "rows          4\n");
    ASSERT_CONTAINS(text, "AUC           1.000000\n");
    ASSERT_CONTAINS(text, "  [0.9, 1.0]            2   0.975000   1.000000\n");
    ASSERT_CONTAINS(text, "  [0.5, 0.6)            0        n/a        n/a\n");
    free(text);

    text = render(&r, 1);
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j) TEST_FAIL("JSON does not parse: %s: %s", jerr.text, text);
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "rows")), 4);
    ASSERT_NEAR(json_real_value(json_object_get(j, "calibration")), 0.5375 / 0.75, 1e-15);
    json_t *bins = json_object_get(j, "bins");
    ASSERT_EQ_INT(json_array_size(bins), 10);
    ASSERT_TRUE(json_is_null(json_object_get(json_array_get(bins, 5), "mean_p")));
    ASSERT_EQ_INT(json_integer_value(json_object_get(json_array_get(bins, 9), "rows")), 2);
    json_decref(j);
    free(text);
}

TEST(refuses_bad_rows) {
    pr_err err;
    pr_metrics *m;
    ASSERT_OK(pr_metrics_new(&m, &err));
    ASSERT_EQ_INT(pr_metrics_add(m, NAN, 1, 1), PR_ERR_INVALID);
    ASSERT_EQ_INT(pr_metrics_add(m, INFINITY, 1, 1), PR_ERR_INVALID);
    ASSERT_EQ_INT(pr_metrics_add(m, 0.5, 2, 1), PR_ERR_INVALID);
    ASSERT_EQ_INT(pr_metrics_add(m, 0.5, -1, 1), PR_ERR_INVALID);
    ASSERT_EQ_INT(pr_metrics_add(m, 0.5, 1, -1), PR_ERR_INVALID);
    ASSERT_EQ_INT(pr_metrics_add(m, 0.5, 1, NAN), PR_ERR_INVALID);
    ASSERT_EQ_INT(pr_metrics_rows(m), 0);
    pr_metrics_free(m);
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Random rows (scores on a 1/50 grid, so many ties; a few negative scores
 * and scores above 1; weights 0..3) against the pairwise definition of AUC
 * and the per-positive definition of average precision; and merging four
 * accumulators equals one. */
TEST(matches_quadratic_definitions) {
    enum { N = 3000 };
    static double p[N];
    static float y[N], w[N];
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        p[i] = (double)(int)(rng_next(&s) % 60 - 5) / 50.0;
        y[i] = (rng_next(&s) % 100) < (uint64_t)(20 + 60 * (p[i] > 0 ? (p[i] < 1 ? p[i] : 1) : 0));
        w[i] = (float)(rng_next(&s) % 4);
    }
    double auc = 0, P = 0, Nw = 0, ap = 0;
    for (int i = 0; i < N; i++) {
        P += w[i] * y[i];
        Nw += w[i] * (1 - y[i]);
        if (!y[i] || w[i] == 0) continue;
        double tp = 0, all = 0;
        for (int j = 0; j < N; j++) {
            if (!y[j]) auc += w[i] * w[j] * (p[i] > p[j] ? 1.0 : p[i] == p[j] ? 0.5 : 0.0);
            if (p[j] >= p[i]) {
                tp += w[j] * y[j];
                all += w[j];
            }
        }
        ap += w[i] * (tp / all);
    }
    auc /= P * Nw;
    ap /= P;

    pr_err err;
    pr_metrics *parts[4], *whole;
    ASSERT_OK(pr_metrics_new(&whole, &err));
    for (int k = 0; k < 4; k++) ASSERT_OK(pr_metrics_new(&parts[k], &err));
    for (int i = 0; i < N; i++) ASSERT_OK(pr_metrics_add(parts[i % 4], p[i], y[i], w[i]));
    for (int k = 0; k < 4; k++) pr_metrics_merge(whole, parts[k]);
    ASSERT_EQ_INT(pr_metrics_rows(whole), N);
    pr_metrics_report r, one = report_of(p, y, w, N);
    ASSERT_OK(pr_metrics_compute(whole, &r, &err));
    ASSERT_NEAR(r.auc, auc, 1e-9);
    ASSERT_NEAR(r.pr_auc, ap, 1e-9);
    ASSERT_NEAR(one.auc, auc, 1e-9);
    ASSERT_NEAR(one.log_loss, r.log_loss, 1e-9);
    /* compute again after more rows: still right (sorted state is reused) */
    ASSERT_OK(pr_metrics_add(whole, 2.0, 1, 0));
    ASSERT_OK(pr_metrics_compute(whole, &r, &err));
    ASSERT_NEAR(r.auc, auc, 1e-9);
    ASSERT_EQ_INT(r.rows, N + 1);
    for (int k = 0; k < 4; k++) pr_metrics_free(parts[k]);
    pr_metrics_free(whole);
}

/* 2M rows: the radix sort must order them (AUC of a perfect ranker is 1)
 * and be quick; prints the time. */
TEST(large_sort) {
    enum { N = 2000000 };
    pr_err err;
    pr_metrics *m;
    ASSERT_OK(pr_metrics_new(&m, &err));
    uint64_t s = 99;
    for (int i = 0; i < N; i++) {
        double p = (double)(rng_next(&s) >> 11) / 9007199254740992.0;
        ASSERT_OK(pr_metrics_add(m, p, p > 0.7 ? 1.0f : 0.0f, 1));
    }
    pr_metrics_report r;
    double t0 = pr_now();
    ASSERT_OK(pr_metrics_compute(m, &r, &err));
    fprintf(stderr, "   compute over %d rows: %.3f s\n", N, pr_now() - t0);
    ASSERT_NEAR(r.auc, 1.0, 1e-12);
    ASSERT_NEAR(r.pr_auc, 1.0, 1e-9);  /* a sum of 600k terms */
    ASSERT_NEAR(r.base_rate, 0.3, 0.002);
    pr_metrics_free(m);
}

int main(void) {
    RUN(no_ties);
    RUN(ties_count_half);
    RUN(weighted_rows);
    RUN(clamping_and_soft_labels);
    RUN(one_class_is_not_a_crash);
    RUN(bins_and_renderings);
    RUN(refuses_bad_rows);
    RUN(matches_quadratic_definitions);
    RUN(large_sort);
    TEST_MAIN_END();
}
