/* Unit tests: the checkpoint coordinator on its own (checkpoint_coordinator.h)
 * with a fake clock, a recording send hook and a hand-made view of a job
 * attempt: no sockets, no loop thread, no jobmanager lock.
 *
 * The job: task 0 a source on taskmanager tm-a, task 1 a sink on tm-b,
 * attempt 1, RUNNING. Covered: periodic trigger (only the sources'
 * taskmanagers get TriggerCheckpoint), acks in any order and completion
 * (_metadata, NotifyCheckpoint to both), decline, timeout, min-pause,
 * max-concurrent, tolerable failures (the verdict fails the job),
 * retention, a refused trigger call, late acks, savepoints. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/checkpoint_store.h"
#include "common/config.h"
#include "common/fs.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/checkpoint_coordinator.h"
#include "jobmanager/checkpoint_record.h"
#include "jobmanager/checkpoint_retention.h"
#include "jobmanager/savepoint.h"

#define JOB_ID "00112233445566778899aabbccddeeff"
#define MAX_SENT 64

typedef struct sent_call {
    sl_tmcall_key key;
    int complete; /* notify */
} sent_call;

static char root[64];
static sl_config *cfg;
static sl_coord cc;
static sl_coord_view view;
static sl_coord_exec tasks[2];
static sl_coord_tm tms[2];
static int stopping;
static int64_t now;
static sent_call sent[MAX_SENT];
static int nsent;
static int send_rv; /* what the send hook answers */

static int64_t fake_now(void) { return now; }

static int hook_send(void *arg, const sl_tmcall_key *key, const Sluice__Request *req)
{
    (void)arg;
    ck_assert_int_lt(nsent, MAX_SENT);
    sent[nsent].key = *key;
    sent[nsent].complete = req->body_case == SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT &&
                           req->notify_checkpoint->complete;
    nsent++;
    return send_rv;
}

static int hook_room(void *arg, const char *tm_id)
{
    (void)arg;
    (void)tm_id;
    return 32;
}

static const sl_coord_hooks hooks = {.send = hook_send, .room = hook_room};

static void set(const char *key, const char *value)
{
    char err[256];
    ck_assert_msg(sl_config_set_at(cfg, key, value, "test", 1, 1, err, sizeof(err)) == SL_OK,
                  "%s", err);
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/sl_coord_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    set("state.checkpoints.dir", root);
    set("execution.checkpointing.interval", "1 s");
    set("execution.checkpointing.timeout", "10 s");
    now = 100000;
    nsent = 0;
    send_rv = SL_OK;
    stopping = 0;
    tasks[0] = (sl_coord_exec){.tm = 0, .source = 1, .running = 1, .chain = "src",
                               .subtask = 0, .parallelism = 1};
    tasks[1] = (sl_coord_exec){.tm = 1, .running = 1, .chain = "sink", .subtask = 0,
                               .parallelism = 1};
    tms[0] = (sl_coord_tm){.tm_id = "tm-a", .addr = "a:1", .deployed = 1};
    tms[1] = (sl_coord_tm){.tm_id = "tm-b", .addr = "b:1", .deployed = 1};
    view = (sl_coord_view){.job_id = JOB_ID, .job_name = "t", .max_parallelism = 128,
                           .state = SLUICE__JOB_STATE__JOB_RUNNING, .active = 1, .attempt = 1,
                           .ntasks = 2, .tasks = tasks, .ntms = 2, .tms = tms,
                           .stopping = &stopping, .hooks = &hooks};
}

/* The settings are read when the test has set its keys. */
static void start(void)
{
    char err[256];
    ck_assert_msg(sl_coord_init(&cc, cfg, err, sizeof(err)) == SL_OK, "%s", err);
    cc.now_ms = fake_now;
    sl_coord_on_running(&cc);
}

static void teardown(void)
{
    sl_coord_free(&cc);
    sl_config_free(cfg);
    ck_assert_int_eq(sl_fs_remove_tree(root), SL_OK);
}

/* One loop round of the coordinator, as job.c runs it. */
static sl_coord_outcome round_(void)
{
    sl_coord_outcome out;
    sl_coord_judge(&cc, &view, &out);
    sl_coord_act(&cc, &view);
    return out;
}

static int ack(uint32_t task, uint64_t id, int declined)
{
    Sluice__AckCheckpoint a = SLUICE__ACK_CHECKPOINT__INIT;
    a.tm_id = (char *)tms[tasks[task].tm].tm_id;
    a.job_id = (char *)JOB_ID;
    a.attempt = 1;
    a.checkpoint_id = id;
    a.task = task;
    a.declined = declined;
    a.reason = declined ? (char *)"no room" : (char *)"";
    a.state_size = 10;
    return sl_coord_on_ack(&cc, &view, &a);
}

