/* Checkpoint folders: paths, the _metadata file, verification, listing and
 * recursive removal. See checkpoint_store.h for the layout. */
#include "common/checkpoint_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/names.h"
#include "common/seal.h"
#include "common/status.h"
#include "common/util.h"

#define MD_HEAD_LEN 12 /* magic, version, length */
#define MD_FRAME_LEN (MD_HEAD_LEN + 4)
#define NAME_MAX_LEN 255
#define SYNCED_FOLDER_LEVELS 3 /* chk-<n>, the job folder, the store's root */
#define MD_VERSION_SEALED 3 /* sealed (checkpoint_store.h); 2 never used */
#define MD_ORIGIN_MIN 12 /* sealed body: u64 checkpoint id, u32 job id length, ... */

static const uint8_t md_magic[4] = {'S', 'L', 'M', 'D'};



/* ---- paths -------------------------------------------------------------- */

int sl_store_state_name_ok(const char *name)
{
    return sl_name_valid(name);
}

/* out = dir "/" name, without doubling a '/' that ends dir. */
static int join(char *out, size_t outlen, const char *dir, const char *name)
{
    size_t n = strlen(dir);
    const char *sep = n > 0 && dir[n - 1] == '/' ? "" : "/";
    int r = snprintf(out, outlen, "%s%s%s", dir, sep, name);

    return r < 0 || (size_t)r >= outlen ? SL_ENOSPC : SL_OK;
}

static int job_path(const char *root, const char *job_id, const char *leaf, char *out,
                    size_t outlen)
{
    char tmp[PATH_MAX];
    int rv;

    if (outlen > 0) {
        out[0] = '\0';
    }
    if (root == NULL || root[0] == '\0' || !sl_store_state_name_ok(job_id)) {
        return SL_EINVAL;
    }
    if (leaf == NULL) {
        return join(out, outlen, root, job_id);
    }
    if ((rv = join(tmp, sizeof(tmp), root, job_id)) != SL_OK) {
        return rv;
    }
    return join(out, outlen, tmp, leaf);
}

int sl_store_job_root(const char *root, const char *job_id, char *out, size_t outlen)
{
    return job_path(root, job_id, NULL, out, outlen);
}

int sl_store_checkpoint_path(const char *root, const char *job_id, uint64_t id, char *out,
                size_t outlen)
{
    char leaf[32];

    snprintf(leaf, sizeof(leaf), "chk-%" PRIu64, id);
    return job_path(root, job_id, leaf, out, outlen);
}

int sl_store_shared_path(const char *root, const char *job_id, char *out, size_t outlen)
{
    return job_path(root, job_id, SL_STORE_SHARED_DIR_NAME, out, outlen);
}

/* ---- metadata ----------------------------------------------------------- */

/* The body of a sealed _metadata: md's checkpoint id and job id in clear
 * (a reader of a savepoint learns them here), then the sealed packed md. */
static uint64_t sealed_body_len(const Sluice__CheckpointMetadata *md, size_t n)
{
    return MD_ORIGIN_MIN + strlen(md->job_id) + sl_seal_sealed_len(n);
}

/* Writes the sealed body into out; the packed md is at pt[0..n). */
static int seal_body(const sl_seal_key *k, const Sluice__CheckpointMetadata *md,
                     const uint8_t *pt, size_t n, uint8_t *out)
{
    size_t idlen = strlen(md->job_id);
    sl_seal_ad ad = {.job_id = md->job_id, .checkpoint_id = md->checkpoint_id,
                     .name = SL_STORE_METADATA_NAME};

    sl_put_le64(out, md->checkpoint_id);
    sl_put_le32(out + 8, (uint32_t)idlen);
    memcpy(out + MD_ORIGIN_MIN, md->job_id, idlen);
    return sl_seal_buf(k, &ad, pt, n, out + MD_ORIGIN_MIN + idlen, NULL, 0);
}

