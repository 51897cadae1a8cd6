/*
 * serve_int.h: what the server's files share and nothing else sees.
 *
 *   server.c       pr_server: options, start, reload, shutdown, free
 *   http.c         libmicrohttpd glue: routing, bodies, caps, auth, replies
 *   guard.c        per-connection deadlines (reaper thread), the health
 *                  reserve, the global budget of request-body memory
 *   model_ref.c    loaded model snapshots and the hot-swap holder
 *   predict_req.c  POST /v1/predict body -> pr__predict_req
 *   predict.c      worker threads' state and the predict pipeline
 *   events.c       POST /v1/events: parse, drop duplicates, apply
 *   metrics.c      counters, histograms, the Prometheus text
 *   textbuf.c      a bounded growable text buffer with JSON escaping
 *   ticker.c       a thread running one function every period (reaper,
 *                  sentinel, registry follower)
 *   jobs.c         slow work (events, reloads) on queues and threads of
 *                  its own, off the HTTP threads
 *   sentinel.c     the checker thread that reads the store's materialize
 *                  sentinel once a second (a wiped store: degraded, not ready)
 *   follow.c       --model registry:DIR@ALIAS: the ticker that watches the
 *                  alias files (one per arm) and queues a reload when one
 *                  moves
 *   split.c        --split: its text, and the arm of a request
 *   arm.c          per-arm metrics
 *   shadow.c       --shadow: the thread that scores answered requests with
 *                  the shadow alias's model, off the request path
 *   retrain.c      POST /admin/retrain: a retrain request in the registry
 *   evlog.c        --log: accepted events appended before their 200, the
 *                  prediction logger thread, reopen with backoff, the
 *                  duplicate-id seed read from the log's tail
 *   quality.c      --quality: live quality from outcomes on its own thread
 *                  (pronto/quality.h), fed through a bounded queue
 *   monitor.c      live profiles per worker (no lock), event-time windows,
 *                  drift and alerts on the monitor thread (monitor_int.h)
 *   monitor_out.c  GET /v1/monitor and the monitor's /metrics lines
 *
 * Locks, in the order they may be taken:
 *   jobq.mu     a job queue's state, never held across a job's run or a
 *               libmicrohttpd call;
 *   reload_mu   serializes reloads (load + verify + swap);
 *   ingest_mu   serializes event ingestion (one writer to the store) and
 *               the event log's reopen;
 *   elog.lk     (rwlock) appends to the event log hold it shared, a reopen
 *               (which swaps the handle) exclusive;
 *   elog.mu     the log's error text and backoff; elog.qmu the prediction
 *               queue: each taken alone, for a few instructions;
 *   state_lock  (rwlock preferring readers, mem: store only) readers
 *               hold it across one pr_fs_assemble, the ingester across one
 *               pr_fs_apply_event (so a reader waits for one event at most):
 *               a mem: row handed to a reader dies at the next put, so no
 *               put may run while a reader still reads rows. lmdb: readers
 *               have their own snapshots and redis: readers their own
 *               connections, so they skip it;
 *   shadowq.mu  the shadow's queue, for a few instructions;
 *   qual.qmu    the quality queue, for a few instructions; qual.mu the
 *               accumulator (its thread, a scrape): never both at once;
 *   mon.mu      the monitor's published figures (monitor.c), for copies;
 *               the monitor thread takes workers_mu, holder.mu, qual.mu
 *               and the alerts' own lock one at a time, never under mon.mu;
 *               the HTTP workers take none of them to record a request;
 *   holder.mu   (one per arm) guards the arm's current model pointer for a
 *               few instructions;
 *   workers_mu  the list of worker states;
 *   guard.mu    the connections' phases and deadlines (guard.c), taken with
 *               no other lock held; the reaper writes to a socket only
 *               under it.
 */
#ifndef PRONTO_SERVE_INT_H
#define PRONTO_SERVE_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/json_scan.h"
#include "pronto/feature.h"
#include "pronto/fstore.h"
#include "pronto/log.h"
#include "pronto/model.h"
#include "pronto/profile.h"
#include "pronto/quality.h"
#include "pronto/registry.h"
#include "pronto/serve.h"
#include "pronto/store.h"
#include "rank/rank_int.h"

/* ---------------------------------------------------------------- text */

/* A growable text buffer with a ceiling: appends past max set `over` and
 * are dropped, so a writer never needs to check each call. Owns its bytes
 * (free with pr__tb_free). */
typedef struct pr__tb {
    char *p;
    size_t len, cap, max;
    int over;   /* an append was dropped (ceiling or malloc) */
} pr__tb;

