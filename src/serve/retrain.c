/*
 * retrain.c: POST /admin/retrain: the server asks for a retrain. With the
 * models from a registry (--model registry:DIR...), the request is
 * recorded in that registry as a pending "retrain" request
 * (pr_registry_request: DIR/requests/retrain written under the registry's
 * lock by temporary, fsync and rename, and a "request" history line); a
 * scheduler takes it (pr_registry_take_request, `pronto registry`). A
 * second request before the first is taken is merged into it by the
 * registry. Without a registry there is nowhere to record it: 409.
 *
 * Body (optional): a JSON object {"reason": "...", "detail": {...}}:
 * reason a string of at most PR__RETRAIN_REASON_MAX bytes, detail any
 * object; other keys are ignored. The registry gets as detail
 * {"source":"pronto serve","arms":{ALIAS:VERSION,...},"shadow":{...},
 * "client":DETAIL}: what the server served when it asked.
 *
 * Runs on the reload thread (jobs.c: the registry write fsyncs, which an
 * HTTP thread must not wait for) under reload_mu, the lock every use of
 * the server's registry handle holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"

#define PR__RETRAIN_REASON_MAX 1024

enum { K_REASON, K_DETAIL, K_N };

/* The detail object the registry records. */
static void put_detail(pr_server *s, const pr_json_value *client, pr__tb *d) {
    pr__tb_puts(d, "{\"source\":\"pronto serve\",\"arms\":{");
    for (uint32_t i = 0; i < s->n_arms; i++) {
        pr__model_ref *r = pr__holder_acquire(&s->arms[i].holder);
        if (i) pr__tb_put(d, ",", 1);
        pr__tb_json_str(d, s->arms[i].alias, strlen(s->arms[i].alias));
        pr__tb_put(d, ":", 1);
        pr__tb_json_str(d, r->reg_version, strlen(r->reg_version));
        pr__model_ref_release(r);
    }
    pr__tb_puts(d, "}");
    if (s->shadow) {
        pr__model_ref *r = pr__holder_acquire(&s->shadow->holder);
        pr__tb_puts(d, ",\"shadow\":{");
        pr__tb_json_str(d, s->shadow->alias, strlen(s->shadow->alias));
        pr__tb_put(d, ":", 1);
        pr__tb_json_str(d, r->reg_version, strlen(r->reg_version));
        pr__tb_puts(d, "}");
        pr__model_ref_release(r);
    }
    if (client->kind == PR_JSON_OBJECT) {
        pr__tb_puts(d, ",\"client\":");
        pr__tb_put(d, client->text.ptr, client->text.len);
    }
    pr__tb_puts(d, "}");
}

static int blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') return 0;
    return 1;
}

const char *pr__handle_retrain(pr_server *s, const char *body, size_t len, unsigned *status,
                               pr__tb *out) {
    static const char *json = "application/json";
    static const char *const names[K_N] = {"reason", "detail"};
    if (!s->reg) {
        *status = 409;
        pr__json_error(out, "this server does not serve from a model registry (--model "
                            "registry:DIR): there is no registry to record a retrain request in");
        return json;
    }
    pr_err err;
    pr_err_clear(&err);
    pr_json_value v[K_N];
    memset(v, 0, sizeof v);
    pr_json_keys *keys = NULL;
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    pr__tb detail;
    pr__tb_init(&detail, (size_t)1 << 20);
    char *reason = NULL;
    pr_status st = PR_OK;
    if (!blank(body, len)) {
        st = pr_json_keys_new(names, K_N, &keys, &err);
        if (st == PR_OK) st = pr_json_scan(keys, body, len, &arena, v, &err);
        if (st != PR_OK) {
            char why[PR_ERR_MSG_MAX];
            snprintf(why, sizeof why, "%.400s", err.msg);
            pr_err_set(&err, st, "request body: %s (expected {\"reason\": \"...\"} or nothing)",
                       why);
            *status = st == PR_ERR_NOMEM ? 500 : 400;
            goto done;
        }
        if (v[K_REASON].kind != PR_JSON_ABSENT && v[K_REASON].kind != PR_JSON_NULL &&
            v[K_REASON].kind != PR_JSON_STRING) {
            st = pr_err_set(&err, PR_ERR_PARSE, "'reason': expected a string");
            *status = 400;
            goto done;
        }
        if (v[K_REASON].kind == PR_JSON_STRING && v[K_REASON].text.len > PR__RETRAIN_REASON_MAX) {
            st = pr_err_set(&err, PR_ERR_LIMIT, "'reason': longer than %d bytes",
                            PR__RETRAIN_REASON_MAX);
            *status = 400;
            goto done;
        }
        if (v[K_DETAIL].kind != PR_JSON_ABSENT && v[K_DETAIL].kind != PR_JSON_NULL &&
            v[K_DETAIL].kind != PR_JSON_OBJECT) {
            st = pr_err_set(&err, PR_ERR_PARSE, "'detail': expected an object");
            *status = 400;
            goto done;
        }
        if (v[K_REASON].kind == PR_JSON_STRING) {
            reason = strndup(v[K_REASON].text.ptr, v[K_REASON].text.len);
            if (!reason) {
                st = pr_err_set(&err, PR_ERR_NOMEM, "out of memory");
                *status = 500;
                goto done;
            }
        }
    }
    put_detail(s, &v[K_DETAIL], &detail);
    if (detail.over) {
        st = pr_err_set(&err, PR_ERR_LIMIT, "'detail': too large");
        *status = 400;
        goto done;
    }
    pthread_mutex_lock(&s->reload_mu);
    st = pr_registry_request(s->reg, "retrain", reason, detail.p, &err);
    pthread_mutex_unlock(&s->reload_mu);
    if (st != PR_OK) {
        *status = 500;
        goto done;
    }
    *status = 202;
    pr__tb_puts(out, "{\"requested\":true,\"what\":\"retrain\",\"registry\":");
    const char *dir = pr_registry_dir(s->reg);
    pr__tb_json_str(out, dir, strlen(dir));
    pr__tb_puts(out, ",\"reason\":");
    if (reason) pr__tb_json_str(out, reason, strlen(reason));
    else pr__tb_puts(out, "null");
    pr__tb_puts(out, ",\"detail\":");
    pr__tb_put(out, detail.p, detail.len);
    pr__tb_puts(out, "}\n");
    if (!s->o.quiet)
        pr_log(PR_LOG_INFO, "serve: retrain requested in registry %s%s%s", dir,
               reason ? ": " : "", reason ? reason : "");
done:
    if (st != PR_OK) pr__json_error(out, err.msg);
    free(reason);
    pr__tb_free(&detail);
    pr_json_keys_free(keys);
    pr_arena_free(&arena);
    return json;
}
