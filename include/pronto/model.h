/*
 * pronto/model.h: the models behind one interface, and the model file.
 *
 *   pr_model_params p;
 *   pr_model_params_default(&p, PR_MODEL_KIND_FFM);
 *   p.hash_bits = 20; p.n_fields = 39;          // must match the featurizer
 *   pr_model *m;
 *   if (pr_model_new(&p, &m, &err) != PR_OK) ...
 *   for (each training example x) pr_model_update(m, &x);
 *   double p_click = pr_model_predict(m, &x);
 *   pr_model_save(m, "model.pm", &err);
 *   pr_model_free(m);
 *
 * Kinds:
 *   LR  - logistic regression trained with FTRL-Proximal (McMahan et al.
 *         2013, Algorithm 1), per-coordinate rates, L1 (true zeros) and L2,
 *         plus an implicit bias so an empty example predicts the base rate.
 *   FFM - field-aware factorization machine (Juan et al. 2016 / libffm),
 *         AdaGrad, libffm's weight layout, plus a linear term and a bias.
 *   FM  - factorization machine: one latent vector per bucket, O(n*k).
 *
 * Features: index is masked to [0, 2^hash_bits); features whose value is not
 * finite are ignored; for FFM, features with field >= n_fields are ignored
 * (they take part in neither prediction nor training). A label > 0.5 counts
 * as a click. Examples whose weight is not finite or <= 0 do not train.
 * Values and importance weights are clamped to magnitude 1e4 (so no
 * gradient can overflow).
 *
 * Logits (pr_model_logit, pr_model_update) are clipped to [-35, 35].
 *
 * Threads: pr_model_logit/predict may run on any number of threads, also
 * alongside updates. They do not change the model, with one invisible
 * exception: an FFM bucket no example has touched yet gets its initial
 * latent values written on first use (the same values whichever thread
 * writes them; see model_ffm.c). pr_model_update may run on several
 * threads at once on the same model ("Hogwild!", Recht et al. 2011): there
 * are no locks, two threads may update the same weight at the same time
 * and one of the two updates may be lost. That is accepted by design (the
 * loss is noise the optimizer absorbs). Weights never become NaN or
 * infinite: logits are clipped before gradients are taken, values and
 * importance weights are clamped, and AdaGrad and FTRL steps are bounded
 * by the learning rate. Metadata setters,
 * save and free must not run concurrently with anything else on the model.
 *
 * Negative downsampling: the model does not drop examples itself; the
 * trainer keeps a fraction neg_sample_rate of the negatives and records the
 * rate here. pr_model_logit and pr_model_update return the raw logit of the
 * downsampled world; pr_model_predict returns the recalibrated probability
 *   q = p / (p + (1 - p) / w),   i.e. logit(q) = logit(p) + ln(w).
 */
#ifndef PRONTO_MODEL_H
#define PRONTO_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"
#include "pronto/example.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PR_MODEL_KIND_LR = 1,
    PR_MODEL_KIND_FFM = 2,
    PR_MODEL_KIND_FM = 3
} pr_model_kind;

/* "lr", "ffm", "fm"; "unknown" for anything else. Never NULL. */
const char *pr_model_kind_name(pr_model_kind k);
/* Parses "lr" / "ffm" / "fm" (case-insensitive). PR_ERR_INVALID otherwise. */
pr_status pr_model_kind_parse(const char *s, pr_model_kind *out);

typedef struct pr_model_params {
    pr_model_kind kind;
    uint32_t hash_bits;     /* weights for 2^hash_bits buckets, 1..30 */
    uint32_t n_fields;      /* FFM: number of fields (latent vectors per bucket) */
    /* FTRL-Proximal (LR) */
    float alpha, beta, l1, l2;
    /* FFM / FM: AdaGrad */
    uint32_t k;             /* latent dimension, 1..256 (padded to 4 inside) */
    float eta;              /* learning rate (libffm default 0.2) */
    float lambda;           /* L2 (libffm default 2e-5) */
    int normalize;          /* 1: pair terms scaled by 1/||x||^2 as libffm */
    uint64_t seed;          /* latent weight init */
    float neg_sample_rate;  /* (0,1]: fraction of negatives kept; 1 = none */
} pr_model_params;

/* Fills *p with defaults for Criteo-like data for the given kind:
 *   LR : hash_bits 22, alpha 0.1, beta 1, l1 1, l2 1
 *   FFM: hash_bits 20, n_fields 39, k 4, eta 0.2, lambda 2e-5, normalize 1
 *   FM : hash_bits 20, k 8, eta 0.2, lambda 2e-5, normalize 1
 * All kinds: seed 1, neg_sample_rate 1. */
