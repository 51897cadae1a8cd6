/*
 * featurizer.c: pr_record -> pr_example, the one piece of code that
 * computes features for training, evaluation and serving.
 *
 * Design: everything that does not depend on the row is computed once in
 * pr_featurizer_new (per-field seeds, the hash of each missing token, the
 * rare and identity indices, a table of log_bucket codes for small
 * integers) and pr_featurizer_bind (column positions). apply then does, per
 * field, one number parse or none and one xxh3 of the token; a cross hashes
 * its members' 64-bit token hashes, so no token is hashed twice.
 *
 * Ownership: the featurizer owns a private copy of the spec (made by
 * printing the caller's spec as canonical YAML and parsing it back, which
 * doubles as a round-trip check), so the caller's spec may be freed at once.
 * apply writes features into the caller's arena and nothing else: it never
 * mallocs and never writes to the featurizer, so threads may share one.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature/feature_hash.h"
#include "feature/featurizer_int.h"

void pr__record_where(const pr_record *rec, char *dst, size_t cap) {
    snprintf(dst, cap, "%s:%llu", rec->file ? rec->file : "<input>",
             (unsigned long long)rec->line);
}

pr_status pr__featurizer_refresh_yaml(pr_featurizer *f, pr_err *err) {
    char *text = NULL;
    pr_status rc = pr_spec_to_yaml(f->spec, &text, NULL, err);
    if (rc != PR_OK) return rc;
    free(f->yaml);
    f->yaml = text;
    return PR_OK;
}

static pr__field_kind kind_of(const pr__field_spec *fs) {
    switch (fs->transform) {
    case PR__TRANSFORM_LOG_BUCKET: return PR__KIND_LOG_BUCKET;
    case PR__TRANSFORM_BINS: return PR__KIND_BINS;
    case PR__TRANSFORM_QUANTILE: return PR__KIND_QUANTILE;
    case PR__TRANSFORM_IDENTITY: return PR__KIND_IDENTITY;
    default: return PR__KIND_CATEGORICAL;
    }
}

static pr_status copy_spec(const pr_spec *spec, pr_spec **out, char **yaml,
                           pr_err *err) {
    size_t len = 0;
    pr_status rc = pr_spec_to_yaml(spec, yaml, &len, err);
    if (rc != PR_OK) return rc;
    rc = pr_spec_parse(*yaml, len, spec->name, out, err);
    if (rc != PR_OK) {
        free(*yaml);
        *yaml = NULL;
    }
    return rc;
}

static pr_status build(pr_featurizer *f, pr_err *err) {
    const pr_spec *s = f->spec;
    f->n_fields = s->n_fields;
    f->n_crosses = s->n_crosses;
    f->n_total = s->n_fields + s->n_crosses;
    f->hash_bits = s->hash_bits;
    f->mask = (uint32_t)((UINT64_C(1) << s->hash_bits) - 1);
    f->fields = calloc(f->n_fields, sizeof *f->fields);
    f->crosses = calloc(f->n_crosses ? f->n_crosses : 1, sizeof *f->crosses);
    f->rare = calloc(f->n_total, sizeof *f->rare);
    f->names = calloc(f->n_total, sizeof *f->names);
    f->cols = calloc(f->n_fields, sizeof *f->cols);
    f->cat_ids = calloc(f->n_fields, sizeof *f->cat_ids);
    f->num_ids = calloc(f->n_fields, sizeof *f->num_ids);
    if (!f->fields || !f->crosses || !f->rare || !f->names || !f->cols ||
        !f->cat_ids || !f->num_ids)
        return pr_err_set(err, PR_ERR_NOMEM,
                          "out of memory building featurizer");

    for (uint32_t i = 0; i < f->n_fields; i++) {
        const pr__field_spec *fs = &s->fields[i];
        pr__fz_field *z = &f->fields[i];
        z->kind = kind_of(fs);
        z->edges = fs->edges;
        z->n_edges = fs->n_edges;
        z->seed = pr__field_seed(fs->name, strlen(fs->name), s->seed);
        z->num_seed = z->seed ^ PR__NUMERIC_DOMAIN;
        z->missing_hash = pr_hash64(fs->missing, strlen(fs->missing), z->seed);
        z->identity_hash = pr__hash_code(PR__CODE_IDENTITY, z->num_seed);
        f->rare[i] =
            (uint32_t)pr__hash_code(PR__CODE_RARE, z->num_seed) & f->mask;
        f->names[i] = fs->name;
        if (fs->separator && fs->separator[0]) {
            z->separator = fs->separator[0];
            f->n_set++;
        }
        if (z->kind == PR__KIND_QUANTILE) f->n_unfitted++;
        if (z->kind == PR__KIND_CATEGORICAL)
            f->cat_ids[f->n_cat++] = i;
        else
            f->num_ids[f->n_num++] = i;
    }
    for (uint32_t c = 0; c < f->n_crosses; c++) {
        const pr__cross_spec *cs = &s->crosses[c];
        pr__fz_cross *z = &f->crosses[c];
        uint64_t member_seeds[PR__CROSS_MAX_ARITY];
        size_t name_len = 0;
        z->arity = cs->arity;
        for (uint32_t j = 0; j < cs->arity; j++) {
            z->members[j] = cs->fields[j];
            member_seeds[j] = f->fields[cs->fields[j]].seed;
            name_len += strlen(s->fields[cs->fields[j]].name) + 1;
        }
        z->seed = pr__cross_seed(member_seeds, cs->arity, s->seed);
        f->rare[f->n_fields + c] =
            (uint32_t)pr__hash_code(PR__CODE_RARE,
                                    z->seed ^ PR__NUMERIC_DOMAIN) &
            f->mask;
        char *name = malloc(name_len);
        if (!name) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        size_t o = 0;
        for (uint32_t j = 0; j < cs->arity; j++) {
            const char *member = s->fields[cs->fields[j]].name;
            size_t mlen = strlen(member);
            if (j) name[o++] = 'x';
            memcpy(name + o, member, mlen);
            o += mlen;
        }
        name[o] = '\0';
        f->names[f->n_fields + c] = name;
    }
    for (int64_t v = 0; v < PR__LOG_LUT_N; v++)
        f->log_lut[v] = pr__log_bucket_code((double)v);
    return PR_OK;
}

pr_status pr_featurizer_new(const pr_spec *spec, pr_featurizer **out,
                            pr_err *err) {
    pr_featurizer *f = calloc(1, sizeof *f);
    if (!f) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    f->fit_rng = UINT64_C(0x853C49E6748FEA9B);
    pr_status rc = copy_spec(spec, &f->spec, &f->yaml, err);
    if (rc != PR_OK) goto fail;
    rc = build(f, err);
    if (rc != PR_OK) goto fail;
    *out = f;
    return PR_OK;
fail:
    pr_featurizer_free(f);
    return rc;
}

void pr_featurizer_free(pr_featurizer *f) {
    if (!f) return;
    if (f->names)
        for (uint32_t c = 0; c < f->n_crosses; c++)
            free(f->names[f->n_fields + c]);
    if (f->fit)
        for (uint32_t i = 0; i < f->n_fields; i++) free(f->fit[i].values);
    free(f->fit);
    free(f->names);
    free(f->rare);
    free(f->crosses);
    free(f->fields);
    free(f->cols);
    free(f->cat_ids);
    free(f->num_ids);
    free(f->yaml);
    pr_spec_free(f->spec);
    free(f);
}

/* ---------------------------------------------------------------- bind */

