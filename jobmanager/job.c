/* The job table and the job state machine.
 *
 *   CREATED --slots, deploy, start--> RUNNING --all tasks FINISHED--> FINISHED
 *      |                              |  ^      |
 *      |  sl_jm_job_fail (task failed,|  |      |  cancel
 *      |  taskmanager lost, deploy or |  |      v
 *      |  start refused, too many     |  |   CANCELLING --tasks terminal--> CANCELED
 *      |  failed checkpoints)         v  |
 *      |          strategy allows: RESTARTING: cancel the attempt, wait until
 *      |          its tasks are terminal, wait the delay, pick the restore
 *      |          checkpoint, wait for slots, deploy a new attempt (deploys
 *      |          and starts are asynchronous calls: CREATED and
 *      |          RESTARTING last until every taskmanager accepted them)
 *      v
 *   FAILING --tasks terminal--> FAILED   (strategy refuses, or no slots in time)
 *
 * No other transition is allowed (sl_jm_job_transition_ok); this module
 * alone changes a job's state, acting on what the modules below return:
 * the scheduler (the attempt runs, or a call failed), the coordinator (too
 * many failed checkpoints), the registry (a taskmanager was lost).
 *
 * Jobs are kept in submission order; terminal ones are forgotten beyond
 * SL_JM_MAX_DONE_JOBS (job_submit.c parses and registers them). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/checkpoint_restore.h"
#include "jobmanager/jobmanager.h"

static const char *job_name(const sl_job *job)
{
    return job->spec != NULL && job->spec->name != NULL ? job->spec->name : "";
}

sl_job *sl_jm_job_find(sl_jm *jm, const char *job_id)
{
    for (sl_job *job = jm->jobs; job != NULL; job = job->next)
        if (strcmp(job->id, job_id) == 0)
            return job;
    return NULL;
}

/* ---- state machine (jm->mu held) */

static void settle_tasks(sl_job *job)
{
    for (int t = 0; t < job->graph.ntasks; t++)
        if (!sl_sched_task_terminal(job->tasks[t].state))
            job->tasks[t].state = SLUICE__TASK_STATE__TASK_CANCELED;
}

/* Bit (1 << to) set for every state `to` reachable from the index state. */
#define ST(x) (1u << SLUICE__JOB_STATE__JOB_##x)
static const unsigned transitions[] = {
    [SLUICE__JOB_STATE__JOB_CREATED] = ST(RUNNING) | ST(RESTARTING) | ST(FAILING) | ST(FAILED) |
                                       ST(CANCELLING),
    [SLUICE__JOB_STATE__JOB_RUNNING] = ST(FINISHED) | ST(RESTARTING) | ST(FAILING) | ST(FAILED) |
                                       ST(CANCELLING),
    [SLUICE__JOB_STATE__JOB_RESTARTING] = ST(RUNNING) | ST(FAILING) | ST(FAILED) |
                                          ST(CANCELLING),
    [SLUICE__JOB_STATE__JOB_FAILING] = ST(FAILED),
    [SLUICE__JOB_STATE__JOB_CANCELLING] = ST(CANCELED),
    [SLUICE__JOB_STATE__JOB_FAILED] = 0,
    [SLUICE__JOB_STATE__JOB_CANCELED] = 0,
    [SLUICE__JOB_STATE__JOB_FINISHED] = 0,
};
#undef ST

int sl_jm_job_transition_ok(Sluice__JobState from, Sluice__JobState to)
{
    size_t n = sizeof(transitions) / sizeof(transitions[0]);
    if ((unsigned)from >= n || (unsigned)to >= n)
        return 0;
    return from == to || (transitions[from] & (1u << to)) != 0;
}

int sl_jm_job_set_state(sl_jm *jm, sl_job *job, Sluice__JobState to)
{
    if (!sl_jm_job_transition_ok(job->state, to)) {
        sl_error("job %s (%s): refused to switch from %s to %s", job->id, job_name(job),
                 sl_job_state_name(job->state), sl_job_state_name(to));
        return SL_EINVAL;
    }
    if (job->state == to)
        return SL_OK;
    sl_info("job %s (%s) switched from %s to %s", job->id, job_name(job),
            sl_job_state_name(job->state), sl_job_state_name(to));
    job->state = to;
    if (to == SLUICE__JOB_STATE__JOB_RUNNING) {
        job->restart_phase = SL_JM_JOB_RESTART_NONE;
        sl_coord_on_running(&job->coord);
    } else if (to == SLUICE__JOB_STATE__JOB_CANCELLING) {
        sl_coord_abort_all(&job->coord, job->id, "the job is being cancelled");
    }
    if (sl_jm_job_terminal(to)) {
        job->restart_phase = SL_JM_JOB_RESTART_NONE;
        job->end_ms = sl_wall_ms();
        settle_tasks(job);
        sl_sched_release(jm, job);
        sl_coord_on_job_end(&job->coord, job->id, to);
        if (jm->ha != NULL) /* a new leader recovers nothing of it */
            sl_jmha_job_ended(jm->ha, job->id);
    }
    return SL_OK;
}

