/* State files: buffered checksummed writer, whole-file loader (reads and
 * checksums in chunks), streaming verifier and the payload cursor. See
 * state_file.h for the layout. */
#include "common/state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/seal.h"
#include "common/row.h"
#include "common/bytes.h"
#include "common/util.h"
#include "common/status.h"

#define WRITER_BUF (256u * 1024u)
#define VERIFY_CHUNK (1u << 20)
#define LOAD_CHUNK (1u << 20) /* sl_state_file_load reads and sums this much at a time */
#define FRAME_LEN (SL_STATE_HEADER_LEN + SL_STATE_TRAILER_LEN)
#define VARINT_MAX 10 /* bytes of a 64-bit LEB128 varint */

static const uint8_t head_magic[4] = {'S', 'L', 'S', 'T'};
static const uint8_t tail_magic[4] = {'T', 'S', 'L', 'S'};

struct sl_state_writer {
    int fd;
    int status;
    char *path;
    uint8_t *buf;
    size_t used;       /* bytes waiting in buf */
    uint64_t flushed;  /* bytes handed to the kernel */
    uint32_t crc;      /* of the flushed bytes */
    sl_seal_stream *seal; /* sealed files: put goes through it */
    char err[256];
};

/* The name a sealed file is bound to: the last part of path. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

static void origin_ad(const sl_state_origin *o, const char *path, sl_seal_ad *ad)
{
    ad->job_id = o->job_id;
    ad->checkpoint_id = o->checkpoint_id;
    ad->name = base_name(path);
}



/* Reads up to n bytes; fewer only at end of file. -1 on error. */
static ssize_t read_full(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* ---- writer ------------------------------------------------------------- */

static int wfail(sl_state_writer *w, const char *what)
{
    int e = errno;

    if (w->status == SL_OK) {
        snprintf(w->err, sizeof(w->err), "%s: %s: %s", w->path, what, strerror(e));
        w->status = SL_EIO;
    }
    return w->status;
}

static int emit(sl_state_writer *w, const uint8_t *p, size_t n)
{
    if (sl_fs_write_all(w->fd, p, n) != SL_OK) {
        return wfail(w, "write");
    }
    w->crc = sl_crc32c(w->crc, p, n);
    w->flushed += n;
    return SL_OK;
}

static int flush(sl_state_writer *w)
{
    int rv = emit(w, w->buf, w->used);

    w->used = 0;
    return rv;
}

static int seal_emit(void *arg, const uint8_t *p, size_t n);

static void writer_free(sl_state_writer *w)
{
    sl_seal_stream_free(w->seal);
    free(w->buf);
    free(w->path);
    free(w);
}

/* Starts sealing w for o with the process key, if both are set. */
static int start_seal(sl_state_writer *w, const sl_state_origin *o)
{
    const sl_seal_key *k = sl_seal_process_key();
    sl_seal_ad ad;

    if (k == NULL || o == NULL) {
        return SL_OK;
    }
    origin_ad(o, w->path, &ad);
    sl_put_le32(w->buf + 4, SL_STATE_VERSION_SEALED);
    return sl_seal_stream_new(k, &ad, seal_emit, w, &w->seal);
}

int sl_state_writer_open(const char *path, sl_state_writer **wp)
{
    return sl_state_writer_open_for(path, NULL, wp);
}

int sl_state_writer_open_for(const char *path, const sl_state_origin *o, sl_state_writer **wp)
{
    sl_state_writer *w;
    uint8_t hdr[SL_STATE_HEADER_LEN];
    int rv;

    *wp = NULL;
    if (path == NULL || path[0] == '\0') {
        return SL_EINVAL;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL || (w->path = strdup(path)) == NULL ||
        (w->buf = malloc(WRITER_BUF)) == NULL) {
        rv = SL_ENOMEM;
        goto fail;
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rv = SL_EIO;
        goto fail;
    }
    memcpy(hdr, head_magic, 4);
    sl_put_le32(hdr + 4, SL_STATE_VERSION);
    memcpy(w->buf, hdr, sizeof(hdr));
    w->used = sizeof(hdr);
    if ((rv = start_seal(w, o)) != SL_OK) {
        close(w->fd);
        unlink(path);
        errno = EINVAL;
        goto fail;
    }
    *wp = w;
    return SL_OK;
fail:
    if (w != NULL) {
        int e = errno;
        writer_free(w);
        errno = e;
    }
    return rv;
}

/* Buffered bytes as stored (after sealing, if sealed). */
static int raw_put(sl_state_writer *w, const void *buf, size_t len)
{
    if (w->status != SL_OK || len == 0) {
        return w->status;
    }
    if (len > WRITER_BUF - w->used && flush(w) != SL_OK) {
        return w->status;
    }
    if (len >= WRITER_BUF) {
        return emit(w, buf, len);
    }
    memcpy(w->buf + w->used, buf, len);
    w->used += len;
    return SL_OK;
}

static int seal_emit(void *arg, const uint8_t *p, size_t n)
{
    return raw_put(arg, p, n);
}

int sl_state_writer_put(sl_state_writer *w, const void *buf, size_t len)
{
    if (w->seal == NULL || w->status != SL_OK) {
        return raw_put(w, buf, len);
    }
    if (sl_seal_stream_put(w->seal, buf, len) != SL_OK && w->status == SL_OK) {
        snprintf(w->err, sizeof(w->err), "%s: cannot seal", w->path);
        w->status = SL_EIO;
    }
    return w->status;
}

int sl_state_writer_put_varint(sl_state_writer *w, uint64_t v)
{
    uint8_t tmp[VARINT_MAX];

    return sl_state_writer_put(w, tmp, sl_varint_put(tmp, v));
}

int sl_state_writer_put_bytes(sl_state_writer *w, const void *buf, size_t len)
{
    int rv = sl_state_writer_put_varint(w, len);

    return rv != SL_OK ? rv : sl_state_writer_put(w, buf, len);
}

int sl_state_writer_close(sl_state_writer *w, uint64_t *size, uint32_t *crc)
{
    uint8_t trl[SL_STATE_TRAILER_LEN];
    uint32_t sum;
    int fd;

    if (w->status != SL_OK) {
        return w->status;
    }
    if (w->seal != NULL && sl_seal_stream_finish(w->seal) != SL_OK) {
        if (w->status == SL_OK) {
            snprintf(w->err, sizeof(w->err), "%s: cannot seal", w->path);
            w->status = SL_EIO;
        }
        return w->status;
    }
    sum = sl_crc32c(w->crc, w->buf, w->used);
    sl_put_le32(trl, sum);
    memcpy(trl + 4, tail_magic, 4);
    if (raw_put(w, trl, sizeof(trl)) != SL_OK || flush(w) != SL_OK) {
        return w->status;
    }
    if (fsync(w->fd) != 0) {
        return wfail(w, "fsync");
    }
    fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        return wfail(w, "close");
    }
    if (sl_fs_sync_parent(w->path) != SL_OK) {
        return wfail(w, "fsync of folder");
    }
    if (size != NULL) {
        *size = w->flushed;
    }
    if (crc != NULL) {
        *crc = sum;
    }
    writer_free(w);
    return SL_OK;
}

