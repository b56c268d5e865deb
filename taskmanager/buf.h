/* A growable byte buffer for building snapshots and frames. Owned by whoever
 * declared it; release with sl_buf_free. Bounded by SL_BUF_MAX. */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stddef.h>
#include <stdint.h>

#define SL_BUF_MAX ((size_t)8 << 30)

typedef struct sl_buf {
    uint8_t *p;
    size_t len, cap;
} sl_buf;

int sl_buf_reserve(sl_buf *b, size_t extra);
int sl_buf_put(sl_buf *b, const void *data, size_t n);
int sl_buf_put_varint(sl_buf *b, uint64_t v);
/* varint length + bytes */
int sl_buf_put_bytes(sl_buf *b, const void *data, size_t n);
void sl_buf_free(sl_buf *b);

#endif
