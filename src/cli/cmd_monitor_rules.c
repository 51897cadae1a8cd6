/*
 * cmd_monitor_rules.c: `pronto monitor check-rules [FILE]`: reads alert
 * rules (a monitors.yaml, or a spec with a `monitors:` block; no FILE: the
 * built-in defaults), reports the first error as file:line:col: path, and
 * prints the rules as a table, or with --yaml as the canonical rules file
 * (every key spelled out). Exit 1 when the file is wrong, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/flags.h"
#include "pronto/alert.h"

static void duration(char *buf, size_t cap, int64_t ms) {
    if (ms && ms % 3600000 == 0)
        snprintf(buf, cap, "%lldh", (long long)(ms / 3600000));
    else if (ms && ms % 60000 == 0)
        snprintf(buf, cap, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, cap, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, cap, "%lldms", (long long)ms);
}

int cmd_monitor_check_rules(const char *sub, int argc, char **argv) {
    static const char usage[] =
        "[FILE] [--yaml]\n\n"
        "Checks alert rules: FILE is a monitors.yaml or a feature spec with a\n"
        "`monitors:` block (docs/monitoring.md, \"Alerts\"); without FILE, the\n"
        "built-in defaults. Prints one line per rule, or the canonical YAML.";
    int as_yaml = 0;
    pr_flag flags[] = {{"--yaml", NULL, PR_FLAG_BOOL, &as_yaml,
                        "print the rules as a canonical monitors.yaml", 0}};
    char *pos[1];
    int n_pos = 0;
    int rc = pr_flags_parse("monitor check-rules", usage, flags, 1, argc, argv, pos, 1, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    pr_err err;
    pr_err_clear(&err);
    pr_alert_rules *r = NULL;
    pr_status s = n_pos ? pr_alert_rules_load(pos[0], &r, &err) : pr_alert_rules_default(&r, &err);
    if (s != PR_OK) {
        fprintf(stderr, "pronto monitor %s: %s\n", sub, err.msg);
        return PR_EXIT_FAIL;
    }
    if (as_yaml) {
        char *text = NULL;
        if (pr_alert_rules_to_yaml(r, &text, NULL, &err) != PR_OK) {
            fprintf(stderr, "pronto monitor %s: %s\n", sub, err.msg);
            pr_alert_rules_free(r);
            return PR_EXIT_FAIL;
        }
        fputs(text, stdout);
        free(text);
    } else {
        printf("%-20s %-14s %-24s %-6s %-20s %-5s %-5s %-6s %-8s %s\n", "name", "metric",
               "field/arm/version", "window", "condition", "for", "keep", "min_n", "severity",
               "retrain");
        for (size_t i = 0; i < r->n; i++) {
            const pr_alert_rule *u = &r->rules[i];
            char labels[3 * PR_ALERT_LABEL_MAX + 8], cond[96], f[32], k[32];
            snprintf(labels, sizeof labels, "%s/%s/%s", u->field[0] ? u->field : "\"\"",
                     u->arm[0] ? u->arm : "\"\"", u->version[0] ? u->version : "\"\"");
            if (u->op == PR_ALERT_OP_OUTSIDE)
                snprintf(cond, sizeof cond, "outside [%g, %g]", u->threshold, u->threshold_hi);
            else
                snprintf(cond, sizeof cond, "%s %g", pr_alert_op_str(u->op), u->threshold);
            duration(f, sizeof f, u->for_ms);
            duration(k, sizeof k, u->keep_firing_ms);
            printf("%-20s %-14s %-24s %-6s %-20s %-5s %-5s %-6llu %-8s %s\n", u->name, u->metric,
                   labels, u->window, cond, f, k, (unsigned long long)u->min_n,
                   pr_alert_severity_str(u->severity), u->retrain ? "yes" : "no");
        }
        printf("%zu rules ok\n", r->n);
    }
    pr_alert_rules_free(r);
    return PR_EXIT_OK;
}
