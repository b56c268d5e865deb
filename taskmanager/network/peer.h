/* Peers: the push socket from this taskmanager to one taskmanager's data
 * plane (data_plane.h), itself included over inproc. Prefix sl_peer_.
 *
 * Many channels share a peer, and nng drops in-flight messages when a
 * connection breaks, so a peer whose established connection dropped is
 * marked dead (the channels using it fail their task).
 *
 * Place: above nng only. A job run opens the peers its channels need
 * (job_run.c) and owns them; the output channels (output.c) and the input
 * gate's credit grants (input_gate.c) send on them. sl_peer_send may run
 * on several threads at once (nng sockets are thread-safe); dead is set by
 * nng's pipe callback. */
#ifndef SL_PEER_H
#define SL_PEER_H

#include <nng/nng.h>
#include <stdatomic.h>
#include <stddef.h>

#define SL_PEER_URL_MAX 160 /* bytes of a peer's URL, NUL included */

typedef struct sl_peer {
    nng_socket sock;
    char url[SL_PEER_URL_MAX];
    atomic_int dead; /* set when an established connection drops */
} sl_peer;

/* Dials url in the background; frames up to max_frame bytes. *out owned by
 * the caller, freed with sl_peer_close. SL_EIO if nng cannot. */
int sl_peer_open(const char *url, size_t max_frame, sl_peer **out);
void sl_peer_close(sl_peer *p);
/* Sends msg (ownership passes, even on failure). Waits while the transport
 * pushes back, giving up when *cancel becomes non-zero (SL_ECANCELED) or
 * the peer dies (SL_ECLOSED). cancel may be NULL. */
int sl_peer_send(sl_peer *p, nng_msg *msg, const atomic_int *cancel);

#endif
