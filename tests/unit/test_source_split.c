/* Unit tests: rescalable source positions and barriers.
 *
 * - source lanes (taskmanager/source_lanes.c): for many (count, P -> P' ->
 *   P'') sequences, subtasks stopped at random positions, snapshotted and
 *   restored with another parallelism, every index < count is emitted
 *   exactly once, in increasing order within a subtask; same parallelism
 *   keeps each subtask's own lanes; malformed snapshots are refused.
 * - file source (taskmanager/op_file_source.c, run through its operator
 *   ops on a minimal task): text and multi-line csv inputs over several
 *   files, stopped at random records, restored P -> P' -> P'': every
 *   record is emitted exactly once.
 * - file sink (taskmanager/op_file_sink.c): job B restored from job A's
 *   savepoint with another parallelism commits A's covered hidden files,
 *   deletes its uncovered hidden ones and leaves visible ones alone.
 * - barrier encoding (taskmanager/channel.c): options round-trip, bad
 *   lengths and flags are refused. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taskmanager/buf.h"
#include "common/jobfile.h"
#include "common/status.h"
#include "taskmanager/network/barrier.h"
#include "taskmanager/network/frame.h"
#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/output.h"
#include "taskmanager/network/peer.h"
#include "taskmanager/operators/source_lanes.h"
#include "taskmanager/operators/op_registry.h"

#define MAXP 7

static uint64_t rng_state;

static uint64_t rnd(uint64_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return n ? (rng_state >> 33) % n : 0;
}

/* ---- lanes -------------------------------------------------------------- */

typedef struct lane_run {
    uint64_t count;
    unsigned char *seen;
    sl_buf snaps[MAXP];
} lane_run;

/* Subtask s of p emits up to `limit` indices (all if limit < 0), checking
 * order and uniqueness, then snapshots into r->snaps[s]. */
static void lanes_emit(lane_run *r, sl_lanes *l, int s, int p, int64_t limit)
{
    uint64_t i, last = 0;
    int first = 1;
    for (int64_t k = 0; limit < 0 || k < limit; k++) {
        if (sl_lanes_next(l, &i) != SL_OK)
            break;
        ck_assert_uint_lt(i, r->count);
        ck_assert_msg(!r->seen[i], "index %llu emitted twice", (unsigned long long)i);
        ck_assert(first || i > last);
        r->seen[i] = 1;
        last = i;
        first = 0;
    }
    sl_buf_free(&r->snaps[s]);
    memset(&r->snaps[s], 0, sizeof(r->snaps[s]));
    ck_assert_int_eq(sl_lanes_snapshot(l, s, p, &r->snaps[s]), SL_OK);
}

/* Restores subtask s of p from the snapshots of all oldp subtasks (added
 * in a shuffled order: the share must not depend on it). */
static void lanes_restore(sl_lanes *l, uint64_t count, const sl_buf *old, int oldp, int s, int p)
{
    int order[MAXP];
    for (int k = 0; k < oldp; k++)
        order[k] = k;
    for (int k = oldp - 1; k > 0; k--) {
        int j = (int)rnd((uint64_t)k + 1), x = order[k];
        order[k] = order[j];
        order[j] = x;
    }
    ck_assert_int_eq(sl_lanes_init(l, s, p, count), SL_OK);
    for (int k = 0; k < oldp; k++)
        ck_assert_int_eq(sl_lanes_restore_add(l, old[order[k]].p, old[order[k]].len), SL_OK);
    ck_assert_int_eq(sl_lanes_restore_finish(l, s, p), SL_OK);
}

static void lanes_sequence(uint64_t count, const int *ps, int nphases)
{
    lane_run r;
    memset(&r, 0, sizeof(r));
    r.count = count;
    r.seen = calloc(count + 1, 1);
    sl_buf old[MAXP];
    int oldp = 0;
    for (int ph = 0; ph < nphases; ph++) {
        int p = ps[ph], last = ph == nphases - 1;
        for (int s = 0; s < p; s++) {
            sl_lanes l;
            if (ph == 0)
                ck_assert_int_eq(sl_lanes_init(&l, s, p, count), SL_OK);
            else
                lanes_restore(&l, count, old, oldp, s, p);
            lanes_emit(&r, &l, s, p, last ? -1 : (int64_t)rnd(count / (uint64_t)p + 2));
            sl_lanes_free(&l);
        }
        for (int s = 0; s < oldp; s++)
            sl_buf_free(&old[s]);
        memcpy(old, r.snaps, sizeof(old));
        memset(r.snaps, 0, sizeof(r.snaps));
        oldp = p;
    }
    for (uint64_t i = 0; i < count; i++)
        ck_assert_msg(r.seen[i], "index %llu of %llu never emitted", (unsigned long long)i,
                      (unsigned long long)count);
    for (int s = 0; s < oldp; s++)
        sl_buf_free(&old[s]);
    free(r.seen);
}

