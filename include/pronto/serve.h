/*
 * pronto/serve.h: the HTTP prediction server (`pronto serve`). One process
 * serves features and the model together: a request names a user, its
 * context and N candidate ads; the feature store assembles each candidate
 * as of now from the online store (pr_fs_assemble), the model's embedded
 * spec featurizes, the model scores, and the ranked answer goes back as
 * JSON. The API, error bodies and metric names are in docs/api.md.
 *
 *   pr_server_opts o;
 *   pr_server_opts_default(&o);
 *   o.model_path = "ffm.pm"; o.store_uri = "lmdb:/var/lib/pronto";
 *   pr_server *srv;
 *   if (pr_server_start(&o, &srv, &err) != PR_OK) ...   // listening now
 *   ...                                                  // requests run on
 *   pr_server_reload(srv, &err);                         // its own threads
 *   pr_server_shutdown(srv, 10.0);                       // drain, stop
 *   pr_server_free(srv);
 *
 * HTTP is libmicrohttpd (a fixed pool of `threads` event-loop threads, each
 * owning its connections, keep-alive). Each worker thread owns its feature
 * store reader (pr_fs) and its arena, so the hot path shares nothing but
 * the read-only model and the store.
 *
 * Hot swap: the loaded model is an immutable, reference-counted snapshot
 * (model + spec + bound featurizer). A request takes a reference when it
 * starts and drops it when it ends; a reload loads and verifies a new
 * snapshot off to the side, then publishes it with one pointer swap. The
 * old one is freed when its last request finishes. A model that fails to
 * load or verify is refused and the old one keeps serving.
 *
 * Threads: the HTTP threads answer requests and do nothing slow: event
 * batches and reloads asked over HTTP run on a queue and a thread each
 * (bounded: a full queue answers 503 with Retry-After), the connection
 * suspended meanwhile. pr_server_reload and pr_server_poll_model may be
 * called from any thread (reloads are serialized), and
 * pr_server_reload_async queues one; pr_server_shutdown and
 * pr_server_free from the thread that started the server.
 *
 * Event log (log_uri): a batch's accepted events are appended before its
 * answer (a log that cannot write: 503, nothing applied; the server
 * reopens it with a backoff), answered predictions are queued for a
 * logger thread (never waited for). docs/api.md "The event log".
 */
#ifndef PRONTO_SERVE_H
#define PRONTO_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pr_server pr_server;

/* Connections past max_connections kept for health checks. */
#define PR_SERVE_RESERVE 32

/* Every pointer is borrowed for pr_server_start only (the server copies
 * what it keeps). */
