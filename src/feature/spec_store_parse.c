/*
 * spec_store_parse.c: the feature-store sections of a spec (request,
 * entities, sources, aggregates; every key and default in spec_store.h and
 * docs/feature-spec.md) -> a validated pr__store_spec.
 *
 * Order of work, each step needing only what the earlier ones made:
 *   1. request: its columns and time features;
 *   2. entities: names, ttl, keys kept as text;
 *   3. sources: each table resolved to its entity (one table per entity,
 *      one key column per entity key), at most one events source;
 *   4. entity keys: a request column, or "E.attr" of an EARLIER entity E
 *      whose table has that attribute (so keys cannot form a cycle);
 *   5. aggregates: entity, function and the keys that function takes; then,
 *      once every aggregate name is known, each value column.
 * All reads go through spec_yaml.c's checked reads, so every error reads
 * "spec:line:col: path: what was expected".
 *
 * Names: entities, sources and aggregates are [a-z0-9_]{1,64}; request
 * columns and table attributes are [A-Za-z0-9_-]{1,128}, without '.', which
 * only "E.attr" columns carry, so the assembled column names (spec_store.h)
 * can clash only between request, time and aggregate names, and those
 * clashes are refused. Event types are [A-Za-z0-9_.-]{1,64}.
 *
 * Ownership: everything is written straight into s->store. An array's
 * count is set as soon as it is allocated (zeroed), so pr_spec_free frees
 * a partly read store on any error. Entries not yet read have NULL names;
 * lookups skip them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature/feature_int.h"
#include "feature/spec_yaml.h"

#define OOM(ps) pr_err_set((ps)->err, PR_ERR_NOMEM, "out of memory")
#define LIST_SHOWN 8 /* names listed in an "unknown x (known: ...)" message */

static const char *const time_words[PR__TIME_COUNT] = {"hour_of_day",
                                                       "day_of_week"};

const char *pr__time_feature_name(pr__time_feature t) {
    return (unsigned)t < PR__TIME_COUNT ? time_words[t] : "?";
}

/* ---------------------------------------------------------------- names */

typedef enum {
    NAME_STORE,  /* entities, sources, aggregates */
    NAME_COLUMN, /* request columns, table attributes */
    NAME_EVENT,  /* event types */
    NAME_TEXT    /* any non-empty string without control bytes */
} name_kind;

static int store_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}
static int column_char(char c) {
    return store_char(c) || (c >= 'A' && c <= 'Z') || c == '-';
}
static int event_char(char c) { return column_char(c) || c == '.'; }

static pr_status read_name(pr__yaml_ctx *ps, const yaml_node_t *n,
                           const char *path, name_kind kind, char **out) {
    static const struct {
        size_t max;
        int (*ok)(char);
        const char *rule;
    } kinds[] = {
        {PR__FS_NAME_MAX, store_char, "names may use a-z, 0-9 and '_' only"},
        {PR__NAME_MAX, column_char,
         "column names may use letters, digits, '_' and '-' only"},
        {PR__FS_NAME_MAX, event_char,
         "event types may use letters, digits, '_', '.' and '-' only"},
        {PR__STRING_MAX, NULL, NULL}};
    pr_status rc = pr__yaml_string(ps, n, path, kinds[kind].max, 0, out);
    if (rc != PR_OK || !kinds[kind].ok) return rc;
    for (const char *c = *out; *c; c++)
        if (!kinds[kind].ok(*c))
            return pr__yaml_fail(ps, n, path, "%s, got '%s'", kinds[kind].rule,
                                 *out);
    return PR_OK;
}

static int str_is(const char *s, const char *p, size_t len) {
    return s && strlen(s) == len && memcmp(s, p, len) == 0;
}

/* Appends "a, b, c" (at most LIST_SHOWN, then ", ... (N in all)") to dst. */
typedef struct name_list {
    char buf[200];
    size_t len;
    uint32_t n;
} name_list;

static void list_add(name_list *l, const char *prefix, const char *name) {
    if (l->n++ >= LIST_SHOWN || l->len >= sizeof l->buf) return;
    int w = snprintf(l->buf + l->len, sizeof l->buf - l->len, "%s%s%s%s",
                     l->n > 1 ? ", " : "", prefix ? prefix : "",
                     prefix ? "." : "", name);
    if (w > 0) l->len += (size_t)w;
    if (l->len >= sizeof l->buf) l->len = sizeof l->buf - 1;
}

static const char *list_text(name_list *l) {
    if (l->n == 0) return "none";
    if (l->n > LIST_SHOWN && l->len < sizeof l->buf)
        snprintf(l->buf + l->len, sizeof l->buf - l->len, ", ... (%u in all)",
                 l->n);
    return l->buf;
}

/* ---------------------------------------------------------------- lookups */

static int find_entity(const pr__store_spec *st, const char *p, size_t len) {
    for (uint32_t e = 0; e < st->n_entities; e++)
        if (str_is(st->entities[e].name, p, len)) return (int)e;
    return -1;
}

/* The table source of entity e, or -1. */
static int table_of(const pr__store_spec *st, uint32_t e) {
    for (uint32_t i = 0; i < st->n_sources; i++)
        if (st->sources[i].name && st->sources[i].kind == PR__SOURCE_TABLE &&
            st->sources[i].entity == e)
            return (int)i;
    return -1;
}

static int find_request_column(const pr__store_spec *st, const char *p,
                               size_t len) {
    for (uint32_t i = 0; i < st->request.n_columns; i++)
        if (str_is(st->request.columns[i], p, len)) return (int)i;
    return -1;
}

pr__store_col pr__store_find_column(const pr__store_spec *st, const char *name,
                                    size_t len) {
    pr__store_col c = {PR__STORE_COL_NONE, 0, 0};
    int i = find_request_column(st, name, len);
    if (i >= 0) {
        c.kind = PR__STORE_COL_REQUEST;
        c.index = (uint32_t)i;
        return c;
    }
    for (uint32_t t = 0; t < st->request.n_time; t++) {
        if (str_is(pr__time_feature_name(st->request.time[t]), name, len)) {
            c.kind = PR__STORE_COL_TIME;
            c.index = (uint32_t)st->request.time[t];
            return c;
        }
    }
    const char *dot = memchr(name, '.', len);
    if (dot) {
        int e = find_entity(st, name, (size_t)(dot - name));
        int src = e >= 0 ? table_of(st, (uint32_t)e) : -1;
        if (src >= 0) {
            const pr__source_spec *t = &st->sources[src];
            size_t alen = len - (size_t)(dot - name) - 1;
            for (uint32_t a = 0; a < t->n_attributes; a++) {
                if (str_is(t->attributes[a], dot + 1, alen)) {
                    c.kind = PR__STORE_COL_ATTRIBUTE;
                    c.index = (uint32_t)src;
                    c.attr = a;
                    return c;
                }
            }
        }
    }
    for (uint32_t a = 0; a < st->n_aggregates; a++) {
        if (str_is(st->aggregates[a].name, name, len)) {
            c.kind = PR__STORE_COL_AGGREGATE;
            c.index = a;
            return c;
        }
    }
    return c;
}

