/*
 * test_serve.c: `pronto serve` end to end, in process: a real server on a
 * free loopback port and a real HTTP/1.1 client (below: sockets, no
 * library), against data from the simulator materialized into mem: and
 * lmdb: stores, with two small models trained here.
 *
 * Covered: every endpoint and error path (400 malformed JSON with the
 * reason, wrong types, missing key, too many candidates, 413 by length and
 * by chunked body, 404, 405 with Allow, 401/403 admin), predictions over
 * HTTP equal the in-process pipeline (pr_fs_assemble -> featurize -> filter
 * -> predict, as cmd_demo.c's serve_one) on both backends, cold start,
 * top_k, events posted twice applied once (checked through predictions
 * that differ when an event is applied twice), hot swap under steady load
 * with zero failures, a corrupt model refused while the old one serves,
 * polling the model file, overload 503, a drain that finishes a request
 * in flight while refusing new connections, and a redis: store killed
 * mid-test (answers with defaults, flagged "degraded"; back empty: still
 * flagged, /readyz 503 naming the missing sentinel, pronto_store_empty 1;
 * materialized again: unflagged answers equal to the first ones, ready).
 * Hostile clients (issue 9; the long version is
 * bench/hostile.py): ambiguous framing closes the connection, no Host is a
 * 400, HEAD works, echoed paths stay valid UTF-8 JSON, slow headers and
 * bodies are cut with a 408, bursts of connections closed by the client
 * leave nothing open, the body-memory budget refuses and gives back, and
 * the reserve answers health checks while /readyz says overloaded;
 * /v1/model hides path and training info without the admin token.
 * Events and models (issue 9): events with a far-future, absurd or too
 * old ts, an over-long id or a non-string type refused with their reasons
 * and without freezing the entity; late events counted; the ingester's
 * writes counted in the store metrics; errors about a body cut short speak
 * of the client's bytes; a model whose spec defines a column otherwise
 * than the store's (one window) refused at reload and at start.
 * The event log (issue 10): an fdatasync that fails (injected below) after
 * a batch was written and applied: 503s while fsyncs fail (the log down,
 * or reopened and failing again), predictions still answered, the log
 * reopened by the server when fsyncs work again; the retry of the batch
 * is all duplicates and the log holds every event once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "pronto/fstore.h"
#include "pronto/log.h"
#include "pronto/model.h"
#include "pronto/rank.h"
#include "pronto/registry.h"
#include "pronto/serve.h"
#include "pronto/sim.h"
#include "store_redis_server.h"
#include "test.h"

/* Fault injection: while fail_fsync is set, fdatasync fails with EIO (this
 * executable's definition is what the statically linked library calls). */
static int fail_fsync;
int fdatasync(int fd) {
    if (__atomic_load_n(&fail_fsync, __ATOMIC_RELAXED)) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}

/* ---------------------------------------------------------------- client */

typedef struct resp {
    int status;
    char head[4096];
    char *body; /* malloc'd, NUL-terminated */
    size_t len;
} resp;

static int connect_port(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one response (Content-Length framed, as the server always sends).
 * 0 on success; -1 if the connection ended or timed out first. */
static int read_resp(int fd, resp *r) {
    char buf[65536];
    size_t have = 0;
    char *end = NULL;
    memset(r, 0, sizeof *r);
    while (!end) {
        if (have == sizeof buf - 1) return -1;
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (n <= 0) return -1;
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t hlen = (size_t)(end - buf) + 4;
    snprintf(r->head, sizeof r->head, "%.*s", (int)hlen, buf);
    if (sscanf(buf, "HTTP/1.1 %d", &r->status) != 1) return -1;
    const char *cl = strcasestr(r->head, "\r\nContent-Length:");
    size_t len = cl ? strtoul(cl + 17, NULL, 10) : 0;
    r->body = malloc(len + 1);
    size_t got = have - hlen < len ? have - hlen : len;
    memcpy(r->body, buf + hlen, got);
    while (got < len) {
        ssize_t n = recv(fd, r->body + got, len - got, 0);
        if (n <= 0) {
            free(r->body);
            r->body = NULL;
            return -1;
        }
        got += (size_t)n;
    }
    r->body[len] = '\0';
    r->len = len;
    return 0;
}

/* One request on *fd (connecting if *fd < 0; closed and set to -1 when
 * the server says Connection: close). extra: more header lines or NULL. */
static int http(uint16_t port, int *fd, const char *method, const char *path, const char *extra,
                const char *body, resp *r) {
    if (*fd < 0) *fd = connect_port(port);
    if (*fd < 0) return -1;
    char head[1024];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: localhost\r\n%sContent-Length: %zu\r\n\r\n", method,
                     path, extra ? extra : "", blen);
    if (send_all(*fd, head, (size_t)n) || (blen && send_all(*fd, body, blen)) || read_resp(*fd, r)) {
        close(*fd);
        *fd = -1;
        return -1;
    }
    if (strcasestr(r->head, "Connection: close")) {
        close(*fd);
        *fd = -1;
    }
    return 0;
}

/* A request on a fresh connection; fails the test on transport errors. */
static resp call(uint16_t port, const char *method, const char *path, const char *extra,
                 const char *body) {
    resp r;
    int fd = -1;
    if (http(port, &fd, method, path, extra, body, &r) != 0)
        TEST_FAIL("%s %s: no response", method, path);
    if (fd >= 0) close(fd);
    return r;
}

static json_t *parse_json(const resp *r) {
    json_error_t e;
    json_t *j = json_loads(r->body, 0, &e);
    if (!j) TEST_FAIL("reply is not JSON (%s): %s", e.text, r->body);
    return j;
}

/* ---------------------------------------------------------------- data */

static pr_sim_config sim_cfg;
static int64_t t_req; /* the requests' time: a minute after the stream */
static char spec_path[512], model_a[512], model_b[512], model_path[512];

static void write_sim(const char *dir) {
    pr_sim_config_default(&sim_cfg);
    sim_cfg.seed = 11;
    sim_cfg.n_users = 300;
    sim_cfg.n_ads = 60;
    sim_cfg.n_advertisers = 20;
    sim_cfg.n_sites = 40;
    sim_cfg.imp_rate = 3;
    sim_cfg.duration_s = 1800;
    pr_err err;
    pr_sim *sim = NULL;
    ASSERT_OK(pr_sim_new(&sim_cfg, &sim, &err));
    pr_sim_output_options oo = {.dir = dir};
    pr_sim_output *out = NULL;
    ASSERT_OK(pr_sim_output_open(&oo, sim, &out, &err));
    pr_sim_event ev;
    pr_status s;
    while ((s = pr_sim_next(sim, &ev, &err)) == PR_OK) ASSERT_OK(pr_sim_output_write(out, &ev, &err));
    ASSERT_EQ_INT(s, PR_EOF);
    ASSERT_OK(pr_sim_output_close(out, &err));
    pr_sim_free(sim);
    t_req = sim_cfg.start_ms + 1800 * 1000 + 60 * 1000;
}

/* specs/sim-store.yaml with 2^14 buckets, so models are small. */
static void write_spec(void) {
    const char *src = getenv("PRONTO_SRC");
    char path[512], *text;
    size_t len;
    pr_err err;
    snprintf(path, sizeof path, "%s/specs/sim-store.yaml", src ? src : ".");
    ASSERT_OK(pr_read_file(path, &text, &len, &err));
    char *hb = strstr(text, "hash_bits: 20");
    ASSERT_TRUE(hb != NULL);
    memcpy(hb, "hash_bits: 14", 13);
    snprintf(spec_path, sizeof spec_path, "%s", test_path("spec.yaml"));
    test_write_file(spec_path, text);
    free(text);
}

static int column_of(const pr_fs *fs, const char *name) {
    for (uint32_t c = 0; c < pr_fs_n_columns(fs); c++)
        if (!strcmp(pr_fs_column_name(fs, c), name)) return (int)c;
    TEST_FAIL("no column %s", name);
}

/* An LR model trained on rows assembled from the real state, with the
 * user x ad impression count overwritten by 0..15 so that every count's
 * bucket gets a weight (the events test needs counts to matter). seed
 * changes the labels, so two models rank differently. */
static void train_model(const char *spec_file, const char *out_path, uint64_t seed) {
    pr_err err;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    pr_store *store = NULL;
    pr_fs *fs = NULL;
    pr_model *m = NULL;
    pr_count_filter *cf = NULL;
    ASSERT_OK(pr_spec_load(spec_file, &spec, &err));
    ASSERT_OK(pr_featurizer_new(spec, &fz, &err));
    ASSERT_OK(pr_store_open("mem:", &store, &err));
    pr_fs_build_opts bo = {.data_dir = test_tmpdir(), .store = store};
    pr_fs_build_stats bs;
    ASSERT_OK(pr_fs_build(spec, &bo, &bs, &err));
    ASSERT_OK(pr_fs_open(spec, store, &fs, &err));
    const char *names[PR_FS_MAX_COLUMNS];
    uint32_t nc = pr_fs_n_columns(fs);
    for (uint32_t c = 0; c < nc; c++) names[c] = pr_fs_column_name(fs, c);
    ASSERT_OK(pr_featurizer_bind(fz, names, nc, &err));
    int fat = column_of(fs, "user_ad_imps_7d");
    pr_model_params p;
    pr_model_params_default(&p, PR_MODEL_KIND_LR);
    p.hash_bits = 14;
    p.l1 = 0;
    ASSERT_OK(pr_model_new(&p, &m, &err));
    ASSERT_OK(pr_count_filter_new(14, pr_spec_min_count(spec), &cf, &err));
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    uint64_t rng = seed;
    pr_example xs[64];
    for (int round = 0; round < 2; round++) /* 1: count, 2: learn */
        for (int i = 0; i < 3000; i++) {
            char u[16], ad[16], site[16], pos[8];
            snprintf(u, sizeof u, "%u", (unsigned)(pr_splitmix64(&rng) % 300));
            uint64_t a = pr_splitmix64(&rng) % 60;
            snprintf(ad, sizeof ad, "%u", (unsigned)a);
            snprintf(site, sizeof site, "%u", (unsigned)(pr_splitmix64(&rng) % 40));
            snprintf(pos, sizeof pos, "%u", (unsigned)(1 + pr_splitmix64(&rng) % 4));
            pr_bytes base[5] = {pr_bytes_of(u, strlen(u)), pr_bytes_of(ad, strlen(ad)),
                                pr_bytes_of(site, strlen(site)), pr_bytes_of("mobile", 6),
                                pr_bytes_of(pos, strlen(pos))};
            pr_fs_row row;
            pr_arena_reset(&arena);
            ASSERT_OK(pr_fs_assemble(fs, t_req, base, NULL, 0, NULL, 1, &arena, &row, &err));
            uint32_t k = (uint32_t)(pr_splitmix64(&rng) % 16);
            /* the row's arrays live in our arena: ours to change */
            ((double *)row.rec.num)[fat] = k;
            ((pr_bytes *)row.rec.cols)[fat] = (pr_bytes){NULL, 0};
            ASSERT_OK(pr_featurizer_apply(fz, &row.rec, &arena, &xs[0], &err));
            double pclick = 0.02 + 0.2 * ((k * 7 + a * seed) % 5) / 5.0;
            xs[0].label = (pr_splitmix64(&rng) % 1000) < pclick * 1000 ? 1.0f : 0.0f;
            if (round == 0) {
                pr_count_filter_add(cf, &xs[0]);
            } else {
                pr_featurizer_apply_filter(fz, pr_count_filter_bitmap(cf), &xs[0]);
                pr_model_update(m, &xs[0]);
            }
        }
    ASSERT_OK(pr_model_set_spec(m, pr_featurizer_spec_yaml(fz), &err));
    ASSERT_OK(pr_model_set_filter(m, pr_count_filter_bitmap(cf), &err));
    ASSERT_OK(pr_model_save(m, out_path, &err));
    pr_arena_free(&arena);
    pr_count_filter_free(cf);
    pr_model_free(m);
    pr_fs_free(fs);
    pr_store_close(store);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
}

static void copy_file(const char *from, const char *to) {
    char *d;
    size_t n;
    pr_err err;
    ASSERT_OK(pr_read_file(from, &d, &n, &err));
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    FILE *f = fopen(tmp, "wb");
    ASSERT_TRUE(f && fwrite(d, 1, n, f) == n && fclose(f) == 0);
    ASSERT_TRUE(rename(tmp, to) == 0); /* atomic, as a deploy would */
    free(d);
}

static void file_version(const char *path, char out[17]) {
    char *d;
    size_t n;
    pr_err err;
    ASSERT_OK(pr_read_file(path, &d, &n, &err));
    snprintf(out, 17, "%016llx", (unsigned long long)pr_hash64(d, n, 0));
    free(d);
}

static void setup(void) {
    write_sim(test_tmpdir());
    write_spec();
    snprintf(model_a, sizeof model_a, "%s", test_path("a.pm"));
    snprintf(model_b, sizeof model_b, "%s", test_path("b.pm"));
    snprintf(model_path, sizeof model_path, "%s", test_path("serving.pm"));
    train_model(spec_path, model_a, 1);
    train_model(spec_path, model_b, 2);
    copy_file(model_a, model_path);
}

#define EVENT_AGE_MS (40LL * 365 * 86400 * 1000)

/* Options of a quiet server on a free loopback port over a mem: store,
 * serving model; tests set what they need on top. */
static void base_opts(pr_server_opts *o, const char *model) {
    pr_server_opts_default(o);
    o->model_path = model;
    o->store_uri = "mem:";
    o->listen = "127.0.0.1:0";
    o->quiet = 1;
}

static pr_server *start(const char *store_uri, uint32_t max_conn) {
    pr_server_opts o;
    base_opts(&o, model_path);
    o.store_uri = store_uri;
    o.data_dir = test_tmpdir();
    o.admin_token = "s3cret";
    o.max_candidates = 50;
    o.max_body = 64 * 1024;
    o.max_connections = max_conn;
    o.max_connections_per_ip = max_conn + PR_SERVE_RESERVE; /* all from 127.0.0.1 */
    /* The simulated events are of 2024: behind the clock by years. */
    o.max_event_age_ms = EVENT_AGE_MS;
    pr_server *s = NULL;
    pr_err err;
    ASSERT_OK(pr_server_start(&o, &s, &err));
    ASSERT_TRUE(pr_server_port(s) > 0);
    return s;
}

/* ---------------------------------------------------------------- reference */

/* The in-process pipeline of cmd_demo.c's serve_one over its own store,
 * materialized from the same data; events (JSON lines) applied `times`
 * times on top. */
typedef struct ref {
    pr_model *m;
    pr_spec *spec;
    pr_featurizer *fz;
    pr_store *store;
    pr_fs *fs;
    pr_arena arena;
} ref;

static void ref_open(ref *r, const char *model, const char *events, int times) {
    pr_err err;
    memset(r, 0, sizeof *r);
    pr_arena_init(&r->arena, NULL, 0, 0);
    ASSERT_OK(pr_model_load(model, &r->m, &err));
    const char *y = pr_model_spec(r->m);
    ASSERT_OK(pr_spec_parse(y, strlen(y), model, &r->spec, &err));
    ASSERT_OK(pr_featurizer_new(r->spec, &r->fz, &err));
    ASSERT_OK(pr_store_open("mem:", &r->store, &err));
    pr_fs_build_opts bo = {.data_dir = test_tmpdir(), .store = r->store};
    pr_fs_build_stats bs;
    ASSERT_OK(pr_fs_build(r->spec, &bo, &bs, &err));
    ASSERT_OK(pr_fs_open(r->spec, r->store, &r->fs, &err));
    const char *names[PR_FS_MAX_COLUMNS];
    uint32_t nc = pr_fs_n_columns(r->fs);
    for (uint32_t c = 0; c < nc; c++) names[c] = pr_fs_column_name(r->fs, c);
    ASSERT_OK(pr_featurizer_bind(r->fz, names, nc, &err));
    for (int t = 0; events && t < times; t++) {
        const char *line = events;
        while (*line) {
            const char *nl = strchr(line, '\n');
            size_t n = nl ? (size_t)(nl - line) : strlen(line);
            pr_fs_event ev;
            pr_arena_reset(&r->arena);
            ASSERT_OK(pr_fs_event_parse(r->fs, line, n, &r->arena, &ev, &err));
            ASSERT_OK(pr_fs_apply_event(r->fs, &ev, &r->arena, &err));
            line += n + (nl ? 1 : 0);
        }
    }
}

static void ref_close(ref *r) {
    pr_arena_free(&r->arena);
    pr_fs_free(r->fs);
    pr_store_close(r->store);
    pr_featurizer_free(r->fz);
    pr_spec_free(r->spec);
    pr_model_free(r->m);
}

/* p of each ad for (user, site, device, position) at t_req. */
static void ref_predict(ref *r, const char *user, const char *site, const char *device,
                        const char *pos, const char *const *ads, uint32_t n, double *p) {
    pr_err err;
    pr_bytes base[5] = {pr_bytes_of(user, strlen(user)), {NULL, 0}, pr_bytes_of(site, strlen(site)),
                        pr_bytes_of(device, strlen(device)), pr_bytes_of(pos, strlen(pos))};
    pr_bytes cand[64];
    uint32_t ad_col = 1;
    ASSERT_EQ_STR(pr_fs_column_name(r->fs, 1), "ad_id");
    for (uint32_t i = 0; i < n; i++) cand[i] = pr_bytes_of(ads[i], strlen(ads[i]));
    pr_fs_row rows[64];
    pr_arena_reset(&r->arena);
    ASSERT_OK(pr_fs_assemble(r->fs, t_req, base, &ad_col, 1, cand, n, &r->arena, rows, &err));
    for (uint32_t i = 0; i < n; i++) {
        pr_example x;
        ASSERT_OK(pr_featurizer_apply(r->fz, &rows[i].rec, &r->arena, &x, &err));
        pr_featurizer_apply_filter(r->fz, pr_model_filter(r->m), &x);
        p[i] = pr_model_predict(r->m, &x);
    }
}

static char *predict_body(const char *user, const char *site, const char *device, const char *pos,
                          const char *const *ads, uint32_t n, int top_k) {
    static char b[8192];
    int k = snprintf(b, sizeof b,
                     "{\"user_id\":%s,\"context\":{\"site_id\":%s,\"device\":\"%s\",\"position\":%s},"
                     "\"ts\":%lld,\"candidates\":[",
                     user, site, device, pos, (long long)t_req);
    for (uint32_t i = 0; i < n; i++)
        k += snprintf(b + k, sizeof b - (size_t)k, "%s{\"ad_id\":\"%s\"}", i ? "," : "", ads[i]);
    if (top_k) k += snprintf(b + k, sizeof b - (size_t)k, "],\"top_k\":%d}", top_k);
    else k += snprintf(b + k, sizeof b - (size_t)k, "]}");
    return b;
}

/* Checks an HTTP answer against the reference p of each ad: same ads,
 * sorted by p desc, each p within the reply's 12 decimals. */
static void check_ranking(const resp *r, const char *const *ads, const double *p, uint32_t n,
                          uint32_t top_k, const char *version) {
    ASSERT_EQ_INT(r->status, 200);
    json_t *j = parse_json(r);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "model_version")), version);
    ASSERT_TRUE(json_is_integer(json_object_get(j, "took_us")));
    json_t *preds = json_object_get(j, "predictions");
    ASSERT_EQ_INT(json_array_size(preds), top_k ? top_k : n);
    double prev = 2;
    for (size_t i = 0; i < json_array_size(preds); i++) {
        json_t *e = json_array_get(preds, i);
        const char *ad = json_string_value(json_object_get(e, "ad_id"));
        double got = json_number_value(json_object_get(e, "p"));
        ASSERT_TRUE(ad != NULL);
        ASSERT_TRUE(got <= prev);
        prev = got;
        uint32_t k = 0;
        while (k < n && strcmp(ads[k], ad)) k++;
        ASSERT_TRUE(k < n);
        ASSERT_NEAR(got, p[k], 6e-13);
        if (i == 0) /* the best is the reference's best */
            for (uint32_t q = 0; q < n; q++) ASSERT_TRUE(p[q] <= p[k] + 1e-15);
    }
    json_decref(j);
}

