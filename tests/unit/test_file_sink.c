/* Unit tests: the exactly-once file sink (taskmanager/op_file_sink.c) run
 * through its operator ops on a minimal task, restarts of the SAME job.
 *
 * - committed (visible) files are never deleted: not by a restart without
 *   state, not by a restore from a checkpoint older than their commit;
 *   uncommitted (hidden) ones not covered are;
 * - a file the restored checkpoint covers that is missing fails the task
 *   with a message naming it;
 * - durability: fsync and rename are interposed (this program defines
 *   them, so the sink's calls land here first) and recorded: a hidden file
 *   is fsynced and then its folder before the snapshot returns, every
 *   commit rename is followed by an fsync of the folder, and so is the
 *   creation of the sink's folder by an fsync of its parent. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taskmanager/buf.h"
#include "common/jobfile.h"
#include "common/status.h"
#include "taskmanager/operators/op_registry.h"

#define JOB "cccccccc000000000000000000000000"
#define MAX_EVENTS 256

/* ---- interposed system calls */

typedef struct event {
    char kind; /* 'F' fsync, 'R' rename */
    char a[PATH_MAX], b[PATH_MAX];
} event;

static event events[MAX_EVENTS];
static int nevents;

static void record(char kind, const char *a, const char *b)
{
    if (nevents == MAX_EVENTS)
        return;
    event *e = &events[nevents++];
    e->kind = kind;
    if (realpath(a, e->a) == NULL)
        snprintf(e->a, sizeof(e->a), "%s", a);
    snprintf(e->b, sizeof(e->b), "%s", b != NULL ? b : "");
}

int fsync(int fd)
{
    static int (*real)(int);
    char link[64], path[PATH_MAX];
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    path[n > 0 ? n : 0] = '\0';
    record('F', path, NULL);
    return real(fd);
}

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    if (real == NULL)
        real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    int rv = real(from, to);
    if (rv == 0)
        record('R', to, from);
    return rv;
}

/* Index of the first event of kind on path at or after from, else -1. */
static int find_event(char kind, const char *path, int from)
{
    char real[PATH_MAX];
    if (realpath(path, real) == NULL)
        snprintf(real, sizeof(real), "%s", path);
    for (int i = from; i < nevents; i++)
        if (events[i].kind == kind && strcmp(events[i].a, real) == 0)
            return i;
    return -1;
}

/* ---- a sink subtask */

static char tmp_dir[256], out[400];
static sl_job_spec *spec;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    char text[1024], err[256];
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/sluice-sink-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    snprintf(out, sizeof(out), "%s/out", tmp_dir);
    snprintf(text, sizeof(text),
             "name: t\npipeline:\n  - name: src\n    source: datagen\n"
             "  - name: sink\n    sink: file\n    path: %s\n",
             out);
    ck_assert_msg(sl_job_parse("job.yaml", text, strlen(text), 1, &spec, err, sizeof(err)) ==
                      SL_OK, "%s", err);
    nevents = 0;
}

