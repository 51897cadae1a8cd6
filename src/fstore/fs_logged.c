/*
 * fs_logged.c: the logged feature rows of an event log (PR_LOG_TYPE_FEATURES
 * records, docs/log.md "Records pronto writes"), indexed by (request id,
 * candidate key text), for `build-dataset --logged-features` (examples from
 * what serving saw) and `pronto skew` (what serving saw against the
 * point-in-time rebuild). pronto/fstore.h declares the API.
 *
 * Structure. pr_fs_logged_load reads every features record of the log once
 * (one reader, from the start), scans its top-level keys (request_id, the
 * candidate key, row) with base/json_scan and the row object with the
 * spec's column names (in sets of at most PR_JSON_KEYS_MAX), and keeps per
 * record the column texts in the spec's column order plus whether each
 * column was in the row at all. An open-addressing table (linear probing,
 * power-of-two size, at most half full) maps the hash of (request id,
 * candidate) to the record. A key logged twice keeps its first record
 * (counted). pr_fs_logged_find scans an impression line for request_id,
 * impression_id and the candidate key, and looks its record up: the
 * matching rule of docs/log.md (request_id if the impression has one, else
 * impression_id as decimal text; the candidate key's value as text: a
 * string's bytes, a number's literal).
 *
 * Memory: every logged row of the log (texts in one arena): the log's
 * features records must fit in memory (docs/log.md "Readers").
 * Ownership: the pr_fs_logged owns everything; texts handed out live as
 * long as it does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"
#include "pronto/fstore.h"
#include "pronto/log.h"

typedef struct logged_row {
    uint64_t h;
    pr_bytes req, cand;
    pr_bytes *vals;       /* n_cols texts (len 0: null or absent) */
    uint8_t *present;     /* n_cols: 1 if the row object had the column */
    int matched;
} logged_row;

struct pr_fs_logged {
    uint32_t n_cols;
    char **cols;              /* copies of the column names */
    pr_json_keys **sets;      /* the column names in sets of <= 64 */
    uint32_t n_sets;
    pr_json_keys *top;        /* request_id, <cand>, row */
    pr_json_keys *imp;        /* request_id, impression_id, <cand> (deduplicated) */
    int imp_req, imp_id, imp_cand;  /* their indexes in imp */
    char *cand_key;
    logged_row *rows;
    size_t n_rows, cap_rows;
    uint32_t *slots;          /* index + 1 into rows; 0 = empty */
    size_t n_slots;
    pr_arena arena;           /* kept texts */
    pr_arena scratch;         /* per record */
    pr_fs_logged_stats st;
};

static uint64_t key_hash(pr_bytes req, pr_bytes cand) {
    uint64_t h = pr_hash64(req.ptr ? req.ptr : "", req.len, 0x6c6f6767656431ULL);
    return pr_hash64(cand.ptr ? cand.ptr : "", cand.len, h);
}

static int bytes_eq(pr_bytes a, pr_bytes b) {
    return a.len == b.len && (!a.len || !memcmp(a.ptr, b.ptr, a.len));
}

static pr_status grow_slots(pr_fs_logged *l, pr_err *err) {
    size_t n = l->n_slots ? l->n_slots * 2 : 1024;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s) return pr_err_set(err, PR_ERR_NOMEM, "logged features: out of memory");
    for (size_t i = 0; i < l->n_rows; i++) {
        size_t k = l->rows[i].h & (n - 1);
        while (s[k]) k = (k + 1) & (n - 1);
        s[k] = (uint32_t)i + 1;
    }
    free(l->slots);
    l->slots = s;
    l->n_slots = n;
    return PR_OK;
}

static logged_row *lookup(const pr_fs_logged *l, uint64_t h, pr_bytes req, pr_bytes cand) {
    if (!l->n_slots) return NULL;
    for (size_t k = h & (l->n_slots - 1); l->slots[k]; k = (k + 1) & (l->n_slots - 1)) {
        logged_row *r = &l->rows[l->slots[k] - 1];
        if (r->h == h && bytes_eq(r->req, req) && bytes_eq(r->cand, cand)) return r;
    }
    return NULL;
}

/* A scalar's text: a string's bytes, a number's (or literal's) text;
 * ABSENT, NULL and containers: len 0, and *ok 0 for containers. */
static pr_bytes scalar_text(const pr_json_value *v, int *ok) {
    *ok = v->kind != PR_JSON_ARRAY && v->kind != PR_JSON_OBJECT;
    if (v->kind == PR_JSON_ABSENT || v->kind == PR_JSON_NULL || !*ok) return (pr_bytes){NULL, 0};
    return v->text;
}

static pr_bytes keep(pr_fs_logged *l, pr_bytes b) {
    if (!b.len) return (pr_bytes){NULL, 0};
    char *p = pr_arena_strndup(&l->arena, b.ptr, b.len);
    return p ? pr_bytes_of(p, b.len) : (pr_bytes){NULL, (size_t)-1};
}

