/*
 * spec_parse.c: YAML text -> validated pr_spec.
 *
 * The spec format, version 1 (every key, its default and its rule):
 *
 *   version: 1            required; other versions -> PR_ERR_VERSION
 *   hash_bits: 20         index space 2^hash_bits, 1..30 (default 20)
 *   seed: 0               hashing seed, 0..2^64-1 (default 0)
 *   min_count: 0          count filter threshold, 0..255; 0 = off
 *   input:                optional: how readers find the row's metadata
 *     format: criteo      any name; the reader decides what it knows
 *     label: label        column names, each optional
 *     weight: w
 *     timestamp: ts
 *   fields:               required, at least one; ids 0..n-1 in this order
 *     - name: I1          required, [A-Za-z0-9_.-]{1,128}, unique
 *       column: I1        input column (default: the name); several fields
 *                         may read the same column
 *       type: numeric     required: numeric | categorical
 *       transform: bins   numeric only, required there:
 *                           log_bucket | bins | quantile | identity
 *       edges: [0, 1.5]   bins only (and required): finite, increasing
 *       bins: 10          quantile only (and required): 2..65536 bins
 *       missing: "__missing__"  token for an empty value (default shown)
 *       separator: "|"    categorical only: the value is a list of tokens
 *                         split on this one byte (a set-valued field, one
 *                         feature per distinct token); at most one such
 *                         field per cross
 *   crosses:              optional: each a list of 2..4 declared field
 *     - [C1, C2]          names (no identity fields, no repeats); cross
 *                         ids follow the fields in this order
 *   request, entities, sources, aggregates:
 *                         optional feature-store sections, read and checked
 *                         by spec_store_parse.c (format in spec_store.h).
 *                         With a request section, every field's column
 *                         must be one of the columns they assemble.
 *   monitors:             optional alert rules, read by the alert parser
 *                         (src/monitor/alert_yaml.c), skipped here: the
 *                         canonical spec, and so its fingerprint, leave
 *                         them out.
 *
 * Design: libyaml's document API loads the whole tree (specs are small;
 * input is capped at 1 MiB), then a schema-driven walk reads only known
 * keys, so aliases or cycles in the tree cannot make it loop or recurse.
 * Every error names "spec:line:col: path: what was expected" using the
 * node's start mark (libyaml counts from 0; we print from 1); the checked
 * reads themselves live in spec_yaml.c.
 *
 * Ownership: the pr_spec under construction is freed on any error; the
 * caller receives it only on success.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "feature/feature_int.h"
#include "feature/spec_yaml.h"

static int valid_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* ---------------------------------------------------------------- fields */

enum {
    FK_NAME,
    FK_COLUMN,
    FK_TYPE,
    FK_TRANSFORM,
    FK_EDGES,
    FK_BINS,
    FK_MISSING,
    FK_SEPARATOR,
    FK_COUNT
};
static const char *const field_keys[FK_COUNT] = {
    "name", "column", "type", "transform", "edges", "bins", "missing",
    "separator"};

static pr_status read_edges(pr__yaml_ctx *ps, yaml_node_t *seq,
                            const char *path, pr__field_spec *f) {
    if (seq->type != YAML_SEQUENCE_NODE)
        return pr__yaml_fail(ps, seq, path,
                             "expected a sequence of numbers, got %s",
                             pr__yaml_node_kind(seq));
    size_t n =
        (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n == 0)
        return pr__yaml_fail(ps, seq, path, "expected at least one edge");
    if (n > PR__SPEC_MAX_EDGES)
        return pr__yaml_fail(ps, seq, path, "%zu edges is too many (max %u)", n,
                             PR__SPEC_MAX_EDGES);
    f->edges = malloc(n * sizeof *f->edges);
    if (!f->edges) return pr_err_set(ps->err, PR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char sub[PR__YAML_PATH_MAX];
        pr__yaml_item_path(sub, path, i);
        yaml_node_t *item =
            pr__yaml_node(ps, seq->data.sequence.items.start[i]);
        if (!item) return pr__yaml_fail(ps, seq, sub, "malformed sequence");
        pr_status rc = pr__yaml_double(ps, item, sub, &f->edges[i]);
        if (rc != PR_OK) return rc;
        if (i > 0 && !(f->edges[i] > f->edges[i - 1]))
            return pr__yaml_fail(
                ps, item, sub,
                "edges must be strictly increasing (%.17g after %.17g)",
                f->edges[i], f->edges[i - 1]);
        f->n_edges = (uint32_t)(i + 1);
    }
    return PR_OK;
}

