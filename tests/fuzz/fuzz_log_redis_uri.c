/*
 * fuzz_log_redis_uri.c: no text after "redis-stream:" may crash, hang or
 * leak the event log's redis-stream: URI parser (the store's grammar in
 * src/store/store_redis_uri.c plus the log's options in
 * src/log/log_redis.c). No connection is attempted. A refusal must carry a
 * message; an acceptance is checked inside pr__log_redis_uri_check (a key,
 * a name, options in range; it aborts otherwise).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/log_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *arg = malloc(size + 1);
    pr_err err;
    if (!arg) return 0;
    if (size) memcpy(arg, data, size);
    arg[size] = '\0'; /* an embedded NUL just ends the URI early */
    if (pr__log_redis_uri_check(arg, &err) != PR_OK && (!err.msg[0] || err.status == PR_OK)) abort();
    free(arg);
    return 0;
}
