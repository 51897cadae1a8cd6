/*
 * fs_overlay.c: a write-back overlay over a pr_store for bulk replays
 * (pronto materialize, serve --data), so that the rows a stretch of events
 * wrote reach the store in one atomic commit together with the replay's
 * position, never one by one.
 *
 * Why: with a put per row, a process killed mid-replay leaves the store
 * holding rows that include events past the last recorded position, and a
 * rerun applies them again (counts double). With the overlay, the store
 * only ever holds states that some prefix of the stream produced, and the
 * position of that prefix beside them: pr__fs_overlay_commit hands every
 * dirty row and the caller's extra rows (the position, the sentinel) to one
 * pr_store_put_multi (one LMDB write transaction, one MSET or MULTI/EXEC,
 * one mem: lock). It is also faster: one transaction per commit instead of
 * one per row (an fsync each on a synced LMDB), and for redis a row read
 * again is answered from memory instead of a round trip.
 *
 * Structure: a chained hash table of (entity namespace, key) -> row bytes,
 * expiry (store seconds) and a dirty flag. A put writes the entry (dirty);
 * a get answers from the entry when there is one (read-your-writes, with
 * the store's expiry rule: alive while expires == 0 or now < expires) and
 * asks the store, in one call, for the keys it does not hold. Entries stay
 * after a commit (clean) as a cache, until the table holds more than
 * OVERLAY_MAX_BYTES: then the next commit drops them all.
 *
 * Ownership: the overlay owns its entries; the store stays borrowed from
 * the pr_fs (which borrows it from its caller). A row returned by get is
 * borrowed until the next put of that key or the next commit. Entity
 * namespaces are borrowed from the pr_fs's plan (they live as long as it).
 *
 * Invariant: the overlay is the only writer of the store while it is
 * installed (a bulk replay must not run beside another writer of the same
 * rows, e.g. a server ingesting events into that store: each would
 * overwrite the other's read-modify-write).
 */
#include <stdlib.h>

#include "fstore/fs_overlay.h"
#include "fstore/fs_int.h"

#define OVERLAY_BUCKETS0 4096u
#define OVERLAY_MAX_BYTES ((size_t)256 << 20) /* then the cache is dropped */
#define OVERLAY_STACK 64

typedef struct ov_entry {
    struct ov_entry *next;
    uint64_t hash;
    pr_bytes ns;          /* borrowed from the plan */
    int64_t expires_s;    /* 0 = never */
    uint32_t key_len, row_len, row_cap;
    int dirty;
    char *row;            /* owned, row_cap bytes */
    char key[];           /* key_len bytes */
} ov_entry;

typedef struct overlay {
    pr_store *st;          /* borrowed */
    ov_entry **buckets;
    size_t mask, count, bytes;
    uint32_t dirty;        /* entries with dirty set */
    size_t dirty_bytes;
} overlay;

static uint64_t ov_hash(pr_bytes ns, pr_bytes key) {
    return pr_hash64(key.ptr, key.len, pr_hash64(ns.ptr, ns.len, 0x9e3779b97f4a7c15ull));
}

static ov_entry **ov_find(overlay *o, pr_bytes ns, pr_bytes key, uint64_t h) {
    ov_entry **link = &o->buckets[h & o->mask];
    for (; *link; link = &(*link)->next) {
        ov_entry *e = *link;
        if (e->hash == h && e->key_len == key.len && e->ns.len == ns.len &&
            !memcmp(e->key, key.ptr, key.len) && !memcmp(e->ns.ptr, ns.ptr, ns.len))
            break;
    }
    return link;
}

static void ov_clear(overlay *o) {
    for (size_t b = 0; b <= o->mask; b++) {
        ov_entry *e = o->buckets[b];
        while (e) {
            ov_entry *next = e->next;
            free(e->row);
            free(e);
            e = next;
        }
        o->buckets[b] = NULL;
    }
    o->count = o->bytes = o->dirty_bytes = 0;
    o->dirty = 0;
}

