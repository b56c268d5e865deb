/* The data-plane receiver; see data_plane.h. */
#include "taskmanager/network/data_plane.h"

#include <nng/protocol/pipeline0/pull.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/net_addr.h"
#include "common/status.h"
#include "common/tls.h"

struct sl_data_plane {
    nng_socket sock;
    pthread_t thread;
    sl_data_plane_dispatch_fn fn;
    void *arg;
    int port;
    char url[SL_ADDR_URL_MAX];
    char inproc[SL_DATA_PLANE_INPROC_MAX];
};

static void *receiver_main(void *p)
{
    sl_data_plane *dp = p;
    for (;;) {
        nng_msg *msg;
        int rv = nng_recvmsg(dp->sock, &msg, 0);
        if (rv == NNG_ECLOSED)
            break;
        if (rv == 0)
            dp->fn(dp->arg, msg);
    }
    return NULL;
}

static int listen_on(sl_data_plane *dp, const char *plain, size_t max_frame, int *port)
{
    nng_listener l;
    int rv = sl_tls_listener_create(dp->sock, plain, SL_TLS_DATA_LISTEN, &l);
    if (rv == 0)
        rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, max_frame);
    if (rv == 0)
        rv = nng_listener_start(l, 0);
    if (rv != 0) {
        sl_error("data plane: cannot listen on %s: %s", plain, nng_strerror(rv));
        return SL_EIO;
    }
    if (port != NULL)
        nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, port);
    return SL_OK;
}

int sl_data_plane_start(const char *bind_host, const char *host, int port, const char *tm_id,
                        size_t max_frame, sl_data_plane_dispatch_fn fn, void *arg,
                        sl_data_plane **out)
{
    sl_data_plane *dp = calloc(1, sizeof(*dp));
    if (dp == NULL)
        return SL_ENOMEM;
    dp->fn = fn;
    dp->arg = arg;
    char url[SL_ADDR_URL_MAX];
    sl_addr_url(bind_host, port, url, sizeof(url));
    snprintf(dp->inproc, sizeof(dp->inproc), "inproc://sluice-data-%s", tm_id);
    int rv = SL_EIO;
    if (nng_pull0_open(&dp->sock) != 0)
        goto fail_free;
    nng_socket_set_size(dp->sock, NNG_OPT_RECVMAXSZ, max_frame);
    if (listen_on(dp, url, max_frame, &dp->port) != SL_OK ||
        listen_on(dp, dp->inproc, max_frame, NULL) != SL_OK)
        goto fail_close;
    sl_addr_url(host, dp->port, dp->url, sizeof(dp->url));
    if (pthread_create(&dp->thread, NULL, receiver_main, dp) != 0)
        goto fail_close;
    *out = dp;
    return SL_OK;
fail_close:
    nng_close(dp->sock);
fail_free:
    free(dp);
    return rv;
}

void sl_data_plane_stop(sl_data_plane *dp)
{
    if (dp == NULL)
        return;
    nng_close(dp->sock);
    pthread_join(dp->thread, NULL);
    free(dp);
}

int sl_data_plane_port(const sl_data_plane *dp) { return dp->port; }
const char *sl_data_plane_url(const sl_data_plane *dp) { return dp->url; }
const char *sl_data_plane_inproc_url(const sl_data_plane *dp) { return dp->inproc; }
