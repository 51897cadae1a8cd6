/*
 * cmd_simulate.c: `pronto simulate`, the ad-traffic simulator's command.
 *
 * Thin: parses flags into a pr_sim_config and pr_sim_output_options,
 * validates them (exit 2 with the flag named), opens every output before
 * building anything (an unwritable folder fails before any work, exit 1),
 * then pumps pr_sim_next into pr_sim_output_write and prints one summary
 * line on stderr. --rate paces the stream in real time. Owns nothing past
 * its return.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "pronto/sim.h"

static const char usage[] =
    "usage: pronto simulate [-o DIR | --stdout] [options]\n"
    "\n"
    "Generates seeded ad traffic (impressions, clicks, conversions) with the\n"
    "true click probability of every impression. See docs/simulator.md.\n"
    "\n"
    "Output:\n"
    "  -o, --out DIR            events-NNNNNN.jsonl, users.csv, ads.csv, sites.csv,\n"
    "                           truth.tsv, scenarios.log (folder created if missing)\n"
    "  --stdout                 events to stdout instead of DIR\n"
    "  --zstd                   compress the event stream (zstd, .jsonl.zst)\n"
    "  --zstd-level N           1..19 (default 3)\n"
    "  --rotate N               events per file (default 10M; 0 = one file)\n"
    "  --joined FILE            one training row per impression\n"
    "  --joined-format F        csv (default, with header) or criteo\n"
    "  --truth FILE             ground truth (default DIR/truth.tsv)\n"
    "  --quiet                  no summary line\n"
    "Size and pace:\n"
    "  --events N               stop after N events (k, M, G suffixes)\n"
    "  --duration D             simulated span (default 7d; s, m, h, d, w)\n"
    "  --rate R                 emit in real time at R events per second\n"
    "World:\n"
    "  --seed S                 (default 1)\n"
    "  --start T                Unix seconds of the start (default 1704067200)\n"
    "  --users N --ads N --advertisers N --sites N   (100k, 10k, 500, 2000)\n"
    "  --imp-rate R             mean impressions per simulated second (20)\n"
    "  --base-ctr P             click probability with all effects at 0 (0.02)\n"
    "  --conversion-rate P      P(conversion | click) (0.05)\n"
    "  --click-delay-median D   (30s)   --click-delay-sigma X (1.5)\n"
    "  --max-click-delay D      (2h)    --attribution-window D (= max delay)\n"
    "  --conversion-delay-median D (20m) --max-conversion-delay D (24h)\n"
    "  --user-zipf S (0.9)  --ad-zipf S (1.05)  --retarget P (0.25)\n"
    "Drift (repeatable, each kind once; T = time after the start):\n"
    "  --scenario cold-start@T[:N_ADS[:SHARE]]\n"
    "  --scenario interest-shift@T\n"
    "  --scenario surge@T[:FACTOR[:LENGTH]]\n"
    "  --scenario broken-field@T[:device|site_id|position[:missing|constant]]\n"
    "  --scenario ctr-shift@T[:FACTOR]\n";

/* The simulator's messages name its config fields (and "scenario SPEC:"):
 * said with this command's flags. */
static const char *with_flags(pr_err *err) {
    static const char *const fields[] = {
        "start_ms", "duration_s", "max_events", "n_users", "n_ads", "n_advertisers", "n_sites",
        "imp_rate", "base_ctr", "conversion_rate", "click_delay_median_s", "click_delay_sigma",
        "max_click_delay_s", "attribution_window_s", "conv_delay_median_s", "max_conv_delay_s",
        "user_zipf", "ad_zipf", "retarget_prob"};
    static const char *const flag_of[] = {
        "--start", "--duration", "--events", "--users", "--ads", "--advertisers", "--sites",
        "--imp-rate", "--base-ctr", "--conversion-rate", "--click-delay-median",
        "--click-delay-sigma", "--max-click-delay", "--attribution-window",
        "--conversion-delay-median", "--max-conversion-delay", "--user-zipf", "--ad-zipf",
        "--retarget"};
    cli_flag_words(err, fields, flag_of, sizeof fields / sizeof fields[0]);
    size_t len = strlen(err->msg);
    if (!strncmp(err->msg, "scenario", 8) && len + 2 < sizeof err->msg) {
        memmove(err->msg + 2, err->msg, len + 1);
        memcpy(err->msg, "--", 2);
    }
    return err->msg;
}

static int usage_error(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "pronto simulate: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n(see pronto simulate --help)\n");
    return PR_EXIT_USAGE;
}