/* The assembled column names, in order, for messages. */
static void list_columns(const pr__store_spec *st, int with_aggregates,
                         name_list *l) {
    for (uint32_t i = 0; i < st->request.n_columns; i++)
        list_add(l, NULL, st->request.columns[i]);
    for (uint32_t i = 0; i < st->request.n_time; i++)
        list_add(l, NULL, pr__time_feature_name(st->request.time[i]));
    for (uint32_t e = 0; e < st->n_entities; e++) {
        int src = table_of(st, e);
        if (src < 0) continue;
        for (uint32_t a = 0; a < st->sources[src].n_attributes; a++)
            list_add(l, st->entities[e].name, st->sources[src].attributes[a]);
    }
    for (uint32_t a = 0; with_aggregates && a < st->n_aggregates; a++)
        if (st->aggregates[a].name) list_add(l, NULL, st->aggregates[a].name);
}

/* ---------------------------------------------------------------- lists */

/* A list value: a sequence, or one scalar standing for a list of one. */
static size_t list_len(const yaml_node_t *n) {
    if (n->type == YAML_SCALAR_NODE) return 1;
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *list_item(pr__yaml_ctx *ps, yaml_node_t *n, size_t i) {
    if (n->type == YAML_SCALAR_NODE) return n;
    return pr__yaml_node(ps, n->data.sequence.items.start[i]);
}

/* The path of item i: "path[i]" for a sequence, "path" for a scalar. */
static void list_item_path(char *dst, const yaml_node_t *n, const char *path,
                           size_t i) {
    if (n->type == YAML_SCALAR_NODE)
        pr__yaml_child_path(dst, "", path);
    else
        pr__yaml_item_path(dst, path, i);
}

/* Checks a list's shape and length (min..max items). */
static pr_status check_list(pr__yaml_ctx *ps, const yaml_node_t *n,
                            const char *path, size_t min, size_t max,
                            const char *what) {
    if (n->type != YAML_SEQUENCE_NODE && n->type != YAML_SCALAR_NODE)
        return pr__yaml_fail(ps, n, path, "expected a list of %s, got %s",
                             what, pr__yaml_node_kind(n));
    size_t len = list_len(n);
    if (len < min)
        return pr__yaml_fail(ps, n, path, "expected at least %zu %s", min,
                             what);
    if (len > max)
        return pr__yaml_fail(ps, n, path, "%zu %s is too many (max %zu)", len,
                             what, max);
    return PR_OK;
}

/* Reads the list's names into dst[0..list_len) (zeroed by the caller, who
 * owns them even on error); a name may not appear twice. */
static pr_status read_names(pr__yaml_ctx *ps, yaml_node_t *n, const char *path,
                            name_kind kind, char **dst) {
    size_t len = list_len(n);
    for (size_t i = 0; i < len; i++) {
        char sub[PR__YAML_PATH_MAX];
        list_item_path(sub, n, path, i);
        yaml_node_t *item = list_item(ps, n, i);
        if (!item) return pr__yaml_fail(ps, n, sub, "malformed sequence");
        pr_status rc = read_name(ps, item, sub, kind, &dst[i]);
        if (rc != PR_OK) return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(dst[j], dst[i]) == 0)
                return pr__yaml_fail(ps, item, sub, "'%s' appears twice",
                                     dst[i]);
    }
    return PR_OK;
}

/* check_list + read_names into a new array. out, n: OUT (set at once). */
static pr_status read_name_array(pr__yaml_ctx *ps, yaml_node_t *node,
                                 const char *path, name_kind kind, size_t min,
                                 size_t max, const char *what, char ***out,
                                 uint32_t *n) {
    pr_status rc = check_list(ps, node, path, min, max, what);
    if (rc != PR_OK) return rc;
    size_t len = list_len(node);
    if (len == 0) return PR_OK;
    if (!(*out = calloc(len, sizeof **out))) return OOM(ps);
    *n = (uint32_t)len;
    return read_names(ps, node, path, kind, *out);
}

/* A sequence of mappings (entities, sources, aggregates): its length. */
static pr_status check_section(pr__yaml_ctx *ps, const yaml_node_t *n,
                               const char *path, size_t max, const char *what,
                               size_t *len) {
    if (n->type != YAML_SEQUENCE_NODE)
        return pr__yaml_fail(ps, n, path, "expected a sequence of %s, got %s",
                             what, pr__yaml_node_kind(n));
    *len = list_len(n);
    if (*len > max)
        return pr__yaml_fail(ps, n, path, "%zu %s is too many (max %zu)", *len,
                             what, max);
    return PR_OK;
}

static pr_status required(pr__yaml_ctx *ps, yaml_node_t *map,
                          const char *path, const char *key,
                          const char *hint) {
    char sub[PR__YAML_PATH_MAX];
    pr__yaml_child_path(sub, path, key);
    return pr__yaml_fail(ps, map, sub, "required%s", hint);
}

static pr_status copy_default(pr__yaml_ctx *ps, const char *value,
                              char **out) {
    if (!(*out = strdup(value))) return OOM(ps);
    return PR_OK;
}

/* ---------------------------------------------------------------- request */

enum { RK_TIMESTAMP, RK_COLUMNS, RK_TIME, RK_COUNT };
static const char *const request_keys[RK_COUNT] = {"timestamp", "columns",
                                                   "time"};

