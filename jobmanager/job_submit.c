/* Submission: parsing and checking a submitted job (its graph, its
 * effective configuration, its udf libraries, the savepoint it starts
 * from), and registering it in the job table, idempotently by request id
 * (a resent submit returns the job it created the first time).
 *
 * Place: below job.c (which frees jobs with sl_jm_submit_free) and
 * rpc_handlers.c; calls the coordinator's setup, restart_strategy.c,
 * udf_check.c, savepoint.c. Parsing runs with no lock held; the table is
 * changed with jm->mu held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/jobmanager.h"
#include "jobmanager/savepoint.h"

static const char *job_name(const sl_job *job)
{
    return job->spec != NULL && job->spec->name != NULL ? job->spec->name : "";
}

void sl_jm_submit_free(sl_job *job)
{
    if (job == NULL)
        return;
    sl_coord_free(&job->coord);
    sl_udfcheck_free(&job->udf);
    free(job->view_tasks);
    free(job->view_tms);
    sl_job_free(job->spec);
    sl_config_free(job->cfg);
    free(job->cfg_text);
    free(job->file_name);
    free(job->yaml);
    free(job->failure);
    free(job->slot_tm);
    free(job->tms);
    free(job->tasks);
    free(job);
}

/* ---- submission (no lock held while parsing) */

static int job_parse(sl_jm *jm, sl_job *job, uint32_t par, char *err, size_t errlen)
{
    if (par > SL_MAX_PARALLELISM) {
        snprintf(err, errlen, "parallelism %u is out of range (1..%d)", par,
                 SL_MAX_PARALLELISM);
        return SL_EINVAL;
    }
    size_t len = strlen(job->yaml);
    int rv = sl_job_parse(job->file_name, job->yaml, len, (int)par, &job->spec, err, errlen);
    if (rv == SL_OK && par == 0 && !job->spec->parallelism_in_file && jm->default_par > 0) {
        sl_job_free(job->spec);
        job->spec = NULL;
        par = (uint32_t)jm->default_par;
        rv = sl_job_parse(job->file_name, job->yaml, len, (int)par, &job->spec, err, errlen);
    }
    job->par_override = par;
    return rv;
}

static int job_build_graph(sl_job *job, char *err, size_t errlen)
{
    int rv = sl_job_graph_build(job->spec, &job->graph);
    if (rv == SL_OK && (job->graph.ntasks <= 0 || job->graph.slots_needed <= 0))
        rv = SL_EINVAL;
    if (rv != SL_OK) {
        snprintf(err, errlen, "%s: cannot build the job graph: %s", job->file_name,
                 sl_strerror(rv));
        return SL_EINVAL;
    }
    return SL_OK;
}

static int job_config(sl_jm *jm, sl_job *job, char *err, size_t errlen)
{
    int rv = sl_config_dup(jm->cfg, &job->cfg);
    if (rv != SL_OK) {
        snprintf(err, errlen, "cannot copy the configuration: %s", sl_strerror(rv));
        return rv;
    }
    for (int i = 0; i < job->spec->nconfig; i++) {
        const sl_param *p = &job->spec->config[i];
        rv = sl_config_set_at(job->cfg, p->key, p->value, job->file_name, p->line, p->col, err,
                              errlen);
        if (rv != SL_OK)
            return SL_EINVAL;
    }
    rv = sl_config_serialize(job->cfg, &job->cfg_text);
    if (rv != SL_OK) {
        snprintf(err, errlen, "cannot serialize the job configuration: %s", sl_strerror(rv));
        return rv;
    }
    if ((rv = sl_coord_init(&job->coord, job->cfg, err, errlen)) != SL_OK)
        return rv;
    rv = sl_restart_strategy_init(&job->restart, job->cfg);
    if (rv != SL_OK)
        snprintf(err, errlen, "cannot read the restart strategy: %s", sl_strerror(rv));
    return rv;
}

static int job_tables(sl_job *job)
{
    const sl_job_graph *g = &job->graph;
    job->tasks = calloc((size_t)g->ntasks, sizeof(*job->tasks));
    job->slot_tm = calloc((size_t)g->slots_needed, sizeof(*job->slot_tm));
    job->view_tasks = calloc((size_t)g->ntasks, sizeof(*job->view_tasks));
    job->view_tms = calloc((size_t)g->slots_needed, sizeof(*job->view_tms));
    if (job->tasks == NULL || job->slot_tm == NULL || job->view_tasks == NULL ||
        job->view_tms == NULL)
        return SL_ENOMEM;
    for (int t = 0; t < g->ntasks; t++) {
        int rv = sl_job_graph_task(g, t, &job->tasks[t].chain, &job->tasks[t].subtask);
        if (rv != SL_OK)
            return rv;
        job->tasks[t].state = SLUICE__TASK_STATE__TASK_CREATED;
    }
    return SL_OK;
}

