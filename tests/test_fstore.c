/*
 * test_fstore.c: the feature store engine.
 *
 *   - materialize's position (events sharing a ts counted one by one, the
 *     old 8-byte watermark, a rerun over a complete store: same bytes);
 *   - windowed aggregates against a brute-force sum of their buckets, at
 *     random query times, and decayed counters against the closed form;
 *   - no leakage: a click after an impression never shows in that
 *     impression's features, an impression never sees itself, and table
 *     rows apply from their effective time on;
 *   - the skew guarantee: a simulated stream replayed (a) offline by the
 *     dataset builder and (b) online into the in-process table and every
 *     pr_store backend, asking at each sampled impression's time, gives
 *     byte-identical assembled columns and identical examples;
 *   - duplicates: a stream with every event twice builds the same dataset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fstore/fs_build_int.h"
#include "pronto/fstore.h"
#include "pronto/sim.h"
#include "store_redis_server.h"
#include "test.h"

/* ---------------------------------------------------------------- helpers */

static pr_spec *load_spec_text(const char *yaml) {
    pr_spec *s = NULL;
    pr_err err;
    if (pr_spec_parse(yaml, strlen(yaml), "test.yaml", &s, &err) != PR_OK)
        TEST_FAIL("spec: %s", err.msg);
    return s;
}

/* The CSV line of impression id (without the trailing newline), or NULL. */
static const char *csv_find(const char *csv, uint64_t id, size_t *len) {
    char want[32];
    int wl = snprintf(want, sizeof want, "\n%llu,", (unsigned long long)id);
    const char *p = strstr(csv, want);
    if (!p) return NULL;
    p++;
    const char *e = strchr(p, '\n');
    *len = e ? (size_t)(e - p) : strlen(p);
    (void)wl;
    return p;
}

/* ---------------------------------------------------------------- spec */

static const char *tiny_spec =
    "version: 1\n"
    "hash_bits: 16\n"
    "request:\n"
    "  columns: [user_id, ad_id]\n"
    "  time: [hour_of_day]\n"
    "entities:\n"
    "  - name: user\n"
    "    key: user_id\n"
    "  - name: ad\n"
    "    key: ad_id\n"
    "sources:\n"
    "  - name: ads\n"
    "    kind: table\n"
    "    format: csv\n"
    "    path: ads.csv\n"
    "    entity: ad\n"
    "    time: effective_ts\n"
    "    attributes: [category]\n"
    "  - name: events\n"
    "    kind: events\n"
    "    format: jsonl\n"
    "    path: events.jsonl\n"
    "aggregates:\n"
    "  - name: user_imps\n"
    "    entity: user\n"
    "    function: count\n"
    "    events: [impression]\n"
    "    window: 1h\n"
    "  - name: user_clicks\n"
    "    entity: user\n"
    "    function: count\n"
    "    events: [click]\n"
    "    window: 1h\n"
    "  - name: user_ctr\n"
    "    entity: user\n"
    "    function: rate\n"
    "    events: [click]\n"
    "    per: [impression]\n"
    "    window: 1h\n"
    "    prior: 0.5\n"
    "    prior_weight: 2\n"
    "  - name: user_cats\n"
    "    entity: user\n"
    "    function: last_n\n"
    "    events: [click]\n"
    "    value: ad.category\n"
    "    n: 2\n"
    "fields:\n"
    "  - name: user_id\n"
    "    type: categorical\n"
    "  - name: category\n"
    "    column: ad.category\n"
    "    type: categorical\n"
    "  - name: user_imps\n"
    "    type: numeric\n"
    "    transform: log_bucket\n"
    "  - name: user_clicks\n"
    "    type: numeric\n"
    "    transform: log_bucket\n"
    "  - name: user_ctr\n"
    "    type: numeric\n"
    "    transform: bins\n"
    "    edges: [0.1, 0.3, 0.5, 0.7]\n"
    "  - name: user_cats\n"
    "    type: categorical\n"
    "    separator: \"|\"\n";

/* ---------------------------------------------------------------- leakage */

