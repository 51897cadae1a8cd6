/*
 * featurizer_int.h: the pr_featurizer struct, shared by featurizer.c (build,
 * bind, apply) and quantile_fit.c (fitting), and nobody else.
 *
 * Invariants:
 *   - spec is the featurizer's own copy (parsed back from the canonical YAML
 *     of the caller's spec), and yaml is always to_yaml(spec).
 *   - fields[i] mirrors spec->fields[i] with everything the hot path needs
 *     precomputed (seeds, the missing token's hash); edges point into spec.
 *   - cols[i] is fields[i]'s input column, valid when bound && !sparse;
 *     min_cols = 1 + the largest of them.
 *   - rare[] and names[] cover all n_total = n_fields + n_crosses fields.
 *   - cat_ids/num_ids split the declared fields by type (apply runs one
 *     tight loop per type); together they list every field once.
 */
#ifndef PRONTO_FEATURIZER_INT_H
#define PRONTO_FEATURIZER_INT_H

#include "feature/feature_int.h"

#define PR__LOG_LUT_N 1024 /* log_bucket codes of the integers 0..N-1 */
#define PR__FIT_RESERVOIR (1u << 20)
#define PR__SET_MAX_TOKENS 64u /* distinct tokens kept per set-valued value */

typedef enum {
    PR__KIND_CATEGORICAL = 0,
    PR__KIND_LOG_BUCKET,
    PR__KIND_BINS,
    PR__KIND_IDENTITY,
    PR__KIND_QUANTILE /* not fitted yet: apply refuses */
} pr__field_kind;

typedef struct pr__fz_field {
    pr__field_kind kind;
    uint32_t n_edges;
    const double *edges;   /* borrowed from spec (bins) */
    uint64_t seed;         /* string-domain seed */
    uint64_t num_seed;     /* numeric-domain seed */
    uint64_t missing_hash; /* hash of the `missing` token */
    uint64_t identity_hash;
    char separator;        /* set-valued categorical field: token separator;
                              0 for single-valued fields */
} pr__fz_field;

typedef struct pr__fz_cross {
    uint32_t arity;
    uint32_t members[PR__CROSS_MAX_ARITY];
    uint64_t seed;
} pr__fz_cross;

typedef struct pr__fit_sample {
    double *values; /* reservoir, owned; NULL for non-quantile fields */
    size_t n;       /* values held */
    size_t cap;     /* values allocated */
    uint64_t seen;  /* finite values offered */
} pr__fit_sample;

struct pr_featurizer {
    pr_spec *spec;          /* owned copy */
    char *yaml;             /* owned, canonical text of spec */
    uint32_t n_fields;      /* declared */
    uint32_t n_crosses;
    uint32_t n_total;
    uint32_t hash_bits;
    uint32_t mask;
    pr__fz_field *fields;   /* owned, n_fields */
    pr__fz_cross *crosses;  /* owned, n_crosses */
    uint32_t *rare;         /* owned, n_total */
    char **names;           /* owned array, n_total; cross names owned,
                               field names borrowed from spec */
    uint32_t *cols;         /* owned, n_fields */
    uint32_t *cat_ids;      /* owned: ids of categorical fields, n_cat */
    uint32_t *num_ids;      /* owned: ids of numeric fields, n_num */
    uint32_t n_cat, n_num;
    uint32_t n_set;         /* fields with a separator (apply takes the
                               general path when > 0) */
    uint32_t min_cols;
    int bound;
    int sparse;
    uint32_t n_unfitted;    /* quantile fields still to fit */
    pr__fit_sample *fit;    /* owned, n_fields, or NULL */
    uint64_t fit_rng;
    int64_t log_lut[PR__LOG_LUT_N];
};

/* featurizer.c: "file:line" of a record for messages. */
void pr__record_where(const pr_record *rec, char *dst, size_t cap);
/* featurizer.c: pr_featurizer_apply_batch's shared path alone (tests): a
 * status without a message on any failure (then the caller goes record by
 * record). Needs n >= 1, f bound, not sparse, fitted. */
pr_status pr__featurizer_apply_batch_shared(const pr_featurizer *f, const pr_record *recs,
                                           uint32_t n, pr_arena *arena, pr_example *out,
                                           pr_err *err);
/* featurizer.c: regenerates f->yaml from f->spec. */
pr_status pr__featurizer_refresh_yaml(pr_featurizer *f, pr_err *err);

#endif