typedef struct pr_server_opts {
    const char *model_path;     /* model file (required); reloads reread it.
                                   Or "registry:DIR[@alias]" (registry.h):
                                   the version the alias (default
                                   production) names, resolved at every
                                   reload; a move of the alias (its file,
                                   polled every 100 ms) queues a reload */
    const char *store_uri;      /* online store (required): mem:, lmdb:DIR,
                                   redis:HOST:PORT (store.h) */
    const char *spec_path;      /* the store's spec: materializes data_dir,
                                   applies posted events, and every model
                                   must be satisfiable by it. NULL: the first
                                   model's embedded spec */
    const char *data_dir;       /* NULL, or: materialize this folder's tables
                                   and events into the store at start */
    const char *listen;         /* "HOST:PORT", default "127.0.0.1:8080";
                                   port 0 picks a free port (pr_server_port) */
    const char *admin_token;    /* bearer token of the admin endpoints; NULL
                                   or "": admin endpoints are refused */
    const char *candidate_key;  /* the request column naming a candidate,
                                   default "ad_id" */
    uint32_t threads;           /* HTTP worker threads, default 2 */
    uint32_t max_candidates;    /* per predict request, default 1000 */
    size_t max_body;            /* request body bytes, default 1 MiB */
    uint32_t max_connections;   /* open connections served in full, default
                                   512; past it a reserve of PR_SERVE_RESERVE
                                   more answers only /healthz, /readyz and
                                   /metrics (others: a fast 503 and close),
                                   and /readyz says not ready */
    uint32_t max_connections_per_ip; /* per client address (MHD refuses more
                                   at accept); 0: 3/4 of max_connections */
    double header_timeout;      /* seconds from accept (or from the request
                                   line of a later keep-alive request) to the
                                   end of the headers, default 10 */
    double body_timeout;        /* seconds from the end of the headers to the
                                   end of the body, default 30 */
    double idle_timeout;        /* keep-alive seconds between requests,
                                   default 30 */
    size_t max_body_memory;     /* bytes of request bodies held by all
                                   connections together, default 64 MiB
                                   (>= max_body); past it: 503 and close */
    uint32_t event_ids;         /* recent event ids remembered to drop
                                   duplicates (24 bytes each), default 262144 */
    uint32_t max_queued_jobs;   /* event batches queued or being applied;
                                   more get a fast 503, default 16 */
    size_t max_queued_bytes;    /* their bodies' bytes, default 64 MiB */
    uint64_t max_model_bytes;   /* model files larger are refused before
                                   reading; default
                                   pr_server_default_max_model_bytes() */
    int64_t max_event_skew_ms;  /* posted events with ts more than this ahead
                                   of the server's clock are refused, default
                                   1 h; >= 0 */
    int64_t max_event_age_ms;   /* ... and more than this behind it; 0 (the
                                   default): the store spec's longest
                                   aggregate window, 7 d if it has none */
    const char *log_uri;        /* NULL, or the event log (log.h: log:DIR...,
                                   redis-stream:...): every accepted posted
                                   event is appended before its 200, every
                                   answered predict as a prediction record
                                   (docs/log.md "Records pronto writes") */
    double log_features;        /* 0..1: share of predict requests (by a hash
                                   of request_id) whose assembled feature
                                   rows are logged too; default 0 */
    uint32_t log_queue;         /* prediction and feature records waiting for
                                   the logger thread; more are dropped and
                                   counted, default 65536 */
    const char *split;          /* NULL, or "ALIAS:WEIGHT[,ALIAS:WEIGHT...]"
                                   with model_path "registry:DIR" (no @alias):
                                   each request goes to one alias (an arm) by
                                   a hash of its split_key value
                                   (pr_server_split_parse; docs/api.md "A/B
                                   split"); each arm follows its alias */
    const char *split_key;      /* the request column hashed to choose an arm,
                                   default "user_id"; requests without it
                                   hash their request_id */
    const char *shadow;         /* NULL, or an alias of the registry scored
                                   after every answer off the request path:
                                   logged and measured, never returned */
    int quality;                /* 1: live quality from outcomes (quality.h)
                                   on a thread of its own, pronto_quality in
                                   /metrics; 0 (the library's default; the
                                   pronto serve command's is on): off */
    int64_t quality_window_ms;  /* its attribution window, default 2 h */
    int64_t quality_lateness_ms; /* its allowed event lateness, default 10 min */
    uint32_t quality_queue;     /* predict answers and event batches waiting
                                   for its thread (at most 64 MiB); more are
                                   dropped and counted, default 65536 */
    uint32_t quality_pending;   /* candidate predictions remembered until their
                                   impression, default 1048576 (64 bytes each) */
    uint32_t quality_rate;      /* about this many answered candidates a second
                                   (event time) are matched, whole requests
                                   sampled by request_id (quality.h
                                   "Sampling"); default 5000, 0: all */
    int monitor;                /* 1 (default): drift against each model's
                                   reference profile and alerts, on a thread
                                   of its own (GET /v1/monitor, pronto_drift
                                   and pronto_alert in /metrics); 0: off */
    uint32_t monitor_rows;      /* candidate rows profiled per arm and minute
                                   (event time), about: above it requests are
                                   sampled at random; default 30000, 0: all */
    const char *monitors_path;  /* alert rules (monitors.yaml, alert.h);
                                   NULL: the built-in defaults */
    const char *alert_webhook;  /* NULL, or an http(s) URL every alert
                                   transition is POSTed to (JSON) */
    int quiet;                  /* 1: no log lines on stderr */
} pr_server_opts;

