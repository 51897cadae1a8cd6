/*
 * pronto/fstore.h: the feature store engine. One compiled plan of a spec's
 * request/entities/sources/aggregates sections (src/feature/spec_store.h,
 * docs/feature-spec.md) and the state it reads and updates:
 *
 *   - entity rows: table attributes as of their effective time;
 *   - aggregate state per entity key (sliding windows, decayed counters,
 *     last-N lists), updated by events in time order;
 *   - assembly: one request (or impression) at time t -> one pr_record whose
 *     columns are the request's columns, its time columns, every
 *     "entity.attribute" and every aggregate's value as of t. The
 *     featurizer binds to pr_fs_column_name() and turns it into an example.
 *
 * The same code assembles for training (the dataset builder replays events
 * and asks at each impression's time, before applying it) and for serving
 * (rows read from a pr_store). State lives either in an in-process table
 * (store == NULL: fastest, for replays) or in any pr_store backend; the row
 * bytes are the same in both (docs/fstore.md), which is what makes offline
 * and online values byte-identical.
 *
 * Point in time. An assembly at t sees exactly the events applied before it
 * whose ts <= t; windowed aggregates count bucket by bucket (granularity
 * window/buckets, docs/fstore.md), so "as of t" is exact at that
 * granularity. The builder applies an impression after assembling it, so
 * no impression sees itself, and nothing later than itself in the stream.
 *
 * Threads: one pr_fs per thread (it owns scratch buffers); the plan is
 * immutable after pr_fs_open.
 */
#ifndef PRONTO_FSTORE_H
#define PRONTO_FSTORE_H

#include <stdint.h>

#include "pronto/base.h"
#include "pronto/example.h"
#include "pronto/feature.h"
#include "pronto/store.h"
#include "pronto/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pr_fs pr_fs;

/* Compiles spec's store sections and binds a state.
 *   spec:  borrowed for the call; must have a request section.
 *   store: borrowed, must outlive the pr_fs; NULL = an in-process table
 *          owned by the pr_fs.
 * Errors: PR_ERR_SPEC (no request section), PR_ERR_NOMEM. */
pr_status pr_fs_open(const pr_spec *spec, pr_store *store, pr_fs **out,
                     pr_err *err);
void pr_fs_free(pr_fs *fs);

/* The assembled record's columns (what the featurizer binds to). Names are
 * borrowed, valid for the pr_fs's life. */
uint32_t pr_fs_n_columns(const pr_fs *fs);
const char *pr_fs_column_name(const pr_fs *fs, uint32_t c);
/* Entities: index by name, UINT32_MAX if unknown. */
uint32_t pr_fs_n_entities(const pr_fs *fs);
const char *pr_fs_entity_name(const pr_fs *fs, uint32_t e);
uint32_t pr_fs_entity_index(const pr_fs *fs, const char *name);
/* Number of key columns of entity e (1..3; 0 if e is out of range). */
uint32_t pr_fs_entity_n_keys(const pr_fs *fs, uint32_t e);

/* ---------------------------------------------------------------- events */

/* One parsed event. Request columns are text (borrowed from the line or the
 * arena); absent keys have len 0. */
typedef struct pr_fs_event {
    pr_bytes type;          /* the type key's text ("impression", ...) */
    int64_t ts_ms;
    uint64_t event_id, impression_id;
    int has_ts, has_event_id, has_impression_id;
    const pr_bytes *cols;   /* pr_fs_n_request_columns values */
} pr_fs_event;

uint32_t pr_fs_n_request_columns(const pr_fs *fs);

/* The latest event time taken: 9999-12-31T23:59:59.999Z in Unix ms. */
#define PR_FS_TS_MAX INT64_C(253402300799999)

/* Parses one JSON-lines event with the events source's keys.
 *   arena: escaped strings and the cols array go here.
 * Errors: PR_ERR_PARSE, the message naming what is wrong: "column N: what"
 * (not a JSON object, bad JSON), "key 'ts': ..." (a ts that is not an
 * integer, or outside 0..PR_FS_TS_MAX: years 1970..9999), "key 'type':
 * ..." (a type that is not a string), "key 'user_id': ..." (a request
 * column that is an array or object). A missing (or null) ts or id is
 * PR_OK with has_* 0; an id that is not an integer >= 0 too. */
