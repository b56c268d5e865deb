/* Unit tests: the checkpoint coordinator of the jobmanager on a job that
 * lives only in memory (no loop thread, no taskmanager).
 *
 * - what stays after the job ended (checkpoint_retention.c): FINISHED
 *   discards every chk-* folder and then the job folder; CANCELED with
 *   DELETE_ON_CANCELLATION the same; FAILED and CANCELED with
 *   RETAIN_ON_CANCELLATION keep the retained ones. A savepoint (or any
 *   other file) inside the job folder is never touched.
 * - `sluice checkpoint` (sl_coord_trigger_now) is refused beyond
 *   max-concurrent-checkpoints pending checkpoints, and a resent request
 *   still gets the id of the first. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/checkpoint_store.h"
#include "common/config.h"
#include "common/fs.h"
#include "common/status.h"
#include "jobmanager/checkpoint_record.h"
#include "jobmanager/checkpoint_retention.h"
#include "jobmanager/jobmanager.h"

#define JOB_ID "0123456789abcdef0123456789abcdef"

static char root[64];
static sl_jm jm;
static sl_job job;
static sl_config *cfg;
static sl_coord_exec exec_view[1];

/* The coordinator's view of the in-memory job (one task, no taskmanager). */
static sl_coord_view view(void)
{
    sl_coord_view v;
    memset(&v, 0, sizeof(v));
    v.job_id = job.id;
    v.state = job.state;
    v.active = !sl_jm_job_terminal(job.state);
    v.attempt = job.attempt;
    v.ntasks = job.graph.ntasks;
    v.tasks = exec_view;
    v.stopping = &jm.stopping;
    return v;
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/sl_cc_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    memset(&jm, 0, sizeof(jm));
    memset(&job, 0, sizeof(job));
    pthread_mutex_init(&jm.mu, NULL);
    snprintf(job.id, sizeof(job.id), "%s", JOB_ID);
    job.graph.ntasks = 1;
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
}

static void teardown(void)
{
    sl_coord_free(&job.coord);
    sl_config_free(cfg);
    pthread_mutex_destroy(&jm.mu);
    ck_assert_int_eq(sl_fs_remove_tree(root), SL_OK);
}

static void set(const char *key, const char *value)
{
    char err[256];
    ck_assert_msg(sl_config_set_at(cfg, key, value, "test", 1, 1, err, sizeof(err)) == SL_OK,
                  "%s", err);
}

static void init_chk(const char *retention)
{
    char err[256];
    set("state.checkpoints.dir", root);
    if (retention != NULL)
        set("execution.checkpointing.externalized-checkpoint-retention", retention);
    ck_assert_msg(sl_coord_init(&job.coord, cfg, err, sizeof(err)) == SL_OK, "%s", err);
}

static const char *job_dir(void)
{
    static char d[128];
    snprintf(d, sizeof(d), "%s/%s", root, JOB_ID);
    return d;
}

/* A completed checkpoint on disk (an empty one) and in the retained list. */
static void completed(uint64_t id)
{
    char dir[PATH_MAX];
    Sluice__CheckpointMetadata md = SLUICE__CHECKPOINT_METADATA__INIT;
    char err[512];
    ck_assert_int_eq(sl_store_checkpoint_path(root, JOB_ID, id, dir, sizeof(dir)), SL_OK);
    md.job_id = (char *)JOB_ID;
    md.checkpoint_id = id;
    md.max_parallelism = 128;
    ck_assert_msg(sl_store_metadata_write(dir, &md, err, sizeof(err)) == SL_OK, "%s", err);
    ck_assert_int_eq(sl_retention_add(&job.coord, id), SL_OK);
    job.coord.last_id = id;
}

static int exists(const char *fmt, const char *a)
{
    char p[PATH_MAX];
    struct stat st;
    snprintf(p, sizeof(p), fmt, a);
    return stat(p, &st) == 0;
}

/* A savepoint the user wrote into the job folder. */
static void user_savepoint(void)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/savepoint-012345-aaaaaaaaaaaa", job_dir());
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/savepoint-012345-aaaaaaaaaaaa/_metadata", job_dir());
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("x", f);
    fclose(f);
}

static void end_as(Sluice__JobState state)
{
    job.state = state;
    sl_coord_view v = view();
    pthread_mutex_lock(&jm.mu);
    sl_coord_on_job_end(&job.coord, job.id, state);
    sl_retention_end_cleanup(&job.coord, &v);
    pthread_mutex_unlock(&jm.mu);
}

START_TEST(test_finished_discards_checkpoints_and_folder)
{
    init_chk(NULL);
    for (uint64_t id = 1; id <= 3; id++)
        completed(id);
    ck_assert(exists("%s/chk-3/_metadata", job_dir()));
    end_as(SLUICE__JOB_STATE__JOB_FINISHED);
    ck_assert_msg(!exists("%s", job_dir()), "the job folder of a FINISHED job remains");
    char dir[PATH_MAX];
    ck_assert_uint_eq(sl_retention_latest(&job.coord, job.id, dir, sizeof(dir)), 0);
}
END_TEST

START_TEST(test_finished_keeps_a_savepoint_in_the_job_folder)
{
    init_chk(NULL);
    completed(1);
    completed(2);
    user_savepoint();
    end_as(SLUICE__JOB_STATE__JOB_FINISHED);
    ck_assert(!exists("%s/chk-1", job_dir()) && !exists("%s/chk-2", job_dir()));
    ck_assert(exists("%s/savepoint-012345-aaaaaaaaaaaa/_metadata", job_dir()));
}
END_TEST

