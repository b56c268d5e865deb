/* The file sink's two-phase commit on a folder of part files (see
 * file_sink_commit.h). */
#include "taskmanager/operators/file_sink_commit.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/state_file.h"
#include "common/status.h"
#include "common/util.h"

#define STATE_VERSION 2
#define PART_PREFIX "part-"
#define PART_PREFIX_LEN 5
#define HIDDEN_SUFFIX ".inprogress"
#define STDIO_BUFFER_BYTES (1 << 16) /* of an open part file */
#define LOGGED_NAME_BYTES 300        /* a file name quoted in a warning */

/* ---- the crash seam */

/* Counts a durable step; fails it (EIO) from crash_at on. */
static int step(sl_fsc_crash *c, sl_fsc_step kind, const char *path)
{
    if (c == NULL)
        return SL_OK;
    int64_t k = c->steps++;
    if (c->crash_at < 0 || k < c->crash_at)
        return SL_OK;
    if (k == c->crash_at) {
        c->kind = kind;
        snprintf(c->path, sizeof(c->path), "%s", path);
    }
    errno = EIO;
    return SL_EIO;
}

static int fsync_dir(sl_fsc_crash *c, const char *dir)
{
    if (step(c, SL_FSC_STEP_FSYNC_DIR, dir) != SL_OK)
        return SL_EIO;
    return sl_fs_sync_dir(dir);
}

/* ---- names */

void sl_fsc_part_name(char *out, size_t len, const char *dir, const char *uid, int subtask,
                      int64_t n, int hidden)
{
    snprintf(out, len, "%s/%s" PART_PREFIX "%s-%d-%lld%s", dir, hidden ? "." : "", uid, subtask,
             (long long)n, hidden ? HIDDEN_SUFFIX : "");
}

static void own_part(char *out, size_t len, const sl_fsc_writer *w, int64_t n, int hidden)
{
    sl_fsc_part_name(out, len, w->dir, w->uid, w->subtask, n, hidden);
}

/* Parses [.]part-<uid>-<subtask>-<n>[.inprogress]; 1 if it is one. */
static int parse_part(const char *name, char *uid, int *subtask, int64_t *n, int *hidden)
{
    *hidden = name[0] == '.';
    const char *p = name + *hidden;
    const char *after_uid = p + PART_PREFIX_LEN + SL_FSC_UID_LEN;
    long long nn;
    int st, used = 0;
    if (strncmp(p, PART_PREFIX, PART_PREFIX_LEN) != 0 ||
        strlen(p) < PART_PREFIX_LEN + SL_FSC_UID_LEN || *after_uid != '-')
        return 0;
    memcpy(uid, p + PART_PREFIX_LEN, SL_FSC_UID_LEN);
    uid[SL_FSC_UID_LEN] = '\0';
    if (!sl_is_hex(uid, SL_FSC_UID_LEN) || sscanf(after_uid + 1, "%d-%lld%n", &st, &nn, &used) != 2)
        return 0;
    const char *rest = after_uid + 1 + used;
    if (strcmp(rest, *hidden ? HIDDEN_SUFFIX : "") != 0)
        return 0;
    if (st < 0 || nn < 0)
        return 0;
    *subtask = st;
    *n = nn;
    return 1;
}

/* ---- the folder */

int sl_fsc_make_folder(const char *dir, sl_fsc_crash *crash, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", dir);
    int rv = buf[0] == '\0' ? SL_EIO : SL_OK;
    for (char *p = buf + 1; rv == SL_OK; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int made = step(crash, SL_FSC_STEP_MKDIR, buf) == SL_OK && mkdir(buf, 0755) == 0;
        if (!made && errno != EEXIST)
            rv = SL_EIO;
        else if (made && (step(crash, SL_FSC_STEP_FSYNC_DIR, buf) != SL_OK ||
                          sl_fs_sync_parent(buf) != SL_OK))
            rv = SL_EIO;
        *p = c;
        if (c == '\0')
            break;
    }
    if (rv != SL_OK)
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    return rv;
}

/* ---- staging */

/* The path of the file open as f (from /proc/self/fd), else the folder's
 * name with "a part file in": for messages only. Returns out. */
static const char *open_name(const sl_fsc_writer *w, FILE *f, char *out, size_t len)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fileno(f));
    ssize_t n = len > 1 ? readlink(link, out, len - 1) : -1;
    if (n > 0) {
        out[n] = '\0';
        return out;
    }
    snprintf(out, len, "a part file in %s", w->dir);
    return out;
}

