/*
 * store_redis.c: the "redis:" backend, one hiredis connection per store.
 *
 * Keys and values. The Redis key of (entity, key) is the configured prefix
 * (default "pronto:") followed by the composite key of store_int.h; the
 * value is the row behind the same 8-byte expiry header as lmdb: (table in
 * store_int.h), so reads judge expiry against the caller's now exactly like
 * the other backends.
 *
 * Round trips. get_batch is one MGET; a put (one row, or a batch of rows
 * of any entities, each with its own expiry) is one MSET (atomic by
 * itself), or MULTI / MSET chunks / EXPIREATs / EXEC when it needs more than
 * one command: either way all rows or none (a client killed before EXEC
 * reaches Redis leaves a transaction Redis discards); del is one DEL; a sweep step is one SCAN plus one EVAL of a
 * small script that deletes, atomically on the server, those of the scanned
 * keys whose header says expired at now.
 *
 * Native expiry (opt-in, expire_grace_s=G): each row with an expiry also
 * gets EXPIREAT expires_at + G in the same transaction. Without it rows stay
 * until overwritten, deleted or swept. Rule in store.h.
 *
 * Failures and reconnects. Connect and command timeouts are socket-level
 * (hiredis connect timeout, SO_RCVTIMEO/SO_SNDTIMEO), so no call blocks
 * longer than about connect + command timeout per socket operation. Any
 * connection error or timeout frees the context, since a late reply would
 * desynchronise it; the next call reconnects, at most once per
 * REDIS_RECONNECT_GAP (calls in between fail at once). A get that finds the
 * connection closed by the server (a Redis restart) reconnects and retries
 * once at once; puts and dels are never retried, so a lost reply cannot
 * reorder writes. Failures are logged at most once per REDIS_LOG_GAP, with
 * the number left unlogged.
 *
 * SIGPIPE: hiredis writes with write(2), which raises SIGPIPE on a socket
 * the server closed. Around each exchange the calling thread blocks SIGPIPE
 * and, after a failure, takes a SIGPIPE it caused off the pending set (the
 * libpq technique), so a library call never kills the process (the guard
 * is in store_redis_int.h, shared with the log's redis-stream: backend).
 *
 * Ownership: the backend owns the context, the last reply (rows returned by
 * get_batch point into it until the next call on the store) and its scratch
 * buffers. Threads: one at a time (store.h).
 */
#include "store/store_int.h"
#include "store/store_redis_int.h"

#include <errno.h>
#include <hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#define REDIS_RECONNECT_GAP 0.1 /* seconds between reconnect attempts */
#define REDIS_LOG_GAP 1.0       /* seconds between failure log lines */
/* Bytes of keys and values per MSET command: keeps each command far below
 * hiredis' int-sized formatting and Redis' 512 MiB bulk limit. */
#define REDIS_MSET_CHUNK_BYTES ((size_t)64 << 20)
/* Extra time a write of 64 KiB or more gets per MiB it carries (rounded
 * up), beyond timeout_ms. */
#define REDIS_MS_PER_MIB 100u

/* Deletes KEYS whose 8-byte little-endian expiry header is nonzero and
 * <= now, given as two 32-bit halves (Lua numbers are doubles: each half is
 * exact, a whole int64 would not be). Keys holding no string, or a string
 * shorter than the header, are left alone. Returns the count removed. */
static const char SWEEP_SCRIPT[] =
    "local nh, nl = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local removed = 0\n"
    "for _, k in ipairs(KEYS) do\n"
    "  local h = redis.pcall('GETRANGE', k, 0, 7)\n"
    "  if type(h) == 'string' and #h == 8 then\n"
    "    local b1, b2, b3, b4, b5, b6, b7, b8 = string.byte(h, 1, 8)\n"
    "    local lo = b1 + b2 * 256 + b3 * 65536 + b4 * 16777216\n"
    "    local hi = b5 + b6 * 256 + b7 * 65536 + b8 * 16777216\n"
    "    if (hi > 0 or lo > 0) and (hi < nh or (hi == nh and lo <= nl)) then\n"
    "      removed = removed + redis.call('DEL', k)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return removed\n";

