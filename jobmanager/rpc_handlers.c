/* Requests to the jobmanager, served on the RPC worker threads.
 *
 * Handlers hold jm->mu only briefly, never call out and never sleep; what
 * needs a taskmanager is recorded and the loop thread is woken. Every
 * handler is idempotent (nng's req resends a request on reconnect). Reply
 * memory comes from the arena: nothing in a reply points into jobmanager
 * state, which may change as soon as the mutex is released.
 *
 * Place: the top with jm_loop.c (the server calls sl_jm_rpc_handle); calls
 * job.c, job_view.c, the registry, the coordinator, savepoint.c and
 * checkpoint_stats.c, and wakes the loop when a trigger was recorded. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/rpc_bounds.h"
#include "common/status.h"
#include "common/ha.h"
#include "jobmanager/checkpoint_retention.h"
#include "jobmanager/checkpoint_stats.h"
#include "jobmanager/jobmanager.h"
#include "jobmanager/savepoint.h"

static char *adup(sl_arena *a, const char *s)
{
    char *p = sl_arena_strdup(a, s != NULL ? s : "");
    return p != NULL ? p : (char *)"";
}

static void reply_error(Sluice__Reply *reply, sl_arena *a, Sluice__Status st, const char *msg)
{
    reply->status = st;
    reply->error = adup(a, msg);
}

/* ---- high availability */

/* 1 without HA; with it, once the loop took leadership (jobs recovered). */
static int leading(sl_jm *jm)
{
    if (jm->ha == NULL)
        return 1;
    pthread_mutex_lock(&jm->mu);
    int yes = jm->leading;
    pthread_mutex_unlock(&jm->mu);
    return yes;
}

/* A standby (or a deposed leader) serves nobody: it says where the leader is. */
static void reply_not_leader(sl_jm *jm, Sluice__Reply *reply, sl_arena *a)
{
    char addr[SL_HA_ADDR_MAX];
    sl_jmha_leader_addr(jm->ha, addr, sizeof(addr));
    if (strcmp(addr, jm->address) == 0)
        addr[0] = '\0'; /* we won but have not taken over yet */
    reply->status = SLUICE__STATUS__STATUS_NOT_LEADER;
    reply->leader = adup(a, addr);
    reply->error = addr[0] != '\0'
                       ? sl_arena_printf(a, "not the leader; the leader is %s", addr)
                       : (char *)"not the leader; no leader is elected yet";
    if (reply->error == NULL)
        reply->error = (char *)"not the leader";
}

static void on_register(sl_jm *jm, const Sluice__RegisterTm *r, Sluice__Reply *reply,
                        sl_arena *a)
{
    char err[256];
    pthread_mutex_lock(&jm->mu);
    int rv = sl_tmreg_register(jm, r, err, sizeof(err));
    reply->leader_id = jm->calls.leader_id;
    pthread_mutex_unlock(&jm->mu);
    if (rv != SL_OK)
        reply_error(reply, a,
                    rv == SL_EINVAL ? SLUICE__STATUS__STATUS_INVALID
                                    : SLUICE__STATUS__STATUS_FAILED,
                    err);
}

/* Task metrics a heartbeat of tm may carry: what its slots can run
 * (rpc_bounds.h: a subtask of each chain per slot, two attempts). */
static size_t tm_metrics_max(const sl_tmreg_entry *tm)
{
    return (size_t)tm->slots * SL_RPC_MAX_CHAINS * SL_RPC_TM_ATTEMPTS;
}

/* A heartbeat keeps its taskmanager alive even when its metrics are
 * dropped: more of them than its slots can run means a broken or forged
 * sender, and walking them would hold jm->mu for nothing. */
