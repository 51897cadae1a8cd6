/*
 * trainer.c: pr_train, the batch trainer (see train.h for the two phases).
 *
 * Why Hogwild rather than sharding: every example touches ~40 buckets
 * spread over the whole 2^b space, so sharding the weights by bucket would
 * route every example to every shard; sharding the examples (one model per
 * thread, averaged) changes the algorithm and multiplies memory. Hogwild
 * measured: FTRL-LR 2.0M examples/s at 1 thread, 3.5M at 2 (1.75x: LR's
 * writes are 8-12 bytes per feature, contention is rare). FFM writes whole
 * rows of 22-40 slots per feature, and the hot rows (frequent values, rare
 * and missing buckets, the bias) bounce between cores: at 2 threads FFM
 * ran 450k examples/s when the host's two vCPUs shared an L3 and 150k when
 * they did not. So FFM's Hogwild threads keep their own copies of the hot
 * rows and the bias (pr_model_hot, model.h; which rows: hot_buckets.c) and
 * add their changes to the shared model every PR__HOT_FLUSH_EXAMPLES; every
 * other row is plain Hogwild. The team update (--team, below) removes the
 * races too but not the cost (same best-case speed, worse under CPU
 * contention). Figures: docs/benchmarks.md. Reproducibility comes from
 * --threads 1: the block order and the order within each block depend only
 * on (seed, pass, block), never on timing. With --team, models with a team
 * update (FFM) learn each example with all threads at once
 * (learn_team_worker): no weight is written by two threads, and the result
 * does not depend on timing either.
 *
 * Ownership: the trainer owns the caches it creates (temporary ones are
 * removed before returning), the count filter and the per-thread buffers.
 * The model and the featurizer are the caller's; *model may be replaced by
 * the best pass's snapshot (the old one is freed).
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pronto/cache.h"
#include "pronto/profile.h"
#include "train/train_int.h"

void pr_train_opts_default(pr_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->passes = 1;
    o->seed = 1;
    o->early_stop = 2;
    o->neg_sample_rate = 1.0f;
    o->team = 0;
    o->hot_rows = PR_TRAIN_HOT_ROWS;
}

static void shuffle_u32(uint32_t *a, uint32_t n, uint64_t seed) {
    uint64_t st = seed;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(pr_splitmix64(&st) % i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* A fingerprint of what the cache holds: the spec text, the downsampling,
 * and each input's name, size and modification time. A cache whose
 * fingerprint differs is stale and is rebuilt. */
static uint64_t inputs_fingerprint(const pr_featurizer *fz, const pr_input *in,
                                   const pr_train_opts *o) {
    const char *yaml = pr_featurizer_spec_yaml(fz);
    uint64_t h = pr_hash64(yaml, strlen(yaml), 0x70726f6e746fULL);
    h = pr_hash64(&o->neg_sample_rate, sizeof o->neg_sample_rate, h);
    h = pr_hash64(&o->seed, sizeof o->seed, h);
    for (uint32_t i = 0; i < in->n_paths; i++) {
        /* the absolute path, so "./a.tsv" and "/data/a.tsv" agree */
        char *abs = realpath(in->paths[i], NULL);
        const char *name = abs ? abs : in->paths[i];
        h = pr_hash64(name, strlen(name), h);
        free(abs);
        struct stat st;
        if (stat(in->paths[i], &st) == 0) {
            int64_t v[2] = {(int64_t)st.st_size, (int64_t)st.st_mtime};
            h = pr_hash64(v, sizeof v, h);
        }
    }
    return h;
}

/* ------------------------------------------------------------- prepare */

typedef struct prepare_ctx {
    pr_cache_writer *w;
    pr_count_filter *counts;   /* NULL when min_count is 0 */
    pr_train_report *rep;
    float neg_rate;
    uint64_t rng;
    pr_progress prog;
    uint64_t total_bytes;
    pr_profile_builder *prof;  /* NULL: no profile */
    const pr_featurizer *fz;
    const char *prof_file;     /* the file prof is bound for */
} prepare_ctx;

static pr_status prepare_one(void *vctx, pr_example *x,
                             const pr_record *rec, pr_err *err) {
    prepare_ctx *c = vctx;
    pr_train_report *rep = c->rep;
    if (!rec->has_label)
        return pr_err_set(err, PR_ERR_LABEL, "%s:%llu: row has no label",
                          rec->file, (unsigned long long)rec->line);
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
    if (c->neg_rate < 1.0f && x->label < 0.5f) {
        double u = (double)(pr_splitmix64(&c->rng) >> 11) * 0x1.0p-53;
        if (u >= c->neg_rate) {
            rep->rows_dropped++;
            return PR_OK;
        }
    }
    if (c->counts) pr_count_filter_add(c->counts, x);
    if ((rep->rows_read & 0xffff) == 0)
        pr_progress_update(&c->prog, rep->rows_read, NULL, 0);
    return pr_cache_writer_add(c->w, x, err);
}

/* Featurizes the inputs (or src's records) into a cache at path; counts
 * features into counts.
 * shard (may be NULL): {count, index}, with --mpi only (pr__featurize_shard). */