int sl_fsc_open(const sl_fsc_writer *w, int64_t n, FILE **f, char *err, size_t errlen)
{
    char path[PATH_MAX];
    own_part(path, sizeof(path), w, n, 1);
    *f = step(w->crash, SL_FSC_STEP_CREATE, path) == SL_OK ? fopen(path, "we") : NULL;
    if (*f == NULL) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return SL_EIO;
    }
    setvbuf(*f, NULL, _IOFBF, STDIO_BUFFER_BYTES);
    return SL_OK;
}

int sl_fsc_write(const sl_fsc_writer *w, FILE *f, const void *buf, size_t len, char *err,
                 size_t errlen)
{
    char path[PATH_MAX];
    if (step(w->crash, SL_FSC_STEP_WRITE, w->dir) == SL_OK && fwrite(buf, 1, len, f) == len)
        return SL_OK;
    int e = errno;
    snprintf(err, errlen, "cannot write %s: %s", open_name(w, f, path, sizeof(path)),
             strerror(e));
    return SL_EIO;
}

/* Flushes, fsyncs and closes *f (always: *f = NULL), then fsyncs the
 * folder: the hidden file's name, before the ack. */
static int seal(const sl_fsc_writer *w, FILE **f, char *err, size_t errlen)
{
    char path[PATH_MAX];
    FILE *fp = *f;
    *f = NULL;
    open_name(w, fp, path, sizeof(path));
    const char *what = "write";
    int bad = step(w->crash, SL_FSC_STEP_FSYNC_FILE, w->dir) != SL_OK || fflush(fp) != 0;
    if (!bad) {
        what = "fsync";
        bad = fsync(fileno(fp)) != 0;
    }
    int e = errno;
    if (fclose(fp) != 0 && !bad) {
        what = "close";
        bad = 1;
        e = errno;
    }
    if (bad) {
        snprintf(err, errlen, "cannot %s %s: %s", what, path, strerror(e));
        return SL_EIO;
    }
    if (fsync_dir(w->crash, w->dir) != SL_OK) {
        snprintf(err, errlen, "cannot fsync folder %s (after sealing %s): %s", w->dir, path,
                 strerror(errno));
        return SL_EIO;
    }
    return SL_OK;
}

int sl_fsc_seal_pending(const sl_fsc_writer *w, FILE **f, int64_t n, uint64_t chk,
                        sl_fsc_pending *pend, int *npend, char *err, size_t errlen)
{
    if (*npend == SL_FSC_MAX_PENDING) {
        snprintf(err, errlen, "more than %d uncommitted part files", SL_FSC_MAX_PENDING);
        return SL_EIO;
    }
    int rv = seal(w, f, err, errlen);
    if (rv == SL_OK)
        pend[(*npend)++] = (sl_fsc_pending){.chk = chk, .n = n};
    return rv;
}

void sl_fsc_discard(const sl_fsc_writer *w, FILE **f, int64_t n, int remove)
{
    char path[PATH_MAX];
    if (*f == NULL)
        return;
    fclose(*f);
    *f = NULL;
    own_part(path, sizeof(path), w, n, 1);
    if (remove && step(w->crash, SL_FSC_STEP_UNLINK, path) == SL_OK)
        unlink(path);
}

/* ---- the state */

static int put_lineage(sl_buf *out, const char *uid, int subtask, int64_t covered)
{
    int rv = sl_buf_put_bytes(out, uid, SL_FSC_UID_LEN);
    if (rv == SL_OK)
        rv = sl_buf_put_varint(out, (uint64_t)subtask);
    return rv == SL_OK ? sl_buf_put_varint(out, (uint64_t)(covered + 1)) : rv;
}

int sl_fsc_record(const sl_fsc_writer *w, int parallelism, const sl_fsc_lineages *held,
                  int64_t next_n, sl_buf *out)
{
    int own = next_n > 0;
    uint64_t head[4] = {STATE_VERSION, (uint64_t)w->subtask, (uint64_t)parallelism,
                        (uint64_t)(held->n + own)};
    int rv = SL_OK;
    for (int k = 0; k < 4 && rv == SL_OK; k++)
        rv = sl_buf_put_varint(out, head[k]);
    for (int i = 0; i < held->n && rv == SL_OK; i++)
        rv = put_lineage(out, held->v[i].uid, held->v[i].subtask, held->v[i].covered);
    if (rv == SL_OK && own)
        rv = put_lineage(out, w->uid, w->subtask, next_n - 1);
    return rv;
}

