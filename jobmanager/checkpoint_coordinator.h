/* The checkpoint coordinator of one job: triggering, acks, completion,
 * aborts, retention, and the choice of the checkpoint a restart restores.
 *
 *   trigger   the loop assigns the next id (ids start at 1 and only grow,
 *             across restarts too), creates <root>/<job>/chk-<id> and sends
 *             TriggerCheckpoint to every taskmanager hosting a source task
 *             of the current attempt; `sluice checkpoint` assigns the id in
 *             its handler and the loop sends it at once.
 *   ack       every task of the job acks (or declines) every checkpoint; the
 *             handler only records. When all acked, the loop writes _metadata
 *             and sends NotifyCheckpoint{complete} to the job's taskmanagers.
 *   abort     timeout, decline, failed write or trigger, failover, job end:
 *             FAILED with a reason, its folder removed by the loop, and (not
 *             during failover) NotifyCheckpoint{aborted}. Consecutive
 *             counted failures beyond the tolerable number fail the job over.
 *   final     once every source reported input_ended, a final checkpoint is
 *             taken as soon as none is pending (again if it fails); sources
 *             end after it completes.
 *   retention the newest num-retained completed checkpoints are kept; every
 *             other chk-* folder of the job is removed (also after an ack
 *             that comes too late, so late writers leave nothing behind).
 *             After the job ended they stay only if it FAILED, or was
 *             CANCELED with RETAIN_ON_CANCELLATION.
 *
 * Ownership and threads: an sl_chk_coord lives inside its sl_job and is
 * guarded by jm->mu. Handlers (acks, manual triggers, failover) only record;
 * the loop thread alone frees records and state copies, touches the file
 * system and calls taskmanagers (with jm->mu released).
 *
 * The implementation is split into the checkpoint_*.c modules listed, with
 * who owns what, in the private header checkpoint_internal.h. */
#ifndef SL_CHECKPOINT_COORDINATOR_H
#define SL_CHECKPOINT_COORDINATOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/util.h"
#include "proto/sluice.pb-c.h"

#define SL_CHK_RECENT 10            /* ended checkpoints kept for statistics */
#define SL_CHK_LATE_SWEEP_MS 10000  /* after a job ended: one more cleanup sweep */
#define SL_CHK_REASON_MAX 2048      /* bytes of a restore failure's reasons */

struct sl_jm;
struct sl_job;

enum sl_chk_status { SL_CHK_PENDING = 0, SL_CHK_COMPLETED = 1, SL_CHK_FAILED = 2 };

/* A copy of one acked StateHandle. */
typedef struct sl_chk_state {
    char *stage;
    char *path;
    uint32_t subtask, parallelism;
    uint64_t size;
    uint32_t crc32c;
    int32_t kg_start, kg_end;
    char *kind;                /* "source:file", "operator:window", ... ("" if unknown) */
} sl_chk_state;

/* What one task reported for one checkpoint. */
typedef struct sl_chk_task {
    int acked;
    uint64_t state_size, sync_ms, async_ms, align_ms;
    size_t nstates;
    sl_chk_state *states;  /* freed by the loop once the checkpoint ended */
} sl_chk_task;

typedef struct sl_checkpoint {
    uint64_t id;
    uint32_t attempt;          /* attempt it was triggered for */
    enum sl_chk_status status;
    int final, manual;
    int savepoint, stop;       /* a savepoint (sluice savepoint), ending the job (sluice stop) */
    char *request_id;          /* savepoints: the CLI's request id (idempotent triggers) */
    int sent;                  /* the loop took it up for sending */
    int cleanup;               /* FAILED: the loop must remove its folder */
    int notify_abort;          /* FAILED: the loop must tell the taskmanagers */
    int64_t trigger_wall_ms, trigger_mono_ms, end_mono_ms;
    char *dir;                 /* <root>/<job>/chk-<id>, or the savepoint folder */
    char *failure;             /* FAILED: why */
    char *decline;             /* set by the ack handler; the loop aborts with it */
    int ntasks, nacked;
    uint64_t state_size;       /* sum of the acks */
    sl_chk_task *tasks;        /* ntasks */
    struct sl_checkpoint *next; /* older */
} sl_checkpoint;

typedef struct sl_chk_coord {
    /* configuration (the job's effective config) */
    int periodic;              /* execution.checkpointing.interval is set */
    int64_t interval_ms, timeout_ms, min_pause_ms;
    int64_t max_concurrent, tolerable, num_retained;
    int retain_on_cancel;
    int allow_empty;           /* execution.state-recovery.allow-empty-on-failure */
    char *root;                /* state.checkpoints.dir, NULL if not set */

    /* running state */
    uint64_t last_id;          /* highest id handed out */
    int64_t last_trigger_ms;   /* monotonic, periodic/final triggers */
    int64_t last_end_ms;       /* monotonic, last completion or failure */
    int has_end;
    int64_t consecutive_failures;
    int final_done;            /* this attempt's final checkpoint completed */
    uint64_t triggered, completed, failed, restored;
    sl_checkpoint *history;    /* newest first: pending ones + recent ended */
    uint64_t *retained;        /* completed checkpoints kept, ascending */
    size_t nretained, cap_retained;
    uint64_t restored_from_id; /* what the current attempt restored (0 = none) */
    char *restored_from_dir;
    uint64_t restore_id;       /* chosen for the next attempt */
    char *restore_dir;
    uint64_t initial_id;       /* run -s: the savepoint/checkpoint the job started from */
    char *initial_dir;         /* (a restart falls back to it while no checkpoint verifies) */
    char *savepoint_root;      /* state.savepoints.dir, NULL if not set */
    int sweep;                 /* remove chk folders neither retained nor pending */
    int ended;                 /* the job reached a terminal state */
    int64_t late_sweep_ms;     /* monotonic; 0 = done */
} sl_chk_coord;

