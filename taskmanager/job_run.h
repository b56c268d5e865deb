/* Job runs: one job attempt deployed on this taskmanager: its tasks,
 * channels, peers, checkpoint settings and the udf libraries it loaded.
 * Built from a DeployTasks request: the job file is parsed again here, the
 * graph computed, every local channel end registered and one thread per
 * local task started (waiting for start).
 *
 * Place: the taskmanager (task_manager.c) creates, starts, cancels and
 * frees runs and delivers frames to them; a run creates its tasks
 * (task.h), their operators and checkpointers. Tasks read their run's
 * settings (spec, cancel, start) but call none of its functions.
 *
 * Lifetime: created on deploy (channels registered, threads waiting),
 * started on start, `cancel` set on cancel. The taskmanager frees the run
 * once every task has ended and been reported; the run owns everything it
 * points to (the uploader is the taskmanager's). */
#ifndef SL_JOB_RUN_H
#define SL_JOB_RUN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/job_graph.h"
#include "common/jobfile.h"
#include "common/limits.h"
#include "proto/sluice.pb-c.h"
#include "taskmanager/network/barrier.h"
#include "taskmanager/network/frame.h"
#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/output.h"
#include "taskmanager/network/peer.h"
#include "taskmanager/udf_libs.h"

struct sl_task;
struct sl_uploader;
struct sl_kcache_budget;

#define SL_JOB_RUN_MAX_PEERS 64
#define SL_JOB_RUN_PATH_MAX 3072

typedef struct sl_job_run sl_job_run;

struct sl_job_run {
    char job_id[SL_JOB_ID_LEN + 1];
    uint32_t attempt;
    uint8_t data_token[SL_FRAME_TOKEN_LEN]; /* DeployTasks.data_token: in every frame */
    sl_job_spec *spec;
    sl_job_graph graph;
    sl_config *cfg;
    int npeers;
    sl_peer *peers[SL_JOB_RUN_MAX_PEERS];
    int ntasks;
    struct sl_task **tasks;
    /* channels by edge, indexed src * cons_par + dst (local ends only) */
    sl_in_channel **in[SL_MAX_STAGES * 2];
    sl_out_channel **out[SL_MAX_STAGES * 2];
    pthread_mutex_t start_mu;
    pthread_cond_t start_cv;
    int started;
    int checkpointing;          /* periodic checkpoints on: sources end with a final one */
    int exactly_once;           /* execution.checkpointing.mode */
    char chk_root[SL_JOB_RUN_PATH_MAX]; /* <state.checkpoints.dir>/<job id>, "" if unset */
    Sluice__CheckpointMetadata *restore_md; /* checkpoint to restore, NULL = fresh */
    char restore_dir[SL_JOB_RUN_PATH_MAX];
    struct sl_uploader *uploader;
    const struct sl_kcache_budget *kcache_budget; /* leveldb caches' budget (the taskmanager's) */
    sl_udf_libs *udf_libs;      /* the job's udf libraries, NULL = none (owned) */
    char tm_id[17];
    atomic_int cancel;
    int reap;                   /* ended and reported: free it */
    atomic_int orphaned;        /* cancelled when the jobmanager forgot this taskmanager:
                                   nobody to report to, freed once ended */
    sl_job_run *next;
};

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

/* Queues a frame addressed to this run (ownership passes). A frame, DATA
 * or CREDIT, without the run's data token is dropped with a rate-limited
 * warning. */
void sl_job_run_deliver(sl_job_run *r, const sl_frame_hdr *h, nng_msg *msg);

#endif
