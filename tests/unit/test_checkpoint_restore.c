/* Unit tests: the restore point of a restart (jobmanager/checkpoint_restore.c)
 * on a job that lives only in memory, its checkpoints on disk.
 *
 * - the newest retained checkpoint that verifies is chosen; a damaged
 *   newer one is skipped;
 * - when the job has state (a retained checkpoint, or it started from a
 *   savepoint) and none of it verifies, the restart is refused with every
 *   reason, unless execution.state-recovery.allow-empty-on-failure is true;
 * - a job that never completed a checkpoint starts without state (and an
 *   empty retained list is never handed to memcpy: UBSan). */
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
#include "jobmanager/checkpoint_restore.h"
#include "jobmanager/checkpoint_retention.h"
#include "jobmanager/jobmanager.h"

#define JOB_ID "00112233445566778899aabbccddeeff"

static char root[64];
static sl_jm jm;
static sl_job job;
static sl_config *cfg;

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/sl_cr_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    memset(&jm, 0, sizeof(jm));
    memset(&job, 0, sizeof(job));
    pthread_mutex_init(&jm.mu, NULL);
    snprintf(job.id, sizeof(job.id), "%s", JOB_ID);
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
}

static void teardown(void)
{
    sl_coord_free(&job.coord);
    sl_config_free(cfg);
    pthread_mutex_destroy(&jm.mu);
    ck_assert_int_eq(sl_fs_remove_tree(root), SL_OK);
}

/* allow_empty: the job's config: block sets the key (as job.c applies it). */
static void init_chk(const char *allow_empty)
{
    char err[256];
    ck_assert_int_eq(sl_config_set_at(cfg, "state.checkpoints.dir", root, "t", 1, 1, err,
                                      sizeof(err)), SL_OK);
    if (allow_empty != NULL)
        ck_assert_msg(sl_config_set_at(cfg, "execution.state-recovery.allow-empty-on-failure",
                                       allow_empty, "job.yaml", 3, 5, err, sizeof(err)) == SL_OK,
                      "%s", err);
    ck_assert_msg(sl_coord_init(&job.coord, cfg, err, sizeof(err)) == SL_OK, "%s", err);
}

/* Checkpoint id on disk (damaged: its _metadata does not read), retained. */
static void checkpoint(uint64_t id, int damaged)
{
    char dir[PATH_MAX], path[PATH_MAX + 16], err[512];
    Sluice__CheckpointMetadata md = SLUICE__CHECKPOINT_METADATA__INIT;
    ck_assert_int_eq(sl_store_checkpoint_path(root, JOB_ID, id, dir, sizeof(dir)), SL_OK);
    md.job_id = (char *)JOB_ID;
    md.checkpoint_id = id;
    md.max_parallelism = 128;
    ck_assert_msg(sl_store_metadata_write(dir, &md, err, sizeof(err)) == SL_OK, "%s", err);
    if (damaged) {
        snprintf(path, sizeof(path), "%s/%s", dir, SL_STORE_METADATA_NAME);
        FILE *f = fopen(path, "r+");
        ck_assert_ptr_nonnull(f);
        fputs("garbage!", f);
        fclose(f);
    }
    ck_assert_int_eq(sl_retention_add(&job.coord, id), SL_OK);
    job.coord.last_id = id;
}

static int pick(char *err, size_t errlen)
{
    sl_coord_view v;
    memset(&v, 0, sizeof(v));
    v.job_id = job.id;
    v.stopping = &jm.stopping;
    pthread_mutex_lock(&jm.mu);
    int rv = sl_restore_pick(&job.coord, &v, err, errlen);
    pthread_mutex_unlock(&jm.mu);
    return rv;
}

START_TEST(test_newest_that_verifies)
{
    char err[SL_COORD_REASON_MAX] = "";
    init_chk(NULL);
    checkpoint(1, 0);
    checkpoint(2, 0);
    checkpoint(3, 1);
    ck_assert_int_eq(pick(err, sizeof(err)), SL_OK);
    ck_assert_uint_eq(job.coord.restore_id, 2);
    ck_assert_ptr_nonnull(strstr(job.coord.restore_dir, "/chk-2"));
}
END_TEST

START_TEST(test_none_verifies_fails_with_reasons)
{
    char err[SL_COORD_REASON_MAX] = "";
    init_chk(NULL);
    checkpoint(4, 1);
    checkpoint(5, 1);
    ck_assert_int_eq(pick(err, sizeof(err)), SL_ENOTFOUND);
    ck_assert_uint_eq(job.coord.restore_id, 0);
    ck_assert_ptr_null(job.coord.restore_dir);
    ck_assert_msg(strstr(err, "checkpoint 5: ") != NULL && strstr(err, "checkpoint 4: ") != NULL,
                  "%s", err);
    ck_assert_msg(strstr(err, "chk-5/_metadata") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "execution.state-recovery.allow-empty-on-failure") != NULL, "%s",
                  err);
}
END_TEST

START_TEST(test_none_verifies_allowed_empty)
{
    char err[SL_COORD_REASON_MAX] = "";
    init_chk("true");
    ck_assert_int_eq(job.coord.allow_empty, 1);
    checkpoint(1, 1);
    ck_assert_int_eq(pick(err, sizeof(err)), SL_OK);
    ck_assert_uint_eq(job.coord.restore_id, 0);
}
END_TEST

START_TEST(test_default_is_not_allowed)
{
    init_chk(NULL);
    ck_assert_int_eq(job.coord.allow_empty, 0);
}
END_TEST

START_TEST(test_no_state_starts_empty)
{
    char err[SL_COORD_REASON_MAX] = "";
    init_chk(NULL);
    ck_assert_ptr_null(job.coord.retained);
    ck_assert_int_eq(pick(err, sizeof(err)), SL_OK);
    ck_assert_uint_eq(job.coord.restore_id, 0);
}
END_TEST

START_TEST(test_damaged_savepoint_started_from)
{
    char err[SL_COORD_REASON_MAX] = "", sp[PATH_MAX];
    init_chk(NULL);
    snprintf(sp, sizeof(sp), "%s/savepoint-001122-000000000000", root);
    ck_assert_int_eq(mkdir(sp, 0755), 0); /* no _metadata */
    job.coord.initial_dir = strdup(sp);
    job.coord.initial_id = 7;
    ck_assert_int_eq(pick(err, sizeof(err)), SL_ENOTFOUND);
    ck_assert_msg(strstr(err, sp) != NULL && strstr(err, "which the job started from") != NULL,
                  "%s", err);
}
END_TEST

START_TEST(test_stopping_chooses_nothing)
{
    char err[SL_COORD_REASON_MAX] = "";
    init_chk(NULL);
    checkpoint(1, 0);
    jm.stopping = 1;
    ck_assert_int_eq(pick(err, sizeof(err)), SL_EBUSY);
    ck_assert_uint_eq(job.coord.restore_id, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("checkpoint_restore");
    TCase *tc = tcase_create("pick");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_newest_that_verifies);
    tcase_add_test(tc, test_none_verifies_fails_with_reasons);
    tcase_add_test(tc, test_none_verifies_allowed_empty);
    tcase_add_test(tc, test_default_is_not_allowed);
    tcase_add_test(tc, test_no_state_starts_empty);
    tcase_add_test(tc, test_damaged_savepoint_started_from);
    tcase_add_test(tc, test_stopping_chooses_nothing);
    suite_add_tcase(s, tc);
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