static pr_status read_time(pr__yaml_ctx *ps, yaml_node_t *node,
                           pr__request_spec *r) {
    const char *path = "request.time";
    pr_status rc = check_list(ps, node, path, 0, PR__TIME_COUNT,
                              "time features");
    if (rc != PR_OK) return rc;
    size_t len = list_len(node);
    if (len == 0) return PR_OK;
    if (!(r->time = calloc(len, sizeof *r->time))) return OOM(ps);
    for (size_t i = 0; i < len; i++) {
        char sub[PR__YAML_PATH_MAX];
        list_item_path(sub, node, path, i);
        yaml_node_t *item = list_item(ps, node, i);
        if (!item) return pr__yaml_fail(ps, node, sub, "malformed sequence");
        rc = pr__yaml_expect_scalar(ps, item, sub);
        if (rc != PR_OK) return rc;
        int t = 0;
        while (t < (int)PR__TIME_COUNT &&
               !pr__yaml_scalar_is(item, time_words[t]))
            t++;
        char shown[64];
        pr__render_bytes(shown, sizeof shown,
                         (const char *)item->data.scalar.value,
                         item->data.scalar.length);
        if (t == (int)PR__TIME_COUNT)
            return pr__yaml_fail(ps, item, sub,
                                 "unknown time feature '%s' (expected "
                                 "hour_of_day or day_of_week)",
                                 shown);
        for (size_t j = 0; j < i; j++)
            if (r->time[j] == (pr__time_feature)t)
                return pr__yaml_fail(ps, item, sub, "'%s' appears twice",
                                     shown);
        r->time[i] = (pr__time_feature)t;
        r->n_time = (uint32_t)(i + 1);
    }
    return PR_OK;
}

static pr_status read_request(pr__yaml_ctx *ps, yaml_node_t *map,
                              pr__store_spec *st) {
    yaml_node_t *v[RK_COUNT];
    pr__request_spec *r = &st->request;
    pr_status rc =
        pr__yaml_read_map(ps, map, "request", request_keys, RK_COUNT, v);
    if (rc != PR_OK) return rc;
    st->has_request = 1;
    if (v[RK_TIMESTAMP])
        rc = pr__yaml_string(ps, v[RK_TIMESTAMP], "request.timestamp",
                             PR__STRING_MAX, 0, &r->timestamp);
    else
        rc = copy_default(ps, "ts", &r->timestamp);
    if (rc != PR_OK) return rc;

    if (!v[RK_COLUMNS])
        return required(ps, map, "request", "columns",
                        " (the keys a request carries, e.g. [user_id, "
                        "ad_id])");
    rc = read_name_array(ps, v[RK_COLUMNS], "request.columns", NAME_COLUMN, 1,
                         PR__FS_MAX_REQUEST_COLUMNS, "columns", &r->columns,
                         &r->n_columns);
    if (rc != PR_OK) return rc;
    if (v[RK_TIME]) {
        rc = read_time(ps, v[RK_TIME], r);
        if (rc != PR_OK) return rc;
    }
    /* a time column is named like its word: a request column may not be */
    for (uint32_t i = 0; i < r->n_columns; i++) {
        for (uint32_t t = 0; t < r->n_time; t++) {
            if (strcmp(r->columns[i], time_words[r->time[t]]) != 0) continue;
            char sub[PR__YAML_PATH_MAX];
            list_item_path(sub, v[RK_COLUMNS], "request.columns", i);
            return pr__yaml_fail(ps, list_item(ps, v[RK_COLUMNS], i), sub,
                                 "'%s' is also a time column (request.time); "
                                 "column names must be unique",
                                 r->columns[i]);
        }
    }
    return PR_OK;
}

/* ---------------------------------------------------------------- entities */

enum { EK_NAME, EK_KEY, EK_TTL, EK_COUNT };
static const char *const entity_keys[EK_COUNT] = {"name", "key", "ttl"};

static pr_status read_entity(pr__yaml_ctx *ps, yaml_node_t *map,
                             const char *path, pr__store_spec *st,
                             uint32_t i) {
    yaml_node_t *v[EK_COUNT];
    char sub[PR__YAML_PATH_MAX];
    pr__entity_spec *e = &st->entities[i];
    pr_status rc = pr__yaml_read_map(ps, map, path, entity_keys, EK_COUNT, v);
    if (rc != PR_OK) return rc;
    e->line = (uint32_t)map->start_mark.line + 1;

    pr__yaml_child_path(sub, path, "name");
    if (!v[EK_NAME]) return required(ps, map, path, "name", "");
    rc = read_name(ps, v[EK_NAME], sub, NAME_STORE, &e->name);
    if (rc != PR_OK) return rc;
    for (uint32_t j = 0; j < i; j++)
        if (strcmp(st->entities[j].name, e->name) == 0)
            return pr__yaml_fail(ps, v[EK_NAME], sub,
                                 "duplicate entity name '%s' (also "
                                 "entities[%u])",
                                 e->name, j);

    pr__yaml_child_path(sub, path, "key");
    if (!v[EK_KEY])
        return required(ps, map, path, "key",
                        " (a request column like user_id, a list of up to 3, "
                        "or E.attr of an earlier entity)");
    rc = check_list(ps, v[EK_KEY], sub, 1, PR__FS_MAX_KEYS, "key columns");
    if (rc != PR_OK) return rc;
    e->n_keys = (uint32_t)list_len(v[EK_KEY]);
    rc = read_names(ps, v[EK_KEY], sub, NAME_TEXT, e->keys);
    if (rc != PR_OK) return rc;

    if (v[EK_TTL]) {
        pr__yaml_child_path(sub, path, "ttl");
        rc = pr__yaml_duration(ps, v[EK_TTL], sub, 0, &e->ttl_ms);
        if (rc != PR_OK) return rc;
    }
    return PR_OK;
}

static pr_status read_entities(pr__yaml_ctx *ps, yaml_node_t *seq,
                               pr__store_spec *st) {
    size_t n = 0;
    pr_status rc = check_section(ps, seq, "entities", PR__FS_MAX_ENTITIES,
                                 "entities", &n);
    if (rc != PR_OK || n == 0) return rc;
    if (!(st->entities = calloc(n, sizeof *st->entities))) return OOM(ps);
    st->n_entities = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        char path[PR__YAML_PATH_MAX];
        pr__yaml_item_path(path, "entities", i);
        yaml_node_t *item = list_item(ps, seq, i);
        if (!item) return pr__yaml_fail(ps, seq, path, "malformed sequence");
        rc = read_entity(ps, item, path, st, (uint32_t)i);
        if (rc != PR_OK) return rc;
    }
    return PR_OK;
}

/* Entity e's key k names a request column, or "E.attr" of an entity E
 * declared before e whose table has attribute attr. */
