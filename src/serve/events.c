/*
 * events.c: POST /v1/events, events into the online store as they come.
 *
 * The body is a JSON array of event objects or JSON lines (docs/events.md).
 * Each event is parsed with the feature store's own parser
 * (pr_fs_event_parse) and applied with pr_fs_apply_event to every
 * aggregate that counts its type, exactly as `pronto materialize` replays
 * a stream, so a posted event moves the features the next request sees.
 *
 * Refused before anything is applied (pr_fs_event_check): a ts outside
 * [now - max_behind, now + max_ahead] by the server's clock (one event in
 * 2100 would otherwise move its entities' windows there and freeze them),
 * and ids too long for a store key. An applied event that some windowed
 * aggregate dropped as older than its window is counted as late (the
 * feature store's late_updates moved while applying it).
 *
 * An array body is validated by the scanner wrapped as {"e":BODY}; its
 * errors are translated back to the client's bytes (body_error).
 *
 * Idempotency: every event needs an event_id; the ids of the last
 * `event_ids` applied events are remembered (pr__idset, a FIFO-evicting
 * hash set), and an event whose id is there is counted as a duplicate and
 * not applied. Retrying a whole batch after a timeout is therefore safe as
 * long as the retry comes within the last `event_ids` events.
 *
 * A batch goes in two steps: every event is parsed, checked and looked
 * up (accept_one: rejected, duplicate of a remembered id or of one earlier
 * in the batch, or accepted, its parse kept in the batch arena), then the
 * accepted ones are applied in order (apply_all). With --log, between the
 * two, the accepted events are written to the event log in one call
 * (pr__elog_write_events) and the batch is applied only if that worked:
 * else it is a 503 with nothing applied or remembered, so a retry is
 * correct. The store update runs while the log's fsync does; the answer
 * waits for it (pr__elog_sync_events): append, apply, wait durable,
 * answer. A failed fsync (rare: the disk failing) leaves a batch applied
 * but maybe not on disk: 503, the ids remembered, and the log's reopen
 * writes again those events it does not find (evlog.c).
 *
 * Accepted events then go to the live-quality thread too (quality.c).
 *
 * One writer: the ingest mutex serializes batches (one pr_fs, two arenas:
 * the batch's parses and one event's update, and for redis one connection
 * of its own); with the mem: store each
 * event is applied under the state write lock (serve_int.h), taken and
 * released per event so a predict waits for one event at most, never for
 * a batch. Batches run on the events job thread (jobs.c), not on the HTTP
 * threads; at shutdown a batch stops at its next event (ingest.cancel):
 * the events not applied are not remembered, so a retry applies them
 * (with --log: a batch already logged is applied whole, one not yet
 * logged not at all).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"

/* ---------------------------------------------------------------- idset */

static size_t id_slot(uint64_t id, size_t mask) {
    uint64_t x = id;
    return (size_t)(pr_splitmix64(&x) & mask);
}

pr_status pr__idset_init(pr__idset *s, size_t cap, pr_err *err) {
    memset(s, 0, sizeof *s);
    if (cap == 0) cap = 1;
    size_t n = 2;
    while (n < 2 * cap) n *= 2; /* load factor <= 1/2 keeps probes short */
    s->slots = calloc(n, sizeof *s->slots);
    s->fifo = calloc(cap, sizeof *s->fifo);
    if (!s->slots || !s->fifo) {
        pr__idset_free(s);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory for %zu event ids", cap);
    }
    s->mask = n - 1;
    s->cap = cap;
    return PR_OK;
}

void pr__idset_free(pr__idset *s) {
    free(s->slots);
    free(s->fifo);
    memset(s, 0, sizeof *s);
}

int pr__idset_has(const pr__idset *s, uint64_t id) {
    uint64_t v = id + 1;
    for (size_t i = id_slot(id, s->mask);; i = (i + 1) & s->mask) {
        if (s->slots[i] == v) return 1;
        if (s->slots[i] == 0) return 0;
    }
}

/* Linear probing deletion by backward shift (Knuth 6.4 Algorithm R): no
 * tombstones, so probes stay short however many ids pass through. */
