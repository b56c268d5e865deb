/* `sink: file`, format csv or json, exactly-once by two-phase commit.
 *
 * csv: fields in order, RFC 4180 quoting where needed (sl_value_format_csv).
 * json: one object per line with the input's field names
 * (sl_row_format_json). Lines end with \n.
 *
 * Each subtask writes part files part-<uid>-<subtask>-<n>, uid = the job
 * id's first 8 hex digits + 8 random ones (fresh per deployment, so names
 * never collide across restarts). A file in progress is hidden as
 * .part-<uid>-<subtask>-<n>.inprogress.
 *   snapshot(k)        the open file is fsynced and closed: pending for k
 *   notify_complete(k) pending files of checkpoints <= k are renamed visible
 *   finish             (end of input, after the final checkpoint completed,
 *                      or checkpointing off) everything is committed
 *   cancel/failure     the open file is deleted; pending ones stay for the
 *                      restore to decide
 * Durability: a hidden file is fsynced and so is the folder (its name)
 * before the snapshot is acked; after every commit (rename) and every
 * reconcile the folder is fsynced before the sink goes on. A visible file
 * is committed output: nothing here ever deletes one.
 * The snapshot records lineages: per (uid, subtask) written under, the
 * highest n the checkpoint covers. State (version 2): varint 2, old
 * subtask, old parallelism, lineage count, then per lineage the 16 uid
 * bytes (length-prefixed), varint subtask, varint covered + 1.
 *
 * A restored subtask reconciles its folder against its lineages before
 * writing:
 *   lineages of THIS job (uid starts with its id): covered files become
 *     visible (pending ones whose notification was lost); every other
 *     hidden file of this job and of this subtask (or of a lineage it
 *     holds) is deleted (data after the checkpoint). Visible files stay,
 *     also those committed after the restored checkpoint (a newer one that
 *     did not verify, or a restart without state allowed by
 *     execution.state-recovery.allow-empty-on-failure): their records may
 *     be written again, which is logged. A covered file that is missing
 *     (lost, or removed by someone) fails the task naming it. These
 *     lineages are carried in every later snapshot.
 *   lineages of ANOTHER job (restored from its savepoint or retained
 *     checkpoint): covered hidden files are committed, uncovered hidden
 *     ones deleted, visible files never touched. Once reconciled they are
 *     not carried any more.
 * That makes the committed output exactly-once.
 *
 * Rescaling (`redistribute`): every subtask receives the lineages of all
 * old subtasks; with the same parallelism it keeps its own old state, else
 * the lineages sorted by (uid, subtask) are dealt round robin (k % P'). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/row_text.h"
#include "taskmanager/operators/row_json.h"
#include "common/state_file.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/operators/operator.h"

#define LINE_MAX_BYTES (4u << 20)
#define MAX_PENDING 4096
#define MAX_LINEAGES 65536
#define STATE_VERSION 2

typedef struct lineage {
    char uid[17];
    int subtask;     /* the subtask that wrote it */
    int64_t covered; /* files n <= covered are part of the checkpoint */
    int owner;       /* restore: old subtask whose state held it */
    int64_t found;   /* reconcile: covered files seen */
} lineage;

typedef struct pending {
    uint64_t chk;
    int64_t n;
} pending;

typedef struct file_sink {
    char dir[3072];
    char uid[17];
    int64_t n;        /* index of the open or next file */
    FILE *f;
    pending pend[MAX_PENDING];
    int npend;
    lineage *lin;     /* lineages this subtask holds (restored) */
    int nlin, caplin;
    lineage *pool;    /* restore: the lineages of every old subtask */
    int npool, cappool, old_par;
    int *seen;        /* restore: old subtasks seen, old_par of them at most */
    int nseen;
    int reconciled;
    int64_t kept_after;     /* reconcile: visible files past the checkpoint */
    char first_after[300];  /* the first of them, for the log */
    char *line;
    const sl_schema *json; /* format json: the input's fields; NULL for csv */
} file_sink;

