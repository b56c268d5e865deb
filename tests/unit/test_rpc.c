/* RPC frame handling: a server answers well-formed requests, rejects
 * malformed and oversize frames, survives raw garbage on its port, and
 * keeps serving afterwards; repeated-field bombs are rejected before they
 * are unpacked; slow heavy requests neither delay a heartbeat nor pile up
 * (one too many is refused "server busy"); a server of one role rejects the
 * other's requests. Each test runs in check's forked child, so the runner's
 * main makes no nng call. */
#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/rpc.h"
#include "common/status.h"

#define MAX_MSG 4096

static void echo_handler(void *arg, const Sluice__Request *req, Sluice__Reply *reply,
                         sl_arena *arena)
{
    (void)arg;
    if (req->body_case == SLUICE__REQUEST__BODY_JOB_INFO)
        reply->job_id = sl_arena_strdup(arena, req->job_info->job_id);
}

static sl_rpc_server *start_server(int *port)
{
    sl_rpc_server *srv = NULL;
    ck_assert_int_eq(sl_rpc_server_start("tcp://127.0.0.1:0", 2, MAX_MSG, echo_handler, NULL,
                                         &srv, port),
                     SL_OK);
    ck_assert_int_gt(*port, 0);
    return srv;
}

static sl_rpc_client *connect_client(int port)
{
    char url[64], err[256];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    sl_rpc_client *c = NULL;
    ck_assert_int_eq(sl_rpc_client_open(url, 1, MAX_MSG, NULL, NULL, &c, err, sizeof(err)), SL_OK);
    return c;
}

static void assert_echo(sl_rpc_client *c, const char *id)
{
    Sluice__JobRef ref = SLUICE__JOB_REF__INIT;
    ref.job_id = (char *)id;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_JOB_INFO;
    req.job_info = &ref;
    Sluice__Reply *reply = NULL;
    ck_assert_int_eq(sl_rpc_call(c, &req, 5000, &reply), SL_OK);
    ck_assert_int_eq(reply->status, SLUICE__STATUS__STATUS_OK);
    ck_assert_str_eq(reply->job_id, id);
    sluice__reply__free_unpacked(reply, NULL);
}

/* Sends raw bytes as one req0 frame; returns the nng result of the reply. */
static int raw_request(int port, const void *body, size_t len, Sluice__Reply **out)
{
    nng_socket s;
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    ck_assert_int_eq(nng_req0_open(&s), 0);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 1000);
    ck_assert_int_eq(nng_dial(s, url, NULL, 0), 0);
    int rv = nng_send(s, (void *)body, len, 0);
    void *buf = NULL;
    size_t n = 0;
    if (rv == 0)
        rv = nng_recv(s, &buf, &n, NNG_FLAG_ALLOC);
    if (rv == 0) {
        *out = sluice__reply__unpack(NULL, n, buf);
        nng_free(buf, n);
    }
    nng_close(s);
    return rv;
}

START_TEST(test_well_formed_request_is_answered)
{
    int port;
    sl_rpc_server *srv = start_server(&port);
    sl_rpc_client *c = connect_client(port);
    assert_echo(c, "abc");
    sl_rpc_client_close(c);
    sl_rpc_server_stop(srv);
}
END_TEST

START_TEST(test_malformed_frame_is_rejected_and_server_goes_on)
{
    int port;
    sl_rpc_server *srv = start_server(&port);
    const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99, 0x00};
    Sluice__Reply *reply = NULL;
    ck_assert_int_eq(raw_request(port, junk, sizeof(junk), &reply), 0);
    ck_assert_ptr_nonnull(reply);
    ck_assert_int_eq(reply->status, SLUICE__STATUS__STATUS_INVALID);
    ck_assert_str_eq(reply->error, "malformed request frame: no request body");
    sluice__reply__free_unpacked(reply, NULL);
    sl_rpc_client *c = connect_client(port);
    assert_echo(c, "still serving");
    sl_rpc_client_close(c);
    sl_rpc_server_stop(srv);
}
END_TEST

START_TEST(test_empty_request_is_rejected)
{
    int port;
    sl_rpc_server *srv = start_server(&port);
    Sluice__Reply *reply = NULL;
    ck_assert_int_eq(raw_request(port, "", 0, &reply), 0);
    ck_assert_int_eq(reply->status, SLUICE__STATUS__STATUS_INVALID);
    sluice__reply__free_unpacked(reply, NULL);
    sl_rpc_server_stop(srv);
}
END_TEST

START_TEST(test_oversize_frame_drops_connection_and_server_goes_on)
{
    int port;
    sl_rpc_server *srv = start_server(&port);
    size_t big = MAX_MSG * 4;
    char *body = calloc(1, big);
    Sluice__Reply *reply = NULL;
    ck_assert_int_ne(raw_request(port, body, big, &reply), 0);
    free(body);
    sl_rpc_client *c = connect_client(port);
    assert_echo(c, "after oversize");
    sl_rpc_client_close(c);
    sl_rpc_server_stop(srv);
}
END_TEST