static int count_sent(enum sl_tmcall_kind kind, uint64_t id, const char *tm_id)
{
    int n = 0;
    for (int i = 0; i < nsent; i++)
        n += sent[i].key.kind == kind && sent[i].key.chk_id == id &&
             (tm_id == NULL || strcmp(sent[i].key.tm_id, tm_id) == 0);
    return n;
}

static int chk_exists(uint64_t id, const char *file)
{
    char dir[PATH_MAX], p[PATH_MAX + 32];
    struct stat st;
    ck_assert_int_eq(sl_store_checkpoint_path(root, JOB_ID, id, dir, sizeof(dir)), SL_OK);
    snprintf(p, sizeof(p), "%s%s%s", dir, file[0] ? "/" : "", file);
    return stat(p, &st) == 0;
}

static enum sl_ckrec_status status_of(uint64_t id)
{
    const sl_ckrec *c = sl_ckrec_find(&cc, id);
    ck_assert_ptr_nonnull(c);
    return c->status;
}

/* Triggers the next periodic checkpoint (the interval passes). */
static uint64_t trigger_next(void)
{
    uint64_t before = cc.last_id;
    now += 1000;
    round_();
    ck_assert_uint_eq(cc.last_id, before + 1);
    return cc.last_id;
}

static void complete(uint64_t id)
{
    ck_assert_int_eq(ack(0, id, 0), 1);
    ck_assert_int_eq(ack(1, id, 0), 1);
    sl_coord_outcome out = round_();
    ck_assert_uint_eq(out.completed, id);
}

/* ---- trigger and completion */

START_TEST(test_trigger_goes_to_the_source_taskmanager)
{
    start();
    now += 999;
    round_();
    ck_assert_uint_eq(cc.last_id, 0);
    ck_assert_int_eq(nsent, 0);
    now += 1;
    round_();
    ck_assert_uint_eq(cc.last_id, 1);
    ck_assert_int_eq(status_of(1), SL_CKREC_PENDING);
    ck_assert_int_eq(count_sent(SL_TMCALL_TRIGGER, 1, "tm-a"), 1);
    ck_assert_int_eq(count_sent(SL_TMCALL_TRIGGER, 1, "tm-b"), 0);
    ck_assert(chk_exists(1, ""));
    /* sent once only */
    round_();
    ck_assert_int_eq(count_sent(SL_TMCALL_TRIGGER, 1, NULL), 1);
}
END_TEST

START_TEST(test_acks_in_any_order_complete)
{
    start();
    uint64_t id = trigger_next();
    ck_assert_int_eq(ack(1, id, 0), 1); /* the sink first */
    ck_assert_int_eq(ack(1, id, 0), 0); /* a resent ack changes nothing */
    sl_coord_outcome out = round_();
    ck_assert_uint_eq(out.completed, 0);
    ck_assert_int_eq(status_of(id), SL_CKREC_PENDING);
    ck_assert_int_eq(ack(0, id, 0), 1);
    out = round_();
    ck_assert_int_eq(out.verdict, SL_COORD_NOTHING);
    ck_assert_uint_eq(out.completed, id);
    ck_assert_int_eq(status_of(id), SL_CKREC_COMPLETED);
    ck_assert(chk_exists(id, SL_STORE_METADATA_NAME));
    ck_assert_int_eq(count_sent(SL_TMCALL_NOTIFY, id, "tm-a"), 1);
    ck_assert_int_eq(count_sent(SL_TMCALL_NOTIFY, id, "tm-b"), 1);
    ck_assert(sent[nsent - 1].complete);
    char dir[PATH_MAX];
    ck_assert_uint_eq(sl_retention_latest(&cc, JOB_ID, dir, sizeof(dir)), id);
    ck_assert_uint_eq(cc.completed, 1);
}
END_TEST

START_TEST(test_ack_from_elsewhere_is_ignored)
{
    start();
    uint64_t id = trigger_next();
    Sluice__AckCheckpoint a = SLUICE__ACK_CHECKPOINT__INIT;
    a.tm_id = (char *)"tm-b"; /* task 0 runs on tm-a */
    a.job_id = (char *)JOB_ID;
    a.attempt = 1;
    a.checkpoint_id = id;
    a.task = 0;
    a.reason = (char *)"";
    ck_assert_int_eq(sl_coord_on_ack(&cc, &view, &a), 0);
    ck_assert_int_eq(sl_ckrec_find(&cc, id)->nacked, 0);
}
END_TEST