static void part_name(char *out, size_t len, const file_sink *s, const char *uid, int subtask,
                      int64_t n, int hidden)
{
    snprintf(out, len, "%s/%spart-%s-%d-%lld%s", s->dir, hidden ? "." : "", uid, subtask,
             (long long)n, hidden ? ".inprogress" : "");
}

/* mkdir -p; the parent of every folder it creates is fsynced. */
static int mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    if (buf[0] == '\0')
        return SL_EIO;
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int made = mkdir(buf, 0755) == 0;
        if (!made && errno != EEXIST)
            return SL_EIO;
        if (made && sl_fsync_parent(buf) != SL_OK)
            return SL_EIO;
        *p = c;
        if (c == '\0')
            return SL_OK;
    }
}

static int sink_open(sl_operator *op)
{
    const sl_op_ctx *t = &op->ctx;
    file_sink *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return SL_ENOMEM;
    op->impl = s;
    snprintf(s->dir, sizeof(s->dir), "%s", sl_stage_param(op->stage, "path"));
    if (mkdirs(s->dir) != SL_OK)
        return sl_op_fail(op, "cannot create %s: %s", s->dir, strerror(errno));
    char rnd[9];
    sl_random_hex(rnd, 4);
    snprintf(s->uid, sizeof(s->uid), "%.8s%s", t->job_id, rnd);
    /* a first attempt has nothing to reconcile */
    s->reconciled = t->attempt <= 1 && !t->restoring;
    const char *format = sl_stage_param(op->stage, "format");
    if (format != NULL && strcmp(format, "json") == 0)
        s->json = op->in[0];
    s->line = malloc(LINE_MAX_BYTES);
    return s->line ? SL_OK : SL_ENOMEM;
}

/* ---- reconcile after a restart */

/* Parses [.]part-<uid>-<subtask>-<n>[.inprogress]; 1 if it is one. */
static int parse_part(const char *name, char *uid, int *subtask, int64_t *n, int *hidden)
{
    *hidden = name[0] == '.';
    const char *p = name + *hidden;
    long long nn;
    int st, used = 0;
    if (strncmp(p, "part-", 5) != 0 || strlen(p) < 5 + 16 || p[21] != '-')
        return 0;
    memcpy(uid, p + 5, 16);
    uid[16] = '\0';
    if (!sl_is_hex(uid, 16) || sscanf(p + 22, "%d-%lld%n", &st, &nn, &used) != 2)
        return 0;
    const char *rest = p + 22 + used;
    if (strcmp(rest, *hidden ? ".inprogress" : "") != 0)
        return 0;
    if (st < 0 || nn < 0)
        return 0;
    *subtask = st;
    *n = nn;
    return 1;
}

static lineage *find_lineage(file_sink *s, const char *uid, int subtask)
{
    for (int i = 0; i < s->nlin; i++)
        if (strcmp(s->lin[i].uid, uid) == 0 && s->lin[i].subtask == subtask)
            return &s->lin[i];
    return NULL;
}

static int own_job(const sl_operator *op, const char *uid)
{
    return strncmp(uid, op->ctx.job_id, 8) == 0;
}

/* What reconcile does with a part file. */
enum { ACT_LEAVE, ACT_COMMIT, ACT_DELETE, ACT_KEEP_AFTER };

/* A visible file is never deleted; ACT_KEEP_AFTER: one of this job,
 * committed after the restored checkpoint (or with none restored). */
static int reconcile_action(const sl_operator *op, const lineage *l, const char *uid,
                            int subtask, int64_t n, int hidden)
{
    int covered = l != NULL && n <= l->covered;
    if (own_job(op, uid)) {
        if (covered)
            return hidden ? ACT_COMMIT : ACT_LEAVE;
        if (subtask != op->ctx.subtask && l == NULL)
            return ACT_LEAVE; /* another subtask's */
        return hidden ? ACT_DELETE : ACT_KEEP_AFTER;
    }
    if (l == NULL || !hidden)
        return ACT_LEAVE;
    return covered ? ACT_COMMIT : ACT_DELETE;
}