START_TEST(test_lanes_every_index_once_across_rescales)
{
    static const uint64_t counts[] = {0, 1, 2, 3, 5, 10, 17, 100, 1000, 4099};
    rng_state = 42;
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        for (int rep = 0; rep < 60; rep++) {
            int ps[4];
            for (int k = 0; k < 4; k++)
                ps[k] = 1 + (int)rnd(MAXP);
            lanes_sequence(counts[c], ps, 2 + (int)rnd(3));
        }
    }
}
END_TEST

START_TEST(test_lanes_same_parallelism_keeps_own_lanes)
{
    sl_buf snaps[3];
    memset(snaps, 0, sizeof(snaps));
    for (int s = 0; s < 3; s++) {
        sl_lanes l;
        uint64_t i;
        ck_assert_int_eq(sl_lanes_init(&l, s, 3, 100), SL_OK);
        for (int k = 0; k <= s; k++)
            ck_assert_int_eq(sl_lanes_next(&l, &i), SL_OK);
        ck_assert_int_eq(sl_lanes_snapshot(&l, s, 3, &snaps[s]), SL_OK);
        sl_lanes_free(&l);
    }
    for (int s = 0; s < 3; s++) {
        sl_lanes l;
        uint64_t i;
        ck_assert_int_eq(sl_lanes_init(&l, s, 3, 100), SL_OK);
        for (int k = 2; k >= 0; k--)
            ck_assert_int_eq(sl_lanes_restore_add(&l, snaps[k].p, snaps[k].len), SL_OK);
        ck_assert_int_eq(sl_lanes_restore_finish(&l, s, 3), SL_OK);
        ck_assert_int_eq(l.n, 1);
        ck_assert_int_eq(sl_lanes_next(&l, &i), SL_OK);
        ck_assert_uint_eq(i, (uint64_t)s + 3 * ((uint64_t)s + 1));
        sl_lanes_free(&l);
    }
    for (int s = 0; s < 3; s++)
        sl_buf_free(&snaps[s]);
}
END_TEST

START_TEST(test_lanes_refuse_malformed_and_inconsistent)
{
    sl_buf a = {0}, b = {0};
    sl_lanes l;
    ck_assert_int_eq(sl_lanes_init(&l, 0, 2, 50), SL_OK);
    ck_assert_int_eq(sl_lanes_snapshot(&l, 0, 2, &a), SL_OK);
    sl_lanes_free(&l);
    ck_assert_int_eq(sl_lanes_init(&l, 1, 2, 50), SL_OK);
    ck_assert_int_eq(sl_lanes_snapshot(&l, 1, 2, &b), SL_OK);
    sl_lanes_free(&l);
    /* truncated at every length */
    for (size_t n = 0; n < a.len; n++) {
        ck_assert_int_eq(sl_lanes_init(&l, 0, 1, 50), SL_OK);
        ck_assert_int_eq(sl_lanes_restore_add(&l, a.p, n), SL_EINVAL);
        sl_lanes_free(&l);
    }
    /* the same old subtask twice; one missing */
    ck_assert_int_eq(sl_lanes_init(&l, 0, 3, 50), SL_OK);
    ck_assert_int_eq(sl_lanes_restore_add(&l, a.p, a.len), SL_OK);
    ck_assert_int_eq(sl_lanes_restore_add(&l, a.p, a.len), SL_EINVAL);
    ck_assert_int_eq(sl_lanes_restore_finish(&l, 0, 3), SL_EINVAL);
    ck_assert_int_eq(sl_lanes_restore_add(&l, b.p, b.len), SL_OK);
    ck_assert_int_eq(sl_lanes_restore_finish(&l, 0, 3), SL_OK);
    sl_lanes_free(&l);
    sl_buf_free(&a);
    sl_buf_free(&b);
}
END_TEST

