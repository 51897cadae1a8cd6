/*
 * joiner.c: the label joiner (pronto/stream.h, docs/joiner.md).
 *
 * Structure. Every impression id the joiner is waiting on has one entry in
 * a slab (`entries`, reused through a free list), found by id through
 * `by_imp` (pr__tsidmap: impression id -> slab index). An entry is either an
 * impression (has_imp) or an "orphan": clicks/conversions whose impression
 * has not arrived yet (it may, out of order, within the lateness). Each
 * entry has a close key:
 *   impression  t + window      final once watermark > key
 *   orphan      max event ts    once watermark > key no impression with
 *                               ts <= it can still be accepted
 * `closing` is a min-queue of (key, impression id, entry index)
 * (pr__tsqueue: a FIFO for the nodes that arrive in order, the usual case,
 * and a heap for the rest). An entry whose key changes gets a new node; the
 * old one is recognised as stale on pop (its entry was freed, reused for
 * another id, or has another key now) and skipped. Poll pops nodes whose
 * key < watermark: impressions come out labeled in (t + window, id) order,
 * i.e. (t, id) order, orphans are counted as unattributed and dropped. A newly
 * accepted impression has t >= watermark, so its key exceeds every key
 * already emitted: the output order is global, not per poll.
 *
 * Deduplication. `seen` holds the event ids accepted whose ts is at least
 * watermark - dedup_horizon; `seen_expiry` (a queue by ts) evicts the rest.
 * An older duplicate has ts < watermark and is dropped as too late anyway.
 *
 * Memory is thus bounded by the events of one window + lateness (+ horizon),
 * never by the stream's length.
 *
 * Ownership. The joiner owns its entries and their payload copies, which
 * live in a chunked pool (pr__payloads: impressions close in about the
 * order they arrive, so chunks empty in turn and are reused without
 * malloc). The payload handed out by poll stays allocated until the next
 * call (`emitted`).
 */
#include <stdlib.h>
#include <string.h>

#include "pronto/stream.h"
#include "stream/stream_int.h"

#define NO_TS INT64_MAX
#define NONE UINT32_MAX
#define PREFETCH_AHEAD 4 /* queue nodes */

typedef struct entry {
    uint64_t imp_id;
    int64_t key;           /* current close key (see header) */
    int64_t imp_ts;
    int64_t click_ts;      /* earliest click (orphan: any; impression: in window) */
    int64_t conv_ts;       /* earliest conversion, same rule */
    char *payload;         /* owned copy, in the pool (NULL: none) */
    uint32_t payload_len;
    uint32_t payload_ref;  /* its pool allocation */
    uint32_t n_clicks, n_convs; /* orphan: how many are waiting */
    uint32_t next_free;
    uint8_t has_imp;
    uint8_t live;          /* 0 while on the free list */
} entry;

struct pr_joiner {
    pr_joiner_opts o;
    int64_t max_ts, watermark;
    int any, ended;
    entry *entries;
    uint32_t n_entries, cap_entries, free_head, n_live;
    pr__tsidmap by_imp;
    pr__tsqueue closing;
    pr__tsidmap seen;
    pr__tsqueue seen_expiry;
    pr__payloads payloads;
    uint32_t emitted;      /* pool ref of the payload poll handed out, or NONE */
    pr_joiner_stats st;
};

static int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

void pr_joiner_opts_default(pr_joiner_opts *o) {
    memset(o, 0, sizeof *o);
    o->window_ms = 2 * 3600 * 1000LL;
    o->lateness_ms = 10 * 60 * 1000LL;
    o->dedup_horizon_ms = 0;
}

pr_status pr_joiner_new(const pr_joiner_opts *o, pr_joiner **out, pr_err *err) {
    *out = NULL;
    if (!o || o->window_ms < 0 || o->lateness_ms < 0 || o->dedup_horizon_ms < 0)
        return pr_err_set(err, PR_ERR_INVALID,
                          "joiner: window, lateness and dedup horizon must be >= 0 ms");
    pr_joiner *j = calloc(1, sizeof *j);
    if (!j) return pr_err_set(err, PR_ERR_NOMEM, "joiner: out of memory");
    j->o = *o;
    j->watermark = INT64_MIN;
    j->free_head = NONE;
    j->emitted = NONE;
    pr__payloads_init(&j->payloads);
    *out = j;
    return PR_OK;
}

