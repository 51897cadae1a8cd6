/*
 * spec_yaml.h: schema-walk helpers over a libyaml document, for the spec
 * parser (spec_parse.c). Each helper checks one node's shape and, when it
 * is wrong, records "name:line:col: path: what was expected" and returns
 * the failing status, so the parser reads as a chain of checked reads.
 *
 * Paths are the dotted location in the spec ("fields[3].transform"), built
 * by the caller in buffers of PR__YAML_PATH_MAX bytes (longer is truncated).
 * Strings returned through OUT parameters are malloc'd, owned by the
 * caller. Nodes are borrowed from the document.
 */
#ifndef PRONTO_SPEC_YAML_H
#define PRONTO_SPEC_YAML_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "pronto/base.h"
#include "feature/spec_store.h"

#define PR__YAML_PATH_MAX 160

typedef struct pr__yaml_ctx {
    const char *name;     /* what messages call the text */
    yaml_document_t *doc; /* borrowed */
    pr_err *err;
} pr__yaml_ctx;

/* "a scalar", "a sequence", "a mapping" (for messages). */
const char *pr__yaml_node_kind(const yaml_node_t *n);
/* Records "name:line:col: path: message" (node NULL -> 1:1) with status. */
pr_status pr__yaml_fail_status(pr__yaml_ctx *ps, pr_status status,
                               const yaml_node_t *node, const char *path,
                               const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define pr__yaml_fail(ps, node, path, ...)                                     \
    pr__yaml_fail_status((ps), PR_ERR_SPEC, (node), (path), __VA_ARGS__)
/* Records a libyaml parse failure with its mark. */
pr_status pr__yaml_syntax_error(pr__yaml_ctx *ps, const yaml_parser_t *yp);

/* dst = "parent.key" ("key" at the top level) / "parent[i]". */
void pr__yaml_child_path(char *dst, const char *parent, const char *key);
void pr__yaml_item_path(char *dst, const char *parent, size_t i);

yaml_node_t *pr__yaml_node(pr__yaml_ctx *ps, int index);
/* Reads a mapping whose keys must come from keys[0..n): values[k] gets the
 * value of keys[k] or NULL. Unknown, duplicate and non-scalar keys fail. */
pr_status pr__yaml_read_map(pr__yaml_ctx *ps, yaml_node_t *map,
                            const char *path, const char *const *keys, size_t n,
                            yaml_node_t **values);
/* The value of key in a mapping already checked by read_map (to point an
 * error at it); the mapping itself if absent. */
yaml_node_t *pr__yaml_map_value(pr__yaml_ctx *ps, yaml_node_t *map,
                                const char *key);
pr_status pr__yaml_expect_scalar(pr__yaml_ctx *ps, const yaml_node_t *n,
                                 const char *path);
int pr__yaml_scalar_is(const yaml_node_t *n, const char *word);
/* A string scalar without control bytes, at most max_len bytes.
 * out: OUT: malloc'd copy, owned by caller. */
pr_status pr__yaml_string(pr__yaml_ctx *ps, const yaml_node_t *n,
                          const char *path, size_t max_len, int allow_empty,
                          char **out);
/* A decimal integer in [min, max]. */
pr_status pr__yaml_uint(pr__yaml_ctx *ps, const yaml_node_t *n,
                        const char *path, uint64_t min, uint64_t max,
                        uint64_t *out);
/* A finite number (-0 is read as 0, so canonical text is stable). */
pr_status pr__yaml_double(pr__yaml_ctx *ps, const yaml_node_t *n,
                          const char *path, double *out);

/* Durations: a decimal integer immediately followed by a unit, ms, s, m, h
 * or d ("250ms", "90s", "5m", "1h", "7d"); no sign, no fraction, no space.
 * At most PR__DURATION_MAX_MS (3650 days). */
#define PR__DURATION_MAX_MS (INT64_C(3650) * 86400000)
typedef enum {
    PR__DURATION_OK = 0,
    PR__DURATION_BAD = 1,     /* not an integer followed by a unit */
    PR__DURATION_TOO_BIG = 2  /* beyond PR__DURATION_MAX_MS (or int64) */
} pr__duration_result;
/* Parses a duration from a byte slice (not NUL-terminated). */
pr__duration_result pr__parse_duration(const char *p, size_t len,
                                       int64_t *ms);
/* A duration scalar of at least min_ms milliseconds. out_ms: OUT. */
pr_status pr__yaml_duration(pr__yaml_ctx *ps, const yaml_node_t *n,
                            const char *path, int64_t min_ms,
                            int64_t *out_ms);

/* ------------------------------------------------------------------------
 * Feature-store sections (spec_store_parse.c; formats in spec_store.h).
 * Both run inside spec_parse.c's read_spec while the document is alive; on
 * error the partly filled store spec is freed with the pr_spec.
 */
struct pr_spec;
/* Reads request, entities, sources and aggregates (each node NULL when the
 * key is absent) into s->store and validates every cross-reference. */
pr_status pr__store_read(pr__yaml_ctx *ps, yaml_node_t *request,
                         yaml_node_t *entities, yaml_node_t *sources,
                         yaml_node_t *aggregates, struct pr_spec *s);
/* Resolves an assembled column name (spec_store.h) of len bytes. Usable
 * after a successful parse, e.g. by src/fstore/ to bind fields. */
typedef enum {
    PR__STORE_COL_NONE = 0,
    PR__STORE_COL_REQUEST,   /* index: request.columns[index] */
    PR__STORE_COL_TIME,      /* index: the pr__time_feature */
    PR__STORE_COL_ATTRIBUTE, /* index: the table's source index, attr: its
                                attribute index (entity: sources[].entity) */
    PR__STORE_COL_AGGREGATE  /* index: aggregates[index] */
} pr__store_col_kind;
typedef struct pr__store_col {
    pr__store_col_kind kind;
    uint32_t index;
    uint32_t attr;
} pr__store_col;
pr__store_col pr__store_find_column(const pr__store_spec *st, const char *name,
                                    size_t len);
/* The word naming a time feature ("hour_of_day", "day_of_week"). */
const char *pr__time_feature_name(pr__time_feature t);
/* When the spec has a request section: every fields[i].column must be an
 * assembled column (fields is the fields sequence, already read into s). */
pr_status pr__store_check_fields(pr__yaml_ctx *ps, yaml_node_t *fields,
                                 const struct pr_spec *s);

#endif
