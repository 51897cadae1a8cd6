/*
 * fuzz_fs_event.c: the feature store fed arbitrary event lines. A fixed
 * small spec (every aggregate function, a TTL, compound and chained keys)
 * is opened over its in-process table, or over a "mem:" store when the
 * first byte is odd (the read-modify-write path with copies). The rest of
 * the input is lines:
 *
 *   "T<ad>,<effective ms>,<advertiser>,<category>": a table row for the ad
 *       (pr_fs_put_attributes), so attribute-derived keys and last-N
 *       values change under the events;
 *   anything else: one event line, parsed with pr_fs_event_parse and
 *       applied with pr_fs_apply_event; after each impression with a ts,
 *       the request is assembled at that ts (the texts of every column
 *       rendered) and the user's row described as JSON.
 *
 * Must not crash, hang or leak on any input; statuses are free. The stats
 * must stay consistent (events applied never exceed lines parsed); a
 * parsed ts lies in 0..PR_FS_TS_MAX; pr_fs_event_check refuses a time
 * exactly when it is outside its clock window.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/fstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *spec_yaml =
    "version: 1\n"
    "hash_bits: 12\n"
    "request:\n"
    "  columns: [user_id, ad_id, price]\n"
    "  time: [hour_of_day, day_of_week]\n"
    "entities:\n"
    "  - {name: user, key: user_id}\n"
    "  - {name: ad, key: ad_id}\n"
    "  - {name: advertiser, key: ad.advertiser_id}\n"
    "  - {name: user_ad, key: [user_id, ad_id], ttl: 10s}\n"
    "sources:\n"
    "  - {name: ads, kind: table, format: csv, path: ads.csv, entity: ad,\n"
    "     time: effective_ts, attributes: [advertiser_id, category]}\n"
    "  - {name: events, kind: events, format: jsonl, path: e.jsonl}\n"
    "aggregates:\n"
    "  - {name: u_count, entity: user, function: count, events: [impression],\n"
    "     window: 1h}\n"
    "  - {name: u_fine, entity: user, function: count, events: [impression],\n"
    "     window: 3ms, buckets: 3}\n"
    "  - {name: u_sum, entity: user, function: sum, events: [impression],\n"
    "     value: price, window: 10s, buckets: 5}\n"
    "  - {name: u_mean, entity: user, function: mean, events: [impression],\n"
    "     value: price, window: 1m, buckets: 6, default: \"-1\"}\n"
    "  - {name: u_ctr, entity: user, function: rate, events: [click],\n"
    "     per: [impression], window: 1h, buckets: 6, prior: 0.1, prior_weight: 5}\n"
    "  - {name: u_dec, entity: user, function: decayed_count, events: [click],\n"
    "     half_life: 1s}\n"
    "  - {name: u_dec_sum, entity: user, function: decayed_sum,\n"
    "     events: [impression], value: price, half_life: 1ms}\n"
    "  - {name: u_last, entity: user, function: last_n, events: [click],\n"
    "     value: ad.category, n: 3, max_len: 4, default: none}\n"
    "  - {name: a_count, entity: ad, function: count, events: [impression, click],\n"
    "     window: 1m}\n"
    "  - {name: adv_ctr, entity: advertiser, function: rate, events: [click],\n"
    "     per: [impression], window: 1h}\n"
    "  - {name: ua_count, entity: user_ad, function: count, events: [impression],\n"
    "     window: 1d, buckets: 24}\n"
    "fields:\n"
    "  - {name: user_id, type: categorical}\n"
    "  - {name: category, column: ad.category, type: categorical}\n"
    "  - {name: u_count, type: numeric, transform: log_bucket}\n"
    "  - {name: u_last, type: categorical, separator: \"|\"}\n"
    "  - {name: u_sum, type: categorical}\n";

static pr_spec *spec;

static void table_row(pr_fs *fs, const char *p, size_t n) {
    /* T<ad>,<eff>,<adv>,<cat> */
    pr_bytes f[4] = {{NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}};
    size_t start = 1;
    int k = 0;
    for (size_t i = 1; i <= n && k < 4; i++)
        if (i == n || (p[i] == ',' && k < 3)) {
            f[k++] = pr_bytes_of(p + start, i - start);
            start = i + 1;
        }
    char eff[24];
    size_t el = f[1].len < sizeof eff - 1 ? f[1].len : sizeof eff - 1;
    if (el) memcpy(eff, f[1].ptr, el);
    eff[el] = '\0';
    int64_t t = strtoll(eff, NULL, 10);
    pr_err err;
    (void)pr_fs_put_attributes(fs, pr_fs_entity_index(fs, "ad"), &f[0], &f[2], t, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pr_err err;
    if (!spec && pr_spec_parse(spec_yaml, strlen(spec_yaml), "fuzz_fs_event.yaml", &spec,
                               &err) != PR_OK)
        abort();
    if (size < 1) return 0;
    pr_store *st = NULL;
    pr_fs *fs = NULL;
    if ((data[0] & 1) && pr_store_open("mem:", &st, &err) != PR_OK) abort();
    if (pr_fs_open(spec, st, &fs, &err) != PR_OK) abort();
    pr_arena a;
    pr_arena_init(&a, NULL, 0, 0);
    uint32_t user = pr_fs_entity_index(fs, "user");
    uint64_t parsed = 0;
    size_t pos = 1;
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        const char *p = (const char *)data + pos;
        size_t n = end - pos;
        pos = end + 1;
        pr_arena_reset(&a);
        if (n && p[0] == 'T') {
            table_row(fs, p, n);
            continue;
        }
        pr_fs_event ev;
        if (pr_fs_event_parse(fs, p, n, &a, &ev, &err) != PR_OK) continue;
        parsed++;
        /* Promised: a parsed ts is a time of the years 1970..9999. */
        if (ev.has_ts && (ev.ts_ms < 0 || ev.ts_ms > PR_FS_TS_MAX)) abort();
        /* The server's check against a clock (2024-01-01, 1 h ahead, 7 d
         * behind) passes exactly the times inside that window. */
        const int64_t now = 1704067200000LL, ahead = 3600000LL, behind = 7 * 86400000LL;
        pr_status cs = pr_fs_event_check(fs, &ev, now, ahead, behind, &err);
        int in_window = !ev.has_ts || (ev.ts_ms >= now - behind && ev.ts_ms <= now + ahead);
        if ((cs == PR_ERR_INVALID) == in_window) abort();
        if (cs != PR_OK && cs != PR_ERR_INVALID && cs != PR_ERR_LIMIT) abort();
        int imp = ev.type.len == 10 && !memcmp(ev.type.ptr, "impression", 10);
        if (imp && ev.has_ts) {
            pr_fs_row row;
            if (pr_fs_assemble(fs, ev.ts_ms, ev.cols, NULL, 0, NULL, 1, &a, &row, &err) == PR_OK)
                for (uint32_t c = 0; c < pr_fs_n_columns(fs); c++)
                    (void)pr_fs_row_text(fs, &row, c, &a);
        }
        (void)pr_fs_apply_event(fs, &ev, &a, &err);
        if (imp && ev.has_ts && ev.cols[0].len) {
            char *json = NULL;
            if (pr_fs_describe_row(fs, user, &ev.cols[0], ev.ts_ms, &json, &err) == PR_OK)
                free(json);
        }
    }
    pr_fs_stats stats;
    pr_fs_stats_get(fs, &stats);
    if (stats.events > parsed) abort();
    pr_arena_free(&a);
    pr_fs_free(fs);
    pr_store_close(st);
    return 0;
}
