/*
 * cache.c: the binary example cache: writer, reader and block decoder.
 *
 * Design. A cache is a file header, a run of self-contained blocks, a block
 * index and a fixed-size trailer. Each block holds up to 64k examples / about
 * 256 KB of encoded payload, checksummed (and optionally zstd-compressed) on
 * its own, so threads decode different blocks independently and a damaged
 * byte is pinned to one block. Examples inside a block are stored row by row
 * in the cheapest form that reproduces them bit for bit: a flags byte says
 * which of label/weight/ts/values differ from their common defaults
 * (label 0 or 1, weight 1, ts 0, every value 1.0), so a Criteo-like example
 * costs 1 + 1 + 4n + n bytes.
 *
 * The writer streams through pr_atomic_* (temporary name, fsync, rename), so
 * the header cannot be patched at close: counts live in the block headers
 * and the trailer. A file without a valid trailer was never finished.
 *
 * The reader maps the file read-only to validate header, trailer, index and
 * every block header at open, then reads each block with pread into the
 * block object (decoding straight out of the mapping was one copy fewer,
 * but left every page read mapped: the RSS grew with the cache, see
 * read_stored), and verifies a block's checksum each time it decodes it.
 *
 * An example may also be encoded ahead, without its label, and appended
 * later with it (cache_encoded.h): the same bytes as adding it labeled.
 *
 * Ownership. pr_cache_writer owns its staging buffers and the atomic file.
 * pr_cache owns the mapping, the file descriptor and the parsed block table;
 * it is read-only after open, hence thread-safe for concurrent
 * pr_cache_read_block calls (pread). A
 * pr_cache_block owns the decoded examples and features it hands out.
 *
 * File header (64 bytes, offset 0):
 *   OFFSET SIZE DESCRIPTION
 *        0    8 magic "PRNCACHE"
 *        8    4 format version (1)
 *       12    4 flags: bit 0 = field ids stored as u16 (else u8)
 *       16    4 hash_bits (1..32): every index < 2^hash_bits
 *       20    4 n_fields (1..65536): every field < n_fields
 *       24    8 spec fingerprint (caller's value, opaque)
 *       32   24 reserved, zero
 *       56    8 xxh3-64 of bytes 0..55
 *
 * Block (at the offsets listed in the index; the first at 64, each next one
 * right after the previous block's payload):
 *   OFFSET SIZE DESCRIPTION
 *        0    4 magic "PRBK"
 *        4    4 number of examples in the block
 *        8    4 flags: bit 0 = payload is one zstd frame
 *       12    4 reserved, zero
 *       16    8 number of features in the block (sum of n)
 *       24    8 stored payload length (bytes following this header)
 *       32    8 raw payload length (after decompression; = stored if raw)
 *       40    8 xxh3-64 of the stored payload, seeded with the xxh3-64 of
 *               header bytes 0..39 (so the header is covered too)
 *       48    - payload
 *
 * Example, inside a raw payload (examples back to back, no padding):
 *   SIZE        DESCRIPTION
 *   1           flags: 0x01 label is 1 (else 0); 0x02 f32 label follows
 *               (label neither 0 nor 1); 0x04 f32 weight follows (weight
 *               != 1); 0x08 i64 ts follows (ts != 0); 0x10 values follow
 *   1..5        n, unsigned LEB128
 *   4           label (if 0x02)
 *   4           weight (if 0x04)
 *   8           ts (if 0x08)
 *   4n          indices, u32
 *   n or 2n     fields, u8 or u16 (file header flag)
 *   ceil(n/8)   (if 0x10) bitmap: bit i (LSB first) set = value i != 1.0
 *   4k          (if 0x10) the k values whose bit is set, f32, in order
 *   "Value is 1.0" compares bit patterns, so -0.0, NaN payloads and every
 *   float round-trip exactly.
 *
 * Block index (right after the last block): n_blocks entries of
 *   OFFSET SIZE DESCRIPTION
 *        0    8 file offset of the block header
 *        8    4 number of examples in the block
 *       12    4 reserved, zero
 *
 * Trailer (the last 48 bytes of the file):
 *   OFFSET SIZE DESCRIPTION
 *        0    8 magic "PRNCEND!"
 *        8    8 total number of examples
 *       16    8 file offset of the block index
 *       24    4 number of blocks
 *       28    4 reserved, zero
 *       32    8 xxh3-64 of the block index
 *       40    8 xxh3-64 of trailer bytes 0..39, seeded with the header's
 *               checksum (a trailer glued onto another header fails)
 *
 * Invariants the reader checks at open: magic, version, header checksum,
 * trailer magic and checksum, index checksum, blocks contiguous from offset
 * 64 up to the index, per-block example counts agree with the index and sum
 * to the trailer's total, lengths within the file and within
 * PR__CACHE_BLOCK_RAW_MAX.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "data/cache_encoded.h"
#include "data/cache_int.h"

static const uint32_t ONE_F32_BITS = 0x3f800000u; /* 1.0f */

static uint32_t f32_bits(float v) {
    uint32_t b;
    memcpy(&b, &v, 4);
    return b;
}
static float f32_from_bits(uint32_t b) {
    float v;
    memcpy(&v, &b, 4);
    return v;
}

