/*
 * test_quality.c: live quality from outcomes (pronto/quality.h): windows
 * computed by hand (log loss, NE, calibration, AUC), the attribution-window
 * rule (late clicks within the window count, an impression counts only
 * once its window closed), per version/arm separation, impressions that
 * come before their prediction, and bounded memory under floods.
 */
#include "test.h"

#include "pronto/quality.h"

#define T0 1704067200000LL /* a whole hour */

static pr_err err;

static pr_quality *make(int64_t window, int64_t lateness, int64_t hold) {
    pr_quality_opts o;
    pr_quality_opts_default(&o);
    o.window_ms = window;
    o.lateness_ms = lateness;
    o.hold_ms = hold;
    pr_quality *q;
    ASSERT_OK(pr_quality_new(&o, &q, &err));
    return q;
}

static void pred_json(pr_quality *q, const char *text) {
    ASSERT_OK(pr_quality_add_prediction_json(q, text, strlen(text), &err));
}

static void event(pr_quality *q, const char *type, long long id, long long imp, long long ts,
                  const char *extra) {
    char b[512];
    snprintf(b, sizeof b,
             "{\"type\":\"%s\",\"event_id\":%lld,\"impression_id\":%lld,\"ts\":%lld%s%s}", type,
             id, imp, ts, extra ? "," : "", extra ? extra : "");
    ASSERT_OK(pr_quality_add_event_json(q, b, strlen(b), &err));
}

/* The window of length len starting at start of (version, arm); fails if absent. */
static pr_quality_window get_window(pr_quality *q, int64_t len, int64_t start, const char *version,
                                    const char *arm) {
    pr_quality_window *w;
    size_t n;
    ASSERT_OK(pr_quality_windows(q, len, &w, &n, &err));
    for (size_t i = 0; i < n; i++)
        if (w[i].start_ms == start && !strcmp(w[i].version, version) && !strcmp(w[i].arm, arm)) {
            pr_quality_window r = w[i];
            free(w);
            return r;
        }
    free(w);
    TEST_FAIL("no %lld ms window at %lld for %s/%s", (long long)len, (long long)start, version,
              arm);
}

static double find_sample(const pr_quality_sample *s, size_t n, const char *metric,
                          const char *window, const char *arm) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].metric, metric) && !strcmp(s[i].window, window) &&
            !strcmp(s[i].arm, arm))
            return s[i].value;
    return NAN;
}