typedef struct redis_store {
    pr__redis_config cfg;
    redisContext *c;         /* NULL while disconnected */
    double next_connect_at;  /* pr_now(): no reconnect attempt before */
    int loss_retriable;      /* last loss was the server closing the socket */
    char last_error[256];    /* why the connection was lost, for messages */
    redisReply *held;        /* rows of the last get point into it */
    char *buf;               /* scratch: encoded keys and values */
    size_t buf_cap;
    const char **argv;       /* scratch: one command's arguments */
    size_t *argvlen;
    size_t argv_cap;
    char cursor[32];         /* SCAN cursor between sweeps, "0" = start */
    char *match;             /* glob matching the prefix, for SCAN */
    size_t match_len;
    uint64_t reconnects;     /* atomic: read by pr_store_stats_get */
    double last_log_at;
    uint64_t unlogged;       /* failures since the last log line */
} redis_store;

/* ---------------------------------------------------------------- failures */

static void redis_log_failure(redis_store *r, const pr_err *err) {
    double now = pr_now();
    if (r->last_log_at != 0 && now - r->last_log_at < REDIS_LOG_GAP) {
        r->unlogged++;
        return;
    }
    if (r->unlogged)
        pr_log(PR_LOG_WARN, "%s (%llu more failures since the last report, not logged)", err->msg,
               (unsigned long long)r->unlogged);
    else
        pr_log(PR_LOG_WARN, "%s", err->msg);
    r->last_log_at = now;
    r->unlogged = 0;
}

/* A failure of the running process: logged (rate-limited) and returned. */
static pr_status redis_fail(redis_store *r, pr_err *err, pr_status st) {
    redis_log_failure(r, err);
    return st;
}

/* The connection failed mid-exchange: drop it (a late reply would pair
 * with the wrong command) and remember why. */
static pr_status redis_lost(redis_store *r, int saved_errno, const char *what, pr_err *err) {
    context_reason(r->c, saved_errno, r->cfg.timeout_ms, r->last_error, sizeof r->last_error);
    r->loss_retriable = r->c->err == REDIS_ERR_EOF ||
                        (r->c->err == REDIS_ERR_IO && (saved_errno == ECONNRESET || saved_errno == EPIPE));
    redisFree(r->c);
    r->c = NULL;
    /* The next call may try at once: the server may be back already. */
    r->next_connect_at = 0;
    return pr_err_set(err, PR_ERR_IO, "store '%s': %s: %s", r->cfg.name, what, r->last_error);
}

/* ---------------------------------------------------------------- connect */

/* A new connection, checked with SELECT db (or PING): a peer that accepts
 * but never answers fails here within timeout_ms. */
static pr_status redis_connect(redis_store *r, pr_err *err) {
    redisContext *c;
    redisReply *reply = NULL;
    char dbnum[16];
    const char *argv[2] = {"SELECT", dbnum};
    size_t argvlen[2] = {6, 0};
    sigpipe_guard g;
    int saved_errno;

    if (r->cfg.path) c = redisConnectUnixWithTimeout(r->cfg.path, ms_to_tv(r->cfg.connect_timeout_ms));
    else c = redisConnectWithTimeout(r->cfg.host, r->cfg.port, ms_to_tv(r->cfg.connect_timeout_ms));
    if (!c) return pr_err_set(err, PR_ERR_NOMEM, "store '%s': out of memory for a connection", r->cfg.name);
    if (c->err) {
        snprintf(r->last_error, sizeof r->last_error, "cannot connect (connect_timeout_ms=%d): %s",
                 r->cfg.connect_timeout_ms, c->errstr[0] ? c->errstr : "unknown hiredis error");
        redisFree(c);
        return pr_err_set(err, PR_ERR_IO, "store '%s': %s", r->cfg.name, r->last_error);
    }
    if (redisSetTimeout(c, ms_to_tv(r->cfg.timeout_ms)) != REDIS_OK) {
        snprintf(r->last_error, sizeof r->last_error, "cannot set timeouts: %s", c->errstr);
        redisFree(c);
        return pr_err_set(err, PR_ERR_IO, "store '%s': %s", r->cfg.name, r->last_error);
    }
    if (!r->cfg.path) redisEnableKeepAlive(c);
    argvlen[1] = (size_t)snprintf(dbnum, sizeof dbnum, "%d", r->cfg.db);
    sigpipe_block(&g);
    reply = r->cfg.db ? redisCommandArgv(c, 2, argv, argvlen) : redisCommand(c, "PING");
    saved_errno = errno;
    sigpipe_restore(&g, reply == NULL);
    if (!reply) {
        context_reason(c, saved_errno, r->cfg.timeout_ms, r->last_error, sizeof r->last_error);
        redisFree(c);
        return pr_err_set(err, PR_ERR_IO, "store '%s': connected, but %s %s", r->cfg.name,
                          r->cfg.db ? "SELECT" : "PING", r->last_error);
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(r->last_error, sizeof r->last_error, "%s refused: %.*s", r->cfg.db ? "SELECT" : "PING",
                 (int)reply->len, reply->str);
        freeReplyObject(reply);
        redisFree(c);
        return pr_err_set(err, PR_ERR_IO, "store '%s': %s", r->cfg.name, r->last_error);
    }
    freeReplyObject(reply);
    r->c = c;
    return PR_OK;
}