/* "1000000", "10M", "2.5k": a whole count. */
static int parse_count(const char *s, uint64_t *out) {
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0)) return -1;
    double mult = 1;
    if (*end == 'k' || *end == 'K') mult = 1e3, end++;
    else if (*end == 'M') mult = 1e6, end++;
    else if (*end == 'G') mult = 1e9, end++;
    if (*end) return -1;
    v *= mult;
    if (v != floor(v) || v > 1e18) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_double(const char *s, double *out) {
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s) {
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

typedef struct sim_cli {
    pr_sim_config cfg;
    pr_sim_output_options out;
    double rate;
    int quiet;
    int window_given, duration_given;
} sim_cli;

/* Parses argv; returns -1 on success or an exit code. */
static int parse_args(int argc, char **argv, sim_cli *c) {
    memset(c, 0, sizeof *c);
    pr_sim_config_default(&c->cfg);
    c->out.rotate_events = 10000000;
    pr_err err;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage, stdout);
            return PR_EXIT_OK;
        }
        if (strcmp(arg, "--stdout") == 0) { c->out.to_stdout = 1; continue; }
        if (strcmp(arg, "--zstd") == 0) { c->out.zstd = 1; continue; }
        if (strcmp(arg, "--quiet") == 0) { c->quiet = 1; continue; }

        /* Flags with a value: "--flag value" or "--flag=value". */
        char name[64];
        const char *val = NULL;
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        if (eq) {
            size_t n = (size_t)(eq - arg);
            if (n >= sizeof name) n = sizeof name - 1;
            memcpy(name, arg, n);
            name[n] = 0;
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
            if (i + 1 < argc) val = argv[i + 1];
        }
        if (strcmp(name, "-o") == 0) snprintf(name, sizeof name, "--out");
        if (name[0] != '-' || name[1] != '-')
            return usage_error("unexpected argument '%s'%s", arg, "");
        if (!val) return usage_error("%s: missing value%s", name, "");
        if (!eq) i++;

        const char *f = name + 2;
        uint64_t u = 0;
        double d = 0;
        int bad = 0;
        if (!strcmp(f, "out")) c->out.dir = val;
        else if (!strcmp(f, "joined")) c->out.joined_path = val;
        else if (!strcmp(f, "truth")) c->out.truth_path = val;
        else if (!strcmp(f, "joined-format")) {
            if (!strcmp(val, "csv")) c->out.joined_format = PR_SIM_JOINED_CSV;
            else if (!strcmp(val, "criteo")) c->out.joined_format = PR_SIM_JOINED_CRITEO;
            else return usage_error("--joined-format: expected csv or criteo, got '%s'%s", val, "");
        } else if (!strcmp(f, "scenario")) {
            if (pr_sim_scenario_parse(&c->cfg, val, &err) != PR_OK)
                return usage_error("%s%s", with_flags(&err), "");
        } else if (!strcmp(f, "zstd-level")) {
            bad = parse_count(val, &u) || u < 1 || u > 19;
            c->out.zstd_level = (int)u;
        } else if (!strcmp(f, "rotate")) {
            bad = parse_count(val, &u);
            c->out.rotate_events = u;
        } else if (!strcmp(f, "events")) {
            bad = parse_count(val, &u) || u == 0;
            c->cfg.max_events = u;
        } else if (!strcmp(f, "seed")) {
            bad = parse_count(val, &u);
            c->cfg.seed = u;
        } else if (!strcmp(f, "start")) {
            bad = parse_count(val, &u) || u > 4102444800ull;
            c->cfg.start_ms = (int64_t)u * 1000;
        } else if (!strcmp(f, "users") || !strcmp(f, "ads") || !strcmp(f, "advertisers") ||
                   !strcmp(f, "sites")) {
            bad = parse_count(val, &u) || u < 1 || u > 100000000;
            uint32_t v = (uint32_t)u;
            if (!strcmp(f, "users")) c->cfg.n_users = v;
            else if (!strcmp(f, "ads")) c->cfg.n_ads = v;
            else if (!strcmp(f, "advertisers")) c->cfg.n_advertisers = v;
            else c->cfg.n_sites = v;
        } else if (!strcmp(f, "duration") || !strcmp(f, "click-delay-median") ||
                   !strcmp(f, "max-click-delay") || !strcmp(f, "attribution-window") ||
                   !strcmp(f, "conversion-delay-median") || !strcmp(f, "max-conversion-delay")) {
            bad = pr_sim_parse_duration(val, &d) != PR_OK;
            if (!strcmp(f, "duration")) c->cfg.duration_s = d, c->duration_given = 1;
            else if (!strcmp(f, "click-delay-median")) c->cfg.click_delay_median_s = d;
            else if (!strcmp(f, "max-click-delay")) c->cfg.max_click_delay_s = d;
            else if (!strcmp(f, "attribution-window")) c->cfg.attribution_window_s = d, c->window_given = 1;
            else if (!strcmp(f, "conversion-delay-median")) c->cfg.conv_delay_median_s = d;
            else c->cfg.max_conv_delay_s = d;
            if (bad)
                return usage_error("%s: expected a duration such as 90s, 15m, 36h or 7d, got '%s'",
                                   name, val);
        } else if (!strcmp(f, "imp-rate") || !strcmp(f, "base-ctr") ||
                   !strcmp(f, "conversion-rate") || !strcmp(f, "click-delay-sigma") ||
                   !strcmp(f, "user-zipf") || !strcmp(f, "ad-zipf") || !strcmp(f, "retarget") ||
                   !strcmp(f, "rate")) {
            if (parse_double(val, &d))
                return usage_error("%s: expected a number, got '%s'", name, val);
            if (!strcmp(f, "imp-rate")) c->cfg.imp_rate = d;
            else if (!strcmp(f, "base-ctr")) c->cfg.base_ctr = d;
            else if (!strcmp(f, "conversion-rate")) c->cfg.conversion_rate = d;
            else if (!strcmp(f, "click-delay-sigma")) c->cfg.click_delay_sigma = d;
            else if (!strcmp(f, "user-zipf")) c->cfg.user_zipf = d;
            else if (!strcmp(f, "ad-zipf")) c->cfg.ad_zipf = d;
            else if (!strcmp(f, "retarget")) c->cfg.retarget_prob = d;
            else {
                if (!(d > 0) || d > 1e9)
                    return usage_error("--rate: expected events per second in (0, 1e9], got '%s'%s",
                                       val, "");
                c->rate = d;
            }
        } else {
            return usage_error("unknown flag '%s'%s", name, "");
        }
        if (bad) return usage_error("%s: expected a whole number in range, got '%s'", name, val);
    }
    if (c->cfg.max_events && !c->duration_given) c->cfg.duration_s = 0;
    if (!c->window_given) c->cfg.attribution_window_s = c->cfg.max_click_delay_s;
    if (!c->out.dir && !c->out.to_stdout && !c->out.joined_path)
        return usage_error("nothing to write: give -o DIR, --stdout or --joined FILE%s%s", "", "");
    if (pr_sim_config_check(&c->cfg, &err) != PR_OK) return usage_error("%s%s", with_flags(&err), "");
    return -1;
}

