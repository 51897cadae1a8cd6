/*
 * split.c: `--split ALIAS:WEIGHT,...`: the text of a split, and which arm
 * a request goes to.
 *
 * A request's arm is chosen by its split key (the value of the request
 * column --split-key, default user_id, as text: 17 and "17" are the same
 * user; a request without one uses its request_id): bucket =
 * xxh3(key, PR__SPLIT_SEED) mod PR__SPLIT_BUCKETS, and the arms own
 * consecutive ranges of buckets in the order the split names them, arm i
 * up to bound_i = (w_0 + ... + w_i) * PR__SPLIT_BUCKETS / (sum of weights)
 * (integer division). So the same user always gets the same arm while the
 * split is unchanged, the shares are the weights' (to 1/10000: the sum is
 * at most 10000, so every arm owns at least one bucket), and changing the
 * weights moves only the users whose buckets change hands at the bounds
 * that moved (90/10 -> 80/20 moves buckets 8000..8999 to the second arm,
 * nobody else).
 *
 * Ownership: nothing allocated; the parser writes into the caller's array.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "serve/serve_int.h"

static int alias_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

pr_status pr_server_split_parse(const char *text, pr_server_arm *arms, uint32_t *n, pr_err *err) {
    *n = 0;
    if (!text || !*text) return pr_err_set(err, PR_ERR_INVALID, "empty split: expected ALIAS:WEIGHT[,ALIAS:WEIGHT...]");
    const char *p = text;
    uint32_t k = 0, sum = 0;
    for (;;) {
        const char *a = p;
        while (alias_char(*p)) p++;
        size_t alen = (size_t)(p - a);
        uint32_t arm = k + 1;
        if (alen == 0)
            return pr_err_set(err, PR_ERR_INVALID,
                              "arm %u: expected an alias name (1..64 of A-Z a-z 0-9 _ -), got '%.20s'",
                              arm, p);
        if (alen > 64)
            return pr_err_set(err, PR_ERR_INVALID, "arm %u: alias name longer than 64 characters",
                              arm);
        if (*p != ':')
            return pr_err_set(err, PR_ERR_INVALID,
                              "arm %u (%.*s): expected ':WEIGHT' after the alias, got '%.20s'", arm,
                              (int)alen, a, p);
        p++;
        if (*p == '-')
            return pr_err_set(err, PR_ERR_INVALID, "arm %u (%.*s): weight must be >= 1", arm,
                              (int)alen, a);
        if (!isdigit((unsigned char)*p))
            return pr_err_set(err, PR_ERR_INVALID,
                              "arm %u (%.*s): expected an integer weight, got '%.20s'", arm,
                              (int)alen, a, p);
        uint64_t w = 0;
        while (isdigit((unsigned char)*p)) {
            w = w * 10 + (uint64_t)(*p - '0');
            if (w > PR__SPLIT_BUCKETS)
                return pr_err_set(err, PR_ERR_INVALID,
                                  "arm %u (%.*s): weight over %u", arm, (int)alen, a,
                                  PR__SPLIT_BUCKETS);
            p++;
        }
        if (w == 0)
            return pr_err_set(err, PR_ERR_INVALID, "arm %u (%.*s): weight must be >= 1", arm,
                              (int)alen, a);
        if (*p != ',' && *p != '\0')
            return pr_err_set(err, PR_ERR_INVALID,
                              "arm %u (%.*s): expected ',' or the end after the weight, got '%.20s'",
                              arm, (int)alen, a, p);
        if (k == PR_SERVER_ARMS_MAX)
            return pr_err_set(err, PR_ERR_INVALID, "more than %d arms", PR_SERVER_ARMS_MAX);
        for (uint32_t j = 0; j < k; j++)
            if (strlen(arms[j].alias) == alen && !memcmp(arms[j].alias, a, alen))
                return pr_err_set(err, PR_ERR_INVALID, "arm %u: alias '%.*s' is named twice", arm,
                                  (int)alen, a);
        sum += (uint32_t)w;
        if (sum > PR__SPLIT_BUCKETS)
            return pr_err_set(err, PR_ERR_INVALID,
                              "the weights sum to more than %u (shares are weight / sum)",
                              PR__SPLIT_BUCKETS);
        memcpy(arms[k].alias, a, alen);
        arms[k].alias[alen] = '\0';
        arms[k].weight = (uint32_t)w;
        k++;
        if (*p == '\0') break;
        p++; /* ',' */
    }
    *n = k;
    return PR_OK;
}

void pr__split_bounds(pr__arm *arms, uint32_t n) {
    uint64_t total = 0, cum = 0;
    for (uint32_t i = 0; i < n; i++) total += arms[i].weight;
    for (uint32_t i = 0; i < n; i++) {
        cum += arms[i].weight;
        arms[i].bound = total ? (uint32_t)(cum * PR__SPLIT_BUCKETS / total) : PR__SPLIT_BUCKETS;
    }
}

uint32_t pr__split_bucket(pr_bytes key) {
    return (uint32_t)(pr_hash64(key.ptr, key.len, PR__SPLIT_SEED) % PR__SPLIT_BUCKETS);
}

uint32_t pr__split_choose(const pr_server *s, const pr__predict_req *q) {
    if (s->n_arms <= 1) return 0;
    pr_bytes key = s->split_col != UINT32_MAX ? q->base[s->split_col] : (pr_bytes){NULL, 0};
    if (!key.len) key = q->request_id;
    uint32_t b = pr__split_bucket(key);
    for (uint32_t i = 0; i + 1 < s->n_arms; i++)
        if (b < s->arms[i].bound) return i;
    return s->n_arms - 1;
}