static pr_status prepare_cache(pr_featurizer *fz, const pr_spec *spec,
                               const pr_input *in, const pr_record_source *src,
                               const pr_train_opts *o,
                               const char *path, uint64_t fingerprint,
                               pr_count_filter *counts, const char *label,
                               pr_profile_builder *prof, const uint32_t *shard,
                               pr_train_report *rep, pr_err *err) {
    prepare_ctx c;
    memset(&c, 0, sizeof c);
    uint32_t shard_count = 0, shard_index = 0;
    if (o->mpi && shard) {
        shard_count = shard[0];
        shard_index = shard[1];
    }
    c.prof = prof;
    c.fz = fz;
    c.counts = counts;
    c.rep = rep;
    c.neg_rate = o->neg_sample_rate;
    c.rng = o->seed ^ 0x6e6567ULL;
    pr_status s = pr_cache_writer_open(path, pr_featurizer_hash_bits(fz),
                                       pr_featurizer_n_fields(fz), fingerprint,
                                       &c.w, err);
    if (s != PR_OK) return s;
    pr_progress_start(&c.prog, label, 0);
    uint64_t bad = 0;
    /* the cache holds unfiltered features: the filter is applied per pass */
    s = pr__featurize_shard(fz, spec, NULL, in, src, shard_count, shard_index, 0, o->skip_bad,
                            &bad, prepare_one, &c, err);
    pr_progress_end(&c.prog);
    rep->rows_bad += bad;
    if (s != PR_OK) {
        pr_cache_writer_abort(c.w);
        return s;
    }
    return pr_cache_writer_close(c.w, err);
}

/* Re-counts features from an existing cache (when it is reused or given
 * with --dataset), and gives the profile the examples' labels and times
 * (a cache has no raw columns to profile). counts may be NULL. */
static pr_status count_cache(const pr_cache *cache, pr_count_filter *counts,
                             pr_profile_builder *prof, pr_err *err) {
    pr_cache_block blk;
    pr_cache_block_init(&blk);
    pr_status s = PR_OK;
    for (uint32_t b = 0; b < pr_cache_n_blocks(cache) && s == PR_OK; b++) {
        s = pr_cache_read_block(cache, b, &blk, err);
        for (uint32_t i = 0; s == PR_OK && i < blk.n; i++) {
            if (counts) pr_count_filter_add(counts, &blk.ex[i]);
            pr_profile_builder_add_label(prof, blk.ex[i].label, 1, blk.ex[i].ts);
        }
    }
    pr_cache_block_free(&blk);
    return s;
}

/* ------------------------------------------------------------- learn */

typedef struct learn_shared {
    pr_model *model;
    const pr_cache *cache;
    const pr_featurizer *fz;
    const uint64_t *filter;
    const uint32_t *order;       /* block visiting order for this pass */
    uint32_t n_blocks;
    uint32_t begin, end;         /* this segment's positions in order */
    uint8_t *touched;            /* --mpi: buckets learned from (pr__dist) */
    uint32_t tmask;
    atomic_uint next;            /* next position in order */
    atomic_ullong done;          /* examples learned this pass */
    uint64_t seed;
    int pass;
    int progressive;             /* accumulate pre-update log loss */
    pr_progress *prog;
    pthread_mutex_t err_lock;
    pr_status status;
    pr_err err;
    /* team mode: thread 0 decodes into blk/perm, all threads learn it */
    pr_model_team *team;
    pr_cache_block blk;
    uint32_t *perm;
    uint32_t perm_cap;
    atomic_int gate;             /* 1 once every thread was started (or failed) */
    /* hot replicas (Hogwild with threads > 1 on a model that has them):
     * the buckets copied per thread, and the replicas of this segment */
    const uint32_t *hot_buckets;
    uint32_t n_hot;
    int use_hot;
    pr_model_hot *hot;
    double recal;                /* ln(neg_sample_rate): logit -> served p */
} learn_shared;

/* Each thread's own: written on every example (scores, the pass-1 loss),
 * so aligned to a cache line: two threads' counters sharing a line would
 * move it between the cores on every example, which on this project's
 * host costs up to 200 ns each time (docs/benchmarks.md). */
typedef struct __attribute__((aligned(64))) learn_thread {
    learn_shared *sh;
    int ith;
    pthread_t tid;
    double ll_sum, ll_w;
    uint64_t examples;
    pr_scores scores;            /* this pass's progressive scores */
} learn_thread;

static void set_status(learn_shared *sh, pr_status s, const pr_err *err) {
    pthread_mutex_lock(&sh->err_lock);
    if (sh->status == PR_OK) {
        sh->status = s;
        sh->err = *err;
    }
    pthread_mutex_unlock(&sh->err_lock);
}

/* Decodes block b into sh->blk, filters its examples and shuffles their
 * order into sh->perm (the same order Hogwild and --threads 1 use). */
static pr_status team_load_block(learn_shared *sh, uint32_t b, pr_err *err) {
    pr_status s = pr_cache_read_block(sh->cache, b, &sh->blk, err);
    if (s != PR_OK) return s;
    if (sh->blk.n > sh->perm_cap) {
        uint32_t *np = realloc(sh->perm, sh->blk.n * sizeof *np);
        if (!np) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        sh->perm = np;
        sh->perm_cap = sh->blk.n;
    }
    for (uint32_t i = 0; i < sh->blk.n; i++) sh->perm[i] = i;
    shuffle_u32(sh->perm, sh->blk.n,
                sh->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)sh->pass * 1000003u + b);
    for (uint32_t i = 0; i < sh->blk.n; i++)
        pr_featurizer_apply_filter(sh->fz, sh->filter, &sh->blk.ex[i]);
    return PR_OK;
}

