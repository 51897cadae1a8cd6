/*
 * cmd_monitor_quality.c: `pronto monitor quality`, live quality from
 * outcomes over an event log: the server's prediction records matched to
 * impressions, clicks joined in the attribution window, windows per model
 * version and arm (pronto/quality.h, the code the server runs). Exit
 * codes: 0, 1 (the log could not be read), 2 (usage).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/log.h"
#include "pronto/quality.h"

static const char quality_usage[] =
    "--log URI [--window 1m|5m|1h] [--json] [--attribution D] [--lateness D]\n"
    "       [--hold D] [--candidate-key COL] [--pending N] [--from T] [--to T]\n"
    "\n"
    "Live model quality from outcomes, over an event log a server wrote\n"
    "(pronto serve --log URI): each prediction record's candidates are matched to\n"
    "the impressions carrying the same request_id (else the impression id) and\n"
    "candidate key; clicks join their impression within the attribution window\n"
    "(the joiner's rules, docs/joiner.md), and an impression counts only once its\n"
    "window has closed. Prints every window (by impression time) per model version\n"
    "(the registry version, else the model's) and A/B arm: n, clicks, observed\n"
    "rate, mean p, log loss, NE, calibration (mean p / rate), AUC and its error\n"
    "bound; '-' where a figure is undefined (no click: NE, calibration, AUC).\n"
    "Windows still open at the end of the log are closed (as at end of input).\n"
    "The server computes the same figures in process (/metrics pronto_quality).\n"
    "A summary goes to stderr. docs/monitoring.md \"Live quality\".";

static void iso(int64_t ms, char *buf, size_t cap) {
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, cap, "%lldms", (long long)ms);
}

static void num(double v, const char *fmt, int json) {
    if (isnan(v)) fputs(json ? "null" : "-", stdout);
    else printf(fmt, v);
}

static void print_json(const pr_quality_window *w, size_t n, const char *window,
                       const pr_quality_stats *st) {
    printf("{\"window\":\"%s\",\"windows\":[", window);
    for (size_t i = 0; i < n; i++) {
        char t[40];
        iso(w[i].start_ms, t, sizeof t);
        fputs(i ? ",\n" : "\n", stdout);
        /* version and arm are names the server wrote: no quote or control
         * character can be in a registry id or a hex version, but escape */
        printf("{\"version\":\"");
        for (const char *c = w[i].version; *c; c++)
            if ((unsigned char)*c >= 0x20 && *c != '"' && *c != '\\') putchar(*c);
        printf("\",\"arm\":\"");
        for (const char *c = w[i].arm; *c; c++)
            if ((unsigned char)*c >= 0x20 && *c != '"' && *c != '\\') putchar(*c);
        printf("\",\"start\":\"%s\",\"start_ms\":%lld,\"closed\":%s,\"n\":%llu,\"clicks\":%llu",
               t, (long long)w[i].start_ms, w[i].closed ? "true" : "false",
               (unsigned long long)w[i].n, (unsigned long long)w[i].clicks);
        const char *names[] = {"ctr", "mean_p", "logloss", "ne", "calibration", "auc", "auc_err"};
        double vals[] = {w[i].ctr, w[i].mean_p, w[i].logloss, w[i].ne,
                         w[i].calibration, w[i].auc, w[i].auc_err};
        for (int k = 0; k < 7; k++) {
            printf(",\"%s\":", names[k]);
            num(vals[k], "%.17g", 1);
        }
        putchar('}');
    }
    printf("\n],\"stats\":{\"predictions\":%llu,\"candidates\":%llu,\"events\":%llu,"
           "\"impressions\":%llu,\"labeled\":%llu,\"matched\":%llu,\"unmatched\":%llu,"
           "\"expired\":%llu,\"evicted\":%llu,\"held_overflow\":%llu,\"malformed\":%llu,"
           "\"too_late\":%llu,\"duplicates\":%llu,\"unattributed_clicks\":%llu}}\n",
           (unsigned long long)st->predictions, (unsigned long long)st->candidates,
           (unsigned long long)st->events, (unsigned long long)st->impressions,
           (unsigned long long)st->labeled, (unsigned long long)st->matched,
           (unsigned long long)st->unmatched, (unsigned long long)st->expired,
           (unsigned long long)st->evicted, (unsigned long long)st->held_overflow,
           (unsigned long long)st->malformed, (unsigned long long)st->too_late,
           (unsigned long long)st->duplicates, (unsigned long long)st->unattributed_clicks);
}

