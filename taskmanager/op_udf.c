/* `operator: udf`: a user's C operator from a shared object shipped with
 * the job (include/sluice/udf.h; the library is loaded per job run by
 * udf_libs.c). The callbacks get a sluice_ctx whose api table is below.
 *
 * Keyed state lives in one sl_keyed_state per subtask (so it is in
 * checkpoints and is redistributed on rescaling, like op_aggregate.c). The
 * state key of an entry is the current key (sl_row_encode of the key-by
 * fields, self-delimiting) followed by a tag and the state name:
 *   key 'V' name NUL            value state: the value
 *   key 'L' name NUL            list state: (u32 length, bytes)* in one value
 *   key 'M' name NUL user-key   map state: one entry per user key
 *   key 'T' ts                  a timer (op_udf_timers.c) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keygroup.h"
#include "common/stage_catalog.h"
#include "common/status.h"
#include "taskmanager/keyed_state.h"
#include "taskmanager/op_udf_timers.h"
#include "taskmanager/task.h"
#include "taskmanager/udf_libs.h"

#define KEY_MAX SL_UDF_KEY_MAX
#define SKEY_MAX (KEY_MAX + 2 + 2 * SLUICE_UDF_NAME_MAX)
#define LIST_MAX ((size_t)16 << 20)

typedef struct udf_op udf_op;

/* The output record: a row first, so the getters read it like an input. */
typedef struct out_rec {
    sl_row row;
    udf_op *owner;
    uint8_t set[SL_MAX_FIELDS];
    char *str[SL_MAX_FIELDS];
    size_t strcap[SL_MAX_FIELDS];
} out_rec;

struct udf_op {
    sluice_ctx ctx; /* ctx.impl = the sl_operator */
    const sluice_udf *u;
    void *user;
    int opened;
    int emit_rv; /* last failure of emit, handed back from process */
    const sl_schema *in, *outs;
    sl_keyed_state *state;
    int kg_start, kg_end;
    int kg; /* key group of the current key, -1 = none */
    size_t klen;
    uint8_t key[KEY_MAX];
    sl_row keyrow; /* the current key decoded, for sluice_current_key */
    sl_udf_timers timers;
    int64_t wm;
    uint8_t skey[SKEY_MAX];
    uint8_t *tmp;
    size_t tmpcap;
    out_rec out;
};

static sl_operator *op_of(sluice_ctx *c) { return c->impl; }
static udf_op *udf_of(sluice_ctx *c) { return op_of(c)->impl; }

/* ---- instance, params */

static void *api_user(sluice_ctx *c) { return udf_of(c)->user; }
static void api_set_user(sluice_ctx *c, void *user) { udf_of(c)->user = user; }
static int api_subtask(sluice_ctx *c) { return op_of(c)->task->subtask; }

static const char *api_param(sluice_ctx *c, const char *name)
{
    char key[256];
    int n;

    if (name == NULL)
        return NULL;
    n = snprintf(key, sizeof(key), "params.%s", name);
    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;
    return sl_stage_param(op_of(c)->stage, key);
}

/* ---- records */

static const sl_row *row_of(const sluice_record *r) { return (const sl_row *)r; }

static int api_field_count(const sluice_record *r) { return r ? row_of(r)->nfields : 0; }

static int api_field_index(sluice_ctx *c, const char *name)
{
    int i = name != NULL ? sl_schema_find(udf_of(c)->in, name) : -1;
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
    out_rec *o = &udf_of(c)->out;

    memset(o->set, 0, sizeof(o->set));
    return (sluice_record *)o;
}

/* The output field i if it exists with type t. */
static out_rec *out_field(sluice_record *r, int i, sl_type t)
{
    out_rec *o = (out_rec *)r;

    if (o == NULL || o->owner == NULL || o != &o->owner->out || i < 0 ||
        i >= o->owner->outs->nfields || o->owner->outs->types[i] != t)
        return NULL;
    o->set[i] = 1;
    o->row.v[i].type = t;
    return o;
}

static int api_set_int(sluice_record *r, int i, int64_t v)
{
    out_rec *o = out_field(r, i, SL_TYPE_INT);
    if (o == NULL)
        return SLUICE_EINVAL;
    o->row.v[i].u.i = v;
    return SLUICE_OK;
}

static int api_set_double(sluice_record *r, int i, double v)
{
    out_rec *o = out_field(r, i, SL_TYPE_DOUBLE);
    if (o == NULL)
        return SLUICE_EINVAL;
    o->row.v[i].u.d = v;
    return SLUICE_OK;
}

