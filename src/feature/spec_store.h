/*
 * spec_store.h: the feature-store sections of a spec (request, entities,
 * sources, aggregates), as parsed by spec_store_parse.c, written back by
 * spec_emit.c and compiled into a plan by src/fstore/. Included by
 * feature_int.h; nobody outside src/feature and src/fstore sees it.
 *
 * The sections and the column names they make (docs/feature-spec.md):
 *
 *   request:              what one request (= one impression event) carries
 *     timestamp: ts       key of its Unix-milliseconds time (default "ts")
 *     columns: [user_id, ad_id, site_id, device, position]
 *                         keys read from the request / event, as text
 *     time: [hour_of_day, day_of_week]
 *                         derived from the timestamp (UTC); the column is
 *                         named like the word
 *   entities:
 *     - name: user        [a-z0-9_]{1,64}, unique
 *       key: user_id      one column, or a list of 1..3 columns, each a
 *                         request column or "E.attr" of an EARLIER entity E
 *                         (e.g. advertiser: key ad.advertiser_id)
 *       ttl: 30d          optional: a row not updated for this long reads as
 *                         absent (0 / absent = never)
 *   sources:
 *     - name: users       unique
 *       kind: table       table | events
 *       format: csv       csv | jsonl
 *       path: users.csv   relative to the data directory given at run time
 *       entity: user      table only: the entity whose rows these are
 *       key: [user_id]    table only: the table's key column(s), one per
 *                         entity key (default: the entity's key column
 *                         names, the part after the '.' for "E.attr")
 *       time: effective_ts  table: effective time column (Unix ms);
 *                         events: timestamp key (default: request.timestamp)
 *       attributes: [age_bucket, country]
 *                         table only, required: the columns kept; they
 *                         become the columns "user.age_bucket", ...
 *       type: type        events only: the event-type key (default "type")
 *       id: event_id      events only: the event-id key (default "event_id")
 *       impression: impression_id  events only (default "impression_id")
 *   aggregates:
 *     - name: user_ctr_1d [a-z0-9_]{1,64}, unique among columns
 *       entity: user      required
 *       function: rate    count | sum | mean | rate | decayed_count |
 *                         decayed_sum | last_n
 *       events: [click]   event types that feed it (the numerator of rate)
 *       per: [impression] rate only, required: the denominator's types
 *       value: ad.bid     sum, mean, decayed_sum, last_n: the column whose
 *                         value is aggregated (a request column, an
 *                         "E.attr", or a time column), read from the event
 *       window: 1d        count, sum, mean, rate: sliding window length
 *       buckets: 12       windowed: ring size; granularity = window/buckets
 *                         (window must be a whole number of ms per bucket)
 *       half_life: 6h     decayed_*: required
 *       n: 5              last_n: list length, 1..64
 *       max_len: 32       last_n: bytes kept per item, 1..255
 *       prior: 0.03       rate: prior mean in [0, 1] (default 0)
 *       prior_weight: 20  rate: pseudo-count of the prior (default 0)
 *       default: "0"      text of the value when the entity is unknown or
 *                         the aggregate is empty (mean, last_n); default
 *                         missing
 *
 * Durations: an integer followed by ms, s, m, h or d ("90s", "1d"); stored
 * as milliseconds.
 *
 * The assembled record's columns, in this order, are what fields[].column
 * may name when a spec has a request section: the request columns, the
 * time columns, "entity.attribute" for every table attribute (entities in
 * spec order, attributes in table order), then every aggregate by name.
 */
#ifndef PRONTO_SPEC_STORE_H
#define PRONTO_SPEC_STORE_H

#include <stdint.h>

