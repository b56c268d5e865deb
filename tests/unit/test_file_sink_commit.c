/* Unit tests: the file sink's commit protocol
 * (taskmanager/operators/file_sink_commit.c) under crashes, on real files
 * in a real temp folder; no filesystem call is mocked.
 *
 * A crash is injected with the module's seam (sl_fsc_crash): the process
 * "dies" just before durable step k (mkdir, create, write, fsync of a file
 * or the folder, rename, unlink). The test then drops everything the
 * subtask held in memory and starts it over as a restore would: from the
 * last completed checkpoint's recorded state (sl_fsc_pool_add/_deal,
 * sl_fsc_reconcile), with the records after that checkpoint replayed as the
 * source replays them, and runs the cycle to its end.
 *
 * - every k from 0 to the steps of a full cycle (records across three
 *   checkpoints, two pending at once, snapshots, completions, commits,
 *   finish), in two variants
 *   (a crash right before a checkpoint's commit: the checkpoint completed
 *   and its notification was lost, or it was acked but never completed),
 *   and again with a second crash at every step of the recovery: every
 *   record is exactly once in the visible files, no hidden file is left,
 *   and every visible file seen after a crash is byte-identical at the end;
 * - reconcile never deletes or rewrites a visible file, of this job or
 *   another, covered or not;
 * - a covered file that is missing (hidden or visible) fails the reconcile
 *   with a message naming it. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/status.h"
#include "taskmanager/buf.h"
#include "taskmanager/operators/file_sink_commit.h"

#define JOB "cccccccc000000000000000000000000"
#define OTHER_JOB "dddddddd000000000000000000000000"
#define RECORDS 7
#define LINE_BYTES 32
#define MAX_FILES 64
#define FILE_BYTES 4096

/* The source: records 1..RECORDS, a checkpoint barrier after each of these
 * positions (the last one is the final checkpoint of a bounded input). A
 * checkpoint's completion reaches the sink COMPLETION_LAG records after its
 * barrier (or at the end of input), so commits interleave with writing and
 * two sealed files are pending at once. */
static const int barriers[] = {2, 4, RECORDS};
#define NBARRIERS ((int)(sizeof(barriers) / sizeof(barriers[0])))
#define COMPLETION_LAG 3

/* How a crash right before a checkpoint's first commit step is read. */
enum { LOST_NOTIFY, NEVER_COMPLETED };

static char tmp_dir[256], out[400];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/sluice-fsc-test.XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    snprintf(out, sizeof(out), "%s/out", tmp_dir);
    sl_log_init("test_file_sink_commit", SL_LOG_ERROR);
}

static void teardown(void)
{
    nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the folder as seen from outside */

typedef struct file_copy {
    char name[256];
    char bytes[FILE_BYTES];
    size_t len;
} file_copy;

typedef struct folder {
    file_copy f[MAX_FILES];
    int n;
} folder;

static void read_whole(const char *path, file_copy *c)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    c->len = fread(c->bytes, 1, sizeof(c->bytes), f);
    ck_assert_msg(feof(f), "%s is larger than the test expects", path);
    fclose(f);
}

/* The visible part files (hidden = 0) or the hidden ones (1), if out exists. */
static void list_parts(folder *fo, int hidden)
{
    char path[700];
    fo->n = 0;
    DIR *d = opendir(out);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int is_hidden = strncmp(de->d_name, ".part-", 6) == 0;
        if (!(hidden ? is_hidden : strncmp(de->d_name, "part-", 5) == 0))
            continue;
        ck_assert_int_lt(fo->n, MAX_FILES);
        file_copy *c = &fo->f[fo->n++];
        snprintf(c->name, sizeof(c->name), "%s", de->d_name);
        snprintf(path, sizeof(path), "%s/%s", out, de->d_name);
        read_whole(path, c);
    }
    closedir(d);
}

/* ---- one subtask's attempt, driven as op_file_sink.c drives the module */

/* What outlives a crash besides the folder: the last completed checkpoint
 * (in the jobmanager's store) and the checkpoint ids handed out. */
