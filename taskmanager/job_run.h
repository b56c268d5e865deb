/* Job runs: one job attempt deployed on this taskmanager (see task.h for
 * the struct). Built from a DeployTasks request: the job file is parsed
 * again here, the graph computed, every local channel end registered and
 * one thread per local task started (waiting for start). */
#ifndef SL_JOB_RUN_H
#define SL_JOB_RUN_H

#include "proto/sluice.pb-c.h"
#include "taskmanager/task.h"

typedef struct sl_job_run_env {
    const char *tm_data_url;     /* this taskmanager's tcp data URL */
    const char *tm_inproc_url;   /* dialled instead of tm_data_url */
    size_t max_frame;
    struct sl_uploader *uploader; /* writes snapshots and acks them */
    const char *tm_id;
    const struct sl_kcache_budget *kcache_budget; /* the taskmanager's, borrowed */
} sl_job_run_env;

/* Builds and starts the threads of a job run. On error returns SL_EINVAL
 * and writes the reason into err. *out is owned by the caller and must be
 * released with sl_job_run_free after every task thread ended. */
int sl_job_run_create(const Sluice__DeployTasks *d, const sl_job_run_env *env,
                      sl_job_run **out, char *err, size_t errlen);
void sl_job_run_start(sl_job_run *r);
void sl_job_run_cancel(sl_job_run *r);
/* 1 once every task reached a final state. */
int sl_job_run_done(const sl_job_run *r);
/* Joins the threads and frees everything. */
void sl_job_run_free(sl_job_run *r);

/* Queues a frame addressed to this run (ownership passes). */
void sl_job_run_deliver(sl_job_run *r, const sl_frame_hdr *h, nng_msg *msg);

#endif
