/* Slot assignment and the RPCs that run an attempt on taskmanagers.
 *
 * Slot sharing: a job needs graph.slots_needed slots and slot i hosts
 * subtask i of every chain. Each slot in turn goes to the usable
 * taskmanager with the most free slots (ties: the earliest registered), so
 * a job spreads over the cluster.
 *
 * An attempt is deployed to every involved taskmanager at once
 * (deploy_tasks), then started on each (start_tasks) once all accepted.
 * Cancellation sends cancel_tasks and waits for the tasks to become
 * terminal; tasks on a lost taskmanager, on one that never got them or
 * whose cancel failed count as terminal, and so do those of a taskmanager
 * silent for SL_JM_CANCEL_WAIT_MS after the cancel.
 *
 * Every call is asynchronous (tm_calls.h): this module starts it and goes
 * on; the loop hands its outcome to sl_sched_outcome on a later round,
 * matched to the job attempt and taskmanager it was for (an outcome of an
 * older attempt changes nothing). Everything here runs on the loop thread
 * with jm->mu held and waits for nothing.
 *
 * Place: below job.c, which acts on what this module returns (the attempt
 * runs, or the job must fail with a reason); calls the registry and
 * tm_calls.c. It never changes a job's state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/net_addr.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/jobmanager.h"

typedef struct candidate {
    sl_tmreg_entry *tm;
    int free;
} candidate;

/* ---- slots */

int sl_sched_task_terminal(Sluice__TaskState s)
{
    return s == SLUICE__TASK_STATE__TASK_FINISHED || s == SLUICE__TASK_STATE__TASK_CANCELED ||
           s == SLUICE__TASK_STATE__TASK_FAILED;
}

int sl_sched_slots_on(const sl_job *job, const char *tm_id)
{
    int n = 0;
    for (int i = 0; i < job->graph.slots_needed; i++)
        if (strcmp(job->tms[job->slot_tm[i]].tm_id, tm_id) == 0)
            n++;
    return n;
}

int sl_sched_free_slots(sl_jm *jm, const sl_tmreg_entry *tm)
{
    int used = 0;
    for (const sl_job *job = jm->jobs; job != NULL; job = job->next)
        if (job->holds_slots)
            used += sl_sched_slots_on(job, tm->id);
    return used >= tm->slots ? 0 : tm->slots - used;
}

/* ---- assignment */