/* Four candidates with p 0.1 0.2 0.3 0.4; the 0.2 and 0.4 ones clicked. */
TEST(hand_computed_window) {
    pr_quality *q = make(60000, 0, 0);
    pred_json(q, "{\"request_id\":\"r1\",\"ts\":1704067200000,\"model_version\":\"abc\","
                 "\"request\":{\"user_id\":\"1\"},\"predictions\":[{\"ad_id\":4,\"p\":0.4},"
                 "{\"ad_id\":\"3\",\"p\":0.3},{\"ad_id\":2,\"p\":0.2},{\"ad_id\":1,\"p\":0.1}]}");
    for (int c = 1; c <= 4; c++) {
        char extra[64];
        snprintf(extra, sizeof extra, "\"request_id\":\"r1\",\"ad_id\":%d", c);
        event(q, "impression", c, 100 + c, T0 + 1000 + c, extra);
    }
    event(q, "click", 10, 102, T0 + 5000, NULL);
    event(q, "click", 11, 104, T0 + 30000, NULL);
    pr_quality_sample s[64];
    event(q, "click", 12, 999, T0 + 119999, NULL); /* wm = T0 + 119999: labeled, not closed */
    pr_quality_stats st;
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.labeled, 4);
    ASSERT_EQ_INT(st.matched, 4);
    ASSERT_EQ_INT(pr_quality_snapshot(q, s, 64), 0);
    pr_quality_window w = get_window(q, 60000, T0, "abc", "");
    ASSERT_EQ_INT(w.closed, 0);
    event(q, "click", 13, 999, T0 + 120000, NULL); /* wm = 1m window's end + window */
    w = get_window(q, 60000, T0, "abc", "");
    ASSERT_EQ_INT(w.closed, 1);
    ASSERT_EQ_INT(w.n, 4);
    ASSERT_EQ_INT(w.clicks, 2);
    double ll = -(log(0.9) + log(0.2) + log(0.7) + log(0.4)) / 4;
    ASSERT_NEAR(w.logloss, ll, 1e-12);
    ASSERT_NEAR(w.ne, ll / log(2.0), 1e-12);
    ASSERT_NEAR(w.calibration, 0.25 / 0.5, 1e-12);
    ASSERT_NEAR(w.ctr, 0.5, 0);
    ASSERT_NEAR(w.mean_p, 0.25, 1e-15);
    ASSERT_NEAR(w.auc, 0.75, 0);       /* 3 of 4 (click, no click) pairs ordered */
    ASSERT_NEAR(w.auc_err, 0, 0);      /* all four in different bins */
    size_t n = pr_quality_snapshot(q, s, 64);
    ASSERT_EQ_INT(n, 8); /* only the 1m window is closed yet */
    ASSERT_NEAR(find_sample(s, n, "auc", "1m", ""), 0.75, 0);
    ASSERT_NEAR(find_sample(s, n, "n_labeled", "1m", ""), 4, 0);
    ASSERT_NEAR(find_sample(s, n, "logloss", "1m", ""), ll, 1e-12);
    ASSERT_EQ_STR(s[0].field, "");
    ASSERT_EQ_STR(s[0].version, "abc");
    ASSERT_EQ_INT(s[0].n, 4);
    /* the 5 min and 1 h windows hold the same impressions */
    pr_quality_window w5 = get_window(q, 300000, T0, "abc", "");
    ASSERT_EQ_INT(w5.n, 4);
    ASSERT_EQ_INT(w5.closed, 0);
    ASSERT_NEAR(w5.logloss, ll, 1e-12);
    pr_quality_flush(q);
    n = pr_quality_snapshot(q, s, 64);
    ASSERT_EQ_INT(n, 24);
    ASSERT_NEAR(find_sample(s, n, "calibration", "1h", ""), 0.5, 1e-12);
    pr_quality_free(q);
}

/* Ties: equal p in both classes count one half; AUC 0.5, bound 0.5. No
 * click: NE, calibration, AUC undefined and left out of the snapshot. */