void sl_state_writer_abort(sl_state_writer *w)
{
    if (w == NULL) {
        return;
    }
    if (w->fd >= 0) {
        close(w->fd);
    }
    unlink(w->path);
    writer_free(w);
}

const char *sl_state_writer_error(const sl_state_writer *w)
{
    return w->err;
}

/* ---- reading ------------------------------------------------------------ */

/* Opens path for reading and checks its size. *fd < 0 on failure. */
static int open_checked(const char *path, int flags, uint64_t expect_size, int *fd,
                        uint64_t *size, char *err, size_t errlen)
{
    struct stat st;
    int rv = SL_EINVAL;

    *fd = open(path, O_RDONLY | O_CLOEXEC | flags);
    if (*fd < 0) {
        int e = errno;
        sl_errf(err, errlen, "%s: %s", path, e == ELOOP ? "is a symlink" : strerror(e));
        return e == ENOENT ? SL_ENOTFOUND : e == ELOOP ? SL_EINVAL : SL_EIO;
    }
    if (fstat(*fd, &st) != 0) {
        sl_errf(err, errlen, "%s: fstat: %s", path, strerror(errno));
        rv = SL_EIO;
        goto fail;
    }
    *size = (uint64_t)st.st_size;
    if (!S_ISREG(st.st_mode)) {
        sl_errf(err, errlen, "%s: not a regular file", path);
    } else if (expect_size != 0 && *size != expect_size) {
        sl_errf(err, errlen, "%s: %ssize %llu, expected %llu", path,
               *size < expect_size ? "truncated: " : "", (unsigned long long)*size,
               (unsigned long long)expect_size);
    } else if (*size < FRAME_LEN) {
        sl_errf(err, errlen, "%s: truncated: %llu bytes, less than header and trailer",
               path, (unsigned long long)*size);
    } else {
        return SL_OK;
    }
fail:
    close(*fd);
    *fd = -1;
    return rv;
}