static int collect_candidates(sl_jm *jm, candidate **out, int *n, int *total)
{
    candidate *c = calloc((size_t)jm->ntms + 1, sizeof(*c));
    if (c == NULL)
        return SL_ENOMEM;
    *n = 0;
    *total = 0;
    for (sl_tmreg_entry *tm = jm->tms; tm != NULL; tm = tm->next) {
        if (!sl_tmreg_usable(tm))
            continue;
        int free = sl_sched_free_slots(jm, tm);
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

static int job_tm_index(sl_job *job, const sl_tmreg_entry *tm)
{
    for (int i = 0; i < job->ntms; i++)
        if (strcmp(job->tms[i].tm_id, tm->id) == 0)
            return i;
    sl_attempt_tm *jt = &job->tms[job->ntms];
    memset(jt, 0, sizeof(*jt));
    snprintf(jt->tm_id, sizeof(jt->tm_id), "%s", tm->id);
    jt->incarnation = tm->incarnation;
    snprintf(jt->rpc_addr, sizeof(jt->rpc_addr), "%s:%u", tm->host, tm->rpc_port);
    sl_addr_url(tm->host, (int)tm->data_port, jt->data_addr, sizeof(jt->data_addr));
    return job->ntms++;
}

/* The attempt's data token: fresh randomness, never derived. */
static int new_data_token(uint8_t token[SL_JM_DATA_TOKEN_LEN])
{
    return sl_random_bytes(token, SL_JM_DATA_TOKEN_LEN);
}

static void begin_attempt(sl_job *job, const uint8_t token[SL_JM_DATA_TOKEN_LEN])
{
    job->attempt++;
    memcpy(job->data_token, token, SL_JM_DATA_TOKEN_LEN);
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
    sl_attempt_tm *tms = calloc((size_t)(n < need ? n : need), sizeof(*tms));
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

int sl_sched_assign(sl_jm *jm, sl_job *job)
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
    uint8_t token[SL_JM_DATA_TOKEN_LEN];
    if ((rv = new_data_token(token)) != SL_OK) {
        sl_error("job %s: no randomness for a data token: %s", job->id, sl_strerror(rv));
        goto cleanup;
    }
    if ((rv = place_slots(job, c, n)) != SL_OK)
        goto cleanup;
    begin_attempt(job, token);
cleanup:
    free(c);
    return rv;
}

void sl_sched_release(sl_jm *jm, sl_job *job)
{
    if (job->holds_slots)
        sl_wake_kick(&jm->wake); /* waiting jobs may fit now */
    job->holds_slots = 0;
}

/* ---- calls */

/* The attempt is still the one being deployed (first run or restart). */
static int still_current(const sl_job *job, uint32_t attempt)
{
    int deploying = job->state == SLUICE__JOB_STATE__JOB_CREATED ||
                    (job->state == SLUICE__JOB_STATE__JOB_RESTARTING &&
                     job->restart_phase == SL_JM_JOB_RESTART_DEPLOY);
    return deploying && job->attempt == attempt;
}

static void call_key(sl_tmcall_key *k, enum sl_tmcall_kind kind, const sl_job *job,
                     const sl_attempt_tm *jt)
{
    memset(k, 0, sizeof(*k));
    k->kind = kind;
    snprintf(k->tm_id, sizeof(k->tm_id), "%s", jt->tm_id);
    snprintf(k->job_id, sizeof(k->job_id), "%s", job->id);
    k->attempt = job->attempt;
}

/* The client of a job's taskmanager, or NULL (the reason why in reason). */
/* 1 if tm is the incarnation of the taskmanager that jt was placed on. */
static int same_incarnation(const sl_tmreg_entry *tm, const sl_attempt_tm *jt)
{
    return tm != NULL && tm->incarnation == jt->incarnation;
}

static sl_rpc_client *job_tm_client(sl_jm *jm, const sl_attempt_tm *jt, uint32_t *incarnation,
                                    char *reason, size_t len)
{
    sl_tmreg_entry *tm = sl_tmreg_find(jm, jt->tm_id);
    if (tm != NULL && sl_tmreg_usable(tm) && same_incarnation(tm, jt)) {
        if (incarnation != NULL)
            *incarnation = tm->incarnation;
        return tm->client;
    }
    snprintf(reason, len, "taskmanager %s (%s) is gone", jt->tm_id, jt->rpc_addr);
    return NULL;
}

/* A deploy/start call could not even start: FAIL unless the taskmanager is
 * merely busy (tried again next round). */
static enum sl_sched_result start_failed(const sl_attempt_tm *jt, const char *what, int rv,
                                         char *reason, size_t len)
{
    if (rv == SL_EBUSY)
        return SL_SCHED_WAIT;
    snprintf(reason, len, "%s on taskmanager %s (%s) failed: %s", what, jt->tm_id,
             jt->rpc_addr, sl_strerror(rv));
    return SL_SCHED_FAIL;
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

static enum sl_sched_result deploy_one(sl_jm *jm, sl_job *job, int i, char **addrs,
                                       char *reason, size_t len)
{
    sl_attempt_tm *jt = &job->tms[i];
    uint32_t incarnation = 0;
    sl_rpc_client *c = job_tm_client(jm, jt, &incarnation, reason, len);
    size_t nlocal;
    if (c == NULL)
        return SL_SCHED_FAIL;
    uint32_t *local = local_tasks(job, i, &nlocal);
    if (local == NULL) {
        snprintf(reason, len, "out of memory while deploying");
        return SL_SCHED_FAIL;
    }
    Sluice__DeployTasks d = SLUICE__DEPLOY_TASKS__INIT;
    d.job_id = job->id;
    d.attempt = job->attempt;
    d.file_name = job->file_name;
    d.yaml = job->yaml;
    d.parallelism = job->par_override;
    d.config = job->cfg_text;
    d.n_task_addrs = (size_t)job->graph.ntasks;
    d.task_addrs = addrs;
    d.n_local_tasks = nlocal;
    d.local_tasks = local;
    d.restore_dir = job->coord.restored_from_dir != NULL ? job->coord.restored_from_dir : "";
    d.restore_checkpoint_id = job->coord.restored_from_id;
    d.checkpointing = job->coord.periodic;
    d.libraries = job->udf.libs;
    d.n_libraries = job->udf.n;
    d.tm_incarnation = incarnation;
    d.data_token.data = job->data_token;
    d.data_token.len = SL_JM_DATA_TOKEN_LEN;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_DEPLOY_TASKS;
    req.deploy_tasks = &d;
    sl_tmcall_key key;
    call_key(&key, SL_TMCALL_DEPLOY, job, jt);
    int rv = sl_tmcall_start(&jm->calls, c, &key, &req, SL_JM_RPC_TIMEOUT_MS);
    free(local);
    if (rv != SL_OK)
        return start_failed(jt, "deploy", rv, reason, len);
    jt->deploy = SL_ATTEMPT_SENT;
    jt->deployed = 1; /* from now on it may run tasks of this attempt */
    return SL_SCHED_WAIT;
}

static enum sl_sched_result start_one(sl_jm *jm, sl_job *job, sl_attempt_tm *jt, char *reason,
                                      size_t len)
{
    sl_rpc_client *c = job_tm_client(jm, jt, NULL, reason, len);
    if (c == NULL)
        return SL_SCHED_FAIL;
    Sluice__JobAttempt ja = SLUICE__JOB_ATTEMPT__INIT;
    ja.job_id = job->id;
    ja.attempt = job->attempt;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_START_TASKS;
    req.start_tasks = &ja;
    sl_tmcall_key key;
    call_key(&key, SL_TMCALL_START, job, jt);
    int rv = sl_tmcall_start(&jm->calls, c, &key, &req, SL_JM_RPC_TIMEOUT_MS);
    if (rv != SL_OK)
        return start_failed(jt, "start", rv, reason, len);
    jt->start = SL_ATTEMPT_SENT;
    return SL_SCHED_WAIT;
}

static char **task_addrs(const sl_job *job)
{
    char **addrs = calloc((size_t)job->graph.ntasks, sizeof(*addrs));
    if (addrs == NULL)
        return NULL;
    for (int t = 0; t < job->graph.ntasks; t++)
        addrs[t] = job->tms[job->slot_tm[job->tasks[t].subtask]].data_addr;
    return addrs;
}

/* Sends the deploys not sent yet: RUNNING once every one was accepted
 * (the starts may go), FAIL at the first that cannot start. */
static enum sl_sched_result deploy_all(sl_jm *jm, sl_job *job, char *reason, size_t len)
{
    char **addrs = NULL;
    int accepted = 1;
    enum sl_sched_result r = SL_SCHED_WAIT;
    for (int i = 0; i < job->ntms && r != SL_SCHED_FAIL; i++) {
        sl_attempt_tm *jt = &job->tms[i];
        if (jt->deploy == SL_ATTEMPT_NONE) {
            if (addrs == NULL && (addrs = task_addrs(job)) == NULL) {
                snprintf(reason, len, "out of memory while deploying");
                r = SL_SCHED_FAIL;
                break;
            }
            r = deploy_one(jm, job, i, addrs, reason, len);
        }
        accepted &= jt->deploy == SL_ATTEMPT_OK;
    }
    free(addrs);
    if (r == SL_SCHED_FAIL)
        return r;
    return accepted ? SL_SCHED_RUNNING : SL_SCHED_WAIT;
}

/* Sends the starts not sent yet: RUNNING once every one was accepted. */
static enum sl_sched_result start_all(sl_jm *jm, sl_job *job, char *reason, size_t len)
{
    int accepted = 1;
    for (int i = 0; i < job->ntms; i++) {
        sl_attempt_tm *jt = &job->tms[i];
        if (jt->start == SL_ATTEMPT_NONE && start_one(jm, job, jt, reason, len) == SL_SCHED_FAIL)
            return SL_SCHED_FAIL;
        accepted &= jt->start == SL_ATTEMPT_OK;
    }
    return accepted ? SL_SCHED_RUNNING : SL_SCHED_WAIT;
}

enum sl_sched_result sl_sched_deploy(sl_jm *jm, sl_job *job, char *reason, size_t len)
{
    if (!still_current(job, job->attempt))
        return SL_SCHED_WAIT;
    enum sl_sched_result r = deploy_all(jm, job, reason, len);
    if (r != SL_SCHED_RUNNING)
        return r;
    return start_all(jm, job, reason, len);
}

/* ---- outcomes */

static sl_attempt_tm *job_tm_find(sl_job *job, const char *tm_id)
{
    for (int i = 0; i < job->ntms; i++)
        if (strcmp(job->tms[i].tm_id, tm_id) == 0)
            return &job->tms[i];
    return NULL;
}

/* 1 if the call succeeded and its reply says OK; else the reason. */
static int call_ok(const sl_tmcall_outcome *o, const sl_attempt_tm *jt, const char *what, char *reason,
                   size_t len)
{
    if (o->rv == SL_OK && o->reply->status == SLUICE__STATUS__STATUS_OK)
        return 1;
    snprintf(reason, len, "%s on taskmanager %s (%s) failed: %s", what, jt->tm_id, jt->rpc_addr,
             o->rv != SL_OK          ? sl_strerror(o->rv)
             : o->reply->error[0]    ? o->reply->error
                                     : "refused");
    return 0;
}

static enum sl_sched_result deploy_start_outcome(sl_job *job, sl_attempt_tm *jt,
                                                 const sl_tmcall_outcome *o, char *reason,
                                                 size_t len)
{
    int deploy = o->key.kind == SL_TMCALL_DEPLOY;
    int ok = call_ok(o, jt, deploy ? "deploy" : "start", reason, len);
    if (deploy && o->rv == SL_OK && !ok)
        jt->deployed = 0; /* refused: it runs nothing of this attempt */
    *(deploy ? &jt->deploy : &jt->start) = ok ? SL_ATTEMPT_OK : SL_ATTEMPT_FAILED;
    return !ok && still_current(job, o->key.attempt) ? SL_SCHED_FAIL : SL_SCHED_WAIT;
}

static void cancel_outcome(sl_job *job, sl_attempt_tm *jt, const sl_tmcall_outcome *o)
{
    char reason[1024];
    if (call_ok(o, jt, "cancel", reason, sizeof(reason)))
        return;
    sl_warn("job %s: %s", job->id, reason);
    jt->cancel_done = 1;
}

enum sl_sched_result sl_sched_outcome(sl_job *job, const sl_tmcall_outcome *o, char *reason,
                                      size_t len)
{
    enum sl_tmcall_kind k = o->key.kind;
    if (k != SL_TMCALL_DEPLOY && k != SL_TMCALL_START && k != SL_TMCALL_CANCEL)
        return SL_SCHED_WAIT;
    if (job->attempt != o->key.attempt)
        return SL_SCHED_WAIT; /* job->tms now belong to a later attempt */
    sl_attempt_tm *jt = job_tm_find(job, o->key.tm_id);
    if (jt == NULL)
        return SL_SCHED_WAIT;
    if (k == SL_TMCALL_CANCEL) {
        cancel_outcome(job, jt, o);
        return SL_SCHED_WAIT;
    }
    return deploy_start_outcome(job, jt, o, reason, len);
}

/* ---- cancellation */

static void cancel_one(sl_jm *jm, sl_job *job, sl_attempt_tm *jt, sl_rpc_client *c)
{
    Sluice__JobAttempt ja = SLUICE__JOB_ATTEMPT__INIT;
    ja.job_id = job->id;
    ja.attempt = job->attempt;
    Sluice__Request req = SLUICE__REQUEST__INIT;
    req.body_case = SLUICE__REQUEST__BODY_CANCEL_TASKS;
    req.cancel_tasks = &ja;
    sl_tmcall_key key;
    call_key(&key, SL_TMCALL_CANCEL, job, jt);
    int rv = sl_tmcall_start(&jm->calls, c, &key, &req, SL_JM_RPC_TIMEOUT_MS);
    if (rv == SL_EBUSY)
        return; /* next round */
    jt->cancel_sent = 1;
    jt->cancel_deadline_ms = sl_now_ms() + SL_JM_CANCEL_WAIT_MS;
    if (rv != SL_OK) {
        sl_warn("job %s: cancel on taskmanager %s (%s) failed: %s", job->id, jt->tm_id,
                jt->rpc_addr, sl_strerror(rv));
        jt->cancel_done = 1;
    }
}

void sl_sched_cancel(sl_jm *jm, sl_job *job)
{
    for (int i = 0; i < job->ntms; i++) {
        sl_attempt_tm *jt = &job->tms[i];
        if (!jt->deployed || jt->cancel_sent)
            continue;
        /* the taskmanager may serve requests in any order: a cancel sent
         * now could overtake the deploy and miss its tasks */
        if (jt->deploy == SL_ATTEMPT_SENT || jt->start == SL_ATTEMPT_SENT)
            continue;
        sl_tmreg_entry *tm = sl_tmreg_find(jm, jt->tm_id);
        if (tm == NULL || !sl_tmreg_usable(tm) || !same_incarnation(tm, jt))
            continue;
        cancel_one(jm, job, jt, tm->client);
    }
}

static int tm_settled(sl_jm *jm, const sl_attempt_tm *jt, int64_t now)
{
    if (!jt->deployed || jt->cancel_done)
        return 1;
    if (jt->cancel_sent && now >= jt->cancel_deadline_ms)
        return 1;
    const sl_tmreg_entry *tm = sl_tmreg_find(jm, jt->tm_id);
    return tm == NULL || tm->state == SL_TMREG_LOST || !same_incarnation(tm, jt);
}

int sl_sched_settled(sl_jm *jm, sl_job *job)
{
    int64_t now = sl_now_ms();
    if (!job->holds_slots)
        return 1;
    for (int t = 0; t < job->graph.ntasks; t++) {
        const sl_exec *task = &job->tasks[t];
        if (sl_sched_task_terminal(task->state))
            continue;
        if (!tm_settled(jm, &job->tms[job->slot_tm[task->subtask]], now))
            return 0;
    }
    return 1;
}
