/* `source: nexmark`: the Nexmark event generator (common/nexmark.h) as a
 * source of one stream of rows (the union schema, `event_type` 0 person,
 * 1 auction, 2 bid).
 *
 * Event i is a pure function of (seed, i): subtask s of P emits its source
 * lanes (taskmanager/source_lanes.h), i = s, s + P, ... at first, so all
 * subtasks together emit every i < count exactly once whatever P is, and
 * each subtask's date_time increases. Emits as fast as the chain takes the
 * rows unless `rate` caps events/s over all subtasks.
 *
 * Checkpointed state: the lanes (sl_lanes_snapshot). The state is
 * redistributable: after a change of parallelism every new subtask reads
 * the lanes of all old ones and keeps its share (sl_lanes_restore_finish). */
#include <stdlib.h>

#include "common/nexmark.h"
#include "common/status.h"
#include "taskmanager/operators/source_lanes.h"
#include "taskmanager/operators/op_pacer.h"
#include "taskmanager/operators/operator.h"
#include "taskmanager/operators/watermark.h"

typedef struct nexmark_src {
    sl_nexmark_config cfg;
    sl_lanes lanes;
    sl_op_pacer pacer;
    sl_wm_gen wm;
    sl_nexmark_event ev;
    sl_row row;
} nexmark_src;

static uint64_t param_u64(const sl_stage *st, const char *key, uint64_t dflt)
{
    const char *v = sl_stage_param(st, key);

    return v != NULL ? strtoull(v, NULL, 10) : dflt;
}

static int nx_open(sl_op *op)
{
    nexmark_src *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return SL_ENOMEM;
    op->impl = g;
    g->cfg.seed = param_u64(op->stage, "seed", 0);
    g->cfg.events_per_second = param_u64(op->stage, "events-per-second",
                                         SL_NEXMARK_DEFAULT_RATE);
    if (g->cfg.events_per_second == 0)
        g->cfg.events_per_second = 1;
    g->cfg.base_time = (int64_t)param_u64(op->stage, "base-time", 0);
    sl_op_pacer_init(&g->pacer, op);
    sl_wm_gen_init(&g->wm, op);
    if (sl_lanes_init(&g->lanes, op->ctx.subtask, op->ctx.parallelism,
                      param_u64(op->stage, "count", UINT64_MAX)) != SL_OK)
        return sl_op_fail(op, "nexmark: out of memory");
    return SL_OK;
}

static int nx_run(sl_op *op)
{
    nexmark_src *g = op->impl;
    uint64_t i;
    int rv = SL_OK;

    sl_op_pacer_start(&g->pacer);
    sl_wm_gen_start(&g->wm);
    while (rv == SL_OK && sl_lanes_next(&g->lanes, &i) == SL_OK) {
        sl_nexmark_generate(&g->cfg, i, &g->ev);
        sl_nexmark_to_row(&g->ev, &g->row);
        rv = sl_op_emit(op, &g->row);
        if (rv == SL_OK)
            rv = sl_wm_gen_observe(&g->wm, op, &g->row);
        if (rv == SL_OK)
            rv = sl_op_pacer_pace(&g->pacer, op);
    }
    return rv;
}

static void nx_close(sl_op *op, int committed)
{
    nexmark_src *g = op->impl;

    (void)committed;
    if (g == NULL)
        return;
    sl_lanes_free(&g->lanes);
    free(g);
    op->impl = NULL;
}

static int nx_snapshot(sl_op *op, uint64_t chk_id, sl_buf *out)
{
    nexmark_src *g = op->impl;

    (void)chk_id;
    return sl_lanes_snapshot(&g->lanes, op->ctx.subtask, op->ctx.parallelism, out);
}

/* One old subtask's lanes (every old subtask's, after rescaling); the
 * first replaces the fresh lane. */
static int nx_restore(sl_op *op, const uint8_t *data, size_t len)
{
    nexmark_src *g = op->impl;

    if (sl_lanes_restore_add(&g->lanes, data, len) != SL_OK)
        return sl_op_fail(op, "nexmark: bad checkpointed lanes");
    return SL_OK;
}

static int nx_restore_end(sl_op *op)
{
    nexmark_src *g = op->impl;
    if (sl_lanes_restore_finish(&g->lanes, op->ctx.subtask, op->ctx.parallelism) != SL_OK)
        return sl_op_fail(op, "nexmark: inconsistent checkpointed lanes");
    return SL_OK;
}

const sl_op_ops sl_op_nexmark_source = {
    .open = nx_open, .run = nx_run, .close = nx_close,
    .snapshot = nx_snapshot, .restore = nx_restore, .restore_end = nx_restore_end,
    .redistribute = 1,
};
