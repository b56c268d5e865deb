/* The jobmanager: shared state and the internal API of its modules.
 *
 * A downward stack: each module calls only the ones below it and reports
 * up by return values. From the top:
 *
 *   main.c           arguments, configuration, signals -> jm_loop
 *   jm_loop.c        start/stop, the loop thread (the only one that talks to
 *                    taskmanagers, opens/closes their clients, frees
 *                    objects): each round the registry's tick, the job
 *                    module's losses and call outcomes, every job's step
 *   rpc_handlers.c   requests from taskmanagers and the CLI (worker threads)
 *                    -> job, job_view, coordinator, savepoint, stats, registry
 *   job.c            the job table and the job state machine: the only
 *                    module that changes a job's state; acts on what the
 *                    modules below return -> job_submit, scheduler,
 *                    job_view, coordinator, restore, registry
 *   job_submit.c     submission: parse and check a job, register it
 *                    -> coordinator setup, restart_strategy, udf_check,
 *                       savepoint
 *   job_view.c       the coordinator's read-only view of a job attempt and
 *                    its hooks (sends, the lock) -> tm_send, registry
 *   scheduler.c      slot assignment, deploy/start/cancel calls, their
 *                    outcomes (returned as "fail the job: reason",
 *                    "running") -> registry, tm_calls
 *   checkpoint_coordinator.c  checkpoints of a job (see its header), on its
 *                    own struct and the view; returns "checkpoint n
 *                    complete" / "fail the job: reason"
 *                    -> checkpoint_trigger, checkpoint_retention,
 *                       checkpoint_record
 *   savepoint.c      savepoint trigger/status/dispose, run -s checks
 *                    -> checkpoint_record, checkpoint_restore
 *   checkpoint_stats.c        statistics replies -> record, retention
 *   checkpoint_trigger.c      when a checkpoint is due; trigger/notify calls
 *                             (through the view's send hook) -> record
 *   checkpoint_retention.c    which checkpoint folders stay -> record
 *   checkpoint_restore.c      choosing and verifying the restore point
 *   checkpoint_record.c       the checkpoint records
 *   restart_strategy.c        whether and when a failed job restarts
 *   udf_check.c      udf libraries of a submission: checks, the job's copy
 *   tm_send.c        starts a checkpoint call to a registered taskmanager
 *                    (refuses unusable and stalled ones) -> registry, tm_calls
 *   tm_registry.c    registered taskmanagers: heartbeats, connections, loss
 *                    (returned as pending losses, not acted on) -> tm_calls
 *   tm_calls.c       the calls to taskmanagers in flight (asynchronous RPCs)
 *   ha.c             high availability (with ZooKeeper): election, lease,
 *                    job records and checkpoint pointers on a thread of its
 *                    own; the loop, job_submit, job, the coordinator and the
 *                    handlers ask it without waiting -> ha_store
 *   ha_store.c       formats and blocking I/O of the HA records
 *   wake.c           the loop's wake-up (a leaf every module may kick)
 *
 * The one deliberate callback: the coordinator's view hooks
 * (checkpoint_view.h: send a trigger/notify call, release and retake the
 * lock around file system work), given by job_view.c. No loop of calls
 * between files otherwise.
 *
 * Prefixes: sl_jm_ (jm_loop), sl_jm_rpc_ (rpc_handlers), sl_jm_job_ (job),
 * sl_jm_submit_ (job_submit),
 * sl_jobview_, sl_sched_, sl_coord_ (coordinator and its view), sl_ckrec_
 * (records), sl_trigger_, sl_retention_, sl_restore_, sl_ckstats_,
 * sl_savepoint_, sl_restart_strategy_, sl_udfcheck_, sl_tmsend_, sl_tmreg_,
 * sl_tmcall_ (tm_calls), sl_wake_, sl_jmha_ (ha), sl_hastore_ (ha_store); constants SL_JM_ (shared sizes:
 * common/limits.h), SL_COORD_, SL_CKREC_, SL_SCHED_, SL_TMREG_, SL_TMCALL_,
 * SL_ATTEMPT_, SL_JM_JOB_RESTART_. Records: sl_job (a job),
 * sl_exec (one subtask of its attempt: Flink's execution), sl_attempt_tm (a
 * taskmanager of the attempt), sl_tmreg_entry (a registered taskmanager);
 * the taskmanager daemon's sl_tm_, sl_task_, sl_job_run_ are not used here.
 *
 * Locking: one mutex (jm->mu) guards everything below. RPC handlers hold it
 * briefly and never do outbound RPCs. The loop thread holds it while it
 * looks at state and never waits on the network: calls to taskmanagers are
 * asynchronous (tm_calls.h: started on one round, their outcomes taken and
 * judged on a later one) and clients dial in the background. It releases
 * jm->mu around client closes and call stops (nng pipe and call completions
 * take jm->mu, and nng waits for them) and file system work. Only the loop
 * thread frees sl_job and sl_tmreg_entry objects and changes their client,
 * so the loop may keep pointers to them across an unlocked stretch;
 * handlers never keep pointers after unlocking. */
