/*
 * fuzz_learn_checkpoint.c: the learner's checkpoint parser
 * (pr_learn_ckpt_parse, src/ct/learn_ckpt.c) on arbitrary bytes. Checked:
 * no crash or leak; an accepted checkpoint keeps its promises (ids and
 * position NUL-terminated within their buffers, positives <= n, at most 64
 * own versions, a finite ll_sum >= 0) and formats back to a text that
 * parses to the same values.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/learn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pr_learn_ckpt c, d;
    pr_err err;
    pr_status s = pr_learn_ckpt_parse((const char *)data, size, "fuzz", &c, &err);
    if (s != PR_OK) {
        if (s != PR_ERR_FORMAT && s != PR_ERR_VERSION) abort();
        return 0;
    }
    if (memchr(c.version, 0, sizeof c.version) == NULL || memchr(c.pos, 0, sizeof c.pos) == NULL ||
        c.positives > c.n || c.n_own > 64 || !isfinite(c.ll_sum) || c.ll_sum < 0 || !c.version[0])
        abort();
    char *text = pr_learn_ckpt_format(&c);
    if (!text) abort();
    if (pr_learn_ckpt_parse(text, strlen(text), "again", &d, &err) != PR_OK) abort();
    if (strcmp(c.version, d.version) || strcmp(c.pos, d.pos) || c.examples != d.examples ||
        c.n != d.n || c.ll_sum != d.ll_sum || c.n_own != d.n_own ||
        c.next_publish_ms != d.next_publish_ms || c.flushed != d.flushed ||
        c.learn_from_ms != d.learn_from_ms)
        abort();
    free(text);
    return 0;
}
