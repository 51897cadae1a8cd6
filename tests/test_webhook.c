/*
 * test_webhook.c: the alert webhook (pr_webhook, alert.h) against a real
 * HTTP receiver on loopback that this test runs in a thread of its own:
 * it accepts one connection at a time, reads a POST (headers and a
 * Content-Length body), records the body and answers with the next status
 * of its script, or hangs (holds the connection unanswered) when told.
 *
 * Checked: the delivered JSON of a transition that pr_alerts_eval made;
 * 500 then 200 retried and delivered once; a refused port retried, then
 * counted failed; a hanging receiver timed out and counted; and, by
 * structure rather than by timing, that posting never waits for the
 * network: with the sender stuck inside a request the receiver holds, an
 * eval and queue_max + 3 posts return while that request is still
 * unanswered, and exactly the 3 oldest queued documents are dropped.
 * Waits are condition waits with generous failsafe deadlines; no
 * assertion depends on how long anything took.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pronto/alert.h"
#include "test.h"

#define MAX_BODIES 64

#define ASSERT_OK_POST(w, text)                                        \
    do {                                                               \
        if (pr_webhook_post((w), (text), strlen(text)) != PR_OK)       \
            TEST_FAIL("pr_webhook_post(%s) failed", (text));           \
    } while (0)

typedef struct receiver {
    int listen_fd;
    int port;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int codes[8];     /* status for request i; past the end: the last one */
    int n_codes;
    int hang;         /* hold every connection unanswered until stop */
    int stop;
    int requests;     /* complete requests read */
    char *bodies[MAX_BODIES];
} receiver;

/* Reads until the end of the headers and the body; 1 on a whole request. */
static int read_request(int fd, char **body_out) {
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len == sizeof buf - 1) return 0;
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        if (r <= 0) return 0;
        len += (size_t)r;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t header_len = (size_t)(end + 4 - buf);
    size_t content = 0;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl) content = strtoul(cl + 17, NULL, 10);
    if (header_len + content >= sizeof buf) return 0;
    while (len < header_len + content) {
        ssize_t r = read(fd, buf + len, header_len + content - len);
        if (r <= 0) return 0;
        len += (size_t)r;
    }
    char *body = malloc(content + 1);
    if (!body) return 0;
    memcpy(body, buf + header_len, content);
    body[content] = '\0';
    *body_out = body;
    return 1;
}

