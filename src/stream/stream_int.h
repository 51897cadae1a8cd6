/*
 * stream_int.h: containers shared by the stream module's files (not public).
 *
 *   pr__tsidmap   uint64 key -> uint32 value, open addressing with linear
 *               probing and backward-shift deletion (no tombstones, so a
 *               long stream of inserts and deletes never degrades). Grows
 *               at load 1/2; never shrinks.
 *   pr__tsheap    a binary min-heap of (key, id) pairs ordered by key, then id:
 *               the id breaks ties so pop order is deterministic
 *               (PR__HEAP_DEFINE, base/heap.h).
 *
 * Both own their arrays; *_free releases them and accepts a zeroed struct.
 */
#ifndef PRONTO_STREAM_INT_H
#define PRONTO_STREAM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/heap.h"
#include "pronto/base.h"

typedef struct pr__tsidmap_slot {
    uint64_t key;
    uint32_t val;
    uint32_t used;
} pr__tsidmap_slot;

typedef struct pr__tsidmap {
    pr__tsidmap_slot *slots;
    size_t cap;   /* power of two, or 0 before the first insert */
    size_t n;
} pr__tsidmap;

/* Returns a pointer to key's value, or NULL. Borrowed until the next put/del. */
uint32_t *pr__tsidmap_get(const pr__tsidmap *m, uint64_t key);
/* Inserts or overwrites. PR_ERR_NOMEM when growing fails (map unchanged). */
pr_status pr__tsidmap_put(pr__tsidmap *m, uint64_t key, uint32_t val);
/* Removes key if present; returns 1 if it was. */
int pr__tsidmap_del(pr__tsidmap *m, uint64_t key);
void pr__tsidmap_free(pr__tsidmap *m);

typedef struct pr__tsheap_node {
    int64_t key;
    uint64_t id;
} pr__tsheap_node;

static inline int pr__tsheap_less(const pr__tsheap_node *a, const pr__tsheap_node *b) {
    return a->key < b->key || (a->key == b->key && a->id < b->id);
}
PR__HEAP_DEFINE(pr__tsheap, pr__tsheap_node, pr__tsheap_less)

#endif