static pr_status check_entity_key(pr__yaml_ctx *ps, yaml_node_t *node,
                                  const char *path, const pr__store_spec *st,
                                  uint32_t e, const char *key) {
    const char *dot = strchr(key, '.');
    if (!dot) {
        if (find_request_column(st, key, strlen(key)) >= 0) return PR_OK;
        name_list l = {0};
        for (uint32_t i = 0; i < st->request.n_columns; i++)
            list_add(&l, NULL, st->request.columns[i]);
        return pr__yaml_fail(ps, node, path,
                             "unknown request column '%s' (an entity key is "
                             "a request column or E.attr of an earlier "
                             "entity; request columns: %s)",
                             key, list_text(&l));
    }
    int owner = find_entity(st, key, (size_t)(dot - key));
    if (owner < 0 || (uint32_t)owner >= e) {
        name_list l = {0};
        for (uint32_t i = 0; i < e; i++)
            list_add(&l, NULL, st->entities[i].name);
        return pr__yaml_fail(ps, node, path,
                             "'%.*s' is not an entity declared above this one "
                             "(E.attr keys use an earlier entity; earlier "
                             "entities: %s)",
                             (int)(dot - key), key, list_text(&l));
    }
    int src = table_of(st, (uint32_t)owner);
    if (src < 0)
        return pr__yaml_fail(ps, node, path,
                             "entity '%s' has no table source, so it has no "
                             "attribute '%s'",
                             st->entities[owner].name, dot + 1);
    const pr__source_spec *t = &st->sources[src];
    for (uint32_t a = 0; a < t->n_attributes; a++)
        if (strcmp(t->attributes[a], dot + 1) == 0) return PR_OK;
    name_list l = {0};
    for (uint32_t a = 0; a < t->n_attributes; a++)
        list_add(&l, NULL, t->attributes[a]);
    return pr__yaml_fail(ps, node, path,
                         "table '%s' of entity '%s' has no attribute '%s' "
                         "(attributes: %s)",
                         t->name, st->entities[owner].name, dot + 1,
                         list_text(&l));
}

static pr_status check_entity_keys(pr__yaml_ctx *ps, yaml_node_t *seq,
                                   const pr__store_spec *st) {
    for (uint32_t e = 0; e < st->n_entities; e++) {
        char path[PR__YAML_PATH_MAX], sub[PR__YAML_PATH_MAX],
            item_path[PR__YAML_PATH_MAX];
        pr__yaml_item_path(path, "entities", e);
        pr__yaml_child_path(sub, path, "key");
        yaml_node_t *keys =
            pr__yaml_map_value(ps, list_item(ps, seq, e), "key");
        for (uint32_t k = 0; k < st->entities[e].n_keys; k++) {
            list_item_path(item_path, keys, sub, k);
            pr_status rc =
                check_entity_key(ps, list_item(ps, keys, k), item_path, st, e,
                                 st->entities[e].keys[k]);
            if (rc != PR_OK) return rc;
        }
    }
    return PR_OK;
}

/* ---------------------------------------------------------------- sources */

enum {
    SK_NAME,
    SK_KIND,
    SK_FORMAT,
    SK_PATH,
    SK_ENTITY,
    SK_KEY,
    SK_TIME,
    SK_ATTRIBUTES,
    SK_TYPE,
    SK_ID,
    SK_IMPRESSION,
    SK_COUNT
};
static const char *const source_keys[SK_COUNT] = {
    "name", "kind", "format", "path", "entity", "key",
    "time", "attributes", "type", "id", "impression"};

static pr_status read_entity_ref(pr__yaml_ctx *ps, yaml_node_t *n,
                                 const char *path, const pr__store_spec *st,
                                 uint32_t *out) {
    pr_status rc = pr__yaml_expect_scalar(ps, n, path);
    if (rc != PR_OK) return rc;
    const char *v = (const char *)n->data.scalar.value;
    int e = find_entity(st, v, n->data.scalar.length);
    if (e >= 0) {
        *out = (uint32_t)e;
        return PR_OK;
    }
    char shown[64];
    pr__render_bytes(shown, sizeof shown, v, n->data.scalar.length);
    name_list l = {0};
    for (uint32_t i = 0; i < st->n_entities; i++)
        list_add(&l, NULL, st->entities[i].name);
    return pr__yaml_fail(ps, n, path, "unknown entity '%s' (entities: %s)",
                         shown, list_text(&l));
}

/* A table's key columns: one per entity key, by default the entity's key
 * names without their "E." part. */
static pr_status read_table_key(pr__yaml_ctx *ps, yaml_node_t *node,
                                const char *path, pr__store_spec *st,
                                pr__source_spec *src) {
    const pr__entity_spec *e = &st->entities[src->entity];
    if (!node) {
        for (uint32_t k = 0; k < e->n_keys; k++) {
            const char *dot = strrchr(e->keys[k], '.');
            pr_status rc =
                copy_default(ps, dot ? dot + 1 : e->keys[k], &src->keys[k]);
            if (rc != PR_OK) return rc;
        }
        return PR_OK;
    }
    pr_status rc = check_list(ps, node, path, 1, PR__FS_MAX_KEYS,
                              "key columns");
    if (rc != PR_OK) return rc;
    if (list_len(node) != e->n_keys)
        return pr__yaml_fail(ps, node, path,
                             "%zu key columns, but entity '%s' has %u key%s",
                             list_len(node), e->name, e->n_keys,
                             e->n_keys == 1 ? "" : "s");
    return read_names(ps, node, path, NAME_TEXT, src->keys);
}

/* Keys of the other kind are refused, naming the kind they belong to. */
static pr_status check_source_keys(pr__yaml_ctx *ps, const char *path,
                                   yaml_node_t **v, pr__source_kind kind) {
    static const int table_only[] = {SK_ENTITY, SK_KEY, SK_ATTRIBUTES};
    static const int events_only[] = {SK_TYPE, SK_ID, SK_IMPRESSION};
    const int *bad = kind == PR__SOURCE_TABLE ? events_only : table_only;
    for (int i = 0; i < 3; i++) {
        if (!v[bad[i]]) continue;
        char sub[PR__YAML_PATH_MAX];
        pr__yaml_child_path(sub, path, source_keys[bad[i]]);
        return pr__yaml_fail(ps, v[bad[i]], sub,
                             "applies to %s sources only (this one is kind: "
                             "%s)",
                             kind == PR__SOURCE_TABLE ? "events" : "table",
                             kind == PR__SOURCE_TABLE ? "table" : "events");
    }
    return PR_OK;
}

