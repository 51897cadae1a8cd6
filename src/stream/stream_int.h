/*
 * stream_int.h: containers shared by the stream module's files (not public).
 *
 *   pr__tsidmap   uint64 key -> uint32 value, open addressing with linear
 *               probing and backward-shift deletion (no tombstones, so a
 *               long stream of inserts and deletes never degrades). Grows
 *               at load 1/2; never shrinks.
 *   pr__tsqueue   a min-priority queue of (key, id, idx) nodes ordered by
 *               key, then id (the id breaks ties so pop order is
 *               deterministic). Event streams are nearly sorted, so most
 *               nodes arrive in order: a node not below the newest one in
 *               the FIFO goes to the FIFO's back (O(1) push and pop, no
 *               heap walk over a large array), any other node to a binary
 *               heap (PR__HEAP_DEFINE, base/heap.h); top and pop take the
 *               smaller of the two fronts. idx is the caller's (the
 *               joiner's entry index), carried along.
 *   pr__payloads  byte strings that live about as long as each other
 *               (the joiner's impression payloads: one attribution
 *               window), packed into 1 MiB chunks: an allocation is a bump
 *               of the current chunk, a release decrements its chunk's
 *               count, and a chunk whose count is 0 is reused, so the
 *               steady state runs without malloc. A string larger than a
 *               quarter chunk gets a chunk of its own. Pointers stay valid
 *               until their release (chunks never move).
 *
 * All own their arrays; *_free releases them and accepts a zeroed struct.
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

static inline size_t pr__tsidmap_mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return (size_t)x;
}

/* A key's home slot: ids come in runs (1, 2, 3, ...), so the runs of 4
 * that share all but their low 2 bits get 4 neighbouring slots (one cache
 * line of slots), and the runs themselves are scattered by the mix. Keys
 * that are all multiples of 4 still spread: they just leave their
 * neighbours free for collisions. */
static inline size_t pr__tsidmap_home(uint64_t key, size_t mask) {
    return ((pr__tsidmap_mix(key >> 2) << 2) | (size_t)(key & 3)) & mask;
}

/* Starts loading key's home slot into the cache (a lookup coming soon).
 * Always inlined: GCC deems a function that only prefetches free of
 * effects, and drops its calls. */
__attribute__((always_inline)) static inline void pr__tsidmap_prefetch(const pr__tsidmap *m, uint64_t key) {
    if (m->cap) __builtin_prefetch(&m->slots[pr__tsidmap_home(key, m->cap - 1)]);
}
/* Returns a pointer to key's value, or NULL. Borrowed until the next put/del. */
uint32_t *pr__tsidmap_get(const pr__tsidmap *m, uint64_t key);
/* Inserts or overwrites. PR_ERR_NOMEM when growing fails (map unchanged). */
pr_status pr__tsidmap_put(pr__tsidmap *m, uint64_t key, uint32_t val);
/* Inserts key -> val unless key is present (one probe either way):
 * 1 inserted, 0 present (its value unchanged), -1 out of memory (map
 * unchanged). */
int pr__tsidmap_put_new(pr__tsidmap *m, uint64_t key, uint32_t val);
/* Removes key if present; returns 1 if it was. */
int pr__tsidmap_del(pr__tsidmap *m, uint64_t key);
void pr__tsidmap_free(pr__tsidmap *m);

typedef struct pr__tsnode {
    int64_t key;
    uint64_t id;
    uint32_t idx;
} pr__tsnode;

static inline int pr__tsnode_less(const pr__tsnode *a, const pr__tsnode *b) {
    return a->key < b->key || (a->key == b->key && a->id < b->id);
}
PR__HEAP_DEFINE(pr__tsheap, pr__tsnode, pr__tsnode_less)

typedef struct pr__tsqueue {
    pr__tsnode *fifo;  /* ring: fifo[(head + i) & (cap - 1)], i < n */
    size_t head, n, cap;
    pr__tsheap heap;   /* the nodes that arrived out of order */
} pr__tsqueue;

/* 1, or 0 out of memory (queue unchanged). */
int pr__tsqueue_push_slow(pr__tsqueue *q, const pr__tsnode *x);
/* pr__tsqueue_push_slow with the usual case inline: a node not below the
 * FIFO's back, with room in the ring. */
static inline int pr__tsqueue_push(pr__tsqueue *q, int64_t key, uint64_t id,
                                   uint32_t idx) {
    if (q->n && q->n < q->cap) {
        size_t mask = q->cap - 1;
        const pr__tsnode *back = &q->fifo[(q->head + q->n - 1) & mask];
        if (key > back->key || (key == back->key && id >= back->id)) {
            pr__tsnode *to = &q->fifo[(q->head + q->n) & mask];
            to->key = key; /* field by field: no node built on the stack */
            to->id = id;
            to->idx = idx;
            q->n++;
            /* The back moves one node at a time through a ring larger
             * than the cache: claim its next lines ahead of the stores. */
            __builtin_prefetch(&q->fifo[(q->head + q->n + 8) & mask], 1);
            return 1;
        }
    }
    pr__tsnode x = {key, id, idx};
    return pr__tsqueue_push_slow(q, &x);
}
static inline size_t pr__tsqueue_size(const pr__tsqueue *q) {
    return q->n + q->heap.n;
}
/* The smallest node, NULL if empty. Borrowed until the next push/pop. */
static inline const pr__tsnode *pr__tsqueue_top(const pr__tsqueue *q) {
    const pr__tsnode *f = q->n ? &q->fifo[q->head] : NULL;
    const pr__tsnode *h = pr__tsheap_top(&q->heap);
    if (!f) return h;
    if (!h) return f;
    return pr__tsnode_less(h, f) ? h : f;
}
/* The FIFO's k-th node from the front (k = 0: its front), NULL if it holds
 * k nodes or fewer: what will most likely come out after the next k pops,
 * for prefetching. */
static inline const pr__tsnode *pr__tsqueue_ahead(const pr__tsqueue *q, size_t k) {
    return k < q->n ? &q->fifo[(q->head + k) & (q->cap - 1)] : NULL;
}
/* Removes the smallest node (the queue must not be empty). */
void pr__tsqueue_pop(pr__tsqueue *q);
void pr__tsqueue_free(pr__tsqueue *q);

typedef struct pr__payload_chunk {
    char *mem;
    size_t used, cap;
    uint32_t live;       /* allocations not yet released */
    uint32_t next_free;  /* free list link (UINT32_MAX: end) */
} pr__payload_chunk;

typedef struct pr__payloads {
    pr__payload_chunk *chunks;
    uint32_t n, cap;
    uint32_t cur;        /* chunk being filled, UINT32_MAX before the first */
    uint32_t free_head;  /* chunks with live == 0 (not cur), UINT32_MAX: none */
    uint64_t bytes;      /* chunk memory held */
} pr__payloads;

/* A zeroed pool, ready for alloc. */
void pr__payloads_init(pr__payloads *p);
/* len bytes (len 0 is fine: a valid pointer); *ref names the allocation
 * for pr__payloads_release. NULL when out of memory. */
char *pr__payloads_alloc(pr__payloads *p, size_t len, uint32_t *ref);
void pr__payloads_release(pr__payloads *p, uint32_t ref);
void pr__payloads_free(pr__payloads *p);

#endif
