/*
 * cmd_demo.c: `pronto demo`, the README's main job on embedded defaults.
 *
 *   simulate a week of ad traffic (pr_sim): the event stream and the entity
 *   tables, with every impression's true click probability kept aside for
 *   the test day -> the feature store builds point-in-time datasets from
 *   the raw events (pr_fs_build with the embedded specs/sim-store.yaml: days
 *   1-5 train, day 6 validation, day 7 test) -> train FTRL-LR and FFM
 *   (early stopping on day 6) through `pronto train --dataset` (the real
 *   command, in process) -> evaluate both on day 7 next to the
 *   Bayes-optimal predictor -> start the HTTP server (pr_server, what
 *   `pronto serve` runs) on a loopback port over an in-process store
 *   filled from the stream, send one predict request, print the ranked
 *   answer, stop the server cleanly.
 *
 * Everything goes into a work folder (--dir, default ./pronto-demo) that
 * the user can look into afterwards: the spec, the data, the models.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
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
    uint64_t events, n[3];   /* impressions per split */
    /* the sample request of step 6: the last impression's context and
     * the ads of the last N_CANDIDATES impressions */
    char req[5][32];
    char ads[N_CANDIDATES][16];
    uint32_t n_ads;
} sim_ctx;

static pr_status simulate(const char *dir, uint64_t seed, double days, double rate,
                          sim_ctx *c, pr_err *err) {
    pr_sim_config cfg;
    pr_sim_config_default(&cfg);
    cfg.seed = seed;
    cfg.duration_s = days * 86400.0;
    cfg.imp_rate = rate;
    pr_sim *sim = NULL;
    pr_sim_output *out = NULL;
    pr_sim_output_options o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    pr_status s = pr_sim_output_open(&o, NULL, &out, err);
    if (s == PR_OK) s = pr_sim_new(&cfg, &sim, err);
    if (s == PR_OK) s = pr_sim_write_entities(sim, dir, err);
    c->start_ms = cfg.start_ms;
    c->valid_ms = cfg.start_ms + (int64_t)((days - 2) * 86400.0 * 1000.0);
    c->test_ms = cfg.start_ms + (int64_t)((days - 1) * 86400.0 * 1000.0);
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

/* Step 6: the online path. `pronto serve`'s server starts in process on a
 * free loopback port, materializes the stream into its in-process store,
 * and answers one predict request (the last user's context, the ads of the
 * last impressions) over real HTTP; then it drains and stops. */
static pr_status serve_one(const char *data_dir, const char *spec_path, const char *model_path,
                           const sim_ctx *sc, pr_err *err) {
    pr_server_opts o;
    pr_server_opts_default(&o);
    o.model_path = model_path;
    o.spec_path = spec_path;
    o.store_uri = "mem:";
    o.data_dir = data_dir;
    o.listen = "127.0.0.1:0";
    o.quiet = 1;
    pr_server *srv = NULL;
    double t0 = pr_now();
    pr_status s = pr_server_start(&o, &srv, err);
    if (s != PR_OK) return s;
    uint16_t port = pr_server_port(srv);
    printf("   pronto serve listening on 127.0.0.1:%u (model %s, store mem: filled from the\n"
           "   stream in %.1f s)\n", port, model_path, pr_now() - t0);
    char req[2048], buf[16384];
    size_t o2 = (size_t)snprintf(req, sizeof req,
                                 "{\"user_id\":%s,\"context\":{\"site_id\":%s,\"device\":\"%s\","
                                 "\"position\":%s},\"ts\":%lld,\"candidates\":[",
                                 sc->req[0], sc->req[1], sc->req[2], sc->req[3],
                                 (long long)sc->end_ms);
    for (uint32_t i = 0; i < sc->n_ads && o2 < sizeof req - 64; i++)
        o2 += (size_t)snprintf(req + o2, sizeof req - o2, "%s{\"ad_id\":%s}", i ? "," : "",
                               sc->ads[i]);
    snprintf(req + o2, sizeof req - o2, "]}");
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
    uint32_t cut = pr_server_shutdown(srv, 5.0);
    pr_server_free(srv);
    if (s == PR_OK) printf("   server stopped (%u requests cut short)\n", cut);
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

    pr_err err;
    pr_err_clear(&err);
    char data_dir[4096], spec_path[4096], train_path[4096], valid_path[4096], test_path[4096];
    char lr_path[4096], ffm_path[4096];
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    snprintf(spec_path, sizeof spec_path, "%s/sim-store.yaml", dir);
    snprintf(train_path, sizeof train_path, "%s/train.pcache", dir);
    snprintf(valid_path, sizeof valid_path, "%s/valid.pcache", dir);
    snprintf(test_path, sizeof test_path, "%s/test.pcache", dir);
    snprintf(lr_path, sizeof lr_path, "%s/lr.pm", dir);
    snprintf(ffm_path, sizeof ffm_path, "%s/ffm.pm", dir);
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
    if (s == PR_OK) s = simulate(data_dir, seed, days, rate, &sc, &err);
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

    printf("\n== 6. serve: start pronto serve with the FFM model and ask it to rank ads\n");
    fflush(stdout);
    if (serve_one(data_dir, spec_path, ffm_path, &sc, &err) != PR_OK) {
        fprintf(stderr, "pronto demo: serve: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }

    printf("\n== 7. the detailed report of `pronto eval --dataset %s %s`\n", ffm_path, test_path);
    pr_metrics_print(&ffm, stdout);
    printf("\ndone: data, spec, datasets and models are in %s/\n", dir);
    return PR_EXIT_OK;
}