static int reconcile_one(sl_operator *op, file_sink *s, const char *name)
{
    char uid[17], path[4096], final[4096];
    int subtask, hidden;
    int64_t n;
    if (!parse_part(name, uid, &subtask, &n, &hidden) || strcmp(uid, s->uid) == 0)
        return SL_OK;
    lineage *l = find_lineage(s, uid, subtask);
    int act = reconcile_action(op, l, uid, subtask, n, hidden);
    if (l != NULL && n <= l->covered && own_job(op, uid))
        l->found++;
    part_name(path, sizeof(path), s, uid, subtask, n, hidden);
    switch (act) {
    case ACT_COMMIT:
        part_name(final, sizeof(final), s, uid, subtask, n, 0);
        sl_info("file sink %s: committing %s (covered by the restored checkpoint)",
                op->stage->name, final);
        return rename(path, final) == 0 ? SL_OK : SL_EIO;
    case ACT_DELETE:
        sl_info("file sink %s: removing %s (not covered by the restored checkpoint)",
                op->stage->name, path);
        return (unlink(path) == 0 || errno == ENOENT) ? SL_OK : SL_EIO;
    case ACT_KEEP_AFTER:
        if (s->kept_after++ == 0)
            snprintf(s->first_after, sizeof(s->first_after), "%s", name);
        return SL_OK;
    default:
        return SL_OK;
    }
}

/* Every file a lineage of this job covers is there (visible by now). */
static int check_covered(sl_operator *op, file_sink *s)
{
    char path[4096];
    struct stat st;
    for (int i = 0; i < s->nlin; i++) {
        const lineage *l = &s->lin[i];
        if (!own_job(op, l->uid) || l->found > l->covered)
            continue;
        for (int64_t n = 0; n <= l->covered; n++) {
            part_name(path, sizeof(path), s, l->uid, l->subtask, n, 0);
            if (stat(path, &st) == 0)
                continue;
            return sl_op_fail(op,
                                "file sink %s: part file %s is missing, though the restored "
                                "checkpoint covers it (committed output was lost or removed): %s",
                                op->stage->name, path, strerror(errno));
        }
    }
    return SL_OK;
}

/* Reconciled lineages of other jobs are not carried any more. */
static void drop_foreign(const sl_operator *op, file_sink *s)
{
    int kept = 0;
    for (int i = 0; i < s->nlin; i++)
        if (own_job(op, s->lin[i].uid))
            s->lin[kept++] = s->lin[i];
    s->nlin = kept;
}

static int reconcile(sl_operator *op, file_sink *s)
{
    if (s->reconciled)
        return SL_OK;
    s->reconciled = 1;
    DIR *d = opendir(s->dir);
    if (d == NULL)
        return sl_op_fail(op, "cannot read %s: %s", s->dir, strerror(errno));
    int rv = SL_OK;
    struct dirent *de;
    for (int i = 0; i < s->nlin; i++)
        s->lin[i].found = 0;
    while (rv == SL_OK && (de = readdir(d)) != NULL)
        rv = reconcile_one(op, s, de->d_name);
    closedir(d);
    if (rv == SL_OK)
        rv = sl_fsync_dir(s->dir);
    if (rv != SL_OK)
        return sl_op_fail(op, "cannot reconcile %s: %s", s->dir, strerror(errno));
    if (s->kept_after > 0)
        sl_warn("file sink %s: %lld committed part file(s) of this job (%s ...) hold output "
                "past the restored checkpoint; they stay, and their records may be written again",
                op->stage->name, (long long)s->kept_after, s->first_after);
    if ((rv = check_covered(op, s)) != SL_OK)
        return rv;
    drop_foreign(op, s);
    return SL_OK;
}

