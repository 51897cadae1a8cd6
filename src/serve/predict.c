/*
 * predict.c: POST /v1/predict on a worker thread, and the workers' state.
 *
 * Each HTTP worker thread gets a pr__worker on its first predict request
 * (thread-local pointer, listed in the server so shutdown frees it): its
 * own pr_fs over the shared store (redis: over its own connection), an
 * empty in-process pr_fs for cold answers, and an arena that holds the
 * whole request (parsed body, assembled rows, examples, scores) and is
 * rewound per request, so the steady state does no malloc but the reply.
 *
 * The pipeline, each stage timed into /metrics:
 *   parse      body -> request columns and candidates (predict_req.c)
 *   lookup     pr_fs_assemble: one batch get per entity, rows as of now
 *   featurize  pr_featurizer_apply_batch + pr_featurizer_apply_filter with
 *              the model's spec and filter: the code training used
 *   score      pr_model_predict
 *   serialize  sort by p (ties: request order), top_k, JSON
 * lookup to the sort are pr__rank_run (src/rank/rank_core.c), the code
 * pr_rank runs in process (pronto/rank.h): this handler is parse -> rank
 * -> serialize, log, monitor.
 *
 * Then (not timed in the stages) the answer is queued for the logger and
 * the quality thread (quality.c), counted in the worker's live profile
 * (monitor.c: no lock), and handed to the shadow once sent.
 *
 * Store failures (redis down): the request is answered from the cold
 * state (every entity absent: attributes missing, aggregates at their
 * defaults), marked "degraded": true and counted; the worker's redis
 * connection reconnects by itself on a later call (store.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_int.h"

static __thread pr__worker *tls_worker;
static __thread const pr_server *tls_server;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int64_t pr__now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Opens the worker's store-backed pr_fs (redis: its own connection). On
 * failure the worker answers cold and tries again a second later. */
static void worker_connect(pr_server *s, pr__worker *w) {
    pr_err err;
    double t = pr_now();
    if (w->fs || t - w->last_connect < 1.0) return;
    w->last_connect = t;
    pr_store *store = s->store;
    if (s->is_redis) {
        if (!w->own_store && pr_store_open(s->store_uri, &w->own_store, &err) != PR_OK) {
            pr__metrics_add(&s->metrics.store_errors, 1);
            return;
        }
        store = w->own_store;
    }
    if (pr_fs_open(s->store_spec, store, &w->fs, &err) != PR_OK) w->fs = NULL;
}

/* A new arena of w (NULL: out of memory); the caller counted it in
 * w->boxes. */
static pr__arena_box *box_new(pr__worker *w) {
    pr__arena_box *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->owner = w;
    pr_arena_init(&b->arena, NULL, 0, 0);
    return b;
}

static void box_free(pr__arena_box *b) {
    if (!b) return;
    pr_arena_free(&b->arena);
    free(b);
}

/* An arena to replace the one lent: one given back, or a new one while
 * fewer than PR__SHADOW_ARENAS are alive; NULL when none is to spare. */
static pr__arena_box *box_take(pr__worker *w) {
    pthread_mutex_lock(&w->lend_mu);
    pr__arena_box *b = w->free;
    int make = 0;
    if (b) {
        w->free = b->next;
        w->n_free--;
    } else if (w->boxes < PR__SHADOW_ARENAS) {
        w->boxes++;
        make = 1;
    }
    pthread_mutex_unlock(&w->lend_mu);
    if (make && !(b = box_new(w))) {
        pthread_mutex_lock(&w->lend_mu);
        w->boxes--;
        pthread_mutex_unlock(&w->lend_mu);
    }
    return b;
}

void pr__arena_box_return(pr__arena_box *b) {
    pr__worker *w = b->owner;
    pthread_mutex_lock(&w->lend_mu);
    int keep = w->n_free < PR__SHADOW_ARENAS_KEEP;
    if (keep) {
        b->next = w->free;
        w->free = b;
        w->n_free++;
    } else {
        w->boxes--;
    }
    pthread_mutex_unlock(&w->lend_mu);
    if (!keep) box_free(b); /* a burst is over: its memory goes */
}

