/*
 * fuzz_quality.c: the live-quality accumulator on arbitrary inputs. The
 * input is split into lines; the first byte picks the attribution window,
 * lateness, hold and small caps (so evictions, overflows and idle series
 * happen). A line starting with 'P' is a prediction record's JSON, 'E' an
 * event's JSON; any other line is decoded as raw fields (a prediction of
 * a few candidates with extreme ts, keys and p, or an event) so the join
 * sees collisions and odd times. Checked: no crash or leak; after flush
 * nothing waits, labeled = matched + unmatched, every figure is in range
 * (AUC in [0, 1], its bound in [0, 1/2], log loss >= 0), and when no
 * window was dropped the 1 min windows hold exactly the matched
 * impressions of the series still measured.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/quality.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take(const uint8_t *p, size_t n, size_t at, size_t w) {
    uint64_t v = 0;
    for (size_t i = 0; i < w && at + i < n; i++) v |= (uint64_t)p[at + i] << (8 * i);
    return v;
}

static void check_windows(pr_quality *q, int64_t len, uint64_t *sum) {
    pr_quality_window *w;
    size_t n;
    pr_err err;
    if (pr_quality_windows(q, len, &w, &n, &err) != PR_OK) abort();
    *sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!w[i].closed || w[i].n == 0 || w[i].clicks > w[i].n) abort();
        if (!(w[i].logloss >= 0)) abort();
        if (!isnan(w[i].auc) && !(w[i].auc >= 0 && w[i].auc <= 1 && w[i].auc_err >= 0 &&
                                  w[i].auc_err <= 0.5))
            abort();
        if (w[i].start_ms % len && w[i].start_ms > 0) abort();
        *sum += w[i].n;
    }
    free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    pr_quality_opts o;
    pr_quality_opts_default(&o);
    o.window_ms = (int64_t)(data[0] & 3) * 30000;
    o.lateness_ms = (int64_t)((data[0] >> 2) & 3) * 1000;
    o.hold_ms = (data[0] & 0x10) ? o.lateness_ms : 0;
    o.pred_ttl_ms = (data[0] & 0x20) ? 500 : 60000;
    o.max_pending = (data[0] & 0x40) ? 4 : 64;
    o.max_held = 3;
    o.max_series = (data[0] & 0x80) ? 1 : 3;
    pr_err err;
    pr_quality *q = NULL;
    if (pr_quality_new(&o, &q, &err) != PR_OK) abort();
    size_t pos = 1;
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        const char *line = (const char *)data + pos;
        size_t len = end - pos;
        if (len && line[0] == 'P') {
            (void)pr_quality_add_prediction_json(q, line + 1, len - 1, &err);
        } else if (len && line[0] == 'E') {
            (void)pr_quality_add_event_json(q, line + 1, len - 1, &err);
        } else if (len) {
            const uint8_t *p = data + pos;
            int64_t ts = (int64_t)take(p, len, 1, 8);
            if (p[0] & 1) { /* a prediction: up to 4 candidates */
                uint64_t keys[4];
                double pv[4];
                uint32_t n = (uint32_t)(p[0] >> 1) % 5;
                for (uint32_t i = 0; i < n; i++) {
                    keys[i] = take(p, len, 9 + i, 1); /* few keys: collisions */
                    pv[i] = (double)take(p, len, 13 + i, 1) / 255.0;
                }
                const char *vers[3] = {"a", "b", "c"};
                pr_quality_pred pd = {ts, vers[(p[0] >> 4) % 3], (p[0] & 0x40) ? "x" : "", n,
                                      keys, pv};
                pr_quality_add_prediction(q, &pd);
            } else { /* an event with keys the raw predictions can hit */
                char b[256];
                static const char *types[4] = {"impression", "click", "conversion", "other"};
                int k = snprintf(b, sizeof b,
                                 "{\"type\":\"%s\",\"event_id\":%u,\"impression_id\":%u,"
                                 "\"ts\":%lld,\"ad_id\":%u}",
                                 types[(p[0] >> 1) & 3], (unsigned)take(p, len, 9, 1),
                                 (unsigned)take(p, len, 10, 1), (long long)(ts >> 8),
                                 (unsigned)take(p, len, 11, 1));
                (void)pr_quality_add_event_json(q, b, (size_t)k, &err);
            }
        }
        pos = end + 1;
    }
    pr_quality_sample s[8];
    (void)pr_quality_snapshot(q, s, 8);
    pr_quality_flush(q);
    pr_quality_stats st;
    pr_quality_stats_get(q, &st);
    if (st.held != 0 || st.labeled != st.matched + st.unmatched) abort();
    if (st.pending > o.max_pending) abort();
    uint64_t sum1m, sum1h;
    check_windows(q, 60000, &sum1m);
    check_windows(q, 3600000, &sum1h);
    if (!st.windows_dropped && (sum1m != st.matched - st.series_overflow || sum1h != sum1m))
        abort();
    size_t n = pr_quality_snapshot(q, s, 8);
    pr_quality_sample *all = n ? malloc(n * sizeof *all) : NULL;
    if (n && all && pr_quality_snapshot(q, all, n) != n) abort();
    free(all);
    pr_quality_free(q);
    return 0;
}