typedef struct store {
    int have;
    int offset;      /* records before its barrier: the source's position */
    sl_buf state;    /* the sink's recorded state */
    uint64_t next_id;
} store;

typedef struct checkpoint {
    uint64_t id;
    int offset;
    sl_buf state;
} checkpoint;

typedef struct attempt {
    char uid[SL_FSC_UID_LEN + 1];
    sl_fsc_writer w;
    FILE *f;
    int64_t n;
    sl_fsc_pending pend[SL_FSC_MAX_PENDING];
    int npend;
    sl_fsc_lineages held;
    sl_fsc_pool pool;
    checkpoint acked[NBARRIERS]; /* acked, not yet completed, oldest first */
    int nacked;
    char err[SL_FSC_ERR_MAX];
} attempt;

static void attempt_init(attempt *a, int number, sl_fsc_crash *crash)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->uid, sizeof(a->uid), "%.8s%08x", JOB, (unsigned)number);
    a->w = (sl_fsc_writer){.dir = out, .job_id = JOB, .uid = a->uid, .subtask = 0,
                           .name = "sink", .crash = crash};
}

/* The process dies: what it held in memory is gone, its files stay. */
static void attempt_drop(attempt *a)
{
    if (a->f != NULL)
        fclose(a->f);
    sl_fsc_lineages_free(&a->held);
    sl_fsc_pool_free(&a->pool);
    for (int i = 0; i < a->nacked; i++)
        sl_buf_free(&a->acked[i].state);
}

/* 1 if the seam is about to fail the next step. */
static int crash_due(const sl_fsc_crash *c)
{
    return c != NULL && c->crash_at >= 0 && c->steps >= c->crash_at;
}

/* open: the folder; restored: the share of the last completed checkpoint,
 * then reconcile (an attempt after the first reconciles even without). */
static int attempt_start(attempt *a, int number, const store *st)
{
    int rv = sl_fsc_make_folder(out, a->w.crash, a->err, sizeof(a->err));
    if (rv == SL_OK && st->have) {
        ck_assert_int_eq(sl_fsc_pool_add(&a->pool, st->state.p, st->state.len, a->err,
                                         sizeof(a->err)), SL_OK);
        ck_assert_int_eq(sl_fsc_pool_deal(&a->pool, 0, 1, &a->held, a->err, sizeof(a->err)),
                         SL_OK);
    }
    if (rv == SL_OK && (number > 1 || st->have))
        rv = sl_fsc_reconcile(&a->w, &a->held, a->err, sizeof(a->err));
    return rv;
}

static int write_record(attempt *a, int record)
{
    char line[LINE_BYTES];
    int len = snprintf(line, sizeof(line), "%d\n", record);
    int rv = a->f == NULL ? sl_fsc_open(&a->w, a->n, &a->f, a->err, sizeof(a->err)) : SL_OK;
    return rv == SL_OK ? sl_fsc_write(&a->w, a->f, line, (size_t)len, a->err, sizeof(a->err))
                       : rv;
}

/* Barrier after record `offset`: seal, record the state, ack. */
static int snapshot(attempt *a, store *st, int offset)
{
    checkpoint *c = &a->acked[a->nacked];
    c->id = st->next_id++;
    c->offset = offset;
    c->state = (sl_buf){0};
    int rv = SL_OK;
    if (a->f != NULL) {
        rv = sl_fsc_seal_pending(&a->w, &a->f, a->n, c->id, a->pend, &a->npend, a->err,
                                 sizeof(a->err));
        if (rv == SL_OK)
            a->n++;
    }
    if (rv != SL_OK)
        return rv;
    ck_assert_int_eq(sl_fsc_record(&a->w, 1, &a->held, a->n, &c->state), SL_OK);
    a->nacked++;
    return SL_OK;
}

/* The oldest acked checkpoint completes (the store takes it), then its
 * notification commits. NEVER_COMPLETED: a crash due right now comes
 * before the completion. */