TEST(sliding_windows_and_calibration_bound) {
    /* minute 0: p 0.1 0.2 0.3 0.4, the 0.2 and 0.4 clicked; minute 1: p
     * 0.6 (clicked) and 0.05 */
    pr_quality *q = make(60000, 0, 0);
    pred_json(q, "{\"request_id\":\"r1\",\"ts\":1704067200000,\"model_version\":\"abc\","
                 "\"request\":{},\"predictions\":[{\"ad_id\":4,\"p\":0.4},"
                 "{\"ad_id\":3,\"p\":0.3},{\"ad_id\":2,\"p\":0.2},{\"ad_id\":1,\"p\":0.1}]}");
    for (int c = 1; c <= 4; c++) {
        char extra[64];
        snprintf(extra, sizeof extra, "\"request_id\":\"r1\",\"ad_id\":%d", c);
        event(q, "impression", c, 100 + c, T0 + 1000 + c, extra);
    }
    event(q, "click", 10, 102, T0 + 5000, NULL);
    event(q, "click", 11, 104, T0 + 30000, NULL);
    pred_json(q, "{\"request_id\":\"r2\",\"ts\":1704067261000,\"model_version\":\"abc\","
                 "\"request\":{},\"predictions\":[{\"ad_id\":5,\"p\":0.6},"
                 "{\"ad_id\":6,\"p\":0.05}]}");
    event(q, "impression", 5, 105, T0 + 61000, "\"request_id\":\"r2\",\"ad_id\":5");
    event(q, "impression", 6, 106, T0 + 61001, "\"request_id\":\"r2\",\"ad_id\":6");
    event(q, "click", 12, 105, T0 + 62000, NULL);
    event(q, "click", 13, 999, T0 + 150000, NULL); /* wm: minute 0 closed, minute 1 not */
    pr_quality_sample s[64];
    /* until T0 + 2 min: minute 1 is not closed yet, only minute 0 counts */
    size_t n = pr_quality_sliding(q, T0 + 120000, s, 64);
    ASSERT_NEAR(find_sample(s, n, "n_labeled", "5m", ""), 4, 0);
    ASSERT_NEAR(find_sample(s, n, "calibration", "5m", ""), 0.5, 1e-12);
    /* clicks 2, sum p 1, sd sqrt(0.7): 2 - 2 sd < 1, so 1 */
    ASSERT_NEAR(find_sample(s, n, "calibration_bound", "5m", ""), 1, 0);
    ASSERT_NEAR(find_sample(s, n, "n_labeled", "1h", ""), 4, 0);
    /* until T0 + 1 min: minute 0 ends there, and counts; a ms earlier none */
    ASSERT_EQ_INT(pr_quality_sliding(q, T0 + 59999, s, 64), 0);
    n = pr_quality_sliding(q, T0 + 60000, s, 64);
    ASSERT_NEAR(find_sample(s, n, "n_labeled", "5m", ""), 4, 0);
    event(q, "click", 14, 999, T0 + 180000, NULL); /* minute 1 closed */
    n = pr_quality_sliding(q, T0 + 120000, s, 64);
    ASSERT_NEAR(find_sample(s, n, "n_labeled", "5m", ""), 6, 0);
    ASSERT_NEAR(find_sample(s, n, "calibration", "5m", ""), 1.65 / 3, 1e-12);
    ASSERT_NEAR(find_sample(s, n, "auc", "5m", ""), 8.0 / 9, 1e-12);
    double ll = -(log(0.9) + log(0.2) + log(0.7) + log(0.4) + log(0.6) + log(0.95)) / 6;
    ASSERT_NEAR(find_sample(s, n, "logloss", "1h", ""), ll, 1e-12);
    /* clicks 3 > sum p 1.65 by less than 2 sd (sd = sqrt(0.9875)): 1 */
    ASSERT_NEAR(find_sample(s, n, "calibration_bound", "5m", ""), 1, 0);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].window, "5m")) ASSERT_EQ_INT(s[i].start_ms, T0 + 120000 - 300000);
    /* a window starting before until - 5 min is not in the 5m sum */
    n = pr_quality_sliding(q, T0 + 60000 + 300000, s, 64);
    ASSERT_NEAR(find_sample(s, n, "n_labeled", "5m", ""), 2, 0);
    ASSERT_NEAR(find_sample(s, n, "n_labeled", "1h", ""), 6, 0);
    pr_quality_free(q);
    /* the bound by hand: sum p 100, sum p(1-p) 64 (sd 8), z 2 */
    ASSERT_NEAR(pr_quality_calibration_bound(100, 64, 150, 2), 100.0 / 134, 1e-15);
    ASSERT_NEAR(pr_quality_calibration_bound(100, 64, 70, 2), 100.0 / 86, 1e-15);
    ASSERT_NEAR(pr_quality_calibration_bound(100, 64, 95, 2), 1, 0);
    ASSERT_NEAR(pr_quality_calibration_bound(100, 64, 110, 2), 1, 0);
    ASSERT_TRUE(isnan(pr_quality_calibration_bound(1, 0, 0, 2)));
    ASSERT_TRUE(isnan(pr_quality_calibration_bound(0, 0, 5, 2)));
}

