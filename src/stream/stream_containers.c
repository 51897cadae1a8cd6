/*
 * stream_containers.c: the id map of stream_int.h (the heap comes from
 * base/heap.h). The map hashes keys with splitmix64's finalizer (ids are
 * sequential, so they need mixing) and deletes by backward shift: after
 * removing a slot, later slots of the same probe run move back into the
 * hole, which keeps every key reachable without tombstones.
 */
#include <stdlib.h>

#include "stream/stream_int.h"

static inline size_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return (size_t)x;
}

uint32_t *pr__tsidmap_get(const pr__tsidmap *m, uint64_t key) {
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
        pr__tsidmap_slot *s = &m->slots[i];
        if (!s->used) return NULL;
        if (s->key == key) return &s->val;
    }
}

static pr_status grow(pr__tsidmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    pr__tsidmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots) return PR_ERR_NOMEM;
    for (size_t k = 0; k < m->cap; k++) {
        if (!m->slots[k].used) continue;
        size_t i = mix(m->slots[k].key) & (cap - 1);
        while (slots[i].used) i = (i + 1) & (cap - 1);
        slots[i] = m->slots[k];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return PR_OK;
}

pr_status pr__tsidmap_put(pr__tsidmap *m, uint64_t key, uint32_t val) {
    uint32_t *v = pr__tsidmap_get(m, key);
    if (v) {
        *v = val;
        return PR_OK;
    }
    if ((m->n + 1) * 2 > m->cap && grow(m) != PR_OK) return PR_ERR_NOMEM;
    size_t mask = m->cap - 1, i = mix(key) & mask;
    while (m->slots[i].used) i = (i + 1) & mask;
    m->slots[i].key = key;
    m->slots[i].val = val;
    m->slots[i].used = 1;
    m->n++;
    return PR_OK;
}

int pr__tsidmap_del(pr__tsidmap *m, uint64_t key) {
    if (!m->cap) return 0;
    size_t mask = m->cap - 1, i = mix(key) & mask;
    while (m->slots[i].used && m->slots[i].key != key) i = (i + 1) & mask;
    if (!m->slots[i].used) return 0;
    /* Backward shift: pull later entries of the run into the hole at i
     * when their home slot does not lie cyclically in (i, j]. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].used) break;
        size_t home = mix(m->slots[j].key) & mask;
        int stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        m->slots[i] = m->slots[j];
        i = j;
    }
    m->slots[i].used = 0;
    m->n--;
    return 1;
}

void pr__tsidmap_free(pr__tsidmap *m) {
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
