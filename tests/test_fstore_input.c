/*
 * test_fstore_input.c: the feature store's values on hand-written streams,
 * each checked against a hand computation, and its handling of odd input.
 *
 *   - every aggregate function: count/sum/mean/rate in windows (bucket
 *     boundaries, the window sliding out, reads before the newest bucket),
 *     decayed counters against the closed form, last_n order, truncation
 *     to n items and to max_len bytes, reads as of an earlier time;
 *   - defaults when the entity is unknown; a TTL making a row absent;
 *   - compound keys (user_ad) and chained keys (advertiser via
 *     ad.advertiser_id); absent key columns counted in missing_keys;
 *   - one assembly of 100 candidates equals 100 single assemblies
 *     (in-process and mem: store);
 *   - rows written under another spec read as absent and are counted;
 *   - the dataset builder (CSV output) on the same stream gives the values
 *     as of each impression, before it is applied;
 *   - event parsing errors (ts outside 1970..9999, a non-string type),
 *     table errors with file:line:column, specs the plan cannot take;
 *   - compound keys that cannot collide, a late event that writes nothing,
 *     the server's checks (clock window, key length), a model's spec
 *     compared with the store's definition by definition.
 *
 * Hand computations are in the comments next to each assertion: bucket j of
 * an aggregate with granularity g holds the events with floor(ts/g) == j,
 * and the value as of t sums the buckets floor(t/g) - B < j <= floor(t/g)
 * that the ring still holds (docs/fstore.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/fstore.h"
#include "test.h"

/* Failures of the last tests are collected here and reported together by
 * test_collected_failures, so that one does not hide the other. */
static char collected[8192];
#define EXPECT(cond, ...)                                                   \
    do {                                                                    \
        if (!(cond)) {                                                      \
            size_t o_ = strlen(collected);                                  \
            int n_ = snprintf(collected + o_, sizeof collected - o_,        \
                              "\n  %s:%d: ", __FILE__, __LINE__);            \
            if (n_ > 0 && (size_t)n_ < sizeof collected - o_) o_ += (size_t)n_; \
            snprintf(collected + o_, sizeof collected - o_, __VA_ARGS__);   \
        }                                                                   \
    } while (0)

/* ---------------------------------------------------------------- spec */

static const char *spec_text =
    "version: 1\n"
    "hash_bits: 16\n"
    "request:\n"
    "  columns: [user_id, ad_id, price]\n"
    "  time: [hour_of_day]\n"
    "entities:\n"
    "  - {name: user, key: user_id}\n"
    "  - {name: ad, key: ad_id}\n"
    "  - {name: advertiser, key: ad.advertiser_id}\n"
    "  - {name: user_ad, key: [user_id, ad_id], ttl: 5s}\n"
    "sources:\n"
    "  - {name: ads, kind: table, format: csv, path: ads.csv, entity: ad,\n"
    "     time: effective_ts, attributes: [advertiser_id, category]}\n"
    "  - {name: events, kind: events, format: jsonl, path: events.jsonl}\n"
    "aggregates:\n"
    "  - {name: u_imps, entity: user, function: count, events: [impression],\n"
    "     window: 10s, buckets: 10}\n"
    "  - {name: u_price_sum, entity: user, function: sum, events: [impression],\n"
    "     value: price, window: 10s, buckets: 5}\n"
    "  - {name: u_price_mean, entity: user, function: mean, events: [impression],\n"
    "     value: price, window: 10s, buckets: 5, default: \"7.5\"}\n"
    "  - {name: u_ctr, entity: user, function: rate, events: [click],\n"
    "     per: [impression], window: 10s, buckets: 10, prior: 0.5,\n"
    "     prior_weight: 2}\n"
    "  - {name: u_ctr_raw, entity: user, function: rate, events: [click],\n"
    "     per: [impression], window: 10s, buckets: 10, default: \"-1\"}\n"
    "  - {name: u_clicks_dec, entity: user, function: decayed_count,\n"
    "     events: [click], half_life: 1s}\n"
    "  - {name: u_price_dec, entity: user, function: decayed_sum,\n"
    "     events: [impression], value: price, half_life: 2s}\n"
    "  - {name: u_last_cats, entity: user, function: last_n, events: [click],\n"
    "     value: ad.category, n: 3, max_len: 5, default: none}\n"
    "  - {name: a_imps, entity: ad, function: count, events: [impression],\n"
    "     window: 1m}\n"
    "  - {name: adv_imps, entity: advertiser, function: count,\n"
    "     events: [impression], window: 1m, buckets: 6}\n"
    "  - {name: ua_imps, entity: user_ad, function: count, events: [impression],\n"
    "     window: 1m, buckets: 6}\n"
    "  - {name: ua_price_mean, entity: user_ad, function: mean,\n"
    "     events: [impression], value: price, window: 1m, buckets: 6,\n"
    "     default: \"-1\"}\n"
    "fields:\n"
    "  - {name: user_id, type: categorical}\n"
    "  - {name: ad_id, type: categorical}\n"
    "  - {name: category, column: ad.category, type: categorical}\n"
    "  - {name: u_imps, type: numeric, transform: log_bucket}\n"
    "  - {name: u_ctr, type: numeric, transform: bins, edges: [0.1, 0.5]}\n"
    "  - {name: u_last_cats, type: categorical, separator: \"|\"}\n"
    "  - {name: ua_imps, type: numeric, transform: log_bucket}\n";

static pr_spec *spec_of(const char *yaml) {
    pr_spec *s = NULL;
    pr_err err;
    if (pr_spec_parse(yaml, strlen(yaml), "input.yaml", &s, &err) != PR_OK)
        TEST_FAIL("spec: %s", err.msg);
    return s;
}

/* ---------------------------------------------------------------- helpers */

/* One pr_fs with its spec, an arena and a row being looked at. */
typedef struct fx {
    pr_spec *spec;
    pr_store *store;
    pr_fs *fs;
    pr_arena a;
    char text[4096];
} fx;

static void fx_open(fx *f, const char *yaml, const char *store_uri) {
    memset(f, 0, sizeof *f);
    pr_err err;
    f->spec = spec_of(yaml);
    if (store_uri) ASSERT_OK(pr_store_open(store_uri, &f->store, &err));
    ASSERT_OK(pr_fs_open(f->spec, f->store, &f->fs, &err));
    pr_arena_init(&f->a, NULL, 0, 0);
}

static void fx_close(fx *f) {
    pr_fs_free(f->fs);
    pr_store_close(f->store);
    pr_spec_free(f->spec);
    pr_arena_free(&f->a);
}

static uint32_t col(const fx *f, const char *name) {
    for (uint32_t c = 0; c < pr_fs_n_columns(f->fs); c++)
        if (!strcmp(pr_fs_column_name(f->fs, c), name)) return c;
    TEST_FAIL("no column %s", name);
}

static void put_ad(fx *f, const char *ad, const char *adv, const char *cat,
                   int64_t eff) {
    pr_err err;
    uint32_t e = pr_fs_entity_index(f->fs, "ad");
    pr_bytes key = pr_bytes_of(ad, strlen(ad));
    pr_bytes attrs[2] = {pr_bytes_of(adv, strlen(adv)), pr_bytes_of(cat, strlen(cat))};
    ASSERT_OK(pr_fs_put_attributes(f->fs, e, &key, attrs, eff, &err));
}

static void apply_line(fx *f, const char *line) {
    pr_err err;
    pr_fs_event ev;
    pr_arena_reset(&f->a);
    ASSERT_OK(pr_fs_event_parse(f->fs, line, strlen(line), &f->a, &ev, &err));
    ASSERT_OK(pr_fs_apply_event(f->fs, &ev, &f->a, &err));
}

static void event(fx *f, const char *type, int64_t ts, const char *user,
                  const char *ad, const char *price) {
    char line[512];
    int n = snprintf(line, sizeof line, "{\"type\":\"%s\",\"ts\":%lld", type,
                     (long long)ts);
    if (user) n += snprintf(line + n, sizeof line - (size_t)n, ",\"user_id\":\"%s\"", user);
    if (ad) n += snprintf(line + n, sizeof line - (size_t)n, ",\"ad_id\":\"%s\"", ad);
    if (price) n += snprintf(line + n, sizeof line - (size_t)n, ",\"price\":%s", price);
    snprintf(line + n, sizeof line - (size_t)n, "}");
    apply_line(f, line);
}

