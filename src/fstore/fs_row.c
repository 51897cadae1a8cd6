/*
 * fs_row.c: row blobs (layout in fs_int.h) and the small helpers around
 * them: validity and TTL, attribute access, compound keys, time columns
 * and the text of numbers.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fstore/fs_int.h"

pr__fs_rowview pr__fs_row_check(pr_fs *fs, const pr__fs_entity *e,
                                pr_bytes row, int64_t now_ms) {
    pr__fs_rowview v = {NULL, 0};
    if (!row.ptr) return v;
    const uint8_t *b = (const uint8_t *)row.ptr;
    if (row.len < e->state_bytes || pr__ld_u32(b) != e->layout_id ||
        (size_t)e->state_bytes + pr__ld_u32(b + 4) != row.len) {
        fs->stats.stale_rows++;
        return v;
    }
    int64_t updated = pr__ld_i64(b + 8);
    /* now - updated as unsigned: exact for any now >= updated (no signed
     * overflow at extreme times). */
    if (e->ttl_ms && updated != PR__ROW_EMPTY && now_ms >= updated &&
        (uint64_t)now_ms - (uint64_t)updated >= (uint64_t)e->ttl_ms)
        return v;
    v.blob = b;
    v.len = (uint32_t)row.len;
    return v;
}

pr_bytes pr__fs_row_attr(const pr__fs_entity *e, pr__fs_rowview r,
                         uint32_t i) {
    pr_bytes out = {NULL, 0};
    if (!r.blob || i >= e->n_attrs) return out;
    const uint8_t *p = r.blob + e->state_bytes, *end = r.blob + r.len;
    for (uint32_t k = 0; k <= i; k++) {
        if (end - p < 2) return out;
        uint16_t len;
        memcpy(&len, p, 2);
        p += 2;
        if ((size_t)(end - p) < len) return out;
        if (k == i) return pr_bytes_of((const char *)p, len);
        p += len;
    }
    return out;
}

void pr__fs_row_init(const pr_fs *fs, const pr__fs_entity *e, uint8_t *buf) {
    pr__st_u32(buf, e->layout_id);
    pr__st_u32(buf + 4, 0);
    pr__st_i64(buf + 8, PR__ROW_EMPTY);
    pr__st_i64(buf + 16, PR__ROW_EMPTY);
    for (uint32_t i = 0; i < e->n_aggs; i++) {
        const pr__fs_agg *a = &fs->aggs[e->aggs[i]];
        pr__agg_init(a, buf + a->offset);
    }
}

pr_status pr__fs_scratch(pr_fs *fs, size_t n, pr_err *err) {
    if (n <= fs->scratch_cap) return PR_OK;
    size_t cap = fs->scratch_cap ? fs->scratch_cap : 4096;
    while (cap < n) cap *= 2;
    uint8_t *p = realloc(fs->scratch, cap);
    if (!p) return pr_err_set(err, PR_ERR_NOMEM, "out of memory (row of %zu bytes)", n);
    fs->scratch = p;
    fs->scratch_cap = cap;
    return PR_OK;
}

int64_t pr__fs_expires_s(const pr__fs_entity *e, int64_t updated_ms) {
    if (!e->ttl_ms || updated_ms == PR__ROW_EMPTY) return 0;
    /* The row check drops it at updated + ttl (ms); the store may drop it
     * a second after that, never before. */
    if (updated_ms < 0) updated_ms = 0; /* before 1970: expires at once */
    if (updated_ms > INT64_MAX - e->ttl_ms - 2000) return 0; /* never */
    int64_t until = updated_ms + e->ttl_ms;
    return until / 1000 + 2;
}

/* Compound keys: the parts joined by PR__KEY_SEP, a SEP or ESC byte inside
 * a part written as ESC + that byte, so a part's own bytes can never end
 * it (or be read as the next part's start): two different part lists
 * always give two different keys. Parts with neither byte (every id in
 * practice) keep the bytes they had when the separator was not escaped. */
static size_t escaped_len(pr_bytes t) {
    size_t n = t.len;
    for (size_t i = 0; i < t.len; i++)
        n += t.ptr[i] == PR__KEY_SEP || t.ptr[i] == PR__KEY_ESC;
    return n;
}

size_t pr__fs_key_len(const pr_bytes *parts, uint32_t n) {
    if (n == 1) return parts[0].len;
    size_t len = n - 1;
    for (uint32_t i = 0; i < n; i++) len += escaped_len(parts[i]);
    return len;
}

pr_bytes pr__fs_join_key(const pr_bytes *parts, uint32_t n, pr_arena *arena) {
    pr_bytes none = {NULL, 0};
    if (n == 1) return parts[0].len ? parts[0] : none;
    if (n > PR__FS_MAX_KEYS) return none; /* the spec allows no more */
    size_t elen[PR__FS_MAX_KEYS], len = n - 1;
    for (uint32_t i = 0; i < n; i++) {
        if (!parts[i].len) return none;
        elen[i] = escaped_len(parts[i]);
        len += elen[i];
    }
    char *p = pr_arena_alloc(arena, len);
    if (!p) return none;
    size_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i) p[o++] = PR__KEY_SEP;
        if (elen[i] == parts[i].len) { /* nothing to escape: the common case */
            memcpy(p + o, parts[i].ptr, parts[i].len);
            o += parts[i].len;
            continue;
        }
        for (size_t k = 0; k < parts[i].len; k++) {
            char c = parts[i].ptr[k];
            if (c == PR__KEY_SEP || c == PR__KEY_ESC) p[o++] = PR__KEY_ESC;
            p[o++] = c;
        }
    }
    return pr_bytes_of(p, len);
}

void pr__fs_dur_text(int64_t ms, char out[32]) {
    static const struct {
        int64_t ms;
        const char *u;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms && ms % units[i].ms == 0) {
            snprintf(out, 32, "%lld%s", (long long)(ms / units[i].ms), units[i].u);
            return;
        }
    snprintf(out, 32, "%lldms", (long long)ms);
}

int64_t pr__fs_time_feature(pr__time_feature f, int64_t ts_ms) {
    int64_t hours = ts_ms / 3600000 - (ts_ms % 3600000 < 0);
    if (f == PR__TIME_HOUR_OF_DAY) return ((hours % 24) + 24) % 24;
    int64_t days = hours / 24 - (hours % 24 < 0);
    return (((days + 3) % 7) + 7) % 7; /* 1970-01-01 was a Thursday */
}

pr_bytes pr__fs_num_text(double x, pr_arena *arena) {
    char buf[40];
    int n;
    if (x == floor(x) && fabs(x) < 1e15) {
        /* Integers (counts: the common case) without snprintf. */
        long long v = (long long)x;
        unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
        char tmp[24];
        int k = 0;
        do tmp[k++] = (char)('0' + u % 10); while ((u /= 10) != 0);
        n = 0;
        if (v < 0) buf[n++] = '-';
        while (k) buf[n++] = tmp[--k];
    } else {
        n = snprintf(buf, sizeof buf, "%.15g", x);
        if (strtod(buf, NULL) != x) n = snprintf(buf, sizeof buf, "%.17g", x);
    }
    char *p = pr_arena_strndup(arena, buf, (size_t)n);
    return p ? pr_bytes_of(p, (size_t)n) : (pr_bytes){NULL, 0};
}
