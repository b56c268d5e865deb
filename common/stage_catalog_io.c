/* Stage catalog rows for input and output and for the keyed aggregates:
 * `source: file` (text, csv, json), `source: datagen`, `sink: file` (csv,
 * json), `sink: blackhole`, `operator: count|sum|min|max|avg`; and the parameter checks they
 * share with the rest of the catalog (stage_catalog.h). */
#include "common/stage_catalog.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/row_text.h"
#include "common/status.h"

/* ---- shared checks ---- */

int sl_stage_check_path(sl_stage_check *chk, const char *key)
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

static int one_of(const char *v, const char *const *list)
{
    for (int i = 0; list != NULL && list[i] != NULL; i++) {
        if (strcmp(v, list[i]) == 0)
            return 1;
    }
    return 0;
}

int sl_stage_check_format(sl_stage_check *chk, const char *const *supported,
                          const char *const *planned, const char *expected)
{
    sl_param *p = sl_stage_param_ref(chk->st, "format");

    if (p == NULL || one_of(p->value, supported))
        return SL_OK;
    if (one_of(p->value, planned))
        return sl_stage_check_fail(chk, p, "format '%s' is not supported yet", p->value);
    return sl_stage_check_fail(chk, p, "unknown format '%s' (expected %s)", p->value, expected);
}

/* Parses a decimal integer in [min, max]; SL_EINVAL otherwise. */
static int param_int(const char *s, unsigned long long min, unsigned long long max,
                     unsigned long long *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return SL_EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return SL_EINVAL;
    *out = v;
    return SL_OK;
}

int sl_stage_check_positive_int(sl_stage_check *chk, const char *key, const char *what)
{
    sl_param *p = sl_stage_param_ref(chk->st, key);
    unsigned long long v;

    if (p == NULL || param_int(p->value, 1, LLONG_MAX, &v) == SL_OK)
        return SL_OK;
    return sl_stage_check_fail(chk, p, "%s must be a positive integer%s: '%s'", key, what,
                               p->value);
}

int sl_stage_out_add(sl_stage_check *chk, const char *name, sl_type t)
{
    int rv = sl_schema_add(&chk->st->out_schema, name, t);

    if (rv == SL_ENOSPC)
        return sl_stage_check_fail(chk, NULL, "stage '%s' emits more than %d fields",
                                   chk->st->name, SL_MAX_FIELDS);
    if (rv == SL_EEXIST)
        return sl_stage_check_fail(chk, NULL, "stage '%s' emits field '%s' twice",
                                   chk->st->name, name);
    return rv;
}

/* Parameter key, if set, must be one of choices. */
static int check_choice(sl_stage_check *chk, const char *key, const char *const *choices,
                        const char *expected)
{
    sl_param *p = sl_stage_param_ref(chk->st, key);

    if (p == NULL || one_of(p->value, choices))
        return SL_OK;
    return sl_stage_check_fail(chk, p, "unknown %s '%s' (expected %s)", key, p->value,
                               expected);
}

/* ---- source: file ---- */

const sl_stage_param_def sl_stage_params_source_file[] = {
    {"path", NULL, 1},
    {"format", "text", 0},
    {"schema", NULL, 0},
    {"on-error", NULL, 0}, /* absent: fail */
    {"rate", NULL, 0},
    {NULL, NULL, 0},
};

/* `schema` into the stage's output; the error points at the schema value
 * and quotes the entry at fault. */
static int check_schema(sl_stage_check *chk, const char *format)
{
    sl_param *p = sl_stage_param_ref(chk->st, "schema");
    char msg[256];
    size_t off = 0;
    int rv;

    if (p == NULL)
        return sl_stage_check_fail(chk, NULL, "format %s requires 'schema' (e.g. \"ts:int, "
                                   "user:string, amount:double\")", format);
    rv = sl_schema_parse(p->value, &chk->st->out_schema, &off, msg, sizeof(msg));
    if (rv == SL_EINVAL)
        return sl_stage_check_fail(chk, p, "bad schema at character %zu ('%.30s'): %s",
                                   off + 1, p->value + off, msg);
    return rv;
}

int sl_stage_validate_source_file(sl_stage_check *chk)
{
    static const char *const formats[] = {"text", "csv", "json", NULL};
    static const char *const on_error[] = {"fail", "skip", NULL};
    const char *format = sl_stage_param(chk->st, "format");
    int rv;

    if ((rv = sl_stage_check_path(chk, "path")) != SL_OK ||
        (rv = sl_stage_check_format(chk, formats, NULL, "text, csv or json")) != SL_OK ||
        (rv = sl_stage_check_positive_int(chk, "rate", " (records/s)")) != SL_OK ||
        (rv = check_choice(chk, "on-error", on_error, "fail or skip")) != SL_OK)
        return rv;
    if (strcmp(format, "text") != 0)
        return check_schema(chk, format);
    sl_param *p = sl_stage_param_ref(chk->st, "schema");
    if (p != NULL)
        return sl_stage_check_fail(chk, p, "schema is for format csv or json, not text");
    p = sl_stage_param_ref(chk->st, "on-error");
    if (p != NULL)
        return sl_stage_check_fail(chk, p, "on-error is for format csv or json, not text");
    return sl_stage_out_add(chk, "line", SL_TYPE_STRING);
}

/* ---- source: datagen ---- */