/* Grows *buf to hold at least need bytes, discarding its contents. */
static int reserve_discard(void **buf, uint64_t *cap, uint64_t need) {
    if (*cap >= need) return 1;
    uint64_t want = need + need / 4 + 64;
    if (want > SIZE_MAX) return 0;
    free(*buf);
    *buf = malloc((size_t)want);
    *cap = *buf ? want : 0;
    return *buf != NULL;
}

/* Grows *buf to hold at least need bytes, keeping its contents. */
static int reserve_keep(uint8_t **buf, size_t *cap, size_t need) {
    if (*cap >= need) return 1;
    size_t want = *cap ? *cap : 4096;
    while (want < need) want *= 2;
    uint8_t *nb = realloc(*buf, want);
    if (!nb) return 0;
    *buf = nb;
    *cap = want;
    return 1;
}

/* ================================================================ writer */

struct pr_cache_writer {
    pr_atomic_file *file;
    char *path;
    pr__cache_layout layout;
    uint64_t header_checksum;
    int zstd_level;
    ZSTD_CCtx *cctx;
    uint8_t *zbuf;        /* compressed payload of the block being flushed */
    size_t zbuf_cap;
    uint8_t *buf;         /* raw payload of the block being filled */
    size_t used, cap;
    uint32_t blk_examples;
    uint64_t blk_features;
    uint64_t offset;      /* file offset of the next byte written */
    uint64_t n_examples;  /* in finished blocks and the current one */
    uint8_t *index;       /* encoded index entries */
    size_t index_used, index_cap;
    uint32_t n_blocks;
    pr_status failed;     /* sticky: first I/O or memory error */
};

static void writer_free(pr_cache_writer *w) {
    ZSTD_freeCCtx(w->cctx);
    free(w->zbuf);
    free(w->buf);
    free(w->index);
    free(w->path);
    free(w);
}

static void encode_file_header(uint8_t h[PR__CACHE_HEADER_SIZE],
                               const pr__cache_layout *L, uint64_t spec) {
    memset(h, 0, PR__CACHE_HEADER_SIZE);
    memcpy(h, PR__CACHE_MAGIC, 8);
    pr__put_le32(h + 8, PR_CACHE_FORMAT_VERSION);
    pr__put_le32(h + 12, L->fields_u16 ? PR__CACHE_FILE_FIELDS_U16 : 0);
    pr__put_le32(h + 16, L->hash_bits);
    pr__put_le32(h + 20, L->n_fields);
    pr__put_le64(h + 24, spec);
    pr__put_le64(h + 56, pr_hash64(h, 56, 0));
}

pr_status pr_cache_writer_open(const char *path, uint32_t hash_bits,
                               uint32_t n_fields, uint64_t spec_fingerprint,
                               pr_cache_writer **out, pr_err *err) {
    pr_status rc = PR_OK;
    uint8_t header[PR__CACHE_HEADER_SIZE];
    pr_cache_writer *w = NULL;
    *out = NULL;
    if (hash_bits < 1 || hash_bits > PR_CACHE_HASH_BITS_MAX) {
        rc = pr_err_set(err, PR_ERR_INVALID, "%s: hash_bits %" PRIu32
                        " out of range: expected 1..%d", path, hash_bits,
                        PR_CACHE_HASH_BITS_MAX);
        goto fail;
    }
    if (n_fields < 1 || n_fields > PR_CACHE_N_FIELDS_MAX) {
        rc = pr_err_set(err, PR_ERR_INVALID, "%s: n_fields %" PRIu32
                        " out of range: expected 1..%d", path, n_fields,
                        PR_CACHE_N_FIELDS_MAX);
        goto fail;
    }
    w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        rc = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    w->layout.hash_bits = hash_bits;
    w->layout.n_fields = n_fields;
    w->layout.fields_u16 = n_fields > 256;
    rc = pr_atomic_open(path, &w->file, err);
    if (rc != PR_OK) goto fail;
    encode_file_header(header, &w->layout, spec_fingerprint);
    w->header_checksum = pr__le64(header + 56);
    rc = pr_atomic_write(w->file, header, sizeof header, err);
    if (rc != PR_OK) goto fail;
    w->offset = PR__CACHE_HEADER_SIZE;
    *out = w;
    return PR_OK;
fail:
    if (w) {
        pr_atomic_abort(w->file);
        writer_free(w);
    }
    return rc;
}

pr_status pr_cache_writer_set_zstd(pr_cache_writer *w, int level, pr_err *err) {
    if (level < 0 || level > 19)
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s: zstd level %d out of range: expected 0..19",
                          w->path, level);
    if (level > 0 && !w->cctx && !(w->cctx = ZSTD_createCCtx()))
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", w->path);
    w->zstd_level = level;
    return PR_OK;
}

uint64_t pr_cache_writer_n_examples(const pr_cache_writer *w) {
    return w->n_examples;
}

