/*
 * cmd_registry.c: `pronto registry init|list|show|register|promote|
 * rollback|diff|history|verify|gc|request DIR ...`, the model registry from the
 * command line (registry.h, docs/registry.md). Thin: each subcommand parses
 * its flags, opens DIR (only `init` creates it) and calls the library.
 * Human-readable output by default; --json prints one JSON document (or,
 * for history, the JSON lines) for scripts. Exit codes as everywhere: 1 the
 * work failed (the registry refused, a file is damaged), 2 bad usage.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/registry.h"

static const char usage_text[] =
    "<subcommand> DIR [args] [flags]\n"
    "\n"
    "The model registry in DIR: immutable versions (model + metadata), aliases\n"
    "moved atomically, an append-only history (docs/registry.md).\n"
    "\n"
    "  init DIR                       create a registry (a missing or empty folder)\n"
    "  list DIR                       versions and aliases\n"
    "  show DIR VERSION|ALIAS         a version's metadata\n"
    "  register DIR MODEL             copy a model file in as a new version\n"
    "  promote DIR VERSION|ALIAS      point an alias (--alias, default production) at it\n"
    "  rollback DIR                   move an alias back to its previous target\n"
    "  diff DIR A B                   compare two versions' metadata, metrics, model\n"
    "  history DIR                    every registration, alias move and decision\n"
    "  verify DIR [VERSION|ALIAS...]  check model files (default: every alias's target)\n"
    "  gc DIR                         remove versions no alias needs (--keep newest)\n"
    "  request DIR WHAT               ask a scheduler for work (retrain) early\n"
    "\n"
    "`pronto registry <subcommand> --help` lists its flags; --json everywhere.";

static int fail(const char *sub, const pr_err *err) {
    fprintf(stderr, "pronto registry %s: %s\n", sub, err->msg);
    return PR_EXIT_FAIL;
}

static int open_reg(const char *sub, const char *dir, int flags, pr_registry **r) {
    pr_err err;
    pr_err_clear(&err);
    if (pr_registry_open(dir, flags, r, &err) != PR_OK) return fail(sub, &err);
    return PR_EXIT_OK;
}

static void print_json(json_t *j) {
    char *t = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    if (t) printf("%s\n", t);
    free(t);
}

static const char *fmt_time(int64_t t, char *buf, size_t n) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(buf, n, "?");
    return buf;
}

/* Parses argv for a subcommand; positional arguments in pos. */
static int parse(const char *sub, const char *usage, pr_flag *f, int nf, int argc, char **argv,
                 char **pos, int cap, int *n_pos, int min_pos) {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "registry %s", sub);
    int rc = pr_flags_parse(cmd, usage, f, nf, argc, argv, pos, cap, n_pos);
    if (rc) return rc == 1 ? -1 : PR_EXIT_USAGE;
    if (*n_pos < min_pos) {
        fprintf(stderr, "pronto registry %s: usage: pronto registry %s %s\n", sub, sub, usage);
        return PR_EXIT_USAGE;
    }
    return 0;
}
#define NF(f) ((int)(sizeof f / sizeof f[0]))
#define PARSE(min, cap)                                                                      \
    char *pos[cap];                                                                          \
    int n_pos = 0;                                                                           \
    do {                                                                                     \
        int rc_ = parse(sub, usage, flags, NF(flags), argc, argv, pos, cap, &n_pos, min);    \
        if (rc_) return rc_ < 0 ? PR_EXIT_OK : rc_;                                          \
    } while (0)

static int sub_init(const char *sub, int argc, char **argv) {
    static const char usage[] = "DIR\n\nCreates a registry in DIR (missing, or empty), or "
                                "finishes a creation that was interrupted.";
    pr_flag flags[] = {{"--quiet", "-q", PR_FLAG_BOOL, NULL, "(no effect)", 0}};
    int quiet = 0;
    flags[0].dest = &quiet;
    PARSE(1, 1);
    pr_registry *r;
    int rc = open_reg(sub, pos[0], PR_REGISTRY_CREATE, &r);
    if (rc) return rc;
    if (!quiet) printf("registry %s ready\n", pr_registry_dir(r));
    pr_registry_close(r);
    return PR_EXIT_OK;
}