void pr__tb_init(pr__tb *b, size_t max);
void pr__tb_free(pr__tb *b);
void pr__tb_put(pr__tb *b, const char *s, size_t n);
void pr__tb_puts(pr__tb *b, const char *s);
void pr__tb_printf(pr__tb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quotes included, escaping what RFC 8259 requires. */
void pr__tb_json_str(pr__tb *b, const char *s, size_t n);
/* A double as the shortest %.17g-exact text ("0.0123", never "nan":
 * non-finite values are written as null). */
void pr__tb_json_num(pr__tb *b, double x);
/* A probability in [0, 1) as fixed point with 12 decimals, trailing zeros
 * dropped ("0.034626089949"): |written - p| <= 5e-13. Other values as
 * pr__tb_json_num. */
void pr__tb_prob(pr__tb *b, double p);

/* Walks the elements of a JSON array text "[ ... ]" that pr_json_scan
 * already validated: *pos starts at 0; each call returns 1 with the next
 * element's text in *elem, 0 at the end. */
int pr__json_array_next(pr_bytes arr, size_t *pos, pr_bytes *elem);

/* ---------------------------------------------------------------- models */

/* One loaded model: immutable once published, freed when refs drops to 0.
 * Its featurizer is bound to the columns the server assembles (the store
 * spec's), which is what makes a model "satisfiable by the store". */
typedef struct pr__model_ref {
    uint32_t refs;             /* atomic */
    pr_model *model;
    pr_spec *spec;             /* the model's embedded spec */
    pr_featurizer *fz;         /* bound to the assembled columns */
    uint64_t fingerprint;      /* pr_featurizer_fingerprint */
    char version[17];          /* xxh3 of the file's bytes, hex */
    const char *kind;          /* "lr", "ffm", "fm" (static) */
    int64_t loaded_at;         /* Unix seconds */
    double load_seconds;
    uint64_t generation;       /* 1, 2, ... per successful load */
    int64_t file_mtime_ns;     /* of the file as read, for polling */
    int64_t file_size;
    char reg_version[PR_REGISTRY_ID_MAX]; /* registry: the version id, else "" */
    struct pr__profile_ref *profile; /* the reference profile, NULL: the file has
                                  none (drift off for it) or it is bad */
    char profile_why[120];     /* profile NULL: why, for /v1/monitor */
} pr__model_ref;

/* A model's reference profile, counted apart from the model: the
 * monitor's live sets borrow it (monitor.c) and may outlive the snapshot,
 * without holding the model itself (a reload waits for the old model's
 * references to drop, and frees it on its own thread). */
typedef struct pr__profile_ref {
    uint32_t refs;             /* atomic */
    pr_profile *p;
} pr__profile_ref;
static inline void pr__profile_ref_retain(pr__profile_ref *r) {
    __atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
}
/* Frees it with its last reference. Accepts NULL. */
void pr__profile_ref_release(pr__profile_ref *r);

/* Reads, verifies and prepares the model at path; its featurizer binds to
 * the assembled columns names[0..n) of the store's plan store_plan (a
 * column it reads that the store spec lacks refuses the model, and so does
 * one the store's spec defines otherwise: pr_fs_check_model_spec), or
 * with names and store_plan NULL to the columns of its own spec. Only a
 * regular file of at most max_bytes is read (anything else is refused
 * before reading: pr_read_regular_file). *out has refs = 1. */
pr_status pr__model_ref_load(const char *path, const char *const *names, uint32_t n,
                             const pr_fs *store_plan, uint64_t generation, uint64_t max_bytes,
                             pr__model_ref **out,
                             pr_err *err);
void pr__model_ref_release(pr__model_ref *r);
/* The file's mtime (ns) and size, or -1s when it cannot be stat'ed. */
void pr__file_stamp(const char *path, int64_t *mtime_ns, int64_t *size);

typedef struct pr__holder {
    pthread_mutex_t mu;
    pr__model_ref *cur;
} pr__holder;

/* A reference to the current model (never NULL once the server started);
 * the caller releases it with pr__model_ref_release. */
pr__model_ref *pr__holder_acquire(pr__holder *h);
/* Publishes r (taking over the caller's reference) and drops the holder's
 * reference to the previous model. */
void pr__holder_swap(pr__holder *h, pr__model_ref *r);

/* ---------------------------------------------------------------- metrics */

typedef enum {
    PR__ROUTE_PREDICT, PR__ROUTE_EVENTS, PR__ROUTE_MODEL, PR__ROUTE_HEALTHZ,
    PR__ROUTE_READYZ, PR__ROUTE_METRICS, PR__ROUTE_RELOAD, PR__ROUTE_RETRAIN, PR__ROUTE_MONITOR,
    PR__ROUTE_DASHBOARD, PR__ROUTE_OTHER,
    PR__ROUTE_COUNT
} pr__route;

/* HTTP statuses counted by route (others fall in the last slot, "other"). */
#define PR__STATUS_CODES(X) \
    X(200) X(400) X(401) X(403) X(404) X(405) X(413) X(422) X(500) X(503) X(202) X(409)
enum { PR__N_CODES = 13 };

/* Latency histogram bucket bounds, microseconds (+Inf is implicit). */
#define PR__LAT_BUCKETS 14
extern const double pr__lat_bounds_us[PR__LAT_BUCKETS];

typedef enum {
    PR__STAGE_PARSE, PR__STAGE_LOOKUP, PR__STAGE_FEATURIZE, PR__STAGE_SCORE,
    PR__STAGE_SERIALIZE, PR__STAGE_COUNT
} pr__stage;

/* Every field is updated with relaxed atomic adds from any thread. */
typedef struct pr__metrics {
    uint64_t requests[PR__ROUTE_COUNT][PR__N_CODES];
    uint64_t lat_bucket[PR__ROUTE_COUNT][PR__LAT_BUCKETS + 1];
    uint64_t lat_sum_ns[PR__ROUTE_COUNT];
    uint64_t lat_count[PR__ROUTE_COUNT];
    uint64_t stage_ns[PR__STAGE_COUNT];
    uint64_t predictions;        /* predict requests answered 200 */
    uint64_t candidates;         /* candidates scored */
    uint64_t degraded;           /* answered with defaults: store failed */
    uint64_t store_errors;       /* failed assemblies (store calls) */
    uint64_t events_applied, events_duplicate, events_rejected, events_failed;
    uint64_t events_late;        /* applied, some aggregate dropped it as too old */
    uint64_t reloads_ok, reloads_refused;
    uint64_t overload_rejected;  /* fast 503s */
    uint64_t header_timeouts, body_timeouts, idle_timeouts; /* cut by the reaper */
    uint64_t body_budget_rejected; /* 503: --max-body-memory reached */
    uint64_t framing_rejected;   /* 400: ambiguous framing, no Host */
    int64_t connections_open;    /* gauge */
    int64_t body_bytes;          /* gauge: request-body bytes held */
    int64_t in_flight;           /* gauge: requests begun, not completed */
} pr__metrics;

void pr__metrics_request(pr__metrics *m, pr__route r, unsigned status, uint64_t ns);
static inline void pr__metrics_add(uint64_t *c, uint64_t v) {
    __atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}
/* The Prometheus text exposition of everything (server.c adds store and
 * model lines through the callbacks it owns). */
void pr__metrics_render(const pr_server *s, pr__tb *out);

/* ---------------------------------------------------------------- arms */

#define PR__SPLIT_BUCKETS 10000u
#define PR__SPLIT_SEED 0x70726f6e746f4142ull /* "prontoAB": never changes, or
                                                 every user changes arm */

/* One model served: an arm of the split, the only model, or the shadow.
 * Every counter is bumped with relaxed atomic adds; p sums are in units
 * of 1e-9 (PR__NANO). */
#define PR__NANO 1e9
typedef struct pr__arm {
    char alias[PR_REGISTRY_ID_MAX];   /* "" for a plain model file */
    char alias_path[PR_REGISTRY_PATH_MAX]; /* the alias file (registry) */
    uint32_t weight;                  /* 0: the only arm, or the shadow */
    uint32_t bound;                   /* its buckets end here (split.c) */
    pr__holder holder;
    int64_t seen_ino, seen_mtime_ns;  /* atomic: the alias file as last
                                         resolved by a reload (attempted) */
    uint64_t requests, errors;        /* predicts routed here, and not 200 */
    uint64_t lat_bucket[PR__LAT_BUCKETS + 1], lat_sum_ns, lat_count;
    uint64_t scores, score_sum;       /* candidates scored, sum of p (nano) */
    uint64_t diff_sum;                /* shadow: sum |p - the answer's p| (nano) */
    uint64_t dropped;                 /* shadow: not scored, queue full */
    uint64_t handoff_ns;              /* shadow: HTTP threads' time handing requests over */
} pr__arm;

/* Sets each arm's bound from the weights (split.c). */
void pr__split_bounds(pr__arm *arms, uint32_t n);
/* A key's bucket, 0..PR__SPLIT_BUCKETS-1. */
uint32_t pr__split_bucket(pr_bytes key);
struct pr__predict_req;
/* The arm of a parsed request (0 with one arm). */
uint32_t pr__split_choose(const pr_server *s, const struct pr__predict_req *q);
/* A scored candidate: its p and its index in the request (candidate),
 * as pr__rank_run ranks them. */
typedef pr_rank_item pr__scored;
/* Counts one request of arm a answered 200: its time, and the p it scored. */
void pr__arm_observe(pr__arm *a, uint64_t ns, const pr__scored *ranked, uint32_t n);
/* Counts one request the shadow scored: p[i] is its p of candidate i,
 * ranked the answer's (shadow.c, on the shadow thread). */
void pr__shadow_observe(pr__arm *a, uint64_t ns, const double *p, const pr__scored *ranked,
                        uint32_t n);
/* The arms' lines of /metrics (arm.c). */
void pr__arms_render(pr_server *s, pr__tb *out);

/* ---------------------------------------------------------------- shadow */

/* A request to score with the shadow: its rows copied (the worker's arena
 * is rewound by the next request), the answer's p, and its prediction
 * record without the closing brace (shadow.c). */
typedef struct pr__shadow_item pr__shadow_item;
typedef struct pr__arena_box pr__arena_box; /* predict.c */
typedef struct pr__shadowq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pr__shadow_item *head, *tail;
    size_t n;                  /* queued */
    size_t lent_bytes;         /* atomic: the queued requests' arena bytes */
    int stop, started, inited;
    pthread_t th;
    pr_arena arena;            /* the shadow thread's */
} pr__shadowq;

