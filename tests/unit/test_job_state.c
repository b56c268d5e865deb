/* Unit tests: the job state machine of the jobmanager (job.c) driven round
 * by round by the test itself (no loop thread, no jobmanager server): a
 * fake taskmanager on loopback answers deploy/start/cancel with OK, and the
 * test plays the taskmanager's task state reports.
 *
 * Covered: submit -> CREATED -> RUNNING; a task failure with a restart
 * strategy -> RESTARTING -> RUNNING (attempt 2); no restart left -> FAILED;
 * cancel -> CANCELLING -> CANCELED; all tasks finished -> FINISHED; a lost
 * taskmanager fails the job; transitions the state machine does not allow
 * are refused. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/rpc_bounds.h"
#include "common/rpc_server.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/jobmanager.h"

#define TM_ID "tm-1"
#define WAIT_MS 5000

#define JOB_YAML                                                                    \
    "name: states\n"                                                                \
    "pipeline:\n"                                                                   \
    "  - name: lines\n"                                                             \
    "    source: file\n"                                                            \
    "    path: /nonexistent/in\n"                                                   \
    "  - name: out\n"                                                               \
    "    sink: print\n"                                                             \
    "    input: lines\n"

static sl_config *cfg;
static sl_jm jm;
static sl_rpc_server *tm_server;
static int tm_port;
static pthread_mutex_t count_mu = PTHREAD_MUTEX_INITIALIZER;
static int ndeploy, nstart, ncancel;
static char job_id[SL_JOB_ID_LEN + 1];

/* The fake taskmanager: every call is accepted. */
static void tm_handler(void *arg, const Sluice__Request *req, Sluice__Reply *reply,
                       sl_arena *arena)
{
    (void)arg;
    (void)arena;
    (void)reply;
    pthread_mutex_lock(&count_mu);
    ndeploy += req->body_case == SLUICE__REQUEST__BODY_DEPLOY_TASKS;
    nstart += req->body_case == SLUICE__REQUEST__BODY_START_TASKS;
    ncancel += req->body_case == SLUICE__REQUEST__BODY_CANCEL_TASKS;
    pthread_mutex_unlock(&count_mu);
}

static int counted(const int *n)
{
    pthread_mutex_lock(&count_mu);
    int v = *n;
    pthread_mutex_unlock(&count_mu);
    return v;
}

static void set(const char *key, const char *value)
{
    char err[256];
    ck_assert_msg(sl_config_set_at(cfg, key, value, "test", 1, 1, err, sizeof(err)) == SL_OK,
                  "%s", err);
}

static void setup(void)
{
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    memset(&jm, 0, sizeof(jm));
    ndeploy = nstart = ncancel = 0;
    job_id[0] = '\0';
    ck_assert_int_eq(sl_rpc_server_start_role(SL_RPC_SERVE_TASKMANAGER, "tcp://127.0.0.1:0", 2,
                                              1 << 20, tm_handler, NULL, &tm_server, &tm_port),
                     SL_OK);
}

/* The fake taskmanager (re)registers as incarnation inc; jm.mu held. */
static void register_tm(uint32_t inc)
{
    char err[256];
    Sluice__RegisterTm r = SLUICE__REGISTER_TM__INIT;
    r.tm_id = (char *)TM_ID;
    r.host = (char *)"127.0.0.1";
    r.rpc_port = (uint32_t)tm_port;
    r.data_port = 1;
    r.slots = 4;
    r.incarnation = inc;
    static uint8_t token[SL_SESSION_TOKEN_LEN];
    r.session_token.data = token;
    r.session_token.len = sizeof(token);
    ck_assert_msg(sl_tmreg_register(&jm, &r, err, sizeof(err)) == SL_OK, "%s", err);
}

/* The jobmanager's state, as sl_jm_start sets it up (without its threads),
 * and the fake taskmanager registered. */
static void start(void)
{
    jm.cfg = cfg;
    jm.hb_timeout_ms = 60000;
    jm.slot_wait_ms = 5000;
    jm.chk_rpc_timeout_ms = 5000;
    jm.max_msg = 1 << 20;
    ck_assert_int_eq(sl_wake_init(&jm.wake), SL_OK);
    pthread_mutex_init(&jm.mu, NULL);
    sl_tmcall_init(&jm.calls, &jm.mu, &jm.wake.cv, &jm.wake.kicked);
    ck_assert_int_eq(sl_tmcloser_init(&jm.closer), SL_OK);
    pthread_mutex_lock(&jm.mu);
    register_tm(0);
    pthread_mutex_unlock(&jm.mu);
}

