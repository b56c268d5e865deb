/* The coordinator's view of a job (checkpoint_view.h, jobmanager.h's
 * job_view.c section): copies what the coordinator may see of the current
 * attempt into arrays kept in the job, and gives the hooks through which it
 * starts trigger/notify calls (tm_send.c) and releases jm->mu around file
 * system work (relock refills the view: handlers may have changed the job
 * meanwhile). jm->mu held; the loop thread or a handler. */
#include <string.h>

#include "common/status.h"
#include "jobmanager/jobmanager.h"

static int hook_send(void *arg, const sl_tmcall_key *key, const Sluice__Request *req)
{
    return sl_tmsend_call(((sl_jobview_arg *)arg)->jm, key, req);
}

static int hook_room(void *arg, const char *tm_id)
{
    return sl_tmsend_room(((sl_jobview_arg *)arg)->jm, tm_id);
}

static void hook_unlock(void *arg)
{
    pthread_mutex_unlock(&((sl_jobview_arg *)arg)->jm->mu);
}

static void refill(sl_jm *jm, sl_job *job, sl_coord_view *v);

static void hook_relock(void *arg, sl_coord_view *v)
{
    sl_jobview_arg *va = arg;
    pthread_mutex_lock(&va->jm->mu);
    refill(va->jm, va->job, v);
}

static const sl_coord_hooks hooks = {
    .send = hook_send,
    .room = hook_room,
    .unlock = hook_unlock,
    .relock = hook_relock,
};

static int is_source(const sl_job *job, const sl_exec *e)
{
    const sl_chain *ch = &job->graph.chains[e->chain];
    return job->spec->stages[ch->stages[0]].kind == SL_STAGE_SOURCE;
}

static void fill_tasks(sl_job *job)
{
    for (int t = 0; t < job->graph.ntasks; t++) {
        const sl_exec *e = &job->tasks[t];
        sl_coord_exec *x = &job->view_tasks[t];
        const sl_chain *ch = &job->graph.chains[e->chain];
        x->tm = job->tms != NULL ? job->slot_tm[e->subtask] : -1;
        x->source = is_source(job, e);
        x->running = e->state == SLUICE__TASK_STATE__TASK_RUNNING;
        x->input_ended = e->input_ended;
        x->chain = ch->name;
        x->subtask = e->subtask;
        x->parallelism = ch->parallelism;
    }
}

static void fill_tms(sl_jm *jm, sl_job *job)
{
    for (int i = 0; i < job->ntms; i++) {
        const sl_attempt_tm *jt = &job->tms[i];
        sl_coord_tm *x = &job->view_tms[i];
        const sl_tmreg_entry *tm = sl_tmreg_find(jm, jt->tm_id);
        x->tm_id = jt->tm_id;
        x->addr = jt->rpc_addr;
        x->deployed = jt->deployed;
        x->stalled = tm != NULL && sl_tmreg_stalled(tm);
    }
}

static void refill(sl_jm *jm, sl_job *job, sl_coord_view *v)
{
    fill_tasks(job);
    fill_tms(jm, job);
    v->state = job->state;
    v->active = !sl_jm_job_terminal(job->state) && job->holds_slots;
    v->attempt = job->attempt;
    v->ntasks = job->graph.ntasks;
    v->tasks = job->view_tasks;
    v->ntms = job->tms != NULL ? job->ntms : 0;
    v->tms = job->view_tms;
}

void sl_jobview_fill(sl_jm *jm, sl_job *job, sl_coord_view *v)
{
    memset(v, 0, sizeof(*v));
    v->job_id = job->id;
    v->job_name = job->spec != NULL && job->spec->name != NULL ? job->spec->name : "";
    v->max_parallelism = job->spec != NULL ? job->spec->max_parallelism : 0;
    v->stopping = &jm->stopping;
    v->hooks = &hooks;
    v->arg = &job->view_arg;
    v->ha = jm->ha;
    job->view_arg.jm = jm;
    job->view_arg.job = job;
    refill(jm, job, v);
}