#ifndef SL_JOBMANAGER_H
#define SL_JOBMANAGER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/auth.h"
#include "common/limits.h"
#include "common/config.h"
#include "common/job_graph.h"
#include "common/jobfile.h"
#include "common/rpc.h"
#include "jobmanager/checkpoint_coordinator.h"
#include "jobmanager/ha.h"
#include "jobmanager/restart_strategy.h"
#include "jobmanager/tm_calls.h"
#include "jobmanager/tm_closer.h"
#include "jobmanager/udf_check.h"
#include "jobmanager/wake.h"

#define SL_JM_HOST_MAX 255       /* longest host name accepted */
#define SL_JM_ADDR_MAX 300       /* "tcp://host:port" */
#define SL_JM_REQ_IDS 256        /* submit request ids remembered */
#define SL_JM_MAX_TMS 1024       /* registered taskmanagers (running + lost) */
#define SL_JM_MAX_ACTIVE_JOBS 256
#define SL_JM_MAX_DONE_JOBS 256  /* terminal jobs kept for list/info */
#define SL_JM_RPC_WORKERS 4
#define SL_JM_RPC_TIMEOUT_MS 10000
#define SL_JM_CANCEL_WAIT_MS 10000
#define SL_JM_LOST_KEEP_MS 60000
#define SL_JM_TICK_MS 20


enum sl_tmreg_state { SL_TMREG_RUNNING = 0, SL_TMREG_LOST = 1 };

struct sl_jm;

/* Watches one rpc client's connection. Heap-allocated, freed by the loop
 * only after the client it watches is closed (nng calls back until then). */
typedef struct sl_tmreg_conn {
    struct sl_jm *jm;
    int up;      /* the connection was established; guarded by jm->mu */
    int dropped; /* guarded by jm->mu */
} sl_tmreg_conn;

/* A registered taskmanager (tm_registry.c). */
typedef struct sl_tmreg_entry {
    char id[SL_TM_ID_MAX + 1];
    char host[SL_JM_HOST_MAX + 1];
    uint32_t rpc_port, data_port;
    int32_t pid;
    int slots;
    uint32_t incarnation;  /* of its latest registration (RegisterTm) */
    uint8_t token[SL_SESSION_TOKEN_LEN]; /* its session token: its requests carry it,
                                            and so do ours to it (auth.h) */
    enum sl_tmreg_state state;
    uint64_t order;        /* registration order: ties in scheduling */
    int64_t last_hb_ms;    /* monotonic */
    int64_t lost_ms;       /* monotonic, when it became LOST */
    int want_connect;      /* the loop must (re)open the client */
    int64_t dial_ms;       /* monotonic: the client was opened (it dials in
                              the background) */
    int connected;         /* the loop saw conn->up (and logged it) */
    int64_t stalled_ms;    /* monotonic: a checkpoint call timed out then;
                              such calls skip it until a later heartbeat
                              (0 = not stalled) */
    char *loss;            /* LOST and not yet reported to the jobs: why
                              (sl_tmreg_take_loss) */
    uint64_t loss_seq;     /* order of the losses */
    sl_rpc_client *client; /* NULL until dialled; loop thread only */
    sl_tmreg_conn *conn;
    struct sl_tmreg_entry *next;
} sl_tmreg_entry;

#define SL_JM_DATA_TOKEN_LEN 16 /* DeployTasks.data_token (taskmanager: SL_FRAME_TOKEN_LEN) */

