/* `operator: window`: keyed event-time windows (tumbling, sliding,
 * session) with one aggregate, fired by watermarks.
 *
 * State: one keyed-state entry per key (the encoded key fields, as in
 * op_aggregate.c) whose value is the array of the key's open windows
 * (win_entry, native byte order). Timers -- (window end - 1, key) to
 * fire -- are an in-memory min-heap (event_timers.h), one per window
 * created; it is rebuilt from the keyed state after a restore, so
 * checkpoints hold nothing but the keyed state (keyed_op.h). A timer whose window was already fired (merged sessions, or
 * an earlier timer of the same key) finds nothing and is dropped.
 *
 * A record is late when every window it belongs to has fired (end - 1 <=
 * watermark): it is dropped and counted in the task's late_records, which
 * the taskmanager reports with the task's metrics (`sluice info`). */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"
#include "taskmanager/operators/event_timers.h"
#include "taskmanager/operators/keyed_op.h"
#include "taskmanager/operators/operator.h"
#include "taskmanager/operators/watermark.h"

#define MAX_ASSIGN 1024

enum agg_kind { AGG_COUNT, AGG_SUM, AGG_MIN, AGG_MAX, AGG_AVG };

/* One open window of a key, as stored. */
typedef struct win_entry {
    int64_t start, end;
    union {
        int64_t i;
        double d; /* avg: the sum */
    } a;
    int64_t n;    /* records folded in */
} win_entry;

typedef struct win_op {
    sl_keyed_op k;        /* first: the keyed state and current key (keyed_op.h) */
    sl_window_spec w;
    enum agg_kind kind;
    int time_idx, field;
    sl_type type;
    const char *time_name, *field_name; /* `time-field`, `field` (the stage's), for messages */
    int64_t wm;
    win_entry *ents;      /* the current key's windows */
    size_t nents, cap;
    sl_event_timers timers;
    int64_t starts[MAX_ASSIGN], ends[MAX_ASSIGN];
} win_op;

/* ---- a key's windows ---- */

static int ents_reserve(win_op *w, size_t n)
{
    if (n <= w->cap)
        return SL_OK;
    size_t cap = w->cap ? w->cap : 16;
    while (cap < n)
        cap *= 2;
    win_entry *e = realloc(w->ents, cap * sizeof(*e));
    if (e == NULL)
        return SL_ENOMEM;
    w->ents = e;
    w->cap = cap;
    return SL_OK;
}

static int ents_load(sl_op *op, win_op *w, int kg, const uint8_t *key, size_t klen)
{
    const void *val;
    size_t vlen;

    w->nents = 0;
    if (sl_ks_get(w->k.state, kg, key, klen, &val, &vlen) != SL_OK)
        return SL_OK;
    if (vlen % sizeof(win_entry) != 0)
        return sl_op_fail(op, "window: stored value of %zu bytes", vlen);
    if (ents_reserve(w, vlen / sizeof(win_entry)) != SL_OK)
        return SL_ENOMEM;
    memcpy(w->ents, val, vlen);
    w->nents = vlen / sizeof(win_entry);
    return SL_OK;
}

static int ents_store(sl_op *op, win_op *w, int kg, const uint8_t *key, size_t klen)
{
    int rv;

    if (w->nents == 0)
        rv = sl_ks_delete(w->k.state, kg, key, klen);
    else
        rv = sl_ks_put(w->k.state, kg, key, klen, w->ents, w->nents * sizeof(win_entry));
    if (rv != SL_OK && rv != SL_ENOTFOUND)
        return sl_op_fail(op, "window: state update failed: %s", sl_strerror(rv));
    return SL_OK;
}

