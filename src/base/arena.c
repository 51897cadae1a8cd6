/*
 * arena.c: the bump allocator behind per-example and per-request memory.
 *
 * Structure: a chain of blocks, newest first. The first block is either the
 * caller's buffer (never freed by us) or a malloc'd block. Allocation bumps
 * `used` in the head block; when it doesn't fit, a new block at least twice
 * the previous size is pushed. pr_arena_reset frees every block but the
 * oldest (the first and usually the largest is kept by folding all the
 * memory into one block of the total size on reset), so after warm-up a
 * reset arena serves the same workload with no malloc at all.
 */
#include <stdlib.h>
#include <string.h>

#include "pronto/base.h"

struct pr_arena_block {
    pr_arena_block *next;
    size_t cap;
    /* data follows, 16-byte aligned */
    _Alignas(16) char data[];
};

#define ARENA_MIN_BLOCK 4096

void pr_arena_init(pr_arena *a, void *buf, size_t buf_len, size_t max_bytes) {
    memset(a, 0, sizeof *a);
    a->buf = buf;
    a->buf_len = buf_len;
    a->max_bytes = max_bytes;
    if (buf) a->cap = buf_len;
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

static char *head_data(pr_arena *a) {
    return a->head ? a->head->data : a->buf;
}

void *pr_arena_alloc(pr_arena *a, size_t n) {
    n = align16(n ? n : 1);
    char *base = head_data(a);
    if (base) {
        /* the caller's buffer may not be 16-aligned: align the pointer */
        uintptr_t p = ((uintptr_t)(base + a->used) + 15) & ~(uintptr_t)15;
        size_t off = (size_t)(p - (uintptr_t)base);
        if (off + n <= a->cap) {
            a->used = off + n;
            a->total += n;
            return (void *)p;
        }
    }
    if (a->max_bytes && a->total + n > a->max_bytes) return NULL;
    size_t want = a->cap * 2;
    if (want < ARENA_MIN_BLOCK) want = ARENA_MIN_BLOCK;
    if (want < n) want = n;
    pr_arena_block *b = malloc(sizeof *b + want);
    if (!b) return NULL;
    b->next = a->head;
    b->cap = want;
    a->head = b;
    a->cap = want;
    a->used = n;
    a->total += n;
    return b->data;
}

char *pr_arena_strndup(pr_arena *a, const char *s, size_t n) {
    char *p = pr_arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void pr_arena_reset(pr_arena *a) {
    /* If more than one block was needed, replace them all with one block
     * big enough for the whole last workload: the next round fits. */
    if (a->head && (a->head->next || (a->buf && a->total > 0))) {
        size_t need = a->total;
        pr_arena_block *b = a->head;
        while (b) {
            pr_arena_block *next = b->next;
            free(b);
            b = next;
        }
        a->head = NULL;
        a->cap = a->buf ? a->buf_len : 0;
        if (need > a->cap) {
            size_t want = align16(need) + ARENA_MIN_BLOCK;
            if (!a->max_bytes || want <= a->max_bytes) {
                pr_arena_block *nb = malloc(sizeof *nb + want);
                if (nb) {
                    nb->next = NULL;
                    nb->cap = want;
                    a->head = nb;
                    a->cap = want;
                }
            }
        }
    }
    a->used = 0;
    a->total = 0;
}

void pr_arena_free(pr_arena *a) {
    if (!a) return;
    pr_arena_block *b = a->head;
    while (b) {
        pr_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used = a->cap = a->total = 0;
}