static int complete(attempt *a, store *st, int variant)
{
    if (a->nacked == 0)
        return SL_OK;
    if (variant == NEVER_COMPLETED && crash_due(a->w.crash))
        return SL_EIO;
    checkpoint c = a->acked[0];
    memmove(&a->acked[0], &a->acked[1], (size_t)--a->nacked * sizeof(a->acked[0]));
    sl_buf_free(&st->state);
    st->state = c.state;
    st->offset = c.offset;
    st->have = 1;
    return sl_fsc_commit_upto(&a->w, a->pend, &a->npend, c.id, a->err, sizeof(a->err));
}

static int is_barrier(int record)
{
    for (int i = 0; i < NBARRIERS; i++)
        if (barriers[i] == record)
            return 1;
    return 0;
}

/* Attempt `number` from st to the end of input; SL_OK if it got there. */
static int attempt_run(attempt *a, int number, store *st, int variant)
{
    int rv = attempt_start(a, number, st);
    for (int r = (st->have ? st->offset : 0) + 1; r <= RECORDS && rv == SL_OK; r++) {
        rv = write_record(a, r);
        if (rv == SL_OK && a->nacked > 0 && r == a->acked[0].offset + COMPLETION_LAG)
            rv = complete(a, st, variant);
        if (rv == SL_OK && is_barrier(r))
            rv = snapshot(a, st, r);
    }
    while (rv == SL_OK && a->nacked > 0)
        rv = complete(a, st, variant);
    if (rv == SL_OK && a->f != NULL)
        rv = sl_fsc_commit_open(&a->w, &a->f, a->n++, a->err, sizeof(a->err));
    if (rv == SL_OK)
        rv = sl_fsc_commit_upto(&a->w, a->pend, &a->npend, UINT64_MAX, a->err, sizeof(a->err));
    return rv;
}

/* Runs attempt `number` with a crash at step crash_at (-1: none). 1 if it
 * crashed, 0 if it finished; *steps: the durable steps it reached. */
static int run_one(int number, store *st, int variant, int64_t crash_at, int64_t *steps)
{
    static attempt a;
    sl_fsc_crash crash = {.crash_at = crash_at};
    attempt_init(&a, number, &crash);
    int rv = attempt_run(&a, number, st, variant);
    ck_assert_msg(rv == SL_OK || crash_due(&crash),
                  "attempt %d failed without a crash: %s", number, a.err);
    attempt_drop(&a);
    *steps = crash.steps;
    return rv != SL_OK;
}

/* ---- what must hold at the end */

static void assert_exactly_once(const char *what)
{
    static folder vis, hid;
    int seen[RECORDS + 1] = {0};
    list_parts(&hid, 1);
    ck_assert_msg(hid.n == 0, "%s: hidden file %s left", what, hid.f[0].name);
    list_parts(&vis, 0);
    for (int i = 0; i < vis.n; i++) {
        char *save = NULL, *text = vis.f[i].bytes;
        vis.f[i].bytes[vis.f[i].len < FILE_BYTES ? vis.f[i].len : FILE_BYTES - 1] = '\0';
        for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
            int r = atoi(l);
            ck_assert_msg(r >= 1 && r <= RECORDS, "%s: stray line '%s' in %s", what, l,
                          vis.f[i].name);
            seen[r]++;
        }
    }
    for (int r = 1; r <= RECORDS; r++)
        ck_assert_msg(seen[r] == 1, "%s: record %d is %d times in the visible files", what, r,
                      seen[r]);
}

/* Every file of before is still there, byte-identical. */
static void assert_unchanged(const folder *before, const char *what)
{
    static folder now;
    list_parts(&now, 0);
    for (int i = 0; i < before->n; i++) {
        const file_copy *b = &before->f[i];
        int j = 0;
        while (j < now.n && strcmp(now.f[j].name, b->name) != 0)
            j++;
        ck_assert_msg(j < now.n, "%s: committed file %s is gone", what, b->name);
        ck_assert_msg(now.f[j].len == b->len && memcmp(now.f[j].bytes, b->bytes, b->len) == 0,
                      "%s: committed file %s was rewritten", what, b->name);
    }
}

