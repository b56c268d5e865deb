/* Checkpoint storage on a local (or mounted) file system.
 *
 *   <root>/<job_id>/chk-<n>/_metadata   written last, atomically
 *   <root>/<job_id>/chk-<n>/<file>      state files of checkpoint n
 *   <root>/<job_id>/shared/             files several checkpoints share
 *
 * A checkpoint exists only when its _metadata exists and verifies. The
 * _metadata file (integers little-endian):
 *
 *   "SLMD"  u32 version (1)  u32 length  <length bytes: CheckpointMetadata>
 *   u32 crc32c of every byte before it
 *
 * With a process key (common/seal.h: state.checkpoints.encryption.key-file)
 * the version is 3 and the length bytes are: u64 checkpoint id, u32 length
 * + job id (in clear: a reader of a savepoint learns from them what the
 * file is bound to), then the CheckpointMetadata sealed for that job, id
 * and the name "_metadata"; the unpacked metadata must name the same job
 * and id. The CRC covers the bytes as stored, so a reader without the key
 * still detects corruption; a sealed _metadata read without the key, or
 * that does not authenticate, is SL_EINVAL like a corrupt one. A version-1
 * _metadata still reads with a key set (a warning is logged once).
 * sl_store_verify authenticates sealed state files with the process key.
 *
 * root is a plain absolute path (file:// already removed by the config
 * layer). Every function is reentrant; err buffers (if errlen > 0) receive a
 * message naming the file and the reason on failure. */
#ifndef SL_CHECKPOINT_STORE_H
#define SL_CHECKPOINT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs.h"
#include "common/crc32c.h"
#include "common/state_file.h"
#include "proto/sluice.pb-c.h"

#define SL_STORE_METADATA_NAME "_metadata"
#define SL_STORE_METADATA_TMP_NAME "_metadata.tmp"
#define SL_STORE_SHARED_DIR_NAME "shared"
#define SL_STORE_METADATA_VERSION 1
#define SL_STORE_METADATA_MAX (64u << 20) /* bytes of a whole _metadata file */

/* ---- paths (SL_ENOSPC if out is too small, SL_EINVAL for an empty root or
 * a job_id that is not a plain name; out is always NUL-terminated) ------- */

/* "<root>/<job_id>" */
int sl_store_job_root(const char *root, const char *job_id, char *out, size_t outlen);
/* "<root>/<job_id>/chk-<id>" */
int sl_store_checkpoint_path(const char *root, const char *job_id, uint64_t id, char *out,
                size_t outlen);
/* "<root>/<job_id>/shared" */
int sl_store_shared_path(const char *root, const char *job_id, char *out, size_t outlen);

/* 1 if name may be a StateHandle.path (or a job id): sl_name_valid
 * (common/names.h), the rule the job file applies to stage names, so the
 * state files of every stage a job file accepts pass. */
int sl_store_state_name_ok(const char *name);

/* ---- metadata ----------------------------------------------------------- */

/* Packs md into "<chk_dir>/_metadata.tmp" (creating chk_dir if needed),
 * fsyncs it, renames it to "_metadata" and fsyncs chk_dir and its parent.
 * SL_EIO (file system), SL_ENOSPC (packs to more than the limit), SL_ENOMEM.
 * On failure the temporary file is removed. */
int sl_store_metadata_write(const char *chk_dir, const Sluice__CheckpointMetadata *md,
                      char *err, size_t errlen);

/* Reads and checks "<chk_dir>/_metadata" (size limit, magic, version,
 * length, crc) and unpacks it into *md (caller frees with
 * sluice__checkpoint_metadata__free_unpacked). SL_ENOTFOUND if there is no
 * _metadata, SL_EINVAL if it is corrupt, SL_EIO, SL_ENOMEM. *md = NULL on
 * failure. */
int sl_store_metadata_read(const char *chk_dir, Sluice__CheckpointMetadata **md, char *err,
                     size_t errlen);

/* Checks every state file md names: a plain name (else SL_EINVAL), present
 * under chk_dir as a regular file (else SL_ENOTFOUND / SL_EINVAL), of the
 * recorded size, and with valid header, trailer and the recorded crc32c
 * (SL_EINVAL). Streams each file in 1 MiB chunks. Stops at the first bad
 * file. */
int sl_store_verify(const char *chk_dir, const Sluice__CheckpointMetadata *md,
                         char *err, size_t errlen);

/* ---- listing and cleanup ------------------------------------------------ */

/* Ids of the "chk-<n>" folders under <root>/<job_id> that hold a _metadata
 * file, ascending. Other entries (other names, non-canonical numbers such
 * as chk-007, files, symlinks) are ignored; a missing job folder gives
 * none. *ids is malloc'd (caller frees; NULL when *n == 0). SL_EIO,
 * SL_ENOMEM, or the path errors above. */
int sl_store_list(const char *root, const char *job_id, uint64_t **ids, size_t *n);

/* The same, but every chk-<n> folder, complete or not (for cleanup). */
int sl_store_list_all(const char *root, const char *job_id, uint64_t **ids,
                           size_t *n);

#endif
