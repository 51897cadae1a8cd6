/*
 * log.c: the front door of the event log (pronto/log.h). Picks the backend
 * by URI scheme, checks arguments once (mode, n, payload sizes, read-only
 * appends) and dispatches through the backend's pr_log_api table: log:
 * (log_dir.c) and redis-stream: (log_redis.c). Owns the pr_event_log
 * and pr_log_reader wrappers; the backend owns everything inside.
 */
#include <stdlib.h>
#include <string.h>

#include "log/log_int.h"

struct pr_event_log {
    const pr_log_api *api;
    void *impl;
    int mode;
};

struct pr_log_reader {
    const pr_log_api *api;
    void *impl;
    int skipped;
    int consumer;          /* opened with PR_LOG_CONSUMER */
    int committed;         /* last_commit is set */
    pr_log_pos last_commit;
};

/* [A-Za-z0-9_.-]{1,PR_LOG_CONSUMER_MAX}, not starting with '.': safe as a
 * file name and as a Redis consumer group name. */
static int consumer_name_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > PR_LOG_CONSUMER_MAX || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static const pr_log_api *const backends[] = {&pr__log_dir_api, &pr__log_redis_api};

int pr_log_is_uri(const char *s) {
    const char *colon = s ? strchr(s, ':') : NULL;
    if (!colon) return 0;
    size_t sl = (size_t)(colon - s);
    for (size_t i = 0; i < sizeof backends / sizeof *backends; i++)
        if (strlen(backends[i]->name) == sl && !memcmp(backends[i]->name, s, sl)) return 1;
    return 0;
}

pr_status pr_log_open(const char *uri, int mode, pr_event_log **out, pr_err *err) {
    if (out) *out = NULL;
    if (!uri || !out) return pr_err_set(err, PR_ERR_INVALID, "log: no URI given");
    if (mode != PR_LOG_READ && mode != PR_LOG_WRITE)
        return pr_err_set(err, PR_ERR_INVALID, "log: mode %d is neither read nor write", mode);
    const char *colon = strchr(uri, ':');
    if (!colon)
        return pr_err_set(err, PR_ERR_INVALID,
                          "log URI '%s': no scheme (expected log:DIR or redis-stream:HOST:PORT/KEY)", uri);
    size_t sl = (size_t)(colon - uri);
    const pr_log_api *api = NULL;
    for (size_t i = 0; i < sizeof backends / sizeof *backends; i++)
        if (strlen(backends[i]->name) == sl && !memcmp(backends[i]->name, uri, sl))
            api = backends[i];
    if (!api)
        return pr_err_set(err, PR_ERR_INVALID,
                          "log URI '%s': unknown scheme '%.*s' (expected log:DIR or "
                          "redis-stream:HOST:PORT/KEY)", uri,
                          (int)sl, uri);
    pr_event_log *l = calloc(1, sizeof *l);
    if (!l) return pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
    l->api = api;
    l->mode = mode;
    pr_status st = api->open(colon + 1, mode, &l->impl, err);
    if (st != PR_OK) {
        free(l);
        return st;
    }
    *out = l;
    return PR_OK;
}

void pr_log_close(pr_event_log *log) {
    if (!log) return;
    log->api->close(log->impl);
    free(log);
}

static pr_status check_append(pr_event_log *log, const pr_log_entry *recs, uint32_t n,
                              pr_err *err) {
    if (!log || (!recs && n))
        return pr_err_set(err, PR_ERR_INVALID, "log append: no log or no records");
    if (log->mode != PR_LOG_WRITE)
        return pr_err_set(err, PR_ERR_INVALID, "log append: the log is open read-only");
    if (n == 0 || n > PR_LOG_BATCH_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "log append: %u records (1..%u)", n,
                          PR_LOG_BATCH_MAX);
    for (uint32_t i = 0; i < n; i++) {
        if (recs[i].payload.len > PR_LOG_PAYLOAD_MAX)
            return pr_err_set(err, PR_ERR_LIMIT,
                              "log append: record %u has %zu payload bytes (max %u)", i,
                              recs[i].payload.len, PR_LOG_PAYLOAD_MAX);
        if (recs[i].payload.len && !recs[i].payload.ptr)
            return pr_err_set(err, PR_ERR_INVALID, "log append: record %u has no payload", i);
    }
    return PR_OK;
}

