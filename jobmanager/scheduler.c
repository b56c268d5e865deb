/* Slot assignment and the RPCs that run an attempt on taskmanagers.
 *
 * Slot sharing: a job needs graph.slots_needed slots and slot i hosts
 * subtask i of every chain. Each slot in turn goes to the usable
 * taskmanager with the most free slots (ties: the earliest registered), so
 * a job spreads over the cluster.
 *
 * An attempt is deployed to every involved taskmanager (deploy_tasks), then
 * started on each (start_tasks) once all accepted. Cancellation sends
 * cancel_tasks and waits for the tasks to become terminal; tasks on a lost
 * taskmanager, on one that never got them or whose cancel failed count as
 * terminal, and so do those of a taskmanager silent for
 * SL_JM_CANCEL_WAIT_MS after the cancel.
 *
 * Everything here runs on the loop thread with jm->mu held; the mutex is
 * released around each outbound call (the loop alone changes job->tms and
 * tm->client, and frees jobs and taskmanagers, so they stay valid). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/jobmanager.h"
#include "jobmanager/udf_check.h"

typedef struct candidate {
    sl_tm *tm;
    int free;
} candidate;

/* ---- assignment */

static int collect_candidates(sl_jm *jm, candidate **out, int *n, int *total)
{
    candidate *c = calloc((size_t)jm->ntms + 1, sizeof(*c));
    if (c == NULL)
        return SL_ENOMEM;
    *n = 0;
    *total = 0;
    for (sl_tm *tm = jm->tms; tm != NULL; tm = tm->next) {
        if (!sl_jm_tm_usable(tm))
            continue;
        int free = sl_jm_tm_free_slots(jm, tm);
        if (free <= 0)
            continue;
        c[*n].tm = tm;
        c[*n].free = free;
        *total += free;
        (*n)++;
    }
    *out = c;
    return SL_OK;
}

static candidate *pick(candidate *c, int n)
{
    candidate *best = NULL;
    for (int i = 0; i < n; i++) {
        if (c[i].free <= 0)
            continue;
        if (best == NULL || c[i].free > best->free ||
            (c[i].free == best->free && c[i].tm->order < best->tm->order))
            best = &c[i];
    }
    return best;
}

static int job_tm_index(sl_job *job, const sl_tm *tm)
{
    for (int i = 0; i < job->ntms; i++)
        if (strcmp(job->tms[i].tm_id, tm->id) == 0)
            return i;
    sl_job_tm *jt = &job->tms[job->ntms];
    memset(jt, 0, sizeof(*jt));
    snprintf(jt->tm_id, sizeof(jt->tm_id), "%s", tm->id);
    snprintf(jt->rpc_addr, sizeof(jt->rpc_addr), "%s:%u", tm->host, tm->rpc_port);
    snprintf(jt->data_addr, sizeof(jt->data_addr), "tcp://%s:%u", tm->host, tm->data_port);
    return job->ntms++;
}

static void begin_attempt(sl_job *job)
{
    job->attempt++;
    job->holds_slots = 1;
    job->wait_logged = 0;
    for (int t = 0; t < job->graph.ntasks; t++) {
        job->tasks[t].state = SLUICE__TASK_STATE__TASK_DEPLOYING;
        job->tasks[t].input_ended = 0;
    }
    for (int i = 0; i < job->ntms; i++)
        sl_info("job %s attempt %u: tasks go to taskmanager %s (%s)", job->id, job->attempt,
                job->tms[i].tm_id, job->tms[i].rpc_addr);
}

static int place_slots(sl_job *job, candidate *c, int n)
{
    int need = job->graph.slots_needed;
    sl_job_tm *tms = calloc((size_t)(n < need ? n : need), sizeof(*tms));
    if (tms == NULL)
        return SL_ENOMEM;
    free(job->tms);
    job->tms = tms;
    job->ntms = 0;
    for (int i = 0; i < need; i++) {
        candidate *best = pick(c, n);
        job->slot_tm[i] = job_tm_index(job, best->tm);
        best->free--;
    }
    return SL_OK;
}

