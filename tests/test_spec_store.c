/*
 * test_spec_store.c: the feature-store sections of the spec (request,
 * entities, sources, aggregates) and set-valued fields (`separator`):
 * parsing into the structs of spec_store.h, defaults, canonical YAML round
 * trips, every validation rule (line, column and key path in the message),
 * the duration syntax, and the shipped specs/sim-store.yaml.
 */
#include <stdint.h>

#include "feature/feature_int.h"
#include "feature/spec_yaml.h"
#include "pronto/feature.h"
#include "test.h"

/* ---------------------------------------------------------------- helpers */

static pr_spec *parse_ok(const char *yaml) {
    pr_err err;
    pr_spec *s = NULL;
    ASSERT_OK(pr_spec_parse(yaml, strlen(yaml), "spec.yaml", &s, &err));
    return s;
}

static char *to_yaml(const pr_spec *s) {
    pr_err err;
    char *y = NULL;
    size_t len = 0;
    ASSERT_OK(pr_spec_to_yaml(s, &y, &len, &err));
    ASSERT_EQ_INT(len, strlen(y));
    return y;
}

static int str_eq(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int strings_eq(char *const *a, char *const *b, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (!str_eq(a[i], b[i])) return 0;
    return 1;
}

/* Every member of two store specs equal (lines excepted: canonical text
 * puts entries on other lines). Fails naming the first difference. */
static void assert_store_eq(const pr__store_spec *a, const pr__store_spec *b) {
    ASSERT_EQ_INT(a->has_request, b->has_request);
    ASSERT_TRUE(str_eq(a->request.timestamp, b->request.timestamp));
    ASSERT_EQ_INT(a->request.n_columns, b->request.n_columns);
    ASSERT_TRUE(strings_eq(a->request.columns, b->request.columns,
                           a->request.n_columns));
    ASSERT_EQ_INT(a->request.n_time, b->request.n_time);
    for (uint32_t i = 0; i < a->request.n_time; i++)
        ASSERT_EQ_INT(a->request.time[i], b->request.time[i]);
    ASSERT_EQ_INT(a->n_entities, b->n_entities);
    for (uint32_t i = 0; i < a->n_entities; i++) {
        const pr__entity_spec *x = &a->entities[i], *y = &b->entities[i];
        ASSERT_TRUE(str_eq(x->name, y->name));
        ASSERT_EQ_INT(x->n_keys, y->n_keys);
        ASSERT_TRUE(strings_eq(x->keys, y->keys, PR__FS_MAX_KEYS));
        ASSERT_EQ_INT(x->ttl_ms, y->ttl_ms);
    }
    ASSERT_EQ_INT(a->n_sources, b->n_sources);
    for (uint32_t i = 0; i < a->n_sources; i++) {
        const pr__source_spec *x = &a->sources[i], *y = &b->sources[i];
        ASSERT_TRUE(str_eq(x->name, y->name));
        ASSERT_EQ_INT(x->kind, y->kind);
        ASSERT_TRUE(str_eq(x->format, y->format));
        ASSERT_TRUE(str_eq(x->path, y->path));
        ASSERT_TRUE(str_eq(x->time, y->time));
        ASSERT_EQ_INT(x->entity, y->entity);
        ASSERT_TRUE(strings_eq(x->keys, y->keys, PR__FS_MAX_KEYS));
        ASSERT_EQ_INT(x->n_attributes, y->n_attributes);
        ASSERT_TRUE(strings_eq(x->attributes, y->attributes, x->n_attributes));
        ASSERT_TRUE(str_eq(x->type, y->type));
        ASSERT_TRUE(str_eq(x->id, y->id));
        ASSERT_TRUE(str_eq(x->impression, y->impression));
    }
    ASSERT_EQ_INT(a->n_aggregates, b->n_aggregates);
    for (uint32_t i = 0; i < a->n_aggregates; i++) {
        const pr__agg_spec *x = &a->aggregates[i], *y = &b->aggregates[i];
        ASSERT_TRUE(str_eq(x->name, y->name));
        ASSERT_EQ_INT(x->entity, y->entity);
        ASSERT_EQ_INT(x->function, y->function);
        ASSERT_EQ_INT(x->n_events, y->n_events);
        ASSERT_TRUE(strings_eq(x->events, y->events, x->n_events));
        ASSERT_EQ_INT(x->n_per, y->n_per);
        ASSERT_TRUE(strings_eq(x->per, y->per, x->n_per));
        ASSERT_TRUE(str_eq(x->value, y->value));
        ASSERT_EQ_INT(x->window_ms, y->window_ms);
        ASSERT_EQ_INT(x->buckets, y->buckets);
        ASSERT_EQ_INT(x->half_life_ms, y->half_life_ms);
        ASSERT_EQ_INT(x->n, y->n);
        ASSERT_EQ_INT(x->max_len, y->max_len);
        ASSERT_TRUE(memcmp(&x->prior, &y->prior, sizeof x->prior) == 0);
        ASSERT_TRUE(memcmp(&x->prior_weight, &y->prior_weight,
                           sizeof x->prior_weight) == 0);
        ASSERT_TRUE(str_eq(x->default_text, y->default_text));
    }
}

static void assert_fields_eq(const pr_spec *a, const pr_spec *b) {
    ASSERT_EQ_INT(a->n_fields, b->n_fields);
    for (uint32_t i = 0; i < a->n_fields; i++) {
        ASSERT_EQ_STR(a->fields[i].name, b->fields[i].name);
        ASSERT_EQ_STR(a->fields[i].column, b->fields[i].column);
        ASSERT_TRUE(str_eq(a->fields[i].separator, b->fields[i].separator));
    }
    ASSERT_EQ_INT(a->n_crosses, b->n_crosses);
}

/* parse(to_yaml(s)) equals s, and to_yaml of that is byte-identical. */
static void check_round_trip(const pr_spec *s) {
    char *y1 = to_yaml(s);
    pr_spec *s2 = parse_ok(y1);
    assert_store_eq(&s->store, &s2->store);
    assert_fields_eq(s, s2);
    char *y2 = to_yaml(s2);
    ASSERT_EQ_STR(y1, y2);
    free(y1);
    free(y2);
    pr_spec_free(s2);
}

/* ---------------------------------------------------------------- full */

static const char *full_spec =
    "version: 1\n"
    "request:\n"
    "  timestamp: time_ms\n"
    "  columns: [user_id, ad_id, site_id, device, position]\n"
    "  time: [day_of_week, hour_of_day]\n"
    "entities:\n"
    "  - name: user\n"
    "    key: user_id\n"
    "    ttl: 30d\n"
    "  - {name: ad, key: [ad_id]}\n"
    "  - {name: advertiser, key: ad.advertiser_id}\n"
    "  - {name: user_ad, key: [user_id, ad_id], ttl: 7d}\n"
    "sources:\n"
    "  - name: users\n"
    "    kind: table\n"
    "    format: csv\n"
    "    path: users.csv\n"
    "    entity: user\n"
    "    time: effective_ts\n"
    "    attributes: [age_bucket, country]\n"
    "  - {name: ads, kind: table, format: jsonl, path: ads.jsonl, entity: ad,\n"
    "     key: [id], time: eff, attributes: [advertiser_id, category, bid]}\n"
    "  - {name: events, kind: events, format: jsonl, path: \"events-*.jsonl*\",\n"
    "     id: eid}\n"
    "aggregates:\n"
    "  - {name: user_imps_1h, entity: user, function: count,\n"
    "     events: [impression], window: 1h}\n"
    "  - {name: ad_spend_1d, entity: ad, function: sum, events: impression,\n"
    "     value: ad.bid, window: 1d, buckets: 24}\n"
    "  - {name: user_mean_pos, entity: user, function: mean,\n"
    "     events: [impression], value: position, window: 90s, buckets: 9,\n"
    "     default: \"2\"}\n"
    "  - {name: adv_ctr_7d, entity: advertiser, function: rate, events: [click],\n"
    "     per: [impression, view], window: 7d, prior: 0.027, prior_weight: 20}\n"
    "  - {name: user_clicks_decayed, entity: user, function: decayed_count,\n"
    "     events: [click, conversion], half_life: 250ms}\n"
    "  - {name: user_ad_bid_decayed, entity: user_ad, function: decayed_sum,\n"
    "     events: [click], value: ad.bid, half_life: 5m}\n"
    "  - {name: user_last_cats, entity: user, function: last_n, events: [click],\n"
    "     value: ad.category, n: 5, max_len: 16, default: none}\n"
    "  - {name: user_last_hours, entity: user, function: last_n,\n"
    "     events: [click], value: hour_of_day, n: 3}\n"
    "fields:\n"
    "  - {name: user_id, type: categorical}\n"
    "  - {name: country, column: user.country, type: categorical}\n"
    "  - {name: imps, column: user_imps_1h, type: numeric, transform: log_bucket}\n"
    "  - {name: adv_ctr, column: adv_ctr_7d, type: numeric, transform: bins,\n"
    "     edges: [0.01, 0.02, 0.05]}\n"
    "  - {name: last_cats, column: user_last_cats, type: categorical,\n"
    "     separator: \"|\"}\n"
    "  - {name: hour_of_day, type: categorical}\n"
    "  - {name: cat, column: ad.category, type: categorical}\n"
    "crosses:\n"
    "  - [last_cats, cat]\n"
    "  - [hour_of_day, cat]\n";

TEST(full_spec_fills_every_member) {
    pr_spec *s = parse_ok(full_spec);
    const pr__store_spec *st = &s->store;
    ASSERT_EQ_INT(st->has_request, 1);
    ASSERT_EQ_STR(st->request.timestamp, "time_ms");
    ASSERT_EQ_INT(st->request.n_columns, 5);
    ASSERT_EQ_STR(st->request.columns[0], "user_id");
    ASSERT_EQ_STR(st->request.columns[4], "position");
    ASSERT_EQ_INT(st->request.n_time, 2);
    ASSERT_EQ_INT(st->request.time[0], PR__TIME_DAY_OF_WEEK);
    ASSERT_EQ_INT(st->request.time[1], PR__TIME_HOUR_OF_DAY);

    ASSERT_EQ_INT(st->n_entities, 4);
    const pr__entity_spec *e = st->entities;
    ASSERT_EQ_STR(e[0].name, "user");
    ASSERT_EQ_INT(e[0].n_keys, 1);
    ASSERT_EQ_STR(e[0].keys[0], "user_id");
    ASSERT_TRUE(e[0].keys[1] == NULL);
    ASSERT_EQ_INT(e[0].ttl_ms, INT64_C(30) * 86400000);
    ASSERT_EQ_INT(e[0].line, 7);
    ASSERT_EQ_STR(e[1].name, "ad");
    ASSERT_EQ_STR(e[1].keys[0], "ad_id");
    ASSERT_EQ_INT(e[1].ttl_ms, 0);
    ASSERT_EQ_INT(e[1].line, 10);
    ASSERT_EQ_STR(e[2].keys[0], "ad.advertiser_id");
    ASSERT_EQ_INT(e[3].n_keys, 2);
    ASSERT_EQ_STR(e[3].keys[0], "user_id");
    ASSERT_EQ_STR(e[3].keys[1], "ad_id");
    ASSERT_EQ_INT(e[3].ttl_ms, INT64_C(7) * 86400000);

    ASSERT_EQ_INT(st->n_sources, 3);
    const pr__source_spec *src = st->sources;
    ASSERT_EQ_STR(src[0].name, "users");
    ASSERT_EQ_INT(src[0].kind, PR__SOURCE_TABLE);
    ASSERT_EQ_STR(src[0].format, "csv");
    ASSERT_EQ_STR(src[0].path, "users.csv");
    ASSERT_EQ_INT(src[0].entity, 0);
    ASSERT_EQ_STR(src[0].keys[0], "user_id"); /* default: the entity's key */
    ASSERT_TRUE(src[0].keys[1] == NULL);
    ASSERT_EQ_STR(src[0].time, "effective_ts");
    ASSERT_EQ_INT(src[0].n_attributes, 2);
    ASSERT_EQ_STR(src[0].attributes[1], "country");
    ASSERT_TRUE(src[0].type == NULL && src[0].id == NULL &&
                src[0].impression == NULL);
    ASSERT_EQ_INT(src[0].line, 14);
    ASSERT_EQ_STR(src[1].format, "jsonl");
    ASSERT_EQ_INT(src[1].entity, 1);
    ASSERT_EQ_STR(src[1].keys[0], "id");
    ASSERT_EQ_STR(src[1].time, "eff");
    ASSERT_EQ_INT(src[1].n_attributes, 3);
    ASSERT_EQ_STR(src[1].attributes[2], "bid");
    ASSERT_EQ_INT(src[2].kind, PR__SOURCE_EVENTS);
    ASSERT_EQ_STR(src[2].path, "events-*.jsonl*");
    ASSERT_EQ_STR(src[2].time, "time_ms"); /* default: request.timestamp */
    ASSERT_EQ_STR(src[2].type, "type");
    ASSERT_EQ_STR(src[2].id, "eid");
    ASSERT_EQ_STR(src[2].impression, "impression_id");
    ASSERT_TRUE(src[2].attributes == NULL && src[2].n_attributes == 0);
    ASSERT_EQ_INT(src[2].line, 23);

    ASSERT_EQ_INT(st->n_aggregates, 8);
    const pr__agg_spec *a = st->aggregates;
    ASSERT_EQ_STR(a[0].name, "user_imps_1h");
    ASSERT_EQ_INT(a[0].entity, 0);
    ASSERT_EQ_INT(a[0].function, PR__AGG_COUNT);
    ASSERT_EQ_INT(a[0].n_events, 1);
    ASSERT_EQ_STR(a[0].events[0], "impression");
    ASSERT_TRUE(a[0].per == NULL && a[0].n_per == 0 && a[0].value == NULL);
    ASSERT_EQ_INT(a[0].window_ms, 3600000);
    ASSERT_EQ_INT(a[0].buckets, 12); /* default */
    ASSERT_EQ_INT(a[0].half_life_ms, 0);
    ASSERT_EQ_INT(a[0].n, 0);
    ASSERT_EQ_INT(a[0].max_len, 0);
    ASSERT_TRUE(a[0].default_text == NULL);
    ASSERT_EQ_INT(a[0].line, 26);

    ASSERT_EQ_INT(a[1].function, PR__AGG_SUM);
    ASSERT_EQ_INT(a[1].entity, 1);
    ASSERT_EQ_STR(a[1].events[0], "impression"); /* a scalar is a list of one */
    ASSERT_EQ_STR(a[1].value, "ad.bid");
    ASSERT_EQ_INT(a[1].window_ms, 86400000);
    ASSERT_EQ_INT(a[1].buckets, 24);

    ASSERT_EQ_INT(a[2].function, PR__AGG_MEAN);
    ASSERT_EQ_STR(a[2].value, "position");
    ASSERT_EQ_INT(a[2].window_ms, 90000);
    ASSERT_EQ_INT(a[2].buckets, 9);
    ASSERT_EQ_STR(a[2].default_text, "2");

    ASSERT_EQ_INT(a[3].function, PR__AGG_RATE);
    ASSERT_EQ_INT(a[3].entity, 2);
    ASSERT_EQ_INT(a[3].n_per, 2);
    ASSERT_EQ_STR(a[3].per[0], "impression");
    ASSERT_EQ_STR(a[3].per[1], "view");
    ASSERT_EQ_INT(a[3].window_ms, INT64_C(604800000));
    ASSERT_TRUE(a[3].prior == 0.027);
    ASSERT_TRUE(a[3].prior_weight == 20.0);

    ASSERT_EQ_INT(a[4].function, PR__AGG_DECAYED_COUNT);
    ASSERT_EQ_INT(a[4].n_events, 2);
    ASSERT_EQ_STR(a[4].events[1], "conversion");
    ASSERT_EQ_INT(a[4].half_life_ms, 250);
    ASSERT_EQ_INT(a[4].window_ms, 0);
    ASSERT_EQ_INT(a[4].buckets, 0);
    ASSERT_TRUE(a[4].prior == 0 && a[4].prior_weight == 0);

    ASSERT_EQ_INT(a[5].function, PR__AGG_DECAYED_SUM);
    ASSERT_EQ_INT(a[5].entity, 3);
    ASSERT_EQ_INT(a[5].half_life_ms, 300000);

    ASSERT_EQ_INT(a[6].function, PR__AGG_LAST_N);
    ASSERT_EQ_STR(a[6].value, "ad.category");
    ASSERT_EQ_INT(a[6].n, 5);
    ASSERT_EQ_INT(a[6].max_len, 16);
    ASSERT_EQ_STR(a[6].default_text, "none");
    ASSERT_EQ_INT(a[7].max_len, 32); /* default */
    ASSERT_EQ_STR(a[7].value, "hour_of_day");

    /* fields read assembled columns; one of them is set-valued */
    ASSERT_EQ_INT(s->n_fields, 7);
    ASSERT_EQ_STR(s->fields[1].column, "user.country");
    ASSERT_TRUE(s->fields[0].separator == NULL);
    ASSERT_EQ_STR(s->fields[4].separator, "|");
    ASSERT_EQ_INT(s->n_crosses, 2);
    pr_spec_free(s);
}

TEST(assembled_columns_resolve) {
    pr_spec *s = parse_ok(full_spec);
    const pr__store_spec *st = &s->store;
    static const struct {
        const char *name;
        pr__store_col_kind kind;
        uint32_t index, attr;
    } cases[] = {
        {"user_id", PR__STORE_COL_REQUEST, 0, 0},
        {"position", PR__STORE_COL_REQUEST, 4, 0},
        {"hour_of_day", PR__STORE_COL_TIME, PR__TIME_HOUR_OF_DAY, 0},
        {"day_of_week", PR__STORE_COL_TIME, PR__TIME_DAY_OF_WEEK, 0},
        {"user.country", PR__STORE_COL_ATTRIBUTE, 0, 1},
        {"ad.bid", PR__STORE_COL_ATTRIBUTE, 1, 2},
        {"user_last_hours", PR__STORE_COL_AGGREGATE, 7, 0},
        {"ad.country", PR__STORE_COL_NONE, 0, 0},
        {"advertiser.x", PR__STORE_COL_NONE, 0, 0},
        {"user", PR__STORE_COL_NONE, 0, 0},
        {"ts", PR__STORE_COL_NONE, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pr__store_col c =
            pr__store_find_column(st, cases[i].name, strlen(cases[i].name));
        if (c.kind != cases[i].kind ||
            (c.kind != PR__STORE_COL_NONE &&
             (c.index != cases[i].index || c.attr != cases[i].attr)))
            TEST_FAIL("%s: got kind %d index %u attr %u", cases[i].name,
                      (int)c.kind, c.index, c.attr);
    }
    /* a prefix of a name is not the name */
    ASSERT_EQ_INT(pr__store_find_column(st, "user_id", 4).kind,
                  PR__STORE_COL_NONE);
    ASSERT_EQ_INT(pr__store_find_column(st, "user.country", 7).kind,
                  PR__STORE_COL_NONE);
    pr_spec_free(s);
}

TEST(full_spec_round_trips) {
    pr_spec *s = parse_ok(full_spec);
    check_round_trip(s);
    pr_spec_free(s);
}

/* The canonical text of a small store spec, pinned: every key written with
 * its default, durations in ms, strings quoted. */
TEST(canonical_text_is_pinned) {
    pr_spec *s = parse_ok(
        "version: 1\n"
        "request: {columns: [user_id, ad_id]}\n"
        "entities: [{name: user, key: user_id}]\n"
        "sources:\n"
        "  - {name: users, kind: table, format: csv, path: u.csv, entity: user,\n"
        "     time: t, attributes: [country]}\n"
        "  - {name: ev, kind: events, format: jsonl, path: e.jsonl}\n"
        "aggregates:\n"
        "  - {name: ctr, entity: user, function: rate, events: click,\n"
        "     per: impression, window: 1h, prior: 0.1}\n"
        "  - {name: last, entity: user, function: last_n, events: click,\n"
        "     value: ad_id, n: 2}\n"
        "fields:\n"
        "  - {name: c, column: user.country, type: categorical, separator: \",\"}\n");
    char *y = to_yaml(s);
    ASSERT_EQ_STR(y,
                  "# pronto feature spec (canonical form)\n"
                  "version: 1\n"
                  "hash_bits: 20\n"
                  "seed: 0\n"
                  "min_count: 0\n"
                  "request:\n"
                  "  timestamp: \"ts\"\n"
                  "  columns: [\"user_id\", \"ad_id\"]\n"
                  "  time: []\n"
                  "entities:\n"
                  "  - name: \"user\"\n"
                  "    key: [\"user_id\"]\n"
                  "    ttl: 0ms\n"
                  "sources:\n"
                  "  - name: \"users\"\n"
                  "    kind: table\n"
                  "    format: \"csv\"\n"
                  "    path: \"u.csv\"\n"
                  "    entity: \"user\"\n"
                  "    key: [\"user_id\"]\n"
                  "    time: \"t\"\n"
                  "    attributes: [\"country\"]\n"
                  "  - name: \"ev\"\n"
                  "    kind: events\n"
                  "    format: \"jsonl\"\n"
                  "    path: \"e.jsonl\"\n"
                  "    time: \"ts\"\n"
                  "    type: \"type\"\n"
                  "    id: \"event_id\"\n"
                  "    impression: \"impression_id\"\n"
                  "aggregates:\n"
                  "  - name: \"ctr\"\n"
                  "    entity: \"user\"\n"
                  "    function: rate\n"
                  "    events: [\"click\"]\n"
                  "    per: [\"impression\"]\n"
                  "    window: 3600000ms\n"
                  "    buckets: 12\n"
                  "    prior: 0.10000000000000001\n"
                  "    prior_weight: 0\n"
                  "  - name: \"last\"\n"
                  "    entity: \"user\"\n"
                  "    function: last_n\n"
                  "    events: [\"click\"]\n"
                  "    value: \"ad_id\"\n"
                  "    n: 2\n"
                  "    max_len: 32\n"
                  "fields:\n"
                  "  - name: \"c\"\n"
                  "    column: \"user.country\"\n"
                  "    type: categorical\n"
                  "    missing: \"__missing__\"\n"
                  "    separator: \",\"\n");
    check_round_trip(s);
    free(y);
    pr_spec_free(s);
}

/* A request section alone (no entities): fields read request and time
 * columns; no sources needed without aggregates. */
TEST(request_only_spec) {
    pr_spec *s = parse_ok("version: 1\n"
                          "request:\n  columns: device\n  time: [hour_of_day]\n"
                          "fields:\n"
                          "  - {name: device, type: categorical}\n"
                          "  - {name: h, column: hour_of_day, type: categorical}\n");
    ASSERT_EQ_INT(s->store.request.n_columns, 1);
    ASSERT_EQ_INT(s->store.n_entities + s->store.n_sources +
                      s->store.n_aggregates,
                  0);
    ASSERT_EQ_INT(pr_spec_n_input_columns(s), 2);
    check_round_trip(s);
    pr_spec_free(s);
}

/* Specs without the store sections: store all zero, no new key emitted,
 * and fields may still name any input column. */
TEST(plain_spec_has_empty_store) {
    pr_spec *s = parse_ok("version: 1\nfields:\n"
                          "  - {name: a, column: anything, type: categorical}\n");
    ASSERT_EQ_INT(s->store.has_request, 0);
    ASSERT_TRUE(s->store.request.timestamp == NULL);
    ASSERT_EQ_INT(s->store.n_entities, 0);
    char *y = to_yaml(s);
    ASSERT_TRUE(strstr(y, "request") == NULL);
    ASSERT_TRUE(strstr(y, "separator") == NULL);
    free(y);
    pr_spec_free(s);
}

/* A set-valued field in a spec without a store: allowed on categorical
 * fields of any spec. */
TEST(separator_without_store) {
    pr_spec *s = parse_ok("version: 1\nfields:\n"
                          "  - {name: tags, type: categorical, separator: \" \"}\n"
                          "  - {name: b, type: categorical}\n"
                          "crosses:\n  - [tags, b]\n");
    ASSERT_EQ_STR(s->fields[0].separator, " ");
    check_round_trip(s);
    pr_spec_free(s);
}

/* ---------------------------------------------------------------- errors */

/* Shared head: lines 1-4 request, 5-7 entities, 8-10 sources. */
#define REQ                                                                    \
    "version: 1\n"                                                             \
    "request:\n"                                                               \
    "  columns: [user_id, ad_id]\n"                                            \
    "  time: [hour_of_day]\n"
#define ENT                                                                    \
    "entities:\n"                                                              \
    "  - {name: user, key: user_id}\n"                                         \
    "  - {name: ad, key: ad_id}\n"
#define SRC                                                                    \
    "sources:\n"                                                               \
    "  - {name: ads, kind: table, format: csv, path: a.csv, entity: ad, "      \
    "time: t, attributes: [category]}\n"                                       \
    "  - {name: ev, kind: events, format: jsonl, path: e.jsonl}\n"
#define HEAD REQ ENT SRC
#define FLD "fields:\n  - {name: user_id, type: categorical}\n"
/* One aggregate on line 12 (its mapping starts at column 5). */
#define AGG(body) HEAD "aggregates:\n  - {" body "}\n" FLD

static const struct {
    const char *yaml;
    const char *message;
} bad_cases[] = {
    /* the request anchors everything */
    {"version: 1\n" ENT FLD,
     "spec.yaml:3:3: entities: needs a request section"},
    {"version: 1\naggregates: []\n" FLD,
     "spec.yaml:2:13: aggregates: needs a request section"},
    {"version: 1\nrequest: {time: [hour_of_day]}\n" FLD,
     "spec.yaml:2:10: request.columns: required"},
    {"version: 1\nrequest: {columns: [a, a]}\n" FLD,
     "spec.yaml:2:24: request.columns[1]: 'a' appears twice"},
    {"version: 1\nrequest: {columns: [a.b]}\n" FLD,
     "spec.yaml:2:21: request.columns[0]: column names may use letters, "
     "digits, '_' and '-' only, got 'a.b'"},
    {"version: 1\nrequest: {columns: [hour_of_day], time: [hour_of_day]}\n" FLD,
     "spec.yaml:2:21: request.columns[0]: 'hour_of_day' is also a time column"},
    {"version: 1\nrequest: {columns: [a], time: [hour]}\n" FLD,
     "spec.yaml:2:32: request.time[0]: unknown time feature 'hour' (expected "
     "hour_of_day or day_of_week)"},
    {"version: 1\nrequest: {columns: [a], time: [day_of_week, day_of_week]}\n" FLD,
     "request.time[1]: 'day_of_week' appears twice"},
    {"version: 1\nrequest: {columns: [a], colums: [b]}\n" FLD,
     "spec.yaml:2:25: request: unknown key 'colums' (expected timestamp, "
     "columns, time)"},
    /* entities */
    {REQ "entities:\n  - {name: user, key: user_id}\n  - {name: user, key: ad_id}\n" FLD,
     "spec.yaml:7:12: entities[1].name: duplicate entity name 'user' (also "
     "entities[0])"},
    {REQ "entities:\n  - {name: User, key: user_id}\n" FLD,
     "spec.yaml:6:12: entities[0].name: names may use a-z, 0-9 and '_' only, "
     "got 'User'"},
    {REQ "entities:\n  - {name: user}\n" FLD,
     "spec.yaml:6:5: entities[0].key: required"},
    {REQ "entities:\n  - {name: user, key: usr_id}\n" FLD,
     "spec.yaml:6:23: entities[0].key: unknown request column 'usr_id' (an "
     "entity key is a request column or E.attr of an earlier entity; "
     "request columns: user_id, ad_id)"},
    {REQ "entities:\n  - {name: u, key: [user_id, ad_id, user_id]}\n" FLD,
     "spec.yaml:6:37: entities[0].key[2]: 'user_id' appears twice"},
    {REQ "entities:\n  - {name: u, key: [user_id, ad_id, a, b]}\n" FLD,
     "spec.yaml:6:20: entities[0].key: 4 key columns is too many (max 3)"},
    {REQ "entities:\n  - {name: u, key: user_id, ttl: 1 day}\n" FLD,
     "spec.yaml:6:34: entities[0].ttl: expected a duration: an integer and a "
     "unit (ms, s, m, h, d) like 90s or 7d, got '1 day'"},
    {REQ "entities:\n  - {name: adv, key: ad.advertiser_id}\n  - {name: ad, key: ad_id}\n"
         "sources:\n  - {name: ads, kind: table, format: csv, path: a.csv, "
         "entity: ad, time: t, attributes: [advertiser_id]}\n" FLD,
     "spec.yaml:6:22: entities[0].key: 'ad' is not an entity declared above "
     "this one"},
    {REQ ENT "  - {name: adv, key: user.advertiser_id}\n" SRC FLD,
     "spec.yaml:8:22: entities[2].key: entity 'user' has no table source, so "
     "it has no attribute 'advertiser_id'"},
    {REQ ENT "  - {name: adv, key: [ad.advertiser_id]}\n" SRC FLD,
     "spec.yaml:8:23: entities[2].key[0]: table 'ads' of entity 'ad' has no "
     "attribute 'advertiser_id' (attributes: category)"},
    /* sources */
    {REQ ENT "sources:\n  - {name: s, kind: table, format: csv, path: a.csv, "
             "entity: usr, time: t, attributes: [x]}\n" FLD,
     "spec.yaml:9:62: sources[0].entity: unknown entity 'usr' (entities: user, "
     "ad)"},
    {REQ ENT "sources:\n  - {name: s, kind: table, format: csv, path: a.csv, "
             "entity: ad, time: t, attributes: [x]}\n"
             "  - {name: s2, kind: table, format: csv, path: b.csv, "
             "entity: ad, time: t, attributes: [y]}\n" FLD,
     "spec.yaml:10:63: sources[1].entity: entity 'ad' already has a table "
     "(sources[0] 's'); one table per entity"},
    {REQ ENT "sources:\n  - {name: s, kind: table, format: csv, path: a.csv, "
             "entity: ad, key: [a, b], time: t, attributes: [x]}\n" FLD,
     "spec.yaml:9:71: sources[0].key: 2 key columns, but entity 'ad' has 1 key"},
    {REQ ENT "sources:\n  - {name: s, kind: table, format: csv, path: a.csv, "
             "entity: ad, time: t}\n" FLD,
     "spec.yaml:9:5: sources[0].attributes: required for a table"},
    {REQ ENT "sources:\n  - {name: s, kind: table, format: csv, path: a.csv, "
             "entity: ad, attributes: [x]}\n" FLD,
     "spec.yaml:9:5: sources[0].time: required for a table"},
    {REQ ENT "sources:\n  - {name: s, kind: events, format: jsonl, path: e, "
             "attributes: [x]}\n" FLD,
     "spec.yaml:9:65: sources[0].attributes: applies to table sources only "
     "(this one is kind: events)"},
    {REQ ENT "sources:\n  - {name: s, kind: table, format: csv, path: a.csv, "
             "entity: ad, time: t, attributes: [x], id: eid}\n" FLD,
     "sources[0].id: applies to events sources only (this one is kind: table)"},
    {REQ ENT "sources:\n  - {name: s, kind: stream, format: csv, path: a}\n" FLD,
     "spec.yaml:9:21: sources[0].kind: unknown kind 'stream' (expected table or "
     "events)"},
    {REQ ENT "sources:\n  - {name: s, kind: events, format: tsv, path: a}\n" FLD,
     "spec.yaml:9:37: sources[0].format: unknown format 'tsv' (expected csv or "
     "jsonl)"},
    {REQ ENT "sources:\n  - {name: e1, kind: events, format: jsonl, path: a}\n"
             "  - {name: e2, kind: events, format: jsonl, path: b}\n" FLD,
     "spec.yaml:10:22: sources[1].kind: a second events source (sources[0] "
     "'e1' is one); one events source per spec"},
    {REQ ENT "sources:\n  - {name: e1, kind: events, format: jsonl, path: a}\n"
             "  - {name: e1, kind: events, format: jsonl, path: b}\n" FLD,
     "spec.yaml:10:12: sources[1].name: duplicate source name 'e1' (also "
     "sources[0])"},
    {REQ ENT "sources:\n  - {name: e1, format: jsonl, path: a}\n" FLD,
     "spec.yaml:9:5: sources[0].kind: required (table or events)"},
    /* aggregates */
    {REQ ENT "aggregates:\n  - {name: x, entity: user, function: count, "
             "events: [click], window: 1h}\n" FLD,
     "spec.yaml:9:3: aggregates: aggregates need an events source"},
    {AGG("name: x, entity: usr, function: count, events: [click], window: 1h"),
     "spec.yaml:12:23: aggregates[0].entity: unknown entity 'usr' (entities: "
     "user, ad)"},
    {AGG("name: x, entity: user, function: median, events: [click]"),
     "spec.yaml:12:39: aggregates[0].function: unknown function 'median'"},
    {AGG("name: x, entity: user, function: count, events: [click]"),
     "spec.yaml:12:5: aggregates[0].window: required for function count (a "
     "duration like 1h or 7d)"},
    {AGG("name: x, entity: user, function: decayed_count, events: [click], "
         "half_life: 1h, window: 1h"),
     "spec.yaml:12:94: aggregates[0].window: applies to function count, sum, "
     "mean, rate only (this aggregate's function is decayed_count)"},
    {AGG("name: x, entity: user, function: decayed_sum, events: [click], "
         "value: ad.category"),
     "spec.yaml:12:5: aggregates[0].half_life: required for function "
     "decayed_sum"},
    {AGG("name: x, entity: user, function: count, events: [click], "
         "window: 1h, half_life: 1h"),
     "aggregates[0].half_life: applies to function decayed_count, decayed_sum "
     "only"},
    {AGG("name: x, entity: user, function: rate, events: [click], window: 1h"),
     "spec.yaml:12:5: aggregates[0].per: required for function rate"},
    {AGG("name: x, entity: user, function: count, events: [click], "
         "per: [impression], window: 1h"),
     "spec.yaml:12:68: aggregates[0].per: applies to function rate only"},
    {AGG("name: x, entity: user, function: sum, events: [click], window: 1h"),
     "spec.yaml:12:5: aggregates[0].value: required for function sum"},
    {AGG("name: x, entity: user, function: count, events: [click], "
         "value: ad_id, window: 1h"),
     "aggregates[0].value: applies to function sum, mean, decayed_sum, last_n "
     "only (this aggregate's function is count)"},
    {AGG("name: x, entity: user, function: rate, events: [click], "
         "per: [impression], value: ad_id, window: 1h"),
     "aggregates[0].value: applies to function sum, mean, decayed_sum, last_n "
     "only (this aggregate's function is rate)"},
    {AGG("name: x, entity: user, function: last_n, events: [click], "
         "value: ad_id"),
     "spec.yaml:12:5: aggregates[0].n: required for function last_n"},
    {AGG("name: x, entity: user, function: last_n, events: [click], "
         "value: ad_id, n: 65"),
     "spec.yaml:12:81: aggregates[0].n: 65 is out of range (expected 1..64)"},
    {AGG("name: x, entity: user, function: last_n, events: [click], "
         "value: ad_id, n: 2, max_len: 0"),
     "aggregates[0].max_len: 0 is out of range (expected 1..255)"},
    {AGG("name: x, entity: user, function: count, events: [click], "
         "window: 1h, n: 3"),
     "aggregates[0].n: applies to function last_n only"},
    {AGG("name: x, entity: user, function: rate, events: [click], "
         "per: [impression], window: 1h, prior: 1.5"),
     "spec.yaml:12:100: aggregates[0].prior: a prior rate is in [0, 1], got "
     "1.5"},
    {AGG("name: x, entity: user, function: rate, events: [click], "
         "per: [impression], window: 1h, prior_weight: -1"),
     "aggregates[0].prior_weight: a prior weight is >= 0, got -1"},
    {AGG("name: x, entity: user, function: rate, events: [click], "
         "per: [impression], window: 1h, prior_weight: inf"),
     "aggregates[0].prior_weight: expected a finite number, got 'inf'"},
    {AGG("name: x, entity: user, function: count, events: [click], "
         "window: 1h, prior: 0.5"),
     "aggregates[0].prior: applies to function rate only"},
    {AGG("name: x, entity: user, function: count, events: [click], "
         "window: 1000ms, buckets: 7"),
     "spec.yaml:12:88: aggregates[0].buckets: a window of 1000ms does not "
     "split into 7 buckets of whole milliseconds"},
    {AGG("name: x, entity: user, function: count, events: [click], "
         "window: 10ms"),
     "spec.yaml:12:71: aggregates[0].window: a window of 10ms does not split "
     "into 12 buckets"},
    {AGG("name: x, entity: user, function: count, events: [click], "
         "window: 1h, buckets: 1025"),
     "aggregates[0].buckets: 1025 is out of range (expected 1..1024)"},
    {AGG("name: x, entity: user, function: count, events: [click], "
         "window: 0s"),
     "spec.yaml:12:71: aggregates[0].window: duration '0s' is too short "
     "(min 1ms)"},
    {AGG("name: x, entity: user, function: decayed_count, events: [click], "
         "half_life: 0ms"),
     "aggregates[0].half_life: duration '0ms' is too short (min 1ms)"},
    {AGG("name: x, entity: user, function: count, events: [click], "
         "window: 3651d"),
     "aggregates[0].window: duration '3651d' is too long (max 3650d)"},
    {AGG("name: x, entity: user, function: sum, events: [click], "
         "value: user.age, window: 1h"),
     "spec.yaml:12:68: aggregates[0].value: unknown column 'user.age' "
     "(columns: user_id, ad_id, hour_of_day, ad.category)"},
    {HEAD "aggregates:\n"
          "  - {name: x, entity: user, function: sum, events: [click], "
          "value: y, window: 1h}\n"
          "  - {name: y, entity: user, function: count, events: [click], "
          "window: 1h}\n" FLD,
     "spec.yaml:12:68: aggregates[0].value: 'y' is an aggregate; value names "
     "a request, time or entity-attribute column"},
    {AGG("name: x, entity: user, function: count, events: [], window: 1h"),
     "spec.yaml:12:54: aggregates[0].events: expected at least 1 event types"},
    {AGG("name: x, entity: user, function: count, window: 1h, "
         "events: [a, b, c, d, e, f, g, h, i]"),
     "aggregates[0].events: 9 event types is too many (max 8)"},
    {AGG("name: x, entity: user, function: count, window: 1h, "
         "events: [click, click]"),
     "spec.yaml:12:74: aggregates[0].events[1]: 'click' appears twice"},
    {AGG("name: x, entity: user, function: count, window: 1h"),
     "spec.yaml:12:5: aggregates[0].events: required"},
    {AGG("name: user_id, entity: user, function: count, events: [click], "
         "window: 1h"),
     "spec.yaml:12:12: aggregates[0].name: duplicate column name 'user_id' "
     "(already a request column)"},
    {AGG("name: hour_of_day, entity: user, function: count, events: [click], "
         "window: 1h"),
     "aggregates[0].name: duplicate column name 'hour_of_day' (already a "
     "time column)"},
    {HEAD "aggregates:\n"
          "  - {name: x, entity: user, function: count, events: [a], window: 1h}\n"
          "  - {name: x, entity: ad, function: count, events: [a], window: 1h}\n" FLD,
     "spec.yaml:13:12: aggregates[1].name: duplicate column name 'x' (also "
     "aggregates[0])"},
    {AGG("name: x, entity: user, function: count, events: [click], "
         "window: 1h, windows: 2"),
     "spec.yaml:12:75: aggregates[0]: unknown key 'windows'"},
    /* fields read assembled columns */
    {HEAD "fields:\n  - {name: f, column: user.age, type: categorical}\n",
     "spec.yaml:12:23: fields[0].column: unknown column 'user.age' (columns: "
     "user_id, ad_id, hour_of_day, ad.category)"},
    {HEAD "fields:\n  - {name: user_id, type: categorical}\n"
          "  - {name: device, type: categorical}\n",
     "spec.yaml:13:12: fields[1].name: unknown column 'device' (the field's "
     "name, as it has no column:)"},
    /* set-valued fields */
    {"version: 1\nfields:\n  - {name: a, type: numeric, transform: log_bucket, "
     "separator: \"|\"}\n",
     "spec.yaml:3:64: fields[0].separator: applies to categorical fields only"},
    {"version: 1\nfields:\n  - {name: a, type: categorical, separator: \"||\"}\n",
     "spec.yaml:3:45: fields[0].separator: a separator is exactly one byte, "
     "got '||'"},
    {"version: 1\nfields:\n  - {name: a, type: categorical, separator: \"\"}\n",
     "fields[0].separator: expected a non-empty string"},
    {"version: 1\nfields:\n"
     "  - {name: a, type: categorical, separator: \"|\"}\n"
     "  - {name: b, type: categorical, separator: \",\"}\n"
     "  - {name: c, type: categorical}\n"
     "crosses:\n  - [a, c]\n  - [c, a, b]\n",
     "spec.yaml:8:12: crosses[1][2]: fields 'a' and 'b' both have a "
     "separator; a cross may hold at most one set-valued field"},
};

TEST(bad_specs_name_line_and_key) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        pr_err err;
        pr_spec *s = NULL;
        pr_status rc = pr_spec_parse(bad_cases[i].yaml,
                                     strlen(bad_cases[i].yaml), "spec.yaml",
                                     &s, &err);
        if (rc != PR_ERR_SPEC || !strstr(err.msg, bad_cases[i].message))
            TEST_FAIL("case %zu: got %s \"%s\", want PR_ERR_SPEC containing "
                      "\"%s\"",
                      i, pr_status_name(rc), err.msg, bad_cases[i].message);
        ASSERT_TRUE(s == NULL);
    }
}

