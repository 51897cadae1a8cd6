/*
 * log_redis.c: the "redis-stream:" backend of the event log (pronto/log.h),
 * one Redis stream per log, through hiredis. docs/log.md "redis-stream:".
 *
 * URI. redis-stream:HOST:PORT/KEY or redis-stream:unix:PATH/KEY, parsed by
 * the store's parser (src/store/store_redis_uri.c: address, timeouts, db);
 * this file adds maxlen=, claim_ms= and refuses fsync= (durability is
 * Redis' own appendfsync).
 *
 * Records. One stream entry per record, fields "t" (type, decimal), "ts"
 * (event ms, decimal) and "p" (payload, binary-safe). An append of n > 1
 * records is MULTI, n XADDs, EXEC, sent as one pipeline: all or none (a
 * connection lost before EXEC reaches Redis leaves a transaction Redis
 * discards); n = 1 is one XADD. An append whose reply was not read is
 * reported failed (it may still have been applied: at-least-once, never an
 * acknowledged loss). A position is the entry id ms-seq (pos.a, pos.b).
 *
 * Readers. Each reader has its own connection (a reader belongs to one
 * thread, appends may run meanwhile). Plain readers (FROM_START, FROM_TIME,
 * AFTER_POS) read XRANGE batches of RS_BATCH entries after the last id they
 * handed out; FROM_TIME skips, in log order, records with ts < from_ms (a
 * scan: entry ids are arrival times, not event times). A consumer reader
 * (PR_LOG_CONSUMER) uses the consumer group named like the consumer, and
 * the same name as the Redis consumer inside it, in three phases: its own
 * pending entries (XREADGROUP ... id, from 0), then entries of other
 * consumers of the group idle longer than claim_ms (XAUTOCLAIM), then new
 * ones (XREADGROUP ... >). It keeps the ids it handed out and has not
 * committed (`delivered`, sorted); an entry already among them is never
 * handed out twice in one reader (XAUTOCLAIM may return the reader's own,
 * and after a lost connection the reader re-reads its pending entries from
 * 0, since the lost reply's entries are pending for it now). The group is
 * created (and recreated on NOGROUP) after the consumer's last commit, 0
 * if none. A commit is MULTI, XACK of every delivered id <= pos, HSET
 * KEY:consumers NAME "ms-seq\nMETA", EXEC; pr_log_consumers lists that
 * hash (HGETALL) in name order. verify and compact are log.c's defaults (verify reads every
 * entry; nothing to compact: retention is maxlen).
 *
 * Failures. Connect and command timeouts are socket-level. A lost
 * connection is freed (a late reply would pair with the wrong command);
 * the next call reconnects, at most once per RS_RECONNECT_GAP (calls in
 * between fail at once with PR_ERR_IO naming the server). Nothing is
 * retried inside a call. SIGPIPE is guarded as in the store
 * (store_redis_int.h).
 *
 * Ownership: the log owns its config and RS_SLOTS connections, each
 * guarded by its mutex: an append takes a free one (or waits for one), so
 * appends of several threads run in parallel; stats and the consumer list
 * use the first. A reader owns its
 * connection and the last reply, into which the record it handed out
 * points until the next call.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log_int.h"
#include "store/store_redis_int.h"

#define RS_BATCH "1000"              /* entries per XRANGE / XREADGROUP / XAUTOCLAIM */
#define RS_RECONNECT_GAP 0.1         /* seconds between reconnect attempts */
#define RS_CLAIM_MS_DEFAULT 30000
#define RS_CLAIM_MS_MAX 86400000
#define RS_MS_PER_MIB 100            /* extra timeout per MiB an append carries */
#define RS_XACK_CHUNK 4096           /* ids per XACK command */
#define RS_ID_MAX 48                 /* "ms-seq" text, NUL included */

/* ---------------------------------------------------------------- URI */

typedef struct rs_opts {
    long long maxlen;  /* 0: none */
    int claim_ms;
    unsigned seen;
} rs_opts;

static int num_in(const char *s, size_t n, long long lo, long long hi, long long *out) {
    long long v = 0;
    if (n == 0 || n > 19) return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
        if (v > hi) return 0;
    }
    if (v < lo) return 0;
    *out = v;
    return 1;
}

static pr_status rs_option(void *ctx, const char *what, const char *name, size_t nl,
                           const char *val, size_t vl, pr_err *err) {
    rs_opts *o = ctx;
    long long v;
    unsigned bit;
    if (nl == 5 && !memcmp(name, "fsync", 5))
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s: fsync= is not an option of redis-stream: durability is Redis' own "
                          "appendfsync (always: a reply means on disk; everysec: up to 1 s lost on "
                          "power loss), set in the server's configuration",
                          what);
    if (nl == 6 && !memcmp(name, "maxlen", 6)) bit = 1;
    else if (nl == 8 && !memcmp(name, "claim_ms", 8)) bit = 2;
    else return PR_ERR_NOTFOUND;
    if (!val)
        return pr_err_set(err, PR_ERR_INVALID, "%s: option '%.*s' needs '=VALUE'", what, (int)nl,
                          name);
    if (o->seen & bit)
        return pr_err_set(err, PR_ERR_INVALID, "%s: option '%.*s' given twice", what, (int)nl, name);
    o->seen |= bit;
    if (bit == 1) {
        if (!num_in(val, vl, 0, (long long)1 << 50, &v))
            return pr_err_set(err, PR_ERR_INVALID,
                              "%s: maxlen '%.*s' is not a number of entries in 0..2^50 (0: keep all)",
                              what, (int)vl, val);
        o->maxlen = v;
    } else {
        if (!num_in(val, vl, 1, RS_CLAIM_MS_MAX, &v))
            return pr_err_set(err, PR_ERR_INVALID,
                              "%s: claim_ms '%.*s' is not a number of milliseconds in 1..%d", what,
                              (int)vl, val, RS_CLAIM_MS_MAX);
        o->claim_ms = (int)v;
    }
    return PR_OK;
}

