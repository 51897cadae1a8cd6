/*
 * test.h: the unit-test harness. A test file defines static void functions
 * with TEST(name) and lists them in main with RUN(name); an ASSERT that fails
 * prints file:line, both values, and exits non-zero, so ctest sees it.
 * Helpers for temporary folders and files live here too.
 */
#ifndef PRONTO_TEST_H
#define PRONTO_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pronto/base.h"

#define TEST(name) static void name(void)
#define RUN(name)                                   \
    do {                                            \
        fprintf(stderr, "-- %s\n", #name);          \
        name();                                     \
        test__passed++;                             \
    } while (0)
#define TEST_MAIN_END()                                  \
    do {                                                 \
        printf("%d passed, 0 failed\n", test__passed);   \
        return 0;                                        \
    } while (0)

static int test__passed;

#define TEST_FAIL(...)                                          \
    do {                                                        \
        fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);   \
        fprintf(stderr, __VA_ARGS__);                           \
        fprintf(stderr, "\n");                                  \
        _exit(1);                                               \
    } while (0)
#define ASSERT_TRUE(c) \
    do { if (!(c)) TEST_FAIL("%s", #c); } while (0)
#define ASSERT_EQ_INT(a, b)                                              \
    do {                                                                 \
        long long a_ = (long long)(a), b_ = (long long)(b);              \
        if (a_ != b_) TEST_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_); \
    } while (0)
#define ASSERT_EQ_STR(a, b)                                                 \
    do {                                                                    \
        const char *a_ = (a), *b_ = (b);                                    \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                              \
            TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", \
                      b_ ? b_ : "(null)");                                  \
    } while (0)
#define ASSERT_NEAR(a, b, tol)                                                 \
    do {                                                                       \
        double a_ = (double)(a), b_ = (double)(b);                             \
        if (!(fabs(a_ - b_) <= (tol)))                                         \
            TEST_FAIL("%s ~= %s: %.10g vs %.10g (tol %g)", #a, #b, a_, b_, (double)(tol)); \
    } while (0)
/* For calls returning pr_status with a pr_err named err in scope. */
#define ASSERT_OK(call)                                                      \
    do {                                                                     \
        pr_status s_ = (call);                                               \
        if (s_ != PR_OK) TEST_FAIL("%s: %s: %s", #call, pr_status_name(s_), err.msg); \
    } while (0)
#define ASSERT_STATUS(call, want)                                             \
    do {                                                                      \
        pr_status s_ = (call);                                                \
        if (s_ != (want)) TEST_FAIL("%s: got %s want %s (%s)", #call,         \
                                    pr_status_name(s_), pr_status_name(want), err.msg); \
    } while (0)
#define ASSERT_CONTAINS(hay, needle)                                          \
    do {                                                                      \
        const char *h_ = (hay), *n_ = (needle);                               \
        if (!h_ || !strstr(h_, n_)) TEST_FAIL("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_); \
    } while (0)

static char test__dir[256];
static inline void test__remove_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test__dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", test__dir);
}
/* A fresh temporary folder for this test process, removed when it exits
 * successfully (a failing test leaves it behind to look at). */
static inline const char *test_tmpdir(void) {
    if (!test__dir[0]) {
        snprintf(test__dir, sizeof test__dir, "/tmp/pronto-test-XXXXXX");
        if (!mkdtemp(test__dir)) { perror("mkdtemp"); exit(1); }
        atexit(test__remove_tmpdir);
    }
    return test__dir;
}
/* Returns a path inside test_tmpdir() (static buffer, rotating 8 slots). */
static inline const char *test_path(const char *name) {
    static char bufs[8][512];
    static int slot;
    char *b = bufs[slot++ & 7];
    snprintf(b, 512, "%s/%s", test_tmpdir(), name);
    return b;
}
/* The whole file, NUL-terminated, malloc'd (free it); *len its size (len
 * may be NULL). A file that cannot be read fails the test. */
static inline char *test_read_file(const char *path, size_t *len) {
    char *data = NULL;
    size_t n = 0;
    pr_err err;
    if (pr_read_file(path, &data, &n, &err) != PR_OK) {
        fprintf(stderr, "test_read_file: %s\n", err.msg);
        exit(1);
    }
    if (len) *len = n;
    return data;
}
static inline void test_write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}
#endif
