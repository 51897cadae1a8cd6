/*
 * sketch.c: the per-column sketches (pronto/profile.h) and the shapes they
 * share: numeric bins cut at a reference's quantiles, categorical top
 * values with a membership filter of every reference value.
 *
 * Hot path (pr_sketch_add_*): a numeric value is parsed (the featurizer's
 * number parser), binned by binary search over at most 33 edges and folded
 * into Welford's mean and variance; a categorical value is hashed once
 * (xxh3), looked up in a 256-slot table of the top hashes and, when not a
 * top value, tested against the Bloom filter (3 bits of one 64-bit word,
 * monitor_int.h). No allocation, no lock: a sketch belongs to one thread
 * at a time.
 *
 * The filter's word is hash bits masked to its size, so a filter of 2^M
 * bits folds into one of 2^m bits (m < M) by OR-ing its halves: the
 * builder fills a large filter and stores the smallest fold that keeps the
 * false-positive rate near 1% (bounded by a per-profile budget).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "feature/feature_int.h"
#include "monitor/monitor_int.h"

#define HASH_SEED 0x70726f66696c65ULL  /* "profile" */

uint64_t pr_sketch_hash(const void *p, size_t len) {
    return pr_hash64(p, len, HASH_SEED);
}

void pr_sketch_init(pr_sketch *s, const pr_sketch_shape *shape) {
    memset(s, 0, sizeof *s);
    s->shape = shape;
}

void pr_sketch_reset(pr_sketch *s) { pr_sketch_init(s, s->shape); }

