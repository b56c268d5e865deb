/* The jobmanager: shared state and the internal API of its modules.
 *
 *   main.c           arguments, configuration, signals
 *   jm_loop.c        start/stop, the loop thread (the only one that talks to
 *                    taskmanagers, opens/closes their clients, frees objects)
 *   rpc_handlers.c   requests from taskmanagers and the CLI (worker threads)
 *   tm_registry.c    registered taskmanagers: heartbeats, connections, loss
 *   job.c            the job table, submission, the job state machine
 *   scheduler.c      slot assignment, deploy/start/cancel calls, their outcomes
 *   tm_calls.c       the calls to taskmanagers in flight (asynchronous RPCs)
 *   checkpoint_coordinator.c  checkpoints of a job (see its header)
 *   restart_strategy.c        whether and when a failed job restarts
 *
 * Locking: one mutex (jm->mu) guards everything below. RPC handlers hold it
 * briefly and never do outbound RPCs. The loop thread holds it while it
 * looks at state and never waits on the network: calls to taskmanagers are
 * asynchronous (tm_calls.h: started on one round, their outcomes taken and
 * judged on a later one) and clients dial in the background. It releases
 * jm->mu around client closes and call stops (nng pipe and call completions
 * take jm->mu, and nng waits for them) and file system work. Only the loop
 * thread frees sl_job and sl_tm objects and changes sl_tm.client, so the
 * loop may keep pointers to them across an unlocked stretch; handlers never
 * keep pointers after unlocking. */
#ifndef SL_JOBMANAGER_H
#define SL_JOBMANAGER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "common/config.h"
#include "common/job_graph.h"
#include "common/jobfile.h"
#include "common/rpc.h"
#include "jobmanager/checkpoint_coordinator.h"
#include "jobmanager/restart_strategy.h"
#include "jobmanager/tm_calls.h"

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


enum sl_tm_state { SL_TM_RUNNING = 0, SL_TM_LOST = 1 };

struct sl_jm;

/* Watches one rpc client's connection. Heap-allocated, freed by the loop
 * only after the client it watches is closed (nng calls back until then). */
typedef struct sl_tm_conn {
    struct sl_jm *jm;
    int up;      /* the connection was established; guarded by jm->mu */
    int dropped; /* guarded by jm->mu */
} sl_tm_conn;

typedef struct sl_tm {
    char id[SL_TM_ID_MAX + 1];
    char host[SL_JM_HOST_MAX + 1];
    uint32_t rpc_port, data_port;
    int32_t pid;
    int slots;
    enum sl_tm_state state;
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
    sl_rpc_client *client; /* NULL until dialled; loop thread only */
    sl_tm_conn *conn;
    struct sl_tm *next;
} sl_tm;

/* Where one deploy_tasks or start_tasks call of an attempt is. */
enum sl_jt_call {
    SL_JT_NONE = 0, /* not sent (yet) */
    SL_JT_SENT,     /* in flight: no cancel_tasks may overtake it */
    SL_JT_OK,       /* accepted */
    SL_JT_FAILED,   /* refused, failed or timed out (the attempt failed) */
};

/* A taskmanager that holds slots of a job's current attempt. Addresses are
 * copied so job_info still shows them after the taskmanager is forgotten. */
typedef struct sl_job_tm {
    char tm_id[SL_TM_ID_MAX + 1];
    char rpc_addr[SL_JM_ADDR_MAX];  /* host:rpc_port */
    char data_addr[SL_JM_ADDR_MAX]; /* tcp://host:data_port */
    int deployed;         /* deploy_tasks sent and not refused: it may run tasks */
    enum sl_jt_call deploy, start; /* the attempt's deploy_tasks, start_tasks */
    int cancel_sent;
    int cancel_done;      /* the cancel RPC failed: count its tasks as done */
    int64_t cancel_deadline_ms;
} sl_job_tm;

typedef struct sl_task {
    Sluice__TaskState state;
    int chain, subtask;   /* slot = subtask */
    int input_ended;      /* source read all its input (sticky per attempt) */
    /* latest counters reported for attempt metrics_attempt (heartbeats,
     * state reports); kept after the job ends */
    uint32_t metrics_attempt;
    uint64_t records_in, records_out, late_records;
} sl_task;