/* Assembles one request (user, ad, price texts; NULL = absent) at t. */
static pr_fs_row assemble(fx *f, int64_t t, const char *user, const char *ad) {
    pr_err err;
    pr_bytes base[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    if (user) base[0] = pr_bytes_of(user, strlen(user));
    if (ad) base[1] = pr_bytes_of(ad, strlen(ad));
    pr_fs_row row;
    pr_arena_reset(&f->a);
    ASSERT_OK(pr_fs_assemble(f->fs, t, base, NULL, 0, NULL, 1, &f->a, &row, &err));
    return row;
}

/* Number of column name (NaN if missing). */
static double num(fx *f, const pr_fs_row *r, const char *name) {
    return r->rec.num[col(f, name)];
}

/* Text of column name, NUL-terminated in f->text ("" if missing). */
static const char *text(fx *f, const pr_fs_row *r, const char *name) {
    pr_bytes t = pr_fs_row_text(f->fs, r, col(f, name), &f->a);
    if (t.len >= sizeof f->text) TEST_FAIL("text too long");
    memcpy(f->text, t.ptr ? t.ptr : "", t.len);
    f->text[t.len] = '\0';
    return f->text;
}

/* value of a column of user u at t */
static double user_num(fx *f, int64_t t, const char *u, const char *name) {
    pr_fs_row r = assemble(f, t, u, "a1");
    return num(f, &r, name);
}

static void ads(fx *f) {
    put_ad(f, "a1", "9", "autos", 0);
    put_ad(f, "a2", "9", "books", 0);
    put_ad(f, "a3", "8", "cinema", 0);
    put_ad(f, "a4", "8", "dancing", 0);
}

/* User 1's stream: impressions on a1 with prices 1..7, clicks at 3 s and
 * 10.6 s. With g = 1 s (u_imps, u_ctr): impressions in buckets 0, 1, 1, 2,
 * 9, 10, 10, clicks in 3 and 10. With g = 2 s (sum, mean): buckets 0, 0,
 * 0, 1, 4, 5, 5. */
static const int64_t imp_ts[7] = {500, 1500, 1999, 2000, 9999, 10000, 10500};

static void user1_stream(fx *f) {
    for (int i = 0; i < 7; i++) {
        char p[8];
        snprintf(p, sizeof p, "%d", i + 1);
        event(f, "impression", imp_ts[i], "1", "a1", p);
        if (i == 3) event(f, "click", 3000, "1", "a1", NULL);
    }
    event(f, "click", 10600, "1", "a1", NULL);
}

/* ---------------------------------------------------------------- windows */

TEST(test_count_window) {
    fx f;
    fx_open(&f, spec_text, NULL);
    ads(&f);
    /* Before anything: an absent row counts 0. */
    ASSERT_EQ_INT(user_num(&f, 0, "1", "u_imps"), 0);
    /* As the stream goes: at each impression's time, before applying it. */
    int64_t want_before[7] = {0, 1, 2, 3, 4, 4, 5};
    /* 9999 (k=9): buckets 0..9 = 500,1500,1999,2000 -> 4; 10000 (k=10):
     * buckets 1..10 = 1500,1999,2000,9999 -> 4; 10500: + 10000 -> 5. */
    for (int i = 0; i < 7; i++) {
        ASSERT_EQ_INT(user_num(&f, imp_ts[i], "1", "u_imps"), want_before[i]);
        char p[8];
        snprintf(p, sizeof p, "%d", i + 1);
        event(&f, "impression", imp_ts[i], "1", "a1", p);
        ASSERT_EQ_INT(user_num(&f, imp_ts[i], "1", "u_imps"), want_before[i] + 1);
    }
    /* After all: the ring holds buckets 1..10. */
    ASSERT_EQ_INT(user_num(&f, 10500, "1", "u_imps"), 6);  /* 1..10 */
    ASSERT_EQ_INT(user_num(&f, 10999, "1", "u_imps"), 6);  /* last ms of 10 */
    ASSERT_EQ_INT(user_num(&f, 11000, "1", "u_imps"), 4);  /* 2..11: 1500,1999 out */
    ASSERT_EQ_INT(user_num(&f, 11999, "1", "u_imps"), 4);
    ASSERT_EQ_INT(user_num(&f, 12000, "1", "u_imps"), 3);  /* 3..12: 2000 out */
    ASSERT_EQ_INT(user_num(&f, 19999, "1", "u_imps"), 2);  /* 10..19 */
    ASSERT_EQ_INT(user_num(&f, 20000, "1", "u_imps"), 0);  /* all out */
    ASSERT_EQ_INT(user_num(&f, 1000000, "1", "u_imps"), 0);
    /* Before the newest bucket: what the ring still holds of the window
     * (bucket 0 was recycled for bucket 10, so 500 is gone). */
    ASSERT_EQ_INT(user_num(&f, 9999, "1", "u_imps"), 4);   /* 1..9 */
    ASSERT_EQ_INT(user_num(&f, 2000, "1", "u_imps"), 3);   /* 1..2 */
    ASSERT_EQ_INT(user_num(&f, 1999, "1", "u_imps"), 2);   /* 1 */
    /* Another user is unaffected. */
    ASSERT_EQ_INT(user_num(&f, 10500, "2", "u_imps"), 0);
    /* An impression older than the ring (bucket 0 <= head 10 - 10) is
     * dropped and counted. */
    pr_fs_stats st;
    pr_fs_stats_get(f.fs, &st);
    uint64_t late0 = st.late_updates;
    event(&f, "impression", 999, "1", "a1", "100");
    pr_fs_stats_get(f.fs, &st);
    /* u_imps, u_ctr, u_ctr_raw (g=1s: bucket 0 <= 10 - 10) and u_price_sum,
     * u_price_mean (g=2s: bucket 0 <= 5 - 5); a_imps and the others (g=5s,
     * 10s) still hold bucket 0. */
    ASSERT_EQ_INT(st.late_updates - late0, 5);
    ASSERT_EQ_INT(user_num(&f, 10500, "1", "u_imps"), 6);
    /* One inside the ring but out of order lands in its bucket. */
    event(&f, "impression", 5000, "1", "a1", "100");
    ASSERT_EQ_INT(user_num(&f, 10500, "1", "u_imps"), 7);
    ASSERT_EQ_INT(user_num(&f, 5999, "1", "u_imps"), 4); /* 1..5: 1500,1999,2000,5000 */
    fx_close(&f);
}

TEST(test_sum_mean_window) {
    fx f;
    fx_open(&f, spec_text, NULL);
    ads(&f);
    /* Absent row: sum 0, mean missing -> its default 7.5. */
    pr_fs_row r = assemble(&f, 0, "1", "a1");
    ASSERT_EQ_INT(num(&f, &r, "u_price_sum"), 0);
    ASSERT_NEAR(num(&f, &r, "u_price_mean"), 7.5, 0);
    ASSERT_EQ_STR(text(&f, &r, "u_price_mean"), "7.5");
    user1_stream(&f);
    /* g = 2 s, B = 5: the ring holds buckets 1..5 = prices 4,5,6,7. */
    ASSERT_NEAR(user_num(&f, 10500, "1", "u_price_sum"), 4 + 5 + 6 + 7, 0);
    ASSERT_NEAR(user_num(&f, 10500, "1", "u_price_mean"), 22.0 / 4, 1e-12);
    ASSERT_NEAR(user_num(&f, 11999, "1", "u_price_sum"), 22, 0);   /* k=5 */
    ASSERT_NEAR(user_num(&f, 12000, "1", "u_price_sum"), 18, 0);   /* 2..6 */
    ASSERT_NEAR(user_num(&f, 12000, "1", "u_price_mean"), 6, 1e-12);
    ASSERT_NEAR(user_num(&f, 18000, "1", "u_price_sum"), 13, 0);   /* 5..9 */
    ASSERT_NEAR(user_num(&f, 18000, "1", "u_price_mean"), 6.5, 1e-12);
    ASSERT_NEAR(user_num(&f, 20000, "1", "u_price_sum"), 0, 0);    /* 6..10 */
    r = assemble(&f, 20000, "1", "a1");
    ASSERT_NEAR(num(&f, &r, "u_price_mean"), 7.5, 0);              /* default */
    /* As of 9999 (k=4): buckets 1..4 = 4, 5. */
    ASSERT_NEAR(user_num(&f, 9999, "1", "u_price_sum"), 9, 0);
    /* An event whose value is not a number adds nothing to sum/mean but
     * still counts as an impression. */
    event(&f, "impression", 10600, "1", "a1", "\"cheap\"");
    ASSERT_NEAR(user_num(&f, 10600, "1", "u_price_sum"), 22, 0);
    ASSERT_NEAR(user_num(&f, 10600, "1", "u_price_mean"), 5.5, 1e-12);
    ASSERT_EQ_INT(user_num(&f, 10600, "1", "u_imps"), 7);
    /* Numbers given as strings count. */
    event(&f, "impression", 10700, "1", "a1", "\"2.5\"");
    ASSERT_NEAR(user_num(&f, 10700, "1", "u_price_sum"), 24.5, 1e-12);
    fx_close(&f);
}

/* A sum that overflows to infinity is still a value: assembled as inf and
 * shown by pr_fs_describe_row (not dropped from its JSON). */
TEST(test_sum_overflow_shown) {
    fx f;
    fx_open(&f, spec_text, NULL);
    ads(&f);
    event(&f, "impression", 1000, "1", "a1", "1e308");
    event(&f, "impression", 1001, "1", "a1", "1e308");
    ASSERT_TRUE(isinf(user_num(&f, 1001, "1", "u_price_sum")));
    pr_err err;
    char *json = NULL;
    pr_bytes key = pr_bytes_of("1", 1);
    ASSERT_OK(pr_fs_describe_row(f.fs, pr_fs_entity_index(f.fs, "user"), &key, 1001, &json,
                                 &err));
    ASSERT_CONTAINS(json, "\"u_imps\": 2");
    EXPECT(strstr(json, "\"u_price_sum\":") != NULL,
           "an infinite sum is missing from pr_fs_describe_row's JSON:\n%s", json);
    free(json);
    fx_close(&f);
}

TEST(test_collected_failures) {
    if (collected[0]) TEST_FAIL("%s", collected);
}

TEST(test_rate_window) {
    fx f;
    fx_open(&f, spec_text, NULL);
    ads(&f);
    pr_fs_row r = assemble(&f, 0, "1", "a1");
    ASSERT_NEAR(num(&f, &r, "u_ctr"), 0.5, 0);   /* the prior alone */
    ASSERT_NEAR(num(&f, &r, "u_ctr_raw"), -1, 0); /* missing: default */
    ASSERT_EQ_STR(text(&f, &r, "u_ctr_raw"), "-1");
    user1_stream(&f);
    /* k=10, buckets 1..10: 6 impressions, clicks in 3 and 10. */
    ASSERT_NEAR(user_num(&f, 10999, "1", "u_ctr"), (2 + 0.5 * 2) / (6 + 2.0), 1e-15);
    ASSERT_NEAR(user_num(&f, 10999, "1", "u_ctr_raw"), 2 / 6.0, 1e-15);
    /* k=12, buckets 3..12: 3 impressions (9999, 10000, 10500), 2 clicks. */
    ASSERT_NEAR(user_num(&f, 12000, "1", "u_ctr"), 3 / 5.0, 1e-15);
    ASSERT_NEAR(user_num(&f, 12000, "1", "u_ctr_raw"), 2 / 3.0, 1e-15);
    /* k=13: the click of bucket 3 is out. */
    ASSERT_NEAR(user_num(&f, 13000, "1", "u_ctr_raw"), 1 / 3.0, 1e-15);
    /* Everything out: prior again; raw missing. */
    ASSERT_NEAR(user_num(&f, 30000, "1", "u_ctr"), 0.5, 0);
    r = assemble(&f, 30000, "1", "a1");
    ASSERT_TRUE(num(&f, &r, "u_ctr_raw") == -1);
    /* As of 3000 (k=3): buckets 1..3 (500 recycled): 3 impressions, 1 click. */
    ASSERT_NEAR(user_num(&f, 3000, "1", "u_ctr_raw"), 1 / 3.0, 1e-15);
    fx_close(&f);
}

/* ---------------------------------------------------------------- decayed */

TEST(test_decayed) {
    fx f;
    fx_open(&f, spec_text, NULL);
    ads(&f);
    ASSERT_NEAR(user_num(&f, 0, "1", "u_clicks_dec"), 0, 0);
    ASSERT_NEAR(user_num(&f, 0, "1", "u_price_dec"), 0, 0);
    user1_stream(&f);
    /* clicks at 3000 and 10600, half-life 1 s */
    double at_last = 1 + exp2(-7.6);
    ASSERT_NEAR(user_num(&f, 10600, "1", "u_clicks_dec"), at_last, 1e-12);
    ASSERT_NEAR(user_num(&f, 11600, "1", "u_clicks_dec"), at_last / 2, 1e-12);
    ASSERT_NEAR(user_num(&f, 13600, "1", "u_clicks_dec"), at_last / 8, 1e-12);
    /* Before the latest event: its value at the latest event. */
    ASSERT_NEAR(user_num(&f, 5000, "1", "u_clicks_dec"), at_last, 1e-12);
    /* prices 1..7 at imp_ts, half-life 2 s, closed form */
    for (int64_t t = 10500; t <= 30500; t += 5000) {
        double want = 0;
        for (int i = 0; i < 7; i++) want += (i + 1) * exp2(-(double)(t - imp_ts[i]) / 2000);
        ASSERT_NEAR(user_num(&f, t, "1", "u_price_dec"), want, 1e-9 * want);
    }
    /* An event older than the latest one adds its decayed weight. */
    event(&f, "click", 9600, "1", "a1", NULL);   /* 1 s before 10600 */
    ASSERT_NEAR(user_num(&f, 10600, "1", "u_clicks_dec"), at_last + 0.5, 1e-12);
    /* Unknown user: 0. */
    ASSERT_NEAR(user_num(&f, 10600, "nobody", "u_clicks_dec"), 0, 0);
    fx_close(&f);
}

/* ---------------------------------------------------------------- last_n */

TEST(test_last_n) {
    fx f;
    fx_open(&f, spec_text, NULL);
    ads(&f);
    pr_fs_row r = assemble(&f, 0, "2", "a1");
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "none"); /* default */
    event(&f, "click", 1000, "2", "a1", NULL);  /* autos */
    r = assemble(&f, 1000, "2", "a1");
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "autos");
    event(&f, "click", 2000, "2", "a2", NULL);  /* books */
    event(&f, "click", 3000, "2", "a3", NULL);  /* cinema -> cinem */
    r = assemble(&f, 3000, "2", "a1");
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "cinem|books|autos");
    event(&f, "click", 4000, "2", "a4", NULL);  /* dancing -> danci */
    /* Newest first, n = 3 (autos pushed out), each cut to max_len 5. */
    r = assemble(&f, 4000, "2", "a1");
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "danci|cinem|books");
    r = assemble(&f, 999999, "2", "a1");
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "danci|cinem|books");
    /* As of earlier times: only items with ts <= t. */
    r = assemble(&f, 3500, "2", "a1");
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "cinem|books");
    r = assemble(&f, 2000, "2", "a1");
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "books");
    r = assemble(&f, 1999, "2", "a1");  /* autos is gone from the ring */
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "none");
    /* A click on an ad without a table row has no category: no item. */
    event(&f, "click", 5000, "2", "a9", NULL);
    r = assemble(&f, 5000, "2", "a1");
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "danci|cinem|books");
    /* The same category twice is kept twice. */
    event(&f, "click", 6000, "2", "a4", NULL);
    r = assemble(&f, 6000, "2", "a1");
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "danci|danci|cinem");
    /* The category as of the click: a4 becomes "elk" from 7 s. */
    put_ad(&f, "a4", "8", "elk", 7000);
    event(&f, "click", 7000, "2", "a4", NULL);
    r = assemble(&f, 7000, "2", "a1");
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "elk|danci|danci");
    /* No number for a list. */
    ASSERT_TRUE(isnan(num(&f, &r, "u_last_cats")));
    fx_close(&f);
}

