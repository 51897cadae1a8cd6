/*
 * utf8.h: validating UTF-8 for text written into XML and HTML (the SVG
 * charts, the drift report). Internal to the library.
 */
#ifndef PRONTO_BASE_UTF8_H
#define PRONTO_BASE_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at s (n >= 1 bytes left), or 0
 * when it is invalid: overlong forms, surrogates, above U+10FFFF, and the
 * non-characters U+FFFE and U+FFFF (not XML characters). ASCII is 1;
 * control characters are the caller's business. */
size_t pr__utf8_xml_len(const unsigned char *s, size_t n);

#endif