TEST(ties_and_undefined) {
    pr_quality *q = make(1000, 0, 0);
    pred_json(q, "{\"request_id\":7,\"ts\":1704067200000,\"model_version\":\"m\",\"arm\":\"a\","
                 "\"predictions\":[{\"ad_id\":1,\"p\":0.5},{\"ad_id\":2,\"p\":0.5}]}");
    event(q, "impression", 1, 1, T0, "\"request_id\":7,\"ad_id\":1");
    event(q, "impression", 2, 2, T0, "\"request_id\":\"7\",\"ad_id\":\"2\"");
    event(q, "click", 3, 1, T0 + 10, NULL);
    /* a second minute without clicks */
    pred_json(q, "{\"request_id\":\"8\",\"ts\":1704067260000,\"model_version\":\"m\",\"arm\":"
                 "\"a\",\"predictions\":[{\"ad_id\":1,\"p\":0.25}]}");
    event(q, "impression", 4, 8, T0 + 60000, "\"ad_id\":1"); /* request id: impression id */
    pr_quality_flush(q);
    pr_quality_window w = get_window(q, 60000, T0, "m", "a");
    ASSERT_EQ_INT(w.n, 2);
    ASSERT_NEAR(w.auc, 0.5, 0);
    ASSERT_NEAR(w.auc_err, 0.5, 0);
    w = get_window(q, 60000, T0 + 60000, "m", "a");
    ASSERT_EQ_INT(w.n, 1);
    ASSERT_EQ_INT(w.clicks, 0);
    ASSERT_TRUE(isnan(w.ne) && isnan(w.calibration) && isnan(w.auc));
    ASSERT_NEAR(w.logloss, -log(0.75), 1e-12);
    pr_quality_sample s[64];
    size_t n = pr_quality_snapshot(q, s, 64);
    /* 1m: the newest (no click): n_labeled logloss ctr mean_p; 5m, 1h: all 8 */
    ASSERT_EQ_INT(n, 4 + 8 + 8);
    ASSERT_TRUE(isnan(find_sample(s, 4, "ne", "1m", "a")));
    pr_quality_free(q);
}

/* A click at exactly ts + window, arriving late (within the lateness),
 * counts; one a millisecond later does not. The impression is counted only
 * once the watermark passed ts + window. */
TEST(attribution_window_rule) {
    pr_quality *q = make(60000, 10000, 0);
    pred_json(q, "{\"request_id\":\"a\",\"ts\":1704067200000,\"model_version\":\"v\","
                 "\"predictions\":[{\"ad_id\":1,\"p\":0.5},{\"ad_id\":2,\"p\":0.5}]}");
    event(q, "impression", 1, 1, T0, "\"request_id\":\"a\",\"ad_id\":1");
    event(q, "impression", 2, 2, T0, "\"request_id\":\"a\",\"ad_id\":2");
    event(q, "click", 3, 99, T0 + 65000, NULL);   /* moves time: wm = T0 + 55000 */
    event(q, "click", 4, 1, T0 + 60000, NULL);    /* late, within the lateness: counts */
    event(q, "click", 5, 2, T0 + 60001, NULL);    /* outside the window */
    pr_quality_stats st;
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.labeled, 0);                 /* windows still open */
    event(q, "click", 6, 99, T0 + 70000, NULL);   /* wm = T0 + 60000: not yet (> needed) */
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.labeled, 0);
    event(q, "click", 7, 99, T0 + 70001, NULL);   /* wm > T0 + window */
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.labeled, 2);
    ASSERT_EQ_INT(st.unattributed_clicks >= 1, 1);
    pr_quality_window w = get_window(q, 60000, T0, "v", "");
    ASSERT_EQ_INT(w.n, 2);
    ASSERT_EQ_INT(w.clicks, 1);
    ASSERT_EQ_INT(w.closed, 0);                   /* needs wm >= T0 + 60000 + 60000 */
    event(q, "click", 8, 99, T0 + 130000, NULL);
    w = get_window(q, 60000, T0, "v", "");
    ASSERT_EQ_INT(w.closed, 1);
    pr_quality_free(q);
}