/* Where a RESTARTING job is. */
enum sl_restart_phase {
    SL_RP_NONE = 0,
    SL_RP_CANCEL,   /* cancelling the failed attempt, waiting for its tasks */
    SL_RP_DELAY,    /* waiting the restart strategy's delay */
    SL_RP_SLOTS,    /* waiting for free slots */
    SL_RP_DEPLOY,   /* deploying the new attempt: a failure fails over again */
};

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
    char *failure;           /* latest failure cause, NULL if none */
    int64_t start_ms, end_ms;   /* wall clock */
    int64_t wait_since_ms;      /* monotonic: began waiting for slots */
    int holds_slots;
    int wait_logged;         /* "waiting for slots" was logged */
    int *slot_tm;            /* graph.slots_needed: slot -> index into tms */
    int ntms;
    sl_job_tm *tms;          /* distinct taskmanagers of the slots, NULL
                                before the first assignment */
    sl_task *tasks;          /* graph.ntasks */
    sl_chk_coord chk;        /* checkpoints */
    sl_restart_strategy restart;
    enum sl_restart_phase restart_phase;
    int64_t restart_delay_ms;   /* granted by the strategy */
    int64_t restart_at_ms;      /* monotonic: end of the delay */
    struct sl_job *next;
} sl_job;

typedef struct sl_req_entry {
    char req[SL_REQUEST_ID_MAX + 1];
    char job[SL_JOB_ID_LEN + 1];
} sl_req_entry;

typedef struct sl_jm {
    const sl_config *cfg;    /* cluster configuration, borrowed, read-only */
    int64_t hb_timeout_ms;
    int64_t slot_wait_ms;
    int64_t chk_rpc_timeout_ms; /* trigger/notify calls: half the heartbeat
                                   timeout, at most SL_JM_RPC_TIMEOUT_MS */
    size_t max_msg;
    int default_par;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    int kicked;              /* a handler recorded something */

    sl_tm *tms;
    int ntms;
    uint64_t tm_order;
    sl_job *jobs;            /* submission order */
    uint64_t job_seq;
    sl_req_entry reqs[SL_JM_REQ_IDS];
    int req_next;

    sl_tm_calls calls;       /* calls to taskmanagers in flight */
    sl_rpc_server *server;
    pthread_t loop;
    int loop_started;
} sl_jm;

/* ---- jm_loop.c */

/* Starts the RPC server and the loop thread. cfg must outlive *out.
 * *out owned by caller: sl_jm_stop. */
int sl_jm_start(const sl_config *cfg, sl_jm **out);
/* Stops the server and the loop, closes taskmanager clients, frees all. */
void sl_jm_stop(sl_jm *jm);
/* Wakes the loop thread. Caller holds jm->mu. */
void sl_jm_kick(sl_jm *jm);

/* ---- rpc_handlers.c */
void sl_jm_handle(void *arg, const Sluice__Request *req, Sluice__Reply *reply, sl_arena *arena);

/* ---- tm_registry.c (all with jm->mu held unless noted) */
sl_tm *sl_jm_tm_find(sl_jm *jm, const char *tm_id);
/* 1 if the taskmanager is RUNNING and its client's connection is up. */
int sl_jm_tm_usable(const sl_tm *tm);
int sl_jm_tm_register(sl_jm *jm, const Sluice__RegisterTm *r, char *err, size_t errlen);
/* 1 if known and not LOST (and records the heartbeat). */
int sl_jm_tm_heartbeat(sl_jm *jm, const char *tm_id);
/* Slots not held by any job. */
int sl_jm_tm_free_slots(sl_jm *jm, const sl_tm *tm);
/* Marks a taskmanager LOST and fails the jobs that have tasks on it. Its
 * client is handed to the loop to close. */
void sl_jm_tm_lose(sl_jm *jm, sl_tm *tm, const char *why);
/* Loop: connection drops, heartbeat timeouts, connections that do not come
 * up within the heartbeat timeout, expiry of lost taskmanagers, closing
 * clients (their calls stopped first) and opening them (dialling in the
 * background). Called and returns with jm->mu held; drops it around closes. */
void sl_jm_tm_tick(sl_jm *jm);
/* Shutdown: closes every client and frees the table. jm->mu not held, loop
 * stopped. */
void sl_jm_tms_free(sl_jm *jm);

