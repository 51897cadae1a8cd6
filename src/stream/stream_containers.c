/*
 * stream_containers.c: the containers of stream_int.h.
 *
 * The id map hashes keys with splitmix64's finalizer (ids are sequential,
 * so they need mixing), all but their low 2 bits (pr__tsidmap_home), and
 * deletes by backward shift: after removing a slot, later slots of the
 * same probe run move back into the hole, which keeps every key reachable
 * without tombstones.
 *
 * The queue's FIFO holds nodes in non-decreasing (key, id) order (a push
 * below its back goes to the heap instead), so its front is its smallest
 * node and the queue's smallest is the smaller of the two fronts.
 *
 * The payload pool's chunks are referred to by index (the chunk array may
 * move when it grows, the chunks' memory never does).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "stream/stream_int.h"

uint32_t *pr__tsidmap_get(const pr__tsidmap *m, uint64_t key) {
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = pr__tsidmap_home(key, mask);; i = (i + 1) & mask) {
        pr__tsidmap_slot *s = &m->slots[i];
        if (!s->used) return NULL;
        if (s->key == key) return &s->val;
    }
}

#define HUGE_PAGE ((size_t)2 << 20)

/* cap zeroed slots, aligned so that a run of 4 slots is one cache line. A
 * map of megabytes is probed at random (one TLB miss per probe with 4 KiB
 * pages): it is aligned to and advised as huge pages, before the zeroing
 * touches it. */
static pr__tsidmap_slot *alloc_slots(size_t cap) {
    size_t bytes = cap * sizeof(pr__tsidmap_slot);
    pr__tsidmap_slot *s;
    if (bytes >= HUGE_PAGE) {
        s = aligned_alloc(HUGE_PAGE, bytes); /* cap is a power of two */
#ifdef MADV_HUGEPAGE
        if (s) (void)madvise(s, bytes, MADV_HUGEPAGE);
#endif
    } else {
        s = aligned_alloc(64, bytes);
    }
    if (s) memset(s, 0, bytes);
    return s;
}