/* ---------------------------------------------------------------- keys */

TEST(test_compound_and_chained_keys) {
    fx f;
    fx_open(&f, spec_text, NULL);
    ads(&f);
    user1_stream(&f);                                     /* 7 on a1 (adv 9) */
    event(&f, "impression", 11000, "3", "a2", "10");      /* adv 9 */
    event(&f, "impression", 11000, "3", "a3", "20");      /* adv 8 */
    /* (1, a1): the 8 s gap from 2000 to 9999 outlived the 5 s TTL, so the
     * row restarted at 9999: 9999, 10000, 10500 with prices 5, 6, 7. */
    pr_fs_row r = assemble(&f, 11000, "1", "a1");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 3);
    ASSERT_NEAR(num(&f, &r, "ua_price_mean"), 6, 1e-12);
    ASSERT_EQ_INT(num(&f, &r, "adv_imps"), 8);             /* 7 + a2's */
    ASSERT_EQ_INT(num(&f, &r, "a_imps"), 7);
    ASSERT_EQ_STR(text(&f, &r, "ad.category"), "autos");
    r = assemble(&f, 11000, "1", "a2");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 0);              /* (1, a2): none */
    ASSERT_NEAR(num(&f, &r, "ua_price_mean"), -1, 0);      /* default */
    ASSERT_EQ_INT(num(&f, &r, "adv_imps"), 8);             /* a2 -> adv 9 */
    ASSERT_EQ_INT(num(&f, &r, "u_imps"), 4);               /* user 1, buckets 2..11 */
    r = assemble(&f, 11000, "3", "a3");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 1);
    ASSERT_EQ_INT(num(&f, &r, "adv_imps"), 1);             /* adv 8 */
    ASSERT_EQ_STR(text(&f, &r, "ad.advertiser_id"), "8");
    /* The key parts are separate: ("1", "a1") is not ("1a", "1"). */
    r = assemble(&f, 11000, "1a", "1");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 0);
    /* A moved ad moves its future impressions to the new advertiser. */
    put_ad(&f, "a3", "9", "cinema", 12000);
    event(&f, "impression", 12000, "3", "a3", "20");
    r = assemble(&f, 12000, "3", "a3");
    ASSERT_EQ_INT(num(&f, &r, "adv_imps"), 9);             /* adv 9 now */
    r = assemble(&f, 12000, "3", "a4");
    ASSERT_EQ_INT(num(&f, &r, "adv_imps"), 1);             /* adv 8 keeps 1 */

    /* An ad without a table row: no advertiser key -> missing_keys. */
    pr_fs_stats st0, st1;
    pr_fs_stats_get(f.fs, &st0);
    r = assemble(&f, 12000, "3", "a9");
    pr_fs_stats_get(f.fs, &st1);
    ASSERT_EQ_INT(st1.missing_keys - st0.missing_keys, 1);
    ASSERT_EQ_INT(num(&f, &r, "adv_imps"), 0);
    ASSERT_EQ_INT(text(&f, &r, "ad.category")[0], '\0');
    fx_close(&f);
}

TEST(test_ttl) {
    fx f;
    fx_open(&f, spec_text, NULL);
    ads(&f);
    user1_stream(&f);   /* user_ad (1, a1) last updated at 10500, ttl 5 s */
    pr_err err;
    uint32_t ua = pr_fs_entity_index(f.fs, "user_ad");
    pr_bytes key[2] = {pr_bytes_of("1", 1), pr_bytes_of("a1", 2)};
    char *json = NULL;
    /* At 2000 the row held 4 impressions; the 8 s gap to 9999 expired it,
     * so 9999 started afresh: 3 impressions, prices 5, 6, 7. */
    pr_fs_row r = assemble(&f, 15499, "1", "a1");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 3);
    ASSERT_NEAR(num(&f, &r, "ua_price_mean"), 6, 1e-12);
    ASSERT_OK(pr_fs_describe_row(f.fs, ua, key, 15499, &json, &err));
    ASSERT_CONTAINS(json, "\"ua_imps\": 3");
    free(json);
    json = NULL;
    r = assemble(&f, 15500, "1", "a1");                   /* 5 s quiet */
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 0);
    ASSERT_NEAR(num(&f, &r, "ua_price_mean"), -1, 0);     /* absent: default */
    ASSERT_EQ_INT(num(&f, &r, "u_imps"), 3);              /* user has no TTL */
    ASSERT_STATUS(pr_fs_describe_row(f.fs, ua, key, 15500, &json, &err),
                  PR_ERR_NOTFOUND);
    ASSERT_CONTAINS(err.msg, "expired");
    ASSERT_TRUE(json == NULL);
    /* A new impression after expiry starts a fresh row. */
    event(&f, "impression", 20000, "1", "a1", "9");
    r = assemble(&f, 20000, "1", "a1");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 1);
    ASSERT_NEAR(num(&f, &r, "ua_price_mean"), 9, 0);
    /* A click does not update user_ad (no aggregate counts clicks), so it
     * does not keep the row alive. */
    event(&f, "click", 24000, "1", "a1", NULL);
    r = assemble(&f, 25000, "1", "a1");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 0);
    fx_close(&f);
}

