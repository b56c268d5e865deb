/* Bounded off-thread runner for jobs that may hang (see closer.h). */
#include "common/closer.h"

#include <stdlib.h>
#include <time.h>

#include "common/status.h"
#include "common/util.h"

struct sl_closer_job {
    sl_closer *c;
    sl_closer_fn fn;
    void *arg;
    struct sl_closer_job *next;
};
typedef struct sl_closer_job closer_job;

int sl_closer_init(sl_closer *c, int max)
{
    if (max < 1)
        return SL_EINVAL;
    c->max = max;
    c->busy = 0;
    c->threads = 0;
    c->head = c->tail = NULL;
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return SL_ENOMEM;
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        return SL_ENOMEM;
    }
    return SL_OK;
}

/* Runs its job, then the queued ones, until the queue is empty. */
static void *closer_main(void *arg)
{
    closer_job *j = arg;
    sl_closer *c = j->c;
    while (j != NULL) {
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&c->mu);
        c->busy--;
        j = c->head;
        if (j != NULL) {
            c->head = j->next;
            if (c->head == NULL)
                c->tail = NULL;
        } else {
            c->threads--;
        }
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    return NULL;
}

/* 1 if a detached thread took the job. */
static int start_thread(closer_job *j)
{
    pthread_attr_t attr;
    pthread_t th;
    if (pthread_attr_init(&attr) != 0)
        return 0;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int ok = pthread_create(&th, &attr, closer_main, j) == 0;
    pthread_attr_destroy(&attr);
    return ok;
}

int sl_closer_run(sl_closer *c, sl_closer_fn fn, void *arg)
{
    closer_job *j = malloc(sizeof(*j));
    if (j == NULL)
        return SL_ENOMEM;
    *j = (closer_job){.c = c, .fn = fn, .arg = arg};
    pthread_mutex_lock(&c->mu);
    c->busy++;
    if (c->threads >= c->max) { /* a running thread takes it */
        if (c->tail != NULL)
            c->tail->next = j;
        else
            c->head = j;
        c->tail = j;
        pthread_mutex_unlock(&c->mu);
        return SL_OK;
    }
    c->threads++;
    pthread_mutex_unlock(&c->mu);
    if (start_thread(j))
        return SL_OK;
    pthread_mutex_lock(&c->mu);
    c->threads--;
    c->busy--;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    free(j);
    return SL_ENOMEM;
}

int sl_closer_drain(sl_closer *c, int64_t ms)
{
    struct timespec until;
    sl_deadline_in(CLOCK_REALTIME, ms, &until);
    pthread_mutex_lock(&c->mu);
    while (c->busy > 0 && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
        ;
    int left = c->busy;
    pthread_mutex_unlock(&c->mu);
    return left;
}

int sl_closer_busy(sl_closer *c)
{
    pthread_mutex_lock(&c->mu);
    int n = c->busy;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void sl_closer_destroy(sl_closer *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}