static pr_status rs_parse(const char *arg, pr__redis_config *cfg, rs_opts *o, pr_err *err) {
    memset(o, 0, sizeof *o);
    o->claim_ms = RS_CLAIM_MS_DEFAULT;
    pr__redis_uri_spec spec = {"redis-stream", 1,
                               "connect_timeout_ms, timeout_ms, db, maxlen or claim_ms", rs_option,
                               o};
    return pr__redis_config_parse_spec(&spec, arg, cfg, err);
}

pr_status pr__log_redis_uri_check(const char *arg, pr_err *err) {
    pr__redis_config cfg;
    rs_opts o;
    pr_status st = rs_parse(arg, &cfg, &o, err);
    if (st != PR_OK) return st;
    if (!cfg.key || cfg.key_len == 0 || !cfg.name || o.maxlen < 0 || o.claim_ms < 1) abort();
    pr__redis_config_free(&cfg);
    return PR_OK;
}

/* ---------------------------------------------------------------- ids */

static void id_format(pr_log_pos pos, char *buf, size_t cap) {
    snprintf(buf, cap, "%llu-%llu", (unsigned long long)pos.a, (unsigned long long)pos.b);
}

static int u64_parse(const char *s, size_t n, uint64_t *out) {
    uint64_t v = 0;
    if (n == 0 || n > 20) return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* "ms-seq" of [s, s+n). */
static int id_parse(const char *s, size_t n, pr_log_pos *out) {
    const char *dash = memchr(s, '-', n);
    if (!dash) return 0;
    return u64_parse(s, (size_t)(dash - s), &out->a) &&
           u64_parse(dash + 1, n - (size_t)(dash + 1 - s), &out->b);
}

static void rs_pos_format(pr_log_pos pos, char *buf, size_t cap) { id_format(pos, buf, cap); }

static pr_status rs_pos_parse(const char *text, pr_log_pos *out, pr_err *err) {
    if (!id_parse(text, strlen(text), out))
        return pr_err_set(err, PR_ERR_PARSE,
                          "log position '%.60s': expected a Redis stream entry id MS-SEQ", text);
    return PR_OK;
}

/* ---------------------------------------------------------------- connection */

typedef struct rs_conn {
    const pr__redis_config *cfg;
    redisContext *c;         /* NULL while disconnected */
    double next_connect_at;  /* pr_now(): no reconnect attempt before */
    char last_error[256];
    uint64_t losses;         /* connections lost (readers resync on a change) */
} rs_conn;

static pr_status rs_lost(rs_conn *k, int saved_errno, const char *what, pr_err *err) {
    context_reason(k->c, saved_errno, k->cfg->timeout_ms, k->last_error, sizeof k->last_error);
    redisFree(k->c);
    k->c = NULL;
    k->next_connect_at = 0;  /* the server may be back already */
    k->losses++;
    return pr_err_set(err, PR_ERR_IO, "log '%s': %s: %s", k->cfg->name, what, k->last_error);
}

static pr_status rs_connect(rs_conn *k, pr_err *err) {
    const pr__redis_config *cfg = k->cfg;
    redisContext *c;
    redisReply *reply;
    char dbnum[16];
    const char *argv[2] = {"SELECT", dbnum};
    size_t argvlen[2] = {6, 0};
    sigpipe_guard g;
    int saved_errno;

    if (cfg->path) c = redisConnectUnixWithTimeout(cfg->path, ms_to_tv(cfg->connect_timeout_ms));
    else c = redisConnectWithTimeout(cfg->host, cfg->port, ms_to_tv(cfg->connect_timeout_ms));
    if (!c) return pr_err_set(err, PR_ERR_NOMEM, "log '%s': out of memory for a connection", cfg->name);
    if (c->err) {
        snprintf(k->last_error, sizeof k->last_error, "cannot connect (connect_timeout_ms=%d): %s",
                 cfg->connect_timeout_ms, c->errstr[0] ? c->errstr : "unknown hiredis error");
        redisFree(c);
        return pr_err_set(err, PR_ERR_IO, "log '%s': %s", cfg->name, k->last_error);
    }
    if (redisSetTimeout(c, ms_to_tv(cfg->timeout_ms)) != REDIS_OK) {
        snprintf(k->last_error, sizeof k->last_error, "cannot set timeouts: %s", c->errstr);
        redisFree(c);
        return pr_err_set(err, PR_ERR_IO, "log '%s': %s", cfg->name, k->last_error);
    }
    if (!cfg->path) redisEnableKeepAlive(c);
    argvlen[1] = (size_t)snprintf(dbnum, sizeof dbnum, "%d", cfg->db);
    sigpipe_block(&g);
    reply = cfg->db ? redisCommandArgv(c, 2, argv, argvlen) : redisCommand(c, "PING");
    saved_errno = errno;
    sigpipe_restore(&g, reply == NULL);
    if (!reply) {
        context_reason(c, saved_errno, cfg->timeout_ms, k->last_error, sizeof k->last_error);
        redisFree(c);
        return pr_err_set(err, PR_ERR_IO, "log '%s': connected, but %s: %s", cfg->name,
                          cfg->db ? "SELECT" : "PING", k->last_error);
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(k->last_error, sizeof k->last_error, "%s refused: %.*s", cfg->db ? "SELECT" : "PING",
                 (int)reply->len, reply->str);
        freeReplyObject(reply);
        redisFree(c);
        return pr_err_set(err, PR_ERR_IO, "log '%s': %s", cfg->name, k->last_error);
    }
    freeReplyObject(reply);
    k->c = c;
    return PR_OK;
}

/* Makes sure a connection exists. */
static pr_status rs_ready(rs_conn *k, pr_err *err) {
    if (k->c) return PR_OK;
    double now = pr_now();
    if (now < k->next_connect_at)
        return pr_err_set(err, PR_ERR_IO, "log '%s': not connected (%s); next attempt in %.0f ms",
                          k->cfg->name, k->last_error, (k->next_connect_at - now) * 1e3);
    pr_status st = rs_connect(k, err);
    if (st != PR_OK) k->next_connect_at = pr_now() + RS_RECONNECT_GAP;
    return st;
}

static void rs_drop(rs_conn *k) {
    if (k->c) redisFree(k->c);
    k->c = NULL;
    k->losses++;
}

/* Appends one command to the output buffer. A failure here leaves a
 * half-built pipeline: the connection is dropped. */
static pr_status rs_queue(rs_conn *k, int argc, const char **argv, const size_t *argvlen,
                          const char *what, pr_err *err) {
    if (redisAppendCommandArgv(k->c, argc, argv, argvlen) != REDIS_OK) {
        rs_drop(k);
        snprintf(k->last_error, sizeof k->last_error, "a pipeline was abandoned half-built");
        return pr_err_set(err, PR_ERR_NOMEM, "log '%s': %s: out of memory", k->cfg->name, what);
    }
    return PR_OK;
}

/* Sends what was queued and reads n replies; the last is returned in *last
 * (owned by caller). An error reply anywhere fails with Redis' message (the
 * connection stays usable); a lost connection fails with PR_ERR_IO. */
static pr_status rs_exchange(rs_conn *k, size_t n, redisReply **last, const char *what,
                             pr_err *err) {
    char replied[256];
    int saved_errno = 0;
    if (pr__redis_read_replies(k->c, n, last, replied, sizeof replied, &saved_errno) != 0)
        return rs_lost(k, saved_errno, what, err);
    if (!*last)
        return pr_err_set(err, PR_ERR_IO, "log '%s': %s: Redis replied: %s", k->cfg->name, what,
                          replied);
    return PR_OK;
}

/* One command, one reply. */
static pr_status rs_command(rs_conn *k, int argc, const char **argv, const size_t *argvlen,
                            const char *what, redisReply **out, pr_err *err) {
    pr_status st = rs_ready(k, err);
    if (st == PR_OK) st = rs_queue(k, argc, argv, argvlen, what, err);
    if (st == PR_OK) st = rs_exchange(k, 1, out, what, err);
    return st;
}

static size_t argl(const char **argv, size_t *len, int argc) {
    for (int i = 0; i < argc; i++) len[i] = strlen(argv[i]);
    return (size_t)argc;
}

/* ---------------------------------------------------------------- log */

/* Connections of one log handle: appends from several threads go out on
 * several connections at once instead of queueing behind one round trip
 * (Redis orders them as they arrive). */
#define RS_SLOTS 4

typedef struct rs_slot {
    pthread_mutex_t mu;   /* guards conn */
    rs_conn conn;         /* connected on first use */
} rs_slot;

typedef struct rs_log {
    pr__redis_config cfg;
    rs_opts opts;
    char maxlen_text[24];
    char *consumers_key;  /* KEY:consumers */
    rs_slot slot[RS_SLOTS]; /* slot 0 also serves stats and consumers */
    unsigned next_slot;   /* atomic: where a caller finding all busy waits */
    uint64_t appended;    /* atomic */
} rs_log;

/* A free slot if there is one, else the next in turn (waiting for it);
 * returned locked. */
static rs_slot *slot_take(rs_log *l) {
    for (int i = 0; i < RS_SLOTS; i++)
        if (pthread_mutex_trylock(&l->slot[i].mu) == 0) return &l->slot[i];
    rs_slot *s = &l->slot[__atomic_fetch_add(&l->next_slot, 1, __ATOMIC_RELAXED) % RS_SLOTS];
    pthread_mutex_lock(&s->mu);
    return s;
}

static void rs_close(void *impl) {
    rs_log *l = impl;
    if (!l) return;
    for (int i = 0; i < RS_SLOTS; i++) {
        if (l->slot[i].conn.c) redisFree(l->slot[i].conn.c);
        pthread_mutex_destroy(&l->slot[i].mu);
    }
    free(l->consumers_key);
    pr__redis_config_free(&l->cfg);
    free(l);
}

static pr_status rs_open(const char *arg, int mode, void **impl, pr_err *err) {
    rs_log *l = calloc(1, sizeof *l);
    pr_status st;
    redisReply *rep = NULL;
    if (!l) return pr_err_set(err, PR_ERR_NOMEM, "log URI 'redis-stream:%s': out of memory", arg);
    for (int i = 0; i < RS_SLOTS; i++) {
        pthread_mutex_init(&l->slot[i].mu, NULL);
        l->slot[i].conn.cfg = &l->cfg;
    }
    if ((st = rs_parse(arg, &l->cfg, &l->opts, err)) != PR_OK) goto fail;
    snprintf(l->maxlen_text, sizeof l->maxlen_text, "%lld", l->opts.maxlen);
    l->consumers_key = malloc(l->cfg.key_len + 11);
    if (!l->consumers_key) {
        st = pr_err_set(err, PR_ERR_NOMEM, "log '%s': out of memory", l->cfg.name);
        goto fail;
    }
    snprintf(l->consumers_key, l->cfg.key_len + 11, "%s:consumers", l->cfg.key);
    /* Reachable, and KEY a stream or absent. */
    const char *argv[2] = {"TYPE", l->cfg.key};
    size_t len[2];
    if ((st = rs_command(&l->slot[0].conn, (int)argl(argv, len, 2), argv, len, "TYPE", &rep, err)) != PR_OK)
        goto fail;
    if (rep->type != REDIS_REPLY_STATUS ||
        (strcmp(rep->str, "stream") != 0 && strcmp(rep->str, "none") != 0)) {
        st = pr_err_set(err, PR_ERR_FORMAT, "log '%s': key '%s' holds a %s, not a stream",
                        l->cfg.name, l->cfg.key, rep->type == REDIS_REPLY_STATUS ? rep->str : "?");
        freeReplyObject(rep);
        goto fail;
    }
    freeReplyObject(rep);
    (void)mode;
    *impl = l;
    return PR_OK;
fail:
    rs_close(l);
    return st;
}

static pr_status rs_append(void *impl, const pr_log_entry *recs, uint32_t n, pr_log_pos *last,
                           pr_err *err) {
    rs_log *l = impl;
    rs_slot *slot = slot_take(l);
    rs_conn *k = &slot->conn;
    const char *argv[12];
    size_t len[12];
    char type[16], ts[24];
    redisReply *rep = NULL;
    size_t bytes = 0;
    int multi = n > 1;
    pr_status st;

    if ((st = rs_ready(k, err)) != PR_OK) goto out;
    if (multi) {
        argv[0] = "MULTI";
        if ((st = rs_queue(k, (int)argl(argv, len, 1), argv, len, "MULTI", err)) != PR_OK) goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        int a = 0;
        argv[a++] = "XADD";
        argv[a++] = l->cfg.key;
        if (l->opts.maxlen > 0) {
            argv[a++] = "MAXLEN";
            argv[a++] = "~";
            argv[a++] = l->maxlen_text;
        }
        argv[a++] = "*";
        argv[a++] = "t";
        snprintf(type, sizeof type, "%u", recs[i].type);
        argv[a++] = type;
        argv[a++] = "ts";
        snprintf(ts, sizeof ts, "%lld", (long long)recs[i].ts_ms);
        argv[a++] = ts;
        argv[a++] = "p";
        argl(argv, len, a);
        argv[a] = recs[i].payload.len ? (const char *)recs[i].payload.ptr : "";
        len[a++] = recs[i].payload.len;
        bytes += recs[i].payload.len;
        if ((st = rs_queue(k, a, argv, len, "XADD", err)) != PR_OK) goto out;
    }
    if (multi) {
        argv[0] = "EXEC";
        if ((st = rs_queue(k, (int)argl(argv, len, 1), argv, len, "EXEC", err)) != PR_OK) goto out;
    }
    /* A big batch takes Redis longer: its bound grows with its size. */
    int bulk_ms = bytes < ((size_t)64 << 10) ? 0 : (int)(((bytes >> 20) + 1) * RS_MS_PER_MIB);
    if (bulk_ms) redisSetTimeout(k->c, ms_to_tv(k->cfg->timeout_ms + bulk_ms));
    st = rs_exchange(k, n + (multi ? 2u : 0u), &rep, multi ? "MULTI/XADD/EXEC" : "XADD", err);
    if (bulk_ms && k->c) redisSetTimeout(k->c, ms_to_tv(k->cfg->timeout_ms));
    if (st != PR_OK) goto out;
    const redisReply *id = rep;
    if (multi) {
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) {
            st = pr_err_set(err, PR_ERR_IO, "log '%s': EXEC: transaction not executed (reply type %d)",
                            l->cfg.name, rep->type);
            goto out;
        }
        for (size_t i = 0; i < rep->elements; i++)
            if (rep->element[i]->type == REDIS_REPLY_ERROR) {
                st = pr_err_set(err, PR_ERR_IO, "log '%s': XADD in EXEC: Redis replied: %.*s",
                                l->cfg.name, (int)rep->element[i]->len, rep->element[i]->str);
                goto out;
            }
        id = rep->element[n - 1];
    }
    if (id->type != REDIS_REPLY_STRING || !id_parse(id->str, id->len, last)) {
        st = pr_err_set(err, PR_ERR_IO, "log '%s': XADD: unexpected reply (type %d)", l->cfg.name,
                        id->type);
        goto out;
    }
    __atomic_fetch_add(&l->appended, n, __ATOMIC_RELAXED);
out:
    if (rep) freeReplyObject(rep);
    pthread_mutex_unlock(&slot->mu);
    return st;
}

