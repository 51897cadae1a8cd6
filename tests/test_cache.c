/*
 * test_cache.c: the example cache round-trips examples bit for bit, and
 * refuses damaged, truncated, foreign and unfinished files with errors that
 * say which file and which block.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "data/cache_int.h"
#include "pronto/cache.h"
#include "test.h"

/* ------------------------------------------------------------ helpers */

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Example i of a reproducible mixed set: mostly Criteo-like (39 features,
 * value 1, label 0/1), with every so often an empty example, a weighted one,
 * one with a timestamp, one with non-1 values (including -0.0 and NaN), one
 * with a fractional label and one with many features. feat must hold 5000. */
static pr_example make_example(uint64_t i, uint32_t hash_bits, uint32_t n_fields,
                               pr_feature *feat) {
    uint64_t s = i * 0x9E3779B97F4A7C15ull + 1;
    rng_next(&s);
    pr_example x = {0};
    x.label = (rng_next(&s) % 4 == 0) ? 1.0f : 0.0f;
    x.weight = 1.0f;
    x.f = feat;
    x.n = 39;
    if (i % 97 == 5) x.n = 0;
    if (i % 1013 == 7) x.n = 5000;
    if (i % 11 == 3) x.weight = 0.25f + (float)(i % 7);
    if (i % 13 == 4) x.ts = 1700000000 + (int64_t)i;
    if (i % 17 == 6) x.ts = -(int64_t)i;
    if (i % 19 == 8) x.label = 0.375f;
    uint64_t mask = hash_bits == 32 ? 0xffffffffu : (((uint64_t)1 << hash_bits) - 1);
    for (uint32_t k = 0; k < x.n; k++) {
        feat[k].index = (uint32_t)(rng_next(&s) & mask);
        feat[k].field = (uint32_t)((k + i) % n_fields);
        feat[k].value = 1.0f;
    }
    if (i % 5 == 1 && x.n > 3) {
        feat[0].value = 0.5f;
        feat[x.n - 1].value = -3.25f;
        feat[x.n / 2].value = -0.0f;
    }
    if (i % 23 == 2 && x.n > 3) feat[1].value = NAN;
    return x;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

static void assert_same_example(const pr_example *got, const pr_example *want,
                                uint64_t i) {
    if (!same_bits(got->label, want->label) || !same_bits(got->weight, want->weight) ||
        got->ts != want->ts || got->n != want->n)
        TEST_FAIL("example %llu: label %g/%g weight %g/%g ts %lld/%lld n %u/%u",
                  (unsigned long long)i, got->label, want->label, got->weight,
                  want->weight, (long long)got->ts, (long long)want->ts, got->n, want->n);
    for (uint32_t k = 0; k < want->n; k++) {
        const pr_feature *a = &got->f[k], *b = &want->f[k];
        if (a->index != b->index || a->field != b->field || !same_bits(a->value, b->value))
            TEST_FAIL("example %llu feature %u: (%u,%u,%g) != (%u,%u,%g)",
                      (unsigned long long)i, k, a->field, a->index, a->value,
                      b->field, b->index, b->value);
    }
}

static void write_cache(const char *path, uint64_t n, uint32_t hash_bits,
                        uint32_t n_fields, int zstd_level) {
    pr_err err;
    pr_cache_writer *w;
    pr_feature *feat = malloc(5000 * sizeof *feat);
    ASSERT_OK(pr_cache_writer_open(path, hash_bits, n_fields, 0xfeedbeefcafe1234ull, &w, &err));
    if (zstd_level) ASSERT_OK(pr_cache_writer_set_zstd(w, zstd_level, &err));
    for (uint64_t i = 0; i < n; i++) {
        pr_example x = make_example(i, hash_bits, n_fields, feat);
        ASSERT_OK(pr_cache_writer_add(w, &x, &err));
    }
    ASSERT_EQ_INT(pr_cache_writer_n_examples(w), n);
    ASSERT_OK(pr_cache_writer_close(w, &err));
    free(feat);
}

/* Reads the whole cache and compares it with make_example. */
static void check_cache(const char *path, uint64_t n, uint32_t hash_bits,
                        uint32_t n_fields) {
    pr_err err;
    pr_cache *c;
    pr_feature *feat = malloc(5000 * sizeof *feat);
    ASSERT_OK(pr_cache_open(path, &c, &err));
    ASSERT_EQ_INT(pr_cache_n_examples(c), n);
    ASSERT_EQ_INT(pr_cache_hash_bits(c), hash_bits);
    ASSERT_EQ_INT(pr_cache_n_fields(c), n_fields);
    ASSERT_TRUE(pr_cache_spec_fingerprint(c) == 0xfeedbeefcafe1234ull);
    pr_cache_block blk;
    pr_cache_block_init(&blk);
    uint64_t i = 0;
    for (uint32_t b = 0; b < pr_cache_n_blocks(c); b++) {
        ASSERT_OK(pr_cache_read_block(c, b, &blk, &err));
        ASSERT_EQ_INT(blk.n, pr_cache_block_n_examples(c, b));
        for (uint32_t e = 0; e < blk.n; e++, i++) {
            pr_example want = make_example(i, hash_bits, n_fields, feat);
            assert_same_example(&blk.ex[e], &want, i);
        }
    }
    ASSERT_EQ_INT(i, n);
    pr_cache_block_free(&blk);
    pr_cache_close(c);
    free(feat);
}

static void read_all(const char *path, char **data, size_t *len) {
    pr_err err;
    ASSERT_OK(pr_read_file(path, data, len, &err));
}

static void write_bytes(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ_INT(fwrite(data, 1, len, f), len);
    fclose(f);
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ------------------------------------------------------------ tests */

TEST(roundtrip_many_blocks) {
    const char *path = test_path("many.pcache");
    write_cache(path, 60000, 24, 39, 0);
    check_cache(path, 60000, 24, 39);
    pr_err err;
    pr_cache *c;
    ASSERT_OK(pr_cache_open(path, &c, &err));
    ASSERT_TRUE(pr_cache_n_blocks(c) >= 5);  /* ~12 MB in ~256 KB blocks */
    pr_cache_close(c);
}

TEST(roundtrip_zstd) {
    const char *path = test_path("zstd.pcache");
    write_cache(path, 20000, 20, 39, 1);
    check_cache(path, 20000, 20, 39);
}

TEST(roundtrip_wide_fields_and_32_bits) {
    /* n_fields > 256 switches fields to u16; hash_bits 32 allows any index. */
    const char *path = test_path("wide.pcache");
    write_cache(path, 3000, 32, 1000, 0);
    check_cache(path, 3000, 32, 1000);
}

TEST(empty_cache) {
    const char *path = test_path("empty.pcache");
    write_cache(path, 0, 18, 4, 0);
    pr_err err;
    pr_cache *c;
    ASSERT_OK(pr_cache_open(path, &c, &err));
    ASSERT_EQ_INT(pr_cache_n_examples(c), 0);
    ASSERT_EQ_INT(pr_cache_n_blocks(c), 0);
    pr_cache_block blk;
    pr_cache_block_init(&blk);
    ASSERT_STATUS(pr_cache_read_block(c, 0, &blk, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "block 0 does not exist");
    pr_cache_block_free(&blk);
    pr_cache_close(c);
}

TEST(single_empty_example) {
    const char *path = test_path("one-empty.pcache");
    pr_err err;
    pr_cache_writer *w;
    ASSERT_OK(pr_cache_writer_open(path, 10, 1, 7, &w, &err));
    pr_example x = {.label = 1.0f, .weight = 1.0f, .ts = 0, .n = 0, .f = NULL};
    ASSERT_OK(pr_cache_writer_add(w, &x, &err));
    ASSERT_OK(pr_cache_writer_close(w, &err));
    pr_cache *c;
    ASSERT_OK(pr_cache_open(path, &c, &err));
    pr_cache_block blk;
    pr_cache_block_init(&blk);
    ASSERT_OK(pr_cache_read_block(c, 0, &blk, &err));
    ASSERT_EQ_INT(blk.n, 1);
    ASSERT_EQ_INT(blk.ex[0].n, 0);
    ASSERT_TRUE(blk.ex[0].label == 1.0f);
    pr_cache_block_free(&blk);
    pr_cache_close(c);
}

TEST(writer_refuses_out_of_range_features) {
    const char *path = test_path("range.pcache");
    pr_err err;
    pr_cache_writer *w;
    pr_feature f[2] = {{.index = 5, .field = 1, .value = 1.0f},
                       {.index = 1u << 12, .field = 0, .value = 1.0f}};
    pr_example x = {.label = 0, .weight = 1, .n = 2, .f = f};
    ASSERT_OK(pr_cache_writer_open(path, 12, 3, 0, &w, &err));
    ASSERT_STATUS(pr_cache_writer_add(w, &x, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "example 0, feature 1: index 4096");
    ASSERT_CONTAINS(err.msg, "2^12");
    f[1].index = 3;
    f[1].field = 3;
    ASSERT_STATUS(pr_cache_writer_add(w, &x, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "field < 3");
    /* A refused example does not poison the writer. */
    f[1].field = 2;
    ASSERT_OK(pr_cache_writer_add(w, &x, &err));
    ASSERT_OK(pr_cache_writer_close(w, &err));
    pr_cache *c;
    ASSERT_OK(pr_cache_open(path, &c, &err));
    ASSERT_EQ_INT(pr_cache_n_examples(c), 1);
    pr_cache_close(c);

    ASSERT_STATUS(pr_cache_writer_open(path, 0, 3, 0, &w, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "hash_bits 0");
    ASSERT_STATUS(pr_cache_writer_open(path, 20, 70000, 0, &w, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "n_fields 70000");
}

TEST(nothing_under_the_name_until_close) {
    const char *path = test_path("atomic.pcache");
    pr_err err;
    pr_cache_writer *w;
    pr_feature feat[5000];
    ASSERT_OK(pr_cache_writer_open(path, 20, 39, 0, &w, &err));
    for (uint64_t i = 0; i < 100; i++) {
        pr_example x = make_example(i, 20, 39, feat);
        ASSERT_OK(pr_cache_writer_add(w, &x, &err));
    }
    ASSERT_TRUE(!file_exists(path));
    pr_cache_writer_abort(w);
    ASSERT_TRUE(!file_exists(path));
    pr_cache_writer_abort(NULL);

    pr_cache *c;
    ASSERT_STATUS(pr_cache_open(path, &c, &err), PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, "atomic.pcache: cannot open cache");
}

TEST(corrupt_byte_names_the_block) {
    const char *path = test_path("corrupt.pcache");
    write_cache(path, 20000, 24, 39, 0);
    pr_err err;
    pr_cache *c;
    ASSERT_OK(pr_cache_open(path, &c, &err));
    ASSERT_TRUE(pr_cache_n_blocks(c) >= 3);
    pr_cache_close(c);

    char *data;
    size_t len;
    read_all(path, &data, &len);
    /* Find block 1 through the index (trailer bytes 16..23 hold its offset,
     * entry 1 is 16 bytes in) and flip a byte inside its payload. */
    uint64_t index_offset, block1;
    memcpy(&index_offset, data + len - 48 + 16, 8);
    memcpy(&block1, data + index_offset + 16, 8);
    size_t pos = (size_t)block1 + 48 + 1000;
    ASSERT_TRUE(pos < index_offset);
    data[pos] ^= 0x10;
    const char *bad = test_path("corrupt2.pcache");
    write_bytes(bad, data, len);
    ASSERT_OK(pr_cache_open(bad, &c, &err));  /* headers are intact */
    pr_cache_block blk;
    pr_cache_block_init(&blk);
    ASSERT_OK(pr_cache_read_block(c, 0, &blk, &err));
    ASSERT_STATUS(pr_cache_read_block(c, 1, &blk, &err), PR_ERR_CHECKSUM);
    char want[96];
    snprintf(want, sizeof want, "corrupt2.pcache: block 1 (offset %llu)", (unsigned long long)block1);
    ASSERT_CONTAINS(err.msg, want);
    ASSERT_CONTAINS(err.msg, "checksum mismatch");
    ASSERT_EQ_INT(blk.n, 0);
    ASSERT_OK(pr_cache_read_block(c, 2, &blk, &err));
    pr_cache_block_free(&blk);
    pr_cache_close(c);

    /* A damaged file header is caught at open. */
    data[pos] ^= 0x10;
    data[30] ^= 1;
    write_bytes(bad, data, len);
    ASSERT_STATUS(pr_cache_open(bad, &c, &err), PR_ERR_CHECKSUM);
    ASSERT_CONTAINS(err.msg, "header checksum mismatch");
    /* A damaged trailer too. */
    data[30] ^= 1;
    data[len - 30] ^= 1;
    write_bytes(bad, data, len);
    ASSERT_STATUS(pr_cache_open(bad, &c, &err), PR_ERR_CHECKSUM);
    ASSERT_CONTAINS(err.msg, "trailer checksum mismatch");
    /* And a damaged block header (its example count). */
    data[len - 30] ^= 1;
    data[64 + 4] ^= 1;
    write_bytes(bad, data, len);
    ASSERT_STATUS(pr_cache_open(bad, &c, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "block 0 (offset 64): example count disagrees");
    free(data);
}

TEST(truncated_file_is_refused) {
    const char *path = test_path("trunc.pcache");
    write_cache(path, 5000, 24, 39, 0);
    char *data;
    size_t len;
    read_all(path, &data, &len);
    const char *cut = test_path("cut.pcache");
    size_t cuts[] = {len - 1, len - 48, len / 2, 100, 64, 10};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        pr_err err;
        pr_cache *c;
        write_bytes(cut, data, cuts[k]);
        ASSERT_STATUS(pr_cache_open(cut, &c, &err), PR_ERR_TRUNCATED);
        ASSERT_CONTAINS(err.msg, "cut.pcache: truncated");
        if (cuts[k] >= 64)
            ASSERT_CONTAINS(err.msg, "truncated (no trailer): the cache was not finished");
    }
    pr_err err;
    pr_cache *c;
    write_bytes(cut, data, 0);
    ASSERT_STATUS(pr_cache_open(cut, &c, &err), PR_ERR_TRUNCATED);
    free(data);
}

TEST(wrong_magic_and_version) {
    const char *path = test_path("ver.pcache");
    write_cache(path, 10, 24, 39, 0);
    char *data;
    size_t len;
    read_all(path, &data, &len);
    const char *bad = test_path("ver-bad.pcache");
    pr_err err;
    pr_cache *c;

    data[8] = 2; /* version 2 */
    write_bytes(bad, data, len);
    ASSERT_STATUS(pr_cache_open(bad, &c, &err), PR_ERR_VERSION);
    ASSERT_CONTAINS(err.msg, "cache format version 2, this build reads version 1");

    data[8] = 1;
    data[0] = 'X';
    write_bytes(bad, data, len);
    ASSERT_STATUS(pr_cache_open(bad, &c, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "ver-bad.pcache: not a pronto example cache (bad magic)");

    test_write_file(bad, "label\tI1\tI2\n1\t2\t3\n");
    ASSERT_STATUS(pr_cache_open(bad, &c, &err), PR_ERR_FORMAT);
    free(data);
}

/* Several threads decode disjoint blocks (t, t+nth, ...) and digest them;
 * the digests must equal the single-threaded ones. */
typedef struct digest_job {
    const pr_cache *c;
    uint32_t t, nth;
    uint64_t *digest;  /* one per block */
    int failed;
} digest_job;

static uint64_t digest_block(const pr_cache_block *blk) {
    uint64_t h = blk->n;
    for (uint32_t e = 0; e < blk->n; e++) {
        const pr_example *x = &blk->ex[e];
        h = pr_hash64(&x->label, sizeof x->label, h);
        h = pr_hash64(&x->weight, sizeof x->weight, h);
        h = pr_hash64(&x->ts, sizeof x->ts, h);
        h = pr_hash64(x->f, (size_t)x->n * sizeof *x->f, h + x->n);
    }
    return h;
}

static void *digest_thread(void *arg) {
    digest_job *j = arg;
    pr_cache_block blk;
    pr_err err;
    pr_cache_block_init(&blk);
    for (uint32_t b = j->t; b < pr_cache_n_blocks(j->c); b += j->nth) {
        if (pr_cache_read_block(j->c, b, &blk, &err) != PR_OK) {
            j->failed = 1;
            break;
        }
        j->digest[b] = digest_block(&blk);
    }
    pr_cache_block_free(&blk);
    return NULL;
}

TEST(threads_decode_like_one_thread) {
    const char *path = test_path("threads.pcache");
    write_cache(path, 40000, 22, 39, 0);
    pr_err err;
    pr_cache *c;
    ASSERT_OK(pr_cache_open(path, &c, &err));
    uint32_t nb = pr_cache_n_blocks(c);
    ASSERT_TRUE(nb >= 4);
    uint64_t *one = calloc(nb, sizeof *one), *many = calloc(nb, sizeof *many);
    digest_job solo = {c, 0, 1, one, 0};
    digest_thread(&solo);
    ASSERT_TRUE(!solo.failed);

    enum { NTH = 3 };
    pthread_t th[NTH];
    digest_job jobs[NTH];
    for (uint32_t t = 0; t < NTH; t++) {
        jobs[t] = (digest_job){c, t, NTH, many, 0};
        ASSERT_EQ_INT(pthread_create(&th[t], NULL, digest_thread, &jobs[t]), 0);
    }
    for (uint32_t t = 0; t < NTH; t++) {
        pthread_join(th[t], NULL);
        ASSERT_TRUE(!jobs[t].failed);
    }
    for (uint32_t b = 0; b < nb; b++) ASSERT_TRUE(one[b] == many[b]);
    free(one);
    free(many);
    pr_cache_close(c);
}

/* Hand-encoded payloads, byte by byte as docs/cache-format.md describes them,
 * fed straight to the decoder (a real file would need valid checksums). */
TEST(decoder_follows_the_documented_bytes) {
    pr__cache_layout L = {.hash_bits = 8, .n_fields = 3, .fields_u16 = 0};
    pr_cache_block blk;
    pr_err err;
    pr_cache_block_init(&blk);
    /* Example 0: label 1, weight 2.0, n=2, indices 7 and 200, fields 0 and 2,
     * value of feature 1 is 0.5 (bitmap 0b10). Example 1: label 0, n=0. */
    const uint8_t ok[] = {
        0x01 | 0x04 | 0x10, 2,          /* flags, n */
        0x00, 0x00, 0x00, 0x40,         /* weight 2.0f */
        7, 0, 0, 0, 200, 0, 0, 0,       /* indices */
        0, 2,                           /* fields */
        0x02,                           /* bitmap */
        0x00, 0x00, 0x00, 0x3f,         /* 0.5f */
        0x00, 0,                        /* example 1 */
    };
    ASSERT_OK(pr__cache_decode_payload(ok, sizeof ok, 2, 2, &L, &blk, "t: block 0", &err));
    ASSERT_EQ_INT(blk.n, 2);
    ASSERT_TRUE(blk.ex[0].label == 1.0f && blk.ex[0].weight == 2.0f && blk.ex[0].ts == 0);
    ASSERT_EQ_INT(blk.ex[0].n, 2);
    ASSERT_EQ_INT(blk.ex[0].f[1].index, 200);
    ASSERT_EQ_INT(blk.ex[0].f[1].field, 2);
    ASSERT_TRUE(blk.ex[0].f[0].value == 1.0f && blk.ex[0].f[1].value == 0.5f);
    ASSERT_TRUE(blk.ex[1].label == 0.0f && blk.ex[1].n == 0);

    /* Field 3 with n_fields 3. */
    uint8_t bad_field[sizeof ok];
    memcpy(bad_field, ok, sizeof ok);
    bad_field[15] = 3;
    ASSERT_STATUS(pr__cache_decode_payload(bad_field, sizeof ok, 2, 2, &L, &blk, "t: block 0", &err),
                  PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "t: block 0, example 0: feature index or field out of range");
    ASSERT_EQ_INT(blk.n, 0);
    /* Index 256 with hash_bits 8. */
    uint8_t bad_index[sizeof ok];
    memcpy(bad_index, ok, sizeof ok);
    bad_index[11] = 1;
    ASSERT_STATUS(pr__cache_decode_payload(bad_index, sizeof ok, 2, 2, &L, &blk, "t: block 0", &err),
                  PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "out of range");
    /* Unknown flag bit; payload cut short; counts that disagree. */
    uint8_t bad_flags[sizeof ok];
    memcpy(bad_flags, ok, sizeof ok);
    bad_flags[0] |= 0x80;
    ASSERT_STATUS(pr__cache_decode_payload(bad_flags, sizeof ok, 2, 2, &L, &blk, "t", &err),
                  PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "unknown example flags");
    ASSERT_STATUS(pr__cache_decode_payload(ok, sizeof ok - 3, 2, 2, &L, &blk, "t", &err),
                  PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "payload ends early");
    ASSERT_STATUS(pr__cache_decode_payload(ok, sizeof ok, 1, 2, &L, &blk, "t", &err),
                  PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "counts disagree");
    ASSERT_STATUS(pr__cache_decode_payload(ok, sizeof ok, 2, 1, &L, &blk, "t", &err),
                  PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "more features than the block header says");
    pr_cache_block_free(&blk);
}

int main(void) {
    RUN(roundtrip_many_blocks);
    RUN(roundtrip_zstd);
    RUN(roundtrip_wide_fields_and_32_bits);
    RUN(empty_cache);
    RUN(single_empty_example);
    RUN(writer_refuses_out_of_range_features);
    RUN(nothing_under_the_name_until_close);
    RUN(corrupt_byte_names_the_block);
    RUN(truncated_file_is_refused);
    RUN(wrong_magic_and_version);
    RUN(threads_decode_like_one_thread);
    RUN(decoder_follows_the_documented_bytes);
    TEST_MAIN_END();
}