/* Folds value x (NULL for count) into e. */
static void fold(const win_op *w, win_entry *e, const sl_value *x)
{
    int is_int = w->type == SL_TYPE_INT;
    int64_t xi = x != NULL && is_int ? x->u.i : 0;
    double xd = x == NULL ? 0.0 : is_int ? (double)x->u.i : x->u.d;

    switch (w->kind) {
    case AGG_COUNT: break;
    case AGG_SUM:
        if (is_int)
            e->a.i = (int64_t)((uint64_t)e->a.i + (uint64_t)xi);
        else
            e->a.d += xd;
        break;
    case AGG_MIN:
    case AGG_MAX: {
        int less = is_int ? xi < e->a.i : xd < e->a.d;
        int more = is_int ? xi > e->a.i : xd > e->a.d;
        if (e->n == 0 || (w->kind == AGG_MIN ? less : more)) {
            if (is_int)
                e->a.i = xi;
            else
                e->a.d = xd;
        }
        break;
    }
    case AGG_AVG: e->a.d += xd; break;
    }
    e->n++;
}

/* Merges session b into a. */
static void merge(const win_op *w, win_entry *a, const win_entry *b)
{
    sl_value x = {.type = w->type};

    if (b->start < a->start)
        a->start = b->start;
    if (b->end > a->end)
        a->end = b->end;
    if (w->kind == AGG_COUNT || w->kind == AGG_AVG || w->kind == AGG_SUM) {
        if (w->kind == AGG_SUM && w->type == SL_TYPE_INT)
            a->a.i = (int64_t)((uint64_t)a->a.i + (uint64_t)b->a.i);
        else if (w->kind != AGG_COUNT)
            a->a.d += b->a.d;
        a->n += b->n;
        return;
    }
    if (w->type == SL_TYPE_INT)
        x.u.i = b->a.i;
    else
        x.u.d = b->a.d;
    int64_t n = a->n;
    fold(w, a, &x);
    a->n = n + b->n;
}

/* The entry of window [s, e) of the loaded key, created (and its timer
 * added) if new; NULL on failure. */
static win_entry *window_of(win_op *w, int64_t s, int64_t e, int kg, size_t klen, int *rv)
{
    for (size_t i = 0; i < w->nents; i++) {
        if (w->ents[i].start == s && w->ents[i].end == e)
            return &w->ents[i];
    }
    if ((*rv = ents_reserve(w, w->nents + 1)) != SL_OK ||
        (*rv = sl_event_timers_add_window(&w->timers, e, kg, w->k.key, klen)) != SL_OK)
        return NULL;
    win_entry *n = &w->ents[w->nents++];
    memset(n, 0, sizeof(*n));
    n->start = s;
    n->end = e;
    return n;
}

/* Tumbling and sliding: folds x into every window of ts not yet fired. */
static int add_fixed(win_op *w, int64_t ts, const sl_value *x, int kg, size_t klen)
{
    int n = sl_window_assign(&w->w, ts, w->starts, w->ends, MAX_ASSIGN);
    int rv = SL_OK;

    for (int i = 0; i < n; i++) {
        if (sl_window_fired(w->ends[i], w->wm))
            continue;
        win_entry *e = window_of(w, w->starts[i], w->ends[i], kg, klen, &rv);
        if (e == NULL)
            return rv;
        fold(w, e, x);
    }
    return SL_OK;
}

/* Sessions: [ts, ts + gap) merged with every session of the key it touches. */
static int add_session(win_op *w, int64_t ts, const sl_value *x, int kg, size_t klen)
{
    win_entry nw = {0};
    int64_t end;
    int merged_end = 0, again = 1;

    sl_window_assign(&w->w, ts, &nw.start, &end, 1);
    nw.end = end;
    fold(w, &nw, x);
    while (again) {
        again = 0;
        for (size_t i = 0; i < w->nents; i++) {
            win_entry *e = &w->ents[i];
            if (e->start > nw.end || e->end < nw.start)
                continue;
            merged_end |= e->end >= nw.end;
            merge(w, &nw, e);
            *e = w->ents[--w->nents];
            again = 1;
            break;
        }
    }
    int rv = ents_reserve(w, w->nents + 1);
    if (rv == SL_OK && !merged_end)
        rv = sl_event_timers_add_window(&w->timers, nw.end, kg, w->k.key, klen);
    if (rv == SL_OK)
        w->ents[w->nents++] = nw;
    return rv;
}

