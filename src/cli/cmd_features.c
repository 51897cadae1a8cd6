/*
 * cmd_features.c: `pronto features get ENTITY KEY... --spec S --store URI`.
 *
 * Prints one entity row of an online store as JSON, its attributes and its
 * aggregates' values as of --at (default now): the debugging view of what a
 * server would read. A compound key (e.g. user_ad) takes one KEY per part.
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
    "get ENTITY KEY... --spec SPEC --store URI [--at TIME]\n"
    "\n"
    "Prints the row of ENTITY for KEY (one KEY per key column) as JSON:\n"
    "attributes, and every aggregate's value as of --at (default: now).";

int cmd_features(int argc, char **argv) {
    const char *cmd = "features";
    const char *spec_path = NULL, *store_uri = NULL, *at_s = NULL;
    pr_flag flags[] = {
        {"--spec", NULL, PR_FLAG_STRING, &spec_path, "FILE  feature spec", 0},
        {"--store", NULL, PR_FLAG_STRING, &store_uri, "URI  the online store", 0},
        {"--at", NULL, PR_FLAG_STRING, &at_s, "TIME  ISO-8601 or Unix seconds (default now)", 0},
    };
    char *pos[8];
    int n_pos = 0;
    int rc = pr_flags_parse(cmd, usage_text, flags, (int)(sizeof flags / sizeof flags[0]),
                            argc, argv, pos, 8, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos < 3 || strcmp(pos[0], "get"))
        return cli_usage_error(cmd, "expected: get ENTITY KEY...");
    if (!spec_path) return cli_usage_error(cmd, "--spec is required");
    if (!store_uri) return cli_usage_error(cmd, "--store is required");
    int64_t at_ms = pr_unix_time() * 1000;
    if (at_s) {
        int64_t s;
        if (pr__parse_ts(at_s, strlen(at_s), &s) != 0)
            return cli_usage_error(cmd, "--at: expected an ISO-8601 time or Unix seconds");
        at_ms = s * 1000;
    }
    pr_err err;
    pr_err_clear(&err);
    pr_spec *spec = NULL;
    pr_store *store = NULL;
    pr_fs *fs = NULL;
    char *json = NULL;
    int exit_code = PR_EXIT_FAIL;
    pr_status s = pr_spec_load(spec_path, &spec, &err);
    if (s == PR_OK) s = pr_store_open(store_uri, &store, &err);
    if (s == PR_OK) s = pr_fs_open(spec, store, &fs, &err);
    if (s == PR_OK) {
        uint32_t e = pr_fs_entity_index(fs, pos[1]);
        if (e == UINT32_MAX) {
            char known[512];
            size_t o = 0;
            known[0] = '\0';
            for (uint32_t i = 0; i < pr_fs_n_entities(fs) && o < sizeof known; i++)
                o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", i ? ", " : "",
                                      pr_fs_entity_name(fs, i));
            fprintf(stderr, "pronto features: unknown entity '%s' (entities: %s)\n", pos[1],
                    known);
            exit_code = PR_EXIT_USAGE;
            goto out;
        }
        uint32_t nk = pr_fs_entity_n_keys(fs, e);
        if ((uint32_t)(n_pos - 2) != nk) {
            fprintf(stderr, "pronto features: entity '%s' has %u key column(s); got %d KEY(s)\n",
                    pos[1], nk, n_pos - 2);
            exit_code = PR_EXIT_USAGE;
            goto out;
        }
        pr_bytes key[8];
        for (uint32_t k = 0; k < nk; k++) key[k] = pr_bytes_of(pos[2 + k], strlen(pos[2 + k]));
        s = pr_fs_describe_row(fs, e, key, at_ms, &json, &err);
    }
    if (s == PR_OK) {
        printf("%s\n", json);
        exit_code = PR_EXIT_OK;
    } else {
        fprintf(stderr, "pronto features: %s\n", err.msg);
    }
out:
    free(json);
    pr_fs_free(fs);
    pr_store_close(store);
    pr_spec_free(spec);
    return exit_code;
}
