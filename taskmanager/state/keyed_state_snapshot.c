/* Keyed state snapshots and restores, in the wire form of keyed_state.h
 * (by key group), the same for every backend. A snapshot is begun on the
 * task thread and written (maybe) on the uploader's: see
 * sl_ks_snapshot_begin. */
#include <stdlib.h>

#include "common/limits.h"
#include "common/state_file.h"
#include "common/status.h"
#include "taskmanager/state/keyed_state.h"
#include "taskmanager/state/keyed_state_backend.h"

/* Chunks handed to the sink: about this much at a time. */
#define KS_CHUNK (256u * 1024u)

/* sl_ks_snapshot; the tag is renamed by the lead (RENAMES.txt) */
struct sl_ks_snapshot {
    sl_ks_view *view; /* open async view, or NULL: the bytes are in buf */
    sl_buf buf;
    int kg_start, kg_end;
    int written;
};

/* Writes entries group by group: the entries of the current key group go
 * to `group`; the group (kg, count, entries) goes to `chunk` once the next
 * group starts or the visit ends; `chunk` goes to the sink when it passes
 * KS_CHUNK (or at the end). */
typedef struct group_writer {
    sl_ks_snapshot_sink sink;
    void *arg;
    sl_buf chunk;
    sl_buf group;
    int kg;       /* key group in `group`, -1 before the first */
    uint64_t n;   /* its entries */
    int rv;
} group_writer;

static int flush_chunk(group_writer *w)
{
    int rv = SL_OK;

    if (w->chunk.len > 0)
        rv = w->sink(w->arg, w->chunk.p, w->chunk.len);
    w->chunk.len = 0;
    return rv;
}

