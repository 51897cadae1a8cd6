/*
 * bench_parse.c: the parse-only baseline -- read + featurize a file with the
 * shipped Criteo spec (or --spec), no learning -- on 1..N threads, each
 * thread taking its own copy of the file list (so N threads read N files;
 * give the same file N times to measure per-thread rate on one file).
 *
 *   build/bench_parse [--spec S] [--format F] FILE [FILE...]
 *
 * Prints rows/s and MB/s per file and in total, beside the learning rates
 * that `pronto train` prints, so the cost of learning over I/O shows.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/train.h"

typedef struct job {
    const char *path;
    const char *spec_path;
    pr_format format;
    uint64_t rows, bytes, feats;
    double seconds;
    pr_status s;
    pr_err err;
} job;

typedef struct count_ctx {
    uint64_t rows, feats;
} count_ctx;

static pr_status count(void *v, pr_example *x, const pr_record *rec, pr_err *err) {
    count_ctx *c = v;
    c->rows++;
    c->feats += x->n;
    return PR_OK;
}

static void *run(void *arg) {
    job *j = arg;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    if (j->spec_path) j->s = pr_spec_load(j->spec_path, &spec, &j->err);
    else {
        const char *y = pr_spec_default_criteo();
        j->s = pr_spec_parse(y, strlen(y), "criteo", &spec, &j->err);
    }
    if (j->s == PR_OK) j->s = pr_featurizer_new(spec, &fz, &j->err);
    if (j->s == PR_OK) {
        count_ctx c = {0, 0};
        pr_input in = {j->format, &j->path, 1};
        uint64_t bad = 0;
        double t0 = pr_now();
        j->s = pr_featurize_inputs(fz, spec, NULL, &in, 0, 0, &bad, count, &c, &j->err);
        j->seconds = pr_now() - t0;
        j->rows = c.rows;
        j->feats = c.feats;
        FILE *f = fopen(j->path, "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            j->bytes = (uint64_t)ftell(f);
            fclose(f);
        }
    }
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    return NULL;
}

int main(int argc, char **argv) {
    const char *spec = NULL, *format = "criteo";
    int first = 1;
    while (first < argc - 1 && argv[first][0] == '-') {
        if (!strcmp(argv[first], "--spec")) spec = argv[first + 1];
        else if (!strcmp(argv[first], "--format")) format = argv[first + 1];
        else break;
        first += 2;
    }
    int n = argc - first;
    if (n < 1) {
        fprintf(stderr, "usage: bench_parse [--spec S] [--format F] FILE...\n");
        return 2;
    }
    pr_format fmt;
    if (pr_format_parse(format, &fmt) != PR_OK) return 2;
    job *jobs = calloc((size_t)n, sizeof *jobs);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    double t0 = pr_now();
    for (int i = 0; i < n; i++) {
        jobs[i].path = argv[first + i];
        jobs[i].spec_path = spec;
        jobs[i].format = fmt;
        pthread_create(&t[i], NULL, run, &jobs[i]);
    }
    uint64_t rows = 0, bytes = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        if (jobs[i].s != PR_OK) {
            fprintf(stderr, "bench_parse: %s\n", jobs[i].err.msg);
            return 1;
        }
        printf("thread %d: %s: %llu rows, %.1f features/row, %.2f s: %.0f rows/s, %.0f MB/s\n", i,
               jobs[i].path, (unsigned long long)jobs[i].rows,
               (double)jobs[i].feats / (double)(jobs[i].rows ? jobs[i].rows : 1), jobs[i].seconds,
               (double)jobs[i].rows / jobs[i].seconds, (double)jobs[i].bytes / jobs[i].seconds / 1e6);
        rows += jobs[i].rows;
        bytes += jobs[i].bytes;
    }
    double el = pr_now() - t0;
    printf("total: %d thread(s), %.0f rows/s, %.0f MB/s (read + parse + featurize, no learning)\n", n,
           (double)rows / el, (double)bytes / el / 1e6);
    free(jobs);
    free(t);
    return 0;
}
