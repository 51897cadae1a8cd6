/*
 * fuzz_fs_row.c: the feature store reading corrupt entity rows from a
 * store. A fixed small spec (every aggregate function, attributes, a TTL, a
 * chained key) is opened over a fresh "mem:" pr_store; the input becomes
 * the row blob of user "u" (or, by a mode bit, of ad "a"), put directly
 * into the store, and then:
 *
 *   pr_fs_assemble (one candidate and a batch of 3) at several times,
 *   pr_fs_row_text of every column, pr_fs_describe_row, and
 *   pr_fs_apply_event (an impression and a click) on top of it, and the
 *   assembly again.
 *
 * Input layout: byte 0 = mode, bytes 1..32 = four times (little-endian
 * int64, for assembly and the events), the rest = blob material:
 *
 *   mode & 3 == 0: blob = real layout id, attrs_len fitted so the length
 *                  check passes, then the material (so the aggregate and
 *                  attribute decoders run on arbitrary state);
 *   mode & 3 == 1: the entity's reference row (written by
 *                  pr_fs_put_attributes + pr_fs_apply_event) with the
 *                  material XORed over it from an offset (mostly valid rows
 *                  with a few corrupt fields);
 *   mode & 3 == 2: blob = real layout id + the material as is;
 *   mode & 3 == 3: blob = the material as is (mostly stale rows);
 *   mode & 4:      the blob goes to the ad row instead of the user row;
 *   mode & 8:      also use the fixed extreme times (INT64_MIN/MAX, ...).
 *
 * Corrupt rows must never crash, hang, leak or read out of bounds; any
 * status is fine.
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
    "  - {name: ad, key: ad_id}\n"
    "  - {name: user, key: user_id, ttl: 1h}\n"
    "  - {name: advertiser, key: ad.advertiser_id}\n"
    "  - {name: user_ad, key: [user_id, ad_id], ttl: 1d}\n"
    "sources:\n"
    "  - {name: ads, kind: table, format: csv, path: ads.csv, entity: ad,\n"
    "     time: effective_ts, attributes: [advertiser_id, category]}\n"
    "  - {name: users, kind: table, format: csv, path: users.csv, entity: user,\n"
    "     time: effective_ts, attributes: [country, age]}\n"
    "  - {name: events, kind: events, format: jsonl, path: e.jsonl}\n"
    "aggregates:\n"
    "  - {name: u_count, entity: user, function: count, events: [impression],\n"
    "     window: 1h}\n"
    "  - {name: u_fine, entity: user, function: count, events: [impression, click],\n"
    "     window: 4ms, buckets: 4}\n"
    "  - {name: u_sum, entity: user, function: sum, events: [impression],\n"
    "     value: price, window: 10m, buckets: 10}\n"
    "  - {name: u_mean, entity: user, function: mean, events: [impression],\n"
    "     value: price, window: 1d, buckets: 24, default: \"-1\"}\n"
    "  - {name: u_ctr, entity: user, function: rate, events: [click],\n"
    "     per: [impression], window: 1h, buckets: 6, prior: 0.1, prior_weight: 5}\n"
    "  - {name: u_ctr_raw, entity: user, function: rate, events: [click],\n"
    "     per: [impression], window: 7d, buckets: 7}\n"
    "  - {name: u_dec, entity: user, function: decayed_count, events: [click],\n"
    "     half_life: 1h, default: \"0\"}\n"
    "  - {name: u_dec_sum, entity: user, function: decayed_sum,\n"
    "     events: [impression], value: price, half_life: 1ms}\n"
    "  - {name: u_last, entity: user, function: last_n, events: [click],\n"
    "     value: ad.category, n: 3, max_len: 6, default: none}\n"
    "  - {name: u_last_hours, entity: user, function: last_n,\n"
    "     events: [impression], value: hour_of_day, n: 2, max_len: 1}\n"
    "  - {name: a_count, entity: ad, function: count, events: [impression],\n"
    "     window: 1h}\n"
    "  - {name: a_last_users, entity: ad, function: last_n, events: [click],\n"
    "     value: user.country, n: 2}\n"
    "  - {name: adv_ctr, entity: advertiser, function: rate, events: [click],\n"
    "     per: [impression], window: 1h}\n"
    "  - {name: ua_count, entity: user_ad, function: count, events: [impression],\n"
    "     window: 1d, buckets: 24}\n"
    "fields:\n"
    "  - {name: user_id, type: categorical}\n"
    "  - {name: country, column: user.country, type: categorical}\n"
    "  - {name: u_count, type: numeric, transform: log_bucket}\n"
    "  - {name: u_mean, type: numeric, transform: bins, edges: [1, 10]}\n"
    "  - {name: u_last, type: categorical, separator: \"|\"}\n"
    "  - {name: u_dec, type: categorical}\n";

#define T0 1704067200000LL

static pr_spec *spec;
static uint8_t *ref_row[2];       /* reference rows: [0] user, [1] ad */
static size_t ref_len[2];