#define PR__SHADOW_QUEUE 4096              /* items queued at most */

/* Starts the shadow thread (nothing without --shadow). */
pr_status pr__shadow_start(pr_server *s, pr_err *err);
/* Scores what is queued, then stops the thread. Before the logger stops. */
void pr__shadow_stop(pr_server *s);
/* Queues one answered request (HTTP thread): box is the arena holding
 * it (everything rows[0..n) and ranked[0..n), the answer in rank order,
 * point to), rec (may be NULL: no log) the prediction record so far,
 * taken (left empty). Returns 1 when queued: box is the shadow's until it
 * gives it back (pr__arena_box_return). 0 when box is NULL (no arena to
 * spare) or the queue is full: counted as dropped, rec closed and queued
 * for the log without a shadow, box still the caller's. */
int pr__shadow_submit(pr_server *s, pr__arena_box *box, const pr_fs_row *rows, uint32_t n,
                      const pr__scored *ranked, int64_t ts, pr__tb *rec);
/* The shadow gives a lent arena back to its worker (any thread). */
void pr__arena_box_return(pr__arena_box *box);

/* ---------------------------------------------------------------- workers */

/* The request columns of the store spec, and the JSON keys compiled for
 * them (immutable after start; shared by all threads). */
typedef struct pr__request_plan {
    uint32_t n_req;
    const char *const *names;  /* borrowed from plan_fs */
    uint32_t cand_col;         /* the candidate key's request column */
    pr_json_keys *top_keys;    /* PR__TOP_* then the request columns */
    pr_json_keys *col_keys;    /* the request columns */
} pr__request_plan;

