/*
 * pronto/cache.h: the binary example cache.
 *
 * `pronto train` featurizes its input once and writes the resulting
 * pr_examples here; every later pass decodes blocks of this file instead of
 * parsing text. The byte format is in docs/cache-format.md and above the
 * writer in src/data/cache.c.
 *
 * Writing:
 *
 *     pr_cache_writer *w;
 *     pr_cache_writer_open("train.pcache", 24, 39, spec_fp, &w, &err);
 *     for each example x: pr_cache_writer_add(w, &x, &err);
 *     pr_cache_writer_close(w, &err);     // commits, or removes the temp file
 *
 * Reading (any number of threads, one pr_cache_block each):
 *
 *     pr_cache *c;  pr_cache_open("train.pcache", &c, &err);
 *     pr_cache_block blk;  pr_cache_block_init(&blk);
 *     for (uint32_t b = t; b < pr_cache_n_blocks(c); b += nth) {
 *         pr_cache_read_block(c, b, &blk, &err);
 *         for (uint32_t i = 0; i < blk.n; i++) use(&blk.ex[i]);
 *     }
 *     pr_cache_block_free(&blk);  pr_cache_close(c);
 *
 * A cache is written to "<path>.tmp.<pid>" and renamed at close, so a file
 * under the real name is always complete; a file without its trailer (a copy
 * cut short, a disk that filled) is refused at open.
 */
#ifndef PRONTO_CACHE_H
#define PRONTO_CACHE_H

#include <stdint.h>

#include "pronto/base.h"
#include "pronto/example.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Current on-disk format version; pr_cache_open refuses any other. */
#define PR_CACHE_FORMAT_VERSION 1

/* Largest hash_bits / n_fields a cache can describe. */
#define PR_CACHE_HASH_BITS_MAX 32
#define PR_CACHE_N_FIELDS_MAX 65536

/* ---------------------------------------------------------------- writer */
typedef struct pr_cache_writer pr_cache_writer;

/* Starts a cache at path (written to a temporary name until close).
 *   hash_bits        every index must be < 2^hash_bits (1..32)
 *   n_fields         every field must be < n_fields (1..65536); fields are
 *                    stored in one byte when n_fields <= 256, else two
 *   spec_fingerprint any 64-bit value the caller uses to recognise the
 *                    feature spec the examples came from; returned as-is by
 *                    pr_cache_spec_fingerprint()
 *   out              OUT: owned by caller; finish with pr_cache_writer_close
 *                    or pr_cache_writer_abort */
pr_status pr_cache_writer_open(const char *path, uint32_t hash_bits,
                               uint32_t n_fields, uint64_t spec_fingerprint,
                               pr_cache_writer **out, pr_err *err);

/* Compresses blocks written from now on with zstd at this level (1..19);
 * 0 (the default) stores them raw. Raw is the faster choice on this
 * project's reference machine (docs/cache-format.md has the measurements);
 * compression pays when the cache does not fit in the page cache. */
pr_status pr_cache_writer_set_zstd(pr_cache_writer *w, int level, pr_err *err);

/* Appends x (copied: x and its features may be reused on return). Fails with
 * PR_ERR_INVALID if an index or field is out of range or n is above
 * 1,000,000. Errors are sticky: once an add has failed for an I/O or memory
 * reason, every later add and the close fail too (a bad example is refused
 * without poisoning the writer). */
pr_status pr_cache_writer_add(pr_cache_writer *w, const pr_example *x,
                              pr_err *err);

/* Number of examples added so far. */
uint64_t pr_cache_writer_n_examples(const pr_cache_writer *w);

/* Writes the last block, the block index and the trailer, fsyncs and renames
 * the temporary over path. Frees w whatever happens; on failure nothing is
 * left under path (the previous file there, if any, is untouched). */
pr_status pr_cache_writer_close(pr_cache_writer *w, pr_err *err);

/* Abandons the cache: removes the temporary and frees w. Accepts NULL. */
void pr_cache_writer_abort(pr_cache_writer *w);

/* ---------------------------------------------------------------- reader */
typedef struct pr_cache pr_cache;

/* Opens and maps a cache; verifies the header (magic, version, checksum),
 * the trailer (present, checksum, example count) and the block index.
 * Block payloads are verified when decoded. out: OUT, owned by caller, free
 * with pr_cache_close. Errors name the file and what is wrong, e.g.
 * "x.pcache: truncated (no trailer): the cache was not finished". */
pr_status pr_cache_open(const char *path, pr_cache **out, pr_err *err);

uint64_t pr_cache_n_examples(const pr_cache *c);
uint32_t pr_cache_hash_bits(const pr_cache *c);
uint32_t pr_cache_n_fields(const pr_cache *c);
uint64_t pr_cache_spec_fingerprint(const pr_cache *c);
uint32_t pr_cache_n_blocks(const pr_cache *c);
/* Examples in block b (from the index; no decoding). b < n_blocks. */
uint32_t pr_cache_block_n_examples(const pr_cache *c, uint32_t b);
/* File size in bytes. */
uint64_t pr_cache_file_size(const pr_cache *c);

/* A decoded block: ex[0..n) with their features. Everything it points to is
 * owned by the block object and valid until the next pr_cache_read_block
 * into it or pr_cache_block_free. Reuse one object across calls: its storage
 * only grows, so steady-state decoding does not allocate. */
typedef struct pr_cache_block {
    pr_example *ex;  /* n examples */
    uint32_t n;
    /* private storage: do not touch */
    uint32_t priv_ex_cap;
    pr_feature *priv_feat;
    uint64_t priv_feat_cap;
    void *priv_raw;          /* decompression buffer */
    uint64_t priv_raw_cap;
    void *priv_dctx;         /* zstd decompression context, made on demand */
} pr_cache_block;

void pr_cache_block_init(pr_cache_block *blk);
/* Releases the block's storage and re-initialises it. Accepts a block that
 * was only initialised. */
void pr_cache_block_free(pr_cache_block *blk);

/* Decodes block b (b < pr_cache_n_blocks) into blk, verifying its checksum.
 * On failure blk->n is 0 and err says which block of which file is bad.
 * Thread-safe with respect to c: several threads may decode at once as long
 * as each uses its own blk. */
pr_status pr_cache_read_block(const pr_cache *c, uint32_t b,
                              pr_cache_block *blk, pr_err *err);

/* Unmaps and frees. Accepts NULL. Blocks decoded earlier stay valid (they
 * hold copies). */
void pr_cache_close(pr_cache *c);

#ifdef __cplusplus
}
#endif
#endif
