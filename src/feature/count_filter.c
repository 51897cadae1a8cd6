/*
 * count_filter.c: the minimum-count filter (McMahan et al. 2013, "Ad Click
 * Prediction: a View from the Trenches", count-based feature inclusion).
 *
 * Structure: one saturating uint8 counter per hashed bucket, i.e. a counting
 * Bloom filter with k = 1 over 2^hash_bits buckets; hashing has already
 * spread the features, so a second hash would buy nothing. Counters saturate
 * at 255, which is why min_count is capped there. The admitted-bucket bitmap
 * (count >= min_count) is derived on demand; it, not the counts, is what a
 * model stores and serving applies (pr_featurizer_apply_filter).
 *
 * Ownership: the filter owns counts and bitmap; the bitmap pointer handed
 * out stays valid until the next pr_count_filter_bitmap or free.
 */
#include <stdlib.h>
#include <string.h>

#include "pronto/feature.h"

struct pr_count_filter {
    uint32_t hash_bits;
    uint32_t min_count;
    uint8_t *counts;  /* 2^hash_bits saturating counters */
    uint64_t *bitmap; /* 2^hash_bits bits */
};

pr_status pr_count_filter_new(uint32_t hash_bits, uint32_t min_count,
                              pr_count_filter **out, pr_err *err) {
    if (hash_bits < 1 || hash_bits > 30)
        return pr_err_set(err, PR_ERR_INVALID,
                          "count filter: hash_bits %u out of range (1..30)",
                          hash_bits);
    if (min_count > 255)
        return pr_err_set(err, PR_ERR_INVALID,
                          "count filter: min_count %u exceeds 255 (counters "
                          "are 8-bit)",
                          min_count);
    size_t buckets = (size_t)1 << hash_bits;
    size_t words = (buckets + 63) / 64;
    pr_count_filter *c = calloc(1, sizeof *c);
    if (c) {
        c->counts = calloc(buckets, 1);
        c->bitmap = calloc(words, sizeof *c->bitmap);
    }
    if (!c || !c->counts || !c->bitmap) {
        pr_count_filter_free(c);
        return pr_err_set(err, PR_ERR_NOMEM,
                          "count filter: out of memory for 2^%u buckets",
                          hash_bits);
    }
    c->hash_bits = hash_bits;
    c->min_count = min_count;
    *out = c;
    return PR_OK;
}

void pr_count_filter_add(pr_count_filter *c, const pr_example *x) {
    uint32_t mask = (uint32_t)(((uint64_t)1 << c->hash_bits) - 1);
    for (uint32_t k = 0; k < x->n; k++) {
        uint8_t *n = &c->counts[x->f[k].index & mask];
        *n += *n != UINT8_MAX;
    }
}

void pr_count_filter_add_admit(pr_count_filter *c, const pr_featurizer *f,
                               const uint64_t *known, pr_example *x) {
    uint32_t mask = (uint32_t)(((uint64_t)1 << c->hash_bits) - 1);
    for (uint32_t k = 0; k < x->n; k++) {
        uint32_t b = x->f[k].index & mask;
        uint8_t *n = &c->counts[b];
        *n += *n != UINT8_MAX;
        if (*n < c->min_count && !(known && (known[b >> 6] >> (b & 63) & 1)))
            x->f[k].index = pr_featurizer_rare_index(f, x->f[k].field);
    }
}

uint8_t *pr_count_filter_counts(pr_count_filter *c) { return c->counts; }

const uint64_t *pr_count_filter_bitmap(pr_count_filter *c) {
    size_t buckets = (size_t)1 << c->hash_bits;
    memset(c->bitmap, 0, (buckets + 63) / 64 * sizeof *c->bitmap);
    for (size_t b = 0; b < buckets; b++)
        if (c->counts[b] >= c->min_count)
            c->bitmap[b >> 6] |= (uint64_t)1 << (b & 63);
    return c->bitmap;
}

void pr_count_filter_free(pr_count_filter *c) {
    if (!c) return;
    free(c->counts);
    free(c->bitmap);
    free(c);
}