static void must(pr_status s) {
    if (s != PR_OK) abort();
}

static void put_line(pr_fs *fs, pr_arena *a, const char *line) {
    pr_err err;
    pr_fs_event ev;
    pr_arena_reset(a);
    if (pr_fs_event_parse(fs, line, strlen(line), a, &ev, &err) == PR_OK)
        (void)pr_fs_apply_event(fs, &ev, a, &err);
}

/* Reference rows: attributes and a little of every aggregate. */
static void seed_rows(pr_fs *fs, pr_arena *a) {
    pr_err err;
    pr_bytes ak = pr_bytes_of("a", 1), uk = pr_bytes_of("u", 1);
    pr_bytes aattrs[2] = {pr_bytes_of("adv", 3), pr_bytes_of("sports", 6)};
    pr_bytes uattrs[2] = {pr_bytes_of("US", 2), pr_bytes_of("25-34", 5)};
    must(pr_fs_put_attributes(fs, pr_fs_entity_index(fs, "ad"), &ak, aattrs, T0 - 1000, &err));
    must(pr_fs_put_attributes(fs, pr_fs_entity_index(fs, "user"), &uk, uattrs, T0 - 1000, &err));
    put_line(fs, a, "{\"type\":\"impression\",\"ts\":1704067200000,\"user_id\":\"u\",\"ad_id\":\"a\",\"price\":2}");
    put_line(fs, a, "{\"type\":\"click\",\"ts\":1704067201000,\"user_id\":\"u\",\"ad_id\":\"a\"}");
    put_line(fs, a, "{\"type\":\"impression\",\"ts\":1704067202000,\"user_id\":\"u\",\"ad_id\":\"a\",\"price\":3.5}");
}

static void init(void) {
    pr_err err;
    must(pr_spec_parse(spec_yaml, strlen(spec_yaml), "fuzz_fs_row.yaml", &spec, &err));
    pr_store *st = NULL;
    pr_fs *fs = NULL;
    must(pr_store_open("mem:", &st, &err));
    must(pr_fs_open(spec, st, &fs, &err));
    pr_arena a;
    pr_arena_init(&a, NULL, 0, 0);
    seed_rows(fs, &a);
    const char *ents[2] = {"user", "ad"};
    const char *keys[2] = {"u", "a"};
    for (int i = 0; i < 2; i++) {
        pr_bytes row;
        must(pr_store_get(st, pr_bytes_of(ents[i], strlen(ents[i])),
                          pr_bytes_of(keys[i], 1), 0, &row, &err));
        ref_row[i] = malloc(row.len);
        if (!ref_row[i]) abort();
        memcpy(ref_row[i], row.ptr, row.len);
        ref_len[i] = row.len;
    }
    pr_arena_free(&a);
    pr_fs_free(fs);
    pr_store_close(st);
}

static int64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return (int64_t)v;
}

/* The blob to store, by mode; malloc'd into *out. */
static size_t make_blob(int mode, int ent, uint32_t state_bytes,
                        const uint8_t *m, size_t n, uint8_t **out) {
    uint32_t layout;
    memcpy(&layout, ref_row[ent], 4);
    size_t len;
    uint8_t *b;
    switch (mode & 3) {
    case 0:
        len = state_bytes + (n > state_bytes - 8 ? n - (state_bytes - 8) : 0);
        b = calloc(len ? len : 1, 1);
        if (!b) abort();
        memcpy(b, &layout, 4);
        {
            uint32_t alen = (uint32_t)(len - state_bytes);
            memcpy(b + 4, &alen, 4);
        }
        memcpy(b + 8, m, n < len - 8 ? n : len - 8);
        break;
    case 1: {
        len = ref_len[ent];
        b = malloc(len);
        if (!b) abort();
        memcpy(b, ref_row[ent], len);
        size_t off = n ? m[0] * 4u % len : 0;
        for (size_t i = 1; i < n && off + i - 1 < len; i++) b[off + i - 1] ^= m[i];
        break;
    }
    case 2:
        len = 4 + n;
        b = malloc(len);
        if (!b) abort();
        memcpy(b, &layout, 4);
        if (n) memcpy(b + 4, m, n);
        break;
    default:
        len = n;
        b = malloc(len ? len : 1);
        if (!b) abort();
        if (n) memcpy(b, m, n);
        break;
    }
    *out = b;
    return len;
}