static void list_columns(char *dst, size_t cap, const char *const *names,
                         uint32_t n) {
    size_t o = 0;
    dst[0] = '\0';
    for (uint32_t i = 0; i < n && i < 8 && o < cap; i++)
        o += (size_t)snprintf(dst + o, cap - o, "%s'%s'", i ? ", " : "",
                              names[i] ? names[i] : "");
    if (n > 8 && o < cap) snprintf(dst + o, cap - o, ", ...");
}

pr_status pr_featurizer_bind(pr_featurizer *f, const char *const *names,
                             uint32_t n, pr_err *err) {
    f->bound = 0;
    f->sparse = n == 0;
    f->min_cols = 0;
    if (f->sparse) {
        f->bound = 1;
        return PR_OK;
    }
    for (uint32_t i = 0; i < f->n_fields; i++) {
        const char *want = f->spec->fields[i].column;
        uint32_t c = 0;
        while (c < n && !(names[c] && strcmp(names[c], want) == 0)) c++;
        if (c == n) {
            char have[200];
            list_columns(have, sizeof have, names, n);
            return pr_err_set(err, PR_ERR_SPEC,
                              "%s: field '%s' reads column '%s', which the "
                              "input does not have (it has %u columns: %s)",
                              f->spec->name, f->spec->fields[i].name, want, n,
                              have);
        }
        f->cols[i] = c;
        if (c + 1 > f->min_cols) f->min_cols = c + 1;
    }
    f->bound = 1;
    return PR_OK;
}