START_TEST(test_raw_tcp_garbage_does_not_stop_server)
{
    int port;
    sl_rpc_server *srv = start_server(&port);
    for (int i = 0; i < 5; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        char junk[1024];
        memset(junk, 0x41 + i, sizeof(junk));
        ssize_t w = write(fd, junk, sizeof(junk));
        (void)w;
        close(fd);
    }
    sl_rpc_client *c = connect_client(port);
    assert_echo(c, "after garbage");
    sl_rpc_client_close(c);
    sl_rpc_server_stop(srv);
}
END_TEST

START_TEST(test_unreachable_server_is_reported)
{
    char err[256] = "";
    sl_rpc_client *c = NULL;
    int rv = sl_rpc_client_open("tcp://127.0.0.1:1", 1, MAX_MSG, NULL, NULL, &c, err, sizeof(err));
    ck_assert_int_eq(rv, SL_EUNREACH);
    ck_assert_ptr_nonnull(strstr(err, "tcp://127.0.0.1:1"));
}
END_TEST

/* ---- bounds and lanes */

#define SLOW_MS 1500       /* a heavy request's handler */
#define PROMPT_MS 500      /* a heartbeat answered this fast counts as prompt */
#define BIG_MSG (1u << 24) /* frames of the servers below */

struct counters {
    atomic_int calls;      /* handler runs */
    atomic_int slow_begun; /* heavy handlers started */
};

static void slow_handler(void *arg, const Sluice__Request *req, Sluice__Reply *reply,
                         sl_arena *arena)
{
    struct counters *c = arg;
    (void)reply;
    (void)arena;
    atomic_fetch_add(&c->calls, 1);
    if (req->body_case == SLUICE__REQUEST__BODY_SUBMIT_JOB) {
        atomic_fetch_add(&c->slow_begun, 1);
        sl_sleep_ms(SLOW_MS);
    }
}

static sl_rpc_server *start_slow_server(int role, int nworkers, struct counters *c, int *port)
{
    sl_rpc_server *srv = NULL;
    ck_assert_int_eq(sl_rpc_server_start_role(role, "tcp://127.0.0.1:0", nworkers, BIG_MSG,
                                              slow_handler, c, &srv, port),
                     SL_OK);
    return srv;
}

/* One request on its own connection, on its own thread. */
struct call {
    pthread_t th;
    int port;
    uint8_t *frame;
    size_t len;
    int status; /* -1: no reply */
    char error[256];
    int64_t ms;
};

static void *call_main(void *p)
{
    struct call *c = p;
    nng_socket s;
    char url[64];
    void *buf = NULL;
    size_t n = 0;
    c->status = -1;
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", c->port);
    if (nng_req0_open(&s) != 0)
        return NULL;
    nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
    int64_t t0 = sl_now_ms();
    if (nng_dial(s, url, NULL, 0) == 0 && nng_send(s, c->frame, c->len, 0) == 0 &&
        nng_recv(s, &buf, &n, NNG_FLAG_ALLOC) == 0) {
        Sluice__Reply *r = sluice__reply__unpack(NULL, n, buf);
        nng_free(buf, n);
        if (r != NULL) {
            c->status = r->status;
            snprintf(c->error, sizeof(c->error), "%s", r->error);
            sluice__reply__free_unpacked(r, NULL);
        }
    }
    c->ms = sl_now_ms() - t0;
    nng_close(s);
    return NULL;
}

static uint8_t *pack_request(const Sluice__Request *req, size_t *len)
{
    *len = sluice__request__get_packed_size(req);
    uint8_t *f = malloc(*len ? *len : 1);
    ck_assert_ptr_nonnull(f);
    sluice__request__pack(req, f);
    return f;
}

static uint8_t *submit_frame(size_t *len)
{
    Sluice__SubmitJob sj = SLUICE__SUBMIT_JOB__INIT;
    sj.yaml = "name: slow";
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_SUBMIT_JOB;
    req.submit_job = &sj;
    return pack_request(&req, len);
}

static uint8_t *heartbeat_frame(size_t *len)
{
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    hb.tm_id = "probe";
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &hb;
    return pack_request(&req, len);
}

static void wait_begun(struct counters *c, int n)
{
    int64_t until = sl_now_ms() + 5000;
    while (atomic_load(&c->slow_begun) < n && sl_now_ms() < until)
        sl_sleep_ms(5);
    ck_assert_int_ge(atomic_load(&c->slow_begun), n);
}

