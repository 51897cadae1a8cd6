/*
 * spec_yaml.c: the checked-read helpers of spec_yaml.h: one function per
 * node shape (mapping with known keys, string, integer, number), each
 * naming line, column and spec path when the shape is wrong; and the
 * duration syntax ("90s", "7d") the feature-store sections use.
 *
 * Nothing here recurses: callers walk the document by schema, so aliases
 * and anchor cycles in a hostile spec cannot make a walk loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature/feature_int.h"
#include "feature/spec_yaml.h"

const char *pr__yaml_node_kind(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a sequence";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

/* Records "name:line:col: path: message" as PR_ERR_SPEC (or status). */
pr_status pr__yaml_fail_status(pr__yaml_ctx *ps, pr_status status,
                               const yaml_node_t *node, const char *path,
                               const char *fmt, ...) {
    char msg[PR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned long line = node ? (unsigned long)node->start_mark.line + 1 : 1;
    unsigned long col = node ? (unsigned long)node->start_mark.column + 1 : 1;
    return pr_err_set(ps->err, status, "%s:%lu:%lu: %s%s%s", ps->name, line,
                      col, path, path[0] ? ": " : "", msg);
}
/* Appends s to the path in dst (of PR__YAML_PATH_MAX bytes), truncating. */
static void path_append(char *dst, const char *s) {
    size_t o = strlen(dst), n = strlen(s);
    if (o + n >= PR__YAML_PATH_MAX) n = PR__YAML_PATH_MAX - 1 - o;
    memcpy(dst + o, s, n);
    dst[o + n] = '\0';
}

/* dst = "parent.key" (or "key" at the top level). */
void pr__yaml_child_path(char *dst, const char *parent, const char *key) {
    dst[0] = '\0';
    path_append(dst, parent);
    if (parent[0]) path_append(dst, ".");
    path_append(dst, key);
}

/* dst = "parent[i]". */
void pr__yaml_item_path(char *dst, const char *parent, size_t i) {
    char index[32];
    snprintf(index, sizeof index, "[%zu]", i);
    dst[0] = '\0';
    path_append(dst, parent);
    path_append(dst, index);
}

yaml_node_t *pr__yaml_node(pr__yaml_ctx *ps, int index) {
    return yaml_document_get_node(ps->doc, index);
}

/* Reads a mapping whose keys must come from keys[0..n): values[k] gets the
 * value of keys[k] or NULL. Unknown, duplicate and non-scalar keys fail. */
pr_status pr__yaml_read_map(pr__yaml_ctx *ps, yaml_node_t *map,
                            const char *path, const char *const *keys, size_t n,
                            yaml_node_t **values) {
    for (size_t k = 0; k < n; k++) values[k] = NULL;
    if (map->type != YAML_MAPPING_NODE)
        return pr__yaml_fail(ps, map, path, "expected a mapping, got %s",
                             pr__yaml_node_kind(map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key = pr__yaml_node(ps, p->key);
        yaml_node_t *value = pr__yaml_node(ps, p->value);
        if (!key || !value)
            return pr__yaml_fail(ps, map, path, "malformed mapping");
        if (key->type != YAML_SCALAR_NODE)
            return pr__yaml_fail(ps, key, path,
                                 "keys must be plain names, got %s",
                                 pr__yaml_node_kind(key));
        const char *ks = (const char *)key->data.scalar.value;
        size_t k = 0;
        while (k < n && !(strlen(keys[k]) == key->data.scalar.length &&
                          memcmp(keys[k], ks, key->data.scalar.length) == 0))
            k++;
        if (k == n) {
            char expected[256] = "";
            size_t o = 0;
            for (size_t j = 0; j < n && o < sizeof expected; j++)
                o += (size_t)snprintf(expected + o, sizeof expected - o, "%s%s",
                                      j ? ", " : "", keys[j]);
            char shown[64];
            pr__render_bytes(shown, sizeof shown, ks, key->data.scalar.length);
            return pr__yaml_fail(ps, key, path,
                                 "unknown key '%s' (expected %s)", shown,
                                 expected);
        }
        if (values[k]) {
            char sub[PR__YAML_PATH_MAX];
            pr__yaml_child_path(sub, path, keys[k]);
            return pr__yaml_fail(ps, key, sub,
                                 "duplicate key (first at line %lu)",
                                 (unsigned long)values[k]->start_mark.line + 1);
        }
        values[k] = value;
    }
    return PR_OK;
}

/* The value of key in a mapping already checked by read_map (for pointing
 * an error at it); the mapping itself if absent. */
yaml_node_t *pr__yaml_map_value(pr__yaml_ctx *ps, yaml_node_t *map,
                                const char *key) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = pr__yaml_node(ps, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            k->data.scalar.length == strlen(key) &&
            memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
            return pr__yaml_node(ps, p->value);
    }
    return map;
}

pr_status pr__yaml_expect_scalar(pr__yaml_ctx *ps, const yaml_node_t *n,
                                 const char *path) {
    if (n->type != YAML_SCALAR_NODE)
        return pr__yaml_fail(ps, n, path, "expected a scalar value, got %s",
                             pr__yaml_node_kind(n));
    return PR_OK;
}

/* Copies a string scalar: no control bytes, at most max_len bytes. */
pr_status pr__yaml_string(pr__yaml_ctx *ps, const yaml_node_t *n,
                          const char *path, size_t max_len, int allow_empty,
                          char **out) {
    pr_status rc = pr__yaml_expect_scalar(ps, n, path);
    if (rc != PR_OK) return rc;
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (len == 0 && !allow_empty)
        return pr__yaml_fail(ps, n, path, "expected a non-empty string");
    if (len > max_len)
        return pr__yaml_fail(ps, n, path,
                             "string of %zu bytes is too long (max %zu)", len,
                             max_len);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return pr__yaml_fail(
                ps, n, path, "control character (byte %zu) not allowed", i + 1);
    char *s = malloc(len + 1);
    if (!s) return pr_err_set(ps->err, PR_ERR_NOMEM, "out of memory");
    memcpy(s, v, len);
    s[len] = '\0';
    *out = s;
    return PR_OK;
}

int pr__yaml_scalar_is(const yaml_node_t *n, const char *word) {
    return n->type == YAML_SCALAR_NODE &&
           n->data.scalar.length == strlen(word) &&
           memcmp(n->data.scalar.value, word, n->data.scalar.length) == 0;
}

pr_status pr__yaml_uint(pr__yaml_ctx *ps, const yaml_node_t *n,
                        const char *path, uint64_t min, uint64_t max,
                        uint64_t *out) {
    pr_status rc = pr__yaml_expect_scalar(ps, n, path);
    if (rc != PR_OK) return rc;
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    uint64_t x = 0;
    int ok = len > 0 && len <= 20;
    for (size_t i = 0; ok && i < len; i++) {
        unsigned d = (unsigned)(unsigned char)v[i] - '0';
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            ok = 0;
        else
            x = x * 10 + d;
    }
    char shown[64];
    pr__render_bytes(shown, sizeof shown, v, len);
    if (!ok)
        return pr__yaml_fail(
            ps, n, path, "expected an integer in %llu..%llu, got '%s'",
            (unsigned long long)min, (unsigned long long)max, shown);
    if (x < min || x > max)
        return pr__yaml_fail(ps, n, path,
                             "%llu is out of range (expected %llu..%llu)",
                             (unsigned long long)x, (unsigned long long)min,
                             (unsigned long long)max);
    *out = x;
    return PR_OK;
}

pr_status pr__yaml_double(pr__yaml_ctx *ps, const yaml_node_t *n,
                          const char *path, double *out) {
    pr_status rc = pr__yaml_expect_scalar(ps, n, path);
    if (rc != PR_OK) return rc;
    double x = 0;
    int is_int = 0;
    int64_t iv = 0;
    const char *v = (const char *)n->data.scalar.value;
    pr__num_result r =
        pr__parse_number(v, n->data.scalar.length, &x, &is_int, &iv);
    if (r != PR__NUM_OK) {
        char shown[64];
        pr__render_bytes(shown, sizeof shown, v, n->data.scalar.length);
        return pr__yaml_fail(ps, n, path, "expected a finite number, got '%s'",
                             shown);
    }
    /* -0 and 0 bin alike; keep one spelling so canonical text is stable */
    *out = x == 0 ? 0.0 : x;
    return PR_OK;
}

pr__duration_result pr__parse_duration(const char *p, size_t len,
                                       int64_t *ms) {
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
                 {"d", 86400000}};
    size_t digits = 0;
    uint64_t x = 0;
    int overflow = 0;
    while (digits < len && p[digits] >= '0' && p[digits] <= '9') {
        unsigned d = (unsigned)(p[digits] - '0');
        if (x > ((uint64_t)INT64_MAX - d) / 10)
            overflow = 1;
        else
            x = x * 10 + d;
        digits++;
    }
    if (digits == 0) return PR__DURATION_BAD;
    const char *u = p + digits;
    size_t ulen = len - digits;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strlen(units[i].unit) != ulen || memcmp(units[i].unit, u, ulen))
            continue;
        if (overflow || x > (uint64_t)(PR__DURATION_MAX_MS / units[i].ms))
            return PR__DURATION_TOO_BIG;
        *ms = (int64_t)x * units[i].ms;
        return PR__DURATION_OK;
    }
    return PR__DURATION_BAD;
}