/* Where one deploy_tasks or start_tasks call of an attempt is. */
enum sl_attempt_call {
    SL_ATTEMPT_NONE = 0, /* not sent (yet) */
    SL_ATTEMPT_SENT,     /* in flight: no cancel_tasks may overtake it */
    SL_ATTEMPT_OK,       /* accepted */
    SL_ATTEMPT_FAILED,   /* refused, failed or timed out (the attempt failed) */
};

/* A taskmanager that holds slots of a job's current attempt. Addresses are
 * copied so job_info still shows them after the taskmanager is forgotten. */
typedef struct sl_attempt_tm {
    char tm_id[SL_TM_ID_MAX + 1];
    char rpc_addr[SL_JM_ADDR_MAX];  /* host:rpc_port */
    char data_addr[SL_JM_ADDR_MAX]; /* tcp://host:data_port */
    uint32_t incarnation; /* the taskmanager's when placed: another one has none of its tasks */
    int deployed;         /* deploy_tasks sent and not refused: it may run tasks */
    enum sl_attempt_call deploy, start; /* the attempt's deploy_tasks, start_tasks */
    int cancel_sent;
    int cancel_done;      /* the cancel RPC failed: count its tasks as done */
    int64_t cancel_deadline_ms;
} sl_attempt_tm;

/* One subtask of the job's current attempt (Flink: an execution). */
typedef struct sl_exec {
    Sluice__TaskState state;
    int chain, subtask;   /* slot = subtask */
    int input_ended;      /* source read all its input (sticky per attempt) */
    /* latest counters reported for attempt metrics_attempt (heartbeats,
     * state reports); kept after the job ends */
    uint32_t metrics_attempt;
    uint64_t records_in, records_out, late_records;
} sl_exec;

/* Where a RESTARTING job is. */
enum sl_jm_job_restart {
    SL_JM_JOB_RESTART_NONE = 0,
    SL_JM_JOB_RESTART_CANCEL,   /* cancelling the failed attempt, waiting for its tasks */
    SL_JM_JOB_RESTART_DELAY,    /* waiting the restart strategy's delay */
    SL_JM_JOB_RESTART_SLOTS,    /* waiting for free slots */
    SL_JM_JOB_RESTART_DEPLOY,   /* deploying the new attempt: a failure fails over again */
};

struct sl_job;

/* What the coordinator's view hooks need (job_view.c). */
typedef struct sl_jobview_arg {
    struct sl_jm *jm;
    struct sl_job *job;
} sl_jobview_arg;

typedef struct sl_job {
    char id[SL_JOB_ID_LEN + 1];
    uint64_t seq;            /* submission order */
    char *file_name;
    char *yaml;
    uint32_t par_override;   /* the override used at submission (0 = none) */
    sl_job_spec *spec;
    sl_job_graph graph;      /* borrows spec */
    sl_config *cfg;          /* effective job configuration */
    char *cfg_text;          /* cfg serialized for taskmanagers */
    Sluice__JobState state;
    uint32_t attempt, restarts;
    uint8_t data_token[SL_JM_DATA_TOKEN_LEN]; /* the attempt's, random: in its data frames */
    char *failure;           /* latest failure cause, NULL if none */
    int64_t start_ms, end_ms;   /* wall clock */
    int64_t wait_since_ms;      /* monotonic: began waiting for slots */
    int holds_slots;
    int wait_logged;         /* "waiting for slots" was logged */
    int *slot_tm;            /* graph.slots_needed: slot -> index into tms */
    int ntms;
    sl_attempt_tm *tms;      /* distinct taskmanagers of the slots, NULL
                                before the first assignment */
    sl_exec *tasks;          /* graph.ntasks */
    sl_coord coord;          /* checkpoints */
    sl_udfcheck_libs udf;    /* the udf libraries submitted (owned) */
    sl_coord_exec *view_tasks; /* graph.ntasks: the coordinator's view */
    sl_coord_tm *view_tms;   /* graph.slots_needed: the coordinator's view */
    sl_jobview_arg view_arg;
    sl_restart_strategy restart;
    enum sl_jm_job_restart restart_phase;
    int64_t restart_delay_ms;   /* granted by the strategy */
    int64_t restart_at_ms;      /* monotonic: end of the delay */
    /* high availability */
    uint64_t ha_counter;        /* checkpoint id counter last handed to ha.c */
    int64_t recovered_ms;       /* wall clock: a new leader recovered it (0 = no) */
    uint64_t recovered_from_id; /* the checkpoint it recovered from (0 = none) */
    char *recovered_from_dir;
    struct sl_job *next;
} sl_job;

