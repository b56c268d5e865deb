/* Unit tests for common/zk.c against a REAL ZooKeeper server, started once
 * for the whole run by scripts/zookeeper.sh (Debian's zookeeper package:
 * make deps) with its own temp conf/pid/log folder and a free port, and
 * stopped at exit (also when a test fails: each test runs in a forked
 * child, main stops the server); and the high-availability keys' checks
 * (config_yaml.c), which need no server. Run from the top of the checkout. */
#include "common/config.h"
#include "common/status.h"
#include "common/zk.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SESSION_MS 4000  /* the least a server with tickTime 2000 grants */
#define CONNECT_MS 10000
#define EVENT_WAIT_MS 10000

static char root[256];        /* temp folder: conf/ pid/ log/ data/ */
static char quorum[64];
static pid_t main_pid;
static int server_started;

/* ------------------------------------------------------------ the server */

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("free port");
        exit(EXIT_FAILURE);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int zookeeper_sh(const char *cmd)
{
    char line[1024];
    snprintf(line, sizeof line,
             "SLUICE_CONF_DIR=%s/conf SLUICE_PID_DIR=%s/pid SLUICE_LOG_DIR=%s/log "
             "bash scripts/zookeeper.sh %s",
             root, root, root, cmd);
    return system(line);
}

static void stop_server(void)
{
    char line[512];
    if (getpid() != main_pid || !server_started) /* check's forked children exit too */
        return;
    server_started = 0;
    zookeeper_sh("stop >/dev/null");
    snprintf(line, sizeof line, "rm -rf '%s'", root);
    if (getenv("KEEP_TMP") == NULL && system(line) != 0)
        fprintf(stderr, "test_zk: could not remove %s\n", root);
}