/* ---------------------------------------------------------------- apply */

static pr_status bad_number(const pr_featurizer *f, const pr_record *rec,
                            uint32_t i, const pr_bytes *v, pr_err *err) {
    char where[300], shown[200], col[PR__STRING_MAX + 16] = "";
    pr__record_where(rec, where, sizeof where);
    pr__render_bytes(shown, sizeof shown, v->ptr, v->len);
    const char *column = f->spec->fields[i].column;
    if (column && strcmp(column, f->names[i]) != 0)
        snprintf(col, sizeof col, " (column '%s')", column);
    return pr_err_set(err, PR_ERR_PARSE,
                      "%s: field '%s'%s: expected a number, got '%s'", where,
                      f->names[i], col, shown);
}

/* [-]digits, at most 18 of them: the common case in Criteo-like data,
 * parsed here without the trimming and strtod fallback of pr__parse_number
 * (which gives the same value for these inputs). */
static inline int parse_plain_int(const char *p, size_t len, int64_t *out) {
    size_t k = len && p[0] == '-';
    if (len <= k || len - k > 18) return 0;
    int64_t v = 0;
    for (size_t j = k; j < len; j++) {
        unsigned d = (unsigned)(unsigned char)p[j] - '0';
        if (d > 9) return 0;
        v = v * 10 + (int64_t)d;
    }
    *out = k ? -v : v;
    return 1;
}

/* The 64-bit token hash and value of numeric field i, reading column col
 * of rec: its number beside the text when the record has one (rec->num,
 * not NaN), else its text. */
static inline pr_status featurize_numeric(const pr_featurizer *f, uint32_t i,
                                          uint32_t col, const pr_record *rec,
                                          uint64_t *hash, float *value,
                                          pr_err *err) {
    const pr__fz_field *z = &f->fields[i];
    const pr_bytes *v = &rec->cols[col];
    double x = 0;
    int is_int = 0;
    int64_t iv = 0;
    *value = 1.0f;
    if (rec->num && !isnan(rec->num[col])) {
        x = rec->num[col];
        if (!isfinite(x)) {
            *hash = z->missing_hash;
            return PR_OK;
        }
        /* The text path's integer fast lane, for the same codes. */
        if (x == floor(x) && fabs(x) < 1e18) {
            is_int = 1;
            iv = (int64_t)x;
        }
    } else if (v->len == 0) {
        *hash = z->missing_hash;
        return PR_OK;
    } else if (parse_plain_int(v->ptr, v->len, &iv)) {
        is_int = 1;
        x = (double)iv;
    } else {
        pr__num_result r = pr__parse_number(v->ptr, v->len, &x, &is_int, &iv);
        if (r == PR__NUM_BAD) return bad_number(f, rec, i, v, err);
        if (r == PR__NUM_MISSING) {
            *hash = z->missing_hash;
            return PR_OK;
        }
    }
    int64_t code;
    switch (z->kind) {
    case PR__KIND_LOG_BUCKET:
        code = is_int && iv >= 0 && iv < PR__LOG_LUT_N ? f->log_lut[iv]
                                                       : pr__log_bucket_code(x);
        break;
    case PR__KIND_BINS:
        code = (int64_t)pr__bin_of(z->edges, z->n_edges, x);
        break;
    default: /* identity: one index, the value carries x */
        if (fabs(x) > FLT_MAX) {
            *hash = z->missing_hash;
            return PR_OK;
        }
        *hash = z->identity_hash;
        *value = (float)x;
        return PR_OK;
    }
    *hash = pr__hash_code(code, z->num_seed);
    return PR_OK;
}

