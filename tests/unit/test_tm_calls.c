/* The jobmanager's table of calls to taskmanagers (jobmanager/tm_calls.c)
 * over asynchronous RPCs (sl_rpc_call_start): starting returns at once,
 * also towards a peer that accepts TCP but never answers; outcomes come back
 * with their keys; a silent peer's call times out; the per-taskmanager bound
 * refuses more calls; stopping a taskmanager's calls ends them at once. Each
 * test runs in check's forked child, so the runner's main makes no nng call. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/rpc.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/tm_calls.h"

#define MAX_MSG 65536
#define WAIT_MS 3000

typedef struct fixture {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int kicked;
    sl_tmcall_table calls;
} fixture;

static void fixture_init(fixture *f)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&f->mu, NULL);
    f->kicked = 0;
    sl_tmcall_init(&f->calls, &f->mu, &f->cv, &f->kicked);
}

static void fixture_free(fixture *f)
{
    sl_tmcall_free(&f->calls);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
}

static void echo_handler(void *arg, const Sluice__Request *req, Sluice__Reply *reply,
                         sl_arena *arena)
{
    (void)arg;
    if (req->body_case == SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT) {
        reply->job_id = sl_arena_strdup(arena, req->notify_checkpoint->job_id);
        reply->checkpoint_id = req->notify_checkpoint->checkpoint_id;
    }
}

static sl_rpc_client *open_client(int port)
{
    char url[64], err[256];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    sl_rpc_client *c = NULL;
    ck_assert_int_eq(sl_rpc_client_open(url, 0, MAX_MSG, NULL, NULL, &c, err, sizeof(err)), SL_OK);
    return c;
}

/* A TCP port that accepts connections (the kernel's backlog does) and never
 * answers. Returns the listening socket; *port receives its port. */
static int silent_listener(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(s, 16), 0);
    socklen_t len = sizeof(a);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return s;
}

static void notify_req(Sluice__Request *req, Sluice__NotifyCheckpoint *n, const char *job,
                       uint64_t id)
{
    sluice__notify_checkpoint__init(n);
    n->job_id = (char *)job;
    n->checkpoint_id = id;
    n->complete = 1;
    sluice__request__init(req);
    req->body_case = SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT;
    req->notify_checkpoint = n;
}

static sl_tmcall_key key_of(const char *tm, uint64_t id)
{
    sl_tmcall_key k;
    memset(&k, 0, sizeof(k));
    k.kind = SL_TMCALL_NOTIFY;
    snprintf(k.tm_id, sizeof(k.tm_id), "%s", tm);
    snprintf(k.job_id, sizeof(k.job_id), "job%llu", (unsigned long long)id);
    k.attempt = 7;
    k.chk_id = id;
    k.flags = SL_TMCALL_F_COMPLETE;
    return k;
}

/* Starts a notify call to tm with id; mu held by the caller. */
static int start_call(fixture *f, sl_rpc_client *c, const char *tm, uint64_t id, int timeout_ms)
{
    Sluice__Request req;
    Sluice__NotifyCheckpoint n;
    char job[64];
    snprintf(job, sizeof(job), "job%llu", (unsigned long long)id);
    notify_req(&req, &n, job, id);
    sl_tmcall_key k = key_of(tm, id);
    return sl_tmcall_start(&f->calls, c, &k, &req, timeout_ms);
}

/* Waits (mu held) up to WAIT_MS for n outcomes, the loop's way. */
static int take_n(fixture *f, sl_tmcall_outcome *out, int n)
{
    int got = 0;
    int64_t deadline = sl_now_ms() + WAIT_MS;
    while (got < n && sl_now_ms() < deadline) {
        while (got < n && sl_tmcall_take(&f->calls, &out[got]))
            got++;
        if (got == n)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        f->kicked = 0;
        pthread_cond_timedwait(&f->cv, &f->mu, &ts);
    }
    return got;
}

START_TEST(test_calls_answered_with_their_keys)
{
    fixture f;
    fixture_init(&f);
    sl_rpc_server *srv = NULL;
    int port = 0;
    ck_assert_int_eq(sl_rpc_server_start("tcp://127.0.0.1:0", 2, MAX_MSG, echo_handler, NULL,
                                         &srv, &port),
                     SL_OK);
    sl_rpc_client *c = open_client(port);
    enum { N = 10 };
    pthread_mutex_lock(&f.mu);
    for (int i = 1; i <= N; i++)
        ck_assert_int_eq(start_call(&f, c, "tm-a", (uint64_t)i, 5000), SL_OK);
    ck_assert_int_eq(sl_tmcall_room(&f.calls, "tm-a"), SL_TMCALL_PER_TM - N);
    sl_tmcall_outcome o[N];
    ck_assert_int_eq(take_n(&f, o, N), N);
    int seen[N + 1] = {0};
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(o[i].rv, SL_OK);
        ck_assert_ptr_nonnull(o[i].reply);
        ck_assert_str_eq(o[i].key.tm_id, "tm-a");
        ck_assert_int_eq(o[i].key.kind, SL_TMCALL_NOTIFY);
        ck_assert_int_eq(o[i].key.attempt, 7);
        ck_assert_uint_eq(o[i].key.flags, SL_TMCALL_F_COMPLETE);
        uint64_t id = o[i].key.chk_id;
        ck_assert(id >= 1 && id <= N);
        ck_assert_uint_eq(o[i].reply->checkpoint_id, id);
        ck_assert_str_eq(o[i].reply->job_id, o[i].key.job_id);
        seen[id]++;
        sl_tmcall_outcome_clear(&o[i]);
    }
    for (int i = 1; i <= N; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_eq(sl_tmcall_room(&f.calls, "tm-a"), SL_TMCALL_PER_TM);
    ck_assert_int_eq(sl_tmcall_take(&f.calls, &o[0]), 0);
    pthread_mutex_unlock(&f.mu);
    fixture_free(&f);
    sl_rpc_client_close(c);
    sl_rpc_server_stop(srv);
}
END_TEST

