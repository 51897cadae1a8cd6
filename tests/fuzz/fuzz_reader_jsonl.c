/*
 * fuzz_reader_jsonl.c: the JSON-lines reader on arbitrary bytes, extracting
 * plain, dotted and absent keys, with weight "w" and timestamp "t" keys.
 * See fuzz_reader.h for what is checked.
 */
#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const cols[] = {"a", "b.c", "label", "d.e.f", "x.y"};
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_JSONL);
    o.columns = cols;
    o.n_columns = 5;
    o.weight_col = "w";
    o.ts_col = "t";
    o.label_optional = size > 0 && (data[0] & 2);
    return fuzz_reader_run(data, size, &o);
}
