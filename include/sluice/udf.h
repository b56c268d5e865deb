/* Sluice user-defined operators (`operator: udf`), API version 2.
 *
 * A UDF is a shared object built against this header only:
 *
 *     cc -std=c11 -fPIC -shared -I <sluice>/include -o libmyop.so myop.c
 *
 * and named in a job file:
 *
 *     - name: sessions
 *       operator: udf
 *       library: /home/me/libmyop.so     # absolute path or file:// URI
 *       symbol: my_operator              # a `const sluice_udf` variable
 *       key-by: user                     # required: state is per key
 *       schema: "user:string, sessions:int"   # what the UDF emits
 *       params: {gap_ms: 30000}          # any mapping of scalars
 *
 * `sluice run` reads the library on the user's machine and sends it with
 * the job (at most SLUICE_UDF_LIBRARY_MAX bytes over all libraries of a
 * job; rpc.max-message-size, 64 mb by default, must hold it plus the job
 * file). The jobmanager loads it once at submission to check the symbol
 * and API version; every taskmanager loads its own copy per job run.
 *
 * The symbol names a variable of type `const sluice_udf` (not a function):
 *
 *     const sluice_udf my_operator = {
 *         .api_version = SLUICE_UDF_API_VERSION,
 *         .process = my_process,
 *     };
 *
 * Threads: one operator instance per subtask; all callbacks of an instance
 * run on its task thread, never concurrently. Instances may run in
 * parallel, so a library must not keep mutable globals without locking.
 * Use sluice_set_user/sluice_user for per-instance memory.
 *
 * Fault tolerance: everything kept in keyed state (value, list and map
 * state, and timers, below) is part of checkpoints and restored after a
 * failure (and redistributed by key group when the parallelism changes),
 * so a UDF that keeps its state there is exactly-once with checkpointing
 * on. Memory kept elsewhere (sluice_user) is lost on a restart.
 *
 * Event time: the watermark comes from the job's sources (a source's
 * `watermark: "<time field>, <delay>"`; a bounded source sends the maximum
 * watermark when its input ends). When it advances, the due timers fire
 * first (on_timer, in timestamp order), then on_watermark is called.
 *
 * Versions: 1 had no timers (sluice_register_timer gave SLUICE_ENOTSUP);
 * 2 adds event-time timers (sluice_delete_timer, on_timer delivered) and
 * sluice_current_key. A taskmanager loads libraries of every version from
 * SLUICE_UDF_API_VERSION_MIN to SLUICE_UDF_API_VERSION; the calls a version
 * added return SLUICE_ENOTSUP on a taskmanager of an older one.
 *
 * Every function taking lengths checks them; functions returning int give
 * SLUICE_OK (0) or a negative SLUICE_E* code. A callback returning non-zero
 * fails the task (and so the job attempt: the restart strategy applies). */
#ifndef SLUICE_UDF_H
#define SLUICE_UDF_H

#include <stddef.h>
#include <stdint.h>

#define SLUICE_UDF_API_VERSION 2
/* Oldest API version a taskmanager still loads. */
#define SLUICE_UDF_API_VERSION_MIN 1
/* Largest total size of the libraries of one job (bytes). */
#define SLUICE_UDF_LIBRARY_MAX ((size_t)32 << 20)
/* Largest state name, user key of map state, and value (bytes). */
#define SLUICE_UDF_NAME_MAX 128
#define SLUICE_UDF_VALUE_MAX ((size_t)1 << 20)

enum {
    SLUICE_OK = 0,
    SLUICE_ENOTFOUND = -1, /* no such field, state entry or parameter */
    SLUICE_EINVAL = -2,    /* bad argument: wrong type, index, length */
    SLUICE_ENOMEM = -3,
    SLUICE_ENOTSUP = -4,   /* not supported by this taskmanager */
    SLUICE_EFAIL = -5,     /* anything else (the task logs why) */
};

/* Field types (as in job-file schemas). */
enum { SLUICE_INT = 1, SLUICE_DOUBLE = 2, SLUICE_STRING = 3 };

typedef struct sluice_ctx sluice_ctx;       /* one operator instance */
typedef struct sluice_record sluice_record; /* one row (borrowed) */

/* The callbacks a library provides. Only process is required. */
typedef struct sluice_udf {
    int api_version; /* SLUICE_UDF_API_VERSION */
    /* After the instance is created (and before a restore of its state). */
    int (*open)(sluice_ctx *ctx);
    /* When the instance ends (finished, failed or cancelled). */
    void (*close)(sluice_ctx *ctx);
    /* One input record. Keyed state calls act on the record's key. */
    int (*process)(sluice_ctx *ctx, const sluice_record *rec);
    /* The event-time watermark advanced to wm (ms), after the timers it
     * made due fired. May be NULL. No current key. */
    int (*on_watermark)(sluice_ctx *ctx, int64_t wm);
    /* Timer ts of the current key fired: the watermark reached ts. Keyed
     * state calls, timer calls and sluice_current_key act on the timer's
     * key; the callback may emit. May be NULL (timers then fire unseen). */
    int (*on_timer)(sluice_ctx *ctx, int64_t ts);
} sluice_udf;