pr_status pr_log_append(pr_event_log *log, const pr_log_entry *recs, uint32_t n,
                        pr_log_pos *last, pr_err *err) {
    pr_status st = check_append(log, recs, n, err);
    if (st != PR_OK) return st;
    pr_log_pos tmp;
    return log->api->append(log->impl, recs, n, last ? last : &tmp, err);
}

pr_status pr_log_append_nowait(pr_event_log *log, const pr_log_entry *recs, uint32_t n,
                               pr_log_pos *last, pr_err *err) {
    pr_status st = check_append(log, recs, n, err);
    if (st != PR_OK) return st;
    if (!last) return pr_err_set(err, PR_ERR_INVALID, "log append: no position to sync on");
    if (!log->api->append_nowait) return log->api->append(log->impl, recs, n, last, err);
    return log->api->append_nowait(log->impl, recs, n, last, err);
}

pr_status pr_log_sync(pr_event_log *log, pr_log_pos pos, pr_err *err) {
    if (!log) return pr_err_set(err, PR_ERR_INVALID, "log sync: no log");
    if (log->mode != PR_LOG_WRITE)
        return pr_err_set(err, PR_ERR_INVALID, "log sync: the log is open read-only");
    return log->api->sync ? log->api->sync(log->impl, pos, err) : PR_OK;
}

pr_status pr_log_reader_open(pr_event_log *log, const pr_log_start *start,
                             pr_log_reader **out, pr_err *err) {
    if (out) *out = NULL;
    if (!log || !out) return pr_err_set(err, PR_ERR_INVALID, "log reader: no log");
    pr_log_start def = {.kind = PR_LOG_FROM_START};
    if (!start) start = &def;
    if (start->kind != PR_LOG_FROM_START && start->kind != PR_LOG_FROM_TIME &&
        start->kind != PR_LOG_AFTER_POS && start->kind != PR_LOG_CONSUMER)
        return pr_err_set(err, PR_ERR_INVALID, "log reader: unknown start kind %d",
                          (int)start->kind);
    if (start->kind == PR_LOG_CONSUMER && !consumer_name_ok(start->consumer))
        return pr_err_set(err, PR_ERR_INVALID,
                          "log reader: consumer name '%.80s' (expected 1..%d of "
                          "[A-Za-z0-9_.-], not starting with '.')",
                          start->consumer ? start->consumer : "", PR_LOG_CONSUMER_MAX);
    if (start->kind == PR_LOG_CONSUMER && !log->api->commit)
        return pr_err_set(err, PR_ERR_UNSUPPORTED, "log reader: the %s backend has no consumers",
                          log->api->name);
    if (start->skip_corrupt && !log->api->corrupt)
        return pr_err_set(err, PR_ERR_UNSUPPORTED,
                          "log reader: the %s backend cannot skip corrupt records yet",
                          log->api->name);
    pr_log_reader *r = calloc(1, sizeof *r);
    if (!r) return pr_err_set(err, PR_ERR_NOMEM, "log reader: out of memory");
    r->api = log->api;
    r->consumer = start->kind == PR_LOG_CONSUMER;
    pr_status st = log->api->reader_open(log->impl, start, &r->impl, &r->skipped, err);
    if (st != PR_OK) {
        free(r);
        return st;
    }
    *out = r;
    return PR_OK;
}

pr_status pr_log_next(pr_log_reader *r, pr_log_record *out, pr_err *err) {
    if (!r || !out) return pr_err_set(err, PR_ERR_INVALID, "log next: no reader");
    return r->api->next(r->impl, out, err);
}

int pr_log_reader_skipped(const pr_log_reader *r) { return r ? r->skipped : 0; }

uint64_t pr_log_reader_corrupt(const pr_log_reader *r) {
    return r && r->api->corrupt ? r->api->corrupt(r->impl) : 0;
}

const char *pr_log_reader_commit_meta(const pr_log_reader *r) {
    return r && r->consumer ? r->api->commit_meta(r->impl) : NULL;
}