/* ---- file source ---------------------------------------------------------- */

#define NREC 600
#define NFILES 3

static char tmp_dir[256];
static int counts[NREC];
static int64_t emitted, limit;

static int cap_process(sl_op *op, const sl_row *row)
{
    (void)op;
    long id = -1;
    if (row->v[0].type == SL_TYPE_INT)
        id = (long)row->v[0].u.i;
    else
        sscanf(row->v[0].u.s.ptr, "rec%ld ", &id);
    ck_assert(id >= 0 && id < NREC);
    counts[id]++;
    return ++emitted == limit ? SL_EBUSY : SL_OK;
}

static const sl_op_ops cap_ops = {.process = cap_process};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void setup_dir(void)
{
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/sluice-split-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void teardown_dir(void)
{
    nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes NREC records over NFILES files; csv records may hold quoted line
 * ends, commas and quotes. */
static void write_input(int csv)
{
    FILE *f[NFILES];
    for (int k = 0; k < NFILES; k++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/in-%d", tmp_dir, k);
        f[k] = fopen(path, "w");
        ck_assert_ptr_nonnull(f[k]);
    }
    for (int i = 0; i < NREC; i++) {
        FILE *o = f[i * NFILES / NREC];
        int pad = (int)rnd(40);
        if (!csv) {
            fprintf(o, "rec%d %.*s\n", i, pad, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
            continue;
        }
        fprintf(o, "%d,\"", i);
        for (int k = 0; k < pad; k++)
            fputs(rnd(5) == 0 ? "\n" : rnd(7) == 0 ? "\"\"" : rnd(6) == 0 ? "," : "y", o);
        fputs("\"\n", o);
    }
    for (int k = 0; k < NFILES; k++)
        fclose(f[k]);
}

/* The task side of an operator's context: no mailbox, no outputs. */
static int task_emit(void *t, const sl_row *row) { (void)t, (void)row; return SL_OK; }
static int task_watermark(void *t, int64_t wm) { (void)t, (void)wm; return SL_OK; }
static int task_nothing(void *t) { (void)t; return SL_OK; }

/* Subtask s of p of job `job`; the failure goes to failure. */
static sl_op_ctx test_ctx(const sl_job_spec *spec, const char *job, int s, int p,
                          char *failure, size_t cap)
{
    return (sl_op_ctx){.job_id = job, .attempt = 1, .subtask = s, .parallelism = p,
                       .max_parallelism = spec->max_parallelism, .spec = spec,
                       .task = {.emit = task_emit, .watermark = task_watermark,
                                .flush = task_nothing, .poll = task_nothing},
                       .failure = failure, .failure_cap = cap};
}

static sl_job_spec *parse_job(int csv)
{
    char text[1024], err[256];
    sl_job_spec *spec = NULL;
    snprintf(text, sizeof(text),
             "name: t\npipeline:\n  - name: src\n    source: file\n    path: %s\n%s"
             "  - name: out\n    sink: blackhole\n",
             tmp_dir, csv ? "    format: csv\n    schema: \"id:int, s:string\"\n" : "");
    ck_assert_msg(sl_job_parse("job.yaml", text, strlen(text), 1, &spec, err, sizeof(err)) ==
                      SL_OK,
                  "%s", err);
    return spec;
}

/* Runs subtask s of p: restores from old[0..oldp), reads up to lim records
 * (all if lim < 0), snapshots into *snap. */
static void run_subtask(sl_job_spec *spec, const sl_buf *old, int oldp, int s, int p,
                        int64_t lim, sl_buf *snap)
{
    static struct {
        char failure[1024]; /* what the task reads: the source's failure */
    } task;
    memset(&task, 0, sizeof(task));
    sl_op_ctx ctx = test_ctx(spec, "", s, p, task.failure, sizeof(task.failure));
    sl_op cap = {.ops = &cap_ops, .stage = &spec->stages[1], .ctx = ctx};
    sl_op src = {.ops = &sl_op_file_source, .stage = &spec->stages[0], .ctx = ctx,
                 .next = &cap};
    ck_assert_int_eq(src.ops->open(&src), SL_OK);
    for (int k = 0; k < oldp; k++)
        ck_assert_msg(src.ops->restore(&src, old[k].p, old[k].len) == SL_OK, "%s", task.failure);
    if (oldp > 0)
        ck_assert_msg(src.ops->restore_end(&src) == SL_OK, "%s", task.failure);
    emitted = 0;
    limit = lim;
    int rv = src.ops->run(&src);
    ck_assert_msg(rv == SL_OK || (rv == SL_EBUSY && emitted == lim), "%s", task.failure);
    memset(snap, 0, sizeof(*snap));
    ck_assert_int_eq(src.ops->snapshot(&src, 1, snap), SL_OK);
    src.ops->close(&src, 1);
}

static void file_sequence(int csv, const int *ps, int nphases)
{
    sl_job_spec *spec = parse_job(csv);
    sl_buf old[MAXP], cur[MAXP];
    int oldp = 0;
    memset(counts, 0, sizeof(counts));
    for (int ph = 0; ph < nphases; ph++) {
        int p = ps[ph], last = ph == nphases - 1;
        for (int s = 0; s < p; s++)
            run_subtask(spec, old, oldp, s, p, last ? -1 : 1 + (int64_t)rnd(NREC / (unsigned)p),
                        &cur[s]);
        for (int s = 0; s < oldp; s++)
            sl_buf_free(&old[s]);
        memcpy(old, cur, sizeof(old));
        oldp = p;
    }
    for (int s = 0; s < oldp; s++)
        sl_buf_free(&old[s]);
    for (int i = 0; i < NREC; i++)
        ck_assert_msg(counts[i] == 1, "record %d emitted %d times (csv %d)", i, counts[i], csv);
    sl_job_free(spec);
}

static void file_rescales(int csv)
{
    rng_state = 7 + (uint64_t)csv;
    write_input(csv);
    for (int rep = 0; rep < 40; rep++) {
        int ps[4];
        for (int k = 0; k < 4; k++)
            ps[k] = 1 + (int)rnd(MAXP);
        file_sequence(csv, ps, 2 + (int)rnd(3));
    }
    static const int same[] = {3, 3, 3};
    file_sequence(csv, same, 3);
}

START_TEST(test_file_source_text_rescales)
{
    file_rescales(0);
}
END_TEST

START_TEST(test_file_source_csv_multiline_rescales)
{
    file_rescales(1);
}
END_TEST

/* ---- file sink ------------------------------------------------------------ */

/* A sink subtask of job `job` (a 32-hex id), restored (restore != 0). */
typedef struct sink_sub {
    struct {
        char failure[1024]; /* what the task reads: the sink's failure */
    } task;
    sl_op op;
} sink_sub;

static void sink_start(sink_sub *k, sl_job_spec *spec, const char *job, int s, int p,
                       const sl_buf *old, int oldp)
{
    memset(k, 0, sizeof(*k));
    sl_op_ctx ctx = test_ctx(spec, job, s, p, k->task.failure, sizeof(k->task.failure));
    ctx.restoring = oldp > 0;
    k->op = (sl_op){.ops = &sl_op_file_sink, .stage = &spec->stages[1], .ctx = ctx, .nin = 1,
                    .in = {&spec->stages[spec->stages[1].inputs[0]].out_schema}};
    ck_assert_int_eq(k->op.ops->open(&k->op), SL_OK);
    for (int o = 0; o < oldp; o++)
        ck_assert_msg(k->op.ops->restore(&k->op, old[o].p, old[o].len) == SL_OK, "%s",
                      k->task.failure);
    if (oldp > 0)
        ck_assert_msg(k->op.ops->restore_end(&k->op) == SL_OK, "%s", k->task.failure);
}

static void sink_write(sink_sub *k, int64_t v)
{
    sl_row row;
    row.nfields = 1;
    row.v[0].type = SL_TYPE_INT;
    row.v[0].u.i = v;
    ck_assert_msg(k->op.ops->process(&k->op, &row) == SL_OK, "%s", k->task.failure);
}

/* Counts part files: *vis visible, *hid hidden; returns the visible lines
 * with value v in *withv. */
static void count_parts(const char *dir, int *vis, int *hid)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ls -a %s", dir);
    FILE *f = popen(cmd, "r");
    char name[512];
    *vis = *hid = 0;
    while (fgets(name, sizeof(name), f) != NULL) {
        if (strncmp(name, "part-", 5) == 0)
            (*vis)++;
        else if (strncmp(name, ".part-", 6) == 0)
            (*hid)++;
    }
    pclose(f);
}

static int part_exists(const char *dir, const char *uid, int s, int n, int hidden)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%spart-%s-%d-%d%s", dir, hidden ? "." : "", uid, s, n,
             hidden ? ".inprogress" : "");
    return access(path, F_OK) == 0;
}

