/*
 * fs_storerows.c: row state in a pr_store (any backend). The entity name is
 * the store's entity namespace, the key text its key; a row's store expiry
 * comes from pr__fs_expires_s so a backend never drops a row that the TTL
 * check would still serve. Reads skip absent keys (a request without that
 * column) without asking the store.
 */
#include <stdlib.h>

#include "fstore/fs_int.h"

#define STACK_KEYS 256

static pr_status store_put(void *impl, const pr__fs_entity *e, pr_bytes key,
                           pr_bytes row, int64_t expires_s, pr_err *err) {
    return pr_store_put(impl, e->ns, key, row, expires_s, err);
}

static void store_close(void *impl) { (void)impl; /* borrowed */ }

/* Rows of keys[i] of entity names[i * step] (step 0: one entity) in one
 * store call (one MGET for redis). Absent keys are not sent: results land
 * in the front of rows, then move to their places, back to front so
 * nothing is overwritten before it has moved. */
static pr_status fetch(pr_store *st, const pr_bytes *names, uint32_t step, const pr_bytes *keys,
                       uint32_t n, int64_t now_ms, pr_bytes *rows, pr_err *err) {
    pr_bytes stack_keys[STACK_KEYS], stack_names[STACK_KEYS];
    uint32_t stack_idx[STACK_KEYS];
    pr_bytes *k = stack_keys, *nm = stack_names;
    uint32_t *idx = stack_idx;
    if (n > STACK_KEYS) {
        k = malloc((size_t)n * sizeof *k);
        nm = malloc((size_t)n * sizeof *nm);
        idx = malloc((size_t)n * sizeof *idx);
        if (!k || !nm || !idx) {
            free(k);
            free(nm);
            free(idx);
            return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        }
    }
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        rows[i] = (pr_bytes){NULL, 0};
        if (keys[i].ptr) {
            idx[m] = i;
            nm[m] = names[i * step];
            k[m++] = keys[i];
        }
    }
    pr_status rc = PR_OK;
    if (m) {
        int64_t now_s = now_ms / 1000 - (now_ms % 1000 < 0);
        rc = step ? pr_store_get_multi(st, nm, k, m, now_s, rows, err)
                  : pr_store_get_batch(st, names[0], k, m, now_s, rows, err);
        if (rc == PR_OK)
            for (uint32_t j = m; j-- > 0;) {
                pr_bytes r = rows[j];
                rows[j] = (pr_bytes){NULL, 0};
                rows[idx[j]] = r;
            }
        else
            for (uint32_t i = 0; i < n; i++) rows[i] = (pr_bytes){NULL, 0};
    }
    if (k != stack_keys) {
        free(k);
        free(nm);
        free(idx);
    }
    return rc;
}

static pr_status store_get_multi(void *impl, const pr_bytes *names, const pr_bytes *keys,
                                 uint32_t n, int64_t now_ms, pr_bytes *rows, pr_err *err) {
    return fetch(impl, names, 1, keys, n, now_ms, rows, err);
}

static pr_status store_get_batch(void *impl, const pr__fs_entity *e, const pr_bytes *keys,
                                 uint32_t n, int64_t now_ms, pr_bytes *rows, pr_err *err) {
    return fetch(impl, &e->ns, 0, keys, n, now_ms, rows, err);
}

const pr__fs_rows_ops pr__fs_store_ops = {.get_batch = store_get_batch,
                                          .put = store_put,
                                          .close = store_close,
                                          .get_multi = store_get_multi};
