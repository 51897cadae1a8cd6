/*
 * fs_int.h: what the feature-store files share. The plan (fs_plan.c)
 * compiles a spec's store sections into flat arrays with every name
 * resolved to an index, so the hot paths (fs_apply.c, fs_assemble.c) never
 * compare strings except the event type.
 *
 * Row blob (one per entity key; the same bytes in the in-process table and
 * in every pr_store backend; little-endian, no alignment assumed: every
 * load/store goes through memcpy):
 *
 *   OFFSET  SIZE  DESCRIPTION
 *   0       4     layout id: xxh3 (low 32 bits) of the entity's layout
 *                 (aggregate functions and parameters, attribute names);
 *                 a row with another id was written under another spec and
 *                 reads as absent (pr_fs_stats.stale_rows)
 *   4       4     attrs_len: bytes of the attribute section (0 = none)
 *   8       8     updated_ms: latest event ts or effective time applied
 *                 (the TTL clock); INT64_MIN for a fresh row
 *   16      8     attrs_effective_ms: effective time of the attributes,
 *                 INT64_MIN when the row has none
 *   24      S     aggregate states, at the plan's offsets (fs_agg.c has
 *                 each function's layout)
 *   24+S    A     attributes: per table attribute, u16 length + bytes
 */
#ifndef PRONTO_FS_INT_H
#define PRONTO_FS_INT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "feature/feature_int.h"
#include "pronto/fstore.h"

#define PR__ROW_HEADER 24u
#define PR__ROW_EMPTY INT64_MIN
#define PR__FS_MAX_TYPES 64u      /* distinct event types in a plan */
#define PR__FS_MAX_ENTITY_AGGS 64u /* aggregates of one entity */
#define PR__KEY_SEP '\x1f'        /* joins the texts of a compound key */
#define PR__KEY_ESC '\x1e'        /* escapes a SEP or ESC inside a part */
#define PR__LIST_SEP '|'          /* joins last_n items */

typedef enum {
    PR__REF_REQUEST = 0, /* a = request column */
    PR__REF_TIME,        /* a = pr__time_feature */
    PR__REF_ATTR,        /* a = entity, b = attribute */
} pr__ref_kind;

typedef struct pr__fs_ref {
    pr__ref_kind kind;
    uint32_t a, b;
} pr__fs_ref;

typedef struct pr__fs_agg {
    const pr__agg_spec *spec;  /* borrowed from the plan's spec copy */
    pr__agg_function fn;
    uint32_t entity;
    uint32_t column;           /* assembled column */
    uint32_t offset, size;     /* in the row blob */
    uint64_t num_mask;         /* event types feeding it (rate: numerator) */
    uint64_t den_mask;         /* rate: the denominator's types */
    int has_value;
    pr__fs_ref value;
    /* windowed */
    int64_t gran_ms;
    uint32_t buckets, width;   /* width: doubles per bucket (1 or 2) */
    /* decayed */
    double half_life_ms;
    /* last_n */
    uint32_t n, max_len, slot;
    /* rate */
    double prior, prior_weight;
    /* missing value */
    int has_default;
    pr_bytes default_text;     /* borrowed from spec */
    double default_num;        /* NaN unless default_text is a number */
} pr__fs_agg;

typedef struct pr__fs_entity {
    uint32_t id;               /* its index in the plan */
    const char *name;          /* borrowed from spec */
    pr_bytes ns;               /* the store namespace (= name) */
    uint32_t n_keys;
    pr__fs_ref keys[PR__FS_MAX_KEYS];
    int64_t ttl_ms;
    int table;                 /* source index, -1 if none */
    uint32_t n_attrs;
    uint32_t attr_col;         /* assembled column of attribute 0 */
    uint32_t *aggs;            /* owned: aggregate ids of this entity */
    uint32_t n_aggs;
    uint64_t type_mask;        /* types that update some aggregate here */
    uint32_t state_bytes;      /* header + aggregate states */
    uint32_t layout_id;
} pr__fs_entity;

/* Row state: where blobs live. get returns a borrowed blob (valid until the
 * next call), or {NULL, 0}; put stores a copy. */
typedef struct pr__fs_rows_ops {
    pr_status (*get_batch)(void *impl, const pr__fs_entity *e,
                           const pr_bytes *keys, uint32_t n, int64_t now_ms,
                           pr_bytes *rows, pr_err *err);
    pr_status (*put)(void *impl, const pr__fs_entity *e, pr_bytes key,
                     pr_bytes row, int64_t expires_s, pr_err *err);

    void (*close)(void *impl);
    /* Optional (NULL: assembly gets entity by entity): rows of several
     * entities at once, entity i named names[i] (a store namespace),
     * valid until the next call. Absent keys ({NULL, 0}) are not asked. */
    pr_status (*get_multi)(void *impl, const pr_bytes *names,
                           const pr_bytes *keys, uint32_t n, int64_t now_ms,
                           pr_bytes *rows, pr_err *err);
} pr__fs_rows_ops;

