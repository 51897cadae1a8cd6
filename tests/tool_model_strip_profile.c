/*
 * tool_model_strip_profile.c: `tool_model_strip_profile IN OUT` writes IN's
 * model without its reference profile section, as pronto wrote model files
 * before profiles existed (tests/cli_monitor_serve.sh serves one: drift off).
 */
#include <stdio.h>

#include "pronto/model.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tool_model_strip_profile IN OUT\n");
        return 2;
    }
    pr_err err;
    pr_err_clear(&err);
    pr_model *m = NULL;
    if (pr_model_load(argv[1], &m, &err) != PR_OK ||
        pr_model_set_profile_bytes(m, NULL, 0, &err) != PR_OK ||
        pr_model_save(m, argv[2], &err) != PR_OK) {
        fprintf(stderr, "tool_model_strip_profile: %s\n", err.msg);
        pr_model_free(m);
        return 1;
    }
    pr_model_free(m);
    return 0;
}
