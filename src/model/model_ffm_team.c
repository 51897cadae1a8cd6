/*
 * model_ffm_team.c: the FFM team update. nth threads work on the SAME
 * example at the same time, each on its own share of the pairs, instead of
 * nth threads on different examples of one shared model (Hogwild).
 *
 * Why: in Hogwild every example writes every cache line of all its rows
 * (~40 rows x 20 lines at k = 4), and the hot rows (frequent values, each
 * field's rare bucket) bounce between the cores: two Hogwild threads ran at
 * 1.2x one thread. Here no line is written by two threads.
 *
 * Why it is exact: a pair (i, j), i < j, reads and writes exactly the two
 * slots w[i][f_j] and w[j][f_i]. When the example's fields are distinct and
 * its buckets are distinct, no slot belongs to two pairs, so the pair
 * updates commute and may run on any thread in any order. The only
 * difference from one thread is the order in which the pair sum is added
 * up (partial sums combined in thread order, the same on every thread, so
 * all threads compute the same logit and the result never depends on
 * timing).
 *
 * The split (per example): features are put in field order (they usually
 * are already), and thread t takes the rows [cut[t], cut[t+1]): the pairs
 * (i, j) with i in that range, the linear terms of those rows, and thread 0
 * the bias. Then thread t writes, in a row of field g, the slots of fields
 * in [f(cut[t]), ...) if the row is its own, and only the slots of its own
 * fields [f(cut[t]), f(cut[t+1])) in later threads' rows; earlier threads'
 * rows it never touches. Cuts balance a cost per row (its pairs plus a fixed
 * part, ROW_COST), and are moved so
 * that the last slot of one thread and the first slot of the next never
 * share a 64-byte line (at k = 4 a slot is 32 bytes).
 *
 * One example, thread t (every thread calls with the same x, in order):
 *   prepare  compact x, sort by field, check distinct fields and buckets,
 *            compute cuts (pr__ffm_team_prefetch does this one example
 *            ahead and starts fetching the lines t will touch);
 *   ready    initialize never-touched rows t reads (a private bitmap of
 *            rows t has seen initialized avoids reading the flag line,
 *            which another thread writes);
 *   barrier  every thread has finished the previous example's updates;
 *   phase 1  partial linear sum (+ bias on 0) and partial pair sum,
 *            published in t's own line;
 *   barrier  partials visible; every thread combines them in thread order;
 *   phase 2  update own pairs and linear terms (and bias on thread 0).
 * The next example's first barrier ends phase 2; pr__ffm_team_sync is a
 * plain barrier for the caller's own hand-offs.
 *
 * Fallback: an example with a repeated field or bucket (two pairs would
 * share a slot) or more than PR__FX_STACK features is learned by thread 0
 * alone with the ordinary update, between the two barriers, while the
 * others wait; its logit is published to all.
 *
 * Barriers: each thread owns one 64-byte line holding a count of barriers
 * it has reached plus its published partials. Arriving stores the count
 * (release); waiting spins, with a pause, until every other thread's count
 * has reached it (acquire). Counts only grow, so no sense reversal and no
 * shared read-modify-write line: two threads exchange one line each way per
 * barrier. After a long spin the waiter yields (a busy machine may have
 * descheduled the other thread).
 *
 * Ownership: the team borrows the model (which must outlive it and must not
 * be updated by anything else while the team trains it); it owns its lines,
 * the per-thread state and the seen-bitmaps.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_ffm_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_PAUSE() _mm_pause()
#else
#define CPU_PAUSE() ((void)0)
#endif

#define LINE 64
#define SPINS_BEFORE_YIELD 4096

/* Written by one thread, read by the others after a barrier. */
typedef struct team_line {
    _Alignas(LINE) _Atomic uint64_t arrived;  /* barriers this thread reached */
    double lin;      /* phase 1: linear terms of its rows (+ bias on 0) */
    double pairs;    /* phase 1: its pair sum */
    double logit;    /* fallback: the logit thread 0 computed */
} team_line;

/* One example prepared for one thread. fx points into buf: never copied. */
typedef struct team_prep {
    const pr_example *x;   /* the example this holds; NULL: none */
    int solo;              /* 1: thread 0 learns it alone */
    pr__fx fx;
    pr__fx_buf buf;
    uint32_t *cut;         /* nth + 1 row cuts */
} team_prep;

/* Private to one thread. */
typedef struct team_thread {
    /* The model's constants, copied: thread 0 writes the bias next to them
     * in ffm_model every example, and reading them there would pull that
     * line over from thread 0's core each time. bias is not used here. */
    ffm_model c;
    uint64_t epoch;        /* barriers this thread has reached */
    uint64_t *seen;        /* bit per bucket: seen initialized by this thread */
    uint32_t gen;          /* generation of dup_idx entries */
    uint32_t dup_gen[2 * PR__FX_STACK];
    uint32_t dup_idx[2 * PR__FX_STACK];
    team_prep prep[2];
    int next;              /* prep[next] is the one prefetch fills */
} team_thread;