static pr_status read_transform(pr__yaml_ctx *ps, yaml_node_t *node,
                                const char *path, pr__field_spec *f) {
    static const struct {
        const char *word;
        pr__transform t;
    } names[] = {{"log_bucket", PR__TRANSFORM_LOG_BUCKET},
                 {"bins", PR__TRANSFORM_BINS},
                 {"quantile", PR__TRANSFORM_QUANTILE},
                 {"identity", PR__TRANSFORM_IDENTITY}};
    pr_status rc = pr__yaml_expect_scalar(ps, node, path);
    if (rc != PR_OK) return rc;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (pr__yaml_scalar_is(node, names[i].word)) {
            f->transform = names[i].t;
            return PR_OK;
        }
    }
    char shown[64];
    pr__render_bytes(shown, sizeof shown, (const char *)node->data.scalar.value,
                     node->data.scalar.length);
    return pr__yaml_fail(
        ps, node, path,
        "unknown transform '%s' (expected log_bucket, bins, quantile "
        "or identity)",
        shown);
}

/* Checks that the keys present suit the field's type and transform. */
static pr_status check_field_keys(pr__yaml_ctx *ps, yaml_node_t *map,
                                  const char *path, yaml_node_t **v,
                                  const pr__field_spec *f) {
    char sub[PR__YAML_PATH_MAX];
    if (f->type == PR__FIELD_NUMERIC && v[FK_SEPARATOR]) {
        pr__yaml_child_path(sub, path, "separator");
        return pr__yaml_fail(ps, v[FK_SEPARATOR], sub,
                             "applies to categorical fields only");
    }
    if (f->type == PR__FIELD_CATEGORICAL) {
        if (v[FK_TRANSFORM]) {
            pr__yaml_child_path(sub, path, "transform");
            return pr__yaml_fail(
                ps, v[FK_TRANSFORM], sub,
                "categorical fields take no transform (remove it or "
                "set type: numeric)");
        }
    } else if (!v[FK_TRANSFORM]) {
        pr__yaml_child_path(sub, path, "transform");
        return pr__yaml_fail(
            ps, map, sub,
            "required for numeric fields (log_bucket, bins, quantile "
            "or identity)");
    }
    if (f->transform == PR__TRANSFORM_BINS && !v[FK_EDGES]) {
        pr__yaml_child_path(sub, path, "edges");
        return pr__yaml_fail(ps, v[FK_TRANSFORM], sub,
                             "transform bins needs 'edges: [e1, e2, ...]'");
    }
    if (f->transform != PR__TRANSFORM_BINS && v[FK_EDGES]) {
        pr__yaml_child_path(sub, path, "edges");
        return pr__yaml_fail(ps, v[FK_EDGES], sub,
                             "edges apply to transform bins only");
    }
    if (f->transform == PR__TRANSFORM_QUANTILE && !v[FK_BINS]) {
        pr__yaml_child_path(sub, path, "bins");
        return pr__yaml_fail(ps, v[FK_TRANSFORM], sub,
                             "transform quantile needs 'bins: N' (2..%u)",
                             PR__SPEC_MAX_QUANTILE_BINS);
    }
    if (f->transform != PR__TRANSFORM_QUANTILE && v[FK_BINS]) {
        pr__yaml_child_path(sub, path, "bins");
        return pr__yaml_fail(
            ps, v[FK_BINS], sub,
            "bins: N applies to transform quantile only (transform "
            "bins takes edges)");
    }
    return PR_OK;
}