static void *receiver_main(void *arg) {
    receiver *rv = arg;
    for (;;) {
        pthread_mutex_lock(&rv->mu);
        int stop = rv->stop;
        pthread_mutex_unlock(&rv->mu);
        if (stop) break;
        struct pollfd p = {rv->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) continue;
        int fd = accept(rv->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        char *body = NULL;
        if (!read_request(fd, &body)) {
            close(fd);
            continue;
        }
        pthread_mutex_lock(&rv->mu);
        int i = rv->requests++;
        if (i < MAX_BODIES)
            rv->bodies[i] = body;
        else
            free(body);
        int code = rv->codes[i < rv->n_codes ? i : rv->n_codes - 1];
        pthread_cond_broadcast(&rv->cv);
        while (rv->hang && !rv->stop) pthread_cond_wait(&rv->cv, &rv->mu);
        int hung = rv->hang;
        pthread_mutex_unlock(&rv->mu);
        if (!hung) {
            char resp[128];
            int n = snprintf(resp, sizeof resp,
                             "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                             code);
            if (write(fd, resp, (size_t)n) < 0) { /* the client gave up: fine */
            }
        }
        close(fd);
    }
    return NULL;
}

static void receiver_start(receiver *rv, const int *codes, int n_codes, int hang) {
    memset(rv, 0, sizeof *rv);
    for (int i = 0; i < n_codes; i++) rv->codes[i] = codes[i];
    rv->n_codes = n_codes;
    rv->hang = hang;
    pthread_mutex_init(&rv->mu, NULL);
    pthread_cond_init(&rv->cv, NULL);
    rv->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_TRUE(rv->listen_fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_TRUE(bind(rv->listen_fd, (struct sockaddr *)&a, sizeof a) == 0);
    ASSERT_TRUE(listen(rv->listen_fd, 64) == 0);
    socklen_t al = sizeof a;
    ASSERT_TRUE(getsockname(rv->listen_fd, (struct sockaddr *)&a, &al) == 0);
    rv->port = ntohs(a.sin_port);
    ASSERT_TRUE(pthread_create(&rv->thread, NULL, receiver_main, rv) == 0);
}

static void receiver_stop(receiver *rv) {
    pthread_mutex_lock(&rv->mu);
    rv->stop = 1;
    pthread_cond_broadcast(&rv->cv);
    pthread_mutex_unlock(&rv->mu);
    pthread_join(rv->thread, NULL);
    close(rv->listen_fd);
    for (int i = 0; i < MAX_BODIES && i < rv->requests; i++) free(rv->bodies[i]);
    pthread_cond_destroy(&rv->cv);
    pthread_mutex_destroy(&rv->mu);
}

/* Waits (failsafe: 60 s) until the receiver has read n requests. */
static void receiver_wait(receiver *rv, int n) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    pthread_mutex_lock(&rv->mu);
    while (rv->requests < n)
        if (pthread_cond_timedwait(&rv->cv, &rv->mu, &until) == ETIMEDOUT) break;
    int got = rv->requests;
    pthread_mutex_unlock(&rv->mu);
    if (got < n) TEST_FAIL("receiver got %d requests, waited for %d", got, n);
}

static int receiver_requests(receiver *rv) {
    pthread_mutex_lock(&rv->mu);
    int n = rv->requests;
    pthread_mutex_unlock(&rv->mu);
    return n;
}

static pr_webhook *webhook_to(int port, const pr_webhook_opts *o) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    pr_webhook *w = NULL;
    pr_err err;
    ASSERT_OK(pr_webhook_new(url, o, &w, &err));
    return w;
}

static pr_alerts *psi_alerts(pr_webhook *w) {
    pr_err err;
    const char *yaml = "rules:\n  - {name: psi_high, metric: psi, field: \"*\", window: 5m, "
                       "op: \">=\", threshold: 0.2, min_n: 100, severity: critical}\n";
    pr_alert_rules *r = NULL;
    ASSERT_OK(pr_alert_rules_parse(yaml, strlen(yaml), "m.yaml", &r, &err));
    pr_alerts_opts o;
    pr_alerts_opts_default(&o);
    o.on_transition = pr_webhook_on_transition;
    o.ctx = w;
    pr_alerts *a = NULL;
    ASSERT_OK(pr_alerts_new(r, &o, &a, &err));
    pr_alert_rules_free(r);
    return a;
}

/* ------------------------------------------------------------------ tests */

TEST(delivers_the_transition_json) {
    receiver rv;
    int codes[] = {200};
    receiver_start(&rv, codes, 1, 0);
    pr_webhook_opts o;
    pr_webhook_opts_default(&o);
    pr_webhook *w = webhook_to(rv.port, &o);
    pr_alerts *a = psi_alerts(w);
    pr_metric_sample s = {"psi", "C7", "b", "v3", "5m", 0.42, 5000};
    ASSERT_EQ_INT(pr_alerts_eval(a, 1700000000000, &s, 1), 1);
    s.value = 0.01;
    ASSERT_EQ_INT(pr_alerts_eval(a, 1700000060000, &s, 1), 1);
    ASSERT_EQ_INT(pr_webhook_flush(w, 60000), 1);
    pr_webhook_stats st;
    pr_webhook_stats_get(w, &st);
    ASSERT_EQ_INT(st.sent, 2);
    ASSERT_EQ_INT(st.failed + st.retried + st.dropped + st.queued, 0);
    ASSERT_EQ_INT(receiver_requests(&rv), 2);
    json_error_t je;
    json_t *j = json_loads(rv.bodies[0], 0, &je);
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "alert")), "psi_high");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "state")), "firing");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "previous")), "ok");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "severity")), "critical");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "op")), ">=");
    ASSERT_NEAR(json_real_value(json_object_get(j, "value")), 0.42, 0);
    ASSERT_NEAR(json_real_value(json_object_get(j, "threshold")), 0.2, 0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "n")), 5000);
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "since")), 1700000000000);
    json_t *labels = json_object_get(j, "labels");
    ASSERT_EQ_STR(json_string_value(json_object_get(labels, "metric")), "psi");
    ASSERT_EQ_STR(json_string_value(json_object_get(labels, "field")), "C7");
    ASSERT_EQ_STR(json_string_value(json_object_get(labels, "arm")), "b");
    ASSERT_EQ_STR(json_string_value(json_object_get(labels, "version")), "v3");
    ASSERT_EQ_STR(json_string_value(json_object_get(labels, "window")), "5m");
    ASSERT_CONTAINS(json_string_value(json_object_get(j, "summary")),
                    "psi_high firing: psi of field C7, arm b, version v3 (5m) is 0.42, >= 0.2");
    json_decref(j);
    j = json_loads(rv.bodies[1], 0, &je);
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "state")), "ok");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "previous")), "firing");
    ASSERT_CONTAINS(json_string_value(json_object_get(j, "summary")), "psi_high resolved");
    json_decref(j);
    pr_alerts_free(a);
    pr_webhook_free(w);
    receiver_stop(&rv);
}

