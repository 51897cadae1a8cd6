/*
 * store_int.h: what the store files share and nothing else sees. Each
 * backend fills one pr_store_api (the shape of Redis's aeApi* functions);
 * store.c validates arguments once, then dispatches. Backends may assume:
 * s and err non-NULL, n <= PR_STORE_BATCH_MAX, every encoded key fits
 * PR_STORE_KEY_MAX, every value fits PR_STORE_VALUE_MAX.
 *
 * Single calls are batches of one: pr_store_put is put_batch(n = 1),
 * pr_store_put_multi is put_batch with one entity and expiry per row, and
 * pr_store_get is get_batch(n = 1), so each backend has one code path each.
 *
 * Counters (pr_store_stats_get) are kept here, in the front door, so every
 * backend has them: relaxed atomic adds, since an lmdb: store is shared by
 * threads and a metrics thread may read any store's counters.
 */
#ifndef PRONTO_STORE_INT_H
#define PRONTO_STORE_INT_H

#include <string.h>

#include "pronto/store.h"

typedef struct pr_store_api {
    const char *name;
    /* arg: the URI after "<name>:". On success *impl is the backend state. */
    pr_status (*open)(const char *arg, void **impl, pr_err *err);
    void (*close)(void *impl);
    /* Row i is (entities[i * estep], keys[i]) <- values[i], expiring at
     * expires[i * xstep] (steps 0 or 1, as get_batch). All n rows or none:
     * one LMDB write transaction, one MSET or MULTI/EXEC, one write lock. */
    pr_status (*put_batch)(void *impl, const pr_bytes *entities, uint32_t estep,
                           const pr_bytes *keys, const pr_bytes *values,
                           const int64_t *expires, uint32_t xstep, uint32_t n,
                           pr_err *err);
    /* Key i belongs to entity entities[i * step] (step 0: one entity for
     * all, pr_store_get_batch; step 1: pr_store_get_multi). All n rows come
     * from one snapshot / one round trip. Missing or expired rows come back
     * as {NULL, 0}. */
    pr_status (*get_batch)(void *impl, const pr_bytes *entities, uint32_t step,
                           const pr_bytes *keys, uint32_t n, int64_t now,
                           pr_bytes *out, pr_err *err);
    pr_status (*del)(void *impl, pr_bytes entity, pr_bytes key, pr_err *err);
    /* pr_store_sweep; out is non-NULL and zeroed, 1 <= max_rows. */
    pr_status (*sweep)(void *impl, int64_t now, uint32_t max_rows,
                       pr_store_sweep_result *out, pr_err *err);
    /* Optional (NULL if none): the backend's own counters (reconnects). */
    void (*stats)(const void *impl, pr_store_stats *out);
} pr_store_api;

struct pr_store {
    const pr_store_api *api;
    void *impl;
    pr_store_stats counters;  /* updated with __atomic_fetch_add */
};

extern const pr_store_api pr__store_mem_api;
extern const pr_store_api pr__store_lmdb_api;
extern const pr_store_api pr__store_redis_api;

/* The shape of a mem: table, for tests that check growth stays incremental. */
typedef struct pr__store_mem_shape {
    size_t count;          /* entries */
    size_t buckets;        /* size of the current (old, while rehashing) array */
    size_t buckets_new;    /* size of the array being filled, 0 if none */
    int rehashing;
    size_t max_step_moved; /* most entries one put ever relinked */
    size_t rehashes;       /* rehashes started since open */
} pr__store_mem_shape;

/* Fills *out; returns 0 if s is not a mem: store. */
int pr__store_mem_shape_of(const pr_store *s, pr__store_mem_shape *out);

/* The 8-byte expiry header that lmdb: and redis: put before each row:
 *
 *   OFFSET  SIZE  DESCRIPTION
 *   0       8     expires_at: int64 little-endian Unix seconds, 0 = never
 *   8       n     the row bytes, as given to put (n may be 0)
 */
#define PR__STORE_VALUE_HEADER 8u

static inline void pr__store_put_le64(char *p, int64_t v) {
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++) p[i] = (char)((u >> (8 * i)) & 0xff);
}

static inline int64_t pr__store_get_le64(const char *p) {
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u |= (uint64_t)(unsigned char)p[i] << (8 * i);
    return (int64_t)u;
}

/* Composite key: [u32 LE entity length][entity][key]. The length prefix makes
 * it unambiguous: ("ab","c") and ("a","bc") encode differently. */
#define PR__STORE_KEY_PREFIX 4u

static inline size_t pr__store_key_len(pr_bytes entity, pr_bytes key) {
    return PR__STORE_KEY_PREFIX + entity.len + key.len;
}

/* buf must hold pr__store_key_len(entity, key) bytes; returns that length. */
static inline size_t pr__store_key_encode(char *buf, pr_bytes entity,
                                          pr_bytes key) {
    uint32_t n = (uint32_t)entity.len;
    buf[0] = (char)(n & 0xff);
    buf[1] = (char)((n >> 8) & 0xff);
    buf[2] = (char)((n >> 16) & 0xff);
    buf[3] = (char)((n >> 24) & 0xff);
    if (entity.len) memcpy(buf + 4, entity.ptr, entity.len);
    if (key.len) memcpy(buf + 4 + entity.len, key.ptr, key.len);
    return pr__store_key_len(entity, key);
}

/* Row alive at now? expires_at 0 = never expires. */
static inline int pr__store_alive(int64_t expires_at, int64_t now) {
    return expires_at == 0 || now < expires_at;
}

#endif
