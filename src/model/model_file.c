/*
 * model_file.c: the model file, written atomically and verified on load.
 *
 * All integers and floats are little-endian (IEEE-754 binary32 floats).
 * The header and its section directory carry their own checksum, so a
 * corrupt length can never be mistaken for truncation; the payloads are
 * covered by a trailing checksum over the whole file.
 *
 * File layout (n = number of sections, H = 32 + 24 n):
 *
 *   OFFSET   SIZE  DESCRIPTION
 *   0        8     magic "PRONTOMD"
 *   8        4     format version (u32), currently 1
 *   12       4     model kind (u32): 1 lr, 2 ffm, 3 fm
 *   16       4     n, number of sections (u32), 1..16
 *   20       4     reserved, 0
 *   24       8     total file length in bytes (u64)
 *   32       24 n  section directory, one entry per section:
 *                    +0  4  section type (u32, below)
 *                    +4  4  reserved, 0
 *                    +8  8  payload offset from the start of the file (u64)
 *                    +16 8  payload length in bytes (u64)
 *   H        8     header checksum: xxh3-64 of bytes [0, H)
 *   H+8      ...   payloads, back to back in directory order
 *   len-8    8     file checksum: xxh3-64 (pr_checksum) of bytes [0, len-8)
 *
 * Section types (params must come first; unknown types are skipped):
 *
 *   TYPE  NAME     PAYLOAD
 *   1     params   56 bytes, the table below
 *   2     spec     the feature spec YAML text (no NUL, no terminator)
 *   3     info     training metadata, a JSON object text
 *   4     filter   admitted-bucket bitmap, ceil(2^hash_bits / 64) u64 words
 *   5     weights  the model's state floats (weights and optimizer state)
 *   6     weights_sparse  the same floats, all-zero pages left out (below)
 *   7     profile  the reference profile of the training data, opaque here
 *                  (layout: src/monitor/profile_codec.c); kept as bytes and
 *                  decoded by pr_profile_of_model, so a profile this
 *                  reader cannot decode never stops the model loading
 *
 * A file holds exactly one of weights and weights_sparse. The writer picks
 * weights_sparse when at least 1/8 of the pages are all zero (an FFM
 * table's untouched rows, an LR table's never-seen buckets), else weights.
 *
 * Params payload:
 *
 *   OFFSET  SIZE  DESCRIPTION
 *   0       4     kind (u32)            24  4  l1 (f32)
 *   4       4     hash_bits (u32)       28  4  l2 (f32)
 *   8       4     n_fields (u32)        32  4  eta (f32)
 *   12      4     k (u32)               36  4  lambda (f32)
 *   16      4     alpha (f32)           40  4  normalize (u32)
 *   20      4     beta (f32)            44  4  neg_sample_rate (f32)
 *                                       48  8  seed (u64)
 *
 * Weights payload: the kind's state blocks in order (model_int.h), each a
 * plain float array: LR = bias {w, z, sqrt n, 0} then 2^hash_bits such
 * slots; FFM and FM = bias {w, G, 0, 0} then the table in the layout their
 * .c files describe. Its length must equal what params imply.
 *
 * Weights_sparse payload (P = page size in floats, T = total floats):
 *
 *   OFFSET   SIZE  DESCRIPTION
 *   0        8     T, total floats of state (u64), as params imply
 *   8        4     P, page size in floats (u32), 1..16384; the writer
 *                  uses 1024 (4 KiB, the memory page)
 *   12       4     reserved, 0
 *   16       8 W   page bitmap, W = ceil(N / 64) u64 words: page i is bit
 *                  i % 64 of word i / 64, set = stored; bits >= N are 0
 *   16+8W    ...   the stored pages' floats, back to back in page order
 *
 * Pages are cut per state block, not over their concatenation: block b
 * (in order) has ceil(n_b / P) pages, its last one short when P does not
 * divide n_b, and N is the sum over blocks. Per block, a page of the table
 * lines up with a memory page of the mmap'd table (a concatenation would
 * shift it by the 4-float bias block), so loading a stored page commits
 * one page of RAM and a page left out costs nothing. A page left out is
 * all zero bits (-0.0f is stored). The payload length must equal 16 + 8 W
 * plus the stored pages' bytes exactly.
 *
 * Loading checks, in order: magic, version, header checksum, file length
 * (truncation names the section that is cut), directory consistency,
 * params, section sizes, and at the end the file checksum; nothing is
 * returned unless all pass. Weights are read straight into the model's
 * table in 64 MiB read() calls and hashed on the way, one pass over the
 * file; a sparse section reads each run of consecutive stored pages in one
 * call into a table allocated without pre-faulting (pr__model_mem_lazy),
 * so its cost follows the stored pages, not the table. Saving writes
 * through pr_atomic_* (temporary, fsync, rename); the header carries the
 * section lengths, so the writer first scans the blocks for all-zero
 * pages (word-wise OR with early exit), skipping unread the pages a
 * block's touched map says nothing wrote (a lazily filled FFM table's:
 * reading a never-touched page commits it on kernels without the shared
 * zero page, docs/memory.md).
 *
 * Ownership: load returns a model owned by the caller; load_mem borrows
 * the buffer for the call only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model_int.h"

#define MAGIC "PRONTOMD"
#define FORMAT_VERSION 1u
#define HEAD_FIXED 32u
#define DIR_ENTRY 24u
#define MAX_SECTIONS 16u
#define PARAMS_BYTES 56u
#define CHUNK ((size_t)64 << 20)

enum {
    SEC_PARAMS = 1,
    SEC_SPEC = 2,
    SEC_INFO = 3,
    SEC_FILTER = 4,
    SEC_WEIGHTS = 5,
    SEC_WEIGHTS_SPARSE = 6,
    SEC_PROFILE = 7
};

#define SPARSE_HEAD 16u
#define PAGE_FLOATS 1024u               /* what the writer uses */
_Static_assert(PAGE_FLOATS == PR__MODEL_PAGE_FLOATS, "the writer's pages are the touched map's");
/* The reader accepts pages up to 64 KiB (the largest common memory page).
 * A page bit stands for P floats, so this caps the table a sparse file can
 * ask for at 2^19 times the file's size (2^15 with the writer's pages). */
