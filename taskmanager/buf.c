#include "taskmanager/buf.h"

#include <stdlib.h>
#include <string.h>

#include "common/row.h"
#include "common/status.h"

int sl_buf_reserve(sl_buf *b, size_t extra)
{
    if (extra > SL_BUF_MAX || b->len > SL_BUF_MAX - extra)
        return SL_ENOSPC;
    if (b->len + extra <= b->cap)
        return SL_OK;
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < b->len + extra)
        ncap *= 2;
    uint8_t *np = realloc(b->p, ncap);
    if (np == NULL)
        return SL_ENOMEM;
    b->p = np;
    b->cap = ncap;
    return SL_OK;
}

int sl_buf_put(sl_buf *b, const void *data, size_t n)
{
    int rv = sl_buf_reserve(b, n);
    if (rv != SL_OK)
        return rv;
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    return SL_OK;
}

int sl_buf_put_varint(sl_buf *b, uint64_t v)
{
    int rv = sl_buf_reserve(b, 10);
    if (rv == SL_OK)
        b->len += sl_varint_put(b->p + b->len, v);
    return rv;
}

int sl_buf_put_bytes(sl_buf *b, const void *data, size_t n)
{
    int rv = sl_buf_put_varint(b, n);
    return rv == SL_OK ? sl_buf_put(b, data, n) : rv;
}

void sl_buf_free(sl_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
