/*
 * fs_rowmem.c: the row memory of fs_rowmem.h.
 *
 * Slabs are malloc'd (large, so glibc maps them) with a little slack to
 * start on a 2 MiB boundary, and advised as huge pages before anything
 * touches them. A slab begins with its link in the slab list; blocks are
 * bumped from the rest. A free block holds the next free block of its size
 * in its first 8 bytes.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "fstore/fs_rowmem.h"

#define SLAB_BYTES ((size_t)32 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

struct pr__rowmem_slab {
    pr__rowmem_slab *next;
};

void pr__rowmem_advise_huge(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
    uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t b = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

static int new_slab(pr__rowmem *m) {
    uint8_t *raw = malloc(SLAB_BYTES + HUGE_PAGE);
    if (!raw) return 0;
    pr__rowmem_advise_huge(raw, SLAB_BYTES + HUGE_PAGE);
    pr__rowmem_slab *s = (pr__rowmem_slab *)raw;
    s->next = m->slabs;
    m->slabs = s;
    /* Blocks start at the first huge-page boundary past the link. */
    uintptr_t start = ((uintptr_t)raw + sizeof *s + HUGE_PAGE - 1) &
                      ~(uintptr_t)(HUGE_PAGE - 1);
    m->next = (uint8_t *)start;
    m->end = raw + SLAB_BYTES + HUGE_PAGE;
    return 1;
}

void *pr__rowmem_alloc(pr__rowmem *m, size_t n) {
    size_t size = pr__rowmem_size(n ? n : 1);
    if (size > PR__ROWMEM_CLASS_MAX) {
        void *p = malloc(size);
        if (p) m->bytes += size;
        return p;
    }
    void **list = &m->free_lists[size / PR__ROWMEM_UNIT];
    if (*list) {
        void *p = *list;
        *list = *(void **)p;
        m->bytes += size;
        return p;
    }
    if ((size_t)(m->end - m->next) < size && !new_slab(m)) return NULL;
    void *p = m->next;
    m->next += size;
    m->bytes += size;
    return p;
}

void pr__rowmem_release(pr__rowmem *m, void *p, size_t n) {
    if (!p) return;
    size_t size = pr__rowmem_size(n ? n : 1);
    m->bytes -= size;
    if (size > PR__ROWMEM_CLASS_MAX) {
        free(p);
        return;
    }
    void **list = &m->free_lists[size / PR__ROWMEM_UNIT];
    *(void **)p = *list;
    *list = p;
}

void pr__rowmem_free(pr__rowmem *m) {
    while (m->slabs) {
        pr__rowmem_slab *s = m->slabs;
        m->slabs = s->next;
        free(s);
    }
    m->next = m->end = NULL;
}