/* "name", value pairs of an XINFO reply (RESP2: a flat array). */
static const redisReply *info_field(const redisReply *r, const char *name) {
    if (r->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && !strcmp(r->element[i]->str, name))
            return r->element[i + 1];
    return NULL;
}

static int entry_ts(const redisReply *e, int64_t *ts);

static void rs_stats(void *impl, pr_log_stats *out) {
    rs_log *l = impl;
    redisReply *rep = NULL;
    pr_err err;
    const char *argv[5] = {"XINFO", "STREAM", l->cfg.key};
    size_t len[5];
    pthread_mutex_lock(&l->slot[0].mu);
    out->appended = __atomic_load_n(&l->appended, __ATOMIC_RELAXED);
    if (rs_command(&l->slot[0].conn, (int)argl(argv, len, 3), argv, len, "XINFO STREAM", &rep, &err) == PR_OK) {
        const redisReply *f = info_field(rep, "length");
        if (f && f->type == REDIS_REPLY_INTEGER && f->integer > 0) {
            out->records = (uint64_t)f->integer;
            out->segments = 1;
            int64_t a = 0, b = 0;
            f = info_field(rep, "first-entry");
            if (f && entry_ts(f, &a)) out->min_ts_ms = a;
            f = info_field(rep, "last-entry");
            if (f && entry_ts(f, &b)) out->max_ts_ms = b;
            if (out->min_ts_ms > out->max_ts_ms) {
                out->min_ts_ms = b;
                out->max_ts_ms = a;
            }
        }
        freeReplyObject(rep);
        rep = NULL;
        argv[0] = "MEMORY";
        argv[1] = "USAGE";
        if (out->records &&
            rs_command(&l->slot[0].conn, (int)argl(argv, len, 3), argv, len, "MEMORY USAGE", &rep, &err) ==
                PR_OK) {
            if (rep->type == REDIS_REPLY_INTEGER && rep->integer > 0) out->bytes = (uint64_t)rep->integer;
            freeReplyObject(rep);
        }
    }
    pthread_mutex_unlock(&l->slot[0].mu);
}