struct pr_fs {
    pr_spec *spec;             /* owned copy */
    const pr__store_spec *ss;  /* &spec->store */
    /* columns */
    uint32_t n_req;            /* request columns */
    uint32_t n_time;
    uint32_t n_cols;
    char **col_names;          /* owned array; names owned (joined) */
    uint8_t *col_text;         /* per column: 1 = a categorical field reads
                                  it, so assembly renders its text */
    /* entities and aggregates */
    pr__fs_entity *ents;       /* owned, n_ents */
    uint32_t n_ents;
    pr__fs_agg *aggs;          /* owned, n_aggs */
    uint32_t n_aggs;
    /* event types mentioned by aggregates */
    pr_bytes types[PR__FS_MAX_TYPES]; /* borrowed from spec */
    uint32_t n_types;
    /* events source keys: [0..n_req) request columns, then ts, type, id,
     * impression */
    void *json_keys;           /* pr_json_keys (base/json_scan.h), owned */
    uint32_t n_json_keys;
    uint32_t ev_key[4];        /* where the event's ts, type, id and
                                  impression keys are among them (a request
                                  column of the same name shares its slot) */
    const char *ev_key_name[4]; /* their names (borrowed from spec) */
    /* state */
    const pr__fs_rows_ops *rows;
    void *rows_impl;
    int in_place;              /* rows is the in-process table: blobs are
                                  updated where they lie */
    pr_fs_stats stats;
    /* scratch for read-modify-write */
    uint8_t *scratch;
    size_t scratch_cap;
};

/* fs_plan.c */
pr_status pr__fs_plan(pr_fs *fs, pr_err *err);
void pr__fs_plan_free(pr_fs *fs);
/* Type id of an event type text, or -1. */
int pr__fs_type_id(const pr_fs *fs, pr_bytes type);

/* fs_agg.c: one aggregate's state inside a row blob. */
void pr__agg_init(const pr__fs_agg *a, uint8_t *state);
/* Applies one event at ts. num/den: whether the event's type is in the
 * aggregate's num_mask / den_mask; x: the event's value (sum/mean/decayed
 * sum), token: its text (last_n). Returns 0 if the event was too old for
 * the window (dropped), else 1. */
int pr__agg_apply(const pr__fs_agg *a, uint8_t *state, int64_t ts, int num,
                  int den, double x, pr_bytes token);
/* Value as of t. state NULL = an absent row. Numbers: returns 1 and sets
 * *x; a missing value returns 0. last_n: returns 1 with *list set to the
 * items (most recent first, joined by '|', in arena) or 0 if empty. */
int pr__agg_eval(const pr__fs_agg *a, const uint8_t *state, int64_t t,
                 pr_arena *arena, double *x, pr_bytes *list);

/* fs_row.c: blobs */
static inline int64_t pr__ld_i64(const uint8_t *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline void pr__st_i64(uint8_t *p, int64_t v) { memcpy(p, &v, 8); }
static inline double pr__ld_f64(const uint8_t *p) {
    double v;
    memcpy(&v, p, 8);
    return v;
}
static inline void pr__st_f64(uint8_t *p, double v) { memcpy(p, &v, 8); }
static inline uint32_t pr__ld_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline void pr__st_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* A row blob as read: NULL state when absent, expired or stale. */
typedef struct pr__fs_rowview {
    const uint8_t *blob;       /* NULL = absent */
    uint32_t len;
} pr__fs_rowview;

/* Checks a stored blob against entity e's layout and TTL at now_ms. */
pr__fs_rowview pr__fs_row_check(pr_fs *fs, const pr__fs_entity *e,
                                pr_bytes row, int64_t now_ms);
/* Attribute i of a checked row (borrowed from the blob), len 0 if none. */
pr_bytes pr__fs_row_attr(const pr__fs_entity *e, pr__fs_rowview r,
                         uint32_t i);
/* Writes a fresh row (no attributes) of entity e into buf (state_bytes). */
void pr__fs_row_init(const pr_fs *fs, const pr__fs_entity *e, uint8_t *buf);
/* Ensures fs->scratch holds n bytes. */
pr_status pr__fs_scratch(pr_fs *fs, size_t n, pr_err *err);
/* Seconds at which the store may drop a row updated at updated_ms
 * (0 = never): never before the row's own TTL check would. */
int64_t pr__fs_expires_s(const pr__fs_entity *e, int64_t updated_ms);

/* fs_table.c / fs_storerows.c: the two states. */
pr_status pr__fs_table_new(void **impl, pr_err *err);
extern const pr__fs_rows_ops pr__fs_table_ops;
void pr__fs_table_usage(void *impl, uint64_t *rows, uint64_t *bytes);
extern const pr__fs_rows_ops pr__fs_store_ops; /* impl = the pr_store */

/* fs_row.c: the store key of an entity key: one part as it is (borrowed);
 * several joined by PR__KEY_SEP, each SEP or ESC byte inside a part
 * preceded by PR__KEY_ESC (unambiguous: no two part lists share a key), in
 * arena. A missing (empty) part -> {NULL, 0}. */
pr_bytes pr__fs_join_key(const pr_bytes *parts, uint32_t n, pr_arena *arena);
/* The length pr__fs_join_key gives these (all present) parts. */
size_t pr__fs_key_len(const pr_bytes *parts, uint32_t n);
/* Whether a key of entity e fits every store backend (the limit is the
 * same everywhere, so offline and online agree on which keys exist). A
 * longer key reads as absent and is counted (pr_fs_stats.long_keys). */
static inline int pr__fs_key_fits(const pr__fs_entity *e, pr_bytes key) {
    return 4 + e->ns.len + key.len <= PR_STORE_KEY_MAX;
}
/* A duration as its largest whole unit ("1h", "7d", "90s", "1500ms"). */
void pr__fs_dur_text(int64_t ms, char out[32]);
/* Hour of day / day of week of a Unix-ms time, UTC. */
int64_t pr__fs_time_feature(pr__time_feature f, int64_t ts_ms);
/* Shortest text of x that reads back as x (integers without a point). */
pr_bytes pr__fs_num_text(double x, pr_arena *arena);

#endif