TEST(test_no_leakage) {
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/ads.csv", dir);
    /* ad 7 is "autos" until t = 4 s, then "books". */
    test_write_file(path, "ad_id,effective_ts,category\n7,0,autos\n7,4000,books\n");
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    test_write_file(
        path,
        /* A at 1 s; B at 3 s; the click on A at 5 s (after B); C at 6 s. */
        "{\"type\":\"impression\",\"event_id\":1,\"impression_id\":1,\"ts\":1000,\"user_id\":5,\"ad_id\":7}\n"
        "{\"type\":\"impression\",\"event_id\":2,\"impression_id\":2,\"ts\":3000,\"user_id\":5,\"ad_id\":7}\n"
        "{\"type\":\"click\",\"event_id\":3,\"impression_id\":1,\"ts\":5000,\"user_id\":5,\"ad_id\":7}\n"
        "{\"type\":\"impression\",\"event_id\":4,\"impression_id\":3,\"ts\":6000,\"user_id\":5,\"ad_id\":7}\n");
    pr_spec *spec = load_spec_text(tiny_spec);
    char out[512];
    snprintf(out, sizeof out, "%s/rows.csv", dir);
    pr_fs_build_output o = {.csv_path = out, .from_ms = INT64_MIN};
    pr_fs_build_opts opts = {.data_dir = dir, .outputs = &o, .n_outputs = 1};
    pr_fs_build_stats st;
    pr_err err;
    ASSERT_OK(pr_fs_build(spec, &opts, &st, &err));
    ASSERT_EQ_INT(st.labeled[0], 3);
    size_t len;
    char *csv = test_read_file(out, &len);
    ASSERT_CONTAINS(csv, "impression_id,ts_ms,label,user_id,ad_id,hour_of_day,"
                         "ad.category,user_imps,user_clicks,user_ctr,user_cats\n");
    /* A: nothing before it (not even itself); clicked later -> label 1. */
    ASSERT_CONTAINS(csv, "\n1,1000,1,5,7,0,autos,0,0,0.5,\n");
    /* B: sees A's impression, not A's click that comes after B. */
    ASSERT_CONTAINS(csv, "\n2,3000,0,5,7,0,autos,1,0,0.33333333333333331,\n");
    /* C: sees the click, and the category as of the click (books from 4 s). */
    ASSERT_CONTAINS(csv, "\n3,6000,0,5,7,0,books,2,1,0.5,books\n");
    free(csv);
    pr_spec_free(spec);
}

/* ---------------------------------------------------------------- skew */

static void write_sim(const char *dir, int dup) {
    pr_sim_config cfg;
    pr_sim_config_default(&cfg);
    cfg.seed = 7;
    cfg.n_users = 300;
    cfg.n_ads = 60;
    cfg.n_advertisers = 20;
    cfg.n_sites = 40;
    cfg.imp_rate = 3;
    cfg.duration_s = 1800;
    pr_err err;
    pr_sim *sim = NULL;
    ASSERT_OK(pr_sim_new(&cfg, &sim, &err));
    pr_sim_output_options oo = {.dir = dir};
    pr_sim_output *out = NULL;
    ASSERT_OK(pr_sim_output_open(&oo, sim, &out, &err));
    pr_sim_event ev;
    pr_status s;
    while ((s = pr_sim_next(sim, &ev, &err)) == PR_OK) {
        ASSERT_OK(pr_sim_output_write(out, &ev, &err));
        if (dup) ASSERT_OK(pr_sim_output_write(out, &ev, &err));
    }
    ASSERT_EQ_INT(s, PR_EOF);
    ASSERT_OK(pr_sim_output_close(out, &err));
    pr_sim_free(sim);
}

static pr_spec *sim_store_spec(void) {
    const char *src = getenv("PRONTO_SRC");
    if (!src) TEST_FAIL("PRONTO_SRC not set (ctest sets it)");
    char path[1024];
    snprintf(path, sizeof path, "%s/specs/sim-store.yaml", src);
    pr_spec *spec = NULL;
    pr_err err;
    if (pr_spec_load(path, &spec, &err) != PR_OK) TEST_FAIL("%s", err.msg);
    return spec;
}

/* Joins the texts of a row's columns with ','. */
static size_t row_line(pr_fs *fs, const pr_fs_row *row, pr_arena *a,
                       char *buf, size_t cap) {
    size_t o = 0;
    for (uint32_t c = 0; c < pr_fs_n_columns(fs); c++) {
        pr_bytes t = pr_fs_row_text(fs, row, c, a);
        if (o + t.len + 2 > cap) TEST_FAIL("row too long");
        buf[o++] = ',';
        if (t.len) memcpy(buf + o, t.ptr, t.len);
        o += t.len;
    }
    return o;
}