TEST(test_missing_keys) {
    fx f;
    fx_open(&f, spec_text, NULL);
    ads(&f);
    pr_fs_stats a, b;
    /* No user_id: user and user_ad cannot be keyed (ad and advertiser can). */
    pr_fs_stats_get(f.fs, &a);
    event(&f, "impression", 1000, NULL, "a1", "1");
    pr_fs_stats_get(f.fs, &b);
    ASSERT_EQ_INT(b.missing_keys - a.missing_keys, 2);
    ASSERT_EQ_INT(b.events - a.events, 1);
    pr_fs_row r = assemble(&f, 1000, "1", "a1");
    ASSERT_EQ_INT(num(&f, &r, "a_imps"), 1);       /* the ad counted it */
    ASSERT_EQ_INT(num(&f, &r, "adv_imps"), 1);
    ASSERT_EQ_INT(num(&f, &r, "u_imps"), 0);
    /* An empty user_id is no key either. */
    a = b;
    apply_line(&f, "{\"type\":\"impression\",\"ts\":1000,\"user_id\":\"\",\"ad_id\":\"a1\"}");
    pr_fs_stats_get(f.fs, &b);
    ASSERT_EQ_INT(b.missing_keys - a.missing_keys, 2);
    /* null is absent too */
    a = b;
    apply_line(&f, "{\"type\":\"impression\",\"ts\":1000,\"user_id\":null,\"ad_id\":\"a1\"}");
    pr_fs_stats_get(f.fs, &b);
    ASSERT_EQ_INT(b.missing_keys - a.missing_keys, 2);
    /* No ad_id: ad, advertiser (its key is ad.advertiser_id) and user_ad. */
    a = b;
    event(&f, "impression", 1000, "1", NULL, "1");
    pr_fs_stats_get(f.fs, &b);
    ASSERT_EQ_INT(b.missing_keys - a.missing_keys, 3);
    r = assemble(&f, 1000, "1", "a1");
    ASSERT_EQ_INT(num(&f, &r, "u_imps"), 1);
    /* Assembling without the user: the user's attributes and aggregates
     * read as an absent row (defaults), counted once per entity. */
    a = b;
    r = assemble(&f, 1000, NULL, "a1");
    pr_fs_stats_get(f.fs, &b);
    ASSERT_EQ_INT(b.missing_keys - a.missing_keys, 2);     /* user, user_ad */
    ASSERT_EQ_INT(num(&f, &r, "u_imps"), 0);
    ASSERT_EQ_STR(text(&f, &r, "u_last_cats"), "none");
    ASSERT_EQ_INT(num(&f, &r, "a_imps"), 3); /* the three without a user */
    /* Events of a type no aggregate counts, and events without ts, change
     * nothing and are not applied. */
    a = b;
    event(&f, "conversion", 1000, "1", "a1", "1");
    apply_line(&f, "{\"type\":\"impression\",\"user_id\":\"1\",\"ad_id\":\"a1\"}");
    apply_line(&f, "{\"ts\":1000,\"user_id\":\"1\",\"ad_id\":\"a1\"}");
    apply_line(&f, "{\"type\":null,\"ts\":1000,\"user_id\":\"1\",\"ad_id\":\"a1\"}");
    pr_fs_stats_get(f.fs, &b);
    ASSERT_EQ_INT(b.events - a.events, 0);
    ASSERT_EQ_INT(b.missing_keys - a.missing_keys, 0);
    r = assemble(&f, 1000, "1", "a1");
    ASSERT_EQ_INT(num(&f, &r, "u_imps"), 1);
    ASSERT_EQ_INT(num(&f, &r, "a_imps"), 3); /* the three without a user */
    fx_close(&f);
}

/* ---------------------------------------------------------------- hardening */

/* Compound keys are unambiguous: a 0x1f (the separator) or 0x1e (its
 * escape) inside a posted id cannot write another entity's row; keys
 * without those bytes keep the bytes they always had. */
TEST(test_keys_do_not_collide) {
    fx f;
    fx_open(&f, spec_text, "mem:");
    ads(&f);
    /* ("1\x1f" "a1", "a2") and ("1", "a1\x1f" "a2") joined plainly were the
     * same key; so were ("1\x1e", ...) and ("1", "\x1e...") after a naive
     * escape. */
    apply_line(&f, "{\"type\":\"impression\",\"ts\":1000,\"user_id\":\"1\\u001fa1\",\"ad_id\":\"a2\"}");
    apply_line(&f, "{\"type\":\"impression\",\"ts\":1000,\"user_id\":\"1\\u001e\",\"ad_id\":\"\\u001fa1\"}");
    apply_line(&f, "{\"type\":\"impression\",\"ts\":1000,\"user_id\":\"1\",\"ad_id\":\"a1\"}");
    pr_fs_row r = assemble(&f, 1000, "1", "a1\x1f" "a2");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 0);
    r = assemble(&f, 1000, "1\x1f" "a1", "a2");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 1);
    r = assemble(&f, 1000, "1", "\x1e\x1f" "a1");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 0);
    r = assemble(&f, 1000, "1\x1e", "\x1f" "a1");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 1);
    r = assemble(&f, 1000, "1", "a1");
    ASSERT_EQ_INT(num(&f, &r, "ua_imps"), 1);
    /* The bytes in the store: a plain compound key is "1" 0x1f "a1" as
     * before, a single-part key its text; a separator inside a part is
     * escaped (0x1e before it). Store time is in seconds. */
    pr_err err;
    pr_bytes row;
    ASSERT_OK(pr_store_get(f.store, pr_bytes_of("user_ad", 7), pr_bytes_of("1\x1f" "a1", 4), 1,
                           &row, &err));
    ASSERT_OK(pr_store_get(f.store, pr_bytes_of("user", 4), pr_bytes_of("1\x1f" "a1", 4), 1,
                           &row, &err));
    ASSERT_OK(pr_store_get(f.store, pr_bytes_of("user_ad", 7),
                           pr_bytes_of("1\x1e\x1f" "a1\x1f" "a2", 8), 1, &row, &err));
    ASSERT_OK(pr_store_get(f.store, pr_bytes_of("user_ad", 7),
                           pr_bytes_of("1\x1e\x1e\x1f\x1e\x1f" "a1", 8), 1, &row, &err));
    fx_close(&f);
}

/* An event every aggregate of an entity drops as older than its window
 * leaves the entity's row as it was: not written, clock not moved. */
TEST(test_late_event_writes_nothing) {
    static const char *yaml =
        "version: 1\n"
        "hash_bits: 10\n"
        "request: {columns: [user_id]}\n"
        "entities: [{name: user, key: user_id}]\n"
        "sources: [{name: events, kind: events, format: jsonl, path: e.jsonl}]\n"
        "aggregates:\n"
        "  - {name: u_imps, entity: user, function: count, events: [impression],\n"
        "     window: 10s, buckets: 10}\n"
        "fields: [{name: u_imps, type: numeric, transform: identity}]\n";
    fx f;
    fx_open(&f, yaml, "mem:");
    pr_err err;
    apply_line(&f, "{\"type\":\"impression\",\"ts\":100000,\"user_id\":\"u\"}");
    pr_store_stats c0, c1;
    pr_fs_stats s0, s1;
    pr_store_stats_get(f.store, &c0);
    pr_fs_stats_get(f.fs, &s0);
    apply_line(&f, "{\"type\":\"impression\",\"ts\":1000,\"user_id\":\"u\"}"); /* 99 s late */
    pr_store_stats_get(f.store, &c1);
    pr_fs_stats_get(f.fs, &s1);
    ASSERT_EQ_INT(s1.late_updates - s0.late_updates, 1);
    ASSERT_EQ_INT(c1.puts - c0.puts, 0); /* nothing written */
    char *json = NULL;
    pr_bytes key = pr_bytes_of("u", 1);
    ASSERT_OK(pr_fs_describe_row(f.fs, 0, &key, 100000, &json, &err));
    ASSERT_CONTAINS(json, "\"updated_ms\": 100000");
    ASSERT_CONTAINS(json, "\"u_imps\": 1");
    free(json);
    /* One in the window is taken and written. */
    apply_line(&f, "{\"type\":\"impression\",\"ts\":95000,\"user_id\":\"u\"}");
    pr_store_stats_get(f.store, &c1);
    ASSERT_EQ_INT(c1.puts - c0.puts, 1);
    fx_close(&f);
}

/* What the server checks before applying: the clock window, and keys the
 * store can hold, each named. */
