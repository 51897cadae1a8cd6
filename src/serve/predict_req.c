/*
 * predict_req.c: the body of POST /v1/predict -> pr__predict_req.
 *
 *   {"user_id": 42, "context": {"site_id": 7, "device": "mobile"},
 *    "candidates": [{"ad_id": 1}, {"ad_id": "x9"}], "top_k": 10, "ts": ...,
 *    "request_id": "r-81"}
 *
 * One strict pass of the JSON scanner (base/json_scan.h) over the whole
 * body validates it and pulls the top-level keys; the context object and
 * each candidate object are then scanned for the request columns. Nothing
 * is built: values are slices of the body (or of the arena, for strings
 * with escapes). A JSON number becomes its literal text ("7"), true/false
 * their literal, null an absent value.
 *
 * A request column may be given at the top level or in "context" (not
 * both); a candidate's own value of a column overrides the shared one for
 * that candidate. Unknown keys are ignored, so clients may send more
 * context than the model uses.
 */
#include <stdio.h>
#include <string.h>

#include "serve/serve_int.h"

static const char *const top_reserved[PR__TOP_N] = {"context", "candidates", "top_k", "ts",
                                                    "request_id"};

pr_status pr__request_plan_init(pr__request_plan *rp, const char *const *names, uint32_t n_req,
                                const char *candidate_key, pr_err *err) {
    memset(rp, 0, sizeof *rp);
    rp->n_req = n_req;
    rp->names = names;
    rp->cand_col = UINT32_MAX;
    if (n_req + PR__TOP_N > PR_JSON_KEYS_MAX)
        return pr_err_set(err, PR_ERR_SPEC, "the spec has %u request columns, the server takes %u",
                          n_req, PR_JSON_KEYS_MAX - PR__TOP_N);
    const char *top[PR_JSON_KEYS_MAX];
    for (uint32_t i = 0; i < PR__TOP_N; i++) top[i] = top_reserved[i];
    for (uint32_t c = 0; c < n_req; c++) {
        for (uint32_t i = 0; i < PR__TOP_N; i++)
            if (!strcmp(names[c], top_reserved[i]))
                return pr_err_set(err, PR_ERR_SPEC,
                                  "request column '%s' has the name of a key of the predict "
                                  "request; rename it in the spec",
                                  names[c]);
        if (!strcmp(names[c], candidate_key)) rp->cand_col = c;
        top[PR__TOP_N + c] = names[c];
    }
    if (rp->cand_col == UINT32_MAX)
        return pr_err_set(err, PR_ERR_SPEC,
                          "the candidate key '%s' is not a request column of the spec",
                          candidate_key);
    pr_status s = pr_json_keys_new(top, PR__TOP_N + n_req, &rp->top_keys, err);
    if (s == PR_OK) s = pr_json_keys_new(names, n_req, &rp->col_keys, err);
    if (s != PR_OK) pr__request_plan_free(rp);
    return s;
}

void pr__request_plan_free(pr__request_plan *rp) {
    pr_json_keys_free(rp->top_keys);
    pr_json_keys_free(rp->col_keys);
    rp->top_keys = rp->col_keys = NULL;
}

static const char *kind_name(pr_json_kind k) {
    switch (k) {
    case PR_JSON_STRING: return "a string";
    case PR_JSON_NUMBER: return "a number";
    case PR_JSON_TRUE:
    case PR_JSON_FALSE: return "a boolean";
    case PR_JSON_NULL: return "null";
    case PR_JSON_ARRAY: return "an array";
    case PR_JSON_OBJECT: return "an object";
    default: return "nothing";
    }
}

/* A column value as text: scalars as written, null/absent as missing. */
static pr_status value_text(const pr_json_value *v, const char *where, const char *name,
                            pr_bytes *out, pr_err *err) {
    switch (v->kind) {
    case PR_JSON_STRING:
    case PR_JSON_NUMBER:
    case PR_JSON_TRUE:
    case PR_JSON_FALSE: *out = v->text; return PR_OK;
    case PR_JSON_ARRAY:
    case PR_JSON_OBJECT:
        return pr_err_set(err, PR_ERR_PARSE, "'%s%s': expected a string or a number, got %s",
                          where, name, kind_name(v->kind));
    default: *out = (pr_bytes){NULL, 0}; return PR_OK;
    }
}