void pr_server_opts_default(pr_server_opts *o);

/* An A/B split: at most PR_SERVER_ARMS_MAX arms, each an alias and a
 * weight; a request's share of an arm is weight / (sum of weights). */
#define PR_SERVER_ARMS_MAX 16
/* Room for an alias name with its NUL (PR_REGISTRY_ID_MAX). */
#define PR_SERVER_ALIAS_MAX 72
typedef struct pr_server_arm {
    char alias[PR_SERVER_ALIAS_MAX];
    uint32_t weight;            /* 1..10000 */
} pr_server_arm;

/* Parses a split "ALIAS:WEIGHT[,ALIAS:WEIGHT...]": 1..PR_SERVER_ARMS_MAX
 * arms, alias names as the registry takes them (1..64 of [A-Za-z0-9_-]),
 * no alias twice, integer weights
 * >= 1 with a sum of at most 10000. arms: OUT, PR_SERVER_ARMS_MAX
 * entries; *n: OUT, how many. PR_ERR_INVALID naming the arm at fault
 * (arms untouched past it). */
pr_status pr_server_split_parse(const char *text, pr_server_arm *arms, uint32_t *n, pr_err *err);

/* Half the physical memory (at least 64 MiB; 8 GiB if unknown): a reload
 * holds the new file's bytes and the model parsed from them beside the
 * serving model, so a larger file could not be loaded without pushing the
 * serving one out of memory. */
uint64_t pr_server_default_max_model_bytes(void);

/* Loads and verifies the model, opens the store (materializing data_dir
 * into it when given), and starts listening.
 * out: OUT: owned by caller; stop with pr_server_shutdown and free with
 *      pr_server_free. NULL on failure (nothing to clean up then).
 * Errors: PR_ERR_INVALID (options, listen address), PR_ERR_IO (store,
 * bind), and whatever loading the model or the data reports. */
pr_status pr_server_start(const pr_server_opts *o, pr_server **out, pr_err *err);

/* The TCP port the server listens on (useful with port 0). */
uint16_t pr_server_port(const pr_server *s);

/* Reloads the model file: load, verify (checksum, spec compiles, the
 * featurizer binds to the store's columns, the store spec has every
 * column it reads and defines each as the model's spec does:
 * pr_fs_check_model_spec), then swap. On failure the old model keeps serving and
 * the error says why. */
pr_status pr_server_reload(pr_server *s, pr_err *err);

/* Queues a reload (only_if_changed: as pr_server_poll_model) on the
 * server's reload thread and returns at once, so the caller (a signal
 * loop) stays free to take SIGTERM whatever the reload does; the outcome is
 * logged and counted in /metrics. Errors: PR_ERR_LIMIT (reloads already
 * queued), PR_ERR_INVALID (shutting down). */
pr_status pr_server_reload_async(pr_server *s, int only_if_changed, pr_err *err);

/* Reloads if the model file's modification time or size changed since the
 * loaded one was read (registry: if the alias file changed since the last
 * reload resolved it, and now names another version than the one
 * served). Returns 1 if a reload was attempted (its result in err), 0 if
 * the file is unchanged or unreadable. */
int pr_server_poll_model(pr_server *s, pr_err *err);

/* Stops accepting connections, lets requests in flight finish (at most
 * drain_s seconds; queued event batches and reloads count as in flight),
 * answers 503 to what is left, then closes every connection and stops the
 * threads. A reload or ingestion thread still busy at the deadline (stuck
 * in I/O; at least 0.5 s is granted) is not waited for: it is left
 * running and pr_server_free then leaves the server's memory to the
 * process exit. Returns the number of requests still in flight at the
 * deadline (0: a clean drain). Idempotent. */
uint32_t pr_server_shutdown(pr_server *s, double drain_s);

/* Shuts down (if not yet) and frees everything. Accepts NULL. */
void pr_server_free(pr_server *s);

#ifdef __cplusplus
}
#endif
#endif
