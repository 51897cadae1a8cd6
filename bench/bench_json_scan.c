/*
 * bench_json_scan.c: pr_json_scan against jansson on event lines, one
 * thread, everything in memory (no I/O in the timed loop).
 *
 *   build/bench_json_scan [--seconds S] [FILE.jsonl]
 *
 * Lines come from FILE (the first 200k non-empty lines; e.g. the output
 * of `pronto simulate`) or, without one, 200k synthetic impression lines
 * in the layout of docs/events.md (~180 bytes). Per line, both sides do
 * the whole job a consumer does: validate the line, find the wanted keys,
 * turn every number into an int64 and every string into bytes. Measured:
 * the 10 keys a dataset builder reads, and the 4 the label joiner reads.
 * Prints ns/line and MB/s for each, and the ratio.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"

#define LINES_MAX 200000

typedef struct lines {
    char *data;
    size_t *off, *len;
    size_t n, bytes;
} lines;

static void add_line(lines *L, size_t *cap, const char *p, size_t n) {
    if (L->bytes + n > *cap) {
        *cap = (*cap + n) * 2;
        L->data = realloc(L->data, *cap);
        if (!L->data) exit(1);
    }
    memcpy(L->data + L->bytes, p, n);
    L->off[L->n] = L->bytes;
    L->len[L->n++] = n;
    L->bytes += n;
}

static void load(lines *L, const char *path) {
    size_t cap = 1 << 20;
    L->data = malloc(cap);
    L->off = malloc(LINES_MAX * sizeof *L->off);
    L->len = malloc(LINES_MAX * sizeof *L->len);
    if (!L->data || !L->off || !L->len) exit(1);
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            perror(path);
            exit(1);
        }
        char *line = NULL;
        size_t lcap = 0;
        ssize_t got;
        while (L->n < LINES_MAX && (got = getline(&line, &lcap, f)) > 0) {
            size_t n = (size_t)got;
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
            if (n) add_line(L, &cap, line, n);
        }
        free(line);
        fclose(f);
        return;
    }
    static const char *devices[] = {"mobile", "desktop", "tablet", "ctv"};
    uint64_t rng = 42;
    int64_t ts = 1704067200000;
    for (size_t i = 1; i <= LINES_MAX; i++) {
        char buf[512];
        uint64_t r = pr_splitmix64(&rng);
        ts += (int64_t)(r % 100);
        int n = snprintf(buf, sizeof buf,
                         "{\"type\":\"impression\",\"event_id\":%zu,\"impression_id\":%zu,"
                         "\"ts\":%lld,\"user_id\":%llu,\"ad_id\":%llu,\"site_id\":%llu,"
                         "\"device\":\"%s\",\"position\":%llu,\"hour\":%llu,\"day_of_week\":%llu}",
                         i, i, (long long)ts, (unsigned long long)(r >> 8) % 100000,
                         (unsigned long long)(r >> 24) % 10000, (unsigned long long)(r >> 40) % 2000,
                         devices[r & 3], (unsigned long long)((r >> 4) & 3) + 1,
                         (unsigned long long)(r >> 50) % 24, (unsigned long long)(r >> 56) % 7);
        add_line(L, &cap, buf, (size_t)n);
    }
}

static const char *const keys10[] = {"type",    "event_id", "impression_id", "ts",
                                     "user_id", "ad_id",    "site_id",       "device",
                                     "position", "hour"};

typedef struct result {
    double ns_per_line, mb_per_s;
    uint64_t check; /* sum of the values of one pass: both parsers must agree */
} result;

