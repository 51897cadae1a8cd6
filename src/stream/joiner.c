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
 * `closing` is a min-heap of (key, impression id). An entry whose key
 * changes gets a new heap node; the old one is recognised as stale on pop
 * (its key no longer equals the entry's) and skipped. Poll pops nodes whose
 * key < watermark: impressions come out labeled in (t + window, id) order,
 * i.e. (t, id) order, orphans are counted as unattributed and dropped. A newly
 * accepted impression has t >= watermark, so its key exceeds every key
 * already emitted: the output order is global, not per poll.
 *
 * Deduplication. `seen` holds the event ids accepted whose ts is at least
 * watermark - dedup_horizon; `seen_expiry` (a heap by ts) evicts the rest.
 * An older duplicate has ts < watermark and is dropped as too late anyway.
 *
 * Memory is thus bounded by the events of one window + lateness (+ horizon),
 * never by the stream's length.
 *
 * Ownership. The joiner owns its entries and their payload copies. The
 * payload handed out by poll is kept in `emitted` and freed at the next call.
 */
#include <stdlib.h>
#include <string.h>

#include "pronto/stream.h"
#include "stream/stream_int.h"

#define NO_TS INT64_MAX

typedef struct entry {
    uint64_t imp_id;
    int64_t key;           /* current close key (see header) */
    int64_t imp_ts;
    int64_t click_ts;      /* earliest click (orphan: any; impression: in window) */
    int64_t conv_ts;       /* earliest conversion, same rule */
    char *payload;         /* owned copy */
    size_t payload_len;
    uint32_t n_clicks, n_convs; /* orphan: how many are waiting */
    uint32_t next_free;
    int has_imp;
} entry;

struct pr_joiner {
    pr_joiner_opts o;
    int64_t max_ts, watermark;
    int any, ended;
    entry *entries;
    uint32_t n_entries, cap_entries, free_head, n_live;
    pr__tsidmap by_imp;
    pr__tsheap closing;
    pr__tsidmap seen;
    pr__tsheap seen_expiry;
    char *emitted;
    pr_joiner_stats st;
};

static int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

pr_joiner_opts pr_joiner_opts_default(void) {
    pr_joiner_opts o;
    o.window_ms = 2 * 3600 * 1000LL;
    o.lateness_ms = 10 * 60 * 1000LL;
    o.dedup_horizon_ms = 0;
    return o;
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
    j->free_head = UINT32_MAX;
    *out = j;
    return PR_OK;
}

static void release_emitted(pr_joiner *j) {
    free(j->emitted);
    j->emitted = NULL;
}

/* A new zeroed entry for imp_id, indexed; NULL when out of memory. */
static entry *entry_new(pr_joiner *j, uint64_t imp_id, uint32_t *idx_out) {
    uint32_t idx;
    if (j->free_head != UINT32_MAX) {
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
    if (pr__tsidmap_put(&j->by_imp, imp_id, idx) != PR_OK) {
        j->entries[idx].next_free = j->free_head;
        j->free_head = idx;
        return NULL;
    }
    entry *e = &j->entries[idx];
    memset(e, 0, sizeof *e);
    e->imp_id = imp_id;
    e->click_ts = e->conv_ts = NO_TS;
    j->n_live++;
    *idx_out = idx;
    return e;
}

static void entry_remove(pr_joiner *j, uint32_t idx) {
    entry *e = &j->entries[idx];
    pr__tsidmap_del(&j->by_imp, e->imp_id);
    free(e->payload);
    e->payload = NULL;
    e->next_free = j->free_head;
    j->free_head = idx;
    j->n_live--;
}

static int in_window(const pr_joiner *j, int64_t imp_ts, int64_t ts) {
    return ts >= imp_ts && ts <= sat_add(imp_ts, j->o.window_ms);
}

static pr_status set_key(pr_joiner *j, entry *e, int64_t key, pr_err *err) {
    if (!pr__tsheap_push(&j->closing, &(pr__tsheap_node){key, e->imp_id}))
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
    char *copy = malloc(ev->payload.len ? ev->payload.len : 1);
    if (!copy) return pr_err_set(err, PR_ERR_NOMEM, "joiner: out of memory");
    if (ev->payload.len) memcpy(copy, ev->payload.ptr, ev->payload.len);
    if (!e && !(e = entry_new(j, ev->impression_id, &idx))) {
        free(copy);
        return pr_err_set(err, PR_ERR_NOMEM, "joiner: out of memory");
    }
    int64_t t = ev->ts_ms;
    pr_status s = set_key(j, e, sat_add(t, j->o.window_ms), err);
    if (s != PR_OK) {
        free(copy);
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
    e->payload_len = ev->payload.len;
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
    while (j->seen_expiry.n && pr__tsheap_top(&j->seen_expiry)->key < limit) {
        pr__tsidmap_del(&j->seen, pr__tsheap_top(&j->seen_expiry)->id);
        pr__tsheap_pop(&j->seen_expiry, NULL);
    }
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
    if (pr__tsidmap_get(&j->seen, ev->event_id)) {
        j->st.duplicates++;
        return PR_OK;
    }
    uint32_t *idx = pr__tsidmap_get(&j->by_imp, ev->impression_id);
    entry *e = idx ? &j->entries[*idx] : NULL;
    pr_status s = ev->type == PR_EVENT_IMPRESSION ? push_impression(j, ev, e, err)
                                                  : push_outcome(j, ev, e, err);
    if (s != PR_OK) return s;
    /* Remember the id only once the event is applied, so a failed push can
     * be retried. A failure here only weakens deduplication of this id. */
    if (pr__tsheap_push(&j->seen_expiry, &(pr__tsheap_node){ev->ts_ms, ev->event_id}) &&
        pr__tsidmap_put(&j->seen, ev->event_id, 0) != PR_OK)
        return pr_err_set(err, PR_ERR_NOMEM, "joiner: out of memory");
    if (!j->any || ev->ts_ms > j->max_ts) {
        j->any = 1;
        j->max_ts = ev->ts_ms;
        j->watermark = sat_add(j->max_ts, -j->o.lateness_ms);
        expire_seen(j);
    }
    return PR_OK;
}

pr_status pr_joiner_poll(pr_joiner *j, pr_labeled *out) {
    release_emitted(j);
    while (j->closing.n) {
        pr__tsheap_node top = *pr__tsheap_top(&j->closing);
        uint32_t *idxp = pr__tsidmap_get(&j->by_imp, top.id);
        entry *e = idxp ? &j->entries[*idxp] : NULL;
        if (!e || e->key != top.key) {  /* stale node */
            pr__tsheap_pop(&j->closing, NULL);
            continue;
        }
        if (!j->ended && !(j->watermark > top.key)) return PR_EOF;
        pr__tsheap_pop(&j->closing, NULL);
        uint32_t idx = *idxp;
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
        j->emitted = e->payload;  /* handed out until the next call */
        e->payload = NULL;
        out->payload = pr_bytes_of(j->emitted, e->payload_len);
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

void pr_joiner_free(pr_joiner *j) {
    if (!j) return;
    for (uint32_t i = 0; i < j->n_entries; i++) free(j->entries[i].payload);
    free(j->entries);
    free(j->emitted);
    pr__tsidmap_free(&j->by_imp);
    pr__tsidmap_free(&j->seen);
    pr__tsheap_free(&j->closing);
    pr__tsheap_free(&j->seen_expiry);
    free(j);
}