static void release_emitted(pr_joiner *j) {
    if (j->emitted == NONE) return;
    pr__payloads_release(&j->payloads, j->emitted);
    j->emitted = NONE;
}

/* A new zeroed entry for imp_id, indexed; NULL when out of memory. */
static entry *entry_new(pr_joiner *j, uint64_t imp_id, uint32_t *idx_out) {
    uint32_t idx;
    if (j->free_head != NONE) {
        idx = j->free_head;
        j->free_head = j->entries[idx].next_free;
    } else {
        if (j->n_entries == j->cap_entries) {
            if (j->cap_entries >= UINT32_MAX / 2) return NULL;
            uint32_t cap = j->cap_entries ? j->cap_entries * 2 : 1024;
            entry *e = realloc(j->entries, (size_t)cap * sizeof *e);
            if (!e) return NULL;
            j->entries = e;
            j->cap_entries = cap;
        }
        idx = j->n_entries++;
    }
    /* The caller found no entry for imp_id: insert without a lookup. */
    if (pr__tsidmap_put_new(&j->by_imp, imp_id, idx) != 1) {
        j->entries[idx].live = 0;
        j->entries[idx].next_free = j->free_head;
        j->free_head = idx;
        return NULL;
    }
    entry *e = &j->entries[idx];
    memset(e, 0, sizeof *e);
    e->imp_id = imp_id;
    e->click_ts = e->conv_ts = NO_TS;
    e->live = 1;
    j->n_live++;
    *idx_out = idx;
    return e;
}

static void entry_remove(pr_joiner *j, uint32_t idx) {
    entry *e = &j->entries[idx];
    pr__tsidmap_del(&j->by_imp, e->imp_id);
    if (e->payload) pr__payloads_release(&j->payloads, e->payload_ref);
    e->payload = NULL;
    e->live = 0;
    e->next_free = j->free_head;
    j->free_head = idx;
    j->n_live--;
}

static int in_window(const pr_joiner *j, int64_t imp_ts, int64_t ts) {
    return ts >= imp_ts && ts <= sat_add(imp_ts, j->o.window_ms);
}

static pr_status set_key(pr_joiner *j, entry *e, int64_t key, pr_err *err) {
    if (!pr__tsqueue_push(&j->closing, key, e->imp_id, (uint32_t)(e - j->entries)))
        return pr_err_set(err, PR_ERR_NOMEM, "joiner: out of memory");
    e->key = key;
    return PR_OK;
}

static pr_status push_impression(pr_joiner *j, const pr_event *ev, entry *e, pr_err *err) {
    uint32_t idx = UINT32_MAX;
    if (e && e->has_imp) {
        j->st.duplicates++;  /* same impression id under another event id */
        return PR_OK;
    }
    if (ev->payload.len > UINT32_MAX)
        return pr_err_set(err, PR_ERR_NOMEM, /* the contract's only limit */
                          "joiner: payload of %zu bytes is too large",
                          ev->payload.len);
    uint32_t ref;
    char *copy = pr__payloads_alloc(&j->payloads, ev->payload.len, &ref);
    if (!copy) return pr_err_set(err, PR_ERR_NOMEM, "joiner: out of memory");
    if (ev->payload.len) memcpy(copy, ev->payload.ptr, ev->payload.len);
    if (!e && !(e = entry_new(j, ev->impression_id, &idx))) {
        pr__payloads_release(&j->payloads, ref);
        return pr_err_set(err, PR_ERR_NOMEM, "joiner: out of memory");
    }
    int64_t t = ev->ts_ms;
    pr_status s = set_key(j, e, sat_add(t, j->o.window_ms), err);
    if (s != PR_OK) {
        pr__payloads_release(&j->payloads, ref);
        if (idx != UINT32_MAX) entry_remove(j, idx);
        return s;
    }
    /* Orphans waiting for this impression: keep those inside its window. */
    if (e->click_ts != NO_TS && !in_window(j, t, e->click_ts)) {
        e->click_ts = NO_TS;
        j->st.unattributed_clicks += e->n_clicks;
    }
    if (e->conv_ts != NO_TS && !in_window(j, t, e->conv_ts)) {
        e->conv_ts = NO_TS;
        j->st.unattributed_conversions += e->n_convs;
    }
    e->has_imp = 1;
    e->imp_ts = t;
    e->payload = copy;
    e->payload_len = (uint32_t)ev->payload.len;
    e->payload_ref = ref;
    e->n_clicks = e->n_convs = 0;
    j->st.impressions++;
    return PR_OK;
}

