/*
 * sentinel.c: tells the server when its store is empty or was wiped (a
 * Redis restarted without its data, an LMDB directory replaced), which
 * would otherwise look healthy: every answer a cold start, no error.
 *
 * pronto materialize (and serve --data) ends its last atomic commit with a
 * sentinel row, "__pronto"/"sentinel" (src/fstore/fs_build.c). A checker
 * thread reads that row once at start and then every PR__SENTINEL_PERIOD
 * seconds, off the request path, and keeps the answer in one atomic flag:
 * predict reads the flag (no store round trip per request) and marks its
 * answers "degraded", /readyz answers 503 with the reason, /metrics shows
 * pronto_store_empty. When the sentinel comes back (materialize was run
 * again) the flag clears within a period.
 *
 * A mem: store is the server's own (filled by --data or by posted events,
 * gone with the process): it is never checked. A check that fails (the
 * store unreachable) leaves the flag as it was: outages are reported by
 * the store errors themselves.
 *
 * Ownership: the checker owns its thread and, for redis:, its own
 * connection (a redis: store is for one thread at a time); lmdb: stores
 * are shared between threads and used directly.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_int.h"

#define SENTINEL_ENTITY "__pronto"
#define SENTINEL_KEY "sentinel"

/* 1: the sentinel is there, 0: absent, -1: the store could not say. */
static int probe(pr_store *st) {
    pr_err err;
    pr_bytes v;
    pr_status rc = pr_store_get(st, pr_bytes_of(SENTINEL_ENTITY, strlen(SENTINEL_ENTITY)),
                                pr_bytes_of(SENTINEL_KEY, strlen(SENTINEL_KEY)), 0, &v, &err);
    return rc == PR_OK ? 1 : rc == PR_ERR_NOTFOUND ? 0 : -1;
}

static void check_once(pr_server *s) {
    pr__sentinel *c = &s->sentinel;
    int r = probe(c->store);
    if (r < 0) return;
    int was = __atomic_exchange_n(&c->missing, r == 0, __ATOMIC_RELAXED);
    if (was != (r == 0) && !s->o.quiet)
        pr_log(r == 0 ? PR_LOG_WARN : PR_LOG_INFO,
               r == 0 ? "serve: the store has no materialize sentinel (__pronto/sentinel): it is "
                        "empty or was wiped; answers are cold starts, flagged degraded, until "
                        "pronto materialize runs again"
                      : "serve: the store's materialize sentinel is back");
}

pr_status pr__sentinel_start(pr_server *s, pr_err *err) {
    pr__sentinel *c = &s->sentinel;
    if (s->is_mem) return PR_OK;
    c->store = s->store;
    if (s->is_redis) {
        pr_status st = pr_store_open(s->store_uri, &c->own, err);
        if (st != PR_OK) return st;
        c->store = c->own;
    }
    check_once(s);
    return pr__ticker_start(&c->tick, PR__SENTINEL_PERIOD * 1000L, check_once, s,
                            "store sentinel", err);
}

void pr__sentinel_stop(pr_server *s) {
    pr__sentinel *c = &s->sentinel;
    pr__ticker_stop(&c->tick);
    pr_store_close(c->own);
    c->own = NULL;
}

int pr__store_empty(const pr_server *s) {
    return __atomic_load_n(&s->sentinel.missing, __ATOMIC_RELAXED);
}