START_TEST(test_repeated_field_bomb_is_rejected_before_unpack)
{
    struct counters c = {0};
    int port;
    sl_rpc_server *srv = start_slow_server(SL_RPC_SERVE_ALL, 2, &c, &port);
    /* Request{heartbeat{tm_id "b", 2^21 empty tasks}}: 4 MiB on the wire. */
    size_t n = (size_t)1 << 21, len = 0;
    uint8_t *f = malloc(2 * n + 16);
    f[len++] = 0x12;
    size_t body = 3 + 2 * n;
    for (size_t v = body;; v >>= 7) {
        f[len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    memcpy(f + len, "\x0a\x01" "b", 3);
    len += 3;
    for (size_t i = 0; i < n; i++) {
        f[len++] = 0x12;
        f[len++] = 0x00;
    }
    struct call call = {.port = port, .frame = f, .len = len};
    call_main(&call);
    ck_assert_int_eq(call.status, SLUICE__STATUS__STATUS_INVALID);
    ck_assert_ptr_nonnull(strstr(call.error, "sluice.Heartbeat.tasks holds more than"));
    ck_assert_int_eq(atomic_load(&c.calls), 0);
    free(f);
    sl_rpc_server_stop(srv);
}
END_TEST

START_TEST(test_heartbeat_is_not_delayed_by_slow_heavy_requests)
{
    struct counters c = {0};
    int port;
    sl_rpc_server *srv = start_slow_server(SL_RPC_SERVE_JOBMANAGER, 4, &c, &port);
    struct call heavy[5];
    size_t slen, hlen;
    uint8_t *sf = submit_frame(&slen), *hf = heartbeat_frame(&hlen);
    for (int i = 0; i < 5; i++) {
        heavy[i] = (struct call){.port = port, .frame = sf, .len = slen};
        pthread_create(&heavy[i].th, NULL, call_main, &heavy[i]);
    }
    wait_begun(&c, 3); /* every worker but the cheap one is busy */
    struct call hb = {.port = port, .frame = hf, .len = hlen};
    call_main(&hb);
    ck_assert_int_eq(hb.status, SLUICE__STATUS__STATUS_OK);
    ck_assert_msg(hb.ms < PROMPT_MS, "the heartbeat waited %lld ms", (long long)hb.ms);
    for (int i = 0; i < 5; i++) {
        pthread_join(heavy[i].th, NULL);
        ck_assert_int_eq(heavy[i].status, SLUICE__STATUS__STATUS_OK);
    }
    free(sf);
    free(hf);
    sl_rpc_server_stop(srv);
}
END_TEST

START_TEST(test_too_many_heavy_requests_are_refused_at_once)
{
    struct counters c = {0};
    int port;
    /* Two workers: one heavy worker, so 1 + SL_RPC_HEAVY_SPARE are held. */
    sl_rpc_server *srv = start_slow_server(SL_RPC_SERVE_JOBMANAGER, 2, &c, &port);
    enum { N = 3 + SL_RPC_HEAVY_SPARE };
    struct call heavy[N];
    size_t slen;
    uint8_t *sf = submit_frame(&slen);
    for (int i = 0; i < N; i++) {
        heavy[i] = (struct call){.port = port, .frame = sf, .len = slen};
        pthread_create(&heavy[i].th, NULL, call_main, &heavy[i]);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(heavy[i].th, NULL);
        if (heavy[i].status == SLUICE__STATUS__STATUS_OK) {
            ok++;
        } else {
            ck_assert_int_eq(heavy[i].status, SLUICE__STATUS__STATUS_FAILED);
            ck_assert_ptr_nonnull(strstr(heavy[i].error, "server busy"));
            ck_assert_int_lt(heavy[i].ms, PROMPT_MS);
            busy++;
        }
    }
    ck_assert_int_eq(ok, 1 + SL_RPC_HEAVY_SPARE);
    ck_assert_int_eq(busy, N - ok);
    free(sf);
    sl_rpc_server_stop(srv);
}
END_TEST

START_TEST(test_role_rejects_the_other_daemons_requests)
{
    struct counters c = {0};
    int port;
    sl_rpc_server *srv = start_slow_server(SL_RPC_SERVE_TASKMANAGER, 2, &c, &port);
    size_t hlen;
    uint8_t *hf = heartbeat_frame(&hlen);
    struct call hb = {.port = port, .frame = hf, .len = hlen};
    call_main(&hb);
    ck_assert_int_eq(hb.status, SLUICE__STATUS__STATUS_INVALID);
    ck_assert_str_eq(hb.error, "malformed request frame: heartbeat is not a taskmanager request");
    ck_assert_int_eq(atomic_load(&c.calls), 0);
    free(hf);
    sl_rpc_server_stop(srv);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rpc");
    TCase *tc = tcase_create("frames");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_well_formed_request_is_answered);
    tcase_add_test(tc, test_malformed_frame_is_rejected_and_server_goes_on);
    tcase_add_test(tc, test_empty_request_is_rejected);
    tcase_add_test(tc, test_oversize_frame_drops_connection_and_server_goes_on);
    tcase_add_test(tc, test_raw_tcp_garbage_does_not_stop_server);
    tcase_add_test(tc, test_unreachable_server_is_reported);
    tcase_add_test(tc, test_repeated_field_bomb_is_rejected_before_unpack);
    tcase_add_test(tc, test_heartbeat_is_not_delayed_by_slow_heavy_requests);
    tcase_add_test(tc, test_too_many_heavy_requests_are_refused_at_once);
    tcase_add_test(tc, test_role_rejects_the_other_daemons_requests);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
