/*
 * shadow.c: `--shadow ALIAS`: every answered predict is scored again by
 * the shadow alias's model, on a thread of its own, after the answer is
 * complete. The shadow's p never reaches the client; it goes into the
 * request's prediction record ("shadow": alias, versions, p per candidate
 * in the answer's rank order) and into the shadow's metrics (arm.c: mean
 * p, mean |shadow p - answered p|, time, errors, drops).
 *
 * Nothing is copied. A worker's request lives in an arena (predict.c):
 * the parsed body (with --shadow the body is first copied into it, as
 * the rows point into it and libmicrohttpd frees the body with the
 * request), the assembled rows, the answer. Once the answer is sent
 * (libmicrohttpd's completion callback on the HTTP thread,
 * pr__predict_completed; or that thread's next predict, if it comes
 * first) the worker lends that whole arena to the shadow with the request
 * in it, and goes on with another of its arenas (PR__SHADOW_ARENAS at
 * most, holding PR__SHADOW_LENT_BYTES of requests in all; the shadow
 * gives each back when done, and a worker keeps PR__SHADOW_ARENAS_KEEP
 * of those, freeing the others). The shadow thread runs at
 * nice +10 (pr__lower_priority): on a busy machine the HTTP threads get
 * the cores, and the shadow falls behind. When a worker has no arena to
 * spare or the queue is full (PR__SHADOW_QUEUE), the request is not
 * shadowed: counted in pronto_shadow_dropped_total, its record logged
 * without a shadow. So the shadow never makes an answer wait, and the
 * HTTP thread pays the body copy and a queue push
 * (pronto_shadow_handoff_seconds_total; docs/benchmarks.md).
 *
 * The shadow scores the rows the answer was computed from (the same
 * store read), with its own featurizer and filter: a shadow whose spec
 * differs from the arms' is fine as long as the store's spec satisfies it
 * (checked at every load, as for any model).
 *
 * Ownership: a lent arena belongs to the shadow from a successful
 * pr__shadow_submit until it is given back (after scoring, or at stop);
 * the item lives in it. The record's buffer moves into the item, then to
 * the logger's queue.
 */
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"

struct pr__shadow_item {
    pr__shadow_item *next;
    pr__arena_box *box;        /* the request's arena, lent: the item lives in it */
    size_t bytes;              /* its size, counted in lent_bytes */
    const pr_fs_row *rows;     /* n rows, in box */
    const pr__scored *ranked;  /* the answer, rank order, in box */
    uint32_t n;
    int64_t ts;
    int has_rec;
    pr__tb rec;                /* the prediction record without its '}' */
};

/* Hands a record to the logger, closed (over: dropped and counted). */
static void enqueue_rec(pr_server *s, int64_t ts, pr__tb *b) {
    pr__tb_puts(b, "}");
    if (b->over) {
        pr__tb_free(b);
        pr__elog_enqueue(s, PR__LREC_PREDICTION, ts, NULL, 0);
        return;
    }
    pr__elog_enqueue(s, PR__LREC_PREDICTION, ts, b->p, b->len);
    memset(b, 0, sizeof *b);
}

int pr__shadow_submit(pr_server *s, pr__arena_box *box, const pr_fs_row *rows, uint32_t n,
                      const pr__scored *ranked, int64_t ts, pr__tb *rec) {
    pr__shadowq *q = &s->shadowq;
    size_t bytes = box ? box->arena.total : 0;
    if (box && __atomic_add_fetch(&q->lent_bytes, bytes, __ATOMIC_RELAXED) > PR__SHADOW_LENT_BYTES) {
        __atomic_sub_fetch(&q->lent_bytes, bytes, __ATOMIC_RELAXED);
        box = NULL;
    }
    pr__shadow_item *it = box ? pr_arena_alloc(&box->arena, sizeof *it) : NULL;
    if (box && !it) __atomic_sub_fetch(&q->lent_bytes, bytes, __ATOMIC_RELAXED);
    if (it) {
        memset(it, 0, sizeof *it);
        *it = (pr__shadow_item){.box = box, .bytes = bytes, .rows = rows, .ranked = ranked,
                                .n = n, .ts = ts};
        if (rec) {
            it->has_rec = 1;
            it->rec = *rec;
        }
        pthread_mutex_lock(&q->mu);
        if (!q->stop && q->n < PR__SHADOW_QUEUE) {
            if (q->tail) q->tail->next = it;
            else q->head = it;
            q->tail = it;
            q->n++;
            int wake = q->n == 1; /* the thread sleeps only on an empty queue */
            pthread_mutex_unlock(&q->mu);
            if (wake) pthread_cond_signal(&q->cv);
            if (rec) memset(rec, 0, sizeof *rec);
            return 1;
        }
        pthread_mutex_unlock(&q->mu);
        __atomic_sub_fetch(&q->lent_bytes, bytes, __ATOMIC_RELAXED);
    }
    pr__metrics_add(&s->shadow->dropped, 1);
    if (rec && rec->p) enqueue_rec(s, ts, rec);
    return 0;
}