typedef struct ffm_team {
    ffm_model *m;
    int nth;
    int rows_aligned;      /* every row starts on a 64-byte line */
    uint32_t kpad;
    size_t seen_bytes;
    team_line *line;       /* nth lines */
    team_thread **th;      /* nth, each its own allocation */
} ffm_team;

/* ---------------------------------------------------------------- barrier */

static void team_wait(ffm_team *t, int ith) {
    team_thread *me = t->th[ith];
    uint64_t target = ++me->epoch;
    atomic_store_explicit(&t->line[ith].arrived, target, memory_order_release);
    for (int u = 0; u < t->nth; u++) {
        if (u == ith) continue;
        unsigned spins = 0;
        while (atomic_load_explicit(&t->line[u].arrived, memory_order_acquire) < target) {
            CPU_PAUSE();
            if (++spins == SPINS_BEFORE_YIELD) {
                spins = 0;
                sched_yield();
            }
        }
    }
}

void pr__ffm_team_sync(void *team, int ith) { team_wait(team, ith); }

/* ---------------------------------------------------------------- prepare */

/* Puts fx in field order (insertion sort: already sorted costs n steps).
 * Returns 0 if two features share a field. */
static int sort_by_field(pr__fx *fx) {
    uint32_t n = fx->n;
    for (uint32_t i = 1; i < n; i++) {
        if (fx->field[i] > fx->field[i - 1]) continue;
        float *row = fx->row[i];
        uint32_t f = fx->field[i], src = fx->src[i];
        float v = fx->val[i];
        uint32_t j = i;
        for (; j > 0 && fx->field[j - 1] > f; j--) {
            fx->row[j] = fx->row[j - 1];
            fx->field[j] = fx->field[j - 1];
            fx->val[j] = fx->val[j - 1];
            fx->src[j] = fx->src[j - 1];
        }
        fx->row[j] = row;
        fx->field[j] = f;
        fx->val[j] = v;
        fx->src[j] = src;
    }
    for (uint32_t i = 1; i < n; i++)
        if (fx->field[i] == fx->field[i - 1]) return 0;
    return 1;
}

/* 1 if two features of x land in one bucket (small open-addressing set,
 * entries invalidated by bumping the generation instead of clearing). */
static int has_repeated_bucket(team_thread *th, const pr_example *x,
                               const pr__fx *fx) {
    const ffm_model *m = &th->c;
    if (++th->gen == 0) {
        memset(th->dup_gen, 0, sizeof th->dup_gen);
        th->gen = 1;
    }
    const uint32_t cap = 2 * PR__FX_STACK;  /* power of two, >= 2 n */
    for (uint32_t i = 0; i < fx->n; i++) {
        uint32_t idx = x->f[fx->src[i]].index & m->mask;
        uint32_t h = (idx * 0x9E3779B1u) & (cap - 1);
        while (th->dup_gen[h] == th->gen) {
            if (th->dup_idx[h] == idx) return 1;
            h = (h + 1) & (cap - 1);
        }
        th->dup_gen[h] = th->gen;
        th->dup_idx[h] = idx;
    }
    return 0;
}

/* Could slots of fields fa < fb of one row share a cache line? */
static int slots_share_line(const ffm_team *t, uint32_t fa, uint32_t fb) {
    const uint64_t sb = (uint64_t)8 * t->kpad;   /* slot bytes */
    uint64_t end_a = (uint64_t)(fa + 1) * sb, start_b = (uint64_t)fb * sb;
    if (t->rows_aligned) return (end_a - 1) / LINE == start_b / LINE;
    return start_b - end_a < LINE;  /* row offset in its line unknown */
}

/* Cost of row i of n in pair updates: its n-1-i pairs plus a fixed part
 * (linear term, readiness, prefetch, loop set-up, the odd pair the 8-lane
 * kernel does alone). 8 measured best on 39-field data (2 threads, k 4). */
#define ROW_COST 8u
static uint64_t rows_cost(uint32_t n, uint32_t p) {  /* rows [0, p) */
    return (uint64_t)p * (n - 1 + ROW_COST) - (uint64_t)p * (p - 1) / 2;
}

/* Row cuts balancing the rows' cost, each moved forward past a boundary
 * whose two slots would share a line. */