/* ---------------------------------------------------------------- tests */

static const char *const ads_20[] = {"0",  "1",  "2",  "3",  "5",  "8",  "13", "21", "34", "55",
                                     "4",  "6",  "7",  "9",  "10", "11", "12", "14", "59",
                                     "999999" /* unknown: cold start */};

TEST(test_predict_equals_in_process) {
    const char *stores[] = {"mem:", NULL};
    char lmdb[600];
    snprintf(lmdb, sizeof lmdb, "lmdb:%s?sync=0", test_path("lmdb"));
    stores[1] = lmdb;
    char version[17];
    file_version(model_path, version);
    ref r;
    ref_open(&r, model_path, NULL, 0);
    const char *users[] = {"0", "17", "123", "299", "424242" /* unknown user */};
    for (int b = 0; b < 2; b++) {
        pr_server *s = start(stores[b], 512);
        uint16_t port = pr_server_port(s);
        int fd = -1; /* one keep-alive connection for all requests */
        for (int u = 0; u < 5; u++) {
            double p[20];
            const char *device = u % 2 ? "desktop" : "mobile";
            ref_predict(&r, users[u], "7", device, "2", ads_20, 20, p);
            resp h;
            ASSERT_TRUE(http(port, &fd, "POST", "/v1/predict", NULL,
                             predict_body(users[u], "7", device, "2", ads_20, 20, 0), &h) == 0);
            check_ranking(&h, ads_20, p, 20, 0, version);
            free(h.body);
            ASSERT_TRUE(fd >= 0); /* kept alive */
            ASSERT_TRUE(http(port, &fd, "POST", "/v1/predict", NULL,
                             predict_body(users[u], "7", device, "2", ads_20, 20, 3), &h) == 0);
            check_ranking(&h, ads_20, p, 20, 3, version);
            free(h.body);
        }
        if (fd >= 0) close(fd);
        /* Numbers as JSON numbers, columns at the top level, a candidate
         * overriding a shared column: the same texts, the same answer. */
        double p1[1];
        const char *one[] = {"5"};
        ref_predict(&r, "17", "9", "tablet", "1", one, 1, p1);
        char body[512];
        snprintf(body, sizeof body,
                 "{\"user_id\":17,\"site_id\":3,\"device\":\"tablet\",\"context\":{\"position\":1},"
                 "\"ts\":%lld,\"candidates\":[{\"ad_id\":5,\"site_id\":9}],\"extra\":[1,2]}",
                 (long long)t_req);
        resp h = call(port, "POST", "/v1/predict", NULL, body);
        ASSERT_EQ_INT(h.status, 200);
        json_t *j = parse_json(&h);
        json_t *e = json_array_get(json_object_get(j, "predictions"), 0);
        ASSERT_EQ_INT(json_integer_value(json_object_get(e, "ad_id")), 5);
        ASSERT_NEAR(json_number_value(json_object_get(e, "p")), p1[0], 6e-13);
        json_decref(j);
        free(h.body);
        pr_server_shutdown(s, 5);
        pr_server_free(s);
    }
    ref_close(&r);
}

/* ---------------------------------------------------------------- pr_rank */

/* One request ranked in process by pr_rank: the ad ids in rank order and
 * their p. site (may be NULL: the shared one) overrides the site of
 * candidate 0. */
static void rank_one(pr_rank_session *sn, const pr_ranker *rk, const char *user, const char *site,
                     const char *device, const char *pos, const char *const *ads, uint32_t n,
                     const char *site0, uint32_t top_k, pr_rank_result *res) {
    pr_err err;
    uint32_t nreq = pr_ranker_n_request_columns(rk);
    ASSERT_TRUE(nreq == 5);
    pr_bytes shared[5] = {{0}};
    shared[pr_ranker_request_column_index(rk, "user_id")] = pr_bytes_of(user, strlen(user));
    shared[pr_ranker_request_column_index(rk, "site_id")] = pr_bytes_of(site, strlen(site));
    shared[pr_ranker_request_column_index(rk, "device")] = pr_bytes_of(device, strlen(device));
    shared[pr_ranker_request_column_index(rk, "position")] = pr_bytes_of(pos, strlen(pos));
    uint32_t cols[2] = {pr_ranker_request_column_index(rk, "ad_id"),
                        pr_ranker_request_column_index(rk, "site_id")};
    static pr_bytes cand[2 * 64];
    for (uint32_t i = 0; i < n; i++) {
        cand[2 * i] = pr_bytes_of(ads[i], strlen(ads[i]));
        const char *st = i == 0 && site0 ? site0 : site;
        cand[2 * i + 1] = pr_bytes_of(st, strlen(st));
    }
    pr_rank_request q;
    pr_rank_request_default(&q);
    q.request = shared;
    q.n_candidates = n;
    q.cand_cols = cols;
    q.n_cand_cols = 2;
    q.cand = cand;
    q.ts_ms = t_req;
    q.top_k = top_k;
    ASSERT_OK(pr_rank(sn, &q, res, &err));
}

/* The server's answer to the same request: same ads in the same order,
 * the same p to the 12 decimals it prints. */
static void check_same_as_server(uint16_t port, const pr_rank_result *res, const char *user,
                                 const char *site, const char *device, const char *pos,
                                 const char *const *ads, uint32_t n, const char *site0,
                                 uint32_t top_k) {
    char body[8192];
    int k = snprintf(body, sizeof body,
                     "{\"user_id\":\"%s\",\"context\":{\"site_id\":\"%s\",\"device\":\"%s\","
                     "\"position\":\"%s\"},\"ts\":%lld,\"candidates\":[",
                     user, site, device, pos, (long long)t_req);
    for (uint32_t i = 0; i < n; i++) {
        k += snprintf(body + k, sizeof body - (size_t)k, "%s{\"ad_id\":\"%s\"", i ? "," : "", ads[i]);
        if (i == 0 && site0) k += snprintf(body + k, sizeof body - (size_t)k, ",\"site_id\":\"%s\"", site0);
        k += snprintf(body + k, sizeof body - (size_t)k, "}");
    }
    if (top_k) k += snprintf(body + k, sizeof body - (size_t)k, "],\"top_k\":%u}", top_k);
    else k += snprintf(body + k, sizeof body - (size_t)k, "]}");
    resp h = call(port, "POST", "/v1/predict", NULL, body);
    ASSERT_EQ_INT(h.status, 200);
    json_t *j = parse_json(&h);
    json_t *preds = json_object_get(j, "predictions");
    ASSERT_EQ_INT(json_array_size(preds), res->n_items);
    for (uint32_t r = 0; r < res->n_items; r++) {
        json_t *e = json_array_get(preds, r);
        ASSERT_EQ_STR(json_string_value(json_object_get(e, "ad_id")), ads[res->items[r].candidate]);
        double got = json_number_value(json_object_get(e, "p"));
        ASSERT_NEAR(got, res->items[r].p, 6e-13);
    }
    ASSERT_TRUE(json_object_get(j, "degraded") == NULL);
    json_decref(j);
    free(h.body);
}

typedef struct rank_thread {
    pr_ranker *rk;
    const pr_rank_result *want;
    int ok;
} rank_thread;

static void *rank_loop(void *arg) {
    rank_thread *t = arg;
    pr_err err;
    pr_rank_session *sn = NULL;
    t->ok = pr_rank_session_new(t->rk, &sn, &err) == PR_OK;
    for (int i = 0; i < 200 && t->ok; i++) {
        pr_rank_result res;
        rank_one(sn, t->rk, "17", "7", "mobile", "2", ads_20, 20, "9", 0, &res);
        for (uint32_t r = 0; r < 20; r++)
            if (res.items[r].candidate != t->want->items[r].candidate ||
                res.items[r].p != t->want->items[r].p)
                t->ok = 0;
    }
    pr_rank_session_free(sn);
    return NULL;
}

/* pr_rank in process against POST /v1/predict on the same data: the
 * server over mem:, pr_rank over its own lmdb: store materialized from the
 * same folder (the backends hold the same bytes); then threads with a
 * session each, no store at all, and bad requests. */
TEST(test_rank_equals_server) {
    pr_err err;
    pr_server *s = start("mem:", 512);
    uint16_t port = pr_server_port(s);
    char lmdb[600], version[17];
    snprintf(lmdb, sizeof lmdb, "lmdb:%s?sync=0", test_path("rank-lmdb"));
    file_version(model_path, version);
    pr_ranker_opts o;
    pr_ranker_opts_default(&o);
    o.store_uri = lmdb;
    o.data_dir = test_tmpdir();
    pr_ranker *rk = NULL;
    ASSERT_OK(pr_ranker_open(model_path, &o, &rk, &err));
    ASSERT_EQ_STR(pr_ranker_model_version(rk), version);
    ASSERT_EQ_STR(pr_ranker_kind(rk), "lr");
    ASSERT_EQ_STR(pr_ranker_request_column(rk, 0), "user_id");
    ASSERT_TRUE(pr_ranker_request_column(rk, 5) == NULL);
    ASSERT_EQ_INT(pr_ranker_request_column_index(rk, "nope"), UINT32_MAX);
    pr_rank_session *sn = NULL;
    ASSERT_OK(pr_rank_session_new(rk, &sn, &err));
    const char *users[] = {"0", "17", "123", "299", "424242"};
    for (int u = 0; u < 5; u++) {
        const char *device = u % 2 ? "desktop" : "mobile";
        const char *site0 = u == 2 ? "9" : NULL;
        for (uint32_t top_k = 0; top_k <= 3; top_k += 3) {
            pr_rank_result res;
            rank_one(sn, rk, users[u], "7", device, "2", ads_20, 20, site0, top_k, &res);
            ASSERT_EQ_INT(res.n_candidates, 20);
            ASSERT_EQ_INT(res.n_items, top_k ? top_k : 20);
            ASSERT_EQ_INT(res.degraded, 0);
            ASSERT_EQ_INT(res.ts_ms, t_req);
            for (uint32_t r = 1; r < 20; r++) ASSERT_TRUE(res.items[r].p <= res.items[r - 1].p);
            check_same_as_server(port, &res, users[u], "7", device, "2", ads_20, 20, site0, top_k);
        }
    }
    /* many threads, one ranker, a session each: the same answer */
    pr_rank_result want;
    rank_one(sn, rk, "17", "7", "mobile", "2", ads_20, 20, "9", 0, &want);
    pr_rank_item first[20];
    memcpy(first, want.items, sizeof first);
    want.items = first;
    rank_thread th[3];
    pthread_t tid[3];
    for (int t = 0; t < 3; t++) {
        th[t] = (rank_thread){rk, &want, 0};
        ASSERT_EQ_INT(pthread_create(&tid[t], NULL, rank_loop, &th[t]), 0);
    }
    for (int t = 0; t < 3; t++) {
        pthread_join(tid[t], NULL);
        ASSERT_TRUE(th[t].ok);
    }
    /* bad requests */
    pr_rank_request q;
    pr_rank_request_default(&q);
    pr_rank_result res;
    ASSERT_STATUS(pr_rank(sn, &q, &res, &err), PR_ERR_INVALID); /* no candidates */
    ASSERT_CONTAINS(err.msg, "0 candidates");
    pr_bytes shared[5] = {{0}}, cand[1] = {{"3", 1}};
    uint32_t bad_col = 7;
    q.request = shared;
    q.n_candidates = 1;
    q.cand = cand;
    q.cand_cols = &bad_col;
    q.n_cand_cols = 1;
    ASSERT_STATUS(pr_rank(sn, &q, &res, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "cand_cols[0] = 7");
    q.cand_cols = NULL;
    ASSERT_STATUS(pr_rank(sn, &q, &res, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_rank(NULL, &q, &res, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_rank(sn, NULL, &res, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_rank(sn, &q, NULL, &err), PR_ERR_INVALID);
    /* now: the wall clock, years after the data */
    uint32_t ad_col = pr_ranker_request_column_index(rk, "ad_id");
    q.cand_cols = &ad_col;
    ASSERT_OK(pr_rank(sn, &q, &res, &err));
    ASSERT_TRUE(res.ts_ms > t_req);
    pr_rank_session_free(sn);
    pr_ranker_close(rk);

    /* no store: every entity unknown, as the server's cold answer */
    ASSERT_OK(pr_ranker_open(model_path, NULL, &rk, &err));
    ASSERT_OK(pr_rank_session_new(rk, &sn, &err));
    static const char *const unknown[] = {"900001", "900002", "900003"};
    rank_one(sn, rk, "424242", "424242", "mobile", "2", unknown, 3, NULL, 0, &res);
    ASSERT_EQ_INT(res.degraded, 0);
    check_same_as_server(port, &res, "424242", "424242", "mobile", "2", unknown, 3, NULL, 0);
    pr_rank_session_free(sn);
    pr_ranker_close(rk);

    /* refused: a model file that is not one, a store and a URI */
    pr_ranker_opts_default(&o);
    ASSERT_STATUS(pr_ranker_open(test_path("none.pm"), &o, &rk, &err), PR_ERR_IO);
    pr_store *st = NULL;
    ASSERT_OK(pr_store_open("mem:", &st, &err));
    o.store = st;
    o.store_uri = "mem:";
    ASSERT_STATUS(pr_ranker_open(model_path, &o, &rk, &err), PR_ERR_INVALID);
    pr_store_close(st);
    pr_server_shutdown(s, 5);
    pr_server_free(s);
}

TEST(test_endpoints) {
    pr_server *s = start("mem:", 512);
    uint16_t port = pr_server_port(s);
    char version[17];
    file_version(model_path, version);
    resp r = call(port, "GET", "/healthz", NULL, NULL);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(r.body, "\"ok\"");
    free(r.body);
    r = call(port, "GET", "/readyz", NULL, NULL);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(r.body, version);
    free(r.body);
    r = call(port, "GET", "/v1/model", NULL, NULL);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(r.head, "Content-Type: application/json");
    json_t *j = parse_json(&r);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "kind")), "lr");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "version")), version);
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "generation")), 1);
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "request_columns")), 5);
    ASSERT_EQ_INT(strlen(json_string_value(json_object_get(j, "fingerprint"))), 16);
    /* where the model lives and what it was trained on: admin only */
    ASSERT_TRUE(!json_object_get(j, "path") && !json_object_get(j, "info"));
    json_decref(j);
    free(r.body);
    r = call(port, "GET", "/v1/model", "Authorization: Bearer s3cret\r\n", NULL);
    j = parse_json(&r);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "path")), model_path);
    ASSERT_TRUE(json_object_get(j, "info") != NULL);
    json_decref(j);
    free(r.body);
    r = call(port, "GET", "/v1/model", "Authorization: Bearer s3cres\r\n", NULL);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(!strstr(r.body, "\"path\""));
    free(r.body);
    const char *ads[] = {"1", "2", "3"};
    r = call(port, "POST", "/v1/predict", NULL, predict_body("5", "1", "ctv", "1", ads, 3, 0));
    ASSERT_EQ_INT(r.status, 200);
    free(r.body);
    r = call(port, "GET", "/metrics", NULL, NULL);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(r.head, "text/plain");
    ASSERT_CONTAINS(r.body, "pronto_http_requests_total{route=\"predict\",code=\"200\"} 1\n");
    ASSERT_CONTAINS(r.body, "pronto_http_requests_total{route=\"healthz\",code=\"200\"} 1\n");
    ASSERT_CONTAINS(r.body, "pronto_candidates_scored_total 3\n");
    ASSERT_CONTAINS(r.body, "pronto_http_request_duration_seconds_count{route=\"predict\"} 1\n");
    ASSERT_CONTAINS(r.body, "pronto_http_request_duration_seconds_bucket{route=\"predict\",le=\"+Inf\"} 1\n");
    ASSERT_CONTAINS(r.body, "pronto_predict_stage_seconds_total{stage=\"lookup\"}");
    ASSERT_CONTAINS(r.body, "pronto_model_info{version=\"");
    ASSERT_CONTAINS(r.body, version);
    ASSERT_CONTAINS(r.body, "pronto_model_loaded_timestamp_seconds");
    ASSERT_CONTAINS(r.body, "pronto_store_gets_total");
    ASSERT_CONTAINS(r.body, "pronto_events_total{result=\"applied\"} 0\n");
    free(r.body);
    pr_server_shutdown(s, 5);
    pr_server_free(s);
}

