/*
 * quality.c: the live-quality accumulator (pronto/quality.h): served
 * predictions matched to their impressions, impressions to their clicks
 * through the label joiner, labeled impressions counted in windows
 * (quality_win.c).
 *
 * Structures, all bounded:
 *   preds   a ring of max_pending predictions in arrival order, indexed
 *           by key (pmap). Its head is the oldest: popped when older than
 *           pred_ttl_ms by the clock (expired) or when the ring is full
 *           (evicted). A prediction its impression took stays in the ring
 *           as a consumed slot (key 0) until it reaches the head.
 *   held    a slab of max_held impressions that found no prediction,
 *           indexed by key (hmap) and by ts in a min-heap (hheap). A
 *           prediction that comes for one fills its pay; each goes to the
 *           joiner once the events' largest ts reaches its ts + hold_ms
 *           (released before the event that moves time past it), so it is
 *           never too late for the joiner: hold_ms <= lateness_ms.
 *   j       the label joiner; each impression carries a pr__qpay (p,
 *           series, matched) as its payload, handed back when labeled.
 *
 * Time is event time only: the clock is the largest ts of anything added,
 * the joiner's watermark its largest event ts minus the lateness. Nothing
 * moves without input (pr_quality_flush closes all at the end).
 */
#include <stdlib.h>
#include <string.h>

#include "monitor/quality_int.h"

#define QKEY_SEED 0x70727175616c6974ull /* "prqualit": keys never change */

uint64_t pr_quality_request_hash(pr_bytes request_id) {
    return pr_hash64(request_id.ptr, request_id.len, QKEY_SEED);
}

uint64_t pr_quality_key(uint64_t request_hash, pr_bytes candidate_key) {
    uint64_t k = pr_hash64(candidate_key.ptr, candidate_key.len, request_hash);
    return k ? k : 1;
}

/* ---------------------------------------------------------------- map */

int pr__qmap_init(pr__qmap *m, size_t cap) {
    size_t n = 16;
    while (n < 2 * cap) n *= 2;
    m->s = calloc(n, sizeof *m->s);
    m->mask = n - 1;
    return m->s ? 0 : -1;
}

void pr__qmap_free(pr__qmap *m) {
    free(m->s);
    memset(m, 0, sizeof *m);
}

static size_t qslot(uint64_t key, size_t mask) {
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & mask;
}

void pr__qmap_prefetch(const pr__qmap *m, uint64_t key) {
    __builtin_prefetch(&m->s[qslot(key, m->mask)]);
}

uint32_t pr__qmap_get(const pr__qmap *m, uint64_t key) {
    for (size_t i = qslot(key, m->mask);; i = (i + 1) & m->mask) {
        if (m->s[i].key == key) return m->s[i].val;
        if (!m->s[i].key) return UINT32_MAX;
    }
}

void pr__qmap_put(pr__qmap *m, uint64_t key, uint32_t val) {
    size_t i = qslot(key, m->mask);
    while (m->s[i].key) i = (i + 1) & m->mask;
    m->s[i].key = key;
    m->s[i].val = val;
}

void pr__qmap_del(pr__qmap *m, uint64_t key) {
    size_t i = qslot(key, m->mask);
    while (m->s[i].key != key) {
        if (!m->s[i].key) return;
        i = (i + 1) & m->mask;
    }
    /* backward shift: move later members of the run into the hole when
     * their home slot does not lie (cyclically) after the hole */
    size_t j = i;
    for (;;) {
        j = (j + 1) & m->mask;
        if (!m->s[j].key) break;
        size_t h = qslot(m->s[j].key, m->mask);
        if (((j - h) & m->mask) >= ((j - i) & m->mask)) {
            m->s[i] = m->s[j];
            i = j;
        }
    }
    m->s[i].key = 0;
}

/* ---------------------------------------------------------------- lifecycle */

void pr_quality_opts_default(pr_quality_opts *o) {
    memset(o, 0, sizeof *o);
    o->window_ms = 2 * 3600 * 1000LL;
    o->lateness_ms = 10 * 60 * 1000LL;
    o->pred_ttl_ms = 30 * 60 * 1000LL;
    o->hold_ms = 60 * 1000LL;
    o->max_pending = 1u << 20;
    o->max_held = 1u << 16;
    o->max_series = 32;
    o->candidate_key = "ad_id";
}

