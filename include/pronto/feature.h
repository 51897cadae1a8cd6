/*
 * pronto/feature.h: the feature spec and the featurizer.
 *
 *   pr_spec        a parsed, validated feature spec (one YAML file).
 *   pr_featurizer  turns a pr_record into a pr_example. THE one piece of code
 *                  computing features for training, evaluation and serving.
 *   pr_count_filter  minimum-count filter over hashed buckets.
 *
 * A typical use:
 *
 *     pr_spec *spec; pr_featurizer *fz; pr_err err;
 *     pr_spec_load("specs/criteo.yaml", &spec, &err);
 *     pr_featurizer_new(spec, &fz, &err);
 *     pr_spec_free(spec);                       // the featurizer has a copy
 *     pr_featurizer_bind(fz, column_names, n_columns, &err);
 *     while (pr_reader_next(rd, &rec, &err) == PR_OK) {
 *         pr_arena_reset(&arena);
 *         pr_featurizer_apply(fz, &rec, &arena, &ex, &err);
 *         ... model(ex) ...
 *     }
 *
 * The spec format (version 1) is documented key by key at the top of
 * src/feature/spec_parse.c; specs/criteo.yaml is the shipped example.
 *
 * Hashing (stable across machines, see src/feature/feature_int.h): every
 * field has a 64-bit seed derived from its *name* and the spec seed, so
 * reordering fields in a spec does not move any index. A categorical token
 * hashes its bytes with the field seed; a numeric bucket hashes its 64-bit
 * code (little-endian) with a numeric-domain seed; a cross hashes its member
 * tokens' 64-bit hashes. index = hash & (2^hash_bits - 1).
 */
#ifndef PRONTO_FEATURE_H
#define PRONTO_FEATURE_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"
#include "pronto/example.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- spec */
typedef struct pr_spec pr_spec;

/* Parses and validates a spec.
 *   yaml/len: the YAML text (copied as needed; not kept).
 *   name:     what error messages call the text ("spec.yaml"); may be NULL.
 *   out:      OUT: owned by caller, free with pr_spec_free. Untouched on error.
 * Errors: PR_ERR_SPEC with "name:line:col: path.key: what was expected"
 * (YAML syntax errors included), PR_ERR_LIMIT for texts over 1 MiB,
 * PR_ERR_NOMEM. */
pr_status pr_spec_parse(const char *yaml, size_t len, const char *name,
                        pr_spec **out, pr_err *err);
/* Reads the file at path and parses it (errors name the path). */
pr_status pr_spec_load(const char *path, pr_spec **out, pr_err *err);
/* The shipped default Criteo spec text (static, NUL-terminated; identical to
 * specs/criteo.yaml). */
const char *pr_spec_default_criteo(void);
/* Canonical YAML of the spec: every default written out, fields in order,
 * floats as %.17g, so parse(to_yaml(s)) featurizes exactly like s.
 *   out/len: OUT: NUL-terminated text, owned by caller, free(). */
pr_status pr_spec_to_yaml(const pr_spec *s, char **out, size_t *len,
                          pr_err *err);
uint32_t pr_spec_hash_bits(const pr_spec *s);
uint32_t pr_spec_min_count(const pr_spec *s);
/* Overrides, applied before pr_featurizer_new (command-line flags such as
 * `pronto train --bits 24 --min-count 5`). PR_ERR_INVALID when out of range
 * (hash_bits 1..30, min_count 0..255). */
pr_status pr_spec_set_hash_bits(pr_spec *s, uint32_t bits, pr_err *err);
pr_status pr_spec_set_min_count(pr_spec *s, uint32_t min_count, pr_err *err);
uint64_t pr_spec_seed(const pr_spec *s);
/* Number of declared fields (crosses not included). */
uint32_t pr_spec_n_fields(const pr_spec *s);
/* Input section: format name and label/weight/timestamp column names; each
 * may be NULL when the spec does not say. Borrowed, valid for the spec's
 * life. */
const char *pr_spec_input_format(const pr_spec *s);
const char *pr_spec_label_col(const pr_spec *s);
const char *pr_spec_weight_col(const pr_spec *s);
const char *pr_spec_ts_col(const pr_spec *s);
/* The input columns the fields read, in field order without duplicates
 * (label/weight/timestamp columns are not included). Borrowed, valid for the
 * spec's life; i must be < pr_spec_n_input_columns (else NULL). */