typedef struct sl_jm_job_req {
    char req[SL_REQUEST_ID_MAX + 1];
    char job[SL_JOB_ID_LEN + 1];
} sl_jm_job_req;

typedef struct sl_jm {
    const sl_config *cfg;    /* cluster configuration, borrowed, read-only */
    int64_t hb_timeout_ms;
    int64_t slot_wait_ms;
    int64_t chk_rpc_timeout_ms; /* trigger/notify calls: half the heartbeat
                                   timeout, at most SL_JM_RPC_TIMEOUT_MS */
    size_t max_msg;
    int default_par;

    pthread_mutex_t mu;
    sl_wake wake;            /* the loop's wake-up */
    int stopping;

    sl_tmreg_entry *tms;
    int ntms;
    uint64_t tm_order;
    uint64_t loss_seq;       /* losses so far (tm_registry.c) */
    sl_job *jobs;            /* submission order */
    uint64_t job_seq;
    sl_jm_job_req reqs[SL_JM_REQ_IDS];
    int req_next;

    /* high availability (ha.h; NULL without): the loop's view of it */
    struct sl_jmha *ha;
    char address[SL_JM_ADDR_MAX]; /* advertised host:port (the latch's data) */
    int leading;             /* holds leadership of generation lead_gen (its jobs recovered) */
    uint64_t lead_gen;
    int acting;              /* this round may decide: leading and within the lease (always without HA) */
    int lease_lapsed;        /* the lease ran out while leading (logged once) */

    sl_tmcall_table calls;       /* calls to taskmanagers in flight */
    sl_tmcloser closer;          /* closes lost taskmanagers' clients */
    sl_rpc_server *server;
    sl_rpc_guard *guard; /* checks of the RPC port (rpc_guard.h); NULL: none */
    pthread_t loop;
    int loop_started;
} sl_jm;

/* ---- jm_loop.c */

/* Starts the RPC server and the loop thread. cfg must outlive *out.
 * *out owned by caller: sl_jm_stop. */
int sl_jm_start(const sl_config *cfg, sl_jm **out);
/* Stops the server and the loop, closes taskmanager clients, frees all. */
void sl_jm_stop(sl_jm *jm);

/* ---- rpc_handlers.c */
/* 1 if req carries a body this daemon serves and its message is there: the
 * check every request passes before its handler acts (the fuzz target
 * fuzz/fuzz_rpc.c calls it too). */
int sl_jm_rpc_body_present(const Sluice__Request *req);
void sl_jm_rpc_handle(void *arg, const Sluice__Request *req, Sluice__Reply *reply,
                      sl_arena *arena);

/* ---- tm_registry.c (all with jm->mu held unless noted; below the job
 * module: it reports a loss by keeping it pending, never fails jobs) */
sl_tmreg_entry *sl_tmreg_find(sl_jm *jm, const char *tm_id);
/* 1 if the taskmanager is RUNNING and its client's connection is up. */
int sl_tmreg_usable(const sl_tmreg_entry *tm);
/* 1 if a checkpoint call to tm timed out and no heartbeat came since. */
int sl_tmreg_stalled(const sl_tmreg_entry *tm);
int sl_tmreg_register(sl_jm *jm, const Sluice__RegisterTm *r, char *err, size_t errlen);
/* 1 if known, not LOST and tok is its session token (and records the
 * heartbeat). */
int sl_tmreg_heartbeat(sl_jm *jm, const char *tm_id, const ProtobufCBinaryData *tok);
/* 1 if tok is tm's session token (constant time); 0 for tm NULL. */
int sl_tmreg_token_ok(const sl_tmreg_entry *tm, const ProtobufCBinaryData *tok);
/* Marks a taskmanager LOST (its client is handed to the loop to close) and
 * keeps the loss pending for sl_tmreg_take_loss. */
