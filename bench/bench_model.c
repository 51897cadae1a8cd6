/*
 * bench_model.c: how fast the models learn and predict, excluding I/O.
 *
 * Builds N synthetic Criteo-like examples in memory: 39 fields, one feature
 * per field, each field's value drawn from a Zipf(1.1) vocabulary of 10^6
 * (categorical fields) or 100 (the first 13, like Criteo's binned
 * integers), hashed into 2^hash_bits buckets, ~25% positives. Then times,
 * one thread unless stated:
 *   - FTRL-LR update and predict at 2^20 and 2^24 buckets (predict with the
 *     stored w, and recomputing w from z and n to justify storing it),
 *     without and with pr_model_prefetch of the next example; the FFM and
 *     FM runs prefetch the next example, as the trainer does;
 *   - FFM k=4, 39 fields, 2^20 buckets: allocation + init time, update with
 *     the scalar and the SIMD kernels, predict; and 2 threads (Hogwild);
 *   - FM k=8 at 2^20;
 *   - saving and loading the FFM model (about 1.3 GB) in a folder.
 *
 *   bench_model [n_examples (default 1000000)] [folder for the save/load
 *                test (default /tmp; "-" skips it)]
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/model_int.h"
#include "pronto/model.h"

#define N_FIELDS 39

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void die(const pr_err *err) {
    fprintf(stderr, "bench_model: %s\n", err->msg);
    exit(1);
}

/* Zipf(s) over [0, n): inverse CDF by binary search in a table. */
typedef struct zipf {
    double *cdf;
    uint32_t n;
} zipf;

static void zipf_init(zipf *z, uint32_t n, double s) {
    z->n = n;
    z->cdf = malloc(sizeof(double) * n);
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) z->cdf[i] = sum += 1.0 / pow(i + 1, s);
    for (uint32_t i = 0; i < n; i++) z->cdf[i] /= sum;
}

static uint32_t zipf_draw(const zipf *z, uint64_t *rs) {
    double u = (double)(rng_next(rs) >> 11) * (1.0 / 9007199254740992.0);
    uint32_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

typedef struct data {
    pr_example *x;
    pr_feature *f;
    uint64_t n;
} data;

/* Indices are full 32-bit hashes; the models mask them to their size. */
static void make_data(data *d, uint64_t n) {
    zipf big, small;
    zipf_init(&big, 1000000, 1.1);
    zipf_init(&small, 100, 1.1);
    d->n = n;
    d->x = malloc(sizeof(pr_example) * n);
    d->f = malloc(sizeof(pr_feature) * n * N_FIELDS);
    uint64_t rs = 0x1234567;
    for (uint64_t i = 0; i < n; i++) {
        pr_feature *f = d->f + i * N_FIELDS;
        for (uint32_t k = 0; k < N_FIELDS; k++) {
            uint32_t v = zipf_draw(k < 13 ? &small : &big, &rs);
            f[k].field = k;
            f[k].index = (uint32_t)(((v + 1) * 0x9E3779B97F4A7C15ull ^
                                     (k + 1) * 0x632BE59BD9B4E019ull) >> 32);
            f[k].value = 1.0f;
        }
        pr_example x = {(rng_next(&rs) & 3) == 0 ? 1.0f : 0.0f, 1.0f, 0, N_FIELDS, f};
        d->x[i] = x;
    }
    free(big.cdf);
    free(small.cdf);
}

static pr_model *make_model(pr_model_kind kind, uint32_t bits, double *secs) {
    pr_model_params p;
    pr_model_params_default(&p, kind);
    p.hash_bits = bits;
    p.n_fields = N_FIELDS;
    pr_err err;
    pr_model *m;
    double t0 = pr_now();
    if (pr_model_new(&p, &m, &err) != PR_OK) die(&err);
    if (secs) *secs = pr_now() - t0;
    return m;
}

static double sink;

/* CPU seconds of this thread: what one core can do even while other
 * processes share the machine (wall-clock rates are printed too). */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static double last_wall_rate;


/* Examples per second of one pass of updates over d[from, to). */
/* Returns examples per CPU-second; last_wall_rate gets the wall rate. */
static int use_prefetch;  /* call pr_model_prefetch on the next example */

static double time_updates(pr_model *m, const data *d, uint64_t n) {
    double t0 = pr_now(), c0 = cpu_now(), s = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (use_prefetch) pr_model_prefetch(m, &d->x[(i + 1) % d->n]);
        s += pr_model_update(m, &d->x[i % d->n]);
    }
    sink += s;
    last_wall_rate = n / (pr_now() - t0);
    return n / (cpu_now() - c0);
}

static double time_predicts(pr_model *m, const data *d, uint64_t n,
                            double (*fn)(const pr_model *, const pr_example *)) {
    double t0 = pr_now(), c0 = cpu_now(), s = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (use_prefetch) pr_model_prefetch(m, &d->x[(i + 1) % d->n]);
        s += fn(m, &d->x[i % d->n]);
    }
    sink += s;
    last_wall_rate = n / (pr_now() - t0);
    return n / (cpu_now() - c0);
}

typedef struct job {
    pr_model *m;
    const data *d;
    uint64_t from, to;
} job;

static void *update_job(void *p) {
    job *j = p;
    double s = 0;
    for (uint64_t i = j->from; i < j->to; i++) s += pr_model_update(j->m, &j->d->x[i]);
    j->from = (uint64_t)s;  /* keep the work observable */
    return NULL;
}

