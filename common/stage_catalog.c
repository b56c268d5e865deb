#include "common/stage_catalog.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/status.h"

/* ---- helpers shared by the validate functions ---- */

const char *sl_stage_kind_name(enum sl_stage_kind kind)
{
    switch (kind) {
    case SL_STAGE_SOURCE: return "source";
    case SL_STAGE_OPERATOR: return "operator";
    case SL_STAGE_SINK: return "sink";
    }
    return "stage";
}

sl_param *sl_stage_param_ref(sl_stage *st, const char *key)
{
    for (int i = 0; i < st->nparams; i++) {
        if (strcmp(st->params[i].key, key) == 0)
            return &st->params[i];
    }
    return NULL;
}

int sl_stage_param_set(sl_param *p, const char *value)
{
    char *v = strdup(value);
    if (v == NULL)
        return SL_ENOMEM;
    free(p->value);
    p->value = v;
    return SL_OK;
}

int sl_stage_check_fail(sl_stage_check *chk, const sl_param *at, const char *fmt, ...)
{
    int line = chk->st->line, col = chk->st->col;
    char msg[512];
    va_list ap;

    if (at != NULL && at->line > 0) {
        line = at->line;
        col = at->col;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (chk->err != NULL && chk->errlen > 0)
        snprintf(chk->err, chk->errlen, "%s:%d:%d: %s", chk->file, line, col, msg);
    return SL_EINVAL;
}

/* "line:string, n:int" into out (truncated with "..." if it does not fit). */
static void schema_describe(const sl_schema *s, char *out, size_t cap)
{
    size_t used = 0;

    if (cap == 0)
        return;
    out[0] = '\0';
    if (s == NULL || s->nfields == 0) {
        snprintf(out, cap, "no fields");
        return;
    }
    for (int i = 0; i < s->nfields; i++) {
        int n = snprintf(out + used, cap - used, "%s%s:%s", i > 0 ? ", " : "", s->names[i],
                         sl_type_name(s->types[i]));
        if (n < 0 || (size_t)n >= cap - used) {
            if (cap > 4)
                memcpy(out + cap - 4, "...", 4);
            return;
        }
        used += (size_t)n;
    }
}

/* Parameter `key` must be an absolute path or a file:// URI; stores the plain
 * absolute path back. */
static int check_path(sl_stage_check *chk, const char *key)
{
    sl_param *p = sl_stage_param_ref(chk->st, key);
    char path[PATH_MAX];

    if (p == NULL)
        return SL_OK;
    if (sl_path_from_uri(p->value, path, sizeof(path)) != SL_OK || path[0] != '/')
        return sl_stage_check_fail(chk, p, "%s must be an absolute path or a file:// URI: '%s'",
                                   key, p->value);
    return sl_stage_param_set(p, path);
}

/* Parameter `key` must be one of supported[] ("x" otherwise is "not
 * supported yet" when listed in planned[], else unknown). */
static int check_format(sl_stage_check *chk, const char *const *supported,
                        const char *const *planned, const char *expected)
{
    sl_param *p = sl_stage_param_ref(chk->st, "format");

    if (p == NULL)
        return SL_OK;
    for (int i = 0; supported[i] != NULL; i++) {
        if (strcmp(p->value, supported[i]) == 0)
            return SL_OK;
    }
    for (int i = 0; planned[i] != NULL; i++) {
        if (strcmp(p->value, planned[i]) == 0)
            return sl_stage_check_fail(chk, p, "format '%s' is not supported yet", p->value);
    }
    return sl_stage_check_fail(chk, p, "unknown format '%s' (expected %s)", p->value, expected);
}

/* Parameter `key`, if present, must be a positive decimal integer. */
static int check_positive_int(sl_stage_check *chk, const char *key, const char *what)
{
    sl_param *p = sl_stage_param_ref(chk->st, key);
    const char *s;
    char *end = NULL;
    long long v;

    if (p == NULL)
        return SL_OK;
    s = p->value;
    if (s[0] < '0' || s[0] > '9')
        goto bad;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v <= 0)
        goto bad;
    return SL_OK;
bad:
    return sl_stage_check_fail(chk, p, "%s must be a positive integer%s: '%s'", key, what,
                               p->value);
}

/* Field named by parameter `key` must exist in the input with type t. */
static int check_input_field(sl_stage_check *chk, const char *key, sl_type t, int *idx)
{
    sl_param *p = sl_stage_param_ref(chk->st, key);
    char desc[256];
    int i;

    if (p == NULL)
        return sl_stage_check_fail(chk, NULL, "'%s' is not set", key);
    i = sl_schema_find(chk->in[0], p->value);
    if (i < 0) {
        schema_describe(chk->in[0], desc, sizeof(desc));
        return sl_stage_check_fail(chk, p, "field '%s' does not exist in the input (%s)",
                                   p->value, desc);
    }
    if (chk->in[0]->types[i] != t)
        return sl_stage_check_fail(chk, p, "field '%s' is %s, expected %s", p->value,
                                   sl_type_name(chk->in[0]->types[i]), sl_type_name(t));
    if (idx != NULL)
        *idx = i;
    return SL_OK;
}

