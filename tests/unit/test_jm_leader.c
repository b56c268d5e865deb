/* Unit tests for taskmanager/jm_leader.c: latch addresses, fencing by
 * leader id (admit, raise, the refusal of a jobmanager request), the
 * static leader without HA, and following the leader latch in a REAL
 * ZooKeeper (started once by scripts/zookeeper.sh with tickTime=500, as in
 * test_zk.c; each test runs in a forked child, main stops the server).
 * Run from the top of the checkout. */
#include "common/config.h"
#include "common/ha.h"
#include "common/status.h"
#include "common/util.h"
#include "common/zk.h"
#include "taskmanager/jm_leader.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_MS 10000
#define WAIT_MS 15000

static char root[256];
static char quorum[64];
static pid_t main_pid;
static int server_started;
static sl_closer closer;

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
    if (getpid() != main_pid || !server_started)
        return;
    server_started = 0;
    zookeeper_sh("stop >/dev/null");
    snprintf(line, sizeof line, "rm -rf '%s'", root);
    if (getenv("KEEP_TMP") == NULL && system(line) != 0)
        fprintf(stderr, "test_jm_leader: could not remove %s\n", root);
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
    snprintf(root, sizeof root, "/tmp/sluice-test-jmleader-XXXXXX");
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
    fprintf(f, "tickTime=500\ndataDir=%s/data\nclientPort=%d\nadmin.enableServer=false\n", root,
            port);
    fclose(f);
    snprintf(quorum, sizeof quorum, "127.0.0.1:%d", port);
    main_pid = getpid();
    server_started = 1;
    atexit(stop_server);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (zookeeper_sh("start >/dev/null") != 0) {
        fprintf(stderr, "test_jm_leader: scripts/zookeeper.sh start failed (is the zookeeper "
                        "package installed? make deps)\n");
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

static void set(sl_config *cfg, const char *kv)
{
    char err[256];
    ck_assert_msg(sl_config_set_override(cfg, kv, err, sizeof err) == SL_OK, "%s", err);
}

/* An HA config for cluster id cid against the test's server. */
static sl_config *ha_config(const char *cid)
{
    sl_config *cfg = NULL;
    char kv[128];
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    set(cfg, "high-availability.type=zookeeper");
    snprintf(kv, sizeof kv, "high-availability.zookeeper.quorum=%s", quorum);
    set(cfg, kv);
    snprintf(kv, sizeof kv, "high-availability.cluster-id=%s", cid);
    set(cfg, kv);
    set(cfg, "high-availability.zookeeper.client.session-timeout=2 s");
    return cfg;
}

static sl_zk *connect_ok(const sl_config *cfg)
{
    sl_zk *zk = NULL;
    int rc = sl_ha_connect(cfg, NULL, NULL, &zk);
    ck_assert_msg(rc == SL_OK, "connect to %s: %s", quorum, sl_strerror(rc));
    return zk;
}

/* Creates a latch with data addr; its full path into path. */
static void make_latch(sl_zk *zk, const sl_config *cfg, const char *addr, char *path, size_t len)
{
    char p[SL_ZK_PATH_MAX];
    ck_assert_int_eq(sl_ha_path(cfg, SL_HA_LEADER_DIR "/" SL_HA_LATCH_PREFIX, p, sizeof p), SL_OK);
    ck_assert_int_eq(sl_zk_create(zk, p, addr, strlen(addr), SL_ZK_EPHEMERAL_SEQUENTIAL, path, len),
                     SL_OK);
}

static uint64_t latch_id_of(const char *path)
{
    return sl_ha_latch_id(strrchr(path, '/') + 1);
}

/* Waits (bounded) until the view has `url` (NULL: no leader known). */
static int wait_leader(sl_jmleader *l, const char *url, sl_jmleader_view *v)
{
    int64_t until = now_ms() + WAIT_MS;
    while (now_ms() < until) {
        sl_jmleader_current(l, v);
        if (url == NULL ? !v->known && v->changes > 0 : v->known && strcmp(v->url, url) == 0)
            return 1;
        usleep(20000);
    }
    return 0;
}

/* ------------------------------------------------------------ no server */

START_TEST(test_url_of_latch_data)
{
    char url[SL_ADDR_URL_MAX], longhost[SL_ADDR_HOST_MAX + 16];
    ck_assert_int_eq(sl_jmleader_url_of("127.0.0.1:6123", url, sizeof url), SL_OK);
    ck_assert_str_eq(url, "tcp://127.0.0.1:6123");
    ck_assert_int_eq(sl_jmleader_url_of("[::1]:1", url, sizeof url), SL_OK);
    ck_assert_str_eq(url, "tcp://[::1]:1");
    ck_assert_int_eq(sl_jmleader_url_of("jm-1.example_x:65535", url, sizeof url), SL_OK);
    ck_assert_str_eq(url, "tcp://jm-1.example_x:65535");
    const char *bad[] = {"", "host", "host:", "host:0", "host:65536", "host:12a", ":80",
                         "::1:80", "ho st:80", "a\n:80", "[]:80", "host:123456", "h/x:80",
                         "tcp://h:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(sl_jmleader_url_of(bad[i], url, sizeof url) == SL_EINVAL, "'%s'", bad[i]);
    memset(longhost, 'a', SL_ADDR_HOST_MAX + 1);
    strcpy(longhost + SL_ADDR_HOST_MAX + 1, ":80");
    ck_assert_int_eq(sl_jmleader_url_of(longhost, url, sizeof url), SL_EINVAL);
    ck_assert_int_eq(sl_jmleader_url_of("127.0.0.1:6123", url, 8), SL_ENOSPC);
}
END_TEST

START_TEST(test_without_ha_the_configured_jobmanager_with_id_0)
{
    sl_config *cfg = NULL;
    sl_jmleader *l = NULL;
    sl_jmleader_view v;
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    set(cfg, "jobmanager.rpc.address=127.0.0.1");
    set(cfg, "jobmanager.rpc.port=7001");
    ck_assert_int_eq(sl_jmleader_start(cfg, &closer, &l), SL_OK);
    ck_assert_int_eq(sl_jmleader_ha(l), 0);
    sl_jmleader_current(l, &v);
    ck_assert_int_eq(v.known, 1);
    ck_assert_str_eq(v.url, "tcp://127.0.0.1:7001");
    ck_assert_uint_eq(v.leader_id, 0);
    ck_assert_uint_eq(v.changes, 1);
    sl_jmleader_reread(l); /* a no-op */
    ck_assert_uint_eq(sl_jmleader_highest(l), 0);
    char url[SL_ADDR_URL_MAX];
    ck_assert_int_eq(sl_jmleader_connected(l, url, sizeof url), 0);
    ck_assert_int_eq(sl_jmleader_connect(l, v.url), SL_OK);
    ck_assert_int_eq(sl_jmleader_connected(l, url, sizeof url), 1);
    ck_assert_str_eq(url, "tcp://127.0.0.1:7001");
    ck_assert_int_eq(sl_jmleader_connect(l, NULL), SL_OK);
    ck_assert_int_eq(sl_jmleader_connected(l, url, sizeof url), 0);
    ck_assert_str_eq(url, "");
    sl_jmleader_stop(l);
    sl_config_free(cfg);
    ck_assert_int_eq(sl_closer_drain(&closer, CONNECT_MS), 0);
}
END_TEST

START_TEST(test_admit_refuses_ids_below_the_highest)
{
    sl_config *cfg = NULL;
    sl_jmleader *l = NULL;
    uint64_t highest = 99;
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    ck_assert_int_eq(sl_jmleader_start(cfg, &closer, &l), SL_OK);
    ck_assert_int_eq(sl_jmleader_admit(l, 0, &highest), SL_OK); /* no HA: 0 is always fine */
    ck_assert_uint_eq(highest, 99);
    sl_jmleader_raise(l, 5);
    sl_jmleader_raise(l, 2); /* never lowers */
    ck_assert_uint_eq(sl_jmleader_highest(l), 5);
    ck_assert_int_eq(sl_jmleader_admit(l, 3, &highest), SL_EBUSY);
    ck_assert_uint_eq(highest, 5);
    ck_assert_int_eq(sl_jmleader_admit(l, 0, &highest), SL_EBUSY);
    ck_assert_int_eq(sl_jmleader_admit(l, 5, &highest), SL_OK);
    ck_assert_int_eq(sl_jmleader_admit(l, 7, &highest), SL_OK); /* an admitted id raises it */
    ck_assert_uint_eq(sl_jmleader_highest(l), 7);
    ck_assert_int_eq(sl_jmleader_admit(l, 6, &highest), SL_EBUSY);
    ck_assert_uint_eq(highest, 7);
    sl_jmleader_stop(l);
    sl_config_free(cfg);
}
END_TEST

/* Every request a jobmanager sends is fenced (notify with complete=true
 * commits the file sink: refused too); the others are not. */
START_TEST(test_fence_refuses_stale_jobmanager_requests)
{
    sl_config *cfg = NULL;
    sl_jmleader *l = NULL;
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    ck_assert_int_eq(sl_jmleader_start(cfg, &closer, &l), SL_OK);
    Sluice__Request req = SLUICE__REQUEST__INIT;
    Sluice__NotifyCheckpoint nc = SLUICE__NOTIFY_CHECKPOINT__INIT;
    nc.complete = 1;
    req.body_case = SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT;
    req.notify_checkpoint = &nc;
    sl_arena arena = {0};
    Sluice__Reply reply = SLUICE__REPLY__INIT;
    ck_assert_int_eq(sl_jmleader_fence(l, &req, &reply, &arena), 0); /* 0 >= 0 */
    sl_jmleader_raise(l, 8);
    int kinds[] = {SLUICE__REQUEST__BODY_DEPLOY_TASKS, SLUICE__REQUEST__BODY_START_TASKS,
                   SLUICE__REQUEST__BODY_CANCEL_TASKS, SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT,
                   SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        Sluice__Reply r = SLUICE__REPLY__INIT;
        req.body_case = kinds[i];
        req.leader_id = 3;
        ck_assert_int_eq(sl_jmleader_fence(l, &req, &r, &arena), 1);
        ck_assert_int_eq(r.status, SLUICE__STATUS__STATUS_FAILED);
        ck_assert_str_eq(r.error, "stale leader id 3; the highest seen is 8");
        req.leader_id = 8;
        Sluice__Reply ok = SLUICE__REPLY__INIT;
        ck_assert_int_eq(sl_jmleader_fence(l, &req, &ok, &arena), 0);
        ck_assert_int_eq(ok.status, SLUICE__STATUS__STATUS_OK);
    }
    req.body_case = SLUICE__REQUEST__BODY_HEARTBEAT; /* not a jobmanager's request */
    req.leader_id = 1;
    ck_assert_int_eq(sl_jmleader_fence(l, &req, &reply, &arena), 0);
    sl_arena_free(&arena);
    sl_jmleader_stop(l);
    sl_config_free(cfg);
}
END_TEST

/* ------------------------------------------------------------ ZooKeeper */

/* The lowest latch is the leader (id = counter + 1); deleting it makes the
 * next one the leader at once (watch); none left: no leader; a new latch:
 * followed again. The highest id seen only grows. */
START_TEST(test_follows_the_leader_latch)
{
    sl_config *cfg = ha_config("follow");
    sl_zk *zk = connect_ok(cfg);
    char a[SL_ZK_PATH_MAX], b[SL_ZK_PATH_MAX], c[SL_ZK_PATH_MAX];
    sl_jmleader *l = NULL;
    sl_jmleader_view v;
    ck_assert_int_eq(sl_jmleader_start(cfg, &closer, &l), SL_OK);
    ck_assert_int_eq(sl_jmleader_ha(l), 1);
    ck_assert(wait_leader(l, NULL, &v)); /* no latch yet: no leader */
    make_latch(zk, cfg, "127.0.0.1:7001", a, sizeof a);
    make_latch(zk, cfg, "127.0.0.1:7002", b, sizeof b);
    sl_jmleader_reread(l); /* the folder did not exist: no watch on it yet */
    ck_assert(wait_leader(l, "tcp://127.0.0.1:7001", &v));
    ck_assert_uint_eq(v.leader_id, latch_id_of(a));
    ck_assert_uint_eq(sl_jmleader_highest(l), latch_id_of(a));
    uint64_t changes = v.changes;
    int64_t t0 = now_ms();
    ck_assert_int_eq(sl_zk_delete(zk, a, -1), SL_OK);
    ck_assert(wait_leader(l, "tcp://127.0.0.1:7002", &v));
    ck_assert_int_lt(now_ms() - t0, SL_JMLEADER_REREAD_MS); /* the watch, not the timer */
    ck_assert_uint_eq(v.leader_id, latch_id_of(b));
    ck_assert_uint_gt(v.changes, changes);
    ck_assert_uint_eq(sl_jmleader_highest(l), latch_id_of(b));
    ck_assert_int_eq(sl_zk_delete(zk, b, -1), SL_OK);
    ck_assert(wait_leader(l, NULL, &v));
    ck_assert_uint_eq(sl_jmleader_highest(l), latch_id_of(b)); /* never lowered */
    make_latch(zk, cfg, "[::1]:7003", c, sizeof c);
    ck_assert(wait_leader(l, "tcp://[::1]:7003", &v));
    ck_assert_uint_eq(v.leader_id, latch_id_of(c));
    sl_jmleader_stop(l);
    sl_zk_close(zk);
    sl_config_free(cfg);
}
END_TEST

/* A latch whose session ends (the jobmanager died): its ephemeral node goes
 * and the next candidate is followed. */
START_TEST(test_leader_session_end_moves_to_the_next)
{
    sl_config *cfg = ha_config("session");
    sl_zk *z1 = connect_ok(cfg), *z2 = connect_ok(cfg);
    char a[SL_ZK_PATH_MAX], b[SL_ZK_PATH_MAX];
    make_latch(z1, cfg, "127.0.0.1:7101", a, sizeof a);
    make_latch(z2, cfg, "127.0.0.1:7102", b, sizeof b);
    sl_jmleader *l = NULL;
    sl_jmleader_view v;
    ck_assert_int_eq(sl_jmleader_start(cfg, &closer, &l), SL_OK);
    ck_assert(wait_leader(l, "tcp://127.0.0.1:7101", &v));
    sl_zk_close(z1);
    ck_assert(wait_leader(l, "tcp://127.0.0.1:7102", &v));
    ck_assert_uint_eq(v.leader_id, latch_id_of(b));
    sl_jmleader_stop(l);
    sl_zk_close(z2);
    sl_config_free(cfg);
}
END_TEST

/* ZooKeeper unreachable: start does not block, no leader is known, stop
 * returns within its bound. */
START_TEST(test_unreachable_zookeeper_blocks_nobody)
{
    sl_config *cfg = NULL;
    char kv[128];
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    set(cfg, "high-availability.type=zookeeper");
    snprintf(kv, sizeof kv, "high-availability.zookeeper.quorum=127.0.0.1:%d", free_port());
    set(cfg, kv);
    set(cfg, "high-availability.zookeeper.client.connection-timeout=10 s");
    sl_jmleader *l = NULL;
    sl_jmleader_view v;
    int64_t t0 = now_ms();
    ck_assert_int_eq(sl_jmleader_start(cfg, &closer, &l), SL_OK);
    sl_jmleader_current(l, &v);
    ck_assert_int_eq(v.known, 0);
    ck_assert_uint_eq(v.changes, 0);
    usleep(200000);
    sl_jmleader_stop(l); /* the thread is in a 10 s connect: stop gives up waiting */
    ck_assert_int_lt(now_ms() - t0, SL_JMLEADER_STOP_MS + 2000);
    sl_config_free(cfg);
}
END_TEST

static Suite *jm_leader_suite(void)
{
    Suite *s = suite_create("jm_leader");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_url_of_latch_data);
    tcase_add_test(tc, test_without_ha_the_configured_jobmanager_with_id_0);
    tcase_add_test(tc, test_admit_refuses_ids_below_the_highest);
    tcase_add_test(tc, test_fence_refuses_stale_jobmanager_requests);
    tcase_add_test(tc, test_follows_the_leader_latch);
    tcase_add_test(tc, test_leader_session_end_moves_to_the_next);
    tcase_add_test(tc, test_unreachable_zookeeper_blocks_nobody);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    unsetenv("SLUICE_CONF_DIR");
    if (sl_closer_init(&closer, 4) != SL_OK)
        return EXIT_FAILURE;
    start_server();
    SRunner *sr = srunner_create(jm_leader_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
