/*
 * test_registry.c: the model registry (registry.h) on real files: a round
 * trip (register, metadata, aliases, the spec-fingerprint and rejected
 * guards, rollback walking back, notes, gc keeping what aliases need, ids
 * never reused); bad directories refused with their names; a torn history
 * line skipped by readers and cut by the next writer; two processes
 * registering and promoting at once; and kill -9 at random instants of
 * register/promote/rollback in a child process, repeated, after which the
 * registry opens, every alias names a version whose model file verifies,
 * the history parses, and the next write restores the lines the kill lost.
 * Pending requests (pr_registry_request/take_request): durable, merged,
 * taken by exactly one of four racing processes, whole after kill -9.
 * A model registered as just saved (opts.saved) is hard-linked, copied
 * across filesystems; a handle's remembered history follows a registry
 * made again under the same name.
 * Children leave with _exit (the harness's atexit removes the folder).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "pronto/model.h"
#include "pronto/registry.h"
#include "test.h"

static const char *spec_yaml(int seed, int bits) {
    static char buf[512];
    snprintf(buf, sizeof buf,
             "version: 1\nhash_bits: %d\nseed: %d\nmin_count: 0\ninput:\n  format: libsvm\n"
             "fields:\n  - {name: f0, type: categorical}\n",
             bits, seed);
    return buf;
}

/* An LR model of 2^bits buckets, a few trained, with an embedded spec. */
static void make_model(const char *path, int seed, int bits) {
    pr_err err;
    pr_model_params p;
    pr_model_params_default(&p, PR_MODEL_KIND_LR);
    p.hash_bits = (uint32_t)bits;
    pr_model *m;
    ASSERT_OK(pr_model_new(&p, &m, &err));
    pr_feature f[2];
    for (int i = 0; i < 200; i++) {
        f[0].field = 0;
        f[0].index = (uint32_t)(i * 7919 + seed);
        f[0].value = 1;
        f[1] = f[0];
        f[1].index += 13;
        pr_example x = {.f = f, .n = 2, .label = (float)(i % 3 == 0), .weight = 1};
        pr_model_update(m, &x);
    }
    ASSERT_OK(pr_model_set_spec(m, spec_yaml(seed, bits), &err));
    ASSERT_OK(pr_model_save(m, path, &err));
    pr_model_free(m);
}

static json_t *meta_of(pr_registry *r, const char *name) {
    pr_err err;
    char *text;
    ASSERT_OK(pr_registry_get(r, name, &text, &err));
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    ASSERT_TRUE(j != NULL);
    return j;
}

static const char *alias_target(pr_registry *r, const char *alias) {
    static char id[PR_REGISTRY_ID_MAX];
    pr_err err;
    ASSERT_OK(pr_registry_resolve(r, alias, id, NULL, &err));
    return id;
}

/* Every history line parses and names an op; returns the number of lines
 * with op == `op` (NULL: all). */
static int history_count(pr_registry *r, const char *op) {
    pr_err err;
    char *text;
    size_t len;
    ASSERT_OK(pr_registry_history(r, &text, &len, &err));
    int n = 0;
    for (char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);
        if (!j) TEST_FAIL("history line does not parse: %.*s", (int)(nl - p), p);
        const char *o = json_string_value(json_object_get(j, "op"));
        ASSERT_TRUE(o != NULL);
        if (!op || !strcmp(o, op)) n++;
        json_decref(j);
    }
    free(text);
    return n;
}