/* Makes sure a connection exists. *fresh: 1 if made by this call. */
static pr_status redis_ready(redis_store *r, int *fresh, pr_err *err) {
    double now;
    *fresh = 0;
    if (r->c) return PR_OK;
    now = pr_now();
    if (now < r->next_connect_at) {
        return pr_err_set(err, PR_ERR_IO, "store '%s': not connected (%s); next reconnect attempt in %.0f ms",
                          r->cfg.name, r->last_error, (r->next_connect_at - now) * 1e3);
    }
    pr_status st = redis_connect(r, err);
    if (st != PR_OK) {
        /* Counted from the attempt's end, so a slow failure (a timeout)
         * still leaves a full gap of calls that fail at once. */
        r->next_connect_at = pr_now() + REDIS_RECONNECT_GAP;
        return st;
    }
    __atomic_fetch_add(&r->reconnects, 1, __ATOMIC_RELAXED);
    pr_log(PR_LOG_INFO, "store '%s': reconnected", r->cfg.name);
    *fresh = 1;
    return PR_OK;
}

/* ---------------------------------------------------------------- scratch */

static pr_status reserve(redis_store *r, size_t bytes, size_t args, pr_err *err) {
    if (bytes > r->buf_cap) {
        size_t cap = r->buf_cap ? r->buf_cap : 4096;
        while (cap < bytes) cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b) return pr_err_set(err, PR_ERR_NOMEM, "store '%s': out of memory for %zu bytes", r->cfg.name, bytes);
        r->buf = b;
        r->buf_cap = cap;
    }
    if (args > r->argv_cap) {
        size_t cap = r->argv_cap ? r->argv_cap : 64;
        while (cap < args) cap *= 2;
        const char **a = realloc(r->argv, cap * sizeof *a);
        if (a) r->argv = a;
        size_t *l = a ? realloc(r->argvlen, cap * sizeof *l) : NULL;
        if (l) r->argvlen = l;
        if (!a || !l)
            return pr_err_set(err, PR_ERR_NOMEM, "store '%s': out of memory for %zu arguments", r->cfg.name, args);
        r->argv_cap = cap;
    }
    return PR_OK;
}

/* Writes prefix + composite key at p; returns its length. */
static size_t encode_key(const redis_store *r, char *p, pr_bytes entity, pr_bytes key) {
    if (r->cfg.prefix_len) memcpy(p, r->cfg.prefix, r->cfg.prefix_len);
    return r->cfg.prefix_len + pr__store_key_encode(p + r->cfg.prefix_len, entity, key);
}

static void release_held(redis_store *r) {
    if (r->held) freeReplyObject(r->held);
    r->held = NULL;
}

/* ---------------------------------------------------------------- exchange */

/* Sends what was appended and reads n replies. The last one is returned in
 * *last (owned by caller); every other must be a status or QUEUED reply: an
 * error reply among them fails the exchange with Redis' message (the
 * connection stays usable). */
static pr_status redis_exchange(redis_store *r, size_t n, redisReply **last, const char *what,
                                pr_err *err) {
    char replied[256];
    int saved_errno = 0;
    if (pr__redis_read_replies(r->c, n, last, replied, sizeof replied, &saved_errno) != 0)
        return redis_lost(r, saved_errno, what, err);
    if (!*last)
        return pr_err_set(err, PR_ERR_IO, "store '%s': %s: Redis replied: %s", r->cfg.name, what,
                          replied);
    return PR_OK;
}

