/*
 * main.c: `pronto <command> ...`. Thin: finds the subcommand and calls it.
 * Every subcommand parses its own flags (flags.h) and calls the library.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "pronto/base.h"

static const cli_command commands[] = {
    {"demo", cmd_demo, "simulate ad traffic, train, evaluate: the whole loop on defaults", NULL},
    {"simulate", cmd_simulate, "generate ad traffic with true click probabilities", NULL},
    {"train", cmd_train, "train a model (FTRL logistic regression, FFM, FM)", NULL},
    {"predict", cmd_predict, "print one probability per input row", NULL},
    {"eval", cmd_eval, "log loss, NE, AUC, calibration of a model on data", NULL},
    {"join", cmd_join, "label impressions: join clicks and conversions in the attribution window", NULL},
    {"build-dataset", cmd_build_dataset, "point-in-time training data from events and entity tables (feature store)", NULL},
    {"materialize", cmd_materialize, "load entity tables and aggregate state into an online store", NULL},
    {"skew", cmd_skew, "training/serving skew: logged feature rows vs the point-in-time rebuild", NULL},
    {"features", cmd_features, "features get ENTITY KEY: print an online store row (debugging)", NULL},
    {"serve", cmd_serve, "HTTP prediction server: features from the online store, ranked by the model", NULL},
    {"log", cmd_log, "the event log: stat, tail -f, verify, cat, compact, append", cmd_log_sub},
    {"inspect", cmd_inspect, "print a model's metadata and heaviest weights", NULL},
    {"registry", cmd_registry, "model registry: versions, aliases (production...), history, rollback, gc", cmd_registry_sub},
    {"plot", cmd_plot, "a line chart (SVG) of CSV columns, with marked times", NULL},
    {"retrain", cmd_retrain, "continuous training: a retraining cycle through the gate, or --every D; rollback on probation", NULL},
    {"monitor", cmd_monitor, "monitoring: quality (live model quality from a log), check-rules (alert rules), report (drift report as HTML)", cmd_monitor_sub},
    {"learn", cmd_learn, "online learning from an event log: progressive validation, publish to a registry", NULL},
};

const cli_command *cli_commands(size_t *n) {
    *n = sizeof commands / sizeof commands[0];
    return commands;
}

static void usage(FILE *out) {
    fprintf(out, "usage: pronto <command> [flags] [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(out,
            "\n`pronto <command> --help` describes each command. `pronto --version [--json]`:\n"
            "version, git commit, build type, compiler, CPU features. `pronto completion bash`:\n"
            "the bash completion script (source it, or see the package's).\n"
            "exit codes: 0 success, 1 the work failed (bad data, I/O), 2 bad usage\n");
}

int main(int argc, char **argv) {
    /* A file-size limit (ulimit -f) then fails write() with EFBIG, reported
     * and cleaned up like a full disk, instead of killing the process with
     * a half-written temporary left behind. */
    signal(SIGXFSZ, SIG_IGN);
    pr_atomic_cleanup_on_signals(); /* Ctrl-C leaves no temporaries */
    if (argc < 2) {
        usage(stderr);
        return PR_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return PR_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) return cli_version(argc - 1, argv + 1);
    if (!strcmp(argv[1], "completion")) return cli_completion(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "pronto: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return PR_EXIT_USAGE;
}
