/*
 * store_lmdb.c: the "lmdb:<dir>" backend. One LMDB environment in <dir>
 * (created if absent) with one named database, "pronto_store", keyed by the
 * composite key of store_int.h. Each value is the row behind an 8-byte
 * expiry prefix:
 *
 *   OFFSET  SIZE  DESCRIPTION
 *   0       8     expires_at: int64 little-endian Unix seconds, 0 = never
 *   8       n     the row bytes, as given to put (n may be 0)
 *
 * Writers: a put (pr_store_put, put_batch, put_multi: rows of any entities,
 * each with its expiry) runs in one write transaction (all rows or none: a
 * process killed before the commit leaves no trace of it); LMDB
 * serializes writers. Readers: each reading thread owns a read-only
 * transaction (a "reader slot" below), renewed at the start of each of its
 * calls and kept open after it, because the rows get returns point into the
 * map and are valid only while that snapshot lives. Read-only transactions
 * never block the writer, nor does the writer block them. The environment is
 * opened with MDB_NOTLS so a slot's transaction belongs to the slot, not to
 * LMDB's own per-thread bookkeeping.
 *
 * Ownership: the backend owns the env and every reader slot. get returns a
 * row borrowed from the calling thread's snapshot, valid until that thread's
 * next call on the store (or close). Slots are freed at thread exit (key
 * destructor) or at close, whichever comes first.
 *
 * Sweeping (pr_store_sweep): one write transaction per call walks a cursor
 * from the key where the previous call stopped (sweep_key, touched only
 * inside a write transaction, which LMDB makes exclusive) and deletes the
 * expired rows among at most max_rows.
 *
 * Durability: by default every commit is fsynced. "lmdb:<dir>?sync=0"
 * opens with MDB_NOSYNC (commits are not flushed; the environment is synced
 * at close): a crash of the machine, not of the process, may lose the last
 * commits, but LMDB's copy-on-write pages keep the database consistent. It
 * is what bulk loads and high-rate event ingestion want (one fsync per
 * event is ~ms on a disk).
 *
 * Errors: every LMDB failure becomes PR_ERR_IO with mdb_strerror and the
 * directory's path in pr_err.
 */
#include "store/store_int.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

#define LMDB_DB_NAME "pronto_store"
/* Address space reserved for the map, not disk: LMDB grows the file as it
 * writes. 64-bit only, like the rest of pronto. */
#define LMDB_MAP_SIZE ((size_t)16 << 30)
#define LMDB_VALUE_PREFIX PR__STORE_VALUE_HEADER

typedef struct lmdb_store lmdb_store;

typedef struct reader_slot {
    struct reader_slot *next, *prev;  /* in lmdb_store.slots, under lock */
    lmdb_store *owner;
    MDB_txn *txn;                     /* reset (idle) or live; never NULL */
} reader_slot;

struct lmdb_store {
    MDB_env *env;
    MDB_dbi dbi;
    char *path;                       /* the directory (URI without options) */
    int nosync;                       /* ?sync=0: MDB_NOSYNC, synced at close */
    pthread_key_t key;                /* this thread's reader_slot */
    int key_made;
    pthread_mutex_t lock;             /* guards slots */
    reader_slot *slots;
    /* Where the next sweep starts (the first key not yet examined in this
     * pass); sweep_key_len 0 = at the beginning. Only read or written while
     * holding a write transaction. */
    char sweep_key[PR_STORE_KEY_MAX];
    size_t sweep_key_len;
};

static pr_status lmdb_fail(const lmdb_store *l, int rc, const char *what, pr_err *err) {
    return pr_err_set(err, PR_ERR_IO, "store 'lmdb:%s': %s: %s", l->path, what,
                      mdb_strerror(rc));
}

static void slot_unlink_and_free(reader_slot *r) {
    lmdb_store *l = r->owner;
    if (r->prev) r->prev->next = r->next;
    else l->slots = r->next;
    if (r->next) r->next->prev = r->prev;
    mdb_txn_abort(r->txn);
    free(r);
}