void pr_model_params_default(pr_model_params *p, pr_model_kind kind);
/* Validates every field the kind uses. On failure returns PR_ERR_INVALID
 * with a message naming the parameter, e.g. "model param alpha: must be
 * > 0 and finite, got -1". */
pr_status pr_model_params_check(const pr_model_params *p, pr_err *err);
/* Bytes of trainable state (weights and optimizer state) a model with
 * these params holds once every bucket is touched: LR 16 * 2^bits, FFM
 * 2^bits * (n_fields + 1) * 2 * kpad * 4 (kpad = k rounded up to 4), FM
 * 2^bits * 16 * kpad; plus 16 bytes of bias. Memory is taken lazily, so a
 * model uses less until the data reaches every bucket. */
uint64_t pr_model_state_bytes(const pr_model_params *p);

typedef struct pr_model pr_model;

/* Creates a freshly initialized model. p is copied.
 * OUT *out: owned by caller, free with pr_model_free. */
pr_status pr_model_new(const pr_model_params *p, pr_model **out, pr_err *err);
/* Borrowed, valid for the model's life. */
const pr_model_params *pr_model_params_get(const pr_model *m);

/* Raw score (log-odds), no recalibration. x is borrowed for the call. */
double pr_model_logit(const pr_model *m, const pr_example *x);
/* Calibrated probability: sigmoid(logit + ln(neg_sample_rate)). */
double pr_model_predict(const pr_model *m, const pr_example *x);
/* One online learning step on x (label, weight), returning the raw logit
 * computed BEFORE the update (progressive validation). Thread-safe in the
 * Hogwild sense described above. */
double pr_model_update(pr_model *m, const pr_example *x);
/* Optional hint: starts fetching the weights x will touch, so that calling
 * it on the next example before updating (or predicting) the current one
 * overlaps memory latency with work. x is borrowed for the call; no effect
 * on results. */
void pr_model_prefetch(const pr_model *m, const pr_example *x);

/* Team update: nth threads learn the SAME example together, each on its
 * own share of the work, instead of nth Hogwild threads on different
 * examples. For FFM no two team threads ever write the same weight or the
 * same cache line, so the hot weights stop bouncing between cores, and the
 * result does not depend on timing: it equals one thread's training up to
 * the order in which the pair sum is added up (a team of 1 equals
 * pr_model_update exactly).
 *
 *   pr_model_team *team;
 *   pr_model_team_new(m, 2, &team, &err);
 *   // on each of the threads ith = 0 and 1, the same examples in order:
 *   for (each x) z = pr_model_update_team(team, ith, &x);
 *   pr_model_team_free(team);                   // after the threads end
 *
 * Supported by FFM (pr_model_supports_team); LR and FM train Hogwild. */
typedef struct pr_model_team pr_model_team;

/* 1 if m's kind has a team update, else 0. */
int pr_model_supports_team(const pr_model *m);
/* A team of nth >= 1 threads (ids 0..nth-1) training m. m is borrowed: it
 * must outlive the team, and nothing else may update it while the team
 * trains it (predictions may run). PR_ERR_UNSUPPORTED for kinds without a
 * team update, PR_ERR_INVALID for nth < 1 or > 1024.
 * OUT *out: owned by caller, free with pr_model_team_free. */
pr_status pr_model_team_new(pr_model *m, int nth, pr_model_team **out,
                            pr_err *err);
/* One learning step on x, run by every team thread: each calls it with its
 * id ith and the same x (same pointer, same contents), examples in the same
 * order on all threads. Blocks until the whole team has the logit, and
 * returns the raw logit computed before the update (the same value on
 * every thread). A thread may return while the others still write their
 * share: the team's next call (or pr_model_team_sync) waits for them. x is
 * borrowed until the call returns, or, if given to pr_model_team_prefetch
 * first, from that call until the update returns. */
double pr_model_update_team(pr_model_team *t, int ith, const pr_example *x);
/* Optional: prepares x, the next example thread ith will pass to
 * pr_model_update_team, and starts fetching the weights that thread will
 * touch. Call it right before updating the current example. No effect on
 * results. */
void pr_model_team_prefetch(pr_model_team *t, int ith, const pr_example *x);
/* A barrier: returns once every team thread has called it (the same number
 * of times); every update the threads made before it is then complete. */
void pr_model_team_sync(pr_model_team *t, int ith);
/* Accepts NULL. No team thread may be inside a team call. */
void pr_model_team_free(pr_model_team *t);