/* Appends one command of argc arguments from r->argv. */
static pr_status append(redis_store *r, int argc, const char *what, pr_err *err) {
    if (redisAppendCommandArgv(r->c, argc, r->argv, r->argvlen) != REDIS_OK)
        return redis_lost(r, errno, what, err);
    return PR_OK;
}

static pr_status append_simple(redis_store *r, const char *word, const char *what, pr_err *err) {
    const char *argv[1] = {word};
    size_t len[1] = {strlen(word)};
    if (redisAppendCommandArgv(r->c, 1, argv, len) != REDIS_OK) return redis_lost(r, errno, what, err);
    return PR_OK;
}

/* ---------------------------------------------------------------- open/close */

/* "*" after the prefix with glob metacharacters escaped, for SCAN MATCH. */
static pr_status make_match(redis_store *r, pr_err *err) {
    r->match = malloc(2 * r->cfg.prefix_len + 2);
    if (!r->match) return pr_err_set(err, PR_ERR_NOMEM, "store '%s': out of memory", r->cfg.name);
    size_t n = 0;
    for (size_t i = 0; i < r->cfg.prefix_len; i++) {
        char ch = r->cfg.prefix[i];
        if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') r->match[n++] = '\\';
        r->match[n++] = ch;
    }
    r->match[n++] = '*';
    r->match_len = n;
    return PR_OK;
}

static void redis_close(void *impl) {
    redis_store *r = impl;
    if (!r) return;
    release_held(r);
    if (r->c) redisFree(r->c);
    free(r->buf);
    free(r->argv);
    free(r->argvlen);
    free(r->match);
    pr__redis_config_free(&r->cfg);
    free(r);
}

static pr_status redis_open(const char *arg, void **impl, pr_err *err) {
    pr_status st;
    redis_store *r = calloc(1, sizeof *r);
    if (!r) return pr_err_set(err, PR_ERR_NOMEM, "store uri 'redis:%s': out of memory", arg);
    if ((st = pr__redis_config_parse(arg, &r->cfg, err)) != PR_OK) goto fail;
    if ((st = make_match(r, err)) != PR_OK) goto fail;
    memcpy(r->cursor, "0", 2);
    if ((st = redis_connect(r, err)) != PR_OK) goto fail;
    *impl = r;
    return PR_OK;
fail:
    redis_close(r);
    return st;
}

static void redis_stats(const void *impl, pr_store_stats *out) {
    const redis_store *r = impl;
    out->reconnects = __atomic_load_n(&r->reconnects, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- get */

static pr_status redis_get_batch(void *impl, const pr_bytes *entities, uint32_t step,
                                 const pr_bytes *keys, uint32_t n, int64_t now, pr_bytes *out,
                                 pr_err *err) {
    redis_store *r = impl;
    redisReply *rep = NULL;
    size_t bytes = 0, off = 0;
    pr_status st;

    release_held(r);
    for (uint32_t i = 0; i < n; i++)
        bytes += r->cfg.prefix_len + pr__store_key_len(entities[i * step], keys[i]);
    if ((st = reserve(r, bytes, (size_t)n + 1, err)) != PR_OK) return st;
    r->argv[0] = "MGET";
    r->argvlen[0] = 4;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = encode_key(r, r->buf + off, entities[i * step], keys[i]);
        r->argv[i + 1] = r->buf + off;
        r->argvlen[i + 1] = len;
        off += len;
    }
    for (int attempt = 0;; attempt++) {
        int fresh;
        if ((st = redis_ready(r, &fresh, err)) != PR_OK) return redis_fail(r, err, st);
        if ((st = append(r, (int)n + 1, "MGET", err)) == PR_OK &&
            (st = redis_exchange(r, 1, &rep, "MGET", err)) == PR_OK)
            break;
        /* Reads are safe to repeat: once, if the server had closed a
         * connection that worked before this call (e.g. it restarted). */
        if (attempt == 0 && !fresh && !r->c && r->loss_retriable) continue;
        return redis_fail(r, err, st);
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) {
        st = pr_err_set(err, PR_ERR_IO, "store '%s': MGET of %u keys: unexpected reply (type %d, %zu elements)",
                        r->cfg.name, n, rep->type, (size_t)rep->elements);
        freeReplyObject(rep);
        return redis_fail(r, err, st);
    }
    for (uint32_t i = 0; i < n; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_STRING) continue; /* nil: absent (or not a string) */
        if (e->len < PR__STORE_VALUE_HEADER) {
            st = pr_err_set(err, PR_ERR_FORMAT,
                            "store '%s': value of key %u is %zu bytes, shorter than its 8-byte expiry header",
                            r->cfg.name, i, (size_t)e->len);
            for (uint32_t j = 0; j < n; j++) out[j] = pr_bytes_of(NULL, 0);
            freeReplyObject(rep);
            return redis_fail(r, err, st);
        }
        if (!pr__store_alive(pr__store_get_le64(e->str), now)) continue;
        out[i] = pr_bytes_of(e->str + PR__STORE_VALUE_HEADER, (size_t)e->len - PR__STORE_VALUE_HEADER);
    }
    r->held = rep;
    return PR_OK;
}

