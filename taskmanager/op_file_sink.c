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
 * The snapshot records, per uid this sink has written under, the highest n
 * the checkpoint covers. A restarted subtask reconciles its folder against
 * that before writing: covered files become visible (commit of pending
 * ones whose notification was lost), every other file of this job and
 * subtask is deleted (data after the checkpoint, or committed by a newer
 * checkpoint that could not be restored). That makes the committed output
 * exactly-once. */
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
#include "common/state_file.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/task.h"

#define LINE_MAX_BYTES (4u << 20)
#define MAX_PENDING 4096
#define MAX_LINEAGES 256

typedef struct lineage {
    char uid[17];
    int64_t covered; /* files n <= covered are part of the checkpoint */
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
    lineage lin[MAX_LINEAGES];
    int nlin;
    int reconciled;
    char *line;
    const sl_schema *json; /* format json: the input's fields; NULL for csv */
} file_sink;

static void part_name(char *out, size_t len, const file_sink *s, const char *uid, int subtask,
                      int64_t n, int hidden)
{
    snprintf(out, len, "%s/%spart-%s-%d-%lld%s", s->dir, hidden ? "." : "", uid, subtask,
             (long long)n, hidden ? ".inprogress" : "");
}

static int mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return SL_EIO;
        *p = '/';
    }
    return (mkdir(buf, 0755) == 0 || errno == EEXIST) ? SL_OK : SL_EIO;
}

static int sink_open(sl_operator *op)
{
    sl_task *t = op->task;
    file_sink *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return SL_ENOMEM;
    op->impl = s;
    snprintf(s->dir, sizeof(s->dir), "%s", sl_stage_param(op->stage, "path"));
    if (mkdirs(s->dir) != SL_OK)
        return sl_task_fail(t, "cannot create %s: %s", s->dir, strerror(errno));
    char rnd[9];
    sl_random_hex(rnd, 4);
    snprintf(s->uid, sizeof(s->uid), "%.8s%s", t->run->job_id, rnd);
    /* a first attempt has nothing to reconcile */
    s->reconciled = t->run->attempt <= 1 && t->run->restore_md == NULL;
    const char *format = sl_stage_param(op->stage, "format");
    if (format != NULL && strcmp(format, "json") == 0)
        s->json = &t->run->spec->stages[op->stage->inputs[0]].out_schema;
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
    *subtask = st;
    *n = nn;
    return 1;
}

static const lineage *find_lineage(const file_sink *s, const char *uid)
{
    for (int i = 0; i < s->nlin; i++)
        if (strcmp(s->lin[i].uid, uid) == 0)
            return &s->lin[i];
    return NULL;
}

static int reconcile_one(sl_operator *op, file_sink *s, const char *name)
{
    char uid[17], path[4096], final[4096];
    int subtask, hidden;
    int64_t n;
    if (!parse_part(name, uid, &subtask, &n, &hidden) || subtask != op->task->subtask ||
        strncmp(uid, op->task->run->job_id, 8) != 0 || strcmp(uid, s->uid) == 0)
        return SL_OK;
    const lineage *l = find_lineage(s, uid);
    part_name(path, sizeof(path), s, uid, subtask, n, hidden);
    if (l != NULL && n <= l->covered) {
        if (!hidden)
            return SL_OK;
        part_name(final, sizeof(final), s, uid, subtask, n, 0);
        sl_info("file sink %s: committing %s (covered by the restored checkpoint)",
                op->stage->name, final);
        return rename(path, final) == 0 ? SL_OK : SL_EIO;
    }
    sl_info("file sink %s: removing %s (not covered by the restored checkpoint)",
            op->stage->name, path);
    return (unlink(path) == 0 || errno == ENOENT) ? SL_OK : SL_EIO;
}

static int reconcile(sl_operator *op, file_sink *s)
{
    if (s->reconciled)
        return SL_OK;
    s->reconciled = 1;
    DIR *d = opendir(s->dir);
    if (d == NULL)
        return sl_task_fail(op->task, "cannot read %s: %s", s->dir, strerror(errno));
    int rv = SL_OK;
    struct dirent *de;
    while (rv == SL_OK && (de = readdir(d)) != NULL)
        rv = reconcile_one(op, s, de->d_name);
    closedir(d);
    if (rv != SL_OK)
        return sl_task_fail(op->task, "cannot reconcile %s: %s", s->dir, strerror(errno));
    return SL_OK;
}

/* ---- writing */

