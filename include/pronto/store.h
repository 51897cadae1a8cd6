/*
 * pronto/store.h: the online feature store. Rows of bytes addressed by
 * (entity, key), each with an optional expiry time, behind one interface with
 * several backends chosen by URI:
 *
 *   "mem:"              in-process hash table (lost at close)
 *   "lmdb:/path/to/dir" LMDB environment in that directory (created if absent);
 *                       "lmdb:/path?sync=0" skips the fsync of each commit
 *                       (synced at close; for bulk loads and ingestion)
 *   "redis://HOST:PORT[/DB][?OPTIONS]"   a Redis server over TCP
 *   "redis:HOST:PORT[/DB][?OPTIONS]"     the same, without the "//"
 *   "redis:unix:/path/to/sock[?OPTIONS]" a Redis server on a unix socket
 *
 * Redis URI details. HOST is a name, an IPv4 address or "[IPv6]"; PORT is
 * 1..65535 and required; DB is a database number 0..2^31-1 (default 0, also
 * settable as db=N for unix sockets). OPTIONS are NAME=VALUE pairs joined by
 * '&':
 *   connect_timeout_ms=N  bound on connecting (default 200)
 *   timeout_ms=N          bound on each socket read or write of a command
 *                         (default 100; a write of 64 KiB or more gets
 *                         100 ms more per MiB, rounded up)
 *   db=N                  database number (not together with "/DB")
 *   prefix=TEXT           namespace put before every key (default "pronto:",
 *                         may be empty: "prefix=")
 *   expire_grace_s=N      also set a native Redis expiry at wall-clock
 *                         expires_at + N seconds, so Redis frees expired rows
 *                         by itself (default: off, see the rule below)
 * Anything else is refused with PR_ERR_INVALID naming the offending part.
 *
 * The row bytes are opaque to the store. Expiry is judged against the `now`
 * the caller passes to each read, so tests and replays need no clock.
 *
 * Ownership: every pr_bytes passed in is borrowed for the call only (the store
 * copies what it keeps). Every pr_bytes handed out is borrowed, valid until
 * the next call on the store from the same thread (and, for "mem:", until the
 * next call from any thread), and must not be freed.
 *
 * Threads: an "lmdb:" store may be shared by threads: any number of readers
 * run alongside one writer at a time and never wait for it (each reading
 * thread holds its own read-only snapshot). A "mem:" store may be shared
 * too (a reader-writer lock: gets run together, a put, del or sweep alone);
 * a row it returns stays valid until the next put, del or sweep from any
 * thread, so a caller that reads while another thread writes must hold its
 * own lock across the use of the rows (pronto serve does). A "redis:" store
 * holds one connection and is for one thread at a time: each server thread
 * opens its own.
 *
 * Redis failures: open fails with PR_ERR_IO naming the address and the
 * reason when Redis cannot be reached within the timeouts. Later, a call
 * that loses the connection or times out returns PR_ERR_IO promptly (never
 * blocks beyond the timeouts), is counted in pr_store_stats_get and logged at
 * most once a second per store. The next call reconnects by itself; while
 * Redis stays down, at most one reconnect attempt is made per 100 ms and
 * calls in between fail at once without touching the network.
 *
 * Redis expiry rule: reads judge expiry against the caller's now, exactly
 * like the other backends. A native Redis expiry is set only with
 * expire_grace_s=G, at wall-clock expires_at + G: a row can then vanish
 * while now < expires_at only if the reader's now lags the Redis server's
 * clock by more than G seconds (replays of old data must leave it off).
 *
 * Value encoding and contracts in detail: docs/store.md.
 */
#ifndef PRONTO_STORE_H
#define PRONTO_STORE_H

#include <stdint.h>

#include "pronto/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pr_store pr_store;

/* 4 (entity length) + entity + key must fit LMDB's default key limit (511);
 * the limit is the same for every backend so data moves between them. */
#define PR_STORE_KEY_MAX 511u
/* Largest row accepted by put. */
#define PR_STORE_VALUE_MAX (16u << 20)
/* Largest n for the batch calls. */
#define PR_STORE_BATCH_MAX (1u << 20)

/* Opens a store.
 * uri: "mem:", "lmdb:<dir>" or a redis URI as above (borrowed; copied).
 * out: OUT: the store, owned by caller, free with pr_store_close; NULL on
 *      failure (then there is nothing to clean up).
 * Errors: PR_ERR_INVALID (unknown scheme, malformed URI), PR_ERR_IO (LMDB
 * could not create or open the directory; Redis unreachable or not
 * answering in time: the message names the path or address and the reason). */
pr_status pr_store_open(const char *uri, pr_store **out, pr_err *err);

/* Closes the store and frees everything it owns; every borrowed row is
 * invalid afterwards. pr_store_close(NULL) is a no-op. No call on the store
 * may run concurrently with close. */
void pr_store_close(pr_store *s);

/* Stores value under (entity, key), replacing any previous row.
 * entity, key, value: borrowed for the call; value is copied.
 * expires_at: Unix seconds after which reads treat the row as absent, or 0
 *             for never. A row is alive while now < expires_at.
 * Errors: PR_ERR_LIMIT (key or value too long), PR_ERR_IO (LMDB). */
pr_status pr_store_put(pr_store *s, pr_bytes entity, pr_bytes key,
                       pr_bytes value, int64_t expires_at, pr_err *err);

