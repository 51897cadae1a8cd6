/*
 * cmd_retrain.c: `pronto retrain`, continuous training's batch side
 * (retrain.h, docs/continuous-training.md). Flags to pr_retrain_opts,
 * then one of:
 *   - one cycle at --at (default: now), its decision as one JSON line on
 *     stdout; exit 0 promoted/registered/skipped, 3 rejected by the gate,
 *     1 failed (the registry's aliases as they were);
 *   - --check-probation: only the probation check (cron), one JSON line;
 *   - --every D: cycles every D until SIGTERM/SIGINT (a cycle in progress
 *     finishes first; a second signal ends at once). A failed cycle is a
 *     {"decision":"error"} line and the next one runs at its time; a
 *     pending "retrain" request in the registry (pronto registry request
 *     DIR retrain, POST /admin/retrain) starts one early (polled every
 *     second), and the schedule restarts from it; with --probation the
 *     check runs before every cycle and every minute between them.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/retrain.h"

#define EXIT_REJECTED 3

static const char *USAGE =
    "--registry DIR --events URI --spec SPEC.yaml [--data DIR] [--at TIME]\n"
    "       [--train-window D] [--holdout D] [--label-lag D] [--policy scratch|warm]\n"
    "       [--min-gain X] [--calibration LO,HI] [--max-bytes N] [--allow-spec-change]\n"
    "       [--alias A] [--no-promote] [--every D] [--probation D] [--check-probation]\n"
    "\n"
    "One retraining cycle: the examples of [now-lag-holdout-window, now-lag-holdout)\n"
    "train a candidate (scratch or warm from production), which is scored with\n"
    "production on the holdout [now-lag-holdout, now-lag) and passes the gate only if\n"
    "its NE beats production's by --min-gain, its calibration is within bounds, every\n"
    "weight is finite, its size is sane and its spec is production's. Passing:\n"
    "registered and promoted; failing: registered as rejected with the reasons. One\n"
    "JSON line per decision on stdout and in the registry's history.\n"
    "Exit: 0 promoted, registered or skipped (too little data), 3 rejected by the\n"
    "gate, 1 failed (the aliases untouched), 2 bad usage.\n"
    "docs/continuous-training.md";

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static int64_t wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void print_line(const char *json) {
    if (json) printf("%s\n", json);
    fflush(stdout);
}

/* One cycle (after the probation check when it is on); prints its lines.
 * Returns the exit code of a one-shot run. */
static int run_cycle(pr_registry *reg, pr_retrain_opts *o) {
    pr_err err;
    pr_retrain_result res;
    if (o->probation_ms > 0) {
        pr_err_clear(&err);
        pr_retrain_check_probation(reg, o, &res, &err);
        if (res.decision != PR_RETRAIN_NONE) print_line(res.json);
        if (res.decision == PR_RETRAIN_ERROR)
            fprintf(stderr, "pronto retrain: probation check: %s\n", err.msg);
        pr_retrain_result_free(&res);
    }
    pr_err_clear(&err);
    pr_status s = pr_retrain_cycle(reg, o, &res, &err);
    print_line(res.json);
    if (s != PR_OK) fprintf(stderr, "pronto retrain: %s\n", err.msg);
    int rc = s != PR_OK ? PR_EXIT_FAIL : res.decision == PR_RETRAIN_REJECTED ? EXIT_REJECTED : PR_EXIT_OK;
    pr_retrain_result_free(&res);
    return rc;
}

static void sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a signal ends it early */
}