static void expect_error(uint16_t port, const char *method, const char *path, const char *extra,
                         const char *body, int status, const char *needle) {
    resp r = call(port, method, path, extra, body);
    if (r.status != status) TEST_FAIL("%s %s: status %d, want %d: %s", method, path, r.status, status, r.body);
    ASSERT_CONTAINS(r.head, "application/json");
    json_t *j = parse_json(&r);
    const char *e = json_string_value(json_object_get(j, "error"));
    ASSERT_TRUE(e != NULL);
    ASSERT_CONTAINS(e, needle);
    json_decref(j);
    free(r.body);
}

TEST(test_errors) {
    pr_server *s = start("mem:", 512);
    uint16_t port = pr_server_port(s);
    expect_error(port, "POST", "/v1/predict", NULL, "{\"user_id\":1,\"candidates\":[{\"ad_id\":1},]}",
                 400, "column 40: expected a value");
    expect_error(port, "POST", "/v1/predict", NULL, "not json", 400, "request body: column 1");
    expect_error(port, "POST", "/v1/predict", NULL, "", 400, "request body");
    expect_error(port, "POST", "/v1/predict", NULL, "{\"user_id\":1}", 400, "'candidates'");
    expect_error(port, "POST", "/v1/predict", NULL, "{\"candidates\":[]}", 400, "empty");
    expect_error(port, "POST", "/v1/predict", NULL, "{\"candidates\":[{\"ad_id\":1},{\"x\":2}]}", 400,
                 "'candidates[1]': missing 'ad_id'");
    expect_error(port, "POST", "/v1/predict", NULL, "{\"candidates\":[1]}", 400,
                 "'candidates[0]': expected an object");
    expect_error(port, "POST", "/v1/predict", NULL,
                 "{\"context\":{\"device\":[1]},\"candidates\":[{\"ad_id\":1}]}", 400,
                 "'context.device': expected a string or a number, got an array");
    expect_error(port, "POST", "/v1/predict", NULL,
                 "{\"user_id\":1,\"context\":{\"user_id\":2},\"candidates\":[{\"ad_id\":1}]}", 400,
                 "both");
    expect_error(port, "POST", "/v1/predict", NULL, "{\"top_k\":0,\"candidates\":[{\"ad_id\":1}]}", 400,
                 "'top_k'");
    expect_error(port, "POST", "/v1/predict", NULL, "{\"ts\":\"now\",\"candidates\":[{\"ad_id\":1}]}",
                 400, "'ts'");
    /* 51 candidates, the server takes 50 */
    char many[2048];
    int k = snprintf(many, sizeof many, "{\"user_id\":1,\"candidates\":[");
    for (int i = 0; i < 51; i++) k += snprintf(many + k, sizeof many - (size_t)k, "%s{\"ad_id\":%d}", i ? "," : "", i);
    snprintf(many + k, sizeof many - (size_t)k, "]}");
    expect_error(port, "POST", "/v1/predict", NULL, many, 400, "more than 50 candidates");
    /* 413: by Content-Length, answered before the body is sent ... */
    int fd = connect_port(port);
    ASSERT_TRUE(fd >= 0);
    const char *h413 = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n";
    ASSERT_TRUE(send_all(fd, h413, strlen(h413)) == 0);
    resp r;
    ASSERT_TRUE(read_resp(fd, &r) == 0);
    ASSERT_EQ_INT(r.status, 413);
    ASSERT_CONTAINS(r.body, "request body of 70000 bytes, the limit is 65536");
    free(r.body);
    close(fd);
    /* ... and by a chunked body that grows past the limit */
    char *big = malloc(5000);
    memset(big, ' ', 5000);
    fd = connect_port(port);
    ASSERT_TRUE(fd >= 0);
    const char *head = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    ASSERT_TRUE(send_all(fd, head, strlen(head)) == 0);
    for (int c = 0; c < 20; c++) {
        char ch[16];
        snprintf(ch, sizeof ch, "%x\r\n", 5000);
        ASSERT_TRUE(send_all(fd, ch, strlen(ch)) == 0 && send_all(fd, big, 5000) == 0 &&
                    send_all(fd, "\r\n", 2) == 0);
    }
    ASSERT_TRUE(send_all(fd, "0\r\n\r\n", 5) == 0);
    ASSERT_TRUE(read_resp(fd, &r) == 0);
    ASSERT_EQ_INT(r.status, 413);
    ASSERT_CONTAINS(r.body, "\"error\"");
    free(r.body);
    close(fd);
    free(big);
    expect_error(port, "GET", "/v2/nothing", NULL, NULL, 404, "no such endpoint: /v2/nothing");
    r = call(port, "GET", "/v1/predict", NULL, NULL);
    ASSERT_EQ_INT(r.status, 405);
    ASSERT_CONTAINS(r.head, "Allow: POST");
    ASSERT_CONTAINS(r.body, "takes POST");
    free(r.body);
    expect_error(port, "POST", "/healthz", NULL, "{}", 405, "takes GET");
    /* admin: no credentials 401 (with a challenge), wrong token 403 */
    r = call(port, "POST", "/admin/reload", NULL, NULL);
    ASSERT_EQ_INT(r.status, 401);
    ASSERT_CONTAINS(r.head, "WWW-Authenticate: Bearer");
    free(r.body);
    expect_error(port, "POST", "/admin/reload", "Authorization: Bearer nope\r\n", NULL, 403,
                 "wrong token");
    expect_error(port, "POST", "/admin/reload", "Authorization: Basic czNjcmV0\r\n", NULL, 401,
                 "Bearer");
    r = call(port, "POST", "/admin/reload", "Authorization: Bearer s3cret\r\n", NULL);
    ASSERT_EQ_INT(r.status, 200);
    free(r.body);
    /* every answer above was counted by status */
    r = call(port, "GET", "/metrics", NULL, NULL);
    ASSERT_CONTAINS(r.body, "pronto_http_requests_total{route=\"predict\",code=\"400\"} 12\n");
    ASSERT_CONTAINS(r.body, "pronto_http_requests_total{route=\"predict\",code=\"413\"} 2\n");
    ASSERT_CONTAINS(r.body, "pronto_http_requests_total{route=\"other\",code=\"404\"} 1\n");
    ASSERT_CONTAINS(r.body, "pronto_http_requests_total{route=\"admin_reload\",code=\"401\"} 2\n");
    free(r.body);
    pr_server_shutdown(s, 5);
    pr_server_free(s);

    /* no token configured: admin is refused even with a header */
    pr_server_opts o;
    base_opts(&o, model_path);
    pr_err err;
    ASSERT_OK(pr_server_start(&o, &s, &err));
    expect_error(pr_server_port(s), "POST", "/admin/reload", "Authorization: Bearer \r\n", NULL, 403,
                 "disabled");
    pr_server_free(s);
    /* bad options and a bad address fail to start, naming the problem */
    o.listen = "127.0.0.1:99999";
    ASSERT_STATUS(pr_server_start(&o, &s, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "port");
    o.listen = "127.0.0.1:0";
    o.candidate_key = "creative";
    ASSERT_STATUS(pr_server_start(&o, &s, &err), PR_ERR_SPEC);
    ASSERT_CONTAINS(err.msg, "candidate key 'creative'");
    o.candidate_key = "ad_id";
    o.model_path = spec_path; /* not a model */
    ASSERT_TRUE(pr_server_start(&o, &s, &err) != PR_OK);
    ASSERT_TRUE(s == NULL);
}

TEST(test_events_idempotent) {
    /* Four impressions of one (user, ad) pair and a click, a minute before
     * the requests: applied once, user_ad_imps_7d moves by 4. */
    long long t = (long long)(t_req - 60000);
    char lines[2048];
    int k = 0;
    for (int i = 0; i < 4; i++)
        k += snprintf(lines + k, sizeof lines - (size_t)k,
                      "{\"type\":\"impression\",\"event_id\":%d,\"impression_id\":%d,\"ts\":%lld,"
                      "\"user_id\":42,\"ad_id\":7,\"site_id\":3,\"device\":\"mobile\",\"position\":1}\n",
                      900000 + i, 900000 + i, t + i);
    snprintf(lines + k, sizeof lines - (size_t)k,
             "{\"type\":\"click\",\"event_id\":900009,\"impression_id\":900001,\"ts\":%lld,"
             "\"user_id\":42,\"ad_id\":7}\n",
             t + 10);
    const char *ads[] = {"7", "8", "9"};
    double once[3], twice[3];
    ref r1, r2;
    ref_open(&r1, model_path, lines, 1);
    ref_open(&r2, model_path, lines, 2);
    ref_predict(&r1, "42", "3", "mobile", "1", ads, 3, once);
    ref_predict(&r2, "42", "3", "mobile", "1", ads, 3, twice);
    /* The check below can only tell once from twice if the model does. */
    ASSERT_TRUE(once[0] != twice[0]);

    pr_server *s = start("mem:", 512);
    uint16_t port = pr_server_port(s);
    char version[17];
    file_version(model_path, version);
    resp h = call(port, "POST", "/v1/events", NULL, lines);
    ASSERT_EQ_INT(h.status, 200);
    ASSERT_CONTAINS(h.body, "\"applied\":5,\"duplicates\":0,\"rejected\":0");
    free(h.body);
    h = call(port, "POST", "/v1/events", NULL, lines); /* a retry */
    ASSERT_EQ_INT(h.status, 200);
    ASSERT_CONTAINS(h.body, "\"applied\":0,\"duplicates\":5");
    free(h.body);
    /* the same events as a JSON array: duplicates too */
    char arr[2600];
    k = snprintf(arr, sizeof arr, "[");
    for (const char *p = lines; *p;) {
        const char *nl = strchr(p, '\n');
        k += snprintf(arr + k, sizeof arr - (size_t)k, "%s%.*s", k > 1 ? ",\n " : "", (int)(nl - p), p);
        p = nl + 1;
    }
    snprintf(arr + k, sizeof arr - (size_t)k, "]");
    h = call(port, "POST", "/v1/events", NULL, arr);
    ASSERT_EQ_INT(h.status, 200);
    ASSERT_CONTAINS(h.body, "\"applied\":0,\"duplicates\":5");
    free(h.body);
    h = call(port, "POST", "/v1/predict", NULL, predict_body("42", "3", "mobile", "1", ads, 3, 0));
    check_ranking(&h, ads, once, 3, 0, version);
    free(h.body);

    /* bad events: counted and named, the good ones still applied */
    h = call(port, "POST", "/v1/events", NULL,
             "{\"type\":\"click\",\"event_id\":1000001,\"ts\":1704069000000,\"user_id\":1,\"ad_id\":2}\n"
             "{\"type\":\"click\",\"ts\":1704069000000,\"user_id\":1}\n"
             "\n"
             "{\"type\":\"click\",\"event_id\":1000002,\"ts\":17040690000\n");
    ASSERT_EQ_INT(h.status, 200);
    ASSERT_CONTAINS(h.body, "\"applied\":1,\"duplicates\":0,\"rejected\":2");
    ASSERT_CONTAINS(h.body, "line 2: no event_id");
    ASSERT_CONTAINS(h.body, "line 4: column");
    free(h.body);
    expect_error(port, "POST", "/v1/events", NULL, "[{\"type\":\"click\"},", 400, "request body: column");
    expect_error(port, "POST", "/v1/events", NULL, "  \n", 400, "no events");
    h = call(port, "POST", "/v1/events", NULL, "[1, 2]");
    ASSERT_EQ_INT(h.status, 400); /* every event rejected */
    free(h.body);
    h = call(port, "GET", "/metrics", NULL, NULL);
    ASSERT_CONTAINS(h.body, "pronto_events_total{result=\"applied\"} 6\n");
    ASSERT_CONTAINS(h.body, "pronto_events_total{result=\"duplicate\"} 10\n");
    ASSERT_CONTAINS(h.body, "pronto_events_total{result=\"rejected\"} 4\n");
    free(h.body);
    pr_server_shutdown(s, 5);
    pr_server_free(s);
    ref_close(&r1);
    ref_close(&r2);
}

/* Four impressions of (user 42, ad 7) and a click, a minute before the
 * requests (JSON lines). */
static void imps_and_click(char *lines, size_t cap) {
    long long t = (long long)(t_req - 60000);
    int k = 0;
    for (int i = 0; i < 4; i++)
        k += snprintf(lines + k, cap - (size_t)k,
                      "{\"type\":\"impression\",\"event_id\":900000%d,\"impression_id\":900000%d,"
                      "\"ts\":%lld,\"user_id\":42,\"ad_id\":7,\"site_id\":3,\"device\":\"mobile\","
                      "\"position\":1}\n",
                      i, i, t + i);
    snprintf(lines + k, cap - (size_t)k,
             "{\"type\":\"click\",\"event_id\":9000009,\"impression_id\":9000001,\"ts\":%lld,"
             "\"user_id\":42,\"ad_id\":7}\n",
             t + 10);
}

/* The value of one /metrics line ("name{labels} value"), -1 if absent. */
static long long metric(uint16_t port, const char *name) {
    resp r = call(port, "GET", "/metrics", NULL, NULL);
    const char *p = strstr(r.body, name);
    long long v = p ? strtoll(p + strlen(name), NULL, 10) : -1;
    free(r.body);
    return v;
}

/* Events the server must not take: a far-future or absurd ts, a ts older
 * than --max-event-age, an over-long id, a type that is not a string;
 * each refused with its reason, and none moves an entity's clock (later
 * events for the same user and ad count as if nothing had come). */
TEST(test_events_refused) {
    char lines[2048];
    imps_and_click(lines, sizeof lines);
    const char *ads[] = {"7", "8", "9"};
    double once[3];
    ref r1;
    ref_open(&r1, model_path, lines, 1);
    ref_predict(&r1, "42", "3", "mobile", "1", ads, 3, once);
    ref_close(&r1);

    pr_server *s = start("mem:", 512);
    uint16_t port = pr_server_port(s);
    char version[17];
    file_version(model_path, version);
    struct timespec now_ts;
    clock_gettime(CLOCK_REALTIME, &now_ts);
    long long now = (long long)now_ts.tv_sec * 1000;
    char long_id[601];
    memset(long_id, '9', 600);
    long_id[600] = '\0';
    char bad[4096];
    const char *imp = "\"type\":\"impression\",\"user_id\":42,\"ad_id\":7,\"site_id\":3,"
                      "\"device\":\"mobile\",\"position\":1";
    snprintf(bad, sizeof bad,
             "{%s,\"event_id\":1,\"ts\":4102444800000}\n"        /* 2100 */
             "{%s,\"event_id\":2,\"ts\":9223372036854775807}\n"  /* INT64_MAX */
             "{%s,\"event_id\":3,\"ts\":-9223372036854775808}\n" /* INT64_MIN */
             "{%s,\"event_id\":4,\"ts\":%lld}\n"                 /* 3 h ahead */
             "{%s,\"event_id\":5,\"ts\":%lld}\n"                 /* older than the age */
             "{\"type\":\"impression\",\"event_id\":6,\"ts\":%lld,\"user_id\":\"%s\",\"ad_id\":7}\n"
             "{\"type\":7,\"event_id\":7,\"ts\":%lld,\"user_id\":42,\"ad_id\":7}\n",
             imp, imp, imp, imp, now + 3 * 3600000LL, imp, now - EVENT_AGE_MS - 86400000LL,
             (long long)t_req, long_id, (long long)t_req);
    resp h = call(port, "POST", "/v1/events", NULL, bad);
    ASSERT_EQ_INT(h.status, 400); /* nothing applied */
    ASSERT_CONTAINS(h.body, "\"applied\":0,\"duplicates\":0,\"rejected\":7,\"failed\":0,\"late\":0");
    ASSERT_CONTAINS(h.body, "line 1: key 'ts': 4102444800000 (2100-01-01T00:00:00Z) is ");
    ASSERT_CONTAINS(h.body, " days ahead of the server's clock (");
    ASSERT_CONTAINS(h.body, "events at most 1h ahead are taken");
    ASSERT_CONTAINS(h.body, "line 2: key 'ts': 9223372036854775807 is not a time in the years 1970..9999");
    ASSERT_CONTAINS(h.body, "line 3: key 'ts': -9223372036854775808 is not a time");
    ASSERT_CONTAINS(h.body, "line 4: key 'ts': ");
    ASSERT_CONTAINS(h.body, " hours ahead of the server's clock");
    ASSERT_CONTAINS(h.body, "line 5: key 'ts': ");
    ASSERT_CONTAINS(h.body, "behind the server's clock");
    ASSERT_CONTAINS(h.body, "events at most 14600d old are taken");
    ASSERT_CONTAINS(h.body, "line 6: key 'user_id': 600 bytes, more than the 503 a key of entity 'user' may have");
    ASSERT_CONTAINS(h.body, "line 7: key 'type': expected a string");
    free(h.body);
    /* the same user and ad: counted as if nothing had come before */
    h = call(port, "POST", "/v1/events", NULL, lines);
    ASSERT_EQ_INT(h.status, 200);
    ASSERT_CONTAINS(h.body, "\"applied\":5,\"duplicates\":0,\"rejected\":0,\"failed\":0,\"late\":0");
    free(h.body);
    h = call(port, "POST", "/v1/predict", NULL, predict_body("42", "3", "mobile", "1", ads, 3, 0));
    check_ranking(&h, ads, once, 3, 0, version);
    free(h.body);
    /* Late: 30 days before the user's last event, inside the age limit but
     * older than every window of (user 42, ad 7) and of user 42: applied
     * (the decayed and last-N aggregates take it), counted as late. */
    char late[512];
    snprintf(late, sizeof late, "{%s,\"event_id\":8,\"impression_id\":8,\"ts\":%lld}\n", imp,
             (long long)(t_req - 30LL * 86400000));
    h = call(port, "POST", "/v1/events", NULL, late);
    ASSERT_EQ_INT(h.status, 200);
    ASSERT_CONTAINS(h.body, "\"applied\":1,\"duplicates\":0,\"rejected\":0,\"failed\":0,\"late\":1");
    free(h.body);
    ASSERT_EQ_INT(metric(port, "\npronto_events_late_total "), 1);
    /* A body cut short or followed by more: the message speaks of the
     * client's bytes, not of the wrapper the scanner saw. */
    expect_error(port, "POST", "/v1/events", NULL, "[", 400,
                 "request body: column 2: unexpected end of input, expected a value");
    expect_error(port, "POST", "/v1/events", NULL, "  [{\"type\":\"click\"},", 400,
                 "request body: column 21: unexpected end of input, expected a value");
    expect_error(port, "POST", "/v1/events", NULL, "[{\"a\":\"]}\"}", 400,
                 "request body: column 12: unexpected end of input, expected ',' or ']'");
    expect_error(port, "POST", "/v1/events", NULL, "[1] x", 400,
                 "request body: column 5: expected the end of the body after the array, got 'x'");
    expect_error(port, "POST", "/v1/events", NULL, "[1],[2]", 400,
                 "request body: column 4: expected the end of the body after the array, got ','");
    expect_error(port, "POST", "/v1/events", NULL, "[\"ab", 400,
                 "request body: column 5: unexpected end of input");
    expect_error(port, "POST", "/v1/events", NULL, "[1,]", 400,
                 "request body: column 4: expected a value, got ']'");
    pr_server_shutdown(s, 5);
    pr_server_free(s);

    /* The default age: the spec's longest window (7 d): 2024 is refused. */
    pr_server_opts o;
    base_opts(&o, model_path);
    pr_err err;
    ASSERT_OK(pr_server_start(&o, &s, &err));
    h = call(pr_server_port(s), "POST", "/v1/events", NULL, lines);
    ASSERT_EQ_INT(h.status, 400);
    ASSERT_CONTAINS(h.body, "events at most 7d old are taken");
    free(h.body);
    pr_server_free(s);
    o.max_event_skew_ms = -1;
    ASSERT_STATUS(pr_server_start(&o, &s, &err), PR_ERR_INVALID);
}

/* A model whose spec defines a column otherwise than the store's (the
 * same names, user_imps_1d over 2 days) is refused at reload and at
 * start, naming the column and the difference; the same definitions are
 * taken. */
TEST(test_reload_compares_definitions) {
    char *text, other_spec[600], model_c[600];
    size_t len;
    pr_err err;
    ASSERT_OK(pr_read_file(spec_path, &text, &len, &err));
    char *w = strstr(text, "window: 1d"); /* the first: user_imps_1d */
    ASSERT_TRUE(w != NULL && strstr(text, "name: user_imps_1d") < w);
    w[8] = '2';
    snprintf(other_spec, sizeof other_spec, "%s", test_path("spec-2d.yaml"));
    test_write_file(other_spec, text);
    free(text);
    snprintf(model_c, sizeof model_c, "%s", test_path("c.pm"));
    train_model(other_spec, model_c, 1);

    copy_file(model_a, model_path);
    pr_server *s = start("mem:", 512);
    uint16_t port = pr_server_port(s);
    copy_file(model_c, model_path);
    resp r = call(port, "POST", "/admin/reload", "Authorization: Bearer s3cret\r\n", NULL);
    ASSERT_EQ_INT(r.status, 422);
    ASSERT_CONTAINS(r.body, "previous one keeps serving");
    ASSERT_CONTAINS(r.body, "column user_imps_1d: window 2d in the model's spec, 1d in the store's");
    free(r.body);
    copy_file(model_b, model_path); /* trained with the store's spec */
    r = call(port, "POST", "/admin/reload", "Authorization: Bearer s3cret\r\n", NULL);
    ASSERT_EQ_INT(r.status, 200);
    free(r.body);
    pr_server_shutdown(s, 5);
    pr_server_free(s);
    /* at start, against --spec */
    pr_server_opts o;
    base_opts(&o, model_c);
    o.spec_path = spec_path;
    ASSERT_STATUS(pr_server_start(&o, &s, &err), PR_ERR_SPEC);
    ASSERT_CONTAINS(err.msg, "column user_imps_1d: window 2d in the model's spec, 1d in the store's");
    o.spec_path = other_spec; /* its own spec: taken */
    ASSERT_OK(pr_server_start(&o, &s, &err));
    pr_server_free(s);
    copy_file(model_a, model_path);
}

/* ---------------------------------------------------------------- hot swap */

typedef struct loader {
    uint16_t port;
    int stop;          /* atomic */
    char body[8192];   /* built before the threads start */
    uint64_t ok, failed, saw_a, saw_b;
    char va[17], vb[17];
} loader;

static void *load_loop(void *arg) {
    loader *l = arg;
    int fd = -1;
    while (!__atomic_load_n(&l->stop, __ATOMIC_RELAXED)) {
        resp r;
        if (http(l->port, &fd, "POST", "/v1/predict", NULL, l->body, &r) != 0 || r.status != 200) {
            __atomic_add_fetch(&l->failed, 1, __ATOMIC_RELAXED);
            if (r.body) fprintf(stderr, "failed: %d %s\n", r.status, r.body);
        } else {
            __atomic_add_fetch(&l->ok, 1, __ATOMIC_RELAXED);
            if (strstr(r.body, l->va)) __atomic_add_fetch(&l->saw_a, 1, __ATOMIC_RELAXED);
            if (strstr(r.body, l->vb)) __atomic_add_fetch(&l->saw_b, 1, __ATOMIC_RELAXED);
        }
        free(r.body);
    }
    if (fd >= 0) close(fd);
    return NULL;
}

static void wait_for(uint64_t *counter, uint64_t above) {
    for (int i = 0; i < 2000 && __atomic_load_n(counter, __ATOMIC_RELAXED) <= above; i++)
        usleep(5000);
    ASSERT_TRUE(__atomic_load_n(counter, __ATOMIC_RELAXED) > above);
}

TEST(test_hot_swap_under_load) {
    copy_file(model_a, model_path);
    pr_server *s = start("mem:", 512);
    loader l;
    memset(&l, 0, sizeof l);
    l.port = pr_server_port(s);
    file_version(model_a, l.va);
    file_version(model_b, l.vb);
    ASSERT_TRUE(strcmp(l.va, l.vb) != 0);
    const char *ads[] = {"1", "2", "3", "4", "5", "6", "7", "8"};
    snprintf(l.body, sizeof l.body, "%s", predict_body("11", "4", "mobile", "2", ads, 8, 0));
    pthread_t th[2];
    for (int i = 0; i < 2; i++) ASSERT_TRUE(pthread_create(&th[i], NULL, load_loop, &l) == 0);
    wait_for(&l.saw_a, 300);

    /* deploy B, reload by the admin endpoint */
    copy_file(model_b, model_path);
    resp r = call(l.port, "POST", "/admin/reload", "Authorization: Bearer s3cret\r\n", NULL);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(r.body, l.vb);
    ASSERT_CONTAINS(r.body, "\"generation\":2");
    free(r.body);
    wait_for(&l.saw_b, 300);

    /* a corrupt file: refused, B keeps answering */
    char *d;
    size_t n;
    pr_err err;
    ASSERT_OK(pr_read_file(model_b, &d, &n, &err));
    d[n / 2] ^= 0x5a;
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.bad", model_path);
    FILE *f = fopen(tmp, "wb");
    ASSERT_TRUE(f && fwrite(d, 1, n, f) == n && fclose(f) == 0);
    free(d);
    ASSERT_TRUE(rename(tmp, model_path) == 0);
    r = call(l.port, "POST", "/admin/reload", "Authorization: Bearer s3cret\r\n", NULL);
    ASSERT_EQ_INT(r.status, 422);
    ASSERT_CONTAINS(r.body, "previous one keeps serving");
    ASSERT_CONTAINS(r.body, "checksum");
    free(r.body);
    uint64_t b_before = __atomic_load_n(&l.saw_b, __ATOMIC_RELAXED);
    wait_for(&l.saw_b, b_before + 300);
    /* polling does not retry the refused file, and picks up a good one */
    ASSERT_EQ_INT(pr_server_poll_model(s, &err), 0);
    copy_file(model_a, model_path);
    pr_err_clear(&err);
    ASSERT_EQ_INT(pr_server_poll_model(s, &err), 1);
    ASSERT_EQ_INT(err.status, PR_OK);
    ASSERT_EQ_INT(pr_server_poll_model(s, &err), 0); /* unchanged now */
    uint64_t a_before = __atomic_load_n(&l.saw_a, __ATOMIC_RELAXED);
    wait_for(&l.saw_a, a_before + 300);

    __atomic_store_n(&l.stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    ASSERT_EQ_INT(l.failed, 0);
    ASSERT_TRUE(l.ok == l.saw_a + l.saw_b);
    r = call(l.port, "GET", "/metrics", NULL, NULL);
    ASSERT_CONTAINS(r.body, "pronto_model_reloads_total{result=\"ok\"} 2\n");
    ASSERT_CONTAINS(r.body, "pronto_model_reloads_total{result=\"refused\"} 1\n");
    ASSERT_CONTAINS(r.body, "pronto_model_generation 3\n");
    free(r.body);
    fprintf(stderr, "   %llu requests during two swaps and a refused model, 0 failed\n",
            (unsigned long long)l.ok);
    pr_server_shutdown(s, 5);
    pr_server_free(s);
}

/* ---------------------------------------------------------------- overload, drain */

TEST(test_overload_503) {
    pr_server *s = start("mem:", 2);
    uint16_t port = pr_server_port(s);
    int fds[2] = {-1, -1};
    resp r;
    for (int i = 0; i < 2; i++) { /* two kept-alive connections, served */
        ASSERT_TRUE(http(port, &fds[i], "GET", "/healthz", NULL, NULL, &r) == 0);
        ASSERT_EQ_INT(r.status, 200);
        free(r.body);
    }
    int fd = -1; /* the third: the reserve, health checks only */
    ASSERT_TRUE(http(port, &fd, "GET", "/v1/model", NULL, NULL, &r) == 0);
    ASSERT_EQ_INT(r.status, 503);
    ASSERT_CONTAINS(r.body, "overloaded");
    ASSERT_CONTAINS(r.head, "Connection: close");
    free(r.body);
    /* the connections already open keep being served */
    ASSERT_TRUE(http(port, &fds[0], "GET", "/v1/model", NULL, NULL, &r) == 0);
    ASSERT_EQ_INT(r.status, 200);
    free(r.body);
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0) close(fds[i]);
    if (fd >= 0) close(fd);
    usleep(100000);
    r = call(port, "GET", "/metrics", NULL, NULL);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(r.body, "pronto_http_overload_rejected_total 1\n");
    free(r.body);
    pr_server_free(s);
}

typedef struct stopper {
    pr_server *s;
    uint32_t left;
    int done; /* atomic */
} stopper;

static void *stop_thread(void *arg) {
    stopper *st = arg;
    st->left = pr_server_shutdown(st->s, 5.0);
    __atomic_store_n(&st->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

TEST(test_drain_finishes_in_flight) {
    pr_server *s = start("mem:", 512);
    uint16_t port = pr_server_port(s);
    const char *ads[] = {"1", "2"};
    const char *body = predict_body("3", "4", "mobile", "1", ads, 2, 0);
    size_t blen = strlen(body);
    /* A request in flight: headers and half of the body sent. */
    int fd = connect_port(port);
    ASSERT_TRUE(fd >= 0);
    char head[256];
    int n = snprintf(head, sizeof head, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", blen);
    ASSERT_TRUE(send_all(fd, head, (size_t)n) == 0 && send_all(fd, body, blen / 2) == 0);
    usleep(100000);
    stopper st = {s, 0, 0};
    pthread_t th;
    ASSERT_TRUE(pthread_create(&th, NULL, stop_thread, &st) == 0);
    usleep(200000);
    ASSERT_TRUE(!__atomic_load_n(&st.done, __ATOMIC_ACQUIRE)); /* waiting for our request */
    ASSERT_TRUE(connect_port(port) < 0);   /* and accepting no one new */
    ASSERT_TRUE(send_all(fd, body + blen / 2, blen - blen / 2) == 0);
    resp r;
    ASSERT_TRUE(read_resp(fd, &r) == 0);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(r.body, "\"predictions\"");
    ASSERT_CONTAINS(r.head, "Connection: close");
    free(r.body);
    close(fd);
    pthread_join(th, NULL);
    ASSERT_EQ_INT(st.left, 0);
    pr_server_free(s);
}

/* ---------------------------------------------------------------- redis */

TEST(test_redis_down_degrades_then_recovers) {
    redis_child rc;
    memset(&rc, 0, sizeof rc);
    rc.port = redis_free_port();
    snprintf(rc.dir, sizeof rc.dir, "%s", test_tmpdir());
    snprintf(rc.sock, sizeof rc.sock, "%s/redis.sock", test_tmpdir());
    char why[512];
    if (redis_child_start(&rc, why, sizeof why) != 0) TEST_FAIL("%s", why);
    char uri[128];
    snprintf(uri, sizeof uri, "redis:127.0.0.1:%d?prefix=serve:&timeout_ms=2000", rc.port);
    copy_file(model_a, model_path);
    pr_server *s = start(uri, 512);
    uint16_t port = pr_server_port(s);
    char version[17];
    file_version(model_path, version);
    const char *ads[] = {"1", "2", "3", "4"};
    double p[4];
    ref r;
    ref_open(&r, model_path, NULL, 0);
    ref_predict(&r, "17", "7", "mobile", "2", ads, 4, p);
    ref_close(&r);
    const char *body = predict_body("17", "7", "mobile", "2", ads, 4, 0);
    resp h = call(port, "POST", "/v1/predict", NULL, body);
    check_ranking(&h, ads, p, 4, 0, version); /* redis rows = mem rows */
    ASSERT_TRUE(!strstr(h.body, "degraded"));
    free(h.body);
    /* The ingester writes through its own connection: its puts count. */
    long long puts = metric(port, "\npronto_store_puts_total ");
    char ev[512];
    snprintf(ev, sizeof ev,
             "{\"type\":\"impression\",\"event_id\":1,\"ts\":%lld,\"user_id\":17,\"ad_id\":1,"
             "\"site_id\":7}\n",
             (long long)t_req);
    h = call(port, "POST", "/v1/events", NULL, ev);
    ASSERT_CONTAINS(h.body, "\"applied\":1");
    free(h.body);
    /* the rows of user, ad, user_ad and the ad's advertiser (site has no aggregate) */
    ASSERT_EQ_INT(metric(port, "\npronto_store_puts_total ") - puts, 4);

    redis_child_stop(&rc, SIGKILL);
    h = call(port, "POST", "/v1/predict", NULL, body);
    ASSERT_EQ_INT(h.status, 200); /* answered with defaults, flagged */
    ASSERT_CONTAINS(h.body, "\"degraded\":true");
    ASSERT_CONTAINS(h.body, "\"predictions\":[{\"ad_id\":\"");
    free(h.body);
    h = call(port, "GET", "/readyz", NULL, NULL);
    ASSERT_EQ_INT(h.status, 503);
    ASSERT_CONTAINS(h.body, "\"ready\":false");
    ASSERT_CONTAINS(h.body, "details with the admin token"); /* no host names */
    free(h.body);

    /* Redis comes back empty (no persistence): reachable again, but its
     * rows and the materialize sentinel are gone. Answers stay flagged
     * (cold starts), /readyz says why, the gauge shows it. */
    if (redis_child_start(&rc, why, sizeof why) != 0) TEST_FAIL("%s", why);
    int wiped = 0;
    for (int i = 0; i < 200 && !wiped; i++) { /* the checker runs every second */
        usleep(20000);
        h = call(port, "GET", "/readyz", NULL, NULL);
        wiped = h.status == 503 && strstr(h.body, "sentinel") != NULL;
        free(h.body);
    }
    ASSERT_TRUE(wiped);
    h = call(port, "POST", "/v1/predict", NULL, body);
    ASSERT_EQ_INT(h.status, 200);
    ASSERT_CONTAINS(h.body, "\"degraded\":true");
    free(h.body);
    h = call(port, "GET", "/metrics", NULL, NULL);
    ASSERT_CONTAINS(h.body, "\npronto_store_empty 1\n");
    free(h.body);

    /* Materialized again: the same answers as before, unflagged, ready. */
    {
        pr_err err;
        pr_store *st = NULL;
        pr_spec *spec = NULL;
        pr_model *m = NULL;
        ASSERT_OK(pr_model_load(model_path, &m, &err));
        const char *y = pr_model_spec(m);
        ASSERT_OK(pr_spec_parse(y, strlen(y), model_path, &spec, &err));
        ASSERT_OK(pr_store_open(uri, &st, &err));
        pr_fs_build_opts bo = {.data_dir = test_tmpdir(), .store = st};
        pr_fs_build_stats bs;
        ASSERT_OK(pr_fs_build(spec, &bo, &bs, &err));
        pr_store_close(st);
        pr_spec_free(spec);
        pr_model_free(m);
    }
    int recovered = 0;
    for (int i = 0; i < 200 && !recovered; i++) {
        usleep(20000);
        h = call(port, "POST", "/v1/predict", NULL, body);
        ASSERT_EQ_INT(h.status, 200);
        recovered = !strstr(h.body, "degraded");
        if (recovered) check_ranking(&h, ads, p, 4, 0, version);
        free(h.body);
    }
    ASSERT_TRUE(recovered);
    int ready = 0;
    for (int i = 0; i < 100 && !ready; i++) {
        h = call(port, "GET", "/readyz", NULL, NULL);
        ready = h.status == 200;
        free(h.body);
        if (!ready) usleep(20000);
    }
    ASSERT_TRUE(ready);
    h = call(port, "GET", "/metrics", NULL, NULL);
    ASSERT_CONTAINS(h.body, "\npronto_store_empty 0\n");
    free(h.body);
    h = call(port, "GET", "/metrics", NULL, NULL);
    ASSERT_TRUE(!strstr(h.body, "pronto_predict_degraded_total 0\n"));
    ASSERT_TRUE(!strstr(h.body, "pronto_store_errors_total 0\n"));
    ASSERT_TRUE(!strstr(h.body, "pronto_store_failures_total 0\n"));
    free(h.body);
    pr_server_shutdown(s, 5);
    pr_server_free(s);
    redis_child_stop(&rc, SIGTERM);
}

/* ---------------------------------------------------------------- slow work, special files */

/* A server for the slow-work tests: big bodies allowed, `threads` HTTP
 * threads, at most max_jobs event batches queued or running. */
static pr_server *start_slow(uint32_t threads, uint32_t max_jobs) {
    pr_server_opts o;
    base_opts(&o, model_path);
    o.data_dir = test_tmpdir();
    o.admin_token = "s3cret";
    o.threads = threads;
    o.max_body = 32u << 20;
    o.max_queued_jobs = max_jobs;
    pr_server *s = NULL;
    pr_err err;
    ASSERT_OK(pr_server_start(&o, &s, &err));
    return s;
}

/* n impressions as JSON lines, ids from first_id, at the current time (so
 * no skew check refuses them). malloc'd. */
static char *event_batch(uint64_t first_id, uint32_t n, size_t *len) {
    size_t cap = (size_t)n * 200 + 1, k = 0;
    char *b = malloc(cap);
    ASSERT_TRUE(b != NULL);
    long long now = (long long)pr_unix_time() * 1000;
    for (uint32_t i = 0; i < n; i++)
        k += (size_t)snprintf(b + k, cap - k,
                              "{\"type\":\"impression\",\"event_id\":%llu,\"impression_id\":%llu,"
                              "\"ts\":%lld,\"user_id\":%u,\"ad_id\":%u,\"site_id\":%u,"
                              "\"device\":\"mobile\",\"position\":1}\n",
                              (unsigned long long)(first_id + i), (unsigned long long)(first_id + i),
                              now, i % 300, i % 60, i % 40);
    *len = k;
    return b;
}

/* Sends a POST of body on a new connection without reading the answer
 * (which may take long: the slow work runs at a low priority, and the test
 * machine may be busy and sanitized). */
static int post_nowait(uint16_t port, const char *path, const char *body, size_t len) {
    int fd = connect_port(port);
    ASSERT_TRUE(fd >= 0);
    struct timeval tv = {120, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char head[256];
    int n = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
                     path, len);
    ASSERT_TRUE(send_all(fd, head, (size_t)n) == 0 && send_all(fd, body, len) == 0);
    return fd;
}

/* Waits (bounded) until the metric reaches at least want. */
static void wait_metric(uint16_t port, const char *name, long long want) {
    for (int i = 0; i < 2000 && metric(port, name) < want; i++) usleep(2000);
    ASSERT_TRUE(metric(port, name) >= want);
}

static int has_reply(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

TEST(test_slow_work_off_http_threads) {
    /* One HTTP thread: a batch applied on it would hold every request.
     * 30000 events take ~0.2 s here (release), a predict ~1 ms. A round
     * where the machine let the batch finish before the checks could run
     * tells nothing and is tried again (at most 5 rounds). */
    copy_file(model_a, model_path);
    pr_server *s = start_slow(1, 1);
    uint16_t port = pr_server_port(s);
    const char *ads[] = {"1", "2", "3"};
    size_t slen;
    char *small = event_batch(9000000, 10, &slen);
    int shown = 0;
    uint64_t rejected = 0;
    for (int round = 0; round < 5 && !shown; round++) {
        size_t blen;
        char *big = event_batch(5000000 + (uint64_t)round * 100000, 30000, &blen);
        int fd = post_nowait(port, "/v1/events", big, blen);
        for (int i = 0; i < 2000 && !has_reply(fd) &&
                        metric(port, "pronto_jobs_queued{queue=\"events\"} ") < 1; i++)
            usleep(1000);
        int running = !has_reply(fd);
        /* While it is applied: a predict answers before the batch does. */
        resp h = call(port, "POST", "/v1/predict", NULL,
                      predict_body("5", "3", "mobile", "1", ads, 3, 0));
        ASSERT_EQ_INT(h.status, 200);
        free(h.body);
        running = running && !has_reply(fd);
        /* and the full queue answers another batch 503 at once, in JSON */
        h = call(port, "POST", "/v1/events", NULL, small);
        if (h.status == 503) {
            rejected++;
            ASSERT_CONTAINS(h.head, "Retry-After: 1");
            ASSERT_CONTAINS(h.head, "application/json");
            json_t *j = parse_json(&h);
            ASSERT_TRUE(json_is_string(json_object_get(j, "error")));
            ASSERT_CONTAINS(json_string_value(json_object_get(j, "error")), "queue is full");
            json_decref(j);
            shown = running && !has_reply(fd);
        } else { /* only if the big batch was done by then */
            ASSERT_EQ_INT(h.status, 200);
            ASSERT_TRUE(has_reply(fd));
        }
        free(h.body);
        resp a;
        ASSERT_TRUE(read_resp(fd, &a) == 0);
        ASSERT_EQ_INT(a.status, 200);
        ASSERT_CONTAINS(a.body, "\"applied\":30000,");
        free(a.body);
        close(fd);
        free(big);
    }
    ASSERT_TRUE(shown);
    {
        resp h = call(port, "POST", "/v1/events", NULL, small); /* room again */
        ASSERT_EQ_INT(h.status, 200);
        free(h.body);
    }
    ASSERT_EQ_INT(metric(port, "pronto_jobs_rejected_total{queue=\"events\"} "), (long long)rejected);
    ASSERT_EQ_INT(metric(port, "pronto_jobs_queued{queue=\"events\"} "), 0);
    free(small);
    pr_server_shutdown(s, 5);
    pr_server_free(s);
}

TEST(test_reloads_and_events_under_load) {
    /* Predicts on two connections while batches of 4000 events and
     * reloads (alternating two models) run: no predict fails. */
    copy_file(model_a, model_path);
    pr_server *s = start_slow(2, 16);
    loader l;
    memset(&l, 0, sizeof l);
    l.port = pr_server_port(s);
    file_version(model_a, l.va);
    file_version(model_b, l.vb);
    const char *ads[] = {"1", "2", "3", "4", "5", "6", "7", "8"};
    snprintf(l.body, sizeof l.body, "%s", predict_body("11", "4", "mobile", "2", ads, 8, 0));
    pthread_t th[2];
    for (int i = 0; i < 2; i++) ASSERT_TRUE(pthread_create(&th[i], NULL, load_loop, &l) == 0);
    wait_for(&l.ok, 50);
    uint64_t applied = 0;
    for (int round = 0; round < 12; round++) {
        size_t blen;
        char *batch = event_batch(7000000 + (uint64_t)round * 4000, 4000, &blen);
        int fd = post_nowait(l.port, "/v1/events", batch, blen);
        copy_file(round % 2 ? model_a : model_b, model_path);
        resp r = call(l.port, "POST", "/admin/reload", "Authorization: Bearer s3cret\r\n", NULL);
        ASSERT_EQ_INT(r.status, 200);
        free(r.body);
        resp e;
        ASSERT_TRUE(read_resp(fd, &e) == 0);
        ASSERT_EQ_INT(e.status, 200);
        applied += strstr(e.body, "\"applied\":4000,") != NULL;
        free(e.body);
        close(fd);
        free(batch);
    }
    __atomic_store_n(&l.stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    ASSERT_EQ_INT(l.failed, 0);
    ASSERT_EQ_INT(applied, 12);
    ASSERT_TRUE(l.saw_a > 0 && l.saw_b > 0);
    ASSERT_EQ_INT(metric(l.port, "pronto_model_reloads_total{result=\"ok\"} "), 12);
    fprintf(stderr, "   %llu predicts during 12 batches of 4000 events and 12 reloads, 0 failed\n",
            (unsigned long long)l.ok);
    pr_server_shutdown(s, 5);
    pr_server_free(s);
}

TEST(test_shutdown_answers_queued_jobs) {
    /* A batch still being applied at the end of the drain is answered 503
     * and shutdown returns (bounded), the batch stopping at an event. */
    copy_file(model_a, model_path);
    pr_server *s = start_slow(2, 4);
    uint16_t port = pr_server_port(s);
    size_t blen;
    char *big = event_batch(11000000, 60000, &blen);
    int fd = post_nowait(port, "/v1/events", big, blen);
    int fd2 = post_nowait(port, "/v1/events", big, blen); /* queued behind it */
    wait_metric(port, "pronto_jobs_queued{queue=\"events\"} ", 2);
    pr_server_shutdown(s, 0);
    resp a, b;
    ASSERT_TRUE(read_resp(fd, &a) == 0 && read_resp(fd2, &b) == 0);
    ASSERT_EQ_INT(a.status, 503);
    ASSERT_EQ_INT(b.status, 503);
    /* the drain answers a job it finds queued or running ("draining"); a
     * running one the shutdown's cancel stopped first answers itself, every
     * event it did not apply named ("not applied: the server is shutting
     * down"): either is a 503 that says why */
    ASSERT_TRUE(strstr(a.body, "\"error\":\"draining") ||
                strstr(a.body, "not applied: the server is shutting down"));
    ASSERT_TRUE(strstr(b.body, "\"error\":\"draining") ||
                strstr(b.body, "not applied: the server is shutting down"));
    free(a.body);
    free(b.body);
    close(fd);
    close(fd2);
    free(big);
    pr_server_free(s);
}

/* N impressions with ids first.., a minute before the requests' time. */
static void id_batch(char *buf, size_t cap, int first, int n) {
    int k = 0;
    for (int i = 0; i < n; i++)
        k += snprintf(buf + k, cap - (size_t)k,
                      "{\"type\":\"impression\",\"event_id\":%d,\"impression_id\":%d,"
                      "\"ts\":%lld,\"user_id\":%d,\"ad_id\":7,\"site_id\":3,"
                      "\"device\":\"mobile\",\"position\":1}\n",
                      first + i, first + i, (long long)(t_req - 60000), 40 + i);
}

TEST(test_log_fsync_failure) {
    const char *policies[] = {"always", "batch:5"};
    for (int k = 0; k < 2; k++) {
        char dir[600], uri[700];
        snprintf(dir, sizeof dir, "%s/evlog-%d", test_tmpdir(), k);
        snprintf(uri, sizeof uri, "log:%s?fsync=%s", dir, policies[k]);
        pr_server_opts o;
        base_opts(&o, model_path);
        o.data_dir = test_tmpdir();
        o.max_event_age_ms = EVENT_AGE_MS;
        o.log_uri = uri;
        pr_server *s = NULL;
        pr_err err;
        ASSERT_OK(pr_server_start(&o, &s, &err));
        uint16_t port = pr_server_port(s);
        char a[4096], b[4096], c[4096];
        id_batch(a, sizeof a, 7100000, 5);
        id_batch(b, sizeof b, 7200000, 5);
        id_batch(c, sizeof c, 7300000, 5);
        resp h = call(port, "POST", "/v1/events", NULL, a);
        ASSERT_EQ_INT(h.status, 200);
        free(h.body);
        __atomic_store_n(&fail_fsync, 1, __ATOMIC_RELAXED);
        h = call(port, "POST", "/v1/events", NULL, b); /* written, applied, not synced */
        ASSERT_EQ_INT(h.status, 503);
        ASSERT_CONTAINS(h.body, "fdatasync failed");
        ASSERT_CONTAINS(h.body, "applied but may not be on disk");
        free(h.body);
        /* Down, or reopened meanwhile (an open needs no fsync) and failing
         * again at the sync: either way a 503. */
        h = call(port, "POST", "/v1/events", NULL, c);
        ASSERT_EQ_INT(h.status, 503);
        ASSERT_TRUE(strstr(h.body, "nothing of this batch was applied") ||
                    strstr(h.body, "applied but may not be on disk"));
        free(h.body);
        ASSERT_TRUE(metric(port, "\npronto_log_errors_total ") >= 1);
        h = call(port, "POST", "/v1/predict", NULL, predict_body("42", "3", "mobile", "1", ads_20, 3, 0));
        ASSERT_EQ_INT(h.status, 200); /* predictions go on */
        free(h.body);
        __atomic_store_n(&fail_fsync, 0, __ATOMIC_RELAXED);
        for (int i = 0; i < 300 && metric(port, "\npronto_log_up ") != 1; i++) usleep(10000);
        ASSERT_EQ_INT(metric(port, "\npronto_log_up "), 1); /* reopened by itself */
        h = call(port, "POST", "/v1/events", NULL, b);
        ASSERT_EQ_INT(h.status, 200);
        ASSERT_CONTAINS(h.body, "\"applied\":0,\"duplicates\":5");
        free(h.body);
        h = call(port, "POST", "/v1/events", NULL, c); /* applied now or before */
        ASSERT_EQ_INT(h.status, 200);
        ASSERT_TRUE(strstr(h.body, "\"applied\":5,\"duplicates\":0") ||
                    strstr(h.body, "\"applied\":0,\"duplicates\":5"));
        free(h.body);
        ASSERT_TRUE(metric(port, "\npronto_log_reopens_total ") >= 1);
        pr_server_shutdown(s, 1);
        pr_server_free(s);
        /* every event once */
        pr_event_log *log;
        snprintf(uri, sizeof uri, "log:%s", dir);
        ASSERT_OK(pr_log_open(uri, PR_LOG_READ, &log, &err));
        pr_log_reader *r;
        ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
        pr_log_record rec;
        int seen[3][5] = {{0}};
        int events = 0;
        pr_status st;
        while ((st = pr_log_next(r, &rec, &err)) == PR_OK) {
            if (rec.type != PR_LOG_TYPE_EVENT) continue;
            const char *p = memmem(rec.payload.ptr, rec.payload.len, "\"event_id\":", 11);
            ASSERT_TRUE(p != NULL);
            long id = strtol(p + 11, NULL, 10);
            int g = (int)(id / 100000) - 71, i = (int)(id % 100000);
            ASSERT_TRUE(g >= 0 && g < 3 && i >= 0 && i < 5);
            seen[g][i]++;
            events++;
        }
        ASSERT_EQ_INT(st, PR_EOF);
        ASSERT_EQ_INT(events, 15);
        for (int g = 0; g < 3; g++)
            for (int i = 0; i < 5; i++) ASSERT_EQ_INT(seen[g][i], 1);
        pr_log_reader_close(r);
        pr_log_close(log);
    }
}

/* Replaces the serving model by something that is not a model file. */
static void serve_instead(const char *kind) {
    unlink(model_path);
    if (!strcmp(kind, "zero")) ASSERT_TRUE(symlink("/dev/zero", model_path) == 0);
    else if (!strcmp(kind, "fifo")) ASSERT_TRUE(mkfifo(model_path, 0600) == 0);
    else if (!strcmp(kind, "dir")) ASSERT_TRUE(mkdir(model_path, 0700) == 0);
    else { /* a sparse file of 1 TiB: over any default limit */
        int fd = open(model_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ASSERT_TRUE(fd >= 0 && ftruncate(fd, (off_t)1 << 40) == 0);
        close(fd);
    }
}

TEST(test_reload_refuses_special_files) {
    copy_file(model_a, model_path);
    pr_server *s = start("mem:", 512);
    uint16_t port = pr_server_port(s);
    char version[17];
    file_version(model_a, version);
    static const char *const kinds[] = {"zero", "fifo", "dir", "sparse"};
    static const char *const why[] = {"a character device, not a regular file",
                                      "a FIFO, not a regular file",
                                      "a directory, not a regular file",
                                      "1099511627776 bytes, over the limit of"};
    for (int i = 0; i < 4; i++) {
        serve_instead(kinds[i]);
        resp r = call(port, "POST", "/admin/reload", "Authorization: Bearer s3cret\r\n", NULL);
        ASSERT_EQ_INT(r.status, 422);
        ASSERT_CONTAINS(r.body, why[i]);
        ASSERT_CONTAINS(r.body, "previous one keeps serving");
        free(r.body);
        pr_err err;
        pr_err_clear(&err);
        ASSERT_EQ_INT(pr_server_poll_model(s, &err), 0); /* refused: not retried */
        ASSERT_TRUE((kinds[i][0] == 'd' ? rmdir(model_path) : unlink(model_path)) == 0);
    }
    const char *ads[] = {"1", "2"};
    resp h = call(port, "POST", "/v1/predict", NULL, predict_body("5", "3", "mobile", "1", ads, 2, 0));
    ASSERT_EQ_INT(h.status, 200);
    ASSERT_CONTAINS(h.body, version); /* the first model still serves */
    free(h.body);
    copy_file(model_a, model_path);
    pr_server_shutdown(s, 5);
    pr_server_free(s);
}

/* ---------------------------------------------------------------- hostile clients */

static pr_server *start_guarded(uint32_t max_conn, size_t body_memory) {
    pr_server_opts o;
    base_opts(&o, model_path);
    o.max_body = 64 * 1024;
    o.max_connections = max_conn;
    o.max_connections_per_ip = max_conn + PR_SERVE_RESERVE;
    o.header_timeout = 0.4;
    o.body_timeout = 0.4;
    o.max_body_memory = body_memory;
    pr_server *s = NULL;
    pr_err err;
    ASSERT_OK(pr_server_start(&o, &s, &err));
    return s;
}

/* Everything the server sends until it closes (or 3 s pass): -1 on a
 * timeout, else the bytes read. */
static long read_until_close(int fd, char *buf, size_t cap) {
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t have = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + have, cap - 1 - have, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) break;
        if (n < 0) return -1;
        have += (size_t)n;
        if (have == cap - 1) break;
    }
    buf[have] = '\0';
    return (long)have;
}

/* A raw request on a fresh connection; the reply must be status with a
 * JSON body (valid UTF-8: jansson refuses anything else); closed: whether
 * the server must have closed the connection after it. */
static void raw_expect(uint16_t port, const char *req, size_t len, int status, int closed) {
    int fd = connect_port(port);
    ASSERT_TRUE(fd >= 0);
    ASSERT_TRUE(send_all(fd, req, len) == 0);
    resp r;
    ASSERT_TRUE(read_resp(fd, &r) == 0);
    ASSERT_EQ_INT(r.status, status);
    ASSERT_CONTAINS(r.head, "Content-Type: application/json");
    json_t *j = parse_json(&r);
    ASSERT_TRUE(json_string_value(json_object_get(j, "error")) != NULL);
    json_decref(j);
    free(r.body);
    char rest[256];
    struct timeval tv = {0, closed ? 2000000 : 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = recv(fd, rest, sizeof rest, 0);
    if (closed) ASSERT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET));
    else ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)); /* still open */
    close(fd);
}

/* The value of the sample line that starts with name (which ends with a
 * space or the labels), -1 if none. */
static double metric_value(uint16_t port, const char *name) {
    resp r = call(port, "GET", "/metrics", NULL, NULL);
    char key[256];
    snprintf(key, sizeof key, "\n%s", name);
    const char *p = strstr(r.body, key);
    double v = p ? strtod(p + strlen(key), NULL) : -1;
    free(r.body);
    return v;
}

TEST(test_framing_and_conformance) {
    pr_server *s = start("mem:", 512);
    uint16_t port = pr_server_port(s);
    static const char two_cl[] = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                 "Content-Length: 7\r\n\r\n12345";
    raw_expect(port, two_cl, sizeof two_cl - 1, 400, 1);
    static const char cl_te[] = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    raw_expect(port, cl_te, sizeof cl_te - 1, 400, 1);
    static const char no_host[] = "GET /healthz HTTP/1.1\r\n\r\n";
    raw_expect(port, no_host, sizeof no_host - 1, 400, 0);
    /* an echoed path with invalid UTF-8 and 2-byte characters across the
     * cut: still one valid UTF-8 JSON text */
    char req[2048];
    int n = snprintf(req, sizeof req, "GET /");
    for (int i = 0; i < 150; i++) n += snprintf(req + n, sizeof req - (size_t)n, "\xc3\xa9");
    n += snprintf(req + n, sizeof req - (size_t)n, "\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_expect(port, req, (size_t)n, 404, 0);
    static const char bad_method[] = "\xc3\xa9\xc3 /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    raw_expect(port, bad_method, sizeof bad_method - 1, 405, 0);
    /* HEAD on a GET route: the headers of the GET, no body */
    int fd = connect_port(port);
    static const char head[] = "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_TRUE(send_all(fd, head, sizeof head - 1) == 0);
    char buf[4096];
    struct timeval tv = {0, 300000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
    ASSERT_TRUE(got > 0);
    buf[got] = '\0';
    ASSERT_TRUE(!strncmp(buf, "HTTP/1.1 200", 12));
    ASSERT_CONTAINS(buf, "Content-Length: 16\r\n");
    ASSERT_TRUE(!strcmp(strstr(buf, "\r\n\r\n"), "\r\n\r\n")); /* nothing after */
    close(fd);
    resp r = call(port, "POST", "/healthz", NULL, NULL);
    ASSERT_EQ_INT(r.status, 405);
    ASSERT_CONTAINS(r.head, "Allow: GET, HEAD\r\n");
    free(r.body);
    ASSERT_TRUE(metric_value(port, "pronto_http_framing_rejected_total ") == 3);
    pr_server_free(s);
}

TEST(test_slow_clients_cut) {
    pr_server *s = start_guarded(64, 1u << 20);
    uint16_t port = pr_server_port(s);
    /* slow headers: a line every 100 ms (each resets an idle timer), cut
     * at 0.4 s with a 408 JSON */
    int fd = connect_port(port);
    static const char line1[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    ASSERT_TRUE(send_all(fd, line1, sizeof line1 - 1) == 0);
    double t0 = pr_now();
    int cut = 0;
    for (int i = 0; i < 30 && !cut; i++) {
        usleep(100000);
        cut = send(fd, "X-a: b\r\n", 8, MSG_NOSIGNAL) != 8;
        char b[1];
        cut |= recv(fd, b, 1, MSG_PEEK | MSG_DONTWAIT) >= 0;
    }
    char buf[4096];
    long got = read_until_close(fd, buf, sizeof buf);
    double took = pr_now() - t0;
    close(fd);
    ASSERT_TRUE(got > 0);
    ASSERT_TRUE(!strncmp(buf, "HTTP/1.1 408", 12));
    ASSERT_CONTAINS(buf, "{\"error\":\"request headers not received within 0.4 s");
    ASSERT_TRUE(took > 0.35 && took < 3.0); /* 0.4 s, swept every 0.1 s */
    /* slow body: 10 of 100 announced bytes, then nothing */
    fd = connect_port(port);
    static const char part[] = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":1234";
    ASSERT_TRUE(send_all(fd, part, sizeof part - 1) == 0);
    got = read_until_close(fd, buf, sizeof buf);
    close(fd);
    ASSERT_TRUE(got > 0);
    ASSERT_TRUE(!strncmp(buf, "HTTP/1.1 408", 12));
    ASSERT_CONTAINS(buf, "request body not received within 0.4 s (--body-timeout)");
    /* a keep-alive client that is merely idle between requests is not cut
     * by the header deadline */
    fd = -1;
    resp r;
    ASSERT_TRUE(http(port, &fd, "GET", "/healthz", NULL, NULL, &r) == 0);
    free(r.body);
    usleep(600000);
    ASSERT_TRUE(http(port, &fd, "GET", "/healthz", NULL, NULL, &r) == 0);
    ASSERT_EQ_INT(r.status, 200);
    free(r.body);
    close(fd);
    ASSERT_TRUE(metric_value(port, "pronto_http_timeouts_total{phase=\"headers\"} ") == 1);
    ASSERT_TRUE(metric_value(port, "pronto_http_timeouts_total{phase=\"body\"} ") == 1);
    pr_server_free(s);
}

/* Connections closed by the client, half of them in the middle of a
 * request line: none may linger (CLOSE-WAIT) or stay counted. */
TEST(test_burst_closed_by_client_returns_to_baseline) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int n = rl.rlim_cur > 700 ? 300 : (int)rl.rlim_cur / 3;
    pr_server *s = start("mem:", 512);
    uint16_t port = pr_server_port(s);
    int *fds = malloc(sizeof *fds * (size_t)n);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < n; i++) {
            ASSERT_TRUE((fds[i] = connect_port(port)) >= 0);
            if (i % 2) ASSERT_TRUE(send_all(fds[i], "POST /v1/predict HTTP/1.1\r\nHo", 29) == 0);
        }
        for (int i = 0; i < n; i++) close(fds[i]);
    }
    free(fds);
    double open = -1;
    for (int i = 0; i < 250 && open != 1; i++) { /* 1: the /metrics call itself */
        usleep(20000);
        open = metric_value(port, "pronto_http_connections_open ");
    }
    ASSERT_TRUE(open == 1);
    resp r = call(port, "GET", "/readyz", NULL, NULL);
    ASSERT_EQ_INT(r.status, 200);
    free(r.body);
    pr_server_free(s);
}

/* The body budget: bodies in flight over --max-body-memory get a 503 JSON
 * and a close at once; the memory is given back when they end. */
TEST(test_body_memory_budget) {
    pr_server *s = start_guarded(64, 4 * 64 * 1024);
    uint16_t port = pr_server_port(s);
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 60000);
    int fds[4];
    for (int i = 0; i < 4; i++) { /* 4 x 60000 (+1) fit in 256 KiB */
        ASSERT_TRUE((fds[i] = connect_port(port)) >= 0);
        ASSERT_TRUE(send_all(fds[i], head, (size_t)hl) == 0);
        ASSERT_TRUE(send_all(fds[i], "{\"a\":", 5) == 0);
    }
    double held = 0;
    for (int i = 0; i < 250 && held < 4 * 60001; i++) { /* all four headers read */
        usleep(20000);
        held = metric_value(port, "pronto_http_body_bytes ");
    }
    ASSERT_TRUE(held >= 4 * 60001);
    raw_expect(port, head, (size_t)hl, 503, 1); /* the fifth does not */
    for (int i = 0; i < 4; i++) close(fds[i]);
    for (int i = 0; i < 250 && held != 0; i++) {
        usleep(20000);
        held = metric_value(port, "pronto_http_body_bytes ");
    }
    ASSERT_TRUE(held == 0);
    ASSERT_TRUE(metric_value(port, "pronto_http_body_memory_rejected_total ") == 1);
    pr_server_free(s);
}

/* Past --max-connections: the reserve answers health checks, /readyz
 * says not ready, anything else gets a fast 503. */
TEST(test_reserve_and_readyz_overloaded) {
    pr_server *s = start_guarded(2, 1u << 20);
    uint16_t port = pr_server_port(s);
    int a = connect_port(port), b = connect_port(port);
    ASSERT_TRUE(a >= 0 && b >= 0);
    /* both accepted: the /metrics connection is then the third (reserve) */
    for (int i = 0; i < 250 && metric_value(port, "pronto_http_connections_open ") < 3; i++)
        usleep(20000);
    resp r = call(port, "GET", "/healthz", NULL, NULL);
    ASSERT_EQ_INT(r.status, 200);
    free(r.body);
    r = call(port, "GET", "/readyz", NULL, NULL);
    ASSERT_EQ_INT(r.status, 503);
    ASSERT_CONTAINS(r.body, "overloaded");
    free(r.body);
    r = call(port, "GET", "/v1/model", NULL, NULL);
    ASSERT_EQ_INT(r.status, 503);
    free(r.body);
    close(a);
    close(b);
    int ready = 0;
    for (int i = 0; i < 250 && !ready; i++) {
        usleep(20000);
        r = call(port, "GET", "/readyz", NULL, NULL);
        ready = r.status == 200;
        free(r.body);
    }
    ASSERT_TRUE(ready); /* ready again once the two closed */
    pr_server_free(s);
}


/* ---------------------------------------------------------------- A/B split, shadow */

/* A registry in the test folder: v000001 = model a (production), v000002
 * = model b (candidate, shadow). */
static char ab_reg[512];
static void ab_registry(void) {
    pr_err err;
    pr_registry *reg;
    char id[PR_REGISTRY_ID_MAX];
    snprintf(ab_reg, sizeof ab_reg, "%s", test_path("abreg"));
    if (access(ab_reg, F_OK) == 0) return;
    ASSERT_OK(pr_registry_open(ab_reg, PR_REGISTRY_CREATE, &reg, &err));
    pr_registry_version_opts vo;
    pr_registry_version_opts_default(&vo);
    ASSERT_OK(pr_registry_register(reg, model_a, &vo, id, &err));
    ASSERT_EQ_STR(id, "v000001");
    ASSERT_OK(pr_registry_register(reg, model_b, &vo, id, &err));
    ASSERT_EQ_STR(id, "v000002");
    ASSERT_OK(pr_registry_set_alias(reg, "production", "v000001", "test", 0, &err));
    ASSERT_OK(pr_registry_set_alias(reg, "candidate", "v000002", "test", 0, &err));
    ASSERT_OK(pr_registry_set_alias(reg, "shadow", "v000002", "test", 0, &err));
    pr_registry_close(reg);
}

/* A split server over the registry (split NULL: registry:DIR@alias). */
static pr_server *ab_start(const char *alias, const char *split, const char *shadow,
                           const char *log_uri) {
    char uri[600];
    snprintf(uri, sizeof uri, "registry:%s%s%s", ab_reg, alias ? "@" : "", alias ? alias : "");
    pr_server_opts o;
    base_opts(&o, uri);
    o.data_dir = test_tmpdir();
    o.split = split;
    o.shadow = shadow;
    o.log_uri = log_uri;
    o.admin_token = "s3cret";
    o.max_event_age_ms = EVENT_AGE_MS;
    pr_server *s = NULL;
    pr_err err;
    ASSERT_OK(pr_server_start(&o, &s, &err));
    return s;
}

/* A predict of two ads for user (NULL: none) with request_id rid. */
static const char *ab_body(const char *user, const char *rid) {
    static __thread char b[512];
    snprintf(b, sizeof b,
             "{%s%s%s\"site_id\":3,\"device\":\"mobile\",\"position\":1,\"ts\":%lld,"
             "\"request_id\":\"%s\",\"candidates\":[{\"ad_id\":1},{\"ad_id\":7}]}",
             user ? "\"user_id\":" : "", user ? user : "", user ? "," : "", (long long)t_req, rid);
    return b;
}

/* The arm the documented formula gives: buckets xxh3(key, "prontoAB") mod
 * 10000, production owning [0, 7000) of production:70,candidate:30. */
static const char *ab_expected_arm(const char *key) {
    uint64_t b = pr_hash64(key, strlen(key), 0x70726f6e746f4142ull) % 10000;
    return b < 7000 ? "production" : "candidate";
}

static const char *jstr(json_t *o, const char *k) {
    const char *v = json_string_value(json_object_get(o, k));
    if (!v) TEST_FAIL("no string '%s'", k);
    return v;
}

/* 2000 users, each asking twice: the same arm both times, the arm the
 * formula gives, shares near 70/30 (binomial: 5 sigma is 102 users), the
 * arm's version in each answer and in each prediction record, and per-arm
 * metrics counting exactly what was sent. */
TEST(test_split_sticky_and_counted) {
    ab_registry();
    char log_uri[600];
    snprintf(log_uri, sizeof log_uri, "log:%s?fsync=off", test_path("ablog"));
    pr_server *s = ab_start(NULL, "production:70,candidate:30", NULL, log_uri);
    uint16_t port = pr_server_port(s);
    char va[17], vb[17];
    file_version(model_a, va);
    file_version(model_b, vb);
    enum { USERS = 2000 };
    static char arm_of[USERS][16];
    int fd = -1, n_cand = 0, n_prod = 0;
    for (int round = 0; round < 2; round++)
        for (int u = 0; u < USERS; u++) {
            char user[16], rid[32];
            snprintf(user, sizeof user, "%d", u);
            snprintf(rid, sizeof rid, "r-%d-%d", u, round);
            resp r;
            ASSERT_TRUE(http(port, &fd, "POST", "/v1/predict", NULL, ab_body(user, rid), &r) == 0);
            ASSERT_EQ_INT(r.status, 200);
            json_t *j = parse_json(&r);
            const char *arm = jstr(j, "arm");
            if (round == 0) {
                snprintf(arm_of[u], sizeof arm_of[u], "%s", arm);
                ASSERT_EQ_STR(arm, ab_expected_arm(user));
                if (!strcmp(arm, "candidate")) n_cand++;
                else n_prod++;
            } else {
                ASSERT_EQ_STR(arm, arm_of[u]); /* sticky */
            }
            int cand = !strcmp(arm, "candidate");
            ASSERT_EQ_STR(jstr(j, "registry_version"), cand ? "v000002" : "v000001");
            ASSERT_EQ_STR(jstr(j, "model_version"), cand ? vb : va);
            json_decref(j);
            free(r.body);
        }
    /* without a user: the request_id decides, the same way */
    int n_anon = 0;
    for (int i = 0; i < 50; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "anon-%d", i);
        resp r;
        ASSERT_TRUE(http(port, &fd, "POST", "/v1/predict", NULL, ab_body(NULL, rid), &r) == 0);
        ASSERT_EQ_INT(r.status, 200);
        json_t *j = parse_json(&r);
        ASSERT_EQ_STR(jstr(j, "arm"), ab_expected_arm(rid));
        n_anon += !strcmp(jstr(j, "arm"), "candidate");
        json_decref(j);
        free(r.body);
    }
    if (fd >= 0) close(fd);
    fprintf(stderr, "   2000 users: %d production, %d candidate; 50 anonymous: %d candidate\n",
            n_prod, n_cand, n_anon);
    ASSERT_TRUE(n_cand >= 600 - 102 && n_cand <= 600 + 102);
    long long cand_req = 2LL * n_cand + n_anon, prod_req = 2LL * n_prod + (50 - n_anon);
    ASSERT_EQ_INT(metric(port, "pronto_predict_requests_total{arm=\"candidate\"}"), cand_req);
    ASSERT_EQ_INT(metric(port, "pronto_predict_requests_total{arm=\"production\"}"), prod_req);
    ASSERT_EQ_INT(metric(port, "pronto_predict_errors_total{arm=\"candidate\"}"), 0);
    ASSERT_EQ_INT(metric(port, "pronto_predict_scores_total{arm=\"candidate\"}"), 2 * cand_req);
    ASSERT_EQ_INT(metric(port, "pronto_predict_duration_seconds_count{arm=\"production\"}"),
                  prod_req);
    ASSERT_TRUE(metric_value(port, "pronto_predict_score_mean{arm=\"candidate\"}") > 0);
    /* GET /v1/model lists every arm with its version and weight */
    resp r = call(port, "GET", "/v1/model", NULL, NULL);
    ASSERT_CONTAINS(r.body, "\"arms\":[{\"arm\":\"production\",\"weight\":70,\"registry_version\":\"v000001\"");
    ASSERT_CONTAINS(r.body, "{\"arm\":\"candidate\",\"weight\":30,\"registry_version\":\"v000002\"");
    free(r.body);
    pr_server_shutdown(s, 5); /* the logger appends what is queued */
    pr_server_free(s);

    /* the prediction log: each record names its request's arm and version */
    pr_err err;
    pr_event_log *log;
    pr_log_reader *rd;
    ASSERT_OK(pr_log_open(log_uri, PR_LOG_READ, &log, &err));
    pr_log_start st = {.kind = PR_LOG_FROM_START};
    ASSERT_OK(pr_log_reader_open(log, &st, &rd, &err));
    pr_log_record rec;
    int n_rec = 0;
    while (pr_log_next(rd, &rec, &err) == PR_OK) {
        if (rec.type != PR_LOG_TYPE_PREDICTION) continue;
        json_error_t e;
        json_t *j = json_loadb(rec.payload.ptr, rec.payload.len, 0, &e);
        ASSERT_TRUE(j != NULL);
        const char *rid = jstr(j, "request_id"), *arm = jstr(j, "arm");
        int u;
        if (sscanf(rid, "r-%d-", &u) == 1) ASSERT_EQ_STR(arm, arm_of[u]);
        else ASSERT_EQ_STR(arm, ab_expected_arm(rid));
        int cand = !strcmp(arm, "candidate");
        ASSERT_EQ_STR(jstr(j, "registry_version"), cand ? "v000002" : "v000001");
        ASSERT_EQ_STR(jstr(j, "model_version"), cand ? vb : va);
        json_decref(j);
        n_rec++;
    }
    pr_log_reader_close(rd);
    pr_log_close(log);
    ASSERT_EQ_INT(n_rec, 2 * USERS + 50);
}

