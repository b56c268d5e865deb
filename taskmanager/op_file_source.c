/* `source: file`: emits the records of a file or of the files of a folder
 * (lexical order, hidden files skipped). format text emits {line} for every
 * line; csv and json parse every record into the fields of `schema`
 * (common/row_text.h).
 *
 * Subtask i of P reads the records that start in its share [lo, hi) of the
 * concatenated input bytes (like Flink's file splits): it starts after the
 * first record end at or after lo - 1 and reads on through the record that
 * contains hi - 1. For text and json a record is a line. A csv record ends
 * at a line end outside a quoted field, and may span lines: a subtask whose
 * share starts inside a file first scans that file's prefix with the same
 * record scanner (one read of the prefix), so every subtask agrees on where
 * records start and multi-line quoted fields work at any parallelism. An
 * optional `rate` caps records per second over all subtasks.
 *
 * csv and json: empty lines are skipped. A malformed record is reported as
 * "<file>:<line> (byte <offset>)" (line numbers are counted only when one
 * is needed); `on-error: fail` (default) fails the task with it, `skip`
 * drops the record, logs the first few and the number skipped when the
 * input ends (the number counts this attempt only).
 *
 * Checkpointed position: the global offset of the next record to read. The
 * task polls its mailbox after every record, so a barrier always falls
 * between two records and a restore resumes exactly there. */
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
#include "taskmanager/watermark.h"

#define READ_CHUNK (1u << 20)
#define MAX_FILES 4096
#define SCAN_CHUNK (64u << 10)
#define SKIP_LOG_MAX 10

enum src_format { FMT_TEXT, FMT_CSV, FMT_JSON };

typedef struct src_file {
    char *path;
    int64_t size, base;
} src_file;

typedef struct file_source {
    src_file files[MAX_FILES];
    int nfiles;
    int64_t lo, hi;
    int64_t next;    /* global offset of the next record to read */
    int64_t resume;  /* restored position, -1 = none */
    sl_source_pacer pacer;
    sl_wm_gen wm;
    char *buf;   /* READ_CHUNK + SL_MAX_STRING */
    enum src_format format;
    const sl_schema *schema; /* csv, json: the stage's output */
    char *scratch;           /* csv, json: decoded strings, SL_MAX_STRING */
    int skip_errors;         /* on-error: skip */
    int64_t skipped;
    const src_file *lines_of; /* line numbers counted so far: lines before */
    int64_t lines_off, lines; /* offset lines_off of file lines_of */
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
    const char *format = sl_stage_param(op->stage, "format");
    const char *on_error = sl_stage_param(op->stage, "on-error");
    fs->format = format == NULL || strcmp(format, "text") == 0 ? FMT_TEXT
                 : strcmp(format, "csv") == 0                  ? FMT_CSV
                                                               : FMT_JSON;
    fs->skip_errors = on_error != NULL && strcmp(on_error, "skip") == 0;
    fs->schema = &op->stage->out_schema;
    if (fs->format != FMT_TEXT && (fs->scratch = malloc(SL_MAX_STRING)) == NULL)
        return SL_ENOMEM;
    fs->buf = malloc(READ_CHUNK + SL_MAX_STRING);
    return fs->buf ? SL_OK : SL_ENOMEM;
}

void sl_source_pacer_start(sl_source_pacer *p, const sl_operator *op)
{
    const char *rate = sl_stage_param(op->stage, "rate");
    p->rate = rate ? strtod(rate, NULL) / op->task->parallelism : 0;
    p->emitted = 0;
    p->t0 = sl_now_ms();
}

/* Called after every record: lets the task take a checkpoint between two
 * records, and holds the source to its rate (polling the mailbox while it
 * waits). */