TEST(round_trip) {
    pr_err err;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_path("reg"));
    make_model(test_path("a.pm"), 1, 10);
    make_model(test_path("b.pm"), 1, 10); /* same spec as a */
    make_model(test_path("c.pm"), 2, 10); /* another spec (seed) */
    pr_registry *r;
    ASSERT_STATUS(pr_registry_open(dir, 0, &r, &err), PR_ERR_NOTFOUND);
    ASSERT_CONTAINS(err.msg, dir);
    ASSERT_OK(pr_registry_open(dir, PR_REGISTRY_CREATE, &r, &err));

    pr_registry_version_opts o;
    pr_registry_version_opts_default(&o);
    o.data_json = "{\"window\":[\"2024-01-01\",\"2024-01-07\"],\"log_offsets\":{\"from\":0,\"to\":912}}";
    o.metrics_json = "{\"ne\":0.91,\"logloss\":0.43}";
    o.command = "test round_trip";
    char a[PR_REGISTRY_ID_MAX], b[PR_REGISTRY_ID_MAX], c[PR_REGISTRY_ID_MAX],
        d[PR_REGISTRY_ID_MAX];
    ASSERT_OK(pr_registry_register(r, test_path("a.pm"), &o, a, &err));
    ASSERT_EQ_STR(a, "v000001");
    o.parent = a;
    o.metrics_json = "{\"ne\":0.90}";
    ASSERT_OK(pr_registry_register(r, test_path("b.pm"), &o, b, &err));
    ASSERT_EQ_STR(b, "v000002");
    o.parent = NULL;
    ASSERT_OK(pr_registry_register(r, test_path("c.pm"), &o, c, &err));
    const char *why[] = {"NE 0.95 worse than production's 0.90 by more than 0.01"};
    o.rejected = 1;
    o.reasons = why;
    o.n_reasons = 1;
    ASSERT_OK(pr_registry_register(r, test_path("b.pm"), &o, d, &err));
    ASSERT_EQ_STR(d, "v000004");

    /* Bad input to register: the model and the JSON texts. */
    char x[PR_REGISTRY_ID_MAX];
    pr_registry_version_opts_default(&o);
    test_write_file(test_path("junk.pm"), "not a model");
    ASSERT_TRUE(pr_registry_register(r, test_path("junk.pm"), &o, x, &err) != PR_OK);
    ASSERT_CONTAINS(err.msg, "junk.pm");
    o.metrics_json = "[1,2]";
    ASSERT_STATUS(pr_registry_register(r, test_path("a.pm"), &o, x, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "metrics");
    o.metrics_json = NULL;
    o.parent = "v000099";
    ASSERT_STATUS(pr_registry_register(r, test_path("a.pm"), &o, x, &err), PR_ERR_NOTFOUND);

    /* Metadata: what the caller gave, what the model is, who made it. */
    json_t *m = meta_of(r, b);
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "id")), b);
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "parent")), a);
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "status")), "registered");
    ASSERT_NEAR(json_number_value(json_object_get(json_object_get(m, "metrics"), "ne")), 0.90, 1e-12);
    ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(json_object_get(m, "data"),
                                                                    "log_offsets"), "to")), 912);
    json_t *model = json_object_get(m, "model");
    ASSERT_EQ_STR(json_string_value(json_object_get(model, "kind")), "lr");
    ASSERT_EQ_INT(json_integer_value(json_object_get(model, "hash_bits")), 10);
    ASSERT_TRUE(json_string_value(json_object_get(model, "spec_fingerprint")) != NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(m, "creator"), "command")),
                  "test round_trip");
    ASSERT_TRUE(json_string_value(json_object_get(m, "pronto_version")) != NULL);
    size_t len_b;
    free(test_read_file(test_path("b.pm"), &len_b));
    ASSERT_EQ_INT(json_integer_value(json_object_get(model, "bytes")), len_b);
    json_decref(m);
    m = meta_of(r, d);
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "status")), "rejected");
    ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(m, "reasons"), 0)), why[0]);
    json_decref(m);

    /* The copy is the registered file, byte for byte, and verifies. */
    char path[PR_REGISTRY_PATH_MAX], id[PR_REGISTRY_ID_MAX];
    ASSERT_OK(pr_registry_resolve(r, a, id, path, &err));
    size_t l1, l2;
    char *f1 = test_read_file(path, &l1), *f2 = test_read_file(test_path("a.pm"), &l2);
    ASSERT_TRUE(l1 == l2 && !memcmp(f1, f2, l1));
    free(f1);
    free(f2);
    ASSERT_OK(pr_registry_verify(r, a, &err));

    /* Aliases: guards, moves, rollback walking back. */
    ASSERT_STATUS(pr_registry_set_alias(r, "bad name", a, "x", 0, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_registry_set_alias(r, "v000001", a, "x", 0, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_registry_resolve(r, "production", NULL, NULL, &err), PR_ERR_NOTFOUND);
    ASSERT_OK(pr_registry_set_alias(r, "production", a, "first", 0, &err));
    ASSERT_OK(pr_registry_set_alias(r, "candidate", b, "trained", 0, &err));
    ASSERT_OK(pr_registry_set_alias(r, "production", "candidate", "gate passed", 0, &err));
    ASSERT_EQ_STR(alias_target(r, "production"), b);
    ASSERT_STATUS(pr_registry_set_alias(r, "production", c, "other spec", 0, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "fingerprint");
    ASSERT_STATUS(pr_registry_set_alias(r, "production", d, "rejected", 0, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "rejected");
    ASSERT_EQ_STR(alias_target(r, "production"), b);
    ASSERT_OK(pr_registry_set_alias(r, "production", c, "new featurization, store migrated", 1, &err));
    ASSERT_EQ_STR(alias_target(r, "production"), c);
    char back[PR_REGISTRY_ID_MAX];
    ASSERT_OK(pr_registry_rollback(r, "production", "live NE worse", back, &err));
    ASSERT_EQ_STR(back, b);
    ASSERT_OK(pr_registry_rollback(r, "production", "again", back, &err));
    ASSERT_EQ_STR(back, a);
    ASSERT_STATUS(pr_registry_rollback(r, "production", "too far", back, &err), PR_ERR_NOTFOUND);
    ASSERT_EQ_STR(alias_target(r, "production"), a);
    ASSERT_OK(pr_registry_note(r, "gate", b, "NE better by 0.011", "{\"ne_gain\":0.011}", &err));
    ASSERT_STATUS(pr_registry_note(r, "alias", b, "x", NULL, &err), PR_ERR_INVALID);

    pr_registry_alias *al;
    size_t n;
    ASSERT_OK(pr_registry_aliases(r, &al, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_STR(al[0].name, "candidate");
    ASSERT_EQ_STR(al[1].name, "production");
    free(al);
    pr_registry_entry *v;
    ASSERT_OK(pr_registry_list(r, &v, &n, &err));
    ASSERT_EQ_INT(n, 4);
    ASSERT_EQ_STR(v[3].status, "rejected");
    ASSERT_TRUE(v[0].spec_fingerprint == v[1].spec_fingerprint);
    ASSERT_TRUE(v[0].spec_fingerprint != v[2].spec_fingerprint);
    free(v);
    ASSERT_EQ_INT(history_count(r, "register"), 4);
    ASSERT_EQ_INT(history_count(r, "alias"), 4);
    ASSERT_EQ_INT(history_count(r, "rollback"), 2);
    ASSERT_EQ_INT(history_count(r, "gate"), 1);

    /* gc: production (a) and candidate (b) are named; nothing to go back
     * to for production now; c and d go with keep 0. */
    pr_registry_alias *gone;
    ASSERT_OK(pr_registry_gc(r, 0, 1, &gone, &n, &err));
    ASSERT_EQ_INT(n, 2);
    free(gone);
    ASSERT_OK(pr_registry_gc(r, 1, 0, &gone, &n, &err)); /* newest (d) kept */
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(gone[0].version, c);
    free(gone);
    ASSERT_STATUS(pr_registry_get(r, c, &f1, &err), PR_ERR_NOTFOUND);
    ASSERT_OK(pr_registry_gc(r, 0, 0, &gone, &n, &err));
    ASSERT_EQ_INT(n, 1);
    free(gone);
    /* Ids are never reused, even of removed versions. */
    pr_registry_version_opts_default(&o);
    ASSERT_OK(pr_registry_register(r, test_path("a.pm"), &o, x, &err));
    ASSERT_EQ_STR(x, "v000005");
    /* A version's rollback target survives gc. */
    ASSERT_OK(pr_registry_set_alias(r, "production", x, "newer", 0, &err));
    ASSERT_OK(pr_registry_gc(r, 0, 0, &gone, &n, &err));
    ASSERT_EQ_INT(n, 0);
    free(gone);
    pr_registry_close(r);

    /* Another handle sees the same state. */
    ASSERT_OK(pr_registry_open(dir, 0, &r, &err));
    ASSERT_EQ_STR(alias_target(r, "production"), x);
    pr_registry_close(r);
}

TEST(bad_directories) {
    pr_err err;
    pr_registry *r;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_path("bad"));
    ASSERT_TRUE(mkdir(dir, 0755) == 0);
    ASSERT_STATUS(pr_registry_open(dir, 0, &r, &err), PR_ERR_FORMAT); /* empty */
    ASSERT_CONTAINS(err.msg, dir);
    ASSERT_CONTAINS(err.msg, "empty");
    /* Half-created: the skeleton without FORMAT. */
    char p[1200];
    snprintf(p, sizeof p, "%s/versions", dir);
    ASSERT_TRUE(mkdir(p, 0755) == 0);
    ASSERT_STATUS(pr_registry_open(dir, 0, &r, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "half-created");
    ASSERT_CONTAINS(err.msg, dir);
    ASSERT_OK(pr_registry_open(dir, PR_REGISTRY_CREATE, &r, &err)); /* finished */
    pr_registry_close(r);
    ASSERT_OK(pr_registry_open(dir, 0, &r, &err));
    pr_registry_close(r);
    /* Another format version, a FORMAT that is not ours. */
    snprintf(p, sizeof p, "%s/FORMAT", dir);
    test_write_file(p, "pronto-registry 2\n");
    ASSERT_STATUS(pr_registry_open(dir, 0, &r, &err), PR_ERR_VERSION);
    ASSERT_CONTAINS(err.msg, "version 2");
    ASSERT_CONTAINS(err.msg, dir);
    test_write_file(p, "something else\n");
    ASSERT_STATUS(pr_registry_open(dir, 0, &r, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, dir);
    test_write_file(p, "pronto-registry 1\n");
    /* Damaged: a folder missing. */
    snprintf(p, sizeof p, "%s/aliases", dir);
    ASSERT_TRUE(rmdir(p) == 0);
    ASSERT_STATUS(pr_registry_open(dir, 0, &r, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "aliases");
    /* Not a registry: other files; creation refuses too. */
    char other[512];
    snprintf(other, sizeof other, "%s", test_path("other"));
    ASSERT_TRUE(mkdir(other, 0755) == 0);
    snprintf(p, sizeof p, "%s/notes.txt", other);
    test_write_file(p, "hello");
    ASSERT_STATUS(pr_registry_open(other, 0, &r, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "not a pronto registry");
    ASSERT_STATUS(pr_registry_open(other, PR_REGISTRY_CREATE, &r, &err), PR_ERR_FORMAT);
    /* A file, not a folder. */
    ASSERT_STATUS(pr_registry_open(p, 0, &r, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "not a directory");
    /* Unreadable (meaningless as root, who reads anything). */
    if (geteuid() != 0) {
        char locked[512];
    snprintf(locked, sizeof locked, "%s", test_path("locked"));
        ASSERT_OK(pr_registry_open(locked, PR_REGISTRY_CREATE, &r, &err));
        pr_registry_close(r);
        ASSERT_TRUE(chmod(locked, 0) == 0);
        ASSERT_TRUE(pr_registry_open(locked, 0, &r, &err) == PR_ERR_IO);
        ASSERT_CONTAINS(err.msg, locked);
        chmod(locked, 0755);
    }
    /* A damaged alias file or meta.json: named when read. */
    char dmg[512];
    snprintf(dmg, sizeof dmg, "%s", test_path("dmg"));
    ASSERT_OK(pr_registry_open(dmg, PR_REGISTRY_CREATE, &r, &err));
    make_model(test_path("m.pm"), 1, 10);
    char id[PR_REGISTRY_ID_MAX];
    ASSERT_OK(pr_registry_register(r, test_path("m.pm"), NULL, id, &err));
    ASSERT_OK(pr_registry_set_alias(r, "production", id, "x", 0, &err));
    snprintf(p, sizeof p, "%s/aliases/production", dmg);
    test_write_file(p, "{\"version\": 12}");
    ASSERT_STATUS(pr_registry_resolve(r, "production", NULL, NULL, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "aliases/production");
    /* Other writes still work; the alias is replaced only by force. */
    ASSERT_OK(pr_registry_set_alias(r, "candidate", id, "x", 0, &err));
    ASSERT_STATUS(pr_registry_set_alias(r, "production", id, "x", 0, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "force");
    ASSERT_OK(pr_registry_set_alias(r, "production", id, "repair", 1, &err));
    ASSERT_EQ_STR(alias_target(r, "production"), id);
    /* A model file damaged after registration: verify names it. */
    snprintf(p, sizeof p, "%s/versions/%s/model.pm", dmg, id);
    int fd = open(p, O_WRONLY);
    ASSERT_TRUE(fd >= 0 && pwrite(fd, "X", 1, 100) == 1);
    close(fd);
    ASSERT_STATUS(pr_registry_verify(r, id, &err), PR_ERR_CHECKSUM);
    ASSERT_CONTAINS(err.msg, p);
    pr_registry_close(r);
}

TEST(torn_history_line) {
    pr_err err;
    pr_registry *r;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_path("torn"));
    ASSERT_OK(pr_registry_open(dir, PR_REGISTRY_CREATE, &r, &err));
    make_model(test_path("t.pm"), 1, 10);
    char id[PR_REGISTRY_ID_MAX];
    ASSERT_OK(pr_registry_register(r, test_path("t.pm"), NULL, id, &err));
    char p[1200];
    snprintf(p, sizeof p, "%s/history.jsonl", dir);
    FILE *f = fopen(p, "ab");
    fputs("{\"time\":1,\"op\":\"alias\",\"vers", f); /* a kill mid-append */
    fclose(f);
    ASSERT_EQ_INT(history_count(r, NULL), 1);
    ASSERT_OK(pr_registry_set_alias(r, "production", id, "after the tear", 0, &err));
    ASSERT_EQ_INT(history_count(r, NULL), 2);
    char *text = test_read_file(p, NULL);
    ASSERT_TRUE(strstr(text, "\"vers\n") == NULL && strstr(text, "\"vers{") == NULL);
    free(text);
    pr_registry_close(r);
}

/* A child's loop: register a model and point production at it, n times
 * (n < 0: until killed), sometimes rolling back. */
static void writer_loop(const char *dir, const char *model, int n, unsigned seed) {
    pr_err err;
    pr_registry *r;
    if (pr_registry_open(dir, 0, &r, &err) != PR_OK) {
        fprintf(stderr, "child: %s\n", err.msg);
        _exit(3);
    }
    for (int i = 0; n < 0 || i < n; i++) {
        char id[PR_REGISTRY_ID_MAX];
        pr_registry_version_opts o;
        pr_registry_version_opts_default(&o);
        o.metrics_json = "{\"ne\":0.9}";
        if (pr_registry_register(r, model, &o, id, &err) != PR_OK ||
            pr_registry_set_alias(r, (i & 1) ? "production" : "candidate", id, "loop", 0, &err) != PR_OK) {
            fprintf(stderr, "child: %s\n", err.msg);
            _exit(4);
        }
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 4 == 0) {
            pr_status s = pr_registry_rollback(r, "production", "loop rollback", NULL, &err);
            if (s != PR_OK && s != PR_ERR_NOTFOUND) {
                fprintf(stderr, "child: %s\n", err.msg);
                _exit(5);
            }
        }
    }
    pr_registry_close(r);
    _exit(0);
}

/* What must hold after anything: it opens, every alias names a version
 * whose model verifies, the history parses. Returns the version count. */
static size_t check_consistent(const char *dir) {
    pr_err err;
    pr_registry *r;
    ASSERT_OK(pr_registry_open(dir, 0, &r, &err));
    pr_registry_alias *al;
    size_t n;
    ASSERT_OK(pr_registry_aliases(r, &al, &n, &err));
    for (size_t i = 0; i < n; i++) ASSERT_OK(pr_registry_verify(r, al[i].name, &err));
    free(al);
    pr_registry_entry *v;
    ASSERT_OK(pr_registry_list(r, &v, &n, &err));
    for (size_t i = 0; i < n; i++) ASSERT_OK(pr_registry_verify(r, v[i].id, &err));
    free(v);
    history_count(r, NULL);
    pr_registry_close(r);
    return n;
}

TEST(concurrent_writers) {
    pr_err err;
    pr_registry *r;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_path("conc"));
    ASSERT_OK(pr_registry_open(dir, PR_REGISTRY_CREATE, &r, &err));
    make_model(test_path("w.pm"), 1, 12);
    enum { PER_CHILD = 15 };
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        ASSERT_TRUE(kids[k] >= 0);
        if (kids[k] == 0) writer_loop(dir, test_path("w.pm"), PER_CHILD, 7u + (unsigned)k);
    }
    for (int k = 0; k < 2; k++) {
        int st;
        ASSERT_TRUE(waitpid(kids[k], &st, 0) == kids[k]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) TEST_FAIL("writer %d exited with %d", k, st);
    }
    ASSERT_EQ_INT(check_consistent(dir), 2 * PER_CHILD);
    /* Every registration and move is in the history, ids distinct. */
    ASSERT_EQ_INT(history_count(r, "register"), 2 * PER_CHILD);
    ASSERT_EQ_INT(history_count(r, "alias"), 2 * PER_CHILD);
    char id[PR_REGISTRY_ID_MAX];
    ASSERT_OK(pr_registry_register(r, test_path("w.pm"), NULL, id, &err));
    ASSERT_EQ_INT(strtol(id + 1, NULL, 10), 2 * PER_CHILD + 1);
    ASSERT_EQ_INT(history_count(r, "register"), 2 * PER_CHILD + 1); /* nothing "recovered" */
    pr_registry_close(r);
}

TEST(kill9_at_random_points) {
    pr_err err;
    pr_registry *r;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_path("kill"));
    ASSERT_OK(pr_registry_open(dir, PR_REGISTRY_CREATE, &r, &err));
    pr_registry_close(r);
    make_model(test_path("k.pm"), 1, 16); /* ~1 MiB: kills land in copies too */
    const char *env = getenv("PRONTO_REGISTRY_TRIALS");
    int trials = env ? (int)strtol(env, NULL, 10) : 25;
    unsigned seed = (unsigned)time(NULL);
    fprintf(stderr, "kill9: %d trials, seed %u\n", trials, seed);
    int killed = 0, leftovers = 0;
    for (int t = 0; t < trials; t++) {
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) writer_loop(dir, test_path("k.pm"), -1, seed + (unsigned)t);
        seed = seed * 1103515245u + 12345u;
        struct timespec ts = {0, (long)((seed >> 8) % 60000) * 1000L}; /* 0..60 ms */
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        ASSERT_TRUE(waitpid(pid, &st, 0) == pid);
        if (WIFEXITED(st)) TEST_FAIL("writer exited by itself with %d", WEXITSTATUS(st));
        killed++;
        size_t n = check_consistent(dir);
        char p[1200];
        snprintf(p, sizeof p, "%s/versions", dir);
        DIR *d = opendir(p);
        struct dirent *e;
        while ((e = readdir(d))) leftovers += !strncmp(e->d_name, ".tmp-", 5);
        closedir(d);
        /* The next write repairs: every version registered in the history,
         * every alias file's target the history's. */
        ASSERT_OK(pr_registry_open(dir, 0, &r, &err));
        ASSERT_OK(pr_registry_note(r, "check", NULL, "after a kill", NULL, &err));
        ASSERT_EQ_INT(history_count(r, "register") - history_count(r, "gc"), (int)n);
        d = opendir(p);
        while ((e = readdir(d))) ASSERT_TRUE(e->d_name[0] != '.' || !strcmp(e->d_name, ".") ||
                                             !strcmp(e->d_name, ".."));
        closedir(d);
        if (t % 8 == 7) { /* keep the folder small */
            pr_registry_alias *gone;
            size_t ng;
            ASSERT_OK(pr_registry_gc(r, 2, 0, &gone, &ng, &err));
            free(gone);
        }
        pr_registry_close(r);
    }
    ASSERT_EQ_INT(killed, trials);
    /* How often a kill fell inside a write (for the record). */
    ASSERT_OK(pr_registry_open(dir, 0, &r, &err));
    char *text;
    size_t len;
    ASSERT_OK(pr_registry_history(r, &text, &len, &err));
    int recovered = 0;
    for (const char *q = text; (q = strstr(q, "\"recovered\":true")); q++) recovered++;
    free(text);
    pr_registry_close(r);
    fprintf(stderr, "kill9: %d kills, %d left a version half-written, %d history lines "
                    "restored by the next writer\n", killed, leftovers, recovered);
}

/* A model this process just saved (opts.saved) is hard-linked into the
 * version, described as a copy would be, and verifies; from another
 * filesystem it is copied. A handle's remembered history is dropped when
 * the history file is another one (the registry made again). */
TEST(saved_link_and_history_cache) {
    pr_err err;
    pr_registry *r;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_path("link"));
    ASSERT_OK(pr_registry_open(dir, PR_REGISTRY_CREATE, &r, &err));
    make_model(test_path("l.pm"), 1, 12);
    pr_model *m;
    ASSERT_OK(pr_model_load(test_path("l.pm"), &m, &err));
    char saved[600];
    snprintf(saved, sizeof saved, "%s/learners", dir); /* on the registry's filesystem */
    ASSERT_TRUE(mkdir(saved, 0777) == 0);
    snprintf(saved, sizeof saved, "%s/learners/publish.pm", dir);
    ASSERT_OK(pr_model_save(m, saved, &err));
    pr_registry_version_opts o;
    pr_registry_version_opts_default(&o);
    char a[PR_REGISTRY_ID_MAX], b[PR_REGISTRY_ID_MAX], path[PR_REGISTRY_PATH_MAX];
    ASSERT_OK(pr_registry_register(r, saved, &o, a, &err)); /* a copy */
    o.saved = m;
    ASSERT_OK(pr_registry_register(r, saved, &o, b, &err)); /* a link */
    struct stat src, ver;
    ASSERT_OK(pr_registry_resolve(r, b, NULL, path, &err));
    ASSERT_TRUE(stat(saved, &src) == 0 && stat(path, &ver) == 0);
    ASSERT_TRUE(src.st_ino == ver.st_ino && ver.st_nlink == 2);
    ASSERT_OK(pr_registry_resolve(r, a, NULL, path, &err));
    ASSERT_TRUE(stat(path, &ver) == 0 && ver.st_ino != src.st_ino && ver.st_nlink == 1);
    ASSERT_OK(pr_registry_verify(r, b, &err));
    json_t *ma = meta_of(r, a), *mb = meta_of(r, b);
    ASSERT_TRUE(json_equal(json_object_get(ma, "model"), json_object_get(mb, "model")));
    json_decref(ma);
    json_decref(mb);
    /* saving again replaces the learner's name, never the version's bytes */
    ASSERT_OK(pr_model_set_info(m, "{\"again\":1}", &err));
    ASSERT_OK(pr_model_save(m, saved, &err));
    ASSERT_OK(pr_registry_verify(r, b, &err));
    ASSERT_OK(pr_registry_resolve(r, b, NULL, path, &err));
    ASSERT_TRUE(stat(path, &ver) == 0 && ver.st_ino == src.st_ino && ver.st_nlink == 1);
    /* a file on another filesystem (tmpfs) is copied */
    char shm[128];
    snprintf(shm, sizeof shm, "/dev/shm/pronto-test-registry-%ld.pm", (long)getpid());
    if (pr_model_save(m, shm, &err) == PR_OK) {
        char c[PR_REGISTRY_ID_MAX];
        ASSERT_OK(pr_registry_register(r, shm, &o, c, &err));
        ASSERT_OK(pr_registry_resolve(r, c, NULL, path, &err));
        ASSERT_TRUE(stat(path, &ver) == 0 && ver.st_nlink == 1);
        ASSERT_OK(pr_registry_verify(r, c, &err));
        unlink(shm);
    }
    pr_model_free(m);
    int before = history_count(r, "register");
    /* the registry made again under the same name, by another handle: r's
     * remembered history is another file's */
    char old[600];
    snprintf(old, sizeof old, "%s.old", dir);
    ASSERT_TRUE(rename(dir, old) == 0);
    pr_registry *r2;
    ASSERT_OK(pr_registry_open(dir, PR_REGISTRY_CREATE, &r2, &err));
    o.saved = NULL;
    char x[PR_REGISTRY_ID_MAX];
    for (int i = 0; i < before + 1; i++) ASSERT_OK(pr_registry_register(r2, test_path("l.pm"), &o, x, &err));
    ASSERT_OK(pr_registry_register(r, test_path("l.pm"), &o, x, &err));
    char want[PR_REGISTRY_ID_MAX];
    snprintf(want, sizeof want, "v%06d", before + 2);
    ASSERT_EQ_STR(x, want);
    ASSERT_EQ_INT(history_count(r, "register"), before + 2);
    ASSERT_EQ_INT(check_consistent(dir), (size_t)(before + 2));
    pr_registry_close(r2);
    pr_registry_close(r);
}

/* Pending requests: recorded durably, merged, taken once. */
TEST(requests) {
    pr_err err;
    pr_registry *r;
    char dir[512], p[1200];
    snprintf(dir, sizeof dir, "%s", test_path("req"));
    ASSERT_OK(pr_registry_open(dir, PR_REGISTRY_CREATE, &r, &err));
    char *json = NULL;
    ASSERT_STATUS(pr_registry_take_request(r, "retrain", &json, &err), PR_ERR_NOTFOUND);
    ASSERT_TRUE(json == NULL);
    ASSERT_STATUS(pr_registry_request(r, "Retrain", "x", NULL, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "Retrain");
    ASSERT_STATUS(pr_registry_request(r, "retrain/../x", "x", NULL, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_registry_request(r, "", "x", NULL, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_registry_request(r, "retrain", "x", "[1]", &err), PR_ERR_PARSE);
    ASSERT_STATUS(pr_registry_take_request(r, "a b", &json, &err), PR_ERR_INVALID);
    ASSERT_OK(pr_registry_request(r, "retrain", "alert: NE up 3%", "{\"ne\":0.93}", &err));
    ASSERT_OK(pr_registry_request(r, "retrain", "POST /admin/retrain", "{\"by\":\"admin\"}", &err));
    ASSERT_OK(pr_registry_request(r, "other", NULL, NULL, &err));
    pr_registry_close(r);
    /* Durable across handles; merged: the newest reason and detail, count 2. */
    ASSERT_OK(pr_registry_open(dir, 0, &r, &err));
    ASSERT_OK(pr_registry_take_request(r, "retrain", &json, &err));
    json_t *j = json_loads(json, 0, NULL);
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "what")), "retrain");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "reason")), "POST /admin/retrain");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(j, "detail"), "by")), "admin");
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "count")), 2);
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "pid")), getpid());
    ASSERT_TRUE(json_number_value(json_object_get(j, "first_time")) <=
                json_number_value(json_object_get(j, "time")));
    ASSERT_TRUE(json_number_value(json_object_get(j, "time")) > 1.7e9);
    json_decref(j);
    free(json);
    ASSERT_STATUS(pr_registry_take_request(r, "retrain", &json, &err), PR_ERR_NOTFOUND);
    ASSERT_CONTAINS(err.msg, "retrain");
    ASSERT_OK(pr_registry_take_request(r, "other", &json, &err)); /* independent */
    free(json);
    ASSERT_EQ_INT(history_count(r, "request"), 3);
    /* A damaged request file is removed and reported by name. */
    snprintf(p, sizeof p, "%s/requests/retrain", dir);
    FILE *f = fopen(p, "wb");
    fputs("{\"what\":", f);
    fclose(f);
    ASSERT_STATUS(pr_registry_take_request(r, "retrain", &json, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "requests/retrain");
    ASSERT_TRUE(access(p, F_OK) != 0);
    /* ... and a request over a damaged one replaces it. */
    f = fopen(p, "wb");
    fputs("not json", f);
    fclose(f);
    ASSERT_OK(pr_registry_request(r, "retrain", "after damage", NULL, &err));
    ASSERT_OK(pr_registry_take_request(r, "retrain", &json, &err));
    ASSERT_CONTAINS(json, "after damage");
    ASSERT_CONTAINS(json, "\"count\":1");
    free(json);
    /* Four processes race to take one request: exactly one gets it. */
    for (int round = 0; round < 5; round++) {
        ASSERT_OK(pr_registry_request(r, "retrain", "race", NULL, &err));
        pid_t kids[4];
        for (int k = 0; k < 4; k++) {
            kids[k] = fork();
            ASSERT_TRUE(kids[k] >= 0);
            if (kids[k] == 0) {
                pr_registry *c;
                char *t = NULL;
                pr_err e;
                if (pr_registry_open(dir, 0, &c, &e) != PR_OK) _exit(3);
                pr_status st = pr_registry_take_request(c, "retrain", &t, &e);
                free(t);
                pr_registry_close(c);
                _exit(st == PR_OK ? 0 : st == PR_ERR_NOTFOUND ? 1 : 3);
            }
        }
        int got = 0;
        for (int k = 0; k < 4; k++) {
            int st;
            ASSERT_TRUE(waitpid(kids[k], &st, 0) == kids[k]);
            ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
            got += WEXITSTATUS(st) == 0;
        }
        ASSERT_EQ_INT(got, 1);
    }
    /* kill -9 while requesting and taking: the file is whole or absent,
     * and the next write leaves no temporary. */
    unsigned seed = (unsigned)time(NULL);
    for (int t = 0; t < 15; t++) {
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            pr_registry *c;
            pr_err e;
            if (pr_registry_open(dir, 0, &c, &e) != PR_OK) _exit(3);
            for (;;) {
                char *t2 = NULL;
                (void)pr_registry_request(c, "retrain", "loop", "{\"n\":1}", &e);
                if (pr_registry_take_request(c, "retrain", &t2, &e) == PR_OK) free(t2);
                (void)pr_registry_request(c, "retrain", "loop", NULL, &e);
            }
        }
        seed = seed * 1103515245u + 12345u;
        struct timespec ts = {0, (long)((seed >> 8) % 20000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        ASSERT_TRUE(waitpid(pid, &st, 0) == pid);
        if (access(p, F_OK) == 0) {
            char *text = test_read_file(p, NULL);
            json_t *o = json_loads(text, 0, NULL);
            if (!o || !json_is_object(o)) TEST_FAIL("request file torn after a kill: %s", text);
            json_decref(o);
            free(text);
        }
        ASSERT_OK(pr_registry_request(r, "retrain", "after a kill", NULL, &err));
        char q[1200];
        snprintf(q, sizeof q, "%s/requests", dir);
        DIR *d = opendir(q);
        struct dirent *e;
        while ((e = readdir(d))) ASSERT_TRUE(!strstr(e->d_name, ".tmp."));
        closedir(d);
        ASSERT_OK(pr_registry_take_request(r, "retrain", &json, &err));
        free(json);
    }
    pr_registry_close(r);
}

int main(void) {
    RUN(round_trip);
    RUN(bad_directories);
    RUN(torn_history_line);
    RUN(concurrent_writers);
    RUN(kill9_at_random_points);
    RUN(saved_link_and_history_cache);
    RUN(requests);
    TEST_MAIN_END();
}