static int sub_list(const char *sub, int argc, char **argv) {
    static const char usage[] = "DIR [--json]\n\nLists the versions (oldest first) and aliases.";
    int as_json = 0;
    pr_flag flags[] = {{"--json", NULL, PR_FLAG_BOOL, &as_json, "print JSON", 0}};
    PARSE(1, 1);
    pr_registry *r;
    int rc = open_reg(sub, pos[0], 0, &r);
    if (rc) return rc;
    pr_err err;
    pr_err_clear(&err);
    pr_registry_entry *v = NULL;
    pr_registry_alias *al = NULL;
    size_t n = 0, n_al = 0;
    if (pr_registry_list(r, &v, &n, &err) != PR_OK ||
        pr_registry_aliases(r, &al, &n_al, &err) != PR_OK) {
        free(v);
        pr_registry_close(r);
        return fail(sub, &err);
    }
    if (as_json) {
        json_t *o = json_object(), *vs = json_array(), *as = json_object();
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_object();
            char fp[24];
            snprintf(fp, sizeof fp, "%016llx", (unsigned long long)v[i].spec_fingerprint);
            json_object_set_new(e, "id", json_string(v[i].id));
            json_object_set_new(e, "status", json_string(v[i].status));
            json_object_set_new(e, "kind", json_string(v[i].kind));
            json_object_set_new(e, "created_at", json_integer(v[i].created_at));
            json_object_set_new(e, "bytes", json_integer((json_int_t)v[i].bytes));
            json_object_set_new(e, "spec_fingerprint",
                                v[i].spec_fingerprint ? json_string(fp) : json_null());
            json_t *names = json_array();
            for (size_t k = 0; k < n_al; k++)
                if (!strcmp(al[k].version, v[i].id)) json_array_append_new(names, json_string(al[k].name));
            json_object_set_new(e, "aliases", names);
            json_array_append_new(vs, e);
        }
        for (size_t k = 0; k < n_al; k++)
            json_object_set_new(as, al[k].name, json_string(al[k].version));
        json_object_set_new(o, "versions", vs);
        json_object_set_new(o, "aliases", as);
        print_json(o);
        json_decref(o);
    } else {
        printf("%-10s %-10s %-4s %12s  %-20s  %-16s  %s\n", "VERSION", "STATUS", "KIND", "BYTES",
               "CREATED", "SPEC", "ALIASES");
        for (size_t i = 0; i < n; i++) {
            char t[32], names[512] = "";
            size_t used = 0;
            for (size_t k = 0; k < n_al; k++)
                if (!strcmp(al[k].version, v[i].id) && used < sizeof names)
                    used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                             used ? "," : "", al[k].name);
            printf("%-10s %-10s %-4s %12llu  %-20s  %016llx  %s\n", v[i].id, v[i].status, v[i].kind,
                   (unsigned long long)v[i].bytes, fmt_time(v[i].created_at, t, sizeof t),
                   (unsigned long long)v[i].spec_fingerprint, names);
        }
        if (!n) printf("(no versions)\n");
    }
    free(v);
    free(al);
    pr_registry_close(r);
    return PR_EXIT_OK;
}

/* A version's metadata as a jansson object (NULL and a message on failure). */
static json_t *load_meta(const char *sub, pr_registry *r, const char *name) {
    pr_err err;
    pr_err_clear(&err);
    char *text;
    if (pr_registry_get(r, name, &text, &err) != PR_OK) {
        fail(sub, &err);
        return NULL;
    }
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    if (!j) fprintf(stderr, "pronto registry %s: %s: metadata does not parse\n", sub, name);
    return j;
}

static void print_value(const char *label, json_t *v) {
    char *t = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)) : NULL;
    printf("  %-18s %s\n", label, t ? t : "-");
    free(t);
}

