/*
 * cmd_skew.c: `pronto skew --spec S --events URI [--data DIR]
 * [--max-share X]`: training/serving skew. Compares the feature rows a
 * server logged (features records, `serve --log-features`) with the
 * point-in-time rebuild of the same impressions: the log's events are
 * replayed from its start as build-dataset replays them (pr_fs_build with
 * the spec's tables, no outputs), and at each impression, assembled as of
 * its ts before it is applied, the logged row of that impression (matching
 * rule of docs/log.md) is compared column by column, as text (what the
 * featurizer receives). Prints the logged rows matched and unmatched, and
 * per column the rows that differ, their share and a first example; exits
 * 3 when some column's share exceeds --max-share (default 0: any
 * difference), 0 otherwise, 1 on an error, 2 on bad flags.
 *
 * Ownership: the logged rows (pr_fs_logged), one counter and example per
 * column; all freed before return.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/fstore.h"

#define EXAMPLE_MAX 120

static const char usage_text[] =
    "--spec SPEC --events URI [--data DIR] [--max-share X] [--from T] [--to T]\n"
    "\n"
    "Training/serving skew: replays the log's events as build-dataset does and\n"
    "compares, for every impression whose feature row the server logged\n"
    "(serve --log-features), the logged row with the point-in-time rebuild at\n"
    "the impression's ts, column by column as text. Prints the rows matched,\n"
    "the logged rows without an impression, and per column the share of rows\n"
    "that differ with a first example. Exit 3 when a column's share exceeds\n"
    "--max-share (default 0). See docs/log.md.";

typedef struct col_diff {
    uint64_t n;
    int has_example;
    unsigned long long imp;
    char logged[EXAMPLE_MAX + 1], rebuilt[EXAMPLE_MAX + 1];
    int logged_absent;
} col_diff;

typedef struct skew_ctx {
    pr_fs_logged *logged;
    int64_t from_ms, to_ms;
    uint32_t n_cols;
    col_diff *diffs;
    uint64_t compared, unlogged, rows_differ;
} skew_ctx;

static void clip(char *dst, pr_bytes v) {
    size_t n = v.len > EXAMPLE_MAX ? EXAMPLE_MAX : v.len;
    if (n) memcpy(dst, v.ptr, n);
    dst[n] = 0;
}

static pr_status on_event(void *vc, pr_bytes line, const pr_fs_event *ev, pr_fs *fs,
                          const pr_fs_row *row, pr_arena *arena, pr_err *err) {
    (void)err;
    skew_ctx *c = vc;
    if (!row || ev->ts_ms < c->from_ms || (c->to_ms && ev->ts_ms >= c->to_ms)) return PR_OK;
    const uint8_t *present = NULL;
    const pr_bytes *vals = pr_fs_logged_find(c->logged, line.ptr, line.len, arena, &present);
    if (!vals) {
        c->unlogged++;
        return PR_OK;
    }
    c->compared++;
    int any = 0;
    for (uint32_t k = 0; k < c->n_cols; k++) {
        pr_bytes t = pr_fs_row_text(fs, row, k, arena);
        if (present[k] && t.len == vals[k].len && (!t.len || !memcmp(t.ptr, vals[k].ptr, t.len)))
            continue;
        any = 1;
        col_diff *d = &c->diffs[k];
        if (!d->n++) {
            d->has_example = 1;
            d->imp = (unsigned long long)ev->impression_id;
            d->logged_absent = !present[k];
            clip(d->logged, vals[k]);
            clip(d->rebuilt, t);
        }
    }
    c->rows_differ += (uint64_t)any;
    return PR_OK;
}

static void quoted(const char *s, int absent, char *buf, size_t cap) {
    if (absent) snprintf(buf, cap, "(not in the row)");
    else if (!*s) snprintf(buf, cap, "null");
    else snprintf(buf, cap, "\"%s\"", s);
}

int cmd_skew(int argc, char **argv) {
    const char *cmd = "skew";
    const char *spec_path = NULL, *data = NULL, *events_uri = NULL, *cand_key = "ad_id";
    const char *from_s = NULL, *to_s = NULL, *window_s = NULL, *lateness_s = NULL;
    double max_share = 0.0;
    unsigned long long max_bad = 0;
    pr_flag flags[] = {
        {"--spec", NULL, PR_FLAG_STRING, &spec_path,
         "FILE  the feature spec to rebuild with (the one serving used, or a candidate)", 0},
        {"--events", NULL, PR_FLAG_STRING, &events_uri,
         "URI  the log the server wrote (log:DIR, redis-stream:...)", 0},
        {"--data", "-d", PR_FLAG_STRING, &data, "DIR  where the spec's entity tables are", 0},
        {"--candidate-key", NULL, PR_FLAG_STRING, &cand_key,
         "COL  the candidate key column (as serve's; default ad_id)", 0},
        {"--max-share", NULL, PR_FLAG_DOUBLE, &max_share,
         "X  exit 3 when a column differs in more than this share of rows (default 0)", 0},
        {"--from", NULL, PR_FLAG_STRING, &from_s, "TIME  compare impressions from TIME on", 0},
        {"--to", NULL, PR_FLAG_STRING, &to_s, "TIME  compare impressions before TIME", 0},
        {"--window", NULL, PR_FLAG_STRING, &window_s,
         "D  attribution window of the replay's joiner (default 2h)", 0},
        {"--lateness", NULL, PR_FLAG_STRING, &lateness_s,
         "D  allowed out-of-orderness of the replay (default 10m)", 0},
        {"--max-bad", NULL, PR_FLAG_UINT, &max_bad,
         "N  malformed event or features records tolerated (default 0)", 0},
    };
    char *pos[2];
    int n_pos = 0;
    int rc = pr_flags_parse(cmd, usage_text, flags, (int)(sizeof flags / sizeof flags[0]), argc,
                            argv, pos, 2, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos) return cli_usage_error(cmd, "unexpected argument");
    if (!spec_path) return cli_usage_error(cmd, "--spec is required");
    if (!events_uri) return cli_usage_error(cmd, "--events is required");
    if (!(max_share >= 0 && max_share <= 1)) return cli_usage_error(cmd, "--max-share must be in 0..1");
    skew_ctx c;
    memset(&c, 0, sizeof c);
    c.from_ms = INT64_MIN;
    if (from_s && !cli_parse_time_ms(cmd, "--from", from_s, &c.from_ms)) return PR_EXIT_USAGE;
    if (to_s && !cli_parse_time_ms(cmd, "--to", to_s, &c.to_ms)) return PR_EXIT_USAGE;
    pr_fs_build_opts o = {.data_dir = data, .max_bad = max_bad, .events_uri = events_uri,
                          .on_event = on_event, .on_event_ctx = &c};
    if (window_s && !cli_parse_duration_ms(cmd, "--window", window_s, &o.window_ms))
        return PR_EXIT_USAGE;
    if (lateness_s && !cli_parse_duration_ms(cmd, "--lateness", lateness_s, &o.lateness_ms))
        return PR_EXIT_USAGE;

    pr_err err;
    pr_err_clear(&err);
    pr_spec *spec = NULL;
    pr_fs *fs = NULL;
    const char **names = NULL;
    int exit_code = PR_EXIT_FAIL;
    pr_status s = cli_load_logged(spec_path, events_uri, cand_key, max_bad, &c.logged, &err);
    if (s == PR_OK) s = pr_spec_load(spec_path, &spec, &err);
    if (s == PR_OK) s = pr_fs_open(spec, NULL, &fs, &err); /* the column names */
    if (s == PR_OK) {
        c.n_cols = pr_fs_n_columns(fs);
        c.diffs = calloc(c.n_cols ? c.n_cols : 1, sizeof *c.diffs);
        if (!c.diffs) s = pr_err_set(&err, PR_ERR_NOMEM, "out of memory");
    }
    pr_fs_build_stats st;
    if (s == PR_OK) s = cli_fs_build(spec_path, NULL, &o, &st, &err);
    if (s != PR_OK) {
        fprintf(stderr, "pronto skew: %s\n", err.msg);
        goto done;
    }
    pr_fs_logged_stats ls;
    pr_fs_logged_stats_get(c.logged, &ls);
    printf("skew: %llu logged rows (%llu records, %llu duplicates, %llu malformed), %llu "
           "matched to impressions, %llu without an impression; %llu impressions without a "
           "logged row\n",
           (unsigned long long)ls.rows, (unsigned long long)ls.records,
           (unsigned long long)ls.duplicates, (unsigned long long)ls.bad,
           (unsigned long long)c.compared, (unsigned long long)(ls.rows - ls.matched),
           (unsigned long long)c.unlogged);
    printf("rows with a difference: %llu of %llu (%.4f)\n", (unsigned long long)c.rows_differ,
           (unsigned long long)c.compared,
           c.compared ? (double)c.rows_differ / (double)c.compared : 0.0);
    printf("%-32s %10s %8s  %s\n", "column", "differ", "share", "first example");
    exit_code = PR_EXIT_OK;
    for (uint32_t k = 0; k < c.n_cols; k++) {
        col_diff *d = &c.diffs[k];
        double share = c.compared ? (double)d->n / (double)c.compared : 0.0;
        if (share > max_share) exit_code = 3;
        char a[EXAMPLE_MAX + 24], b[EXAMPLE_MAX + 24];
        if (d->has_example) {
            quoted(d->logged, d->logged_absent, a, sizeof a);
            quoted(d->rebuilt, 0, b, sizeof b);
            printf("%-32s %10llu %8.4f  impression %llu: logged %s, rebuilt %s\n",
                   pr_fs_column_name(fs, k), (unsigned long long)d->n, share, d->imp, a, b);
        } else {
            printf("%-32s %10llu %8.4f\n", pr_fs_column_name(fs, k), 0ULL, 0.0);
        }
    }
    if (exit_code == 3)
        fprintf(stderr, "pronto skew: some column differs in more than %.4f of the rows\n",
                max_share);
done:
    free(names);
    free(c.diffs);
    pr_fs_free(fs);
    pr_spec_free(spec);
    pr_fs_logged_free(c.logged);
    return exit_code;
}