/* Parses one features record into the index. PR_ERR_PARSE: malformed. */
static pr_status add_record(pr_fs_logged *l, pr_bytes payload, pr_arena *scratch, pr_err *err) {
    pr_json_value top[3];
    pr_arena_reset(scratch);
    pr_status rc = pr_json_scan(l->top, payload.ptr, payload.len, scratch, top, err);
    if (rc != PR_OK) return rc;
    int ok1, ok2;
    pr_bytes req = scalar_text(&top[0], &ok1), cand = scalar_text(&top[1], &ok2);
    if (!ok1 || !req.len) return pr_err_set(err, PR_ERR_PARSE, "no request_id (string or integer)");
    if (!ok2 || !cand.len)
        return pr_err_set(err, PR_ERR_PARSE, "no candidate key '%s'", l->cand_key);
    if (top[2].kind != PR_JSON_OBJECT) return pr_err_set(err, PR_ERR_PARSE, "no \"row\" object");
    uint64_t h = key_hash(req, cand);
    if (lookup(l, h, req, cand)) {
        l->st.duplicates++;
        return PR_OK;
    }
    pr_bytes *vals = pr_arena_alloc(&l->arena, (size_t)l->n_cols * sizeof *vals + 1);
    uint8_t *present = pr_arena_alloc(&l->arena, l->n_cols + 1);
    if (!vals || !present) return pr_err_set(err, PR_ERR_NOMEM, "logged features: out of memory");
    pr_json_value v[PR_JSON_KEYS_MAX];
    for (uint32_t s = 0; s < l->n_sets; s++) {
        rc = pr_json_scan(l->sets[s], top[2].text.ptr, top[2].text.len, scratch, v, err);
        if (rc != PR_OK) return pr_err_set(err, rc, "row: %s", err->msg);
        uint32_t n = pr_json_keys_count(l->sets[s]);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t c = s * PR_JSON_KEYS_MAX + i;
            if (v[i].kind != PR_JSON_STRING && v[i].kind != PR_JSON_NULL &&
                v[i].kind != PR_JSON_ABSENT)
                return pr_err_set(err, PR_ERR_PARSE, "row: column '%s' is neither text nor null",
                                  l->cols[c]);
            present[c] = v[i].kind != PR_JSON_ABSENT;
            vals[c] = keep(l, v[i].kind == PR_JSON_STRING ? v[i].text : (pr_bytes){NULL, 0});
            if (vals[c].len == (size_t)-1)
                return pr_err_set(err, PR_ERR_NOMEM, "logged features: out of memory");
        }
    }
    if (l->n_rows == l->cap_rows) {
        size_t cap = l->cap_rows ? l->cap_rows * 2 : 1024;
        if (cap > UINT32_MAX - 1) return pr_err_set(err, PR_ERR_LIMIT, "logged features: too many rows");
        logged_row *r = realloc(l->rows, cap * sizeof *r);
        if (!r) return pr_err_set(err, PR_ERR_NOMEM, "logged features: out of memory");
        l->rows = r;
        l->cap_rows = cap;
    }
    if ((l->n_rows + 1) * 2 > l->n_slots && (rc = grow_slots(l, err)) != PR_OK) return rc;
    logged_row *r = &l->rows[l->n_rows];
    memset(r, 0, sizeof *r);
    r->h = h;
    r->req = keep(l, req);
    r->cand = keep(l, cand);
    if (r->req.len == (size_t)-1 || r->cand.len == (size_t)-1)
        return pr_err_set(err, PR_ERR_NOMEM, "logged features: out of memory");
    r->vals = vals;
    r->present = present;
    size_t k = h & (l->n_slots - 1);
    while (l->slots[k]) k = (k + 1) & (l->n_slots - 1);
    l->slots[k] = (uint32_t)l->n_rows + 1;
    l->n_rows++;
    return PR_OK;
}

static pr_status make_keys(const char *const *names, uint32_t n, pr_json_keys **out, pr_err *err) {
    return pr_json_keys_new(names, n, out, err);
}

pr_status pr_fs_logged_new(const char *const *cols, uint32_t n_cols, const char *cand_key,
                           pr_fs_logged **out, pr_err *err) {
    *out = NULL;
    pr_fs_logged *l = calloc(1, sizeof *l);
    if (!l) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    pr_arena_init(&l->arena, NULL, 0, 0);
    pr_arena_init(&l->scratch, NULL, 0, 0);
    pr_status rc = PR_OK;
    l->n_cols = n_cols;
    l->cand_key = strdup(cand_key);
    l->cols = calloc(n_cols ? n_cols : 1, sizeof *l->cols);
    l->n_sets = (n_cols + PR_JSON_KEYS_MAX - 1) / PR_JSON_KEYS_MAX;
    l->sets = calloc(l->n_sets ? l->n_sets : 1, sizeof *l->sets);
    if (!l->cand_key || !l->cols || !l->sets) rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    for (uint32_t c = 0; rc == PR_OK && c < n_cols; c++)
        if (!(l->cols[c] = strdup(cols[c]))) rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    for (uint32_t s = 0; rc == PR_OK && s < l->n_sets; s++) {
        uint32_t n = n_cols - s * PR_JSON_KEYS_MAX;
        if (n > PR_JSON_KEYS_MAX) n = PR_JSON_KEYS_MAX;
        rc = make_keys((const char *const *)l->cols + s * PR_JSON_KEYS_MAX, n, &l->sets[s], err);
    }
    if (rc == PR_OK) {
        const char *top[3] = {"request_id", cand_key, "row"};
        if (!strcmp(cand_key, "request_id") || !strcmp(cand_key, "row") ||
            !strcmp(cand_key, "impression_id"))
            rc = pr_err_set(err, PR_ERR_INVALID, "candidate key %s: not a candidate column",
                            cand_key);
        else
            rc = make_keys(top, 3, &l->top, err);
    }
    if (rc == PR_OK) {
        const char *imp[3] = {"request_id", "impression_id", cand_key};
        l->imp_req = 0;
        l->imp_id = 1;
        l->imp_cand = 2;
        rc = make_keys(imp, 3, &l->imp, err);
    }
    if (rc != PR_OK) {
        pr_fs_logged_free(l);
        return rc;
    }
    *out = l;
    return PR_OK;
}

