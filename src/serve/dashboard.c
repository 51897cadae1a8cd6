/*
 * dashboard.c: GET /dashboard, one self-contained HTML page (inline CSS
 * and a plain script drawing SVG: no framework, no font, no request but
 * its own polls of GET /v1/monitor and GET /v1/model). The page's source
 * is src/serve/dashboard.html, compiled in by CMakeLists.txt
 * (pr__dashboard_html); what it shows: docs/monitoring.md "Dashboard".
 *
 * Each answer carries a Content-Security-Policy that allows nothing but
 * the page's own <style> and <script> (a nonce, fresh per answer: 16 bytes
 * from getrandom, put where the page says @NONCE@) and fetches from the
 * server itself: default-src 'none', so an injected element, an inline
 * event handler or a request elsewhere is refused by the browser.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "serve/serve_int.h"

const char *pr__dashboard_html(void); /* generated from dashboard.html */

#define NONCE_MARK "@NONCE@"

/* 16 random bytes as base64 (24 characters and the NUL) into out. */
static void make_nonce(char out[25]) {
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t r[18] = {0}; /* 16 used, 2 padding bytes: 6 groups of 3 */
    if (getrandom(r, 16, GRND_NONBLOCK) != 16) {
        /* no entropy yet (early boot): the clock, mixed; a nonce must only
         * be unguessable to a page's injected markup, which cannot see it */
        uint64_t x = pr__mono_ns() ^ ((uint64_t)time(NULL) << 32) ^ 0x9e3779b97f4a7c15ull;
        for (int i = 0; i < 16; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            r[i] = (uint8_t)x;
        }
    }
    for (int g = 0; g < 6; g++) {
        uint32_t v = (uint32_t)r[3 * g] << 16 | (uint32_t)r[3 * g + 1] << 8 | r[3 * g + 2];
        for (int k = 0; k < 4; k++) out[4 * g + k] = b64[(v >> (18 - 6 * k)) & 63];
    }
    out[22] = out[23] = '='; /* 16 bytes: two padding characters */
    out[24] = '\0';
}

const char *pr__handle_dashboard(pr_server *s, unsigned *status, pr__tb *out, char *csp,
                                 size_t cap) {
    (void)s;
    char nonce[25];
    make_nonce(nonce);
    const char *p = pr__dashboard_html(), *m;
    while ((m = strstr(p, NONCE_MARK))) {
        pr__tb_put(out, p, (size_t)(m - p));
        pr__tb_puts(out, nonce);
        p = m + strlen(NONCE_MARK);
    }
    pr__tb_puts(out, p);
    snprintf(csp, cap,
             "default-src 'none'; script-src 'nonce-%s'; style-src 'nonce-%s'; "
             "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
             "frame-ancestors 'none'",
             nonce, nonce);
    *status = 200;
    return "text/html; charset=utf-8";
}
