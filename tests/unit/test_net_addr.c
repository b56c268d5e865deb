/* Unit tests: common/net_addr.c, the advertised and bind addresses.
 *
 * The route source of a loopback destination is that loopback address
 * (127.0.0.1, ::1); a name that does not resolve fails with a message that
 * names it; a taskmanager with taskmanager.host unset advertises the route
 * source and listens on taskmanager.bind-host (0.0.0.0, or :: for IPv6);
 * a set taskmanager.host is advertised as given; a wildcard one is refused;
 * URLs bracket IPv6 addresses. A socket bound to the bind address answers a
 * dial of the advertised one. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/config.h"
#include "common/net_addr.h"
#include "common/status.h"

/* ".invalid" never resolves (RFC 6761). */
#define NO_SUCH_HOST "no-such-host.invalid"

static sl_config *config_with(const char *const *kv)
{
    sl_config *cfg = NULL;
    char err[512] = "";
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    for (; kv != NULL && *kv != NULL; kv++)
        ck_assert_msg(sl_config_set_override(cfg, *kv, err, sizeof(err)) == SL_OK, "%s", err);
    return cfg;
}

START_TEST(test_route_to_ipv4_loopback)
{
    char out[SL_ADDR_HOST_MAX + 1], err[512] = "";
    ck_assert_int_eq(sl_addr_route_source("127.0.0.1", 6123, out, sizeof(out), err, sizeof(err)),
                     SL_OK);
    ck_assert_str_eq(out, "127.0.0.1");
    ck_assert_int_eq(sl_addr_route_source("localhost", 6123, out, sizeof(out), err, sizeof(err)),
                     SL_OK);
    ck_assert_int_eq(sl_addr_is_loopback(out), 1);
}
END_TEST

START_TEST(test_route_to_ipv6_loopback)
{
    char out[SL_ADDR_HOST_MAX + 1], err[512] = "";
    ck_assert_msg(sl_addr_route_source("::1", 6123, out, sizeof(out), err, sizeof(err)) == SL_OK,
                  "%s", err);
    ck_assert_str_eq(out, "::1");
    ck_assert_int_eq(sl_addr_route_source("[::1]", 6123, out, sizeof(out), err, sizeof(err)),
                     SL_OK);
    ck_assert_str_eq(out, "::1");
}
END_TEST

START_TEST(test_unresolvable_name_fails_clearly)
{
    char out[SL_ADDR_HOST_MAX + 1], err[512] = "";
    ck_assert_int_eq(sl_addr_route_source(NO_SUCH_HOST, 6123, out, sizeof(out), err, sizeof(err)),
                     SL_ENOTFOUND);
    ck_assert_msg(strstr(err, "cannot resolve '" NO_SUCH_HOST "'") != NULL, "err: %s", err);

    static const char *const kv[] = {"jobmanager.rpc.address=" NO_SUCH_HOST, NULL};
    sl_config *cfg = config_with(kv);
    sl_addr_endpoint ep;
    ck_assert_int_eq(sl_addr_taskmanager(cfg, &ep, err, sizeof(err)), SL_ENOTFOUND);
    ck_assert_msg(strstr(err, "jobmanager.rpc.address " NO_SUCH_HOST) != NULL, "err: %s", err);
    ck_assert_msg(strstr(err, "set taskmanager.host") != NULL, "err: %s", err);
    ck_assert_int_eq(sl_addr_jobmanager(cfg, &ep, err, sizeof(err)), SL_ENOTFOUND);
    ck_assert_msg(strstr(err, "jobmanager.rpc.address: cannot resolve") != NULL, "err: %s", err);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_small_buffer_is_refused)
{
    char out[4], err[512] = "";
    ck_assert_int_eq(sl_addr_route_source("127.0.0.1", 1, out, sizeof(out), err, sizeof(err)),
                     SL_ENOSPC);
}
END_TEST