pr_status pr_fs_logged_add(pr_fs_logged *l, pr_bytes payload, pr_err *err) {
    l->st.records++;
    pr_status rc = add_record(l, payload, &l->scratch, err);
    if (rc != PR_OK && rc != PR_ERR_NOMEM && rc != PR_ERR_LIMIT) l->st.bad++;
    l->st.rows = l->n_rows;
    return rc;
}

pr_status pr_fs_logged_load(const char *uri, const char *const *cols, uint32_t n_cols,
                            const char *cand_key, uint64_t max_bad, pr_fs_logged **out,
                            pr_err *err) {
    pr_fs_logged *l = NULL;
    pr_event_log *log = NULL;
    pr_log_reader *r = NULL;
    pr_status rc = pr_fs_logged_new(cols, n_cols, cand_key, &l, err);
    if (rc != PR_OK) return rc;
    rc = pr_log_open(uri, PR_LOG_READ, &log, err);
    if (rc == PR_OK) rc = pr_log_reader_open(log, NULL, &r, err);
    while (rc == PR_OK) {
        pr_log_record rec;
        rc = pr_log_next(r, &rec, err);
        if (rc == PR_EOF) {
            rc = PR_OK;
            break;
        }
        if (rc != PR_OK || rec.type != PR_LOG_TYPE_FEATURES) continue;
        pr_err perr;
        pr_status ps = pr_fs_logged_add(l, rec.payload, &perr);
        if (ps == PR_ERR_NOMEM || ps == PR_ERR_LIMIT) {
            *err = perr;
            rc = ps;
        } else if (ps != PR_OK) {
            char pos[PR_LOG_POS_TEXT_MAX];
            pr_log_pos_format(log, rec.pos, pos, sizeof pos);
            if (l->st.bad <= 5) pr_log(PR_LOG_WARN, "%s@%s: features record: %s", uri, pos, perr.msg);
            if (l->st.bad > max_bad)
                rc = pr_err_set(err, PR_ERR_PARSE,
                                "%s@%s: features record: %s (more than %llu malformed, the most allowed)",
                                uri, pos, perr.msg, (unsigned long long)max_bad);
        }
    }
    pr_log_reader_close(r);
    pr_log_close(log);
    if (rc != PR_OK) {
        pr_fs_logged_free(l);
        return rc;
    }
    *out = l;
    return PR_OK;
}

const pr_bytes *pr_fs_logged_find(pr_fs_logged *l, const char *line, size_t len,
                                  pr_arena *arena, const uint8_t **present) {
    pr_json_value v[3];
    pr_err err;
    if (pr_json_scan(l->imp, line, len, arena, v, &err) != PR_OK) return NULL;
    int ok1, ok2, ok3;
    pr_bytes req = scalar_text(&v[l->imp_req], &ok1);
    pr_bytes id = scalar_text(&v[l->imp_id], &ok2);
    pr_bytes cand = scalar_text(&v[l->imp_cand], &ok3);
    if (!ok1 || !ok2 || !ok3) return NULL;
    if (!req.len) req = id; /* an integer: its literal is its decimal text */
    if (!req.len || !cand.len) return NULL;
    logged_row *r = lookup(l, key_hash(req, cand), req, cand);
    if (!r) return NULL;
    if (!r->matched) l->st.matched++;
    r->matched = 1;
    if (present) *present = r->present;
    return r->vals;
}

void pr_fs_logged_stats_get(const pr_fs_logged *l, pr_fs_logged_stats *out) { *out = l->st; }

void pr_fs_logged_free(pr_fs_logged *l) {
    if (!l) return;
    for (uint32_t c = 0; l->cols && c < l->n_cols; c++) free(l->cols[c]);
    free(l->cols);
    for (uint32_t s = 0; l->sets && s < l->n_sets; s++) pr_json_keys_free(l->sets[s]);
    free(l->sets);
    pr_json_keys_free(l->top);
    pr_json_keys_free(l->imp);
    free(l->cand_key);
    free(l->rows);
    free(l->slots);
    pr_arena_free(&l->arena);
    pr_arena_free(&l->scratch);
    free(l);
}