/* As put for n rows of one entity, all in one transaction (LMDB write
 * transaction, Redis MULTI/EXEC or one MSET): either all are stored or none.
 * keys[i] gets values[i]; keys and values borrowed. */
pr_status pr_store_put_batch(pr_store *s, pr_bytes entity,
                             const pr_bytes *keys, const pr_bytes *values,
                             uint32_t n, int64_t expires_at, pr_err *err);

/* Stores n rows of any entities, each with its own expiry, all or nothing:
 * row i is (entities[i], keys[i]) <- values[i], expiring at expires_at[i].
 * One LMDB write transaction; for redis one MSET (or MULTI/EXEC when it
 * needs several commands); for mem: one write lock, every row allocated
 * before any is linked. A process killed at any instant leaves either all
 * of the rows or none (what pronto materialize commits its position with).
 * A key given twice keeps its last value. Arrays borrowed for the call.
 * Errors: as put_batch; nothing is written on any error. */
pr_status pr_store_put_multi(pr_store *s, const pr_bytes *entities,
                             const pr_bytes *keys, const pr_bytes *values,
                             const int64_t *expires_at, uint32_t n,
                             pr_err *err);

/* Reads the row of (entity, key) as of time now (Unix seconds).
 * out: OUT: the row, borrowed, valid until the next call on the store from
 *      this thread (mem: from any thread, and the next put on that key).
 *      A present empty row has len 0 and a non-NULL ptr.
 * Errors: PR_ERR_NOTFOUND (absent or expired; *out = {NULL, 0}),
 *         PR_ERR_LIMIT, PR_ERR_IO. */
pr_status pr_store_get(pr_store *s, pr_bytes entity, pr_bytes key,
                       int64_t now, pr_bytes *out, pr_err *err);

/* Reads n keys of one entity from one consistent snapshot (redis: one MGET,
 * one round trip).
 * out: OUT: n rows, each borrowed as in pr_store_get; a missing or expired
 *      row is {NULL, 0}, a present empty one {non-NULL, 0}.
 * Returns PR_OK even when some (or all) rows are missing. */
pr_status pr_store_get_batch(pr_store *s, pr_bytes entity,
                             const pr_bytes *keys, uint32_t n, int64_t now,
                             pr_bytes *out, pr_err *err);

/* As get_batch with one entity per key: row i is (entities[i], keys[i]).
 * One snapshot, and for redis one round trip (one MGET), for rows of
 * several entities, e.g. a request's user, site and candidate ads. */
pr_status pr_store_get_multi(pr_store *s, const pr_bytes *entities,
                             const pr_bytes *keys, uint32_t n, int64_t now,
                             pr_bytes *out, pr_err *err);

/* Removes the row of (entity, key), expired or not.
 * Errors: PR_ERR_NOTFOUND (no such row), PR_ERR_LIMIT, PR_ERR_IO. */
pr_status pr_store_del(pr_store *s, pr_bytes entity, pr_bytes key,
                       pr_err *err);

/* What pr_store_sweep did. */
typedef struct pr_store_sweep_result {
    uint64_t examined;  /* rows looked at by this call */
    uint64_t removed;   /* of those, expired rows removed */
    int pass_done;      /* 1: this call reached the end of the keyspace; the
                         * next call starts a new pass from the beginning */
} pr_store_sweep_result;

/* Removes expired rows (not alive at now) in a bounded step: it examines at
 * most about max_rows rows, continuing where the previous sweep of this
 * store stopped, so calling it repeatedly walks the whole store in chunks.
 * A row present for a whole pass and expired at that pass's now is removed
 * by the end of that pass, unless the mem: table grew during the pass (then
 * by the end of the next). Rows alive at now are never touched.
 * mem: walks the hash table; lmdb: one write transaction per call; redis:
 * one SCAN step over keys under the prefix, then a compare-and-delete per
 * expired row (a row re-put meanwhile with another expiry survives).
 * max_rows: 1..PR_STORE_BATCH_MAX.
 * out: OUT: counts for this call (may be NULL).
 * Errors: PR_ERR_INVALID (max_rows 0), PR_ERR_LIMIT, PR_ERR_IO. */
pr_status pr_store_sweep(pr_store *s, int64_t now, uint32_t max_rows,
                         pr_store_sweep_result *out, pr_err *err);

/* Counters since open, for metrics. Every backend fills every field it can
 * (reconnects stays 0 except for redis). */
typedef struct pr_store_stats {
    uint64_t gets;        /* rows asked for (get counts 1, get_batch n) */
    uint64_t hits;        /* of those, rows found alive */
    uint64_t puts;        /* rows written by successful put calls */
    uint64_t dels;        /* rows removed by del */
    uint64_t swept;       /* expired rows removed by pr_store_sweep */
    uint64_t failures;    /* calls that failed in the backend (I/O, timeout,
                           * out of memory, corrupt value); argument errors
                           * (PR_ERR_INVALID, PR_ERR_LIMIT) and not-found
                           * are not failures */
    uint64_t reconnects;  /* redis: connections re-established after a loss */
} pr_store_stats;

/* Copies the counters into *out. Safe to call from any thread while others
 * use the store (each counter is read atomically; they are not one snapshot). */
void pr_store_stats_get(const pr_store *s, pr_store_stats *out);

/* The backend's name ("mem", "lmdb", "redis"); static string, never NULL. */
const char *pr_store_backend(const pr_store *s);

#ifdef __cplusplus
}
#endif
#endif
