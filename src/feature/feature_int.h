/*
 * feature_int.h: what the feature module's files share and nobody else sees.
 *
 * The spec structs (filled by spec_parse.c, written by spec_emit.c, read by
 * featurizer.c) and the token hashing scheme (transform.c).
 *
 * Hashing scheme (version 1). Changing anything here moves every index and
 * invalidates every trained model: tests/test_feature.c pins indices on
 * purpose so such a change cannot go unnoticed.
 *
 *   field_seed(name)   = xxh3(name bytes, spec seed)
 *   numeric seed       = field_seed ^ PR__NUMERIC_DOMAIN
 *   string token hash  = xxh3(token bytes, field_seed)        (categorical,
 *                        and the `missing` token of any field)
 *   numeric token hash = xxh3(code as 8 bytes little-endian, numeric seed)
 *                        (log_bucket/bins codes, sparse input indices, and
 *                        the reserved codes below)
 *   cross seed         = xxh3(member field seeds, 8 bytes LE each,
 *                             spec seed ^ PR__CROSS_DOMAIN)
 *   cross token hash   = xxh3(member token hashes, 8 bytes LE each, cross seed)
 *   index              = token hash & (2^hash_bits - 1)
 *
 * Numeric codes: log_bucket x > 2 -> PR__LOG_TAG + floor(ln(x)^2), else
 * floor(x) clamped to >= -2^53; bins -> bin number 0..n_edges. The two
 * reserved codes below can never be produced by a transform.
 */
#ifndef PRONTO_FEATURE_INT_H
#define PRONTO_FEATURE_INT_H

#include <stdint.h>

#include "pronto/feature.h"
#include "feature/spec_store.h"

#define PR__NUMERIC_DOMAIN UINT64_C(0x9E3779B97F4A7C15)
#define PR__CROSS_DOMAIN UINT64_C(0xC2B2AE3D27D4EB4F)
#define PR__LOG_TAG (INT64_C(1) << 56)
#define PR__CODE_RARE INT64_MIN            /* the field's rare bucket */
#define PR__CODE_IDENTITY (INT64_MIN + 1)  /* the one index of identity */
#define PR__CODE_MIN (-(INT64_C(1) << 53)) /* lowest log_bucket code */

#define PR__SPEC_MAX_BYTES (1u << 20)
#define PR__SPEC_MAX_FIELDS 4096u
#define PR__SPEC_MAX_CROSSES 4096u
#define PR__CROSS_MAX_ARITY 4u
#define PR__SPEC_MAX_EDGES 65536u
#define PR__SPEC_MAX_QUANTILE_BINS 65536u
#define PR__NAME_MAX 128u   /* field names */
#define PR__STRING_MAX 1024u /* columns, missing tokens, input names */
#define PR__DEFAULT_MISSING "__missing__"

typedef enum {
    PR__FIELD_CATEGORICAL = 0,
    PR__FIELD_NUMERIC = 1
} pr__field_type;

typedef enum {
    PR__TRANSFORM_NONE = 0, /* categorical fields */
    PR__TRANSFORM_LOG_BUCKET,
    PR__TRANSFORM_BINS,
    PR__TRANSFORM_QUANTILE,
    PR__TRANSFORM_IDENTITY
} pr__transform;

typedef struct pr__field_spec {
    char *name;          /* owned */
    char *column;        /* owned; equals name unless `column:` said so */
    pr__field_type type;
    pr__transform transform;
    char *missing;       /* owned */
    double *edges;       /* owned, strictly increasing, finite (bins) */
    uint32_t n_edges;
    uint32_t quantile_bins; /* quantile: number of bins to learn (>= 2) */
    char *separator;     /* owned or NULL: categorical only; the value is a
                            list of tokens split on this one byte, one
                            feature per distinct token (set-valued field) */
} pr__field_spec;

typedef struct pr__cross_spec {
    uint32_t arity;                        /* 2..PR__CROSS_MAX_ARITY */
    uint32_t fields[PR__CROSS_MAX_ARITY];  /* declared field ids */
} pr__cross_spec;

struct pr_spec {
    char *name;            /* owned: what errors call the spec */
    uint32_t version;
    uint32_t hash_bits;
    uint64_t seed;
    uint32_t min_count;
    char *input_format;    /* owned or NULL (all four) */
    char *label_col;
    char *weight_col;
    char *ts_col;
    pr__field_spec *fields; /* owned, n_fields */
    uint32_t n_fields;
    pr__cross_spec *crosses; /* owned, n_crosses */
    uint32_t n_crosses;
    const char **input_columns; /* owned array of borrowed field columns */
    uint32_t n_input_columns;
    pr__store_spec store;   /* feature-store sections (spec_store.h) */
};

/* spec.c: fills input_columns from the fields (after parse or fit). */
pr_status pr__spec_index_columns(pr_spec *s, pr_err *err);

/* transform.c */
uint64_t pr__field_seed(const char *name, size_t len, uint64_t spec_seed);
uint64_t pr__cross_seed(const uint64_t *member_seeds, uint32_t arity,
                        uint64_t spec_seed);
/* pr__hash_code and pr__hash_cross are inline, in feature_hash.h. */
/* log_bucket code of a finite x. */
int64_t pr__log_bucket_code(double x);
/* Bin number of x among n strictly increasing edges: the count of edges
 * <= x (x < e0 -> 0, x >= e[n-1] -> n). */
uint32_t pr__bin_of(const double *edges, uint32_t n, double x);

typedef enum {
    PR__NUM_OK = 0,      /* *x is finite */
    PR__NUM_MISSING = 1, /* empty after trimming, NaN or +-inf */
    PR__NUM_BAD = 2      /* not a number */
} pr__num_result;
/* Parses a decimal number from a byte slice (not NUL-terminated), trimming
 * spaces, tabs and CR. Integers up to 18 digits take a fast exact path and
 * set is_int and i as well. */
pr__num_result pr__parse_number(const char *p, size_t len, double *x,
                                int *is_int, int64_t *i);
/* Writes a printable, truncated rendering of bytes for error messages. */
void pr__render_bytes(char *dst, size_t cap, const char *p, size_t len);

#endif
