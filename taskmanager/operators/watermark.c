#include "taskmanager/operators/watermark.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/operators/operator.h"

int sl_wm_parse_setting(const char *s, char *field, size_t cap, int64_t *delay)
{
    const char *comma = strchr(s, ',');
    size_t n;

    if (comma == NULL)
        return SL_EINVAL;
    while (*s == ' ')
        s++;
    n = (size_t)(comma - s);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    if (n == 0 || n >= cap)
        return SL_EINVAL;
    memcpy(field, s, n);
    field[n] = '\0';
    comma++;
    while (*comma == ' ')
        comma++;
    return sl_parse_duration_ms(comma, delay);
}

/* The first window stage fed (directly or not) by stage s, or -1. */
static int find_window(const sl_job_spec *spec, int s, int depth)
{
    if (depth > SL_MAX_STAGES)
        return -1;
    for (int i = 0; i < spec->nstages; i++) {
        const sl_stage *st = &spec->stages[i];
        if (st->ninputs < 1 || (st->inputs[0] != s && (st->ninputs < 2 || st->inputs[1] != s)))
            continue;
        if (st->kind == SL_STAGE_OPERATOR && strcmp(st->type, "window") == 0)
            return i;
        int w = find_window(spec, i, depth + 1);
        if (w >= 0)
            return w;
    }
    return -1;
}

void sl_wm_gen_init(sl_wm_gen *g, const sl_op *op)
{
    const sl_job_spec *spec = op->ctx.spec;
    const char *set = sl_stage_param(op->stage, "watermark");
    char field[128];
    int w;

    memset(g, 0, sizeof(*g));
    g->field = -1;
    g->max_ts = INT64_MIN;
    g->emitted = INT64_MIN;
    if (set != NULL) {
        if (sl_wm_parse_setting(set, field, sizeof(field), &g->delay) != SL_OK)
            return;
    } else {
        w = find_window(spec, (int)(op->stage - spec->stages), 0);
        const char *tf = w >= 0 ? sl_stage_param(&spec->stages[w], "time-field") : NULL;
        const char *d = w >= 0 ? sl_stage_param(&spec->stages[w], "max-out-of-orderness") : NULL;
        if (tf == NULL || snprintf(field, sizeof(field), "%s", tf) >= (int)sizeof(field))
            return;
        if (d != NULL && sl_parse_duration_ms(d, &g->delay) != SL_OK)
            return;
    }
    g->field = sl_schema_find(&op->stage->out_schema, field);
    if (g->field >= 0 && op->stage->out_schema.types[g->field] != SL_TYPE_INT)
        g->field = -1;
}

void sl_wm_gen_start(sl_wm_gen *g)
{
    g->last_ms = sl_now_coarse_ms();
}

int sl_wm_gen_observe(sl_wm_gen *g, sl_op *op, const sl_row *row)
{
    if (g->field < 0 || g->field >= row->nfields || row->v[g->field].type != SL_TYPE_INT)
        return SL_OK;
    if (row->v[g->field].u.i > g->max_ts)
        g->max_ts = row->v[g->field].u.i;
    int64_t now = ++g->since >= SL_WM_EVERY ? 0 : sl_now_coarse_ms();
    if (now != 0 && now - g->last_ms < SL_WM_INTERVAL_MS)
        return SL_OK;
    int64_t wm = g->max_ts < INT64_MIN + g->delay ? INT64_MIN : g->max_ts - g->delay;
    if (wm <= g->emitted)
        return SL_OK;
    g->emitted = wm;
    g->since = 0;
    g->last_ms = now != 0 ? now : sl_now_coarse_ms();
    return sl_op_source_watermark(op, wm);
}

/* ---- window assignment ---- */

int sl_window_spec_from_stage(const sl_stage *st, sl_window_spec *w)
{
    const char *size = sl_stage_param(st, "size");
    const char *slide = sl_stage_param(st, "slide");
    const char *gap = sl_stage_param(st, "gap");

    memset(w, 0, sizeof(*w));
    if (gap != NULL) {
        w->kind = SL_WIN_SESSION;
        return sl_parse_duration_ms(gap, &w->gap) == SL_OK && w->gap > 0 ? SL_OK : SL_EINVAL;
    }
    if (size == NULL || sl_parse_duration_ms(size, &w->size) != SL_OK || w->size <= 0)
        return SL_EINVAL;
    w->kind = SL_WIN_TUMBLING;
    w->slide = w->size;
    if (slide == NULL)
        return SL_OK;
    w->kind = SL_WIN_SLIDING;
    return sl_parse_duration_ms(slide, &w->slide) == SL_OK && w->slide > 0 ? SL_OK : SL_EINVAL;
}

int64_t sl_window_floor(int64_t ts, int64_t step)
{
    int64_t r = ts % step;

    if (r < 0)
        r += step;
    return ts - r;
}

int sl_window_assign(const sl_window_spec *w, int64_t ts, int64_t *start, int64_t *end, int max)
{
    int n = 0;

    if (w->kind == SL_WIN_SESSION) {
        if (max < 1)
            return 0;
        start[0] = ts;
        end[0] = ts > INT64_MAX - w->gap ? INT64_MAX : ts + w->gap;
        return 1;
    }
    for (int64_t s = sl_window_floor(ts, w->slide); s > ts - w->size && n < max; s -= w->slide) {
        start[n] = s;
        end[n] = s > INT64_MAX - w->size ? INT64_MAX : s + w->size;
        n++;
        if (s < INT64_MIN + w->slide)
            break;
    }
    return n;
}

int sl_window_fired(int64_t end, int64_t wm)
{
    return end - 1 <= wm;
}

int sl_window_is_late(const sl_window_spec *w, int64_t ts, int64_t wm)
{
    int64_t start, end;

    if (sl_window_assign(w, ts, &start, &end, 1) != 1)
        return 0; /* in no window (slide > size): nothing to drop */
    return sl_window_fired(end, wm);
}
