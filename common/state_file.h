/* State files: the checksummed files a task writes for its part of a
 * checkpoint, and the bounds-checked cursor that decodes them.
 *
 * Layout (all integers little-endian):
 *
 *   "SLST"  u32 version (1)          header, 8 bytes
 *   payload                          whatever the writer put
 *   u32 crc32c  "TSLS"               trailer, 8 bytes; the CRC covers every
 *                                    byte before the trailer (header too)
 *
 * The size and CRC a writer reports are what a StateHandle records
 * (size = whole file, trailer included; crc32c = the trailer's CRC).
 *
 * Sealed state files (common/seal.h) have version 2 and a payload that is
 * a sealed blob (AES-256-GCM chunks bound to the job, checkpoint id and
 * file name). Size and CRC still describe the bytes as stored, so a file
 * is checked against its StateHandle without the key; the _for functions
 * also authenticate it with the process key (sl_seal_process_key). */
#ifndef SL_STATE_FILE_H
#define SL_STATE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs.h"

#define SL_STATE_HEADER_LEN 8
#define SL_STATE_TRAILER_LEN 8
#define SL_STATE_VERSION 1
#define SL_STATE_VERSION_SEALED 2

/* The checkpoint a state file belongs to, as its _metadata records it (job
 * id, checkpoint or savepoint id); with the file's name within the folder
 * (the last part of path) it is what a sealed file is bound to. */
typedef struct {
    const char *job_id;
    uint64_t checkpoint_id;
} sl_state_origin;
/* Files larger than this are refused by sl_state_file_load (8 GiB). */
#define SL_STATE_FILE_MAX (UINT64_C(8) << 30)

/* ---- writing ------------------------------------------------------------ */

typedef struct sl_state_writer sl_state_writer;

/* Creates (or truncates) path, creating its parent folders as needed, and
 * writes the header. Output is buffered (256 KiB). On success *w is a new
 * writer that must be finished by sl_state_writer_close or _abort. The
 * folder must exist: the jobmanager makes a checkpoint's or savepoint's
 * folder at the trigger, so a late writer (of an aborted checkpoint whose
 * folder was removed, e.g. a cut-off taskmanager) fails with ENOENT rather
 * than bringing the folder back. On failure *w = NULL, nothing is left
 * behind, and the result is SL_EINVAL (bad path), SL_ENOMEM or SL_EIO with
 * errno set. */
int sl_state_writer_open(const char *path, sl_state_writer **w);

/* The same; with a process key set and o non-NULL the file is sealed
 * (version 2) for o and the last part of path. */
int sl_state_writer_open_for(const char *path, const sl_state_origin *o, sl_state_writer **w);

/* Append raw bytes / a varint / a varint length followed by the bytes.
 * SL_EIO on a write error; the error is sticky (every later call returns it)
 * and described by sl_state_writer_error. buf may be NULL if len == 0. */
int sl_state_writer_put(sl_state_writer *w, const void *buf, size_t len);
int sl_state_writer_put_varint(sl_state_writer *w, uint64_t v);
int sl_state_writer_put_bytes(sl_state_writer *w, const void *buf, size_t len);

/* Flushes, appends the trailer, fsyncs the file and its folder, closes it.
 * On success the writer is freed and *size (whole file) and *crc (as stored
 * in the trailer) are set; either may be NULL. On failure (SL_EIO) the
 * writer stays valid so the caller can read sl_state_writer_error, and must
 * then call sl_state_writer_abort. */
int sl_state_writer_close(sl_state_writer *w, uint64_t *size, uint32_t *crc);

/* Closes the file, unlinks it and frees the writer. NULL is a no-op. */
void sl_state_writer_abort(sl_state_writer *w);

/* The message of the writer's first error ("<path>: write: <strerror>"), or
 * "" if none. Owned by the writer. */
const char *sl_state_writer_error(const sl_state_writer *w);

/* ---- reading ------------------------------------------------------------ */

/* Reads and checks a whole state file: expect_size (skipped if 0) equals the
 * file size, header magic and version, trailer magic, and stored CRC ==
 * computed CRC == expect_crc. On success *buf (malloc'd, caller frees; never
 * NULL) and *len hold the payload between header and trailer. On failure
 * *buf = NULL and err (if errlen > 0) names the file and the reason:
 * SL_ENOTFOUND (no such file), SL_EIO (a system call failed), SL_ENOMEM,
 * SL_EINVAL (too large, "truncated", "size N, expected M", bad magic,
 * "checksum mismatch: stored 0x.., computed 0x.."). */
int sl_state_file_load(const char *path, uint64_t expect_size, uint32_t expect_crc,
                       uint8_t **buf, size_t *len, char *err, size_t errlen);

/* The same checks as sl_state_file_load, reading in 1 MiB chunks without
 * keeping the file in memory, and refusing symlinks. No size limit. A
 * sealed file is checked (size, frame, CRC) but not authenticated. */
int sl_state_file_verify(const char *path, uint64_t expect_size, uint32_t expect_crc,
                         char *err, size_t errlen);

/* sl_state_file_load and _verify for a file of checkpoint o: a sealed file
 * is also opened (load) or authenticated chunk by chunk (verify) with the
 * process key; SL_EINVAL with SL_SEAL_NO_KEY_MSG without a key, or "does
 * not authenticate ..." for another key, name, checkpoint or a change. An
 * unsealed file loads as before (a warning once if a key is set). */
int sl_state_file_load_for(const char *path, const sl_state_origin *o, uint64_t expect_size,
                           uint32_t expect_crc, uint8_t **buf, size_t *len, char *err,
                           size_t errlen);
int sl_state_file_verify_for(const char *path, const sl_state_origin *o, uint64_t expect_size,
                             uint32_t expect_crc, char *err, size_t errlen);

/* A read position in a decoded payload. Every function returns SL_EINVAL,
 * leaving off unchanged, when the value does not fit in what remains (or
 * the varint is malformed); none reads at or past p[len]. */
typedef struct {
    const uint8_t *p;
    size_t len, off;
} sl_state_cursor;

void sl_state_cursor_init(sl_state_cursor *c, const void *p, size_t len);
size_t sl_state_cursor_remaining(const sl_state_cursor *c);
int sl_state_cursor_u8(sl_state_cursor *c, uint8_t *v);
int sl_state_cursor_varint(sl_state_cursor *c, uint64_t *v);
/* A varint length then that many bytes; *ptr points into the buffer. */
int sl_state_cursor_bytes(sl_state_cursor *c, const uint8_t **ptr, size_t *n);

#endif