/* Hogwild: two threads on halves of the data, same model. */
static double time_updates_2threads(pr_model *m, const data *d, uint64_t n) {
    if (n > d->n) n = d->n;
    pthread_t t[2];
    job j[2] = {{m, d, 0, n / 2}, {m, d, n / 2, n}};
    double t0 = pr_now();
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, update_job, &j[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    return n / (pr_now() - t0);
}


int main(int argc, char **argv) {
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    const char *folder = argc > 2 ? argv[2] : "/tmp";
    if (n < 1000) n = 1000;
    data d;
    double t0 = pr_now();
    make_data(&d, n);
    printf("data: %llu examples x %d features (Zipf 1.1) built in %.2f s\n",
           (unsigned long long)n, N_FIELDS, pr_now() - t0);

    printf("rates are examples per CPU-second of the timed thread "
           "[wall-clock rate in brackets]\n");
    /* ------------------------------------------------------------ LR */
    uint32_t lr_bits[] = {20, 24};
    for (int b = 0; b < 4; b++) {
        double alloc;
        use_prefetch = b & 1;
        pr_model *m = make_model(PR_MODEL_KIND_LR, lr_bits[b / 2], &alloc);
        double first = time_updates(m, &d, n);   /* pays the page faults */
        double upd = time_updates(m, &d, n), upd_w = last_wall_rate;
        double pred = time_predicts(m, &d, n, pr_model_predict);
        double pred_w = last_wall_rate;
        double lazy = time_predicts(m, &d, n, pr__lr_logit_lazy);
        printf("lr 2^%u%s: alloc %.3f s; update %.2fM/s [%.2fM/s] (first pass "
               "%.2fM/s); predict %.2fM/s [%.2fM/s] (w recomputed from z, n: "
               "%.2fM/s); %llu nonzero\n",
               lr_bits[b / 2], use_prefetch ? " +prefetch next" : "", alloc,
               upd / 1e6, upd_w / 1e6, first / 1e6, pred / 1e6, pred_w / 1e6,
               lazy / 1e6, (unsigned long long)pr_model_n_nonzero(m));
        pr_model_free(m);
    }
    use_prefetch = 1;
    {
        pr_model *m = make_model(PR_MODEL_KIND_LR, 24, NULL);
        time_updates(m, &d, n);
        printf("lr 2^24: 2 threads (Hogwild) update [%.2fM/s wall]\n",
               time_updates_2threads(m, &d, n) / 1e6);
        pr_model_free(m);
    }

    /* ------------------------------------------------------------ FFM */
    double alloc;
    pr_model *m = make_model(PR_MODEL_KIND_FFM, 20, &alloc);
    printf("ffm k=4 39 fields 2^20: alloc+init %.3f s (%.2f GB table, rows "
           "initialized on first touch)\n", alloc,
           (double)((uint64_t)1 << 20) * 40 * 8 * 4 / 1e9);
    uint64_t nf = n < 300000 ? n : 300000;
    int have_simd = pr__ffm_use_simd(m, 1) == PR_OK;
    if (have_simd) {
        double first = time_updates(m, &d, nf), first_w = last_wall_rate;
        double upd = time_updates(m, &d, nf), upd_w = last_wall_rate;
        double pred = time_predicts(m, &d, nf, pr_model_predict);
        double pred_w = last_wall_rate;
        printf("ffm simd: update %.0fk/s [%.0fk/s] (first pass, page faults "
               "and row init: %.0fk/s [%.0fk/s]); predict %.0fk/s [%.0fk/s]\n",
               upd / 1e3, upd_w / 1e3, first / 1e3, first_w / 1e3, pred / 1e3,
               pred_w / 1e3);
        printf("ffm simd: 2 threads (Hogwild) update [%.0fk/s wall]\n",
               time_updates_2threads(m, &d, nf) / 1e3);
    }
    pr_err err;
    if (pr__ffm_use_simd(m, 0) != PR_OK) return 1;
    uint64_t ns = nf / 5;
    double upd = time_updates(m, &d, ns), upd_w = last_wall_rate;
    double pred = time_predicts(m, &d, ns, pr_model_predict);
    printf("ffm scalar: update %.0fk/s [%.0fk/s]; predict %.0fk/s [%.0fk/s]\n",
           upd / 1e3, upd_w / 1e3, pred / 1e3, last_wall_rate / 1e3);
    if (have_simd) pr__ffm_use_simd(m, 1);

    if (strcmp(folder, "-") != 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/bench_model.%ld.pm", folder, (long)getpid());
        double ts = pr_now();
        if (pr_model_save(m, path, &err) != PR_OK) die(&err);
        double save = pr_now() - ts;
        pr_model *l;
        ts = pr_now();
        if (pr_model_load(path, &l, &err) != PR_OK) die(&err);
        double load = pr_now() - ts;
        char *raw;
        size_t len;
        ts = pr_now();
        if (pr_read_file(path, &raw, &len, &err) != PR_OK) die(&err);
        double readf = pr_now() - ts;
        free(raw);
        printf("ffm file %.2f GB: save %.2f s (with fsync), load %.2f s "
               "(pr_read_file of the same file: %.2f s)\n",
               len / 1e9, save, load, readf);
        unlink(path);
        pr_model_free(l);
    }
    pr_model_free(m);

    /* ------------------------------------------------------------ FM */
    m = make_model(PR_MODEL_KIND_FM, 20, &alloc);
    time_updates(m, &d, nf);
    upd = time_updates(m, &d, nf);
    upd_w = last_wall_rate;
    pred = time_predicts(m, &d, nf, pr_model_predict);
    printf("fm k=8 2^20: alloc+init %.3f s; update %.0fk/s [%.0fk/s]; "
           "predict %.0fk/s [%.0fk/s]\n",
           alloc, upd / 1e3, upd_w / 1e3, pred / 1e3, last_wall_rate / 1e3);
    pr_model_free(m);

    free(d.x);
    free(d.f);
    return sink == 12345.678 ? 1 : 0;
}