static int check_frame(const char *path, const uint8_t *hdr, const uint8_t *trl,
                       uint32_t computed, uint32_t expect_crc, char *err, size_t errlen)
{
    uint32_t stored = sl_get_le32(trl);

    if (memcmp(hdr, head_magic, 4) != 0) {
        sl_errf(err, errlen, "%s: bad header magic (not a state file)", path);
    } else if (sl_get_le32(hdr + 4) != SL_STATE_VERSION &&
               sl_get_le32(hdr + 4) != SL_STATE_VERSION_SEALED) {
        sl_errf(err, errlen, "%s: unsupported version %u", path, sl_get_le32(hdr + 4));
    } else if (memcmp(trl + 4, tail_magic, 4) != 0) {
        sl_errf(err, errlen, "%s: bad trailer magic (truncated or overwritten)", path);
    } else if (stored != computed) {
        sl_errf(err, errlen, "%s: checksum mismatch: stored 0x%08x, computed 0x%08x", path,
               stored, computed);
    } else if (computed != expect_crc) {
        sl_errf(err, errlen, "%s: checksum mismatch: computed 0x%08x, expected 0x%08x",
               path, computed, expect_crc);
    } else {
        return SL_OK;
    }
    return SL_EINVAL;
}

/* Reads exactly n bytes or explains why not. */
static int read_exact(int fd, const char *path, uint8_t *p, size_t n, char *err,
                      size_t errlen)
{
    ssize_t got = read_full(fd, p, n);

    if (got < 0) {
        sl_errf(err, errlen, "%s: read: %s", path, strerror(errno));
        return SL_EIO;
    }
    if ((size_t)got != n) {
        sl_errf(err, errlen, "%s: truncated while reading (file changed?)", path);
        return SL_EINVAL;
    }
    return SL_OK;
}

/* Reads exactly n bytes into p in chunks, folding each into *crc while
 * it is still in the cache. */
static int read_crc(int fd, const char *path, uint8_t *p, size_t n, uint32_t *crc, char *err,
                    size_t errlen)
{
    for (size_t off = 0; off < n;) {
        size_t want = n - off < LOAD_CHUNK ? n - off : LOAD_CHUNK;
        int rv = read_exact(fd, path, p + off, want, err, errlen);
        if (rv != SL_OK) {
            return rv;
        }
        *crc = sl_crc32c(*crc, p + off, want);
        off += want;
    }
    return SL_OK;
}

/* For a file whose frame checked: an unsealed payload is accepted (with a
 * warning once when it should have been sealed); a sealed one is opened in
 * place (load: data) or authenticated from fd (verify: data NULL). */