static pr_status read_field(pr__yaml_ctx *ps, yaml_node_t *map,
                            const char *path, pr__field_spec *f) {
    yaml_node_t *v[FK_COUNT];
    char sub[PR__YAML_PATH_MAX];
    pr_status rc = pr__yaml_read_map(ps, map, path, field_keys, FK_COUNT, v);
    if (rc != PR_OK) return rc;

    pr__yaml_child_path(sub, path, "name");
    if (!v[FK_NAME]) return pr__yaml_fail(ps, map, sub, "required");
    rc = pr__yaml_string(ps, v[FK_NAME], sub, PR__NAME_MAX, 0, &f->name);
    if (rc != PR_OK) return rc;
    for (const char *c = f->name; *c; c++)
        if (!valid_name_char(*c))
            return pr__yaml_fail(
                ps, v[FK_NAME], sub,
                "field names may use letters, digits, '_', '.' and "
                "'-' only, got '%s'",
                f->name);

    pr__yaml_child_path(sub, path, "column");
    if (v[FK_COLUMN]) {
        rc = pr__yaml_string(ps, v[FK_COLUMN], sub, PR__STRING_MAX, 0,
                             &f->column);
        if (rc != PR_OK) return rc;
    } else if (!(f->column = strdup(f->name))) {
        return pr_err_set(ps->err, PR_ERR_NOMEM, "out of memory");
    }

    pr__yaml_child_path(sub, path, "type");
    if (!v[FK_TYPE])
        return pr__yaml_fail(ps, map, sub, "required (numeric or categorical)");
    if (pr__yaml_scalar_is(v[FK_TYPE], "numeric")) {
        f->type = PR__FIELD_NUMERIC;
    } else if (pr__yaml_scalar_is(v[FK_TYPE], "categorical")) {
        f->type = PR__FIELD_CATEGORICAL;
    } else {
        char shown[64] = "";
        if (v[FK_TYPE]->type == YAML_SCALAR_NODE)
            pr__render_bytes(shown, sizeof shown,
                             (const char *)v[FK_TYPE]->data.scalar.value,
                             v[FK_TYPE]->data.scalar.length);
        return pr__yaml_fail(
            ps, v[FK_TYPE], sub,
            "unknown type '%s' (expected numeric or categorical)", shown);
    }

    f->transform = PR__TRANSFORM_NONE;
    if (v[FK_TRANSFORM] && f->type == PR__FIELD_NUMERIC) {
        pr__yaml_child_path(sub, path, "transform");
        rc = read_transform(ps, v[FK_TRANSFORM], sub, f);
        if (rc != PR_OK) return rc;
    }
    rc = check_field_keys(ps, map, path, v, f);
    if (rc != PR_OK) return rc;

    if (v[FK_EDGES]) {
        pr__yaml_child_path(sub, path, "edges");
        rc = read_edges(ps, v[FK_EDGES], sub, f);
        if (rc != PR_OK) return rc;
    }
    if (v[FK_BINS]) {
        uint64_t bins = 0;
        pr__yaml_child_path(sub, path, "bins");
        rc = pr__yaml_uint(ps, v[FK_BINS], sub, 2, PR__SPEC_MAX_QUANTILE_BINS,
                           &bins);
        if (rc != PR_OK) return rc;
        f->quantile_bins = (uint32_t)bins;
    }

    if (v[FK_SEPARATOR]) {
        pr__yaml_child_path(sub, path, "separator");
        rc = pr__yaml_string(ps, v[FK_SEPARATOR], sub, PR__STRING_MAX, 0,
                             &f->separator);
        if (rc != PR_OK) return rc;
        if (strlen(f->separator) != 1)
            return pr__yaml_fail(ps, v[FK_SEPARATOR], sub,
                                 "a separator is exactly one byte, got '%s'",
                                 f->separator);
    }

    pr__yaml_child_path(sub, path, "missing");
    if (v[FK_MISSING])
        return pr__yaml_string(ps, v[FK_MISSING], sub, PR__STRING_MAX, 1,
                               &f->missing);
    f->missing = strdup(PR__DEFAULT_MISSING);
    return f->missing ? PR_OK
                      : pr_err_set(ps->err, PR_ERR_NOMEM, "out of memory");
}

