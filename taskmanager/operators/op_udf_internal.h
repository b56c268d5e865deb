/* `operator: udf` internals shared by op_udf.c (the operator: loading the
 * user's sluice_udf, keys, timers firing, snapshots), op_udf_api.c (the API
 * table: params, records, output) and op_udf_state.c (keyed state and
 * timers reached through that table). Only these files include it. */
#ifndef SL_OP_UDF_INTERNAL_H
#define SL_OP_UDF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/row.h"
#include "common/stage_catalog.h"
#include "taskmanager/operators/keyed_op.h"
#include "taskmanager/operators/op_udf_timers.h"
#include "taskmanager/operators/operator.h"
#include "taskmanager/udf_libs.h"

#define SL_UDF_SKEY_MAX (SL_UDF_KEY_MAX + 2 + 2 * SLUICE_UDF_NAME_MAX)

_Static_assert(SL_UDF_KEY_MAX <= SL_KEYED_OP_KEY_MAX, "a timer's key fits sl_keyed_op.key");

typedef struct sl_udf_op sl_udf_op;

/* The output record: a row first, so the getters read it like an input. */
typedef struct sl_udf_out {
    sl_row row;
    sl_udf_op *owner;
    uint8_t set[SL_MAX_FIELDS];
    char *str[SL_MAX_FIELDS];
    size_t strcap[SL_MAX_FIELDS];
} sl_udf_out;

struct sl_udf_op {
    sl_keyed_op k;  /* first (keyed_op.h): state, key groups, current key bytes */
    sluice_ctx ctx; /* ctx.impl = the sl_op */
    const sluice_udf *u;
    void *user;
    int opened;
    int emit_rv; /* last failure of emit, handed back from process */
    const sl_schema *in, *outs;
    int kg; /* key group of the current key (in k.key), -1 = none */
    size_t klen;
    sl_row keyrow; /* the current key decoded, for sluice_current_key */
    sl_udf_timers timers;
    int64_t wm;
    uint8_t skey[SL_UDF_SKEY_MAX];
    uint8_t *tmp;
    size_t tmpcap;
    sl_udf_out out;
};

static inline sl_op *sl_udf_op_of(sluice_ctx *c) { return c->impl; }
static inline sl_udf_op *sl_udf_of(sluice_ctx *c) { return sl_udf_op_of(c)->impl; }

/* op_udf_api.c: the table every sluice_ctx of a udf operator points to. */
extern const sluice_api sl_udf_api;

/* op_udf_state.c: the keyed-state and timer entries of sl_udf_api. */
int sl_udf_api_value_get(sluice_ctx *c, const char *s, const void **val, size_t *len);
int sl_udf_api_value_put(sluice_ctx *c, const char *s, const void *val, size_t len);
int sl_udf_api_value_delete(sluice_ctx *c, const char *s);
int sl_udf_api_list_append(sluice_ctx *c, const char *s, const void *val, size_t len);
int sl_udf_api_list_iterate(sluice_ctx *c, const char *s, sluice_visit_fn fn, void *arg);
int sl_udf_api_list_clear(sluice_ctx *c, const char *s);
int sl_udf_api_map_get(sluice_ctx *c, const char *s, const void *uk, size_t ukl,
                       const void **val, size_t *len);
int sl_udf_api_map_put(sluice_ctx *c, const char *s, const void *uk, size_t ukl,
                       const void *val, size_t len);
int sl_udf_api_map_delete(sluice_ctx *c, const char *s, const void *uk, size_t ukl);
int sl_udf_api_map_iterate(sluice_ctx *c, const char *s, sluice_visit_fn fn, void *arg);
int sl_udf_api_register_timer(sluice_ctx *c, int64_t ts);
int sl_udf_api_delete_timer(sluice_ctx *c, int64_t ts);
const sluice_record *sl_udf_api_current_key(sluice_ctx *c);

#endif