/* ---- aborts */

START_TEST(test_decline_aborts_and_notifies)
{
    set("execution.checkpointing.tolerable-failed-checkpoints", "5");
    start();
    uint64_t id = trigger_next();
    ck_assert_int_eq(ack(1, id, 1), 1);
    sl_coord_outcome out = round_();
    ck_assert_int_eq(out.verdict, SL_COORD_NOTHING);
    ck_assert_int_eq(cc.consecutive_failures, 1);
    ck_assert_int_eq(status_of(id), SL_CKREC_FAILED);
    ck_assert_ptr_nonnull(strstr(sl_ckrec_find(&cc, id)->failure, "declined by task sink 1/1"));
    ck_assert_int_eq(count_sent(SL_TMCALL_NOTIFY, id, NULL), 2);
    ck_assert(!sent[nsent - 1].complete);
    ck_assert(!chk_exists(id, ""));
}
END_TEST

START_TEST(test_timeout_expires)
{
    set("execution.checkpointing.timeout", "3 s");
    set("execution.checkpointing.tolerable-failed-checkpoints", "5");
    start();
    uint64_t id = trigger_next();
    ck_assert_int_eq(ack(0, id, 0), 1);
    now += 2999;
    round_();
    ck_assert_int_eq(status_of(id), SL_CKREC_PENDING);
    now += 1;
    sl_coord_outcome out = round_();
    ck_assert_int_eq(status_of(id), SL_CKREC_FAILED);
    ck_assert_ptr_nonnull(strstr(sl_ckrec_find(&cc, id)->failure, "expired"));
    ck_assert_int_eq(out.verdict, SL_COORD_NOTHING);
    /* its folder stays (its writers may be stuck) until a sweep */
    ck_assert(chk_exists(id, ""));
    /* the late ack of the other task makes the loop sweep */
    ck_assert_int_eq(ack(1, id, 0), 1);
    ck_assert_int_eq(cc.sweep, 1);
    round_();
    ck_assert(!chk_exists(id, ""));
}
END_TEST

START_TEST(test_tolerable_failures_fail_the_job)
{
    set("execution.checkpointing.tolerable-failed-checkpoints", "1");
    start();
    uint64_t a = trigger_next();
    ack(0, a, 1);
    ck_assert_int_eq(round_().verdict, SL_COORD_NOTHING);
    uint64_t b = trigger_next();
    ack(0, b, 1);
    sl_coord_outcome out = round_();
    ck_assert_int_eq(out.verdict, SL_COORD_FAIL_JOB);
    ck_assert_ptr_nonnull(strstr(out.reason, "tolerable number of failed checkpoints (1)"));
}
END_TEST

START_TEST(test_completion_resets_the_failure_count)
{
    set("execution.checkpointing.tolerable-failed-checkpoints", "1");
    start();
    uint64_t a = trigger_next();
    ack(0, a, 1);
    round_();
    complete(trigger_next());
    uint64_t c = trigger_next();
    ack(0, c, 1);
    ck_assert_int_eq(round_().verdict, SL_COORD_NOTHING);
}
END_TEST

START_TEST(test_refused_trigger_counts)
{
    start();
    uint64_t id = trigger_next();
    Sluice__Reply reply = SLUICE__REPLY__INIT;
    reply.status = SLUICE__STATUS__STATUS_FAILED;
    reply.error = (char *)"no such task";
    sl_tmcall_outcome o = {.rv = SL_OK, .reply = &reply};
    o.key = sent[0].key;
    sl_coord_call_outcome(&cc, &view, &o);
    ck_assert_int_eq(status_of(id), SL_CKREC_FAILED);
    ck_assert_int_eq(cc.consecutive_failures, 1);
    ck_assert_int_eq(round_().verdict, SL_COORD_FAIL_JOB); /* tolerable 0 */
}
END_TEST

START_TEST(test_unreachable_taskmanager_aborts_uncounted)
{
    start();
    send_rv = SL_EUNREACH;
    uint64_t id = trigger_next();
    ck_assert_int_eq(status_of(id), SL_CKREC_FAILED);
    ck_assert_int_eq(cc.consecutive_failures, 0);
}
END_TEST

/* ---- pacing */

START_TEST(test_min_pause_after_completion)
{
    set("execution.checkpointing.min-pause", "5 s");
    start();
    uint64_t id = trigger_next();
    complete(id); /* at t */
    now += 4999;  /* the interval passed long ago, the pause not */
    round_();
    ck_assert_uint_eq(cc.last_id, id);
    now += 1;
    round_();
    ck_assert_uint_eq(cc.last_id, id + 1);
}
END_TEST

