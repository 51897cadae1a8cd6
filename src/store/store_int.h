/*
 * store_int.h: what the store files share and nothing else sees. Each
 * backend fills one pr_store_api (the shape of Redis's aeApi* functions);
 * store.c validates arguments once, then dispatches. Backends may assume:
 * s and err non-NULL, n <= PR_STORE_BATCH_MAX, every encoded key fits
 * PR_STORE_KEY_MAX, every value fits PR_STORE_VALUE_MAX.
 *
 * Single calls are batches of one: pr_store_put is put_batch(n = 1) and
 * pr_store_get is get_batch(n = 1), so each backend has one code path each.
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
    pr_status (*put_batch)(void *impl, pr_bytes entity, const pr_bytes *keys,
                           const pr_bytes *values, uint32_t n,
                           int64_t expires_at, pr_err *err);
    /* Missing or expired rows come back as {NULL, 0}. */
    pr_status (*get_batch)(void *impl, pr_bytes entity, const pr_bytes *keys,
                           uint32_t n, int64_t now, pr_bytes *out,
                           pr_err *err);
    pr_status (*del)(void *impl, pr_bytes entity, pr_bytes key, pr_err *err);
} pr_store_api;

struct pr_store {
    const pr_store_api *api;
    void *impl;
};

extern const pr_store_api pr__store_mem_api;
extern const pr_store_api pr__store_lmdb_api;

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