pr_status pr_fs_event_parse(const pr_fs *fs, const char *line, size_t len,
                            pr_arena *arena, pr_fs_event *ev, pr_err *err);

/* What a live writer (the server) checks before applying a parsed event,
 * beyond what pr_fs_event_parse refuses:
 *   - its time against a clock: now_ms - max_behind_ms <= ts <= now_ms +
 *     max_ahead_ms (an event without ts passes: it is not applied). One
 *     far-future event would move its entities' windows to that time,
 *     after which every real event is too old for them;
 *   - its entity keys fit the store (PR_STORE_KEY_MAX with the entity
 *     name), for every entity its type updates whose key is made of
 *     request columns alone: pr_fs_apply_event reads an over-long key as
 *     absent (counted in pr_fs_stats.long_keys) and writes nothing.
 * PR_ERR_INVALID naming the ts key, or PR_ERR_LIMIT naming the key
 * column(s), with the figures. */
pr_status pr_fs_event_check(const pr_fs *fs, const pr_fs_event *ev, int64_t now_ms,
                            int64_t max_ahead_ms, int64_t max_behind_ms, pr_err *err);

/* Whether every column a model's spec (the one embedded in the model)
 * reads means there what it means in the store's plan: compared by
 * definition, not name (fs_compare.c lists what is compared). A column
 * the store does not have is not reported here (binding the featurizer
 * names it). PR_ERR_SPEC naming the first difference: "column
 * user_ctr_1h: window 1h in the model's spec, 2h in the store's". */
pr_status pr_fs_check_model_spec(const pr_fs *store, const pr_spec *model, pr_err *err);

/* The longest window of the spec's windowed aggregates (count, sum, mean,
 * rate) in ms; 0 when it has none. */
int64_t pr_fs_max_window_ms(const pr_fs *fs);

/* Feeds one event into every aggregate that counts its type (others are
 * ignored; an event without ts too). Entities whose key columns are absent
 * in the event are skipped (counted in pr_fs_stats.missing_keys). An
 * update older than an aggregate's window (its ring has moved past it) is
 * dropped and counted in pr_fs_stats.late_updates; an entity's row is
 * written, and its clock (updated_ms) moved, only when some aggregate
 * took the event.
 *   arena: scratch for the call (keys, attribute copies); the caller resets
 *          it when it likes.
 * PR_ERR_IO/NOMEM from the state. */
pr_status pr_fs_apply_event(pr_fs *fs, const pr_fs_event *ev,
                            pr_arena *arena, pr_err *err);

/* ---------------------------------------------------------------- tables */

/* Sets entity e's row for key (the key columns' texts, n = the entity's key
 * count) to these attribute values (in the table's attribute order, n =
 * the table's attribute count), effective at effective_ms: the aggregate
 * state is kept. A row whose stored attributes are newer (later effective
 * time) is left alone, so loading a table out of order, or twice, keeps
 * the latest state; equal effective times: the later call wins. */
pr_status pr_fs_put_attributes(pr_fs *fs, uint32_t e, const pr_bytes *key,
                               const pr_bytes *attrs, int64_t effective_ms,
                               pr_err *err);

/* Reads every table source of the spec from data_dir (source paths are
 * relative to it) and puts the rows effective at or before until_ms
 * (INT64_MAX: all) - the materialize step. Rows with a bad effective time
 * (not integer ms of the years 1970..9999) or a missing key stop with
 * file:line:column. *rows: rows put. */
pr_status pr_fs_load_tables(pr_fs *fs, const char *data_dir, int64_t until_ms,
                            uint64_t *rows, pr_err *err);

/* ---------------------------------------------------------------- assembly */

/* One assembled row: a pr_record (cols text, num numbers: NaN where the
 * column is text only). Everything is in the arena given to the call,
 * except, with the in-process state (store NULL), attribute texts, which
 * point into the state's rows: valid until the next pr_fs_apply_event or
 * pr_fs_put_attributes on this pr_fs. */
typedef struct pr_fs_row {
    pr_record rec;
} pr_fs_row;