static pr_status read_table(pr__yaml_ctx *ps, yaml_node_t *map,
                            const char *path, yaml_node_t **v,
                            pr__store_spec *st, uint32_t i) {
    char sub[PR__YAML_PATH_MAX];
    pr__source_spec *src = &st->sources[i];
    if (!v[SK_ENTITY])
        return required(ps, map, path, "entity",
                        " for a table (the entity whose rows it holds)");
    pr__yaml_child_path(sub, path, "entity");
    pr_status rc = read_entity_ref(ps, v[SK_ENTITY], sub, st, &src->entity);
    if (rc != PR_OK) return rc;
    for (uint32_t j = 0; j < i; j++) {
        const pr__source_spec *o = &st->sources[j];
        if (o->kind == PR__SOURCE_TABLE && o->entity == src->entity)
            return pr__yaml_fail(ps, v[SK_ENTITY], sub,
                                 "entity '%s' already has a table "
                                 "(sources[%u] '%s'); one table per entity",
                                 st->entities[src->entity].name, j, o->name);
    }
    pr__yaml_child_path(sub, path, "key");
    rc = read_table_key(ps, v[SK_KEY], sub, st, src);
    if (rc != PR_OK) return rc;
    if (!v[SK_TIME])
        return required(ps, map, path, "time",
                        " for a table (its effective-time column, e.g. "
                        "effective_ts)");
    pr__yaml_child_path(sub, path, "time");
    rc = pr__yaml_string(ps, v[SK_TIME], sub, PR__STRING_MAX, 0, &src->time);
    if (rc != PR_OK) return rc;
    if (!v[SK_ATTRIBUTES])
        return required(ps, map, path, "attributes",
                        " for a table (the columns kept, e.g. [country])");
    pr__yaml_child_path(sub, path, "attributes");
    return read_name_array(ps, v[SK_ATTRIBUTES], sub, NAME_COLUMN, 1,
                           PR__FS_MAX_ATTRIBUTES, "attributes",
                           &src->attributes, &src->n_attributes);
}

static pr_status read_events_source(pr__yaml_ctx *ps, yaml_node_t **v,
                                    const char *path, pr__store_spec *st,
                                    uint32_t i) {
    static const struct {
        int key;
        const char *fallback;
    } texts[] = {{SK_TYPE, "type"},
                 {SK_ID, "event_id"},
                 {SK_IMPRESSION, "impression_id"},
                 {SK_TIME, NULL}};
    pr__source_spec *src = &st->sources[i];
    char **dst[] = {&src->type, &src->id, &src->impression, &src->time};
    char sub[PR__YAML_PATH_MAX];
    pr__yaml_child_path(sub, path, "kind");
    for (uint32_t j = 0; j < i; j++)
        if (st->sources[j].kind == PR__SOURCE_EVENTS)
            return pr__yaml_fail(ps, v[SK_KIND], sub,
                                 "a second events source (sources[%u] '%s' is "
                                 "one); one events source per spec",
                                 j, st->sources[j].name);
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        pr_status rc;
        if (v[texts[k].key]) {
            pr__yaml_child_path(sub, path, source_keys[texts[k].key]);
            rc = pr__yaml_string(ps, v[texts[k].key], sub, PR__STRING_MAX, 0,
                                 dst[k]);
        } else {
            rc = copy_default(ps,
                              texts[k].fallback ? texts[k].fallback
                                                : st->request.timestamp,
                              dst[k]);
        }
        if (rc != PR_OK) return rc;
    }
    return PR_OK;
}

static pr_status read_source(pr__yaml_ctx *ps, yaml_node_t *map,
                             const char *path, pr__store_spec *st,
                             uint32_t i) {
    yaml_node_t *v[SK_COUNT];
    char sub[PR__YAML_PATH_MAX];
    pr__source_spec *src = &st->sources[i];
    pr_status rc = pr__yaml_read_map(ps, map, path, source_keys, SK_COUNT, v);
    if (rc != PR_OK) return rc;
    src->line = (uint32_t)map->start_mark.line + 1;

    pr__yaml_child_path(sub, path, "name");
    if (!v[SK_NAME]) return required(ps, map, path, "name", "");
    rc = read_name(ps, v[SK_NAME], sub, NAME_STORE, &src->name);
    if (rc != PR_OK) return rc;
    for (uint32_t j = 0; j < i; j++)
        if (strcmp(st->sources[j].name, src->name) == 0)
            return pr__yaml_fail(ps, v[SK_NAME], sub,
                                 "duplicate source name '%s' (also "
                                 "sources[%u])",
                                 src->name, j);

    pr__yaml_child_path(sub, path, "kind");
    if (!v[SK_KIND])
        return required(ps, map, path, "kind", " (table or events)");
    if (pr__yaml_scalar_is(v[SK_KIND], "table")) {
        src->kind = PR__SOURCE_TABLE;
    } else if (pr__yaml_scalar_is(v[SK_KIND], "events")) {
        src->kind = PR__SOURCE_EVENTS;
    } else {
        rc = pr__yaml_expect_scalar(ps, v[SK_KIND], sub);
        if (rc != PR_OK) return rc;
        char shown[64];
        pr__render_bytes(shown, sizeof shown,
                         (const char *)v[SK_KIND]->data.scalar.value,
                         v[SK_KIND]->data.scalar.length);
        return pr__yaml_fail(ps, v[SK_KIND], sub,
                             "unknown kind '%s' (expected table or events)",
                             shown);
    }
    rc = check_source_keys(ps, path, v, src->kind);
    if (rc != PR_OK) return rc;

    pr__yaml_child_path(sub, path, "format");
    if (!v[SK_FORMAT])
        return required(ps, map, path, "format", " (csv or jsonl)");
    if (!pr__yaml_scalar_is(v[SK_FORMAT], "csv") &&
        !pr__yaml_scalar_is(v[SK_FORMAT], "jsonl")) {
        rc = pr__yaml_expect_scalar(ps, v[SK_FORMAT], sub);
        if (rc != PR_OK) return rc;
        char shown[64];
        pr__render_bytes(shown, sizeof shown,
                         (const char *)v[SK_FORMAT]->data.scalar.value,
                         v[SK_FORMAT]->data.scalar.length);
        return pr__yaml_fail(ps, v[SK_FORMAT], sub,
                             "unknown format '%s' (expected csv or jsonl)",
                             shown);
    }
    rc = pr__yaml_string(ps, v[SK_FORMAT], sub, 8, 0, &src->format);
    if (rc != PR_OK) return rc;

    pr__yaml_child_path(sub, path, "path");
    if (!v[SK_PATH])
        return required(ps, map, path, "path",
                        " (the file, relative to the data directory)");
    rc = pr__yaml_string(ps, v[SK_PATH], sub, PR__STRING_MAX, 0, &src->path);
    if (rc != PR_OK) return rc;

    if (src->kind == PR__SOURCE_TABLE)
        return read_table(ps, map, path, v, st, i);
    return read_events_source(ps, v, path, st, i);
}