static pr_status push_outcome(pr_joiner *j, const pr_event *ev, entry *e, pr_err *err) {
    int click = ev->type == PR_EVENT_CLICK;
    int64_t ts = ev->ts_ms;
    if (click) j->st.clicks++;
    else j->st.conversions++;
    if (e && e->has_imp) {
        /* Outside the window (which also covers a final impression: its
         * window ended before the watermark, and ts >= watermark). */
        if (!in_window(j, e->imp_ts, ts)) {
            if (click) j->st.unattributed_clicks++;
            else j->st.unattributed_conversions++;
            return PR_OK;
        }
        int64_t *slot = click ? &e->click_ts : &e->conv_ts;
        if (ts < *slot) *slot = ts;
        return PR_OK;
    }
    uint32_t idx = UINT32_MAX;
    if (!e && !(e = entry_new(j, ev->impression_id, &idx)))
        return pr_err_set(err, PR_ERR_NOMEM, "joiner: out of memory");
    if (idx != UINT32_MAX || ts > e->key) {
        pr_status s = set_key(j, e, ts, err);
        if (s != PR_OK) {
            if (idx != UINT32_MAX) entry_remove(j, idx);
            return s;
        }
    }
    if (click) {
        e->n_clicks++;
        if (ts < e->click_ts) e->click_ts = ts;
    } else {
        e->n_convs++;
        if (ts < e->conv_ts) e->conv_ts = ts;
    }
    return PR_OK;
}

/* Forgets event ids that have fallen below watermark - horizon. */
static void expire_seen(pr_joiner *j) {
    int64_t limit = sat_add(j->watermark, -j->o.dedup_horizon_ms);
    const pr__tsnode *top;
    while ((top = pr__tsqueue_top(&j->seen_expiry)) && top->key < limit) {
        pr__tsidmap_del(&j->seen, top->id);
        pr__tsqueue_pop(&j->seen_expiry);
    }
    /* An id to forget soon: its slot is in cache when its time comes. */
    const pr__tsnode *next = pr__tsqueue_ahead(&j->seen_expiry, PREFETCH_AHEAD);
    if (next) pr__tsidmap_prefetch(&j->seen, next->id);
}

pr_status pr_joiner_push(pr_joiner *j, const pr_event *ev, pr_err *err) {
    if (!j || !ev) return pr_err_set(err, PR_ERR_INVALID, "joiner: NULL argument");
    release_emitted(j);
    if (j->ended) return pr_err_set(err, PR_ERR_INVALID, "joiner: push after flush");
    j->st.events++;
    if (ev->type != PR_EVENT_IMPRESSION && ev->type != PR_EVENT_CLICK &&
        ev->type != PR_EVENT_CONVERSION) {
        j->st.unknown_type++;
        return PR_OK;
    }
    if (!ev->has_event_id || !ev->has_impression_id || !ev->has_ts) {
        j->st.missing_ids++;
        return PR_OK;
    }
    if (ev->ts_ms < j->watermark) {
        j->st.too_late++;
        return PR_OK;
    }
    /* Remember the id now (one probe for the check and the insert); it is
     * forgotten again if the event cannot be applied, so a failed push can
     * be retried. */
    /* Ids usually come in runs: the slots of the ids 4 on (the next run of
     * 4, pr__tsidmap_home) are wanted soon. */
    pr__tsidmap_prefetch(&j->seen, ev->event_id + 4);
    pr__tsidmap_prefetch(&j->by_imp, ev->impression_id + 4);
    int fresh = pr__tsidmap_put_new(&j->seen, ev->event_id, 0);
    if (fresh == 0) {
        j->st.duplicates++;
        return PR_OK;
    }
    if (fresh < 0) return pr_err_set(err, PR_ERR_NOMEM, "joiner: out of memory");
    uint32_t *idx = pr__tsidmap_get(&j->by_imp, ev->impression_id);
    entry *e = idx ? &j->entries[*idx] : NULL;
    pr_status s = ev->type == PR_EVENT_IMPRESSION ? push_impression(j, ev, e, err)
                                                  : push_outcome(j, ev, e, err);
    if (s != PR_OK) {
        pr__tsidmap_del(&j->seen, ev->event_id);
        return s;
    }
    /* Without its expiry node the id would never be forgotten: forget it
     * now (only deduplication of this id is weakened). */
    if (!pr__tsqueue_push(&j->seen_expiry, ev->ts_ms, ev->event_id, 0)) {
        pr__tsidmap_del(&j->seen, ev->event_id);
        return pr_err_set(err, PR_ERR_NOMEM, "joiner: out of memory");
    }
    if (!j->any || ev->ts_ms > j->max_ts) {
        j->any = 1;
        j->max_ts = ev->ts_ms;
        j->watermark = sat_add(j->max_ts, -j->o.lateness_ms);
        expire_seen(j);
    }
    return PR_OK;
}

