/*
 * feature_hash.h: pr_hash64, inlined for the featurizer's hot loop.
 *
 * pr_hash64 (src/base/hash.c) is XXH3_64bits_withSeed behind a function
 * call; the featurizer hashes ~40 short tokens per row, where that call is
 * a visible share of the time. pr__hash is the very same function compiled
 * inline, so its results are identical by construction (and
 * tests/test_feature.c checks pr__hash == pr_hash64 on many inputs anyway).
 * Only the feature module's .c files include this header.
 */
#ifndef PRONTO_FEATURE_HASH_H
#define PRONTO_FEATURE_HASH_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "feature/feature_int.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

static inline uint64_t pr__hash(const void *data, size_t len, uint64_t seed) {
    return XXH3_64bits_withSeed(data, len, seed);
}

/* Explicit little-endian bytes: the same on every machine. */
static inline void pr__put_le64(unsigned char *dst, uint64_t v) {
    for (int i = 0; i < 8; i++) dst[i] = (unsigned char)(v >> (8 * i));
}

/* Hash of a numeric code (see the scheme in feature_int.h). */
static inline uint64_t pr__hash_code(int64_t code, uint64_t numeric_seed) {
    unsigned char b[8];
    pr__put_le64(b, (uint64_t)code);
    return pr__hash(b, sizeof b, numeric_seed);
}

/* Hash of a cross from its members' 64-bit token hashes. */
static inline uint64_t pr__hash_cross(const uint64_t *member_hashes,
                                      uint32_t arity, uint64_t cross_seed) {
    unsigned char b[8 * PR__CROSS_MAX_ARITY];
    assert(arity >= 2 && arity <= PR__CROSS_MAX_ARITY);
    if (arity > PR__CROSS_MAX_ARITY) arity = PR__CROSS_MAX_ARITY; /* NDEBUG */
    for (uint32_t i = 0; i < PR__CROSS_MAX_ARITY; i++)
        pr__put_le64(b + 8 * i, i < arity ? member_hashes[i] : 0);
    return pr__hash(b, 8 * (size_t)arity, cross_seed);
}

#endif