/* Team mode (the model has a team update, threads > 1): every thread
 * walks the same blocks in the same order and learns each example together
 * with the others (pr_model_update_team), so no weight is written by two
 * threads. Thread 0 decodes each block between two team barriers and alone
 * counts the examples and the progressive loss (each example once). */
static void *learn_team_worker(void *arg) {
    learn_thread *t = arg;
    learn_shared *sh = t->sh;
    const int ith = t->ith;
    while (!atomic_load_explicit(&sh->gate, memory_order_acquire)) sched_yield();
    if (sh->status != PR_OK) return NULL;
    for (uint32_t pos = sh->begin; pos < sh->end; pos++) {
        if (ith == 0) {
            pr_err err;
            pr_status s = sh->status == PR_OK
                              ? team_load_block(sh, sh->order[pos], &err) : PR_OK;
            if (s != PR_OK) set_status(sh, s, &err);
        }
        pr_model_team_sync(sh->team, ith);  /* the block is ready (or failed) */
        if (sh->status != PR_OK) break;     /* every thread sees the same */
        const pr_cache_block *blk = &sh->blk;
        for (uint32_t i = 0; i < blk->n; i++) {
            const pr_example *x = &blk->ex[sh->perm[i]];
            if (i + 1 < blk->n)
                pr_model_team_prefetch(sh->team, ith, &blk->ex[sh->perm[i + 1]]);
            double z = pr_model_update_team(sh->team, ith, x);
            if (ith == 0 && sh->touched)
                for (uint32_t k = 0; k < x->n; k++) sh->touched[x->f[k].index & sh->tmask] = 1;
            if (ith == 0) pr_scores_add_logit(&t->scores, z + sh->recal);
            if (ith == 0 && sh->progressive) {
                t->ll_sum += x->weight * pr__logloss_of_logit(z, x->label);
                t->ll_w += x->weight;
            }
        }
        pr_model_team_sync(sh->team, ith);  /* all done with the block */
        if (ith != 0) continue;
        t->examples += blk->n;
        uint64_t done = atomic_fetch_add(&sh->done, blk->n) + blk->n;
        if (sh->prog)
            pr_progress_update(sh->prog, done, sh->progressive ? "logloss" : NULL,
                               t->ll_w > 0 ? t->ll_sum / t->ll_w : 0);
    }
    return NULL;
}

static void *learn_worker(void *arg) {
    learn_thread *t = arg;
    learn_shared *sh = t->sh;
    pr_cache_block blk;
    pr_cache_block_init(&blk);
    uint32_t *perm = NULL;
    uint32_t perm_cap = 0;
    pr__learner lr = {sh->model, sh->hot, t->ith, 0};
    for (;;) {
        uint32_t pos = atomic_fetch_add(&sh->next, 1);
        if (pos >= sh->end || sh->status != PR_OK) break;
        uint32_t b = sh->order[pos];
        pr_err err;
        pr_status s = pr_cache_read_block(sh->cache, b, &blk, &err);
        if (s == PR_OK && blk.n > perm_cap) {
            uint32_t *np = realloc(perm, blk.n * sizeof *np);
            if (!np) s = pr_err_set(&err, PR_ERR_NOMEM, "out of memory");
            else {
                perm = np;
                perm_cap = blk.n;
            }
        }
        if (s != PR_OK) {
            set_status(sh, s, &err);
            break;
        }
        for (uint32_t i = 0; i < blk.n; i++) perm[i] = i;
        shuffle_u32(perm, blk.n,
                    sh->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)sh->pass * 1000003u + b);
        if (blk.n) pr_featurizer_apply_filter(sh->fz, sh->filter, &blk.ex[perm[0]]);
        for (uint32_t i = 0; i < blk.n; i++) {
            pr_example *x = &blk.ex[perm[i]];
            if (i + 1 < blk.n) {
                /* filter the next example now and start loading its weights,
                 * so the memory latency overlaps this update */
                pr_example *next = &blk.ex[perm[i + 1]];
                pr_featurizer_apply_filter(sh->fz, sh->filter, next);
                pr__learner_prefetch(&lr, next);
            }
            double z = pr__learner_update(&lr, x);
            if (sh->touched)
                for (uint32_t k = 0; k < x->n; k++) sh->touched[x->f[k].index & sh->tmask] = 1;
            pr_scores_add_logit(&t->scores, z + sh->recal);
            if (sh->progressive) {
                t->ll_sum += x->weight * pr__logloss_of_logit(z, x->label);
                t->ll_w += x->weight;
            }
        }
        t->examples += blk.n;
        uint64_t done = atomic_fetch_add(&sh->done, blk.n) + blk.n;
        if (t->ith == 0 && sh->prog)
            pr_progress_update(sh->prog, done, sh->progressive ? "logloss" : NULL,
                               t->ll_w > 0 ? t->ll_sum / t->ll_w : 0);
    }
    pr__learner_done(&lr);
    free(perm);
    pr_cache_block_free(&blk);
    return NULL;
}

/* Runs the learners over positions [begin, end) of sh->order: inline with
 * one thread, else o->threads threads started here and joined. */