int sl_source_pace(sl_operator *op, sl_source_pacer *p)
{
    p->emitted++;
    int rv = sl_task_poll(op->task);
    if (rv != SL_OK)
        return rv;
    if ((p->emitted & 1023) == 0 && sl_task_canceled(op->task))
        return SL_ECANCELED;
    if (p->rate <= 0)
        return SL_OK;
    int64_t due = p->t0 + (int64_t)((double)p->emitted * 1000.0 / p->rate);
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

/* Counts line ends in bytes [from, to) of file f and, if csv is not NULL,
 * runs the csv record scanner over them (*csv: its state). SL_EIO with
 * errno set if the file cannot be read. */
static int scan_range(const src_file *f, int64_t from, int64_t to, int64_t *lines, int *csv)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    char *b = malloc(SCAN_CHUNK);
    int rv = fd >= 0 && b != NULL ? SL_OK : SL_EIO;
    while (rv == SL_OK && from < to) {
        size_t want = to - from < (int64_t)SCAN_CHUNK ? (size_t)(to - from) : SCAN_CHUNK;
        ssize_t n = pread(fd, b, want, from);
        if (n <= 0) {
            rv = n < 0 ? SL_EIO : SL_OK;
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            *lines += b[i] == '\n';
        for (size_t i = 0, end; csv != NULL && sl_csv_record_end(b + i, (size_t)n - i, csv, &end);)
            i += end + 1;
        from += n;
    }
    free(b);
    if (fd >= 0)
        close(fd);
    return rv;
}

/* 1-based line number of local offset at in file f (0 if unknown).
 * Counted on from the last one asked (records come in order). */
static int64_t line_number(file_source *fs, const src_file *f, int64_t at)
{
    if (fs->lines_of != f || fs->lines_off > at) {
        fs->lines_of = f;
        fs->lines_off = 0;
        fs->lines = 0;
    }
    if (scan_range(f, fs->lines_off, at, &fs->lines, NULL) != SL_OK) {
        fs->lines_of = NULL;
        return 0;
    }
    fs->lines_off = at;
    return fs->lines + 1;
}

/* A record of file f at local offset at did not parse: fails the task or,
 * with on-error: skip, counts it. */
static int malformed(sl_operator *op, file_source *fs, const src_file *f, int64_t at,
                     const char *why)
{
    sl_task *t = op->task;
    const char *what = fs->format == FMT_CSV ? "csv record" : "json line";
    long long line = (long long)line_number(fs, f, at);
    if (!fs->skip_errors)
        return sl_task_fail(t, "%s:%lld (byte %lld): malformed %s: %s", f->path, line,
                            (long long)at, what, why);
    if (++fs->skipped <= SKIP_LOG_MAX)
        sl_warn("file source %s %d/%d: skipping malformed %s at %s:%lld (byte %lld): %s%s",
                op->stage->name, t->subtask, t->parallelism, what, f->path, line,
                (long long)at, why,
                fs->skipped == SKIP_LOG_MAX ? " (further ones are counted, not logged)" : "");
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

/* Emits the record p[0..n) (its line end removed) that starts at local
 * offset at of file f; *emitted = 0 if it was skipped. */
static int emit_record(sl_operator *op, file_source *fs, const src_file *f, int64_t at,
                       const char *p, size_t n, int *emitted)
{
    char why[256];
    sl_row row;
    int rv;

    *emitted = 1;
    if (fs->format == FMT_TEXT)
        return emit_line(op, p, n);
    *emitted = 0;
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (n == 0)
        return SL_OK;
    if (fs->format == FMT_CSV)
        rv = sl_csv_parse_record(p, n, fs->schema, &row, fs->scratch, why, sizeof(why));
    else
        rv = sl_json_parse_line(p, n, fs->schema, &row, fs->scratch, why, sizeof(why));
    if (rv != SL_OK)
        return malformed(op, fs, f, at, why);
    *emitted = 1;
    rv = sl_operator_emit(op, &row);
    return rv == SL_OK ? sl_wm_gen_observe(&fs->wm, op, &row) : rv;
}

/* Finds the line end that ends the record at p[0..n): a line end for text
 * and json, one outside a quoted field for csv (csv: the scanner's state at
 * p[0]). */
static int record_end(const file_source *fs, const char *p, size_t n, int csv, size_t *end)
{
    if (fs->format == FMT_CSV)
        return sl_csv_record_end(p, n, &csv, end);
    const char *nl = memchr(p, '\n', n);
    if (nl != NULL)
        *end = (size_t)(nl - p);
    return nl != NULL;
}

/* Reads file f from local offset `from`, emitting records that start before
 * `until`; skip_first drops the (partial) record that begins at `from`, and
 * csv is the csv scanner's state at `from`. */
static int read_lines(sl_operator *op, file_source *fs, const src_file *f, int64_t from,
                      int64_t until, int skip_first, int csv)
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
            size_t rel = 0;
            int found = record_end(fs, fs->buf + off, have - off, csv, &rel);
            if (!found && !eof)
                break;
            size_t end = found ? off + rel : have;
            if (end - off > SL_MAX_STRING) {
                rv = sl_task_fail(t, "%s: line at byte %lld is longer than %u bytes", f->path,
                                  (long long)(pos + (int64_t)off), SL_MAX_STRING);
                break;
            }
            if (!skip_first) {
                int emitted;
                rv = emit_record(op, fs, f, pos + (int64_t)off, fs->buf + off, end - off,
                                 &emitted);
                fs->next = f->base + pos + (int64_t)(found ? end + 1 : have);
                if (rv == SL_OK && emitted)
                    rv = sl_source_pace(op, &fs->pacer);
            }
            skip_first = 0;
            csv = 0;
            off = found ? end + 1 : have;
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

/* Reads file f from the record start after local offset s - 1 on. */
static int read_after(sl_operator *op, file_source *fs, const src_file *f, int64_t s,
                      int64_t e)
{
    int64_t lines = 0;
    int csv = 0;
    if (fs->format == FMT_CSV && scan_range(f, 0, s - 1, &lines, &csv) != SL_OK)
        return sl_task_fail(op->task, "cannot read %s: %s", f->path, strerror(errno));
    return read_lines(op, fs, f, s - 1, e, 1, csv);
}

static int fs_run(sl_operator *op)
{
    file_source *fs = op->impl;
    sl_task *t = op->task;
    sl_source_pacer_start(&fs->pacer, op);
    sl_wm_gen_init(&fs->wm, op);
    int64_t from = fs->resume >= fs->lo ? fs->resume : fs->lo;
    int exact = fs->resume > fs->lo; /* a restored position is a record start */
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
            rv = read_lines(op, fs, f, s, e, 0, 0);
        else
            rv = read_after(op, fs, f, s, e);
        if (rv != SL_OK)
            return rv;
        exact = 0;
    }
    fs->next = fs->hi;
    if (fs->skipped > 0)
        sl_warn("file source %s %d/%d: skipped %lld malformed records", op->stage->name,
                t->subtask, t->parallelism, (long long)fs->skipped);
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
    free(fs->scratch);
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
