/* Closes lost taskmanagers' clients on threads of their own (see tm_closer.h). */
#include "jobmanager/tm_closer.h"

#include <stdlib.h>
#include <time.h>

#include "common/log.h"
#include "common/status.h"
#include "common/util.h"

typedef struct sl_tmclose_job {
    sl_tmcloser *c;
    sl_rpc_client *client;
    void *ctx;
    struct sl_tmclose_job *next;
} close_job;

int sl_tmcloser_init(sl_tmcloser *c)
{
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

static void close_now(sl_rpc_client *client, void *ctx)
{
    sl_rpc_client_close(client);
    free(ctx);
}

/* Closes its job, then the queued ones, until the queue is empty. */
static void *closer_main(void *arg)
{
    close_job *j = arg;
    sl_tmcloser *c = j->c;
    while (j != NULL) {
        close_now(j->client, j->ctx);
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
static int start_closer(close_job *j)
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

void sl_tmcloser_close(sl_tmcloser *c, sl_rpc_client *client, void *ctx)
{
    if (client == NULL && ctx == NULL)
        return;
    const char *why = "out of memory";
    close_job *j = malloc(sizeof(*j));
    if (j != NULL) {
        *j = (close_job){.c = c, .client = client, .ctx = ctx};
        pthread_mutex_lock(&c->mu);
        c->busy++;
        if (c->threads >= SL_TMCLOSER_MAX) { /* a running closer takes it */
            if (c->tail != NULL)
                c->tail->next = j;
            else
                c->head = j;
            c->tail = j;
            pthread_mutex_unlock(&c->mu);
            return;
        }
        c->threads++;
        pthread_mutex_unlock(&c->mu);
        if (start_closer(j))
            return;
        pthread_mutex_lock(&c->mu);
        c->threads--;
        c->busy--;
        pthread_mutex_unlock(&c->mu);
        free(j);
        why = "no thread could start";
    }
    sl_warn("closing a lost taskmanager's connection on the loop thread (%s)", why);
    close_now(client, ctx);
}

int sl_tmcloser_drain(sl_tmcloser *c, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (c->busy > 0 && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
        ;
    int left = c->busy;
    pthread_mutex_unlock(&c->mu);
    return left;
}

void sl_tmcloser_destroy(sl_tmcloser *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}
