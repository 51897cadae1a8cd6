/*
 * store_redis_int.h: what the redis: backend's files share. The URI is
 * parsed by store_redis_uri.c into a pr__redis_config that store_redis.c
 * connects with; the parser is apart so the fuzz target can reach it
 * without a server. The event log's redis-stream: backend
 * (src/log/log_redis.c) parses its URI and guards SIGPIPE with the same
 * code.
 */
#ifndef PRONTO_STORE_REDIS_INT_H
#define PRONTO_STORE_REDIS_INT_H

#include <errno.h>
#include <hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>

#include "pronto/base.h"

#define PR__REDIS_CONNECT_TIMEOUT_MS 200
#define PR__REDIS_TIMEOUT_MS 100
/* A log append may wait for Redis' appendfsync always. */
#define PR__REDIS_STREAM_TIMEOUT_MS 2000
/* Longest stream key of a redis-stream: URI. */
#define PR__REDIS_KEY_MAX 256u
#define PR__REDIS_TIMEOUT_MS_MAX 600000
#define PR__REDIS_PREFIX_DEFAULT "pronto:"
#define PR__REDIS_PREFIX_MAX 256u
/* Largest expire_grace_s: ten years. */
#define PR__REDIS_GRACE_MAX (10ll * 366 * 86400)

typedef struct pr__redis_config {
    char *host;              /* TCP host without brackets, or NULL (unix) */
    int port;                /* 1..65535 with host */
    char *path;              /* unix socket path, or NULL (TCP) */
    int db;                  /* 0.. INT32_MAX */
    char *prefix;            /* NUL-terminated, may be "" */
    size_t prefix_len;
    int connect_timeout_ms;  /* 1..PR__REDIS_TIMEOUT_MS_MAX */
    int timeout_ms;          /* 1..PR__REDIS_TIMEOUT_MS_MAX */
    int64_t expire_grace_s;  /* -1: no native expiry; else 0..GRACE_MAX */
    char *key;               /* redis-stream: the stream key; else NULL */
    size_t key_len;
    char *name;              /* "redis://HOST:PORT/DB" or "redis:unix:PATH",
                              * "redis-stream:HOST:PORT/KEY" or
                              * "redis-stream:unix:PATH/KEY", for messages */
} pr__redis_config;

/* An option the shared grammar does not know (redis-stream: only), given
 * as name [name, name+name_len) and value: PR_OK if the callback took it,
 * PR_ERR_NOTFOUND if it is not one of its own (the parser then refuses it
 * as unknown), else an error it set, naming `what` (the URI). */
typedef pr_status (*pr__redis_option_fn)(void *ctx, const char *what, const char *name,
                                         size_t name_len, const char *val, size_t val_len,
                                         pr_err *err);

typedef struct pr__redis_uri_spec {
    const char *scheme;       /* "redis" or "redis-stream", for messages */
    int stream;               /* 1: address "/" KEY, no prefix= or expire_grace_s=,
                               * db only as db=, timeout_ms default
                               * PR__REDIS_STREAM_TIMEOUT_MS */
    const char *extra_names;  /* every option name, for the unknown-option message */
    pr__redis_option_fn extra;
    void *ctx;
} pr__redis_uri_spec;

/* Parses the URI text after "redis:" (borrowed). On success fills *cfg,
 * owned by caller (free with pr__redis_config_free); on failure *cfg holds
 * nothing to free and err names the URI and the offending part. */
pr_status pr__redis_config_parse(const char *arg, pr__redis_config *cfg, pr_err *err);
/* The same for a URI of another kind (spec); arg is the text after
 * "<scheme>:". */
pr_status pr__redis_config_parse_spec(const pr__redis_uri_spec *spec, const char *arg,
                                      pr__redis_config *cfg, pr_err *err);
/* Frees what cfg owns; accepts a zeroed or already freed config. */
void pr__redis_config_free(pr__redis_config *cfg);

/* SIGPIPE: hiredis writes with write(2), which raises SIGPIPE on a socket
 * the server closed. Around each exchange the calling thread blocks SIGPIPE
 * and, after a failure, takes a SIGPIPE it caused off the pending set (the
 * libpq technique), so a library call never kills the process. */
typedef struct sigpipe_guard {
    sigset_t old;
    int was_blocked;
} sigpipe_guard;

static inline void sigpipe_block(sigpipe_guard *g) {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
    g->was_blocked = sigismember(&g->old, SIGPIPE);
}

/* failed: the exchange hit an error, so a SIGPIPE may be pending. If the
 * thread had SIGPIPE blocked already, a pending one may be the caller's:
 * leave it. Otherwise none was pending before (it would have been
 * delivered), so one pending now is ours. */
static inline void sigpipe_restore(sigpipe_guard *g, int failed) {
    if (failed && !g->was_blocked) {
        sigset_t pipe_set, pending;
        struct timespec zero = {0, 0};
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {}
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Reads the n replies of what was appended to c, with SIGPIPE guarded.
 * 0: *last is the last reply (owned by caller), or NULL when any reply was
 * an error, whose text (the first one's) is then in errbuf. -1: the
 * connection failed, *saved_errno is errno then and nothing is returned.
 * (store_redis_io.c) */
int pr__redis_read_replies(redisContext *c, size_t n, redisReply **last, char *errbuf,
                           size_t errcap, int *saved_errno);

/* hiredis' reason, with a timeout said as such. */
static inline void context_reason(const redisContext *c, int saved_errno, int timeout_ms,
                                  char *buf, size_t cap) {
    if (c->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
        snprintf(buf, cap, "no reply within timeout_ms=%d", timeout_ms);
    else if (c->err == REDIS_ERR_EOF)
        snprintf(buf, cap, "connection closed by the server");
    else
        snprintf(buf, cap, "%s", c->errstr[0] ? c->errstr : "unknown hiredis error");
}

static inline struct timeval ms_to_tv(int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

#endif
