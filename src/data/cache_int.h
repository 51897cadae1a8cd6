/*
 * cache_int.h: the example cache's byte layout and its block decoder, shared
 * by src/data/cache.c and the fuzz target (which drives the decoder directly,
 * since random bytes almost never carry a valid block checksum).
 *
 * All integers and floats are little-endian. The full layout, with
 * OFFSET/SIZE/DESCRIPTION tables, is above the writer in cache.c and in
 * docs/cache-format.md.
 */
#ifndef PRONTO_CACHE_INT_H
#define PRONTO_CACHE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pronto/cache.h"

#define PR__CACHE_MAGIC "PRNCACHE"        /* 8 bytes, file header */
#define PR__CACHE_TRAILER_MAGIC "PRNCEND!" /* 8 bytes, trailer */
#define PR__CACHE_BLOCK_MAGIC "PRBK"      /* 4 bytes, block header */

#define PR__CACHE_HEADER_SIZE 64
#define PR__CACHE_BLOCK_HEADER_SIZE 48
#define PR__CACHE_INDEX_ENTRY_SIZE 16
#define PR__CACHE_TRAILER_SIZE 48

/* File header flags. */
#define PR__CACHE_FILE_FIELDS_U16 0x1u
/* Block header flags. */
#define PR__CACHE_BLOCK_ZSTD 0x1u

/* Per-example flags byte. */
#define PR__CACHE_EX_LABEL_ONE 0x01u   /* label is exactly 1 (else 0) */
#define PR__CACHE_EX_LABEL_F32 0x02u   /* label is neither 0 nor 1: f32 follows */
#define PR__CACHE_EX_WEIGHT 0x04u      /* weight != 1: f32 follows */
#define PR__CACHE_EX_TS 0x08u          /* ts != 0: i64 follows */
#define PR__CACHE_EX_VALUES 0x10u      /* some value != 1: bitmap + f32s follow */
#define PR__CACHE_EX_KNOWN 0x1fu

/* Most features one example may carry (the writer refuses more). */
#define PR__CACHE_EXAMPLE_FEATURES_MAX 1000000u
/* Writer: a block is closed once its payload reaches this many bytes or
 * examples. 256 KB decodes into ~650 KB of pr_examples/pr_features, which
 * stay in a 1 MB L2 while the trainer reads them back; decode speed itself
 * did not depend on the size (docs/cache-format.md, "Block size"). */
#ifndef PR__CACHE_BLOCK_TARGET_BYTES /* overridable with -D to measure */
#define PR__CACHE_BLOCK_TARGET_BYTES (256u << 10)
#endif
#define PR__CACHE_BLOCK_MAX_EXAMPLES 65536u
/* Reader: largest decompressed payload it will allocate for. A block holds
 * at most BLOCK_TARGET_BYTES plus one maximal example (~10 MB). */
#define PR__CACHE_BLOCK_RAW_MAX (64u << 20)

/* ---------------------------------------------------------------- LE I/O */
static inline uint32_t pr__le32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}
static inline uint64_t pr__le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}
static inline void pr__put_le32(uint8_t *p, uint32_t v) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, 4);
}
static inline void pr__put_le64(uint8_t *p, uint64_t v) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

/* The layout a decoder needs from the file header. */
typedef struct pr__cache_layout {
    uint32_t hash_bits;
    uint32_t n_fields;
    int fields_u16;
} pr__cache_layout;

/* Decodes one block payload (already decompressed, checksum already
 * verified) of n_examples examples holding n_features features in total.
 * p: borrowed, len bytes. Fills blk (storage grown as needed). where names
 * the block in errors ("x.pcache: block 3"). Never reads outside [p, p+len)
 * whatever the bytes are; every index and field is range-checked against
 * layout. */
pr_status pr__cache_decode_payload(const uint8_t *p, size_t len,
                                   uint32_t n_examples, uint64_t n_features,
                                   const pr__cache_layout *layout,
                                   pr_cache_block *blk, const char *where,
                                   pr_err *err);

#endif
