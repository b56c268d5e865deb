/* The barrier codec; see barrier.h. */
#include "taskmanager/network/barrier.h"

#include <string.h>

#include "common/bytes.h"
#include "common/status.h"

#define BARRIER_FLAGS_KNOWN \
    (SL_BARRIER_FLAG_FINAL | SL_BARRIER_FLAG_SAVEPOINT | SL_BARRIER_FLAG_STOP)
#define BARRIER_OFF_DIR (SL_BARRIER_LEN + SL_BARRIER_DIR_LEN) /* the folder's bytes */

int sl_barrier_encode(const sl_barrier *b, uint8_t *out, size_t cap, size_t *len)
{
    int sp = b->kind == SL_BARRIER_KIND_SAVEPOINT || b->kind == SL_BARRIER_KIND_SAVEPOINT_STOP;
    size_t dlen = sp ? strnlen(b->dir, sizeof(b->dir)) : 0;
    if (sp && (dlen == 0 || dlen > SL_BARRIER_DIR_MAX))
        return SL_EINVAL;
    size_t need = SL_BARRIER_LEN + (sp ? SL_BARRIER_DIR_LEN + dlen : 0);
    if (need > cap)
        return SL_ENOSPC;
    sl_put_le64(out + SL_BARRIER_OFF_ID, b->id);
    sl_put_le64(out + SL_BARRIER_OFF_TS, (uint64_t)b->ts);
    out[SL_BARRIER_OFF_FLAGS] =
        (uint8_t)((b->final ? SL_BARRIER_FLAG_FINAL : 0) | (sp ? SL_BARRIER_FLAG_SAVEPOINT : 0) |
                  (b->kind == SL_BARRIER_KIND_SAVEPOINT_STOP ? SL_BARRIER_FLAG_STOP : 0));
    if (sp) {
        sl_put_le16(out + SL_BARRIER_LEN, (uint16_t)dlen);
        memcpy(out + BARRIER_OFF_DIR, b->dir, dlen);
    }
    *len = need;
    return SL_OK;
}

int sl_barrier_decode(const uint8_t *p, size_t len, sl_barrier *b, size_t *used)
{
    if (len < SL_BARRIER_LEN)
        return SL_EINVAL;
    uint8_t flags = p[SL_BARRIER_OFF_FLAGS];
    if ((flags & ~BARRIER_FLAGS_KNOWN) != 0 ||
        ((flags & SL_BARRIER_FLAG_STOP) && !(flags & SL_BARRIER_FLAG_SAVEPOINT)))
        return SL_EINVAL;
    b->id = sl_get_le64(p + SL_BARRIER_OFF_ID);
    b->ts = (int64_t)sl_get_le64(p + SL_BARRIER_OFF_TS);
    b->final = (flags & SL_BARRIER_FLAG_FINAL) != 0;
    b->kind = !(flags & SL_BARRIER_FLAG_SAVEPOINT) ? SL_BARRIER_KIND_CHECKPOINT
              : (flags & SL_BARRIER_FLAG_STOP)     ? SL_BARRIER_KIND_SAVEPOINT_STOP
                                                   : SL_BARRIER_KIND_SAVEPOINT;
    b->dir[0] = '\0';
    *used = SL_BARRIER_LEN;
    if (b->kind == SL_BARRIER_KIND_CHECKPOINT)
        return SL_OK;
    if (len - SL_BARRIER_LEN < SL_BARRIER_DIR_LEN)
        return SL_EINVAL;
    size_t dlen = sl_get_le16(p + SL_BARRIER_LEN);
    if (dlen == 0 || dlen > SL_BARRIER_DIR_MAX || dlen > len - BARRIER_OFF_DIR ||
        memchr(p + BARRIER_OFF_DIR, '\0', dlen) != NULL)
        return SL_EINVAL;
    memcpy(b->dir, p + BARRIER_OFF_DIR, dlen);
    b->dir[dlen] = '\0';
    *used = BARRIER_OFF_DIR + dlen;
    return SL_OK;
}