/* Writes the current block (if any) and records it in the index. */
static pr_status flush_block(pr_cache_writer *w, pr_err *err) {
    if (w->blk_examples == 0) return PR_OK;
    const uint8_t *payload = w->buf;
    size_t stored = w->used;
    uint32_t flags = 0;
    if (w->zstd_level > 0) {
        size_t bound = ZSTD_compressBound(w->used);
        if (!reserve_keep(&w->zbuf, &w->zbuf_cap, bound))
            return w->failed = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", w->path);
        size_t z = ZSTD_compressCCtx(w->cctx, w->zbuf, w->zbuf_cap, w->buf,
                                     w->used, w->zstd_level);
        if (ZSTD_isError(z))
            return w->failed = pr_err_set(err, PR_ERR_IO, "%s: zstd: %s",
                                          w->path, ZSTD_getErrorName(z));
        if (z < w->used) { /* incompressible blocks stay raw */
            payload = w->zbuf;
            stored = z;
            flags |= PR__CACHE_BLOCK_ZSTD;
        }
    }
    uint8_t h[PR__CACHE_BLOCK_HEADER_SIZE] = {0};
    memcpy(h, PR__CACHE_BLOCK_MAGIC, 4);
    pr__put_le32(h + 4, w->blk_examples);
    pr__put_le32(h + 8, flags);
    pr__put_le64(h + 16, w->blk_features);
    pr__put_le64(h + 24, stored);
    pr__put_le64(h + 32, w->used);
    pr__put_le64(h + 40, pr_hash64(payload, stored, pr_hash64(h, 40, 0)));

    if (!reserve_keep(&w->index, &w->index_cap,
                      w->index_used + PR__CACHE_INDEX_ENTRY_SIZE))
        return w->failed = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", w->path);
    uint8_t *e = w->index + w->index_used;
    memset(e, 0, PR__CACHE_INDEX_ENTRY_SIZE);
    pr__put_le64(e, w->offset);
    pr__put_le32(e + 8, w->blk_examples);
    w->index_used += PR__CACHE_INDEX_ENTRY_SIZE;
    w->n_blocks++;

    pr_status rc = pr_atomic_write(w->file, h, sizeof h, err);
    if (rc == PR_OK) rc = pr_atomic_write(w->file, payload, stored, err);
    if (rc != PR_OK) return w->failed = rc;
    w->offset += sizeof h + stored;
    w->used = 0;
    w->blk_examples = 0;
    w->blk_features = 0;
    return PR_OK;
}

/* Encodes x at o (which has room for the worst case). Returns the bytes
 * written, or 0 if a feature is out of range (*bad = its position). One
 * pass writes indices and fields and counts the values that are not 1;
 * the flags byte learns about those values afterwards. */
static size_t encode_example(uint8_t *o, const pr_example *x,
                             const pr__cache_layout *L, uint32_t *bad) {
    uint8_t *start = o;
    uint32_t n = x->n;
    const pr_feature *f = x->f;
    uint32_t label_bits = f32_bits(x->label);
    uint8_t flags = 0;
    if (label_bits == ONE_F32_BITS) flags |= PR__CACHE_EX_LABEL_ONE;
    else if (label_bits != 0) flags |= PR__CACHE_EX_LABEL_F32;
    if (f32_bits(x->weight) != ONE_F32_BITS) flags |= PR__CACHE_EX_WEIGHT;
    if (x->ts != 0) flags |= PR__CACHE_EX_TS;

    o++; /* flags, below */
    for (uint32_t v = n;; v >>= 7) {
        if (v < 0x80) {
            *o++ = (uint8_t)v;
            break;
        }
        *o++ = (uint8_t)(v | 0x80);
    }
    if (flags & PR__CACHE_EX_LABEL_F32) { pr__put_le32(o, label_bits); o += 4; }
    if (flags & PR__CACHE_EX_WEIGHT) { pr__put_le32(o, f32_bits(x->weight)); o += 4; }
    if (flags & PR__CACHE_EX_TS) { pr__put_le64(o, (uint64_t)x->ts); o += 8; }

    uint64_t index_limit = (uint64_t)1 << L->hash_bits;
    uint8_t *fields = o + (size_t)n * 4;
    uint32_t n_values = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (f[i].index >= index_limit || f[i].field >= L->n_fields) {
            *bad = i;
            return 0;
        }
        pr__put_le32(o + (size_t)i * 4, f[i].index);
        if (L->fields_u16) {
            fields[2 * i] = (uint8_t)f[i].field;
            fields[2 * i + 1] = (uint8_t)(f[i].field >> 8);
        } else {
            fields[i] = (uint8_t)f[i].field;
        }
        n_values += f32_bits(f[i].value) != ONE_F32_BITS;
    }
    o = fields + (size_t)n * (L->fields_u16 ? 2 : 1);
    if (n_values) {
        flags |= PR__CACHE_EX_VALUES;
        uint8_t *bitmap = o;
        memset(bitmap, 0, (n + 7) / 8);
        o += (n + 7) / 8;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t b = f32_bits(f[i].value);
            if (b == ONE_F32_BITS) continue;
            bitmap[i >> 3] |= (uint8_t)(1u << (i & 7));
            pr__put_le32(o, b);
            o += 4;
        }
    }
    start[0] = flags;
    return (size_t)(o - start);
}

/* Checks x's shape against the cache's limits (err names the number the
 * example would get). */
static pr_status check_example(const pr_cache_writer *w, const pr_example *x,
                               pr_err *err) {
    if (x->n > PR__CACHE_EXAMPLE_FEATURES_MAX)
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s: example %" PRIu64 " has %" PRIu32
                          " features: at most %u fit in a cache",
                          w->path, w->n_examples, x->n, PR__CACHE_EXAMPLE_FEATURES_MAX);
    if (x->n > 0 && !x->f)
        return pr_err_set(err, PR_ERR_INVALID, "%s: example %" PRIu64
                          " has n=%" PRIu32 " but no features", w->path,
                          w->n_examples, x->n);
    return PR_OK;
}

