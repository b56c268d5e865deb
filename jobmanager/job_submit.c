/* Submission: parsing and checking a submitted job (its graph, its
 * effective configuration, its udf libraries, the savepoint it starts
 * from), and registering it in the job table, idempotently by request id
 * (a resent submit returns the job it created the first time).
 *
 * Place: below job.c (which frees jobs with sl_jm_submit_free) and
 * rpc_handlers.c; calls the coordinator's setup, restart_strategy.c,
 * udf_check.c, savepoint.c. Parsing runs with no lock held; the table is
 * changed with jm->mu held. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "common/checkpoint_store.h"
#include "jobmanager/checkpoint_retention.h"
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
    free(job->recovered_from_dir);
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

/* id: the JobID (a recovered job's), NULL for a new random one. */
static int job_new(sl_jm *jm, const Sluice__SubmitJob *s, const char *id, sl_job **out,
                   char *err, size_t errlen)
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
    if ((rv = job_tables(job)) != SL_OK)
        goto fail;
    if (id != NULL)
        snprintf(job->id, sizeof(job->id), "%s", id);
    else if ((rv = sl_random_hex(job->id, 16)) != SL_OK)
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

/* ---- high availability */

/* Stores the submission (ha.h) before the job is accepted; no lock held. */
static int persist(sl_jm *jm, const Sluice__SubmitJob *s, const char *id, uint64_t *gen,
                   char *err, size_t errlen)
{
    size_t len = sluice__submit_job__get_packed_size(s);
    uint8_t *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL)
        return SL_ENOMEM;
    sluice__submit_job__pack(s, buf);
    char why[1024];
    int rv = sl_jmha_persist_job(jm->ha, id, buf, len, gen, why, sizeof(why));
    free(buf);
    if (rv != SL_OK)
        snprintf(err, errlen, "cannot store the job for high availability: %s", why);
    return rv;
}

/* The highest checkpoint id any leader may have handed out for the job:
 * the counter, the pointer and every chk-<n> folder (a trigger makes the
 * folder before it sends). No lock held. */
static uint64_t highest_id(const sl_job *job, const sl_hastore_job *rec)
{
    uint64_t hi = rec->counter > rec->checkpoint_id ? rec->counter : rec->checkpoint_id;
    uint64_t *ids = NULL;
    size_t n = 0;
    if (job->coord.root != NULL && sl_store_list_all(job->coord.root, job->id, &ids, &n) == SL_OK)
        for (size_t i = 0; i < n; i++)
            hi = ids[i] > hi ? ids[i] : hi;
    free(ids);
    return hi > job->coord.last_id ? hi : job->coord.last_id;
}

/* What a recovered job keeps of its past: ids go on upward, the checkpoint
 * it restores is retained (removed by retention once subsumed), and its
 * first attempt here is 2 (the file sink reconciles the old one's files). */
static int recovered_setup(sl_job *job, const sl_hastore_job *rec, uint64_t hi)
{
    job->coord.last_id = hi;
    job->attempt = 1;
    job->recovered_ms = sl_wall_ms();
    job->recovered_from_id = rec->checkpoint_id;
    if (rec->checkpoint_id == 0)
        return SL_OK;
    job->recovered_from_dir = strdup(rec->checkpoint_dir);
    if (job->recovered_from_dir == NULL)
        return SL_ENOMEM;
    return sl_retention_add(&job->coord, rec->checkpoint_id);
}

/* Builds the job with jm->mu released; SL_OK with *out set. */
static int recover_build(sl_jm *jm, const sl_jmha_recovered *r, sl_job **out, char *err,
                         size_t errlen)
{
    Sluice__SubmitJob *s = sluice__submit_job__unpack(NULL, r->len, r->submission);
    if (s == NULL) {
        snprintf(err, errlen, "its stored submission does not unpack");
        return SL_EINVAL;
    }
    Sluice__SubmitJob copy = *s;
    if (r->rec.checkpoint_id != 0)
        copy.restore_path = (char *)r->rec.checkpoint_dir;
    err[0] = '\0';
    int rv = job_new(jm, &copy, r->rec.job_id, out, err, errlen);
    if (rv == SL_OK && (rv = recovered_setup(*out, &r->rec, highest_id(*out, &r->rec))) != SL_OK) {
        snprintf(err, errlen, "%s", sl_strerror(rv));
        sl_jm_submit_free(*out);
        *out = NULL;
    }
    sluice__submit_job__free_unpacked(s, NULL);
    return rv;
}

static int id_known(sl_jm *jm, const char *id)
{
    for (sl_job *job = jm->jobs; job != NULL; job = job->next)
        if (strcmp(job->id, id) == 0)
            return 1;
    return 0;
}

void sl_jm_submit_recover(sl_jm *jm, const sl_jmha_recovered *r)
{
    char err[2048];
    sl_job *job = NULL;
    pthread_mutex_unlock(&jm->mu);
    int rv = recover_build(jm, r, &job, err, sizeof(err));
    pthread_mutex_lock(&jm->mu);
    if (rv == SL_OK && (id_known(jm, job->id) || active_jobs(jm) >= SL_JM_MAX_ACTIVE_JOBS)) {
        snprintf(err, sizeof(err), "%s",
                 id_known(jm, job->id) ? "a job with its id is known already" : "too many jobs");
        rv = SL_EEXIST;
    }
    if (rv != SL_OK) {
        sl_error("high availability: cannot recover job %s: %s (its records stay)",
                 r->rec.job_id, err);
        sl_jm_submit_free(job);
        return;
    }
    job_append(jm, job);
    if (r->rec.checkpoint_id != 0)
        sl_info("job %s (%s) recovered from checkpoint %" PRIu64 " (%s); checkpoint ids go on "
                "after %" PRIu64, job->id, job_name(job), r->rec.checkpoint_id,
                r->rec.checkpoint_dir, job->coord.last_id);
    else
        sl_info("job %s (%s) recovered %s; checkpoint ids go on after %" PRIu64, job->id,
                job_name(job), job->coord.restore_id != 0 ? "from its initial savepoint"
                                                          : "without state (no checkpoint completed)",
                job->coord.last_id);
    sl_wake_kick(&jm->wake);
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
    if ((rv = job_new(jm, s, NULL, &job, err, errlen)) != SL_OK)
        goto cleanup;
    uint64_t gen = 0;
    if (jm->ha != NULL && (rv = persist(jm, s, job->id, &gen, err, errlen)) != SL_OK)
        goto cleanup;
    pthread_mutex_lock(&jm->mu);
    if (jm->ha != NULL && (!jm->leading || jm->lead_gen != gen)) {
        snprintf(err, errlen, "this jobmanager is no longer the leader");
        rv = SL_ECLOSED;
    } else {
        rv = job_register(jm, s, job, job_id, err, errlen);
        if (rv != SL_OK && jm->ha != NULL) /* stored for nothing */
            sl_jmha_job_ended(jm->ha, job->id);
    }
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
