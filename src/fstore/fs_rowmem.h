/*
 * fs_rowmem.h: memory for the in-process table's rows (fs_table.c).
 *
 * A replay keeps up to millions of rows of about a kilobyte and reads a
 * few of them per event at random: with 4 KiB pages nearly every row read
 * also misses the TLB. Rows are therefore carved out of large slabs
 * advised as transparent huge pages (MADV_HUGEPAGE; a hint the kernel may
 * ignore), in 64-byte units aligned to cache lines; freed blocks go to a
 * free list per size and are reused first. Blocks larger than
 * PR__ROWMEM_CLASS_MAX are plain mallocs.
 *
 * Ownership: the pool owns every block. pr__rowmem_free releases the
 * slabs, hence every block of at most PR__ROWMEM_CLASS_MAX bytes, at once;
 * larger blocks must be released one by one first.
 */
#ifndef PRONTO_FS_ROWMEM_H
#define PRONTO_FS_ROWMEM_H

#include <stddef.h>
#include <stdint.h>

#define PR__ROWMEM_UNIT 64u
#define PR__ROWMEM_CLASS_MAX (64u * 1024u) /* larger: malloc */

typedef struct pr__rowmem_slab pr__rowmem_slab;

typedef struct pr__rowmem {
    pr__rowmem_slab *slabs;  /* newest first */
    uint8_t *next, *end;     /* the unused part of the newest slab */
    void *free_lists[PR__ROWMEM_CLASS_MAX / PR__ROWMEM_UNIT + 1];
    uint64_t bytes;          /* block bytes handed out and not freed */
} pr__rowmem;

/* The block size for a request of n bytes, which is what pr__rowmem_alloc
 * really hands out (callers may use all of it). */
static inline size_t pr__rowmem_size(size_t n) {
    return (n + PR__ROWMEM_UNIT - 1) / PR__ROWMEM_UNIT * PR__ROWMEM_UNIT;
}

/* A zeroed struct is an empty pool.
 *
 * A block of pr__rowmem_size(n) bytes, 64-byte aligned (malloc's alignment
 * beyond PR__ROWMEM_CLASS_MAX); NULL when out of memory. */
void *pr__rowmem_alloc(pr__rowmem *m, size_t n);
/* Returns block p of the n bytes it was allocated with. */
void pr__rowmem_release(pr__rowmem *m, void *p, size_t n);
void pr__rowmem_free(pr__rowmem *m);
/* Advises [p, p + n) as transparent huge pages (the whole pages inside). */
void pr__rowmem_advise_huge(void *p, size_t n);

#endif