int sl_jm_sched_assign(sl_jm *jm, sl_job *job)
{
    candidate *c = NULL;
    int n, total;
    int need = job->graph.slots_needed;
    int rv = collect_candidates(jm, &c, &n, &total);
    if (rv != SL_OK)
        goto cleanup;
    if (total < need) {
        if (!job->wait_logged)
            sl_info("job %s waits for task slots: needs %d, %d free", job->id, need, total);
        job->wait_logged = 1;
        rv = SL_EBUSY;
        goto cleanup;
    }
    if ((rv = place_slots(job, c, n)) != SL_OK)
        goto cleanup;
    begin_attempt(job);
cleanup:
    free(c);
    return rv;
}

void sl_jm_sched_release(sl_jm *jm, sl_job *job)
{
    if (job->holds_slots)
        sl_jm_kick(jm); /* waiting jobs may fit now */
    job->holds_slots = 0;
}

/* ---- calls */

static int call_unlocked(sl_jm *jm, sl_rpc_client *c, const Sluice__Request *req,
                         Sluice__Reply **reply)
{
    *reply = NULL;
    pthread_mutex_unlock(&jm->mu);
    int rv = sl_rpc_call(c, req, SL_JM_RPC_TIMEOUT_MS, reply);
    pthread_mutex_lock(&jm->mu);
    return rv;
}

/* The attempt is still the one being deployed (first run or restart). */
static int still_current(const sl_job *job, uint32_t attempt)
{
    int deploying = job->state == SLUICE__JOB_STATE__JOB_CREATED ||
                    (job->state == SLUICE__JOB_STATE__JOB_RESTARTING &&
                     job->restart_phase == SL_RP_DEPLOY);
    return deploying && job->attempt == attempt;
}

/* A call failed: if the connection dropped meanwhile, say so first, so the
 * job fails with the taskmanager's loss as its cause. */
static void note_drop(sl_jm *jm, const sl_job_tm *jt)
{
    sl_tm *tm = sl_jm_tm_find(jm, jt->tm_id);
    if (tm != NULL && tm->conn != NULL && tm->conn->dropped)
        sl_jm_tm_lose(jm, tm, "connection dropped");
}

/* Judges the answer to a deploy/start call; fails the job if it failed.
 * Frees reply. 1 = go on. */
static int call_outcome(sl_jm *jm, sl_job *job, uint32_t attempt, sl_job_tm *jt,
                        const char *what, int rv, Sluice__Reply *reply)
{
    char reason[1024];
    int ok = 0;
    if (rv != SL_OK)
        note_drop(jm, jt);
    if (!still_current(job, attempt))
        goto cleanup;
    if (rv != SL_OK)
        snprintf(reason, sizeof(reason), "%s on taskmanager %s (%s) failed: %s", what,
                 jt->tm_id, jt->rpc_addr, sl_strerror(rv));
    else if (reply->status != SLUICE__STATUS__STATUS_OK)
        snprintf(reason, sizeof(reason), "%s on taskmanager %s (%s) failed: %s", what,
                 jt->tm_id, jt->rpc_addr, reply->error[0] ? reply->error : "refused");
    else
        ok = 1;
    if (!ok)
        sl_jm_job_fail(jm, job, reason);
cleanup:
    if (reply != NULL)
        sluice__reply__free_unpacked(reply, NULL);
    return ok;
}

/* The client of a job's taskmanager, or NULL (and the job failed). */
static sl_rpc_client *job_tm_client(sl_jm *jm, sl_job *job, const sl_job_tm *jt)
{
    sl_tm *tm = sl_jm_tm_find(jm, jt->tm_id);
    if (tm != NULL && sl_jm_tm_usable(tm))
        return tm->client;
    char reason[512];
    snprintf(reason, sizeof(reason), "taskmanager %s (%s) is gone", jt->tm_id, jt->rpc_addr);
    sl_jm_job_fail(jm, job, reason);
    return NULL;
}

