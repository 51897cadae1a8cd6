/*
 * pronto/store.h: the online feature store. Rows of bytes addressed by
 * (entity, key), each with an optional expiry time, behind one interface with
 * several backends chosen by URI:
 *
 *   "mem:"              in-process hash table (lost at close)
 *   "lmdb:/path/to/dir" LMDB environment in that directory (created if absent)
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
 * thread holds its own read-only snapshot). A "mem:" store is for one thread
 * at a time.
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
 * uri: "mem:" or "lmdb:<dir>" (borrowed; copied as needed).
 * out: OUT: the store, owned by caller, free with pr_store_close; NULL on
 *      failure (then there is nothing to clean up).
 * Errors: PR_ERR_INVALID (unknown scheme), PR_ERR_IO (LMDB could not create
 * or open the directory; the message names the path and LMDB's reason). */
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

/* As put for n rows of one entity, all in one transaction (LMDB): either all
 * are stored or none. keys[i] gets values[i]; keys and values borrowed. */
pr_status pr_store_put_batch(pr_store *s, pr_bytes entity,
                             const pr_bytes *keys, const pr_bytes *values,
                             uint32_t n, int64_t expires_at, pr_err *err);

/* Reads the row of (entity, key) as of time now (Unix seconds).
 * out: OUT: the row, borrowed, valid until the next call on the store from
 *      this thread (mem: from any thread, and the next put on that key).
 *      A present empty row has len 0 and a non-NULL ptr.
 * Errors: PR_ERR_NOTFOUND (absent or expired; *out = {NULL, 0}),
 *         PR_ERR_LIMIT, PR_ERR_IO. */
pr_status pr_store_get(pr_store *s, pr_bytes entity, pr_bytes key,
                       int64_t now, pr_bytes *out, pr_err *err);

/* Reads n keys of one entity from one consistent snapshot.
 * out: OUT: n rows, each borrowed as in pr_store_get; a missing or expired
 *      row is {NULL, 0}, a present empty one {non-NULL, 0}.
 * Returns PR_OK even when some (or all) rows are missing. */
pr_status pr_store_get_batch(pr_store *s, pr_bytes entity,
                             const pr_bytes *keys, uint32_t n, int64_t now,
                             pr_bytes *out, pr_err *err);

/* Removes the row of (entity, key), expired or not.
 * Errors: PR_ERR_NOTFOUND (no such row), PR_ERR_LIMIT, PR_ERR_IO. */
pr_status pr_store_del(pr_store *s, pr_bytes entity, pr_bytes key,
                       pr_err *err);

/* The backend's name ("mem", "lmdb"); static string, never NULL. */
const char *pr_store_backend(const pr_store *s);

#ifdef __cplusplus
}
#endif
#endif