static int sub_show(const char *sub, int argc, char **argv) {
    static const char usage[] = "DIR VERSION|ALIAS [--json]\n\nPrints a version's metadata "
                                "(--json: meta.json as stored).";
    int as_json = 0;
    pr_flag flags[] = {{"--json", NULL, PR_FLAG_BOOL, &as_json, "print meta.json", 0}};
    PARSE(2, 2);
    pr_registry *r;
    int rc = open_reg(sub, pos[0], 0, &r);
    if (rc) return rc;
    json_t *m = load_meta(sub, r, pos[1]);
    pr_registry_close(r);
    if (!m) return PR_EXIT_FAIL;
    if (as_json) {
        print_json(m);
    } else {
        json_t *model = json_object_get(m, "model");
        char t[32];
        printf("%s\n", json_string_value(json_object_get(m, "id")));
        print_value("status", json_object_get(m, "status"));
        print_value("reasons", json_object_get(m, "reasons"));
        printf("  %-18s %s\n", "created", fmt_time(json_integer_value(json_object_get(m, "created_at")), t, sizeof t));
        print_value("parent", json_object_get(m, "parent"));
        print_value("kind", json_object_get(model, "kind"));
        print_value("hash_bits", json_object_get(model, "hash_bits"));
        print_value("spec_fingerprint", json_object_get(model, "spec_fingerprint"));
        print_value("bytes", json_object_get(model, "bytes"));
        print_value("checksum", json_object_get(model, "checksum"));
        print_value("metrics", json_object_get(m, "metrics"));
        print_value("data", json_object_get(m, "data"));
        print_value("creator", json_object_get(m, "creator"));
        print_value("pronto_version", json_object_get(m, "pronto_version"));
    }
    json_decref(m);
    return PR_EXIT_OK;
}

/* The command line, for the metadata's creator. */
static char *join_argv(int argc, char **argv) {
    size_t n = 32;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 3;
    char *s = malloc(n), *p = s;
    if (!s) return NULL;
    p += snprintf(p, n, "pronto registry");
    for (int i = 0; i < argc; i++)
        p += snprintf(p, n - (size_t)(p - s), strpbrk(argv[i], " \t'\"") ? " '%s'" : " %s", argv[i]);
    return s;
}

static int sub_register(const char *sub, int argc, char **argv) {
    static const char usage[] =
        "DIR MODEL [--parent V] [--data JSON] [--metrics JSON] [--rejected] [--reason R]\n"
        "       [--alias A [--force]] [--json]\n\n"
        "Copies MODEL (verified first) into a new version and prints its id.";
    const char *parent = NULL, *data = NULL, *metrics = NULL, *reason = NULL, *alias = NULL;
    int rejected = 0, force = 0, as_json = 0;
    pr_flag flags[] = {
        {"--parent", NULL, PR_FLAG_STRING, &parent, "V  the version it derives from (id or alias)", 0},
        {"--data", NULL, PR_FLAG_STRING, &data,
         "JSON  training data: window, event-log offsets... (an object)", 0},
        {"--metrics", NULL, PR_FLAG_STRING, &metrics, "JSON  metrics on the gate's holdout (an object)", 0},
        {"--rejected", NULL, PR_FLAG_BOOL, &rejected, "register it as rejected (a failed gate)", 0},
        {"--reason", NULL, PR_FLAG_STRING, &reason, "R  why (recorded in metadata and history)", 0},
        {"--alias", NULL, PR_FLAG_STRING, &alias, "A  also point alias A at it", 0},
        {"--force", NULL, PR_FLAG_BOOL, &force, "with --alias: even if its spec differs", 0},
        {"--json", NULL, PR_FLAG_BOOL, &as_json, "print {\"id\": ...}", 0},
    };
    PARSE(2, 2);
    if (force && !alias) return cli_usage_error("registry register", "--force needs --alias");
    if (rejected && alias)
        return cli_usage_error("registry register", "--rejected and --alias: a rejected version is not promoted");
    pr_registry *r;
    int rc = open_reg(sub, pos[0], 0, &r);
    if (rc) return rc;
    pr_registry_version_opts o;
    pr_registry_version_opts_default(&o);
    char *cmdline = join_argv(argc, argv);
    o.parent = parent;
    o.data_json = data;
    o.metrics_json = metrics;
    o.rejected = rejected;
    o.command = cmdline;
    if (reason) {
        o.reasons = &reason;
        o.n_reasons = 1;
    }
    pr_err err;
    pr_err_clear(&err);
    char id[PR_REGISTRY_ID_MAX];
    pr_status s = pr_registry_register(r, pos[1], &o, id, &err);
    free(cmdline);
    if (s == PR_OK && alias) {
        s = pr_registry_set_alias(r, alias, id, reason ? reason : "registered with --alias", force, &err);
        if (s != PR_OK) fprintf(stderr, "pronto registry register: %s registered, but: ", id);
    }
    pr_registry_close(r);
    if (s != PR_OK) return fail(sub, &err);
    if (as_json) printf("{\"id\": \"%s\"%s%s%s}\n", id, alias ? ", \"alias\": \"" : "",
                        alias ? alias : "", alias ? "\"" : "");
    else printf("%s\n", id);
    return PR_EXIT_OK;
}

