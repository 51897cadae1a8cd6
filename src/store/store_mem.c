/*
 * store_mem.c: the "mem:" backend, an in-process hash table of
 * (entity, key) -> row bytes with an expiry time.
 *
 * Structure: separate chaining over a power-of-two bucket array. Each entry
 * is one malloc holding the encoded composite key (store_int.h) followed by
 * the row bytes, so a row never moves while its entry lives. The table
 * doubles when it holds more entries than buckets; rehashing relinks entries
 * and does not move them.
 *
 * Ownership: the table owns its entries. get returns a borrowed row valid
 * until the next put on that key or the next call on the store (a get may
 * free an expired entry it finds, never a live one).
 *
 * Threads: none of its own; one thread at a time (store.h).
 */
#include "store/store_int.h"

#include <stdlib.h>

typedef struct mem_entry {
    struct mem_entry *next;
    uint64_t hash;
    int64_t expires_at;
    uint32_t key_len;  /* encoded composite key */
    uint32_t value_len;
    char data[];       /* key_len key bytes, then value_len row bytes */
} mem_entry;

typedef struct mem_store {
    mem_entry **buckets;
    size_t mask;  /* n_buckets - 1 */
    size_t count;
} mem_store;

#define MEM_BUCKETS_MIN 1024u

static pr_status mem_open(const char *arg, void **impl, pr_err *err) {
    mem_store *m = NULL;
    if (arg[0] != '\0')
        return pr_err_set(err, PR_ERR_INVALID, "store uri 'mem:%s': 'mem:' takes no argument", arg);
    m = calloc(1, sizeof *m);
    if (m) m->buckets = calloc(MEM_BUCKETS_MIN, sizeof *m->buckets);
    if (!m || !m->buckets) {
        free(m);
        return pr_err_set(err, PR_ERR_NOMEM, "store 'mem:': out of memory");
    }
    m->mask = MEM_BUCKETS_MIN - 1;
    *impl = m;
    return PR_OK;
}

static void mem_close(void *impl) {
    mem_store *m = impl;
    for (size_t b = 0; b <= m->mask; b++) {
        mem_entry *e = m->buckets[b];
        while (e) {
            mem_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    free(m);
}

/* Returns the link that points at the entry for this key, or at the NULL
 * ending its chain when absent, so callers can insert or unlink in place. */
static mem_entry **mem_find(mem_store *m, const char *key, size_t key_len, uint64_t hash) {
    mem_entry **link = &m->buckets[hash & m->mask];
    for (; *link; link = &(*link)->next) {
        mem_entry *e = *link;
        if (e->hash == hash && e->key_len == key_len && memcmp(e->data, key, key_len) == 0)
            break;
    }
    return link;
}

/* Doubles the bucket array; on malloc failure keeps the old one (longer
 * chains, still correct). */
static void mem_grow(mem_store *m) {
    size_t n = (m->mask + 1) * 2;
    mem_entry **nb = calloc(n, sizeof *nb);
    if (!nb) return;
    for (size_t b = 0; b <= m->mask; b++) {
        mem_entry *e = m->buckets[b];
        while (e) {
            mem_entry *next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->mask = n - 1;
}

static pr_status mem_put_batch(void *impl, pr_bytes entity, const pr_bytes *keys,
                               const pr_bytes *values, uint32_t n, int64_t expires_at,
                               pr_err *err) {
    mem_store *m = impl;
    char key[PR_STORE_KEY_MAX];
    for (uint32_t i = 0; i < n; i++) {
        size_t key_len = pr__store_key_encode(key, entity, keys[i]);
        uint64_t hash = pr_hash64(key, key_len, 0);
        mem_entry *e = malloc(sizeof *e + key_len + values[i].len);
        mem_entry **link;
        if (!e)
            return pr_err_set(err, PR_ERR_NOMEM, "store 'mem:': out of memory for a %zu-byte row",
                              values[i].len);
        e->hash = hash;
        e->expires_at = expires_at;
        e->key_len = (uint32_t)key_len;
        e->value_len = (uint32_t)values[i].len;
        memcpy(e->data, key, key_len);
        if (values[i].len) memcpy(e->data + key_len, values[i].ptr, values[i].len);
        link = mem_find(m, key, key_len, hash);
        if (*link) {  /* replace in place: the old row dies here */
            e->next = (*link)->next;
            free(*link);
            *link = e;
        } else {
            e->next = NULL;
            *link = e;
            if (++m->count > m->mask + 1) mem_grow(m);
        }
    }
    return PR_OK;
}

static pr_status mem_get_batch(void *impl, pr_bytes entity, const pr_bytes *keys, uint32_t n,
                               int64_t now, pr_bytes *out, pr_err *err) {
    mem_store *m = impl;
    char key[PR_STORE_KEY_MAX];
    for (uint32_t i = 0; i < n; i++) {
        size_t key_len = pr__store_key_encode(key, entity, keys[i]);
        mem_entry **link = mem_find(m, key, key_len, pr_hash64(key, key_len, 0));
        mem_entry *e = *link;
        if (!e) continue;
        if (!pr__store_alive(e->expires_at, now)) {
            /* Reclaim lazily. Safe for rows already handed out in this batch:
             * each key maps to one entry, and an earlier out[] holds a live
             * one (a repeated key would see the same expired entry first). */
            *link = e->next;
            free(e);
            m->count--;
            continue;
        }
        out[i] = pr_bytes_of(e->data + e->key_len, e->value_len);
    }
    return PR_OK;
}

static pr_status mem_del(void *impl, pr_bytes entity, pr_bytes k, pr_err *err) {
    mem_store *m = impl;
    char key[PR_STORE_KEY_MAX];
    size_t key_len = pr__store_key_encode(key, entity, k);
    mem_entry **link = mem_find(m, key, key_len, pr_hash64(key, key_len, 0));
    mem_entry *e = *link;
    if (!e)
        return pr_err_set(err, PR_ERR_NOTFOUND, "store 'mem:': key (%zu bytes) not found", k.len);
    *link = e->next;
    free(e);
    m->count--;
    return PR_OK;
}

const pr_store_api pr__store_mem_api = {
    "mem", mem_open, mem_close, mem_put_batch, mem_get_batch, mem_del,
};