static void store_free(store *st)
{
    sl_buf_free(&st->state);
}

static int64_t cycle_steps(void)
{
    store st = {.next_id = 1};
    int64_t steps;
    ck_assert_int_eq(run_one(1, &st, LOST_NOTIFY, -1, &steps), 0);
    assert_exactly_once("without a crash");
    store_free(&st);
    nftw(out, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return steps;
}

/* Crash at step k of the first attempt, then (if again >= 0) at step again
 * of the second; then attempts until one finishes. */
static void crash_and_recover(int variant, int64_t k, int64_t again)
{
    static folder committed[3];
    char what[128];
    store st = {.next_id = 1};
    int64_t steps;
    snprintf(what, sizeof(what), "%s, crash at step %lld then %lld",
             variant == LOST_NOTIFY ? "notification lost" : "never completed", (long long)k,
             (long long)again);
    ck_assert_msg(run_one(1, &st, variant, k, &steps) == 1, "%s: no crash", what);
    list_parts(&committed[0], 0);
    int crashes = 1;
    if (again >= 0) {
        ck_assert_msg(run_one(2, &st, variant, again, &steps) == 1, "%s: no second crash", what);
        list_parts(&committed[crashes++], 0);
    }
    ck_assert_int_eq(run_one(crashes + 1, &st, variant, -1, &steps), 0);
    for (int i = 0; i < crashes; i++)
        assert_unchanged(&committed[i], what);
    assert_exactly_once(what);
    store_free(&st);
    nftw(out, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- tests */

START_TEST(test_crash_at_every_step)
{
    int64_t n = cycle_steps();
    /* per checkpoint at least: create, writes, fsync of the file and of
     * the folder, rename, fsync of the folder */
    ck_assert_msg(n >= NBARRIERS * 6, "a full cycle has only %lld durable steps", (long long)n);
    for (int variant = LOST_NOTIFY; variant <= NEVER_COMPLETED; variant++)
        for (int64_t k = 0; k < n; k++)
            crash_and_recover(variant, k, -1);
}
END_TEST

/* The recovery crashes too, at every one of its steps (reconcile's renames
 * and unlinks included). */
START_TEST(test_crash_again_while_recovering)
{
    int64_t n = cycle_steps();
    for (int variant = LOST_NOTIFY; variant <= NEVER_COMPLETED; variant++) {
        for (int64_t k = 0; k < n; k++) {
            int64_t m, steps;
            store st = {.next_id = 1};
            /* the steps of the recovery after a crash at k */
            ck_assert_int_eq(run_one(1, &st, variant, k, &steps), 1);
            ck_assert_int_eq(run_one(2, &st, variant, -1, &m), 0);
            store_free(&st);
            nftw(out, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            for (int64_t j = 0; j < m; j++)
                crash_and_recover(variant, k, j);
        }
    }
}
END_TEST

/* ---- reconcile on its own */

typedef struct seeded {
    const char *name;
    int visible;
} seeded;

static void put_file(const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", out, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static int exists(const char *name)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", out, name);
    return access(path, F_OK) == 0;
}

/* The state a writer of deployment A recorded: its own files 0..1 and the
 * lineage of another job's deployment F (restored from F's savepoint,
 * covering F's file 0) that it carries. */
static void restored_state(sl_fsc_lineages *held)
{
    char err[SL_FSC_ERR_MAX];
    sl_buf b = {0};
    sl_fsc_pool pool = {0};
    sl_fsc_lineage f = {.uid = "dddddddd0000000f", .subtask = 0, .covered = 0};
    sl_fsc_lineages carried = {.v = &f, .n = 1, .cap = 1};
    sl_fsc_writer a = {.dir = out, .job_id = JOB, .uid = "cccccccc0000000a", .subtask = 0,
                       .name = "sink"};
    ck_assert_int_eq(sl_fsc_record(&a, 1, &carried, 2, &b), SL_OK);
    ck_assert_msg(sl_fsc_pool_add(&pool, b.p, b.len, err, sizeof(err)) == SL_OK, "%s", err);
    ck_assert_msg(sl_fsc_pool_deal(&pool, 0, 1, held, err, sizeof(err)) == SL_OK, "%s", err);
    ck_assert_int_eq(held->n, 2);
    sl_fsc_pool_free(&pool);
    sl_buf_free(&b);
}

START_TEST(test_reconcile_never_touches_visible_files)
{
    /* this job: A restored (covers 0..1), B a later deployment's; another
     * job: F restored from its savepoint (covers 0), G not restored */
    static const char *visible[] = {
        "part-cccccccc0000000a-0-0",  /* covered */
        "part-cccccccc0000000a-0-3",  /* committed after the checkpoint */
        "part-cccccccc0000000b-0-0",  /* this job, not restored */
        "part-cccccccc0000000b-1-0",  /* this job, another subtask */
        "part-dddddddd0000000f-0-1",  /* another job, not covered */
        "part-dddddddd0000000e-0-0",  /* another job, no lineage */
    };
    static const seeded hidden[] = {
        {".part-cccccccc0000000a-0-1.inprogress", 1}, /* covered: committed */
        {".part-cccccccc0000000a-0-2.inprogress", 0}, /* not covered: deleted */
        {".part-cccccccc0000000b-0-1.inprogress", 0}, /* this subtask: deleted */
        {".part-cccccccc0000000b-1-1.inprogress", -1}, /* another subtask's: left */
        {".part-dddddddd0000000f-0-0.inprogress", 1}, /* covered: committed */
        {".part-dddddddd0000000f-0-2.inprogress", 0}, /* not covered: deleted */
        {".part-dddddddd0000000e-0-1.inprogress", -1}, /* no lineage: left */
    };
    enum { NVIS = sizeof(visible) / sizeof(visible[0]), NHID = sizeof(hidden) / sizeof(hidden[0]) };
    char err[SL_FSC_ERR_MAX], path[700];
    struct stat before[NVIS], after;
    ck_assert_int_eq(sl_fsc_make_folder(out, NULL, err, sizeof(err)), SL_OK);
    for (int i = 0; i < NVIS; i++) {
        put_file(visible[i], visible[i]);
        snprintf(path, sizeof(path), "%s/%s", out, visible[i]);
        ck_assert_int_eq(stat(path, &before[i]), 0);
    }
    for (int i = 0; i < NHID; i++)
        put_file(hidden[i].name, "x\n");
    put_file("notes.txt", "not a part file\n");
    static folder seen;
    list_parts(&seen, 0);

    sl_fsc_lineages held = {0};
    restored_state(&held);
    sl_fsc_writer w = {.dir = out, .job_id = JOB, .uid = "cccccccc00000009", .subtask = 0,
                       .name = "sink"};
    ck_assert_msg(sl_fsc_reconcile(&w, &held, err, sizeof(err)) == SL_OK, "%s", err);

    assert_unchanged(&seen, "reconcile");
    for (int i = 0; i < NVIS; i++) {
        snprintf(path, sizeof(path), "%s/%s", out, visible[i]);
        ck_assert_int_eq(stat(path, &after), 0);
        ck_assert_msg(after.st_ino == before[i].st_ino &&
                          after.st_mtim.tv_sec == before[i].st_mtim.tv_sec &&
                          after.st_mtim.tv_nsec == before[i].st_mtim.tv_nsec,
                      "reconcile replaced or wrote %s", visible[i]);
    }
    for (int i = 0; i < NHID; i++) {
        const char *name = hidden[i].name;
        char final[256];
        snprintf(final, sizeof(final), "%.*s", (int)(strlen(name) - 1 - strlen(".inprogress")),
                 name + 1);
        ck_assert_msg(exists(name) == (hidden[i].visible == -1), "%s: wrong fate", name);
        ck_assert_msg(exists(final) == (hidden[i].visible == 1), "%s: wrong fate", final);
    }
    ck_assert(exists("notes.txt"));
    ck_assert_int_eq(held.n, 1); /* the other job's lineage is dropped */
    ck_assert_str_eq(held.v[0].uid, "cccccccc0000000a");
    sl_fsc_lineages_free(&held);
}
END_TEST

/* A checkpoint covering files 0 and 1 of a writer; file 1 goes missing:
 * committed (visible), or still pending (its notification lost). */
static void missing_covered(int visible)
{
    static attempt a;
    store st = {.next_id = 1};
    char victim[700], named[700];
    attempt_init(&a, 1, NULL);
    ck_assert_int_eq(attempt_start(&a, 1, &st), SL_OK);
    for (int r = 1; r <= 2; r++) {
        ck_assert_int_eq(write_record(&a, r), SL_OK);
        ck_assert_int_eq(snapshot(&a, &st, r), SL_OK);
    }
    ck_assert_int_eq(complete(&a, &st, LOST_NOTIFY), SL_OK);
    if (visible) {
        ck_assert_int_eq(complete(&a, &st, LOST_NOTIFY), SL_OK);
    } else { /* completed, its notification lost */
        sl_buf_free(&st.state);
        st.state = a.acked[0].state;
        st.offset = a.acked[0].offset;
        a.nacked = 0;
    }
    sl_fsc_part_name(victim, sizeof(victim), out, a.uid, 0, 1, !visible);
    sl_fsc_part_name(named, sizeof(named), out, a.uid, 0, 1, 0);
    attempt_drop(&a);
    ck_assert_int_eq(unlink(victim), 0);

    attempt_init(&a, 2, NULL);
    ck_assert_int_eq(attempt_start(&a, 2, &st), SL_EIO);
    ck_assert_msg(strstr(a.err, named) != NULL && strstr(a.err, "missing") != NULL,
                  "the failure does not name the missing file %s: '%s'", named, a.err);
    attempt_drop(&a);
    store_free(&st);
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

/* fuzz/corpus/state/crash-sink-no-lineages-rescaled: a sink that had
 * written no file records no lineage; restored at another parallelism its
 * empty pool is dealt (qsort was given NULL, undefined behaviour). */
START_TEST(test_empty_state_rescaled)
{
    char err[SL_FSC_ERR_MAX];
    sl_buf b = {0};
    sl_fsc_lineages none = {0};
    sl_fsc_writer w = {.dir = out, .job_id = JOB, .uid = "cccccccc0000000a", .subtask = 0,
                       .name = "sink"};
    ck_assert_int_eq(sl_fsc_record(&w, 1, &none, 0, &b), SL_OK);
    for (int s = 0; s < 2; s++) {
        sl_fsc_pool pool = {0};
        sl_fsc_lineages held = {0};
        ck_assert_msg(sl_fsc_pool_add(&pool, b.p, b.len, err, sizeof(err)) == SL_OK, "%s", err);
        ck_assert_msg(sl_fsc_pool_deal(&pool, s, 2, &held, err, sizeof(err)) == SL_OK, "%s", err);
        ck_assert_int_eq(held.n, 0);
        sl_fsc_lineages_free(&held);
        sl_fsc_pool_free(&pool);
    }
    sl_buf_free(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("file_sink_commit");
    TCase *crash = tcase_create("crash");
    tcase_add_checked_fixture(crash, setup, teardown);
    tcase_set_timeout(crash, 300);
    tcase_add_test(crash, test_crash_at_every_step);
    tcase_add_test(crash, test_crash_again_while_recovering);
    suite_add_tcase(s, crash);
    TCase *rec = tcase_create("reconcile");
    tcase_add_checked_fixture(rec, setup, teardown);
    tcase_add_test(rec, test_reconcile_never_touches_visible_files);
    tcase_add_test(rec, test_missing_covered_hidden_file_fails);
    tcase_add_test(rec, test_missing_covered_visible_file_fails);
    tcase_add_test(rec, test_empty_state_rescaled);
    suite_add_tcase(s, rec);
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
