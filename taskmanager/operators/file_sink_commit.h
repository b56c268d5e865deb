/* The exactly-once file sink's commit protocol (two-phase commit) on one
 * folder of part files, apart from any operator: which steps are durable,
 * in which order, and what a restore makes of a folder.
 *
 * Place: called by taskmanager/operators/op_file_sink.c (the operator:
 * rows, their formatting, when a part file rolls, its task's failure) and
 * by tests/unit/test_file_sink_commit.c; calls only common/ (state_file:
 * folder fsync and the state cursor; log; util) and taskmanager/buf.h.
 * It knows no operator or task: it takes plain values and reports by
 * return values, with a message in the caller's err buffer.
 *
 * Part files: <dir>/part-<uid>-<subtask>-<n>, hidden while in progress or
 * pending as <dir>/.part-<uid>-<subtask>-<n>.inprogress. uid is 16 hex
 * digits: the job id's first 8 and 8 random ones, fresh per deployment, so
 * names never collide across restarts.
 *
 * One writer (a subtask of one deployment) goes through:
 *   stage     sl_fsc_open creates hidden part n, sl_fsc_write appends;
 *   snapshot  sl_fsc_seal_pending fsyncs it, closes it and fsyncs the
 *             folder (its name) before the ack, and records (chk, n) as
 *             pending; sl_fsc_record encodes the lineages the checkpoint
 *             covers (the operator's state);
 *   complete  sl_fsc_commit_upto(k) renames the pending files of
 *             checkpoints <= k visible, then fsyncs the folder;
 *   finish    sl_fsc_commit_open commits the open file at once (seal,
 *             rename, folder fsync);
 *   cancel    sl_fsc_discard closes the open file and deletes it;
 *   restore   sl_fsc_pool_add per old subtask's state, sl_fsc_pool_deal
 *             keeps this subtask's share, sl_fsc_reconcile brings the folder
 *             in line with it before anything is written (rules below).
 * A visible file is committed output: nothing here deletes or rewrites one.
 *
 * State (version 2), per writer: varint 2, subtask, parallelism, lineage
 * count, then per lineage the 16 uid bytes (length-prefixed), varint
 * subtask, varint covered + 1. A lineage is (uid, subtask) written under
 * and the highest n the checkpoint covers.
 *
 * Reconcile, per part file found (the writer's own uid is skipped):
 *   lineages of THIS job (uid starts with job_id): covered files become
 *     visible (pending ones whose notification was lost); every other
 *     hidden file of this job and of this subtask (or of a lineage held) is
 *     deleted (data after the checkpoint). Visible files stay, also those
 *     committed after the restored checkpoint (logged: their records may be
 *     written again). A covered file that is missing fails, naming it.
 *     These lineages are kept (carried in every later snapshot).
 *   lineages of ANOTHER job (restored from its savepoint or retained
 *     checkpoint): covered hidden files are committed, uncovered hidden
 *     ones deleted, visible files never touched; then they are dropped.
 *   The folder is fsynced before reconcile returns.
 *
 * Rescaling: sl_fsc_pool_deal keeps, with the same parallelism, this
 * subtask's own old lineages, else deals all of them sorted by (uid,
 * subtask) round robin (k % P').
 *
 * Crash seam (tests only): a writer may point at an sl_fsc_crash. Every
 * durable step (mkdir, create, write, fsync of a file, fsync of the folder,
 * rename, unlink) counts itself there first; from step crash_at on, the
 * step and all later ones fail with EIO instead of running, as if the
 * process had died just before it. The test then drops the caller's
 * in-memory state and restarts from its last completed checkpoint. It is
 * a counter, not a callback, and NULL (the operator's) costs one test. */
#ifndef SL_FILE_SINK_COMMIT_H
#define SL_FILE_SINK_COMMIT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "taskmanager/buf.h"

#define SL_FSC_UID_LEN 16        /* hex digits of a deployment's uid */
#define SL_FSC_JOB_PREFIX_LEN 8  /* of them, the job id's first ones */
#define SL_FSC_MAX_PENDING 4096  /* sealed part files awaiting their commit */
#define SL_FSC_MAX_LINEAGES 65536
#define SL_FSC_ERR_MAX 1024      /* a failure message (as long as a task's) */

typedef enum sl_fsc_step {
    SL_FSC_STEP_MKDIR,
    SL_FSC_STEP_CREATE,
    SL_FSC_STEP_WRITE,
    SL_FSC_STEP_FSYNC_FILE,
    SL_FSC_STEP_FSYNC_DIR,
    SL_FSC_STEP_RENAME,
    SL_FSC_STEP_UNLINK,
} sl_fsc_step;

