/*
 * fuzz_reader_libffm.c: the libffm reader on arbitrary bytes (plain or zstd),
 * with and without label_optional. See fuzz_reader.h for what is checked.
 */
#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_LIBFFM);
    o.label_optional = size > 0 && (data[0] & 2);
    return fuzz_reader_run(data, size, &o);
}
