/*
 * model_hot.c: the public hot-replica calls (model.h, pr_model_hot_*),
 * dispatched to the kind's optional hot entries of pr__model_ops. The FFM
 * replicas themselves are in model_ffm_hot.c.
 *
 * Here the bucket list is masked, sorted and made distinct, so that every
 * kind gets a clean list; and the bookkeeping the kinds share (pr__hot,
 * model_int.h) lives here.
 *
 * Ownership: a pr_model_hot owns the kind's state (released through
 * ops->hot_free) and borrows the model.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

struct pr_model_hot {
    const pr__model_ops *ops;
    void *impl;          /* the kind's replicas, owned */
};

#define PR__HOT_THREADS_MAX 1024
#define PR__HOT_BUCKETS_MAX 65536u

int pr_model_supports_hot(const pr_model *m) {
    return m && m->ops->hot_new != NULL;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

pr_status pr_model_hot_new(pr_model *m, int nth, const uint32_t *buckets, uint32_t n,
                           pr_model_hot **out, pr_err *err) {
    *out = NULL;
    if (!pr_model_supports_hot(m))
        return pr_err_set(err, PR_ERR_UNSUPPORTED,
                          "model kind %s has no hot replicas (train it Hogwild)",
                          pr_model_kind_name(m ? m->params.kind : 0));
    if (nth < 1 || nth > PR__HOT_THREADS_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "hot replicas: threads must be in [1, %d], got %d",
                          PR__HOT_THREADS_MAX, nth);
    if (n > PR__HOT_BUCKETS_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "hot replicas: at most %u buckets, got %u",
                          PR__HOT_BUCKETS_MAX, n);
    uint32_t *list = malloc((n ? n : 1) * sizeof *list);
    pr_model_hot *h = calloc(1, sizeof *h);
    if (!list || !h) {
        free(list);
        free(h);
        return pr_err_set(err, PR_ERR_NOMEM, "hot replicas: out of memory");
    }
    const uint32_t mask = (uint32_t)(((uint64_t)1 << m->params.hash_bits) - 1);
    for (uint32_t i = 0; i < n; i++) list[i] = buckets[i] & mask;
    qsort(list, n, sizeof *list, cmp_u32);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (k == 0 || list[i] != list[k - 1]) list[k++] = list[i];
    h->ops = m->ops;
    pr_status s = m->ops->hot_new(m->impl, nth, list, k, &h->impl, err);
    free(list);
    if (s != PR_OK) {
        free(h);
        return s;
    }
    *out = h;
    return PR_OK;
}

double pr_model_update_hot(pr_model_hot *h, int ith, const pr_example *x) {
    return h->ops->hot_update(h->impl, ith, x);
}

void pr_model_hot_prefetch(pr_model_hot *h, int ith, const pr_example *x) {
    h->ops->hot_prefetch(h->impl, ith, x);
}

void pr_model_hot_flush(pr_model_hot *h, int ith) {
    h->ops->hot_flush(h->impl, ith);
}

/* ------------------------------------------------------------ pr__hot */

static float *copy_alloc(uint64_t floats) {
    return aligned_alloc(64, ((size_t)floats * sizeof(float) + 63) & ~(size_t)63);
}

pr_status pr__hot_init(pr__hot *h, int nth, const uint32_t *buckets, uint32_t n,
                       uint64_t unit_floats, uint64_t extra_floats, pr_err *err) {
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    h->n = n;
    h->nth = nth;
    h->floats = (uint64_t)n * unit_floats + extra_floats;
    h->bucket = malloc((n ? n : 1) * sizeof *h->bucket);
    h->th = calloc((size_t)nth, sizeof *h->th);
    int ok = h->bucket && h->th;
    for (int t = 0; ok && t < nth; t++) {
        h->th[t].local = copy_alloc(h->floats);
        h->th[t].base = copy_alloc(h->floats);
        ok = h->th[t].local && h->th[t].base;
    }
    /* the lookup table: at least 4 slots a key, doubled until every key
     * lands in its home slot or the next (pr__hot_find reads only those),
     * up to 64 slots a key; a key that still finds no place (never seen)
     * would be missed by lookups: its bucket then trains as a shared one
     * and flushes add nothing to it, which is correct, only slower */
    uint64_t cap = 64;
    while (cap < 4 * (uint64_t)n) cap *= 2;
    for (; ok; cap *= 2) {
        free(h->key);
        free(h->slot);
        h->key = calloc(cap, sizeof *h->key);
        h->slot = calloc(cap, sizeof *h->slot);
        if (!(ok = h->key && h->slot)) break;
        h->cap_mask = (uint32_t)(cap - 1);
        uint32_t placed = 0;
        for (uint32_t s = 0; s < n; s++) {
            uint32_t i = (buckets[s] * 0x9E3779B1u) & h->cap_mask;
            if (h->key[i]) i = (i + 1) & h->cap_mask;
            if (h->key[i]) continue;
            h->key[i] = buckets[s] + 1;
            h->slot[i] = s;
            placed++;
        }
        if (placed == n || cap >= 64 * (uint64_t)n) break;
    }
    if (!ok) {
        pr__hot_release(h);
        return pr_err_set(err, PR_ERR_NOMEM,
                          "hot replicas: cannot allocate %d x 2 copies of %u buckets", nth, n);
    }
    memcpy(h->bucket, buckets, n * sizeof *buckets);
    return PR_OK;
}

void pr__hot_release(pr__hot *h) {
    for (int t = 0; h->th && t < h->nth; t++) {
        free(h->th[t].local);
        free(h->th[t].base);
    }
    pthread_mutex_destroy(&h->lock);
    free(h->th);
    free(h->bucket);
    free(h->key);
    free(h->slot);
    memset(h, 0, sizeof *h);
}

void pr__hot_fold(float *restrict shared, float *restrict local, float *restrict base,
                  uint64_t n) {
    for (uint64_t d = 0; d < n; d++) {
        float sh = shared[d], l = local[d], b = base[d];
        float v = sh == b ? l : sh + (l - b);
        shared[d] = v;
        local[d] = v;
        base[d] = v;
    }
}

/* ------------------------------------------------------------ front door */

void pr_model_hot_free(pr_model_hot *h) {
    if (!h) return;
    h->ops->hot_free(h->impl);
    free(h);
}