/* ---------------------------------------------------------------- entries */

/* The fields of an entry [id, [k, v, ...]]; 0 with *why if malformed. */
static int entry_decode(const redisReply *e, uint32_t *type, int64_t *ts, pr_bytes *payload,
                        const char **why) {
    const redisReply *f = e->element[1];
    int have = 0;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (k->len == 1 && k->str[0] == 't') {
            uint64_t x;
            if (!u64_parse(v->str, v->len, &x) || x > UINT32_MAX) {
                *why = "field t (type) is not a number in 0..2^32-1";
                return 0;
            }
            *type = (uint32_t)x;
            have |= 1;
        } else if (k->len == 2 && k->str[0] == 't' && k->str[1] == 's') {
            uint64_t x;
            int neg = v->len > 0 && v->str[0] == '-';
            if (!u64_parse(v->str + neg, v->len - (size_t)neg, &x) ||
                x > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
                *why = "field ts (event time) is not an int64 number of ms";
                return 0;
            }
            *ts = neg ? (int64_t)(0 - x) : (int64_t)x;
            have |= 2;
        } else if (k->len == 1 && k->str[0] == 'p') {
            if (v->len > PR_LOG_PAYLOAD_MAX) {
                *why = "field p (payload) is longer than PR_LOG_PAYLOAD_MAX";
                return 0;
            }
            *payload = pr_bytes_of(v->str, v->len);
            have |= 4;
        }
    }
    if (have != 7) {
        *why = !(have & 1) ? "field t (type) missing" : !(have & 2) ? "field ts (event time) missing"
                                                                    : "field p (payload) missing";
        return 0;
    }
    return 1;
}

