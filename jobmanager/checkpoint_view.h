/* What the checkpoint coordinator sees of a job: a narrow, read-only view
 * of the job's current attempt (its tasks, their taskmanagers), filled by
 * the job module (job_view.c) before each call into the coordinator, and
 * the hooks through which the coordinator calls taskmanagers and releases
 * the jobmanager's lock around file system work.
 *
 * The hooks are the one deliberate callback of the jobmanager's stack:
 * the coordinator is below the job module, yet it must start its trigger
 * and notify calls and drop the lock in the middle of its own work. They
 * only start calls (returning at once) and lock/unlock; relock also
 * refreshes the view, since handlers may have changed the job meanwhile.
 * Unit tests give a recording send hook and no lock.
 *
 * Ownership: the view and its arrays belong to the caller and stay valid
 * for the duration of the call they are passed to. */
#ifndef SL_CHECKPOINT_VIEW_H
#define SL_CHECKPOINT_VIEW_H

#include <stdint.h>

#include "jobmanager/tm_calls.h"
#include "proto/sluice.pb-c.h"

/* One task (execution) of the current attempt. */
typedef struct sl_coord_exec {
    int tm;            /* index into sl_coord_view.tms; -1 before assignment */
    int source;        /* its chain starts with a source */
    int running;       /* TASK_RUNNING */
    int input_ended;   /* a source that read all its input */
    const char *chain; /* the chain's name */
    int subtask, parallelism;
} sl_coord_exec;

/* One taskmanager holding slots of the current attempt. */
typedef struct sl_coord_tm {
    const char *tm_id;
    const char *addr;  /* host:rpc_port, for messages */
    int deployed;      /* may run tasks of the attempt: notifications go there */
    int stalled;       /* a checkpoint call timed out and no heartbeat came since */
} sl_coord_tm;

struct sl_coord_view;

typedef struct sl_coord_hooks {
    /* Starts a trigger or notify call (returns at once): SL_OK, or why it
     * could not start (SL_EUNREACH, SL_ETIMEDOUT: stalled, SL_EBUSY). */
    int (*send)(void *arg, const sl_tmcall_key *key, const Sluice__Request *req);
    /* How many more calls to tm_id may start now. */
    int (*room)(void *arg, const char *tm_id);
    /* Releases the jobmanager's lock (NULL: no lock). */
    void (*unlock)(void *arg);
    /* Takes it back and refills *v (NULL: no lock). */
    void (*relock)(void *arg, struct sl_coord_view *v);
} sl_coord_hooks;

typedef struct sl_coord_view {
    const char *job_id;
    const char *job_name;
    int max_parallelism;
    Sluice__JobState state;  /* the job's state */
    int active;              /* not terminal and holding slots: acks of
                                `attempt` are current */
    uint32_t attempt;
    int ntasks;
    const sl_coord_exec *tasks;
    int ntms;
    const sl_coord_tm *tms;
    const int *stopping;     /* the jobmanager is stopping (read live) */
    const sl_coord_hooks *hooks;
    void *arg;               /* for the hooks */
    struct sl_jmha *ha;        /* high availability (jobmanager/ha.h): where
                                completed checkpoints are pointed to before
                                the sinks commit; NULL without */
} sl_coord_view;

static inline int sl_coord_view_running(const sl_coord_view *v)
{
    return v->state == SLUICE__JOB_STATE__JOB_RUNNING;
}

static inline int sl_coord_view_stopping(const sl_coord_view *v)
{
    return v->stopping != NULL && *v->stopping;
}

static inline void sl_coord_view_unlock(sl_coord_view *v)
{
    if (v->hooks != NULL && v->hooks->unlock != NULL)
        v->hooks->unlock(v->arg);
}

static inline void sl_coord_view_relock(sl_coord_view *v)
{
    if (v->hooks != NULL && v->hooks->relock != NULL)
        v->hooks->relock(v->arg, v);
}

#endif