/* Top-level keys of a predict body: these first, then the request columns. */
enum { PR__TOP_CONTEXT, PR__TOP_CANDIDATES, PR__TOP_TOP_K, PR__TOP_TS, PR__TOP_REQUEST_ID,
       PR__TOP_N };

/* The longest request_id a client may send (bytes). */
#define PR__REQUEST_ID_MAX 128

/* A parsed predict body; every pointer is into the body or the arena. */
typedef struct pr__predict_req {
    const pr_bytes *base;      /* n_req texts shared by the candidates */
    uint32_t n;                /* candidates */
    uint32_t cand_cols[PR_JSON_KEYS_MAX], n_cand_cols; /* columns set per candidate */
    const pr_bytes *cand;      /* n * n_cand_cols, candidate-major */
    const pr_json_value *ids;  /* n: each candidate's key, echoed back */
    int64_t ts_ms;
    int has_ts;
    uint32_t top_k;            /* 0 = every candidate */
    pr_bytes request_id;       /* the client's (string's bytes or integer's
                                  digits), or {NULL, 0}: the server makes one */
    int request_id_is_num;     /* sent as a JSON integer */
} pr__predict_req;

/* Parses a predict body. Errors: PR_ERR_PARSE (malformed JSON, wrong
 * types, missing keys: the message names the key and what was expected),
 * PR_ERR_LIMIT (more than max_cand candidates), PR_ERR_NOMEM. */
pr_status pr__predict_parse(const pr__request_plan *rp, const char *body, size_t len,
                            uint32_t max_cand, pr_arena *a, pr__predict_req *out, pr_err *err);

/* Builds rp for the request columns names[0..n_req) (borrowed: they must
 * outlive rp); PR_ERR_SPEC if a column is named like a top-level key or
 * the candidate key is not a request column. */
pr_status pr__request_plan_init(pr__request_plan *rp, const char *const *names, uint32_t n_req,
                                const char *candidate_key, pr_err *err);
void pr__request_plan_free(pr__request_plan *rp);

/* An arena a worker can lend, with the request in it, to the shadow
 * thread, which gives it back when done (predict.c, shadow.c). */
struct pr__arena_box {
    struct pr__arena_box *next;   /* the owner's free list (lend_mu) */
    struct pr__worker *owner;
    pr_arena arena;
};
/* Arenas per worker: one in use, the others lent or free; a request
 * finding none to spare is not shadowed (counted as dropped). A worker
 * keeps at most PR__SHADOW_ARENAS_KEEP given back (more are freed), and
 * the arenas lent by all workers hold at most PR__SHADOW_LENT_BYTES of
 * requests. */
#define PR__SHADOW_ARENAS 64
#define PR__SHADOW_ARENAS_KEEP 8
#define PR__SHADOW_LENT_BYTES ((size_t)64 << 20)

/* One HTTP worker thread's state, created on its first predict request. */
typedef struct pr__worker {
    struct pr__worker *next;   /* the server's list (workers_mu) */
    pr_store *own_store;       /* redis: this thread's connection, else NULL */
    pr_fs *fs;                 /* assembly over the store (store spec) */
    pr_fs *fs_cold;            /* an empty in-process state: defaults for
                                  every candidate when the store fails */
    double last_connect;       /* pr_now() of the last attempt to open fs */
    pr_arena *arena;           /* the request's: &cur->arena */
    pr__arena_box *cur;        /* the arena in use (owned) */
    pthread_mutex_t lend_mu;   /* free, n_free, boxes */
    pr__arena_box *free;       /* arenas the shadow gave back */
    uint32_t n_free;
    uint32_t boxes;            /* arenas alive, at most PR__SHADOW_ARENAS */
    /* --shadow: the last answered request, handed to the shadow once its
     * answer is sent (pr__predict_completed) or at this worker's next
     * predict, whichever is first: its rows, answer and body copy are in
     * cur's arena, which goes with it (no copy) */
    int sh_pending;
    const pr_fs_row *sh_rows;
    const pr__scored *sh_ranked;
    uint32_t sh_n;
    int64_t sh_ts;
    int sh_has_rec;
    pr__tb sh_rec;             /* its prediction record, without the '}' */
    struct pr__mon_w *mon;     /* the live profiles (monitor.c); NULL: off */
} pr__worker;

/* The request just answered on this thread is complete (its reply sent,
 * libmicrohttpd's completion callback): its shadow work is queued now. */
void pr__predict_completed(pr_server *s);
/* Queues the shadow work every worker still holds (shutdown, after the
 * HTTP threads stopped). */
void pr__workers_flush_shadow(pr_server *s);

/* ---------------------------------------------------------------- events */

/* Remembers the last `cap` event ids (FIFO), for idempotent ingestion. */
typedef struct pr__idset {
    uint64_t *slots;           /* open addressing, 0 = empty, id + 1 stored */
    size_t mask;
    uint64_t *fifo;            /* ring of the ids in insertion order */
    size_t cap, head, count;
} pr__idset;

pr_status pr__idset_init(pr__idset *s, size_t cap, pr_err *err);
void pr__idset_free(pr__idset *s);
int pr__idset_has(const pr__idset *s, uint64_t id);
/* Adds id (absent), evicting the oldest when full. */
void pr__idset_add(pr__idset *s, uint64_t id);

typedef struct pr__ingest {
    pthread_mutex_t mu;
    pr_store *own_store;       /* redis: the ingester's connection */
    pr_fs *fs;                 /* over the store, with the store spec */
    pr_arena arena;            /* a batch's parsed events (reset per batch) */
    pr_arena apply_arena;      /* one event's update (reset per event) */
    pr__idset ids;
    int cancel;                /* atomic: shutdown, apply no more events */
    int64_t max_ahead_ms;      /* events taken between now - max_behind_ms */
    int64_t max_behind_ms;     /* and now + max_ahead_ms (server clock) */
} pr__ingest;