static int api_set_string(sluice_record *r, int i, const char *p, size_t len)
{
    out_rec *o = (p != NULL || len == 0) && len <= SL_MAX_STRING
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
    udf_op *u = udf_of(c);
    int rv;

    if ((out_rec *)r != &u->out)
        return SLUICE_EINVAL;
    for (int i = 0; i < u->outs->nfields; i++)
        if (!u->out.set[i])
            return SLUICE_EINVAL;
    u->out.row.nfields = u->outs->nfields;
    rv = sl_operator_emit(op_of(c), &u->out.row);
    if (rv != SL_OK) {
        u->emit_rv = rv;
        return SLUICE_EFAIL;
    }
    return SLUICE_OK;
}

/* ---- keyed state */

/* key tag name NUL [ukey] into u->skey; 0 or a SLUICE_E* code. */
static int state_key(udf_op *u, char tag, const char *name, const void *ukey, size_t uklen,
                     size_t *len)
{
    size_t n = name != NULL ? strnlen(name, SLUICE_UDF_NAME_MAX + 1) : 0;

    if (u->kg < 0 || n == 0 || n > SLUICE_UDF_NAME_MAX || uklen > SLUICE_UDF_NAME_MAX ||
        (ukey == NULL && uklen > 0) || (tag == 'M' && ukey == NULL))
        return SLUICE_EINVAL;
    memcpy(u->skey, u->key, u->klen);
    u->skey[u->klen] = (uint8_t)tag;
    memcpy(u->skey + u->klen + 1, name, n + 1);
    *len = u->klen + 2 + n;
    if (uklen > 0)
        memcpy(u->skey + *len, ukey, uklen);
    *len += uklen;
    return SLUICE_OK;
}

static int from_sl(int rv)
{
    switch (rv) {
    case SL_OK: return SLUICE_OK;
    case SL_ENOTFOUND: return SLUICE_ENOTFOUND;
    case SL_ENOMEM: return SLUICE_ENOMEM;
    default: return SLUICE_EFAIL;
    }
}

static int get_entry(udf_op *u, char tag, const char *name, const void *uk, size_t ukl,
                     const void **val, size_t *len)
{
    size_t sl;
    int rv = state_key(u, tag, name, uk, ukl, &sl);

    if (rv != SLUICE_OK || val == NULL || len == NULL)
        return rv != SLUICE_OK ? rv : SLUICE_EINVAL;
    return from_sl(sl_keyed_state_get(u->state, u->kg, u->skey, sl, val, len));
}

static int put_entry(udf_op *u, char tag, const char *name, const void *uk, size_t ukl,
                     const void *val, size_t len, size_t max)
{
    size_t sl;
    int rv = state_key(u, tag, name, uk, ukl, &sl);

    if (rv != SLUICE_OK || len > max || (val == NULL && len > 0))
        return rv != SLUICE_OK ? rv : SLUICE_EINVAL;
    return from_sl(sl_keyed_state_put(u->state, u->kg, u->skey, sl, len ? val : "", len));
}

static int del_entry(udf_op *u, char tag, const char *name, const void *uk, size_t ukl)
{
    size_t sl;
    int rv = state_key(u, tag, name, uk, ukl, &sl);

    if (rv != SLUICE_OK)
        return rv;
    rv = sl_keyed_state_delete(u->state, u->kg, u->skey, sl);
    return rv == SL_ENOTFOUND ? SLUICE_OK : from_sl(rv);
}

static int api_value_get(sluice_ctx *c, const char *s, const void **val, size_t *len)
{
    return get_entry(udf_of(c), 'V', s, NULL, 0, val, len);
}

static int api_value_put(sluice_ctx *c, const char *s, const void *val, size_t len)
{
    return put_entry(udf_of(c), 'V', s, NULL, 0, val, len, SLUICE_UDF_VALUE_MAX);
}

static int api_value_delete(sluice_ctx *c, const char *s)
{
    return del_entry(udf_of(c), 'V', s, NULL, 0);
}

static int tmp_reserve(udf_op *u, size_t need)
{
    if (need <= u->tmpcap)
        return SLUICE_OK;
    uint8_t *t = realloc(u->tmp, need);
    if (t == NULL)
        return SLUICE_ENOMEM;
    u->tmp = t;
    u->tmpcap = need;
    return SLUICE_OK;
}