/* Two arms of one version, and a second version: three series. */
TEST(series_apart) {
    pr_quality *q = make(1000, 1000, 0);
    const char *arm[3] = {"production", "candidate", "production"};
    const char *ver[3] = {"v1", "v2", "v3"};
    double p[3] = {0.1, 0.6, 0.3};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 10; k++) {
            uint64_t key = pr_quality_key(pr_quality_request_hash(pr_bytes_of("r", 1)),
                                          pr_bytes_of((char[]){(char)('a' + i * 10 + k)}, 1));
            pr_quality_pred pd = {T0, ver[i], arm[i], 1, &key, &p[i]};
            pr_quality_add_prediction(q, &pd);
            char extra[64];
            snprintf(extra, sizeof extra, "\"request_id\":\"r\",\"ad_id\":\"%c\"", 'a' + i * 10 + k);
            event(q, "impression", i * 100 + k, i * 100 + k, T0 + k, extra);
            if (k < 2 * (i + 1)) event(q, "click", 10000 + i * 100 + k, i * 100 + k, T0 + 20, NULL);
        }
    pr_quality_flush(q);
    for (int i = 0; i < 3; i++) {
        pr_quality_window w = get_window(q, 60000, T0, ver[i], arm[i]);
        ASSERT_EQ_INT(w.n, 10);
        ASSERT_EQ_INT(w.clicks, 2 * (i + 1));
        ASSERT_NEAR(w.mean_p, p[i], 1e-12);
        ASSERT_NEAR(w.calibration, p[i] / (0.2 * (i + 1)), 1e-12);
    }
    pr_quality_sample s[128];
    size_t n = pr_quality_snapshot(q, s, 128);
    ASSERT_EQ_INT(n, 3 * 3 * 8);
    int cand = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].arm, "candidate")) {
            ASSERT_EQ_STR(s[i].version, "v2");
            cand++;
        }
    ASSERT_EQ_INT(cand, 24);
    ASSERT_EQ_INT(pr_quality_snapshot(q, s, 5), n); /* the count, whatever the room */
    pr_quality_free(q);
}

/* In a log the prediction record may follow its impression: the impression
 * waits (hold) and is matched; without a prediction it is counted as
 * unmatched once labeled. */
TEST(impression_before_prediction) {
    pr_quality *q = make(1000, 5000, 5000);
    event(q, "impression", 1, 1, T0 + 10, "\"request_id\":\"x\",\"ad_id\":5");
    event(q, "impression", 2, 2, T0 + 10, "\"request_id\":\"y\",\"ad_id\":5");
    pred_json(q, "{\"request_id\":\"x\",\"ts\":1704067200000,\"model_version\":\"v\","
                 "\"predictions\":[{\"ad_id\":5,\"p\":0.2}]}");
    event(q, "click", 3, 1, T0 + 500, NULL);
    pr_quality_stats st;
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.held, 2);
    event(q, "click", 4, 99, T0 + 5010, NULL); /* releases both, not too late */
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.held, 0);
    ASSERT_EQ_INT(st.too_late, 0);
    pr_quality_flush(q);
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.labeled, 2);
    ASSERT_EQ_INT(st.matched, 1);
    ASSERT_EQ_INT(st.unmatched, 1);
    pr_quality_window w = get_window(q, 60000, T0, "v", "");
    ASSERT_EQ_INT(w.n, 1);
    ASSERT_EQ_INT(w.clicks, 1);
    pr_quality_free(q);
}

/* Floods: pending predictions capped (evicted counted) and aged out
 * (expired counted), waiting impressions capped, windows kept for their
 * horizon only. */
