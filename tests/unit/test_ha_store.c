/* Unit tests for the high-availability records (jobmanager/ha_store.c) and
 * the shared layout helpers (common/ha.c) that need no ZooKeeper server:
 * the job node's text, submission files (durable write, verification of
 * every byte, bounds) and latch names. */
#include "common/config.h"
#include "common/ha.h"
#include "common/status.h"
#include "jobmanager/ha_store.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp[256];

static void setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/sluice-test-ha-store.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(node_text_round_trip)
{
    sl_hastore_job j = {.checkpoint_id = 17, .counter = 19};
    snprintf(j.job_id, sizeof(j.job_id), "0123456789abcdef0123456789abcdef");
    snprintf(j.checkpoint_dir, sizeof(j.checkpoint_dir), "/ck/a b/chk-17");
    char buf[SL_HASTORE_NODE_MAX], err[256];
    size_t len = 0;
    ck_assert_int_eq(sl_hastore_encode(&j, buf, sizeof(buf), &len), SL_OK);
    sl_hastore_job back;
    ck_assert_int_eq(sl_hastore_decode(j.job_id, buf, len, &back, err, sizeof(err)), SL_OK);
    ck_assert_uint_eq(back.checkpoint_id, 17);
    ck_assert_uint_eq(back.counter, 19);
    ck_assert_str_eq(back.checkpoint_dir, "/ck/a b/chk-17");
    ck_assert_str_eq(back.job_id, j.job_id);
    /* a fresh job: nothing yet */
    ck_assert_int_eq(sl_hastore_decode("ab", "", 0, &back, err, sizeof(err)), SL_OK);
    ck_assert_uint_eq(back.checkpoint_id, 0);
}
END_TEST

START_TEST(node_text_errors)
{
    static const char *const bad[] = {
        "checkpoint 3\n",                    /* no folder */
        "checkpoint x\ncheckpoint-dir /a\n", /* not a number */
        "counter 1",                         /* no newline */
        "counter -1\n",
        "counter 99999999999999999999999\n", /* overflow */
        "what 1\n",
        "checkpoint-dir relative\n",
        "counter\n",
    };
    char err[256];
    sl_hastore_job j;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(sl_hastore_decode("ab", bad[i], strlen(bad[i]), &j, err, sizeof(err)) ==
                          SL_EINVAL,
                      "accepted: %s", bad[i]);
        ck_assert_msg(strstr(err, "job node ab") != NULL, "error says where: %s", err);
    }
    char nul[] = "counter 1\n\0";
    ck_assert_int_eq(sl_hastore_decode("ab", nul, sizeof(nul), &j, err, sizeof(err)), SL_EINVAL);
    char big[SL_HASTORE_NODE_MAX + 10];
    memset(big, 'a', sizeof(big));
    ck_assert_int_eq(sl_hastore_decode("ab", big, sizeof(big), &j, err, sizeof(err)), SL_EINVAL);
}
END_TEST

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static size_t read_bytes(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

START_TEST(submission_round_trip_and_damage)
{
    char path[PATH_MAX], err[512];
    snprintf(path, sizeof(path), "%s/deep/er/submission", tmp);
    const char data[] = "a packed SubmitJob, any bytes \x01\x02";
    ck_assert_int_eq(sl_hastore_write_submission(path, data, sizeof(data), err, sizeof(err)),
                     SL_OK);
    void *got = NULL;
    size_t len = 0;
    ck_assert_int_eq(sl_hastore_read_submission(path, 1024, &got, &len, err, sizeof(err)), SL_OK);
    ck_assert_uint_eq(len, sizeof(data));
    ck_assert_mem_eq(got, data, len);
    free(got);
    /* larger than allowed */
    ck_assert_int_eq(sl_hastore_read_submission(path, 4, &got, &len, err, sizeof(err)), SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "allowed"));
    /* every single flipped byte is caught */
    unsigned char orig[256], copy[256];
    size_t n = read_bytes(path, orig, sizeof(orig));
    for (size_t i = 0; i < n; i++) {
        memcpy(copy, orig, n);
        copy[i] ^= 0x40;
        write_bytes(path, copy, n);
        ck_assert_msg(sl_hastore_read_submission(path, 1024, &got, &len, err, sizeof(err)) ==
                          SL_EINVAL,
                      "byte %zu flipped accepted", i);
    }
    /* truncated, and longer */
    write_bytes(path, orig, n - 1);
    ck_assert_int_eq(sl_hastore_read_submission(path, 1024, &got, &len, err, sizeof(err)), SL_EINVAL);
    memcpy(copy, orig, n);
    copy[n] = 'x';
    write_bytes(path, copy, n + 1);
    ck_assert_int_eq(sl_hastore_read_submission(path, 1024, &got, &len, err, sizeof(err)), SL_EINVAL);
    unlink(path);
    ck_assert_int_eq(sl_hastore_read_submission(path, 1024, &got, &len, err, sizeof(err)),
                     SL_ENOTFOUND);
}
END_TEST

static int set(sl_config *cfg, const char *key, const char *value)
{
    char err[256];
    return sl_config_set_at(cfg, key, value, "test", 1, 1, err, sizeof(err));
}

START_TEST(paths_and_latches)
{
    sl_config *cfg = NULL;
    char buf[PATH_MAX];
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    ck_assert_int_eq(set(cfg, "high-availability.storageDir", tmp), SL_OK);
    ck_assert_int_eq(set(cfg, "high-availability.cluster-id", "c1"), SL_OK);
    ck_assert_int_eq(sl_ha_path(cfg, SL_HA_LEADER_DIR, buf, sizeof(buf)), SL_OK);
    ck_assert_str_eq(buf, "/sluice/c1/leader");
    ck_assert_int_eq(set(cfg, "high-availability.zookeeper.path.root", "/"), SL_OK);
    ck_assert_int_eq(sl_ha_path(cfg, NULL, buf, sizeof(buf)), SL_OK);
    ck_assert_str_eq(buf, "/c1");
    ck_assert_int_eq(sl_ha_path(cfg, "jobs", buf, 4), SL_ENOSPC);
    ck_assert_int_eq(sl_hastore_submission_path(cfg, "abc", buf, sizeof(buf)), SL_OK);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof(want), "%s/c1/abc/submission", tmp);
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(sl_hastore_submission_path(cfg, "../x", buf, sizeof(buf)), SL_EINVAL);
    sl_config_free(cfg);
    ck_assert_uint_eq(sl_ha_latch_id("latch-0000000000"), 1);
    ck_assert_uint_eq(sl_ha_latch_id("latch-0000000041"), 42);
    ck_assert_uint_eq(sl_ha_latch_id("latch-000000004"), 0);
    ck_assert_uint_eq(sl_ha_latch_id("latch-00000000x1"), 0);
    ck_assert_uint_eq(sl_ha_latch_id("other-0000000001"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ha_store");
    TCase *tc = tcase_create("ha_store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, node_text_round_trip);
    tcase_add_test(tc, node_text_errors);
    tcase_add_test(tc, submission_round_trip_and_damage);
    tcase_add_test(tc, paths_and_latches);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
