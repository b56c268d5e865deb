/* `source: file`, format text: emits {line} for every line of a file or of
 * the files of a folder (lexical order, hidden files skipped).
 *
 * Subtask i of P reads the lines that start in its share [lo, hi) of the
 * concatenated input bytes (like Flink's file splits): it starts after the
 * first line end at or after lo - 1 and reads on through the line that
 * contains hi - 1. An optional `rate` caps records per second over all
 * subtasks.
 *
 * Checkpointed position: the global offset of the next line to read. The
 * task polls its mailbox after every line, so a barrier always falls
 * between two lines and a restore resumes exactly there. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/state_file.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/task.h"

#define READ_CHUNK (1u << 20)
#define MAX_FILES 4096

typedef struct src_file {
    char *path;
    int64_t size, base;
} src_file;

typedef struct file_source {
    src_file files[MAX_FILES];
    int nfiles;
    int64_t lo, hi;
    int64_t next;    /* global offset of the next line to read */
    int64_t resume;  /* restored position, -1 = none */
    double rate; /* records/s for this subtask, 0 = unlimited */
    int64_t emitted, t0;
    char *buf;   /* READ_CHUNK + SL_MAX_STRING */
} file_source;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_file(sl_task *t, file_source *fs, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return sl_task_fail(t, "cannot read %s: %s", path, strerror(errno));
    if (fs->nfiles == MAX_FILES)
        return sl_task_fail(t, "more than %d input files", MAX_FILES);
    src_file *f = &fs->files[fs->nfiles];
    f->path = strdup(path);
    if (f->path == NULL)
        return SL_ENOMEM;
    f->size = st.st_size;
    f->base = fs->nfiles ? fs->files[fs->nfiles - 1].base + fs->files[fs->nfiles - 1].size : 0;
    fs->nfiles++;
    return SL_OK;
}

static int list_dir(sl_task *t, file_source *fs, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return sl_task_fail(t, "cannot open folder %s: %s", dir, strerror(errno));
    char *names[MAX_FILES];
    int n = 0, rv = SL_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && rv == SL_OK) {
        if (de->d_name[0] == '.')
            continue;
        if (n == MAX_FILES)
            rv = sl_task_fail(t, "more than %d files in %s", MAX_FILES, dir);
        else if ((names[n++] = strdup(de->d_name)) == NULL)
            rv = SL_ENOMEM;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), cmp_names);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct stat st;
        if (rv == SL_OK && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rv = add_file(t, fs, path);
        free(names[i]);
    }
    return rv;
}

static int fs_open(sl_operator *op)
{
    sl_task *t = op->task;
    file_source *fs = calloc(1, sizeof(*fs));
    if (fs == NULL)
        return SL_ENOMEM;
    op->impl = fs;
    const char *path = sl_stage_param(op->stage, "path");
    struct stat st;
    if (path == NULL || stat(path, &st) != 0)
        return sl_task_fail(t, "cannot read %s: %s", path ? path : "(no path)", strerror(errno));
    int rv = S_ISDIR(st.st_mode) ? list_dir(t, fs, path) : add_file(t, fs, path);
    if (rv != SL_OK)
        return rv;
    int64_t total = fs->nfiles ? fs->files[fs->nfiles - 1].base + fs->files[fs->nfiles - 1].size : 0;
    fs->lo = total * t->subtask / t->parallelism;
    fs->hi = total * (t->subtask + 1) / t->parallelism;
    fs->next = fs->lo;
    fs->resume = -1;
    const char *rate = sl_stage_param(op->stage, "rate");
    fs->rate = rate ? strtod(rate, NULL) / t->parallelism : 0;
    fs->buf = malloc(READ_CHUNK + SL_MAX_STRING);
    return fs->buf ? SL_OK : SL_ENOMEM;
}

/* Called after every line: lets the task take a checkpoint between two
 * lines, and holds the source to its rate (polling the mailbox while it
 * waits). */
static int pace(sl_operator *op, file_source *fs)
{
    fs->emitted++;
    int rv = sl_task_poll(op->task);
    if (rv != SL_OK)
        return rv;
    if ((fs->emitted & 1023) == 0 && sl_task_canceled(op->task))
        return SL_ECANCELED;
    if (fs->rate <= 0)
        return SL_OK;
    int64_t due = fs->t0 + (int64_t)((double)fs->emitted * 1000.0 / fs->rate);
    int64_t now = sl_now_ms();
    if (due > now && (rv = sl_task_flush(op->task)) != SL_OK)
        return rv;
    while (due > now) {
        sl_sleep_ms(due - now > 20 ? 20 : due - now);
        if (sl_task_canceled(op->task))
            return SL_ECANCELED;
        if ((rv = sl_task_poll(op->task)) != SL_OK)
            return rv;
        now = sl_now_ms();
    }
    return SL_OK;
}