static pr__worker *worker_get(pr_server *s, pr_err *err) {
    if (tls_server == s && tls_worker) return tls_worker;
    pr__worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    pthread_mutex_init(&w->lend_mu, NULL);
    w->cur = box_new(w);
    w->boxes = 1;
    if (!w->cur || pr_fs_open(s->store_spec, NULL, &w->fs_cold, err) != PR_OK) {
        box_free(w->cur);
        pthread_mutex_destroy(&w->lend_mu);
        free(w);
        return NULL;
    }
    w->arena = &w->cur->arena;
    w->last_connect = -1e9;
    worker_connect(s, w);
    pthread_mutex_lock(&s->workers_mu);
    w->next = s->workers;
    s->workers = w;
    pthread_mutex_unlock(&s->workers_mu);
    tls_worker = w;
    tls_server = s;
    return w;
}

/* Hands the request answered last on w to the shadow: its arena goes
 * with it, and w takes another (none to spare: not shadowed). */
static void shadow_flush(pr_server *s, pr__worker *w) {
    if (!w->sh_pending) return;
    uint64_t t0 = pr__mono_ns();
    w->sh_pending = 0;
    pr__arena_box *next = box_take(w);
    if (pr__shadow_submit(s, next ? w->cur : NULL, w->sh_rows, w->sh_n, w->sh_ranked, w->sh_ts,
                          w->sh_has_rec ? &w->sh_rec : NULL)) {
        w->cur = next;
        w->arena = &next->arena;
    } else if (next) {
        pr__arena_box_return(next);
    }
    pr__tb_free(&w->sh_rec); /* taken or queued: empty by now */
    memset(&w->sh_rec, 0, sizeof w->sh_rec);
    pr__metrics_add(&s->shadow->handoff_ns, pr__mono_ns() - t0);
}

void pr__predict_completed(pr_server *s) {
    if (tls_server == s && tls_worker) shadow_flush(s, tls_worker);
}

void pr__workers_flush_shadow(pr_server *s) {
    pthread_mutex_lock(&s->workers_mu);
    for (pr__worker *w = s->workers; w; w = w->next) shadow_flush(s, w);
    pthread_mutex_unlock(&s->workers_mu);
}

void pr__workers_free(pr_server *s) {
    pthread_mutex_lock(&s->workers_mu);
    pr__worker *w = s->workers;
    s->workers = NULL;
    pthread_mutex_unlock(&s->workers_mu);
    while (w) {
        pr__worker *next = w->next;
        pr_fs_free(w->fs);
        pr_fs_free(w->fs_cold);
        pr_store_close(w->own_store);
        pr__tb_free(&w->sh_rec);
        pr__monitor_worker_free(w->mon);
        box_free(w->cur);
        while (w->free) { /* the shadow gave every lent arena back (stopped first) */
            pr__arena_box *b = w->free;
            w->free = b->next;
            box_free(b);
        }
        pthread_mutex_destroy(&w->lend_mu);
        free(w);
        w = next;
    }
}

void pr__workers_store_stats(pr_server *s, pr_store_stats *sum) {
    pthread_mutex_lock(&s->workers_mu);
    for (pr__worker *w = s->workers; w; w = w->next) {
        if (!w->own_store) continue;
        pr_store_stats c;
        pr_store_stats_get(w->own_store, &c);
        sum->gets += c.gets;
        sum->hits += c.hits;
        sum->puts += c.puts;
        sum->failures += c.failures;
        sum->reconnects += c.reconnects;
    }
    pthread_mutex_unlock(&s->workers_mu);
}

typedef pr__scored scored;

