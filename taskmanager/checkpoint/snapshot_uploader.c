/* The snapshot uploader (snapshot_uploader.h): a thread per taskmanager
 * that writes the state files of each task's snapshot (one per stateful
 * operator, checksummed) into the checkpoint or savepoint folder and
 * acknowledges or declines it to the jobmanager. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/checkpoint_store.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/state/keyed_state.h"
#include "taskmanager/checkpoint/snapshot_uploader.h"

struct sl_uploader {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sl_uploader_snapshot *head, *tail;
    int n;
    int stopping;
    pthread_t thread;
    sl_uploader_ack_fn fn;
    void *arg;
};

void sl_uploader_snapshot_free(sl_uploader_snapshot *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->nparts; i++) {
        sl_buf_free(&s->parts[i].data);
        sl_ks_snapshot_free(s->parts[i].keyed_snap);
    }
    free(s);
}

/* sl_ks_snapshot_sink: serialized keyed state into the state file. */
static int put_chunk(void *arg, const void *p, size_t n)
{
    return sl_state_writer_put(arg, p, n);
}

static int write_part(sl_uploader_snapshot *s, sl_uploader_part *p, Sluice__StateHandle *h,
                      char *name, size_t namelen)
{
    char path[PATH_MAX];
    snprintf(name, namelen, "op-%s-%u.state", p->stage, s->subtask);
    int n = snprintf(path, sizeof(path), "%s/%s", s->chk_dir, name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        snprintf(s->reason, sizeof(s->reason), "state file path too long");
        return SL_ENOSPC;
    }
    sl_state_writer *w = NULL;
    sl_state_origin origin = {.job_id = s->job_id, .checkpoint_id = s->chk_id};
    int orv = sl_state_writer_open_for(path, &origin, &w); /* sealed if a key is set */
    if (orv != SL_OK) {
        int e = errno;
        snprintf(s->reason, sizeof(s->reason), "cannot create %.400s: %s", path,
                 orv == SL_EIO ? strerror(e) : sl_strerror(orv));
        return orv;
    }
    uint64_t size = 0;
    uint32_t crc = 0;
    int rv = p->keyed_snap != NULL ? sl_ks_snapshot_write(p->keyed_snap, put_chunk, w)
                                   : sl_state_writer_put(w, p->data.p, p->data.len);
    if (rv == SL_OK)
        rv = sl_state_writer_close(w, &size, &crc);
    if (rv != SL_OK) {
        const char *why = sl_state_writer_error(w);
        snprintf(s->reason, sizeof(s->reason), "%.500s",
                 why != NULL && why[0] != '\0' ? why : sl_strerror(rv));
        sl_state_writer_abort(w);
        return rv;
    }
    h->stage = p->stage;
    h->kind = p->kind;
    h->subtask = s->subtask;
    h->parallelism = s->parallelism;
    h->path = name;
    h->size = size;
    h->crc32c = crc;
    h->kg_start = p->keyed ? p->kg_start : -1;
    h->kg_end = p->keyed ? p->kg_end : -1;
    return SL_OK;
}

static void upload(sl_uploader *u, sl_uploader_snapshot *s)
{
    Sluice__StateHandle handles[SL_UPLOADER_MAX_PARTS], *ptrs[SL_UPLOADER_MAX_PARTS];
    char names[SL_UPLOADER_MAX_PARTS][200];
    Sluice__AckCheckpoint ack = SLUICE__ACK_CHECKPOINT__INIT;
    uint64_t total = 0;
    int n = 0;
    for (int i = 0; i < s->nparts && !s->declined; i++) {
        sluice__state_handle__init(&handles[n]);
        if (write_part(s, &s->parts[i], &handles[n], names[n], sizeof(names[n])) != SL_OK) {
            s->declined = 1;
            break;
        }
        total += handles[n].size;
        ptrs[n] = &handles[n];
        n++;
    }
    ack.job_id = s->job_id;
    ack.attempt = s->attempt;
    ack.checkpoint_id = s->chk_id;
    ack.task = s->task;
    ack.declined = s->declined;
    ack.reason = s->reason;
    ack.n_states = s->declined ? 0 : (size_t)n;
    ack.states = ptrs;
    ack.state_size = total;
    ack.sync_ms = (uint64_t)s->sync_ms;
    ack.align_ms = (uint64_t)s->align_ms;
    ack.async_ms = (uint64_t)(sl_now_ms() - s->async_start_ms);
    if (s->declined)
        sl_warn("declining checkpoint %llu of job %s task %u: %s",
                (unsigned long long)s->chk_id, s->job_id, s->task, s->reason);
    u->fn(u->arg, &ack);
}

static void *uploader_main(void *arg)
{
    sl_uploader *u = arg;
    pthread_mutex_lock(&u->mu);
    for (;;) {
        while (u->head == NULL && !u->stopping)
            pthread_cond_wait(&u->cv, &u->mu);
        if (u->head == NULL)
            break;
        sl_uploader_snapshot *s = u->head;
        u->head = s->next;
        if (u->head == NULL)
            u->tail = NULL;
        u->n--;
        pthread_cond_broadcast(&u->cv);
        pthread_mutex_unlock(&u->mu);
        upload(u, s);
        sl_uploader_snapshot_free(s);
        pthread_mutex_lock(&u->mu);
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

int sl_uploader_start(sl_uploader_ack_fn fn, void *arg, sl_uploader **out)
{
    sl_uploader *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return SL_ENOMEM;
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    u->fn = fn;
    u->arg = arg;
    if (pthread_create(&u->thread, NULL, uploader_main, u) != 0) {
        free(u);
        return SL_ENOMEM;
    }
    *out = u;
    return SL_OK;
}

int sl_uploader_submit(sl_uploader *u, sl_uploader_snapshot *s, const atomic_int *cancel)
{
    pthread_mutex_lock(&u->mu);
    while (u->n >= SL_UPLOADER_QUEUE && !u->stopping && !atomic_load(cancel)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&u->cv, &u->mu, &until);
    }
    if (u->stopping || atomic_load(cancel)) {
        pthread_mutex_unlock(&u->mu);
        sl_uploader_snapshot_free(s);
        return SL_ECANCELED;
    }
    s->next = NULL;
    s->async_start_ms = sl_now_ms();
    if (u->tail != NULL)
        u->tail->next = s;
    else
        u->head = s;
    u->tail = s;
    u->n++;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    return SL_OK;
}

void sl_uploader_stop(sl_uploader *u)
{
    if (u == NULL)
        return;
    pthread_mutex_lock(&u->mu);
    u->stopping = 1;
    sl_uploader_snapshot *rest = u->head;
    u->head = u->tail = NULL;
    u->n = 0;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    pthread_join(u->thread, NULL);
    while (rest != NULL) {
        sl_uploader_snapshot *next = rest->next;
        sl_uploader_snapshot_free(rest);
        rest = next;
    }
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cv);
    free(u);
}
