/*
 * registry.c: the model registry `registry:DIR` (registry.h,
 * docs/registry.md): immutable versions, aliases moved by rename, an
 * append-only history, all under one directory.
 *
 * Layout:
 *
 *   DIR/FORMAT              "pronto-registry 1\n", written last at creation
 *   DIR/LOCK                empty; writers hold flock(LOCK_EX) on it
 *   DIR/versions/vNNNNNN/   model.pm (the model file as registered: a copy,
 *                           or a hard link to a file its writer had just
 *                           saved and fsynced, opts.saved) and meta.json
 *                           (the metadata); immutable
 *   DIR/versions/.tmp-*     a version being written (or left by a kill)
 *   DIR/versions/.gc-*      a version being removed by gc
 *   DIR/aliases/NAME        {"alias":..,"version":..,"time":..}, replaced
 *                           by rename (pr_atomic_*: NAME.tmp.PID first)
 *   DIR/history.jsonl       one JSON object a line, appended with fsync
 *   DIR/requests/WHAT       a pending request ("retrain"), JSON, replaced
 *                           by rename; made on demand, removed when taken
 *
 * Invariants, and why kill -9 cannot break them:
 *   - A name vNNNNNN under versions/ is a complete, durable version: it is
 *     written under .tmp-*, every file fsynced, the folder fsynced, then
 *     renamed (atomic) and versions/ fsynced. Readers skip dot names.
 *   - An alias file names an existing version: it is written (temporary,
 *     fsync, rename, fsync the folder) only after its target is durable,
 *     and gc never removes an alias's target (nor the one a rollback would
 *     return to). A version is removed by renaming it to .gc-* first, so
 *     it is never seen half-deleted.
 *   - The history is the files' account, not their source of truth: every
 *     write happens under the lock in the order "change the files, then
 *     append the line". A kill between the two loses a line; the next
 *     writer, before doing anything, cuts a torn last line (a kill in the
 *     middle of an append), removes dead temporaries and appends the
 *     missing lines ("recovered": true) by comparing the history with the
 *     files (reconcile()). Readers ignore a last line without its newline.
 *   - Version ids only grow: the next is one past the largest id in
 *     versions/ or in the history (gc'd ids are never reused).
 *
 * Ownership: a pr_registry owns its directory string; every malloc'd
 * result goes to the caller as registry.h says. Writers hold the lock
 * from wlock() to wunlock(), on every path.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "pronto/feature.h"
#include "pronto/model.h"
#include "pronto/registry.h"

#ifndef PRONTO_VERSION
#define PRONTO_VERSION "0.1.0"
#endif

#define FORMAT_LINE "pronto-registry"
#define MODEL_FILE "model.pm"
#define META_FILE "meta.json"
#define HISTORY_FILE "history.jsonl"
#define MAX_MODEL_BYTES ((uint64_t)1 << 40)
#define MAX_TEXT_BYTES ((uint64_t)1 << 30) /* history, metadata */
#define ID_DIGITS 6

struct hist_cache;
static void hist_cache_free(struct hist_cache *c);

struct pr_registry {
    char *dir;
    int lock_fd; /* -1 unless a write holds the lock */
    struct hist_cache *hist; /* the history's state as last read (hist_load) */
};

/* ---------------------------------------------------------------- paths */

static pr_status pathf(const pr_registry *r, char *out, pr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static pr_status pathf(const pr_registry *r, char *out, pr_err *err, const char *fmt, ...) {
    char tail[PR_REGISTRY_PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tail ||
        (size_t)snprintf(out, PR_REGISTRY_PATH_MAX, "%s/%s", r->dir, tail) >= PR_REGISTRY_PATH_MAX)
        return pr_err_set(err, PR_ERR_LIMIT, "registry %s: path too long", r->dir);
    return PR_OK;
}

/* "v" and at least ID_DIGITS digits. */
static int is_version_id(const char *s) {
    if (s[0] != 'v') return 0;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++)
        if (!isdigit((unsigned char)*p)) return 0;
    return n >= ID_DIGITS && n <= 12;
}

static int is_alias_name(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return 0;
    return 1;
}

static uint64_t id_number(const char *id) { return strtoull(id + 1, NULL, 10); }

static pr_status check_alias(const pr_registry *r, const char *alias, pr_err *err) {
    if (!alias || !is_alias_name(alias))
        return pr_err_set(err, PR_ERR_INVALID,
                          "registry %s: bad alias name '%s': 1..64 of A-Z a-z 0-9 _ -", r->dir,
                          alias ? alias : "");
    if (is_version_id(alias))
        return pr_err_set(err, PR_ERR_INVALID,
                          "registry %s: alias name '%s' looks like a version id", r->dir, alias);
    return PR_OK;
}

/* ---------------------------------------------------------------- files */

static pr_status fsync_path(const char *path, pr_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", path);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0) return pr_err_errno(err, PR_ERR_IO, e, "%s: fsync", path);
    return PR_OK;
}

/* Creates path (O_EXCL) with data, fsynced. */
static pr_status write_new_file(const char *path, const void *data, size_t len, pr_err *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot create", path);
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return pr_err_errno(err, PR_ERR_IO, e, "%s: write", path);
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return pr_err_errno(err, PR_ERR_IO, e, "%s: fsync", path);
    }
    if (close(fd) != 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: close", path);
    return PR_OK;
}

static pr_status replace_file(const char *path, const char *text, pr_err *err) {
    pr_atomic_file *f;
    pr_status s = pr_atomic_open(path, &f, err);
    if (s != PR_OK) return s;
    if ((s = pr_atomic_write(f, text, strlen(text), err)) != PR_OK) {
        pr_atomic_abort(f);
        return s;
    }
    return pr_atomic_commit(f, err);
}

/* rm -rf of a folder we made (one level of files inside). */
static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[PR_REGISTRY_PATH_MAX];
            if ((size_t)snprintf(p, sizeof p, "%s/%s", path, e->d_name) >= sizeof p) continue;
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(p);
            else unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

static pr_status read_text(const char *path, char **text, size_t *len, pr_err *err) {
    return pr_read_regular_file(path, MAX_TEXT_BYTES, text, len, NULL, err);
}

/* ---------------------------------------------------------------- model
 * A model file verifies when its magic, its length field and its trailing
 * xxh3 checksum over everything before it agree (model_file.c's layout). */

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static pr_status verify_model_file(const char *path, uint64_t expect_bytes, pr_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", path);
    struct stat st;
    pr_status s = PR_OK;
    unsigned char head[32], tail[8];
    pr_checksum *c = NULL;
    char *buf = NULL;
    if (fstat(fd, &st) != 0) {
        s = pr_err_errno(err, PR_ERR_IO, errno, "%s: stat", path);
        goto done;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (expect_bytes && size != expect_bytes) {
        s = pr_err_set(err, size < expect_bytes ? PR_ERR_TRUNCATED : PR_ERR_FORMAT,
                       "%s: %llu bytes, the metadata says %llu", path, (unsigned long long)size,
                       (unsigned long long)expect_bytes);
        goto done;
    }
    if (size < 48 || pread(fd, head, 32, 0) != 32 || memcmp(head, "PRONTOMD", 8) != 0) {
        s = pr_err_set(err, PR_ERR_FORMAT, "%s: not a pronto model file", path);
        goto done;
    }
    if (le64(head + 24) != size) {
        s = pr_err_set(err, PR_ERR_TRUNCATED, "%s: %llu bytes, its header says %llu", path,
                       (unsigned long long)size, (unsigned long long)le64(head + 24));
        goto done;
    }
    c = pr_checksum_new();
    buf = malloc(1 << 20);
    if (!c || !buf) {
        s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto done;
    }
    uint64_t off = 0, body = size - 8;
    while (off < body) {
        size_t want = body - off < (1u << 20) ? (size_t)(body - off) : (1u << 20);
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got <= 0) {
            s = got < 0 ? pr_err_errno(err, PR_ERR_IO, errno, "%s: read", path)
                        : pr_err_set(err, PR_ERR_TRUNCATED, "%s: shorter than it was", path);
            goto done;
        }
        pr_checksum_update(c, buf, (size_t)got);
        off += (uint64_t)got;
    }
    if (pread(fd, tail, 8, (off_t)body) != 8 || le64(tail) != pr_checksum_digest(c))
        s = pr_err_set(err, PR_ERR_CHECKSUM, "%s: checksum mismatch: the file is damaged", path);
done:
    free(buf);
    pr_checksum_free(c);
    close(fd);
    return s;
}

/* ---------------------------------------------------------------- open */

void pr_registry_version_opts_default(pr_registry_version_opts *o) { memset(o, 0, sizeof *o); }

