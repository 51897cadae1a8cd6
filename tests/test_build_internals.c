/*
 * test_build_internals.c: the pieces the dataset builder's speed rests on,
 * each against a plain reference:
 *   - pr__tsqueue (FIFO + heap) pops in (key, id) order whatever the push
 *     order, like a sort;
 *   - pr__tsidmap with grouped homes: sequential ids, ids that are all
 *     multiples of 4, inserts/deletes interleaved, against a bitmap;
 *   - pr__payloads: bytes survive until released, chunks are reused (the
 *     pool does not grow in a steady state), large payloads;
 *   - pr__rowmem: blocks are 64-byte aligned, distinct, reused by size;
 *   - the cache's two-step add (encode without label, add with it) writes
 *     the same file as pr_cache_writer_add.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "data/cache_encoded.h"
#include "fstore/fs_rowmem.h"
#include "pronto/cache.h"
#include "stream/stream_int.h"
#include "test.h"

static uint64_t rng_next(uint64_t *s) {
    *s += 0x9E3779B97F4A7C15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int node_cmp(const void *a, const void *b) {
    const pr__tsnode *x = a, *y = b;
    return pr__tsnode_less(x, y) ? -1 : pr__tsnode_less(y, x) ? 1 : 0;
}

TEST(queue_pops_in_key_id_order) {
    enum { N = 20000 };
    pr__tsnode *ref = malloc(N * sizeof *ref);
    ASSERT_TRUE(ref);
    pr__tsqueue q = {0};
    uint64_t s = 7;
    int64_t t = 0;
    for (uint32_t i = 0; i < N; i++) {
        /* Mostly increasing times, some late by up to 50, ties on purpose. */
        uint64_t r = rng_next(&s);
        t += (int64_t)(r % 3);
        int64_t key = r % 5 == 0 ? t - (int64_t)(r >> 40) % 50 : t;
        ref[i] = (pr__tsnode){key, r >> 48, i};
        ASSERT_TRUE(pr__tsqueue_push(&q, ref[i].key, ref[i].id, ref[i].idx));
    }
    ASSERT_TRUE(q.heap.n > 0 && q.n > 0); /* both halves in use */
    qsort(ref, N, sizeof *ref, node_cmp);
    for (uint32_t i = 0; i < N; i++) {
        const pr__tsnode *top = pr__tsqueue_top(&q);
        ASSERT_TRUE(top);
        ASSERT_TRUE(top->key == ref[i].key && top->id == ref[i].id);
        pr__tsqueue_pop(&q);
    }
    ASSERT_TRUE(pr__tsqueue_top(&q) == NULL);
    ASSERT_EQ_INT(pr__tsqueue_size(&q), 0);
    pr__tsqueue_free(&q);
    free(ref);
}

static void map_against_bitmap(uint64_t stride) {
    enum { N = 50000 };
    uint8_t *in = calloc(N, 1);
    ASSERT_TRUE(in);
    pr__tsidmap m = {0};
    uint64_t s = stride;
    for (uint32_t round = 0; round < 4 * N; round++) {
        uint32_t i = (uint32_t)(rng_next(&s) % N);
        uint64_t key = (uint64_t)i * stride;
        if (in[i]) {
            ASSERT_EQ_INT(pr__tsidmap_put_new(&m, key, 1), 0);
            ASSERT_EQ_INT(*pr__tsidmap_get(&m, key), i);
            ASSERT_EQ_INT(pr__tsidmap_del(&m, key), 1);
            in[i] = 0;
        } else {
            ASSERT_TRUE(pr__tsidmap_get(&m, key) == NULL);
            ASSERT_EQ_INT(pr__tsidmap_put_new(&m, key, i), 1);
            in[i] = 1;
        }
    }
    size_t n = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t *v = pr__tsidmap_get(&m, (uint64_t)i * stride);
        ASSERT_EQ_INT(v != NULL, in[i]);
        if (v) ASSERT_EQ_INT(*v, i);
        n += in[i];
    }
    ASSERT_EQ_INT(m.n, n);
    pr__tsidmap_free(&m);
    free(in);
}

TEST(idmap_sequential_and_strided_keys) {
    map_against_bitmap(1);    /* runs of 4 share a cache line */
    map_against_bitmap(4);    /* every key has low bits 00 */
    map_against_bitmap(1024); /* and more zero bits */
}

