/*
 * cmd_learn.c: `pronto learn` -- flags to pr_learn_opts (pronto/learn.h)
 * and the run; SIGINT/SIGTERM end it at the next record without a
 * publish (the next start resumes from the last checkpoint). stdout: one
 * JSON line per publish decision and one at the end.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/learn.h"
#include "pronto/registry.h"

static const char *USAGE =
    "--follow URI --registry DIR --spec SPEC.yaml [--data DIR] [--until-end]\n"
    "       [--publish-every D] [--publish-examples N] [--alias A] [--no-promote]\n"
    "       [--tolerance X] [--keep N] [--name NAME] [--scores FILE [--pv]]\n"
    "       [--kind lr|ffm] [--init MODEL|registry:DIR@ALIAS [--learn-from TIME]]\n"
    "       [--metrics-port P]";

static volatile sig_atomic_t stop_flag;
static void on_stop(int sig) {
    (void)sig;
    stop_flag = 1;
}

static int flag_seen(const pr_flag *flags, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(flags[i].name, name)) return flags[i].seen;
    return 0;
}

int cmd_learn(int argc, char **argv) {
    const char *uri = NULL, *reg = NULL, *spec_path = NULL, *data_dir = NULL;
    const char *window_s = NULL, *lateness_s = NULL, *every_s = NULL, *alias = "production";
    const char *name = "learn", *scores = NULL, *init = NULL, *kind_s = "lr", *from_s = NULL;
    unsigned long long every_n = 0, keep = 20, seed = 1, bits = 0, max_bad = 0;
    long long k = -1, port = 0;
    double tolerance = 0.0, alpha = NAN, beta = NAN, l1 = NAN, l2 = NAN, eta = NAN,
           lambda = NAN;
    int until_end = 0, no_promote = 0, pv = 0, quiet = 0;
    pr_flag flags[] = {
        {"--follow", NULL, PR_FLAG_STRING, &uri, "URI the event log to learn from (log:DIR, redis-stream:...), read from its start", 0},
        {"--registry", NULL, PR_FLAG_STRING, &reg, "DIR the model registry (registry:DIR also taken; created if missing)", 0},
        {"--spec", NULL, PR_FLAG_STRING, &spec_path, "SPEC.yaml the feature-store spec (request/entities/sources)", 0},
        {"--data", "-d", PR_FLAG_STRING, &data_dir, "DIR where the spec's entity tables are (default .)", 0},
        {"--window", NULL, PR_FLAG_STRING, &window_s, "D attribution window (default 2h)", 0},
        {"--lateness", NULL, PR_FLAG_STRING, &lateness_s, "D allowed out-of-orderness (default 10m)", 0},
        {"--until-end", NULL, PR_FLAG_BOOL, &until_end, "stop at the log's end: label what is pending, learn it, publish (replays)", 0},
        {"--publish-every", NULL, PR_FLAG_STRING, &every_s, "D publish every D of EVENT time (default 5m; 0: never)", 0},
        {"--publish-examples", NULL, PR_FLAG_UINT, &every_n, "N also publish every N examples learned (default 0: never)", 0},
        {"--alias", NULL, PR_FLAG_STRING, &alias, "A the alias a passing version is promoted to (default production)", 0},
        {"--no-promote", NULL, PR_FLAG_BOOL, &no_promote, "register versions, never move the alias", 0},
        {"--tolerance", NULL, PR_FLAG_DOUBLE, &tolerance, "X gate: the interval's log loss may be worse than production's by X (default 0)", 0},
        {"--keep", NULL, PR_FLAG_UINT, &keep, "N keep the learner's newest N unaliased versions, remove older ones (1..48, default 20)", 0},
        {"--name", NULL, PR_FLAG_STRING, &name, "NAME the learner: its checkpoint is DIR/learners/NAME (default learn)", 0},
        {"--scores", NULL, PR_FLAG_STRING, &scores, "FILE one line per labeled example: impression_id,ts_ms,label,p (p: the last promoted version's, what a server following --alias answered)", 0},
        {"--pv", NULL, PR_FLAG_BOOL, &pv, "--scores: a 5th column, the learning model's score before its update", 0},
        {"--kind", NULL, PR_FLAG_STRING, &kind_s, "lr (FTRL-Proximal, default) or ffm", 0},
        {"--init", NULL, PR_FLAG_STRING, &init, "MODEL|registry:DIR@ALIAS warm start from this model (a first start only)", 0},
        {"--learn-from", NULL, PR_FLAG_STRING, &from_s, "TIME learn only impressions stamped at or after TIME (ISO-8601 or Unix s); earlier events only warm the feature store and the joiner, and get no --scores line: with --init, a model trained up to TIME", 0},
        {"--alpha", NULL, PR_FLAG_DOUBLE, &alpha, "FTRL alpha; default 0.1", 0},
        {"--beta", NULL, PR_FLAG_DOUBLE, &beta, "FTRL beta; default 1", 0},
        {"--l1", NULL, PR_FLAG_DOUBLE, &l1, "FTRL L1; default 1", 0},
        {"--l2", NULL, PR_FLAG_DOUBLE, &l2, "FTRL L2; default 1", 0},
        {"--bits", "-b", PR_FLAG_UINT, &bits, "B hash into 2^B buckets (1..30); default: the spec's", 0},
        {"--k", NULL, PR_FLAG_INT, &k, "FFM latent dimension; default 4", 0},
        {"--eta", NULL, PR_FLAG_DOUBLE, &eta, "FFM AdaGrad learning rate; default 0.2", 0},
        {"--lambda", NULL, PR_FLAG_DOUBLE, &lambda, "FFM L2; default 2e-5", 0},
        {"--seed", NULL, PR_FLAG_UINT, &seed, "S FFM initialization seed; default 1", 0},
        {"--max-bad", NULL, PR_FLAG_UINT, &max_bad, "N stop after N malformed events (default: never, they are counted and skipped)", 0},
        {"--metrics-port", NULL, PR_FLAG_INT, &port, "P serve Prometheus text on GET /metrics at port P", 0},
        {"--quiet", "-q", PR_FLAG_BOOL, &quiet, "no summary on stderr", 0},
    };
    const int n_flags = (int)(sizeof flags / sizeof flags[0]);
    char *pos[4];
    int n_pos = 0;
    int rc = pr_flags_parse("learn", USAGE, flags, n_flags, argc, argv, pos, 4, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos) return cli_usage_error("learn", "no positional arguments (--follow URI)");
    if (!uri) return cli_usage_error("learn", "--follow URI is required");
    if (!reg) return cli_usage_error("learn", "--registry DIR is required");
    if (!spec_path) return cli_usage_error("learn", "--spec SPEC.yaml is required");
    if (!strncmp(reg, "registry:", 9)) reg += 9;
    pr_learn_opts o;
    pr_learn_opts_default(&o);
    o.uri = uri;
    o.registry_dir = reg;
    o.data_dir = data_dir;
    o.until_end = until_end;
    o.alias = alias;
    o.no_promote = no_promote;
    o.name = name;
    o.scores_path = scores;
    o.scores_pv = pv;
    o.init = init;
    o.stop = &stop_flag;
    o.out = stdout;
    if (window_s && !cli_parse_duration_ms("learn", "--window", window_s, &o.window_ms))
        return PR_EXIT_USAGE;
    if (lateness_s && !cli_parse_duration_ms("learn", "--lateness", lateness_s, &o.lateness_ms))
        return PR_EXIT_USAGE;
    if (every_s && !strcmp(every_s, "0"))
        o.publish_every_ms = 0;
    else if (every_s &&
             !cli_parse_duration_ms("learn", "--publish-every", every_s, &o.publish_every_ms))
        return PR_EXIT_USAGE;
    o.publish_examples = every_n;
    if (keep < 1 || keep > 48) return cli_usage_error("learn", "--keep must be in 1..48");
    o.keep = (uint32_t)keep;
    if (!(tolerance >= 0)) return cli_usage_error("learn", "--tolerance must be >= 0");
    o.tolerance = tolerance;
    if (port < 0 || port > 65535)
        return cli_usage_error("learn", "--metrics-port must be in 1..65535");
    o.metrics_port = (int)port;
    if (flag_seen(flags, n_flags, "--max-bad")) o.max_bad = max_bad;
    if (pv && !scores) return cli_usage_error("learn", "--pv needs --scores FILE");
    if (from_s && !cli_parse_time_ms("learn", "--learn-from", from_s, &o.learn_from_ms))
        return PR_EXIT_USAGE;
    pr_model_kind kind;
    if (pr_model_kind_parse(kind_s, &kind) != PR_OK || kind == PR_MODEL_KIND_FM)
        return cli_usage_error("learn", "--kind must be lr or ffm");
    if (init && (flag_seen(flags, n_flags, "--kind") || !isnan(alpha) || !isnan(beta) ||
                 !isnan(l1) || !isnan(l2) || k >= 0 || !isnan(eta) || !isnan(lambda)))
        return cli_usage_error("learn", "--init continues a model with its kind and "
                                        "parameters: no --kind/--alpha/... flags");
    pr_model_params_default(&o.params, kind);
    o.params.seed = seed;
    if (!isnan(alpha)) o.params.alpha = (float)alpha;
    if (!isnan(beta)) o.params.beta = (float)beta;
    if (!isnan(l1)) o.params.l1 = (float)l1;
    if (!isnan(l2)) o.params.l2 = (float)l2;
    if (k >= 0) o.params.k = (uint32_t)k;
    if (!isnan(eta)) o.params.eta = (float)eta;
    if (!isnan(lambda)) o.params.lambda = (float)lambda;
    {
        pr_model_params p = o.params; /* buckets and fields: the spec's, checked later */
        p.hash_bits = 20;
        p.n_fields = 1;
        pr_err perr;
        pr_err_clear(&perr);
        if (pr_model_params_check(&p, &perr) != PR_OK) return cli_usage_error("learn", perr.msg);
    }
    char command[2048];
    size_t cl = 0;
    for (int i = 0; i < argc && cl + 2 < sizeof command; i++) {
        int n = snprintf(command + cl, sizeof command - cl, "%s%s", i ? " " : "pronto ", argv[i]);
        if (n < 0) break;
        cl += (size_t)n;
    }
    if (cl >= sizeof command) cl = sizeof command - 1;
    command[cl] = '\0';
    o.command = command;

    pr_err err;
    pr_err_clear(&err);
    pr_spec *spec = NULL;
    pr_status ls = cli_load_spec(spec_path, NULL, &spec, &err);
    if (ls == PR_ERR_INVALID) return cli_usage_error("learn", err.msg);
    if (ls != PR_OK) {
        fprintf(stderr, "pronto learn: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    if (flag_seen(flags, n_flags, "--bits") &&
        pr_spec_set_hash_bits(spec, (uint32_t)(bits > 1000 ? 1000 : bits), &err) != PR_OK) {
        pr_spec_free(spec);
        return cli_usage_error("learn", err.msg);
    }
    o.spec = spec;
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    pr_learn_report rep;
    pr_status s = pr_learn_run(&o, &rep, &err);
    pr_spec_free(spec);
    if (s != PR_OK) {
        static const char *const names[] = {"learner name", "learn_from", "until_end",
                                            "init registry", "this spec's"};
        static const char *const flag_of[] = {"--name", "--learn-from", "--until-end",
                                              "--init registry", "--spec"};
        cli_flag_words(&err, names, flag_of, sizeof names / sizeof names[0]);
        fprintf(stderr, "pronto learn: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    char ll[32], ne[32];
    if (isfinite(rep.pv_logloss)) snprintf(ll, sizeof ll, "%.6f", rep.pv_logloss);
    else snprintf(ll, sizeof ll, "null");
    if (isfinite(rep.pv_ne)) snprintf(ne, sizeof ne, "%.6f", rep.pv_ne);
    else snprintf(ne, sizeof ne, "null");
    printf("{\"event\":\"%s\",\"events\":%llu,\"bad_events\":%llu,\"examples\":%llu,"
           "\"learned\":%llu,\"skipped\":%llu,\"before\":%llu,\"published\":%llu,\"promoted\":%llu,"
           "\"pv_logloss\":%s,\"pv_ne\":%s,\"seconds\":%.3f,\"resumed\":%s}\n",
           rep.finished ? "finished" : stop_flag ? "stopped" : "end",
           (unsigned long long)rep.events, (unsigned long long)rep.bad_events,
           (unsigned long long)rep.examples, (unsigned long long)rep.learned,
           (unsigned long long)rep.skipped, (unsigned long long)rep.before,
           (unsigned long long)rep.published,
           (unsigned long long)rep.promoted, ll, ne, rep.seconds,
           rep.resumed ? "true" : "false");
    if (!quiet)
        fprintf(stderr,
                "pronto learn: %llu events (%llu malformed), %llu examples learned%s at %.0f/s, "
                "%llu versions published\n",
                (unsigned long long)rep.events, (unsigned long long)rep.bad_events,
                (unsigned long long)rep.learned, rep.skipped ? " after a resume" : "",
                rep.seconds > 0 ? (double)rep.learned / rep.seconds : 0.0,
                (unsigned long long)rep.published);
    return PR_EXIT_OK;
}
