/* A user-defined operator for Sluice: counts sessions per user.
 *
 * Input: records with a `ts` field (int, ms) keyed by user (key-by: user).
 * A user's session ends when the gap between two of their records exceeds
 * `params: {gap_ms: N}` (default 30000); each record that starts a new
 * session emits `user, sessions` (the user's sessions so far). Records of
 * a user are taken in arrival order. The state (last ts, sessions) is
 * value state, so it is checkpointed: exactly-once with checkpoints on.
 *
 * Build (the Makefile does this into build/examples/libsession_counter.so):
 *
 *     cc -std=c11 -O2 -fPIC -shared -I include \
 *        -o libsession_counter.so examples/udf/session_counter.c
 *
 * Use in a job file:
 *
 *     - name: sessions
 *       operator: udf
 *       library: /abs/path/libsession_counter.so
 *       symbol: session_counter
 *       key-by: user
 *       schema: "user:string, sessions:int"
 *       params: {gap_ms: 1000}
 *
 * Writing your own: include <sluice/udf.h>, define a `const sluice_udf`
 * variable with api_version = SLUICE_UDF_API_VERSION and at least
 * `process`, build it with -fPIC -shared, and name the variable in
 * `symbol:`. See include/sluice/udf.h for every call. */
#include <stdlib.h>
#include <string.h>

#include <sluice/udf.h>

typedef struct sc_state {
    int64_t last_ts;
    int64_t sessions;
} sc_state;

typedef struct sc {
    int64_t gap_ms;
    int ts_field, user_field;
} sc;

static int sc_open(sluice_ctx *ctx)
{
    const char *gap = sluice_param(ctx, "gap_ms");
    sc *s = calloc(1, sizeof(*s));
    char *end = NULL;

    if (s == NULL)
        return SLUICE_ENOMEM;
    s->gap_ms = gap != NULL ? strtoll(gap, &end, 10) : 30000;
    s->ts_field = sluice_field_index(ctx, "ts");
    s->user_field = sluice_field_index(ctx, "user");
    sluice_set_user(ctx, s);
    if ((gap != NULL && (end == gap || *end != '\0' || s->gap_ms < 0)) || s->ts_field < 0 ||
        s->user_field < 0)
        return SLUICE_EINVAL; /* bad gap_ms, or no ts / user input field */
    return SLUICE_OK;
}

static void sc_close(sluice_ctx *ctx)
{
    free(sluice_user(ctx));
}

static int sc_emit(sluice_ctx *ctx, const sluice_record *in, const sc *s, int64_t sessions)
{
    sluice_record *out = sluice_out(ctx);
    const char *user;
    size_t ulen;
    int rv;

    if ((rv = sluice_get_string(ctx, in, s->user_field, &user, &ulen)) != SLUICE_OK ||
        (rv = sluice_set_string(ctx, out, 0, user, ulen)) != SLUICE_OK ||
        (rv = sluice_set_int(ctx, out, 1, sessions)) != SLUICE_OK)
        return rv;
    return sluice_emit(ctx, out);
}

static int sc_process(sluice_ctx *ctx, const sluice_record *rec)
{
    const sc *s = sluice_user(ctx);
    sc_state st = {0, 0};
    const void *v;
    size_t len;
    int64_t ts;
    int rv, have;

    if ((rv = sluice_get_int(ctx, rec, s->ts_field, &ts)) != SLUICE_OK)
        return rv;
    rv = sluice_value_get(ctx, "session", &v, &len);
    if (rv != SLUICE_OK && rv != SLUICE_ENOTFOUND)
        return rv;
    have = rv == SLUICE_OK;
    if (have && len != sizeof(st))
        return SLUICE_EINVAL;
    if (have)
        memcpy(&st, v, sizeof(st));
    int starts = !have || ts - st.last_ts > s->gap_ms;
    if (starts)
        st.sessions++;
    st.last_ts = ts;
    if ((rv = sluice_value_put(ctx, "session", &st, sizeof(st))) != SLUICE_OK)
        return rv;
    return starts ? sc_emit(ctx, rec, s, st.sessions) : SLUICE_OK;
}

const sluice_udf session_counter = {
    .api_version = SLUICE_UDF_API_VERSION,
    .open = sc_open,
    .close = sc_close,
    .process = sc_process,
};
