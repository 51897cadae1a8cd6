/*
 * store_redis_io.c: reading a pipeline's replies, shared by the redis:
 * store (store_redis.c) and the redis-stream: log (src/log/log_redis.c),
 * which differ only in how they name themselves in messages and what they
 * do with a lost connection.
 */
#include <string.h>

#include "store/store_redis_int.h"

int pr__redis_read_replies(redisContext *c, size_t n, redisReply **last, char *errbuf,
                           size_t errcap, int *saved_errno) {
    sigpipe_guard g;
    *last = NULL;
    if (errcap) errbuf[0] = '\0';
    int failed_reply = 0;
    sigpipe_block(&g);
    for (size_t i = 0; i < n; i++) {
        void *p = NULL;
        if (redisGetReply(c, &p) != REDIS_OK) {
            *saved_errno = errno;
            sigpipe_restore(&g, 1);
            if (*last) freeReplyObject(*last);
            *last = NULL;
            return -1;
        }
        redisReply *rep = p;
        if (rep->type == REDIS_REPLY_ERROR && !failed_reply) {
            failed_reply = 1;
            if (errcap) snprintf(errbuf, errcap, "%.*s", (int)rep->len, rep->str);
        }
        if (i + 1 == n) *last = rep;
        else freeReplyObject(rep);
    }
    sigpipe_restore(&g, 0);
    if (failed_reply && *last) {
        freeReplyObject(*last);
        *last = NULL;
    }
    return 0;
}