static pr_status read_fields(pr__yaml_ctx *ps, yaml_node_t *seq, pr_spec *s) {
    if (seq->type != YAML_SEQUENCE_NODE)
        return pr__yaml_fail(ps, seq, "fields",
                             "expected a sequence of fields, got %s",
                             pr__yaml_node_kind(seq));
    size_t n =
        (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n == 0)
        return pr__yaml_fail(ps, seq, "fields", "expected at least one field");
    if (n > PR__SPEC_MAX_FIELDS)
        return pr__yaml_fail(ps, seq, "fields",
                             "%zu fields is too many (max %u)", n,
                             PR__SPEC_MAX_FIELDS);
    s->fields = calloc(n, sizeof *s->fields);
    if (!s->fields) return pr_err_set(ps->err, PR_ERR_NOMEM, "out of memory");
    s->n_fields = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        char path[PR__YAML_PATH_MAX];
        snprintf(path, sizeof path, "fields[%zu]", i);
        yaml_node_t *item =
            pr__yaml_node(ps, seq->data.sequence.items.start[i]);
        if (!item) return pr__yaml_fail(ps, seq, path, "malformed sequence");
        pr_status rc = read_field(ps, item, path, &s->fields[i]);
        if (rc != PR_OK) return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->fields[j].name, s->fields[i].name) == 0) {
                char sub[PR__YAML_PATH_MAX];
                pr__yaml_child_path(sub, path, "name");
                return pr__yaml_fail(
                    ps, pr__yaml_map_value(ps, item, "name"), sub,
                    "duplicate field name '%s' (also fields[%zu])",
                    s->fields[i].name, j);
            }
        }
    }
    return PR_OK;
}

/* ---------------------------------------------------------------- crosses */

static int find_field(const pr_spec *s, const yaml_node_t *n) {
    for (uint32_t i = 0; i < s->n_fields; i++)
        if (pr__yaml_scalar_is(n, s->fields[i].name)) return (int)i;
    return -1;
}

static int same_cross(const pr__cross_spec *a, const pr__cross_spec *b) {
    if (a->arity != b->arity) return 0;
    for (uint32_t i = 0; i < a->arity; i++) {
        uint32_t j = 0;
        while (j < b->arity && b->fields[j] != a->fields[i]) j++;
        if (j == b->arity) return 0;
    }
    return 1;
}

static pr_status read_cross(pr__yaml_ctx *ps, yaml_node_t *seq,
                            const char *path, const pr_spec *s,
                            pr__cross_spec *c) {
    if (seq->type != YAML_SEQUENCE_NODE)
        return pr__yaml_fail(ps, seq, path,
                             "expected a list of field names like "
                             "[C1, C2], got %s",
                             pr__yaml_node_kind(seq));
    size_t n =
        (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n < 2 || n > PR__CROSS_MAX_ARITY)
        return pr__yaml_fail(ps, seq, path,
                             "a cross names 2 to %u fields, got %zu",
                             PR__CROSS_MAX_ARITY, n);
    c->arity = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        char sub[PR__YAML_PATH_MAX];
        pr__yaml_item_path(sub, path, i);
        yaml_node_t *item =
            pr__yaml_node(ps, seq->data.sequence.items.start[i]);
        if (!item) return pr__yaml_fail(ps, seq, sub, "malformed sequence");
        pr_status rc = pr__yaml_expect_scalar(ps, item, sub);
        if (rc != PR_OK) return rc;
        char shown[64];
        pr__render_bytes(shown, sizeof shown,
                         (const char *)item->data.scalar.value,
                         item->data.scalar.length);
        int id = find_field(s, item);
        if (id < 0)
            return pr__yaml_fail(ps, item, sub,
                                 "unknown field '%s' (crosses name "
                                 "fields declared under fields:)",
                                 shown);
        if (s->fields[id].transform == PR__TRANSFORM_IDENTITY)
            return pr__yaml_fail(ps, item, sub,
                                 "field '%s' uses transform identity, "
                                 "which has no token to cross",
                                 shown);
        for (size_t j = 0; j < i; j++) {
            if (c->fields[j] == (uint32_t)id)
                return pr__yaml_fail(ps, item, sub, "field '%s' appears twice",
                                     shown);
            /* one token list per cross keeps its feature count linear */
            if (s->fields[id].separator && s->fields[c->fields[j]].separator)
                return pr__yaml_fail(ps, item, sub,
                                     "fields '%s' and '%s' both have a "
                                     "separator; a cross may hold at most "
                                     "one set-valued field",
                                     s->fields[c->fields[j]].name, shown);
        }
        c->fields[i] = (uint32_t)id;
    }
    return PR_OK;
}