/* sl_ks_visit_fn for sl_keyed_op_timers_ready after a restore:
 * one timer per stored window. */
static int rebuild_visit(void *arg, int kg, const void *key, size_t klen, const void *val,
                         size_t vlen)
{
    const uint8_t *p = val;

    for (size_t off = 0; off + sizeof(win_entry) <= vlen; off += sizeof(win_entry)) {
        win_entry e;
        memcpy(&e, p + off, sizeof(e));
        if (sl_event_timers_add_window(arg, e.end, kg, key, klen) != SL_OK)
            return SL_ENOMEM;
    }
    return 0;
}

static int win_process(sl_op *op, const sl_row *row)
{
    win_op *w = op->impl;
    const sl_value *x = NULL;
    size_t klen = 0;
    int kg = 0, rv;

    if ((rv = sl_keyed_op_timers_ready(op, &w->k, &w->timers, rebuild_visit)) != SL_OK)
        return rv;
    if (w->time_idx >= row->nfields || row->v[w->time_idx].type != SL_TYPE_INT)
        return sl_op_fail(op, "window: record lacks int field %s",
                          w->time_name);
    if (w->field >= 0) {
        if (w->field >= row->nfields || row->v[w->field].type != w->type)
            return sl_op_fail(op, "window: record lacks %s field %s",
                              sl_type_name(w->type), w->field_name);
        x = &row->v[w->field];
    }
    int64_t ts = row->v[w->time_idx].u.i;
    if (sl_window_is_late(&w->w, ts, w->wm)) {
        sl_op_count_late(op);
        return SL_OK;
    }
    if ((rv = sl_keyed_op_key(op, &w->k, row, &klen, &kg)) != SL_OK ||
        (rv = ents_load(op, w, kg, w->k.key, klen)) != SL_OK)
        return rv;
    if (w->w.kind == SL_WIN_SESSION)
        rv = add_session(w, ts, x, kg, klen);
    else
        rv = add_fixed(w, ts, x, kg, klen);
    if (rv != SL_OK)
        return rv == SL_ENOMEM ? sl_op_fail(op, "window: out of memory") : rv;
    return ents_store(op, w, kg, w->k.key, klen);
}

/* Emits window e of key (decoded key fields in key). */
static int emit_window(sl_op *op, win_op *w, const sl_row *key, const win_entry *e)
{
    sl_row out = *key;
    int k = key->nfields;

    out.v[k].type = SL_TYPE_INT;
    out.v[k].u.i = e->start;
    out.v[k + 1].type = SL_TYPE_INT;
    out.v[k + 1].u.i = e->end;
    sl_value *v = &out.v[k + 2];
    if (w->kind == AGG_COUNT) {
        v->type = SL_TYPE_INT;
        v->u.i = e->n;
    } else if (w->kind == AGG_AVG) {
        v->type = SL_TYPE_DOUBLE;
        v->u.d = e->a.d / (double)e->n;
    } else {
        v->type = w->type;
        if (w->type == SL_TYPE_INT)
            v->u.i = e->a.i;
        else
            v->u.d = e->a.d;
    }
    out.nfields = k + 3;
    return sl_op_emit(op, &out);
}

/* sl_event_timer_fire_fn (arg: the operator): fires every window of the
 * timer's key that ended by the watermark. */
