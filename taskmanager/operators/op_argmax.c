/* `operator: argmax`: keyed event-time windows (tumbling `size`, or
 * sliding `size` + `slide`) that emit, when the watermark passes a window
 * (end - 1 <= watermark, as `operator: window`), the input rows whose
 * `field` holds the window's highest value -- every tied row, unchanged.
 * It is the "which rows have the maximum" step that `window` (which keeps
 * only the aggregate) cannot express: Nexmark q5 (hot items) and q7
 * (highest bid). A record in no open window (all fired) is late: dropped
 * and counted in the task's late_records.
 *
 * State: one keyed-state entry per key (the encoded key fields) holding the
 * key's open windows, each as
 *   i64 start, i64 end, 8 bytes max (int or double), u32 nrows, u32 nbytes,
 *   then nbytes of rows (sl_row_encode, one after the other)
 * in native byte order. A record below a window's maximum changes nothing
 * (no write). Timers (window end - 1, key) are an in-memory min-heap
 * (event_timers.h) rebuilt from the keyed state after a restore, so
 * checkpoints hold only the keyed state (keyed_op.h). */
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/operators/event_timers.h"
#include "taskmanager/operators/keyed_op.h"
#include "taskmanager/operators/operator.h"
#include "taskmanager/operators/watermark.h"

#define MAX_ASSIGN 1024
#define ROW_MAX (1u << 22)

typedef struct win_hdr {
    int64_t start, end;
    union {
        int64_t i;
        double d;
    } max;
    uint32_t nrows, nbytes;
} win_hdr;

typedef struct argmax_op {
    sl_keyed_op k;          /* first: the keyed state and current key (keyed_op.h) */
    sl_window_spec w;
    int time_idx, field;
    sl_type type;
    const char *field_name; /* `field` (the stage's), for messages */
    int64_t wm;
    sl_event_timers timers;
    sl_buf cur, next;       /* the key's value as loaded, and as rewritten */
    uint8_t row[ROW_MAX];   /* the record, encoded */
    int64_t starts[MAX_ASSIGN], ends[MAX_ASSIGN];
} argmax_op;

/* ---- a key's windows ---- */

/* The window header at off of buf (len bytes); SL_EINVAL if it does not fit. */
static int hdr_at(const sl_buf *b, size_t off, win_hdr *h)
{
    if (b->len - off < sizeof(*h))
        return SL_EINVAL;
    memcpy(h, b->p + off, sizeof(*h));
    return b->len - off - sizeof(*h) < h->nbytes ? SL_EINVAL : SL_OK;
}

static int load(sl_op *op, argmax_op *a, int kg, const uint8_t *key, size_t klen)
{
    const void *val;
    size_t vlen;

    a->cur.len = 0;
    if (sl_ks_get(a->k.state, kg, key, klen, &val, &vlen) != SL_OK)
        return SL_OK;
    if (sl_buf_put(&a->cur, val, vlen) != SL_OK)
        return sl_op_fail(op, "argmax: out of memory");
    return SL_OK;
}

static int store(sl_op *op, argmax_op *a, int kg, const uint8_t *key, size_t klen,
                 const sl_buf *b)
{
    int rv = b->len == 0 ? sl_ks_delete(a->k.state, kg, key, klen)
                         : sl_ks_put(a->k.state, kg, key, klen, b->p, b->len);

    if (rv != SL_OK && rv != SL_ENOTFOUND)
        return sl_op_fail(op, "argmax: state update failed: %s", sl_strerror(rv));
    return SL_OK;
}

/* <0, 0, >0: x against the window's maximum. */
static int compare(const argmax_op *a, const sl_value *x, const win_hdr *h)
{
    if (a->type == SL_TYPE_INT)
        return x->u.i < h->max.i ? -1 : x->u.i > h->max.i;
    return x->u.d < h->max.d ? -1 : x->u.d > h->max.d;
}

/* Appends window [s, e) holding only the record (rlen bytes at a->row). */
static int put_new(argmax_op *a, sl_buf *out, int64_t s, int64_t e, const sl_value *x,
                   size_t rlen)
{
    win_hdr h = {.start = s, .end = e, .nrows = 1, .nbytes = (uint32_t)rlen};

    if (a->type == SL_TYPE_INT)
        h.max.i = x->u.i;
    else
        h.max.d = x->u.d;
    int rv = sl_buf_put(out, &h, sizeof(h));
    return rv == SL_OK ? sl_buf_put(out, a->row, rlen) : rv;
}