static void run_segment(learn_shared *sh, learn_thread *th, const pr_train_opts *o,
                        const pr_model *model, uint32_t begin, uint32_t end) {
    sh->begin = begin;
    sh->end = end;
    atomic_store(&sh->next, begin);
    atomic_store(&sh->gate, 0);
    /* Several threads on a model with a team update: team mode (see
     * learn_team_worker); otherwise Hogwild, with hot replicas when the
     * model has them (model.h). */
    void *(*worker)(void *) = learn_worker;
    if (o->threads > 1 && o->team && pr_model_supports_team(model)) {
        sh->status = pr_model_team_new(sh->model, o->threads, &sh->team, &sh->err);
        worker = learn_team_worker;
    } else if (o->threads > 1 && sh->use_hot) {
        sh->status = pr_model_hot_new(sh->model, o->threads, sh->hot_buckets, sh->n_hot,
                                      &sh->hot, &sh->err);
    }
    int started = 0;
    for (int i = 0; i < o->threads && sh->status == PR_OK; i++) {
        th[i].sh = sh;
        th[i].ith = i;
        if (o->threads == 1) {
            learn_worker(&th[i]);
            started = 1;
            break;
        }
        if (pthread_create(&th[i].tid, NULL, worker, &th[i]) != 0) {
            sh->status = pr_err_errno(&sh->err, PR_ERR_NOMEM, errno, "cannot start a thread");
            break;
        }
        started++;
    }
    /* open the gate: a team starts only complete (else it would wait for
     * a thread that never came); on failure its threads see the status */
    atomic_store_explicit(&sh->gate, 1, memory_order_release);
    if (o->threads > 1)
        for (int i = 0; i < started; i++) pthread_join(th[i].tid, NULL);
    pr_model_team_free(sh->team);
    sh->team = NULL;
    pr_model_hot_free(sh->hot);  /* every thread flushed its last changes */
    sh->hot = NULL;
}

/* One pass. With dist (--mpi), the pass is cut into `segments` runs of
 * consecutive positions of the block order, and the ranks merge their
 * models after each (the last merge ends the pass): every rank runs the
 * same number of segments, whatever its shard's size. */
static pr_status learn_pass(pr_model *model, const pr_cache *cache,
                            const pr_featurizer *fz, const uint64_t *filter,
                            const pr_train_opts *o, int pass, pr__dist *dist,
                            uint32_t segments, const uint32_t *hot, int64_t n_hot,
                            pr_train_report *rep, double ll_out[2], pr_scores *scores,
                            pr_err *err) {
    uint32_t nb = pr_cache_n_blocks(cache);
    uint32_t *order = malloc((nb ? nb : 1) * sizeof *order);
    learn_thread *th = aligned_alloc(64, (size_t)o->threads * sizeof *th);
    if (th) memset(th, 0, (size_t)o->threads * sizeof *th);
    if (!order || !th) {
        free(order);
        free(th);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < nb; i++) order[i] = i;
    shuffle_u32(order, nb, o->seed + (uint64_t)pass * 7919u);

    learn_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.model = model;
    sh.cache = cache;
    sh.fz = fz;
    sh.filter = filter;
    sh.order = order;
    sh.n_blocks = nb;
    atomic_init(&sh.next, 0);
    atomic_init(&sh.done, 0);
    atomic_init(&sh.gate, 0);
    sh.seed = o->seed;
    sh.pass = pass;
    sh.progressive = pass == 1;
    sh.recal = log((double)pr_model_params_get(model)->neg_sample_rate);
    sh.hot_buckets = hot;
    sh.n_hot = n_hot > 0 ? (uint32_t)n_hot : 0;
    sh.use_hot = n_hot >= 0;
    pthread_mutex_init(&sh.err_lock, NULL);
    char what[64];
    snprintf(what, sizeof what, "train pass %d/%d", pass, o->passes);
    pr_progress prog;
    pr_cache_block_init(&sh.blk);
    pr_progress_start(&prog, what, pr_cache_n_examples(cache));
    sh.prog = &prog;
    if (dist) {
        sh.touched = dist->touched;
        sh.tmask = dist->mask;
    }

    if (!dist || segments < 1) segments = 1;
    for (uint32_t k = 0; k < segments && sh.status == PR_OK; k++) {
        uint32_t b0 = (uint32_t)((uint64_t)nb * k / segments);
        uint32_t b1 = (uint32_t)((uint64_t)nb * (k + 1) / segments);
        run_segment(&sh, th, o, model, b0, b1);
        /* a failed rank aborts the job (cmd_train), so the others never
         * wait here for it */
        if (sh.status == PR_OK && dist) sh.status = pr__dist_merge(dist, &sh.err);
    }
    pr_progress_end(&prog);
    pr_cache_block_free(&sh.blk);
    free(sh.perm);

    double ll = 0, w = 0;
    for (int i = 0; i < o->threads; i++) {
        ll += th[i].ll_sum;
        w += th[i].ll_w;
        rep->example_passes += th[i].examples;
        pr_scores_merge(scores, &th[i].scores);
    }
    ll_out[0] = ll;
    ll_out[1] = w;
    pr_status s = sh.status;
    if (s != PR_OK && err) *err = sh.err;
    pthread_mutex_destroy(&sh.err_lock);
    free(order);
    free(th);
    return s;
}

/* Validation metrics of model over a cache. */
static pr_status evaluate_cache(const pr_model *model, const pr_cache *cache,
                                const pr_featurizer *fz, const uint64_t *filter,
                                pr_metrics_report *rep, pr_scores *scores,
                                pr_err *err) {
    pr_metrics *m = NULL;
    pr_status s = pr_metrics_new(&m, err);
    if (s != PR_OK) return s;
    pr_cache_block blk;
    pr_cache_block_init(&blk);
    for (uint32_t b = 0; b < pr_cache_n_blocks(cache) && s == PR_OK; b++) {
        s = pr_cache_read_block(cache, b, &blk, err);
        for (uint32_t i = 0; s == PR_OK && i < blk.n; i++) {
            pr_example *x = &blk.ex[i];
            pr_featurizer_apply_filter(fz, filter, x);
            double p = pr_model_predict(model, x);
            pr_scores_add(scores, p);
            s = pr_metrics_add(m, p, x->label, x->weight);
        }
    }
    pr_cache_block_free(&blk);
    if (s == PR_OK) s = pr_metrics_compute(m, rep, err);
    pr_metrics_free(m);
    return s;
}

