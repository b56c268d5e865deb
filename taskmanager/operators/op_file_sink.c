/* `sink: file`, format csv or json, exactly-once by two-phase commit.
 *
 * csv: fields in order, RFC 4180 quoting where needed (sl_value_format_csv).
 * json: one object per line with the input's field names
 * (sl_row_format_json). Lines end with \n.
 *
 * This file is the operator: rows, their formatting, when a part file
 * rolls, and the failure cause. The commit protocol (part files, what is
 * durable when, the state, reconcile on restore) is file_sink_commit.h:
 *   process            the first row after a roll opens a hidden part file
 *   snapshot(k)        the open file is fsynced and closed: pending for k
 *   notify_complete(k) pending files of checkpoints <= k are renamed visible
 *   finish             (end of input, after the final checkpoint completed,
 *                      or checkpointing off) everything is committed
 *   cancel/failure     the open file is deleted; pending ones stay for the
 *                      restore to decide
 * A restored subtask reconciles its folder against its lineages before
 * writing. Rescaling (`redistribute`): every subtask receives the lineages
 * of all old subtasks and keeps its share (sl_fsc_pool_deal). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/row_text.h"
#include "taskmanager/operators/file_sink_commit.h"
#include "taskmanager/operators/row_json.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/operators/operator.h"

#define LINE_MAX_BYTES (4u << 20)

/* The sink folder: shorter than PATH_MAX, so a part file name fits below it. */
#define SINK_DIR_MAX 3072

typedef struct file_sink {
    char dir[SINK_DIR_MAX];
    char uid[SL_FSC_UID_LEN + 1];
    sl_fsc_writer w;  /* dir, uid, job, subtask and name, set at open */
    int64_t n;        /* index of the open or next file */
    FILE *f;
    sl_fsc_pending pend[SL_FSC_MAX_PENDING];
    int npend;
    sl_fsc_lineages lin; /* lineages this subtask holds (restored) */
    sl_fsc_pool pool;    /* restore: the lineages of every old subtask */
    int reconciled;
    char *line;
    const sl_schema *json; /* format json: the input's fields; NULL for csv */
} file_sink;

/* A failure of the commit protocol (rv, message err) as the operator's. */
static int failed(sl_op *op, int rv, const char *err)
{
    return rv == SL_OK ? SL_OK : sl_op_fail(op, "%s", err);
}

static int sink_open(sl_op *op)
{
    const sl_op_ctx *t = &op->ctx;
    char err[SL_FSC_ERR_MAX];
    file_sink *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return SL_ENOMEM;
    op->impl = s;
    snprintf(s->dir, sizeof(s->dir), "%s", sl_stage_param(op->stage, "path"));
    if (sl_fsc_make_folder(s->dir, NULL, err, sizeof(err)) != SL_OK)
        return sl_op_fail(op, "%s", err);
    char rnd[9];
    sl_random_hex(rnd, 4);
    snprintf(s->uid, sizeof(s->uid), "%.8s%s", t->job_id, rnd);
    s->w = (sl_fsc_writer){.dir = s->dir, .job_id = t->job_id, .uid = s->uid,
                           .subtask = t->subtask, .name = op->stage->name};
    /* a first attempt has nothing to reconcile */
    s->reconciled = t->attempt <= 1 && !t->restoring;
    const char *format = sl_stage_param(op->stage, "format");
    if (format != NULL && strcmp(format, "json") == 0)
        s->json = op->in[0];
    s->line = malloc(LINE_MAX_BYTES);
    return s->line ? SL_OK : SL_ENOMEM;
}

/* ---- reconcile after a restart */

static int reconcile(sl_op *op, file_sink *s)
{
    char err[SL_FSC_ERR_MAX];
    if (s->reconciled)
        return SL_OK;
    s->reconciled = 1;
    return failed(op, sl_fsc_reconcile(&s->w, &s->lin, err, sizeof(err)), err);
}