TEST(test_event_check) {
    fx f;
    fx_open(&f, spec_text, NULL);
    pr_err err;
    pr_fs_event ev;
    const int64_t now = 1704067200000LL, hour = 3600000LL; /* 2024-01-01 */
    char line[1024];
    const struct {
        int64_t ts;
        int ok;
        const char *msg;
    } cases[] = {
        {now, 1, NULL},
        {now + hour, 1, NULL},
        {now + hour + 1, 0, "key 'ts': 1704070800001 (2024-01-01T01:00:00Z) is 60.0 minutes ahead of "
                            "the server's clock (2024-01-01T00:00:00Z); events at most 1h ahead are taken"},
        {now - 7 * 24 * hour, 1, NULL},
        {now - 7 * 24 * hour - 1, 0, "is 7 days behind the server's clock"},
        {4102444800000LL, 0, "(2100-01-01T00:00:00Z) is 27759 days ahead"},
        {0, 0, "(1970-01-01T00:00:00Z) is 19723 days behind"},
        {PR_FS_TS_MAX, 0, "ahead"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(line, sizeof line, "{\"type\":\"impression\",\"ts\":%lld,\"user_id\":\"1\"}",
                 (long long)cases[i].ts);
        pr_arena_reset(&f.a);
        ASSERT_OK(pr_fs_event_parse(f.fs, line, strlen(line), &f.a, &ev, &err));
        pr_status s = pr_fs_event_check(f.fs, &ev, now, hour, 7 * 24 * hour, &err);
        if (cases[i].ok) {
            ASSERT_OK(s);
        } else {
            ASSERT_STATUS(s, PR_ERR_INVALID);
            ASSERT_CONTAINS(err.msg, cases[i].msg);
        }
    }
    /* Keys: user is 4 bytes of namespace + 4 of framing, so 503 bytes of
     * id fit and 504 do not; user_ad's two parts count with their escapes
     * and the separator. */
    char id[700];
    memset(id, 'x', sizeof id);
    for (int n = 503; n <= 504; n++) {
        snprintf(line, sizeof line, "{\"type\":\"impression\",\"ts\":%lld,\"user_id\":\"%.*s\"}",
                 (long long)now, n, id);
        pr_arena_reset(&f.a);
        ASSERT_OK(pr_fs_event_parse(f.fs, line, strlen(line), &f.a, &ev, &err));
        pr_status s = pr_fs_event_check(f.fs, &ev, now, hour, hour, &err);
        if (n == 503) {
            ASSERT_OK(s);
        } else {
            ASSERT_STATUS(s, PR_ERR_LIMIT);
            ASSERT_CONTAINS(err.msg, "key 'user_id': 504 bytes, more than the 503 a key of entity "
                                     "'user' may have");
        }
    }
    snprintf(line, sizeof line,
             "{\"type\":\"impression\",\"ts\":%lld,\"user_id\":\"1\",\"ad_id\":\"%.*s\\u001f\"}",
             (long long)now, 497, id); /* 1 + 1 + 497 + 2 (the escaped 0x1f) */
    pr_arena_reset(&f.a);
    ASSERT_OK(pr_fs_event_parse(f.fs, line, strlen(line), &f.a, &ev, &err));
    ASSERT_STATUS(pr_fs_event_check(f.fs, &ev, now, hour, hour, &err), PR_ERR_LIMIT);
    ASSERT_CONTAINS(err.msg, "key 'user_id', 'ad_id': 501 bytes, more than the 500 a key of "
                             "entity 'user_ad' may have");
    /* a type no aggregate counts updates nothing: nothing to check */
    snprintf(line, sizeof line, "{\"type\":\"view\",\"ts\":%lld,\"user_id\":\"%.*s\"}",
             (long long)now, 600, id);
    pr_arena_reset(&f.a);
    ASSERT_OK(pr_fs_event_parse(f.fs, line, strlen(line), &f.a, &ev, &err));
    ASSERT_OK(pr_fs_event_check(f.fs, &ev, now, hour, hour, &err));
    fx_close(&f);
}

/* A spec the same as spec_text but for one replacement. */
static pr_fs *plan_with(const char *from, const char *to, pr_spec **spec) {
    char yaml[8192];
    const char *at = strstr(spec_text, from);
    ASSERT_TRUE(at != NULL);
    snprintf(yaml, sizeof yaml, "%.*s%s%s", (int)(at - spec_text), spec_text, to,
             at + strlen(from));
    *spec = spec_of(yaml);
    pr_fs *fs = NULL;
    pr_err err;
    ASSERT_OK(pr_fs_open(*spec, NULL, &fs, &err));
    return fs;
}

/* A model's columns must mean what the store's do: the first difference
 * of definition is named, whatever the names. */
TEST(test_model_spec_compared) {
    pr_spec *store_spec = spec_of(spec_text);
    pr_fs *store = NULL;
    pr_err err;
    ASSERT_OK(pr_fs_open(store_spec, NULL, &store, &err));
    ASSERT_OK(pr_fs_check_model_spec(store, store_spec, &err));
    static const struct {
        const char *from, *to, *msg; /* msg NULL: the same meaning */
    } cases[] = {
        {"window: 10s, buckets: 10}\n  - {name: u_price_sum", "window: 20s, buckets: 10}\n  - {name: u_price_sum",
         "column u_imps: window 20s in the model's spec, 10s in the store's"},
        {"window: 10s, buckets: 10}\n  - {name: u_price_sum", "window: 10s, buckets: 5}\n  - {name: u_price_sum",
         "column u_imps: buckets 5 in the model's spec, 10 in the store's"},
        {"prior: 0.5", "prior: 0.25", "column u_ctr: prior 0.25 in the model's spec, 0.5 in the store's"},
        {"prior_weight: 2", "prior_weight: 3", "column u_ctr: prior_weight 3 in the model's spec"},
        {"events: [click],\n     per: [impression], window: 10s, buckets: 10, prior",
         "events: [click, view],\n     per: [impression], window: 10s, buckets: 10, prior",
         "column u_ctr: events [click, view] in the model's spec, [click] in the store's"},
        {"function: last_n, events: [click],\n     value: ad.category, n: 3",
         "function: last_n, events: [click],\n     value: ad.category, n: 4",
         "column u_last_cats: n 4 in the model's spec, 3 in the store's"},
        {"value: ad.category, n: 3, max_len: 5", "value: ad.advertiser_id, n: 3, max_len: 5",
         "column u_last_cats: value ad.advertiser_id in the model's spec, ad.category in the store's"},
        {"- {name: user_ad, key: [user_id, ad_id], ttl: 5s}",
         "- {name: user_ad, key: [user_id, ad_id], ttl: 6s}",
         "column ua_imps: entity 'user_ad' ttl 6s in the model's spec, 5s in the store's"},
        {"- {name: user_ad, key: [user_id, ad_id], ttl: 5s}",
         "- {name: user_ad, key: [ad_id, user_id], ttl: 5s}",
         "column ua_imps: entity 'user_ad' keyed by [ad_id, user_id] in the model's spec, "
         "'user_ad' keyed by [user_id, ad_id] in the store's"},
        {"- {name: ad, key: ad_id}", "- {name: ad, key: price}",
         "column ad.category: entity 'ad' keyed by [price]"},
        {"function: count, events: [impression],\n     window: 10s",
         "function: sum, value: price, events: [impression],\n     window: 10s",
         "column u_imps: function sum in the model's spec, count in the store's"},
        /* not read by any field: no matter */
        {"{name: u_clicks_dec, entity: user, function: decayed_count,\n     events: [click], half_life: 1s}",
         "{name: u_clicks_dec, entity: user, function: decayed_count,\n     events: [click], half_life: 9s}",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pr_spec *ms = NULL;
        pr_fs *m = plan_with(cases[i].from, cases[i].to, &ms);
        pr_status s = pr_fs_check_model_spec(store, ms, &err);
        if (!cases[i].msg) {
            if (s != PR_OK) TEST_FAIL("case %zu: %s", i, err.msg);
        } else {
            if (s != PR_ERR_SPEC) TEST_FAIL("case %zu: accepted, want '%s'", i, cases[i].msg);
            ASSERT_CONTAINS(err.msg, cases[i].msg);
        }
        pr_fs_free(m);
        pr_spec_free(ms);
    }
    /* A model spec without store sections read a file's columns: only the
     * request columns can be the same thing. */
    pr_spec *flat = spec_of("version: 1\nhash_bits: 10\nfields:\n"
                            "  - {name: user_id, type: categorical}\n"
                            "  - {name: u_imps, type: numeric, transform: identity}\n");
    ASSERT_STATUS(pr_fs_check_model_spec(store, flat, &err), PR_ERR_SPEC);
    ASSERT_CONTAINS(err.msg, "column u_imps: a column of the training input in the model's "
                             "spec, an aggregate in the store's");
    pr_spec_free(flat);
    pr_fs_free(store);
    pr_spec_free(store_spec);
}

/* ---------------------------------------------------------------- batch */

static void batch_equals_singles(const char *uri) {
    fx f;
    fx_open(&f, spec_text, uri);
    /* 150 ads over 7 advertisers, 3 categories; some without a table row;
     * users 0..9 see them over 20 s. */
    for (int i = 0; i < 150; i++) {
        if (i % 11 == 5) continue;
        char ad[16], adv[16];
        snprintf(ad, sizeof ad, "a%d", i);
        snprintf(adv, sizeof adv, "%d", i % 7);
        put_ad(&f, ad, adv, i % 3 ? "autos" : "books", 0);
    }
    for (int k = 0; k < 600; k++) {
        char u[16], ad[16], p[16];
        snprintf(u, sizeof u, "%d", k % 10);
        snprintf(ad, sizeof ad, "a%d", (k * 37) % 120);
        snprintf(p, sizeof p, "%d", k % 13);
        event(&f, (k % 9 == 0) ? "click" : "impression", 1000 + k * 33, u, ad, p);
    }
    pr_err err;
    uint32_t nc = pr_fs_n_columns(f.fs);
    uint32_t ad_col = col(&f, "ad_id");
    pr_bytes base[3] = {pr_bytes_of("3", 1), {NULL, 0}, pr_bytes_of("5", 1)};
    char names[100][16];
    pr_bytes cand[100];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof names[i], "a%d", i * 3 % 140);
        cand[i] = pr_bytes_of(names[i], strlen(names[i]));
    }
    for (int64_t t = 15000; t <= 40000; t += 25000) {
        pr_arena ab;
        pr_arena_init(&ab, NULL, 0, 0);
        pr_fs_row rows[100];
        ASSERT_OK(pr_fs_assemble(f.fs, t, base, &ad_col, 1, cand, 100, &ab, rows, &err));
        int nonzero = 0;
        for (int i = 0; i < 100; i++) {
            pr_bytes one[3] = {base[0], cand[i], base[2]};
            pr_fs_row s;
            pr_arena_reset(&f.a);
            ASSERT_OK(pr_fs_assemble(f.fs, t, one, NULL, 0, NULL, 1, &f.a, &s, &err));
            ASSERT_EQ_INT(rows[i].rec.n_cols, nc);
            for (uint32_t c = 0; c < nc; c++) {
                pr_bytes x = pr_fs_row_text(f.fs, &rows[i], c, &ab);
                pr_bytes y = pr_fs_row_text(f.fs, &s, c, &f.a);
                if (x.len != y.len || (x.len && memcmp(x.ptr, y.ptr, x.len)))
                    TEST_FAIL("%s t=%lld candidate %d column %s: batch '%.*s' single '%.*s'",
                              uri ? uri : "in-process", (long long)t, i,
                              pr_fs_column_name(f.fs, c), (int)x.len, x.ptr ? x.ptr : "",
                              (int)y.len, y.ptr ? y.ptr : "");
                double xn = rows[i].rec.num[c], yn = s.rec.num[c];
                if (!(xn == yn || (isnan(xn) && isnan(yn))))
                    TEST_FAIL("candidate %d column %s: %g vs %g", i,
                              pr_fs_column_name(f.fs, c), xn, yn);
            }
            if (num(&f, &s, "ua_imps") > 0) nonzero++;
        }
        /* the comparison saw real values, not only absent rows */
        if (t == 15000) ASSERT_TRUE(nonzero > 5);
        pr_arena_free(&ab);
    }
    /* 0 candidates and a bad candidate column are refused. */
    pr_fs_row row;
    ASSERT_STATUS(pr_fs_assemble(f.fs, 1, base, &ad_col, 1, cand, 0, &f.a, &row, &err),
                  PR_ERR_INVALID);
    uint32_t bad_col = 7;
    ASSERT_STATUS(pr_fs_assemble(f.fs, 1, base, &bad_col, 1, cand, 1, &f.a, &row, &err),
                  PR_ERR_INVALID);
    fx_close(&f);
}