/* ------------------------------------------------------------- info */

static const char *source_name(const pr_record_source *src) {
    return src->name ? src->name : "records";
}

static char *build_info(const pr_model *model, const pr_input *in,
                        const pr_record_source *src, const pr_record_source *vsrc,
                        const pr_train_opts *o, const pr_train_report *rep,
                        const pr_metrics_report *valid) {
    json_t *root = json_object();
    json_t *files = json_array();
    for (uint32_t i = 0; i < in->n_paths; i++)
        json_array_append_new(files, json_string(in->paths[i]));
    json_object_set_new(root, "inputs", files);
    if (src)
        json_object_set_new(root, "source", json_string(source_name(src)));
    else
        json_object_set_new(root, "format", json_string(pr_format_name(in->format)));
    json_object_set_new(root, "rows", json_integer((json_int_t)rep->rows_read));
    json_object_set_new(root, "rows_bad", json_integer((json_int_t)rep->rows_bad));
    json_object_set_new(root, "rows_downsampled", json_integer((json_int_t)rep->rows_dropped));
    json_object_set_new(root, "ts_min", json_integer(rep->ts_min));
    json_object_set_new(root, "ts_max", json_integer(rep->ts_max));
    json_object_set_new(root, "passes", json_integer(rep->passes_run));
    json_object_set_new(root, "best_pass", json_integer(rep->best_pass));
    json_object_set_new(root, "threads", json_integer(o->threads));
    if (rep->hot_rows >= 0) json_object_set_new(root, "hot_rows", json_integer(rep->hot_rows));
    json_object_set_new(root, "seed", json_integer((json_int_t)o->seed));
    if (rep->ranks) {
        json_t *d = json_object();
        json_object_set_new(d, "ranks", json_integer(rep->ranks));
        json_object_set_new(d, "sync_every", json_integer((json_int_t)o->sync_every));
        json_object_set_new(d, "merge", json_string(pr_merge_mode_name(o->merge)));
        json_object_set_new(d, "syncs", json_integer((json_int_t)rep->syncs));
        json_object_set_new(root, "mpi", d);
    }
    json_object_set_new(root, "trained_at", json_integer(pr_unix_time()));
    json_object_set_new(root, "train_seconds",
                        json_real(rep->prepare_seconds + rep->learn_seconds));
    if (isfinite(rep->train_logloss))
        json_object_set_new(root, "train_progressive_logloss", json_real(rep->train_logloss));
    if (valid) {
        json_t *v = json_object();
        if (vsrc) json_object_set_new(v, "source", json_string(source_name(vsrc)));
        else json_object_set_new(v, "file", json_string(o->valid_path));
        json_object_set_new(v, "rows", json_integer((json_int_t)valid->rows));
        json_object_set_new(v, "logloss", json_real(valid->log_loss));
        json_object_set_new(v, "ne", json_real(valid->ne));
        if (isfinite(valid->auc)) json_object_set_new(v, "auc", json_real(valid->auc));
        json_object_set_new(v, "calibration", json_real(valid->calibration));
        json_object_set_new(root, "valid", v);
    }
    json_object_set_new(root, "nonzero_weights",
                        json_integer((json_int_t)pr_model_n_nonzero(model)));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(root);
    return text;
}

/* The filter: buckets seen min_count times, plus any the warm-start model
 * had already admitted. *out owned by caller (free). */
static pr_status build_filter(pr_count_filter *counts, const pr_model *model,
                              uint32_t hash_bits, uint64_t **out, pr_err *err) {
    size_t words = (((size_t)1 << hash_bits) + 63) / 64;
    uint64_t *filter = malloc(words * sizeof *filter);
    if (!filter) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    memcpy(filter, pr_count_filter_bitmap(counts), words * sizeof *filter);
    const uint64_t *old = pr_model_filter(model);
    if (old)
        for (size_t i = 0; i < words; i++) filter[i] |= old[i];
    *out = filter;
    return PR_OK;
}

/* ------------------------------------------------------------- pr_train */

/* pr_train and pr_train_records: in's files, or src's records (then in
 * has no paths); vsrc: validation records instead of o->valid_path (o is
 * then a copy whose valid_path is vsrc's name, so every "with
 * validation" decision below holds for both). */