static pr_status read_sources(pr__yaml_ctx *ps, yaml_node_t *seq,
                              pr__store_spec *st) {
    size_t n = 0;
    pr_status rc =
        check_section(ps, seq, "sources", PR__FS_MAX_SOURCES, "sources", &n);
    if (rc != PR_OK || n == 0) return rc;
    if (!(st->sources = calloc(n, sizeof *st->sources))) return OOM(ps);
    st->n_sources = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        char path[PR__YAML_PATH_MAX];
        pr__yaml_item_path(path, "sources", i);
        yaml_node_t *item = list_item(ps, seq, i);
        if (!item) return pr__yaml_fail(ps, seq, path, "malformed sequence");
        rc = read_source(ps, item, path, st, (uint32_t)i);
        if (rc != PR_OK) return rc;
    }
    return PR_OK;
}

/* ------------------------------------------------------------- aggregates */

enum {
    AK_NAME,
    AK_ENTITY,
    AK_FUNCTION,
    AK_EVENTS,
    AK_PER,
    AK_VALUE,
    AK_WINDOW,
    AK_BUCKETS,
    AK_HALF_LIFE,
    AK_N,
    AK_MAX_LEN,
    AK_PRIOR,
    AK_PRIOR_WEIGHT,
    AK_DEFAULT,
    AK_COUNT
};
static const char *const agg_keys[AK_COUNT] = {
    "name", "entity", "function", "events", "per", "value",
    "window", "buckets", "half_life", "n", "max_len", "prior",
    "prior_weight", "default"};

#define B(k) (1u << (k))
#define WINDOWED (B(AK_WINDOW) | B(AK_BUCKETS))
/* Which function-specific keys each function takes and needs (name,
 * entity, function, events and default are common to all). */
static const struct {
    const char *word;
    uint32_t allowed, needed;
} functions[] = {
    [PR__AGG_COUNT] = {"count", WINDOWED, B(AK_WINDOW)},
    [PR__AGG_SUM] = {"sum", WINDOWED | B(AK_VALUE),
                     B(AK_WINDOW) | B(AK_VALUE)},
    [PR__AGG_MEAN] = {"mean", WINDOWED | B(AK_VALUE),
                      B(AK_WINDOW) | B(AK_VALUE)},
    [PR__AGG_RATE] = {"rate",
                      WINDOWED | B(AK_PER) | B(AK_PRIOR) | B(AK_PRIOR_WEIGHT),
                      B(AK_WINDOW) | B(AK_PER)},
    [PR__AGG_DECAYED_COUNT] = {"decayed_count", B(AK_HALF_LIFE),
                               B(AK_HALF_LIFE)},
    [PR__AGG_DECAYED_SUM] = {"decayed_sum", B(AK_HALF_LIFE) | B(AK_VALUE),
                             B(AK_HALF_LIFE) | B(AK_VALUE)},
    [PR__AGG_LAST_N] = {"last_n", B(AK_VALUE) | B(AK_N) | B(AK_MAX_LEN),
                        B(AK_VALUE) | B(AK_N)},
};
#define N_FUNCTIONS (sizeof functions / sizeof functions[0])
#define COMMON_KEYS                                                            \
    (B(AK_NAME) | B(AK_ENTITY) | B(AK_FUNCTION) | B(AK_EVENTS) | B(AK_DEFAULT))

static const char *agg_hint(int key) {
    switch (key) {
    case AK_WINDOW: return " (a duration like 1h or 7d)";
    case AK_HALF_LIFE: return " (a duration like 30m or 6h)";
    case AK_PER: return " (the denominator's event types, e.g. [impression])";
    case AK_VALUE: return " (the column aggregated, e.g. ad.category)";
    case AK_N: return " (the list length, 1..64)";
    default: return "";
    }
}

/* Refuses keys the function does not take and asks for those it needs. */
static pr_status check_agg_keys(pr__yaml_ctx *ps, yaml_node_t *map,
                                const char *path, yaml_node_t **v,
                                pr__agg_function f) {
    for (int k = 0; k < AK_COUNT; k++) {
        if (COMMON_KEYS & B(k)) continue;
        char sub[PR__YAML_PATH_MAX];
        pr__yaml_child_path(sub, path, agg_keys[k]);
        if (v[k] && !(functions[f].allowed & B(k))) {
            name_list l = {0};
            for (size_t g = 0; g < N_FUNCTIONS; g++)
                if (functions[g].allowed & B(k))
                    list_add(&l, NULL, functions[g].word);
            return pr__yaml_fail(ps, v[k], sub,
                                 "applies to function %s only (this "
                                 "aggregate's function is %s)",
                                 list_text(&l), functions[f].word);
        }
        if (!v[k] && (functions[f].needed & B(k)))
            return pr__yaml_fail(ps, map, sub, "required for function %s%s",
                                 functions[f].word, agg_hint(k));
    }
    return PR_OK;
}

/* An aggregate's name is a column: unique among request, time and
 * aggregate names ("E.attr" names hold a '.', aggregate names cannot). */
static pr_status check_agg_name(pr__yaml_ctx *ps, yaml_node_t *n,
                                const char *path, const pr__store_spec *st,
                                uint32_t i) {
    const char *name = st->aggregates[i].name;
    if (find_request_column(st, name, strlen(name)) >= 0)
        return pr__yaml_fail(ps, n, path,
                             "duplicate column name '%s' (already a request "
                             "column)",
                             name);
    for (uint32_t t = 0; t < st->request.n_time; t++)
        if (strcmp(name, time_words[st->request.time[t]]) == 0)
            return pr__yaml_fail(ps, n, path,
                                 "duplicate column name '%s' (already a time "
                                 "column)",
                                 name);
    for (uint32_t j = 0; j < i; j++)
        if (strcmp(st->aggregates[j].name, name) == 0)
            return pr__yaml_fail(ps, n, path,
                                 "duplicate column name '%s' (also "
                                 "aggregates[%u])",
                                 name, j);
    return PR_OK;
}

