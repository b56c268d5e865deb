/* Stage catalog row for `operator: argmax` (taskmanager/op_argmax.c):
 * keyed event-time windows, tumbling (`size`) or sliding (`size` +
 * `slide`), that emit the input rows holding the window's highest `field`
 * (every tied row), unchanged, when the watermark passes the window. */
#include "common/stage_catalog.h"

#include <string.h>

#include "common/config.h"
#include "common/status.h"

const sl_stage_param_def sl_stage_params_argmax[] = {
    {"time-field", NULL, SL_PARAM_REQUIRED},
    {"max-out-of-orderness", "0 ms", 0},
    {"size", NULL, SL_PARAM_REQUIRED},
    {"slide", NULL, 0},
    {"field", NULL, SL_PARAM_REQUIRED},
    {NULL, NULL, 0},
};

/* Parameter key names a field of the input of one of the types allowed. */
static int check_field(sl_stage_check *chk, const char *key, int allow_double)
{
    sl_param *p = sl_stage_param_ref(chk->st, key);
    int i = sl_schema_find(chk->in[0], p->value);

    if (i < 0)
        return sl_stage_check_fail(chk, p, "field '%s' does not exist in the input", p->value);
    if (chk->in[0]->types[i] == SL_TYPE_INT ||
        (allow_double && chk->in[0]->types[i] == SL_TYPE_DOUBLE))
        return SL_OK;
    return sl_stage_check_fail(chk, p, "field '%s' is %s, expected %s", p->value,
                               sl_type_name(chk->in[0]->types[i]),
                               allow_double ? "int or double" : "int (ms)");
}

int sl_stage_validate_argmax(sl_stage_check *chk)
{
    sl_param *size = sl_stage_param_ref(chk->st, "size");
    sl_param *slide = sl_stage_param_ref(chk->st, "slide");
    int64_t sz, sl;
    int rv;

    /* argmax has no `gap` parameter: the window check of size and slide */
    if ((rv = sl_stage_check_window_durations(chk)) != SL_OK ||
        (rv = check_field(chk, "time-field", 0)) != SL_OK ||
        (rv = check_field(chk, "field", 1)) != SL_OK)
        return rv;
    if (slide != NULL && sl_parse_duration_ms(size->value, &sz) == SL_OK &&
        sl_parse_duration_ms(slide->value, &sl) == SL_OK && sz / sl > 1024)
        return sl_stage_check_fail(chk, slide, "size / slide must be at most 1024 (windows "
                                   "per record)");
    return sl_schema_copy(chk->in[0], &chk->st->out_schema);
}