/* ---------------------------------------------------------------- put */

/* expires_at + grace, saturating: the wall-clock second Redis may drop the
 * row at. */
static int64_t native_deadline(int64_t expires_at, int64_t grace) {
    return expires_at > INT64_MAX - grace ? INT64_MAX : expires_at + grace;
}

static pr_status redis_put_batch(void *impl, const pr_bytes *entities, uint32_t estep,
                                 const pr_bytes *keys, const pr_bytes *values,
                                 const int64_t *expires, uint32_t xstep, uint32_t n,
                                 pr_err *err) {
    redis_store *r = impl;
    int native = 0;
    size_t total = 0, n_replies = 0;
    int fresh, multi;
    redisReply *rep = NULL;
    pr_status st;

    release_held(r);
    for (uint32_t i = 0; i < n; i++) {
        total += r->cfg.prefix_len + pr__store_key_len(entities[i * estep], keys[i]) +
                 PR__STORE_VALUE_HEADER + values[i].len;
        if (r->cfg.expire_grace_s >= 0 && expires[i * xstep] != 0) native = 1;
    }
    multi = native || total > REDIS_MSET_CHUNK_BYTES;
    if ((st = redis_ready(r, &fresh, err)) != PR_OK) return redis_fail(r, err, st);
    if (multi) {
        if ((st = append_simple(r, "MULTI", "MULTI", err)) != PR_OK) return redis_fail(r, err, st);
        n_replies++;
    }
    /* MSET chunks of at most REDIS_MSET_CHUNK_BYTES (one row may exceed it
     * alone), each formatted by hiredis before the scratch is reused. */
    for (uint32_t first = 0; first < n;) {
        uint32_t end = first;
        size_t bytes = 0, off = 0;
        while (end < n && (end == first || bytes < REDIS_MSET_CHUNK_BYTES)) {
            bytes += r->cfg.prefix_len + pr__store_key_len(entities[end * estep], keys[end]) +
                     PR__STORE_VALUE_HEADER + values[end].len;
            end++;
        }
        if ((st = reserve(r, bytes, 1 + 2 * (size_t)(end - first), err)) != PR_OK) goto fail_conn;
        r->argv[0] = "MSET";
        r->argvlen[0] = 4;
        for (uint32_t i = first; i < end; i++) {
            size_t a = 1 + 2 * (size_t)(i - first);
            size_t klen = encode_key(r, r->buf + off, entities[i * estep], keys[i]);
            r->argv[a] = r->buf + off;
            r->argvlen[a] = klen;
            off += klen;
            pr__store_put_le64(r->buf + off, expires[i * xstep]);
            if (values[i].len) memcpy(r->buf + off + PR__STORE_VALUE_HEADER, values[i].ptr, values[i].len);
            r->argv[a + 1] = r->buf + off;
            r->argvlen[a + 1] = PR__STORE_VALUE_HEADER + values[i].len;
            off += PR__STORE_VALUE_HEADER + values[i].len;
        }
        if ((st = append(r, 1 + 2 * (int)(end - first), "MSET", err)) != PR_OK) return redis_fail(r, err, st);
        n_replies++;
        if (native) {
            for (uint32_t i = first; i < end; i++) {
                size_t a = 1 + 2 * (size_t)(i - first);
                int64_t at = expires[i * xstep];
                if (at == 0) continue; /* MSET cleared any old expiry */
                char when[24];
                size_t when_len = (size_t)snprintf(when, sizeof when, "%lld",
                                                   (long long)native_deadline(at, r->cfg.expire_grace_s));
                const char *argv[3] = {"EXPIREAT", r->argv[a], when};
                size_t argvlen[3] = {8, r->argvlen[a], when_len};
                if (redisAppendCommandArgv(r->c, 3, argv, argvlen) != REDIS_OK)
                    return redis_fail(r, err, redis_lost(r, errno, "EXPIREAT", err));
                n_replies++;
            }
        }
        first = end;
    }
    if (multi) {
        if ((st = append_simple(r, "EXEC", "EXEC", err)) != PR_OK) return redis_fail(r, err, st);
        n_replies++;
    }
    /* A bulk write (materialize commits megabytes at once) takes Redis
     * longer than a row: its bound grows with its size. */
    int bulk_ms = total < ((size_t)64 << 10) ? 0
                  : (int)(((total + ((size_t)1 << 20) - 1) >> 20) * REDIS_MS_PER_MIB);
    if (bulk_ms > 0) redisSetTimeout(r->c, ms_to_tv(r->cfg.timeout_ms + bulk_ms));
    st = redis_exchange(r, n_replies, &rep, multi ? "MULTI/EXEC" : "MSET", err);
    if (bulk_ms > 0 && r->c) redisSetTimeout(r->c, ms_to_tv(r->cfg.timeout_ms));
    if (st != PR_OK) return redis_fail(r, err, st);
    /* EXEC: an array of the queued commands' replies (an error inside one is
     * reported; Redis rejects a bad transaction as a whole at EXEC). */
    if (multi && rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < rep->elements; i++)
            if (rep->element[i]->type == REDIS_REPLY_ERROR) {
                st = pr_err_set(err, PR_ERR_IO, "store '%s': MULTI/EXEC: Redis replied: %.*s", r->cfg.name,
                                (int)rep->element[i]->len, rep->element[i]->str);
                break;
            }
    } else if (multi || rep->type != REDIS_REPLY_STATUS) {
        st = pr_err_set(err, PR_ERR_IO, "store '%s': %s: unexpected reply type %d", r->cfg.name,
                        multi ? "EXEC" : "MSET", rep->type);
    }
    freeReplyObject(rep);
    return st == PR_OK ? PR_OK : redis_fail(r, err, st);