/* Feeds dir's stream into fs (store-backed or not) the way a live system
 * would, and at every 5th impression compares the online row with the
 * builder's CSV line. Returns the number of impressions compared. */
static uint64_t replay_and_compare(pr_fs *fs, const pr_spec *spec,
                                   const char *dir, const char *csv,
                                   const char *what) {
    pr_err err;
    pr__fs_updates u;
    ASSERT_OK(pr__fs_read_tables(fs, dir, &u, &err));
    pr_featurizer *fz = NULL;
    ASSERT_OK(pr_featurizer_new(spec, &fz, &err));
    const char *names[256];
    for (uint32_t c = 0; c < pr_fs_n_columns(fs); c++)
        names[c] = pr_fs_column_name(fs, c);
    ASSERT_OK(pr_featurizer_bind(fz, names, pr_fs_n_columns(fs), &err));

    char path[512];
    snprintf(path, sizeof path, "%s/events-000000.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f) TEST_FAIL("%s", path);
    char *line = NULL;
    size_t cap = 0, next = 0;
    ssize_t n;
    uint64_t imps = 0, compared = 0;
    pr_arena a;
    pr_arena_init(&a, NULL, 0, 0);
    static char buf[1 << 16];
    while ((n = getline(&line, &cap, f)) > 0) {
        pr_arena_reset(&a);
        pr_fs_event ev;
        ASSERT_OK(pr_fs_event_parse(fs, line, (size_t)n - 1, &a, &ev, &err));
        while (next < u.n && u.v[next].effective_ms <= ev.ts_ms)
            ASSERT_OK(pr__fs_put_update(fs, &u.v[next++], &err));
        if (ev.type.len == 10 && !memcmp(ev.type.ptr, "impression", 10) &&
            imps++ % 5 == 0) {
            pr_fs_row row;
            ASSERT_OK(pr_fs_assemble(fs, ev.ts_ms, ev.cols, NULL, 0, NULL, 1, &a,
                                     &row, &err));
            size_t len = row_line(fs, &row, &a, buf, sizeof buf);
            size_t want_len = 0;
            const char *want = csv_find(csv, ev.impression_id, &want_len);
            if (!want) TEST_FAIL("%s: impression %llu not in the dataset", what,
                                 (unsigned long long)ev.impression_id);
            /* Skip "id,ts,label" of the CSV line. */
            const char *p = want;
            for (int k = 0; k < 3; k++) p = strchr(p, ',') + (k < 2);
            size_t plen = want_len - (size_t)(p - want);
            if (plen != len || memcmp(p, buf, len))
                TEST_FAIL("%s: impression %llu differs\n  offline: %.*s\n  online:  %.*s",
                          what, (unsigned long long)ev.impression_id, (int)plen, p,
                          (int)len, buf);
            pr_example x;
            ASSERT_OK(pr_featurizer_apply(fz, &row.rec, &a, &x, &err));
            ASSERT_TRUE(x.n > 0);
            compared++;
        }
        ASSERT_OK(pr_fs_apply_event(fs, &ev, &a, &err));
    }
    free(line);
    fclose(f);
    pr_arena_free(&a);
    pr_featurizer_free(fz);
    pr__fs_updates_free(&u);
    return compared;
}

TEST(test_skew_all_backends) {
    char dir[512], csv_path[600];
    snprintf(dir, sizeof dir, "%s/sim", test_tmpdir());
    write_sim(dir, 0);
    pr_spec *spec = sim_store_spec();
    snprintf(csv_path, sizeof csv_path, "%s/offline.csv", dir);
    pr_fs_build_output o = {.csv_path = csv_path, .from_ms = INT64_MIN};
    pr_fs_build_opts opts = {.data_dir = dir, .outputs = &o, .n_outputs = 1};
    pr_fs_build_stats st;
    pr_err err;
    ASSERT_OK(pr_fs_build(spec, &opts, &st, &err));
    ASSERT_TRUE(st.labeled[0] > 3000);
    size_t len;
    char *csv = test_read_file(csv_path, &len);

    /* In-process table, then every store backend. */
    pr_fs *fs = NULL;
    ASSERT_OK(pr_fs_open(spec, NULL, &fs, &err));
    uint64_t n = replay_and_compare(fs, spec, dir, csv, "in-process");
    ASSERT_TRUE(n > 500);
    pr_fs_free(fs);

    redis_child rc;
    memset(&rc, 0, sizeof rc);
    snprintf(rc.dir, sizeof rc.dir, "%s", test_tmpdir());
    snprintf(rc.sock, sizeof rc.sock, "%s/redis.sock", test_tmpdir());
    char why[1024];
    if (redis_child_start(&rc, why, sizeof why) != 0)
        TEST_FAIL("redis-server: %s (scripts/bootstrap installs it)", why);
    char lmdb_uri[600], redis_uri[300];
    snprintf(lmdb_uri, sizeof lmdb_uri, "lmdb:%s/lmdb?sync=0", test_tmpdir());
    snprintf(redis_uri, sizeof redis_uri, "redis:unix:%s?timeout_ms=2000", rc.sock);
    const char *uris[] = {"mem:", lmdb_uri, redis_uri};
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        pr_store *store = NULL;
        if (pr_store_open(uris[i], &store, &err) != PR_OK)
            TEST_FAIL("%s: %s", uris[i], err.msg);
        ASSERT_OK(pr_fs_open(spec, store, &fs, &err));
        uint64_t m = replay_and_compare(fs, spec, dir, csv, uris[i]);
        ASSERT_EQ_INT(m, n);
        pr_fs_stats fst;
        pr_fs_stats_get(fs, &fst);
        ASSERT_EQ_INT(fst.store_errors, 0);
        pr_fs_free(fs);
        pr_store_close(store);
    }
    redis_child_stop(&rc, SIGTERM);
    free(csv);
    pr_spec_free(spec);
}

