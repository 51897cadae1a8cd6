/*
 * alert_int.h: what the alert files (alert_rules.c, alert_yaml.c,
 * alert.c, alert_json.c) share and nobody else needs.
 */
#ifndef PRONTO_ALERT_INT_H
#define PRONTO_ALERT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/alert.h"

/* A rules document is at most this large. */
#define PR__ALERT_YAML_MAX ((size_t)1 << 20)

/* Window name -> its length in ms; 0 if it is not "1m", "5m" or "1h". */
int64_t pr__alert_window_ms(const char *w, size_t len);
/* 1 if s[0..len) is a rule name: 1..63 of [A-Za-z0-9_.-]. */
int pr__alert_name_ok(const char *s, size_t len);
/* The stale_ms a rule gets when the file says nothing: twice the window. */
int64_t pr__alert_default_stale(int64_t window_ms);
/* 1 if value meets the rule's condition (NaN never does). */
int pr__alert_holds(const pr_alert_rule *r, double value);
/* Copies src (NUL-terminated) into dst of cap bytes; 0 if it did not fit. */
int pr__alert_copy(char *dst, size_t cap, const char *src);

#endif
