#include "common/job_graph.h"

#include <stdio.h>
#include <string.h>

#include "common/status.h"

static int chain_append_name(sl_chain *c, const char *name)
{
    size_t used = strlen(c->name);
    int n = snprintf(c->name + used, sizeof(c->name) - used, "%s%s", used ? "+" : "", name);
    return (n < 0 || (size_t)n >= sizeof(c->name) - used) ? SL_ENOSPC : SL_OK;
}

static int build_chains(const sl_job_spec *spec, sl_job_graph *g)
{
    for (int s = 0; s < spec->nstages; s++) {
        const sl_stage *st = &spec->stages[s];
        sl_chain *c;
        if (st->chained && st->ninputs == 1) {
            c = &g->chains[g->stage_chain[st->inputs[0]]];
        } else {
            c = &g->chains[g->nchains];
            memset(c, 0, sizeof(*c));
            c->parallelism = st->parallelism;
            g->nchains++;
        }
        g->stage_chain[s] = (int)(c - g->chains);
        c->stages[c->nstages++] = s;
        if (chain_append_name(c, st->name) != SL_OK)
            return SL_ENOSPC;
    }
    return SL_OK;
}

static enum sl_partitioning edge_partitioning(const sl_stage *cons, int prod_par)
{
    if (cons->nkeys > 0)
        return SL_PART_HASH;
    return cons->parallelism == prod_par ? SL_PART_FORWARD : SL_PART_REBALANCE;
}

static void build_edges(const sl_job_spec *spec, sl_job_graph *g)
{
    for (int ci = 0; ci < g->nchains; ci++) {
        const sl_chain *c = &g->chains[ci];
        const sl_stage *head = &spec->stages[c->stages[0]];
        if (head->chained)
            continue;
        for (int i = 0; i < head->ninputs; i++) {
            sl_edge *e = &g->edges[g->nedges++];
            e->prod_stage = head->inputs[i];
            e->cons_stage = c->stages[0];
            e->prod_chain = g->stage_chain[e->prod_stage];
            e->cons_chain = ci;
            e->input_no = i;
            e->prod_par = g->chains[e->prod_chain].parallelism;
            e->cons_par = c->parallelism;
            e->part = edge_partitioning(head, e->prod_par);
        }
    }
}

int sl_job_graph_build(const sl_job_spec *spec, sl_job_graph *g)
{
    memset(g, 0, sizeof(*g));
    g->spec = spec;
    if (spec->nstages > SL_MAX_STAGES)
        return SL_EINVAL;
    int rv = build_chains(spec, g);
    if (rv != SL_OK)
        return rv;
    build_edges(spec, g);
    for (int ci = 0; ci < g->nchains; ci++) {
        g->chains[ci].task_base = g->ntasks;
        g->ntasks += g->chains[ci].parallelism;
        if (g->chains[ci].parallelism > g->slots_needed)
            g->slots_needed = g->chains[ci].parallelism;
    }
    return SL_OK;
}

int sl_job_graph_task(const sl_job_graph *g, int task, int *chain, int *subtask)
{
    for (int ci = 0; ci < g->nchains; ci++) {
        const sl_chain *c = &g->chains[ci];
        if (task >= c->task_base && task < c->task_base + c->parallelism) {
            *chain = ci;
            *subtask = task - c->task_base;
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

int sl_edge_has_channel(const sl_edge *e, int src, int dst)
{
    if (src < 0 || src >= e->prod_par || dst < 0 || dst >= e->cons_par)
        return 0;
    return e->part != SL_PART_FORWARD || src == dst;
}