static pr_status train_impl(pr_model **model_io, pr_featurizer *fz, const pr_input *in,
                            const pr_record_source *src, const pr_record_source *vsrc,
                            const pr_train_opts *o, pr_train_report *rep, pr_err *err) {
    pr_model *model = *model_io;
    pr_status s = PR_OK;
    pr_spec *spec = NULL;
    pr_count_filter *counts = NULL;
    pr_cache *cache = NULL, *vcache = NULL;
    uint64_t *filter = NULL;
    uint32_t *hot = NULL;      /* hot replicas' buckets */
    int64_t n_hot = -1;
    pr__dist dist, *dp = NULL;     /* dp: --mpi */
    const char **my_paths = NULL;  /* --mpi: this rank's files */
    uint32_t segments = 1;
    uint32_t shard[2] = {0, 0};    /* --mpi line sharding: {ranks, rank} */
    memset(&dist, 0, sizeof dist);
    char *tmp_cache = NULL, *tmp_vcache = NULL;
    pr_metrics_report best_valid;
    int have_valid = 0;
    pr_model *best = NULL;     /* the best pass so far, when not the last */
    pr_profile_builder *prof = NULL;
    pr_scores *scores = calloc(3, sizeof *scores); /* pass, validation, best validation */
    char score_source[64] = "";
    memset(rep, 0, sizeof *rep);
    rep->valid_logloss = rep->valid_auc = rep->train_logloss = NAN;
    rep->hot_rows = -1;

    if (o->threads < 1 || o->passes < 1)
        return pr_err_set(err, PR_ERR_INVALID, "threads and passes must be at least 1, got %d and %d",
                          o->threads, o->passes);
    if (!(o->neg_sample_rate > 0 && o->neg_sample_rate <= 1))
        return pr_err_set(err, PR_ERR_INVALID, "neg_sample_rate must be in (0, 1], got %g",
                          (double)o->neg_sample_rate);
    const pr_model_params *mp = pr_model_params_get(model);
    if (mp->hash_bits != pr_featurizer_hash_bits(fz))
        return pr_err_set(err, PR_ERR_INVALID,
                          "model has 2^%u buckets but the spec hashes into 2^%u",
                          mp->hash_bits, pr_featurizer_hash_bits(fz));

    /* --mpi: this rank's shard of the inputs (docs/distributed.md): the
     * files round-robin when there are at least as many files as ranks,
     * else row i of every file goes to rank i mod size */
    pr_input local = *in;
    if (o->mpi) {
        if (o->dataset || o->cache_path) {
            s = pr_err_set(err, PR_ERR_INVALID,
                           "data-parallel training reads files: an example cache as input "
                           "and a kept cache are not supported (each rank featurizes its "
                           "shard into a temporary cache)");
            goto done;
        }
        if ((s = pr__dist_open(&dist, rep, err)) != PR_OK) goto done;
        dp = &dist;
        rep->ranks = dist.size;
        if (dist.size > 1 && in->n_paths >= (uint32_t)dist.size) {
            my_paths = calloc(in->n_paths, sizeof *my_paths);
            if (!my_paths) {
                s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
                goto done;
            }
            local.n_paths = 0;
            for (uint32_t i = (uint32_t)dist.rank; i < in->n_paths; i += (uint32_t)dist.size)
                my_paths[local.n_paths++] = in->paths[i];
            local.paths = my_paths;
        } else if (dist.size > 1) {
            shard[0] = (uint32_t)dist.size;
            shard[1] = (uint32_t)dist.rank;
        }
    }

    const char *yaml = pr_featurizer_spec_yaml(fz);
    s = pr_spec_parse(yaml, strlen(yaml), "spec", &spec, err);
    if (s != PR_OK) goto done;
    if (o->max_memory) {  /* before anything is read (memory.c) */
        pr_train_memory mem;
        pr_train_memory_estimate(mp, pr_spec_min_count(spec), o, &mem);
        if ((s = pr_train_memory_check(&mem, mp, o->max_memory, err)) != PR_OK) goto done;
    }
    /* the reference profile (pronto/profile.h): the raw columns as the
     * readers hand them over; an example cache has none to give */
    if (!scores) {
        s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto done;
    }
    s = pr_profile_builder_new(spec, &prof, err);
    if (s != PR_OK) goto done;

    double t0 = pr_now();
    uint32_t hash_bits = pr_featurizer_hash_bits(fz);
    uint32_t min_count = pr_spec_min_count(spec);
    if (min_count > 1) {
        s = pr_count_filter_new(hash_bits, min_count, &counts, err);
        if (s != PR_OK) goto done;
    }

    if (o->dataset && (in->n_paths != 1 || o->neg_sample_rate < 1)) {
        s = pr_err_set(err, PR_ERR_INVALID,
                       "training from an example cache takes one (written by the "
                       "dataset builder, pr_fs_build; got %u inputs%s)",
                       in->n_paths,
                       o->neg_sample_rate < 1 ? "; negative downsampling does not apply" : "");
        goto done;
    }
    if (o->passes == 1 && !o->valid_path && !o->cache_path && !o->dataset && !dp) {
        /* one pass and nothing to keep: learn straight from the input */
        s = pr__learn_stream(model, fz, spec, in, src, o, counts, prof, &scores[0], rep, err);
        snprintf(score_source, sizeof score_source, "progressive (pass 1)");
        rep->streamed = 1;
        if (s != PR_OK) goto done;
        if (rep->rows_read == rep->rows_dropped) {
            s = pr_err_set(err, PR_ERR_INVALID, "no training examples in the input");
            goto done;
        }
        if (counts && (s = build_filter(counts, model, hash_bits, &filter, err)) != PR_OK)
            goto done;
        if ((s = pr_model_set_spec(model, yaml, err)) != PR_OK ||
            (s = pr_model_set_filter(model, filter, err)) != PR_OK)
            goto done;
        goto save;
    }

    /* Phase 1: the cache (reused when its fingerprint matches), or the
     * dataset as built. */
    uint64_t fp = inputs_fingerprint(fz, in, o);
    const char *cache_path = o->cache_path;
    if (o->dataset) {
        s = pr__open_dataset(in->paths[0], fz, &cache, err);
        if (s != PR_OK) goto done;
    } else if (cache_path && access(cache_path, R_OK) == 0) {
        pr_err e2;
        if (pr_cache_open(cache_path, &cache, &e2) == PR_OK &&
            pr_cache_spec_fingerprint(cache) != fp) {
            pr_log(PR_LOG_INFO, "%s: inputs or spec changed; rebuilding the cache", cache_path);
            pr_cache_close(cache);
            cache = NULL;
        } else if (!cache) {
            pr_log(PR_LOG_WARN, "%s; rebuilding the cache", e2.msg);
        }
    }
    if (cache) {
        rep->rows_read = pr_cache_n_examples(cache);
        s = count_cache(cache, counts, prof, err);
        if (s != PR_OK) goto done;
    } else {
        if (!cache_path) {
            const char *dir = getenv("TMPDIR");
            size_t n = strlen(dir ? dir : "/tmp") + 64;
            tmp_cache = malloc(n);
            if (!tmp_cache) { s = pr_err_set(err, PR_ERR_NOMEM, "out of memory"); goto done; }
            snprintf(tmp_cache, n, "%s/pronto-train-%ld.pcache", dir ? dir : "/tmp", (long)getpid());
            cache_path = tmp_cache;
        }
        s = prepare_cache(fz, spec, &local, src, o, cache_path, fp, counts, "featurize",
                          prof, shard, rep, err);
        if (s != PR_OK) goto done;
        s = pr_cache_open(cache_path, &cache, err);
        if (s != PR_OK) goto done;
        /* The cache is mapped: a temporary one can leave the folder now, so
         * that no exit, crash or Ctrl-C can leave it behind. */
        if (tmp_cache) unlink(tmp_cache);
    }
    if (dp) {
        /* the report counts every rank's rows; the filter, every rank's
         * features; every rank runs as many segments per pass as the
         * largest shard needs */
        uint64_t v[5] = {rep->rows_read, rep->rows_bad, rep->rows_dropped,
                         pr_cache_n_examples(cache), 0};
        uint64_t mx = pr_cache_n_examples(cache);
        if ((s = pr__dist_sum_u64(v, 4, err)) != PR_OK ||
            (s = pr__dist_max_u64(&mx, 1, err)) != PR_OK)
            goto done;
        rep->rows_read = v[0];
        rep->rows_bad = v[1];
        rep->rows_dropped = v[2];
        if (v[3] == 0) {
            s = pr_err_set(err, PR_ERR_INVALID, "no training examples in the input");
            goto done;
        }
        if (o->sync_every) {
            uint64_t k = (mx + o->sync_every - 1) / o->sync_every;
            segments = k < 1 ? 1 : k > UINT32_MAX ? UINT32_MAX : (uint32_t)k;
        }
        if (counts && (s = pr__dist_sum_counts(pr_count_filter_counts(counts),
                                               (uint64_t)1 << hash_bits, err)) != PR_OK)
            goto done;
    } else if (pr_cache_n_examples(cache) == 0) {
        s = pr_err_set(err, PR_ERR_INVALID, "no training examples in the input");
        goto done;
    }

    if (counts && (s = build_filter(counts, model, hash_bits, &filter, err)) != PR_OK) goto done;

    if (o->valid_path && o->dataset) {
        s = pr__open_dataset(o->valid_path, fz, &vcache, err);
        if (s != PR_OK) goto done;
    } else if (o->valid_path && (!dp || dp->rank == 0)) { /* --mpi: rank 0 validates */
        pr_input vin = {in->format, &o->valid_path, vsrc ? 0 : 1};
        pr_train_opts vo = *o;
        vo.neg_sample_rate = 1.0f;
        const char *dir = getenv("TMPDIR");
        size_t n = strlen(dir ? dir : "/tmp") + 64;
        tmp_vcache = malloc(n);
        if (!tmp_vcache) { s = pr_err_set(err, PR_ERR_NOMEM, "out of memory"); goto done; }
        snprintf(tmp_vcache, n, "%s/pronto-valid-%ld.pcache", dir ? dir : "/tmp", (long)getpid());
        pr_train_report vrep;
        memset(&vrep, 0, sizeof vrep);
        s = prepare_cache(fz, spec, &vin, vsrc, &vo, tmp_vcache, 0, NULL, "featurize validation",
                          NULL, NULL, &vrep, err);
        if (s != PR_OK) goto done;
        rep->rows_bad += vrep.rows_bad;
        s = pr_cache_open(tmp_vcache, &vcache, err);
        if (s != PR_OK) goto done;
        unlink(tmp_vcache); /* mapped: see above */
    }
    rep->prepare_seconds = pr_now() - t0;

    if ((s = pr_model_set_spec(model, yaml, err)) != PR_OK ||
        (s = pr_model_set_filter(model, filter, err)) != PR_OK)
        goto done;
    /* every rank starts from the same model: fresh from the same params
     * and seed, or the same --init file */
    if (dp && (s = pr__dist_bind(dp, model, o->merge, err)) != PR_OK) goto done;

    /* Hogwild threads on a model with hot replicas: which buckets each
     * thread keeps a copy of (hot_buckets.c); -1: plain Hogwild. */
    if (o->threads > 1 && o->hot_rows > 0 && pr_model_supports_hot(model) &&
        !(o->team && pr_model_supports_team(model))) {
        uint32_t n = 0;
        if ((s = pr__hot_buckets(cache, fz, filter, o->hot_rows, &hot, &n, err)) != PR_OK)
            goto done;
        n_hot = rep->hot_rows = n;
    }

    /* Phase 2: passes. */
    t0 = pr_now();
    int since_best = 0;
    for (int pass = 1; pass <= o->passes; pass++) {
        double pll = NAN, llw[2] = {0, 0};
        memset(&scores[0], 0, sizeof scores[0]);
        s = learn_pass(model, cache, fz, filter, o, pass, dp, segments, hot, n_hot, rep,
                       llw, &scores[0], err);
        if (s == PR_OK && dp && pass == 1) s = pr__dist_sum_f64(llw, 2, err);
        pll = llw[1] > 0 ? llw[0] / llw[1] : NAN;
        if (s != PR_OK) goto done;
        snprintf(score_source, sizeof score_source, "progressive (pass %d)", pass);
        rep->passes_run = pass;
        if (pass == 1) rep->train_logloss = pll;
        if (!o->valid_path) {
            rep->best_pass = pass;
            continue;
        }
        int stop = 0;  /* --mpi: rank 0 decides, every rank follows */
        if (vcache) {
            pr_metrics_report vr;
            memset(&scores[1], 0, sizeof scores[1]);
            s = evaluate_cache(model, vcache, fz, filter, &vr, &scores[1], err);
            if (s != PR_OK) goto done;
            pr_log(PR_LOG_INFO, "pass %d: validation logloss %.5f auc %.5f", pass,
                   vr.log_loss, vr.auc);
            if (!have_valid || vr.log_loss < best_valid.log_loss) {
                best_valid = vr;
                have_valid = 1;
                scores[2] = scores[1];
                rep->best_pass = pass;
                since_best = 0;
                pr_model_free(best);
                best = NULL;
                /* keep this pass in memory in case later passes overfit */
                if (pass < o->passes && (s = pr_model_clone(model, &best, err)) != PR_OK) goto done;
            } else if (o->early_stop > 0 && ++since_best >= o->early_stop) {
                stop = 1;
            }
        }
        if (dp && (s = pr__dist_bcast_int(&stop, 1, err)) != PR_OK) goto done;
        if (stop) break;
    }
    rep->learn_seconds = pr_now() - t0;
    if (dp && (s = pr__dist_sum_u64(&rep->example_passes, 1, err)) != PR_OK) goto done;
    if (dp && dp->rank != 0) goto done; /* rank 0 alone writes the model */

    if (have_valid && rep->best_pass != rep->passes_run) {
        /* a later pass was worse: go back to the best one */
        pr_model_free(model);
        model = *model_io = best;
        best = NULL;
    }
    if (have_valid) {
        rep->valid_logloss = best_valid.log_loss;
        rep->valid_auc = best_valid.auc;
    }
save:;
    if (have_valid) snprintf(score_source, sizeof score_source, "validation (pass %d)",
                             rep->best_pass);
    pr_profile_builder_set_scores(prof, have_valid ? &scores[2] : &scores[0], score_source);
    pr_profile *profile = NULL;
    double tp = pr_now();
    s = pr_profile_builder_finish(prof, &profile, err);
    if (s == PR_OK) s = pr_profile_attach(model, profile, err);
    pr_profile_free(profile);
    if (s != PR_OK) goto done;
    pr_log(PR_LOG_DEBUG, "profile finished in %.3f s", pr_now() - tp);
    char *info = build_info(model, in, src, vsrc, o, rep, have_valid ? &best_valid : NULL);
    s = pr_model_set_info(model, info ? info : "{}", err);
    free(info);
    if (s == PR_OK && o->out_path) s = pr_model_save(model, o->out_path, err);

done:
    pr_cache_close(cache);
    pr_cache_close(vcache);
    if (tmp_cache) unlink(tmp_cache);
    if (tmp_vcache) unlink(tmp_vcache);
    free(tmp_cache);
    free(tmp_vcache);
    free(filter);
    free(hot);
    pr_model_free(best);
    pr__dist_close(&dist);
    free(my_paths);
    pr_count_filter_free(counts);
    pr_spec_free(spec);
    pr_profile_builder_free(prof);
    free(scores);
    return s;
}

