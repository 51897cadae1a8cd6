/*
 * bench_reader.c: read + parse throughput of a reader, one thread.
 *
 *   bench_reader FILE [FORMAT] [PASSES]
 *
 * FORMAT defaults to criteo. Prints, per pass and best of all passes, the
 * decoded text rate (MB/s, 1 MB = 10^6 bytes), the rate over the bytes read
 * from disk (differs for .zst) and rows/s. Touches every column's first
 * byte so the parse cannot be optimised away. Run it on a warm page cache
 * (a first pass over the file does that) to measure the parser, not disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/base.h"
#include "pronto/reader.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [criteo|csv|libsvm|libffm] [PASSES]\n",
                argv[0]);
        return 2;
    }
    pr_format fmt = PR_FORMAT_CRITEO;
    if (argc > 2 && pr_format_parse(argv[2], &fmt) != PR_OK) {
        fprintf(stderr, "unknown format '%s'\n", argv[2]);
        return 2;
    }
    int passes = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 3;
    if (passes < 1) passes = 1;
    double best = 0, best_raw = 0, best_rows = 0;
    for (int pass = 0; pass < passes; pass++) {
        pr_reader_opts o;
        pr_reader_opts_init(&o, fmt);
        pr_err err;
        pr_reader *r;
        if (pr_reader_open(argv[1], &o, &r, &err) != PR_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        pr_record rec;
        pr_status st;
        uint64_t rows = 0, bad = 0, sink = 0;
        double t0 = pr_now();
        while ((st = pr_reader_next(r, &rec, &err)) != PR_EOF) {
            if (st != PR_OK) {
                if (!pr_reader_row_error(st)) {
                    fprintf(stderr, "%s\n", err.msg);
                    return 1;
                }
                bad++;
                continue;
            }
            rows++;
            for (uint32_t i = 0; i < rec.n_cols; i++)
                sink += rec.cols[i].len ? (unsigned char)rec.cols[i].ptr[0] : 0;
            sink += rec.n_feats;
        }
        double dt = pr_now() - t0;
        double mb = (double)pr_reader_bytes_decoded(r) / 1e6;
        double raw = (double)pr_reader_bytes_read(r) / 1e6;
        printf("pass %d: %llu rows (%llu bad) in %.3f s: %.0f MB/s text, "
               "%.0f MB/s read, %.2f M rows/s  [sink %llu]\n",
               pass + 1, (unsigned long long)rows, (unsigned long long)bad, dt,
               mb / dt, raw / dt, rows / dt / 1e6, (unsigned long long)sink);
        if (mb / dt > best) {
            best = mb / dt;
            best_raw = raw / dt;
            best_rows = rows / dt;
        }
        pr_reader_free(r);
    }
    printf("best: %.0f MB/s text, %.0f MB/s read, %.2f M rows/s\n", best,
           best_raw, best_rows / 1e6);
    return 0;
}