START_TEST(test_default_split_advertises_route_binds_wildcard)
{
    char err[512] = "";
    sl_addr_endpoint ep;
    sl_config *cfg = config_with(NULL); /* jobmanager 127.0.0.1, nothing else set */
    ck_assert_msg(sl_addr_taskmanager(cfg, &ep, err, sizeof(err)) == SL_OK, "%s", err);
    ck_assert_str_eq(ep.advertised, "127.0.0.1");
    ck_assert_str_eq(ep.bind, "0.0.0.0");
    ck_assert_msg(sl_addr_jobmanager(cfg, &ep, err, sizeof(err)) == SL_OK, "%s", err);
    ck_assert_str_eq(ep.advertised, "127.0.0.1");
    ck_assert_str_eq(ep.bind, "0.0.0.0");
    sl_config_free(cfg);

    static const char *const v6[] = {"jobmanager.rpc.address=::1", NULL};
    cfg = config_with(v6);
    ck_assert_msg(sl_addr_taskmanager(cfg, &ep, err, sizeof(err)) == SL_OK, "%s", err);
    ck_assert_str_eq(ep.advertised, "::1");
    ck_assert_str_eq(ep.bind, "::");
    ck_assert_msg(sl_addr_jobmanager(cfg, &ep, err, sizeof(err)) == SL_OK, "%s", err);
    ck_assert_str_eq(ep.advertised, "::1");
    ck_assert_str_eq(ep.bind, "::");
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_explicit_hosts_are_kept)
{
    char err[512] = "";
    sl_addr_endpoint ep;
    static const char *const kv[] = {"taskmanager.host=localhost",
                                     "taskmanager.bind-host=127.0.0.1",
                                     "jobmanager.rpc.address=[::1]",
                                     "jobmanager.bind-host=::1", NULL};
    sl_config *cfg = config_with(kv);
    ck_assert_msg(sl_addr_taskmanager(cfg, &ep, err, sizeof(err)) == SL_OK, "%s", err);
    ck_assert_str_eq(ep.advertised, "localhost");
    ck_assert_str_eq(ep.bind, "127.0.0.1");
    ck_assert_msg(sl_addr_jobmanager(cfg, &ep, err, sizeof(err)) == SL_OK, "%s", err);
    ck_assert_str_eq(ep.advertised, "::1");
    ck_assert_str_eq(ep.bind, "::1");
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_wildcard_advertised_host_is_refused)
{
    char err[512] = "";
    sl_addr_endpoint ep;
    static const char *const tm[] = {"taskmanager.host=0.0.0.0", NULL};
    sl_config *cfg = config_with(tm);
    ck_assert_int_eq(sl_addr_taskmanager(cfg, &ep, err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "taskmanager.host: 0.0.0.0 is a wildcard") != NULL, "err: %s", err);
    sl_config_free(cfg);
    static const char *const jm[] = {"jobmanager.rpc.address=::", NULL};
    cfg = config_with(jm);
    ck_assert_int_eq(sl_addr_jobmanager(cfg, &ep, err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "jobmanager.rpc.address: :: is a wildcard") != NULL, "err: %s", err);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_classification_and_urls)
{
    char url[SL_ADDR_URL_MAX];
    ck_assert_int_eq(sl_addr_is_loopback("127.0.0.1"), 1);
    ck_assert_int_eq(sl_addr_is_loopback("127.1.2.3"), 1);
    ck_assert_int_eq(sl_addr_is_loopback("::1"), 1);
    ck_assert_int_eq(sl_addr_is_loopback("[::1]"), 1);
    ck_assert_int_eq(sl_addr_is_loopback("::ffff:127.0.0.1"), 1);
    ck_assert_int_eq(sl_addr_is_loopback("10.213.7.11"), 0);
    ck_assert_int_eq(sl_addr_is_loopback("localhost"), 0); /* names are not resolved */
    ck_assert_int_eq(sl_addr_is_wildcard("0.0.0.0"), 1);
    ck_assert_int_eq(sl_addr_is_wildcard("::"), 1);
    ck_assert_int_eq(sl_addr_is_wildcard("[::]"), 1);
    ck_assert_int_eq(sl_addr_is_wildcard(""), 1);
    ck_assert_int_eq(sl_addr_is_wildcard("127.0.0.1"), 0);
    ck_assert_int_eq(sl_addr_is_wildcard("host"), 0);
    ck_assert_int_eq(sl_addr_url("10.0.0.1", 6123, url, sizeof(url)), SL_OK);
    ck_assert_str_eq(url, "tcp://10.0.0.1:6123");
    ck_assert_int_eq(sl_addr_url("::1", 80, url, sizeof(url)), SL_OK);
    ck_assert_str_eq(url, "tcp://[::1]:80");
    ck_assert_int_eq(sl_addr_url("[fe80::1]", 0, url, sizeof(url)), SL_OK);
    ck_assert_str_eq(url, "tcp://[fe80::1]:0");
    ck_assert_int_eq(sl_addr_url("jm.example", 1, url, 8), SL_ENOSPC);
    ck_assert_int_eq(sl_addr_hostport("fd00:5a:7::11", 6124, url, sizeof(url)), SL_OK);
    ck_assert_str_eq(url, "[fd00:5a:7::11]:6124");
    ck_assert_int_eq(sl_addr_hostport("sl-tm1", 6124, url, sizeof(url)), SL_OK);
    ck_assert_str_eq(url, "sl-tm1:6124");
    ck_assert_int_eq(sl_addr_hostport("sl-tm1", 6124, url, 6), SL_ENOSPC);
}
END_TEST

