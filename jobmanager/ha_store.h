/* What a leading jobmanager keeps for high availability (interface.md
 * section 8), and the blocking I/O that writes and reads it. Called only on
 * the HA thread (jobmanager/ha.c): every function that takes an sl_zk
 * waits on the network, the others on the file system.
 *
 *   ZooKeeper  <root>/<cid>/jobs/<job id>: one node per job that is not
 *              terminal, text (sl_hastore_encode): the latest completed
 *              checkpoint (the pointer, written before the sinks are told
 *              to commit) and the checkpoint id counter. Written with the
 *              leader's session: a deposed leader's writes fail.
 *   storage    <high-availability.storageDir>/<cid>/<job id>/submission:
 *              the job as submitted (a packed SubmitJob: job file,
 *              configuration overrides, udf libraries, savepoint) in a
 *              frame that verifies (magic, length, CRC-32C), written to a
 *              temporary file, fsynced and renamed into place.
 *
 * Ownership: buffers are the caller's; sl_hastore_read_submission and
 * sl_hastore_list return heap memory the caller frees (free,
 * sl_zk_children_free). */
#ifndef SL_HA_STORE_H
#define SL_HA_STORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/limits.h"
#include "common/zk.h"

#define SL_HASTORE_NODE_MAX (2 * PATH_MAX + 256) /* a job node's text */
#define SL_HASTORE_MAGIC "SLHAJOB1"              /* first bytes of a submission file */
#define SL_HASTORE_MAGIC_LEN 8
#define SL_HASTORE_LEN_BYTES 8                   /* little-endian length of the SubmitJob */
#define SL_HASTORE_CRC_BYTES 4                   /* CRC-32C of the SubmitJob, little-endian */

typedef struct sl_hastore_job {
    char job_id[SL_JOB_ID_LEN + 1];
    uint64_t checkpoint_id; /* latest completed checkpoint (0 = none) */
    char checkpoint_dir[PATH_MAX];
    uint64_t counter;       /* highest checkpoint id handed out */
} sl_hastore_job;

/* The node text of j into buf (cap bytes, NUL-terminated); *len without the NUL. */
int sl_hastore_encode(const sl_hastore_job *j, char *buf, size_t cap, size_t *len);
/* Parses a node's text (len bytes, need not be NUL-terminated). SL_EINVAL
 * with the line and the reason in err. */
int sl_hastore_decode(const char *job_id, const char *buf, size_t len, sl_hastore_job *j,
                      char *err, size_t errlen);

/* <storageDir>/<cid>/<job id>[/submission] */
int sl_hastore_job_dir(const sl_config *cfg, const char *job_id, char *buf, size_t len);
int sl_hastore_submission_path(const sl_config *cfg, const char *job_id, char *buf, size_t len);

/* Writes a submission file durably (temporary file, fsync, rename, fsync of
 * the folder; the folder is made if missing). */
int sl_hastore_write_submission(const char *path, const void *data, size_t len, char *err,
                                size_t errlen);
/* Reads and verifies one (at most max bytes of SubmitJob). *data is the
 * caller's (free). SL_EINVAL (why in err) for a file that does not verify. */
int sl_hastore_read_submission(const char *path, size_t max, void **data, size_t *len,
                               char *err, size_t errlen);

/* The job's node: create (fails with SL_EEXIST if there) or replace. */
int sl_hastore_put(sl_zk *zk, const sl_config *cfg, const sl_hastore_job *j, int create);
int sl_hastore_get(sl_zk *zk, const sl_config *cfg, const char *job_id, sl_hastore_job *j,
                   char *err, size_t errlen);
/* Deletes the node (missing: SL_OK), then the job's storage folder. */
int sl_hastore_delete(sl_zk *zk, const sl_config *cfg, const char *job_id);
/* The ids of every job node (SL_OK with none if the folder is missing). */
int sl_hastore_list(sl_zk *zk, const sl_config *cfg, char ***ids, size_t *n);

#endif
