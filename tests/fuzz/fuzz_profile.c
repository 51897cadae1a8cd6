/*
 * fuzz_profile.c: pr_profile_decode (the model file's profile section) on
 * arbitrary bytes must return an error or a valid profile, never crash or
 * leak. A profile that decodes is then used the way a server and `inspect`
 * would: rendered both ways, re-encoded (it must decode again to the same
 * bytes), and given a live set whose values and scores are compared with
 * it (drift statistics must come out finite).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pr_profile *p = NULL;
    pr_err err;
    if (pr_profile_decode(data, size, "fuzz", &p, &err) != PR_OK) {
        if (p || err.msg[0] == '\0') abort();   /* failures must explain */
        return 0;
    }
    char *text = NULL;
    if (pr_profile_render(p, 0, &text, &err) == PR_OK) free(text);
    if (pr_profile_render(p, 1, &text, &err) == PR_OK) free(text);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (pr_profile_encode(p, &bytes, &len, &err) == PR_OK) {
        pr_profile *q = NULL;
        if (pr_profile_decode(bytes, len, "again", &q, &err) != PR_OK) abort();
        pr_profile_free(q);
        free(bytes);
    }
    pr_live *l = NULL;
    if (pr_live_new(p, &l, &err) == PR_OK) {
        static const char *vals[] = {"", "0", "1.5", "-3", "nan", "inf", "1e308", "abc", "x"};
        for (uint32_t c = 0; c < pr_profile_n_columns(p); c++)
            for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
                pr_live_add_value(l, c, vals[i], strlen(vals[i]));
        pr_live_add_score(l, 0.3);
        pr_live_add_score(l, NAN);
        for (uint32_t c = 0; c <= pr_profile_n_columns(p); c++) {
            const pr_sketch *ref = c < pr_profile_n_columns(p) ? pr_profile_column(p, c)
                                                               : pr_profile_prediction(p);
            const pr_sketch *live = c < pr_profile_n_columns(p) ? pr_live_column(l, c)
                                                                : pr_live_prediction(l);
            pr_drift d;
            if (pr_drift_compute(ref, live, &d, &err) != PR_OK) abort();
            const char *names[PR_DRIFT_N_STATS];
            double v[PR_DRIFT_N_STATS];
            int k = pr_drift_samples(&d, names, v);
            for (int i = 0; i < k; i++)
                if (!isfinite(v[i])) abort();
        }
        pr_live_free(l);
    }
    pr_profile_free(p);
    return 0;
}