/* Hot replicas: nth Hogwild threads, each learning the model's hottest
 * units (the few buckets most examples touch, and the bias) on its own
 * copy, and adding what it learned on them to the shared model at each
 * pr_model_hot_flush, where it also takes what the others added. Every
 * other bucket is shared, as in plain Hogwild. In Hogwild every example
 * writes the hot rows, so their cache lines move between the cores on
 * nearly every example; how much that costs depends on where the host
 * puts the two cores (2.5x slower across L3 caches, docs/benchmarks.md).
 * With replicas the hot lines stay in each core's cache, and the shared
 * model sees every thread's change to a hot unit (a sum of deltas, none
 * lost to a race), seen by the other threads one flush late.
 *
 *   pr_model_hot *hot;
 *   pr_model_hot_new(m, 2, buckets, n, &hot, &err);
 *   // on each thread ith = 0 and 1, its own examples:
 *   for (each block) { for (each x) z = pr_model_update_hot(hot, ith, &x);
 *                      pr_model_hot_flush(hot, ith); }
 *   pr_model_hot_free(hot);                     // after the threads end
 *
 * Supported by FFM (pr_model_supports_hot); LR and FM train plain Hogwild:
 * LR's table (16 MB at 2^20) lives in the caches, so across L3s a share of
 * all its writes move between the cores, not only the hot ones, and the
 * per-feature lookup of copies cost more than it saved (docs/benchmarks.md
 * "Hot copies"). */
typedef struct pr_model_hot pr_model_hot;

/* 1 if m's kind has hot replicas, else 0. */
int pr_model_supports_hot(const pr_model *m);
/* Replicas of buckets[0..n) (masked like feature indices; duplicates are
 * kept once) and of the bias, for nth >= 1 threads (ids 0..nth-1). Each
 * replica starts as the shared model's current values. m is borrowed: it
 * must outlive the replicas, and while they exist the hot buckets must be
 * changed only through them. Memory: nth * 2 * n rows (FFM: (n_fields +
 * 1) * 2 * kpad floats a row). PR_ERR_UNSUPPORTED for kinds without
 * replicas, PR_ERR_INVALID for nth outside [1, 1024] or n > 65536.
 * OUT *out: owned by caller, free with pr_model_hot_free. */
pr_status pr_model_hot_new(pr_model *m, int nth, const uint32_t *buckets, uint32_t n,
                           pr_model_hot **out, pr_err *err);
/* pr_model_update for thread ith (Hogwild on the shared buckets, the
 * thread's own copy for the hot ones). Only thread ith may use ith. */
double pr_model_update_hot(pr_model_hot *h, int ith, const pr_example *x);
/* pr_model_prefetch for thread ith: fetches its copies of hot rows and
 * the shared rows of the others. What it looks up is kept for thread ith's
 * next update if that update is of this same x, so x must not change in
 * between (the trainer filters an example before prefetching it). */
void pr_model_hot_prefetch(pr_model_hot *h, int ith, const pr_example *x);
/* Adds thread ith's changes to the hot units since its last flush to the
 * shared model and refreshes its copy from the result (the other threads'
 * flushed changes included). Serialised with the other threads' flushes
 * by a lock; call it often enough that copies stay fresh (the trainer:
 * after each block of about a thousand examples) and once at the end, or
 * its last changes never reach the model. */
void pr_model_hot_flush(pr_model_hot *h, int ith);
/* Accepts NULL. No thread may be inside a hot call. */
void pr_model_hot_free(pr_model_hot *h);

/* Metadata carried in the model file. Each setter copies its argument
 * (replacing any previous value); NULL clears it. */
pr_status pr_model_set_spec(pr_model *m, const char *spec_yaml, pr_err *err);
/* bitmap: 2^hash_bits bits (bit i of word i/64 = bucket i admitted). */
pr_status pr_model_set_filter(pr_model *m, const uint64_t *bitmap, pr_err *err);
/* info_json: a JSON object text (checked to start with '{'). */
pr_status pr_model_set_info(pr_model *m, const char *info_json, pr_err *err);
/* Getters: borrowed, valid until the matching setter or pr_model_free;
 * NULL when not set. */
const char *pr_model_spec(const pr_model *m);
const uint64_t *pr_model_filter(const pr_model *m);
const char *pr_model_info(const pr_model *m);
/* The reference profile section (pronto/profile.h decodes it:
 * pr_profile_of_model), kept as opaque bytes so that a profile the reader
 * cannot decode never stops a model from loading. The setter copies len
 * bytes (NULL clears); the getter returns NULL for files without one and
 * sets *len (len may be NULL). */
pr_status pr_model_set_profile_bytes(pr_model *m, const void *bytes, size_t len,
                                     pr_err *err);
const void *pr_model_profile_bytes(const pr_model *m, size_t *len);

/* Effective weight of a bucket, for `pronto inspect`: LR the weight w_i;
 * FFM/FM the linear weight if nonzero, else the L2 norm of the bucket's
 * latent vectors. index is masked like feature indices. */