static int api_list_append(sluice_ctx *c, const char *s, const void *val, size_t len)
{
    udf_op *u = udf_of(c);
    const void *old = NULL;
    size_t olen = 0;
    uint32_t n32 = (uint32_t)len;
    int rv = get_entry(u, 'L', s, NULL, 0, &old, &olen);

    if (rv != SLUICE_OK && rv != SLUICE_ENOTFOUND)
        return rv;
    if (rv == SLUICE_ENOTFOUND)
        olen = 0;
    if (len > SLUICE_UDF_VALUE_MAX || (val == NULL && len > 0) ||
        olen + sizeof(n32) + len > LIST_MAX)
        return SLUICE_EINVAL;
    if ((rv = tmp_reserve(u, olen + sizeof(n32) + len)) != SLUICE_OK)
        return rv;
    if (olen > 0)
        memcpy(u->tmp, old, olen);
    memcpy(u->tmp + olen, &n32, sizeof(n32));
    if (len > 0)
        memcpy(u->tmp + olen + sizeof(n32), val, len);
    return put_entry(u, 'L', s, NULL, 0, u->tmp, olen + sizeof(n32) + len, LIST_MAX);
}

static int api_list_iterate(sluice_ctx *c, const char *s, sluice_visit_fn fn, void *arg)
{
    udf_op *u = udf_of(c);
    const void *v = NULL;
    size_t len = 0, off = 0;
    int rv = get_entry(u, 'L', s, NULL, 0, &v, &len);

    if (rv == SLUICE_ENOTFOUND || fn == NULL)
        return fn == NULL ? SLUICE_EINVAL : SLUICE_OK;
    if (rv != SLUICE_OK || (rv = tmp_reserve(u, len ? len : 1)) != SLUICE_OK)
        return rv;
    memcpy(u->tmp, v, len); /* the callback may read other state */
    while (off + sizeof(uint32_t) <= len) {
        uint32_t n;
        memcpy(&n, u->tmp + off, sizeof(n));
        off += sizeof(n);
        if (n > len - off)
            return SLUICE_EFAIL;
        if ((rv = fn(arg, NULL, 0, u->tmp + off, n)) != 0)
            return rv;
        off += n;
    }
    return off == len ? SLUICE_OK : SLUICE_EFAIL;
}

static int api_list_clear(sluice_ctx *c, const char *s)
{
    return del_entry(udf_of(c), 'L', s, NULL, 0);
}

static int api_map_get(sluice_ctx *c, const char *s, const void *uk, size_t ukl,
                       const void **val, size_t *len)
{
    return ukl == 0 ? SLUICE_EINVAL : get_entry(udf_of(c), 'M', s, uk, ukl, val, len);
}

static int api_map_put(sluice_ctx *c, const char *s, const void *uk, size_t ukl,
                       const void *val, size_t len)
{
    if (ukl == 0)
        return SLUICE_EINVAL;
    return put_entry(udf_of(c), 'M', s, uk, ukl, val, len, SLUICE_UDF_VALUE_MAX);
}

static int api_map_delete(sluice_ctx *c, const char *s, const void *uk, size_t ukl)
{
    return ukl == 0 ? SLUICE_EINVAL : del_entry(udf_of(c), 'M', s, uk, ukl);
}

typedef struct map_visit {
    const uint8_t *prefix;
    size_t plen;
    sluice_visit_fn fn;
    void *arg;
} map_visit;

static int map_visit_one(void *arg, int kg, const void *key, size_t klen, const void *val,
                         size_t vlen)
{
    map_visit *m = arg;

    (void)kg;
    if (klen <= m->plen || memcmp(key, m->prefix, m->plen) != 0)
        return 0;
    return m->fn(m->arg, (const uint8_t *)key + m->plen, klen - m->plen, val, vlen);
}

static int api_map_iterate(sluice_ctx *c, const char *s, sluice_visit_fn fn, void *arg)
{
    udf_op *u = udf_of(c);
    uint8_t prefix[SKEY_MAX]; /* u->skey may be reused by the callback */
    map_visit m = {.prefix = prefix, .fn = fn, .arg = arg};
    int rv = state_key(u, 'M', s, "", 0, &m.plen);

    if (rv != SLUICE_OK || fn == NULL)
        return rv != SLUICE_OK ? rv : SLUICE_EINVAL;
    memcpy(prefix, u->skey, m.plen);
    return sl_keyed_state_visit_group(u->state, u->kg, map_visit_one, &m);
}

