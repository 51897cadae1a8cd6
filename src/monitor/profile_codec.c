/*
 * profile_codec.c: the profile's bytes, as the model file's "profile"
 * section holds them (docs/model-format.md repeats this table). All
 * integers little-endian; f64 are IEEE-754 binary64, little-endian.
 *
 *   OFFSET  SIZE  DESCRIPTION
 *   0       4     magic "PRPF"
 *   4       4     layout version (u32), 2 (1: no hourly rows; still read)
 *   8       4     n_columns (u32), 0..1024
 *   12      4     reserved, 0
 *   16      8     rows (u64)
 *   24      8     labeled rows (u64)
 *   32      8     clicks (u64), <= labeled <= rows
 *   40      8     ts_min (i64), 0 = unknown
 *   48      8     ts_max (i64)
 *   56      2     S, score source length (u16, <= 256)
 *   58      S     score source text
 *   58+S    ...   the prediction sketch, then per column: u16 name length
 *                 (1..256), the name (no NUL), its sketch
 *   then    192   (layout 2) rows per UTC hour of day, 24 x u64; their sum
 *                 <= rows
 *
 * A sketch:
 *   1   kind (u8): 1 numeric, 2 categorical
 *   8x4 n, n_missing, n_nonfinite, n_finite (u64)
 *   8x4 min, max, mean, m2 (f64, finite; m2 >= 0)
 *   numeric:     1 n_edges E (u8, 0..33), 8E edges (f64, finite, strictly
 *                increasing), 8(E+1) counts (u64); sum of counts = n_finite
 *   categorical: 1 n_top T (u8, 0..64), T x {8 hash, 8 count, 1 length
 *                (<= 32), the display bytes}, 8 rest, 8 unseen (u64),
 *                1 filter log2 bits F (u8: 0 = none, else 6..20), 1 bits
 *                per value (u8, 3; 0 when F = 0), 8 distinct estimate (u64),
 *                2^F / 8 bytes of filter (u64 words); n_finite = 0
 *   always: n = sum of counts + n_missing + n_nonfinite (no overflow)
 *
 * The payload ends exactly after the last sketch (layout 1) or the hourly
 * rows (layout 2). Decoding checks every
 * bound before reading, so any input gives a profile or an error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor_int.h"

#define MAGIC "PRPF"
#define LAYOUT_VERSION 2u
#define SOURCE_MAX 256u

/* ---------------------------------------------------------------- encode */

typedef struct obuf {
    uint8_t *p;
    size_t len, cap;
    int failed;
} obuf;

static void put(obuf *b, const void *src, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void put_u8(obuf *b, uint8_t v) { put(b, &v, 1); }
static void put_u16(obuf *b, uint16_t v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}
static void put_u32(obuf *b, uint32_t v) {
    uint8_t x[4];
    for (int i = 0; i < 4; i++) x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, 4);
}
static void put_u64(obuf *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i));
    put(b, x, 8);
}
static void put_f64(obuf *b, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    put_u64(b, v);
}

static void put_sketch(obuf *b, const pr_sketch *s) {
    const pr_sketch_shape *sh = s->shape;
    put_u8(b, (uint8_t)sh->kind);
    put_u64(b, s->n);
    put_u64(b, s->n_missing);
    put_u64(b, s->n_nonfinite);
    put_u64(b, s->n_finite);
    put_f64(b, s->n_finite ? s->min : 0);
    put_f64(b, s->n_finite ? s->max : 0);
    put_f64(b, s->n_finite ? s->mean : 0);
    put_f64(b, s->n_finite ? s->m2 : 0);
    if (sh->kind == PR_SKETCH_NUMERIC) {
        put_u8(b, (uint8_t)sh->n_edges);
        for (uint32_t i = 0; i < sh->n_edges; i++) put_f64(b, sh->edges[i]);
        for (uint32_t i = 0; i <= sh->n_edges; i++) put_u64(b, s->counts[i]);
        return;
    }
    put_u8(b, (uint8_t)sh->n_top);
    for (uint32_t t = 0; t < sh->n_top; t++) {
        size_t len = strlen(sh->top_value[t]);
        put_u64(b, sh->top_hash[t]);
        put_u64(b, s->counts[t]);
        put_u8(b, (uint8_t)len);
        put(b, sh->top_value[t], len);
    }
    put_u64(b, s->counts[sh->n_top]);
    put_u64(b, s->counts[sh->n_top + 1]);
    put_u8(b, (uint8_t)sh->bloom_log2);
    put_u8(b, (uint8_t)(sh->bloom_log2 ? sh->bloom_k : 0));
    put_u64(b, sh->distinct_est);
    if (sh->bloom_log2)
        for (uint64_t i = 0; i < ((uint64_t)1 << sh->bloom_log2) / 64; i++)
            put_u64(b, sh->bloom[i]);
}

