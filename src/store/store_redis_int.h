/*
 * store_redis_int.h: what the redis: backend's files share. The URI is
 * parsed by store_redis_uri.c into a pr__redis_config that store_redis.c
 * connects with; the parser is apart so the fuzz target can reach it
 * without a server.
 */
#ifndef PRONTO_STORE_REDIS_INT_H
#define PRONTO_STORE_REDIS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"

#define PR__REDIS_CONNECT_TIMEOUT_MS 200
#define PR__REDIS_TIMEOUT_MS 100
#define PR__REDIS_TIMEOUT_MS_MAX 600000
#define PR__REDIS_PREFIX_DEFAULT "pronto:"
#define PR__REDIS_PREFIX_MAX 256u
/* Largest expire_grace_s: ten years. */
#define PR__REDIS_GRACE_MAX (10ll * 366 * 86400)

typedef struct pr__redis_config {
    char *host;              /* TCP host without brackets, or NULL (unix) */
    int port;                /* 1..65535 with host */
    char *path;              /* unix socket path, or NULL (TCP) */
    int db;                  /* 0.. INT32_MAX */
    char *prefix;            /* NUL-terminated, may be "" */
    size_t prefix_len;
    int connect_timeout_ms;  /* 1..PR__REDIS_TIMEOUT_MS_MAX */
    int timeout_ms;          /* 1..PR__REDIS_TIMEOUT_MS_MAX */
    int64_t expire_grace_s;  /* -1: no native expiry; else 0..GRACE_MAX */
    char *name;              /* "redis://HOST:PORT/DB" or "redis:unix:PATH",
                              * for messages */
} pr__redis_config;

/* Parses the URI text after "redis:" (borrowed). On success fills *cfg,
 * owned by caller (free with pr__redis_config_free); on failure *cfg holds
 * nothing to free and err names the URI and the offending part. */
pr_status pr__redis_config_parse(const char *arg, pr__redis_config *cfg, pr_err *err);
/* Frees what cfg owns; accepts a zeroed or already freed config. */
void pr__redis_config_free(pr__redis_config *cfg);

#endif
