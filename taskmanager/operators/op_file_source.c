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
 * Splits as byte ranges: a range [start, end) of the concatenated input
 * stands for the records that START in it (a range whose start is not
 * known to be a record start uses the rule above; `exact` marks one that
 * is, e.g. a checkpointed position). A fresh subtask owns one range, its
 * share; a subtask reads its ranges in offset order.
 *
 * Checkpointed state (varints): version 2, old subtask, old parallelism,
 * range count, then per range start, exact (0/1), end: the ranges not read
 * yet, the current one starting at the next record. The task polls its
 * mailbox after every record, so a barrier always falls between two
 * records. Restore (`redistribute`): every subtask gets the states of all
 * old subtasks; with the same parallelism it keeps its own ranges;
 * otherwise the remaining bytes, ranges sorted by offset, are split into P'
 * even shares (share j = bytes [B*j/P', B*(j+1)/P') of the B remaining).
 * A share boundary inside a range starts a non-exact range, so the records
 * of a range are read by exactly one subtask, csv records spanning lines
 * included. */
#include <limits.h>
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
#include "taskmanager/operators/op_pacer.h"
#include "taskmanager/operators/operator.h"
#include "taskmanager/operators/watermark.h"

#define READ_CHUNK (1u << 20)
#define MAX_FILES 4096
#define SCAN_CHUNK (64u << 10)
#define SKIP_LOG_MAX 10
#define STATE_VERSION 2
#define MAX_RANGES 4096

typedef struct src_range {
    int64_t start, end; /* records starting in [start, end) */
    int exact;          /* start is a record start */
    int owner;          /* restore: old subtask */
} src_range;

enum src_format { FMT_TEXT, FMT_CSV, FMT_JSON };

typedef struct src_file {
    char *path;
    int64_t size, base;
} src_file;

typedef struct file_source {
    src_file files[MAX_FILES];
    int nfiles;
    int64_t total;   /* bytes of the concatenated input */
    src_range *ranges; /* MAX_RANGES: ranges to read, by offset */
    int nranges, cur;  /* cur: the range being read */
    int64_t next;    /* global offset of the next record to read in range cur */
    int next_exact;  /* next is a record start */
    src_range *pool;   /* restore: ranges of every old subtask (MAX_RANGES) */
    int npool, old_par;
    int *seen;         /* restore: old subtasks seen (MAX_RANGES) */
    int nseen;
    sl_op_pacer pacer;
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

static int add_file(sl_op *op, file_source *fs, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return sl_op_fail(op, "cannot read %s: %s", path, strerror(errno));
    if (fs->nfiles == MAX_FILES)
        return sl_op_fail(op, "more than %d input files", MAX_FILES);
    src_file *f = &fs->files[fs->nfiles];
    f->path = strdup(path);
    if (f->path == NULL)
        return SL_ENOMEM;
    f->size = st.st_size;
    f->base = fs->nfiles ? fs->files[fs->nfiles - 1].base + fs->files[fs->nfiles - 1].size : 0;
    fs->nfiles++;
    return SL_OK;
}

static int list_dir(sl_op *op, file_source *fs, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return sl_op_fail(op, "cannot open folder %s: %s", dir, strerror(errno));
    char *names[MAX_FILES];
    int n = 0, rv = SL_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && rv == SL_OK) {
        if (de->d_name[0] == '.')
            continue;
        if (n == MAX_FILES)
            rv = sl_op_fail(op, "more than %d files in %s", MAX_FILES, dir);
        else if ((names[n++] = strdup(de->d_name)) == NULL)
            rv = SL_ENOMEM;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), cmp_names);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct stat st;
        if (rv == SL_OK && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rv = add_file(op, fs, path);
        free(names[i]);
    }
    return rv;
}

