/* A taskmanager (taskmanager/task_manager.c, in process) deploys a job
 * attempt once however often the deploy arrives: req0 resends a request
 * when a connection drops, so two identical DeployTasks may be served at
 * the same time by two RPC workers. Both must answer OK and the attempt
 * must run once.
 *
 * The taskmanager talks to a fake jobmanager (an RPC server of our own)
 * that counts the task-state reports of every job: each run reports its
 * task's first state (DEPLOYING, since nothing is started) exactly once,
 * so two runs of one attempt show up as two reports. Runs in check's
 * forked child (nng, threads). */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/config.h"
#include "common/rpc.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/task_manager.h"

#define PAIRS 100
#define MAX_MSG (1 << 20)
#define WAIT_MS 20000

/* ---- the fake jobmanager */

typedef struct fake_jm {
    pthread_mutex_t mu;
    int tm_rpc_port, tm_data_port;
    int heartbeats;
    int registrations;
    int incarnation;            /* of the latest registration */
    uint8_t token[SL_SESSION_TOKEN_LEN]; /* its session token */
    int forget;                 /* heartbeats answer "unknown" until it registers again */
    int reports[PAIRS];         /* task-state reports by job index */
    int stray_reports;          /* of a job or task we did not deploy */
} fake_jm;

static fake_jm jm;

/* Job ids are 32 hex digits; the last two give the index into jm.reports. */
static void job_id_of(int k, char out[33])
{
    snprintf(out, 33, "0123456789abcdef0123456789ab%04x", (unsigned)k);
}

static int job_index(const char *id)
{
    char want[33];
    unsigned k;
    if (id == NULL || strlen(id) != 32 || sscanf(id + 28, "%4x", &k) != 1 || k >= PAIRS)
        return -1;
    job_id_of((int)k, want);
    return strcmp(want, id) == 0 ? (int)k : -1;
}

/* The jobmanager's calls carry the session token of the registration. */
static void with_token(sl_rpc_client *c)
{
    uint8_t token[SL_SESSION_TOKEN_LEN];
    pthread_mutex_lock(&jm.mu);
    memcpy(token, jm.token, sizeof(token));
    pthread_mutex_unlock(&jm.mu);
    sl_rpc_client_set_token(c, token, sizeof(token));
}

static void jm_handle(void *arg, const Sluice__Request *req, Sluice__Reply *reply,
                      sl_arena *arena)
{
    (void)arg;
    (void)arena;
    pthread_mutex_lock(&jm.mu);
    switch (req->body_case) {
    case SLUICE__REQUEST__BODY_REGISTER_TM:
        jm.tm_rpc_port = (int)req->register_tm->rpc_port;
        jm.tm_data_port = (int)req->register_tm->data_port;
        jm.registrations++;
        jm.incarnation = (int)req->register_tm->incarnation;
        jm.forget = 0;
        if (req->register_tm->session_token.len == sizeof(jm.token))
            memcpy(jm.token, req->register_tm->session_token.data, sizeof(jm.token));
        break;
    case SLUICE__REQUEST__BODY_HEARTBEAT:
        jm.heartbeats++;
        reply->known = !jm.forget;
        break;
    case SLUICE__REQUEST__BODY_TASK_STATE: {
        int k = job_index(req->task_state->job_id);
        if (k >= 0 && req->task_state->attempt == 1 && req->task_state->task == 0)
            jm.reports[k]++;
        else
            jm.stray_reports++;
        break;
    }
    default: break;
    }
    pthread_mutex_unlock(&jm.mu);
}

static int jm_get(const int *field)
{
    pthread_mutex_lock(&jm.mu);
    int v = *field;
    pthread_mutex_unlock(&jm.mu);
    return v;
}

/* Polls (10 ms) until *field >= want; 0 if WAIT_MS passed first. */
static int wait_at_least(const int *field, int want)
{
    for (int64_t until = sl_now_ms() + WAIT_MS; sl_now_ms() < until; sl_sleep_ms(10))
        if (jm_get(field) >= want)
            return 1;
    return jm_get(field) >= want;
}

/* ---- deploys */

static const char JOB_YAML[] = "name: once\n"
                               "pipeline:\n"
                               "  - name: gen\n"
                               "    source: datagen\n"
                               "    count: 10\n"
                               "  - name: out\n"
                               "    sink: blackhole\n";

typedef struct deployer {
    sl_rpc_client *client;
    pthread_barrier_t *go;
    const Sluice__Request *req;
    int rv, status;
    char error[256];
} deployer;

