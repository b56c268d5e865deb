/* The restore path of a task (restore.h). */
#include "taskmanager/checkpoint/restore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checkpoint_store.h"
#include "common/status.h"
#include "taskmanager/state/keygroup.h"

#define PATH_LEN 4096

/* The operator's own failure if it set one, else the status. */
static const char *why(const sl_restore_chain *c, int rv)
{
    return c->failure[0] ? c->failure : sl_strerror(rv);
}

static int restore_handle(const sl_restore_chain *c, sl_op *op,
                          const Sluice__StateHandle *h, char *err, size_t errlen)
{
    char path[PATH_LEN], lerr[512];
    if (!sl_store_state_name_ok(h->path)) {
        snprintf(err, errlen, "checkpoint names a bad state file '%s'", h->path);
        return SL_EIO;
    }
    snprintf(path, sizeof(path), "%s/%s", c->dir, h->path);
    uint8_t *buf = NULL;
    size_t len = 0;
    sl_state_origin origin = {.job_id = c->md->job_id, .checkpoint_id = c->md->checkpoint_id};
    int rv = sl_state_file_load_for(path, &origin, h->size, h->crc32c, &buf, &len, lerr,
                                    sizeof(lerr));
    if (rv != SL_OK) {
        snprintf(err, errlen, "cannot restore %s: %s", op->stage->name, lerr);
        return SL_EIO;
    }
    rv = op->ops->restore(op, buf, len);
    free(buf);
    if (rv != SL_OK) {
        snprintf(err, errlen, "cannot restore %s from %s: %s", op->stage->name, path, why(c, rv));
        return SL_EIO;
    }
    return SL_OK;
}

static int handle_matches(const sl_restore_chain *c, const sl_op *op,
                          const Sluice__StateHandle *h)
{
    if (strcmp(h->stage, op->stage->name) != 0)
        return 0;
    if (op->ops->redistribute)
        return 1; /* every old subtask's state: the operator picks its share */
    if (!op->ops->keyed)
        return h->subtask == (uint32_t)c->subtask && h->parallelism == (uint32_t)c->parallelism;
    int lo, hi;
    sl_keygroup_range(c->max_parallelism, c->parallelism, c->subtask, &lo, &hi);
    return h->kg_start <= hi && h->kg_end >= lo;
}

/* Non-keyed state that cannot be redistributed needs the old parallelism. */
static int check_rescalable(const sl_restore_chain *c, const sl_op *op, char *err,
                            size_t errlen)
{
    if (op->ops->keyed || op->ops->redistribute)
        return SL_OK;
    for (size_t k = 0; k < c->md->n_states; k++) {
        const Sluice__StateHandle *h = c->md->states[k];
        if (strcmp(h->stage, op->stage->name) == 0 && h->parallelism != (uint32_t)c->parallelism) {
            snprintf(err, errlen, "cannot restore %s: its state was taken with parallelism %u "
                     "and this operator cannot redistribute it to parallelism %d",
                     op->stage->name, h->parallelism, c->parallelism);
            return SL_EIO;
        }
    }
    return SL_OK;
}

static int restore_op(const sl_restore_chain *c, sl_op *op, uint64_t *bytes, int *files,
                      char *err, size_t errlen)
{
    const Sluice__CheckpointMetadata *md = c->md;
    int rv = check_rescalable(c, op, err, errlen), restored = 0;
    for (size_t k = 0; k < md->n_states && rv == SL_OK; k++) {
        if (!handle_matches(c, op, md->states[k]))
            continue;
        rv = restore_handle(c, op, md->states[k], err, errlen);
        *bytes += md->states[k]->size;
        restored++;
    }
    *files += restored;
    if (rv != SL_OK || !restored || !op->ops->redistribute || op->ops->restore_end == NULL)
        return rv;
    rv = op->ops->restore_end(op);
    if (rv != SL_OK) {
        snprintf(err, errlen, "cannot restore %s: %s", op->stage->name, why(c, rv));
        return SL_EIO;
    }
    return SL_OK;
}

int sl_restore_run(const sl_restore_chain *c, uint64_t *bytes, int *files, char *err,
                   size_t errlen)
{
    *bytes = 0;
    *files = 0;
    for (int i = 0; i < c->nops; i++) {
        sl_op *op = c->ops[i];
        if (op->ops->restore == NULL)
            continue;
        int rv = restore_op(c, op, bytes, files, err, errlen);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}