/* Assembles n candidates of one request at time now_ms.
 *   base:     pr_fs_n_request_columns texts shared by all candidates.
 *   cand_cols/n_cand_cols: which request columns vary per candidate (ids);
 *   cand:     n * n_cand_cols texts, candidate-major; NULL when n_cand_cols
 *             is 0.
 *   n:        candidates, 1..PR_STORE_BATCH_MAX.
 *   out:      OUT: n rows (their rec.cols/num live in arena).
 * Entities whose key depends only on shared columns are read once; the
 * others once per candidate with one batch get per entity. */
pr_status pr_fs_assemble(pr_fs *fs, int64_t now_ms, const pr_bytes *base,
                         const uint32_t *cand_cols, uint32_t n_cand_cols,
                         const pr_bytes *cand, uint32_t n, pr_arena *arena,
                         pr_fs_row *out, pr_err *err);

/* Text of column c of a row, rendering numbers on demand (shortest text
 * that reads back as the same double; integers without a point). The text
 * is in the arena. Missing = len 0. */
pr_bytes pr_fs_row_text(const pr_fs *fs, const pr_fs_row *row, uint32_t c,
                        pr_arena *arena);

/* ---------------------------------------------------------------- debug */

/* One entity row as JSON text {"entity":..., "key":..., "attributes":{...},
 * "aggregates":{...}} with aggregate values as of now_ms; *json malloc'd,
 * caller frees. PR_ERR_NOTFOUND if there is no such row. */
pr_status pr_fs_describe_row(pr_fs *fs, uint32_t e, const pr_bytes *key,
                             int64_t now_ms, char **json, pr_err *err);

typedef struct pr_fs_stats {
    uint64_t events;        /* applied */
    uint64_t missing_keys;  /* entity keys absent from an event/request */
    uint64_t long_keys;     /* keys longer than a store takes (511 bytes
                               with the entity name): read as absent */
    uint64_t rows;          /* rows in the in-process table (0 for stores) */
    uint64_t row_bytes;     /* their bytes (row blobs + keys + slots) */
    uint64_t stale_rows;    /* rows read with a different layout (spec
                               changed): treated as absent */
    uint64_t late_updates;  /* windowed updates older than the window */
    uint64_t store_errors;  /* failed store calls */
} pr_fs_stats;
void pr_fs_stats_get(const pr_fs *fs, pr_fs_stats *out);

/* The size in bytes of entity e's row blob without attributes (header +
 * aggregate state). */
uint32_t pr_fs_row_state_bytes(const pr_fs *fs, uint32_t e);

/* ------------------------------------------------------- logged rows */

/* The feature rows a server logged (PR_LOG_TYPE_FEATURES records of an
 * event log, docs/log.md), indexed by (request id, candidate key text):
 * src/fstore/fs_logged.c. */
typedef struct pr_fs_logged pr_fs_logged;

typedef struct pr_fs_logged_stats {
    uint64_t records;     /* features records read */
    uint64_t rows;        /* indexed (distinct keys) */
    uint64_t duplicates;  /* a key logged again: the first record kept */
    uint64_t bad;         /* malformed records skipped */
    uint64_t matched;     /* rows found by pr_fs_logged_find so far */
} pr_fs_logged_stats;

/* Reads every features record of the log uri (from its start). cols: the
 * assembled columns (pr_fs_column_name order) whose texts are kept;
 * cand_key: the candidate key column (serve --candidate-key). A malformed
 * record (not JSON, no request_id, no candidate key, no row object, a
 * column neither a string nor null) is skipped and counted, an error
 * naming URI@POS past max_bad. *out owned by caller. */
pr_status pr_fs_logged_load(const char *uri, const char *const *cols, uint32_t n_cols,
                            const char *cand_key, uint64_t max_bad, pr_fs_logged **out,
                            pr_err *err);
/* The logged row of an impression (its JSON line): the record whose
 * request_id is the impression's request_id if it has one, else its
 * impression_id as decimal text, and whose candidate key has the
 * impression's value of that column as text. NULL if none; else n_cols
 * texts (len 0: null or absent), *present (may be NULL) says per column
 * whether the row had it. arena: scratch for unescaping. Marks it
 * matched. */
/* An empty index, and one features record's payload added to it (what
 * load does per record; PR_ERR_PARSE: malformed, counted). */