/* ---- writing */

static int open_part(sl_operator *op, file_sink *s)
{
    char path[4096];
    part_name(path, sizeof(path), s, s->uid, op->ctx.subtask, s->n, 1);
    s->f = fopen(path, "we");
    if (s->f == NULL)
        return sl_op_fail(op, "cannot create %s: %s", path, strerror(errno));
    setvbuf(s->f, NULL, _IOFBF, 1 << 16);
    return SL_OK;
}

static int close_part(sl_operator *op, file_sink *s)
{
    FILE *f = s->f;
    s->f = NULL;
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    bad = bad || sl_fsync_dir(s->dir) != SL_OK; /* the hidden file's name, before the ack */
    if (bad)
        return sl_op_fail(op, "cannot write part file in %s: %s", s->dir,
                            strerror(errno));
    return SL_OK;
}

static int commit_part(sl_operator *op, file_sink *s, int64_t n)
{
    char tmp[4096], final[4096];
    part_name(tmp, sizeof(tmp), s, s->uid, op->ctx.subtask, n, 1);
    part_name(final, sizeof(final), s, s->uid, op->ctx.subtask, n, 0);
    if (rename(tmp, final) != 0)
        return sl_op_fail(op, "cannot commit %s: %s", final, strerror(errno));
    return SL_OK;
}

/* The row as one line, \n included, in s->line: its length, or -1 if it
 * does not fit. */
static long format_line(file_sink *s, const sl_row *row)
{
    size_t n = 0;
    if (s->json != NULL) {
        int w = sl_row_format_json(row, s->json, s->line, LINE_MAX_BYTES - 1);
        if (w < 0)
            return -1;
        n = (size_t)w;
    } else {
        for (int i = 0; i < row->nfields; i++) {
            if (i > 0)
                s->line[n++] = ',';
            int w = sl_value_format_csv(&row->v[i], s->line + n, LINE_MAX_BYTES - n - 2);
            if (w < 0)
                return -1;
            n += (size_t)w;
        }
    }
    s->line[n++] = '\n';
    return (long)n;
}

static int sink_process(sl_operator *op, const sl_row *row)
{
    file_sink *s = op->impl;
    int rv = reconcile(op, s);
    if (rv == SL_OK && s->f == NULL)
        rv = open_part(op, s);
    if (rv != SL_OK)
        return rv;
    long n = format_line(s, row);
    if (n < 0)
        return sl_op_fail(op, "a %s line is longer than %u bytes",
                            s->json ? "json" : "csv", LINE_MAX_BYTES);
    if (fwrite(s->line, 1, (size_t)n, s->f) != (size_t)n)
        return sl_op_fail(op, "cannot write in %s: %s", s->dir, strerror(errno));
    return SL_OK;
}

/* ---- checkpoints */

static int put_lineage(sl_buf *out, const char *uid, int subtask, int64_t covered)
{
    int rv = sl_buf_put_bytes(out, uid, 16);
    if (rv == SL_OK)
        rv = sl_buf_put_varint(out, (uint64_t)subtask);
    return rv == SL_OK ? sl_buf_put_varint(out, (uint64_t)(covered + 1)) : rv;
}

static int put_lineages(const sl_operator *op, const file_sink *s, sl_buf *out)
{
    const sl_op_ctx *t = &op->ctx;
    int own = s->n > 0;
    uint64_t head[4] = {STATE_VERSION, (uint64_t)t->subtask, (uint64_t)t->parallelism,
                        (uint64_t)(s->nlin + own)};
    int rv = SL_OK;
    for (int k = 0; k < 4 && rv == SL_OK; k++)
        rv = sl_buf_put_varint(out, head[k]);
    for (int i = 0; i < s->nlin && rv == SL_OK; i++)
        rv = put_lineage(out, s->lin[i].uid, s->lin[i].subtask, s->lin[i].covered);
    if (rv == SL_OK && own)
        rv = put_lineage(out, s->uid, t->subtask, s->n - 1);
    return rv;
}