TEST(retries_a_500_then_delivers) {
    receiver rv;
    int codes[] = {500, 503, 200};
    receiver_start(&rv, codes, 3, 0);
    pr_webhook_opts o;
    pr_webhook_opts_default(&o);
    o.backoff_ms = 10;
    pr_webhook *w = webhook_to(rv.port, &o);
    ASSERT_OK_POST(w, "{\"n\":1}");
    ASSERT_EQ_INT(pr_webhook_flush(w, 60000), 1);
    pr_webhook_stats st;
    pr_webhook_stats_get(w, &st);
    ASSERT_EQ_INT(st.sent, 1);
    ASSERT_EQ_INT(st.retried, 2);
    ASSERT_EQ_INT(st.failed, 0);
    ASSERT_EQ_INT(receiver_requests(&rv), 3);
    for (int i = 0; i < 3; i++) ASSERT_EQ_STR(rv.bodies[i], "{\"n\":1}");
    pr_webhook_free(w);
    receiver_stop(&rv);
}

TEST(a_4xx_is_not_retried) {
    receiver rv;
    int codes[] = {404, 200};
    receiver_start(&rv, codes, 2, 0);
    pr_webhook_opts o;
    pr_webhook_opts_default(&o);
    o.backoff_ms = 10;
    pr_webhook *w = webhook_to(rv.port, &o);
    ASSERT_OK_POST(w, "{}");
    ASSERT_EQ_INT(pr_webhook_flush(w, 60000), 1);
    pr_webhook_stats st;
    pr_webhook_stats_get(w, &st);
    ASSERT_EQ_INT(st.failed, 1);
    ASSERT_EQ_INT(st.retried, 0);
    ASSERT_EQ_INT(st.sent, 0);
    ASSERT_EQ_INT(receiver_requests(&rv), 1);
    pr_webhook_free(w);
    receiver_stop(&rv);
}

