/*
 * hot_buckets.c: which buckets get per-thread copies when several threads
 * train one model (pr_model_hot, model.h): the ones most examples touch.
 *
 * Counted on a sample: up to SAMPLE_BLOCKS cache blocks spread evenly over
 * the cache (about 20k examples at the usual block size), after the count
 * filter, as the learners will see them (the filter maps rare features to
 * their field's rare bucket, often the hottest of all). A bucket qualifies
 * when it is in at least 1 in MIN_SHARE sampled examples: below that a
 * thread touches it about once a block or less, so copying it back and
 * forth at every flush costs more than the rare collision it avoids. Of
 * those, the max most frequent are kept. On 1M gen-criteo rows (2^20
 * buckets, 39 fields) more than 1024 qualify; the 1024 most frequent hold
 * 77% of the feature occurrences and 99.8% of the sum of squared bucket
 * counts (what the chance of two threads writing one row at once grows
 * with), the top 256 55% and 97%.
 *
 * The one-pass streaming trainer (stream_learn.c) counts its first batch
 * (16384 examples) with the same counter.
 *
 * Counting: open addressing over the (bucket, count) pairs seen, kept at
 * most half full; no table of 2^bits counters.
 */
#include <stdlib.h>
#include <string.h>

#include "train/train_int.h"

#define SAMPLE_BLOCKS 16
#define MIN_SHARE 1024

typedef struct bucket_count {
    uint32_t key;       /* bucket + 1; 0 = empty */
    uint32_t count;
} bucket_count;

struct pr__hot_count {
    bucket_count *tab;
    uint64_t cap, used, examples;
    uint32_t mask;
};

static int by_count_desc(const void *a, const void *b) {
    const bucket_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

pr_status pr__hot_count_new(uint32_t hash_bits, pr__hot_count **out, pr_err *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    (*out)->mask = (uint32_t)(((uint64_t)1 << hash_bits) - 1);
    return PR_OK;
}

void pr__hot_count_free(pr__hot_count *h) {
    if (!h) return;
    free(h->tab);
    free(h);
}

/* Keeps the table's load under 1/2 with `more` keys added. */
static int reserve(pr__hot_count *h, uint64_t more) {
    if (2 * (h->used + more) <= h->cap) return 1;
    uint64_t ncap = h->cap ? h->cap * 2 : 1u << 16;
    while (2 * (h->used + more) > ncap) ncap *= 2;
    bucket_count *nt = calloc(ncap, sizeof *nt);
    if (!nt) return 0;
    for (uint64_t j = 0; j < h->cap; j++) {
        if (!h->tab[j].key) continue;
        uint64_t i = (h->tab[j].key * 0x9E3779B97F4A7C15ull) >> 20 & (ncap - 1);
        while (nt[i].key) i = (i + 1) & (ncap - 1);
        nt[i] = h->tab[j];
    }
    free(h->tab);
    h->tab = nt;
    h->cap = ncap;
    return 1;
}

pr_status pr__hot_count_add(pr__hot_count *h, const pr_example *x, pr_err *err) {
    if (!reserve(h, x->n)) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    h->examples++;
    for (uint32_t f = 0; f < x->n; f++) {
        uint32_t key = (x->f[f].index & h->mask) + 1;
        uint64_t i = (key * 0x9E3779B97F4A7C15ull) >> 20 & (h->cap - 1);
        while (h->tab[i].key && h->tab[i].key != key) i = (i + 1) & (h->cap - 1);
        if (!h->tab[i].key) {
            h->tab[i].key = key;
            h->used++;
        }
        h->tab[i].count++;
    }
    return PR_OK;
}

pr_status pr__hot_count_pick(pr__hot_count *h, uint32_t max, uint32_t **out,
                             uint32_t *n_out, pr_err *err) {
    *out = NULL;
    *n_out = 0;
    if (max == 0 || !h->tab) return PR_OK;
    /* compact the qualifying buckets to the front, most frequent first (the
     * table is spent: counting again needs a new counter) */
    uint64_t min = h->examples / MIN_SHARE > 1 ? h->examples / MIN_SHARE : 2, n = 0;
    for (uint64_t j = 0; j < h->cap; j++)
        if (h->tab[j].key && h->tab[j].count >= min) h->tab[n++] = h->tab[j];
    qsort(h->tab, n, sizeof *h->tab, by_count_desc);
    if (n > max) n = max;
    uint32_t *list = malloc((n ? n : 1) * sizeof *list);
    if (!list) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    for (uint64_t j = 0; j < n; j++) list[j] = h->tab[j].key - 1;
    free(h->tab);
    h->tab = NULL;
    h->cap = h->used = 0;
    *out = list;
    *n_out = (uint32_t)n;
    return PR_OK;
}

pr_status pr__hot_buckets(const pr_cache *cache, const pr_featurizer *fz,
                          const uint64_t *filter, uint32_t max, uint32_t **out,
                          uint32_t *n_out, pr_err *err) {
    *out = NULL;
    *n_out = 0;
    uint32_t nb = pr_cache_n_blocks(cache);
    if (max == 0 || nb == 0) return PR_OK;
    uint32_t take = nb < SAMPLE_BLOCKS ? nb : SAMPLE_BLOCKS;
    pr__hot_count *h = NULL;
    pr_status s = pr__hot_count_new(pr_cache_hash_bits(cache), &h, err);
    pr_cache_block blk;
    pr_cache_block_init(&blk);
    for (uint32_t k = 0; k < take && s == PR_OK; k++) {
        uint32_t b = (uint32_t)((uint64_t)nb * k / take);
        if ((s = pr_cache_read_block(cache, b, &blk, err)) != PR_OK) break;
        for (uint32_t i = 0; i < blk.n && s == PR_OK; i++) {
            pr_featurizer_apply_filter(fz, filter, &blk.ex[i]);
            s = pr__hot_count_add(h, &blk.ex[i], err);
        }
    }
    pr_cache_block_free(&blk);
    if (s == PR_OK) s = pr__hot_count_pick(h, max, out, n_out, err);
    pr__hot_count_free(h);
    return s;
}