TEST(bounded_under_flood) {
    pr_quality_opts o;
    pr_quality_opts_default(&o);
    o.window_ms = 1000;
    o.lateness_ms = 1000;
    o.hold_ms = 1000;
    o.pred_ttl_ms = 60000;
    o.max_pending = 1000;
    o.max_held = 10;
    pr_quality *q;
    ASSERT_OK(pr_quality_new(&o, &q, &err));
    uint64_t keys[100];
    double p[100];
    for (int i = 0; i < 100; i++) p[i] = 0.01 * (i + 1) - 0.005;
    for (int r = 0; r < 1000; r++) {
        for (int i = 0; i < 100; i++) keys[i] = (uint64_t)r * 1000 + (uint64_t)i + 1;
        pr_quality_pred pd = {T0 + r, "v", "", 100, keys, p};
        pr_quality_add_prediction(q, &pd);
    }
    pr_quality_stats st;
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.candidates, 100000);
    ASSERT_EQ_INT(st.pending, 1000);
    ASSERT_EQ_INT(st.evicted, 99000);
    keys[0] = 42;
    pr_quality_pred late = {T0 + 1000 + 60001, "v", "", 1, keys, p}; /* the rest expire */
    pr_quality_add_prediction(q, &late);
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.pending, 1);
    ASSERT_EQ_INT(st.expired, 1000);
    /* 100 impressions without predictions at one instant: 10 wait */
    for (int i = 0; i < 100; i++) event(q, "impression", i + 1, i + 1, T0 + 70000, "\"ad_id\":1");
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.held, 10);
    ASSERT_EQ_INT(st.held_overflow, 90);
    /* 200 minutes of one labeled impression each: 1m windows kept for 2 h */
    for (int m = 0; m < 200; m++) {
        char id[24];
        snprintf(id, sizeof id, "%d", 7000000 + m); /* no request_id: the impression id */
        keys[0] = pr_quality_key(pr_quality_request_hash(pr_bytes_of(id, strlen(id))),
                                 pr_bytes_of(NULL, 0));
        pr_quality_pred pd = {T0 + 100000 + m * 60000LL, "v", "", 1, keys, p};
        pr_quality_add_prediction(q, &pd);
        char b[256];
        snprintf(b, sizeof b,
                 "{\"type\":\"impression\",\"event_id\":%d,\"impression_id\":%d,\"ts\":%lld}",
                 10000 + m, 7000000 + m, T0 + 100000 + m * 60000LL);
        ASSERT_OK(pr_quality_add_event_json(q, b, strlen(b), &err));
    }
    pr_quality_flush(q);
    pr_quality_window *w;
    size_t n;
    ASSERT_OK(pr_quality_windows(q, 60000, &w, &n, &err));
    ASSERT_EQ_INT(n, PR_QUALITY_KEEP_1M);
    free(w);
    pr_quality_stats_get(q, &st);
    ASSERT_TRUE(st.windows_dropped >= 200 - PR_QUALITY_KEEP_1M);
    ASSERT_EQ_INT(st.matched, 200);
    pr_quality_free(q);
}

/* The sampler: whole traffic under the budget; above it, the level of a
 * second follows the previous one's count and rises within a burst; a
 * request it left out is left out when its impression comes (no wait),
 * and the figures are those of the sampled requests. */
TEST(sampler_levels) {
    pr_quality_sampler *smp;
    ASSERT_TRUE(pr_quality_sampler_new(0, &smp, &err) == PR_ERR_INVALID);
    ASSERT_OK(pr_quality_sampler_new(1000, &smp, &err));
    char id[32];
    /* second 0: 10 requests of 50 candidates = 500 <= 1000: all taken */
    for (int r = 0; r < 10; r++) {
        snprintf(id, sizeof id, "a%d", r);
        uint64_t h = pr_quality_request_hash(pr_bytes_of(id, strlen(id)));
        ASSERT_TRUE(pr_quality_sampler_take(smp, T0 + r, h, 50));
    }
    ASSERT_EQ_INT(pr_quality_sampler_level(smp), 0);
    /* second 1: a burst of 4000 requests x 50 = 200000 candidates: the
     * level climbs within the second (2^8 * 1000 >= 200000 at level 8);
     * nothing left out may be sampled by a later look */
    int taken = 0, left_out_ok = 1;
    for (int r = 0; r < 4000; r++) {
        snprintf(id, sizeof id, "b%d", r);
        uint64_t h = pr_quality_request_hash(pr_bytes_of(id, strlen(id)));
        int t = pr_quality_sampler_take(smp, T0 + 1000 + r / 8, h, 50);
        taken += t;
        if (!t && pr_quality_sampler_sampled(smp, T0 + 1000 + r / 8, h)) left_out_ok = 0;
    }
    ASSERT_TRUE(left_out_ok);
    ASSERT_EQ_INT(pr_quality_sampler_level(smp), 8);
    /* second 2: starts at level 8 from second 1's count; 4000 requests
     * again keep about 4000/256 = 16 (a hash is a coin: 4..40) */
    int taken2 = 0;
    for (int r = 0; r < 4000; r++) {
        snprintf(id, sizeof id, "c%d", r);
        uint64_t h = pr_quality_request_hash(pr_bytes_of(id, strlen(id)));
        taken2 += pr_quality_sampler_take(smp, T0 + 2000 + r / 8, h, 50);
    }
    ASSERT_TRUE(taken2 >= 4 && taken2 <= 40);
    ASSERT_TRUE(taken > taken2); /* the burst's first candidates were all kept */
    ASSERT_TRUE(taken * 50 <= 1000 * 8); /* bounded in the burst: about budget * (1 + level/2) */
    /* a second the ring never saw: judged alone (kept) */
    ASSERT_TRUE(pr_quality_sampler_sampled(smp, T0 + 999000, 12345));
    pr_quality_sampler_free(smp);
}