static void on_heartbeat(sl_jm *jm, const Sluice__Heartbeat *h, const ProtobufCBinaryData *tok,
                         Sluice__Reply *reply)
{
    size_t max = 0;
    pthread_mutex_lock(&jm->mu);
    reply->known = sl_tmreg_heartbeat(jm, h->tm_id, tok);
    reply->leader_id = jm->calls.leader_id;
    if (reply->known)
        max = tm_metrics_max(sl_tmreg_find(jm, h->tm_id));
    for (size_t i = 0; h->n_tasks <= max && i < h->n_tasks; i++)
        if (h->tasks[i] != NULL)
            sl_jm_job_task_metrics(jm, h->tm_id, h->tasks[i]);
    pthread_mutex_unlock(&jm->mu);
    if (reply->known && h->n_tasks > max)
        sl_warn_limited("heartbeat of taskmanager %.64s: %zu task metrics, more than its slots "
                        "can run (%zu): metrics ignored",
                        h->tm_id, h->n_tasks, max);
}

/* A request a taskmanager sends after its registration: from it only if
 * it carries its session token. jm->mu held. */
static int from_tm(sl_jm *jm, const char *tm_id, const ProtobufCBinaryData *tok, const char *what)
{
    const sl_tmreg_entry *tm = sl_tmreg_find(jm, tm_id);
    if (sl_tmreg_token_ok(tm, tok))
        return 1;
    /* the id is the sender's: named only if it is one we know */
    sl_warn_limited("%s for %s%s without its session token: ignored", what,
                    tm != NULL ? "taskmanager " : "an unknown taskmanager", tm != NULL ? tm->id : "");
    return 0;
}

static void on_task_state(sl_jm *jm, const Sluice__TaskStateUpdate *u,
                          const ProtobufCBinaryData *tok)
{
    pthread_mutex_lock(&jm->mu);
    if (from_tm(jm, u->tm_id, tok, "a task state"))
        sl_jm_job_task_update(jm, u);
    pthread_mutex_unlock(&jm->mu);
}

static void on_submit(sl_jm *jm, const Sluice__SubmitJob *s, Sluice__Reply *reply, sl_arena *a)
{
    char job_id[SL_JOB_ID_LEN + 1];
    char err[2048];
    int rv = sl_jm_submit_job(jm, s, job_id, err, sizeof(err));
    if (rv == SL_EINVAL)
        reply_error(reply, a, SLUICE__STATUS__STATUS_INVALID, err);
    else if (rv != SL_OK)
        reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, err);
    else
        reply->job_id = adup(a, job_id);
}

static Sluice__JobSummary *job_summary(const sl_job *job, sl_arena *a)
{
    Sluice__JobSummary *s = sl_arena_alloc(a, sizeof(*s));
    if (s == NULL)
        return NULL;
    sluice__job_summary__init(s);
    s->job_id = adup(a, job->id);
    s->state = job->state;
    s->name = adup(a, job->spec->name);
    s->start_time_ms = job->start_ms;
    s->end_time_ms = job->end_ms;
    return s;
}

static int fill_jobs(sl_jm *jm, int all, Sluice__Reply *reply, sl_arena *a)
{
    size_t n = 0;
    for (sl_job *job = jm->jobs; job != NULL; job = job->next)
        n += all || !sl_jm_job_terminal(job->state);
    reply->jobs = sl_arena_alloc(a, (n ? n : 1) * sizeof(*reply->jobs));
    if (reply->jobs == NULL)
        return SL_ENOMEM;
    for (sl_job *job = jm->jobs; job != NULL; job = job->next) {
        if (!all && sl_jm_job_terminal(job->state))
            continue;
        Sluice__JobSummary *s = job_summary(job, a);
        if (s == NULL)
            return SL_ENOMEM;
        reply->jobs[reply->n_jobs++] = s;
    }
    return SL_OK;
}

static void on_list_jobs(sl_jm *jm, const Sluice__ListJobs *l, Sluice__Reply *reply,
                         sl_arena *a)
{
    pthread_mutex_lock(&jm->mu);
    int rv = fill_jobs(jm, l->all, reply, a);
    pthread_mutex_unlock(&jm->mu);
    if (rv != SL_OK) {
        reply->n_jobs = 0;
        reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, sl_strerror(rv));
    }
}