/* The functions a UDF calls. Reached through ctx (the library needs no
 * symbol of the host): use the inline wrappers below. */
typedef int (*sluice_visit_fn)(void *arg, const void *ukey, size_t uklen, const void *val,
                               size_t vlen);
typedef struct sluice_api {
    int version;
    void *(*user)(sluice_ctx *ctx);
    void (*set_user)(sluice_ctx *ctx, void *user);
    const char *(*param)(sluice_ctx *ctx, const char *name);
    int (*subtask)(sluice_ctx *ctx);
    /* records */
    int (*field_count)(const sluice_record *r);
    int (*field_index)(sluice_ctx *ctx, const char *name);
    int (*field_type)(const sluice_record *r, int i);
    int (*get_int)(const sluice_record *r, int i, int64_t *out);
    int (*get_double)(const sluice_record *r, int i, double *out);
    int (*get_string)(const sluice_record *r, int i, const char **ptr, size_t *len);
    /* output */
    sluice_record *(*out_record)(sluice_ctx *ctx);
    int (*set_int)(sluice_record *r, int i, int64_t v);
    int (*set_double)(sluice_record *r, int i, double v);
    int (*set_string)(sluice_record *r, int i, const char *ptr, size_t len);
    int (*emit)(sluice_ctx *ctx, sluice_record *r);
    /* keyed state of the current key */
    int (*value_get)(sluice_ctx *ctx, const char *state, const void **val, size_t *len);
    int (*value_put)(sluice_ctx *ctx, const char *state, const void *val, size_t len);
    int (*value_delete)(sluice_ctx *ctx, const char *state);
    int (*list_append)(sluice_ctx *ctx, const char *state, const void *val, size_t len);
    int (*list_iterate)(sluice_ctx *ctx, const char *state, sluice_visit_fn fn, void *arg);
    int (*list_clear)(sluice_ctx *ctx, const char *state);
    int (*map_get)(sluice_ctx *ctx, const char *state, const void *ukey, size_t uklen,
                   const void **val, size_t *len);
    int (*map_put)(sluice_ctx *ctx, const char *state, const void *ukey, size_t uklen,
                   const void *val, size_t len);
    int (*map_delete)(sluice_ctx *ctx, const char *state, const void *ukey, size_t uklen);
    int (*map_iterate)(sluice_ctx *ctx, const char *state, sluice_visit_fn fn, void *arg);
    int (*register_timer)(sluice_ctx *ctx, int64_t ts);
    /* version 2 */
    int (*delete_timer)(sluice_ctx *ctx, int64_t ts);
    const sluice_record *(*current_key)(sluice_ctx *ctx);
} sluice_api;

struct sluice_ctx {
    const sluice_api *api;
    void *impl; /* the taskmanager's: do not touch */
};

/* ---- instance */

/* Per-instance pointer for the library (NULL at first). */
static inline void *sluice_user(sluice_ctx *c) { return c->api->user(c); }
static inline void sluice_set_user(sluice_ctx *c, void *u) { c->api->set_user(c, u); }
/* Value of `params: {name: value}` as written in the job file, or NULL. */
static inline const char *sluice_param(sluice_ctx *c, const char *name)
{
    return c->api->param(c, name);
}
/* This instance's subtask index (0-based). */
static inline int sluice_subtask(sluice_ctx *c) { return c->api->subtask(c); }

/* ---- input records: fields by index (0-based, in the input's schema). A
 * getter returns SLUICE_EINVAL if i is out of range or of another type. */

static inline int sluice_field_count(sluice_ctx *c, const sluice_record *r)
{
    return c->api->field_count(r);
}
/* Index of an input field by name, or SLUICE_ENOTFOUND. */
static inline int sluice_field_index(sluice_ctx *c, const char *name)
{
    return c->api->field_index(c, name);
}
static inline int sluice_field_type(sluice_ctx *c, const sluice_record *r, int i)
{
    return c->api->field_type(r, i);
}
static inline int sluice_get_int(sluice_ctx *c, const sluice_record *r, int i, int64_t *out)
{
    return c->api->get_int(r, i, out);
}
static inline int sluice_get_double(sluice_ctx *c, const sluice_record *r, int i, double *out)
{
    return c->api->get_double(r, i, out);
}
/* The bytes are not NUL-terminated and valid during the callback only. */
static inline int sluice_get_string(sluice_ctx *c, const sluice_record *r, int i,
                                    const char **ptr, size_t *len)
{
    return c->api->get_string(r, i, ptr, len);
}

/* ---- output: the record of the stage's `schema:`. sluice_out gives the
 * instance's output record (every field unset); set each field (by index in
 * the schema, with its type: SLUICE_EINVAL otherwise; strings are copied)
 * and emit it. Emitting with a field unset fails with SLUICE_EINVAL. */

