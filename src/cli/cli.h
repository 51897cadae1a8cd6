/*
 * cli.h: the `pronto` command's subcommands. Each lives in its own
 * src/cli/cmd_<name>.c and is listed in the table in main.c. A subcommand
 * returns the process exit code (see PR_EXIT_*).
 */
#ifndef PRONTO_CLI_H
#define PRONTO_CLI_H

/* Exit codes, documented in `pronto --help`. */
enum {
    PR_EXIT_OK = 0,
    PR_EXIT_FAIL = 1,    /* the work failed: bad input data, I/O error */
    PR_EXIT_USAGE = 2,   /* bad flags or arguments */
};

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
/* `pronto monitor check-rules` (cmd_monitor_rules.c). */
int cmd_monitor_check_rules(const char *sub, int argc, char **argv);
/* `pronto monitor quality` (cmd_monitor_quality.c). */
int cmd_monitor_quality(const char *sub, int argc, char **argv);
/* `pronto monitor report` (cmd_monitor_report.c). */
int cmd_monitor_report(const char *sub, int argc, char **argv);

#endif
