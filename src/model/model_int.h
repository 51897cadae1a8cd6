/*
 * model_int.h: what the model files share and nothing else sees.
 *
 * A pr_model is a function table (pr__model_ops, chosen once when the model
 * is created, so the hot loops test no kind or mode flags) plus `void *impl`
 * owned by that kind, plus the metadata every kind carries (params, spec,
 * info, filter). Each kind exposes its trainable state as a few contiguous
 * float arrays ("blocks"); the model file writes and reads exactly those, so
 * a loaded model continues training where the saved one stopped.
 *
 * Also here: the internal hooks tests and benchmarks use to compare the
 * SIMD and scalar FFM kernels and to check gradients.
 */
#ifndef PRONTO_MODEL_INT_H
#define PRONTO_MODEL_INT_H

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pronto/model.h"

/* Logits are clipped to this range before gradients are taken. */
#define PR__MODEL_LOGIT_CLIP 35.0

/* One contiguous array of trainable state, in file order. */
typedef struct pr__model_block {
    float *ptr;        /* borrowed from the impl */
    uint64_t n;        /* number of floats */
    /* Optional (NULL: every page may hold data), borrowed from the impl:
     * bit i set = page i (PR__MODEL_PAGE_FLOATS floats from ptr) may hold
     * a nonzero bit; a clear bit is a page nothing ever wrote. Code outside
     * the kind that fills pages (the loader, clone, copy) sets their bits;
     * code that scans the block (save, clone, copy) skips clear pages
     * without reading them: on a kernel without the shared zero page (this
     * project's VM, docs/memory.md) merely reading a never-touched page
     * commits it, so one scan of a lazily filled FFM table cost its full
     * 1.3 GB. */
    uint64_t *touched;
} pr__model_block;

/* The page size of pr__model_block.touched: 4 KiB, the memory page (and
 * the model file's sparse page). */
#define PR__MODEL_PAGE_FLOATS 1024u
static inline uint64_t pr__model_pages(uint64_t n_floats) {
    return (n_floats + PR__MODEL_PAGE_FLOATS - 1) / PR__MODEL_PAGE_FLOATS;
}
static inline int pr__model_page_touched(const pr__model_block *b, uint64_t page) {
    return !b->touched || (int)(b->touched[page / 64] >> (page % 64) & 1);
}
/* Marks the pages holding floats [from, from + n) of the block (atomic:
 * Hogwild threads initialize rows concurrently). */
static inline void pr__model_touch(uint64_t *touched, uint64_t from, uint64_t n) {
    if (!touched || n == 0) return;
    for (uint64_t p = from / PR__MODEL_PAGE_FLOATS; p <= (from + n - 1) / PR__MODEL_PAGE_FLOATS; p++) {
        uint64_t bit = (uint64_t)1 << (p % 64);
        if (!(__atomic_load_n(&touched[p / 64], __ATOMIC_RELAXED) & bit))
            __atomic_fetch_or(&touched[p / 64], bit, __ATOMIC_RELAXED);
    }
}

#define PR__MODEL_MAX_BLOCKS 4