static pr_status apply_sparse(const pr_featurizer *f, const pr_record *rec,
                              pr_feature *out, pr_err *err) {
    for (uint32_t k = 0; k < rec->n_feats; k++) {
        const pr_raw_feature *r = &rec->feats[k];
        if (r->field >= f->n_fields) {
            char where[300];
            pr__record_where(rec, where, sizeof where);
            return pr_err_set(err, PR_ERR_PARSE,
                              "%s: feature %u: field %u is out of range (the "
                              "spec declares %u fields)",
                              where, k + 1, r->field, f->n_fields);
        }
        const pr__fz_field *z = &f->fields[r->field];
        uint64_t h;
        float value = r->value;
        if (isfinite(value)) {
            h = pr__hash_code((int64_t)r->index, z->num_seed);
        } else {
            h = z->missing_hash;
            value = 1.0f;
        }
        out[k].index = (uint32_t)h & f->mask;
        out[k].field = r->field;
        out[k].value = value;
    }
    return PR_OK;
}

/* The distinct token hashes of a set-valued field's value, in first-seen
 * order, at most PR__SET_MAX_TOKENS (later ones are dropped); an empty
 * value, or one of separators only, is the missing token. */
static uint32_t split_tokens(const pr__fz_field *z, const pr_bytes *v,
                             uint64_t *out) {
    uint32_t n = 0;
    if (v->len == 0) { /* also keeps a NULL ptr out of the arithmetic */
        out[n++] = z->missing_hash;
        return n;
    }
    const char *p = v->ptr, *end = v->ptr + v->len;
    while (p < end && n < PR__SET_MAX_TOKENS) {
        const char *q = memchr(p, z->separator, (size_t)(end - p));
        if (!q) q = end;
        if (q > p) {
            uint64_t h = pr__hash(p, (size_t)(q - p), z->seed);
            uint32_t j = 0;
            while (j < n && out[j] != h) j++;
            if (j == n) out[n++] = h;
        }
        p = q + 1;
    }
    if (n == 0) out[n++] = z->missing_hash;
    return n;
}

/* One field's features for one record: its token hashes (one unless the
 * field is set-valued) and their value. */
typedef struct fz_val {
    uint64_t *tok;
    uint32_t ntok;
    float val;
    uint64_t one;
} fz_val;

/* Field i of rec into v (set-valued tokens in the arena; v->tok may point
 * at v->one, so v must not move while it is used). */
static pr_status field_value(const pr_featurizer *f, uint32_t i, const pr_record *rec,
                             pr_arena *arena, fz_val *v, pr_err *err) {
    const pr__fz_field *z = &f->fields[i];
    const pr_bytes *b = &rec->cols[f->cols[i]];
    v->tok = &v->one;
    v->ntok = 1;
    v->val = 1.0f;
    if (z->kind != PR__KIND_CATEGORICAL)
        return featurize_numeric(f, i, f->cols[i], rec, &v->one, &v->val, err);
    if (z->separator) {
        if (!(v->tok = pr_arena_alloc(arena, PR__SET_MAX_TOKENS * sizeof *v->tok)))
            return pr_err_set(err, PR_ERR_NOMEM, "arena refused tokens");
        v->ntok = split_tokens(z, b, v->tok);
        return PR_OK;
    }
    v->one = b->len ? pr__hash(b->ptr, b->len, z->seed) : z->missing_hash;
    return PR_OK;
}

/* The example of one record from its fields' values: every field gives one
 * feature per token, a cross one per token of its set-valued member (the
 * parser allows at most one). Output in field id order, crosses after,
 * like the fast path. */