static int sink_snapshot(sl_operator *op, uint64_t chk_id, sl_buf *out)
{
    file_sink *s = op->impl;
    int rv = reconcile(op, s);
    if (rv == SL_OK && s->f != NULL) {
        if (s->npend == MAX_PENDING)
            return sl_op_fail(op, "more than %d uncommitted part files", MAX_PENDING);
        rv = close_part(op, s);
        if (rv == SL_OK) {
            s->pend[s->npend++] = (pending){.chk = chk_id, .n = s->n};
            s->n++;
        }
    }
    return rv == SL_OK ? put_lineages(op, s, out) : rv;
}

static int sink_notify(sl_operator *op, uint64_t chk_id)
{
    file_sink *s = op->impl;
    int kept = 0, committed = 0, rv = SL_OK;
    for (int i = 0; i < s->npend; i++) {
        if (s->pend[i].chk <= chk_id && rv == SL_OK) {
            rv = commit_part(op, s, s->pend[i].n);
            committed++;
        } else {
            s->pend[kept++] = s->pend[i];
        }
    }
    s->npend = kept;
    if (rv == SL_OK && committed > 0 && sl_fsync_dir(s->dir) != SL_OK)
        rv = sl_op_fail(op, "cannot sync %s after committing: %s", s->dir,
                          strerror(errno));
    return rv;
}

static int grow(lineage **v, int *cap, int want)
{
    if (want <= *cap)
        return SL_OK;
    if (want > MAX_LINEAGES)
        return SL_ENOSPC;
    int c = *cap ? *cap * 2 : 16;
    while (c < want)
        c *= 2;
    lineage *nv = realloc(*v, (size_t)c * sizeof(*nv));
    if (nv == NULL)
        return SL_ENOMEM;
    *v = nv;
    *cap = c;
    return SL_OK;
}

static int read_lineage(file_sink *s, sl_state_cursor *c, int owner)
{
    const uint8_t *uid;
    char hex[17];
    size_t n;
    uint64_t subtask, covered;
    if (sl_cursor_bytes(c, &uid, &n) != SL_OK || n != 16)
        return SL_EINVAL;
    memcpy(hex, uid, 16);
    hex[16] = '\0';
    if (!sl_is_hex(hex, 16) ||
        sl_cursor_varint(c, &subtask) != SL_OK || subtask > INT32_MAX ||
        sl_cursor_varint(c, &covered) != SL_OK || covered > INT64_MAX)
        return SL_EINVAL;
    int rv = grow(&s->pool, &s->cappool, s->npool + 1);
    if (rv != SL_OK)
        return rv;
    lineage *l = &s->pool[s->npool++];
    memcpy(l->uid, hex, 17);
    l->subtask = (int)subtask;
    l->covered = (int64_t)covered - 1;
    l->owner = owner;
    return SL_OK;
}

static int seen_before(const file_sink *s, int subtask)
{
    for (int i = 0; i < s->nseen; i++)
        if (s->seen[i] == subtask)
            return 1;
    return 0;
}

/* Reads the header of one old subtask's state. */
static int read_head(file_sink *s, sl_state_cursor *c, uint64_t *subtask, uint64_t *count)
{
    uint64_t version, par;
    if (sl_cursor_varint(c, &version) != SL_OK || version != STATE_VERSION ||
        sl_cursor_varint(c, subtask) != SL_OK || sl_cursor_varint(c, &par) != SL_OK ||
        sl_cursor_varint(c, count) != SL_OK || par < 1 || par > MAX_LINEAGES ||
        *subtask >= par || *count > MAX_LINEAGES ||
        (s->old_par != 0 && (uint64_t)s->old_par != par) || seen_before(s, (int)*subtask))
        return SL_EINVAL;
    if (s->seen == NULL && (s->seen = calloc(par, sizeof(*s->seen))) == NULL)
        return SL_ENOMEM;
    s->old_par = (int)par;
    s->seen[s->nseen++] = (int)*subtask;
    return SL_OK;
}

