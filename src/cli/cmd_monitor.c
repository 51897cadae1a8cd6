/*
 * cmd_monitor.c: `pronto monitor <subcommand>`: monitoring from the
 * command line. Thin: a table of subcommands, each in its own file.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct monitor_sub {
    const char *name;
    int (*run)(const char *sub, int argc, char **argv);
    const char *help;
} monitor_sub;

static const monitor_sub subs[] = {
    {"check-rules", cmd_monitor_check_rules, "validate alert rules and print them"},
    {"quality", cmd_monitor_quality,
     "log loss, NE, calibration, AUC per window, model version and arm, from a log"},
    {"report", cmd_monitor_report,
     "reference vs current data: one HTML page (drift per field, distributions, quality)"},
};

const char *cmd_monitor_sub(size_t i) {
    return i < sizeof subs / sizeof subs[0] ? subs[i].name : NULL;
}

int cmd_monitor(int argc, char **argv) {
    size_t n = sizeof subs / sizeof subs[0];
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *out = argc < 2 ? stderr : stdout;
        fprintf(out, "usage: pronto monitor <subcommand> [args] [flags]\n\n");
        for (size_t i = 0; i < n; i++) fprintf(out, "  %-12s %s\n", subs[i].name, subs[i].help);
        fprintf(out, "\n`pronto monitor <subcommand> --help` lists its flags.\n");
        return argc < 2 ? PR_EXIT_USAGE : PR_EXIT_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(argv[1], subs[i].name)) return subs[i].run(subs[i].name, argc - 1, argv + 1);
    fprintf(stderr, "pronto monitor: unknown subcommand '%s'\n", argv[1]);
    return PR_EXIT_USAGE;
}
