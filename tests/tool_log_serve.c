/*
 * tool_log_serve.c: a test tool that writes the event log a server run
 * with `--log --log-features 1` would have written for a stream, without
 * the server (tests/cli_skew.sh; the end-to-end test with a real server is
 * there too once serve logs features):
 *
 *   tool_log_serve --spec S --data DIR [--candidate-key ad_id] [--every N] URI
 *
 * replays the spec's event files in order (pr_fs_build, no outputs) and,
 * for every impression, appends a features record (docs/log.md: request_id
 * = the impression_id as text, the candidate key's value, "row" = the
 * columns assembled as of the impression's ts, as text, null when absent)
 * when its impression_id % N == 0 (--every, default 1), then the event
 * record itself (the line as read); other events as event records. What
 * the features record holds is build-dataset's CSV row of the impression,
 * so `pronto skew` finds no difference and `build-dataset
 * --logged-features` gives build-dataset's output for the logged
 * impressions. Exit 0, or 1 with the error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"
#include "pronto/fstore.h"
#include "pronto/log.h"

typedef struct ctx {
    pr_event_log *log;
    const char *cand;
    pr_json_keys *keys;
    uint64_t every;
    char *buf;
    size_t len, cap;
} ctx;

static int put(ctx *c, const char *p, size_t n) {
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 65536;
        while (cap < c->len + n) cap *= 2;
        char *b = realloc(c->buf, cap);
        if (!b) return 0;
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    return 1;
}

static int put_str(ctx *c, pr_bytes s) {
    if (!put(c, "\"", 1)) return 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            if (!put(c, esc, 2)) return 0;
        } else if (ch < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            if (!put(c, esc, 6)) return 0;
        } else if (!put(c, (const char *)&ch, 1)) {
            return 0;
        }
    }
    return put(c, "\"", 1);
}

static pr_status on_event(void *vc, pr_bytes line, const pr_fs_event *ev, pr_fs *fs,
                          const pr_fs_row *row, pr_arena *arena, pr_err *err) {
    ctx *c = vc;
    if (row && ev->has_impression_id && ev->impression_id % c->every == 0) {
        pr_json_value v[1];
        if (pr_json_scan(c->keys, line.ptr, line.len, arena, v, err) != PR_OK) return err->status;
        char head[128];
        c->len = 0;
        int n = snprintf(head, sizeof head, "{\"request_id\":\"%llu\",\"ts\":%lld,"
                         "\"model_version\":\"tool\",",
                         (unsigned long long)ev->impression_id, (long long)ev->ts_ms);
        int ok = put(c, head, (size_t)n) && put_str(c, pr_bytes_of(c->cand, strlen(c->cand))) &&
                 put(c, ":", 1);
        if (v[0].kind == PR_JSON_STRING) ok = ok && put_str(c, v[0].text);
        else if (v[0].kind == PR_JSON_NUMBER) ok = ok && put(c, v[0].text.ptr, v[0].text.len);
        else ok = ok && put(c, "null", 4);
        ok = ok && put(c, ",\"row\":{", 8);
        for (uint32_t k = 0; ok && k < pr_fs_n_columns(fs); k++) {
            const char *name = pr_fs_column_name(fs, k);
            pr_bytes t = pr_fs_row_text(fs, row, k, arena);
            ok = (!k || put(c, ",", 1)) && put_str(c, pr_bytes_of(name, strlen(name))) &&
                 put(c, ":", 1) && (t.len ? put_str(c, t) : put(c, "null", 4));
        }
        ok = ok && put(c, "}}", 2);
        if (!ok) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        pr_log_entry e = {PR_LOG_TYPE_FEATURES, ev->ts_ms, pr_bytes_of(c->buf, c->len)};
        pr_status rc = pr_log_append(c->log, &e, 1, NULL, err);
        if (rc != PR_OK) return rc;
    }
    pr_log_entry e = {PR_LOG_TYPE_EVENT, ev->has_ts ? ev->ts_ms : 0, line};
    return pr_log_append(c->log, &e, 1, NULL, err);
}

int main(int argc, char **argv) {
    const char *spec_path = NULL, *data = NULL, *uri = NULL;
    ctx c;
    memset(&c, 0, sizeof c);
    c.cand = "ad_id";
    c.every = 1;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--spec") && a + 1 < argc) spec_path = argv[++a];
        else if (!strcmp(argv[a], "--data") && a + 1 < argc) data = argv[++a];
        else if (!strcmp(argv[a], "--candidate-key") && a + 1 < argc) c.cand = argv[++a];
        else if (!strcmp(argv[a], "--every") && a + 1 < argc) c.every = strtoull(argv[++a], NULL, 10);
        else uri = argv[a];
    }
    if (!spec_path || !uri || !c.every) {
        fprintf(stderr, "usage: tool_log_serve --spec S --data DIR [--candidate-key K] "
                        "[--every N] URI\n");
        return 1;
    }
    pr_err err;
    pr_err_clear(&err);
    pr_spec *spec = NULL;
    pr_status rc = pr_spec_load(spec_path, &spec, &err);
    const char *names[1] = {c.cand};
    if (rc == PR_OK) rc = pr_json_keys_new(names, 1, &c.keys, &err);
    if (rc == PR_OK) rc = pr_log_open(uri, PR_LOG_WRITE, &c.log, &err);
    if (rc == PR_OK) {
        pr_fs_build_opts o = {.data_dir = data, .on_event = on_event, .on_event_ctx = &c};
        pr_fs_build_stats st;
        rc = pr_fs_build(spec, &o, &st, &err);
    }
    if (rc != PR_OK) fprintf(stderr, "tool_log_serve: %s\n", err.msg);
    pr_log_close(c.log);
    pr_json_keys_free(c.keys);
    pr_spec_free(spec);
    free(c.buf);
    return rc == PR_OK ? 0 : 1;
}
