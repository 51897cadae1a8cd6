/*
 * store_redis_uri.c: parses the text after "redis:" in a store URI, and
 * after "redis-stream:" in an event-log URI (src/log/log_redis.c): one
 * grammar, so both name a server the same way.
 *
 *   uri     = "redis:" ["//"] address ["?" option *("&" option)]
 *   address = "unix:" path                     (path: everything up to '?')
 *           | host ":" port ["/" db]
 *   host    = name | IPv4 | "[" IPv6 "]"       (no ':' '/' '?' in a name)
 *   option  = "connect_timeout_ms=" N | "timeout_ms=" N | "db=" N
 *           | "prefix=" text | "expire_grace_s=" N
 *
 *   stream  = "redis-stream:" ["//"] saddr "/" key ["?" soption *("&" soption)]
 *   saddr   = "unix:" path | host ":" port     (key: after the last '/')
 *   soption = "connect_timeout_ms=" N | "timeout_ms=" N | "db=" N
 *           | the log's own options, handed to the caller's callback
 *
 * Numbers are plain decimal digits within the documented ranges; each option
 * at most once; db either as "/DB" or as "db=", not both. Nothing is
 * percent-decoded: a prefix cannot contain '&'. Every refusal names the URI
 * and the part that is wrong.
 *
 * Ownership: the config owns its strings (pr__redis_config_free).
 */
#include "store/store_redis_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Digits [s, s+n) as a number in lo..hi; 0 if not all digits or out of range. */
static int parse_num(const char *s, size_t n, long long lo, long long hi, long long *out) {
    long long v = 0;
    if (n == 0 || n > 19) return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
        if (v > hi) return 0;
    }
    if (v < lo) return 0;
    *out = v;
    return 1;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void pr__redis_config_free(pr__redis_config *cfg) {
    if (!cfg) return;
    free(cfg->host);
    free(cfg->path);
    free(cfg->prefix);
    free(cfg->name);
    free(cfg->key);
    memset(cfg, 0, sizeof *cfg);
}

enum { OPT_CONNECT = 1, OPT_TIMEOUT = 2, OPT_DB = 4, OPT_PREFIX = 8, OPT_GRACE = 16 };

/* One "name=value" (not NUL-terminated: [opt, opt+n)). what: the URI as
 * messages name it. */
static pr_status parse_option(const pr__redis_uri_spec *spec, const char *uri, const char *opt,
                              size_t n, unsigned *seen, pr__redis_config *cfg, pr_err *err) {
    static const struct {
        const char *name;
        unsigned bit;
        int store_only;
    } names[] = {{"connect_timeout_ms", OPT_CONNECT, 0}, {"timeout_ms", OPT_TIMEOUT, 0},
                 {"db", OPT_DB, 0}, {"prefix", OPT_PREFIX, 1}, {"expire_grace_s", OPT_GRACE, 1}};
    const char *eq = memchr(opt, '=', n);
    size_t name_len = eq ? (size_t)(eq - opt) : n;
    const char *val = eq ? eq + 1 : NULL;
    size_t val_len = eq ? n - name_len - 1 : 0;
    unsigned bit = 0;
    long long v = 0;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == name_len && memcmp(names[i].name, opt, name_len) == 0 &&
            !(names[i].store_only && spec->stream))
            bit = names[i].bit;
    if (!bit && spec->extra) {
        pr_status st = spec->extra(spec->ctx, uri, opt, name_len, val, val_len, err);
        if (st != PR_ERR_NOTFOUND) return st;
    }
    if (!bit)
        return pr_err_set(err, PR_ERR_INVALID, "%s: unknown option '%.*s' (expected %s)", uri,
                          (int)name_len, opt,
                          spec->stream ? spec->extra_names
                                       : "connect_timeout_ms, timeout_ms, db, prefix or expire_grace_s");
    if (!eq)
        return pr_err_set(err, PR_ERR_INVALID, "%s: option '%.*s' needs '=VALUE'",
                          uri, (int)name_len, opt);
    if (*seen & bit)
        return pr_err_set(err, PR_ERR_INVALID, "%s: option '%.*s' given twice%s", uri,
                          (int)name_len, opt, spec->stream ? "" : " (db also counts '/DB')");
    *seen |= bit;
    switch (bit) {
    case OPT_CONNECT:
    case OPT_TIMEOUT:
        if (!parse_num(val, val_len, 1, PR__REDIS_TIMEOUT_MS_MAX, &v))
            return pr_err_set(err, PR_ERR_INVALID,
                              "%s: %.*s '%.*s' is not a number of milliseconds in 1..%d",
                              uri, (int)name_len, opt, (int)val_len, val, PR__REDIS_TIMEOUT_MS_MAX);
        if (bit == OPT_CONNECT) cfg->connect_timeout_ms = (int)v;
        else cfg->timeout_ms = (int)v;
        break;
    case OPT_DB:
        if (!parse_num(val, val_len, 0, INT32_MAX, &v))
            return pr_err_set(err, PR_ERR_INVALID,
                              "%s: db '%.*s' is not a database number in 0..%d", uri,
                              (int)val_len, val, INT32_MAX);
        cfg->db = (int)v;
        break;
    case OPT_PREFIX:
        if (val_len > PR__REDIS_PREFIX_MAX)
            return pr_err_set(err, PR_ERR_INVALID,
                              "%s: prefix of %zu bytes exceeds %u", uri, val_len,
                              PR__REDIS_PREFIX_MAX);
        free(cfg->prefix);
        if (!(cfg->prefix = dup_n(val, val_len)))
            return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", uri);
        cfg->prefix_len = val_len;
        break;
    default: /* OPT_GRACE */
        if (!parse_num(val, val_len, 0, PR__REDIS_GRACE_MAX, &v))
            return pr_err_set(err, PR_ERR_INVALID,
                              "%s: expire_grace_s '%.*s' is not a number of seconds in "
                              "0..%lld",
                              uri, (int)val_len, val, PR__REDIS_GRACE_MAX);
        cfg->expire_grace_s = v;
        break;
    }
    return PR_OK;
}