/* Thread exit: give the slot's snapshot back to LMDB. */
static void slot_destructor(void *p) {
    reader_slot *r = p;
    lmdb_store *l = r->owner;
    pthread_mutex_lock(&l->lock);
    slot_unlink_and_free(r);
    pthread_mutex_unlock(&l->lock);
}

/* Ends the calling thread's snapshot, if it has one: rows it lent out die. */
static void slot_release(lmdb_store *l) {
    reader_slot *r = pthread_getspecific(l->key);
    if (r) mdb_txn_reset(r->txn);
}

/* A fresh snapshot for the calling thread, creating its slot on first use. */
static pr_status slot_begin(lmdb_store *l, MDB_txn **txn, pr_err *err) {
    reader_slot *r = pthread_getspecific(l->key);
    int rc;
    if (r) {
        mdb_txn_reset(r->txn);
        if ((rc = mdb_txn_renew(r->txn)) != 0) return lmdb_fail(l, rc, "renew read transaction", err);
        *txn = r->txn;
        return PR_OK;
    }
    r = calloc(1, sizeof *r);
    if (!r) return pr_err_set(err, PR_ERR_NOMEM, "store 'lmdb:%s': out of memory", l->path);
    if ((rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &r->txn)) != 0) {
        free(r);
        return lmdb_fail(l, rc, "begin read transaction", err);
    }
    r->owner = l;
    pthread_mutex_lock(&l->lock);
    r->next = l->slots;
    if (l->slots) l->slots->prev = r;
    l->slots = r;
    pthread_mutex_unlock(&l->lock);
    if ((rc = pthread_setspecific(l->key, r)) != 0) {
        pthread_mutex_lock(&l->lock);
        slot_unlink_and_free(r);
        pthread_mutex_unlock(&l->lock);
        return pr_err_errno(err, PR_ERR_IO, rc, "store 'lmdb:%s': pthread_setspecific", l->path);
    }
    *txn = r->txn;
    return PR_OK;
}

static void lmdb_close(void *impl) {
    lmdb_store *l = impl;
    if (!l) return;
    if (l->key_made) {
        /* Delete the key first so no thread-exit destructor races with us;
         * the contract forbids calls concurrent with close. */
        pthread_key_delete(l->key);
        while (l->slots) slot_unlink_and_free(l->slots);
        pthread_mutex_destroy(&l->lock);
    }
    if (l->env) {
        if (l->nosync) mdb_env_sync(l->env, 1);
        mdb_env_close(l->env);
    }
    free(l->path);
    free(l);
}

