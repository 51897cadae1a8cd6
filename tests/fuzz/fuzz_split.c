/*
 * fuzz_split.c: no text may crash, hang or overrun the --split parser
 * (pr_server_split_parse, src/serve/split.c). A refusal must carry a
 * message and report no arms; an acceptance must keep the promises of
 * serve.h: 1..16 arms, alias names of 1..64 of [A-Za-z0-9_-] each named
 * once, weights >= 1 summing to at most 10000, and the arms' bucket bounds
 * increasing to 10000 with every arm owning at least one bucket.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *arg = malloc(size + 1);
    pr_server_arm arms[PR_SERVER_ARMS_MAX];
    pr__arm *b = calloc(PR_SERVER_ARMS_MAX, sizeof *b);
    uint32_t n = 99;
    pr_err err;
    if (!arg || !b) abort();
    if (size) memcpy(arg, data, size);
    arg[size] = '\0';
    if (pr_server_split_parse(arg, arms, &n, &err) == PR_OK) {
        uint32_t sum = 0;
        if (n < 1 || n > PR_SERVER_ARMS_MAX) abort();
        for (uint32_t i = 0; i < n; i++) {
            size_t len = strlen(arms[i].alias);
            if (len < 1 || len > 64 || arms[i].weight < 1) abort();
            for (size_t k = 0; k < len; k++)
                if (!isalnum((unsigned char)arms[i].alias[k]) && arms[i].alias[k] != '_' &&
                    arms[i].alias[k] != '-')
                    abort();
            for (uint32_t j = 0; j < i; j++)
                if (!strcmp(arms[i].alias, arms[j].alias)) abort();
            sum += arms[i].weight;
            b[i].weight = arms[i].weight;
        }
        if (sum > PR__SPLIT_BUCKETS) abort();
        pr__split_bounds(b, n);
        for (uint32_t i = 0; i < n; i++)
            if (b[i].bound <= (i ? b[i - 1].bound : 0)) abort();
        if (b[n - 1].bound != PR__SPLIT_BUCKETS) abort();
    } else if (!err.msg[0] || err.status == PR_OK || n != 0) {
        abort();
    }
    free(b);
    free(arg);
    return 0;
}
