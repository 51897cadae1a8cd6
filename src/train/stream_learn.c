/*
 * stream_learn.c: single-pass training straight from the input, no cache.
 *
 * Used by pr_train when there is one pass, no validation file and no
 * --cache: the way Vowpal Wabbit trains, in constant memory and with no
 * temporary file however large the input (a cache of the Criteo 1TB data
 * would take ~750 GB).
 *
 * The reader's thread featurizes rows, admits their features (online count
 * filter, in input order: deterministic) and collects them into batches of
 * BATCH_EXAMPLES; each full batch is shuffled (seeded by its number: the
 * "shuffle within a buffer" of the issue; input files are often sorted by
 * time or by source, and learning in file order measurably hurts: 0.4536
 * vs 0.4525 test log loss on gen-criteo) and then learned:
 *   threads = 1: by the reader's thread itself: deterministic;
 *   threads = N: by N learner threads taking full batches from a bounded
 *                queue (Hogwild; only the interleaving is not deterministic);
 *                for FFM with per-thread copies of the hot rows picked
 *                from the first batch (pr_model_hot, as trainer.c does).
 *
 * Rare features: pr_count_filter_add_admit maps a feature to its field's
 * rare bucket until its bucket has been seen min_count times (McMahan et
 * al.'s online inclusion); the model then stores the final bitmap.
 *
 * Ownership: batches are owned by the pool here; the model, featurizer and
 * filter are the caller's.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "train/train_int.h"

#define BATCH_EXAMPLES 16384

typedef struct batch {
    pr_example *ex;
    pr_feature *feat;
    uint32_t n;
    size_t n_feat, cap_feat;
    struct batch *next;
} batch;

typedef struct stream_ctx {
    pr_model *model;
    const pr_featurizer *fz;
    pr_count_filter *counts;     /* NULL: no min_count */
    pr_train_report *rep;
    const pr_train_opts *o;
    uint64_t rng;
    uint64_t n_batches;          /* sealed so far: seeds each shuffle */
    pr_progress prog;
    /* threads = 1 */
    double ll_sum, ll_w;
    /* threads > 1 */
    int threaded;
    pthread_mutex_t lock;
    pthread_cond_t has_full, has_free;
    batch *free_list, *full_head, *full_tail;
    batch *cur;                  /* being filled by the reader */
    int done;
    double shared_ll_sum, shared_ll_w;
    uint64_t learned;
    /* the reference profile (NULL: none) and the progressive scores */
    pr_profile_builder *prof;
    const char *prof_file;
    pr_scores *scores;           /* under lock when threaded */
    double recal;                /* ln(neg_sample_rate) */
    /* threads > 1 on a model with hot replicas: made from the first full
     * batch before it is handed over (hot_buckets.c), NULL until then and
     * for an input shorter than a batch */
    pr_model_hot *hot;
    atomic_int next_ith;         /* learner ids */
} stream_ctx;

static double update_one(pr__learner *l, pr_example *x, pr_example *next) {
    if (next) pr__learner_prefetch(l, next);
    return pr__learner_update(l, x);
}

/* ------------------------------------------------------------ batches */

static batch *batch_new(void) {
    batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->ex = malloc(BATCH_EXAMPLES * sizeof *b->ex);
    b->cap_feat = (size_t)BATCH_EXAMPLES * 48;
    b->feat = malloc(b->cap_feat * sizeof *b->feat);
    if (!b->ex || !b->feat) {
        free(b->ex);
        free(b->feat);
        free(b);
        return NULL;
    }
    return b;
}

static void batch_free(batch *b) {
    if (!b) return;
    free(b->ex);
    free(b->feat);
    free(b);
}

/* Copies x into b; 0 when out of memory. Example feature pointers are fixed
 * up when the batch is handed over (the pool may move on growth). */
static int batch_add(batch *b, const pr_example *x) {
    if (b->n_feat + x->n > b->cap_feat) {
        size_t cap = b->cap_feat * 2 + x->n;
        pr_feature *nf = realloc(b->feat, cap * sizeof *nf);
        if (!nf) return 0;
        b->feat = nf;
        b->cap_feat = cap;
    }
    pr_example *e = &b->ex[b->n++];
    *e = *x;
    e->f = (pr_feature *)(uintptr_t)b->n_feat; /* offset until handed over */
    memcpy(b->feat + b->n_feat, x->f, x->n * sizeof *x->f);
    b->n_feat += x->n;
    return 1;
}

/* Makes the batch's examples point at its feature pool and shuffles them. */
static void batch_seal(batch *b, uint64_t seed) {
    for (uint32_t i = 0; i < b->n; i++) b->ex[i].f = b->feat + (uintptr_t)b->ex[i].f;
    uint64_t st = seed;
    for (uint32_t i = b->n; i > 1; i--) {
        uint32_t j = (uint32_t)(pr_splitmix64(&st) % i);
        pr_example t = b->ex[i - 1];
        b->ex[i - 1] = b->ex[j];
        b->ex[j] = t;
    }
}