static int fire_key(void *arg, const sl_event_timer *t)
{
    sl_op *op = arg;
    win_op *w = op->impl;
    sl_row key;
    size_t used;
    int rv = ents_load(op, w, t->kg, t->key, t->klen);

    if (rv != SL_OK || w->nents == 0)
        return rv;
    if (sl_row_decode(t->key, t->klen, &key, &used) != SL_OK)
        return sl_op_fail(op, "window: malformed stored key");
    size_t kept = 0, n = w->nents;
    for (size_t i = 0; i < n; i++) {
        win_entry e = w->ents[i];
        if (!sl_window_fired(e.end, w->wm)) {
            w->ents[kept++] = e;
            continue;
        }
        if ((rv = emit_window(op, w, &key, &e)) != SL_OK)
            return rv;
    }
    if (kept == n)
        return SL_OK;
    w->nents = kept;
    return ents_store(op, w, t->kg, t->key, t->klen);
}

static int win_watermark(sl_op *op, int64_t wm)
{
    win_op *w = op->impl;
    int rv = sl_keyed_op_timers_ready(op, &w->k, &w->timers, rebuild_visit);

    if (rv != SL_OK || wm <= w->wm)
        return rv;
    w->wm = wm;
    return sl_event_timers_fire(&w->timers, wm, fire_key, op);
}

/* ---- lifecycle ---- */

static enum agg_kind kind_of(const char *name)
{
    static const char *const names[] = {"count", "sum", "min", "max", "avg"};

    for (int k = 0; k < 5; k++) {
        if (name != NULL && strcmp(name, names[k]) == 0)
            return (enum agg_kind)k;
    }
    return AGG_COUNT;
}

static int find_fields(sl_op *op, win_op *w)
{
    const sl_schema *in = op->in[0];
    const char *tf = sl_stage_param(op->stage, "time-field");
    const char *field = sl_stage_param(op->stage, "field");

    w->time_name = tf;
    w->field_name = field;
    w->kind = kind_of(sl_stage_param(op->stage, "aggregate"));
    w->time_idx = tf != NULL ? sl_schema_find(in, tf) : -1;
    if (w->time_idx < 0 || in->types[w->time_idx] != SL_TYPE_INT)
        return sl_op_fail(op, "window: no int time field '%s'", tf ? tf : "(none)");
    if (sl_window_spec_from_stage(op->stage, &w->w) != SL_OK)
        return sl_op_fail(op, "window: bad size, slide or gap");
    w->field = -1;
    w->type = SL_TYPE_INT;
    if (w->kind == AGG_COUNT)
        return SL_OK;
    w->field = field != NULL ? sl_schema_find(in, field) : -1;
    if (w->field < 0 || in->types[w->field] == SL_TYPE_STRING)
        return sl_op_fail(op, "window: no numeric input field '%s'",
                          field ? field : "(none)");
    w->type = in->types[w->field];
    return SL_OK;
}

static int win_open(sl_op *op)
{
    win_op *w = calloc(1, sizeof(*w));
    int rv;

    if (w == NULL)
        return SL_ENOMEM;
    op->impl = w;
    w->wm = INT64_MIN;
    if ((rv = find_fields(op, w)) != SL_OK)
        return rv;
    return sl_keyed_op_open(op, &w->k);
}

static int win_finish(sl_op *op)
{
    const sl_op_ctx *c = &op->ctx;
    uint64_t late = c->late_records != NULL ? *c->late_records : 0;

    sl_info("window %s %d/%d of job %s: %llu late records dropped", op->stage->name, c->subtask,
            c->parallelism, c->job_id, (unsigned long long)late);
    return SL_OK;
}

static void win_close(sl_op *op, int committed)
{
    win_op *w = op->impl;

    (void)committed;
    if (w == NULL)
        return;
    sl_keyed_op_close(&w->k);
    sl_event_timers_free(&w->timers);
    free(w->ents);
    free(w);
    op->impl = NULL;
}

const sl_op_ops sl_op_window = {
    .open = win_open, .process = win_process, .finish = win_finish, .close = win_close,
    .snapshot = sl_keyed_op_snapshot, .restore = sl_keyed_op_restore, .watermark = win_watermark, .keyed = 1,
    .snapshot_async = sl_keyed_op_snapshot_begin,
};