pr_status pr__yaml_duration(pr__yaml_ctx *ps, const yaml_node_t *n,
                            const char *path, int64_t min_ms,
                            int64_t *out_ms) {
    pr_status rc = pr__yaml_expect_scalar(ps, n, path);
    if (rc != PR_OK) return rc;
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    char shown[64];
    pr__render_bytes(shown, sizeof shown, v, len);
    int64_t ms = 0;
    switch (pr__parse_duration(v, len, &ms)) {
    case PR__DURATION_OK: break;
    case PR__DURATION_TOO_BIG:
        return pr__yaml_fail(ps, n, path,
                             "duration '%s' is too long (max 3650d)", shown);
    default:
        return pr__yaml_fail(ps, n, path,
                             "expected a duration: an integer and a unit "
                             "(ms, s, m, h, d) like 90s or 7d, got '%s'",
                             shown);
    }
    if (ms < min_ms)
        return pr__yaml_fail(ps, n, path,
                             "duration '%s' is too short (min %lldms)", shown,
                             (long long)min_ms);
    *out_ms = ms;
    return PR_OK;
}

pr_status pr__yaml_syntax_error(pr__yaml_ctx *ps, const yaml_parser_t *yp) {
    if (yp->error == YAML_MEMORY_ERROR)
        return pr_err_set(ps->err, PR_ERR_NOMEM,
                          "%s: out of memory parsing YAML", ps->name);
    return pr_err_set(ps->err, PR_ERR_SPEC,
                      "%s:%lu:%lu: YAML syntax error: %s%s%s", ps->name,
                      (unsigned long)yp->problem_mark.line + 1,
                      (unsigned long)yp->problem_mark.column + 1,
                      yp->problem ? yp->problem : "malformed YAML",
                      yp->context ? " " : "", yp->context ? yp->context : "");
}