static void *deploy_main(void *arg)
{
    deployer *d = arg;
    Sluice__Reply *reply = NULL;
    pthread_barrier_wait(d->go);
    d->rv = sl_rpc_call(d->client, d->req, 10000, &reply);
    if (d->rv == SL_OK) {
        d->status = reply->status;
        snprintf(d->error, sizeof(d->error), "%s", reply->error ? reply->error : "");
        sluice__reply__free_unpacked(reply, NULL);
    }
    return NULL;
}

/* The attempt's data token (any 16 bytes: the test plays the jobmanager). */
static uint8_t data_token[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* Sends the same DeployTasks of job k on both clients at once. */
static void deploy_twice(sl_rpc_client *c[2], int k, const char *data_url)
{
    char job_id[33];
    char *addrs[1] = {(char *)data_url};
    uint32_t local[1] = {0};
    job_id_of(k, job_id);
    Sluice__DeployTasks d = SLUICE__DEPLOY_TASKS__INIT;
    d.job_id = job_id;
    d.attempt = 1;
    d.file_name = "once.yaml";
    d.yaml = (char *)JOB_YAML;
    d.config = "";
    d.n_task_addrs = 1;
    d.task_addrs = addrs;
    d.n_local_tasks = 1;
    d.local_tasks = local;
    d.restore_dir = "";
    d.data_token.data = data_token;
    d.data_token.len = sizeof(data_token);
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_DEPLOY_TASKS;
    req.deploy_tasks = &d;

    pthread_barrier_t go;
    pthread_t th[2];
    deployer dp[2];
    pthread_barrier_init(&go, NULL, 2);
    for (int i = 0; i < 2; i++) {
        dp[i] = (deployer){.client = c[i], .go = &go, .req = &req};
        ck_assert_int_eq(pthread_create(&th[i], NULL, deploy_main, &dp[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(dp[i].rv == SL_OK, "job %d: deploy call %d: %s", k, i,
                      sl_strerror(dp[i].rv));
        ck_assert_msg(dp[i].status == SLUICE__STATUS__STATUS_OK, "job %d: deploy %d: %s", k, i,
                      dp[i].error);
    }
    pthread_barrier_destroy(&go);
}

static void set(sl_config *cfg, const char *key, const char *value)
{
    char err[256];
    ck_assert_msg(sl_config_set_at(cfg, key, value, "test", 1, 1, err, sizeof(err)) == SL_OK,
                  "%s", err);
}

START_TEST(test_concurrent_identical_deploys_run_once)
{
    sl_rpc_server *srv = NULL;
    sl_config *cfg = NULL;
    sl_tm *tm = NULL;
    sl_rpc_client *c[2] = {NULL, NULL};
    int jm_port = 0;
    char url[64], port[16], err[256];

    memset(&jm, 0, sizeof(jm));
    pthread_mutex_init(&jm.mu, NULL);
    ck_assert_int_eq(
        sl_rpc_server_start("tcp://127.0.0.1:0", 2, MAX_MSG, jm_handle, NULL, &srv, &jm_port),
        SL_OK);
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    snprintf(port, sizeof(port), "%d", jm_port);
    set(cfg, "jobmanager.rpc.port", port);
    set(cfg, "heartbeat.interval", "20 ms");
    ck_assert_int_eq(sl_tm_start(cfg, &tm), SL_OK);
    ck_assert_msg(wait_at_least(&jm.tm_rpc_port, 1), "the taskmanager did not register");

    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", jm_get(&jm.tm_rpc_port));
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(sl_rpc_client_open(url, 1, MAX_MSG, NULL, NULL, &c[i], err, sizeof(err)),
                         SL_OK);
    for (int i = 0; i < 2; i++)
        with_token(c[i]);
    char data_url[64];
    snprintf(data_url, sizeof(data_url), "tcp://127.0.0.1:%d", jm_get(&jm.tm_data_port));
    for (int k = 0; k < PAIRS; k++)
        deploy_twice(c, k, data_url);

    /* Every run exists now. A heartbeat that arrives after this point is
     * followed by a pass that reports every run's first state, and that
     * pass is done when the heartbeat after it arrives. */
    int hb = jm_get(&jm.heartbeats);
    ck_assert_msg(wait_at_least(&jm.heartbeats, hb + 2), "no heartbeats");
    int twice = 0;
    for (int k = 0; k < PAIRS; k++) {
        int n = jm_get(&jm.reports[k]);
        ck_assert_msg(n >= 1, "job %d: its task was never reported", k);
        twice += n > 1;
    }
    ck_assert_msg(twice == 0, "%d of %d attempts deployed twice", twice, PAIRS);
    ck_assert_int_eq(jm_get(&jm.stray_reports), 0);

    /* A later resend (nothing in flight) is still a no-op. */
    deploy_twice(c, 0, data_url);
    hb = jm_get(&jm.heartbeats);
    ck_assert(wait_at_least(&jm.heartbeats, hb + 2));
    ck_assert_int_eq(jm_get(&jm.reports[0]), 1);

    for (int i = 0; i < 2; i++)
        sl_rpc_client_close(c[i]);
    sl_tm_stop(tm);
    sl_rpc_server_stop(srv);
    sl_config_free(cfg);
}
END_TEST

/* A deploy that fails leaves nothing behind: the same deploy, resent,
 * fails again with the same reason (it is not taken for a run in progress
 * or one that exists). */
/* A deploy of attempt 1 of JOB_YAML (its task 0 here) with naddrs task
 * addresses (the job has 1 task). */
static void one_task_deploy(Sluice__DeployTasks *d, char *job_id, char **addrs, size_t naddrs,
                            uint32_t *local)
{
    sluice__deploy_tasks__init(d);
    d->job_id = job_id;
    d->attempt = 1;
    d->file_name = "once.yaml";
    d->yaml = (char *)JOB_YAML;
    d->config = "";
    d->n_task_addrs = naddrs;
    d->task_addrs = addrs;
    d->n_local_tasks = 1;
    d->local_tasks = local;
    d->restore_dir = "";
    d->data_token.data = data_token;
    d->data_token.len = sizeof(data_token);
}

START_TEST(test_failed_deploy_is_not_remembered)
{
    sl_rpc_server *srv = NULL;
    sl_config *cfg = NULL;
    sl_tm *tm = NULL;
    sl_rpc_client *c[2] = {NULL, NULL};
    int jm_port = 0;
    char url[64], port[16], err[256], job_id[33];

    memset(&jm, 0, sizeof(jm));
    pthread_mutex_init(&jm.mu, NULL);
    ck_assert_int_eq(
        sl_rpc_server_start("tcp://127.0.0.1:0", 2, MAX_MSG, jm_handle, NULL, &srv, &jm_port),
        SL_OK);
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    snprintf(port, sizeof(port), "%d", jm_port);
    set(cfg, "jobmanager.rpc.port", port);
    ck_assert_int_eq(sl_tm_start(cfg, &tm), SL_OK);
    ck_assert_msg(wait_at_least(&jm.tm_rpc_port, 1), "the taskmanager did not register");
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", jm_get(&jm.tm_rpc_port));
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(sl_rpc_client_open(url, 1, MAX_MSG, NULL, NULL, &c[i], err, sizeof(err)),
                         SL_OK);
    for (int i = 0; i < 2; i++)
        with_token(c[i]);

    job_id_of(1, job_id);
    char *addrs[2] = {"tcp://127.0.0.1:1", "tcp://127.0.0.1:1"}; /* the job has 1 task */
    uint32_t local[1] = {0};
    Sluice__DeployTasks d;
    one_task_deploy(&d, job_id, addrs, 2, local);
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_DEPLOY_TASKS;
    req.deploy_tasks = &d;
    /* without a data token (or one of another length) it is refused */
    for (size_t len = 0; len <= 17; len += 17) {
        Sluice__Reply *reply = NULL;
        uint8_t long_token[17] = {0};
        d.n_task_addrs = 1;
        d.data_token.data = len == 0 ? NULL : long_token;
        d.data_token.len = len;
        ck_assert_int_eq(sl_rpc_call(c[0], &req, 10000, &reply), SL_OK);
        ck_assert_int_eq(reply->status, SLUICE__STATUS__STATUS_FAILED);
        ck_assert_msg(strstr(reply->error, "data token") != NULL, "%s", reply->error);
        sluice__reply__free_unpacked(reply, NULL);
    }
    d.n_task_addrs = 2;
    d.data_token.data = data_token;
    d.data_token.len = sizeof(data_token);
    for (int i = 0; i < 4; i++) {
        Sluice__Reply *reply = NULL;
        ck_assert_int_eq(sl_rpc_call(c[i % 2], &req, 10000, &reply), SL_OK);
        ck_assert_int_eq(reply->status, SLUICE__STATUS__STATUS_FAILED);
        ck_assert_msg(strstr(reply->error, "2 task addresses") != NULL, "%s", reply->error);
        sluice__reply__free_unpacked(reply, NULL);
    }
    /* the correct deploy of that attempt then runs */
    d.n_task_addrs = 1;
    Sluice__Reply *reply = NULL;
    ck_assert_int_eq(sl_rpc_call(c[0], &req, 10000, &reply), SL_OK);
    ck_assert_int_eq(reply->status, SLUICE__STATUS__STATUS_OK);
    sluice__reply__free_unpacked(reply, NULL);
    ck_assert(wait_at_least(&jm.reports[1], 1));

    for (int i = 0; i < 2; i++)
        sl_rpc_client_close(c[i]);
    sl_tm_stop(tm);
    sl_rpc_server_stop(srv);
    sl_config_free(cfg);
}
END_TEST

/* One deploy of job k (1 task) for the taskmanager's incarnation inc:
 * the reply's status. */
static int deploy_for(sl_rpc_client *c, int k, uint32_t inc)
{
    char job_id[33];
    job_id_of(k, job_id);
    char *addrs[1] = {"tcp://127.0.0.1:1"};
    uint32_t local[1] = {0};
    Sluice__DeployTasks d;
    one_task_deploy(&d, job_id, addrs, 1, local);
    d.tm_incarnation = inc;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_DEPLOY_TASKS;
    req.deploy_tasks = &d;
    Sluice__Reply *reply = NULL;
    ck_assert_int_eq(sl_rpc_call(c, &req, 10000, &reply), SL_OK);
    int status = reply->status;
    sluice__reply__free_unpacked(reply, NULL);
    return status;
}

/* A jobmanager that forgets the taskmanager (its heartbeat says unknown)
 * makes it drop its runs and register again as the next incarnation; a
 * deploy meant for the earlier one (e.g. delivered late after a partition)
 * is refused, one for the new incarnation runs. */
START_TEST(test_forgotten_taskmanager_registers_anew)
{
    sl_rpc_server *srv = NULL;
    sl_config *cfg = NULL;
    sl_tm *tm = NULL;
    sl_rpc_client *c = NULL;
    int jm_port = 0;
    char url[64], port[16], err[256];

    memset(&jm, 0, sizeof(jm));
    pthread_mutex_init(&jm.mu, NULL);
    ck_assert_int_eq(
        sl_rpc_server_start("tcp://127.0.0.1:0", 2, MAX_MSG, jm_handle, NULL, &srv, &jm_port),
        SL_OK);
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    snprintf(port, sizeof(port), "%d", jm_port);
    set(cfg, "jobmanager.rpc.port", port);
    set(cfg, "heartbeat.interval", "50 ms");
    ck_assert_int_eq(sl_tm_start(cfg, &tm), SL_OK);
    ck_assert_msg(wait_at_least(&jm.registrations, 1), "the taskmanager did not register");
    ck_assert_int_eq(jm_get(&jm.incarnation), 0);
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", jm_get(&jm.tm_rpc_port));
    ck_assert_int_eq(sl_rpc_client_open(url, 1, MAX_MSG, NULL, NULL, &c, err, sizeof(err)), SL_OK);
    with_token(c);
    ck_assert_int_eq(deploy_for(c, 1, 0), SLUICE__STATUS__STATUS_OK);
    ck_assert(wait_at_least(&jm.reports[1], 1));

    pthread_mutex_lock(&jm.mu);
    jm.forget = 1;
    pthread_mutex_unlock(&jm.mu);
    ck_assert_msg(wait_at_least(&jm.registrations, 2), "the taskmanager did not register again");
    ck_assert_int_eq(jm_get(&jm.incarnation), 1);
    /* its run of job 1 was cancelled and reported to nobody */
    ck_assert_int_eq(jm_get(&jm.reports[1]), 1);

    /* the old registration's session token is refused; with the new one, a
     * deploy for the old incarnation still is */
    ck_assert_int_eq(deploy_for(c, 2, 1), SLUICE__STATUS__STATUS_DENIED);
    with_token(c);
    ck_assert_int_eq(deploy_for(c, 2, 0), SLUICE__STATUS__STATUS_FAILED);
    ck_assert_int_eq(deploy_for(c, 3, 1), SLUICE__STATUS__STATUS_OK);
    ck_assert(wait_at_least(&jm.reports[3], 1));
    ck_assert_int_eq(jm_get(&jm.reports[2]), 0);

    sl_rpc_client_close(c);
    sl_tm_stop(tm);
    sl_rpc_server_stop(srv);
    sl_config_free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tm_deploy");
    TCase *tc = tcase_create("deploy");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_concurrent_identical_deploys_run_once);
    tcase_add_test(tc, test_failed_deploy_is_not_remembered);
    tcase_add_test(tc, test_forgotten_taskmanager_registers_anew);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
