/* High-availability records: formats and blocking I/O (see ha_store.h). */
#include "jobmanager/ha_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/fs.h"
#include "common/ha.h"
#include "common/names.h"
#include "common/status.h"

#define SUBMISSION_NAME "submission"
#define HEADER_LEN (SL_HASTORE_MAGIC_LEN + SL_HASTORE_LEN_BYTES)

/* ---- the node's text */

int sl_hastore_encode(const sl_hastore_job *j, char *buf, size_t cap, size_t *len)
{
    int n = snprintf(buf, cap, "checkpoint %" PRIu64 "\ncheckpoint-dir %s\ncounter %" PRIu64 "\n",
                     j->checkpoint_id, j->checkpoint_dir, j->counter);
    if (n < 0 || (size_t)n >= cap)
        return SL_ENOSPC;
    *len = (size_t)n;
    return SL_OK;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (*s < '0' || *s > '9')
        return SL_EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return SL_EINVAL;
    *out = (uint64_t)v;
    return SL_OK;
}

/* One "key value" line into j. */
static int decode_line(char *line, sl_hastore_job *j)
{
    char *sp = strchr(line, ' ');
    if (sp == NULL)
        return SL_EINVAL;
    *sp = '\0';
    const char *v = sp + 1;
    if (strcmp(line, "checkpoint") == 0)
        return parse_u64(v, &j->checkpoint_id);
    if (strcmp(line, "counter") == 0)
        return parse_u64(v, &j->counter);
    if (strcmp(line, "checkpoint-dir") == 0) {
        if (strlen(v) >= sizeof(j->checkpoint_dir) || (v[0] != '\0' && v[0] != '/'))
            return SL_EINVAL;
        snprintf(j->checkpoint_dir, sizeof(j->checkpoint_dir), "%s", v);
        return SL_OK;
    }
    return SL_EINVAL;
}

int sl_hastore_decode(const char *job_id, const char *buf, size_t len, sl_hastore_job *j,
                      char *err, size_t errlen)
{
    char text[SL_HASTORE_NODE_MAX];
    memset(j, 0, sizeof(*j));
    if (strlen(job_id) > SL_JOB_ID_LEN || len >= sizeof(text) || memchr(buf, '\0', len)) {
        snprintf(err, errlen, "job node %.40s: %s", job_id,
                 len >= sizeof(text) ? "too long" : "not text");
        return SL_EINVAL;
    }
    snprintf(j->job_id, sizeof(j->job_id), "%s", job_id);
    memcpy(text, buf, len);
    text[len] = '\0';
    int lineno = 1;
    for (char *line = text, *nl; *line != '\0'; line = nl + 1, lineno++) {
        nl = strchr(line, '\n');
        if (nl == NULL) {
            snprintf(err, errlen, "job node %s: line %d does not end", job_id, lineno);
            return SL_EINVAL;
        }
        *nl = '\0';
        if (decode_line(line, j) != SL_OK) {
            snprintf(err, errlen, "job node %s: line %d: expected 'checkpoint N', "
                     "'checkpoint-dir /path' or 'counter N'", job_id, lineno);
            return SL_EINVAL;
        }
    }
    if (j->checkpoint_id != 0 && j->checkpoint_dir[0] == '\0') {
        snprintf(err, errlen, "job node %s: checkpoint %" PRIu64 " without checkpoint-dir",
                 job_id, j->checkpoint_id);
        return SL_EINVAL;
    }
    return SL_OK;
}

/* ---- paths */

int sl_hastore_job_dir(const sl_config *cfg, const char *job_id, char *buf, size_t len)
{
    const char *dir = NULL, *cluster = "default";
    sl_config_get_string(cfg, "high-availability.storageDir", &dir);
    sl_config_get_string(cfg, "high-availability.cluster-id", &cluster);
    if (dir == NULL || dir[0] == '\0' || !sl_name_valid(job_id))
        return SL_EINVAL;
    int n = snprintf(buf, len, "%s/%s/%s", dir, cluster, job_id);
    return n < 0 || (size_t)n >= len ? SL_ENOSPC : SL_OK;
}

int sl_hastore_submission_path(const sl_config *cfg, const char *job_id, char *buf, size_t len)
{
    char dir[PATH_MAX];
    int rv = sl_hastore_job_dir(cfg, job_id, dir, sizeof(dir));
    if (rv != SL_OK)
        return rv;
    int n = snprintf(buf, len, "%s/" SUBMISSION_NAME, dir);
    return n < 0 || (size_t)n >= len ? SL_ENOSPC : SL_OK;
}

/* ---- submission files */

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int write_file(const char *tmp, const void *data, size_t len)
{
    uint8_t head[HEADER_LEN], tail[SL_HASTORE_CRC_BYTES];
    memcpy(head, SL_HASTORE_MAGIC, SL_HASTORE_MAGIC_LEN);
    put_le(head + SL_HASTORE_MAGIC_LEN, len, SL_HASTORE_LEN_BYTES);
    put_le(tail, sl_crc32c(0, data, len), SL_HASTORE_CRC_BYTES);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return SL_EIO;
    int rv = sl_fs_write_all(fd, head, sizeof(head));
    if (rv == SL_OK)
        rv = sl_fs_write_all(fd, data, len);
    if (rv == SL_OK)
        rv = sl_fs_write_all(fd, tail, sizeof(tail));
    if (rv == SL_OK && fsync(fd) != 0)
        rv = SL_EIO;
    int e = errno;
    if (close(fd) != 0 && rv == SL_OK)
        rv = SL_EIO;
    else
        errno = e;
    return rv;
}