const char *pr_registry_dir(const pr_registry *r) { return r->dir; }

static pr_status lock_take(pr_registry *r, pr_err *err) {
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s = pathf(r, p, err, "LOCK");
    if (s != PR_OK) return s;
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "registry %s: cannot open LOCK", r->dir);
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        int e = errno;
        close(fd);
        return pr_err_errno(err, PR_ERR_IO, e, "registry %s: cannot lock LOCK", r->dir);
    }
    r->lock_fd = fd;
    return PR_OK;
}

static void lock_drop(pr_registry *r) {
    if (r->lock_fd >= 0) close(r->lock_fd); /* releases the flock */
    r->lock_fd = -1;
}

/* Parses DIR/FORMAT: PR_OK, or why not. present: OUT 1 if the file exists. */
static pr_status check_format(pr_registry *r, int *present, pr_err *err) {
    char p[PR_REGISTRY_PATH_MAX], *text = NULL;
    size_t len;
    *present = 0;
    pr_status s = pathf(r, p, err, "FORMAT");
    if (s != PR_OK) return s;
    if (access(p, F_OK) != 0) return PR_OK;
    *present = 1;
    if ((s = read_text(p, &text, &len, err)) != PR_OK) return s;
    unsigned v = 0;
    char word[32];
    if (sscanf(text, "%31s %u", word, &v) != 2 || strcmp(word, FORMAT_LINE) != 0)
        s = pr_err_set(err, PR_ERR_FORMAT, "registry %s: FORMAT does not say '%s N': not a pronto registry",
                       r->dir, FORMAT_LINE);
    else if (v != PR_REGISTRY_FORMAT)
        s = pr_err_set(err, PR_ERR_VERSION,
                       "registry %s: format version %u, this pronto reads version %d", r->dir, v,
                       PR_REGISTRY_FORMAT);
    free(text);
    return s;
}

/* 1 if every entry of dir is one a registry's creation makes. */
static int only_skeleton(const char *dir, int *empty) {
    *empty = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int ok = 1;
    *empty = 1;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
        *empty = 0;
        if (strcmp(n, "versions") && strcmp(n, "aliases") && strcmp(n, HISTORY_FILE) &&
            strcmp(n, "LOCK") && strncmp(n, "FORMAT.tmp.", 11))
            ok = 0;
    }
    closedir(d);
    return ok;
}

static pr_status make_dir(const char *path, pr_err *err) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot create", path);
    return PR_OK;
}

/* Creates the skeleton (under the lock), FORMAT last. */
static pr_status create_skeleton(pr_registry *r, pr_err *err) {
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s;
    if ((s = pathf(r, p, err, "versions")) != PR_OK || (s = make_dir(p, err)) != PR_OK) return s;
    if ((s = pathf(r, p, err, "aliases")) != PR_OK || (s = make_dir(p, err)) != PR_OK) return s;
    if ((s = pathf(r, p, err, HISTORY_FILE)) != PR_OK) return s;
    int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot create", p);
    int rc = fsync(fd);
    close(fd);
    if (rc != 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: fsync", p);
    if ((s = fsync_path(r->dir, err)) != PR_OK) return s;
    char fmt[64];
    snprintf(fmt, sizeof fmt, "%s %d\n", FORMAT_LINE, PR_REGISTRY_FORMAT);
    if ((s = pathf(r, p, err, "FORMAT")) != PR_OK) return s;
    return replace_file(p, fmt, err);
}

static pr_status check_layout(pr_registry *r, pr_err *err) {
    static const char *const subdirs[] = {"versions", "aliases"};
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s;
    for (int i = 0; i < 2; i++) {
        if ((s = pathf(r, p, err, "%s", subdirs[i])) != PR_OK) return s;
        DIR *d = opendir(p);
        if (!d)
            return pr_err_errno(err, errno == ENOENT ? PR_ERR_FORMAT : PR_ERR_IO, errno,
                                "registry %s: %s/ unusable (damaged registry?)", r->dir,
                                subdirs[i]);
        closedir(d);
    }
    if ((s = pathf(r, p, err, HISTORY_FILE)) != PR_OK) return s;
    if (access(p, R_OK) != 0)
        return pr_err_errno(err, errno == ENOENT ? PR_ERR_FORMAT : PR_ERR_IO, errno,
                            "registry %s: %s unusable (damaged registry?)", r->dir, HISTORY_FILE);
    return PR_OK;
}

pr_status pr_registry_open(const char *dir, int flags, pr_registry **out, pr_err *err) {
    *out = NULL;
    if (!dir || !*dir) return pr_err_set(err, PR_ERR_INVALID, "registry: no directory given");
    if (strlen(dir) > PR_REGISTRY_PATH_MAX - 128)
        return pr_err_set(err, PR_ERR_LIMIT, "registry %s: path too long", dir);
    pr_registry *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    r->lock_fd = -1;
    size_t n = strlen(r->dir);
    while (n > 1 && r->dir[n - 1] == '/') r->dir[--n] = '\0';
    pr_status s = PR_OK;
    struct stat st;
    if (stat(r->dir, &st) != 0) {
        if (errno != ENOENT || !(flags & PR_REGISTRY_CREATE)) {
            s = pr_err_errno(err, errno == ENOENT ? PR_ERR_NOTFOUND : PR_ERR_IO, errno,
                             "registry %s: cannot open the directory", r->dir);
            goto fail;
        }
        if (mkdir(r->dir, 0755) != 0 && errno != EEXIST) {
            s = pr_err_errno(err, PR_ERR_IO, errno, "registry %s: cannot create", r->dir);
            goto fail;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        s = pr_err_set(err, PR_ERR_FORMAT, "registry %s: not a directory", r->dir);
        goto fail;
    }
    DIR *d = opendir(r->dir);
    if (!d) {
        s = pr_err_errno(err, PR_ERR_IO, errno, "registry %s: cannot read the directory", r->dir);
        goto fail;
    }
    closedir(d);
    int present;
    if ((s = check_format(r, &present, err)) != PR_OK) goto fail;
    if (!present) {
        int empty;
        int skeleton = only_skeleton(r->dir, &empty);
        if (!(flags & PR_REGISTRY_CREATE)) {
            s = empty ? pr_err_set(err, PR_ERR_FORMAT,
                                   "registry %s: empty directory, not a registry (create it with "
                                   "`pronto registry init`)", r->dir)
                : skeleton ? pr_err_set(err, PR_ERR_FORMAT,
                                        "registry %s: half-created (no FORMAT file): its creation "
                                        "was interrupted; `pronto registry init` finishes it",
                                        r->dir)
                           : pr_err_set(err, PR_ERR_FORMAT,
                                        "registry %s: not a pronto registry (no FORMAT file)",
                                        r->dir);
            goto fail;
        }
        if (!skeleton) {
            s = pr_err_set(err, PR_ERR_FORMAT,
                           "registry %s: the directory holds other files; a registry is created "
                           "only in a missing or empty directory", r->dir);
            goto fail;
        }
        if ((s = lock_take(r, err)) != PR_OK) goto fail;
        if ((s = check_format(r, &present, err)) == PR_OK && !present)
            s = create_skeleton(r, err);
        lock_drop(r);
        if (s != PR_OK) goto fail;
    }
    if ((s = check_layout(r, err)) != PR_OK) goto fail;
    *out = r;
    return PR_OK;
fail:
    pr_registry_close(r);
    return s;
}

void pr_registry_close(pr_registry *r) {
    if (!r) return;
    lock_drop(r);
    hist_cache_free(r->hist);
    free(r->dir);
    free(r);
}

/* ---------------------------------------------------------------- reading */

/* Reads a version's meta.json as a jansson object. */
static pr_status load_meta(pr_registry *r, const char *id, json_t **out, pr_err *err) {
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s = pathf(r, p, err, "versions/%s/" META_FILE, id);
    if (s != PR_OK) return s;
    char *text;
    size_t len;
    if ((s = read_text(p, &text, &len, err)) != PR_OK) {
        if (s == PR_ERR_IO && access(p, F_OK) != 0)
            return pr_err_set(err, PR_ERR_NOTFOUND, "registry %s: no version %s", r->dir, id);
        return s;
    }
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    free(text);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return pr_err_set(err, PR_ERR_PARSE, "%s:%d: not a JSON object%s%s", p, je.line,
                          j ? "" : ": ", j ? "" : je.text);
    }
    *out = j;
    return PR_OK;
}

/* Reads an alias file: its target id. PR_ERR_NOTFOUND if there is none. */
static pr_status read_alias(pr_registry *r, const char *alias, char *id, pr_err *err) {
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s = pathf(r, p, err, "aliases/%s", alias);
    if (s != PR_OK) return s;
    if (access(p, F_OK) != 0)
        return pr_err_set(err, PR_ERR_NOTFOUND, "registry %s: no alias or version '%s'", r->dir,
                          alias);
    char *text;
    size_t len;
    if ((s = read_text(p, &text, &len, err)) != PR_OK) return s;
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    free(text);
    const char *v = json_string_value(json_object_get(j, "version"));
    if (!v || !is_version_id(v)) s = pr_err_set(err, PR_ERR_PARSE, "%s: no valid \"version\"", p);
    else snprintf(id, PR_REGISTRY_ID_MAX, "%s", v);
    json_decref(j);
    return s;
}

/* name (alias or id) -> id of an existing version. */
static pr_status resolve_id(pr_registry *r, const char *name, char *id, pr_err *err) {
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s;
    if (!name || !*name) return pr_err_set(err, PR_ERR_INVALID, "registry %s: no version named", r->dir);
    if (is_version_id(name)) {
        snprintf(id, PR_REGISTRY_ID_MAX, "%s", name);
    } else {
        if ((s = check_alias(r, name, err)) != PR_OK) return s;
        if ((s = read_alias(r, name, id, err)) != PR_OK) return s;
    }
    if ((s = pathf(r, p, err, "versions/%s/" META_FILE, id)) != PR_OK) return s;
    if (access(p, F_OK) != 0)
        return pr_err_set(err, PR_ERR_NOTFOUND, "registry %s: no version %s%s%s%s", r->dir, id,
                          strcmp(id, name) ? " (alias '" : "", strcmp(id, name) ? name : "",
                          strcmp(id, name) ? "' names it)" : "");
    return PR_OK;
}

pr_status pr_registry_resolve(pr_registry *r, const char *name, char *id, char *path,
                              pr_err *err) {
    char own[PR_REGISTRY_ID_MAX];
    pr_status s = resolve_id(r, name, own, err);
    if (s != PR_OK) return s;
    if (id) snprintf(id, PR_REGISTRY_ID_MAX, "%s", own);
    if (path) return pathf(r, path, err, "versions/%s/" MODEL_FILE, own);
    return PR_OK;
}

pr_status pr_registry_alias_path(const pr_registry *r, const char *alias, char *path,
                                 pr_err *err) {
    pr_status s = check_alias(r, alias, err);
    if (s != PR_OK) return s;
    return pathf(r, path, err, "aliases/%s", alias);
}

pr_status pr_registry_get(pr_registry *r, const char *name, char **json, pr_err *err) {
    char id[PR_REGISTRY_ID_MAX], p[PR_REGISTRY_PATH_MAX];
    size_t len;
    pr_status s = resolve_id(r, name, id, err);
    if (s == PR_OK) s = pathf(r, p, err, "versions/%s/" META_FILE, id);
    if (s == PR_OK) s = read_text(p, json, &len, err);
    return s;
}

static uint64_t hex64(const char *s) { return s ? strtoull(s, NULL, 16) : 0; }

static uint64_t meta_bytes(json_t *meta) {
    return (uint64_t)json_integer_value(json_object_get(json_object_get(meta, "model"), "bytes"));
}

pr_status pr_registry_verify(pr_registry *r, const char *name, pr_err *err) {
    char id[PR_REGISTRY_ID_MAX], p[PR_REGISTRY_PATH_MAX];
    json_t *meta = NULL;
    pr_status s = resolve_id(r, name, id, err);
    if (s == PR_OK) s = load_meta(r, id, &meta, err);
    if (s == PR_OK) s = pathf(r, p, err, "versions/%s/" MODEL_FILE, id);
    if (s == PR_OK) s = verify_model_file(p, meta_bytes(meta), err);
    json_decref(meta);
    return s;
}

static int cmp_str(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t lx = strlen(x), ly = strlen(y); /* ids: shorter is smaller */
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

/* The names in folder sub (versions or aliases) that pass keep(), sorted.
 * OUT *names: malloc'd array of malloc'd strings. */
static pr_status scan(pr_registry *r, const char *sub, int (*keep)(const char *), char ***names,
                      size_t *n, pr_err *err) {
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s = pathf(r, p, err, "%s", sub);
    if (s != PR_OK) return s;
    DIR *d = opendir(p);
    if (!d) return pr_err_errno(err, PR_ERR_IO, errno, "registry %s: cannot read %s/", r->dir, sub);
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!keep(e->d_name)) continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) goto nomem;
            v = nv;
        }
        if (!(v[cnt] = strdup(e->d_name))) goto nomem;
        cnt++;
    }
    closedir(d);
    if (cnt) qsort(v, cnt, sizeof *v, cmp_str);
    *names = v;
    *n = cnt;
    return PR_OK;
