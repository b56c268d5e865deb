/* `source: datagen`: a deterministic generator of {key, value, ts}.
 *
 * Record i (i = 0, 1, 2, ...) is a pure function of (seed, i): h is output
 * i of SplitMix64 seeded with `seed` (mix(seed + (i + 1) * golden gamma)),
 * key = h mod keys, value = mix(h) mod 1000, ts = i (a synthetic event time
 * in ms). Subtask s of P emits i = s, s + P, s + 2P, ..., so the records of
 * all subtasks together do not depend on P. With `count` the source ends
 * after records 0 .. count-1 (over all subtasks); without, it runs until
 * cancelled. `rate` caps records/s over all subtasks. `ts: wall` (or
 * `wall-us`) replaces ts by the wall-clock time at creation in ms (or us)
 * since the epoch, for latency measurements (`sink: blackhole`
 * `latency-field`); the default `ts: index` keeps ts = i.
 *
 * Checkpointed position: varint 2 (version), then the subtask's lanes
 * (source_lanes.h: old subtask and parallelism, next index and stride per
 * lane). A restore with another parallelism redistributes the remaining
 * indices of all old subtasks, so every i is emitted exactly once. */
#include <stdlib.h>
#include <string.h>

#include "taskmanager/operators/latency_hist.h"
#include "common/state_file.h"
#include "common/status.h"
#include "taskmanager/operators/source_lanes.h"
#include "taskmanager/operators/op_datagen.h"
#include "taskmanager/operators/op_pacer.h"
#include "taskmanager/operators/operator.h"
#include "taskmanager/operators/watermark.h"

#define GOLDEN_GAMMA UINT64_C(0x9e3779b97f4a7c15)
#define VALUE_RANGE 1000
#define STATE_VERSION 2

typedef struct datagen {
    uint64_t seed, keys;
    uint64_t count; /* UINT64_MAX: unbounded */
    int ts_wall;    /* `ts`: 0 index, 1 wall-clock ms, 2 wall-clock us */
    sl_lanes lanes; /* the indices this subtask emits */
    sl_op_pacer pacer;
    sl_wm_gen wm;
} datagen;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void sl_op_datagen_record(uint64_t seed, uint64_t i, uint64_t keys, sl_row *row)
{
    uint64_t h = mix64(seed + (i + 1) * GOLDEN_GAMMA);

    row->nfields = 3;
    row->v[0].type = SL_TYPE_INT;
    row->v[0].u.i = (int64_t)(h % (keys ? keys : 1));
    row->v[1].type = SL_TYPE_INT;
    row->v[1].u.i = (int64_t)(mix64(h) % VALUE_RANGE);
    row->v[2].type = SL_TYPE_INT;
    row->v[2].u.i = (int64_t)i;
}

static uint64_t param_u64(const sl_stage *st, const char *key, uint64_t dflt)
{
    const char *v = sl_stage_param(st, key);

    return v != NULL ? strtoull(v, NULL, 10) : dflt;
}

static int ts_mode(const char *v)
{
    if (v == NULL || strcmp(v, "index") == 0)
        return 0;
    return strcmp(v, "wall-us") == 0 ? 2 : 1;
}

static int dg_open(sl_op *op)
{
    datagen *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return SL_ENOMEM;
    op->impl = g;
    g->seed = param_u64(op->stage, "seed", 0);
    g->keys = param_u64(op->stage, "keys", 1000);
    g->count = param_u64(op->stage, "count", UINT64_MAX);
    g->ts_wall = ts_mode(sl_stage_param(op->stage, "ts"));
    sl_op_pacer_init(&g->pacer, op);
    sl_wm_gen_init(&g->wm, op);
    return sl_lanes_init(&g->lanes, op->ctx.subtask, op->ctx.parallelism, g->count);
}

static int dg_run(sl_op *op)
{
    datagen *g = op->impl;
    sl_row row;
    uint64_t i;
    int rv = SL_OK;

    sl_op_pacer_start(&g->pacer);
    sl_wm_gen_start(&g->wm);
    while (rv == SL_OK && sl_lanes_next(&g->lanes, &i) == SL_OK) {
        sl_op_datagen_record(g->seed, i, g->keys, &row);
        if (g->ts_wall)
            row.v[2].u.i = sl_latency_clock(g->ts_wall == 2);
        rv = sl_op_emit(op, &row);
        if (rv == SL_OK)
            rv = sl_wm_gen_observe(&g->wm, op, &row);
        if (rv == SL_OK)
            rv = sl_op_pacer_pace(&g->pacer, op);
    }
    return rv;
}

static void dg_close(sl_op *op, int committed)
{
    datagen *g = op->impl;

    (void)committed;
    if (g != NULL)
        sl_lanes_free(&g->lanes);
    free(g);
    op->impl = NULL;
}

static int dg_snapshot(sl_op *op, uint64_t chk_id, sl_buf *out)
{
    datagen *g = op->impl;
    int rv = sl_buf_put_varint(out, STATE_VERSION);

    (void)chk_id;
    if (rv == SL_OK)
        rv = sl_lanes_snapshot(&g->lanes, op->ctx.subtask, op->ctx.parallelism, out);
    return rv;
}

/* One old subtask's state (every one of the stage comes here). */
static int dg_restore(sl_op *op, const uint8_t *data, size_t len)
{
    datagen *g = op->impl;
    sl_state_cursor c;
    uint64_t version;

    sl_state_cursor_init(&c, data, len);
    if (sl_state_cursor_varint(&c, &version) != SL_OK || version != STATE_VERSION ||
        sl_lanes_restore_add(&g->lanes, data + (len - sl_state_cursor_remaining(&c)),
                             sl_state_cursor_remaining(&c)) != SL_OK)
        return sl_op_fail(op, "datagen: bad checkpointed position");
    return SL_OK;
}

static int dg_restore_end(sl_op *op)
{
    datagen *g = op->impl;
    if (sl_lanes_restore_finish(&g->lanes, op->ctx.subtask, op->ctx.parallelism) != SL_OK)
        return sl_op_fail(op, "datagen: the checkpoint does not hold the position of every "
                          "old subtask exactly once");
    return SL_OK;
}

const sl_op_ops sl_op_datagen_source = {
    .open = dg_open, .run = dg_run, .close = dg_close,
    .snapshot = dg_snapshot, .restore = dg_restore,
    .redistribute = 1, .restore_end = dg_restore_end,
};
