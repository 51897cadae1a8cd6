/*
 * quality_int.h: what the live-quality files share (pronto/quality.h).
 *
 *   quality.c        the accumulator: pending predictions, impressions
 *                    waiting for theirs, the joiner, the stats
 *   quality_win.c    series and their windows: counting a labeled
 *                    impression, the figures, the snapshot
 *   quality_parse.c  events and prediction records from JSON
 */
#ifndef PRONTO_MONITOR_QUALITY_INT_H
#define PRONTO_MONITOR_QUALITY_INT_H

#include "base/heap.h"
#include "base/json_scan.h"
#include "pronto/quality.h"
#include "pronto/stream.h"

/* ---------------------------------------------------------------- keys */

/* Open addressing, key 0 = empty, linear probing, backward-shift deletion
 * (no tombstones). Sized at twice its cap so probes stay short. */
typedef struct pr__qslot {
    uint64_t key;
    uint32_t val;
} pr__qslot;              /* key and value side by side: one cache miss */
typedef struct pr__qmap {
    pr__qslot *s;
    size_t mask;
} pr__qmap;

int pr__qmap_init(pr__qmap *m, size_t cap);
void pr__qmap_free(pr__qmap *m);
/* The value of key, or UINT32_MAX. */
uint32_t pr__qmap_get(const pr__qmap *m, uint64_t key);
/* key must be absent. */
void pr__qmap_put(pr__qmap *m, uint64_t key, uint32_t val);
void pr__qmap_del(pr__qmap *m, uint64_t key);
/* Brings key's home slot toward the cache (before a batch of lookups). */
void pr__qmap_prefetch(const pr__qmap *m, uint64_t key);

/* ---------------------------------------------------------------- windows */

enum { PR__QG_1M, PR__QG_5M, PR__QG_1H, PR__QG_N };

typedef struct pr__qwin {
    int64_t start;
    uint64_t n, clicks;
    double sum_p, sum_ll;
    double sum_pq;             /* sum of p (1 - p): the variance of the clicks */
    uint32_t hist[2][PR_QUALITY_AUC_BINS]; /* [label][bin of p] */
} pr__qwin;

/* A series' windows of one length: a ring in start order. */
typedef struct pr__qring {
    pr__qwin **w;
    uint32_t cap, head, n;
} pr__qring;

typedef struct pr__qseries {
    char version[PR_QUALITY_NAME_MAX];
    char arm[PR_QUALITY_NAME_MAX];
    int64_t last_ts;           /* clock at its last prediction or count */
    uint32_t gen;              /* bumped when the slot is given to another
                                  series: references of older gens are stale */
    pr__qring ring[PR__QG_N];
} pr__qseries;

extern const int64_t pr__qg_len[PR__QG_N];
extern const char *const pr__qg_name[PR__QG_N];

/* ---------------------------------------------------------------- accumulator */

/* A remembered prediction (ring slot). */
typedef struct pr__qpred {
    uint64_t key;   /* 0: consumed */
    int64_t ts;
    double p;
    uint32_t series, gen;
} pr__qpred;

#define PR__QPAY_UNSAMPLED 2u

/* What the joiner carries with an impression (its payload, copied). */
typedef struct pr__qpay {
    double p;
    uint32_t series;  /* UINT32_MAX: over max_series */
    uint32_t gen;     /* the series slot's gen when predicted */
    uint32_t matched; /* 1: has a prediction; 0: none; PR__QPAY_UNSAMPLED: its
                         request was not sampled (pr_quality_sampler) */
} pr__qpay;

/* An impression waiting for its prediction (slab slot). */
typedef struct pr__qheld {
    pr_event ev;      /* payload unused */
    uint64_t key;
    pr__qpay pay;
    uint32_t next_free;
} pr__qheld;

typedef struct pr__qheld_ref {
    int64_t ts;
    uint64_t seq;
    uint32_t slot;
} pr__qheld_ref;

static inline int pr__qheld_less(const pr__qheld_ref *a, const pr__qheld_ref *b) {
    return a->ts != b->ts ? a->ts < b->ts : a->seq < b->seq;
}
PR__HEAP_DEFINE(pr__qheld_heap, pr__qheld_ref, pr__qheld_less)

struct pr_quality {
    pr_quality_opts o;
    char cand_key[256];
    pr_joiner *j;
    pr_json_keys *ev_keys, *pred_keys, *cand_keys;
    /* predictions waiting for an impression */
    pr__qpred *preds;
    uint32_t p_head, p_n;
    pr__qmap pmap;
    /* impressions waiting for a prediction */
    pr__qheld *held;
    uint32_t held_free, held_n;
    uint64_t held_seq;
    pr__qmap hmap;
    pr__qheld_heap hheap;
    /* time */
    int have_clock, have_evmax;
    int64_t clock;    /* largest ts of any prediction or event */
    int64_t evmax;    /* largest ts of an event */
    int flushed;
    /* series */
    pr__qseries *series;
    uint32_t n_series;
    uint32_t last_series;
    /* scratch for records */
    uint64_t *sk;
    double *sp;
    size_t s_cap;
    pr_quality_stats st;
    const pr_quality_sampler *sampler; /* borrowed, NULL: every request */
};

/* The series of (version, arm): its index, or UINT32_MAX past max_series
 * (quality_win.c). */
uint32_t pr__quality_series(pr_quality *q, const char *version, const char *arm);
/* Counts one labeled impression of series s at ts. */
void pr__quality_count(pr_quality *q, uint32_t s, int64_t ts, double p, int label);
void pr__quality_series_free(pr_quality *q);

/* Handles one parsed event (quality.c); ev->payload unused. req/cand: the
 * impression's request id and candidate key texts. */
void pr__quality_event(pr_quality *q, const pr_event *ev, pr_bytes req, pr_bytes cand);

#endif
