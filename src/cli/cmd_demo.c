/*
 * cmd_demo.c: `pronto demo`, the README's main job on embedded defaults.
 *
 *   simulate a week of ad traffic and one more "live" day (pr_sim): the
 *   event stream and the entity tables, with every impression's true click
 *   probability kept aside for the test day; the live day's events go to
 *   DIR/live, apart -> the feature store builds point-in-time datasets from
 *   the raw events (pr_fs_build with the embedded specs/sim-store.yaml: days
 *   1-5 train, day 6 validation, day 7 test) -> train FTRL-LR and FFM
 *   (early stopping on day 6) through `pronto train --dataset` (the real
 *   command, in process) -> evaluate both on day 7 next to the
 *   Bayes-optimal predictor -> a model registry DIR/registry whose
 *   production alias names the FFM model; the event log DIR/log gets the
 *   history's events -> start the HTTP server (pr_server, what `pronto
 *   serve --model registry:DIR` runs) on a loopback port with that log,
 *   over an in-process store filled from the history, and send it the live
 *   day over keep-alive HTTP: each sampled impression's predict request
 *   (logging its feature row), then the events; one more predict request
 *   for a slate of ads, print the ranked answer -> from the server's log:
 *   `pronto skew` (logged rows vs point-in-time rebuild), and one `pronto
 *   retrain` cycle (warm start from production, the gate on the newest
 *   matured hours, promotion); the running server follows the move and
 *   answers with the new version -> stop the server cleanly.
 *
 * Everything goes into a work folder (--dir, default ./pronto-demo) that
 * the user can look into afterwards: the spec, the data, the models.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/fstore.h"
#include "pronto/log.h"
#include "pronto/registry.h"
#include "pronto/retrain.h"
#include "pronto/serve.h"
#include "pronto/sim.h"
#include "pronto/train.h"

/* The feature-store spec for the simulator's stream (docs/events.md): the
 * text of specs/sim-store.yaml, compiled in by CMakeLists.txt. */
const char *pr_demo_spec_yaml(void);

#define N_CANDIDATES 10

typedef struct sim_ctx {
    pr_metrics *bayes;       /* true p vs label on the test day */
    int64_t start_ms, valid_ms, test_ms, end_ms;
    int64_t live_ms;         /* start of the live day (kept out of dir) */
    uint64_t live_events, live_impressions;
    uint64_t events, n[3];   /* impressions per split */
    /* the sample request of step 6: the last impression's context and
     * the ads of the last N_CANDIDATES impressions */
    char req[5][32];
    char ads[N_CANDIDATES][16];
    uint32_t n_ads;
} sim_ctx;

/* Simulates days + 1 days: the first `days` into dir (the history the
 * models learn from), the last one into live_dir (the traffic step 6 sends
 * to the server as it would arrive). */
static pr_status simulate(const char *dir, const char *live_dir, uint64_t seed, double days,
                          double rate, sim_ctx *c, pr_err *err) {
    pr_sim_config cfg;
    pr_sim_config_default(&cfg);
    cfg.seed = seed;
    cfg.duration_s = (days + 1) * 86400.0;
    cfg.imp_rate = rate;
    pr_sim *sim = NULL;
    pr_sim_output *out = NULL, *live = NULL;
    pr_sim_output_options o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    pr_sim_output_options lo;
    memset(&lo, 0, sizeof lo);
    lo.dir = live_dir;
    pr_status s = pr_sim_output_open(&o, NULL, &out, err);
    if (s == PR_OK) s = pr_sim_output_open(&lo, NULL, &live, err);
    if (s == PR_OK) s = pr_sim_new(&cfg, &sim, err);
    if (s == PR_OK) s = pr_sim_write_entities(sim, dir, err);
    c->start_ms = cfg.start_ms;
    c->valid_ms = cfg.start_ms + (int64_t)((days - 2) * 86400.0 * 1000.0);
    c->test_ms = cfg.start_ms + (int64_t)((days - 1) * 86400.0 * 1000.0);
    c->live_ms = cfg.start_ms + (int64_t)(days * 86400.0 * 1000.0);
    pr_progress prog;
    pr_progress_start(&prog, "simulate", 0);
    pr_sim_event ev;
    while (s == PR_OK) {
        s = pr_sim_next(sim, &ev, err);
        if (s == PR_EOF) {
            s = PR_OK;
            break;
        }
        if (s != PR_OK) break;
        if (ev.type != PR_SIM_EVENT_SCENARIO && ev.ts_ms >= c->live_ms) {
            c->live_events++;
            c->live_impressions += ev.type == PR_SIM_EVENT_IMPRESSION;
            s = pr_sim_output_write(live, &ev, err);
            continue;
        }
        if (ev.type != PR_SIM_EVENT_SCENARIO) c->events++;
        s = pr_sim_output_write(out, &ev, err);
        if (s != PR_OK || ev.type != PR_SIM_EVENT_IMPRESSION) continue;
        c->end_ms = ev.ts_ms;
        int split = ev.ts_ms < c->valid_ms ? 0 : ev.ts_ms < c->test_ms ? 1 : 2;
        c->n[split]++;
        if (split == 2) s = pr_metrics_add(c->bayes, ev.p_label, (float)ev.label, 1.0f);
        snprintf(c->req[0], sizeof c->req[0], "%u", ev.user_id);
        snprintf(c->req[1], sizeof c->req[1], "%u", ev.site_id);
        snprintf(c->req[2], sizeof c->req[2], "%s",
                 pr_sim_value_name(PR_SIM_VALUE_DEVICE, ev.device));
        snprintf(c->req[3], sizeof c->req[3], "%u", ev.position);
        char ad[16];
        snprintf(ad, sizeof ad, "%u", ev.ad_id);
        int seen = 0;
        for (uint32_t i = 0; i < N_CANDIDATES && i < c->n_ads; i++)
            seen |= !strcmp(c->ads[i], ad);
        if (!seen) memcpy(c->ads[c->n_ads++ % N_CANDIDATES], ad, sizeof ad);
        if ((c->events & 0xffff) == 0) pr_progress_update(&prog, c->events, NULL, 0);
    }
    pr_progress_end(&prog);
    if (out) {
        pr_status s2 = pr_sim_output_close(out, s == PR_OK ? err : NULL);
        if (s == PR_OK) s = s2;
    }
    if (live) {
        pr_status s2 = pr_sim_output_close(live, s == PR_OK ? err : NULL);
        if (s == PR_OK) s = s2;
    }
    pr_sim_free(sim);
    if (c->n_ads > N_CANDIDATES) c->n_ads = N_CANDIDATES;
    return s;
}