pr_status pr__quality_parse_init(pr_quality *q, pr_err *err); /* quality_parse.c */

pr_status pr_quality_new(const pr_quality_opts *o, pr_quality **out, pr_err *err) {
    *out = NULL;
    if (o->window_ms < 0 || o->lateness_ms < 0 || o->pred_ttl_ms < 0 || o->hold_ms < 0)
        return pr_err_set(err, PR_ERR_INVALID, "quality: durations must be >= 0");
    if (o->hold_ms > o->lateness_ms)
        return pr_err_set(err, PR_ERR_INVALID,
                          "quality: hold (%lld ms) must not exceed the lateness (%lld ms): a held "
                          "impression would be too late for the joiner",
                          (long long)o->hold_ms, (long long)o->lateness_ms);
    if (!o->max_pending || !o->max_held || !o->max_series || o->max_pending > (1u << 30) ||
        o->max_held > (1u << 30) || o->max_series > 4096)
        return pr_err_set(err, PR_ERR_INVALID,
                          "quality: max_pending and max_held must be 1..2^30, max_series 1..4096");
    if (!o->candidate_key || !*o->candidate_key || strlen(o->candidate_key) >= 256)
        return pr_err_set(err, PR_ERR_INVALID, "quality: the candidate key must be 1..255 bytes");
    pr_quality *q = calloc(1, sizeof *q);
    if (!q) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    q->o = *o;
    memcpy(q->cand_key, o->candidate_key, strlen(o->candidate_key) + 1);
    q->o.candidate_key = q->cand_key;
    pr_joiner_opts jo;
    pr_joiner_opts_default(&jo);
    jo.window_ms = o->window_ms;
    jo.lateness_ms = o->lateness_ms;
    pr_status rc = pr_joiner_new(&jo, &q->j, err);
    if (rc != PR_OK) goto fail;
    if ((rc = pr__quality_parse_init(q, err)) != PR_OK) goto fail;
    q->preds = calloc(o->max_pending, sizeof *q->preds);
    q->held = calloc(o->max_held, sizeof *q->held);
    q->series = calloc(o->max_series, sizeof *q->series);
    if (!q->preds || !q->held || !q->series || pr__qmap_init(&q->pmap, o->max_pending) ||
        pr__qmap_init(&q->hmap, o->max_held)) {
        rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory for %u pending predictions",
                        o->max_pending);
        goto fail;
    }
    for (uint32_t i = 0; i < o->max_held; i++) q->held[i].next_free = i + 1;
    q->held_free = 0;
    *out = q;
    return PR_OK;
fail:
    pr_quality_free(q);
    return rc;
}

void pr_quality_free(pr_quality *q) {
    if (!q) return;
    pr_joiner_free(q->j);
    pr_json_keys_free(q->ev_keys);
    pr_json_keys_free(q->pred_keys);
    pr_json_keys_free(q->cand_keys);
    free(q->preds);
    free(q->held);
    pr__qmap_free(&q->pmap);
    pr__qmap_free(&q->hmap);
    pr__qheld_heap_free(&q->hheap);
    pr__quality_series_free(q);
    free(q->series);
    free(q->sk);
    free(q->sp);
    free(q);
}

/* ---------------------------------------------------------------- joiner */

/* Takes every labeled impression the joiner has final. */
static void drain(pr_quality *q) {
    pr_labeled lab;
    while (pr_joiner_poll(q->j, &lab) == PR_OK) {
        q->st.labeled++;
        pr__qpay pay;
        if (lab.payload.len != sizeof pay) { /* never: we push every payload */
            q->st.unmatched++;
            continue;
        }
        memcpy(&pay, lab.payload.ptr, sizeof pay);
        if (pay.matched == PR__QPAY_UNSAMPLED) {
            q->st.unsampled++;
            continue;
        }
        if (!pay.matched) {
            q->st.unmatched++;
            continue;
        }
        q->st.matched++;
        if (pay.series == UINT32_MAX || q->series[pay.series].gen != pay.gen) {
            q->st.series_overflow++;
            continue;
        }
        pr__quality_count(q, pay.series, lab.ts_ms, pay.p, lab.label);
    }
}

