/*
 * fs_ahead.h: lookahead for the dataset builder. A replay touches a few
 * entity rows per event, scattered over a table far larger than the
 * cache, and every one of those reads would wait for memory. The builder
 * parses events a few lines ahead of the one it processes and, in two
 * steps, starts loading what each will touch:
 *
 *   pr__fs_ahead_slots   several events ahead: hash the event's entity
 *                        keys (entities keyed by request columns) and
 *                        prefetch their hash-table slots;
 *   pr__fs_ahead_rows    a couple of events ahead, once those slots are in
 *                        cache: find the rows (comparing hashes only, so
 *                        no row memory is read) and prefetch the lines the
 *                        event will read and write: header, attributes,
 *                        each aggregate's head and the bucket of the
 *                        event's time.
 *
 * Hints only: nothing here changes state or results, a wrong guess costs
 * a wasted prefetch, and with a pr_store (not the in-process table) both
 * calls do nothing.
 */
#ifndef PRONTO_FS_AHEAD_H
#define PRONTO_FS_AHEAD_H

#include "fstore/fs_int.h"

typedef struct pr__fs_ahead {
    uint32_t n;                          /* rows looked ahead */
    uint32_t ent[PR__FS_MAX_ENTITIES];   /* their entities */
    uint64_t hash[PR__FS_MAX_ENTITIES];  /* their key hashes (fs_table.c) */
} pr__fs_ahead;

/* Step 1 for event ev (parsed, not yet applied). arena: scratch for
 * compound keys, reset by the caller when it likes. Fills *a for step 2. */
void pr__fs_ahead_slots(pr_fs *fs, const pr_fs_event *ev, pr_arena *arena,
                        pr__fs_ahead *a);
/* Step 2 for the same event, a little later. */
void pr__fs_ahead_rows(pr_fs *fs, const pr_fs_event *ev,
                       const pr__fs_ahead *a);

/* fs_agg.c: the offset, inside aggregate a's state, of the part an event
 * at ts writes (a windowed aggregate's bucket of ts; 0 for the others). */
uint32_t pr__agg_touch_offset(const pr__fs_agg *a, int64_t ts);

/* fs_table.c: the in-process table's side of it. */
uint64_t pr__fs_table_hash(uint32_t entity, pr_bytes key);
void pr__fs_table_prefetch_slot(void *impl, uint64_t hash);
/* The blob of the row of entity whose slot holds hash (keys are not
 * compared: a 64-bit hash match is right but for a wasted prefetch), or
 * NULL. *len: its length. */
const uint8_t *pr__fs_table_peek(void *impl, uint32_t entity, uint64_t hash,
                                 uint32_t *len);

#endif
