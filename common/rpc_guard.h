/* The gate of the jobmanager's RPC port: who is calling, and may they?
 * Prefix sl_guard_. interface.md section 9.
 *
 * Runs on an RPC worker before any handler (common/rpc_server.c), on the
 * whole frame as received and its unpacked request:
 *  - with security.ssl.rest.authentication-enabled, a client request
 *    (list, info, run, cancel, ...: authz.h) must carry a credential
 *    (auth.h) that verifies against security.ssl.rest.trust-cert, and the
 *    certificate's CN must have the role the request needs in
 *    security.authorization.roles; a daemon certificate (verifies against
 *    the internal trust certificate, serverAuth) may view, so the cluster
 *    scripts can wait for taskmanagers. Every refusal, and every allowed request
 *    above `view`, is an audit line in the log: who, what, allowed or not
 *    (allowed views are logged at DEBUG: an attached run polls).
 *  - with security.ssl.internal.enabled, a taskmanager's registration must
 *    carry a credential of a daemon certificate (verifies against
 *    security.ssl.internal.trust-cert and has the serverAuth key usage).
 *    Its later requests prove themselves with the session token of that
 *    registration, which the handlers check (jobmanager/rpc_handlers.c).
 * A refused request is answered STATUS_DENIED "permission denied: <cn> may
 * not <verb>" (or why the caller could not be identified); it never
 * reaches a handler. Without either key, nothing is checked here. */
#ifndef SL_RPC_GUARD_H
#define SL_RPC_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "proto/sluice.pb-c.h"

typedef struct sl_rpc_guard sl_rpc_guard;

/* Builds the gate from cfg. *out = NULL when nothing is to be checked.
 * SL_EINVAL with "<key> <path>: <why>" in err, SL_ENOMEM. *out owned by
 * the caller: sl_guard_free, after the server that uses it stopped. */
int sl_guard_open(const sl_config *cfg, sl_rpc_guard **out, char *err, size_t errlen);
void sl_guard_free(sl_rpc_guard *g);

/* SL_OK: the request may go to its handler. SL_EPERM: refused, the reply's
 * message in msg. Thread-safe. */
int sl_guard_check(sl_rpc_guard *g, const uint8_t *frame, size_t len, const Sluice__Request *req,
                   char *msg, size_t msglen);

#endif