static uint32_t *local_tasks(const sl_job *job, int tm_index, size_t *n)
{
    uint32_t *v = calloc((size_t)job->graph.ntasks, sizeof(*v));
    *n = 0;
    if (v == NULL)
        return NULL;
    for (int t = 0; t < job->graph.ntasks; t++)
        if (job->slot_tm[job->tasks[t].subtask] == tm_index)
            v[(*n)++] = (uint32_t)t;
    return v;
}

static int deploy_one(sl_jm *jm, sl_job *job, int i, char **addrs)
{
    sl_job_tm *jt = &job->tms[i];
    uint32_t attempt = job->attempt;
    sl_rpc_client *c = job_tm_client(jm, job, jt);
    size_t nlocal;
    uint32_t *local = c != NULL ? local_tasks(job, i, &nlocal) : NULL;
    if (local == NULL) {
        if (c != NULL)
            sl_jm_job_fail(jm, job, "out of memory while deploying");
        return 0;
    }
    Sluice__DeployTasks d = SLUICE__DEPLOY_TASKS__INIT;
    d.job_id = job->id;
    d.attempt = attempt;
    d.file_name = job->file_name;
    d.yaml = job->yaml;
    d.parallelism = job->par_override;
    d.config = job->cfg_text;
    d.n_task_addrs = (size_t)job->graph.ntasks;
    d.task_addrs = addrs;
    d.n_local_tasks = nlocal;
    d.local_tasks = local;
    d.restore_dir = job->chk.restored_from_dir != NULL ? job->chk.restored_from_dir : "";
    d.restore_checkpoint_id = job->chk.restored_from_id;
    d.checkpointing = job->chk.periodic;
    d.libraries = sl_jm_udf_libraries(job, &d.n_libraries);
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_DEPLOY_TASKS;
    req.deploy_tasks = &d;
    Sluice__Reply *reply;
    jt->deployed = 1;
    int rv = call_unlocked(jm, c, &req, &reply);
    free(local);
    if (rv == SL_OK && reply->status != SLUICE__STATUS__STATUS_OK)
        jt->deployed = 0; /* refused: it runs nothing of this attempt */
    return call_outcome(jm, job, attempt, jt, "deploy", rv, reply);
}

static int start_one(sl_jm *jm, sl_job *job, int i)
{
    sl_job_tm *jt = &job->tms[i];
    uint32_t attempt = job->attempt;
    sl_rpc_client *c = job_tm_client(jm, job, jt);
    if (c == NULL)
        return 0;
    Sluice__JobAttempt ja = SLUICE__JOB_ATTEMPT__INIT;
    ja.job_id = job->id;
    ja.attempt = attempt;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_START_TASKS;
    req.start_tasks = &ja;
    Sluice__Reply *reply;
    int rv = call_unlocked(jm, c, &req, &reply);
    return call_outcome(jm, job, attempt, jt, "start", rv, reply);
}

void sl_jm_sched_deploy(sl_jm *jm, sl_job *job)
{
    uint32_t attempt = job->attempt;
    char **addrs = calloc((size_t)job->graph.ntasks, sizeof(*addrs));
    if (addrs == NULL) {
        sl_jm_job_fail(jm, job, "out of memory while deploying");
        return;
    }
    for (int t = 0; t < job->graph.ntasks; t++)
        addrs[t] = job->tms[job->slot_tm[job->tasks[t].subtask]].data_addr;
    for (int i = 0; i < job->ntms; i++)
        if (jm->stopping || !deploy_one(jm, job, i, addrs))
            goto cleanup;
    for (int i = 0; i < job->ntms; i++)
        if (jm->stopping || !start_one(jm, job, i))
            goto cleanup;
    if (still_current(job, attempt))
        sl_jm_job_set_state(jm, job, SLUICE__JOB_STATE__JOB_RUNNING);
cleanup:
    free(addrs);
}

