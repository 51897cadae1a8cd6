/*
 * monitor_int.h: what the profile, sketch and drift files share.
 *
 * A profile owns one pr_sketch_shape and one pr_sketch per column, plus the
 * prediction's; the sketches point at their shapes (in the same profile),
 * so a profile is not copied by value. Live sets (pr_live) borrow the
 * shapes of the profile they were made from.
 *
 * Reference builders, one per column kind:
 *   numeric      the first PR__SAMPLE finite values are kept; at the first
 *                value past that (or at finish) the quantile edges are cut
 *                from them, the kept values are counted, and every later
 *                value is counted directly (O(log bins)). Memory: 64 KB
 *                per numeric column while building.
 *   categorical  a counter per distinct value of the profiled sample
 *                (grown from PR__MG_CAP up to PR__MG_CAP_MAX, more than
 *                the sample's 2 * PR__ROWS_PER_LEVEL + 1 rows: the top
 *                values' counts are exact sample counts); past that
 *                (cannot happen while the sample is bounded) Misra-Gries
 *                decrements keep it bounded, and a Bloom
 *                filter of 2^PR__BLOOM_BUILD_LOG2 bits over every value,
 *                folded down (OR of halves) to the stored size at finish.
 */
#ifndef PRONTO_MONITOR_INT_H
#define PRONTO_MONITOR_INT_H

#include "pronto/profile.h"

#define PR__SAMPLE 8192u             /* numeric values kept to cut edges */
#define PR__TARGET_BINS 32u          /* quantile bins wanted */
#define PR__MG_CAP 512u              /* value counters at first */
#define PR__MG_CAP_MAX 8704u         /* at most (> 2 * PR__ROWS_PER_LEVEL + 1) */
#define PR__BLOOM_BUILD_LOG2 17u     /* 16 KB per column while building */
#define PR__ROWS_PER_LEVEL 4096u     /* row sampling (profile.c) */
#define PR__BLOOM_K 3u               /* bits per value, all in one word */
#define PR__BLOOM_MIN_LOG2 9u        /* 64 bytes */
#define PR__BLOOM_MAX_LOG2 16u       /* 8 KB per column stored */
#define PR__BLOOM_BUDGET_LOG2 20u    /* 128 KB for all columns stored */
#define PR__MOMENT_CLAMP 1e150       /* moments take values clamped to this */
#define PR__COLUMN_NAME_MAX 256u     /* column name bytes */
#define PR__MAX_COLUMNS 1024u

struct pr_profile {
    uint32_t n_columns;
    char **names;                /* owned */
    pr_sketch_shape *shapes;     /* owned, n_columns + 1 (last: prediction) */
    pr_sketch *sketches;         /* owned, n_columns + 1 */
    char *score_source;          /* owned, never NULL */
    pr_profile_summary sum;
};

/* sketch.c */
/* Empty profile with n columns (names NULL, shapes zeroed): n + 1 shapes
 * and sketches. */
pr_profile *pr__profile_alloc(uint32_t n);
void pr__shape_free(pr_sketch_shape *sh);
/* Rebuilds the slot table of a categorical shape from its top hashes;
 * returns -1 when two top hashes are equal. */
int pr__shape_index_top(pr_sketch_shape *sh);
/* Numeric text: 0 missing (blank), 1 non-finite or not a number, 2 a
 * finite *x. */
int pr__sketch_parse(const char *p, size_t len, double *x);
/* The filter is blocked (Putze et al. 2007): a value sets PR__BLOOM_K bits
 * of ONE 64-bit word, so adding or testing costs one cache miss. The word
 * is the hash's low bits masked to the filter's size (a fold keeps every
 * value in word i & (smaller words - 1)); the bits come from the high 18. */
static inline uint64_t pr__bloom_word(uint64_t h, uint32_t log2_bits) {
    return h & ((((uint64_t)1 << log2_bits) >> 6) - 1);
}
static inline uint64_t pr__bloom_bits(uint64_t h) {
    return (uint64_t)1 << (h >> 58) | (uint64_t)1 << (h >> 52 & 63) |
           (uint64_t)1 << (h >> 46 & 63);
}
int pr__bloom_has(const pr_sketch_shape *sh, uint64_t h);
/* Fills the bloom_fp field from the filter's fill. */
void pr__bloom_set_fp(pr_sketch_shape *sh);
/* The numeric shape for a sorted array of finite values. */
void pr__shape_numeric_from_sorted(pr_sketch_shape *sh, const double *v,
                                   size_t n);
/* The numeric shape cut from a pr_scores histogram (edges in p). */
void pr__shape_from_scores(pr_sketch_shape *sh, const pr_scores *s);
/* The sketch of a pr_scores on that shape. */
void pr__sketch_from_scores(pr_sketch *sk, const pr_scores *s);
double pr__scores_bin_lo(uint32_t i);   /* lower logit edge of bin i */

#endif
