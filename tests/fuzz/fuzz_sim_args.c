/*
 * fuzz_sim_args.c: libFuzzer target for the simulator's argument parsers,
 * the text a user types after --scenario and --duration.
 *
 * The input is split at newlines into up to eight scenario specs, each
 * also parsed as a duration. Parsers must return a status and never crash;
 * a duration they accept must be finite and >= 0; whatever scenarios parse,
 * pr_sim_config_check must give a verdict, and an error must name what it
 * is about: a scenario error starts with "scenario SPEC", a config error
 * with the config field ("n_ads: ...", the library's terms; `pronto
 * simulate` turns them into its flags). A broken invariant aborts: a
 * finding.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/sim.h"

/* "scenario ..." or "field_name: ..." */
static int names_its_subject(const char *msg) {
    if (!strncmp(msg, "scenario", 8)) return 1;
    size_t k = strspn(msg, "abcdefghijklmnopqrstuvwxyz_");
    return k > 0 && msg[k] == ':';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    pr_sim_config cfg;
    pr_sim_config_default(&cfg);
    cfg.duration_s = 7 * 86400.0;
    pr_err err;
    char *save = NULL;
    int n = 0;
    for (char *line = strtok_r(text, "\n", &save); line && n < 8;
         line = strtok_r(NULL, "\n", &save), n++) {
        double d = -1;
        if (pr_sim_parse_duration(line, &d) == PR_OK && !(isfinite(d) && d >= 0)) {
            fprintf(stderr, "duration '%s' parsed to %g\n", line, d);
            abort();
        }
        pr_status s = pr_sim_scenario_parse(&cfg, line, &err);
        if (s != PR_OK && strncmp(err.msg, "scenario ", 9) != 0) {
            fprintf(stderr, "scenario error not naming its scenario: %s\n", err.msg);
            abort();
        }
    }
    if (pr_sim_config_check(&cfg, &err) != PR_OK && !names_its_subject(err.msg)) {
        fprintf(stderr, "config error not naming its field: %s\n", err.msg);
        abort();
    }
    free(text);
    return 0;
}