/* ---- setup (no lock needed: the job is not shared yet) */

/* Reads the coordinator's settings from the job's effective configuration.
 * SL_EINVAL (message in err) if the interval is set but the directory is
 * not. On failure the caller still calls sl_chk_free. */
int sl_chk_init(sl_chk_coord *cc, const sl_config *cfg, char *err, size_t errlen);
/* Frees every record (not the files). */
void sl_chk_free(sl_chk_coord *cc);

/* ---- handlers and state hooks (jm->mu held, any thread; record only) */

/* An AckCheckpoint. Idempotent; ignores unknown jobs and tasks; an ack of
 * an older attempt or an ended checkpoint makes the loop sweep. */
void sl_chk_on_ack(struct sl_jm *jm, const Sluice__AckCheckpoint *a);
/* `sluice checkpoint`: assigns the id of a new manual checkpoint that the
 * loop sends at once; a resent request (same request_id, if not "") gets
 * the id of the first. SL_EBUSY (not running, a savepoint pending, or
 * max-concurrent-checkpoints checkpoints, periodic or manual, already in
 * progress: refused, not queued) / SL_EINVAL with the reason in err. */
int sl_chk_trigger_now(struct sl_jm *jm, struct sl_job *job, const char *request_id,
                       uint64_t *id, char *err, size_t errlen);
/* Failover, cancel: every pending checkpoint FAILED with reason, not
 * counted against the tolerable failures, taskmanagers not told. */
void sl_chk_abort_all(struct sl_job *job, const char *reason);
/* The current attempt is RUNNING: the periodic clock starts. */
void sl_chk_on_running(struct sl_job *job);
/* The job reached a terminal state: pending ones abort, the loop cleans up
 * (FINISHED, or CANCELED with DELETE_ON_CANCELLATION: every checkpoint of
 * the job, and its folder when that leaves it empty). */
void sl_chk_on_job_end(struct sl_job *job);
/* The restart chosen by sl_chk_pick_restore becomes the current attempt's
 * restore point (counts `restored` when there is one). */
void sl_chk_use_restore(struct sl_job *job);

/* ---- loop thread (jm->mu held; dropped around file system work and RPCs) */

/* Everything the coordinator does in one loop round for one job. */
void sl_chk_step(struct sl_jm *jm, struct sl_job *job);
/* Picks the restore point of the next attempt: the newest retained
 * completed checkpoint that reads and verifies, else older ones, else the
 * savepoint or checkpoint the job started from (run -s). The choice is in
 * cc->restore_id / restore_dir (0 / NULL: start without state).
 * SL_OK: a restore point, or none and starting without state is allowed
 * (the job never completed a checkpoint and did not start from one, or
 * execution.state-recovery.allow-empty-on-failure is true; logged).
 * SL_ENOTFOUND: the job has state but none of it verifies: the job must
 * fail; the reasons (one per checkpoint tried) are in err.
 * SL_EBUSY: the jobmanager is stopping; nothing chosen. */
int sl_chk_pick_restore(struct sl_jm *jm, struct sl_job *job, char *err, size_t errlen);

/* ---- replies (jm->mu held; memory from the arena) */

/* Fills the checkpoint statistics of job. SL_ENOMEM. */
int sl_chk_stats(const struct sl_job *job, sl_arena *a, Sluice__CheckpointStatsReply **out);
/* Newest retained completed checkpoint: id (0 = none) and its folder ("" if
 * none) into dir. */
uint64_t sl_chk_latest(const struct sl_job *job, char *dir, size_t dirlen);

/* ---- savepoints (savepoint.c) */

/* `sluice savepoint` / `sluice stop` (handler, jm->mu held): a new PENDING
 * savepoint into <target_dir or state.savepoints.dir>/savepoint-<6 hex of
 * the job id>-<12 random hex>, sent by the loop. A resent request (same
 * request_id) returns the id of the first. SL_EBUSY (job not running, a
 * stop already pending), SL_EINVAL (no target folder) with the reason in
 * err. */
int sl_sp_trigger(struct sl_jm *jm, struct sl_job *job, const Sluice__TriggerSavepoint *t,
                  uint64_t *id, char *err, size_t errlen);
/* The status of savepoint id (handler, jm->mu held; arena memory).
 * SL_ENOTFOUND if the job has no such savepoint (any more). */
int sl_sp_status(const struct sl_job *job, uint64_t id, sl_arena *a,
                 Sluice__SavepointStatus **out);
/* `sluice savepoint -d PATH` (handler, no lock: file system work): removes
 * the savepoint or retained checkpoint folder at path (a plain path or a
 * file:// URI) after checking that its _metadata reads: the state files it
 * names, _metadata, then the folder if empty. SL_ENOTFOUND / SL_EINVAL /
 * SL_EIO with the reason in err. */
int sl_sp_dispose(const char *path, char *err, size_t errlen);
/* Submit with -s (no lock; the job is not shared yet): reads and verifies
 * the savepoint or checkpoint at path, checks max-parallelism and that
 * every state maps to a stage of the same kind (unless allow_non_restored),
 * and makes it the first attempt's restore point; checkpoint ids continue
 * after its id. SL_EINVAL with "<path>: reason" in err. */
int sl_sp_restore_check(struct sl_job *job, const char *path, int allow_non_restored,
                        char *err, size_t errlen);

#endif
