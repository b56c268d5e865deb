/* Closes lost taskmanagers' clients on threads of their own (see
 * tm_closer.h), through common/closer. */
#include "jobmanager/tm_closer.h"

#include <stdlib.h>

#include "common/log.h"
#include "common/status.h"

typedef struct close_job {
    sl_rpc_client *client;
    void *ctx;
} close_job;

int sl_tmcloser_init(sl_tmcloser *c)
{
    return sl_closer_init(c, SL_TMCLOSER_MAX);
}

static void close_now(sl_rpc_client *client, void *ctx)
{
    sl_rpc_client_close(client);
    free(ctx);
}

static void close_main(void *arg)
{
    close_job *j = arg;
    close_now(j->client, j->ctx);
    free(j);
}

void sl_tmcloser_close(sl_tmcloser *c, sl_rpc_client *client, void *ctx)
{
    if (client == NULL && ctx == NULL)
        return;
    const char *why = "out of memory";
    close_job *j = malloc(sizeof(*j));
    if (j != NULL) {
        *j = (close_job){.client = client, .ctx = ctx};
        if (sl_closer_run(c, close_main, j) == SL_OK)
            return;
        free(j);
        why = "no memory or no thread for a closer";
    }
    sl_warn("closing a lost taskmanager's connection on the loop thread (%s)", why);
    close_now(client, ctx);
}

int sl_tmcloser_drain(sl_tmcloser *c, int64_t ms)
{
    return sl_closer_drain(c, ms);
}

void sl_tmcloser_destroy(sl_tmcloser *c)
{
    sl_closer_destroy(c);
}
