/*
 * model_ffm_hot.c: FFM hot replicas (model.h, pr_model_hot_*): Hogwild
 * threads that each learn the hot rows, and the bias, on a copy of their
 * own.
 *
 * Why: in FFM Hogwild every example writes every slot of each of its rows
 * (~40 rows of 22 slots at k = 4) and the bias. A few rows are in most
 * examples: on 1M gen-criteo rows the 256 most frequent buckets carry 55%
 * of the feature occurrences and 97% of the sum of squared bucket counts,
 * which is what the chance that two threads write the same row at once
 * grows with. Their lines then move between the cores on nearly every
 * example, at the price of one core-to-core transfer (45 ns when the
 * host's cores share an L3, 200 ns when they do not: docs/benchmarks.md
 * "FFM spread on an idle machine"). With copies, those lines stay put.
 *
 * Layout: each thread holds, for the n hot rows, `local` (the rows it
 * learns on, same layout as the table's rows) and `base` (their values at
 * its last flush), then the bias (4 floats) after each. A thread's update
 * compacts the example as Hogwild does and points the hot features' rows
 * at its local copies (lookup: open addressing over the hot buckets, 4
 * slots per row, in L1/L2).
 *
 * Flush (under the lock, so two flushes never interleave their read-add-
 * write): for every float of every hot row, shared += local - base, then
 * local = base = shared. A row the thread did not change adds exactly 0;
 * a float no other thread changed since this one's last flush takes the
 * thread's value exactly (so one thread trains as pr_model_update does).
 * What a thread learned is added, never averaged, so the shared model gets
 * the same sum of updates as Hogwild, computed on values at most one flush
 * stale (AdaGrad accumulators add exactly; weights move by the sum of the
 * threads' steps). The ready flag lane is equal in all three copies and
 * stays 1.0f.
 *
 * Ownership: the replicas borrow the model and own their copies, the
 * lookup table and the lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_ffm_int.h"

typedef struct hot_thread {
    float *local;            /* n rows, then the bias (4 floats) */
    float *base;             /* same layout: values at the last flush */
    char pad[64 - 2 * sizeof(void *)];
} hot_thread;

typedef struct ffm_hot {
    ffm_model *m;
    uint32_t n;              /* hot rows */
    uint32_t *bucket;        /* n, ascending */
    uint32_t *key;           /* cap: bucket + 1, 0 = empty */
    uint32_t *slot;          /* cap: row index in the copies */
    uint32_t cap_mask;
    uint64_t floats;         /* per copy: n * row_floats + 4 */
    int nth;
    hot_thread *th;
    pthread_mutex_t lock;
} ffm_hot;

static uint32_t hot_hash(uint32_t b) { return b * 0x9E3779B1u; }

/* Row index of bucket b in the copies, or -1 when b is not hot. */
static inline int64_t hot_find(const ffm_hot *h, uint32_t b) {
    for (uint32_t i = hot_hash(b) & h->cap_mask;; i = (i + 1) & h->cap_mask) {
        uint32_t k = h->key[i];
        if (k == b + 1) return h->slot[i];
        if (k == 0) return -1;
    }
}

static float *copy_alloc(uint64_t floats) {
    return aligned_alloc(64, ((size_t)floats * sizeof(float) + 63) & ~(size_t)63);
}

pr_status pr__ffm_hot_new(void *impl, int nth, const uint32_t *buckets, uint32_t n,
                          void **out, pr_err *err) {
    ffm_model *m = impl;
    ffm_hot *h = calloc(1, sizeof *h);
    if (!h) return pr_err_set(err, PR_ERR_NOMEM, "hot replicas: out of memory");
    pthread_mutex_init(&h->lock, NULL);
    h->m = m;
    h->n = n;
    h->nth = nth;
    h->floats = (uint64_t)n * m->row_floats + 4;
    uint32_t cap = 64;
    while (cap < 4 * n) cap *= 2;
    h->cap_mask = cap - 1;
    h->bucket = malloc((n ? n : 1) * sizeof *h->bucket);
    h->key = calloc(cap, sizeof *h->key);
    h->slot = calloc(cap, sizeof *h->slot);
    h->th = calloc((size_t)nth, sizeof *h->th);
    int ok = h->bucket && h->key && h->slot && h->th;
    for (int t = 0; ok && t < nth; t++) {
        h->th[t].local = copy_alloc(h->floats);
        h->th[t].base = copy_alloc(h->floats);
        ok = h->th[t].local && h->th[t].base;
    }
    if (!ok) {
        pr__ffm_hot_free(h);
        return pr_err_set(err, PR_ERR_NOMEM,
                          "hot replicas: cannot allocate %d x 2 copies of %u rows", nth, n);
    }
    const uint64_t rf = m->row_floats;
    for (uint32_t s = 0; s < n; s++) {
        uint32_t b = buckets[s];
        h->bucket[s] = b;
        uint32_t i = hot_hash(b) & h->cap_mask;
        while (h->key[i]) i = (i + 1) & h->cap_mask;
        h->key[i] = b + 1;
        h->slot[i] = s;
        float *row = m->table + (uint64_t)b * rf;
        pr__ffm_ready(m, b, row);  /* the copies start initialized */
        for (int t = 0; t < nth; t++) memcpy(h->th[t].local + s * rf, row, rf * sizeof *row);
    }
    for (int t = 0; t < nth; t++) {
        memcpy(h->th[t].local + (uint64_t)n * rf, m->bias, sizeof m->bias);
        memcpy(h->th[t].base, h->th[t].local, h->floats * sizeof(float));
    }
    *out = h;
    return PR_OK;
}

