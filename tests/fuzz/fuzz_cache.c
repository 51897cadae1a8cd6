/*
 * fuzz_cache.c: no input may crash, hang or leak the example cache reader.
 *
 * The first byte picks what the rest of the input is:
 *   even: a whole cache file. It is written to a temporary file, opened,
 *         and every block is decoded. Random bytes rarely pass the
 *         checksums, so the seed corpus holds real caches to mutate from.
 *   odd:  a raw block payload fed straight to the decoder (no checksum in
 *         the way): byte 1 picks the layout (u8 or u16 fields, hash_bits),
 *         bytes 2..5 the example count, 6..9 the feature count.
 * Either way a failure must be a clean pr_status with a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/cache_int.h"
#include "pronto/cache.h"

static void fuzz_file(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_cache.%ld.pcache", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    pr_err err;
    pr_cache *c;
    if (pr_cache_open(path, &c, &err) == PR_OK) {
        pr_cache_block blk;
        pr_cache_block_init(&blk);
        for (uint32_t b = 0; b < pr_cache_n_blocks(c) && b < 64; b++)
            if (pr_cache_read_block(c, b, &blk, &err) != PR_OK && !err.msg[0]) abort();
        pr_cache_block_free(&blk);
        pr_cache_close(c);
    } else if (!err.msg[0]) {
        abort();  /* every failure must say what is wrong */
    }
    unlink(path);
}

static void fuzz_payload(const uint8_t *data, size_t size) {
    if (size < 10) return;
    pr__cache_layout L = {
        .hash_bits = 1 + (data[1] & 31),
        .n_fields = (data[1] & 0x80) ? 1000 : 1 + (data[1] & 0x40 ? 255 : 38),
        .fields_u16 = (data[1] & 0x80) != 0,
    };
    uint32_t n_examples = pr__le32(data + 2);
    uint32_t n_features = pr__le32(data + 6);
    pr_cache_block blk;
    pr_err err;
    pr_cache_block_init(&blk);
    pr_status s = pr__cache_decode_payload(data + 10, size - 10, n_examples, n_features,
                                           &L, &blk, "fuzz: block 0", &err);
    if (s == PR_OK) {
        /* everything handed out must be in range and readable */
        for (uint32_t e = 0; e < blk.n; e++)
            for (uint32_t i = 0; i < blk.ex[e].n; i++)
                if (blk.ex[e].f[i].field >= L.n_fields ||
                    (L.hash_bits < 32 && blk.ex[e].f[i].index >> L.hash_bits))
                    abort();
    } else if (!err.msg[0] || blk.n != 0) {
        abort();
    }
    pr_cache_block_free(&blk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1) fuzz_payload(data, size);
    else fuzz_file(data + 1, size - 1);
    return 0;
}
