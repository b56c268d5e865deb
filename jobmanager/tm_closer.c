/* Closes lost taskmanagers' clients on threads of their own (see tm_closer.h). */
#include "jobmanager/tm_closer.h"

#include <stdlib.h>
#include <time.h>

#include "common/log.h"
#include "common/status.h"
#include "common/util.h"

typedef struct close_job {
    sl_tmcloser *c;
    sl_rpc_client *client;
    void *ctx;
} close_job;

int sl_tmcloser_init(sl_tmcloser *c)
{
    c->busy = 0;
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

static void *closer_main(void *arg)
{
    close_job *j = arg;
    sl_tmcloser *c = j->c;
    close_now(j->client, j->ctx);
    free(j);
    pthread_mutex_lock(&c->mu);
    c->busy--;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* 1 if a detached thread took the job. */
static int start_closer(sl_tmcloser *c, close_job *j)
{
    pthread_attr_t attr;
    pthread_t th;
    if (pthread_attr_init(&attr) != 0)
        return 0;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int ok = pthread_create(&th, &attr, closer_main, j) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        pthread_mutex_lock(&c->mu);
        c->busy--;
        pthread_mutex_unlock(&c->mu);
    }
    return ok;
}

void sl_tmcloser_close(sl_tmcloser *c, sl_rpc_client *client, void *ctx)
{
    if (client == NULL && ctx == NULL)
        return;
    close_job *j = malloc(sizeof(*j));
    int room = 0;
    if (j != NULL) {
        pthread_mutex_lock(&c->mu);
        room = c->busy < SL_TMCLOSER_MAX;
        c->busy += room;
        pthread_mutex_unlock(&c->mu);
    }
    if (room) {
        *j = (close_job){.c = c, .client = client, .ctx = ctx};
        if (start_closer(c, j))
            return;
    }
    free(j);
    sl_warn("closing a lost taskmanager's connection on the loop thread (%s)",
            room ? "no thread could start" : "too many closes in flight");
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