static pr_status out_of_range(const pr_cache_writer *w, const pr_example *x,
                              uint32_t bad, pr_err *err) {
    return pr_err_set(err, PR_ERR_INVALID,
                      "%s: example %" PRIu64 ", feature %" PRIu32
                      ": index %" PRIu32 " field %" PRIu32
                      " out of range: expected index < 2^%" PRIu32
                      " and field < %" PRIu32,
                      w->path, w->n_examples, bad, x->f[bad].index,
                      x->f[bad].field, w->layout.hash_bits, w->layout.n_fields);
}

/* Counts one example of n features just appended to the block. */
static pr_status added(pr_cache_writer *w, uint32_t n, pr_err *err) {
    w->blk_examples++;
    w->blk_features += n;
    w->n_examples++;
    if (w->used >= PR__CACHE_BLOCK_TARGET_BYTES ||
        w->blk_examples >= PR__CACHE_BLOCK_MAX_EXAMPLES)
        return flush_block(w, err);
    return PR_OK;
}

size_t pr__cache_encoded_max(uint32_t n) {
    return 1 + 5 + 4 + 4 + 8 + (size_t)n * (4 + 2 + 4) + (n + 7) / 8;
}

pr_status pr_cache_writer_add(pr_cache_writer *w, const pr_example *x,
                              pr_err *err) {
    if (w->failed)
        return pr_err_set(err, w->failed, "%s: an earlier write failed (%s)",
                          w->path, pr_status_str(w->failed));
    pr_status rc = check_example(w, x, err);
    if (rc != PR_OK) return rc;
    if (!reserve_keep(&w->buf, &w->cap, w->used + pr__cache_encoded_max(x->n)))
        return w->failed = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", w->path);
    uint32_t bad = 0;
    size_t len = encode_example(w->buf + w->used, x, &w->layout, &bad);
    if (len == 0) return out_of_range(w, x, bad, err);
    w->used += len;
    return added(w, x->n, err);
}

size_t pr__cache_writer_encode(const pr_cache_writer *w, const pr_example *x,
                               uint8_t *out, pr_err *err) {
    if (f32_bits(x->label) != 0) {
        pr_err_set(err, PR_ERR_INVALID, "%s: an example encoded ahead must "
                   "have label 0 (the label comes when it is added)", w->path);
        return 0;
    }
    if (check_example(w, x, err) != PR_OK) return 0;
    uint32_t bad = 0;
    size_t len = encode_example(out, x, &w->layout, &bad);
    if (len == 0) out_of_range(w, x, bad, err);
    return len;
}

pr_status pr__cache_writer_add_encoded(pr_cache_writer *w, const uint8_t *enc,
                                       size_t len, uint32_t n, int label,
                                       pr_err *err) {
    if (w->failed)
        return pr_err_set(err, w->failed, "%s: an earlier write failed (%s)",
                          w->path, pr_status_str(w->failed));
    if (len == 0 || (enc[0] & (PR__CACHE_EX_LABEL_ONE | PR__CACHE_EX_LABEL_F32)))
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s: not an example encoded without its label", w->path);
    if (!reserve_keep(&w->buf, &w->cap, w->used + len))
        return w->failed = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", w->path);
    uint8_t *o = w->buf + w->used;
    memcpy(o, enc, len);
    /* The flags byte: label 1 is a bit, label 0 none (encode_example). */
    if (label) o[0] |= PR__CACHE_EX_LABEL_ONE;
    w->used += len;
    return added(w, n, err);
}

pr_status pr_cache_writer_close(pr_cache_writer *w, pr_err *err) {
    pr_status rc;
    if (w->failed) {
        rc = pr_err_set(err, w->failed, "%s: an earlier write failed (%s)",
                        w->path, pr_status_str(w->failed));
        goto fail;
    }
    rc = flush_block(w, err);
    if (rc != PR_OK) goto fail;
    uint8_t t[PR__CACHE_TRAILER_SIZE] = {0};
    memcpy(t, PR__CACHE_TRAILER_MAGIC, 8);
    pr__put_le64(t + 8, w->n_examples);
    pr__put_le64(t + 16, w->offset);
    pr__put_le32(t + 24, w->n_blocks);
    pr__put_le64(t + 32, pr_hash64(w->index, w->index_used, 0));
    pr__put_le64(t + 40, pr_hash64(t, 40, w->header_checksum));
    if (w->index_used) rc = pr_atomic_write(w->file, w->index, w->index_used, err);
    if (rc == PR_OK) rc = pr_atomic_write(w->file, t, sizeof t, err);
    if (rc != PR_OK) goto fail;
    rc = pr_atomic_commit(w->file, err); /* frees the file whatever happens */
    w->file = NULL;
    writer_free(w);
    return rc;
fail:
    pr_cache_writer_abort(w);
    return rc;
}

void pr_cache_writer_abort(pr_cache_writer *w) {
    if (!w) return;
    pr_atomic_abort(w->file);
    writer_free(w);
}

/* ================================================================ reader */

typedef struct block_ref {
    uint64_t offset;       /* of the block header */
    uint32_t n_examples;
    uint32_t flags;
    uint64_t n_features;
    uint64_t stored_len;
    uint64_t raw_len;
} block_ref;