static int sub_promote(const char *sub, int argc, char **argv) {
    static const char usage[] =
        "DIR VERSION|ALIAS [--alias A] --reason R [--force] [--json]\n\n"
        "Points alias A (default production) at VERSION (or at what another alias names).\n"
        "Refused when its spec fingerprint differs from the current target's, or it was\n"
        "rejected, unless --force.";
    const char *alias = "production", *reason = NULL;
    int force = 0, as_json = 0;
    pr_flag flags[] = {
        {"--alias", NULL, PR_FLAG_STRING, &alias, "A  the alias to move, default production", 0},
        {"--reason", NULL, PR_FLAG_STRING, &reason, "R  why (required; written to the history)", 0},
        {"--force", NULL, PR_FLAG_BOOL, &force, "even if the spec differs or it was rejected", 0},
        {"--json", NULL, PR_FLAG_BOOL, &as_json, "print {\"alias\":..,\"version\":..}", 0},
    };
    PARSE(2, 2);
    if (!reason || !*reason) return cli_usage_error("registry promote", "--reason is required");
    pr_registry *r;
    int rc = open_reg(sub, pos[0], 0, &r);
    if (rc) return rc;
    pr_err err;
    pr_err_clear(&err);
    char id[PR_REGISTRY_ID_MAX];
    pr_status s = pr_registry_set_alias(r, alias, pos[1], reason, force, &err);
    if (s == PR_OK) s = pr_registry_resolve(r, alias, id, NULL, &err);
    pr_registry_close(r);
    if (s != PR_OK) return fail(sub, &err);
    if (as_json) printf("{\"alias\": \"%s\", \"version\": \"%s\"}\n", alias, id);
    else printf("%s -> %s\n", alias, id);
    return PR_EXIT_OK;
}

static int sub_rollback(const char *sub, int argc, char **argv) {
    static const char usage[] = "DIR [--alias A] [--reason R] [--json]\n\n"
                                "Moves alias A (default production) back to the target it had "
                                "before\nits current one (again: further back).";
    const char *alias = "production", *reason = "manual rollback";
    int as_json = 0;
    pr_flag flags[] = {
        {"--alias", NULL, PR_FLAG_STRING, &alias, "A  the alias, default production", 0},
        {"--reason", NULL, PR_FLAG_STRING, &reason, "R  why, default 'manual rollback'", 0},
        {"--json", NULL, PR_FLAG_BOOL, &as_json, "print {\"alias\":..,\"version\":..}", 0},
    };
    PARSE(1, 1);
    pr_registry *r;
    int rc = open_reg(sub, pos[0], 0, &r);
    if (rc) return rc;
    pr_err err;
    pr_err_clear(&err);
    char id[PR_REGISTRY_ID_MAX];
    pr_status s = pr_registry_rollback(r, alias, reason, id, &err);
    pr_registry_close(r);
    if (s != PR_OK) return fail(sub, &err);
    if (as_json) printf("{\"alias\": \"%s\", \"version\": \"%s\"}\n", alias, id);
    else printf("%s -> %s\n", alias, id);
    return PR_EXIT_OK;
}