static int api_register_timer(sluice_ctx *c, int64_t ts)
{
    udf_op *u = udf_of(c);

    if (u->kg < 0)
        return SLUICE_EINVAL;
    return from_sl(sl_udf_timers_add(&u->timers, u->state, u->kg, u->key, u->klen, ts));
}

static int api_delete_timer(sluice_ctx *c, int64_t ts)
{
    udf_op *u = udf_of(c);

    if (u->kg < 0)
        return SLUICE_EINVAL;
    return from_sl(sl_udf_timers_delete(&u->timers, u->state, u->kg, u->key, u->klen, ts));
}

static const sluice_record *api_current_key(sluice_ctx *c)
{
    udf_op *u = udf_of(c);
    size_t used;

    if (u->kg < 0 || sl_row_decode(u->key, u->klen, &u->keyrow, &used) != SL_OK)
        return NULL;
    return (const sluice_record *)&u->keyrow;
}

static const sluice_api udf_api = {
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
    .value_get = api_value_get,
    .value_put = api_value_put,
    .value_delete = api_value_delete,
    .list_append = api_list_append,
    .list_iterate = api_list_iterate,
    .list_clear = api_list_clear,
    .map_get = api_map_get,
    .map_put = api_map_put,
    .map_delete = api_map_delete,
    .map_iterate = api_map_iterate,
    .register_timer = api_register_timer,
    .delete_timer = api_delete_timer,
    .current_key = api_current_key,
};

/* ---- the operator */

static int find_udf(sl_operator *op, udf_op *u)
{
    const char *path = sl_stage_param(op->stage, "library");
    const char *sym = sl_stage_param(op->stage, "symbol");
    void *h = path != NULL ? sl_udf_libs_handle(op->task->run, path) : NULL;
    char why[512];

    if (h == NULL)
        return sl_task_fail(op->task, "udf: library '%s' was not deployed",
                            path ? path : "(none)");
    if (sym == NULL || (u->u = sl_udf_lookup(h, sym, why, sizeof(why))) == NULL)
        return sl_task_fail(op->task, "udf: library '%s' %s", path,
                            sym ? why : "has no symbol");
    return SL_OK;
}

static int open_state(sl_operator *op, udf_op *u)
{
    sl_task *t = op->task;
    const char *backend = "hashmap", *roots = "";
    char dir[4096];
    int rv;

    sl_key_group_range(sl_task_max_parallelism(t), t->parallelism, t->subtask, &u->kg_start,
                       &u->kg_end);
    sl_udf_timers_init(&u->timers, u->kg_start, u->kg_end);
    sl_config_get_string(t->run->cfg, "state.backend.type", &backend);
    sl_config_get_string(t->run->cfg, "taskmanager.state.local.root-dirs", &roots);
    rv = sl_keyed_state_local_dir(roots, t->run->job_id, t->run->attempt, op->stage->name,
                                  t->subtask, dir, sizeof(dir));
    if (rv == SL_OK)
        rv = sl_keyed_state_open(backend, u->kg_start, u->kg_end, dir, &u->state);
    if (rv != SL_OK)
        return sl_task_fail(t, "udf: cannot open %s state: %s", backend, sl_strerror(rv));
    return SL_OK;
}

/* Runs a callback's result through: an emit failure (a cancelled task)
 * wins over the UDF's own code. */
static int udf_result(sl_operator *op, udf_op *u, const char *what, int rv)
{
    if (u->emit_rv != SL_OK)
        return u->emit_rv;
    if (rv != 0)
        return sl_task_fail(op->task, "udf %s: %s returned %d", op->stage->name, what, rv);
    return SL_OK;
}

static int udf_open(sl_operator *op)
{
    const sl_job_spec *spec = op->task->run->spec;
    udf_op *u = calloc(1, sizeof(*u));
    int rv;

    if (u == NULL)
        return SL_ENOMEM;
    op->impl = u;
    u->ctx.api = &udf_api;
    u->ctx.impl = op;
    u->kg = -1;
    u->wm = INT64_MIN;
    u->out.owner = u;
    u->in = &spec->stages[op->stage->inputs[0]].out_schema;
    u->outs = &op->stage->out_schema;
    if ((rv = find_udf(op, u)) != SL_OK || (rv = open_state(op, u)) != SL_OK)
        return rv;
    u->opened = 1;
    if (u->u->open == NULL)
        return SL_OK;
    return udf_result(op, u, "open", u->u->open(&u->ctx));
}