static int schema_add(sl_stage_check *chk, const char *name, sl_type t)
{
    int rv = sl_schema_add(&chk->st->out_schema, name, t);

    if (rv == SL_ENOSPC)
        return sl_stage_check_fail(chk, NULL, "stage '%s' emits more than %d fields",
                                   chk->st->name, SL_MAX_FIELDS);
    return rv;
}

/* ---- sources ---- */

static const sl_stage_param_def source_file_params[] = {
    {"path", NULL, 1},
    {"format", "text", 0},
    {"rate", NULL, 0},
    {NULL, NULL, 0},
};

static int validate_source_file(sl_stage_check *chk)
{
    static const char *const supported[] = {"text", NULL};
    static const char *const planned[] = {"csv", "json", NULL};
    int rv;

    if ((rv = check_path(chk, "path")) != SL_OK)
        return rv;
    if ((rv = check_format(chk, supported, planned, "text, csv or json")) != SL_OK)
        return rv;
    if ((rv = check_positive_int(chk, "rate", " (records/s)")) != SL_OK)
        return rv;
    return schema_add(chk, "line", SL_TYPE_STRING);
}

/* ---- operators ---- */

static const sl_stage_param_def op_tokenize_params[] = {
    {"field", "line", 0},
    {NULL, NULL, 0},
};

static int validate_op_tokenize(sl_stage_check *chk)
{
    int rv;

    if ((rv = check_input_field(chk, "field", SL_TYPE_STRING, NULL)) != SL_OK)
        return rv;
    return schema_add(chk, "word", SL_TYPE_STRING);
}

static const sl_stage_param_def op_count_params[] = {
    {NULL, NULL, 0},
};

static int validate_op_count(sl_stage_check *chk)
{
    sl_stage *st = chk->st;
    int rv;

    for (int i = 0; i < st->nkeys; i++) {
        int k = st->key_idx[i];
        if ((rv = schema_add(chk, chk->in[0]->names[k], chk->in[0]->types[k])) != SL_OK)
            return rv;
    }
    if (sl_schema_find(&st->out_schema, "count") >= 0)
        return sl_stage_check_fail(chk, NULL,
                                   "key field 'count' clashes with the output field 'count'");
    return schema_add(chk, "count", SL_TYPE_INT);
}

/* ---- sinks ---- */

static const sl_stage_param_def sink_file_params[] = {
    {"path", NULL, 1},
    {"format", "csv", 0},
    {NULL, NULL, 0},
};

static int validate_sink_file(sl_stage_check *chk)
{
    static const char *const supported[] = {"csv", NULL};
    static const char *const planned[] = {"json", NULL};
    int rv;

    if ((rv = check_path(chk, "path")) != SL_OK)
        return rv;
    return check_format(chk, supported, planned, "csv or json");
}

static const sl_stage_param_def no_params[] = {
    {NULL, NULL, 0},
};

static int validate_nothing(sl_stage_check *chk)
{
    (void)chk;
    return SL_OK;
}

/* ---- the table ---- */

static const sl_stage_type catalog[] = {
    {SL_STAGE_SOURCE, "file", source_file_params, SL_KEYBY_FORBIDDEN, 0, 0,
     validate_source_file},
    {SL_STAGE_OPERATOR, "tokenize", op_tokenize_params, SL_KEYBY_FORBIDDEN, 1, 1,
     validate_op_tokenize},
    {SL_STAGE_OPERATOR, "count", op_count_params, SL_KEYBY_REQUIRED, 1, 1, validate_op_count},
    {SL_STAGE_SINK, "file", sink_file_params, SL_KEYBY_FORBIDDEN, 1, 1, validate_sink_file},
    {SL_STAGE_SINK, "print", no_params, SL_KEYBY_FORBIDDEN, 1, 1, validate_nothing},
    {SL_STAGE_SINK, "blackhole", no_params, SL_KEYBY_FORBIDDEN, 1, 1, validate_nothing},
};

const sl_stage_type *sl_stage_type_find(enum sl_stage_kind kind, const char *name)
{
    for (size_t i = 0; i < sizeof(catalog) / sizeof(catalog[0]); i++) {
        if (catalog[i].kind == kind && strcmp(catalog[i].name, name) == 0)
            return &catalog[i];
    }
    return NULL;
}

const sl_stage_param_def *sl_stage_type_param(const sl_stage_type *t, const char *name)
{
    for (const sl_stage_param_def *d = t->params; d->name != NULL; d++) {
        if (strcmp(d->name, name) == 0)
            return d;
    }
    return NULL;
}