/* An entry's shape: [id string, fields array or nil]. */
static int entry_shape(const redisReply *e) {
    return e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
           e->element[0]->type == REDIS_REPLY_STRING &&
           (e->element[1]->type == REDIS_REPLY_ARRAY || e->element[1]->type == REDIS_REPLY_NIL);
}

static int entry_ts(const redisReply *e, int64_t *ts) {
    uint32_t t;
    pr_bytes p;
    const char *why;
    return entry_shape(e) && e->element[1]->type == REDIS_REPLY_ARRAY &&
           entry_decode(e, &t, ts, &p, &why);
}

/* ---------------------------------------------------------------- readers */

enum { PH_PLAIN, PH_OWN, PH_CLAIM, PH_NEW };

typedef struct rs_reader {
    rs_log *log;
    rs_conn conn;
    int phase;
    int skip_corrupt;
    uint64_t corrupt;
    int seeking;               /* FROM_TIME: still skipping ts < from_ms */
    int64_t from_ms;
    int have_cursor;           /* PH_PLAIN: cursor = last id handed out */
    pr_log_pos cursor;
    redisReply *batch;         /* owns the entries being handed out */
    const redisReply *entries; /* array inside batch */
    size_t idx;
    int claim_done;            /* PH_CLAIM: the cursor came back to 0-0 */
    uint64_t losses_seen;      /* conn.losses when the phase began */
    /* consumers */
    char *group;
    char own_cursor[RS_ID_MAX];
    char claim_cursor[RS_ID_MAX];
    char claim_ms[16];
    char group_from[RS_ID_MAX]; /* the last commit known ("0": none) */
    pr_log_pos *delivered;     /* handed out, not committed, sorted */
    size_t n_delivered, cap_delivered;
    char *meta;                /* the commit the reader started from */
} rs_reader;

static void rs_reader_close(void *impl) {
    rs_reader *r = impl;
    if (!r) return;
    if (r->batch) freeReplyObject(r->batch);
    if (r->conn.c) redisFree(r->conn.c);
    free(r->group);
    free(r->delivered);
    free(r->meta);
    free(r);
}

/* Index of the first delivered id >= p. */
static size_t delivered_lower(const rs_reader *r, pr_log_pos p) {
    size_t lo = 0, hi = r->n_delivered;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pr_log_pos_cmp(r->delivered[mid], p) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int delivered_has(const rs_reader *r, pr_log_pos p) {
    size_t i = delivered_lower(r, p);
    return i < r->n_delivered && pr_log_pos_cmp(r->delivered[i], p) == 0;
}

static pr_status delivered_add(rs_reader *r, pr_log_pos p, pr_err *err) {
    if (r->n_delivered == r->cap_delivered) {
        size_t cap = r->cap_delivered ? 2 * r->cap_delivered : 1024;
        pr_log_pos *d = realloc(r->delivered, cap * sizeof *d);
        if (!d) return pr_err_set(err, PR_ERR_NOMEM, "log '%s': out of memory", r->log->cfg.name);
        r->delivered = d;
        r->cap_delivered = cap;
    }
    size_t i = delivered_lower(r, p);
    if (i < r->n_delivered)
        memmove(r->delivered + i + 1, r->delivered + i, (r->n_delivered - i) * sizeof *r->delivered);
    r->delivered[i] = p;
    r->n_delivered++;
    return PR_OK;
}

/* XGROUP CREATE KEY NAME <group_from> MKSTREAM: a new group starts after
 * the consumer's last commit (0: the start), so a group lost with a Redis
 * restart without AOF, or destroyed, comes back where the commits say.
 * BUSYGROUP (it exists) is success. */
static pr_status group_create(rs_reader *r, pr_err *err) {
    const char *argv[6] = {"XGROUP", "CREATE", r->log->cfg.key, r->group, r->group_from, "MKSTREAM"};
    size_t len[6];
    redisReply *rep = NULL;
    pr_err gerr;
    pr_status st = rs_command(&r->conn, (int)argl(argv, len, 6), argv, len, "XGROUP CREATE", &rep, &gerr);
    if (rep) freeReplyObject(rep);
    if (st == PR_OK || (r->conn.c && strstr(gerr.msg, "BUSYGROUP"))) return PR_OK;
    if (err) *err = gerr;
    return st;
}

static pr_status rs_reader_open(void *impl, const pr_log_start *start, void **out, int *skipped,
                                pr_err *err) {
    rs_log *l = impl;
    rs_reader *r = calloc(1, sizeof *r);
    redisReply *rep = NULL;
    pr_status st = PR_OK;
    const char *argv[8];
    size_t len[8];
    char id[RS_ID_MAX];

    if (!r) return pr_err_set(err, PR_ERR_NOMEM, "log '%s': out of memory", l->cfg.name);
    r->log = l;
    r->conn.cfg = &l->cfg;
    r->skip_corrupt = start->skip_corrupt;
    r->phase = PH_PLAIN;
    if ((st = rs_ready(&r->conn, err)) != PR_OK) goto fail;
    switch (start->kind) {
    case PR_LOG_FROM_TIME:
        r->seeking = 1;
        r->from_ms = start->from_ms;
        break;
    case PR_LOG_AFTER_POS:
        /* The position of an entry that is there; or one older than the
         * first entry kept (retention dropped it: skipped). */
        id_format(start->after, id, sizeof id);
        argv[0] = "XRANGE", argv[1] = l->cfg.key, argv[2] = id, argv[3] = id;
        if ((st = rs_command(&r->conn, (int)argl(argv, len, 4), argv, len, "XRANGE", &rep, err)) != PR_OK)
            goto fail;
        int there = rep->type == REDIS_REPLY_ARRAY && rep->elements == 1;
        freeReplyObject(rep);
        rep = NULL;
        if (!there) {
            argv[2] = "-", argv[3] = "+", argv[4] = "COUNT", argv[5] = "1";
            if ((st = rs_command(&r->conn, (int)argl(argv, len, 6), argv, len, "XRANGE", &rep, err)) != PR_OK)
                goto fail;
            pr_log_pos first;
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 && entry_shape(rep->element[0]) &&
                id_parse(rep->element[0]->element[0]->str, rep->element[0]->element[0]->len, &first) &&
                pr_log_pos_cmp(start->after, first) < 0) {
                *skipped = 1;
            } else {
                st = pr_err_set(err, PR_ERR_INVALID,
                                "log '%s': position %s is not the id of an entry of the stream", l->cfg.name,
                                id);
                goto fail;
            }
            freeReplyObject(rep);
            rep = NULL;
        }
        r->have_cursor = 1;
        r->cursor = start->after;
        break;
    case PR_LOG_CONSUMER: {
        size_t n = strlen(start->consumer);
        if (!(r->group = malloc(n + 1))) {
            st = pr_err_set(err, PR_ERR_NOMEM, "log '%s': out of memory", l->cfg.name);
            goto fail;
        }
        memcpy(r->group, start->consumer, n + 1);
        r->phase = PH_OWN;
        memcpy(r->own_cursor, "0", 2);
        memcpy(r->claim_cursor, "0-0", 4);
        snprintf(r->claim_ms, sizeof r->claim_ms, "%d", l->opts.claim_ms);
        memcpy(r->group_from, "0", 2);
        argv[0] = "HGET", argv[1] = l->consumers_key, argv[2] = r->group;
        if ((st = rs_command(&r->conn, (int)argl(argv, len, 3), argv, len, "HGET", &rep, err)) != PR_OK)
            goto fail;
        if (rep->type == REDIS_REPLY_STRING) {
            const char *nl = memchr(rep->str, '\n', rep->len);
            pr_log_pos cpos;
            if (nl && id_parse(rep->str, (size_t)(nl - rep->str), &cpos))
                id_format(cpos, r->group_from, sizeof r->group_from);
            size_t ml = nl ? rep->len - (size_t)(nl + 1 - rep->str) : 0;
            if (!(r->meta = malloc(ml + 1))) {
                st = pr_err_set(err, PR_ERR_NOMEM, "log '%s': out of memory", l->cfg.name);
                goto fail;
            }
            if (ml) memcpy(r->meta, nl + 1, ml);
            r->meta[ml] = '\0';
        }
        freeReplyObject(rep);
        rep = NULL;
        if ((st = group_create(r, err)) != PR_OK) goto fail;
        break;
    }
    default:
        break;
    }
    r->losses_seen = r->conn.losses;
    *out = r;
    return PR_OK;
fail:
    if (rep) freeReplyObject(rep);
    rs_reader_close(r);
    return st;
}

