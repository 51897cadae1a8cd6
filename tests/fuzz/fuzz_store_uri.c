/*
 * fuzz_store_uri.c: no text after "redis:" may crash, hang or leak the
 * redis: URI parser (src/store/store_redis_uri.c). The parser is called
 * directly, so no connection is ever attempted. A refusal must carry a
 * message; an acceptance must give a usable config (an address, timeouts in
 * range, a name for messages).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_redis_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *arg = malloc(size + 1);
    pr__redis_config cfg;
    pr_err err;
    if (!arg) return 0;
    if (size) memcpy(arg, data, size);
    arg[size] = '\0'; /* an embedded NUL just ends the URI early */
    if (pr__redis_config_parse(arg, &cfg, &err) == PR_OK) {
        if (!cfg.name || !cfg.prefix || (!cfg.host == !cfg.path)) abort();
        if (cfg.host && (cfg.port < 1 || cfg.port > 65535 || !cfg.host[0])) abort();
        if (cfg.timeout_ms < 1 || cfg.connect_timeout_ms < 1 || cfg.db < 0) abort();
        if (strlen(cfg.prefix) != cfg.prefix_len || cfg.prefix_len > PR__REDIS_PREFIX_MAX) abort();
        pr__redis_config_free(&cfg);
    } else if (!err.msg[0] || err.status == PR_OK) {
        abort();
    }
    free(arg);
    return 0;
}