/* Learns a sealed batch; adds its log loss to *ll / *w. */
static void batch_learn(pr__learner *r, batch *b, double *ll, double *w,
                        pr_scores *sc, double recal) {
    for (uint32_t i = 0; i < b->n; i++) {
        pr_example *x = &b->ex[i];
        double z = update_one(r, x, i + 1 < b->n ? &b->ex[i + 1] : NULL);
        pr_scores_add_logit(sc, z + recal);
        *ll += x->weight * pr__logloss_of_logit(z, x->label);
        *w += x->weight;
    }
}

/* ------------------------------------------------------------ learners */

static void *learner(void *arg) {
    stream_ctx *c = arg;
    pr__learner r = {c->model, NULL, atomic_fetch_add(&c->next_ith, 1), 0};
    for (;;) {
        pthread_mutex_lock(&c->lock);
        while (!c->full_head && !c->done) pthread_cond_wait(&c->has_full, &c->lock);
        batch *b = c->full_head;
        r.hot = c->hot;  /* set before the first batch was queued */
        if (!b) {
            pthread_mutex_unlock(&c->lock);
            pr__learner_done(&r);
            return NULL;
        }
        c->full_head = b->next;
        if (!c->full_head) c->full_tail = NULL;
        pthread_mutex_unlock(&c->lock);

        double ll = 0, w = 0;
        pr_scores *sc = calloc(1, sizeof *sc);
        pr_scores dummy;
        batch_learn(&r, b, &ll, &w, sc ? sc : &dummy, c->recal);

        pthread_mutex_lock(&c->lock);
        if (sc) pr_scores_merge(c->scores, sc);
        free(sc);
        c->shared_ll_sum += ll;
        c->shared_ll_w += w;
        c->learned += b->n;
        b->n = 0;
        b->n_feat = 0;
        b->next = c->free_list;
        c->free_list = b;
        pthread_cond_signal(&c->has_free);
        pthread_mutex_unlock(&c->lock);
    }
}

/* Seals the current batch and learns it (threads = 1) or hands it to the
 * learners and takes a free one. */
/* The hot replicas, from the buckets of b (the first batch). */
static pr_status make_hot(stream_ctx *c, const batch *b, pr_err *err) {
    pr__hot_count *h = NULL;
    uint32_t *list = NULL, n = 0;
    pr_status s = pr__hot_count_new(pr_model_params_get(c->model)->hash_bits, &h, err);
    for (uint32_t i = 0; s == PR_OK && i < b->n; i++) s = pr__hot_count_add(h, &b->ex[i], err);
    if (s == PR_OK) s = pr__hot_count_pick(h, c->o->hot_rows, &list, &n, err);
    pr__hot_count_free(h);
    if (s == PR_OK) s = pr_model_hot_new(c->model, c->o->threads, list, n, &c->hot, err);
    if (s == PR_OK) c->rep->hot_rows = n;
    free(list);
    return s;
}

static pr_status hand_over(stream_ctx *c, pr_err *err) {
    batch *b = c->cur;
    batch_seal(b, c->o->seed * 0x9e3779b97f4a7c15ULL + c->n_batches++);
    if (!c->threaded) {
        pr__learner r = {c->model, NULL, 0, 0};
        batch_learn(&r, b, &c->ll_sum, &c->ll_w, c->scores, c->recal);
        c->rep->example_passes += b->n;
        b->n = 0;
        b->n_feat = 0;
        pr_progress_update(&c->prog, c->rep->rows_read, "logloss",
                           c->ll_w > 0 ? c->ll_sum / c->ll_w : 0);
        return PR_OK;
    }
    if (c->n_batches == 1 && c->o->hot_rows && pr_model_supports_hot(c->model)) {
        pr_status s = make_hot(c, b, err);
        if (s != PR_OK) return s;
    }
    pthread_mutex_lock(&c->lock);
    b->next = NULL;
    if (c->full_tail) c->full_tail->next = b;
    else c->full_head = b;
    c->full_tail = b;
    pthread_cond_signal(&c->has_full);
    while (!c->free_list) pthread_cond_wait(&c->has_free, &c->lock);
    c->cur = c->free_list;
    c->free_list = c->cur->next;
    double ll = c->shared_ll_w > 0 ? c->shared_ll_sum / c->shared_ll_w : 0;
    pthread_mutex_unlock(&c->lock);
    pr_progress_update(&c->prog, c->rep->rows_read, "logloss", ll);
    return PR_OK;
}

/* ------------------------------------------------------------ reader side */