int sl_hastore_write_submission(const char *path, const void *data, size_t len, char *err,
                                size_t errlen)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        snprintf(err, errlen, "path too long: %s", path);
        return SL_ENOSPC;
    }
    const char *what = "cannot make the folder of";
    int rv = sl_fs_mkdir_parent(path);
    if (rv == SL_OK && (what = "cannot write", rv = write_file(tmp, data, len)) == SL_OK &&
        (what = "cannot rename into", rename(tmp, path) != 0))
        rv = SL_EIO;
    if (rv == SL_OK && (what = "cannot fsync the folder of", sl_fs_sync_parent(path)) != SL_OK)
        rv = SL_EIO;
    if (rv != SL_OK) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        unlink(tmp);
    }
    return rv;
}

static int read_all(FILE *f, void *buf, size_t n)
{
    return fread(buf, 1, n, f) == n ? SL_OK : SL_EIO;
}

static int verify_frame(FILE *f, const char *path, size_t max, void **data, size_t *len,
                        char *err, size_t errlen)
{
    uint8_t head[HEADER_LEN], tail[SL_HASTORE_CRC_BYTES];
    if (read_all(f, head, sizeof(head)) != SL_OK ||
        memcmp(head, SL_HASTORE_MAGIC, SL_HASTORE_MAGIC_LEN) != 0) {
        snprintf(err, errlen, "%s: not a submission file (bad header)", path);
        return SL_EINVAL;
    }
    uint64_t n = get_le(head + SL_HASTORE_MAGIC_LEN, SL_HASTORE_LEN_BYTES);
    if (n > max) {
        snprintf(err, errlen, "%s: says %" PRIu64 " bytes, more than the %zu allowed", path, n,
                 max);
        return SL_EINVAL;
    }
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL)
        return SL_ENOMEM;
    int c;
    if (read_all(f, buf, (size_t)n) != SL_OK || read_all(f, tail, sizeof(tail)) != SL_OK ||
        (c = fgetc(f)) != EOF) {
        snprintf(err, errlen, "%s: shorter or longer than its header says", path);
        free(buf);
        return SL_EINVAL;
    }
    if (get_le(tail, SL_HASTORE_CRC_BYTES) != sl_crc32c(0, buf, (size_t)n)) {
        snprintf(err, errlen, "%s: checksum mismatch", path);
        free(buf);
        return SL_EINVAL;
    }
    *data = buf;
    *len = (size_t)n;
    return SL_OK;
}

int sl_hastore_read_submission(const char *path, size_t max, void **data, size_t *len,
                               char *err, size_t errlen)
{
    FILE *f = fopen(path, "rbe");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? SL_ENOTFOUND : SL_EIO;
    }
    int rv = verify_frame(f, path, max, data, len, err, errlen);
    fclose(f);
    return rv;
}

/* ---- ZooKeeper */

static int node_path(const sl_config *cfg, const char *job_id, char *buf, size_t len)
{
    char sub[SL_ZK_PATH_MAX];
    if (job_id != NULL && !sl_name_valid(job_id))
        return SL_EINVAL;
    snprintf(sub, sizeof(sub), SL_HA_JOBS_DIR "%s%s", job_id != NULL ? "/" : "",
             job_id != NULL ? job_id : "");
    return sl_ha_path(cfg, sub, buf, len);
}

int sl_hastore_put(sl_zk *zk, const sl_config *cfg, const sl_hastore_job *j, int create)
{
    char path[SL_ZK_PATH_MAX], text[SL_HASTORE_NODE_MAX];
    size_t len = 0;
    int rv = node_path(cfg, j->job_id, path, sizeof(path));
    if (rv == SL_OK)
        rv = sl_hastore_encode(j, text, sizeof(text), &len);
    if (rv != SL_OK)
        return rv;
    if (create)
        return sl_zk_create(zk, path, text, len, SL_ZK_PERSISTENT, NULL, 0);
    return sl_zk_set(zk, path, text, len, -1, NULL);
}

int sl_hastore_get(sl_zk *zk, const sl_config *cfg, const char *job_id, sl_hastore_job *j,
                   char *err, size_t errlen)
{
    char path[SL_ZK_PATH_MAX], text[SL_HASTORE_NODE_MAX];
    size_t len = 0;
    int rv = node_path(cfg, job_id, path, sizeof(path));
    if (rv == SL_OK)
        rv = sl_zk_get(zk, path, 0, text, sizeof(text), &len, NULL);
    if (rv != SL_OK) {
        snprintf(err, errlen, "cannot read %s: %s", path, sl_strerror(rv));
        return rv;
    }
    return sl_hastore_decode(job_id, text, len, j, err, errlen);
}

int sl_hastore_delete(sl_zk *zk, const sl_config *cfg, const char *job_id)
{
    char path[SL_ZK_PATH_MAX], dir[PATH_MAX];
    int rv = node_path(cfg, job_id, path, sizeof(path));
    if (rv == SL_OK)
        rv = sl_zk_delete(zk, path, -1);
    if (rv == SL_ENOTFOUND)
        rv = SL_OK;
    /* the node first: a job whose node went is not recovered, whatever is left on disk */
    if (rv == SL_OK && sl_hastore_job_dir(cfg, job_id, dir, sizeof(dir)) == SL_OK)
        rv = sl_fs_remove_tree(dir);
    return rv;
}

int sl_hastore_list(sl_zk *zk, const sl_config *cfg, char ***ids, size_t *n)
{
    char path[SL_ZK_PATH_MAX];
    *ids = NULL;
    *n = 0;
    int rv = node_path(cfg, NULL, path, sizeof(path));
    if (rv == SL_OK)
        rv = sl_zk_children(zk, path, 0, ids, n);
    return rv == SL_ENOTFOUND ? SL_OK : rv;
}
