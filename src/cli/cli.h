/*
 * cli.h: the `pronto` command's subcommands. Each lives in its own
 * src/cli/cmd_<name>.c and is listed in the table in main.c. A subcommand
 * returns the process exit code (see PR_EXIT_*).
 */
#ifndef PRONTO_CLI_H
#define PRONTO_CLI_H

#include <stddef.h>

/* Exit codes, documented in `pronto --help`. */
enum {
    PR_EXIT_OK = 0,
    PR_EXIT_FAIL = 1,    /* the work failed: bad input data, I/O error */
    PR_EXIT_USAGE = 2,   /* bad flags or arguments */
};

/* The command table (main.c): the commands `pronto help` lists, in its
 * order. Man pages (packaging/man.sh) and the bash completion
 * (completion.c) are generated from it and from each command's --help. */
typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
    /* The i-th subcommand's name, NULL past the last; NULL for a command
     * without subcommands. */
    const char *(*sub)(size_t i);
} cli_command;
const cli_command *cli_commands(size_t *n);

/* `pronto --version [--json]` (version.c). */
int cli_version(int argc, char **argv);
/* `pronto completion bash|list` (completion.c). */
int cli_completion(int argc, char **argv);

int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_build_dataset(int argc, char **argv);
int cmd_materialize(int argc, char **argv);
int cmd_skew(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_registry(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_retrain(int argc, char **argv);
int cmd_learn(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
/* The subcommands of log, registry and monitor, for cli_command.sub. */
const char *cmd_log_sub(size_t i);
const char *cmd_registry_sub(size_t i);
const char *cmd_monitor_sub(size_t i);
/* `pronto monitor check-rules` (cmd_monitor_rules.c). */
int cmd_monitor_check_rules(const char *sub, int argc, char **argv);
/* `pronto monitor quality` (cmd_monitor_quality.c). */
int cmd_monitor_quality(const char *sub, int argc, char **argv);
/* `pronto monitor report` (cmd_monitor_report.c). */
int cmd_monitor_report(const char *sub, int argc, char **argv);

#endif
