/*
 * test_retrain.c: the pure parts of retrain.h: the --calibration range
 * parser, and the last move of an alias read from a registry history as
 * the probation check reads it (the predecessor is what
 * pr_registry_rollback would return to: checked against a real registry
 * after moves and rollbacks; the time is a retrain gate line's cycle time
 * when one follows the move). The cycle itself: tests/cli_retrain.sh.
 */
#include <math.h>

#include "pronto/model.h"
#include "pronto/retrain.h"
#include "test.h"

TEST(parse_range) {
    pr_err err;
    double lo, hi;
    ASSERT_OK(pr_retrain_parse_range("0.8,1.25", &lo, &hi, &err));
    ASSERT_NEAR(lo, 0.8, 1e-12);
    ASSERT_NEAR(hi, 1.25, 1e-12);
    ASSERT_OK(pr_retrain_parse_range("1,1", &lo, &hi, &err));
    const char *bad[] = {"", "1", "1,", ",1", "2,1", "0,1", "-1,1", "1,inf", "nan,1", "1,2x",
                         "1;2", "1,2,3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        if (pr_retrain_parse_range(bad[i], &lo, &hi, &err) == PR_OK) TEST_FAIL("accepted '%s'", bad[i]);
        ASSERT_TRUE(err.msg[0] != '\0');
    }
}

static void make_model(const char *path, int seed) {
    pr_err err;
    pr_model_params p;
    pr_model_params_default(&p, PR_MODEL_KIND_LR);
    p.hash_bits = 6;
    p.seed = (uint64_t)seed;
    pr_model *m;
    ASSERT_OK(pr_model_new(&p, &m, &err));
    ASSERT_OK(pr_model_save(m, path, &err));
    pr_model_free(m);
}

static void last_move(pr_registry *r, pr_retrain_move *mv) {
    pr_err err;
    char *h;
    size_t n;
    ASSERT_OK(pr_registry_history(r, &h, &n, &err));
    ASSERT_OK(pr_retrain_last_move(h, n, "production", mv, &err));
    free(h);
}

TEST(last_move_follows_the_registry) {
    pr_err err;
    pr_registry *r;
    make_model(test_path("m.pm"), 1);
    ASSERT_OK(pr_registry_open(test_path("reg"), PR_REGISTRY_CREATE, &r, &err));
    char *h;
    size_t n;
    pr_retrain_move mv;
    ASSERT_OK(pr_registry_history(r, &h, &n, &err));
    ASSERT_STATUS(pr_retrain_last_move(h, n, "production", &mv, &err), PR_ERR_NOTFOUND);
    ASSERT_CONTAINS(err.msg, "production");
    free(h);
    char id[4][PR_REGISTRY_ID_MAX], back[PR_REGISTRY_ID_MAX];
    for (int i = 0; i < 4; i++) ASSERT_OK(pr_registry_register(r, test_path("m.pm"), NULL, id[i], &err));
    ASSERT_OK(pr_registry_set_alias(r, "production", id[0], "one", 0, &err));
    last_move(r, &mv);
    ASSERT_EQ_STR(mv.op, "alias");
    ASSERT_EQ_STR(mv.version, id[0]);
    ASSERT_EQ_STR(mv.previous, "");
    ASSERT_OK(pr_registry_set_alias(r, "production", id[1], "two", 0, &err));
    ASSERT_OK(pr_registry_set_alias(r, "other", id[3], "elsewhere", 0, &err));
    ASSERT_OK(pr_registry_set_alias(r, "production", id[2], "three", 0, &err));
    /* A retrain gate line after the move gives the cycle's time. */
    ASSERT_OK(pr_registry_note(r, "gate", id[2], "promoted: test",
                               "{\"decision\":\"promoted\",\"alias\":\"production\",\"at_ms\":1704067200000}",
                               &err));
    last_move(r, &mv);
    ASSERT_EQ_STR(mv.version, id[2]);
    ASSERT_EQ_STR(mv.previous, id[1]);
    ASSERT_EQ_INT(mv.at_from_gate, 1);
    ASSERT_TRUE(mv.at_ms == 1704067200000LL);
    /* The predecessor is where a rollback goes; after one, the last move
     * is the rollback and its predecessor the one before. */
    ASSERT_OK(pr_registry_rollback(r, "production", "test", back, &err));
    ASSERT_EQ_STR(back, id[1]);
    last_move(r, &mv);
    ASSERT_EQ_STR(mv.op, "rollback");
    ASSERT_EQ_STR(mv.version, id[1]);
    ASSERT_EQ_STR(mv.previous, id[0]);
    ASSERT_EQ_INT(mv.at_from_gate, 0);
    ASSERT_TRUE(mv.at_ms > 1700000000000LL); /* the history's clock */
    ASSERT_OK(pr_registry_set_alias(r, "production", id[3], "four", 0, &err));
    last_move(r, &mv);
    ASSERT_EQ_STR(mv.previous, id[1]);
    ASSERT_OK(pr_registry_rollback(r, "production", "test", back, &err));
    ASSERT_EQ_STR(back, mv.previous);
    pr_registry_close(r);
    /* Lines that do not parse are skipped, a torn one too. */
    const char *text = "garbage\n{\"op\":\"alias\",\"alias\":\"production\",\"version\":\"v000007\",\"time\":5}\n"
                       "[]\n{\"op\":\"alias\",\"alias\":\"production\",\"vers";
    ASSERT_OK(pr_retrain_last_move(text, strlen(text), "production", &mv, &err));
    ASSERT_EQ_STR(mv.version, "v000007");
    ASSERT_TRUE(mv.at_ms == 5000);
}

int main(void) {
    RUN(parse_range);
    RUN(last_move_follows_the_registry);
    TEST_MAIN_END();
}
