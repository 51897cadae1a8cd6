/*
 * evlog.c: the server's event log (`pronto serve --log URI`, pronto/log.h;
 * the records and payloads are docs/log.md "Records pronto writes").
 *
 * Three writers share one pr_event_log handle:
 *   - the events thread (events.c) writes a batch's accepted events in one
 *     pr_log_append_nowait before anything of the batch is applied, applies
 *     them while the fsync runs, and waits for pr_log_sync before the
 *     answer: a 200 means the events are as durable as the log's fsync
 *     policy says. A failed sync (after the batch was applied) keeps copies
 *     of its events (pending): the reopen writes again those it does not
 *     find in the log;
 *   - the logger thread appends prediction and feature records that the
 *     HTTP threads queue (pr__elog_enqueue), all queued records in one
 *     append, so a predict never waits for a write or an fsync. The queue
 *     is bounded (--log-queue records, 64 MiB); past it, or while the log
 *     is down, records are dropped and counted, never waited for;
 *   - a reopen (events thread, ingest mu held) swaps the handle.
 * The logger's appends hold lk shared, the reopen exclusive: the handle
 * never changes under an append (the events thread, which alone reopens,
 * needs no lock for its own).
 *
 * Down and up. Any failed append marks the log down (the error kept for
 * the 503 answers and /readyz). While down, event batches are refused at
 * once with 503 and predictions' records dropped. A reopen is tried on the
 * events thread: by the next batch once the backoff elapsed, or by a job
 * the ticker queues (every 100 ms it checks). The backoff starts at 50 ms
 * and doubles up to 2 s while reopens fail or reopened logs fail again
 * before any append worked; a working append resets it. Reopening is what a log:DIR needs after a failed fsync (the handle
 * refuses appends until then) and costs one scan of its last segment;
 * other failures (a full disk, a Redis that went away) heal the same way.
 * After a reopen, records past the newest position known to be in the log
 * (the last acknowledged batch or the start's tail) are read back: the
 * events of a batch whose append was reported failed but reached the log
 * anyway (an fsync error after the write, a Redis reply lost) are applied
 * to the store and their ids remembered, so a client's retry is a
 * duplicate and the log holds each event once.
 *
 * Exactly once across restarts: at start the duplicate-id set is seeded
 * from the event records at the log's end, found through its time index:
 * a reader from max_ts - d, d growing each try (at least doubled, else as
 * far as the rate of events seen predicts for the ids still wanted), until
 * it has seen --event-ids event records or d reaches back past min_ts or
 * past --max-event-age (an older event is refused anyway, so its id cannot
 * come back as accepted).
 * Each try reads from its time to the end; the ids kept are the newest
 * --event-ids in log order. Cost, bounded by the window: docs/benchmarks.md.
 *
 * Ownership: the server owns the handle, the queue and its items; an item's
 * payload belongs to the queue from pr__elog_enqueue on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve_int.h"

#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 2000u
#define QUEUE_MAX_BYTES ((size_t)64 << 20)
#define LOGGER_BATCH 4096u

static void lat_add(pr__elog *l, int src, uint64_t ns) {
    double us = (double)ns / 1000.0;
    unsigned b = 0;
    while (b < PR__LAT_BUCKETS && us > pr__lat_bounds_us[b]) b++;
    pr__metrics_add(&l->lat_bucket[src][b], 1);
    pr__metrics_add(&l->lat_sum_ns[src], ns);
    pr__metrics_add(&l->lat_count[src], 1);
}

int pr__elog_up(pr__elog *l) { return __atomic_load_n(&l->up, __ATOMIC_ACQUIRE); }

/* Marks the log down after a failure (any thread). */
static void mark_down(pr_server *s, const char *msg) {
    pr__elog *l = &s->elog;
    pthread_mutex_lock(&l->mu);
    int was_up = __atomic_exchange_n(&l->up, 0, __ATOMIC_ACQ_REL);
    snprintf(l->err_msg, sizeof l->err_msg, "%s", msg);
    if (was_up) {
        if (!__atomic_load_n(&l->fresh, __ATOMIC_RELAXED)) l->backoff_ms = BACKOFF_MIN_MS / 2;
        l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
        l->next_try_ns = pr__mono_ns() + (uint64_t)l->backoff_ms * 1000000u;
    }
    pthread_mutex_unlock(&l->mu);
    pr__metrics_add(&l->errors, 1);
    if (was_up && !s->o.quiet) pr_log(PR_LOG_WARN, "serve: event log down: %s", msg);
}

