/*
 * quality_parse.c: the accumulator's inputs from JSON. An event is read
 * with the strict scanner (base/json_scan.h) for type, event_id,
 * impression_id, ts (as pr_event_parse_json reads them), request_id and
 * the candidate key column; a prediction record (docs/log.md) for
 * request_id, ts, model_version, arm, registry_version and predictions,
 * whose elements (objects) are scanned one by one for the candidate key
 * and p. A key's text is a string's unescaped bytes or a number's literal,
 * so 7 and "7" are one ad, as in the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/quality_int.h"

enum { EK_TYPE, EK_EVENT_ID, EK_IMPRESSION_ID, EK_TS, EK_REQUEST_ID, EK_CAND, EK_N };
enum { PK_REQUEST_ID, PK_TS, PK_MODEL_VERSION, PK_ARM, PK_REG_VERSION, PK_PREDICTIONS, PK_N };
enum { CK_CAND, CK_P, CK_N };

pr_status pr__quality_parse_init(pr_quality *q, pr_err *err) {
    const char *ek[EK_N] = {"type", "event_id", "impression_id", "ts", "request_id", q->cand_key};
    const char *pk[PK_N] = {"request_id", "ts", "model_version", "arm", "registry_version",
                            "predictions"};
    const char *ck[CK_N] = {q->cand_key, "p"};
    pr_status rc = pr_json_keys_new(ek, EK_N, &q->ev_keys, err);
    if (rc == PR_OK) rc = pr_json_keys_new(pk, PK_N, &q->pred_keys, err);
    if (rc == PR_OK) rc = pr_json_keys_new(ck, CK_N, &q->cand_keys, err);
    if (rc != PR_OK)
        return pr_err_set(err, PR_ERR_INVALID, "quality: candidate key '%s': %s", q->cand_key,
                          err->msg);
    return PR_OK;
}

static int get_id(const pr_json_value *v, uint64_t *out) {
    int64_t x;
    if (!pr_json_int(v, &x) || x < 0) return 0;
    *out = (uint64_t)x;
    return 1;
}

/* A key's text: a string's bytes or a number's literal; else empty. */
static pr_bytes key_text(const pr_json_value *v) {
    if (v->kind == PR_JSON_STRING || v->kind == PR_JSON_NUMBER) return v->text;
    return pr_bytes_of(NULL, 0);
}

pr_status pr_quality_add_event_json(pr_quality *q, const char *line, size_t len, pr_err *err) {
    char buf[1024];
    pr_arena a;
    pr_arena_init(&a, buf, sizeof buf, 1u << 20);
    pr_json_value v[EK_N];
    pr_status rc = pr_json_scan(q->ev_keys, line, len, &a, v, err);
    if (rc != PR_OK) {
        q->st.malformed++;
        pr_arena_free(&a);
        return rc;
    }
    pr_event ev;
    memset(&ev, 0, sizeof ev);
    if (pr_json_str_eq(&v[EK_TYPE], "impression")) ev.type = PR_EVENT_IMPRESSION;
    else if (pr_json_str_eq(&v[EK_TYPE], "click")) ev.type = PR_EVENT_CLICK;
    else if (pr_json_str_eq(&v[EK_TYPE], "conversion")) ev.type = PR_EVENT_CONVERSION;
    else ev.type = PR_EVENT_UNKNOWN;
    ev.has_event_id = get_id(&v[EK_EVENT_ID], &ev.event_id);
    ev.has_impression_id = get_id(&v[EK_IMPRESSION_ID], &ev.impression_id);
    ev.has_ts = pr_json_int(&v[EK_TS], &ev.ts_ms);
    pr__quality_event(q, &ev, key_text(&v[EK_REQUEST_ID]), key_text(&v[EK_CAND]));
    pr_arena_free(&a);
    return PR_OK;
}

/* The next element of a JSON array text the scanner validated: *pos
 * starts at 0; 1 with elem, 0 at the end. Strings may hold brackets. */
static int array_next(pr_bytes arr, size_t *pos, pr_bytes *elem) {
    const char *s = arr.ptr;
    size_t i = *pos ? *pos : 1, n = arr.len;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == ','))
        i++;
    if (i >= n || s[i] == ']') return 0;
    size_t start = i;
    int depth = 0, in_str = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (depth == 0) break; /* the array's own ']' */
            depth--;
        } else if (c == ',' && depth == 0) {
            break;
        }
    }
    size_t end = i;
    while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\n' ||
                           s[end - 1] == '\r'))
        end--;
    *elem = pr_bytes_of(s + start, end - start);
    *pos = i;
    return 1;
}

