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
 * Ownership and threads: an sl_coord lives inside its sl_job and is guarded
 * by jm->mu. It works on its own struct and on a read-only view of the job
 * attempt (checkpoint_view.h); it never calls up into the job module or
 * the loop: handlers' functions record and return whether the loop must
 * wake; the loop's sl_coord_judge returns what the job must do (fail:
 * too many failed checkpoints). Handlers only record; the loop thread
 * alone frees records and state copies, touches the file system (with the
 * lock released through the view's hooks) and calls taskmanagers (through
 * the view's send hook). Time comes from cc->now_ms (sl_now_ms unless a
 * test sets another clock).
 *
 * Place: called by job.c (and rpc_handlers.c for replies); calls the
 * modules below it: checkpoint_trigger.c (when a checkpoint is due, the
 * trigger and notify calls), checkpoint_retention.c (which folders stay),
 * checkpoint_restore.c (not from here: job.c asks it), checkpoint_record.c
 * (the records). Beside it: savepoint.c, checkpoint_stats.c. */
#ifndef SL_CHECKPOINT_COORDINATOR_H
#define SL_CHECKPOINT_COORDINATOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/util.h"
#include "jobmanager/checkpoint_record.h"
#include "jobmanager/checkpoint_view.h"
#include "jobmanager/tm_calls.h"
#include "proto/sluice.pb-c.h"

#define SL_COORD_RECENT 10            /* ended checkpoints kept for statistics */
#define SL_COORD_LATE_SWEEP_MS 10000  /* after a job ended: one more cleanup sweep */
#define SL_COORD_REASON_MAX 2048      /* bytes of a failure's reasons */

typedef struct sl_coord {
    /* configuration (the job's effective config) */
    int periodic;              /* execution.checkpointing.interval is set */
    int64_t interval_ms, timeout_ms, min_pause_ms;
    int64_t max_concurrent, tolerable, num_retained;
    int retain_on_cancel;
    int allow_empty;           /* execution.state-recovery.allow-empty-on-failure */
    char *root;                /* state.checkpoints.dir, NULL if not set */
    char *savepoint_root;      /* state.savepoints.dir, NULL if not set */
    int64_t (*now_ms)(void);   /* monotonic clock: sl_now_ms, or a test's */

    /* running state */
    uint64_t last_id;          /* highest id handed out */
    int64_t last_trigger_ms;   /* monotonic, periodic/final triggers */
    int64_t last_end_ms;       /* monotonic, last completion or failure */
    int has_end;
    int64_t consecutive_failures;
    int final_done;            /* this attempt's final checkpoint completed */
    uint64_t triggered, completed, failed, restored;
    sl_ckrec *history;          /* newest first: pending ones + recent ended */
    uint64_t *retained;        /* completed checkpoints kept, ascending */
    size_t nretained, cap_retained;
    uint64_t restored_from_id; /* what the current attempt restored (0 = none) */
    char *restored_from_dir;
    uint64_t restore_id;       /* chosen for the next attempt */
    char *restore_dir;
    uint64_t initial_id;       /* run -s: the savepoint/checkpoint the job started from */
    char *initial_dir;         /* (a restart falls back to it while no checkpoint verifies) */
    int sweep;                 /* remove chk folders neither retained nor pending */
    int ended;                 /* the job reached a terminal state */
    Sluice__JobState end_state; /* ended: which one */
    int64_t late_sweep_ms;     /* monotonic; 0 = done */
} sl_coord;

/* What the job must do after a loop round of its coordinator. */
enum sl_coord_verdict {
    SL_COORD_NOTHING = 0,
    SL_COORD_FAIL_JOB,         /* reason: too many failed checkpoints */
};

typedef struct sl_coord_outcome {
    enum sl_coord_verdict verdict;
    uint64_t completed;        /* newest checkpoint completed this round (0 = none) */
    char reason[SL_COORD_REASON_MAX];
} sl_coord_outcome;

/* ---- setup (no lock needed: the job is not shared yet) */

/* Reads the coordinator's settings from the job's effective configuration.
 * SL_EINVAL (message in err) if the interval is set but the directory is
 * not. On failure the caller still calls sl_coord_free. */
int sl_coord_init(sl_coord *cc, const sl_config *cfg, char *err, size_t errlen);
/* Frees every record (not the files). */
void sl_coord_free(sl_coord *cc);

/* ---- handlers and state hooks (jm->mu held, any thread; record only) */

/* An AckCheckpoint of v's job. Idempotent; ignores unknown tasks and acks
 * from elsewhere than where the task runs; an ack of an older attempt or an
 * ended checkpoint makes the loop sweep. Returns 1 if the loop must wake. */
int sl_coord_on_ack(sl_coord *cc, const sl_coord_view *v, const Sluice__AckCheckpoint *a);
/* `sluice checkpoint`: assigns the id of a new manual checkpoint that the
 * loop sends at once (the caller wakes it); a resent request (same
 * request_id, if not "") gets the id of the first. SL_EBUSY (not running, a
 * savepoint pending, or max-concurrent-checkpoints checkpoints, periodic or
 * manual, already in progress: refused, not queued) / SL_EINVAL with the
 * reason in err. */
int sl_coord_trigger_now(sl_coord *cc, const sl_coord_view *v, const char *request_id,
                         uint64_t *id, char *err, size_t errlen);
/* Failover, cancel: every pending checkpoint FAILED with reason, not
 * counted against the tolerable failures, taskmanagers not told. */
void sl_coord_abort_all(sl_coord *cc, const char *job_id, const char *reason);
/* The current attempt is RUNNING: the periodic clock starts. */
void sl_coord_on_running(sl_coord *cc);
/* The job reached terminal state `state`: pending ones abort, the loop
 * cleans up (FINISHED, or CANCELED with DELETE_ON_CANCELLATION: every
 * checkpoint of the job, and its folder when that leaves it empty). */
void sl_coord_on_job_end(sl_coord *cc, const char *job_id, Sluice__JobState state);

/* ---- loop thread (jm->mu held; dropped around file system work) */

/* A round's decisions: pending checkpoints that were declined or expired
 * fail, fully acked ones complete (_metadata, notify, retention), and the
 * verdict says whether the job must fail (too many consecutive failures).
 * The caller acts on the verdict, refills v, then calls sl_coord_act. */
void sl_coord_judge(sl_coord *cc, sl_coord_view *v, sl_coord_outcome *out);
/* The rest of the round: removes failed checkpoints' folders and tells the
 * taskmanagers, triggers due checkpoints and sends them, sweeps, forgets
 * old records. */
void sl_coord_act(sl_coord *cc, sl_coord_view *v);
/* Judges an ended TriggerCheckpoint or NotifyCheckpoint call of v's job: a
 * trigger refused or failed aborts its checkpoint (a refusal counts against
 * the tolerable failures); a notify that did not reach a taskmanager is
 * logged, and for a final checkpoint another one is taken (sources end
 * only when told). */
void sl_coord_call_outcome(sl_coord *cc, const sl_coord_view *v, const sl_tmcall_outcome *o);

#endif
