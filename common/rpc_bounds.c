#include "common/rpc_bounds.h"

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/status.h"
#include "proto/sluice.pb-c.h"

#define UNLISTED_REPEATED_MAX 64 /* a repeated field missing from `limits` */
#define MAX_MSG_FIELDS 64        /* fields of one message type the scanner counts */
#define MAX_ONEOFS 4             /* oneofs of one message type */
#define VARINT_MAX_BYTES 10

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* ---- what each kind of request and each repeated field may hold */

struct kind {
    unsigned char role; /* enum sl_rpc_role; 0 = not a request kind */
    unsigned char heavy;
    size_t max_bytes; /* 0 = the server's max_msg */
};

#define JM SL_RPC_SERVE_JOBMANAGER
#define TM SL_RPC_SERVE_TASKMANAGER
static const struct kind kinds[] = {
    [SLUICE__REQUEST__BODY_REGISTER_TM] = {JM, 0, SL_RPC_TM_MAX_MSG},
    [SLUICE__REQUEST__BODY_HEARTBEAT] = {JM, 0, SL_RPC_HEARTBEAT_MAX_MSG},
    [SLUICE__REQUEST__BODY_TASK_STATE] = {JM, 0, SL_RPC_TM_MAX_MSG},
    [SLUICE__REQUEST__BODY_SUBMIT_JOB] = {JM, 1, 0},
    [SLUICE__REQUEST__BODY_LIST_JOBS] = {JM, 0, SL_RPC_QUERY_MAX_MSG},
    [SLUICE__REQUEST__BODY_JOB_INFO] = {JM, 0, SL_RPC_QUERY_MAX_MSG},
    [SLUICE__REQUEST__BODY_CANCEL_JOB] = {JM, 0, SL_RPC_QUERY_MAX_MSG},
    [SLUICE__REQUEST__BODY_LIST_TMS] = {JM, 0, SL_RPC_QUERY_MAX_MSG},
    [SLUICE__REQUEST__BODY_DEPLOY_TASKS] = {TM, 1, 0},
    [SLUICE__REQUEST__BODY_START_TASKS] = {TM, 0, SL_RPC_QUERY_MAX_MSG},
    [SLUICE__REQUEST__BODY_CANCEL_TASKS] = {TM, 0, SL_RPC_QUERY_MAX_MSG},
    [SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT] = {TM, 0, SL_RPC_QUERY_MAX_MSG},
    [SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT] = {TM, 0, SL_RPC_QUERY_MAX_MSG},
    [SLUICE__REQUEST__BODY_ACK_CHECKPOINT] = {JM, 0, SL_RPC_TM_MAX_MSG},
    [SLUICE__REQUEST__BODY_CHECKPOINT_STATS] = {JM, 0, SL_RPC_QUERY_MAX_MSG},
    [SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT_NOW] = {JM, 0, SL_RPC_QUERY_MAX_MSG},
    [SLUICE__REQUEST__BODY_TRIGGER_SAVEPOINT] = {JM, 1, SL_RPC_QUERY_MAX_MSG}, /* disk work */
    [SLUICE__REQUEST__BODY_SAVEPOINT_STATUS] = {JM, 0, SL_RPC_QUERY_MAX_MSG},
    [SLUICE__REQUEST__BODY_DISPOSE_SAVEPOINT] = {JM, 1, SL_RPC_QUERY_MAX_MSG}, /* disk work */
};
#undef JM
#undef TM
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

struct limit {
    const ProtobufCMessageDescriptor *msg;
    uint32_t field;
    uint32_t max;
};

static const struct limit limits[] = {
    {&sluice__heartbeat__descriptor, 2, SL_RPC_MAX_TM_TASKS},               /* tasks */
    {&sluice__submit_job__descriptor, 5, SL_RPC_MAX_UDF_LIBRARIES},         /* libraries */
    {&sluice__deploy_tasks__descriptor, 7, SL_RPC_MAX_JOB_TASKS},           /* task_addrs */
    {&sluice__deploy_tasks__descriptor, 8, SL_RPC_MAX_TM_ATTEMPT_TASKS},    /* local_tasks */
    {&sluice__deploy_tasks__descriptor, 12, SL_RPC_MAX_UDF_LIBRARIES},      /* libraries */
    {&sluice__ack_checkpoint__descriptor, 8, SL_RPC_MAX_STATE_HANDLES},     /* states */
};
#define NLIMITS (sizeof(limits) / sizeof(limits[0]))

static int known_kind(int kind)
{
    return kind > 0 && (size_t)kind < NKINDS && kinds[kind].role != 0;
}

int sl_rpc_kind_heavy(int kind)
{
    return known_kind(kind) && kinds[kind].heavy;
}