START_TEST(test_file_sink_restores_another_jobs_lineages_rescaled)
{
    static const char job_a[] = "aaaaaaaa000000000000000000000000";
    static const char job_b[] = "bbbbbbbb000000000000000000000000";
    char text[1024], err[256], out[400], uid[2][17];
    sl_job_spec *spec = NULL;
    snprintf(out, sizeof(out), "%s/out", tmp_dir);
    snprintf(text, sizeof(text),
             "name: t\npipeline:\n  - name: src\n    source: datagen\n"
             "  - name: sink\n    sink: file\n    path: %s\n",
             out);
    ck_assert_msg(sl_job_parse("job.yaml", text, strlen(text), 1, &spec, err, sizeof(err)) ==
                      SL_OK, "%s", err);
    /* job A, P = 2: file 0 in savepoint 1; file 1 after it (subtask 1
     * commits it by a later checkpoint, subtask 0 leaves it hidden) */
    static sink_sub a[2];
    sl_buf sp[2];
    for (int s = 0; s < 2; s++) {
        sink_start(&a[s], spec, job_a, s, 2, NULL, 0);
        sink_write(&a[s], 1);
        memset(&sp[s], 0, sizeof(sp[s]));
        ck_assert_int_eq(a[s].op.ops->snapshot(&a[s].op, 1, &sp[s]), SL_OK);
        sink_write(&a[s], 2);
        sl_buf later = {0};
        ck_assert_int_eq(a[s].op.ops->snapshot(&a[s].op, 2, &later), SL_OK);
        sl_buf_free(&later);
        if (s == 1)
            ck_assert_int_eq(a[s].op.ops->notify_complete(&a[s].op, 2), SL_OK);
        memcpy(uid[s], a[s].op.ctx.job_id, 8);
    }
    /* the uids: from the file names */
    for (int s = 0; s < 2; s++) {
        char cmd[600], name[300];
        snprintf(cmd, sizeof(cmd), "ls -a %s | grep -- 'part-aaaaaaaa[0-9a-f]*-%d-0'", out, s);
        FILE *f = popen(cmd, "r");
        ck_assert_ptr_nonnull(fgets(name, sizeof(name), f));
        pclose(f);
        const char *u = strstr(name, "part-") + 5;
        memcpy(uid[s], u, 16);
        uid[s][16] = '\0';
    }
    for (int s = 0; s < 2; s++)
        a[s].op.ops->close(&a[s].op, 0);
    ck_assert(part_exists(out, uid[0], 0, 0, 1) && part_exists(out, uid[0], 0, 1, 1));
    ck_assert(part_exists(out, uid[1], 1, 0, 0) && part_exists(out, uid[1], 1, 1, 0));
    /* job B from savepoint 1, P = 3 */
    static sink_sub b[3];
    for (int s = 0; s < 3; s++) {
        sink_start(&b[s], spec, job_b, s, 3, sp, 2);
        sink_write(&b[s], 3);
        ck_assert_int_eq(b[s].op.ops->finish(&b[s].op), SL_OK);
        b[s].op.ops->close(&b[s].op, 1);
    }
    /* covered hidden committed; uncovered hidden deleted; visible kept */
    ck_assert(part_exists(out, uid[0], 0, 0, 0));
    ck_assert(!part_exists(out, uid[0], 0, 1, 1) && !part_exists(out, uid[0], 0, 1, 0));
    ck_assert(part_exists(out, uid[1], 1, 0, 0) && part_exists(out, uid[1], 1, 1, 0));
    int vis, hid;
    count_parts(out, &vis, &hid);
    ck_assert_int_eq(hid, 0);
    ck_assert_int_eq(vis, 3 + 3); /* A: 0-0, 1-0, 1-1; B: one per subtask */
    for (int s = 0; s < 2; s++)
        sl_buf_free(&sp[s]);
    sl_job_free(spec);
}
END_TEST

