/*
 * bench_cache.c: how fast the example cache writes and decodes.
 *
 * Writes N synthetic Criteo-like examples (~37 of 39 fields present, indices
 * < 2^24, 39 fields, every value 1.0, ~25% positives) raw and with zstd
 * level 1, then decodes every block with 1 and 2 threads (two passes each:
 * the first also pays the page faults of the fresh mapping). Prints
 * examples/s and MB/s of file (wall clock), examples per CPU-second (what a
 * core can do, whatever else the machine runs) and the file size.
 *
 *   bench_cache [n_examples (default 5000000)] [folder (default /tmp)]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pronto/cache.h"

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void die(const pr_err *err) {
    fprintf(stderr, "bench_cache: %s\n", err->msg);
    exit(1);
}

/* Criteo-like: 39 fields, a few missing per row, one feature per field.
 * Categorical values are drawn from a skewed vocabulary so the byte
 * statistics (and zstd's job) resemble hashed real data. */
static pr_example make_example(uint64_t *s, pr_feature *f) {
    pr_example x = {.label = (rng_next(s) & 3) == 0 ? 1.0f : 0.0f, .weight = 1.0f};
    uint32_t n = 0;
    for (uint32_t field = 0; field < 39; field++) {
        uint64_t r = rng_next(s);
        if ((r & 15) == 0 && field > 2) continue; /* ~6% missing */
        uint64_t vocab = field < 13 ? 64 : ((r >> 8) & 1 ? 1000 : 1000000);
        uint64_t value = (r >> 16) % vocab;
        f[n].index = (uint32_t)(((value + 1) * 0x9E3779B97F4A7C15ull ^ field * 0x632BE59BD9B4E019ull) >> 40);
        f[n].field = field;
        f[n].value = 1.0f;
        n++;
    }
    x.n = n;
    x.f = f;
    return x;
}

typedef struct read_job {
    const pr_cache *c;
    uint32_t t, nth;
    uint64_t examples, features, sum;
    double cpu_seconds;  /* this thread's CPU time: robust to a busy machine */
} read_job;

static double thread_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *read_thread(void *arg) {
    read_job *j = arg;
    pr_cache_block blk;
    pr_err err;
    double cpu0 = thread_cpu_now();
    pr_cache_block_init(&blk);
    j->examples = j->features = j->sum = 0;
    for (uint32_t b = j->t; b < pr_cache_n_blocks(j->c); b += j->nth) {
        if (pr_cache_read_block(j->c, b, &blk, &err) != PR_OK) die(&err);
        for (uint32_t e = 0; e < blk.n; e++) {
            /* touch what a trainer touches first: label, n, first feature */
            const pr_example *x = &blk.ex[e];
            j->features += x->n;
            j->sum += (uint64_t)x->label + (x->n ? x->f[0].index : 0);
        }
        j->examples += blk.n;
    }
    pr_cache_block_free(&blk);
    j->cpu_seconds = thread_cpu_now() - cpu0;
    return NULL;
}

/* Returns wall seconds; *cpu gets the threads' summed CPU seconds. */
static double read_pass(const pr_cache *c, uint32_t nth, double *cpu) {
    pthread_t th[8];
    read_job jobs[8];
    double t0 = pr_now();
    for (uint32_t t = 0; t < nth; t++) {
        jobs[t] = (read_job){.c = c, .t = t, .nth = nth};
        pthread_create(&th[t], NULL, read_thread, &jobs[t]);
    }
    uint64_t examples = 0;
    *cpu = 0;
    for (uint32_t t = 0; t < nth; t++) {
        pthread_join(th[t], NULL);
        examples += jobs[t].examples;
        *cpu += jobs[t].cpu_seconds;
    }
    double dt = pr_now() - t0;
    if (examples != pr_cache_n_examples(c)) {
        fprintf(stderr, "bench_cache: decoded %" PRIu64 " examples, expected %" PRIu64 "\n",
                examples, pr_cache_n_examples(c));
        exit(1);
    }
    return dt;
}

static void run(const char *path, uint64_t n, int zstd_level) {
    pr_err err;
    pr_cache_writer *w;
    pr_feature feat[64];
    uint64_t seed = 42;
    double t0 = pr_now();
    if (pr_cache_writer_open(path, 24, 39, 1, &w, &err) != PR_OK) die(&err);
    if (pr_cache_writer_set_zstd(w, zstd_level, &err) != PR_OK) die(&err);
    uint64_t features = 0;
    for (uint64_t i = 0; i < n; i++) {
        pr_example x = make_example(&seed, feat);
        features += x.n;
        if (pr_cache_writer_add(w, &x, &err) != PR_OK) die(&err);
    }
    if (pr_cache_writer_close(w, &err) != PR_OK) die(&err);
    double dt_write = pr_now() - t0;

    pr_cache *c;
    if (pr_cache_open(path, &c, &err) != PR_OK) die(&err);
    double mb = (double)pr_cache_file_size(c) / 1e6;
    printf("%-8s  file %.1f MB (%.1f bytes/example, %.2f features/example), %u blocks\n",
           zstd_level ? "zstd-1" : "raw", mb, mb * 1e6 / (double)n,
           (double)features / (double)n, pr_cache_n_blocks(c));
    printf("%-8s  write (incl. generation + fsync): %.2f M examples/s, %.0f MB/s\n", "",
           (double)n / dt_write / 1e6, mb / dt_write);
    for (uint32_t nth = 1; nth <= 2; nth++) {
        for (int pass = 1; pass <= 2; pass++) {
            double cpu;
            double dt = read_pass(c, nth, &cpu);
            printf("%-8s  read %u thread%s pass %d: %.2f M examples/s, %.0f MB/s wall; "
                   "%.2f M examples per CPU-second\n",
                   "", nth, nth > 1 ? "s" : " ", pass, (double)n / dt / 1e6,
                   mb / dt, (double)n / cpu / 1e6);
        }
    }
    pr_cache_close(c);
    unlink(path);
}

int main(int argc, char **argv) {
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 5000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_cache.%ld.pcache", dir, (long)getpid());
    printf("bench_cache: %" PRIu64 " Criteo-like examples in %s\n", n, dir);
    run(path, n, 0);
    run(path, n, 1);
    return 0;
}