TEST(sampler_with_accumulator) {
    pr_quality *q = make(1000, 5000, 5000);
    pr_quality_sampler *smp;
    ASSERT_OK(pr_quality_sampler_new(20, &smp, &err));
    pr_quality_set_sampler(q, smp);
    /* 200 requests of one candidate in one second, budget 20: most are
     * left out; every request gets an impression, every 4th a click */
    int kept = 0, taken[200];
    for (int r = 0; r < 200; r++) {
        char id[32];
        snprintf(id, sizeof id, "r%d", r);
        uint64_t h = pr_quality_request_hash(pr_bytes_of(id, strlen(id)));
        if (!(taken[r] = pr_quality_sampler_take(smp, T0 + r, h, 1))) continue;
        kept++;
        char b[256];
        snprintf(b, sizeof b,
                 "{\"request_id\":\"%s\",\"ts\":%lld,\"model_version\":\"v\","
                 "\"predictions\":[{\"ad_id\":5,\"p\":0.25}]}",
                 id, T0 + r);
        pred_json(q, b);
    }
    ASSERT_TRUE(kept > 0 && kept < 200);
    /* the impressions come after the second: judged at its final level,
     * which the burst raised, so some kept predictions go unused (a lost
     * sample, never a wait); the figures are the final sample's */
    int fin = 0, fin_clicks = 0;
    for (int r = 0; r < 200; r++) {
        char id[32];
        snprintf(id, sizeof id, "r%d", r);
        uint64_t h = pr_quality_request_hash(pr_bytes_of(id, strlen(id)));
        if (!pr_quality_sampler_sampled(smp, T0 + r, h)) continue;
        ASSERT_TRUE(taken[r]);
        fin++;
        fin_clicks += r % 4 == 0;
    }
    ASSERT_TRUE(fin > 0);
    for (int r = 0; r < 200; r++) {
        char extra[96];
        snprintf(extra, sizeof extra, "\"request_id\":\"r%d\",\"ad_id\":5", r);
        event(q, "impression", 1000 + r, 1000 + r, T0 + r, extra);
        if (r % 4 == 0) event(q, "click", 5000 + r, 1000 + r, T0 + r + 100, NULL);
    }
    pr_quality_stats st;
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.held, 0); /* the left-out ones did not wait */
    pr_quality_flush(q);
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.labeled, 200);
    ASSERT_EQ_INT(st.matched, fin);
    ASSERT_EQ_INT(st.unsampled, 200 - fin);
    ASSERT_EQ_INT(st.unmatched, 0);
    pr_quality_window w = get_window(q, 60000, T0, "v", "");
    ASSERT_EQ_INT(w.n, fin);
    ASSERT_EQ_INT(w.clicks, fin_clicks);
    pr_quality_free(q);
    pr_quality_sampler_free(smp);
}