TEST(payloads_survive_and_chunks_are_reused) {
    enum { LIVE = 3000, ROUNDS = 30000 };
    pr__payloads p;
    pr__payloads_init(&p);
    char *ptr[LIVE];
    uint32_t ref[LIVE], len[LIVE];
    uint64_t s = 3;
    for (uint32_t r = 0; r < ROUNDS; r++) {
        uint32_t k = r % LIVE;
        if (r >= LIVE) { /* the oldest first, like impressions closing */
            for (uint32_t b = 0; b < len[k]; b++)
                ASSERT_EQ_INT((unsigned char)ptr[k][b], (unsigned char)(k + b));
            pr__payloads_release(&p, ref[k]);
        }
        len[k] = (uint32_t)(rng_next(&s) % 700);
        ptr[k] = pr__payloads_alloc(&p, len[k], &ref[k]);
        ASSERT_TRUE(ptr[k]);
        for (uint32_t b = 0; b < len[k]; b++) ptr[k][b] = (char)(k + b);
        if (r == 2 * LIVE) ASSERT_TRUE(p.bytes > 0);
    }
    /* Steady state: about LIVE * 350 bytes live; the pool holds a few
     * chunks of 1 MiB, not one per round. */
    ASSERT_TRUE(p.n <= 4);
    /* A payload larger than a quarter chunk gets its own. */
    uint32_t big_ref;
    char *big = pr__payloads_alloc(&p, 3u << 20, &big_ref);
    ASSERT_TRUE(big);
    memset(big, 7, 3u << 20);
    for (uint32_t k = 0; k < LIVE; k++) pr__payloads_release(&p, ref[k]);
    pr__payloads_release(&p, big_ref);
    uint32_t z;
    ASSERT_TRUE(pr__payloads_alloc(&p, 0, &z) != NULL);
    pr__payloads_release(&p, z);
    pr__payloads_free(&p);
}

TEST(rowmem_blocks_aligned_distinct_reused) {
    pr__rowmem m;
    memset(&m, 0, sizeof m);
    enum { N = 5000 };
    uint8_t *blk[N];
    for (uint32_t i = 0; i < N; i++) {
        size_t n = 40 + i % 1500;
        blk[i] = pr__rowmem_alloc(&m, n);
        ASSERT_TRUE(blk[i]);
        ASSERT_EQ_INT((uintptr_t)blk[i] % 64, 0);
        memset(blk[i], (int)(i & 0xff), n);
    }
    for (uint32_t i = 0; i < N; i++) ASSERT_EQ_INT(blk[i][39], (int)(i & 0xff));
    /* A released block is handed out again for the same size. */
    pr__rowmem_release(&m, blk[10], 40 + 10);
    ASSERT_TRUE(pr__rowmem_alloc(&m, 40 + 10) == blk[10]);
    /* Beyond the largest class: malloc, released one by one. */
    void *big = pr__rowmem_alloc(&m, PR__ROWMEM_CLASS_MAX + 1);
    ASSERT_TRUE(big);
    pr__rowmem_release(&m, big, PR__ROWMEM_CLASS_MAX + 1);
    pr__rowmem_free(&m);
}

TEST(cache_two_step_add_writes_the_same_bytes) {
    const char *pa = test_path("direct.pcache"), *pb = test_path("twostep.pcache");
    pr_err err;
    pr_cache_writer *a, *b;
    ASSERT_OK(pr_cache_writer_open(pa, 20, 300, 42, &a, &err)); /* u16 fields */
    ASSERT_OK(pr_cache_writer_open(pb, 20, 300, 42, &b, &err));
    uint64_t s = 11;
    pr_feature f[40];
    uint8_t enc[1024];
    for (uint32_t i = 0; i < 70000; i++) { /* more than one block */
        uint32_t n = (uint32_t)(rng_next(&s) % 40);
        for (uint32_t k = 0; k < n; k++) {
            uint64_t r = rng_next(&s);
            f[k] = (pr_feature){(uint32_t)(r & 0xfffff), (uint32_t)(r >> 32) % 300,
                                r % 7 == 0 ? 0.5f : 1.0f};
        }
        int label = rng_next(&s) % 4 == 0;
        pr_example x = {.label = (float)label, .weight = 1.0f,
                        .ts = (int64_t)(1704067200 + i), .n = n, .f = f};
        ASSERT_OK(pr_cache_writer_add(a, &x, &err));
        x.label = 0.0f;
        ASSERT_TRUE(pr__cache_encoded_max(n) <= sizeof enc);
        size_t len = pr__cache_writer_encode(b, &x, enc, &err);
        ASSERT_TRUE(len > 0);
        ASSERT_OK(pr__cache_writer_add_encoded(b, enc, len, n, label, &err));
    }
    /* Refused: a label given ahead, an index out of range. */
    pr_example bad = {.label = 1.0f, .weight = 1.0f, .n = 1, .f = f};
    ASSERT_EQ_INT(pr__cache_writer_encode(b, &bad, enc, &err), 0);
    bad.label = 0.0f;
    f[0].index = 1u << 20;
    ASSERT_EQ_INT(pr__cache_writer_encode(b, &bad, enc, &err), 0);
    ASSERT_CONTAINS(err.msg, "out of range");
    ASSERT_OK(pr_cache_writer_close(a, &err));
    ASSERT_OK(pr_cache_writer_close(b, &err));
    char *da, *db;
    size_t la, lb;
    da = test_read_file(pa, &la);
    db = test_read_file(pb, &lb);
    ASSERT_EQ_INT(la, lb);
    ASSERT_TRUE(memcmp(da, db, la) == 0);
    free(da);
    free(db);
}

int main(void) {
    RUN(queue_pops_in_key_id_order);
    RUN(idmap_sequential_and_strided_keys);
    RUN(payloads_survive_and_chunks_are_reused);
    RUN(rowmem_blocks_aligned_distinct_reused);
    RUN(cache_two_step_add_writes_the_same_bytes);
    TEST_MAIN_END();
}
