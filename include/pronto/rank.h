/*
 * pronto/rank.h: a whole ranking request in process -- what
 * `POST /v1/predict` does, without HTTP: the feature store assembles every
 * candidate as of the request's time, the model's own featurizer and
 * rare-feature filter turn the rows into examples, the model scores them,
 * and the candidates come back sorted by p, cut to top_k. The server's
 * handler calls the same code (src/rank/rank_core.c) between parsing the
 * JSON and writing it, so an in-process answer equals the server's.
 *
 *     pr_err err;
 *     pr_ranker_opts o;
 *     pr_ranker_opts_default(&o);
 *     o.store_uri = "lmdb:/var/lib/pronto/store";    // `pronto materialize`d
 *     pr_ranker *r;                                   // shared by threads
 *     if (pr_ranker_open("ctr.pm", &o, &r, &err) != PR_OK) die(err.msg);
 *     pr_rank_session *sn;                            // one per thread
 *     if (pr_rank_session_new(r, &sn, &err) != PR_OK) die(err.msg);
 *
 *     // request columns (the spec's request section), by index:
 *     uint32_t user = pr_ranker_request_column_index(r, "user_id");
 *     uint32_t ad = pr_ranker_request_column_index(r, "ad_id");
 *     pr_bytes shared[16] = {0};                      // n_request_columns
 *     shared[user] = pr_bytes_of("u42", 3);
 *     pr_bytes ads[] = {{"7", 1}, {"9", 1}, {"12", 2}};
 *
 *     pr_rank_request q;
 *     pr_rank_request_default(&q);
 *     q.request = shared;
 *     q.cand_cols = &ad; q.n_cand_cols = 1;           // ad_id varies
 *     q.cand = ads; q.n_candidates = 3;
 *     q.top_k = 2;
 *     pr_rank_result res;
 *     if (pr_rank(sn, &q, &res, &err) != PR_OK) die(err.msg);
 *     for (uint32_t k = 0; k < res.n_items; k++)
 *         printf("%.*s %.4f\n", (int)ads[res.items[k].candidate].len,
 *                ads[res.items[k].candidate].ptr, res.items[k].p);
 *
 *     pr_rank_session_free(sn);                       // before the ranker
 *     pr_ranker_close(r);
 *
 * Objects, in the way lmdb has an environment and its transactions:
 *   pr_ranker        the model (loaded, verified, its featurizer bound to
 *                    the assembled columns of the store's spec and checked
 *                    against it), the store's plan and the store. Read-only
 *                    after open: share it between threads.
 *   pr_rank_session  one thread's working state: its feature-store reader
 *                    (a Redis store: its own connection), the memory of its
 *                    requests (one arena, rewound per request: no malloc in
 *                    the steady state) and its last result. Use a session
 *                    from one thread at a time; open as many as threads.
 *
 * Lifetimes: open/new give an object on success and nothing to clean up
 * on failure; close/free accept NULL. Sessions must be freed before their
 * ranker. A result is borrowed from its session until the session's next
 * pr_rank or its free.
 *
 * Store failures: when the store cannot be read (Redis down; the session
 * reconnects by itself, at most once a second), the request is answered as
 * if every entity were unknown (attributes missing, aggregates at their
 * defaults) and marked degraded, as the server does.
 */
#ifndef PRONTO_RANK_H
#define PRONTO_RANK_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"
#include "pronto/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pr_ranker pr_ranker;
typedef struct pr_rank_session pr_rank_session;

/* Every pointer is borrowed for pr_ranker_open only, except store. */
typedef struct pr_ranker_opts {
    const char *store_uri;   /* the online store the rows come from: mem:,
                                lmdb:DIR, redis:HOST:PORT (store.h); NULL and
                                store NULL: no store, every entity unknown */
    pr_store *store;         /* instead of store_uri: a store the caller
                                opened (borrowed: it must outlive the ranker;
                                its thread rules are store.h's: a redis:
                                handle serves one session at a time, and a
                                mem: store written while sessions rank must
                                not be) */
    const char *spec_path;   /* the store's spec (its request, entities,
                                sources and aggregates: what materialized the
                                store); NULL: the model's embedded spec */
    const char *data_dir;    /* NULL, or: materialize this folder's tables
                                and events (the spec's sources) into the
                                store at open, as `pronto serve --data` */
    uint64_t max_model_bytes;/* refuse a model file larger than this (0: no
                                limit) */
} pr_ranker_opts;

/* Zeros: no store, the model's spec, no materializing, no size limit. */
void pr_ranker_opts_default(pr_ranker_opts *o);

/* Loads the model at path and prepares it for the store's spec.
 *   out: OUT: owned by caller, close with pr_ranker_close. Untouched on
 *        error.
 * Errors (each naming the file): those of pr_model_load (PR_ERR_IO,
 * PR_ERR_VERSION for a newer format, PR_ERR_FORMAT, ...); PR_ERR_FORMAT
 * (no embedded spec); PR_ERR_SPEC (a spec without a request section, a
 * column the model reads that the store's spec lacks or defines otherwise:
 * "the store cannot satisfy the model's spec: ..."); PR_ERR_LIMIT (over
 * max_model_bytes); PR_ERR_IO from the store (opening, materializing);
 * PR_ERR_INVALID (path or out NULL, both store_uri and store). */
