/*
 * utf8.c: validating UTF-8 for XML and HTML text (utf8.h).
 */
#include <stdint.h>

#include "base/utf8.h"

size_t pr__utf8_xml_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;                                  /* overlong or out of range */
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;   /* surrogates */
    if (cp == 0xFFFE || cp == 0xFFFF) return 0;   /* not XML characters */
    return len;
}