/* Sets the current key from row's key-by fields. */
static int set_key(sl_operator *op, udf_op *u, const sl_row *row)
{
    const sl_stage *st = op->stage;
    sl_row key = {.nfields = st->nkeys};
    int kg;

    for (int i = 0; i < st->nkeys; i++) {
        if (st->key_idx[i] >= row->nfields)
            return sl_task_fail(op->task, "udf: record lacks key field %s", st->key_by[i]);
        key.v[i] = row->v[st->key_idx[i]];
    }
    kg = sl_key_group_for_hash(sl_key_hash(row, st->key_idx, st->nkeys),
                               sl_task_max_parallelism(op->task));
    if (kg < u->kg_start || kg > u->kg_end)
        return sl_task_fail(op->task, "udf: key group %d is not in [%d, %d]", kg, u->kg_start,
                            u->kg_end);
    if (sl_row_encode(&key, u->key, sizeof(u->key), &u->klen) != SL_OK)
        return sl_task_fail(op->task, "udf: key longer than %d bytes", KEY_MAX);
    u->kg = kg;
    return SL_OK;
}

/* After a restore the timers' heap is rebuilt from the keyed state. */
static int timers_ready(sl_operator *op, udf_op *u)
{
    int rv = u->timers.rebuild ? sl_udf_timers_rebuild(&u->timers, u->state) : SL_OK;

    if (rv != SL_OK)
        return sl_task_fail(op->task, "udf: cannot rebuild timers: %s", sl_strerror(rv));
    return SL_OK;
}

static int udf_process(sl_operator *op, const sl_row *row)
{
    udf_op *u = op->impl;
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
static int fire_timer(sl_operator *op, udf_op *u, const sl_udf_timer *t)
{
    int rv;

    if (u->u->on_timer == NULL)
        return SL_OK;
    memcpy(u->key, t->key, t->klen);
    u->klen = t->klen;
    u->kg = t->kg;
    rv = u->u->on_timer(&u->ctx, t->ts);
    u->kg = -1;
    return udf_result(op, u, "on_timer", rv);
}

/* Fires the timers due at wm in order, then on_watermark. */
static int udf_watermark(sl_operator *op, int64_t wm)
{
    udf_op *u = op->impl;
    sl_udf_timer t;
    int rv = timers_ready(op, u);

    if (rv != SL_OK || wm <= u->wm)
        return rv;
    u->wm = wm;
    while ((rv = sl_udf_timers_next(&u->timers, u->state, wm, &t)) == SL_OK) {
        rv = fire_timer(op, u, &t);
        free(t.key);
        if (rv != SL_OK)
            return rv;
    }
    if (rv != SL_ENOTFOUND)
        return sl_task_fail(op->task, "udf: timer state: %s", sl_strerror(rv));
    if (u->u->on_watermark == NULL)
        return SL_OK;
    return udf_result(op, u, "on_watermark", u->u->on_watermark(&u->ctx, wm));
}

static void udf_close(sl_operator *op, int committed)
{
    udf_op *u = op->impl;

    (void)committed;
    if (u == NULL)
        return;
    if (u->opened && u->u->close != NULL)
        u->u->close(&u->ctx);
    if (u->state != NULL)
        sl_keyed_state_close(u->state);
    sl_udf_timers_free(&u->timers);
    for (int i = 0; i < SL_MAX_FIELDS; i++)
        free(u->out.str[i]);
    free(u->tmp);
    free(u);
    op->impl = NULL;
}

static int udf_snapshot(sl_operator *op, uint64_t chk_id, sl_buf *out)
{
    udf_op *u = op->impl;

    (void)chk_id;
    return sl_keyed_state_snapshot(u->state, u->kg_start, u->kg_end, out);
}

static int udf_restore(sl_operator *op, const uint8_t *data, size_t len)
{
    udf_op *u = op->impl;
    int rv = sl_keyed_state_restore(u->state, data, len, u->kg_start, u->kg_end);

    if (rv == SL_EINVAL)
        return sl_task_fail(op->task, "udf: malformed keyed state");
    u->timers.rebuild = 1;
    return rv;
}

const sl_operator_ops sl_op_udf = {
    .open = udf_open,
    .process = udf_process,
    .close = udf_close,
    .snapshot = udf_snapshot,
    .restore = udf_restore,
    .watermark = udf_watermark,
    .keyed = 1,
};