/* The request as pr__rank_run takes it (q's texts borrowed). */
static pr_rank_request rank_request(const pr__predict_req *q, int64_t ts_ms) {
    pr_rank_request r;
    pr_rank_request_default(&r);
    r.request = q->base;
    r.n_candidates = q->n;
    r.cand_cols = q->cand_cols;
    r.n_cand_cols = q->n_cand_cols;
    r.cand = q->cand;
    r.ts_ms = ts_ms;
    r.top_k = q->top_k;
    return r;
}

/* "KEY":ID, the candidate's key as it was sent (number or string). */
static void put_cand_key(pr__tb *out, const char *key, const pr_json_value *id) {
    pr__tb_json_str(out, key, strlen(key));
    pr__tb_put(out, ":", 1);
    if (id->kind == PR_JSON_NUMBER) pr__tb_put(out, id->text.ptr, id->text.len);
    else pr__tb_json_str(out, id->text.ptr, id->text.len);
}

static void put_ranked(pr__tb *out, const char *key, const pr__predict_req *q,
                       const scored *ranked, uint32_t k) {
    pr__tb_puts(out, "\"predictions\":[");
    for (uint32_t r = 0; r < k; r++) {
        pr__tb_puts(out, r ? ",{" : "{");
        put_cand_key(out, key, &q->ids[ranked[r].candidate]);
        pr__tb_puts(out, ",\"p\":");
        pr__tb_prob(out, ranked[r].p);
        pr__tb_put(out, "}", 1);
    }
    pr__tb_puts(out, "]");
}

/* "arm":"…","registry_version":"…", with a registry. */
static void put_arm(const pr_server *s, const pr__arm *a, const pr__model_ref *m, pr__tb *out) {
    if (!s->reg) return;
    pr__tb_puts(out, "\"arm\":");
    pr__tb_json_str(out, a->alias, strlen(a->alias));
    pr__tb_puts(out, ",\"registry_version\":");
    pr__tb_json_str(out, m->reg_version, strlen(m->reg_version));
    pr__tb_put(out, ",", 1);
}

static void write_reply(pr_server *s, const pr__arm *a, const pr__model_ref *m,
                        const pr__predict_req *q, const scored *ranked, int degraded, uint64_t t0,
                        pr__tb *out) {
    const char *key = s->req.names[s->req.cand_col];
    uint32_t k = q->top_k ? q->top_k : q->n;
    pr__tb_puts(out, "{\"request_id\":");
    if (q->request_id_is_num) pr__tb_put(out, q->request_id.ptr, q->request_id.len);
    else pr__tb_json_str(out, q->request_id.ptr, q->request_id.len);
    pr__tb_puts(out, ",\"model_version\":\"");
    pr__tb_puts(out, m->version);
    pr__tb_puts(out, "\",");
    put_arm(s, a, m, out);
    put_ranked(out, key, q, ranked, k);
    if (degraded) pr__tb_puts(out, ",\"degraded\":true");
    pr__tb_printf(out, ",\"took_us\":%llu}\n", (unsigned long long)((now_ns() - t0) / 1000));
}

/* The head every record of a request shares: {"request_id":"…","ts":…,
 * "model_version":"…", and with a registry "arm":"…","registry_version":"…",
 * (docs/log.md). */
static void record_head(const pr_server *s, pr__tb *b, const pr__predict_req *q, int64_t ts,
                        const pr__arm *a, const pr__model_ref *m) {
    pr__tb_puts(b, "{\"request_id\":");
    pr__tb_json_str(b, q->request_id.ptr, q->request_id.len);
    pr__tb_printf(b, ",\"ts\":%lld,\"model_version\":\"%s\",", (long long)ts, m->version);
    put_arm(s, a, m, b);
}

/* Hands b's bytes to the logger's queue (b is left empty). */
static void enqueue_tb(pr_server *s, uint32_t kind, int64_t ts, pr__tb *b) {
    if (b->over) {
        pr__tb_free(b);
        pr__elog_enqueue(s, kind, ts, NULL, 0); /* counted as dropped */
        return;
    }
    pr__elog_enqueue(s, kind, ts, b->p, b->len);
    memset(b, 0, sizeof *b);
}

