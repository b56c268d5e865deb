/* Closes the RPC clients of lost taskmanagers off the loop thread.
 *
 * nng 1.5.2 can hang in nng_close when a pipe closes while a message is
 * arriving on it (fixed upstream in nng 1.6.0, a1bc737b; see tm_calls.h).
 * A taskmanager lost by the heartbeat timeout may be answering just then
 * (a partition that heals at the loss, a slow peer), so the loop hands the
 * client to a thread of its own: a hang there holds one thread and one
 * socket, never the jobmanager's decisions. A thin wrapper over the
 * generic bounded runner common/closer.h.
 *
 * Place: below tm_registry.c; calls only common/rpc and common/closer. */
#ifndef SLUICE_JM_TM_CLOSER_H
#define SLUICE_JM_TM_CLOSER_H

#include <stdint.h>

#include "common/closer.h"
#include "common/rpc.h"

#define SL_TMCLOSER_MAX 32       /* closer threads; further closes wait in a queue */
#define SL_TMCLOSER_DRAIN_MS 2000 /* the longest wait for them at shutdown */

typedef sl_closer sl_tmcloser;

int sl_tmcloser_init(sl_tmcloser *c);

/* Takes client and ctx (freed with free() once the client is closed: it
 * is what the client's pipe callback gets, so it lives until then). Starts
 * a detached thread for the close, or queues it for one when
 * SL_TMCLOSER_MAX are running, and returns at once; closes inline only
 * when no memory or no thread is left. Either may be NULL. (Closing inline
 * when 32 were busy hung the loop, with every RPC waiting for it, under
 * live garbage: more than 32 lost registrations of hosts that do not
 * resolve, whose closes wait for DNS timeouts.) */
void sl_tmcloser_close(sl_tmcloser *c, sl_rpc_client *client, void *ctx);

/* Waits up to ms for the closes in flight; returns how many still run
 * (then c and whatever their pipe callbacks use must stay allocated). */
int sl_tmcloser_drain(sl_tmcloser *c, int64_t ms);

/* Only after sl_tmcloser_drain returned 0. */
void sl_tmcloser_destroy(sl_tmcloser *c);

#endif
