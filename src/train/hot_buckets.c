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
 * Counting: open addressing over the sampled (bucket, count) pairs, sized
 * to twice the sampled feature occurrences; no table of 2^bits counters.
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

static int by_count_desc(const void *a, const void *b) {
    const bucket_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

pr_status pr__hot_buckets(const pr_cache *cache, const pr_featurizer *fz,
                          const uint64_t *filter, uint32_t max, uint32_t **out,
                          uint32_t *n_out, pr_err *err) {
    *out = NULL;
    *n_out = 0;
    uint32_t nb = pr_cache_n_blocks(cache);
    if (max == 0 || nb == 0) return PR_OK;
    uint32_t take = nb < SAMPLE_BLOCKS ? nb : SAMPLE_BLOCKS;
    pr_cache_block blk;
    pr_cache_block_init(&blk);
    bucket_count *tab = NULL;
    uint64_t cap = 0, used = 0, examples = 0;
    const uint32_t mask = (uint32_t)(((uint64_t)1 << pr_cache_hash_bits(cache)) - 1);
    pr_status s = PR_OK;
    for (uint32_t k = 0; k < take && s == PR_OK; k++) {
        uint32_t b = (uint32_t)((uint64_t)nb * k / take);
        if ((s = pr_cache_read_block(cache, b, &blk, err)) != PR_OK) break;
        for (uint32_t i = 0; i < blk.n && s == PR_OK; i++) {
            pr_example *x = &blk.ex[i];
            pr_featurizer_apply_filter(fz, filter, x);
            examples++;
            if (2 * (used + x->n) > cap) {  /* grow: keep the load under 1/2 */
                uint64_t ncap = cap ? cap * 2 : 1u << 16;
                while (2 * (used + x->n) > ncap) ncap *= 2;
                bucket_count *nt = calloc(ncap, sizeof *nt);
                if (!nt) {
                    s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
                    break;
                }
                for (uint64_t j = 0; j < cap; j++) {
                    if (!tab[j].key) continue;
                    uint64_t h = (tab[j].key * 0x9E3779B97F4A7C15ull) & (ncap - 1);
                    while (nt[h].key) h = (h + 1) & (ncap - 1);
                    nt[h] = tab[j];
                }
                free(tab);
                tab = nt;
                cap = ncap;
            }
            for (uint32_t f = 0; f < x->n; f++) {
                uint32_t key = (x->f[f].index & mask) + 1;
                uint64_t h = (key * 0x9E3779B97F4A7C15ull) & (cap - 1);
                while (tab[h].key && tab[h].key != key) h = (h + 1) & (cap - 1);
                if (!tab[h].key) {
                    tab[h].key = key;
                    used++;
                }
                tab[h].count++;
            }
        }
    }
    pr_cache_block_free(&blk);
    if (s != PR_OK || !tab) {
        free(tab);
        return s;
    }
    /* compact the qualifying buckets to the front, most frequent first */
    uint64_t min = examples / MIN_SHARE > 1 ? examples / MIN_SHARE : 2, n = 0;
    for (uint64_t j = 0; j < cap; j++)
        if (tab[j].key && tab[j].count >= min) tab[n++] = tab[j];
    qsort(tab, n, sizeof *tab, by_count_desc);
    if (n > max) n = max;
    uint32_t *list = malloc((n ? n : 1) * sizeof *list);
    if (!list) {
        free(tab);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    for (uint64_t j = 0; j < n; j++) list[j] = tab[j].key - 1;
    free(tab);
    *out = list;
    *n_out = (uint32_t)n;
    return PR_OK;
}
