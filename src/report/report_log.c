/*
 * report_log.c: the rows of a log window for the drift report
 * (pronto/report.h "Log windows"), from the records the server logged
 * (docs/log.md "Records") with from <= ts < to.
 *
 * A prediction record is
 *   {"request_id":…,"ts":…,…,"request":{"user_id":"u1","device":null,…},
 *    "predictions":[{"ad_id":7,"p":0.031},…]}
 * and a features record (serve --log-features, a sample of requests)
 *   {"request_id":…,"ts":…,…,"ad_id":7,"row":{"user_id":"u1",…}}
 * The scan reads the window twice: first to count its features records,
 * then for the rows. With features records, each is a row of every
 * assembled column ("row", in its order) and the predictions' p go to the
 * prediction sketch alone; without, each candidate of a prediction record
 * is a row of the request's columns, then the candidate key, with its p.
 * Either way one kind of row per window, so no column is counted twice.
 * A record whose column names differ from the previous one's (another
 * server, a new spec) rebinds the sink. Values: strings as they are, null
 * as missing, numbers as their JSON text (7 and "7" are the same ad, as
 * the server's quality join has them). Events are passed over.
 *
 * Parsing is jansson's (a report reads a window twice; ~3 µs a record).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pronto/log.h"
#include "pronto/report.h"

#define LOG_ROWS_COLS_MAX 256

struct pr_report_log_rows {
    pr_report_log_sink sink;
    int from_features;
    char *names[LOG_ROWS_COLS_MAX]; /* the bound columns (owned) */
    uint32_t n_names;
    int bound;
    pr_report_log_stats st;
};

pr_status pr_report_log_rows_new(const pr_report_log_sink *sink, int from_features,
                                 pr_report_log_rows **out, pr_err *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    (*out)->sink = *sink;
    (*out)->from_features = from_features;
    (*out)->st.from_features = from_features;
    return PR_OK;
}

static void names_clear(pr_report_log_rows *lr) {
    for (uint32_t i = 0; i < lr->n_names; i++) free(lr->names[i]);
    lr->n_names = 0;
    lr->bound = 0;
}

void pr_report_log_rows_free(pr_report_log_rows *lr) {
    if (!lr) return;
    names_clear(lr);
    free(lr);
}

void pr_report_log_rows_stats_get(const pr_report_log_rows *lr, pr_report_log_stats *out) {
    *out = lr->st;
}

/* Binds the sink to names[0..n) unless they are the columns bound now. */
static pr_status bind(pr_report_log_rows *lr, const char *const *names, uint32_t n,
                      pr_err *err) {
    if (lr->bound && n == lr->n_names) {
        uint32_t i = 0;
        while (i < n && !strcmp(names[i], lr->names[i])) i++;
        if (i == n) return PR_OK;
    }
    names_clear(lr);
    for (uint32_t i = 0; i < n; i++) {
        if (!(lr->names[i] = strdup(names[i]))) {
            names_clear(lr);
            return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        }
        lr->n_names = i + 1;
    }
    pr_status s = lr->sink.bind(lr->sink.ctx, (const char *const *)lr->names, n, err);
    if (s == PR_OK) lr->bound = 1;
    return s;
}

/* A JSON scalar as the text of a column value: strings as they are,
 * numbers as written (integers exactly), null and others as missing. */
static pr_bytes value_text(const json_t *v, char *buf, size_t cap) {
    if (json_is_string(v)) return pr_bytes_of(json_string_value(v), json_string_length(v));
    if (json_is_integer(v)) {
        int n = snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return pr_bytes_of(buf, n > 0 ? (size_t)n : 0);
    }
    if (json_is_real(v)) {
        int n = snprintf(buf, cap, "%.17g", json_real_value(v));
        return pr_bytes_of(buf, n > 0 ? (size_t)n : 0);
    }
    if (json_is_true(v)) return pr_bytes_of("true", 4);
    if (json_is_false(v)) return pr_bytes_of("false", 5);
    return pr_bytes_of(NULL, 0);
}

/* A JSON object's members as record columns: names borrowed from the
 * object, values as value_text gives them (numbers in txt). */
typedef struct obj_cols {
    const char *names[LOG_ROWS_COLS_MAX];
    pr_bytes vals[LOG_ROWS_COLS_MAX];
    char txt[LOG_ROWS_COLS_MAX][40];
    uint32_t n;
} obj_cols;

/* The caller checked json_object_size(o) <= LOG_ROWS_COLS_MAX. */
static void object_columns(json_t *o, obj_cols *c) {
    const char *k;
    json_t *v;
    c->n = 0;
    json_object_foreach(o, k, v) {
        c->names[c->n] = k;
        c->vals[c->n] = value_text(v, c->txt[c->n], sizeof c->txt[c->n]);
        c->n++;
    }
}