uint32_t pr_spec_n_input_columns(const pr_spec *s);
const char *pr_spec_input_column(const pr_spec *s, uint32_t i);
void pr_spec_free(pr_spec *s);

/* ---------------------------------------------------------------- featurizer
 * Lifetime: pr_featurizer_new COPIES the spec (the spec may be freed right
 * after). A featurizer is configured by bind (and fit, if needed) on one
 * thread; afterwards pr_featurizer_apply is read-only on the featurizer and
 * may run on many threads at once, each with its own arena. */
typedef struct pr_featurizer pr_featurizer;

/* out: OUT: owned by caller, free with pr_featurizer_free. */
pr_status pr_featurizer_new(const pr_spec *spec, pr_featurizer **out,
                            pr_err *err);
/* Resolves the spec's columns against a reader's column names.
 *   names/n: the reader's column names, borrowed for the call only (the
 *            featurizer keeps column positions, not the names).
 * A spec column the input lacks -> PR_ERR_SPEC naming it.
 * Sparse inputs (libsvm/libffm) bind with n = 0: then an input feature
 * (field f, index i, value v) becomes (field f, hash(f, i) & mask, v). f must
 * be < the number of declared fields, else apply fails with PR_ERR_PARSE:
 * declare one field for libsvm, one per libffm field. Crosses are not
 * computed for sparse inputs. Binding again replaces the previous binding. */
pr_status pr_featurizer_bind(pr_featurizer *f, const char *const *names,
                             uint32_t n, pr_err *err);
/* Quantile fitting. If the spec has quantile transforms (needs_fit != 0),
 * bind, feed a sample of records with fit_add (a uniform reservoir of up to
 * 2^20 values per field is kept), then fit_finish: each quantile field
 * becomes a bins field with the learned edges, in the featurizer and in
 * pr_featurizer_spec_yaml. apply refuses to run before that. */
int pr_featurizer_needs_fit(const pr_featurizer *f);
pr_status pr_featurizer_fit_add(pr_featurizer *f, const pr_record *rec,
                                pr_err *err);
/* PR_ERR_INVALID if a quantile field saw no finite value at all. */
pr_status pr_featurizer_fit_finish(pr_featurizer *f, pr_err *err);

/* The hot path: one record -> one example.
 *   rec:   borrowed for the call.
 *   arena: the feature array is allocated here (out->f is valid until the
 *          arena is reset); no malloc once the arena has grown to size.
 *   out:   OUT: label/weight/ts copied from rec, n features.
 * A set-valued field (`separator:` in the spec) gives one feature per
 * distinct token of its value (at most 64, in first-seen order), and a
 * cross with such a member one per token; otherwise columnar inputs give
 * exactly one feature per field and per cross (a
 * missing value is the field's `missing` token), in field id order.
 * Errors (example left unspecified): PR_ERR_PARSE "file:line: field 'I3':
 * expected a number, got 'abc'"; a row with too few columns; a sparse field
 * out of range; a non-finite or negative weight. PR_ERR_INVALID if not bound
 * or not fitted; PR_ERR_NOMEM if the arena refuses.
 * NaN/inf numeric inputs (and values beyond float range for identity) are
 * treated as missing: they never reach a weight. */
pr_status pr_featurizer_apply(const pr_featurizer *f, const pr_record *rec,
                              pr_arena *arena, pr_example *out, pr_err *err);

/* pr_featurizer_apply of n records at once: out[i] is exactly what
 * pr_featurizer_apply(recs[i]) gives, but a field whose column holds the
 * same value in every record (the same text and number: a request's own
 * fields and its user's attributes, when the records are the candidates
 * of one request) is hashed once, and so is a cross of such fields. On
 * failure the error is the one pr_featurizer_apply gives for the first
 * record that fails. Read-only on f, as apply. */
pr_status pr_featurizer_apply_batch(const pr_featurizer *f, const pr_record *recs, uint32_t n,
                                    pr_arena *arena, pr_example *out, pr_err *err);
