/*
 * shadow.c: `--shadow ALIAS`: every answered predict is scored again by
 * the shadow alias's model, on a thread of its own, after the answer is
 * complete. The shadow's p never reaches the client; it goes into the
 * request's prediction record ("shadow": alias, versions, p per candidate
 * in the answer's rank order) and into the shadow's metrics (arm.c: mean
 * p, mean |shadow p - answered p|, time, errors, drops).
 *
 * The HTTP thread, once its reply is written, copies the request's
 * assembled rows (they live in its arena, rewound by its next request;
 * texts shared by consecutive candidates are copied once) and the answer
 * into one malloc'd item and queues it, with the prediction record built
 * so far (the shadow closes it and hands it to the logger). The shadow
 * thread runs at nice +10 (pr__lower_priority): on a busy machine the
 * HTTP threads get the cores, and the shadow falls behind. The queue is
 * bounded (PR__SHADOW_QUEUE items, PR__SHADOW_QUEUE_BYTES); past it an
 * answer is not shadowed: counted in pronto_shadow_dropped_total, its
 * record logged without a shadow. So the shadow never makes an answer
 * wait: its cost on the request path is the copy (docs/benchmarks.md).
 *
 * The shadow scores the rows the answer was computed from (the same
 * store read), with its own featurizer and filter: a shadow whose spec
 * differs from the arms' is fine as long as the store's spec satisfies it
 * (checked at every load, as for any model).
 *
 * Ownership: an item and everything it points to is one allocation, owned
 * by the queue from pr__shadow_submit on and freed by the shadow thread
 * (or at stop). The record's buffer moves into the item, then to the
 * logger's queue.
 */
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"

struct pr__shadow_item {
    pr__shadow_item *next;
    int64_t ts;
    uint32_t n;
    size_t bytes;              /* the allocation's size */
    pr_record *recs;           /* n rows, their cols/num/texts in this block */
    pr__scored *ranked;        /* the answer, rank order */
    int has_rec;
    pr__tb rec;                /* the prediction record without its '}' */
};

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

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

/* 1 if column c of row i has the same text as row i - 1 (copied once). */
static int same_as_prev(const pr_fs_row *rows, uint32_t i, uint32_t c) {
    return i > 0 && c < rows[i - 1].rec.n_cols && rows[i].rec.cols[c].ptr == rows[i - 1].rec.cols[c].ptr &&
           rows[i].rec.cols[c].len == rows[i - 1].rec.cols[c].len;
}

/* The item for rows[0..n) and the answer, in one allocation; NULL when
 * out of memory. */
static pr__shadow_item *item_new(const pr_fs_row *rows, uint32_t n, const pr__scored *ranked) {
    size_t cells = 0, nums = 0, text = 0;
    for (uint32_t i = 0; i < n; i++) {
        cells += rows[i].rec.n_cols;
        if (rows[i].rec.num) nums += rows[i].rec.n_cols;
        for (uint32_t c = 0; c < rows[i].rec.n_cols; c++)
            if (!same_as_prev(rows, i, c)) text += rows[i].rec.cols[c].len;
    }
    size_t size = align8(sizeof(pr__shadow_item)) + align8(n * sizeof(pr_record)) +
                  align8(n * sizeof(pr__scored)) + align8(cells * sizeof(pr_bytes)) +
                  align8(nums * sizeof(double)) + text;
    char *block = malloc(size ? size : 1);
    if (!block) return NULL;
    pr__shadow_item *it = (pr__shadow_item *)block;
    memset(it, 0, sizeof *it);
    char *p = block + align8(sizeof *it);
    it->recs = (pr_record *)p;
    p += align8(n * sizeof(pr_record));
    it->ranked = (pr__scored *)p;
    p += align8(n * sizeof(pr__scored));
    pr_bytes *cols = (pr_bytes *)p;
    p += align8(cells * sizeof(pr_bytes));
    double *num = (double *)p;
    p += align8(nums * sizeof(double));
    char *t = p;
    memcpy(it->ranked, ranked, n * sizeof *ranked);
    const pr_bytes *prev = NULL;
    for (uint32_t i = 0; i < n; i++) {
        const pr_record *src = &rows[i].rec;
        pr_record *dst = &it->recs[i];
        *dst = *src;
        dst->cols = cols;
        for (uint32_t c = 0; c < src->n_cols; c++) {
            if (same_as_prev(rows, i, c)) {
                cols[c] = prev[c];
                continue;
            }
            cols[c].ptr = t;
            cols[c].len = src->cols[c].len;
            if (src->cols[c].len) memcpy(t, src->cols[c].ptr, src->cols[c].len);
            t += src->cols[c].len;
        }
        if (src->num) {
            memcpy(num, src->num, src->n_cols * sizeof *num);
            dst->num = num;
            num += src->n_cols;
        }
        prev = cols;
        cols += src->n_cols;
    }
    it->n = n;
    it->bytes = size;
    return it;
}