static int emit_line(sl_operator *op, const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    sl_row row;
    row.nfields = 1;
    row.v[0].type = SL_TYPE_STRING;
    row.v[0].u.s.ptr = p;
    row.v[0].u.s.len = (uint32_t)n;
    return sl_operator_emit(op, &row);
}

/* Reads file f from local offset `from`, emitting lines that start before
 * `until`; skip_first drops the (partial) line that begins at `from`. */
static int read_lines(sl_operator *op, file_source *fs, const src_file *f, int64_t from,
                      int64_t until, int skip_first)
{
    sl_task *t = op->task;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sl_task_fail(t, "cannot open %s: %s", f->path, strerror(errno));
    int rv = SL_OK;
    size_t have = 0;      /* bytes in buf not yet consumed */
    int64_t pos = from;   /* file offset of buf[0] */
    int eof = 0;
    while (rv == SL_OK) {
        if (!eof && have < SL_MAX_STRING) {
            ssize_t n = pread(fd, fs->buf + have, READ_CHUNK, pos + (int64_t)have);
            if (n < 0) {
                rv = sl_task_fail(t, "cannot read %s: %s", f->path, strerror(errno));
                break;
            }
            eof = n == 0;
            have += (size_t)n;
        }
        size_t off = 0;
        while (rv == SL_OK && off < have) {
            if (pos + (int64_t)off >= until && !skip_first)
                goto done;
            char *nl = memchr(fs->buf + off, '\n', have - off);
            if (nl == NULL && !eof)
                break;
            size_t end = nl ? (size_t)(nl - fs->buf) : have;
            if (end - off > SL_MAX_STRING) {
                rv = sl_task_fail(t, "%s: line at byte %lld is longer than %u bytes", f->path,
                                  (long long)(pos + (int64_t)off), SL_MAX_STRING);
                break;
            }
            if (!skip_first) {
                rv = emit_line(op, fs->buf + off, end - off);
                fs->next = f->base + pos + (int64_t)(nl ? end + 1 : have);
                if (rv == SL_OK)
                    rv = pace(op, fs);
            }
            skip_first = 0;
            off = nl ? end + 1 : have;
        }
        if (rv != SL_OK || (eof && off >= have))
            break;
        if (off == 0 && have >= SL_MAX_STRING) {
            rv = sl_task_fail(t, "%s: line at byte %lld is longer than %u bytes", f->path,
                              (long long)pos, SL_MAX_STRING);
            break;
        }
        memmove(fs->buf, fs->buf + off, have - off);
        have -= off;
        pos += (int64_t)off;
    }
done:
    close(fd);
    return rv;
}

static int fs_run(sl_operator *op)
{
    file_source *fs = op->impl;
    fs->t0 = sl_now_ms();
    int64_t from = fs->resume >= fs->lo ? fs->resume : fs->lo;
    int exact = fs->resume > fs->lo; /* a restored position is a line start */
    for (int i = 0; i < fs->nfiles; i++) {
        const src_file *f = &fs->files[i];
        int64_t s = from - f->base, e = fs->hi - f->base;
        if (s < 0)
            s = 0;
        if (e > f->size)
            e = f->size;
        if (s >= e)
            continue;
        int rv;
        if (s == 0 || exact)
            rv = read_lines(op, fs, f, s, e, 0);
        else
            rv = read_lines(op, fs, f, s - 1, e, 1);
        if (rv != SL_OK)
            return rv;
        exact = 0;
    }
    fs->next = fs->hi;
    return SL_OK;
}

static void fs_close(sl_operator *op, int committed)
{
    (void)committed;
    file_source *fs = op->impl;
    if (fs == NULL)
        return;
    for (int i = 0; i < fs->nfiles; i++)
        free(fs->files[i].path);
    free(fs->buf);
    free(fs);
    op->impl = NULL;
}

static int fs_snapshot(sl_operator *op, uint64_t chk_id, sl_buf *out)
{
    file_source *fs = op->impl;
    (void)chk_id;
    int rv = sl_buf_put_varint(out, 1); /* version */
    if (rv == SL_OK)
        rv = sl_buf_put_varint(out, (uint64_t)fs->next);
    return rv;
}

static int fs_restore(sl_operator *op, const uint8_t *data, size_t len)
{
    file_source *fs = op->impl;
    sl_state_cursor c;
    uint64_t version, next;
    sl_cursor_init(&c, data, len);
    if (sl_cursor_varint(&c, &version) != SL_OK || version != 1 ||
        sl_cursor_varint(&c, &next) != SL_OK || (int64_t)next < fs->lo ||
        (int64_t)next > fs->hi)
        return sl_task_fail(op->task, "file source: bad checkpointed position");
    fs->resume = (int64_t)next;
    fs->next = fs->resume;
    return SL_OK;
}

const sl_operator_ops sl_op_file_source = {
    .open = fs_open, .run = fs_run, .close = fs_close,
    .snapshot = fs_snapshot, .restore = fs_restore,
};