static int fs_open(sl_op *op)
{
    const sl_op_ctx *c = &op->ctx;
    file_source *fs = calloc(1, sizeof(*fs));
    if (fs == NULL)
        return SL_ENOMEM;
    op->impl = fs;
    const char *path = sl_stage_param(op->stage, "path");
    struct stat st;
    if (path == NULL || stat(path, &st) != 0)
        return sl_op_fail(op, "cannot read %s: %s", path ? path : "(no path)", strerror(errno));
    int rv = S_ISDIR(st.st_mode) ? list_dir(op, fs, path) : add_file(op, fs, path);
    if (rv != SL_OK)
        return rv;
    int64_t total = fs->nfiles ? fs->files[fs->nfiles - 1].base + fs->files[fs->nfiles - 1].size : 0;
    fs->total = total;
    fs->ranges = calloc(MAX_RANGES, sizeof(*fs->ranges));
    if (fs->ranges == NULL)
        return SL_ENOMEM;
    fs->ranges[0] = (src_range){.start = total * c->subtask / c->parallelism,
                                .end = total * (c->subtask + 1) / c->parallelism};
    fs->nranges = 1;
    fs->next = fs->ranges[0].start;
    const char *format = sl_stage_param(op->stage, "format");
    const char *on_error = sl_stage_param(op->stage, "on-error");
    fs->format = format == NULL || strcmp(format, "text") == 0 ? FMT_TEXT
                 : strcmp(format, "csv") == 0                  ? FMT_CSV
                                                               : FMT_JSON;
    fs->skip_errors = on_error != NULL && strcmp(on_error, "skip") == 0;
    fs->schema = &op->stage->out_schema;
    if (fs->format != FMT_TEXT && (fs->scratch = malloc(SL_MAX_STRING)) == NULL)
        return SL_ENOMEM;
    sl_op_pacer_init(&fs->pacer, op);
    sl_wm_gen_init(&fs->wm, op);
    fs->buf = malloc(READ_CHUNK + SL_MAX_STRING);
    return fs->buf ? SL_OK : SL_ENOMEM;
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
static int malformed(sl_op *op, file_source *fs, const src_file *f, int64_t at,
                     const char *why)
{
    const sl_op_ctx *c = &op->ctx;
    const char *what = fs->format == FMT_CSV ? "csv record" : "json line";
    long long line = (long long)line_number(fs, f, at);
    if (!fs->skip_errors)
        return sl_op_fail(op, "%s:%lld (byte %lld): malformed %s: %s", f->path, line,
                          (long long)at, what, why);
    if (++fs->skipped <= SKIP_LOG_MAX)
        sl_warn("file source %s %d/%d: skipping malformed %s at %s:%lld (byte %lld): %s%s",
                op->stage->name, c->subtask, c->parallelism, what, f->path, line,
                (long long)at, why,
                fs->skipped == SKIP_LOG_MAX ? " (further ones are counted, not logged)" : "");
    return SL_OK;
}

static int emit_line(sl_op *op, const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    sl_row row;
    row.nfields = 1;
    row.v[0].type = SL_TYPE_STRING;
    row.v[0].u.s.ptr = p;
    row.v[0].u.s.len = (uint32_t)n;
    return sl_op_emit(op, &row);
}

/* Emits the record p[0..n) (its line end removed) that starts at local
 * offset at of file f; *emitted = 0 if it was skipped. */
static int emit_record(sl_op *op, file_source *fs, const src_file *f, int64_t at,
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
    rv = sl_op_emit(op, &row);
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
static int read_lines(sl_op *op, file_source *fs, const src_file *f, int64_t from,
                      int64_t until, int skip_first, int csv)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sl_op_fail(op, "cannot open %s: %s", f->path, strerror(errno));
    int rv = SL_OK;
    size_t have = 0;      /* bytes in buf not yet consumed */
    int64_t pos = from;   /* file offset of buf[0] */
    int eof = 0;
    while (rv == SL_OK) {
        if (!eof && have < SL_MAX_STRING) {
            ssize_t n = pread(fd, fs->buf + have, READ_CHUNK, pos + (int64_t)have);
            if (n < 0) {
                rv = sl_op_fail(op, "cannot read %s: %s", f->path, strerror(errno));
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
                rv = sl_op_fail(op, "%s: line at byte %lld is longer than %u bytes", f->path,
                                (long long)(pos + (int64_t)off), SL_MAX_STRING);
                break;
            }
            if (!skip_first) {
                int emitted;
                rv = emit_record(op, fs, f, pos + (int64_t)off, fs->buf + off, end - off,
                                 &emitted);
                fs->next = f->base + pos + (int64_t)(found ? end + 1 : have);
                fs->next_exact = 1;
                if (rv == SL_OK && emitted)
                    rv = sl_op_pacer_pace(&fs->pacer, op);
            }
            skip_first = 0;
            csv = 0;
            off = found ? end + 1 : have;
        }
        if (rv != SL_OK || (eof && off >= have))
            break;
        if (off == 0 && have >= SL_MAX_STRING) {
            rv = sl_op_fail(op, "%s: line at byte %lld is longer than %u bytes", f->path,
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
static int read_after(sl_op *op, file_source *fs, const src_file *f, int64_t s,
                      int64_t e)
{
    int64_t lines = 0;
    int csv = 0;
    if (fs->format == FMT_CSV && scan_range(f, 0, s - 1, &lines, &csv) != SL_OK)
        return sl_op_fail(op, "cannot read %s: %s", f->path, strerror(errno));
    return read_lines(op, fs, f, s - 1, e, 1, csv);
}

/* Reads the records that start in range r. */
static int read_range(sl_op *op, file_source *fs, const src_range *r)
{
    int exact = r->exact;
    fs->next = r->start;
    fs->next_exact = r->exact;
    for (int i = 0; i < fs->nfiles; i++) {
        const src_file *f = &fs->files[i];
        int64_t s = r->start - f->base, e = r->end - f->base;
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
    return SL_OK;
}

static int fs_run(sl_op *op)
{
    file_source *fs = op->impl;
    const sl_op_ctx *c = &op->ctx;
    sl_op_pacer_start(&fs->pacer);
    sl_wm_gen_start(&fs->wm);
    for (; fs->cur < fs->nranges; fs->cur++) {
        int rv = read_range(op, fs, &fs->ranges[fs->cur]);
        if (rv != SL_OK)
            return rv;
    }
    if (fs->skipped > 0)
        sl_warn("file source %s %d/%d: skipped %lld malformed records", op->stage->name,
                c->subtask, c->parallelism, (long long)fs->skipped);
    return SL_OK;
}

static void fs_close(sl_op *op, int committed)
{
    (void)committed;
    file_source *fs = op->impl;
    if (fs == NULL)
        return;
    for (int i = 0; i < fs->nfiles; i++)
        free(fs->files[i].path);
    free(fs->buf);
    free(fs->scratch);
    free(fs->ranges);
    free(fs->pool);
    free(fs->seen);
    free(fs);
    op->impl = NULL;
}

/* ---- checkpoints */

static int put_range(sl_buf *out, int64_t start, int exact, int64_t end)
{
    int rv = sl_buf_put_varint(out, (uint64_t)start);
    if (rv == SL_OK)
        rv = sl_buf_put_varint(out, (uint64_t)(exact != 0));
    return rv == SL_OK ? sl_buf_put_varint(out, (uint64_t)end) : rv;
}

/* The ranges not read yet: the rest of range cur (from the next record),
 * then the ones after it. */
static int fs_snapshot(sl_op *op, uint64_t chk_id, sl_buf *out)
{
    file_source *fs = op->impl;
    (void)chk_id;
    int rest = fs->cur < fs->nranges && fs->next < fs->ranges[fs->cur].end;
    int first = fs->cur + 1;
    uint64_t head[4] = {STATE_VERSION, (uint64_t)op->ctx.subtask,
                        (uint64_t)op->ctx.parallelism,
                        (uint64_t)(rest + (fs->nranges > first ? fs->nranges - first : 0))};
    int rv = SL_OK;
    for (int k = 0; k < 4 && rv == SL_OK; k++)
        rv = sl_buf_put_varint(out, head[k]);
    if (rv == SL_OK && rest)
        rv = put_range(out, fs->next, fs->next_exact, fs->ranges[fs->cur].end);
    for (int k = first; k < fs->nranges && rv == SL_OK; k++)
        rv = put_range(out, fs->ranges[k].start, fs->ranges[k].exact, fs->ranges[k].end);
    return rv;
}

/* Reads one range of an old subtask's state into the pool. */
static int read_range_state(file_source *fs, sl_state_cursor *c, int owner)
{
    uint64_t start, exact, end;
    if (sl_state_cursor_varint(c, &start) != SL_OK || sl_state_cursor_varint(c, &exact) != SL_OK ||
        sl_state_cursor_varint(c, &end) != SL_OK || exact > 1 || start >= end ||
        end > (uint64_t)fs->total || fs->npool == MAX_RANGES)
        return SL_EINVAL;
    fs->pool[fs->npool++] = (src_range){.start = (int64_t)start, .end = (int64_t)end,
                                        .exact = (int)exact, .owner = owner};
    return SL_OK;
}

static int seen_before(const file_source *fs, int subtask)
{
    for (int k = 0; k < fs->nseen; k++)
        if (fs->seen[k] == subtask)
            return 1;
    return 0;
}

/* One old subtask's state (every one of the stage comes here). */
static int fs_restore(sl_op *op, const uint8_t *data, size_t len)
{
    file_source *fs = op->impl;
    sl_state_cursor c;
    uint64_t version, subtask, par, n;
    if (fs->pool == NULL && ((fs->pool = calloc(MAX_RANGES, sizeof(*fs->pool))) == NULL ||
                             (fs->seen = calloc(MAX_RANGES, sizeof(*fs->seen))) == NULL))
        return SL_ENOMEM;
    sl_state_cursor_init(&c, data, len);
    if (sl_state_cursor_varint(&c, &version) != SL_OK || version != STATE_VERSION ||
        sl_state_cursor_varint(&c, &subtask) != SL_OK || sl_state_cursor_varint(&c, &par) != SL_OK ||
        sl_state_cursor_varint(&c, &n) != SL_OK || par < 1 || par > MAX_RANGES || subtask >= par ||
        n > MAX_RANGES || (fs->old_par != 0 && (uint64_t)fs->old_par != par) ||
        seen_before(fs, (int)subtask) || fs->nseen == MAX_RANGES)
        return sl_op_fail(op, "file source: bad checkpointed position");
    fs->old_par = (int)par;
    fs->seen[fs->nseen++] = (int)subtask;
    for (uint64_t k = 0; k < n; k++)
        if (read_range_state(fs, &c, (int)subtask) != SL_OK)
            return sl_op_fail(op, "file source: bad checkpointed range (did the input "
                              "change since the checkpoint?)");
    return sl_state_cursor_remaining(&c) == 0 ? SL_OK
                                        : sl_op_fail(op, "file source: bad checkpointed position");
}

static int cmp_range(const void *a, const void *b)
{
    const src_range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Appends [start, end) to the ranges to read (merged with an adjacent one). */
static int add_range(file_source *fs, int64_t start, int exact, int64_t end)
{
    if (start >= end)
        return SL_OK;
    if (fs->nranges > 0 && fs->ranges[fs->nranges - 1].end == start) {
        fs->ranges[fs->nranges - 1].end = end;
        return SL_OK;
    }
    if (fs->nranges == MAX_RANGES)
        return SL_ENOSPC;
    fs->ranges[fs->nranges++] = (src_range){.start = start, .end = end, .exact = exact};
    return SL_OK;
}

/* Takes bytes [lo, hi) of the pool's remaining bytes (counted in offset
 * order) as this subtask's ranges. */
static int take_share(file_source *fs, int64_t lo, int64_t hi)
{
    int64_t acc = 0;
    int rv = SL_OK;
    for (int k = 0; k < fs->npool && rv == SL_OK; k++) {
        const src_range *p = &fs->pool[k];
        int64_t len = p->end - p->start;
        int64_t a = lo > acc ? lo : acc, b = hi < acc + len ? hi : acc + len;
        if (a < b)
            rv = add_range(fs, p->start + (a - acc), p->exact && a == acc, p->start + (b - acc));
        acc += len;
    }
    return rv;
}

/* Every old subtask's ranges are in the pool: keeps this subtask's share. */
static int fs_restore_end(sl_op *op)
{
    file_source *fs = op->impl;
    const sl_op_ctx *c = &op->ctx;
    if (fs->nseen != fs->old_par)
        return sl_op_fail(op, "file source: the checkpoint holds the position of %d of %d "
                          "subtasks", fs->nseen, fs->old_par);
    qsort(fs->pool, (size_t)fs->npool, sizeof(*fs->pool), cmp_range);
    int64_t total = 0;
    for (int k = 0; k < fs->npool; k++) {
        if (k > 0 && fs->pool[k].start < fs->pool[k - 1].end)
            return sl_op_fail(op, "file source: checkpointed ranges overlap");
        total += fs->pool[k].end - fs->pool[k].start;
    }
    fs->nranges = fs->cur = 0;
    int rv = SL_OK;
    for (int k = 0; k < fs->npool && rv == SL_OK && fs->old_par == c->parallelism; k++)
        if (fs->pool[k].owner == c->subtask)
            rv = add_range(fs, fs->pool[k].start, fs->pool[k].exact, fs->pool[k].end);
    if (fs->old_par != c->parallelism)
        rv = take_share(fs, (int64_t)((__int128)total * c->subtask / c->parallelism),
                        (int64_t)((__int128)total * (c->subtask + 1) / c->parallelism));
    if (rv != SL_OK)
        return sl_op_fail(op, "file source: more than %d ranges to read", MAX_RANGES);
    fs->next = fs->nranges > 0 ? fs->ranges[0].start : 0;
    fs->next_exact = fs->nranges > 0 && fs->ranges[0].exact;
    return SL_OK;
}

const sl_op_ops sl_op_file_source = {
    .open = fs_open, .run = fs_run, .close = fs_close,
    .snapshot = fs_snapshot, .restore = fs_restore,
    .redistribute = 1, .restore_end = fs_restore_end,
};