void sl_tmreg_lose(sl_jm *jm, sl_tmreg_entry *tm, const char *why);
/* The oldest loss not reported yet: tm_id (SL_TM_ID_MAX + 1 chars) and
 * the reason ("taskmanager <id> (<host:port>) lost: why"); 1 if one was
 * taken, 0 if none is pending. */
int sl_tmreg_take_loss(sl_jm *jm, char *tm_id, char *reason, size_t len);
/* An ended call to a taskmanager: a checkpoint call that timed out marks it
 * stalled; a failed call whose connection dropped loses it. */
void sl_tmreg_call_ended(sl_jm *jm, const sl_tmcall_outcome *o);
/* Loop: connection drops, heartbeat timeouts, connections that do not come
 * up within the heartbeat timeout, expiry of lost taskmanagers, closing
 * clients (their calls stopped first) and opening them (dialling in the
 * background). Called and returns with jm->mu held; drops it around closes. */
void sl_tmreg_tick(sl_jm *jm);
/* Shutdown: closes every client and frees the table. jm->mu not held, loop
 * stopped. */
void sl_tmreg_free_all(sl_jm *jm);

/* ---- tm_send.c (jm->mu held; the loop thread only) */

/* Starts a checkpoint call (trigger, notify) to taskmanager key->tm_id with
 * jm->chk_rpc_timeout_ms; its outcome comes back through the loop. At once:
 * SL_EUNREACH if it is not usable, SL_ETIMEDOUT if it is stalled (the
 * heartbeat timeout will tell whether it is lost), SL_EBUSY if too many
 * calls to it are in flight. */
int sl_tmsend_call(sl_jm *jm, const sl_tmcall_key *key, const Sluice__Request *req);
/* How many more calls to tm_id may start now. */
int sl_tmsend_room(sl_jm *jm, const char *tm_id);

/* ---- scheduler.c (all with jm->mu held; the loop thread only). Returns
 * what happened; the job module acts on it. */

enum sl_sched_result {
    SL_SCHED_WAIT = 0,  /* nothing to do yet (calls in flight) */
    SL_SCHED_RUNNING,   /* every start was accepted: the attempt runs */
    SL_SCHED_FAIL,      /* the job must fail: reason */
};

/* 1 if a task in state s is terminal. */
int sl_sched_task_terminal(Sluice__TaskState s);
/* Slots of tm not held by any job. */
int sl_sched_free_slots(sl_jm *jm, const sl_tmreg_entry *tm);
/* Slots of job's attempt on tm_id. */
int sl_sched_slots_on(const sl_job *job, const char *tm_id);
/* Assigns slots to every subtask (slot sharing, spread over taskmanagers)
 * and opens a new attempt. SL_EBUSY if there are not enough free slots. */
int sl_sched_assign(sl_jm *jm, sl_job *job);
/* One round of deploying the current attempt (the job is CREATED, or
 * RESTARTING in its deploy phase): sends deploy_tasks to every involved
 * taskmanager, start_tasks to each once all deploys were accepted. RUNNING
 * once every start was; FAIL (reason) when a call cannot start. Call it
 * every round while the attempt is being deployed. */
enum sl_sched_result sl_sched_deploy(sl_jm *jm, sl_job *job, char *reason, size_t len);
/* Sends cancel_tasks to every involved live taskmanager not yet told
 * (after its deploy/start call, if one is in flight, has ended). */
void sl_sched_cancel(sl_jm *jm, sl_job *job);
/* Judges an ended deploy/start/cancel call of job (other kinds: WAIT): a
 * refused, failed or timed out deploy or start of the attempt being
 * deployed is FAIL (reason); older attempts change nothing. */
enum sl_sched_result sl_sched_outcome(sl_job *job, const sl_tmcall_outcome *o, char *reason,
                                      size_t len);
/* 1 when every task of a FAILING/CANCELLING/RESTARTING job counts as
 * terminal. */
int sl_sched_settled(sl_jm *jm, sl_job *job);
/* Frees the job's slots (and wakes the loop: waiting jobs may fit). */
void sl_sched_release(sl_jm *jm, sl_job *job);

/* ---- job_view.c (jm->mu held) */