static pr_status bad(pr_report_log_rows *lr, pr_err *err, const char *kind, const char *what) {
    lr->st.malformed++;
    return pr_err_set(err, PR_ERR_PARSE, "%s record: %s", kind, what);
}

static void fill_record(pr_record *rec, const pr_bytes *vals, uint32_t n, int64_t ts_ms) {
    memset(rec, 0, sizeof *rec);
    rec->weight = 1;
    rec->ts = ts_ms >= 0 ? ts_ms / 1000 : -((999 - ts_ms) / 1000);
    rec->n_cols = n;
    rec->cols = vals;
    rec->file = "log";
}

/* A features record: its row (every assembled column) as one row. */
static pr_status feed_features(pr_report_log_rows *lr, json_t *o, int64_t ts_ms, pr_err *err) {
    json_t *row = json_object_get(o, "row");
    if (!json_is_object(row)) return bad(lr, err, "features", "no 'row' object");
    size_t n = json_object_size(row);
    if (n == 0 || n > LOG_ROWS_COLS_MAX)
        return bad(lr, err, "features", "a 'row' of 0 or more than 256 columns");
    obj_cols c;
    object_columns(row, &c);
    lr->st.features++;
    pr_status s = bind(lr, c.names, c.n, err);
    if (s != PR_OK) return s;
    pr_record rec;
    fill_record(&rec, c.vals, c.n, ts_ms);
    lr->sink.row(lr->sink.ctx, &rec, NAN);
    lr->st.rows++;
    return PR_OK;
}

pr_status pr_report_log_rows_feed(pr_report_log_rows *lr, uint32_t type, const char *payload,
                                  size_t len, int64_t ts_ms, pr_err *err) {
    if (type != PR_LOG_TYPE_PREDICTION && type != PR_LOG_TYPE_FEATURES) return PR_OK;
    const char *kind = type == PR_LOG_TYPE_FEATURES ? "features" : "prediction";
    json_error_t je;
    json_t *o = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return bad(lr, err, kind, o ? "not a JSON object" : je.text);
    }
    pr_status s = PR_OK;
    if (type == PR_LOG_TYPE_FEATURES) {
        if (lr->from_features) s = feed_features(lr, o, ts_ms, err);
        json_decref(o);
        return s;
    }
    json_t *req = json_object_get(o, "request"), *preds = json_object_get(o, "predictions");
    if (!json_is_object(req) || !json_is_array(preds)) {
        s = bad(lr, err, kind, "no 'request' object or no 'predictions' array");
        goto done;
    }
    size_t nreq = json_object_size(req);
    if (nreq + 1 > LOG_ROWS_COLS_MAX) {
        s = bad(lr, err, kind, "more than 255 request columns");
        goto done;
    }
    obj_cols rc; /* the request's columns, then the candidate key */
    object_columns(req, &rc);
    const uint32_t nc = rc.n;
    lr->st.predictions++;
    size_t i;
    json_t *c;
    json_array_foreach(preds, i, c) {
        /* {"KEY": id, "p": number}: the key is the one that is not "p" */
        json_t *p = json_is_object(c) ? json_object_get(c, "p") : NULL;
        if (!json_is_number(p) || json_object_size(c) != 2) {
            s = bad(lr, err, kind, "a prediction is not {\"<candidate key>\": id, \"p\": number}");
            goto done;
        }
        const char *key = NULL, *k;
        json_t *id = NULL, *v;
        json_object_foreach(c, k, v) if (strcmp(k, "p")) {
            key = k;
            id = v;
        }
        if (!key) {
            s = bad(lr, err, kind, "a prediction without its candidate key");
            goto done;
        }
        double pv = json_number_value(p);
        pv = pv >= 0 && pv <= 1 ? pv : NAN;
        if (lr->from_features) { /* the rows are the features records' */
            if (lr->sink.score) lr->sink.score(lr->sink.ctx, pv);
            continue;
        }
        rc.names[nc] = key;
        if ((s = bind(lr, rc.names, nc + 1, err)) != PR_OK) goto done;
        rc.vals[nc] = value_text(id, rc.txt[nc], sizeof rc.txt[nc]);
        pr_record rec;
        fill_record(&rec, rc.vals, nc + 1, ts_ms);
        lr->sink.row(lr->sink.ctx, &rec, pv);
        lr->st.rows++;
    }
done:
    json_decref(o);
    return s;
}