/* Points the rows of x's hot features at thread t's copies. */
static void redirect(const ffm_hot *h, const hot_thread *t, const pr_example *x,
                     pr__fx *fx) {
    const ffm_model *m = h->m;
    for (uint32_t i = 0; i < fx->n; i++) {
        int64_t s = hot_find(h, x->f[fx->src[i]].index & m->mask);
        if (s >= 0) fx->row[i] = t->local + (uint64_t)s * m->row_floats;
    }
}

double pr__ffm_hot_update(void *hot, int ith, const pr_example *x) {
    ffm_hot *h = hot;
    const ffm_model *m = h->m;
    hot_thread *t = &h->th[ith];
    float *bias = t->local + (uint64_t)h->n * m->row_floats;
    pr__fx fx;
    pr__fx_buf buf;
    if (!pr__fx_build(&fx, &buf, x, m->table, m->mask, m->row_floats, m->n_fields))
        return pr__clip_logit(bias[0]);
    redirect(h, t, x, &fx);
    pr__ffm_fx_warm(m, x, &fx);
    double z = pr__ffm_learn(m, &fx, x, bias);
    pr__fx_release(&buf);
    return z;
}

void pr__ffm_hot_prefetch(const void *hot, int ith, const pr_example *x) {
    const ffm_hot *h = hot;
    const ffm_model *m = h->m;
    const float *local = h->th[ith].local;
    const uint64_t span = m->lin_off + 2 * m->kpad;
    for (uint32_t i = 0; i < x->n; i++) {
        uint32_t b = x->f[i].index & m->mask;
        int64_t s = hot_find(h, b);
        const float *row = s >= 0 ? local + (uint64_t)s * m->row_floats
                                  : m->table + (uint64_t)b * m->row_floats;
        for (uint64_t off = 0; off < span; off += 16) __builtin_prefetch(row + off, 1, 3);
    }
}

/* shared += local - base; local = base = shared, over n floats. Where
 * no other thread has flushed since (shared == base), shared takes local
 * as it is: one thread's replica then trains exactly as pr_model_update
 * does, bit for bit, instead of through base + (local - base). */
static void fold(float *restrict shared, float *restrict local, float *restrict base,
                 uint64_t n) {
    for (uint64_t d = 0; d < n; d++) {
        float sh = shared[d], l = local[d], b = base[d];
        float v = sh == b ? l : sh + (l - b);
        shared[d] = v;
        local[d] = v;
        base[d] = v;
    }
}

void pr__ffm_hot_flush(void *hot, int ith) {
    ffm_hot *h = hot;
    ffm_model *m = h->m;
    hot_thread *t = &h->th[ith];
    const uint64_t rf = m->row_floats;
    pthread_mutex_lock(&h->lock);
    for (uint32_t s = 0; s < h->n; s++)
        fold(m->table + (uint64_t)h->bucket[s] * rf, t->local + s * rf, t->base + s * rf, rf);
    fold(m->bias, t->local + (uint64_t)h->n * rf, t->base + (uint64_t)h->n * rf, 4);
    pthread_mutex_unlock(&h->lock);
}

void pr__ffm_hot_free(void *hot) {
    ffm_hot *h = hot;
    if (!h) return;
    for (int t = 0; h->th && t < h->nth; t++) {
        free(h->th[t].local);
        free(h->th[t].base);
    }
    pthread_mutex_destroy(&h->lock);
    free(h->th);
    free(h->bucket);
    free(h->key);
    free(h->slot);
    free(h);
}
