/* flags.c: see flags.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flags.h"

static int listing;

void pr_flags_set_listing(int on) { listing = on; }

void pr_flags_help(const char *cmd, const char *usage, const pr_flag *flags,
                   int n_flags) {
    if (listing) {
        printf("#pronto-flags\n");
        for (int i = 0; i < n_flags; i++) {
            printf("%s\n", flags[i].name);
            if (flags[i].alias) printf("%s\n", flags[i].alias);
        }
        printf("--help\n");
        return;
    }
    printf("usage: pronto %s %s\n\n", cmd, usage);
    for (int i = 0; i < n_flags; i++) {
        char left[64];
        if (flags[i].alias)
            snprintf(left, sizeof left, "%s, %s", flags[i].alias, flags[i].name);
        else
            snprintf(left, sizeof left, "    %s", flags[i].name);
        printf("  %-22s %s\n", left, flags[i].help);
    }
    printf("  %-22s %s\n", "    --help", "show this help");
}

static int set_value(const char *cmd, pr_flag *f, const char *v) {
    char *end = NULL;
    errno = 0;
    switch (f->kind) {
    case PR_FLAG_BOOL:
        *(int *)f->dest = 1;
        return 0;
    case PR_FLAG_STRING:
        *(const char **)f->dest = v;
        return 0;
    case PR_FLAG_INT: {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end) break;
        *(long long *)f->dest = x;
        return 0;
    }
    case PR_FLAG_UINT: {
        if (v[0] == '-') break;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || end == v || *end) break;
        *(unsigned long long *)f->dest = x;
        return 0;
    }
    case PR_FLAG_DOUBLE: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x)) break;
        *(double *)f->dest = x;
        return 0;
    }
    }
    fprintf(stderr, "pronto %s: %s: expected %s, got '%s'\n", cmd, f->name,
            f->kind == PR_FLAG_DOUBLE ? "a number"
            : f->kind == PR_FLAG_UINT ? "a whole number >= 0"
                                      : "a whole number",
            v);
    return 2;
}

int pr_flags_parse(const char *cmd, const char *usage, pr_flag *flags,
                   int n_flags, int argc, char **argv, char **pos,
                   int pos_cap, int *n_pos) {
    *n_pos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            if (*n_pos >= pos_cap) {
                fprintf(stderr, "pronto %s: too many arguments at '%s'\n", cmd, a);
                return 2;
            }
            pos[(*n_pos)++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            pr_flags_help(cmd, usage, flags, n_flags);
            return 1;
        }
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        pr_flag *f = NULL;
        for (int j = 0; j < n_flags; j++) {
            if ((strlen(flags[j].name) == nlen && strncmp(flags[j].name, a, nlen) == 0) ||
                (flags[j].alias && strlen(flags[j].alias) == nlen &&
                 strncmp(flags[j].alias, a, nlen) == 0)) {
                f = &flags[j];
                break;
            }
        }
        if (!f) {
            fprintf(stderr, "pronto %s: unknown flag '%.*s' (see pronto %s --help)\n",
                    cmd, (int)nlen, a, cmd);
            return 2;
        }
        const char *v = NULL;
        if (f->kind == PR_FLAG_BOOL) {
            if (eq) {
                fprintf(stderr, "pronto %s: %s takes no value\n", cmd, f->name);
                return 2;
            }
        } else if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            fprintf(stderr, "pronto %s: %s needs a value\n", cmd, f->name);
            return 2;
        }
        if (set_value(cmd, f, v)) return 2;
        f->seen = 1;
    }
    return 0;
}