/* Counts the window's features records (the first pass). */
static pr_status count_features(pr_event_log *log, int64_t from_ms, int64_t to_ms,
                                uint64_t *n, pr_err *err) {
    pr_log_reader *r = NULL;
    pr_log_start start = {.kind = PR_LOG_FROM_TIME, .from_ms = from_ms};
    pr_status s = pr_log_reader_open(log, &start, &r, err);
    pr_log_record rec;
    *n = 0;
    while (s == PR_OK && (s = pr_log_next(r, &rec, err)) == PR_OK)
        *n += rec.type == PR_LOG_TYPE_FEATURES && rec.ts_ms >= from_ms && rec.ts_ms < to_ms;
    if (s == PR_EOF) s = PR_OK;
    pr_log_reader_close(r);
    return s;
}

pr_status pr_report_log_scan(const char *uri, int64_t from_ms, int64_t to_ms,
                             uint64_t skip_bad, const pr_report_log_sink *sink,
                             pr_report_log_stats *stats, pr_err *err) {
    pr_event_log *log = NULL;
    pr_log_reader *r = NULL;
    pr_report_log_rows *lr = NULL;
    uint64_t n_features = 0;
    pr_status s = pr_log_open(uri, PR_LOG_READ, &log, err);
    if (s == PR_OK) s = count_features(log, from_ms, to_ms, &n_features, err);
    if (s == PR_OK) {
        pr_log_start start = {.kind = PR_LOG_FROM_TIME, .from_ms = from_ms};
        s = pr_log_reader_open(log, &start, &r, err);
    }
    if (s == PR_OK) s = pr_report_log_rows_new(sink, n_features > 0, &lr, err);
    pr_log_record rec;
    while (s == PR_OK && (s = pr_log_next(r, &rec, err)) == PR_OK) {
        lr->st.records++;
        /* times need not grow: the reader starts at the first record at
         * or after from, later ones outside [from, to) are passed over */
        if (rec.ts_ms < from_ms || rec.ts_ms >= to_ms) continue;
        pr_err e;
        if (pr_report_log_rows_feed(lr, rec.type, rec.payload.ptr, rec.payload.len, rec.ts_ms,
                                    &e) == PR_OK)
            continue;
        if (lr->st.malformed <= skip_bad) continue;
        char at[PR_LOG_POS_TEXT_MAX];
        pr_log_pos_format(log, rec.pos, at, sizeof at);
        s = pr_err_set(err, PR_ERR_PARSE, "%s: record at %s (ts %lld ms): %s", uri, at,
                       (long long)rec.ts_ms, e.msg);
    }
    if (s == PR_EOF) s = PR_OK;
    if (lr && stats) pr_report_log_rows_stats_get(lr, stats);
    pr_report_log_rows_free(lr);
    pr_log_reader_close(r);
    pr_log_close(log);
    return s;
}

/* ---------------------------------------------------------------- a reference */

typedef struct prof_ctx {
    pr_profile_builder *b;
    pr_scores scores;
    int have_p;
} prof_ctx;

static pr_status prof_bind(void *ctx, const char *const *names, uint32_t n, pr_err *err) {
    prof_ctx *c = ctx;
    if (pr_profile_builder_bind(c->b, names, n) != PR_OK)
        return pr_err_set(err, PR_ERR_NOMEM, "profile: out of memory");
    return PR_OK;
}

static void prof_score(void *ctx, double p) {
    prof_ctx *c = ctx;
    if (isnan(p)) return;
    pr_scores_add(&c->scores, p);
    c->have_p = 1;
}

static void prof_row(void *ctx, const pr_record *rec, double p) {
    prof_ctx *c = ctx;
    pr_profile_builder_add(c->b, rec);
    prof_score(ctx, p);
}

pr_status pr_report_log_profile(const pr_spec *spec, const char *uri, int64_t from_ms,
                                int64_t to_ms, uint64_t skip_bad, pr_profile **out,
                                pr_report_log_stats *stats, pr_err *err) {
    *out = NULL;
    prof_ctx c;
    memset(&c, 0, sizeof c);
    pr_status s = pr_profile_builder_new(spec, &c.b, err);
    pr_report_log_sink sink = {prof_bind, prof_row, prof_score, &c};
    if (s == PR_OK) s = pr_report_log_scan(uri, from_ms, to_ms, skip_bad, &sink, stats, err);
    if (s == PR_OK && c.have_p) pr_profile_builder_set_scores(c.b, &c.scores, "served (log)");
    if (s == PR_OK) s = pr_profile_builder_finish(c.b, out, err);
    pr_profile_builder_free(c.b);
    return s;
}