/* Starting towards a silent peer returns at once; the call times out. */
START_TEST(test_silent_peer_times_out)
{
    fixture f;
    fixture_init(&f);
    int port = 0;
    int ls = silent_listener(&port);
    int64_t t0 = sl_now_ms();
    sl_rpc_client *c = open_client(port);
    pthread_mutex_lock(&f.mu);
    ck_assert_int_eq(start_call(&f, c, "tm-silent", 1, 300), SL_OK);
    int64_t started = sl_now_ms() - t0;
    ck_assert_msg(started < 100, "open + start took %lld ms", (long long)started);
    sl_tmcall_outcome o;
    ck_assert_int_eq(take_n(&f, &o, 1), 1);
    ck_assert_int_eq(o.rv, SL_ETIMEDOUT);
    ck_assert_ptr_null(o.reply);
    ck_assert_int_ge(o.elapsed_ms, 250);
    ck_assert_int_lt(o.elapsed_ms, 2000);
    pthread_mutex_unlock(&f.mu);
    fixture_free(&f);
    sl_rpc_client_close(c);
    close(ls);
}
END_TEST

/* The per-taskmanager bound, and stopping a taskmanager's calls. */
START_TEST(test_bound_and_stop)
{
    fixture f;
    fixture_init(&f);
    int port = 0;
    int ls = silent_listener(&port);
    sl_rpc_client *c = open_client(port);
    pthread_mutex_lock(&f.mu);
    for (int i = 0; i < SL_TMCALL_PER_TM; i++)
        ck_assert_int_eq(start_call(&f, c, "tm-s", (uint64_t)i + 1, 60000), SL_OK);
    ck_assert_int_eq(sl_tmcall_room(&f.calls, "tm-s"), 0);
    ck_assert_int_eq(start_call(&f, c, "tm-s", 999, 60000), SL_EBUSY);
    ck_assert_int_eq(sl_tmcall_room(&f.calls, "tm-other"), SL_TMCALL_PER_TM);
    sl_tmcall_outcome o;
    ck_assert_int_eq(sl_tmcall_take(&f.calls, &o), 0); /* none ended */
    int64_t t0 = sl_now_ms();
    sl_tmcall_stop(&f.calls, "tm-s");
    int64_t stop_ms = sl_now_ms() - t0;
    ck_assert_msg(stop_ms < 1000, "stop took %lld ms", (long long)stop_ms);
    sl_rpc_client_close(c); /* every context of the client is released */
    int n = 0;
    while (sl_tmcall_take(&f.calls, &o)) {
        ck_assert_int_eq(o.rv, SL_ECANCELED);
        ck_assert_str_eq(o.key.tm_id, "tm-s");
        sl_tmcall_outcome_clear(&o);
        n++;
    }
    ck_assert_int_eq(n, SL_TMCALL_PER_TM);
    ck_assert_int_eq(sl_tmcall_room(&f.calls, "tm-s"), SL_TMCALL_PER_TM);
    pthread_mutex_unlock(&f.mu);
    fixture_free(&f);
    close(ls);
}
END_TEST

/* A request larger than the client's bound is refused at the start. */
START_TEST(test_oversize_request_refused)
{
    fixture f;
    fixture_init(&f);
    int port = 0;
    int ls = silent_listener(&port);
    sl_rpc_client *c = open_client(port);
    char *big = malloc(MAX_MSG + 1);
    memset(big, 'x', MAX_MSG);
    big[MAX_MSG] = '\0';
    Sluice__Request req;
    Sluice__NotifyCheckpoint n;
    notify_req(&req, &n, big, 1);
    sl_tmcall_key k = key_of("tm-a", 1);
    pthread_mutex_lock(&f.mu);
    ck_assert_int_eq(sl_tmcall_start(&f.calls, c, &k, &req, 1000), SL_ENOSPC);
    ck_assert_int_eq(sl_tmcall_room(&f.calls, "tm-a"), SL_TMCALL_PER_TM);
    pthread_mutex_unlock(&f.mu);
    free(big);
    fixture_free(&f);
    sl_rpc_client_close(c);
    close(ls);
}
END_TEST

/* Shutdown with calls in flight frees them without waiting for the peer. */
START_TEST(test_free_with_calls_in_flight)
{
    fixture f;
    fixture_init(&f);
    int port = 0;
    int ls = silent_listener(&port);
    sl_rpc_client *c = open_client(port);
    pthread_mutex_lock(&f.mu);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(start_call(&f, c, "tm-s", (uint64_t)i + 1, 60000), SL_OK);
    pthread_mutex_unlock(&f.mu);
    int64_t t0 = sl_now_ms();
    fixture_free(&f);
    ck_assert_int_lt(sl_now_ms() - t0, 1000);
    sl_rpc_client_close(c);
    close(ls);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tm_calls");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_calls_answered_with_their_keys);
    tcase_add_test(tc, test_silent_peer_times_out);
    tcase_add_test(tc, test_bound_and_stop);
    tcase_add_test(tc, test_oversize_request_refused);
    tcase_add_test(tc, test_free_with_calls_in_flight);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