static pr_status scan_object(const pr_json_keys *keys, pr_bytes text, const char *where,
                             pr_arena *a, pr_json_value *v, pr_err *err) {
    pr_status s = pr_json_scan(keys, text.ptr, text.len, a, v, err);
    if (s == PR_ERR_PARSE) {
        char why[PR_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        return pr_err_set(err, s, "%s: %s", where, why);
    }
    return s;
}

pr_status pr__predict_parse(const pr__request_plan *rp, const char *body, size_t len,
                            uint32_t max_cand, pr_arena *a, pr__predict_req *out, pr_err *err) {
    const uint32_t nr = rp->n_req;
    pr_json_value top[PR_JSON_KEYS_MAX], col[PR_JSON_KEYS_MAX];
    memset(out, 0, sizeof *out);
    pr_status s = scan_object(rp->top_keys, pr_bytes_of(body, len), "request body", a, top, err);
    if (s != PR_OK) return s;

    pr_bytes *base = pr_arena_alloc(a, (nr ? nr : 1) * sizeof *base);
    if (!base) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    for (uint32_t c = 0; c < nr; c++)
        if ((s = value_text(&top[PR__TOP_N + c], "", rp->names[c], &base[c], err)) != PR_OK)
            return s;
    const pr_json_value *ctx = &top[PR__TOP_CONTEXT];
    if (ctx->kind == PR_JSON_OBJECT) {
        if ((s = scan_object(rp->col_keys, ctx->text, "context", a, col, err)) != PR_OK) return s;
        for (uint32_t c = 0; c < nr; c++) {
            pr_bytes t = {NULL, 0};
            if ((s = value_text(&col[c], "context.", rp->names[c], &t, err)) != PR_OK) return s;
            if (col[c].kind == PR_JSON_ABSENT) continue;
            if (top[PR__TOP_N + c].kind != PR_JSON_ABSENT)
                return pr_err_set(err, PR_ERR_PARSE,
                                  "'%s' is given both at the top level and in 'context'",
                                  rp->names[c]);
            base[c] = t;
        }
    } else if (ctx->kind != PR_JSON_ABSENT && ctx->kind != PR_JSON_NULL) {
        return pr_err_set(err, PR_ERR_PARSE, "'context': expected an object, got %s",
                          kind_name(ctx->kind));
    }
    out->base = base;

    const pr_json_value *ts = &top[PR__TOP_TS];
    if (ts->kind != PR_JSON_ABSENT) {
        if (!pr_json_int(ts, &out->ts_ms) || out->ts_ms < 0)
            return pr_err_set(err, PR_ERR_PARSE,
                              "'ts': expected Unix milliseconds (a whole number >= 0), got %s",
                              kind_name(ts->kind));
        out->has_ts = 1;
    }
    const pr_json_value *rid = &top[PR__TOP_REQUEST_ID];
    if (rid->kind != PR_JSON_ABSENT && rid->kind != PR_JSON_NULL) {
        int64_t iv;
        if ((rid->kind != PR_JSON_STRING && !(rid->kind == PR_JSON_NUMBER && pr_json_int(rid, &iv))) ||
            rid->text.len > PR__REQUEST_ID_MAX || rid->text.len == 0)
            return pr_err_set(err, PR_ERR_PARSE,
                              "'request_id': expected a string of 1..%d bytes or an integer, got "
                              "%s%s",
                              PR__REQUEST_ID_MAX, kind_name(rid->kind),
                              rid->text.len > PR__REQUEST_ID_MAX ? " too long" : "");
        out->request_id = rid->text;
        out->request_id_is_num = rid->kind == PR_JSON_NUMBER;
    }
    const pr_json_value *tk = &top[PR__TOP_TOP_K];
    if (tk->kind != PR_JSON_ABSENT) {
        int64_t k;
        if (!pr_json_int(tk, &k) || k < 1)
            return pr_err_set(err, PR_ERR_PARSE, "'top_k': expected a whole number >= 1, got %s%.*s",
                              tk->kind == PR_JSON_NUMBER ? "" : kind_name(tk->kind),
                              tk->kind == PR_JSON_NUMBER ? (int)tk->text.len : 0,
                              tk->kind == PR_JSON_NUMBER ? tk->text.ptr : "");
        out->top_k = k > UINT32_MAX ? UINT32_MAX : (uint32_t)k;
    }

    /* Candidates: count, then scan each object once into vals. */
    const pr_json_value *cv = &top[PR__TOP_CANDIDATES];
    if (cv->kind != PR_JSON_ARRAY)
        return pr_err_set(err, PR_ERR_PARSE,
                          "'candidates': expected an array of objects such as "
                          "[{\"%s\": ...}], got %s",
                          rp->names[rp->cand_col], kind_name(cv->kind));
    uint32_t n = 0;
    size_t pos = 0;
    pr_bytes elem;
    while (pr__json_array_next(cv->text, &pos, &elem))
        if (++n > max_cand)
            return pr_err_set(err, PR_ERR_LIMIT, "more than %u candidates (the server's "
                              "--max-candidates)", max_cand);
    if (n == 0) return pr_err_set(err, PR_ERR_PARSE, "'candidates': the array is empty");
    pr_json_value *vals = pr_arena_alloc(a, (size_t)n * (nr ? nr : 1) * sizeof *vals);
    pr_json_value *ids = pr_arena_alloc(a, (size_t)n * sizeof *ids);
    if (!vals || !ids) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    uint8_t varies[PR_JSON_KEYS_MAX] = {0};
    pos = 0;
    for (uint32_t i = 0; pr__json_array_next(cv->text, &pos, &elem); i++) {
        char where[48];
        snprintf(where, sizeof where, "candidates[%u]", i);
        if (elem.len == 0 || elem.ptr[0] != '{')
            return pr_err_set(err, PR_ERR_PARSE, "'%s': expected an object", where);
        pr_json_value *v = vals + (size_t)i * nr;
        if ((s = scan_object(rp->col_keys, elem, where, a, v, err)) != PR_OK) return s;
        for (uint32_t c = 0; c < nr; c++) {
            pr_bytes t = {NULL, 0};
            if (v[c].kind == PR_JSON_ABSENT) continue;
            snprintf(where, sizeof where, "candidates[%u].", i);
            if ((s = value_text(&v[c], where, rp->names[c], &t, err)) != PR_OK) return s;
            if (t.ptr) varies[c] = 1;
        }
        const pr_json_value *id = &v[rp->cand_col];
        if (id->kind != PR_JSON_STRING && id->kind != PR_JSON_NUMBER)
            return pr_err_set(err, PR_ERR_PARSE, "'candidates[%u]': missing '%s' (a string or a "
                              "number)", i, rp->names[rp->cand_col]);
        ids[i] = *id;
    }

    /* The columns any candidate sets vary per candidate; a candidate that
     * leaves one out takes the shared value. */
    for (uint32_t c = 0; c < nr; c++)
        if (varies[c]) out->cand_cols[out->n_cand_cols++] = c;
    uint32_t k = out->n_cand_cols;
    pr_bytes *cand = pr_arena_alloc(a, (size_t)n * k * sizeof *cand);
    if (!cand) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < k; j++) {
            uint32_t c = out->cand_cols[j];
            const pr_json_value *v = &vals[(size_t)i * nr + c];
            pr_bytes t = base[c];
            if (v->kind != PR_JSON_ABSENT && v->kind != PR_JSON_NULL) t = v->text;
            cand[(size_t)i * k + j] = t;
        }
    out->n = n;
    out->cand = cand;
    out->ids = ids;
    if (out->top_k > n) out->top_k = n;
    return PR_OK;
}