struct pr_cache {
    char *path;
    const uint8_t *map;
    size_t size;
    pr__cache_layout layout;
    uint64_t spec_fingerprint;
    uint64_t n_examples;
    uint32_t n_blocks;
    block_ref *blocks;
    int fd;               /* blocks are read with pread (release_pages) */
};

uint64_t pr_cache_n_examples(const pr_cache *c) { return c->n_examples; }
uint32_t pr_cache_hash_bits(const pr_cache *c) { return c->layout.hash_bits; }
uint32_t pr_cache_n_fields(const pr_cache *c) { return c->layout.n_fields; }
uint64_t pr_cache_spec_fingerprint(const pr_cache *c) { return c->spec_fingerprint; }
uint32_t pr_cache_n_blocks(const pr_cache *c) { return c->n_blocks; }
uint64_t pr_cache_file_size(const pr_cache *c) { return c->size; }
uint32_t pr_cache_block_n_examples(const pr_cache *c, uint32_t b) {
    return b < c->n_blocks ? c->blocks[b].n_examples : 0;
}

void pr_cache_close(pr_cache *c) {
    if (!c) return;
    if (c->map && c->size) munmap((void *)c->map, c->size);
    if (c->fd >= 0) close(c->fd);
    free(c->blocks);
    free(c->path);
    free(c);
}

/* Checks the file header; fills c's layout and fingerprint. */
static pr_status check_header(pr_cache *c, pr_err *err) {
    const uint8_t *h = c->map;
    if (c->size < 8 || memcmp(h, PR__CACHE_MAGIC, 8) != 0)
        return pr_err_set(err, PR_ERR_FORMAT,
                          "%s: not a pronto example cache (bad magic)", c->path);
    if (c->size < PR__CACHE_HEADER_SIZE)
        return pr_err_set(err, PR_ERR_TRUNCATED,
                          "%s: truncated (%zu bytes, header needs %d)", c->path,
                          c->size, PR__CACHE_HEADER_SIZE);
    uint32_t version = pr__le32(h + 8);
    if (version != PR_CACHE_FORMAT_VERSION)
        return pr_err_set(err, PR_ERR_VERSION,
                          "%s: cache format version %" PRIu32
                          ", this build reads version %d: delete the cache to rebuild it",
                          c->path, version, PR_CACHE_FORMAT_VERSION);
    if (pr__le64(h + 56) != pr_hash64(h, 56, 0))
        return pr_err_set(err, PR_ERR_CHECKSUM,
                          "%s: header checksum mismatch: the cache is corrupt", c->path);
    uint32_t flags = pr__le32(h + 12);
    c->layout.hash_bits = pr__le32(h + 16);
    c->layout.n_fields = pr__le32(h + 20);
    c->layout.fields_u16 = (flags & PR__CACHE_FILE_FIELDS_U16) != 0;
    c->spec_fingerprint = pr__le64(h + 24);
    if ((flags & ~PR__CACHE_FILE_FIELDS_U16) || c->layout.hash_bits < 1 ||
        c->layout.hash_bits > PR_CACHE_HASH_BITS_MAX || c->layout.n_fields < 1 ||
        c->layout.n_fields > PR_CACHE_N_FIELDS_MAX ||
        (!c->layout.fields_u16 && c->layout.n_fields > 256))
        return pr_err_set(err, PR_ERR_FORMAT,
                          "%s: header: invalid flags 0x%" PRIx32 ", hash_bits %" PRIu32
                          " or n_fields %" PRIu32, c->path, flags,
                          c->layout.hash_bits, c->layout.n_fields);
    return PR_OK;
}

/* Reads one block header at offset (end: where blocks must stop) into r. */
static pr_status check_block_header(const pr_cache *c, uint32_t b, uint64_t offset,
                                    uint64_t end, block_ref *r, pr_err *err) {
    if (offset > end || end - offset < PR__CACHE_BLOCK_HEADER_SIZE)
        return pr_err_set(err, PR_ERR_FORMAT,
                          "%s: block %" PRIu32 " (offset %" PRIu64
                          "): header runs past the block area", c->path, b, offset);
    /* read, not mapped: faulting each header in through the mapping maps
     * its neighbours too (fault-around), the whole file at open */
    uint8_t h[PR__CACHE_BLOCK_HEADER_SIZE];
    ssize_t got;
    do got = pread(c->fd, h, sizeof h, (off_t)offset);
    while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof h)
        return pr_err_errno(err, PR_ERR_IO, got < 0 ? errno : EIO, "%s: block %" PRIu32
                            " (offset %" PRIu64 "): reading its header", c->path, b, offset);
    r->offset = offset;
    r->flags = pr__le32(h + 8);
    r->n_features = pr__le64(h + 16);
    r->stored_len = pr__le64(h + 24);
    r->raw_len = pr__le64(h + 32);
    const char *why = NULL;
    if (memcmp(h, PR__CACHE_BLOCK_MAGIC, 4) != 0) why = "bad block magic";
    else if (pr__le32(h + 4) != r->n_examples) why = "example count disagrees with the index";
    else if (r->flags & ~PR__CACHE_BLOCK_ZSTD) why = "unknown block flags";
    else if (r->stored_len > end - offset - PR__CACHE_BLOCK_HEADER_SIZE)
        why = "payload runs past the block area";
    else if (!(r->flags & PR__CACHE_BLOCK_ZSTD) && r->raw_len != r->stored_len)
        why = "raw block with raw length != stored length";
    else if (r->raw_len > PR__CACHE_BLOCK_RAW_MAX) why = "raw length above the 64 MB limit";
    else if (r->n_features > r->raw_len / 5 || (uint64_t)r->n_examples * 2 > r->raw_len)
        why = "more examples or features than its length can hold";
    if (why)
        return pr_err_set(err, PR_ERR_FORMAT, "%s: block %" PRIu32 " (offset %" PRIu64
                          "): %s: the cache is corrupt", c->path, b, offset, why);
    return PR_OK;
}

