/*
 * fuzz_reader.h: the loop shared by the reader fuzz targets
 * (fuzz_reader_<format>.c). It opens the input as a memory reader, reads
 * every record, and aborts on any broken promise of pronto/reader.h:
 * a label that is not 0/1, a negative or non-finite weight, a column or
 * feature count that disagrees with the reader, an error message that does
 * not start with the input's name, a row error that stops the reader.
 *
 * When the first byte is odd, the line buffer and line limit are made tiny
 * (from that byte), so lines straddle refills and hit the limit even in the
 * short inputs a fuzzer produces.
 */
#ifndef PRONTO_FUZZ_READER_H
#define PRONTO_FUZZ_READER_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/reader_int.h"
#include "pronto/reader.h"

#define FUZZ_NAME "fuzz.in"

static void fuzz_check(int ok) {
    if (!ok) abort();
}

static int fuzz_reader_run(const uint8_t *data, size_t size,
                           const pr_reader_opts *o) {
    size_t cap = 0, max_line = 0;
    if (size > 0 && (data[0] & 1)) {
        max_line = 4 + data[0] % 61;
        cap = max_line + 2 + (data[0] >> 5);
    }
    pr_err err;
    pr_reader *r = NULL;
    pr_status st = pr__reader_open_mem_limits(data, size, FUZZ_NAME, o, cap,
                                              max_line, &r, &err);
    if (st != PR_OK) {
        fuzz_check(r == NULL && strncmp(err.msg, FUZZ_NAME, strlen(FUZZ_NAME)) == 0);
        return 0;
    }
    uint32_t n_cols = pr_reader_n_columns(r);
    for (uint32_t i = 0; i < n_cols; i++)
        fuzz_check(pr_reader_column_name(r, i) != NULL);
    uint64_t last_line = 0;
    volatile unsigned sink = 0;
    for (;;) {
        pr_record rec;
        st = pr_reader_next(r, &rec, &err);
        if (st == PR_EOF) {
            fuzz_check(pr_reader_next(r, &rec, &err) == PR_EOF);
            break;
        }
        if (st != PR_OK) {
            fuzz_check(strncmp(err.msg, FUZZ_NAME ":", strlen(FUZZ_NAME) + 1) == 0);
            if (!pr_reader_row_error(st)) {
                /* Sticky: the same error again. */
                fuzz_check(pr_reader_next(r, &rec, &err) == st);
                break;
            }
            continue;
        }
        fuzz_check(rec.line > last_line);
        last_line = rec.line;
        fuzz_check(rec.has_label == 0 || rec.has_label == 1);
        fuzz_check(rec.label == 0.0f || rec.label == 1.0f);
        fuzz_check(isfinite(rec.weight) && rec.weight >= 0.0f);
        fuzz_check(strcmp(rec.file, FUZZ_NAME) == 0);
        fuzz_check(rec.n_cols == 0 || rec.n_cols == n_cols);
        for (uint32_t i = 0; i < rec.n_cols; i++)
            for (size_t k = 0; k < rec.cols[i].len; k++)
                sink += (unsigned char)rec.cols[i].ptr[k];
        for (uint32_t i = 0; i < rec.n_feats; i++) {
            fuzz_check(isfinite(rec.feats[i].value));
            sink += rec.feats[i].index + rec.feats[i].field;
        }
    }
    fuzz_check(pr_reader_bytes_read(r) <= size);
    pr_reader_free(r);
    (void)sink;
    return 0;
}

#endif