/* The prediction record of an answered request, and with --log-features
 * (sampled by request_id) one features record per scored candidate: every
 * assembled column of the store's spec as pr_fs_row_text renders it, the
 * text build-dataset's CSV output holds. keep (may be NULL: the record is
 * queued): OUT the prediction record without its closing brace, for the
 * shadow to finish; 1 then, 0 if nothing is to be logged. */
static int log_request(pr_server *s, pr__worker *w, const pr__arm *a, const pr__model_ref *m,
                       const pr__predict_req *q, const scored *ranked, const pr_fs_row *rows,
                       int64_t ts, pr__tb *keep) {
    if (!pr__elog_up(&s->elog)) { /* down: drop without building */
        pr__elog_enqueue(s, PR__LREC_PREDICTION, ts, NULL, 0);
        return 0;
    }
    const char *key = s->req.names[s->req.cand_col];
    pr__tb b;
    pr__tb_init(&b, PR_LOG_PAYLOAD_MAX);
    record_head(s, &b, q, ts, a, m);
    pr__tb_puts(&b, "\"request\":{");
    for (uint32_t c = 0; c < s->req.n_req; c++) {
        if (c) pr__tb_put(&b, ",", 1);
        pr__tb_json_str(&b, s->req.names[c], strlen(s->req.names[c]));
        pr__tb_put(&b, ":", 1);
        if (q->base[c].len) pr__tb_json_str(&b, q->base[c].ptr, q->base[c].len);
        else pr__tb_puts(&b, "null");
    }
    pr__tb_puts(&b, "},");
    put_ranked(&b, key, q, ranked, q->n);
    if (keep) {
        *keep = b;
    } else {
        pr__tb_puts(&b, "}");
        enqueue_tb(s, PR__LREC_PREDICTION, ts, &b);
    }
    if (!pr__elog_sampled(s, q->request_id)) return keep != NULL;
    const pr_fs *fs = w->fs ? w->fs : w->fs_cold;
    for (uint32_t i = 0; i < q->n; i++) {
        pr__tb_init(&b, PR_LOG_PAYLOAD_MAX);
        record_head(s, &b, q, ts, a, m);
        put_cand_key(&b, key, &q->ids[i]);
        pr__tb_puts(&b, ",\"row\":{");
        for (uint32_t c = 0; c < s->n_cols; c++) {
            if (c) pr__tb_put(&b, ",", 1);
            pr__tb_json_str(&b, s->col_names[c], strlen(s->col_names[c]));
            pr__tb_put(&b, ":", 1);
            pr_bytes t = pr_fs_row_text(fs, &rows[i], c, w->arena);
            if (t.len) pr__tb_json_str(&b, t.ptr, t.len);
            else pr__tb_puts(&b, "null");
        }
        pr__tb_puts(&b, "}}");
        enqueue_tb(s, PR__LREC_FEATURES, ts, &b);
    }
    return keep != NULL;
}