static Sluice__TaskInfo *task_info(const sl_job *job, int t, sl_arena *a)
{
    const sl_exec *task = &job->tasks[t];
    const sl_chain *c = &job->graph.chains[task->chain];
    Sluice__TaskInfo *ti = sl_arena_alloc(a, sizeof(*ti));
    if (ti == NULL)
        return NULL;
    sluice__task_info__init(ti);
    ti->task = (uint32_t)t;
    ti->chain = adup(a, c->name);
    ti->subtask = (uint32_t)task->subtask;
    ti->parallelism = (uint32_t)c->parallelism;
    ti->state = task->state;
    sl_jm_job_task_counters(job, t, &ti->records_in, &ti->records_out, &ti->late_records);
    if (job->tms != NULL) {
        const sl_attempt_tm *jt = &job->tms[job->slot_tm[task->subtask]];
        ti->tm_id = adup(a, jt->tm_id);
        ti->tm_addr = adup(a, jt->rpc_addr);
    }
    return ti;
}

static char *file_uri(sl_arena *a, const char *dir)
{
    if (dir == NULL || dir[0] == '\0')
        return (char *)"";
    return sl_arena_printf(a, "file://%s", dir);
}

static int fill_checkpoint_refs(const sl_job *job, Sluice__JobInfo *ji, sl_arena *a)
{
    char dir[PATH_MAX];
    const sl_coord *cc = &job->coord;
    ji->restored_from_id = cc->restored_from_id;
    ji->restored_from_path = file_uri(a, cc->restored_from_id ? cc->restored_from_dir : NULL);
    ji->latest_checkpoint_id = sl_retention_latest(cc, job->id, dir, sizeof(dir));
    ji->latest_checkpoint_path = file_uri(a, dir);
    ji->recovered_time_ms = job->recovered_ms;
    ji->recovered_from_id = job->recovered_from_id;
    ji->recovered_from_path = file_uri(a, job->recovered_from_dir);
    return ji->restored_from_path != NULL && ji->latest_checkpoint_path != NULL &&
                   ji->recovered_from_path != NULL
               ? SL_OK
               : SL_ENOMEM;
}

static int fill_job_info(const sl_job *job, Sluice__Reply *reply, sl_arena *a)
{
    Sluice__JobInfo *ji = sl_arena_alloc(a, sizeof(*ji));
    size_t n = (size_t)job->graph.ntasks;
    if (ji == NULL)
        return SL_ENOMEM;
    sluice__job_info__init(ji);
    ji->summary = job_summary(job, a);
    ji->tasks = sl_arena_alloc(a, n * sizeof(*ji->tasks));
    if (ji->summary == NULL || ji->tasks == NULL)
        return SL_ENOMEM;
    ji->parallelism = (uint32_t)job->spec->parallelism;
    ji->attempt = job->attempt;
    ji->restarts = job->restarts;
    ji->failure = adup(a, job->failure);
    if (fill_checkpoint_refs(job, ji, a) != SL_OK)
        return SL_ENOMEM;
    for (size_t t = 0; t < n; t++) {
        if ((ji->tasks[t] = task_info(job, (int)t, a)) == NULL)
            return SL_ENOMEM;
        ji->late_records += ji->tasks[t]->late_records;
        ji->n_tasks++;
    }
    reply->job = ji;
    return SL_OK;
}

static void on_job_info(sl_jm *jm, const Sluice__JobRef *r, Sluice__Reply *reply, sl_arena *a)
{
    char err[128];
    int rv = SL_ENOTFOUND;
    pthread_mutex_lock(&jm->mu);
    const sl_job *job = sl_jm_job_find(jm, r->job_id);
    if (job != NULL)
        rv = fill_job_info(job, reply, a);
    pthread_mutex_unlock(&jm->mu);
    if (rv == SL_OK)
        return;
    reply->job = NULL;
    if (rv == SL_ENOTFOUND)
        snprintf(err, sizeof(err), "job %.64s not found", r->job_id);
    else
        snprintf(err, sizeof(err), "%s", sl_strerror(rv));
    reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, err);
}

