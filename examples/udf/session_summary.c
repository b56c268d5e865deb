/* A user-defined operator with event-time timers: one summary row per
 * session of a user (API version 2, include/sluice/udf.h).
 *
 * Input: records with a `ts` field (int, ms) keyed by user (key-by: user).
 * A user's session ends when `params: {gap_ms: N}` (default 30000) pass
 * without a record of theirs: a gap timer at last ts + gap fires when the
 * watermark reaches it, and the session is emitted as
 * `user, start, end, count` (start: its first ts; end: last ts + gap;
 * count: its records). A record more than gap_ms after the session's last
 * one that comes before the timer fired (the watermark lags) closes the
 * session too, so the output does not depend on when watermarks arrive.
 * Records of a user are taken in arrival order. The session (value state)
 * and its timer are keyed state: checkpointed, exactly-once with
 * checkpoints on.
 *
 * Build (the Makefile does this into build/examples/libsession_summary.so):
 *
 *     cc -std=c11 -O2 -fPIC -shared -I include \
 *        -o libsession_summary.so examples/udf/session_summary.c
 *
 * Use in a job file (the source's watermark drives the timers):
 *
 *     - name: events
 *       source: file
 *       ...
 *       watermark: "ts, 50 ms"
 *     - name: summaries
 *       operator: udf
 *       library: /abs/path/libsession_summary.so
 *       symbol: session_summary
 *       key-by: user
 *       schema: "user:string, start:int, end:int, count:int"
 *       params: {gap_ms: 1000} */
#include <stdlib.h>
#include <string.h>

#include <sluice/udf.h>

typedef struct ss_session {
    int64_t start, last, count;
} ss_session;

typedef struct ss {
    int64_t gap_ms;
    int ts_field;
} ss;

static int ss_open(sluice_ctx *ctx)
{
    const char *gap = sluice_param(ctx, "gap_ms");
    ss *s = calloc(1, sizeof(*s));
    char *end = NULL;

    if (s == NULL)
        return SLUICE_ENOMEM;
    s->gap_ms = gap != NULL ? strtoll(gap, &end, 10) : 30000;
    s->ts_field = sluice_field_index(ctx, "ts");
    sluice_set_user(ctx, s);
    if ((gap != NULL && (end == gap || *end != '\0' || s->gap_ms < 0)) || s->ts_field < 0)
        return SLUICE_EINVAL; /* bad gap_ms, or no ts input field */
    return SLUICE_OK;
}

static void ss_close(sluice_ctx *ctx)
{
    free(sluice_user(ctx));
}

/* The current key's session: SLUICE_OK, SLUICE_ENOTFOUND or an error. */
static int ss_load(sluice_ctx *ctx, ss_session *out)
{
    const void *v;
    size_t len;
    int rv = sluice_value_get(ctx, "session", &v, &len);

    if (rv != SLUICE_OK)
        return rv;
    if (len != sizeof(*out))
        return SLUICE_EINVAL;
    memcpy(out, v, sizeof(*out));
    return SLUICE_OK;
}

/* Emits session ss of the current key (the user) and forgets it. */
static int ss_emit(sluice_ctx *ctx, const ss *s, const ss_session *ses)
{
    const sluice_record *key = sluice_current_key(ctx);
    sluice_record *out = sluice_out(ctx);
    const char *user;
    size_t ulen;
    int rv;

    if (key == NULL)
        return SLUICE_EINVAL;
    if ((rv = sluice_get_string(ctx, key, 0, &user, &ulen)) != SLUICE_OK ||
        (rv = sluice_set_string(ctx, out, 0, user, ulen)) != SLUICE_OK ||
        (rv = sluice_set_int(ctx, out, 1, ses->start)) != SLUICE_OK ||
        (rv = sluice_set_int(ctx, out, 2, ses->last + s->gap_ms)) != SLUICE_OK ||
        (rv = sluice_set_int(ctx, out, 3, ses->count)) != SLUICE_OK ||
        (rv = sluice_emit(ctx, out)) != SLUICE_OK)
        return rv;
    return sluice_value_delete(ctx, "session");
}

static int ss_process(sluice_ctx *ctx, const sluice_record *rec)
{
    const ss *s = sluice_user(ctx);
    ss_session ses;
    int64_t ts;
    int rv;

    if ((rv = sluice_get_int(ctx, rec, s->ts_field, &ts)) != SLUICE_OK)
        return rv;
    rv = ss_load(ctx, &ses);
    if (rv != SLUICE_OK && rv != SLUICE_ENOTFOUND)
        return rv;
    if (rv == SLUICE_OK) {
        /* the gap timer moves (or the session closed before it fired) */
        if ((rv = sluice_delete_timer(ctx, ses.last + s->gap_ms)) != SLUICE_OK)
            return rv;
        if (ts - ses.last > s->gap_ms) {
            if ((rv = ss_emit(ctx, s, &ses)) != SLUICE_OK)
                return rv;
            rv = SLUICE_ENOTFOUND; /* a new session starts */
        }
    }
    if (rv == SLUICE_ENOTFOUND)
        ses = (ss_session){.start = ts, .last = ts, .count = 0};
    if (ts > ses.last)
        ses.last = ts;
    ses.count++;
    if ((rv = sluice_register_timer(ctx, ses.last + s->gap_ms)) != SLUICE_OK)
        return rv;
    return sluice_value_put(ctx, "session", &ses, sizeof(ses));
}

static int ss_on_timer(sluice_ctx *ctx, int64_t ts)
{
    const ss *s = sluice_user(ctx);
    ss_session ses;
    int rv = ss_load(ctx, &ses);

    (void)ts;
    if (rv == SLUICE_ENOTFOUND)
        return SLUICE_OK;
    return rv == SLUICE_OK ? ss_emit(ctx, s, &ses) : rv;
}

const sluice_udf session_summary = {
    .api_version = SLUICE_UDF_API_VERSION,
    .open = ss_open,
    .close = ss_close,
    .process = ss_process,
    .on_timer = ss_on_timer,
};
