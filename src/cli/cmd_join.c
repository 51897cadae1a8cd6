/*
 * cmd_join.c: `pronto join [--window 2h] [--lateness 10m] [-o OUT] EVENTS...`.
 *
 * Thin: reads JSON-lines events (docs/events.md) from each file in turn
 * ("-" = stdin), pushes them into a pr_joiner and writes one JSON line per
 * labeled impression: the impression's own line with "label" and
 * "converted" appended. A malformed line is reported as file:line:column
 * (the first few) and counted; with --strict it stops the run (exit 1).
 * Lines longer than LINE_MAX_BYTES count as malformed. -o is written
 * atomically (pr_atomic_*): a failed run leaves no half file. The stats
 * go to stderr as one summary line. Owns nothing past its return.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/stream.h"

#define LINE_MAX_BYTES (1u << 20)
#define OUT_BUF_BYTES (1u << 20)
#define REPORT_MAX 10

static const char usage_text[] =
    "EVENTS.jsonl...\n"
    "\n"
    "Joins impressions to their clicks and conversions by impression id within\n"
    "the attribution window; writes one JSON line per impression (its fields\n"
    "plus \"label\" and \"converted\") once its window has closed. Events later\n"
    "than --lateness are counted, duplicates (same event_id) dropped. See\n"
    "docs/joiner.md. \"-\" reads stdin.";

typedef struct out_sink {
    pr_atomic_file *af;  /* -o, or NULL for stdout */
    char *buf;
    size_t len;
} out_sink;

static pr_status sink_flush(out_sink *o, pr_err *err) {
    if (!o->len) return PR_OK;
    pr_status s = PR_OK;
    if (o->af) s = pr_atomic_write(o->af, o->buf, o->len, err);
    else if (fwrite(o->buf, 1, o->len, stdout) != o->len)
        s = pr_err_errno(err, PR_ERR_IO, errno, "stdout: write failed");
    o->len = 0;
    return s;
}

static pr_status sink_put(out_sink *o, const char *p, size_t n, pr_err *err) {
    if (o->len + n > OUT_BUF_BYTES) {
        pr_status s = sink_flush(o, err);
        if (s != PR_OK) return s;
    }
    if (n > OUT_BUF_BYTES) return o->af ? pr_atomic_write(o->af, p, n, err)
                                        : (fwrite(p, 1, n, stdout) == n ? PR_OK
                                           : pr_err_errno(err, PR_ERR_IO, errno, "stdout: write failed"));
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return PR_OK;
}

/* The impression's object with ,"label":L,"converted":C before its '}'. */
static pr_status write_labeled(out_sink *o, const pr_labeled *lab, pr_err *err) {
    const char *p = lab->payload.ptr;
    size_t n = lab->payload.len;
    while (n && p[n - 1] != '}') n--;  /* parse checked: it is an object */
    if (!n) return PR_OK;
    size_t body = n - 1;
    size_t k = body;
    while (k && (p[k - 1] == ' ' || p[k - 1] == '\t' || p[k - 1] == '\n' || p[k - 1] == '\r')) k--;
    int empty = k && p[k - 1] == '{';
    char tail[64];
    int t = snprintf(tail, sizeof tail, "%s\"label\":%d,\"converted\":%d}\n", empty ? "" : ",",
                     lab->label, lab->converted);
    pr_status s = sink_put(o, p, body, err);
    return s != PR_OK ? s : sink_put(o, tail, (size_t)t, err);
}

static pr_status drain(pr_joiner *j, out_sink *o, pr_err *err) {
    pr_labeled lab;
    while (pr_joiner_poll(j, &lab) == PR_OK) {
        pr_status s = write_labeled(o, &lab, err);
        if (s != PR_OK) return s;
    }
    return PR_OK;
}

typedef struct run_state {
    int strict;
    uint64_t malformed, lines;
} run_state;

static pr_status join_file(const char *path, pr_joiner *j, out_sink *o, run_state *rs,
                           pr_err *err) {
    int is_stdin = !strcmp(path, "-");
    const char *name = is_stdin ? "<stdin>" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint64_t lineno = 0;
    pr_status s = PR_OK;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (!n) continue;
        rs->lines++;
        pr_event ev;
        pr_err perr;
        pr_status ps;
        if (n > LINE_MAX_BYTES)
            ps = pr_err_set(&perr, PR_ERR_LIMIT, "column 1: line longer than %u bytes",
                            LINE_MAX_BYTES);
        else
            ps = pr_event_parse_json(line, n, &ev, &perr);
        if (ps != PR_OK) {
            rs->malformed++;
            if (rs->strict) {
                s = pr_err_set(err, ps, "%s:%llu:%s", name, (unsigned long long)lineno, perr.msg);
                goto done;
            }
            if (rs->malformed <= REPORT_MAX)
                fprintf(stderr, "pronto join: %s:%llu:%s (skipped)\n", name,
                        (unsigned long long)lineno, perr.msg);
            continue;
        }
        if ((s = pr_joiner_push(j, &ev, err)) != PR_OK) goto done;
        if ((s = drain(j, o, err)) != PR_OK) goto done;
    }
    if (ferror(f)) s = pr_err_errno(err, PR_ERR_IO, errno, "%s: read failed", name);
