/* `operator: count|sum|min|max|avg` with key-by: keyed running aggregates.
 * Each input record emits the updated row: the key fields, then the
 * aggregate named after the operator. The aggregate of a key lives in
 * keyed state under the key's encoded fields (sl_row_encode of the key
 * fields), in its key group.
 *
 * State value per key (native byte order, like every state file):
 *   count      int64 n
 *   sum        the field's type: int64 (wraps around on overflow) or double
 *   min, max   the field's type (a NaN never replaces a value, and stays
 *              only if it came first)
 *   avg        double sum, int64 n; emits sum / n as a double */
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/operators/keyed_op.h"
#include "taskmanager/operators/operator.h"

enum agg_kind { AGG_COUNT, AGG_SUM, AGG_MIN, AGG_MAX, AGG_AVG };

typedef struct agg_op {
    sl_keyed_op k; /* first: the keyed state (keyed_op.h) */
    enum agg_kind kind;
    int field;   /* index of `field` in the input, -1 for count */
    sl_type type; /* the field's type (int for count) */
    const char *field_name; /* `field` (the stage's), for messages */
} agg_op;

/* One key's aggregate, as stored. */
typedef union agg_val {
    int64_t i;
    double d;
    struct {
        double sum;
        int64_t n;
    } avg;
} agg_val;

static enum agg_kind kind_of(const char *type)
{
    static const char *const names[] = {"count", "sum", "min", "max", "avg"};

    for (int k = 0; k < 5; k++) {
        if (strcmp(type, names[k]) == 0)
            return (enum agg_kind)k;
    }
    return AGG_COUNT;
}

static size_t val_size(const agg_op *a)
{
    return a->kind == AGG_AVG ? sizeof(double) + sizeof(int64_t) : sizeof(int64_t);
}

static int find_field(sl_op *op, agg_op *a)
{
    const sl_schema *in = op->in[0];
    const char *field = sl_stage_param(op->stage, "field");

    a->field_name = field;
    a->field = -1;
    a->type = SL_TYPE_INT;
    if (a->kind == AGG_COUNT)
        return SL_OK;
    a->field = field != NULL ? sl_schema_find(in, field) : -1;
    if (a->field < 0 || in->types[a->field] == SL_TYPE_STRING)
        return sl_op_fail(op, "%s: no numeric input field '%s'", op->stage->type,
                          field ? field : "(none)");
    a->type = in->types[a->field];
    return SL_OK;
}

static int agg_open(sl_op *op)
{
    agg_op *a = calloc(1, sizeof(*a));
    int rv;

    if (a == NULL)
        return SL_ENOMEM;
    op->impl = a;
    a->kind = kind_of(op->stage->type);
    if ((rv = find_field(op, a)) != SL_OK)
        return rv;
    return sl_keyed_op_open(op, &a->k);
}

/* 1 if x replaces the current min or max v. */
static int replaces(const agg_op *a, const sl_value *x, const agg_val *v)
{
    if (a->type == SL_TYPE_INT)
        return a->kind == AGG_MIN ? x->u.i < v->i : x->u.i > v->i;
    return a->kind == AGG_MIN ? x->u.d < v->d : x->u.d > v->d;
}

/* Folds input value x into v (have: v holds a previous aggregate) and sets
 * the value to emit. */
static void agg_fold(const agg_op *a, agg_val *v, int have, const sl_value *x, sl_value *out)
{
    int is_int = a->type == SL_TYPE_INT;

    switch (a->kind) {
    case AGG_COUNT: v->i = have ? v->i + 1 : 1; break;
    case AGG_SUM:
        if (is_int)
            v->i = (int64_t)((have ? (uint64_t)v->i : 0) + (uint64_t)x->u.i);
        else
            v->d = (have ? v->d : 0.0) + x->u.d;
        break;
    case AGG_MIN:
    case AGG_MAX:
        if (!have || replaces(a, x, v)) {
            if (is_int)
                v->i = x->u.i;
            else
                v->d = x->u.d;
        }
        break;
    case AGG_AVG:
        v->avg.sum = (have ? v->avg.sum : 0.0) + (is_int ? (double)x->u.i : x->u.d);
        v->avg.n = have ? v->avg.n + 1 : 1;
        out->type = SL_TYPE_DOUBLE;
        out->u.d = v->avg.sum / (double)v->avg.n;
        return;
    }
    out->type = a->type;
    if (is_int)
        out->u.i = v->i;
    else
        out->u.d = v->d;
}

/* The key fields into out (and a->k.key); *kg their key group. */
static int agg_key(sl_op *op, agg_op *a, const sl_row *row, sl_row *out, size_t *klen,
                   int *kg)
{
    const sl_stage *st = op->stage;
    int rv = sl_keyed_op_key(op, &a->k, row, klen, kg);

    for (int i = 0; rv == SL_OK && i < st->nkeys; i++)
        out->v[i] = row->v[st->key_idx[i]];
    return rv;
}

static int agg_process(sl_op *op, const sl_row *row)
{
    agg_op *a = op->impl;
    const sl_stage *st = op->stage;
    const sl_value *x = NULL;
    agg_val v = {.i = 0};
    const void *old;
    size_t klen = 0, vlen = 0, size = val_size(a);
    sl_row out;
    int kg = 0, have, rv;

    if (a->field >= 0) {
        if (a->field >= row->nfields || row->v[a->field].type != a->type)
            return sl_op_fail(op, "%s: record lacks %s field %s", st->type,
                              sl_type_name(a->type), a->field_name);
        x = &row->v[a->field];
    }
    if ((rv = agg_key(op, a, row, &out, &klen, &kg)) != SL_OK)
        return rv;
    have = sl_ks_get(a->k.state, kg, a->k.key, klen, &old, &vlen) == SL_OK;
    if (have && vlen != size)
        return sl_op_fail(op, "%s: stored value of %zu bytes, expected %zu", st->type,
                          vlen, size);
    if (have)
        memcpy(&v, old, size);
    out.nfields = st->nkeys + 1;
    agg_fold(a, &v, have, x, &out.v[st->nkeys]);
    rv = sl_ks_put(a->k.state, kg, a->k.key, klen, &v, size);
    if (rv != SL_OK)
        return sl_op_fail(op, "%s: state update failed: %s", st->type, sl_strerror(rv));
    return sl_op_emit(op, &out);
}

static void agg_close(sl_op *op, int committed)
{
    agg_op *a = op->impl;

    (void)committed;
    if (a != NULL)
        sl_keyed_op_close(&a->k);
    free(a);
    op->impl = NULL;
}

#define AGG_OPS                                                                          \
    {                                                                                    \
        .open = agg_open, .process = agg_process, .close = agg_close,                    \
        .snapshot = sl_keyed_op_snapshot, .restore = sl_keyed_op_restore, .keyed = 1,    \
        .snapshot_async = sl_keyed_op_snapshot_begin,                                    \
    }

const sl_op_ops sl_op_count = AGG_OPS;
const sl_op_ops sl_op_sum = AGG_OPS;
const sl_op_ops sl_op_min = AGG_OPS;
const sl_op_ops sl_op_max = AGG_OPS;
const sl_op_ops sl_op_avg = AGG_OPS;