static pr_status read_function(pr__yaml_ctx *ps, yaml_node_t *n,
                               const char *path, pr__agg_function *out) {
    pr_status rc = pr__yaml_expect_scalar(ps, n, path);
    if (rc != PR_OK) return rc;
    for (size_t f = 0; f < N_FUNCTIONS; f++) {
        if (pr__yaml_scalar_is(n, functions[f].word)) {
            *out = (pr__agg_function)f;
            return PR_OK;
        }
    }
    char shown[64];
    pr__render_bytes(shown, sizeof shown, (const char *)n->data.scalar.value,
                     n->data.scalar.length);
    return pr__yaml_fail(ps, n, path,
                         "unknown function '%s' (expected count, sum, mean, "
                         "rate, decayed_count, decayed_sum or last_n)",
                         shown);
}

/* window, buckets and their fit: window_ms / buckets whole and >= 1 ms. */
static pr_status read_window(pr__yaml_ctx *ps, const char *path,
                             yaml_node_t **v, pr__agg_spec *a) {
    char sub[PR__YAML_PATH_MAX];
    pr__yaml_child_path(sub, path, "window");
    pr_status rc = pr__yaml_duration(ps, v[AK_WINDOW], sub, 1, &a->window_ms);
    if (rc != PR_OK) return rc;
    a->buckets = 12;
    if (v[AK_BUCKETS]) {
        uint64_t x = 0;
        pr__yaml_child_path(sub, path, "buckets");
        rc = pr__yaml_uint(ps, v[AK_BUCKETS], sub, 1, PR__FS_MAX_BUCKETS, &x);
        if (rc != PR_OK) return rc;
        a->buckets = (uint32_t)x;
    }
    if (a->window_ms % a->buckets == 0) return PR_OK;
    yaml_node_t *at = v[AK_BUCKETS] ? v[AK_BUCKETS] : v[AK_WINDOW];
    pr__yaml_child_path(sub, path, v[AK_BUCKETS] ? "buckets" : "window");
    return pr__yaml_fail(ps, at, sub,
                         "a window of %lldms does not split into %u buckets "
                         "of whole milliseconds (choose buckets dividing "
                         "the window)",
                         (long long)a->window_ms, a->buckets);
}

static pr_status read_rate_prior(pr__yaml_ctx *ps, const char *path,
                                 yaml_node_t **v, pr__agg_spec *a) {
    char sub[PR__YAML_PATH_MAX];
    pr_status rc;
    if (v[AK_PRIOR]) {
        pr__yaml_child_path(sub, path, "prior");
        rc = pr__yaml_double(ps, v[AK_PRIOR], sub, &a->prior);
        if (rc != PR_OK) return rc;
        if (a->prior < 0 || a->prior > 1)
            return pr__yaml_fail(ps, v[AK_PRIOR], sub,
                                 "a prior rate is in [0, 1], got %.17g",
                                 a->prior);
    }
    if (v[AK_PRIOR_WEIGHT]) {
        pr__yaml_child_path(sub, path, "prior_weight");
        rc = pr__yaml_double(ps, v[AK_PRIOR_WEIGHT], sub, &a->prior_weight);
        if (rc != PR_OK) return rc;
        if (a->prior_weight < 0)
            return pr__yaml_fail(ps, v[AK_PRIOR_WEIGHT], sub,
                                 "a prior weight is >= 0, got %.17g",
                                 a->prior_weight);
    }
    return PR_OK;
}

static pr_status read_agg(pr__yaml_ctx *ps, yaml_node_t *map, const char *path,
                          pr__store_spec *st, uint32_t i) {
    yaml_node_t *v[AK_COUNT];
    char sub[PR__YAML_PATH_MAX];
    pr__agg_spec *a = &st->aggregates[i];
    pr_status rc = pr__yaml_read_map(ps, map, path, agg_keys, AK_COUNT, v);
    if (rc != PR_OK) return rc;
    a->line = (uint32_t)map->start_mark.line + 1;

    pr__yaml_child_path(sub, path, "name");
    if (!v[AK_NAME]) return required(ps, map, path, "name", "");
    rc = read_name(ps, v[AK_NAME], sub, NAME_STORE, &a->name);
    if (rc != PR_OK) return rc;
    rc = check_agg_name(ps, v[AK_NAME], sub, st, i);
    if (rc != PR_OK) return rc;

    pr__yaml_child_path(sub, path, "entity");
    if (!v[AK_ENTITY])
        return required(ps, map, path, "entity", " (whose aggregate it is)");
    rc = read_entity_ref(ps, v[AK_ENTITY], sub, st, &a->entity);
    if (rc != PR_OK) return rc;

    pr__yaml_child_path(sub, path, "function");
    if (!v[AK_FUNCTION])
        return required(ps, map, path, "function",
                        " (count, sum, mean, rate, decayed_count, "
                        "decayed_sum or last_n)");
    rc = read_function(ps, v[AK_FUNCTION], sub, &a->function);
    if (rc != PR_OK) return rc;
    rc = check_agg_keys(ps, map, path, v, a->function);
    if (rc != PR_OK) return rc;

    pr__yaml_child_path(sub, path, "events");
    if (!v[AK_EVENTS])
        return required(ps, map, path, "events",
                        " (the event types that feed it, e.g. [click])");
    rc = read_name_array(ps, v[AK_EVENTS], sub, NAME_EVENT, 1,
                         PR__FS_MAX_EVENT_TYPES, "event types", &a->events,
                         &a->n_events);
    if (rc != PR_OK) return rc;
    if (v[AK_PER]) {
        pr__yaml_child_path(sub, path, "per");
        rc = read_name_array(ps, v[AK_PER], sub, NAME_EVENT, 1,
                             PR__FS_MAX_EVENT_TYPES, "event types", &a->per,
                             &a->n_per);
        if (rc != PR_OK) return rc;
    }
    if (v[AK_VALUE]) { /* resolved in check_agg_values, once all are named */
        pr__yaml_child_path(sub, path, "value");
        rc = pr__yaml_string(ps, v[AK_VALUE], sub, PR__STRING_MAX, 0,
                             &a->value);
        if (rc != PR_OK) return rc;
    }
    if (v[AK_WINDOW]) {
        rc = read_window(ps, path, v, a);
        if (rc != PR_OK) return rc;
    }
    if (v[AK_HALF_LIFE]) {
        pr__yaml_child_path(sub, path, "half_life");
        rc = pr__yaml_duration(ps, v[AK_HALF_LIFE], sub, 1, &a->half_life_ms);
        if (rc != PR_OK) return rc;
    }
    if (a->function == PR__AGG_LAST_N) {
        uint64_t x = 0;
        pr__yaml_child_path(sub, path, "n");
        rc = pr__yaml_uint(ps, v[AK_N], sub, 1, PR__FS_MAX_LAST_N, &x);
        if (rc != PR_OK) return rc;
        a->n = (uint32_t)x;
        a->max_len = 32;
        if (v[AK_MAX_LEN]) {
            pr__yaml_child_path(sub, path, "max_len");
            rc = pr__yaml_uint(ps, v[AK_MAX_LEN], sub, 1, 255, &x);
            if (rc != PR_OK) return rc;
            a->max_len = (uint32_t)x;
        }
    }
    rc = read_rate_prior(ps, path, v, a);
    if (rc != PR_OK) return rc;
    if (v[AK_DEFAULT]) {
        pr__yaml_child_path(sub, path, "default");
        rc = pr__yaml_string(ps, v[AK_DEFAULT], sub, PR__STRING_MAX, 0,
                             &a->default_text);
        if (rc != PR_OK) return rc;
    }
    return PR_OK;
}

