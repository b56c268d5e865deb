/* `operator: count` with key-by: a keyed running count. Each input record
 * emits the updated row: the key fields, then `count`. The count of a key
 * lives in keyed state under the key's encoded fields, in its key group. */
#include <stdlib.h>
#include <string.h>

#include "common/keygroup.h"
#include "common/status.h"
#include "taskmanager/keyed_state.h"
#include "taskmanager/task.h"

#define KEY_MAX 4096

typedef struct count_op {
    sl_keyed_state *state;
    int kg_start, kg_end;
    uint8_t key[KEY_MAX];
} count_op;

static int count_open(sl_operator *op)
{
    sl_task *t = op->task;
    count_op *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SL_ENOMEM;
    op->impl = c;
    sl_key_group_range(sl_task_max_parallelism(t), t->parallelism, t->subtask, &c->kg_start,
                       &c->kg_end);
    const char *backend = "hashmap";
    sl_config_get_string(t->run->cfg, "state.backend.type", &backend);
    int rv = sl_keyed_state_open(backend, c->kg_start, c->kg_end, NULL, &c->state);
    if (rv != SL_OK)
        return sl_task_fail(t, "count: cannot open %s state: %s", backend, sl_strerror(rv));
    return SL_OK;
}

static int count_process(sl_operator *op, const sl_row *row)
{
    count_op *c = op->impl;
    const sl_stage *st = op->stage;
    sl_row out;
    out.nfields = st->nkeys + 1;
    for (int i = 0; i < st->nkeys; i++) {
        if (st->key_idx[i] >= row->nfields)
            return sl_task_fail(op->task, "count: record lacks key field %s", st->key_by[i]);
        out.v[i] = row->v[st->key_idx[i]];
    }
    int maxp = sl_task_max_parallelism(op->task);
    int kg = sl_key_group_for_hash(sl_key_hash(row, st->key_idx, st->nkeys), maxp);
    if (kg < c->kg_start || kg > c->kg_end)
        return sl_task_fail(op->task, "count: key group %d is not in [%d, %d]", kg,
                            c->kg_start, c->kg_end);
    sl_row key = {.nfields = st->nkeys};
    memcpy(key.v, out.v, sizeof(sl_value) * (size_t)st->nkeys);
    size_t klen;
    if (sl_row_encode(&key, c->key, sizeof(c->key), &klen) != SL_OK)
        return sl_task_fail(op->task, "count: key longer than %d bytes", KEY_MAX);
    int64_t n = 0;
    const void *val;
    size_t vlen;
    if (sl_keyed_state_get(c->state, kg, c->key, klen, &val, &vlen) == SL_OK &&
        vlen == sizeof(n))
        memcpy(&n, val, sizeof(n));
    n++;
    int rv = sl_keyed_state_put(c->state, kg, c->key, klen, &n, sizeof(n));
    if (rv != SL_OK)
        return sl_task_fail(op->task, "count: state update failed: %s", sl_strerror(rv));
    out.v[st->nkeys].type = SL_TYPE_INT;
    out.v[st->nkeys].u.i = n;
    return sl_operator_emit(op, &out);
}

static void count_close(sl_operator *op, int committed)
{
    (void)committed;
    count_op *c = op->impl;
    if (c != NULL && c->state != NULL)
        sl_keyed_state_close(c->state);
    free(c);
    op->impl = NULL;
}

static int count_snapshot(sl_operator *op, uint64_t chk_id, sl_buf *out)
{
    count_op *c = op->impl;
    (void)chk_id;
    return sl_keyed_state_snapshot(c->state, c->kg_start, c->kg_end, out);
}

static int count_restore(sl_operator *op, const uint8_t *data, size_t len)
{
    count_op *c = op->impl;
    int rv = sl_keyed_state_restore(c->state, data, len, c->kg_start, c->kg_end);
    if (rv == SL_EINVAL)
        return sl_task_fail(op->task, "count: malformed keyed state");
    return rv;
}

const sl_operator_ops sl_op_count = {
    .open = count_open, .process = count_process, .close = count_close,
    .snapshot = count_snapshot, .restore = count_restore, .keyed = 1,
};