static int job_may_run_tasks(const sl_job *job)
{
    if (!job->holds_slots)
        return 0;
    for (int i = 0; i < job->ntms; i++)
        if (job->tms[i].deployed)
            return 1;
    return 0;
}

static void record_failure(sl_job *job, const char *reason)
{
    free(job->failure);
    job->failure = strdup(reason);
    sl_warn("job %s (%s) failed: %s", job->id, job_name(job), reason);
}

/* No restart: FAILING while a taskmanager may still run tasks, else FAILED. */
static void fail_for_good(sl_jm *jm, sl_job *job)
{
    sl_coord_abort_all(&job->coord, job->id, "the job failed");
    sl_jm_job_set_state(jm, job,
                        job_may_run_tasks(job) ? SLUICE__JOB_STATE__JOB_FAILING
                                               : SLUICE__JOB_STATE__JOB_FAILED);
    sl_wake_kick(&jm->wake);
}

static void begin_restart(sl_jm *jm, sl_job *job, int64_t delay_ms)
{
    char how[128];
    if (job->state == SLUICE__JOB_STATE__JOB_RESTARTING)
        sl_info("job %s (%s): attempt %u failed while it was deployed", job->id, job_name(job),
                job->attempt);
    sl_restart_strategy_describe(&job->restart, how, sizeof(how));
    sl_info("job %s (%s) will restart (restart strategy %s)", job->id, job_name(job), how);
    sl_coord_abort_all(&job->coord, job->id, "job failover");
    job->restart_phase = SL_JM_JOB_RESTART_CANCEL;
    job->restart_delay_ms = delay_ms;
    sl_jm_job_set_state(jm, job, SLUICE__JOB_STATE__JOB_RESTARTING);
    sl_wake_kick(&jm->wake);
}

void sl_jm_job_fail(sl_jm *jm, sl_job *job, const char *reason)
{
    int deploying = job->state == SLUICE__JOB_STATE__JOB_RESTARTING &&
                    job->restart_phase == SL_JM_JOB_RESTART_DEPLOY;
    if (job->state == SLUICE__JOB_STATE__JOB_RESTARTING && !deploying) {
        sl_info("job %s (%s) is restarting; not failing it again for: %s", job->id,
                job_name(job), reason);
        return;
    }
    if (job->state != SLUICE__JOB_STATE__JOB_CREATED &&
        job->state != SLUICE__JOB_STATE__JOB_RUNNING && !deploying)
        return;
    record_failure(job, reason);
    int64_t delay_ms = 0;
    const char *why = "the job never ran";
    if (job->attempt > 0 &&
        sl_restart_strategy_on_failure(&job->restart, sl_now_ms(), &delay_ms, &why)) {
        begin_restart(jm, job, delay_ms);
        return;
    }
    sl_warn("job %s (%s) will not restart: %s", job->id, job_name(job),
            why != NULL ? why : "the restart strategy refused");
    fail_for_good(jm, job);
}

void sl_jm_job_cancel(sl_jm *jm, sl_job *job)
{
    if (sl_jm_job_terminal(job->state) || job->state == SLUICE__JOB_STATE__JOB_CANCELLING ||
        job->state == SLUICE__JOB_STATE__JOB_FAILING)
        return;
    sl_info("job %s (%s): cancel requested", job->id, job_name(job));
    sl_jm_job_set_state(jm, job, SLUICE__JOB_STATE__JOB_CANCELLING);
    sl_wake_kick(&jm->wake);
}

static void task_name(const sl_job *job, int t, char *buf, size_t len)
{
    const sl_exec *task = &job->tasks[t];
    const sl_chain *c = &job->graph.chains[task->chain];
    snprintf(buf, len, "task %s %d/%d", c->name, task->subtask + 1, c->parallelism);
}