nomem:
    closedir(d);
    for (size_t i = 0; i < cnt; i++) free(v[i]);
    free(v);
    return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
}

static void free_names(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

pr_status pr_registry_list(pr_registry *r, pr_registry_entry **out, size_t *n_out, pr_err *err) {
    char **ids;
    size_t n;
    *out = NULL;
    *n_out = 0;
    pr_status s = scan(r, "versions", is_version_id, &ids, &n, err);
    if (s != PR_OK) return s;
    pr_registry_entry *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        free_names(ids, n);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && s == PR_OK; i++) {
        json_t *meta;
        if ((s = load_meta(r, ids[i], &meta, err)) != PR_OK) break;
        json_t *model = json_object_get(meta, "model");
        snprintf(v[i].id, sizeof v[i].id, "%s", ids[i]);
        const char *st = json_string_value(json_object_get(meta, "status"));
        const char *kind = json_string_value(json_object_get(model, "kind"));
        snprintf(v[i].status, sizeof v[i].status, "%s", st ? st : "?");
        snprintf(v[i].kind, sizeof v[i].kind, "%s", kind ? kind : "?");
        v[i].created_at = (int64_t)json_integer_value(json_object_get(meta, "created_at"));
        v[i].spec_fingerprint =
            hex64(json_string_value(json_object_get(model, "spec_fingerprint")));
        v[i].bytes = meta_bytes(meta);
        json_decref(meta);
    }
    free_names(ids, n);
    if (s != PR_OK) {
        free(v);
        return s;
    }
    *out = v;
    *n_out = n;
    return PR_OK;
}

pr_status pr_registry_aliases(pr_registry *r, pr_registry_alias **out, size_t *n_out,
                              pr_err *err) {
    char **names;
    size_t n;
    *out = NULL;
    *n_out = 0;
    pr_status s = scan(r, "aliases", is_alias_name, &names, &n, err);
    if (s != PR_OK) return s;
    pr_registry_alias *v = calloc(n ? n : 1, sizeof *v);
    if (!v) s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == PR_OK && i < n; i++) {
        snprintf(v[i].name, sizeof v[i].name, "%s", names[i]);
        s = read_alias(r, names[i], v[i].version, err);
    }
    free_names(names, n);
    if (s != PR_OK) {
        free(v);
        return s;
    }
    *out = v;
    *n_out = n;
    return PR_OK;
}

/* The history's complete lines: [0, *len) of *text ends with '\n' (or is
 * empty); a torn tail is left out. */
static pr_status read_history(pr_registry *r, char **text, size_t *len, pr_err *err) {
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s = pathf(r, p, err, HISTORY_FILE);
    if (s == PR_OK) s = read_text(p, text, len, err);
    if (s != PR_OK) return s;
    while (*len && (*text)[*len - 1] != '\n') (*len)--;
    (*text)[*len] = '\0';
    return PR_OK;
}

pr_status pr_registry_history(pr_registry *r, char **text, size_t *len, pr_err *err) {
    return read_history(r, text, len, err);
}

/* ---------------------------------------------------------------- history
 * The state the history describes, rebuilt by replaying it: the largest
 * id it mentions, the ids registered, and per alias the stack of its
 * targets (a move pushes, a rollback pops). */

typedef struct alias_hist {
    char name[PR_REGISTRY_ID_MAX];
    char (*stack)[PR_REGISTRY_ID_MAX];
    size_t n, cap;
} alias_hist;

typedef struct hist_state {
    uint64_t max_id;
    char (*registered)[PR_REGISTRY_ID_MAX];
    size_t n_reg, cap_reg;
    alias_hist *aliases;
    size_t n_alias, cap_alias;
} hist_state;

static void hist_free(hist_state *h) {
    free(h->registered);
    for (size_t i = 0; i < h->n_alias; i++) free(h->aliases[i].stack);
    free(h->aliases);
    memset(h, 0, sizeof *h);
}