static void free_items(pr__lq_item *it) {
    while (it) {
        pr__lq_item *next = it->next;
        free(it->p);
        free(it);
        it = next;
    }
}

/* ---------------------------------------------------------------- seeding */

typedef struct ring {
    uint64_t *ids;
    size_t cap, n, head;  /* the last cap ids, oldest at head */
} ring;

static void ring_push(ring *r, uint64_t id) {
    if (r->n < r->cap) {
        r->ids[(r->head + r->n++) % r->cap] = id;
    } else {
        r->ids[r->head] = id;
        r->head = (r->head + 1) % r->cap;
    }
}

/* The event id of an event record's payload (the server's own parser), or
 * 0 with *ok 0. ev: OUT, when given. */
static int payload_event(pr_server *s, pr_bytes payload, pr_fs_event *ev) {
    pr_err err;
    pr_arena_reset(&s->ingest.apply_arena);
    if (pr_fs_event_parse(s->ingest.fs, payload.ptr, payload.len, &s->ingest.apply_arena, ev,
                          &err) != PR_OK)
        return 0;
    return ev->has_event_id;
}

/* Reads from time t to the end: the newest ids into r (emptied first),
 * the event records counted in *events, the records in *records. */
static pr_status read_tail(pr_server *s, int64_t t, ring *r, uint64_t *events,
                           uint64_t *records, pr_err *err) {
    pr_log_start st = {.kind = PR_LOG_FROM_TIME, .from_ms = t};
    pr_log_reader *rd;
    pr_status rc = pr_log_reader_open(s->elog.log, &st, &rd, err);
    if (rc != PR_OK) return rc;
    r->n = r->head = 0;
    *events = 0;
    pr_log_record rec;
    while ((rc = pr_log_next(rd, &rec, err)) == PR_OK) {
        (*records)++;
        s->elog.have_last = 1;
        s->elog.last = rec.pos;
        pr_fs_event ev;
        if (rec.type != PR_LOG_TYPE_EVENT || !payload_event(s, rec.payload, &ev)) continue;
        ring_push(r, ev.event_id);
        (*events)++;
    }
    pr_log_reader_close(rd);
    return rc == PR_EOF ? PR_OK : rc;
}