static void teardown(void)
{
    sl_job_free(spec);
    nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct sink_sub {
    struct {
        char failure[1024]; /* what the task reads: the sink's failure */
    } task;
    sl_op op;
    char uid[17];
} sink_sub;

/* Subtask 0 of 1 of attempt `attempt`, restored from snap if not NULL. */
static int sink_start(sink_sub *k, uint32_t attempt, const sl_buf *snap)
{
    memset(k, 0, sizeof(*k));
    sl_op_ctx ctx = {.job_id = JOB, .attempt = attempt, .restoring = snap != NULL,
                     .subtask = 0, .parallelism = 1, .max_parallelism = 128, .spec = spec,
                     .failure = k->task.failure, .failure_cap = sizeof(k->task.failure)};
    k->op = (sl_op){.ops = &sl_op_file_sink, .stage = &spec->stages[1], .ctx = ctx,
                    .nin = 1, .in = {&spec->stages[spec->stages[1].inputs[0]].out_schema}};
    ck_assert_int_eq(k->op.ops->open(&k->op), SL_OK);
    if (snap == NULL)
        return SL_OK;
    ck_assert_msg(k->op.ops->restore(&k->op, snap->p, snap->len) == SL_OK, "%s",
                  k->task.failure);
    return k->op.ops->restore_end(&k->op);
}

static int sink_write(sink_sub *k, int64_t v)
{
    sl_row row;
    row.nfields = 1;
    row.v[0].type = SL_TYPE_INT;
    row.v[0].u.i = v;
    return k->op.ops->process(&k->op, &row);
}

static void write_ok(sink_sub *k, int64_t v)
{
    ck_assert_msg(sink_write(k, v) == SL_OK, "%s", k->task.failure);
}

static void snapshot(sink_sub *k, uint64_t id, sl_buf *snap)
{
    sl_buf scratch = {0};
    sl_buf *b = snap != NULL ? snap : &scratch;
    memset(b, 0, sizeof(*b));
    ck_assert_msg(k->op.ops->snapshot(&k->op, id, b) == SL_OK, "%s", k->task.failure);
    sl_buf_free(&scratch);
}

static void notify(sink_sub *k, uint64_t id)
{
    ck_assert_msg(k->op.ops->notify_complete(&k->op, id) == SL_OK, "%s", k->task.failure);
}

/* The uid of k's part files: the folder holds no other one yet. */
static void learn_uid(sink_sub *k)
{
    DIR *d = opendir(out);
    struct dirent *de;
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        const char *p = strstr(de->d_name, "part-" "cccccccc");
        if (p != NULL)
            snprintf(k->uid, sizeof(k->uid), "%.16s", p + 5);
    }
    closedir(d);
    ck_assert_int_eq(strlen(k->uid), 16);
}