pr_status pr_fs_logged_new(const char *const *cols, uint32_t n_cols, const char *cand_key,
                           pr_fs_logged **out, pr_err *err);
pr_status pr_fs_logged_add(pr_fs_logged *l, pr_bytes payload, pr_err *err);
const pr_bytes *pr_fs_logged_find(pr_fs_logged *l, const char *line, size_t len,
                                  pr_arena *arena, const uint8_t **present);
void pr_fs_logged_stats_get(const pr_fs_logged *l, pr_fs_logged_stats *out);
void pr_fs_logged_free(pr_fs_logged *l);

/* ---------------------------------------------------------------- builder */

#define PR_FS_BUILD_MAX_OUTPUTS 16u
#define PR_FS_MAX_COLUMNS 4096u

/* One output of the builder: the labeled impressions with
 * from_ms <= ts < to_ms (to_ms 0 = no end; when outputs overlap, the last
 * one whose from_ms <= ts takes the impression). */
typedef struct pr_fs_build_output {
    const char *cache_path;  /* example cache (pronto train --dataset), or NULL */
    const char *csv_path;    /* assembled columns as CSV, or NULL: header
                                impression_id,ts_ms,label,<columns> */
    int64_t from_ms, to_ms;
} pr_fs_build_output;

/* One labeled impression as the builder emits it (opts.on_labeled), in the
 * joiner's order: (ts, impression id) once its attribution window closed.
 * Everything is borrowed for the callback. */
typedef struct pr_fs_labeled {
    uint64_t impression_id;
    int64_t ts_ms;
    int label;               /* 1: clicked within the window */
    int output;              /* the output that takes it too, or -1 */
    const pr_example *x;     /* featurized as build-dataset writes it (label
                                set, weight 1, ts in s; no min_count filter) */
} pr_fs_labeled;

typedef struct pr_fs_build_opts {
    const char *data_dir;    /* source paths are relative to it (NULL: cwd) */
    const pr_fs_build_output *outputs;
    uint32_t n_outputs;      /* 1..PR_FS_BUILD_MAX_OUTPUTS */
    int64_t window_ms;       /* attribution window (0: the joiner's 2 h) */
    int64_t lateness_ms;     /* allowed lateness (0: the joiner's 10 min) */
    uint64_t max_bad;        /* malformed event lines tolerated */
    pr_store *store;         /* state: NULL = in-process (fastest) */
    int64_t until_ms;        /* 0, or: events and table rows after this
                                time are not applied (materialize --until) */
    int tables_only;         /* 1: load the tables, replay no events */
    uint32_t commit_events;  /* materialize: events per atomic commit of
                                rows and position (0: 20000) */
    const char *events_uri;  /* NULL: the spec's event files; else the event
                                records of this log (pr_log_open URI), in
                                log order, from its start (materialize:
                                after the store's position in it) */
    pr_fs_logged *logged;    /* build-dataset --logged-features: each
                                impression's example is its logged row
                                (featurized as an assembled one), not the
                                state's; impressions without one are
                                counted (unlogged) and left out; no state
                                is built */
    /* Called for every event in stream order once it is parsed, before it
     * is applied: row is the impression's assembled row as of its ts (NULL
     * for other events and with logged), line its JSON text. A non-OK
     * return stops the build. (pronto skew; tests.) */
    pr_status (*on_event)(void *ctx, pr_bytes line, const pr_fs_event *ev, pr_fs *fs,
                          const pr_fs_row *row, pr_arena *arena, pr_err *err);
    void *on_event_ctx;
    /* Called for every labeled impression as it is emitted, whatever the
     * outputs' ranges (pronto learn). A non-OK return stops the build. */
    pr_status (*on_labeled)(void *ctx, const pr_fs_labeled *l, pr_err *err);
    void *on_labeled_ctx;
} pr_fs_build_opts;

typedef struct pr_fs_build_stats {
    uint64_t lines, events, bad_lines, table_rows;
    uint64_t after_until;    /* events skipped: ts after until_ms */
    uint64_t already_applied;/* materialize: events skipped, at or before
                                the latest time a previous run applied */
    uint64_t impressions;    /* assembled (in an output's range) */
    uint64_t other_records;  /* events_uri: records of other types skipped */
    uint64_t unlogged;       /* logged: impressions without a logged row */
    uint64_t labeled[PR_FS_BUILD_MAX_OUTPUTS];
    uint64_t positives[PR_FS_BUILD_MAX_OUTPUTS];
    pr_joiner_stats joiner;
    pr_fs_stats fs;
    double seconds;
} pr_fs_build_stats;