/* The entry after p: p with seq + 1 (XRANGE's start is inclusive). */
static pr_log_pos pos_succ(pr_log_pos p) {
    if (p.b == UINT64_MAX) return (pr_log_pos){p.a + 1, 0};
    return (pr_log_pos){p.a, p.b + 1};
}

/* Fetches the next batch into r->batch / r->entries for the current phase.
 * PR_EOF: nothing more now (phases advance by themselves). */
static pr_status rs_fetch(rs_reader *r, pr_err *err) {
    rs_log *l = r->log;
    const char *argv[12];
    size_t len[12];
    char id[RS_ID_MAX];
    redisReply *rep = NULL;
    pr_status st;

    if (r->batch) freeReplyObject(r->batch);
    r->batch = NULL;
    r->entries = NULL;
    r->idx = 0;
    if (r->phase != PH_PLAIN && r->conn.losses != r->losses_seen) {
        /* A reply was lost with the connection: what it carried is pending
         * for us now, so re-read our pending entries (duplicates of what
         * we handed out are filtered). */
        r->phase = PH_OWN;
        memcpy(r->own_cursor, "0", 2);
        memcpy(r->claim_cursor, "0-0", 4);
        r->claim_done = 0;
    }
    for (int recreated = 0;;) {
        int argc = 0;
        const char *what;
        if ((st = rs_ready(&r->conn, err)) != PR_OK) return st;
        r->losses_seen = r->conn.losses;
        if (r->phase == PH_PLAIN) {
            what = "XRANGE";
            if (r->have_cursor) id_format(pos_succ(r->cursor), id, sizeof id);
            else memcpy(id, "-", 2);
            argv[argc++] = "XRANGE", argv[argc++] = l->cfg.key, argv[argc++] = id;
            argv[argc++] = "+", argv[argc++] = "COUNT", argv[argc++] = RS_BATCH;
        } else if (r->phase == PH_CLAIM) {
            what = "XAUTOCLAIM";
            argv[argc++] = "XAUTOCLAIM", argv[argc++] = l->cfg.key, argv[argc++] = r->group;
            argv[argc++] = r->group, argv[argc++] = r->claim_ms, argv[argc++] = r->claim_cursor;
            argv[argc++] = "COUNT", argv[argc++] = RS_BATCH;
        } else {
            what = "XREADGROUP";
            argv[argc++] = "XREADGROUP", argv[argc++] = "GROUP", argv[argc++] = r->group;
            argv[argc++] = r->group, argv[argc++] = "COUNT", argv[argc++] = RS_BATCH;
            argv[argc++] = "STREAMS", argv[argc++] = l->cfg.key;
            argv[argc++] = r->phase == PH_OWN ? r->own_cursor : ">";
        }
        argl(argv, len, argc);
        pr_err ferr;
        if ((st = rs_command(&r->conn, argc, argv, len, what, &rep, &ferr)) != PR_OK) {
            if (r->phase != PH_PLAIN && !recreated && r->conn.c && strstr(ferr.msg, "NOGROUP")) {
                /* The group is gone (a restart without AOF, XGROUP DESTROY):
                 * again from the last commit, filtering what we handed out. */
                recreated = 1;
                if ((st = group_create(r, err)) != PR_OK) return st;
                r->phase = PH_OWN;
                memcpy(r->own_cursor, "0", 2);
                memcpy(r->claim_cursor, "0-0", 4);
                r->claim_done = 0;
                continue;
            }
            if (err) *err = ferr;
            return st;
        }
        const redisReply *ents = NULL;
        if (r->phase == PH_PLAIN) {
            ents = rep->type == REDIS_REPLY_ARRAY ? rep : NULL;
        } else if (r->phase == PH_CLAIM) {
            /* [next cursor, entries, deleted ids (Redis 7)] */
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
                rep->element[0]->type == REDIS_REPLY_STRING && rep->element[0]->len < RS_ID_MAX &&
                rep->element[1]->type == REDIS_REPLY_ARRAY) {
                memcpy(r->claim_cursor, rep->element[0]->str, rep->element[0]->len);
                r->claim_cursor[rep->element[0]->len] = '\0';
                r->claim_done = !strcmp(r->claim_cursor, "0-0");
                ents = rep->element[1];
            }
        } else if (rep->type == REDIS_REPLY_NIL) {
            ents = rep; /* no new entries: elements 0 */
        } else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
                   rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2 &&
                   rep->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
            ents = rep->element[0]->element[1];
        }
        if (!ents) {
            st = pr_err_set(err, PR_ERR_IO, "log '%s': %s: unexpected reply (type %d)", l->cfg.name, what,
                            rep->type);
            freeReplyObject(rep);
            return st;
        }
        for (size_t i = 0; i < ents->elements; i++)
            if (!entry_shape(ents->element[i])) {
                st = pr_err_set(err, PR_ERR_IO, "log '%s': %s: entry %zu has an unexpected shape",
                                l->cfg.name, what, i);
                freeReplyObject(rep);
                return st;
            }
        size_t got = rep->type == REDIS_REPLY_NIL ? 0 : ents->elements;
        if (r->phase == PH_OWN && got) {
            const redisReply *lastid = ents->element[got - 1]->element[0];
            if (lastid->len < RS_ID_MAX) {
                memcpy(r->own_cursor, lastid->str, lastid->len);
                r->own_cursor[lastid->len] = '\0';
            }
        }
        if (got) {
            r->batch = rep;
            r->entries = ents;
            if (r->phase == PH_CLAIM && r->claim_done) r->phase = PH_NEW;
            return PR_OK;
        }
        freeReplyObject(rep);
        rep = NULL;
        if (r->phase == PH_PLAIN || r->phase == PH_NEW) return PR_EOF;
        if (r->phase == PH_OWN) r->phase = PH_CLAIM;
        else if (r->claim_done) r->phase = PH_NEW;
    }
}

