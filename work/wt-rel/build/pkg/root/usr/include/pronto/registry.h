/*
 * pronto/registry.h: the model registry `registry:DIR`, the base of
 * continuous training. Immutable versions (a model file plus metadata),
 * named aliases (production, candidate, shadow, any name) that move
 * atomically, and an append-only history of every registration, alias
 * move and gate decision with its reason. Layout, the crash-safety
 * argument and the CLI: docs/registry.md.
 *
 *   pr_registry *reg;
 *   if (pr_registry_open("models", PR_REGISTRY_CREATE, &reg, &err)) ...
 *   pr_registry_version_opts v;
 *   pr_registry_version_opts_default(&v);
 *   v.metrics_json = "{\"ne\":0.91}";
 *   char id[PR_REGISTRY_ID_MAX];
 *   pr_registry_register(reg, "ffm.pm", &v, id, &err);        // "v000007"
 *   pr_registry_set_alias(reg, "production", id, "gate passed", 0, &err);
 *   char path[PR_REGISTRY_PATH_MAX];
 *   pr_registry_resolve(reg, "production", id, path, &err);   // serve path
 *   pr_registry_close(reg);
 *
 * Concurrency: every write (register, set_alias, rollback, note, gc) holds
 * an exclusive flock on DIR/LOCK, so writers from any number of processes
 * serialize; readers take no lock (every file they read is replaced by
 * rename, and a torn last history line is skipped). Crash safety: a kill
 * -9 at any instant leaves every alias naming a complete version whose
 * model file verifies (docs/registry.md says why). A pr_registry handle
 * is used by one thread at a time.
 *
 * Errors name the registry directory and the file at fault.
 */
#ifndef PRONTO_REGISTRY_H
#define PRONTO_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The layout version written to DIR/FORMAT ("pronto-registry 1"). */
#define PR_REGISTRY_FORMAT 1
/* Room for a version id ("v000001") or an alias name, with its NUL. */
#define PR_REGISTRY_ID_MAX 72
/* Room for a version's model path. */
#define PR_REGISTRY_PATH_MAX 4096

typedef struct pr_registry pr_registry;

enum {
    PR_REGISTRY_CREATE = 1 /* create the registry if DIR is missing (its
                              parent must exist) or empty, or finish an
                              interrupted creation */
};

/* Opens the registry in dir. Refused (PR_ERR_NOTFOUND, PR_ERR_IO,
 * PR_ERR_VERSION, PR_ERR_FORMAT), with a message naming dir: a missing or
 * unreadable directory, one of another format version, one whose creation
 * was interrupted (no FORMAT yet) or that is not a registry. flags:
 * PR_REGISTRY_CREATE or 0. dir is copied.
 * OUT *out: owned by caller, free with pr_registry_close. */
pr_status pr_registry_open(const char *dir, int flags, pr_registry **out, pr_err *err);
/* Accepts NULL. */
void pr_registry_close(pr_registry *r);
/* Borrowed, valid until close. */
const char *pr_registry_dir(const pr_registry *r);

/* What the caller says about a version it registers. Every pointer is
 * borrowed for the call; NULL means absent. JSON texts must be objects. */
typedef struct pr_registry_version_opts {
    const char *parent;        /* the version it was warm-started from or
                                  replaces (must exist) */
    const char *data_json;     /* training data: window, event-log offsets,
                                  inputs... free-form object */
    const char *metrics_json;  /* metrics on the gate's holdout, object */
    const char *command;       /* the creating command line (default: none) */
    int rejected;              /* 1: registered as rejected (gate failed) */
    const char *const *reasons; /* n_reasons texts: why (rejected or not) */
    uint32_t n_reasons;
    const struct pr_model *saved; /* NULL, or the model this process just wrote
                                  to model_path with pr_model_save (checksummed
                                  as written, fsynced, renamed into place): the
                                  version is described from it, the file's
                                  header, length and checksum field are checked
                                  but its bytes are not read through again, and
                                  it is hard-linked into the version (copied
                                  when on another filesystem). The file must
                                  never be written in place afterwards
                                  (pr_model_save replaces by rename). */
} pr_registry_version_opts;

void pr_registry_version_opts_default(pr_registry_version_opts *o);

/* Copies the model file at model_path into a new version (after loading
 * it completely: checksum, params, spec; o->saved: links it, see above)
 * and appends a "register" line to the history. id: OUT, the new version's id ("v000001", ...), at least
 * PR_REGISTRY_ID_MAX bytes. Nothing is visible until the version is
 * complete and durable. */
pr_status pr_registry_register(pr_registry *r, const char *model_path,
                               const pr_registry_version_opts *o, char *id, pr_err *err);

/* A version's metadata as its meta.json text (docs/registry.md lists the
 * fields). name: a version id or an alias. OUT *json: malloc'd, owned by
 * caller (free()). */
pr_status pr_registry_get(pr_registry *r, const char *name, char **json, pr_err *err);

/* One version in a listing. */
typedef struct pr_registry_entry {
    char id[PR_REGISTRY_ID_MAX];
    char status[16];           /* "registered" or "rejected" */
    char kind[8];              /* "lr", "ffm", "fm" */
    int64_t created_at;        /* Unix seconds */
    uint64_t spec_fingerprint; /* of the embedded spec (0: none) */
    uint64_t bytes;            /* model file size */
} pr_registry_entry;

/* The versions, oldest first. OUT *out: malloc'd array of *n (free()).
 * A version directory whose metadata cannot be read is an error naming
 * it. */