static void assemble_all(pr_fs *fs, int64_t t, pr_arena *a) {
    pr_err err;
    pr_bytes base[3] = {pr_bytes_of("u", 1), pr_bytes_of("a", 1), pr_bytes_of("4", 1)};
    pr_fs_row rows[3];
    pr_arena_reset(a);
    if (pr_fs_assemble(fs, t, base, NULL, 0, NULL, 1, a, rows, &err) == PR_OK)
        for (uint32_t c = 0; c < pr_fs_n_columns(fs); c++) (void)pr_fs_row_text(fs, rows, c, a);
    uint32_t ad_col = 1;
    pr_bytes cand[3] = {pr_bytes_of("a", 1), pr_bytes_of("b", 1), pr_bytes_of("a", 1)};
    if (pr_fs_assemble(fs, t, base, &ad_col, 1, cand, 3, a, rows, &err) == PR_OK)
        for (int r = 0; r < 3; r++)
            for (uint32_t c = 0; c < pr_fs_n_columns(fs); c++)
                (void)pr_fs_row_text(fs, &rows[r], c, a);
    const char *ents[2] = {"user", "ad"};
    const char *keys[2] = {"u", "a"};
    for (int i = 0; i < 2; i++) {
        char *json = NULL;
        pr_bytes k = pr_bytes_of(keys[i], 1);
        if (pr_fs_describe_row(fs, pr_fs_entity_index(fs, ents[i]), &k, t, &json, &err) == PR_OK)
            free(json);
    }
}

static void apply_at(pr_fs *fs, const char *type, int64_t ts, pr_arena *a) {
    char line[256];
    snprintf(line, sizeof line,
             "{\"type\":\"%s\",\"ts\":%lld,\"user_id\":\"u\",\"ad_id\":\"a\",\"price\":1.5}",
             type, (long long)ts);
    put_line(fs, a, line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!spec) init();
    if (size < 1 + 32) return 0;
    int mode = data[0];
    int64_t times[8];
    int nt = 0;
    for (int i = 0; i < 4; i++) times[nt++] = le64(data + 1 + 8 * i);
    if (mode & 8) {
        times[nt++] = INT64_MIN;
        times[nt++] = INT64_MAX;
        times[nt++] = T0 + 3600000;
        times[nt++] = -1;
    }
    const uint8_t *m = data + 33;
    size_t n = size - 33;

    pr_err err;
    pr_store *st = NULL;
    pr_fs *fs = NULL;
    must(pr_store_open("mem:", &st, &err));
    must(pr_fs_open(spec, st, &fs, &err));
    pr_arena a;
    pr_arena_init(&a, NULL, 0, 0);
    /* the reference rows, then one of them replaced by the input */
    must(pr_store_put(st, pr_bytes_of("user", 4), pr_bytes_of("u", 1),
                      pr_bytes_of((const char *)ref_row[0], ref_len[0]), 0, &err));
    must(pr_store_put(st, pr_bytes_of("ad", 2), pr_bytes_of("a", 1),
                      pr_bytes_of((const char *)ref_row[1], ref_len[1]), 0, &err));
    int ent = (mode & 4) ? 1 : 0;
    uint32_t e = pr_fs_entity_index(fs, ent ? "ad" : "user");
    uint8_t *blob = NULL;
    size_t len = make_blob(mode, ent, pr_fs_row_state_bytes(fs, e), m, n, &blob);
    (void)pr_store_put(st, pr_bytes_of(ent ? "ad" : "user", ent ? 2 : 4),
                       pr_bytes_of(ent ? "a" : "u", 1),
                       pr_bytes_of((const char *)blob, len), 0, &err);
    free(blob);

    for (int i = 0; i < nt; i++) assemble_all(fs, times[i], &a);
    apply_at(fs, "impression", times[0], &a);
    apply_at(fs, "click", times[1], &a);
    for (int i = 0; i < nt; i++) assemble_all(fs, times[i], &a);

    pr_arena_free(&a);
    pr_fs_free(fs);
    pr_store_close(st);
    return 0;
}