#define PR__FS_MAX_ENTITIES 64u
#define PR__FS_MAX_KEYS 3u
#define PR__FS_MAX_SOURCES 64u
#define PR__FS_MAX_AGGREGATES 1024u
#define PR__FS_MAX_ATTRIBUTES 256u /* per table */
#define PR__FS_MAX_REQUEST_COLUMNS 60u /* + 4 event keys = the JSON scanner's 64 */
#define PR__FS_MAX_EVENT_TYPES 8u  /* per events / per list */
#define PR__FS_MAX_BUCKETS 1024u
#define PR__FS_MAX_LAST_N 64u
#define PR__FS_NAME_MAX 64u

typedef enum {
    PR__TIME_HOUR_OF_DAY = 0, /* 0..23, UTC */
    PR__TIME_DAY_OF_WEEK,     /* 0 = Monday .. 6, UTC */
    PR__TIME_COUNT
} pr__time_feature;

typedef struct pr__request_spec {
    char *timestamp;          /* owned; "ts" by default */
    char **columns;           /* owned strings, n_columns */
    uint32_t n_columns;
    pr__time_feature *time;   /* owned, n_time, no repeats */
    uint32_t n_time;
} pr__request_spec;

typedef struct pr__entity_spec {
    char *name;               /* owned */
    char *keys[PR__FS_MAX_KEYS]; /* owned column references */
    uint32_t n_keys;          /* 1..PR__FS_MAX_KEYS */
    int64_t ttl_ms;           /* 0 = never */
    uint32_t line;            /* 1-based line of the entry, for messages */
} pr__entity_spec;

typedef enum { PR__SOURCE_TABLE = 0, PR__SOURCE_EVENTS = 1 } pr__source_kind;

typedef struct pr__source_spec {
    char *name;               /* owned */
    pr__source_kind kind;
    char *format;             /* owned: "csv" or "jsonl" */
    char *path;               /* owned */
    char *time;               /* owned: effective-time / timestamp column */
    /* tables */
    uint32_t entity;          /* index into entities */
    char *keys[PR__FS_MAX_KEYS]; /* owned; n = the entity's n_keys */
    char **attributes;        /* owned strings, n_attributes >= 1 */
    uint32_t n_attributes;
    /* events */
    char *type;               /* owned: "type" by default */
    char *id;                 /* owned: "event_id" by default */
    char *impression;         /* owned: "impression_id" by default */
    uint32_t line;
} pr__source_spec;

typedef enum {
    PR__AGG_COUNT = 0,
    PR__AGG_SUM,
    PR__AGG_MEAN,
    PR__AGG_RATE,
    PR__AGG_DECAYED_COUNT,
    PR__AGG_DECAYED_SUM,
    PR__AGG_LAST_N
} pr__agg_function;

typedef struct pr__agg_spec {
    char *name;               /* owned */
    uint32_t entity;          /* index into entities */
    pr__agg_function function;
    char **events;            /* owned strings: the types counted */
    uint32_t n_events;        /* 1..PR__FS_MAX_EVENT_TYPES */
    char **per;               /* owned strings: rate's denominator types */
    uint32_t n_per;
    char *value;              /* owned column reference, or NULL */
    int64_t window_ms;        /* windowed functions, else 0 */
    uint32_t buckets;         /* windowed functions (default 12), else 0 */
    int64_t half_life_ms;     /* decayed functions, else 0 */
    uint32_t n;               /* last_n, else 0 */
    uint32_t max_len;         /* last_n (default 32), else 0 */
    double prior;             /* rate */
    double prior_weight;      /* rate */
    char *default_text;       /* owned or NULL (= missing) */
    uint32_t line;
} pr__agg_spec;

/* Everything above; all zero when the spec has no store sections
 * (has_request == 0: fields name input-file columns as before). */
typedef struct pr__store_spec {
    int has_request;
    pr__request_spec request;
    pr__entity_spec *entities;   /* owned, n_entities */
    uint32_t n_entities;
    pr__source_spec *sources;    /* owned, n_sources */
    uint32_t n_sources;
    pr__agg_spec *aggregates;    /* owned, n_aggregates */
    uint32_t n_aggregates;
} pr__store_spec;

#endif
