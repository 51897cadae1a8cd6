/*
 * cmd_materialize.c: `pronto materialize --spec S --data DIR --store URI`.
 *
 * Loads the spec's entity tables into an online store and replays its event
 * stream into the aggregate state there (the same replay as build-dataset,
 * with no outputs), so a server reading the store starts with features as
 * of the end of the stream (or --until). The events are the spec's files
 * or, with --events URI, a log's event records (the store then keeps a
 * position in the log). Thin: flags -> pr_fs_build.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "data/reader_int.h"
#include "pronto/fstore.h"

static const char usage_text[] =
    "--spec SPEC --data DIR --store URI [--events URI] [--until TIME] [--tables-only]\n"
    "       [--commit-every N]\n"
    "\n"
    "Loads the spec's entity tables and replays its events into a store\n"
    "(mem:, lmdb:DIR, redis:HOST:PORT, redis:unix:PATH; docs/store.md):\n"
    "entity rows with their attributes and aggregate state, the rows an\n"
    "online server reads. Running it again applies only the events after the\n"
    "position already applied (kept in the store), so the same or a longer\n"
    "stream gives the same state; duplicates within a run are dropped by id.\n"
    "Rows reach the store together with that position in one atomic write\n"
    "every --commit-every events: killed at any instant and rerun, it counts\n"
    "every event once. The last write also marks the store as materialized\n"
    "(a sentinel pronto serve checks). With --events URI the events are the\n"
    "event records of a log, and the position kept in the store is one in\n"
    "the log (its records need not be in time order): a rerun reads on from\n"
    "there, exactly once per store.";

int cmd_materialize(int argc, char **argv) {
    const char *cmd = "materialize";
    const char *spec_path = NULL, *data = NULL, *store_uri = NULL, *until_s = NULL;
    const char *events_uri = NULL;
    int tables_only = 0;
    unsigned long long max_bad = 0, commit_every = 20000;
    pr_flag flags[] = {
        {"--spec", NULL, PR_FLAG_STRING, &spec_path, "FILE  feature spec", 0},
        {"--data", "-d", PR_FLAG_STRING, &data, "DIR  where the spec's source paths are", 0},
        {"--store", NULL, PR_FLAG_STRING, &store_uri, "URI  the online store to fill", 0},
        {"--events", NULL, PR_FLAG_STRING, &events_uri,
         "URI  the event records of this log (log:DIR, redis-stream:...) instead of the "
         "spec's event files", 0},
        {"--until", NULL, PR_FLAG_STRING, &until_s,
         "TIME  apply events and table rows up to this time (ISO-8601 or Unix s)", 0},
        {"--tables-only", NULL, PR_FLAG_BOOL, &tables_only, "load the entity tables only", 0},
        {"--max-bad", NULL, PR_FLAG_UINT, &max_bad, "N  malformed event lines tolerated", 0},
        {"--commit-every", NULL, PR_FLAG_UINT, &commit_every,
         "N  events per atomic commit (default 20000)", 0},
    };
    char *pos[2];
    int n_pos = 0;
    int rc = pr_flags_parse(cmd, usage_text, flags, (int)(sizeof flags / sizeof flags[0]),
                            argc, argv, pos, 2, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos) return cli_usage_error(cmd, "unexpected argument");
    if (!spec_path) return cli_usage_error(cmd, "--spec is required");
    if (!store_uri) return cli_usage_error(cmd, "--store is required");
    /* A log's records are not in time order: the events after --until are
     * no prefix of it, and the position kept could not leave them out. */
    if (until_s && events_uri)
        return cli_usage_error(cmd, "--until does not go with --events (a log is applied whole)");
    if (commit_every < 1 || commit_every > 10000000)
        return cli_usage_error(cmd, "--commit-every must be 1..10000000");
    pr_fs_build_opts o = {.data_dir = data, .max_bad = max_bad, .tables_only = tables_only,
                          .commit_events = (uint32_t)commit_every, .events_uri = events_uri};
    if (until_s) {
        int64_t s;
        if (pr__parse_ts(until_s, strlen(until_s), &s) != 0)
            return cli_usage_error(cmd, "--until: expected an ISO-8601 time or Unix seconds");
        o.until_ms = s * 1000;
    }
    pr_err err;
    pr_err_clear(&err);
    pr_fs_build_stats st;
    pr_status s = cli_fs_build(spec_path, store_uri, &o, &st, &err);
    if (s != PR_OK) {
        fprintf(stderr, "pronto materialize: %s\n", err.msg);
        return PR_EXIT_FAIL;
    }
    printf("materialized into %s: %llu table rows, %llu events (%llu already in the store, "
           "%llu after --until, %llu duplicates: skipped) in %.2f s\n",
           store_uri, (unsigned long long)st.table_rows, (unsigned long long)st.events,
           (unsigned long long)st.already_applied, (unsigned long long)st.after_until,
           (unsigned long long)st.joiner.duplicates, st.seconds);
    return PR_EXIT_OK;
}