/* host ":" port ["/" db] in [a, a+n). */
static pr_status parse_tcp(const char *uri, const char *a, size_t n, unsigned *seen,
                           pr__redis_config *cfg, pr_err *err) {
    const char *host = a, *rest;
    size_t host_len;
    const char *end = a + n;
    long long v;

    if (memchr(a, '@', n))
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s: user:password@ is not supported (AUTH is not implemented)", uri);
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return pr_err_set(err, PR_ERR_INVALID, "%s: '[' of an IPv6 host has no ']'",
                              uri);
        host = a + 1;
        host_len = (size_t)(close - host);
        rest = close + 1;
    } else {
        host_len = 0;
        while (host_len < n && a[host_len] != ':' && a[host_len] != '/') host_len++;
        rest = a + host_len;
    }
    if (host_len == 0)
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s: expected HOST:PORT[/DB] or unix:PATH, the host is empty",
                          uri);
    for (size_t i = 0; i < host_len; i++)
        if (host[i] == '/' || host[i] == '[' || host[i] == ']' || (unsigned char)host[i] <= ' ')
            return pr_err_set(err, PR_ERR_INVALID,
                              "%s: host '%.*s' has a character not allowed in a host name",
                              uri, (int)host_len, host);
    if (rest >= end || *rest != ':')
        return pr_err_set(err, PR_ERR_INVALID, "%s: expected ':PORT' after host '%.*s'",
                          uri, (int)host_len, host);
    rest++;
    const char *slash = memchr(rest, '/', (size_t)(end - rest)); /* never in a stream's */
    size_t port_len = (size_t)((slash ? slash : end) - rest);
    if (!parse_num(rest, port_len, 1, 65535, &v))
        return pr_err_set(err, PR_ERR_INVALID, "%s: port '%.*s' is not a number in 1..65535",
                          uri, (int)port_len, rest);
    cfg->port = (int)v;
    if (slash) {
        size_t db_len = (size_t)(end - slash - 1);
        if (!parse_num(slash + 1, db_len, 0, INT32_MAX, &v))
            return pr_err_set(err, PR_ERR_INVALID,
                              "%s: database '%.*s' after '/' is not a number in 0..%d", uri,
                              (int)db_len, slash + 1, INT32_MAX);
        cfg->db = (int)v;
        *seen |= OPT_DB;
    }
    if (!(cfg->host = dup_n(host, host_len)))
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", uri);
    return PR_OK;
}

static const pr__redis_uri_spec store_spec = {"redis", 0, NULL, NULL, NULL};

pr_status pr__redis_config_parse(const char *arg, pr__redis_config *cfg, pr_err *err) {
    return pr__redis_config_parse_spec(&store_spec, arg, cfg, err);
}

/* A stream key: 1..PR__REDIS_KEY_MAX bytes, printable, none of '/' '?' '&'. */
static int key_ok(const char *k, size_t n) {
    if (n == 0 || n > PR__REDIS_KEY_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] <= ' ' || (unsigned char)k[i] >= 127 || k[i] == '/' ||
            k[i] == '?' || k[i] == '&')
            return 0;
    return 1;
}