uint32_t pr_sketch_bin(const pr_sketch_shape *sh, double x) {
    /* the number of edges <= x */
    uint32_t lo = 0, hi = sh->n_edges;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (sh->edges[mid] <= x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void moments_add(pr_sketch *s, double x) {
    if (x > PR__MOMENT_CLAMP) x = PR__MOMENT_CLAMP;
    if (x < -PR__MOMENT_CLAMP) x = -PR__MOMENT_CLAMP;
    if (s->n_finite == 0 || x < s->min) s->min = x;
    if (s->n_finite == 0 || x > s->max) s->max = x;
    s->n_finite++;
    double d = x - s->mean;
    s->mean += d / (double)s->n_finite;
    s->m2 += d * (x - s->mean);
}

void pr_sketch_add_number(pr_sketch *s, double x) {
    s->n++;
    if (!isfinite(x)) {
        s->n_nonfinite++;
        return;
    }
    s->counts[pr_sketch_bin(s->shape, x)]++;
    moments_add(s, x);
}

void pr_sketch_add_missing(pr_sketch *s) {
    s->n++;
    s->n_missing++;
}

int pr__bloom_has(const pr_sketch_shape *sh, uint64_t h) {
    uint64_t bits = pr__bloom_bits(h);
    return (sh->bloom[pr__bloom_word(h, sh->bloom_log2)] & bits) == bits;
}

static int top_find(const pr_sketch_shape *sh, uint64_t h) {
    for (uint32_t i = (uint32_t)h & 255;; i = (i + 1) & 255) {
        int t = sh->slot[i];
        if (t < 0) return -1;
        if (sh->top_hash[t] == h) return t;
    }
}

static int blank(const char *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

int pr__sketch_parse(const char *p, size_t len, double *x) {
    if (len == 0) return 0;
    int is_int;
    int64_t iv;
    pr__num_result r = pr__parse_number(p, len, x, &is_int, &iv);
    if (r == PR__NUM_OK) return 2;
    return r == PR__NUM_MISSING && blank(p, len) ? 0 : 1; /* NaN, inf, junk */
}

void pr_sketch_add_text(pr_sketch *s, const char *p, size_t len) {
    const pr_sketch_shape *sh = s->shape;
    if (len == 0) {
        pr_sketch_add_missing(s);
        return;
    }
    if (sh->kind == PR_SKETCH_NUMERIC) {
        double x = 0;
        int r = pr__sketch_parse(p, len, &x);
        if (r == 2) pr_sketch_add_number(s, x);
        else if (r == 0) pr_sketch_add_missing(s);
        else pr_sketch_add_number(s, NAN);
        return;
    }
    s->n++;
    uint64_t h = pr_sketch_hash(p, len);
    int t = top_find(sh, h);
    if (t >= 0) s->counts[t]++;
    else if (sh->bloom_log2 == 0 || pr__bloom_has(sh, h)) s->counts[sh->n_top]++;
    else s->counts[sh->n_top + 1]++;
}

int pr_sketch_merge(pr_sketch *dst, const pr_sketch *src) {
    if (dst->shape != src->shape) return -1;
    dst->n += src->n;
    dst->n_missing += src->n_missing;
    dst->n_nonfinite += src->n_nonfinite;
    for (uint32_t i = 0; i < dst->shape->n_bins; i++) dst->counts[i] += src->counts[i];
    if (src->n_finite) {
        if (!dst->n_finite) {
            dst->min = src->min;
            dst->max = src->max;
            dst->mean = src->mean;
            dst->m2 = src->m2;
            dst->n_finite = src->n_finite;
        } else {
            /* Chan et al.'s pairwise update */
            double na = (double)dst->n_finite, nb = (double)src->n_finite, n = na + nb;
            double d = src->mean - dst->mean;
            dst->mean += d * nb / n;
            dst->m2 += src->m2 + d * d * na * nb / n;
            if (src->min < dst->min) dst->min = src->min;
            if (src->max > dst->max) dst->max = src->max;
            dst->n_finite += src->n_finite;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- shapes */

void pr__shape_free(pr_sketch_shape *sh) {
    free(sh->bloom);
    sh->bloom = NULL;
}

int pr__shape_index_top(pr_sketch_shape *sh) {
    memset(sh->slot, -1, sizeof sh->slot);
    for (uint32_t t = 0; t < sh->n_top; t++) {
        uint32_t i = (uint32_t)sh->top_hash[t] & 255;
        while (sh->slot[i] >= 0) {
            if (sh->top_hash[(int)sh->slot[i]] == sh->top_hash[t]) return -1;
            i = (i + 1) & 255;
        }
        sh->slot[i] = (int8_t)t;
    }
    return 0;
}

void pr__bloom_set_fp(pr_sketch_shape *sh) {
    if (!sh->bloom_log2) {
        sh->bloom_fp = 0;
        return;
    }
    uint64_t words = ((uint64_t)1 << sh->bloom_log2) / 64, set = 0;
    for (uint64_t i = 0; i < words; i++) set += (uint64_t)__builtin_popcountll(sh->bloom[i]);
    sh->bloom_fp = pow((double)set / (double)(words * 64), (double)sh->bloom_k);
}

void pr__shape_numeric_from_sorted(pr_sketch_shape *sh, const double *v, size_t n) {
    memset(sh, 0, sizeof *sh);
    sh->kind = PR_SKETCH_NUMERIC;
    uint32_t ne = 0;
    if (n > 0) {
        for (uint32_t q = 0; q < PR__TARGET_BINS; q++) {
            double e = v[(size_t)((double)q * (double)n / PR__TARGET_BINS)];
            if (ne == 0 || e > sh->edges[ne - 1]) sh->edges[ne++] = e;
        }
        /* the upper edge just above the largest value, so it falls inside */
        double top = nextafter(v[n - 1], INFINITY);
        if (!isfinite(top)) top = v[n - 1];
        if (top > sh->edges[ne - 1]) sh->edges[ne++] = top;
    }
    sh->n_edges = ne;
    sh->n_bins = ne + 1;
}

double pr__scores_bin_lo(uint32_t i) { return -16.0 + (double)i / 16.0; }

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

static void scores_put(pr_scores *s, double z, double p) {
    int64_t b = PR_SCORES_BINS - 1;
    if (!(z >= -16.0)) b = 0;
    else if (z < 16.0) b = (int64_t)((z + 16.0) * 16.0);
    if (b >= PR_SCORES_BINS) b = PR_SCORES_BINS - 1;
    s->hist[b]++;
    if (s->n == 0 || p < s->min) s->min = p;
    if (s->n == 0 || p > s->max) s->max = p;
    s->n++;
    s->sum += p;
    s->sumsq += p * p;
}

void pr_scores_add(pr_scores *s, double p) {
    if (!(p >= 0 && p <= 1)) {
        s->n_nonfinite++;
        return;
    }
    scores_put(s, log(p) - log1p(-p), p);
}

void pr_scores_add_logit(pr_scores *s, double z) {
    if (isnan(z)) {
        s->n_nonfinite++;
        return;
    }
    scores_put(s, z, 1.0 / (1.0 + exp(-z)));
}

void pr_scores_merge(pr_scores *dst, const pr_scores *src) {
    if (!src->n && !src->n_nonfinite) return;
    for (int i = 0; i < PR_SCORES_BINS; i++) dst->hist[i] += src->hist[i];
    if (src->n) {
        if (!dst->n || src->min < dst->min) dst->min = src->min;
        if (!dst->n || src->max > dst->max) dst->max = src->max;
    }
    dst->n += src->n;
    dst->n_nonfinite += src->n_nonfinite;
    dst->sum += src->sum;
    dst->sumsq += src->sumsq;
}

void pr__shape_from_scores(pr_sketch_shape *sh, const pr_scores *s) {
    memset(sh, 0, sizeof *sh);
    sh->kind = PR_SKETCH_NUMERIC;
    uint32_t ne = 0, first = PR_SCORES_BINS, last = 0;
    for (uint32_t i = 0; i < PR_SCORES_BINS; i++)
        if (s->hist[i]) {
            if (first == PR_SCORES_BINS) first = i;
            last = i;
        }
    if (s->n > 0) {
        /* the fine boundaries where the cumulative count first reaches
         * each q / 32 of n: the coarse bins hold whole fine bins */
        double lo = first == 0 ? s->min : sigmoid(pr__scores_bin_lo(first));
        sh->edges[ne++] = lo;
        uint64_t cum = 0;
        uint32_t q = 1;
        for (uint32_t i = first; i < last; i++) {
            cum += s->hist[i];
            if ((double)cum * PR__TARGET_BINS >= (double)q * (double)s->n) {
                double e = sigmoid(pr__scores_bin_lo(i + 1));
                if (e > sh->edges[ne - 1] && ne < PR_SKETCH_MAX_EDGES - 1) sh->edges[ne++] = e;
                while ((double)cum * PR__TARGET_BINS >= (double)q * (double)s->n) q++;
            }
        }
        double hi = last == PR_SCORES_BINS - 1 ? nextafter(s->max, INFINITY)
                                               : sigmoid(pr__scores_bin_lo(last + 1));
        if (hi > sh->edges[ne - 1]) sh->edges[ne++] = hi;
        else if (sh->edges[ne - 1] <= s->max) sh->edges[ne - 1] = nextafter(s->max, INFINITY);
    }
    sh->n_edges = ne;
    sh->n_bins = ne + 1;
}

void pr__sketch_from_scores(pr_sketch *sk, const pr_scores *s) {
    const pr_sketch_shape *sh = sk->shape;
    pr_sketch_reset(sk);
    for (uint32_t i = 0; i < PR_SCORES_BINS; i++) {
        if (!s->hist[i]) continue;
        /* a fine bin lies inside one coarse bin: place it by its middle,
         * clamped into [min, max] for the open-ended outer fine bins */
        double mid = sigmoid(pr__scores_bin_lo(i) + 1.0 / 32.0);
        if (mid < s->min) mid = s->min;
        if (mid > s->max) mid = s->max;
        sk->counts[pr_sketch_bin(sh, mid)] += s->hist[i];
    }
    sk->n = s->n + s->n_nonfinite;
    sk->n_nonfinite = s->n_nonfinite;
    sk->n_finite = s->n;
    if (s->n) {
        sk->min = s->min;
        sk->max = s->max;
        sk->mean = s->sum / (double)s->n;
        double m2 = s->sumsq - (double)s->n * sk->mean * sk->mean;
        sk->m2 = m2 > 0 ? m2 : 0;
    }
}

pr_profile *pr__profile_alloc(uint32_t n) {
    pr_profile *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_columns = n;
    p->names = calloc(n + 1, sizeof *p->names);
    p->shapes = calloc(n + 1, sizeof *p->shapes);
    p->sketches = calloc(n + 1, sizeof *p->sketches);
    p->score_source = calloc(1, 1);
    if (!p->names || !p->shapes || !p->sketches || !p->score_source) {
        pr_profile_free(p);
        return NULL;
    }
    for (uint32_t i = 0; i <= n; i++) {
        p->shapes[i].kind = PR_SKETCH_NUMERIC;
        p->shapes[i].n_bins = 1;
        memset(p->shapes[i].slot, -1, sizeof p->shapes[i].slot);
        pr_sketch_init(&p->sketches[i], &p->shapes[i]);
    }
    p->sum.base_rate = NAN;
    return p;
}

void pr_profile_free(pr_profile *p) {
    if (!p) return;
    for (uint32_t i = 0; p->names && i < p->n_columns; i++) free(p->names[i]);
    for (uint32_t i = 0; p->shapes && i <= p->n_columns; i++) pr__shape_free(&p->shapes[i]);
    free(p->names);
    free(p->shapes);
    free(p->sketches);
    free(p->score_source);
    free(p);
}