/* 1 if a report is about a task of the current attempt of a job that
 * has not ended, from the taskmanager the task runs on. */
static int report_valid(const sl_job *job, uint32_t attempt, uint32_t task, const char *tm_id)
{
    if (sl_jm_job_terminal(job->state) || !job->holds_slots || attempt != job->attempt ||
        task >= (uint32_t)job->graph.ntasks)
        return 0;
    const sl_exec *t = &job->tasks[task];
    return strcmp(job->tms[job->slot_tm[t->subtask]].tm_id, tm_id) == 0;
}

static int update_valid(const sl_job *job, const Sluice__TaskStateUpdate *u)
{
    if ((int)u->state < 0 || u->state > SLUICE__TASK_STATE__TASK_FAILED)
        return 0;
    return report_valid(job, u->attempt, u->task, u->tm_id);
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Keeps the newest counters of the current attempt: they only grow within
 * an attempt, so a report overtaken by a later one never lowers them. */
static void store_metrics(const sl_job *job, sl_exec *t, const Sluice__TaskMetrics *m)
{
    if (t->metrics_attempt != job->attempt) {
        t->metrics_attempt = job->attempt;
        t->records_in = t->records_out = t->late_records = 0;
    }
    t->records_in = max_u64(t->records_in, m->records_in);
    t->records_out = max_u64(t->records_out, m->records_out);
    t->late_records = max_u64(t->late_records, m->late_records);
}

void sl_jm_job_task_metrics(sl_jm *jm, const char *tm_id, const Sluice__TaskMetrics *m)
{
    sl_job *job = sl_jm_job_find(jm, m->job_id);
    if (job != NULL && report_valid(job, m->attempt, m->task, tm_id))
        store_metrics(job, &job->tasks[m->task], m);
}

void sl_jm_job_task_counters(const sl_job *job, int t, uint64_t *in, uint64_t *out,
                             uint64_t *late)
{
    const sl_exec *task = &job->tasks[t];
    int cur = task->metrics_attempt == job->attempt;
    *in = cur ? task->records_in : 0;
    *out = cur ? task->records_out : 0;
    *late = cur ? task->late_records : 0;
}

void sl_jm_job_task_update(sl_jm *jm, const Sluice__TaskStateUpdate *u)
{
    sl_job *job = sl_jm_job_find(jm, u->job_id);
    if (job == NULL || !update_valid(job, u))
        return;
    sl_exec *t = &job->tasks[u->task];
    char name[300], reason[1024];
    if (u->metrics != NULL)
        store_metrics(job, t, u->metrics);
    task_name(job, (int)u->task, name, sizeof(name));
    if (u->input_ended && !t->input_ended) {
        t->input_ended = 1;
        sl_info("job %s: %s read all its input", job->id, name);
        sl_wake_kick(&jm->wake);
    }
    if (sl_sched_task_terminal(t->state) || t->state == u->state)
        return;
    sl_info("job %s: %s switched from %s to %s%s%s", job->id, name, sl_task_state_name(t->state),
            sl_task_state_name(u->state), u->message[0] ? ": " : "", u->message);
    t->state = u->state;
    if (u->state == SLUICE__TASK_STATE__TASK_FAILED) {
        snprintf(reason, sizeof(reason), "%s on taskmanager %s failed: %s", name, u->tm_id,
                 u->message[0] ? u->message : "unknown cause");
        sl_jm_job_fail(jm, job, reason);
    }
    sl_wake_kick(&jm->wake);
}

static int all_tasks_finished(const sl_job *job)
{
    for (int t = 0; t < job->graph.ntasks; t++)
        if (job->tasks[t].state != SLUICE__TASK_STATE__TASK_FINISHED)
            return 0;
    return 1;
}

/* One round of deploying the current attempt; acts on the result. */
static void deploy(sl_jm *jm, sl_job *job)
{
    char reason[1024];
    enum sl_sched_result r = sl_sched_deploy(jm, job, reason, sizeof(reason));
    if (r == SL_SCHED_RUNNING)
        sl_jm_job_set_state(jm, job, SLUICE__JOB_STATE__JOB_RUNNING);
    else if (r == SL_SCHED_FAIL)
        sl_jm_job_fail(jm, job, reason);
}

static void step_created(sl_jm *jm, sl_job *job)
{
    /* holds_slots: the first attempt is being deployed (over several
     * rounds: the calls are asynchronous) */
    if (job->holds_slots || sl_sched_assign(jm, job) == SL_OK) {
        deploy(jm, job);
        return;
    }
    int64_t waited = sl_now_ms() - job->wait_since_ms;
    if (waited >= jm->slot_wait_ms) {
        char reason[256];
        snprintf(reason, sizeof(reason), "could not get %d task slots within %lld ms",
                 job->graph.slots_needed, (long long)jm->slot_wait_ms);
        record_failure(job, reason);
        fail_for_good(jm, job);
    }
}

/* RESTARTING, first part: the failed attempt's tasks stop. */
static int restart_cancel(sl_jm *jm, sl_job *job)
{
    sl_sched_cancel(jm, job);
    if (job->state != SLUICE__JOB_STATE__JOB_RESTARTING || job->restart_phase != SL_JM_JOB_RESTART_CANCEL ||
        !sl_sched_settled(jm, job))
        return 0;
    settle_tasks(job);
    sl_sched_release(jm, job);
    job->restart_phase = SL_JM_JOB_RESTART_DELAY;
    job->restart_at_ms = sl_now_ms() + job->restart_delay_ms;
    sl_info("job %s: the tasks of attempt %u stopped; restarting in %lld ms", job->id,
            job->attempt, (long long)job->restart_delay_ms);
    return 1;
}

/* After the delay: the checkpoint to restore. */
static int restart_pick(sl_jm *jm, sl_job *job)
{
    char why[SL_COORD_REASON_MAX];
    sl_coord_view v;
    if (sl_now_ms() < job->restart_at_ms)
        return 0;
    sl_jobview_fill(jm, job, &v);
    int rv = sl_restore_pick(&job->coord, &v, why, sizeof(why));
    if (job->state != SLUICE__JOB_STATE__JOB_RESTARTING || job->restart_phase != SL_JM_JOB_RESTART_DELAY ||
        rv == SL_EBUSY)
        return 0;
    if (rv != SL_OK) { /* state that does not verify: never silently start over */
        record_failure(job, why);
        fail_for_good(jm, job);
        return 0;
    }
    if (job->coord.restore_id != 0)
        sl_info("restarting job %s from checkpoint %" PRIu64 " (attempt %u) after %lld ms",
                job->id, job->coord.restore_id, job->attempt + 1,
                (long long)job->restart_delay_ms);
    else
        sl_info("restarting job %s without state (attempt %u) after %lld ms", job->id,
                job->attempt + 1, (long long)job->restart_delay_ms);
    job->restart_phase = SL_JM_JOB_RESTART_SLOTS;
    job->wait_since_ms = sl_now_ms();
    job->wait_logged = 0;
    return 1;
}

/* Slots, then the new attempt. */
static void restart_deploy(sl_jm *jm, sl_job *job)
{
    char reason[256];
    if (sl_sched_assign(jm, job) == SL_OK) {
        job->restarts++;
        job->restart_phase = SL_JM_JOB_RESTART_DEPLOY;
        sl_restore_use(&job->coord);
        deploy(jm, job);
        return;
    }
    if (sl_now_ms() - job->wait_since_ms < jm->slot_wait_ms)
        return;
    snprintf(reason, sizeof(reason), "could not get %d task slots within %lld ms",
             job->graph.slots_needed, (long long)jm->slot_wait_ms);
    record_failure(job, reason);
    fail_for_good(jm, job);
}

static void step_restarting(sl_jm *jm, sl_job *job)
{
    if (job->restart_phase == SL_JM_JOB_RESTART_CANCEL && !restart_cancel(jm, job))
        return;
    if (job->restart_phase == SL_JM_JOB_RESTART_DELAY && !restart_pick(jm, job))
        return;
    if (job->restart_phase == SL_JM_JOB_RESTART_SLOTS)
        restart_deploy(jm, job);
    else if (job->restart_phase == SL_JM_JOB_RESTART_DEPLOY)
        deploy(jm, job); /* the calls of the previous rounds answered */
}

static void step_stopping(sl_jm *jm, sl_job *job)
{
    Sluice__JobState from = job->state;
    sl_sched_cancel(jm, job);
    if (job->state != from || !sl_sched_settled(jm, job))
        return;
    sl_jm_job_set_state(jm, job,
                        from == SLUICE__JOB_STATE__JOB_FAILING ? SLUICE__JOB_STATE__JOB_FAILED
                                                               : SLUICE__JOB_STATE__JOB_CANCELED);
}

/* The coordinator's round: its verdict is acted on between its decisions
 * and the rest (triggers, cleanup), which then see the job as it is. */
static void checkpoint_round(sl_jm *jm, sl_job *job)
{
    sl_coord_view v;
    sl_coord_outcome out;
    sl_jobview_fill(jm, job, &v);
    sl_coord_judge(&job->coord, &v, &out);
    if (out.verdict == SL_COORD_FAIL_JOB)
        sl_jm_job_fail(jm, job, out.reason);
    sl_jobview_fill(jm, job, &v);
    sl_coord_act(&job->coord, &v);
    if (jm->ha != NULL && job->coord.last_id > job->ha_counter) {
        job->ha_counter = job->coord.last_id;
        sl_jmha_counter(jm->ha, job->id, job->ha_counter);
    }
}

void sl_jm_job_step(sl_jm *jm, sl_job *job)
{
    checkpoint_round(jm, job); /* first: completes what finished before tasks end */
    switch (job->state) {
    case SLUICE__JOB_STATE__JOB_CREATED:
        step_created(jm, job);
        break;
    case SLUICE__JOB_STATE__JOB_RUNNING:
        if (all_tasks_finished(job))
            sl_jm_job_set_state(jm, job, SLUICE__JOB_STATE__JOB_FINISHED);
        break;
    case SLUICE__JOB_STATE__JOB_RESTARTING:
        step_restarting(jm, job);
        break;
    case SLUICE__JOB_STATE__JOB_FAILING:
    case SLUICE__JOB_STATE__JOB_CANCELLING:
        step_stopping(jm, job);
        break;
    default:
        break;
    }
}

void sl_jm_job_trim(sl_jm *jm)
{
    int done = 0;
    for (sl_job *job = jm->jobs; job != NULL; job = job->next)
        done += sl_jm_job_terminal(job->state);
    sl_job **pp = &jm->jobs;
    while (done > SL_JM_MAX_DONE_JOBS && *pp != NULL) {
        sl_job *job = *pp;
        if (!sl_jm_job_terminal(job->state)) {
            pp = &job->next;
            continue;
        }
        *pp = job->next;
        sl_jm_submit_free(job);
        done--;
    }
}

void sl_jm_job_free_all(sl_jm *jm)
{
    sl_job *job = jm->jobs;
    while (job != NULL) {
        sl_job *next = job->next;
        sl_jm_submit_free(job);
        job = next;
    }
    jm->jobs = NULL;
}

/* ---- reports from below (jm->mu held) */

void sl_jm_job_ack(sl_jm *jm, const Sluice__AckCheckpoint *a)
{
    sl_coord_view v;
    sl_job *job = sl_jm_job_find(jm, a->job_id);
    if (job == NULL)
        return;
    sl_jobview_fill(jm, job, &v);
    if (sl_coord_on_ack(&job->coord, &v, a))
        sl_wake_kick(&jm->wake);
}

void sl_jm_job_tms_lost(sl_jm *jm)
{
    char tm_id[SL_TM_ID_MAX + 1], reason[1024];
    while (sl_tmreg_take_loss(jm, tm_id, reason, sizeof(reason)))
        for (sl_job *job = jm->jobs; job != NULL; job = job->next)
            if (job->holds_slots && !sl_jm_job_terminal(job->state) &&
                sl_sched_slots_on(job, tm_id) > 0)
                sl_jm_job_fail(jm, job, reason);
}

void sl_jm_job_call_ended(sl_jm *jm, const sl_tmcall_outcome *o)
{
    char reason[1024];
    sl_coord_view v;
    sl_tmreg_call_ended(jm, o);
    sl_jm_job_tms_lost(jm); /* a dropped connection is the cause to report */
    sl_job *job = sl_jm_job_find(jm, o->key.job_id);
    if (job == NULL)
        return;
    if (sl_sched_outcome(job, o, reason, sizeof(reason)) == SL_SCHED_FAIL)
        sl_jm_job_fail(jm, job, reason);
    if (o->key.kind == SL_TMCALL_TRIGGER || o->key.kind == SL_TMCALL_NOTIFY) {
        sl_jobview_fill(jm, job, &v);
        sl_coord_call_outcome(&job->coord, &v, o);
    }
}
