/* `operator: udf`: a user's C operator from a shared object shipped with
 * the job (include/sluice/udf.h; the library is loaded per job run by
 * udf_libs.c). This file is the operator: it finds the user's sluice_udf,
 * sets the current key of each record, fires event-time timers
 * (op_udf_timers.c) and runs the user's callbacks with a sluice_ctx whose
 * api table is in op_udf_api.c (keyed state and timers: op_udf_state.c).
 *
 * Keyed state lives in the sl_keyed_op (keyed_op.c) of the subtask, so it is
 * in checkpoints and is redistributed on rescaling, like op_aggregate.c. */
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/operators/op_udf_internal.h"
#include "taskmanager/operators/operator.h"

static int find_udf(sl_op *op, sl_udf_op *u)
{
    const char *path = sl_stage_param(op->stage, "library");
    const char *sym = sl_stage_param(op->stage, "symbol");
    void *h = path != NULL ? sl_udf_libs_handle(op->ctx.udf_libs, path) : NULL;
    char why[512];

    if (h == NULL)
        return sl_op_fail(op, "udf: library '%s' was not deployed",
                          path ? path : "(none)");
    if (sym == NULL || (u->u = sl_udf_lookup(h, sym, why, sizeof(why))) == NULL)
        return sl_op_fail(op, "udf: library '%s' %s", path,
                          sym ? why : "has no symbol");
    return SL_OK;
}

/* The keyed state (sl_keyed_op_open) and the timers of its key groups. */
static int open_state(sl_op *op, sl_udf_op *u)
{
    int rv = sl_keyed_op_open(op, &u->k);

    sl_udf_timers_init(&u->timers, u->k.kg_start, u->k.kg_end);
    return rv;
}

/* Runs a callback's result through: an emit failure (a cancelled task)
 * wins over the UDF's own code. */
static int udf_result(sl_op *op, sl_udf_op *u, const char *what, int rv)
{
    if (u->emit_rv != SL_OK)
        return u->emit_rv;
    if (rv != 0)
        return sl_op_fail(op, "udf %s: %s returned %d", op->stage->name, what, rv);
    return SL_OK;
}

static int udf_open(sl_op *op)
{
    sl_udf_op *u = calloc(1, sizeof(*u));
    int rv;

    if (u == NULL)
        return SL_ENOMEM;
    op->impl = u;
    u->ctx.api = &sl_udf_api;
    u->ctx.impl = op;
    u->kg = -1;
    u->wm = INT64_MIN;
    u->out.owner = u;
    u->in = op->in[0];
    u->outs = &op->stage->out_schema;
    if ((rv = find_udf(op, u)) != SL_OK || (rv = open_state(op, u)) != SL_OK)
        return rv;
    u->opened = 1;
    if (u->u->open == NULL)
        return SL_OK;
    return udf_result(op, u, "open", u->u->open(&u->ctx));
}

/* Sets the current key from row's key-by fields. */
static int set_key(sl_op *op, sl_udf_op *u, const sl_row *row)
{
    int kg, rv = sl_keyed_op_key(op, &u->k, row, &u->klen, &kg);

    if (rv == SL_OK)
        u->kg = kg;
    return rv;
}

/* After a restore the timers' heap is rebuilt from the keyed state. */
static int timers_ready(sl_op *op, sl_udf_op *u)
{
    int rv = u->timers.rebuild ? sl_udf_timers_rebuild(&u->timers, u->k.state) : SL_OK;

    if (rv != SL_OK)
        return sl_op_fail(op, "udf: cannot rebuild timers: %s", sl_strerror(rv));
    return SL_OK;
}

static int udf_process(sl_op *op, const sl_row *row)
{
    sl_udf_op *u = op->impl;
    int rv = timers_ready(op, u);

    if (rv == SL_OK)
        rv = set_key(op, u, row);
    if (rv != SL_OK)
        return rv;
    rv = u->u->process(&u->ctx, (const sluice_record *)row);
    u->kg = -1;
    return udf_result(op, u, "process", rv);
}

/* Runs on_timer for timer t with its key current. */
static int fire_timer(sl_op *op, sl_udf_op *u, const sl_udf_timer *t)
{
    int rv;

    if (u->u->on_timer == NULL)
        return SL_OK;
    memcpy(u->k.key, t->key, t->klen);
    u->klen = t->klen;
    u->kg = t->kg;
    rv = u->u->on_timer(&u->ctx, t->ts);
    u->kg = -1;
    return udf_result(op, u, "on_timer", rv);
}

/* Fires the timers due at wm in order, then on_watermark. */
static int udf_watermark(sl_op *op, int64_t wm)
{
    sl_udf_op *u = op->impl;
    sl_udf_timer t;
    int rv = timers_ready(op, u);

    if (rv != SL_OK || wm <= u->wm)
        return rv;
    u->wm = wm;
    while ((rv = sl_udf_timers_next(&u->timers, u->k.state, wm, &t)) == SL_OK) {
        rv = fire_timer(op, u, &t);
        free(t.key);
        if (rv != SL_OK)
            return rv;
    }
    if (rv != SL_ENOTFOUND)
        return sl_op_fail(op, "udf: timer state: %s", sl_strerror(rv));
    if (u->u->on_watermark == NULL)
        return SL_OK;
    return udf_result(op, u, "on_watermark", u->u->on_watermark(&u->ctx, wm));
}

static void udf_close(sl_op *op, int committed)
{
    sl_udf_op *u = op->impl;

    (void)committed;
    if (u == NULL)
        return;
    if (u->opened && u->u->close != NULL)
        u->u->close(&u->ctx);
    sl_keyed_op_close(&u->k);
    sl_udf_timers_free(&u->timers);
    for (int i = 0; i < SL_MAX_FIELDS; i++)
        free(u->out.str[i]);
    free(u->tmp);
    free(u);
    op->impl = NULL;
}

/* sl_keyed_op_restore; the timers' heap is rebuilt before the next use. */
static int udf_restore(sl_op *op, const uint8_t *data, size_t len)
{
    sl_udf_op *u = op->impl;
    int rv = sl_keyed_op_restore(op, data, len);

    if (u->k.restored)
        u->timers.rebuild = 1;
    return rv;
}

const sl_op_ops sl_op_udf = {
    .open = udf_open,
    .process = udf_process,
    .close = udf_close,
    .snapshot = sl_keyed_op_snapshot,
    .snapshot_async = sl_keyed_op_snapshot_begin,
    .restore = udf_restore,
    .watermark = udf_watermark,
    .keyed = 1,
};