/* An entry poll will most likely emit a few calls from now, and its id map
 * slot: both were last touched a whole window ago, so start loading them.
 * (Always inlined, see pr__tsidmap_prefetch.) */
__attribute__((always_inline)) static inline void prefetch_ahead(const pr_joiner *j) {
    const pr__tsnode *next = pr__tsqueue_ahead(&j->closing, PREFETCH_AHEAD);
    if (!next) return;
    __builtin_prefetch(&j->entries[next->idx]);
    pr__tsidmap_prefetch(&j->by_imp, next->id);
}

pr_status pr_joiner_poll(pr_joiner *j, pr_labeled *out) {
    release_emitted(j);
    const pr__tsnode *topp;
    while ((topp = pr__tsqueue_top(&j->closing))) {
        /* Nothing below the watermark yet: whether the top is stale does
         * not matter, every other node's key is larger still. */
        if (!j->ended && !(j->watermark > topp->key)) return PR_EOF;
        pr__tsnode top = *topp;
        pr__tsqueue_pop(&j->closing);
        prefetch_ahead(j);
        uint32_t idx = top.idx;
        entry *e = &j->entries[idx];
        if (!e->live || e->imp_id != top.id || e->key != top.key)
            continue; /* stale node */
        if (!e->has_imp) {
            j->st.unattributed_clicks += e->n_clicks;
            j->st.unattributed_conversions += e->n_convs;
            entry_remove(j, idx);
            continue;
        }
        memset(out, 0, sizeof *out);
        out->impression_id = e->imp_id;
        out->ts_ms = e->imp_ts;
        out->label = e->click_ts != NO_TS;
        out->converted = e->conv_ts != NO_TS;
        out->click_delay_ms = out->label ? e->click_ts - e->imp_ts : -1;
        /* handed out until the next call */
        out->payload = pr_bytes_of(e->payload, e->payload_len);
        j->emitted = e->payload ? e->payload_ref : NONE;
        e->payload = NULL;
        j->st.labeled++;
        j->st.positives += (uint64_t)out->label;
        j->st.converted += (uint64_t)out->converted;
        entry_remove(j, idx);
        return PR_OK;
    }
    return PR_EOF;
}

void pr_joiner_flush(pr_joiner *j) {
    release_emitted(j);
    j->ended = 1;
}

void pr_joiner_stats_get(const pr_joiner *j, pr_joiner_stats *out) { *out = j->st; }
size_t pr_joiner_pending(const pr_joiner *j) { return j->n_live; }
size_t pr_joiner_dedup_size(const pr_joiner *j) { return j->seen.n; }

int pr_joiner_watermark(const pr_joiner *j, int64_t *wm) {
    if (!j->any) return 0;
    *wm = j->watermark;
    return 1;
}

void pr_joiner_free(pr_joiner *j) {
    if (!j) return;
    free(j->entries);
    pr__payloads_free(&j->payloads);
    pr__tsidmap_free(&j->by_imp);
    pr__tsidmap_free(&j->seen);
    pr__tsqueue_free(&j->closing);
    pr__tsqueue_free(&j->seen_expiry);
    free(j);
}