static void on_cancel(sl_jm *jm, const Sluice__JobRef *r, Sluice__Reply *reply, sl_arena *a)
{
    char err[128];
    pthread_mutex_lock(&jm->mu);
    sl_job *job = sl_jm_job_find(jm, r->job_id);
    if (job != NULL)
        sl_jm_job_cancel(jm, job);
    pthread_mutex_unlock(&jm->mu);
    if (job == NULL) {
        snprintf(err, sizeof(err), "job %.64s not found", r->job_id);
        reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, err);
    }
}

static void not_found(Sluice__Reply *reply, sl_arena *a, const char *job_id)
{
    char err[128];
    snprintf(err, sizeof(err), "job %.64s not found", job_id);
    reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, err);
}

static void on_ack_checkpoint(sl_jm *jm, const Sluice__AckCheckpoint *ack,
                              const ProtobufCBinaryData *tok)
{
    pthread_mutex_lock(&jm->mu);
    if (from_tm(jm, ack->tm_id, tok, "a checkpoint acknowledgement"))
        sl_jm_job_ack(jm, ack);
    pthread_mutex_unlock(&jm->mu);
}

static void on_checkpoint_stats(sl_jm *jm, const Sluice__JobRef *r, Sluice__Reply *reply,
                                sl_arena *a)
{
    int rv = SL_ENOTFOUND;
    sl_coord_view v;
    pthread_mutex_lock(&jm->mu);
    sl_job *job = sl_jm_job_find(jm, r->job_id);
    if (job != NULL) {
        sl_jobview_fill(jm, job, &v);
        rv = sl_ckstats_reply(&job->coord, &v, a, &reply->checkpoints);
    }
    pthread_mutex_unlock(&jm->mu);
    if (rv == SL_OK)
        return;
    reply->checkpoints = NULL;
    if (rv == SL_ENOTFOUND)
        not_found(reply, a, r->job_id);
    else
        reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, sl_strerror(rv));
}

static void on_trigger_checkpoint_now(sl_jm *jm, const Sluice__JobRef *r, Sluice__Reply *reply,
                                      sl_arena *a)
{
    char err[512];
    uint64_t id = 0;
    int rv = SL_ENOTFOUND;
    if (strlen(r->request_id) > SL_REQUEST_ID_MAX) {
        reply_error(reply, a, SLUICE__STATUS__STATUS_INVALID, "request id too long");
        return;
    }
    sl_coord_view v;
    pthread_mutex_lock(&jm->mu);
    sl_job *job = sl_jm_job_find(jm, r->job_id);
    if (job != NULL) {
        sl_jobview_fill(jm, job, &v);
        rv = sl_coord_trigger_now(&job->coord, &v, r->request_id, &id, err, sizeof(err));
        if (rv == SL_OK)
            sl_wake_kick(&jm->wake);
    }
    pthread_mutex_unlock(&jm->mu);
    if (rv == SL_OK)
        reply->checkpoint_id = id;
    else if (rv == SL_ENOTFOUND && job == NULL)
        not_found(reply, a, r->job_id);
    else
        reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, err);
}

static Sluice__TmInfo *tm_info(sl_jm *jm, const sl_tmreg_entry *tm, sl_arena *a)
{
    Sluice__TmInfo *ti = sl_arena_alloc(a, sizeof(*ti));
    if (ti == NULL)
        return NULL;
    sluice__tm_info__init(ti);
    ti->tm_id = adup(a, tm->id);
    ti->host = adup(a, tm->host);
    ti->rpc_port = tm->rpc_port;
    ti->data_port = tm->data_port;
    ti->pid = tm->pid;
    ti->slots_total = (uint32_t)tm->slots;
    ti->slots_free = tm->state == SL_TMREG_RUNNING ? (uint32_t)sl_sched_free_slots(jm, tm) : 0;
    ti->state = tm->state == SL_TMREG_RUNNING ? "RUNNING" : "LOST";
    return ti;
}

