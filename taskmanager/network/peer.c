/* Push sockets to taskmanagers' data planes; see peer.h. */
#include "taskmanager/network/peer.h"

#include <nng/protocol/pipeline0/push.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/net_addr.h"
#include "common/status.h"
#include "common/tls.h"

#define PEER_SEND_POLL_MS 100 /* a blocked send looks at cancel and dead this often */
#define PEER_RECONNECT_MIN_MS 50
#define PEER_RECONNECT_MAX_MS 500

static void peer_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    sl_peer *p = arg;
    (void)pipe;
    if (ev == NNG_PIPE_EV_REM_POST)
        atomic_store(&p->dead, 1);
}

/* Dials url (tcp://, made tls+tcp:// when the data plane is secured) in
 * the background. */
static int dial(nng_socket sock, const char *plain)
{
    nng_dialer d;
    int rv = sl_tls_dialer_create(sock, plain, SL_TLS_DATA_DIAL, &d);
    if (rv == 0)
        rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
    return rv;
}

int sl_peer_open(const char *url, size_t max_frame, sl_peer **out)
{
    sl_peer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return SL_ENOMEM;
    snprintf(p->url, sizeof(p->url), "%s", url);
    int rv = nng_push0_open(&p->sock);
    if (rv != 0) {
        free(p);
        return SL_EIO;
    }
    nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, max_frame);
    nng_socket_set_ms(p->sock, NNG_OPT_SENDTIMEO, PEER_SEND_POLL_MS);
    nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, PEER_RECONNECT_MIN_MS);
    nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, PEER_RECONNECT_MAX_MS);
    nng_pipe_notify(p->sock, NNG_PIPE_EV_REM_POST, peer_pipe_cb, p);
    rv = dial(p->sock, url);
    if (rv != 0) {
        sl_error("data plane: cannot dial %s: %s", url, nng_strerror(rv));
        nng_close(p->sock);
        free(p);
        return SL_EIO;
    }
    *out = p;
    return SL_OK;
}

void sl_peer_close(sl_peer *p)
{
    if (p == NULL)
        return;
    nng_close(p->sock);
    free(p);
}

int sl_peer_send(sl_peer *p, nng_msg *msg, const atomic_int *cancel)
{
    for (;;) {
        if (atomic_load(&p->dead)) {
            nng_msg_free(msg);
            return SL_ECLOSED;
        }
        if (cancel != NULL && atomic_load(cancel)) {
            nng_msg_free(msg);
            return SL_ECANCELED;
        }
        int rv = nng_sendmsg(p->sock, msg, 0);
        if (rv == 0)
            return SL_OK;
        if (rv != NNG_ETIMEDOUT) {
            nng_msg_free(msg);
            return SL_EIO;
        }
    }
}