static int job_new(sl_jm *jm, const Sluice__SubmitJob *s, sl_job **out, char *err,
                   size_t errlen)
{
    sl_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return SL_ENOMEM;
    int rv = SL_ENOMEM;
    job->file_name = strdup(s->file_name[0] != '\0' ? s->file_name : "job.yaml");
    job->yaml = strdup(s->yaml);
    if (job->file_name == NULL || job->yaml == NULL)
        goto fail;
    if ((rv = job_parse(jm, job, s->parallelism, err, errlen)) != SL_OK)
        goto fail;
    if ((rv = sl_udfcheck_check(job->spec, job->file_name, s, err, errlen)) != SL_OK ||
        (rv = sl_udfcheck_copy(&job->udf, s)) != SL_OK)
        goto fail;
    if ((rv = job_build_graph(job, err, errlen)) != SL_OK)
        goto fail;
    if ((rv = job_config(jm, job, err, errlen)) != SL_OK)
        goto fail;
    if ((rv = job_tables(job)) != SL_OK || (rv = sl_random_hex(job->id, 16)) != SL_OK)
        goto fail;
    if (s->restore_path[0] != '\0' &&
        (rv = sl_savepoint_restore_check(&job->coord, job->spec, job->id, job->file_name,
                                         s->restore_path, s->allow_non_restored, err, errlen)) !=
            SL_OK)
        goto fail;
    job->state = SLUICE__JOB_STATE__JOB_CREATED;
    job->start_ms = sl_wall_ms();
    job->wait_since_ms = sl_now_ms();
    *out = job;
    return SL_OK;
fail:
    if (rv != SL_EINVAL && err[0] == '\0')
        snprintf(err, errlen, "cannot create the job: %s", sl_strerror(rv));
    sl_jm_submit_free(job);
    return rv;
}

static const char *request_lookup(sl_jm *jm, const char *req)
{
    if (req[0] == '\0')
        return NULL;
    for (int i = 0; i < SL_JM_REQ_IDS; i++)
        if (jm->reqs[i].req[0] != '\0' && strcmp(jm->reqs[i].req, req) == 0)
            return jm->reqs[i].job;
    return NULL;
}

static void request_remember(sl_jm *jm, const char *req, const char *job_id)
{
    if (req[0] == '\0')
        return;
    sl_jm_job_req *e = &jm->reqs[jm->req_next];
    snprintf(e->req, sizeof(e->req), "%s", req);
    snprintf(e->job, sizeof(e->job), "%s", job_id);
    jm->req_next = (jm->req_next + 1) % SL_JM_REQ_IDS;
}

static int active_jobs(sl_jm *jm)
{
    int n = 0;
    for (sl_job *job = jm->jobs; job != NULL; job = job->next)
        n += !sl_jm_job_terminal(job->state);
    return n;
}

static void job_append(sl_jm *jm, sl_job *job)
{
    sl_job **tail = &jm->jobs;
    while (*tail != NULL)
        tail = &(*tail)->next;
    job->seq = ++jm->job_seq;
    *tail = job;
}

/* Adds job to the table unless its request id is known by now. */
static int job_register(sl_jm *jm, const Sluice__SubmitJob *s, sl_job *job, char *job_id,
                        char *err, size_t errlen)
{
    const char *known = request_lookup(jm, s->request_id);
    if (known != NULL) {
        snprintf(job_id, SL_JOB_ID_LEN + 1, "%s", known);
        return SL_EEXIST;
    }
    if (active_jobs(jm) >= SL_JM_MAX_ACTIVE_JOBS) {
        snprintf(err, errlen, "too many jobs (%d) are not finished yet", SL_JM_MAX_ACTIVE_JOBS);
        return SL_ENOSPC;
    }
    job_append(jm, job);
    request_remember(jm, s->request_id, job->id);
    snprintf(job_id, SL_JOB_ID_LEN + 1, "%s", job->id);
    sl_info("job %s (%s) submitted from %s: %d tasks, %d slots, parallelism %d", job->id,
            job_name(job), job->file_name, job->graph.ntasks, job->graph.slots_needed,
            job->spec->parallelism);
    sl_wake_kick(&jm->wake);
    return SL_OK;
}

int sl_jm_submit_job(sl_jm *jm, const Sluice__SubmitJob *s, char *job_id, char *err,
                      size_t errlen)
{
    sl_job *job = NULL;
    const char *known;
    int rv = SL_OK;
    err[0] = '\0';
    if (strlen(s->request_id) > SL_REQUEST_ID_MAX) {
        snprintf(err, errlen, "request id longer than %d characters", SL_REQUEST_ID_MAX);
        return SL_EINVAL;
    }
    pthread_mutex_lock(&jm->mu);
    known = request_lookup(jm, s->request_id);
    if (known != NULL)
        snprintf(job_id, SL_JOB_ID_LEN + 1, "%s", known);
    pthread_mutex_unlock(&jm->mu);
    if (known != NULL)
        return SL_OK;
    if ((rv = job_new(jm, s, &job, err, errlen)) != SL_OK)
        goto cleanup;
    pthread_mutex_lock(&jm->mu);
    rv = job_register(jm, s, job, job_id, err, errlen);
    pthread_mutex_unlock(&jm->mu);
    if (rv == SL_OK || rv == SL_EEXIST) {
        if (rv == SL_OK)
            job = NULL; /* the table owns it */
        rv = SL_OK;
    }
cleanup:
    sl_jm_submit_free(job);
    return rv;
}