static int sub_request(const char *sub, int argc, char **argv) {
    static const char usage[] =
        "DIR WHAT [--reason R] [--detail JSON]\n\n"
        "Records a pending request WHAT (e.g. retrain) that a scheduler takes:\n"
        "`pronto retrain --every` starts a cycle early when it finds one. A second\n"
        "request before it is taken is merged into it (the newest reason wins).";
    const char *reason = "manual request", *detail = NULL;
    pr_flag flags[] = {
        {"--reason", NULL, PR_FLAG_STRING, &reason, "R  why, default 'manual request'", 0},
        {"--detail", NULL, PR_FLAG_STRING, &detail, "JSON  an object kept with it", 0},
    };
    PARSE(2, 2);
    pr_registry *r;
    int rc = open_reg(sub, pos[0], 0, &r);
    if (rc) return rc;
    pr_err err;
    pr_err_clear(&err);
    pr_status s = pr_registry_request(r, pos[1], reason, detail, &err);
    pr_registry_close(r);
    if (s == PR_ERR_INVALID || s == PR_ERR_PARSE) {
        fprintf(stderr, "pronto registry %s: %s\n", sub, err.msg);
        return PR_EXIT_USAGE;
    }
    if (s != PR_OK) return fail(sub, &err);
    printf("%s requested\n", pos[1]);
    return PR_EXIT_OK;
}

/* Adds {field: {a, b[, delta]}} to d when a and b differ. */
static void diff_field(json_t *d, const char *field, json_t *a, json_t *b) {
    if (a && b && json_equal(a, b)) return;
    if (!a && !b) return;
    json_t *e = json_object();
    json_object_set(e, "a", a ? a : json_null());
    json_object_set(e, "b", b ? b : json_null());
    if (json_is_number(a) && json_is_number(b))
        json_object_set_new(e, "delta", json_real(json_number_value(b) - json_number_value(a)));
    json_object_set_new(d, field, e);
}

static void diff_objects(json_t *d, const char *prefix, json_t *a, json_t *b) {
    const char *k;
    json_t *v;
    char name[256];
    json_object_foreach(a, k, v) {
        snprintf(name, sizeof name, "%s%s", prefix, k);
        diff_field(d, name, v, json_object_get(b, k));
    }
    json_object_foreach(b, k, v) {
        if (json_object_get(a, k)) continue;
        snprintf(name, sizeof name, "%s%s", prefix, k);
        diff_field(d, name, NULL, v);
    }
}