/* Index of window [s, e) among the record's windows, or -1. */
static int assigned(const argmax_op *a, int n, int64_t s, int64_t e)
{
    for (int k = 0; k < n; k++) {
        if (a->starts[k] == s && a->ends[k] == e)
            return k;
    }
    return -1;
}

/* Folds the record (value x, rlen bytes at a->row) into the n windows
 * a->starts/ends of the key loaded in a->cur; *changed when a->next holds
 * a new value to store. New windows get timers. */
static int fold(argmax_op *a, int n, const sl_value *x, size_t rlen, int kg, size_t klen,
                int *changed)
{
    char seen[MAX_ASSIGN];
    win_hdr h;
    int rv = SL_OK;

    memset(seen, 0, (size_t)n);
    a->next.len = 0;
    *changed = 0;
    for (size_t off = 0; off < a->cur.len && rv == SL_OK; off += sizeof(h) + h.nbytes) {
        if (hdr_at(&a->cur, off, &h) != SL_OK)
            return SL_EINVAL;
        int k = assigned(a, n, h.start, h.end);
        int c = k >= 0 ? compare(a, x, &h) : -1;
        if (k >= 0)
            seen[k] = 1;
        if (c > 0) {
            rv = put_new(a, &a->next, h.start, h.end, x, rlen);
        } else {
            win_hdr g = h;
            g.nrows += c == 0;
            g.nbytes += c == 0 ? (uint32_t)rlen : 0;
            rv = sl_buf_put(&a->next, &g, sizeof(g));
            if (rv == SL_OK)
                rv = sl_buf_put(&a->next, a->cur.p + off + sizeof(h), h.nbytes);
            if (rv == SL_OK && c == 0)
                rv = sl_buf_put(&a->next, a->row, rlen);
        }
        *changed |= c >= 0;
    }
    for (int k = 0; k < n && rv == SL_OK; k++) {
        if (seen[k] || sl_window_fired(a->ends[k], a->wm))
            continue;
        rv = put_new(a, &a->next, a->starts[k], a->ends[k], x, rlen);
        if (rv == SL_OK)
            rv = sl_event_timers_add_window(&a->timers, a->ends[k], kg, a->k.key, klen);
        *changed = 1;
    }
    return rv;
}

/* sl_ks_visit_fn for sl_keyed_op_timers_ready after a restore:
 * one timer per stored window. */
static int rebuild_visit(void *arg, int kg, const void *key, size_t klen, const void *val,
                         size_t vlen)
{
    sl_buf b = {(uint8_t *)(uintptr_t)val, vlen, vlen};
    win_hdr h;

    for (size_t off = 0; off < vlen; off += sizeof(h) + h.nbytes) {
        if (hdr_at(&b, off, &h) != SL_OK)
            return SL_EINVAL;
        if (sl_event_timers_add_window(arg, h.end, kg, key, klen) != SL_OK)
            return SL_ENOMEM;
    }
    return 0;
}

static int am_process(sl_op *op, const sl_row *row)
{
    argmax_op *a = op->impl;
    size_t klen = 0, rlen = 0;
    int kg = 0, changed = 0, rv;

    if ((rv = sl_keyed_op_timers_ready(op, &a->k, &a->timers, rebuild_visit)) != SL_OK)
        return rv;
    if (a->time_idx >= row->nfields || row->v[a->time_idx].type != SL_TYPE_INT ||
        a->field >= row->nfields || row->v[a->field].type != a->type)
        return sl_op_fail(op, "argmax: record lacks its time field or %s field %s",
                          sl_type_name(a->type), a->field_name);
    int64_t ts = row->v[a->time_idx].u.i;
    if (sl_window_is_late(&a->w, ts, a->wm)) {
        sl_op_count_late(op);
        return SL_OK;
    }
    int n = sl_window_assign(&a->w, ts, a->starts, a->ends, MAX_ASSIGN);
    if ((rv = sl_keyed_op_key(op, &a->k, row, &klen, &kg)) != SL_OK ||
        (rv = load(op, a, kg, a->k.key, klen)) != SL_OK)
        return rv;
    if (sl_row_encode(row, a->row, sizeof(a->row), &rlen) != SL_OK)
        return sl_op_fail(op, "argmax: record longer than %u bytes", ROW_MAX);
    rv = fold(a, n, &row->v[a->field], rlen, kg, klen, &changed);
    if (rv != SL_OK)
        return sl_op_fail(op, "argmax: %s",
                          rv == SL_EINVAL ? "malformed stored windows" : "out of memory");
    return changed ? store(op, a, kg, a->k.key, klen, &a->next) : SL_OK;
}