static int run_every(pr_registry *reg, pr_retrain_opts *o, int64_t every_ms) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal: the default, at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int64_t next = wall_ms(), last_check = wall_ms();
    char trigger[512];
    while (!g_stop) {
        int64_t now = wall_ms();
        int due = now >= next;
        if (!due) { /* a request starts a cycle early */
            pr_err err;
            pr_err_clear(&err);
            char *req = NULL;
            pr_status s = pr_registry_take_request(reg, "retrain", &req, &err);
            if (s == PR_OK) {
                snprintf(trigger, sizeof trigger, "request: %.480s", req);
                due = 2;
            } else if (s != PR_ERR_NOTFOUND) {
                fprintf(stderr, "pronto retrain: %s\n", err.msg);
            }
            free(req);
        } else {
            snprintf(trigger, sizeof trigger, "schedule");
        }
        if (due) {
            o->now_ms = now;
            o->trigger = trigger;
            run_cycle(reg, o); /* a failure is its error line; go on */
            last_check = wall_ms();
            if (due == 1) { /* the schedule's own cadence; missed slots are skipped */
                next += every_ms;
                while (next <= last_check) next += every_ms;
            } else { /* a request: the schedule restarts from it */
                next = last_check + every_ms;
            }
            continue;
        }
        if (o->probation_ms > 0 && now - last_check >= 60000) {
            pr_err err;
            pr_err_clear(&err);
            pr_retrain_result res;
            o->now_ms = now;
            pr_retrain_check_probation(reg, o, &res, &err);
            if (res.decision == PR_RETRAIN_ROLLBACK || res.decision == PR_RETRAIN_ERROR)
                print_line(res.json);
            pr_retrain_result_free(&res);
            last_check = now;
        }
        int64_t wait = next - wall_ms();
        sleep_ms(wait < 1000 ? (wait > 0 ? wait : 0) : 1000);
    }
    fprintf(stderr, "pronto retrain: stopped by a signal\n");
    return PR_EXIT_OK;
}