/* ---------------------------------------------------------------- guard */

/* The longest admin token accepted (compared over this many bytes). */
#define PR__TOKEN_MAX 256

enum { PR__CONN_HEAD, PR__CONN_BODY, PR__CONN_BUSY, PR__CONN_IDLE, PR__CONN_CUT, PR__CONN_DEAD };

/* One open connection (guard.c): MHD's socket context, from the
 * connection-start callback to the close callback. */
typedef struct pr__conn {
    struct pr__conn *prev, *next; /* guard list (guard.mu) */
    int fd;
    int reserve;                  /* opened past max_connections: health only */
    int phase;                    /* PR__CONN_* (guard.mu) */
    uint64_t deadline_ns;         /* monotonic (guard.mu) */
} pr__conn;

/* A thread running fn(s) every period_ms until stopped (ticker.c). A
 * zeroed ticker may be stopped. */
typedef struct pr__ticker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* waits on CLOCK_MONOTONIC */
    int stop, running, inited;    /* stop: under mu */
    long period_ms;
    void (*fn)(pr_server *s);
    pr_server *s;
} pr__ticker;

/* Starts t; what names the thread in the error. */
pr_status pr__ticker_start(pr__ticker *t, long period_ms, void (*fn)(pr_server *), pr_server *s,
                           const char *what, pr_err *err);
/* Wakes, stops and joins the thread, frees the rest. Idempotent. */
void pr__ticker_stop(pr__ticker *t);

typedef struct pr__guard {
    pthread_mutex_t mu;           /* the list, phases, deadlines, sockets */
    pr__conn head;                /* list sentinel */
    pr__ticker reaper;            /* sweep() every 100 ms */
    int inited;
} pr__guard;

/* A request body: capacity reserved from the server's body budget. */
typedef struct pr__body {
    char *p;
    size_t len, cap;
} pr__body;

uint64_t pr__mono_ns(void);
pr_status pr__guard_init(pr_server *s, pr_err *err);
void pr__guard_stop(pr_server *s);   /* joins the reaper */
void pr__guard_free(pr_server *s);
/* open_now: the open-connection count including this one. NULL: no memory. */
pr__conn *pr__guard_open(pr_server *s, int fd, int64_t open_now);
void pr__guard_close(pr_server *s, pr__conn *c);
/* Moves c to phase (its deadline restarts); -1 if the reaper already cut
 * the connection (the request must be dropped). */
int pr__guard_phase(pr_server *s, pr__conn *c, int phase);
/* Grows b to hold need bytes: 0, or -1 when the global budget (or memory)
 * is exhausted (b unchanged). */
int pr__body_reserve(pr_server *s, pr__body *b, size_t need);
void pr__body_free(pr_server *s, pr__body *b);

/* ---------------------------------------------------------------- event log */

/* Record kinds the server writes, as metric labels. */
enum { PR__LREC_EVENT, PR__LREC_PREDICTION, PR__LREC_FEATURES, PR__LREC_N };
/* Sources of appends, for the latency histogram. */
enum { PR__LSRC_EVENTS, PR__LSRC_LOGGER, PR__LSRC_N };

/* One queued prediction or features record (payload owned). */
typedef struct pr__lq_item {
    struct pr__lq_item *next;
    uint32_t kind;             /* PR__LREC_* */
    int64_t ts_ms;
    char *p;                   /* malloc'd payload */
    size_t len;
} pr__lq_item;

/* The server's event log (evlog.c); all zero when --log is not given. */
typedef struct pr__elog {
    char *uri;                 /* NULL: no log */
    pthread_rwlock_t lk;       /* shared by appends, exclusive by a reopen */
    pr_event_log *log;         /* NULL after a failed reopen (lk) */
    int up;                    /* atomic: the last append or reopen worked */
    int reopen_queued;         /* atomic: a reopen job waits in the events queue */
    pthread_mutex_t mu;        /* err_msg, next_try_ns, backoff_ms */
    char err_msg[PR_ERR_MSG_MAX];
    uint64_t next_try_ns;      /* monotonic: no reopen before */
    uint32_t backoff_ms;
    int fresh;                 /* atomic: reopened, no append has worked since
                                  (a failure then keeps growing the backoff) */
    int have_last;             /* last: the newest record known to be in the */
    pr_log_pos last;           /* log (ingest mu): a reopen reconciles after it */
    pr__lq_item *pending;      /* events applied whose sync failed: written
                                  again at the reopen unless found (ingest mu) */
    double features_rate;      /* --log-features */
    uint64_t id_prefix;        /* generated request ids: prefix-counter */
    uint64_t id_seq;           /* atomic */
    pthread_mutex_t qmu;       /* the prediction queue */
    pthread_cond_t qcv;
    pr__lq_item *head, *tail;
    size_t q_n, q_bytes, q_max_n, q_max_bytes;
    int stop, started, inited;
    pthread_t th;
    pr__ticker tick;           /* queues a reopen when the backoff elapsed */
    uint64_t appended[PR__LREC_N], dropped[PR__LREC_N]; /* atomic */
    uint64_t errors, reopens, recovered;                 /* atomic */
    uint64_t lat_bucket[PR__LSRC_N][PR__LAT_BUCKETS + 1];
    uint64_t lat_sum_ns[PR__LSRC_N], lat_count[PR__LSRC_N];
    uint64_t seed_ids, seed_records;                     /* at start */
    uint64_t t_write_ns;       /* the current batch's write (events thread) */
    double seed_seconds;
} pr__elog;