static pr_status seed_ids(pr_server *s, pr_err *err) {
    pr__elog *l = &s->elog;
    pr_log_stats ls;
    pr_log_stats_get(l->log, &ls);
    if (!ls.records) return PR_OK;
    double t0 = pr_now();
    ring r = {.cap = s->ingest.ids.cap};
    r.ids = malloc(r.cap * sizeof *r.ids);
    if (!r.ids) return pr_err_set(err, PR_ERR_NOMEM, "out of memory for %zu event ids", r.cap);
    /* Events older than this are refused when posted: their ids need no
     * remembering (and the set remembers --event-ids at most anyway). */
    int64_t floor = pr__now_ms() - s->ingest.max_behind_ms;
    if (floor < ls.min_ts_ms) floor = ls.min_ts_ms;
    int64_t d = 60 * 1000;
    uint64_t events = 0;
    pr_status rc = PR_OK;
    for (;;) {
        int64_t t = ls.max_ts_ms - d;
        int last = t <= floor || d > (INT64_MAX / 8);
        if (last) t = floor;
        rc = read_tail(s, t, &r, &events, &l->seed_records, err);
        if (rc != PR_OK || last || events >= r.cap) break;
        /* the next try reaches back as far as the rate seen predicts for
         * the ids wanted (a fifth more), at least twice as far */
        double want = events ? (double)d * 1.2 * (double)r.cap / (double)events : 4.0 * (double)d;
        d = want > 2.0 * (double)d ? (want < (double)(INT64_MAX / 8) ? (int64_t)want : INT64_MAX / 8)
                                   : 2 * d;
    }
    if (rc == PR_OK) {
        for (size_t i = 0; i < r.n; i++) {
            uint64_t id = r.ids[(r.head + i) % r.cap];
            if (!pr__idset_has(&s->ingest.ids, id)) pr__idset_add(&s->ingest.ids, id);
        }
        l->seed_ids = r.n;
    }
    free(r.ids);
    l->seed_seconds = pr_now() - t0;
    if (rc != PR_OK) {
        char why[PR_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        return pr_err_set(err, rc, "event log %s: reading the newest event ids back: %s", l->uri, why);
    }
    if (!s->o.quiet)
        pr_log(PR_LOG_INFO,
               "serve: event log %s: %" PRIu64 " records, %zu event ids remembered from its end "
               "(%" PRIu64 " records read in %.3f s)",
               l->uri, ls.records, r.n, l->seed_records, l->seed_seconds);
    return PR_OK;
}

/* ---------------------------------------------------------------- reopen */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* After a reopen (events thread, ingest mu held), the records past l->last:
 * events of a failed append that reached the log anyway are applied (and
 * remembered) if they were not; events applied whose sync failed
 * (l->pending) and that are not in the log are written again. 0 if that
 * write failed (the log stays down, pending kept). */
static int reconcile(pr_server *s, pr_err *err) {
    pr__elog *l = &s->elog;
    pr_log_start st = {.kind = l->have_last ? PR_LOG_AFTER_POS : PR_LOG_FROM_START};
    st.after = l->last;
    pr_log_reader *rd;
    if (pr_log_reader_open(l->log, &st, &rd, err) != PR_OK) {
        if (!s->o.quiet) pr_log(PR_LOG_WARN, "serve: event log reopened, not reread: %s", err->msg);
        return !l->pending;
    }
    pr_log_record rec;
    uint64_t applied = 0, *seen = NULL;
    size_t n_seen = 0, cap_seen = 0;
    pr_status rc;
    while ((rc = pr_log_next(rd, &rec, err)) == PR_OK) {
        l->have_last = 1;
        l->last = rec.pos;
        pr_fs_event ev;
        if (rec.type != PR_LOG_TYPE_EVENT || !payload_event(s, rec.payload, &ev)) continue;
        if (n_seen == cap_seen) {
            size_t c = cap_seen ? 2 * cap_seen : 1024;
            uint64_t *ns = realloc(seen, c * sizeof *ns);
            if (ns) {
                seen = ns;
                cap_seen = c;
            }
        }
        if (n_seen < cap_seen) seen[n_seen++] = ev.event_id;
        if (pr__idset_has(&s->ingest.ids, ev.event_id)) continue;
        pr_err aerr;
        if (s->is_mem) pthread_rwlock_wrlock(&s->state_lock);
        pr_status ar = pr_fs_apply_event(s->ingest.fs, &ev, &s->ingest.apply_arena, &aerr);
        if (s->is_mem) pthread_rwlock_unlock(&s->state_lock);
        pr__idset_add(&s->ingest.ids, ev.event_id); /* in the log: taken, once */
        if (ar == PR_OK) applied++;
    }
    pr_log_reader_close(rd);
    if (applied) {
        pr__metrics_add(&l->recovered, applied);
        pr__metrics_add(&s->metrics.events_applied, applied);
        if (!s->o.quiet)
            pr_log(PR_LOG_INFO,
                   "serve: event log reopened: %" PRIu64 " events of failed appends were in it "
                   "after all, applied",
                   applied);
    }
    int ok = 1;
    if (l->pending) {
        if (seen) qsort(seen, n_seen, sizeof *seen, cmp_u64);
        uint32_t n = 0;
        for (pr__lq_item *it = l->pending; it; it = it->next) n++;
        pr_log_entry *e = malloc((n ? n : 1) * sizeof *e);
        uint32_t k = 0;
        for (pr__lq_item *it = l->pending; e && it; it = it->next) {
            pr_fs_event ev;
            if (payload_event(s, pr_bytes_of(it->p, it->len), &ev) && seen &&
                bsearch(&ev.event_id, seen, n_seen, sizeof *seen, cmp_u64))
                continue; /* it reached the disk after all */
            e[k++] = (pr_log_entry){PR_LOG_TYPE_EVENT, it->ts_ms, pr_bytes_of(it->p, it->len)};
        }
        pr_log_pos last;
        pr_status wr = !e ? PR_ERR_NOMEM : k ? pr_log_append(l->log, e, k, &last, err) : PR_OK;
        free(e);
        if (wr == PR_OK) {
            if (k) {
                l->last = last;
                l->have_last = 1;
                pr__metrics_add(&l->appended[PR__LREC_EVENT], k);
            }
            if (!s->o.quiet)
                pr_log(PR_LOG_INFO,
                       "serve: event log reopened: %u events applied before a failed sync written "
                       "again (%u were in it)",
                       k, n - k);
            free_items(l->pending);
            l->pending = NULL;
        } else {
            ok = 0;
        }
    }
    free(seen);
    return ok;
}

/* Closes and reopens the log. Events thread, ingest mu held. */
static int try_reopen(pr_server *s, pr_err *err) {
    pr__elog *l = &s->elog;
    pthread_rwlock_wrlock(&l->lk);
    pr_log_close(l->log);
    l->log = NULL;
    pr_status rc = pr_log_open(l->uri, PR_LOG_WRITE, &l->log, err);
    pthread_rwlock_unlock(&l->lk);
    pr__metrics_add(&l->reopens, 1);
    if (rc == PR_OK && !reconcile(s, err)) {
        char why[PR_ERR_MSG_MAX];
        snprintf(why, sizeof why, "writing again the events of a failed sync: %.400s", err->msg);
        pr_err_set(err, PR_ERR_IO, "%s", why);
        rc = PR_ERR_IO;
    }
    if (rc != PR_OK) {
        pthread_mutex_lock(&l->mu);
        snprintf(l->err_msg, sizeof l->err_msg, "reopen failed: %.480s", err->msg);
        l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
        l->next_try_ns = pr__mono_ns() + (uint64_t)l->backoff_ms * 1000000u;
        pthread_mutex_unlock(&l->mu);
        pr__metrics_add(&l->errors, 1);
        return 0;
    }
    __atomic_store_n(&l->fresh, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&l->up, 1, __ATOMIC_RELEASE);
    if (!s->o.quiet) pr_log(PR_LOG_INFO, "serve: event log %s reopened, up", l->uri);
    return 1;
}

/* Reopens when down and the backoff elapsed (events thread, ingest mu). */
static void maybe_reopen(pr_server *s) {
    pr__elog *l = &s->elog;
    if (pr__elog_up(l)) return;
    pthread_mutex_lock(&l->mu);
    int due = pr__mono_ns() >= l->next_try_ns;
    pthread_mutex_unlock(&l->mu);
    pr_err err;
    if (due) try_reopen(s, &err);
}

void pr__elog_reopen_job(pr_server *s) {
    pthread_mutex_lock(&s->ingest.mu);
    maybe_reopen(s);
    pthread_mutex_unlock(&s->ingest.mu);
    __atomic_store_n(&s->elog.reopen_queued, 0, __ATOMIC_RELEASE);
}

static void tick(pr_server *s) {
    pr__elog *l = &s->elog;
    if (pr__elog_up(l) || __atomic_load_n(&l->reopen_queued, __ATOMIC_ACQUIRE)) return;
    pthread_mutex_lock(&l->mu);
    int due = pr__mono_ns() >= l->next_try_ns;
    pthread_mutex_unlock(&l->mu);
    if (!due) return;
    __atomic_store_n(&l->reopen_queued, 1, __ATOMIC_RELEASE);
    pr_err err;
    if (pr__jobs_submit_log_reopen(s, &err) != PR_OK)
        __atomic_store_n(&l->reopen_queued, 0, __ATOMIC_RELEASE); /* the next tick */
}

/* ---------------------------------------------------------------- events */

pr_status pr__elog_write_events(pr_server *s, const pr_log_entry *recs, uint32_t n,
                                pr_log_pos *pos, pr_err *err) {
    pr__elog *l = &s->elog;
    maybe_reopen(s);
    if (!pr__elog_up(l)) {
        pthread_mutex_lock(&l->mu);
        pr_err_set(err, PR_ERR_IO, "event log %s is down (%s); retrying it in the background",
                   l->uri, l->err_msg);
        pthread_mutex_unlock(&l->mu);
        return PR_ERR_IO;
    }
    /* Only this thread swaps the handle (a reopen): no lock needed to keep
     * it between write and sync; lk still orders us against nothing else. */
    uint64_t t0 = pr__mono_ns();
    pr_status rc = l->log ? pr_log_append_nowait(l->log, recs, n, pos, err)
                          : pr_err_set(err, PR_ERR_IO, "closed");
    l->t_write_ns = pr__mono_ns() - t0;
    if (rc != PR_OK) {
        lat_add(l, PR__LSRC_EVENTS, l->t_write_ns);
        char why[PR_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        pr_err_set(err, rc, "event log %s: %s", l->uri, why);
        mark_down(s, why);
    }
    return rc;
}

pr_status pr__elog_sync_events(pr_server *s, const pr_log_entry *recs, uint32_t n,
                               pr_log_pos pos, pr_err *err) {
    pr__elog *l = &s->elog;
    uint64_t t0 = pr__mono_ns();
    pr_status rc = pr_log_sync(l->log, pos, err);
    lat_add(l, PR__LSRC_EVENTS, l->t_write_ns + (pr__mono_ns() - t0));
    if (rc == PR_OK) {
        l->have_last = 1;
        l->last = pos;
        __atomic_store_n(&l->fresh, 0, __ATOMIC_RELAXED);
        pr__metrics_add(&l->appended[PR__LREC_EVENT], n);
        return PR_OK;
    }
    char why[PR_ERR_MSG_MAX];
    snprintf(why, sizeof why, "%s", err->msg);
    pr_err_set(err, rc, "event log %s: %s", l->uri, why);
    mark_down(s, why);
    /* Applied to the store but maybe not on disk: kept to be written again. */
    for (uint32_t i = n; i-- > 0;) {
        pr__lq_item *it = malloc(sizeof *it);
        char *p = malloc(recs[i].payload.len ? recs[i].payload.len : 1);
        if (!it || !p) {
            free(it);
            free(p);
            continue;
        }
        memcpy(p, recs[i].payload.ptr, recs[i].payload.len);
        *it = (pr__lq_item){l->pending, PR__LREC_EVENT, recs[i].ts_ms, p, recs[i].payload.len};
        l->pending = it;
    }
    return rc;
}

/* ---------------------------------------------------------------- logger */

static const uint32_t rec_type[PR__LREC_N] = {PR_LOG_TYPE_EVENT, PR_LOG_TYPE_PREDICTION,
                                             PR_LOG_TYPE_FEATURES};

static void count_items(pr__elog *l, const pr__lq_item *it, uint64_t *by_kind) {
    (void)l;
    for (int k = 0; k < PR__LREC_N; k++) by_kind[k] = 0;
    for (; it; it = it->next) by_kind[it->kind]++;
}

/* Appends a chain of items in one call; counts what happened. */
static void write_items(pr_server *s, pr__lq_item *items, uint32_t n, pr_log_entry *e) {
    pr__elog *l = &s->elog;
    uint64_t by_kind[PR__LREC_N];
    count_items(l, items, by_kind);
    uint32_t i = 0;
    for (pr__lq_item *it = items; it; it = it->next, i++)
        e[i] = (pr_log_entry){rec_type[it->kind], it->ts_ms, pr_bytes_of(it->p, it->len)};
    pr_status rc = PR_ERR_IO;
    pr_err err;
    pr_err_clear(&err);
    if (pr__elog_up(l)) {
        uint64_t t0 = pr__mono_ns();
        pthread_rwlock_rdlock(&l->lk);
        rc = l->log ? pr_log_append(l->log, e, n, NULL, &err) : PR_ERR_IO;
        pthread_rwlock_unlock(&l->lk);
        lat_add(l, PR__LSRC_LOGGER, pr__mono_ns() - t0);
        if (rc != PR_OK) mark_down(s, err.msg[0] ? err.msg : "the log is closed");
        else __atomic_store_n(&l->fresh, 0, __ATOMIC_RELAXED);
    }
    for (int k = 0; k < PR__LREC_N; k++)
        pr__metrics_add(rc == PR_OK ? &l->appended[k] : &l->dropped[k], by_kind[k]);
}

static void *logger_main(void *arg) {
    pr_server *s = arg;
    pr__elog *l = &s->elog;
    pr_log_entry *e = malloc(LOGGER_BATCH * sizeof *e);
    pr__lower_priority();
    pthread_mutex_lock(&l->qmu);
    for (;;) {
        while (!l->head && !l->stop) pthread_cond_wait(&l->qcv, &l->qmu);
        if (!l->head) break; /* stop, and nothing left */
        /* take up to LOGGER_BATCH records */
        pr__lq_item *first = l->head, *it = first;
        uint32_t n = 1;
        size_t bytes = it->len;
        while (it->next && n < LOGGER_BATCH) {
            it = it->next;
            n++;
            bytes += it->len;
        }
        l->head = it->next;
        if (!l->head) l->tail = NULL;
        it->next = NULL;
        l->q_n -= n;
        l->q_bytes -= bytes;
        pthread_mutex_unlock(&l->qmu);
        if (e) {
            write_items(s, first, n, e);
        } else {
            uint64_t by_kind[PR__LREC_N];
            count_items(l, first, by_kind);
            for (int k = 0; k < PR__LREC_N; k++) pr__metrics_add(&l->dropped[k], by_kind[k]);
        }
        free_items(first);
        pthread_mutex_lock(&l->qmu);
    }
    pthread_mutex_unlock(&l->qmu);
    free(e);
    return NULL;
}

void pr__elog_enqueue(pr_server *s, uint32_t kind, int64_t ts_ms, char *p, size_t len) {
    pr__elog *l = &s->elog;
    pr__lq_item *it = NULL;
    if (p && pr__elog_up(l)) it = malloc(sizeof *it);
    if (it) {
        *it = (pr__lq_item){NULL, kind, ts_ms, p, len};
        pthread_mutex_lock(&l->qmu);
        if (!l->stop && l->q_n < l->q_max_n && l->q_bytes + len <= l->q_max_bytes) {
            if (l->tail) l->tail->next = it;
            else l->head = it;
            l->tail = it;
            l->q_n++;
            l->q_bytes += len;
            int wake = l->q_n == 1; /* the logger sleeps only on an empty queue */
            pthread_mutex_unlock(&l->qmu);
            if (wake) pthread_cond_signal(&l->qcv);
            return;
        }
        pthread_mutex_unlock(&l->qmu);
        free(it);
    }
    free(p);
    pr__metrics_add(&l->dropped[kind], 1);
}

size_t pr__elog_request_id(pr_server *s, char *buf, size_t cap) {
    uint64_t n = __atomic_add_fetch(&s->elog.id_seq, 1, __ATOMIC_RELAXED);
    int k = snprintf(buf, cap, "%016" PRIx64 "-%" PRIu64, s->elog.id_prefix, n);
    return k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
}

int pr__elog_sampled(const pr_server *s, pr_bytes request_id) {
    double rate = s->elog.features_rate;
    if (rate <= 0) return 0;
    if (rate >= 1) return 1;
    uint64_t h = pr_hash64(request_id.ptr, request_id.len, 0x70726f6e746f6c67ull);
    return (double)(h >> 11) * 0x1p-53 < rate;
}

/* ---------------------------------------------------------------- life */

pr_status pr__elog_start(pr_server *s, pr_err *err) {
    pr__elog *l = &s->elog;
    /* request ids: unique across restarts by the start time and pid */
    uint64_t seed = (uint64_t)pr__mono_ns() ^ ((uint64_t)pr__now_ms() << 20) ^
                    ((uint64_t)getpid() << 40);
    l->id_prefix = pr_splitmix64(&seed);
    if (!s->o.log_uri) return PR_OK;
    l->features_rate = s->o.log_features;
    l->q_max_n = s->o.log_queue ? s->o.log_queue : 65536;
    l->q_max_bytes = QUEUE_MAX_BYTES;
    pthread_rwlock_init(&l->lk, NULL);
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->qmu, NULL);
    pthread_cond_init(&l->qcv, NULL);
    l->inited = 1;
    l->uri = strdup(s->o.log_uri);
    if (!l->uri) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    pr_status rc = pr_log_open(l->uri, PR_LOG_WRITE, &l->log, err);
    if (rc != PR_OK) {
        char why[PR_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        return pr_err_set(err, rc, "event log %s: %s", l->uri, why);
    }
    if ((rc = seed_ids(s, err)) != PR_OK) return rc;
    __atomic_store_n(&l->up, 1, __ATOMIC_RELEASE);
    if (pthread_create(&l->th, NULL, logger_main, s) != 0)
        return pr_err_set(err, PR_ERR_NOMEM, "cannot start the event logger thread");
    l->started = 1;
    return pr__ticker_start(&l->tick, 100, tick, s, "event log reopener", err);
}

void pr__elog_stop(pr_server *s) {
    pr__elog *l = &s->elog;
    if (!l->inited) return;
    pr__ticker_stop(&l->tick);
    if (l->started) {
        pthread_mutex_lock(&l->qmu);
        l->stop = 1;
        pthread_cond_signal(&l->qcv);
        pthread_mutex_unlock(&l->qmu);
        pthread_join(l->th, NULL); /* it appends what is queued first */
        l->started = 0;
    }
    free_items(l->head);
    l->head = l->tail = NULL;
    free_items(l->pending);
    l->pending = NULL;
    pr_log_close(l->log);
    l->log = NULL;
    pthread_rwlock_destroy(&l->lk);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->qmu);
    pthread_cond_destroy(&l->qcv);
    l->inited = 0;
    free(l->uri);
    l->uri = NULL;
}

/* ---------------------------------------------------------------- metrics */

void pr__elog_render(pr_server *s, pr__tb *o) {
    static const char *const kinds[PR__LREC_N] = {"event", "prediction", "features"};
    static const char *const srcs[PR__LSRC_N] = {"events", "predictions"};
    pr__elog *l = &s->elog;
    if (!pr__elog_on(l)) return;
    pr__tb_puts(o, "# HELP pronto_log_appended_total records appended to the event log, by type\n"
                   "# TYPE pronto_log_appended_total counter\n");
    for (int k = 0; k < PR__LREC_N; k++)
        pr__tb_printf(o, "pronto_log_appended_total{type=\"%s\"} %llu\n", kinds[k],
                      (unsigned long long)__atomic_load_n(&l->appended[k], __ATOMIC_RELAXED));
    pr__tb_puts(o, "# HELP pronto_log_dropped_total prediction and feature records not logged "
                   "(queue full or log down), by type\n"
                   "# TYPE pronto_log_dropped_total counter\n");
    for (int k = PR__LREC_PREDICTION; k < PR__LREC_N; k++)
        pr__tb_printf(o, "pronto_log_dropped_total{type=\"%s\"} %llu\n", kinds[k],
                      (unsigned long long)__atomic_load_n(&l->dropped[k], __ATOMIC_RELAXED));
    pr__tb_printf(o,
                  "# HELP pronto_log_errors_total failed appends and reopens of the event log\n"
                  "# TYPE pronto_log_errors_total counter\npronto_log_errors_total %llu\n",
                  (unsigned long long)__atomic_load_n(&l->errors, __ATOMIC_RELAXED));
    pr__tb_printf(o,
                  "# HELP pronto_log_reopens_total reopen attempts of the event log after a "
                  "failure\n# TYPE pronto_log_reopens_total counter\npronto_log_reopens_total "
                  "%llu\n",
                  (unsigned long long)__atomic_load_n(&l->reopens, __ATOMIC_RELAXED));
    pr__tb_printf(o,
                  "# HELP pronto_log_recovered_events_total events of appends reported failed "
                  "found in the log at a reopen (then applied)\n"
                  "# TYPE pronto_log_recovered_events_total counter\n"
                  "pronto_log_recovered_events_total %llu\n",
                  (unsigned long long)__atomic_load_n(&l->recovered, __ATOMIC_RELAXED));
    pr__tb_printf(o,
                  "# HELP pronto_log_up 1 while the event log takes appends (0: events get 503, "
                  "predictions are not logged)\n# TYPE pronto_log_up gauge\npronto_log_up %d\n",
                  pr__elog_up(l));
    pthread_mutex_lock(&l->qmu);
    size_t qn = l->q_n;
    pthread_mutex_unlock(&l->qmu);
    pr__tb_printf(o,
                  "# HELP pronto_log_queue_records prediction and feature records waiting for "
                  "the logger thread\n# TYPE pronto_log_queue_records gauge\n"
                  "pronto_log_queue_records %zu\n",
                  qn);
    pr__tb_printf(o,
                  "# HELP pronto_log_seed_event_ids event ids read back from the log at start\n"
                  "# TYPE pronto_log_seed_event_ids gauge\npronto_log_seed_event_ids %llu\n"
                  "# HELP pronto_log_seed_seconds time reading them\n"
                  "# TYPE pronto_log_seed_seconds gauge\npronto_log_seed_seconds %.6f\n",
                  (unsigned long long)l->seed_ids, l->seed_seconds);
    pr__tb_puts(o, "# HELP pronto_log_append_duration_seconds one pr_log_append (write and "
                   "fsync per the policy), by who appends\n"
                   "# TYPE pronto_log_append_duration_seconds histogram\n");
    for (int r = 0; r < PR__LSRC_N; r++) {
        uint64_t n = __atomic_load_n(&l->lat_count[r], __ATOMIC_RELAXED), cum = 0;
        for (int b = 0; b <= PR__LAT_BUCKETS; b++) {
            cum += __atomic_load_n(&l->lat_bucket[r][b], __ATOMIC_RELAXED);
            if (b < PR__LAT_BUCKETS)
                pr__tb_printf(o,
                              "pronto_log_append_duration_seconds_bucket{source=\"%s\",le=\"%g\"} "
                              "%llu\n",
                              srcs[r], pr__lat_bounds_us[b] / 1e6, (unsigned long long)cum);
            else
                pr__tb_printf(o,
                              "pronto_log_append_duration_seconds_bucket{source=\"%s\","
                              "le=\"+Inf\"} %llu\n",
                              srcs[r], (unsigned long long)cum);
        }
        pr__tb_printf(o, "pronto_log_append_duration_seconds_sum{source=\"%s\"} %.9f\n", srcs[r],
                      (double)__atomic_load_n(&l->lat_sum_ns[r], __ATOMIC_RELAXED) / 1e9);
        pr__tb_printf(o, "pronto_log_append_duration_seconds_count{source=\"%s\"} %llu\n",
                      srcs[r], (unsigned long long)n);
    }
}