START_TEST(test_max_concurrent)
{
    start();
    uint64_t id = trigger_next();
    now += 5000;
    round_();
    ck_assert_uint_eq(cc.last_id, id); /* 1 in progress: none more */
    complete(id);
    now += 1000;
    round_();
    ck_assert_uint_eq(cc.last_id, id + 1);
}
END_TEST

START_TEST(test_max_concurrent_two)
{
    set("execution.checkpointing.max-concurrent-checkpoints", "2");
    start();
    uint64_t a = trigger_next();
    uint64_t b = trigger_next();
    ck_assert_uint_eq(b, a + 1);
    now += 1000;
    round_();
    ck_assert_uint_eq(cc.last_id, b);
    ck_assert_int_eq(sl_ckrec_pending(&cc, 1), 2);
    /* b completing first subsumes a */
    complete(b);
    ck_assert_int_eq(status_of(a), SL_CKREC_FAILED);
    ck_assert_ptr_nonnull(strstr(sl_ckrec_find(&cc, a)->failure, "subsumed"));
}
END_TEST

START_TEST(test_no_trigger_while_a_task_is_not_running)
{
    start();
    tasks[1].running = 0;
    now += 5000;
    round_();
    ck_assert_uint_eq(cc.last_id, 0);
}
END_TEST

START_TEST(test_final_checkpoint_when_sources_ended)
{
    start();
    tasks[0].input_ended = 1;
    round_(); /* no need to wait for the interval */
    ck_assert_uint_eq(cc.last_id, 1);
    ck_assert(sl_ckrec_find(&cc, 1)->final);
    complete(1);
    ck_assert_int_eq(cc.final_done, 1);
    now += 5000;
    round_();
    ck_assert_uint_eq(cc.last_id, 1); /* none after the final one */
}
END_TEST

/* ---- retention */

START_TEST(test_retention_keeps_the_newest)
{
    set("state.checkpoints.num-retained", "2");
    start();
    for (int i = 0; i < 3; i++)
        complete(trigger_next());
    ck_assert(!chk_exists(1, ""));
    ck_assert(chk_exists(2, SL_STORE_METADATA_NAME));
    ck_assert(chk_exists(3, SL_STORE_METADATA_NAME));
    ck_assert_uint_eq(cc.nretained, 2);
    ck_assert_int_eq(sl_retention_has(&cc, 1), 0);
}
END_TEST

START_TEST(test_job_end_finished_discards)
{
    start();
    complete(trigger_next());
    uint64_t pending = trigger_next();
    view.state = SLUICE__JOB_STATE__JOB_FINISHED;
    view.active = 0;
    sl_coord_on_job_end(&cc, JOB_ID, SLUICE__JOB_STATE__JOB_FINISHED);
    ck_assert_int_eq(status_of(pending), SL_CKREC_FAILED);
    round_();
    char dir[PATH_MAX];
    ck_assert_int_eq(sl_store_job_root(root, JOB_ID, dir, sizeof(dir)), SL_OK);
    struct stat st;
    ck_assert_int_ne(stat(dir, &st), 0);
    ck_assert_int_eq(count_sent(SL_TMCALL_NOTIFY, pending, NULL), 0);
}
END_TEST

/* ---- savepoints */

static uint64_t savepoint(int stop, char *err, size_t errlen, int *rv)
{
    char target[PATH_MAX];
    uint64_t id = 0;
    snprintf(target, sizeof(target), "%s/sp", root);
    Sluice__TriggerSavepoint t = SLUICE__TRIGGER_SAVEPOINT__INIT;
    t.job_id = (char *)JOB_ID;
    t.target_dir = target;
    t.request_id = (char *)(stop ? "stop-1" : "sp-1");
    t.stop = stop;
    *rv = sl_savepoint_trigger(&cc, &view, &t, &id, err, errlen);
    return id;
}

