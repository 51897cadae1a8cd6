/*
 * fs_overlay.h: the write-back overlay of a pr_fs over a pr_store, for bulk
 * replays (fs_overlay.c says why and how).
 */
#ifndef PRONTO_FS_OVERLAY_H
#define PRONTO_FS_OVERLAY_H

#include "pronto/fstore.h"

/* Puts the overlay between fs and its store: from now on the fs's writes
 * stay in memory until pr__fs_overlay_commit. PR_ERR_INVALID when fs has
 * no store (the in-process table needs none). Freed with the fs; rows not
 * committed by then are dropped (a failed replay writes nothing more). */
pr_status pr__fs_overlay_install(pr_fs *fs, pr_err *err);
int pr__fs_overlay_installed(const pr_fs *fs);
/* Rows written since the last commit, and their bytes. */
void pr__fs_overlay_pending(const pr_fs *fs, uint32_t *rows, size_t *bytes);
/* Writes every row written since the last commit, plus n_extra rows given
 * here (entity ents[i], key keys[i], value vals[i], store expiry
 * expires[i]), in one atomic pr_store_put_multi: all or none. On failure
 * the rows stay pending. */
pr_status pr__fs_overlay_commit(pr_fs *fs, const pr_bytes *ents, const pr_bytes *keys,
                                const pr_bytes *vals, const int64_t *expires, uint32_t n_extra,
                                pr_err *err);

#endif