static pr_status rs_next(void *impl, pr_log_record *out, pr_err *err) {
    rs_reader *r = impl;
    pr_status st;
    for (;;) {
        if (!r->entries || r->idx >= r->entries->elements) {
            if ((st = rs_fetch(r, err)) != PR_OK) return st;
            continue;
        }
        const redisReply *e = r->entries->element[r->idx];
        pr_log_pos pos;
        const char *why = NULL;
        if (!id_parse(e->element[0]->str, e->element[0]->len, &pos))
            return pr_err_set(err, PR_ERR_IO, "log '%s': entry id '%.*s' is not MS-SEQ", r->log->cfg.name,
                              (int)e->element[0]->len, e->element[0]->str);
        if (r->phase != PH_PLAIN && delivered_has(r, pos)) {
            r->idx++; /* handed out already by this reader */
            continue;
        }
        if (e->element[1]->type == REDIS_REPLY_NIL) {
            /* pending, but trimmed from the stream: only to acknowledge */
            r->idx++;
            if ((st = delivered_add(r, pos, err)) != PR_OK) return st;
            continue;
        }
        uint32_t type = 0;
        int64_t ts = 0;
        pr_bytes payload = pr_bytes_of(NULL, 0);
        if (!entry_decode(e, &type, &ts, &payload, &why)) {
            if (!r->skip_corrupt)
                return pr_err_set(err, PR_ERR_FORMAT, "log '%s': entry %.*s: %s", r->log->cfg.name,
                                  (int)e->element[0]->len, e->element[0]->str, why);
            r->corrupt++;
        }
        r->idx++;
        if (r->phase == PH_PLAIN) {
            r->cursor = pos;
            r->have_cursor = 1;
        } else if ((st = delivered_add(r, pos, err)) != PR_OK) {
            return st;
        }
        if (why) continue;
        if (r->seeking && ts < r->from_ms) continue;
        r->seeking = 0;
        out->type = type;
        out->ts_ms = ts;
        out->payload = payload;
        out->pos = pos;
        return PR_OK;
    }
}