static pr_status read_crosses(pr__yaml_ctx *ps, yaml_node_t *seq, pr_spec *s) {
    if (seq->type != YAML_SEQUENCE_NODE)
        return pr__yaml_fail(ps, seq, "crosses",
                             "expected a sequence of crosses, got %s",
                             pr__yaml_node_kind(seq));
    size_t n =
        (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n > PR__SPEC_MAX_CROSSES)
        return pr__yaml_fail(ps, seq, "crosses",
                             "%zu crosses is too many (max %u)", n,
                             PR__SPEC_MAX_CROSSES);
    if (n == 0) return PR_OK;
    s->crosses = calloc(n, sizeof *s->crosses);
    if (!s->crosses) return pr_err_set(ps->err, PR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char path[PR__YAML_PATH_MAX];
        snprintf(path, sizeof path, "crosses[%zu]", i);
        yaml_node_t *item =
            pr__yaml_node(ps, seq->data.sequence.items.start[i]);
        if (!item) return pr__yaml_fail(ps, seq, path, "malformed sequence");
        pr_status rc = read_cross(ps, item, path, s, &s->crosses[i]);
        if (rc != PR_OK) return rc;
        for (size_t j = 0; j < i; j++)
            if (same_cross(&s->crosses[j], &s->crosses[i]))
                return pr__yaml_fail(
                    ps, item, path,
                    "duplicate cross (same fields as crosses[%zu])", j);
        s->n_crosses = (uint32_t)(i + 1);
    }
    return PR_OK;
}

/* ---------------------------------------------------------------- top level */

enum { IK_FORMAT, IK_LABEL, IK_WEIGHT, IK_TIMESTAMP, IK_COUNT };
static const char *const input_keys[IK_COUNT] = {"format", "label", "weight",
                                                 "timestamp"};

static pr_status read_input(pr__yaml_ctx *ps, yaml_node_t *map, pr_spec *s) {
    yaml_node_t *v[IK_COUNT];
    pr_status rc = pr__yaml_read_map(ps, map, "input", input_keys, IK_COUNT, v);
    if (rc != PR_OK) return rc;
    char **dst[IK_COUNT] = {&s->input_format, &s->label_col, &s->weight_col,
                            &s->ts_col};
    for (int k = 0; k < IK_COUNT; k++) {
        if (!v[k]) continue;
        char sub[PR__YAML_PATH_MAX];
        pr__yaml_child_path(sub, "input", input_keys[k]);
        rc = pr__yaml_string(ps, v[k], sub, PR__STRING_MAX, 0, dst[k]);
        if (rc != PR_OK) return rc;
    }
    return PR_OK;
}

enum {
    TK_VERSION,
    TK_HASH_BITS,
    TK_SEED,
    TK_MIN_COUNT,
    TK_INPUT,
    TK_FIELDS,
    TK_CROSSES,
    TK_REQUEST,
    TK_ENTITIES,
    TK_SOURCES,
    TK_AGGREGATES,
    TK_MONITORS,
    TK_COUNT
};
static const char *const top_keys[TK_COUNT] = {
    "version", "hash_bits", "seed", "min_count", "input", "fields",
    "crosses", "request", "entities", "sources", "aggregates", "monitors"};