/* Each value names a request, time or entity-attribute column: not an
 * aggregate, whose value at event time is not defined. */
static pr_status check_agg_values(pr__yaml_ctx *ps, yaml_node_t *seq,
                                  const pr__store_spec *st) {
    for (uint32_t i = 0; i < st->n_aggregates; i++) {
        const char *value = st->aggregates[i].value;
        if (!value) continue;
        char path[PR__YAML_PATH_MAX], sub[PR__YAML_PATH_MAX];
        pr__yaml_item_path(path, "aggregates", i);
        pr__yaml_child_path(sub, path, "value");
        yaml_node_t *n = pr__yaml_map_value(ps, list_item(ps, seq, i), "value");
        pr__store_col c = pr__store_find_column(st, value, strlen(value));
        if (c.kind == PR__STORE_COL_AGGREGATE)
            return pr__yaml_fail(ps, n, sub,
                                 "'%s' is an aggregate; value names a "
                                 "request, time or entity-attribute column",
                                 value);
        if (c.kind == PR__STORE_COL_NONE) {
            name_list l = {0};
            list_columns(st, 0, &l);
            return pr__yaml_fail(ps, n, sub,
                                 "unknown column '%s' (columns: %s)", value,
                                 list_text(&l));
        }
    }
    return PR_OK;
}

static pr_status read_aggregates(pr__yaml_ctx *ps, yaml_node_t *seq,
                                 pr__store_spec *st) {
    size_t n = 0;
    pr_status rc = check_section(ps, seq, "aggregates", PR__FS_MAX_AGGREGATES,
                                 "aggregates", &n);
    if (rc != PR_OK || n == 0) return rc;
    int have_events = 0;
    for (uint32_t i = 0; i < st->n_sources; i++)
        have_events |= st->sources[i].kind == PR__SOURCE_EVENTS;
    if (!have_events)
        return pr__yaml_fail(ps, seq, "aggregates",
                             "aggregates need an events source (add one to "
                             "sources: with kind: events)");
    if (!(st->aggregates = calloc(n, sizeof *st->aggregates))) return OOM(ps);
    st->n_aggregates = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        char path[PR__YAML_PATH_MAX];
        pr__yaml_item_path(path, "aggregates", i);
        yaml_node_t *item = list_item(ps, seq, i);
        if (!item) return pr__yaml_fail(ps, seq, path, "malformed sequence");
        rc = read_agg(ps, item, path, st, (uint32_t)i);
        if (rc != PR_OK) return rc;
    }
    return check_agg_values(ps, seq, st);
}

/* ---------------------------------------------------------------- entry */

pr_status pr__store_read(pr__yaml_ctx *ps, yaml_node_t *request,
                         yaml_node_t *entities, yaml_node_t *sources,
                         yaml_node_t *aggregates, pr_spec *s) {
    pr__store_spec *st = &s->store;
    if (!request) {
        yaml_node_t *const nodes[] = {entities, sources, aggregates};
        static const char *const names[] = {"entities", "sources",
                                            "aggregates"};
        for (int k = 0; k < 3; k++)
            if (nodes[k])
                return pr__yaml_fail(ps, nodes[k], names[k],
                                     "needs a request section (request: "
                                     "columns: [...]), the anchor that "
                                     "entity keys and aggregates hang from");
        return PR_OK;
    }
    pr_status rc = read_request(ps, request, st);
    if (rc == PR_OK && entities) rc = read_entities(ps, entities, st);
    if (rc == PR_OK && sources) rc = read_sources(ps, sources, st);
    if (rc == PR_OK && entities) rc = check_entity_keys(ps, entities, st);
    if (rc == PR_OK && aggregates) rc = read_aggregates(ps, aggregates, st);
    return rc;
}

pr_status pr__store_check_fields(pr__yaml_ctx *ps, yaml_node_t *fields,
                                 const pr_spec *s) {
    const pr__store_spec *st = &s->store;
    if (!st->has_request) return PR_OK;
    for (uint32_t i = 0; i < s->n_fields; i++) {
        const char *col = s->fields[i].column;
        if (pr__store_find_column(st, col, strlen(col)).kind !=
            PR__STORE_COL_NONE)
            continue;
        char path[PR__YAML_PATH_MAX], sub[PR__YAML_PATH_MAX];
        pr__yaml_item_path(path, "fields", i);
        yaml_node_t *item = list_item(ps, fields, i);
        yaml_node_t *n = pr__yaml_map_value(ps, item, "column");
        int named = n == item; /* no column: key, the field reads its name */
        if (named) n = pr__yaml_map_value(ps, item, "name");
        pr__yaml_child_path(sub, path, named ? "name" : "column");
        name_list l = {0};
        list_columns(st, 1, &l);
        return pr__yaml_fail(ps, n, sub,
                             "unknown column '%s'%s (columns: %s)", col,
                             named ? " (the field's name, as it has no "
                                     "column:)"
                                   : "",
                             list_text(&l));
    }
    return PR_OK;
}
