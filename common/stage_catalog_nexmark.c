/* Stage catalog row for `source: nexmark` (the Nexmark event generator,
 * common/nexmark.h): parameters, their checks and the output schema. */
#include "common/stage_catalog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/nexmark.h"
#include "common/status.h"

const sl_stage_param_def sl_stage_params_source_nexmark[] = {
    {"seed", "0", 0},
    {"count", NULL, 0},             /* absent: unbounded */
    {"rate", NULL, 0},              /* records/s cap over all subtasks; absent: none */
    {"events-per-second", "10000000", 0}, /* of event time (Nexmark's firstEventRate) */
    {"base-time", "0", 0},          /* ms: date_time of event 0 */
    {"watermark", NULL, 0},         /* "date_time, <delay>" */
    {NULL, NULL, 0},
};

/* Parameter key must be a decimal integer in [min, max]. */
static int check_range(sl_stage_check *chk, const char *key, long long min, long long max)
{
    sl_param *p = sl_stage_param_ref(chk->st, key);
    char *end = NULL;
    long long v;

    if (p == NULL)
        return SL_OK;
    errno = 0;
    v = strtoll(p->value, &end, 10);
    if (p->value[0] == '\0' || errno != 0 || *end != '\0' || v < min || v > max)
        return sl_stage_check_fail(chk, p, "%s must be an integer in [%lld, %lld]: '%s'", key,
                                   min, max, p->value);
    return SL_OK;
}

static int check_seed(sl_stage_check *chk)
{
    sl_param *p = sl_stage_param_ref(chk->st, "seed");
    char *end = NULL;

    if (p == NULL)
        return SL_OK;
    errno = 0;
    (void)strtoull(p->value, &end, 10);
    if (p->value[0] < '0' || p->value[0] > '9' || errno != 0 || *end != '\0')
        return sl_stage_check_fail(chk, p, "seed must be an integer in [0, 2^64): '%s'",
                                   p->value);
    return SL_OK;
}

/* `watermark: "<int field>, <duration>"` against the nexmark schema. */
static int check_watermark(sl_stage_check *chk)
{
    sl_param *p = sl_stage_param_ref(chk->st, "watermark");
    const sl_schema *s = &chk->st->out_schema;
    char field[128];
    const char *comma;
    int64_t delay;
    size_t n;
    int i;

    if (p == NULL)
        return SL_OK;
    comma = strchr(p->value, ',');
    n = comma != NULL ? (size_t)(comma - p->value) : 0;
    while (n > 0 && p->value[n - 1] == ' ')
        n--;
    if (comma == NULL || n == 0 || n >= sizeof(field))
        return sl_stage_check_fail(chk, p, "watermark must be \"<time-field>, <max "
                                   "out-of-orderness>\" (e.g. \"date_time, 0 ms\"): '%s'",
                                   p->value);
    memcpy(field, p->value, n);
    field[n] = '\0';
    for (comma++; *comma == ' '; comma++)
        ;
    if (sl_parse_duration_ms(comma, &delay) != SL_OK || delay < 0)
        return sl_stage_check_fail(chk, p, "bad watermark delay '%s'", comma);
    i = sl_schema_find(s, field[0] == ' ' ? field + strspn(field, " ") : field);
    if (i < 0 || s->types[i] != SL_TYPE_INT)
        return sl_stage_check_fail(chk, p, "watermark field '%s' is not an int field of the "
                                   "nexmark source", field);
    return SL_OK;
}

int sl_stage_validate_source_nexmark(sl_stage_check *chk)
{
    int rv;

    if ((rv = check_seed(chk)) != SL_OK ||
        (rv = sl_stage_check_positive_int(chk, "count", " (events)")) != SL_OK ||
        (rv = sl_stage_check_positive_int(chk, "rate", " (events/s)")) != SL_OK ||
        (rv = check_range(chk, "events-per-second", 1, 1000000000000LL)) != SL_OK ||
        (rv = check_range(chk, "base-time", 0, 4102444800000LL)) != SL_OK)
        return rv;
    rv = sl_nexmark_schema(&chk->st->out_schema);
    if (rv != SL_OK)
        return sl_stage_check_fail(chk, NULL, "nexmark: cannot build the output schema: %s",
                                   sl_strerror(rv));
    return check_watermark(chk);
}