/* The framed sealed _metadata of the packed md pt[0..n). */
static int md_encode_sealed(const sl_seal_key *k, const Sluice__CheckpointMetadata *md,
                            const uint8_t *pt, size_t n, uint8_t **out, size_t *len)
{
    uint64_t body = sealed_body_len(md, n);
    uint8_t *buf;
    int rv;

    if (strlen(md->job_id) > SL_SEAL_JOB_ID_MAX) {
        return SL_EINVAL;
    }
    if (body > SL_STORE_METADATA_MAX - MD_FRAME_LEN) {
        return SL_ENOSPC;
    }
    if ((buf = malloc((size_t)body + MD_FRAME_LEN)) == NULL) {
        return SL_ENOMEM;
    }
    memcpy(buf, md_magic, 4);
    sl_put_le32(buf + 4, MD_VERSION_SEALED);
    sl_put_le32(buf + 8, (uint32_t)body);
    if ((rv = seal_body(k, md, pt, n, buf + MD_HEAD_LEN)) != SL_OK) {
        free(buf);
        return rv;
    }
    sl_put_le32(buf + MD_HEAD_LEN + body, sl_crc32c(0, buf, MD_HEAD_LEN + (size_t)body));
    *out = buf;
    *len = (size_t)body + MD_FRAME_LEN;
    return SL_OK;
}

static int md_encode(const Sluice__CheckpointMetadata *md, uint8_t **out, size_t *len)
{
    size_t n = sluice__checkpoint_metadata__get_packed_size(md);
    const sl_seal_key *k = sl_seal_process_key();
    uint8_t *buf;
    int rv;

    if (k != NULL) {
        if (n > SL_STORE_METADATA_MAX || (buf = malloc(n > 0 ? n : 1)) == NULL) {
            return n > SL_STORE_METADATA_MAX ? SL_ENOSPC : SL_ENOMEM;
        }
        rv = sluice__checkpoint_metadata__pack(md, buf) == n
                 ? md_encode_sealed(k, md, buf, n, out, len)
                 : SL_EINVAL;
        free(buf);
        return rv;
    }

    if (n > SL_STORE_METADATA_MAX - MD_FRAME_LEN) {
        return SL_ENOSPC;
    }
    if ((buf = malloc(n + MD_FRAME_LEN)) == NULL) {
        return SL_ENOMEM;
    }
    memcpy(buf, md_magic, 4);
    sl_put_le32(buf + 4, SL_STORE_METADATA_VERSION);
    sl_put_le32(buf + 8, (uint32_t)n);
    if (sluice__checkpoint_metadata__pack(md, buf + MD_HEAD_LEN) != n) {
        free(buf);
        return SL_EINVAL;
    }
    sl_put_le32(buf + MD_HEAD_LEN + n, sl_crc32c(0, buf, MD_HEAD_LEN + n));
    *out = buf;
    *len = n + MD_FRAME_LEN;
    return SL_OK;
}

/* Creates path with exactly buf[0..len), fsynced. Removes it on failure. */
static int write_synced(const char *path, const uint8_t *buf, size_t len, char *err,
                        size_t errlen)
{
    const char *what = "write";
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0) {
        sl_errf(err, errlen, "%s: open: %s", path, strerror(errno));
        return SL_EIO;
    }
    if (sl_fs_write_all(fd, buf, len) == SL_OK) {
        what = "fsync";
        if (fsync(fd) == 0) {
            what = "close";
            int r = close(fd);
            fd = -1;
            if (r == 0) {
                return SL_OK;
            }
        }
    }
    sl_errf(err, errlen, "%s: %s: %s", path, what, strerror(errno));
    if (fd >= 0) {
        close(fd);
    }
    unlink(path);
    return SL_EIO;
}

/* fsyncs chk_dir (its state files' and _metadata's names), its parent
 * (the job folder: chk_dir's name) and the parent's parent (the store's
 * root: the job folder's name, new with a job's first checkpoint). */