static int run_cmd(int (*fn)(int, char **), char **argv) {
    int argc = 0;
    while (argv[argc]) argc++;
    return fn(argc, argv);
}

typedef struct eval_ctx {
    const pr_model *model;
    pr_metrics *m;
} eval_ctx;

static pr_status eval_one(void *vctx, pr_example *x, const pr_record *rec, pr_err *err) {
    (void)rec;
    eval_ctx *c = vctx;
    return pr_metrics_add(c->m, pr_model_predict(c->model, x), x->label, x->weight);
}

/* The model's metrics on a dataset built by the feature store. */
static pr_status evaluate(const char *model_path, const char *test_path,
                          pr_metrics_report *out, pr_err *err) {
    pr_model *model = NULL;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    eval_ctx c = {NULL, NULL};
    pr_status s = cli_open_model(model_path, &model, &spec, &fz, err);
    if (s == PR_OK) s = pr_metrics_new(&c.m, err);
    if (s == PR_OK) {
        c.model = model;
        s = pr_dataset_for_each(test_path, fz, pr_model_filter(model), eval_one, &c, err);
    }
    if (s == PR_OK) s = pr_metrics_compute(c.m, out, err);
    pr_metrics_free(c.m);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    pr_model_free(model);
    return s;
}

static void row(const char *name, const pr_metrics_report *r, const pr_metrics_report *bayes) {
    printf("  %-22s %9.5f %7.4f %8.5f %8.4f", name, r->log_loss, r->ne, r->auc, r->calibration);
    if (bayes) printf("   %+6.2f%%", 100.0 * (r->log_loss - bayes->log_loss) / bayes->log_loss);
    printf("\n");
}

/* One HTTP/1.1 request over loopback, answer read until the server closes
 * (Connection: close). *body points into buf. Returns the status code, or
 * -1 on a socket error. */
static int http_call(uint16_t port, const char *method, const char *path, const char *json,
                     char *buf, size_t cap, const char **body) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = -1;
    size_t n = 0;
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, json ? strlen(json) : 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, head, (size_t)hl) != hl ||
        (json && write(fd, json, strlen(json)) != (ssize_t)strlen(json)))
        goto out;
    for (ssize_t r; n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0;) n += (size_t)r;
    buf[n] = '\0';
    const char *sep = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1 || !sep) status = -1;
    *body = sep ? sep + 4 : buf + n;
out:
    close(fd);
    return status;
}

/* A keep-alive HTTP/1.1 client for the replay of step 6: one connection,
 * requests in order, each answer read to its Content-Length. */
typedef struct kconn {
    int fd;
    uint16_t port;
    char *buf;       /* the last answer (headers and body) */
    size_t cap;
} kconn;

