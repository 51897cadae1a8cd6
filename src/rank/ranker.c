/*
 * ranker.c: pr_ranker, pr_rank_session and pr_rank (pronto/rank.h).
 *
 * A ranker is what the server builds at start, for one model and no HTTP:
 * the store's spec (given, or the model's own) compiled into a plan over
 * no state (plan_fs: the assembled column names and the request columns,
 * which are the first n_req of them), the store, and the model bound to
 * the plan's columns by pr__rank_bind_model (rank_core.c), the server's
 * own check. Everything in it is immutable after open.
 *
 * A session is a server worker without the HTTP: a pr_fs over the store
 * (a redis: URI gets the session's own connection, as each server thread
 * has), an empty in-process pr_fs for cold answers, one arena rewound per
 * request. pr_rank checks the request, then runs pr__rank_run.
 *
 * Ownership: the ranker owns model, specs, featurizer, plan and the store
 * it opened (not a store passed in opts.store); a session owns its pr_fs,
 * its connection and its arena, and borrows the ranker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rank/rank_int.h"

struct pr_ranker {
    pr_model *model;
    pr_spec *spec;             /* the model's embedded spec */
    pr_featurizer *fz;         /* bound to plan_fs's columns */
    pr_spec *store_spec;
    pr_fs *plan_fs;            /* store_spec over no state: names */
    const char **col_names;    /* plan_fs's columns (names borrowed) */
    uint32_t n_cols, n_req;
    pr_store *store;           /* NULL: no store */
    int own_store;             /* 1: opened here, closed at close */
    char *redis_uri;           /* redis: each session opens its own */
    char version[17];
    const char *kind;
};

struct pr_rank_session {
    pr_ranker *r;
    pr_store *own_store;       /* redis: this session's connection */
    pr_fs *fs;                 /* over the store; NULL: not (yet) connected */
    pr_fs *fs_cold;
    double last_connect;
    pr_arena arena;
    pr__rank_out out;
};

void pr_ranker_opts_default(pr_ranker_opts *o) { memset(o, 0, sizeof *o); }

void pr_rank_request_default(pr_rank_request *q) {
    memset(q, 0, sizeof *q);
    q->ts_ms = PR_RANK_NOW;
}

void pr_ranker_close(pr_ranker *r) {
    if (!r) return;
    pr_featurizer_free(r->fz);
    pr_spec_free(r->spec);
    pr_model_free(r->model);
    free(r->col_names);
    pr_fs_free(r->plan_fs);
    pr_spec_free(r->store_spec);
    if (r->own_store) pr_store_close(r->store);
    free(r->redis_uri);
    free(r);
}

static pr_status load_model(pr_ranker *r, const char *path, uint64_t max_bytes, pr_err *err) {
    char *buf = NULL;
    size_t len = 0;
    pr_status s = pr_read_regular_file(path, max_bytes ? max_bytes : UINT64_MAX, &buf, &len,
                                       NULL, err);
    if (s != PR_OK) return s;
    snprintf(r->version, sizeof r->version, "%016llx",
             (unsigned long long)pr_hash64(buf, len, 0));
    s = pr_model_load_mem(buf, len, path, &r->model, err);
    free(buf);
    if (s == PR_OK) r->kind = pr_model_kind_name(pr_model_params_get(r->model)->kind);
    return s;
}

/* The store's spec and its plan: the column names the model binds to. */
static pr_status prepare_plan(pr_ranker *r, const char *path, const pr_ranker_opts *o,
                              pr_err *err) {
    pr_status s;
    if (o->spec_path) {
        s = pr_spec_load(o->spec_path, &r->store_spec, err);
    } else {
        const char *y = pr_model_spec(r->model);
        if (!y) return pr_err_set(err, PR_ERR_FORMAT, "%s: model has no embedded feature spec", path);
        s = pr_spec_parse(y, strlen(y), path, &r->store_spec, err);
    }
    if (s == PR_OK) s = pr_fs_open(r->store_spec, NULL, &r->plan_fs, err);
    if (s != PR_OK) return s;
    r->n_cols = pr_fs_n_columns(r->plan_fs);
    r->n_req = pr_fs_n_request_columns(r->plan_fs);
    r->col_names = calloc(r->n_cols ? r->n_cols : 1, sizeof *r->col_names);
    if (!r->col_names) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    for (uint32_t c = 0; c < r->n_cols; c++) r->col_names[c] = pr_fs_column_name(r->plan_fs, c);
    return PR_OK;
}

