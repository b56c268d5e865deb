/* `source: datagen`: a deterministic generator of {key, value, ts}.
 *
 * Record i (i = 0, 1, 2, ...) is a pure function of (seed, i): h is output
 * i of SplitMix64 seeded with `seed` (mix(seed + (i + 1) * golden gamma)),
 * key = h mod keys, value = mix(h) mod 1000, ts = i (a synthetic event time
 * in ms). Subtask s of P emits i = s, s + P, s + 2P, ..., so the records of
 * all subtasks together do not depend on P. With `count` the source ends
 * after records 0 .. count-1 (over all subtasks); without, it runs until
 * cancelled. `rate` caps records/s over all subtasks.
 *
 * Checkpointed position: the next i of this subtask. A restore must use
 * the parallelism the checkpoint was taken with. */
#include <stdlib.h>

#include "common/state_file.h"
#include "common/status.h"
#include "taskmanager/task.h"
#include "taskmanager/watermark.h"

#define GOLDEN_GAMMA UINT64_C(0x9e3779b97f4a7c15)
#define VALUE_RANGE 1000

typedef struct datagen {
    uint64_t seed, keys;
    uint64_t count; /* UINT64_MAX: unbounded */
    uint64_t next;  /* next i of this subtask */
    sl_source_pacer pacer;
    sl_wm_gen wm;
} datagen;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void sl_datagen_record(uint64_t seed, uint64_t i, uint64_t keys, sl_row *row)
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

static int dg_open(sl_operator *op)
{
    datagen *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return SL_ENOMEM;
    op->impl = g;
    g->seed = param_u64(op->stage, "seed", 0);
    g->keys = param_u64(op->stage, "keys", 1000);
    g->count = param_u64(op->stage, "count", UINT64_MAX);
    g->next = (uint64_t)op->task->subtask;
    return SL_OK;
}

static int dg_run(sl_operator *op)
{
    datagen *g = op->impl;
    uint64_t step = (uint64_t)op->task->parallelism;
    sl_row row;
    int rv = SL_OK;

    sl_source_pacer_start(&g->pacer, op);
    sl_wm_gen_init(&g->wm, op);
    while (rv == SL_OK && g->next < g->count) {
        sl_datagen_record(g->seed, g->next, g->keys, &row);
        rv = sl_operator_emit(op, &row);
        if (rv == SL_OK)
            rv = sl_wm_gen_observe(&g->wm, op, &row);
        g->next = g->next > UINT64_MAX - step ? UINT64_MAX : g->next + step;
        if (rv == SL_OK)
            rv = sl_source_pace(op, &g->pacer);
    }
    return rv;
}

static void dg_close(sl_operator *op, int committed)
{
    (void)committed;
    free(op->impl);
    op->impl = NULL;
}

static int dg_snapshot(sl_operator *op, uint64_t chk_id, sl_buf *out)
{
    datagen *g = op->impl;
    int rv = sl_buf_put_varint(out, 1); /* version */

    (void)chk_id;
    if (rv == SL_OK)
        rv = sl_buf_put_varint(out, g->next);
    return rv;
}

static int dg_restore(sl_operator *op, const uint8_t *data, size_t len)
{
    datagen *g = op->impl;
    sl_task *t = op->task;
    sl_state_cursor c;
    uint64_t version, next;

    sl_cursor_init(&c, data, len);
    if (sl_cursor_varint(&c, &version) != SL_OK || version != 1 ||
        sl_cursor_varint(&c, &next) != SL_OK)
        return sl_task_fail(t, "datagen: bad checkpointed position");
    if (next != UINT64_MAX && next % (uint64_t)t->parallelism != (uint64_t)t->subtask)
        return sl_task_fail(t, "datagen: checkpointed position %llu is not one of subtask "
                            "%d/%d (was the parallelism changed?)",
                            (unsigned long long)next, t->subtask, t->parallelism);
    g->next = next;
    return SL_OK;
}

const sl_operator_ops sl_op_datagen_source = {
    .open = dg_open, .run = dg_run, .close = dg_close,
    .snapshot = dg_snapshot, .restore = dg_restore,
};