fail_conn:
    /* Commands are queued in hiredis' buffer but not sent: the connection
     * would replay them with the next call, so drop it. */
    redisFree(r->c);
    r->c = NULL;
    r->next_connect_at = 0;
    snprintf(r->last_error, sizeof r->last_error, "a batch was abandoned half-built");
    return redis_fail(r, err, st);
}

/* ---------------------------------------------------------------- del */

static pr_status redis_del(void *impl, pr_bytes entity, pr_bytes k, pr_err *err) {
    redis_store *r = impl;
    redisReply *rep = NULL;
    pr_status st;
    int fresh;

    release_held(r);
    if ((st = reserve(r, r->cfg.prefix_len + pr__store_key_len(entity, k), 2, err)) != PR_OK) return st;
    r->argv[0] = "DEL";
    r->argvlen[0] = 3;
    r->argv[1] = r->buf;
    r->argvlen[1] = encode_key(r, r->buf, entity, k);
    if ((st = redis_ready(r, &fresh, err)) != PR_OK) return redis_fail(r, err, st);
    if ((st = append(r, 2, "DEL", err)) != PR_OK || (st = redis_exchange(r, 1, &rep, "DEL", err)) != PR_OK)
        return redis_fail(r, err, st);
    long long removed = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    freeReplyObject(rep);
    if (removed == 0)
        return pr_err_set(err, PR_ERR_NOTFOUND, "store '%s': key (%zu bytes) not found", r->cfg.name, k.len);
    if (removed != 1)
        return redis_fail(r, err,
                          pr_err_set(err, PR_ERR_IO, "store '%s': DEL: unexpected reply", r->cfg.name));
    return PR_OK;
}

/* ---------------------------------------------------------------- sweep */

