/* The taskmanager's data-plane endpoint: one pull socket listening on
 * tcp://bind_host:data-port and inproc://sluice-data-<tm-id> (others dial
 * tcp://host:data-port, host the advertised address), and one receiver
 * thread that hands each frame to `dispatch`. Prefix sl_data_plane_.
 *
 * Place: above nng only; started and stopped by the taskmanager
 * (task_manager.c), which owns it. The dispatch function is a deliberate
 * call up into the taskmanager, the one way a received frame can reach
 * its job run without this module knowing job runs: it runs on the
 * receiver thread, takes ownership of the message and must not block (it
 * only queues into channels). */
#ifndef SL_DATA_PLANE_H
#define SL_DATA_PLANE_H

#include <nng/nng.h>
#include <stddef.h>

#define SL_DATA_PLANE_INPROC_MAX 96 /* bytes of the inproc URL, NUL included */

typedef struct sl_data_plane sl_data_plane;
typedef void (*sl_data_plane_dispatch_fn)(void *arg, nng_msg *msg);

/* Listens (port 0: any free port) and starts the receiver thread; frames
 * up to max_frame bytes. *out owned by the caller, stopped and freed with
 * sl_data_plane_stop. SL_EIO if it cannot listen. */
int sl_data_plane_start(const char *bind_host, const char *host, int port, const char *tm_id,
                        size_t max_frame, sl_data_plane_dispatch_fn fn, void *arg,
                        sl_data_plane **out);
/* Closes the socket and joins the receiver thread: no dispatch after. */
void sl_data_plane_stop(sl_data_plane *dp);
int sl_data_plane_port(const sl_data_plane *dp);
/* "tcp://host:port" others dial, and the inproc URL this process dials. */
const char *sl_data_plane_url(const sl_data_plane *dp);
const char *sl_data_plane_inproc_url(const sl_data_plane *dp);

#endif
