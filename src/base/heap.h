/*
 * heap.h: a binary min-heap, generated per element type so the comparison
 * inlines (the simulator's pending events and the joiner's deadlines are
 * on hot paths). Internal to the library.
 *
 *     static inline int earlier(const ev *a, const ev *b) { ... }
 *     PR__HEAP_DEFINE(ev_heap, ev, earlier)
 *
 * defines `typedef struct ev_heap {ev *items; size_t n, cap;} ev_heap;`
 * (zero-initialized = empty) and:
 *     int  ev_heap_push(ev_heap *h, const ev *x);  1, or 0 out of memory
 *     const ev *ev_heap_top(const ev_heap *h);     smallest, NULL if empty
 *     void ev_heap_pop(ev_heap *h, ev *out);       removes the smallest
 *                                                  (out may be NULL)
 *     void ev_heap_free(ev_heap *h);
 * Ties come out in whatever order LESS leaves them: make LESS total (e.g.
 * break ties by a sequence number) when the output order must be
 * reproducible. The heap owns its array, grows by doubling, never shrinks.
 */
#ifndef PRONTO_BASE_HEAP_H
#define PRONTO_BASE_HEAP_H

#include <stdlib.h>

#define PR__HEAP_DEFINE(NAME, T, LESS)                                        \
    typedef struct NAME {                                                     \
        T *items;                                                             \
        size_t n, cap;                                                        \
    } NAME;                                                                   \
    static inline int NAME##_push(NAME *h, const T *x) {                      \
        if (h->n == h->cap) {                                                 \
            size_t cap = h->cap ? h->cap * 2 : 1024;                          \
            T *items = realloc(h->items, cap * sizeof *items);                \
            if (!items) return 0;                                             \
            h->items = items;                                                 \
            h->cap = cap;                                                     \
        }                                                                     \
        size_t i = h->n++;                                                    \
        while (i > 0) {                                                       \
            size_t parent = (i - 1) / 2;                                      \
            if (!LESS(x, &h->items[parent])) break;                           \
            h->items[i] = h->items[parent];                                   \
            i = parent;                                                       \
        }                                                                     \
        h->items[i] = *x;                                                     \
        return 1;                                                             \
    }                                                                         \
    static inline const T *NAME##_top(const NAME *h) {                        \
        return h->n ? &h->items[0] : NULL;                                    \
    }                                                                         \
    static inline void NAME##_pop(NAME *h, T *out) {                          \
        if (out) *out = h->items[0];                                          \
        T last = h->items[--h->n];                                            \
        size_t i = 0, n = h->n;                                               \
        for (;;) {                                                            \
            size_t child = 2 * i + 1;                                         \
            if (child >= n) break;                                            \
            if (child + 1 < n && LESS(&h->items[child + 1], &h->items[child])) \
                child++;                                                      \
            if (!LESS(&h->items[child], &last)) break;                        \
            h->items[i] = h->items[child];                                    \
            i = child;                                                        \
        }                                                                     \
        if (n) h->items[i] = last;                                            \
    }                                                                         \
    static inline void NAME##_free(NAME *h) {                                 \
        free(h->items);                                                       \
        h->items = NULL;                                                      \
        h->n = h->cap = 0;                                                    \
    }

#endif