typedef struct pr__model_ops {
    /* Total floats of state for params p (already checked): lets the file
     * loader check a weights section's size before allocating anything. */
    uint64_t (*state_floats)(const pr_model_params *p);
    /* Allocates the impl. init=1: seeded initial weights; init=0: state
     * left for the loader to fill (every float is overwritten). */
    pr_status (*create)(const pr_model_params *p, int init, void **impl,
                        pr_err *err);
    double (*logit)(const void *impl, const pr_example *x);
    double (*update)(void *impl, const pr_example *x);
    /* Starts fetching the memory x will touch (may be NULL: no-op). */
    void (*prefetch)(const void *impl, const pr_example *x);
    double (*weight_norm)(const void *impl, uint32_t index);
    uint64_t (*n_nonzero)(const void *impl);
    /* Fills out[] (PR__MODEL_MAX_BLOCKS slots), returns the count. */
    int (*blocks)(void *impl, pr__model_block *out);
    void (*destroy)(void *impl);
    /* Optional team update (model.h, pr_model_team_*); all NULL for kinds
     * that only train Hogwild. team_new allocates the kind's team state for
     * nth threads; the others mirror the public calls. */
    pr_status (*team_new)(void *impl, int nth, void **team, pr_err *err);
    double (*team_update)(void *team, int ith, const pr_example *x);
    void (*team_prefetch)(void *team, int ith, const pr_example *x);
    void (*team_sync)(void *team, int ith);
    void (*team_free)(void *team);
    /* Optional hot replicas (model.h, pr_model_hot_*); all NULL for kinds
     * without them. hot_new gets the buckets already masked and distinct. */
    pr_status (*hot_new)(void *impl, int nth, const uint32_t *buckets, uint32_t n,
                         void **hot, pr_err *err);
    double (*hot_update)(void *hot, int ith, const pr_example *x);
    void (*hot_prefetch)(void *hot, int ith, const pr_example *x);
    void (*hot_flush)(void *hot, int ith);
    void (*hot_free)(void *hot);
} pr__model_ops;

/* ------------------------------------------------------------ hot replicas
 * What every kind's hot replicas share (model_hot.c; model.h has the
 * idea): the hot buckets, a lookup from bucket to its place in the copies,
 * each thread's two copies and the lock flushes take. A copy holds n units
 * of unit_floats floats (one per hot bucket, in bucket order) and then
 * extra_floats (the bias); `local` is what the thread learns on, `base`
 * the same values as of its last flush. */
typedef struct pr__hot_copy {
    float *local;
    float *base;
    char pad[64 - 2 * sizeof(float *)];  /* one line per thread */
} pr__hot_copy;

typedef struct pr__hot {
    uint32_t n;              /* hot buckets */
    uint32_t *bucket;        /* n, as given (distinct, masked) */
    uint32_t *key;           /* cap_mask + 1 slots (+1: the probe past the
                                last wraps to 0): bucket + 1, 0 = empty */
    uint32_t *slot;          /* its unit in the copies */
    uint32_t cap_mask;
    uint64_t floats;         /* per copy: n * unit_floats + extra_floats */
    int nth;
    pr__hot_copy *th;        /* nth */
    pthread_mutex_t lock;
} pr__hot;

/* Allocates h's tables and copies (contents left to the kind). On failure
 * h is released and the error says what could not be had. */
pr_status pr__hot_init(pr__hot *h, int nth, const uint32_t *buckets, uint32_t n,
                       uint64_t unit_floats, uint64_t extra_floats, pr_err *err);
void pr__hot_release(pr__hot *h);

/* Unit of bucket b in the copies, or -1 when b is not hot. Open
 * addressing in which every key sits in its home slot or the next one
 * (pr__hot_init grows the table until they do), so a lookup reads both
 * slots and selects without a branch: a hit or a miss is a coin toss per
 * feature, and a mispredicted branch cost more than the two loads. */
static inline int64_t pr__hot_find(const pr__hot *h, uint32_t b) {
    uint32_t i = (b * 0x9E3779B1u) & h->cap_mask, j = (i + 1) & h->cap_mask;
    int64_t u = h->key[j] == b + 1 ? (int64_t)h->slot[j] : -1;
    return h->key[i] == b + 1 ? (int64_t)h->slot[i] : u;
}

/* shared += local - base; local = base = shared, over n floats. Where no
 * other thread has flushed since (shared == base), shared takes local as
 * it is: one thread's replica then trains exactly as pr_model_update
 * does, bit for bit, instead of through base + (local - base). */
void pr__hot_fold(float *restrict shared, float *restrict local, float *restrict base,
                  uint64_t n);

extern const pr__model_ops pr__model_lr_ops;
extern const pr__model_ops pr__model_ffm_ops;
extern const pr__model_ops pr__model_fm_ops;