void pr__shadow_submit(pr_server *s, const pr_fs_row *rows, uint32_t n, const pr__scored *ranked,
                       int64_t ts, pr__tb *rec) {
    pr__shadowq *q = &s->shadowq;
    pthread_mutex_lock(&q->mu);
    int room = !q->stop && q->n < PR__SHADOW_QUEUE && q->bytes < PR__SHADOW_QUEUE_BYTES;
    pthread_mutex_unlock(&q->mu);
    pr__shadow_item *it = room ? item_new(rows, n, ranked) : NULL;
    if (it) {
        it->ts = ts;
        if (rec) {
            it->has_rec = 1;
            it->rec = *rec;
            memset(rec, 0, sizeof *rec);
        }
        pthread_mutex_lock(&q->mu);
        if (!q->stop && q->n < PR__SHADOW_QUEUE && q->bytes + it->bytes <= PR__SHADOW_QUEUE_BYTES) {
            if (q->tail) q->tail->next = it;
            else q->head = it;
            q->tail = it;
            q->n++;
            q->bytes += it->bytes;
            int wake = q->n == 1; /* the thread sleeps only on an empty queue */
            pthread_mutex_unlock(&q->mu);
            if (wake) pthread_cond_signal(&q->cv);
            return;
        }
        pthread_mutex_unlock(&q->mu);
        if (it->has_rec) {
            *rec = it->rec;
            memset(&it->rec, 0, sizeof it->rec);
        }
        free(it);
    }
    pr__metrics_add(&s->shadow->dropped, 1);
    if (rec && rec->p) enqueue_rec(s, ts, rec);
}

/* Scores one item with the shadow's current model; finishes its record. */
static void score(pr_server *s, pr__shadow_item *it) {
    pr__shadowq *q = &s->shadowq;
    pr__arm *a = s->shadow;
    uint64_t t0 = pr__mono_ns();
    pr__model_ref *m = pr__holder_acquire(&a->holder);
    pr_arena_reset(&q->arena);
    double *p = pr_arena_alloc(&q->arena, (it->n ? it->n : 1) * sizeof *p);
    int ok = p != NULL;
    const uint64_t *filter = pr_model_filter(m->model);
    pr_err err;
    for (uint32_t i = 0; ok && i < it->n; i++) {
        pr_example x;
        if (pr_featurizer_apply(m->fz, &it->recs[i], &q->arena, &x, &err) != PR_OK) {
            ok = 0;
            break;
        }
        pr_featurizer_apply_filter(m->fz, filter, &x);
        p[i] = pr_model_predict(m->model, &x);
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
                pr__tb_prob(b, p[it->ranked[r].i]);
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
        q->bytes -= it->bytes;
        pthread_mutex_unlock(&q->mu);
        score(s, it);
        pr__tb_free(&it->rec);
        free(it);
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
        free(it);
    }
    q->tail = NULL;
    pr_arena_free(&q->arena);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    q->inited = 0;
}