/* Opens s->o.log_uri (refused at start with its message), seeds the
 * duplicate-id set from the log's newest event records, starts the logger
 * thread and the reopen ticker. Nothing without --log. After open_ingest. */
pr_status pr__elog_start(pr_server *s, pr_err *err);
/* Stops the ticker and the logger (what is queued is appended first),
 * closes the log. After the HTTP and job threads stopped. */
void pr__elog_stop(pr_server *s);
/* 1 if the server has a log, and if it is up. */
static inline int pr__elog_on(const pr__elog *l) { return l->uri != NULL; }
int pr__elog_up(pr__elog *l);
/* A batch's accepted events into the log (events thread, ingest mu held),
 * in two steps so the store update overlaps the fsync: write writes them
 * (one pr_log_append_nowait; a log that is down is reopened first when its
 * backoff elapsed, else refused at once; on failure nothing is in the log,
 * err names the log, the log is marked down), the caller applies them,
 * then sync waits until they are durable (*pos from write). A failed sync
 * marks the log down and keeps copies of recs: the reopen writes again
 * those it does not find in the log. */
pr_status pr__elog_write_events(pr_server *s, const pr_log_entry *recs, uint32_t n,
                                pr_log_pos *pos, pr_err *err);
pr_status pr__elog_sync_events(pr_server *s, const pr_log_entry *recs, uint32_t n,
                               pr_log_pos pos, pr_err *err);
/* The reopen job (events thread): reopens a log that is down. */
void pr__elog_reopen_job(pr_server *s);
/* Queues one record for the logger thread (any thread): takes p (malloc'd;
 * freed here when dropped). Dropped and counted when the log is down or the
 * queue full. */
void pr__elog_enqueue(pr_server *s, uint32_t kind, int64_t ts_ms, char *p, size_t len);
/* A fresh request id ("<16 hex>-<n>") into buf (cap >= 40); its length. */
size_t pr__elog_request_id(pr_server *s, char *buf, size_t cap);
/* 1 if the request with this id has its feature rows logged. */
int pr__elog_sampled(const pr_server *s, pr_bytes request_id);
/* The log's lines of /metrics, and the readyz word ("up", "down"). */
void pr__elog_render(pr_server *s, pr__tb *out);

/* ---------------------------------------------------------------- quality */

typedef struct pr__qitem pr__qitem; /* quality.c */
/* Live quality (quality.c); all zero with --quality off. */
typedef struct pr__qual {
    int on;                    /* atomic: the thread runs, items are taken */
    pthread_mutex_t mu;        /* q */
    pr_quality *q;
    pthread_mutex_t qmu;       /* the queue */
    pthread_cond_t qcv;        /* stop */
    pr__qitem *head, *tail;
    size_t q_n, q_bytes, q_max_n;
    int stop, started, inited;
    pthread_t th;
    uint64_t dropped[2];       /* atomic: predictions, event batches */
    pr_quality_sampler *smp;   /* --quality-rate; NULL: every request */
    uint64_t unsampled;        /* atomic: answered requests not sampled */
} pr__qual;

pr_status pr__quality_start(pr_server *s, pr_err *err);
/* Applies what is queued, stops the thread, frees. After the HTTP and job
 * threads stopped. Idempotent. */
void pr__quality_stop(pr_server *s);
static inline int pr__quality_on(const pr_server *s);
struct pr__predict_req;
/* Queues an answered request for the quality thread (HTTP thread): never
 * blocks; a full queue drops it (counted). */
void pr__quality_predicted(pr_server *s, const pr__arm *a, const pr__model_ref *m,
                           const struct pr__predict_req *q, const pr__scored *ranked, int64_t ts);
/* Queues a batch's accepted events (events thread, ingest mu held, so in
 * log order): texts copied. */
void pr__quality_events(pr_server *s, const pr_bytes *texts, size_t n);
/* The latest closed windows as samples (pr_quality_snapshot) under the
 * accumulator's lock: any thread. 0 with --quality off. Strings stay valid
 * until the server is freed. */
size_t pr__quality_snapshot(pr_server *s, pr_quality_sample *out, size_t cap);
/* The sliding 5m, 15m and 1h windows for alerting at event time now_ms
 * (pr_quality_sliding up to now - --quality-window - --quality-lateness),
 * under the lock; same contract as the snapshot. */
size_t pr__quality_sliding(pr_server *s, int64_t now_ms, pr_quality_sample *out, size_t cap);
/* The quality lines of /metrics. */
void pr__quality_render(pr_server *s, pr__tb *out);
/* A closed 1m window of live quality with its series' names copied. */
typedef struct pr__qhist {
    char version[PR_QUALITY_NAME_MAX], arm[PR_QUALITY_NAME_MAX];
    pr_quality_window w;       /* w.version, w.arm point at the copies */
} pr__qhist;
/* The closed 1m windows of every series (at most PR_QUALITY_KEEP_1M each),
 * by series then start, copied under the accumulator's lock: any thread.
 * *out malloc'd (free()); 0 with --quality off or no memory. */
size_t pr__quality_history(pr_server *s, pr__qhist **out);

/* ---------------------------------------------------------------- monitor */

typedef struct pr__mon pr__mon;
/* Loads the rules (s->o.monitors_path, or the defaults), starts the
 * webhook sender and the monitor thread. Nothing with monitor off. After
 * the arms are loaded. */
pr_status pr__monitor_start(pr_server *s, pr_err *err);
/* Stops the thread, releases the models it holds, frees the alerts and the
 * webhook (after the HTTP threads stopped: the workers' parts go with
 * pr__monitor_worker_free). Idempotent. */