static pr_status grow(pr__tsidmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    pr__tsidmap_slot *slots = alloc_slots(cap);
    if (!slots) return PR_ERR_NOMEM;
    for (size_t k = 0; k < m->cap; k++) {
        if (!m->slots[k].used) continue;
        size_t i = pr__tsidmap_home(m->slots[k].key, cap - 1);
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
    size_t mask = m->cap - 1, i = pr__tsidmap_home(key, mask);
    while (m->slots[i].used) i = (i + 1) & mask;
    m->slots[i].key = key;
    m->slots[i].val = val;
    m->slots[i].used = 1;
    m->n++;
    return PR_OK;
}

int pr__tsidmap_put_new(pr__tsidmap *m, uint64_t key, uint32_t val) {
    if ((m->n + 1) * 2 > m->cap && grow(m) != PR_OK) return -1;
    size_t mask = m->cap - 1, i = pr__tsidmap_home(key, mask);
    for (; m->slots[i].used; i = (i + 1) & mask)
        if (m->slots[i].key == key) return 0;
    m->slots[i].key = key;
    m->slots[i].val = val;
    m->slots[i].used = 1;
    m->n++;
    return 1;
}

int pr__tsidmap_del(pr__tsidmap *m, uint64_t key) {
    if (!m->cap) return 0;
    size_t mask = m->cap - 1, i = pr__tsidmap_home(key, mask);
    while (m->slots[i].used && m->slots[i].key != key) i = (i + 1) & mask;
    if (!m->slots[i].used) return 0;
    /* Backward shift: pull later entries of the run into the hole at i
     * when their home slot does not lie cyclically in (i, j]. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].used) break;
        size_t h = pr__tsidmap_home(m->slots[j].key, mask);
        int stays = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
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

/* ---------------------------------------------------------------- queue */

static int fifo_grow(pr__tsqueue *q) {
    size_t cap = q->cap ? q->cap * 2 : 1024;
    pr__tsnode *f = malloc(cap * sizeof *f);
    if (!f) return 0;
    for (size_t i = 0; i < q->n; i++) f[i] = q->fifo[(q->head + i) & (q->cap - 1)];
    free(q->fifo);
    q->fifo = f;
    q->cap = cap;
    q->head = 0;
    return 1;
}

int pr__tsqueue_push_slow(pr__tsqueue *q, const pr__tsnode *x) {
    if (q->n && pr__tsnode_less(x, &q->fifo[(q->head + q->n - 1) & (q->cap - 1)]))
        return pr__tsheap_push(&q->heap, x);
    if (q->n == q->cap && !fifo_grow(q)) return 0;
    q->fifo[(q->head + q->n) & (q->cap - 1)] = *x;
    q->n++;
    return 1;
}

void pr__tsqueue_pop(pr__tsqueue *q) {
    const pr__tsnode *h = pr__tsheap_top(&q->heap);
    if (h && (!q->n || pr__tsnode_less(h, &q->fifo[q->head]))) {
        pr__tsheap_pop(&q->heap, NULL);
        return;
    }
    q->head = (q->head + 1) & (q->cap - 1);
    q->n--;
}

void pr__tsqueue_free(pr__tsqueue *q) {
    free(q->fifo);
    pr__tsheap_free(&q->heap);
    memset(q, 0, sizeof *q);
}

/* ---------------------------------------------------------------- payloads */

#define CHUNK_BYTES ((size_t)1 << 20)
#define NONE UINT32_MAX

void pr__payloads_init(pr__payloads *p) {
    memset(p, 0, sizeof *p);
    p->cur = p->free_head = NONE;
}

/* A chunk slot with at least `bytes` of memory: a free one, or a new one.
 * NONE when out of memory. */
static uint32_t chunk_take(pr__payloads *p, size_t bytes) {
    uint32_t c = p->free_head;
    if (c != NONE) {
        p->free_head = p->chunks[c].next_free;
    } else {
        if (p->n == p->cap) {
            uint32_t cap = p->cap ? p->cap * 2 : 16;
            pr__payload_chunk *v = realloc(p->chunks, cap * sizeof *v);
            if (!v) return NONE;
            p->chunks = v;
            p->cap = cap;
        }
        c = p->n++;
        memset(&p->chunks[c], 0, sizeof p->chunks[c]);
    }
    pr__payload_chunk *k = &p->chunks[c];
    if (k->cap < bytes || (k->cap > CHUNK_BYTES && bytes <= CHUNK_BYTES)) {
        /* Too small, or an oversized one's memory: make it fit. */
        p->bytes -= k->cap;
        free(k->mem);
        k->cap = 0;
        if (!(k->mem = malloc(bytes))) {
            k->next_free = p->free_head;
            p->free_head = c;
            return NONE;
        }
        k->cap = bytes;
        p->bytes += bytes;
    }
    k->used = 0;
    k->live = 0;
    k->next_free = NONE;
    return c;
}

char *pr__payloads_alloc(pr__payloads *p, size_t len, uint32_t *ref) {
    uint32_t c;
    if (len > CHUNK_BYTES / 4) {
        c = chunk_take(p, len); /* its own chunk, never the current one */
    } else {
        c = p->cur;
        if (c == NONE || p->chunks[c].cap - p->chunks[c].used < len) {
            if (c != NONE && p->chunks[c].live == 0) {
                p->chunks[c].used = 0;
            } else {
                c = chunk_take(p, CHUNK_BYTES);
                if (c == NONE) return NULL;
                /* The old current chunk is released by its last payload. */
                p->cur = c;
            }
        }
    }
    if (c == NONE) return NULL;
    pr__payload_chunk *k = &p->chunks[c];
    char *out = k->mem + k->used;
    k->used += (len + 7) & ~(size_t)7;
    if (k->used > k->cap) k->used = k->cap;
    k->live++;
    *ref = c;
    return out;
}

void pr__payloads_release(pr__payloads *p, uint32_t ref) {
    pr__payload_chunk *k = &p->chunks[ref];
    if (--k->live) return;
    if (ref == p->cur) {
        k->used = 0; /* empty again: refill from the start */
        return;
    }
    k->next_free = p->free_head;
    p->free_head = ref;
}

void pr__payloads_free(pr__payloads *p) {
    for (uint32_t c = 0; c < p->n; c++) free(p->chunks[c].mem);
    free(p->chunks);
    pr__payloads_init(p);
}