TEST(test_batch_equals_singles) {
    batch_equals_singles(NULL);
    batch_equals_singles("mem:");
}

/* ---------------------------------------------------------------- stale */

TEST(test_stale_rows) {
    /* Spec B: u_imps with another window. The user row's layout differs;
     * the ad's (a_imps unchanged, same attributes) does not. */
    char *b_text = strdup(spec_text);
    char *w = strstr(b_text, "window: 10s, buckets: 10}");
    ASSERT_TRUE(w != NULL);
    memcpy(w, "window: 20s", 11);
    pr_err err;
    pr_store *store = NULL;
    ASSERT_OK(pr_store_open("mem:", &store, &err));
    pr_spec *sa = spec_of(spec_text), *sb = spec_of(b_text);
    pr_fs *fa = NULL, *fb = NULL;
    ASSERT_OK(pr_fs_open(sa, store, &fa, &err));
    ASSERT_OK(pr_fs_open(sb, store, &fb, &err));
    fx f = {.spec = sa, .fs = fa};
    pr_arena_init(&f.a, NULL, 0, 0);
    ads(&f);
    user1_stream(&f);
    pr_fs_row r = assemble(&f, 10500, "1", "a1");
    ASSERT_EQ_INT(num(&f, &r, "u_imps"), 6);

    fx g = {.spec = sb, .fs = fb};
    pr_arena_init(&g.a, NULL, 0, 0);
    pr_fs_stats st;
    pr_fs_stats_get(fb, &st);
    ASSERT_EQ_INT(st.stale_rows, 0);
    r = assemble(&g, 10500, "1", "a1");
    pr_fs_stats_get(fb, &st);
    ASSERT_EQ_INT(st.stale_rows, 1);                   /* the user row */
    ASSERT_EQ_INT(num(&g, &r, "u_imps"), 0);           /* read as absent */
    ASSERT_NEAR(num(&g, &r, "u_price_mean"), 7.5, 0);  /* default */
    ASSERT_EQ_STR(text(&g, &r, "u_last_cats"), "none");
    ASSERT_EQ_INT(num(&g, &r, "a_imps"), 7);           /* the ad row is fine */
    ASSERT_EQ_STR(text(&g, &r, "ad.category"), "autos");
    char *json = NULL;
    uint32_t ue = pr_fs_entity_index(fb, "user");
    pr_bytes key = pr_bytes_of("1", 1);
    ASSERT_STATUS(pr_fs_describe_row(fb, ue, &key, 10500, &json, &err), PR_ERR_NOTFOUND);
    ASSERT_CONTAINS(err.msg, "another spec");
    /* An update under B starts the row afresh (B's layout); A then sees it
     * as stale. */
    event(&g, "impression", 11000, "1", "a1", "1");
    r = assemble(&g, 11000, "1", "a1");
    ASSERT_EQ_INT(num(&g, &r, "u_imps"), 1);
    pr_fs_stats_get(fa, &st);
    uint64_t before = st.stale_rows;
    r = assemble(&f, 11000, "1", "a1");
    pr_fs_stats_get(fa, &st);
    ASSERT_TRUE(st.stale_rows > before);
    ASSERT_EQ_INT(num(&f, &r, "u_imps"), 0);

    /* Corrupt blobs under the right layout id. A short one is stale. */
    pr_bytes row;
    ASSERT_OK(pr_store_get(store, pr_bytes_of("user", 4), pr_bytes_of("1", 1), 0, &row, &err));
    char *copy = malloc(row.len);
    memcpy(copy, row.ptr, row.len);
    ASSERT_OK(pr_store_put(store, pr_bytes_of("user", 4), pr_bytes_of("9", 1),
                           pr_bytes_of(copy, row.len - 1), 0, &err));
    pr_fs_stats_get(fb, &st);
    before = st.stale_rows;
    r = assemble(&g, 11000, "9", "a1");
    pr_fs_stats_get(fb, &st);
    ASSERT_EQ_INT(st.stale_rows - before, 1);
    ASSERT_EQ_INT(num(&g, &r, "u_imps"), 0);
    free(copy);
    /* The ad row (layout shared by A and B): an attribute section length
     * that does not match the blob is stale; an attribute whose u16 length
     * runs past the end reads as missing (the next one too), nothing more. */
    ASSERT_OK(pr_store_get(store, pr_bytes_of("ad", 2), pr_bytes_of("a1", 2), 0, &row, &err));
    copy = malloc(row.len);
    memcpy(copy, row.ptr, row.len);
    uint32_t alen;
    memcpy(&alen, copy + 4, 4);
    ASSERT_EQ_INT(alen, 2 + 1 + 2 + 5);        /* "9", "autos" */
    alen++;
    memcpy(copy + 4, &alen, 4);
    ASSERT_OK(pr_store_put(store, pr_bytes_of("ad", 2), pr_bytes_of("a7", 2),
                           pr_bytes_of(copy, row.len), 0, &err));
    r = assemble(&g, 11000, "1", "a7");
    ASSERT_EQ_STR(text(&g, &r, "ad.category"), "");
    ASSERT_EQ_INT(num(&g, &r, "a_imps"), 0);
    alen--;
    memcpy(copy + 4, &alen, 4);
    uint16_t huge = 0xffff;
    memcpy(copy + row.len - alen, &huge, 2);   /* advertiser_id's length */
    ASSERT_OK(pr_store_put(store, pr_bytes_of("ad", 2), pr_bytes_of("a8", 2),
                           pr_bytes_of(copy, row.len), 0, &err));
    r = assemble(&g, 11000, "1", "a8");
    ASSERT_EQ_INT(num(&g, &r, "a_imps"), 8);   /* the state is fine (7 + B's) */
    ASSERT_EQ_STR(text(&g, &r, "ad.advertiser_id"), "");
    ASSERT_EQ_STR(text(&g, &r, "ad.category"), "");
    ASSERT_EQ_INT(num(&g, &r, "adv_imps"), 0); /* no advertiser key */
    json = NULL;
    pr_bytes k8 = pr_bytes_of("a8", 2);
    ASSERT_OK(pr_fs_describe_row(fb, pr_fs_entity_index(fb, "ad"), &k8, 11000, &json, &err));
    ASSERT_CONTAINS(json, "\"a_imps\": 8");
    free(json);
    free(copy);
    pr_arena_free(&f.a);
    pr_arena_free(&g.a);
    pr_fs_free(fa);
    pr_fs_free(fb);
    pr_spec_free(sa);
    pr_spec_free(sb);
    pr_store_close(store);
    free(b_text);
}

/* ---------------------------------------------------------------- builder */