typedef struct ab_loader {
    uint16_t port;
    int stop, id;                   /* stop: atomic */
    uint64_t ok, failed;
    uint64_t prod_other;            /* production answered by another version */
    uint64_t cand_v2, cand_v3, cand_other;
} ab_loader;

static void *ab_load_loop(void *arg) {
    ab_loader *l = arg;
    int fd = -1;
    for (unsigned i = 0; !__atomic_load_n(&l->stop, __ATOMIC_RELAXED); i++) {
        char user[16], rid[32];
        snprintf(user, sizeof user, "%u", i % 997);
        snprintf(rid, sizeof rid, "load-%d-%u", l->id, i);
        resp r;
        if (http(l->port, &fd, "POST", "/v1/predict", NULL, ab_body(user, rid), &r) != 0 ||
            r.status != 200) {
            __atomic_add_fetch(&l->failed, 1, __ATOMIC_RELAXED);
            free(r.body);
            continue;
        }
        __atomic_add_fetch(&l->ok, 1, __ATOMIC_RELAXED);
        int cand = strstr(r.body, "\"arm\":\"candidate\"") != NULL;
        uint64_t *c = !cand ? (strstr(r.body, "\"registry_version\":\"v000001\"") ? NULL : &l->prod_other)
                      : strstr(r.body, "\"registry_version\":\"v000002\"") ? &l->cand_v2
                      : strstr(r.body, "\"registry_version\":\"v000003\"") ? &l->cand_v3
                                                                        : &l->cand_other;
        if (c) __atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
        free(r.body);
    }
    if (fd >= 0) close(fd);
    return NULL;
}

