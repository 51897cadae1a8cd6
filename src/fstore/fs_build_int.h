/*
 * fs_build_int.h: table rows as time-ordered attribute updates, shared by
 * fs_tables.c (reading them) and fs_build.c (replaying them between
 * events).
 */
#ifndef PRONTO_FS_BUILD_INT_H
#define PRONTO_FS_BUILD_INT_H

#include "fstore/fs_int.h"

typedef struct pr__fs_update {
    int64_t effective_ms;
    uint64_t seq;        /* order of reading: breaks effective-time ties */
    uint32_t entity;
    pr_bytes *vals;      /* key texts, the effective time, attribute texts */
} pr__fs_update;

typedef struct pr__fs_updates {
    pr__fs_update *v;    /* owned, sorted by (effective_ms, seq) */
    size_t n, cap;
    pr_arena arena;      /* the texts */
} pr__fs_updates;

/* Reads every table source under dir (NULL: paths as they are). */
pr_status pr__fs_read_tables(const pr_fs *fs, const char *dir,
                             pr__fs_updates *u, pr_err *err);
void pr__fs_updates_free(pr__fs_updates *u);
pr_status pr__fs_put_update(pr_fs *fs, const pr__fs_update *up, pr_err *err);

#endif