double pr_model_weight_norm(const pr_model *m, uint32_t index);
/* LR: buckets whose weight is not exactly zero (L1 zeros do not count).
 * FFM/FM: buckets training has touched (their linear AdaGrad accumulator
 * grew past its initial value). */
uint64_t pr_model_n_nonzero(const pr_model *m);

/* Saves atomically (temporary file, fsync, rename): on failure the file at
 * path, if any, is left as it was. Layout: docs/model-format.md. */
pr_status pr_model_save(const pr_model *m, const char *path, pr_err *err);
/* Loads and verifies (magic, version, sizes, checksum); errors name path
 * and what is wrong. OUT *out: owned by caller, free with pr_model_free. */
pr_status pr_model_load(const char *path, pr_model **out, pr_err *err);
/* As pr_model_load from a memory buffer (borrowed for the call; the model
 * copies what it needs). name is used in error messages. Any input, however
 * malformed, gives an error, never a crash. */
pr_status pr_model_load_mem(const void *data, size_t len, const char *name,
                            pr_model **out, pr_err *err);
/* Accepts NULL. */
/* A deep copy: weights, optimizer state, spec, info and filter. Used by
 * early stopping to keep the best pass in memory. Not safe while another
 * thread updates src. OUT *out: owned by caller, free with pr_model_free. */
pr_status pr_model_clone(const pr_model *src, pr_model **out, pr_err *err);
/* dst := src (weights, optimizer state, spec, info, filter, profile) in dst's own
 * memory, for a snapshot taken again and again without allocating. Both
 * must have the same params (PR_ERR_INVALID otherwise: clone instead).
 * Copies the whole state, an FFM table's untouched rows included. */
pr_status pr_model_copy(pr_model *dst, const pr_model *src, pr_err *err);

/* Merging replicas (data-parallel training, `pronto train --mpi`): R copies
 * of one model, trained on different data since they were last equal, are
 * made equal again. Each replica packs its state into a float vector, the
 * vectors are summed element-wise across replicas (MPI_Allreduce), and each
 * replica unpacks the sum; every replica then holds the same merged model.
 * The vector is cut into units (one per hash bucket, plus the bias last) of
 * unit_floats floats; only units some replica changed need exchanging (a
 * unit no replica touched is equal everywhere and stays as it is), in
 * chunks of units.
 *
 * Modes (docs/distributed.md has the measurements behind the default, avg):
 *   PR_MERGE_AVG       every replica's state averaged (LR: z and n; FFM:
 *                      weights and AdaGrad accumulators)
 *   PR_MERGE_SUM       LR: FTRL's z and n each move by the sum of the
 *                      replicas' changes since the last merge (overshoots:
 *                      diverges at 4 replicas; kept for comparison)
 *   PR_MERGE_WEIGHTED  LR: weights averaged with each replica's squared-
 *                      gradient mass on the coordinate since the last
 *                      merge as its weight, n summed, z solved from both
 * FFM always averages its rows (a row only over the replicas that have
 * initialized it); the mode applies to LR. FM is not supported. */
typedef enum pr_merge_mode {
    PR_MERGE_SUM = 0,
    PR_MERGE_AVG = 1,
    PR_MERGE_WEIGHTED = 2
} pr_merge_mode;
typedef struct pr_model_merge pr_model_merge;

/* Parses "sum" / "avg" / "weighted". PR_ERR_INVALID otherwise. */
pr_status pr_merge_mode_parse(const char *s, pr_merge_mode *out);
const char *pr_merge_mode_name(pr_merge_mode m);
/* m is borrowed and must outlive the merge; its state now is the common
 * starting point (every replica must start equal). PR_ERR_UNSUPPORTED for
 * FM. OUT *out: free with pr_model_merge_free. */
pr_status pr_model_merge_new(pr_model *m, pr_merge_mode mode, uint32_t replicas,
                             pr_model_merge **out, pr_err *err);
uint64_t pr_model_merge_units(const pr_model_merge *g);
uint32_t pr_model_merge_unit_floats(const pr_model_merge *g);
/* Units unit[0..n) (the same list on every replica) into buf (n *
 * unit_floats floats). No update may run on the model between a pack and
 * the unpack of the same units. */
void pr_model_merge_pack(pr_model_merge *g, const uint64_t *unit, uint64_t n, float *buf);
/* The element-wise sum over the replicas of what pack gave, for the same
 * units, into the model (and the new starting point). */
void pr_model_merge_unpack(pr_model_merge *g, const uint64_t *unit, uint64_t n,
                           const float *sum);
void pr_model_merge_free(pr_model_merge *g);
void pr_model_free(pr_model *m);

#ifdef __cplusplus
}
#endif
#endif