/* The crash seam, owned by the test. */
typedef struct sl_fsc_crash {
    int64_t steps;       /* durable steps reached so far */
    int64_t crash_at;    /* the first step that fails; -1: none */
    sl_fsc_step kind;    /* the step that crashed, and on what */
    char path[PATH_MAX];
} sl_fsc_crash;

/* Who writes where. The strings are borrowed for the writer's life. */
typedef struct sl_fsc_writer {
    const char *dir;     /* the sink's folder */
    const char *job_id;  /* this job's id: its first 8 hex digits */
    const char *uid;     /* this deployment's SL_FSC_UID_LEN hex digits */
    int subtask;
    const char *name;    /* the stage's name, for logs and messages */
    sl_fsc_crash *crash; /* NULL but in tests */
} sl_fsc_writer;

/* A sealed part file n waiting for checkpoint chk to complete. */
typedef struct sl_fsc_pending {
    uint64_t chk;
    int64_t n;
} sl_fsc_pending;

typedef struct sl_fsc_lineage {
    char uid[SL_FSC_UID_LEN + 1];
    int subtask;     /* the subtask that wrote it */
    int64_t covered; /* files n <= covered are part of the checkpoint */
    int owner;       /* restore: old subtask whose state held it */
    int64_t found;   /* reconcile: covered files seen */
} sl_fsc_lineage;

/* A growable list of lineages; {0} is empty. Owns v. */
typedef struct sl_fsc_lineages {
    sl_fsc_lineage *v;
    int n, cap;
} sl_fsc_lineages;

/* What a restore gathers from the old subtasks' states; {0} is empty. */
typedef struct sl_fsc_pool {
    sl_fsc_lineages all; /* the lineages of every old subtask */
    int old_par;
    int *seen;           /* old subtasks seen, old_par of them at most */
    int nseen;
} sl_fsc_pool;

/* mkdir -p dir; the parent of every folder it creates is fsynced. */
int sl_fsc_make_folder(const char *dir, sl_fsc_crash *crash, char *err, size_t errlen);

/* <dir>/part-<uid>-<subtask>-<n>, or its hidden name. */
void sl_fsc_part_name(char *out, size_t len, const char *dir, const char *uid, int subtask,
                      int64_t n, int hidden);

/* Creates the writer's hidden part n; *f is the caller's until sealed,
 * committed or discarded. */
int sl_fsc_open(const sl_fsc_writer *w, int64_t n, FILE **f, char *err, size_t errlen);

/* Appends len bytes to the open part file (buffered). */
int sl_fsc_write(const sl_fsc_writer *w, FILE *f, const void *buf, size_t len, char *err,
                 size_t errlen);

/* Snapshot of checkpoint chk: part n (open in *f) is fsynced, closed (*f
 * = NULL) and its folder fsynced, then appended to pend (*npend entries,
 * SL_FSC_MAX_PENDING room). With no room it fails and leaves *f open. */
int sl_fsc_seal_pending(const sl_fsc_writer *w, FILE **f, int64_t n, uint64_t chk,
                        sl_fsc_pending *pend, int *npend, char *err, size_t errlen);

/* Appends the state of a writer at parallelism `parallelism` to out: the
 * lineages held, then its own, covering n < next_n (none if next_n = 0). */
int sl_fsc_record(const sl_fsc_writer *w, int parallelism, const sl_fsc_lineages *held,
                  int64_t next_n, sl_buf *out);

/* Checkpoint chk completed: the pending files of checkpoints <= chk are
 * renamed visible and leave pend, then the folder is fsynced. */
int sl_fsc_commit_upto(const sl_fsc_writer *w, sl_fsc_pending *pend, int *npend, uint64_t chk,
                       char *err, size_t errlen);

/* End of input: part n (open in *f) is sealed (*f = NULL), renamed
 * visible and the folder fsynced. */
int sl_fsc_commit_open(const sl_fsc_writer *w, FILE **f, int64_t n, char *err, size_t errlen);

/* Closes the open part n (*f = NULL); deletes it if remove. */
void sl_fsc_discard(const sl_fsc_writer *w, FILE **f, int64_t n, int remove);

/* Adds one old subtask's state (every one of the stage comes here). */
int sl_fsc_pool_add(sl_fsc_pool *p, const uint8_t *data, size_t len, char *err, size_t errlen);

/* Every old subtask's state is in p: appends the share of subtask (of
 * parallelism) to held and empties p's lineages. */
int sl_fsc_pool_deal(sl_fsc_pool *p, int subtask, int parallelism, sl_fsc_lineages *held,
                     char *err, size_t errlen);

/* Brings the folder in line with the lineages held (rules above); drops
 * the other jobs' lineages from held. */
int sl_fsc_reconcile(const sl_fsc_writer *w, sl_fsc_lineages *held, char *err, size_t errlen);

void sl_fsc_pool_free(sl_fsc_pool *p);
void sl_fsc_lineages_free(sl_fsc_lineages *l);

#endif