static pr_status read_spec(pr__yaml_ctx *ps, yaml_node_t *root, pr_spec *s) {
    yaml_node_t *v[TK_COUNT];
    uint64_t x = 0;
    pr_status rc = pr__yaml_read_map(ps, root, "", top_keys, TK_COUNT, v);
    if (rc != PR_OK) return rc;

    if (!v[TK_VERSION])
        return pr__yaml_fail(ps, root, "version", "required (version: 1)");
    rc = pr__yaml_uint(ps, v[TK_VERSION], "version", 0, UINT32_MAX, &x);
    if (rc != PR_OK) return rc;
    if (x != 1)
        return pr__yaml_fail_status(
            ps, PR_ERR_VERSION, v[TK_VERSION], "version",
            "unsupported spec version %llu (this build reads "
            "version 1)",
            (unsigned long long)x);
    s->version = 1;

    s->hash_bits = 20;
    if (v[TK_HASH_BITS]) {
        rc = pr__yaml_uint(ps, v[TK_HASH_BITS], "hash_bits", 1, 30, &x);
        if (rc != PR_OK) return rc;
        s->hash_bits = (uint32_t)x;
    }
    if (v[TK_SEED]) {
        rc = pr__yaml_uint(ps, v[TK_SEED], "seed", 0, UINT64_MAX, &s->seed);
        if (rc != PR_OK) return rc;
    }
    if (v[TK_MIN_COUNT]) {
        rc = pr__yaml_uint(ps, v[TK_MIN_COUNT], "min_count", 0, 255, &x);
        if (rc != PR_OK) return rc;
        s->min_count = (uint32_t)x;
    }
    if (v[TK_INPUT]) {
        rc = read_input(ps, v[TK_INPUT], s);
        if (rc != PR_OK) return rc;
    }
    /* the store sections first: they make the columns fields may read */
    rc = pr__store_read(ps, v[TK_REQUEST], v[TK_ENTITIES], v[TK_SOURCES],
                        v[TK_AGGREGATES], s);
    if (rc != PR_OK) return rc;
    if (!v[TK_FIELDS])
        return pr__yaml_fail(ps, root, "fields", "required (a list of fields)");
    rc = read_fields(ps, v[TK_FIELDS], s);
    if (rc != PR_OK) return rc;
    rc = pr__store_check_fields(ps, v[TK_FIELDS], s);
    if (rc != PR_OK) return rc;
    if (v[TK_CROSSES]) {
        rc = read_crosses(ps, v[TK_CROSSES], s);
        if (rc != PR_OK) return rc;
    }
    return pr__spec_index_columns(s, ps->err);
}

pr_status pr_spec_parse(const char *yaml, size_t len, const char *name,
                        pr_spec **out, pr_err *err) {
    pr__yaml_ctx ps = {name ? name : "<spec>", NULL, err};
    yaml_parser_t yp;
    yaml_document_t doc, extra;
    int have_parser = 0, have_doc = 0;
    pr_spec *s = NULL;
    pr_status rc = PR_OK;

    if (len > PR__SPEC_MAX_BYTES) {
        rc = pr_err_set(err, PR_ERR_LIMIT,
                        "%s: spec of %zu bytes is too large "
                        "(max %u)",
                        ps.name, len, PR__SPEC_MAX_BYTES);
        goto fail;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(ps.name)) || !yaml_parser_initialize(&yp)) {
        rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    have_parser = 1;
    yaml_parser_set_input_string(&yp, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&yp, &doc)) {
        rc = pr__yaml_syntax_error(&ps, &yp);
        goto fail;
    }
    have_doc = 1;
    ps.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = pr_err_set(err, PR_ERR_SPEC,
                        "%s:1:1: empty spec (expected a "
                        "mapping with version and fields)",
                        ps.name);
        goto fail;
    }
    rc = read_spec(&ps, root, s);
    if (rc != PR_OK) goto fail;

    /* A second document would be silently ignored: refuse it. */
    if (!yaml_parser_load(&yp, &extra)) {
        rc = pr__yaml_syntax_error(&ps, &yp);
        goto fail;
    }
    int more = yaml_document_get_root_node(&extra) != NULL;
    unsigned long extra_line = (unsigned long)extra.start_mark.line + 1;
    yaml_document_delete(&extra);
    if (more) {
        rc = pr_err_set(err, PR_ERR_SPEC,
                        "%s:%lu:1: a spec is one YAML "
                        "document; found another",
                        ps.name, extra_line);
        goto fail;
    }

    yaml_document_delete(&doc);
    yaml_parser_delete(&yp);
    *out = s;
    return PR_OK;

fail:
    if (have_doc) yaml_document_delete(&doc);
    if (have_parser) yaml_parser_delete(&yp);
    pr_spec_free(s);
    return rc;
}