/* The field of `column` in the CSV line of impression id, copied to buf. */
static const char *csv_field(const char *csv, int id, const char *column,
                             char *buf, size_t cap) {
    /* which field is column */
    const char *hdr_end = strchr(csv, '\n');
    int k = 0, found = -1;
    for (const char *p = csv; p < hdr_end; k++) {
        const char *e = p;
        while (e < hdr_end && *e != ',') e++;
        if ((size_t)(e - p) == strlen(column) && !memcmp(p, column, (size_t)(e - p))) found = k;
        p = e + 1;
    }
    if (found < 0) TEST_FAIL("no column %s", column);
    char want[32];
    snprintf(want, sizeof want, "\n%d,", id);
    const char *p = strstr(csv, want);
    if (!p) TEST_FAIL("impression %d not in the CSV", id);
    p++;
    for (int i = 0; i < found; i++) p = strchr(p, ',') + 1;
    size_t n = strcspn(p, ",\n");
    if (n >= cap) TEST_FAIL("field too long");
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

TEST(test_builder_values) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/build", test_tmpdir());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    ASSERT_EQ_INT(system(cmd), 0);
    char path[700];
    snprintf(path, sizeof path, "%s/ads.csv", dir);
    /* a1 is autos, then books from 2.5 s; a later row listed first, and an
     * older duplicate listed last (the latest effective time wins). */
    test_write_file(path,
                    "ad_id,effective_ts,advertiser_id,category\n"
                    "a1,2500,9,books\n"
                    "a1,0,9,autos\n"
                    "a2,0,9,\"dr,ama\"\n"
                    "a1,100,9,cinema\n");
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    FILE *fp = fopen(path, "w");
    ASSERT_TRUE(fp != NULL);
    /* user 1's stream with ids: impression i has id i+1 */
    int eid = 1;
    for (int i = 0; i < 7; i++) {
        fprintf(fp,
                "{\"type\":\"impression\",\"event_id\":%d,\"impression_id\":%d,"
                "\"ts\":%lld,\"user_id\":\"1\",\"ad_id\":\"a1\",\"price\":%d}\n",
                eid, i + 1, (long long)imp_ts[i], i + 1);
        eid++;
        if (i == 3)
            fprintf(fp, "{\"type\":\"click\",\"event_id\":%d,\"impression_id\":2,"
                        "\"ts\":3000,\"user_id\":\"1\",\"ad_id\":\"a1\"}\n", eid++);
    }
    fprintf(fp, "{\"type\":\"impression\",\"event_id\":%d,\"impression_id\":8,"
                "\"ts\":10550,\"user_id\":\"1\",\"ad_id\":\"a2\",\"price\":1}\n", eid++);
    fprintf(fp, "{\"type\":\"click\",\"event_id\":%d,\"impression_id\":7,"
                "\"ts\":10600,\"user_id\":\"1\",\"ad_id\":\"a1\"}\n", eid++);
    fclose(fp);

    pr_spec *spec = spec_of(spec_text);
    char early[700], late[700];
    snprintf(early, sizeof early, "%s/early.csv", dir);
    snprintf(late, sizeof late, "%s/late.csv", dir);
    pr_fs_build_output outs[2] = {{.csv_path = early, .from_ms = INT64_MIN, .to_ms = 9999},
                                  {.csv_path = late, .from_ms = 9999}};
    pr_fs_build_opts o = {.data_dir = dir, .outputs = outs, .n_outputs = 2};
    pr_fs_build_stats st;
    pr_err err;
    ASSERT_OK(pr_fs_build(spec, &o, &st, &err));
    ASSERT_EQ_INT(st.labeled[0], 4);     /* ts < 9999 */
    ASSERT_EQ_INT(st.labeled[1], 4);
    ASSERT_EQ_INT(st.positives[0] + st.positives[1], 2);
    ASSERT_EQ_INT(st.table_rows, 4);
    char *a = test_read_file(early, NULL), *b = test_read_file(late, NULL);
    char v[256];
    ASSERT_TRUE(!strncmp(a, "impression_id,ts_ms,label,user_id,ad_id,price,hour_of_day,"
                            "ad.advertiser_id,ad.category,u_imps,", 70));
    /* impression 2 (1500): sees only impression 1; clicked at 3000 */
    ASSERT_EQ_STR(csv_field(a, 2, "label", v, sizeof v), "1");
    ASSERT_EQ_STR(csv_field(a, 2, "u_imps", v, sizeof v), "1");
    ASSERT_EQ_STR(csv_field(a, 2, "u_price_sum", v, sizeof v), "1");
    ASSERT_EQ_STR(csv_field(a, 2, "ad.category", v, sizeof v), "cinema"); /* from 100 */
    ASSERT_EQ_STR(csv_field(a, 1, "ad.category", v, sizeof v), "cinema");
    ASSERT_EQ_STR(csv_field(a, 1, "u_price_mean", v, sizeof v), "7.5");   /* default */
    ASSERT_EQ_STR(csv_field(a, 1, "u_ctr_raw", v, sizeof v), "-1");
    ASSERT_EQ_STR(csv_field(a, 1, "u_ctr", v, sizeof v), "0.5");
    ASSERT_EQ_STR(csv_field(a, 1, "u_last_cats", v, sizeof v), "none");
    ASSERT_EQ_STR(csv_field(a, 4, "ad.category", v, sizeof v), "cinema");
    /* impression 5 (9999): 4 before it; the click at 3000 on "books" (2.5 s) */
    ASSERT_EQ_STR(csv_field(b, 5, "u_imps", v, sizeof v), "4");
    ASSERT_EQ_STR(csv_field(b, 5, "u_last_cats", v, sizeof v), "books");
    ASSERT_EQ_STR(csv_field(b, 5, "ad.category", v, sizeof v), "books");
    ASSERT_EQ_STR(csv_field(b, 5, "u_ctr_raw", v, sizeof v), "0.25");    /* 1 / 4 */
    /* impression 7 (10500): buckets 1..10 minus itself -> 5; mean 2..6 over
     * the ring's buckets 1..5 at g=2s: 4+5+6 / 3 */
    ASSERT_EQ_STR(csv_field(b, 7, "u_imps", v, sizeof v), "5");
    ASSERT_EQ_STR(csv_field(b, 7, "u_price_mean", v, sizeof v), "5");
    ASSERT_EQ_STR(csv_field(b, 7, "ua_imps", v, sizeof v), "2"); /* TTL: from 9999 */
    ASSERT_EQ_STR(csv_field(a, 4, "ua_imps", v, sizeof v), "3");
    ASSERT_EQ_STR(csv_field(b, 7, "label", v, sizeof v), "1");
    /* impression 8 on a2: a category with a comma is quoted */
    ASSERT_CONTAINS(b, ",\"dr,ama\",");
    ASSERT_EQ_STR(csv_field(b, 8, "label", v, sizeof v), "0");
    /* nothing of impression 7's future click shows before 10600 */
    ASSERT_TRUE(strstr(b, "\n8,10550,0,1,a2,1,0,9,") != NULL);
    free(a);
    free(b);

    /* pr_fs_load_tables: until_ms keeps the rows effective by then. */
    pr_fs *fs = NULL;
    ASSERT_OK(pr_fs_open(spec, NULL, &fs, &err));
    uint64_t rows = 0;
    ASSERT_OK(pr_fs_load_tables(fs, dir, 1000, &rows, &err));
    ASSERT_EQ_INT(rows, 3);
    fx f = {.spec = spec, .fs = fs};
    pr_arena_init(&f.a, NULL, 0, 0);
    pr_fs_row r = assemble(&f, 5000, "1", "a1");
    ASSERT_EQ_STR(text(&f, &r, "ad.category"), "cinema");
    ASSERT_OK(pr_fs_load_tables(fs, dir, INT64_MAX, &rows, &err));
    ASSERT_EQ_INT(rows, 4);
    r = assemble(&f, 5000, "1", "a1");
    ASSERT_EQ_STR(text(&f, &r, "ad.category"), "books");
    /* loading again, out of order: the latest effective time stays */
    put_ad(&f, "a1", "9", "old", 2000);
    r = assemble(&f, 5000, "1", "a1");
    ASSERT_EQ_STR(text(&f, &r, "ad.category"), "books");
    put_ad(&f, "a1", "9", "tie", 2500);    /* equal time: the later call */
    r = assemble(&f, 5000, "1", "a1");
    ASSERT_EQ_STR(text(&f, &r, "ad.category"), "tie");
    pr_arena_free(&f.a);
    pr_fs_free(fs);
    pr_spec_free(spec);
}

/* ---------------------------------------------------------------- errors */

