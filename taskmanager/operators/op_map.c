/* `operator: map`: each record becomes a row of the stage's out_schema
 * (stage_catalog_expr.c derived it from `set:` and `keep:`). A field named
 * in `set:` is its expression evaluated on the input record (every
 * expression sees the input record, none sees another's result); any other
 * field is copied from the input. Expressions of fields that `keep:` drops
 * are not evaluated. Strings of the output row point into the input row
 * and the expressions' scratch space, both valid while it is emitted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/expr.h"
#include "common/log.h"
#include "common/status.h"
#include "taskmanager/operators/operator.h"

typedef struct map_op {
    int nout;
    int src[SL_MAX_FIELDS];       /* input field copied, or -1: expr[i] */
    sl_expr *expr[SL_MAX_FIELDS];
    sl_row out;
} map_op;

static const char *set_expr(const sl_stage *st, const char *field)
{
    char key[300];

    snprintf(key, sizeof(key), "set.%s", field);
    return sl_stage_param(st, key);
}

static void map_free(sl_op *op)
{
    map_op *m = op->impl;

    for (int i = 0; m != NULL && i < m->nout; i++)
        sl_expr_free(m->expr[i]);
    free(m);
    op->impl = NULL;
}

/* Output field i: an expression compiled against the input, or a copy. */
static int map_field(sl_op *op, map_op *m, const sl_schema *in, int i)
{
    const sl_schema *out = &op->stage->out_schema;
    const char *text = set_expr(op->stage, out->names[i]);
    sl_expr_error err;
    int rv;

    m->src[i] = -1;
    if (text == NULL) {
        if ((m->src[i] = sl_schema_find(in, out->names[i])) < 0)
            return sl_op_fail(op, "map '%s': no input field '%s'", op->stage->name,
                              out->names[i]);
        return SL_OK;
    }
    rv = sl_expr_compile(text, in, &m->expr[i], &err);
    if (rv == SL_ENOMEM)
        return rv;
    if (rv != SL_OK || sl_expr_type(m->expr[i]) != (int)out->types[i])
        return sl_op_fail(op, "map '%s': set %s: %s", op->stage->name, out->names[i],
                          rv != SL_OK ? err.msg : "type differs from the schema");
    return SL_OK;
}

static int map_open(sl_op *op)
{
    const sl_schema *in = op->in[0];
    map_op *m = calloc(1, sizeof(*m));
    int rv = SL_OK;

    if (m == NULL)
        return SL_ENOMEM;
    op->impl = m;
    m->nout = op->stage->out_schema.nfields;
    for (int i = 0; i < m->nout && rv == SL_OK; i++)
        rv = map_field(op, m, in, i);
    if (rv != SL_OK)
        map_free(op); /* close is only called after a successful open */
    return rv;
}

static int map_process(sl_op *op, const sl_row *row)
{
    map_op *m = op->impl;

    for (int i = 0; i < m->nout; i++) {
        int rv = SL_OK;
        if (m->src[i] < 0)
            rv = sl_expr_eval(m->expr[i], row, &m->out.v[i]);
        else if (m->src[i] < row->nfields)
            m->out.v[i] = row->v[m->src[i]];
        else
            rv = SL_EINVAL;
        if (rv != SL_OK)
            return sl_op_fail(op, "map '%s': a record does not match the input schema",
                              op->stage->name);
    }
    m->out.nfields = m->nout;
    return sl_op_emit(op, &m->out);
}

static void map_close(sl_op *op, int committed)
{
    map_op *m = op->impl;
    sl_expr_stats s, sum = {0, 0};

    (void)committed;
    for (int i = 0; m != NULL && i < m->nout; i++) {
        if (m->expr[i] == NULL)
            continue;
        sl_expr_get_stats(m->expr[i], &s);
        sum.zero_divisions += s.zero_divisions;
        sum.truncated += s.truncated;
    }
    if (sum.zero_divisions > 0 || sum.truncated > 0)
        sl_warn("map '%s' subtask %d: %llu integer divisions by zero (taken as 0), %llu "
                "strings cut to fit",
                op->stage->name, op->ctx.subtask, (unsigned long long)sum.zero_divisions,
                (unsigned long long)sum.truncated);
    map_free(op);
}

const sl_op_ops sl_op_map = {
    .open = map_open, .process = map_process, .close = map_close,
};