START_TEST(test_savepoint_completes_and_is_not_retained)
{
    char err[512] = "";
    int rv;
    start();
    uint64_t id = savepoint(0, err, sizeof(err), &rv);
    ck_assert_msg(rv == SL_OK, "%s", err);
    ck_assert_uint_eq(savepoint(0, err, sizeof(err), &rv), id); /* resent: same id */
    round_();
    ck_assert_int_eq(count_sent(SL_TMCALL_TRIGGER, id, "tm-a"), 1);
    ck_assert(sent[0].key.flags & SL_TMCALL_F_SAVEPOINT);
    now += 5000; /* no periodic checkpoint while it is pending */
    round_();
    ck_assert_uint_eq(cc.last_id, id);
    complete(id);
    ck_assert_uint_eq(cc.nretained, 0);
    Sluice__SavepointStatus *s = NULL;
    sl_arena arena;
    sl_arena *a = &arena;
    memset(a, 0, sizeof(*a));
    ck_assert_int_eq(sl_savepoint_status(&cc, view.state, id, a, &s), SL_OK);
    ck_assert_str_eq(s->status, "COMPLETED");
    char md[PATH_MAX];
    snprintf(md, sizeof(md), "%s/%s", s->path + strlen("file://"), SL_STORE_METADATA_NAME);
    struct stat st;
    ck_assert_int_eq(stat(md, &st), 0);
    sl_arena_free(a);
}
END_TEST

START_TEST(test_failed_savepoint_does_not_count)
{
    char err[512] = "";
    int rv;
    start();
    uint64_t id = savepoint(0, err, sizeof(err), &rv);
    ck_assert_int_eq(rv, SL_OK);
    round_();
    ack(1, id, 1);
    ck_assert_int_eq(round_().verdict, SL_COORD_NOTHING);
    ck_assert_int_eq(status_of(id), SL_CKREC_FAILED);
    ck_assert_int_eq(cc.consecutive_failures, 0);
}
END_TEST

START_TEST(test_savepoint_refused_when_not_running)
{
    char err[512] = "";
    int rv;
    start();
    view.state = SLUICE__JOB_STATE__JOB_RESTARTING;
    savepoint(0, err, sizeof(err), &rv);
    ck_assert_int_eq(rv, SL_EBUSY);
    ck_assert_ptr_nonnull(strstr(err, "not running"));
}
END_TEST

START_TEST(test_stop_with_savepoint_blocks_more)
{
    char err[512] = "";
    int rv;
    uint64_t id2 = 0;
    start();
    uint64_t id = savepoint(1, err, sizeof(err), &rv);
    ck_assert_int_eq(rv, SL_OK);
    round_();
    ck_assert(sent[0].key.flags & SL_TMCALL_F_STOP);
    complete(id);
    /* the sources end now: no checkpoint, no other savepoint */
    now += 5000;
    round_();
    ck_assert_uint_eq(cc.last_id, id);
    ck_assert_int_eq(sl_coord_trigger_now(&cc, &view, "m", &id2, err, sizeof(err)), SL_EBUSY);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("coordinator");
    TCase *t = tcase_create("trigger");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_trigger_goes_to_the_source_taskmanager);
    tcase_add_test(t, test_acks_in_any_order_complete);
    tcase_add_test(t, test_ack_from_elsewhere_is_ignored);
    suite_add_tcase(s, t);
    TCase *f = tcase_create("aborts");
    tcase_add_checked_fixture(f, setup, teardown);
    tcase_add_test(f, test_decline_aborts_and_notifies);
    tcase_add_test(f, test_timeout_expires);
    tcase_add_test(f, test_tolerable_failures_fail_the_job);
    tcase_add_test(f, test_completion_resets_the_failure_count);
    tcase_add_test(f, test_refused_trigger_counts);
    tcase_add_test(f, test_unreachable_taskmanager_aborts_uncounted);
    suite_add_tcase(s, f);
    TCase *p = tcase_create("pacing");
    tcase_add_checked_fixture(p, setup, teardown);
    tcase_add_test(p, test_min_pause_after_completion);
    tcase_add_test(p, test_max_concurrent);
    tcase_add_test(p, test_max_concurrent_two);
    tcase_add_test(p, test_no_trigger_while_a_task_is_not_running);
    tcase_add_test(p, test_final_checkpoint_when_sources_ended);
    suite_add_tcase(s, p);
    TCase *r = tcase_create("retention");
    tcase_add_checked_fixture(r, setup, teardown);
    tcase_add_test(r, test_retention_keeps_the_newest);
    tcase_add_test(r, test_job_end_finished_discards);
    suite_add_tcase(s, r);
    TCase *sp = tcase_create("savepoints");
    tcase_add_checked_fixture(sp, setup, teardown);
    tcase_add_test(sp, test_savepoint_completes_and_is_not_retained);
    tcase_add_test(sp, test_failed_savepoint_does_not_count);
    tcase_add_test(sp, test_savepoint_refused_when_not_running);
    tcase_add_test(sp, test_stop_with_savepoint_blocks_more);
    suite_add_tcase(s, sp);
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