static int get_name(const pr_json_value *v, char *out) {
    if (v->kind == PR_JSON_ABSENT || v->kind == PR_JSON_NULL) {
        out[0] = '\0';
        return 1;
    }
    if (v->kind != PR_JSON_STRING) return 0;
    size_t n = v->text.len < PR_QUALITY_NAME_MAX - 1 ? v->text.len : PR_QUALITY_NAME_MAX - 1;
    memcpy(out, v->text.ptr, n);
    out[n] = '\0';
    return 1;
}

static pr_status bad(pr_quality *q, pr_err *err, const char *what) {
    q->st.malformed++;
    return pr_err_set(err, PR_ERR_PARSE, "prediction record: %s", what);
}

pr_status pr_quality_add_prediction_json(pr_quality *q, const char *rec, size_t len,
                                         pr_err *err) {
    char buf[2048];
    pr_arena a;
    pr_arena_init(&a, buf, sizeof buf, 16u << 20);
    pr_json_value v[PK_N], c[CK_N];
    pr_status rc = pr_json_scan(q->pred_keys, rec, len, &a, v, err);
    if (rc != PR_OK) {
        q->st.malformed++;
        goto done;
    }
    char version[PR_QUALITY_NAME_MAX], arm[PR_QUALITY_NAME_MAX], rv[PR_QUALITY_NAME_MAX];
    int64_t ts;
    pr_bytes rid = key_text(&v[PK_REQUEST_ID]);
    if (!rid.len) {
        rc = bad(q, err, "no 'request_id' (a string or an integer)");
        goto done;
    }
    if (!pr_json_int(&v[PK_TS], &ts)) {
        rc = bad(q, err, "no integer 'ts'");
        goto done;
    }
    if (!get_name(&v[PK_MODEL_VERSION], version) || !get_name(&v[PK_ARM], arm) ||
        !get_name(&v[PK_REG_VERSION], rv)) {
        rc = bad(q, err, "'model_version', 'arm', 'registry_version' must be strings");
        goto done;
    }
    if (v[PK_PREDICTIONS].kind != PR_JSON_ARRAY) {
        rc = bad(q, err, "no 'predictions' array");
        goto done;
    }
    uint64_t rh = pr_quality_request_hash(rid);
    size_t n = 0, pos = 0;
    pr_bytes e;
    while (array_next(v[PK_PREDICTIONS].text, &pos, &e)) {
        if ((rc = pr_json_scan(q->cand_keys, e.ptr, e.len, &a, c, err)) != PR_OK) {
            q->st.malformed++;
            char m[PR_ERR_MSG_MAX];
            snprintf(m, sizeof m, "predictions[%zu]: %.400s", n, err->msg);
            rc = pr_err_set(err, PR_ERR_PARSE, "prediction record: %s", m);
            goto done;
        }
        char num[64];
        double p;
        char *endp;
        if (c[CK_P].kind != PR_JSON_NUMBER || c[CK_P].text.len >= sizeof num) {
            rc = bad(q, err, "a prediction without a number 'p'");
            goto done;
        }
        memcpy(num, c[CK_P].text.ptr, c[CK_P].text.len);
        num[c[CK_P].text.len] = '\0';
        p = strtod(num, &endp);
        if (*endp || !(p >= 0 && p <= 1)) {
            rc = bad(q, err, "a 'p' outside [0, 1]");
            goto done;
        }
        if (n == q->s_cap) {
            size_t cap = q->s_cap ? 2 * q->s_cap : 256;
            uint64_t *k = realloc(q->sk, cap * sizeof *k);
            if (k) q->sk = k;
            double *pp = realloc(q->sp, cap * sizeof *pp);
            if (pp) q->sp = pp;
            if (!k || !pp) {
                rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
                goto done;
            }
            q->s_cap = cap;
        }
        q->sk[n] = pr_quality_key(rh, key_text(&c[CK_CAND]));
        q->sp[n] = p;
        n++;
    }
    pr_quality_pred pd = {ts, rv[0] ? rv : version, arm, (uint32_t)n, q->sk, q->sp};
    pr_quality_add_prediction(q, &pd);
done:
    pr_arena_free(&a);
    return rc;
}

pr_status pr_quality_add_record(pr_quality *q, uint32_t type, const char *payload, size_t len,
                                pr_err *err) {
    if (type == 1) return pr_quality_add_event_json(q, payload, len, err);
    if (type == 2) return pr_quality_add_prediction_json(q, payload, len, err);
    return PR_OK;
}
