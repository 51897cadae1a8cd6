/*
 * cmd_serve.c: `pronto serve`, the HTTP prediction server (serve.h,
 * docs/api.md). Thin: flags -> pr_server_start, then the main thread waits
 * for signals:
 *
 *   SIGHUP            reload the model file (a bad one is refused, the old
 *                     one keeps serving), on the server's reload thread
 *   SIGTERM, SIGINT   stop accepting, drain requests in flight (--drain
 *                     seconds at most), exit 0
 *
 * The signals are blocked in every thread (the HTTP threads inherit the
 * mask) and taken synchronously with sigtimedwait here, so no handler runs
 * inside the server's code. With --poll-model S the same loop also asks
 * every S seconds for the model file to be checked and reloaded when it
 * changed (on the reload thread too). With --model registry:DIR[@ALIAS]
 * the server follows the alias by itself (serve/follow.c).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/registry.h"
#include "pronto/serve.h"

static const char usage_text[] =
    "--model M|registry:DIR[@ALIAS] --store URI [--spec S] [--data DIR] [--listen ADDR:PORT] [--threads N]\n"
    "       [--admin-token-file F] [--max-candidates N] [--max-body BYTES]\n"
    "       [--max-model-bytes B] [--max-event-skew DUR] [--max-event-age DUR]\n"
    "       [--log URI [--log-features RATE] [--log-queue N]]\n"
    "       [--split ALIAS:W,ALIAS:W... [--split-key COL]] [--shadow ALIAS]\n"
    "       [--quality on|off] [--quality-window DUR] [--quality-lateness DUR]\n"
    "       [--monitor on|off] [--monitors FILE] [--alert-webhook URL]\n"
    "\n"
    "Serves predictions over HTTP: POST /v1/predict ranks a request's candidates\n"
    "with features from the online store (mem:, lmdb:DIR, redis:HOST:PORT) and\n"
    "the model; POST /v1/events updates the store; GET /healthz, /readyz,\n"
    "/metrics, /v1/model; POST /admin/reload and /admin/retrain (bearer token;\n"
    "retrain: a request recorded in the registry served from). SIGHUP reloads the\n"
    "model, SIGTERM drains and exits. The API: docs/api.md.\n"
    "\n"
    "With --log URI (log:DIR?fsync=always|batch:MS|off, docs/log.md) every\n"
    "accepted event is appended to the event log before it is answered 200 (a\n"
    "log that cannot write: 503, retry), and every answered prediction is\n"
    "logged by a background thread (never waited for; dropped and counted\n"
    "when the log is down or the queue full).\n"
    "\n"
    "With --model registry:DIR, --split production:90,candidate:10 sends each\n"
    "request to one alias (an arm) by a hash of its user (--split-key, default\n"
    "user_id; none: its request_id): the same user, the same arm. Each arm\n"
    "follows its alias. --shadow ALIAS scores every answered request again\n"
    "with that alias's model off the request path: logged and measured, never\n"
    "returned. docs/api.md \"A/B split and shadow\".\n"
    "\n"
    "Live quality (--quality on, the default): every answer's candidates and p\n"
    "are matched, on a thread of its own, to the posted impressions carrying\n"
    "the request's request_id and candidate key, and those to their clicks within\n"
    "--quality-window; /metrics shows log loss, NE, calibration and AUC of the\n"
    "latest closed 1m, 5m and 1h windows per arm and model version\n"
    "(docs/monitoring.md \"Live quality\"; offline: pronto monitor quality).\n"
    "\n"
    "Drift and alerts (--monitor on, the default): each arm's answered candidates\n"
    "(a few rows per request) and predictions are sketched per worker against the\n"
    "model's reference profile, per 1-minute window of event time (the request's\n"
    "ts, else the server's clock), rolled up to 5m and 1h; drift per field and\n"
    "the quality figures go through the alert rules (--monitors FILE, else the\n"
    "defaults) once per minute; transitions are POSTed to --alert-webhook URL, and\n"
    "retrain: true rules write a retrain request into registry:DIR. GET\n"
    "/v1/monitor and /metrics show it (docs/monitoring.md \"In the server\"), and\n"
    "GET /dashboard is a page for people: traffic, latency, prediction mean vs\n"
    "observed CTR, calibration and NE over the last 2 hours, the top drifted\n"
    "fields, alert states, versions and arms, polling /v1/monitor every 5 s\n"
    "(docs/monitoring.md \"Dashboard\").";

/* --split's syntax, and that --split's and --shadow's aliases exist in the
 * registry of --model: a usage error naming the flag (exit 2), or 0. */
