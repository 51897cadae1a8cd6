/*
 * fuzz_logged_row.c: the logged feature rows (pr_fs_logged, the features
 * records of docs/log.md) on arbitrary bytes. The input is split into
 * lines; each is added as a features record's payload, then looked up as
 * an impression line. 70 columns (two key sets of the JSON scanner), the
 * candidate key "ad_id". Checked: no crash or leak; a row found has every
 * column's text either empty or present in the row; the counts add up
 * (rows + duplicates + bad = records).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/fstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCOLS 70

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char names[NCOLS][16];
    static const char *cols[NCOLS];
    for (int c = 0; c < NCOLS; c++) {
        snprintf(names[c], sizeof names[c], c == 0 ? "ad_id" : c == 1 ? "user.age" : "c%d", c);
        cols[c] = names[c];
    }
    pr_err err;
    pr_fs_logged *l = NULL;
    if (pr_fs_logged_new(cols, NCOLS, "ad_id", &l, &err) != PR_OK) abort();
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        pr_status rc = pr_fs_logged_add(l, pr_bytes_of(p, n), &err);
        if (rc != PR_OK && rc != PR_ERR_PARSE) abort();
        pr_arena_reset(&arena);
        const uint8_t *present = NULL;
        const pr_bytes *vals = pr_fs_logged_find(l, p, n, &arena, &present);
        if (vals)
            for (int c = 0; c < NCOLS; c++)
                if (vals[c].len && !present[c]) abort();
        p += n + 1;
    }
    pr_fs_logged_stats st;
    pr_fs_logged_stats_get(l, &st);
    if (st.rows + st.duplicates + st.bad != st.records) abort();
    pr_arena_free(&arena);
    pr_fs_logged_free(l);
    return 0;
}