/* The candidate alias moves under load (the server follows it by itself):
 * every request answered 200, production's answers never change version,
 * the candidate arm's do; a version the store cannot satisfy leaves the
 * candidate arm on its model. */
TEST(test_split_arm_moves_under_load) {
    ab_registry();
    pr_server *s = ab_start(NULL, "production:50,candidate:50", NULL, NULL);
    ab_loader l[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&l[i], 0, sizeof l[i]);
        l[i].port = pr_server_port(s);
        l[i].id = i;
        ASSERT_TRUE(pthread_create(&th[i], NULL, ab_load_loop, &l[i]) == 0);
    }
    wait_for(&l[0].cand_v2, 100);
    pr_err err;
    pr_registry *reg;
    char id[PR_REGISTRY_ID_MAX];
    pr_registry_version_opts vo;
    pr_registry_version_opts_default(&vo);
    ASSERT_OK(pr_registry_open(ab_reg, 0, &reg, &err));
    ASSERT_OK(pr_registry_register(reg, model_a, &vo, id, &err));
    ASSERT_EQ_STR(id, "v000003");
    ASSERT_OK(pr_registry_set_alias(reg, "candidate", "v000003", "test: move", 0, &err));
    wait_for(&l[0].cand_v3, 100);
    wait_for(&l[1].cand_v3, 100);
    /* a version whose spec the store cannot satisfy (a 2 d window) */
    char *text, other_spec[600], model_c[600];
    size_t len;
    ASSERT_OK(pr_read_file(spec_path, &text, &len, &err));
    char *w = strstr(text, "window: 1d");
    ASSERT_TRUE(w != NULL);
    w[8] = '2';
    snprintf(other_spec, sizeof other_spec, "%s", test_path("ab-spec-2d.yaml"));
    test_write_file(other_spec, text);
    free(text);
    snprintf(model_c, sizeof model_c, "%s", test_path("ab-c.pm"));
    train_model(other_spec, model_c, 3);
    ASSERT_OK(pr_registry_register(reg, model_c, &vo, id, &err));
    ASSERT_OK(pr_registry_set_alias(reg, "candidate", id, "test: refused", 1, &err));
    for (int i = 0; i < 400 && metric(l[0].port, "pronto_model_reloads_total{result=\"refused\"}") < 1; i++)
        usleep(5000);
    ASSERT_EQ_INT(metric(l[0].port, "pronto_model_reloads_total{result=\"refused\"}"), 1);
    uint64_t v3 = __atomic_load_n(&l[0].cand_v3, __ATOMIC_RELAXED);
    wait_for(&l[0].cand_v3, v3 + 100); /* still v000003 */
    /* and back: followed again */
    ASSERT_OK(pr_registry_set_alias(reg, "candidate", "v000002", "test: back", 1, &err));
    uint64_t v2 = __atomic_load_n(&l[0].cand_v2, __ATOMIC_RELAXED);
    wait_for(&l[0].cand_v2, v2 + 100);
    pr_registry_close(reg);
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&l[i].stop, 1, __ATOMIC_RELAXED);
        pthread_join(th[i], NULL);
    }
    resp r = call(l[0].port, "GET", "/v1/model", NULL, NULL);
    ASSERT_CONTAINS(r.body, "{\"arm\":\"production\",\"weight\":50,\"registry_version\":\"v000001\"");
    ASSERT_CONTAINS(r.body, "{\"arm\":\"candidate\",\"weight\":50,\"registry_version\":\"v000002\"");
    free(r.body);
    for (int i = 0; i < 2; i++) {
        fprintf(stderr, "   loader %d: %llu answered (candidate: %llu v2, %llu v3), %llu failed\n", i,
                (unsigned long long)l[i].ok, (unsigned long long)l[i].cand_v2,
                (unsigned long long)l[i].cand_v3, (unsigned long long)l[i].failed);
        ASSERT_EQ_INT(l[i].failed, 0);
        ASSERT_EQ_INT(l[i].prod_other, 0);
        ASSERT_EQ_INT(l[i].cand_other, 0);
    }
    ASSERT_EQ_INT(metric(l[0].port, "pronto_model_reloads_total{result=\"ok\"}"), 2);
    pr_server_shutdown(s, 5);
    pr_server_free(s);
}