/* ---- barriers ------------------------------------------------------------- */

START_TEST(test_barrier_round_trip)
{
    static sl_barrier b, back;
    uint8_t buf[SL_BARRIER_MAX_LEN];
    size_t len, used;
    memset(&b, 0, sizeof(b));
    b.id = 77;
    b.ts = -5;
    b.final = 1;
    ck_assert_int_eq(sl_barrier_encode(&b, buf, sizeof(buf), &len), SL_OK);
    ck_assert_uint_eq(len, SL_BARRIER_LEN);
    ck_assert_int_eq(sl_barrier_decode(buf, len, &back, &used), SL_OK);
    ck_assert(back.id == 77 && back.ts == -5 && back.final && back.kind == SL_BARRIER_KIND_CHECKPOINT);
    b.final = 0;
    b.kind = SL_BARRIER_KIND_SAVEPOINT_STOP;
    strcpy(b.dir, "/sp/savepoint-1");
    ck_assert_int_eq(sl_barrier_encode(&b, buf, sizeof(buf), &len), SL_OK);
    ck_assert_uint_eq(len, SL_BARRIER_LEN + 2 + strlen(b.dir));
    ck_assert_int_eq(sl_barrier_decode(buf, len, &back, &used), SL_OK);
    ck_assert_uint_eq(used, len);
    ck_assert(back.kind == SL_BARRIER_KIND_SAVEPOINT_STOP && !back.final);
    ck_assert_str_eq(back.dir, "/sp/savepoint-1");
    for (size_t n = 0; n < len; n++)
        ck_assert_int_eq(sl_barrier_decode(buf, n, &back, &used), SL_EINVAL);
}
END_TEST