/* Fields including crosses: declared fields are 0..n_declared-1 in spec
 * order, crosses follow in spec order. */
uint32_t pr_featurizer_n_fields(const pr_featurizer *f);
/* Borrowed, valid for the featurizer's life; crosses are named "C1xC2";
 * NULL if field is out of range. */
const char *pr_featurizer_field_name(const pr_featurizer *f, uint32_t field);
uint32_t pr_featurizer_hash_bits(const pr_featurizer *f);
/* The index filtered-out features of this field map to (UINT32_MAX if field
 * is out of range). */
/* After pr_featurizer_bind on columnar input: the reader column(s) whose
 * values make up the field's token (one for a declared field, one per member
 * for a cross), written to cols (at most max). Returns how many; 0 for
 * sparse input, an unbound featurizer or a too small max. For debugging
 * displays such as `pronto inspect`. */
uint32_t pr_featurizer_field_columns(const pr_featurizer *f, uint32_t field,
                                     uint32_t *cols, uint32_t max);
uint32_t pr_featurizer_rare_index(const pr_featurizer *f, uint32_t field);
/* YAML of the spec as this featurizer uses it (fitted edges included), the
 * text a model file embeds. Borrowed, valid until the next fit_finish or
 * the featurizer is freed. */
const char *pr_featurizer_spec_yaml(const pr_featurizer *f);
/* A 64-bit fingerprint of that YAML: equal fingerprints featurize alike.
 * The dataset builder stamps its caches with it; train checks it. */
uint64_t pr_featurizer_fingerprint(const pr_featurizer *f);
void pr_featurizer_free(pr_featurizer *f);

/* ---------------------------------------------------------------- min count
 * McMahan et al. 2013 count-based inclusion as a counting filter over the
 * hashed buckets: one saturating uint8 counter per bucket (a counting Bloom
 * filter with k = 1 over 2^hash_bits; hashing already spread the features).
 * Training counts every feature's bucket; the bitmap of admitted buckets
 * (count >= min_count) is what the model file stores and serving uses. */
typedef struct pr_count_filter pr_count_filter;

/* hash_bits 1..30, min_count 0..255 (0 admits everything), else
 * PR_ERR_INVALID. out: OUT: owned by caller, free with
 * pr_count_filter_free. Memory: 2^hash_bits bytes + 2^hash_bits bits. */
pr_status pr_count_filter_new(uint32_t hash_bits, uint32_t min_count,
                              pr_count_filter **out, pr_err *err);
/* Counts each feature's bucket once per occurrence (x borrowed). */
void pr_count_filter_add(pr_count_filter *c, const pr_example *x);
/* Admitted-bucket bitmap: 2^hash_bits bits as uint64 words (bucket b is bit
 * b%64 of word b/64), computed from the counts at this call. Owned by the
 * filter, valid until the next call or pr_count_filter_free. */
const uint64_t *pr_count_filter_bitmap(pr_count_filter *c);
/* The 2^hash_bits saturating counters themselves (pronto train --mpi sums
 * them across ranks before the bitmap is taken). */
uint8_t *pr_count_filter_counts(pr_count_filter *c);
/* Online admission, for single-pass streaming training: counts x's features
 * like pr_count_filter_add, then maps each feature whose bucket has still
 * been seen fewer than min_count times (this occurrence included) to its
 * field's rare index, in place. The first min_count - 1 occurrences of a
 * feature thus train the rare bucket, as with McMahan et al.'s online
 * inclusion; the final bitmap is pr_count_filter_bitmap's. known (may be
 * NULL) is a bitmap of buckets admitted already, e.g. by the model a warm
 * start continues: those are never sent to the rare bucket. */
void pr_count_filter_add_admit(pr_count_filter *c, const pr_featurizer *f,
                               const uint64_t *known, pr_example *x);
void pr_count_filter_free(pr_count_filter *c);
/* Applies a bitmap in place: every feature whose bucket bit is clear gets
 * index = rare_index(field). bitmap NULL = no-op. The bitmap must have
 * 2^hash_bits bits of this featurizer. Used by both training and serving. */
void pr_featurizer_apply_filter(const pr_featurizer *f, const uint64_t *bitmap,
                                pr_example *x);

#ifdef __cplusplus
}
#endif
#endif