/* sl_event_timer_fire_fn (arg: the operator): emits the rows of every
 * window of the timer's key that the watermark passed and keeps the others. */
static int fire_key(void *arg, const sl_event_timer *t)
{
    sl_op *op = arg;
    argmax_op *a = op->impl;
    win_hdr h;
    int rv = load(op, a, t->kg, t->key, t->klen), fired = 0;

    a->next.len = 0;
    for (size_t off = 0; rv == SL_OK && off < a->cur.len; off += sizeof(h) + h.nbytes) {
        if (hdr_at(&a->cur, off, &h) != SL_OK)
            return sl_op_fail(op, "argmax: malformed stored windows");
        if (!sl_window_fired(h.end, a->wm)) {
            rv = sl_buf_put(&a->next, a->cur.p + off, sizeof(h) + h.nbytes);
            continue;
        }
        fired = 1;
        const uint8_t *p = a->cur.p + off + sizeof(h);
        size_t left = h.nbytes, used;
        for (uint32_t r = 0; r < h.nrows && rv == SL_OK; r++) {
            sl_row out;
            if (sl_row_decode(p, left, &out, &used) != SL_OK)
                return sl_op_fail(op, "argmax: malformed stored row");
            rv = sl_op_emit(op, &out);
            p += used;
            left -= used;
        }
    }
    if (rv != SL_OK || !fired)
        return rv;
    return store(op, a, t->kg, t->key, t->klen, &a->next);
}

static int am_watermark(sl_op *op, int64_t wm)
{
    argmax_op *a = op->impl;
    int rv = sl_keyed_op_timers_ready(op, &a->k, &a->timers, rebuild_visit);

    if (rv != SL_OK || wm <= a->wm)
        return rv;
    a->wm = wm;
    return sl_event_timers_fire(&a->timers, wm, fire_key, op);
}

/* ---- lifecycle ---- */

static int find_fields(sl_op *op, argmax_op *a)
{
    const sl_schema *in = op->in[0];
    const char *tf = sl_stage_param(op->stage, "time-field");
    const char *field = sl_stage_param(op->stage, "field");

    a->field_name = field;
    a->time_idx = tf != NULL ? sl_schema_find(in, tf) : -1;
    a->field = field != NULL ? sl_schema_find(in, field) : -1;
    if (a->time_idx < 0 || in->types[a->time_idx] != SL_TYPE_INT || a->field < 0 ||
        in->types[a->field] == SL_TYPE_STRING)
        return sl_op_fail(op, "argmax: bad time-field or field");
    a->type = in->types[a->field];
    if (sl_window_spec_from_stage(op->stage, &a->w) != SL_OK || a->w.kind == SL_WIN_SESSION)
        return sl_op_fail(op, "argmax: bad size or slide");
    return SL_OK;
}

static int am_open(sl_op *op)
{
    argmax_op *a = calloc(1, sizeof(*a));
    int rv;

    if (a == NULL)
        return SL_ENOMEM;
    op->impl = a;
    a->wm = INT64_MIN;
    if ((rv = find_fields(op, a)) != SL_OK)
        return rv;
    return sl_keyed_op_open(op, &a->k);
}

static void am_close(sl_op *op, int committed)
{
    argmax_op *a = op->impl;

    (void)committed;
    if (a == NULL)
        return;
    sl_keyed_op_close(&a->k);
    sl_event_timers_free(&a->timers);
    sl_buf_free(&a->cur);
    sl_buf_free(&a->next);
    free(a);
    op->impl = NULL;
}

const sl_op_ops sl_op_argmax = {
    .open = am_open, .process = am_process, .close = am_close,
    .snapshot = sl_keyed_op_snapshot, .restore = sl_keyed_op_restore, .watermark = am_watermark, .keyed = 1,
    .snapshot_async = sl_keyed_op_snapshot_begin,
};