/* Checks trailer and index; builds c->blocks. */
static pr_status check_trailer_and_index(pr_cache *c, uint64_t header_checksum,
                                         pr_err *err) {
    if (c->size < PR__CACHE_HEADER_SIZE + PR__CACHE_TRAILER_SIZE ||
        memcmp(c->map + c->size - PR__CACHE_TRAILER_SIZE, PR__CACHE_TRAILER_MAGIC, 8) != 0)
        return pr_err_set(err, PR_ERR_TRUNCATED,
                          "%s: truncated (no trailer): the cache was not finished", c->path);
    const uint8_t *t = c->map + c->size - PR__CACHE_TRAILER_SIZE;
    if (pr__le64(t + 40) != pr_hash64(t, 40, header_checksum))
        return pr_err_set(err, PR_ERR_CHECKSUM,
                          "%s: trailer checksum mismatch: the cache is corrupt", c->path);
    c->n_examples = pr__le64(t + 8);
    uint64_t index_offset = pr__le64(t + 16);
    c->n_blocks = pr__le32(t + 24);
    uint64_t index_len = (uint64_t)c->n_blocks * PR__CACHE_INDEX_ENTRY_SIZE;
    uint64_t index_end = c->size - PR__CACHE_TRAILER_SIZE;
    if (index_offset < PR__CACHE_HEADER_SIZE || index_offset > index_end ||
        index_end - index_offset != index_len)
        return pr_err_set(err, PR_ERR_FORMAT,
                          "%s: trailer: block index (offset %" PRIu64 ", %" PRIu32
                          " blocks) does not fit the file: the cache is corrupt",
                          c->path, index_offset, c->n_blocks);
    const uint8_t *index = c->map + index_offset;
    if (pr__le64(t + 32) != pr_hash64(index, index_len, 0))
        return pr_err_set(err, PR_ERR_CHECKSUM,
                          "%s: block index checksum mismatch: the cache is corrupt", c->path);
    c->blocks = calloc(c->n_blocks ? c->n_blocks : 1, sizeof *c->blocks);
    if (!c->blocks) return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", c->path);
    uint64_t expect = PR__CACHE_HEADER_SIZE, total = 0;
    for (uint32_t b = 0; b < c->n_blocks; b++) {
        const uint8_t *e = index + (uint64_t)b * PR__CACHE_INDEX_ENTRY_SIZE;
        uint64_t offset = pr__le64(e);
        if (offset != expect)
            return pr_err_set(err, PR_ERR_FORMAT,
                              "%s: index: block %" PRIu32 " at offset %" PRIu64
                              ", expected %" PRIu64 ": the cache is corrupt",
                              c->path, b, offset, expect);
        block_ref *r = &c->blocks[b];
        r->n_examples = pr__le32(e + 8);
        pr_status rc = check_block_header(c, b, offset, index_offset, r, err);
        if (rc != PR_OK) return rc;
        expect = offset + PR__CACHE_BLOCK_HEADER_SIZE + r->stored_len;
        total += r->n_examples;
    }
    if (expect != index_offset || total != c->n_examples)
        return pr_err_set(err, PR_ERR_FORMAT,
                          "%s: blocks end at %" PRIu64 " and hold %" PRIu64
                          " examples; the trailer says %" PRIu64 " and %" PRIu64
                          ": the cache is corrupt", c->path, expect, total,
                          index_offset, c->n_examples);
    return PR_OK;
}

pr_status pr_cache_open(const char *path, pr_cache **out, pr_err *err) {
    pr_status rc = PR_OK;
    int fd = -1;
    pr_cache *c = NULL;
    *out = NULL;
    c = calloc(1, sizeof *c);
    if (c) c->fd = -1;
    if (!c || !(c->path = strdup(path))) {
        rc = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open cache", path);
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = pr_err_errno(err, PR_ERR_IO, errno, "%s: stat", path);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = pr_err_set(err, PR_ERR_INVALID, "%s: not a regular file", path);
        goto fail;
    }
    c->size = (size_t)st.st_size;
    if (c->size == 0) {
        rc = pr_err_set(err, PR_ERR_TRUNCATED, "%s: empty file: not a cache", path);
        goto fail;
    }
    void *map = mmap(NULL, c->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = pr_err_errno(err, PR_ERR_IO, errno, "%s: mmap", path);
        c->size = 0;
        goto fail;
    }
    c->map = map;
    c->fd = fd;
    fd = -1;
    rc = check_header(c, err);
    if (rc != PR_OK) goto fail;
    rc = check_trailer_and_index(c, pr__le64(c->map + 56), err);
    if (rc != PR_OK) goto fail;
    /* the checks above mapped every block header's page and its
     * neighbours (fault-around); blocks are read with pread from now on
     * (pr_cache_read_block), so the mapping gives them back */
    madvise((void *)c->map, c->size, MADV_DONTNEED);
    madvise((void *)c->map, c->size, MADV_WILLNEED);
    *out = c;
    return PR_OK;
fail:
    if (fd >= 0) close(fd);
    pr_cache_close(c);
    return rc;
}