static pr_status emit_example(const pr_featurizer *f, const fz_val *vals, pr_arena *arena,
                              pr_example *out, pr_err *err) {
    const uint32_t nf = f->n_fields;
    size_t total = 0;
    for (uint32_t i = 0; i < nf; i++) total += vals[i].ntok;
    for (uint32_t c = 0; c < f->n_crosses; c++) {
        size_t k = 1;
        for (uint32_t j = 0; j < f->crosses[c].arity; j++)
            k *= vals[f->crosses[c].members[j]].ntok;
        total += k;
    }
    pr_feature *feats = pr_arena_alloc(arena, total * sizeof *feats);
    if (!feats)
        return pr_err_set(err, PR_ERR_NOMEM, "arena refused %zu features", total);
    size_t o = 0;
    for (uint32_t i = 0; i < nf; i++)
        for (uint32_t t = 0; t < vals[i].ntok; t++) {
            feats[o].index = (uint32_t)vals[i].tok[t] & f->mask;
            feats[o].field = i;
            feats[o].value = vals[i].val;
            o++;
        }
    for (uint32_t c = 0; c < f->n_crosses; c++) {
        const pr__fz_cross *z = &f->crosses[c];
        uint32_t set_j = UINT32_MAX;
        uint64_t member[PR__CROSS_MAX_ARITY] = {0};
        for (uint32_t j = 0; j < z->arity; j++) {
            member[j] = vals[z->members[j]].tok[0];
            if (vals[z->members[j]].ntok > 1) set_j = j;
        }
        uint32_t n = set_j == UINT32_MAX ? 1 : vals[z->members[set_j]].ntok;
        for (uint32_t t = 0; t < n; t++) {
            if (set_j != UINT32_MAX) member[set_j] = vals[z->members[set_j]].tok[t];
            uint64_t h = pr__hash_cross(member, z->arity, z->seed);
            feats[o].index = (uint32_t)h & f->mask;
            feats[o].field = nf + c;
            feats[o].value = 1.0f;
            o++;
        }
    }
    out->n = (uint32_t)o;
    out->f = feats;
    return PR_OK;
}

/* apply for specs with set-valued fields (the fast path below handles the
 * rest in one tight loop per field type). */
static pr_status apply_general(const pr_featurizer *f, const pr_record *rec,
                               pr_arena *arena, pr_example *out,
                               pr_err *err) {
    fz_val *vals = pr_arena_alloc(arena, (size_t)f->n_fields * sizeof *vals);
    if (!vals) return pr_err_set(err, PR_ERR_NOMEM, "arena refused %u fields", f->n_fields);
    for (uint32_t i = 0; i < f->n_fields; i++) {
        pr_status rc = field_value(f, i, rec, arena, &vals[i], err);
        if (rc != PR_OK) return rc;
    }
    return emit_example(f, vals, arena, out, err);
}

