/* The taskmanager's data-plane endpoint: one pull socket listening on
 * tcp://bind_host:data-port and inproc://sluice-data-<tm-id> (others dial
 * tcp://host:data-port, host the advertised address), and one receiver
 * thread that hands each frame to `dispatch` (which takes ownership and
 * must not block: it only queues into channels). */
#ifndef SL_DATA_PLANE_H
#define SL_DATA_PLANE_H

#include <nng/nng.h>
#include <stddef.h>

typedef struct sl_data_plane sl_data_plane;
typedef void (*sl_dp_dispatch_fn)(void *arg, nng_msg *msg);

int sl_data_plane_start(const char *bind_host, const char *host, int port, const char *tm_id,
                        size_t max_frame, sl_dp_dispatch_fn fn, void *arg, sl_data_plane **out);
void sl_data_plane_stop(sl_data_plane *dp);
int sl_data_plane_port(const sl_data_plane *dp);
/* "tcp://host:port" others dial, and the inproc URL this process dials. */
const char *sl_data_plane_url(const sl_data_plane *dp);
const char *sl_data_plane_inproc_url(const sl_data_plane *dp);

#endif
