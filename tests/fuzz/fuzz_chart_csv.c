/*
 * fuzz_chart_csv.c: `pronto plot`'s path on arbitrary bytes: CSV columns
 * x, a, b loaded into a chart (pr_chart_load_csv_mem), which is then
 * rendered. The first byte picks the x kind (auto, number, s, ms) and
 * whether the title and a marker carry the input's bytes too. Promises
 * checked: an error message starts with the input's name and the chart
 * is then not rendered; a loaded chart renders, into a document that
 * starts with the XML declaration, ends with "</svg>\n", is valid UTF-8
 * without control bytes other than '\n', has one path.series per series,
 * and never contains "nan" or "inf" (coordinates are always finite).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/chart.h"

#define FUZZ_NAME "fuzz.csv"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok) {
    if (!ok) abort();
}

static int valid_utf8_no_controls(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\n') return 0;
            i++;
            continue;
        }
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (len == 0 || c > 0xF4 || i + len > n) return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        i += len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t b = size > 0 ? data[0] : 0;
    const uint8_t *csv = size > 0 ? data + 1 : data;
    size_t n = size > 0 ? size - 1 : 0;
    static const char *const ys[] = {"a", "b"};
    pr_chart_csv_opts o = {"x", ys, 2, (pr_chart_csv_x)(b & 3)};
    pr_err err;
    pr_chart *c = NULL;
    fuzz_check(pr_chart_new(&c, &err) == PR_OK);
    if (b & 4) {
        /* the input's first bytes as text: escaping must hold */
        char text[64];
        size_t k = n < sizeof text - 1 ? n : sizeof text - 1;
        memcpy(text, csv, k);
        text[k] = 0;
        fuzz_check(pr_chart_set_title(c, text, &err) == PR_OK);
        fuzz_check(pr_chart_add_marker(c, (double)(b >> 3), text, &err) == PR_OK);
    }
    pr_status s = pr_chart_load_csv_mem(c, csv, n, FUZZ_NAME, &o, &err);
    if (s != PR_OK) {
        fuzz_check(strncmp(err.msg, FUZZ_NAME, strlen(FUZZ_NAME)) == 0);
        pr_chart_free(c);
        return 0;
    }
    fuzz_check(pr_chart_n_series(c) == 2);
    char *svg = NULL;
    size_t len = 0;
    fuzz_check(pr_chart_render_svg(c, &svg, &len, &err) == PR_OK);
    fuzz_check(len == strlen(svg));
    fuzz_check(len > 14 && memcmp(svg, "<?xml", 5) == 0 && !strcmp(svg + len - 7, "</svg>\n"));
    fuzz_check(valid_utf8_no_controls((const unsigned char *)svg, len));
    size_t paths = 0;
    for (const char *p = svg; (p = strstr(p, "class=\"series\"")) != NULL; p++) paths++;
    fuzz_check(paths == 2);
    /* the numbers in the drawing are finite (text comes escaped, so the
     * words can only come from a title or marker: not set without bit 2) */
    if (!(b & 4)) fuzz_check(!strstr(svg, "nan") && !strstr(svg, "inf"));
    free(svg);
    pr_chart_free(c);
    return 0;
}