static void push(pr_quality *q, const pr_event *ev, const pr__qpay *pay) {
    pr_event e = *ev;
    e.payload = pr_bytes_of((const char *)pay, sizeof *pay);
    pr_err err;
    if (e.type == PR_EVENT_IMPRESSION) q->st.impressions++;
    (void)pr_joiner_push(q->j, &e, &err); /* dropped events are the joiner's to count;
                                             out of memory: lost (not counted in windows) */
    drain(q);
}

/* Sends the waiting impression at heap top to the joiner. */
static void release_top(pr_quality *q) {
    pr__qheld_ref r;
    pr__qheld_heap_pop(&q->hheap, &r);
    pr__qheld *h = &q->held[r.slot];
    if (pr__qmap_get(&q->hmap, h->key) == r.slot) pr__qmap_del(&q->hmap, h->key);
    push(q, &h->ev, &h->pay);
    h->next_free = q->held_free;
    q->held_free = r.slot;
    q->held_n--;
}

/* Releases the waiting impressions due when events' time reaches t. */
static void release_until(pr_quality *q, int64_t t) {
    const pr__qheld_ref *top;
    while ((top = pr__qheld_heap_top(&q->hheap)) && top->ts <= t - q->o.hold_ms)
        release_top(q);
}

/* ---------------------------------------------------------------- predictions */

static void pred_pop(pr_quality *q, int evicted) {
    pr__qpred *p = &q->preds[q->p_head];
    if (p->key) {
        pr__qmap_del(&q->pmap, p->key);
        if (evicted) q->st.evicted++;
        else q->st.expired++;
        q->st.pending--;
    }
    q->p_head = (q->p_head + 1) % q->o.max_pending;
    q->p_n--;
}

static void advance_clock(pr_quality *q, int64_t ts) {
    if (!q->have_clock || ts > q->clock) q->clock = ts;
    q->have_clock = 1;
    int64_t cut = q->clock - q->o.pred_ttl_ms;
    while (q->p_n && (!q->preds[q->p_head].key || q->preds[q->p_head].ts < cut)) pred_pop(q, 0);
}

void pr_quality_add_prediction(pr_quality *q, const pr_quality_pred *pd) {
    if (q->flushed) return;
    q->st.predictions++;
    q->st.candidates += pd->n;
    advance_clock(q, pd->ts_ms);
    uint32_t s = pr__quality_series(q, pd->version ? pd->version : "", pd->arm ? pd->arm : "");
    uint32_t gen = s != UINT32_MAX ? q->series[s].gen : 0;
    if (s != UINT32_MAX && q->series[s].last_ts < q->clock) q->series[s].last_ts = q->clock;
    /* the slots this request touches, fetched together: its keys' and,
     * when the ring is full, those of the predictions it evicts */
    for (uint32_t i = 0; i < pd->n; i++) pr__qmap_prefetch(&q->pmap, pd->keys[i]);
    if (q->p_n + pd->n > q->o.max_pending)
        for (uint32_t i = 0, k = q->p_head; i < pd->n && i < q->p_n; i++) {
            if (q->preds[k].key) pr__qmap_prefetch(&q->pmap, q->preds[k].key);
            k = k + 1 == q->o.max_pending ? 0 : k + 1;
        }
    for (uint32_t i = 0; i < pd->n; i++) {
        uint64_t key = pd->keys[i] ? pd->keys[i] : 1;
        uint32_t h = q->held_n ? pr__qmap_get(&q->hmap, key) : UINT32_MAX;
        if (h != UINT32_MAX) { /* its impression came first and waits */
            q->held[h].pay = (pr__qpay){pd->p[i], s, gen, 1};
            pr__qmap_del(&q->hmap, key);
            continue;
        }
        if (pr__qmap_get(&q->pmap, key) != UINT32_MAX) {
            q->st.duplicate_keys++;
            continue;
        }
        if (q->p_n == q->o.max_pending) pred_pop(q, 1);
        uint32_t slot = (q->p_head + q->p_n) % q->o.max_pending;
        q->preds[slot] = (pr__qpred){key, pd->ts_ms, pd->p[i], s, gen};
        q->p_n++;
        q->st.pending++;
        pr__qmap_put(&q->pmap, key, slot);
    }
}