static void teardown(void)
{
    sl_tmcall_free(&jm.calls);
    sl_tmreg_free_all(&jm);
    sl_jm_job_free_all(&jm);
    ck_assert_int_eq(sl_tmcloser_drain(&jm.closer, SL_TMCLOSER_DRAIN_MS), 0);
    sl_tmcloser_destroy(&jm.closer);
    pthread_mutex_destroy(&jm.mu);
    sl_wake_destroy(&jm.wake);
    sl_rpc_server_stop(tm_server);
    sl_config_free(cfg);
}

/* One round of the loop (jm_loop.c's loop_round), jm.mu held. */
static void loop_round(void)
{
    sl_tmcall_outcome o;
    sl_tmreg_tick(&jm);
    sl_jm_job_tms_lost(&jm);
    while (sl_tmcall_take(&jm.calls, &o)) {
        sl_jm_job_call_ended(&jm, &o);
        sl_tmcall_outcome_clear(&o);
    }
    for (sl_job *job = jm.jobs; job != NULL; job = job->next)
        sl_jm_job_step(&jm, job);
    sl_jm_job_trim(&jm);
}

static sl_job *job(void)
{
    sl_job *j = sl_jm_job_find(&jm, job_id);
    ck_assert_ptr_nonnull(j);
    return j;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs rounds until the job is in state want (or WAIT_MS passed). */
static void run_until(Sluice__JobState want)
{
    Sluice__JobState st = SLUICE__JOB_STATE__JOB_CREATED;
    for (int waited = 0; waited < WAIT_MS; waited += 5) {
        pthread_mutex_lock(&jm.mu);
        loop_round();
        st = job()->state;
        pthread_mutex_unlock(&jm.mu);
        if (st == want)
            return;
        sleep_ms(5);
    }
    ck_abort_msg("job is %s, not %s after %d ms", sl_job_state_name(st),
                 sl_job_state_name(want), WAIT_MS);
}

static void submit(void)
{
    char err[512] = "";
    Sluice__SubmitJob s = SLUICE__SUBMIT_JOB__INIT;
    s.file_name = (char *)"states.yaml";
    s.yaml = (char *)JOB_YAML;
    ck_assert_msg(sl_jm_submit_job(&jm, &s, job_id, err, sizeof(err)) == SL_OK, "%s", err);
    pthread_mutex_lock(&jm.mu);
    ck_assert_int_eq(job()->state, SLUICE__JOB_STATE__JOB_CREATED);
    pthread_mutex_unlock(&jm.mu);
}

/* Every task of the current attempt reports state (as its taskmanager
 * would); jm.mu held. */
static void report_all(Sluice__TaskState state, const char *message)
{
    sl_job *j = job();
    for (int t = 0; t < j->graph.ntasks; t++) {
        Sluice__TaskStateUpdate u = SLUICE__TASK_STATE_UPDATE__INIT;
        u.tm_id = (char *)TM_ID;
        u.job_id = job_id;
        u.attempt = j->attempt;
        u.task = (uint32_t)t;
        u.state = state;
        u.message = (char *)message;
        sl_jm_job_task_update(&jm, &u);
    }
}

static void report(Sluice__TaskState state, const char *message)
{
    pthread_mutex_lock(&jm.mu);
    report_all(state, message);
    pthread_mutex_unlock(&jm.mu);
}

/* Submitted and running, its tasks too. */
static void running(void)
{
    submit();
    run_until(SLUICE__JOB_STATE__JOB_RUNNING);
    report(SLUICE__TASK_STATE__TASK_RUNNING, "");
}

START_TEST(test_submit_runs)
{
    start();
    submit();
    run_until(SLUICE__JOB_STATE__JOB_RUNNING);
    ck_assert_int_eq(counted(&ndeploy), 1);
    ck_assert_int_eq(counted(&nstart), 1);
    pthread_mutex_lock(&jm.mu);
    ck_assert_uint_eq(job()->attempt, 1);
    ck_assert_int_eq(job()->holds_slots, 1);
    pthread_mutex_unlock(&jm.mu);
}
END_TEST

START_TEST(test_task_failure_restarts)
{
    set("restart-strategy.type", "fixed-delay");
    set("restart-strategy.fixed-delay.attempts", "1");
    set("restart-strategy.fixed-delay.delay", "0 ms");
    start();
    running();
    pthread_mutex_lock(&jm.mu);
    report_all(SLUICE__TASK_STATE__TASK_FAILED, "boom");
    ck_assert_int_eq(job()->state, SLUICE__JOB_STATE__JOB_RESTARTING);
    ck_assert_ptr_nonnull(strstr(job()->failure, "boom"));
    pthread_mutex_unlock(&jm.mu);
    run_until(SLUICE__JOB_STATE__JOB_RUNNING);
    pthread_mutex_lock(&jm.mu);
    ck_assert_uint_eq(job()->attempt, 2);
    ck_assert_uint_eq(job()->restarts, 1);
    pthread_mutex_unlock(&jm.mu);
    ck_assert_int_eq(counted(&ndeploy), 2);
    ck_assert_int_ge(counted(&ncancel), 1);
}
END_TEST

START_TEST(test_no_restart_left_fails)
{
    set("restart-strategy.type", "fixed-delay");
    set("restart-strategy.fixed-delay.attempts", "1");
    set("restart-strategy.fixed-delay.delay", "0 ms");
    start();
    running();
    report(SLUICE__TASK_STATE__TASK_FAILED, "first");
    run_until(SLUICE__JOB_STATE__JOB_RUNNING);
    report(SLUICE__TASK_STATE__TASK_RUNNING, "");
    pthread_mutex_lock(&jm.mu);
    report_all(SLUICE__TASK_STATE__TASK_FAILED, "second");
    ck_assert_int_eq(job()->state, SLUICE__JOB_STATE__JOB_FAILING);
    pthread_mutex_unlock(&jm.mu);
    run_until(SLUICE__JOB_STATE__JOB_FAILED);
    pthread_mutex_lock(&jm.mu);
    ck_assert_ptr_nonnull(strstr(job()->failure, "second"));
    ck_assert_int_eq(job()->holds_slots, 0);
    pthread_mutex_unlock(&jm.mu);
}
END_TEST

START_TEST(test_no_restart_strategy_fails)
{
    set("restart-strategy.type", "none");
    start();
    running();
    report(SLUICE__TASK_STATE__TASK_FAILED, "boom");
    run_until(SLUICE__JOB_STATE__JOB_FAILED);
    pthread_mutex_lock(&jm.mu);
    ck_assert_uint_eq(job()->attempt, 1);
    pthread_mutex_unlock(&jm.mu);
}
END_TEST

START_TEST(test_cancel)
{
    start();
    running();
    pthread_mutex_lock(&jm.mu);
    sl_jm_job_cancel(&jm, job());
    ck_assert_int_eq(job()->state, SLUICE__JOB_STATE__JOB_CANCELLING);
    pthread_mutex_unlock(&jm.mu);
    for (int waited = 0; counted(&ncancel) == 0 && waited < WAIT_MS; waited += 5) {
        pthread_mutex_lock(&jm.mu);
        loop_round();
        pthread_mutex_unlock(&jm.mu);
        sleep_ms(5);
    }
    ck_assert_int_eq(counted(&ncancel), 1);
    pthread_mutex_lock(&jm.mu);
    ck_assert_int_eq(job()->state, SLUICE__JOB_STATE__JOB_CANCELLING); /* tasks still run */
    pthread_mutex_unlock(&jm.mu);
    report(SLUICE__TASK_STATE__TASK_CANCELED, "");
    run_until(SLUICE__JOB_STATE__JOB_CANCELED);
}
END_TEST

START_TEST(test_finish)
{
    start();
    running();
    report(SLUICE__TASK_STATE__TASK_FINISHED, "");
    run_until(SLUICE__JOB_STATE__JOB_FINISHED);
    pthread_mutex_lock(&jm.mu);
    ck_assert_int_eq(job()->holds_slots, 0);
    /* a terminal job stays terminal */
    sl_jm_job_cancel(&jm, job());
    ck_assert_int_eq(job()->state, SLUICE__JOB_STATE__JOB_FINISHED);
    sl_jm_job_fail(&jm, job(), "too late");
    ck_assert_int_eq(job()->state, SLUICE__JOB_STATE__JOB_FINISHED);
    pthread_mutex_unlock(&jm.mu);
}
END_TEST

START_TEST(test_lost_taskmanager_fails_the_job)
{
    set("restart-strategy.type", "none");
    start();
    running();
    pthread_mutex_lock(&jm.mu);
    sl_tmreg_lose(&jm, sl_tmreg_find(&jm, TM_ID), "test");
    /* reported up by the registry, acted on by the job module */
    ck_assert_int_eq(job()->state, SLUICE__JOB_STATE__JOB_RUNNING);
    pthread_mutex_unlock(&jm.mu);
    run_until(SLUICE__JOB_STATE__JOB_FAILED);
    pthread_mutex_lock(&jm.mu);
    ck_assert_msg(strstr(job()->failure, "taskmanager " TM_ID) != NULL &&
                      strstr(job()->failure, "lost: test") != NULL,
                  "%s", job()->failure);
    pthread_mutex_unlock(&jm.mu);
}
END_TEST

/* The taskmanager registers again as a new incarnation while the
 * jobmanager still has it RUNNING (it gave up on us first, e.g. after a
 * one-way partition): its tasks are gone, so it is lost (the job fails)
 * and RUNNING again. A resent registration of the same incarnation
 * changes nothing. */
START_TEST(test_new_incarnation_is_a_loss)
{
    set("restart-strategy.type", "none");
    start();
    running();
    pthread_mutex_lock(&jm.mu);
    register_tm(0);
    loop_round();
    ck_assert_int_eq(job()->state, SLUICE__JOB_STATE__JOB_RUNNING);
    register_tm(1);
    ck_assert_int_eq(sl_tmreg_find(&jm, TM_ID)->state, SL_TMREG_RUNNING);
    ck_assert_int_eq(sl_tmreg_find(&jm, TM_ID)->incarnation, 1);
    pthread_mutex_unlock(&jm.mu);
    run_until(SLUICE__JOB_STATE__JOB_FAILED);
    pthread_mutex_lock(&jm.mu);
    ck_assert_msg(strstr(job()->failure, "registered again as incarnation 1") != NULL, "%s",
                  job()->failure);
    pthread_mutex_unlock(&jm.mu);
}
END_TEST

START_TEST(test_illegal_transitions_refused)
{
    const Sluice__JobState C = SLUICE__JOB_STATE__JOB_CREATED, R = SLUICE__JOB_STATE__JOB_RUNNING,
                           FG = SLUICE__JOB_STATE__JOB_FAILING,
                           RS = SLUICE__JOB_STATE__JOB_RESTARTING,
                           F = SLUICE__JOB_STATE__JOB_FAILED,
                           CG = SLUICE__JOB_STATE__JOB_CANCELLING,
                           CD = SLUICE__JOB_STATE__JOB_CANCELED,
                           FN = SLUICE__JOB_STATE__JOB_FINISHED;
    ck_assert(sl_jm_job_transition_ok(C, R) && sl_jm_job_transition_ok(R, FN) &&
              sl_jm_job_transition_ok(R, RS) && sl_jm_job_transition_ok(RS, R) &&
              sl_jm_job_transition_ok(R, CG) && sl_jm_job_transition_ok(CG, CD) &&
              sl_jm_job_transition_ok(R, FG) && sl_jm_job_transition_ok(FG, F) &&
              sl_jm_job_transition_ok(C, F) && sl_jm_job_transition_ok(R, R));
    ck_assert(!sl_jm_job_transition_ok(FN, R));
    ck_assert(!sl_jm_job_transition_ok(F, RS));
    ck_assert(!sl_jm_job_transition_ok(CD, C));
    ck_assert(!sl_jm_job_transition_ok(C, FN));
    ck_assert(!sl_jm_job_transition_ok(R, CD));
    ck_assert(!sl_jm_job_transition_ok(CG, R));
    ck_assert(!sl_jm_job_transition_ok(FG, RS));
    ck_assert(!sl_jm_job_transition_ok(RS, FN));
    ck_assert(!sl_jm_job_transition_ok(C, (Sluice__JobState)99));
    start();
    running();
    pthread_mutex_lock(&jm.mu);
    ck_assert_int_eq(sl_jm_job_set_state(&jm, job(), CD), SL_EINVAL);
    ck_assert_int_eq(job()->state, R);
    ck_assert_int_eq(sl_jm_job_set_state(&jm, job(), C), SL_EINVAL);
    ck_assert_int_eq(job()->state, R);
    pthread_mutex_unlock(&jm.mu);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("job_state");
    TCase *t = tcase_create("transitions");
    tcase_set_timeout(t, 30);
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_submit_runs);
    tcase_add_test(t, test_task_failure_restarts);
    tcase_add_test(t, test_no_restart_left_fails);
    tcase_add_test(t, test_no_restart_strategy_fails);
    tcase_add_test(t, test_cancel);
    tcase_add_test(t, test_finish);
    tcase_add_test(t, test_lost_taskmanager_fails_the_job);
    tcase_add_test(t, test_new_incarnation_is_a_loss);
    tcase_add_test(t, test_illegal_transitions_refused);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