void pr__monitor_stop(pr_server *s);
/* A worker's part, freed with the worker (after the monitor stopped). */
void pr__monitor_worker_free(struct pr__mon_w *mw);
/* One predict answered 200 on worker w (HTTP thread, no lock): arm a's
 * model m scored rows[0..q->n) into ranked; ts its event time (the
 * request's ts, else the server's clock); ns the time it took. */
void pr__monitor_observe(pr_server *s, pr__worker *w, const pr__arm *a, const pr__model_ref *m,
                         const struct pr__predict_req *q, const pr_fs_row *rows,
                         const pr__scored *ranked, int64_t ts, uint64_t ns);
/* GET /v1/monitor (monitor_out.c). */
const char *pr__handle_monitor(pr_server *s, unsigned *status, pr__tb *out);
/* The monitor's lines of /metrics (monitor_out.c). */
void pr__monitor_render(pr_server *s, pr__tb *out);
/* GET /dashboard (dashboard.c): the page, its Content-Security-Policy
 * (a fresh nonce) into csp[cap]. */
const char *pr__handle_dashboard(pr_server *s, unsigned *status, pr__tb *out, char *csp,
                                 size_t cap);

/* ---------------------------------------------------------------- jobs */

typedef enum {
    PR__JOB_EVENTS,            /* POST /v1/events */
    PR__JOB_RELOAD,            /* POST /admin/reload */
    PR__JOB_SIGNAL_RELOAD,     /* SIGHUP: no client waits */
    PR__JOB_POLL,              /* --poll-model: reload if the file changed */
    PR__JOB_LOG_REOPEN,        /* the event log is down: reopen it (events queue) */
    PR__JOB_RETRAIN            /* POST /admin/retrain (reload queue: the registry's thread) */
} pr__job_kind;

enum { PR__Q_EVENTS, PR__Q_RELOAD, PR__Q_COUNT };

typedef struct pr__job pr__job; /* jobs.c */
struct MHD_Connection;
struct pr_server;

/* One queue and its thread (jobs.c). */
typedef struct pr__jobq {
    struct pr_server *s;
    const char *name;          /* "events", "reload" */
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* work queued, or stop */
    pthread_cond_t done_cv;    /* a run or a resume ended, the thread exited */
    pr__job *head, *tail;      /* queued, FIFO */
    pr__job *running;
    uint32_t n, max_n;         /* jobs queued or running, and the cap */
    size_t bytes, max_bytes;   /* their bodies, and the cap */
    uint32_t resuming;         /* MHD_resume_connection calls in progress */
    int closed, stop, exited;
    int inited, started;
    pthread_t th;
    uint64_t rejected, done_total;
} pr__jobq;

pr_status pr__jobs_start(struct pr_server *s, pr_err *err);
/* On the HTTP thread, with the whole body: queues the work of route
 * (events or reload) for connection c, taking *body (zeroed: the job frees
 * it and gives its memory back to the body budget) and suspending c; its
 * thread resumes c when the reply is ready. Returns NULL then (*out: the
 * connection's reference to the job), else the reason to answer 503 at
 * once (queue full or closed; *body untouched). */
const char *pr__job_submit(struct pr_server *s, pr__route route, struct MHD_Connection *c,
                           pr__body *body, pr__job **out);
/* 1 and the reply (borrowed: valid until pr__job_release) once done. */
int pr__job_result(pr__job *j, unsigned *status, const char **type, const char **body,
                   size_t *len);
/* The connection lets go of j (after its reply, or at its completion).
 * Accepts NULL. */
void pr__job_release(pr__job *j);
/* Queues a reload with no client (SIGHUP, polling); PR_ERR_LIMIT when the
 * reload queue is full, PR_ERR_INVALID when shutting down. */
pr_status pr__jobs_submit_reload(struct pr_server *s, int only_if_changed, pr_err *err);
/* Queues a reopen of the event log on the events thread (no client).
 * PR_ERR_LIMIT when the queue is full, PR_ERR_INVALID when shutting down. */
pr_status pr__jobs_submit_log_reopen(struct pr_server *s, pr_err *err);
/* The calling thread drops to time-sharing at nice +10 (job threads, the
 * event logger): on a saturated machine the HTTP threads get the cores. */
void pr__lower_priority(void);
/* Closes the queues and answers 503 to every job queued or running (their
 * connections resumed). Returns how many requests it answered. */
uint32_t pr__jobs_abort(struct pr_server *s);
/* Waits for the threads until deadline (pr_now() seconds; at least 0.5 s
 * from now); a thread still busy then is detached (s->jobs_stuck). */
void pr__jobs_join(struct pr_server *s, double deadline);
/* Frees the queues; 0 (nothing freed) if a thread was left running. */
int pr__jobs_free(struct pr_server *s);
/* The queues' lines of /metrics. */
void pr__jobs_render(struct pr_server *s, pr__tb *out);

/* ---------------------------------------------------------------- server */

/* The store's materialize sentinel, checked off the request path
 * (sentinel.c). */
#define PR__SENTINEL_PERIOD 1 /* seconds between checks */
typedef struct pr__sentinel {
    int missing;               /* atomic: 1 = the store has no sentinel */
    pr_store *store;           /* what is checked (borrowed or own) */
    pr_store *own;             /* redis: the checker's connection */
    pr__ticker tick;           /* check_once every PR__SENTINEL_PERIOD s */
} pr__sentinel;