static int sync_folders(const char *chk_dir, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    int n = snprintf(dir, sizeof(dir), "%s", chk_dir);

    for (int level = 0; level < SYNCED_FOLDER_LEVELS && n > 0; level++) {
        while (n > 1 && dir[n - 1] == '/') {
            dir[--n] = '\0';
        }
        if (sl_fs_sync_dir(dir) != SL_OK) {
            sl_errf(err, errlen, "%s: fsync of folder: %s", dir, strerror(errno));
            return SL_EIO;
        }
        char *slash = strrchr(dir, '/');
        if (slash == NULL || slash == dir) {
            break;
        }
        *slash = '\0';
        n = (int)(slash - dir);
    }
    return SL_OK;
}

int sl_store_metadata_write(const char *chk_dir, const Sluice__CheckpointMetadata *md,
                      char *err, size_t errlen)
{
    char tmp[PATH_MAX], fin[PATH_MAX];
    uint8_t *buf = NULL;
    size_t len;
    int rv;

    if (join(tmp, sizeof(tmp), chk_dir, SL_STORE_METADATA_TMP_NAME) != SL_OK ||
        join(fin, sizeof(fin), chk_dir, SL_STORE_METADATA_NAME) != SL_OK) {
        sl_errf(err, errlen, "%s: path too long", chk_dir);
        return SL_ENOSPC;
    }
    if ((rv = md_encode(md, &buf, &len)) != SL_OK) {
        sl_errf(err, errlen, "%s: cannot encode metadata: %s", fin, sl_strerror(rv));
        return rv;
    }
    if (sl_fs_mkdir_p(chk_dir) != SL_OK) {
        sl_errf(err, errlen, "%s: mkdir: %s", chk_dir, strerror(errno));
        rv = SL_EIO;
        goto done;
    }
    if ((rv = write_synced(tmp, buf, len, err, errlen)) != SL_OK) {
        goto done;
    }
    if (rename(tmp, fin) != 0) {
        sl_errf(err, errlen, "%s: rename to %s: %s", tmp, SL_STORE_METADATA_NAME, strerror(errno));
        unlink(tmp);
        rv = SL_EIO;
        goto done;
    }
    if ((rv = sync_folders(chk_dir, err, errlen)) != SL_OK) {
        unlink(fin); /* not durable: never taken for a checkpoint */
    }
done:
    free(buf);
    return rv;
}

/* Opens the sealed body b[0..n) in place: *pt, *ptlen the packed md; id
 * and job (job_id_max + 1 bytes) what the body says it belongs to. */
static int open_body(const char *path, uint8_t *b, size_t n, uint64_t *id, char *job,
                     uint8_t **pt, size_t *ptlen, char *err, size_t errlen)
{
    char why[256];
    uint32_t idlen = n >= MD_ORIGIN_MIN ? sl_get_le32(b + 8) : 0;
    sl_seal_ad ad = {.job_id = job, .name = SL_STORE_METADATA_NAME};

    if (n < MD_ORIGIN_MIN || idlen > SL_SEAL_JOB_ID_MAX || idlen > n - MD_ORIGIN_MIN) {
        sl_errf(err, errlen, "%s: sealed metadata with a bad header", path);
        return SL_EINVAL;
    }
    *id = ad.checkpoint_id = sl_get_le64(b);
    memcpy(job, b + MD_ORIGIN_MIN, idlen);
    job[idlen] = '\0';
    *pt = b + MD_ORIGIN_MIN + idlen;
    if (sl_seal_open_buf(sl_seal_process_key(), &ad, *pt, n - MD_ORIGIN_MIN - idlen, ptlen,
                         why, sizeof(why)) != SL_OK) {
        sl_errf(err, errlen, "%s: %s", path, why);
        return SL_EINVAL;
    }
    return SL_OK;
}

