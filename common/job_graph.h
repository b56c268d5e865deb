/* Job graph: a parsed job's stages grouped into operator chains, tasks and
 * data edges. Deterministic from the sl_job_spec, so the jobmanager and
 * every taskmanager compute the same chains, task indices and channels.
 *
 *   chain   a maximal run of stages joined by forward edges (stage.chained);
 *           runs as one task per subtask, operators called directly.
 *   task    (chain, subtask); global index = chain.task_base + subtask.
 *   edge    from the tail stage of one chain to the head stage of another;
 *           FORWARD (same parallelism, no key-by: subtask i -> i), HASH
 *           (key-by: key group -> subtask) or REBALANCE (round robin).
 *   channel (edge, producer subtask, consumer subtask).
 *
 * Slot sharing: slot i holds subtask i of every chain, so a job needs
 * max(chain parallelism) slots. */
#ifndef SL_JOB_GRAPH_H
#define SL_JOB_GRAPH_H

#include "common/jobfile.h"

enum sl_partitioning { SL_PART_FORWARD = 1, SL_PART_HASH = 2, SL_PART_REBALANCE = 3 };

typedef struct sl_chain {
    int nstages;
    int stages[SL_MAX_STAGES]; /* stage indices, head first */
    int parallelism;
    int task_base;             /* global index of subtask 0 */
    char name[256];            /* stage names joined by '+' */
} sl_chain;

typedef struct sl_edge {
    int prod_stage, cons_stage;  /* tail of the producing chain, head of the consuming one */
    int prod_chain, cons_chain;
    int input_no;                /* which input of cons_stage (0 or 1) */
    int prod_par, cons_par;
    enum sl_partitioning part;
} sl_edge;

typedef struct sl_job_graph {
    const sl_job_spec *spec;     /* borrowed: must outlive the graph */
    int nchains;
    sl_chain chains[SL_MAX_STAGES];
    int nedges;
    sl_edge edges[SL_MAX_STAGES * 2];
    int ntasks;
    int slots_needed;
    int stage_chain[SL_MAX_STAGES]; /* chain index of every stage */
} sl_job_graph;

/* Builds the graph of spec into *g (caller-provided storage). */
int sl_job_graph_build(const sl_job_spec *spec, sl_job_graph *g);

/* Chain and subtask of a global task index; SL_EINVAL if out of range. */
int sl_job_graph_task(const sl_job_graph *g, int task, int *chain, int *subtask);

/* 1 if the channel (edge, src, dst) exists (FORWARD edges only link i->i). */
int sl_edge_has_channel(const sl_edge *e, int src, int dst);

#endif