/* One old subtask's state (every one of the stage comes here). */
static int sink_restore(sl_operator *op, const uint8_t *data, size_t len)
{
    file_sink *s = op->impl;
    sl_state_cursor c;
    uint64_t subtask, count;
    sl_cursor_init(&c, data, len);
    int rv = read_head(s, &c, &subtask, &count);
    for (uint64_t i = 0; i < count && rv == SL_OK; i++)
        rv = read_lineage(s, &c, (int)subtask);
    if (rv == SL_OK && sl_cursor_remaining(&c) != 0)
        rv = SL_EINVAL;
    if (rv != SL_OK)
        return sl_op_fail(op, "file sink: malformed state (%s)", sl_strerror(rv));
    return SL_OK;
}

static int cmp_lineage(const void *a, const void *b)
{
    const lineage *x = a, *y = b;
    int c = strcmp(x->uid, y->uid);
    return c != 0 ? c : (x->subtask > y->subtask) - (x->subtask < y->subtask);
}

/* Every old subtask's lineages are in the pool: keeps this subtask's. */
static int sink_restore_end(sl_operator *op)
{
    file_sink *s = op->impl;
    const sl_op_ctx *t = &op->ctx;
    if (s->nseen != s->old_par)
        return sl_op_fail(op, "file sink: the checkpoint holds the state of %d of %d subtasks",
                            s->nseen, s->old_par);
    if (s->old_par != t->parallelism)
        qsort(s->pool, (size_t)s->npool, sizeof(*s->pool), cmp_lineage);
    for (int k = 0; k < s->npool; k++) {
        int mine = s->old_par == t->parallelism ? s->pool[k].owner == t->subtask
                                                : k % t->parallelism == t->subtask;
        if (!mine)
            continue;
        int rv = grow(&s->lin, &s->caplin, s->nlin + 1);
        if (rv != SL_OK)
            return sl_op_fail(op, "file sink: more than %d lineages", MAX_LINEAGES);
        s->lin[s->nlin++] = s->pool[k];
    }
    free(s->pool);
    s->pool = NULL;
    s->npool = s->cappool = 0;
    s->reconciled = 0;
    return SL_OK;
}

static int sink_finish(sl_operator *op)
{
    file_sink *s = op->impl;
    int rv = reconcile(op, s);
    if (rv == SL_OK && s->f != NULL) {
        rv = close_part(op, s);
        if (rv == SL_OK)
            rv = commit_part(op, s, s->n++);
        if (rv == SL_OK && sl_fsync_dir(s->dir) != SL_OK)
            rv = sl_op_fail(op, "cannot sync %s after committing: %s", s->dir,
                              strerror(errno));
    }
    return rv == SL_OK ? sink_notify(op, UINT64_MAX) : rv;
}

static void sink_close(sl_operator *op, int committed)
{
    file_sink *s = op->impl;
    if (s == NULL)
        return;
    if (s->f != NULL) {
        char path[4096];
        fclose(s->f);
        part_name(path, sizeof(path), s, s->uid, op->ctx.subtask, s->n, 1);
        if (!committed)
            unlink(path);
    }
    free(s->line);
    free(s->lin);
    free(s->pool);
    free(s->seen);
    free(s);
    op->impl = NULL;
}

const sl_operator_ops sl_op_file_sink = {
    .open = sink_open, .process = sink_process, .finish = sink_finish, .close = sink_close,
    .snapshot = sink_snapshot, .restore = sink_restore, .notify_complete = sink_notify,
    .redistribute = 1, .restore_end = sink_restore_end,
};