static int open_part(sl_operator *op, file_sink *s)
{
    char path[4096];
    part_name(path, sizeof(path), s, s->uid, op->task->subtask, s->n, 1);
    s->f = fopen(path, "we");
    if (s->f == NULL)
        return sl_task_fail(op->task, "cannot create %s: %s", path, strerror(errno));
    setvbuf(s->f, NULL, _IOFBF, 1 << 16);
    return SL_OK;
}

static int close_part(sl_operator *op, file_sink *s)
{
    FILE *f = s->f;
    s->f = NULL;
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad)
        return sl_task_fail(op->task, "cannot write part file in %s: %s", s->dir,
                            strerror(errno));
    return SL_OK;
}

static int commit_part(sl_operator *op, file_sink *s, int64_t n)
{
    char tmp[4096], final[4096];
    part_name(tmp, sizeof(tmp), s, s->uid, op->task->subtask, n, 1);
    part_name(final, sizeof(final), s, s->uid, op->task->subtask, n, 0);
    if (rename(tmp, final) != 0)
        return sl_task_fail(op->task, "cannot commit %s: %s", final, strerror(errno));
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
        return sl_task_fail(op->task, "a %s line is longer than %u bytes",
                            s->json ? "json" : "csv", LINE_MAX_BYTES);
    if (fwrite(s->line, 1, (size_t)n, s->f) != (size_t)n)
        return sl_task_fail(op->task, "cannot write in %s: %s", s->dir, strerror(errno));
    return SL_OK;
}

/* ---- checkpoints */

static int put_lineages(const file_sink *s, sl_buf *out)
{
    int own = s->n > 0;
    int rv = sl_buf_put_varint(out, 1); /* version */
    if (rv == SL_OK)
        rv = sl_buf_put_varint(out, (uint64_t)(s->nlin + own));
    for (int i = 0; i < s->nlin + own && rv == SL_OK; i++) {
        const char *uid = i < s->nlin ? s->lin[i].uid : s->uid;
        int64_t covered = i < s->nlin ? s->lin[i].covered : s->n - 1;
        rv = sl_buf_put_bytes(out, uid, 16);
        if (rv == SL_OK)
            rv = sl_buf_put_varint(out, (uint64_t)(covered + 1));
    }
    return rv;
}

static int sink_snapshot(sl_operator *op, uint64_t chk_id, sl_buf *out)
{
    file_sink *s = op->impl;
    int rv = reconcile(op, s);
    if (rv == SL_OK && s->f != NULL) {
        if (s->npend == MAX_PENDING)
            return sl_task_fail(op->task, "more than %d uncommitted part files", MAX_PENDING);
        rv = close_part(op, s);
        if (rv == SL_OK) {
            s->pend[s->npend++] = (pending){.chk = chk_id, .n = s->n};
            s->n++;
        }
    }
    return rv == SL_OK ? put_lineages(s, out) : rv;
}

static int sink_notify(sl_operator *op, uint64_t chk_id)
{
    file_sink *s = op->impl;
    int kept = 0, rv = SL_OK;
    for (int i = 0; i < s->npend; i++) {
        if (s->pend[i].chk <= chk_id && rv == SL_OK)
            rv = commit_part(op, s, s->pend[i].n);
        else
            s->pend[kept++] = s->pend[i];
    }
    s->npend = kept;
    return rv;
}

static int sink_restore(sl_operator *op, const uint8_t *data, size_t len)
{
    file_sink *s = op->impl;
    sl_state_cursor c;
    uint64_t version, count;
    sl_cursor_init(&c, data, len);
    if (sl_cursor_varint(&c, &version) != SL_OK || version != 1 ||
        sl_cursor_varint(&c, &count) != SL_OK || count > MAX_LINEAGES - (uint64_t)s->nlin - 1)
        return sl_task_fail(op->task, "file sink: malformed state");
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *uid;
        size_t n;
        uint64_t covered;
        if (sl_cursor_bytes(&c, &uid, &n) != SL_OK || n != 16 ||
            sl_cursor_varint(&c, &covered) != SL_OK)
            return sl_task_fail(op->task, "file sink: malformed state");
        lineage *l = &s->lin[s->nlin++];
        memcpy(l->uid, uid, 16);
        l->uid[16] = '\0';
        l->covered = (int64_t)covered - 1;
    }
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
        part_name(path, sizeof(path), s, s->uid, op->task->subtask, s->n, 1);
        if (!committed)
            unlink(path);
    }
    free(s->line);
    free(s);
    op->impl = NULL;
}

const sl_operator_ops sl_op_file_sink = {
    .open = sink_open, .process = sink_process, .finish = sink_finish, .close = sink_close,
    .snapshot = sink_snapshot, .restore = sink_restore, .notify_complete = sink_notify,
};