pr_status pr_profile_encode(const pr_profile *p, uint8_t **out, size_t *len,
                            pr_err *err) {
    obuf b = {NULL, 0, 0, 0};
    *out = NULL;
    *len = 0;
    put(&b, MAGIC, 4);
    put_u32(&b, LAYOUT_VERSION);
    put_u32(&b, p->n_columns);
    put_u32(&b, 0);
    put_u64(&b, p->sum.rows);
    put_u64(&b, p->sum.labeled);
    put_u64(&b, p->sum.clicks);
    put_u64(&b, (uint64_t)p->sum.ts_min);
    put_u64(&b, (uint64_t)p->sum.ts_max);
    size_t sl = strlen(p->score_source);
    if (sl > SOURCE_MAX) sl = SOURCE_MAX;
    put_u16(&b, (uint16_t)sl);
    put(&b, p->score_source, sl);
    put_sketch(&b, &p->sketches[p->n_columns]);
    for (uint32_t i = 0; i < p->n_columns; i++) {
        size_t nl = strlen(p->names[i]);
        put_u16(&b, (uint16_t)nl);
        put(&b, p->names[i], nl);
        put_sketch(&b, &p->sketches[i]);
    }
    for (int k = 0; k < 24; k++) put_u64(&b, p->sum.hour_rows[k]);
    if (b.failed) {
        free(b.p);
        return pr_err_set(err, PR_ERR_NOMEM, "profile: out of memory");
    }
    *out = b.p;
    *len = b.len;
    return PR_OK;
}

/* ---------------------------------------------------------------- decode */

typedef struct ibuf {
    const uint8_t *p;
    size_t len, pos;
    const char *name;
    pr_err *err;
    pr_status rc;          /* sticky: the first failure */
} ibuf;