pr_status pr_ranker_open(const char *path, const pr_ranker_opts *o, pr_ranker **out,
                         pr_err *err);
/* NULL ok. Every session of r must have been freed. */
void pr_ranker_close(pr_ranker *r);

/* The request columns of the store's spec (its request section), in the
 * order pr_rank_request.request gives their texts. Names borrowed from r,
 * valid until close; NULL past the end. */
uint32_t pr_ranker_n_request_columns(const pr_ranker *r);
const char *pr_ranker_request_column(const pr_ranker *r, uint32_t i);
/* The index of a request column by name; UINT32_MAX if there is none. */
uint32_t pr_ranker_request_column_index(const pr_ranker *r, const char *name);
/* The model's kind ("lr", "ffm", "fm") and info JSON ("{}" if none); the
 * version is the xxh3-64 of the model file's bytes in hex, the server's
 * "model_version". Borrowed, valid until close. */
const char *pr_ranker_kind(const pr_ranker *r);
const char *pr_ranker_info(const pr_ranker *r);
const char *pr_ranker_model_version(const pr_ranker *r);

/* A session of r for one thread (r borrowed: it must outlive the session).
 * With a redis: store_uri the session opens its own connection; if Redis
 * is down it still opens, and answers degraded until it reconnects.
 *   out: OUT: owned by caller, free with pr_rank_session_free. */
pr_status pr_rank_session_new(pr_ranker *r, pr_rank_session **out, pr_err *err);
/* NULL ok. */
void pr_rank_session_free(pr_rank_session *s);

/* pr_rank_request.ts_ms for "the wall clock at the call". */
#define PR_RANK_NOW INT64_MIN
/* Most candidates in one request (one batch get per entity). */
#define PR_RANK_CANDIDATES_MAX PR_STORE_BATCH_MAX

/* One request. Every pointer is borrowed for the pr_rank call only. */
typedef struct pr_rank_request {
    const pr_bytes *request;   /* pr_ranker_n_request_columns texts shared by
                                  every candidate, in that order (len 0:
                                  missing) */
    uint32_t n_candidates;     /* 1..PR_RANK_CANDIDATES_MAX */
    const uint32_t *cand_cols; /* the request columns each candidate sets
                                  (request-column indexes, e.g. the ad's
                                  id), n_cand_cols of them; a candidate's
                                  text replaces the shared one */
    uint32_t n_cand_cols;
    const pr_bytes *cand;      /* n_candidates * n_cand_cols texts,
                                  candidate-major: candidate i's value of
                                  column cand_cols[j] is cand[i *
                                  n_cand_cols + j] (len 0: missing) */
    int64_t ts_ms;             /* rank as of this time (Unix ms): windows,
                                  expiry and time-of-day columns; default
                                  PR_RANK_NOW */
    uint32_t top_k;            /* items returned; 0 (default): all */
} pr_rank_request;

/* Zeros, ts_ms = PR_RANK_NOW. */
void pr_rank_request_default(pr_rank_request *q);

/* A scored candidate. */
typedef struct pr_rank_item {
    double p;                  /* the model's calibrated probability */
    uint32_t candidate;        /* its index in the request */
} pr_rank_item;

typedef struct pr_rank_result {
    const pr_rank_item *items; /* the ranking: p descending, equal p in
                                  request order. Borrowed from the session
                                  until its next pr_rank or free */
    uint32_t n_items;          /* min(top_k, candidates); items[n_items ..
                                  n_candidates) hold the rest of the ranking */
    uint32_t n_candidates;
    int degraded;              /* 1: the store could not be read; every
                                  entity was taken as unknown */
    int64_t ts_ms;             /* the time ranked as of */
    /* Where the time went, nanoseconds: assembling the rows from the
     * store, featurizing (with the filter), scoring, sorting. */
    uint64_t lookup_ns, featurize_ns, score_ns, sort_ns;
} pr_rank_result;

/* Ranks one request on session s.
 *   res: OUT: the ranking (borrowed from s, see pr_rank_result).
 * Errors: PR_ERR_INVALID (NULL s/q/res, no candidates or more than
 * PR_RANK_CANDIDATES_MAX, NULL texts, a cand_cols index out of range),
 * PR_ERR_PARSE (a value the model cannot read, naming the candidate and
 * field: "request:3: field 'price': expected a number, got 'x'"; the
 * candidate is counted from 1), PR_ERR_NOMEM. A store that fails is no
 * error (degraded, above). */
pr_status pr_rank(pr_rank_session *s, const pr_rank_request *q, pr_rank_result *res,
                  pr_err *err);

#ifdef __cplusplus
}
#endif
#endif