static int sub_diff(const char *sub, int argc, char **argv) {
    static const char usage[] = "DIR A B [--json]\n\nWhat differs between versions (or aliases) "
                                "A and B: status, parent,\nmodel (kind, hash bits, spec "
                                "fingerprint, size), metrics (with B - A), data.";
    int as_json = 0;
    pr_flag flags[] = {{"--json", NULL, PR_FLAG_BOOL, &as_json, "print JSON", 0}};
    PARSE(3, 3);
    pr_registry *r;
    int rc = open_reg(sub, pos[0], 0, &r);
    if (rc) return rc;
    json_t *a = load_meta(sub, r, pos[1]), *b = a ? load_meta(sub, r, pos[2]) : NULL;
    pr_registry_close(r);
    if (!a || !b) {
        json_decref(a);
        return PR_EXIT_FAIL;
    }
    json_t *d = json_object();
    static const char *const top[] = {"status", "reasons", "parent", "pronto_version"};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        diff_field(d, top[i], json_object_get(a, top[i]), json_object_get(b, top[i]));
    json_t *ma = json_deep_copy(json_object_get(a, "model")), *mb = json_deep_copy(json_object_get(b, "model"));
    json_object_del(ma, "train_info");
    json_object_del(mb, "train_info");
    diff_objects(d, "model.", ma, mb);
    diff_objects(d, "metrics.", json_object_get(a, "metrics"), json_object_get(b, "metrics"));
    diff_objects(d, "data.", json_object_get(a, "data"), json_object_get(b, "data"));
    json_t *fa = json_object_get(ma, "spec_fingerprint"), *fb = json_object_get(mb, "spec_fingerprint");
    int same_spec = json_equal(fa ? fa : json_null(), fb ? fb : json_null());
    if (as_json) {
        json_t *o = json_object();
        json_object_set(o, "a", json_object_get(a, "id"));
        json_object_set(o, "b", json_object_get(b, "id"));
        json_object_set_new(o, "same_spec", json_boolean(same_spec));
        json_object_set(o, "differences", d);
        print_json(o);
        json_decref(o);
    } else {
        printf("%s -> %s: %s spec\n", json_string_value(json_object_get(a, "id")),
               json_string_value(json_object_get(b, "id")), same_spec ? "same" : "DIFFERENT");
        const char *k;
        json_t *v;
        json_object_foreach(d, k, v) {
            char *ta = json_dumps(json_object_get(v, "a"), JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
            char *tb = json_dumps(json_object_get(v, "b"), JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
            json_t *dl = json_object_get(v, "delta");
            if (dl) printf("  %-28s %s -> %s (%+g)\n", k, ta, tb, json_real_value(dl));
            else printf("  %-28s %s -> %s\n", k, ta, tb);
            free(ta);
            free(tb);
        }
        if (!json_object_size(d)) printf("  (no differences)\n");
    }
    json_decref(ma);
    json_decref(mb);
    json_decref(d);
    json_decref(a);
    json_decref(b);
    return PR_EXIT_OK;
}

static int sub_history(const char *sub, int argc, char **argv) {
    static const char usage[] = "DIR [--alias A] [--json]\n\nEvery registration, alias move, "
                                "rollback, gate decision and gc, oldest\nfirst (--json: the "
                                "JSON lines as stored).";
    const char *alias = NULL;
    int as_json = 0;
    pr_flag flags[] = {
        {"--alias", NULL, PR_FLAG_STRING, &alias, "A  only the lines about alias A", 0},
        {"--json", NULL, PR_FLAG_BOOL, &as_json, "print the JSON lines", 0},
    };
    PARSE(1, 1);
    pr_registry *r;
    int rc = open_reg(sub, pos[0], 0, &r);
    if (rc) return rc;
    pr_err err;
    pr_err_clear(&err);
    char *text;
    size_t len;
    pr_status s = pr_registry_history(r, &text, &len, &err);
    pr_registry_close(r);
    if (s != PR_OK) return fail(sub, &err);
    for (char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        json_t *j = json_loads(p, 0, NULL);
        const char *al = json_string_value(json_object_get(j, "alias"));
        if (j && (!alias || (al && !strcmp(al, alias)))) {
            if (as_json) {
                printf("%s\n", p);
            } else {
                char t[32];
                const char *op = json_string_value(json_object_get(j, "op"));
                const char *ver = json_string_value(json_object_get(j, "version"));
                const char *from = json_string_value(json_object_get(j, "from"));
                const char *why = json_string_value(json_object_get(j, "reason"));
                printf("%s  %-9s %-8s", fmt_time((int64_t)json_number_value(json_object_get(j, "time")), t, sizeof t),
                       op ? op : "?", ver ? ver : "-");
                if (al) printf(" %s%s%s", al, from ? " from " : "", from ? from : "");
                if (json_is_true(json_object_get(j, "recovered"))) printf(" (recovered)");
                if (why) printf("  \"%s\"", why);
                printf("\n");
            }
        }
        json_decref(j);
    }
    free(text);
    return PR_EXIT_OK;
}

static int sub_verify(const char *sub, int argc, char **argv) {
    static const char usage[] = "DIR [VERSION|ALIAS...] [--all]\n\nReads model files through and "
                                "checks their checksums (default: the\ntarget of every alias; "
                                "--all: every version).";
    int all = 0;
    pr_flag flags[] = {{"--all", NULL, PR_FLAG_BOOL, &all, "every version", 0}};
    PARSE(1, 64);
    pr_registry *r;
    int rc = open_reg(sub, pos[0], 0, &r);
    if (rc) return rc;
    pr_err err;
    pr_err_clear(&err);
    int bad = 0;
    size_t n = 0;
    pr_registry_alias *al = NULL;
    pr_registry_entry *v = NULL;
    pr_status s = PR_OK;
    if (n_pos > 1) {
        for (int i = 1; i < n_pos; i++) {
            if (pr_registry_verify(r, pos[i], &err) != PR_OK) bad = fail(sub, &err);
            else printf("%s ok\n", pos[i]);
        }
    } else if (all) {
        if ((s = pr_registry_list(r, &v, &n, &err)) == PR_OK)
            for (size_t i = 0; i < n; i++) {
                if (pr_registry_verify(r, v[i].id, &err) != PR_OK) bad = fail(sub, &err);
                else printf("%s ok\n", v[i].id);
            }
    } else if ((s = pr_registry_aliases(r, &al, &n, &err)) == PR_OK) {
        for (size_t i = 0; i < n; i++) {
            if (pr_registry_verify(r, al[i].name, &err) != PR_OK) bad = fail(sub, &err);
            else printf("%s -> %s ok\n", al[i].name, al[i].version);
        }
    }
    free(al);
    free(v);
    pr_registry_close(r);
    if (s != PR_OK) return fail(sub, &err);
    return bad ? PR_EXIT_FAIL : PR_EXIT_OK;
}

static int sub_gc(const char *sub, int argc, char **argv) {
    static const char usage[] =
        "DIR [--keep K] [--dry-run] [--json]\n\nRemoves versions that no alias names, that no "
        "rollback would return to,\nand that are not among the newest K (default 5).";
    unsigned long long keep = 5;
    int dry = 0, as_json = 0;
    pr_flag flags[] = {
        {"--keep", NULL, PR_FLAG_UINT, &keep, "K  newest versions always kept, default 5", 0},
        {"--dry-run", "-n", PR_FLAG_BOOL, &dry, "only say what would be removed", 0},
        {"--json", NULL, PR_FLAG_BOOL, &as_json, "print {\"removed\": [...]}", 0},
    };
    PARSE(1, 1);
    if (keep > 1000000) return cli_usage_error("registry gc", "--keep must be <= 1000000");
    pr_registry *r;
    int rc = open_reg(sub, pos[0], 0, &r);
    if (rc) return rc;
    pr_err err;
    pr_err_clear(&err);
    pr_registry_alias *gone;
    size_t n;
    pr_status s = pr_registry_gc(r, (uint32_t)keep, dry, &gone, &n, &err);
    pr_registry_close(r);
    if (s != PR_OK) return fail(sub, &err);
    if (as_json) {
        printf("{\"dry_run\": %s, \"removed\": [", dry ? "true" : "false");
        for (size_t i = 0; i < n; i++) printf("%s\"%s\"", i ? ", " : "", gone[i].version);
        printf("]}\n");
    } else {
        for (size_t i = 0; i < n; i++) printf("%s %s\n", dry ? "would remove" : "removed", gone[i].version);
        if (!n) printf("nothing to remove\n");
    }
    free(gone);
    return PR_EXIT_OK;
}

typedef struct sub_entry {
    const char *name;
    int (*run)(const char *sub, int argc, char **argv);
} sub_entry;

static const sub_entry subs[] = {
    {"init", sub_init},         {"list", sub_list},         {"show", sub_show},
    {"register", sub_register}, {"promote", sub_promote},   {"rollback", sub_rollback},
    {"diff", sub_diff},         {"history", sub_history},   {"verify", sub_verify},
    {"gc", sub_gc},             {"request", sub_request},
};

const char *cmd_registry_sub(size_t i) {
    return i < sizeof subs / sizeof subs[0] ? subs[i].name : NULL;
}

int cmd_registry(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *out = argc < 2 ? stderr : stdout;
        fprintf(out, "usage: pronto registry %s\n", usage_text);
        return argc < 2 ? PR_EXIT_USAGE : PR_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name)) return subs[i].run(subs[i].name, argc - 1, argv + 1);
    fprintf(stderr, "pronto registry: unknown subcommand '%s' (init, list, show, register, "
                    "promote, rollback, diff, history, verify, gc, request)\n", argv[1]);
    return PR_EXIT_USAGE;
}
