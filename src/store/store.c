/*
 * store.c: the pr_store front door. Parses the URI to pick a backend from
 * the table below, checks every argument once (NULLs, key and value limits,
 * batch size) so backends need not, and dispatches through pr_store_api.
 * It also keeps the counters of pr_store_stats_get for every backend.
 *
 * Ownership: the pr_store struct is owned by the caller (pr_store_close);
 * it owns the backend state in impl. Nothing here keeps caller bytes.
 */
#include "store/store_int.h"

#include <stdlib.h>

static const pr_store_api *const backends[] = {
    &pr__store_mem_api,
    &pr__store_lmdb_api,
    &pr__store_redis_api,
};

#define COUNT(s, field, n) __atomic_fetch_add(&(s)->counters.field, (uint64_t)(n), __ATOMIC_RELAXED)

/* A backend's status: argument errors and not-found are the caller's
 * business, anything else is a failure of the store. */
static pr_status counted(pr_store *s, pr_status rc) {
    if (rc != PR_OK && rc != PR_ERR_NOTFOUND && rc != PR_ERR_INVALID && rc != PR_ERR_LIMIT)
        COUNT(s, failures, 1);
    return rc;
}

pr_status pr_store_open(const char *uri, pr_store **out, pr_err *err) {
    pr_status rc = PR_OK;
    pr_store *s = NULL;
    const pr_store_api *api = NULL;
    const char *arg = NULL;

    if (!out) return pr_err_set(err, PR_ERR_INVALID, "pr_store_open: out is NULL");
    *out = NULL;
    if (!uri) return pr_err_set(err, PR_ERR_INVALID, "pr_store_open: uri is NULL");
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        size_t n = strlen(backends[i]->name);
        if (strncmp(uri, backends[i]->name, n) == 0 && uri[n] == ':') {
            api = backends[i];
            arg = uri + n + 1;
            break;
        }
    }
    if (!api) {
        rc = pr_err_set(err, PR_ERR_INVALID,
                        "store uri '%s': expected 'mem:', 'lmdb:<directory>', "
                        "'redis://HOST:PORT[/DB]' or 'redis:unix:<socket path>'", uri);
        goto fail;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        rc = pr_err_set(err, PR_ERR_NOMEM, "store uri '%s': out of memory", uri);
        goto fail;
    }
    s->api = api;
    rc = api->open(arg, &s->impl, err);
    if (rc != PR_OK) goto fail;
    *out = s;
    return PR_OK;
fail:
    free(s);
    return rc;
}

void pr_store_close(pr_store *s) {
    if (!s) return;
    s->api->close(s->impl);
    free(s);
}

void pr_store_stats_get(const pr_store *s, pr_store_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!s) return;
    out->gets = __atomic_load_n(&s->counters.gets, __ATOMIC_RELAXED);
    out->hits = __atomic_load_n(&s->counters.hits, __ATOMIC_RELAXED);
    out->puts = __atomic_load_n(&s->counters.puts, __ATOMIC_RELAXED);
    out->dels = __atomic_load_n(&s->counters.dels, __ATOMIC_RELAXED);
    out->swept = __atomic_load_n(&s->counters.swept, __ATOMIC_RELAXED);
    out->failures = __atomic_load_n(&s->counters.failures, __ATOMIC_RELAXED);
    if (s->api->stats) s->api->stats(s->impl, out);
}

const char *pr_store_backend(const pr_store *s) {
    return s ? s->api->name : "none";
}

static pr_status check_key(pr_bytes entity, pr_bytes key, pr_err *err) {
    if ((entity.len && !entity.ptr) || (key.len && !key.ptr))
        return pr_err_set(err, PR_ERR_INVALID, "store: entity or key has a length but no bytes");
    if (entity.len > PR_STORE_KEY_MAX || key.len > PR_STORE_KEY_MAX ||
        pr__store_key_len(entity, key) > PR_STORE_KEY_MAX)
        return pr_err_set(err, PR_ERR_LIMIT,
                          "store: entity (%zu bytes) + key (%zu bytes) exceed %u bytes",
                          entity.len, key.len, PR_STORE_KEY_MAX - PR__STORE_KEY_PREFIX);
    return PR_OK;
}

static pr_status check_batch(pr_store *s, const void *keys, uint32_t n, pr_err *err) {
    if (!s) return pr_err_set(err, PR_ERR_INVALID, "store: handle is NULL");
    if (n > PR_STORE_BATCH_MAX)
        return pr_err_set(err, PR_ERR_LIMIT, "store: batch of %u exceeds %u", n,
                          PR_STORE_BATCH_MAX);
    if (n && !keys) return pr_err_set(err, PR_ERR_INVALID, "store: keys is NULL");
    return PR_OK;
}