static int unseal(const char *path, const sl_state_origin *o, const uint8_t *hdr, int fd,
                  uint64_t size, uint8_t *data, size_t *n, char *err, size_t errlen)
{
    const sl_seal_key *k = sl_seal_process_key();
    char why[256];
    sl_seal_ad ad;
    int rv;

    if (sl_get_le32(hdr + 4) == SL_STATE_VERSION) {
        if (o != NULL && k != NULL) {
            sl_seal_warn_unsealed(path);
        }
        return SL_OK;
    }
    if (o == NULL && data == NULL) {
        return SL_OK; /* verify without a checkpoint: the CRC only */
    }
    if (o == NULL) {
        sl_errf(err, errlen, "%s: sealed, and no checkpoint was given to open it for", path);
        return SL_EINVAL;
    }
    origin_ad(o, path, &ad);
    rv = data != NULL ? sl_seal_open_buf(k, &ad, data, *n, n, why, sizeof(why))
                      : sl_seal_check_fd(k, &ad, fd, SL_STATE_HEADER_LEN, size - FRAME_LEN, why,
                                         sizeof(why));
    if (rv != SL_OK) {
        sl_errf(err, errlen, "%s: %s", path, why);
    }
    return rv;
}

int sl_state_file_load(const char *path, uint64_t expect_size, uint32_t expect_crc,
                       uint8_t **buf, size_t *len, char *err, size_t errlen)
{
    return sl_state_file_load_for(path, NULL, expect_size, expect_crc, buf, len, err, errlen);
}

int sl_state_file_verify(const char *path, uint64_t expect_size, uint32_t expect_crc,
                         char *err, size_t errlen)
{
    return sl_state_file_verify_for(path, NULL, expect_size, expect_crc, err, errlen);
}

int sl_state_file_load_for(const char *path, const sl_state_origin *o, uint64_t expect_size,
                           uint32_t expect_crc, uint8_t **buf, size_t *len, char *err,
                           size_t errlen)
{
    size_t plain;
    uint8_t hdr[SL_STATE_HEADER_LEN], trl[SL_STATE_TRAILER_LEN];
    uint8_t *data = NULL;
    uint64_t size, n;
    uint32_t sum;
    int fd, rv;

    *buf = NULL;
    *len = 0;
    rv = open_checked(path, 0, expect_size, &fd, &size, err, errlen);
    if (rv != SL_OK) {
        return rv;
    }
    n = size - FRAME_LEN;
    if (size > SL_STATE_FILE_MAX || (uint64_t)(size_t)n != n) {
        sl_errf(err, errlen, "%s: size %llu is above the 8 GiB limit", path,
               (unsigned long long)size);
        rv = SL_EINVAL;
        goto done;
    }
    if ((data = malloc(n > 0 ? (size_t)n : 1)) == NULL) {
        sl_errf(err, errlen, "%s: out of memory for %llu bytes", path, (unsigned long long)n);
        rv = SL_ENOMEM;
        goto done;
    }
    if ((rv = read_exact(fd, path, hdr, sizeof(hdr), err, errlen)) != SL_OK) {
        goto done;
    }
    sum = sl_crc32c(0, hdr, sizeof(hdr));
    if ((rv = read_crc(fd, path, data, (size_t)n, &sum, err, errlen)) != SL_OK ||
        (rv = read_exact(fd, path, trl, sizeof(trl), err, errlen)) != SL_OK) {
        goto done;
    }
    if ((rv = check_frame(path, hdr, trl, sum, expect_crc, err, errlen)) != SL_OK) {
        goto done;
    }
    plain = (size_t)n;
    if ((rv = unseal(path, o, hdr, fd, size, data, &plain, err, errlen)) != SL_OK) {
        goto done;
    }
    *buf = data;
    *len = plain;
    data = NULL;
done:
    free(data);
    close(fd);
    return rv;
}