/* Scores one item with the shadow's current model; finishes its record. */
static void score(pr_server *s, pr__shadow_item *it) {
    pr__shadowq *q = &s->shadowq;
    pr__arm *a = s->shadow;
    uint64_t t0 = pr__mono_ns();
    pr__model_ref *m = pr__holder_acquire(&a->holder);
    pr_arena_reset(&q->arena);
    double *p = pr_arena_alloc(&q->arena, (it->n ? it->n : 1) * sizeof *p);
    pr_example *x = pr_arena_alloc(&q->arena, (it->n ? it->n : 1) * sizeof *x);
    const uint64_t *filter = pr_model_filter(m->model);
    pr_err err;
    /* the rows as the answer's featurizing saw them (pr_fs_row is its
     * record alone): the shared columns hashed once, as rank_core does */
    int ok = p && x && pr_featurizer_apply_batch(m->fz, &it->rows[0].rec, it->n, &q->arena, x,
                                                 &err) == PR_OK;
    for (uint32_t i = 0; ok && i < it->n; i++) {
        pr_featurizer_apply_filter(m->fz, filter, &x[i]);
        p[i] = pr_model_predict(m->model, &x[i]);
    }
    if (ok) pr__shadow_observe(a, pr__mono_ns() - t0, p, it->ranked, it->n);
    else pr__metrics_add(&a->errors, 1);
    if (it->has_rec) {
        if (ok) {
            pr__tb *b = &it->rec;
            pr__tb_puts(b, ",\"shadow\":{\"arm\":");
            pr__tb_json_str(b, a->alias, strlen(a->alias));
            pr__tb_puts(b, ",\"registry_version\":");
            pr__tb_json_str(b, m->reg_version, strlen(m->reg_version));
            pr__tb_printf(b, ",\"model_version\":\"%s\",\"p\":[", m->version);
            for (uint32_t r = 0; r < it->n; r++) {
                if (r) pr__tb_put(b, ",", 1);
                pr__tb_prob(b, p[it->ranked[r].candidate]);
            }
            pr__tb_puts(b, "]}");
        }
        enqueue_rec(s, it->ts, &it->rec);
    }
    pr__model_ref_release(m);
}

static void *shadow_main(void *arg) {
    pr_server *s = arg;
    pr__shadowq *q = &s->shadowq;
    pr__lower_priority();
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stop) pthread_cond_wait(&q->cv, &q->mu);
        if (!q->head) break; /* stop, and nothing left */
        pr__shadow_item *it = q->head;
        q->head = it->next;
        if (!q->head) q->tail = NULL;
        q->n--;
        pthread_mutex_unlock(&q->mu);
        score(s, it);
        pr__tb_free(&it->rec);
        __atomic_sub_fetch(&q->lent_bytes, it->bytes, __ATOMIC_RELAXED);
        pr__arena_box_return(it->box); /* it lived there */
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

pr_status pr__shadow_start(pr_server *s, pr_err *err) {
    pr__shadowq *q = &s->shadowq;
    if (!s->shadow) return PR_OK;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    pr_arena_init(&q->arena, NULL, 0, 0);
    q->inited = 1;
    if (pthread_create(&q->th, NULL, shadow_main, s) != 0)
        return pr_err_set(err, PR_ERR_NOMEM, "cannot start the shadow thread");
    q->started = 1;
    return PR_OK;
}

void pr__shadow_stop(pr_server *s) {
    pr__shadowq *q = &s->shadowq;
    if (!q->inited) return;
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        q->stop = 1;
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->th, NULL); /* it scores what is queued first */
        q->started = 0;
    }
    while (q->head) {
        pr__shadow_item *it = q->head;
        q->head = it->next;
        pr__tb_free(&it->rec);
        __atomic_sub_fetch(&q->lent_bytes, it->bytes, __ATOMIC_RELAXED);
        pr__arena_box_return(it->box);
    }
    q->tail = NULL;
    pr_arena_free(&q->arena);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    q->inited = 0;
}