pr_status pr_featurizer_apply(const pr_featurizer *f, const pr_record *rec,
                              pr_arena *arena, pr_example *out, pr_err *err) {
    char where[300];
    if (!f->bound)
        return pr_err_set(err, PR_ERR_INVALID,
                          "featurizer used before pr_featurizer_bind");
    if (!isfinite(rec->weight) || rec->weight < 0) {
        pr__record_where(rec, where, sizeof where);
        return pr_err_set(err, PR_ERR_PARSE,
                          "%s: weight must be a finite number >= 0, got %g",
                          where, (double)rec->weight);
    }
    out->label = rec->label;
    out->weight = rec->weight;
    out->ts = rec->ts;
    out->n = 0;
    out->f = NULL;

    if (f->sparse) {
        if (rec->n_feats == 0) return PR_OK;
        pr_feature *feats =
            pr_arena_alloc(arena, (size_t)rec->n_feats * sizeof *feats);
        if (!feats)
            return pr_err_set(err, PR_ERR_NOMEM, "arena refused %u features",
                              rec->n_feats);
        pr_status rc = apply_sparse(f, rec, feats, err);
        if (rc != PR_OK) return rc;
        out->n = rec->n_feats;
        out->f = feats;
        return PR_OK;
    }

    if (f->n_unfitted)
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s: %u quantile field(s) not fitted: call "
                          "pr_featurizer_fit_add and pr_featurizer_fit_finish "
                          "first",
                          f->spec->name, f->n_unfitted);
    if (rec->n_cols < f->min_cols) {
        pr__record_where(rec, where, sizeof where);
        return pr_err_set(err, PR_ERR_PARSE,
                          "%s: row has %u columns, the spec reads column %u",
                          where, rec->n_cols, f->min_cols);
    }
    if (f->n_set) return apply_general(f, rec, arena, out, err);
    pr_feature *feats =
        pr_arena_alloc(arena, (size_t)f->n_total * sizeof *feats);
    /* Crosses need every member's 64-bit hash: on the stack for specs of up
     * to 128 fields, else in the arena (only when there are crosses). */
    uint64_t stack_hashes[128];
    uint64_t *hashes = f->n_fields <= 128 ? stack_hashes : NULL;
    if (!hashes && f->n_crosses)
        hashes = pr_arena_alloc(arena, (size_t)f->n_fields * sizeof *hashes);
    if (!feats || (!hashes && f->n_crosses))
        return pr_err_set(err, PR_ERR_NOMEM, "arena refused %u features",
                          f->n_total);

    const pr_bytes *cols = rec->cols;
    for (uint32_t k = 0; k < f->n_cat; k++) {
        uint32_t i = f->cat_ids[k];
        const pr__fz_field *z = &f->fields[i];
        const pr_bytes *v = &cols[f->cols[i]];
        uint64_t h =
            v->len ? pr__hash(v->ptr, v->len, z->seed) : z->missing_hash;
        if (hashes) hashes[i] = h;
        feats[i].index = (uint32_t)h & f->mask;
        feats[i].field = i;
        feats[i].value = 1.0f;
    }
    for (uint32_t k = 0; k < f->n_num; k++) {
        uint32_t i = f->num_ids[k];
        uint64_t h = 0;
        float value = 1.0f;
        pr_status rc = featurize_numeric(f, i, f->cols[i], rec, &h, &value, err);
        if (rc != PR_OK) return rc;
        if (hashes) hashes[i] = h;
        feats[i].index = (uint32_t)h & f->mask;
        feats[i].field = i;
        feats[i].value = value;
    }
    for (uint32_t c = 0; c < f->n_crosses; c++) {
        const pr__fz_cross *z = &f->crosses[c];
        uint64_t member[PR__CROSS_MAX_ARITY] = {0};
        for (uint32_t j = 0; j < z->arity; j++)
            member[j] = hashes[z->members[j]];
        uint64_t h = pr__hash_cross(member, z->arity, z->seed);
        uint32_t id = f->n_fields + c;
        feats[id].index = (uint32_t)h & f->mask;
        feats[id].field = id;
        feats[id].value = 1.0f;
    }
    out->n = f->n_total;
    out->f = feats;
    return PR_OK;
}


/* ---------------------------------------------------------------- batch */

/* 1 when column c holds the same value in every record: the same text
 * (the same bytes, usually the same pointer) and the same number beside it
 * (bit for bit), so every field reading it gives the same features. */
static int column_shared(const pr_record *recs, uint32_t n, uint32_t c) {
    const pr_bytes *a = &recs[0].cols[c];
    const double *na = recs[0].num ? &recs[0].num[c] : NULL;
    for (uint32_t r = 1; r < n; r++) {
        const pr_bytes *b = &recs[r].cols[c];
        if (b->len != a->len) return 0;
        if (b->len && b->ptr != a->ptr && memcmp(b->ptr, a->ptr, b->len) != 0) return 0;
        const double *nb = recs[r].num ? &recs[r].num[c] : NULL;
        if (!na != !nb || (na && memcmp(na, nb, sizeof *na) != 0)) return 0;
    }
    return 1;
}

