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

/* ---- operators (sources, sinks and aggregates: stage_catalog_io.c) ---- */

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
    {SL_STAGE_SOURCE, "file", sl_stage_params_source_file_wm, SL_KEYBY_FORBIDDEN, 0, 0,
     sl_stage_validate_source_file_wm},
    {SL_STAGE_SOURCE, "datagen", sl_stage_params_source_datagen_wm, SL_KEYBY_FORBIDDEN, 0, 0,
     sl_stage_validate_source_datagen_wm},
    {SL_STAGE_SOURCE, "nexmark", sl_stage_params_source_nexmark, SL_KEYBY_FORBIDDEN, 0, 0,
     sl_stage_validate_source_nexmark},
    {SL_STAGE_OPERATOR, "tokenize", op_tokenize_params, SL_KEYBY_FORBIDDEN, 1, 1,
     validate_op_tokenize},
    {SL_STAGE_OPERATOR, "filter", sl_stage_params_filter, SL_KEYBY_FORBIDDEN, 1, 1,
     sl_stage_validate_filter},
    {SL_STAGE_OPERATOR, "map", sl_stage_params_map, SL_KEYBY_FORBIDDEN, 1, 1,
     sl_stage_validate_map},
    {SL_STAGE_OPERATOR, "count", sl_stage_params_count, SL_KEYBY_REQUIRED, 1, 1,
     sl_stage_validate_aggregate},
    {SL_STAGE_OPERATOR, "sum", sl_stage_params_aggregate, SL_KEYBY_REQUIRED, 1, 1,
     sl_stage_validate_aggregate},
    {SL_STAGE_OPERATOR, "min", sl_stage_params_aggregate, SL_KEYBY_REQUIRED, 1, 1,
     sl_stage_validate_aggregate},
    {SL_STAGE_OPERATOR, "max", sl_stage_params_aggregate, SL_KEYBY_REQUIRED, 1, 1,
     sl_stage_validate_aggregate},
    {SL_STAGE_OPERATOR, "avg", sl_stage_params_aggregate, SL_KEYBY_REQUIRED, 1, 1,
     sl_stage_validate_aggregate},
    {SL_STAGE_OPERATOR, "window", sl_stage_params_window, SL_KEYBY_REQUIRED, 1, 1,
     sl_stage_validate_window},
    {SL_STAGE_OPERATOR, "argmax", sl_stage_params_argmax, SL_KEYBY_REQUIRED, 1, 1,
     sl_stage_validate_argmax},
    {SL_STAGE_OPERATOR, "udf", sl_stage_params_udf, SL_KEYBY_REQUIRED, 1, 1,
     sl_stage_validate_udf},
    {SL_STAGE_SINK, "file", sl_stage_params_sink_file, SL_KEYBY_FORBIDDEN, 1, 1,
     sl_stage_validate_sink_file},
    {SL_STAGE_SINK, "print", no_params, SL_KEYBY_FORBIDDEN, 1, 1, validate_nothing},
    {SL_STAGE_SINK, "blackhole", sl_stage_params_sink_blackhole, SL_KEYBY_FORBIDDEN, 1, 1,
     sl_stage_validate_sink_blackhole},
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