struct pr_model {
    const pr__model_ops *ops;
    void *impl;                 /* owned, released by ops->destroy */
    pr_model_params params;
    double recal_shift;         /* ln(neg_sample_rate), added in predict */
    char *spec;                 /* owned, may be NULL */
    char *info;                 /* owned, may be NULL */
    uint64_t *filter;           /* owned, 2^hash_bits bits, may be NULL */
    uint8_t *profile;           /* owned, the profile section's bytes, may be NULL */
    size_t profile_len;
};

/* The model's state blocks (out: PR__MODEL_MAX_BLOCKS slots, touched
 * NULL unless the kind keeps a map); returns the count. */
static inline int pr__model_blocks(const pr_model *m, pr__model_block *out) {
    memset(out, 0, sizeof(pr__model_block) * PR__MODEL_MAX_BLOCKS);
    return m->ops->blocks(m->impl, out);
}

/* Creates the model shell and impl (model.c). init as in ops->create. */
pr_status pr__model_create(const pr_model_params *p, int init, pr_model **out,
                           pr_err *err);
/* Bytes of the filter bitmap for hash_bits. */
static inline uint64_t pr__model_filter_bytes(uint32_t hash_bits) {
    uint64_t bits = (uint64_t)1 << hash_bits;
    return ((bits + 63) / 64) * 8;
}

/* ------------------------------------------------------------ big arrays
 * model_mem.c: zero-filled, 64-byte aligned memory for weight tables.
 * Large sizes come from mmap (zero pages, transparent huge pages asked
 * for), so untouched buckets cost nothing. Free with the same size. */
void *pr__model_alloc_zero(size_t bytes, int populate);
/* on=1: until called again with 0, the calling thread's allocations ignore
 * populate (the sparse loader writes only the pages its file stores).
 * Returns the previous setting, to restore. */
int pr__model_mem_lazy(int on);
void pr__model_free_zero(void *p, size_t bytes);

/* ------------------------------------------------------------ helpers */
static inline double pr__clip_logit(double t) {
    /* NaN maps to -clip: a broken input can never produce a NaN gradient. */
    if (t > PR__MODEL_LOGIT_CLIP) return PR__MODEL_LOGIT_CLIP;
    if (t > -PR__MODEL_LOGIT_CLIP) return t;
    return -PR__MODEL_LOGIT_CLIP;
}
static inline double pr__sigmoid(double t) { return 1.0 / (1.0 + exp(-t)); }
/* Importance weight usable for training: finite and > 0. */
static inline int pr__trainable_weight(float w) { return w > 0 && isfinite(w); }
/* Feature values and importance weights are clamped to this magnitude so
 * that no gradient or squared gradient can overflow a float (AdaGrad and
 * FTRL steps are bounded by the learning rate, so weights cannot grow
 * without bound either). */
#define PR__MODEL_VALUE_MAX 1e4f
static inline float pr__clamp_value(float v) {
    return v > PR__MODEL_VALUE_MAX ? PR__MODEL_VALUE_MAX
           : v < -PR__MODEL_VALUE_MAX ? -PR__MODEL_VALUE_MAX : v;
}
static inline int pr__is_click(float label) { return label > 0.5f; }

/* ------------------------------------------------------------ factor models
 * Shared by FFM and FM (model_factor.c): the example compacted to the
 * features the model uses, with row pointers resolved once. */
typedef struct pr__fx {
    uint32_t n;        /* usable features */
    float **row;       /* row[i]: start of feature i's bucket row */
    uint32_t *field;   /* field of feature i (FFM; 0 for FM) */
    float *val;        /* value of feature i */
    uint32_t *src;     /* position of feature i in the original example */
    double sq_norm;    /* sum of val^2 */
} pr__fx;

#define PR__FX_STACK 128
typedef struct pr__fx_buf {
    float *row[PR__FX_STACK];
    uint32_t field[PR__FX_STACK];
    float val[PR__FX_STACK];
    uint32_t src[PR__FX_STACK];
    void *heap;        /* used when the example has more features */
} pr__fx_buf;