struct pr_server {
    pr_server_opts o;          /* strings below are owned copies */
    char *model_path, *store_uri, *spec_path, *data_dir, *listen, *admin_token,
         *candidate_key, *split_key;
    struct MHD_Daemon *mhd;
    uint16_t port;
    int is_redis, is_mem;
    int draining;              /* atomic: answers carry Connection: close */
    int stopped;
    pr_store *store;           /* shared (mem:, lmdb:) or the admin connection
                                  (redis:, used by readyz under admin_mu) */
    pthread_mutex_t admin_mu;
    pr_spec *store_spec;       /* owned */
    pr_fs *plan_fs;            /* store spec over no store: column names */
    const char **col_names;    /* plan_fs's columns (borrowed names) */
    uint32_t n_cols;
    pr__request_plan req;
    pthread_rwlock_t state_lock;
    pthread_mutex_t reload_mu;
    uint64_t generation;       /* of the last successful load (reload_mu) */
    int64_t refused_mtime_ns, refused_size; /* the last refused file (polling) */
    pthread_mutex_t workers_mu;
    pr__worker *workers;
    pr__ingest ingest;
    pr__elog elog;
    pr__jobq jobs[PR__Q_COUNT];
    int jobs_stuck;            /* a job thread was left running at shutdown */
    pr__metrics metrics;
    pr__guard guard;
    int64_t started_at;
    pr__sentinel sentinel;
    /* --model registry:DIR[@alias] (follow.c); reg NULL otherwise */
    pr_registry *reg;
    int follow_pending;        /* atomic: a poll is queued, not yet run */
    pr__ticker follow;         /* pr__follow_tick every PR__FOLLOW_MS */
    /* The models served (arm.c): arms[0..n_arms) answer requests (one arm
     * without --split: the model file, or the alias of --model), chosen by
     * pr__split_choose; arms[n_arms] is the --shadow alias when shadow is
     * set. Fixed at start but for each arm's holder, metrics and stamps. */
    pr__arm arms[PR_SERVER_ARMS_MAX + 1];
    uint32_t n_arms;
    pr__arm *shadow;           /* &arms[n_arms] or NULL */
    uint32_t split_col;        /* the --split-key request column, or UINT32_MAX */
    pr__shadowq shadowq;       /* the shadow's queue and thread (shadow.c) */
    pr__qual qual;             /* --quality (quality.c) */
    struct pr__mon *mon;       /* drift and alerts (monitor.c); NULL: off */
};

static inline int pr__quality_on(const pr_server *s) {
    return __atomic_load_n(&s->qual.on, __ATOMIC_RELAXED);
}

/* The arm that serves reads of "the model" (GET /v1/model's top level,
 * /readyz, pronto_model_*): the first. */
static inline pr__holder *pr__main_holder(pr_server *s) { return &s->arms[0].holder; }

/* ---------------------------------------------------------------- follow */

#define PR__FOLLOW_MS 100 /* alias file polls (one stat each): a move is
                             served within 0.1 s plus the model's load */
/* Opens the registry named by s->model_path ("registry:DIR[@alias]") and
 * sets up the arms: the split's aliases (--split), or the one alias; then
 * the shadow's. A plain path: one arm, no alias. */
pr_status pr__follow_open(pr_server *s, pr_err *err);
/* The model file arm a loads now: the plain path, or its alias's target
 * (path: PR_REGISTRY_PATH_MAX bytes; version: PR_REGISTRY_ID_MAX, "" for
 * a plain path). Registry: also records the alias file's stamp as seen. */
pr_status pr__follow_resolve(pr_server *s, pr__arm *a, char *path, char *version, pr_err *err);
/* 1 if arm a's alias file differs from the one last resolved. */
int pr__follow_changed(pr_server *s, pr__arm *a);
pr_status pr__follow_start(pr_server *s, pr_err *err);
void pr__follow_stop(pr_server *s);

/* HTTP handlers. Each fills *status and the reply body (JSON or text)
 * and returns the Content-Type. */
const char *pr__handle_predict(pr_server *s, const char *body, size_t len, unsigned *status,
                               pr__tb *out);
const char *pr__handle_events(pr_server *s, const char *body, size_t len, unsigned *status,
                              pr__tb *out);
/* admin: the request carried the admin token (full details: the model's
 * path and training inputs, the store's error messages). */
const char *pr__handle_model(pr_server *s, int admin, unsigned *status, pr__tb *out);
const char *pr__handle_readyz(pr_server *s, int admin, unsigned *status, pr__tb *out);
const char *pr__handle_reload(pr_server *s, unsigned *status, pr__tb *out);
/* POST /admin/retrain (retrain.c; on the reload thread). */
const char *pr__handle_retrain(pr_server *s, const char *body, size_t len, unsigned *status,
                               pr__tb *out);

/* Worker states: freed at shutdown after the HTTP threads stopped. */
void pr__workers_free(pr_server *s);
/* Adds the workers' own store connections' counters (redis) to *sum. */
void pr__workers_store_stats(pr_server *s, pr_store_stats *sum);

/* MHD daemon start/stop (http.c). */
pr_status pr__http_start(pr_server *s, pr_err *err);
void pr__http_quiesce(pr_server *s);
void pr__http_stop(pr_server *s);

/* Writes {"error": msg} into out. */
void pr__json_error(pr__tb *out, const char *msg);

/* The sentinel checker (sentinel.c): start does the first check and starts
 * the thread (nothing for mem:); stop joins it. pr__store_empty: 1 while
 * the store lacks its sentinel (a relaxed atomic load, for every request). */
pr_status pr__sentinel_start(pr_server *s, pr_err *err);
void pr__sentinel_stop(pr_server *s);
int pr__store_empty(const pr_server *s);

/* Unix time in milliseconds (wall clock). */
int64_t pr__now_ms(void);

#endif