void pr_cache_block_init(pr_cache_block *blk) { memset(blk, 0, sizeof *blk); }

void pr_cache_block_free(pr_cache_block *blk) {
    free(blk->ex);
    free(blk->priv_feat);
    free(blk->priv_raw);
    free(blk->priv_io);
    ZSTD_freeDCtx(blk->priv_dctx);
    memset(blk, 0, sizeof *blk);
}

/* Blocks are read with pread into the block object's buffer, not out of
 * the mapping: every page a pass reads through a mapping stays mapped
 * (with its fault-around neighbours, even when the block's own pages are
 * given back with MADV_DONTNEED: measured ~11% of the file after one
 * sequential pass), so a process's RSS grew with the cache: 1.9 GB for 10M
 * Criteo rows. A read costs one copy out of the page cache (~20 us for a
 * 256 KB block); the RSS stays one block per reader. */
static pr_status read_stored(const pr_cache *c, const block_ref *r, pr_cache_block *blk,
                             const uint8_t **out, pr_err *err) {
    uint64_t len = PR__CACHE_BLOCK_HEADER_SIZE + r->stored_len;
    if (!reserve_discard(&blk->priv_io, &blk->priv_io_cap, len))
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", c->path);
    uint8_t *buf = blk->priv_io;
    uint64_t got = 0;
    while (got < len) {
        ssize_t n = pread(c->fd, buf + got, (size_t)(len - got), (off_t)(r->offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: read at offset %" PRIu64,
                                       c->path, r->offset + got);
        if (n == 0) return pr_err_set(err, PR_ERR_TRUNCATED, "%s: the file shrank under "
                                      "the reader (offset %" PRIu64 ")", c->path, r->offset + got);
        got += (uint64_t)n;
    }
    *out = buf;
    return PR_OK;
}

pr_status pr_cache_read_block(const pr_cache *c, uint32_t b, pr_cache_block *blk,
                              pr_err *err) {
    blk->n = 0;
    if (b >= c->n_blocks)
        return pr_err_set(err, PR_ERR_INVALID, "%s: block %" PRIu32
                          " does not exist (the cache has %" PRIu32 ")",
                          c->path, b, c->n_blocks);
    const block_ref *r = &c->blocks[b];
    const uint8_t *h = NULL;
    pr_status rc = read_stored(c, r, blk, &h, err);
    if (rc != PR_OK) return rc;
    const uint8_t *stored = h + PR__CACHE_BLOCK_HEADER_SIZE;
    char where[64 + PR_ERR_MSG_MAX / 2];
    if (pr_hash64(stored, r->stored_len, pr_hash64(h, 40, 0)) != pr__le64(h + 40))
        return pr_err_set(err, PR_ERR_CHECKSUM,
                          "%s: block %" PRIu32 " (offset %" PRIu64
                          "): checksum mismatch: the cache is corrupt; delete it to rebuild",
                          c->path, b, r->offset);
    snprintf(where, sizeof where, "%.*s: block %" PRIu32, PR_ERR_MSG_MAX / 2,
             c->path, b);
    const uint8_t *raw = stored;
    if (r->flags & PR__CACHE_BLOCK_ZSTD) {
        if (!blk->priv_dctx && !(blk->priv_dctx = ZSTD_createDCtx()))
            return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", where);
        if (!reserve_discard(&blk->priv_raw, &blk->priv_raw_cap, r->raw_len))
            return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", where);
        size_t got = ZSTD_decompressDCtx(blk->priv_dctx, blk->priv_raw,
                                         (size_t)r->raw_len, stored, r->stored_len);
        if (ZSTD_isError(got) || got != r->raw_len)
            return pr_err_set(err, PR_ERR_FORMAT, "%s: zstd payload does not decode "
                              "to %" PRIu64 " bytes (%s)", where, r->raw_len,
                              ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size");
        raw = blk->priv_raw;
    }
    return pr__cache_decode_payload(raw, (size_t)r->raw_len, r->n_examples,
                                    r->n_features, &c->layout, blk, where, err);
}

/* ================================================================ decoder */

static pr_status decode_error(pr_cache_block *blk, pr_err *err, const char *where,
                              uint32_t e, const char *what) {
    blk->n = 0;
    return pr_err_set(err, PR_ERR_FORMAT, "%s, example %" PRIu32
                      ": %s: the cache is corrupt", where, e, what);
}

pr_status pr__cache_decode_payload(const uint8_t *p, size_t len,
                                   uint32_t n_examples, uint64_t n_features,
                                   const pr__cache_layout *L,
                                   pr_cache_block *blk, const char *where,
                                   pr_err *err) {
    blk->n = 0;
    /* Every example takes >= 2 bytes, every feature >= 5: refuse counts the
     * payload cannot hold before allocating for them. */
    if ((uint64_t)n_examples * 2 > len || n_features > len / 5)
        return pr_err_set(err, PR_ERR_FORMAT, "%s: %" PRIu32 " examples and %" PRIu64
                          " features cannot fit in %zu bytes: the cache is corrupt",
                          where, n_examples, n_features, len);
    if (blk->priv_ex_cap < n_examples) {
        uint64_t cap = blk->priv_ex_cap;
        void *ex = blk->ex;
        if (!reserve_discard(&ex, &cap, (uint64_t)n_examples * sizeof(pr_example)))
            return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", where);
        blk->ex = ex;
        blk->priv_ex_cap = (uint32_t)(cap / sizeof(pr_example) > UINT32_MAX
                                          ? UINT32_MAX : cap / sizeof(pr_example));
    }
    void *feat = blk->priv_feat;
    uint64_t feat_bytes = blk->priv_feat_cap * sizeof(pr_feature);
    if (!reserve_discard(&feat, &feat_bytes, (n_features ? n_features : 1) * sizeof(pr_feature)))
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", where);
    blk->priv_feat = feat;
    blk->priv_feat_cap = feat_bytes / sizeof(pr_feature);

    const uint8_t *end = p + len;
    pr_feature *f = blk->priv_feat;
    uint64_t feat_left = n_features;
    const uint32_t n_fields = L->n_fields;
    const uint32_t hash_bits = L->hash_bits;
    const size_t field_size = L->fields_u16 ? 2 : 1;
    for (uint32_t e = 0; e < n_examples; e++) {
        pr_example *x = &blk->ex[e];
        if (p >= end) return decode_error(blk, err, where, e, "payload ends early");
        uint32_t flags = *p++;
        if (flags & ~PR__CACHE_EX_KNOWN)
            return decode_error(blk, err, where, e, "unknown example flags");
        uint32_t n = 0;
        for (int shift = 0;; shift += 7) {
            if (p >= end || shift > 28)
                return decode_error(blk, err, where, e, "bad feature count");
            uint32_t byte = *p++;
            n |= (byte & 0x7f) << shift;
            if (!(byte & 0x80)) break;
        }
        size_t fixed = ((flags & PR__CACHE_EX_LABEL_F32) ? 4 : 0) +
                       ((flags & PR__CACHE_EX_WEIGHT) ? 4 : 0) +
                       ((flags & PR__CACHE_EX_TS) ? 8 : 0);
        if ((uint64_t)n > feat_left)
            return decode_error(blk, err, where, e, "more features than the block header says");
        uint64_t need = fixed + (uint64_t)n * (4 + field_size);
        if (need > (uint64_t)(end - p))
            return decode_error(blk, err, where, e, "payload ends early");
        x->label = (flags & PR__CACHE_EX_LABEL_ONE) ? 1.0f : 0.0f;
        if (flags & PR__CACHE_EX_LABEL_F32) { x->label = f32_from_bits(pr__le32(p)); p += 4; }
        x->weight = 1.0f;
        if (flags & PR__CACHE_EX_WEIGHT) { x->weight = f32_from_bits(pr__le32(p)); p += 4; }
        x->ts = 0;
        if (flags & PR__CACHE_EX_TS) { x->ts = (int64_t)pr__le64(p); p += 8; }
        x->n = n;
        x->f = f;

        /* The hot loop: OR the indices and flag bad fields as we go, test
         * once per example. */
        const uint8_t *idx = p;
        const uint8_t *fld = p + (size_t)n * 4;
        uint32_t idx_or = 0, field_bad = 0;
        if (field_size == 1) {
            for (uint32_t i = 0; i < n; i++) {
                uint32_t index = pr__le32(idx + 4 * (size_t)i);
                uint32_t field = fld[i];
                idx_or |= index;
                field_bad |= field >= n_fields;
                f[i].index = index;
                f[i].field = field;
                f[i].value = 1.0f;
            }
        } else {
            for (uint32_t i = 0; i < n; i++) {
                uint32_t index = pr__le32(idx + 4 * (size_t)i);
                uint32_t field = (uint32_t)fld[2 * (size_t)i] | (uint32_t)fld[2 * (size_t)i + 1] << 8;
                idx_or |= index;
                field_bad |= field >= n_fields;
                f[i].index = index;
                f[i].field = field;
                f[i].value = 1.0f;
            }
        }
        if (((uint64_t)idx_or >> hash_bits) | field_bad)
            return decode_error(blk, err, where, e, "feature index or field out of range");
        p += need - fixed;

        if (flags & PR__CACHE_EX_VALUES) {
            size_t bitmap_len = ((size_t)n + 7) / 8;
            if (bitmap_len > (size_t)(end - p))
                return decode_error(blk, err, where, e, "payload ends early");
            const uint8_t *bitmap = p;
            p += bitmap_len;
            for (uint32_t i = 0; i < n; i++) {
                if (!(bitmap[i >> 3] & (1u << (i & 7)))) continue;
                if (end - p < 4) return decode_error(blk, err, where, e, "payload ends early");
                f[i].value = f32_from_bits(pr__le32(p));
                p += 4;
            }
        }
        f += n;
        feat_left -= n;
    }
    if (p != end || feat_left != 0)
        return pr_err_set(err, PR_ERR_FORMAT, "%s: example and feature counts disagree "
                          "with the payload length: the cache is corrupt", where);
    blk->n = n_examples;
    return PR_OK;
}
