/*
 * hash.c: hashing and checksums, both xxh3-64 from libxxhash.
 * xxh3 output is specified byte-for-byte independent of the machine's
 * endianness, which is what lets a model trained here be served elsewhere.
 */
#include <stdlib.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "pronto/base.h"

uint64_t pr_hash64(const void *data, size_t len, uint64_t seed) {
    return XXH3_64bits_withSeed(data, len, seed);
}

struct pr_checksum {
    XXH3_state_t st;
};

pr_checksum *pr_checksum_new(void) {
    pr_checksum *c = aligned_alloc(64, (sizeof *c + 63) & ~(size_t)63);
    if (!c) return NULL;
    XXH3_64bits_reset(&c->st);
    return c;
}

void pr_checksum_update(pr_checksum *c, const void *data, size_t len) {
    XXH3_64bits_update(&c->st, data, len);
}

uint64_t pr_checksum_digest(const pr_checksum *c) {
    return XXH3_64bits_digest(&c->st);
}

void pr_checksum_free(pr_checksum *c) { free(c); }