/* Copies the part of src (file bytes [off, off+n)) that falls in the window
 * [start, start+wlen) of the file into dst (the window's bytes). */
static void copy_window(uint8_t *dst, uint64_t start, size_t wlen, const uint8_t *src,
                        uint64_t off, size_t n)
{
    uint64_t lo = off > start ? off : start;
    uint64_t hi = off + n < start + wlen ? off + n : start + wlen;

    if (lo < hi) {
        memcpy(dst + (lo - start), src + (lo - off), (size_t)(hi - lo));
    }
}

int sl_state_file_verify_for(const char *path, const sl_state_origin *o, uint64_t expect_size,
                             uint32_t expect_crc, char *err, size_t errlen)
{
    uint8_t hdr[SL_STATE_HEADER_LEN], trl[SL_STATE_TRAILER_LEN];
    uint8_t *chunk = NULL;
    uint64_t size, off = 0, body;
    uint32_t sum = 0;
    int fd, rv;

    memset(hdr, 0, sizeof(hdr));
    memset(trl, 0, sizeof(trl));
    rv = open_checked(path, O_NOFOLLOW, expect_size, &fd, &size, err, errlen);
    if (rv != SL_OK) {
        return rv;
    }
    body = size - SL_STATE_TRAILER_LEN;
    if ((chunk = malloc(VERIFY_CHUNK)) == NULL) {
        rv = SL_ENOMEM;
        sl_errf(err, errlen, "%s: out of memory", path);
        goto done;
    }
    while (off < size) {
        size_t want = size - off < VERIFY_CHUNK ? (size_t)(size - off) : VERIFY_CHUNK;
        if ((rv = read_exact(fd, path, chunk, want, err, errlen)) != SL_OK) {
            goto done;
        }
        if (off < body) {
            sum = sl_crc32c(sum, chunk, body - off < want ? (size_t)(body - off) : want);
        }
        copy_window(hdr, 0, sizeof(hdr), chunk, off, want);
        copy_window(trl, body, sizeof(trl), chunk, off, want);
        off += want;
    }
    free(chunk);
    chunk = NULL;
    rv = check_frame(path, hdr, trl, sum, expect_crc, err, errlen);
    if (rv == SL_OK) {
        rv = unseal(path, o, hdr, fd, size, NULL, NULL, err, errlen);
    }
done:
    free(chunk);
    close(fd);
    return rv;
}

/* ---- cursor ------------------------------------------------------------- */

void sl_state_cursor_init(sl_state_cursor *c, const void *p, size_t len)
{
    c->p = p;
    c->len = len;
    c->off = 0;
}

size_t sl_state_cursor_remaining(const sl_state_cursor *c)
{
    return c->off <= c->len ? c->len - c->off : 0;
}

int sl_state_cursor_u8(sl_state_cursor *c, uint8_t *v)
{
    if (sl_state_cursor_remaining(c) < 1) {
        return SL_EINVAL;
    }
    *v = c->p[c->off++];
    return SL_OK;
}

int sl_state_cursor_varint(sl_state_cursor *c, uint64_t *v)
{
    size_t used;
    size_t rem = sl_state_cursor_remaining(c);

    if (rem == 0 || sl_varint_get(c->p + c->off, rem, v, &used) != SL_OK) {
        return SL_EINVAL;
    }
    c->off += used;
    return SL_OK;
}

int sl_state_cursor_bytes(sl_state_cursor *c, const uint8_t **ptr, size_t *n)
{
    size_t used, rem = sl_state_cursor_remaining(c);
    uint64_t v;

    if (rem == 0 || sl_varint_get(c->p + c->off, rem, &v, &used) != SL_OK ||
        v > rem - used) {
        return SL_EINVAL;
    }
    *ptr = c->p + c->off + used;
    *n = (size_t)v;
    c->off += used + (size_t)v;
    return SL_OK;
}
