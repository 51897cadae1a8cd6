/*
 * memory.c: the stated peak RSS of a training run (pr_train_memory_estimate),
 * its rendering and the --max-memory check.
 *
 * The model (docs/memory.md has the derivation and the measurements of
 * bench/bench_memory.sh against it):
 *
 *   model   pr_model_state_bytes(p): the table with every bucket touched
 *   best    the same + a 2^bits-bit filter, when --valid and passes > 1
 *           (early stopping keeps the best pass in memory)
 *   filter  min_count > 1: 2^bits one-byte counters + 3 bitmaps of 2^bits
 *           bits (the count filter's, the trainer's, the model's)
 *   threads streaming: batches of 16384 examples (the reader's pool:
 *           1 with one thread, threads + 2 otherwise), each 32 bytes an
 *           example + 12 bytes a feature, a feature per field;
 *           from a cache: 1.5 MiB a thread (a decoded 256 KB block and its
 *           mapped pages); --team: + a 2^bits-bit map a thread;
 *           either way, FFM Hogwild on 2+ threads: + 2 copies of hot_rows
 *           rows a thread (pr_model_hot)
 *   valid   32 bytes of metrics per validation row (exact AUC needs every
 *           score), rows bounded by the file: as many bytes as the file
 *           (a row takes 32 bytes at least), 8 times that compressed; an
 *           example cache's own count
 *   base    the process apart from the above (code, libraries, reader,
 *           featurizer, reference profile, cache writer): measured
 *
 * Nothing in it depends on the number of training rows: the cache is read
 * block by block and its pages are released once decoded (data/cache.c),
 * the profile samples a bounded number of rows.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pronto/cache.h"
#include "pronto/train.h"

/* The process without tables, buffers or validation: measured peak RSS of
 * `pronto train` at --bits 10 from a cache, 12-14 MiB (docs/memory.md),
 * rounded up. */
#define BASE_BYTES ((uint64_t)14 << 20)
#define CACHED_THREAD_BYTES ((uint64_t)3 << 19) /* 1.5 MiB */
#define STREAM_BATCH_EXAMPLES 16384u            /* stream_learn.c */
#define EXAMPLE_BYTES 32u                       /* sizeof(pr_example) */
#define FEATURE_BYTES 12u                       /* sizeof(pr_feature) */
#define METRICS_ROW_BYTES 32u                   /* row + sort scratch */

static int compressed_name(const char *path) {
    size_t n = strlen(path);
    return (n > 4 && !strcmp(path + n - 4, ".zst")) ||
           (n > 3 && !strcmp(path + n - 3, ".gz")) ||
           (n > 3 && !strcmp(path + n - 3, ".xz"));
}

static uint64_t valid_rows_bound(const pr_train_opts *o) {
    if (!o->valid_path) return 0;
    if (o->dataset) {
        pr_cache *c = NULL;
        pr_err e;
        if (pr_cache_open(o->valid_path, &c, &e) == PR_OK) {
            uint64_t n = pr_cache_n_examples(c);
            pr_cache_close(c);
            return n;
        }
    }
    struct stat st;
    if (stat(o->valid_path, &st) != 0 || st.st_size < 0) return 0;
    uint64_t rows = (uint64_t)st.st_size / METRICS_ROW_BYTES;
    return compressed_name(o->valid_path) ? rows * 8 : rows;
}

void pr_train_memory_estimate(const pr_model_params *p, uint32_t min_count,
                              const pr_train_opts *o, pr_train_memory *m) {
    memset(m, 0, sizeof *m);
    const uint64_t buckets = (uint64_t)1 << p->hash_bits;
    const uint64_t bitmap = (buckets + 63) / 64 * 8;
    const int threads = o->threads > 0 ? o->threads : 1;
    const int streaming = o->passes <= 1 && !o->valid_path && !o->cache_path && !o->dataset;
    m->model = pr_model_state_bytes(p);
    if (o->valid_path && o->passes > 1) m->best = m->model + bitmap;
    if (min_count > 1) m->filter = buckets + 3 * bitmap;
    if (streaming) {
        /* one feature per field (a multi-valued field adds its own) */
        uint64_t feats = p->n_fields ? p->n_fields : 1;
        uint64_t batch = STREAM_BATCH_EXAMPLES * (EXAMPLE_BYTES + FEATURE_BYTES * feats);
        m->threads = batch * (uint64_t)(threads == 1 ? 1 : threads + 2);
    } else {
        m->threads = CACHED_THREAD_BYTES * (uint64_t)threads;
        if (o->team && threads > 1 && p->kind == PR_MODEL_KIND_FFM)
            m->threads += bitmap * (uint64_t)threads;
    }
    /* hot copies: both trainers, unless the cached one runs as a team */
    if (threads > 1 && p->kind == PR_MODEL_KIND_FFM && o->hot_rows && (streaming || !o->team)) {
        uint64_t row = (m->model - 16) / buckets;
        m->threads += 2 * (uint64_t)o->hot_rows * row * (uint64_t)threads;
    }
    m->valid = valid_rows_bound(o) * METRICS_ROW_BYTES;
    m->base = BASE_BYTES;
    m->total = m->model + m->best + m->filter + m->threads + m->valid + m->base;
}

static void human(uint64_t b, char *buf, size_t cap) {
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, u++;
    if (u == 0) snprintf(buf, cap, "%llu B", (unsigned long long)b);
    else snprintf(buf, cap, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, unit[u]);
}

void pr_train_memory_format(const pr_train_memory *m, char *buf, size_t cap) {
    char t[32], a[32], b[32], c[32], d[32], e[32], f[32];
    human(m->total, t, sizeof t);
    human(m->model, a, sizeof a);
    human(m->best, b, sizeof b);
    human(m->filter, c, sizeof c);
    human(m->threads, d, sizeof d);
    human(m->valid, e, sizeof e);
    human(m->base, f, sizeof f);
    snprintf(buf, cap, "%s (model %s, best-pass copy %s, rare-feature filter %s, "
             "thread buffers %s, validation %s, process %s)", t, a, b, c, d, e, f);
}

pr_status pr_train_memory_check(const pr_train_memory *m, const pr_model_params *p,
                                uint64_t max, pr_err *err) {
    if (max == 0 || m->total <= max) return PR_OK;
    char est[320], lim[32];
    pr_train_memory_format(m, est, sizeof est);
    human(max, lim, sizeof lim);
    const char *what = p->kind == PR_MODEL_KIND_FFM
                           ? "lower hash_bits (each bit halves the table), k or the spec's fields"
                           : p->kind == PR_MODEL_KIND_FM ? "lower hash_bits (each bit halves the table) or k"
                                                         : "lower hash_bits (each bit halves the table)";
    return pr_err_set(err, PR_ERR_INVALID,
                      "memory limit %s: the estimated peak RSS is %s; %s%s%s, or raise the limit",
                      lim, est, what,
                      m->best ? ", train without validation or in one pass (no best-pass copy)" : "",
                      m->threads > m->model / 4 ? ", use fewer threads" : "");
}
