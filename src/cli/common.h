/* common.h: helpers shared by the subcommands (spec and format resolution,
 * loading a model with its featurizer). */
#ifndef PRONTO_CLI_COMMON_H
#define PRONTO_CLI_COMMON_H

#include "cli/flags.h"
#include "pronto/fstore.h"
#include "pronto/train.h"

/* Prints "pronto CMD: MSG" and returns PR_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *msg);
/* Library errors name no flags (they describe the problem, in the terms
 * of the library's options); the CLI adds them: if err's message contains
 * phrase, " (FLAG)" is appended to it. */
void cli_flag_hint(pr_err *err, const char *phrase, const char *flag);
/* The same by rewording: every whole-word occurrence of an option's name
 * in err's message (a field of the library's opts struct, "learn_from")
 * becomes the flag ("--learn-from"). names/flags: n pairs. */
void cli_flag_words(pr_err *err, const char *const *names, const char *const *flags, size_t n);
/* A duration flag ("90s", "10m", "2h", "7d"; a bare number is seconds)
 * in ms. 1 on success; else prints "pronto CMD: FLAG: expected a
 * duration ..." and returns 0. */
int cli_parse_duration_ms(const char *cmd, const char *flag, const char *text, int64_t *out);
/* A byte count: a number with an optional binary suffix (K, M, G, T; KiB,
 * MB...: all 1024-based). 1 on success; else prints "pronto CMD: FLAG:
 * expected a size ..." and returns 0. */
int cli_parse_size(const char *cmd, const char *flag, const char *text, uint64_t *out);
/* A time flag (ISO-8601 "2024-01-06", "2024-01-06T12:00:00Z", or Unix
 * seconds) in Unix ms. 1 on success; else prints "pronto CMD: FLAG: ..."
 * and returns 0. */
int cli_parse_time_ms(const char *cmd, const char *flag, const char *text, int64_t *out);
/* The model hyperparameter flags `train` and `retrain` share: --alpha,
 * --beta, --l1, --l2, --k, --eta, --lambda. */
typedef struct cli_model_flags {
    double alpha, beta, l1, l2, eta, lambda; /* NaN: not given */
    long long k;                             /* -1: not given */
} cli_model_flags;
#define CLI_MODEL_FLAGS_N 7
/* Marks every value "not given" and fills out[0..CLI_MODEL_FLAGS_N) with
 * the flag entries that write into f (f must outlive the parse). */
void cli_model_flags_init(cli_model_flags *f, pr_flag *out);
/* Copies the values given into p. */
void cli_model_flags_apply(const cli_model_flags *f, pr_model_params *p);
/* spec_path, or the shipped Criteo spec when spec_path is NULL and the format
 * is criteo (or unspecified). *spec owned by caller. */
pr_status cli_load_spec(const char *spec_path, const char *format_s, pr_spec **spec,
                        pr_err *err);
/* format_s if given, else the spec's input format, else criteo. */
pr_status cli_resolve_format(const char *format_s, const pr_spec *spec, pr_format *out,
                             pr_err *err);
/* Learns quantile edges from the first rows of the inputs. */
pr_status cli_fit_featurizer(pr_featurizer *fz, const pr_spec *spec, const pr_input *in,
                             pr_err *err);
/* Loads a model and builds the featurizer from its embedded spec. */
pr_status cli_open_model(const char *path, pr_model **model, pr_spec **spec,
                         pr_featurizer **fz, pr_err *err);
/* Loads the spec, opens the store (store_uri NULL: in-process state) and
 * runs the feature store's replay with o (o->store is set here): what
 * build-dataset and materialize share. */
/* The logged feature rows of the log uri, indexed for the spec's
 * assembled columns (pr_fs_logged_load). */
pr_status cli_load_logged(const char *spec_path, const char *uri, const char *cand_key,
                          uint64_t max_bad, pr_fs_logged **out, pr_err *err);
pr_status cli_fs_build(const char *spec_path, const char *store_uri, pr_fs_build_opts *o,
                       pr_fs_build_stats *st, pr_err *err);
#endif