static void print_text(const pr_quality_window *w, size_t n) {
    printf("%-18s %-12s %-20s %8s %7s %8s %8s %8s %7s %7s %7s %7s\n", "version", "arm", "start",
           "n", "clicks", "ctr", "mean_p", "logloss", "ne", "calib", "auc", "auc_err");
    for (size_t i = 0; i < n; i++) {
        char t[40];
        iso(w[i].start_ms, t, sizeof t);
        printf("%-18s %-12s %-20s %8llu %7llu ", w[i].version, w[i].arm[0] ? w[i].arm : "-", t,
               (unsigned long long)w[i].n, (unsigned long long)w[i].clicks);
        double v[] = {w[i].ctr, w[i].mean_p, w[i].logloss, w[i].ne, w[i].calibration, w[i].auc,
                      w[i].auc_err};
        const char *f[] = {"%8.5f", "%8.5f", "%8.5f", "%7.4f", "%7.4f", "%7.4f", "%7.4f"};
        for (int k = 0; k < 7; k++) {
            if (k) putchar(' ');
            if (isnan(v[k])) printf("%*s", k < 3 ? 8 : 7, "-");
            else printf(f[k], v[k]);
        }
        putchar('\n');
    }
}

int cmd_monitor_quality(const char *sub, int argc, char **argv) {
    const char *cmd = "monitor quality";
    (void)sub;
    const char *uri = NULL, *window_s = "5m", *attr_s = NULL, *late_s = NULL, *hold_s = NULL,
               *cand = "ad_id", *from_s = NULL, *to_s = NULL;
    int json = 0;
    unsigned long long pending = 1u << 20;
    pr_flag flags[] = {
        {"--log", NULL, PR_FLAG_STRING, &uri,
         "URI  the event log (log:DIR, redis-stream:...) a server wrote with --log", 0},
        {"--window", NULL, PR_FLAG_STRING, &window_s, "1m|5m|1h  window length (default 5m)", 0},
        {"--json", NULL, PR_FLAG_BOOL, &json, "one JSON document instead of the table", 0},
        {"--attribution", NULL, PR_FLAG_STRING, &attr_s,
         "D  attribution window of a click (default 2h, as the server's --quality-window)", 0},
        {"--lateness", NULL, PR_FLAG_STRING, &late_s,
         "D  how far out of order events may be (default 10m)", 0},
        {"--hold", NULL, PR_FLAG_STRING, &hold_s,
         "D  how long an impression waits for its prediction record (default: the smaller "
         "of 1m and --lateness)",
         0},
        {"--candidate-key", NULL, PR_FLAG_STRING, &cand,
         "COL  the candidate key column (default ad_id, as serve --candidate-key)", 0},
        {"--pending", NULL, PR_FLAG_UINT, &pending,
         "N  candidate predictions remembered until their impression (64 bytes each), default "
         "1048576; a record holds every scored candidate, not only the answered top_k",
         0},
        {"--from", NULL, PR_FLAG_STRING, &from_s, "T  records with time >= T (ISO-8601 or Unix s)",
         0},
        {"--to", NULL, PR_FLAG_STRING, &to_s, "T  records with time < T", 0},
    };
    char *pos[4];
    int n_pos = 0;
    int rc = pr_flags_parse(cmd, quality_usage, flags, (int)(sizeof flags / sizeof flags[0]), argc,
                            argv, pos, 4, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos) return cli_usage_error(cmd, "unexpected argument (the log goes in --log URI)");
    if (!uri) return cli_usage_error(cmd, "--log URI is required");
    int64_t len_ms = !strcmp(window_s, "1m")   ? 60000
                     : !strcmp(window_s, "5m") ? 300000
                     : !strcmp(window_s, "1h") ? 3600000
                                               : 0;
    if (!len_ms) return cli_usage_error(cmd, "--window: expected 1m, 5m or 1h");
    pr_quality_opts o;
    pr_quality_opts_default(&o);
    if (attr_s && !cli_parse_duration_ms(cmd, "--attribution", attr_s, &o.window_ms))
        return PR_EXIT_USAGE;
    if (late_s && !cli_parse_duration_ms(cmd, "--lateness", late_s, &o.lateness_ms))
        return PR_EXIT_USAGE;
    o.hold_ms = o.lateness_ms < 60000 ? o.lateness_ms : 60000;
    if (hold_s && !cli_parse_duration_ms(cmd, "--hold", hold_s, &o.hold_ms)) return PR_EXIT_USAGE;
    if (o.hold_ms > o.lateness_ms) return cli_usage_error(cmd, "--hold must not exceed --lateness");
    o.candidate_key = cand;
    if (pending < 1 || pending > (1u << 30)) return cli_usage_error(cmd, "--pending must be 1..2^30");
    o.max_pending = (uint32_t)pending;
    int64_t from_ms = 0, to_ms = 0;
    if (from_s && !cli_parse_time_ms(cmd, "--from", from_s, &from_ms)) return PR_EXIT_USAGE;
    if (to_s && !cli_parse_time_ms(cmd, "--to", to_s, &to_ms)) return PR_EXIT_USAGE;
    if (from_s && to_s && to_ms <= from_ms) return cli_usage_error(cmd, "--to must be after --from");

    pr_err err;
    pr_quality *q = NULL;
    pr_event_log *log = NULL;
    pr_log_reader *r = NULL;
    rc = PR_EXIT_FAIL;
    if (pr_quality_new(&o, &q, &err) != PR_OK) {
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        return PR_EXIT_USAGE;
    }
    if (pr_log_open(uri, PR_LOG_READ, &log, &err) != PR_OK) goto fail;
    pr_log_start st0 = {from_s ? PR_LOG_FROM_TIME : PR_LOG_FROM_START, from_ms, {0, 0}, NULL, 0};
    if (pr_log_reader_open(log, &st0, &r, &err) != PR_OK) goto fail;
    pr_log_stats ls;
    pr_log_stats_get(log, &ls);
    pr_progress pg;
    pr_progress_start(&pg, "reading", ls.records);
    pr_log_record rec;
    pr_status s;
    uint64_t n = 0, shown = 0;
    while ((s = pr_log_next(r, &rec, &err)) == PR_OK) {
        if (!(++n & 8191)) pr_progress_update(&pg, n, NULL, 0);
        if ((from_s && rec.ts_ms < from_ms) || (to_s && rec.ts_ms >= to_ms)) continue;
        pr_err e2;
        char where[PR_LOG_POS_TEXT_MAX];
        if (pr_quality_add_record(q, rec.type, rec.payload.ptr, rec.payload.len, &e2) != PR_OK &&
            shown++ < 10) {
            pr_log_pos_format(log, rec.pos, where, sizeof where);
            fprintf(stderr, "pronto %s: %s@%s: %s (skipped)\n", cmd, uri, where, e2.msg);
        }
    }
    pr_progress_end(&pg);
    if (s != PR_EOF) goto fail;
    pr_quality_flush(q);
    pr_quality_window *w;
    size_t nw;
    if (pr_quality_windows(q, len_ms, &w, &nw, &err) != PR_OK) goto fail;
    pr_quality_stats qs;
    pr_quality_stats_get(q, &qs);
    if (json) print_json(w, nw, window_s, &qs);
    else print_text(w, nw);
    free(w);
    fprintf(stderr,
            "pronto %s: records=%llu predictions=%llu candidates=%llu events=%llu "
            "impressions=%llu labeled=%llu matched=%llu unmatched=%llu expired=%llu "
            "evicted=%llu held_overflow=%llu malformed=%llu too_late=%llu duplicates=%llu "
            "unattributed_clicks=%llu windows=%zu\n",
            cmd, (unsigned long long)n, (unsigned long long)qs.predictions,
            (unsigned long long)qs.candidates, (unsigned long long)qs.events,
            (unsigned long long)qs.impressions, (unsigned long long)qs.labeled,
            (unsigned long long)qs.matched, (unsigned long long)qs.unmatched,
            (unsigned long long)qs.expired, (unsigned long long)qs.evicted,
            (unsigned long long)qs.held_overflow, (unsigned long long)qs.malformed,
            (unsigned long long)qs.too_late, (unsigned long long)qs.duplicates,
            (unsigned long long)qs.unattributed_clicks, nw);
    rc = fflush(stdout) == 0 && !ferror(stdout) ? PR_EXIT_OK : PR_EXIT_FAIL;
    goto done;
fail:
    fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
done:
    pr_log_reader_close(r);
    pr_log_close(log);
    pr_quality_free(q);
    return rc;
}