/* What a handle remembers of the history between writes (hist_load). */
typedef struct hist_cache {
    hist_state h;           /* the state after the first `off` bytes */
    uint64_t off, lines;    /* bytes and lines folded in (complete lines) */
    dev_t dev;
    ino_t ino;
    unsigned char tail[64]; /* the tail_n bytes before off */
    size_t tail_n;
} hist_cache;

static void hist_cache_free(struct hist_cache *c) {
    if (!c) return;
    hist_free(&c->h);
    free(c);
}

static alias_hist *hist_alias(hist_state *h, const char *name, int create) {
    for (size_t i = 0; i < h->n_alias; i++)
        if (!strcmp(h->aliases[i].name, name)) return &h->aliases[i];
    if (!create) return NULL;
    if (h->n_alias == h->cap_alias) {
        size_t cap = h->cap_alias ? h->cap_alias * 2 : 8;
        alias_hist *v = realloc(h->aliases, cap * sizeof *v);
        if (!v) return NULL;
        h->aliases = v;
        h->cap_alias = cap;
    }
    alias_hist *a = &h->aliases[h->n_alias++];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    return a;
}

static int push_id(char (**v)[PR_REGISTRY_ID_MAX], size_t *n, size_t *cap, const char *id) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        char(*nv)[PR_REGISTRY_ID_MAX] = realloc(*v, c * sizeof *nv);
        if (!nv) return -1;
        *v = nv;
        *cap = c;
    }
    snprintf((*v)[(*n)++], PR_REGISTRY_ID_MAX, "%s", id);
    return 0;
}

static const char *alias_top(const alias_hist *a) { return a && a->n ? a->stack[a->n - 1] : NULL; }
static const char *alias_prev(const alias_hist *a) {
    return a && a->n > 1 ? a->stack[a->n - 2] : NULL;
}

static int hist_registered(const hist_state *h, const char *id) {
    for (size_t i = h->n_reg; i > 0; i--) /* the versions on disk are mostly recent */
        if (!strcmp(h->registered[i - 1], id)) return 1;
    return 0;
}

/* Folds the complete lines of text[0, len) into h; *line: the number of
 * the line before text, advanced. */
static pr_status hist_parse(pr_registry *r, hist_state *h, const char *text, size_t len,
                            uint64_t *line, pr_err *err) {
    pr_status s = PR_OK;
    /* memchr, not strchr: a NUL byte inside a line must not end the walk
     * (that line then fails to parse, and says so). */
    for (const char *p = text, *nl;
         s == PR_OK && (nl = memchr(p, '\n', len - (size_t)(p - text))); p = nl + 1) {
        ++*line;
        if (nl == p) continue;
        json_error_t je;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, &je);
        const char *op = json_string_value(json_object_get(j, "op"));
        const char *ver = json_string_value(json_object_get(j, "version"));
        const char *al = json_string_value(json_object_get(j, "alias"));
        if (!j || !json_is_object(j) || !op) {
            s = pr_err_set(err, PR_ERR_PARSE,
                           "registry %s: " HISTORY_FILE ":%llu: not a history line (a JSON "
                           "object with \"op\")", r->dir, (unsigned long long)*line);
        } else {
            if (ver && is_version_id(ver) && id_number(ver) > h->max_id) h->max_id = id_number(ver);
            if (ver && is_version_id(ver) && !strcmp(op, "register") &&
                push_id(&h->registered, &h->n_reg, &h->cap_reg, ver))
                s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
            if (ver && al && is_version_id(ver) && is_alias_name(al) &&
                (!strcmp(op, "alias") || !strcmp(op, "rollback"))) {
                alias_hist *a = hist_alias(h, al, 1);
                if (!a) {
                    s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
                } else if (!strcmp(op, "rollback")) {
                    while (a->n && strcmp(alias_top(a), ver)) a->n--;
                    if (!a->n && push_id(&a->stack, &a->n, &a->cap, ver))
                        s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
                } else if (push_id(&a->stack, &a->n, &a->cap, ver)) {
                    s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
                }
            }
        }
        json_decref(j);
    }
    return s;
}

static int hist_copy(hist_state *dst, const hist_state *src) {
    memset(dst, 0, sizeof *dst);
    dst->max_id = src->max_id;
    for (size_t i = 0; i < src->n_reg; i++)
        if (push_id(&dst->registered, &dst->n_reg, &dst->cap_reg, src->registered[i])) goto fail;
    for (size_t i = 0; i < src->n_alias; i++) {
        alias_hist *a = hist_alias(dst, src->aliases[i].name, 1);
        if (!a) goto fail;
        for (size_t k = 0; k < src->aliases[i].n; k++)
            if (push_id(&a->stack, &a->n, &a->cap, src->aliases[i].stack[k])) goto fail;
    }
    return 0;
fail:
    hist_free(dst);
    return -1;
}

/* The history's state as of its last complete line. The handle keeps the
 * state of the lines it has read (a long-running writer such as pronto
 * learn takes the lock thousands of times) and reads only what was
 * appended since: the history is append-only (a torn last line, which is
 * never read, is the only thing ever cut), and the same file (device,
 * inode) still holding the same bytes before that point (the 64 before it
 * compared) says nothing else happened; otherwise it is read again from
 * the start. */
static pr_status hist_load(pr_registry *r, hist_state *h, pr_err *err) {
    memset(h, 0, sizeof *h);
    hist_cache *c = r->hist;
    if (!c && !(c = r->hist = calloc(1, sizeof *c)))
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s = pathf(r, p, err, HISTORY_FILE);
    if (s != PR_OK) return s;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", p);
    struct stat st;
    char *text = NULL;
    if (fstat(fd, &st) != 0) {
        s = pr_err_errno(err, PR_ERR_IO, errno, "%s: stat", p);
        goto done;
    }
    unsigned char tail[sizeof c->tail];
    int same = c->off && st.st_dev == c->dev && st.st_ino == c->ino &&
               (uint64_t)st.st_size >= c->off &&
               pread(fd, tail, c->tail_n, (off_t)(c->off - c->tail_n)) == (ssize_t)c->tail_n &&
               !memcmp(tail, c->tail, c->tail_n);
    if (!same) {
        hist_free(&c->h);
        c->off = c->lines = 0;
    }
    uint64_t want = (uint64_t)st.st_size - c->off;
    if ((uint64_t)st.st_size > MAX_TEXT_BYTES) {
        s = pr_err_set(err, PR_ERR_LIMIT, "%s: larger than %llu bytes", p,
                       (unsigned long long)MAX_TEXT_BYTES);
        goto done;
    }
    if (!(text = malloc(want ? want : 1))) {
        s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto done;
    }
    uint64_t got = 0;
    while (got < want) {
        ssize_t n = pread(fd, text + got, want - got, (off_t)(c->off + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            s = pr_err_errno(err, PR_ERR_IO, errno, "%s: read", p);
            goto done;
        }
        if (n == 0) break; /* cut meanwhile: what was read is parsed */
        got += (uint64_t)n;
    }
    while (got && text[got - 1] != '\n') got--; /* a torn last line is not read */
    uint64_t line = c->lines;
    if ((s = hist_parse(r, &c->h, text, got, &line, err)) != PR_OK) {
        hist_free(&c->h);
        c->off = c->lines = 0;
        goto done;
    }
    if (got) {
        uint64_t end = c->off + got;
        size_t keep = got >= sizeof c->tail ? sizeof c->tail : (size_t)got;
        if (keep < sizeof c->tail && c->off) { /* the rest from before */
            size_t old = sizeof c->tail - keep;
            if (old > c->tail_n) old = c->tail_n;
            memmove(c->tail, c->tail + c->tail_n - old, old);
            memcpy(c->tail + old, text + got - keep, keep);
            c->tail_n = old + keep;
        } else {
            memcpy(c->tail, text + got - keep, keep);
            c->tail_n = keep;
        }
        c->off = end;
        c->lines = line;
        c->dev = st.st_dev;
        c->ino = st.st_ino;
    }
    if (hist_copy(h, &c->h)) s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
done:
    free(text);
    close(fd);
    return s;
}

static void identity(json_t *o) {
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    const char *user = NULL;
    struct passwd *pw = getpwuid(geteuid());
    if (pw) user = pw->pw_name;
    if (!user) user = getenv("USER");
    json_object_set_new(o, "host", json_string(host));
    if (user) json_object_set_new(o, "user", json_string(user));
    else json_object_set_new(o, "uid", json_integer((json_int_t)geteuid()));
    json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
}

static double now_s(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)(tv.tv_usec / 1000) / 1e3;
}