static result bench_scan(const lines *L, uint32_t nk, double seconds) {
    pr_err err;
    pr_json_keys *k;
    if (pr_json_keys_new(keys10, nk, &k, &err) != PR_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    pr_json_value v[16];
    uint64_t check = 0, first = 0, done = 0, bytes = 0;
    double t0 = pr_now(), t;
    do {
        check = 0;
        for (size_t i = 0; i < L->n; i++) {
            pr_arena_reset(&arena);
            if (pr_json_scan(k, L->data + L->off[i], L->len[i], &arena, v, &err) != PR_OK) {
                fprintf(stderr, "line %zu: %s\n", i + 1, err.msg);
                exit(1);
            }
            for (uint32_t j = 0; j < nk; j++) {
                int64_t x;
                if (pr_json_int(&v[j], &x)) check += (uint64_t)x;
                else if (v[j].kind == PR_JSON_STRING) check += v[j].text.len;
            }
        }
        if (!done) first = check;
        else if (check != first) { /* also keeps the compiler from dropping the work */
            fprintf(stderr, "pass %llu: checksum changed\n", (unsigned long long)(done / L->n));
            exit(1);
        }
        done += L->n;
        bytes += L->bytes;
    } while ((t = pr_now() - t0) < seconds);
    pr_arena_free(&arena);
    pr_json_keys_free(k);
    result r = {t * 1e9 / (double)done, (double)bytes / t / 1e6, first};
    return r;
}

static result bench_jansson(const lines *L, uint32_t nk, double seconds) {
    uint64_t check = 0, first = 0, done = 0, bytes = 0;
    double t0 = pr_now(), t;
    do {
        check = 0;
        for (size_t i = 0; i < L->n; i++) {
            json_error_t je;
            json_t *o = json_loadb(L->data + L->off[i], L->len[i], JSON_REJECT_DUPLICATES, &je);
            if (!o) {
                fprintf(stderr, "line %zu: %s\n", i + 1, je.text);
                exit(1);
            }
            for (uint32_t j = 0; j < nk; j++) {
                json_t *x = json_object_get(o, keys10[j]);
                if (json_is_integer(x)) check += (uint64_t)json_integer_value(x);
                else if (json_is_string(x)) check += json_string_length(x);
            }
            json_decref(o);
        }
        if (!done) first = check;
        else if (check != first) { /* also keeps the compiler from dropping the work */
            fprintf(stderr, "pass %llu: checksum changed\n", (unsigned long long)(done / L->n));
            exit(1);
        }
        done += L->n;
        bytes += L->bytes;
    } while ((t = pr_now() - t0) < seconds);
    result r = {t * 1e9 / (double)done, (double)bytes / t / 1e6, first};
    return r;
}

int main(int argc, char **argv) {
    double seconds = 2.0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = strtod(argv[++i], NULL);
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--seconds S] [FILE.jsonl]\n", argv[0]);
            return 2;
        } else path = argv[i];
    }
    lines L = {0};
    load(&L, path);
    if (!L.n) {
        fprintf(stderr, "no lines\n");
        return 1;
    }
    printf("%zu lines from %s, %.1f bytes/line\n", L.n, path ? path : "the generator",
           (double)L.bytes / (double)L.n);
    printf("%-6s %-10s %10s %10s %10s\n", "keys", "parser", "ns/line", "MB/s", "lines/s");
    uint32_t sets[] = {10, 4};
    for (int s = 0; s < 2; s++) {
        uint32_t nk = sets[s];
        result a = bench_scan(&L, nk, seconds);
        result b = bench_jansson(&L, nk, seconds / 2);
        if (a.check != b.check) {
            fprintf(stderr, "checksums differ: scanner %llu, jansson %llu\n",
                    (unsigned long long)a.check, (unsigned long long)b.check);
            return 1;
        }
        printf("%-6u %-10s %10.1f %10.1f %10.0f\n", nk, "json_scan", a.ns_per_line, a.mb_per_s,
               1e9 / a.ns_per_line);
        printf("%-6u %-10s %10.1f %10.1f %10.0f\n", nk, "jansson", b.ns_per_line, b.mb_per_s,
               1e9 / b.ns_per_line);
        printf("%-6u speedup    %9.1fx\n", nk, b.ns_per_line / a.ns_per_line);
    }
    free(L.data);
    free(L.off);
    free(L.len);
    return 0;
}