/* ---------------------------------------------------------------- events */

void pr__quality_event(pr_quality *q, const pr_event *ev, pr_bytes req, pr_bytes cand) {
    if (q->flushed) return;
    q->st.events++;
    if (ev->has_ts) {
        int64_t t = q->have_evmax && q->evmax > ev->ts_ms ? q->evmax : ev->ts_ms;
        release_until(q, t); /* before this event can move the watermark past them */
        q->evmax = t;
        q->have_evmax = 1;
        advance_clock(q, ev->ts_ms);
    }
    pr__qpay pay = {0, UINT32_MAX, 0, 0};
    if (ev->type != PR_EVENT_IMPRESSION || !ev->has_ts || !ev->has_event_id ||
        !ev->has_impression_id) {
        push(q, ev, &pay);
        return;
    }
    char idbuf[24];
    if (!req.len) { /* no request_id: the impression_id as decimal text */
        size_t n = 0;
        uint64_t v = ev->impression_id;
        char tmp[24];
        do tmp[n++] = (char)('0' + v % 10); while ((v /= 10));
        for (size_t k = 0; k < n; k++) idbuf[k] = tmp[n - 1 - k];
        req = pr_bytes_of(idbuf, n);
    }
    uint64_t rh = pr_quality_request_hash(req);
    if (q->sampler && !pr_quality_sampler_sampled(q->sampler, ev->ts_ms, rh)) {
        pay.matched = PR__QPAY_UNSAMPLED; /* no prediction was kept: none to wait for */
        push(q, ev, &pay);
        return;
    }
    uint64_t key = pr_quality_key(rh, cand);
    uint32_t slot = pr__qmap_get(&q->pmap, key);
    if (slot != UINT32_MAX) {
        pr__qpred *p = &q->preds[slot];
        pay = (pr__qpay){p->p, p->series, p->gen, 1};
        pr__qmap_del(&q->pmap, key);
        p->key = 0;
        q->st.pending--;
        push(q, ev, &pay);
        return;
    }
    if (q->o.hold_ms == 0 || pr__qmap_get(&q->hmap, key) != UINT32_MAX) {
        push(q, ev, &pay); /* no wait, or one with that key waits already */
        return;
    }
    if (q->held_n == q->o.max_held) {
        q->st.held_overflow++;
        release_top(q);
    }
    uint32_t h = q->held_free;
    q->held_free = q->held[h].next_free;
    q->held[h].ev = *ev;
    q->held[h].ev.payload = pr_bytes_of(NULL, 0);
    q->held[h].key = key;
    q->held[h].pay = pay;
    pr__qheld_ref r = {ev->ts_ms, q->held_seq++, h};
    if (!pr__qheld_heap_push(&q->hheap, &r)) { /* out of memory: no wait */
        q->held[h].next_free = q->held_free;
        q->held_free = h;
        push(q, ev, &pay);
        return;
    }
    pr__qmap_put(&q->hmap, key, h);
    q->held_n++;
}

void pr_quality_flush(pr_quality *q) {
    if (q->flushed) return;
    while (q->held_n) release_top(q);
    pr_joiner_flush(q->j);
    drain(q);
    q->flushed = 1;
}

void pr_quality_stats_get(const pr_quality *q, pr_quality_stats *out) {
    *out = q->st;
    out->held = q->held_n;
    pr_joiner_stats js;
    pr_joiner_stats_get(q->j, &js);
    out->too_late = js.too_late;
    out->duplicates = js.duplicates;
    out->unattributed_clicks = js.unattributed_clicks;
    out->has_watermark = pr_joiner_watermark(q->j, &out->watermark_ms);
}
