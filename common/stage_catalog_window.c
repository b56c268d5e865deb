/* Stage catalog rows for event time: `operator: window` and the
 * `watermark: "<time-field>, <delay>"` setting of the sources. */
#include "common/stage_catalog.h"

#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/status.h"

/* ---- sources: file and datagen, plus `watermark` ---- */

const sl_stage_param_def sl_stage_params_source_file_wm[] = {
    {"path", NULL, 1},
    {"format", "text", 0},
    {"schema", NULL, 0},
    {"on-error", NULL, 0},
    {"rate", NULL, 0},
    {"watermark", NULL, 0},
    {NULL, NULL, 0},
};

const sl_stage_param_def sl_stage_params_source_datagen_wm[] = {
    {"seed", "0", 0},
    {"count", NULL, 0},
    {"rate", NULL, 0},
    {"keys", "1000", 0},
    {"ts", "index", 0},
    {"watermark", NULL, 0},
    {NULL, NULL, 0},
};

/* Field name (given by parameter p) must be an int field of schema s. */
static int check_int_field(sl_stage_check *chk, const sl_param *p, const sl_schema *s,
                           const char *name)
{
    int i = sl_schema_find(s, name);

    if (i < 0)
        return sl_stage_check_fail(chk, p, "field '%s' does not exist", name);
    if (s->types[i] != SL_TYPE_INT)
        return sl_stage_check_fail(chk, p, "field '%s' is %s, expected int (ms)", name,
                                   sl_type_name(s->types[i]));
    return SL_OK;
}

/* `watermark: "<field>, <duration>"` against the source's own output. */
static int check_watermark(sl_stage_check *chk)
{
    sl_param *p = sl_stage_param_ref(chk->st, "watermark");
    const char *v, *comma;
    char field[128];
    int64_t delay;
    size_t n;

    if (p == NULL)
        return SL_OK;
    v = p->value;
    comma = strchr(v, ',');
    while (*v == ' ')
        v++;
    n = comma != NULL ? (size_t)(comma - v) : 0;
    while (n > 0 && v[n - 1] == ' ')
        n--;
    if (n == 0 || n >= sizeof(field))
        return sl_stage_check_fail(chk, p, "watermark must be \"<time-field>, <max "
                                   "out-of-orderness>\" (e.g. \"ts, 500 ms\"): '%s'", p->value);
    memcpy(field, v, n);
    field[n] = '\0';
    for (comma++; *comma == ' '; comma++)
        ;
    if (sl_parse_duration_ms(comma, &delay) != SL_OK || delay < 0)
        return sl_stage_check_fail(chk, p, "bad watermark delay '%s'", comma);
    return check_int_field(chk, p, &chk->st->out_schema, field);
}

int sl_stage_validate_source_file_wm(sl_stage_check *chk)
{
    int rv = sl_stage_validate_source_file(chk);

    return rv != SL_OK ? rv : check_watermark(chk);
}

int sl_stage_validate_source_datagen_wm(sl_stage_check *chk)
{
    int rv = sl_stage_validate_source_datagen(chk);

    return rv != SL_OK ? rv : check_watermark(chk);
}

/* ---- operator: window ---- */

const sl_stage_param_def sl_stage_params_window[] = {
    {"time-field", NULL, 1},
    {"max-out-of-orderness", "0 ms", 0},
    {"size", NULL, 0},
    {"slide", NULL, 0},
    {"gap", NULL, 0},
    {"aggregate", "count", 0},
    {"field", NULL, 0},
    {NULL, NULL, 0},
};

/* Duration parameter key, if set, must be >= min ms. */
static int check_duration(sl_stage_check *chk, const char *key, int64_t min)
{
    sl_param *p = sl_stage_param_ref(chk->st, key);
    int64_t ms;

    if (p == NULL)
        return SL_OK;
    if (sl_parse_duration_ms(p->value, &ms) != SL_OK || ms < min)
        return sl_stage_check_fail(chk, p, "%s must be a duration of at least %lld ms: '%s'",
                                   key, (long long)min, p->value);
    return SL_OK;
}

