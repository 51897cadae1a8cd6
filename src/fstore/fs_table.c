/*
 * fs_table.c: the in-process row state, an open-addressing hash table
 * (linear probing, power-of-two size, load <= 1/2) from (entity, key) to a
 * row blob. Each row is one block of row memory (fs_rowmem.h: huge pages,
 * cache-line aligned) holding the key bytes then the blob, so a put of a
 * same-sized blob (every aggregate update) is a memcpy in place. The slot
 * array is advised as huge pages too.
 *
 * get hands out pointers into these allocations: valid until the next put
 * of that row (which may move it) or the table's end, which is what
 * pr__fs_rows_ops promises. No deletion: expired rows read as absent and
 * are overwritten by the next update (a replay's table only grows).
 *
 * Each entity remembers the slot it found last: an impression is assembled
 * and then applied, so the second lookup of the same row costs a key
 * compare, without hashing or probing (slot indices move only when the
 * table grows, which clears the memory).
 *
 * The builder's lookahead (fs_ahead.h) hashes keys and prefetches slots
 * and rows events before it asks for them: pr__fs_table_hash is the hash
 * every lookup uses, pr__fs_table_peek reads slots only.
 */
#include <stdlib.h>

#include "fstore/fs_ahead.h"
#include "fstore/fs_int.h"
#include "fstore/fs_rowmem.h"

typedef struct slot {
    uint64_t hash;    /* 0 = empty (hashes are forced nonzero) */
    uint8_t *mem;     /* key bytes then blob: a row memory block of
                         key_len + cap bytes */
    uint32_t entity;
    uint32_t key_len, blob_len, cap;
} slot;

#define LAST_ENTITIES 64 /* = PR__FS_MAX_ENTITIES */

typedef struct table {
    slot *slots;
    uint64_t mask;
    uint64_t used;
    slot *last[LAST_ENTITIES]; /* per entity: the slot found last, or NULL */
    pr__rowmem mem;   /* the rows */
} table;

/* n empty slots. Advised before they are zeroed (the first touch), so
 * that the kernel backs them with huge pages from the start. */
static slot *new_slots(uint64_t n) {
    if (n > SIZE_MAX / sizeof(slot)) return NULL;
    slot *s = malloc(n * sizeof *s);
    if (!s) return NULL;
    pr__rowmem_advise_huge(s, n * sizeof *s);
    memset(s, 0, n * sizeof *s);
    return s;
}

uint64_t pr__fs_table_hash(uint32_t entity, pr_bytes key) {
    uint64_t h = pr_hash64(key.ptr, key.len, 0x9E3779B97F4A7C15ull ^ entity);
    return h ? h : 1;
}

pr_status pr__fs_table_new(void **impl, pr_err *err) {
    table *t = calloc(1, sizeof *t);
    if (t) t->slots = new_slots(1024);
    if (!t || !t->slots) {
        free(t);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    t->mask = 1023;
    *impl = t;
    return PR_OK;
}

static int same_key(const slot *s, uint32_t entity, pr_bytes key) {
    if (s->entity != entity || s->key_len != key.len) return 0;
    /* Keys are ids of a few bytes: a loop beats a call to memcmp. */
    if (key.len > 16) return !memcmp(s->mem, key.ptr, key.len);
    for (size_t i = 0; i < key.len; i++)
        if (s->mem[i] != (uint8_t)key.ptr[i]) return 0;
    return 1;
}

/* The slot entity found last, if it holds key (no hashing needed). */
static slot *find_last(table *t, uint32_t entity, pr_bytes key) {
    slot *l = entity < LAST_ENTITIES ? t->last[entity] : NULL;
    return l && same_key(l, entity, key) ? l : NULL;
}

/* The slot holding (entity, key) of hash h, or the empty slot where it
 * would go. */
static slot *find(table *t, uint32_t entity, pr_bytes key, uint64_t h) {
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
    slot *ns = new_slots(n);
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
        slot *s = find_last(t, e->id, keys[i]);
        if (!s) s = find(t, e->id, keys[i], pr__fs_table_hash(e->id, keys[i]));
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
    slot *s = find_last(t, ent, key);
    uint64_t h = s ? s->hash : pr__fs_table_hash(ent, key);
    if (!s) s = find(t, ent, key, h);
    if (!s->hash) {
        if ((t->used + 1) * 2 > t->mask + 1) {
            pr_status rc = grow(t, err);
            if (rc != PR_OK) return rc;
            s = find(t, ent, key, h);
        }
        s->mem = pr__rowmem_alloc(&t->mem, key.len + row.len);
        if (!s->mem) return pr_err_set(err, PR_ERR_NOMEM, "out of memory (row)");
        memcpy(s->mem, key.ptr, key.len);
        s->hash = h;
        s->entity = ent;
        s->key_len = (uint32_t)key.len;
        s->cap = (uint32_t)(pr__rowmem_size(key.len + row.len) - key.len);
        t->used++;
    } else if (row.len > s->cap) {
        uint8_t *m = pr__rowmem_alloc(&t->mem, s->key_len + row.len);
        if (!m) return pr_err_set(err, PR_ERR_NOMEM, "out of memory (row)");
        /* row may lie in the old block: copied before that is released */
        memcpy(m, s->mem, s->key_len);
        memcpy(m + s->key_len, row.ptr, row.len);
        pr__rowmem_release(&t->mem, s->mem, (size_t)s->key_len + s->cap);
        s->mem = m;
        s->cap = (uint32_t)(pr__rowmem_size(s->key_len + row.len) - s->key_len);
        s->blob_len = (uint32_t)row.len;
        return PR_OK;
    }
    if ((const uint8_t *)row.ptr != s->mem + s->key_len)
        memmove(s->mem + s->key_len, row.ptr, row.len);
    s->blob_len = (uint32_t)row.len;
    return PR_OK;
}

void pr__fs_table_prefetch_slot(void *impl, uint64_t hash) {
    table *t = impl;
    __builtin_prefetch(&t->slots[hash & t->mask]);
}

const uint8_t *pr__fs_table_peek(void *impl, uint32_t entity, uint64_t hash,
                                 uint32_t *len) {
    table *t = impl;
    for (uint64_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        const slot *s = &t->slots[i];
        if (!s->hash) return NULL;
        if (s->hash == hash && s->entity == entity) {
            *len = s->blob_len;
            return s->mem + s->key_len;
        }
    }
}

static void table_close(void *impl) {
    table *t = impl;
    if (!t) return;
    /* Blocks within slabs go with the slabs; only larger ones one by one
     * (decided from the slot, without touching the rows). */
    for (uint64_t i = 0; i <= t->mask; i++) {
        const slot *s = &t->slots[i];
        if (s->hash && pr__rowmem_size((size_t)s->key_len + s->cap) > PR__ROWMEM_CLASS_MAX)
            pr__rowmem_release(&t->mem, s->mem, (size_t)s->key_len + s->cap);
    }
    pr__rowmem_free(&t->mem);
    free(t->slots);
    free(t);
}

void pr__fs_table_usage(void *impl, uint64_t *rows, uint64_t *bytes) {
    table *t = impl;
    *rows = t->used;
    *bytes = t->mem.bytes + (t->mask + 1) * sizeof(slot);
}

const pr__fs_rows_ops pr__fs_table_ops = {.get_batch = table_get_batch,
                                          .put = table_put,
                                          .close = table_close};