/* Unpacks the body b[0..n) of a frame of version ver. */
static int md_unpack(const char *path, uint32_t ver, uint8_t *b, size_t n,
                     Sluice__CheckpointMetadata **md, char *err, size_t errlen)
{
    char job[SL_SEAL_JOB_ID_MAX + 1];
    uint8_t *pt = b;
    size_t ptlen = n;
    uint64_t id = 0;

    if (ver == MD_VERSION_SEALED &&
        open_body(path, b, n, &id, job, &pt, &ptlen, err, errlen) != SL_OK) {
        return SL_EINVAL;
    }
    if (ver != MD_VERSION_SEALED && sl_seal_process_key() != NULL) {
        sl_seal_warn_unsealed(path);
    }
    if ((*md = sluice__checkpoint_metadata__unpack(NULL, ptlen, pt)) == NULL) {
        sl_errf(err, errlen, "%s: malformed CheckpointMetadata", path);
        return SL_EINVAL;
    }
    if (ver == MD_VERSION_SEALED && ((*md)->checkpoint_id != id || strcmp((*md)->job_id, job))) {
        sl_errf(err, errlen, "%s: sealed for checkpoint %llu of job %s but describes another",
                path, (unsigned long long)id, job);
        sluice__checkpoint_metadata__free_unpacked(*md, NULL);
        *md = NULL;
        return SL_EINVAL;
    }
    return SL_OK;
}

static int md_decode(const char *path, uint8_t *buf, size_t len,
                     Sluice__CheckpointMetadata **md, char *err, size_t errlen)
{
    uint32_t n, stored, computed, ver;

    if (len < MD_FRAME_LEN) {
        sl_errf(err, errlen, "%s: truncated: %zu bytes", path, len);
        return SL_EINVAL;
    }
    n = sl_get_le32(buf + 8);
    ver = sl_get_le32(buf + 4);
    if (memcmp(buf, md_magic, 4) != 0) {
        sl_errf(err, errlen, "%s: bad magic (not a metadata file)", path);
    } else if (ver != SL_STORE_METADATA_VERSION && ver != MD_VERSION_SEALED) {
        sl_errf(err, errlen, "%s: unsupported version %u", path, sl_get_le32(buf + 4));
    } else if (n != len - MD_FRAME_LEN) {
        sl_errf(err, errlen, "%s: %slength %u, file holds %zu", path,
               n > len - MD_FRAME_LEN ? "truncated: " : "", n, len - MD_FRAME_LEN);
    } else if ((stored = sl_get_le32(buf + MD_HEAD_LEN + n)) !=
               (computed = sl_crc32c(0, buf, MD_HEAD_LEN + n))) {
        sl_errf(err, errlen, "%s: checksum mismatch: stored 0x%08x, computed 0x%08x", path,
               stored, computed);
    } else {
        return md_unpack(path, ver, buf + MD_HEAD_LEN, n, md, err, errlen);
    }
    return SL_EINVAL;
}

int sl_store_metadata_read(const char *chk_dir, Sluice__CheckpointMetadata **md, char *err,
                     size_t errlen)
{
    char path[PATH_MAX];
    char *data = NULL;
    size_t len;
    int rv;

    *md = NULL;
    if (join(path, sizeof(path), chk_dir, SL_STORE_METADATA_NAME) != SL_OK) {
        sl_errf(err, errlen, "%s: path too long", chk_dir);
        return SL_ENOSPC;
    }
    rv = sl_read_file(path, SL_STORE_METADATA_MAX, &data, &len);
    switch (rv) {
    case SL_OK:
        break;
    case SL_ENOTFOUND: sl_errf(err, errlen, "%s: no such file", path); return rv;
    case SL_ENOSPC:
        sl_errf(err, errlen, "%s: larger than %u bytes", path, SL_STORE_METADATA_MAX);
        return SL_EINVAL;
    default: sl_errf(err, errlen, "%s: read: %s", path, strerror(errno)); return rv;
    }
    rv = md_decode(path, (uint8_t *)data, len, md, err, errlen);
    free(data);
    return rv;
}