TEST(refused_connections_are_retried_then_failed) {
    /* a port nobody listens on: bound, then closed */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_TRUE(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t al = sizeof a;
    ASSERT_TRUE(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    int port = ntohs(a.sin_port);
    close(fd);
    pr_webhook_opts o;
    pr_webhook_opts_default(&o);
    o.backoff_ms = 5;
    o.max_retries = 2;
    pr_webhook *w = webhook_to(port, &o);
    ASSERT_OK_POST(w, "{\"a\":1}");
    ASSERT_OK_POST(w, "{\"a\":2}");
    ASSERT_EQ_INT(pr_webhook_flush(w, 60000), 1);
    pr_webhook_stats st;
    pr_webhook_stats_get(w, &st);
    ASSERT_EQ_INT(st.failed, 2);
    ASSERT_EQ_INT(st.retried, 4);
    ASSERT_EQ_INT(st.sent, 0);
    ASSERT_EQ_INT(st.timeouts, 0);
    pr_webhook_free(w);
}

TEST(a_hanging_receiver_never_blocks_the_caller) {
    receiver rv;
    int codes[] = {200};
    receiver_start(&rv, codes, 1, 1);
    pr_webhook_opts o;
    pr_webhook_opts_default(&o);
    o.queue_max = 4;
    o.timeout_ms = 600000; /* the request in flight outlives this test */
    o.max_retries = 0;
    pr_webhook *w = webhook_to(rv.port, &o);
    pr_alerts *a = psi_alerts(w);
    pr_metric_sample s = {"psi", "C1", "", "", "5m", 0.9, 1000};
    ASSERT_EQ_INT(pr_alerts_eval(a, 0, &s, 1), 1);
    receiver_wait(&rv, 1); /* the sender is inside that request now */
    /* an eval whose transitions go to the webhook returns... */
    pr_metric_sample many[7];
    char names[7][8];
    for (int i = 0; i < 7; i++) {
        snprintf(names[i], sizeof names[i], "D%d", i);
        many[i] = (pr_metric_sample){"psi", names[i], "", "", "5m", 0.9, 1000};
    }
    ASSERT_EQ_INT(pr_alerts_eval(a, 60000, many, 7), 7);
    /* ...while the first request is still unanswered: nothing finished */
    pr_webhook_stats st;
    pr_webhook_stats_get(w, &st);
    ASSERT_EQ_INT(st.sent + st.failed + st.timeouts, 0);
    /* the queue holds 4: the 3 oldest of the 7 were dropped */
    ASSERT_EQ_INT(st.queued, 4);
    ASSERT_EQ_INT(st.dropped, 3);
    ASSERT_EQ_INT(receiver_requests(&rv), 1);
    /* freeing does not wait for the 10-minute timeout either: the one in
     * flight and the 4 queued are dropped (free returns, or ctest's
     * timeout fails this test) */
    pr_alerts_free(a);
    pr_webhook_free(w);
    receiver_stop(&rv);
}

TEST(a_hanging_receiver_times_out_and_is_counted) {
    receiver rv;
    int codes[] = {200};
    receiver_start(&rv, codes, 1, 1);
    pr_webhook_opts o;
    pr_webhook_opts_default(&o);
    o.timeout_ms = 200;
    o.max_retries = 1;
    o.backoff_ms = 1;
    pr_webhook *w = webhook_to(rv.port, &o);
    ASSERT_OK_POST(w, "{\"x\":1}");
    ASSERT_EQ_INT(pr_webhook_flush(w, 60000), 1);
    pr_webhook_stats st;
    pr_webhook_stats_get(w, &st);
    ASSERT_EQ_INT(st.timeouts, 2);
    ASSERT_EQ_INT(st.retried, 1);
    ASSERT_EQ_INT(st.failed, 1);
    ASSERT_EQ_INT(st.sent, 0);
    pr_webhook_free(w);
    receiver_stop(&rv);
}

TEST(bad_options_are_refused) {
    pr_err err;
    pr_webhook *w = NULL;
    pr_webhook_opts o;
    pr_webhook_opts_default(&o);
    ASSERT_STATUS(pr_webhook_new("ftp://x/", &o, &w, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "ftp://x/");
    o.queue_max = 0;
    ASSERT_STATUS(pr_webhook_new("http://127.0.0.1:1/", &o, &w, &err), PR_ERR_INVALID);
    pr_webhook_free(NULL);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN); /* the receiver may answer a client that gave up */
    RUN(delivers_the_transition_json);
    RUN(retries_a_500_then_delivers);
    RUN(a_4xx_is_not_retried);
    RUN(refused_connections_are_retried_then_failed);
    RUN(a_hanging_receiver_never_blocks_the_caller);
    RUN(a_hanging_receiver_times_out_and_is_counted);
    RUN(bad_options_are_refused);
    TEST_MAIN_END();
}