const char *pr__handle_predict(pr_server *s, const char *body, size_t len, unsigned *status,
                               pr__tb *out) {
    static const char *json = "application/json";
    pr_err err;
    pr_err_clear(&err);
    uint64_t t[PR__STAGE_COUNT + 1];
    t[0] = now_ns();
    pr__worker *w = worker_get(s, &err);
    if (!w) {
        *status = 500;
        pr__json_error(out, err.msg[0] ? err.msg : "out of memory");
        return json;
    }
    pr__arm *a = NULL;
    pr__model_ref *m = NULL;
    shadow_flush(s, w); /* the previous answer, before its arena is rewound */
    pr_arena_reset(w->arena);
    if (s->shadow) {
        /* the rows point into the body: a copy in the arena, which the
         * shadow may take (the body is freed with the request) */
        uint64_t t0 = pr__mono_ns();
        char *copy = pr_arena_alloc(w->arena, len + 1);
        if (!copy) {
            *status = 500;
            pr__json_error(out, "out of memory");
            return json;
        }
        memcpy(copy, body, len);
        copy[len] = '\0';
        body = copy;
        pr__metrics_add(&s->shadow->handoff_ns, pr__mono_ns() - t0);
    }
    pr__predict_req q;
    pr_status rc = pr__predict_parse(&s->req, body, len, s->o.max_candidates, w->arena, &q, &err);
    if (rc != PR_OK) {
        *status = rc == PR_ERR_NOMEM ? 500 : 400;
        goto fail;
    }
    if (!q.request_id.len) {
        char *id = pr_arena_alloc(w->arena, 48);
        if (!id) {
            rc = pr_err_set(&err, PR_ERR_NOMEM, "out of memory");
            *status = 500;
            goto fail;
        }
        q.request_id = pr_bytes_of(id, pr__elog_request_id(s, id, 48));
    }
    /* The arm (split.c), then its model: a request stays on the snapshot
     * it took, whatever reloads happen meanwhile. */
    a = &s->arms[pr__split_choose(s, &q)];
    pr__metrics_add(&a->requests, 1);
    m = pr__holder_acquire(&a->holder);
    t[1] = now_ns();
    /* lookup, featurize, score, sort: pr_rank's code (rank_core.c); the
     * mem: store's rows are only borrowed until the next put, hence the
     * state lock (serve_int.h) */
    int64_t ts = q.has_ts ? q.ts_ms : pr__now_ms();
    pr_rank_request rq = rank_request(&q, ts);
    worker_connect(s, w);
    pr__rank_src src = {w->fs, w->fs_cold, s->is_mem ? &s->state_lock : NULL};
    pr__rank_out ro;
    rc = pr__rank_run(m->model, m->fz, &src, &rq, w->arena, &ro, &err);
    if (rc != PR_OK) {
        *status = 500;
        goto fail;
    }
    if (ro.store_failed) pr__metrics_add(&s->metrics.store_errors, 1);
    int degraded = ro.store_failed || pr__store_empty(s); /* wiped: cold starts */
    const pr_fs_row *rows = ro.rows;
    scored *ranked = ro.ranked;
    t[2] = ro.t_lookup;
    t[3] = ro.t_featurize;
    t[4] = ro.t_score; /* the sort is counted in serialize, as it always was */
    write_reply(s, a, m, &q, ranked, degraded, t[0], out);
    t[5] = now_ns();
    if (out->over) {
        *status = 500;
        pr__json_error(out, "the reply is larger than the server's limit");
        pr__metrics_add(&a->errors, 1);
    } else {
        *status = 200;
        for (int k = 0; k < PR__STAGE_COUNT; k++)
            pr__metrics_add(&s->metrics.stage_ns[k], t[k + 1] - t[k]);
        pr__metrics_add(&s->metrics.candidates, q.n);
        if (degraded) pr__metrics_add(&s->metrics.degraded, 1);
        pr__arm_observe(a, t[5] - t[0], ranked, q.n);
        if (pr__quality_on(s)) pr__quality_predicted(s, a, m, &q, ranked, ts);
        pr__monitor_observe(s, w, a, m, &q, rows, ranked, ts, t[5] - t[0]);
        /* The answer is complete: what follows only queues work for other
         * threads (the logger; the shadow, once the answer is sent). */
        pr__tb rec;
        memset(&rec, 0, sizeof rec);
        int kept = pr__elog_on(&s->elog) &&
                   log_request(s, w, a, m, &q, ranked, rows, ts, s->shadow ? &rec : NULL);
        if (s->shadow) {
            w->sh_pending = 1;
            w->sh_rows = rows;
            w->sh_ranked = ranked;
            w->sh_n = q.n;
            w->sh_ts = ts;
            w->sh_has_rec = kept;
            w->sh_rec = rec;
        }
    }
    pr__model_ref_release(m);
    return json;
fail:
    if (a) pr__metrics_add(&a->errors, 1);
    pr__json_error(out, err.msg[0] ? err.msg : pr_status_str(rc));
    pr__model_ref_release(m);
    return json;
}
