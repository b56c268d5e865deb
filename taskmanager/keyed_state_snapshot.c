#include "common/state_file.h"
#include "common/status.h"
#include "taskmanager/keyed_state.h"

typedef struct group_writer {
    sl_buf *out;
    int rv;
} group_writer;

static int count_entry(void *arg, int kg, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    (void)kg, (void)key, (void)klen, (void)val, (void)vlen;
    (*(uint64_t *)arg)++;
    return 0;
}

static int write_entry(void *arg, int kg, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    group_writer *w = arg;
    (void)kg;
    w->rv = sl_buf_put_bytes(w->out, key, klen);
    if (w->rv == SL_OK)
        w->rv = sl_buf_put_bytes(w->out, val, vlen);
    return w->rv != SL_OK;
}

int sl_keyed_state_snapshot(sl_keyed_state *st, int kg_start, int kg_end, sl_buf *out)
{
    for (int kg = kg_start; kg <= kg_end; kg++) {
        uint64_t n = 0;
        sl_keyed_state_visit_group(st, kg, count_entry, &n);
        if (n == 0)
            continue;
        int rv = sl_buf_put_varint(out, (uint64_t)kg);
        if (rv == SL_OK)
            rv = sl_buf_put_varint(out, n);
        if (rv != SL_OK)
            return rv;
        group_writer w = {.out = out, .rv = SL_OK};
        sl_keyed_state_visit_group(st, kg, write_entry, &w);
        if (w.rv != SL_OK)
            return w.rv;
    }
    return SL_OK;
}

static int restore_group(sl_keyed_state *st, sl_state_cursor *c, int kg, int load)
{
    uint64_t n;
    if (sl_cursor_varint(c, &n) != SL_OK || n > sl_cursor_remaining(c))
        return SL_EINVAL;
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
