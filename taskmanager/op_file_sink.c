/* `sink: file`, format csv. Each subtask writes a part file named
 * part-<uid>-<subtask>-<n> (uid fresh per deployment, so names never
 * collide across restarts). While in progress the file is hidden as
 * .part-<uid>-<subtask>-<n>.inprogress; it is fsynced and renamed to its
 * visible name when the job's input has ended (commit). A task that is
 * cancelled or fails removes its in-progress file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/status.h"
#include "common/util.h"
#include "taskmanager/task.h"

#define LINE_MAX_BYTES (4u << 20)

typedef struct file_sink {
    char dir[3072];
    char tmp[4096], final[4096];
    FILE *f;
    char *line;
} file_sink;

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
    char uid[17];
    sl_random_hex(uid, 8);
    snprintf(s->tmp, sizeof(s->tmp), "%s/.part-%s-%d-0.inprogress", s->dir, uid, t->subtask);
    snprintf(s->final, sizeof(s->final), "%s/part-%s-%d-0", s->dir, uid, t->subtask);
    s->f = fopen(s->tmp, "we");
    if (s->f == NULL)
        return sl_task_fail(t, "cannot create %s: %s", s->tmp, strerror(errno));
    setvbuf(s->f, NULL, _IOFBF, 1 << 16);
    s->line = malloc(LINE_MAX_BYTES);
    return s->line ? SL_OK : SL_ENOMEM;
}

static int sink_process(sl_operator *op, const sl_row *row)
{
    file_sink *s = op->impl;
    size_t n = 0;
    for (int i = 0; i < row->nfields; i++) {
        if (i > 0)
            s->line[n++] = ',';
        int w = sl_value_format_csv(&row->v[i], s->line + n, LINE_MAX_BYTES - n - 2);
        if (w < 0)
            return sl_task_fail(op->task, "a csv line is longer than %u bytes", LINE_MAX_BYTES);
        n += (size_t)w;
    }
    s->line[n++] = '\n';
    if (fwrite(s->line, 1, n, s->f) != n)
        return sl_task_fail(op->task, "cannot write %s: %s", s->tmp, strerror(errno));
    return SL_OK;
}

static int sink_finish(sl_operator *op)
{
    file_sink *s = op->impl;
    FILE *f = s->f;
    s->f = NULL;
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(s->tmp, s->final) != 0)
        return sl_task_fail(op->task, "cannot commit %s: %s", s->final, strerror(errno));
    return SL_OK;
}

static void sink_close(sl_operator *op, int committed)
{
    file_sink *s = op->impl;
    if (s == NULL)
        return;
    if (s->f != NULL) {
        fclose(s->f);
        if (!committed)
            unlink(s->tmp);
    }
    free(s->line);
    free(s);
    op->impl = NULL;
}

const sl_operator_ops sl_op_file_sink = {
    .open = sink_open, .process = sink_process, .finish = sink_finish, .close = sink_close,
};