/* Compacts x: drops non-finite values and (n_fields > 0) fields >=
 * n_fields; masks indices. Returns 0 if memory for a large example could
 * not be had (the caller then treats the example as empty). */
int pr__fx_build(pr__fx *fx, pr__fx_buf *buf, const pr_example *x,
                 float *table, uint64_t mask, uint64_t row_floats,
                 uint32_t n_fields);
void pr__fx_release(pr__fx_buf *buf);

/* AdaGrad step for one scalar weight w with accumulator *G. */
static inline void pr__adagrad1(float *w, float *G, float g, float eta) {
    float G1 = *G + g * g;
    *G = G1;
    *w -= eta * g / sqrtf(G1);
}

/* ------------------------------------------------------------ FFM internals
 * for tests and benchmarks (model_ffm.c). */
/* Both kernels work on the pairs (i, j) with i0 <= i < i1 and i < j < n
 * (i0 = 0, i1 = n: every pair). A team thread passes its own row range. */
typedef struct pr__ffm_kernels {
    /* sum over those pairs of <w[i][f_j], w[j][f_i]> v_i v_j (no scaling). */
    float (*pairs)(const pr__fx *fx, uint32_t kpad, uint32_t i0, uint32_t i1);
    /* AdaGrad step of those pairs; kv = kappa * r (d loss / d pair sum). */
    void (*pairs_update)(const pr__fx *fx, uint32_t kpad, uint32_t i0,
                         uint32_t i1, float kv, float eta, float lambda);
} pr__ffm_kernels;

extern const pr__ffm_kernels pr__ffm_scalar;
/* model_ffm_simd.c; returns NULL when this CPU lacks AVX2+FMA. */
const pr__ffm_kernels *pr__ffm_simd(void);

/* Selects the kernels of an FFM model (the default is SIMD when the CPU
 * has it). simd=1 without CPU support returns PR_ERR_UNSUPPORTED. */
pr_status pr__ffm_use_simd(pr_model *m, int simd);
/* Latent vector of (bucket, field): kpad weights then kpad accumulators.
 * Borrowed from the model. */
float *pr__ffm_latent(pr_model *m, uint32_t index, uint32_t field);
/* Linear weight of bucket (accumulator at [kpad]); bias: [0] w, [1] G. */
float *pr__ffm_linear(pr_model *m, uint32_t index);
float *pr__ffm_bias(pr_model *m);
uint32_t pr__ffm_kpad(const pr_model *m);
/* Gradient of the weighted log loss (no L2) of x at the current weights:
 * latent[(i * n_fields + f) * kpad + d] for feature i of x (in x's order)
 * and field f, lin[i], *bias. Features the model ignores get zeros.
 * latent has x->n * n_fields * kpad floats, lin x->n. Assumes no two
 * features of x share a bucket (else the slots alias). */
void pr__ffm_grad(const pr_model *m, const pr_example *x, float *latent,
                  float *lin, float *bias);

/* ------------------------------------------------------------ LR internals */
/* FTRL-Proximal's closed-form weight from z and s = sqrt(n) (model_lr_ftrl.c
 * keeps it cached beside z and s; model_merge.c recomputes it after a merge).
 * Branch-free: under L1 about half the weights sit near the threshold, so
 * a branch on |z| <= l1 would be mispredicted often. When beta = l2 = 0
 * and n = 0 the division is 0/0 but then z = 0 too and the select drops
 * it. */
static inline float pr__ftrl_weight(float z, float s, float inv_alpha, float beta,
                                    float l1, float l2) {
    float denom = (beta + s) * inv_alpha + l2;
    float w = (copysignf(l1, z) - z) / denom;
    return fabsf(z) > l1 ? w : 0.0f;
}
/* Logit computed from z and n alone (the weights recomputed on the fly),
 * the alternative to the stored w: bench_model compares the two. */
double pr__lr_logit_lazy(const pr_model *m, const pr_example *x);
/* Bucket state: [0] w, [1] z, [2] sqrt(n); bias with index UINT32_MAX. */
float *pr__lr_state(pr_model *m, uint32_t index);

#endif
