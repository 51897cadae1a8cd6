/*
 * tool_log_append.c: a test tool, `tool_log_append URI FILE...`: appends
 * every non-blank line of the JSON-lines FILEs ("-": stdin), in file order,
 * to the event log URI as PR_LOG_TYPE_EVENT records whose ts_ms is the
 * line's "ts" (0 without one), as `pronto serve --log` writes accepted
 * events (docs/log.md "Records pronto writes"). With --other N it also
 * appends a record of type 99 every N lines (readers must skip it), with
 * --batch N it appends N records per call (default 1000), with --type T
 * the lines are records of type T instead of events. Used by
 * tests/cli_events_log.sh and scripts/crashtest to make the log a reader is
 * compared on. Exit 0, or 1 with the error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/log.h"
#include "pronto/stream.h"

int main(int argc, char **argv) {
    long other = 0, batch = 1000;
    unsigned type = PR_LOG_TYPE_EVENT;
    int a = 1;
    while (a < argc && !strncmp(argv[a], "--", 2)) {
        if (!strcmp(argv[a], "--other") && a + 1 < argc) other = strtol(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--batch") && a + 1 < argc) batch = strtol(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--type") && a + 1 < argc) type = (unsigned)strtoul(argv[++a], NULL, 10);
        else break;
        a++;
    }
    if (argc - a < 2 || batch < 1 || batch > 100000) {
        fprintf(stderr, "usage: tool_log_append [--other N] [--batch N] [--type T] URI FILE...\n");
        return 1;
    }
    pr_err err;
    pr_err_clear(&err);
    pr_event_log *log = NULL;
    if (pr_log_open(argv[a], PR_LOG_WRITE, &log, &err) != PR_OK) {
        fprintf(stderr, "tool_log_append: %s\n", err.msg);
        return 1;
    }
    pr_log_entry *recs = calloc((size_t)batch, sizeof *recs);
    char **keep = calloc((size_t)batch, sizeof *keep);
    size_t n = 0;
    long lines = 0;
    int rc = 0;
    static const char other_payload[] = "{\"not\":\"an event\"}";
    for (int f = a + 1; f < argc && !rc; f++) {
        FILE *in = strcmp(argv[f], "-") ? fopen(argv[f], "rb") : stdin;
        if (!in) {
            fprintf(stderr, "tool_log_append: %s: cannot open\n", argv[f]);
            rc = 1;
            break;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t got;
        while (!rc && (got = getline(&line, &cap, in)) >= 0) {
            size_t len = (size_t)got;
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
            if (!len) continue;
            pr_event ev;
            pr_err perr;
            int64_t ts = 0;
            if (pr_event_parse_json(line, len, &ev, &perr) == PR_OK && ev.has_ts) ts = ev.ts_ms;
            for (int k = 0; k < 2; k++) {
                if (k == 1 && !(other > 0 && ++lines % other == 0)) break;
                char *copy = k ? strdup(other_payload) : malloc(len);
                if (!k) memcpy(copy, line, len);
                keep[n] = copy;
                recs[n].type = k ? 99u : type;
                recs[n].ts_ms = ts;
                recs[n].payload = pr_bytes_of(copy, k ? strlen(copy) : len);
                if (++n == (size_t)batch) {
                    if (pr_log_append(log, recs, (uint32_t)n, NULL, &err) != PR_OK) rc = 1;
                    for (size_t i = 0; i < n; i++) free(keep[i]);
                    n = 0;
                }
            }
        }
        free(line);
        if (in != stdin) fclose(in);
    }
    if (!rc && n && pr_log_append(log, recs, (uint32_t)n, NULL, &err) != PR_OK) rc = 1;
    for (size_t i = 0; i < n; i++) free(keep[i]);
    if (rc && err.msg[0]) fprintf(stderr, "tool_log_append: %s\n", err.msg);
    free(recs);
    free(keep);
    pr_log_close(log);
    return rc;
}