pr_status pr_log_commit(pr_log_reader *r, pr_log_pos pos, const char *meta, pr_err *err) {
    if (!r) return pr_err_set(err, PR_ERR_INVALID, "log commit: no reader");
    if (meta && strlen(meta) > PR_LOG_COMMIT_META_MAX)
        return pr_err_set(err, PR_ERR_LIMIT, "log commit: %zu bytes of meta (max %d)",
                          strlen(meta), PR_LOG_COMMIT_META_MAX);
    if (!r->consumer)
        return pr_err_set(err, PR_ERR_INVALID,
                          "log commit: the reader was not opened for a named consumer");
    if (r->committed && pr_log_pos_cmp(pos, r->last_commit) < 0)
        return pr_err_set(err, PR_ERR_INVALID,
                          "log commit: position before the reader's last commit");
    pr_status st = r->api->commit(r->impl, pos, meta ? meta : "", err);
    if (st == PR_OK) {
        r->committed = 1;
        r->last_commit = pos;
    }
    return st;
}

void pr_log_reader_close(pr_log_reader *r) {
    if (!r) return;
    r->api->reader_close(r->impl);
    free(r);
}

int pr_log_pos_cmp(pr_log_pos a, pr_log_pos b) {
    if (a.a != b.a) return a.a < b.a ? -1 : 1;
    if (a.b != b.b) return a.b < b.b ? -1 : 1;
    return 0;
}

void pr_log_pos_format(const pr_event_log *log, pr_log_pos pos, char *buf, size_t cap) {
    if (!buf || !cap) return;
    if (!log) {
        buf[0] = 0;
        return;
    }
    log->api->pos_format(pos, buf, cap);
}

pr_status pr_log_pos_parse(const pr_event_log *log, const char *text, pr_log_pos *out,
                           pr_err *err) {
    if (!log || !text || !out)
        return pr_err_set(err, PR_ERR_INVALID, "log position: nothing to parse");
    return log->api->pos_parse(text, out, err);
}

void pr_log_stats_get(pr_event_log *log, pr_log_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (log) log->api->stats(log->impl, out);
}

pr_status pr_log_consumers(pr_event_log *log,
                           int (*fn)(void *ctx, const pr_log_consumer_info *c), void *ctx,
                           pr_err *err) {
    if (!log || !fn) return pr_err_set(err, PR_ERR_INVALID, "log consumers: no log");
    if (!log->api->consumers)
        return pr_err_set(err, PR_ERR_UNSUPPORTED, "log consumers: the %s backend cannot list them",
                          log->api->name);
    return log->api->consumers(log->impl, fn, ctx, err);
}

/* verify for a backend without its own: every record through a reader. */
static pr_status verify_by_reading(pr_event_log *log, pr_log_progress_fn progress, void *ctx,
                                   pr_log_verify_report *out, pr_err *err) {
    pr_log_stats s;
    pr_log_stats_get(log, &s);
    pr_log_reader *r;
    pr_status st = pr_log_reader_open(log, NULL, &r, err);
    if (st != PR_OK) return st;
    pr_log_record rec;
    while ((st = pr_log_next(r, &rec, err)) == PR_OK) {
        out->records++;
        out->bytes += rec.payload.len;
        if (progress && !(out->records & 4095)) progress(ctx, out->records, s.records);
    }
    pr_log_reader_close(r);
    return st == PR_EOF ? PR_OK : st;
}

pr_status pr_log_verify(pr_event_log *log, pr_log_progress_fn progress, void *ctx,
                        pr_log_verify_report *out, pr_err *err) {
    pr_log_verify_report tmp;
    if (!out) out = &tmp;
    memset(out, 0, sizeof *out);
    if (!log) return pr_err_set(err, PR_ERR_INVALID, "log verify: no log");
    if (!log->api->verify) return verify_by_reading(log, progress, ctx, out, err);
    return log->api->verify(log->impl, progress, ctx, out, err);
}

pr_status pr_log_compact(pr_event_log *log, const pr_log_compact_opts *o,
                         pr_log_compact_result *out, pr_err *err) {
    pr_log_compact_result tmp;
    pr_log_compact_opts def = {0};
    if (!out) out = &tmp;
    if (!o) o = &def;
    memset(out, 0, sizeof *out);
    if (!log) return pr_err_set(err, PR_ERR_INVALID, "log compact: no log");
    if (log->mode != PR_LOG_WRITE)
        return pr_err_set(err, PR_ERR_INVALID, "log compact: the log is open read-only");
    if (!log->api->compact)
        return pr_err_set(err, PR_ERR_UNSUPPORTED, "log compact: the %s backend has nothing to compact",
                          log->api->name);
    return log->api->compact(log->impl, o, out, err);
}

const char *pr_log_backend(const pr_event_log *log) {
    return log ? log->api->name : "none";
}