static pr_status rs_commit(void *impl, pr_log_pos pos, const char *meta, pr_err *err) {
    rs_reader *r = impl;
    rs_conn *k = &r->conn;
    rs_log *l = r->log;
    size_t upto = delivered_lower(r, pos_succ(pos)), n_cmds = 0;
    size_t meta_len = strlen(meta);
    char *value = malloc(RS_ID_MAX + meta_len + 1);
    const char **argv = malloc((3 + RS_XACK_CHUNK) * sizeof *argv);
    size_t *len = malloc((3 + RS_XACK_CHUNK) * sizeof *len);
    char *ids = malloc((size_t)RS_XACK_CHUNK * RS_ID_MAX);
    redisReply *rep = NULL;
    pr_status st;

    if (!value || !argv || !len || !ids) {
        st = pr_err_set(err, PR_ERR_NOMEM, "log '%s': out of memory", l->cfg.name);
        goto out;
    }
    if ((st = rs_ready(k, err)) != PR_OK) goto out;
    argv[0] = "MULTI";
    if ((st = rs_queue(k, (int)argl(argv, len, 1), argv, len, "MULTI", err)) != PR_OK) goto out;
    n_cmds++;
    for (size_t first = 0; first < upto; first += RS_XACK_CHUNK) {
        size_t m = upto - first < RS_XACK_CHUNK ? upto - first : RS_XACK_CHUNK;
        argv[0] = "XACK", argv[1] = l->cfg.key, argv[2] = r->group;
        argl(argv, len, 3);
        for (size_t i = 0; i < m; i++) {
            char *p = ids + i * RS_ID_MAX;
            id_format(r->delivered[first + i], p, RS_ID_MAX);
            argv[3 + i] = p;
            len[3 + i] = strlen(p);
        }
        if ((st = rs_queue(k, (int)(3 + m), argv, len, "XACK", err)) != PR_OK) goto out;
        n_cmds++;
    }
    id_format(pos, value, RS_ID_MAX);
    size_t vl = strlen(value);
    value[vl++] = '\n';
    memcpy(value + vl, meta, meta_len);
    vl += meta_len;
    argv[0] = "HSET", argv[1] = l->consumers_key, argv[2] = r->group, argv[3] = value;
    argl(argv, len, 3);
    len[3] = vl;
    if ((st = rs_queue(k, 4, argv, len, "HSET", err)) != PR_OK) goto out;
    argv[0] = "EXEC";
    if ((st = rs_queue(k, (int)argl(argv, len, 1), argv, len, "EXEC", err)) != PR_OK) goto out;
    n_cmds += 2;
    if ((st = rs_exchange(k, n_cmds, &rep, "commit (MULTI/XACK/HSET/EXEC)", err)) != PR_OK) goto out;
    if (rep->type != REDIS_REPLY_ARRAY) {
        st = pr_err_set(err, PR_ERR_IO, "log '%s': commit: EXEC not executed (reply type %d)", l->cfg.name,
                        rep->type);
        goto out;
    }
    for (size_t i = 0; i < rep->elements; i++)
        if (rep->element[i]->type == REDIS_REPLY_ERROR) {
            st = pr_err_set(err, PR_ERR_IO, "log '%s': commit: Redis replied: %.*s", l->cfg.name,
                            (int)rep->element[i]->len, rep->element[i]->str);
            goto out;
        }
    memmove(r->delivered, r->delivered + upto, (r->n_delivered - upto) * sizeof *r->delivered);
    r->n_delivered -= upto;
    id_format(pos, r->group_from, sizeof r->group_from);
out:
    if (rep) freeReplyObject(rep);
    free(value);
    free(argv);
    free(len);
    free(ids);
    return st;
}

/* HGETALL KEY:consumers, in name order. */
/* Sorts pointers to the name slots of the reply's name, value pairs. */
static int cmp_field(const void *a, const void *b) {
    const redisReply *x = **(redisReply **const *)a, *y = **(redisReply **const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->str, y->str, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static pr_status rs_consumers(void *impl, int (*fn)(void *ctx, const pr_log_consumer_info *c),
                              void *ctx, pr_err *err) {
    rs_log *l = impl;
    redisReply *rep = NULL;
    const char *argv[2] = {"HGETALL", l->consumers_key};
    size_t len[2];
    pr_status st;
    pthread_mutex_lock(&l->slot[0].mu);
    st = rs_command(&l->slot[0].conn, (int)argl(argv, len, 2), argv, len, "HGETALL", &rep, err);
    pthread_mutex_unlock(&l->slot[0].mu);
    if (st != PR_OK) return st;
    size_t n = rep->type == REDIS_REPLY_ARRAY ? rep->elements / 2 : 0;
    redisReply ***names = calloc(n ? n : 1, sizeof *names);
    char *meta = NULL;
    if (!names) {
        freeReplyObject(rep);
        return pr_err_set(err, PR_ERR_NOMEM, "log '%s': out of memory", l->cfg.name);
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = &rep->element[2 * i];
        if (names[i][0]->type != REDIS_REPLY_STRING || names[i][1]->type != REDIS_REPLY_STRING) {
            st = pr_err_set(err, PR_ERR_IO, "log '%s': HGETALL %s: unexpected reply", l->cfg.name,
                            l->consumers_key);
            goto out;
        }
    }
    qsort(names, n, sizeof *names, cmp_field);
    for (size_t i = 0; i < n; i++) {
        const redisReply *k = names[i][0], *v = names[i][1];
        const char *nl = memchr(v->str, '\n', v->len);
        pr_log_consumer_info c;
        char name[PR_LOG_CONSUMER_MAX + 1];
        if (!nl || k->len > PR_LOG_CONSUMER_MAX ||
            !id_parse(v->str, (size_t)(nl - v->str), &c.pos)) {
            st = pr_err_set(err, PR_ERR_FORMAT,
                            "log '%s': consumer '%.*s' in %s: the commit is not \"MS-SEQ\\nMETA\"",
                            l->cfg.name, (int)(k->len > 80 ? 80 : k->len), k->str,
                            l->consumers_key);
            goto out;
        }
        memcpy(name, k->str, k->len);
        name[k->len] = '\0';
        size_t ml = v->len - (size_t)(nl + 1 - v->str);
        free(meta);
        if (!(meta = malloc(ml + 1))) {
            st = pr_err_set(err, PR_ERR_NOMEM, "log '%s': out of memory", l->cfg.name);
            goto out;
        }
        memcpy(meta, nl + 1, ml);
        meta[ml] = '\0';
        c.name = name;
        c.meta = meta;
        if (fn(ctx, &c)) break;
    }
out:
    free(meta);
    free(names);
    freeReplyObject(rep);
    return st;
}

static const char *rs_commit_meta(void *impl) { return ((rs_reader *)impl)->meta; }

static uint64_t rs_corrupt(void *impl) { return ((rs_reader *)impl)->corrupt; }

const pr_log_api pr__log_redis_api = {
    .name = "redis-stream",
    .open = rs_open,
    .close = rs_close,
    .append = rs_append,
    .reader_open = rs_reader_open,
    .next = rs_next,
    .commit = rs_commit,
    .commit_meta = rs_commit_meta,
    .corrupt = rs_corrupt,
    .reader_close = rs_reader_close,
    .stats = rs_stats,
    .pos_format = rs_pos_format,
    .pos_parse = rs_pos_parse,
    .consumers = rs_consumers,
};