static void on_signal(int sig)
{
    stop_server();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void start_server(void)
{
    char path[512];
    int port = free_port();
    snprintf(root, sizeof root, "/tmp/sluice-test-zk-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        exit(EXIT_FAILURE);
    }
    snprintf(path, sizeof path, "%s/conf", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/conf/zoo.cfg", root);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(EXIT_FAILURE);
    }
    fprintf(f, "tickTime=2000\ndataDir=%s/data\nclientPort=%d\nadmin.enableServer=false\n", root,
            port);
    fclose(f);
    snprintf(quorum, sizeof quorum, "127.0.0.1:%d", port);
    main_pid = getpid();
    server_started = 1;
    atexit(stop_server);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (zookeeper_sh("start") != 0) {
        fprintf(stderr, "test_zk: scripts/zookeeper.sh start failed (is the zookeeper package "
                        "installed? make deps)\n");
        exit(EXIT_FAILURE);
    }
}

/* ------------------------------------------------------------ helpers */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the watch callback saw last (one test at a time per process). */
static _Atomic int seen_event = -1;
static char seen_path[SL_ZK_PATH_MAX + 1];
static _Atomic int seen_count;

static void record_event(void *ctx, int event, const char *path)
{
    (void)ctx;
    if (event == SL_ZK_EV_SESSION)
        return;
    snprintf(seen_path, sizeof seen_path, "%s", path);
    atomic_store(&seen_event, event);
    atomic_fetch_add(&seen_count, 1);
}

static sl_zk *connect_to(const char *q, int64_t connect_ms, int *rc)
{
    struct sl_zk_opts o = {.quorum = q, .session_timeout_ms = SESSION_MS,
                           .connect_timeout_ms = connect_ms, .watch = record_event};
    sl_zk *zk = NULL;
    *rc = sl_zk_connect(&o, &zk);
    return zk;
}

static sl_zk *connect_ok(void)
{
    int rc;
    sl_zk *zk = connect_to(quorum, CONNECT_MS, &rc);
    ck_assert_msg(rc == SL_OK, "connect to %s: %s", quorum, sl_strerror(rc));
    return zk;
}

/* Waits (bounded) until the watch reported `event` on `path`. */
static int wait_event(int event, const char *path)
{
    int64_t until = now_ms() + EVENT_WAIT_MS;
    while (now_ms() < until) {
        if (atomic_load(&seen_event) == event && strcmp(seen_path, path) == 0)
            return 1;
        usleep(10000);
    }
    return 0;
}

/* ------------------------------------------------------------ zk tests */

START_TEST(test_connect_reports_connected_session)
{
    sl_zk *zk = connect_ok();
    ck_assert_int_eq(sl_zk_state(zk), SL_ZK_CONNECTED);
    ck_assert(sl_zk_session_id(zk) != 0);
    sl_zk_close(zk);
}
END_TEST

START_TEST(test_connect_without_server_times_out)
{
    char q[64];
    int rc;
    snprintf(q, sizeof q, "127.0.0.1:%d", free_port());
    int64_t t0 = now_ms();
    sl_zk *zk = connect_to(q, 500, &rc);
    ck_assert_ptr_null(zk);
    ck_assert_int_eq(rc, SL_ETIMEDOUT);
    ck_assert_int_lt(now_ms() - t0, 5000);
}
END_TEST

START_TEST(test_create_get_set_with_versions)
{
    char buf[16], name[64];
    size_t len = 0;
    int32_t v = -1, nv = -1;
    sl_zk *zk = connect_ok();
    ck_assert_int_eq(sl_zk_create(zk, "/t1/a/b", "one", 3, SL_ZK_PERSISTENT, name, sizeof name),
                     SL_OK);
    ck_assert_str_eq(name, "/t1/a/b");
    ck_assert_int_eq(sl_zk_create(zk, "/t1/a/b", "x", 1, SL_ZK_PERSISTENT, NULL, 0), SL_EEXIST);
    ck_assert_int_eq(sl_zk_get(zk, "/t1/a/b", 0, buf, sizeof buf, &len, &v), SL_OK);
    ck_assert_int_eq(len, 3);
    ck_assert_int_eq(memcmp(buf, "one", 3), 0);
    ck_assert_int_eq(v, 0);
    /* compare-and-set: the first writer of version 0 wins, the second loses */
    ck_assert_int_eq(sl_zk_set(zk, "/t1/a/b", "second", 6, 0, &nv), SL_OK);
    ck_assert_int_eq(nv, 1);
    ck_assert_int_eq(sl_zk_set(zk, "/t1/a/b", "third", 5, 0, NULL), SL_EBUSY);
    ck_assert_int_eq(sl_zk_get(zk, "/t1/a/b", 0, buf, sizeof buf, &len, &v), SL_OK);
    ck_assert_int_eq(len, 6);
    ck_assert_int_eq(memcmp(buf, "second", 6), 0);
    ck_assert_int_eq(v, 1);
    /* a buffer too small says so and how much is needed */
    ck_assert_int_eq(sl_zk_get(zk, "/t1/a/b", 0, buf, 2, &len, NULL), SL_ENOSPC);
    ck_assert_int_eq(len, 6);
    /* parents were created empty */
    ck_assert_int_eq(sl_zk_get(zk, "/t1/a", 0, buf, sizeof buf, &len, NULL), SL_OK);
    ck_assert_int_eq(len, 0);
    ck_assert_int_eq(sl_zk_get(zk, "/t1/none", 0, buf, sizeof buf, &len, NULL), SL_ENOTFOUND);
    ck_assert_int_eq(sl_zk_set(zk, "/t1/none", "x", 1, -1, NULL), SL_ENOTFOUND);
    sl_zk_close(zk);
}
END_TEST

START_TEST(test_children_and_delete)
{
    char **names = NULL;
    size_t n = 0;
    int32_t v = -1;
    sl_zk *zk = connect_ok();
    ck_assert_int_eq(sl_zk_create(zk, "/t2/p/c2", NULL, 0, SL_ZK_PERSISTENT, NULL, 0), SL_OK);
    ck_assert_int_eq(sl_zk_create(zk, "/t2/p/c1", NULL, 0, SL_ZK_PERSISTENT, NULL, 0), SL_OK);
    ck_assert_int_eq(sl_zk_children(zk, "/t2/p", 0, &names, &n), SL_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(names[0], "c1");
    ck_assert_str_eq(names[1], "c2");
    sl_zk_children_free(names, n);
    ck_assert_int_eq(sl_zk_delete(zk, "/t2/p", -1), SL_EEXIST); /* has children */
    ck_assert_int_eq(sl_zk_exists(zk, "/t2/p/c1", 0, &v), SL_OK);
    ck_assert_int_eq(sl_zk_delete(zk, "/t2/p/c1", v + 1), SL_EBUSY);
    ck_assert_int_eq(sl_zk_delete(zk, "/t2/p/c1", v), SL_OK);
    ck_assert_int_eq(sl_zk_delete(zk, "/t2/p/c2", -1), SL_OK);
    ck_assert_int_eq(sl_zk_exists(zk, "/t2/p/c1", 0, NULL), SL_ENOTFOUND);
    ck_assert_int_eq(sl_zk_delete(zk, "/t2/p/c1", -1), SL_ENOTFOUND);
    ck_assert_int_eq(sl_zk_children(zk, "/t2/p", 0, &names, &n), SL_OK);
    ck_assert_int_eq(n, 0);
    sl_zk_children_free(names, n);
    ck_assert_int_eq(sl_zk_children(zk, "/t2/none", 0, &names, &n), SL_ENOTFOUND);
    sl_zk_close(zk);
}
END_TEST

START_TEST(test_ephemeral_node_vanishes_with_its_session)
{
    int32_t v;
    sl_zk *watcher = connect_ok(), *owner = connect_ok();
    ck_assert_int_eq(sl_zk_create(owner, "/t3/leader", "me", 2, SL_ZK_EPHEMERAL, NULL, 0), SL_OK);
    ck_assert_int_eq(sl_zk_create(owner, "/t3/leader/child", NULL, 0, SL_ZK_PERSISTENT, NULL, 0),
                     SL_EINVAL); /* ephemeral nodes have no children */
    ck_assert_int_eq(sl_zk_exists(watcher, "/t3/leader", 1, &v), SL_OK);
    sl_zk_close(owner);
    ck_assert_msg(wait_event(SL_ZK_EV_DELETED, "/t3/leader"),
                  "no delete event within %d ms (last event %d on '%s')", EVENT_WAIT_MS,
                  atomic_load(&seen_event), seen_path);
    ck_assert_int_eq(sl_zk_exists(watcher, "/t3/leader", 0, NULL), SL_ENOTFOUND);
    ck_assert_int_eq(sl_zk_exists(watcher, "/t3", 0, NULL), SL_OK); /* the parent is persistent */
    sl_zk_close(watcher);
}
END_TEST

START_TEST(test_sequential_names_are_ordered)
{
    char made[3][SL_ZK_PATH_MAX], **names = NULL;
    size_t n = 0;
    sl_zk *zk = connect_ok();
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(sl_zk_create(zk, "/t4/election/n-", "x", 1, SL_ZK_EPHEMERAL_SEQUENTIAL,
                                      made[i], sizeof made[i]),
                         SL_OK);
        ck_assert_int_eq(strncmp(made[i], "/t4/election/n-", 15), 0);
        ck_assert_int_eq(strlen(made[i]), 15 + 10); /* a 10-digit counter */
        if (i > 0)
            ck_assert_int_lt(strcmp(made[i - 1], made[i]), 0);
    }
    ck_assert_int_eq(sl_zk_children(zk, "/t4/election", 0, &names, &n), SL_OK);
    ck_assert_int_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(names[i], made[i] + strlen("/t4/election/"));
    sl_zk_children_free(names, n);
    char small[8];
    ck_assert_int_eq(sl_zk_create(zk, "/t4/election/n-", NULL, 0, SL_ZK_EPHEMERAL_SEQUENTIAL,
                                  small, sizeof small),
                     SL_ENOSPC);
    sl_zk_close(zk);
}
END_TEST

START_TEST(test_watches_report_create_change_and_children)
{
    char **names = NULL;
    size_t n = 0, len = 0;
    char buf[8];
    sl_zk *zk = connect_ok();
    ck_assert_int_eq(sl_zk_exists(zk, "/t5/w", 1, NULL), SL_ENOTFOUND);
    ck_assert_int_eq(sl_zk_create(zk, "/t5/w", "a", 1, SL_ZK_PERSISTENT, NULL, 0), SL_OK);
    ck_assert(wait_event(SL_ZK_EV_CREATED, "/t5/w"));
    ck_assert_int_eq(sl_zk_get(zk, "/t5/w", 1, buf, sizeof buf, &len, NULL), SL_OK);
    ck_assert_int_eq(sl_zk_set(zk, "/t5/w", "b", 1, -1, NULL), SL_OK);
    ck_assert(wait_event(SL_ZK_EV_CHANGED, "/t5/w"));
    ck_assert_int_eq(sl_zk_children(zk, "/t5/w", 1, &names, &n), SL_OK);
    sl_zk_children_free(names, n);
    ck_assert_int_eq(sl_zk_create(zk, "/t5/w/k", NULL, 0, SL_ZK_PERSISTENT, NULL, 0), SL_OK);
    ck_assert(wait_event(SL_ZK_EV_CHILDREN, "/t5/w"));
    sl_zk_close(zk);
}
END_TEST

START_TEST(test_bad_arguments_are_refused)
{
    char big[SL_ZK_PATH_MAX + 8];
    sl_zk *zk = connect_ok();
    memset(big, 'a', sizeof big - 1);
    big[0] = '/';
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(sl_zk_create(zk, "relative", NULL, 0, SL_ZK_PERSISTENT, NULL, 0), SL_EINVAL);
    ck_assert_int_eq(sl_zk_create(zk, big, NULL, 0, SL_ZK_PERSISTENT, NULL, 0), SL_EINVAL);
    ck_assert_int_eq(sl_zk_create(zk, "/t6", NULL, SL_ZK_DATA_MAX + 1, SL_ZK_PERSISTENT, NULL, 0),
                     SL_EINVAL);
    ck_assert_int_eq(sl_zk_create(zk, "/t6", NULL, 0, 42, NULL, 0), SL_EINVAL);
    ck_assert_int_eq(sl_zk_exists(zk, "/t6/", 0, NULL), SL_EINVAL); /* ZooKeeper refuses it */
    sl_zk_close(zk);
}
END_TEST

/* ------------------------------------------------------------ HA keys */

static char cdir[256];

static int load_ha(const char *yaml, char **ov, int nov, char *err, size_t errlen)
{
    char path[512];
    snprintf(cdir, sizeof cdir, "/tmp/sluice-test-zkcfg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(cdir));
    snprintf(path, sizeof path, "%s/sluice.yaml", cdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(yaml, f);
    fclose(f);
    sl_config *cfg = NULL;
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    int rc = sl_config_load_default(cfg, cdir, ov, nov, err, errlen);
    sl_config_free(cfg);
    unlink(path);
    rmdir(cdir);
    return rc;
}

START_TEST(test_ha_defaults)
{
    sl_config *cfg = NULL;
    const char *s = NULL;
    int64_t ms = 0;
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    ck_assert_int_eq(sl_config_get_string(cfg, "high-availability.type", &s), SL_OK);
    ck_assert_str_eq(s, "none");
    ck_assert_int_eq(sl_config_get_string(cfg, "high-availability.zookeeper.path.root", &s), SL_OK);
    ck_assert_str_eq(s, "/sluice");
    ck_assert_int_eq(sl_config_get_string(cfg, "high-availability.cluster-id", &s), SL_OK);
    ck_assert_str_eq(s, "default");
    ck_assert_int_eq(sl_config_get_string(cfg, "high-availability.zookeeper.quorum", &s),
                     SL_ENOTFOUND);
    ck_assert_int_eq(sl_config_get_string(cfg, "high-availability.storageDir", &s), SL_ENOTFOUND);
    ck_assert_int_eq(
        sl_config_get_ms(cfg, "high-availability.zookeeper.client.session-timeout", &ms), SL_OK);
    ck_assert_int_eq(ms, 60000);
    ck_assert_int_eq(
        sl_config_get_ms(cfg, "high-availability.zookeeper.client.connection-timeout", &ms), SL_OK);
    ck_assert_int_eq(ms, 15000);
    sl_config_free(cfg);
}
END_TEST

START_TEST(test_ha_zookeeper_needs_quorum_and_storage)
{
    char err[1024] = "", want[1024];
    ck_assert_int_eq(load_ha("parallelism.default: 2\nhigh-availability:\n  type: zookeeper\n",
                             NULL, 0, err, sizeof err),
                     SL_EINVAL);
    snprintf(want, sizeof want, "%s/sluice.yaml:3:9: high-availability.type is zookeeper but "
             "high-availability.zookeeper.quorum is not set", cdir);
    ck_assert_str_eq(err, want);
    char *ov[] = {"high-availability.zookeeper.quorum=zk1:2181,[::1]:2182"};
    ck_assert_int_eq(load_ha("high-availability.type: ZooKeeper\n", ov, 1, err, sizeof err),
                     SL_EINVAL);
    snprintf(want, sizeof want, "%s/sluice.yaml:1:25: high-availability.type is zookeeper but "
             "high-availability.storageDir is not set", cdir);
    ck_assert_str_eq(err, want);
    char *ov2[] = {"high-availability.type=zookeeper",
                   "high-availability.storageDir=file:///tmp/ha"};
    ck_assert_int_eq(load_ha("high-availability.zookeeper.quorum: localhost:2181\n", ov2, 2, err,
                             sizeof err),
                     SL_OK);
    char *ov3[] = {"high-availability.type = zookeeper"};
    ck_assert_int_eq(load_ha("\n", ov3, 1, err, sizeof err), SL_EINVAL);
    ck_assert_str_eq(err, "-D high-availability.type = zookeeper: high-availability.type is "
                          "zookeeper but high-availability.zookeeper.quorum is not set");
}
END_TEST

START_TEST(test_ha_keys_must_be_well_formed)
{
    char err[1024] = "", want[1024];
    static const char *bad[] = {"zk1", "zk1:", "zk1:0", "zk1:2181,", "zk1:70000", ":2181",
                                "zk1:2181/chroot", "::1:2181"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml, "high-availability.zookeeper.quorum: \"%s\"\n", bad[i]);
        ck_assert_msg(load_ha(yaml, NULL, 0, err, sizeof err) == SL_EINVAL, "%s", bad[i]);
        snprintf(want, sizeof want, "%s/sluice.yaml:1:37: bad value '%s' for "
                 "high-availability.zookeeper.quorum: expected host:port[,host:port...]",
                 cdir, bad[i]);
        ck_assert_str_eq(err, want);
    }
    ck_assert_int_eq(load_ha("high-availability.zookeeper.path.root: /a/\n", NULL, 0, err,
                             sizeof err),
                     SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "high-availability.zookeeper.path.root"));
    ck_assert_int_eq(load_ha("high-availability.cluster-id: ..\n", NULL, 0, err, sizeof err),
                     SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "high-availability.cluster-id"));
    ck_assert_int_eq(load_ha("high-availability.zookeeper.path.root: /\n", NULL, 0, err,
                             sizeof err),
                     SL_OK);
}
END_TEST

static Suite *zk_suite(void)
{
    Suite *s = suite_create("zk");
    TCase *tc = tcase_create("client");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_connect_reports_connected_session);
    tcase_add_test(tc, test_connect_without_server_times_out);
    tcase_add_test(tc, test_create_get_set_with_versions);
    tcase_add_test(tc, test_children_and_delete);
    tcase_add_test(tc, test_ephemeral_node_vanishes_with_its_session);
    tcase_add_test(tc, test_sequential_names_are_ordered);
    tcase_add_test(tc, test_watches_report_create_change_and_children);
    tcase_add_test(tc, test_bad_arguments_are_refused);
    suite_add_tcase(s, tc);
    TCase *cf = tcase_create("config");
    tcase_add_test(cf, test_ha_defaults);
    tcase_add_test(cf, test_ha_zookeeper_needs_quorum_and_storage);
    tcase_add_test(cf, test_ha_keys_must_be_well_formed);
    suite_add_tcase(s, cf);
    return s;
}

int main(void)
{
    unsetenv("SLUICE_CONF_DIR");
    start_server();
    SRunner *sr = srunner_create(zk_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
