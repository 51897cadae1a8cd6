/*
 * fuzz_reader_csv.c: the csv reader on arbitrary bytes. Bits of the first
 * byte pick label_optional, the delimiter, and whether weight/ts columns
 * ("w", "ts") and an ignored column ("skip") are requested, so the open-time
 * header checks are fuzzed too. See fuzz_reader.h for what is checked.
 */
#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char delims[4] = {0, ';', '\t', '|'};
    static const char *const ignore[] = {"skip"};
    static const char *const select[] = {"b", "a"};
    uint8_t b = size > 0 ? data[0] : 0;
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CSV);
    o.label_optional = (b & 2) != 0;
    o.delimiter = delims[(b >> 2) & 3];
    if (b & 16) {
        o.weight_col = "w";
        o.ts_col = "ts";
    }
    if (b & 32) {
        o.ignore_cols = ignore;
        o.n_ignore = 1;
    }
    if (b & 64) {
        o.columns = select;
        o.n_columns = 2;
    }
    return fuzz_reader_run(data, size, &o);
}