pr_status pr_registry_list(pr_registry *r, pr_registry_entry **out, size_t *n, pr_err *err);

/* One alias: its name and target. */
typedef struct pr_registry_alias {
    char name[PR_REGISTRY_ID_MAX];
    char version[PR_REGISTRY_ID_MAX];
} pr_registry_alias;

/* The aliases, by name. OUT *out: malloc'd array of *n (free()). */
pr_status pr_registry_aliases(pr_registry *r, pr_registry_alias **out, size_t *n,
                              pr_err *err);

/* name (an alias, or a version id) -> the version id and its model file's
 * path; either OUT may be NULL. PR_ERR_NOTFOUND when the alias or version
 * does not exist. id: PR_REGISTRY_ID_MAX bytes, path: PR_REGISTRY_PATH_MAX. */
pr_status pr_registry_resolve(pr_registry *r, const char *name, char *id, char *path,
                              pr_err *err);

/* The path of an alias's file (DIR/aliases/NAME): a rename replaces it at
 * every move, so its inode and mtime change; servers poll it. OUT path:
 * PR_REGISTRY_PATH_MAX bytes. PR_ERR_INVALID for a bad alias name. */
pr_status pr_registry_alias_path(const pr_registry *r, const char *alias, char *path,
                                 pr_err *err);

/* Reads the model file of a version (a version id or an alias) through
 * and checks its header and trailing checksum, and its size against the
 * metadata. PR_ERR_CHECKSUM / PR_ERR_TRUNCATED / PR_ERR_FORMAT naming the
 * file otherwise. */
pr_status pr_registry_verify(pr_registry *r, const char *name, pr_err *err);

/* Points alias at version (an id, or another alias's current target),
 * with a reason written to the history. Refused (PR_ERR_INVALID) when the
 * version's spec fingerprint differs from the one the alias points at now
 * (another featurization: the store and every client must agree first),
 * or the version was registered as rejected, unless force. Alias names:
 * 1..64 of [A-Za-z0-9_.-], not starting with '.'. */
pr_status pr_registry_set_alias(pr_registry *r, const char *alias, const char *version,
                                const char *reason, int force, pr_err *err);

/* Moves alias back to the target it had before its current one (per the
 * history: successive rollbacks walk further back). id: OUT (may be NULL)
 * the version now named. PR_ERR_NOTFOUND when there is nothing to go back
 * to. */
pr_status pr_registry_rollback(pr_registry *r, const char *alias, const char *reason,
                               char *id, pr_err *err);

/* Appends a line to the history without changing anything else: a gate
 * decision ("gate"), an alert... op: a word; version may be NULL;
 * detail_json: NULL or a JSON object whose members are added to the line. */
pr_status pr_registry_note(pr_registry *r, const char *op, const char *version,
                           const char *reason, const char *detail_json, pr_err *err);

/* The history lines (JSON objects, oldest first), a torn last line left
 * out. OUT *text: malloc'd (free()), lines separated by '\n'. */
pr_status pr_registry_history(pr_registry *r, char **text, size_t *len, pr_err *err);

/* Records a pending request named what (a word: 1..32 of [a-z0-9_-],
 * e.g. "retrain") that a scheduler takes with pr_registry_take_request:
 * DIR/requests/WHAT, written under the lock by temporary, fsync, rename,
 * so it survives a kill -9 once this returns. A second request before the
 * first is taken is merged into it: the newest reason and detail win,
 * "count" says how many were merged and "first_time" when the oldest was
 * made. Appends a "request" line (what, reason, detail) to the history.
 * reason may be NULL; detail_json: NULL or a JSON object (copied). */
pr_status pr_registry_request(pr_registry *r, const char *what, const char *reason,
                              const char *detail_json, pr_err *err);

/* Takes the pending request named what: reads and removes it under the
 * lock, so two takers never both get it. PR_ERR_NOTFOUND when there is
 * none (cheap: one stat, no lock). A kill between the read and the
 * removal leaves the request pending (it is taken again: at least once).
 * A damaged request file (no writer leaves one) is removed and reported
 * as PR_ERR_PARSE naming it. OUT *json: malloc'd (free()), an object with
 * "what", "reason", "detail", "time", "first_time", "count", "pid",
 * "host", "user". */
pr_status pr_registry_take_request(pr_registry *r, const char *what, char **json, pr_err *err);

/* Removes the versions no alias names, that are not the target a rollback
 * of some alias would return to, and not among the newest keep. dry_run:
 * only report. removed: OUT (may be NULL) malloc'd array of *n_removed ids
 * (free()). */
pr_status pr_registry_gc(pr_registry *r, uint32_t keep, int dry_run,
                         pr_registry_alias **removed, size_t *n_removed, pr_err *err);

/* Removes one version (what gc does to each it removes), with a reason
 * for the history: PR_ERR_NOTFOUND if there is no such version,
 * PR_ERR_INVALID if an alias names it or a rollback would return to it.
 * (pronto learn --keep removes its own older versions this way.) */
pr_status pr_registry_remove(pr_registry *r, const char *id, const char *reason, pr_err *err);
/* Checks a "registry:DIR[@alias]" URI: 1 if uri starts with "registry:"
 * (then dir and alias are set: alias defaults to "production"), else 0.
 * dir: PR_REGISTRY_PATH_MAX bytes, alias PR_REGISTRY_ID_MAX; a too-long
 * part gives -1. */
int pr_registry_uri(const char *uri, char *dir, char *alias);

#ifdef __cplusplus
}
#endif
#endif
