/*
 * version.c: `pronto --version [--json]`. What this binary is: the version
 * (pronto/version.h, generated into the build tree from
 * include/pronto/version.h.in and project(VERSION) in CMakeLists.txt), the
 * git commit it was built from (cmake/git_commit.cmake; "unknown" from a
 * source tarball), the build type and its compiler flags, the compiler,
 * and the CPU features: those the compiler was allowed to use everywhere
 * (the instruction-set macros it defined, e.g. SSE2 in the JSON and Criteo
 * scanners) and those chosen at run time (the FFM kernels take AVX2+FMA
 * when __builtin_cpu_supports finds both, model_ffm_simd.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/flags.h"
#include "git_commit.h"
#include "model/model_int.h"
#include "pronto/version.h"

#ifndef PRONTO_BUILD_TYPE
#define PRONTO_BUILD_TYPE "unknown"
#endif
#ifndef PRONTO_C_FLAGS
#define PRONTO_C_FLAGS ""
#endif

#if defined(__clang__)
#define COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define COMPILER "gcc " __VERSION__
#else
#define COMPILER "unknown"
#endif

#if defined(__x86_64__)
#define ARCH "x86_64"
#elif defined(__i386__)
#define ARCH "i386"
#elif defined(__aarch64__)
#define ARCH "aarch64"
#else
#define ARCH "other"
#endif

/* The instruction sets the compiler could use in every function. */
static const char *const compiled_for[] = {
#ifdef __SSE2__
    "sse2",
#endif
#ifdef __SSE4_2__
    "sse4.2",
#endif
#ifdef __AVX__
    "avx",
#endif
#ifdef __AVX2__
    "avx2",
#endif
#ifdef __FMA__
    "fma",
#endif
#ifdef __AVX512F__
    "avx512f",
#endif
    NULL};

/* The FFM pair kernels this process uses (the only run-time dispatch). */
static const char *ffm_kernels(void) {
    return pr__ffm_simd() ? "avx2+fma" : "scalar";
}

/* The features of this CPU worth knowing for pronto, space-separated. */
static void cpu_features(char *buf, size_t cap) {
    buf[0] = 0;
#if defined(__x86_64__) || defined(__i386__)
    static const char *const names[] = {"sse2", "sse4.2", "avx", "avx2", "fma", "avx512f"};
    int has[6];
    __builtin_cpu_init();
    has[0] = __builtin_cpu_supports("sse2");
    has[1] = __builtin_cpu_supports("sse4.2");
    has[2] = __builtin_cpu_supports("avx");
    has[3] = __builtin_cpu_supports("avx2");
    has[4] = __builtin_cpu_supports("fma");
    has[5] = __builtin_cpu_supports("avx512f");
    size_t len = 0;
    for (int i = 0; i < 6; i++) {
        if (!has[i]) continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? " " : "", names[i]);
        if (n < 0 || (size_t)n >= cap - len) break;
        len += (size_t)n;
    }
#else
    (void)cap;
#endif
}

static void print_json(const char *cpu) {
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string(PR_VERSION_STRING));
    json_object_set_new(o, "commit", json_string(PRONTO_GIT_COMMIT));
    json_object_set_new(o, "build_type", json_string(PRONTO_BUILD_TYPE));
    json_object_set_new(o, "c_flags", json_string(PRONTO_C_FLAGS));
    json_object_set_new(o, "compiler", json_string(COMPILER));
    json_object_set_new(o, "arch", json_string(ARCH));
    json_t *isa = json_array();
    for (size_t i = 0; compiled_for[i]; i++) json_array_append_new(isa, json_string(compiled_for[i]));
    json_object_set_new(o, "compiled_for", isa);
    json_t *feats = json_array();
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", cpu);
    char *save = NULL;
    for (char *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save))
        json_array_append_new(feats, json_string(t));
    json_object_set_new(o, "cpu_features", feats);
    json_object_set_new(o, "ffm_kernels", json_string(ffm_kernels()));
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) puts(s);
    free(s);
    json_decref(o);
}

int cli_version(int argc, char **argv) {
    int as_json = 0;
    pr_flag flags[] = {
        {"--json", NULL, PR_FLAG_BOOL, &as_json, "print it as one JSON object", 0},
    };
    char *pos[1];
    int n_pos = 0;
    int rc = pr_flags_parse("--version", "[--json]", flags, 1, argc, argv, pos, 0, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    char cpu[128];
    cpu_features(cpu, sizeof cpu);
    if (as_json) {
        print_json(cpu);
        return PR_EXIT_OK;
    }
    printf("pronto %s\n", PR_VERSION_STRING);
    printf("commit:   %s\n", PRONTO_GIT_COMMIT);
    printf("build:    %s (%s)\n", PRONTO_BUILD_TYPE, PRONTO_C_FLAGS);
    printf("compiler: %s\n", COMPILER);
    printf("cpu:      compiled for %s", ARCH);
    for (size_t i = 0; compiled_for[i]; i++) printf(" %s", compiled_for[i]);
    printf("; FFM kernels %s (run-time choice; this CPU: %s)\n", ffm_kernels(),
           cpu[0] ? cpu : "none of sse2 sse4.2 avx avx2 fma avx512f");
    return PR_EXIT_OK;
}