TEST(test_replayed_twice_same_dataset) {
    char a[512], b[512], pa[600], pb[600];
    snprintf(a, sizeof a, "%s/once", test_tmpdir());
    snprintf(b, sizeof b, "%s/twice", test_tmpdir());
    write_sim(a, 0);
    write_sim(b, 1);
    pr_spec *spec = sim_store_spec();
    pr_fs_build_stats st;
    pr_err err;
    snprintf(pa, sizeof pa, "%s/out.csv", a);
    snprintf(pb, sizeof pb, "%s/out.csv", b);
    pr_fs_build_output oa = {.csv_path = pa, .from_ms = INT64_MIN};
    pr_fs_build_output ob = {.csv_path = pb, .from_ms = INT64_MIN};
    pr_fs_build_opts opts = {.data_dir = a, .outputs = &oa, .n_outputs = 1};
    ASSERT_OK(pr_fs_build(spec, &opts, &st, &err));
    opts.data_dir = b;
    opts.outputs = &ob;
    ASSERT_OK(pr_fs_build(spec, &opts, &st, &err));
    ASSERT_TRUE(st.joiner.duplicates > 1000);
    size_t la, lb;
    char *ca = test_read_file(pa, &la), *cb = test_read_file(pb, &lb);
    ASSERT_EQ_INT(la, lb);
    ASSERT_TRUE(memcmp(ca, cb, la) == 0);
    free(ca);
    free(cb);
    pr_spec_free(spec);
}

/* ---------------------------------------------------------------- position */

/* user 5's imps in the store, as describe_row reports them at 10 s. */
static long user_imps(const pr_spec *spec, pr_store *st) {
    pr_fs *fs = NULL;
    pr_err err;
    ASSERT_OK(pr_fs_open(spec, st, &fs, &err));
    pr_bytes k = pr_bytes_of("5", 1);
    char *json = NULL;
    long n = -1;
    if (pr_fs_describe_row(fs, pr_fs_entity_index(fs, "user"), &k, 10000, &json, &err) == PR_OK) {
        const char *p = strstr(json, "\"user_imps\": ");
        ASSERT_TRUE(p != NULL);
        n = strtol(p + 13, NULL, 10);
    }
    free(json);
    pr_fs_free(fs);
    return n;
}

/* materialize's position: (ts, events at that ts) counts events sharing a
 * ts one by one; the old 8-byte watermark (ts alone) still reads; a rerun
 * over a complete store applies nothing and leaves the same bytes. */
