/*
 * fuzz_join.c: the label joiner on arbitrary event streams. The input is
 * split into lines; the first byte picks the window and lateness. A line
 * starting with '{' goes through pr_event_parse_json; any other line is
 * decoded as raw fields (type, ids, a 64-bit ts) so extreme timestamps and
 * ids reach the joiner too. Checked: no crash or leak, labeled impressions
 * come out in (ts, id) order, and after flush every accepted impression
 * has been emitted exactly once with nothing left pending.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take(const uint8_t *p, size_t n, size_t at, size_t w) {
    uint64_t v = 0;
    for (size_t i = 0; i < w && at + i < n; i++) v |= (uint64_t)p[at + i] << (8 * i);
    return v;
}

static void drain(pr_joiner *j, int64_t *last_ts, uint64_t *last_id, int *any) {
    pr_labeled lab;
    while (pr_joiner_poll(j, &lab) == PR_OK) {
        if (*any && (lab.ts_ms < *last_ts || (lab.ts_ms == *last_ts && lab.impression_id <= *last_id)))
            abort();  /* out of (ts, id) order, or emitted twice */
        if (lab.label && (lab.click_delay_ms < 0)) abort();
        *any = 1;
        *last_ts = lab.ts_ms;
        *last_id = lab.impression_id;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    pr_joiner_opts o;
    pr_joiner_opts_default(&o);
    o.window_ms = (int64_t)(data[0] & 7) * 100;
    o.lateness_ms = (int64_t)((data[0] >> 3) & 3) * 50;
    o.dedup_horizon_ms = (int64_t)(data[0] >> 5) * 10;
    pr_err err;
    pr_joiner *j = NULL;
    if (pr_joiner_new(&o, &j, &err) != PR_OK) abort();
    int64_t last_ts = 0;
    uint64_t last_id = 0;
    int any = 0;
    size_t pos = 1;
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        const uint8_t *p = data + pos;
        size_t n = end - pos;
        pr_event ev;
        int ok = 1;
        if (n && p[0] == '{') {
            ok = pr_event_parse_json((const char *)p, n, &ev, &err) == PR_OK;
        } else {
            memset(&ev, 0, sizeof ev);
            ev.type = (pr_event_type)(n ? p[0] % 5 : 0);
            ev.event_id = take(p, n, 1, 1);
            ev.impression_id = take(p, n, 2, 1);
            ev.ts_ms = (int64_t)take(p, n, 3, n > 10 ? 8 : 2);
            uint8_t flags = (uint8_t)take(p, n, n > 10 ? 11 : 5, 1);
            ev.has_event_id = !(flags & 1);
            ev.has_impression_id = !(flags & 2);
            ev.has_ts = !(flags & 4);
            ev.payload = pr_bytes_of((const char *)p, n);
        }
        if (ok && pr_joiner_push(j, &ev, &err) != PR_OK) abort();
        drain(j, &last_ts, &last_id, &any);
        pos = end + 1;
    }
    pr_joiner_flush(j);
    drain(j, &last_ts, &last_id, &any);
    pr_joiner_stats st;
    pr_joiner_stats_get(j, &st);
    if (pr_joiner_pending(j) != 0 || st.labeled != st.impressions) abort();
    if (st.impressions + st.clicks + st.conversions + st.duplicates + st.too_late +
            st.unknown_type + st.missing_ids != st.events)
        abort();
    pr_joiner_free(j);
    return 0;
}
