/*
 * fs_table.c: the in-process row state, an open-addressing hash table
 * (linear probing, power-of-two size, load <= 1/2) from (entity, key) to a
 * row blob. Each row is one malloc holding the key bytes then the blob, so
 * a put of a same-sized blob (every aggregate update) is a memcpy in place.
 *
 * get hands out pointers into these allocations: valid until the next put
 * of that row (which may move it) or the table's end, which is what
 * pr__fs_rows_ops promises. No deletion: expired rows read as absent and
 * are overwritten by the next update (a replay's table only grows).
 *
 * Each entity remembers the slot it found last: an impression is assembled
 * and then applied, so the second lookup of the same row costs a compare
 * instead of a probe (slot indices move only when the table grows, which
 * clears the memory).
 */
#include <stdlib.h>

#include "fstore/fs_int.h"

typedef struct slot {
    uint64_t hash;    /* 0 = empty (hashes are forced nonzero) */
    uint8_t *mem;     /* key bytes then blob */
    uint32_t entity;
    uint32_t key_len, blob_len, cap;
} slot;

#define LAST_ENTITIES 64 /* = PR__FS_MAX_ENTITIES */

typedef struct table {
    slot *slots;
    uint64_t mask;
    uint64_t used;
    uint64_t bytes;   /* row allocations */
    slot *last[LAST_ENTITIES]; /* per entity: the slot found last, or NULL */
} table;

static uint64_t hash_of(uint32_t entity, pr_bytes key) {
    uint64_t h = pr_hash64(key.ptr, key.len, 0x9E3779B97F4A7C15ull ^ entity);
    return h ? h : 1;
}

pr_status pr__fs_table_new(void **impl, pr_err *err) {
    table *t = calloc(1, sizeof *t);
    if (t) t->slots = calloc(1024, sizeof *t->slots);
    if (!t || !t->slots) {
        free(t);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    t->mask = 1023;
    *impl = t;
    return PR_OK;
}

static int same_key(const slot *s, uint32_t entity, pr_bytes key) {
    return s->entity == entity && s->key_len == key.len &&
           !memcmp(s->mem, key.ptr, key.len);
}

static slot *find(table *t, uint32_t entity, pr_bytes key, uint64_t h) {
    slot *l = entity < LAST_ENTITIES ? t->last[entity] : NULL;
    if (l && l->hash == h && same_key(l, entity, key)) return l;
    for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
        slot *s = &t->slots[i];
        if (!s->hash) return s;
        if (s->hash == h && same_key(s, entity, key)) {
            if (entity < LAST_ENTITIES) t->last[entity] = s;
            return s;
        }
    }
}

static pr_status grow(table *t, pr_err *err) {
    uint64_t n = (t->mask + 1) * 2;
    slot *ns = calloc(n, sizeof *ns);
    if (!ns) return pr_err_set(err, PR_ERR_NOMEM, "out of memory (row table)");
    for (uint64_t i = 0; i <= t->mask; i++) {
        slot *s = &t->slots[i];
        if (!s->hash) continue;
        uint64_t j = s->hash & (n - 1);
        while (ns[j].hash) j = (j + 1) & (n - 1);
        ns[j] = *s;
    }
    free(t->slots);
    t->slots = ns;
    t->mask = n - 1;
    memset(t->last, 0, sizeof t->last);
    return PR_OK;
}

static pr_status table_get_batch(void *impl, const pr__fs_entity *e,
                                 const pr_bytes *keys, uint32_t n,
                                 int64_t now_ms, pr_bytes *rows, pr_err *err) {
    (void)now_ms;
    (void)err;
    table *t = impl;
    for (uint32_t i = 0; i < n; i++) {
        rows[i] = (pr_bytes){NULL, 0};
        if (!keys[i].ptr) continue;
        slot *s = find(t, e->id, keys[i], hash_of(e->id, keys[i]));
        if (s->hash)
            rows[i] = pr_bytes_of((const char *)s->mem + s->key_len,
                                  s->blob_len);
    }
    return PR_OK;
}

static pr_status table_put(void *impl, const pr__fs_entity *e, pr_bytes key,
                           pr_bytes row, int64_t expires_s, pr_err *err) {
    (void)expires_s;
    table *t = impl;
    uint32_t ent = e->id;
    uint64_t h = hash_of(ent, key);
    slot *s = find(t, ent, key, h);
    if (!s->hash) {
        if ((t->used + 1) * 2 > t->mask + 1) {
            pr_status rc = grow(t, err);
            if (rc != PR_OK) return rc;
            s = find(t, ent, key, h);
        }
        uint32_t cap = (uint32_t)row.len;
        s->mem = malloc(key.len + cap);
        if (!s->mem) return pr_err_set(err, PR_ERR_NOMEM, "out of memory (row)");
        memcpy(s->mem, key.ptr, key.len);
        s->hash = h;
        s->entity = ent;
        s->key_len = (uint32_t)key.len;
        s->cap = cap;
        t->used++;
        t->bytes += key.len + cap;
    } else if (row.len > s->cap) {
        uint8_t *m = realloc(s->mem, s->key_len + row.len);
        if (!m) return pr_err_set(err, PR_ERR_NOMEM, "out of memory (row)");
        t->bytes += row.len - s->cap;
        s->mem = m;
        s->cap = (uint32_t)row.len;
    }
    if ((const uint8_t *)row.ptr != s->mem + s->key_len)
        memmove(s->mem + s->key_len, row.ptr, row.len);
    s->blob_len = (uint32_t)row.len;
    return PR_OK;
}

static void table_close(void *impl) {
    table *t = impl;
    if (!t) return;
    for (uint64_t i = 0; i <= t->mask; i++) free(t->slots[i].mem);
    free(t->slots);
    free(t);
}

void pr__fs_table_usage(void *impl, uint64_t *rows, uint64_t *bytes) {
    table *t = impl;
    *rows = t->used;
    *bytes = t->bytes + (t->mask + 1) * sizeof(slot);
}

const pr__fs_rows_ops pr__fs_table_ops = {.get_batch = table_get_batch,
                                          .put = table_put,
                                          .close = table_close};