pr_status pr_train(pr_model **model, pr_featurizer *fz, const pr_input *in,
                   const pr_train_opts *o, pr_train_report *rep, pr_err *err) {
    return train_impl(model, fz, in, NULL, NULL, o, rep, err);
}

pr_status pr_train_records(pr_model **model, pr_featurizer *fz, const pr_record_source *train,
                           const pr_record_source *valid, const pr_train_opts *o,
                           pr_train_report *rep, pr_err *err) {
    if (!train || !train->next || (valid && !valid->next))
        return pr_err_set(err, PR_ERR_INVALID, "pr_train_records: a %s record source %s",
                          !train || !train->next ? "training" : "validation",
                          !train ? "is NULL" : "has no next function");
    if (o->cache_path || o->dataset || o->mpi || (valid && o->valid_path))
        return pr_err_set(err, PR_ERR_INVALID, "training from records takes no %s",
                          o->cache_path ? "kept cache (a changed source would go unseen)"
                          : o->dataset  ? "example cache as its input"
                          : o->mpi      ? "data-parallel run (each rank reads its files)"
                                        : "validation file beside validation records");
    pr_train_opts eff = *o;
    if (valid) eff.valid_path = source_name(valid);
    pr_input none = {PR_FORMAT_CSV, NULL, 0};
    return train_impl(model, fz, &none, train, valid, &eff, rep, err);
}