static int fill_tms(sl_jm *jm, Sluice__Reply *reply, sl_arena *a)
{
    reply->tms = sl_arena_alloc(a, (size_t)(jm->ntms ? jm->ntms : 1) * sizeof(*reply->tms));
    if (reply->tms == NULL)
        return SL_ENOMEM;
    for (const sl_tmreg_entry *tm = jm->tms; tm != NULL; tm = tm->next) {
        Sluice__TmInfo *ti = tm_info(jm, tm, a);
        if (ti == NULL)
            return SL_ENOMEM;
        reply->tms[reply->n_tms++] = ti;
    }
    return SL_OK;
}

static void on_list_tms(sl_jm *jm, Sluice__Reply *reply, sl_arena *a)
{
    pthread_mutex_lock(&jm->mu);
    int rv = fill_tms(jm, reply, a);
    pthread_mutex_unlock(&jm->mu);
    if (rv != SL_OK) {
        reply->n_tms = 0;
        reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, sl_strerror(rv));
    }
}

/* ---- savepoints (savepoint.c does the work) */

static void reply_savepoint(sl_job *job, uint64_t id, Sluice__Reply *reply, sl_arena *a)
{
    int rv = sl_savepoint_status(&job->coord, job->state, id, a, &reply->savepoint);
    if (rv == SL_ENOTFOUND)
        reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, "no such savepoint (any more)");
    else if (rv != SL_OK)
        reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, sl_strerror(rv));
}

static void on_trigger_savepoint(sl_jm *jm, const Sluice__TriggerSavepoint *t,
                                 Sluice__Reply *reply, sl_arena *a)
{
    char err[PATH_MAX + 256];
    uint64_t id = 0;
    sl_coord_view v;
    int rv = SL_ENOTFOUND;
    pthread_mutex_lock(&jm->mu);
    sl_job *job = sl_jm_job_find(jm, t->job_id);
    if (job != NULL) {
        sl_jobview_fill(jm, job, &v);
        rv = sl_savepoint_trigger(&job->coord, &v, t, &id, err, sizeof(err));
    }
    if (rv == SL_OK) {
        sl_wake_kick(&jm->wake);
        reply_savepoint(job, id, reply, a);
    }
    else
        reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED,
                    rv == SL_ENOTFOUND ? "no such job" : err);
    pthread_mutex_unlock(&jm->mu);
}

static void on_savepoint_status(sl_jm *jm, const Sluice__SavepointRef *r, Sluice__Reply *reply,
                                sl_arena *a)
{
    pthread_mutex_lock(&jm->mu);
    sl_job *job = sl_jm_job_find(jm, r->job_id);
    if (job == NULL)
        reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, "no such job");
    else
        reply_savepoint(job, r->savepoint_id, reply, a);
    pthread_mutex_unlock(&jm->mu);
}

static void on_dispose_savepoint(const Sluice__DisposeSavepoint *d, Sluice__Reply *reply,
                                 sl_arena *a)
{
    char err[PATH_MAX + 512];
    int rv = sl_savepoint_dispose(d->path, err, sizeof(err));
    if (rv != SL_OK)
        reply_error(reply, a, SLUICE__STATUS__STATUS_FAILED, err);
}