/* A TCP listener on ep.bind (any port) accepts a connect to ep.advertised. */
static void check_bind_reaches_advertised(const sl_addr_endpoint *ep)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int v6 = strchr(ep->bind, ':') != NULL;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (v6) {
        a6->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, ep->bind, &a6->sin6_addr), 1);
        len = sizeof(*a6);
    } else {
        a4->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, ep->bind, &a4->sin_addr), 1);
        len = sizeof(*a4);
    }
    int l = socket(ss.ss_family, SOCK_STREAM, 0);
    ck_assert_int_ge(l, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&ss, len), 0);
    ck_assert_int_eq(listen(l, 1), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&ss, &len), 0);
    int port = ntohs(v6 ? a6->sin6_port : a4->sin_port);

    struct sockaddr_storage to = {0};
    struct sockaddr_in *t4 = (struct sockaddr_in *)&to;
    struct sockaddr_in6 *t6 = (struct sockaddr_in6 *)&to;
    if (inet_pton(AF_INET, ep->advertised, &t4->sin_addr) == 1) {
        t4->sin_family = AF_INET;
        t4->sin_port = htons((uint16_t)port);
        len = sizeof(*t4);
    } else {
        ck_assert_int_eq(inet_pton(AF_INET6, ep->advertised, &t6->sin6_addr), 1);
        t6->sin6_family = AF_INET6;
        t6->sin6_port = htons((uint16_t)port);
        len = sizeof(*t6);
    }
    int c = socket(to.ss_family, SOCK_STREAM, 0);
    ck_assert_int_ge(c, 0);
    ck_assert_msg(connect(c, (struct sockaddr *)&to, len) == 0, "connect to %s:%d (bound %s)",
                  ep->advertised, port, ep->bind);
    close(c);
    close(l);
}

START_TEST(test_bind_address_serves_advertised_address)
{
    char err[512] = "";
    sl_addr_endpoint ep;
    sl_config *cfg = config_with(NULL);
    ck_assert_msg(sl_addr_taskmanager(cfg, &ep, err, sizeof(err)) == SL_OK, "%s", err);
    check_bind_reaches_advertised(&ep);
    sl_config_free(cfg);
    static const char *const v6[] = {"jobmanager.rpc.address=::1", NULL};
    cfg = config_with(v6);
    ck_assert_msg(sl_addr_taskmanager(cfg, &ep, err, sizeof(err)) == SL_OK, "%s", err);
    check_bind_reaches_advertised(&ep);
    sl_config_free(cfg);
}
END_TEST

static Suite *net_addr_suite(void)
{
    Suite *s = suite_create("net_addr");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_route_to_ipv4_loopback);
    tcase_add_test(tc, test_route_to_ipv6_loopback);
    tcase_add_test(tc, test_unresolvable_name_fails_clearly);
    tcase_add_test(tc, test_small_buffer_is_refused);
    tcase_add_test(tc, test_default_split_advertises_route_binds_wildcard);
    tcase_add_test(tc, test_explicit_hosts_are_kept);
    tcase_add_test(tc, test_wildcard_advertised_host_is_refused);
    tcase_add_test(tc, test_classification_and_urls);
    tcase_add_test(tc, test_bind_address_serves_advertised_address);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(net_addr_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