pr_status pr__featurizer_apply_batch_shared(const pr_featurizer *f, const pr_record *recs,
                                           uint32_t n, pr_arena *arena, pr_example *out,
                                           pr_err *err) {
    const uint32_t nf = f->n_fields;
    uint8_t *shared = pr_arena_alloc(arena, (size_t)nf * sizeof *shared);
    fz_val *vals = pr_arena_alloc(arena, (size_t)nf * sizeof *vals);
    if (!shared || !vals) return PR_ERR_NOMEM;
    for (uint32_t r = 0; r < n; r++)
        if (!isfinite(recs[r].weight) || recs[r].weight < 0 || recs[r].n_cols < f->min_cols)
            return PR_ERR_PARSE;
    /* shared fields once, from the first record */
    for (uint32_t i = 0; i < nf; i++) {
        shared[i] = (uint8_t)column_shared(recs, n, f->cols[i]);
        if (!shared[i]) continue;
        pr_status rc = field_value(f, i, &recs[0], arena, &vals[i], err);
        if (rc != PR_OK) return rc;
    }
    for (uint32_t r = 0; r < n; r++) {
        for (uint32_t i = 0; i < nf; i++) {
            if (shared[i]) continue;
            pr_status rc = field_value(f, i, &recs[r], arena, &vals[i], err);
            if (rc != PR_OK) return rc;
        }
        pr_status rc = emit_example(f, vals, arena, &out[r], err);
        if (rc != PR_OK) return rc;
        out[r].label = recs[r].label;
        out[r].weight = recs[r].weight;
        out[r].ts = recs[r].ts;
    }
    return PR_OK;
}

pr_status pr_featurizer_apply_batch(const pr_featurizer *f, const pr_record *recs, uint32_t n,
                                    pr_arena *arena, pr_example *out, pr_err *err) {
    if (n >= 2 && f->bound && !f->sparse && !f->n_unfitted) {
        pr_err scratch;
        if (pr__featurizer_apply_batch_shared(f, recs, n, arena, out, &scratch) == PR_OK)
            return PR_OK;
    }
    for (uint32_t r = 0; r < n; r++) {
        pr_status s = pr_featurizer_apply(f, &recs[r], arena, &out[r], err);
        if (s != PR_OK) return s;
    }
    return PR_OK;
}

void pr_featurizer_apply_filter(const pr_featurizer *f, const uint64_t *bitmap,
                                pr_example *x) {
    if (!bitmap) return;
    for (uint32_t k = 0; k < x->n; k++) {
        pr_feature *ft = &x->f[k];
        uint32_t b = ft->index & f->mask;
        if (ft->field < f->n_total && !((bitmap[b >> 6] >> (b & 63)) & 1))
            ft->index = f->rare[ft->field];
    }
}

/* ---------------------------------------------------------------- accessors */

uint32_t pr_featurizer_n_fields(const pr_featurizer *f) { return f->n_total; }
uint32_t pr_featurizer_hash_bits(const pr_featurizer *f) {
    return f->hash_bits;
}
const char *pr_featurizer_spec_yaml(const pr_featurizer *f) { return f->yaml; }
uint64_t pr_featurizer_fingerprint(const pr_featurizer *f) {
    return pr_hash64(f->yaml, strlen(f->yaml), UINT64_C(0x6461746173657431));
}
int pr_featurizer_needs_fit(const pr_featurizer *f) {
    return f->n_unfitted != 0;
}

const char *pr_featurizer_field_name(const pr_featurizer *f, uint32_t field) {
    return field < f->n_total ? f->names[field] : NULL;
}

uint32_t pr_featurizer_field_columns(const pr_featurizer *f, uint32_t field,
                                     uint32_t *cols, uint32_t max) {
    if (!f->bound || f->sparse || field >= f->n_total) return 0;
    if (field < f->n_fields) {
        if (max < 1) return 0;
        cols[0] = f->cols[field];
        return 1;
    }
    const pr__fz_cross *c = &f->crosses[field - f->n_fields];
    if (c->arity > max) return 0;
    for (uint32_t i = 0; i < c->arity; i++) cols[i] = f->cols[c->members[i]];
    return c->arity;
}

uint32_t pr_featurizer_rare_index(const pr_featurizer *f, uint32_t field) {
    return field < f->n_total ? f->rare[field] : UINT32_MAX;
}