TEST(test_event_parse_errors) {
    fx f;
    fx_open(&f, spec_text, NULL);
    pr_err err;
    pr_fs_event ev;
    static const struct {
        const char *line, *msg;
    } bad[] = {
        {"", "column 1"},
        {"not json", "column 1"},
        {"[1,2]", "column 1"},
        {"{\"type\":\"impression\",\"ts\":", "column"},
        {"{\"type\":\"impression\",\"ts\":1}x", "column"},
        {"{\"type\":\"impression\",\"ts\":1,\"user_id\":[1]}", "user_id"},
        {"{\"type\":\"impression\",\"ts\":1,\"ad_id\":{\"a\":1}}", "ad_id"},
        {"{\"ts\":99999999999999999999}", "column"},
        /* a type that is not a string (it named no type: applied as
         * nothing, and a server answered "applied") */
        {"{\"type\":7,\"ts\":1000,\"user_id\":\"1\"}", "key 'type': expected a string"},
        {"{\"type\":[\"click\"],\"ts\":1000}", "key 'type'"},
        /* a ts that is not integer milliseconds of the years 1970..9999:
         * INT64_MAX moved a row's windows to where every later event was
         * too old for them */
        {"{\"type\":\"click\",\"ts\":\"1000\"}", "key 'ts': expected integer Unix milliseconds"},
        {"{\"type\":\"click\",\"ts\":1.5}", "key 'ts': expected integer"},
        {"{\"type\":\"click\",\"ts\":1e3}", "key 'ts': expected integer"},
        {"{\"type\":\"click\",\"ts\":-1}", "key 'ts': -1 is not a time in the years 1970..9999"},
        {"{\"type\":\"click\",\"ts\":9223372036854775807}", "key 'ts': 9223372036854775807"},
        {"{\"type\":\"click\",\"ts\":-9223372036854775808}", "key 'ts'"},
        {"{\"type\":\"click\",\"ts\":253402300800000}", "years 1970..9999"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pr_arena_reset(&f.a);
        err.msg[0] = '\0';
        pr_status s = pr_fs_event_parse(f.fs, bad[i].line, strlen(bad[i].line), &f.a, &ev, &err);
        if (s != PR_ERR_PARSE)
            TEST_FAIL("'%s': got %s, want PR_ERR_PARSE", bad[i].line, pr_status_name(s));
        ASSERT_CONTAINS(err.msg, bad[i].msg);
    }
    /* The ends of the range are taken. */
    const char *ends[] = {"{\"type\":\"click\",\"ts\":0}",
                          "{\"type\":\"click\",\"ts\":253402300799999}",
                          "{\"type\":\"click\",\"ts\":null}"};
    for (size_t i = 0; i < 3; i++) {
        pr_arena_reset(&f.a);
        ASSERT_OK(pr_fs_event_parse(f.fs, ends[i], strlen(ends[i]), &f.a, &ev, &err));
        ASSERT_EQ_INT(ev.has_ts, i < 2);
    }
    ASSERT_TRUE(ev.type.len == 5);
    /* Absent ts / ids are not errors: has_* says so. */
    const char *ok = "{\"type\":\"click\",\"user_id\":12,\"ad_id\":true,\"price\":1.5e3,\"x\":[1]}";
    pr_arena_reset(&f.a);
    ASSERT_OK(pr_fs_event_parse(f.fs, ok, strlen(ok), &f.a, &ev, &err));
    ASSERT_EQ_INT(ev.has_ts, 0);
    ASSERT_EQ_INT(ev.has_event_id, 0);
    ASSERT_EQ_INT(ev.has_impression_id, 0);
    ASSERT_TRUE(ev.type.len == 5 && !memcmp(ev.type.ptr, "click", 5));
    ASSERT_TRUE(ev.cols[0].len == 2 && !memcmp(ev.cols[0].ptr, "12", 2));
    ASSERT_TRUE(ev.cols[2].len == 5 && !memcmp(ev.cols[2].ptr, "1.5e3", 5));
    /* Escaped strings are unescaped into the arena. */
    const char *esc = "{\"type\":\"impression\",\"ts\":5,\"user_id\":\"a\\u0062\\\"c\",\"event_id\":3}";
    pr_arena_reset(&f.a);
    ASSERT_OK(pr_fs_event_parse(f.fs, esc, strlen(esc), &f.a, &ev, &err));
    ASSERT_TRUE(ev.cols[0].len == 4 && !memcmp(ev.cols[0].ptr, "ab\"c", 4));
    ASSERT_EQ_INT(ev.ts_ms, 5);
    ASSERT_EQ_INT(ev.event_id, 3);
    fx_close(&f);
}

TEST(test_table_errors) {
    pr_spec *spec = spec_of(spec_text);
    pr_fs *fs = NULL;
    pr_err err;
    ASSERT_OK(pr_fs_open(spec, NULL, &fs, &err));
    static const struct {
        const char *csv, *msg;
    } bad[] = {
        {"ad_id,effective_ts,advertiser_id,category\na1,0,9,x\na2,soon,9,y\n",
         "ads.csv:3: column 'effective_ts': expected integer Unix milliseconds, got 'soon'"},
        {"ad_id,effective_ts,advertiser_id,category\na1,,9,x\n", "ads.csv:2: column 'effective_ts'"},
        {"ad_id,effective_ts,advertiser_id,category\na1,1.5,9,x\n", "ads.csv:2: column 'effective_ts'"},
        {"ad_id,effective_ts,advertiser_id,category\na1,-,9,x\n", "ads.csv:2: column 'effective_ts'"},
        {"ad_id,effective_ts,advertiser_id,category\n,5,9,x\n", "ads.csv:2: column 'ad_id': empty key"},
        {"ad_id,advertiser_id,category\na1,9,x\n", "effective_ts"},
        {"ad_id,effective_ts,advertiser_id\na1,0,9\n", "category"},
    };
    char dir[512], path[600];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(dir, sizeof dir, "%s/tables%zu", test_tmpdir(), i);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
        ASSERT_EQ_INT(system(cmd), 0);
        snprintf(path, sizeof path, "%s/ads.csv", dir);
        test_write_file(path, bad[i].csv);
        uint64_t rows = 0;
        err.msg[0] = '\0';
        pr_status s = pr_fs_load_tables(fs, dir, INT64_MAX, &rows, &err);
        if (s == PR_OK) TEST_FAIL("table %zu accepted", i);
        ASSERT_CONTAINS(err.msg, bad[i].msg);
        ASSERT_CONTAINS(err.msg, dir);
    }
    /* A missing table file names its path. */
    snprintf(dir, sizeof dir, "%s/no-such-dir", test_tmpdir());
    uint64_t rows;
    ASSERT_TRUE(pr_fs_load_tables(fs, dir, INT64_MAX, &rows, &err) != PR_OK);
    ASSERT_CONTAINS(err.msg, "no-such-dir/ads.csv");
    /* put_attributes: an empty key and an entity without a table. */
    pr_bytes k = {NULL, 0}, attrs[2] = {{"9", 1}, {"x", 1}};
    ASSERT_STATUS(pr_fs_put_attributes(fs, pr_fs_entity_index(fs, "ad"), &k, attrs, 0, &err),
                  PR_ERR_INVALID);
    k = pr_bytes_of("1", 1);
    ASSERT_STATUS(pr_fs_put_attributes(fs, pr_fs_entity_index(fs, "user"), &k, attrs, 0, &err),
                  PR_ERR_INVALID);
    ASSERT_STATUS(pr_fs_put_attributes(fs, 99, &k, attrs, 0, &err), PR_ERR_INVALID);
    pr_fs_free(fs);
    pr_spec_free(spec);
}

/* A spec the parser accepts must open, or be refused at load: never fail
 * later with an internal message. */

static void spec_opens_or_is_refused(const char *yaml, const char *what) {
    pr_spec *s = NULL;
    pr_err err;
    if (pr_spec_parse(yaml, strlen(yaml), "edge.yaml", &s, &err) != PR_OK) {
        ASSERT_CONTAINS(err.msg, "edge.yaml:");  /* refused at load, with a line */
        return;
    }
    pr_fs *fs = NULL;
    pr_status st = pr_fs_open(s, NULL, &fs, &err);
    EXPECT(st == PR_OK, "%s: the spec loads but pr_fs_open fails: %s", what, err.msg);
    pr_fs_free(fs);
    pr_spec_free(s);
}

TEST(test_specs_the_plan_takes) {
    /* A request column named like an events key (the request carries its
     * impression id). */
    spec_opens_or_is_refused(
        "version: 1\n"
        "request: {columns: [user_id, impression_id]}\n"
        "entities: [{name: user, key: user_id}]\n"
        "sources: [{name: events, kind: events, format: jsonl, path: e.jsonl}]\n"
        "aggregates: [{name: n, entity: user, function: count, events: [impression], window: 1h}]\n"
        "fields: [{name: user_id, type: categorical}]\n",
        "request column impression_id");
    spec_opens_or_is_refused(
        "version: 1\n"
        "request: {columns: [user_id, type]}\n"
        "entities: [{name: user, key: user_id}]\n"
        "sources: [{name: events, kind: events, format: jsonl, path: e.jsonl}]\n"
        "aggregates: [{name: n, entity: user, function: count, events: [impression], window: 1h}]\n"
        "fields: [{name: user_id, type: categorical}]\n",
        "request column type");
    /* Many request columns (the spec allows up to 256). */
    char yaml[8192];
    int o = snprintf(yaml, sizeof yaml, "version: 1\nrequest:\n  columns: [user_id");
    for (int i = 0; i < 100; i++) o += snprintf(yaml + o, sizeof yaml - (size_t)o, ", c%d", i);
    snprintf(yaml + o, sizeof yaml - (size_t)o,
             "]\nentities: [{name: user, key: user_id}]\n"
             "sources: [{name: events, kind: events, format: jsonl, path: e.jsonl}]\n"
             "aggregates: [{name: n, entity: user, function: count, events: [impression], window: 1h}]\n"
             "fields: [{name: user_id, type: categorical}]\n");
    spec_opens_or_is_refused(yaml, "101 request columns");
}

int main(void) {
    RUN(test_count_window);
    RUN(test_sum_mean_window);
    RUN(test_rate_window);
    RUN(test_decayed);
    RUN(test_last_n);
    RUN(test_compound_and_chained_keys);
    RUN(test_ttl);
    RUN(test_missing_keys);
    RUN(test_keys_do_not_collide);
    RUN(test_late_event_writes_nothing);
    RUN(test_event_check);
    RUN(test_model_spec_compared);
    RUN(test_batch_equals_singles);
    RUN(test_stale_rows);
    RUN(test_builder_values);
    RUN(test_event_parse_errors);
    RUN(test_table_errors);
    /* These two expose bugs (see the lead's report): last, so that a
     * failure does not hide the others. */
    RUN(test_specs_the_plan_takes);
    RUN(test_sum_overflow_shown);
    RUN(test_collected_failures);
    TEST_MAIN_END();
}
