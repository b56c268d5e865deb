/* The API table given to a C user operator (include/sluice/udf.h,
 * SLUICE_UDF_API_VERSION): its instance and parameters, reading the input
 * record, building and emitting the output record. The keyed-state and
 * timer entries of the table are in op_udf_state.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/operators/op_udf_internal.h"
#include "taskmanager/operators/operator.h"

/* ---- instance, params */

static void *api_user(sluice_ctx *c) { return sl_udf_of(c)->user; }
static void api_set_user(sluice_ctx *c, void *user) { sl_udf_of(c)->user = user; }
static int api_subtask(sluice_ctx *c) { return sl_udf_op_of(c)->ctx.subtask; }

static const char *api_param(sluice_ctx *c, const char *name)
{
    char key[256];
    int n;

    if (name == NULL)
        return NULL;
    n = snprintf(key, sizeof(key), "params.%s", name);
    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;
    return sl_stage_param(sl_udf_op_of(c)->stage, key);
}

/* ---- records */

static const sl_row *row_of(const sluice_record *r) { return (const sl_row *)r; }

static int api_field_count(const sluice_record *r) { return r ? row_of(r)->nfields : 0; }

static int api_field_index(sluice_ctx *c, const char *name)
{
    int i = name != NULL ? sl_schema_find(sl_udf_of(c)->in, name) : -1;
    return i >= 0 ? i : SLUICE_ENOTFOUND;
}

static const sl_value *field(const sluice_record *r, int i, int type)
{
    const sl_row *row = row_of(r);

    if (row == NULL || i < 0 || i >= row->nfields || (int)row->v[i].type != type)
        return NULL;
    return &row->v[i];
}

static int api_field_type(const sluice_record *r, int i)
{
    if (r == NULL || i < 0 || i >= row_of(r)->nfields)
        return SLUICE_EINVAL;
    return (int)row_of(r)->v[i].type;
}

static int api_get_int(const sluice_record *r, int i, int64_t *out)
{
    const sl_value *v = field(r, i, SLUICE_INT);
    if (v == NULL || out == NULL)
        return SLUICE_EINVAL;
    *out = v->u.i;
    return SLUICE_OK;
}

static int api_get_double(const sluice_record *r, int i, double *out)
{
    const sl_value *v = field(r, i, SLUICE_DOUBLE);
    if (v == NULL || out == NULL)
        return SLUICE_EINVAL;
    *out = v->u.d;
    return SLUICE_OK;
}

static int api_get_string(const sluice_record *r, int i, const char **ptr, size_t *len)
{
    const sl_value *v = field(r, i, SLUICE_STRING);
    if (v == NULL || ptr == NULL || len == NULL)
        return SLUICE_EINVAL;
    *ptr = v->u.s.ptr;
    *len = v->u.s.len;
    return SLUICE_OK;
}

/* ---- output */

static sluice_record *api_out_record(sluice_ctx *c)
{
    sl_udf_out *o = &sl_udf_of(c)->out;

    memset(o->set, 0, sizeof(o->set));
    return (sluice_record *)o;
}

/* The output field i if it exists with type t. */
static sl_udf_out *out_field(sluice_record *r, int i, sl_type t)
{
    sl_udf_out *o = (sl_udf_out *)r;

    if (o == NULL || o->owner == NULL || o != &o->owner->out || i < 0 ||
        i >= o->owner->outs->nfields || o->owner->outs->types[i] != t)
        return NULL;
    o->set[i] = 1;
    o->row.v[i].type = t;
    return o;
}

static int api_set_int(sluice_record *r, int i, int64_t v)
{
    sl_udf_out *o = out_field(r, i, SL_TYPE_INT);
    if (o == NULL)
        return SLUICE_EINVAL;
    o->row.v[i].u.i = v;
    return SLUICE_OK;
}

static int api_set_double(sluice_record *r, int i, double v)
{
    sl_udf_out *o = out_field(r, i, SL_TYPE_DOUBLE);
    if (o == NULL)
        return SLUICE_EINVAL;
    o->row.v[i].u.d = v;
    return SLUICE_OK;
}

static int api_set_string(sluice_record *r, int i, const char *p, size_t len)
{
    sl_udf_out *o = (p != NULL || len == 0) && len <= SL_MAX_STRING
                     ? out_field(r, i, SL_TYPE_STRING) : NULL;
    if (o == NULL)
        return SLUICE_EINVAL;
    if (len > o->strcap[i]) {
        char *s = realloc(o->str[i], len);
        if (s == NULL) {
            o->set[i] = 0;
            return SLUICE_ENOMEM;
        }
        o->str[i] = s;
        o->strcap[i] = len;
    }
    if (len > 0)
        memcpy(o->str[i], p, len);
    o->row.v[i].u.s.ptr = o->str[i] != NULL ? o->str[i] : "";
    o->row.v[i].u.s.len = (uint32_t)len;
    return SLUICE_OK;
}

static int api_emit(sluice_ctx *c, sluice_record *r)
{
    sl_udf_op *u = sl_udf_of(c);
    int rv;

    if ((sl_udf_out *)r != &u->out)
        return SLUICE_EINVAL;
    for (int i = 0; i < u->outs->nfields; i++)
        if (!u->out.set[i])
            return SLUICE_EINVAL;
    u->out.row.nfields = u->outs->nfields;
    rv = sl_op_emit(sl_udf_op_of(c), &u->out.row);
    if (rv != SL_OK) {
        u->emit_rv = rv;
        return SLUICE_EFAIL;
    }
    return SLUICE_OK;
}

const sluice_api sl_udf_api = {
    .version = SLUICE_UDF_API_VERSION,
    .user = api_user,
    .set_user = api_set_user,
    .param = api_param,
    .subtask = api_subtask,
    .field_count = api_field_count,
    .field_index = api_field_index,
    .field_type = api_field_type,
    .get_int = api_get_int,
    .get_double = api_get_double,
    .get_string = api_get_string,
    .out_record = api_out_record,
    .set_int = api_set_int,
    .set_double = api_set_double,
    .set_string = api_set_string,
    .emit = api_emit,
    .value_get = sl_udf_api_value_get,
    .value_put = sl_udf_api_value_put,
    .value_delete = sl_udf_api_value_delete,
    .list_append = sl_udf_api_list_append,
    .list_iterate = sl_udf_api_list_iterate,
    .list_clear = sl_udf_api_list_clear,
    .map_get = sl_udf_api_map_get,
    .map_put = sl_udf_api_map_put,
    .map_delete = sl_udf_api_map_delete,
    .map_iterate = sl_udf_api_map_iterate,
    .register_timer = sl_udf_api_register_timer,
    .delete_timer = sl_udf_api_delete_timer,
    .current_key = sl_udf_api_current_key,
};