/* Fills v with job's current attempt (arrays inside job) and the hooks
 * that start calls through tm_send.c and release jm->mu. */
void sl_jobview_fill(sl_jm *jm, sl_job *job, sl_coord_view *v);

/* ---- job_submit.c */

/* Parses and registers a submitted job; jm->mu NOT held (takes it).
 * job_id receives the id (SL_JOB_ID_LEN + 1 chars). SL_EINVAL: bad job
 * (message in err); other codes: the jobmanager cannot take it. */
int sl_jm_submit_job(sl_jm *jm, const Sluice__SubmitJob *s, char *job_id, char *err,
                     size_t errlen);
/* Loop, jm->mu held (dropped while parsing): registers a job the previous
 * leader left (ha.h) under its JobID, to restore from its latest completed
 * checkpoint, else its initial savepoint, else from scratch; checkpoint ids
 * go on above every one handed out. A job that cannot be recovered is
 * logged and left alone. */
void sl_jm_submit_recover(sl_jm *jm, const sl_jmha_recovered *r);
/* Frees a job and everything it owns (not its files). NULL: no-op. */
void sl_jm_submit_free(sl_job *job);

/* ---- job.c (all with jm->mu held unless noted) */

sl_job *sl_jm_job_find(sl_jm *jm, const char *job_id);
/* 1 for FAILED, CANCELED, FINISHED (inline: every module may ask). */
static inline int sl_jm_job_terminal(Sluice__JobState s)
{
    return s == SLUICE__JOB_STATE__JOB_FAILED || s == SLUICE__JOB_STATE__JOB_CANCELED ||
           s == SLUICE__JOB_STATE__JOB_FINISHED;
}
/* 1 if the state machine allows from -> to (equal states: 1). */
int sl_jm_job_transition_ok(Sluice__JobState from, Sluice__JobState to);
/* Logs and records a job state change; terminal states free the slots.
 * SL_EINVAL (nothing changes, logged) for a transition the state machine
 * does not allow. */
int sl_jm_job_set_state(sl_jm *jm, sl_job *job, Sluice__JobState to);
/* The one failure path: records the cause and consults the job's restart
 * strategy: RESTARTING if it allows, else FAILING (or FAILED when no
 * taskmanager may be running tasks). While RESTARTING it is a no-op except
 * when the new attempt is being deployed; also a no-op for jobs already
 * failing, cancelling or terminal. */
void sl_jm_job_fail(sl_jm *jm, sl_job *job, const char *reason);
/* User cancel: non-terminal -> CANCELLING. */
void sl_jm_job_cancel(sl_jm *jm, sl_job *job);
/* A task state report; ignores unknown jobs and stale attempts. */
void sl_jm_job_task_update(sl_jm *jm, const Sluice__TaskStateUpdate *u);
/* Counters of a task from taskmanager tm_id's heartbeat; reports of another
 * attempt than the job's current one, or of a job that ended, are ignored. */
void sl_jm_job_task_metrics(sl_jm *jm, const char *tm_id, const Sluice__TaskMetrics *m);
/* The task's counters of the job's current attempt (0 if none reported). */
void sl_jm_job_task_counters(const sl_job *job, int t, uint64_t *in, uint64_t *out,
                             uint64_t *late);
/* An AckCheckpoint (handler): recorded by the job's coordinator. */
void sl_jm_job_ack(sl_jm *jm, const Sluice__AckCheckpoint *a);
/* Loop: fails every job with slots on a taskmanager lost since the last
 * call (sl_tmreg_take_loss). */
void sl_jm_job_tms_lost(sl_jm *jm);
/* Loop: an ended call to a taskmanager: the registry's view of it first
 * (a loss fails the jobs on it), then the scheduler's and the
 * coordinator's. */
void sl_jm_job_call_ended(sl_jm *jm, const sl_tmcall_outcome *o);
/* Loop: advances one job's state machine; may drop jm->mu around file
 * system work. */
void sl_jm_job_step(sl_jm *jm, sl_job *job);
/* Loop: forgets the oldest terminal jobs beyond SL_JM_MAX_DONE_JOBS. */
void sl_jm_job_trim(sl_jm *jm);
/* Shutdown: frees every job. */
void sl_jm_job_free_all(sl_jm *jm);
#endif