START_TEST(test_delete_on_cancellation_keeps_a_savepoint)
{
    init_chk("DELETE_ON_CANCELLATION");
    completed(1);
    user_savepoint();
    end_as(SLUICE__JOB_STATE__JOB_CANCELED);
    ck_assert(!exists("%s/chk-1", job_dir()));
    ck_assert_msg(exists("%s/savepoint-012345-aaaaaaaaaaaa/_metadata", job_dir()),
                  "DELETE_ON_CANCELLATION removed a savepoint in the job folder");
}
END_TEST

START_TEST(test_delete_on_cancellation_removes_the_folder)
{
    init_chk("DELETE_ON_CANCELLATION");
    completed(1);
    end_as(SLUICE__JOB_STATE__JOB_CANCELED);
    ck_assert(!exists("%s", job_dir()));
}
END_TEST

START_TEST(test_failed_keeps_retained)
{
    init_chk(NULL);
    for (uint64_t id = 1; id <= 2; id++)
        completed(id);
    end_as(SLUICE__JOB_STATE__JOB_FAILED);
    ck_assert(exists("%s/chk-1/_metadata", job_dir()) && exists("%s/chk-2/_metadata", job_dir()));
    char dir[PATH_MAX];
    ck_assert_uint_eq(sl_retention_latest(&job.coord, job.id, dir, sizeof(dir)), 2);
}
END_TEST

START_TEST(test_retain_on_cancellation_keeps_retained)
{
    init_chk("RETAIN_ON_CANCELLATION");
    completed(1);
    end_as(SLUICE__JOB_STATE__JOB_CANCELED);
    ck_assert(exists("%s/chk-1/_metadata", job_dir()));
}
END_TEST

/* ---- manual triggers */

static int trigger(const char *req, uint64_t *id, char *err, size_t errlen)
{
    sl_coord_view v = view();
    pthread_mutex_lock(&jm.mu);
    int rv = sl_coord_trigger_now(&job.coord, &v, req, id, err, errlen);
    pthread_mutex_unlock(&jm.mu);
    return rv;
}

START_TEST(test_manual_checkpoints_bounded_by_max_concurrent)
{
    char err[512] = "";
    uint64_t a = 0, b = 0, again = 0;
    set("execution.checkpointing.max-concurrent-checkpoints", "2");
    init_chk(NULL);
    job.state = SLUICE__JOB_STATE__JOB_RUNNING;
    ck_assert_int_eq(trigger("r1", &a, err, sizeof(err)), SL_OK);
    ck_assert_int_eq(trigger("r2", &b, err, sizeof(err)), SL_OK);
    ck_assert(a != 0 && b == a + 1);
    for (int k = 0; k < 300; k++) {
        char req[16];
        uint64_t id = 0;
        snprintf(req, sizeof(req), "x%d", k);
        err[0] = '\0';
        ck_assert_int_eq(trigger(req, &id, err, sizeof(err)), SL_EBUSY);
        ck_assert_msg(strstr(err, "max-concurrent-checkpoints") != NULL, "%s", err);
    }
    ck_assert_int_eq(sl_ckrec_pending(&job.coord, 1), 2);
    /* a resent request still gets its id */
    ck_assert_int_eq(trigger("r1", &again, err, sizeof(err)), SL_OK);
    ck_assert_uint_eq(again, a);
    /* once one ends, another is accepted */
    pthread_mutex_lock(&jm.mu);
    sl_ckrec_fail(&job.coord, job.id, sl_ckrec_find(&job.coord, a), "test", 0, 0);
    pthread_mutex_unlock(&jm.mu);
    uint64_t c = 0;
    ck_assert_int_eq(trigger("r3", &c, err, sizeof(err)), SL_OK);
    ck_assert_uint_eq(c, b + 1);
}
END_TEST

START_TEST(test_manual_checkpoint_waits_for_a_periodic_one)
{
    char err[512] = "";
    uint64_t id = 0;
    init_chk(NULL); /* max-concurrent-checkpoints 1 */
    job.state = SLUICE__JOB_STATE__JOB_RUNNING;
    sl_coord_view v = view();
    pthread_mutex_lock(&jm.mu);
    ck_assert_ptr_nonnull(sl_ckrec_create(&job.coord, &v, 0, 0)); /* a periodic one in progress */
    pthread_mutex_unlock(&jm.mu);
    ck_assert_int_eq(trigger("m", &id, err, sizeof(err)), SL_EBUSY);
    ck_assert_msg(strstr(err, "1 checkpoint(s) in progress") != NULL, "%s", err);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("checkpoint_coordinator");
    TCase *end = tcase_create("job_end");
    tcase_add_checked_fixture(end, setup, teardown);
    tcase_add_test(end, test_finished_discards_checkpoints_and_folder);
    tcase_add_test(end, test_finished_keeps_a_savepoint_in_the_job_folder);
    tcase_add_test(end, test_delete_on_cancellation_keeps_a_savepoint);
    tcase_add_test(end, test_delete_on_cancellation_removes_the_folder);
    tcase_add_test(end, test_failed_keeps_retained);
    tcase_add_test(end, test_retain_on_cancellation_keeps_retained);
    suite_add_tcase(s, end);
    TCase *manual = tcase_create("manual");
    tcase_add_checked_fixture(manual, setup, teardown);
    tcase_add_test(manual, test_manual_checkpoints_bounded_by_max_concurrent);
    tcase_add_test(manual, test_manual_checkpoint_waits_for_a_periodic_one);
    suite_add_tcase(s, manual);
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