TEST(test_materialize_position) {
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/ads.csv", dir);
    test_write_file(path, "ad_id,effective_ts,category\n7,0,autos\n");
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    test_write_file(
        path,
        "{\"type\":\"impression\",\"event_id\":1,\"impression_id\":1,\"ts\":1000,\"user_id\":5,\"ad_id\":7}\n"
        "{\"type\":\"impression\",\"event_id\":2,\"impression_id\":2,\"ts\":2000,\"user_id\":5,\"ad_id\":7}\n"
        "{\"type\":\"impression\",\"event_id\":3,\"impression_id\":3,\"ts\":2000,\"user_id\":5,\"ad_id\":7}\n"
        "{\"type\":\"impression\",\"event_id\":4,\"impression_id\":4,\"ts\":2000,\"user_id\":5,\"ad_id\":7}\n"
        "{\"type\":\"impression\",\"event_id\":5,\"impression_id\":5,\"ts\":3000,\"user_id\":5,\"ad_id\":7}\n");
    pr_spec *spec = load_spec_text(tiny_spec);
    pr_featurizer *fz = NULL;
    pr_err err;
    ASSERT_OK(pr_featurizer_new(spec, &fz, &err));
    char key[64];
    snprintf(key, sizeof key, "materialized:%016llx",
             (unsigned long long)pr_featurizer_fingerprint(fz));
    pr_featurizer_free(fz);
    pr_bytes ent = pr_bytes_of("__pronto", 8), k = pr_bytes_of(key, strlen(key));
    pr_fs_build_stats st;
    pr_fs_build_opts o = {.data_dir = dir, .commit_events = 2};

    /* Whole run, then again: nothing applied twice, the same row bytes. */
    pr_store *full = NULL;
    ASSERT_OK(pr_store_open("mem:", &full, &err));
    o.store = full;
    ASSERT_OK(pr_fs_build(spec, &o, &st, &err));
    ASSERT_EQ_INT(st.already_applied, 0);
    ASSERT_EQ_INT(user_imps(spec, full), 5);
    pr_bytes row, sent;
    ASSERT_OK(pr_store_get(full, pr_bytes_of("user", 4), pr_bytes_of("5", 1), 0, &row, &err));
    char *first = malloc(row.len);
    size_t first_len = row.len;
    memcpy(first, row.ptr, row.len);
    ASSERT_OK(pr_store_get(full, ent, pr_bytes_of("sentinel", 8), 0, &sent, &err));
    char sbuf[512];
    ASSERT_TRUE(sent.len < sizeof sbuf);
    memcpy(sbuf, sent.ptr, sent.len);
    sbuf[sent.len] = '\0';
    ASSERT_CONTAINS(sbuf, "\"materialized_at\":");
    ASSERT_OK(pr_fs_build(spec, &o, &st, &err));
    ASSERT_EQ_INT(st.already_applied, 5);
    ASSERT_OK(pr_store_get(full, pr_bytes_of("user", 4), pr_bytes_of("5", 1), 0, &row, &err));
    ASSERT_TRUE(row.len == first_len && memcmp(row.ptr, first, first_len) == 0);
    free(first);
    pr_store_close(full);

    /* A position of (2000 ms, 2 events): events 1..3 are in the state. */
    struct { const char *v; size_t len; uint64_t skipped; long imps; } cases[] = {
        {"PPOS\x01\0\0\0\xd0\x07\0\0\0\0\0\0\x02\0\0\0\0\0\0\0", 24, 3, 2},
        {"\xd0\x07\0\0\0\0\0\0", 8, 4, 1}, /* the old watermark: all at 2000 */
    };
    for (int c = 0; c < 2; c++) {
        pr_store *s = NULL;
        ASSERT_OK(pr_store_open("mem:", &s, &err));
        ASSERT_OK(pr_store_put(s, ent, k, pr_bytes_of(cases[c].v, cases[c].len), 0, &err));
        o.store = s;
        ASSERT_OK(pr_fs_build(spec, &o, &st, &err));
        ASSERT_EQ_INT(st.already_applied, cases[c].skipped);
        ASSERT_EQ_INT(user_imps(spec, s), cases[c].imps);
        pr_store_close(s);
    }
    /* Something else under the key: refused, named. */
    pr_store *bad = NULL;
    ASSERT_OK(pr_store_open("mem:", &bad, &err));
    ASSERT_OK(pr_store_put(bad, ent, k, pr_bytes_of("xyz", 3), 0, &err));
    o.store = bad;
    ASSERT_STATUS(pr_fs_build(spec, &o, &st, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "not a materialize position");
    pr_store_close(bad);
    pr_spec_free(spec);
}

int main(void) {
    RUN(test_no_leakage);
    RUN(test_materialize_position);
    RUN(test_skew_all_backends);
    RUN(test_replayed_twice_same_dataset);
    TEST_MAIN_END();
}