START_TEST(test_barrier_refuses_bad_options)
{
    static sl_barrier b, back;
    uint8_t buf[SL_BARRIER_MAX_LEN + 8];
    size_t len, used;
    memset(&b, 0, sizeof(b));
    b.kind = SL_BARRIER_KIND_SAVEPOINT;
    ck_assert_int_eq(sl_barrier_encode(&b, buf, sizeof(buf), &len), SL_EINVAL); /* no folder */
    memset(b.dir, 'a', SL_BARRIER_DIR_MAX);
    ck_assert_int_eq(sl_barrier_encode(&b, buf, sizeof(buf), &len), SL_OK);
    ck_assert_int_eq(sl_barrier_decode(buf, len, &back, &used), SL_OK);
    ck_assert_uint_eq(strlen(back.dir), SL_BARRIER_DIR_MAX);
    buf[SL_BARRIER_LEN] = 0x00; /* length 4096 */
    buf[SL_BARRIER_LEN + 1] = 0x10;
    ck_assert_int_eq(sl_barrier_decode(buf, sizeof(buf), &back, &used), SL_EINVAL);
    buf[16] = SL_BARRIER_FLAG_STOP; /* stop without savepoint */
    ck_assert_int_eq(sl_barrier_decode(buf, SL_BARRIER_LEN, &back, &used), SL_EINVAL);
    buf[16] = 0x80; /* unknown flag */
    ck_assert_int_eq(sl_barrier_decode(buf, SL_BARRIER_LEN, &back, &used), SL_EINVAL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("source_split");
    TCase *lanes = tcase_create("lanes");
    tcase_add_test(lanes, test_lanes_every_index_once_across_rescales);
    tcase_add_test(lanes, test_lanes_same_parallelism_keeps_own_lanes);
    tcase_add_test(lanes, test_lanes_refuse_malformed_and_inconsistent);
    suite_add_tcase(s, lanes);
    TCase *files = tcase_create("file_source");
    tcase_add_checked_fixture(files, setup_dir, teardown_dir);
    tcase_set_timeout(files, 60);
    tcase_add_test(files, test_file_source_text_rescales);
    tcase_add_test(files, test_file_source_csv_multiline_rescales);
    suite_add_tcase(s, files);
    TCase *sink = tcase_create("file_sink");
    tcase_add_checked_fixture(sink, setup_dir, teardown_dir);
    tcase_add_test(sink, test_file_sink_restores_another_jobs_lineages_rescaled);
    suite_add_tcase(s, sink);
    TCase *barriers = tcase_create("barrier");
    tcase_add_test(barriers, test_barrier_round_trip);
    tcase_add_test(barriers, test_barrier_refuses_bad_options);
    suite_add_tcase(s, barriers);
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