/* The answer's text without "took_us". */
static void strip_took(char *body) {
    char *t = strstr(body, ",\"took_us\":");
    if (t) *t = '\0';
}

/* --shadow: the answers are those of the same server without it; the
 * shadow's p in each prediction record are what the shadow's model alone
 * answers for the same request; its metrics count every request. */
TEST(test_shadow) {
    ab_registry();
    char log_uri[600];
    snprintf(log_uri, sizeof log_uri, "log:%s?fsync=off", test_path("shadowlog"));
    pr_server *with = ab_start(NULL, "production:50,candidate:50", "shadow", log_uri);
    pr_server *without = ab_start(NULL, "production:50,candidate:50", NULL, NULL);
    pr_server *alone = ab_start("shadow", NULL, NULL, NULL);
    uint16_t pw = pr_server_port(with), po = pr_server_port(without), pa = pr_server_port(alone);
    enum { N = 200 };
    static char shadow_p[N][2][32]; /* the shadow alone: p of ad 1, ad 7 */
    int fw = -1, fo = -1, fa = -1;
    for (int u = 0; u < N; u++) {
        char user[16], rid[32];
        snprintf(user, sizeof user, "%d", u);
        snprintf(rid, sizeof rid, "s-%d", u);
        const char *b = ab_body(user, rid);
        resp rw, ro, ra;
        ASSERT_TRUE(http(pw, &fw, "POST", "/v1/predict", NULL, b, &rw) == 0);
        ASSERT_TRUE(http(po, &fo, "POST", "/v1/predict", NULL, b, &ro) == 0);
        ASSERT_TRUE(http(pa, &fa, "POST", "/v1/predict", NULL, b, &ra) == 0);
        ASSERT_EQ_INT(rw.status, 200);
        strip_took(rw.body);
        strip_took(ro.body);
        ASSERT_EQ_STR(rw.body, ro.body);
        json_t *j = parse_json(&ra);
        json_t *preds = json_object_get(j, "predictions");
        for (size_t k = 0; k < json_array_size(preds); k++) {
            json_t *e = json_array_get(preds, k);
            int ad = (int)json_integer_value(json_object_get(e, "ad_id"));
            /* the p as the answer wrote it (12 decimals) */
            const char *q = strstr(ra.body, ad == 1 ? "{\"ad_id\":1,\"p\":" : "{\"ad_id\":7,\"p\":");
            ASSERT_TRUE(q != NULL);
            q += 15;
            snprintf(shadow_p[u][ad == 1 ? 0 : 1], 32, "%.*s", (int)strcspn(q, "}"), q);
        }
        json_decref(j);
        free(rw.body);
        free(ro.body);
        free(ra.body);
        /* The shadow runs at nice +10 and may fall behind on a busy
         * machine, where a worker out of spare arenas (PR__SHADOW_ARENAS)
         * drops by design: keep at most 32 requests ahead of it, so every
         * request here is shadowed. */
        for (int i = 0; (u + 1) % 32 == 0 && i < 400 &&
                        metric(pw, "pronto_shadow_requests_total{arm=\"shadow\"}") < u + 1;
             i++)
            usleep(5000);
    }
    close(fw);
    close(fo);
    close(fa);
    for (int i = 0; i < 400 && metric(pw, "pronto_shadow_requests_total{arm=\"shadow\"}") < N; i++)
        usleep(5000);
    fprintf(stderr, "   shadow: %lld scored, %lld dropped\n",
            metric(pw, "pronto_shadow_requests_total{arm=\"shadow\"}"),
            metric(pw, "pronto_shadow_dropped_total{arm=\"shadow\"}"));
    ASSERT_EQ_INT(metric(pw, "pronto_shadow_requests_total{arm=\"shadow\"}"), N);
    ASSERT_EQ_INT(metric(pw, "pronto_shadow_scores_total{arm=\"shadow\"}"), 2 * N);
    ASSERT_EQ_INT(metric(pw, "pronto_shadow_errors_total{arm=\"shadow\"}"), 0);
    ASSERT_EQ_INT(metric(pw, "pronto_shadow_dropped_total{arm=\"shadow\"}"), 0);
    /* the shadow is model b, as is the candidate arm: no difference there,
     * some on production's (model a) */
    ASSERT_TRUE(metric_value(pw, "pronto_shadow_abs_diff_mean{arm=\"shadow\"}") > 0);
    resp r = call(pw, "GET", "/v1/model", NULL, NULL);
    ASSERT_CONTAINS(r.body, "\"shadow\":{\"arm\":\"shadow\",\"registry_version\":\"v000002\"");
    free(r.body);
    pr_server_shutdown(with, 5);
    pr_server_free(with);
    pr_server_free(without);
    pr_server_free(alone);

    pr_err err;
    pr_event_log *log;
    pr_log_reader *rd;
    ASSERT_OK(pr_log_open(log_uri, PR_LOG_READ, &log, &err));
    pr_log_start st = {.kind = PR_LOG_FROM_START};
    ASSERT_OK(pr_log_reader_open(log, &st, &rd, &err));
    pr_log_record rec;
    int n_rec = 0, n_same = 0;
    while (pr_log_next(rd, &rec, &err) == PR_OK) {
        if (rec.type != PR_LOG_TYPE_PREDICTION) continue;
        char *text = strndup(rec.payload.ptr, rec.payload.len);
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        ASSERT_TRUE(j != NULL);
        int u;
        ASSERT_TRUE(sscanf(jstr(j, "request_id"), "s-%d", &u) == 1 && u >= 0 && u < N);
        json_t *sh = json_object_get(j, "shadow");
        ASSERT_EQ_STR(jstr(sh, "arm"), "shadow");
        ASSERT_EQ_STR(jstr(sh, "registry_version"), "v000002");
        /* the shadow's p, in the answer's rank order, as text */
        const char *ps = strstr(text, "\"shadow\":");
        ps = strstr(ps, "\"p\":[") + 5;
        json_t *preds = json_object_get(j, "predictions");
        for (size_t k = 0; k < json_array_size(preds); k++) {
            int ad = (int)json_integer_value(json_object_get(json_array_get(preds, k), "ad_id"));
            size_t n = strcspn(ps, ",]");
            char got[32];
            snprintf(got, sizeof got, "%.*s", (int)n, ps);
            ASSERT_EQ_STR(got, shadow_p[u][ad == 1 ? 0 : 1]);
            ps += n + 1;
        }
        n_same += !strcmp(jstr(j, "arm"), "candidate");
        json_decref(j);
        free(text);
        n_rec++;
    }
    pr_log_reader_close(rd);
    pr_log_close(log);
    ASSERT_EQ_INT(n_rec, N);
    ASSERT_TRUE(n_same > 0 && n_same < N);
}