static int flush_group(group_writer *w)
{
    int rv = SL_OK;

    if (w->n == 0)
        return SL_OK;
    rv = sl_buf_put_varint(&w->chunk, (uint64_t)w->kg);
    if (rv == SL_OK)
        rv = sl_buf_put_varint(&w->chunk, w->n);
    if (rv == SL_OK)
        rv = sl_buf_put(&w->chunk, w->group.p, w->group.len);
    w->group.len = 0;
    w->n = 0;
    if (rv == SL_OK && w->chunk.len >= KS_CHUNK)
        rv = flush_chunk(w);
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

/* Sends what view v (or, with v NULL, the live state st) holds of
 * [kg_start, kg_end] to sink. */
static int write_entries(sl_ks_view *v, sl_ks_state *st, int kg_start, int kg_end,
                         sl_ks_snapshot_sink sink, void *arg)
{
    group_writer w = {.sink = sink, .arg = arg, .kg = -1, .rv = SL_OK};
    int rv = SL_OK;

    if (v != NULL) {
        rv = sl_ks_view_visit(v, kg_start, kg_end, write_entry, &w);
    } else {
        for (int kg = kg_start; kg <= kg_end && rv == SL_OK && w.rv == SL_OK; kg++)
            rv = sl_ks_visit_group(st, kg, write_entry, &w);
    }
    if (w.rv == SL_OK && rv != SL_OK)
        w.rv = rv;
    if (w.rv == SL_OK)
        w.rv = flush_group(&w);
    if (w.rv == SL_OK)
        w.rv = flush_chunk(&w);
    sl_buf_free(&w.group);
    sl_buf_free(&w.chunk);
    return w.rv;
}

static int append_to_buf(void *arg, const void *p, size_t n)
{
    return sl_buf_put(arg, p, n);
}

int sl_ks_snapshot_begin(sl_ks_state *st, int kg_start, int kg_end, sl_ks_snapshot **out)
{
    sl_ks_snapshot *s;
    int rv;

    if (st == NULL || out == NULL)
        return SL_EINVAL;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return SL_ENOMEM;
    s->kg_start = kg_start;
    s->kg_end = kg_end;
    rv = sl_ks_view_open(st, &s->view);
    if (rv == SL_OK && !sl_ks_view_async(s->view)) {
        /* the view must be read now, on this thread */
        rv = write_entries(s->view, st, kg_start, kg_end, append_to_buf, &s->buf);
        sl_ks_view_close(s->view);
        s->view = NULL;
    } else if (rv == SL_EBUSY) {
        /* an earlier view is still being written: take this one now from
         * the live state, which this thread owns */
        s->view = NULL;
        rv = write_entries(NULL, st, kg_start, kg_end, append_to_buf, &s->buf);
    }
    if (rv != SL_OK) {
        sl_ks_snapshot_free(s);
        return rv;
    }
    *out = s;
    return SL_OK;
}

int sl_ks_snapshot_deferred(const sl_ks_snapshot *s)
{
    return s != NULL && s->view != NULL;
}

int sl_ks_snapshot_write(sl_ks_snapshot *s, sl_ks_snapshot_sink fn, void *arg)
{
    int rv;

    if (s == NULL || fn == NULL || s->written)
        return SL_EINVAL;
    s->written = 1;
    if (s->view == NULL)
        return s->buf.len > 0 ? fn(arg, s->buf.p, s->buf.len) : SL_OK;
    rv = write_entries(s->view, NULL, s->kg_start, s->kg_end, fn, arg);
    sl_ks_view_close(s->view); /* the state may free what the view kept */
    s->view = NULL;
    return rv;
}

void sl_ks_snapshot_free(sl_ks_snapshot *s)
{
    if (s == NULL)
        return;
    sl_ks_view_close(s->view);
    sl_buf_free(&s->buf);
    free(s);
}

int sl_ks_snapshot_to_buf(sl_ks_state *st, int kg_start, int kg_end, sl_buf *out)
{
    sl_ks_snapshot *s;
    int rv;

    if (out == NULL)
        return SL_EINVAL;
    if ((rv = sl_ks_snapshot_begin(st, kg_start, kg_end, &s)) != SL_OK)
        return rv;
    rv = sl_ks_snapshot_write(s, append_to_buf, out);
    sl_ks_snapshot_free(s);
    return rv;
}

/* A restore hands the backend this many pairs at a time. */
#define RESTORE_BATCH 128

/* The next length-prefixed byte string of c, at most SL_KS_MAX_LEN long:
 * one-byte lengths (the usual case) inline, others through
 * sl_state_cursor_bytes. */
static inline int next_bytes(sl_state_cursor *c, const void **ptr, size_t *n)
{
    const uint8_t *p;

    if (c->off < c->len && c->p[c->off] < 0x80) {
        size_t len = c->p[c->off];
        if (len > c->len - c->off - 1)
            return SL_EINVAL;
        *ptr = c->p + c->off + 1;
        *n = len;
        c->off += 1 + len;
        return SL_OK;
    }
    if (sl_state_cursor_bytes(c, &p, n) != SL_OK || *n > SL_KS_MAX_LEN)
        return SL_EINVAL;
    *ptr = p;
    return SL_OK;
}

/* Decodes max pairs of c into p. */
static int decode_batch(sl_state_cursor *c, sl_ks_pair *p, size_t max)
{
    for (size_t j = 0; j < max; j++) {
        if (next_bytes(c, &p[j].key, &p[j].klen) != SL_OK ||
            next_bytes(c, &p[j].val, &p[j].vlen) != SL_OK)
            return SL_EINVAL;
    }
    return SL_OK;
}

static int restore_group(sl_ks_state *st, sl_state_cursor *c, int kg, int load)
{
    sl_ks_pair batch[RESTORE_BATCH];
    uint64_t n;
    int rv;

    /* every entry takes at least two bytes (two lengths) */
    if (sl_state_cursor_varint(c, &n) != SL_OK || n > sl_state_cursor_remaining(c) / 2)
        return SL_EINVAL;
    if (load && (rv = sl_ks_presize(st, kg, n)) != SL_OK)
        return rv;
    for (uint64_t i = 0; i < n;) {
        size_t got = n - i < RESTORE_BATCH ? (size_t)(n - i) : RESTORE_BATCH;
        if (decode_batch(c, batch, got) != SL_OK)
            return SL_EINVAL;
        i += got;
        if (load && (rv = sl_ks_put_restored(st, kg, batch, got, n - i)) != SL_OK)
            return rv;
    }
    return SL_OK;
}

int sl_ks_restore(sl_ks_state *st, const uint8_t *data, size_t len, int kg_lo, int kg_hi)
{
    sl_state_cursor c;
    sl_state_cursor_init(&c, data, len);
    while (sl_state_cursor_remaining(&c) > 0) {
        uint64_t kg;
        if (sl_state_cursor_varint(&c, &kg) != SL_OK || kg >= SL_MAX_PARALLELISM)
            return SL_EINVAL;
        int load = (int)kg >= kg_lo && (int)kg <= kg_hi;
        int rv = restore_group(st, &c, (int)kg, load);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}
