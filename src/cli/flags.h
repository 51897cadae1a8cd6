/*
 * flags.h: the small flag parser every subcommand uses. A command declares a
 * table of pr_flag (name, kind, destination, help) and gets back its
 * positional arguments; errors name the flag ("--passes: expected a whole
 * number, got 'x'") and `--help` prints the table.
 */
#ifndef PRONTO_CLI_FLAGS_H
#define PRONTO_CLI_FLAGS_H

#include <stdint.h>

typedef enum {
    PR_FLAG_BOOL,     /* int*, set to 1 */
    PR_FLAG_INT,      /* long long*  */
    PR_FLAG_UINT,     /* unsigned long long*, >= 0 */
    PR_FLAG_DOUBLE,   /* double* (finite) */
    PR_FLAG_STRING,   /* const char** (borrowed from argv) */
} pr_flag_kind;

typedef struct pr_flag {
    const char *name;    /* "--passes" */
    const char *alias;   /* "-o" or NULL */
    pr_flag_kind kind;
    void *dest;
    const char *help;    /* one line; "N" style metavar comes first */
    int seen;            /* set when given */
} pr_flag;

/* Parses argv[1..] (argv[0] is the subcommand). Positional arguments are
 * collected into pos (argv pointers, at most pos_cap). Returns 0 on success,
 * 1 when --help was printed, 2 on a usage error (already printed). */
int pr_flags_parse(const char *cmd, const char *usage, pr_flag *flags,
                   int n_flags, int argc, char **argv, char **pos,
                   int pos_cap, int *n_pos);
void pr_flags_help(const char *cmd, const char *usage, const pr_flag *flags,
                   int n_flags);
/* For the completion generator (completion.c): while on, pr_flags_help
 * prints "#pronto-flags" and then each flag's name and alias, one a line,
 * instead of the help, so the table that parses the flags is the one the
 * completion offers. */
void pr_flags_set_listing(int on);

#endif
