/*
 * learn_ckpt.c: the learner's checkpoint as JSON text (one object, keys
 * below), read with jansson. Doubles are written with %.17g so the
 * overall progressive-validation sums continue bit for bit after a
 * restart; counts as integers (jansson reads them as json_int_t, 64-bit).
 *
 *   {"format":1,"version":"v000012","snapshot":"v000011","kind":"lr",
 *    "spec_fingerprint":"<16 hex>",
 *    "pos":"<log position>","examples":N,"scores_bytes":N,"clock_ms":T,
 *    "next_publish_ms":T|null,"published":N,"flushed":0|1,
 *    "learn_from_ms":T|null (optional: absent = null),
 *    "ll_sum":X,"n":N,"positives":N,"own":["v000010","v000012"]}
 *
 * Writing it (tmp, fsync, rename) is learn.c's; this file only converts.
 */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/learn.h"

#define FORMAT 1

static pr_status bad(pr_err *err, const char *name, const char *key, const char *what) {
    return pr_err_set(err, PR_ERR_FORMAT, "%s: key '%s': %s", name, key, what);
}

static pr_status get_u64(json_t *o, const char *key, const char *name, uint64_t *out,
                         pr_err *err) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(err, name, key, "missing or not an integer >= 0");
    *out = (uint64_t)json_integer_value(v);
    return PR_OK;
}

static pr_status get_i64(json_t *o, const char *key, const char *name, int null_ok,
                         int64_t *out, pr_err *err) {
    json_t *v = json_object_get(o, key);
    if (null_ok && json_is_null(v)) {
        *out = INT64_MIN;
        return PR_OK;
    }
    if (!json_is_integer(v)) return bad(err, name, key, "missing or not an integer");
    *out = (int64_t)json_integer_value(v);
    return PR_OK;
}

static pr_status get_str(json_t *o, const char *key, const char *name, char *out, size_t cap,
                         int empty_ok, pr_err *err) {
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return bad(err, name, key, "missing or not a string");
    size_t n = json_string_length(v);
    if (n >= cap) return bad(err, name, key, "too long");
    if (!n && !empty_ok) return bad(err, name, key, "empty");
    memcpy(out, json_string_value(v), n);
    out[n] = '\0';
    if (strlen(out) != n) return bad(err, name, key, "holds a NUL");
    return PR_OK;
}

pr_status pr_learn_ckpt_parse(const char *text, size_t len, const char *name,
                              pr_learn_ckpt *out, pr_err *err) {
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) return pr_err_set(err, PR_ERR_FORMAT, "%s:%d: %s", name, je.line, je.text);
    pr_status s = PR_OK;
    uint64_t fmt = 0, flushed = 0;
    char fp[32];
    if (!json_is_object(o)) {
        s = pr_err_set(err, PR_ERR_FORMAT, "%s: not a JSON object", name);
        goto done;
    }
    if ((s = get_u64(o, "format", name, &fmt, err)) != PR_OK) goto done;
    if (fmt != FORMAT) {
        s = pr_err_set(err, PR_ERR_VERSION, "%s: checkpoint format %llu, this pronto reads %d",
                       name, (unsigned long long)fmt, FORMAT);
        goto done;
    }
    if ((s = get_str(o, "version", name, out->version, sizeof out->version, 0, err)) ||
        (s = get_str(o, "snapshot", name, out->snapshot, sizeof out->snapshot, 1, err)) ||
        (s = get_str(o, "kind", name, out->kind, sizeof out->kind, 0, err)) ||
        (s = get_str(o, "spec_fingerprint", name, fp, sizeof fp, 0, err)) ||
        (s = get_str(o, "pos", name, out->pos, sizeof out->pos, 1, err)) ||
        (s = get_u64(o, "examples", name, &out->examples, err)) ||
        (s = get_u64(o, "scores_bytes", name, &out->scores_bytes, err)) ||
        (s = get_i64(o, "clock_ms", name, 0, &out->clock_ms, err)) ||
        (s = get_i64(o, "next_publish_ms", name, 1, &out->next_publish_ms, err)) ||
        (s = get_u64(o, "published", name, &out->published, err)) ||
        (s = get_u64(o, "flushed", name, &flushed, err)) ||
        (s = get_u64(o, "n", name, &out->n, err)) ||
        (s = get_u64(o, "positives", name, &out->positives, err)))
        goto done;
    out->flushed = flushed != 0;
    out->learn_from_ms = INT64_MIN;
    if (json_object_get(o, "learn_from_ms") &&
        (s = get_i64(o, "learn_from_ms", name, 1, &out->learn_from_ms, err)) != PR_OK)
        goto done;
    char *end = NULL;
    out->spec_fingerprint = strtoull(fp, &end, 16);
    if (strlen(fp) != 16 || !end || *end) {
        s = bad(err, name, "spec_fingerprint", "not 16 hex digits");
        goto done;
    }
    json_t *ll = json_object_get(o, "ll_sum");
    if (!json_is_number(ll) || !isfinite(json_number_value(ll)) || json_number_value(ll) < 0) {
        s = bad(err, name, "ll_sum", "missing or not a finite number >= 0");
        goto done;
    }
    out->ll_sum = json_number_value(ll);
    if (out->positives > out->n) {
        s = bad(err, name, "positives", "more than n");
        goto done;
    }
    json_t *own = json_object_get(o, "own");
    if (!json_is_array(own) || json_array_size(own) > 64) {
        s = bad(err, name, "own", "missing or not an array of at most 64 version ids");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(own); i++) {
        json_t *v = json_array_get(own, i);
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) >= sizeof out->own[0]) {
            s = bad(err, name, "own", "an element is not a version id");
            goto done;
        }
        snprintf(out->own[i], sizeof out->own[i], "%s", json_string_value(v));
    }
    out->n_own = (uint32_t)json_array_size(own);
done:
    json_decref(o);
    return s;
}

/* A JSON string of s (ids and positions hold no quotes; escaped anyway). */
static json_t *str(const char *s) { return json_string(s); }

char *pr_learn_ckpt_format(const pr_learn_ckpt *c) {
    char fp[32];
    snprintf(fp, sizeof fp, "%016" PRIx64, c->spec_fingerprint);
    json_t *own = json_array();
    for (uint32_t i = 0; own && i < c->n_own; i++) json_array_append_new(own, str(c->own[i]));
    json_t *o = json_pack("{s:i,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:o,s:I,s:i,s:o,s:o,s:I,s:I,s:o}",
                          "format", FORMAT, "version", str(c->version),
                          "snapshot", str(c->snapshot), "kind", str(c->kind),
                          "spec_fingerprint", str(fp), "pos", str(c->pos),
                          "examples", (json_int_t)c->examples,
                          "scores_bytes", (json_int_t)c->scores_bytes,
                          "clock_ms", (json_int_t)c->clock_ms,
                          "next_publish_ms",
                          c->next_publish_ms == INT64_MIN ? json_null()
                                                          : json_integer(c->next_publish_ms),
                          "published", (json_int_t)c->published, "flushed", c->flushed ? 1 : 0,
                          "learn_from_ms",
                          c->learn_from_ms == INT64_MIN ? json_null()
                                                        : json_integer(c->learn_from_ms),
                          "ll_sum", json_real(c->ll_sum), "n", (json_int_t)c->n,
                          "positives", (json_int_t)c->positives, "own", own);
    if (!o) return NULL;
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(o);
    return text;
}