/* ---- writing */

static int open_part(sl_op *op, file_sink *s)
{
    char err[SL_FSC_ERR_MAX];
    return failed(op, sl_fsc_open(&s->w, s->n, &s->f, err, sizeof(err)), err);
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

static int sink_process(sl_op *op, const sl_row *row)
{
    file_sink *s = op->impl;
    char err[SL_FSC_ERR_MAX];
    int rv = reconcile(op, s);
    if (rv == SL_OK && s->f == NULL)
        rv = open_part(op, s);
    if (rv != SL_OK)
        return rv;
    long n = format_line(s, row);
    if (n < 0)
        return sl_op_fail(op, "a %s line is longer than %u bytes",
                            s->json ? "json" : "csv", LINE_MAX_BYTES);
    return failed(op, sl_fsc_write(&s->w, s->f, s->line, (size_t)n, err, sizeof(err)), err);
}

/* ---- checkpoints */

static int sink_snapshot(sl_op *op, uint64_t chk_id, sl_buf *out)
{
    file_sink *s = op->impl;
    char err[SL_FSC_ERR_MAX];
    int rv = reconcile(op, s);
    if (rv == SL_OK && s->f != NULL) {
        rv = failed(op, sl_fsc_seal_pending(&s->w, &s->f, s->n, chk_id, s->pend, &s->npend, err,
                                            sizeof(err)), err);
        if (rv == SL_OK)
            s->n++;
    }
    return rv == SL_OK ? sl_fsc_record(&s->w, op->ctx.parallelism, &s->lin, s->n, out) : rv;
}

static int sink_notify(sl_op *op, uint64_t chk_id)
{
    file_sink *s = op->impl;
    char err[SL_FSC_ERR_MAX];
    return failed(op, sl_fsc_commit_upto(&s->w, s->pend, &s->npend, chk_id, err, sizeof(err)),
                  err);
}

/* One old subtask's state (every one of the stage comes here). */
static int sink_restore(sl_op *op, const uint8_t *data, size_t len)
{
    file_sink *s = op->impl;
    char err[SL_FSC_ERR_MAX];
    return failed(op, sl_fsc_pool_add(&s->pool, data, len, err, sizeof(err)), err);
}

/* Every old subtask's lineages are in the pool: keeps this subtask's. */
static int sink_restore_end(sl_op *op)
{
    file_sink *s = op->impl;
    const sl_op_ctx *t = &op->ctx;
    char err[SL_FSC_ERR_MAX];
    int rv = sl_fsc_pool_deal(&s->pool, t->subtask, t->parallelism, &s->lin, err, sizeof(err));
    if (rv != SL_OK)
        return failed(op, rv, err);
    s->reconciled = 0;
    return SL_OK;
}

static int sink_finish(sl_op *op)
{
    file_sink *s = op->impl;
    char err[SL_FSC_ERR_MAX];
    int rv = reconcile(op, s);
    if (rv == SL_OK && s->f != NULL)
        rv = failed(op, sl_fsc_commit_open(&s->w, &s->f, s->n++, err, sizeof(err)), err);
    return rv == SL_OK ? sink_notify(op, UINT64_MAX) : rv;
}

static void sink_close(sl_op *op, int committed)
{
    file_sink *s = op->impl;
    if (s == NULL)
        return;
    sl_fsc_discard(&s->w, &s->f, s->n, !committed);
    free(s->line);
    sl_fsc_lineages_free(&s->lin);
    sl_fsc_pool_free(&s->pool);
    free(s);
    op->impl = NULL;
}

const sl_op_ops sl_op_file_sink = {
    .open = sink_open, .process = sink_process, .finish = sink_finish, .close = sink_close,
    .snapshot = sink_snapshot, .restore = sink_restore, .notify_complete = sink_notify,
    .redistribute = 1, .restore_end = sink_restore_end,
};