static int kconn_open(kconn *k, uint16_t port) {
    k->port = port;
    k->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (k->fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(k->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(k->fd);
        k->fd = -1;
        return -1;
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One request on the open connection (kconn_post). */
static int kconn_post1(kconn *k, const char *path, const char *body, size_t len,
                       const char **answer) {
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      path, len);
    if (k->fd < 0 && kconn_open(k, k->port) != 0) return -1;
    if (write_all(k->fd, head, (size_t)hl) || write_all(k->fd, body, len)) return -1;
    size_t n = 0, need = 0;
    char *sep = NULL;
    for (;;) {
        if (n + 4096 > k->cap) {
            size_t nc = k->cap ? 2 * k->cap : 65536;
            char *nb = realloc(k->buf, nc);
            if (!nb) return -1;
            k->buf = nb;
            k->cap = nc;
        }
        if (sep && n >= need) break;
        ssize_t r = read(k->fd, k->buf + n, k->cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        n += (size_t)r;
        k->buf[n] = 0;
        if (!sep && (sep = strstr(k->buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(k->buf, "\r\nContent-Length:");
            if (!cl || cl > sep) return -1;
            need = (size_t)(sep + 4 - k->buf) + strtoull(cl + 17, NULL, 10);
        }
    }
    int status = -1;
    if (sscanf(k->buf, "HTTP/1.1 %d", &status) != 1) return -1;
    k->buf[need] = 0;
    *answer = sep + 4;
    return status;
}

/* POSTs body to path; returns the status (-1: the connection failed) and
 * points *answer at the body (NUL-terminated, in k->buf). A kept-alive
 * connection the server closed in between (its idle timeout, or it
 * answered "Connection: close") is reopened once. */
static int kconn_post(kconn *k, const char *path, const char *body, size_t len,
                      const char **answer) {
    int st = kconn_post1(k, path, body, len, answer);
    if (st >= 0 && !strcasestr(k->buf, "\r\nConnection: close")) return st;
    if (k->fd >= 0) close(k->fd);
    k->fd = -1;
    if (st >= 0) return st;
    if (kconn_open(k, k->port) != 0) return -1;
    return kconn_post1(k, path, body, len, answer);
}

static void kconn_close(kconn *k) {
    if (k->fd >= 0) close(k->fd);
    free(k->buf);
    memset(k, 0, sizeof *k);
    k->fd = -1;
}

/* A growable byte buffer for the replay's request bodies. */
typedef struct gbuf {
    char *p;
    size_t len, cap;
} gbuf;

static int gbuf_add(gbuf *b, const char *data, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 65536;
        while (nc < b->len + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) return -1;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

typedef struct replay_stats {
    uint64_t predicts, event_posts, events_applied, events_refused;
    double seconds;
    double p50_us, p99_us;   /* predict round trips, client side */
} replay_stats;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* POSTs the pending event lines to /v1/events. */
static pr_status flush_events(kconn *k, gbuf *pend, replay_stats *rs, pr_err *err) {
    if (!pend->len) return PR_OK;
    const char *ans = NULL;
    int st = kconn_post(k, "/v1/events", pend->p, pend->len, &ans);
    if (st != 200)
        return pr_err_set(err, PR_ERR_IO, "POST /v1/events: HTTP %d: %.300s", st,
                          ans ? ans : "no answer");
    json_error_t je;
    json_t *a = json_loads(ans, 0, &je);
    rs->events_applied += (uint64_t)json_integer_value(json_object_get(a, "applied"));
    rs->events_refused += (uint64_t)json_integer_value(json_object_get(a, "rejected"));
    json_decref(a);
    rs->event_posts++;
    pend->len = 0;
    return PR_OK;
}

/* Sends the live day to the server as it would arrive: every event to
 * /v1/events, and before every `every`-th impression (by id) the predict
 * request that served it (its request id is the impression id, its time
 * the impression's, the shown ad the candidate), after the events before
 * it are in the store. (Scoring one impression in `every` keeps the demo
 * short: each predict needs its own events post before it.) */
static pr_status replay_live(uint16_t port, const char *live_dir, uint64_t every,
                             replay_stats *rs, pr_err *err) {
    memset(rs, 0, sizeof *rs);
    kconn k = {.fd = -1};
    if (kconn_open(&k, port) != 0)
        return pr_err_errno(err, PR_ERR_IO, errno, "connect to 127.0.0.1:%u", port);
    gbuf pend = {0}, req = {0};
    double *lat = NULL;
    size_t nlat = 0, caplat = 0;
    pr_status s = PR_OK;
    double t0 = pr_now();
    char path[4200];
    for (unsigned fi = 0; s == PR_OK; fi++) {
        snprintf(path, sizeof path, "%s/events-%06u.jsonl", live_dir, fi);
        FILE *f = fopen(path, "r");
        if (!f) break;
        char *line = NULL;
        size_t lcap = 0;
        ssize_t n;
        while (s == PR_OK && (n = getline(&line, &lcap, f)) > 0) {
            static const char imp_prefix[] = "{\"type\":\"impression\"";
            const char *idp = strstr(line, "\"impression_id\":");
            if (!strncmp(line, imp_prefix, sizeof imp_prefix - 1) && idp &&
                strtoull(idp + 16, NULL, 10) % every == 0) {
                json_error_t je;
                json_t *ev = json_loadb(line, (size_t)n, 0, &je);
                char body[1024];
                int bl = snprintf(
                    body, sizeof body,
                    "{\"request_id\":\"%lld\",\"ts\":%lld,\"user_id\":%lld,"
                    "\"context\":{\"site_id\":%lld,\"device\":\"%s\",\"position\":%lld},"
                    "\"candidates\":[{\"ad_id\":%lld}]}",
                    (long long)json_integer_value(json_object_get(ev, "impression_id")),
                    (long long)json_integer_value(json_object_get(ev, "ts")),
                    (long long)json_integer_value(json_object_get(ev, "user_id")),
                    (long long)json_integer_value(json_object_get(ev, "site_id")),
                    json_string_value(json_object_get(ev, "device"))
                        ? json_string_value(json_object_get(ev, "device"))
                        : "",
                    (long long)json_integer_value(json_object_get(ev, "position")),
                    (long long)json_integer_value(json_object_get(ev, "ad_id")));
                json_decref(ev);
                s = flush_events(&k, &pend, rs, err);
                if (s != PR_OK) break;
                const char *ans = NULL;
                double t1 = pr_now();
                int st = kconn_post(&k, "/v1/predict", body, (size_t)bl, &ans);
                if (st != 200) {
                    s = pr_err_set(err, PR_ERR_IO, "POST /v1/predict: HTTP %d: %.300s", st,
                                   ans ? ans : "no answer");
                    break;
                }
                if (nlat == caplat) {
                    caplat = caplat ? 2 * caplat : 65536;
                    double *nl = realloc(lat, caplat * sizeof *lat);
                    if (!nl) {
                        s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
                        break;
                    }
                    lat = nl;
                }
                lat[nlat++] = (pr_now() - t1) * 1e6;
                rs->predicts++;
            }
            if (gbuf_add(&pend, line, (size_t)n) != 0)
                s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
            else if (pend.len > 256 * 1024) /* well under --max-body */
                s = flush_events(&k, &pend, rs, err);
        }
        free(line);
        fclose(f);
    }
    if (s == PR_OK) s = flush_events(&k, &pend, rs, err);
    rs->seconds = pr_now() - t0;
    if (nlat) {
        qsort(lat, nlat, sizeof *lat, cmp_double);
        rs->p50_us = lat[nlat / 2];
        rs->p99_us = lat[(size_t)((double)nlat * 0.99)];
    }
    free(lat);
    free(pend.p);
    free(req.p);
    kconn_close(&k);
    return s;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The history, as if the server had logged it from the start: every event
 * line of dir's events-*.jsonl files, in order, as an event record of a
 * fresh log at log_dir (a previous run's log is removed first). */
static pr_status import_history(const char *data_dir, const char *log_dir, uint64_t *n_out,
                                pr_err *err) {
    *n_out = 0;
    nftw(log_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    char uri[4200];
    snprintf(uri, sizeof uri, "log:%s?fsync=off", log_dir);
    pr_event_log *log = NULL;
    pr_status s = pr_log_open(uri, PR_LOG_WRITE, &log, err);
    enum { BATCH = 1024 };
    pr_log_entry *recs = calloc(BATCH, sizeof *recs);
    char **lines = calloc(BATCH, sizeof *lines);
    size_t *caps = calloc(BATCH, sizeof *caps);
    if (s == PR_OK && (!recs || !lines || !caps)) s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    uint32_t n = 0;
    char path[4200];
    for (unsigned fi = 0; s == PR_OK; fi++) {
        snprintf(path, sizeof path, "%s/events-%06u.jsonl", data_dir, fi);
        FILE *f = fopen(path, "r");
        if (!f) break;
        ssize_t len;
        while (s == PR_OK && (len = getline(&lines[n], &caps[n], f)) > 0) {
            while (len && (lines[n][len - 1] == '\n' || lines[n][len - 1] == '\r')) len--;
            const char *ts = strstr(lines[n], "\"ts\":");
            recs[n].type = PR_LOG_TYPE_EVENT;
            recs[n].ts_ms = ts ? strtoll(ts + 5, NULL, 10) : 0;
            recs[n].payload = pr_bytes_of(lines[n], (size_t)len);
            if (++n == BATCH) {
                s = pr_log_append(log, recs, n, NULL, err);
                *n_out += n;
                n = 0;
            }
        }
        fclose(f);
    }
    if (s == PR_OK && n) {
        s = pr_log_append(log, recs, n, NULL, err);
        *n_out += n;
    }
    for (uint32_t i = 0; lines && i < BATCH; i++) free(lines[i]);
    free(lines);
    free(caps);
    free(recs);
    pr_log_close(log);
    return s;
}

/* The sample predict request: the last history impression's user and
 * context, the ads of the last N_CANDIDATES impressions as candidates. */
static void sample_request(const sim_ctx *sc, char *req, size_t cap) {
    size_t o = (size_t)snprintf(req, cap,
                                "{\"user_id\":%s,\"context\":{\"site_id\":%s,\"device\":\"%s\","
                                "\"position\":%s},\"ts\":%lld,\"candidates\":[",
                                sc->req[0], sc->req[1], sc->req[2], sc->req[3],
                                (long long)sc->end_ms);
    for (uint32_t i = 0; i < sc->n_ads && o < cap - 64; i++)
        o += (size_t)snprintf(req + o, cap - o, "%s{\"ad_id\":%s}", i ? "," : "", sc->ads[i]);
    snprintf(req + o, cap - o, "]}");
}

/* Step 6: the online path and its log. `pronto serve`'s server starts in
 * process on a free loopback port with the event log on, materializes the
 * history into its in-process store, and is sent the live day over real
 * HTTP (replay_live); then it answers one predict request for a slate of
 * ads, and drains and stops. */
static pr_status serve_live(const char *data_dir, const char *spec_path, const char *model_uri,
                            const char *live_dir, const char *log_uri, const sim_ctx *sc,
                            pr_server **out, pr_err *err) {
    pr_server_opts o;
    pr_server_opts_default(&o);
    o.model_path = model_uri;
    o.spec_path = spec_path;
    o.store_uri = "mem:";
    o.data_dir = data_dir;
    o.listen = "127.0.0.1:0";
    o.log_uri = log_uri;
    o.log_features = 1.0;
    /* simulated time is in the past: take events of any age */
    o.max_event_age_ms = INT64_C(100) * 365 * 86400 * 1000;
    o.quiet = 1;
    pr_server *srv = NULL;
    double t0 = pr_now();
    pr_status s = pr_server_start(&o, &srv, err);
    if (s != PR_OK) return s;
    uint16_t port = pr_server_port(srv);
    printf("   pronto serve listening on 127.0.0.1:%u (model %s, store mem: filled\n"
           "   from the history in %.1f s, event log %s)\n", port, model_uri, pr_now() - t0,
           log_uri);
    fflush(stdout);
    replay_stats rs;
    uint64_t every = sc->live_impressions / 10000 + 1;
    s = replay_live(port, live_dir, every, &rs, err);
    if (s != PR_OK) {
        pr_server_shutdown(srv, 5.0);
        pr_server_free(srv);
        return s;
    }
    printf("   the live day (%llu events, %llu impressions) sent as it would arrive, in %.1f s:\n"
           "   %llu POST /v1/events (%llu applied, %llu refused; each accepted event is in the\n"
           "   log before its 200) and %llu POST /v1/predict, one per %s before it\n"
           "   (request_id = impression id; round trip p50 %.0f us, p99 %.0f us), each\n"
           "   logged with the feature row the model was given\n",
           (unsigned long long)sc->live_events, (unsigned long long)sc->live_impressions,
           rs.seconds, (unsigned long long)rs.event_posts, (unsigned long long)rs.events_applied,
           (unsigned long long)rs.events_refused, (unsigned long long)rs.predicts,
           every == 1 ? "impression" : "sampled impression", rs.p50_us, rs.p99_us);
    char req[2048], buf[16384];
    sample_request(sc, req, sizeof req);
    printf("   POST /v1/predict %.100s...\n", req);
    const char *body = NULL;
    int status = -1;
    double rt_us = 0;
    /* Three times: the last answer shows warm caches, as in steady serving. */
    for (int k = 0; k < 3; k++) {
        double t1 = pr_now();
        status = http_call(port, "POST", "/v1/predict", req, buf, sizeof buf, &body);
        rt_us = (pr_now() - t1) * 1e6;
        if (status != 200) break;
    }
    if (status != 200) {
        s = pr_err_set(err, PR_ERR_IO, "POST /v1/predict: HTTP %d: %s", status,
                       body ? body : "no answer");
    } else {
        json_error_t je;
        json_t *ans = json_loads(body, 0, &je);
        json_t *preds = json_object_get(ans, "predictions");
        printf("   -> HTTP 200 (third call), model_version %s, took_us %lld on the server,\n"
               "   %.0f us round trip:\n",
               json_string_value(json_object_get(ans, "model_version")),
               (long long)json_integer_value(json_object_get(ans, "took_us")), rt_us);
        printf("   %4s %-8s %9s\n", "rank", "ad", "p(click)");
        for (size_t i = 0; i < json_array_size(preds); i++) {
            json_t *pi = json_array_get(preds, i);
            printf("   %4zu %-8lld %9.4f\n", i + 1,
                   (long long)json_integer_value(json_object_get(pi, "ad_id")),
                   json_real_value(json_object_get(pi, "p")));
        }
        json_decref(ans);
        printf("   (each ad's click probability for this user and context, from features as\n"
               "   of the end of the stream; docs/api.md has the API)\n");
        status = http_call(port, "GET", "/metrics", NULL, buf, sizeof buf, &body);
        const char *m = status == 200 ? strstr(body, "\npronto_candidates_scored_total ") : NULL;
        if (m) printf("   GET /metrics: %.*s\n", (int)strcspn(m + 1, "\n"), m + 1);
    }
    if (s != PR_OK) {
        pr_server_shutdown(srv, 5.0);
        pr_server_free(srv);
        return s;
    }
    *out = srv;
    return PR_OK;
}

/* Step 7 (a): what the log holds, by record type. */
static pr_status log_summary(const char *uri, const char *dir, pr_err *err) {
    pr_event_log *log = NULL;
    pr_status s = pr_log_open(uri, PR_LOG_READ, &log, err);
    if (s != PR_OK) return s;
    pr_log_stats st;
    pr_log_stats_get(log, &st);
    uint64_t by_type[4] = {0};
    pr_log_reader *r = NULL;
    s = pr_log_reader_open(log, NULL, &r, err);
    pr_log_record rec;
    while (s == PR_OK && (s = pr_log_next(r, &rec, err)) == PR_OK)
        by_type[rec.type < 4 ? rec.type : 0]++;
    if (s == PR_EOF) s = PR_OK;
    pr_log_reader_close(r);
    pr_log_close(log);
    if (s == PR_OK)
        printf("   the log: %llu records in %llu segments, %.0f MiB: %llu events, %llu predictions,\n"
               "   %llu feature rows (`pronto log stat log:%s` says more)\n",
               (unsigned long long)st.records, (unsigned long long)st.segments,
               (double)st.bytes / (1 << 20), (unsigned long long)by_type[PR_LOG_TYPE_EVENT],
               (unsigned long long)by_type[PR_LOG_TYPE_PREDICTION],
               (unsigned long long)by_type[PR_LOG_TYPE_FEATURES], dir);
    return s;
}

/* Step 6 (a): a fresh model registry DIR/registry whose production alias
 * names the FFM model (what `pronto registry register --alias production`
 * does); the server follows that alias. */
static pr_status registry_setup(const char *reg_dir, const char *model_path,
                                const pr_metrics_report *m, double days, char *id, pr_err *err) {
    nftw(reg_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); /* a previous run's */
    pr_registry *reg = NULL;
    pr_status s = pr_registry_open(reg_dir, PR_REGISTRY_CREATE, &reg, err);
    if (s != PR_OK) return s;
    char metrics[256], data[128], reason[96];
    snprintf(metrics, sizeof metrics,
             "{\"test_log_loss\":%.6f,\"test_ne\":%.6f,\"test_auc\":%.6f}", m->log_loss, m->ne,
             m->auc);
    snprintf(data, sizeof data, "{\"train\":\"days 1-%.0f\",\"test\":\"day %.0f\"}", days - 2,
             days);
    snprintf(reason, sizeof reason, "pronto demo: FFM trained on days 1-%.0f", days - 2);
    const char *reasons[] = {reason};
    pr_registry_version_opts v;
    pr_registry_version_opts_default(&v);
    v.metrics_json = metrics;
    v.data_json = data;
    v.command = "pronto demo";
    v.reasons = reasons;
    v.n_reasons = 1;
    s = pr_registry_register(reg, model_path, &v, id, err);
    if (s == PR_OK) s = pr_registry_set_alias(reg, "production", id, reason, 0, err);
    pr_registry_close(reg);
    return s;
}

static double jnum(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Step 7 (c): one cycle of `pronto retrain` (in process) at the end of
 * the live day, on the server's own log: production warm-started on the
 * newest days, both models scored on the newest matured hours, the gate,
 * and on a pass the alias moves. The server, still running, follows it:
 * the sample request is sent until another version answers it. */
static pr_status retrain_cycle(pr_server *srv, const char *reg_dir, const char *log_uri,
                               const char *spec_path, const char *data_dir, const sim_ctx *sc,
                               int threads, pr_err *err) {
    pr_registry *reg = NULL;
    pr_status s = pr_registry_open(reg_dir, 0, &reg, err);
    if (s != PR_OK) return s;
    pr_retrain_opts o;
    pr_retrain_opts_default(&o);
    o.events_uri = log_uri;
    o.spec_path = spec_path;
    o.data_dir = data_dir;
    o.command = "pronto demo";
    o.trigger = "demo: the end of the live day";
    o.now_ms = sc->live_ms + 86400 * 1000LL;
    o.train_window_ms = 3 * 86400 * 1000LL;
    o.holdout_ms = 6 * 3600 * 1000LL;
    o.policy = PR_RETRAIN_POLICY_WARM;
    o.passes = 1;
    o.threads = threads;
    pr_retrain_result res;
    memset(&res, 0, sizeof res);
    double t0 = pr_now();
    s = pr_retrain_cycle(reg, &o, &res, err);
    double promoted_at = pr_now();
    pr_registry_close(reg);
    if (s != PR_OK) {
        pr_retrain_result_free(&res);
        return s;
    }
    json_error_t je;
    json_t *d = json_loads(res.json ? res.json : "{}", 0, &je);
    json_t *cand = json_object_get(d, "candidate"), *prod = json_object_get(d, "production_metrics");
    printf("   pronto retrain --at <end of the live day> --policy warm --train-window 3d\n"
           "   --holdout 6h (the 2 h label lag before it), %.1f s:\n", pr_now() - t0);
    printf("  %-30s %9s %7s %8s %8s\n", "model (holdout: hours 16-22)", "log loss", "NE", "AUC",
           "calib.");
    char name[PR_REGISTRY_ID_MAX + 16];
    snprintf(name, sizeof name, "production %s", res.production);
    if (prod)
        printf("  %-30s %9.5f %7.4f %8.5f %8.4f\n", name, jnum(prod, "log_loss"), jnum(prod, "ne"),
               jnum(prod, "auc"), jnum(prod, "calibration"));
    snprintf(name, sizeof name, "candidate %s", res.version[0] ? res.version : "(none)");
    if (cand)
        printf("  %-30s %9.5f %7.4f %8.5f %8.4f\n", name, jnum(cand, "log_loss"), jnum(cand, "ne"),
               jnum(cand, "auc"), jnum(cand, "calibration"));
    printf("   the gate: %s\n", pr_retrain_decision_name(res.decision));
    json_t *reasons = json_object_get(d, "reasons");
    for (size_t i = 0; i < json_array_size(reasons); i++)
        printf("     - %s\n", json_string_value(json_array_get(reasons, i)));
    json_decref(d);
    printf("   (the decision is also a line of `pronto registry history %s`)\n", reg_dir);
    if (res.decision == PR_RETRAIN_PROMOTED) {
        /* the server stats the alias every 100 ms and reloads in the
         * background; requests keep being answered meanwhile */
        char req[2048], buf[16384];
        sample_request(sc, req, sizeof req);
        uint16_t port = pr_server_port(srv);
        int seen = 0;
        uint64_t answered = 0, failed = 0;
        while (!seen && pr_now() - promoted_at < 120.0) {
            const char *body = NULL;
            int status = http_call(port, "POST", "/v1/predict", req, buf, sizeof buf, &body);
            if (status != 200) {
                failed++;
                continue;
            }
            answered++;
            json_t *ans = json_loads(body, 0, &je);
            const char *v = json_string_value(json_object_get(ans, "registry_version"));
            seen = v && !strcmp(v, res.version);
            json_decref(ans);
        }
        if (seen)
            printf("   production -> %s: the running server answered with it %.2f s after the\n"
                   "   move (%llu requests meanwhile, %llu failed)\n",
                   res.version, pr_now() - promoted_at, (unsigned long long)answered,
                   (unsigned long long)failed);
        else
            s = pr_err_set(err, PR_ERR_IO, "the server did not follow production to %s in 120 s",
                           res.version);
    } else {
        printf("   production stays %s; the server keeps serving it\n", res.production);
    }
    pr_retrain_result_free(&res);
    return s;
}

static pr_status write_text(const char *path, const char *text, pr_err *err) {
    pr_atomic_file *f;
    pr_status s = pr_atomic_open(path, &f, err);
    if (s == PR_OK) s = pr_atomic_write(f, text, strlen(text), err);
    if (s == PR_OK) return pr_atomic_commit(f, err);
    pr_atomic_abort(f);
    return s;
}

int cmd_demo(int argc, char **argv) {
    const char *dir = "pronto-demo";
    unsigned long long seed = 1;
    double days = 7, rate = 3;
    long long threads = 2;
    pr_flag flags[] = {
        {"--dir", NULL, PR_FLAG_STRING, &dir, "DIR work folder for data and models; default ./pronto-demo", 0},
        {"--seed", NULL, PR_FLAG_UINT, &seed, "S simulator and training seed; default 1", 0},
        {"--days", NULL, PR_FLAG_DOUBLE, &days, "D simulated days (the last is the test set, the one before validation); default 7", 0},
        {"--rate", NULL, PR_FLAG_DOUBLE, &rate, "R impressions per simulated second; default 3 (about 1.8M a week)", 0},
        {"--threads", NULL, PR_FLAG_INT, &threads, "N training threads; default 2", 0},
    };
    char *pos[1];
    int n_pos = 0;
    int rc = pr_flags_parse("demo", "[--dir DIR] [--days D] [--seed S]", flags, 5, argc, argv, pos,
                            1, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos) return cli_usage_error("demo", "takes no arguments");
    if (!(days >= 3 && days <= 365) || days != floor(days))
        return cli_usage_error("demo", "--days must be a whole number in 3..365");
    if (!(rate > 0 && rate <= 1e5)) return cli_usage_error("demo", "--rate must be in (0, 100000]");
    if (threads < 1 || threads > 256) return cli_usage_error("demo", "--threads must be in 1..256");

    /* a kept-alive connection the server closed must be an error, not a kill */
    signal(SIGPIPE, SIG_IGN);
    pr_err err;
    pr_err_clear(&err);
    char data_dir[4096], spec_path[4096], train_path[4096], valid_path[4096], test_path[4096];
    char lr_path[4096], ffm_path[4096], live_dir[4096], log_dir[4096], log_uri[4200];
    char reg_dir[4096], reg_uri[4200];
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    snprintf(spec_path, sizeof spec_path, "%s/sim-store.yaml", dir);
    snprintf(train_path, sizeof train_path, "%s/train.pcache", dir);
    snprintf(valid_path, sizeof valid_path, "%s/valid.pcache", dir);
    snprintf(test_path, sizeof test_path, "%s/test.pcache", dir);
    snprintf(lr_path, sizeof lr_path, "%s/lr.pm", dir);
    snprintf(ffm_path, sizeof ffm_path, "%s/ffm.pm", dir);
    snprintf(live_dir, sizeof live_dir, "%s/live", dir);
    snprintf(log_dir, sizeof log_dir, "%s/log", dir);
    snprintf(log_uri, sizeof log_uri, "log:%s?fsync=batch:10", log_dir);
    snprintf(reg_dir, sizeof reg_dir, "%s/registry", dir);
    snprintf(reg_uri, sizeof reg_uri, "registry:%s", reg_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "pronto demo: %s: cannot create: %s\n", dir, strerror(errno));
        return PR_EXIT_FAIL;
    }

    printf("== 1. simulate %.0f days of ad traffic (seed %llu)\n", days, seed);
    fflush(stdout);
    sim_ctx sc;
    memset(&sc, 0, sizeof sc);
    double t0 = pr_now();
    pr_metrics_report bayes;
    pr_status s = pr_metrics_new(&sc.bayes, &err);
    if (s == PR_OK) s = simulate(data_dir, live_dir, seed, days, rate, &sc, &err);
    if (s == PR_OK) s = pr_metrics_compute(sc.bayes, &bayes, &err);
    pr_metrics_free(sc.bayes);
    if (s != PR_OK) {
        fprintf(stderr, "pronto demo: simulate: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    printf("   %llu events (%llu impressions) in %.1f s -> %s/: events-*.jsonl, users.csv,\n"
           "   ads.csv, sites.csv (entity tables with effective times), truth.tsv\n",
           (unsigned long long)sc.events,
           (unsigned long long)(sc.n[0] + sc.n[1] + sc.n[2]), pr_now() - t0, data_dir);

    /* 2. The feature store: point-in-time datasets from the raw stream. */
    const char *spec_text = pr_demo_spec_yaml();
    pr_spec *spec = NULL;
    if (write_text(spec_path, spec_text, &err) != PR_OK ||
        pr_spec_parse(spec_text, strlen(spec_text), spec_path, &spec, &err) != PR_OK) {
        fprintf(stderr, "pronto demo: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    printf("\n== 2. feature store: build point-in-time training data (spec %s)\n", spec_path);
    fflush(stdout);
    pr_fs_build_output outs[3] = {
        {.cache_path = train_path, .from_ms = INT64_MIN},
        {.cache_path = valid_path, .from_ms = sc.valid_ms},
        {.cache_path = test_path, .from_ms = sc.test_ms}};
    pr_fs_build_opts bo;
    memset(&bo, 0, sizeof bo);
    bo.data_dir = data_dir;
    bo.outputs = outs;
    bo.n_outputs = 3;
    pr_fs_build_stats st;
    s = pr_fs_build(spec, &bo, &st, &err);
    pr_spec_free(spec);
    if (s != PR_OK) {
        fprintf(stderr, "pronto demo: build-dataset: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    printf("   replayed %llu events with %llu entity-table rows in %.1f s (%.0f impressions/s):\n"
           "   each impression's features (entity attributes, windowed counts and CTRs,\n"
           "   decayed clicks, last clicks) as they stood at its time, labeled by the joiner\n"
           "   state: %llu entity rows, %.0f MiB\n"
           "   -> %s  %llu examples (days 1-%.0f)\n"
           "   -> %s  %llu examples (day %.0f)\n"
           "   -> %s  %llu examples (day %.0f)\n",
           (unsigned long long)st.events, (unsigned long long)st.table_rows, st.seconds,
           st.seconds > 0 ? (double)st.joiner.impressions / st.seconds : 0.0,
           (unsigned long long)st.fs.rows, (double)st.fs.row_bytes / (1 << 20), train_path,
           (unsigned long long)st.labeled[0], days - 2, valid_path,
           (unsigned long long)st.labeled[1], days - 1, test_path,
           (unsigned long long)st.labeled[2], days);

    char th[16], sd[32];
    snprintf(th, sizeof th, "%lld", threads);
    snprintf(sd, sizeof sd, "%llu", seed);
    printf("\n== 3. train FTRL-Proximal logistic regression\n");
    fflush(stdout);
    char *lr_argv[] = {"train", "--kind", "lr", "--dataset", "--spec", spec_path,
                       "--threads", th, "--seed", sd, "-o", lr_path, train_path, NULL};
    if (run_cmd(cmd_train, lr_argv) != 0) return PR_EXIT_FAIL;
    fflush(stdout);

    printf("\n== 4. train a field-aware factorization machine (k=4), early stopping on day %.0f\n",
           days - 1);
    fflush(stdout);
    char *ffm_argv[] = {"train", "--kind", "ffm", "--dataset", "--spec", spec_path,
                        "--threads", th, "--seed", sd, "--valid", valid_path,
                        /* a larger step than the Criteo-tuned default: this
                         * data is sparser per field and the demo should be
                         * quick; early stopping still picks the pass */
                        "--eta", "0.3", "--passes", "10", "-o", ffm_path, train_path, NULL};
    if (run_cmd(cmd_train, ffm_argv) != 0) return PR_EXIT_FAIL;
    fflush(stdout);

    printf("\n== 5. evaluate on day %.0f (%llu impressions)\n", days,
           (unsigned long long)st.labeled[2]);
    pr_metrics_report lr, ffm;
    if (evaluate(lr_path, test_path, &lr, &err) != PR_OK ||
        evaluate(ffm_path, test_path, &ffm, &err) != PR_OK) {
        fprintf(stderr, "pronto demo: evaluate: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    printf("  %-22s %9s %7s %8s %8s   %s\n", "model", "log loss", "NE", "AUC", "calib.",
           "vs Bayes");
    row("Bayes-optimal (true p)", &bayes, NULL);
    row("FTRL-LR", &lr, &bayes);
    row("FFM k=4", &ffm, &bayes);
    printf("  base rate %.4f; NE = log loss / entropy of the base rate; the gap to Bayes is\n"
           "  the headroom better features and models can still close.\n", bayes.base_rate);

    printf("\n== 6. serve the live day: pronto serve following the registry's production\n"
           "   alias (the FFM model), with the event log\n");
    fflush(stdout);
    uint64_t imported = 0;
    t0 = pr_now();
    if (import_history(data_dir, log_dir, &imported, &err) != PR_OK) {
        fprintf(stderr, "pronto demo: log: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    printf("   the log %s starts with the history (%llu events, %.1f s), as if this server\n"
           "   had logged it from the first day\n",
           log_dir, (unsigned long long)imported, pr_now() - t0);
    char first_id[PR_REGISTRY_ID_MAX];
    if (registry_setup(reg_dir, ffm_path, &ffm, days, first_id, &err) != PR_OK) {
        fprintf(stderr, "pronto demo: registry: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    printf("   the model registry %s: %s (the FFM model) registered, production -> %s\n",
           reg_dir, first_id, first_id);
    pr_server *srv = NULL;
    if (serve_live(data_dir, spec_path, reg_uri, live_dir, log_uri, &sc, &srv, &err) != PR_OK) {
        fprintf(stderr, "pronto demo: serve: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }

    printf("\n== 7. close the loop: skew check and the next model from the server's own log,\n"
           "   through the gate, while the server keeps serving\n");
    fflush(stdout);
    int exit_code = PR_EXIT_FAIL;
    char live_s[32];
    snprintf(live_s, sizeof live_s, "%lld", (long long)(sc.live_ms / 1000));
    if (log_summary(log_uri, log_dir, &err) != PR_OK) {
        fprintf(stderr, "pronto demo: log: %s\n", err.msg);
        goto stop;
    }
    printf("   training/serving skew: the feature rows the server logged for the live day\n"
           "   against the point-in-time rebuild from the log (`pronto skew`):\n");
    fflush(stdout);
    char *skew_argv[] = {"skew", "--spec", spec_path, "--data", data_dir, "--events", log_uri,
                         "--from", live_s, NULL};
    int skew_rc = run_cmd(cmd_skew, skew_argv);
    fflush(stdout);
    if (skew_rc != 0 && skew_rc != 3) goto stop;
    if (retrain_cycle(srv, reg_dir, log_uri, spec_path, data_dir, &sc, (int)threads, &err) !=
        PR_OK) {
        fprintf(stderr, "pronto demo: retrain: %s\n", err.msg);
        goto stop;
    }
    exit_code = PR_EXIT_OK;
stop:;
    uint32_t cut = pr_server_shutdown(srv, 5.0);
    pr_server_free(srv);
    printf("   server stopped (%u requests cut short)\n", cut);
    if (exit_code != PR_EXIT_OK) return exit_code;

    printf("\n== 8. the detailed report of `pronto eval --dataset %s %s`\n", ffm_path, test_path);
    pr_metrics_print(&ffm, stdout);
    printf("\ndone: data, spec, datasets and models are in %s/\n", dir);
    return PR_EXIT_OK;
}