static pr_status open_store(pr_ranker *r, const pr_ranker_opts *o, pr_err *err) {
    if (o->store) {
        r->store = o->store;
    } else if (o->store_uri) {
        pr_status s = pr_store_open(o->store_uri, &r->store, err);
        if (s != PR_OK) return s;
        r->own_store = 1;
        if (!strcmp(pr_store_backend(r->store), "redis") && !(r->redis_uri = strdup(o->store_uri)))
            return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    if (o->data_dir) {
        if (!r->store)
            return pr_err_set(err, PR_ERR_INVALID, "materializing %s needs a store", o->data_dir);
        pr_fs_build_opts bo;
        pr_fs_build_stats bs;
        memset(&bo, 0, sizeof bo);
        bo.data_dir = o->data_dir;
        bo.store = r->store;
        return pr_fs_build(r->store_spec, &bo, &bs, err);
    }
    return PR_OK;
}

pr_status pr_ranker_open(const char *path, const pr_ranker_opts *o, pr_ranker **out,
                         pr_err *err) {
    pr_ranker_opts defaults;
    if (!o) {
        pr_ranker_opts_default(&defaults);
        o = &defaults;
    }
    if (!path || !out)
        return pr_err_set(err, PR_ERR_INVALID, "pr_ranker_open: %s is NULL", !path ? "path" : "out");
    if (o->store && o->store_uri)
        return pr_err_set(err, PR_ERR_INVALID,
                          "pr_ranker_open: a store and a store URI (%s) are given: one of them",
                          o->store_uri);
    pr_ranker *r = calloc(1, sizeof *r);
    if (!r) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    pr_status s = load_model(r, path, o->max_model_bytes, err);
    if (s == PR_OK) s = prepare_plan(r, path, o, err);
    if (s == PR_OK)
        s = pr__rank_bind_model(r->model, path, r->col_names, r->n_cols, r->plan_fs, &r->spec,
                                &r->fz, err);
    if (s == PR_OK) s = open_store(r, o, err);
    if (s != PR_OK) {
        pr_ranker_close(r);
        return s;
    }
    *out = r;
    return PR_OK;
}

uint32_t pr_ranker_n_request_columns(const pr_ranker *r) { return r ? r->n_req : 0; }

const char *pr_ranker_request_column(const pr_ranker *r, uint32_t i) {
    return r && i < r->n_req ? r->col_names[i] : NULL;
}

uint32_t pr_ranker_request_column_index(const pr_ranker *r, const char *name) {
    if (!r || !name) return UINT32_MAX;
    for (uint32_t c = 0; c < r->n_req; c++)
        if (!strcmp(r->col_names[c], name)) return c;
    return UINT32_MAX;
}

const char *pr_ranker_kind(const pr_ranker *r) { return r ? r->kind : "unknown"; }

const char *pr_ranker_info(const pr_ranker *r) {
    const char *info = r ? pr_model_info(r->model) : NULL;
    return info ? info : "{}";
}

const char *pr_ranker_model_version(const pr_ranker *r) { return r ? r->version : ""; }

/* ---------------------------------------------------------------- sessions */

/* Opens the session's store-backed reader (redis: its own connection);
 * on failure the session answers cold and tries again a second later. */
static void session_connect(pr_rank_session *s) {
    pr_err err;
    pr_ranker *r = s->r;
    double t = pr_now();
    if (s->fs || !r->store || t - s->last_connect < 1.0) return;
    s->last_connect = t;
    pr_store *store = r->store;
    if (r->redis_uri) {
        if (!s->own_store && pr_store_open(r->redis_uri, &s->own_store, &err) != PR_OK) return;
        store = s->own_store;
    }
    if (pr_fs_open(r->store_spec, store, &s->fs, &err) != PR_OK) s->fs = NULL;
}

pr_status pr_rank_session_new(pr_ranker *r, pr_rank_session **out, pr_err *err) {
    if (!r || !out)
        return pr_err_set(err, PR_ERR_INVALID, "pr_rank_session_new: %s is NULL",
                          !r ? "the ranker" : "out");
    pr_rank_session *s = calloc(1, sizeof *s);
    if (!s) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    s->r = r;
    s->last_connect = -1e9;
    pr_arena_init(&s->arena, NULL, 0, 0);
    pr_status st = pr_fs_open(r->store_spec, NULL, &s->fs_cold, err);
    if (st != PR_OK) {
        pr_rank_session_free(s);
        return st;
    }
    session_connect(s);
    *out = s;
    return PR_OK;
}

void pr_rank_session_free(pr_rank_session *s) {
    if (!s) return;
    pr_fs_free(s->fs);
    pr_fs_free(s->fs_cold);
    pr_store_close(s->own_store);
    pr_arena_free(&s->arena);
    free(s);
}

static int64_t wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static pr_status check_request(const pr_ranker *r, const pr_rank_request *q, pr_err *err) {
    if (q->n_candidates < 1 || q->n_candidates > PR_RANK_CANDIDATES_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "pr_rank: %u candidates (1..%u)", q->n_candidates,
                          PR_RANK_CANDIDATES_MAX);
    if (r->n_req && !q->request)
        return pr_err_set(err, PR_ERR_INVALID,
                          "pr_rank: request is NULL (%u request column texts expected)", r->n_req);
    if (q->n_cand_cols && (!q->cand_cols || !q->cand))
        return pr_err_set(err, PR_ERR_INVALID, "pr_rank: %u candidate columns but %s is NULL",
                          q->n_cand_cols, !q->cand_cols ? "cand_cols" : "cand");
    if (q->n_cand_cols > r->n_req)
        return pr_err_set(err, PR_ERR_INVALID, "pr_rank: %u candidate columns, the spec has %u "
                          "request columns", q->n_cand_cols, r->n_req);
    for (uint32_t j = 0; j < q->n_cand_cols; j++)
        if (q->cand_cols[j] >= r->n_req)
            return pr_err_set(err, PR_ERR_INVALID,
                              "pr_rank: cand_cols[%u] = %u is not a request column (0..%u)", j,
                              q->cand_cols[j], r->n_req ? r->n_req - 1 : 0);
    return PR_OK;
}

pr_status pr_rank(pr_rank_session *s, const pr_rank_request *q, pr_rank_result *res,
                  pr_err *err) {
    if (!s || !q || !res)
        return pr_err_set(err, PR_ERR_INVALID, "pr_rank: %s is NULL",
                          !s ? "the session" : !q ? "the request" : "the result");
    pr_ranker *r = s->r;
    pr_status st = check_request(r, q, err);
    if (st != PR_OK) return st;
    /* The shared texts with no request columns: pr_fs_assemble reads none. */
    static const pr_bytes none[1];
    pr_rank_request rq = *q;
    if (!rq.request) rq.request = none;
    if (rq.ts_ms == PR_RANK_NOW) rq.ts_ms = wall_ms();
    pr_arena_reset(&s->arena);
    session_connect(s);
    pr__rank_src src = {s->fs, s->fs_cold, NULL};
    st = pr__rank_run(r->model, r->fz, &src, &rq, &s->arena, &s->out, err);
    if (st != PR_OK) return st;
    const pr__rank_out *o = &s->out;
    memset(res, 0, sizeof *res);
    res->items = o->ranked;
    res->n_candidates = rq.n_candidates;
    res->n_items = rq.top_k && rq.top_k < rq.n_candidates ? rq.top_k : rq.n_candidates;
    res->degraded = o->store_failed && r->store != NULL;
    res->ts_ms = rq.ts_ms;
    res->lookup_ns = o->t_lookup - o->t_start;
    res->featurize_ns = o->t_featurize - o->t_lookup;
    res->score_ns = o->t_score - o->t_featurize;
    res->sort_ns = o->t_sort - o->t_score;
    return PR_OK;
}