static void ov_grow(overlay *o) {
    size_t n = (o->mask + 1) * 2;
    ov_entry **nb = calloc(n, sizeof *nb);
    if (!nb) return; /* longer chains, still correct */
    for (size_t b = 0; b <= o->mask; b++) {
        ov_entry *e = o->buckets[b];
        while (e) {
            ov_entry *next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(o->buckets);
    o->buckets = nb;
    o->mask = n - 1;
}

/* Stores row under (ns, key); dirty or clean (a row read from the store). */
static pr_status ov_set(overlay *o, pr_bytes ns, pr_bytes key, pr_bytes row,
                        int64_t expires_s, int dirty, pr_err *err) {
    uint64_t h = ov_hash(ns, key);
    ov_entry **link = ov_find(o, ns, key, h);
    ov_entry *e = *link;
    if (!e) {
        e = calloc(1, sizeof *e + key.len);
        if (!e) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        e->hash = h;
        e->ns = ns;
        e->key_len = (uint32_t)key.len;
        if (key.len) memcpy(e->key, key.ptr, key.len);
        *link = e;
        o->count++;
        o->bytes += sizeof *e + key.len;
        if (o->count > o->mask + 1) ov_grow(o);
    }
    if (row.len > e->row_cap) {
        char *p = realloc(e->row, row.len);
        if (!p) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        o->bytes += row.len - e->row_cap;
        e->row = p;
        e->row_cap = (uint32_t)row.len;
    }
    if (row.len) memmove(e->row, row.ptr, row.len);
    if (e->dirty) o->dirty_bytes -= e->row_len;
    e->row_len = (uint32_t)row.len;
    e->expires_s = expires_s;
    if (dirty && !e->dirty) o->dirty++;
    if (dirty || e->dirty) o->dirty_bytes += row.len;
    e->dirty = dirty || e->dirty;
    return PR_OK;
}

static int64_t floor_s(int64_t ms) { return ms / 1000 - (ms % 1000 < 0); }

/* Rows of keys[i] of entity names[i * step]: from the overlay, the rest
 * in one store call. With en (single-entity reads, the replay's
 * read-modify-write) rows found in the store are kept, clean, with the
 * expiry the fs gives a row (pr__fs_expires_s of its updated time: what
 * the store holds for every row the fs wrote). */
static pr_status ov_fetch(overlay *o, const pr__fs_entity *en, const pr_bytes *names,
                          uint32_t step, const pr_bytes *keys, uint32_t n, int64_t now_ms,
                          pr_bytes *rows, pr_err *err) {
    int64_t now_s = floor_s(now_ms);
    pr_bytes sk[OVERLAY_STACK], sn[OVERLAY_STACK], sr[OVERLAY_STACK];
    uint32_t si[OVERLAY_STACK];
    pr_bytes *mk = sk, *mn = sn, *mr = sr;
    uint32_t *mi = si, m = 0;
    if (n > OVERLAY_STACK) {
        mk = malloc((size_t)n * sizeof *mk);
        mn = malloc((size_t)n * sizeof *mn);
        mr = malloc((size_t)n * sizeof *mr);
        mi = malloc((size_t)n * sizeof *mi);
        if (!mk || !mn || !mr || !mi) {
            free(mk);
            free(mn);
            free(mr);
            free(mi);
            return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        rows[i] = (pr_bytes){NULL, 0};
        if (!keys[i].ptr) continue;
        pr_bytes ns = names[i * step];
        ov_entry *e = *ov_find(o, ns, keys[i], ov_hash(ns, keys[i]));
        if (e) {
            if (e->expires_s == 0 || now_s < e->expires_s)
                rows[i] = pr_bytes_of(e->row ? e->row : "", e->row_len);
            continue;
        }
        mi[m] = i;
        mn[m] = ns;
        mk[m++] = keys[i];
    }
    pr_status rc = PR_OK;
    if (m) rc = pr__fs_store_ops.get_multi(o->st, mn, mk, m, now_ms, mr, err);
    for (uint32_t j = 0; rc == PR_OK && j < m; j++) {
        rows[mi[j]] = mr[j];
        if (!en || !mr[j].ptr || mr[j].len < PR__ROW_HEADER) continue;
        /* The store lends the row until its next call: keep a copy. */
        int64_t x = pr__fs_expires_s(en, pr__ld_i64((const uint8_t *)mr[j].ptr + 8));
        rc = ov_set(o, mn[j], mk[j], mr[j], x, 0, err);
        if (rc != PR_OK) break;
        ov_entry *e = *ov_find(o, mn[j], mk[j], ov_hash(mn[j], mk[j]));
        rows[mi[j]] = pr_bytes_of(e->row, e->row_len);
    }
    if (mk != sk) {
        free(mk);
        free(mn);
        free(mr);
        free(mi);
    }
    return rc;
}

static pr_status ov_get_batch(void *impl, const pr__fs_entity *e, const pr_bytes *keys,
                              uint32_t n, int64_t now_ms, pr_bytes *rows, pr_err *err) {
    return ov_fetch(impl, e, &e->ns, 0, keys, n, now_ms, rows, err);
}

static pr_status ov_get_multi(void *impl, const pr_bytes *names, const pr_bytes *keys,
                              uint32_t n, int64_t now_ms, pr_bytes *rows, pr_err *err) {
    return ov_fetch(impl, NULL, names, 1, keys, n, now_ms, rows, err);
}

static pr_status ov_put(void *impl, const pr__fs_entity *e, pr_bytes key, pr_bytes row,
                        int64_t expires_s, pr_err *err) {
    return ov_set(impl, e->ns, key, row, expires_s, 1, err);
}

static void ov_close(void *impl) {
    overlay *o = impl;
    if (!o) return;
    ov_clear(o);
    free(o->buckets);
    free(o);
}

static const pr__fs_rows_ops ov_ops = {.get_batch = ov_get_batch,
                                       .put = ov_put,
                                       .close = ov_close,
                                       .get_multi = ov_get_multi};

pr_status pr__fs_overlay_install(pr_fs *fs, pr_err *err) {
    if (fs->rows != &pr__fs_store_ops)
        return pr_err_set(err, PR_ERR_INVALID, "overlay: the fs has no store");
    overlay *o = calloc(1, sizeof *o);
    if (o) o->buckets = calloc(OVERLAY_BUCKETS0, sizeof *o->buckets);
    if (!o || !o->buckets) {
        free(o);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    o->mask = OVERLAY_BUCKETS0 - 1;
    o->st = fs->rows_impl;
    fs->rows = &ov_ops;
    fs->rows_impl = o;
    return PR_OK;
}

int pr__fs_overlay_installed(const pr_fs *fs) { return fs->rows == &ov_ops; }

void pr__fs_overlay_pending(const pr_fs *fs, uint32_t *rows, size_t *bytes) {
    const overlay *o = fs->rows_impl;
    *rows = o->dirty;
    *bytes = o->dirty_bytes;
}

pr_status pr__fs_overlay_commit(pr_fs *fs, const pr_bytes *ents, const pr_bytes *keys,
                                const pr_bytes *vals, const int64_t *expires, uint32_t n_extra,
                                pr_err *err) {
    overlay *o = fs->rows_impl;
    size_t n = (size_t)o->dirty + n_extra;
    if (n > PR_STORE_BATCH_MAX)
        return pr_err_set(err, PR_ERR_LIMIT, "overlay: %zu rows in one commit (max %u)", n,
                          PR_STORE_BATCH_MAX);
    pr_bytes *e = malloc((n ? n : 1) * sizeof *e), *k = malloc((n ? n : 1) * sizeof *k);
    pr_bytes *v = malloc((n ? n : 1) * sizeof *v);
    int64_t *x = malloc((n ? n : 1) * sizeof *x);
    ov_entry **d = malloc((n ? n : 1) * sizeof *d);
    pr_status rc = PR_OK;
    if (!e || !k || !v || !x || !d) {
        rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t m = 0;
    for (size_t b = 0; b <= o->mask; b++)
        for (ov_entry *en = o->buckets[b]; en; en = en->next) {
            if (!en->dirty) continue;
            d[m] = en;
            e[m] = en->ns;
            k[m] = pr_bytes_of(en->key_len ? en->key : "", en->key_len);
            v[m] = pr_bytes_of(en->row ? en->row : "", en->row_len);
            x[m++] = en->expires_s;
        }
    for (uint32_t i = 0; i < n_extra; i++, m++) {
        e[m] = ents[i];
        k[m] = keys[i];
        v[m] = vals[i];
        x[m] = expires[i];
    }
    rc = pr_store_put_multi(o->st, e, k, v, x, (uint32_t)m, err);
    if (rc != PR_OK) {
        fs->stats.store_errors++;
        goto out;
    }
    for (uint32_t i = 0; i < o->dirty; i++) d[i]->dirty = 0;
    o->dirty = 0;
    o->dirty_bytes = 0;
    if (o->bytes > OVERLAY_MAX_BYTES) ov_clear(o);
out:
    free(e);
    free(k);
    free(v);
    free(x);
    free(d);
    return rc;
}