static int check_aliases(const char *cmd, const char *model, const char *split,
                         const char *shadow) {
    char dir[PR_REGISTRY_PATH_MAX], alias[PR_REGISTRY_ID_MAX], msg[PR_ERR_MSG_MAX + 64];
    pr_server_arm arms[PR_SERVER_ARMS_MAX];
    uint32_t n = 0;
    pr_err err;
    if (pr_registry_uri(model, dir, alias) != 1 || !dir[0])
        return cli_usage_error(cmd, "--model: expected registry:DIR[@ALIAS]");
    if (split && strlen(dir) < strlen(model + 9))
        return cli_usage_error(cmd, "--split names the aliases: give --model registry:DIR "
                                    "without @ALIAS");
    if (split && pr_server_split_parse(split, arms, &n, &err) != PR_OK) {
        snprintf(msg, sizeof msg, "--split %s: %s", split, err.msg);
        return cli_usage_error(cmd, msg);
    }
    if (!split && shadow && !strcmp(shadow, alias)) {
        snprintf(msg, sizeof msg, "--shadow %s: that alias is the one --model serves", shadow);
        return cli_usage_error(cmd, msg);
    }
    pr_registry *reg = NULL;
    if (pr_registry_open(dir, 0, &reg, &err) != PR_OK) return 0; /* said at start (exit 1) */
    int rc = 0;
    for (uint32_t i = 0; i <= n && !rc; i++) {
        const char *a = i < n ? arms[i].alias : shadow;
        if (!a) continue;
        if (i == n && split)
            for (uint32_t j = 0; j < n; j++)
                if (!strcmp(arms[j].alias, a)) {
                    snprintf(msg, sizeof msg, "--shadow %s: the alias is also an arm of --split", a);
                    rc = cli_usage_error(cmd, msg);
                }
        if (!rc && pr_registry_resolve(reg, a, NULL, NULL, &err) != PR_OK) {
            snprintf(msg, sizeof msg, "%s: alias '%s' not found in registry %s: %s",
                     i < n ? "--split" : "--shadow", a, dir, err.msg);
            rc = cli_usage_error(cmd, msg);
        }
    }
    pr_registry_close(reg);
    return rc;
}

