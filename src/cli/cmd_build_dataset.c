/*
 * cmd_build_dataset.c: `pronto build-dataset --spec S --data DIR -o OUT`.
 *
 * Thin: flags -> pr_fs_build_opts -> pr_fs_build (src/fstore/fs_build.c),
 * then one summary on stderr. Outputs: -o takes the impressions from
 * --from (default: all) on; each --split TIME=FILE starts a new output at
 * TIME; --to ends the last one. A FILE ending in ".csv" gets the assembled
 * columns as CSV, any other name an example cache for
 * `pronto train --dataset`. Times are ISO-8601 ("2024-01-06" is midnight
 * UTC) or integer Unix seconds. --events URI reads a log's event records
 * instead of the spec's files; --logged-features makes each example the
 * feature row the server logged (pr_fs_logged) instead of an assembly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "data/reader_int.h"
#include "pronto/fstore.h"

static const char usage_text[] =
    "--spec SPEC --data DIR [--events URI] -o OUT [--split TIME=FILE,...]\n"
    "\n"
    "Replays the spec's event stream with its entity tables in time order\n"
    "and writes, for every labeled impression, its features as they stood at\n"
    "the impression's time (never later) through the featurizer: an example\n"
    "cache for `pronto train --dataset`, or CSV of the assembled columns for\n"
    "an output named *.csv. The events are the spec's event files, or with\n"
    "--events the event records of a log, always from its start (the\n"
    "aggregates need the whole history; --from/--to only bound the output).\n"
    "See docs/fstore.md.";

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int parse_time_ms(const char *flag, const char *text, int64_t *out) {
    return cli_parse_time_ms("build-dataset", flag, text, out);
}

static void set_output(pr_fs_build_output *o, const char *path, int64_t from) {
    memset(o, 0, sizeof *o);
    if (ends_with(path, ".csv")) o->csv_path = path;
    else o->cache_path = path;
    o->from_ms = from;
}

int cmd_build_dataset(int argc, char **argv) {
    const char *cmd = "build-dataset";
    const char *spec_path = NULL, *data = NULL, *out = NULL, *split = NULL;
    const char *from_s = NULL, *to_s = NULL, *window_s = NULL,
               *lateness_s = NULL, *store_uri = NULL, *events_uri = NULL;
    const char *cand_key = "ad_id";
    int logged_features = 0;
    unsigned long long max_bad = 0;
    pr_flag flags[] = {
        {"--spec", NULL, PR_FLAG_STRING, &spec_path,
         "FILE  feature spec with request/entities/sources/aggregates", 0},
        {"--data", "-d", PR_FLAG_STRING, &data,
         "DIR  where the spec's source paths are (default .)", 0},
        {"--out", "-o", PR_FLAG_STRING, &out,
         "FILE  output: example cache, or CSV if it ends in .csv", 0},
        {"--split", NULL, PR_FLAG_STRING, &split,
         "TIME=FILE,...  further outputs, each from TIME on", 0},
        {"--from", NULL, PR_FLAG_STRING, &from_s,
         "TIME  first impression time written (earlier ones only build state)", 0},
        {"--to", NULL, PR_FLAG_STRING, &to_s, "TIME  end (exclusive) of the last output", 0},
        {"--window", NULL, PR_FLAG_STRING, &window_s,
         "D  attribution window (default 2h)", 0},
        {"--lateness", NULL, PR_FLAG_STRING, &lateness_s,
         "D  allowed out-of-orderness (default 10m)", 0},
        {"--max-bad", NULL, PR_FLAG_UINT, &max_bad,
         "N  malformed event lines tolerated (default 0)", 0},
        {"--events", NULL, PR_FLAG_STRING, &events_uri,
         "URI  replay the event records of this log (log:DIR, redis-stream:...) from its "
         "start instead of the spec's event files", 0},
        {"--logged-features", NULL, PR_FLAG_BOOL, &logged_features,
         "with --events: each example is the feature row the server logged for the "
         "impression (serve --log-features), joined to its label; impressions without "
         "one are left out", 0},
        {"--candidate-key", NULL, PR_FLAG_STRING, &cand_key,
         "COL  --logged-features: the candidate key column (as serve's; default ad_id)", 0},
        {"--store", NULL, PR_FLAG_STRING, &store_uri,
         "URI  keep the state in this store (mem:, lmdb:DIR, redis:...) "
         "instead of in process", 0},
    };
    char *pos[4];
    int n_pos = 0;
    int rc = pr_flags_parse(cmd, usage_text, flags,
                            (int)(sizeof flags / sizeof flags[0]), argc, argv,
                            pos, 4, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos) return cli_usage_error(cmd, "unexpected argument (outputs go in -o / --split)");
    if (!spec_path) return cli_usage_error(cmd, "--spec is required");
    if (!out) return cli_usage_error(cmd, "-o is required");
    if (logged_features && !events_uri)
        return cli_usage_error(cmd, "--logged-features needs --events URI");
    if (logged_features && store_uri)
        return cli_usage_error(cmd, "--logged-features builds no state: no --store");

    pr_fs_build_output outs[PR_FS_BUILD_MAX_OUTPUTS];
    char split_buf[4096];
    uint32_t n_out = 1;
    int64_t from = INT64_MIN, to = 0;
    if (from_s && !parse_time_ms("--from", from_s, &from)) return PR_EXIT_USAGE;
    if (to_s && !parse_time_ms("--to", to_s, &to)) return PR_EXIT_USAGE;
    set_output(&outs[0], out, from);
    if (split) {
        if (strlen(split) >= sizeof split_buf)
            return cli_usage_error(cmd, "--split: too long");
        memcpy(split_buf, split, strlen(split) + 1);
        for (char *item = split_buf, *next; item; item = next) {
            next = strchr(item, ',');
            if (next) *next++ = '\0';
            char *eq = strchr(item, '=');
            if (!eq || eq == item || !eq[1])
                return cli_usage_error(cmd, "--split: expected TIME=FILE[,TIME=FILE...]");
            *eq = '\0';
            int64_t t;
            if (!parse_time_ms("--split", item, &t)) return PR_EXIT_USAGE;
            if (n_out == PR_FS_BUILD_MAX_OUTPUTS)
                return cli_usage_error(cmd, "--split: too many outputs");
            if (t <= outs[n_out - 1].from_ms)
                return cli_usage_error(cmd, "--split: times must increase");
            outs[n_out - 1].to_ms = t;
            set_output(&outs[n_out++], eq + 1, t);
        }
    }
    outs[n_out - 1].to_ms = to;
    pr_fs_build_opts o = {.data_dir = data, .outputs = outs, .n_outputs = n_out,
                          .max_bad = max_bad, .events_uri = events_uri};
    if (window_s && !cli_parse_duration_ms(cmd, "--window", window_s, &o.window_ms))
        return PR_EXIT_USAGE;
    if (lateness_s && !cli_parse_duration_ms(cmd, "--lateness", lateness_s, &o.lateness_ms))
        return PR_EXIT_USAGE;

    pr_err err;
    pr_err_clear(&err);
    pr_fs_build_stats st;
    pr_fs_logged *logged = NULL;
    pr_status s = PR_OK;
    if (logged_features) {
        s = cli_load_logged(spec_path, events_uri, cand_key, max_bad, &logged, &err);
        o.logged = logged;
    }
    if (s == PR_OK) s = cli_fs_build(spec_path, store_uri, &o, &st, &err);
    pr_fs_logged_stats lst;
    memset(&lst, 0, sizeof lst);
    if (logged) pr_fs_logged_stats_get(logged, &lst);
    pr_fs_logged_free(logged);
    if (s != PR_OK) {
        fprintf(stderr, "pronto build-dataset: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    for (uint32_t k = 0; k < n_out; k++) {
        const char *path = outs[k].cache_path ? outs[k].cache_path : outs[k].csv_path;
        double n = (double)st.labeled[k];
        printf("%-28s %10llu examples  CTR %.4f\n", path, (unsigned long long)st.labeled[k],
               n > 0 ? (double)st.positives[k] / n : 0.0);
    }
    fprintf(stderr,
            "pronto build-dataset: events=%llu malformed=%llu other_records=%llu table_rows=%llu "
            "impressions=%llu duplicates=%llu too_late=%llu unknown_type=%llu "
            "missing_ids=%llu missing_keys=%llu long_keys=%llu late_updates=%llu state_rows=%llu "
            "state_bytes=%llu elapsed_s=%.2f impressions_per_s=%.0f\n",
            (unsigned long long)st.events, (unsigned long long)st.bad_lines,
            (unsigned long long)st.other_records, (unsigned long long)st.table_rows,
            (unsigned long long)st.joiner.impressions,
            (unsigned long long)st.joiner.duplicates,
            (unsigned long long)st.joiner.too_late,
            (unsigned long long)st.joiner.unknown_type,
            (unsigned long long)st.joiner.missing_ids,
            (unsigned long long)st.fs.missing_keys, (unsigned long long)st.fs.long_keys,
            (unsigned long long)st.fs.late_updates,
            (unsigned long long)st.fs.rows, (unsigned long long)st.fs.row_bytes,
            st.seconds,
            st.seconds > 0 ? (double)st.joiner.impressions / st.seconds : 0.0);
    if (logged_features)
        fprintf(stderr,
                "pronto build-dataset: logged features: records=%llu rows=%llu "
                "duplicates=%llu bad=%llu matched=%llu unlogged_impressions=%llu\n",
                (unsigned long long)lst.records, (unsigned long long)lst.rows,
                (unsigned long long)lst.duplicates, (unsigned long long)lst.bad,
                (unsigned long long)lst.matched, (unsigned long long)st.unlogged);
    return PR_EXIT_OK;
}
