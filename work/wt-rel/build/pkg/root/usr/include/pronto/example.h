/*
 * pronto/example.h: the two values that flow between modules.
 *
 *   reader --pr_record--> featurizer --pr_example--> model / cache / trainer
 *
 * A pr_record is one raw input row as the reader saw it: string columns
 * (Criteo TSV, CSV, JSON-lines) or an already-sparse list (libsvm, libffm).
 * Everything in it is borrowed from the reader and valid until the next call
 * to pr_reader_next() on that reader.
 *
 * A pr_example is the featurized, model-ready row: a label, a weight, a
 * timestamp and a sparse list of (field, index, value), where index is a hash
 * bucket in [0, 2^hash_bits). Its feature array lives in whatever memory the
 * producer was given (a caller's pr_arena, a cache block): the example itself
 * never owns it.
 */
#ifndef PRONTO_EXAMPLE_H
#define PRONTO_EXAMPLE_H

#include <stdint.h>

#include "pronto/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One sparse feature. 12 bytes; arrays of these are the hot data. */
typedef struct pr_feature {
    uint32_t index;  /* hash bucket, < 2^hash_bits */
    uint32_t field;  /* field id, < n_fields of the featurizer */
    float value;     /* 1.0 for categorical features */
} pr_feature;

typedef struct pr_example {
    float label;     /* 0 or 1 */
    float weight;    /* importance weight, 1 by default */
    int64_t ts;      /* event time (Unix seconds), 0 if unknown */
    uint32_t n;      /* number of features */
    pr_feature *f;   /* borrowed: n features */
} pr_example;

/* A feature as a sparse text format wrote it (libsvm "idx:val", libffm
 * "field:idx:val"); libsvm sets field = 0. */
typedef struct pr_raw_feature {
    uint32_t field;
    uint32_t index;
    float value;
} pr_raw_feature;

typedef struct pr_record {
    float label;          /* 0 or 1 (-1 in the input is mapped to 0) */
    int has_label;        /* 0 when the input had no label for this row */
    float weight;         /* 1 unless a weight column says otherwise */
    int64_t ts;           /* 0 unless a timestamp column says otherwise */

    /* Columnar formats (criteo, csv, jsonl): n_cols string values in the
     * reader's column order (pr_reader_column_name). A zero-length value
     * means missing. NULL/0 for sparse formats. */
    uint32_t n_cols;
    const pr_bytes *cols;
    /* Optional (NULL when absent): n_cols numbers beside the text. A numeric
     * field whose num[col] is not NaN takes that value and skips parsing the
     * text (the feature store hands computed aggregates over this way); NaN
     * means "read the text". Readers leave it NULL. */
    const double *num;

    /* Sparse formats (libsvm, libffm): NULL/0 for columnar formats. */
    uint32_t n_feats;
    const pr_raw_feature *feats;

    /* Where the row came from, for error messages. */
    const char *file;     /* borrowed, as given to pr_reader_open */
    uint64_t line;        /* 1-based */
} pr_record;

#ifdef __cplusplus
}
#endif
#endif