/* Refused at start: an arm or a shadow whose alias is missing, a split
 * with a plain model file, a split naming an alias beside @ALIAS, a bad
 * split, a split key the spec lacks. */
TEST(test_split_refused) {
    ab_registry();
    char uri[600], at[600];
    snprintf(uri, sizeof uri, "registry:%s", ab_reg);
    snprintf(at, sizeof at, "registry:%s@production", ab_reg);
    struct {
        const char *model, *split, *key, *shadow, *msg;
        pr_status st;
    } cases[] = {
        {uri, "production:90,nosuch:10", NULL, NULL, "arm nosuch:", PR_ERR_NOTFOUND},
        {uri, NULL, NULL, "nosuch", "the shadow nosuch:", PR_ERR_NOTFOUND},
        {model_a, "production:90,candidate:10", NULL, NULL, "needs the models from a registry",
         PR_ERR_INVALID},
        {model_a, NULL, NULL, "shadow", "needs the models from a registry", PR_ERR_INVALID},
        {at, "production:90,candidate:10", NULL, NULL, "the split names the aliases",
         PR_ERR_INVALID},
        {uri, "production:90,candidate:0", NULL, NULL, "arm 2 (candidate): weight must be >= 1",
         PR_ERR_INVALID},
        {uri, "production:90,candidate:10", "nosuch", NULL, "split key 'nosuch'", PR_ERR_SPEC},
        {uri, "production:90,candidate:10", NULL, "candidate", "also an arm", PR_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pr_server_opts o;
        base_opts(&o, cases[i].model);
        o.split = cases[i].split;
        o.split_key = cases[i].key;
        o.shadow = cases[i].shadow;
        pr_server *s = NULL;
        pr_err err;
        ASSERT_STATUS(pr_server_start(&o, &s, &err), cases[i].st);
        ASSERT_CONTAINS(err.msg, cases[i].msg);
        ASSERT_TRUE(s == NULL);
    }
}

/* The split's text: what is taken and what is refused, with the reason. */
TEST(test_split_parse) {
    pr_server_arm arms[PR_SERVER_ARMS_MAX];
    uint32_t n;
    pr_err err;
    ASSERT_OK(pr_server_split_parse("production:90,candidate:10", arms, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_STR(arms[1].alias, "candidate");
    ASSERT_EQ_INT(arms[1].weight, 10);
    ASSERT_OK(pr_server_split_parse("a:1", arms, &n, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_OK(pr_server_split_parse("a-1:3,b_2:3,C:3", arms, &n, &err));
    ASSERT_EQ_INT(n, 3);
    const char *bad[][2] = {
        {"", "empty split"},
        {"a", "expected ':WEIGHT'"},
        {"a:", "expected an integer weight"},
        {"a:0", "weight must be >= 1"},
        {"a:-5", "weight must be >= 1"},
        {"a:1.5", "expected ',' or the end"},
        {"a:1,", "arm 2: expected an alias name"},
        {"a:1,a:2", "named twice"},
        {"a:6000,b:5000", "sum to more than 10000"},
        {"a:10001", "weight over 10000"},
        {"a b:1", "expected ':WEIGHT'"},
        {"a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1,j:1,k:1,l:1,m:1,n:1,o:1,p:1,q:1", "more than 16"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_STATUS(pr_server_split_parse(bad[i][0], arms, &n, &err), PR_ERR_INVALID);
        ASSERT_CONTAINS(err.msg, bad[i][1]);
        ASSERT_EQ_INT(n, 0);
    }
}

/* POST /admin/retrain: a retrain request recorded in the registry the
 * server serves from (taken back with pr_registry_take_request), merged
 * when asked twice; 409 without a registry, 400 for a bad body, 401/403
 * without the token. */
TEST(test_admin_retrain) {
    ab_registry();
    const char *auth = "Authorization: Bearer s3cret\r\n";
    pr_server *plain = start("mem:", 512);
    resp r = call(pr_server_port(plain), "POST", "/admin/retrain", auth, "{\"reason\":\"x\"}");
    ASSERT_EQ_INT(r.status, 409);
    ASSERT_CONTAINS(r.body, "does not serve from a model registry");
    free(r.body);
    pr_server_free(plain);

    pr_server *s = ab_start(NULL, "production:70,candidate:30", "shadow", NULL);
    uint16_t port = pr_server_port(s);
    r = call(port, "POST", "/admin/retrain", NULL, "{}");
    ASSERT_EQ_INT(r.status, 401);
    free(r.body);
    r = call(port, "POST", "/admin/retrain", "Authorization: Bearer nope\r\n", "{}");
    ASSERT_EQ_INT(r.status, 403);
    free(r.body);
    const char *bad[][2] = {
        {"{\"reason\":5}", "'reason': expected a string"},
        {"[1]", "request body: column 1"},
        {"{\"reason\":\"x\",\"detail\":3}", "'detail': expected an object"},
        {"{\"reason\":", "request body: column"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = call(port, "POST", "/admin/retrain", auth, bad[i][0]);
        ASSERT_EQ_INT(r.status, 400);
        ASSERT_CONTAINS(r.body, bad[i][1]);
        json_decref(parse_json(&r));
        free(r.body);
    }
    pr_err err;
    pr_registry *reg;
    char *json;
    ASSERT_OK(pr_registry_open(ab_reg, 0, &reg, &err));
    ASSERT_STATUS(pr_registry_take_request(reg, "retrain", &json, &err), PR_ERR_NOTFOUND);
    r = call(port, "POST", "/admin/retrain", auth,
             "{\"reason\":\"live NE up 2%\",\"detail\":{\"ne\":0.93}}");
    ASSERT_EQ_INT(r.status, 202);
    ASSERT_CONTAINS(r.body, "\"requested\":true");
    ASSERT_CONTAINS(r.body, "\"reason\":\"live NE up 2%\"");
    free(r.body);
    ASSERT_OK(pr_registry_take_request(reg, "retrain", &json, &err));
    ASSERT_CONTAINS(json, "live NE up 2%");
    ASSERT_CONTAINS(json, "pronto serve");
    ASSERT_CONTAINS(json, "\"production\":\"v000001\"");
    ASSERT_CONTAINS(json, "\"ne\":0.93");
    free(json);
    /* asked twice before it is taken: one request, counted twice */
    r = call(port, "POST", "/admin/retrain", auth, NULL);
    ASSERT_EQ_INT(r.status, 202);
    ASSERT_CONTAINS(r.body, "\"reason\":null");
    free(r.body);
    r = call(port, "POST", "/admin/retrain", auth, "{\"reason\":\"again\"}");
    ASSERT_EQ_INT(r.status, 202);
    free(r.body);
    ASSERT_OK(pr_registry_take_request(reg, "retrain", &json, &err));
    json_error_t e;
    json_t *j = json_loads(json, 0, &e);
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "count")), 2);
    ASSERT_EQ_STR(jstr(j, "reason"), "again");
    json_decref(j);
    free(json);
    ASSERT_STATUS(pr_registry_take_request(reg, "retrain", &json, &err), PR_ERR_NOTFOUND);
    pr_registry_close(reg);
    ASSERT_EQ_INT(metric(port, "pronto_http_requests_total{route=\"admin_retrain\",code=\"202\"}"), 3);
    ASSERT_EQ_INT(metric(port, "pronto_http_requests_total{route=\"admin_retrain\",code=\"400\"}"), 4);
    pr_server_shutdown(s, 5);
    pr_server_free(s);
}

int main(void) {
    setup();
    RUN(test_predict_equals_in_process);
    RUN(test_rank_equals_server);
    RUN(test_endpoints);
    RUN(test_errors);
    RUN(test_events_idempotent);
    RUN(test_events_refused);
    RUN(test_reload_compares_definitions);
    RUN(test_hot_swap_under_load);
    RUN(test_overload_503);
    RUN(test_drain_finishes_in_flight);
    RUN(test_redis_down_degrades_then_recovers);
    RUN(test_slow_work_off_http_threads);
    RUN(test_reloads_and_events_under_load);
    RUN(test_shutdown_answers_queued_jobs);
    RUN(test_log_fsync_failure);
    RUN(test_reload_refuses_special_files);
    RUN(test_framing_and_conformance);
    RUN(test_slow_clients_cut);
    RUN(test_burst_closed_by_client_returns_to_baseline);
    RUN(test_body_memory_budget);
    RUN(test_reserve_and_readyz_overloaded);
    RUN(test_split_parse);
    RUN(test_split_refused);
    RUN(test_split_sticky_and_counted);
    RUN(test_split_arm_moves_under_load);
    RUN(test_shadow);
    RUN(test_admin_retrain);
    TEST_MAIN_END();
}