pr_status pr__redis_config_parse_spec(const pr__redis_uri_spec *spec, const char *arg,
                                      pr__redis_config *cfg, pr_err *err) {
    pr_status st = PR_OK;
    const char *a = arg, *q;
    size_t addr_len, what_len = strlen(arg) + strlen(spec->scheme) + 32;
    unsigned seen = 0;
    char num[32];
    char *what = malloc(what_len);

    memset(cfg, 0, sizeof *cfg);
    if (!what) return pr_err_set(err, PR_ERR_NOMEM, "%s URI: out of memory", spec->scheme);
    snprintf(what, what_len, "%s '%s:%s'", spec->stream ? "log URI" : "store uri", spec->scheme, arg);
    cfg->connect_timeout_ms = PR__REDIS_CONNECT_TIMEOUT_MS;
    cfg->timeout_ms = spec->stream ? PR__REDIS_STREAM_TIMEOUT_MS : PR__REDIS_TIMEOUT_MS;
    cfg->expire_grace_s = -1;
    if (strncmp(a, "//", 2) == 0) a += 2;
    q = strchr(a, '?');
    addr_len = q ? (size_t)(q - a) : strlen(a);
    if (spec->stream) {
        /* ADDRESS "/" KEY: the key is after the last '/' (a socket path has
         * slashes of its own, a key has none). */
        const char *slash = NULL;
        for (size_t i = 0; i < addr_len; i++)
            if (a[i] == '/') slash = a + i;
        if (!slash) {
            st = pr_err_set(err, PR_ERR_INVALID,
                            "%s: expected HOST:PORT/KEY or unix:PATH/KEY, there is no '/KEY'", what);
            goto fail;
        }
        size_t key_len = addr_len - (size_t)(slash + 1 - a);
        if (!key_ok(slash + 1, key_len)) {
            st = pr_err_set(err, PR_ERR_INVALID,
                            "%s: stream key '%.*s' is not 1..%u printable bytes without '/', '?', '&' or "
                            "spaces",
                            what, (int)key_len, slash + 1, PR__REDIS_KEY_MAX);
            goto fail;
        }
        if (!(cfg->key = dup_n(slash + 1, key_len))) {
            st = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", what);
            goto fail;
        }
        cfg->key_len = key_len;
        addr_len = (size_t)(slash - a);
    }
    if (addr_len >= 5 && memcmp(a, "unix:", 5) == 0) {
        if (addr_len == 5) {
            st = pr_err_set(err, PR_ERR_INVALID, "%s: expected a socket path after 'unix:'", what);
            goto fail;
        }
        if (!(cfg->path = dup_n(a + 5, addr_len - 5))) {
            st = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", what);
            goto fail;
        }
    } else if ((st = parse_tcp(what, a, addr_len, &seen, cfg, err)) != PR_OK) {
        goto fail;
    }
    if (q) {
        const char *opt = q + 1;
        for (;;) {
            const char *amp = strchr(opt, '&');
            size_t n = amp ? (size_t)(amp - opt) : strlen(opt);
            if (n == 0) {
                st = pr_err_set(err, PR_ERR_INVALID, "%s: empty option after '%c'", what, opt[-1]);
                goto fail;
            }
            if ((st = parse_option(spec, what, opt, n, &seen, cfg, err)) != PR_OK) goto fail;
            if (!amp) break;
            opt = amp + 1;
        }
    }
    if (!cfg->prefix) {
        cfg->prefix_len = strlen(PR__REDIS_PREFIX_DEFAULT);
        cfg->prefix = dup_n(PR__REDIS_PREFIX_DEFAULT, cfg->prefix_len);
    }
    snprintf(num, sizeof num, "%d", cfg->port);
    {
        size_t len = 48 + (cfg->path ? strlen(cfg->path) : strlen(cfg->host)) + cfg->key_len;
        cfg->name = malloc(len);
        if (cfg->name && spec->stream) {
            if (cfg->path) snprintf(cfg->name, len, "redis-stream:unix:%s/%s", cfg->path, cfg->key);
            else if (strchr(cfg->host, ':'))
                snprintf(cfg->name, len, "redis-stream:[%s]:%s/%s", cfg->host, num, cfg->key);
            else snprintf(cfg->name, len, "redis-stream:%s:%s/%s", cfg->host, num, cfg->key);
        } else if (cfg->name) {
            if (cfg->path) snprintf(cfg->name, len, "redis:unix:%s", cfg->path);
            else if (strchr(cfg->host, ':')) snprintf(cfg->name, len, "redis://[%s]:%s/%d", cfg->host, num, cfg->db);
            else snprintf(cfg->name, len, "redis://%s:%s/%d", cfg->host, num, cfg->db);
        }
    }
    if (!cfg->prefix || !cfg->name) {
        st = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", what);
        goto fail;
    }
    free(what);
    return PR_OK;
fail:
    free(what);
    pr__redis_config_free(cfg);
    return st;
}