static void idset_del(pr__idset *s, uint64_t id) {
    uint64_t v = id + 1;
    size_t i = id_slot(id, s->mask);
    while (s->slots[i] != v) {
        if (s->slots[i] == 0) return;
        i = (i + 1) & s->mask;
    }
    for (size_t j = (i + 1) & s->mask;; j = (j + 1) & s->mask) {
        if (s->slots[j] == 0) break;
        size_t home = id_slot(s->slots[j] - 1, s->mask);
        /* j's entry may move to i if its home is not in (i, j] cyclically */
        if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    s->slots[i] = 0;
}

void pr__idset_add(pr__idset *s, uint64_t id) {
    if (s->count == s->cap) { /* full: forget the oldest */
        idset_del(s, s->fifo[s->head]);
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
    size_t i = id_slot(id, s->mask);
    while (s->slots[i] != 0) i = (i + 1) & s->mask;
    s->slots[i] = id + 1;
    s->fifo[(s->head + s->count) % s->cap] = id;
    s->count++;
}

/* ---------------------------------------------------------------- ingest */

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* A batch's ids, to find an event repeated within the batch (open
 * addressing, grown by rehash; id + 1 stored, 0 = empty). */
typedef struct bset {
    uint64_t *slots;
    size_t mask, n;
} bset;

static int bset_has(const bset *b, uint64_t id) {
    if (!b->slots) return 0;
    for (size_t i = id_slot(id, b->mask);; i = (i + 1) & b->mask) {
        if (b->slots[i] == id + 1) return 1;
        if (!b->slots[i]) return 0;
    }
}

static int bset_add(bset *b, uint64_t id) {
    if (!b->slots || 2 * (b->n + 1) > b->mask + 1) {
        size_t cap = b->slots ? 2 * (b->mask + 1) : 64;
        uint64_t *ns = calloc(cap, sizeof *ns);
        if (!ns) return -1;
        for (size_t i = 0; b->slots && i <= b->mask; i++) {
            if (!b->slots[i]) continue;
            size_t j = id_slot(b->slots[i] - 1, cap - 1);
            while (ns[j]) j = (j + 1) & (cap - 1);
            ns[j] = b->slots[i];
        }
        free(b->slots);
        b->slots = ns;
        b->mask = cap - 1;
    }
    size_t i = id_slot(id, b->mask);
    while (b->slots[i]) i = (i + 1) & b->mask;
    b->slots[i] = id + 1;
    b->n++;
    return 0;
}

/* One accepted event: parsed (into the ingest arena), checked, not seen. */
typedef struct accepted {
    pr_fs_event ev;
    pr_bytes text;   /* the object as sent, whitespace around it trimmed */
    const char *what;
    uint64_t n;
} accepted;

typedef struct batch {
    int64_t now_ms;  /* the server's clock when the batch is applied */
    uint64_t applied, duplicates, rejected, failed;
    uint64_t late;   /* applied, but some aggregate dropped it as too old */
    pr__tb errors;  /* JSON array items, the first few */
    uint32_t n_errors;
    accepted *acc;   /* malloc'd */
    size_t n_acc, cap_acc;
    bset seen;
    int nomem;
} batch;

#define MAX_ERRORS 10

static void note_error(batch *b, const char *what, uint64_t n, const char *msg) {
    if (b->n_errors++ >= MAX_ERRORS) return;
    char line[PR_ERR_MSG_MAX + 64];
    snprintf(line, sizeof line, "%s %llu: %s", what, (unsigned long long)n, msg);
    if (b->n_errors > 1) pr__tb_put(&b->errors, ",", 1);
    pr__tb_json_str(&b->errors, line, strlen(line));
}

/* One event's text: parse, check, drop duplicates (remembered or earlier
 * in the batch), keep. Under ingest mu; nothing is applied yet. */
static void accept_one(pr_server *s, const char *text, size_t len, const char *what, uint64_t n,
                       batch *b) {
    pr__ingest *in = &s->ingest;
    pr_err err;
    pr_fs_event ev;
    if (__atomic_load_n(&in->cancel, __ATOMIC_RELAXED)) { /* shutdown: stop at an event */
        b->failed++;
        note_error(b, what, n, "not applied: the server is shutting down");
        return;
    }
    while (len && is_ws(*text)) text++, len--;
    while (len && is_ws(text[len - 1])) len--;
    pr_status rc = pr_fs_event_parse(in->fs, text, len, &in->arena, &ev, &err);
    if (rc == PR_OK && !ev.has_event_id)
        rc = pr_err_set(&err, PR_ERR_PARSE, "no event_id (an integer >= 0; it makes a retry safe)");
    if (rc == PR_OK && !ev.has_ts)
        rc = pr_err_set(&err, PR_ERR_PARSE, "no ts (Unix milliseconds)");
    if (rc == PR_OK)
        rc = pr_fs_event_check(in->fs, &ev, b->now_ms, in->max_ahead_ms, in->max_behind_ms,
                               &err);
    if (rc == PR_OK && pr__elog_on(&s->elog) && len > PR_LOG_PAYLOAD_MAX)
        rc = pr_err_set(&err, PR_ERR_LIMIT, "%zu bytes, more than the event log's record (%u)",
                        len, PR_LOG_PAYLOAD_MAX);
    if (rc != PR_OK) {
        b->rejected++;
        note_error(b, what, n, err.msg);
        return;
    }
    if (pr__idset_has(&in->ids, ev.event_id) || bset_has(&b->seen, ev.event_id)) {
        b->duplicates++;
        return;
    }
    if (b->n_acc == b->cap_acc) {
        size_t cap = b->cap_acc ? 2 * b->cap_acc : 256;
        accepted *na = realloc(b->acc, cap * sizeof *na);
        if (!na) {
            b->nomem = 1;
            return;
        }
        b->acc = na;
        b->cap_acc = cap;
    }
    if (bset_add(&b->seen, ev.event_id) != 0) {
        b->nomem = 1;
        return;
    }
    b->acc[b->n_acc++] = (accepted){ev, pr_bytes_of(text, len), what, n};
}

/* Applies the accepted events (under ingest mu). With the log off, a
 * shutdown stops the batch at an event (the rest not remembered: a retry
 * applies them); with the log on they are in the log already, so all are
 * applied and remembered. */
static void apply_all(pr_server *s, batch *b) {
    pr__ingest *in = &s->ingest;
    int logged = pr__elog_on(&s->elog);
    for (size_t i = 0; i < b->n_acc; i++) {
        accepted *a = &b->acc[i];
        pr_err err;
        if (!logged && __atomic_load_n(&in->cancel, __ATOMIC_RELAXED)) {
            b->failed++;
            note_error(b, a->what, a->n, "not applied: the server is shutting down");
            continue;
        }
        pr_arena_reset(&in->apply_arena);
        pr_fs_stats before, after;
        pr_fs_stats_get(in->fs, &before);
        if (s->is_mem) pthread_rwlock_wrlock(&s->state_lock);
        pr_status rc = pr_fs_apply_event(in->fs, &a->ev, &in->apply_arena, &err);
        if (s->is_mem) pthread_rwlock_unlock(&s->state_lock);
        if (rc != PR_OK) {
            b->failed++;
            if (logged) {
                /* in the log: taken once; the store missed it (rebuilt from
                 * the log by pronto materialize) */
                pr__idset_add(&in->ids, a->ev.event_id);
                char m[PR_ERR_MSG_MAX];
                snprintf(m, sizeof m, "in the event log, but the store update failed: %.440s",
                         err.msg);
                note_error(b, a->what, a->n, m);
            } else {
                note_error(b, a->what, a->n, err.msg);
            }
            continue;
        }
        pr_fs_stats_get(in->fs, &after);
        if (after.late_updates != before.late_updates) b->late++;
        pr__idset_add(&in->ids, a->ev.event_id);
        b->applied++;
    }
}

/* The accepted events' records (*out, malloc'd): raw CR/LF (whitespace
 * between tokens in valid JSON) become spaces, so a payload is one line. */
static pr_status log_entries(pr_server *s, batch *b, pr_log_entry **out, pr_err *err) {
    pr__ingest *in = &s->ingest;
    *out = NULL;
    if (b->n_acc > PR_LOG_BATCH_MAX)
        return pr_err_set(err, PR_ERR_LIMIT, "more than %u events in one request",
                          PR_LOG_BATCH_MAX);
    pr_log_entry *e = malloc(b->n_acc * sizeof *e);
    if (!e) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    pr_status rc = PR_OK;
    for (size_t i = 0; i < b->n_acc && rc == PR_OK; i++) {
        pr_bytes t = b->acc[i].text;
        if (memchr(t.ptr, '\n', t.len) || memchr(t.ptr, '\r', t.len)) {
            char *c = pr_arena_alloc(&in->arena, t.len ? t.len : 1);
            if (!c) {
                rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
                break;
            }
            for (size_t k = 0; k < t.len; k++)
                c[k] = t.ptr[k] == '\n' || t.ptr[k] == '\r' ? ' ' : t.ptr[k];
            t = pr_bytes_of(c, t.len);
        }
        e[i] = (pr_log_entry){PR_LOG_TYPE_EVENT, b->acc[i].ev.ts_ms, t};
    }
    if (rc == PR_OK) *out = e;
    else free(e);
    return rc;
}

/* Where the array that opens body (at `from`) closes: the index after its
 * ']', or 0 if it does not close within body[from..upto). Brackets inside
 * strings do not count; the scanner has validated everything before its
 * error, which is all this reads. */
static size_t array_end(const char *body, size_t from, size_t upto) {
    int depth = 0, in_str = 0;
    for (size_t i = from; i < upto; i++) {
        char c = body[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if ((c == ']' || c == '}') && --depth == 0) {
            return i + 1;
        }
    }
    return 0;
}

/* The scanner's message about the wrapped text {"e":BODY} -> one about the
 * client's own bytes: columns of the body, and nothing about the wrapper's
 * braces (after the array: "expected the end of the body"; at the end:
 * "unexpected end of input"). */
static pr_status body_error(const char *body, size_t len, size_t from, pr_err *err) {
    const char *m = strstr(err->msg, "column ");
    long col = m ? strtol(m + 7, NULL, 10) - 5 : 1; /* 1-based, in the body */
    const char *why = m ? strchr(m, ':') : NULL;
    char msg[PR_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", why ? why + 2 : err->msg);
    if (col < 1) col = 1;
    size_t at = (size_t)col - 1 < len ? (size_t)col - 1 : len;
    size_t end = array_end(body, from, at);
    while (end && end < len && is_ws(body[end])) end++;
    if (end && end < len) { /* the array closed before the error: something follows */
        char c = body[end];
        if (c >= 0x20 && c < 0x7f)
            return pr_err_set(err, PR_ERR_PARSE,
                              "request body: column %zu: expected the end of the body after "
                              "the array, got '%c'",
                              end + 1, c);
        return pr_err_set(err, PR_ERR_PARSE,
                          "request body: column %zu: expected the end of the body after the "
                          "array, got byte 0x%02X",
                          end + 1, (unsigned char)c);
    }
    if (at == len) { /* at the wrapper's '}' or past it: the body ended */
        char *got = strstr(msg, ", got ");
        if (!strncmp(msg, "expected ", 9) && got) {
            *got = '\0';
            return pr_err_set(err, PR_ERR_PARSE,
                              "request body: column %zu: unexpected end of input, %s", len + 1,
                              msg);
        }
        return pr_err_set(err, PR_ERR_PARSE,
                          "request body: column %zu: unexpected end of input", len + 1);
    }
    return pr_err_set(err, PR_ERR_PARSE, "request body: column %ld: %s", col, msg);
}

/* A JSON array body: validated whole by the scanner (wrapped as the value
 * of one key), then walked element by element. */
static pr_status ingest_array(pr_server *s, const char *body, size_t len, size_t from, batch *b,
                              pr_err *err) {
    static const char *const key[] = {"e"};
    pr_json_keys *keys = NULL;
    pr_json_value v;
    char *wrapped = malloc(len + 6);
    pr_status rc = wrapped ? pr_json_keys_new(key, 1, &keys, err)
                           : pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    if (rc != PR_OK) goto done;
    memcpy(wrapped, "{\"e\":", 5);
    memcpy(wrapped + 5, body, len);
    wrapped[len + 5] = '}';
    rc = pr_json_scan(keys, wrapped, len + 6, NULL, &v, err);
    if (rc == PR_ERR_INVALID) rc = PR_OK; /* escapes in strings: values not needed here */
    if (rc == PR_ERR_PARSE) rc = body_error(body, len, from, err);
    if (rc != PR_OK) goto done;
    if (v.kind != PR_JSON_ARRAY) {
        rc = pr_err_set(err, PR_ERR_PARSE, "request body: expected a JSON array or JSON lines");
        goto done;
    }
    pr_bytes arr = pr_bytes_of(body, len), elem;
    size_t pos = 0;
    for (uint64_t i = 0; pr__json_array_next(arr, &pos, &elem); i++)
        accept_one(s, elem.ptr, elem.len, "event", i, b);
done:
    pr_json_keys_free(keys);
    free(wrapped);
    return rc;
}

static void ingest_lines(pr_server *s, const char *body, size_t len, batch *b) {
    uint64_t line = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(body + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - body) : len;
        line++;
        size_t a = i, z = end;
        while (a < z && is_ws(body[a])) a++;
        if (a < z) accept_one(s, body + i, end - i, "line", line, b);
        i = end + 1;
    }
}

/* The accepted events (what the log holds) to the quality thread, under
 * ingest mu so batches reach it in log order. */
static void to_quality(pr_server *s, const batch *b) {
    pr_bytes *t = malloc(b->n_acc * sizeof *t);
    if (!t) {
        pr__metrics_add(&s->qual.dropped[1], 1); /* as a full queue would */
        return;
    }
    for (size_t i = 0; i < b->n_acc; i++) t[i] = b->acc[i].text;
    pr__quality_events(s, t, b->n_acc);
    free(t);
}

static void batch_free(batch *b) {
    pr__tb_free(&b->errors);
    free(b->acc);
    free(b->seen.slots);
}

const char *pr__handle_events(pr_server *s, const char *body, size_t len, unsigned *status,
                              pr__tb *out) {
    static const char *json = "application/json";
    batch b;
    memset(&b, 0, sizeof b);
    b.now_ms = pr__now_ms();
    pr__tb_init(&b.errors, 64 * 1024);
    size_t i = 0;
    while (i < len && is_ws(body[i])) i++;
    if (i == len) {
        *status = 400;
        pr__json_error(out, "request body: no events (send a JSON array or JSON lines)");
        batch_free(&b);
        return json;
    }
    pr_err err, lerr;
    pr_status rc = PR_OK, lrc = PR_OK, src = PR_OK;
    pr_log_entry *recs = NULL;
    pr_log_pos pos;
    pthread_mutex_lock(&s->ingest.mu);
    pr_arena_reset(&s->ingest.arena);
    if (body[i] == '[') rc = ingest_array(s, body, len, i, &b, &err);
    else ingest_lines(s, body, len, &b);
    if (rc == PR_OK && b.nomem) rc = pr_err_set(&err, PR_ERR_NOMEM, "out of memory");
    int logging = rc == PR_OK && pr__elog_on(&s->elog) && b.n_acc;
    if (logging) {
        /* write, apply while the fsync runs, then wait until durable */
        if (__atomic_load_n(&s->ingest.cancel, __ATOMIC_RELAXED))
            lrc = pr_err_set(&lerr, PR_ERR_IO, "the server is shutting down");
        else if ((lrc = log_entries(s, &b, &recs, &lerr)) == PR_OK)
            lrc = pr__elog_write_events(s, recs, (uint32_t)b.n_acc, &pos, &lerr);
    }
    if (rc == PR_OK && lrc == PR_OK) apply_all(s, &b);
    if (logging && lrc == PR_OK)
        src = pr__elog_sync_events(s, recs, (uint32_t)b.n_acc, pos, &lerr);
    if (rc == PR_OK && lrc == PR_OK && b.n_acc && pr__quality_on(s)) to_quality(s, &b);
    pthread_mutex_unlock(&s->ingest.mu);
    free(recs);
    if (lrc == PR_ERR_LIMIT) { /* too many events for one append: the client's to split */
        rc = lrc;
        err = lerr;
    } else if (lrc != PR_OK) {
        b.failed += b.n_acc; /* nothing of it applied, nothing remembered */
    }
    pr__metrics_add(&s->metrics.events_applied, b.applied);
    pr__metrics_add(&s->metrics.events_duplicate, b.duplicates);
    pr__metrics_add(&s->metrics.events_rejected, b.rejected);
    pr__metrics_add(&s->metrics.events_failed, b.failed);
    pr__metrics_add(&s->metrics.events_late, b.late);
    if (rc != PR_OK) {
        *status = rc == PR_ERR_NOMEM ? 500 : 400;
        pr__json_error(out, err.msg);
    } else {
        *status = b.failed || src != PR_OK ? 503
                  : (b.rejected && !b.applied && !b.duplicates) ? 400 : 200;
        pr__tb_puts(out, "{");
        if (lrc != PR_OK || src != PR_OK) {
            char m[PR_ERR_MSG_MAX + 256];
            snprintf(m, sizeof m,
                     lrc != PR_OK ? "%s; nothing of this batch was applied, retry it"
                                  : "%s; the batch was applied but may not be on disk: it is "
                                    "written again when the log reopens, and a retry is "
                                    "answered as duplicates",
                     lerr.msg);
            pr__tb_puts(out, "\"error\":");
            pr__tb_json_str(out, m, strlen(m));
            pr__tb_puts(out, ",");
        }
        pr__tb_printf(out,
                      "\"applied\":%llu,\"duplicates\":%llu,\"rejected\":%llu,\"failed\":%llu,"
                      "\"late\":%llu,\"errors\":[",
                      (unsigned long long)b.applied, (unsigned long long)b.duplicates,
                      (unsigned long long)b.rejected, (unsigned long long)b.failed,
                      (unsigned long long)b.late);
        if (b.errors.len) pr__tb_put(out, b.errors.p, b.errors.len);
        pr__tb_puts(out, "]}\n");
    }
    batch_free(&b);
    return json;
}
