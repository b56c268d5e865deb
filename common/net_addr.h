/* Network addresses of the daemons: the address a daemon hands to others
 * (advertised: RPC and data plane) and the address it listens on (bind).
 *
 * Flink's rules (README.md, "Configuration"):
 *  - taskmanager.host unset (or empty): the local address of the route to
 *    jobmanager.rpc.address, the source address the kernel would pick to
 *    reach it (a UDP socket connect()ed to it, then getsockname(): no packet
 *    is sent). That is never a loopback address unless the jobmanager is on
 *    loopback. Set: used as given (a name or an address), after checking it
 *    resolves and is not a wildcard.
 *  - The jobmanager advertises jobmanager.rpc.address (checked the same way).
 *  - taskmanager.bind-host / jobmanager.bind-host [0.0.0.0] is where the
 *    daemon listens. 0.0.0.0 means "every local address": when the
 *    advertised address is IPv6 it becomes :: (nng binds it dual-stack).
 *  - IPv6 addresses are written bare in the configuration ("::1", or
 *    "[::1]") and bracketed in URLs ("tcp://[::1]:6123").
 *
 * Place: common, below both daemons (their start-up code calls it); calls
 * only the C library (getaddrinfo, sockets) and common/config. Thread-safe:
 * no state. Errors are SL_* codes with a one-line message in err. */
#ifndef SL_NET_ADDR_H
#define SL_NET_ADDR_H

#include <stddef.h>

#include "common/config.h"

#define SL_ADDR_HOST_MAX 255                   /* longest host name or address */
#define SL_ADDR_URL_MAX (SL_ADDR_HOST_MAX + 24) /* "tls+tcp://[" host "]:65535" */

/* What a daemon advertises and where it listens. Plain value, no ownership. */
typedef struct sl_addr_endpoint {
    char advertised[SL_ADDR_HOST_MAX + 1]; /* host others dial (name or address, no brackets) */
    char bind[SL_ADDR_HOST_MAX + 1];       /* host the daemon listens on */
} sl_addr_endpoint;

/* The numeric local address (no brackets) the kernel uses for the route to
 * host (a name or an address; every address it resolves to is tried in
 * order). port only picks the route (policy routing); nothing is sent.
 * SL_ENOTFOUND: host does not resolve; SL_EUNREACH: no route to any of its
 * addresses; SL_ENOSPC: out too small. */
int sl_addr_route_source(const char *host, int port, char *out, size_t outlen, char *err,
                         size_t errlen);

/* 1 if host is a numeric loopback address (127.0.0.0/8, ::1,
 * ::ffff:127.x.y.z), else 0 (names are not resolved). */
int sl_addr_is_loopback(const char *host);

/* 1 if host is a wildcard (bind-only) address: 0.0.0.0, :: (or empty). */
int sl_addr_is_wildcard(const char *host);

/* "tcp://host:port", IPv6 addresses in brackets. SL_ENOSPC if it does not
 * fit (outlen SL_ADDR_URL_MAX always does for a host this module gave). */
int sl_addr_url(const char *host, int port, char *out, size_t outlen);

/* "host:port" as sl_addr_url writes it, without "tcp://" (for messages). */
int sl_addr_hostport(const char *host, int port, char *out, size_t outlen);

/* A taskmanager's endpoint from taskmanager.host, taskmanager.bind-host and
 * jobmanager.rpc.address/port (rules above). SL_EINVAL: a wildcard or too
 * long taskmanager.host; SL_ENOTFOUND / SL_EUNREACH: no reachable address
 * could be worked out. The message names the key and what to set. */
int sl_addr_taskmanager(const sl_config *cfg, sl_addr_endpoint *out, char *err, size_t errlen);

/* The jobmanager's endpoint from jobmanager.rpc.address and
 * jobmanager.bind-host. Errors as for sl_addr_taskmanager. */
int sl_addr_jobmanager(const sl_config *cfg, sl_addr_endpoint *out, char *err, size_t errlen);

#endif