int cmd_retrain(int argc, char **argv) {
    const char *reg_dir = NULL, *events = NULL, *spec = NULL, *data = NULL, *at_s = NULL;
    const char *train_window_s = NULL, *holdout_s = NULL, *lag_s = NULL, *window_s = NULL,
               *lateness_s = NULL, *policy_s = "scratch", *kind_s = "lr", *cal_s = NULL,
               *alias = "production", *every_s = NULL, *probation_s = NULL, *moved_s = NULL;
    unsigned long long min_examples = 1000, bits = 0, seed = 1, max_bytes = 0;
    long long passes = 0, threads = 1;
    double min_gain = 0, rb_margin = 0.01;
    int allow_spec = 0, no_promote = 0, check_only = 0;
    cli_model_flags mf;
    pr_flag flags[] = {
        {"--registry", "-r", PR_FLAG_STRING, &reg_dir, "DIR the model registry (required)", 0},
        {"--events", NULL, PR_FLAG_STRING, &events, "URI the event log (log:DIR, redis-stream:...) (required)", 0},
        {"--spec", NULL, PR_FLAG_STRING, &spec, "SPEC.yaml feature spec with the feature-store sections (required)", 0},
        {"--data", "-d", PR_FLAG_STRING, &data, "DIR where the spec's entity tables are (default .)", 0},
        {"--at", NULL, PR_FLAG_STRING, &at_s, "TIME the cycle's now (default: the current time); replays pass simulated times", 0},
        {"--train-window", NULL, PR_FLAG_STRING, &train_window_s, "D impressions trained on (default 7d)", 0},
        {"--holdout", NULL, PR_FLAG_STRING, &holdout_s, "D the newest matured slice, never trained on, scored by the gate (default 1h)", 0},
        {"--label-lag", NULL, PR_FLAG_STRING, &lag_s, "D impressions younger than now-D are not used (default: --window)", 0},
        {"--window", NULL, PR_FLAG_STRING, &window_s, "D attribution window (default 2h)", 0},
        {"--lateness", NULL, PR_FLAG_STRING, &lateness_s, "D allowed out-of-orderness (default 10m)", 0},
        {"--min-examples", NULL, PR_FLAG_UINT, &min_examples, "N fewer examples (or no click) in train or holdout: skipped; probation: least impressions compared (default 1000)", 0},
        {"--policy", NULL, PR_FLAG_STRING, &policy_s, "scratch (a new model) or warm (continue production's); default scratch", 0},
        {"--kind", NULL, PR_FLAG_STRING, &kind_s, "scratch: lr, ffm or fm; default lr", 0},
        {"--passes", NULL, PR_FLAG_INT, &passes, "N passes (default 1 for lr, 10 for ffm/fm)", 0},
        {"--bits", "-b", PR_FLAG_UINT, &bits, "B scratch: hash into 2^B buckets (default: the spec's)", 0},
        {"--threads", NULL, PR_FLAG_INT, &threads, "N learner threads (default 1: reproducible)", 0},
        {"--seed", NULL, PR_FLAG_UINT, &seed, "S shuffling/initialization seed (default 1)", 0},
        {"--min-gain", NULL, PR_FLAG_DOUBLE, &min_gain, "X pass only if NE <= production's - X; negative: a tolerance (default 0)", 0},
        {"--calibration", NULL, PR_FLAG_STRING, &cal_s, "LO,HI sum predicted / clicks on the holdout within (default 0.8,1.25)", 0},
        {"--max-bytes", NULL, PR_FLAG_UINT, &max_bytes, "N model file size limit (default 4x production's; none for the first)", 0},
        {"--allow-spec-change", NULL, PR_FLAG_BOOL, &allow_spec, "promote a candidate whose spec differs from production's", 0},
        {"--alias", NULL, PR_FLAG_STRING, &alias, "A the alias compared with and promoted (default production)", 0},
        {"--no-promote", NULL, PR_FLAG_BOOL, &no_promote, "register a passing candidate without moving the alias", 0},
        {"--every", NULL, PR_FLAG_STRING, &every_s, "D run a cycle every D until SIGTERM (requests start one early)", 0},
        {"--probation", NULL, PR_FLAG_STRING, &probation_s, "D automatic rollback within D of a move (default 0: off)", 0},
        {"--rollback-margin", NULL, PR_FLAG_DOUBLE, &rb_margin, "X roll back when live NE is worse than the predecessor's by > X (default 0.01)", 0},
        {"--check-probation", NULL, PR_FLAG_BOOL, &check_only, "only the probation check, no training (cron)", 0},
        {"--moved-at", NULL, PR_FLAG_STRING, &moved_s, "TIME probation: the alias's last move happened at TIME (replays)", 0},
        {0}, {0}, {0}, {0}, {0}, {0}, {0}, /* the model flags (common.c) */
    };
    _Static_assert(CLI_MODEL_FLAGS_N == 7, "placeholders above");
    const int n_flags = (int)(sizeof flags / sizeof flags[0]);
    cli_model_flags_init(&mf, &flags[n_flags - CLI_MODEL_FLAGS_N]);
    char *pos[4];
    int n_pos = 0;
    int rc = pr_flags_parse("retrain", USAGE, flags, n_flags, argc, argv, pos, 4, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos) return cli_usage_error("retrain", "no positional arguments (--registry DIR ...)");
    if (!reg_dir) return cli_usage_error("retrain", "--registry DIR is required");
    if (!events) return cli_usage_error("retrain", "--events URI is required");
    if (!spec && !check_only) return cli_usage_error("retrain", "--spec SPEC.yaml is required");

    pr_retrain_opts o;
    pr_retrain_opts_default(&o);
    o.events_uri = events;
    o.spec_path = spec;
    o.data_dir = data;
    o.alias = alias;
    o.min_examples = min_examples;
    o.min_gain = min_gain;
    o.rollback_margin = rb_margin;
    o.allow_spec_change = allow_spec;
    o.no_promote = no_promote;
    o.seed = seed;
    o.trigger = "once";
    if (!strcmp(policy_s, "warm")) o.policy = PR_RETRAIN_POLICY_WARM;
    else if (strcmp(policy_s, "scratch"))
        return cli_usage_error("retrain", "--policy must be scratch or warm");
    if (pr_model_kind_parse(kind_s, &o.kind) != PR_OK)
        return cli_usage_error("retrain", "--kind must be lr, ffm or fm");
    pr_model_params_default(&o.params, o.kind);
    cli_model_flags_apply(&mf, &o.params);
    o.params.kind = o.kind;
    o.params.hash_bits = 10; /* checked here with placeholders; the cycle sets them */
    o.params.n_fields = 1;
    pr_err err;
    pr_err_clear(&err);
    if (pr_model_params_check(&o.params, &err) != PR_OK) return cli_usage_error("retrain", err.msg);
    if (bits > 30 || (bits && bits < 1)) return cli_usage_error("retrain", "--bits must be in 1..30");
    o.hash_bits = (uint32_t)bits;
    if (threads < 1 || threads > 256) return cli_usage_error("retrain", "--threads must be in 1..256");
    o.threads = (int)threads;
    if (passes < 0 || passes > 1000) return cli_usage_error("retrain", "--passes must be in 1..1000");
    o.passes = (int)passes;
    for (int i = 0; i < n_flags; i++)
        if (!strcmp(flags[i].name ? flags[i].name : "", "--max-bytes") && flags[i].seen)
            o.max_bytes = (int64_t)(max_bytes > INT64_MAX / 2 ? INT64_MAX / 2 : max_bytes);
    if (cal_s && pr_retrain_parse_range(cal_s, &o.calibration_lo, &o.calibration_hi, &err) != PR_OK) {
        fprintf(stderr, "pronto retrain: --calibration: %s\n", err.msg);
        return PR_EXIT_USAGE;
    }
    if (!isfinite(rb_margin) || rb_margin < 0)
        return cli_usage_error("retrain", "--rollback-margin must be >= 0");
    struct {
        const char *flag, *text;
        int64_t *out;
    } durs[] = {{"--train-window", train_window_s, &o.train_window_ms},
                {"--holdout", holdout_s, &o.holdout_ms},
                {"--label-lag", lag_s, &o.label_lag_ms},
                {"--window", window_s, &o.window_ms},
                {"--lateness", lateness_s, &o.lateness_ms},
                {"--probation", probation_s, &o.probation_ms}};
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++)
        if (durs[i].text && !cli_parse_duration_ms("retrain", durs[i].flag, durs[i].text, durs[i].out))
            return PR_EXIT_USAGE;
    if (o.train_window_ms <= 0) return cli_usage_error("retrain", "--train-window must be > 0");
    if (o.holdout_ms <= 0) return cli_usage_error("retrain", "--holdout must be > 0");
    if (o.window_ms <= 0) return cli_usage_error("retrain", "--window must be > 0");
    int64_t every_ms = 0;
    if (every_s) {
        if (!cli_parse_duration_ms("retrain", "--every", every_s, &every_ms)) return PR_EXIT_USAGE;
        if (every_ms < 1000) return cli_usage_error("retrain", "--every must be at least 1s");
        if (at_s) return cli_usage_error("retrain", "--every runs on the clock: no --at");
        if (check_only) return cli_usage_error("retrain", "--every checks probation itself: no --check-probation");
    }
    if (check_only && o.probation_ms <= 0)
        return cli_usage_error("retrain", "--check-probation needs --probation D");
    o.now_ms = wall_ms();
    if (at_s && !cli_parse_time_ms("retrain", "--at", at_s, &o.now_ms)) return PR_EXIT_USAGE;
    if (moved_s && !cli_parse_time_ms("retrain", "--moved-at", moved_s, &o.moved_at_ms))
        return PR_EXIT_USAGE;
    /* The command line, recorded with each version. */
    char command[2048];
    size_t cl = 0;
    command[0] = '\0';
    for (int i = 0; i < argc && cl + 2 < sizeof command; i++) {
        int n = snprintf(command + cl, sizeof command - cl, "%s%s", i ? " " : "pronto ", argv[i]);
        if (n < 0) break;
        cl += (size_t)n;
        if (cl >= sizeof command) cl = sizeof command - 1;
    }
    o.command = command;

    pr_registry *reg;
    if (pr_registry_open(reg_dir, 0, &reg, &err) != PR_OK) {
        fprintf(stderr, "pronto retrain: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    int code;
    if (check_only) {
        pr_retrain_result res;
        pr_status s = pr_retrain_check_probation(reg, &o, &res, &err);
        print_line(res.json);
        if (s != PR_OK) fprintf(stderr, "pronto retrain: %s\n", err.msg);
        code = s == PR_OK ? PR_EXIT_OK : PR_EXIT_FAIL;
        pr_retrain_result_free(&res);
    } else if (every_ms) {
        code = run_every(reg, &o, every_ms);
    } else {
        code = run_cycle(reg, &o);
    }
    pr_registry_close(reg);
    return code;
}