static pr_status lmdb_open(const char *arg, void **impl, pr_err *err) {
    pr_status st = PR_OK;
    lmdb_store *l = NULL;
    MDB_txn *txn = NULL;
    struct stat sb;
    int rc;

    if (arg[0] == '\0' || arg[0] == '?') {
        st = pr_err_set(err, PR_ERR_INVALID, "store uri 'lmdb:%s': expected 'lmdb:<directory>[?sync=0]'", arg);
        goto fail;
    }
    const char *q = strchr(arg, '?');
    if (!(l = calloc(1, sizeof *l)) ||
        !(l->path = q ? strndup(arg, (size_t)(q - arg)) : strdup(arg))) {
        st = pr_err_set(err, PR_ERR_NOMEM, "store 'lmdb:%s': out of memory", arg);
        goto fail;
    }
    if (q) {
        if (!strcmp(q, "?sync=0")) l->nosync = 1;
        else if (strcmp(q, "?sync=1")) {
            st = pr_err_set(err, PR_ERR_INVALID,
                            "store uri 'lmdb:%s': unknown option '%s' (expected ?sync=0 or ?sync=1)",
                            arg, q + 1);
            goto fail;
        }
    }
    arg = l->path;
    if (mkdir(arg, 0755) != 0 && errno != EEXIST) {
        st = pr_err_errno(err, PR_ERR_IO, errno, "store 'lmdb:%s': cannot create directory", arg);
        goto fail;
    }
    if (stat(arg, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        st = pr_err_set(err, PR_ERR_IO, "store 'lmdb:%s': not a directory", arg);
        goto fail;
    }
    if ((rc = mdb_env_create(&l->env)) != 0) {
        st = lmdb_fail(l, rc, "mdb_env_create", err);
        goto fail;
    }
    if ((rc = mdb_env_set_maxdbs(l->env, 1)) != 0 ||
        (rc = mdb_env_set_mapsize(l->env, LMDB_MAP_SIZE)) != 0) {
        st = lmdb_fail(l, rc, "configure environment", err);
        goto fail;
    }
    if ((rc = mdb_env_open(l->env, arg, MDB_NOTLS | (l->nosync ? MDB_NOSYNC : 0), 0644)) != 0) {
        st = lmdb_fail(l, rc, "mdb_env_open", err);
        goto fail;
    }
    if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, LMDB_DB_NAME, MDB_CREATE, &l->dbi)) != 0) {
        st = lmdb_fail(l, rc, "open database " LMDB_DB_NAME, err);
        goto fail;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) {
        st = lmdb_fail(l, rc, "commit database creation", err);
        goto fail;
    }
    if ((rc = pthread_key_create(&l->key, slot_destructor)) != 0) {
        st = pr_err_errno(err, PR_ERR_IO, rc, "store 'lmdb:%s': pthread_key_create", arg);
        goto fail;
    }
    pthread_mutex_init(&l->lock, NULL);
    l->key_made = 1;
    *impl = l;
    return PR_OK;
fail:
    if (txn) mdb_txn_abort(txn);
    lmdb_close(l);
    return st;
}

static pr_status lmdb_put_batch(void *impl, const pr_bytes *entities, uint32_t estep,
                                const pr_bytes *keys, const pr_bytes *values,
                                const int64_t *expires, uint32_t xstep, uint32_t n,
                                pr_err *err) {
    lmdb_store *l = impl;
    pr_status st = PR_OK;
    MDB_txn *txn = NULL;
    char key[PR_STORE_KEY_MAX];
    int rc;

    slot_release(l);  /* one transaction per thread at a time */
    if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0) {
        st = lmdb_fail(l, rc, "begin write transaction", err);
        goto fail;
    }
    for (uint32_t i = 0; i < n; i++) {
        MDB_val k = {pr__store_key_encode(key, entities[i * estep], keys[i]), key};
        MDB_val v = {LMDB_VALUE_PREFIX + values[i].len, NULL};
        /* MDB_RESERVE: LMDB gives us the space, we write prefix + row once. */
        if ((rc = mdb_put(txn, l->dbi, &k, &v, MDB_RESERVE)) != 0) {
            st = lmdb_fail(l, rc, "put", err);
            goto fail;
        }
        pr__store_put_le64(v.mv_data, expires[i * xstep]);
        if (values[i].len) memcpy((char *)v.mv_data + LMDB_VALUE_PREFIX, values[i].ptr, values[i].len);
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) {
        st = lmdb_fail(l, rc, "commit", err);
        goto fail;
    }
    return PR_OK;
fail:
    if (txn) mdb_txn_abort(txn);
    return st;
}