/* A oneof member that is a message may still be NULL in a hand-built frame. */
int sl_jm_rpc_body_present(const Sluice__Request *req)
{
    switch (req->body_case) {
    case SLUICE__REQUEST__BODY_REGISTER_TM: return req->register_tm != NULL;
    case SLUICE__REQUEST__BODY_HEARTBEAT: return req->heartbeat != NULL;
    case SLUICE__REQUEST__BODY_TASK_STATE: return req->task_state != NULL;
    case SLUICE__REQUEST__BODY_SUBMIT_JOB: return req->submit_job != NULL;
    case SLUICE__REQUEST__BODY_LIST_JOBS: return req->list_jobs != NULL;
    case SLUICE__REQUEST__BODY_JOB_INFO: return req->job_info != NULL;
    case SLUICE__REQUEST__BODY_CANCEL_JOB: return req->cancel_job != NULL;
    case SLUICE__REQUEST__BODY_LIST_TMS: return 1;
    case SLUICE__REQUEST__BODY_ACK_CHECKPOINT: return req->ack_checkpoint != NULL;
    case SLUICE__REQUEST__BODY_CHECKPOINT_STATS: return req->checkpoint_stats != NULL;
    case SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT_NOW: return req->trigger_checkpoint_now != NULL;
    case SLUICE__REQUEST__BODY_TRIGGER_SAVEPOINT: return req->trigger_savepoint != NULL;
    case SLUICE__REQUEST__BODY_SAVEPOINT_STATUS: return req->savepoint_status != NULL;
    case SLUICE__REQUEST__BODY_DISPOSE_SAVEPOINT: return req->dispose_savepoint != NULL;
    default: return 0;
    }
}

void sl_jm_rpc_handle(void *arg, const Sluice__Request *req, Sluice__Reply *reply,
                      sl_arena *arena)
{
    sl_jm *jm = arg;
    if (!sl_jm_rpc_body_present(req)) {
        reply_error(reply, arena, SLUICE__STATUS__STATUS_INVALID, "not a jobmanager request");
        return;
    }
    if (!leading(jm)) {
        reply_not_leader(jm, reply, arena);
        return;
    }
    switch (req->body_case) {
    case SLUICE__REQUEST__BODY_REGISTER_TM: on_register(jm, req->register_tm, reply, arena); break;
    case SLUICE__REQUEST__BODY_HEARTBEAT:
        on_heartbeat(jm, req->heartbeat, &req->session_token, reply);
        break;
    case SLUICE__REQUEST__BODY_TASK_STATE:
        on_task_state(jm, req->task_state, &req->session_token);
        break;
    case SLUICE__REQUEST__BODY_SUBMIT_JOB: on_submit(jm, req->submit_job, reply, arena); break;
    case SLUICE__REQUEST__BODY_LIST_JOBS: on_list_jobs(jm, req->list_jobs, reply, arena); break;
    case SLUICE__REQUEST__BODY_JOB_INFO: on_job_info(jm, req->job_info, reply, arena); break;
    case SLUICE__REQUEST__BODY_CANCEL_JOB: on_cancel(jm, req->cancel_job, reply, arena); break;
    case SLUICE__REQUEST__BODY_LIST_TMS: on_list_tms(jm, reply, arena); break;
    case SLUICE__REQUEST__BODY_ACK_CHECKPOINT:
        on_ack_checkpoint(jm, req->ack_checkpoint, &req->session_token);
        break;
    case SLUICE__REQUEST__BODY_CHECKPOINT_STATS:
        on_checkpoint_stats(jm, req->checkpoint_stats, reply, arena);
        break;
    case SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT_NOW:
        on_trigger_checkpoint_now(jm, req->trigger_checkpoint_now, reply, arena);
        break;
    case SLUICE__REQUEST__BODY_TRIGGER_SAVEPOINT:
        on_trigger_savepoint(jm, req->trigger_savepoint, reply, arena);
        break;
    case SLUICE__REQUEST__BODY_SAVEPOINT_STATUS:
        on_savepoint_status(jm, req->savepoint_status, reply, arena);
        break;
    case SLUICE__REQUEST__BODY_DISPOSE_SAVEPOINT:
        on_dispose_savepoint(req->dispose_savepoint, reply, arena);
        break;
    default: break;
    }
}