static int grow(sl_fsc_lineages *l, int want)
{
    if (want <= l->cap)
        return SL_OK;
    if (want > SL_FSC_MAX_LINEAGES)
        return SL_ENOSPC;
    int c = l->cap ? l->cap * 2 : 16;
    while (c < want)
        c *= 2;
    sl_fsc_lineage *nv = realloc(l->v, (size_t)c * sizeof(*nv));
    if (nv == NULL)
        return SL_ENOMEM;
    l->v = nv;
    l->cap = c;
    return SL_OK;
}

static int read_lineage(sl_fsc_pool *p, sl_state_cursor *c, int owner)
{
    const uint8_t *uid;
    char hex[SL_FSC_UID_LEN + 1];
    size_t n;
    uint64_t subtask, covered;
    if (sl_state_cursor_bytes(c, &uid, &n) != SL_OK || n != SL_FSC_UID_LEN)
        return SL_EINVAL;
    memcpy(hex, uid, SL_FSC_UID_LEN);
    hex[SL_FSC_UID_LEN] = '\0';
    if (!sl_is_hex(hex, SL_FSC_UID_LEN) ||
        sl_state_cursor_varint(c, &subtask) != SL_OK || subtask > INT32_MAX ||
        sl_state_cursor_varint(c, &covered) != SL_OK || covered > INT64_MAX)
        return SL_EINVAL;
    int rv = grow(&p->all, p->all.n + 1);
    if (rv != SL_OK)
        return rv;
    sl_fsc_lineage *l = &p->all.v[p->all.n++];
    memcpy(l->uid, hex, sizeof(hex));
    l->subtask = (int)subtask;
    l->covered = (int64_t)covered - 1;
    l->owner = owner;
    return SL_OK;
}

static int seen_before(const sl_fsc_pool *p, int subtask)
{
    for (int i = 0; i < p->nseen; i++)
        if (p->seen[i] == subtask)
            return 1;
    return 0;
}

/* Reads the header of one old subtask's state. */
static int read_head(sl_fsc_pool *p, sl_state_cursor *c, uint64_t *subtask, uint64_t *count)
{
    uint64_t version, par;
    if (sl_state_cursor_varint(c, &version) != SL_OK || version != STATE_VERSION ||
        sl_state_cursor_varint(c, subtask) != SL_OK || sl_state_cursor_varint(c, &par) != SL_OK ||
        sl_state_cursor_varint(c, count) != SL_OK || par < 1 || par > SL_FSC_MAX_LINEAGES ||
        *subtask >= par || *count > SL_FSC_MAX_LINEAGES ||
        (p->old_par != 0 && (uint64_t)p->old_par != par) || seen_before(p, (int)*subtask))
        return SL_EINVAL;
    if (p->seen == NULL && (p->seen = calloc(par, sizeof(*p->seen))) == NULL)
        return SL_ENOMEM;
    p->old_par = (int)par;
    p->seen[p->nseen++] = (int)*subtask;
    return SL_OK;
}

int sl_fsc_pool_add(sl_fsc_pool *p, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    sl_state_cursor c;
    uint64_t subtask, count;
    sl_state_cursor_init(&c, data, len);
    int rv = read_head(p, &c, &subtask, &count);
    for (uint64_t i = 0; i < count && rv == SL_OK; i++)
        rv = read_lineage(p, &c, (int)subtask);
    if (rv == SL_OK && sl_state_cursor_remaining(&c) != 0)
        rv = SL_EINVAL;
    if (rv != SL_OK) {
        snprintf(err, errlen, "file sink: malformed state (%s)", sl_strerror(rv));
        return SL_EIO;
    }
    return SL_OK;
}

static int cmp_lineage(const void *a, const void *b)
{
    const sl_fsc_lineage *x = a, *y = b;
    int c = strcmp(x->uid, y->uid);
    return c != 0 ? c : (x->subtask > y->subtask) - (x->subtask < y->subtask);
}

int sl_fsc_pool_deal(sl_fsc_pool *p, int subtask, int parallelism, sl_fsc_lineages *held,
                     char *err, size_t errlen)
{
    if (p->nseen != p->old_par) {
        snprintf(err, errlen, "file sink: the checkpoint holds the state of %d of %d subtasks",
                 p->nseen, p->old_par);
        return SL_EIO;
    }
    if (p->old_par != parallelism && p->all.n > 1) /* none: all.v is NULL */
        qsort(p->all.v, (size_t)p->all.n, sizeof(*p->all.v), cmp_lineage);
    int rv = SL_OK;
    for (int k = 0; k < p->all.n && rv == SL_OK; k++) {
        int mine = p->old_par == parallelism ? p->all.v[k].owner == subtask
                                             : k % parallelism == subtask;
        if (mine && (rv = grow(held, held->n + 1)) == SL_OK)
            held->v[held->n++] = p->all.v[k];
    }
    sl_fsc_lineages_free(&p->all);
    if (rv != SL_OK)
        snprintf(err, errlen, "file sink: more than %d lineages", SL_FSC_MAX_LINEAGES);
    return rv == SL_OK ? SL_OK : SL_EIO;
}

