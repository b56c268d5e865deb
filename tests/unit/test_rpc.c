/* RPC frame handling: a server answers well-formed requests, rejects
 * malformed and oversize frames, survives raw garbage on its port, and
 * keeps serving afterwards. Each test runs in check's forked child, so the
 * runner's main makes no nng call. */
#include <arpa/inet.h>
#include <check.h>
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
    ck_assert_str_eq(reply->error, "malformed request frame");
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
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