/* Appends one line (the lock held): op, then fields of `extra` (stolen). */
static pr_status hist_append(pr_registry *r, const char *op, const char *version,
                             const char *alias, const char *from, const char *reason,
                             json_t *extra, pr_err *err) {
    json_t *o = json_object();
    json_object_set_new(o, "time", json_real(now_s()));
    json_object_set_new(o, "op", json_string(op));
    if (version) json_object_set_new(o, "version", json_string(version));
    if (alias) json_object_set_new(o, "alias", json_string(alias));
    if (from) json_object_set_new(o, "from", json_string(from));
    if (reason) json_object_set_new(o, "reason", json_string(reason));
    if (extra) {
        json_object_update_missing(o, extra);
        json_decref(extra);
    }
    identity(o);
    char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (!line) return pr_err_set(err, PR_ERR_NOMEM, "out of memory (history line)");
    size_t n = strlen(line);
    line[n++] = '\n'; /* json_dumps leaves room: we replace the NUL */
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s = pathf(r, p, err, HISTORY_FILE);
    int fd = s == PR_OK ? open(p, O_WRONLY | O_APPEND | O_CLOEXEC) : -1;
    if (s == PR_OK && fd < 0) s = pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", p);
    const char *q = line;
    while (s == PR_OK && n) {
        ssize_t w = write(fd, q, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) s = pr_err_errno(err, PR_ERR_IO, errno, "%s: append", p);
        else q += w, n -= (size_t)w;
    }
    if (s == PR_OK && fsync(fd) != 0) s = pr_err_errno(err, PR_ERR_IO, errno, "%s: fsync", p);
    if (fd >= 0) close(fd);
    free(line);
    return s;
}

/* ---------------------------------------------------------------- writers */

/* Cuts a torn last line (a writer killed mid-append). */
static pr_status cut_torn_tail(pr_registry *r, pr_err *err) {
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s = pathf(r, p, err, HISTORY_FILE);
    if (s != PR_OK) return s;
    int fd = open(p, O_RDWR | O_CLOEXEC);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", p);
    struct stat st;
    off_t end = 0;
    if (fstat(fd, &st) == 0) end = st.st_size;
    off_t keep = end;
    char buf[4096];
    while (keep > 0) {
        off_t from = keep > (off_t)sizeof buf ? keep - (off_t)sizeof buf : 0;
        ssize_t got = pread(fd, buf, (size_t)(keep - from), from);
        if (got <= 0) break;
        ssize_t i = got;
        while (i > 0 && buf[i - 1] != '\n') i--;
        if (i > 0) {
            keep = from + i;
            break;
        }
        keep = from;
    }
    if (keep != end) {
        if (ftruncate(fd, keep) != 0 || fsync(fd) != 0)
            s = pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot cut the torn last line", p);
        else
            pr_log(PR_LOG_WARN, "registry %s: cut a torn last history line (%lld bytes)", r->dir,
                   (long long)(end - keep));
    }
    close(fd);
    return s;
}

/* Removes what killed writers left: versions/.tmp-*, versions/.gc-* and
 * aliases' and requests' temporaries (every writer holds the lock, so none is live). */
static void remove_leftovers(pr_registry *r) {
    static const char *const subs[] = {"versions", "aliases", "requests"};
    for (int i = 0; i < 3; i++) {
        char p[PR_REGISTRY_PATH_MAX];
        if (pathf(r, p, NULL, "%s", subs[i]) != PR_OK) continue;
        DIR *d = opendir(p);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            const char *n = e->d_name;
            int dead = i == 0 ? (!strncmp(n, ".tmp-", 5) || !strncmp(n, ".gc-", 4))
                              : strstr(n, ".tmp.") != NULL;
            if (!dead) continue;
            char q[PR_REGISTRY_PATH_MAX];
            if ((size_t)snprintf(q, sizeof q, "%s/%s", p, n) >= sizeof q) continue;
            if (i == 0) remove_tree(q);
            else unlink(q);
        }
        closedir(d);
    }
}

/* Appends the lines a kill lost: versions and alias targets the files
 * have and the history does not say. h is updated to match. */
static pr_status reconcile(pr_registry *r, hist_state *h, pr_err *err) {
    char **ids = NULL;
    size_t n = 0;
    pr_status s = scan(r, "versions", is_version_id, &ids, &n, err);
    for (size_t i = 0; s == PR_OK && i < n; i++) {
        if (hist_registered(h, ids[i])) continue;
        json_t *x = json_object();
        json_object_set_new(x, "recovered", json_true());
        s = hist_append(r, "register", ids[i], NULL, NULL,
                        "the version is complete but its history line was lost (a kill)", x, err);
        if (s == PR_OK && push_id(&h->registered, &h->n_reg, &h->cap_reg, ids[i]))
            s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        if (s == PR_OK && id_number(ids[i]) > h->max_id) h->max_id = id_number(ids[i]);
    }
    free_names(ids, n);
    if (s != PR_OK) return s;
    /* A damaged alias file (no writer leaves one) is skipped here: resolve
     * reports it, and a forced move replaces it. */
    char **names = NULL;
    if ((s = scan(r, "aliases", is_alias_name, &names, &n, err)) != PR_OK) return s;
    pr_registry_alias *al = calloc(n ? n : 1, sizeof *al);
    size_t n_al = 0;
    if (!al) s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == PR_OK && i < n; i++) {
        snprintf(al[n_al].name, sizeof al[n_al].name, "%s", names[i]);
        pr_err ignored;
        if (read_alias(r, names[i], al[n_al].version, &ignored) == PR_OK) n_al++;
    }
    free_names(names, n);
    for (size_t i = 0; s == PR_OK && i < n_al; i++) {
        alias_hist *a = hist_alias(h, al[i].name, 1);
        if (!a) {
            s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
            break;
        }
        const char *top = alias_top(a);
        if (top && !strcmp(top, al[i].version)) continue;
        json_t *x = json_object();
        json_object_set_new(x, "recovered", json_true());
        s = hist_append(r, "alias", al[i].version, al[i].name, top,
                        "the alias moved but its history line was lost (a kill)", x, err);
        if (s == PR_OK && push_id(&a->stack, &a->n, &a->cap, al[i].version))
            s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    free(al);
    return s;
}

/* Takes the lock and brings the files and the history to a clean state;
 * h: OUT the history's state. On failure the lock is not held. */
static pr_status wlock(pr_registry *r, hist_state *h, pr_err *err) {
    pr_status s = lock_take(r, err);
    if (s != PR_OK) return s;
    int present;
    if ((s = check_format(r, &present, err)) == PR_OK && !present)
        s = pr_err_set(err, PR_ERR_FORMAT, "registry %s: FORMAT disappeared", r->dir);
    if (s == PR_OK) s = cut_torn_tail(r, err);
    if (s == PR_OK) remove_leftovers(r);
    if (s == PR_OK) s = hist_load(r, h, err);
    if (s == PR_OK && (s = reconcile(r, h, err)) != PR_OK) hist_free(h);
    if (s != PR_OK) lock_drop(r);
    return s;
}

static void wunlock(pr_registry *r, hist_state *h) {
    hist_free(h);
    lock_drop(r);
}

/* Describes model m, whose file at path is len bytes with the given
 * trailing checksum, into meta's "model" object. */
static pr_status describe_loaded(const char *path, const pr_model *m, uint64_t checksum,
                                 uint64_t len, json_t *model, pr_err *err) {
    pr_status s = PR_OK;
    const pr_model_params *p = pr_model_params_get(m);
    json_object_set_new(model, "kind", json_string(pr_model_kind_name(p->kind)));
    json_object_set_new(model, "hash_bits", json_integer(p->hash_bits));
    if (p->kind != PR_MODEL_KIND_LR) {
        json_object_set_new(model, "n_fields", json_integer(p->n_fields));
        json_object_set_new(model, "k", json_integer(p->k));
    }
    char hex[24];
    const char *y = pr_model_spec(m);
    if (y) {
        pr_spec *spec = NULL;
        pr_featurizer *fz = NULL;
        s = pr_spec_parse(y, strlen(y), path, &spec, err);
        if (s == PR_OK) s = pr_featurizer_new(spec, &fz, err);
        if (s == PR_OK) {
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)pr_featurizer_fingerprint(fz));
            json_object_set_new(model, "spec_fingerprint", json_string(hex));
        }
        pr_featurizer_free(fz);
        pr_spec_free(spec);
        if (s != PR_OK) {
            char why[PR_ERR_MSG_MAX];
            snprintf(why, sizeof why, "%s", err->msg);
            s = pr_err_set(err, s, "%s: its embedded spec does not compile: %s", path, why);
        }
    } else {
        json_object_set_new(model, "spec_fingerprint", json_null());
    }
    const char *info = pr_model_info(m);
    json_t *ij = info ? json_loads(info, 0, NULL) : NULL;
    if (ij) json_object_set_new(model, "train_info", ij);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)checksum);
    json_object_set_new(model, "checksum", json_string(hex));
    json_object_set_new(model, "bytes", json_integer((json_int_t)len));
    json_object_set_new(model, "file", json_string(MODEL_FILE));
    return s;
}