void sl_fsc_lineages_free(sl_fsc_lineages *l)
{
    free(l->v);
    *l = (sl_fsc_lineages){0};
}

void sl_fsc_pool_free(sl_fsc_pool *p)
{
    sl_fsc_lineages_free(&p->all);
    free(p->seen);
    *p = (sl_fsc_pool){0};
}

/* ---- committing */

static int commit_one(const sl_fsc_writer *w, int64_t n, char *err, size_t errlen)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    own_part(tmp, sizeof(tmp), w, n, 1);
    own_part(final, sizeof(final), w, n, 0);
    if (step(w->crash, SL_FSC_STEP_RENAME, final) != SL_OK || rename(tmp, final) != 0) {
        snprintf(err, errlen, "cannot commit %s: %s", final, strerror(errno));
        return SL_EIO;
    }
    return SL_OK;
}

static int sync_committed(const sl_fsc_writer *w, char *err, size_t errlen)
{
    if (fsync_dir(w->crash, w->dir) == SL_OK)
        return SL_OK;
    snprintf(err, errlen, "cannot sync %s after committing: %s", w->dir, strerror(errno));
    return SL_EIO;
}

int sl_fsc_commit_upto(const sl_fsc_writer *w, sl_fsc_pending *pend, int *npend, uint64_t chk,
                       char *err, size_t errlen)
{
    int kept = 0, committed = 0, rv = SL_OK;
    for (int i = 0; i < *npend; i++) {
        if (pend[i].chk <= chk && rv == SL_OK) {
            rv = commit_one(w, pend[i].n, err, errlen);
            committed++;
        } else {
            pend[kept++] = pend[i];
        }
    }
    *npend = kept;
    if (rv == SL_OK && committed > 0)
        rv = sync_committed(w, err, errlen);
    return rv;
}

int sl_fsc_commit_open(const sl_fsc_writer *w, FILE **f, int64_t n, char *err, size_t errlen)
{
    int rv = seal(w, f, err, errlen);
    if (rv == SL_OK)
        rv = commit_one(w, n, err, errlen);
    return rv == SL_OK ? sync_committed(w, err, errlen) : rv;
}

/* ---- reconcile after a restart */

static sl_fsc_lineage *find_lineage(sl_fsc_lineages *held, const char *uid, int subtask)
{
    for (int i = 0; i < held->n; i++)
        if (strcmp(held->v[i].uid, uid) == 0 && held->v[i].subtask == subtask)
            return &held->v[i];
    return NULL;
}

static int own_job(const sl_fsc_writer *w, const char *uid)
{
    return strncmp(uid, w->job_id, SL_FSC_JOB_PREFIX_LEN) == 0;
}

/* What reconcile does with a part file. */
enum { ACT_LEAVE, ACT_COMMIT, ACT_DELETE, ACT_KEEP_AFTER };

/* A visible file is never deleted; ACT_KEEP_AFTER: one of this job,
 * committed after the restored checkpoint (or with none restored). */
static int reconcile_action(const sl_fsc_writer *w, const sl_fsc_lineage *l, const char *uid,
                            int subtask, int64_t n, int hidden)
{
    int covered = l != NULL && n <= l->covered;
    if (own_job(w, uid)) {
        if (covered)
            return hidden ? ACT_COMMIT : ACT_LEAVE;
        if (subtask != w->subtask && l == NULL)
            return ACT_LEAVE; /* another subtask's */
        return hidden ? ACT_DELETE : ACT_KEEP_AFTER;
    }
    if (l == NULL || !hidden)
        return ACT_LEAVE;
    return covered ? ACT_COMMIT : ACT_DELETE;
}

/* Visible files of this job kept past the restored checkpoint. */
typedef struct kept_after {
    int64_t count;
    char first[LOGGED_NAME_BYTES]; /* the first of them, for the log */
} kept_after;

/* After a failed rename: 1 if the hidden file is gone because its writer
 * committed it meanwhile (a stale run of a lost taskmanager, told that a
 * checkpoint the restored one includes completed, renames the same file). */