static void compute_cuts(const ffm_team *t, const pr__fx *fx, uint32_t *cut) {
    const uint32_t n = fx->n;
    const uint64_t total = rows_cost(n, n);
    uint32_t p = 0;
    uint64_t cum = 0;  /* weight of rows [0, p) */
    cut[0] = 0;
    for (int k = 1; k < t->nth; k++) {
        uint64_t want = (total * (uint64_t)k + (uint64_t)t->nth / 2) / (uint64_t)t->nth;
        while (p < n && cum + (n - 1 - p + ROW_COST) / 2 < want)
            cum += n - 1 - p++ + ROW_COST;
        while (p > 0 && p < n && slots_share_line(t, fx->field[p - 1], fx->field[p]))
            cum += n - 1 - p++ + ROW_COST;
        cut[k] = p;
    }
    cut[t->nth] = n;
}

static void prepare(ffm_team *t, team_thread *th, team_prep *pp,
                    const pr_example *x) {
    const ffm_model *m = &th->c;
    pp->x = x;
    pp->solo = x->n > PR__FX_STACK;
    if (pp->solo) return;
    pr__fx_build(&pp->fx, &pp->buf, x, m->table, m->mask, m->row_floats,
                 m->n_fields);  /* cannot fail: no heap below PR__FX_STACK */
    if (t->nth == 1) {
        /* Nothing is shared: the plain update's order, exactly. */
        pp->cut[0] = 0;
        pp->cut[1] = pp->fx.n;
        return;
    }
    if (!sort_by_field(&pp->fx) || has_repeated_bucket(th, x, &pp->fx)) {
        pp->solo = 1;
        return;
    }
    compute_cuts(t, &pp->fx, pp->cut);
}

/* Starts fetching, with write intent, the lines thread ith will touch. */
static void prefetch_own(const team_thread *th, const team_prep *pp, int ith) {
    const ffm_model *m = &th->c;
    const pr__fx *fx = &pp->fx;
    const uint32_t i0 = pp->cut[ith], i1 = pp->cut[ith + 1];
    if (i0 >= i1) return;
    const uint64_t s2 = 2 * (uint64_t)m->kpad;
    const uint64_t lo = fx->field[i0] * s2;
    const uint64_t own_end = m->lin_off + s2;            /* own rows: to the linear slot */
    const uint64_t other_end = (fx->field[i1 - 1] + 1) * s2;  /* later rows: own fields */
    for (uint32_t i = i0; i < fx->n; i++) {
        const float *row = fx->row[i];
        const uint64_t end = i < i1 ? own_end : other_end;
        for (uint64_t off = lo & ~(uint64_t)15; off < end; off += 16)
            __builtin_prefetch(row + off, 1, 3);
    }
}

void pr__ffm_team_prefetch(void *team, int ith, const pr_example *x) {
    ffm_team *t = team;
    team_thread *th = t->th[ith];
    team_prep *pp = &th->prep[th->next];
    prepare(t, th, pp, x);
    if (!pp->solo) prefetch_own(th, pp, ith);
}

/* The prep holding x (made by pr__ffm_team_prefetch), else x prepared now. */
static team_prep *take(ffm_team *t, team_thread *th, const pr_example *x) {
    team_prep *pp = &th->prep[th->next];
    if (pp->x != x) prepare(t, th, pp, x);
    th->next ^= 1;
    th->prep[th->next].x = NULL;
    return pp;
}

/* ---------------------------------------------------------------- update */

/* Initializes the rows [i0, n) if needed; bit idx of seen records rows this
 * thread has already found initialized (rows never go back). */
static void ready_rows(const ffm_model *m, uint64_t *seen, const pr_example *x,
                       const pr__fx *fx, uint32_t i0) {
    for (uint32_t i = i0; i < fx->n; i++) {
        uint32_t idx = x->f[fx->src[i]].index & m->mask;
        uint64_t bit = (uint64_t)1 << (idx & 63);
        if (seen[idx >> 6] & bit) continue;
        /* First look at this row from this thread: touch the flag with a
         * write (an atomic add of 0). Reading a never-touched page first
         * would map the shared zero page, and the init's write would then
         * replace it, which costs a TLB shootdown IPI to every other core
         * running the process (a VM exit each on a VM): measured, those
         * faults made two threads slower than one. */
        float *row = fx->row[i];
        pr__ffm_ready_word *flag = (pr__ffm_ready_word *)&row[m->lin_off + 1];
        if (__atomic_fetch_add(flag, 0, __ATOMIC_ACQUIRE) != PR__FFM_READY_BITS)
            pr__ffm_init_row(m, idx, row);
        seen[idx >> 6] |= bit;
    }
}