/* Loads the model in buf (verifying it) and describes it into meta. */
static pr_status describe_model(const char *path, const char *buf, size_t len, json_t *model,
                                pr_err *err) {
    pr_model *m = NULL;
    pr_status s = pr_model_load_mem(buf, len, path, &m, err);
    if (s == PR_OK)
        s = describe_loaded(path, m, le64((const unsigned char *)buf + len - 8), len, model, err);
    pr_model_free(m);
    return s;
}

/* A file this process just saved from m (pr_registry_version_opts.saved):
 * its header's magic and length against its size, and its checksum field,
 * read without reading the body through (pr_model_save checksummed the
 * bytes as it wrote them and fsynced the file). */
static pr_status describe_saved(const char *path, const pr_model *m, json_t *model,
                                uint64_t *len, uint64_t *checksum, pr_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", path);
    struct stat st;
    unsigned char head[32], tail[8];
    pr_status s = PR_OK;
    if (fstat(fd, &st) != 0)
        s = pr_err_errno(err, PR_ERR_IO, errno, "%s: stat", path);
    else if (!S_ISREG(st.st_mode) || st.st_size < 48 || pread(fd, head, 32, 0) != 32 ||
             memcmp(head, "PRONTOMD", 8) != 0)
        s = pr_err_set(err, PR_ERR_FORMAT, "%s: not a pronto model file", path);
    else if (le64(head + 24) != (uint64_t)st.st_size)
        s = pr_err_set(err, PR_ERR_TRUNCATED, "%s: %llu bytes, its header says %llu", path,
                       (unsigned long long)st.st_size, (unsigned long long)le64(head + 24));
    else if (pread(fd, tail, 8, st.st_size - 8) != 8)
        s = pr_err_errno(err, PR_ERR_IO, errno, "%s: read", path);
    close(fd);
    if (s != PR_OK) return s;
    *len = (uint64_t)st.st_size;
    *checksum = le64(tail);
    return describe_loaded(path, m, *checksum, *len, model, err);
}

/* dst := a copy of the saved file at src (another filesystem than the
 * registry's), its checksum compared with what describe_saved read. */
static pr_status copy_saved(const char *src, const char *dst, uint64_t len, uint64_t checksum,
                            pr_err *err) {
    char *buf = NULL;
    size_t n = 0;
    pr_status s = pr_read_regular_file(src, MAX_MODEL_BYTES, &buf, &n, NULL, err);
    if (s != PR_OK) return s;
    pr_checksum *c = pr_checksum_new();
    if (!c) s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    if (s == PR_OK && n == len) pr_checksum_update(c, buf, n - 8);
    if (s == PR_OK && (n != len || le64((const unsigned char *)buf + n - 8) != checksum ||
                       pr_checksum_digest(c) != checksum))
        s = pr_err_set(err, PR_ERR_CHECKSUM, "%s: changed while it was registered", src);
    if (s == PR_OK) s = write_new_file(dst, buf, n, err);
    pr_checksum_free(c);
    free(buf);
    return s;
}

static pr_status parse_object(const char *what, const char *text, json_t **out, pr_err *err) {
    *out = NULL;
    if (!text) return PR_OK;
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return pr_err_set(err, PR_ERR_PARSE, "registry: %s must be a JSON object%s%s", what,
                          j ? "" : ": ", j ? "" : je.text);
    }
    *out = j;
    return PR_OK;
}

