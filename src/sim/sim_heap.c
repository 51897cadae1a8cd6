/*
 * sim_heap.c: the min-heap of pending clicks and conversions, keyed by
 * (ts_ms, seq). seq is the scheduling order, so equal timestamps come out
 * in a fixed order and the stream stays byte-identical for a seed.
 *
 * The heap owns its array; it grows by doubling and never shrinks. Its size
 * is bounded by the events scheduled within the longest delay cap (clicks:
 * --max-click-delay, conversions: --max-conversion-delay), not by the run.
 */
#include <stdlib.h>

#include "sim/sim_int.h"

static inline int earlier(const pr__pending *a, const pr__pending *b) {
    return a->ts_ms < b->ts_ms || (a->ts_ms == b->ts_ms && a->seq < b->seq);
}

pr_status pr__heap_push(pr__heap *h, const pr__pending *p, pr_err *err) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        pr__pending *items = realloc(h->items, cap * sizeof *items);
        if (!items)
            return pr_err_set(err, PR_ERR_NOMEM, "simulate: cannot grow the pending-event heap to %zu",
                              cap);
        h->items = items;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(p, &h->items[parent])) break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = *p;
    return PR_OK;
}

void pr__heap_pop(pr__heap *h, pr__pending *out) {
    *out = h->items[0];
    pr__pending last = h->items[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && earlier(&h->items[child + 1], &h->items[child])) child++;
        if (!earlier(&h->items[child], &last)) break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (n) h->items[i] = last;
}

void pr__heap_free(pr__heap *h) {
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}