int sl_store_verify(const char *chk_dir, const Sluice__CheckpointMetadata *md,
                         char *err, size_t errlen)
{
    char path[PATH_MAX];
    int rv;

    for (size_t i = 0; i < md->n_states; i++) {
        const Sluice__StateHandle *h = md->states[i];
        if (!sl_store_state_name_ok(h->path)) {
            sl_errf(err, errlen, "%s: state %zu (stage %s, subtask %u): bad path \"%s\"",
                   chk_dir, i, h->stage, h->subtask, h->path != NULL ? h->path : "");
            return SL_EINVAL;
        }
        if (h->size < SL_STATE_HEADER_LEN + SL_STATE_TRAILER_LEN) {
            sl_errf(err, errlen, "%s: state %zu (%s): bad size %" PRIu64, chk_dir, i,
                   h->path, h->size);
            return SL_EINVAL;
        }
        if (join(path, sizeof(path), chk_dir, h->path) != SL_OK) {
            sl_errf(err, errlen, "%s: path too long", chk_dir);
            return SL_ENOSPC;
        }
        sl_state_origin o = {.job_id = md->job_id, .checkpoint_id = md->checkpoint_id};
        if ((rv = sl_state_file_verify_for(path, &o, h->size, h->crc32c, err, errlen)) !=
            SL_OK) {
            return rv;
        }
    }
    return SL_OK;
}

/* ---- listing ------------------------------------------------------------ */

/* 1 if name is "chk-<n>" with n canonical decimal (no sign, no leading 0). */
static int parse_chk_name(const char *name, uint64_t *id)
{
    const char *s = name + 4;
    uint64_t v = 0;

    if (strncmp(name, "chk-", 4) != 0 || *s == '\0' || (s[0] == '0' && s[1] != '\0')) {
        return 0;
    }
    for (; *s != '\0'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    *id = v;
    return 1;
}

static int is_checkpoint_dir(int dfd, const char *name, int complete_only)
{
    char rel[NAME_MAX_LEN + sizeof(SL_STORE_METADATA_NAME) + 2];
    struct stat st;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
        return 0;
    }
    if (!complete_only) {
        return 1;
    }
    if (join(rel, sizeof(rel), name, SL_STORE_METADATA_NAME) != SL_OK) {
        return 0;
    }
    return fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static int push_id(uint64_t **ids, size_t *n, size_t *cap, uint64_t id)
{
    if (*n == *cap) {
        size_t ncap = *cap > 0 ? *cap * 2 : 16;
        uint64_t *p = realloc(*ids, ncap * sizeof(*p));
        if (p == NULL) {
            return SL_ENOMEM;
        }
        *ids = p;
        *cap = ncap;
    }
    (*ids)[(*n)++] = id;
    return SL_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int list_ids(const char *root, const char *job_id, int complete_only,
                    uint64_t **ids, size_t *n)
{
    char dir[PATH_MAX];
    size_t cap = 0;
    struct dirent *e;
    DIR *d;
    uint64_t id;
    int rv;

    *ids = NULL;
    *n = 0;
    if ((rv = sl_store_job_root(root, job_id, dir, sizeof(dir))) != SL_OK) {
        return rv;
    }
    if ((d = opendir(dir)) == NULL) {
        return errno == ENOENT ? SL_OK : SL_EIO;
    }
    while (rv == SL_OK && (e = readdir(d)) != NULL) {
        if (parse_chk_name(e->d_name, &id) &&
            is_checkpoint_dir(dirfd(d), e->d_name, complete_only)) {
            rv = push_id(ids, n, &cap, id);
        }
    }
    closedir(d);
    if (rv != SL_OK) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return rv;
    }
    if (*n > 1) {
        qsort(*ids, *n, sizeof(**ids), cmp_u64);
    }
    return SL_OK;
}

int sl_store_list(const char *root, const char *job_id, uint64_t **ids, size_t *n)
{
    return list_ids(root, job_id, 1, ids, n);
}

int sl_store_list_all(const char *root, const char *job_id, uint64_t **ids,
                           size_t *n)
{
    return list_ids(root, job_id, 0, ids, n);
}

/* ---- removal ------------------------------------------------------------ */