pr_status pr_registry_register(pr_registry *r, const char *model_path,
                               const pr_registry_version_opts *o, char *id, pr_err *err) {
    pr_registry_version_opts dflt;
    if (!o) {
        pr_registry_version_opts_default(&dflt);
        o = &dflt;
    }
    id[0] = '\0';
    char *buf = NULL;
    size_t len = 0;
    json_t *meta = json_object(), *model = json_object(), *data = NULL, *metrics = NULL;
    hist_state h;
    int locked = 0;
    char tmp[PR_REGISTRY_PATH_MAX], p[PR_REGISTRY_PATH_MAX], fin[PR_REGISTRY_PATH_MAX];
    tmp[0] = '\0';
    pr_status s = parse_object("the data description", o->data_json, &data, err);
    if (s == PR_OK) s = parse_object("the metrics", o->metrics_json, &metrics, err);
    uint64_t saved_len = 0, saved_sum = 0;
    if (s == PR_OK && o->saved) {
        s = describe_saved(model_path, o->saved, model, &saved_len, &saved_sum, err);
    } else if (s == PR_OK) {
        /* Read once: the bytes verified are the bytes copied. */
        s = pr_read_regular_file(model_path, MAX_MODEL_BYTES, &buf, &len, NULL, err);
        if (s == PR_OK) s = describe_model(model_path, buf, len, model, err);
    }
    if (s != PR_OK) goto done;
    if ((s = wlock(r, &h, err)) != PR_OK) goto done;
    locked = 1;
    char parent[PR_REGISTRY_ID_MAX] = "";
    if (o->parent && (s = resolve_id(r, o->parent, parent, err)) != PR_OK) goto done;
    if (h.max_id + 1 >= 1000000000000ull) { /* 12 digits at most */
        s = pr_err_set(err, PR_ERR_LIMIT, "registry %s: version ids are exhausted", r->dir);
        goto done;
    }
    snprintf(id, PR_REGISTRY_ID_MAX, "v%0*llu", ID_DIGITS, (unsigned long long)(h.max_id + 1));
    json_object_set_new(meta, "format", json_integer(PR_REGISTRY_FORMAT));
    json_object_set_new(meta, "id", json_string(id));
    json_object_set_new(meta, "parent", parent[0] ? json_string(parent) : json_null());
    json_object_set_new(meta, "status", json_string(o->rejected ? "rejected" : "registered"));
    json_t *reasons = json_array();
    for (uint32_t i = 0; i < o->n_reasons; i++)
        if (o->reasons[i]) json_array_append_new(reasons, json_string(o->reasons[i]));
    json_object_set_new(meta, "reasons", reasons);
    double t = now_s();
    json_object_set_new(meta, "created_at", json_integer((json_int_t)t));
    json_object_set_new(meta, "created_at_ms", json_integer((json_int_t)(t * 1000 + 0.5)));
    json_object_set_new(meta, "pronto_version", json_string(PRONTO_VERSION));
    json_t *creator = json_object();
    if (o->command) json_object_set_new(creator, "command", json_string(o->command));
    identity(creator);
    json_object_set_new(meta, "creator", creator);
    json_object_set_new(meta, "source", json_string(model_path));
    json_object_set(meta, "model", model);
    json_object_set_new(meta, "data", data ? data : json_object());
    json_object_set_new(meta, "metrics", metrics ? metrics : json_object());
    data = metrics = NULL;
    char *text = json_dumps(meta, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    if (!text) {
        s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* Write aside, make durable, then publish with one rename. */
    if ((s = pathf(r, tmp, err, "versions/.tmp-%s-%ld", id, (long)getpid())) == PR_OK &&
        mkdir(tmp, 0755) != 0)
        s = pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot create", tmp);
    if (s == PR_OK && (size_t)snprintf(p, sizeof p, "%s/" MODEL_FILE, tmp) < sizeof p) {
        int e = 0;
        if (!o->saved)
            s = write_new_file(p, buf, len, err);
        else if (link(model_path, p) != 0 && (e = errno) != 0) {
            /* another filesystem, or one without hard links: a copy */
            if (e == EXDEV || e == EPERM || e == EMLINK || e == ENOTSUP)
                s = copy_saved(model_path, p, saved_len, saved_sum, err);
            else
                s = pr_err_errno(err, PR_ERR_IO, e, "%s: cannot link to %s", model_path, p);
        }
    }
    if (s == PR_OK && (size_t)snprintf(p, sizeof p, "%s/" META_FILE, tmp) < sizeof p) {
        size_t tl = strlen(text);
        text[tl] = '\n'; /* json_dumps's NUL becomes the final newline */
        s = write_new_file(p, text, tl + 1, err);
    }
    free(text);
    if (s == PR_OK) s = fsync_path(tmp, err);
    if (s == PR_OK) s = pathf(r, fin, err, "versions/%s", id);
    if (s == PR_OK && rename(tmp, fin) != 0)
        s = pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot rename to %s", tmp, fin);
    if (s == PR_OK) {
        tmp[0] = '\0';
        if ((s = pathf(r, p, err, "versions")) == PR_OK) s = fsync_path(p, err);
    }
    if (s == PR_OK) {
        json_t *x = json_object();
        json_object_set_new(x, "status", json_string(o->rejected ? "rejected" : "registered"));
        if (parent[0]) json_object_set_new(x, "parent", json_string(parent));
        json_object_set_new(x, "reasons", json_incref(json_object_get(meta, "reasons")));
        json_object_set_new(x, "spec_fingerprint",
                            json_incref(json_object_get(model, "spec_fingerprint")));
        s = hist_append(r, "register", id, NULL, NULL, NULL, x, err);
    }
done:
    if (tmp[0]) remove_tree(tmp);
    if (locked) wunlock(r, &h);
    if (s != PR_OK) id[0] = '\0';
    free(buf);
    json_decref(meta);
    json_decref(model);
    json_decref(data);
    json_decref(metrics);
    return s;
}

/* Writes the alias file (the lock held, target durable). */
static pr_status write_alias(pr_registry *r, const char *alias, const char *id, pr_err *err) {
    char p[PR_REGISTRY_PATH_MAX];
    pr_status s = pathf(r, p, err, "aliases/%s", alias);
    if (s != PR_OK) return s;
    json_t *o = json_object();
    json_object_set_new(o, "alias", json_string(alias));
    json_object_set_new(o, "version", json_string(id));
    json_object_set_new(o, "time", json_real(now_s()));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (!text) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    s = replace_file(p, line, err);
    free(line);
    return s;
}

static const char *meta_fingerprint(json_t *meta) {
    const char *f = json_string_value(json_object_get(json_object_get(meta, "model"), "spec_fingerprint"));
    return f ? f : "none";
}

pr_status pr_registry_set_alias(pr_registry *r, const char *alias, const char *version,
                                const char *reason, int force, pr_err *err) {
    pr_status s = check_alias(r, alias, err);
    if (s != PR_OK) return s;
    hist_state h;
    if ((s = wlock(r, &h, err)) != PR_OK) return s;
    char id[PR_REGISTRY_ID_MAX], cur[PR_REGISTRY_ID_MAX];
    json_t *meta = NULL, *cur_meta = NULL;
    if ((s = resolve_id(r, version, id, err)) != PR_OK) goto done;
    if ((s = load_meta(r, id, &meta, err)) != PR_OK) goto done;
    s = read_alias(r, alias, cur, err);
    if (s == PR_ERR_NOTFOUND || (s != PR_OK && force)) { /* none, or damaged and forced */
        cur[0] = '\0';
        s = PR_OK;
    }
    if (s != PR_OK) {
        char why[PR_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        s = pr_err_set(err, s, "%s (force replaces it)", why);
        goto done;
    }
    if (cur[0] && !strcmp(cur, id)) goto done; /* already there: nothing to write */
    const char *status = json_string_value(json_object_get(meta, "status"));
    if (!force && status && !strcmp(status, "rejected")) {
        s = pr_err_set(err, PR_ERR_INVALID,
                       "registry %s: %s was registered as rejected; not pointing '%s' at it "
                       "without force", r->dir, id, alias);
        goto done;
    }
    if (cur[0] && load_meta(r, cur, &cur_meta, err) == PR_OK && !force &&
        strcmp(meta_fingerprint(meta), meta_fingerprint(cur_meta)) != 0) {
        s = pr_err_set(err, PR_ERR_INVALID,
                       "registry %s: %s's spec fingerprint %s differs from %s's (%s, now '%s'): "
                       "another featurization; promote it with force once the store and clients "
                       "agree", r->dir, id, meta_fingerprint(meta), cur, meta_fingerprint(cur_meta),
                       alias);
        goto done;
    }
    pr_err_clear(err);
    if ((s = write_alias(r, alias, id, err)) != PR_OK) goto done;
    json_t *x = json_object();
    if (force) json_object_set_new(x, "forced", json_true());
    s = hist_append(r, "alias", id, alias, cur[0] ? cur : NULL, reason, x, err);
done:
    json_decref(meta);
    json_decref(cur_meta);
    wunlock(r, &h);
    return s;
}

pr_status pr_registry_rollback(pr_registry *r, const char *alias, const char *reason, char *id,
                               pr_err *err) {
    pr_status s = check_alias(r, alias, err);
    if (s != PR_OK) return s;
    hist_state h;
    if ((s = wlock(r, &h, err)) != PR_OK) return s;
    alias_hist *a = hist_alias(&h, alias, 0);
    const char *to = alias_prev(a), *from = alias_top(a);
    char target[PR_REGISTRY_ID_MAX];
    if (!from) {
        s = pr_err_set(err, PR_ERR_NOTFOUND, "registry %s: no alias '%s'", r->dir, alias);
    } else if (!to) {
        s = pr_err_set(err, PR_ERR_NOTFOUND,
                       "registry %s: '%s' names %s and has no earlier target to go back to",
                       r->dir, alias, from);
    } else {
        snprintf(target, sizeof target, "%s", to);
        char chk[PR_REGISTRY_ID_MAX];
        s = resolve_id(r, target, chk, err);
        if (s == PR_OK) s = write_alias(r, alias, target, err);
        if (s == PR_OK) s = hist_append(r, "rollback", target, alias, from, reason, NULL, err);
        if (s == PR_OK && id) snprintf(id, PR_REGISTRY_ID_MAX, "%s", target);
    }
    wunlock(r, &h);
    return s;
}

pr_status pr_registry_note(pr_registry *r, const char *op, const char *version,
                           const char *reason, const char *detail_json, pr_err *err) {
    if (!op || !*op || strlen(op) > 32)
        return pr_err_set(err, PR_ERR_INVALID, "registry: a note needs an op word (1..32 bytes)");
    if (!strcmp(op, "register") || !strcmp(op, "alias") || !strcmp(op, "rollback"))
        return pr_err_set(err, PR_ERR_INVALID,
                          "registry: op '%s' is written by the registry itself", op);
    json_t *x;
    pr_status s = parse_object("a note's detail", detail_json, &x, err);
    if (s != PR_OK) return s;
    hist_state h;
    char id[PR_REGISTRY_ID_MAX];
    if ((s = wlock(r, &h, err)) != PR_OK) {
        json_decref(x);
        return s;
    }
    if (version) s = resolve_id(r, version, id, err);
    if (s == PR_OK) s = hist_append(r, op, version ? id : NULL, NULL, NULL, reason, x, err);
    else json_decref(x);
    wunlock(r, &h);
    return s;
}

/* ---------------------------------------------------------------- requests
 * DIR/requests/WHAT holds one pending request as a JSON object; the
 * directory is made by the first request. */

static int is_request_word(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 32) return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_' &&
            s[i] != '-')
            return 0;
    return 1;
}

static pr_status check_request_word(const pr_registry *r, const char *what, pr_err *err) {
    if (!is_request_word(what))
        return pr_err_set(err, PR_ERR_INVALID,
                          "registry %s: bad request name '%s': 1..32 of a-z 0-9 _ -", r->dir,
                          what ? what : "");
    return PR_OK;
}

pr_status pr_registry_request(pr_registry *r, const char *what, const char *reason,
                              const char *detail_json, pr_err *err) {
    pr_status s = check_request_word(r, what, err);
    if (s != PR_OK) return s;
    json_t *detail;
    if ((s = parse_object("a request's detail", detail_json, &detail, err)) != PR_OK) return s;
    hist_state h;
    if ((s = wlock(r, &h, err)) != PR_OK) {
        json_decref(detail);
        return s;
    }
    char dirp[PR_REGISTRY_PATH_MAX], p[PR_REGISTRY_PATH_MAX];
    json_t *o = json_object(), *old = NULL;
    struct stat st;
    if ((s = pathf(r, dirp, err, "requests")) == PR_OK && stat(dirp, &st) != 0) {
        if ((s = make_dir(dirp, err)) == PR_OK) s = fsync_path(r->dir, err);
    }
    if (s == PR_OK) s = pathf(r, p, err, "requests/%s", what);
    if (s != PR_OK) goto done;
    /* Merge with a pending one: count it, keep its first time. */
    char *text = NULL;
    size_t len;
    if (access(p, F_OK) == 0 && read_text(p, &text, &len, NULL) == PR_OK) {
        old = json_loads(text, 0, NULL);
        free(text);
        if (old && !json_is_object(old)) {
            json_decref(old);
            old = NULL;
        }
        if (!old) pr_log(PR_LOG_WARN, "registry %s: requests/%s was damaged; replaced", r->dir, what);
    }
    double t = now_s();
    json_int_t count = 1;
    json_t *first = old ? json_object_get(old, "first_time") : NULL;
    if (old && json_is_integer(json_object_get(old, "count")) &&
        json_integer_value(json_object_get(old, "count")) > 0 &&
        json_integer_value(json_object_get(old, "count")) < ((json_int_t)1 << 52))
        count = json_integer_value(json_object_get(old, "count")) + 1;
    json_object_set_new(o, "what", json_string(what));
    json_object_set_new(o, "reason", reason ? json_string(reason) : json_null());
    json_object_set_new(o, "detail", detail ? json_incref(detail) : json_object());
    json_object_set_new(o, "time", json_real(t));
    json_object_set_new(o, "first_time", json_is_number(first) ? json_incref(first) : json_real(t));
    json_object_set_new(o, "count", json_integer(count));
    identity(o);
    char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (!line) {
        s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto done;
    }
    s = replace_file(p, line, err);
    free(line);
    if (s == PR_OK) {
        json_t *x = json_object();
        json_object_set_new(x, "what", json_string(what));
        json_object_set_new(x, "detail", detail ? json_incref(detail) : json_object());
        if (count > 1) json_object_set_new(x, "merged", json_integer(count));
        s = hist_append(r, "request", NULL, NULL, NULL, reason, x, err);
    }
done:
    json_decref(o);
    json_decref(old);
    json_decref(detail);
    wunlock(r, &h);
    return s;
}

pr_status pr_registry_take_request(pr_registry *r, const char *what, char **json, pr_err *err) {
    *json = NULL;
    pr_status s = check_request_word(r, what, err);
    if (s != PR_OK) return s;
    char p[PR_REGISTRY_PATH_MAX], dirp[PR_REGISTRY_PATH_MAX];
    if ((s = pathf(r, p, err, "requests/%s", what)) != PR_OK) return s;
    if ((s = pathf(r, dirp, err, "requests")) != PR_OK) return s;
    struct stat st;
    if (stat(p, &st) != 0) /* the common case, without the lock */
        return pr_err_set(err, PR_ERR_NOTFOUND, "registry %s: no pending '%s' request", r->dir,
                          what);
    if ((s = lock_take(r, err)) != PR_OK) return s;
    char *text = NULL;
    size_t len;
    if (stat(p, &st) != 0) { /* another taker was first */
        s = pr_err_set(err, PR_ERR_NOTFOUND, "registry %s: no pending '%s' request", r->dir,
                       what);
        goto done;
    }
    if ((s = read_text(p, &text, &len, err)) != PR_OK) goto done;
    json_t *o = json_loads(text, 0, NULL);
    if (!o || !json_is_object(o)) {
        s = pr_err_set(err, PR_ERR_PARSE,
                       "registry %s: requests/%s is not a JSON object (damaged; removed)", r->dir,
                       what);
    } else {
        /* Hand back what the file says; the word is ours. */
        json_object_set_new(o, "what", json_string(what));
        if (!(*json = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15))))
            s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    json_decref(o);
    if (s == PR_OK || s == PR_ERR_PARSE) {
        if (unlink(p) != 0) {
            pr_status u = pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot remove", p);
            if (s == PR_OK) s = u;
        } else {
            pr_err ignored;
            pr_status u = fsync_path(dirp, s == PR_OK ? err : &ignored);
            if (s == PR_OK) s = u;
        }
    }
    if (s != PR_OK) {
        free(*json);
        *json = NULL;
    }
done:
    free(text);
    lock_drop(r);
    return s;
}