static int committed_meanwhile(const char *final)
{
    struct stat st;
    return errno == ENOENT && stat(final, &st) == 0;
}

static int reconcile_one(const sl_fsc_writer *w, sl_fsc_lineages *held, const char *name,
                         kept_after *kept)
{
    char uid[SL_FSC_UID_LEN + 1], path[PATH_MAX], final[PATH_MAX];
    int subtask, hidden;
    int64_t n;
    if (!parse_part(name, uid, &subtask, &n, &hidden) || strcmp(uid, w->uid) == 0)
        return SL_OK;
    sl_fsc_lineage *l = find_lineage(held, uid, subtask);
    int act = reconcile_action(w, l, uid, subtask, n, hidden);
    if (l != NULL && n <= l->covered && own_job(w, uid))
        l->found++;
    sl_fsc_part_name(path, sizeof(path), w->dir, uid, subtask, n, hidden);
    switch (act) {
    case ACT_COMMIT:
        sl_fsc_part_name(final, sizeof(final), w->dir, uid, subtask, n, 0);
        sl_info("file sink %s: committing %s (covered by the restored checkpoint)", w->name,
                final);
        if (step(w->crash, SL_FSC_STEP_RENAME, final) != SL_OK)
            return SL_EIO;
        return rename(path, final) == 0 || committed_meanwhile(final) ? SL_OK : SL_EIO;
    case ACT_DELETE:
        sl_info("file sink %s: removing %s (not covered by the restored checkpoint)", w->name,
                path);
        if (step(w->crash, SL_FSC_STEP_UNLINK, path) != SL_OK)
            return SL_EIO;
        return (unlink(path) == 0 || errno == ENOENT) ? SL_OK : SL_EIO;
    case ACT_KEEP_AFTER:
        if (kept->count++ == 0)
            snprintf(kept->first, sizeof(kept->first), "%s", name);
        return SL_OK;
    default:
        return SL_OK;
    }
}

/* Every file a lineage of this job covers is there (visible by now). */
static int check_covered(const sl_fsc_writer *w, const sl_fsc_lineages *held, char *err,
                         size_t errlen)
{
    char path[PATH_MAX];
    struct stat st;
    for (int i = 0; i < held->n; i++) {
        const sl_fsc_lineage *l = &held->v[i];
        if (!own_job(w, l->uid) || l->found > l->covered)
            continue;
        for (int64_t n = 0; n <= l->covered; n++) {
            sl_fsc_part_name(path, sizeof(path), w->dir, l->uid, l->subtask, n, 0);
            if (stat(path, &st) == 0)
                continue;
            snprintf(err, errlen,
                     "file sink %s: part file %s is missing, though the restored "
                     "checkpoint covers it (committed output was lost or removed): %s",
                     w->name, path, strerror(errno));
            return SL_EIO;
        }
    }
    return SL_OK;
}

/* Reconciled lineages of other jobs are not carried any more. */
static void drop_foreign(const sl_fsc_writer *w, sl_fsc_lineages *held)
{
    int kept = 0;
    for (int i = 0; i < held->n; i++)
        if (own_job(w, held->v[i].uid))
            held->v[kept++] = held->v[i];
    held->n = kept;
}

int sl_fsc_reconcile(const sl_fsc_writer *w, sl_fsc_lineages *held, char *err, size_t errlen)
{
    DIR *d = opendir(w->dir);
    if (d == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", w->dir, strerror(errno));
        return SL_EIO;
    }
    kept_after kept = {0};
    int rv = SL_OK;
    struct dirent *de;
    for (int i = 0; i < held->n; i++)
        held->v[i].found = 0;
    while (rv == SL_OK && (de = readdir(d)) != NULL)
        rv = reconcile_one(w, held, de->d_name, &kept);
    closedir(d);
    if (rv == SL_OK)
        rv = fsync_dir(w->crash, w->dir);
    if (rv != SL_OK) {
        snprintf(err, errlen, "cannot reconcile %s: %s", w->dir, strerror(errno));
        return SL_EIO;
    }
    if (kept.count > 0)
        sl_warn("file sink %s: %lld committed part file(s) of this job (%s ...) hold output "
                "past the restored checkpoint; they stay, and their records may be written again",
                w->name, (long long)kept.count, kept.first);
    if ((rv = check_covered(w, held, err, errlen)) != SL_OK)
        return rv;
    drop_foreign(w, held);
    return SL_OK;
}
