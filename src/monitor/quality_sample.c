/*
 * quality_sample.c: pr_quality_sampler, the request sampling that bounds
 * live quality's cost (pronto/quality.h "Sampling").
 *
 * A request is sampled at level L when the top L bits of its request
 * hash are zero: a share of 2^-L, decided by the request id alone, so
 * whoever holds the id (the server when it answers, the accumulator when
 * the impression comes) reaches the same decision, and a request sampled
 * at level L is sampled at every lower level.
 *
 * Levels are kept per second of event time in a ring of PR__QS_RING
 * seconds: each slot holds its second, the candidates offered in it and
 * its level. A second starts at the level that would have brought the
 * previous second's candidates under the budget, and its level rises
 * (never falls) while the second's own count exceeds budget * 2^level: a
 * burst is cut within the second, and since an impression is judged at
 * the level its second has by then (>= the one its prediction saw), a
 * change only costs samples, never lets an unsampled impression wait for
 * a prediction that was not kept.
 *
 * Threads: take() runs on every HTTP worker at once, sampled() on the
 * quality thread. Slots are reset with a compare-and-swap on their
 * second; a thread that reads a slot while another resets it may count a
 * few candidates into the wrong second: the budget is approximate, the
 * decision for a given level exact.
 */
#include <stdlib.h>

#include "monitor/quality_int.h"

#define PR__QS_RING 4096u /* seconds: impressions come long before */
#define PR__QS_LEVEL_MAX 40u
#define QS_BUSY (INT64_MIN + 1) /* a slot being moved to another second */

typedef struct qs_slot {
    int64_t sec;       /* INT64_MIN: unused; QS_BUSY: being reset */
    uint64_t offered;  /* candidates counted in this second */
    uint32_t level;
} qs_slot;

struct pr_quality_sampler {
    uint64_t per_second;
    int64_t latest;    /* the latest second a slot was made for */
    qs_slot ring[PR__QS_RING];
};

static int64_t sec_of(int64_t ts_ms) {
    int64_t q = ts_ms / 1000;
    return ts_ms % 1000 < 0 ? q - 1 : q;
}

pr_status pr_quality_sampler_new(uint32_t per_second, pr_quality_sampler **out, pr_err *err) {
    *out = NULL;
    if (!per_second)
        return pr_err_set(err, PR_ERR_INVALID, "quality sampler: the budget must be >= 1 a second");
    pr_quality_sampler *s = calloc(1, sizeof *s);
    if (!s) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    s->per_second = per_second;
    s->latest = INT64_MIN;
    for (uint32_t i = 0; i < PR__QS_RING; i++) s->ring[i].sec = INT64_MIN;
    *out = s;
    return PR_OK;
}

void pr_quality_sampler_free(pr_quality_sampler *s) { free(s); }

static int keeps(uint32_t level, uint64_t request_hash) {
    return level == 0 || (request_hash >> (64 - level)) == 0;
}

/* The lowest level at which n candidates fit the budget. */
static uint32_t level_for(uint64_t n, uint64_t budget) {
    uint32_t l = 0;
    while (l < PR__QS_LEVEL_MAX && (n >> l) > budget) l++;
    return l;
}

static qs_slot *slot_of(pr_quality_sampler *s, int64_t sec) {
    return &s->ring[(uint64_t)sec % PR__QS_RING];
}

int pr_quality_sampler_take(pr_quality_sampler *s, int64_t ts_ms, uint64_t request_hash,
                            uint32_t n) {
    int64_t sec = sec_of(ts_ms);
    qs_slot *sl = slot_of(s, sec);
    int64_t cur = __atomic_load_n(&sl->sec, __ATOMIC_ACQUIRE);
    if (cur != sec) {
        if (cur != INT64_MIN && cur != QS_BUSY && cur > sec)
            return 1; /* older than the ring keeps: kept, its impression judged alone */
        qs_slot *pv = slot_of(s, sec - 1);
        uint32_t l0 = 0;
        if (__atomic_load_n(&pv->sec, __ATOMIC_ACQUIRE) == sec - 1)
            l0 = level_for(__atomic_load_n(&pv->offered, __ATOMIC_RELAXED), s->per_second);
        if (cur != QS_BUSY && __atomic_compare_exchange_n(&sl->sec, &cur, QS_BUSY, 0,
                                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&sl->offered, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&sl->level, l0, __ATOMIC_RELAXED);
            __atomic_store_n(&sl->sec, sec, __ATOMIC_RELEASE);
            int64_t lt = __atomic_load_n(&s->latest, __ATOMIC_RELAXED);
            while (sec > lt && !__atomic_compare_exchange_n(&s->latest, &lt, sec, 1,
                                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            }
        } else if (cur != sec) {
            return keeps(l0, request_hash); /* another thread moves the slot: its level */
        }
    }
    uint64_t total = __atomic_add_fetch(&sl->offered, n, __ATOMIC_RELAXED);
    uint32_t l = __atomic_load_n(&sl->level, __ATOMIC_RELAXED);
    while (l < PR__QS_LEVEL_MAX && (total >> l) > s->per_second) {
        if (__atomic_compare_exchange_n(&sl->level, &l, l + 1, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            l++;
    }
    return keeps(l, request_hash);
}

int pr_quality_sampler_sampled(const pr_quality_sampler *s, int64_t ts_ms, uint64_t request_hash) {
    int64_t sec = sec_of(ts_ms);
    const qs_slot *sl = &s->ring[(uint64_t)sec % PR__QS_RING];
    if (__atomic_load_n(&sl->sec, __ATOMIC_ACQUIRE) != sec) return 1; /* unknown: judged alone */
    return keeps(__atomic_load_n(&sl->level, __ATOMIC_RELAXED), request_hash);
}

uint32_t pr_quality_sampler_level(const pr_quality_sampler *s) {
    int64_t sec = __atomic_load_n(&s->latest, __ATOMIC_RELAXED);
    if (sec == INT64_MIN) return 0;
    const qs_slot *sl = &s->ring[(uint64_t)sec % PR__QS_RING];
    if (__atomic_load_n(&sl->sec, __ATOMIC_ACQUIRE) != sec) return 0;
    return __atomic_load_n(&sl->level, __ATOMIC_RELAXED);
}

void pr_quality_set_sampler(pr_quality *q, const pr_quality_sampler *s) { q->sampler = s; }