static pr_status stream_one(void *vctx, pr_example *x, const pr_record *rec, pr_err *err) {
    stream_ctx *c = vctx;
    pr_train_report *rep = c->rep;
    if (!rec->has_label)
        return pr_err_set(err, PR_ERR_LABEL, "%s:%llu: row has no label", rec->file,
                          (unsigned long long)rec->line);
    rep->rows_read++;
    if (x->ts) {
        if (!rep->ts_min || x->ts < rep->ts_min) rep->ts_min = x->ts;
        if (x->ts > rep->ts_max) rep->ts_max = x->ts;
    }
    if (c->prof) {
        if (rec->file != c->prof_file &&
            pr_profile_builder_bind_featurizer(c->prof, c->fz) == PR_OK)
            c->prof_file = rec->file;
        pr_profile_builder_add(c->prof, rec);
    }
    if (c->o->neg_sample_rate < 1.0f && x->label < 0.5f) {
        double u = (double)(pr_splitmix64(&c->rng) >> 11) * 0x1.0p-53;
        if (u >= c->o->neg_sample_rate) {
            rep->rows_dropped++;
            return PR_OK;
        }
    }
    if (c->counts) pr_count_filter_add_admit(c->counts, c->fz, pr_model_filter(c->model), x);
    if (!batch_add(c->cur, x)) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    if (c->cur->n == BATCH_EXAMPLES) return hand_over(c, err);
    return PR_OK;
}

pr_status pr__learn_stream(pr_model *model, pr_featurizer *fz, const pr_spec *spec,
                           const pr_input *in, const pr_record_source *src,
                           const pr_train_opts *o,
                           pr_count_filter *counts, pr_profile_builder *prof,
                           pr_scores *scores, pr_train_report *rep, pr_err *err) {
    stream_ctx c;
    memset(&c, 0, sizeof c);
    c.prof = prof;
    c.scores = scores;
    c.recal = log((double)o->neg_sample_rate);
    c.model = model;
    c.fz = fz;
    c.counts = counts;
    c.rep = rep;
    c.o = o;
    c.rng = o->seed ^ 0x6e6567ULL;
    c.threaded = o->threads > 1;
    pthread_t *tids = NULL;
    int started = 0;
    pr_status s = PR_OK;
    if (!c.threaded) {
        c.cur = batch_new();
        if (!c.cur) s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    } else {
        pthread_mutex_init(&c.lock, NULL);
        pthread_cond_init(&c.has_full, NULL);
        pthread_cond_init(&c.has_free, NULL);
        /* enough batches that the reader never waits while learners work */
        for (int i = 0; i < o->threads + 2; i++) {
            batch *b = batch_new();
            if (!b) {
                s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
                break;
            }
            b->next = c.free_list;
            c.free_list = b;
        }
        if (s == PR_OK) {
            c.cur = c.free_list;
            c.free_list = c.cur->next;
            tids = calloc((size_t)o->threads, sizeof *tids);
            if (!tids) s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        }
        for (int i = 0; s == PR_OK && i < o->threads; i++) {
            if (pthread_create(&tids[i], NULL, learner, &c) != 0) {
                s = pr_err_errno(err, PR_ERR_NOMEM, errno, "cannot start a thread");
                break;
            }
            started++;
        }
    }
    double t0 = pr_now();
    pr_progress_start(&c.prog, "train (1 pass, streaming)", 0);
    uint64_t bad = 0;
    if (s == PR_OK)
        s = pr__featurize_shard(fz, spec, NULL, in, src, 0, 0, 0, o->skip_bad, &bad, stream_one,
                                &c, err);
    rep->rows_bad += bad;
    if (!c.threaded) {
        if (s == PR_OK && c.cur && c.cur->n) hand_over(&c, err);
        batch_free(c.cur);
    } else {
        /* hand over the last partial batch (also on error: learners drain) */
        pthread_mutex_lock(&c.lock);
        if (c.cur && c.cur->n) {
            batch_seal(c.cur, o->seed * 0x9e3779b97f4a7c15ULL + c.n_batches++);
            c.cur->next = NULL;
            if (c.full_tail) c.full_tail->next = c.cur;
            else c.full_head = c.cur;
            c.full_tail = c.cur;
            c.cur = NULL;
        }
        c.done = 1;
        pthread_cond_broadcast(&c.has_full);
        pthread_mutex_unlock(&c.lock);
        for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
        pr_model_hot_free(c.hot);  /* every learner flushed on its way out */
        c.ll_sum = c.shared_ll_sum;
        c.ll_w = c.shared_ll_w;
        rep->example_passes += c.learned;
        batch_free(c.cur);
        while (c.free_list) {
            batch *b = c.free_list;
            c.free_list = b->next;
            batch_free(b);
        }
        while (c.full_head) { /* only after a failed thread start */
            batch *b = c.full_head;
            c.full_head = b->next;
            batch_free(b);
        }
        free(tids);
        pthread_cond_destroy(&c.has_full);
        pthread_cond_destroy(&c.has_free);
        pthread_mutex_destroy(&c.lock);
    }
    pr_progress_end(&c.prog);
    rep->learn_seconds = pr_now() - t0;
    rep->passes_run = 1;
    rep->best_pass = 1;
    rep->train_logloss = c.ll_w > 0 ? c.ll_sum / c.ll_w : NAN;
    return s;
}