static inline sluice_record *sluice_out(sluice_ctx *c) { return c->api->out_record(c); }
static inline int sluice_set_int(sluice_ctx *c, sluice_record *r, int i, int64_t v)
{
    return c->api->set_int(r, i, v);
}
static inline int sluice_set_double(sluice_ctx *c, sluice_record *r, int i, double v)
{
    return c->api->set_double(r, i, v);
}
static inline int sluice_set_string(sluice_ctx *c, sluice_record *r, int i, const char *p,
                                    size_t len)
{
    return c->api->set_string(r, i, p, len);
}
static inline int sluice_emit(sluice_ctx *c, sluice_record *r) { return c->api->emit(c, r); }

/* ---- keyed state of the current key: the key-by fields of the record
 * being processed (in process) or of the timer firing (in on_timer). State
 * names are NUL-terminated, 1..SLUICE_UDF_NAME_MAX bytes; each name is one
 * state, of one kind (value, list or map). Values are byte strings of at
 * most SLUICE_UDF_VALUE_MAX bytes. Outside process and on_timer there is
 * no current key: SLUICE_EINVAL. */

/* The current key as a record: the key-by fields in key-by order, read
 * with the getters above (sluice_get_string...). Valid during the
 * callback; NULL without a current key (or before API version 2). */
static inline const sluice_record *sluice_current_key(sluice_ctx *c)
{
    return c->api->version >= 2 ? c->api->current_key(c) : NULL;
}

/* Value state. *val stays valid until the next state call. */
static inline int sluice_value_get(sluice_ctx *c, const char *state, const void **val,
                                   size_t *len)
{
    return c->api->value_get(c, state, val, len);
}
static inline int sluice_value_put(sluice_ctx *c, const char *state, const void *val,
                                   size_t len)
{
    return c->api->value_put(c, state, val, len);
}
static inline int sluice_value_delete(sluice_ctx *c, const char *state)
{
    return c->api->value_delete(c, state);
}

/* List state: elements in append order. The visit function gets each
 * element as val (ukey NULL) and returns 0 to go on; the list must not be
 * changed during the visit. */
static inline int sluice_list_append(sluice_ctx *c, const char *state, const void *val,
                                     size_t len)
{
    return c->api->list_append(c, state, val, len);
}
static inline int sluice_list_iterate(sluice_ctx *c, const char *state, sluice_visit_fn fn,
                                      void *arg)
{
    return c->api->list_iterate(c, state, fn, arg);
}
static inline int sluice_list_clear(sluice_ctx *c, const char *state)
{
    return c->api->list_clear(c, state);
}

/* Map state: user keys (1..SLUICE_UDF_NAME_MAX bytes) to values. Iteration
 * order is unspecified; the map must not be changed during the visit. */
static inline int sluice_map_get(sluice_ctx *c, const char *state, const void *ukey,
                                 size_t uklen, const void **val, size_t *len)
{
    return c->api->map_get(c, state, ukey, uklen, val, len);
}
static inline int sluice_map_put(sluice_ctx *c, const char *state, const void *ukey,
                                 size_t uklen, const void *val, size_t len)
{
    return c->api->map_put(c, state, ukey, uklen, val, len);
}
static inline int sluice_map_delete(sluice_ctx *c, const char *state, const void *ukey,
                                    size_t uklen)
{
    return c->api->map_delete(c, state, ukey, uklen);
}
static inline int sluice_map_iterate(sluice_ctx *c, const char *state, sluice_visit_fn fn,
                                     void *arg)
{
    return c->api->map_iterate(c, state, fn, arg);
}

/* ---- event-time timers of the current key (API version 2).
 *
 * sluice_register_timer asks for on_timer(ctx, ts) with the current key
 * once the watermark reaches ts (wm >= ts). A key has at most one timer per
 * ts: registering it again does nothing. Timers are keyed state: they are
 * in checkpoints, follow their key on restore and rescaling, and fire after
 * a restore when the watermark reaches them. Due timers fire in order of ts
 * (then key group and key), each removed before its on_timer runs, so
 * on_timer may register the next one. A timer registered for a time the
 * watermark already reached fires at the next advance (during a round of
 * firing: in that round). When a bounded source ends, the maximum watermark
 * fires every timer. sluice_delete_timer removes timer ts of the current
 * key (SLUICE_OK also if there is none). Without a current key:
 * SLUICE_EINVAL; on a taskmanager of API version 1: SLUICE_ENOTSUP. */
static inline int sluice_register_timer(sluice_ctx *c, int64_t ts)
{
    return c->api->register_timer(c, ts);
}
static inline int sluice_delete_timer(sluice_ctx *c, int64_t ts)
{
    return c->api->version >= 2 ? c->api->delete_timer(c, ts) : SLUICE_ENOTSUP;
}

#endif