done:
    free(line);
    if (!is_stdin) fclose(f);
    return s;
}

int cmd_join(int argc, char **argv) {
    const char *cmd = "join";
    const char *window_s = "2h", *lateness_s = "10m", *horizon_s = "0s", *out_path = NULL;
    int strict = 0;
    pr_flag flags[] = {
        {"--window", NULL, PR_FLAG_STRING, &window_s, "D  attribution window (default 2h)", 0},
        {"--lateness", NULL, PR_FLAG_STRING, &lateness_s,
         "D  allowed out-of-orderness; later events are counted, dropped (default 10m)", 0},
        {"--dedup-horizon", NULL, PR_FLAG_STRING, &horizon_s,
         "D  keep event ids this long below the watermark (default 0s)", 0},
        {"--out", "-o", PR_FLAG_STRING, &out_path, "FILE  output (default stdout)", 0},
        {"--strict", NULL, PR_FLAG_BOOL, &strict, "a malformed line is an error (exit 1)", 0},
    };
    char *pos[4096];
    int n_pos = 0;
    int rc = pr_flags_parse(cmd, usage_text, flags, (int)(sizeof flags / sizeof flags[0]), argc,
                            argv, pos, 4096, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos < 1) return cli_usage_error(cmd, "expected at least one EVENTS file (or -)");
    pr_joiner_opts o = pr_joiner_opts_default();
    if (!cli_parse_duration_ms("join", "--window", window_s, &o.window_ms) ||
        !cli_parse_duration_ms("join", "--lateness", lateness_s, &o.lateness_ms) ||
        !cli_parse_duration_ms("join", "--dedup-horizon", horizon_s, &o.dedup_horizon_ms))
        return PR_EXIT_USAGE;

    pr_err err;
    pr_err_clear(&err);
    pr_joiner *j = NULL;
    out_sink sink = {NULL, NULL, 0};
    run_state rs = {strict, 0, 0};
    pr_status s = PR_OK;
    double t0 = pr_now();
    if (!(sink.buf = malloc(OUT_BUF_BYTES))) {
        s = pr_err_set(&err, PR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((s = pr_joiner_new(&o, &j, &err)) != PR_OK) goto fail;
    if (out_path && (s = pr_atomic_open(out_path, &sink.af, &err)) != PR_OK) goto fail;
    for (int i = 0; i < n_pos; i++)
        if ((s = join_file(pos[i], j, &sink, &rs, &err)) != PR_OK) goto fail;
    pr_joiner_flush(j);
    if ((s = drain(j, &sink, &err)) != PR_OK) goto fail;
    if ((s = sink_flush(&sink, &err)) != PR_OK) goto fail;
    if (sink.af) {
        pr_atomic_file *af = sink.af;
        sink.af = NULL;
        if ((s = pr_atomic_commit(af, &err)) != PR_OK) goto fail;
    } else if (fflush(stdout) != 0) {
        s = pr_err_errno(&err, PR_ERR_IO, errno, "stdout: write failed");
        goto fail;
    }
    pr_joiner_stats st;
    pr_joiner_stats_get(j, &st);
    double el = pr_now() - t0;
    fprintf(stderr,
            "pronto join: lines=%llu malformed=%llu events=%llu impressions=%llu clicks=%llu "
            "conversions=%llu duplicates=%llu too_late=%llu unattributed_clicks=%llu "
            "unattributed_conversions=%llu unknown_type=%llu missing_ids=%llu labeled=%llu "
            "positives=%llu converted=%llu elapsed_s=%.2f events_per_s=%.0f\n",
            (unsigned long long)rs.lines, (unsigned long long)rs.malformed,
            (unsigned long long)st.events, (unsigned long long)st.impressions,
            (unsigned long long)st.clicks, (unsigned long long)st.conversions,
            (unsigned long long)st.duplicates, (unsigned long long)st.too_late,
            (unsigned long long)st.unattributed_clicks, (unsigned long long)st.unattributed_conversions,
            (unsigned long long)st.unknown_type, (unsigned long long)st.missing_ids,
            (unsigned long long)st.labeled, (unsigned long long)st.positives,
            (unsigned long long)st.converted, el, el > 0 ? (double)st.events / el : 0.0);
    pr_joiner_free(j);
    free(sink.buf);
    return PR_EXIT_OK;
fail:
    fprintf(stderr, "pronto join: %s\n", err.msg);
    pr_atomic_abort(sink.af);
    pr_joiner_free(j);
    free(sink.buf);
    return PR_EXIT_FAIL;
}