pr_status pr_registry_gc(pr_registry *r, uint32_t keep, int dry_run, pr_registry_alias **removed,
                         size_t *n_removed, pr_err *err) {
    if (removed) *removed = NULL;
    if (n_removed) *n_removed = 0;
    hist_state h;
    pr_status s = wlock(r, &h, err);
    if (s != PR_OK) return s;
    char **ids = NULL;
    size_t n = 0, n_al = 0, n_out = 0;
    pr_registry_alias *al = NULL, *out = NULL;
    if ((s = scan(r, "versions", is_version_id, &ids, &n, err)) != PR_OK) goto done;
    if ((s = pr_registry_aliases(r, &al, &n_al, err)) != PR_OK) goto done;
    if (!(out = calloc(n ? n : 1, sizeof *out))) {
        s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i + keep < n && s == PR_OK; i++) { /* ids sorted oldest first */
        int used = 0;
        for (size_t k = 0; k < n_al && !used; k++) used = !strcmp(al[k].version, ids[i]);
        for (size_t k = 0; k < h.n_alias && !used; k++) {
            const char *prev = alias_prev(&h.aliases[k]);
            used = prev && !strcmp(prev, ids[i]);
        }
        if (used) continue;
        snprintf(out[n_out].version, sizeof out[n_out].version, "%s", ids[i]);
        n_out++;
        if (dry_run) continue;
        char from[PR_REGISTRY_PATH_MAX], to[PR_REGISTRY_PATH_MAX];
        if ((s = pathf(r, from, err, "versions/%s", ids[i])) != PR_OK ||
            (s = pathf(r, to, err, "versions/.gc-%s", ids[i])) != PR_OK)
            break;
        if (rename(from, to) != 0) {
            s = pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot remove", from);
            break;
        }
        if ((s = pathf(r, from, err, "versions")) == PR_OK) s = fsync_path(from, err);
        remove_tree(to);
        if (s == PR_OK) s = hist_append(r, "gc", ids[i], NULL, NULL, "no alias names it", NULL, err);
    }
done:
    free_names(ids, n);
    free(al);
    if (s == PR_OK && removed) {
        *removed = out;
        out = NULL;
    }
    if (s == PR_OK && n_removed) *n_removed = n_out;
    free(out);
    wunlock(r, &h);
    return s;
}

pr_status pr_registry_remove(pr_registry *r, const char *id, const char *reason, pr_err *err) {
    if (!is_version_id(id))
        return pr_err_set(err, PR_ERR_INVALID, "%s: '%s' is not a version id", r->dir, id);
    hist_state h;
    pr_status s = wlock(r, &h, err);
    if (s != PR_OK) return s;
    size_t n_al = 0;
    pr_registry_alias *al = NULL;
    char from[PR_REGISTRY_PATH_MAX], to[PR_REGISTRY_PATH_MAX];
    struct stat sb;
    if ((s = pathf(r, from, err, "versions/%s", id)) != PR_OK) goto done;
    if (stat(from, &sb) != 0) {
        s = pr_err_set(err, PR_ERR_NOTFOUND, "%s: no version %s", r->dir, id);
        goto done;
    }
    if ((s = pr_registry_aliases(r, &al, &n_al, err)) != PR_OK) goto done;
    for (size_t k = 0; k < n_al && s == PR_OK; k++)
        if (!strcmp(al[k].version, id))
            s = pr_err_set(err, PR_ERR_INVALID, "%s: alias %s names %s", r->dir, al[k].name, id);
    for (size_t k = 0; k < h.n_alias && s == PR_OK; k++) {
        const char *prev = alias_prev(&h.aliases[k]);
        if (prev && !strcmp(prev, id))
            s = pr_err_set(err, PR_ERR_INVALID, "%s: a rollback would return to %s", r->dir, id);
    }
    if (s != PR_OK) goto done;
    if ((s = pathf(r, to, err, "versions/.gc-%s", id)) != PR_OK) goto done;
    if (rename(from, to) != 0) {
        s = pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot remove", from);
        goto done;
    }
    if ((s = pathf(r, from, err, "versions")) == PR_OK) s = fsync_path(from, err);
    remove_tree(to);
    if (s == PR_OK)
        s = hist_append(r, "gc", id, NULL, NULL, reason ? reason : "removed", NULL, err);
done:
    free(al);
    wunlock(r, &h);
    return s;
}

int pr_registry_uri(const char *uri, char *dir, char *alias) {
    if (strncmp(uri, "registry:", 9) != 0) return 0;
    const char *d = uri + 9, *at = strrchr(d, '@');
    if (at && strchr(at, '/')) at = NULL; /* an '@' inside the path */
    size_t dl = at ? (size_t)(at - d) : strlen(d);
    const char *a = at ? at + 1 : "production";
    if (dl >= PR_REGISTRY_PATH_MAX || strlen(a) >= PR_REGISTRY_ID_MAX) return -1;
    memcpy(dir, d, dl);
    dir[dl] = '\0';
    snprintf(alias, PR_REGISTRY_ID_MAX, "%s", a);
    return 1;
}