/* ---- job.c (all with jm->mu held unless noted) */

/* Parses and registers a submitted job; jm->mu NOT held (takes it).
 * job_id receives the id (SL_JOB_ID_LEN + 1 chars). SL_EINVAL: bad job
 * (message in err); other codes: the jobmanager cannot take it. */
int sl_jm_job_submit(sl_jm *jm, const Sluice__SubmitJob *s, char *job_id, char *err,
                     size_t errlen);
sl_job *sl_jm_job_find(sl_jm *jm, const char *job_id);
int sl_jm_job_terminal(Sluice__JobState s);
int sl_jm_task_terminal(Sluice__TaskState s);
/* Logs and records a job state change; terminal states free the slots. */
void sl_jm_job_set_state(sl_jm *jm, sl_job *job, Sluice__JobState to);
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
void sl_jm_task_metrics(const sl_job *job, int t, uint64_t *in, uint64_t *out, uint64_t *late);
/* "task <chain> <i>/<P>" of task t, into buf. */
void sl_jm_task_name(const sl_job *job, int t, char *buf, size_t len);
/* Loop: advances one job's state machine; may drop jm->mu around file
 * system work. */
void sl_jm_job_step(sl_jm *jm, sl_job *job);
/* Loop: forgets the oldest terminal jobs beyond SL_JM_MAX_DONE_JOBS. */
void sl_jm_jobs_trim(sl_jm *jm);
/* Shutdown: frees every job. */
void sl_jm_jobs_free(sl_jm *jm);

/* ---- scheduler.c (all with jm->mu held; the loop thread only) */

/* Assigns slots to every subtask (slot sharing, spread over taskmanagers)
 * and opens a new attempt. SL_EBUSY if there are not enough free slots. */
int sl_jm_sched_assign(sl_jm *jm, sl_job *job);
/* One round of deploying the current attempt: sends deploy_tasks to every
 * involved taskmanager, start_tasks to each once all deploys were accepted,
 * and makes the job RUNNING once every start was. Call it every round
 * while the attempt is being deployed; a call refused, failed or timed out
 * (taken by sl_jm_sched_outcome) fails the job (sl_jm_job_fail). */
void sl_jm_sched_deploy(sl_jm *jm, sl_job *job);
/* Sends cancel_tasks to every involved live taskmanager not yet told
 * (after its deploy/start call, if one is in flight, has ended). */
void sl_jm_sched_cancel(sl_jm *jm, sl_job *job);
/* Starts a checkpoint call (trigger, notify) to taskmanager key->tm_id with
 * jm->chk_rpc_timeout_ms; its outcome comes back through the loop. At once:
 * SL_EUNREACH if it is not usable, SL_ETIMEDOUT if an earlier checkpoint
 * call timed out and no heartbeat came since (the heartbeat timeout will
 * tell whether it is lost), SL_EBUSY if too many calls to it are in flight. */
int sl_jm_sched_call(sl_jm *jm, const sl_tm_call_key *key, const Sluice__Request *req);
/* How many more calls to tm_id may start now. */
int sl_jm_sched_room(sl_jm *jm, const char *tm_id);
/* Judges an ended call: a failed call whose connection dropped marks the
 * taskmanager lost first; a checkpoint call that timed out marks it
 * stalled; deploy/start/cancel outcomes advance the attempt (or fail it).
 * Checkpoint outcomes are then for sl_chk_call_outcome. */
void sl_jm_sched_outcome(sl_jm *jm, const sl_tm_outcome *o);
/* 1 when every task of a FAILING/CANCELLING/RESTARTING job counts as
 * terminal. */
int sl_jm_sched_settled(sl_jm *jm, sl_job *job);
/* Frees the job's slots. */
void sl_jm_sched_release(sl_jm *jm, sl_job *job);

/* ---- checkpoint_trigger.c (its other functions: checkpoint_internal.h) */

/* Loop, jm->mu held: judges an ended TriggerCheckpoint or NotifyCheckpoint
 * call (after sl_jm_sched_outcome): a trigger refused or failed aborts its
 * checkpoint (a refusal counts against the tolerable failures); a notify
 * that did not reach a taskmanager is logged, and for a final checkpoint
 * another one is taken (sources end only when told). */
void sl_chk_call_outcome(sl_jm *jm, const sl_tm_outcome *o);

#endif
