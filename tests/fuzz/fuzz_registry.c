/*
 * fuzz_registry.c: arbitrary bytes as the files a model registry reads
 * back (registry.h): the input, cut at "\n--\n" separators, becomes
 * history.jsonl, aliases/production and versions/v000001/meta.json of a
 * registry holding one real version, then requests/retrain (a pending
 * request: merged by a new request, then taken); its first line is also
 * parsed as a registry: URI. Then every reader runs (list, aliases, resolve, get,
 * verify, history) and the writers that replay the history (note, which
 * reconciles it with the files; rollback; gc as a dry run). Must never
 * crash or leak; every failure must explain itself; after a write that
 * succeeded, every history line is a JSON object with an op.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pronto/model.h"
#include "pronto/registry.h"

static char dir[64];

static void cleanup(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static void setup(void) {
    if (dir[0]) return;
    snprintf(dir, sizeof dir, "/tmp/pronto-fuzz-reg-XXXXXX");
    if (!mkdtemp(dir)) abort();
    atexit(cleanup);
    pr_log_set_level(PR_LOG_ERROR);
    pr_err err;
    pr_model_params p;
    pr_model_params_default(&p, PR_MODEL_KIND_LR);
    p.hash_bits = 6;
    pr_model *m;
    char model[128], reg[128], id[PR_REGISTRY_ID_MAX];
    snprintf(model, sizeof model, "%s/m.pm", dir);
    snprintf(reg, sizeof reg, "%s/r", dir);
    pr_registry *r;
    if (pr_model_new(&p, &m, &err) || pr_model_save(m, model, &err) ||
        pr_registry_open(reg, PR_REGISTRY_CREATE, &r, &err) ||
        pr_registry_register(r, model, NULL, id, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        abort();
    }
    pr_model_free(m);
    pr_registry_close(r);
}

static void put(const char *rel, const uint8_t *p, size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/r/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(p, 1, n, f) != n) abort();
    fclose(f);
}

static void explained(pr_status s, const pr_err *err) {
    if (s != PR_OK && !err->msg[0]) abort();
}

static void history_parses(pr_registry *r) {
    pr_err err;
    char *text;
    size_t len;
    if (pr_registry_history(r, &text, &len, &err) != PR_OK) return;
    for (char *p = text, *nl; (nl = memchr(p, '\n', len - (size_t)(p - text))); p = nl + 1) {
        if (nl == p) continue; /* empty lines are skipped by the registry too */
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);
        if (!j || !json_string_value(json_object_get(j, "op"))) abort();
        json_decref(j);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    const uint8_t *part[4] = {data, NULL, NULL, NULL};
    size_t len[4] = {size, 0, 0, 0};
    for (int k = 1; k < 4; k++) { /* cut at "\n--\n" */
        const uint8_t *p = part[k - 1], *end = p + len[k - 1], *hit = NULL;
        for (const uint8_t *q = p; q + 4 <= end; q++)
            if (!memcmp(q, "\n--\n", 4)) {
                hit = q;
                break;
            }
        if (!hit) break;
        len[k - 1] = (size_t)(hit - p);
        part[k] = hit + 4;
        len[k] = (size_t)(end - part[k]);
    }
    char uri[512], d[PR_REGISTRY_PATH_MAX], a[PR_REGISTRY_ID_MAX];
    size_t ul = 0;
    while (ul < size && ul < sizeof uri - 1 && data[ul] != '\n' && data[ul]) ul++;
    memcpy(uri, data, ul);
    uri[ul] = '\0';
    (void)pr_registry_uri(uri, d, a);

    put("history.jsonl", part[0], len[0]);
    if (part[1]) put("aliases/production", part[1], len[1]);
    else {
        char path[256];
        snprintf(path, sizeof path, "%s/r/aliases/production", dir);
        unlink(path);
    }
    if (part[2]) put("versions/v000001/meta.json", part[2], len[2]);
    {
        char path[256];
        snprintf(path, sizeof path, "%s/r/requests", dir);
        mkdir(path, 0755);
        if (part[3]) put("requests/retrain", part[3], len[3]);
        else {
            snprintf(path, sizeof path, "%s/r/requests/retrain", dir);
            unlink(path);
        }
    }

    char reg[128];
    snprintf(reg, sizeof reg, "%s/r", dir);
    pr_err err;
    err.msg[0] = '\0';
    pr_registry *r;
    pr_status s = pr_registry_open(reg, 0, &r, &err);
    explained(s, &err);
    if (s != PR_OK) return 0;
    pr_registry_entry *v;
    pr_registry_alias *al;
    size_t n;
    char id[PR_REGISTRY_ID_MAX], path[PR_REGISTRY_PATH_MAX], *text;
    err.msg[0] = '\0';
    if ((s = pr_registry_list(r, &v, &n, &err)) == PR_OK) free(v);
    explained(s, &err);
    err.msg[0] = '\0';
    if ((s = pr_registry_aliases(r, &al, &n, &err)) == PR_OK) free(al);
    explained(s, &err);
    err.msg[0] = '\0';
    explained(pr_registry_resolve(r, "production", id, path, &err), &err);
    err.msg[0] = '\0';
    explained(pr_registry_verify(r, "production", &err), &err);
    err.msg[0] = '\0';
    if ((s = pr_registry_get(r, "production", &text, &err)) == PR_OK) free(text);
    explained(s, &err);
    size_t hl;
    if (pr_registry_history(r, &text, &hl, &err) == PR_OK) free(text);
    err.msg[0] = '\0';
    s = pr_registry_note(r, "fuzz", NULL, "x", NULL, &err);
    explained(s, &err);
    if (s == PR_OK) history_parses(r);
    err.msg[0] = '\0';
    s = pr_registry_rollback(r, "production", "fuzz", id, &err);
    explained(s, &err);
    if (s == PR_OK) history_parses(r);
    err.msg[0] = '\0';
    if ((s = pr_registry_gc(r, 0, 1, &al, &n, &err)) == PR_OK) free(al);
    explained(s, &err);
    /* A pending request as found: take it (a damaged one is removed), or
     * merge a new one into it and take that, which must be an object. */
    err.msg[0] = '\0';
    s = (len[3] & 1) ? pr_registry_take_request(r, "retrain", &text, &err)
                     : pr_registry_request(r, "retrain", "fuzz", "{\"x\":1}", &err);
    explained(s, &err);
    if (s == PR_OK && (len[3] & 1)) free(text);
    if (s == PR_OK && !(len[3] & 1)) {
        history_parses(r);
        err.msg[0] = '\0';
        if (pr_registry_take_request(r, "retrain", &text, &err) != PR_OK) abort();
        json_t *j = json_loads(text, 0, NULL);
        if (!json_is_object(j) || json_integer_value(json_object_get(j, "count")) < 1) abort();
        json_decref(j);
        free(text);
    }
    pr_registry_close(r);
    return 0;
}