const char *sl_rpc_kind_name(int kind)
{
    const ProtobufCFieldDescriptor *f =
        known_kind(kind)
            ? protobuf_c_message_descriptor_get_field(&sluice__request__descriptor, (unsigned)kind)
            : NULL;
    return f != NULL ? f->name : "unknown";
}

size_t sl_rpc_kind_max_bytes(int kind, size_t max_msg)
{
    if (!known_kind(kind) || kinds[kind].max_bytes == 0 || kinds[kind].max_bytes > max_msg)
        return max_msg;
    return kinds[kind].max_bytes;
}

static uint32_t limit_of(const ProtobufCMessageDescriptor *d, uint32_t field)
{
    for (size_t i = 0; i < NLIMITS; i++)
        if (limits[i].msg == d && limits[i].field == field)
            return limits[i].max;
    return 0;
}

uint32_t sl_rpc_repeated_limit(const char *message_name, uint32_t field)
{
    for (size_t i = 0; i < NLIMITS; i++)
        if (strcmp(limits[i].msg->name, message_name) == 0 && limits[i].field == field)
            return limits[i].max;
    return 0;
}

/* ---- wire format */

static int get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < VARINT_MAX_BYTES && *pos < len; i++) {
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *out = v;
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

/* Reads one field's tag and steps over its payload (a LEN payload in
 * data and dlen). SL_EINVAL on a broken tag, a group or a payload that runs
 * past len. */
static int next_field(const uint8_t *p, size_t len, size_t *pos, uint32_t *num, int *wt,
                      const uint8_t **data, size_t *dlen)
{
    uint64_t tag, n;
    if (get_varint(p, len, pos, &tag) != SL_OK || tag > UINT32_MAX || (tag >> 3) == 0)
        return SL_EINVAL;
    *num = (uint32_t)(tag >> 3);
    *wt = (int)(tag & 7);
    *data = p + *pos;
    switch (*wt) {
    case WT_VARINT: return get_varint(p, len, pos, &n);
    case WT_I64: n = 8; break;
    case WT_I32: n = 4; break;
    case WT_LEN:
        if (get_varint(p, len, pos, &n) != SL_OK)
            return SL_EINVAL;
        *data = p + *pos;
        break;
    default: return SL_EINVAL; /* groups: protobuf-c has none for proto3 */
    }
    if (n > len - *pos)
        return SL_EINVAL;
    *dlen = (size_t)n;
    *pos += (size_t)n;
    return SL_OK;
}

static int wire_type_of(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT: return WT_I32;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return WT_I64;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE: return WT_LEN;
    default: return WT_VARINT;
    }
}

/* Elements of a packed repeated scalar of wire type wt in d[0..n). */
static int packed_count(int wt, const uint8_t *d, size_t n, uint64_t *count)
{
    size_t width = wt == WT_I32 ? 4 : wt == WT_I64 ? 8 : 0;
    if (width != 0) {
        *count = n / width;
        return n % width == 0 ? SL_OK : SL_EINVAL;
    }
    size_t pos = 0;
    uint64_t v;
    *count = 0;
    while (pos < n) {
        if (get_varint(d, n, &pos, &v) != SL_OK)
            return SL_EINVAL;
        (*count)++;
    }
    return SL_OK;
}

/* ---- the scan */

typedef struct scan {
    int unknown; /* unknown fields seen in the frame */
    char *err;
    size_t errlen;
} scan;

static int fail(scan *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(scan *sc, const char *fmt, ...)
{
    if (sc->err != NULL && sc->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sc->err, sc->errlen, fmt, ap);
        va_end(ap);
    }
    return SL_EINVAL;
}

/* What one message instance has seen so far. */
typedef struct seen {
    uint32_t counts[MAX_MSG_FIELDS]; /* by field index */
    unsigned oneofs[MAX_ONEOFS];     /* quantifier offsets of oneofs already set */
    int noneofs;
} seen;

static int scan_message(scan *sc, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                        size_t len, int depth);

static int count_repeated(scan *sc, const ProtobufCMessageDescriptor *d,
                          const ProtobufCFieldDescriptor *f, seen *s, int wt,
                          const uint8_t *data, size_t dlen)
{
    int want = wire_type_of(f->type);
    uint64_t n = 1;
    if (wt == WT_LEN && want != WT_LEN) {
        if (packed_count(want, data, dlen, &n) != SL_OK)
            return fail(sc, "%s.%s: broken packed elements", d->name, f->name);
    } else if (wt != want) {
        return fail(sc, "%s.%s: wire type %d, expected %d", d->name, f->name, wt, want);
    }
    uint32_t max = limit_of(d, f->id);
    if (max == 0)
        max = UNLISTED_REPEATED_MAX;
    size_t i = (size_t)(f - d->fields);
    if ((uint64_t)s->counts[i] + n > max)
        return fail(sc, "%s.%s holds more than %u elements", d->name, f->name, max);
    s->counts[i] += (uint32_t)n;
    return SL_OK;
}