int cmd_serve(int argc, char **argv) {
    const char *cmd = "serve";
    pr_server_opts o;
    pr_server_opts_default(&o);
    const char *model = NULL, *store = NULL, *spec = NULL, *data = NULL, *listen = o.listen,
               *token = NULL, *token_file = NULL, *cand_key = o.candidate_key;
    long long threads = o.threads;
    unsigned long long max_cand = o.max_candidates, max_body = o.max_body,
                       max_conn = o.max_connections, event_ids = o.event_ids,
                       max_model = o.max_model_bytes, max_jobs = o.max_queued_jobs,
                       max_qbytes = o.max_queued_bytes, per_ip = 0, body_mem = o.max_body_memory;
    double poll_s = 0, drain_s = 10, header_s = o.header_timeout, body_s = o.body_timeout,
           idle_s = o.idle_timeout;
    const char *skew_s = "1h", *age_s = NULL;
    int quiet = 0;
    const char *log_uri = NULL;
    double log_features = 0;
    unsigned long long log_queue = o.log_queue;
    const char *split = NULL, *split_key = NULL, *shadow = NULL;
    const char *quality_s = "on", *qwin_s = NULL, *qlate_s = NULL;
    const char *monitor_s = "on", *monitors = NULL, *webhook = NULL;
    unsigned long long quality_queue = o.quality_queue, quality_pending = o.quality_pending;
    unsigned long long monitor_rows = o.monitor_rows, quality_rate = o.quality_rate;
    pr_flag flags[] = {
        {"--model", "-m", PR_FLAG_STRING, &model,
         "FILE  the model to serve, or registry:DIR[@ALIAS] (default alias production): "
         "the version the alias names, followed when it moves", 0},
        {"--store", NULL, PR_FLAG_STRING, &store, "URI  online store: mem:, lmdb:DIR, redis:HOST:PORT", 0},
        {"--spec", NULL, PR_FLAG_STRING, &spec,
         "FILE  the store's spec (default: the model's embedded spec)", 0},
        {"--data", "-d", PR_FLAG_STRING, &data,
         "DIR  materialize this folder's tables and events into the store at start", 0},
        {"--listen", NULL, PR_FLAG_STRING, &listen, "ADDR:PORT  default 127.0.0.1:8080 (port 0: any)", 0},
        {"--threads", NULL, PR_FLAG_INT, &threads, "N  HTTP worker threads, default 2", 0},
        {"--admin-token-file", NULL, PR_FLAG_STRING, &token_file,
         "F  the bearer token for /admin/* and full /v1/model, /readyz details, read from F "
         "(default: env PRONTO_ADMIN_TOKEN; none: admin refused)", 0},
        {"--admin-token", NULL, PR_FLAG_STRING, &token,
         "T  refused: a token on the command line shows in ps (use --admin-token-file)", 0},
        {"--max-candidates", NULL, PR_FLAG_UINT, &max_cand, "N  per request, default 1000", 0},
        {"--max-body", NULL, PR_FLAG_UINT, &max_body, "BYTES  request body limit, default 1048576", 0},
        {"--max-connections", NULL, PR_FLAG_UINT, &max_conn,
         "N  connections served in full, default 512 (32 more answer health checks only)", 0},
        {"--max-connections-per-ip", NULL, PR_FLAG_UINT, &per_ip,
         "N  per client address, default 3/4 of --max-connections", 0},
        {"--header-timeout", NULL, PR_FLAG_DOUBLE, &header_s,
         "S  to receive a request's headers, default 10 (408 and close)", 0},
        {"--body-timeout", NULL, PR_FLAG_DOUBLE, &body_s,
         "S  to receive a request's body, default 30 (408 and close)", 0},
        {"--idle-timeout", NULL, PR_FLAG_DOUBLE, &idle_s,
         "S  keep-alive time between requests, default 30", 0},
        {"--max-body-memory", NULL, PR_FLAG_UINT, &body_mem,
         "BYTES  request bodies held at once by all connections, default 67108864", 0},
        {"--candidate-key", NULL, PR_FLAG_STRING, &cand_key,
         "COLUMN  the request column naming a candidate, default ad_id", 0},
        {"--event-ids", NULL, PR_FLAG_UINT, &event_ids,
         "N  recent event ids kept to drop duplicates (24 bytes each; with --log read back from "
         "its end at start), default 262144", 0},
        {"--max-queued-jobs", NULL, PR_FLAG_UINT, &max_jobs,
         "N  event batches queued or being applied before a fast 503, default 16", 0},
        {"--max-queued-bytes", NULL, PR_FLAG_UINT, &max_qbytes,
         "BYTES  and their bodies' bytes, default 67108864", 0},
        {"--max-model-bytes", NULL, PR_FLAG_UINT, &max_model,
         "BYTES  model files larger are refused before reading, default half the RAM", 0},
        {"--max-event-skew", NULL, PR_FLAG_STRING, &skew_s,
         "DUR  posted events with ts further ahead of the server's clock are refused, default 1h", 0},
        {"--max-event-age", NULL, PR_FLAG_STRING, &age_s,
         "DUR  ... and further behind it; default: the spec's longest aggregate window (7d if none)",
         0},
        {"--poll-model", NULL, PR_FLAG_DOUBLE, &poll_s,
         "S  reload the model when its file changes (checked every S seconds; 0 = off)", 0},
        {"--drain", NULL, PR_FLAG_DOUBLE, &drain_s,
         "S  on SIGTERM, wait at most S seconds for requests in flight, default 10", 0},
        {"--log", NULL, PR_FLAG_STRING, &log_uri,
         "URI  the event log: accepted events (appended before their 200) and predictions "
         "(log:DIR?fsync=..., docs/log.md)", 0},
        {"--log-features", NULL, PR_FLAG_DOUBLE, &log_features,
         "RATE  0..1: share of predict requests (by a hash of request_id) whose assembled "
         "feature rows are logged too, default 0", 0},
        {"--log-queue", NULL, PR_FLAG_UINT, &log_queue,
         "N  prediction/feature records waiting to be logged; more are dropped and counted, "
         "default 65536", 0},
        {"--split", NULL, PR_FLAG_STRING, &split,
         "ALIAS:W,...  with --model registry:DIR: each request to one alias by a hash of its "
         "--split-key value; integer weights 1..10000, sum at most 10000, shares W/sum; at most "
         "16 arms", 0},
        {"--split-key", NULL, PR_FLAG_STRING, &split_key,
         "COLUMN  the request column hashed to choose the arm, default user_id (absent: the "
         "request_id)", 0},
        {"--shadow", NULL, PR_FLAG_STRING, &shadow,
         "ALIAS  also score every answered request with this alias of the registry (after the "
         "answer, on its own thread): logged and measured, never returned", 0},
        {"--quality", NULL, PR_FLAG_STRING, &quality_s,
         "on|off  live quality from outcomes: predictions joined to posted impressions and "
         "clicks, pronto_quality{metric,window,arm,version} in /metrics; default on", 0},
        {"--quality-window", NULL, PR_FLAG_STRING, &qwin_s,
         "DUR  its attribution window: a click counts within DUR of its impression, which "
         "counts once DUR has passed in event time; default 2h", 0},
        {"--quality-lateness", NULL, PR_FLAG_STRING, &qlate_s,
         "DUR  how far out of order posted events may come, default 10m", 0},
        {"--quality-queue", NULL, PR_FLAG_UINT, &quality_queue,
         "N  answers and event batches waiting for the quality thread; more are dropped and "
         "counted, default 65536", 0},
        {"--quality-pending", NULL, PR_FLAG_UINT, &quality_pending,
         "N  candidate predictions remembered until their impression (64 bytes each; the "
         "oldest are dropped and counted), default 1048576", 0},
        {"--quality-rate", NULL, PR_FLAG_UINT, &quality_rate,
         "N  answered candidates a second (event time) matched to their impressions, about: "
         "above it whole requests are sampled by request_id, default 5000, 0: all", 0},
        {"--monitor", NULL, PR_FLAG_STRING, &monitor_s,
         "on|off  drift against each model's reference profile and alert rules, evaluated "
         "per minute of event time; GET /v1/monitor, GET /dashboard, pronto_drift and "
         "pronto_alert in /metrics; default on", 0},
        {"--monitor-rows", NULL, PR_FLAG_UINT, &monitor_rows,
         "N  candidate rows profiled for drift per arm and minute, about; above it requests "
         "are sampled at random (the cost stays bounded whatever the traffic), default "
         "30000, 0: every request", 0},
        {"--monitors", NULL, PR_FLAG_STRING, &monitors,
         "FILE  alert rules (monitors.yaml, or a spec with a monitors: block); default: the "
         "built-in rules (docs/monitoring.md \"Alerts\")", 0},
        {"--alert-webhook", NULL, PR_FLAG_STRING, &webhook,
         "URL  POST every alert transition there as JSON (http:// or https://; queued, "
         "retried, never blocks serving)", 0},
        {"--quiet", "-q", PR_FLAG_BOOL, &quiet, "no log lines", 0},
    };
    char *pos[2];
    int n_pos = 0;
    int rc = pr_flags_parse(cmd, usage_text, flags, (int)(sizeof flags / sizeof flags[0]), argc,
                            argv, pos, 2, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos) return cli_usage_error(cmd, "unexpected argument");
    if (!model) return cli_usage_error(cmd, "--model is required");
    if (!store) return cli_usage_error(cmd, "--store is required");
    if (threads < 1 || threads > 256) return cli_usage_error(cmd, "--threads must be 1..256");
    if (max_cand < 1 || max_cand > (1u << 20))
        return cli_usage_error(cmd, "--max-candidates must be 1..1048576");
    if (max_body < 64 || max_body > (1u << 30))
        return cli_usage_error(cmd, "--max-body must be 64..1073741824");
    if (max_conn < 1 || max_conn > 100000)
        return cli_usage_error(cmd, "--max-connections must be 1..100000");
    if (event_ids < 1 || event_ids > (1u << 28))
        return cli_usage_error(cmd, "--event-ids must be 1..268435456");
    if (max_jobs < 1 || max_jobs > 65536)
        return cli_usage_error(cmd, "--max-queued-jobs must be 1..65536");
    if (max_qbytes < max_body || max_qbytes > ((unsigned long long)1 << 40))
        return cli_usage_error(cmd, "--max-queued-bytes must be --max-body..2^40");
    if (max_model < 1) return cli_usage_error(cmd, "--max-model-bytes must be >= 1");
    if (poll_s < 0 || drain_s < 0) return cli_usage_error(cmd, "--poll-model and --drain must be >= 0");
    if (!cli_parse_duration_ms(cmd, "--max-event-skew", skew_s, &o.max_event_skew_ms))
        return PR_EXIT_USAGE;
    if (age_s && !cli_parse_duration_ms(cmd, "--max-event-age", age_s, &o.max_event_age_ms))
        return PR_EXIT_USAGE;
    if (age_s && !o.max_event_age_ms) return cli_usage_error(cmd, "--max-event-age must be > 0");
    if (per_ip > max_conn) return cli_usage_error(cmd, "--max-connections-per-ip must be <= --max-connections");
    if (!(header_s > 0 && header_s <= 3600) || !(body_s > 0 && body_s <= 3600) ||
        !(idle_s >= 1 && idle_s <= 3600))
        return cli_usage_error(cmd, "--header-timeout and --body-timeout must be in (0, 3600], "
                                    "--idle-timeout in [1, 3600]");
    if (body_mem < max_body || body_mem > (1ull << 40))
        return cli_usage_error(cmd, "--max-body-memory must be >= --max-body");
    if (!(log_features >= 0 && log_features <= 1))
        return cli_usage_error(cmd, "--log-features must be in [0, 1]");
    if (log_features > 0 && !log_uri) return cli_usage_error(cmd, "--log-features needs --log");
    if (log_queue < 1 || log_queue > (1u << 24))
        return cli_usage_error(cmd, "--log-queue must be 1..16777216");
    if ((split || shadow) && strncmp(model, "registry:", 9) != 0)
        return cli_usage_error(cmd, split ? "--split needs --model registry:DIR"
                                          : "--shadow needs --model registry:DIR");
    if (split_key && !split) return cli_usage_error(cmd, "--split-key needs --split");
    if (split || shadow) {
        int u = check_aliases(cmd, model, split, shadow);
        if (u) return u;
    }
    if (token)
        return cli_usage_error(cmd, "--admin-token is refused: a token on the command line is "
                                    "visible to every user in ps; put it in a file and pass "
                                    "--admin-token-file FILE, or set PRONTO_ADMIN_TOKEN");
    char *file_token = NULL;
    if (token_file) {
        pr_err ferr;
        size_t n;
        if (pr_read_file(token_file, &file_token, &n, &ferr) != PR_OK) {
            fprintf(stderr, "pronto serve: --admin-token-file: %s\n", ferr.msg);
            return PR_EXIT_FAIL;
        }
        while (n && (file_token[n - 1] == '\n' || file_token[n - 1] == '\r' ||
                     file_token[n - 1] == ' ' || file_token[n - 1] == '\t'))
            file_token[--n] = '\0';
        if (!n || strlen(file_token) != n) {
            fprintf(stderr, "pronto serve: --admin-token-file %s: %s\n", token_file,
                    n ? "the token contains a NUL byte" : "the file holds no token");
            free(file_token);
            return PR_EXIT_FAIL;
        }
        token = file_token;
    } else {
        token = getenv("PRONTO_ADMIN_TOKEN");
    }

    o.model_path = model;
    o.store_uri = store;
    o.spec_path = spec;
    o.data_dir = data;
    o.listen = listen;
    o.admin_token = token;
    o.candidate_key = cand_key;
    o.threads = (uint32_t)threads;
    o.max_candidates = (uint32_t)max_cand;
    o.max_body = (size_t)max_body;
    o.max_connections = (uint32_t)max_conn;
    o.max_connections_per_ip = (uint32_t)per_ip;
    o.header_timeout = header_s;
    o.body_timeout = body_s;
    o.idle_timeout = idle_s;
    o.max_body_memory = (size_t)body_mem;
    o.event_ids = (uint32_t)event_ids;
    o.max_model_bytes = (uint64_t)max_model;
    o.max_queued_jobs = (uint32_t)max_jobs;
    o.max_queued_bytes = (size_t)max_qbytes;
    o.log_uri = log_uri;
    o.log_features = log_features;
    o.log_queue = (uint32_t)log_queue;
    o.split = split;
    o.split_key = split_key;
    o.shadow = shadow;
    o.quiet = quiet;
    if (!strcmp(quality_s, "on")) o.quality = 1;
    else if (!strcmp(quality_s, "off")) o.quality = 0;
    else return cli_usage_error(cmd, "--quality: expected on or off");
    if (qwin_s && !cli_parse_duration_ms(cmd, "--quality-window", qwin_s, &o.quality_window_ms))
        return PR_EXIT_USAGE;
    if (qlate_s &&
        !cli_parse_duration_ms(cmd, "--quality-lateness", qlate_s, &o.quality_lateness_ms))
        return PR_EXIT_USAGE;
    if (quality_queue < 1 || quality_queue > (1u << 24))
        return cli_usage_error(cmd, "--quality-queue must be 1..16777216");
    if (quality_pending < 1 || quality_pending > (1u << 30))
        return cli_usage_error(cmd, "--quality-pending must be 1..1073741824");
    o.quality_queue = (uint32_t)quality_queue;
    if (!strcmp(monitor_s, "on")) o.monitor = 1;
    else if (!strcmp(monitor_s, "off")) o.monitor = 0;
    else return cli_usage_error(cmd, "--monitor: expected on or off");
    if (webhook && strncmp(webhook, "http://", 7) && strncmp(webhook, "https://", 8))
        return cli_usage_error(cmd, "--alert-webhook: expected an http:// or https:// URL");
    if (!o.monitor && (monitors || webhook))
        return cli_usage_error(cmd, monitors ? "--monitors needs --monitor on"
                                             : "--alert-webhook needs --monitor on");
    o.monitors_path = monitors;
    o.alert_webhook = webhook;
    o.quality_pending = (uint32_t)quality_pending;
    if (monitor_rows > UINT32_MAX) return cli_usage_error(cmd, "--monitor-rows must be 0..4294967295");
    o.monitor_rows = (uint32_t)monitor_rows;
    if (quality_rate > UINT32_MAX) return cli_usage_error(cmd, "--quality-rate must be 0..4294967295");
    o.quality_rate = (uint32_t)quality_rate;

    /* A flood of bad requests must not become a flood of log lines. */
    pr_log_set_rate_limit(1);

    /* Before any thread exists, so every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Past a file-size limit (ulimit -f) a write fails with EFBIG, which the
     * event log reports (503 to the events, retried), instead of the signal
     * killing the server. */
    signal(SIGXFSZ, SIG_IGN);

    pr_err err;
    pr_err_clear(&err);
    pr_server *srv = NULL;
    pr_status started = pr_server_start(&o, &srv, &err);
    free(file_token); /* the server keeps its own copy */
    if (started != PR_OK) {
        cli_flag_hint(&err, "the split key", "see --split-key");
        cli_flag_hint(&err, "the candidate key", "see --candidate-key");
        /* the library names its options; the command says its flags */
        static const char *const opt_names[] = {"event log", "listen address",
                                                "max_model_bytes", "max_connections"};
        static const char *const opt_flags[] = {"--log", "--listen", "--max-model-bytes",
                                                "--max-connections"};
        cli_flag_words(&err, opt_names, opt_flags, sizeof opt_names / sizeof *opt_names);
        fprintf(stderr, "pronto serve: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    printf("pronto serve: listening on port %u\n", pr_server_port(srv));
    fflush(stdout);

    double tick = poll_s > 0 ? poll_s : 3600;
    for (;;) {
        struct timespec ts = {(time_t)tick, (long)((tick - (double)(time_t)tick) * 1e9)};
        int sig = sigtimedwait(&set, NULL, &ts);
        /* Reloads run on the server's reload thread (queued here), so this
         * loop always takes SIGTERM at once, whatever a reload is doing. */
        if (sig == SIGHUP) {
            if (pr_server_reload_async(srv, 0, &err) != PR_OK)
                fprintf(stderr, "pronto serve: reload not queued: %s\n", err.msg);
        } else if (sig == SIGTERM || sig == SIGINT) {
            break;
        } else if (sig < 0 && errno == EAGAIN && poll_s > 0) {
            pr_server_reload_async(srv, 1, &err); /* a full queue: the next tick */
        }
    }
    uint32_t cut = pr_server_shutdown(srv, drain_s);
    pr_server_free(srv);
    if (cut) fprintf(stderr, "pronto serve: %u requests were cut short by the drain limit\n", cut);
    return PR_EXIT_OK;
}
