/* The operator context: all that an operator sees of the task that runs
 * it (Flink's RuntimeContext plus its Output). Operators never see the
 * task, its job run or the task manager.
 *
 * Place: the task fills one in for its chain (taskmanager/job_run.c, where
 * it creates the operators) and sl_op_create copies it into every operator
 * (op->ctx); operators read the fields and use them through the sl_op_*
 * functions of operator.h. This header includes nothing of the task.
 *
 * Ownership and lifetime: the context borrows everything it points to
 * (strings, the job spec, the failure buffer, the counters, the cancel
 * flags, the task interface's arg) from the task and its job run, which
 * outlive the task's operators. Only the task's own thread uses it, except
 * the cancel flags, which other threads set.
 *
 * Deliberate exception to "a module calls only modules below it": the task
 * interface (sl_op_task_if) is a set of function pointers the task fills
 * in, through which an operator calls back up into its task. It is the
 * output collector of the chain's tail (emit), and what a source needs of
 * its task between records (watermark, flush, mailbox poll). Operators are
 * below the task and cannot name it; as in Flink (Output, the mailbox),
 * the task hands these in. Everything else is plain data. */
#ifndef SL_OP_CONTEXT_H
#define SL_OP_CONTEXT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jobfile.h"
#include "common/row.h"

/* The task's side of the context (see the exception above). arg is the
 * task; every function runs on the task's thread and returns a status. */
typedef struct sl_op_task_if {
    void *arg;
    /* The chain's tail: a row to the task's output channels. */
    int (*emit)(void *arg, const sl_row *row);
    /* A source's watermark: to the operators after the head, then the
     * output channels (ignored unless it advances). */
    int (*watermark)(void *arg, int64_t wm);
    /* Flushes partly filled output buffers (a source before it waits). */
    int (*flush)(void *arg);
    /* The task's mailbox, between two records of a source: checkpoints
     * are taken in here; SL_ECLOSED: stopped with a savepoint, end the
     * source; SL_ECANCELED: cancelled while waiting. Cheap when empty. */
    int (*poll)(void *arg);
} sl_op_task_if;

/* What keyed operators need to open their state (keyed_op.c). The cache
 * budget (state.backend.leveldb.cache-size) is the taskmanager's object,
 * borrowed. */
typedef struct sl_op_keyed_env {
    const char *backend;     /* state.backend.type: "hashmap" or "leveldb" */
    const char *local_roots; /* taskmanager.state.local.root-dirs, "" = default */
    const struct sl_kcache_budget *cache_budget; /* leveldb caches' (NULL: default) */
} sl_op_keyed_env;

typedef struct sl_op_ctx {
    /* identity of the subtask */
    const char *job_id;
    uint32_t attempt;        /* job attempt, 1 = the first */
    const char *task_name;   /* the chain's name, for log lines */
    int subtask, parallelism, max_parallelism;
    int kg_start, kg_end;    /* the subtask's key groups (inclusive) */
    int restoring;           /* the attempt starts from a checkpoint or savepoint */
    /* The job, read-only. An operator reads its own stage through
     * op->stage and its input schemas through op->in; only a source's
     * default watermark looks at the stages downstream (watermark.c). */
    const sl_job_spec *spec;
    /* Key of the job run's UDF libraries (sl_udf_libs_handle, op_udf.c). */
    const void *udf_libs;
    sl_op_keyed_env keyed;
    sl_op_task_if task;
    /* Recorded for the task, which reads them: the failure cause (first
     * one wins, sl_op_fail) and the records dropped as late. */
    char *failure;
    size_t failure_cap;
    uint64_t *late_records;
    /* set by other threads: the task's and its job run's cancel */
    const atomic_int *cancel, *run_cancel;
} sl_op_ctx;

#endif