int sl_stage_check_window_durations(sl_stage_check *chk)
{
    int rv;

    if ((rv = check_duration(chk, "max-out-of-orderness", 0)) != SL_OK ||
        (rv = check_duration(chk, "size", 1)) != SL_OK ||
        (rv = check_duration(chk, "slide", 1)) != SL_OK)
        return rv;
    return check_duration(chk, "gap", 1);
}

/* Exactly one of size (with optional slide) and gap. */
static int check_shape(sl_stage_check *chk)
{
    sl_param *size = sl_stage_param_ref(chk->st, "size");
    sl_param *slide = sl_stage_param_ref(chk->st, "slide");
    sl_param *gap = sl_stage_param_ref(chk->st, "gap");
    int rv = sl_stage_check_window_durations(chk);

    if (rv != SL_OK)
        return rv;
    if (size == NULL && gap == NULL)
        return sl_stage_check_fail(chk, NULL, "window needs 'size' (tumbling, with 'slide': "
                                   "sliding) or 'gap' (session)");
    if (size != NULL && gap != NULL)
        return sl_stage_check_fail(chk, gap, "window takes 'size' or 'gap', not both");
    if (slide != NULL && size == NULL)
        return sl_stage_check_fail(chk, slide, "'slide' needs 'size'");
    return SL_OK;
}

/* aggregate and field; the aggregate's output type in *t. */
static int check_aggregate(sl_stage_check *chk, sl_type *t)
{
    static const char *const aggs[] = {"count", "sum", "min", "max", "avg"};
    sl_param *agg = sl_stage_param_ref(chk->st, "aggregate");
    sl_param *field = sl_stage_param_ref(chk->st, "field");
    int known = 0, i;

    for (size_t k = 0; k < sizeof(aggs) / sizeof(aggs[0]); k++)
        known |= strcmp(agg->value, aggs[k]) == 0;
    if (!known)
        return sl_stage_check_fail(chk, agg, "unknown aggregate '%s' (expected count, sum, "
                                   "min, max or avg)", agg->value);
    *t = SL_TYPE_INT;
    if (strcmp(agg->value, "count") == 0) {
        if (field != NULL)
            return sl_stage_check_fail(chk, field, "aggregate count takes no 'field'");
        return SL_OK;
    }
    if (field == NULL)
        return sl_stage_check_fail(chk, agg, "aggregate %s requires 'field'", agg->value);
    i = sl_schema_find(chk->in[0], field->value);
    if (i < 0 || chk->in[0]->types[i] == SL_TYPE_STRING)
        return sl_stage_check_fail(chk, field, "field '%s' is not an int or double field of "
                                   "the input", field->value);
    *t = strcmp(agg->value, "avg") == 0 ? SL_TYPE_DOUBLE : chk->in[0]->types[i];
    return SL_OK;
}

int sl_stage_validate_window(sl_stage_check *chk)
{
    sl_stage *st = chk->st;
    sl_param *tf = sl_stage_param_ref(st, "time-field");
    sl_type t;
    int rv;

    if ((rv = check_int_field(chk, tf, chk->in[0], tf->value)) != SL_OK ||
        (rv = check_shape(chk)) != SL_OK || (rv = check_aggregate(chk, &t)) != SL_OK)
        return rv;
    for (int i = 0; i < st->nkeys; i++) {
        int k = st->key_idx[i];
        if ((rv = sl_stage_out_add(chk, chk->in[0]->names[k], chk->in[0]->types[k])) != SL_OK)
            return rv;
    }
    if ((rv = sl_stage_out_add(chk, "window_start", SL_TYPE_INT)) != SL_OK ||
        (rv = sl_stage_out_add(chk, "window_end", SL_TYPE_INT)) != SL_OK)
        return rv;
    return sl_stage_out_add(chk, sl_stage_param(st, "aggregate"), t);
}