/* All series slots taken: a new version is not measured until one has
 * been idle for PR_QUALITY_SERIES_IDLE_MS of event time. */
TEST(series_slots_recycled) {
    pr_quality_opts o;
    pr_quality_opts_default(&o);
    o.max_series = 1;
    o.window_ms = 1000;
    o.lateness_ms = 0;
    o.hold_ms = 0;
    pr_quality *q;
    ASSERT_OK(pr_quality_new(&o, &q, &err));
    const char *ver[3] = {"v1", "v2", "v3"};
    int64_t at[3] = {T0, T0 + 1000, T0 + 1000 + PR_QUALITY_SERIES_IDLE_MS + 1};
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "r%d", i);
        uint64_t key = pr_quality_key(pr_quality_request_hash(pr_bytes_of(id, strlen(id))),
                                      pr_bytes_of("1", 1));
        double p = 0.5;
        pr_quality_pred pd = {at[i], ver[i], "", 1, &key, &p};
        pr_quality_add_prediction(q, &pd);
        char extra[64];
        snprintf(extra, sizeof extra, "\"request_id\":\"%s\",\"ad_id\":1", id);
        event(q, "impression", i + 1, i + 1, at[i] + 1, extra);
    }
    pr_quality_flush(q);
    pr_quality_stats st;
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.matched, 3);
    ASSERT_EQ_INT(st.series_overflow, 2); /* v2: v1 not idle yet; v1's impression,
                                             labeled after its slot went to v3 */
    pr_quality_window w = get_window(q, 60000, (at[2] + 1) / 60000 * 60000, "v3", "");
    ASSERT_EQ_INT(w.n, 1);
    pr_quality_window *all;
    size_t n;
    ASSERT_OK(pr_quality_windows(q, 60000, &all, &n, &err));
    ASSERT_EQ_INT(n, 1); /* v1's windows went with its slot */
    free(all);
    pr_quality_free(q);
}

TEST(bad_input) {
    pr_quality *q = make(1000, 0, 0);
    const char *bad[] = {"", "[", "{\"type\":", "{\"request_id\":\"r\"}",
                         "{\"request_id\":\"r\",\"ts\":1,\"predictions\":[{\"ad_id\":1,\"p\":2}]}",
                         "{\"request_id\":\"r\",\"ts\":1,\"predictions\":[{\"ad_id\":1}]}",
                         "{\"request_id\":\"r\",\"ts\":1,\"predictions\":{}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_STATUS(pr_quality_add_prediction_json(q, bad[i], strlen(bad[i]), &err),
                      PR_ERR_PARSE);
    ASSERT_STATUS(pr_quality_add_event_json(q, "nope", 4, &err), PR_ERR_PARSE);
    ASSERT_OK(pr_quality_add_record(q, 3, "x", 1, &err)); /* features: ignored */
    pr_quality_stats st;
    pr_quality_stats_get(q, &st);
    ASSERT_EQ_INT(st.malformed, 8);
    pr_quality_opts o;
    pr_quality_opts_default(&o);
    o.hold_ms = o.lateness_ms + 1;
    pr_quality *q2;
    ASSERT_STATUS(pr_quality_new(&o, &q2, &err), PR_ERR_INVALID);
    pr_quality_opts_default(&o);
    o.candidate_key = "ts";
    ASSERT_STATUS(pr_quality_new(&o, &q2, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_quality_windows(q, 1234, &(pr_quality_window *){NULL}, &(size_t){0}, &err),
                  PR_ERR_INVALID);
    pr_quality_free(q);
}

int main(void) {
    RUN(hand_computed_window);
    RUN(ties_and_undefined);
    RUN(sliding_windows_and_calibration_bound);
    RUN(attribution_window_rule);
    RUN(series_apart);
    RUN(impression_before_prediction);
    RUN(bounded_under_flood);
    RUN(series_slots_recycled);
    RUN(bad_input);
    RUN(sampler_levels);
    RUN(sampler_with_accumulator);
    TEST_MAIN_END();
}