static const char *part(const char *uid, int64_t n, int hidden)
{
    static char p[4][700];
    static int next;
    char *s = p[next++ % 4];
    snprintf(s, 700, "%s/%spart-%s-0-%lld%s", out, hidden ? "." : "", uid, (long long)n,
             hidden ? ".inprogress" : "");
    return s;
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* ---- tests */

START_TEST(test_restart_without_state_keeps_committed_files)
{
    static sink_sub a, b;
    sink_start(&a, 1, NULL);
    write_ok(&a, 1);
    snapshot(&a, 1, NULL);
    notify(&a, 1); /* file 0 committed */
    write_ok(&a, 2);
    snapshot(&a, 2, NULL); /* file 1 pending, never committed */
    learn_uid(&a);
    a.op.ops->close(&a.op, 0);
    ck_assert(exists(part(a.uid, 0, 0)) && exists(part(a.uid, 1, 1)));
    /* attempt 2 without state (allow-empty-on-failure) */
    sink_start(&b, 2, NULL);
    write_ok(&b, 3);
    ck_assert_msg(exists(part(a.uid, 0, 0)), "a committed file was deleted: %s",
                  part(a.uid, 0, 0));
    ck_assert_msg(!exists(part(a.uid, 1, 1)), "an uncommitted file stays: %s", part(a.uid, 1, 1));
    b.op.ops->close(&b.op, 0);
}
END_TEST

START_TEST(test_older_checkpoint_keeps_later_commits)
{
    static sink_sub a, b;
    sl_buf sp1;
    sink_start(&a, 1, NULL);
    write_ok(&a, 1);
    snapshot(&a, 1, &sp1);
    notify(&a, 1);
    write_ok(&a, 2);
    snapshot(&a, 2, NULL);
    notify(&a, 2); /* file 1 committed by checkpoint 2 */
    write_ok(&a, 3);
    snapshot(&a, 3, NULL); /* file 2 pending */
    learn_uid(&a);
    a.op.ops->close(&a.op, 0);
    /* checkpoints 3 and 2 do not verify: restored from 1 */
    ck_assert_int_eq(sink_start(&b, 2, &sp1), SL_OK);
    write_ok(&b, 4);
    ck_assert(exists(part(a.uid, 0, 0)));
    ck_assert_msg(exists(part(a.uid, 1, 0)), "file committed by checkpoint 2 was deleted");
    ck_assert(!exists(part(a.uid, 2, 1)) && !exists(part(a.uid, 2, 0)));
    b.op.ops->close(&b.op, 0);
    sl_buf_free(&sp1);
}
END_TEST

static void missing_covered(int committed)
{
    static sink_sub a, b;
    sl_buf sp1;
    sink_start(&a, 1, NULL);
    write_ok(&a, 1);
    snapshot(&a, 1, NULL);
    notify(&a, 1);
    write_ok(&a, 2);
    snapshot(&a, 2, &sp1); /* covers files 0 and 1 */
    if (committed)
        notify(&a, 2);
    learn_uid(&a);
    a.op.ops->close(&a.op, 0);
    const char *victim = part(a.uid, 1, !committed);
    ck_assert_int_eq(unlink(victim), 0);
    ck_assert_int_eq(sink_start(&b, 2, &sp1), SL_OK);
    ck_assert_int_ne(sink_write(&b, 3), SL_OK);
    ck_assert_msg(strstr(b.task.failure, part(a.uid, 1, 0)) != NULL &&
                      strstr(b.task.failure, "missing") != NULL,
                  "failure does not name the missing file: '%s'", b.task.failure);
    ck_assert(exists(part(a.uid, 0, 0)));
    b.op.ops->close(&b.op, 0);
    sl_buf_free(&sp1);
}

START_TEST(test_missing_covered_hidden_file_fails)
{
    missing_covered(0);
}
END_TEST

START_TEST(test_missing_covered_visible_file_fails)
{
    missing_covered(1);
}
END_TEST

START_TEST(test_snapshot_and_commit_sync_the_folder)
{
    static sink_sub a, b;
    sl_buf sp;
    sink_start(&a, 1, NULL);
    ck_assert_msg(find_event('F', tmp_dir, 0) >= 0,
                  "the sink created its folder but did not fsync the parent");
    write_ok(&a, 1);
    int mark = nevents;
    snapshot(&a, 1, NULL);
    learn_uid(&a);
    int f = find_event('F', part(a.uid, 0, 1), mark);
    ck_assert_msg(f >= 0, "the hidden file was not fsynced");
    ck_assert_msg(find_event('F', out, f + 1) >= 0,
                  "the folder was not fsynced after the hidden file (before the ack)");
    mark = nevents;
    notify(&a, 1);
    int r = find_event('R', part(a.uid, 0, 0), mark);
    ck_assert(r >= 0);
    ck_assert_msg(find_event('F', out, r + 1) >= 0, "no fsync of the folder after the commit");
    /* the end of input commits the open file */
    write_ok(&a, 2);
    mark = nevents;
    ck_assert_msg(a.op.ops->finish(&a.op) == SL_OK, "%s", a.task.failure);
    r = find_event('R', part(a.uid, 1, 0), mark);
    ck_assert(r >= 0);
    ck_assert_msg(find_event('F', out, r + 1) >= 0, "no fsync of the folder after finish");
    a.op.ops->close(&a.op, 1);
    /* reconcile commits a covered pending file: then syncs */
    static sink_sub c;
    sink_start(&c, 1, NULL);
    write_ok(&c, 3);
    snapshot(&c, 5, &sp); /* pending, its notification lost */
    c.op.ops->close(&c.op, 0);
    char uid[17] = "";
    for (int i = nevents - 1; i >= 0 && uid[0] == '\0'; i--) {
        const char *p = strstr(events[i].a, "/.part-");
        if (events[i].kind == 'F' && p != NULL)
            snprintf(uid, sizeof(uid), "%.16s", p + 7);
    }
    ck_assert_int_eq(strlen(uid), 16);
    mark = nevents;
    ck_assert_int_eq(sink_start(&b, 2, &sp), SL_OK);
    write_ok(&b, 4);
    r = find_event('R', part(uid, 0, 0), mark);
    ck_assert_msg(r >= 0, "the covered pending file was not committed");
    ck_assert_msg(find_event('F', out, r + 1) >= 0, "no fsync of the folder after reconcile");
    b.op.ops->close(&b.op, 0);
    sl_buf_free(&sp);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("file_sink");
    TCase *tc = tcase_create("restart");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_restart_without_state_keeps_committed_files);
    tcase_add_test(tc, test_older_checkpoint_keeps_later_commits);
    tcase_add_test(tc, test_missing_covered_hidden_file_fails);
    tcase_add_test(tc, test_missing_covered_visible_file_fails);
    suite_add_tcase(s, tc);
    TCase *dur = tcase_create("durability");
    tcase_add_checked_fixture(dur, setup, teardown);
    tcase_add_test(dur, test_snapshot_and_commit_sync_the_folder);
    suite_add_tcase(s, dur);
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