/* Replays the spec's events source (files matching its path under
 * data_dir, in name order; or the event records of o->events_uri, in log
 * order) with its tables, and writes every labeled
 * impression's example (features as of its ts) to the outputs. With no
 * outputs (n_outputs 0) it only builds the state: `pronto materialize`
 * into a store. Its rows reach the store every commit_events events in one
 * atomic write together with the replay's position (per spec), so a run
 * killed at any instant and rerun, or a later run over the same or a
 * longer stream, applies each event exactly once; the last commit also
 * writes the store's sentinel (docs/store.md). See
 * src/fstore/fs_build.c for the order of things. Errors: PR_ERR_SPEC (no
 * events source; quantile transforms), PR_ERR_IO, PR_ERR_PARSE (a table
 * row, or more than max_bad malformed event lines: file:line), NOMEM. */
pr_status pr_fs_build(const pr_spec *spec, const pr_fs_build_opts *o,
                      pr_fs_build_stats *st, pr_err *err);

/* The same replay pushed one event line at a time (pr_fs_build is a loop
 * over its source feeding one; `pronto learn` feeds it a followed log):
 *
 *   pr_fs_builder *b;
 *   pr_fs_builder_new(spec, &opts, &b, &err);    // opts.on_labeled = ...
 *   for (each event line) pr_fs_builder_push(b, line, len, "log@17", &err);
 *   pr_fs_builder_advance(b, &err);   // at a pause: process what was pushed
 *   pr_fs_builder_flush(b, &err);     // end of stream: label what is pending
 *   pr_fs_builder_close(b, PR_OK, &stats, &err);  // commits the outputs
 *
 * Lines are processed (and labeled impressions emitted, through on_labeled
 * and into the outputs) in push order, up to 8 pushes after they came (the
 * lookahead that prefetches rows) or at advance/flush: what is emitted, and
 * in which order, depends only on the lines pushed, never on when advance
 * ran. opts (copied; its pointers borrowed until close) as for
 * pr_fs_build, except events_uri and tables_only, which only pr_fs_build
 * reads. A malformed line is counted (stats.bad_lines), reported with
 * `where` (copied; NULL: "event line N") and fatal past max_bad. After an
 * error, only close. Not thread-safe: one thread per builder. */
typedef struct pr_fs_builder pr_fs_builder;
pr_status pr_fs_builder_new(const pr_spec *spec, const pr_fs_build_opts *opts,
                            pr_fs_builder **out, pr_err *err);
/* line: one event's JSON text (copied; a blank line counts as a line). */
pr_status pr_fs_builder_push(pr_fs_builder *b, const char *line, size_t len, const char *where,
                             pr_err *err);
pr_status pr_fs_builder_advance(pr_fs_builder *b, pr_err *err);
/* Advance, then the table rows left, then every pending impression is
 * labeled with what the joiner has (pr_joiner_flush). No push after it. */
pr_status pr_fs_builder_flush(pr_fs_builder *b, pr_err *err);
/* The stats so far. */
void pr_fs_builder_stats_get(const pr_fs_builder *b, pr_fs_build_stats *st);
/* The featurizer (borrowed, the builder's life). */
pr_featurizer *pr_fs_builder_featurizer(const pr_fs_builder *b);
/* The joiner's watermark: 1 and *wm, or 0 before any event. */
int pr_fs_builder_watermark(const pr_fs_builder *b, int64_t *wm);
/* Frees b (NULL: returns rc). rc PR_OK after a flush commits the outputs;
 * otherwise they are removed. st (may be NULL): the final stats. Returns
 * rc, or the error of committing the outputs. */
pr_status pr_fs_builder_close(pr_fs_builder *b, pr_status rc, pr_fs_build_stats *st,
                              pr_err *err);
/* Closes without committing (NULL: no-op). */
void pr_fs_builder_free(pr_fs_builder *b);

#ifdef __cplusplus
}
#endif
#endif