static pr_status lmdb_get_batch(void *impl, const pr_bytes *entities, uint32_t step,
                                const pr_bytes *keys, uint32_t n, int64_t now, pr_bytes *out,
                                pr_err *err) {
    lmdb_store *l = impl;
    MDB_txn *txn = NULL;
    char key[PR_STORE_KEY_MAX];
    pr_status st = slot_begin(l, &txn, err);
    if (st != PR_OK) return st;
    for (uint32_t i = 0; i < n; i++) {
        MDB_val k = {pr__store_key_encode(key, entities[i * step], keys[i]), key};
        MDB_val v;
        int rc = mdb_get(txn, l->dbi, &k, &v);
        if (rc == MDB_NOTFOUND) continue;
        if (rc != 0) return lmdb_fail(l, rc, "get", err);
        if (v.mv_size < LMDB_VALUE_PREFIX)
            return pr_err_set(err, PR_ERR_FORMAT,
                              "store 'lmdb:%s': value of %zu bytes is shorter than its 8-byte expiry prefix",
                              l->path, v.mv_size);
        if (!pr__store_alive(pr__store_get_le64(v.mv_data), now)) continue;
        out[i] = pr_bytes_of((const char *)v.mv_data + LMDB_VALUE_PREFIX,
                             v.mv_size - LMDB_VALUE_PREFIX);
    }
    return PR_OK;
}

static pr_status lmdb_del(void *impl, pr_bytes entity, pr_bytes k, pr_err *err) {
    lmdb_store *l = impl;
    MDB_txn *txn = NULL;
    char key[PR_STORE_KEY_MAX];
    MDB_val mk = {pr__store_key_encode(key, entity, k), key};
    int rc;

    slot_release(l);
    if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0)
        return lmdb_fail(l, rc, "begin write transaction", err);
    rc = mdb_del(txn, l->dbi, &mk, NULL);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return pr_err_set(err, PR_ERR_NOTFOUND, "store 'lmdb:%s': key (%zu bytes) not found",
                          l->path, k.len);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return lmdb_fail(l, rc, "del", err);
    }
    if ((rc = mdb_txn_commit(txn)) != 0) return lmdb_fail(l, rc, "commit", err);
    return PR_OK;
}

static pr_status lmdb_sweep(void *impl, int64_t now, uint32_t max_rows,
                            pr_store_sweep_result *out, pr_err *err) {
    lmdb_store *l = impl;
    pr_status st = PR_OK;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k = {l->sweep_key_len, l->sweep_key}, v;
    char next_key[PR_STORE_KEY_MAX];
    size_t next_len = 0;
    int rc;

    slot_release(l);
    if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0) {
        st = lmdb_fail(l, rc, "begin write transaction", err);
        goto fail;
    }
    if ((rc = mdb_cursor_open(txn, l->dbi, &cur)) != 0) {
        st = lmdb_fail(l, rc, "open cursor", err);
        goto fail;
    }
    /* SET_RANGE lands on the saved key or, if it is gone, the one after. */
    rc = l->sweep_key_len ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                          : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && out->examined < max_rows) {
        out->examined++;
        /* A value too short for its header is left alone: get reports it. */
        if (v.mv_size >= LMDB_VALUE_PREFIX && !pr__store_alive(pr__store_get_le64(v.mv_data), now)) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0) {
                st = lmdb_fail(l, rc, "sweep delete", err);
                goto fail;
            }
            out->removed++;
        }
        /* After a delete the cursor already stands on the next row and
         * MDB_NEXT returns that row (LMDB remembers the delete). */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == 0) {
        next_len = k.mv_size;
        memcpy(next_key, k.mv_data, k.mv_size);  /* keys fit PR_STORE_KEY_MAX */
    } else if (rc == MDB_NOTFOUND) {
        out->pass_done = 1;
    } else {
        st = lmdb_fail(l, rc, "sweep cursor", err);
        goto fail;
    }
    mdb_cursor_close(cur);
    cur = NULL;
    /* Saved while the transaction still makes us the only writer. */
    l->sweep_key_len = next_len;
    if (next_len) memcpy(l->sweep_key, next_key, next_len);
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) {
        out->removed = 0;
        st = lmdb_fail(l, rc, "commit sweep", err);
        goto fail;
    }
    return PR_OK;
fail:
    if (cur) mdb_cursor_close(cur);
    if (txn) mdb_txn_abort(txn);
    return st;
}

const pr_store_api pr__store_lmdb_api = {
    "lmdb", lmdb_open, lmdb_close, lmdb_put_batch, lmdb_get_batch, lmdb_del, lmdb_sweep, NULL,
};
