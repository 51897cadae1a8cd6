/*
 * model_mem.c: memory for weight tables.
 *
 * Weight tables run from kilobytes (tests) to gigabytes (FFM at 2^20
 * buckets x 39 fields). Large ones come from anonymous mmap: the kernel
 * hands out zero pages lazily, so allocation is O(1) and a bucket no
 * example touches costs no RAM; MADV_HUGEPAGE cuts page faults and TLB
 * misses on the random access training does. Small ones come from
 * posix_memalign (64-byte aligned) and are zeroed. The caller passes the same size to free, which picks
 * the matching release.
 *
 * populate: the caller will write every byte at once (loading a model
 * file): MAP_POPULATE faults the pages in one kernel pass, several times
 * faster than taking one fault per page while read() fills them.
 * pr__model_mem_lazy() lets a caller that will write only some pages (the
 * sparse model-file loader) turn that off for the tables the model kinds
 * create on its thread, without the kinds knowing: populating would commit
 * RAM for every page of a table that is mostly zeros.
 *
 * Invariant: memory returned is zeroed and 64-byte aligned.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "model/model_int.h"

#define MMAP_THRESHOLD (1u << 20)

/* Per thread, so a sparse load never changes how another thread's
 * allocations behave. */
static _Thread_local int lazy_only;

int pr__model_mem_lazy(int on) {
    int was = lazy_only;
    lazy_only = on;
    return was;
}

void *pr__model_alloc_zero(size_t bytes, int populate) {
    if (bytes == 0) bytes = 64;
    if (lazy_only) populate = 0;
    if (bytes < MMAP_THRESHOLD) {
        void *p = NULL;
        size_t rounded = (bytes + 63) & ~(size_t)63;
        if (posix_memalign(&p, 64, rounded) != 0) return NULL;
        memset(p, 0, rounded);
        return p;
    }
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (populate) flags |= MAP_POPULATE;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    /* Advisory. After MAP_POPULATE it lets khugepaged merge the pages in
     * the background. On a lazily filled table it would make every first
     * touch fault (and, with the usual defrag=madvise, compact memory for)
     * a whole 2 MiB page: measured erratic, and it commits the whole table
     * when the touched rows are spread thinly, so it is left to the
     * system's default there. */
    if (populate) madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

void pr__model_free_zero(void *p, size_t bytes) {
    if (!p) return;
    if (bytes == 0) bytes = 64;
    if (bytes < MMAP_THRESHOLD)
        free(p);
    else
        munmap(p, bytes);
}
