/* Keyed state snapshots and restores, in the wire form of keyed_state.h
 * (by key group), the same for every backend. */
#include "common/state_file.h"
#include "common/status.h"
#include "taskmanager/keyed_state.h"
#include "taskmanager/keyed_state_backend.h"

/* Writes the entries a view shows, group by group: the entries of the
 * current key group go to `group`, and the group (kg, count, entries) to
 * `out` once the next group starts or the visit ends. */
typedef struct group_writer {
    sl_buf *out;
    sl_buf group;
    int kg;       /* key group in `group`, -1 before the first */
    uint64_t n;   /* its entries */
    int rv;
} group_writer;

static int flush_group(group_writer *w)
{
    int rv = SL_OK;

    if (w->n == 0)
        return SL_OK;
    rv = sl_buf_put_varint(w->out, (uint64_t)w->kg);
    if (rv == SL_OK)
        rv = sl_buf_put_varint(w->out, w->n);
    if (rv == SL_OK)
        rv = sl_buf_put(w->out, w->group.p, w->group.len);
    w->group.len = 0;
    w->n = 0;
    return rv;
}

static int write_entry(void *arg, int kg, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    group_writer *w = arg;

    if (kg != w->kg) {
        w->rv = flush_group(w);
        w->kg = kg;
    }
    if (w->rv == SL_OK)
        w->rv = sl_buf_put_bytes(&w->group, key, klen);
    if (w->rv == SL_OK)
        w->rv = sl_buf_put_bytes(&w->group, val, vlen);
    w->n++;
    return w->rv != SL_OK;
}

/* Writes what view v shows of [kg_start, kg_end]. Needs nothing from the
 * task but the view: this part could run on the uploader thread once the
 * view (a leveldb snapshot) is handed over with the snapshot. */
static int write_view(sl_ks_view *v, int kg_start, int kg_end, sl_buf *out)
{
    group_writer w = {.out = out, .kg = -1, .rv = SL_OK};
    int rv = sl_ks_view_visit(v, kg_start, kg_end, write_entry, &w);

    if (w.rv == SL_OK && rv != SL_OK)
        w.rv = rv;
    if (w.rv == SL_OK)
        w.rv = flush_group(&w);
    sl_buf_free(&w.group);
    return w.rv;
}

/* Synchronous for every backend for now: the task thread opens a view,
 * writes it and closes it before it goes on. The format depends only on
 * the content (a savepoint does not depend on the backend). */
int sl_keyed_state_snapshot(sl_keyed_state *st, int kg_start, int kg_end, sl_buf *out)
{
    sl_ks_view *v;
    int rv;

    if (out == NULL)
        return SL_EINVAL;
    if ((rv = sl_ks_view_open(st, &v)) != SL_OK)
        return rv;
    rv = write_view(v, kg_start, kg_end, out);
    sl_ks_view_close(v);
    return rv;
}

static int restore_group(sl_keyed_state *st, sl_state_cursor *c, int kg, int load)
{
    uint64_t n;
    /* every entry takes at least two bytes (two lengths) */
    if (sl_cursor_varint(c, &n) != SL_OK || n > sl_cursor_remaining(c) / 2)
        return SL_EINVAL;
    if (load) {
        int rv = sl_keyed_state_presize(st, kg, n);
        if (rv != SL_OK)
            return rv;
    }
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *k, *v;
        size_t klen, vlen;
        if (sl_cursor_bytes(c, &k, &klen) != SL_OK || sl_cursor_bytes(c, &v, &vlen) != SL_OK)
            return SL_EINVAL;
        if (load) {
            int rv = sl_keyed_state_put(st, kg, k, klen, v, vlen);
            if (rv != SL_OK)
                return rv;
        }
    }
    return SL_OK;
}

int sl_keyed_state_restore(sl_keyed_state *st, const uint8_t *data, size_t len, int kg_lo,
                           int kg_hi)
{
    sl_state_cursor c;
    sl_cursor_init(&c, data, len);
    while (sl_cursor_remaining(&c) > 0) {
        uint64_t kg;
        if (sl_cursor_varint(&c, &kg) != SL_OK || kg > 32767)
            return SL_EINVAL;
        int load = (int)kg >= kg_lo && (int)kg <= kg_hi;
        int rv = restore_group(st, &c, (int)kg, load);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}