static double solo_update(ffm_team *t, int ith, const pr_example *x) {
    team_wait(t, ith);               /* the previous example is finished */
    if (ith == 0) t->line[0].logit = pr__ffm_update(t->m, x);
    team_wait(t, ith);
    return t->line[0].logit;
}

double pr__ffm_team_update(void *team, int ith, const pr_example *x) {
    ffm_team *t = team;
    team_thread *th = t->th[ith];
    const ffm_model *m = &th->c;
    team_prep *pp = take(t, th, x);
    if (pp->solo) return solo_update(t, ith, x);
    const pr__fx *fx = &pp->fx;
    const uint32_t i0 = pp->cut[ith], i1 = pp->cut[ith + 1];
    const uint32_t kpad = m->kpad;
    const uint64_t lin_off = m->lin_off;
    const float label = x->label, weight = x->weight;
    ready_rows(m, th->seen, x, fx, i0);
    team_wait(t, ith);               /* the previous example is finished */

    /* phase 1: partial sums, in the single-thread order within the share */
    float *bias = t->m->bias;        /* thread 0's alone */
    double lin = ith == 0 ? bias[0] : 0.0;
    for (uint32_t i = i0; i < i1; i++) lin += fx->row[i][lin_off] * fx->val[i];
    float pairs = m->kern->pairs(fx, kpad, i0, i1);
    t->line[ith].lin = lin;
    t->line[ith].pairs = pairs;
    team_wait(t, ith);
    double L = t->line[0].lin, P = t->line[0].pairs;
    for (int u = 1; u < t->nth; u++) {
        L += t->line[u].lin;
        P += t->line[u].pairs;
    }
    const float r = pr__ffm_r(m, fx);
    const double logit = pr__clip_logit(L + (double)r * P);

    /* phase 2: own pairs, own linear terms, bias on thread 0 */
    if (pr__trainable_weight(weight)) {
        float y = pr__is_click(label) ? 1.0f : 0.0f;
        float kappa = (float)(pr__sigmoid(logit) - y) * pr__clamp_value(weight);
        m->kern->pairs_update(fx, kpad, i0, i1, kappa * r, m->eta, m->lambda);
        for (uint32_t i = i0; i < i1; i++) {
            float *l = fx->row[i] + lin_off;
            pr__adagrad1(&l[0], &l[kpad], m->lambda * l[0] + kappa * r * fx->val[i],
                         m->eta);
        }
        if (ith == 0) pr__adagrad1(&bias[0], &bias[1], kappa, m->eta);
    }
    return logit;
}

/* ---------------------------------------------------------------- life */

static void thread_free(ffm_team *t, team_thread *th) {
    if (!th) return;
    pr__model_free_zero(th->seen, t->seen_bytes);
    free(th->prep[0].cut);
    free(th->prep[1].cut);
    free(th);
}

void pr__ffm_team_free(void *team) {
    ffm_team *t = team;
    if (!t) return;
    for (int i = 0; t->th && i < t->nth; i++) thread_free(t, t->th[i]);
    free(t->th);
    free(t->line);
    free(t);
}

pr_status pr__ffm_team_new(void *impl, int nth, void **out, pr_err *err) {
    ffm_model *m = impl;
    ffm_team *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->m = m;
    t->nth = nth;
    t->rows_aligned = (m->row_floats * sizeof(float)) % LINE == 0;
    t->kpad = m->kpad;
    t->seen_bytes = (size_t)((m->n_buckets + 63) / 64 * 8);
    t->line = aligned_alloc(LINE, (size_t)nth * sizeof *t->line);
    t->th = calloc((size_t)nth, sizeof *t->th);
    if (!t->line || !t->th) goto nomem;
    for (int i = 0; i < nth; i++) {
        atomic_init(&t->line[i].arrived, 0);
        t->line[i].lin = t->line[i].pairs = t->line[i].logit = 0;
        /* its own allocation, line-aligned: no false sharing between threads */
        team_thread *th = aligned_alloc(LINE, (sizeof *th + LINE - 1) / LINE * LINE);
        if (!th) goto nomem;
        memset(th, 0, sizeof *th);
        th->c = *m;
        t->th[i] = th;
        /* lazily zeroed pages: a 2^30-bucket model costs only what is used */
        th->seen = pr__model_alloc_zero(t->seen_bytes, 0);
        th->prep[0].cut = malloc((size_t)(nth + 1) * sizeof(uint32_t));
        th->prep[1].cut = malloc((size_t)(nth + 1) * sizeof(uint32_t));
        if (!th->seen || !th->prep[0].cut || !th->prep[1].cut) goto nomem;
    }
    *out = t;
    return PR_OK;
nomem:
    pr__ffm_team_free(t);
    return pr_err_set(err, PR_ERR_NOMEM, "ffm team of %d threads: out of memory", nth);
}
