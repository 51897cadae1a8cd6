/*
 * pronto/predictor.h: a trained model as one object that scores rows of
 * text, the small and stable entry point for programs that embed pronto
 * (and for the Python package, over the shared library).
 *
 *     pr_err err;
 *     pr_predictor *p;
 *     if (pr_predictor_open("ctr.pm", &p, &err) != PR_OK) die(err.msg);
 *     // columns: pr_predictor_n_columns(p), pr_predictor_column(p, i)
 *     pr_bytes row[] = {{"u42", 3}, {"ad7", 3}, {"mobile", 6}};
 *     double prob;
 *     if (pr_predictor_score(p, row, 1, &prob, &err) != PR_OK) die(err.msg);
 *     pr_predictor_close(p);
 *
 * What it does: the model file embeds its feature spec (with learned
 * quantile edges) and its rare-feature filter; open rebuilds the exact
 * featurizer the model was trained with, binds it to the spec's own input
 * columns, and score applies featurizer, filter and model in that order on
 * every row: the sequence `pronto predict` runs (pr_featurize_inputs), so
 * the probabilities are the same numbers, with no step to forget.
 *
 * Columns: the spec's input columns (pr_spec_input_column), in field order
 * without duplicates. The label, weight and timestamp columns of a CSV or
 * JSON-lines input are not among them, nor is the label of a Criteo TSV
 * (whose columns are I1..I13, C1..C26 with the default spec). A value of
 * length 0 is missing (the field's `missing` token), as an empty cell is in
 * a file. Models of sparse inputs (libsvm, libffm) have no columns: open
 * refuses them with PR_ERR_UNSUPPORTED.
 *
 * Threads: after open, a predictor is read-only. pr_predictor_score may
 * run on any number of threads at once on one predictor; each call uses
 * its own memory. open and close are not concurrent with anything on the
 * same predictor.
 *
 * Versions: PR_VERSION_* (pronto/version.h) is the version the program was
 * compiled against, pr_version() the library it runs with. PR_ABI_VERSION
 * changes when a public struct or signature changes; a program loading
 * the shared library at run time (ctypes, dlopen) compares pr_abi_version()
 * with the number it was written for and refuses another.
 */
#ifndef PRONTO_PREDICTOR_H
#define PRONTO_PREDICTOR_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"
#include "pronto/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pr_predictor pr_predictor;

/* Loads the model file with its embedded spec, builds and binds its
 * featurizer to the spec's own input columns, applies the model's
 * rare-feature filter on every score: one object that cannot be used
 * wrongly.
 *   path: the model file (`pronto train -o`), read whole at this call.
 *   out:  OUT: owned by caller, close with pr_predictor_close. Untouched
 *         on error (no cleanup needed then).
 * Errors, each message naming path: PR_ERR_IO (cannot read: "No such
 * file or directory"), PR_ERR_VERSION (a model file of a newer format,
 * naming its version and the newest this library reads), PR_ERR_FORMAT /
 * PR_ERR_CHECKSUM / PR_ERR_TRUNCATED (not a model, corrupt, cut), PR_ERR_
 * FORMAT (no embedded spec), PR_ERR_SPEC (the embedded spec), PR_ERR_
 * UNSUPPORTED (a model of sparse inputs), PR_ERR_INVALID (NULL path or
 * out), PR_ERR_NOMEM. */
pr_status pr_predictor_open(const char *path, pr_predictor **out, pr_err *err);
/* Releases everything of p. NULL ok. No call on p may be running. */
void pr_predictor_close(pr_predictor *p);

/* The input columns scoring expects, in order. Names borrowed from p,
 * valid until pr_predictor_close. */
uint32_t pr_predictor_n_columns(const pr_predictor *p);
/* NULL past the end (or for p NULL). */
const char *pr_predictor_column(const pr_predictor *p, uint32_t i);

/* Scores n_rows rows.
 *   values: n_rows * n_columns slices, borrowed for the call:
 *           values[r * n_columns + c] is row r's column c as text (the
 *           bytes a CSV cell would hold, not NUL-terminated; len 0 =
 *           missing; ptr may be NULL when len is 0).
 *   out:    OUT: n_rows probabilities, out[r] for row r (the model's
 *           calibrated probability, pr_model_predict). On error, the rows
 *           before the failing one are written and the rest unspecified.
 * n_rows 0 does nothing and succeeds. Safe to call from many threads at
 * once on one predictor (no shared mutable state; per-call memory).
 * Errors name the row (0-based, as in values) and the field, and its
 * column when the field reads a column of another name: PR_ERR_PARSE
 * "row 3: field 'I3': expected a number, got 'abc'"; PR_ERR_INVALID for NULL p, values or out (with n_rows > 0);
 * PR_ERR_NOMEM. */
pr_status pr_predictor_score(pr_predictor *p, const pr_bytes *values,
                             size_t n_rows, double *out, pr_err *err);

/* The model's info JSON object (kind, version, training metadata; "{}" for
 * a model without one). Borrowed, valid until pr_predictor_close. */
const char *pr_predictor_info(const pr_predictor *p);
/* "lr" / "ffm" / "fm", as pr_model_kind_name. Static, never NULL. */
const char *pr_predictor_kind(const pr_predictor *p);
/* The model file's path as given to open. Borrowed, valid until close. */
const char *pr_predictor_path(const pr_predictor *p);

/* ---------------------------------------------------------------- ABI */
/* "MAJOR.MINOR.PATCH" of the library at run time (PR_VERSION_STRING of the
 * build that made it). Static, never NULL. */
const char *pr_version(void);
/* PR_ABI_VERSION of the library at run time. */
int pr_abi_version(void);

#ifdef __cplusplus
}
#endif
#endif