static pr_status put_rows(pr_store *s, const pr_bytes *entities, uint32_t estep,
                          const pr_bytes *keys, const pr_bytes *values, const int64_t *expires,
                          uint32_t xstep, uint32_t n, pr_err *err) {
    pr_status rc = check_batch(s, keys, n, err);
    if (rc != PR_OK) return rc;
    if (n && (!values || !entities || !expires))
        return pr_err_set(err, PR_ERR_INVALID, "store: values, entities or expiries are NULL");
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = check_key(entities[i * estep], keys[i], err)) != PR_OK) return rc;
        if (values[i].len && !values[i].ptr)
            return pr_err_set(err, PR_ERR_INVALID, "store: value %u has a length but no bytes", i);
        if (values[i].len > PR_STORE_VALUE_MAX)
            return pr_err_set(err, PR_ERR_LIMIT, "store: value %u is %zu bytes, limit %u", i,
                              values[i].len, PR_STORE_VALUE_MAX);
        if (expires[i * xstep] < 0)
            return pr_err_set(err, PR_ERR_INVALID, "store: expires_at %lld is negative",
                              (long long)expires[i * xstep]);
    }
    if (n == 0) return PR_OK;
    rc = counted(s, s->api->put_batch(s->impl, entities, estep, keys, values, expires, xstep, n, err));
    if (rc == PR_OK) COUNT(s, puts, n);
    return rc;
}

pr_status pr_store_put_batch(pr_store *s, pr_bytes entity, const pr_bytes *keys,
                             const pr_bytes *values, uint32_t n, int64_t expires_at,
                             pr_err *err) {
    return put_rows(s, &entity, 0, keys, values, &expires_at, 0, n, err);
}

pr_status pr_store_put_multi(pr_store *s, const pr_bytes *entities, const pr_bytes *keys,
                             const pr_bytes *values, const int64_t *expires_at, uint32_t n,
                             pr_err *err) {
    return put_rows(s, entities, 1, keys, values, expires_at, 1, n, err);
}

pr_status pr_store_put(pr_store *s, pr_bytes entity, pr_bytes key, pr_bytes value,
                       int64_t expires_at, pr_err *err) {
    return pr_store_put_batch(s, entity, &key, &value, 1, expires_at, err);
}

static pr_status get_rows(pr_store *s, const pr_bytes *entities, uint32_t step,
                          const pr_bytes *keys, uint32_t n, int64_t now, pr_bytes *out,
                          pr_err *err) {
    pr_status rc = check_batch(s, keys, n, err);
    if (rc != PR_OK) return rc;
    if (n && (!out || !entities))
        return pr_err_set(err, PR_ERR_INVALID, "store: out or entities is NULL");
    for (uint32_t i = 0; i < n; i++) {
        out[i] = pr_bytes_of(NULL, 0);
        if ((rc = check_key(entities[i * step], keys[i], err)) != PR_OK) return rc;
    }
    if (n == 0) return PR_OK;
    COUNT(s, gets, n);
    rc = counted(s, s->api->get_batch(s->impl, entities, step, keys, n, now, out, err));
    if (rc == PR_OK) {
        uint32_t hits = 0;
        for (uint32_t i = 0; i < n; i++) hits += out[i].ptr != NULL;
        COUNT(s, hits, hits);
    } else {
        for (uint32_t i = 0; i < n; i++) out[i] = pr_bytes_of(NULL, 0);
    }
    return rc;
}

pr_status pr_store_get_batch(pr_store *s, pr_bytes entity, const pr_bytes *keys,
                             uint32_t n, int64_t now, pr_bytes *out, pr_err *err) {
    return get_rows(s, &entity, 0, keys, n, now, out, err);
}

pr_status pr_store_get_multi(pr_store *s, const pr_bytes *entities, const pr_bytes *keys,
                             uint32_t n, int64_t now, pr_bytes *out, pr_err *err) {
    return get_rows(s, entities, 1, keys, n, now, out, err);
}

pr_status pr_store_get(pr_store *s, pr_bytes entity, pr_bytes key, int64_t now,
                       pr_bytes *out, pr_err *err) {
    pr_bytes row = {NULL, 0};
    pr_status rc;
    if (!out) return pr_err_set(err, PR_ERR_INVALID, "store: out is NULL");
    *out = row;
    rc = pr_store_get_batch(s, entity, &key, 1, now, &row, err);
    if (rc != PR_OK) return rc;
    if (!row.ptr)
        return pr_err_set(err, PR_ERR_NOTFOUND, "store: key (%zu bytes) of entity (%zu bytes) not found",
                          key.len, entity.len);
    *out = row;
    return PR_OK;
}

pr_status pr_store_del(pr_store *s, pr_bytes entity, pr_bytes key, pr_err *err) {
    pr_status rc = check_batch(s, &key, 1, err);
    if (rc != PR_OK) return rc;
    if ((rc = check_key(entity, key, err)) != PR_OK) return rc;
    rc = counted(s, s->api->del(s->impl, entity, key, err));
    if (rc == PR_OK) COUNT(s, dels, 1);
    return rc;
}

pr_status pr_store_sweep(pr_store *s, int64_t now, uint32_t max_rows, pr_store_sweep_result *out,
                         pr_err *err) {
    pr_store_sweep_result local;
    pr_status rc;
    if (!out) out = &local;
    memset(out, 0, sizeof *out);
    if (!s) return pr_err_set(err, PR_ERR_INVALID, "store: handle is NULL");
    if (max_rows == 0) return pr_err_set(err, PR_ERR_INVALID, "store sweep: max_rows is 0");
    if (max_rows > PR_STORE_BATCH_MAX)
        return pr_err_set(err, PR_ERR_LIMIT, "store sweep: max_rows %u exceeds %u", max_rows,
                          PR_STORE_BATCH_MAX);
    rc = counted(s, s->api->sweep(s->impl, now, max_rows, out, err));
    COUNT(s, swept, out->removed);
    return rc;
}