int sl_jm_sched_call(sl_jm *jm, const char *tm_id, const Sluice__Request *req,
                     Sluice__Reply **reply)
{
    char id[SL_JM_ID_MAX + 1];
    snprintf(id, sizeof(id), "%s", tm_id);
    *reply = NULL;
    sl_tm *tm = sl_jm_tm_find(jm, id);
    if (tm == NULL || !sl_jm_tm_usable(tm))
        return SL_EUNREACH;
    if (tm->stalled_ms != 0 && tm->last_hb_ms <= tm->stalled_ms)
        return SL_ETIMEDOUT;
    sl_rpc_client *c = tm->client;
    pthread_mutex_unlock(&jm->mu);
    int rv = sl_rpc_call(c, req, (int)jm->chk_rpc_timeout_ms, reply);
    pthread_mutex_lock(&jm->mu);
    if (rv == SL_OK)
        return rv;
    *reply = NULL;
    tm = sl_jm_tm_find(jm, id);
    if (tm == NULL)
        return rv;
    if (rv == SL_ETIMEDOUT) {
        tm->stalled_ms = sl_now_ms();
        sl_warn("taskmanager %s did not answer within %lld ms; checkpoint calls skip it until "
                "its next heartbeat", tm->id, (long long)jm->chk_rpc_timeout_ms);
    }
    if (tm->conn != NULL && tm->conn->dropped)
        sl_jm_tm_lose(jm, tm, "connection dropped");
    return rv;
}

/* ---- cancellation */

static void cancel_one(sl_jm *jm, sl_job *job, sl_job_tm *jt, sl_rpc_client *c)
{
    Sluice__JobAttempt ja = SLUICE__JOB_ATTEMPT__INIT;
    ja.job_id = job->id;
    ja.attempt = job->attempt;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_CANCEL_TASKS;
    req.cancel_tasks = &ja;
    Sluice__Reply *reply;
    jt->cancel_sent = 1;
    jt->cancel_deadline_ms = sl_now_ms() + SL_JM_CANCEL_WAIT_MS;
    int rv = call_unlocked(jm, c, &req, &reply);
    if (rv != SL_OK || reply->status != SLUICE__STATUS__STATUS_OK) {
        sl_warn("job %s: cancel on taskmanager %s (%s) failed: %s", job->id, jt->tm_id,
                jt->rpc_addr, rv != SL_OK ? sl_strerror(rv) : reply->error);
        jt->cancel_done = 1;
    }
    if (reply != NULL)
        sluice__reply__free_unpacked(reply, NULL);
}

void sl_jm_sched_cancel(sl_jm *jm, sl_job *job)
{
    for (int i = 0; i < job->ntms && !jm->stopping; i++) {
        sl_job_tm *jt = &job->tms[i];
        if (!jt->deployed || jt->cancel_sent)
            continue;
        sl_tm *tm = sl_jm_tm_find(jm, jt->tm_id);
        if (tm == NULL || !sl_jm_tm_usable(tm))
            continue;
        cancel_one(jm, job, jt, tm->client);
    }
}

static int tm_settled(sl_jm *jm, const sl_job_tm *jt, int64_t now)
{
    if (!jt->deployed || jt->cancel_done)
        return 1;
    if (jt->cancel_sent && now >= jt->cancel_deadline_ms)
        return 1;
    const sl_tm *tm = sl_jm_tm_find(jm, jt->tm_id);
    return tm == NULL || tm->state == SL_TM_LOST;
}

int sl_jm_sched_settled(sl_jm *jm, sl_job *job)
{
    int64_t now = sl_now_ms();
    if (!job->holds_slots)
        return 1;
    for (int t = 0; t < job->graph.ntasks; t++) {
        const sl_task *task = &job->tasks[t];
        if (sl_jm_task_terminal(task->state))
            continue;
        if (!tm_settled(jm, &job->tms[job->slot_tm[task->subtask]], now))
            return 0;
    }
    return 1;
}