int cmd_simulate(int argc, char **argv) {
    sim_cli c;
    int code = parse_args(argc, argv, &c);
    if (code >= 0) return code;

    pr_err err;
    pr_err_clear(&err);
    pr_sim_output *out = NULL;
    pr_sim *sim = NULL;
    pr_sim_stats st;
    memset(&st, 0, sizeof st);
    int rc = PR_EXIT_FAIL;
    double t0 = now_s();

    /* Outputs first: a bad folder fails before any work. */
    if (pr_sim_output_open(&c.out, NULL, &out, &err) != PR_OK) goto fail;
    if (pr_sim_stats_init(&st, &err) != PR_OK) goto fail;
    if (pr_sim_new(&c.cfg, &sim, &err) != PR_OK) goto fail;
    if (c.out.dir && pr_sim_write_entities(sim, c.out.dir, &err) != PR_OK) goto fail;

    pr_progress prog;
    pr_progress_start(&prog, "simulate", c.cfg.max_events);
    double t_gen = now_s();
    pr_sim_event ev;
    pr_status s;
    while ((s = pr_sim_next(sim, &ev, &err)) == PR_OK) {
        if (pr_sim_output_write(out, &ev, &err) != PR_OK) goto fail_progress;
        pr_sim_stats_add(&st, &ev);
        if (c.rate > 0 && ev.type != PR_SIM_EVENT_SCENARIO) {
            double target = t_gen + (double)st.events / c.rate;
            double now = now_s();
            if (now < target) {
                if (pr_sim_output_flush(out, &err) != PR_OK) goto fail_progress;
                sleep_s(target - now);
            }
        }
        if ((st.events & 0xFFFF) == 0) pr_progress_update(&prog, st.events, NULL, 0);
    }
    pr_progress_end(&prog);
    if (s != PR_EOF) goto fail;
    pr_status close_rc = pr_sim_output_close(out, &err);
    out = NULL;
    if (close_rc != PR_OK) goto fail;

    if (!c.quiet) {
        char line[512];
        pr_sim_stats_format(&st, line, sizeof line);
        double secs = now_s() - t0;
        fprintf(stderr, "pronto simulate: %s elapsed_s=%.2f events_per_s=%.0f\n", line, secs,
                secs > 0 ? (double)st.events / secs : 0.0);
    }
    rc = PR_EXIT_OK;
    goto done;
fail_progress:
    pr_progress_end(&prog);
fail:
    fprintf(stderr, "pronto simulate: %s\n", err.msg[0] ? err.msg : pr_status_str(err.status));
done:
    pr_sim_output_abort(out);
    pr_sim_free(sim);
    pr_sim_stats_free(&st);
    return rc;
}