static int bad(ibuf *b, const char *what) {
    if (b->rc == PR_OK)
        b->rc = pr_err_set(b->err, PR_ERR_FORMAT, "%s: profile: %s (at byte %zu)", b->name,
                           what, b->pos);
    return 0;
}
static int take(ibuf *b, void *dst, size_t n) {
    if (b->rc != PR_OK) return 0;
    if (n > b->len - b->pos) return bad(b, "truncated");
    memcpy(dst, b->p + b->pos, n);
    b->pos += n;
    return 1;
}
static uint8_t get_u8(ibuf *b) {
    uint8_t v = 0;
    take(b, &v, 1);
    return v;
}
static uint16_t get_u16(ibuf *b) {
    uint8_t x[2] = {0, 0};
    take(b, x, 2);
    return (uint16_t)(x[0] | x[1] << 8);
}
static uint32_t get_u32(ibuf *b) {
    uint8_t x[4] = {0};
    take(b, x, 4);
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}
static uint64_t get_u64(ibuf *b) {
    uint8_t x[8] = {0};
    take(b, x, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | x[i];
    return v;
}
static double get_f64(ibuf *b) {
    uint64_t v = get_u64(b);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

/* sum += v, refusing overflow */
static int add_count(ibuf *b, uint64_t *sum, uint64_t v) {
    if (v > UINT64_MAX - *sum) return bad(b, "counts overflow");
    *sum += v;
    return 1;
}

static int get_sketch(ibuf *b, pr_sketch_shape *sh, pr_sketch *s) {
    memset(sh, 0, sizeof *sh);
    memset(sh->slot, -1, sizeof sh->slot);
    pr_sketch_init(s, sh);
    uint8_t kind = get_u8(b);
    if (b->rc != PR_OK) return 0;
    if (kind != PR_SKETCH_NUMERIC && kind != PR_SKETCH_CATEGORICAL)
        return bad(b, "unknown sketch kind");
    sh->kind = (pr_sketch_kind)kind;
    s->n = get_u64(b);
    s->n_missing = get_u64(b);
    s->n_nonfinite = get_u64(b);
    s->n_finite = get_u64(b);
    s->min = get_f64(b);
    s->max = get_f64(b);
    s->mean = get_f64(b);
    s->m2 = get_f64(b);
    if (b->rc != PR_OK) return 0;
    if (!isfinite(s->min) || !isfinite(s->max) || !isfinite(s->mean) || !isfinite(s->m2) ||
        s->m2 < 0 || (s->n_finite && s->min > s->max))
        return bad(b, "bad moments");
    uint64_t sum = 0;
    if (kind == PR_SKETCH_NUMERIC) {
        uint8_t ne = get_u8(b);
        if (b->rc != PR_OK) return 0;
        if (ne > PR_SKETCH_MAX_EDGES) return bad(b, "too many edges");
        sh->n_edges = ne;
        sh->n_bins = ne + 1u;
        for (uint32_t i = 0; i < ne; i++) {
            sh->edges[i] = get_f64(b);
            if (b->rc != PR_OK) return 0;
            if (!isfinite(sh->edges[i]) || (i > 0 && !(sh->edges[i] > sh->edges[i - 1])))
                return bad(b, "edges not finite and increasing");
        }
        for (uint32_t i = 0; i < sh->n_bins; i++)
            if (!add_count(b, &sum, s->counts[i] = get_u64(b))) return 0;
        if (b->rc != PR_OK) return 0;
        if (sum != s->n_finite) return bad(b, "bin counts do not add up to n_finite");
    } else {
        uint8_t nt = get_u8(b);
        if (b->rc != PR_OK) return 0;
        if (nt > PR_SKETCH_MAX_TOP) return bad(b, "too many top values");
        sh->n_top = nt;
        sh->n_bins = nt + 2u;
        for (uint32_t t = 0; t < nt; t++) {
            sh->top_hash[t] = get_u64(b);
            if (!add_count(b, &sum, s->counts[t] = get_u64(b))) return 0;
            uint8_t len = get_u8(b);
            if (b->rc != PR_OK) return 0;
            if (len > PR_SKETCH_VALUE_MAX) return bad(b, "top value too long");
            if (!take(b, sh->top_value[t], len)) return 0;
            sh->top_value[t][len] = '\0';
        }
        if (!add_count(b, &sum, s->counts[nt] = get_u64(b))) return 0;
        if (!add_count(b, &sum, s->counts[nt + 1] = get_u64(b))) return 0;
        if (pr__shape_index_top(sh) != 0) return bad(b, "duplicate top value");
        if (s->n_finite != 0) return bad(b, "categorical sketch with finite values");
        sh->bloom_log2 = get_u8(b);
        sh->bloom_k = get_u8(b);
        sh->distinct_est = get_u64(b);
        if (b->rc != PR_OK) return 0;
        if (sh->bloom_log2 == 0 ? sh->bloom_k != 0
                                : (sh->bloom_log2 < 6 || sh->bloom_log2 > 20 ||
                                   sh->bloom_k != PR__BLOOM_K))
            return bad(b, "bad membership filter size");
        if (sh->bloom_log2) {
            uint64_t words = ((uint64_t)1 << sh->bloom_log2) / 64;
            if (words * 8 > b->len - b->pos) return bad(b, "truncated");
            if (!(sh->bloom = malloc(words * 8))) {
                if (b->rc == PR_OK)
                    b->rc = pr_err_set(b->err, PR_ERR_NOMEM, "%s: out of memory", b->name);
                return 0;
            }
            for (uint64_t i = 0; i < words; i++) sh->bloom[i] = get_u64(b);
            pr__bloom_set_fp(sh);
        }
    }
    if (!add_count(b, &sum, s->n_missing) || !add_count(b, &sum, s->n_nonfinite)) return 0;
    if (sum != s->n) return bad(b, "counts do not add up to n");
    return 1;
}

pr_status pr_profile_decode(const void *data, size_t len, const char *name,
                            pr_profile **out, pr_err *err) {
    ibuf b = {data, len, 0, name ? name : "(memory)", err, PR_OK};
    *out = NULL;
    char magic[4] = {0};
    take(&b, magic, 4);
    if (b.rc != PR_OK || memcmp(magic, MAGIC, 4) != 0)
        return pr_err_set(err, PR_ERR_FORMAT, "%s: not a profile (bad magic)", b.name);
    uint32_t version = get_u32(&b);
    if (b.rc == PR_OK && (version == 0 || version > LAYOUT_VERSION))
        return pr_err_set(err, PR_ERR_VERSION,
                          "%s: profile layout %u is newer than this pronto supports (%u)",
                          b.name, version, LAYOUT_VERSION);
    uint32_t n = get_u32(&b);
    uint32_t reserved = get_u32(&b);
    if (b.rc != PR_OK) return b.rc;
    if (n > PR__MAX_COLUMNS) {
        bad(&b, "too many columns");
        return b.rc;
    }
    if (reserved != 0) {
        bad(&b, "reserved field is not 0");
        return b.rc;
    }
    pr_profile *p = pr__profile_alloc(n);
    if (!p) return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", b.name);
    p->sum.rows = get_u64(&b);
    p->sum.labeled = get_u64(&b);
    p->sum.clicks = get_u64(&b);
    p->sum.ts_min = (int64_t)get_u64(&b);
    p->sum.ts_max = (int64_t)get_u64(&b);
    uint16_t sl = get_u16(&b);
    if (b.rc == PR_OK && (p->sum.clicks > p->sum.labeled || p->sum.labeled > p->sum.rows))
        bad(&b, "clicks > labeled > rows");
    if (b.rc == PR_OK && sl > SOURCE_MAX) bad(&b, "score source too long");
    if (b.rc == PR_OK) {
        char *src = malloc((size_t)sl + 1);
        if (!src) {
            pr_profile_free(p);
            return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", b.name);
        }
        if (take(&b, src, sl)) {
            src[sl] = '\0';
            if (strlen(src) != sl) bad(&b, "NUL in the score source");
        } else {
            src[0] = '\0';
        }
        free(p->score_source);
        p->score_source = src;
    }
    if (b.rc == PR_OK)
        get_sketch(&b, &p->shapes[n], &p->sketches[n]);
    for (uint32_t i = 0; b.rc == PR_OK && i < n; i++) {
        uint16_t nl = get_u16(&b);
        if (b.rc != PR_OK) break;
        if (nl == 0 || nl > PR__COLUMN_NAME_MAX) {
            bad(&b, "bad column name length");
            break;
        }
        if (!(p->names[i] = malloc((size_t)nl + 1))) {
            b.rc = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", b.name);
            break;
        }
        p->names[i][0] = '\0';
        if (!take(&b, p->names[i], nl)) break;
        p->names[i][nl] = '\0';
        if (strlen(p->names[i]) != nl) {
            bad(&b, "NUL in a column name");
            break;
        }
        get_sketch(&b, &p->shapes[i], &p->sketches[i]);
    }
    if (b.rc == PR_OK && version >= 2) {
        uint64_t sum = 0;
        for (int k = 0; k < 24 && b.rc == PR_OK; k++) {
            p->sum.hour_rows[k] = get_u64(&b);
            sum += p->sum.hour_rows[k] > p->sum.rows ? p->sum.rows + 1 : p->sum.hour_rows[k];
        }
        if (b.rc == PR_OK && sum > p->sum.rows) bad(&b, "hourly rows add up to more than rows");
    }
    if (b.rc == PR_OK && b.pos != b.len) bad(&b, "unexpected bytes after the last sketch");
    if (b.rc != PR_OK) {
        pr_profile_free(p);
        return b.rc;
    }
    p->sum.base_rate = p->sum.labeled ? (double)p->sum.clicks / (double)p->sum.labeled : NAN;
    *out = p;
    return PR_OK;
}
