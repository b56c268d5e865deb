/* The records of a job's checkpoints (checkpoint_record.h). */
#include "jobmanager/checkpoint_record.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/checkpoint_store.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/checkpoint_coordinator.h"

void sl_ckrec_ack_clear(sl_ckrec_ack *t)
{
    for (size_t i = 0; i < t->nstates; i++) {
        free(t->states[i].stage);
        free(t->states[i].path);
        free(t->states[i].kind);
    }
    free(t->states);
    t->states = NULL;
    t->nstates = 0;
}

void sl_ckrec_free_acks(sl_ckrec *c)
{
    for (int t = 0; c->tasks != NULL && t < c->ntasks; t++)
        sl_ckrec_ack_clear(&c->tasks[t]);
}

void sl_ckrec_free(sl_ckrec *c)
{
    if (c == NULL)
        return;
    sl_ckrec_free_acks(c);
    free(c->tasks);
    free(c->dir);
    free(c->failure);
    free(c->decline);
    free(c->request_id);
    free(c);
}

sl_ckrec *sl_ckrec_find(const sl_coord *cc, uint64_t id)
{
    for (sl_ckrec *c = cc->history; c != NULL; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

sl_ckrec *sl_ckrec_find_request(const sl_coord *cc, const char *request_id)
{
    if (request_id[0] == '\0')
        return NULL;
    for (sl_ckrec *c = cc->history; c != NULL; c = c->next)
        if (c->request_id != NULL && strcmp(c->request_id, request_id) == 0)
            return c;
    return NULL;
}

int64_t sl_ckrec_pending(const sl_coord *cc, int with_manual)
{
    int64_t n = 0;
    for (const sl_ckrec *c = cc->history; c != NULL; c = c->next)
        n += c->status == SL_CKREC_PENDING && (with_manual || !c->manual);
    return n;
}

sl_ckrec *sl_ckrec_create(sl_coord *cc, const sl_coord_view *v, int final, int manual)
{
    char dir[PATH_MAX];
    if (cc->root == NULL ||
        sl_store_checkpoint_path(cc->root, v->job_id, cc->last_id + 1, dir, sizeof(dir)) != SL_OK)
        return NULL;
    sl_ckrec *c = sl_ckrec_create_in(cc, v, dir);
    if (c != NULL) {
        c->final = final;
        c->manual = manual;
    }
    return c;
}

sl_ckrec *sl_ckrec_create_in(sl_coord *cc, const sl_coord_view *v, const char *dir)
{
    uint64_t id = cc->last_id + 1;
    sl_ckrec *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->ntasks = v->ntasks;
    c->tasks = calloc((size_t)c->ntasks, sizeof(*c->tasks));
    c->dir = strdup(dir);
    if (c->tasks == NULL || c->dir == NULL) {
        sl_ckrec_free(c);
        return NULL;
    }
    cc->last_id = id;
    c->id = id;
    c->attempt = v->attempt;
    c->trigger_wall_ms = sl_wall_ms();
    c->trigger_mono_ms = cc->now_ms();
    c->next = cc->history;
    cc->history = c;
    cc->triggered++;
    return c;
}

void sl_ckrec_fail(sl_coord *cc, const char *job_id, sl_ckrec *c, const char *reason, int counted,
                  int notify)
{
    if (c->status != SL_CKREC_PENDING || c->ha_wait)
        return;
    c->status = SL_CKREC_FAILED;
    c->failure = strdup(reason);
    c->end_mono_ms = cc->now_ms();
    c->cleanup = 1;
    c->notify_abort = notify;
    cc->failed++;
    cc->last_end_ms = c->end_mono_ms;
    cc->has_end = 1;
    if (counted)
        cc->consecutive_failures++;
    sl_warn("checkpoint %" PRIu64 " of job %s failed: %s", c->id, job_id, reason);
}