/* The same head with a valid aggregate parses: the bad cases fail for the
 * reason they name, not because of the shared text. */
TEST(bad_case_head_is_valid) {
    pr_spec *s = parse_ok(AGG("name: x, entity: user, function: count, "
                              "events: [click], window: 1h"));
    ASSERT_EQ_INT(s->store.n_aggregates, 1);
    ASSERT_EQ_INT(s->store.aggregates[0].line, 12);
    check_round_trip(s);
    pr_spec_free(s);
}

/* Section sizes are capped (spec_store.h), the cap itself accepted. */
TEST(limits) {
    static const struct {
        uint32_t n;
        const char *message; /* NULL: accepted */
    } cases[] = {{64, NULL},
                 {65, "spec.yaml:4:3: entities: 65 entities is too many "
                      "(max 64)"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t cap = 64 * 1024, o = 0;
        char *y = malloc(cap);
        ASSERT_TRUE(y != NULL);
        o += (size_t)snprintf(y + o, cap - o,
                              "version: 1\nrequest: {columns: [k]}\n"
                              "entities:\n");
        for (uint32_t i = 0; i < cases[c].n; i++)
            o += (size_t)snprintf(y + o, cap - o, "  - {name: e%u, key: k}\n",
                                  i);
        snprintf(y + o, cap - o, "fields:\n  - {name: k, type: categorical}\n");
        pr_err err;
        pr_spec *s = NULL;
        pr_status rc = pr_spec_parse(y, strlen(y), "spec.yaml", &s, &err);
        if (!cases[c].message) {
            ASSERT_OK(rc);
            ASSERT_EQ_INT(s->store.n_entities, cases[c].n);
            pr_spec_free(s);
        } else {
            ASSERT_EQ_INT(rc, PR_ERR_SPEC);
            ASSERT_CONTAINS(err.msg, cases[c].message);
        }
        free(y);
    }
    /* 256 attributes per table, not 257 */
    for (uint32_t n = 256; n <= 257; n++) {
        size_t cap = 64 * 1024, o = 0;
        char *y = malloc(cap);
        ASSERT_TRUE(y != NULL);
        o += (size_t)snprintf(y + o, cap - o,
                              "version: 1\nrequest: {columns: [k]}\n"
                              "entities: [{name: e, key: k}]\n"
                              "sources:\n  - {name: t, kind: table, format: "
                              "csv, path: t.csv, entity: e, time: t,\n"
                              "     attributes: [");
        for (uint32_t i = 0; i < n; i++)
            o += (size_t)snprintf(y + o, cap - o, "%sa%u", i ? ", " : "", i);
        snprintf(y + o, cap - o,
                 "]}\nfields:\n  - {name: k, column: e.a%u, type: "
                 "categorical}\n",
                 n - 1);
        pr_err err;
        pr_spec *s = NULL;
        pr_status rc = pr_spec_parse(y, strlen(y), "spec.yaml", &s, &err);
        if (n == 256) {
            ASSERT_OK(rc);
            ASSERT_EQ_INT(s->store.sources[0].n_attributes, 256);
            pr_spec_free(s);
        } else {
            ASSERT_EQ_INT(rc, PR_ERR_SPEC);
            ASSERT_CONTAINS(err.msg, "spec.yaml:6:18: sources[0].attributes: "
                                     "257 attributes is too many (max 256)");
        }
        free(y);
    }
}

/* ---------------------------------------------------------------- durations */

TEST(durations_parse) {
    static const struct {
        const char *text;
        pr__duration_result r;
        int64_t ms;
    } cases[] = {
        {"250ms", PR__DURATION_OK, 250},
        {"90s", PR__DURATION_OK, 90000},
        {"5m", PR__DURATION_OK, 300000},
        {"1h", PR__DURATION_OK, 3600000},
        {"7d", PR__DURATION_OK, INT64_C(604800000)},
        {"0ms", PR__DURATION_OK, 0},
        {"0d", PR__DURATION_OK, 0},
        {"007s", PR__DURATION_OK, 7000},
        {"3650d", PR__DURATION_OK, INT64_C(3650) * 86400000},
        {"315360000000ms", PR__DURATION_OK, INT64_C(315360000000)},
        {"315360000001ms", PR__DURATION_TOO_BIG, 0},
        {"3651d", PR__DURATION_TOO_BIG, 0},
        {"9223372036854775807ms", PR__DURATION_TOO_BIG, 0},
        {"99999999999999999999999999d", PR__DURATION_TOO_BIG, 0},
        {"", PR__DURATION_BAD, 0},
        {"1", PR__DURATION_BAD, 0},
        {"h", PR__DURATION_BAD, 0},
        {"ms", PR__DURATION_BAD, 0},
        {"1.5h", PR__DURATION_BAD, 0},
        {"-1s", PR__DURATION_BAD, 0},
        {"+1s", PR__DURATION_BAD, 0},
        {"1 h", PR__DURATION_BAD, 0},
        {" 1h", PR__DURATION_BAD, 0},
        {"1H", PR__DURATION_BAD, 0},
        {"1hh", PR__DURATION_BAD, 0},
        {"1msx", PR__DURATION_BAD, 0},
        {"1w", PR__DURATION_BAD, 0},
        {"1e3s", PR__DURATION_BAD, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        pr__duration_result r =
            pr__parse_duration(cases[i].text, strlen(cases[i].text), &ms);
        if (r != cases[i].r || (r == PR__DURATION_OK && ms != cases[i].ms))
            TEST_FAIL("'%s': got %d (%lld ms), want %d (%lld ms)",
                      cases[i].text, (int)r, (long long)ms, (int)cases[i].r,
                      (long long)cases[i].ms);
    }
    /* the slice ends where len says, not at a NUL */
    int64_t ms = 0;
    ASSERT_EQ_INT(pr__parse_duration("90sXYZ", 3, &ms), PR__DURATION_OK);
    ASSERT_EQ_INT(ms, 90000);
}

/* Zero is a valid ttl (never expires) but never a window or half-life; a
 * duration always reads back from its canonical "<ms>ms" spelling. */
TEST(durations_in_specs) {
    pr_spec *s = parse_ok(REQ "entities:\n  - {name: u, key: user_id, ttl: 0s}\n"
                              "  - {name: v, key: ad_id, ttl: 3650d}\n" FLD);
    ASSERT_EQ_INT(s->store.entities[0].ttl_ms, 0);
    ASSERT_EQ_INT(s->store.entities[1].ttl_ms, INT64_C(315360000000));
    char *y = to_yaml(s);
    ASSERT_CONTAINS(y, "ttl: 315360000000ms\n");
    free(y);
    check_round_trip(s);
    pr_spec_free(s);

    pr_err err;
    s = NULL;
    const char *bad = REQ "entities:\n  - {name: u, key: user_id, ttl: [1h]}\n" FLD;
    ASSERT_STATUS(pr_spec_parse(bad, strlen(bad), "spec.yaml", &s, &err),
                  PR_ERR_SPEC);
    ASSERT_CONTAINS(err.msg, "spec.yaml:6:34: entities[0].ttl: expected a "
                             "scalar value, got a sequence");
}

/* ---------------------------------------------------------------- sim-store */

static char *read_source_file(const char *rel, size_t *len) {
    pr_err err;
    const char *src = getenv("PRONTO_SRC");
    ASSERT_TRUE(src != NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", src, rel);
    char *text = NULL;
    ASSERT_OK(pr_read_file(path, &text, len, &err));
    return text;
}

TEST(sim_store_spec_loads) {
    pr_err err;
    size_t len = 0;
    char *text = read_source_file("specs/sim-store.yaml", &len);
    pr_spec *s = NULL;
    ASSERT_OK(pr_spec_parse(text, len, "sim-store.yaml", &s, &err));
    free(text);
    const pr__store_spec *st = &s->store;
    ASSERT_EQ_INT(st->request.n_columns, 5);
    ASSERT_EQ_INT(st->request.n_time, 2);
    ASSERT_EQ_INT(st->n_entities, 5);
    ASSERT_EQ_STR(st->entities[3].name, "advertiser");
    ASSERT_EQ_STR(st->entities[3].keys[0], "ad.advertiser_id");
    ASSERT_EQ_INT(st->entities[4].n_keys, 2);
    ASSERT_EQ_INT(st->n_sources, 4);
    ASSERT_EQ_INT(st->sources[3].kind, PR__SOURCE_EVENTS);
    ASSERT_EQ_STR(st->sources[3].path, "events-*.jsonl*");
    ASSERT_TRUE(st->n_aggregates >= 10 && st->n_aggregates <= 12);
    int functions_seen = 0;
    for (uint32_t i = 0; i < st->n_aggregates; i++)
        functions_seen |= 1 << st->aggregates[i].function;
    ASSERT_TRUE(functions_seen & (1 << PR__AGG_COUNT));
    ASSERT_TRUE(functions_seen & (1 << PR__AGG_RATE));
    ASSERT_TRUE(functions_seen & (1 << PR__AGG_DECAYED_COUNT));
    ASSERT_TRUE(functions_seen & (1 << PR__AGG_LAST_N));
    /* most aggregates feed a field (a few are assembled for inspection
     * only; the spec says which and why) */
    uint32_t feeding = 0;
    for (uint32_t i = 0; i < st->n_aggregates; i++)
        for (uint32_t f = 0; f < s->n_fields; f++)
            if (!strcmp(s->fields[f].column, st->aggregates[i].name)) {
                feeding++;
                break;
            }
    ASSERT_TRUE(feeding >= 6);
    check_round_trip(s);

    /* the featurizer takes it (it copies the spec through canonical YAML) */
    pr_featurizer *fz = NULL;
    ASSERT_OK(pr_featurizer_new(s, &fz, &err));
    ASSERT_EQ_INT(pr_featurizer_n_fields(fz), s->n_fields + s->n_crosses);
    pr_featurizer_free(fz);
    pr_spec_free(s);
}

/* The fuzz corpus's store specs: the valid ones parse and round-trip, the
 * invalid ones are refused with a located message. */
TEST(fuzz_corpus_store_specs) {
    static const struct {
        const char *file;
        int valid;
    } files[] = {{"tests/fuzz/corpus/spec/store_full.yaml", 1},
                 {"tests/fuzz/corpus/spec/store_request_only.yaml", 1},
                 {"tests/fuzz/corpus/spec/store_bad_entity.yaml", 0},
                 {"tests/fuzz/corpus/spec/store_bad_window.yaml", 0},
                 {"tests/fuzz/corpus/spec/store_no_request.yaml", 0}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        pr_err err;
        size_t len = 0;
        char *text = read_source_file(files[i].file, &len);
        pr_spec *s = NULL;
        pr_status rc = pr_spec_parse(text, len, "c.yaml", &s, &err);
        free(text);
        if ((rc == PR_OK) != files[i].valid)
            TEST_FAIL("%s: got %s (%s)", files[i].file, pr_status_name(rc),
                      rc == PR_OK ? "" : err.msg);
        if (s) {
            check_round_trip(s);
            pr_spec_free(s);
        } else {
            ASSERT_CONTAINS(err.msg, "c.yaml:");
        }
    }
}

/* The example of docs/feature-spec.md's "Feature-store sections" parses. */
TEST(doc_example_parses) {
    size_t len = 0;
    char *doc = read_source_file("docs/feature-spec.md", &len);
    const char *sec = strstr(doc, "## Feature-store sections");
    ASSERT_TRUE(sec != NULL);
    const char *start = strstr(sec, "```yaml\n");
    ASSERT_TRUE(start != NULL);
    start += strlen("```yaml\n");
    const char *end = strstr(start, "```");
    ASSERT_TRUE(end != NULL);
    pr_err err;
    pr_spec *s = NULL;
    ASSERT_OK(pr_spec_parse(start, (size_t)(end - start), "doc", &s, &err));
    ASSERT_EQ_INT(s->store.n_entities, 4);
    ASSERT_EQ_INT(s->store.n_aggregates, 6);
    check_round_trip(s);
    pr_spec_free(s);
    free(doc);
}

int main(void) {
    RUN(full_spec_fills_every_member);
    RUN(assembled_columns_resolve);
    RUN(full_spec_round_trips);
    RUN(canonical_text_is_pinned);
    RUN(request_only_spec);
    RUN(plain_spec_has_empty_store);
    RUN(separator_without_store);
    RUN(bad_specs_name_line_and_key);
    RUN(bad_case_head_is_valid);
    RUN(limits);
    RUN(durations_parse);
    RUN(durations_in_specs);
    RUN(sim_store_spec_loads);
    RUN(fuzz_corpus_store_specs);
    RUN(doc_example_parses);
    TEST_MAIN_END();
}