static pr_status redis_sweep(void *impl, int64_t now, uint32_t max_rows, pr_store_sweep_result *out,
                             pr_err *err) {
    redis_store *r = impl;
    redisReply *rep = NULL, *keys;
    pr_status st;
    int fresh;
    char count[16], nh[16], nl[16], nkeys[16];

    release_held(r);
    if (r->cfg.prefix_len == 0)
        return pr_err_set(err, PR_ERR_UNSUPPORTED,
                          "store '%s': sweep needs a key prefix (prefix= is empty), or it would judge "
                          "every key of the database",
                          r->cfg.name);
    if ((st = redis_ready(r, &fresh, err)) != PR_OK) return redis_fail(r, err, st);
    if ((st = reserve(r, 0, 6, err)) != PR_OK) return st;
    r->argv[0] = "SCAN";
    r->argv[1] = r->cursor;
    r->argv[2] = "MATCH";
    r->argv[3] = r->match;
    r->argv[4] = "COUNT";
    r->argv[5] = count;
    r->argvlen[0] = 4;
    r->argvlen[1] = strlen(r->cursor);
    r->argvlen[2] = 5;
    r->argvlen[3] = r->match_len;
    r->argvlen[4] = 5;
    r->argvlen[5] = (size_t)snprintf(count, sizeof count, "%u", max_rows);
    if ((st = append(r, 6, "SCAN", err)) != PR_OK || (st = redis_exchange(r, 1, &rep, "SCAN", err)) != PR_OK)
        return redis_fail(r, err, st);
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[0]->len >= sizeof r->cursor || rep->element[1]->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        return redis_fail(r, err, pr_err_set(err, PR_ERR_IO, "store '%s': SCAN: unexpected reply", r->cfg.name));
    }
    memcpy(r->cursor, rep->element[0]->str, rep->element[0]->len);
    r->cursor[rep->element[0]->len] = '\0';
    out->pass_done = strcmp(r->cursor, "0") == 0;
    keys = rep->element[1];
    out->examined = keys->elements;
    /* now <= 0: nothing can be expired (every expiry is >= 1). */
    if (keys->elements == 0 || now <= 0) {
        freeReplyObject(rep);
        return PR_OK;
    }
    if ((st = reserve(r, 0, 5 + keys->elements, err)) != PR_OK) {
        freeReplyObject(rep);
        return st;
    }
    r->argv[0] = "EVAL";
    r->argvlen[0] = 4;
    r->argv[1] = SWEEP_SCRIPT;
    r->argvlen[1] = sizeof SWEEP_SCRIPT - 1;
    r->argv[2] = nkeys;
    r->argvlen[2] = (size_t)snprintf(nkeys, sizeof nkeys, "%zu", (size_t)keys->elements);
    for (size_t i = 0; i < keys->elements; i++) {
        r->argv[3 + i] = keys->element[i]->str;
        r->argvlen[3 + i] = keys->element[i]->len;
    }
    r->argv[3 + keys->elements] = nh;
    r->argvlen[3 + keys->elements] = (size_t)snprintf(nh, sizeof nh, "%llu", (unsigned long long)((uint64_t)now >> 32));
    r->argv[4 + keys->elements] = nl;
    r->argvlen[4 + keys->elements] =
        (size_t)snprintf(nl, sizeof nl, "%llu", (unsigned long long)((uint64_t)now & 0xffffffffu));
    st = append(r, 5 + (int)keys->elements, "EVAL sweep", err);
    freeReplyObject(rep); /* hiredis copied the keys into its buffer */
    rep = NULL;
    if (st != PR_OK || (st = redis_exchange(r, 1, &rep, "EVAL sweep", err)) != PR_OK) {
        out->removed = 0;
        return redis_fail(r, err, st);
    }
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0) out->removed = (uint64_t)rep->integer;
    else st = pr_err_set(err, PR_ERR_IO, "store '%s': EVAL sweep: unexpected reply", r->cfg.name);
    freeReplyObject(rep);
    return st == PR_OK ? PR_OK : redis_fail(r, err, st);
}

const pr_store_api pr__store_redis_api = {
    "redis", redis_open, redis_close, redis_put_batch, redis_get_batch, redis_del, redis_sweep, redis_stats,
};