const sl_stage_param_def sl_stage_params_source_datagen[] = {
    {"seed", "0", 0},
    {"count", NULL, 0},
    {"rate", NULL, 0},
    {"keys", "1000", 0},
    {"ts", "index", 0},
    {NULL, NULL, 0},
};

int sl_stage_validate_source_datagen(sl_stage_check *chk)
{
    static const char *const ts_modes[] = {"index", "wall", "wall-us", NULL};
    sl_param *seed = sl_stage_param_ref(chk->st, "seed");
    unsigned long long v;
    int rv;

    if (seed != NULL && param_int(seed->value, 0, ULLONG_MAX, &v) != SL_OK)
        return sl_stage_check_fail(chk, seed, "seed must be an integer in [0, 2^64): '%s'",
                                   seed->value);
    if ((rv = sl_stage_check_positive_int(chk, "count", " (records)")) != SL_OK ||
        (rv = sl_stage_check_positive_int(chk, "rate", " (records/s)")) != SL_OK ||
        (rv = sl_stage_check_positive_int(chk, "keys", " (distinct keys)")) != SL_OK ||
        (rv = check_choice(chk, "ts", ts_modes, "index, wall or wall-us")) != SL_OK)
        return rv;
    if ((rv = sl_stage_out_add(chk, "key", SL_TYPE_INT)) != SL_OK ||
        (rv = sl_stage_out_add(chk, "value", SL_TYPE_INT)) != SL_OK)
        return rv;
    return sl_stage_out_add(chk, "ts", SL_TYPE_INT);
}

/* ---- sink: blackhole ---- */

const sl_stage_param_def sl_stage_params_sink_blackhole[] = {
    {"latency-field", NULL, 0},
    {"latency-unit", "ms", 0},
    {NULL, NULL, 0},
};

/* `latency-field`, if set, must be an int field of the input (a creation
 * time in `latency-unit`: ms or us since the epoch). */
int sl_stage_validate_sink_blackhole(sl_stage_check *chk)
{
    static const char *const units[] = {"ms", "us", NULL};
    sl_param *p = sl_stage_param_ref(chk->st, "latency-field");
    int rv = check_choice(chk, "latency-unit", units, "ms or us");
    int i;

    if (rv != SL_OK || p == NULL)
        return rv;
    i = sl_schema_find(chk->in[0], p->value);
    if (i < 0)
        return sl_stage_check_fail(chk, p, "field '%s' does not exist in the input", p->value);
    if (chk->in[0]->types[i] != SL_TYPE_INT)
        return sl_stage_check_fail(chk, p, "field '%s' is %s, expected int (a creation time)",
                                   p->value, sl_type_name(chk->in[0]->types[i]));
    return SL_OK;
}

/* ---- operators: count, sum, min, max, avg ---- */

const sl_stage_param_def sl_stage_params_count[] = {
    {NULL, NULL, 0},
};

const sl_stage_param_def sl_stage_params_aggregate[] = {
    {"field", NULL, 1},
    {NULL, NULL, 0},
};

/* `field` must be an int or double field of the input; its type in *t. */
static int check_numeric_field(sl_stage_check *chk, sl_type *t)
{
    sl_param *p = sl_stage_param_ref(chk->st, "field");
    const sl_schema *in = chk->in[0];
    char names[256] = "";
    size_t used = 0;
    int i = sl_schema_find(in, p->value);

    if (i >= 0 && in->types[i] != SL_TYPE_STRING) {
        *t = in->types[i];
        return SL_OK;
    }
    if (i >= 0)
        return sl_stage_check_fail(chk, p, "field '%s' is string, expected int or double",
                                   p->value);
    for (int k = 0; k < in->nfields && used < sizeof(names); k++) {
        if (in->types[k] != SL_TYPE_STRING)
            used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
                                     used ? ", " : "", in->names[k]);
    }
    return sl_stage_check_fail(chk, p, "field '%s' does not exist in the input (%s%s)",
                               p->value, used ? "numeric fields: " : "no numeric field",
                               names);
}

int sl_stage_validate_aggregate(sl_stage_check *chk)
{
    sl_stage *st = chk->st;
    const char *agg = st->type;
    sl_type t = SL_TYPE_INT;
    int rv;

    if (strcmp(agg, "count") != 0 && (rv = check_numeric_field(chk, &t)) != SL_OK)
        return rv;
    if (strcmp(agg, "avg") == 0)
        t = SL_TYPE_DOUBLE;
    for (int i = 0; i < st->nkeys; i++) {
        int k = st->key_idx[i];
        if ((rv = sl_stage_out_add(chk, chk->in[0]->names[k], chk->in[0]->types[k])) != SL_OK)
            return rv;
    }
    if (sl_schema_find(&st->out_schema, agg) >= 0)
        return sl_stage_check_fail(chk, NULL, "key field '%s' clashes with the output field '%s'",
                                   agg, agg);
    return sl_stage_out_add(chk, agg, t);
}

/* ---- sink: file ---- */

const sl_stage_param_def sl_stage_params_sink_file[] = {
    {"path", NULL, 1},
    {"format", "csv", 0},
    {NULL, NULL, 0},
};

int sl_stage_validate_sink_file(sl_stage_check *chk)
{
    static const char *const formats[] = {"csv", "json", NULL};
    int rv;

    if ((rv = sl_stage_check_path(chk, "path")) != SL_OK)
        return rv;
    return sl_stage_check_format(chk, formats, NULL, "csv or json");
}
