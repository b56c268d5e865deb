/* The keyed-state part that keyed operators share; see keyed_op.h. */
#include "taskmanager/operators/keyed_op.h"

#include <limits.h>

#include "taskmanager/state/keygroup.h"
#include "common/status.h"
#include "taskmanager/operators/operator.h"

int sl_keyed_op_open(sl_op *op, sl_keyed_op *k)
{
    const sl_op_ctx *c = &op->ctx;
    char dir[PATH_MAX];
    int rv;

    k->kg_start = c->kg_start;
    k->kg_end = c->kg_end;
    rv = sl_ks_local_dir(c->keyed.local_roots, c->job_id, c->attempt, op->stage->name,
                                  c->subtask, dir, sizeof(dir));
    if (rv == SL_OK)
        rv = sl_ks_open(c->keyed.backend, k->kg_start, k->kg_end, dir, c->keyed.cache_budget,
                        &k->state);
    if (rv != SL_OK)
        return sl_op_fail(op, "%s: cannot open %s state: %s", op->stage->type,
                          c->keyed.backend, sl_strerror(rv));
    return SL_OK;
}

int sl_keyed_op_key(sl_op *op, sl_keyed_op *k, const sl_row *row, size_t *klen, int *kg)
{
    const sl_stage *st = op->stage;
    sl_row key = {.nfields = st->nkeys};

    for (int i = 0; i < st->nkeys; i++) {
        if (st->key_idx[i] >= row->nfields)
            return sl_op_fail(op, "%s: record lacks key field %s", st->type,
                              st->key_by[i]);
        key.v[i] = row->v[st->key_idx[i]];
    }
    *kg = sl_keygroup_for_hash(sl_keygroup_key_hash(row, st->key_idx, st->nkeys),
                                op->ctx.max_parallelism);
    if (*kg < k->kg_start || *kg > k->kg_end)
        return sl_op_fail(op, "%s: key group %d is not in [%d, %d]", st->type, *kg,
                          k->kg_start, k->kg_end);
    if (sl_row_encode(&key, k->key, sizeof(k->key), klen) != SL_OK)
        return sl_op_fail(op, "%s: key longer than %d bytes", st->type,
                          SL_KEYED_OP_KEY_MAX);
    return SL_OK;
}

int sl_keyed_op_snapshot(sl_op *op, uint64_t chk_id, sl_buf *out)
{
    sl_keyed_op *k = op->impl;

    (void)chk_id;
    return sl_ks_snapshot_to_buf(k->state, k->kg_start, k->kg_end, out);
}

int sl_keyed_op_snapshot_begin(sl_op *op, uint64_t chk_id, sl_ks_snapshot **out)
{
    sl_keyed_op *k = op->impl;

    (void)chk_id;
    return sl_ks_snapshot_begin(k->state, k->kg_start, k->kg_end, out);
}

int sl_keyed_op_restore(sl_op *op, const uint8_t *data, size_t len)
{
    sl_keyed_op *k = op->impl;
    int rv = sl_ks_restore(k->state, data, len, k->kg_start, k->kg_end);

    if (rv == SL_EINVAL)
        return sl_op_fail(op, "%s: malformed keyed state", op->stage->type);
    k->restored = 1;
    return rv;
}

int sl_keyed_op_timers_ready(sl_op *op, sl_keyed_op *k, sl_event_timers *timers,
                             sl_ks_visit_fn visit)
{
    int rv;

    if (!k->restored)
        return SL_OK;
    k->restored = 0;
    rv = sl_event_timers_rebuild(timers, k->state, k->kg_start, k->kg_end, visit);
    if (rv != 0)
        return sl_op_fail(op, "%s: cannot rebuild timers: %s", op->stage->type,
                          sl_strerror(rv));
    return SL_OK;
}

void sl_keyed_op_close(sl_keyed_op *k)
{
    if (k->state != NULL)
        sl_ks_close(k->state);
    k->state = NULL;
}