#define MAX_PAGE_FLOATS 16384u

static const char *section_name(uint32_t type) {
    switch (type) {
    case SEC_PARAMS: return "params";
    case SEC_SPEC: return "spec";
    case SEC_INFO: return "info";
    case SEC_FILTER: return "filter";
    case SEC_WEIGHTS: return "weights";
    case SEC_WEIGHTS_SPARSE: return "weights_sparse";
    case SEC_PROFILE: return "profile";
    }
    return "an unknown section";
}

/* ---------------------------------------------------------------- LE codec */

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void putf(uint8_t *p, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    put32(p, v);
}
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) {
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}
static float getf(const uint8_t *p) {
    uint32_t v = get32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_LE 0
static void swap32s(void *p, size_t n) {
    uint32_t *w = p;
    for (size_t i = 0; i < n; i++) w[i] = __builtin_bswap32(w[i]);
}
#else
#define HOST_LE 1
#endif

static void encode_params(uint8_t *b, const pr_model_params *p) {
    put32(b + 0, (uint32_t)p->kind);
    put32(b + 4, p->hash_bits);
    put32(b + 8, p->n_fields);
    put32(b + 12, p->k);
    putf(b + 16, p->alpha);
    putf(b + 20, p->beta);
    putf(b + 24, p->l1);
    putf(b + 28, p->l2);
    putf(b + 32, p->eta);
    putf(b + 36, p->lambda);
    put32(b + 40, (uint32_t)p->normalize);
    putf(b + 44, p->neg_sample_rate);
    put64(b + 48, p->seed);
}

static void decode_params(const uint8_t *b, pr_model_params *p) {
    memset(p, 0, sizeof *p);
    p->kind = (pr_model_kind)get32(b + 0);
    p->hash_bits = get32(b + 4);
    p->n_fields = get32(b + 8);
    p->k = get32(b + 12);
    p->alpha = getf(b + 16);
    p->beta = getf(b + 20);
    p->l1 = getf(b + 24);
    p->l2 = getf(b + 28);
    p->eta = getf(b + 32);
    p->lambda = getf(b + 36);
    uint32_t norm = get32(b + 40);
    p->normalize = norm > 1 ? 2 : (int)norm;  /* 2: rejected by the check */
    p->neg_sample_rate = getf(b + 44);
    p->seed = get64(b + 48);
}

/* ---------------------------------------------------------------- pages */

/* Which pages of the state blocks hold a nonzero bit. Pages are numbered
 * over the blocks in order, each block cut into pages of its own. */
typedef struct page_plan {
    uint32_t page_floats;
    uint64_t n_pages;
    uint64_t stored_pages;
    uint64_t stored_floats;
    uint64_t *bitmap;          /* owned, bitmap_words(n_pages) words */
} page_plan;

static uint64_t pages_of(uint64_t n_floats, uint32_t page_floats) {
    return n_floats / page_floats + (n_floats % page_floats != 0);
}
static uint64_t bitmap_words(uint64_t n_pages) { return n_pages / 64 + (n_pages % 64 != 0); }
static int page_bit(const uint64_t *bitmap, uint64_t i) {
    return (int)(bitmap[i / 64] >> (i % 64) & 1);
}

/* Floats are compared as bit patterns: -0.0f is not zero. */
typedef uint32_t __attribute__((may_alias)) float_bits;

static int all_zero(const float *p, uint64_t n) {
    const float_bits *w = (const float_bits *)p;
    uint64_t i = 0;
    /* OR 64 words between tests: vectorizes, and a page with data exits
     * after its first nonzero 256 bytes. */
    for (; i + 64 <= n; i += 64) {
        uint32_t acc = 0;
        for (int j = 0; j < 64; j++) acc |= w[i + (uint64_t)j];
        if (acc) return 0;
    }
    uint32_t acc = 0;
    for (; i < n; i++) acc |= w[i];
    return acc == 0;
}

/* Fills plan (PAGE_FLOATS pages). Returns 0 when out of memory. */
static int plan_pages(const pr__model_block *blocks, int nb, page_plan *plan) {
    memset(plan, 0, sizeof *plan);
    plan->page_floats = PAGE_FLOATS;
    for (int b = 0; b < nb; b++) plan->n_pages += pages_of(blocks[b].n, PAGE_FLOATS);
    /* +1: never a zero-size request, whose NULL would read as failure. */
    plan->bitmap = calloc((size_t)bitmap_words(plan->n_pages) + 1, 8);
    if (!plan->bitmap) return 0;
    uint64_t page = 0;
    for (int b = 0; b < nb; b++) {
        uint64_t first = page;  /* the block's first page */
        for (uint64_t at = 0; at < blocks[b].n; at += PAGE_FLOATS, page++) {
            uint64_t take = blocks[b].n - at < PAGE_FLOATS ? blocks[b].n - at : PAGE_FLOATS;
            /* a page nothing wrote is zero: not even read (model_int.h) */
            if (!pr__model_page_touched(&blocks[b], page - first) ||
                all_zero(blocks[b].ptr + at, take))
                continue;
            plan->bitmap[page / 64] |= (uint64_t)1 << (page % 64);
            plan->stored_pages++;
            plan->stored_floats += take;
        }
    }
    return 1;
}

static uint64_t sparse_bytes(const page_plan *plan) {
    return SPARSE_HEAD + bitmap_words(plan->n_pages) * 8 + plan->stored_floats * 4;
}

/* Calls fn on every run of consecutive stored pages of the blocks: the
 * floats [from, to) of block b. Stops at the first failure. */
typedef pr_status (*run_fn)(void *ctx, float *p, uint64_t n, pr_err *err);

static pr_status for_each_run(const pr__model_block *blocks, int nb,
                              const uint64_t *bitmap, uint32_t page_floats,
                              run_fn fn, void *ctx, pr_err *err) {
    uint64_t first = 0;  /* number of the block's first page */
    for (int b = 0; b < nb; b++) {
        uint64_t np = pages_of(blocks[b].n, page_floats);
        for (uint64_t i = 0; i < np;) {
            if (!page_bit(bitmap, first + i)) {
                i++;
                continue;
            }
            uint64_t j = i + 1;
            while (j < np && page_bit(bitmap, first + j)) j++;
            uint64_t from = i * page_floats;
            uint64_t to = j * page_floats < blocks[b].n ? j * page_floats : blocks[b].n;
            pr_status rc = fn(ctx, blocks[b].ptr + from, to - from, err);
            if (rc != PR_OK) return rc;
            i = j;
        }
        first += np;
    }
    return PR_OK;
}

/* ---------------------------------------------------------------- save */

typedef struct writer {
    pr_atomic_file *f;
    pr_checksum *ck;
    pr_err *err;
} writer;

static pr_status wr(writer *w, const void *data, size_t n) {
    pr_checksum_update(w->ck, data, n);
    return pr_atomic_write(w->f, data, n, w->err);
}

static pr_status wr_floats(writer *w, const float *p, uint64_t n) {
#if HOST_LE
    while (n > 0) {
        size_t take = n > CHUNK / 4 ? CHUNK / 4 : (size_t)n;
        pr_status rc = wr(w, p, take * 4);
        if (rc != PR_OK) return rc;
        p += take;
        n -= take;
    }
    return PR_OK;
#else
    uint8_t buf[4096];
    while (n > 0) {
        size_t take = n > 1024 ? 1024 : (size_t)n;
        for (size_t i = 0; i < take; i++) putf(buf + 4 * i, p[i]);
        pr_status rc = wr(w, buf, take * 4);
        if (rc != PR_OK) return rc;
        p += take;
        n -= take;
    }
    return PR_OK;
#endif
}

static pr_status write_run(void *ctx, float *p, uint64_t n, pr_err *err) {
    (void)err;  /* the writer reports into its own */
    return wr_floats(ctx, p, n);
}

/* The weights_sparse payload; its length is sparse_bytes(plan). */
static pr_status write_sparse(writer *w, const pr__model_block *blocks, int nb,
                              const page_plan *plan) {
    uint8_t buf[4096];
    uint64_t total = 0;
    for (int b = 0; b < nb; b++) total += blocks[b].n;
    put64(buf, total);
    put32(buf + 8, plan->page_floats);
    put32(buf + 12, 0);
    pr_status rc = wr(w, buf, SPARSE_HEAD);
    uint64_t words = bitmap_words(plan->n_pages);
    for (uint64_t i = 0; i < words && rc == PR_OK;) {
        size_t fill = 0;
        for (; i < words && fill < sizeof buf; i++, fill += 8)
            put64(buf + fill, plan->bitmap[i]);
        rc = wr(w, buf, fill);
    }
    if (rc != PR_OK) return rc;
    return for_each_run(blocks, nb, plan->bitmap, plan->page_floats, write_run,
                        w, w->err);
}

pr_status pr_model_save(const pr_model *m, const char *path, pr_err *err) {
    pr__model_block blocks[PR__MODEL_MAX_BLOCKS];
    int nb = pr__model_blocks(m, blocks);
    uint64_t weight_bytes = 0;
    for (int i = 0; i < nb; i++) weight_bytes += blocks[i].n * 4;
    writer w = {NULL, NULL, err};
    page_plan plan;
    pr_status rc;
    if (!plan_pages(blocks, nb, &plan)) {
        rc = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    /* Sparse pays off once 1/8 of the pages are zero; below that the dense
     * section is as small and needs no bitmap. */
    int sparse = (plan.n_pages - plan.stored_pages) * 8 >= plan.n_pages;

    uint32_t types[6];
    uint64_t lens[6];
    uint32_t n = 0;
    types[n] = SEC_PARAMS, lens[n++] = PARAMS_BYTES;
    if (m->spec) types[n] = SEC_SPEC, lens[n++] = strlen(m->spec);
    if (m->info) types[n] = SEC_INFO, lens[n++] = strlen(m->info);
    if (m->filter)
        types[n] = SEC_FILTER, lens[n++] = pr__model_filter_bytes(m->params.hash_bits);
    if (m->profile) types[n] = SEC_PROFILE, lens[n++] = m->profile_len;
    if (sparse)
        types[n] = SEC_WEIGHTS_SPARSE, lens[n++] = sparse_bytes(&plan);
    else
        types[n] = SEC_WEIGHTS, lens[n++] = weight_bytes;

    uint8_t head[HEAD_FIXED + DIR_ENTRY * 6 + 8];
    uint64_t hlen = HEAD_FIXED + (uint64_t)DIR_ENTRY * n;
    uint64_t off = hlen + 8, total = off + 8;
    for (uint32_t i = 0; i < n; i++) total += lens[i];
    memset(head, 0, sizeof head);
    memcpy(head, MAGIC, 8);
    put32(head + 8, FORMAT_VERSION);
    put32(head + 12, (uint32_t)m->params.kind);
    put32(head + 16, n);
    put64(head + 24, total);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = head + HEAD_FIXED + DIR_ENTRY * i;
        put32(e, types[i]);
        put64(e + 8, off);
        put64(e + 16, lens[i]);
        off += lens[i];
    }
    put64(head + hlen, pr_hash64(head, (size_t)hlen, 0));

    w.ck = pr_checksum_new();
    if (!w.ck) {
        rc = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    rc = pr_atomic_open(path, &w.f, err);
    if (rc != PR_OK) goto fail;
    rc = wr(&w, head, (size_t)hlen + 8);
    for (uint32_t i = 0; i < n && rc == PR_OK; i++) {
        uint8_t pb[PARAMS_BYTES];
        switch (types[i]) {
        case SEC_PARAMS:
            encode_params(pb, &m->params);
            rc = wr(&w, pb, PARAMS_BYTES);
            break;
        case SEC_SPEC: rc = wr(&w, m->spec, (size_t)lens[i]); break;
        case SEC_INFO: rc = wr(&w, m->info, (size_t)lens[i]); break;
        case SEC_PROFILE: rc = wr(&w, m->profile, (size_t)lens[i]); break;
        case SEC_FILTER:
            /* 64-bit words, little-endian: as floats, a word is two u32s
             * low half first, which on a little-endian host is memory order. */
#if HOST_LE
            rc = wr(&w, m->filter, (size_t)lens[i]);
#else
            for (uint64_t j = 0; j < lens[i] / 8 && rc == PR_OK; j++) {
                uint8_t wb[8];
                put64(wb, m->filter[j]);
                rc = wr(&w, wb, 8);
            }
#endif
            break;
        case SEC_WEIGHTS:
            for (int b = 0; b < nb && rc == PR_OK; b++)
                rc = wr_floats(&w, blocks[b].ptr, blocks[b].n);
            break;
        case SEC_WEIGHTS_SPARSE: rc = write_sparse(&w, blocks, nb, &plan); break;
        }
    }
    if (rc != PR_OK) goto fail;
    uint8_t tail[8];
    put64(tail, pr_checksum_digest(w.ck));
    rc = pr_atomic_write(w.f, tail, 8, err);
    if (rc != PR_OK) goto fail;
    pr_atomic_file *f = w.f;
    w.f = NULL;
    rc = pr_atomic_commit(f, err);
    if (rc != PR_OK) goto fail;
    free(plan.bitmap);
    pr_checksum_free(w.ck);
    return PR_OK;
fail:
    free(plan.bitmap);
    pr_atomic_abort(w.f);
    pr_checksum_free(w.ck);
    return rc;
}

/* ---------------------------------------------------------------- load */

/* A byte source: a file descriptor or a memory buffer, read sequentially
 * and hashed as it goes. */
typedef struct source {
    const char *name;
    int fd;                 /* -1 for memory */
    const uint8_t *mem;
    uint64_t len;           /* bytes available */
    uint64_t pos;
    pr_checksum *ck;
} source;

/* Reads exactly n bytes (the caller checked they exist) into dst. */
static pr_status src_read(source *s, void *dst, uint64_t n, pr_err *err) {
    uint8_t *d = dst;
    if (s->fd < 0) {
        memcpy(d, s->mem + s->pos, (size_t)n);
        pr_checksum_update(s->ck, d, (size_t)n);
        s->pos += n;
        return PR_OK;
    }
    while (n > 0) {
        size_t take = n > CHUNK ? CHUNK : (size_t)n;
        ssize_t got = read(s->fd, d, take);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0)
            return pr_err_errno(err, PR_ERR_IO, errno, "%s: read", s->name);
        if (got == 0)
            return pr_err_set(err, PR_ERR_TRUNCATED,
                              "%s: truncated: file shrank while being read",
                              s->name);
        pr_checksum_update(s->ck, d, (size_t)got);
        d += got;
        n -= (uint64_t)got;
        s->pos += (uint64_t)got;
    }
    return PR_OK;
}

static pr_status src_read_floats(source *s, float *dst, uint64_t n,
                                 pr_err *err) {
    pr_status rc = src_read(s, dst, n * 4, err);
#if !HOST_LE
    if (rc == PR_OK) swap32s(dst, (size_t)n);
#endif
    return rc;
}

typedef struct dir_entry {
    uint32_t type;
    uint64_t off, len;
} dir_entry;

static pr_status corrupt(const source *s, pr_err *err) {
    return pr_err_set(err, PR_ERR_CHECKSUM, "%s: checksum mismatch (file corrupt)",
                      s->name);
}

/* The file is shorter than its header says: name the section that is cut. */
static pr_status truncated(const source *s, const dir_entry *dir, uint32_t n,
                           pr_err *err) {
    for (uint32_t i = 0; i < n; i++) {
        if (dir[i].off + dir[i].len <= s->len) continue;
        uint64_t have = s->len > dir[i].off ? s->len - dir[i].off : 0;
        return pr_err_set(err, PR_ERR_TRUNCATED,
                          "%s: truncated: expected %llu bytes of %s, file ends after %llu",
                          s->name, (unsigned long long)dir[i].len,
                          section_name(dir[i].type), (unsigned long long)have);
    }
    return pr_err_set(err, PR_ERR_TRUNCATED,
                      "%s: truncated: the 8-byte checksum at the end is missing "
                      "(file is %llu bytes)", s->name, (unsigned long long)s->len);
}

static pr_status read_text(source *s, const dir_entry *e, char **out,
                           pr_err *err) {
    char *t = malloc((size_t)e->len + 1);
    if (!t) return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", s->name);
    pr_status rc = src_read(s, t, e->len, err);
    if (rc != PR_OK) goto fail;
    t[e->len] = '\0';
    if (strlen(t) != e->len) {
        rc = pr_err_set(err, PR_ERR_FORMAT, "%s: %s section contains a NUL byte",
                        s->name, section_name(e->type));
        goto fail;
    }
    *out = t;
    return PR_OK;
fail:
    free(t);
    return rc;
}

static pr_status read_run(void *ctx, float *p, uint64_t n, pr_err *err) {
    return src_read_floats(ctx, p, n, err);
}

static pr_status sparse_err(const source *s, pr_err *err, const char *what) {
    return pr_err_set(err, PR_ERR_FORMAT, "%s: weights_sparse: %s", s->name, what);
}

/* The payload after the bitmap is not the stored pages: says how many of
 * them (in page order) it does hold, and any bytes beyond whole pages. */
static pr_status pages_mismatch(const source *s, const pr__model_block *blocks,
                                int nb, const uint64_t *bitmap, uint32_t page,
                                uint64_t stored, uint64_t avail, pr_err *err) {
    uint64_t holds = 0, left = avail, g = 0;
    int all_fit = 1;
    for (int b = 0; b < nb && all_fit; b++) {
        uint64_t np = pages_of(blocks[b].n, page);
        for (uint64_t i = 0; i < np; i++, g++) {
            if (!page_bit(bitmap, g)) continue;
            uint64_t bytes = (i + 1 < np ? page : blocks[b].n - i * page) * 4;
            if (left < bytes) {
                all_fit = 0;
                break;
            }
            left -= bytes;
            holds++;
        }
    }
    if (all_fit) {
        holds += left / ((uint64_t)page * 4);
        left %= (uint64_t)page * 4;
    }
    char what[160];
    if (left > 0)
        snprintf(what, sizeof what, "bitmap says %llu pages, payload holds %llu "
                 "and %llu bytes", (unsigned long long)stored,
                 (unsigned long long)holds, (unsigned long long)left);
    else
        snprintf(what, sizeof what, "bitmap says %llu pages, payload holds %llu",
                 (unsigned long long)stored, (unsigned long long)holds);
    return sparse_err(s, err, what);
}

/* A weights_sparse section: checks its head against params and its length
 * against the bitmap before anything else, creates the model with a table
 * that is not pre-faulted (pages left out stay untouched zeros), then reads
 * the stored pages into place, one read per run of consecutive pages. */
static pr_status load_sparse(source *s, const dir_entry *e,
                             const pr_model_params *p, pr_model **out,
                             pr_err *err) {
    uint8_t h[SPARSE_HEAD];
    uint64_t *bitmap = NULL;
    pr_model *m = NULL;
    char what[160];
    pr_status rc;
    if (e->len < SPARSE_HEAD) {
        snprintf(what, sizeof what, "section has %llu bytes, expected at least %u",
                 (unsigned long long)e->len, SPARSE_HEAD);
        return sparse_err(s, err, what);
    }
    rc = src_read(s, h, SPARSE_HEAD, err);
    if (rc != PR_OK) return rc;
    uint64_t total = get64(h);
    uint32_t page = get32(h + 8), reserved = get32(h + 12);
    const pr__model_ops *ops = p->kind == PR_MODEL_KIND_LR ? &pr__model_lr_ops
                             : p->kind == PR_MODEL_KIND_FFM ? &pr__model_ffm_ops
                             : &pr__model_fm_ops;
    uint64_t want = ops->state_floats(p);
    if (total != want) {
        snprintf(what, sizeof what, "%llu floats, params imply %llu",
                 (unsigned long long)total, (unsigned long long)want);
        return sparse_err(s, err, what);
    }
    if (page == 0 || page > MAX_PAGE_FLOATS) {
        snprintf(what, sizeof what, "page size %u floats, expected 1..%u", page,
                 MAX_PAGE_FLOATS);
        return sparse_err(s, err, what);
    }
    if (reserved != 0) {
        snprintf(what, sizeof what, "reserved field is %u, expected 0", reserved);
        return sparse_err(s, err, what);
    }
    /* Every block has at least its share of ceil(total / page) pages, so the
     * bitmap alone bounds the table by the file's size: a short file cannot
     * make us allocate a huge table. */
    uint64_t body = e->len - SPARSE_HEAD;
    uint64_t n_pages = pages_of(total, page);
    if (body < bitmap_words(n_pages) * 8) goto short_bitmap;

    int was = pr__model_mem_lazy(1);
    rc = pr__model_create(p, 0, &m, err);
    pr__model_mem_lazy(was);
    if (rc != PR_OK) return rc;
    pr__model_block blocks[PR__MODEL_MAX_BLOCKS];
    int nb = pr__model_blocks(m, blocks);
    n_pages = 0;
    for (int b = 0; b < nb; b++) n_pages += pages_of(blocks[b].n, page);
    uint64_t words = bitmap_words(n_pages);
    if (body < words * 8) goto short_bitmap;
    bitmap = malloc((size_t)words * 8);
    if (!bitmap) {
        rc = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", s->name);
        goto fail;
    }
    rc = src_read(s, bitmap, words * 8, err);
    if (rc != PR_OK) goto fail;
    for (uint64_t i = 0; i < words; i++) bitmap[i] = get64((const uint8_t *)&bitmap[i]);
    if (n_pages % 64 != 0 && bitmap[words - 1] >> (n_pages % 64) != 0) {
        snprintf(what, sizeof what, "bitmap has bits set beyond its %llu pages",
                 (unsigned long long)n_pages);
        rc = sparse_err(s, err, what);
        goto fail;
    }
    uint64_t stored = 0, stored_floats = 0, g = 0;
    for (int b = 0; b < nb; b++) {
        uint64_t np = pages_of(blocks[b].n, page);
        /* the table's map (model_int.h): the pages read below, no others */
        if (blocks[b].touched)
            memset(blocks[b].touched, 0, (size_t)(pr__model_pages(blocks[b].n) + 63) / 64 * 8);
        for (uint64_t i = 0; i < np; i++, g++) {
            if (!page_bit(bitmap, g)) continue;
            stored++;
            uint64_t take = i + 1 < np ? page : blocks[b].n - i * page;
            stored_floats += take;
            pr__model_touch(blocks[b].touched, i * page, take);
        }
    }
    if (body - words * 8 != stored_floats * 4) {
        rc = pages_mismatch(s, blocks, nb, bitmap, page, stored, body - words * 8,
                            err);
        goto fail;
    }
    rc = for_each_run(blocks, nb, bitmap, page, read_run, s, err);
    if (rc != PR_OK) goto fail;
    free(bitmap);
    *out = m;
    return PR_OK;
short_bitmap:
    snprintf(what, sizeof what, "section has %llu bytes, too short for the "
             "bitmap of %llu pages", (unsigned long long)e->len,
             (unsigned long long)n_pages);
    rc = sparse_err(s, err, what);
fail:
    free(bitmap);
    pr_model_free(m);
    return rc;
}

static pr_status load_source(source *s, pr_model **out, pr_err *err) {
    uint8_t head[HEAD_FIXED + DIR_ENTRY * MAX_SECTIONS + 8];
    dir_entry dir[MAX_SECTIONS];
    pr_model *m = NULL;
    pr_model_params p;
    char *spec = NULL, *info = NULL;
    uint64_t *filter = NULL;
    uint8_t *profile = NULL;
    uint64_t profile_len = 0;
    int have_params = 0, have_weights = 0;
    pr_status rc;

    *out = NULL;
    uint64_t first = s->len < HEAD_FIXED ? s->len : HEAD_FIXED;
    rc = src_read(s, head, first, err);
    if (rc != PR_OK) goto fail;
    if (memcmp(head, MAGIC, first < 8 ? (size_t)first : 8) != 0 || first == 0) {
        rc = pr_err_set(err, PR_ERR_FORMAT, "%s: not a pronto model file (bad magic)",
                        s->name);
        goto fail;
    }
    if (first < HEAD_FIXED) {
        rc = pr_err_set(err, PR_ERR_TRUNCATED,
                        "%s: truncated: expected a %u-byte header, file ends after %llu",
                        s->name, HEAD_FIXED, (unsigned long long)first);
        goto fail;
    }
    uint32_t version = get32(head + 8);
    if (version > FORMAT_VERSION) {
        rc = pr_err_set(err, PR_ERR_VERSION,
                        "%s: format version %u is newer than this pronto supports (%u)",
                        s->name, version, FORMAT_VERSION);
        goto fail;
    }
    uint32_t n = get32(head + 16);
    if (version == 0 || n < 1 || n > MAX_SECTIONS) {
        rc = corrupt(s, err);
        goto fail;
    }
    uint64_t hlen = HEAD_FIXED + (uint64_t)DIR_ENTRY * n;
    if (s->len < hlen + 8) {
        rc = pr_err_set(err, PR_ERR_TRUNCATED,
                        "%s: truncated: expected a %llu-byte header, file ends after %llu",
                        s->name, (unsigned long long)(hlen + 8),
                        (unsigned long long)s->len);
        goto fail;
    }
    rc = src_read(s, head + HEAD_FIXED, hlen + 8 - HEAD_FIXED, err);
    if (rc != PR_OK) goto fail;
    if (get64(head + hlen) != pr_hash64(head, (size_t)hlen, 0)) {
        rc = corrupt(s, err);
        goto fail;
    }
    uint64_t total = get64(head + 24);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = head + HEAD_FIXED + DIR_ENTRY * i;
        dir[i].type = get32(e);
        dir[i].off = get64(e + 8);
        dir[i].len = get64(e + 16);
    }
    if (s->len < total) {
        rc = truncated(s, dir, n, err);
        goto fail;
    }
    if (s->len > total) {
        rc = pr_err_set(err, PR_ERR_FORMAT,
                        "%s: %llu unexpected bytes after the end of the model "
                        "(header says %llu bytes)", s->name,
                        (unsigned long long)(s->len - total),
                        (unsigned long long)total);
        goto fail;
    }
    /* The directory is checksummed, so an inconsistency here is a writer
     * bug, not a flipped bit: report it as a format error. */
    uint64_t at = hlen + 8;
    for (uint32_t i = 0; i < n; i++) {
        if (dir[i].off != at || dir[i].len > total - 8 - at) {
            rc = pr_err_set(err, PR_ERR_FORMAT,
                            "%s: section %u (%s) at offset %llu, length %llu does "
                            "not follow the previous one", s->name, i,
                            section_name(dir[i].type),
                            (unsigned long long)dir[i].off,
                            (unsigned long long)dir[i].len);
            goto fail;
        }
        at += dir[i].len;
    }
    if (at != total - 8 || dir[0].type != SEC_PARAMS) {
        rc = pr_err_set(err, PR_ERR_FORMAT,
                        "%s: %s", s->name, dir[0].type != SEC_PARAMS
                            ? "the first section must be params"
                            : "sections do not end where the checksum begins");
        goto fail;
    }

    for (uint32_t i = 0; i < n; i++) {
        const dir_entry *e = &dir[i];
        int dup = (e->type == SEC_PARAMS && have_params) ||
                  (e->type == SEC_SPEC && spec) || (e->type == SEC_INFO && info) ||
                  (e->type == SEC_FILTER && filter) ||
                  (e->type == SEC_PROFILE && profile) ||
                  ((e->type == SEC_WEIGHTS || e->type == SEC_WEIGHTS_SPARSE) &&
                   have_weights);
        if (dup) {
            rc = pr_err_set(err, PR_ERR_FORMAT, "%s: duplicate %s section",
                            s->name, section_name(e->type));
            goto fail;
        }
        if (e->type == SEC_PARAMS) {
            uint8_t pb[PARAMS_BYTES];
            if (e->len != PARAMS_BYTES) {
                rc = pr_err_set(err, PR_ERR_FORMAT,
                                "%s: params section has %llu bytes, expected %u",
                                s->name, (unsigned long long)e->len, PARAMS_BYTES);
                goto fail;
            }
            rc = src_read(s, pb, PARAMS_BYTES, err);
            if (rc != PR_OK) goto fail;
            decode_params(pb, &p);
            pr_err perr;
            if (pr_model_params_check(&p, &perr) != PR_OK) {
                rc = pr_err_set(err, PR_ERR_FORMAT, "%s: bad params section: %s",
                                s->name, perr.msg);
                goto fail;
            }
            if ((uint32_t)p.kind != get32(head + 12)) {
                rc = pr_err_set(err, PR_ERR_FORMAT,
                                "%s: header says kind %u, params say %u", s->name,
                                get32(head + 12), (uint32_t)p.kind);
                goto fail;
            }
            have_params = 1;
        } else if (e->type == SEC_SPEC) {
            rc = read_text(s, e, &spec, err);
            if (rc != PR_OK) goto fail;
        } else if (e->type == SEC_INFO) {
            rc = read_text(s, e, &info, err);
            if (rc != PR_OK) goto fail;
        } else if (e->type == SEC_FILTER) {
            uint64_t want = pr__model_filter_bytes(p.hash_bits);
            if (e->len != want) {
                rc = pr_err_set(err, PR_ERR_FORMAT,
                                "%s: filter section has %llu bytes, hash_bits %u "
                                "implies %llu", s->name, (unsigned long long)e->len,
                                p.hash_bits, (unsigned long long)want);
                goto fail;
            }
            filter = malloc((size_t)want);
            if (!filter) {
                rc = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", s->name);
                goto fail;
            }
            rc = src_read(s, filter, want, err);
            if (rc != PR_OK) goto fail;
#if !HOST_LE
            for (uint64_t j = 0; j < want / 8; j++)
                filter[j] = get64((const uint8_t *)&filter[j]);
#endif
        } else if (e->type == SEC_PROFILE) {
            /* bounded by the file's length, checked above */
            profile = malloc(e->len ? (size_t)e->len : 1);
            if (!profile) {
                rc = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", s->name);
                goto fail;
            }
            rc = src_read(s, profile, e->len, err);
            if (rc != PR_OK) goto fail;
            profile_len = e->len;
        } else if (e->type == SEC_WEIGHTS) {
            const pr__model_ops *ops = p.kind == PR_MODEL_KIND_LR ? &pr__model_lr_ops
                                     : p.kind == PR_MODEL_KIND_FFM ? &pr__model_ffm_ops
                                     : &pr__model_fm_ops;
            uint64_t want = ops->state_floats(&p) * 4;
            if (e->len != want) {
                rc = pr_err_set(err, PR_ERR_FORMAT,
                                "%s: weights section has %llu bytes, params imply %llu",
                                s->name, (unsigned long long)e->len,
                                (unsigned long long)want);
                goto fail;
            }
            rc = pr__model_create(&p, 0, &m, err);
            if (rc != PR_OK) goto fail;
            pr__model_block blocks[PR__MODEL_MAX_BLOCKS];
            int nb = pr__model_blocks(m, blocks);
            for (int b = 0; b < nb && rc == PR_OK; b++)
                rc = src_read_floats(s, blocks[b].ptr, blocks[b].n, err);
            if (rc != PR_OK) goto fail;
            have_weights = 1;
        } else if (e->type == SEC_WEIGHTS_SPARSE) {
            rc = load_sparse(s, e, &p, &m, err);
            if (rc != PR_OK) goto fail;
            have_weights = 1;
        } else {
            /* Unknown section from a compatible writer: hash and skip. */
            uint8_t skip[4096];
            uint64_t left = e->len;
            while (left > 0 && rc == PR_OK) {
                uint64_t take = left > sizeof skip ? sizeof skip : left;
                rc = src_read(s, skip, take, err);
                left -= take;
            }
            if (rc != PR_OK) goto fail;
        }
    }
    if (!have_weights) {
        rc = pr_err_set(err, PR_ERR_FORMAT, "%s: no weights section", s->name);
        goto fail;
    }
    uint64_t digest = pr_checksum_digest(s->ck);
    uint8_t tail[8];
    rc = src_read(s, tail, 8, err);
    if (rc != PR_OK) goto fail;
    if (get64(tail) != digest) {
        rc = corrupt(s, err);
        goto fail;
    }
    m->spec = spec;
    m->info = info;
    m->filter = filter;
    m->profile = profile;
    m->profile_len = (size_t)profile_len;
    *out = m;
    return PR_OK;
fail:
    pr_model_free(m);
    free(spec);
    free(info);
    free(filter);
    free(profile);
    return rc;
}

pr_status pr_model_load_mem(const void *data, size_t len, const char *name,
                            pr_model **out, pr_err *err) {
    source s = {name ? name : "(memory)", -1, data, len, 0, pr_checksum_new()};
    *out = NULL;
    if (!s.ck) return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", s.name);
    pr_status rc = load_source(&s, out, err);
    pr_checksum_free(s.ck);
    return rc;
}

pr_status pr_model_load(const char *path, pr_model **out, pr_err *err) {
    *out = NULL;
    /* O_NONBLOCK: a FIFO without a writer must not block open(); the
     * opened descriptor is then checked, so nothing but a regular file is
     * read (and a regular file's reads never block). */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return pr_err_errno(err, PR_ERR_IO, e, "%s: cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return pr_err_set(err, PR_ERR_IO, "%s: not a regular file", path);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    source s = {path, fd, NULL, (uint64_t)st.st_size, 0, pr_checksum_new()};
    pr_status rc = s.ck ? load_source(&s, out, err)
                        : pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", path);
    pr_checksum_free(s.ck);
    close(fd);
    return rc;
}