static int count_singular(scan *sc, const ProtobufCMessageDescriptor *d,
                          const ProtobufCFieldDescriptor *f, seen *s, int wt)
{
    int want = wire_type_of(f->type);
    if (wt != want)
        return fail(sc, "%s.%s: wire type %d, expected %d", d->name, f->name, wt, want);
    if (s->counts[f - d->fields]++ > 0)
        return fail(sc, "%s.%s appears more than once", d->name, f->name);
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0)
        return SL_OK;
    for (int k = 0; k < s->noneofs; k++)
        if (s->oneofs[k] == f->quantifier_offset)
            return fail(sc, "%s: %s is a second member of the same oneof", d->name, f->name);
    if (s->noneofs == MAX_ONEOFS)
        return fail(sc, "%s has more oneofs than the scanner follows", d->name);
    s->oneofs[s->noneofs++] = f->quantifier_offset;
    return SL_OK;
}

static int scan_field(scan *sc, const ProtobufCMessageDescriptor *d,
                      const ProtobufCFieldDescriptor *f, seen *s, int wt, const uint8_t *data,
                      size_t dlen, int depth)
{
    int rv = f->label == PROTOBUF_C_LABEL_REPEATED ? count_repeated(sc, d, f, s, wt, data, dlen)
                                                   : count_singular(sc, d, f, s, wt);
    if (rv != SL_OK || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return rv;
    return scan_message(sc, f->descriptor, data, dlen, depth + 1);
}

static int scan_message(scan *sc, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                        size_t len, int depth)
{
    seen s = {0};
    size_t pos = 0;
    if (depth > SL_RPC_SCAN_MAX_DEPTH)
        return fail(sc, "%s: messages nested deeper than %d", d->name, SL_RPC_SCAN_MAX_DEPTH);
    if (d->n_fields > MAX_MSG_FIELDS)
        return fail(sc, "%s has more fields than the scanner counts", d->name);
    while (pos < len) {
        uint32_t num;
        int wt;
        const uint8_t *data;
        size_t dlen = 0;
        size_t at = pos;
        if (next_field(p, len, &pos, &num, &wt, &data, &dlen) != SL_OK)
            return fail(sc, "%s: broken field at byte %zu of %zu", d->name, at, len);
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, num);
        int rv = SL_OK;
        if (f != NULL)
            rv = scan_field(sc, d, f, &s, wt, data, dlen, depth);
        else if (++sc->unknown > SL_RPC_MAX_UNKNOWN_FIELDS)
            rv = fail(sc, "more than %d unknown fields (%s field %u)", SL_RPC_MAX_UNKNOWN_FIELDS,
                      d->name, num);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}

/* ---- requests */

int sl_rpc_peek_kind(const uint8_t *buf, size_t len)
{
    size_t pos = 0;
    for (int fields = 0; pos < len && fields <= SL_RPC_MAX_UNKNOWN_FIELDS; fields++) {
        uint32_t num;
        int wt;
        const uint8_t *data;
        size_t dlen;
        if (next_field(buf, len, &pos, &num, &wt, &data, &dlen) != SL_OK)
            return 0;
        if (wt == WT_LEN && known_kind((int)num))
            return (int)num;
    }
    return 0;
}

static const char *role_name(int role)
{
    return role == SL_RPC_SERVE_JOBMANAGER ? "jobmanager" : "taskmanager";
}

int sl_rpc_check_request(int role, size_t max_msg, const uint8_t *buf, size_t len, int *kind,
                         char *err, size_t errlen)
{
    scan sc = {0, err, errlen};
    int k = len <= max_msg ? sl_rpc_peek_kind(buf, len) : 0;
    if (kind != NULL)
        *kind = k;
    if (len > max_msg)
        return fail(&sc, "a frame of %zu bytes exceeds rpc.max-message-size (%zu)", len, max_msg);
    if (k == 0)
        return fail(&sc, "no request body");
    if (role != SL_RPC_SERVE_ALL && kinds[k].role != role)
        return fail(&sc, "%s is not a %s request", sl_rpc_kind_name(k), role_name(role));
    size_t max = sl_rpc_kind_max_bytes(k, max_msg);
    if (len > max)
        return fail(&sc, "a %s request of %zu bytes exceeds its limit of %zu bytes",
                    sl_rpc_kind_name(k), len, max);
    return scan_message(&sc, &sluice__request__descriptor, buf, len, 0);
}
